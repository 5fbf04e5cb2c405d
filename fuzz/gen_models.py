#!/usr/bin/python3
"""Write the small models the `run` fuzz harness (fuzz/fuzz_run.c) loads and runs.

Usage: /usr/bin/python3 fuzz/gen_models.py OUTDIR

Writes OUTDIR/run_<k>.onnx for k = 0, 1, ... and OUTDIR/models.txt (one line per model: index,
name, inputs). The fuzzer's first byte picks the model by index, so the list is append-only:
committed regression inputs (tests/fuzz/regressions/run/) keep their meaning. Each model is small
and exercises control flow or values that the run-time must check (shapes, indices, counts taken
from the inputs). Deterministic; needs Debian's /usr/bin/python3 (onnx, numpy).
"""

import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F, I64, I32, B, U8 = T.FLOAT, T.INT64, T.INT32, T.BOOL, T.UINT8


def vi(name, dtype, shape):
    return h.make_tensor_value_info(name, dtype, shape)


def const(name, arr):
    return h.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr), name + "_v"))


def model(name, nodes, inputs, outputs, inits=()):
    g = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)], producer_name="dycl-fuzz")
    m.ir_version = 8
    return m


def if_branches():
    """If on a bool input; the branches give outputs of different shapes."""
    then_g = h.make_graph(
        [const("two", np.float32(2)), h.make_node("Mul", ["x", "two"], ["t0"]), h.make_node("Relu", ["t0"], ["y"])],
        "then", [], [vi("y", F, None)])
    else_g = h.make_graph(
        [h.make_node("Concat", ["x", "x"], ["c"], axis=0), h.make_node("Neg", ["c"], ["y2"])],
        "else", [], [vi("y2", F, None)])
    nodes = [h.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)]
    return model("if_branches", nodes, [vi("cond", B, []), vi("x", F, ["N"])], [vi("y", F, None)])


def loop_while():
    """A while-style Loop: trip count and condition from the inputs, a carried value that grows
    each iteration, and a scan output."""
    body = h.make_graph(
        [
            h.make_node("Abs", ["x_in"], ["a"]),
            const("one", np.float32(1)),
            h.make_node("Add", ["a", "one"], ["a1"]),
            h.make_node("Add", ["x_in", "a1"], ["x_out"]),
            h.make_node("Concat", ["g_in", "x_in"], ["g_out"], axis=0),
            h.make_node("ReduceSum", ["x_out"], ["s"], keepdims=0),
            h.make_node("Less", ["s", "limit"], ["c_out"]),
            h.make_node("Identity", ["s"], ["s_scan"]),
        ],
        "body",
        [vi("i", I64, []), vi("c_in", B, []), vi("x_in", F, ["N"]), vi("g_in", F, None)],
        [vi("c_out", B, []), vi("x_out", F, ["N"]), vi("g_out", F, None), vi("s_scan", F, [])],
    )
    nodes = [h.make_node("Loop", ["M", "cond", "x", "g0"], ["xf", "gf", "ss"], body=body)]
    return model("loop_while", nodes,
                 [vi("M", I64, []), vi("cond", B, []), vi("x", F, ["N"]), vi("g0", F, ["G"]), vi("limit", F, [])],
                 [vi("xf", F, None), vi("gf", F, None), vi("ss", F, None)])


def scan_sum():
    """Scan: a running sum over the rows of a [T, D] input, with a per-step output."""
    body = h.make_graph(
        [h.make_node("Add", ["s_in", "row"], ["s_out"]), h.make_node("Mul", ["s_out", "row"], ["y"])],
        "body", [vi("s_in", F, ["D"]), vi("row", F, ["D"])], [vi("s_out", F, ["D"]), vi("y", F, ["D"])])
    nodes = [h.make_node("Scan", ["init", "seq"], ["final", "ys"], body=body, num_scan_inputs=1)]
    return model("scan_sum", nodes, [vi("init", F, ["D"]), vi("seq", F, ["T", "D"])],
                 [vi("final", F, None), vi("ys", F, None)])


