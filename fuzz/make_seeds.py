#!/usr/bin/python3
"""Build the seed corpora of the fuzz harnesses (fuzz/fuzz_*.c) from the test models.

Usage: /usr/bin/python3 fuzz/make_seeds.py OUTDIR --models DIR [--node-tests DIR] [--bad-inputs DIR]

Writes OUTDIR/model/, OUTDIR/tensor/ and OUTDIR/run/ (each emptied first):
  model   the demo model, the `run` harness's models (DIR of fuzz/gen_models.py), every model.onnx of
          the ONNX node tests (--node-tests, e.g. build/onnx-node-tests) and every model of the
          bad-input cases (tests/bad_inputs/make_cases.py, written into --bad-inputs)
  tensor  the demo inputs, the first input and output of every node test, the bad-input cases'
          value files, and NumPy files of every element type, byte order and layout; each file
          prefixed with the harness's selector byte (0 tensor, 1 sequence, 2 optional, 3 .npy)
  run     valid inputs for each `run` model, on the ref backend, the cpu one, and both
Files larger than 64 KiB are left out (they slow the fuzzer down more than they teach it).
Deterministic. Needs Debian's /usr/bin/python3 (onnx, numpy).
"""

import argparse
import hashlib
import io
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 64 << 10
SEL = {"tensor": 0, "sequence": 1, "optional": 2, "npy": 3}


class Corpus:
    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.makedirs(path)
        self.count = 0

    def add(self, data):
        if len(data) > MAX_SEED:
            return
        name = hashlib.sha1(data).hexdigest()
        p = os.path.join(self.path, name)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
            self.count += 1


def read(path):
    with open(path, "rb") as f:
        return f.read()


def kind_of(type_proto):
    w = type_proto.WhichOneof("value")
    return {"sequence_type": "sequence", "optional_type": "optional"}.get(w, "tensor")


def node_test_seeds(node_dir, models, tensors):
    for name in sorted(os.listdir(node_dir)):
        d = os.path.join(node_dir, name)
        mp = os.path.join(d, "model.onnx")
        if not os.path.isfile(mp):
            continue
        data = read(mp)
        models.add(data)
        try:
            m = onnx.load_from_string(data)
        except Exception:
            continue
        ds = os.path.join(d, "test_data_set_0")
        for prefix, vals in (("input", m.graph.input), ("output", m.graph.output)):
            f = os.path.join(ds, f"{prefix}_0.pb")
            if vals and os.path.isfile(f):
                tensors.add(bytes([SEL[kind_of(vals[0].type)]]) + read(f))


def npy_bytes(arr, fortran=False, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, np.asfortranarray(arr) if fortran else arr)
    else:
        np.lib.format.write_array(buf, np.asfortranarray(arr) if fortran else arr, version=version)
    return buf.getvalue()


def npy_seeds(tensors):
    rng = np.random.RandomState(7)
    for dt in ["<f4", ">f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", ">i4", "<u4", "<i8", ">i8", "<u8", "|b1"]:
        a = (rng.randn(2, 3) * 10).astype(dt)
        tensors.add(bytes([SEL["npy"]]) + npy_bytes(a))
    tensors.add(bytes([SEL["npy"]]) + npy_bytes(np.arange(24, dtype=np.float32).reshape(2, 3, 4), fortran=True))
    tensors.add(bytes([SEL["npy"]]) + npy_bytes(np.float32(3.5)))
    tensors.add(bytes([SEL["npy"]]) + npy_bytes(np.zeros((0, 3), np.int64)))
    tensors.add(bytes([SEL["npy"]]) + npy_bytes(np.ones((2, 2), np.float32), version=(2, 0)))
    tensors.add(bytes([SEL["npy"]]) + npy_bytes(np.ones((1, 1, 1, 1, 1, 1, 1, 1), np.int32)))
    # TensorProtos built here: every data field, raw and typed, strings, empty and scalar tensors
    for arr in [np.arange(6, dtype=np.float32).reshape(2, 3), np.array(["a", "bc", ""], dtype=object),
                np.array(2.5, np.float64), np.zeros((3, 0), np.int8), np.array([True, False]),
                np.arange(4, dtype=np.uint64), np.arange(4, dtype=np.float16)]:
        tp = numpy_helper.from_array(arr, "x")
        tensors.add(bytes([SEL["tensor"]]) + tp.SerializeToString())
    seq = onnx.helper.make_sequence("s", onnx.SequenceProto.TENSOR,
                                    [numpy_helper.from_array(np.ones((2,), np.float32) * i) for i in range(3)])
    tensors.add(bytes([SEL["sequence"]]) + seq.SerializeToString())
    opt = onnx.helper.make_optional("o", onnx.OptionalProto.TENSOR, numpy_helper.from_array(np.ones(3, np.int64)))
    tensors.add(bytes([SEL["optional"]]) + opt.SerializeToString())
    tensors.add(bytes([SEL["optional"]]) + onnx.helper.make_optional("o", onnx.OptionalProto.UNDEFINED, None)
                .SerializeToString())


# --------------------------------------------------------------------------- run harness inputs

def declared(vi):
    """(kind, rank or -1, [dim or None]) as the harness sees a graph input's declared type."""
    t = vi.type
    kind = kind_of(t)
    if kind != "tensor":
        return kind, -1, []
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return kind, -1, []
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    return kind, len(dims), dims


