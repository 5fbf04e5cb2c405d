"""Hand-written ONNX models for the cpu backend's fast kernels (src/backend/cpu/cpu_fast*.c), part
of run_cpu_checks.py's `gen` group through cpu_cases.cases(); every name starts with `fast_`.

They cover the fused elementwise groups (chains and trees of unary and binary ops, BatchNormalization
in inference form, the GELU pattern) with every broadcast form the driver meets — same shape,
scalar, per-channel [C,1,1], last-dim row, broadcasts that need no contiguity, rank 0 — and empty
tensors, NaN and infinities; values with a second reader (the group boundary); and the single-node
kernels: Softmax/LogSoftmax (opset 11 and 13, and an inner axis left to the reference kernel),
LayerNormalization, small ReduceSum/ReduceMean that oneDNN leaves alone, Concat, Transpose and the
reshapes that take over their input's buffer. The expected outputs are the ref backend's.
"""

import numpy as np
from onnx import TensorProto

from cpu_cases import F32, Builder, rnd

I64 = TensorProto.INT64


def specials(a, rng, frac=0.05):
    """a copy of float array a with some NaN, +inf and -inf."""
    a = a.copy()
    if a.size:
        flat = a.reshape(-1)
        for v in (np.nan, np.inf, -np.inf):
            idx = rng.choice(flat.size, max(1, int(flat.size * frac / 3)), replace=False)
            flat[idx] = v
    return a


def unary_chain_cases():
    """Every unary op of the fused groups, chained so that one group holds them, over shapes with
    a tail shorter than a vector, empty and rank 0; inputs with NaN and infinities."""
    rng = np.random.default_rng(300)
    out = []
    shapes = [(2, 3, 37), (1, 1, 1000), (0, 3, 5), (3, 1, 1)]
    chains = [
        ("fast_unary_transcendental", [("Sigmoid", {}), ("Tanh", {}), ("Exp", {}), ("Neg", {}), ("Erf", {}),
                                       ("Abs", {}), ("Log", {})]),
        ("fast_unary_rectifiers", [("LeakyRelu", dict(alpha=0.3)), ("Elu", dict(alpha=0.7)), ("HardSigmoid", {}),
                                   ("Relu", {}), ("HardSwish", {})]),
        ("fast_unary_rounding", [("Reciprocal", {}), ("Floor", {}), ("Sqrt", {}), ("Ceil", {}), ("Neg", {})]),
    ]
    for name, ops in chains:
        b = Builder(name, 301)
        y = b.input("x", ["A", "B", "C"])
        for op, attrs in ops:
            y = b.op(op, [y], **attrs)
        b.output(y)
        sets = [[specials(rnd(rng, *s) * 3, rng)] for s in shapes]
        out.append((name, b.model(14), sets))
    # Clip (opset 6 attributes, opset 13 constant inputs, one bound only), each as its own group
    for name, opset, mk in [
        ("fast_clip_attrs", 6, lambda b, y: b.op("Clip", [y], min=-0.5, max=0.75)),
        ("fast_clip_inputs", 13, lambda b, y: b.op("Clip", [y, b.const(np.float32(-1)), b.const(np.float32(0.25))])),
        ("fast_clip_upper_only", 13, lambda b, y: b.op("Clip", [y, "", b.const(np.float32(0.1))])),
    ]:
        b = Builder(name, 302)
        x = b.input("x", ["A", "B"])
        b.output(b.op("Mul", [mk(b, x), b.const(np.float32(2.0))]))
        out.append((name, b.model(opset), [[specials(rnd(rng, 4, 33), rng)], [rnd(rng, 1, 5)], [rnd(rng, 0, 5)]]))
    # Pow with the constant exponents the groups take, and one they leave to the reference kernel
    for e in (2.0, 0.5, 3.0, 1.0, 0.0, 1.5):
        name = f"fast_pow_{str(e).replace('.', '_')}"
        b = Builder(name, 303)
        x = b.input("x", ["A", "B"])
        y = b.op("Pow", [b.op("Add", [x, b.const(np.float32(0.5))]), b.const(np.array([e], np.float32))])
        b.output(b.op("Sub", [y, b.const(np.float32(1.0))]))
        x0 = specials(rnd(rng, 3, 21), rng)
        x0[0, :4] = [-np.inf, -0.5, -0.0, 0.0]
        out.append((name, b.model(13), [[x0], [rnd(rng, 1, 1)]]))
    # an integer exponent input and a rank-0 base: the output's shape comes from the exponent too
    b = Builder("fast_pow_int_exponent_rank0", 304)
    x = b.input("x", [])
    b.output(b.op("Pow", [b.op("Abs", [x]), b.const(np.array([2], np.int64))]))
    out.append(("fast_pow_int_exponent_rank0", b.model(15), [[np.array(1.5, np.float32)], [np.array(np.nan, np.float32)]]))
    return out