def seq_loop():
    """A Loop that builds a sequence, then indexing into it with a position from the input."""
    body = h.make_graph(
        [
            h.make_node("Cast", ["i"], ["fi"], to=F),
            h.make_node("Mul", ["x", "fi"], ["item"]),
            h.make_node("SequenceInsert", ["seq_in", "item"], ["seq_out"]),
            h.make_node("Identity", ["c_in"], ["c_out"]),
        ],
        "body", [vi("i", I64, []), vi("c_in", B, []), h.make_tensor_sequence_value_info("seq_in", F, None)],
        [vi("c_out", B, []), h.make_tensor_sequence_value_info("seq_out", F, None)])
    nodes = [
        h.make_node("SplitToSequence", ["x"], ["seq0"], axis=0, keepdims=1),
        const("t", np.array(True)),
        h.make_node("Loop", ["n", "t", "seq0"], ["seq"], body=body),
        h.make_node("SequenceLength", ["seq"], ["len"]),
        h.make_node("SequenceAt", ["seq", "pos"], ["at"]),
        h.make_node("ConcatFromSequence", ["seq"], ["cat"], axis=0),
        h.make_node("SequenceErase", ["seq", "pos"], ["erased"]),
        h.make_node("SequenceLength", ["erased"], ["len2"]),
    ]
    return model("seq_loop", nodes, [vi("n", I64, []), vi("x", F, ["K"]), vi("pos", I64, [])],
                 [vi("len", I64, []), vi("at", F, None), vi("cat", F, None), vi("len2", I64, [])])


def shapes():
    """Shapes taken from an input: ConstantOfShape, Reshape, Expand, Tile."""
    nodes = [
        h.make_node("ConstantOfShape", ["shape"], ["c"], value=numpy_helper.from_array(np.array([1.5], np.float32))),
        h.make_node("Reshape", ["x", "shape"], ["r"]),
        h.make_node("Expand", ["y", "shape"], ["e"]),
        h.make_node("Abs", ["shape"], ["reps"]),
        h.make_node("Tile", ["x", "reps"], ["t"]),
    ]
    return model("shapes", nodes, [vi("x", F, None), vi("shape", I64, ["R"]), vi("y", F, None)],
                 [vi("c", F, None), vi("r", F, None), vi("e", F, None), vi("t", F, None)])


def indices():
    """Indices and counts from the inputs: Gather, Slice, TopK, Range, OneHot, ScatterElements."""
    nodes = [
        h.make_node("Gather", ["x", "idx"], ["g"], axis=0),
        h.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"]),
        h.make_node("TopK", ["x", "k"], ["tv", "ti"], axis=-1),
        h.make_node("Range", ["r0", "r1", "rd"], ["rg"]),
        const("depth", np.array(5, np.int64)),
        const("onoff", np.array([0, 1], np.float32)),
        h.make_node("OneHot", ["idx", "depth", "onoff"], ["oh"]),
        h.make_node("ScatterElements", ["x", "idx", "x"], ["sc"], axis=0),
    ]
    return model("indices", nodes,
                 [vi("x", F, ["N"]), vi("idx", I64, ["N"]), vi("starts", I64, [1]), vi("ends", I64, [1]),
                  vi("axes", I64, [1]), vi("steps", I64, [1]), vi("k", I64, [1]), vi("r0", I64, []),
                  vi("r1", I64, []), vi("rd", I64, [])],
                 [vi("g", F, None), vi("s", F, None), vi("tv", F, None), vi("ti", I64, None), vi("rg", I64, None),
                  vi("oh", F, None), vi("sc", F, None)])


def integers():
    """Integer arithmetic and casts whose results C leaves undefined if done naively."""
    nodes = [
        h.make_node("Div", ["a", "b"], ["div"]),
        h.make_node("Mod", ["a", "b"], ["mod"]),
        h.make_node("Mod", ["fa", "fb"], ["fmod"], fmod=1),
        h.make_node("Cast", ["f"], ["f2i32"], to=I32),
        h.make_node("Cast", ["f"], ["f2u8"], to=U8),
        h.make_node("Cast", ["f"], ["f2i64"], to=I64),
        h.make_node("Abs", ["a"], ["abs"]),
        h.make_node("Neg", ["a"], ["neg"]),
        h.make_node("Mul", ["a", "b"], ["mul"]),
        h.make_node("Pow", ["a", "b"], ["pow"]),
        h.make_node("Div", ["l", "m"], ["ldiv"]),
        h.make_node("ReduceProd", ["l"], ["lprod"], keepdims=0),
        h.make_node("CumSum", ["l", "ax"], ["lcum"]),
        h.make_node("ArgMax", ["f"], ["amax"], axis=0),
    ]
    return model("integers", nodes,
                 [vi("a", I32, ["N"]), vi("b", I32, ["N"]), vi("fa", F, ["N"]), vi("fb", F, ["N"]), vi("f", F, ["N"]),
                  vi("l", I64, ["N"]), vi("m", I64, ["N"]), vi("ax", I64, [])],
                 [vi(n, t, None) for n, t in [("div", I32), ("mod", I32), ("fmod", F), ("f2i32", I32), ("f2u8", U8),
                                               ("f2i64", I64), ("abs", I32), ("neg", I32), ("mul", I32), ("pow", I32),
                                               ("ldiv", I64), ("lprod", I64), ("lcum", I64), ("amax", I64)]])


