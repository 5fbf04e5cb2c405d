/* The loaded model and its sessions (the objects behind the public API). */
#ifndef DYCL_EXEC_MODEL_H
#define DYCL_EXEC_MODEL_H

#include "backend/backend.h"
#include "backend/mem_plan.h"
#include "base/bufpool.h"
#include "transform/optimize.h"
#include "transform/program.h"

struct dycl_model {
  const dycl_allocator_t* alloc;
  dycl_options_t options;
  dycl_ir_t* ir;
  dycl_program_t* program;
  const dycl_backend_t* backend;
  dycl_opt_stats_t opt; /* what the graph optimizations did at load */
};

/* What dycl_model_load_phases measured: seconds per phase and what the optimize phase did. */
typedef struct dycl_load_phases {
  double load_s, optimize_s, partition_s; /* partition includes the backend's prepare */
  dycl_opt_stats_t opt; /* what the graph optimizations did */
} dycl_load_phases_t;

/* dycl_model_load, timing its phases into *phases (may be NULL). */
dycl_status_t dycl_model_load_phases(const char* path, const dycl_options_t* options, dycl_model_t** out,
                                     dycl_load_phases_t* phases);

struct dycl_session {
  const dycl_model_t* model;
  dycl_value_t** slots; /* one per IR value */
  dycl_kctx_t kctx;     /* kctx.limits points to `limits` */
  dycl_limits_t limits; /* the model's, with this session's memory meter */
  dycl_meter_t* meter;  /* tensor bytes live in this session's runs (options.max_memory) */
  dycl_run_stats_t stats;
  int64_t max_iterations;
  int64_t deadline_ns; /* CLOCK_MONOTONIC time by which the current run must end; 0: none */
  int64_t* sym_vals; /* value of each symbolic dim, bound from the inputs of the current run; -1 unbound */
  dycl_subnet_recorder_fn recorder; /* dycl_session_set_recorder: called after each sub-network call */
  void* recorder_user;
  dycl_placement_t place; /* the arena of the sub-networks' planned intermediates (kctx.place) */
  dycl_bufpool_t* pool;   /* kctx.alloc: everything else a run allocates (base/bufpool.h) */
  /* profiling (dycl_session_set_profiling), NULL when never on: per node of every sub-network, at
   * prof_off[subnet id] + node index, what kctx.prof_* point into during that sub-network's call */
  bool profiling;
  int* prof_off;
  int64_t* prof_ns;
  int64_t* prof_calls;
  int* prof_into;
  dycl_profile_totals_t prof_totals;
};

#endif
