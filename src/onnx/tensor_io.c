/* TensorProto ⇄ values, external data, and value files (.pb in the ONNX test-data convention,
 * .npy). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx_io.h"

/* ------------------------------------------------------------------ files */

dycl_status_t dycl_file_size(int fd, const char* path, size_t max, size_t* n) {
  *n = 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return dycl_error(DYCL_CODE_IO, "'%s' is not a regular file", path);
  if ((uint64_t)st.st_size > max)
    return dycl_error(DYCL_CODE_LIMIT, "'%s' is %lld bytes, over the limit of %zu", path, (long long)st.st_size, max);
  *n = (size_t)st.st_size;
  return NULL;
}

dycl_status_t dycl_read_file(const dycl_allocator_t* alloc, const char* path, size_t max, uint8_t** data,
                             size_t* size) {
  *data = NULL;
  *size = 0;
  FILE* f = fopen(path, "rb");
  if (!f) return dycl_error(DYCL_CODE_IO, "cannot open '%s': %s", path, strerror(errno));
  size_t n;
  dycl_status_t s = dycl_file_size(fileno(f), path, max, &n);
  if (s) {
    fclose(f);
    return s;
  }
  uint8_t* buf = dycl_malloc(alloc, n ? n : 1);
  if (!buf) {
    fclose(f);
    return dycl_error_nomem();
  }
  if (n && fread(buf, 1, n, f) != n) {
    fclose(f);
    dycl_free(alloc, buf);
    return dycl_error(DYCL_CODE_IO, "cannot read '%s'", path);
  }
  fclose(f);
  *data = buf;
  *size = n;
  return NULL;
}

static void* pb_alloc(void* ctx, size_t size) { return dycl_malloc(ctx, size); }
static void pb_free(void* ctx, void* p) { dycl_free(ctx, p); }

ProtobufCAllocator dycl_protobuf_allocator(const dycl_allocator_t* alloc) {
  ProtobufCAllocator a = {pb_alloc, pb_free, (void*)dycl_alloc_or_default(alloc)};
  return a;
}

static void* pb_alloc_noting(void* ctx, size_t size) {
  dycl_pb_allocator_t* pb = ctx;
  void* p = dycl_malloc(pb->alloc, size);
  if (!p) pb->failed = true;
  return p;
}
static void pb_free_noting(void* ctx, void* p) { dycl_free(((dycl_pb_allocator_t*)ctx)->alloc, p); }

void dycl_pb_allocator_init(dycl_pb_allocator_t* pb, const dycl_allocator_t* alloc) {
  pb->pa.alloc = pb_alloc_noting;
  pb->pa.free = pb_free_noting;
  pb->pa.allocator_data = pb;
  pb->alloc = dycl_alloc_or_default(alloc);
  pb->failed = false;
}

/* ---------------------------------------------------------- external data */

/* Resolves `location` inside `dir`; anything that escapes the folder is refused. */
static dycl_status_t external_path(const char* dir, const char* location, const char* what, char* out, size_t size) {
  if (!dir) return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data is not allowed here", what);
  if (!location || !*location)
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data without a location", what);
  if (location[0] == '/')
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data location '%s' is an absolute path, outside the model's folder",
                      what, location);
  /* refuse any '..' component */
  const char* p = location;
  while (*p) {
    const char* e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data location '%s' escapes the model's folder", what,
                        location);
    p += n;
    while (*p == '/') p++;
  }
  char joined[PATH_MAX];
  if ((size_t)snprintf(joined, sizeof joined, "%s/%s", dir, location) >= sizeof joined)
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data path too long", what);
  char rdir[PATH_MAX], rfile[PATH_MAX];
  if (!realpath(dir, rdir)) return dycl_error(DYCL_CODE_IO, "cannot resolve the model's folder '%s'", dir);
  if (!realpath(joined, rfile))
    return dycl_error(DYCL_CODE_IO, "%s: cannot open external data file '%s': %s", what, location, strerror(errno));
  size_t dl = strlen(rdir);
  if (strncmp(rfile, rdir, dl) != 0 || (rfile[dl] != '/' && !(dl == 1 && rdir[0] == '/')))
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data location '%s' resolves outside the model's folder",
                      what, location);
  if (strlen(rfile) >= size) return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data path too long", what);
  strcpy(out, rfile);
  return NULL;
}

