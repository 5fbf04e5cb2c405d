# The documentation checks (included from tests/tests.cmake): docs/cli.md and the man page against
# every `--help`, docs/operators.md against the op table, the man page through groff, and the
# tutorial run end to end from docs/tutorial.md.
find_program(DYCL_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT DYCL_PYTHON3)
  set(DYCL_PYTHON3 /usr/bin/python3)
endif()

add_test(NAME docs.cli
  COMMAND ${DYCL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/docs/check_cli_docs.py ${CMAKE_BINARY_DIR}/dycl)
add_test(NAME docs.operators
  COMMAND ${DYCL_PYTHON3} ${CMAKE_SOURCE_DIR}/scripts/gen_operators.py --check)
# groff's warnings (-ww) are errors here: a malformed man page fails.
add_test(NAME docs.man
  COMMAND bash -c "out=$(groff -man -Tutf8 -ww -z \"$0\" 2>&1) && [ -z \"$out\" ] || { echo \"$out\"; exit 1; }"
          ${CMAKE_SOURCE_DIR}/docs/dycl.1)

# The tutorial installs the build into a temporary HOME and runs every command of the page. Not in
# the sanitizer build: a program or Python process loading an ASan-instrumented libdycl.so would
# need the ASan runtime preloaded, and the code the tutorial runs (export, run, compile, the C API)
# is covered under ASan by tests/pytorch, tests/compile, tests/python and the unit tests.
if(NOT DYCL_SANITIZE AND NOT DYCL_SANITIZE_THREAD AND NOT DYCL_FUZZ)
  add_test(NAME docs.tutorial
    COMMAND ${DYCL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/docs/run_tutorial.py ${CMAKE_BINARY_DIR}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  # `make install` runs `cmake --build` on this build folder: one such test at a time.
  set_tests_properties(docs.tutorial PROPERTIES TIMEOUT 900 RESOURCE_LOCK dycl_build_folder)
endif()

add_test(NAME docs.c_api COMMAND ${DYCL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/docs/check_api_docs.py)
add_test(NAME docs.links COMMAND ${DYCL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/docs/check_links.py)
