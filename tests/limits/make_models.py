#!/usr/bin/python3
"""Write the models and input files of the limit and allocation-failure tests.

Usage: /usr/bin/python3 tests/limits/make_models.py OUTDIR

Writes, built with onnx.helper (deterministic, no randomness):
  - OUTDIR/sweep.txt: one line per case of the allocation-failure sweep (test_alloc_fail.c),
    `MODE NAME MODEL INPUT...` with absolute paths: on the ref backend the demo model and models
    with a Loop, a Scan, nested Ifs and sequences (SequenceInsert in a Loop, SequenceMap); on the
    cpu backend the demo model, the Loop model and an elementwise chain (BatchNormalization, Mul,
    Add, Relu: one fused group large enough for the worker pool) into Softmax and a MatMul with
    constant weights and a fused Relu; dycl_model_compile and dycl_model_split of the Loop model;
  - the models the limit tests run (run_limits.py, test_limits_api.c): nested Ifs for
    --max-nesting, an endless Loop for --deadline and --max-iterations, a Loop growing a tensor
    for --max-memory, and shape operators (Expand, Tile, Reshape, Range, ConstantOfShape, Resize,
    Pad, Concat) given sizes near 2^63, as run-time inputs and as constants, for the integer
    overflow checks.
Every model passes onnx.checker.check_model except the overflow models given constants (the
checker's shape inference rejects some of them, which is the point).
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

OPSET = [h.make_opsetid("", 17)]
BIG = 2**62  # a dimension whose products with anything above 2 overflow int64


def save_model(path, graph, check=True):
    m = h.make_model(graph, opset_imports=OPSET, producer_name="dycl-limits-tests")
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m)
    onnx.save(m, path)


def save_tensor(path, arr, name="x"):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.asarray(arr), name).SerializeToString())


def save_sequence(path, arrs, name="s"):
    sp = onnx.SequenceProto()
    sp.name = name
    sp.elem_type = onnx.SequenceProto.TENSOR
    for a in arrs:
        sp.tensor_values.append(numpy_helper.from_array(np.asarray(a)))
    with open(path, "wb") as f:
        f.write(sp.SerializeToString())


def vi(name, dtype, shape):
    return h.make_tensor_value_info(name, dtype, shape)


def const(name, arr):
    return h.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr), name + "_v"))


# ------------------------------------------------------------------ sweep models

def loop_model(d):
    """A while-loop: a carried vector, a carried tensor growing by one row per iteration (Concat),
    a scan output, and a condition computed from the data; an If inside the body."""
    body = h.make_graph(
        [
            const("one", np.float32(1.0)),
            h.make_node("Add", ["v_in", "one"], ["v_out"]),
            h.make_node("Unsqueeze", ["v_out", "axes0"], ["row"]),
            h.make_node("Concat", ["g_in", "row"], ["g_out"], axis=0),
            h.make_node("ReduceMax", ["v_out"], ["mx"], keepdims=0),
            h.make_node("Less", ["mx", "limit"], ["cond_out"]),
            h.make_node("Cast", ["i"], ["i_f"], to=T.FLOAT),
            h.make_node("Greater", ["i_f", "half"], ["late"]),
            h.make_node("If", ["late"], ["sc"],
                        then_branch=h.make_graph([h.make_node("Mul", ["v_out", "i_f"], ["t"])], "late_then", [],
                                                 [vi("t", T.FLOAT, [3])]),
                        else_branch=h.make_graph([h.make_node("Sub", ["v_out", "i_f"], ["e"])], "late_else", [],
                                                 [vi("e", T.FLOAT, [3])])),
        ],
        "loop_body",
        [vi("i", T.INT64, []), vi("cond_in", T.BOOL, []), vi("v_in", T.FLOAT, [3]), vi("g_in", T.FLOAT, ["G", 3])],
        [vi("cond_out", T.BOOL, []), vi("v_out", T.FLOAT, [3]), vi("g_out", T.FLOAT, ["G1", 3]), vi("sc", T.FLOAT, [3])],
    )
    g = h.make_graph(
        [
            const("axes0", np.array([0], np.int64)),
            const("half", np.float32(1.5)),
            const("true", np.array(True)),
            h.make_node("Unsqueeze", ["x", "axes0"], ["g0"]),
            h.make_node("Loop", ["trip", "true", "x", "g0"], ["v_final", "g_final", "scans"], body=body),
        ],
        "loop",
        [vi("x", T.FLOAT, [3]), vi("trip", T.INT64, []), vi("limit", T.FLOAT, [])],
        [vi("v_final", T.FLOAT, [3]), vi("g_final", T.FLOAT, ["G", 3]), vi("scans", T.FLOAT, ["N", 3])],
    )
    save_model(os.path.join(d, "loop.onnx"), g)
    save_tensor(os.path.join(d, "loop_x.pb"), np.array([0.5, -1.0, 2.0], np.float32), "x")
    save_tensor(os.path.join(d, "loop_trip.pb"), np.array(10, np.int64), "trip")
    save_tensor(os.path.join(d, "loop_limit.pb"), np.array(7.0, np.float32), "limit")
    return ["loop", "loop.onnx", "loop_x.pb", "loop_trip.pb", "loop_limit.pb"]


def scan_model(d):
    """Scan-16: one state, two scan inputs (the second read in reverse), two scan outputs (the
    second stacked on axis 1)."""
    body = h.make_graph(
        [
            h.make_node("Mul", ["a_t", "b_t"], ["ab"]),
            h.make_node("Add", ["s_in", "ab"], ["s_out"]),
            h.make_node("Sub", ["a_t", "b_t"], ["diff"]),
            h.make_node("Identity", ["s_out"], ["s_copy"]),
        ],
        "scan_body",
        [vi("s_in", T.FLOAT, [2]), vi("a_t", T.FLOAT, [2]), vi("b_t", T.FLOAT, [2])],
        [vi("s_out", T.FLOAT, [2]), vi("s_copy", T.FLOAT, [2]), vi("diff", T.FLOAT, [2])],
    )
    g = h.make_graph(
        [h.make_node("Scan", ["s0", "a", "b"], ["s_final", "sums", "diffs"], body=body, num_scan_inputs=2,
                     scan_input_directions=[0, 1], scan_output_axes=[0, 1])],
        "scan",
        [vi("s0", T.FLOAT, [2]), vi("a", T.FLOAT, ["T", 2]), vi("b", T.FLOAT, ["T", 2])],
        [vi("s_final", T.FLOAT, [2]), vi("sums", T.FLOAT, ["T", 2]), vi("diffs", T.FLOAT, [2, "T"])],
    )
    save_model(os.path.join(d, "scan.onnx"), g)
    save_tensor(os.path.join(d, "scan_s0.pb"), np.zeros(2, np.float32), "s0")
    save_tensor(os.path.join(d, "scan_a.pb"), np.arange(10, dtype=np.float32).reshape(5, 2), "a")
    save_tensor(os.path.join(d, "scan_b.pb"), (np.arange(10, dtype=np.float32) * 0.5 - 1).reshape(5, 2), "b")
    return ["scan", "scan.onnx", "scan_s0.pb", "scan_a.pb", "scan_b.pb"]


def chain_model(d):
    """For the cpu backend's fast kernels and oneDNN: BatchNormalization, Mul, Add and Relu over
    65536 floats (one fused elementwise group, split across threads), Softmax over the last axis,
    and a MatMul with constant weights followed by Relu (a oneDNN primitive with packed weights)."""
    C = 16
    rng = np.random.default_rng(7)
    g = h.make_graph(
        [
            const("scale", np.linspace(0.5, 1.5, C).astype(np.float32)),
            const("bias", np.linspace(-0.2, 0.2, C).astype(np.float32)),
            const("mean", np.linspace(-0.1, 0.1, C).astype(np.float32)),
            const("var", np.linspace(0.8, 1.2, C).astype(np.float32)),
            const("half", np.float32(0.5)),
            const("shift", np.float32(0.25)),
            const("w", rng.standard_normal((32, 8)).astype(np.float32)),
            h.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["bn"]),
            h.make_node("Mul", ["bn", "half"], ["m"]),
            h.make_node("Add", ["m", "shift"], ["a"]),
            h.make_node("Relu", ["a"], ["r"]),
            h.make_node("Softmax", ["r"], ["sm"], axis=-1),
            h.make_node("MatMul", ["sm", "w"], ["mm"]),
            h.make_node("Relu", ["mm"], ["y"]),
        ],
        "chain",
        [vi("x", T.FLOAT, [4, C, 32, 32])],
        [vi("y", T.FLOAT, [4, C, 32, 8])],
    )
    save_model(os.path.join(d, "chain.onnx"), g)
    save_tensor(os.path.join(d, "chain_x.pb"), rng.standard_normal((4, C, 32, 32)).astype(np.float32), "x")
    return ["chain", "chain.onnx", "chain_x.pb"]


def nested_if_graph(depth, x="x"):
    """A graph whose output `y_<depth>` comes out of `depth` nested Ifs on `x` (outer scope)."""
    if depth == 0:
        return [h.make_node("Neg", [x], ["y_0"])]
    inner = nested_if_graph(depth - 1, x)
    k = depth
    return [
        h.make_node("ReduceSum", [x], [f"s_{k}"], keepdims=0),
        const(f"th_{k}", np.float32(float(k))),
        h.make_node("Greater", [f"s_{k}", f"th_{k}"], [f"c_{k}"]),
        h.make_node("If", [f"c_{k}"], [f"y_{k}"],
                    then_branch=h.make_graph(inner + [h.make_node("Identity", [f"y_{k - 1}"], [f"t_{k}"])],
                                             f"then_{k}", [], [vi(f"t_{k}", T.FLOAT, [4])]),
                    else_branch=h.make_graph([h.make_node("Mul", [x, f"th_{k}"], [f"e_{k}"])], f"else_{k}", [],
                                             [vi(f"e_{k}", T.FLOAT, [4])])),
    ]


def if_model(d):
    """Three Ifs nested in their then-branches, each reading the outer input."""
    g = h.make_graph(nested_if_graph(3) + [h.make_node("Identity", ["y_3"], ["y"])], "ifs",
                     [vi("x", T.FLOAT, [4])], [vi("y", T.FLOAT, [4])])
    save_model(os.path.join(d, "if.onnx"), g)
    save_tensor(os.path.join(d, "if_x.pb"), np.array([1, 2, 3, 4], np.float32), "x")
    return ["if", "if.onnx", "if_x.pb"]


def seq_model(d):
    """A Loop building a sequence of growing tensors (SequenceInsert), SequenceMap over it,
    ConcatFromSequence, SequenceAt of a sequence input, SequenceLength."""
    body = h.make_graph(
        [
            h.make_node("Add", ["i", "one64"], ["n"]),
            h.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
            h.make_node("ConstantOfShape", ["n1"], ["item"], value=numpy_helper.from_array(np.array([1.5], np.float32))),
            h.make_node("SequenceInsert", ["seq_in", "item"], ["seq_out"]),
            h.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "seq_body",
        [vi("i", T.INT64, []), vi("cond_in", T.BOOL, []), h.make_tensor_sequence_value_info("seq_in", T.FLOAT, ["K"])],
        [vi("cond_out", T.BOOL, []), h.make_tensor_sequence_value_info("seq_out", T.FLOAT, ["K"])],
    )
    map_body = h.make_graph(
        [h.make_node("Mul", ["m_in", "m_in"], ["m_out"])],
        "map_body", [vi("m_in", T.FLOAT, ["K"])], [vi("m_out", T.FLOAT, ["K"])],
    )
    g = h.make_graph(
        [
            const("one64", np.int64(1)),
            const("axes0", np.array([0], np.int64)),
            const("true", np.array(True)),
            const("zero64", np.int64(0)),
            h.make_node("SequenceEmpty", [], ["empty"], dtype=T.FLOAT),
            h.make_node("Loop", ["trip", "true", "empty"], ["built"], body=body),
            h.make_node("SequenceMap", ["built"], ["squared"], body=map_body),
            h.make_node("ConcatFromSequence", ["squared"], ["flat"], axis=0),
            h.make_node("SequenceLength", ["built"], ["count"]),
            h.make_node("SequenceAt", ["given", "zero64"], ["first"]),
            h.make_node("Concat", ["flat", "first"], ["all"], axis=0),
        ],
        "seqs",
        [vi("trip", T.INT64, []), h.make_tensor_sequence_value_info("given", T.FLOAT, ["K"])],
        [vi("all", T.FLOAT, ["A"]), vi("count", T.INT64, []), h.make_tensor_sequence_value_info("squared", T.FLOAT, ["K"])],
    )
    save_model(os.path.join(d, "seq.onnx"), g)
    save_tensor(os.path.join(d, "seq_trip.pb"), np.array(4, np.int64), "trip")
    save_sequence(os.path.join(d, "seq_given.pb"), [np.array([7, 8], np.float32), np.array([9], np.float32)], "given")
    return ["seq", "seq.onnx", "seq_trip.pb", "seq_given.pb"]


# ------------------------------------------------------------------ limit models

def nesting_model(d, depth):
    g = h.make_graph(nested_if_graph(depth) + [h.make_node("Identity", [f"y_{depth}"], ["y"])], f"nest{depth}",
                     [vi("x", T.FLOAT, [4])], [vi("y", T.FLOAT, [4])])
    save_model(os.path.join(d, f"nest{depth}.onnx"), g)


def endless_model(d):
    """A Loop with no trip count whose condition stays true: it ends only on a limit."""
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]), h.make_node("Add", ["v_in", "one"], ["v_out"])],
        "endless_body",
        [vi("i", T.INT64, []), vi("cond_in", T.BOOL, []), vi("v_in", T.FLOAT, [])],
        [vi("cond_out", T.BOOL, []), vi("v_out", T.FLOAT, [])],
    )
    g = h.make_graph(
        [const("one", np.float32(1.0)), const("true", np.array(True)),
         h.make_node("Loop", ["", "true", "x"], ["y"], body=body)],
        "endless", [vi("x", T.FLOAT, [])], [vi("y", T.FLOAT, [])],
    )
    save_model(os.path.join(d, "endless.onnx"), g)
    save_tensor(os.path.join(d, "scalar.pb"), np.array(0.0, np.float32), "x")


def counted_loop_model(d):
    """A Loop of `trip` iterations over a scalar (the deadline's cost per iteration is measured on it)."""
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]), h.make_node("Add", ["v_in", "one"], ["v_out"])],
        "count_body",
        [vi("i", T.INT64, []), vi("cond_in", T.BOOL, []), vi("v_in", T.FLOAT, [])],
        [vi("cond_out", T.BOOL, []), vi("v_out", T.FLOAT, [])],
    )
    g = h.make_graph(
        [const("one", np.float32(1.0)), const("true", np.array(True)),
         h.make_node("Loop", ["trip", "true", "x"], ["y"], body=body)],
        "counted", [vi("x", T.FLOAT, []), vi("trip", T.INT64, [])], [vi("y", T.FLOAT, [])],
    )
    save_model(os.path.join(d, "counted.onnx"), g)
    save_tensor(os.path.join(d, "trip100.pb"), np.array(100, np.int64), "trip")