def broadcast_cases():
    """Binary trees over every broadcast form; Max/Min with NaN."""
    rng = np.random.default_rng(310)
    out = []
    # per-channel scale and shift then ReLU, as after a convolution; plus a scalar
    b = Builder("fast_channel_affine_relu", 311)
    x = b.input("x", ["N", 8, "H", "W"])
    y = b.op("Mul", [x, b.weights(8, 1, 1, scale=1.0)])
    y = b.op("Add", [y, b.weights(8, 1, 1, scale=1.0)])
    y = b.op("Relu", [b.op("Sub", [y, b.const(np.float32(0.1))])])
    b.output(y)
    out.append(("fast_channel_affine_relu", b.model(13),
                [[rnd(rng, 2, 8, 5, 7)], [rnd(rng, 1, 8, 1, 1)], [rnd(rng, 1, 8, 40, 40)], [rnd(rng, 0, 8, 3, 3)]]))
    # last-dim row (bias), row broadcast both ways, and an outer product [N,1,W] x [1,C,1]
    b = Builder("fast_rows_and_outer", 312)
    a = b.input("a", ["N", 1, "W"])
    c = b.input("c", [1, "C", 1])
    r = b.input("r", ["W"])
    y = b.op("Mul", [b.op("Add", [a, c]), r])
    y = b.op("Div", [y, b.op("Add", [b.op("Abs", [c]), b.const(np.float32(1.0))])])
    b.output(b.op("Max", [y, b.op("Neg", [r])]))
    out.append(("fast_rows_and_outer", b.model(13),
                [[rnd(rng, 2, 1, 9), rnd(rng, 1, 5, 1), rnd(rng, 9)],
                 [rnd(rng, 3, 1, 600), rnd(rng, 1, 3, 1), specials(rnd(rng, 600), rng)],
                 [rnd(rng, 1, 1, 1), rnd(rng, 1, 1, 1), rnd(rng, 1)],
                 [rnd(rng, 2, 1, 0), rnd(rng, 1, 4, 1), rnd(rng, 0)]]))
    # shapes that do not broadcast: the reference kernel's error, word for word
    b = Builder("fast_bad_broadcast", 313)
    p = b.input("p", ["A", "B"])
    q = b.input("q", ["C", "D"])
    b.output(b.op("Relu", [b.op("Sub", [p, q])]))
    out.append(("fast_bad_broadcast", b.model(13), [[rnd(rng, 3, 4), rnd(rng, 3, 4)], [rnd(rng, 3, 4), rnd(rng, 2, 4)]]))
    # Max/Min with NaN in either operand, rank 0 against a tensor
    b = Builder("fast_max_min_nan", 314)
    p = b.input("p", ["A"])
    q = b.input("q", [])
    b.output(b.op("Min", [b.op("Max", [p, q]), b.op("Add", [p, b.const(np.float32(0.5))])]))
    pa = rnd(rng, 50)
    pa[::7] = np.nan
    out.append(("fast_max_min_nan", b.model(13), [[pa, np.array(0.1, np.float32)], [rnd(rng, 50), np.array(np.nan, np.float32)],
                                                  [rnd(rng, 0), np.array(1, np.float32)]]))
    # a value with a second reader ends a group; a value read twice by one node stays inside
    b = Builder("fast_group_boundaries", 315)
    x = b.input("x", ["N", "D"])
    t = b.op("Tanh", [x])
    u = b.op("Mul", [t, t])          # t read twice by one node: fused
    v = b.op("Sigmoid", [u])
    w = b.op("Add", [v, t])          # t's second reader: t is made
    b.output(b.op("Sub", [w, u]))
    b.output(t)                      # and t also leaves the graph
    out.append(("fast_group_boundaries", b.model(13), [[rnd(rng, 3, 70)], [rnd(rng, 1, 1)]]))
    # a large tensor (split across threads) through the GELU pattern of the transformers
    b = Builder("fast_gelu_large", 316)
    x = b.input("x", ["N", "T", 256])
    e = b.op("Erf", [b.op("Div", [x, b.const(np.float32(1.4142135))])])
    y = b.op("Mul", [b.op("Mul", [x, b.op("Add", [e, b.const(np.float32(1.0))])]), b.const(np.float32(0.5))])
    b.output(y)
    out.append(("fast_gelu_large", b.model(13), [[rnd(rng, 2, 300, 256) * 3], [rnd(rng, 1, 3, 256)]]))
    return out


