#!/usr/bin/python3
"""`dycl compile` end to end: emitted C packages must build warning-free and compute exactly what
`dycl run` computes.

Usage: /usr/bin/python3 tests/compile/run_compile_tests.py [--dycl build/dycl]
           [--work build/compile-tests] [--filter REGEX] [-j N] [--no-clang] [--no-cache]
           [--golden-only] [--update] [-v]

Models: every If/Loop/Scan/SequenceMap ONNX backend node test (build/onnx-node-tests, generated when
missing), the dynamic PyTorch models (build/pytorch-tests, generated when missing and PyTorch is
installed) and the demo model models/demo/early_exit.onnx with its three inputs.

For each model:
  dycl compile MODEL -o WORK/pkg/NAME --name NAME
  make -C WORK/pkg/NAME WERROR=1                    (gcc: -Wall -Wextra -Werror)
then for each input set
  WORK/pkg/NAME/run INPUT... -o WORK/out/NAME/CASE/pkg
  dycl run --backend ref MODEL INPUT... -o WORK/out/NAME/CASE/ref
and the output files must be identical (bit for bit: the same kernels compiled from the same
sources), or both runs must fail with the same message. Then the package is rebuilt with clang
(-Werror too) and the runs are compared again (unless --no-clang).

Packages are built in parallel; objects are shared between packages through a compiler cache
(tests/compile/cc_cache.sh) since they hold the same runtime sources (--no-cache to measure real
build times). The golden test compares the generated early_exit.c of the demo model with
tests/compile/golden/early_exit.c (--update rewrites it).

One line per model, then the last line `compile: N passed, M failed` (one per input set and
compiler, plus the golden test). Exit status 1 when anything failed, 2 on a usage error.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_RE = re.compile(r"^test_(if|loop|scan|sequence_map)")
GOLDEN = os.path.join(HERE, "golden", "early_exit.c")


def sh(cmd, cwd=None, timeout=600, env=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        return p.returncode, out, time.monotonic() - t0
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s", time.monotonic() - t0


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------

def node_models(data_dir, flt, log):
    try:
        sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
        import gen_node_tests
        gen_node_tests.generate(data_dir, quiet=True)
    except Exception as e:  # noqa: BLE001 - reported, the other models still run
        log(f"note: cannot generate the ONNX node tests ({e}); using what {data_dir} holds")
    models = []
    for name in sorted(os.listdir(data_dir)) if os.path.isdir(data_dir) else []:
        if not NODE_RE.match(name) or (flt and not flt.search(name)):
            continue
        d = os.path.join(data_dir, name)
        cases = []
        for ds in sorted(os.listdir(d)):
            if not ds.startswith("test_data_set_"):
                continue
            ins = sorted((f for f in os.listdir(os.path.join(d, ds)) if f.startswith("input_")),
                         key=lambda f: int(re.sub(r"\D", "", f) or 0))
            cases.append((ds, [os.path.join(d, ds, f) for f in ins]))
        models.append({"name": name, "model": os.path.join(d, "model.onnx"), "cases": cases})
    return models


def pytorch_models(work, flt, log):
    try:
        sys.path.insert(0, os.path.join(ROOT, "tests", "pytorch"))
        import run_pytorch_tests
        entries = run_pytorch_tests.load_or_generate(work, False, log)
    except Exception as e:  # noqa: BLE001
        mp = os.path.join(work, "manifest.json")
        if not os.path.exists(mp):
            log(f"note: no PyTorch models ({e}); run tests/pytorch/run_pytorch_tests.py once")
            return []
        with open(mp) as f:
            entries = json.load(f)
    by_model = {}
    for e in entries:
        if e.get("kind") == "demo":  # the demo model is tested from models/demo
            continue
        if flt and not flt.search(e["model"]):
            continue
        m = by_model.setdefault(e["model"], {"name": e["model"], "model": os.path.join(work, e["model"], "model.onnx"),
                                             "cases": []})
        m["cases"].append((e["case"], [os.path.join(work, p) for p in e["inputs"]]))
    return [by_model[k] for k in sorted(by_model)]


def demo_model(flt):
    d = os.path.join(ROOT, "models", "demo")
    if flt and not flt.search("early_exit"):
        return []
    cases = [(c, [os.path.join(d, "inputs", c + ".pb")]) for c in ("easy", "medium", "hard")]
    return [{"name": "early_exit", "model": os.path.join(d, "early_exit.onnx"), "cases": cases}]


# ------------------------------------------------------------------------------------------------
# Comparing
# ------------------------------------------------------------------------------------------------

def _parse_any(path):
    """The value in a .pb file as (kind, list of numpy arrays) for a readable mismatch message."""
    import onnx
    from onnx import numpy_helper
    with open(path, "rb") as f:
        data = f.read()
    for cls, kind in ((onnx.TensorProto, "tensor"), (onnx.SequenceProto, "sequence"), (onnx.OptionalProto, "optional")):
        try:
            m = cls()
            m.ParseFromString(data)
            if kind == "tensor":
                return kind, [numpy_helper.to_array(m)]
            if kind == "sequence":
                return kind, [numpy_helper.to_array(t) for t in m.tensor_values]
            return kind, [numpy_helper.to_array(m.tensor_value)] if m.HasField("tensor_value") else []
        except Exception:  # noqa: BLE001 - try the next message type
            continue
    return "?", []


def compare_dirs(got_dir, ref_dir):
    """None when both folders hold the same output files byte for byte, else a message."""
    ref = sorted(f for f in os.listdir(ref_dir) if f.startswith("output_"))
    got = sorted(f for f in os.listdir(got_dir) if f.startswith("output_"))
    if ref != got:
        return f"outputs differ: package wrote {got}, dycl run wrote {ref}"
    for f in ref:
        with open(os.path.join(got_dir, f), "rb") as a, open(os.path.join(ref_dir, f), "rb") as b:
            if a.read() == b.read():
                continue
        try:
            gk, gv = _parse_any(os.path.join(got_dir, f))
            rk, rv = _parse_any(os.path.join(ref_dir, f))
            detail = f"package: {gk} {[(v.dtype.name, v.shape) for v in gv]}, dycl run: {rk} {[(v.dtype.name, v.shape) for v in rv]}"
            if len(gv) == len(rv) and all(a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                                          for a, b in zip(gv, rv)):
                detail = "same values, different encoding"
        except Exception as e:  # noqa: BLE001
            detail = str(e)
        return f"{f} differs ({detail})"
    return None


def error_text(out, prefix):
    for line in out.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return out.strip().splitlines()[-1] if out.strip() else ""


# ------------------------------------------------------------------------------------------------
# One model
# ------------------------------------------------------------------------------------------------

def run_cases(args, m, pkg, label):
    """Runs every input set through the package and dycl; returns (passed, failures)."""
    passed, fails = 0, []
    for case, inputs in m["cases"]:
        base = os.path.join(args.work, "out", m["name"], case)
        got, ref = os.path.join(base, label), os.path.join(base, "ref")
        for d in (got, ref):
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(base, exist_ok=True)
        rc_r, out_r, _ = sh([args.dycl, "run", "--backend", "ref", m["model"], *inputs, "-o", ref], timeout=args.timeout)
        rc_g, out_g, _ = sh([os.path.join(pkg, "run"), *inputs, "-o", got], timeout=args.timeout)
        if rc_r != 0 or rc_g != 0:
            er, eg = error_text(out_r, "dycl: error:"), error_text(out_g, "run: error:")
            if rc_r != 0 and rc_g != 0 and er == eg:
                passed += 1  # both refuse the input the same way
            else:
                fails.append(f"{case} [{label}]: dycl run exit {rc_r} ({er or 'ok'}), package exit {rc_g} ({eg or 'ok'})")
            continue
        msg = compare_dirs(got, ref)
        if msg:
            fails.append(f"{case} [{label}]: {msg}")
        else:
            passed += 1
    return passed, fails


def test_model(args, m, cc_gcc, cc_clang):
    name = re.sub(r"\W", "_", m["name"])
    pkg = os.path.join(args.work, "pkg", name)
    shutil.rmtree(pkg, ignore_errors=True)
    n_cases = len(m["cases"])
    res = {"name": m["name"], "passed": 0, "failed": 0, "fails": [], "times": {}}
    rc, out, t = sh([args.dycl, "compile", m["model"], "-o", pkg, "--name", name])
    res["times"]["dycl compile"] = t
    if rc != 0:
        res["failed"] = n_cases * (2 if cc_clang else 1)
        res["fails"].append(f"dycl compile failed: {out.strip()}")
        return res
    compilers = [("gcc", cc_gcc)] + ([("clang", cc_clang)] if cc_clang else [])
    for label, cc in compilers:
        sh(["make", "-C", pkg, "clean"])
        rc, out, t = sh(["make", "-C", pkg, "WERROR=1", "CC=" + cc, "V=1"], timeout=900)
        res["times"]["make " + label] = t
        if rc != 0:
            res["failed"] += n_cases
            lines = [ln for ln in out.splitlines() if ": error:" in ln or ": warning:" in ln or ": note:" in ln][:8]
            res["fails"].append(f"make ({label}) failed:\n      " + "\n      ".join(lines or out.splitlines()[-8:]))
            continue
        p, f = run_cases(args, m, pkg, label)
        res["passed"] += p
        res["failed"] += len(f)
        res["fails"] += f
    return res


# ------------------------------------------------------------------------------------------------
# Golden file
# ------------------------------------------------------------------------------------------------

def normalize(text):
    return re.sub(r"(?m)^ \* Command: .*$", " * Command:  (normalized)", text)


def golden(args, log):
    pkg = os.path.join(args.work, "golden", "early_exit")
    shutil.rmtree(pkg, ignore_errors=True)
    model = os.path.relpath(os.path.join(ROOT, "models", "demo", "early_exit.onnx"), ROOT)
    rc, out, _ = sh([args.dycl, "compile", model, "-o", pkg, "--name", "early_exit", "--quiet"], cwd=ROOT)
    if rc != 0:
        return f"dycl compile failed: {out.strip()}"
    with open(os.path.join(pkg, "early_exit.c")) as f:
        got = normalize(f.read())
    if args.update:
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        with open(GOLDEN, "w") as f:
            f.write(got)
        log(f"updated {os.path.relpath(GOLDEN, ROOT)}")
        return None
    try:
        with open(GOLDEN) as f:
            want = normalize(f.read())
    except OSError:
        return f"{os.path.relpath(GOLDEN, ROOT)} is missing (run with --update)"
    if got == want:
        return None
    import difflib
    diff = list(difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "generated", lineterm="", n=1))
    return "generated early_exit.c differs from the golden file (--update after review):\n      " + \
        "\n      ".join(diff[:40]) + ("\n      ..." if len(diff) > 40 else "")


# ------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="Compile models to C packages and compare them with dycl run.")
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "compile-tests"))
    ap.add_argument("--node-tests", default=os.path.join(ROOT, "build", "onnx-node-tests"))
    ap.add_argument("--pytorch-tests", default=os.path.join(ROOT, "build", "pytorch-tests"))
    ap.add_argument("--filter", default="", help="regex on model names")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    ap.add_argument("--no-clang", action="store_true", help="skip the clang build")
    ap.add_argument("--no-cache", action="store_true", help="compile every package from scratch")
    ap.add_argument("--golden-only", action="store_true")
    ap.add_argument("--update", action="store_true", help="rewrite the golden file")
    ap.add_argument("-v", action="store_true", help="print build times and every failure in full")
    args = ap.parse_args()
    args.dycl = os.path.abspath(args.dycl)
    args.work = os.path.abspath(args.work)
    if not os.access(args.dycl, os.X_OK):
        print(f"run_compile_tests: no dycl binary at {args.dycl}", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    t_start = time.monotonic()
    passed = failed = 0
    g = golden(args, log)
    if g:
        failed += 1
        log(f"FAIL golden early_exit.c: {g}")
    else:
        passed += 1
        log("ok   golden early_exit.c")
    if args.golden_only:
        log(f"compile: {passed} passed, {failed} failed")
        return 1 if failed else 0

    flt = re.compile(args.filter) if args.filter else None
    models = node_models(args.node_tests, flt, log) + pytorch_models(args.pytorch_tests, flt, log) + demo_model(flt)
    cache = os.path.join(args.work, "cc-cache")
    wrapper = os.path.join(HERE, "cc_cache.sh")
    cc_gcc = "gcc" if args.no_cache else f"{wrapper} {cache} gcc"
    cc_clang = None
    if not args.no_clang and shutil.which("clang"):
        cc_clang = "clang" if args.no_cache else f"{wrapper} {cache} clang"
    elif not args.no_clang:
        log("note: clang not found, the packages are built with gcc only")

    with ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
        for r in ex.map(lambda m: test_model(args, m, cc_gcc, cc_clang), models):
            passed += r["passed"]
            failed += r["failed"]
            times = ", ".join(f"{k} {v:.2f} s" for k, v in r["times"].items())
            status = "ok  " if not r["failed"] else "FAIL"
            log(f"{status} {r['name']}: {r['passed']} passed, {r['failed']} failed" + (f"  ({times})" if args.v else ""))
            for f in r["fails"] if (args.v or r["failed"]) else []:
                log(f"     {f}")
    log(f"({len(models)} models in {time.monotonic() - t_start:.0f} s)")
    log(f"compile: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
