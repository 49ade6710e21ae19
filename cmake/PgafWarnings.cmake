# pgaf_warnings(target): warnings as errors for our own code (never for third-party headers).
function(pgaf_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
    -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
    -Woverloaded-virtual -Wconversion -Wsign-conversion -Wnull-dereference
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
endfunction()

# pgaf_test_warnings(target): tests are our code too, but gtest macros trip a few pedantic checks.
function(pgaf_test_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-sign-conversion -Wno-conversion)
endfunction()
