#!/usr/bin/python3
"""Run the ONNX backend node tests against `dycl run`.

Usage: /usr/bin/python3 tests/conformance/run_conformance.py [--dycl build/dycl]
           [--data build/onnx-node-tests] [--filter REGEX] [-v] [-j N]
           [--expected tests/conformance/expected_failures.txt] [--update-expected] [--strict]
           [--timeout S]

For every test folder DATA/<test>/ (model.onnx + test_data_set_<k>/) and every data set, runs
    DYCL run model.onnx input_0.pb input_1.pb ... -o TMPDIR
and compares TMPDIR/output_<j>.pb with the expected output_<j>.pb the way onnx's backend test runner
does (numpy.testing.assert_allclose, rtol=1e-3, atol=1e-7, NaN equals NaN; exact for integers,
booleans and strings; dtype and shape must match). Outputs are read as TensorProto, SequenceProto or
OptionalProto according to the model's graph output type. For models containing random ops only the
dtype and shape are compared. bfloat16 tensors are decoded here (bits to float32) and
compared as float32 with a relative tolerance of one bfloat16 ulp (2**-7) (gen_node_tests.py
retypes onnx's UINT16 files of bfloat16 values as BFLOAT16).

A test passes when all its data sets pass. A crash (death by a signal, or a sanitizer report on
stderr) is always an error, even for a test listed as an expected failure.

Exit status 0 unless: a test fails that is not listed in the expected-failures file (a regression);
any test crashed; the pass rate is below 90%; a control-flow test failed (names containing _if,
_loop, _scan, sequence or optional, plus test_identity_opt; the ReverseSequence tests are tensor ops
and are not counted as control flow). A listed test that now passes is reported; with --strict that
is an error too. Exit status 2 on usage errors (no dycl binary, no data).

The last line printed is always `conformance: N passed, M failed`.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

RTOL = 1e-3
ATOL = 1e-7
BF16_RTOL = 2.0 ** -7
MIN_PASS_RATE = 0.90

RANDOM_OPS = {"Bernoulli", "RandomNormal", "RandomNormalLike", "RandomUniform",
              "RandomUniformLike", "Multinomial"}
CONTROL_FLOW_RE = re.compile(r"_if|_loop|_scan|sequence|optional")
CONTROL_FLOW_EXTRA = {"test_identity_opt"}
NOT_CONTROL_FLOW_RE = re.compile(r"^test_reversesequence")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|"
                          r"runtime error:|AddressSanitizer:DEADLYSIGNAL")

# Test-name abbreviations that do not start with their op's name.
FAMILY_ALIASES = {"sce": "SoftmaxCrossEntropyLoss", "nllloss": "NegativeLogLikelihoodLoss"}


def is_control_flow(name):
    if name in CONTROL_FLOW_EXTRA:
        return True
    return bool(CONTROL_FLOW_RE.search(name)) and not NOT_CONTROL_FLOW_RE.search(name)


# --------------------------------------------------------------------------------------------
# Loading a test: model facts needed to run and compare.

class Case:
    __slots__ = ("name", "dir", "out_kinds", "out_names", "random", "ops", "datasets", "family",
                 "load_error")

    def __init__(self, name, path):
        self.name = name
        self.dir = path
        self.out_kinds = []
        self.out_names = []
        self.random = False
        self.ops = []
        self.datasets = []
        self.family = None
        self.load_error = None


def _all_op_types(graph, acc):
    for node in graph.node:
        acc.add(node.op_type)
        for attr in node.attribute:
            if attr.HasField("g"):
                _all_op_types(attr.g, acc)
            for g in attr.graphs:
                _all_op_types(g, acc)
    return acc


def _type_kind(tp):
    which = tp.WhichOneof("value")
    return {"tensor_type": "tensor", "sequence_type": "sequence", "optional_type": "optional",
            "map_type": "map", "sparse_tensor_type": "sparse"}.get(which, "tensor")


def _index_of(fname, prefix):
    m = re.fullmatch(prefix + r"_(\d+)\.pb", fname)
    return int(m.group(1)) if m else None


def load_case(onnx, name, path):
    case = Case(name, path)
    try:
        model = onnx.load(os.path.join(path, "model.onnx"), load_external_data=False)
    except Exception as e:  # a broken file in the data folder: report, do not stop
        case.load_error = f"cannot load model.onnx: {e}"
        return case
    g = model.graph
    case.out_kinds = [_type_kind(o.type) for o in g.output]
    case.out_names = [o.name for o in g.output]
    ops = _all_op_types(g, set())
    case.random = bool(ops & RANDOM_OPS)
    case.ops = [n.op_type for n in g.node]
    for d in sorted(os.listdir(path)):
        m = re.fullmatch(r"test_data_set_(\d+)", d)
        if not m or not os.path.isdir(os.path.join(path, d)):
            continue
        files = os.listdir(os.path.join(path, d))
        ins = sorted((i, f) for f in files for i in [_index_of(f, "input")] if i is not None)
        outs = sorted((i, f) for f in files for i in [_index_of(f, "output")] if i is not None)
        case.datasets.append((int(m.group(1)), os.path.join(path, d),
                              [f for _, f in ins], [f for _, f in outs]))
    case.datasets.sort()
    if not case.datasets:
        case.load_error = "no test_data_set_* folder"
    return case


def _squash(s):
    return s.lower().replace("_", "")


def assign_families(cases, schema_names):
    by_name = {c.name: c for c in cases}
    schema_sq = sorted(((_squash(n), n) for n in schema_names), key=lambda t: -len(t[0]))

    def direct(c):
        base = c.name[5:] if c.name.startswith("test_") else c.name
        first = base.split("_")[0]
        if first in FAMILY_ALIASES:
            return FAMILY_ALIASES[first]
        if len(c.ops) == 1 and not c.name.endswith("_expanded"):
            return c.ops[0]
        sq = _squash(re.sub(r"_expanded$", "", base))
        model_ops = sorted(((_squash(o), o) for o in set(c.ops)), key=lambda t: -len(t[0]))
        for cands in (model_ops, schema_sq):
            for s, op in cands:
                if sq.startswith(s):
                    return op
        return first

    for c in cases:
        if c.name.endswith("_expanded"):
            sib = by_name.get(c.name[:-len("_expanded")])
            if sib is not None:
                c.family = direct(sib)
                continue
        c.family = direct(c)


# --------------------------------------------------------------------------------------------
# Reading values and comparing.

def read_value(onnx, numpy_helper, path, kind):
    with open(path, "rb") as f:
        data = f.read()
    if kind == "sequence":
        p = onnx.SequenceProto()
        p.ParseFromString(data)
        return _seq_to_list(onnx, numpy_helper, p)
    if kind == "optional":
        p = onnx.OptionalProto()
        p.ParseFromString(data)
        return _opt_to_value(onnx, numpy_helper, p)
    p = onnx.TensorProto()
    p.ParseFromString(data)
    return _tensor_to_array(onnx, numpy_helper, p)


class BF16:
    """A bfloat16 tensor, held as float32 values."""

    def __init__(self, arr):
        self.arr = arr


def _tensor_to_array(onnx, numpy_helper, t):
    import numpy as np
    if t.data_type == onnx.TensorProto.BFLOAT16:
        # decoded here: numpy_helper's handling of bfloat16 differs between onnx versions
        if t.HasField("raw_data"):
            bits = np.frombuffer(t.raw_data, dtype="<u2").astype(np.uint32)
        else:
            bits = np.asarray(t.int32_data, dtype=np.uint32) & 0xFFFF
        dims = tuple(t.dims)
        if bits.size != int(np.prod(dims, dtype=np.int64)):
            raise ValueError(f"bfloat16 tensor with {bits.size} values for dims {list(dims)}")
        return BF16((bits << 16).view(np.float32).reshape(dims))
    return numpy_helper.to_array(t)


def _seq_to_list(onnx, numpy_helper, s):
    # numpy_helper.to_list, with our bfloat16 handling and nested optionals
    E = onnx.SequenceProto
    if s.elem_type in (E.TENSOR, E.SPARSE_TENSOR):
        return [_tensor_to_array(onnx, numpy_helper, t) for t in s.tensor_values]
    if s.elem_type == E.SEQUENCE:
        return [_seq_to_list(onnx, numpy_helper, x) for x in s.sequence_values]
    if s.elem_type == getattr(E, "OPTIONAL", -1):
        return [_opt_to_value(onnx, numpy_helper, x) for x in s.optional_values]
    if s.elem_type == E.UNDEFINED:
        return []
    return numpy_helper.to_list(s)


def _opt_to_value(onnx, numpy_helper, o):
    E = onnx.OptionalProto
    if o.elem_type == E.UNDEFINED:
        return None
    if o.elem_type == E.TENSOR:
        return _tensor_to_array(onnx, numpy_helper, o.tensor_value)
    if o.elem_type == E.SEQUENCE:
        return _seq_to_list(onnx, numpy_helper, o.sequence_value)
    if o.elem_type == E.OPTIONAL:
        return _opt_to_value(onnx, numpy_helper, o.optional_value)
    return numpy_helper.to_optional(o)


def _short(a):
    import numpy as np
    s = np.array2string(np.asarray(a).ravel()[:6], precision=6, separator=",", threshold=6)
    return s if np.asarray(a).size <= 6 else s[:-1] + ",...]"


def compare(expected, actual, shape_only, where="output"):
    """Returns None when equal, else a short description of the first difference."""
    import numpy as np
    if expected is None or actual is None:
        if expected is None and actual is None:
            return None
        return (f"{where}: expected {'an empty optional' if expected is None else 'a value'}, "
                f"got {'an empty optional' if actual is None else 'a value'}")
    if isinstance(expected, list) or isinstance(actual, list):
        if not (isinstance(expected, list) and isinstance(actual, list)):
            return f"{where}: expected a {'sequence' if isinstance(expected, list) else 'tensor'}"
        if len(expected) != len(actual):
            return f"{where}: sequence length {len(actual)}, expected {len(expected)}"
        for k, (e, a) in enumerate(zip(expected, actual)):
            r = compare(e, a, shape_only, f"{where}[{k}]")
            if r:
                return r
        return None
    rtol = RTOL
    if isinstance(expected, BF16) or isinstance(actual, BF16):
        if not (isinstance(expected, BF16) and isinstance(actual, BF16)):
            return f"{where}: dtype mismatch (bfloat16 expected on one side only)"
        expected, actual, rtol = expected.arr, actual.arr, BF16_RTOL
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if expected.dtype != actual.dtype:
        return f"{where}: dtype {actual.dtype}, expected {expected.dtype}"
    if expected.shape != actual.shape:
        return f"{where}: shape {list(actual.shape)}, expected {list(expected.shape)}"
    if shape_only:
        return None
    kind = expected.dtype.kind
    if kind in "fc":
        try:
            np.testing.assert_allclose(actual, expected, rtol=rtol, atol=ATOL, equal_nan=True)
        except AssertionError:
            with np.errstate(all="ignore"):
                bad = ~np.isclose(actual, expected, rtol=rtol, atol=ATOL, equal_nan=True)
                idx = np.unravel_index(int(np.argmax(bad)), expected.shape) if expected.ndim else ()
                return (f"{where}: {int(bad.sum())}/{expected.size} values differ, first at "
                        f"{list(idx)}: got {actual[idx]!r}, expected {expected[idx]!r}")
        return None
    if not np.array_equal(actual, expected):
        bad = actual != expected
        idx = np.unravel_index(int(np.argmax(bad)), expected.shape) if expected.ndim else ()
        return (f"{where}: {int(np.sum(bad))}/{expected.size} values differ, first at "
                f"{list(idx)}: got {actual[idx]!r}, expected {expected[idx]!r}")
    return None


# --------------------------------------------------------------------------------------------
# Running one test.

class Result:
    __slots__ = ("name", "ok", "crash", "reason", "seconds")

    def __init__(self, name, ok, reason="", crash=False, seconds=0.0):
        self.name = name
        self.ok = ok
        self.reason = reason
        self.crash = crash
        self.seconds = seconds


def _first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _sig_name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def run_dycl(cmd, timeout):
    """Runs cmd; returns (returncode or None on timeout, stderr text)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        _, err = p.communicate()
        return None, err.decode("utf-8", "replace")


