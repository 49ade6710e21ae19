# install_extension.cmake — used by the ctest `monitor.install` (FIXTURES_SETUP
# pgaf_monitor_installed): copies the built pgautofailover.so, control and SQL files into the
# server's pkglibdir and sharedir/extension, with `cmake -E copy`. Needs write access (root).
foreach(v SO CONTROL SQL PKGLIBDIR EXTDIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install_extension.cmake: ${v} is not set")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E copy ${SO} ${PKGLIBDIR}/ RESULT_VARIABLE rc1)
execute_process(COMMAND ${CMAKE_COMMAND} -E copy ${CONTROL} ${SQL} ${EXTDIR}/ RESULT_VARIABLE rc2)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "could not install the pgautofailover extension into ${PKGLIBDIR} and ${EXTDIR} (are you root?)")
endif()
message(STATUS "installed pgautofailover into ${PKGLIBDIR} and ${EXTDIR}")
