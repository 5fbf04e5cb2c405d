/* Unit tests of the loader, verification, partition and host executor, on ONNX models built here
 * with protobuf-c. */
#include <unistd.h>

#include "exec/model.h"
#include "onnx/onnx_io.h"
#include "test_util.h"

/* ------------------------------------------------------- a model builder */

static dycl_arena_t A; /* everything the builder allocates */

static char** strs(int n, const char* const* s) {
  char** r = dycl_arena_calloc(&A, (size_t)n + 1, sizeof *r);
  for (int i = 0; i < n; i++) r[i] = dycl_arena_strdup(&A, s[i]);
  return r;
}

static Onnx__NodeProto* node(const char* op, const char* name, int nin, const char* const* in, int nout,
                             const char* const* out) {
  Onnx__NodeProto* n = dycl_arena_alloc(&A, sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = dycl_arena_strdup(&A, op);
  n->name = dycl_arena_strdup(&A, name);
  n->n_input = (size_t)nin;
  n->input = strs(nin, in);
  n->n_output = (size_t)nout;
  n->output = strs(nout, out);
  return n;
}

static void add_attr(Onnx__NodeProto* n, Onnx__AttributeProto* a) {
  Onnx__AttributeProto** na = dycl_arena_calloc(&A, n->n_attribute + 1, sizeof *na);
  for (size_t i = 0; i < n->n_attribute; i++) na[i] = n->attribute[i];
  na[n->n_attribute++] = a;
  n->attribute = na;
}

static void graph_attr(Onnx__NodeProto* n, const char* name, Onnx__GraphProto* g) {
  Onnx__AttributeProto* a = dycl_arena_alloc(&A, sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = dycl_arena_strdup(&A, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  a->g = g;
  add_attr(n, a);
}

/* A value info: elem type and rank (dims unknown: -1 → dim_param "N"). */
static Onnx__ValueInfoProto* vinfo(const char* name, int elem, int rank, const int64_t* dims) {
  Onnx__ValueInfoProto* v = dycl_arena_alloc(&A, sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = dycl_arena_strdup(&A, name);
  Onnx__TypeProto* t = dycl_arena_alloc(&A, sizeof *t);
  onnx__type_proto__init(t);
  Onnx__TypeProto__Tensor* tt = dycl_arena_alloc(&A, sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = elem;
  if (rank >= 0) {
    Onnx__TensorShapeProto* sh = dycl_arena_alloc(&A, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)rank;
    sh->dim = dycl_arena_calloc(&A, (size_t)rank + 1, sizeof *sh->dim);
    for (int i = 0; i < rank; i++) {
      Onnx__TensorShapeProto__Dimension* d = dycl_arena_alloc(&A, sizeof *d);
      onnx__tensor_shape_proto__dimension__init(d);
      if (dims && dims[i] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      } else {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = dycl_arena_strdup(&A, "N");
      }
      sh->dim[i] = d;
    }
    tt->shape = sh;
  }
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  v->type = t;
  return v;
}

static Onnx__GraphProto* graph(const char* name, int nn, Onnx__NodeProto** nodes, int nin, Onnx__ValueInfoProto** in,
                               int nout, Onnx__ValueInfoProto** out) {
  Onnx__GraphProto* g = dycl_arena_alloc(&A, sizeof *g);
  onnx__graph_proto__init(g);
  g->name = dycl_arena_strdup(&A, name);
  g->n_node = (size_t)nn;
  g->node = dycl_arena_calloc(&A, (size_t)nn + 1, sizeof *g->node);
  if (nn) memcpy(g->node, nodes, (size_t)nn * sizeof *nodes);
  g->n_input = (size_t)nin;
  g->input = dycl_arena_calloc(&A, (size_t)nin + 1, sizeof *g->input);
  if (nin) memcpy(g->input, in, (size_t)nin * sizeof *in);
  g->n_output = (size_t)nout;
  g->output = dycl_arena_calloc(&A, (size_t)nout + 1, sizeof *g->output);
  if (nout) memcpy(g->output, out, (size_t)nout * sizeof *out);
  return g;
}

/* Writes the model to a temporary file; returns its path (static buffer). */
static const char* save_model(Onnx__GraphProto* g, int opset) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/dycl_test_%d.onnx", (int)getpid());
  Onnx__ModelProto m;
  onnx__model_proto__init(&m);
  m.has_ir_version = 1;
  m.ir_version = 8;
  m.producer_name = "test_program";
  Onnx__OperatorSetIdProto op;
  onnx__operator_set_id_proto__init(&op);
  op.domain = "";
  op.has_version = 1;
  op.version = opset;
  Onnx__OperatorSetIdProto* ops[1] = {&op};
  m.n_opset_import = 1;
  m.opset_import = ops;
  m.graph = g;
  size_t n = onnx__model_proto__get_packed_size(&m);
  uint8_t* buf = malloc(n);
  onnx__model_proto__pack(&m, buf);
  FILE* f = fopen(path, "wb");
  fwrite(buf, 1, n, f);
  fclose(f);
  free(buf);
  return path;
}

#define S(...) ((const char* const[]){__VA_ARGS__})
#define N(...) ((Onnx__NodeProto*[]){__VA_ARGS__})
#define V(...) ((Onnx__ValueInfoProto*[]){__VA_ARGS__})

/* --------------------------------------------------------------- the tests */

/* x → a = x + x → b = Identity(a) → Loop n times { v' = v * v_in0; scan v' } → c = final + x */
static void test_partition_and_run(void) {
  const int64_t two[1] = {2};
  Onnx__GraphProto* body = graph(
      "body", 2,
      N(node("Mul", "mul", 2, S("v", "x"), 1, S("v2")), node("Identity", "keep_going", 1, S("cond_in"), 1, S("cond_out"))),
      3, V(vinfo("i", 7, 0, NULL), vinfo("cond_in", 9, 0, NULL), vinfo("v", 1, 1, two)), 3,
      V(vinfo("cond_out", 9, 0, NULL), vinfo("v2", 1, 1, two), vinfo("v2", 1, 1, two)));
  Onnx__NodeProto* loop = node("Loop", "loop", 3, S("n", "", "b"), 2, S("final", "scanned"));
  graph_attr(loop, "body", body);
  Onnx__GraphProto* g = graph("main", 4,
                              N(node("Add", "double", 2, S("x", "x"), 1, S("a")), node("Identity", "alias", 1, S("a"), 1, S("b")),
                                loop, node("Add", "after", 2, S("final", "x"), 1, S("c"))),
                              2, V(vinfo("x", 1, 1, two), vinfo("n", 7, 0, NULL)), 2, V(vinfo("c", 1, 1, two), vinfo("scanned", 1, -1, NULL)));
  const char* path = save_model(g, 17);
  dycl_model_t* m = NULL;
  CHECK_OK(dycl_model_load(path, NULL, &m));
  if (!m) return;
  const dycl_program_t* p = m->program;
  /* main: subnet(double) · loop{ subnet(mul) } · subnet(after); Identity removed */
  CHECK(p->n_subnets == 3);
  CHECK(p->main->n_steps == 3);
  CHECK(p->main->steps[0].kind == DYCL_STEP_CALL && p->main->steps[1].kind == DYCL_STEP_LOOP);
  const dycl_subnet_t* s0 = p->main->steps[0].subnet;
  CHECK(s0->n_nodes == 1 && s0->n_in == 1 && s0->n_out == 1);
  CHECK(strcmp(m->ir->values[s0->out[0]]->name, "a") == 0); /* b is an alias of a, bound by the host */
  CHECK(p->main->steps[1].node->in[2] == s0->out[0]);
  const dycl_block_t* bb = p->main->steps[1].body[0];
  CHECK(bb->n_steps == 1 && bb->steps[0].subnet->n_nodes == 1);
  /* x is used inside the body: an implicit input of the Loop */
  CHECK(p->main->steps[1].node->n_implicit == 1);
  /* the flows (dycl_program_flows): a goes into the loop as its carried value, read by the body's
   * sub-network (as v) and, as the loop's result, by the last one; the body's v2 is carried too
   * but also a scan output (a host use); c is a model output */
  const dycl_subnet_t* s1 = bb->steps[0].subnet;
  const dycl_subnet_t* s2 = p->main->steps[2].subnet;
  CHECK(s0->reach_start && s1->reach_start && s2->reach_start);
  if (s0->reach_start && s1->reach_start && s2->reach_start) {
    CHECK(!s0->host_use[0] && s0->reach_start[1] == 2);
    bool to_body = false, to_after = false;
    for (int r = 0; r < s0->reach_start[1]; r++) {
      to_body |= s0->reach_sub[r] == s1->id && strcmp(m->ir->values[s0->reach_val[r]]->name, "v") == 0;
      to_after |= s0->reach_sub[r] == s2->id && strcmp(m->ir->values[s0->reach_val[r]]->name, "final") == 0;
    }
    CHECK(to_body && to_after);
    CHECK(s1->n_out == 1 && s1->host_use[0] && s1->reach_start[1] == 2);
    CHECK(s2->n_out == 1 && s2->host_use[0] && s2->reach_start[1] == 0);
  }
  /* run: x = [1, 2], n = 3 → a = [2, 4]; final = a * x^3 = [2, 32]; c = final + x = [3, 34] */
  float xs[2] = {1, 2};
  int64_t nval = 3;
  dycl_value_t *x, *nv, *outs[2] = {0};
  CHECK_OK(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 1, two, xs, &x));
  CHECK_OK(dycl_value_create_tensor(NULL, DYCL_DTYPE_INT64, 0, NULL, &nval, &nv));
  dycl_session_t* sess;
  CHECK_OK(dycl_session_create(m, &sess));
  dycl_value_t* ins[2] = {x, nv};
  CHECK_OK(dycl_session_run(sess, ins, 2, outs, 2));
  if (outs[0] && outs[1]) {
    const float* c = dycl_value_data(outs[0]);
    CHECK(c[0] == 3 && c[1] == 34);
    CHECK(dycl_value_rank(outs[1]) == 2 && dycl_value_dims(outs[1])[0] == 3 && dycl_value_dims(outs[1])[1] == 2);
    const float* sc = dycl_value_data(outs[1]);
    CHECK(sc[0] == 2 && sc[1] == 8 && sc[4] == 2 && sc[5] == 32);
  }
  dycl_run_stats_t st;
  dycl_session_stats(sess, &st);
  CHECK(st.loop_iterations == 3 && st.subnet_calls == 5);
  dycl_value_release(outs[0]);
  dycl_value_release(outs[1]);
  /* a wrong input type is refused with a message naming the input */
  CHECK_ERR(dycl_session_run(sess, (dycl_value_t*[]){nv, nv}, 2, outs, 2), DYCL_CODE_INVALID_INPUT, "input 'x'");
  CHECK_ERR(dycl_session_run(sess, ins, 1, outs, 2), DYCL_CODE_INVALID_INPUT, "takes 2 inputs");
  dycl_session_destroy(sess);
  dycl_value_release(x);
  dycl_value_release(nv);
  dycl_model_destroy(m);
  unlink(path);
}

static void expect_load_error(Onnx__GraphProto* g, int opset, dycl_code_t code, const char* needle) {
  const char* path = save_model(g, opset);
  dycl_model_t* m = NULL;
  CHECK_ERR(dycl_model_load(path, NULL, &m), code, needle);
  dycl_model_destroy(m);
  unlink(path);
}

static void test_bad_models(void) {
  const int64_t two[1] = {2};
  /* a cycle */
  expect_load_error(graph("cyc", 2, N(node("Add", "A", 2, S("z", "x"), 1, S("y")), node("Add", "B", 2, S("y", "x"), 1, S("z"))),
                          1, V(vinfo("x", 1, 1, two)), 1, V(vinfo("y", 1, 1, two))),
                    17, DYCL_CODE_INVALID_MODEL, "cycle");
  /* an undefined value */
  expect_load_error(graph("undef", 1, N(node("Add", "A", 2, S("x", "nowhere"), 1, S("y"))), 1, V(vinfo("x", 1, 1, two)), 1,
                          V(vinfo("y", 1, 1, two))),
                    17, DYCL_CODE_INVALID_MODEL, "'nowhere' is not defined");
  /* an unknown op */
  expect_load_error(graph("unk", 1, N(node("Frobnicate", "F", 1, S("x"), 1, S("y"))), 1, V(vinfo("x", 1, 1, two)), 1,
                          V(vinfo("y", 1, 1, two))),
                    17, DYCL_CODE_UNSUPPORTED, "unknown operator 'Frobnicate'");
  /* a future opset */
  expect_load_error(graph("fut", 1, N(node("Identity", "I", 1, S("x"), 1, S("y"))), 1, V(vinfo("x", 1, 1, two)), 1,
                          V(vinfo("y", 1, 1, two))),
                    99, DYCL_CODE_UNSUPPORTED, "opset 99");
  /* arity */
  expect_load_error(graph("ar", 1, N(node("Identity", "I", 2, S("x", "x"), 1, S("y"))), 1, V(vinfo("x", 1, 1, two)), 1,
                          V(vinfo("y", 1, 1, two))),
                    17, DYCL_CODE_INVALID_MODEL, "has 2 inputs");
  /* a type error: float + int64 */
  expect_load_error(graph("ty", 1, N(node("Add", "A", 2, S("x", "k"), 1, S("y"))), 2, V(vinfo("x", 1, 1, two), vinfo("k", 7, 1, two)),
                          1, V(vinfo("y", 1, 1, two))),
                    17, DYCL_CODE_INVALID_MODEL, "different element types");
  /* If nested 200 deep: refused by the nesting limit */
  Onnx__GraphProto* inner = graph("leaf", 1, N(node("Identity", "I", 1, S("x"), 1, S("y0"))), 0, NULL, 1, V(vinfo("y0", 1, 1, two)));
  for (int d = 0; d < 200; d++) {
    char out[32];
    snprintf(out, sizeof out, "y%d", d + 1);
    Onnx__NodeProto* nif = node("If", "nested_if", 1, S("c"), 1, S(out));
    /* the else branch is a leaf of its own: sharing one graph would make the file 2^200 nodes */
    Onnx__GraphProto* leaf = graph("else", 1, N(node("Identity", "E", 1, S("x"), 1, S("e"))), 0, NULL, 1, V(vinfo("e", 1, 1, two)));
    graph_attr(nif, "then_branch", inner);
    graph_attr(nif, "else_branch", leaf);
    inner = graph("level", 1, N(nif), 0, NULL, 1, V(vinfo(out, 1, 1, two)));
  }
  inner->n_input = 2;
  inner->input = (Onnx__ValueInfoProto**)V(vinfo("x", 1, 1, two), vinfo("c", 9, 0, NULL));
  expect_load_error(inner, 17, DYCL_CODE_LIMIT, "nested more than 64 levels");
}

/* Initializers in every encoding: typed fields, raw_data and external data inside the model's folder. */
static Onnx__TensorProto* init_tensor(const char* name, int dtype, int64_t n) {
  Onnx__TensorProto* t = dycl_arena_alloc(&A, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = dycl_arena_strdup(&A, name);
  t->has_data_type = 1;
  t->data_type = dtype;
  t->n_dims = 1;
  t->dims = dycl_arena_alloc(&A, sizeof(int64_t));
  t->dims[0] = n;
  return t;
}

static void run_add(Onnx__TensorProto* w, int dtype, const double* expect) {
  const int64_t two[1] = {2};
  Onnx__GraphProto* g = graph("enc", 1, N(node("Add", "add", 2, S("x", "w"), 1, S("y"))), 1, V(vinfo("x", dtype, 1, two)), 1,
                              V(vinfo("y", dtype, 1, two)));
  g->n_initializer = 1;
  g->initializer = dycl_arena_alloc(&A, sizeof *g->initializer);
  g->initializer[0] = w;
  const char* path = save_model(g, 17);
  dycl_model_t* m = NULL;
  CHECK_OK(dycl_model_load(path, NULL, &m));
  unlink(path);
  if (!m) return;
  dycl_value_t *x, *y = NULL;
  CHECK_OK(dycl_tensor_new_zero(NULL, NULL, (dycl_dtype_t)dtype, 1, two, &x));
  dycl_session_t* sess;
  CHECK_OK(dycl_session_create(m, &sess));
  CHECK_OK(dycl_session_run(sess, &x, 1, &y, 1));
  if (y) {
    CHECK(dycl_tensor_get_f64(y, 0) == expect[0]);
    CHECK(dycl_tensor_get_f64(y, 1) == expect[1]);
  }
  dycl_value_release(y);
  dycl_value_release(x);
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
}

static void test_initializer_encodings(void) {
  const double e[2] = {1.5, -2};
  static float f[2] = {1.5f, -2};
  static double d[2] = {1.5, -2};
  static int32_t i32[2] = {1, -2};
  static int64_t i64[2] = {1, -2};
  static uint64_t u64[2] = {7, 9};
  Onnx__TensorProto* t = init_tensor("w", 1, 2);
  t->n_float_data = 2;
  t->float_data = f;
  run_add(t, 1, e);
  t = init_tensor("w", 11, 2);
  t->n_double_data = 2;
  t->double_data = d;
  run_add(t, 11, e);
  t = init_tensor("w", 3, 2); /* int8 in int32_data */
  t->n_int32_data = 2;
  t->int32_data = i32;
  run_add(t, 3, (const double[]){1, -2});
  t = init_tensor("w", 7, 2);
  t->n_int64_data = 2;
  t->int64_data = i64;
  run_add(t, 7, (const double[]){1, -2});
  t = init_tensor("w", 12, 2); /* uint32 in uint64_data */
  t->n_uint64_data = 2;
  t->uint64_data = u64;
  run_add(t, 12, (const double[]){7, 9});
  t = init_tensor("w", 1, 2);
  t->has_raw_data = 1;
  t->raw_data.data = (uint8_t*)f;
  t->raw_data.len = sizeof f;
  run_add(t, 1, e);
  /* external data in a file beside the model */
  char wpath[160], wname[64];
  snprintf(wname, sizeof wname, "dycl_test_w_%d.bin", (int)getpid());
  snprintf(wpath, sizeof wpath, "/tmp/%s", wname);
  FILE* wf = fopen(wpath, "wb");
  float pad = 0;
  fwrite(&pad, sizeof pad, 1, wf); /* offset 4 */
  fwrite(f, sizeof f, 1, wf);
  fclose(wf);
  t = init_tensor("w", 1, 2);
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  t->n_external_data = 2;
  t->external_data = dycl_arena_calloc(&A, 2, sizeof *t->external_data);
  const char* kv[2][2] = {{"location", wname}, {"offset", "4"}};
  for (int i = 0; i < 2; i++) {
    Onnx__StringStringEntryProto* en = dycl_arena_alloc(&A, sizeof *en);
    onnx__string_string_entry_proto__init(en);
    en->key = dycl_arena_strdup(&A, kv[i][0]);
    en->value = dycl_arena_strdup(&A, kv[i][1]);
    t->external_data[i] = en;
  }
  run_add(t, 1, e);
  unlink(wpath);
}

/* Shape arithmetic folds and an If whose condition it decides is replaced by the branch it takes
 * (PyTorch's squeeze(dim): If(Shape(x)[dim] == 1, Squeeze, Identity)). */
static void test_fold_static_if(void) {
  const int64_t dims[2] = {2, 1};
  static int64_t one[1] = {1};
  Onnx__GraphProto* then_b = graph("then", 1, N(node("Squeeze", "squeeze", 2, S("x", "k"), 1, S("sq"))), 0, NULL, 1,
                                   V(vinfo("sq", 1, 1, dims)));
  Onnx__GraphProto* else_b = graph("else", 1, N(node("Identity", "keep", 1, S("x"), 1, S("same"))), 0, NULL, 1,
                                   V(vinfo("same", 1, 2, dims)));
  Onnx__NodeProto* nif = node("If", "maybe_squeeze", 1, S("c"), 1, S("y"));
  graph_attr(nif, "then_branch", then_b);
  graph_attr(nif, "else_branch", else_b);
  Onnx__GraphProto* g = graph("main", 4,
                              N(node("Shape", "shape", 1, S("x"), 1, S("s")), node("Gather", "dim", 2, S("s", "k"), 1, S("d")),
                                node("Equal", "is_one", 2, S("d", "k"), 1, S("c")), nif),
                              1, V(vinfo("x", 1, 2, dims)), 1, V(vinfo("y", 1, -1, NULL)));
  Onnx__TensorProto* k = init_tensor("k", 7, 1);
  k->n_int64_data = 1;
  k->int64_data = one;
  g->n_initializer = 1;
  g->initializer = dycl_arena_alloc(&A, sizeof *g->initializer);
  g->initializer[0] = k;
  const char* path = save_model(g, 17);
  dycl_model_t* m = NULL;
  CHECK_OK(dycl_model_load(path, NULL, &m));
  unlink(path);
  if (!m) return;
  CHECK(m->program->main->n_steps == 1 && m->program->main->steps[0].kind == DYCL_STEP_CALL);
  CHECK(m->program->n_subnets == 1 && m->program->subnets[0]->n_nodes == 1); /* only the Squeeze is left */
  CHECK(m->ir->values[m->ir->main->out[0]]->type.rank == 1);
  float xs[2] = {3, 4};
  dycl_value_t *x, *y = NULL;
  CHECK_OK(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 2, dims, xs, &x));
  dycl_session_t* sess;
  CHECK_OK(dycl_session_create(m, &sess));
  CHECK_OK(dycl_session_run(sess, &x, 1, &y, 1));
  CHECK(y && dycl_value_rank(y) == 1 && dycl_value_dims(y)[0] == 2 && ((const float*)dycl_value_data(y))[1] == 4);
  dycl_value_release(y);
  dycl_value_release(x);
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
}

int main(void) {
  dycl_arena_init(&A, NULL);
  test_partition_and_run();
  test_bad_models();
  test_initializer_encodings();
  test_fold_static_if();
  dycl_arena_destroy(&A);
  return test_finish("test_program");
}