def run_case(case, dycl, timeout, tmproot, libs, backend=None):
    onnx, numpy_helper = libs
    t0 = time.monotonic()
    if case.load_error:
        return Result(case.name, False, case.load_error)
    for k, dsdir, ins, outs in case.datasets:
        tag = f"[set {k}] " if len(case.datasets) > 1 else ""
        odir = tempfile.mkdtemp(prefix=case.name[:40] + ".", dir=tmproot)
        try:
            cmd = [dycl, "run", os.path.join(case.dir, "model.onnx")]
            if backend:
                cmd += ["--backend", backend]
            cmd += [os.path.join(dsdir, f) for f in ins]
            cmd += ["-o", odir]
            rc, err = run_dycl(cmd, timeout)
            m = SANITIZER_RE.search(err)
            if m:
                line = next((ln.strip() for ln in err.splitlines() if SANITIZER_RE.search(ln)),
                            m.group(0))
                return Result(case.name, False, f"{tag}CRASH (sanitizer): {line[:300]}",
                              crash=True, seconds=time.monotonic() - t0)
            if rc is None:
                return Result(case.name, False, f"{tag}timeout after {timeout:g} s",
                              seconds=time.monotonic() - t0)
            if rc < 0:
                return Result(case.name, False,
                              f"{tag}CRASH ({_sig_name(-rc)}) {_first_line(err)[:200]}".rstrip(),
                              crash=True, seconds=time.monotonic() - t0)
            if rc != 0:
                line = _first_line(err) or "(no message)"
                return Result(case.name, False, f"{tag}exit {rc}: {line[:300]}",
                              seconds=time.monotonic() - t0)
            if len(outs) != len(case.out_kinds):
                return Result(case.name, False,
                              f"{tag}test data has {len(outs)} outputs, model {len(case.out_kinds)}")
            for j, fname in enumerate(outs):
                kind = case.out_kinds[j]
                got_path = os.path.join(odir, f"output_{j}.pb")
                if not os.path.exists(got_path):
                    return Result(case.name, False, f"{tag}dycl wrote no output_{j}.pb",
                                  seconds=time.monotonic() - t0)
                try:
                    exp = read_value(onnx, numpy_helper, os.path.join(dsdir, fname), kind)
                except Exception as e:
                    return Result(case.name, False, f"{tag}cannot read expected {fname}: {e}")
                try:
                    got = read_value(onnx, numpy_helper, got_path, kind)
                except Exception as e:
                    return Result(case.name, False,
                                  f"{tag}cannot read dycl's output_{j}.pb as a {kind}: {e}",
                                  seconds=time.monotonic() - t0)
                r = compare(exp, got, case.random, f"output {j} ({case.out_names[j]})")
                if r:
                    return Result(case.name, False, tag + r, seconds=time.monotonic() - t0)
        finally:
            shutil.rmtree(odir, ignore_errors=True)
    return Result(case.name, True, seconds=time.monotonic() - t0)


