"""dycl.load and the Model it returns: run, bench, inspect, split, compile."""

import collections
import ctypes
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from . import _lib
from . import _values
from . import errors


RunStats = collections.namedtuple("RunStats", [name for name, _ in _lib.RunStatsC._fields_])
RunStats.__doc__ = """What the host module did in one run (dycl_run_stats_t): subnet_calls, branches_taken
(If nodes evaluated), loop_iterations, and memory: peak_tensor_bytes (tensor bytes live at once),
arena_bytes and arena_lower_bound (the sub-networks' planned intermediates), and allocations (blocks
the run took from the allocator: 0 once the session has run on inputs at least as large)."""


class BenchResult:
    """Latency of `iters` timed runs (after `warmup` untimed ones), in microseconds.

    median_us, p10_us, p90_us are computed as `dycl bench` does; samples_us holds every timed run,
    sorted."""

    def __init__(self, samples_us, warmup, backend):
        s = sorted(samples_us)
        n = len(s)
        self.samples_us = s
        self.iters = n
        self.warmup = warmup
        self.backend = backend
        self.median_us = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
        self.p10_us = s[(n - 1) // 10]
        self.p90_us = s[(n - 1) * 9 // 10]

    def __repr__(self):
        return (f"BenchResult(median_us={self.median_us:.1f}, p10_us={self.p10_us:.1f}, "
                f"p90_us={self.p90_us:.1f}, iters={self.iters}, backend={self.backend!r})")

    def __str__(self):
        return f"median_us={self.median_us:.1f} p10_us={self.p10_us:.1f} p90_us={self.p90_us:.1f}"


class Inspection:
    """What dycl made of a model.

    text      -- the host tree and every sub-network, as `dycl inspect` prints it
    dot       -- the program as a Graphviz graph
    program   -- the structured form: the program.json that `dycl split` writes, as a dict (computed
                 on first use, by splitting into a temporary folder)
    host      -- program["host"]: the host tree (steps: call / if / loop / scan ...)
    subnets   -- program["subnets"]: per sub-network its index, name, op count, inputs and outputs
    """

    def __init__(self, model, text, dot):
        self._model = model
        self.text = text
        self.dot = dot
        self._program = None

    @property
    def program(self):
        if self._program is None:
            with tempfile.TemporaryDirectory(prefix="dycl-inspect-") as d:
                self._program = self._model.split(os.path.join(d, "split")).program
        return self._program

    @property
    def host(self):
        return self.program["host"]

    @property
    def subnets(self):
        return self.program["subnets"]

    def __str__(self):
        return self.text


class SplitResult:
    """What Model.split wrote: dir, program (program.json as a dict), subnet_files (paths, by index)."""

    def __init__(self, out_dir):
        self.dir = out_dir
        with open(os.path.join(out_dir, "program.json"), encoding="utf-8") as f:
            self.program = json.load(f)
        self.subnet_files = [os.path.join(out_dir, s["file"]) for s in self.program["subnets"]]

    def __repr__(self):
        return f"SplitResult(dir={self.dir!r}, subnets={len(self.subnet_files)})"


class Package:
    """What Model.compile wrote: dir, name, header (NAME.h), and after build=True, lib (libNAME.a)
    and runner (the `run` program taking the arguments of `dycl run`)."""

    def __init__(self, out_dir, name, built):
        self.dir = out_dir
        self.name = name
        self.header = os.path.join(out_dir, name + ".h")
        self.lib = os.path.join(out_dir, f"lib{name}.a") if built else None
        self.runner = os.path.join(out_dir, "run") if built else None

    def __repr__(self):
        return f"Package(dir={self.dir!r}, name={self.name!r}, built={self.lib is not None})"


def default_package_name(model_path):
    """The package name dycl compile uses by default: the model file's name without .onnx, as a C identifier."""
    base = os.path.basename(os.fsencode(model_path))
    if base.endswith(b".onnx") and len(base) > 5:
        base = base[:-5]
    name = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else "_" for b in base)
    if name[:1].isdigit():
        name = "m" + name
    return name[:63] or "m"


class _TrackingAllocator:
    """A dycl_allocator_t over malloc/free that counts what is live (Model.memory())."""

    def __init__(self):
        C = _lib.libc()
        self._malloc = C.malloc
        self._cfree = C.free
        self._lock = threading.Lock()
        self.live = {}
        self.live_bytes = 0
        self.peak_bytes = 0
        self.total_allocs = 0
        self._alloc_cb = _lib.ALLOC_FN(self._alloc)
        self._free_cb = _lib.FREE_FN(self._free)
        self.struct = _lib.Allocator(self._alloc_cb, self._free_cb, None)

    def _alloc(self, _ctx, size):
        p = self._malloc(size if size else 1)
        if p:
            with self._lock:
                self.live[p] = size
                self.live_bytes += size
                self.total_allocs += 1
                self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return p

    def _free(self, _ctx, ptr):
        if not ptr:
            return
        with self._lock:
            self.live_bytes -= self.live.pop(ptr, 0)
        self._cfree(ptr)


class Model:
    """A loaded dycl model. Create it with dycl.load(path, ...).

    A Model may be shared by threads: each thread runs in its own dycl session, created on its first
    run. Release it with close() (or a `with` block); it is also released when garbage-collected."""

    def __init__(self, path, backend=None, threads=0, max_tensor_bytes=0, max_nesting=0, max_iterations=0,
                 max_memory=0, deadline_seconds=0.0, track_memory=False):
        L = _lib.lib()
        self.path = os.fspath(path)
        self.backend = backend  # None: dycl's default ("cpu" when built with oneDNN, else "ref")
        self._handle = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions = []
        self._tracker = _TrackingAllocator() if track_memory else None
        buf = _lib.OptionsBuffer()
        L.dycl_options_init(ctypes.byref(buf.options))
        opts = buf.options
        self._backend_b = backend.encode() if backend else None  # kept alive with the options
        if backend:
            opts.backend = self._backend_b
        if self._tracker is not None:
            opts.allocator = ctypes.addressof(self._tracker.struct)
        if not isinstance(threads, int) or threads < 0:
            raise errors.InvalidInputError(f"threads must be a non-negative int, not {threads!r}")
        opts.threads = threads
        for name, v in (("max_tensor_bytes", max_tensor_bytes), ("max_nesting", max_nesting),
                        ("max_iterations", max_iterations), ("max_memory", max_memory)):
            if not isinstance(v, int) or v < 0:
                raise errors.InvalidInputError(f"{name} must be a non-negative int (0: dycl's default), not {v!r}")
            if v:
                setattr(opts, name, v)
        if not isinstance(deadline_seconds, (int, float)) or deadline_seconds < 0:
            raise errors.InvalidInputError(f"deadline_seconds must be a non-negative number (0: none), not {deadline_seconds!r}")
        if deadline_seconds:
            opts.deadline_seconds = float(deadline_seconds)
        handle = ctypes.c_void_p()
        _lib.check(L.dycl_model_load(os.fsencode(self.path), ctypes.byref(buf.options), ctypes.byref(handle)))
        self._handle = handle.value
        self._lib = L
        n_in, n_out = L.dycl_model_num_inputs(self._handle), L.dycl_model_num_outputs(self._handle)
        self.input_names = [L.dycl_model_input_name(self._handle, i).decode() for i in range(n_in)]
        self.output_names = [L.dycl_model_output_name(self._handle, j).decode() for j in range(n_out)]
        self._in_kinds = [L.dycl_model_input_kind(self._handle, i) for i in range(n_in)]
        self._out_kinds = [L.dycl_model_output_kind(self._handle, j) for j in range(n_out)]
        self.input_kinds = [_values.KIND_NAMES[k] for k in self._in_kinds]
        self.output_kinds = [_values.KIND_NAMES[k] for k in self._out_kinds]

    # ------------------------------------------------------------------ lifetime

    def close(self):
        """Releases the sessions and the model. Further calls raise dycl.Error."""
        with self._lock:
            if self._handle is None:
                return
            for s in self._sessions:
                self._lib.dycl_session_destroy(s)
            self._sessions = []
            self._lib.dycl_model_destroy(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()

    def __repr__(self):
        state = "closed" if self._handle is None else f"backend={self.backend!r}"
        return f"<dycl.Model {self.path!r} inputs={self.input_names} outputs={self.output_names} {state}>"

    def _model(self):
        if self._handle is None:
            raise errors.Error("the model is closed")
        return self._handle

    def _session(self):
        h = self._model()  # raises once closed: the sessions below are gone then
        s = getattr(self._local, "session", None)
        if s is None:
            out = ctypes.c_void_p()
            _lib.check(self._lib.dycl_session_create(h, ctypes.byref(out)))
            with self._lock:
                self._sessions.append(out.value)
            s = self._local.session = out.value
        return s

    def _allocator(self):
        return ctypes.addressof(self._tracker.struct) if self._tracker is not None else None

    # ------------------------------------------------------------------ running

    def _inputs(self, args, kwargs):
        n = len(self.input_names)
        if kwargs:
            unknown = [k for k in kwargs if k not in self.input_names]
            if unknown:
                raise errors.InvalidInputError(f"unknown input name(s) {unknown}; the model's inputs are {self.input_names}")
            merged = list(args) + [None] * (n - len(args))
            for k, v in kwargs.items():
                i = self.input_names.index(k)
                if i < len(args):
                    raise errors.InvalidInputError(f"input '{k}' given twice")
                merged[i] = v
            missing = [self.input_names[i] for i in range(len(args), n)
                       if self.input_names[i] not in kwargs and self._in_kinds[i] != _values.OPTIONAL]
            if missing:
                raise errors.InvalidInputError(f"missing input(s) {missing}")
            args = merged
        if len(args) != n:
            raise errors.InvalidInputError(f"the model takes {n} input(s) {self.input_names}, got {len(args)}")
        ptrs = []
        try:
            for i, a in enumerate(args):
                ptrs.append(_values.to_value(a, self._in_kinds[i], self._allocator(),
                                             f"input '{self.input_names[i]}'"))
        except BaseException:
            _values.release_all(ptrs)
            raise
        return ptrs

    def _run_ptrs(self, sess, in_arr, n_in, out_arr, n_out):
        _lib.check(self._lib.dycl_session_run(sess, in_arr, n_in, out_arr, n_out))

    def run(self, *inputs, **named):
        """Runs the model on NumPy arrays (in the order of input_names, or by name).

        Tensors are NumPy arrays (or anything np.asarray takes: torch tensors, scalars); a sequence
        input is a list of arrays; an optional input is None or an array (or a list, for an optional
        sequence). Returns the outputs as a list in the order of output_names: NumPy arrays, lists
        of arrays for sequences, None for empty optionals. Raises a dycl.Error subclass on failure."""
        sess = self._session()
        ptrs = self._inputs(inputs, named)
        n_in, n_out = len(ptrs), len(self.output_names)
        in_arr = (ctypes.c_void_p * max(n_in, 1))(*ptrs)
        out_arr = (ctypes.c_void_p * max(n_out, 1))()
        try:
            self._run_ptrs(sess, in_arr, n_in, out_arr, n_out)
            return [_values.from_value(out_arr[j]) for j in range(n_out)]
        finally:
            _values.release_all([out_arr[j] for j in range(n_out)])
            _values.release_all(ptrs)

    @property
    def last_stats(self):
        """RunStats of this thread's last run (zeros before the first one)."""
        buf = _lib.RunStatsBuffer()
        self._lib.dycl_session_stats(self._session(), ctypes.byref(buf.stats))
        return RunStats(*(getattr(buf.stats, name) for name in RunStats._fields))

    def bench(self, *inputs, iters=100, warmup=10):
        """Times `iters` runs on the same inputs after `warmup` untimed ones; returns a BenchResult.

        Only dycl_session_run is timed: the inputs are converted once, and the outputs released
        outside the timed region (as `dycl bench` does)."""
        if not isinstance(iters, int) or iters < 1:
            raise ValueError(f"iters must be a positive int, not {iters!r}")
        if not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup must be a non-negative int, not {warmup!r}")
        sess = self._session()
        ptrs = self._inputs(inputs, {})
        n_in, n_out = len(ptrs), len(self.output_names)
        in_arr = (ctypes.c_void_p * max(n_in, 1))(*ptrs)
        out_arr = (ctypes.c_void_p * max(n_out, 1))()
        run = self._lib.dycl_session_run
        clock = time.perf_counter_ns
        samples = []
        try:
            for i in range(warmup + iters):
                t0 = clock()
                st = run(sess, in_arr, n_in, out_arr, n_out)
                t1 = clock()
                _values.release_all([out_arr[j] for j in range(n_out)])
                for j in range(n_out):
                    out_arr[j] = None
                _lib.check(st)
                if i >= warmup:
                    samples.append((t1 - t0) / 1000.0)
        finally:
            _values.release_all(ptrs)
        return BenchResult(samples, warmup, self.backend)

    # ------------------------------------------------------------------ the program

    def inspect(self):
        """The host tree and sub-networks: an Inspection (text, dot, program/host/subnets)."""
        h = self._model()
        text, _ = _lib.capture(lambda f: self._lib.dycl_model_inspect(h, f))
        dot, status = _lib.capture(lambda f: self._lib.dycl_model_write_dot(h, f))
        _lib.check(status)
        return Inspection(self, text, dot)

    def split(self, out_dir):
        """Writes each sub-network as a static ONNX model OUT_DIR/subnet_<k>.onnx and OUT_DIR/program.json
        (as `dycl split`); returns a SplitResult."""
        out_dir = os.fspath(out_dir)
        _lib.check(self._lib.dycl_model_split(self._model(), os.fsencode(out_dir)))
        return SplitResult(out_dir)

    def compile(self, out_dir, name=None, backend=None, build=False, quiet=True):
        """Writes a self-contained C package into out_dir (as `dycl compile`); returns a Package.

        name: the package and symbol prefix (default: from the model file name). backend: the
        kernels of the package (default: the model's backend, as given to dycl.load; when that was
        None, dycl compile's default). build=True also runs `make -C out_dir`, which builds
        libNAME.a and the runner `run`; a failing make raises DyclIOError with make's output.
        quiet=False prints dycl's one-line summary on stderr."""
        out_dir = os.fspath(out_dir)
        name = name if name is not None else default_package_name(self.path)
        opts = _lib.CompileOptions()
        name_b = name.encode()
        backend = backend or self.backend
        backend_b = backend.encode() if backend else None
        cmd_b = f"dycl.Model.compile({self.path!r})".encode()
        opts.name, opts.backend, opts.command_line, opts.quiet = name_b, backend_b, cmd_b, 1 if quiet else 0
        _lib.check(self._lib.dycl_model_compile(self._model(), ctypes.byref(opts), os.fsencode(out_dir)))
        if build:
            make = shutil.which("make")
            if not make:
                raise errors.DyclIOError("build=True needs `make`, which is not on PATH")
            jobs = f"-j{os.cpu_count() or 1}"
            p = subprocess.run([make, "--no-print-directory", "-C", out_dir, jobs], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, check=False)
            if p.returncode != 0:
                tail = p.stdout.decode("utf-8", "replace")[-2000:]
                raise errors.DyclIOError(f"`make -C {out_dir}` failed (exit status {p.returncode}):\n{tail}")
        return Package(out_dir, name, build)

    # ------------------------------------------------------------------ memory

    def memory(self):
        """With track_memory=True: {'live_blocks', 'live_bytes', 'peak_bytes', 'allocations'} of what
        dycl allocated for this model (the model, its sessions, the values made for its runs)."""
        t = self._tracker
        if t is None:
            raise errors.Error("memory() needs dycl.load(..., track_memory=True)")
        with t._lock:
            return {"live_blocks": len(t.live), "live_bytes": t.live_bytes, "peak_bytes": t.peak_bytes,
                    "allocations": t.total_allocs}


def load(path, backend=None, threads=0, *, max_tensor_bytes=0, max_nesting=0, max_iterations=0, max_memory=0,
         deadline_seconds=0.0, track_memory=False):
    """Loads, verifies and partitions an ONNX model; returns a Model.

    backend: "ref" (portable C) or "cpu" (oneDNN); None: dycl's default ("cpu" when dycl was built
    with oneDNN, else "ref"). threads: threads for the backend (0: its default).
    Limits (0: dycl's default; exceeding one raises LimitError): max_tensor_bytes (one tensor),
    max_nesting (subgraph levels), max_iterations (of one loop), max_memory (tensor bytes live at
    once in a run), deadline_seconds (wall-clock time of one run).
    track_memory: count dycl's allocations for Model.memory() (slower; for tests).
    Raises a dycl.Error subclass (InvalidModelError, UnsupportedError, DyclIOError, ...) with
    dycl's message when the model cannot be loaded."""
    return Model(path, backend=backend, threads=threads, max_tensor_bytes=max_tensor_bytes,
                 max_nesting=max_nesting, max_iterations=max_iterations, max_memory=max_memory,
                 deadline_seconds=deadline_seconds, track_memory=track_memory)
