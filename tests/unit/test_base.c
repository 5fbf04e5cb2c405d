/* Unit tests of src/base: status, arena, string map, checked arithmetic, float16, values. */
#include <math.h>

#include "base/base.h"
#include "base/value.h"
#include "test_util.h"

static void test_status(void) {
  dycl_status_t s = dycl_error(DYCL_CODE_INVALID_MODEL, "bad %s\nsecond line", "thing");
  CHECK(dycl_status_code(s) == DYCL_CODE_INVALID_MODEL);
  CHECK(strcmp(dycl_status_message(s), "bad thing second line") == 0); /* always one line */
  s = dycl_error_wrap(s, "loading '%s'", "m.onnx");
  CHECK(strcmp(dycl_status_message(s), "loading 'm.onnx': bad thing second line") == 0);
  dycl_status_free(s);
  CHECK(dycl_status_code(NULL) == DYCL_CODE_OK);
  dycl_status_free(dycl_error_nomem()); /* the static one must survive a free */
  CHECK(dycl_status_code(dycl_error_nomem()) == DYCL_CODE_NO_MEMORY);
}

static void test_arena_and_map(void) {
  dycl_arena_t a;
  dycl_arena_init(&a, NULL);
  char* big = dycl_arena_alloc(&a, 200000); /* bigger than a block */
  CHECK(big != NULL && big[199999] == 0);
  dycl_strmap_t m;
  dycl_strmap_init(&m, NULL);
  char* keys[1000];
  for (int i = 0; i < 1000; i++) {
    keys[i] = dycl_arena_printf(&a, "value_%d", i);
    CHECK_OK(dycl_strmap_put(&m, keys[i], i * 3));
  }
  int v = -1;
  CHECK(dycl_strmap_get(&m, "value_777", &v) && v == 777 * 3);
  CHECK(!dycl_strmap_get(&m, "value_1000", &v));
  CHECK_OK(dycl_strmap_put(&m, keys[5], 42));
  CHECK(dycl_strmap_get(&m, "value_5", &v) && v == 42 && m.len == 1000);
  dycl_strmap_destroy(&m);
  dycl_arena_destroy(&a);
}

static void test_arith_and_f16(void) {
  int64_t r;
  CHECK(dycl_mul_i64(1 << 20, 1 << 20, &r) && r == (int64_t)1 << 40);
  CHECK(!dycl_mul_i64(INT64_MAX / 2, 3, &r));
  float vals[] = {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.33325195f};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) CHECK(dycl_f16_to_f32(dycl_f32_to_f16(vals[i])) == vals[i]);
  CHECK(isinf(dycl_f16_to_f32(dycl_f32_to_f16(1e6f))));
  CHECK(isnan(dycl_f16_to_f32(dycl_f32_to_f16(NAN))));
  CHECK(dycl_bf16_to_f32(dycl_f32_to_bf16(1.5f)) == 1.5f);
}

static void test_values(void) {
  int64_t dims[3] = {2, 3, 4};
  dycl_value_t* t;
  CHECK_OK(dycl_tensor_new_zero(NULL, NULL, DYCL_DTYPE_FLOAT32, 3, dims, &t));
  CHECK(t->numel == 24 && t->nbytes == 96);
  dycl_tensor_set_f64(t, 5, 2.5);
  CHECK(dycl_tensor_get_f64(t, 5) == 2.5 && dycl_tensor_get_i64(t, 5) == 2);
  dycl_value_t* u;
  CHECK_OK(dycl_tensor_new(NULL, NULL, DYCL_DTYPE_INT32, 3, dims, &u));
  CHECK_OK(dycl_tensor_convert(t, u));
  CHECK(((int32_t*)u->data)[5] == 2);
  dycl_value_release(u);
  dycl_value_release(t);
  /* petabytes are refused by the limit, not attempted */
  int64_t huge[3] = {1000000, 1000000, 1000000};
  CHECK_ERR(dycl_tensor_new(NULL, NULL, DYCL_DTYPE_FLOAT32, 3, huge, &t), DYCL_CODE_LIMIT, "over the limit");
  int64_t overflow[2] = {INT64_MAX / 2, 4};
  CHECK_ERR(dycl_tensor_new(NULL, NULL, DYCL_DTYPE_FLOAT32, 2, overflow, &t), DYCL_CODE_LIMIT, "overflow");
  int64_t neg[1] = {-1};
  CHECK_ERR(dycl_tensor_new(NULL, NULL, DYCL_DTYPE_FLOAT32, 1, neg, &t), DYCL_CODE_INVALID_INPUT, "negative");
  /* sequences own their items */
  dycl_value_t* seq;
  CHECK_OK(dycl_sequence_new(NULL, DYCL_DTYPE_FLOAT32, 2, &seq));
  CHECK_OK(dycl_tensor_scalar_f64(NULL, DYCL_DTYPE_FLOAT32, 1.0, &seq->items[0]));
  CHECK_OK(dycl_tensor_scalar_f64(NULL, DYCL_DTYPE_FLOAT32, 2.0, &seq->items[1]));
  dycl_value_t* opt;
  CHECK_OK(dycl_optional_new(NULL, DYCL_VALUE_SEQUENCE, DYCL_DTYPE_FLOAT32, seq, &opt));
  dycl_value_release(seq);
  CHECK(dycl_value_seq_length(dycl_value_optional_get(opt)) == 2);
  dycl_value_release(opt);
}

int main(void) {
  test_status();
  test_arena_and_map();
  test_arith_and_f16();
  test_values();
  return test_finish("test_base");
}
