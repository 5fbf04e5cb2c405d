#!/usr/bin/python3
"""The leak check: `valgrind --leak-check=full` over a representative set of the test suite's runs
must report no leak and no memory error.

Usage: /usr/bin/python3 tests/leaks/run_leaks.py [--dycl build/dycl] [--data build]
           [--work build/leaks] [-j N] [--filter REGEX] [-v]

Runs (each on the ref and the cpu backend where it runs a model):
  dycl run on the demo's three inputs (exits 1, 2 and 3), with -o;
  dycl run on models of the dynamic-network suite, small configuration (DATA/suite/small, the
    suite.small test's output; the missing ones are generated), inputs taking different paths;
  dycl run on the Loop, Scan, If and SequenceMap ONNX node tests (DATA/onnx-node-tests, generated
    when missing): sequences, optionals, scan outputs;
  a run stopped by --max-iterations in the middle of a loop;
  dycl inspect --dot, split, compile and bench on the demo;
  hostile inputs of tests/bad_inputs/make_cases.py (written into WORK/bad_inputs): truncated and
    random model files, cycles, unknown ops, wrong inputs, deep nesting, petabyte tensors, usage
    errors — each must still exit with the status the bad-input test expects;
  the runner of packages made by `dycl compile` (ref and cpu), on the demo's inputs and on a
    wrong input.
Each runs under
  valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
           --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
           --suppressions=tests/leaks/valgrind.supp
(error exit code 99, not 1: the hostile-input runs exit 1 by design) and passes when the program's
exit status is the expected one and valgrind's log says `ERROR SUMMARY: 0 errors`. The
suppressions file holds only third-party (libgomp) entries, each explained there.

One line per run, then `leaks: N passed, M failed`. Exit status 1 when a run failed, 2 on a usage
error.
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
DEMO = os.path.join(ROOT, "models", "demo")
SUPP = os.path.join(HERE, "valgrind.supp")
NODE_TESTS = ["test_loop11", "test_loop13_seq", "test_loop16_seq_none", "test_scan9_sum", "test_scan_sum",
              "test_if", "test_if_seq", "test_if_opt", "test_sequence_map_add_2_sequences",
              "test_sequence_map_extract_shapes", "test_sequence_map_identity_1_sequence_1_tensor"]
# suite models and input sets: convolutions with an early exit, gates skipping blocks, a decoder
# loop, routing to experts
SUITE = {"sdn_mobilenet": [2], "skipnet_rnn": [10], "nmt": [4], "moe": [7]}
BAD_CASES = ["truncated_model", "random_bytes_model", "empty_model_file", "missing_model_file", "graph_cycle",
             "undefined_value", "unknown_op", "future_opset", "input_wrong_rank", "input_wrong_dtype",
             "input_missing", "input_garbage_pb", "input_garbage_npy", "initializer_short_raw_data",
             "if_branch_types_differ", "loop_float_trip_count", "external_data_dotdot", "nesting_1000_deep",
             "constant_of_shape_petabytes", "input_dims_overflow", "rank_above_max", "duplicate_output_name",
             "loop_body_arity", "scan_too_many_scan_inputs", "attribute_wrong_type", "string_initializer_count",
             "usage_run_without_args", "usage_run_missing_o_arg"]
BACKENDS = ("ref", "cpu")
VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99", "--num-callers=30",
            f"--suppressions={SUPP}"]
SUMMARY_RE = re.compile(r"ERROR SUMMARY: (\d+) errors")


def sh(cmd, timeout=600, cwd=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s"
    except OSError as e:
        return -1, f"cannot run {cmd[0]}: {e}"


def inputs_of(case_dir):
    files = [f for f in os.listdir(case_dir) if f.startswith("input_") and f.endswith(".pb")]
    return [os.path.join(case_dir, f) for f in sorted(files, key=lambda f: int(f[6:-3]))]


class Run:
    def __init__(self, name, argv, expect=0, cwd=None):
        self.name, self.argv, self.expect, self.cwd = name, argv, expect, cwd


def model_runs(args):
    """(name, model, [input files]) for the models to run on both backends."""
    out = [(f"demo/{k}", os.path.join(DEMO, "early_exit.onnx"), [os.path.join(DEMO, "inputs", f"{k}.pb")])
           for k in ("easy", "medium", "hard")]
    node_dir = os.path.join(args.data, "onnx-node-tests")
    sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
    import gen_node_tests  # the conformance test's generator (cached)
    gen_node_tests.generate(node_dir, quiet=True)
    for t in NODE_TESTS:
        out.append((f"node/{t}", os.path.join(node_dir, t, "model.onnx"),
                    inputs_of(os.path.join(node_dir, t, "test_data_set_0"))))
    suite_out = os.path.join(args.data, "suite")
    rc, text = sh([sys.executable, os.path.join(ROOT, "models", "suite", "suite.py"), "generate", "--config", "small",
                   "--models", ",".join(SUITE), "--out", suite_out], timeout=1800)
    if rc != 0:
        raise RuntimeError(f"generating the suite models failed:\n{text[-3000:]}")
    for m, sets in SUITE.items():
        for k in sets:
            d = os.path.join(suite_out, "small", m)
            out.append((f"suite/{m}/{k}", os.path.join(d, "model.onnx"), inputs_of(os.path.join(d, f"test_data_set_{k}"))))
    return out


def bad_runs(args):
    bad_dir = os.path.join(args.work, "bad_inputs")
    rc, text = sh([sys.executable, os.path.join(ROOT, "tests", "bad_inputs", "make_cases.py"), bad_dir])
    if rc != 0:
        raise RuntimeError(f"tests/bad_inputs/make_cases.py failed:\n{text[-3000:]}")
    with open(os.path.join(bad_dir, "cases.json")) as f:
        cases = {c["name"]: c for c in json.load(f)}
    missing = [n for n in BAD_CASES if n not in cases]
    if missing:
        raise RuntimeError(f"tests/bad_inputs/make_cases.py has no case {', '.join(missing)}")
    return [Run(f"bad/{n}", [args.dycl] + cases[n]["argv"], cases[n]["exit"]) for n in BAD_CASES]


def build_package(args, backend):
    """The demo's package for `backend`, built with -O1 -g; returns its folder."""
    name = f"early_exit_{backend}"
    pkg = os.path.join(args.work, "pkg", name)
    shutil.rmtree(pkg, ignore_errors=True)
    rc, text = sh([args.dycl, "compile", os.path.join(DEMO, "early_exit.onnx"), "-o", pkg, "--name", name,
                   "--backend", backend, "--quiet"])
    if rc == 0:
        cc = f"{os.path.join(ROOT, 'tests', 'compile', 'cc_cache.sh')} {os.path.join(args.work, 'cc-cache')} cc"
        rc, text = sh(["make", "-C", pkg, f"-j{args.jobs}", f"CC={cc}", "CFLAGS=-O1 -g", "run"], timeout=1800)
    if rc != 0:
        raise RuntimeError(f"building the {backend} package of the demo failed:\n{text[-3000:]}")
    return pkg


