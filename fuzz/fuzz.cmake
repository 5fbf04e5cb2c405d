# libFuzzer harnesses (included from the top-level CMakeLists.txt when DYCL_FUZZ is ON; clang only).
# The whole build is then compiled with -fsanitize=fuzzer-no-link,address,undefined (see
# CMakeLists.txt); here each harness is linked with libFuzzer's main. `make fuzz` drives them
# (fuzz/run_fuzz.sh); docs/fuzzing.md explains the harnesses and the corpus.
set(DYCL_FUZZ_HARNESSES model tensor run)
foreach(h ${DYCL_FUZZ_HARNESSES})
  add_executable(fuzz_${h} ${CMAKE_SOURCE_DIR}/fuzz/fuzz_${h}.c ${CMAKE_SOURCE_DIR}/fuzz/fuzz_common.c)
  target_link_libraries(fuzz_${h} PRIVATE dycl_core)
  target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
  target_compile_definitions(fuzz_${h} PRIVATE DYCL_FUZZ_MODELS_DIR="${CMAKE_BINARY_DIR}/fuzz-models")
  set_target_properties(fuzz_${h} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
endforeach()
add_custom_target(fuzz_harnesses DEPENDS fuzz_model fuzz_tensor fuzz_run)