/* Opens a tensor's external data and leaves the file at its offset, once the location is inside
 * the model's folder and the file holds the nbytes the dims need: checked before any memory is
 * reserved for the tensor, so that dims claiming gigabytes cost nothing (found by fuzzing). */
static dycl_status_t open_external(const Onnx__TensorProto* tp, const char* dir, const char* what, size_t nbytes,
                                   FILE** out) {
  *out = NULL;
  const char* location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto* e = tp->external_data[i];
    if (!e->key || !e->value) continue;
    if (strcmp(e->key, "location") == 0) location = e->value;
    else if (strcmp(e->key, "offset") == 0) offset = strtoll(e->value, NULL, 10);
    else if (strcmp(e->key, "length") == 0) length = strtoll(e->value, NULL, 10);
  }
  char path[PATH_MAX];
  DYCL_RETURN_IF_ERROR(external_path(dir, location, what, path, sizeof path));
  if (offset < 0) return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: negative external data offset", what);
  if (length >= 0 && (uint64_t)length != nbytes)
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data length %" PRId64 " does not match the %zu bytes its dims need",
                      what, length, nbytes);
  FILE* f = fopen(path, "rb");
  if (!f) return dycl_error(DYCL_CODE_IO, "%s: cannot open external data '%s'", what, location);
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < (uint64_t)offset ||
      (uint64_t)st.st_size - (uint64_t)offset < nbytes) {
    fclose(f);
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: external data file '%s' is shorter than the %zu bytes needed at offset %" PRId64,
                      what, location, nbytes, offset);
  }
  if (fseeko(f, (off_t)offset, SEEK_SET) != 0) {
    fclose(f);
    return dycl_error(DYCL_CODE_IO, "%s: cannot read external data '%s'", what, location);
  }
  *out = f;
  return NULL;
}

/* ------------------------------------------------------------ TensorProto */

static dycl_status_t count_mismatch(const char* what, const char* field, size_t have, int64_t need) {
  return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: %s holds %zu values but its dims need %" PRId64, what, field, have, need);
}

/* How many values a TensorProto carries in the field that holds its data (raw_data: bytes). */
static size_t proto_values(const Onnx__TensorProto* tp, int dtype, const char** field) {
  if (dtype == DYCL_DTYPE_STRING) return *field = "string_data", tp->n_string_data;
  if (tp->has_raw_data) return *field = "raw_data", tp->raw_data.len;
  switch (dtype) {
    case DYCL_DTYPE_FLOAT32: return *field = "float_data", tp->n_float_data;
    case DYCL_DTYPE_FLOAT64: return *field = "double_data", tp->n_double_data;
    case DYCL_DTYPE_INT64: return *field = "int64_data", tp->n_int64_data;
    case DYCL_DTYPE_UINT32:
    case DYCL_DTYPE_UINT64: return *field = "uint64_data", tp->n_uint64_data;
    default: return *field = "int32_data", tp->n_int32_data;
  }
}

