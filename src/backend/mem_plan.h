/* Static memory planning of a sub-network's intermediates, and the per-session arena they are
 * placed in.
 *
 * Planning (once, when a backend prepares a sub-network): every value a node computes and the
 * sub-network releases again (an intermediate) whose shape and element type are known gets an
 * offset in one arena. Two values share bytes only when their lifetimes (from the position the
 * node producing it runs at to the node after which it is released) do not overlap; offsets are
 * assigned greedily, largest value first, at the lowest 64-byte-aligned offset free of every
 * placed value it overlaps in time. The exception is a result made in place over a value it
 * reads, when the backend says so (`share` below: a residual added into a convolution's result):
 * the two get one slot, live from the first's making to the second's release, and the result
 * costs neither bytes nor a copy of the value into it. The plan records the arena size and the
 * lower bound any plan could reach: the largest sum of the sizes of slots live at one position.
 *
 * Placement (each run): a session owns one arena (dycl_placement_t) as large as the largest plan
 * of the sub-networks it ran; sub-networks run one at a time and their intermediates die inside
 * them, so one arena serves all. Before a node whose outputs are all planned runs, the backend
 * points the kernel context's allocator at the placement allocator with those outputs pending: an
 * allocation of a pending size gets its planned bytes, anything else goes to the session's
 * allocator, and freeing arena bytes does nothing. The kernels are unchanged.
 *
 * Not planned: values of unknown shape, strings, empty tensors, and values a consumer may keep
 * beyond its release (Identity, Dropout and the view ops may hand their input on as their output;
 * sequence and optional constructors keep it). */
#ifndef DYCL_BACKEND_MEM_PLAN_H
#define DYCL_BACKEND_MEM_PLAN_H

#include "ops/op.h"
#include "transform/program.h"

typedef struct dycl_mem_slot {
  size_t offset, size;
} dycl_mem_slot_t;

typedef struct dycl_mem_plan {
  size_t arena_bytes; /* the planned arena */
  size_t lower_bound; /* the largest sum of planned slots live at once (a shared slot counts once) */
  int n_planned;
  int n_shared; /* outputs that took the slot of the value they were made from (share) */
  /* node k's outputs: slots[slot_start[k] .. slot_start[k+1]); a node is placed only when every
   * output it has is planned (then there is one slot per present output, in output order) */
  int* slot_start;
  dycl_mem_slot_t* slots;
} dycl_mem_plan_t;

/* Plans sn. exec_pos[k] (may be NULL: k) is the position at which node k's outputs are made
 * (a fused group makes its members' outputs at its head's position), -1 when they are not made
 * in memory the plan should hold (the intermediates of a fused group). release_pos[k] (may be
 * NULL: k) is the position at which the values sn releases after node k are actually released,
 * when that is later (a member of a fused group that runs, and releases, with a later node).
 * share[k] (may be NULL: -1 for every node) is a value whose bytes node k's only output may take:
 * the backend's promise that whatever makes that output reads the value element by element, each
 * element before it writes the same element of the result, and that nothing reads the value after
 * that (a residual added into a convolution's result in place). The two then get one slot, when
 * both are planned and of the same size; a chain of such nodes shares one. *out is NULL when
 * nothing could be planned. */
dycl_status_t dycl_mem_plan_build(const dycl_ir_t* ir, const dycl_subnet_t* sn, const int* exec_pos,
                                  const int* release_pos, const int* share, const dycl_allocator_t* alloc,
                                  dycl_mem_plan_t** out);
void dycl_mem_plan_free(dycl_mem_plan_t* plan, const dycl_allocator_t* alloc);

#define DYCL_PLACE_MAX_PENDING 8

typedef struct dycl_placement {
  dycl_allocator_t self; /* the placement allocator (ctx: this struct) */
  const dycl_allocator_t* base;
  char* raw;   /* the arena as allocated */
  char* arena; /* 64-byte aligned */
  size_t cap;
  size_t lower_bound; /* the largest plan lower bound seen */
  int n_pending;
  void* pending_p[DYCL_PLACE_MAX_PENDING];
  size_t pending_size[DYCL_PLACE_MAX_PENDING];
} dycl_placement_t;

void dycl_placement_init(dycl_placement_t* pl, const dycl_allocator_t* base);
void dycl_placement_destroy(dycl_placement_t* pl);
/* Makes the arena hold `plan` (only between sub-network runs: no planned value is alive). */
dycl_status_t dycl_placement_reserve(dycl_placement_t* pl, const dycl_mem_plan_t* plan);
/* Node k of a plan about to run: true when its outputs are placed; the caller then runs the node
 * with &pl->self as its allocator and calls dycl_placement_end. */
bool dycl_placement_begin(dycl_placement_t* pl, const dycl_mem_plan_t* plan, int k);
void dycl_placement_end(dycl_placement_t* pl);
/* Whether, between begin and end, the one pending allocation gets the bytes at p. */
bool dycl_placement_gives(const dycl_placement_t* pl, const void* p);

#endif
