# Test registration (included from the top-level CMakeLists.txt).
file(GLOB DYCL_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${DYCL_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE dycl_core)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME unit.${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endforeach()

# Script-driven suites (each file registers its own CTest tests).
include(${CMAKE_SOURCE_DIR}/tests/conformance/conformance.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/bad_inputs/bad_inputs.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/pytorch/pytorch.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/suite/suite.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/split/split.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/compile/compile.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/cpu/cpu.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/readme/readme.cmake)
