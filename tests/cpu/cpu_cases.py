"""Hand-written ONNX models for the cpu backend's checks (see run_cpu_checks.py).

Each case is a small model around the operators the cpu backend runs with oneDNN (Conv, MatMul,
Gemm, pools) and the nodes it fuses into them (residual Add, activations), plus the shapes and
attributes it must leave to the reference kernels. Inputs have symbolic dims, and every case has
several input sets of different shapes, so the per-shape primitive cache is exercised. The
expected outputs are the ref backend's (the oracle), computed when the checks run.

cases() returns a list of (name, onnx.ModelProto, [input set, ...]) where an input set is a list
of numpy arrays in the order of the graph inputs.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT


class Builder:
    """A small graph builder: initializers, nodes and typed inputs/outputs."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.n = 0

    def fresh(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def input(self, name, shape, dtype=F32):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, name, dtype=F32, shape=None):
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def const(self, arr, base="w"):
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def weights(self, *shape, scale=None):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale if scale is not None else 1.0 / np.sqrt(max(fan, 1))
        return self.const((self.rng.standard_normal(shape) * s).astype(np.float32))

    def bn_relu(self, v, c):
        """Relu(BatchNormalization(v)) over c channels, with random inference parameters."""
        scale = self.const(1 + 0.1 * self.rng.standard_normal(c).astype(np.float32))
        bias, mean = self.weights(c), self.weights(c)
        var = self.const((0.5 + self.rng.random(c)).astype(np.float32))
        return self.op("Relu", [self.op("BatchNormalization", [v, scale, bias, mean, var])])

    def op(self, op_type, inputs, out=None, n_out=1, **attrs):
        outs = [out or self.fresh(op_type.lower())] if n_out == 1 else [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, opset=13):
        g = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="dycl-cpu-checks")
        m.ir_version = 8

        return m


