# `dycl split` (included from tests/tests.cmake): every sub-network file must pass the ONNX checker
# (full_check) and compute in ONNX Runtime what dycl computed for it during `dycl run`, for the
# control-flow node tests, the PyTorch models, the demo and every model of the dynamic-network suite
# (build/suite/small, written by the suite.small test; generated when missing). Needs Debian's
# /usr/bin/python3 (onnx, numpy; PyTorch for the PyTorch models), node and npm: onnxruntime-node is
# installed into ${CMAKE_BINARY_DIR}/ort on first use (tests/split/setup_ort.sh); the test fails when
# ONNX Runtime cannot be set up. The node tests and PyTorch models are shared with the
# conformance, pytorch and suite tests: this test runs after them (DEPENDS only orders, it does not need them to
# pass), so that their generators never run concurrently with this one.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
find_program(DYCL_NODE node)
if(NOT DYCL_NODE)
  set(DYCL_NODE /usr/bin/node)
endif()
add_test(NAME split.onnx_runtime
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/split/run_split_tests.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --work ${CMAKE_BINARY_DIR}/split-tests
          --node-tests ${CMAKE_BINARY_DIR}/onnx-node-tests
          --pytorch-tests ${CMAKE_BINARY_DIR}/pytorch-tests
          --suite ${CMAKE_BINARY_DIR}/suite/small
          --ort ${CMAKE_BINARY_DIR}/ort
          --node ${DYCL_NODE}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(split.onnx_runtime PROPERTIES
  TIMEOUT 1800
  PROCESSORS 2
  DEPENDS "conformance.onnx_node;pytorch.dynamic_models;suite.small")

# The C API behind it: dycl_model_split's files and errors, the sub-network recorder.
add_executable(test_split_api ${CMAKE_SOURCE_DIR}/tests/split/test_split_api.c)
target_link_libraries(test_split_api PRIVATE dycl_core)
target_include_directories(test_split_api PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
set_target_properties(test_split_api PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME split.api COMMAND test_split_api WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
