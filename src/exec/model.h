/* The loaded model and its sessions (the objects behind the public API). */
#ifndef DYCL_EXEC_MODEL_H
#define DYCL_EXEC_MODEL_H

#include "backend/backend.h"
#include "transform/program.h"

struct dycl_model {
  const dycl_allocator_t* alloc;
  dycl_options_t options;
  dycl_ir_t* ir;
  dycl_program_t* program;
  const dycl_backend_t* backend;
};

struct dycl_session {
  const dycl_model_t* model;
  dycl_value_t** slots; /* one per IR value */
  dycl_kctx_t kctx;
  dycl_run_stats_t stats;
  int64_t max_iterations;
  int64_t* sym_vals; /* value of each symbolic dim, bound from the inputs of the current run; -1 unbound */
  dycl_subnet_recorder_fn recorder; /* dycl_session_set_recorder: called after each sub-network call */
  void* recorder_user;
};

#endif
