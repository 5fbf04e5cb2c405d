/* The `cpu` backend's internal structures: the per-sub-network plan (which nodes oneDNN runs, and
 * which following nodes are fused into them) and the per-group cache of primitives by shape.
 * cpu.c plans and drives a sub-network; cpu_ops.c runs one group. */
#ifndef DYCL_BACKEND_CPU_CPU_INTERNAL_H
#define DYCL_BACKEND_CPU_CPU_INTERNAL_H

#include <pthread.h>

#include "backend/backend.h"
#include "backend/mem_plan.h"
#include "backend/cpu/cpu_own.h"
#include "backend/cpu/onednn.h"

#define CPU_MAX_MEMBERS 4 /* nodes fused after the head */
#define CPU_CACHE_SIZE 32 /* primitives kept per group (one per input shape) */
#define CPU_KEY_MAX 48

typedef enum cpu_kind {
  CPU_KIND_CONV = 0,
  CPU_KIND_MATMUL,
  CPU_KIND_GEMM,
  CPU_KIND_POOL,
  CPU_KIND_REDUCE,
} cpu_kind_t;

/* One primitive for one shape key: oneDNN's (prim) or dycl's own kernel (own, cpu_own.h); both
 * NULL: neither runs this shape (use the reference kernels). */
typedef struct cpu_entry {
  uint64_t hash; /* of the key */
  int nkey;
  int64_t key[CPU_KEY_MAX];
  cpu_prim_t* prim;
  cpu_own_t* own;
  const void* packed; /* the weights packed for prim (constant weights), else NULL */
  int refs;           /* executions in flight */
} cpu_entry_t;

/* A head node (Conv, MatMul, Gemm or a pool) and the nodes fused into it. */
typedef struct cpu_group {
  cpu_kind_t kind;
  int head;                     /* node index in the sub-network */
  int n_members;                /* later nodes fused in (Add, activations), in order */
  int members[CPU_MAX_MEMBERS]; /* node indices */
  int last;                     /* node index producing the group's result */
  int add_operand;              /* value id of the fused Add's other operand, or -1 */
  bool inplace;                 /* the memory plan may give the result add_operand's bytes */
  int n_act;
  cpu_act_t act[CPU_MAX_ACTS];
  /* attributes, read at prepare time */
  int nsp;       /* conv/pool: spatial dims, from the attributes (0: from the input) */
  int auto_pad;  /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
  int64_t group; /* conv */
  int n_kshape;  /* conv: kernel_shape length (0: absent) */
  int64_t kshape[3], strides[3], dil[3], pads[6];
  bool have_strides, have_dil, have_pads;
  bool trans_a, trans_b;         /* gemm */
  float beta;                    /* gemm */
  cpu_pool_kind_t pool_kind;     /* pool */
  cpu_reduce_kind_t reduce_kind; /* reduce */
  bool axes_input;               /* reduce: the axes come from input 1 */
  bool global, ceil_mode;
  bool transpose; /* conv: ConvTranspose */
  bool w_const;   /* conv, matmul, gemm: the weights are a module constant */
  /* matmul, gemm: the last member is an ArgMax over the last axis (cpu_own_argmax_create), with
   * its keepdims and select_last_index */
  bool argmax, am_keep, am_last;
  /* channels-last activations: indices into the run's layout states (-1: always plain) of the
   * group's input X, its Add operand and its result (written channels-last when it runs fused) */
  int x_cl, s_cl, y_cl;
  /* primitives by shape; guarded by the state's lock */
  int n_entries;
  cpu_entry_t* entries[CPU_CACHE_SIZE];
  cpu_wcache_t* wc;
} cpu_group_t;

/* A workspace buffer for executions (64-byte aligned). */
typedef struct cpu_buf {
  struct cpu_buf* next;
  size_t size;
  void* raw;
  void* p;
} cpu_buf_t;

typedef struct cpu_state {
  /* the model's allocator (dycl_options_t.allocator, never NULL here): the state, its plans, the
   * primitive cache, packed weights and workspaces, everything that outlives a run */
  const dycl_allocator_t* alloc;
  cpu_dnn_t* dnn;
  pthread_mutex_t lock;
  cpu_buf_t* free_bufs; /* workspaces not in use (one per concurrent run at most) */
  uint64_t clock;       /* cache misses so far */
  int n_groups;
  cpu_group_t* groups;
  /* per node: the group it heads (>= 0), -1 for a reference node, -2 - g for a member of group g */
  int* node_group;
  /* values that may be kept channels-last (plan_layouts in cpu.c): cl_vals[i] for i < n_cl;
   * cl_of[v]: value v's index among them or -1 (NULL when none); cl_run[k]: node k, not one of a
   * oneDNN group, may make its result channels-last (cpu_fast_run_cl) */
  int n_cl;
  int* cl_vals;
  int* cl_of;
  bool* cl_run;
  /* the sub-network's intermediates planned into the session's arena (NULL: none) */
  dycl_mem_plan_t* plan;
  struct cpu_fast* fast; /* the fast kernels' plan for the other nodes (cpu_fast.h), or NULL */
} cpu_state_t;

typedef enum cpu_ran {
  CPU_RAN_NONE = 0, /* nothing: run the group's nodes with the reference kernels */
  CPU_RAN_ALL,      /* the whole group: its result is in the last member's output slot */
  CPU_RAN_HEAD,     /* the head alone (its output slot is set): run the members with the reference kernels */
} cpu_ran_t;

/* Runs group g at its head's position; *ran tells what ran (nothing is written for CPU_RAN_NONE,
 * when oneDNN cannot run these inputs). cl[i] tells whether value st->cl_vals[i] is held
 * channels-last in this run (set here when the group writes its result so). */
dycl_status_t cpu_group_run(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_state_t* st, cpu_group_t* g,
                            dycl_value_t** slots, unsigned char* cl, dycl_kctx_t* kctx, cpu_ran_t* ran);
/* Makes group g's primitive (and packs its weights) at prepare time for the input shapes inference
 * knows, so that the first run does not pay for it; nothing when a shape is only known at run time. */
dycl_status_t cpu_group_prepare(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_state_t* st, cpu_group_t* g);
void cpu_group_release(cpu_group_t* g, const dycl_allocator_t* alloc); /* alloc: the state's */
/* Whether group g (a global pool, or a reduction whose axes are known) reduces every spatial axis
 * and nothing else: cpu_group_run takes its source channels-last then. */
bool cpu_group_spatial_reduce(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_group_t* g);
void cpu_state_free_buffers(cpu_state_t* st);

#endif
