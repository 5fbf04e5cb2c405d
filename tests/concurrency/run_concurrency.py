#!/usr/bin/python3
"""Concurrency: one model run from several threads at once, each with its own instance, must give
the outputs of serial runs, bit for bit.

Usage: /usr/bin/python3 tests/concurrency/run_concurrency.py --part api|package
           [--dycl build/dycl] [--test-bin build/tests/test_concurrency] [--data build]
           [--work build/concurrency] [--backends ref,cpu] [--threads N] [--iters N]
           [--cpu-threads N] [--cc CC] [--pkg-cflags FLAGS] [--filter REGEX]

--part api: the library API, through tests/concurrency/test_concurrency.c (one dycl_model_t, one
  dycl_session_t per thread), on every backend of --backends, for
    the demo model (models/demo, its three inputs: exits 1, 2 and 3),
    control-flow ONNX node tests (Loop with sequences and optionals, Scan, If, SequenceMap; from
      DATA/onnx-node-tests, generated when missing),
    models of the dynamic-network suite, small configuration (DATA/suite/small, the suite.small
      test's output; the missing ones are generated), several input sets each, taking different
      paths (exits, skipped blocks, decode lengths, experts),
    two models of tests/cpu/cpu_cases.py written into WORK: a Loop whose MatMul sees a new shape
      on every iteration (more shapes than the cpu backend's primitive cache holds: entries are
      evicted while other threads run theirs) and an If choosing between two convolutions;
    and the models of LIMITED again with an iteration limit that some of their input sets exceed
      (those runs must fail, concurrently too, with the serial run's message).
--part package: `dycl compile --backend B` packages of some of those models, for each backend B
  of --backends, built with CC and --pkg-cflags (objects shared through tests/compile/cc_cache.sh),
  and tests/concurrency/pkg_threads.c linked against each: an instance per thread (LIMITED ones
  again with the limit, through NAME_set_limits).

Each check prints `concurrency NAME [BACKEND]: T threads x I runs = R concurrent runs over S input
sets (...), M mismatches`; the last line is `concurrency (PART): C checks, R concurrent runs, N
failed`. Exit status 1 when a check failed (a mismatch, an error, a sanitizer report), 2 on a
usage error. Under ThreadSanitizer (DYCL_SANITIZE_THREAD, `make check-tsan`) a TSan report makes
the program exit 66, which fails its check.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(ROOT, "models", "demo")
NODE_TESTS = ["test_loop11", "test_loop13_seq", "test_loop16_seq_none", "test_scan9_sum", "test_scan_sum",
              "test_if_seq", "test_if_opt", "test_sequence_map_add_2_sequences",
              "test_sequence_map_extract_shapes"]
# suite models: convolutions with early exits, recurrent gates skipping blocks, a greedy decoder,
# routing, a captioner (CNN encoder + decoder loop), a policy network choosing blocks
SUITE = ["sdn_mobilenet", "skipnet_rnn", "nmt", "moe", "caption_resnet", "blockdrop"]
SUITE_SETS = [0, 2, 5, 7, 10, 12, 15, 17, 19]
CPU_CASES = ["loop_growing_matmul", "if_conv_branches"]
# packages: the demo (convolutions, If), a decoder loop (suite nmt), sequences in and out
PACKAGES = ["demo/early_exit", "suite/nmt", "node/test_loop13_seq"]
# checked again with an iteration limit that some input sets exceed: failing and succeeding runs
# side by side, the failures' messages compared with the serial runs' (api: both; packages: nmt)
LIMITED = {"suite/nmt": 10, "cpu_cases/loop_growing_matmul": 10}
SANITIZER_RE = re.compile(r"WARNING: ThreadSanitizer|ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|"
                          r"runtime error:")
LINE_RE = re.compile(r"= (\d+) concurrent runs")


def sh(cmd, timeout=900, env=None, cwd=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=cwd)
        return p.returncode, p.stdout.decode(errors="replace"), time.monotonic() - t0
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s", time.monotonic() - t0
    except OSError as e:
        return -1, f"cannot run {cmd[0]}: {e}", time.monotonic() - t0


def inputs_of(case_dir, prefix="input_"):
    files = [f for f in os.listdir(case_dir) if f.startswith(prefix) and f.endswith(".pb")]
    return [os.path.join(case_dir, f) for f in sorted(files, key=lambda f: int(f[len(prefix):-3]))]


def node_models(data):
    d = os.path.join(data, "onnx-node-tests")
    sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
    import gen_node_tests  # noqa: E402 - the conformance test's generator (cached, ~2 s)
    gen_node_tests.generate(d, quiet=True)
    out = []
    for name in NODE_TESTS:
        mdir = os.path.join(d, name)
        sets = [inputs_of(os.path.join(mdir, s)) for s in sorted(os.listdir(mdir)) if s.startswith("test_data_set_")]
        out.append(("node/" + name, os.path.join(mdir, "model.onnx"), sets))
    return out


def suite_models(data, log):
    out_dir = os.path.join(data, "suite")
    small = os.path.join(out_dir, "small")
    # suite.py skips the models whose stamp is current (the suite.small test generated them all)
    rc, text, _ = sh([sys.executable, os.path.join(ROOT, "models", "suite", "suite.py"), "generate", "--config",
                      "small", "--models", ",".join(SUITE), "--out", out_dir], timeout=1800)
    if rc != 0:
        raise RuntimeError(f"generating the suite models failed:\n{text[-3000:]}")
    out = []
    for name in SUITE:
        mdir = os.path.join(small, name)
        sets = [inputs_of(os.path.join(mdir, f"test_data_set_{k}")) for k in SUITE_SETS]
        out.append(("suite/" + name, os.path.join(mdir, "model.onnx"), sets))
    return out


def cpu_case_models(work):
    import onnx
    from onnx import numpy_helper
    sys.path.insert(0, os.path.join(ROOT, "tests", "cpu"))
    import cpu_cases
    by_name = {c[0]: c for c in cpu_cases.cases()}
    out = []
    for name in CPU_CASES:
        if name not in by_name:
            raise RuntimeError(f"tests/cpu/cpu_cases.py has no case '{name}'")
        _, model, sets = by_name[name]
        mdir = os.path.join(work, "models", name)
        os.makedirs(mdir, exist_ok=True)
        onnx.save(model, os.path.join(mdir, "model.onnx"))
        names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        files = []
        for k, arrays in enumerate(sets):
            sd = os.path.join(mdir, f"set_{k}")
            os.makedirs(sd, exist_ok=True)
            fs = []
            for i, (n, a) in enumerate(zip(names, arrays)):
                p = os.path.join(sd, f"input_{i}.pb")
                with open(p, "wb") as f:
                    f.write(numpy_helper.from_array(a, n).SerializeToString())
                fs.append(p)
            files.append(fs)
        out.append(("cpu_cases/" + name, os.path.join(mdir, "model.onnx"), files))
    return out


def demo_model():
    sets = [[os.path.join(DEMO, "inputs", f"{k}.pb")] for k in ("easy", "medium", "hard")]
    return [("demo/early_exit", os.path.join(DEMO, "early_exit.onnx"), sets)]


def check_output(rc, text):
    """None when a check passed, else why not."""
    if SANITIZER_RE.search(text):
        return "sanitizer report"
    if rc != 0:
        return f"exit status {rc}"
    if not LINE_RE.search(text) or " 0 mismatches" not in text:
        return "no result line"
    return None


def with_limits(models):
    """models, then those of LIMITED again with their iteration limit: (name, model, sets, limit)."""
    return [m + (0,) for m in models] + [(f"{m[0]} --max-iterations {LIMITED[m[0]]}",) + m[1:] + (LIMITED[m[0]],)
                                         for m in models if m[0] in LIMITED]


def run_api(args, models, log):
    results = []
    for backend in args.backends:
        for name, model, sets, limit in with_limits(models):
            cmd = [args.test_bin, "--backend", backend, "--threads", str(args.threads), "--iters", str(args.iters),
                   "--name", name]
            if backend == "cpu" and args.cpu_threads:
                cmd += ["--cpu-threads", str(args.cpu_threads)]
            if limit:
                cmd += ["--max-iterations", str(limit)]
            cmd += [model] + [",".join(s) for s in sets]
            rc, text, secs = sh(cmd)
            results.append((f"{name} [{backend}]", cmd, rc, text, secs))
    return results


def build_package(args, name, model, backend):
    pkg_name = re.sub(r"\W", "_", name.split("/")[-1]) + "_" + backend
    pkg = os.path.join(args.work, "pkg", pkg_name)
    shutil.rmtree(pkg, ignore_errors=True)
    rc, text, _ = sh([args.dycl, "compile", model, "-o", pkg, "--name", pkg_name, "--backend", backend, "--quiet"])
    if rc != 0:
        return None, f"dycl compile failed:\n{text}"
    # objects shared between the packages (they hold the same runtime sources): the compile tests' cache
    cc = f"{os.path.join(ROOT, 'tests', 'compile', 'cc_cache.sh')} {os.path.join(args.work, 'cc-cache')} {args.cc}"
    rc, text, _ = sh(["make", "-C", pkg, f"-j{args.jobs}", f"CC={cc}", f"CFLAGS={args.pkg_cflags}",
                      f"LDFLAGS={args.pkg_cflags}", f"lib{pkg_name}.a"], timeout=1800)
    if rc != 0:
        return None, f"building the package failed:\n{text[-4000:]}"
    # the libraries a program links the package with: the Makefile's LDLIBS
    with open(os.path.join(pkg, "Makefile")) as f:
        m = re.search(r"^LDLIBS\s*:?=(.*)$", f.read(), re.M)
    libs = m.group(1).split() if m else ["-lm"]
    exe = os.path.join(pkg, "pkg_threads")
    cmd = [args.cc, "-std=c11", "-D_XOPEN_SOURCE=700", "-Wall", "-Wextra", "-Werror"] + args.pkg_cflags.split() + [
        f"-DPKG_NAME={pkg_name}", f'-DPKG_HEADER="{pkg_name}.h"', "-I" + pkg,
        os.path.join(HERE, "pkg_threads.c"), os.path.join(pkg, f"lib{pkg_name}.a")] + libs + ["-lpthread", "-o", exe]
    rc, text, _ = sh(cmd)
    if rc != 0:
        return None, f"building pkg_threads failed:\n{text}"
    return (pkg, pkg_name, exe), None


def run_packages(args, models, log):
    by_name = {m[0]: m for m in models}
    results = []
    for backend in args.backends:
        for name in PACKAGES:
            if name not in by_name:
                continue  # --filter
            _, model, sets = by_name[name]
            t0 = time.monotonic()
            built, err = build_package(args, name, model, backend)
            if err:
                results.append((f"package {name} [{backend}]", [], 1, err, time.monotonic() - t0))
                continue
            pkg, pkg_name, exe = built
            for limit in [0] + ([LIMITED[name]] if name in LIMITED else []):
                cmd = [exe, os.path.join(pkg, f"{pkg_name}.weights"), "--threads", str(args.threads), "--iters",
                       str(args.iters)] + (["--max-iterations", str(limit)] if limit else []) + [",".join(s) for s in sets]
                rc, text, secs = sh(cmd)
                results.append((f"package {name} [{backend}]", cmd, rc, text, secs))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("api", "package"), required=True)
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--test-bin", default=os.path.join(ROOT, "build", "tests", "test_concurrency"))
    ap.add_argument("--data", default=os.path.join(ROOT, "build"),
                    help="folder holding (or receiving) onnx-node-tests/ and suite/")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "concurrency"))
    ap.add_argument("--backends", default="ref,cpu")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--iters", type=int, default=12, help="runs per thread")
    ap.add_argument("--cpu-threads", type=int, default=0, help="OpenMP threads of the cpu backend (0: default)")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--pkg-cflags", default="-O2 -g")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="compilers at a time building a package")
    ap.add_argument("--filter", default="", help="regex on the model names")
    args = ap.parse_args()
    args.backends = [b for b in args.backends.split(",") if b]
    args.work, args.data = os.path.abspath(args.work), os.path.abspath(args.data)
    needed = [args.test_bin] if args.part == "api" else [args.dycl]
    for p in needed:
        if not os.access(p, os.X_OK):
            print(f"run_concurrency: usage error: no program at {p}", file=sys.stderr)
            return 2
    if args.threads < 2 or args.iters < 1:
        print("run_concurrency: usage error: --threads must be at least 2, --iters at least 1", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    t0 = time.monotonic()
    try:
        models = demo_model() + node_models(args.data) + suite_models(args.data, log)
        if args.part == "api":
            models += cpu_case_models(args.work)
    except Exception as e:  # noqa: BLE001 - a model that cannot be made is a failure
        print(f"concurrency: error: {e}", file=sys.stderr)
        print(f"concurrency ({args.part}): 0 checks, 0 concurrent runs, 1 failed")
        return 1
    flt = re.compile(args.filter) if args.filter else None
    if flt:
        models = [m for m in models if flt.search(m[0])]
    results = run_api(args, models, log) if args.part == "api" else run_packages(args, models, log)
    failed = runs = 0
    for name, cmd, rc, text, secs in results:
        why = check_output(rc, text)
        m = LINE_RE.search(text)
        runs += int(m.group(1)) if m else 0
        line = next((ln for ln in text.splitlines() if LINE_RE.search(ln)), name)
        if why:
            failed += 1
            log(f"FAIL {line} ({why}, {secs:.1f} s)")
            if cmd:
                log("  command: " + " ".join(cmd))
            log("  " + text[-6000:].replace("\n", "\n  "))
        else:
            log(f"ok   {line} ({secs:.1f} s)")
    log(f"concurrency ({args.part}): {len(results)} checks, {runs} concurrent runs, {failed} failed "
        f"({time.monotonic() - t0:.0f} s)")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