/* Reads n bytes at offset from fd into dst. */
static bool pread_all(int fd, void* dst, size_t n, uint64_t offset) {
  char* d = dst;
  while (n > 0) {
    ssize_t r = pread(fd, d, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n, (off_t)offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    d += r;
    n -= (size_t)r;
    offset += (uint64_t)r;
  }
  return true;
}

/* pl (with fd): raw_data left in the model file (strip.c); NULL: all of it is in tp. */
static dycl_status_t tensor_from_proto(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                       const Onnx__TensorProto* tp, const char* dir, int fd,
                                       const dycl_onnx_payload_t* pl, const char* what, dycl_value_t** out) {
  *out = NULL;
  int dtype = tp->has_data_type ? tp->data_type : 0;
  if (!dycl_dtype_is_valid(dtype))
    return dycl_error(DYCL_CODE_UNSUPPORTED, "%s: unsupported element type %d", what, dtype);
  if (tp->n_dims > DYCL_MAX_RANK)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "%s: rank %zu is beyond dycl's maximum of %d", what, tp->n_dims, DYCL_MAX_RANK);
  if (tp->segment) return dycl_error(DYCL_CODE_UNSUPPORTED, "%s: segmented tensors are not supported", what);
  for (size_t i = 0; i < tp->n_dims; i++)
    if (tp->dims[i] < 0)
      return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: negative dimension %" PRId64, what, tp->dims[i]);
  bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  /* the payload stands for raw_data only where protobuf would have read it as raw_data */
  if (pl && (external || dtype == DYCL_DTYPE_STRING || !tp->has_raw_data || tp->raw_data.len != 0 || fd < 0)) pl = NULL;
  /* The data must be in the proto (or its external file) before memory is reserved for it: dims
   * claiming gigabytes in a few bytes of file are an error, not an allocation (found by fuzzing). */
  int64_t need;
  dycl_status_t c = dycl_shape_numel((int)tp->n_dims, tp->dims, &need);
  if (c) return dycl_error_wrap(c, "%s", what);
  FILE* ext = NULL;
  if (external) {
    if (dtype == DYCL_DTYPE_STRING)
      return dycl_error(DYCL_CODE_UNSUPPORTED, "%s: string tensors in external data", what);
    size_t nbytes;
    if (!dycl_mul_size((size_t)need, dycl_dtype_size((dycl_dtype_t)dtype), &nbytes))
      return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: the tensor's size overflows", what);
    DYCL_RETURN_IF_ERROR(open_external(tp, dir, what, nbytes, &ext));
  } else {
    const char* field = "raw_data";
    size_t have = pl ? (size_t)pl->len : proto_values(tp, dtype, &field), esize = dycl_dtype_size((dycl_dtype_t)dtype);
    if (dtype != DYCL_DTYPE_STRING && tp->has_raw_data) {
      if (have % esize || have / esize != (uint64_t)need)
        return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: raw_data holds %zu bytes but its dims need %" PRId64 " values of %zu bytes",
                          what, have, need, esize);
    } else if (have != (uint64_t)need) {
      return count_mismatch(what, field, have, need);
    }
  }
  dycl_value_t* v;
  dycl_status_t s = dycl_tensor_new(alloc, limits, (dycl_dtype_t)dtype, (int)tp->n_dims, tp->dims, &v);
  if (s) {
    if (ext) fclose(ext);
    return dycl_error_wrap(s, "%s", what);
  }
  int64_t n = v->numel;
  if (ext) {
    if (v->nbytes && fread(v->data, 1, v->nbytes, ext) != v->nbytes)
      s = dycl_error(DYCL_CODE_IO, "%s: cannot read external data", what);
    fclose(ext);
  } else if (dtype == DYCL_DTYPE_STRING) {
    if ((int64_t)tp->n_string_data != n) {
      s = count_mismatch(what, "string_data", tp->n_string_data, n);
    } else {
      char** d = v->data;
      for (int64_t i = 0; i < n && !s; i++) {
        const ProtobufCBinaryData* b = &tp->string_data[i];
        d[i] = dycl_malloc(v->alloc, b->len + 1);
        if (!d[i]) {
          s = dycl_error_nomem();
          break;
        }
        if (b->len) memcpy(d[i], b->data, b->len);
        d[i][b->len] = 0;
      }
    }
  } else if (pl) {
    if (pl->len != v->nbytes)
      s = dycl_error(DYCL_CODE_INVALID_MODEL, "%s: raw_data holds %" PRIu64 " bytes but its dims need %zu", what, pl->len,
                     v->nbytes);
    else if (v->nbytes && !pread_all(fd, v->data, v->nbytes, pl->offset))
      s = dycl_error(DYCL_CODE_IO, "%s: cannot read raw_data from the model file", what);
  } else if (tp->has_raw_data) {
    if (tp->raw_data.len != v->nbytes)
      s = dycl_error(DYCL_CODE_INVALID_MODEL, "%s: raw_data holds %zu bytes but its dims need %zu", what, tp->raw_data.len,
                     v->nbytes);
    else if (v->nbytes)
      memcpy(v->data, tp->raw_data.data, v->nbytes);
  } else {
    switch (dtype) {
      case DYCL_DTYPE_FLOAT32:
        if ((int64_t)tp->n_float_data != n) s = count_mismatch(what, "float_data", tp->n_float_data, n);
        else if (n) memcpy(v->data, tp->float_data, (size_t)n * 4);
        break;
      case DYCL_DTYPE_FLOAT64:
        if ((int64_t)tp->n_double_data != n) s = count_mismatch(what, "double_data", tp->n_double_data, n);
        else if (n) memcpy(v->data, tp->double_data, (size_t)n * 8);
        break;
      case DYCL_DTYPE_INT64:
        if ((int64_t)tp->n_int64_data != n) s = count_mismatch(what, "int64_data", tp->n_int64_data, n);
        else if (n) memcpy(v->data, tp->int64_data, (size_t)n * 8);
        break;
      case DYCL_DTYPE_UINT32:
      case DYCL_DTYPE_UINT64:
        if ((int64_t)tp->n_uint64_data != n) s = count_mismatch(what, "uint64_data", tp->n_uint64_data, n);
        else
          for (int64_t i = 0; i < n; i++) {
            if (dtype == DYCL_DTYPE_UINT32) ((uint32_t*)v->data)[i] = (uint32_t)tp->uint64_data[i];
            else ((uint64_t*)v->data)[i] = tp->uint64_data[i];
          }
        break;
      case DYCL_DTYPE_FLOAT16:
      case DYCL_DTYPE_BFLOAT16:
        if ((int64_t)tp->n_int32_data != n) s = count_mismatch(what, "int32_data", tp->n_int32_data, n);
        else
          for (int64_t i = 0; i < n; i++) ((uint16_t*)v->data)[i] = (uint16_t)tp->int32_data[i];
        break;
      default: /* int32, int16, int8, uint16, uint8, bool */
        if ((int64_t)tp->n_int32_data != n) s = count_mismatch(what, "int32_data", tp->n_int32_data, n);
        else
          for (int64_t i = 0; i < n; i++) dycl_tensor_set_i64(v, i, tp->int32_data[i]);
        break;
    }
  }
  if (s) {
    dycl_value_release(v);
    return s;
  }
  *out = v;
  return NULL;
}

