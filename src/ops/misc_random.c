/* Random generators: RandomNormal, RandomNormalLike, RandomUniform, RandomUniformLike, Bernoulli,
 * Multinomial. All are flagged DYCL_OPF_RANDOM: their values are reproducible for a given seed
 * but match no other implementation, so tests can only check shapes and dtypes.
 *
 * The generator is splitmix64, seeded from the `seed` attribute when there is one, else from the
 * context's seed mixed with the node id (so that two random nodes do not draw the same values). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------------ the PRNG */

typedef struct rng {
  uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t* r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_uniform(rng_t* r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Standard normal (Box-Muller). */
static double rng_normal(rng_t* r) {
  double u1 = 1.0 - rng_uniform(r); /* (0, 1] */
  double u2 = rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

static rng_t rng_for(const dycl_kctx_t* ctx, const dycl_node_t* node) {
  rng_t r;
  const dycl_attr_t* a = dycl_node_attr(node, "seed");
  if (a) {
    double seed = dycl_attr_float(node, "seed", 0.0);
    uint64_t bits;
    memcpy(&bits, &seed, sizeof bits);
    r.s = bits ^ 0x5EEDull;
  } else {
    r.s = ctx->seed ^ ((uint64_t)(uint32_t)node->id * 0xD1B54A32D192ED03ull);
  }
  rng_next(&r); /* decorrelate neighbouring seeds */
  return r;
}

/* ------------------------------------------------------------------ helpers */

static bool is_float_dtype(int64_t dt) {
  return dt == DYCL_DTYPE_FLOAT16 || dt == DYCL_DTYPE_FLOAT32 || dt == DYCL_DTYPE_FLOAT64 || dt == DYCL_DTYPE_BFLOAT16;
}

/* The output dtype of a generator: the `dtype` attribute, else `dflt` (UNDEFINED: unknown). */
static dycl_status_t gen_dtype(const dycl_node_t* node, dycl_dtype_t dflt, dycl_dtype_t* out) {
  if (!dycl_node_attr(node, "dtype")) {
    *out = dflt;
    return NULL;
  }
  int64_t dt = dycl_attr_int(node, "dtype", DYCL_DTYPE_FLOAT32);
  if (!is_float_dtype(dt))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "dtype %" PRId64 " is not a floating-point type", dt);
  *out = (dycl_dtype_t)dt;
  return NULL;
}

static dycl_status_t shape_attr(const dycl_node_t* node, int* rank, int64_t* dims) {
  int n = 0;
  const int64_t* s = dycl_attr_ints(node, "shape", &n);
  if (!s && !dycl_node_attr(node, "shape"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'shape' is required");
  if (n > DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "shape has rank %d, beyond %d", n, DYCL_MAX_RANK);
  for (int i = 0; i < n; i++) {
    if (s[i] < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "shape has a negative dimension %" PRId64, s[i]);
    dims[i] = s[i];
  }
  *rank = n;
  return NULL;
}

/* Fills t (a float tensor) with mean + scale * N(0,1) or low + (high - low) * U[0,1). */
static void fill(dycl_value_t* t, rng_t* r, bool normal, double a, double b) {
  for (int64_t i = 0; i < t->numel; i++) {
    double v = normal ? a + b * rng_normal(r) : a + (b - a) * rng_uniform(r);
    if (t->dtype == DYCL_DTYPE_FLOAT32) ((float*)t->data)[i] = (float)v;
    else dycl_tensor_set_f64(t, i, v);
  }
}

/* ------------------------------------------------------- RandomNormal/Uniform */

static dycl_status_t infer_gen(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(gen_dtype(node, DYCL_DTYPE_FLOAT32, &dt));
  int rank = 0;
  int64_t dims[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(shape_attr(node, &rank, dims));
  dycl_type_t t = dycl_type_tensor_dims(dt, rank, dims);
  return dycl_infer_set(ctx, node, 0, &t);
}

static dycl_status_t run_gen(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t** out, bool normal) {
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(gen_dtype(node, DYCL_DTYPE_FLOAT32, &dt));
  int rank = 0;
  int64_t dims[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(shape_attr(node, &rank, dims));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, rank, dims, &out[0]));
  rng_t r = rng_for(ctx, node);
  if (normal) fill(out[0], &r, true, dycl_attr_float(node, "mean", 0.0), dycl_attr_float(node, "scale", 1.0));
  else fill(out[0], &r, false, dycl_attr_float(node, "low", 0.0), dycl_attr_float(node, "high", 1.0));
  return NULL;
}

dycl_status_t dycl_infer_RandomNormal(dycl_infer_ctx_t* ctx, const dycl_node_t* node) { return infer_gen(ctx, node); }
dycl_status_t dycl_infer_RandomUniform(dycl_infer_ctx_t* ctx, const dycl_node_t* node) { return infer_gen(ctx, node); }

dycl_status_t dycl_run_RandomNormal(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                    dycl_value_t** out, int nout) {
  (void)in, (void)nin, (void)nout;
  return run_gen(ctx, node, out, true);
}
dycl_status_t dycl_run_RandomUniform(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)in, (void)nin, (void)nout;
  return run_gen(ctx, node, out, false);
}

/* --------------------------------------------------------------- *Like ops */

/* Sets output 0 to a tensor of dtype dt with the shape of input type x (when it is known). */
static dycl_status_t set_shape_of(dycl_infer_ctx_t* ctx, const dycl_node_t* node, const dycl_type_t* x,
                                  dycl_dtype_t dt) {
  dycl_type_t t = dycl_type_tensor(dt, -1);
  if (x && x->known && x->rank >= 0) {
    t.rank = x->rank;
    for (int i = 0; i < x->rank; i++) t.dims[i] = x->dims[i];
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

static dycl_status_t infer_like(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && x->kind != DYCL_VALUE_TENSOR)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be a tensor");
  dycl_dtype_t in_dt = x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED;
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(gen_dtype(node, in_dt, &dt));
  if (dt && !is_float_dtype(dt))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "the input is %s: give a floating-point 'dtype' attribute for the output",
                           dycl_dtype_name(dt));
  return set_shape_of(ctx, node, x, dt);
}

static dycl_status_t run_like(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, bool normal) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(gen_dtype(node, in[0]->dtype, &dt));
  if (!is_float_dtype(dt))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "output type %s is not a floating-point type", dycl_dtype_name(dt));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, in[0]->rank, in[0]->dims, &out[0]));
  rng_t r = rng_for(ctx, node);
  if (normal) fill(out[0], &r, true, dycl_attr_float(node, "mean", 0.0), dycl_attr_float(node, "scale", 1.0));
  else fill(out[0], &r, false, dycl_attr_float(node, "low", 0.0), dycl_attr_float(node, "high", 1.0));
  return NULL;
}

