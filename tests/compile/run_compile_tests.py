#!/usr/bin/python3
"""`dycl compile` end to end: emitted C packages must build warning-free and compute exactly what
`dycl run` computes, for the ref and the cpu backend.

Usage: /usr/bin/python3 tests/compile/run_compile_tests.py [--dycl build/dycl]
           [--work build/compile-tests] [--backends ref,cpu] [--threads N] [--filter REGEX] [-j N]
           [--no-clang] [--no-cache] [--golden-only] [--update] [-v]

Models: every If/Loop/Scan/SequenceMap ONNX backend node test (build/onnx-node-tests, generated when
missing), the dynamic PyTorch models (build/pytorch-tests, generated when missing and PyTorch is
installed), the demo model models/demo/early_exit.onnx with its three inputs, a few hand-made corner
cases, and every model of the dynamic-network suite (models/suite) as the suite.small test generates
them into --suite (build/suite/small; generated when missing), with all their input sets: a suite
model that cannot be generated is a failure, not a skip.

For each model and backend B of --backends (ref and cpu; a dycl without the cpu backend fails the
cpu packages, it does not skip them):
  dycl compile MODEL -o WORK/pkg/B/NAME --name NAME --backend B
  make -C WORK/pkg/B/NAME WERROR=1                  (gcc: -Wall -Wextra -Werror)
then for each input set
  WORK/pkg/B/NAME/run INPUT... -o WORK/out/NAME/CASE/B-gcc [--threads N]
  dycl run --backend B MODEL INPUT... -o WORK/out/NAME/CASE/dycl-B [--threads N]
and the output files must be identical, bit for bit, or both runs must fail with the same message.
Bit for bit holds for cpu too: the package runs the sub-networks through the cpu backend's own code
(src/backend/cpu, compiled into the package with -ffp-contract=off as gcc compiles dycl) on the same
oneDNN library with the same number of threads (--threads, default 1; the demo model runs on 2), so
it makes the same primitives and the same reference-kernel calls. Then the package is rebuilt with
clang (-Werror too) and the runs are compared again (unless --no-clang; with --clang-cases N only the
first N input sets of each model: the gcc build has run them all).

Besides: the typed API of a ref and a cpu package (api_test.c), a package's weights file refused when
missing, truncated or foreign, the runtime of every op linking, and two packages of the demo model
(cpu as `first`, ref as `second`) linked into one program (two_pkgs.c) whose outputs match `dycl
run`, each libNAME.a's global symbols being exactly the functions its NAME.h declares.

Packages are built in parallel; objects are shared between packages through a compiler cache
(tests/compile/cc_cache.sh) since they hold the same runtime sources (--no-cache to measure real
build times); a runtime source compiled for more than a few packages fails the test ("compiler
cache": its key differs between packages, and the sanitizer build compiles the whole runtime for
every package). The golden test compares the generated early_exit.c of the demo model with
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
    except OSError as e:  # e.g. the binary is being relinked
        return -1, f"cannot run {cmd[0]}: {e}", time.monotonic() - t0


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


def edge_models(work, flt, log):
    """Small hand-made models for corners the other suites miss: nothing for a sub-network to
    compute (the host binds inputs and constants only), a Loop whose outputs are partly omitted and
    whose trip count is absent (a while loop), string tensors through If."""
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:
        log(f"note: no edge-case models ({e})")
        return []
    models = []

    def save(name, graph, inputs, opset=17):
        if flt and not flt.search("edge_" + name):
            return
        d = os.path.join(work, "edge", name)
        os.makedirs(d, exist_ok=True)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="dycl-tests")
        onnx.save(m, os.path.join(d, "model.onnx"))
        cases = []
        for ci, vals in enumerate(inputs):
            paths = []
            for k, v in enumerate(vals):
                p = os.path.join(d, f"case{ci}_in{k}.pb")
                with open(p, "wb") as f:
                    f.write(numpy_helper.from_array(v, graph.input[k].name).SerializeToString())
                paths.append(p)
            cases.append((f"case{ci}", paths))
        models.append({"name": "edge_" + name, "model": os.path.join(d, "model.onnx"), "cases": cases})

    f32 = TensorProto.FLOAT
    # 1. the outputs are an input and a constant: no node at all
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "no_nodes",
                          [helper.make_tensor_value_info("x", f32, ["N"])],
                          [helper.make_tensor_value_info("y", f32, ["N"]), helper.make_tensor_value_info("c", f32, [2])],
                          [numpy_helper.from_array(np.array([1.5, -2], np.float32), "c")])
    save("no_nodes", g, [[np.arange(3, dtype=np.float32)]])
    # 2. an If whose branches only pass values through
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", f32, None)])
    else_g = helper.make_graph([], "else", [], [helper.make_tensor_value_info("c", f32, None)])
    g = helper.make_graph([helper.make_node("If", ["b"], ["y"], then_branch=then_g, else_branch=else_g)], "if_bind",
                          [helper.make_tensor_value_info("b", TensorProto.BOOL, []),
                           helper.make_tensor_value_info("x", f32, [2])],
                          [helper.make_tensor_value_info("y", f32, None)],
                          [numpy_helper.from_array(np.array([7, 8], np.float32), "c")])
    save("if_bind", g, [[np.array(True), np.array([1, 2], np.float32)], [np.array(False), np.array([1, 2], np.float32)]])
    # 3. a while loop (no trip count): carried i and s; the final i is omitted; scan output of s
    body = helper.make_graph(
        [helper.make_node("Add", ["i_in", "one"], ["i_out"]), helper.make_node("Add", ["s_in", "i_out"], ["s_out"]),
         helper.make_node("Less", ["i_out", "lim"], ["c_out"]), helper.make_node("Identity", ["s_out"], ["scan"])],
        "body", [helper.make_tensor_value_info("it", TensorProto.INT64, []),
                 helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("i_in", f32, []), helper.make_tensor_value_info("s_in", f32, [])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), helper.make_tensor_value_info("i_out", f32, []),
         helper.make_tensor_value_info("s_out", f32, []), helper.make_tensor_value_info("scan", f32, [])])
    g = helper.make_graph([helper.make_node("Loop", ["", "c0", "i0", "s0"], ["", "s_final", "scans"], body=body)],
                          "while_omitted",
                          [helper.make_tensor_value_info("c0", TensorProto.BOOL, []),
                           helper.make_tensor_value_info("lim", f32, [])],
                          [helper.make_tensor_value_info("s_final", f32, None), helper.make_tensor_value_info("scans", f32, None)],
                          [numpy_helper.from_array(np.array(1, np.float32), "one"),
                           numpy_helper.from_array(np.array(0, np.float32), "i0"),
                           numpy_helper.from_array(np.array(0, np.float32), "s0")])
    save("while_omitted", g, [[np.array(True), np.array(4, np.float32)], [np.array(False), np.array(4, np.float32)]])
    # 4. strings: an If choosing between a string input and a string constant
    then_g = helper.make_graph([helper.make_node("Identity", ["s"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.STRING, None)])
    else_g = helper.make_graph([helper.make_node("Identity", ["k"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.STRING, None)])
    g = helper.make_graph([helper.make_node("If", ["b"], ["y"], then_branch=then_g, else_branch=else_g),
                           helper.make_node("Concat", ["y", "y"], ["z"], axis=0)], "strings",
                          [helper.make_tensor_value_info("b", TensorProto.BOOL, []),
                           helper.make_tensor_value_info("s", TensorProto.STRING, [2])],
                          [helper.make_tensor_value_info("z", TensorProto.STRING, None)],
                          [numpy_helper.from_array(np.array(["a?\"*/", "\u00e9\n"], dtype=object), "k")])
    strs = np.array(["x", "yz"], dtype=object)
    save("strings", g, [[np.array(True), strs], [np.array(False), strs]])
    return models


def suite_models(suite_dir, flt):
    """Every model of the dynamic-network suite (models/suite), as the suite.small test generates them
    into suite_dir (build/suite/small), each with all its input sets; missing ones are generated
    (models/suite/suite.py). Returns (models, problems): a model still missing is a failure, not a skip."""
    sys.path.insert(0, os.path.join(ROOT, "models", "suite"))
    import suite
    names = [n for n in suite.discover() if not flt or flt.search("suite_" + n)]
    # missing models (a build folder where the suite.small test has not run): generated here, as the
    # node tests are; one that cannot be generated is a failure
    want = [n for n in names if not os.path.isfile(os.path.join(suite_dir, n, "model.onnx"))]
    if want:
        try:
            suite.ensure_generated(want, os.path.basename(suite_dir), os.path.dirname(suite_dir), 2)
        except Exception as e:  # noqa: BLE001 - reported below as missing models
            print(f"note: cannot generate the suite models ({type(e).__name__}: {e})", flush=True)
    models, problems = [], []
    for name in names:
        d = os.path.join(suite_dir, name)
        if not os.path.exists(os.path.join(d, "model.onnx")):
            problems.append(f"suite_{name}: {d}/model.onnx is missing (generate it: ctest -R suite.small, or make suite)")
            continue
        cases = []
        for ds in sorted((x for x in os.listdir(d) if x.startswith("test_data_set_")), key=lambda x: int(x.rsplit("_", 1)[1])):
            ins = sorted((f for f in os.listdir(os.path.join(d, ds)) if f.startswith("input_")),
                         key=lambda f: int(re.sub(r"\D", "", f) or 0))
            cases.append((ds, [os.path.join(d, ds, f) for f in ins]))
        if cases:
            models.append({"name": "suite_" + name, "model": os.path.join(d, "model.onnx"), "cases": cases})
        else:
            problems.append(f"suite_{name}: no test_data_set_* in {d}")
    return models, problems


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

def model_threads(args, m):
    """Threads of the cpu runs: --threads, and 2 for the demo model (the threaded path)."""
    return 2 if m["name"] == "early_exit" else args.threads


def run_cases(args, m, pkg, backend, label, max_cases=0):
    """Runs every input set (the first max_cases when > 0) through the package and dycl; returns
    (passed, failures)."""
    passed, fails = 0, []
    threads = ["--threads", str(model_threads(args, m))] if backend != "ref" else []
    for case, inputs in m["cases"][:max_cases] if max_cases > 0 else m["cases"]:
        base = os.path.join(args.work, "out", m["name"], case)
        got, ref = os.path.join(base, label), os.path.join(base, "dycl-" + backend)
        shutil.rmtree(got, ignore_errors=True)
        os.makedirs(base, exist_ok=True)
        key = (m["name"], case, backend)
        if key not in args.ref_runs:  # dycl run once per input set and backend, for every compiler
            shutil.rmtree(ref, ignore_errors=True)
            args.ref_runs[key] = sh([args.dycl, "run", "--backend", backend, *threads, m["model"], *inputs, "-o", ref],
                                    timeout=args.timeout)
        rc_r, out_r, _ = args.ref_runs[key]
        rc_g, out_g, _ = sh([os.path.join(pkg, "run"), *inputs, "-o", got, *threads], timeout=args.timeout)
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


def cflags(args):
    return ["CFLAGS=" + args.cflags] if args.cflags else []


def test_model(args, m, backend, cc_gcc, cc_clang):
    name = re.sub(r"\W", "_", m["name"])
    pkg = os.path.join(args.work, "pkg", backend, name)
    shutil.rmtree(pkg, ignore_errors=True)
    n_cases = len(m["cases"])
    res = {"name": f"{m['name']} [{backend}]", "passed": 0, "failed": 0, "fails": [], "times": {}}
    rc, out, t = sh([args.dycl, "compile", m["model"], "-o", pkg, "--name", name, "--backend", backend])
    res["times"]["dycl compile"] = t
    if rc != 0:
        res["failed"] = n_cases * (2 if cc_clang else 1)
        res["fails"].append(f"dycl compile failed: {out.strip()}")
        return res
    compilers = [("gcc", cc_gcc)] + ([("clang", cc_clang)] if cc_clang else [])
    for label, cc in compilers:
        sh(["make", "-C", pkg, "clean"])
        rc, out, t = sh(["make", "-C", pkg, "WERROR=1", "CC=" + cc, "V=1"] + cflags(args), timeout=900)
        res["times"]["make " + label] = t
        if rc != 0:
            limit = args.clang_cases if label == "clang" and args.clang_cases > 0 else args.max_cases
            res["failed"] += min(n_cases, limit) if limit > 0 else n_cases
            lines = [ln for ln in out.splitlines() if ": error:" in ln or ": warning:" in ln or ": note:" in ln][:8]
            res["fails"].append(f"make ({label}) failed:\n      " + "\n      ".join(lines or out.splitlines()[-8:]))
            continue
        limit = args.clang_cases if label == "clang" and args.clang_cases > 0 else args.max_cases
        p, f = run_cases(args, m, pkg, backend, f"{backend}-{label}", limit)
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
    rc, out, _ = sh([args.dycl, "compile", model, "-o", pkg, "--name", "early_exit", "--backend", "ref", "--quiet"],
                    cwd=ROOT)
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
# The API, the weights file, the runtime of every op
# ------------------------------------------------------------------------------------------------

def api_checks(args, compilers, node_dir):
    """The typed API (tests/compile/api_test.c) on test_loop11 compiled as package `api`, per backend."""
    model = os.path.join(node_dir, "test_loop11", "model.onnx")
    if not os.path.exists(model):
        return ["api: test_loop11 is missing"], 0
    fails, passed = [], 0
    for backend in args.backends:
        pkg = os.path.join(args.work, "api", backend, "pkg")
        shutil.rmtree(pkg, ignore_errors=True)
        rc, out, _ = sh([args.dycl, "compile", model, "-o", pkg, "--name", "api", "--backend", backend])
        if rc != 0:
            fails.append(f"api [{backend}]: dycl compile failed: {out.strip()}")
            continue
        ldlibs = package_ldlibs(pkg, "api")
        for label, cc, plain in compilers:
            sh(["make", "-C", pkg, "clean"])
            rc, out, _ = sh(["make", "-C", pkg, "WERROR=1", "CC=" + cc] + cflags(args), timeout=900)
            exe = os.path.join(args.work, "api", backend, "api_test_" + label)
            if rc == 0:
                rc, out, _ = sh([plain, "-std=c11", "-D_XOPEN_SOURCE=700", "-Wall", "-Wextra", "-Werror", "-O1"] +
                                args.cflags.split() + ["-I", pkg, os.path.join(HERE, "api_test.c"),
                                                       os.path.join(pkg, "libapi.a")] + ldlibs + ["-o", exe])
            if rc == 0:
                rc, out, _ = sh([exe, backend])
            if rc == 0:
                passed += 1
            else:
                fails.append(f"api [{backend}, {label}]: {out.strip()}")
    return fails, passed


def package_ldlibs(pkg, name):
    """What a program links after libNAME.a: NAME_LDLIBS of NAME.h."""
    with open(os.path.join(pkg, name + ".h")) as f:
        m = re.search(r'#define \w+_LDLIBS "([^"]*)"', f.read())
    return m.group(1).split() if m else ["-lm"]


def api_functions(pkg, name):
    """The functions NAME.h declares (outside comments)."""
    with open(os.path.join(pkg, name + ".h")) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return set(re.findall(r"\b(" + re.escape(name) + r"_\w+)\s*\(", text))


def weights_checks(args):
    """The runner of a package with a weights file refuses a missing, truncated or foreign one."""
    pkg = os.path.join(args.work, "pkg", "ref", "early_exit")
    wfile = os.path.join(pkg, "early_exit.weights")
    inp = os.path.join(ROOT, "models", "demo", "inputs", "easy.pb")
    if not os.path.exists(wfile) or not os.path.exists(os.path.join(pkg, "run")):
        return [], 0
    with open(wfile, "rb") as f:
        data = f.read()
    bad = os.path.join(args.work, "bad.weights")
    cases = [("missing", None, "cannot open"), ("truncated", data[:-7], "weights:"),
             ("other shape", data[:24] + bytes([data[24] ^ 1]) + data[25:], "the package needs"),
             ("not weights", b"hello", "not a dycl weights file")]
    fails, passed = [], 0
    for what, content, want in cases:
        path = os.path.join(args.work, "does-not-exist.weights")
        if content is not None:
            with open(bad, "wb") as f:
                f.write(content)
            path = bad
        rc, out, _ = sh([os.path.join(pkg, "run"), inp, "--weights", path])
        if rc == 1 and want in out and "run: error:" in out:
            passed += 1
        else:
            fails.append(f"weights ({what}): exit {rc}, {out.strip()[:200]}")
    return fails, passed


def link_checks(args, cc_make, cc_plain):
    """Two packages of the demo model, cpu (`first`) and ref (`second`), linked into one program
    (tests/compile/two_pkgs.c); their outputs must be dycl run's. Each libNAME.a exports exactly the
    functions of its NAME.h."""
    model = os.path.join(ROOT, "models", "demo", "early_exit.onnx")
    inputs = [os.path.join(ROOT, "models", "demo", "inputs", c + ".pb") for c in ("easy", "medium", "hard")]
    d = os.path.join(args.work, "two_pkgs")
    shutil.rmtree(d, ignore_errors=True)
    fails, passed = [], 0
    pkgs = {"first": "cpu", "second": "ref"}
    for name, backend in pkgs.items():
        pkg = os.path.join(d, name)
        rc, out, _ = sh([args.dycl, "compile", model, "-o", pkg, "--name", name, "--backend", backend])
        if rc == 0:
            rc, out, _ = sh(["make", "-C", pkg, "WERROR=1", "CC=" + cc_make] + cflags(args), timeout=900)
        if rc != 0:
            return [f"two packages: {name} ({backend}): {out.strip()[-400:]}"], 0
        # the global symbols of libNAME.a: the API, nothing else
        rc, out, _ = sh(["nm", "-g", "--defined-only", os.path.join(pkg, f"lib{name}.a")])
        defined = set(ln.split()[-1] for ln in out.splitlines() if len(ln.split()) == 3)
        want = api_functions(pkg, name)
        if rc != 0 or defined != want or not want:
            fails.append(f"symbols of lib{name}.a: extra {sorted(defined - want)[:8]}, missing {sorted(want - defined)[:8]}")
        else:
            passed += 1
    exe = os.path.join(d, "two_pkgs")
    libs = [os.path.join(d, "first", "libfirst.a"), os.path.join(d, "second", "libsecond.a")]
    rc, out, _ = sh([cc_plain, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"] + args.cflags.split() +
                    ["-I", os.path.join(d, "first"), "-I", os.path.join(d, "second"), os.path.join(HERE, "two_pkgs.c")] +
                    libs + package_ldlibs(os.path.join(d, "first"), "first") + ["-o", exe])
    if rc != 0:
        return fails + [f"two packages: linking failed: {out.strip()[-600:]}"], passed
    out_dir = os.path.join(d, "out")
    for k in range(len(inputs)):
        for name in pkgs:
            os.makedirs(os.path.join(out_dir, f"{name}_{k}"))
    rc, out, _ = sh([exe, os.path.join(d, "first", "first.weights"), os.path.join(d, "second", "second.weights"), out_dir,
                     *inputs])
    if rc != 0:
        return fails + [f"two packages: exit {rc}: {out.strip()[-400:]}"], passed
    for k, inp in enumerate(inputs):
        for name, backend in pkgs.items():
            ref = os.path.join(d, "dycl", f"{name}_{k}")
            os.makedirs(os.path.dirname(ref), exist_ok=True)
            threads = ["--threads", "2"] if backend == "cpu" else []
            rc, out, _ = sh([args.dycl, "run", "--backend", backend, *threads, model, inp, "-o", ref])
            msg = f"dycl run failed: {out.strip()}" if rc != 0 else compare_dirs(os.path.join(out_dir, f"{name}_{k}"), ref)
            if msg:
                fails.append(f"two packages: {name} ({backend}) on {os.path.basename(inp)}: {msg}")
            else:
                passed += 1
    return fails, passed


def all_ops_checks(args, compilers):
    """The runtime selection for every op links (tests/compile/emit_all_ops.c)."""
    if not args.emit_all_ops or not os.access(args.emit_all_ops, os.X_OK):
        return ["all ops: no emit_all_ops binary (build it: it is a CTest target)"], 0
    d = os.path.join(args.work, "all_ops")
    shutil.rmtree(d, ignore_errors=True)
    rc, out, _ = sh([args.emit_all_ops, d])
    if rc != 0:
        return [f"all ops: {out.strip()}"], 0
    fails, passed = [], 0
    for label, cc, _ in compilers:
        sh(["make", "-C", d, "clean"])
        rc, out, _ = sh(["make", "-C", d, "WERROR=1", "CC=" + cc] + cflags(args), timeout=900)
        if rc == 0:
            rc, out, _ = sh([os.path.join(d, "all_ops")])
        if rc == 0:
            passed += 1
        else:
            lines = [ln for ln in out.splitlines() if "error" in ln or "undefined" in ln][:8]
            fails.append(f"all ops [{label}]: " + "\n      ".join(lines or out.splitlines()[-8:]))
    return fails, passed


# ------------------------------------------------------------------------------------------------

def cache_checks(misses, n_packages, most):
    """Every package holds the same runtime sources, so each should be compiled once per compiler
    and backend (more when packages built in parallel miss it together: `most`), not once per package:
    a key that differs between packages (a path in the preprocessed text) makes the sanitizer
    build of these tests compile the whole runtime for every package."""
    counts = {}
    try:
        with open(misses) as f:
            for line in f:
                src = line.strip()
                if src.startswith("runtime/"):
                    counts[src] = counts.get(src, 0) + 1
    except OSError:
        pass
    return [f"{src} compiled {n} times for {n_packages} packages (at most {most} expected): its cache key "
            "differs between packages" for src, n in sorted(counts.items()) if n > most]


def main():
    ap = argparse.ArgumentParser(description="Compile models to C packages and compare them with dycl run.")
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "compile-tests"))
    ap.add_argument("--node-tests", default=os.path.join(ROOT, "build", "onnx-node-tests"))
    ap.add_argument("--pytorch-tests", default=os.path.join(ROOT, "build", "pytorch-tests"))
    ap.add_argument("--suite", default=os.path.join(ROOT, "build", "suite", "small"),
                    help="the suite's generated models (the suite.small test); a missing model is a failure")
    ap.add_argument("--emit-all-ops", default=os.path.join(ROOT, "build", "tests", "emit_all_ops"))
    ap.add_argument("--backends", default="ref,cpu", help="the backends to compile for (comma-separated)")
    ap.add_argument("--threads", type=int, default=1, help="threads of the cpu runs, package and dycl run alike")
    ap.add_argument("--filter", default="", help="regex on model names")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    ap.add_argument("--no-clang", action="store_true", help="skip the clang build")
    ap.add_argument("--max-cases", type=int, default=0,
                    help="run only the first N input sets of each model (0: all)")
    ap.add_argument("--clang-cases", type=int, default=0,
                    help="run only the first N input sets of each model with the clang build (0: all)")
    ap.add_argument("--no-cache", action="store_true", help="compile every package from scratch")
    ap.add_argument("--cflags", default="", help="CFLAGS for the packages (default: theirs, -O2)")
    ap.add_argument("--golden-only", action="store_true")
    ap.add_argument("--update", action="store_true", help="rewrite the golden file")
    ap.add_argument("-v", action="store_true", help="print build times and every failure in full")
    args = ap.parse_args()
    args.dycl = os.path.abspath(args.dycl)
    args.work = os.path.abspath(args.work)
    args.ref_runs = {}
    args.backends = [b for b in args.backends.split(",") if b]
    if not args.backends or any(b not in ("ref", "cpu") for b in args.backends):
        print(f"run_compile_tests: --backends takes ref and/or cpu, not {args.backends}", file=sys.stderr)
        return 2
    if not os.access(args.dycl, os.X_OK):
        print(f"run_compile_tests: no dycl binary at {args.dycl}", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    t_start = time.monotonic()
    passed = failed = 0
    g = golden(args, log) if "ref" in args.backends or args.golden_only else None  # the golden file is a ref package's
    if g:
        failed += 1
        log(f"FAIL golden early_exit.c: {g}")
    elif "ref" in args.backends or args.golden_only:
        passed += 1
        log("ok   golden early_exit.c")
    if args.golden_only:
        log(f"compile: {passed} passed, {failed} failed")
        return 1 if failed else 0

    flt = re.compile(args.filter) if args.filter else None
    suite, suite_problems = suite_models(os.path.abspath(args.suite), flt)
    for p in suite_problems:
        failed += 1
        log(f"FAIL {p}")
    models = (node_models(args.node_tests, flt, log) + pytorch_models(args.pytorch_tests, flt, log) + demo_model(flt) +
              edge_models(args.work, flt, log) + suite)
    cache = os.path.join(args.work, "cc-cache")
    if os.path.isdir(cache):  # objects unused for two days belong to older sources
        for f in os.listdir(cache):
            p = os.path.join(cache, f)
            try:
                if time.time() - os.path.getmtime(p) > 2 * 86400:
                    os.remove(p)
            except OSError:
                pass
    wrapper = os.path.join(HERE, "cc_cache.sh")
    cc_gcc = "gcc" if args.no_cache else f"{wrapper} {cache} gcc"
    cc_clang = None
    if not args.no_clang and shutil.which("clang"):
        cc_clang = "clang" if args.no_cache else f"{wrapper} {cache} clang"
    elif not args.no_clang:
        log("note: clang not found, the packages are built with gcc only")

    misses = os.path.join(cache, "misses")
    if os.path.exists(misses):
        os.remove(misses)
    jobs = [(m, b) for m in models for b in args.backends]
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
        for r in ex.map(lambda mb: test_model(args, mb[0], mb[1], cc_gcc, cc_clang), jobs):
            passed += r["passed"]
            failed += r["failed"]
            times = ", ".join(f"{k} {v:.2f} s" for k, v in r["times"].items())
            status = "ok  " if not r["failed"] else "FAIL"
            log(f"{status} {r['name']}: {r['passed']} passed, {r['failed']} failed" + (f"  ({times})" if args.v else ""))
            for f in r["fails"] if (args.v or r["failed"]) else []:
                log(f"     {f}")
    if not args.no_cache:
        # a key per compiler and backend (a cpu package's flags differ), each missed at most by
        # the packages built at the same time
        most = max(1, args.j) * (2 if cc_clang else 1) * len(args.backends)
        fails = cache_checks(misses, len(jobs), most)
        failed += len(fails)
        passed += not fails
        log(f"{'ok  ' if not fails else 'FAIL'} compiler cache")
        for f in fails:
            log(f"     {f}")
    if not flt:
        compilers = [("gcc", cc_gcc, "gcc")] + ([("clang", cc_clang, "clang")] if cc_clang else [])
        checks = [("api", lambda: api_checks(args, compilers, args.node_tests))]
        if "ref" in args.backends:  # the ref packages' checks
            checks += [("weights file", lambda: weights_checks(args)),
                       ("runtime of every op", lambda: all_ops_checks(args, compilers))]
        if "cpu" in args.backends:
            checks += [("two packages in one program", lambda: link_checks(args, cc_gcc, "gcc"))]
        for name, check in checks:
            fails, p = check()
            passed += p
            failed += len(fails)
            log(f"{'ok  ' if not fails else 'FAIL'} {name}: {p} passed, {len(fails)} failed")
            for f in fails:
                log(f"     {f}")
    log(f"({len(models)} models in {time.monotonic() - t_start:.0f} s)")
    log(f"compile: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
