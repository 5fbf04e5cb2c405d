# Graph optimizations (BatchNormalization folding, CSE, dead-code elimination): small models built by
# the script, checked against PyTorch on every backend and through `dycl inspect`.
add_test(NAME optimize.passes
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/optimize/run_optimize_tests.py
          --dycl ${CMAKE_BINARY_DIR}/dycl --work ${CMAKE_BINARY_DIR}/optimize-tests
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(optimize.passes PROPERTIES TIMEOUT 300)