def batchnorm_cases():
    rng = np.random.default_rng(320)
    out = []
    for name, rank, post, opset in [("fast_bn_relu_4d", 4, "Relu", 15), ("fast_bn_2d", 2, None, 9),
                                    ("fast_bn_3d_sigmoid", 3, "Sigmoid", 14)]:
        C = 6
        b = Builder(name, 321)
        x = b.input("x", ["N", C] + [f"S{i}" for i in range(rank - 2)])
        var = b.const((rng.random(C) + 0.5).astype(np.float32))
        y = b.op("BatchNormalization", [x, b.weights(C, scale=1.0), b.weights(C, scale=1.0), b.weights(C, scale=1.0), var],
                 epsilon=1e-3)
        if post:
            y = b.op(post, [y])
        b.output(y)
        sets = []
        for k, s in enumerate([(5, 7), (1, 1), (0, 3)]):
            shape = (2 if k < 2 else 1, C) + s[: rank - 2]
            sets.append([specials(rnd(rng, *shape), rng) if k == 0 else rnd(rng, *shape)])
        sets.append([rnd(rng, 2, C + 1, *([3] * (rank - 2)))])  # wrong channel count: the reference's error
        out.append((name, b.model(opset), sets))
    # a Relu applied by the instruction before it (Add, BatchNormalization's multiply-add) as it
    # writes: broadcast operands, a value added to itself, NaN and infinities (max(0, NaN) is NaN)
    b = Builder("fast_fused_relu", 322)
    x, y = b.input("x", ["N", 4, "S"]), b.input("y", ["N", 4, "S"])
    b.output(b.op("Relu", [b.op("Add", [x, y])]))
    b.output(b.op("Relu", [b.op("Add", [b.op("Exp", [x]), b.const(np.float32(-1.5))])]))
    b.output(b.op("Relu", [b.op("Add", [b.const((rng.random((4, 1)) - 0.5).astype(np.float32)), y])]))
    t = b.op("Tanh", [y])
    b.output(b.op("Sigmoid", [b.op("Relu", [b.op("Add", [t, t])])]))
    out.append(("fast_fused_relu", b.model(13), [[specials(rnd(rng, 2, 4, 37), rng), specials(rnd(rng, 2, 4, 37), rng)],
                                                 [rnd(rng, 1, 4, 1), rnd(rng, 1, 4, 1)], [rnd(rng, 0, 4, 5), rnd(rng, 0, 4, 5)]]))
    return out


def softmax_cases():
    rng = np.random.default_rng(330)
    out = []
    for name, op, opset, attrs in [("fast_softmax_last", "Softmax", 13, {}), ("fast_logsoftmax_last", "LogSoftmax", 13, {}),
                                   ("fast_softmax_opset11_axis1", "Softmax", 11, {}),
                                   ("fast_logsoftmax_opset11_axis2", "LogSoftmax", 11, dict(axis=2)),
                                   ("fast_softmax_inner_axis", "Softmax", 13, dict(axis=1))]:
        b = Builder(name, 331)
        x = b.input("x", ["A", "B", "C"])
        b.output(b.op(op, [x], **attrs))
        x0 = rnd(rng, 3, 4, 37) * 4
        x0[0, 0, 3] = np.nan
        x0[1, 1, :] = -np.inf
        x0[2, 2, 5] = np.inf
        out.append((name, b.model(opset), [[x0], [rnd(rng, 1, 1, 1)], [rnd(rng, 2, 0, 3)], [rnd(rng, 1, 2, 1000)]]))
    return out


