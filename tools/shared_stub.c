/* libdycl.so is libdycl_core linked whole; this file gives the target a source. */
typedef int dycl_shared_stub_t;
