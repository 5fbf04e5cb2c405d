/* Reading a model without its large weights (onnx_io.h: dycl_onnx_read_stripped).
 *
 * A model file is mostly the raw_data of its initializers. Unpacked with protobuf-c, the file's
 * bytes are held twice (the file, then the unpacked message), and converting the initializers into
 * tensors makes a copy of each: loading took twice the model's size at its peak. Here the file is
 * mapped, and the wire format of ModelProto.graph.initializer[*].raw_data is walked (tags and
 * lengths only: the payloads' pages are never touched) to make a copy of the file in which each
 * payload of PAYLOAD_MIN bytes or more is left out (its raw_data field kept, empty, and the
 * enclosing lengths re-encoded). The loader unpacks that copy, and reads each payload from the file
 * straight into its tensor (dycl_onnx_tensor_from_payload): the peak is the weights once.
 *
 * Only what protobuf would read the same way is stripped: a file with more than one `graph` field
 * (protobuf merges them), an initializer with more than one raw_data field (the last one wins), or
 * anything this walk cannot parse, is read whole, and protobuf-c judges it as before. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx_io.h"

#define PAYLOAD_MIN 4096 /* bytes of raw_data from which a payload stays in the file */

typedef struct wbuf {
  const dycl_allocator_t* alloc;
  uint8_t* p;
  int64_t n, cap;
  bool failed;
} wbuf_t;

static void put(wbuf_t* w, const void* src, size_t n) {
  if (w->failed || n == 0) return;
  dycl_status_t s = dycl_grow(w->alloc, (void**)&w->p, 1, &w->cap, w->n + (int64_t)n);
  if (s) {
    dycl_status_free(s);
    w->failed = true;
    return;
  }
  memcpy(w->p + w->n, src, n);
  w->n += (int64_t)n;
}

