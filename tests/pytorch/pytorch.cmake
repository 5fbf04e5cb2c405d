# End-to-end suite: dynamic PyTorch models (early exits, skipped blocks, while loops, growing
# tensors, sequences, routing, Scan) exported to ONNX must give PyTorch's outputs in dycl.
# Included from tests/tests.cmake. Needs Debian's /usr/bin/python3 (PyTorch, onnx, numpy); the
# exported models and references are cached in ${CMAKE_BINARY_DIR}/pytorch-tests.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_test(NAME pytorch.dynamic_models
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/pytorch/run_pytorch_tests.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --work ${CMAKE_BINARY_DIR}/pytorch-tests
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(pytorch.dynamic_models PROPERTIES
  TIMEOUT 1200
  PROCESSORS 2)