dycl_status_t dycl_onnx_tensor_from_proto(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                          const Onnx__TensorProto* tp, const char* dir, const char* what,
                                          dycl_value_t** out) {
  return tensor_from_proto(alloc, limits, tp, dir, -1, NULL, what, out);
}

dycl_status_t dycl_onnx_tensor_from_payload(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                            const Onnx__TensorProto* tp, const char* dir, int fd,
                                            const dycl_onnx_payload_t* pl, const char* what, dycl_value_t** out) {
  return tensor_from_proto(alloc, limits, tp, dir, fd, pl, what, out);
}

/* Fills a TensorProto from a tensor. Buffers point into `v` (keep v alive while tp is used). */
static dycl_status_t tensor_to_proto(const dycl_value_t* v, const char* name, Onnx__TensorProto* tp,
                                     ProtobufCBinaryData** strings) {
  onnx__tensor_proto__init(tp);
  tp->name = (char*)(name ? name : "");
  tp->has_data_type = 1;
  tp->data_type = (int32_t)v->dtype;
  tp->n_dims = (size_t)v->rank;
  tp->dims = (int64_t*)v->dims;
  *strings = NULL;
  if (v->dtype == DYCL_DTYPE_STRING) {
    *strings = dycl_calloc(v->alloc, (size_t)(v->numel ? v->numel : 1), sizeof **strings);
    if (!*strings) return dycl_error_nomem();
    char* const* d = v->data;
    for (int64_t i = 0; i < v->numel; i++) {
      (*strings)[i].data = (uint8_t*)(d[i] ? d[i] : "");
      (*strings)[i].len = d[i] ? strlen(d[i]) : 0;
    }
    tp->n_string_data = (size_t)v->numel;
    tp->string_data = *strings;
  } else {
    tp->has_raw_data = 1;
    tp->raw_data.data = v->data;
    tp->raw_data.len = v->nbytes;
  }
  return NULL;
}

