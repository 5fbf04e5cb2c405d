# Concurrency (included from tests/tests.cmake): one model run from several threads at once, each
# with its own instance, must give the serial runs' outputs bit for bit — through the library API
# (concurrency.api: one dycl_model_t, a dycl_session_t per thread; ref and cpu backends) and
# through packages made by `dycl compile` (concurrency.package: an instance per thread). See
# tests/concurrency/run_concurrency.py for the models. `make check-tsan` runs both on a
# ThreadSanitizer build (DYCL_SANITIZE_THREAD); `make check` runs them in the normal and ASan
# builds as well. They reuse the node tests and suite models the conformance and suite tests
# generate (and generate what is missing: the TSan build runs only these tests).
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_executable(test_concurrency ${CMAKE_SOURCE_DIR}/tests/concurrency/test_concurrency.c)
target_link_libraries(test_concurrency PRIVATE dycl_core pthread)
set_target_properties(test_concurrency PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# the packages are built with the build's compiler and sanitizer
set(_conc_cflags "-O2 -g")
set(_conc_env "")
if(DYCL_SANITIZE)
  set(_conc_cflags "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined")
elseif(DYCL_SANITIZE_THREAD)
  set(_conc_cflags "-O1 -g -fsanitize=thread -fno-omit-frame-pointer")
  # a report fails the test (exit status 66, and run_concurrency.py reads the output)
  set(_conc_env "TSAN_OPTIONS=exitcode=66 second_deadlock_stack=1")
endif()
set(_conc_common
    --dycl ${CMAKE_BINARY_DIR}/dycl
    --test-bin ${CMAKE_BINARY_DIR}/tests/test_concurrency
    --data ${CMAKE_BINARY_DIR}
    --work ${CMAKE_BINARY_DIR}/concurrency
    --threads 4)
add_test(NAME concurrency.api
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/concurrency/run_concurrency.py --part api ${_conc_common}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
add_test(NAME concurrency.package
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/concurrency/run_concurrency.py --part package ${_conc_common}
          --cc ${CMAKE_C_COMPILER} "--pkg-cflags=${_conc_cflags}"
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# after the tests that generate the node tests and the suite models (both write the same folders)
set_tests_properties(concurrency.api concurrency.package PROPERTIES
  TIMEOUT 900
  PROCESSORS 2
  DEPENDS "conformance.onnx_node;suite.small")
# the package part after the api part: both generate what is missing into the same folders
set_tests_properties(concurrency.package PROPERTIES DEPENDS "conformance.onnx_node;suite.small;concurrency.api")
if(_conc_env)
  set_tests_properties(concurrency.api concurrency.package PROPERTIES ENVIRONMENT "${_conc_env}")
endif()