def growing_model(d):
    """A Loop doubling a float tensor `trip` times (4 KiB × 2^trip bytes at the end), its sum and itself
    as outputs."""
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]), h.make_node("Concat", ["g_in", "g_in"], ["g_out"], axis=0)],
        "grow_body",
        [vi("i", T.INT64, []), vi("cond_in", T.BOOL, []), vi("g_in", T.FLOAT, ["G"])],
        [vi("cond_out", T.BOOL, []), vi("g_out", T.FLOAT, ["G2"])],
    )
    g = h.make_graph(
        [const("true", np.array(True)), h.make_node("Loop", ["trip", "true", "x"], ["y"], body=body),
         h.make_node("ReduceSum", ["y"], ["total"], keepdims=0)],
        "growing", [vi("x", T.FLOAT, [1024]), vi("trip", T.INT64, [])], [vi("total", T.FLOAT, []), vi("y", T.FLOAT, ["Y"])],
    )
    save_model(os.path.join(d, "growing.onnx"), g)
    save_tensor(os.path.join(d, "ones1024.pb"), np.ones(1024, np.float32), "x")
    save_tensor(os.path.join(d, "trip12.pb"), np.array(12, np.int64), "trip")  # 16 MiB at the end


def overflow_models(d):
    """Shape operators asked for sizes that overflow int64 (or size_t) arithmetic. Each case:
    (name, nodes, graph inputs, {input name: array}); written twice: `ovf_<name>_run.onnx` with the
    sizes as graph inputs (computed at run time) and `ovf_<name>_const.onnx` with them as
    initializers (folded or inferred at load time)."""
    f32 = np.float32
    i64 = np.int64
    cases = [
        ("expand", [h.make_node("Expand", ["x", "shape"], ["y"])],
         {"x": np.ones((1, 1), f32), "shape": np.array([BIG, BIG], i64)}),
        ("expand_rank8", [h.make_node("Expand", ["x", "shape"], ["y"])],
         {"x": np.ones((1,), f32), "shape": np.array([2**8] * 8, i64)}),
        ("tile", [h.make_node("Tile", ["x", "reps"], ["y"])],
         {"x": np.ones((3, 2), f32), "reps": np.array([BIG, 4], i64)}),
        ("reshape", [h.make_node("Reshape", ["x", "shape"], ["y"])],
         {"x": np.ones((4,), f32), "shape": np.array([BIG, BIG, -1], i64)}),
        ("reshape_neg", [h.make_node("Reshape", ["x", "shape"], ["y"])],
         {"x": np.ones((4,), f32), "shape": np.array([-1, BIG, 4], i64)}),
        ("range", [h.make_node("Range", ["start", "limit", "delta"], ["y"])],
         {"start": np.array(-2**63, i64), "limit": np.array(2**63 - 1, i64), "delta": np.array(1, i64)}),
        ("range_float", [h.make_node("Range", ["start", "limit", "delta"], ["y"])],
         {"start": np.array(0, f32), "limit": np.array(3e38, f32), "delta": np.array(1e-30, f32)}),
        ("constantofshape", [h.make_node("ConstantOfShape", ["shape"], ["y"])],
         {"shape": np.array([BIG, 4, 4], i64)}),
        ("constantofshape_bytes", [h.make_node("ConstantOfShape", ["shape"], ["y"])],
         {"shape": np.array([2**61 + 1], i64)}),
        ("resize", [h.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")],
         {"x": np.ones((1, 1, 2, 2), f32), "scales": np.array([1, 1, 1e18, 1e18], f32)}),
        ("resize_sizes", [h.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest")],
         {"x": np.ones((1, 1, 2, 2), f32), "sizes": np.array([1, 1, BIG, BIG], i64)}),
        ("pad", [h.make_node("Pad", ["x", "pads"], ["y"])],
         {"x": np.ones((2, 2), f32), "pads": np.array([2**63 - 1, 0, 2**63 - 1, 0], i64)}),
        ("pad_neg", [h.make_node("Pad", ["x", "pads"], ["y"])],
         {"x": np.ones((2, 2), f32), "pads": np.array([-2**63, 0, -2**63, 0], i64)}),
        ("concat", [h.make_node("Expand", ["x", "shape"], ["big"]),
                    h.make_node("Concat", ["big", "big", "big"], ["y"], axis=0)],
         {"x": np.ones((1,), f32), "shape": np.array([2**62], i64)}),
        # empty tensors: no data, but their dims still enter strides and block sizes
        ("expand_empty", [h.make_node("Expand", ["x", "shape"], ["y"])],
         {"x": np.ones((1,), f32), "shape": np.array([0, BIG, BIG], i64)}),
        ("concat_empty", [h.make_node("Expand", ["x", "shape"], ["big"]),
                          h.make_node("Concat", ["big", "big", "big"], ["y"], axis=1)],
         {"x": np.ones((1,), f32), "shape": np.array([0, BIG], i64)}),
        ("tile_empty", [h.make_node("Tile", ["x", "reps"], ["y"])],
         {"x": np.ones((0, 2), f32), "reps": np.array([BIG, BIG], i64)}),
    ]
    names = []
    for name, nodes, inputs in cases:
        arrs = {k: np.asarray(v) for k, v in inputs.items()}
        elem = {np.dtype(np.float32): T.FLOAT, np.dtype(np.int64): T.INT64}
        infos = [vi(k, elem[a.dtype], list(a.shape)) for k, a in arrs.items()]
        out = [vi("y", T.FLOAT if name.startswith(("expand", "tile", "reshape", "constantofshape", "resize", "pad",
                                                      "concat")) else elem[arrs["start"].dtype], ["Y"])]
        g = h.make_graph(nodes, f"ovf_{name}", infos, out)
        save_model(os.path.join(d, f"ovf_{name}_run.onnx"), g)
        files = []
        for k, a in arrs.items():
            fn = f"ovf_{name}_{k}.pb"
            save_tensor(os.path.join(d, fn), a, k)
            files.append(fn)
        with open(os.path.join(d, f"ovf_{name}_run.args"), "w") as f:
            f.write(" ".join(files) + "\n")
        inits = [numpy_helper.from_array(a, k) for k, a in arrs.items()]
        gc = h.make_graph(nodes, f"ovf_{name}_const", [], out, initializer=inits)
        save_model(os.path.join(d, f"ovf_{name}_const.onnx"), gc, check=False)
        names.append(name)
    with open(os.path.join(d, "overflow.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = os.path.abspath(sys.argv[1])
    os.makedirs(d, exist_ok=True)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    demo = os.path.join(root, "models", "demo")
    demo_line = ["demo", os.path.join(demo, "early_exit.onnx"), os.path.join(demo, "inputs", "hard.pb")]
    made = {}
    for make in (loop_model, scan_model, if_model, seq_model, chain_model):
        line = make(d)
        made[line[0]] = [line[0]] + [os.path.join(d, p) for p in line[1:]]
    sweep = [["ref"] + demo_line] + [["ref"] + made[n] for n in ("loop", "scan", "if", "seq")]
    sweep += [["cpu"] + demo_line] + [["cpu"] + made[n] for n in ("loop", "chain")]
    sweep += [["compile"] + made["loop"][:2], ["split"] + made["loop"][:2]]
    with open(os.path.join(d, "sweep.txt"), "w") as f:
        for line in sweep:
            f.write(" ".join(line) + "\n")
    for depth in (3, 5):
        nesting_model(d, depth)
    endless_model(d)
    counted_loop_model(d)
    growing_model(d)
    overflow_models(d)
    print(f"make_models: wrote {len(sweep)} sweep models and the limit models into {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