/* --------------------------------------------------------------- .npy */

static dycl_status_t npy_dtype(const char* descr, dycl_dtype_t* dt, bool* swap) {
  static const struct {
    const char* code;
    dycl_dtype_t dt;
  } map[] = {{"f4", DYCL_DTYPE_FLOAT32}, {"f8", DYCL_DTYPE_FLOAT64}, {"f2", DYCL_DTYPE_FLOAT16},
             {"i1", DYCL_DTYPE_INT8},    {"i2", DYCL_DTYPE_INT16},   {"i4", DYCL_DTYPE_INT32},
             {"i8", DYCL_DTYPE_INT64},   {"u1", DYCL_DTYPE_UINT8},   {"u2", DYCL_DTYPE_UINT16},
             {"u4", DYCL_DTYPE_UINT32},  {"u8", DYCL_DTYPE_UINT64},  {"b1", DYCL_DTYPE_BOOL}};
  char order = descr[0];
  *swap = order == '>';
  if (order != '<' && order != '|' && order != '>' && order != '=') return dycl_error(DYCL_CODE_INVALID_INPUT, "bad dtype");
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(descr + 1, map[i].code) == 0) {
      *dt = map[i].dt;
      return NULL;
    }
  return dycl_error(DYCL_CODE_UNSUPPORTED, "unsupported NumPy dtype '%s'", descr);
}

static dycl_status_t load_npy(const dycl_allocator_t* alloc, const char* path, const uint8_t* buf, size_t size,
                              dycl_value_t** out) {
  if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s' is not a NumPy .npy file", path);
  int major = buf[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
    hoff = 10;
  } else {
    if (size < 12) return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': truncated .npy header", path);
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
    hoff = 12;
  }
  if (hlen > size - hoff || hlen > 65536) return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': truncated .npy header", path);
  char header[65537];
  memcpy(header, buf + hoff, hlen);
  header[hlen] = 0;
  char* d = strstr(header, "'descr':");
  char* fo = strstr(header, "'fortran_order':");
  char* sh = strstr(header, "'shape':");
  if (!d || !fo || !sh) return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': malformed .npy header", path);
  char descr[16] = {0};
  char* q1 = strchr(d + 8, '\'');
  char* q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
  if (!q1 || !q2 || q2 - q1 - 1 >= (long)sizeof descr) return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': malformed .npy dtype", path);
  memcpy(descr, q1 + 1, (size_t)(q2 - q1 - 1));
  if (strncmp(fo + 16, " True", 5) == 0 || strncmp(fo + 16, "True", 4) == 0)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "'%s': Fortran-ordered arrays are not supported", path);
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  bool swap;
  dycl_status_t s = npy_dtype(descr, &dt, &swap);
  if (s) return dycl_error_wrap(s, "'%s'", path);
  if (swap && dycl_dtype_size(dt) > 1) return dycl_error(DYCL_CODE_UNSUPPORTED, "'%s': big-endian arrays are not supported", path);
  char* p = strchr(sh, '(');
  if (!p) return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': malformed .npy shape", path);
  p++;
  int rank = 0;
  int64_t dims[DYCL_MAX_RANK];
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char* e;
    long long x = strtoll(p, &e, 10);
    if (e == p || x < 0) return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': malformed .npy shape", path);
    if (rank >= DYCL_MAX_RANK) return dycl_error(DYCL_CODE_UNSUPPORTED, "'%s': rank beyond %d", path, DYCL_MAX_RANK);
    dims[rank++] = x;
    p = e;
  }
  size_t off = hoff + hlen;
  int64_t numel; /* checked against the file before allocating (found by fuzzing) */
  s = dycl_shape_numel(rank, dims, &numel);
  if (s) return dycl_error_wrap(s, "'%s'", path);
  if ((uint64_t)numel > (size - off) / dycl_dtype_size(dt))
    return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': data is shorter than its shape needs", path);
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, NULL, dt, rank, dims, out));
  if (size - off < (*out)->nbytes) {
    dycl_value_release(*out);
    *out = NULL;
    return dycl_error(DYCL_CODE_INVALID_INPUT, "'%s': data is shorter than its shape needs", path);
  }
  memcpy((*out)->data, buf + off, (*out)->nbytes);
  return NULL;
}

