# Fuzz regression test (included from tests/tests.cmake): each harness in fuzz/ is built WITHOUT
# libFuzzer, linked with fuzz/replay_main.c, and replays the committed seeds
# (tests/fuzz/seeds/<harness>/) and every input that once crashed, hung or tripped a sanitizer
# (tests/fuzz/regressions/<harness>/). A finding aborts the harness, so the test fails on it; in
# the ASan + UBSan build the sanitizers check the same replays. The `run` harness loads the models
# fuzz/gen_models.py writes (the fixture test fuzz.models, needs /usr/bin/python3 with onnx).
set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
set(DYCL_FUZZ_REPLAY_MODELS ${CMAKE_BINARY_DIR}/fuzz-models)
add_test(NAME fuzz.models
  COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/fuzz/gen_models.py ${DYCL_FUZZ_REPLAY_MODELS}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(fuzz.models PROPERTIES FIXTURES_SETUP dycl_fuzz_models TIMEOUT 120)
foreach(h model tensor run)
  add_executable(fuzz_${h}_replay ${CMAKE_SOURCE_DIR}/fuzz/fuzz_${h}.c ${CMAKE_SOURCE_DIR}/fuzz/fuzz_common.c
                                  ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(fuzz_${h}_replay PRIVATE dycl_core)
  target_compile_definitions(fuzz_${h}_replay PRIVATE DYCL_FUZZ_MODELS_DIR="${DYCL_FUZZ_REPLAY_MODELS}")
  set_target_properties(fuzz_${h}_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set(dirs ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/${h})
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/regressions/${h})
    list(APPEND dirs ${CMAKE_SOURCE_DIR}/tests/fuzz/regressions/${h})
  endif()
  add_test(NAME fuzz.replay.${h} COMMAND fuzz_${h}_replay ${dirs} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(fuzz.replay.${h} PROPERTIES TIMEOUT 300)
endforeach()
set_tests_properties(fuzz.replay.run PROPERTIES FIXTURES_REQUIRED dycl_fuzz_models
                     ENVIRONMENT "DYCL_FUZZ_MODELS=${DYCL_FUZZ_REPLAY_MODELS}")
