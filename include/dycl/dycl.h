/*
 * dycl — a compiler for dynamic neural networks.
 *
 * Public C API.
 *
 * Ownership rules (they hold for every function below):
 *  - A function that returns an object through an out-parameter named `out` or `*_out` transfers
 *    ownership of that object to the caller, who releases it with the matching
 *    `*_destroy` / `dycl_value_release` / `dycl_status_free` call.
 *  - Objects passed as `const` or as plain inputs are borrowed for the duration of the call only;
 *    a function that keeps a value beyond the call takes its own reference (`dycl_value_retain`).
 *  - A `dycl_status_t` of NULL means success. Any other status is owned by the caller and must be
 *    freed with `dycl_status_free` (freeing NULL is a no-op).
 *  - Strings returned by accessors (names, messages) live as long as the object they come from.
 *
 * Threads: a dycl_model_t is immutable after loading and may be shared between threads. A
 * dycl_session_t is not thread-safe: use one session per thread. dycl keeps no global mutable
 * state.
 */
#ifndef DYCL_DYCL_H
#define DYCL_DYCL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DYCL_VERSION "0.1.0"
/* Highest version of the default ONNX operator set ("" / "ai.onnx") that dycl implements. */
#define DYCL_MAX_OPSET 17
/* Highest tensor rank dycl handles. */
#define DYCL_MAX_RANK 8

/* ---------------------------------------------------------------- status */

typedef enum dycl_code {
  DYCL_CODE_OK = 0,
  DYCL_CODE_INVALID_MODEL = 1, /* the model file is malformed or inconsistent */
  DYCL_CODE_INVALID_INPUT = 2, /* an input value has the wrong type/shape or cannot be read */
  DYCL_CODE_UNSUPPORTED = 3,   /* valid ONNX that dycl does not implement */
  DYCL_CODE_IO = 4,            /* a file could not be read or written */
  DYCL_CODE_NO_MEMORY = 5,     /* an allocation failed */
  DYCL_CODE_LIMIT = 6,         /* a configured limit (memory, depth, iterations) was exceeded */
  DYCL_CODE_RUNTIME = 7,       /* an operator failed on the values it got at run time */
  DYCL_CODE_INTERNAL = 8,      /* a bug in dycl */
} dycl_code_t;

typedef struct dycl_status* dycl_status_t;

