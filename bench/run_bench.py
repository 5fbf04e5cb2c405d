#!/usr/bin/python3
"""Side-by-side benchmark of the dynamic-network suite: dycl (cpu and ref backends), eager
PyTorch, TorchScript and ONNX Runtime, on the same inputs and the same thread count.

  run_bench.py [--config small|full] [--models a,b] [--threads T] [--cases K] [--rounds R]
               [--budget S] [--dycl build/dycl] [--suite build/suite] [--work build/bench]
               [--ort build/ort] [--docs docs/bench.md] [--svg docs/bench_speedup.svg] [-q]

For each model, K cases of the suite (build/suite/<config>/<name>/test_data_set_<k>) are picked so
that they take different paths (evenly over the distinct path labels). Each system runs in its own
process (one per case for dycl, one per model for the others), so its peak resident memory
(ru_maxrss) is its own. Every case is warmed up and then run repeatedly (at least --min-iters runs,
until --budget seconds or --max-iters runs); the case's figure is the median run. The R rounds run
the systems of a model one after the other in a rotated order (interleaved: a noisy neighbour hits
every system alike); a case's latency is its best round's median (a round hit by a neighbour only
ever adds time), a model's the median over its cases. Also measured: the machine's OpenBLAS sgemm GFLOP/s (one thread and T threads), the FLOPs
of the path each case took (convolutions and matrix products as executed by eager PyTorch, from
torch.profiler with_flops), and the host overhead per control-flow step (tiny Loop / Loop+If
models, bench/loop_models.py). Results: WORK/<config>/results.json, DOCS (between markers), SVG.
On a terminal a status line on stderr shows the model and round being measured, the time so far
and the time left; -q/--quiet (or stderr not a terminal) leaves it out, -q also the per-round lines.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
SYSTEMS = ("dycl-cpu", "dycl-ref", "eager", "script", "ort")
LABELS = {"dycl-cpu": "dycl cpu", "dycl-ref": "dycl ref", "eager": "PyTorch eager",
          "script": "TorchScript", "ort": "ONNX Runtime"}
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


# The progress display of this run (models/suite/progress.py), set by main(); log() prints around it.
_progress = None


def log(msg):
    if _progress is not None:
        _progress.note(msg)
    else:
        print(msg, flush=True)


def run_proc(argv, timeout, env=None):
    """(returncode or None on timeout, stdout, stderr, maxrss_kb) of one child process."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env, cwd=ROOT, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, err = p.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace"), 0
    # communicate() reaped the child; its rusage is not available from Popen, so dycl runs use wait4
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), 0


def run_wait4(argv, timeout):
    """Like run_proc but returns the child's own ru_maxrss (KiB) via wait4."""
    import signal
    import tempfile
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, cwd=ROOT,
                             start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                p.returncode = -9
                return None, "", "timeout", 0
            time.sleep(0.002)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read().decode(errors="replace"), fe.read().decode(errors="replace"), ru.ru_maxrss


def nat_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def pick_cases(labels, k):
    """Case indices taking distinct paths, spread evenly over the sorted distinct labels."""
    first = {}
    for i, lab in enumerate(labels):
        first.setdefault(lab, i)
    distinct = sorted(first, key=nat_key)
    if len(distinct) >= k:
        idx = sorted({round(j * (len(distinct) - 1) / max(1, k - 1)) for j in range(k)})
        chosen = [first[distinct[j]] for j in idx]
    else:
        chosen = [first[d] for d in distinct]
        for i in range(len(labels)):
            if len(chosen) >= k:
                break
            if i not in chosen:
                chosen.append(i)
    return sorted(chosen)


# --------------------------------------------------------------------------------------------
# Machine peak and host overhead
# --------------------------------------------------------------------------------------------

