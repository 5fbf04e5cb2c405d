#!/usr/bin/python3
"""PyTorch side of the benchmark (run by bench/run_bench.py, one process per job).

  torch_worker.py prep  --model NAME --config C --suite DIR --out PREPDIR --cases 0,3,...
      builds the suite model (models/suite/NAME.py, seeded as in suite.py), saves it pickled
      (eager.pt) and scripted (script.pt), checks the eager outputs against the suite's reference
      outputs, counts the FLOPs of the path each case took (torch.profiler with_flops: convolutions
      and matrix products actually executed; plus the suite's count_macs hook count), and writes
      PREPDIR/prep.json. Cached by the suite model's stamp.
  torch_worker.py time  --mode eager|script --prep PREPDIR --suite MODELDIR --cases 0,3,...
                        --threads T [--warmup W] [--min-iters N] [--max-iters N] [--budget S]
      loads the saved module and times each case (torch.no_grad, warm-up then repeated runs,
      each run measured alone); prints one JSON line {"cases": [[seconds, ...], ...],
      "maxrss_kb": ..., "blas": ...}.
"""

import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUITE_DIR = os.path.join(ROOT, "models", "suite")
FLOP_OPS = ("aten::conv2d", "aten::mm", "aten::addmm", "aten::bmm")


def load_pb(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def case_inputs(suite_model_dir, k, n_in):
    import numpy as np
    import torch
    cd = os.path.join(suite_model_dir, f"test_data_set_{k}")
    return tuple(torch.from_numpy(np.array(load_pb(os.path.join(cd, f"input_{i}.pb"))))
                 for i in range(n_in))


def as_tuple(x):
    import torch
    return (x,) if isinstance(x, torch.Tensor) else tuple(x)


def cmd_prep(a):
    import numpy as np
    import torch
    sys.path.insert(0, SUITE_DIR)
    import importlib
    mdir = os.path.join(a.suite, a.config, a.model)
    with open(os.path.join(mdir, "meta.json")) as f:
        meta = json.load(f)
    cases = [int(c) for c in a.cases.split(",")]
    pj = os.path.join(a.out, "prep.json")
    try:
        with open(pj) as f:
            old = json.load(f)
        if old.get("stamp") == meta["stamp"] and old.get("cases") == cases:
            print(f"prep {a.model}: cached")
            return 0
    except (OSError, ValueError):
        pass
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(max(1, a.threads))
    mod = importlib.import_module(a.model)
    common = importlib.import_module("common")
    t0 = time.monotonic()
    torch.manual_seed(0)
    model = mod.build(a.config)
    model.eval()
    build_s = time.monotonic() - t0
    torch.save(model, os.path.join(a.out, "eager.pt"))
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, os.path.join(a.out, "script.pt"))
    n_in, n_out = len(meta["inputs"]), len(meta["outputs"])
    info = []
    for k in cases:
        x = case_inputs(mdir, k, n_in)
        with torch.no_grad():
            o = as_tuple(model(*x))
        ok = True
        for j in range(n_out):
            want = load_pb(os.path.join(mdir, f"test_data_set_{k}", f"output_{j}.pb"))
            got = o[j].numpy()
            if got.shape != want.shape or not np.allclose(got, want, atol=1e-4, rtol=1e-3):
                ok = False
        with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                     with_flops=True) as prof:
            model(*x)
        flops = 0
        for ev in prof.key_averages():
            if ev.key in FLOP_OPS and ev.flops:
                flops += int(ev.flops)
        macs = sum(common.count_macs(model, *x).values())
        info.append({"case": k, "label": meta["paths"][k], "flops": flops, "hook_macs": int(macs),
                     "matches_reference": ok})
    with open(pj, "w") as f:
        json.dump({"stamp": meta["stamp"], "cases": cases, "case_info": info,
                   "build_seconds": round(build_s, 2)}, f, indent=1)
    print(f"prep {a.model}: built in {build_s:.1f} s")
    return 0


def blas_in_use():
    try:
        with open("/proc/self/maps") as f:
            libs = {ln.split()[-1] for ln in f if "blas" in ln}
        return ",".join(sorted(os.path.realpath(x) for x in libs))
    except OSError:
        return "?"


def cmd_time(a):
    import torch
    torch.set_num_threads(max(1, a.threads))
    torch.set_num_interop_threads(1)
    sys.path.insert(0, SUITE_DIR)
    with open(os.path.join(a.suite, "meta.json")) as f:
        meta = json.load(f)
    n_in = len(meta["inputs"])
    if a.mode == "eager":
        model = torch.load(os.path.join(a.prep, "eager.pt"))
        model.eval()
    else:
        model = torch.jit.load(os.path.join(a.prep, "script.pt"))
        model.eval()
    res = []
    ks = [int(c) for c in a.cases.split(",")]
    xs = {k: case_inputs(a.suite, k, n_in) for k in ks}
    with torch.no_grad():
        # warm-up over every case first (TorchScript's profiling executor specializes and
        # re-optimizes on the first runs of each path), then once more just before the case
        for _ in range(a.warmup):
            for k in ks:
                model(*xs[k])
        for k in ks:
            x = xs[k]
            model(*x)
            ts = []
            start = time.perf_counter()
            while len(ts) < a.max_iters and (len(ts) < a.min_iters or time.perf_counter() - start < a.budget):
                t = time.perf_counter()
                model(*x)
                ts.append(time.perf_counter() - t)
            res.append(ts)
    print(json.dumps({"cases": res, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "blas": blas_in_use(), "threads": torch.get_num_threads()}))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prep")
    pp.add_argument("--model", required=True)
    pp.add_argument("--config", required=True)
    pp.add_argument("--suite", required=True)
    pp.add_argument("--out", required=True)
    pp.add_argument("--cases", required=True)
    pp.add_argument("--threads", type=int, default=1)
    pt = sub.add_parser("time")
    pt.add_argument("--mode", choices=("eager", "script"), required=True)
    pt.add_argument("--prep", required=True)
    pt.add_argument("--suite", required=True)
    pt.add_argument("--cases", required=True)
    pt.add_argument("--threads", type=int, default=1)
    pt.add_argument("--warmup", type=int, default=3)
    pt.add_argument("--min-iters", type=int, default=5)
    pt.add_argument("--max-iters", type=int, default=50)
    pt.add_argument("--budget", type=float, default=1.0)
    a = p.parse_args()
    return cmd_prep(a) if a.cmd == "prep" else cmd_time(a)


if __name__ == "__main__":
    sys.exit(main())
