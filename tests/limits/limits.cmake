# Limits (memory, nesting, iterations, deadline, integer overflow in shape computations) and the
# allocation-failure sweep. Included from tests/tests.cmake. The models come from make_models.py
# (a fixture), written into the build folder.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
set(DYCL_LIMITS_DIR ${CMAKE_BINARY_DIR}/limits-tests)

foreach(t test_alloc_fail test_limits_api)
  add_executable(${t} ${CMAKE_SOURCE_DIR}/tests/limits/${t}.c)
  target_link_libraries(${t} PRIVATE dycl_core)
  set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endforeach()

add_test(NAME limits.models
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/limits/make_models.py ${DYCL_LIMITS_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(limits.models PROPERTIES FIXTURES_SETUP limits_models TIMEOUT 120)

add_test(NAME limits.alloc_fail
  COMMAND test_alloc_fail ${DYCL_LIMITS_DIR}/sweep.txt ${DYCL_LIMITS_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(limits.alloc_fail PROPERTIES FIXTURES_REQUIRED limits_models TIMEOUT 900)

add_test(NAME limits.api
  COMMAND test_limits_api ${DYCL_LIMITS_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(limits.api PROPERTIES FIXTURES_REQUIRED limits_models TIMEOUT 300)

add_test(NAME limits.cli
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/limits/run_limits.py
          --dycl ${CMAKE_BINARY_DIR}/dycl --dir ${DYCL_LIMITS_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(limits.cli PROPERTIES FIXTURES_REQUIRED limits_models TIMEOUT 600)
