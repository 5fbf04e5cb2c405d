/* Emitters: writing the IR back out as ONNX (onnx_writer.c) and splitting a Program into static
 * ONNX sub-networks plus a host description (split.c).
 *
 * The ONNX writer builds protobuf-c messages in an arena: every message, array and string it makes
 * lives in the arena given to it, and tensor data is *borrowed* (raw_data points into the dycl
 * value), so the values must outlive the packing. Pack with dycl_onnx_write_model, then destroy the
 * arena. */
#ifndef DYCL_EMIT_EMIT_H
#define DYCL_EMIT_EMIT_H

#include "onnx/onnx_io.h"
#include "transform/program.h"

/* How values and symbolic dims are named in the files written. */
typedef struct dycl_onnx_names {
  const char** values; /* one per IR value id: a name unique in the module */
  const char** syms;   /* one per symbol 0..ir->next_sym: the dim_param written for it */
  int n_syms;          /* ir->next_sym + 1 */
} dycl_onnx_names_t;

/* Names every value and symbol of `ir` (allocated in A). Values keep their ONNX names; a name used by
 * more than one value (sibling bodies may reuse names) gets a "__<id>" suffix on all but the first.
 * Symbols get the dim_param they had in the model file (re-read from ir->path when it is readable;
 * the IR does not keep them), else "N<sym>" as `dycl inspect` prints them. */
dycl_status_t dycl_onnx_names_create(dycl_arena_t* A, const dycl_ir_t* ir, dycl_onnx_names_t* out);

/* A TensorProto for a tensor value. Non-string data is borrowed as raw_data. */
dycl_status_t dycl_onnx_tensor_proto(dycl_arena_t* A, const dycl_value_t* v, const char* name, Onnx__TensorProto** out);

/* A TypeProto for a static type. Tensor elements get a shape only when the rank is known: dims are
 * dim_value where constant, dim_param (names->syms) where symbolic, left unset where unknown. With
 * `shapes` false, dims are all left unset (rank kept). A type with no known dtype gets elem_type 0. */
dycl_status_t dycl_onnx_type_proto(dycl_arena_t* A, const dycl_type_t* t, const dycl_onnx_names_t* names, bool shapes,
                                   Onnx__TypeProto** out);
dycl_status_t dycl_onnx_value_info(dycl_arena_t* A, const char* name, const dycl_type_t* t, const dycl_onnx_names_t* names,
                                   bool shapes, Onnx__ValueInfoProto** out);

/* The static type written for a value that crosses a sub-network boundary: the inferred one, with the
 * dtype (and the rank, dims unknown) the file declared where inference has none. */
dycl_type_t dycl_onnx_io_type(const dycl_ir_value_t* v);

/* A NodeProto for an IR node: inputs/outputs named through names->values ("" for omitted ones),
 * attributes re-encoded. Fails on graph-valued attributes (control flow never enters a sub-network). */
dycl_status_t dycl_onnx_node_proto(dycl_arena_t* A, const dycl_ir_t* ir, const dycl_node_t* n,
                                   const dycl_onnx_names_t* names, Onnx__NodeProto** out);

typedef struct dycl_onnx_subnet_options {
  bool output_shapes; /* write dims for the graph outputs (else only dtype and rank) */
  const char* producer_version; /* NULL: DYCL_VERSION */
} dycl_onnx_subnet_options_t;

/* A ModelProto for one sub-network: its nodes, its live-in values as graph inputs, its constants as
 * initializers, its outputs as graph outputs; the model's opset imports. */
dycl_status_t dycl_onnx_subnet_model(dycl_arena_t* A, const dycl_program_t* p, const dycl_subnet_t* sn,
                                     const dycl_onnx_names_t* names, const dycl_onnx_subnet_options_t* opt,
                                     Onnx__ModelProto** out);

/* Packs a model (into a buffer from `alloc`, NULL: malloc) and writes it to `path` (through a
 * temporary file renamed into place). */
dycl_status_t dycl_onnx_write_model(const dycl_allocator_t* alloc, const Onnx__ModelProto* m, const char* path);

/* Creates a folder and its missing parents (mkdir -p). */
dycl_status_t dycl_mkdirs(const char* path);

#endif
