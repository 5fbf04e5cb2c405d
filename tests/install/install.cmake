# `make install` into a temporary prefix, programs built against it (pkg-config, static, CMake's
# find_package, Python), a moved prefix, `make uninstall` leaving it empty, a DESTDIR install
# (tests/install/test_install.sh; included from tests/tests.cmake).
# Not in the sanitizer builds (ASan, TSan, fuzzing): programs linking an ASan-instrumented libdycl.so would need the ASan
# runtime first in their link, and installing is about files, not memory safety (the library code
# the test runs is covered under ASan by the unit, pytorch and compile tests).
if(NOT DYCL_SANITIZE AND NOT DYCL_SANITIZE_THREAD AND NOT DYCL_FUZZ)
  add_test(NAME install.prefix
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install/test_install.sh ${CMAKE_BINARY_DIR}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  # `make install` runs `cmake --build` on this build folder: one such test at a time.
  set_tests_properties(install.prefix PROPERTIES TIMEOUT 600 RESOURCE_LOCK dycl_build_folder)
endif()
