# Hostile models and inputs: dycl must fail cleanly (exit 1, one `dycl: error:` line naming the
# problem, no crash, no hang). Included from tests/tests.cmake. Needs /usr/bin/python3 with onnx.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_test(NAME bad_inputs
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/bad_inputs/run_bad_inputs.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --dir ${CMAKE_BINARY_DIR}/bad_inputs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(bad_inputs PROPERTIES TIMEOUT 600)
