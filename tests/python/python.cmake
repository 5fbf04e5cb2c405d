# The Python package (python/dycl) under Debian's /usr/bin/python3, against this build's libdycl.so.
# Included from tests/tests.cmake. One CTest test per module tests/python/test_<name>.py (unittest).
#
# In the sanitizer build (DYCL_SANITIZE) libdycl.so is ASan-instrumented, and Python is not: the
# ASan runtime has to be the first library loaded, so it goes in LD_PRELOAD (the compiler tells
# where it is), with libstdc++ next to it (PyTorch throws C++ exceptions, and ASan's __cxa_throw
# interceptor needs libstdc++ loaded when ASan starts). Leak detection is off for these tests:
# CPython and PyTorch keep memory until exit on purpose, which LeakSanitizer would report; leaks in
# dycl are checked by test_values (every allocation through a counting allocator, none left after
# close()) and, under LeakSanitizer, by the C tests.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")

set(_dycl_py_env
  "DYCL_LIBRARY=$<TARGET_FILE:dycl>"
  "DYCL_CLI=$<TARGET_FILE:dycl_cli>"
  "DYCL_TEST_WORK=${CMAKE_BINARY_DIR}/python-tests"
  "PYTHONPATH=${CMAKE_SOURCE_DIR}/python"
  "PYTHONDONTWRITEBYTECODE=1")
set(_dycl_py_ok ON)
if(DYCL_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _dycl_asan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libstdc++.so
                  OUTPUT_VARIABLE _dycl_stdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(IS_ABSOLUTE "${_dycl_asan_rt}" AND EXISTS "${_dycl_asan_rt}")
    set(_dycl_preload "${_dycl_asan_rt}")
    if(IS_ABSOLUTE "${_dycl_stdcxx}" AND EXISTS "${_dycl_stdcxx}")
      string(APPEND _dycl_preload " ${_dycl_stdcxx}")
    endif()
    list(APPEND _dycl_py_env "LD_PRELOAD=${_dycl_preload}" "DYCL_TEST_SANITIZE=1"
         "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0" "UBSAN_OPTIONS=print_stacktrace=1")
  else()
    # clang builds link ASan into executables only; a shared runtime to preload is not at hand.
    message(WARNING "python tests: no shared ASan runtime from ${CMAKE_C_COMPILER} (-print-file-name=libasan.so); "
                    "the Python package is tested in the normal build only")
    set(_dycl_py_ok OFF)
  endif()
endif()

if(_dycl_py_ok)
  foreach(_t values model errors node_models export docs)
    add_test(NAME python.${_t}
      COMMAND ${DYCL_TEST_PYTHON} -m unittest -v test_${_t}
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/python)
    set_tests_properties(python.${_t} PROPERTIES ENVIRONMENT "${_dycl_py_env}" TIMEOUT 900)
  endforeach()
endif()
