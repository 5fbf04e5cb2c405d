/* The backend interface: prepare a sub-network once, run it many times. The host module (exec/)
 * owns the value slots; a backend reads its sub-network's inputs from them and writes its outputs. */
#ifndef DYCL_BACKEND_BACKEND_H
#define DYCL_BACKEND_BACKEND_H

#include "ops/op.h"
#include "transform/program.h"

typedef struct dycl_backend {
  const char* name;
  /* Prepares `sn` (may set sn->backend_state). `options` are the model's (threads, limits). */
  dycl_status_t (*prepare)(const dycl_program_t* p, dycl_subnet_t* sn, const dycl_options_t* options);
  /* Runs `sn`: reads slots[sn->in[i]] / slots[sn->consts[i]], sets slots[sn->out[i]] (new references;
   * the previous contents of those slots were released by the caller). Internal values are released
   * before returning, also on error. */
  dycl_status_t (*run)(const dycl_program_t* p, const dycl_subnet_t* sn, dycl_value_t** slots, dycl_kctx_t* kctx);
  void (*release)(dycl_subnet_t* sn);
} dycl_backend_t;

const dycl_backend_t* dycl_backend_ref(void);
/* Finds a backend by name; NULL when unknown. */
const dycl_backend_t* dycl_backend_find(const char* name);

/* Checks a kernel's output against the inferred type of value `id`; an internal error on mismatch. */
dycl_status_t dycl_check_output(const dycl_ir_t* ir, const dycl_node_t* node, int j, const dycl_value_t* v);

#endif
