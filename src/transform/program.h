/* The Program: the host tree (sub-network calls, if, loop, scan) plus conditional-free
 * sub-networks with explicit inputs and outputs. One structure serves the in-process executor,
 * the C emitter and the ONNX splitter. */
#ifndef DYCL_TRANSFORM_PROGRAM_H
#define DYCL_TRANSFORM_PROGRAM_H

#include "ir/ir.h"

/* A maximal straight-line segment of one graph: no If/Loop/Scan inside. */
typedef struct dycl_subnet {
  int id;
  const char* name; /* "subnet_<id>" */
  dycl_graph_t* graph;
  int n_nodes;
  dycl_node_t** nodes;
  int n_in;
  int* in; /* live-in values that are not constants */
  int n_const;
  int* consts; /* constants the nodes read (weights) */
  int n_out;
  int* out; /* values used after the segment */
  /* values to release after node k: release_ids[release_start[k] .. release_start[k+1]) */
  int* release_start;
  int* release_ids;
  /* where output j goes in the host tree (dycl_program_flows): the sub-network inputs it reaches,
   * directly or through If results and Loop carried values, reach_sub[r] / reach_val[r] (the
   * sub-network's id, the value it reads) for r in [reach_start[j], reach_start[j + 1]); host_use[j]:
   * it also reaches something else (a model output, a condition, a trip count, a Scan's or
   * SequenceMap's operand, a scan output). reach_start NULL: not known. */
  int* reach_start;
  int* reach_sub;
  int* reach_val;
  unsigned char* host_use;
  void* backend_state; /* owned by the backend that prepared it */
} dycl_subnet_t;

typedef enum dycl_step_kind {
  DYCL_STEP_CALL = 0, /* run a sub-network */
  DYCL_STEP_IF = 1,
  DYCL_STEP_LOOP = 2,
  DYCL_STEP_SCAN = 3,
  DYCL_STEP_SEQMAP = 4, /* SequenceMap: the body once per sequence element */
} dycl_step_kind_t;

struct dycl_block;

typedef struct dycl_step {
  dycl_step_kind_t kind;
  dycl_subnet_t* subnet;      /* CALL */
  dycl_node_t* node;          /* IF / LOOP / SCAN: the ONNX node */
  struct dycl_block* body[2]; /* IF: then, else; LOOP/SCAN: body in [0] */
  /* values whose last use in the enclosing block is this step */
  int n_release;
  int* release;
} dycl_step_t;

/* The host code of one graph. */
typedef struct dycl_block {
  dycl_graph_t* graph;
  int n_steps;
  dycl_step_t* steps;
  int n_owned;
  int* owned; /* values defined in this block (inputs included): cleared when it is left */
} dycl_block_t;

typedef struct dycl_program {
  dycl_ir_t* ir;
  int n_subnets;
  dycl_subnet_t** subnets;
  dycl_block_t* main;
  int64_t cap_subnets;
  /* names of the main graph's outputs, as in the file (aliasing may change the value ids) */
  const char** output_names;
} dycl_program_t;

/* Folds constants before partition: nodes whose inputs are constants, Shape of statically shaped
 * values and Gather of a known dim of a Shape, and If nodes whose condition became constant (replaced
 * by the branch they take). Re-runs inference when anything changed. */
dycl_status_t dycl_fold_constants(dycl_ir_t* ir, int* folded, int* inlined);

/* Removes Identity nodes (their outputs become aliases bound by the host) and cuts every graph
 * into sub-networks. Allocates from ir->arena; the program lives as long as the IR. */
dycl_status_t dycl_partition(dycl_ir_t* ir, dycl_program_t** out);
void dycl_program_destroy(dycl_program_t* p);

/* Fills every sub-network's reach_* and host_use (dycl_partition calls it): what reads each output
 * on the host, for backends that hand values between sub-networks in a layout of their own. */
dycl_status_t dycl_program_flows(dycl_program_t* p);

/* Human-readable dump of the host tree and sub-networks. */
void dycl_program_print(const dycl_program_t* p, FILE* f);
dycl_status_t dycl_program_write_dot(const dycl_program_t* p, FILE* f);

#endif