dycl_status_t dycl_infer_RandomNormalLike(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_like(ctx, node);
}
dycl_status_t dycl_infer_RandomUniformLike(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_like(ctx, node);
}
dycl_status_t dycl_run_RandomNormalLike(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                        dycl_value_t** out, int nout) {
  (void)nout;
  return run_like(ctx, node, in, nin, out, true);
}
dycl_status_t dycl_run_RandomUniformLike(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                         dycl_value_t** out, int nout) {
  (void)nout;
  return run_like(ctx, node, in, nin, out, false);
}

/* ---------------------------------------------------------------- Bernoulli */

static dycl_status_t bernoulli_dtype(const dycl_node_t* node, dycl_dtype_t dflt, dycl_dtype_t* out) {
  if (!dycl_node_attr(node, "dtype")) {
    *out = dflt;
    return NULL;
  }
  int64_t dt = dycl_attr_int(node, "dtype", 0);
  if (!dycl_dtype_is_valid((int)dt) || dt == DYCL_DTYPE_UNDEFINED || dt == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "dtype %" PRId64 " is not a numeric type", dt);
  *out = (dycl_dtype_t)dt;
  return NULL;
}

dycl_status_t dycl_infer_Bernoulli(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(bernoulli_dtype(node, x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, &dt));
  return set_shape_of(ctx, node, x, dt);
}