def nested():
    """Loop → If → Scan: control flow three levels deep, values changing shape on one path."""
    scan_body = h.make_graph([h.make_node("Add", ["acc", "r"], ["acc2"]), h.make_node("Identity", ["acc2"], ["o"])],
                             "scan_body", [vi("acc", F, ["D"]), vi("r", F, ["D"])],
                             [vi("acc2", F, ["D"]), vi("o", F, ["D"])])
    then_g = h.make_graph(
        [h.make_node("Scan", ["x_in", "rows"], ["xs", "outs"], body=scan_body, num_scan_inputs=1),
         h.make_node("Identity", ["xs"], ["y"])],
        "then", [], [vi("y", F, None)])
    else_g = h.make_graph([const("half", np.float32(0.5)), h.make_node("Mul", ["x_in", "half"], ["y2"])],
                          "else", [], [vi("y2", F, None)])
    body = h.make_graph(
        [
            h.make_node("ReduceSum", ["x_in"], ["s"], keepdims=0),
            const("zero", np.float32(0)),
            h.make_node("Greater", ["s", "zero"], ["pos"]),
            h.make_node("If", ["pos"], ["x_out"], then_branch=then_g, else_branch=else_g),
            h.make_node("Identity", ["c_in"], ["c_out"]),
        ],
        "body", [vi("i", I64, []), vi("c_in", B, []), vi("x_in", F, ["D"])],
        [vi("c_out", B, []), vi("x_out", F, None)])
    nodes = [const("t", np.array(True)), h.make_node("Loop", ["M", "t", "x"], ["xf"], body=body)]
    return model("nested", nodes, [vi("M", I64, []), vi("x", F, ["D"]), vi("rows", F, ["T", "D"])],
                 [vi("xf", F, None)])


def conv_pool():
    """Convolution and pooling on an input of any spatial size (the cpu backend's oneDNN path)."""
    rng = np.random.RandomState(0)
    w = numpy_helper.from_array(rng.randn(4, 2, 3, 3).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.randn(4).astype(np.float32), "bias")
    nodes = [
        h.make_node("Conv", ["x", "w", "bias"], ["c"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c"], ["r"]),
        h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("GlobalAveragePool", ["p"], ["g"]),
        h.make_node("Flatten", ["g"], ["y"]),
        h.make_node("ReduceMax", ["y"], ["m"], keepdims=0),
        const("zero", np.float32(0)),
        h.make_node("Greater", ["m", "zero"], ["big"]),
        h.make_node("If", ["big"], ["z"],
                    then_branch=h.make_graph([h.make_node("Softmax", ["y"], ["z1"])], "then", [], [vi("z1", F, None)]),
                    else_branch=h.make_graph([h.make_node("Sigmoid", ["y"], ["z2"])], "else", [], [vi("z2", F, None)])),
    ]
    return model("conv_pool", nodes, [vi("x", F, ["N", 2, "H", "W"])], [vi("z", F, None)], inits=[w, bias])


GENERATORS = [if_branches, loop_while, scan_sum, seq_loop, shapes, indices, integers, nested, conv_pool]


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    lines = []
    # run_0 is the bundled demo: a three-exit classifier (Conv, If).
    demo = os.path.join(ROOT, "models", "demo", "early_exit.onnx")
    shutil.copyfile(demo, os.path.join(out, "run_0.onnx"))
    lines.append("0 early_exit (models/demo/early_exit.onnx)")
    for k, gen in enumerate(GENERATORS, start=1):
        m = gen()
        data = m.SerializeToString()
        path = os.path.join(out, f"run_{k}.onnx")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        lines.append(f"{k} {gen.__name__}: " + ", ".join(i.name for i in m.graph.input))
    with open(os.path.join(out, "models.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
