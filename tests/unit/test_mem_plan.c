/* Unit tests of the static memory planner and the placement allocator (src/backend/mem_plan.c):
 * random straight-line sub-networks (random sizes, random lifetimes, nodes whose outputs cannot be
 * planned) must get plans in which no two values live at the same time share a byte, whose arena
 * is at least the lower bound, and in which unplannable values are left out; values released later
 * than their last reader (release_pos) keep their bytes until then; results made over a
 * value they read must take its slot exactly when both are planned with one size; the demo model's
 * sub-networks too. The placement allocator must hand out the pending bytes once and pass
 * everything else to the session allocator. */
#include "backend/mem_plan.h"
#include "exec/model.h"
#include "test_util.h"

#define MAXN 40

typedef struct fake {
  dycl_ir_t* ir;
  dycl_graph_t graph;
  dycl_subnet_t sn;
  dycl_node_t nodes[MAXN];
  dycl_node_t* node_ptrs[MAXN];
  int io[MAXN][3];
  int release_start[MAXN + 1];
  int release_ids[MAXN * 2];
  int last[MAXN + 8]; /* last use of each value (node index) */
} fake_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* A chain of n nodes: node k reads one or two earlier values and makes value k (float32 [size]);
 * value k is released after its last reader (or right away when none). Values whose index is a
 * multiple of 7 get an unknown dim (not plannable). */
static void make_fake(fake_t* F, int n) {
  memset(F, 0, sizeof *F);
  CHECK_OK(dycl_ir_create(NULL, &F->ir));
  F->sn.graph = &F->graph;
  F->sn.n_nodes = n;
  F->sn.nodes = F->node_ptrs;
  for (int k = 0; k < n; k++) {
    dycl_ir_value_t* v;
    CHECK_OK(dycl_ir_add_value(F->ir, "v", &F->graph, &v));
    int64_t size = 1 + (int64_t)(rnd() % 5000);
    v->type = dycl_type_tensor_dims(DYCL_DTYPE_FLOAT32, 1, &size);
    if (k % 7 == 3) v->type.dims[0].v = -1;
    v->def = DYCL_DEF_NODE;
    F->last[k] = k;
  }
  for (int k = 0; k < n; k++) {
    dycl_node_t* nd = &F->nodes[k];
    F->node_ptrs[k] = nd;
    nd->op = DYCL_OP_Relu;
    nd->graph = &F->graph;
    int nin = k == 0 ? 0 : 1 + (int)(rnd() % 2);
    for (int i = 0; i < nin; i++) {
      int src = (int)(rnd() % (uint64_t)k);
      F->io[k][i] = src;
      if (F->last[src] < k) F->last[src] = k;
    }
    F->io[k][nin] = k;
    nd->n_in = nin;
    nd->in = F->io[k];
    nd->n_out = 1;
    nd->out = F->io[k] + nin;
    F->ir->values[k]->producer = nd;
  }
  int r = 0;
  for (int k = 0; k < n; k++) {
    F->release_start[k] = r;
    for (int v = 0; v < n; v++)
      if (F->last[v] == k && v != n - 1) F->release_ids[r++] = v; /* the last value is an output */
  }
  F->release_start[n] = r;
  F->sn.release_start = F->release_start;
  F->sn.release_ids = F->release_ids;
}

/* Whether value w was made over value v, directly or along a chain of such (share). */
static bool made_over(const int* share, int w, int v) {
  for (int i = 0; share && w >= 0 && i < MAXN; i++) {
    if (w == v) return true;
    w = share[w];
  }
  return false;
}

/* The pairs of planned values that share a byte while both are live (value v made at exec_pos of
 * its node, or the node's index, and live until last[v]), but for a result in the slot of the value
 * it was made over (share). */
static int clashes(const dycl_subnet_t* sn, const int* exec_pos, const int* share, const dycl_mem_plan_t* plan,
                   const int* last) {
  int bad = 0, n = sn->n_nodes;
  for (int a = 0; plan && a < n; a++)
    for (int i = plan->slot_start[a]; i < plan->slot_start[a + 1]; i++) {
      const dycl_mem_slot_t* x = &plan->slots[i];
      int v = sn->nodes[a]->out[i - plan->slot_start[a]];
      int s0 = exec_pos ? exec_pos[a] : a, e0 = last[v];
      for (int b = a + 1; b < n; b++)
        for (int j = plan->slot_start[b]; j < plan->slot_start[b + 1]; j++) {
          const dycl_mem_slot_t* y = &plan->slots[j];
          int w = sn->nodes[b]->out[j - plan->slot_start[b]];
          int s1 = exec_pos ? exec_pos[b] : b, e1 = last[w];
          bool time = s0 <= e1 && s1 <= e0;
          bool space = x->offset < y->offset + y->size && y->offset < x->offset + x->size;
          bool same_slot = x->offset == y->offset && x->size == y->size && made_over(share, w, v);
          bad += time && space && !same_slot;
        }
    }
  return bad;
}

