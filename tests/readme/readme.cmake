# The README's C-package example, run as written (included from tests/tests.cmake).
add_test(NAME readme.c_package_example
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/readme/test_readme_example.sh ${CMAKE_BINARY_DIR}/dycl
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(readme.c_package_example PROPERTIES TIMEOUT 600)
