/* Static type and shape inference over the whole module (bodies included). */
#ifndef DYCL_ANALYSIS_INFER_H
#define DYCL_ANALYSIS_INFER_H

#include "ops/op.h"

struct dycl_infer_ctx {
  dycl_ir_t* ir;
};

/* Infers the type of every value of `g` (and of nested graphs) in node order. The types of
 * g's inputs must be set. */
dycl_status_t dycl_infer_graph(dycl_infer_ctx_t* ctx, dycl_graph_t* g);
/* Runs inference over the module's main graph. */
dycl_status_t dycl_infer_module(dycl_ir_t* ir);

#endif