def encode_run(model_index, flags, graph_inputs, arrays):
    """The harness's input layout (fuzz/fuzz_run.c) for tensor inputs with declared element types."""
    head = bytearray([model_index, flags])
    data = bytearray()
    for vi, a in zip(graph_inputs, arrays):
        kind, rank, dims = declared(vi)
        assert kind == "tensor", "run seeds hold tensor inputs only"
        a = np.asarray(a)
        if rank < 0:
            head.append(a.ndim)
            dims = [None] * a.ndim
        assert len(dims) == a.ndim, (vi.name, dims, a.shape)
        for d, n in zip(dims, a.shape):
            if d is not None:
                assert d == n, (vi.name, dims, a.shape)
                head.append(0)
            else:
                assert n < 9, (vi.name, a.shape)
                head.append(n)
        data += a.tobytes()
    return bytes(head + data)


def run_inputs(rng):
    """Valid inputs for each model of fuzz/gen_models.py, in its order (index: list of arrays)."""
    f32 = lambda *s: rng.randn(*s).astype(np.float32)
    i64 = lambda *v: np.array(v, np.int64)
    demo = []
    for n in ("easy", "medium", "hard"):
        tp = onnx.TensorProto()
        tp.ParseFromString(read(os.path.join(ROOT, "models", "demo", "inputs", n + ".pb")))
        demo.append([numpy_helper.to_array(tp)])
    return {
        0: demo,
        1: [[np.array(True), f32(3)], [np.array(False), f32(4)]],
        2: [[np.array(3, np.int64), np.array(True), f32(2), f32(1), np.float32(100)],
            [np.array(8, np.int64), np.array(True), f32(3), f32(0), np.float32(5)]],
        3: [[f32(3), f32(4, 3)], [f32(2), f32(1, 2)]],
        4: [[np.array(3, np.int64), f32(2), np.array(1, np.int64)], [np.array(0, np.int64), f32(4), np.array(-1, np.int64)]],
        5: [[f32(2, 3), i64(2, 3), f32(3)], [f32(2, 2), i64(2, 2), f32(1, 1)]],
        6: [[f32(4), i64(0, 3, 1, 2), i64(1), i64(3), i64(0), i64(1), i64(2), np.array(0, np.int64),
             np.array(5, np.int64), np.array(2, np.int64)]],
        7: [[np.array([7, -7, 9], np.int32), np.array([2, 3, -4], np.int32), f32(3), f32(3) + 2, f32(3) * 5,
             i64(5, -6, 7), i64(2, 3, -1), np.array(0, np.int64)]],
        8: [[np.array(3, np.int64), f32(2), f32(3, 2)], [np.array(2, np.int64), -np.abs(f32(3)), f32(1, 3)]],
        9: [[f32(1, 2, 6, 6)], [f32(2, 2, 4, 5)]],
    }


def run_seeds(models_dir, corpus):
    rng = np.random.RandomState(3)
    inputs = run_inputs(rng)
    k = 0
    while os.path.isfile(os.path.join(models_dir, f"run_{k}.onnx")):
        m = onnx.load(os.path.join(models_dir, f"run_{k}.onnx"))
        init = {i.name for i in m.graph.initializer}
        graph_inputs = [i for i in m.graph.input if i.name not in init]
        for arrays in inputs.get(k, []):
            for flags in (0, 2, 3):
                corpus.add(encode_run(k, flags, graph_inputs, arrays))
        k += 1
    if k == 0:
        raise SystemExit(f"make_seeds: no run_<k>.onnx in {models_dir}")


def main():
    ap = argparse.ArgumentParser(description="Build the fuzz harnesses' seed corpora.")
    ap.add_argument("outdir")
    ap.add_argument("--models", required=True, help="the folder fuzz/gen_models.py wrote")
    ap.add_argument("--node-tests", help="the ONNX node tests (tests/conformance/gen_node_tests.py)")
    ap.add_argument("--bad-inputs", help="a folder to write the bad-input cases into")
    a = ap.parse_args()
    models = Corpus(os.path.join(a.outdir, "model"))
    tensors = Corpus(os.path.join(a.outdir, "tensor"))
    runs = Corpus(os.path.join(a.outdir, "run"))

    models.add(read(os.path.join(ROOT, "models", "demo", "early_exit.onnx")))
    for n in ("easy", "medium", "hard"):
        tensors.add(bytes([SEL["tensor"]]) + read(os.path.join(ROOT, "models", "demo", "inputs", n + ".pb")))
    k = 0
    while os.path.isfile(os.path.join(a.models, f"run_{k}.onnx")):
        models.add(read(os.path.join(a.models, f"run_{k}.onnx")))
        k += 1
    if a.node_tests:
        node_test_seeds(a.node_tests, models, tensors)
    if a.bad_inputs:
        sys.path.insert(0, os.path.join(ROOT, "tests", "bad_inputs"))
        import make_cases
        make_cases.build_cases(a.bad_inputs)
        for dirpath, _, files in sorted(os.walk(a.bad_inputs)):
            for fn in sorted(files):
                p = os.path.join(dirpath, fn)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                if fn.endswith(".onnx"):
                    models.add(read(p))
                elif fn.endswith(".pb"):
                    tensors.add(bytes([SEL["tensor"]]) + read(p))
                elif fn.endswith(".npy"):
                    tensors.add(bytes([SEL["npy"]]) + read(p))
    npy_seeds(tensors)
    run_seeds(a.models, runs)
    print(f"make_seeds: {models.count} model, {tensors.count} tensor, {runs.count} run seeds in {a.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