/* Checks a plan of a chain where value k is made by node k at exec_pos[k] (or k), possibly over
 * value share[k]. */
static void check_plan(const dycl_ir_t* ir, const dycl_subnet_t* sn, const int* exec_pos, const int* share,
                       const dycl_mem_plan_t* plan, const int* last) {
  if (!plan) return;
  CHECK(plan->arena_bytes >= plan->lower_bound);
  int n = sn->n_nodes;
  size_t sum = 0;
  for (int a = 0; a < n; a++) {
    int sa = plan->slot_start[a], ea = plan->slot_start[a + 1];
    for (int i = sa; i < ea; i++) {
      const dycl_mem_slot_t* x = &plan->slots[i];
      sum += x->size;
      CHECK(x->offset % 64 == 0);
      CHECK(x->offset + x->size <= plan->arena_bytes);
      int v = sn->nodes[a]->out[i - sa];
      CHECK(ir->values[v]->type.dims[0].v > 0); /* only known shapes are planned */
      CHECK(x->size >= (size_t)ir->values[v]->type.dims[0].v * 4);
    }
  }
  CHECK(plan->arena_bytes <= sum);
  CHECK(clashes(sn, exec_pos, share, plan, last) == 0);
}

/* Results made over a value they read (share): they take its slot when both are planned and of
 * one size, and only then; the lower bound counts a shared slot once. */
static void test_shared_slots(void) {
  int n_shared = 0;
  for (int round = 0; round < 200; round++) {
    fake_t F;
    int n = 3 + (int)(rnd() % (MAXN - 3));
    make_fake(&F, n);
    int share[MAXN];
    for (int k = 0; k < n; k++) {
      share[k] = -1;
      if (k == 0 || rnd() % 2) continue;
      int v = F.io[k][0]; /* node k's first input, when it dies here */
      if (F.last[v] != k) continue;
      share[k] = v;
      if (rnd() % 4) F.ir->values[k]->type.dims[0].v = F.ir->values[v]->type.dims[0].v; /* mostly one size */
    }
    dycl_mem_plan_t* plan = NULL;
    CHECK_OK(dycl_mem_plan_build(F.ir, &F.sn, NULL, NULL, share, NULL, &plan));
    check_plan(F.ir, &F.sn, NULL, share, plan, F.last);
    int shared_here = 0;
    for (int k = 0; plan && k < n; k++) {
      int v = share[k];
      bool kp = plan->slot_start[k] < plan->slot_start[k + 1];
      bool vp = v >= 0 && plan->slot_start[v] < plan->slot_start[v + 1];
      size_t ks = (size_t)F.ir->values[k]->type.dims[0].v, vs = v >= 0 ? (size_t)F.ir->values[v]->type.dims[0].v : 0;
      bool want = kp && vp && (ks + 15) / 16 == (vs + 15) / 16; /* one size after 64-byte rounding */
      if (!want) continue;
      CHECK(plan->slots[plan->slot_start[k]].offset == plan->slots[plan->slot_start[v]].offset);
      shared_here++;
    }
    if (plan) CHECK(plan->n_shared == shared_here);
    n_shared += shared_here;
    dycl_mem_plan_free(plan, NULL);
    dycl_ir_destroy(F.ir);
  }
  CHECK(n_shared > 50); /* the rounds did exercise sharing */
}

/* Members of fused groups that release their values with a later root (release_pos): those values
 * live until then, and no value made in between takes their bytes; the same plan made without
 * release_pos does hand them out early in some rounds (so the check can fail). */
static void test_release_pos(void) {
  int early = 0;
  for (int round = 0; round < 300; round++) {
    fake_t F;
    int n = 4 + (int)(rnd() % (MAXN - 4));
    make_fake(&F, n);
    int rel[MAXN], last[MAXN + 8];
    memcpy(last, F.last, sizeof last);
    for (int k = 0; k < n; k++) /* a third of the nodes release with a later one */
      rel[k] = k + 1 < n && rnd() % 3 == 0 ? k + 1 + (int)(rnd() % (uint64_t)(n - k - 1)) : k;
    for (int k = 0; k < n; k++)
      for (int r = F.release_start[k]; r < F.release_start[k + 1]; r++)
        if (rel[k] > last[F.release_ids[r]]) last[F.release_ids[r]] = rel[k];
    dycl_mem_plan_t* plan = NULL;
    CHECK_OK(dycl_mem_plan_build(F.ir, &F.sn, NULL, rel, NULL, NULL, &plan));
    check_plan(F.ir, &F.sn, NULL, NULL, plan, last); /* no clash under the real lifetimes */
    dycl_mem_plan_free(plan, NULL);
    plan = NULL;
    CHECK_OK(dycl_mem_plan_build(F.ir, &F.sn, NULL, NULL, NULL, NULL, &plan));
    early += clashes(&F.sn, NULL, NULL, plan, last) > 0;
    dycl_mem_plan_free(plan, NULL);
    dycl_ir_destroy(F.ir);
  }
  CHECK(early > 10);
}

