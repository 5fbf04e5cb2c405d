/* The graph optimizations run between loading and partitioning, one pass per file, driven by
 * dycl_optimize (optimize.c) in a fixed order. Each pass works on the whole module (bodies of
 * If/Loop/Scan included) and keeps it valid; dycl_optimize re-runs inference after them. */
#ifndef DYCL_TRANSFORM_OPTIMIZE_H
#define DYCL_TRANSFORM_OPTIMIZE_H

#include "analysis/infer.h"
#include "transform/program.h"

typedef struct dycl_opt_stats {
  int folded;     /* nodes folded into constants (fold.c) */
  int inlined;    /* If nodes with a constant condition replaced by their branch (fold.c) */
  int bn_folded;  /* BatchNormalization nodes folded into the Conv/Gemm before them (fold_bn.c) */
  int pad_folded; /* Pads of zeros folded into the Conv/AveragePool after them (fold_pad.c) */
  int concat_flattened; /* Concat inputs replaced by the inputs of the Concat making them (fold_concat.c) */
  int loop_concats; /* loop-carried values grown by a Concat made scan outputs (loop_concat.c) */
  int cse_merged; /* nodes that recomputed an earlier node's value, now aliases (cse.c) */
  int dce_removed; /* nodes whose outputs nothing read (dce.c) */
} dycl_opt_stats_t;

/* The pipeline: constant folding → BatchNormalization folding → Pad folding → Concat flattening →
 * concatenations in loops made scan outputs → CSE → constant folding again (what CSE exposed) →
 * dead-code elimination → inference (the values the passes made get their types there: none of the
 * passes after the loop rewrite reads a new value's type). */
dycl_status_t dycl_optimize(dycl_ir_t* ir, dycl_opt_stats_t* stats);

/* A pass that visits every node of the module (dycl_graph_walk) and counts what it changed: the
 * visitor gets a dycl_pass_walk_t as its user pointer. dycl_pass_run returns the count in *count
 * (may be NULL). */
typedef struct dycl_pass_walk {
  dycl_ir_t* ir;
  int count;
} dycl_pass_walk_t;
dycl_status_t dycl_pass_run(dycl_ir_t* ir, dycl_node_visit_fn visit, int* count);

dycl_status_t dycl_fold_batchnorm(dycl_ir_t* ir, int* folded);
dycl_status_t dycl_fold_pad(dycl_ir_t* ir, int* folded);
dycl_status_t dycl_flatten_concat(dycl_ir_t* ir, int* flattened);
dycl_status_t dycl_loop_concat_to_scan(dycl_ir_t* ir, int* rewritten);
dycl_status_t dycl_cse(dycl_ir_t* ir, int* merged);
dycl_status_t dycl_dce(dycl_ir_t* ir, int* removed);

#endif
