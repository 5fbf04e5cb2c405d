#!/usr/bin/python3
"""End-to-end tests: dynamic PyTorch models exported to ONNX must give PyTorch's outputs in dycl.

Usage: /usr/bin/python3 tests/pytorch/run_pytorch_tests.py [--dycl build/dycl]
           [--work build/pytorch-tests] [--filter REGEX] [--regen] [--backend NAME] [-j N]
           [--timeout S] [-v]

The models are defined in models.py (next to this script): PyTorch modules with data-dependent
control flow, exported with torch.jit.script + torch.onnx.export at the opsets they list, and
hand-written ONNX Scan/Loop models with numpy references. The demo model of models/demo/ is
checked too (its committed .onnx and inputs against its PyTorch definition).

Generation (cached): the exported models, their input sets (TensorProto .pb files, several per
model, each taking a different path through the model) and the reference outputs (eager PyTorch,
or numpy) are written under WORK/<model>/<case>/; WORK/stamp holds a hash of models.py, this
script, the demo's exporter and files, and the torch/onnx versions, and everything is regenerated
when it changes (or with --regen).

Each case runs
    DYCL run WORK/<model>/model.onnx WORK/<model>/<case>/in_0.pb ... -o WORK/out/<model>/<case>
(plus `--backend NAME` when given)
and compares every output_<j>.pb with the reference: same dtype and shape; floats within
1e-4 absolute + 1e-3 relative (NaN matches NaN), integers and booleans exactly. When the model
tells which path an input took (exit index, blocks run, trip count, decode length, route), the
line shows it, and on a mismatch the path dycl took as well.

One line per model/case, then the last line `pytorch: N passed, M failed`. Exit status 1 when any
case failed, 2 on a usage error (no dycl binary, bad option).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO_DIR = os.path.join(ROOT, "models", "demo")
ATOL = 1e-4
RTOL = 1e-3
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|"
                          r"runtime error:|AddressSanitizer:DEADLYSIGNAL")


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

def _stamp():
    h = hashlib.sha256()
    files = [os.path.join(HERE, "models.py"), os.path.abspath(__file__),
             os.path.join(DEMO_DIR, "export_demo.py"), os.path.join(DEMO_DIR, "early_exit.onnx")]
    files += [os.path.join(DEMO_DIR, "inputs", f"{c}.pb") for c in ("easy", "medium", "hard")]
    for p in files:
        h.update(p.encode())
        try:
            with open(p, "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(b"<missing>")
    import onnx
    try:
        import torch
        h.update(torch.__version__.encode())
    except ImportError:
        pass
    h.update(onnx.__version__.encode())
    return h.hexdigest()


def _save_tensor(arr, name, path):
    from onnx import numpy_helper
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def _graph_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def _write_case(work, mdir, case, input_names, inputs, output_names, refs, path, entries, extra):
    cdir = os.path.join(work, mdir, case)
    os.makedirs(cdir, exist_ok=True)
    ins, outs = [], []
    for i, (n, a) in enumerate(zip(input_names, inputs)):
        ins.append(f"{mdir}/{case}/in_{i}.pb")
        _save_tensor(a, n, os.path.join(work, ins[-1]))
    for j, (n, a) in enumerate(zip(output_names, refs)):
        outs.append(f"{mdir}/{case}/ref_{j}.pb")
        _save_tensor(a, n, os.path.join(work, outs[-1]))
    e = {"model": mdir, "case": case, "inputs": ins, "refs": outs, "path": path}
    e.update(extra)
    entries.append(e)


def generate(work, log):
    """(Re)writes the models, inputs and references under work; returns the manifest."""
    import numpy as np
    import onnx
    import torch
    sys.path.insert(0, HERE)
    import models as M

    torch.set_num_threads(1)
    for name in os.listdir(work) if os.path.isdir(work) else []:
        p = os.path.join(work, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(work, exist_ok=True)
    entries = []

    for spec in M.TORCH_MODELS:
        module = spec.build()
        cases = spec.cases(module)
        scripted = torch.jit.script(module)
        example = tuple(torch.from_numpy(a) for a in spec.example_inputs())
        for opset in spec.opsets:
            mdir = f"{spec.name}_op{opset}"
            os.makedirs(os.path.join(work, mdir), exist_ok=True)
            mpath = os.path.join(work, mdir, "model.onnx")
            torch.onnx.export(scripted, example, mpath, opset_version=opset,
                              input_names=list(spec.input_names),
                              output_names=list(spec.output_names),
                              dynamic_axes=spec.dynamic_axes or None)
            model = onnx.load(mpath)
            onnx.checker.check_model(model)
            gins = _graph_inputs(model)
            if gins != list(spec.input_names):
                raise RuntimeError(f"{mdir}: exported graph inputs {gins}, expected {list(spec.input_names)}")
            outs = [o.name for o in model.graph.output]
            for case, inputs in cases:
                refs = M._run(module, inputs)
                if len(refs) != len(outs):
                    raise RuntimeError(f"{mdir}: {len(outs)} graph outputs, PyTorch returns {len(refs)}")
                _write_case(work, mdir, case, gins, inputs, outs, refs, spec.path(refs), entries,
                            {"kind": "torch", "spec": spec.name, "opset": opset})
            log(f"exported {mdir}: {len(cases)} cases")

    for spec in M.ONNX_MODELS:
        mdir = f"{spec.name}_op{spec.opset}"
        os.makedirs(os.path.join(work, mdir), exist_ok=True)
        model = spec.build()
        onnx.save(model, os.path.join(work, mdir, "model.onnx"))
        gins = _graph_inputs(model)
        outs = [o.name for o in model.graph.output]
        cases = spec.cases()
        for case, inputs in cases:
            refs = [np.asarray(r) for r in spec.reference(inputs)]
            _write_case(work, mdir, case, gins, inputs, outs, refs, spec.path(inputs, refs), entries,
                        {"kind": "onnx", "spec": spec.name, "opset": spec.opset})
        log(f"wrote {mdir}: {len(cases)} cases")

    demo_onnx = os.path.join(DEMO_DIR, "early_exit.onnx")
    if os.path.exists(demo_onnx):
        sys.path.insert(0, DEMO_DIR)
        import export_demo as D
        from onnx import numpy_helper
        module = D.build_model()
        mdir = "demo_early_exit"
        os.makedirs(os.path.join(work, mdir), exist_ok=True)
        shutil.copyfile(demo_onnx, os.path.join(work, mdir, "model.onnx"))
        model = onnx.load(demo_onnx)
        gins, outs = _graph_inputs(model), [o.name for o in model.graph.output]
        for case in D.CASES:
            t = onnx.TensorProto()
            with open(os.path.join(DEMO_DIR, "inputs", case + ".pb"), "rb") as f:
                t.ParseFromString(f.read())
            x = np.array(numpy_helper.to_array(t))
            with torch.no_grad():
                logits, k = module(torch.from_numpy(x))
            refs = [logits.numpy(), k.numpy()]
            _write_case(work, mdir, case, gins, [x], outs, refs, f"exit {int(k)}", entries,
                        {"kind": "demo", "spec": "demo", "opset": D.OPSET})
        log(f"wrote {mdir}: {len(D.CASES)} cases (models/demo)")
    else:
        log("note: models/demo/early_exit.onnx missing, demo cases skipped")

    with open(os.path.join(work, "manifest.json"), "w") as f:
        json.dump(entries, f, indent=1)
    return entries


def load_or_generate(work, regen, log):
    stamp = _stamp()
    sp, mp = os.path.join(work, "stamp"), os.path.join(work, "manifest.json")
    if not regen and os.path.exists(sp) and os.path.exists(mp):
        with open(sp) as f:
            if f.read().strip() == stamp:
                with open(mp) as f2:
                    return json.load(f2)
    log(f"generating models and references in {work} ...")
    t0 = time.monotonic()
    entries = generate(work, log)
    with open(sp, "w") as f:
        f.write(stamp + "\n")
    log(f"generated {len(entries)} cases in {time.monotonic() - t0:.1f} s")
    return entries


# --------------------------------------------------------------------------------------------
# Running and comparing
# --------------------------------------------------------------------------------------------

def _load_tensor(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def compare(got, want):
    """None when got matches want, else a short reason."""
    import numpy as np
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    if got.shape != want.shape:
        return f"shape {list(got.shape)}, expected {list(want.shape)}"
    if want.dtype.kind in "fc":
        g, w = got.astype(np.float64), want.astype(np.float64)
        nan_ok = np.isnan(g) == np.isnan(w)
        with np.errstate(invalid="ignore"):
            close = (np.abs(g - w) <= ATOL + RTOL * np.abs(w)) | (np.isnan(g) & np.isnan(w)) | (g == w)
        bad = ~(close & nan_ok)
        if bad.any():
            i = np.unravel_index(np.argmax(bad), bad.shape)
            with np.errstate(invalid="ignore"):
                err = np.nanmax(np.abs(g - w)) if g.size else 0.0
            return (f"{int(bad.sum())} of {bad.size} values differ, max abs error {err:.3g}; "
                    f"first at {list(map(int, i))}: {g[i]!r} vs {w[i]!r}")
        return None
    if not np.array_equal(got, want):
        bad = got != want
        i = np.unravel_index(np.argmax(bad), bad.shape)
        return (f"{int(bad.sum())} of {bad.size} values differ; first at {list(map(int, i))}: "
                f"{got[i]!r} vs {want[i]!r}")
    return None


class Paths:
    """Computes the path dycl's outputs took (imports models.py only when needed)."""

    def __init__(self):
        self.specs = None

    def of(self, entry, outputs, inputs):
        try:
            if entry["kind"] == "demo":
                return f"exit {int(outputs[1])}"
            if self.specs is None:
                sys.path.insert(0, HERE)
                import models as M
                self.specs = {s.name: s for s in M.TORCH_MODELS + M.ONNX_MODELS}
            spec = self.specs[entry["spec"]]
            return spec.path(outputs) if entry["kind"] == "torch" else spec.path(inputs, outputs)
        except Exception:  # dycl's outputs may be malformed: the comparison reports that
            return "?"