static void test_random_plans(void) {
  for (int round = 0; round < 200; round++) {
    fake_t F;
    int n = 2 + (int)(rnd() % (MAXN - 2));
    make_fake(&F, n);
    dycl_mem_plan_t* plan = NULL;
    CHECK_OK(dycl_mem_plan_build(F.ir, &F.sn, NULL, NULL, NULL, NULL, &plan));
    check_plan(F.ir, &F.sn, NULL, NULL, plan, F.last);
    if (plan) /* nothing unplannable got a slot */
      for (int k = 0; k < n; k++)
        if (k % 7 == 3 || k == n - 1) CHECK(plan->slot_start[k] == plan->slot_start[k + 1]);
    dycl_mem_plan_free(plan, NULL);
    /* fused groups: some nodes made earlier, some not made at all */
    int pos[MAXN];
    for (int k = 0; k < n; k++) pos[k] = k > 0 && rnd() % 4 == 0 ? (rnd() % 2 ? -1 : k - 1) : k;
    plan = NULL;
    CHECK_OK(dycl_mem_plan_build(F.ir, &F.sn, pos, NULL, NULL, NULL, &plan));
    check_plan(F.ir, &F.sn, pos, NULL, plan, F.last);
    if (plan)
      for (int k = 0; k < n; k++)
        if (pos[k] < 0) CHECK(plan->slot_start[k] == plan->slot_start[k + 1]);
    dycl_mem_plan_free(plan, NULL);
    dycl_ir_destroy(F.ir);
  }
}

static void test_placement(void) {
  fake_t F;
  make_fake(&F, 30);
  dycl_mem_plan_t* plan = NULL;
  CHECK_OK(dycl_mem_plan_build(F.ir, &F.sn, NULL, NULL, NULL, NULL, &plan));
  CHECK(plan != NULL);
  dycl_placement_t pl;
  dycl_placement_init(&pl, NULL);
  CHECK(!dycl_placement_begin(&pl, plan, 0)); /* no arena yet */
  CHECK_OK(dycl_placement_reserve(&pl, plan));
  CHECK(pl.cap == plan->arena_bytes && pl.lower_bound == plan->lower_bound);
  for (int k = 0; plan && k < 30; k++) {
    if (plan->slot_start[k] == plan->slot_start[k + 1]) {
      CHECK(!dycl_placement_begin(&pl, plan, k));
      continue;
    }
    CHECK(dycl_placement_begin(&pl, plan, k));
    size_t want = (size_t)F.ir->values[k]->type.dims[0].v * 4;
    void* other = dycl_malloc(&pl.self, want + 4096); /* not pending: from the heap */
    void* p = dycl_malloc(&pl.self, want);
    void* again = dycl_malloc(&pl.self, want); /* the slot was given once */
    CHECK(p == pl.arena + plan->slots[plan->slot_start[k]].offset);
    CHECK(other && (char*)other != pl.arena + plan->slots[plan->slot_start[k]].offset);
    CHECK(again && again != p);
    memset(p, 0xab, want); /* within the arena (ASan would tell) */
    dycl_free(&pl.self, p); /* arena bytes: nothing happens */
    dycl_free(&pl.self, other);
    dycl_free(&pl.self, again);
    dycl_placement_end(&pl);
  }
  dycl_placement_destroy(&pl);
  dycl_mem_plan_free(plan, NULL);
  dycl_ir_destroy(F.ir);
}

/* The demo model on the cpu backend (when built): its runs report an arena within the bounds. */
static void test_demo_stats(void) {
  dycl_options_t o;
  dycl_options_init(&o);
  dycl_model_t* m = NULL;
  CHECK_OK(dycl_model_load("models/demo/early_exit.onnx", &o, &m));
  if (!m) return;
  dycl_session_t* S = NULL;
  CHECK_OK(dycl_session_create(m, &S));
  int64_t dims[4] = {1, 3, 32, 32};
  dycl_value_t* x = NULL;
  CHECK_OK(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 4, dims, NULL, &x));
  dycl_value_t* outs[2] = {NULL, NULL};
  CHECK_OK(dycl_session_run(S, &x, 1, outs, 2));
  dycl_run_stats_t st;
  dycl_session_stats(S, &st);
  CHECK(st.peak_tensor_bytes > 0);
  CHECK(st.arena_bytes >= st.arena_lower_bound);
  if (strcmp(o.backend, "cpu") == 0) CHECK(st.arena_bytes > 0); /* the conv chain is planned */
  for (int j = 0; j < 2; j++) dycl_value_release(outs[j]);
  dycl_value_release(x);
  dycl_session_destroy(S);
  dycl_model_destroy(m);
}

int main(void) {
  test_random_plans();
  test_release_pos();
  test_shared_slots();
  test_placement();
  test_demo_stats();
  return test_finish("test_mem_plan");
}
