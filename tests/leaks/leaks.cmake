# The leak check (included from tests/tests.cmake): `valgrind --leak-check=full` over a
# representative set of the test suite's runs — dycl run on the demo, suite models and the
# Loop/Scan/If/SequenceMap node tests on the ref and cpu backends, inspect/split/compile/bench,
# hostile inputs, and the runner of generated packages — must report no leak and no memory error
# (tests/leaks/run_leaks.py; third-party suppressions in tests/leaks/valgrind.supp).
# Normal builds only: valgrind cannot run AddressSanitizer or ThreadSanitizer binaries (their
# shadow memory and interceptors clash with valgrind's), and the ASan build checks leaks itself
# (LeakSanitizer, on every test), so DYCL_SANITIZE and DYCL_SANITIZE_THREAD builds skip it.
if(NOT DYCL_SANITIZE AND NOT DYCL_SANITIZE_THREAD)
  set(DYCL_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with onnx and numpy, for the script-driven tests")
  add_test(NAME leaks.valgrind
    COMMAND ${DYCL_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/leaks/run_leaks.py
            --dycl ${CMAKE_BINARY_DIR}/dycl
            --data ${CMAKE_BINARY_DIR}
            --work ${CMAKE_BINARY_DIR}/leaks
            -j 2
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  # after the tests that generate the node tests and the suite models it reads (and would
  # otherwise generate into the same folders)
  set_tests_properties(leaks.valgrind PROPERTIES
    TIMEOUT 900
    PROCESSORS 2
    DEPENDS "conformance.onnx_node;suite.small")
endif()
