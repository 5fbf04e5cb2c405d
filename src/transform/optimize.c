/* dycl_optimize: the graph optimizations, in order (see optimize.h). */
#include <string.h>

#include "transform/optimize.h"

dycl_status_t dycl_pass_run(dycl_ir_t* ir, dycl_node_visit_fn visit, int* count) {
  dycl_pass_walk_t w = {ir, 0};
  dycl_status_t s = dycl_graph_walk(ir->main, visit, &w);
  if (count) *count = w.count;
  return s;
}

dycl_status_t dycl_optimize(dycl_ir_t* ir, dycl_opt_stats_t* stats) {
  dycl_opt_stats_t st;
  memset(&st, 0, sizeof st);
  DYCL_RETURN_IF_ERROR(dycl_fold_constants(ir, &st.folded, &st.inlined));
  DYCL_RETURN_IF_ERROR(dycl_fold_batchnorm(ir, &st.bn_folded));
  DYCL_RETURN_IF_ERROR(dycl_fold_pad(ir, &st.pad_folded));
  DYCL_RETURN_IF_ERROR(dycl_flatten_concat(ir, &st.concat_flattened));
  DYCL_RETURN_IF_ERROR(dycl_loop_concat_to_scan(ir, &st.loop_concats));
  DYCL_RETURN_IF_ERROR(dycl_cse(ir, &st.cse_merged));
  if (st.cse_merged) { /* merged shape arithmetic may fold further */
    int f = 0, in = 0;
    DYCL_RETURN_IF_ERROR(dycl_fold_constants(ir, &f, &in));
    st.folded += f;
    st.inlined += in;
  }
  DYCL_RETURN_IF_ERROR(dycl_dce(ir, &st.dce_removed));
  if (st.bn_folded || st.pad_folded || st.concat_flattened || st.loop_concats || st.cse_merged || st.dce_removed) DYCL_RETURN_IF_ERROR(dycl_infer_module(ir));
  if (stats) *stats = st;
  return NULL;
}
