#!/usr/bin/python3
"""The dynamic-network suite: generate ONNX models + test data from PyTorch, run them in dycl.

  suite.py list
  suite.py generate [--config small|full] [--models a,b] [--out build/suite] [--force]
  suite.py run --dycl build/dycl [--config small|full] [--models a,b] [--out build/suite]
               [--docs docs/suite.md | --no-docs] [-j N] [--timeout S]
  (generate and run also take -q/--quiet: no progress display; on a terminal, a status line on
  stderr shows how many models are generated / cases run, the time so far and the time left)

Models are discovered by listing models/suite/*.py that define NAME (common.py and suite.py are
helpers, not models). Each model module follows the interface of docs/suite.md:
NAME, TITLE, DYNAMIC, ORIGIN, COVERAGE, OPSET, INPUT_NAMES, OUTPUT_NAMES (last is "path"),
build(config), make_inputs(model, config, n), path_label(outputs), all_paths(config), and
optionally DYNAMIC_AXES ({input/output name: {axis: dim name}}, merged with the axes found to
vary across the generated cases).

`generate` writes, for each model, OUT/<config>/<name>/:
  model.onnx            torch.jit.script + torch.onnx.export at the model's OPSET, checked with
                        onnx.checker.check_model(full_check=True)
  traced.onnx           the same model exported by tracing (torch.jit.trace on case 0)
  test_data_set_<k>/    input_<i>.pb and the eager PyTorch outputs output_<j>.pb (backend-test
                        layout), at least 20 cases
  meta.json             path label per case, traced-vs-eager disagreement, times, sizes
  generate.log          what the exporter printed
  stamp                 hash of the model's source (+ the suite files it imports), suite.py,
                        the torch/onnx/numpy versions and the config: generation is skipped when
                        it matches
Each model is generated in a child process (one failing model does not stop the others).

`run` generates what is missing or stale, runs `dycl run` on every case, compares integer outputs
exactly and float outputs within 1e-4 absolute + 1e-3 relative, prints the results table, writes it
(and the model descriptions) into docs/suite.md between markers, and exits non-zero on any
inconsistent case, any generation failure, or a path of all_paths() that no case took.
Its last line is `suite: N passed, M failed` (cases).
"""

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed

from progress import Progress  # models/suite/progress.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HELPERS = {"suite", "common", "__init__"}
ATOL = 1e-4
RTOL = 1e-3
N_CASES = 20
CONFIGS = ("small", "full")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|"
                          r"runtime error:|AddressSanitizer:DEADLYSIGNAL")
DOCS_DEFAULT = os.path.join(ROOT, "docs", "suite.md")


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------
# Discovery and stamps
# --------------------------------------------------------------------------------------------

NAME_RE = re.compile(r"^NAME\s*(:\s*str\s*)?=\s*['\"]([A-Za-z0-9_]+)['\"]", re.M)
IMPORT_RE = re.compile(r"^\s*(?:from\s+\.?([A-Za-z_][A-Za-z0-9_]*)\s+import|import\s+([A-Za-z_][A-Za-z0-9_]*))", re.M)


def discover():
    """Names of the model files in models/suite (sorted), from the files' NAME assignments."""
    names = []
    for fn in sorted(os.listdir(HERE)):
        stem, ext = os.path.splitext(fn)
        if ext != ".py" or stem in HELPERS or stem.startswith("_"):
            continue
        with open(os.path.join(HERE, fn), encoding="utf-8") as f:
            m = NAME_RE.search(f.read())
        if m:
            names.append(stem)
    return names


def _local_deps(stem, seen=None):
    """The models/suite files stem.py imports (directly or not), including itself."""
    seen = set() if seen is None else seen
    if stem in seen:
        return seen
    p = os.path.join(HERE, stem + ".py")
    if not os.path.exists(p):
        return seen
    seen.add(stem)
    with open(p, encoding="utf-8") as f:
        text = f.read()
    for m in IMPORT_RE.finditer(text):
        dep = m.group(1) or m.group(2)
        if dep and os.path.exists(os.path.join(HERE, dep + ".py")):
            _local_deps(dep, seen)
    return seen


