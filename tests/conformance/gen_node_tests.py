#!/usr/bin/python3
"""Generate the ONNX backend node tests into OUTDIR.

Usage: /usr/bin/python3 tests/conformance/gen_node_tests.py OUTDIR [--force]

Layout written: OUTDIR/<test_name>/model.onnx and OUTDIR/<test_name>/test_data_set_<k>/
{input_<i>.pb, output_<j>.pb}, exactly as onnx's own generator writes them (it is onnx's
generator that runs, in-process, into a temporary folder next to OUTDIR; its node/ part is then
moved into place).

Cached: OUTDIR/.stamp is written last, after a complete generation, and names the onnx version;
when it is present and matches the installed onnx, nothing is done. Deterministic: numpy's global
random generator is seeded before onnx's test cases are imported and run.

One fix-up of onnx's data: onnx 1.12 writes bfloat16 tensors (the Cast/CastLike bfloat16 tests)
as UINT16 TensorProtos holding the bfloat16 bits, although the model declares tensor(bfloat16).
Those files are rewritten with data_type BFLOAT16 (same bits), so that the data matches the
model's declared types.

Needs Debian's /usr/bin/python3 (onnx 1.12). numpy >= 1.24 removed the aliases np.float, np.int,
np.bool, np.object, np.str, np.complex, ... that onnx 1.12's test cases still use; they are defined
again here, in this process only, before onnx's test cases are imported.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings

STAMP = ".stamp"


def _restore_numpy_aliases(np):
    aliases = {
        "float": float,
        "int": int,
        "bool": bool,
        "object": object,
        "str": str,
        "complex": complex,
        "long": int,
        "unicode": str,
    }
    for name, value in aliases.items():
        # np.float etc. raise AttributeError (numpy >= 1.24) or emit a DeprecationWarning (1.20-1.23)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            present = name in np.__dict__
        if not present:
            setattr(np, name, value)


def _stamp_text(onnx, np):
    return json.dumps({"onnx": onnx.__version__, "numpy": np.__version__,
                       "generator": "onnx.backend.test.cmd_tools.generate_data", "layout": 2},
                      sort_keys=True) + "\n"


def is_current(outdir):
    """True when outdir holds a complete generation for the installed onnx version."""
    try:
        import onnx
        with open(os.path.join(outdir, STAMP)) as f:
            stamp = json.load(f)
        return stamp.get("onnx") == onnx.__version__ and stamp.get("layout") == 2
    except (OSError, ValueError):
        return False


def generate(outdir, force=False, quiet=False):
    """Generate (unless current) and return the number of test cases in outdir."""
    outdir = os.path.abspath(outdir)
    if not force and is_current(outdir):
        n = count_cases(outdir)
        if not quiet:
            print(f"gen_node_tests: {outdir} is up to date ({n} cases)")
        return n

    import numpy as np
    _restore_numpy_aliases(np)
    import onnx
    np.random.seed(0)
    from onnx.backend.test import cmd_tools

    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".onnx-node-tests.tmp.", dir=parent)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.random.seed(0)
            cmd_tools.generate_data(argparse.Namespace(output=tmp, op_type=None))
        node_dir = os.path.join(tmp, "node")
        if not os.path.isdir(node_dir):
            raise RuntimeError("onnx's generator wrote no node/ folder")
        _fix_bfloat16(onnx, node_dir)
        with open(os.path.join(node_dir, STAMP), "w") as f:
            f.write(_stamp_text(onnx, np))
        # Replace outdir: move the old one aside first so that outdir is never half-written
        # under its final name (the stamp is what marks it complete anyway).
        old = None
        if os.path.lexists(outdir):
            old = tempfile.mkdtemp(prefix=".onnx-node-tests.old.", dir=parent)
            os.rename(outdir, os.path.join(old, "x"))
        os.rename(node_dir, outdir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = count_cases(outdir)
    if not quiet:
        print(f"gen_node_tests: generated {n} cases into {outdir} (onnx {onnx.__version__})")
    return n


def _fix_bfloat16(onnx, node_dir):
    """Retypes UINT16 data files of bfloat16 graph inputs/outputs as BFLOAT16 (same bits)."""
    T = onnx.TensorProto
    for test in sorted(os.listdir(node_dir)):
        model_path = os.path.join(node_dir, test, "model.onnx")
        if not os.path.isfile(model_path):
            continue
        g = onnx.load(model_path).graph
        todo = []
        for prefix, vis in (("input", g.input), ("output", g.output)):
            for i, vi in enumerate(vis):
                if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type == T.BFLOAT16:
                    todo.append(f"{prefix}_{i}.pb")
        if not todo:
            continue
        for ds in sorted(os.listdir(os.path.join(node_dir, test))):
            for fname in todo:
                p = os.path.join(node_dir, test, ds, fname)
                if not os.path.isfile(p):
                    continue
                t = T()
                with open(p, "rb") as f:
                    t.ParseFromString(f.read())
                if t.data_type == T.UINT16:
                    t.data_type = T.BFLOAT16
                    with open(p, "wb") as f:
                        f.write(t.SerializeToString())


def count_cases(outdir):
    try:
        return sum(1 for d in os.listdir(outdir)
                   if os.path.isfile(os.path.join(outdir, d, "model.onnx")))
    except OSError:
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", default="build/onnx-node-tests")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    try:
        n = generate(args.outdir, force=args.force, quiet=args.quiet)
    except ImportError as e:
        print(f"gen_node_tests: error: {e} (run with Debian's /usr/bin/python3, which has onnx)",
              file=sys.stderr)
        return 1
    return 0 if n > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