def machine_peak(work, threads):
    exe = os.path.join(work, "sgemm_peak")
    src = os.path.join(HERE, "sgemm_peak.c")
    res = {"lib": "OpenBLAS (Debian libopenblas-dev, pthread build)", "one": None, "all": None}
    if not os.path.exists(os.path.join(OPENBLAS_DIR, "libopenblas.so")):
        res["error"] = "libopenblas-dev is not installed"
        return res
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        rc, _, err, _ = run_proc(["gcc", "-O2", "-I/usr/include/x86_64-linux-gnu/openblas-pthread", src, "-o", exe,
                                  f"-L{OPENBLAS_DIR}", "-lopenblas", f"-Wl,-rpath,{OPENBLAS_DIR}"], 120)
        if rc != 0:
            res["error"] = f"cannot build sgemm_peak: {err.strip()[:200]}"
            return res
    # OpenBLAS 0.3.21 does not know recent AMD cores (Zen 5) and falls back to its AVX2 (Haswell)
    # kernels; on a CPU with AVX-512 the AVX-512 kernels (OPENBLAS_CORETYPE=SkylakeX) are measured
    # too and the better figure is the peak.
    cores = [None]
    try:
        with open("/proc/cpuinfo") as f:
            if " avx512f" in f.read():
                cores.append("SkylakeX")
    except OSError:
        pass
    res["by_core"] = {}
    for core in cores:
        for key, t in (("one", 1), ("all", threads)):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
            if core:
                env["OPENBLAS_CORETYPE"] = core
            rc, out, _, _ = run_proc([exe, "1536", "3"], 120, env=env)
            m = re.search(r"gflops=([\d.]+)", out)
            g = float(m.group(1)) if rc == 0 and m else None
            res["by_core"][f"{core or 'default'}/{key}"] = g
            if g is not None and (res[key] is None or g > res[key]):
                res[key] = g
    return res


def merge_peaks(first, second):
    """The better of two machine_peak measurements, figure by figure; `runs` keeps both."""
    out = dict(first)
    out["runs"] = [{k: first.get(k) for k in ("one", "all")}, {k: second.get(k) for k in ("one", "all")}]
    for key in ("one", "all"):
        vals = [v for v in (first.get(key), second.get(key)) if v is not None]
        out[key] = max(vals) if vals else None
    by = dict(first.get("by_core") or {})
    for k, v in (second.get("by_core") or {}).items():
        if v is not None and (by.get(k) is None or v > by[k]):
            by[k] = v
    out["by_core"] = by
    if not out.get("error") and second.get("error"):
        out["error"] = second["error"]
    return out


def host_overhead(dycl, work, ort_prefix, threads, iters=10000):
    d = os.path.join(work, "loop")
    rc, _, err, _ = run_proc([PY, os.path.join(HERE, "loop_models.py"), d, str(iters)], 120)
    if rc != 0:
        return {"error": err.strip()[-300:]}
    res = {"iterations": iters, "models": {}}
    for name in ("loop_add", "loop_if"):
        md = os.path.join(d, name)
        model = os.path.join(md, "model.onnx")
        ins = [os.path.join(md, "input_0.pb"), os.path.join(md, "input_1.pb")]
        r = {}
        rc, out, _, _ = run_proc([dycl, "run", model] + ins, 60)
        m = re.search(r"(\d+) sub-network calls, (\d+) branches, (\d+) loop iterations", out)
        if m:
            r["subnet_calls"], r["branches"], r["loop_iterations"] = map(int, m.groups())
        for b in ("cpu", "ref"):
            rc, out, _, _ = run_proc([dycl, "bench", model] + ins + ["--backend", b, "--threads", str(threads),
                                                                     "--warmup", "2", "--iters", "15"], 300)
            m = re.search(r"median_us=([\d.]+)", out)
            r[f"dycl-{b}_us"] = float(m.group(1)) if m else None
        if ort_prefix:
            rc, out, _, _ = run_proc(["node", os.path.join(HERE, "ort_bench.js"), "--ort", ort_prefix, "--model",
                                      model, "--threads", str(threads), "--warmup", "2", "--min-iters", "10",
                                      "--max-iters", "15", "--budget", "0.5", md], 300)
            try:
                j = json.loads(out.strip().splitlines()[-1])
                r["ort_us"] = statistics.median(j["cases"][0]) * 1e6
            except Exception:  # noqa: BLE001
                r["ort_us"] = None
        res["models"][name] = r
    return res