/* --------------------------------------------------- value files (.pb) */

static dycl_status_t value_from_sequence(const dycl_allocator_t* alloc, const Onnx__SequenceProto* sp, const char* path,
                                         int depth, dycl_value_t** out);
static dycl_status_t value_from_optional(const dycl_allocator_t* alloc, const Onnx__OptionalProto* op, const char* path,
                                         int depth, dycl_value_t** out);

static dycl_status_t value_from_sequence(const dycl_allocator_t* alloc, const Onnx__SequenceProto* sp, const char* path,
                                         int depth, dycl_value_t** out) {
  if (depth > 16) return dycl_error(DYCL_CODE_LIMIT, "'%s': values nested too deeply", path);
  if (sp->n_sequence_values || sp->n_optional_values || sp->n_sparse_tensor_values)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "'%s': only sequences of tensors are supported", path);
  if (sp->n_tensor_values > INT32_MAX) return dycl_error(DYCL_CODE_LIMIT, "'%s': sequence too long", path);
  dycl_dtype_t et = DYCL_DTYPE_UNDEFINED;
  if (sp->n_tensor_values && sp->tensor_values[0]->has_data_type && dycl_dtype_is_valid(sp->tensor_values[0]->data_type))
    et = (dycl_dtype_t)sp->tensor_values[0]->data_type;
  dycl_value_t* seq;
  DYCL_RETURN_IF_ERROR(dycl_sequence_new(alloc, et, (int)sp->n_tensor_values, &seq));
  for (size_t i = 0; i < sp->n_tensor_values; i++) {
    dycl_status_t s = dycl_onnx_tensor_from_proto(alloc, NULL, sp->tensor_values[i], NULL, path, &seq->items[i]);
    if (s) {
      dycl_value_release(seq);
      return s;
    }
  }
  *out = seq;
  return NULL;
}

static dycl_status_t value_from_optional(const dycl_allocator_t* alloc, const Onnx__OptionalProto* op, const char* path,
                                         int depth, dycl_value_t** out) {
  dycl_value_t* elem = NULL;
  dycl_value_kind_t kind = DYCL_VALUE_TENSOR;
  if (op->tensor_value) {
    DYCL_RETURN_IF_ERROR(dycl_onnx_tensor_from_proto(alloc, NULL, op->tensor_value, NULL, path, &elem));
  } else if (op->sequence_value) {
    kind = DYCL_VALUE_SEQUENCE;
    DYCL_RETURN_IF_ERROR(value_from_sequence(alloc, op->sequence_value, path, depth + 1, &elem));
  } else if (op->optional_value || op->sparse_tensor_value) {
    return dycl_error(DYCL_CODE_UNSUPPORTED, "'%s': only optional tensors and sequences are supported", path);
  } else if (op->has_elem_type && op->elem_type == 3) {
    kind = DYCL_VALUE_SEQUENCE;
  }
  dycl_status_t s = dycl_optional_new(alloc, kind, elem ? elem->dtype : DYCL_DTYPE_UNDEFINED, elem, out);
  dycl_value_release(elem);
  return s;
}

