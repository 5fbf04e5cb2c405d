# The dynamic-network suite (models/suite): 14 PyTorch models with early exits, skipped blocks,
# greedy decoding, routing and pondering, exported to ONNX (scripted, control flow kept) and run in
# dycl against eager PyTorch. Included from tests/tests.cmake. Needs Debian's /usr/bin/python3
# (PyTorch, onnx, numpy); the exported models and references are cached in ${CMAKE_BINARY_DIR}/suite
# (regenerated only when a model's code changes).
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_test(NAME suite.small
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/models/suite/suite.py run
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --config small
          --out ${CMAKE_BINARY_DIR}/suite
          --no-docs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(suite.small PROPERTIES
  TIMEOUT 3000
  PROCESSORS 2)
