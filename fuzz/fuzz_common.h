/* Helpers shared by the fuzz harnesses (fuzz/fuzz_*.c).
 *
 * Each harness defines the two libFuzzer entry points, LLVMFuzzerInitialize and
 * LLVMFuzzerTestOneInput. Built with -fsanitize=fuzzer they are driven by libFuzzer (`make fuzz`);
 * linked with fuzz/replay_main.c they replay files (the regression test, tests/fuzz/fuzz.cmake).
 *
 * A harness must not abort on anything a hostile input may legitimately cause (an error status is
 * the expected answer); it aborts only on a broken invariant of dycl (fuzz_fail), which libFuzzer
 * then reports as a crash. */
#ifndef DYCL_FUZZ_COMMON_H
#define DYCL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dycl/dycl.h"

int LLVMFuzzerInitialize(int* argc, char*** argv);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

/* Limits every harness loads models with: small enough that no input can exhaust the machine
 * or run for long, large enough for every seed model. */
#define FUZZ_MAX_TENSOR_BYTES ((uint64_t)64 << 20)
#define FUZZ_MAX_ITERATIONS 64

/* No single allocation may exceed this: an input of a few kilobytes that makes dycl reserve
 * gigabytes is a finding even where the allocation would succeed (the regression test replays
 * without libFuzzer's -malloc_limit_mb, which reports the same thing). */
#define FUZZ_MAX_ALLOCATION ((size_t)1 << 30)

/* The allocator the harnesses give dycl: malloc/free, failing the process on an allocation above
 * FUZZ_MAX_ALLOCATION. */
const dycl_allocator_t* fuzz_allocator(void);

/* A private folder for this process (created on first use, removed with its files at exit) and
 * the path of file `name` in it. NULL when the folder cannot be made. */
const char* fuzz_tmp_path(const char* name);
/* Writes `size` bytes to `path` (replacing it); 0 on success. */
int fuzz_write_file(const char* path, const uint8_t* data, size_t size);
/* A stream that discards what is written to it (opened once). */
FILE* fuzz_null_stream(void);
/* Reports a broken invariant and aborts (a finding). */
void fuzz_fail(const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* Frees a status after checking that its message is one non-empty line and that it is not an
 * internal error; prints it when the environment variable DYCL_FUZZ_VERBOSE is set. */
void fuzz_check_status(dycl_status_t s);

/* Reads the fuzzer's bytes front to back; past the end every read gives 0. */
typedef struct fuzz_reader {
  const uint8_t* p;
  size_t n;
} fuzz_reader_t;

uint8_t fuzz_u8(fuzz_reader_t* r);
uint64_t fuzz_u64(fuzz_reader_t* r);

#endif
