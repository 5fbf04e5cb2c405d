# ONNX backend node tests against the dycl command line (included from tests/tests.cmake).
# The runner generates the test data into ${CMAKE_BINARY_DIR}/onnx-node-tests on first use
# (cached: a stamp names the onnx version). Needs Debian's /usr/bin/python3 (onnx, numpy).
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_test(NAME conformance.onnx_node
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/conformance/run_conformance.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --data ${CMAKE_BINARY_DIR}/onnx-node-tests
          --expected ${CMAKE_SOURCE_DIR}/tests/conformance/expected_failures.txt
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(conformance.onnx_node PROPERTIES
  TIMEOUT 1800
  PROCESSORS 2)
