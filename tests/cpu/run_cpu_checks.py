#!/usr/bin/python3
"""Correctness of the `cpu` backend: the same models through `dycl run --backend cpu`, compared
with expected outputs.

Usage: /usr/bin/python3 tests/cpu/run_cpu_checks.py [--dycl build/dycl]
           [--node-tests build/onnx-node-tests] [--pytorch-work build/pytorch-tests]
           [--suite build/suite/small] [--work build/cpu-tests] [--filter REGEX] [-j N]
           [--timeout S] [-v] [--skip node,gen,torch,pytorch,suite]

Five groups of cases:
  node     the ONNX backend node tests (generated on first use, as the conformance runner does)
           whose models contain an operator the cpu backend runs or fuses (Conv, ConvTranspose,
           Gemm, MatMul, the pools, Add and the fusable activations), one its fast kernels take
           (elementwise ops, BatchNormalization, softmax, layer norm, reductions, Concat, Transpose,
           reshapes; docs/cpu_fast.md) or control flow (If, Loop, Scan); expected: the test data's outputs. A test that the ref backend fails as well is
           reported as `xfail` and not counted (it is in the conformance expected failures).
  gen      the hand-written models of cpu_cases.py (fusions, attributes, dynamic shapes, the
           shapes the cpu backend leaves to the reference kernels, a Loop whose MatMul sees a new
           shape on every iteration); expected: the ref backend's outputs on the same inputs, or,
           where the ref backend rejects an input, the same error message.
  torch    the PyTorch networks of torch_cases.py (ResNet-ish, MobileNet-ish, MLP), exported with
           dynamic sizes; expected: eager PyTorch's outputs. Skipped when torch is missing.
  pytorch  the dynamic-model suite of tests/pytorch/run_pytorch_tests.py, run with
           `--backend cpu` (its own tolerance: 1e-4 absolute + 1e-3 relative).
  suite    the dynamic-network suite (models/suite: SDN, SkipNet, BlockDrop, RANet, captioning,
           MoE, ...) where `suite.py run` has generated it (not generated here); expected: eager
           PyTorch's outputs, with suite.py's tolerance (atol 1e-4); `xfail` when ref fails too.

Floats are compared with rtol 1e-3 and atol 1e-5 (NaN equals NaN), integers and booleans
exactly, dtypes and shapes must match. One line per failure (and per case with -v), then the
last line `cpu: N passed, M failed`. Exit status 0 when nothing failed, 1 otherwise, 2 on a usage
error, 77 (CTest's skip) when dycl was built without the cpu backend (no oneDNN).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONF = os.path.join(ROOT, "tests", "conformance")
PYTORCH_RUNNER = os.path.join(ROOT, "tests", "pytorch", "run_pytorch_tests.py")

RTOL = 1e-3
ATOL = 1e-5
SUITE_ATOL = 1e-4  # models/suite/suite.py's tolerance against eager PyTorch (deep networks)
SKIP = 77

CPU_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
           "GlobalMaxPool", "Add", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Elu", "HardSwish",
           "If", "Loop", "Scan",
           # the fast kernels' ops (src/backend/cpu/cpu_fast*.c)
           "Sub", "Mul", "Div", "Max", "Min", "Pow", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Reciprocal",
           "Floor", "Ceil", "HardSigmoid", "BatchNormalization", "Softmax", "LogSoftmax", "LayerNormalization",
           "ReduceSum", "ReduceMean", "Concat", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}


def log(msg):
    print(msg, flush=True)


class Outcome:
    __slots__ = ("group", "name", "ok", "xfail", "reason", "crash")

    def __init__(self, group, name, ok, reason="", xfail=False, crash=False):
        self.group, self.name, self.ok, self.reason, self.xfail, self.crash = group, name, ok, reason, xfail, crash


def write_wrapper(work, dycl):
    """A `dycl` that adds `--backend cpu`, for the conformance runner's run_case."""
    path = os.path.join(work, "dycl-cpu.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\ncmd=$1\nshift\nexec '%s' \"$cmd\" --backend cpu \"$@\"\n" % dycl.replace("'", "'\\''"))
    os.chmod(path, 0o755)
    return path


