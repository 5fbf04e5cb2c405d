# `dycl compile` end to end (included from tests/tests.cmake): C packages emitted for the control-flow
# ONNX node tests, the dynamic PyTorch models, the demo model and every model of the dynamic-network
# suite (build/suite/small, written by the suite.small test; generated when missing) must
# build warning-free under gcc and clang and compute exactly what `dycl run` computes; the generated
# host module of the demo model is pinned by a golden file; the runtime selection must link every
# op's kernel. See tests/compile/run_compile_tests.py. Needs /usr/bin/python3 with onnx and numpy,
# make, gcc (clang when installed).
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
add_executable(emit_all_ops ${CMAKE_SOURCE_DIR}/tests/compile/emit_all_ops.c)
target_link_libraries(emit_all_ops PRIVATE dycl_core)
set_target_properties(emit_all_ops PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
# under DYCL_SANITIZE the packages are built with the sanitizers too
set(DYCL_COMPILE_TEST_CFLAGS "")
if(DYCL_SANITIZE)
  set(DYCL_COMPILE_TEST_CFLAGS "--cflags=-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
      --no-clang)
endif()
add_test(NAME compile.packages
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/compile/run_compile_tests.py
          --dycl ${CMAKE_BINARY_DIR}/dycl
          --emit-all-ops ${CMAKE_BINARY_DIR}/tests/emit_all_ops
          --work ${CMAKE_BINARY_DIR}/compile-tests
          --node-tests ${CMAKE_BINARY_DIR}/onnx-node-tests
          --pytorch-tests ${CMAKE_BINARY_DIR}/pytorch-tests
          --suite ${CMAKE_BINARY_DIR}/suite/small
          ${DYCL_COMPILE_TEST_CFLAGS}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# after the tests that generate the node tests, the PyTorch models and the suite models it reads
set_tests_properties(compile.packages PROPERTIES
  TIMEOUT 1200
  PROCESSORS 2
  DEPENDS "conformance.onnx_node;pytorch.dynamic_models;suite.small")