dycl_code_t dycl_status_code(const struct dycl_status* status);
/* One line, without trailing newline. */
const char* dycl_status_message(const struct dycl_status* status);
void dycl_status_free(dycl_status_t status);
const char* dycl_code_name(dycl_code_t code);
/* A new status with a printf-style message (for callers that report their own errors). */
dycl_status_t dycl_status_create(dycl_code_t code, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------- allocator */

/* Every allocation dycl makes goes through an allocator. `alloc` returns NULL on failure, which
 * dycl reports as DYCL_CODE_NO_MEMORY (a load or run that fails this way leaves nothing allocated
 * behind). `free` accepts NULL. Pass NULL wherever an allocator is asked for to use malloc/free.
 * The one exception is dycl_status_t objects, made with malloc so that errors can be reported while
 * the allocator fails (when malloc fails too, a static "out of memory" status is returned); memory
 * oneDNN allocates inside the cpu backend (its engine, primitives, streams) is out of reach.
 * Values keep a pointer to the allocator that made them (a model's outputs: the allocator of its
 * dycl_options_t), so an allocator must outlive every value and model created through it. Sessions
 * running in parallel call it from their threads at once. */
typedef struct dycl_allocator {
  void* (*alloc)(void* ctx, size_t size);
  void (*free)(void* ctx, void* ptr);
  void* ctx;
} dycl_allocator_t;

/* ------------------------------------------------------------- data types */

/* Values match ONNX's TensorProto.DataType. */
typedef enum dycl_dtype {
  DYCL_DTYPE_UNDEFINED = 0,
  DYCL_DTYPE_FLOAT32 = 1,
  DYCL_DTYPE_UINT8 = 2,
  DYCL_DTYPE_INT8 = 3,
  DYCL_DTYPE_UINT16 = 4,
  DYCL_DTYPE_INT16 = 5,
  DYCL_DTYPE_INT32 = 6,
  DYCL_DTYPE_INT64 = 7,
  DYCL_DTYPE_STRING = 8,
  DYCL_DTYPE_BOOL = 9,
  DYCL_DTYPE_FLOAT16 = 10,
  DYCL_DTYPE_FLOAT64 = 11,
  DYCL_DTYPE_UINT32 = 12,
  DYCL_DTYPE_UINT64 = 13,
  DYCL_DTYPE_BFLOAT16 = 16,
} dycl_dtype_t;

const char* dycl_dtype_name(dycl_dtype_t dtype);
/* Bytes per element; 0 for UNDEFINED and STRING. */
size_t dycl_dtype_size(dycl_dtype_t dtype);

/* ----------------------------------------------------------------- values */

/* A run-time value: a tensor, a sequence of values, or an optional value. Values are
 * reference-counted and immutable once handed to dycl. */
typedef struct dycl_value dycl_value_t;

typedef enum dycl_value_kind {
  DYCL_VALUE_TENSOR = 0,
  DYCL_VALUE_SEQUENCE = 1,
  DYCL_VALUE_OPTIONAL = 2,
} dycl_value_kind_t;

/* Creates a tensor and copies `data` into it (data may be NULL: zero-filled). Strings are not
 * supported through this call. */
dycl_status_t dycl_value_create_tensor(const dycl_allocator_t* alloc, dycl_dtype_t dtype, int rank,
                                       const int64_t* dims, const void* data, dycl_value_t** out);
dycl_value_t* dycl_value_retain(dycl_value_t* value);
void dycl_value_release(dycl_value_t* value); /* NULL is a no-op */

dycl_value_kind_t dycl_value_kind(const dycl_value_t* value);
dycl_dtype_t dycl_value_dtype(const dycl_value_t* value); /* tensors; elem type of sequences */
int dycl_value_rank(const dycl_value_t* value);
const int64_t* dycl_value_dims(const dycl_value_t* value);
int64_t dycl_value_numel(const dycl_value_t* value);
const void* dycl_value_data(const dycl_value_t* value);
/* Sequences: number of items and the i-th item (borrowed). */
int dycl_value_seq_length(const dycl_value_t* value);
const dycl_value_t* dycl_value_seq_item(const dycl_value_t* value, int i);
/* Optionals: the contained value (borrowed) or NULL when empty. */
const dycl_value_t* dycl_value_optional_get(const dycl_value_t* value);

/* Reads a value from a file: an ONNX TensorProto/SequenceProto/OptionalProto `.pb` file
 * (which one is told by `kind`) or a NumPy `.npy` file (tensors only). */
dycl_status_t dycl_value_load_file(const dycl_allocator_t* alloc, const char* path,
                                   dycl_value_kind_t kind, dycl_value_t** out);
/* Writes a value as a TensorProto/SequenceProto/OptionalProto with the given name. */
dycl_status_t dycl_value_save_file(const dycl_value_t* value, const char* name, const char* path);
/* Prints kind, type, shape and up to `max_values` leading values on one line. */
void dycl_value_print(const dycl_value_t* value, FILE* f, int max_values);

/* ------------------------------------------------------------------ model */

typedef struct dycl_model dycl_model_t;

/* Options of a model and of the sessions made from it. Each limit, when exceeded, fails the load or
 * the run with DYCL_CODE_LIMIT and a one-line message naming the limit (and the node at fault);
 * a session that failed on a limit can run again. Negative limits are refused by dycl_model_load
 * (DYCL_CODE_INVALID_INPUT). */
typedef struct dycl_options {
  const dycl_allocator_t* allocator; /* NULL: malloc/free */
  const char* backend;               /* "cpu" (the default when dycl was built with oneDNN) or "ref" */
  int threads;                       /* 0: default */
  /* Bytes of one tensor (constant, input file or computed value). 0: 16 GiB. */
  uint64_t max_tensor_bytes;
  /* Levels of subgraphs inside subgraphs (the body of an If inside a Loop body is at level 2),
   * checked when loading. 0: 64. */
  int max_nesting;
  /* Iterations of one Loop, Scan or SequenceMap in a run. 0: 2^40. */
  int64_t max_iterations;
  /* Bytes of tensor data live at once in one dycl_session_run: every tensor the run creates counts
   * from its creation until it is freed (the caller's inputs and the model's constants do not
   * count; the outputs stop counting when the run returns them). Checked when a tensor or a
   * kernel's work buffer is created. 0: half of the machine's physical memory. */
  uint64_t max_memory;
  /* Wall-clock seconds one dycl_session_run may take, checked before each host step (sub-network
   * call, If, Loop, Scan) and each loop iteration; a sub-network call already started is not
   * interrupted. 0: no deadline. */
  double deadline_seconds;
} dycl_options_t;

/* Sets every field to its default (zero limits: the defaults above). */
void dycl_options_init(dycl_options_t* options);

/* Loads, verifies, infers types and shapes, and partitions an ONNX model. */
dycl_status_t dycl_model_load(const char* path, const dycl_options_t* options, dycl_model_t** out);
void dycl_model_destroy(dycl_model_t* model);

/* Graph inputs that the caller must provide (initializer-backed inputs are excluded). */
int dycl_model_num_inputs(const dycl_model_t* model);
const char* dycl_model_input_name(const dycl_model_t* model, int i);
dycl_value_kind_t dycl_model_input_kind(const dycl_model_t* model, int i);
int dycl_model_num_outputs(const dycl_model_t* model);
const char* dycl_model_output_name(const dycl_model_t* model, int i);
dycl_value_kind_t dycl_model_output_kind(const dycl_model_t* model, int i);

/* Writes the host tree and every sub-network (ops, inputs, outputs) as text. */
void dycl_model_inspect(const dycl_model_t* model, FILE* f);
/* Writes the program as a Graphviz graph. */
dycl_status_t dycl_model_write_dot(const dycl_model_t* model, FILE* f);

/* Writes each sub-network as a static ONNX model, DIR/subnet_<k>.onnx (no If/Loop/Scan; shapes fixed
 * where known), and DIR/program.json: the host tree and which values flow between sub-networks.
 * DIR is created when missing. */
dycl_status_t dycl_model_split(const dycl_model_t* model, const char* dir);

typedef struct dycl_compile_options {
  const char* name;    /* package and symbol prefix (default: from the model file name) */
  /* What runs the sub-networks: "cpu" (dycl's cpu backend, oneDNN; the default when dycl was built
   * with it) or "ref" (the reference kernels; the default otherwise). A package computes what the
   * same backend computes in dycl_session_run when `model` was loaded with that backend (a cpu
   * package: with the same number of threads, given to NAME_create_threads). */
  const char* backend;
  const char* command_line; /* recorded in the provenance header (may be NULL) */
  int quiet;           /* no progress on stderr */
} dycl_compile_options_t;

/* Emits a self-contained C package into DIR: NAME.h (API), NAME.c (host module), the sub-networks,
 * the weights, the kernels it needs (and for cpu the backend's sources), a Makefile building
 * libNAME.a and a runner `run`. libNAME.a's only global symbols are NAME.h's functions, so that
 * several packages link into one program; a cpu package's programs link libNAME.a -ldnnl -lgomp
 * -lpthread -lm, a ref package's libNAME.a -lm. */
dycl_status_t dycl_model_compile(const dycl_model_t* model, const dycl_compile_options_t* options,
                                 const char* dir);

/* ---------------------------------------------------------------- session */

/* The state of one execution of a model. Not thread-safe; create one per thread. */
typedef struct dycl_session dycl_session_t;

dycl_status_t dycl_session_create(const dycl_model_t* model, dycl_session_t** out);
void dycl_session_destroy(dycl_session_t* session);
/* Runs the model. `inputs` holds dycl_model_num_inputs values (borrowed). On success, `outputs`
 * (an array of dycl_model_num_outputs slots) receives new references the caller releases. */
dycl_status_t dycl_session_run(dycl_session_t* session, dycl_value_t* const* inputs, int num_inputs,
                               dycl_value_t** outputs, int num_outputs);

/* Per-run statistics of the host module, filled by dycl_session_run. */
typedef struct dycl_run_stats {
  int64_t subnet_calls;   /* sub-network invocations */
  int64_t branches_taken; /* If nodes evaluated */
  int64_t loop_iterations;
  /* memory: the most tensor bytes live at once during the run (what any plan must hold), the
   * session's arena for the sub-networks' planned intermediates, and the planner's lower bound
   * for it (the largest sum of planned values live at once) */
  uint64_t peak_tensor_bytes;
  uint64_t arena_bytes;
  uint64_t arena_lower_bound;
  /* blocks the run took from the model's allocator: a session keeps the memory its runs free and
   * hands it out again, so a run on inputs no larger than an earlier one's takes none */
  uint64_t allocations;
} dycl_run_stats_t;
void dycl_session_stats(const dycl_session_t* session, dycl_run_stats_t* stats);

/* Debugging hook: called by dycl_session_run after each sub-network call with the sub-network's index
 * k (the DIR/subnet_<k>.onnx of dycl_model_split) and the values it read and wrote, borrowed for the
 * call, in the order of that file's graph inputs and outputs. A status it returns stops the run and
 * is returned by dycl_session_run. A NULL callback removes the recorder. */
typedef dycl_status_t (*dycl_subnet_recorder_fn)(void* user, int subnet, const dycl_value_t* const* inputs,
                                                 int num_inputs, const dycl_value_t* const* outputs, int num_outputs);
void dycl_session_set_recorder(dycl_session_t* session, dycl_subnet_recorder_fn callback, void* user);

/* Profiling: where a session's runs spend their time, node by node. Off by default; while on, every
 * dycl_session_run adds to the session's counters (at a cost of two clock reads per step). */
typedef struct dycl_profile_entry {
  int subnet;       /* the sub-network (the DIR/subnet_<k>.onnx of dycl_model_split) */
  int node_index;   /* the node's position in that sub-network */
  const char* node; /* the ONNX node name, borrowed from the model */
  const char* op;   /* its op type, borrowed from the model */
  /* nodes of the sub-network whose work the backend ran within this node's steps (the cpu backend
   * runs a Conv with the BatchNormalization, Add and activation after it as one step, at the Conv,
   * and a chain of elementwise operations at its last node); they have no entry of their own */
  int fused;
  int64_t calls;  /* steps run at this node */
  double seconds; /* their total time */
} dycl_profile_entry_t;

typedef struct dycl_profile_totals {
  int64_t runs;          /* dycl_session_run calls since profiling was turned on */
  double run_seconds;    /* their total time */
  int64_t subnet_calls;  /* sub-network invocations */
  double subnet_seconds; /* time inside them; the rest of run_seconds is the host module's */
} dycl_profile_totals_t;

/* on != 0 turns profiling on and zeroes the counters; 0 turns it off (the counters stay readable). */
dycl_status_t dycl_session_set_profiling(dycl_session_t* session, int on);
/* Writes the entries of the nodes that ran a step, the most time first, into entries[0 .. capacity)
 * and returns how many there are (call with capacity 0 to size the array); fills *totals (may be
 * NULL). */
int dycl_session_profile(const dycl_session_t* session, dycl_profile_entry_t* entries, int capacity,
                         dycl_profile_totals_t* totals);

#ifdef __cplusplus
}
#endif
#endif /* DYCL_DYCL_H */