dycl_status_t dycl_value_load_file(const dycl_allocator_t* alloc, const char* path, dycl_value_kind_t kind,
                                   dycl_value_t** out) {
  *out = NULL;
  uint8_t* buf;
  size_t size;
  DYCL_RETURN_IF_ERROR(dycl_read_file(alloc, path, (size_t)1 << 34, &buf, &size));
  dycl_status_t s = NULL;
  size_t plen = strlen(path);
  if ((plen > 4 && strcmp(path + plen - 4, ".npy") == 0) || (size >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0)) {
    s = load_npy(alloc, path, buf, size, out);
    dycl_free(alloc, buf);
    return s;
  }
  dycl_pb_allocator_t pb;
  dycl_pb_allocator_init(&pb, alloc);
  ProtobufCAllocator* pa = &pb.pa;
  if (kind == DYCL_VALUE_SEQUENCE) {
    Onnx__SequenceProto* sp = onnx__sequence_proto__unpack(pa, size, buf);
    if (!sp && pb.failed) s = dycl_error(DYCL_CODE_NO_MEMORY, "out of memory reading '%s'", path);
    else if (!sp) s = dycl_error(DYCL_CODE_INVALID_INPUT, "'%s' is not a valid SequenceProto file", path);
    else s = value_from_sequence(alloc, sp, path, 0, out);
    if (sp) onnx__sequence_proto__free_unpacked(sp, pa);
  } else if (kind == DYCL_VALUE_OPTIONAL) {
    Onnx__OptionalProto* op = onnx__optional_proto__unpack(pa, size, buf);
    if (!op && pb.failed) s = dycl_error(DYCL_CODE_NO_MEMORY, "out of memory reading '%s'", path);
    else if (!op) s = dycl_error(DYCL_CODE_INVALID_INPUT, "'%s' is not a valid OptionalProto file", path);
    else s = value_from_optional(alloc, op, path, 0, out);
    if (op) onnx__optional_proto__free_unpacked(op, pa);
  } else {
    Onnx__TensorProto* tp = onnx__tensor_proto__unpack(pa, size, buf);
    if (!tp && pb.failed) {
      s = dycl_error(DYCL_CODE_NO_MEMORY, "out of memory reading '%s'", path);
    } else if (!tp) {
      s = dycl_error(DYCL_CODE_INVALID_INPUT, "'%s' is not a valid TensorProto or .npy file", path);
    } else {
      char what[PATH_MAX + 16];
      snprintf(what, sizeof what, "'%s'", path);
      s = dycl_onnx_tensor_from_proto(alloc, NULL, tp, NULL, what, out);
      if (s && dycl_status_code(s) == DYCL_CODE_INVALID_MODEL) {
        dycl_status_t t = dycl_error(DYCL_CODE_INVALID_INPUT, "%s", dycl_status_message(s));
        dycl_status_free(s);
        s = t;
      }
      onnx__tensor_proto__free_unpacked(tp, pa);
    }
  }
  dycl_free(alloc, buf);
  return s;
}

static dycl_status_t write_atomic(const char* path, const uint8_t* data, size_t n) {
  char tmp[PATH_MAX];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
    return dycl_error(DYCL_CODE_IO, "path too long: '%s'", path);
  FILE* f = fopen(tmp, "wb");
  if (!f) return dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  bool ok = fwrite(data, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  }
  return NULL;
}

