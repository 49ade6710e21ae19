# check_no_shell.cmake — fails if the netns library sources start a shell or a program for network
# setup: system(), popen(), the exec*("sh"/"/bin/sh", "-c") family, or the ip/nft/tc binaries.
# Usage: cmake -DDIR=<netns dir> -P check_no_shell.cmake   (also run on a fixture that must fail)
if(NOT DIR)
  message(FATAL_ERROR "check_no_shell: -DDIR=<directory> is required")
endif()
file(GLOB_RECURSE files "${DIR}/*.cpp" "${DIR}/*.hpp" "${DIR}/*.h" "${DIR}/*.cc")
list(LENGTH files n)
if(n EQUAL 0)
  message(FATAL_ERROR "check_no_shell: no sources under ${DIR}")
endif()
set(patterns
  "(^|[^a-zA-Z0-9_])system[ \t]*\\("
  "(^|[^a-zA-Z0-9_])popen[ \t]*\\("
  "(^|[^a-zA-Z0-9_])execl[pe]?[ \t]*\\("
  "\"/bin/sh\""
  "\"sh\""
  "\"/bin/bash\""
  "\"-c\""
  "\"(/usr)?(/s?bin/)?(ip|nft|tc|iptables)\""
  "posix_spawn"
)
set(bad "")
foreach(f ${files})
  file(STRINGS "${f}" lines)
  set(lineno 0)
  foreach(line IN LISTS lines)
    math(EXPR lineno "${lineno} + 1")
    foreach(p ${patterns})
      if(line MATCHES "${p}")
        string(APPEND bad "${f}:${lineno}: ${line}\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "netns sources must not shell out for network setup:\n${bad}")
endif()
message(STATUS "check_no_shell: ${n} files clean")