static void put_varint(wbuf_t* w, uint64_t v) {
  uint8_t b[10];
  int n = 0;
  do {
    b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(w, b, (size_t)n);
}

/* A length-delimited field holding the message built in sub. */
static void put_message(wbuf_t* w, uint32_t field, const wbuf_t* sub) {
  put_varint(w, ((uint64_t)field << 3) | 2);
  put_varint(w, (uint64_t)sub->n);
  put(w, sub->p, (size_t)sub->n);
}

static bool get_varint(const uint8_t* p, size_t n, size_t* pos, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= n) return false;
    uint8_t b = p[(*pos)++];
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* Reads a field's tag at *pos and moves *pos past the field; for a length-delimited field, *body
 * and *len give its contents. False when the bytes are not a field protobuf would read. */
static bool next_field(const uint8_t* p, size_t n, size_t* pos, uint32_t* field, int* wt, size_t* body, size_t* len) {
  uint64_t tag, v;
  if (!get_varint(p, n, pos, &tag)) return false;
  *field = (uint32_t)(tag >> 3);
  *wt = (int)(tag & 7);
  if (*field == 0 || tag >> 3 > 0x1fffffff) return false;
  switch (*wt) {
    case 0: return get_varint(p, n, pos, &v);
    case 1:
      if (n - *pos < 8) return false;
      *pos += 8;
      return true;
    case 5:
      if (n - *pos < 4) return false;
      *pos += 4;
      return true;
    case 2:
      if (!get_varint(p, n, pos, &v) || v > n - *pos) return false;
      *body = *pos;
      *len = (size_t)v;
      *pos += (size_t)v;
      return true;
    default: return false; /* groups (3, 4) are not in onnx.proto */
  }
}

typedef struct strip {
  const uint8_t* file;
  const dycl_allocator_t* alloc;
  dycl_onnx_payload_t* payloads;
  int64_t n_payloads, cap_payloads;
  bool failed; /* out of memory */
} strip_t;

/* A TensorProto at file[off, off + len), written to w with a large raw_data left out. */
static bool strip_tensor(strip_t* S, size_t off, size_t len, wbuf_t* w, dycl_onnx_payload_t* pl) {
  const uint8_t* t = S->file + off;
  size_t pos = 0, body = 0, blen = 0;
  int raws = 0;
  while (pos < len) {
    size_t start = pos;
    uint32_t field;
    int wt;
    if (!next_field(t, len, &pos, &field, &wt, &body, &blen)) return false;
    if (field == 9 && wt == 2) {
      if (++raws > 1) return false;
      if (blen >= PAYLOAD_MIN) {
        pl->offset = off + body;
        pl->len = blen;
        uint8_t empty[2] = {(9 << 3) | 2, 0};
        put(w, empty, 2);
        continue;
      }
    }
    put(w, t + start, pos - start);
  }
  return true;
}

static bool strip_graph(strip_t* S, size_t off, size_t len, wbuf_t* w) {
  const uint8_t* g = S->file + off;
  size_t pos = 0, body = 0, blen = 0;
  while (pos < len) {
    size_t start = pos;
    uint32_t field;
    int wt;
    if (!next_field(g, len, &pos, &field, &wt, &body, &blen)) return false;
    if (field == 5 && wt == 2) { /* an initializer */
      dycl_status_t gs = dycl_grow(S->alloc, (void**)&S->payloads, sizeof *S->payloads, &S->cap_payloads,
                                   S->n_payloads + 1);
      if (gs) {
        dycl_status_free(gs);
        S->failed = true;
        return false;
      }
      dycl_onnx_payload_t* pl = &S->payloads[S->n_payloads++];
      *pl = (dycl_onnx_payload_t){0, 0};
      wbuf_t tw = {S->alloc, NULL, 0, 0, false};
      bool ok = strip_tensor(S, off + body, blen, &tw, pl);
      if (ok && !tw.failed) put_message(w, 5, &tw);
      dycl_free(S->alloc, tw.p);
      if (tw.failed) S->failed = true;
      if (!ok || tw.failed) return false;
      continue;
    }
    put(w, g + start, pos - start);
  }
  return true;
}

/* The model without its large payloads into w; false: read it whole instead. */
static bool strip_model(strip_t* S, size_t n, wbuf_t* w) {
  size_t pos = 0, body = 0, blen = 0;
  int graphs = 0;
  while (pos < n) {
    size_t start = pos;
    uint32_t field;
    int wt;
    if (!next_field(S->file, n, &pos, &field, &wt, &body, &blen)) return false;
    if (field == 7 && wt == 2) {
      if (++graphs > 1) return false;
      wbuf_t gw = {S->alloc, NULL, 0, 0, false};
      bool ok = strip_graph(S, body, blen, &gw);
      if (ok && !gw.failed) put_message(w, 7, &gw);
      dycl_free(S->alloc, gw.p);
      if (gw.failed) S->failed = true;
      if (!ok || gw.failed) return false;
      continue;
    }
    put(w, S->file + start, pos - start);
  }
  return !w->failed;
}

dycl_status_t dycl_onnx_read_stripped(const dycl_allocator_t* alloc, const char* path, size_t max,
                                      dycl_onnx_stripped_t* out) {
  memset(out, 0, sizeof *out);
  out->fd = -1;
  alloc = dycl_alloc_or_default(alloc);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dycl_error(DYCL_CODE_IO, "cannot open '%s': %s", path, strerror(errno));
  size_t n;
  dycl_status_t fs = dycl_file_size(fd, path, max, &n);
  if (fs) {
    close(fd);
    return fs;
  }
  void* map = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (map != MAP_FAILED) {
    strip_t S = {map, alloc, NULL, 0, 0, false};
    wbuf_t w = {alloc, NULL, 0, 0, false};
    bool ok = strip_model(&S, n, &w);
    munmap(map, n);
    bool any = false;
    for (int64_t i = 0; ok && i < S.n_payloads; i++) any |= S.payloads[i].len > 0;
    if (ok && any && !S.failed) {
      out->buf = w.p;
      out->size = (size_t)w.n;
      out->fd = fd;
      out->payloads = S.payloads;
      out->n_payloads = (size_t)S.n_payloads;
      return NULL;
    }
    dycl_free(alloc, w.p);
    dycl_free(alloc, S.payloads);
    if (S.failed || w.failed) {
      close(fd);
      return dycl_error_nomem();
    }
  }
  /* nothing to leave out, or not a file this walk reads: the whole file */
  close(fd);
  return dycl_read_file(alloc, path, max, &out->buf, &out->size);
}

void dycl_onnx_stripped_free(const dycl_allocator_t* alloc, dycl_onnx_stripped_t* s) {
  alloc = dycl_alloc_or_default(alloc);
  dycl_free(alloc, s->buf);
  dycl_free(alloc, s->payloads);
  if (s->fd >= 0) close(s->fd);
  memset(s, 0, sizeof *s);
  s->fd = -1;
}