# --------------------------------------------------------------------------------------------
# Expected failures file.

DEFAULT_HEADER = """\
# ONNX backend node tests that dycl is known to fail (one test name per line, sorted).
# Regenerate with: /usr/bin/python3 tests/conformance/run_conformance.py --update-expected
# A test failing that is not listed here fails the conformance run (a regression).
"""


def read_expected(path):
    names = set()
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    names.add(line)
    return names


def write_expected(path, failing, selected_names):
    header = []
    kept = set()
    if os.path.exists(path):
        with open(path) as f:
            lines = f.read().splitlines()
        for line in lines:  # keep the leading comment block
            if line.startswith("#") or not line.strip():
                header.append(line)
            else:
                break
        # tests outside this run's selection keep their entries
        kept = {n for n in read_expected(path) if n not in selected_names}
    if not any(h.strip() for h in header):
        header = DEFAULT_HEADER.rstrip("\n").split("\n")
    while header and not header[-1].strip():
        header.pop()
    names = sorted(kept | set(failing))
    with open(path, "w") as f:
        f.write("\n".join(header) + "\n")
        for n in names:
            f.write(n + "\n")
    return names


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="Run the ONNX backend node tests against dycl.")
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--data", default=os.path.join(ROOT, "build", "onnx-node-tests"))
    ap.add_argument("--filter", default=None, help="regex searched in test names")
    ap.add_argument("--backend", default="ref", help="dycl backend (default: ref, the oracle)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--expected", default=os.path.join(HERE, "expected_failures.txt"))
    ap.add_argument("--update-expected", action="store_true",
                    help="rewrite the expected-failures file with this run's failing tests")
    ap.add_argument("--strict", action="store_true",
                    help="a listed test that now passes is an error")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per data set")
    args = ap.parse_args()

    def usage_error(msg):
        print(f"run_conformance: error: {msg}", file=sys.stderr)
        print("conformance: 0 passed, 0 failed")
        return 2

    dycl = os.path.abspath(args.dycl)
    if not (os.path.isfile(dycl) and os.access(dycl, os.X_OK)):
        return usage_error(f"no dycl executable at {dycl} (build it with make)")

    sys.path.insert(0, HERE)
    try:
        import numpy as np  # noqa: F401
        import onnx
        from onnx import numpy_helper
        import gen_node_tests
    except ImportError as e:
        return usage_error(f"{e} (run with Debian's /usr/bin/python3, which has onnx)")

    data = os.path.abspath(args.data)
    if not gen_node_tests.is_current(data) and (
            gen_node_tests.count_cases(data) == 0 or os.path.exists(os.path.join(data, ".stamp"))):
        print(f"run_conformance: generating the node tests into {data}", flush=True)
        try:
            gen_node_tests.generate(data, quiet=True)
        except Exception as e:
            return usage_error(f"generating the node tests failed: {e}")

    try:
        names = sorted(d for d in os.listdir(data)
                       if os.path.isfile(os.path.join(data, d, "model.onnx")))
    except OSError as e:
        return usage_error(str(e))
    all_names = set(names)
    if args.filter:
        try:
            rx = re.compile(args.filter)
        except re.error as e:
            return usage_error(f"bad --filter: {e}")
        names = [n for n in names if rx.search(n)]
    if not names:
        return usage_error(f"no tests in {data}" + (f" match {args.filter!r}" if args.filter else ""))

    t_start = time.monotonic()
    cases = [load_case(onnx, n, os.path.join(data, n)) for n in names]
    try:
        schema_names = {s.name for s in onnx.defs.get_all_schemas()}
    except Exception:
        schema_names = set()
    assign_families(cases, schema_names)

    expected = read_expected(args.expected)
    tmproot = tempfile.mkdtemp(prefix="dycl-conformance.")
    results = {}
    try:
        jobs = max(1, args.jobs)
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            futs = {ex.submit(run_case, c, dycl, args.timeout, tmproot, (onnx, numpy_helper), args.backend): c
                    for c in cases}
            for fut, c in futs.items():
                try:
                    results[c.name] = fut.result()
                except Exception as e:  # a bug in this script must not hide the other results
                    results[c.name] = Result(c.name, False, f"runner error: {type(e).__name__}: {e}")
    finally:
        shutil.rmtree(tmproot, ignore_errors=True)
    elapsed = time.monotonic() - t_start

    passed = [c for c in cases if results[c.name].ok]
    failed = [c for c in cases if not results[c.name].ok]
    crashed = [c for c in failed if results[c.name].crash]
    regressions = [c for c in failed if c.name not in expected]
    cf_failed = [c for c in failed if is_control_flow(c.name)]
    now_passing = [c for c in passed if c.name in expected]

    # One line per failing test.
    for c in failed:
        r = results[c.name]
        mark = "FAIL" if c.name not in expected else "xfail"
        if r.crash:
            mark = "CRASH"
        print(f"{mark} {c.name}: {r.reason}")
    if args.verbose:
        for c in passed:
            print(f"ok   {c.name} ({results[c.name].seconds:.2f} s)")

    # Summary per op family.
    fam = {}
    for c in cases:
        p, t, bad = fam.get(c.family, (0, 0, []))
        ok = results[c.name].ok
        fam[c.family] = (p + ok, t + 1, bad if ok else bad + [c.name])
    shown = sorted(f for f, v in fam.items() if args.verbose or v[0] < v[1])
    if shown:
        print()
        print("per op family (passed/total):" if args.verbose else
              "op families with failures (passed/total):")
        w = max(len(f) for f in shown)
        for f in shown:
            p, t, bad = fam[f]
            extra = ""
            if bad:
                extra = "  failing: " + " ".join(n[5:] if n.startswith("test_") else n
                                                 for n in bad[:6])
                if len(bad) > 6:
                    extra += f" (+{len(bad) - 6} more)"
            print(f"  {f:<{w}}  {p:>3}/{t:<3}{extra}")
        full = sum(1 for v in fam.values() if v[0] == v[1])
        print(f"  {full} of {len(fam)} op families pass completely")

    status = 0
    print()
    if crashed:
        status = 1
        print(f"{len(crashed)} test(s) CRASHED (always an error): "
              + " ".join(c.name for c in crashed))
    if regressions and not args.update_expected:
        status = 1
        print(f"{len(regressions)} failing test(s) not in {os.path.relpath(args.expected)} "
              f"(regressions): " + " ".join(c.name for c in regressions[:40])
              + (" ..." if len(regressions) > 40 else ""))
    if cf_failed:
        status = 1
        print(f"{len(cf_failed)} control-flow test(s) failed (all must pass): "
              + " ".join(c.name for c in cf_failed))
    rate = len(passed) / len(cases)
    if rate < MIN_PASS_RATE:
        status = 1
        print(f"pass rate {100 * rate:.1f}% is below {100 * MIN_PASS_RATE:.0f}%")
    if now_passing and not args.update_expected:
        print(f"{len(now_passing)} test(s) listed as expected failures now pass, remove them "
              f"from the list: " + " ".join(c.name for c in now_passing))
        if args.strict:
            status = 1
    missing = sorted(n for n in expected if n not in all_names)
    if missing:
        print(f"{len(missing)} name(s) in the expected-failures list are not tests: "
              + " ".join(missing[:20]))
    if args.update_expected:
        listed = write_expected(args.expected, [c.name for c in failed], set(names))
        print(f"wrote {len(listed)} name(s) to {args.expected}")
    print(f"{len(cases)} tests in {elapsed:.1f} s with -j {args.jobs}, "
          f"pass rate {100 * rate:.1f}%")
    print(f"conformance: {len(passed)} passed, {len(failed)} failed")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
