#!/usr/bin/python3
"""Tests of `dycl split`: the static ONNX sub-networks must be valid and compute what dycl computes.

Usage: /usr/bin/python3 tests/split/run_split_tests.py [--dycl build/dycl] [--work build/split-tests]
           [--node-tests build/onnx-node-tests] [--pytorch-tests build/pytorch-tests]
           [--ort build/ort] [--suite build/suite/small] [--suite-cases N] [--filter REGEX]
           [--max-calls N] [-j N] [-v]

Models: the ONNX backend node tests with If/Loop/Scan/SequenceMap (test_if*, test_loop*, test_scan*,
test_sequence_map*), the dynamic PyTorch models of tests/pytorch (their cache is generated when
missing or stale), models/demo/early_exit.onnx, hand-made corner cases (edge_models.py) and every
model of the dynamic-network suite (models/suite) as the suite.small test generates them into --suite
(build/suite/small, generated when missing; its first --suite-cases input sets; a suite model that
cannot be generated is a failure, not a skip). For each model:

 1. `dycl split MODEL -o WORK/<model>/split` must succeed and write program.json (parsed, and every
    sub-network it names must have its file) and the sub-network files;
 2. every subnet_<k>.onnx must pass onnx.checker.check_model(m, full_check=True) (ONNX's shape
    inference included) and contain no If/Loop/Scan/SequenceMap;
 3. for each input case, `dycl run MODEL INPUTS --record-subnets WORK/<model>/rec/<case>` records every
    sub-network call; up to --max-calls calls per sub-network and case (evenly spread, first and last
    included) are run through ONNX Runtime (onnxruntime-node, installed by setup_ort.sh into --ort)
    on the recorded inputs and compared with dycl's recorded outputs by ort_check.js (floats within
    atol 1e-5 + rtol 1e-3, the rest exactly). onnxruntime-node feeds and returns tensors only, so a
    call with sequence or optional values runs through a wrapper of the sub-network built here:
    SequenceConstruct/Optional nodes rebuild its inputs from tensors, SequenceLength/SequenceAt and
    OptionalHasElement/OptionalGetElement unpack its outputs (lengths from the recording).

A model dycl cannot run (an expected conformance failure) has its calls skipped, not failed (a suite
model must run). Every
split, every sub-network check and every ORT comparison counts as one test. The last line printed is
`split: N passed, M failed`. Exit status 0 when nothing failed, 1 otherwise (ONNX Runtime that could
not be set up counts as a failure; the checks that do not need it still run and are reported), 2 on
usage errors.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_TEST_RE = re.compile(r"^test_(if|loop|scan|sequence_map)")
CONTROL_OPS = {"If", "Loop", "Scan", "SequenceMap"}
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|"
                          r"runtime error:|AddressSanitizer:DEADLYSIGNAL")


def crashed(r):
    """A crash (death by a signal) or a sanitizer report: always a failure."""
    return r.returncode < 0 or r.returncode > 2 or bool(SANITIZER_RE.search(r.stderr))


# --------------------------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------------------------

def _indexed(folder, prefix):
    files = []
    for f in os.listdir(folder):
        m = re.match(prefix + r"_(\d+)\.pb$", f)
        if m:
            files.append((int(m.group(1)), os.path.join(folder, f)))
    return [p for _, p in sorted(files)]


def node_test_models(data, log, pattern=NODE_TEST_RE):
    if not os.path.isdir(data) or not any(NODE_TEST_RE.match(d) for d in os.listdir(data)):
        sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
        import gen_node_tests
        log(f"generating the ONNX node tests into {data} ...")
        gen_node_tests.generate(data, quiet=True)
    models = []
    for d in sorted(os.listdir(data)):
        if not pattern.match(d) or not os.path.isfile(os.path.join(data, d, "model.onnx")):
            continue
        cases = []
        for ds in sorted(os.listdir(os.path.join(data, d))):
            p = os.path.join(data, d, ds)
            if ds.startswith("test_data_set_") and os.path.isdir(p):
                cases.append((ds, _indexed(p, "input")))
        models.append((d, os.path.join(data, d, "model.onnx"), cases))
    return models


def pytorch_models(work, log):
    sys.path.insert(0, os.path.join(ROOT, "tests", "pytorch"))
    import run_pytorch_tests
    entries = run_pytorch_tests.load_or_generate(work, False, log)
    by_model = {}
    for e in entries:
        by_model.setdefault(e["model"], []).append((e["case"], [os.path.join(work, p) for p in e["inputs"]]))
    return [("pytorch_" + m, os.path.join(work, m, "model.onnx"), cases) for m, cases in sorted(by_model.items())]


def demo_model():
    d = os.path.join(ROOT, "models", "demo")
    cases = [(c, [os.path.join(d, "inputs", c + ".pb")]) for c in ("easy", "medium", "hard")]
    return [("demo_early_exit", os.path.join(d, "early_exit.onnx"),
             [c for c in cases if os.path.isfile(c[1][0])])]


# Known failures of the ONNX checker on sub-networks: (model, sub-network) -> the message. Empty:
# the ones the captioners and nmt had (boundary values of unknown rank, from PyTorch's squeeze(dim)
# exported as If(Shape[dim] == 1, Squeeze, Identity)) went away when constant folding started to
# resolve such Ifs (src/transform/fold.c). An entry that starts passing is reported as a failure.
KNOWN_CHECK_FAILURES = {}


def suite_models(suite_dir, n_cases):
    """Every model of the dynamic-network suite (models/suite), as the suite.small test generates them
    into suite_dir, with its first n_cases input sets; missing ones are generated (models/suite/suite.py).
    Returns (models, problems): a model still missing is a failure, not a skip."""
    sys.path.insert(0, os.path.join(ROOT, "models", "suite"))
    import suite
    models, problems = [], []
    # missing models (a build folder where the suite.small test has not run): generated here, as the
    # node tests are; one that cannot be generated is a failure
    want = [n for n in suite.discover() if not os.path.isfile(os.path.join(suite_dir, n, "model.onnx"))]
    if want:
        try:
            suite.ensure_generated(want, os.path.basename(suite_dir), os.path.dirname(suite_dir), 2)
        except Exception as e:  # noqa: BLE001 - reported below as missing models
            print(f"note: cannot generate the suite models ({type(e).__name__}: {e})", flush=True)
    for name in suite.discover():
        d = os.path.join(suite_dir, name)
        if not os.path.isfile(os.path.join(d, "model.onnx")):
            problems.append((f"suite_{name}: model", False,
                             f"{d}/model.onnx is missing (generate it: ctest -R suite.small, or make suite)"))
            continue
        cases = []
        for k in range(n_cases):
            ds = os.path.join(d, f"test_data_set_{k}")
            if os.path.isdir(ds):
                cases.append((f"test_data_set_{k}", _indexed(ds, "input")))
        if not cases:
            problems.append((f"suite_{name}: model", False, f"no test_data_set_0 in {d}"))
        models.append((f"suite_{name}", os.path.join(d, "model.onnx"), cases))
    return models, problems


# --------------------------------------------------------------------------------------------
# Wrappers for sequences and optionals (onnxruntime-node feeds tensors only)
# --------------------------------------------------------------------------------------------

def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _save(proto, path):
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def build_wrapper(model_path, call_dir, kinds, out_dir):
    """Writes out_dir/model.onnx (the sub-network with tensor-only inputs and outputs) and the flat
    inputs/expected outputs; returns (model, inputs, expected)."""
    import onnx
    from onnx import helper, TensorProto
    m = onnx.load(model_path)
    g = m.graph
    os.makedirs(out_dir, exist_ok=True)
    inputs, expected = [], []
    new_inputs, pre, post, new_outputs, inits = [], [], [], [], []

    def tensor_input(name, tp):
        path = os.path.join(out_dir, f"in_{len(inputs)}.pb")
        _save(tp, path)
        inputs.append(path)
        new_inputs.append(helper.make_tensor_value_info(name, tp.data_type, list(tp.dims)))

    def seq_input(name, sp, elem_type):
        items = []
        for k, tp in enumerate(sp.tensor_values):
            tensor_input(f"{name}__item{k}", tp)
            items.append(f"{name}__item{k}")
        if items:
            pre.append(helper.make_node("SequenceConstruct", items, [name]))
        else:
            pre.append(helper.make_node("SequenceEmpty", [], [name], dtype=elem_type or TensorProto.FLOAT))

    def tensor_output(name, tp):
        path = os.path.join(out_dir, f"out_{len(expected)}.pb")
        _save(tp, path)
        expected.append(path)
        new_outputs.append(helper.make_tensor_value_info(name, tp.data_type, None))

    def seq_output(name, sp):
        length = helper.make_tensor("", TensorProto.INT64, [], [len(sp.tensor_values)])
        post.append(helper.make_node("SequenceLength", [name], [f"{name}__len"]))
        tensor_output(f"{name}__len", length)
        for k, tp in enumerate(sp.tensor_values):
            idx = f"{name}__idx{k}"
            inits.append(helper.make_tensor(idx, TensorProto.INT64, [], [k]))
            post.append(helper.make_node("SequenceAt", [name, idx], [f"{name}__item{k}"]))
            tensor_output(f"{name}__item{k}", tp)

    def bool_tensor(v):
        return helper.make_tensor("", TensorProto.BOOL, [], [bool(v)])

    def read_value(path, kind):
        data = _read(path)
        if kind == "sequence":
            return onnx.SequenceProto.FromString(data)
        if kind == "optional":
            return onnx.OptionalProto.FromString(data)
        return TensorProto.FromString(data)

    def feed(name, tp_type, kind, val):
        """Rebuilds graph input `name` of type tp_type from the recorded value val (of kind)."""
        if tp_type.HasField("optional_type"):
            inner = tp_type.optional_type.elem_type
            if kind == "optional":
                if val.HasField("tensor_value"):
                    kind, val = "tensor", val.tensor_value
                elif val.HasField("sequence_value"):
                    kind, val = "sequence", val.sequence_value
                else:
                    node = helper.make_node("Optional", [], [name])
                    node.attribute.append(helper.make_attribute("type", inner))
                    pre.append(node)
                    return
            feed(f"{name}__elem", inner, kind, val)  # the host passed what the optional holds
            pre.append(helper.make_node("Optional", [f"{name}__elem"], [name]))
        elif kind == "sequence":
            seq_input(name, val, tp_type.sequence_type.elem_type.tensor_type.elem_type)
        elif kind == "tensor":
            tensor_input(name, val)
        else:
            raise ValueError(f"input '{name}': recorded {kind} for a non-optional input")

    def unpack(name, tp_type, kind, val):
        """Turns graph output `name` into tensor outputs matching the recorded value."""
        if tp_type.HasField("optional_type"):
            present = kind != "optional" or val.HasField("tensor_value") or val.HasField("sequence_value")
            post.append(helper.make_node("OptionalHasElement", [name], [f"{name}__has"]))
            tensor_output(f"{name}__has", bool_tensor(present))
            if not present:
                return
            if kind == "optional":
                kind, val = ("tensor", val.tensor_value) if val.HasField("tensor_value") else ("sequence", val.sequence_value)
            post.append(helper.make_node("OptionalGetElement", [name], [f"{name}__elem"]))
            unpack(f"{name}__elem", tp_type.optional_type.elem_type, kind, val)
        elif kind == "sequence":
            seq_output(name, val)
        elif kind == "tensor":
            tensor_output(name, val)
        else:
            raise ValueError(f"output '{name}': recorded {kind} for a non-optional output")

    for i, vi in enumerate(g.input):
        kind = kinds["inputs"][i]
        feed(vi.name, vi.type, kind, read_value(os.path.join(call_dir, f"input_{i}.pb"), kind))
    for j, vi in enumerate(g.output):
        kind = kinds["outputs"][j]
        unpack(vi.name, vi.type, kind, read_value(os.path.join(call_dir, f"output_{j}.pb"), kind))
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    del g.input[:]
    g.input.extend(new_inputs)
    del g.output[:]
    g.output.extend(new_outputs)
    g.initializer.extend(inits)
    out_model = os.path.join(out_dir, "model.onnx")
    onnx.save(m, out_model)
    return out_model, inputs, expected


# --------------------------------------------------------------------------------------------
# One model
# --------------------------------------------------------------------------------------------

def check_program(prog):
    """The host tree must be self-consistent: every value a step reads is defined before (graph or body
    inputs, host constants, outputs of earlier steps of this or an enclosing block), every
    sub-network is called exactly once in the tree, with the inputs and outputs its entry lists."""
    consts = {c["name"] for c in prog["constants"]}
    subnets = {s["index"]: s for s in prog["subnets"]}
    calls = {}

    def need(name, scope, what):
        if name is not None and name not in scope and name not in consts:
            raise ValueError(f"{what} reads '{name}' before it is defined")

    def block(b, scope):
        scope = set(scope) | set(b["inputs"])
        for st in b["steps"]:
            op = st["op"]
            if op == "call":
                k = st["subnet"]
                calls[k] = calls.get(k, 0) + 1
                sn = subnets[k]
                if st["inputs"] != [i["name"] for i in sn["inputs"]] or st["outputs"] != [o["name"] for o in sn["outputs"]]:
                    raise ValueError(f"call of subnet {k}: inputs/outputs differ from its entry")
                reads = st["inputs"]
            elif op == "if":
                reads = [st["cond"]]
            elif op == "loop":
                reads = [st["trip_count"], st["cond"]] + st["initial"]
            elif op == "scan":
                reads = [st["sequence_lens"]] + st["initial_state"] + st["scan_inputs"]
            elif op == "sequence_map":
                reads = st["inputs"]
            else:
                raise ValueError(f"unknown step '{op}'")
            for name in reads + st.get("captures", []):
                need(name, scope, f"{op} step")
            for key in ("then", "else", "body"):
                if key in st:
                    block(st[key], scope)
            scope |= {o for o in st["outputs"] if o is not None}
        for o in b["outputs"]:
            need(o, scope, f"block '{b['graph']}' output")
        return scope

    main = block(prog["host"], {i["name"] for i in prog["inputs"]})
    for o in prog["outputs"]:
        need(o["value"], main, "graph output")
    for k in subnets:
        if calls.get(k, 0) != 1:
            raise ValueError(f"subnet {k} is called {calls.get(k, 0)} times in the host tree")


def pick_calls(n, cap):
    if n <= cap:
        return list(range(n))
    if cap <= 1:
        return [0]
    return sorted({round(i * (n - 1) / (cap - 1)) for i in range(cap)})


def check_model_safely(dycl, work, name, model, cases, max_calls, timeout):
    try:
        return check_model(dycl, work, name, model, cases, max_calls, timeout)
    except Exception as e:  # a harness problem (timeout, missing binary): one failure, not a traceback
        return [(f"{name}: harness", False, f"{type(e).__name__}: {e}")], []


def check_model(dycl, work, name, model, cases, max_calls, timeout):
    """Returns (results, jobs): results are (test name, ok, message | None for a skip); jobs are the
    ORT comparisons to run."""
    import onnx
    results, jobs = [], []
    mdir = os.path.join(work, name)
    shutil.rmtree(mdir, ignore_errors=True)
    split_dir = os.path.join(mdir, "split")
    r = subprocess.run([dycl, "split", model, "-o", split_dir, "-q"], capture_output=True, text=True,
                       timeout=timeout)
    if crashed(r):
        results.append((f"{name}: split", False, f"crashed (exit {r.returncode}): {r.stderr.strip()[-400:]}"))
        return results, jobs
    if r.returncode != 0:
        msg = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        # a model dycl cannot load at all is not a split failure
        loadable = subprocess.run([dycl, "inspect", model], capture_output=True, text=True, timeout=timeout)
        results.append((f"{name}: split", None if loadable.returncode and not name.startswith("suite_") else False, msg))
        return results, jobs
    try:
        with open(os.path.join(split_dir, "program.json")) as f:
            prog = json.load(f)
        missing = [s["file"] for s in prog["subnets"] if not os.path.isfile(os.path.join(split_dir, s["file"]))]
        missing += [c["file"] for c in prog["constants"] if not os.path.isfile(os.path.join(split_dir, c["file"]))]
        if missing:
            raise ValueError("missing files: " + ", ".join(missing))
        check_program(prog)
    except (OSError, ValueError, KeyError) as e:
        results.append((f"{name}: split", False, f"program.json: {e}"))
        return results, jobs
    results.append((f"{name}: split", True, ""))
    subnets = prog["subnets"]
    for s in subnets:
        path = os.path.join(split_dir, s["file"])
        try:
            m = onnx.load(path)
            onnx.checker.check_model(m, full_check=True)
            bad = sorted({n.op_type for n in m.graph.node} & CONTROL_OPS)
            if bad:
                raise ValueError("contains control flow: " + ", ".join(bad))
            if [i.name for i in m.graph.input] != [i["name"] for i in s["inputs"]] or \
               [o.name for o in m.graph.output] != [o["name"] for o in s["outputs"]]:
                raise ValueError("graph inputs/outputs differ from program.json")
            known = KNOWN_CHECK_FAILURES.get((name, s["name"]))
            results.append((f"{name}: check {s['name']}", not known,
                            f"passes now: remove it from KNOWN_CHECK_FAILURES ({known})" if known else ""))
        except Exception as e:  # onnx raises several exception types
            msg = str(e).strip().splitlines()[0][:300]
            if KNOWN_CHECK_FAILURES.get((name, s["name"])) == msg:
                results.append((f"{name}: check {s['name']}", "xfail", msg))
            else:
                results.append((f"{name}: check {s['name']}", False, msg))
    # record sub-network calls
    for case, inputs in cases:
        rec = os.path.join(mdir, "rec", case)
        os.makedirs(os.path.join(mdir, "out", case), exist_ok=True)
        r = subprocess.run([dycl, "run", model] + inputs + ["-o", os.path.join(mdir, "out", case),
                                                            "--record-subnets", rec],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            msg = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
            if crashed(r):
                results.append((f"{name}/{case}: dycl run", False, f"crashed (exit {r.returncode}): {r.stderr.strip()[-400:]}"))
            else:  # a model dycl cannot run (its conformance failures are listed elsewhere); every suite model must run
                results.append((f"{name}/{case}: dycl run", False if name.startswith("suite_") else None, msg))
            continue
        for s in subnets:
            sdir = os.path.join(rec, f"subnet_{s['index']}")
            if not os.path.isdir(sdir):
                continue
            n = len([c for c in os.listdir(sdir) if c.startswith("call_")])
            for c in pick_calls(n, max_calls):
                cdir = os.path.join(sdir, f"call_{c}")
                test = f"{name}/{case}: {s['name']} call {c}"
                with open(os.path.join(cdir, "kinds.json")) as f:
                    kinds = json.load(f)
                sub_model = os.path.join(split_dir, s["file"])
                static_kinds = [v["type"]["kind"] for v in s["inputs"] + s["outputs"]]
                if all(k == "tensor" for k in kinds["inputs"] + kinds["outputs"] + static_kinds):
                    jobs.append({"id": test, "model": sub_model,
                                 "inputs": [os.path.join(cdir, f"input_{i}.pb") for i in range(len(kinds["inputs"]))],
                                 "expected": [os.path.join(cdir, f"output_{j}.pb") for j in range(len(kinds["outputs"]))]})
                    continue
                try:
                    wm, wi, we = build_wrapper(sub_model, cdir, kinds, os.path.join(cdir, "wrapped"))
                    jobs.append({"id": test + " (wrapped)", "model": wm, "inputs": wi, "expected": we})
                except Exception as e:
                    results.append((test, False, f"cannot build the tensor-only wrapper: {e}"))
    return results, jobs


def cli_checks(dycl, work, model):
    """The command line: help, usage errors and model errors give the documented exit codes."""
    bad = os.path.join(work, "not_a_model.onnx")
    with open(bad, "wb") as f:
        f.write(b"this is not protobuf")
    checks = [("--help", [dycl, "split", "--help"], 0),
              ("no arguments", [dycl, "split"], 2),
              ("no -o", [dycl, "split", model], 2),
              ("unknown option", [dycl, "split", model, "-o", os.path.join(work, "cli"), "--bogus"], 2),
              ("missing model", [dycl, "split", os.path.join(work, "missing.onnx"), "-o", os.path.join(work, "cli")], 1),
              ("invalid model", [dycl, "split", bad, "-o", os.path.join(work, "cli")], 1)]
    results = []
    for what, cmd, want in checks:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        ok = r.returncode == want and (want != 1 or r.stderr.startswith("dycl: error: "))
        results.append((f"cli: {what}", ok, "" if ok else f"exit {r.returncode}, expected {want}: {r.stderr.strip()[:200]}"))
    return results


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "split-tests"))
    ap.add_argument("--node-tests", default=os.path.join(ROOT, "build", "onnx-node-tests"))
    ap.add_argument("--pytorch-tests", default=os.path.join(ROOT, "build", "pytorch-tests"))
    ap.add_argument("--suite", default=os.path.join(ROOT, "build", "suite", "small"),
                    help="the dynamic-network suite's generated models (the suite.small test)")
    ap.add_argument("--suite-cases", type=int, default=3, help="input sets per suite model")
    ap.add_argument("--ort", default=os.path.join(ROOT, "build", "ort"), help="npm prefix of onnxruntime-node")
    ap.add_argument("--node", default=shutil.which("node") or "/usr/bin/node")
    ap.add_argument("--filter", default="", help="regex on the model name")
    ap.add_argument("--max-calls", type=int, default=12, help="ORT comparisons per sub-network and case")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--all-node-tests", action="store_true",
                    help="every ONNX node test, not only the control-flow ones (a wider test of the writer)")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("-v", action="store_true", help="print every test, not only failures")
    args = ap.parse_args()

    dycl = os.path.abspath(args.dycl)
    if not (os.path.isfile(dycl) and os.access(dycl, os.X_OK)):
        print(f"run_split_tests: no dycl binary at {dycl} (build it first)", file=sys.stderr)
        print("split: 0 passed, 0 failed")
        return 2
    try:
        import onnx  # noqa: F401
    except ImportError:
        print("run_split_tests: needs onnx (run with Debian's /usr/bin/python3)", file=sys.stderr)
        print("split: 0 passed, 0 failed")
        return 2
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    models = node_test_models(os.path.abspath(args.node_tests), log,
                              re.compile(r"^test_") if args.all_node_tests else NODE_TEST_RE)
    try:
        models += pytorch_models(os.path.abspath(args.pytorch_tests), log)
    except ImportError as e:
        log(f"run_split_tests: skipping the PyTorch models ({e})")
    models += demo_model()
    sys.path.insert(0, HERE)
    import edge_models
    models += edge_models.generate(os.path.join(work, "edge-models"))
    suite, suite_problems = suite_models(os.path.abspath(args.suite), args.suite_cases)
    models += suite
    if args.filter:
        flt = re.compile(args.filter)
        models = [m for m in models if flt.search(m[0])]
        suite_problems = [p for p in suite_problems if flt.search(p[0].split(":")[0])]

    # ONNX Runtime (in the background while the models are split)
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        ort_fut = pool.submit(subprocess.run, ["sh", os.path.join(HERE, "setup_ort.sh"), args.ort],
                              capture_output=True, text=True)
        futs = [pool.submit(check_model_safely, dycl, work, n, p, c, args.max_calls, args.timeout) for n, p, c in models]
        per_model = [f.result() for f in futs]
        ort_setup = ort_fut.result()
    ort_ok = ort_setup.returncode == 0
    results = cli_checks(dycl, work, demo_model()[0][1]) + suite_problems
    jobs = []
    for r, j in per_model:
        results += r
        jobs += j
    ort_results = {}
    if not ort_ok:
        log("run_split_tests: ONNX Runtime is not available, the ORT comparisons are skipped:\n  " +
            "\n  ".join(ort_setup.stderr.strip().splitlines()[-5:]))
    elif jobs:
        jobs_file = os.path.join(work, "jobs.json")
        res_file = os.path.join(work, "ort_results.json")
        with open(jobs_file, "w") as f:
            json.dump(jobs, f, indent=1)
        r = subprocess.run([args.node, os.path.join(HERE, "ort_check.js"), "--ort", os.path.abspath(args.ort),
                            jobs_file, res_file], capture_output=True, text=True, timeout=args.timeout * 10)
        if r.returncode != 0 or not os.path.isfile(res_file):
            log("run_split_tests: ort_check.js failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
            for j in jobs:
                results.append((j["id"], False, "ort_check.js failed"))
        else:
            with open(res_file) as f:
                for x in json.load(f):
                    ort_results[x["id"]] = x
            for j in jobs:
                x = ort_results.get(j["id"])
                results.append((j["id"], bool(x and x["ok"]), (x or {}).get("msg", "no result")))

    passed = sum(1 for _, ok, _ in results if ok is True)
    failed = sum(1 for _, ok, _ in results if ok is False)
    skipped = sum(1 for _, ok, _ in results if ok is None)
    xfailed = sum(1 for _, ok, _ in results if ok == "xfail")
    n_subnets = sum(1 for t, _, _ in results if ": check subnet_" in t)
    n_calls = len(jobs)
    for test, ok, msg in results:
        if ok is False:
            print(f"FAIL {test}: {msg}")
        elif ok is None:
            print(f"SKIP {test}: {msg}")
        elif ok == "xfail":
            print(f"XFAIL {test}: {msg} (known, see KNOWN_CHECK_FAILURES)")
        elif args.v:
            print(f"PASS {test}")
    print(f"{len(models)} models, {n_subnets} sub-networks checked, {n_calls} ORT comparisons"
          f"{'' if ort_ok else ' (not run: no ONNX Runtime)'}, {skipped} skipped, {xfailed} known failures")
    print(f"split: {passed} passed, {failed} failed")
    if not ort_ok:
        print("split: ONNX Runtime (onnxruntime-node) could not be set up; the sub-networks were not checked in it")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