def stamp_of(name, config, framework=True):
    """The generation stamp; framework=False leaves out suite.py (used to decide whether an older
    result of the model still describes its current code, for the docs table)."""
    import numpy
    import onnx
    import torch
    h = hashlib.sha256()
    files = _local_deps(name) | {"common"}
    if framework:
        files.add("suite")
    for stem in sorted(files):
        p = os.path.join(HERE, stem + ".py")
        h.update(stem.encode() + b"\0")
        try:
            with open(p, "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(b"<missing>")
    for v in (torch.__version__, onnx.__version__, numpy.__version__, config, str(N_CASES)):
        h.update(str(v).encode() + b"\0")
    return h.hexdigest()


def import_model(name):
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    return importlib.import_module(name)


def model_dir(out, config, name):
    return os.path.join(out, config, name)


def is_current(out, config, name):
    d = model_dir(out, config, name)
    try:
        with open(os.path.join(d, "stamp")) as f:
            st = f.read().strip()
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return st == stamp_of(name, config) and meta.get("stamp") == st and not meta.get("error")


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

def compare(got, want):
    """(None or a reason, max abs error of float values or None)."""
    import numpy as np
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}", None
    if got.shape != want.shape:
        return f"shape {list(got.shape)}, expected {list(want.shape)}", None
    if want.dtype.kind in "fc":
        g, w = got.astype(np.float64), want.astype(np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(g - w)
            close = (diff <= ATOL + RTOL * np.abs(w)) | (np.isnan(g) & np.isnan(w)) | (g == w)
            err = float(np.nanmax(diff)) if g.size else 0.0
        close &= np.isnan(g) == np.isnan(w)
        if not close.all():
            bad = ~close
            i = np.unravel_index(np.argmax(bad), bad.shape)
            return (f"{int(bad.sum())} of {bad.size} values differ, max abs error {err:.3g}; "
                    f"first at {list(map(int, i))}: {g[i]!r} vs {w[i]!r}"), err
        return None, err
    if not np.array_equal(got, want):
        bad = got != want
        i = np.unravel_index(np.argmax(bad), bad.shape) if bad.shape else ()
        return (f"{int(np.sum(bad))} of {bad.size} values differ; first at {list(map(int, i))}: "
                f"{got[i]!r} vs {want[i]!r}"), None
    return None, None


# --------------------------------------------------------------------------------------------
# Generation (one model, in a child process)
# --------------------------------------------------------------------------------------------

def _as_tuple(x):
    import torch
    if isinstance(x, torch.Tensor):
        return (x,)
    return tuple(x)


def _save(arr, name, path):
    from onnx import numpy_helper
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def _varying_axes(names, shapes_per_case):
    """{name: {axis: 'name_axis'}} for the axes whose size differs between cases."""
    axes = {}
    for i, name in enumerate(names):
        shapes = [s[i] for s in shapes_per_case]
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            continue  # rank varies: nothing the exporter can declare
        for a in range(len(shapes[0])):
            if len({s[a] for s in shapes}) > 1:
                axes.setdefault(name, {})[a] = f"{name}_{a}"
    return axes


def generate_one(name, config, out, threads):
    """Generates OUT/<config>/<name>/ (see the module doc). Raises on failure."""
    import warnings
    import onnx
    import torch

    torch.set_num_threads(max(1, threads))
    t_start = time.monotonic()
    times = {}
    final_dir = model_dir(out, config, name)
    # written into a fresh folder that replaces the old one at the end (readers running at the
    # same time see the old or the new data, not a half-written folder)
    d = f"{final_dir}.tmp{os.getpid()}"
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    stamp = stamp_of(name, config)

    t = time.monotonic()
    mod = import_model(name)
    for attr in ("NAME", "TITLE", "DYNAMIC", "ORIGIN", "OPSET", "INPUT_NAMES", "OUTPUT_NAMES",
                 "COVERAGE", "build", "make_inputs", "path_label", "all_paths"):
        if not hasattr(mod, attr):
            raise RuntimeError(f"{name}.py does not define {attr}")
    if mod.NAME != name:
        raise RuntimeError(f"{name}.py: NAME is {mod.NAME!r}, expected {name!r}")
    in_names, out_names = list(mod.INPUT_NAMES), list(mod.OUTPUT_NAMES)
    if not out_names or out_names[-1] != "path":
        raise RuntimeError(f"{name}: the last output must be named 'path' (OUTPUT_NAMES={out_names})")
    times["import"] = time.monotonic() - t

    t = time.monotonic()
    torch.manual_seed(0)
    model = mod.build(config)
    model.eval()
    times["build"] = time.monotonic() - t

    t = time.monotonic()
    cases = [_as_tuple(c) for c in mod.make_inputs(model, config, N_CASES)]
    times["make_inputs"] = time.monotonic() - t
    if len(cases) < N_CASES:
        raise RuntimeError(f"{name}: make_inputs returned {len(cases)} cases, at least {N_CASES} needed")
    for k, c in enumerate(cases):
        if len(c) != len(in_names) or not all(isinstance(a, torch.Tensor) for a in c):
            raise RuntimeError(f"{name}: case {k} is not a tuple of {len(in_names)} tensors")

    t = time.monotonic()
    refs, labels = [], []
    with torch.no_grad():
        for k, c in enumerate(cases):
            o = _as_tuple(model(*c))
            if len(o) != len(out_names):
                raise RuntimeError(f"{name}: forward returns {len(o)} outputs, OUTPUT_NAMES has {len(out_names)}")
            if o[-1].dtype != torch.int64:
                raise RuntimeError(f"{name}: the path output is {o[-1].dtype}, expected int64")
            refs.append(o)
            labels.append(str(mod.path_label(o)))
    times["eager"] = time.monotonic() - t

    all_paths = mod.all_paths(config)
    missing = [p for p in (all_paths or []) if p not in labels]

    # scripted export
    t = time.monotonic()
    scripted = torch.jit.script(model)
    times["script"] = time.monotonic() - t
    script_mismatch = []
    with torch.no_grad():
        for k, c in enumerate(cases):
            try:
                o = _as_tuple(scripted(*c))
                bad = len(o) != len(refs[k]) or any(
                    compare(a.numpy(), b.numpy())[0] for a, b in zip(o, refs[k]))
            except Exception as e:  # noqa: BLE001
                bad = True
                print(f"scripted module failed on case {k}: {e}", file=sys.stderr)
            if bad:
                script_mismatch.append(k)
    dyn = _varying_axes(in_names, [[tuple(a.shape) for a in c] for c in cases])
    dyn.update(_varying_axes(out_names, [[tuple(a.shape) for a in o] for o in refs]))
    for k2, v in (getattr(mod, "DYNAMIC_AXES", None) or {}).items():
        dyn.setdefault(k2, {}).update({int(a): n for a, n in v.items()})
    t = time.monotonic()
    mpath = os.path.join(d, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(scripted, cases[0], mpath, opset_version=int(mod.OPSET),
                          input_names=in_names, output_names=out_names,
                          dynamic_axes=dyn or None)
    times["export"] = time.monotonic() - t
    t = time.monotonic()
    m = onnx.load(mpath)
    onnx.checker.check_model(m, full_check=True)
    times["check"] = time.monotonic() - t
    inits = {i.name for i in m.graph.initializer}
    gins = [i.name for i in m.graph.input if i.name not in inits]
    if gins != in_names:
        raise RuntimeError(f"{name}: exported graph inputs {gins}, expected {in_names}")
    gouts = [o.name for o in m.graph.output]
    if len(gouts) != len(out_names):
        raise RuntimeError(f"{name}: exported graph outputs {gouts}, expected {out_names}")
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)

    def count_ops(g, acc):
        for n in g.node:
            acc[n.op_type] = acc.get(n.op_type, 0) + 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    count_ops(a.g, acc)
                for sg in a.graphs:
                    count_ops(sg, acc)
        return acc
    ops = count_ops(m.graph, {})
    del m

    # test data
    t = time.monotonic()
    for k, (c, o) in enumerate(zip(cases, refs)):
        cd = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(cd)
        for i, (n, a) in enumerate(zip(gins, c)):
            _save(a.detach().numpy(), n, os.path.join(cd, f"input_{i}.pb"))
        for j, (n, a) in enumerate(zip(gouts, o)):
            _save(a.detach().numpy(), n, os.path.join(cd, f"output_{j}.pb"))
    times["write"] = time.monotonic() - t

    # traced export and traced-vs-eager disagreement
    traced_info = {"error": None, "disagree": None, "cases": len(cases), "disagree_cases": [],
                   "warnings": 0}
    t = time.monotonic()
    try:
        with warnings.catch_warnings(record=True) as wlist:
            warnings.simplefilter("always")
            with torch.no_grad():
                traced = torch.jit.trace(model, cases[0], check_trace=False)
        traced_info["warnings"] = sum(1 for w in wlist if "Tracer" in type(w.message).__name__
                                      or "Tracer" in str(w.category))
        times["trace"] = time.monotonic() - t
        dis = []
        with torch.no_grad():
            for k, c in enumerate(cases):
                try:
                    o = _as_tuple(traced(*c))
                    bad = len(o) != len(refs[k]) or any(
                        compare(a.numpy(), b.numpy())[0] for a, b in zip(o, refs[k]))
                except Exception:  # noqa: BLE001 - a traced model failing on an input disagrees
                    bad = True
                if bad:
                    dis.append(k)
        traced_info["disagree"] = len(dis)
        traced_info["disagree_cases"] = dis
        t = time.monotonic()
        try:
            with torch.no_grad():
                torch.onnx.export(traced, cases[0], os.path.join(d, "traced.onnx"),
                                  opset_version=int(mod.OPSET), input_names=in_names,
                                  output_names=out_names, dynamic_axes=dyn or None)
            times["trace_export"] = time.monotonic() - t
        except Exception as e:  # noqa: BLE001
            traced_info["export_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    except Exception as e:  # noqa: BLE001
        traced_info["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]

    n_params = sum(p.numel() for p in model.parameters())
    meta = {
        "name": name, "config": config, "stamp": stamp,
        "title": mod.TITLE, "dynamic": mod.DYNAMIC, "origin": mod.ORIGIN,
        "coverage": mod.COVERAGE, "opset": opset,
        "inputs": in_names, "outputs": out_names,
        "input_shapes": [[list(a.shape) for a in c] for c in cases],
        "dynamic_axes": {k2: {str(a): n for a, n in v.items()} for k2, v in dyn.items()},
        "cases": len(cases), "paths": labels,
        "all_paths": all_paths, "missing_paths": missing,
        "scripted_mismatch": script_mismatch,
        "traced": traced_info,
        "params": int(n_params),
        "onnx_bytes": os.path.getsize(mpath),
        "onnx_ops": ops,
        "times": {k2: round(v, 3) for k2, v in times.items()},
        "generate_seconds": round(time.monotonic() - t_start, 3),
        "error": None,
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(d, "stamp"), "w") as f:
        f.write(stamp + "\n")
    _replace_dir(d, final_dir)
    return meta


def _replace_dir(new, final):
    """Moves folder new to final, replacing what was there."""
    trash = f"{final}.old{os.getpid()}"
    if os.path.isdir(final):
        os.rename(final, trash)
    os.rename(new, final)
    shutil.rmtree(trash, ignore_errors=True)


def _child_generate(args):
    """`suite.py _generate-one`: generates one model; the exit status says whether it worked."""
    try:
        meta = generate_one(args.model, args.config, args.out, args.threads)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        final = model_dir(args.out, args.config, args.model)
        shutil.rmtree(f"{final}.tmp{os.getpid()}", ignore_errors=True)
        d = f"{final}.err{os.getpid()}"
        os.makedirs(d, exist_ok=True)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"name": args.model, "config": args.config,
                       "error": f"{type(e).__name__}: {first}"[:500]}, f, indent=1)
        _replace_dir(d, final)
        return 1
    print(f"generated {args.model} ({meta['cases']} cases) in {meta['generate_seconds']:.1f} s")
    return 0


def ensure_generated(names, config, out, jobs, force=False, timeout=3000, quiet=False):
    """Generates the models that are stale or missing, jobs at a time. Returns {name: meta}.
    quiet: no progress display and no per-model lines but failures."""
    todo = [n for n in names if force or not is_current(out, config, n)]
    cpus = os.cpu_count() or 2
    gen_times = {}
    if todo:
        par = max(1, min(jobs, len(todo)))
        threads = max(1, cpus // par)
        if not quiet:
            log(f"suite: generating {len(todo)} model(s) ({config}): {', '.join(todo)}")
        prog = Progress(f"suite: generating ({config})", total=len(todo), quiet=quiet).tick()

        def one(n):
            d = model_dir(out, config, n)
            os.makedirs(os.path.join(out, config), exist_ok=True)
            argv = [sys.executable, os.path.abspath(__file__), "_generate-one", "--model", n,
                    "--config", config, "--out", out, "--threads", str(threads)]
            t0 = time.monotonic()
            logp = os.path.join(out, config, f"{n}.generate.log")
            with open(logp, "w") as lf:
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=ROOT)
                try:
                    rc = p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    rc = None
                    shutil.rmtree(f"{d}.tmp{p.pid}", ignore_errors=True)
            secs = time.monotonic() - t0
            if os.path.isdir(d):
                shutil.copyfile(logp, os.path.join(d, "generate.log"))
            return n, rc, secs, logp

        with ThreadPoolExecutor(max_workers=par) as pool:
            for fut in as_completed([pool.submit(one, n) for n in todo]):
                n, rc, secs, logp = fut.result()
                gen_times[n] = secs
                prog.advance(detail=f"{n} done")
                if rc == 0:
                    if not quiet:
                        prog.note(f"  generated {n} in {secs:.1f} s")
                else:
                    with open(logp, encoding="utf-8", errors="replace") as f:
                        lines = [ln.rstrip() for ln in f if ln.strip()]
                    why = "timeout" if rc is None else (lines[-1] if lines else f"exit status {rc}")
                    prog.note(f"  FAILED to generate {n} ({secs:.1f} s): {why}")
                    if rc is None:
                        d = model_dir(out, config, n)
                        os.makedirs(d, exist_ok=True)
                        with open(os.path.join(d, "meta.json"), "w") as f:
                            json.dump({"name": n, "config": config,
                                       "error": f"generation timed out after {timeout} s"}, f)
        prog.close()
    metas = {}
    for n in names:
        try:
            with open(os.path.join(model_dir(out, config, n), "meta.json")) as f:
                metas[n] = json.load(f)
        except (OSError, ValueError):
            metas[n] = {"name": n, "config": config, "error": "meta.json missing"}
        metas[n]["_fresh"] = n in todo
    return metas


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------

def _load_tensor(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run_case(dycl, d, k, n_in, n_out, timeout, odir):
    """Runs case k of model folder d. Returns dict(ok, msg, secs, got, err)."""
    cd = os.path.join(d, f"test_data_set_{k}")
    shutil.rmtree(odir, ignore_errors=True)
    os.makedirs(odir)
    argv = [dycl, "run", os.path.join(d, "model.onnx")]
    argv += [os.path.join(cd, f"input_{i}.pb") for i in range(n_in)] + ["-o", odir]
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:  # e.g. the binary is being rebuilt
        return {"ok": False, "msg": f"cannot start dycl: {e}", "secs": 0.0, "got": None, "err": None}
    try:
        _, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.communicate()
        rc = None
    secs = time.monotonic() - t0
    res = {"ok": False, "msg": "", "secs": secs, "got": None, "err": None}
    if rc is None:
        res["msg"] = f"timeout after {timeout:g} s"
        return res
    err = err.decode("utf-8", "replace")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    m = SANITIZER_RE.search(err)
    if m:
        line = next((ln for ln in lines if SANITIZER_RE.search(ln)), m.group(0))
        res["msg"] = f"sanitizer report: {line.strip()[:300]}"
        return res
    if rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        res["msg"] = f"crash: killed by {sig}"
        return res
    if rc != 0:
        first = next((ln for ln in lines if ln.startswith("dycl:")), lines[0] if lines else "")
        res["msg"] = f"exit status {rc}: {first.strip()[:400]}"
        return res
    got = []
    for j in range(n_out):
        path = os.path.join(odir, f"output_{j}.pb")
        if not os.path.exists(path):
            res["msg"] = f"output_{j}.pb not written"
            return res
        try:
            got.append(_load_tensor(path))
        except Exception as e:  # noqa: BLE001
            res["msg"] = f"output_{j}.pb unreadable: {e}"
            return res
    res["got"] = got
    if os.path.exists(os.path.join(odir, f"output_{n_out}.pb")):
        res["msg"] = f"more than {n_out} outputs written"
        return res
    max_err = None
    for j in range(n_out):
        why, e = compare(got[j], _load_tensor(os.path.join(cd, f"output_{j}.pb")))
        if e is not None:
            max_err = e if max_err is None else max(max_err, e)
        if why:
            res["msg"] = f"output {j}: {why}"
            res["err"] = max_err
            return res
    res["ok"] = True
    res["err"] = max_err
    return res


def dycl_path_label(name, got):
    """The path label of dycl's outputs (via the model's path_label on torch tensors), or '?'."""
    try:
        import numpy as np
        import torch
        mod = import_model(name)
        return str(mod.path_label(tuple(torch.from_numpy(np.array(g)) for g in got)))
    except Exception:  # noqa: BLE001 - dycl's outputs may be malformed
        return "?"


def _pct(a, b):
    return "—" if not b else f"{100.0 * a / b:.0f}%"


def _fmt_err(e):
    return "—" if e is None else f"{e:.1e}"


def distribution(labels):
    counts = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1

    def key(s):  # natural sort: "exit 2" before "exit 10"
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
    return sorted(counts.items(), key=lambda kv: key(kv[0]))


def coverage_cell(meta):
    ap = meta.get("all_paths")
    labels = meta.get("paths", [])
    if ap:
        got = sum(1 for p in ap if p in labels)
        s = f"{got}/{len(ap)}: {meta.get('coverage', '')}"
    else:
        s = f"{meta.get('coverage', '')} ({len(set(labels))} distinct)"
    return s


def results_markdown(config, rows):
    """rows: list of dicts (per model) -> markdown table + path distributions."""
    lines = ["| model | what makes it dynamic | paths covered | cases | max error | consistent % | traced inconsistency % |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['name']} | generation failed: {r['error'].replace('|', '/')} | — | 0 | — | — | — |")
            continue
        lines.append("| {name} | {dyn} | {cov} | {cases} | {err} | {cons} | {tr} |".format(
            name=f"`{r['name']}` {r['title']}", dyn=r["dynamic"].replace("|", "/"),
            cov=r["coverage_cell"].replace("|", "/"), cases=r["cases"], err=_fmt_err(r["max_err"]),
            cons=_pct(r["passed"], r["cases"]), tr=r["traced_cell"]))
    lines.append("")
    lines.append(f"Path distribution over the generated cases ({config}):")
    lines.append("")
    for r in rows:
        if r.get("error"):
            continue
        dist = ", ".join(f"{lab} ×{c}" for lab, c in distribution(r["paths"]))
        lines.append(f"- `{r['name']}`: {dist}")
        if r.get("missing_paths"):
            lines.append(f"  - never taken: {', '.join(r['missing_paths'])}")
        if r.get("fail_msgs"):
            for msg in r["fail_msgs"][:3]:
                lines.append(f"  - dycl: {msg}")
    return "\n".join(lines)


def models_markdown(names):
    """Per-model description from TITLE / DYNAMIC / ORIGIN / COVERAGE / OPSET and the docstring."""
    lines = []
    for n in names:
        try:
            mod = import_model(n)
        except Exception as e:  # noqa: BLE001
            lines.append(f"### `{n}`\n\n(could not import: {type(e).__name__}: {e})\n")
            continue
        doc = (mod.__doc__ or "").strip()
        para = doc.split("\n\n")[0].replace("\n", " ").strip() if doc else ""
        lines.append(f"### `{n}` — {getattr(mod, 'TITLE', '?')}")
        lines.append("")
        if para:
            lines.append(para)
            lines.append("")
        lines.append(f"- **Design from:** {getattr(mod, 'ORIGIN', '?')}")
        lines.append(f"- **Dynamic:** {getattr(mod, 'DYNAMIC', '?')}")
        lines.append(f"- **Paths covered by the cases:** {getattr(mod, 'COVERAGE', '?')}")
        lines.append(f"- **ONNX opset:** {getattr(mod, 'OPSET', '?')}; inputs "
                     f"{', '.join('`%s`' % s for s in getattr(mod, 'INPUT_NAMES', []))}; outputs "
                     f"{', '.join('`%s`' % s for s in getattr(mod, 'OUTPUT_NAMES', []))}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _replace_between(text, tag, body):
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end)
        return text[:a] + block + text[b:]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def update_docs(path, config, table_md, models_md):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        text = "# The dynamic-network suite\n"
    new = _replace_between(text, "suite:models", models_md)
    new = _replace_between(new, f"suite:results:{config}", table_md)
    if new != text:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        return True
    return False


def cmd_run(args, names):
    dycl = os.path.abspath(args.dycl)
    if not (os.path.isfile(dycl) and os.access(dycl, os.X_OK)):
        log(f"suite: no dycl binary at {dycl} (build it first)")
        log("suite: 0 passed, 0 failed")
        return 2
    out = os.path.abspath(args.out)
    t0 = time.monotonic()
    metas = ensure_generated(names, args.config, out, args.jobs, args.force, quiet=args.quiet)
    t_gen = time.monotonic() - t0

    jobs = []  # (name, k)
    for n in names:
        m = metas[n]
        if not m.get("error"):
            jobs += [(n, k) for k in range(m["cases"])]
    t1 = time.monotonic()
    results = {}
    prog = Progress(f"suite: running dycl ({args.config})", total=len(jobs), quiet=args.quiet).tick()
    n_bad = [0]

    def case_done(fut):
        if fut.exception() is not None or not fut.result()["ok"]:
            n_bad[0] += 1
        prog.advance(detail=f"{n_bad[0]} failed" if n_bad[0] else "")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {}
        for n, k in jobs:
            m = metas[n]
            d = model_dir(out, args.config, n)
            odir = os.path.join(out, args.config, "out", n, str(k))
            futs[(n, k)] = pool.submit(run_case, dycl, d, k, len(m["inputs"]), len(m["outputs"]),
                                       args.timeout, odir)
            futs[(n, k)].add_done_callback(case_done)
        for key, f in futs.items():
            results[key] = f.result()
    prog.close()
    t_run = time.monotonic() - t1

    passed = failed = 0
    rows = []
    bad_models = []
    for n in names:
        m = metas[n]
        if m.get("error"):
            log(f"FAIL {n}: generation failed: {m['error']}")
            failed += N_CASES
            rows.append({"name": n, "error": m["error"]})
            bad_models.append(n)
            continue
        r = {"name": n, "title": m["title"], "dynamic": m["dynamic"], "cases": m["cases"],
             "paths": m["paths"], "missing_paths": m.get("missing_paths", []),
             "coverage_cell": coverage_cell(m), "passed": 0, "max_err": None, "fail_msgs": [],
             "secs": 0.0, "max_secs": 0.0}
        tr = m.get("traced", {})
        if tr.get("error"):
            r["traced_cell"] = "trace failed"
        else:
            r["traced_cell"] = _pct(tr.get("disagree", 0), tr.get("cases", 0))
        for k in range(m["cases"]):
            res = results[(n, k)]
            r["secs"] += res["secs"]
            r["max_secs"] = max(r["max_secs"], res["secs"])
            if res["err"] is not None:
                r["max_err"] = res["err"] if r["max_err"] is None else max(r["max_err"], res["err"])
            label = m["paths"][k]
            if res["ok"]:
                r["passed"] += 1
                passed += 1
                if args.verbose:
                    log(f"PASS {n}/{k} [{label}] ({res['secs'] * 1e3:.0f} ms)")
            else:
                failed += 1
                took = ""
                if res["got"] is not None:
                    p = dycl_path_label(n, res["got"])
                    if p != label:
                        took = f" (dycl took: {p})"
                msg = f"case {k} [{label}]: {res['msg']}{took}"
                r["fail_msgs"].append(msg)
                log(f"FAIL {n}/{k} [{label}]: {res['msg']}{took}")
        if r["missing_paths"]:
            log(f"FAIL {n}: path(s) never taken by the cases: {', '.join(r['missing_paths'])}")
            bad_models.append(n)
        if m.get("scripted_mismatch"):
            log(f"note {n}: the scripted module disagrees with eager PyTorch on case(s) "
                f"{m['scripted_mismatch']}")
        rows.append(r)

    for r in rows:  # remembered for the docs table of later runs over other models
        try:
            with open(os.path.join(model_dir(out, args.config, r["name"]), "result.json"), "w") as f:
                json.dump(dict(r, model_stamp=stamp_of(r["name"], args.config, framework=False)), f, indent=1)
        except OSError:
            pass
    table = results_markdown(args.config, rows)
    log("")
    log(table)
    log("")
    log(f"timings ({args.config}): generation {t_gen:.1f} s wall, dycl runs {t_run:.1f} s wall "
        f"(-j {args.jobs})")
    log("| model | generate s | cases | dycl total s | dycl mean ms | dycl max ms |")
    log("|---|---|---|---|---|---|")
    for r in rows:
        m = metas[r["name"]]
        g = m.get("generate_seconds")
        gs = "—" if g is None else f"{g:.1f}" + ("" if m.get("_fresh") else " (cached)")
        if r.get("error"):
            log(f"| {r['name']} | {gs} | 0 | — | — | — |")
        else:
            log(f"| {r['name']} | {gs} | {r['cases']} | {r['secs']:.2f} | "
                f"{1e3 * r['secs'] / max(1, r['cases']):.0f} | {1e3 * r['max_secs']:.0f} |")
    if not args.no_docs:
        # the docs table: this run's rows plus the current results of the models not run now
        all_names = discover()
        ran = {r["name"]: r for r in rows}
        doc_rows = []
        for n in all_names:
            if n in ran:
                doc_rows.append(ran[n])
                continue
            try:
                with open(os.path.join(model_dir(out, args.config, n), "result.json")) as f:
                    old = json.load(f)
                if old.get("model_stamp") and old["model_stamp"] == stamp_of(n, args.config, framework=False):
                    doc_rows.append(old)
            except (OSError, ValueError):
                pass
        table = results_markdown(args.config, doc_rows)
        try:
            if update_docs(os.path.abspath(args.docs), args.config, table, models_markdown(all_names)):
                log(f"suite: updated {os.path.relpath(os.path.abspath(args.docs), ROOT)}")
        except OSError as e:
            log(f"suite: note: could not write {args.docs}: {e}")
    if bad_models and not failed:
        log(f"suite: models with missing paths or failed generation: {', '.join(sorted(set(bad_models)))}")
    log(f"suite: {passed} passed, {failed} failed")
    return 1 if (failed or bad_models) else 0


def cmd_generate(args, names):
    out = os.path.abspath(args.out)
    t0 = time.monotonic()
    metas = ensure_generated(names, args.config, out, args.jobs, args.force, quiet=args.quiet)
    bad = 0
    for n in names:
        m = metas[n]
        if m.get("error"):
            log(f"{n}: ERROR {m['error']}")
            bad += 1
            continue
        tr = m["traced"]
        trs = "trace failed: " + tr["error"] if tr.get("error") else f"traced disagrees on {tr['disagree']}/{tr['cases']}"
        miss = f"; MISSING paths {m['missing_paths']}" if m.get("missing_paths") else ""
        log(f"{n}: {m['cases']} cases, paths {dict(distribution(m['paths']))}; {trs}; "
            f"generated in {m['generate_seconds']:.1f} s{miss}")
        if m.get("missing_paths"):
            bad += 1
    log(f"suite: generation took {time.monotonic() - t0:.1f} s")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="The dynamic-network suite (models/suite).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common_opts(p):
        p.add_argument("--config", choices=CONFIGS, default="small")
        p.add_argument("--models", default="", help="comma-separated model names (default: all)")
        p.add_argument("--out", default=os.path.join(ROOT, "build", "suite"))
        p.add_argument("--force", action="store_true", help="regenerate even when cached")
        p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
        p.add_argument("-q", "--quiet", action="store_true",
                       help="no progress display (shown only when stderr is a terminal anyway) and no "
                            "per-model generation lines; results, failures and timings are still printed")

    sub.add_parser("list", help="list the models")
    g = sub.add_parser("generate", help="export the models and write the test data")
    common_opts(g)
    r = sub.add_parser("run", help="generate what is missing, run dycl on every case, compare")
    common_opts(r)
    r.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    r.add_argument("--timeout", type=float, default=None, help="seconds per dycl run "
                   "(default 120 small, 900 full)")
    r.add_argument("--docs", default=DOCS_DEFAULT, help="markdown file to write the table into")
    r.add_argument("--no-docs", action="store_true", help="do not write the docs file")
    r.add_argument("-v", "--verbose", action="store_true", help="print every passing case")
    c = sub.add_parser("_generate-one")
    c.add_argument("--model", required=True)
    c.add_argument("--config", choices=CONFIGS, default="small")
    c.add_argument("--out", required=True)
    c.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    if args.cmd == "_generate-one":
        return _child_generate(args)
    try:
        for dep in ("numpy", "onnx", "torch"):
            importlib.import_module(dep)
    except ImportError as e:
        log(f"suite: {e} (run with Debian's /usr/bin/python3: PyTorch, onnx, numpy)")
        log("suite: 0 passed, 0 failed")
        return 2
    names = discover()
    if args.cmd == "list":
        for n in names:
            log(n)
        return 0
    if args.models:
        want = [s.strip() for s in args.models.split(",") if s.strip()]
        unknown = [w for w in want if w not in names]
        if unknown:
            log(f"suite: unknown model(s) {unknown}; known: {', '.join(names)}")
            log("suite: 0 passed, 0 failed")
            return 2
        names = want
    if args.cmd == "generate":
        return cmd_generate(args, names)
    if args.timeout is None:
        args.timeout = 120.0 if args.config == "small" else 900.0
    return cmd_run(args, names)


if __name__ == "__main__":
    sys.exit(main())
