/* ONNX protobuf I/O: models into the IR, TensorProto/SequenceProto/OptionalProto to and from
 * run-time values. */
#ifndef DYCL_ONNX_ONNX_IO_H
#define DYCL_ONNX_ONNX_IO_H

#include "dycl_data.pb-c.h"
#include "ir/ir.h"
#include "onnx.pb-c.h"

/* Converts a TensorProto. External data is read from files inside `dir` only (NULL: refused).
 * `what` names the tensor in errors ("initializer 'w'"). */
dycl_status_t dycl_onnx_tensor_from_proto(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                          const Onnx__TensorProto* tp, const char* dir, const char* what,
                                          dycl_value_t** out);

/* A model file read without the payloads of its large initializers (strip.c): `buf` is the file
 * with each of those raw_data fields left empty, `payloads[i]` where the i-th initializer of the
 * main graph has its raw_data in the file (len 0: in `buf` as usual), `fd` the open file (-1 when
 * nothing was left out, and `buf` is the whole file). */
typedef struct dycl_onnx_payload {
  uint64_t offset, len;
} dycl_onnx_payload_t;
typedef struct dycl_onnx_stripped {
  uint8_t* buf;
  size_t size;
  int fd;
  dycl_onnx_payload_t* payloads;
  size_t n_payloads;
} dycl_onnx_stripped_t;
dycl_status_t dycl_onnx_read_stripped(const dycl_allocator_t* alloc, const char* path, size_t max,
                                      dycl_onnx_stripped_t* out);
void dycl_onnx_stripped_free(const dycl_allocator_t* alloc, dycl_onnx_stripped_t* s);

/* dycl_onnx_tensor_from_proto for an initializer whose raw_data was left in the file: `tp` has an
 * empty raw_data, and the bytes are read from `fd` at `pl` (checked against the dims first). */
dycl_status_t dycl_onnx_tensor_from_payload(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                            const Onnx__TensorProto* tp, const char* dir, int fd,
                                            const dycl_onnx_payload_t* pl, const char* what, dycl_value_t** out);

/* Loads a model file into verified IR (types inferred, Constants folded into module constants). */
dycl_status_t dycl_onnx_load(const char* path, const dycl_options_t* options, dycl_ir_t** out);

/* Reads a whole file; `max` bounds its size. The buffer is freed with dycl_free(alloc, ...). */
/* The size of open file fd (path names it in messages); an error when it is not a regular file or
 * holds more than max bytes. */
dycl_status_t dycl_file_size(int fd, const char* path, size_t max, size_t* n);

dycl_status_t dycl_read_file(const dycl_allocator_t* alloc, const char* path, size_t max, uint8_t** data,
                             size_t* size);

/* A protobuf-c allocator that routes through a dycl allocator. */
ProtobufCAllocator dycl_protobuf_allocator(const dycl_allocator_t* alloc);

/* The same, remembering whether an allocation failed: protobuf-c's unpack returns NULL both for a
 * malformed message and when out of memory, and `failed` tells which. Pass &pb->pa to protobuf-c;
 * `pb` must stay where it is while pb->pa is in use. */
typedef struct dycl_pb_allocator {
  ProtobufCAllocator pa;
  const dycl_allocator_t* alloc;
  bool failed;
} dycl_pb_allocator_t;
void dycl_pb_allocator_init(dycl_pb_allocator_t* pb, const dycl_allocator_t* alloc);

#endif
