# The cpu backend against expected outputs (included from tests/tests.cmake): the ONNX node tests
# of the operators it runs or fuses and of control flow, hand-written models of every fusion and
# fallback (cpu_cases.py), PyTorch networks (torch_cases.py), the dynamic PyTorch models and the
# dynamic-network suite (where generated), all through `dycl run --backend cpu`. A dycl built without
# oneDNN (scripts/setup.sh installs libdnnl-dev) makes these tests fail (exit 77 is not a skip here).
# Runs after the conformance, PyTorch and dynamic-network suites, whose generated data it reuses.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_test(NAME cpu.conformance
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cpu/run_cpu_checks.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --node-tests ${CMAKE_BINARY_DIR}/onnx-node-tests
          --pytorch-work ${CMAKE_BINARY_DIR}/pytorch-tests
          --suite ${CMAKE_BINARY_DIR}/suite/small
          --work ${CMAKE_BINARY_DIR}/cpu-tests
          -j 2
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(cpu.conformance PROPERTIES
  TIMEOUT 1800
  PROCESSORS 2
  DEPENDS "conformance.onnx_node;pytorch.dynamic_models;suite.small")

# One model shared by four threads (a session each) on the cpu backend, against the ref backend:
# the demo model, then models of cpu.conformance's generated cases whose shapes change from run to
# run (skipped when those are missing).
add_executable(test_cpu_threads ${CMAKE_SOURCE_DIR}/tests/cpu/test_cpu_threads.c)
target_link_libraries(test_cpu_threads PRIVATE dycl_core pthread)
set_target_properties(test_cpu_threads PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME cpu.threads COMMAND test_cpu_threads WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(cpu.threads PROPERTIES PROCESSORS 2)
set(_gen ${CMAKE_BINARY_DIR}/cpu-tests/gen)
foreach(_case conv_net:3:1 conv_residual_fallback:4:2 loop_growing_matmul:3:2 own_conv_few_channels:5:1 inplace_residual:3:1
      fast_view_lstm_cell:3:3 fast_concat_dense_block:4:4)
  string(REPLACE ":" ";" _parts ${_case})
  list(GET _parts 0 _name)
  list(GET _parts 1 _n_sets)
  list(GET _parts 2 _n_in)
  set(_sets)
  math(EXPR _last_set "${_n_sets} - 1")
  math(EXPR _last_in "${_n_in} - 1")
  foreach(_k RANGE ${_last_set})
    set(_files)
    foreach(_i RANGE ${_last_in})
      list(APPEND _files ${_gen}/${_name}/set_${_k}/input_${_i}.pb)
    endforeach()
    string(REPLACE ";" "," _files "${_files}")
    list(APPEND _sets ${_files})
  endforeach()
  add_test(NAME cpu.threads_${_name} COMMAND test_cpu_threads ${_gen}/${_name}/model.onnx ${_sets})
  set_tests_properties(cpu.threads_${_name} PROPERTIES PROCESSORS 2 DEPENDS cpu.conformance)
endforeach()

# The fast kernels (src/backend/cpu/cpu_fast*) and the own ones (cpu_own.h): their vector math
# against libm on every instruction set the machine has, and the fast_* and own_* cases of
# cpu.conformance again with the AVX2 and the plain C kernels (DYCL_CPU_ISA caps what the cpu
# backend picks; cpu.conformance runs the best one).
add_executable(test_cpu_fast_math ${CMAKE_SOURCE_DIR}/tests/cpu/test_cpu_fast_math.c)
target_link_libraries(test_cpu_fast_math PRIVATE dycl_core)
set_target_properties(test_cpu_fast_math PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME cpu.fast_math COMMAND test_cpu_fast_math)
foreach(_isa avx2 scalar)
  add_test(NAME cpu.fast_${_isa}
    COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cpu/run_cpu_checks.py
            --dycl ${CMAKE_BINARY_DIR}/dycl --work ${CMAKE_BINARY_DIR}/cpu-tests-${_isa}
            --skip node,torch,pytorch,suite --filter "^(fast|own|inplace|argmax)_" -j 2
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cpu.fast_${_isa} PROPERTIES ENVIRONMENT DYCL_CPU_ISA=${_isa} PROCESSORS 2 TIMEOUT 600)
endforeach()
