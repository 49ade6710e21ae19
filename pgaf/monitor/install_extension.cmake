# install_extension.cmake — used by the ctest `monitor.install` (FIXTURES_SETUP
# pgaf_monitor_installed): copies the built pgautofailover.so, control and SQL files into the
# server's pkglibdir and sharedir/extension. Needs write access (root).
#
# Each file is copied (cmake -E copy) to a temporary name next to its destination, then renamed
# over it: a server that has the old pgautofailover.so mapped keeps its inode and never sees a
# half-written library (overwriting in place could crash running servers of other tests).
foreach(v SO CONTROL SQL PKGLIBDIR EXTDIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install_extension.cmake: ${v} is not set")
  endif()
endforeach()
string(RANDOM LENGTH 8 tag)
function(pgaf_install_file src dir)
  get_filename_component(name ${src} NAME)
  set(tmp ${dir}/.${name}.${tag}.tmp)
  execute_process(COMMAND ${CMAKE_COMMAND} -E copy ${src} ${tmp} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE ${tmp})
    message(FATAL_ERROR "could not copy ${src} to ${dir} (are you root?)")
  endif()
  file(RENAME ${tmp} ${dir}/${name} RESULT rc)
  if(NOT rc EQUAL 0)
    file(REMOVE ${tmp})
    message(FATAL_ERROR "could not install ${name} into ${dir}: ${rc}")
  endif()
endfunction()
pgaf_install_file(${SO} ${PKGLIBDIR})
pgaf_install_file(${CONTROL} ${EXTDIR})
pgaf_install_file(${SQL} ${EXTDIR})
message(STATUS "installed pgautofailover into ${PKGLIBDIR} and ${EXTDIR}")
