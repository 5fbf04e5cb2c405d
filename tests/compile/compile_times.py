#!/usr/bin/python3
"""How long `dycl compile --build` takes for every model of the dynamic-network suite, per backend:
the wall-clock time of the whole command (load, optimize, partition, emit, and `make -C PKG -jN`
with the package's own Makefile, no compiler cache), and the processor time it used (user + system,
the C compiler included), as a Markdown table (the one in docs/compile.md).

Usage: /usr/bin/python3 tests/compile/compile_times.py [--dycl build/dycl] [--suite build/suite/small]
           [--work /tmp/dycl-compile-times] [--backends ref,cpu] [--repeat N]

With --repeat N each compile runs N times and the fastest is reported (the machine may be shared).
Exit status 1 when a compile fails or one takes 10 s or more (the target of issue 4).
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def compile_once(dycl, model, pkg, backend):
    shutil.rmtree(pkg, ignore_errors=True)
    c0, t0 = children_cpu(), time.monotonic()
    p = subprocess.run([dycl, "compile", model, "-o", pkg, "--backend", backend, "--build", "--quiet"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall, cpu = time.monotonic() - t0, children_cpu() - c0
    if p.returncode != 0:
        raise RuntimeError(p.stdout.decode(errors="replace").strip()[-400:])
    n_src = sum(1 for d, _, fs in os.walk(pkg) for f in fs if f.endswith(".c"))
    return wall, cpu, n_src


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    ap.add_argument("--suite", default=os.path.join(ROOT, "build", "suite", "small"))
    ap.add_argument("--work", default="/tmp/dycl-compile-times")
    ap.add_argument("--backends", default="ref,cpu")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    names = sorted(n for n in os.listdir(args.suite) if os.path.isfile(os.path.join(args.suite, n, "model.onnx")))
    if not names:
        print(f"compile_times: no models in {args.suite} (run the suite.small test first)", file=sys.stderr)
        return 2
    print(f"`dycl compile MODEL -o PKG --backend B --build` on {os.cpu_count()} cores "
          f"(make -j{os.cpu_count()}), fastest of {args.repeat}; wall-clock s (processor s)\n")
    print("| model | " + " | ".join(f"{b}: C sources | {b}: wall (cpu) s" for b in backends) + " |")
    print("|---|" + "---:|---:|" * len(backends))
    worst, failed = 0.0, False
    for name in names:
        cells = []
        for b in backends:
            best = None
            try:
                for _ in range(max(1, args.repeat)):
                    r = compile_once(args.dycl, os.path.join(args.suite, name, "model.onnx"),
                                     os.path.join(args.work, f"{name}_{b}"), b)
                    best = r if best is None or r[0] < best[0] else best
                cells += [str(best[2]), f"{best[0]:.2f} ({best[1]:.2f})"]
                worst = max(worst, best[0])
            except RuntimeError as e:
                cells += ["-", "failed"]
                print(f"compile_times: {name} ({b}): {e}", file=sys.stderr)
                failed = True
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    shutil.rmtree(args.work, ignore_errors=True)
    print(f"\nslowest: {worst:.2f} s")
    return 1 if failed or worst >= 10 else 0


if __name__ == "__main__":
    sys.exit(main())