def cpu_available(dycl, work):
    """None when `--backend cpu` works, else the error text."""
    import onnx
    from onnx import helper, TensorProto, numpy_helper
    import numpy as np
    d = os.path.join(work, "probe")
    os.makedirs(d, exist_ok=True)
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(d, "m.onnx"))
    with open(os.path.join(d, "x.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.ones(2, np.float32), "x").SerializeToString())
    p = subprocess.run([dycl, "run", os.path.join(d, "m.onnx"), os.path.join(d, "x.pb"), "-o", d, "--backend", "cpu"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return None if p.returncode == 0 else (p.stderr.strip() or f"exit {p.returncode}")


# --------------------------------------------------------------------------------- node tests

def node_checks(args, rc, dycl, wrapper, libs):
    onnx, numpy_helper = libs
    sys.path.insert(0, CONF)
    import gen_node_tests
    data = os.path.abspath(args.node_tests)
    if not gen_node_tests.is_current(data) and (
            gen_node_tests.count_cases(data) == 0 or os.path.exists(os.path.join(data, ".stamp"))):
        log(f"run_cpu_checks: generating the node tests into {data}")
        gen_node_tests.generate(data, quiet=True)
    names = sorted(d for d in os.listdir(data) if os.path.isfile(os.path.join(data, d, "model.onnx")))
    selected = []
    for n in names:
        if args.filter and not re.search(args.filter, n):
            continue
        try:
            m = onnx.load(os.path.join(data, n, "model.onnx"), load_external_data=False)
        except Exception:
            continue
        if rc._all_op_types(m.graph, set()) & CPU_OPS:
            selected.append(n)
    cases = [rc.load_case(onnx, n, os.path.join(data, n)) for n in selected]
    tmproot = tempfile.mkdtemp(prefix="dycl-cpu-node.")

    def one(c):
        r = rc.run_case(c, wrapper, args.timeout, tmproot, libs)
        if r.ok:
            return Outcome("node", c.name, True)
        if r.crash:
            return Outcome("node", c.name, False, r.reason, crash=True)
        ref = rc.run_case(c, dycl, args.timeout, tmproot, libs, backend="ref")
        if not ref.ok:
            return Outcome("node", c.name, False, f"{r.reason} (ref fails too: {ref.reason})", xfail=True)
        return Outcome("node", c.name, False, r.reason)

    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            return list(ex.map(one, cases))
    finally:
        shutil.rmtree(tmproot, ignore_errors=True)


# ------------------------------------------------------------------------- dynamic-network suite

def suite_checks(args, rc, dycl, wrapper, libs):
    """The models of models/suite as generated by `suite.py run` (not generated here)."""
    onnx, _ = libs
    root = os.path.abspath(args.suite)
    if not os.path.isdir(root):
        log(f"run_cpu_checks: no suite data in {root} (models/suite/suite.py run generates it): skipped")
        return []
    names = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "model.onnx")))
    names = [n for n in names if not args.filter or re.search(args.filter, n)]
    cases = [rc.load_case(onnx, n, os.path.join(root, n)) for n in names]
    tmproot = tempfile.mkdtemp(prefix="dycl-cpu-suite.")
    saved = rc.ATOL
    rc.ATOL = SUITE_ATOL

    def one(c):
        r = rc.run_case(c, wrapper, args.timeout, tmproot, libs)
        if r.ok:
            return Outcome("suite", c.name, True)
        if r.crash:
            return Outcome("suite", c.name, False, r.reason, crash=True)
        ref = rc.run_case(c, dycl, args.timeout, tmproot, libs, backend="ref")
        if not ref.ok:
            return Outcome("suite", c.name, False, f"{r.reason} (ref fails too: {ref.reason})", xfail=True)
        return Outcome("suite", c.name, False, r.reason)

    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            return list(ex.map(one, cases))
    finally:
        rc.ATOL = saved
        shutil.rmtree(tmproot, ignore_errors=True)


# ------------------------------------------------------------------ generated and torch models

def save_pb(numpy_helper, arr, name, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def run_model(dycl, backend, model, inputs, outdir, n_out, timeout, rc, libs):
    """Runs dycl; returns (outputs, None) or (None, reason, crash)."""
    onnx, numpy_helper = libs
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    cmd = [dycl, "run", model] + inputs + ["-o", outdir, "--backend", backend]
    rcode, err = rc.run_dycl(cmd, timeout)
    if rcode is None:
        return None, f"{backend}: timeout after {timeout:g} s", False
    if rcode < 0 or rc.SANITIZER_RE.search(err):
        return None, f"{backend}: CRASH {rc._first_line(err)[:200]}", True
    if rcode != 0:
        return None, f"{backend}: exit {rcode}: {rc._first_line(err)[:300]}", False
    outs = []
    for j in range(n_out):
        p = os.path.join(outdir, f"output_{j}.pb")
        if not os.path.exists(p):
            return None, f"{backend}: no output_{j}.pb", False
        outs.append(rc.read_value(onnx, numpy_helper, p, "tensor"))
    return outs, None, False


def model_check(group, name, model, sets, refs, args, rc, dycl, libs, work):
    """Runs every input set with the cpu backend (and the ref backend when refs is None)."""
    onnx, numpy_helper = libs
    m = onnx.load(model, load_external_data=False)
    in_names = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    n_out = len(m.graph.output)
    for k, inputs in enumerate(sets):
        sdir = os.path.join(work, name, f"set_{k}")
        os.makedirs(sdir, exist_ok=True)
        paths = []
        for i, (nm, a) in enumerate(zip(in_names, inputs)):
            paths.append(os.path.join(sdir, f"input_{i}.pb"))
            save_pb(numpy_helper, a, nm, paths[-1])
        tag = f"[set {k}] "
        ref_error = None
        if refs is None:
            want, ref_error, crash = run_model(dycl, "ref", model, paths, os.path.join(sdir, "ref"), n_out, args.timeout,
                                               rc, libs)
            if crash:
                return Outcome(group, name, False, tag + ref_error, crash=True)
        else:
            want = refs[k]
        got, why, crash = run_model(dycl, "cpu", model, paths, os.path.join(sdir, "cpu"), n_out, args.timeout, rc, libs)
        if ref_error:  # a bad input: the cpu backend must report the same error
            if got is None and not crash and why.split(":", 1)[1] == ref_error.split(":", 1)[1]:
                continue
            return Outcome(group, name, False, tag + ("ref fails, cpu does not: " + ref_error if got is not None else
                                                      f"{why} (ref: {ref_error})"), crash=crash)
        if got is None:
            return Outcome(group, name, False, tag + why, crash=crash)
        for j in range(n_out):
            r = rc.compare(want[j], got[j], False, f"output {j} ({m.graph.output[j].name})")
            if r:
                return Outcome(group, name, False, tag + r)
    return Outcome(group, name, True)


def gen_checks(args, rc, dycl, libs):
    onnx, _ = libs
    sys.path.insert(0, HERE)
    import cpu_cases
    work = os.path.join(args.work, "gen")
    shutil.rmtree(work, ignore_errors=True)
    jobs = []
    for name, model, sets in cpu_cases.cases():
        if args.filter and not re.search(args.filter, name):
            continue
        os.makedirs(os.path.join(work, name), exist_ok=True)
        path = os.path.join(work, name, "model.onnx")
        onnx.save(model, path)
        jobs.append((name, path, sets))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        res = list(ex.map(lambda j: model_check("gen", j[0], j[1], j[2], None, args, rc, dycl, libs, work), jobs))
    names = {j[0] for j in jobs}
    if {"inplace_residual", "inplace_residual_reread"} <= names:
        res.append(inplace_arena_check(args, dycl, work))
    res += [argmax_fused_check(args, dycl, work, n, spec) for n, spec in ARGMAX_FUSED.items() if n in names]
    return res


def bench_once(dycl, model, inputs, timeout, extra=()):
    """One run of `dycl bench` on the cpu backend: (its stdout, None), or (None, an error message)."""
    try:
        p = subprocess.run([dycl, "bench", model] + list(inputs) +
                           ["--backend", "cpu", "--iters", "1", "--warmup", "0"] + list(extra),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"dycl bench: timeout after {timeout:g} s"
    if p.returncode != 0:
        return None, f"dycl bench: exit {p.returncode}: {(p.stderr.strip().splitlines() or [''])[0][:200]}"
    return p.stdout, None


def arena_bytes(dycl, model, inp, timeout):
    """The arena of `dycl bench` on the cpu backend (its memory: line), or an error message."""
    out, why = bench_once(dycl, model, [inp], timeout)
    if why:
        return None, why
    m = re.search(r"^memory: arena_bytes=(\d+)", out, re.M)
    if not m:
        return None, "dycl bench: no memory: line"
    return int(m.group(1)), None


def inplace_arena_check(args, dycl, work):
    """Residuals added in place cost no bytes of their own: inplace_residual's arena is at least one
    activation ([1, 32, 12, 12] floats) below its twin's, which rereads every operand after its block
    (cpu_cases.inplace_cases)."""
    got = {}
    for name in ("inplace_residual", "inplace_residual_reread"):
        d = os.path.join(work, name)
        got[name], why = arena_bytes(dycl, os.path.join(d, "model.onnx"), os.path.join(d, "set_0", "input_0.pb"),
                                     args.timeout)
        if why:
            return Outcome("gen", "inplace_arena", False, f"{name}: {why}")
    unit = 32 * 12 * 12 * 4
    a, b = got["inplace_residual"], got["inplace_residual_reread"]
    if a + unit > b:
        return Outcome("gen", "inplace_arena", False,
                       f"arena {a} bytes, not one activation ({unit}) below the rereading twin's {b}: no result made in place")
    return Outcome("gen", "inplace_arena", True)


# cpu_cases.argmax_cases whose ArgMax must run fused into its product: the profile's row of the
# product with the ArgMax fused in (and the Add before it, if any), the input sets where it runs
# fused, and those where it runs alone (argmax_gemm_any_rows: set 0 has 1 row, set 3 has 6;
# argmax_gemm_vocab's set 9 has a NaN: computed whole, still in the fused kernel)
ARGMAX_FUSED = {"argmax_gemm_vocab": ("Gemm (+1)", (0, 9), ()), "argmax_gemm_rows_last": ("Gemm (+1)", (0,), ()),
                "argmax_matmul_bias": ("MatMul (+2)", (0,), ()), "argmax_matmul_addend": ("MatMul (+2)", (0,), ()),
                "argmax_gemm_any_rows": ("Gemm (+1)", (0,), (3,))}


def argmax_fused_check(args, dycl, work, name, spec):
    """`dycl bench --profile` of the case shows the product's row spec[0] (its ArgMax fused in) on
    the sets spec[1] names, and not on those of spec[2]."""
    row, on, off = spec
    d = os.path.join(work, name)
    for k, fused in [(k, True) for k in on] + [(k, False) for k in off]:
        sdir = os.path.join(d, f"set_{k}")
        if not os.path.isdir(sdir):  # model_check stops at a case's first failing set
            return Outcome("gen", name + "_fused", False, f"set_{k}: not written (the case failed before it)")
        inputs = sorted(os.path.join(sdir, f) for f in os.listdir(sdir) if f.startswith("input_"))
        out, why = bench_once(dycl, os.path.join(d, "model.onnx"), inputs, args.timeout, ["--profile", "20"])
        if why:
            return Outcome("gen", name + "_fused", False, f"{os.path.basename(sdir)}: {why}")
        got = re.search(r"\b" + re.escape(row) + r"\s", out) is not None
        if got != fused:
            return Outcome("gen", name + "_fused", False,
                           f"{os.path.basename(sdir)}: the ArgMax runs {'fused' if got else 'alone'}, expected "
                           f"{'fused' if fused else 'alone'}")
    return Outcome("gen", name + "_fused", True)


def torch_checks(args, rc, dycl, libs):
    try:
        import torch  # noqa: F401
    except ImportError:
        log("run_cpu_checks: torch is not installed: the torch group is skipped")
        return []
    sys.path.insert(0, HERE)
    import torch_cases
    work = os.path.join(args.work, "torch")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    import io
    import contextlib
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cases = torch_cases.cases(work)
    out = []
    for name, path, sets, refs in cases:
        if args.filter and not re.search(args.filter, name):
            continue
        out.append(model_check("torch", name, path, sets, refs, args, rc, dycl, libs, work))
    return out


# --------------------------------------------------------------------------- pytorch suite

def pytorch_checks(args, dycl):
    cmd = [sys.executable, PYTORCH_RUNNER, "--dycl", dycl, "--work", os.path.abspath(args.pytorch_work),
           "--backend", "cpu", "-j", str(max(1, args.jobs))]
    if args.filter:
        cmd += ["--filter", args.filter]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = p.stdout.splitlines()
    m = re.fullmatch(r"pytorch: (\d+) passed, (\d+) failed", lines[-1].strip()) if lines else None
    if not m:
        return [Outcome("pytorch", "run_pytorch_tests.py", False,
                        f"exit {p.returncode}, no summary line: {(lines[-1] if lines else '')[:300]}")]
    out = []
    for line in lines:
        mm = re.match(r"(PASS|FAIL|CRASH)\S*\s+(\S+)\s*(.*)", line)
        if mm:
            ok = mm.group(1) == "PASS"
            out.append(Outcome("pytorch", mm.group(2), ok, "" if ok else mm.group(3)[:400], crash=mm.group(1) == "CRASH"))
    n_pass, n_fail = int(m.group(1)), int(m.group(2))
    if sum(o.ok for o in out) != n_pass or sum(not o.ok for o in out) != n_fail:  # lines in an unknown format
        out = [Outcome("pytorch", f"case {i}", True) for i in range(n_pass)]
        out += [Outcome("pytorch", f"failure {i}", False, "see run_pytorch_tests.py's output") for i in range(n_fail)]
        if n_fail:
            log(p.stdout)
    return out


# ------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Check the cpu backend against expected outputs.")
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--node-tests", default=os.path.join(ROOT, "build", "onnx-node-tests"))
    ap.add_argument("--pytorch-work", default=os.path.join(ROOT, "build", "pytorch-tests"))
    ap.add_argument("--suite", default=os.path.join(ROOT, "build", "suite", "small"),
                    help="the dynamic-network suite's generated models (suite.py run --config small)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "cpu-tests"))
    ap.add_argument("--filter", default=None, help="regex searched in case names")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    ap.add_argument("--skip", default="", help="comma-separated groups to skip: node,gen,torch,pytorch,suite")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    def usage_error(msg):
        print(f"run_cpu_checks: error: {msg}", file=sys.stderr)
        print("cpu: 0 passed, 0 failed")
        return 2

    dycl = os.path.abspath(args.dycl)
    if not (os.path.isfile(dycl) and os.access(dycl, os.X_OK)):
        return usage_error(f"no dycl executable at {dycl} (build it with make)")
    if args.filter:
        try:
            re.compile(args.filter)
        except re.error as e:
            return usage_error(f"bad --filter: {e}")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - {"node", "gen", "torch", "pytorch", "suite"}:
        return usage_error(f"unknown group in --skip: {args.skip}")
    sys.path.insert(0, CONF)
    try:
        import numpy  # noqa: F401
        import onnx
        from onnx import numpy_helper
        import run_conformance as rc
    except ImportError as e:
        return usage_error(f"{e} (run with Debian's /usr/bin/python3, which has onnx)")
    rc.RTOL, rc.ATOL = RTOL, ATOL
    libs = (onnx, numpy_helper)
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)

    why = cpu_available(dycl, args.work)
    if why:
        print(f"run_cpu_checks: the cpu backend is not available: {why}")
        print("cpu: 0 passed, 0 failed (skipped)")
        return SKIP

    t0 = time.monotonic()
    results = []
    wrapper = write_wrapper(args.work, dycl)
    for group, fn in (("node", lambda: node_checks(args, rc, dycl, wrapper, libs)),
                      ("gen", lambda: gen_checks(args, rc, dycl, libs)),
                      ("torch", lambda: torch_checks(args, rc, dycl, libs)),
                      ("pytorch", lambda: pytorch_checks(args, dycl)),
                      ("suite", lambda: suite_checks(args, rc, dycl, wrapper, libs))):
        if group in skip:
            continue
        t = time.monotonic()
        try:
            res = fn()
        except Exception as e:  # a broken group must not hide the others
            res = [Outcome(group, "(group)", False, f"runner error: {type(e).__name__}: {e}")]
        results += res
        n_ok = sum(r.ok for r in res)
        n_x = sum(r.xfail for r in res)
        log(f"{group}: {n_ok} passed, {len(res) - n_ok - n_x} failed" + (f", {n_x} xfail" if n_x else "")
            + f" ({time.monotonic() - t:.1f} s)")

    for r in results:
        if not r.ok:
            mark = "CRASH" if r.crash else ("xfail" if r.xfail else "FAIL")
            log(f"{mark} {r.group}/{r.name}: {r.reason}")
        elif args.verbose:
            log(f"ok   {r.group}/{r.name}")
    passed = sum(r.ok for r in results)
    failed = sum(1 for r in results if not r.ok and not r.xfail)
    log(f"{len(results)} cases in {time.monotonic() - t0:.1f} s")
    print(f"cpu: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