def layernorm_cases():
    rng = np.random.default_rng(340)
    out = []
    for name, axis, bias, sshape in [("fast_layernorm_last", -1, True, (48,)), ("fast_layernorm_two_axes", 1, False, (5, 48)),
                                     ("fast_layernorm_scale_rank3", -1, True, (1, 1, 48))]:
        b = Builder(name, 341)
        x = b.input("x", ["N", 5, 48])
        ins = [x, b.weights(*sshape, scale=1.0)] + ([b.weights(*sshape, scale=1.0)] if bias else [])
        b.output(b.op("LayerNormalization", ins, axis=axis, epsilon=1e-5))
        out.append((name, b.model(17), [[rnd(rng, 2, 5, 48) * 3 + 1], [rnd(rng, 1, 5, 48)], [rnd(rng, 0, 5, 48)]]))
    return out


def reduce_cases():
    """Reductions small enough that oneDNN leaves them: the fast row sums, or the reference kernel
    when the reduced axes are not trailing."""
    rng = np.random.default_rng(350)
    out = []
    for name, op, attrs, axes_in, opset in [
        ("fast_reducemean_trailing", "ReduceMean", dict(axes=[2, 3]), None, 13),
        ("fast_reducesum_last_drop", "ReduceSum", dict(keepdims=0), [-1], 13),
        ("fast_reducemean_all", "ReduceMean", dict(keepdims=0), None, 13),
        ("fast_reducesum_leading", "ReduceSum", {}, [0, 1], 13),
        ("fast_reducesum_skip_ones", "ReduceSum", dict(keepdims=1), [1, 3], 13),
    ]:
        b = Builder(name, 351)
        x = b.input("x", ["N", "C", "H", "W"])
        ins = [x] + ([b.const(np.array(axes_in, np.int64), "axes")] if axes_in is not None else [])
        b.output(b.op(op, ins, **attrs))
        out.append((name, b.model(opset), [[rnd(rng, 1, 8, 3, 3)], [rnd(rng, 2, 4, 1, 5)], [specials(rnd(rng, 1, 3, 2, 2), rng)],
                                           [rnd(rng, 1, 2, 0, 3)]]))
    # ReduceMax/ReduceMin over trailing axes (a maxout unit's pair: NMT), and across rows (ref);
    # ArgMax/ArgMin over the last axis or one with only 1s after it (a decoder's greedy token), with
    # NaN (the first wins; the last with select_last_index), ties of 0 and -0, infinities, rows of
    # one element; an inner axis (ref) and an empty axis (the reference kernel's error)
    b = Builder("fast_reduce_extremes", 352)
    x = b.input("x", ["A", "B", "C"])
    b.output(b.op("ReduceMax", [x], axes=[2], keepdims=0))
    b.output(b.op("ReduceMin", [x], axes=[-1]))
    b.output(b.op("ReduceMax", [x], axes=[1, 2], keepdims=0))
    b.output(b.op("ReduceMin", [x], axes=[1]))  # across rows: the reference kernel
    for op, attrs in [("ArgMax", dict(axis=-1)), ("ArgMin", dict(axis=2, keepdims=0)),
                      ("ArgMax", dict(axis=2, select_last_index=1)), ("ArgMin", dict(axis=-1, select_last_index=1)),
                      ("ArgMax", dict(axis=1))]:
        b.output(b.op(op, [x], **attrs), I64)
    y = b.input("y", ["D", 1])
    b.output(b.op("ArgMax", [y], axis=0), I64)  # only 1s after the axis
    ties = np.array([[[0.0, -0.0, 1.0, 1.0, -np.inf, np.nan, 3.0, np.nan]]], np.float32)
    inf = np.array([[[-np.inf, -np.inf, np.inf, np.inf, -1.0, np.inf, -np.inf, 0.0]]], np.float32)
    out.append(("fast_reduce_extremes", b.model(13),
                [[specials(rnd(rng, 2, 3, 37), rng, 0.1), rnd(rng, 5, 1)], [ties, rnd(rng, 1, 1)], [inf, rnd(rng, 3, 1)],
                 [rnd(rng, 2, 4, 1), rnd(rng, 2, 1)], [rnd(rng, 2, 3, 0), rnd(rng, 2, 1)]]))
    return out


