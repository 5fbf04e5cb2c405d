/* dycl_model_*: load → infer → partition → prepare, and the model's public accessors. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "exec/model.h"
#include "onnx/onnx_io.h"

void dycl_options_init(dycl_options_t* o) {
  memset(o, 0, sizeof *o);
  o->backend = dycl_backend_find("cpu") ? "cpu" : "ref"; /* cpu when built with oneDNN */
}

static double now_s(void) { return (double)dycl_mono_ns() * 1e-9; }

/* The default of options.max_memory: half of the machine's physical memory (no limit when the
 * system cannot tell). */
static uint64_t default_max_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;
  uint64_t total;
  if (__builtin_mul_overflow((uint64_t)pages, (uint64_t)page, &total)) return UINT64_MAX;
  return total / 2;
}

/* Options a caller can get wrong: negative limits, a deadline that is not a number. */
static dycl_status_t check_options(const dycl_options_t* o) {
  if (o->max_nesting < 0)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "options: max_nesting is %d, it must be 0 (default) or more", o->max_nesting);
  if (o->max_iterations < 0)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "options: max_iterations is %lld, it must be 0 (default) or more",
                      (long long)o->max_iterations);
  if (!(o->deadline_seconds >= 0) || isinf(o->deadline_seconds))
    return dycl_error(DYCL_CODE_INVALID_INPUT, "options: deadline_seconds is %g, it must be a finite number, 0 (none) or more",
                      o->deadline_seconds);
  return NULL;
}

dycl_status_t dycl_model_load(const char* path, const dycl_options_t* options, dycl_model_t** out) {
  return dycl_model_load_phases(path, options, out, NULL);
}

dycl_status_t dycl_model_load_phases(const char* path, const dycl_options_t* options, dycl_model_t** out,
                                     dycl_load_phases_t* phases) {
  *out = NULL;
  dycl_load_phases_t ph;
  memset(&ph, 0, sizeof ph);
  dycl_options_t opts;
  if (options) opts = *options;
  else dycl_options_init(&opts);
  DYCL_RETURN_IF_ERROR(check_options(&opts));
  if (!opts.max_memory) opts.max_memory = default_max_memory();
  const dycl_allocator_t* alloc = dycl_alloc_or_default(opts.allocator);
  const dycl_backend_t* be = dycl_backend_find(opts.backend);
  if (!be)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "unknown backend '%s' (available: ref%s)", opts.backend,
                      dycl_backend_find("cpu") ? ", cpu" : "; cpu was not built: libdnnl-dev was missing");
  dycl_model_t* m = dycl_calloc(alloc, 1, sizeof *m);
  if (!m) return dycl_error_nomem();
  m->alloc = alloc;
  m->options = opts;
  m->backend = be;
  double t0 = now_s();
  dycl_status_t s = dycl_onnx_load(path, &opts, &m->ir);
  double t1 = now_s();
  if (!s) s = dycl_optimize(m->ir, &ph.opt);
  double t2 = now_s();
  if (!s) s = dycl_partition(m->ir, &m->program);
  for (int i = 0; !s && i < m->program->n_subnets; i++) s = be->prepare(m->program, m->program->subnets[i], &m->options);
  m->opt = ph.opt;
  ph.load_s = t1 - t0;
  ph.optimize_s = t2 - t1;
  ph.partition_s = now_s() - t2;
  if (phases) *phases = ph;
  if (s) {
    dycl_model_destroy(m);
    return s;
  }
  *out = m;
  return NULL;
}

void dycl_model_destroy(dycl_model_t* m) {
  if (!m) return;
  if (m->program) {
    for (int i = 0; i < m->program->n_subnets; i++) m->backend->release(m->program->subnets[i]);
    dycl_program_destroy(m->program);
  }
  dycl_ir_destroy(m->ir);
  dycl_free(m->alloc, m);
}

int dycl_model_num_inputs(const dycl_model_t* m) { return m->ir->main->n_in; }
const char* dycl_model_input_name(const dycl_model_t* m, int i) {
  return i >= 0 && i < m->ir->main->n_in ? m->ir->values[m->ir->main->in[i]]->name : NULL;
}
dycl_value_kind_t dycl_model_input_kind(const dycl_model_t* m, int i) {
  if (i < 0 || i >= m->ir->main->n_in) return DYCL_VALUE_TENSOR;
  const dycl_type_t* t = &m->ir->values[m->ir->main->in[i]]->declared;
  return t->known ? t->kind : DYCL_VALUE_TENSOR;
}
int dycl_model_num_outputs(const dycl_model_t* m) { return m->ir->main->n_out; }
const char* dycl_model_output_name(const dycl_model_t* m, int i) {
  return i >= 0 && i < m->ir->main->n_out ? m->program->output_names[i] : NULL;
}
dycl_value_kind_t dycl_model_output_kind(const dycl_model_t* m, int i) {
  if (i < 0 || i >= m->ir->main->n_out) return DYCL_VALUE_TENSOR;
  const dycl_ir_value_t* v = m->ir->values[m->ir->main->out[i]];
  if (v->type.known) return v->type.kind;
  return v->declared.known ? v->declared.kind : DYCL_VALUE_TENSOR;
}

void dycl_model_inspect(const dycl_model_t* m, FILE* f) {
  dycl_program_print(m->program, f);
  const dycl_opt_stats_t* o = &m->opt;
  fprintf(f,
          "\noptimizations: %d nodes folded into constants, %d If nodes with a constant condition inlined, "
          "%d BatchNormalization folded into Conv/Gemm, %d Pad folded into Conv/AveragePool, %d Concat inputs "
          "flattened, %d loop concatenations made scan outputs, %d common subexpressions merged, %d dead nodes "
          "removed\n",
          o->folded, o->inlined, o->bn_folded, o->pad_folded, o->concat_flattened, o->loop_concats, o->cse_merged,
          o->dce_removed);
}
dycl_status_t dycl_model_write_dot(const dycl_model_t* m, FILE* f) { return dycl_program_write_dot(m->program, f); }
