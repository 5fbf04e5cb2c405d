#!/usr/bin/python3
"""Run dycl on hostile models and inputs and check that it fails cleanly.

Usage: /usr/bin/python3 tests/bad_inputs/run_bad_inputs.py [--dycl build/dycl]
           [--dir build/bad_inputs] [--filter REGEX] [-v] [--timeout 20]

The cases are (re)written by make_cases.py into --dir first. Each case is one command line of the
dycl tool; it passes when:
  - dycl finishes within the timeout (no hang) and is not killed by a signal;
  - stderr holds no sanitizer report (AddressSanitizer, UndefinedBehaviorSanitizer "runtime error:",
    LeakSanitizer, ...);
  - the exit status is exactly the expected one (1 for a bad model or input, 2 for usage errors);
  - for exit status 1: stderr is exactly one line, it starts with `dycl: error:` and contains one of
    the case's keywords (case-insensitive), i.e. the message names what is wrong.
The last line printed is `bad_inputs: N passed, M failed`; the exit status is 1 when any case
failed, 2 on a usage error of this script.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|"
                          r"runtime error:|AddressSanitizer:DEADLYSIGNAL")


def _sig_name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def run_case(dycl, case, timeout, tmproot):
    odir = tempfile.mkdtemp(dir=tmproot)
    argv = [dycl] + case["argv"]
    if case["argv"] and case["argv"][0] == "run" and case["exit"] == 1:
        argv += ["-o", odir]
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
        _, err = p.communicate()
        rc = None
    secs = time.monotonic() - t0
    err = err.decode("utf-8", "replace")
    lines = err.rstrip("\n").split("\n") if err.strip() else []
    first = lines[0] if lines else ""

    def fail(why):
        return False, why, first, secs

    m = SANITIZER_RE.search(err)
    if m:
        line = next((ln for ln in lines if SANITIZER_RE.search(ln)), m.group(0))
        return fail(f"sanitizer report: {line.strip()[:200]}")
    if rc is None:
        return fail(f"hang: killed after {timeout:g} s")
    if rc < 0:
        return fail(f"crash: killed by {_sig_name(-rc)}")
    if rc != case["exit"]:
        return fail(f"exit status {rc}, expected {case['exit']}")
    if case["exit"] == 2:
        return True, "", first, secs
    if len(lines) != 1:
        return fail(f"stderr has {len(lines)} lines, expected exactly one")
    if not first.startswith("dycl: error:"):
        return fail("stderr does not start with 'dycl: error:'")
    low = first.lower()
    kws = case["keywords"]
    if kws and not any(k.lower() in low for k in kws):
        shown = ", ".join(repr(k) for k in kws[:8]) + (", ..." if len(kws) > 8 else "")
        return fail(f"message names none of: {shown}")
    return True, "", first, secs


def main():
    ap = argparse.ArgumentParser(description="Check that dycl rejects hostile models and inputs "
                                             "cleanly.")
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "build", "bad_inputs"),
                    help="folder the cases are written into")
    ap.add_argument("--filter", default=None, help="regex searched in case names")
    ap.add_argument("-v", "--verbose", action="store_true", help="show every case's stderr line")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    args = ap.parse_args()

    dycl = os.path.abspath(args.dycl)
    if not (os.path.isfile(dycl) and os.access(dycl, os.X_OK)):
        print(f"run_bad_inputs: error: no dycl executable at {dycl}", file=sys.stderr)
        print("bad_inputs: 0 passed, 0 failed")
        return 2
    sys.path.insert(0, HERE)
    try:
        import make_cases
        cases = make_cases.build_cases(args.dir)
    except ImportError as e:
        print(f"run_bad_inputs: error: {e} (run with Debian's /usr/bin/python3, which has onnx)",
              file=sys.stderr)
        print("bad_inputs: 0 passed, 0 failed")
        return 2
    if args.filter:
        rx = re.compile(args.filter)
        cases = [c for c in cases if rx.search(c["name"])]

    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="dycl-bad-inputs.") as tmproot:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            results = list(ex.map(lambda c: run_case(dycl, c, args.timeout, tmproot), cases))
    for c, (ok, why, first, secs) in zip(cases, results):
        if ok:
            passed += 1
            if args.verbose:
                print(f"ok   {c['name']} ({secs:.2f} s): {first}")
        else:
            failed += 1
            print(f"FAIL {c['name']}: {why}")
            print(f"     stderr: {first[:300] if first else '(empty)'}")
            if args.verbose:
                print(f"     command: dycl {' '.join(c['argv'])}")
                if c.get("note"):
                    print(f"     case: {c['note']}")
    print(f"bad_inputs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
