# `dycl compile` end to end (included from tests/tests.cmake): C packages emitted for the control-flow
# ONNX node tests, the dynamic PyTorch models, the demo model and every model of the dynamic-network
# suite (build/suite/small, written by the suite.small test; generated when missing), for the ref and
# the cpu backend, must build warning-free under gcc and clang and compute exactly what `dycl run`
# with the same backend computes; the generated host module of the demo model is pinned by a golden
# file; the runtime selection must link every op's kernel; two packages must link into one program.
# See tests/compile/run_compile_tests.py. Needs /usr/bin/python3 with onnx and numpy, make, gcc,
# binutils (ld -r, objcopy, nm), clang when installed, and for cpu libdnnl-dev.
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_executable(emit_all_ops ${CMAKE_SOURCE_DIR}/tests/compile/emit_all_ops.c)
target_link_libraries(emit_all_ops PRIVATE dycl_core)
set_target_properties(emit_all_ops PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
# under DYCL_SANITIZE the packages are built with the sanitizers too
set(DYCL_COMPILE_TEST_CFLAGS "")
set(DYCL_COMPILE_TEST_CPU_CASES "")
if(DYCL_SANITIZE)
  set(DYCL_COMPILE_TEST_CFLAGS "--cflags=-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
      --no-clang)
  # the cpu packages run the first 3 input sets of each model here (all of them, 20 per suite model,
  # take 8 minutes under the sanitizers); the normal build compares every input set
  set(DYCL_COMPILE_TEST_CPU_CASES --max-cases 3)
endif()
# ref packages (gcc and clang), the golden file, the API, the weights file, the runtime of every op
add_test(NAME compile.packages
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/compile/run_compile_tests.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --emit-all-ops ${CMAKE_BINARY_DIR}/tests/emit_all_ops
          --work ${CMAKE_BINARY_DIR}/compile-tests
          --node-tests ${CMAKE_BINARY_DIR}/onnx-node-tests
          --pytorch-tests ${CMAKE_BINARY_DIR}/pytorch-tests
          --suite ${CMAKE_BINARY_DIR}/suite/small
          --backends ref
          ${DYCL_COMPILE_TEST_CFLAGS}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# cpu packages (the same models, against `dycl run --backend cpu` with the same threads; the clang
# builds run the first 3 input sets of each model, the gcc builds all), the API of a cpu package, and
# a cpu and a ref package linked into one program. A dycl built without oneDNN
# fails it (scripts/setup.sh installs libdnnl-dev), as it fails the cpu.* tests.
add_test(NAME compile.packages_cpu
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/compile/run_compile_tests.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --work ${CMAKE_BINARY_DIR}/compile-tests-cpu
          --node-tests ${CMAKE_BINARY_DIR}/onnx-node-tests
          --pytorch-tests ${CMAKE_BINARY_DIR}/pytorch-tests
          --suite ${CMAKE_BINARY_DIR}/suite/small
          --backends cpu --clang-cases 3
          ${DYCL_COMPILE_TEST_CFLAGS} ${DYCL_COMPILE_TEST_CPU_CASES}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# after the tests that generate the node tests, the PyTorch models and the suite models they read
set_tests_properties(compile.packages compile.packages_cpu PROPERTIES
  TIMEOUT 1200
  PROCESSORS 2
  DEPENDS "conformance.onnx_node;pytorch.dynamic_models;suite.small")
