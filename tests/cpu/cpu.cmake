# The cpu backend against expected outputs (included from tests/tests.cmake): the ONNX node tests
# of the operators it runs or fuses and of control flow, hand-written models of every fusion and
# fallback (cpu_cases.py), PyTorch networks (torch_cases.py) and the dynamic PyTorch suite, all
# through `dycl run --backend cpu`. Skipped (exit 77) when dycl was built without oneDNN.
# Runs after the conformance and PyTorch suites, whose generated data it reuses.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_test(NAME cpu.conformance
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cpu/run_cpu_checks.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --node-tests ${CMAKE_BINARY_DIR}/onnx-node-tests
          --pytorch-work ${CMAKE_BINARY_DIR}/pytorch-tests
          --work ${CMAKE_BINARY_DIR}/cpu-tests
          -j 2
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(cpu.conformance PROPERTIES
  TIMEOUT 1800
  PROCESSORS 2
  SKIP_RETURN_CODE 77
  DEPENDS "conformance.onnx_node;pytorch.dynamic_models")
