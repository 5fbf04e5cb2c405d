#!/usr/bin/python3
"""The limits on the command line: `dycl run` and `dycl bench` with --max-memory, --max-nesting,
--max-iterations, --max-tensor-bytes and --deadline, and shape operators given sizes that overflow.

Usage: /usr/bin/python3 tests/limits/run_limits.py --dycl build/dycl --dir DIR [-v]
DIR holds what tests/limits/make_models.py wrote (it is run first when DIR/sweep.txt is missing).

Each case is a command line and what must happen:
  - exit 1: stderr is exactly one line starting `dycl: error:` that contains the case's words
    (a limit names its flag); exit 2 (usage errors): stderr starts `dycl: usage error:`; exit 0;
  - it ends within its time bound (the deadline cases: soon after the deadline) and is not killed
    by a signal; stderr holds no sanitizer report.
The last line is `limits.cli: N passed, M failed`; exit status 1 when any case failed.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|runtime error:|"
                          r"AddressSanitizer:DEADLYSIGNAL")


def cases(d):
    """(name, argv, exit status, words (exit 1) or None, max seconds)."""
    grow = ["growing.onnx", "ones1024.pb", "trip12.pb"]
    endless = ["endless.onnx", "scalar.pb"]
    counted = ["counted.onnx", "scalar.pb", "trip100.pb"]
    out = []
    for cmd in ("run", "bench"):
        extra = ["--iters", "2", "--warmup", "0"] if cmd == "bench" else []
        b = [cmd, "--backend", "ref"] + extra
        out += [
            (f"{cmd} --max-memory 8M, 24 MiB needed", b + grow + ["--max-memory", "8M"], 1, ["--max-memory"], 60),
            (f"{cmd} --max-memory 4096, 24 MiB needed", b + grow + ["--max-memory", "4096"], 1, ["--max-memory"], 60),
            (f"{cmd} --max-memory 64MiB", b + grow + ["--max-memory", "64MiB"], 0, None, 60),
            (f"{cmd} --max-memory 2G", b + grow + ["--max-memory", "2G"], 0, None, 60),
            (f"{cmd} --max-tensor-bytes 1M", b + grow + ["--max-tensor-bytes", "1M"], 1, ["over the limit of 1048576"], 60),
            (f"{cmd} --max-nesting 4, nested 5 deep", b + ["nest5.onnx", "if_x.pb", "--max-nesting", "4"], 1,
             ["nested more than 4"], 30),
            (f"{cmd} --max-nesting 5, nested 5 deep", b + ["nest5.onnx", "if_x.pb", "--max-nesting", "5"], 0, None, 30),
            (f"{cmd} --max-iterations 1000, endless loop", b + endless + ["--max-iterations", "1000"], 1,
             ["1000 iterations", "--max-iterations"], 60),
            (f"{cmd} --max-iterations 100, 100 iterations", b + counted + ["--max-iterations", "100"], 0, None, 60),
            (f"{cmd} --deadline 0.3, endless loop", b + endless + ["--deadline", "0.3"], 1, ["deadline of 0.3 s"], 20),
            (f"{cmd} --deadline 60, 100 iterations", b + counted + ["--deadline", "60"], 0, None, 60),
        ]
        for flag, bad in (("--max-memory", ["0", "-1", "12Q", "1.5G", "", "M", "99999999999999999999", "16777216T"]),
                          ("--max-tensor-bytes", ["0", "x"]),
                          ("--max-nesting", ["0", "-3", "x", "2.5"]),
                          ("--max-iterations", ["0", "-1", "ten"]),
                          ("--deadline", ["0", "-1", "abc", "nan", "inf", "1e20"])):
            for v in bad:
                out.append((f"{cmd} {flag} {v!r}: usage error", b + counted + [flag, v], 2, None, 30))
            out.append((f"{cmd} {flag} without a value", b + counted + [flag], 2, None, 30))
    # integer overflow in shape computations: sizes from run-time inputs and from constants
    with open(os.path.join(d, "overflow.txt")) as f:
        names = [l.strip() for l in f if l.strip()]
    words = ["overflow", "beyond", "over the limit", "would have", "invalid", "cannot", "negative"]
    for n in names:
        with open(os.path.join(d, f"ovf_{n}_run.args")) as f:
            args = f.read().split()
        out.append((f"overflow {n}, run time", ["run", "--backend", "ref", f"ovf_{n}_run.onnx"] + args, 1, words, 60))
        out.append((f"overflow {n}, load time", ["run", "--backend", "ref", f"ovf_{n}_const.onnx"], 1, words, 60))
    return out


def run_case(dycl, d, case, tmp):
    name, argv, want, words, limit = case
    if argv[0] == "run" and want != 2:
        argv = argv + ["-o", tmp]
    t0 = time.monotonic()
    try:
        p = subprocess.run([dycl] + argv, cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=max(limit, 1) * 3)
    except subprocess.TimeoutExpired:
        return f"no exit within {limit * 3} s"
    secs = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace")
    if SANITIZER_RE.search(err):
        return "sanitizer report:\n" + err
    if p.returncode < 0:
        return f"killed by signal {-p.returncode}"
    if p.returncode != want:
        return f"exit {p.returncode}, expected {want}; stderr: {err.strip()}"
    if secs > limit:
        return f"took {secs:.1f} s, more than {limit} s"
    if want == 1:
        lines = err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("dycl: error:"):
            return f"stderr is not one `dycl: error:` line: {err!r}"
        if not any(w.lower() in lines[0].lower() for w in words):
            return f"the message does not say {' or '.join(repr(w) for w in words)}: {lines[0]}"
    if want == 2 and not err.startswith("dycl: usage error:"):
        return f"stderr does not start with `dycl: usage error:`: {err!r}"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dycl", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    dycl = os.path.abspath(a.dycl)
    d = os.path.abspath(a.dir)
    if not os.path.exists(os.path.join(d, "sweep.txt")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"), d], check=True)
    tmp = os.path.join(d, "cli-out")
    os.makedirs(tmp, exist_ok=True)
    passed = failed = 0
    t0 = time.monotonic()
    for case in cases(d):
        problem = run_case(dycl, d, case, tmp)
        if problem:
            failed += 1
            print(f"FAIL {case[0]}: {problem}")
        else:
            passed += 1
            if a.v:
                print(f"ok   {case[0]}")
    print(f"limits.cli: {passed} passed, {failed} failed ({time.monotonic() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