def shape_cases():
    rng = np.random.default_rng(360)
    out = []
    # Concat of floats and of int64, on the middle and the last axis
    b = Builder("fast_concat", 361)
    p = b.input("p", ["N", "A", 3])
    q = b.input("q", ["N", "B", 3])
    i = b.input("i", ["N", 2], I64)
    b.output(b.op("Concat", [p, b.op("Relu", [q]), p], axis=1))
    b.output(b.op("Concat", [i, i], axis=-1), I64)
    out.append(("fast_concat", b.model(13),
                [[rnd(rng, 2, 4, 3), rnd(rng, 2, 5, 3), np.arange(4, dtype=np.int64).reshape(2, 2)],
                 [rnd(rng, 1, 0, 3), rnd(rng, 1, 2, 3), np.zeros((1, 2), np.int64)],
                 [rnd(rng, 2, 4, 3), rnd(rng, 3, 5, 3), np.zeros((2, 2), np.int64)]]))  # mismatch: the reference's error
    # Transposes: the attention layouts, a full reversal, one that keeps the order (dims of 1)
    for name, perm, shape in [("fast_transpose_heads", [0, 2, 1, 3], (2, 7, 4, 16)),
                              ("fast_transpose_keys", [0, 1, 3, 2], (2, 4, 7, 16)),
                              ("fast_transpose_reverse", None, (3, 5, 2, 4)),
                              ("fast_transpose_order_kept", [1, 0, 2, 3], (1, 6, 5, 4))]:
        b = Builder(name, 362)
        x = b.input("x", ["A", "B", "C", "D"])
        attrs = {} if perm is None else dict(perm=perm)
        b.output(b.op("Transpose", [b.op("Relu", [x])], **attrs))
        out.append((name, b.model(13), [[rnd(rng, *shape)], [rnd(rng, *shape[:3], 0)]]))
    # reshapes: the input dies here (taken over) or has another reader (copied)
    b = Builder("fast_reshapes", 363)
    x = b.input("x", ["N", 4, 6])
    t = b.op("Relu", [x])
    f = b.op("Flatten", [t], axis=1)
    r = b.op("Reshape", [f, b.const(np.array([0, 2, -1], np.int64))])
    u = b.op("Unsqueeze", [r, b.const(np.array([1, -1], np.int64))])
    s = b.op("Squeeze", [u, b.const(np.array([1], np.int64))])
    b.output(b.op("Add", [s, b.const(np.float32(1.0))]))
    w = b.op("Reshape", [t, b.const(np.array([-1], np.int64))])  # t has two readers: copied
    b.output(w)
    out.append(("fast_reshapes", b.model(13), [[rnd(rng, 2, 4, 6)], [rnd(rng, 1, 4, 6)], [rnd(rng, 0, 4, 6)]]))
    return out


def schedule_cases():
    """Groups whose nodes are not adjacent, and shapes known at load time (so that intermediates are
    planned into the session's arena): a group runs at its last node, later than its first."""
    rng = np.random.default_rng(370)
    out = []
    # the two operands of the root come from nodes with a foreign node between them that is the
    # last reader of their shared input (the windows of the ONNX function tests have this form)
    b = Builder("fast_foreign_node_between", 371)
    p = b.op("Flatten", [b.input("x", ["A", "B"])], axis=1)  # an intermediate: the sub-network releases it
    s = b.op("Sub", [p, b.const(np.float32(1.0))])
    m = b.op("Mul", [p, b.const(np.float32(3.0))])
    c = b.op("Concat", [p, p], axis=0)
    b.output(b.op("Add", [s, b.op("Relu", [m])]))
    b.output(c)
    out.append(("fast_foreign_node_between", b.model(13), [[rnd(rng, 3, 5)], [rnd(rng, 1, 40)]]))
    # pre-activation residual blocks with static shapes: BatchNormalization, ReLU and Add groups
    # between convolutions, their inputs dying inside the groups
    b = Builder("fast_static_preact_blocks", 372)
    x = b.input("x", [1, 8, 12, 12])
    h = x
    for i in range(3):
        t = b.op("BatchNormalization", [h, b.weights(8, scale=1.0), b.weights(8, scale=1.0), b.weights(8, scale=1.0),
                                        b.const((rng.random(8) + 0.5).astype(np.float32))])
        t = b.op("Relu", [t])
        t = b.op("Conv", [t, b.weights(8, 8, 3, 3)], pads=[1, 1, 1, 1])
        t = b.op("Mul", [b.op("Sigmoid", [t]), b.op("Tanh", [h])])
        h = b.op("Add", [t, h])
    b.output(b.op("Relu", [h]), shape=[1, 8, 12, 12])
    out.append(("fast_static_preact_blocks", b.model(13), [[rnd(rng, 1, 8, 12, 12)], [rnd(rng, 1, 8, 12, 12) * 5]]))
    return out