def run_case(dycl, work, entry, timeout, backend=None):
    """Returns (ok, message, seconds)."""
    odir = os.path.join(work, "out", entry["model"], entry["case"])
    shutil.rmtree(odir, ignore_errors=True)
    os.makedirs(odir)
    argv = [dycl, "run", os.path.join(work, entry["model"], "model.onnx")]
    argv += [os.path.join(work, p) for p in entry["inputs"]] + ["-o", odir]
    if backend:
        argv += ["--backend", backend]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
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
    err = err.decode("utf-8", "replace") if rc is not None else ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if rc is None:
        return False, f"timeout after {timeout:g} s", secs, None
    m = SANITIZER_RE.search(err)
    if m:
        line = next((ln for ln in lines if SANITIZER_RE.search(ln)), m.group(0))
        return False, f"sanitizer report: {line.strip()[:300]}", secs, None
    if rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        return False, f"crash: killed by {sig}", secs, None
    if rc != 0:
        first = next((ln for ln in lines if ln.startswith("dycl:")), lines[0] if lines else "")
        return False, f"exit status {rc}: {first.strip()[:400]}", secs, None
    got = []
    for j in range(len(entry["refs"])):
        path = os.path.join(odir, f"output_{j}.pb")
        if not os.path.exists(path):
            return False, f"output_{j}.pb not written", secs, None
        try:
            got.append(_load_tensor(path))
        except Exception as e:  # noqa: BLE001 - any parse error is a failure of the case
            return False, f"output_{j}.pb unreadable: {e}", secs, None
    if os.path.exists(os.path.join(odir, f"output_{len(entry['refs'])}.pb")):
        return False, f"more than {len(entry['refs'])} outputs written", secs, got
    for j, ref in enumerate(entry["refs"]):
        why = compare(got[j], _load_tensor(os.path.join(work, ref)))
        if why:
            return False, f"output {j}: {why}", secs, got
    return True, "", secs, got