def all_runs(args):
    runs = []
    out = os.path.join(args.work, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    models = model_runs(args)
    for backend in BACKENDS:
        for name, model, inputs in models:
            runs.append(Run(f"run {name} [{backend}]", [args.dycl, "run", "--backend", backend, model] + inputs +
                            ["-o", os.path.join(out, f"{backend}_{name.replace('/', '_')}")]))
        # stopped in the middle of a loop: carried values and scan outputs released on the error path
        node = os.path.join(args.data, "onnx-node-tests", "test_loop13_seq")
        runs.append(Run(f"run node/test_loop13_seq --max-iterations 2 [{backend}]",
                        [args.dycl, "run", "--backend", backend, "--max-iterations", "2",
                         os.path.join(node, "model.onnx")] + inputs_of(os.path.join(node, "test_data_set_0")), 1))
        runs.append(Run(f"bench demo [{backend}]", [args.dycl, "bench", "--backend", backend, "--iters", "3",
                                                     "--warmup", "1", os.path.join(DEMO, "early_exit.onnx"),
                                                     os.path.join(DEMO, "inputs", "hard.pb")]))
    demo = os.path.join(DEMO, "early_exit.onnx")
    runs.append(Run("inspect demo --dot", [args.dycl, "inspect", demo, "--dot", os.path.join(args.work, "demo.dot")]))
    runs.append(Run("split demo", [args.dycl, "split", demo, "-o", os.path.join(args.work, "split")]))
    runs.append(Run("compile demo", [args.dycl, "compile", demo, "-o", os.path.join(args.work, "compiled"),
                                     "--name", "early_exit", "--quiet"]))
    runs += bad_runs(args)
    for backend in BACKENDS:
        pkg = build_package(args, backend)
        exe = os.path.join(pkg, "run")
        for k in ("easy", "medium", "hard"):
            runs.append(Run(f"package {backend} {k}", [exe, os.path.join(DEMO, "inputs", f"{k}.pb"), "-o",
                                                       os.path.join(out, f"pkg_{backend}_{k}")]))
        # a wrong input (the bad-input test's int64 tensor where a float image is expected)
        runs.append(Run(f"package {backend} wrong input",
                        [exe, os.path.join(args.work, "bad_inputs", "inputs", "x_int64.pb")], 1))
    return runs


def check(run):
    """(ok, seconds, why, log)"""
    t0 = time.monotonic()
    rc, text = sh(VALGRIND + run.argv, cwd=run.cwd)
    secs = time.monotonic() - t0
    m = SUMMARY_RE.findall(text)
    if rc == 99 or (m and m[-1] != "0"):
        return False, secs, f"valgrind: {m[-1] if m else '?'} errors", text
    if not m:
        return False, secs, f"no valgrind summary (exit status {rc})", text
    if rc != run.expect:
        return False, secs, f"exit status {rc}, expected {run.expect}", text
    return True, secs, "", text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--data", default=os.path.join(ROOT, "build"),
                    help="folder holding (or receiving) onnx-node-tests/ and suite/")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "leaks"))
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--filter", default="", help="regex on the run names")
    ap.add_argument("-v", action="store_true", help="print valgrind's log of every run")
    args = ap.parse_args()
    args.dycl, args.data, args.work = (os.path.abspath(p) for p in (args.dycl, args.data, args.work))
    if not os.access(args.dycl, os.X_OK):
        print(f"run_leaks: usage error: no dycl at {args.dycl}", file=sys.stderr)
        return 2
    if not shutil.which("valgrind"):
        print("leaks: error: valgrind is not installed (scripts/setup.sh test installs it)", file=sys.stderr)
        return 1
    os.makedirs(args.work, exist_ok=True)
    t0 = time.monotonic()
    try:
        runs = all_runs(args)
    except Exception as e:  # noqa: BLE001 - a model or package that cannot be made is a failure
        print(f"leaks: error: {e}", file=sys.stderr)
        print("leaks: 0 passed, 1 failed")
        return 1
    if args.filter:
        runs = [r for r in runs if re.search(args.filter, r.name)]
    passed = failed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        for run, (ok, secs, why, text) in zip(runs, ex.map(check, runs)):
            if ok:
                passed += 1
                print(f"ok   {run.name} ({secs:.1f} s)", flush=True)
            else:
                failed += 1
                print(f"FAIL {run.name}: {why} ({secs:.1f} s)\n  command: {' '.join(VALGRIND + run.argv)}", flush=True)
            if not ok or args.v:
                print("  " + text[-8000:].replace("\n", "\n  "), flush=True)
    print(f"leaks: {passed} passed, {failed} failed ({time.monotonic() - t0:.0f} s)")
    return 1 if failed or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