def view_cases():
    """Slices a group reads in place (views): constant starts/ends/axes with steps of 1. An LSTM cell
    written out (the four gates sliced from one [B, 4H] product, two groups each reading two of the
    slices, the product released by a slice of the later group) with a symbolic batch (rows strided
    in the source) and with static shapes (planned into the arena, which must keep the product until
    the later group's root); views of a middle axis, of the innermost axis down to one element
    (strided along the blocks: the group runs node by node), broadcast against the full tensor, two
    views of one source in one group, a value read whole and through a view by one group (it dies
    there, but the output must not take its bytes), negative and clamped bounds; and slices left to
    the reference kernel: a step of 2, starts known only at run time, opset 9 attributes (a view
    too)."""
    rng = np.random.default_rng(380)
    out = []
    for static in (False, True):
        name = "fast_view_lstm_cell" + ("_static" if static else "")
        b = Builder(name, 381)
        B = 1 if static else "B"
        x, h, c = b.input("x", [B, 7]), b.input("h", [B, 5]), b.input("c", [B, 5])
        gates = b.op("Add", [b.op("MatMul", [x, b.weights(7, 20)]), b.op("MatMul", [h, b.weights(5, 20)])])
        sl = [b.op("Slice", [gates, b.const(np.array([5 * i], np.int64)), b.const(np.array([5 * i + 5], np.int64)),
                             b.const(np.array([1], np.int64))]) for i in range(4)]
        i_, f_, g_, o_ = b.op("Sigmoid", [sl[0]]), b.op("Sigmoid", [sl[1]]), b.op("Tanh", [sl[2]]), sl[3]
        c2 = b.op("Add", [b.op("Mul", [f_, c]), b.op("Mul", [i_, g_])])
        h2 = b.op("Mul", [b.op("Sigmoid", [o_]), b.op("Tanh", [c2])])
        b.output(b.op("Relu", [c2]))
        b.output(b.op("MatMul", [h2, b.weights(5, 3)]))
        batches = [1] if static else [1, 3, 0]
        out.append((name, b.model(13), [[specials(rnd(rng, n, 7), rng), rnd(rng, n, 5), rnd(rng, n, 5)] for n in batches]))
    b = Builder("fast_view_shapes", 382)
    x = b.input("x", ["A", 6, 4])
    s_ = b.input("s", [1], I64)

    def sl(v, starts, ends, axes, steps=None):
        ins = [v, b.const(np.array(starts, np.int64)), b.const(np.array(ends, np.int64)), b.const(np.array(axes, np.int64))]
        return b.op("Slice", ins + ([b.const(np.array(steps, np.int64))] if steps else []))
    b.output(b.op("Mul", [b.op("Relu", [sl(x, [1], [3], [1])]), b.const(np.float32(2.0))]))  # a middle axis
    b.output(b.op("Add", [b.op("Sigmoid", [sl(x, [-1], [100], [2])]), b.const(np.float32(1.0))]))  # innermost to 1
    b.output(b.op("Mul", [b.op("Tanh", [sl(x, [0, -1], [1, 100], [0, 2])]), x]))  # broadcast over the full x
    b.output(b.op("Sub", [b.op("Sigmoid", [sl(x, [0], [2], [1])]), b.op("Tanh", [sl(x, [4, 0], [6, 100], [1, -1])])]))
    b.output(b.op("Neg", [b.op("Exp", [sl(x, [0], [6], [1], steps=[2])])]))  # a step of 2: the reference kernel
    b.output(b.op("Abs", [b.op("Neg", [b.op("Slice", [x, s_, b.const(np.array([5], np.int64)),
                                                      b.const(np.array([1], np.int64))])])]))  # run-time starts
    v = b.op("Exp", [x])  # read whole and through a view by one group: its buffer must not take the output
    b.output(b.op("Add", [v, b.op("Sigmoid", [sl(v, [0], [1], [1])])]))
    out.append(("fast_view_shapes", b.model(13),
                [[specials(rnd(rng, 2, 6, 4), rng), np.array([2], np.int64)], [rnd(rng, 1, 6, 4), np.array([-2], np.int64)],
                 [rnd(rng, 0, 6, 4), np.array([0], np.int64)]]))
    # a GRU cell: the third gate's slice is read by a matrix product's residual Add (not a group),
    # so it runs as an ordinary Slice and, the gate product's last reader, releases the product
    # before the groups reading the other slices run: those groups drop their views (their slices
    # run as ordinary Slices) instead of dissolving into nodes run one by one
    b = Builder("fast_view_gru_cell", 384)
    x, h = b.input("x", ["B", 7]), b.input("h", ["B", 5])
    gx, gh = b.op("MatMul", [x, b.weights(7, 15)]), b.op("MatMul", [h, b.weights(5, 10)])

    def part(v, i):
        return b.op("Slice", [v, b.const(np.array([5 * i], np.int64)), b.const(np.array([5 * i + 5], np.int64)),
                              b.const(np.array([1], np.int64))])
    xr, xz, xn, hr, hz = part(gx, 0), part(gx, 1), part(gx, 2), part(gh, 0), part(gh, 1)
    r = b.op("Sigmoid", [b.op("Add", [xr, hr])])
    z = b.op("Sigmoid", [b.op("Add", [xz, hz])])
    n_ = b.op("Tanh", [b.op("Add", [xn, b.op("MatMul", [b.op("Mul", [r, h]), b.weights(5, 5)])])])
    b.output(b.op("Add", [b.op("Mul", [b.op("Sub", [b.const(np.float32(1)), z]), n_]), b.op("Mul", [z, h])]))
    out.append(("fast_view_gru_cell", b.model(13), [[specials(rnd(rng, 2, 7), rng), rnd(rng, 2, 5)],
                                                    [rnd(rng, 1, 7), rnd(rng, 1, 5)], [rnd(rng, 0, 7), rnd(rng, 0, 5)]]))
    b = Builder("fast_view_opset9", 383)
    x = b.input("x", ["A", 8])
    a = b.op("Slice", [x], starts=[0], ends=[4], axes=[1])
    c = b.op("Slice", [x], starts=[0, 4], ends=[1000, 1000])
    b.output(b.op("Mul", [b.op("Sigmoid", [a]), b.op("Tanh", [c])]))
    out.append(("fast_view_opset9", b.model(9), [[rnd(rng, 3, 8)], [rnd(rng, 1, 8)]]))
    return out