def main():
    ap = argparse.ArgumentParser(description="Run dynamic PyTorch models through dycl and compare "
                                             "with PyTorch.")
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "pytorch-tests"))
    ap.add_argument("--filter", default="", help="regex on model/case")
    ap.add_argument("--regen", action="store_true", help="regenerate models and references")
    ap.add_argument("--backend", default=None, help="passed to `dycl run --backend`")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per dycl run")
    ap.add_argument("-v", action="store_true", help="also print the dycl command of failures")
    args = ap.parse_args()

    dycl = os.path.abspath(args.dycl)
    if not (os.path.isfile(dycl) and os.access(dycl, os.X_OK)):
        print(f"run_pytorch_tests: no dycl binary at {dycl} (build it first)", file=sys.stderr)
        print("pytorch: 0 passed, 0 failed")
        return 2
    work = os.path.abspath(args.work)

    def log(msg):
        print(msg, flush=True)

    try:
        entries = load_or_generate(work, args.regen, log)
    except ImportError as e:
        print(f"run_pytorch_tests: {e} (run with Debian's /usr/bin/python3: PyTorch, onnx, numpy)",
              file=sys.stderr)
        print("pytorch: 0 passed, 0 failed")
        return 2
    flt = re.compile(args.filter) if args.filter else None
    entries = [e for e in entries if not flt or flt.search(f"{e['model']}/{e['case']}")]

    results = [None] * len(entries)
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        futs = [pool.submit(run_case, dycl, work, e, args.timeout, args.backend) for e in entries]
        for i, f in enumerate(futs):
            results[i] = f.result()

    paths = Paths()
    passed = failed = 0
    failures = []
    for e, (ok, msg, secs, got) in zip(entries, results):
        name = f"{e['model']}/{e['case']}"
        tag = f" [{e['path']}]" if e["path"] else ""
        if ok:
            passed += 1
            print(f"PASS {name}{tag} ({secs * 1e3:.0f} ms)")
            continue
        failed += 1
        took = ""
        if got is not None and e["path"]:
            inputs = [_load_tensor(os.path.join(work, p)) for p in e["inputs"]]
            p = paths.of(e, got, inputs)
            if p != e["path"]:
                took = f" (dycl took: {p})"
        print(f"FAIL {name}{tag}: {msg}{took}")
        failures.append(e)
        if args.v:
            cmd = [args.dycl, "run", os.path.join(work, e["model"], "model.onnx")]
            cmd += [os.path.join(work, p) for p in e["inputs"]]
            if args.backend:
                cmd += ["--backend", args.backend]
            print("     " + " ".join(cmd) + " -o OUT")
    print(f"pytorch: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