dycl_status_t dycl_run_Bernoulli(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                 dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a floating-point tensor, not %s",
                           dycl_dtype_name(x->dtype));
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(bernoulli_dtype(node, x->dtype, &dt));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, x->rank, x->dims, &out[0]));
  rng_t r = rng_for(ctx, node);
  for (int64_t i = 0; i < x->numel; i++) {
    double p = dycl_tensor_get_f64(x, i);
    dycl_tensor_set_i64(out[0], i, rng_uniform(&r) < p ? 1 : 0);
  }
  return NULL;
}

/* -------------------------------------------------------------- Multinomial */

static dycl_status_t multinomial_dtype(const dycl_node_t* node, dycl_dtype_t* out) {
  int64_t dt = dycl_attr_int(node, "dtype", DYCL_DTYPE_INT32);
  if (dt != DYCL_DTYPE_INT32 && dt != DYCL_DTYPE_INT64)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "dtype must be int32 or int64, not %" PRId64, dt);
  *out = (dycl_dtype_t)dt;
  return NULL;
}

dycl_status_t dycl_infer_Multinomial(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(multinomial_dtype(node, &dt));
  int64_t n = dycl_attr_int(node, "sample_size", 1);
  if (n < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "sample_size must not be negative");
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && x->rank >= 0 && x->rank != 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be [batch_size, class_size], not of rank %d", x->rank);
  dycl_type_t t = dycl_type_tensor(dt, 2);
  t.dims[0] = x && x->known && x->rank == 2 ? x->dims[0] : dycl_dim_unknown();
  t.dims[1] = dycl_dim_const(n);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_Multinomial(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                   dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype) || x->rank != 2)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a 2-D floating-point tensor");
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(multinomial_dtype(node, &dt));
  int64_t n = dycl_attr_int(node, "sample_size", 1);
  if (n < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "sample_size must not be negative");
  const int64_t batch = x->dims[0], classes = x->dims[1];
  if (classes == 0 && n > 0 && batch > 0)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot sample from zero classes");
  int64_t dims[2] = {batch, n};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, 2, dims, &out[0]));
  size_t bytes;
  if (!dycl_mul_size((size_t)classes, sizeof(double), &bytes))
    return dycl_node_error(node, DYCL_CODE_LIMIT, "size overflows");
  double* cdf = dycl_malloc(ctx->alloc, bytes ? bytes : 1);
  if (!cdf) return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory");
  rng_t r = rng_for(ctx, node);
  for (int64_t b = 0; b < batch; b++) {
    /* probabilities from unnormalized log-probabilities, stabilized by the row maximum */
    double mx = -INFINITY;
    for (int64_t c = 0; c < classes; c++) {
      double v = dycl_tensor_get_f64(x, b * classes + c);
      if (v > mx) mx = v;
    }
    double total = 0;
    for (int64_t c = 0; c < classes; c++) {
      double v = dycl_tensor_get_f64(x, b * classes + c);
      total += isfinite(mx) ? exp(v - mx) : (v == mx ? 1.0 : 0.0);
      cdf[c] = total;
    }
    for (int64_t k = 0; k < n; k++) {
      int64_t pick = classes - 1;
      if (total > 0 && isfinite(total)) {
        double u = rng_uniform(&r) * total;
        for (int64_t c = 0; c < classes; c++)
          if (u < cdf[c]) {
            pick = c;
            break;
          }
      } else {
        pick = (int64_t)(rng_uniform(&r) * (double)classes);
        if (pick >= classes) pick = classes - 1;
      }
      dycl_tensor_set_i64(out[0], b * n + k, pick);
    }
  }
  dycl_free(ctx->alloc, cdf);
  return NULL;
}