def rnd(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------------------- convolutions

def conv_case(name, C, M, attrs, post=(), bias=True, shapes=((1, 15, 15), (2, 20, 11)), opset=13, seed=0,
              group=1, kshape=(3, 3)):
    b = Builder(name, seed)
    x = b.input("x", ["N", C] + [f"S{i}" for i in range(len(kshape))])
    w = b.weights(M, C // group, *kshape)
    ins = [x, w] + ([b.const((b.rng.standard_normal(M) * 0.1).astype(np.float32), "b")] if bias else [])
    if group != 1:
        attrs = dict(attrs, group=group)
    y = b.op("Conv", ins, **attrs)
    for p in post:
        y = p(b, y)
    b.output(y)
    rng = np.random.default_rng(seed + 100)
    sets = [[rnd(rng, s[0], C, *s[1:])] for s in shapes]
    return name, b.model(opset), sets


def relu(b, y):
    return b.op("Relu", [y])


def leaky(alpha):
    return lambda b, y: b.op("LeakyRelu", [y], alpha=alpha)


def clip11(lo, hi):
    def f(b, y):
        ins = [y, b.const(np.float32(lo), "lo") if lo is not None else "", b.const(np.float32(hi), "hi") if hi is not None else ""]
        while ins and ins[-1] == "":
            ins.pop()
        return b.op("Clip", ins)
    return f


def unary(op, **attrs):
    return lambda b, y: b.op(op, [y], **attrs)


def conv_cases():
    out = []
    out.append(conv_case("conv_k3p1_relu", 8, 16, dict(pads=[1, 1, 1, 1]), [relu]))
    out.append(conv_case("conv_s2_asym_leaky", 8, 12, dict(strides=[2, 2], pads=[0, 1, 1, 0]), [leaky(0.2)], bias=False))
    out.append(conv_case("conv_dil2_group2_clip", 8, 12, dict(dilations=[2, 2], pads=[2, 1, 2, 1]), [clip11(0, 6)],
                         group=2, shapes=((1, 15, 15), (3, 10, 13))))
    out.append(conv_case("conv_depthwise_hardswish", 16, 16, dict(pads=[1, 1, 1, 1]), [unary("HardSwish")], group=16,
                         opset=14))
    out.append(conv_case("conv_1x1_sigmoid", 24, 20, {}, [unary("Sigmoid")], kshape=(1, 1)))
    out.append(conv_case("conv_tanh_elu", 3, 8, dict(pads=[1, 1, 1, 1]), [unary("Tanh"), unary("Elu", alpha=0.5)]))
    out.append(conv_case("conv_clip_lower_only", 6, 8, dict(pads=[1, 1, 1, 1]), [clip11(-0.5, None)]))
    out.append(conv_case("conv_clip_opset6", 6, 8, dict(pads=[1, 1, 1, 1]),
                         [lambda b, y: b.op("Clip", [y], min=-0.25, max=0.5)], opset=6))
    out.append(conv_case("conv_same_upper_s2_k4", 6, 8, dict(auto_pad="SAME_UPPER", strides=[2, 2]), [relu],
                         kshape=(4, 4), shapes=((1, 17, 17), (1, 16, 21))))
    out.append(conv_case("conv_same_lower_k2", 8, 8, dict(auto_pad="SAME_LOWER"), [], kshape=(2, 2)))
    out.append(conv_case("conv_valid_s3", 8, 16, dict(auto_pad="VALID", strides=[3, 2]), []))
    out.append(conv_case("conv_kernel_shape_attr", 8, 8, dict(kernel_shape=[3, 1], pads=[1, 0, 1, 0]), [relu],
                         kshape=(3, 1)))
    out.append(conv_case("conv1d_s2", 16, 24, dict(strides=[2], pads=[1, 2]), [relu], kshape=(3,),
                         shapes=((1, 33), (3, 17))))
    out.append(conv_case("conv3d", 4, 8, dict(pads=[1, 0, 1, 1, 0, 1]), [relu], kshape=(3, 2, 3),
                         shapes=((1, 5, 6, 7), (2, 4, 4, 4))))
    out.append(conv_case("conv_kernel_larger_than_input", 3, 2, {}, [], kshape=(5, 5), shapes=((1, 6, 6), (1, 5, 9))))

    # transposed convolutions (W [C, M/G, k...])
    for name, C, M, attrs, kshape, group, shapes in [
        ("convtranspose_s2", 16, 8, dict(strides=[2, 2], pads=[1, 1, 1, 1]), (3, 3), 1, ((1, 8, 8), (2, 5, 7))),
        ("convtranspose_outpad", 8, 12, dict(strides=[2, 2], pads=[1, 0, 1, 1], output_padding=[1, 1]), (3, 3), 1,
         ((1, 8, 8), (1, 6, 9))),
        ("convtranspose_group_dil", 8, 8, dict(dilations=[2, 1], group=2), (3, 3), 2, ((1, 10, 10), (2, 7, 5))),
        ("convtranspose_same_upper", 8, 16, dict(strides=[2, 2], auto_pad="SAME_UPPER"), (4, 4), 1, ((1, 8, 8),)),
        ("convtranspose_output_shape", 8, 16, dict(strides=[2, 2], output_shape=[17, 17]), (3, 3), 1, ((1, 8, 8),)),
        ("convtranspose_1d", 16, 8, dict(strides=[3], pads=[1, 2]), (4,), 1, ((1, 20), (2, 9))),
        ("convtranspose_3d", 4, 8, dict(strides=[1, 2, 2]), (2, 3, 3), 1, ((1, 4, 5, 6),)),
    ]:
        b = Builder(name, 30)
        x = b.input("x", ["N", C] + [f"S{i}" for i in range(len(kshape))])
        y = b.op("ConvTranspose", [x, b.weights(C, M // group, *kshape), b.weights(M, scale=0.1)], **attrs)
        b.output(b.op("Relu", [y]))
        rng = np.random.default_rng(31)
        out.append((name, b.model(), [[rnd(rng, sh[0], C, *sh[1:])] for sh in shapes]))

    # a transposed convolution between convolutions (channels-last on both sides): its bias is
    # added after oneDNN's primitive and its activation and residual run as a group after it (oneDNN
    # 2.6 runs a deconvolution with a bias or an eltwise post-op 2 to 20 times slower)
    b = Builder("convtranspose_between_convs", 32)
    x = b.input("x", ["N", 8, "H", "W"])
    y = b.op("Relu", [b.op("Conv", [x, b.weights(16, 8, 3, 3)], pads=[1, 1, 1, 1])])
    u = b.op("ConvTranspose", [y, b.weights(16, 8, 2, 2), b.weights(8, scale=0.5)], strides=[2, 2])
    r = b.op("Resize", [x, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    v = b.op("Relu", [b.op("Add", [u, r])])
    b.output(b.op("Conv", [v, b.weights(4, 8, 3, 3), b.weights(4)], pads=[1, 1, 1, 1]))
    w = b.op("ConvTranspose", [y, b.weights(16, 6, 3, 3), b.weights(6, scale=0.5)], strides=[2, 2], pads=[1, 1, 1, 1])
    b.output(b.op("Conv", [b.op("Relu", [w]), b.weights(4, 6, 1, 1)]))
    rng = np.random.default_rng(33)
    out.append(("convtranspose_between_convs", b.model(13), [[rnd(rng, 1, 8, 8, 8)], [rnd(rng, 2, 8, 5, 7)]]))

    # residual: the add fuses into the second conv (its operand is the block input)
    b = Builder("conv_residual_block", 1)
    x = b.input("x", ["N", 16, "H", "W"])
    y = b.op("Conv", [x, b.weights(16, 16, 3, 3), b.weights(16, scale=0.1)], pads=[1, 1, 1, 1])
    y = b.op("Relu", [y])
    y = b.op("Conv", [y, b.weights(16, 16, 3, 3), b.weights(16, scale=0.1)], pads=[1, 1, 1, 1])
    y = b.op("Add", [y, x])
    b.output(b.op("Relu", [y]))
    rng = np.random.default_rng(7)
    out.append(("conv_residual_block", b.model(), [[rnd(rng, 1, 16, 8, 8)], [rnd(rng, 2, 16, 5, 9)]]))

    # the add's operand is computed after the first conv: it fuses into the second one
    b = Builder("conv_residual_late", 2)
    x = b.input("x", ["N", 8, "H", "W"])
    y1 = b.op("Conv", [x, b.weights(12, 8, 3, 3)], pads=[1, 1, 1, 1])
    y2 = b.op("Conv", [x, b.weights(12, 8, 1, 1), b.weights(12, scale=0.1)])
    b.output(b.op("Relu", [b.op("Add", [y1, y2])]))
    rng = np.random.default_rng(8)
    out.append(("conv_residual_late", b.model(), [[rnd(rng, 1, 8, 9, 9)], [rnd(rng, 2, 8, 6, 7)]]))

    # an add that broadcasts (per-channel): not a residual, the reference kernels run it
    b = Builder("conv_add_broadcast", 3)
    x = b.input("x", ["N", 3, "H", "W"])
    y = b.op("Conv", [x, b.weights(8, 3, 3, 3)], pads=[1, 1, 1, 1])
    y = b.op("Add", [y, b.const(np.arange(8, dtype=np.float32).reshape(1, 8, 1, 1))])
    b.output(b.op("Relu", [y]))
    rng = np.random.default_rng(9)
    out.append(("conv_add_broadcast", b.model(), [[rnd(rng, 1, 3, 9, 9)], [rnd(rng, 2, 3, 8, 6)]]))

    # the add's operand is bigger than the conv output: the add broadcasts the conv result
    b = Builder("conv_add_grows", 4)
    x = b.input("x", ["N", 3, "H", "W"])
    s = b.input("s", [2, 8, "H2", "W2"])
    y = b.op("Conv", [x, b.weights(8, 3, 3, 3)], pads=[1, 1, 1, 1])
    b.output(b.op("Add", [y, s]))
    rng = np.random.default_rng(10)
    out.append(("conv_add_grows", b.model(), [[rnd(rng, 1, 3, 9, 9), rnd(rng, 2, 8, 9, 9)],
                                              [rnd(rng, 2, 3, 8, 6), rnd(rng, 2, 8, 8, 6)]]))

    # the conv output is also a graph output: nothing fuses
    b = Builder("conv_multi_use", 5)
    x = b.input("x", ["N", 3, "H", "W"])
    y = b.op("Conv", [x, b.weights(8, 3, 3, 3), b.weights(8)], pads=[1, 1, 1, 1])
    b.output(y)
    b.output(b.op("Relu", [y]))
    b.output(b.op("Sigmoid", [y]))
    rng = np.random.default_rng(11)
    out.append(("conv_multi_use", b.model(), [[rnd(rng, 1, 3, 9, 9)], [rnd(rng, 2, 3, 10, 8)]]))

    # weights and bias computed at run time (not constants)
    b = Builder("conv_runtime_weights", 6)
    x = b.input("x", ["N", 4, "H", "W"])
    w = b.input("w", [6, 2, 3, 3])
    bias = b.input("bias", [6])
    y = b.op("Conv", [x, b.op("Mul", [w, b.const(np.float32(0.5))]), bias], pads=[1, 1, 1, 1], group=2)
    b.output(b.op("Relu", [y]))
    rng = np.random.default_rng(12)
    out.append(("conv_runtime_weights", b.model(), [[rnd(rng, 1, 4, 10, 10), rnd(rng, 6, 2, 3, 3), rnd(rng, 6)],
                                                    [rnd(rng, 3, 4, 9, 8), rnd(rng, 6, 2, 3, 3), rnd(rng, 6)]]))
    # everything dynamic, including bad combinations the reference kernel must report
    b = Builder("conv_dynamic_errors", 15)
    x = b.input("x", ["N", "C", "H", "W"])
    w = b.input("w", ["M", "CG", "KH", "KW"])
    b.output(b.op("Relu", [b.op("Conv", [x, w], pads=[1, 1, 1, 1], strides=[2, 1])]))
    rng = np.random.default_rng(16)
    out.append(("conv_dynamic_errors", b.model(), [[rnd(rng, 2, 8, 12, 10), rnd(rng, 16, 8, 3, 3)],
                                                   [rnd(rng, 1, 8, 12, 10), rnd(rng, 16, 6, 3, 3)],
                                                   [rnd(rng, 1, 8, 2, 2), rnd(rng, 16, 8, 7, 7)],
                                                   [rnd(rng, 1, 8, 9, 9), rnd(rng, 16, 8, 5, 1)]]))
    # channels-last activations between convs, read back by the reference kernels when the next
    # conv falls back (too small, or bad weights)
    b = Builder("conv_chain_fallback", 17)
    x = b.input("x", ["N", 8, "H", "W"])
    w2 = b.input("w2", ["M", "C2", "KH", "KW"])
    y = b.op("Relu", [b.op("Conv", [x, b.weights(16, 8, 3, 3), b.weights(16)], pads=[1, 1, 1, 1])])
    b.output(b.op("Conv", [y, w2]))
    rng = np.random.default_rng(18)
    out.append(("conv_chain_fallback", b.model(), [[rnd(rng, 1, 8, 12, 12), rnd(rng, 16, 16, 3, 3)],
                                                   [rnd(rng, 1, 8, 3, 3), rnd(rng, 1, 16, 1, 1)],
                                                   [rnd(rng, 1, 8, 6, 6), rnd(rng, 4, 8, 3, 3)]]))
    # a residual whose add cannot fuse for some weights: the Add reads the channels-last operand
    b = Builder("conv_residual_fallback", 19)
    x = b.input("x", ["N", 8, "H", "W"])
    wb = b.input("wb", ["M", 16, "KH", "KW"])
    y0 = b.op("Relu", [b.op("Conv", [x, b.weights(16, 8, 3, 3), b.weights(16)], pads=[1, 1, 1, 1])])
    y1 = b.op("Relu", [b.op("Conv", [y0, b.weights(16, 16, 3, 3)], pads=[1, 1, 1, 1])])
    y2 = b.op("Conv", [y1, wb])
    b.output(b.op("Relu", [b.op("Add", [y2, y0])]))
    rng = np.random.default_rng(20)
    out.append(("conv_residual_fallback", b.model(), [[rnd(rng, 1, 8, 12, 12), rnd(rng, 16, 16, 1, 1)],
                                                      [rnd(rng, 2, 8, 12, 10), rnd(rng, 1, 16, 1, 1)],
                                                      [rnd(rng, 1, 8, 12, 12), rnd(rng, 16, 16, 3, 3)],
                                                      [rnd(rng, 1, 8, 12, 12), rnd(rng, 16, 16, 1, 1)]]))
    # a chain of convs with pools between them and a linear head
    b = Builder("conv_net", 13)
    x = b.input("x", ["N", 3, "H", "W"])
    y = b.op("Relu", [b.op("Conv", [x, b.weights(8, 3, 3, 3), b.weights(8)], pads=[1, 1, 1, 1])])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.op("Clip", [b.op("Conv", [y, b.weights(8, 1, 3, 3)], pads=[1, 1, 1, 1], group=8),
                      b.const(np.float32(0)), b.const(np.float32(6))])
    y = b.op("Relu", [b.op("Conv", [y, b.weights(16, 8, 1, 1), b.weights(16)])])
    y = b.op("Flatten", [b.op("GlobalAveragePool", [y])])
    y = b.op("Gemm", [y, b.weights(10, 16), b.weights(10)], transB=1)
    b.output(y)
    rng = np.random.default_rng(14)
    out.append(("conv_net", b.model(), [[rnd(rng, 1, 3, 16, 16)], [rnd(rng, 4, 3, 10, 14)], [rnd(rng, 1, 3, 16, 16)]]))
    # a dense block (DenseNet, RANet): convs whose results are concatenated along the channels and
    # normalized (BatchNormalization, Relu) before the next conv, all kept channels-last; the first
    # Concat mixes in the plain graph input; the small input makes the convs fall back to the
    # reference kernels (plain results)
    b = Builder("conv_dense_block", 21)
    x = b.input("x", ["N", 8, "H", "W"])
    y0 = b.op("Conv", [x, b.weights(8, 8, 3, 3)], pads=[1, 1, 1, 1])
    c = b.op("Concat", [x, y0], axis=1)  # 16 channels, one input plain
    for i in range(3):
        y = b.op("Conv", [b.bn_relu(c, 16 + 6 * i), b.weights(6, 16 + 6 * i, 3, 3)], pads=[1, 1, 1, 1])
        c = b.op("Concat", [c, y], axis=-3)
    b.output(b.op("Conv", [b.bn_relu(c, 34), b.weights(10, 34, 1, 1), b.weights(10)]))
    rng = np.random.default_rng(22)
    out.append(("conv_dense_block", b.model(), [[rnd(rng, 1, 8, 16, 16)], [rnd(rng, 2, 8, 9, 13)],
                                                [rnd(rng, 1, 8, 2, 2)], [rnd(rng, 1, 8, 16, 16)]]))
    # elementwise work between convs: per-channel and per-position operands keep the channels-last
    # layout (the group runs over [N, H, W, C]); a full-size plain operand (the second input) makes
    # the group run plain, its channels-last inputs made plain first
    b = Builder("conv_eltwise_layouts", 23)
    x = b.input("x", ["N", 8, "H", "W"])
    x2 = b.input("x2", ["N", 12, "H", "W"])
    pos = b.input("pos", [1, 1, "H", "W"])
    y = b.op("Conv", [x, b.weights(12, 8, 3, 3), b.weights(12)], pads=[1, 1, 1, 1])
    y = b.op("Relu", [b.op("Add", [b.op("Mul", [y, b.const(b.rng.random((12, 1, 1)).astype(np.float32))]), pos])])
    y = b.op("Conv", [y, b.weights(12, 12, 3, 3)], pads=[1, 1, 1, 1])
    z = b.op("Sigmoid", [b.op("Add", [y, x2])])
    b.output(b.op("Conv", [z, b.weights(4, 12, 1, 1)]))
    rng = np.random.default_rng(24)
    out.append(("conv_eltwise_layouts", b.model(),
                [[rnd(rng, 1, 8, 12, 12), rnd(rng, 1, 12, 12, 12), rnd(rng, 1, 1, 12, 12)],
                 [rnd(rng, 2, 8, 7, 10), rnd(rng, 2, 12, 7, 10), rnd(rng, 1, 1, 7, 10)],
                 [rnd(rng, 1, 8, 12, 12), rnd(rng, 1, 12, 12, 12), rnd(rng, 1, 1, 12, 12)]]))
    return out


# ----------------------------------------------------------------------------- matrix products

def matmul_cases():
    out = []
    b = Builder("matmul_2d_bias_relu", 20)
    a = b.input("a", ["M", 64])
    y = b.op("MatMul", [a, b.weights(64, 48)])
    y = b.op("Add", [y, b.weights(48, scale=0.5)])
    b.output(b.op("Relu", [y]))
    rng = np.random.default_rng(21)
    out.append(("matmul_2d_bias_relu", b.model(), [[rnd(rng, 1, 64)], [rnd(rng, 5, 64)], [rnd(rng, 33, 64)]]))

    b = Builder("matmul_3d_bias_first_tanh", 22)
    a = b.input("a", ["B", "T", 32])
    y = b.op("MatMul", [a, b.weights(32, 24)])
    y = b.op("Add", [b.const((np.random.default_rng(1).standard_normal((1, 1, 24)) * 0.3).astype(np.float32)), y])
    b.output(b.op("Tanh", [y]))
    rng = np.random.default_rng(23)
    out.append(("matmul_3d_bias_first_tanh", b.model(), [[rnd(rng, 1, 1, 32)], [rnd(rng, 2, 7, 32)], [rnd(rng, 3, 4, 32)]]))

    b = Builder("matmul_batched_inputs", 24)
    a = b.input("a", ["B", "M", "K"])
    c = b.input("b", ["B", "K", "N"])
    b.output(b.op("MatMul", [a, c]))
    rng = np.random.default_rng(25)
    out.append(("matmul_batched_inputs", b.model(), [[rnd(rng, 2, 3, 4), rnd(rng, 2, 4, 5)],
                                                     [rnd(rng, 3, 17, 19), rnd(rng, 3, 19, 12)]]))

    b = Builder("matmul_broadcast_4d", 26)
    a = b.input("a", [2, 1, "M", 24])
    c = b.input("b", [1, 3, 24, "N"])
    b.output(b.op("MatMul", [a, c]))
    rng = np.random.default_rng(27)
    out.append(("matmul_broadcast_4d", b.model(), [[rnd(rng, 2, 1, 14, 24), rnd(rng, 1, 3, 24, 15)],
                                                   [rnd(rng, 2, 1, 1, 24), rnd(rng, 1, 3, 24, 8)]]))

    b = Builder("matmul_rank_mix", 28)
    a = b.input("a", [3, "M", 20])
    c = b.input("b", [2, 3, 20, 16])
    b.output(b.op("MatMul", [a, c]))
    rng = np.random.default_rng(29)
    out.append(("matmul_rank_mix", b.model(), [[rnd(rng, 3, 12, 20), rnd(rng, 2, 3, 20, 16)]]))

    b = Builder("matmul_add_same_shape", 30)
    a = b.input("a", ["B", "M", 24])
    s = b.input("s", ["B", "M", 28])
    y = b.op("Add", [b.op("MatMul", [a, b.weights(24, 28)]), s])
    b.output(b.op("Sigmoid", [y]))
    rng = np.random.default_rng(31)
    out.append(("matmul_add_same_shape", b.model(), [[rnd(rng, 2, 9, 24), rnd(rng, 2, 9, 28)],
                                                     [rnd(rng, 1, 1, 24), rnd(rng, 1, 1, 28)]]))

    b = Builder("matmul_add_broadcast", 32)
    a = b.input("a", ["B", 9, 24])
    s = b.input("s", [9, 28])
    b.output(b.op("Add", [b.op("MatMul", [a, b.weights(24, 28)]), s]))
    rng = np.random.default_rng(33)
    out.append(("matmul_add_broadcast", b.model(), [[rnd(rng, 2, 9, 24), rnd(rng, 9, 28)]]))

    b = Builder("matmul_vector", 34)
    a = b.input("a", [6])
    c = b.input("b", ["B", 6, 3])
    b.output(b.op("MatMul", [a, c]))
    b.output(b.op("MatMul", [c, b.const(np.ones(3, np.float32))]))
    rng = np.random.default_rng(35)
    out.append(("matmul_vector", b.model(), [[rnd(rng, 6), rnd(rng, 2, 6, 3)]]))

    b = Builder("matmul_empty", 36)
    a = b.input("a", ["M", 64])
    b.output(b.op("MatMul", [a, b.weights(64, 32)]))
    out.append(("matmul_empty", b.model(), [[np.zeros((0, 64), np.float32)], [np.ones((20, 64), np.float32)]]))

    def gemm(name, ashape, bshape, cshape, seed, const_b=True, post=(), **attrs):
        b = Builder(name, seed)
        a = b.input("a", list(ashape))
        if const_b:
            bb = b.weights(*bshape)
        else:
            bb = b.input("b", list(bshape))
        ins = [a, bb]
        if cshape is not None:
            ins.append(b.const((np.random.default_rng(seed).standard_normal(cshape)).astype(np.float32), "c"))
        y = b.op("Gemm", ins, **attrs)
        for p in post:
            y = p(b, y)
        b.output(y)
        return b

    rng = np.random.default_rng(40)
    for name, ash, bsh, csh, attrs, M in [
        ("gemm_vector_bias", ("M", 64), (64, 40), (40,), {}, [1, 16]),
        ("gemm_row_bias_beta", ("M", 64), (64, 40), (1, 40), dict(beta=0.5), [13]),
        ("gemm_matrix_bias_beta", (16, 64), (64, 40), (16, 40), dict(beta=2.0), [16]),
        ("gemm_column_bias", (16, 64), (64, 40), (16, 1), {}, [16]),
        ("gemm_scalar_bias", ("M", 64), (64, 40), (), {}, [12]),
        ("gemm_single_bias", ("M", 64), (64, 40), (1,), {}, [12]),
        ("gemm_no_bias", ("M", 64), (64, 40), None, {}, [13]),
        ("gemm_trans_a", (64, "M"), (64, 40), (40,), dict(transA=1), [13]),
        ("gemm_trans_b", ("M", 64), (40, 64), (40,), dict(transB=1), [13]),
        ("gemm_trans_both_beta0", (64, "M"), (40, 64), (40,), dict(transA=1, transB=1, beta=0.0), [16]),
        ("gemm_alpha", ("M", 64), (64, 40), (40,), dict(alpha=2.0), [13]),
        ("gemm_tiny", ("M", 8), (8, 5), (5,), {}, [3]),
    ]:
        b = gemm(name, ash, bsh, csh, 41, **attrs)
        sets = []
        for m in M:
            shape = [m if d == "M" else d for d in ash]
            sets.append([rnd(rng, *shape)])
        out.append((name, b.model(), sets))
    b = gemm("gemm_runtime_b_relu", ("M", 64), (40, 64), (40,), 42, const_b=False, post=[relu], transB=1)
    out.append(("gemm_runtime_b_relu", b.model(), [[rnd(rng, 13, 64), rnd(rng, 40, 64)], [rnd(rng, 2, 64), rnd(rng, 40, 64)]]))
    b = gemm("gemm_add_residual", ("M", 64), (64, 64), (64,), 43, post=[lambda b, y: b.op("Add", [y, "a"]), relu])
    out.append(("gemm_add_residual", b.model(), [[rnd(rng, 13, 64)], [rnd(rng, 1, 64)]]))
    return out


# -------------------------------------------------------------------------------------- pools

def pool_case(name, op, attrs, shapes, seed, n_out=1):
    b = Builder(name, seed)
    nsp = len(shapes[0]) - 2
    x = b.input("x", ["N", "C"] + [f"S{i}" for i in range(nsp)])
    ys = b.op(op, [x], n_out=n_out, **attrs)
    ys = ys if n_out > 1 else [ys]
    for j, y in enumerate(ys):
        b.output(y, F32 if j == 0 else TensorProto.INT64)
    rng = np.random.default_rng(seed + 1)
    return name, b.model(12), [[rnd(rng, *s)] for s in shapes]


def tiny_pool_cases():
    """Pools too small for oneDNN (fewer than 4096 taps: dycl's own loop, cpu_own.c), beside the
    (1, 2, 5, 5) and other small sets of pool_cases: NaN and infinities in every window position
    of a max and an average (the maximum keeps a NaN only in the window's first tap inside the
    input, as the reference kernel), dilated and padded windows, and a pool between convolutions
    reading and writing channels-last (RANet pools its 3-channel image so)."""
    from fast_cases import specials
    out = []
    rng = np.random.default_rng(70)
    b = Builder("pool_tiny_nan", 70)
    x = b.input("x", ["N", "C", "H", "W"])
    b.output(b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    b.output(b.op("AveragePool", [x], kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 1], count_include_pad=1))
    b.output(b.op("MaxPool", [x], kernel_shape=[2, 2], dilations=[2, 2], pads=[1, 1, 0, 0]))
    out.append(("pool_tiny_nan", b.model(12), [[specials(rnd(rng, 1, 3, 6, 7), rng, 0.15)],
                                               [specials(rnd(rng, 2, 1, 5, 5), rng, 0.3)], [rnd(rng, 1, 2, 2, 3)]]))
    b = Builder("pool_tiny_layouts", 71)
    x = b.input("x", ["N", 8, "H", "W"])
    y = b.op("Conv", [x, b.weights(8, 8, 3, 3)], pads=[1, 1, 1, 1])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])  # channels-last in and out
    z = b.op("AveragePool", [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    b.output(b.op("Conv", [z, b.weights(16, 8, 3, 3)], pads=[1, 1, 1, 1]))
    b.output(b.op("AveragePool", [x], kernel_shape=[4, 4], strides=[4, 4]))  # plain, RANet's input pool
    out.append(("pool_tiny_layouts", b.model(12), [[rnd(rng, 1, 8, 8, 8)], [rnd(rng, 2, 8, 6, 10)], [rnd(rng, 1, 8, 4, 4)]]))
    return out


def pool_cases():
    s2 = [(1, 8, 19, 19), (2, 16, 22, 17), (1, 8, 16, 16), (1, 2, 5, 5)]
    return tiny_pool_cases() + [
        pool_case("maxpool_k3s2p1", "MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), s2, 50),
        pool_case("maxpool_ceil", "MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), s2, 51),
        pool_case("maxpool_ceil_pads", "MaxPool", dict(kernel_shape=[2, 3], strides=[3, 2], pads=[1, 0, 0, 1], ceil_mode=1),
                  s2, 52),
        pool_case("maxpool_dilation", "MaxPool", dict(kernel_shape=[2, 2], dilations=[2, 2], strides=[1, 1]), s2, 53),
        pool_case("maxpool_same_upper", "MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), s2,
                  54),
        pool_case("maxpool_1d", "MaxPool", dict(kernel_shape=[3], strides=[2], pads=[1, 1]),
                  [(1, 16, 40), (2, 8, 27), (1, 2, 9)], 55),
        pool_case("maxpool_3d", "MaxPool", dict(kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
                  [(1, 8, 8, 10, 9), (1, 2, 3, 4, 5)], 56),
        pool_case("avgpool_exclude_pad", "AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), s2,
                  57),
        pool_case("avgpool_include_pad", "AveragePool",
                  dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1), s2, 58),
        pool_case("avgpool_ceil_exclude", "AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), s2, 59),
        pool_case("avgpool_ceil_include", "AveragePool",
                  dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1), s2, 60),
        pool_case("avgpool_same_lower", "AveragePool", dict(kernel_shape=[2, 2], auto_pad="SAME_LOWER"), s2, 61),
        pool_case("avgpool_3d", "AveragePool", dict(kernel_shape=[3, 1, 2], pads=[1, 0, 0, 1, 0, 1]),
                  [(1, 8, 8, 10, 9), (1, 2, 4, 3, 5)], 62),
        pool_case("globalavgpool", "GlobalAveragePool", {}, s2, 63),
        pool_case("globalavgpool_1d", "GlobalAveragePool", {}, [(2, 64, 50), (1, 4, 1)], 66),
        pool_case("globalmaxpool", "GlobalMaxPool", {}, s2, 64),
        pool_case("maxpool_with_indices", "MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2]), s2[:2], 65, n_out=2),
    ]


# --------------------------------------------------------------------------------- reductions

def reduce_cases():
    out = []
    rng = np.random.default_rng(90)
    shapes = [(2, 16, 9, 11), (1, 32, 8, 8), (1, 2, 3, 4)]
    for name, op, attrs, axes_in, opset in [
        ("reducemean_spatial_keep", "ReduceMean", dict(axes=[2, 3]), None, 13),
        ("reducemean_spatial_drop", "ReduceMean", dict(axes=[-1, -2], keepdims=0), None, 13),
        ("reducemax_last", "ReduceMax", dict(axes=[-1], keepdims=0), None, 13),
        ("reducemin_all", "ReduceMin", {}, None, 13),
        ("reducemean_all_drop", "ReduceMean", dict(keepdims=0), None, 11),
        ("reducesum_attr_opset11", "ReduceSum", dict(axes=[1]), None, 11),
        ("reducesum_axes_input", "ReduceSum", dict(keepdims=0), [0, 2], 13),
        ("reducesum_no_axes", "ReduceSum", {}, None, 13),
        ("reducesum_noop_empty", "ReduceSum", dict(noop_with_empty_axes=1), None, 13),
        ("reducesum_ones_only", "ReduceSum", {}, [0], 13),
    ]:
        b = Builder(name, 91)
        x = b.input("x", ["N", "C", "H", "W"])
        ins = [x] + ([b.const(np.array(axes_in, np.int64), "axes")] if axes_in is not None else [])
        b.output(b.op(op, ins, **attrs))
        sets = [[rnd(rng, *sh)] for sh in shapes]
        out.append((name, b.model(opset), sets))
    # axes computed at run time
    b = Builder("reducesum_runtime_axes", 92)
    x = b.input("x", ["N", "C", "H", "W"])
    ax = b.input("axes", [1], TensorProto.INT64)
    b.output(b.op("ReduceSum", [x, ax], keepdims=1))
    out.append(("reducesum_runtime_axes", b.model(13), [[rnd(rng, 2, 16, 9, 11), np.array([1], np.int64)],
                                                        [rnd(rng, 2, 16, 9, 11), np.array([-1], np.int64)],
                                                        [rnd(rng, 2, 16, 9, 11), np.array([7], np.int64)]]))
    return out


# ------------------------------------------------------------------------------- control flow

def loop_case():
    """A Loop whose carried sequence grows by one row per iteration: the MatMul inside sees a new
    shape on every iteration (more shapes than the primitive cache holds)."""
    rng = np.random.default_rng(70)
    body = Builder("body", 71)
    it = body.input("i", [], TensorProto.INT64)
    cond = body.input("cond_in", [], TensorProto.BOOL)
    x = body.input("x_in", [1, "T", 32])
    y = body.op("MatMul", [x, body.weights(32, 32)])
    y = body.op("Relu", [body.op("Add", [y, body.weights(32, scale=0.1)])])
    last = body.op("Slice", [y, body.const(np.array([-1], np.int64)), body.const(np.array([2 ** 31], np.int64)),
                             body.const(np.array([1], np.int64))])
    xn = body.op("Concat", [x, body.op("Tanh", [last])], out="x_out", axis=1)
    body.op("Identity", [cond], out="cond_out")
    body.op("ReduceSum", [y], out="scan_out", keepdims=0)
    del it
    g_body = helper.make_graph(body.nodes, "body", body.inputs,
                               [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                                helper.make_tensor_value_info("x_out", F32, [1, "T2", 32]),
                                helper.make_tensor_value_info("scan_out", F32, None)], body.inits)
    b = Builder("loop_growing_matmul", 72)
    x0 = b.input("x0", [1, "T0", 32])
    n = b.input("n", [], TensorProto.INT64)
    b.nodes.append(helper.make_node("Loop", [n, "", x0], ["x_final", "sums"], body=g_body))
    b.output("x_final")
    b.output("sums")
    return ("loop_growing_matmul", b.model(13),
            [[rnd(rng, 1, 1, 32), np.array(44, np.int64)], [rnd(rng, 1, 3, 32), np.array(4, np.int64)],
             [rnd(rng, 1, 2, 32), np.array(0, np.int64)]])


def if_case():
    rng = np.random.default_rng(80)

    def branch(name, seed, k):
        b = Builder(name, seed)
        y = b.op("Conv", ["x", b.weights(8, 3, k, k), b.weights(8)], pads=[k // 2] * 4)
        b.op("Relu", [y], out=f"{name}_out")
        return helper.make_graph(b.nodes, name, [], [helper.make_tensor_value_info(f"{name}_out", F32, None)], b.inits)

    b = Builder("if_conv_branches", 81)
    b.input("x", ["N", 3, "H", "W"])
    c = b.input("c", [], TensorProto.BOOL)
    b.nodes.append(helper.make_node("If", [c], ["y"], then_branch=branch("then", 82, 3),
                                    else_branch=branch("else", 83, 1)))
    b.output("y")
    return ("if_conv_branches", b.model(13),
            [[rnd(rng, 1, 3, 12, 12), np.array(True)], [rnd(rng, 2, 3, 15, 7), np.array(False)],
             [rnd(rng, 1, 3, 4, 4), np.array(True)]])


def layout_cases():
    """Channels-last values crossing sub-network boundaries (cpu_export in cpu.c): a conv result
    handed to an If's branch (a residual block) or passed through its other branch, carried by a
    Loop whose body adds a conv of it back, read after the loop by a branch that pads it (Pad of
    the spatial dims, channels-last too) or convolves it, and pooled into the outputs (global
    pools of a channels-last source); the 2x2 input makes the convs fall back to the reference kernels (plain results). A
    second model returns an If's result as a model output, which must never leave channels-last."""
    rng = np.random.default_rng(90)
    out = []

    def sub(name, seed, build, outs):
        g = Builder(name, seed)
        results = build(g)
        return helper.make_graph(g.nodes, name, [], [helper.make_tensor_value_info(r, F32, None) for r in results],
                                 g.inits) if outs is None else outs(g, results)

    def block(g, v, out_name):
        y = g.op("Relu", [g.op("Conv", [v, g.weights(8, 8, 3, 3), g.weights(8)], pads=[1, 1, 1, 1])])
        y = g.op("Conv", [y, g.weights(8, 8, 3, 3)], pads=[1, 1, 1, 1])
        return g.op("Relu", [g.op("Add", [y, v])], out=out_name)

    b = Builder("layout_across_subnets", 91)
    x = b.input("x", ["N", 3, "H", "W"])
    c1 = b.input("c1", [], TensorProto.BOOL)
    n = b.input("n", [], TensorProto.INT64)
    c2 = b.input("c2", [], TensorProto.BOOL)
    y0 = b.op("Relu", [b.op("Conv", [x, b.weights(8, 3, 3, 3), b.weights(8)], pads=[1, 1, 1, 1])], out="y0")
    then1 = sub("then1", 92, lambda g: [block(g, y0, "then1_out")], None)
    else1 = helper.make_graph([], "else1", [], [helper.make_tensor_value_info("y0", F32, None)])
    b.nodes.append(helper.make_node("If", [c1], ["a"], then_branch=then1, else_branch=else1))
    body = Builder("body", 93)
    body.input("i", [], TensorProto.INT64)
    cond = body.input("cond_in", [], TensorProto.BOOL)
    h = body.input("h_in", ["N", 8, "H", "W"])
    block(body, h, "h_out")
    body.op("Identity", [cond], out="cond_out")
    body.op("Flatten", [body.op("GlobalAveragePool", ["h_out"])], out="pooled")
    g_body = helper.make_graph(body.nodes, "body", body.inputs,
                               [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                                helper.make_tensor_value_info("h_out", F32, ["N", 8, "H", "W"]),
                                helper.make_tensor_value_info("pooled", F32, None)], body.inits)
    b.nodes.append(helper.make_node("Loop", [n, "", "a"], ["h_final", "pooled_all"], body=g_body))

    def then2(g):
        p = g.op("Pad", ["h_final", g.const(np.array([0, 0, 1, 2, 0, 0, 2, 0], np.int64)),
                         g.const(np.array(0.5, np.float32))])
        return [g.op("Conv", [p, g.weights(8, 8, 3, 3)], out="then2_out")]

    def else2(g):
        return [g.op("Conv", ["h_final", g.weights(8, 8, 1, 1)], out="else2_out")]
    b.nodes.append(helper.make_node("If", [c2], ["z"], then_branch=sub("then2", 94, then2, None),
                                    else_branch=sub("else2", 95, else2, None)))
    b.op("Flatten", [b.op("GlobalAveragePool", ["z"])], out="logits")
    b.op("Flatten", [b.op("GlobalAveragePool", ["h_final"])], out="feat")
    for o in ("logits", "feat", "pooled_all"):
        b.output(o)
    T, F = np.array(True), np.array(False)
    out.append(("layout_across_subnets", b.model(13),
                [[rnd(rng, 1, 3, 12, 12), T, np.array(2, np.int64), T],
                 [rnd(rng, 2, 3, 9, 13), F, np.array(3, np.int64), F],
                 [rnd(rng, 1, 3, 12, 12), F, np.array(0, np.int64), T],
                 [rnd(rng, 1, 3, 2, 2), T, np.array(1, np.int64), F],
                 [rnd(rng, 1, 3, 16, 16), T, np.array(1, np.int64), F]]))

    # reductions over the spatial axes of a channels-last value (dycl's own loop: oneDNN 2.6 would
    # take the source to its reference code); the positional operand may hold NaN, which ReduceMax
    # and ReduceMin keep and GlobalMaxPool skips, as the reference kernels do
    b = Builder("layout_spatial_reductions", 98)
    x = b.input("x", ["N", 4, "H", "W"])
    pos = b.input("pos", [1, 1, "H", "W"])
    y = b.op("Add", [b.op("Conv", [x, b.weights(16, 4, 3, 3), b.weights(16)], pads=[1, 1, 1, 1]), pos])
    b.output(b.op("ReduceMax", [y], axes=[2, 3]))
    b.output(b.op("ReduceMin", [y], axes=[-1, -2], keepdims=0))
    b.output(b.op("ReduceMean", [y], axes=[2, 3], keepdims=0))
    b.output(b.op("ReduceSum", [y, b.const(np.array([2, 3], np.int64))]))
    b.output(b.op("GlobalMaxPool", [y]))
    b.output(b.op("GlobalAveragePool", [y]))
    # the channels too: a plain source (oneDNN's mean; the max by the reference kernel, NaN kept)
    y2 = b.op("Add", [b.op("Conv", [x, b.weights(8, 4, 1, 1)]), pos])
    b.output(b.op("ReduceMean", [y2], axes=[1, 2, 3]))
    b.output(b.op("ReduceMax", [y2], axes=[1, 3]))
    nan_pos = rnd(rng, 1, 1, 10, 10)
    nan_pos[0, 0, 3, 4] = np.nan
    out.append(("layout_spatial_reductions", b.model(13),
                [[rnd(rng, 1, 4, 10, 10), rnd(rng, 1, 1, 10, 10)], [rnd(rng, 2, 4, 7, 9), rnd(rng, 1, 1, 7, 9)],
                 [rnd(rng, 1, 4, 10, 10), nan_pos]]))

    b = Builder("layout_if_output", 96)
    x = b.input("x", ["N", 3, "H", "W"])
    c = b.input("c", [], TensorProto.BOOL)
    b.op("Relu", [b.op("Conv", [x, b.weights(8, 3, 3, 3), b.weights(8)], pads=[1, 1, 1, 1])], out="y0")
    then = sub("then", 97, lambda g: [block(g, "y0", "then_out")], None)
    els = helper.make_graph([], "else", [], [helper.make_tensor_value_info("y0", F32, None)])
    b.nodes.append(helper.make_node("If", [c], ["y"], then_branch=then, else_branch=els))
    b.output("y")
    out.append(("layout_if_output", b.model(13),
                [[rnd(rng, 1, 3, 12, 12), T], [rnd(rng, 2, 3, 7, 9), F], [rnd(rng, 1, 3, 12, 12), F]]))

    # a plain value (a model output, so never handed over channels-last) read by a group in an If
    # branch that reads a Concat of it and a conv result in place: the branch turns it channels-last
    # in the host's slot for its groups and must put it back plain for the model output
    b = Builder("layout_turned_input", 99)
    x = b.input("x", ["N", 3, "H", "W"])
    c = b.input("c", [], TensorProto.BOOL)
    b.op("Conv", [x, b.weights(8, 3, 3, 3), b.weights(8)], pads=[1, 1, 1, 1], out="t")

    def dense(g):
        y = g.op("Conv", ["t", g.weights(4, 8, 3, 3)], pads=[1, 1, 1, 1])
        scale = g.const(g.rng.random((12, 1, 1)).astype(np.float32))
        z = g.op("Relu", [g.op("Mul", [g.op("Concat", ["t", y], axis=1), scale])])
        return [g.op("Conv", [z, g.weights(8, 12, 1, 1)], out="then_out")]
    then = sub("then", 100, dense, None)
    els = helper.make_graph([helper.make_node("Neg", ["t"], ["else_out"])], "else", [],
                            [helper.make_tensor_value_info("else_out", F32, None)])
    b.nodes.append(helper.make_node("If", [c], ["y"], then_branch=then, else_branch=els))
    b.output("y")
    b.output("t")
    out.append(("layout_turned_input", b.model(13),
                [[rnd(rng, 1, 3, 12, 12), T], [rnd(rng, 2, 3, 7, 9), T], [rnd(rng, 1, 3, 12, 12), F]]))
    return out


# ------------------------------------------------------------------------------- own kernels

def own_cases():
    """dycl's own kernels (cpu_own.h): convolutions with few output channels over a channels-last
    source (kept so by a oneDNN conv before them), with every kind of fused post-op, padding that
    clips the window on every side, windows wider than the image, rows whose inside part is not a
    whole number of tiles, several images, results channels-last (read by a later conv) and plain
    (the graph outputs); and matrix products of 1 to 4 rows by constant weights, down to products
    too small for oneDNN."""
    out = []
    b = Builder("own_conv_few_channels", 61)
    x = b.input("x", ["N", 16, "H", "W"])
    y0 = b.op("Relu", [b.op("Conv", [x, b.weights(40, 16, 3, 3), b.weights(40)], pads=[1, 1, 1, 1])])  # oneDNN
    a = b.op("Relu", [b.op("Conv", [y0, b.weights(6, 40, 3, 3), b.weights(6)], pads=[1, 1, 1, 1])])
    c5 = b.op("Conv", [y0, b.weights(5, 40, 3, 3)], pads=[0, 1, 2, 0])  # asymmetric: 5 channels
    d5 = b.op("Conv", [y0, b.weights(5, 40, 3, 3), b.weights(5)], pads=[0, 1, 2, 0])
    e = b.op("LeakyRelu", [b.op("Add", [c5, d5])], alpha=0.1)  # a residual addend, channels-last
    f = b.op("Clip", [b.op("Conv", [y0, b.weights(8, 40, 5, 5), b.weights(8)], pads=[2, 2, 2, 2]),
                      b.const(np.float32(-0.5)), b.const(np.float32(0.5))])
    g = b.op("Conv", [y0, b.weights(3, 40, 1, 7)], pads=[0, 3, 0, 3])  # one kernel row of 7
    h = b.op("Sigmoid", [b.op("Conv", [y0, b.weights(1, 40, 3, 3)], pads=[1, 1, 1, 1])])  # one channel
    cat = b.op("Concat", [a, f], axis=1)  # 14 channels, still channels-last
    z = b.op("Conv", [cat, b.weights(7, 14, 3, 3)], pads=[1, 1, 1, 1])  # C * 9 < 256: oneDNN
    e2 = b.op("Conv", [e, b.weights(4, 5, 3, 3)], pads=[1, 1, 1, 1])  # keeps e (and so the addend) channels-last
    for v in (e2, g, h, z):
        b.output(v)
    rng = np.random.default_rng(62)
    out.append(("own_conv_few_channels", b.model(),
                [[rnd(rng, 1, 16, 16, 16)], [rnd(rng, 2, 16, 9, 37)], [rnd(rng, 1, 16, 2, 3)],
                 [rnd(rng, 1, 16, 32, 32)], [rnd(rng, 1, 16, 1, 19)]]))

    def gemm_own(name, seed, M, K, N, trans_b, cshape, post=(), **attrs):
        b = Builder(name, seed)
        a = b.input("a", ["M", K])
        w = b.weights(*((N, K) if trans_b else (K, N)))
        ins = [a, w]
        if cshape is not None:
            ins.append(b.const(np.random.default_rng(seed).standard_normal(cshape).astype(np.float32), "c"))
        y = b.op("Gemm", ins, transB=int(trans_b), **attrs)
        for p in post:
            y = p(b, y)
        b.output(y)
        rng = np.random.default_rng(seed + 1)
        return name, b.model(), [[rnd(rng, m, K)] for m in M]

    out.append(gemm_own("own_gemm_rows_trans_b", 63, [1, 2, 3, 4, 5], 300, 10, True, (10,), [relu]))
    out.append(gemm_own("own_gemm_rows_plain_b", 64, [1, 3], 257, 37, False, (1, 37), beta=0.5))
    out.append(gemm_own("own_gemm_matrix_c", 65, [3], 512, 9, True, (3, 9), [unary("Tanh")], beta=2.0))
    out.append(gemm_own("own_gemm_long", 66, [1, 2], 8192, 60, True, None, [leaky(0.3)]))
    out.append(gemm_own("own_gemm_elu", 69, [1, 4], 700, 33, True, (33,), [unary("Elu", alpha=0.7)]))
    # more than 64 columns: tiles of columns (AVX-512: 128 for one row, 96 for four; AVX2 64 /
    # 24; scalar 8 / 2), narrower while the threads would get fewer than two each; a last tile of
    # a few columns (1037 = 8 x 128 + 13), a vector's tail, every row count, a matrix addend
    out.append(gemm_own("own_gemm_wide", 70, [1], 512, 300, True, (300,), [unary("Sigmoid")]))
    out.append(gemm_own("own_gemm_wide_tail", 71, [1, 2, 3, 4, 5], 300, 1037, True, (1037,), [relu]))
    out.append(gemm_own("own_gemm_wide_plain_b", 72, [1, 3], 77, 200, False, (1, 200), beta=0.5))
    out.append(gemm_own("own_gemm_wide_matrix_c", 77, [4], 40, 130, True, (4, 130), [unary("Tanh")], beta=2.0))
    out.append(gemm_own("own_gemm_wide_short_k", 78, [1, 2], 3, 65, False, None, [leaky(0.3)]))
    # enough work for both threads (K N >= 262144) but 2 tiles of 128: tiles of 64, 4 of them
    out.append(gemm_own("own_gemm_wide_split", 81, [1, 2], 1500, 200, True, (200,)))
    # products too small for oneDNN (K x M x N < 4096) and of fewer than 16 terms: an RNN cell's
    # gates (K 10, N 40, added to another product as a residual), a gate's single logit (N 1), a
    # product of 3 terms (one masked vector), and 5 rows (the reference kernel again)
    out.append(gemm_own("own_gemm_tiny_logit", 73, [1, 2, 4, 5], 10, 1, True, (1,), [unary("Sigmoid")]))
    out.append(gemm_own("own_gemm_tiny_k3", 74, [1, 3, 5], 3, 17, False, (17,), [relu]))
    b = Builder("own_matmul_tiny_cell", 75)
    h = b.input("h", ["M", 10])
    x = b.input("x", ["M", 12])
    g = b.op("Add", [b.op("Gemm", [x, b.weights(40, 12), b.weights(40)], transB=1), b.op("MatMul", [h, b.weights(10, 40)])])
    b.output(b.op("Tanh", [g]))
    rng = np.random.default_rng(76)
    out.append(("own_matmul_tiny_cell", b.model(), [[rnd(rng, m, 10), rnd(rng, m, 12)] for m in (1, 4, 6, 0)]))
    def matmul_residual(name, seed, K, N, act, res_first):
        """x [B, 1, K] by constant weights plus a residual [B, 1, N], then act, for 1, a few and 6
        rows (6: oneDNN again)."""
        b = Builder(name, seed)
        a = b.input("a", ["B", 1, K])
        r = b.input("r", ["B", 1, N])
        y = b.op("MatMul", [a, b.weights(K, N)])
        b.output(b.op(act, [b.op("Add", [r, y] if res_first else [y, r])]))
        rng = np.random.default_rng(seed + 1)
        return name, b.model(14), [[rnd(rng, m, 1, K), rnd(rng, m, 1, N)] for m in (1, 4 if N <= 64 else 3, 6)]

    out.append(matmul_residual("own_matmul_residual", 67, 128, 48, "HardSwish", False))
    out.append(matmul_residual("own_matmul_residual_wide", 79, 96, 400, "Relu", True))
    # more rows than 4 by at most 4 columns: 4 rows at a time, blocks of rows split between the
    # threads (an attention's scores against one vector: [1, L, K] x [K, 1]), with a residual
    out.append(matmul_residual("own_matmul_residual_one_col", 83, 64, 1, "LeakyRelu", True))
    out.append(gemm_own("own_gemm_few_cols_many_rows", 84, [5, 17, 64, 1000], 300, 3, True, (3,), [unary("Sigmoid")]))
    b = Builder("own_matmul_scores", 85)
    a = b.input("a", [1, "L", 200])
    b.output(b.op("MatMul", [a, b.weights(200, 1)]))
    rng = np.random.default_rng(86)
    out.append(("own_matmul_scores", b.model(), [[rnd(rng, 1, n, 200)] for n in (1, 7, 42, 2000)]))
    return out


def inplace_cases():
    """Residuals added into a convolution's result in place: with fixed shapes, the memory plan
    gives a conv group's result the bytes of its Add's operand when nothing reads that operand
    afterwards (a chain of such blocks shares one slot), an operand in another layout than the
    result (plain against channels-last) is copied aside before oneDNN relays it, an operand that is
    the conv's own input is left alone, and dycl's own convolution (8 output channels) adds its
    operand in place too. The `_reread` twin reads every operand once more right after its block
    (a ReduceSum), so nothing is made in place there and the operand lives one step longer: its
    arena must be larger by one activation (run_cpu_checks.py checks it), as the in-place results
    cost no bytes of their own where the blocks are the widest point."""
    out = []
    for reread in (False, True):
        name = "inplace_residual" + ("_reread" if reread else "")
        b = Builder(name, 71)
        x = b.input("x", [1, 32, 12, 12])
        sums = []

        def conv(v, m, c, k=3, bias=True):
            ins = [v, b.weights(m, c, k, k)] + ([b.weights(m)] if bias else [])
            return b.op("Conv", ins, pads=[k // 2] * 4)

        def block(y, operand):
            if reread:
                sums.append(b.op("ReduceSum", [operand], keepdims=0))
            return y

        p = b.op("Transpose", [b.op("Transpose", [x], perm=[0, 2, 3, 1])], perm=[0, 3, 1, 2])  # a plain operand
        c0 = b.op("Relu", [conv(x, 32, 32)])
        r1 = block(b.op("Relu", [b.op("Add", [conv(b.op("Relu", [conv(c0, 32, 32)]), 32, 32), c0])]), c0)  # over c0
        r2 = block(b.op("Relu", [b.op("Add", [r1, conv(b.op("Relu", [conv(r1, 32, 32)]), 32, 32)])]), r1)  # chain
        r3 = b.op("Add", [conv(r2, 32, 32, bias=False), r2])  # the operand is the conv's input: not in place
        r4 = block(b.op("Relu", [b.op("Add", [conv(r3, 32, 32), p])]), p)  # channels-last result, plain operand
        w = b.op("Relu", [conv(r4, 32, 32)])
        e8 = b.op("Relu", [conv(w, 8, 32)])  # dycl's own convolution (8 channels, 9 * 32 >= 256)
        f8 = block(b.op("Clip", [b.op("Add", [conv(w, 8, 32), e8]), b.const(np.float32(-1)), b.const(np.float32(2))]), e8)
        b.output(b.op("Conv", [f8, b.weights(4, 8, 1, 1)]))
        for v in sums:
            b.output(v)
        rng = np.random.default_rng(72)
        out.append((name, b.model(), [[rnd(rng, 1, 32, 12, 12)] for _ in range(3)]))
    return out


def argmax_cases():
    """An ArgMax over the last axis of a product by constant weights of at least 2^20 floats, fused
    into dycl's own quantized kernel (cpu_own.h: int8 weights, a bound per column, the candidate
    columns computed exactly). Most input sets aim at a pair of columns whose weights differ by a
    thousandth (their logits by about 1e-3, far below the quantization's error of ~1e-2, far above
    float rounding), so that a kernel choosing by the approximate logits alone fails about every
    other set; some pairs are exact copies (a tie: the first index, or the last with
    select_last_index). Then a NaN or an infinity in x, an infinite addend (the row computed whole),
    a product by [K, N] weights (strided columns), an addend of the result's shape, a Gemm with
    beta, and rows known only at run time (6 rows: the product alone, then the ArgMax).
    run_cpu_checks.py checks that the fused cases run fused (`dycl bench --profile`)."""
    out = []
    K, N = 256, 4100  # 4100 = 32 x 128 + 4: a last tile of one vector's tail

    def weights(rng, pairs):
        """W [N, K] with rows b = a + 1e-3 noise (or an exact copy) for each (a, b, copy)."""
        w = (rng.standard_normal((N, K)) / np.sqrt(K)).astype(np.float32)
        for a, b_, copy in pairs:
            w[b_] = w[a] if copy else w[a] + (1e-3 * rng.standard_normal(K) / np.sqrt(K)).astype(np.float32)
        return w

    def aimed(rng, w, a, rows):
        u = w[a] / np.linalg.norm(w[a])
        return (6 * u + 0.3 * rng.standard_normal((rows, K))).astype(np.float32)

    pairs = [(17, 4000, False), (3000, 5, False), (128, 129, False), (2222, 2223, False), (4099, 64, False),
             (700, 1900, True), (3333, 1000, True)]

    def sets(rng, w, lead, extra=()):
        rows = int(np.prod(lead))
        res = [[aimed(rng, w, a, rows).reshape(*lead, K)] + [e() for e in extra] for a, _, _ in pairs]
        res += [[rnd(rng, *lead, K)] + [e() for e in extra] for _ in range(2)]
        return res

    for name, seed, rows, keep, last, beta in (("argmax_gemm_vocab", 91, 1, 0, 0, 1.0),
                                               ("argmax_gemm_rows_last", 92, 3, 1, 1, 0.5)):
        rng = np.random.default_rng(seed)
        b = Builder(name, seed)
        x = b.input("x", [rows, K])
        w = weights(rng, pairs)
        c = b.const(np.zeros(N, np.float32) if seed == 91 else rnd(rng, N) * 0.01, "c")
        attrs = {} if beta == 1.0 else {"beta": beta}
        y = b.op("ArgMax", [b.op("Gemm", [x, b.const(w), c], transB=1, **attrs)], axis=1, keepdims=keep,
                 select_last_index=last)
        b.output(y, TensorProto.INT64)
        ss = sets(rng, w, (rows,))
        bad = rnd(rng, rows, K)
        bad[0, 7] = np.nan
        ss.append([bad])
        inf = rnd(rng, rows, K)
        inf[rows - 1, 100] = np.inf
        ss.append([inf])
        out.append((name, b.model(), ss))
    # MatMul by [K, N] weights (rank 3: [1, 1, K]), a bias added, the ArgMax over axis -1 kept
    rng = np.random.default_rng(93)
    b = Builder("argmax_matmul_bias", 93)
    x = b.input("x", [1, 1, K])
    w = weights(rng, pairs)
    y = b.op("Add", [b.op("MatMul", [x, b.const(np.ascontiguousarray(w.T))]), b.const(rnd(rng, N) * 0.01)])
    b.output(b.op("ArgMax", [y], axis=-1, keepdims=1), TensorProto.INT64)
    out.append(("argmax_matmul_bias", b.model(), sets(rng, w, (1, 1))))
    # an addend of the result's shape (2 rows), one set with an infinite addend
    rng = np.random.default_rng(94)
    b = Builder("argmax_matmul_addend", 94)
    x = b.input("x", [2, K])
    r = b.input("r", [2, N])
    w = weights(rng, pairs)
    b.output(b.op("ArgMax", [b.op("Add", [r, b.op("MatMul", [x, b.const(np.ascontiguousarray(w.T))])])], axis=1,
                  keepdims=0), TensorProto.INT64)
    ss = sets(rng, w, (2,), (lambda: (rnd(rng, 2, N) * 1e-3).astype(np.float32),))
    big = rnd(rng, 2, N) * 1e-3
    big[1, 333] = np.inf
    ss.append([rnd(rng, 2, K), big.astype(np.float32)])
    out.append(("argmax_matmul_addend", b.model(), ss))
    # rows known at run time: 1 (fused) and 6 (the product alone, then the ArgMax)
    rng = np.random.default_rng(95)
    b = Builder("argmax_gemm_any_rows", 95)
    x = b.input("x", ["M", K])
    w = weights(rng, pairs)
    b.output(b.op("ArgMax", [b.op("Gemm", [x, b.const(w)], transB=1)], axis=1, keepdims=0), TensorProto.INT64)
    ss = sets(rng, w, (1,))[:3] + [[aimed(rng, w, 128, 6)], [rnd(rng, 6, K)]]
    out.append(("argmax_gemm_any_rows", b.model(), ss))
    return out


def cases():
    import fast_cases  # the fast kernels' cases (fast_*), which build on this file's helpers
    return conv_cases() + own_cases() + matmul_cases() + pool_cases() + reduce_cases() + [loop_case(), if_case()] + layout_cases() + inplace_cases() + argmax_cases() + fast_cases.cases()