# --------------------------------------------------------------------------------------------
# Systems
# --------------------------------------------------------------------------------------------

def time_dycl(a, backend, mdir, n_in, cases, est):
    """{'cases': [median seconds or None], 'maxrss_kb', 'error'}; est: {case: seconds} (updated)."""
    model = os.path.join(mdir, "model.onnx")
    meds, rss, error, mem = [], 0, None, {}
    for k in cases:
        cd = os.path.join(mdir, f"test_data_set_{k}")
        ins = [os.path.join(cd, f"input_{i}.pb") for i in range(n_in)]
        base = [a.dycl, "bench", model] + ins + ["--backend", backend, "--threads", str(a.threads)]
        if k not in est:
            rc, out, err, _ = run_wait4(base + ["--warmup", "1", "--iters", "1"], a.timeout)
            m = re.search(r"median_us=([\d.]+)", out)
            if rc != 0 or not m:
                error = (err.strip().splitlines() or ["?"])[-1][:200] if rc is not None else "timeout"
                meds.append(None)
                continue
            est[k] = float(m.group(1)) * 1e-6
        iters = int(max(a.min_iters, min(a.max_iters, a.budget / max(est[k], 1e-7))))
        rc, out, err, ru = run_wait4(base + ["--warmup", str(a.warmup), "--iters", str(iters)], a.timeout)
        m = re.search(r"median_us=([\d.]+)", out)
        if rc != 0 or not m:
            error = (err.strip().splitlines() or ["?"])[-1][:200] if rc is not None else "timeout"
            meds.append(None)
            continue
        meds.append(float(m.group(1)) * 1e-6)
        rss = max(rss, ru)
        mm = re.search(r"arena_bytes=(\d+) arena_lower_bound_bytes=(\d+) peak_tensor_bytes=(\d+)", out)
        if mm:
            mem["arena"] = max(mem.get("arena", 0), int(mm.group(1)))
            mem["lower_bound"] = max(mem.get("lower_bound", 0), int(mm.group(2)))
            mem["peak_tensor"] = max(mem.get("peak_tensor", 0), int(mm.group(3)))
    return {"cases": meds, "maxrss_kb": rss, "error": error, "memory": mem}


def time_worker(a, argv):
    rc, out, err, ru = run_wait4(argv, a.timeout)
    if rc is None:
        return {"cases": None, "maxrss_kb": 0, "error": "timeout"}
    try:
        j = json.loads(out.strip().splitlines()[-1])
    except Exception:  # noqa: BLE001
        return {"cases": None, "maxrss_kb": 0, "error": (err.strip().splitlines() or [f"exit {rc}"])[-1][:200]}
    if j.get("error"):
        return {"cases": None, "maxrss_kb": 0, "error": j["error"]}
    return {"cases": [statistics.median(ts) if ts else None for ts in j["cases"]], "maxrss_kb": ru,
            "error": None, "blas": j.get("blas")}


def time_system(a, system, name, mdir, prep_dir, n_in, cases, est):
    common = ["--warmup", str(a.warmup), "--min-iters", str(a.min_iters), "--max-iters", str(a.max_iters),
              "--budget", str(a.budget)]
    if system in ("dycl-cpu", "dycl-ref"):
        return time_dycl(a, system[5:], mdir, n_in, cases, est.setdefault(system, {}))
    if system in ("eager", "script"):
        return time_worker(a, [PY, os.path.join(HERE, "torch_worker.py"), "time", "--mode", system, "--prep", prep_dir,
                               "--suite", mdir, "--cases", ",".join(map(str, cases)), "--threads", str(a.threads)]
                           + common)
    if system == "ort":
        return time_worker(a, ["node", os.path.join(HERE, "ort_bench.js"), "--ort", a.ort, "--model",
                               os.path.join(mdir, "model.onnx"), "--threads", str(a.threads)] + common
                           + [os.path.join(mdir, f"test_data_set_{k}") for k in cases])
    raise ValueError(system)