dycl_status_t dycl_value_save_file(const dycl_value_t* v, const char* name, const char* path) {
  const dycl_allocator_t* A = v->alloc; /* the buffers come from the value's allocator */
  dycl_status_t s = NULL;
  uint8_t* buf = NULL;
  size_t n = 0;
  if (v->kind == DYCL_VALUE_TENSOR) {
    Onnx__TensorProto tp;
    ProtobufCBinaryData* strs;
    DYCL_RETURN_IF_ERROR(tensor_to_proto(v, name, &tp, &strs));
    n = onnx__tensor_proto__get_packed_size(&tp);
    buf = dycl_malloc(A, n ? n : 1);
    if (buf) onnx__tensor_proto__pack(&tp, buf);
    dycl_free(A, strs);
  } else {
    /* sequences and optionals of tensors */
    const dycl_value_t* seq = v->kind == DYCL_VALUE_SEQUENCE ? v : (v->elem && v->elem->kind == DYCL_VALUE_SEQUENCE ? v->elem : NULL);
    int count = seq ? seq->len : 0;
    Onnx__TensorProto* tps = dycl_calloc(A, (size_t)(count ? count : 1), sizeof *tps);
    Onnx__TensorProto** ptrs = dycl_calloc(A, (size_t)(count ? count : 1), sizeof *ptrs);
    ProtobufCBinaryData** strs = dycl_calloc(A, (size_t)(count ? count : 1), sizeof *strs);
    if (!tps || !ptrs || !strs) s = dycl_error_nomem();
    for (int i = 0; i < count && !s; i++) {
      if (seq->items[i]->kind != DYCL_VALUE_TENSOR) s = dycl_error(DYCL_CODE_UNSUPPORTED, "only sequences of tensors can be written");
      else s = tensor_to_proto(seq->items[i], "", &tps[i], &strs[i]);
      ptrs[i] = &tps[i];
    }
    Onnx__SequenceProto sp;
    onnx__sequence_proto__init(&sp);
    sp.name = (char*)name;
    sp.has_elem_type = 1;
    sp.elem_type = 1; /* TENSOR */
    sp.n_tensor_values = (size_t)count;
    sp.tensor_values = ptrs;
    if (!s && v->kind == DYCL_VALUE_SEQUENCE) {
      n = onnx__sequence_proto__get_packed_size(&sp);
      buf = dycl_malloc(A, n ? n : 1);
      if (buf) onnx__sequence_proto__pack(&sp, buf);
    } else if (!s) {
      Onnx__OptionalProto op;
      onnx__optional_proto__init(&op);
      op.name = (char*)name;
      op.has_elem_type = 1;
      Onnx__TensorProto etp;
      ProtobufCBinaryData* estr = NULL;
      if (!v->elem) {
        op.elem_type = v->elem_kind == DYCL_VALUE_SEQUENCE ? 3 : 1;
      } else if (v->elem->kind == DYCL_VALUE_TENSOR) {
        op.elem_type = 1;
        s = tensor_to_proto(v->elem, "", &etp, &estr);
        op.tensor_value = &etp;
      } else if (v->elem->kind == DYCL_VALUE_SEQUENCE) {
        op.elem_type = 3;
        op.sequence_value = &sp;
      } else {
        s = dycl_error(DYCL_CODE_UNSUPPORTED, "nested optionals cannot be written");
      }
      if (!s) {
        n = onnx__optional_proto__get_packed_size(&op);
        buf = dycl_malloc(A, n ? n : 1);
        if (buf) onnx__optional_proto__pack(&op, buf);
      }
      if (estr) dycl_free(v->elem->alloc, estr);
    }
    for (int i = 0; strs && i < count; i++) dycl_free(seq->items[i]->alloc, strs[i]);
    dycl_free(A, tps);
    dycl_free(A, ptrs);
    dycl_free(A, strs);
  }
  if (!s && !buf) s = dycl_error_nomem();
  if (!s) s = write_atomic(path, buf, n);
  dycl_free(A, buf);
  return s;
}