def concat_cases():
    """Concats a group reads in place, from their inputs (the graph optimizer first flattens a Concat
    of Concats). Plain: rank 2 along either axis, three inputs after flattening, a result broadcast
    over rows and one broadcast along the blocks (one element a block), an empty input, a value read
    whole and through a Concat by one group (it dies there; the output must not take its bytes),
    inputs whose shapes do not match (the Concat kernel's error); rank 4 with BatchNormalization and a
    Concat along a spatial axis. Channels-last: a dense block of convolutions (the groups between them
    gather channels-last inputs, and the graph input, which another reader keeps plain, turned block
    by block; conv_dense_block in cpu_cases.py has it turned once for all of them instead), large
    enough that the groups and a Concat read by a convolution (all inputs channels-last, and one
    mixing in a plain input) are split across threads; a per-channel Concat of plain inputs in a
    channels-last group (gathered, not tiled); a 2x2 input whose convs fall back."""
    rng = np.random.default_rng(390)
    out = []
    b = Builder("fast_concat_inplace", 391)
    x, y, e = b.input("x", ["A", 3]), b.input("y", ["A", 5]), b.input("e", ["A", 0])
    z, p = b.input("z", ["Z", 4]), b.input("p", ["A", 1])
    row = b.const((np.arange(8, dtype=np.float32) - 3.5) / 2)
    b.output(b.op("Mul", [b.op("Relu", [b.op("Concat", [x, y], axis=1)]), row]))
    inner = b.op("Concat", [x, b.op("Exp", [y])], axis=-1)
    b.output(b.op("Tanh", [b.op("Concat", [inner, x], axis=1)]))  # flattened to three inputs
    b.output(b.op("Add", [b.op("Concat", [x, b.op("Neg", [x])], axis=0), b.const(np.float32([1, 2, 3]))]))
    b.output(b.op("Add", [b.op("Sigmoid", [b.op("Concat", [p, b.op("Abs", [p])], axis=0)]), z]))  # [2A,1] over [2A,4]
    xx = b.op("Exp", [x])
    b.output(b.op("Add", [xx, b.op("Neg", [b.op("Concat", [e, xx], axis=1)])]))
    b.output(b.op("Relu", [b.op("Concat", [x, b.op("Neg", [b.input("w", ["W", 2])])], axis=1)]))
    sets = []
    for a, wr in ((2, 2), (1, 1), (0, 0), (3, 2)):  # the last: w's rows do not match
        sets.append([specials(rnd(rng, a, 3), rng), specials(rnd(rng, a, 5), rng), rnd(rng, a, 0),
                     rnd(rng, 2 * a, 4), rnd(rng, a, 1), rnd(rng, wr, 2)])
    out.append(("fast_concat_inplace", b.model(13), sets))

    b = Builder("fast_concat_rank4", 392)
    x, y = b.input("x", ["N", 3, "H", "W"]), b.input("y", ["N", 5, "H", "W"])
    c = b.op("Concat", [x, b.op("Concat", [y, x], axis=1)], axis=1)  # 11 channels
    b.output(b.bn_relu(c, 11))
    b.output(b.op("Sigmoid", [b.op("Concat", [x, b.op("Neg", [x])], axis=2)]))
    out.append(("fast_concat_rank4", b.model(13), [[rnd(rng, 1, 3, 4, 5), rnd(rng, 1, 5, 4, 5)],
                                                   [rnd(rng, 2, 3, 7, 3), rnd(rng, 2, 5, 7, 3)]]))

    b = Builder("fast_concat_dense_block", 393)
    x = b.input("x", ["N", 8, "H", "W"])
    c = x
    for i in range(4):
        y = b.op("Conv", [b.bn_relu(c, 8 + 6 * i), b.weights(6, 8 + 6 * i, 3, 3)], pads=[1, 1, 1, 1])
        c = b.op("Concat", [c, y], axis=1)
    t = b.op("Conv", [b.bn_relu(c, 32), b.weights(24, 32, 1, 1)])
    u = b.op("Conv", [t, b.weights(16, 24, 3, 3)], pads=[1, 1, 1, 1])
    s1, s2, q = b.input("s1", [1, 10, 1, 1]), b.input("s2", [1, 6, 1, 1]), b.input("q", ["N", 5, "H", "W"])
    v = b.op("Mul", [u, b.op("Concat", [s1, s2], axis=1)])  # a per-channel Concat of plain inputs
    both = b.op("Concat", [t, b.op("Conv", [v, b.weights(16, 16, 1, 1)])], axis=1)  # read by a conv
    mixed = b.op("Concat", [u, q], axis=1)  # a plain input among channels-last ones
    b.output(b.op("Conv", [both, b.weights(4, 40, 1, 1)]))
    b.output(b.op("Conv", [mixed, b.weights(4, 21, 1, 1)]))
    b.output(b.op("Neg", [x]))  # a reader that keeps x plain: the groups turn its blocks as they gather
    sets = [[rnd(rng, *s), rnd(rng, 1, 10, 1, 1), rnd(rng, 1, 6, 1, 1), rnd(rng, s[0], 5, s[2], s[3])]
            for s in ((1, 8, 24, 24), (2, 8, 9, 13), (1, 8, 2, 2), (1, 8, 32, 32))]
    out.append(("fast_concat_dense_block", b.model(13), sets))
    return out


def cases():
    return (unary_chain_cases() + broadcast_cases() + batchnorm_cases() + softmax_cases() + layernorm_cases()
            + reduce_cases() + shape_cases() + schedule_cases() + view_cases() + concat_cases())