def bench_model(a, name, idx):
    mdir = os.path.join(a.suite, a.config, name)
    try:
        with open(os.path.join(mdir, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return {"name": name, "error": "suite data missing (run suite.py generate)"}
    if meta.get("error"):
        return {"name": name, "error": f"suite generation failed: {meta['error']}"}
    cases = pick_cases(meta["paths"], a.cases)
    prep_dir = os.path.join(a.work, a.config, name)
    t0 = time.monotonic()
    rc, out, err, _ = run_proc([PY, os.path.join(HERE, "torch_worker.py"), "prep", "--model", name, "--config",
                                a.config, "--suite", a.suite, "--out", prep_dir, "--cases", ",".join(map(str, cases)),
                                "--threads", str(a.threads)], a.prep_timeout)
    if rc != 0:
        why = "timeout" if rc is None else (err.strip().splitlines() or ["?"])[-1][:300]
        return {"name": name, "error": f"PyTorch preparation failed: {why}"}
    with open(os.path.join(prep_dir, "prep.json")) as f:
        prep = json.load(f)
    log(f"  {name}: cases {cases} ({', '.join(meta['paths'][k] for k in cases)}); {out.strip()} "
        f"[{time.monotonic() - t0:.0f} s]")
    n_in = len(meta["inputs"])
    systems = [s for s in SYSTEMS if s in a.systems]
    rounds = {s: [] for s in systems}
    rss = {s: 0 for s in systems}
    dmem = {}  # dycl's own memory figures per system (arena, its lower bound, peak tensor bytes)
    errors = {s: None for s in systems}
    blas = None
    est = {}
    for r in range(a.rounds):
        shift = (r + idx) % len(systems)
        order = systems[shift:] + systems[:shift]
        for s in order:
            if errors[s]:
                continue
            t = time.monotonic()
            if _progress is not None:
                _progress.update(detail=f"{name}: round {r + 1}/{a.rounds}, {s}")
            res = time_system(a, s, name, mdir, prep_dir, n_in, cases, est)
            if res.get("blas"):
                blas = res["blas"]
            if res["cases"] is None or res.get("error") and all(v is None for v in res["cases"]):
                errors[s] = res["error"] or "failed"
                log(f"    {s}: FAILED: {errors[s]}")
                continue
            if res.get("error"):
                errors[s] = res["error"]
            rounds[s].append(res["cases"])
            rss[s] = max(rss[s], res["maxrss_kb"])
            for key, v in (res.get("memory") or {}).items():
                dmem.setdefault(s, {})[key] = max(dmem.get(s, {}).get(key, 0), v)
            if not a.quiet:
                log(f"    round {r + 1} {s:9s} " + " ".join("—" if v is None else f"{v * 1e3:.3f}" for v in res["cases"])
                    + f" ms  [{time.monotonic() - t:.1f} s]")
    per_case = {}
    for s in systems:
        per_case[s] = []
        for ci in range(len(cases)):
            vals = [rd[ci] for rd in rounds[s] if rd[ci] is not None]
            # best round: on a shared machine a round hit by a neighbour only ever adds time
            per_case[s].append(min(vals) if vals else None)
    med = {s: (statistics.median([v for v in per_case[s] if v is not None])
               if per_case[s] and all(v is not None for v in per_case[s]) else None) for s in systems}
    flops = [ci["flops"] for ci in prep["case_info"]]
    gflops = None
    if per_case.get("dycl-cpu") and all(v for v in per_case["dycl-cpu"]):
        gflops = statistics.median(f / t / 1e9 for f, t in zip(flops, per_case["dycl-cpu"]))
    return {"name": name, "title": meta.get("title"), "cases": cases,
            "labels": [meta["paths"][k] for k in cases], "flops": flops,
            "matches_reference": all(ci["matches_reference"] for ci in prep["case_info"]),
            "per_case_s": per_case, "rounds_s": rounds, "median_s": med, "maxrss_kb": rss, "errors": errors,
            "dycl_memory": dmem,
            "gflops_dycl_cpu": gflops, "torch_blas": blas, "prep_build_s": prep.get("build_seconds")}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def fmt_ms(s):
    if s is None:
        return "—"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def fmt_x(v):
    return "—" if v is None else f"{v:.2f}×" if v < 10 else f"{v:.1f}×"


def speedup(r, peer):
    a, b = r["median_s"].get("dycl-cpu"), r["median_s"].get(peer)
    return None if not a or not b else b / a


def geomean(xs):
    import math
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def report_md(res):
    a = res["args"]
    peak = res["peak"]
    lines = []
    lines.append(f"Measured {res['date']} on {res['machine']}, {a['threads']} thread(s) for every system "
                 f"(`--threads {a['threads']}` for dycl's cpu backend, `torch.set_num_threads({a['threads']})`, "
                 f"ORT `intraOpNumThreads: {a['threads']}`; dycl's ref backend runs on one thread). "
                 f"{a['cases']} cases per model taking different paths, each warmed up ({a['warmup']} passes) and "
                 f"run ≥ {a['min_iters']} times / {a['budget']} s (at most {a['max_iters']}); {a['rounds']} "
                 f"interleaved rounds, systems in rotated order. A case's figure is its median run in the best "
                 f"round; a model's latency is the median over its cases, in ms.")
    lines.append("")
    lines.append(f"Command: `{res['command']}`")
    lines.append("")
    lines.append("| model | paths of the cases | dycl cpu | dycl ref | PyTorch eager | TorchScript | ONNX Runtime "
                 "| ×ref | ×eager | ×TorchScript | ×ORT | MFLOP/case | dycl cpu GFLOP/s |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["models"]:
        if r.get("error"):
            lines.append(f"| `{r['name']}` | {r['error'].replace('|', '/')} |" + " — |" * 11)
            continue
        m = r["median_s"]
        mf = statistics.median(r["flops"]) / 1e6 if r["flops"] else None
        paths = ", ".join(r["labels"])
        if len(paths) > 60:
            paths = paths[:57] + "…"
        lines.append("| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            r["name"], paths.replace("|", "/"), *(fmt_ms(m.get(s)) for s in SYSTEMS),
            *(fmt_x(speedup(r, p)) for p in ("dycl-ref", "eager", "script", "ort")),
            "—" if mf is None else f"{mf:.2f}" if mf < 10 else f"{mf:.0f}",
            "—" if r["gflops_dycl_cpu"] is None else f"{r['gflops_dycl_cpu']:.2f}"))
    ok = [r for r in res["models"] if not r.get("error")]
    lines.append("| **geometric mean** | | | | | | | {} | {} | {} | {} | | |".format(
        *(fmt_x(geomean([speedup(r, p) for r in ok])) for p in ("dycl-ref", "eager", "script", "ort"))))
    lines.append("")
    lines.append("×peer = peer latency / dycl cpu latency (above 1: dycl cpu is faster). MFLOP/case: median over the "
                 "cases of the FLOPs of the path taken (2 × multiply-accumulates of the convolutions and matrix "
                 "products eager PyTorch executed, torch.profiler `with_flops`); dycl cpu GFLOP/s: median over the "
                 "cases of FLOPs / latency.")
    errs = [(r["name"], s, e) for r in ok for s, e in r["errors"].items() if e]
    if errs:
        lines.append("")
        for n, s, e in errs:
            lines.append(f"- `{n}`, {LABELS[s]}: {e}")
    lines.append("")
    lines.append("Peak resident memory (MiB, each system in its own process: dycl one process per case, the "
                 "others one per model; includes the runtime itself, e.g. the Python interpreter and torch):")
    lines.append("")
    lines.append("| model | " + " | ".join(LABELS[s] for s in SYSTEMS) + " |")
    lines.append("|---|" + "---|" * len(SYSTEMS))
    for r in ok:
        lines.append(f"| `{r['name']}` | " + " | ".join(
            f"{r['maxrss_kb'].get(s, 0) / 1024:.0f}" if r["maxrss_kb"].get(s) else "—" for s in SYSTEMS) + " |")
    lines.append("")
    lines.append("dycl cpu's tensor memory (KiB; `dycl bench`'s `memory:` line, largest over the cases): the arena "
                 "the static planner laid the sub-networks' intermediates out in, the lower bound of any such "
                 "plan (the largest sum of planned values live at once), their ratio, and the most tensor bytes "
                 "live at once in a run (intermediates, outputs and the values the planner cannot place: "
                 "shapes only known at run time).")
    lines.append("")
    lines.append("| model | arena | lower bound | arena / bound | peak tensor bytes |")
    lines.append("|---|---|---|---|---|")
    for r in ok:
        dm = (r.get("dycl_memory") or {}).get("dycl-cpu") or {}
        if not dm:
            continue
        ratio = f"{dm['arena'] / dm['lower_bound']:.2f}" if dm.get("lower_bound") else "—"
        lines.append(f"| `{r['name']}` | {dm.get('arena', 0) / 1024:.1f} | {dm.get('lower_bound', 0) / 1024:.1f} | "
                     f"{ratio} | {dm.get('peak_tensor', 0) / 1024:.1f} |")
    lines.append("")
    one, allc = peak.get("one"), peak.get("all")
    if peak:
        lines.append(f"Machine peak ({peak.get('lib')}, sgemm 1536³, best run of each measurement): "
                     f"{'—' if one is None else f'{one:.1f}'} GFLOP/s on one thread, "
                     f"{'—' if allc is None else f'{allc:.1f}'} GFLOP/s on {a['threads']} threads"
                     + (f" ({peak['error']})" if peak.get("error") else "") + ".")
        if peak.get("by_core"):
            lines.append("(" + ", ".join(f"{k}: {'—' if v is None else f'{v:.1f}'}" for k, v in peak["by_core"].items())
                         + " GFLOP/s; `default` is the kernel OpenBLAS picks itself, `SkylakeX` its AVX-512 kernels "
                         "forced with OPENBLAS_CORETYPE — OpenBLAS 0.3.21 does not recognise this CPU and picks "
                         "AVX2 kernels.)")
        if peak.get("runs"):
            r0, r1 = peak["runs"]
            fmt = lambda v: "—" if v is None else f"{v:.1f}"
            lines.append(f"Measured before the models ({fmt(r0.get('one'))} / {fmt(r0.get('all'))} GFLOP/s) and again "
                         f"after them ({fmt(r1.get('one'))} / {fmt(r1.get('all'))}); the better figure is the peak, "
                         "so that a slow spell of this shared machine during one measurement does not flatter the "
                         "percentages.")
    else:
        lines.append("Machine peak and host overhead: not measured in this run (`--skip-peak`; see the small "
                     "configuration).")
    ho = res.get("host_overhead") or {}
    if ho.get("models"):
        lines.append("")
        lines.append(f"Host overhead per control-flow step (`bench/loop_models.py`: a Loop of {ho['iterations']} "
                     "iterations on a float[1]; time per iteration, µs):")
        lines.append("")
        lines.append("| model | per iteration | dycl cpu | dycl ref | ONNX Runtime |")
        lines.append("|---|---|---|---|---|")
        for n, r in ho["models"].items():
            what = ("1 sub-network call (one Add)" if n == "loop_add"
                    else "1 If + 2 sub-network calls (Mod/Equal, then Add or Sub)")
            if "subnet_calls" in r:
                what += f"; dycl stats: {r['subnet_calls']} calls, {r['branches']} branches, {r['loop_iterations']} iterations"
            cells = [("—" if r.get(k) is None else f"{r[k] / ho['iterations']:.3f}")
                     for k in ("dycl-cpu_us", "dycl-ref_us", "ort_us")]
            lines.append(f"| `{n}` | {what} | " + " | ".join(cells) + " |")
    blas = {r.get("torch_blas") for r in ok if r.get("torch_blas")}
    if blas:
        lines.append("")
        lines.append(f"PyTorch's BLAS in these runs: {', '.join(sorted(blas))}.")
    return "\n".join(lines)


def _replace_between(text, tag, body):
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        i, j = text.index(begin), text.index(end) + len(end)
        return text[:i] + block + text[j:]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_svg(path, results_by_config):
    """Grouped bars: speedup of dycl cpu over each peer (log scale), one panel per configuration."""
    import math
    peers = [("dycl-ref", "dycl ref", "#9e9e9e"), ("eager", "PyTorch eager", "#e07b39"),
             ("script", "TorchScript", "#c44e52"), ("ort", "ONNX Runtime", "#4c72b0")]
    panels = [(c, [r for r in res["models"] if not r.get("error")]) for c, res in results_by_config]
    panels = [(c, rows) for c, rows in panels if rows]
    if not panels:
        return
    lo, hi = 0.1, 100.0
    for _, rows in panels:
        for r in rows:
            for p, _, _ in peers:
                v = speedup(r, p)
                if v:
                    lo, hi = min(lo, v), max(hi, v)
    lo = 10 ** math.floor(math.log10(lo))
    hi = 10 ** math.ceil(math.log10(hi))
    W, left, right, ph, top_pad, bottom = 1000, 70, 20, 260, 40, 110
    H = sum(ph + top_pad + bottom for _ in panels) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="11">', f'<rect width="{W}" height="{H}" fill="white"/>']
    lx = left
    for _, lab, col in peers:
        out.append(f'<rect x="{lx}" y="12" width="12" height="12" fill="{col}"/>'
                   f'<text x="{lx + 16}" y="22">{lab}</text>')
        lx += 140
    out.append(f'<text x="{lx + 10}" y="22" fill="#444">bar = peer latency / dycl cpu latency (log scale; '
               'above 1: dycl faster)</text>')
    y0 = 40
    for config, rows in panels:
        top = y0 + top_pad
        bot = top + ph

        def ypos(v):
            return bot - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        out.append(f'<text x="{left}" y="{top - 12}" font-size="13" font-weight="bold">{config} configuration</text>')
        e = int(round(math.log10(lo)))
        while 10 ** e <= hi * 1.0001:
            yy = ypos(10 ** e)
            out.append(f'<line x1="{left}" x2="{W - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>'
                       f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{10 ** e:g}×</text>')
            e += 1
        y1 = ypos(1.0)
        out.append(f'<line x1="{left}" x2="{W - right}" y1="{y1:.1f}" y2="{y1:.1f}" stroke="#000"/>')
        gw = (W - left - right) / len(rows)
        bw = gw * 0.8 / len(peers)
        for i, r in enumerate(rows):
            gx = left + i * gw + gw * 0.1
            for j, (p, lab, col) in enumerate(peers):
                v = speedup(r, p)
                if not v:
                    continue
                yv = ypos(v)
                ya, yb = min(yv, y1), max(yv, y1)
                out.append(f'<rect x="{gx + j * bw:.1f}" y="{ya:.1f}" width="{bw * 0.9:.1f}" height="{max(yb - ya, 0.5):.1f}" '
                           f'fill="{col}"><title>{r["name"]}: {lab} {v:.2f}×</title></rect>')
            cx = left + i * gw + gw / 2
            out.append(f'<text transform="translate({cx:.1f},{bot + 10}) rotate(40)" text-anchor="start">{r["name"]}</text>')
        out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bot}" stroke="#000"/>')
        y0 = bot + bottom
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def machine_desc():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores (shared VM){mem}, {platform.system()} {platform.release()}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="small", choices=("small", "full"))
    p.add_argument("--models", default="")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--cases", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-iters", type=int, default=5)
    p.add_argument("--max-iters", type=int, default=200)
    p.add_argument("--budget", type=float, default=0.5, help="seconds of timed runs per case (after min-iters)")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--prep-timeout", type=float, default=1800)
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--dycl", default=os.path.join(ROOT, "build", "dycl"))
    p.add_argument("--suite", default=os.path.join(ROOT, "build", "suite"))
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--ort", default=os.path.join(ROOT, "build", "ort"))
    p.add_argument("--docs", default=os.path.join(ROOT, "docs", "bench.md"))
    p.add_argument("--svg", default=os.path.join(ROOT, "docs", "bench_speedup.svg"))
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--skip-peak", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress display (shown only when stderr is a terminal anyway) and no per-round lines")
    a = p.parse_args()
    a.dycl = os.path.abspath(a.dycl)
    a.systems = [s for s in a.systems.split(",") if s]
    bad = [s for s in a.systems if s not in SYSTEMS]
    if bad:
        p.error(f"unknown systems {bad}; known: {', '.join(SYSTEMS)}")
    os.makedirs(os.path.join(a.work, a.config), exist_ok=True)
    if "ort" in a.systems:
        rc, _, err, _ = run_proc(["sh", os.path.join(ROOT, "tests", "split", "setup_ort.sh"), a.ort], 900)
        if rc != 0:
            log(f"bench: ONNX Runtime unavailable ({err.strip()[-200:]}); leaving it out")
            a.systems.remove("ort")
    sys.path.insert(0, os.path.join(ROOT, "models", "suite"))
    import suite  # noqa: E402 - the suite's model discovery
    from progress import Progress  # noqa: E402 - models/suite/progress.py
    names = suite.discover()
    if a.models:
        want = a.models.split(",")
        unknown = [n for n in want if n not in names]
        if unknown:
            p.error(f"unknown models: {', '.join(unknown)}")
        names = want
    t_start = time.monotonic()
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine_desc(),
           "command": "bench/run_bench.py " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else "bench/run_bench.py",
           "args": {k: v for k, v in vars(a).items()}, "models": []}
    if not a.skip_peak:
        log("bench: machine peak (OpenBLAS sgemm)")
        res["peak"] = machine_peak(os.path.join(a.work), a.threads)
        log(f"  {res['peak']}")
        log("bench: host overhead per control-flow step")
        res["host_overhead"] = host_overhead(a.dycl, a.work, a.ort if "ort" in a.systems else None, a.threads)
        log(f"  {json.dumps(res['host_overhead'])}")
    else:
        res["peak"], res["host_overhead"] = {}, {}
    log(f"bench: {len(names)} model(s), {a.config}, {a.threads} thread(s), systems {', '.join(a.systems)}")
    global _progress
    _progress = Progress(f"bench ({a.config}): models", total=len(names), quiet=a.quiet).tick()
    for i, n in enumerate(names):
        _progress.update(detail=f"{n}: preparing")
        res["models"].append(bench_model(a, n, i))
        _progress.advance(detail="")
        if res["models"][-1].get("error"):
            log(f"  {n}: {res['models'][-1]['error']}")
        # keep partial results (a long full run can be stopped)
        with open(os.path.join(a.work, a.config, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
    _progress.close()
    _progress = None
    if not a.skip_peak:
        # once more after the models: a shared machine has slow spells, and a peak measured in one
        # would flatter every percentage against it; the better of the two figures is the peak
        log("bench: machine peak again (OpenBLAS sgemm)")
        res["peak"] = merge_peaks(res["peak"], machine_peak(os.path.join(a.work), a.threads))
        log(f"  {res['peak']}")
        with open(os.path.join(a.work, a.config, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
    res["seconds"] = round(time.monotonic() - t_start, 1)
    with open(os.path.join(a.work, a.config, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = report_md(res)
    print()
    print(md)
    if not a.no_docs:
        try:
            with open(a.docs, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            text = "# Benchmark: dycl against PyTorch, TorchScript and ONNX Runtime\n"
        text = _replace_between(text, f"bench:results:{a.config}", md)
        with open(a.docs, "w", encoding="utf-8") as f:
            f.write(text)
        by_cfg = []
        for c in ("small", "full"):
            try:
                with open(os.path.join(a.work, c, "results.json")) as f:
                    by_cfg.append((c, json.load(f)))
            except (OSError, ValueError):
                pass
        write_svg(a.svg, by_cfg)
        log(f"bench: wrote {a.docs} and {a.svg}")
    failed = [r["name"] for r in res["models"] if r.get("error")]
    log(f"bench: {len(res['models']) - len(failed)} model(s) measured, {len(failed)} failed, {res['seconds']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
