/* A tiny test harness for dycl's C unit tests: CHECK records failures and keeps going. */
#ifndef DYCL_TEST_UTIL_H
#define DYCL_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures = 0, test_checks = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    test_checks++;                                                         \
    if (!(cond)) {                                                         \
      test_failures++;                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

/* Checks that a status is OK, printing its message otherwise (and freeing it). */
#define CHECK_OK(expr)                                                                     \
  do {                                                                                     \
    dycl_status_t st_ = (expr);                                                            \
    test_checks++;                                                                         \
    if (st_) {                                                                             \
      test_failures++;                                                                     \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, dycl_status_message(st_)); \
      dycl_status_free(st_);                                                               \
    }                                                                                      \
  } while (0)

/* Checks that a status is an error with the given code whose message contains `needle`. */
#define CHECK_ERR(expr, code, needle)                                                      \
  do {                                                                                     \
    dycl_status_t st_ = (expr);                                                            \
    test_checks++;                                                                         \
    if (!st_ || dycl_status_code(st_) != (code) || !strstr(dycl_status_message(st_), needle)) { \
      test_failures++;                                                                     \
      fprintf(stderr, "%s:%d: %s: expected error %d containing '%s', got %d '%s'\n", __FILE__, __LINE__, #expr, \
              (int)(code), needle, (int)dycl_status_code(st_), st_ ? dycl_status_message(st_) : "ok"); \
    }                                                                                      \
    dycl_status_free(st_);                                                                 \
  } while (0)

static int test_finish(const char* name) {
  printf("%s: %d passed, %d failed\n", name, test_checks - test_failures, test_failures);
  return test_failures ? 1 : 0;
}

#endif
