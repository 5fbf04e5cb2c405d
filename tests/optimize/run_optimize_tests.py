#!/usr/bin/env python3
"""Graph optimizations (src/transform: fold_bn.c, fold_pad.c, fold_concat.c, loop_concat.c, cse.c, dce.c): each case is a small ONNX model built
here; dycl must compute what PyTorch computes (on the ref and, when built, the cpu backend), and
`dycl inspect` must show the optimization happened (or, for the negative cases, did not).

usage: run_optimize_tests.py --dycl build/dycl --work DIR"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def f32(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save(path, nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="dycl-tests")
    onnx.checker.check_model(m)
    onnx.save(m, path)


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def run_dycl(dycl, model, inputs, work, backend):
    os.makedirs(work, exist_ok=True)
    paths = []
    for i, (name, a) in enumerate(inputs):
        p = os.path.join(work, "input_%d.pb" % i)
        t = numpy_helper.from_array(a, name)
        with open(p, "wb") as f:
            f.write(t.SerializeToString())
        paths.append(p)
    out = os.path.join(work, "out_" + backend)
    r = subprocess.run([dycl, "run", model, *paths, "-o", out, "--backend", backend], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    res = []
    j = 0
    while os.path.exists(os.path.join(out, "output_%d.pb" % j)):
        t = TensorProto()
        with open(os.path.join(out, "output_%d.pb" % j), "rb") as f:
            t.ParseFromString(f.read())
        res.append(numpy_helper.to_array(t))
        j += 1
    return res, ""


def inspect(dycl, model):
    r = subprocess.run([dycl, "inspect", model], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else "ERROR " + r.stderr


def bn_ref(y, gamma, beta, mean, var, eps):
    return torch.nn.functional.batch_norm(y, torch.from_numpy(mean), torch.from_numpy(var), torch.from_numpy(gamma),
                                          torch.from_numpy(beta), False, 0.0, eps)


def bn_params(c):
    return f32(c, lo=0.5, hi=1.5), f32(c), f32(c), f32(c, lo=0.2, hi=2.0)


def case_conv_bn(work, with_bias, extra_use):
    x = f32(2, 3, 9, 9)
    w = f32(8, 3, 3, 3)
    b = f32(8)
    gamma, beta, mean, var = bn_params(8)
    eps = 1e-3
    conv_in = ["x", "w"] + (["b"] if with_bias else [])
    nodes = [helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y0"], epsilon=eps),
             helper.make_node("Relu", ["y0"], ["y"])]
    outputs = [vi("y", [2, 8, 9, 9])]
    if extra_use:
        nodes.append(helper.make_node("Neg", ["c"], ["z"]))
        outputs.append(vi("z", [2, 8, 9, 9]))
    inits = [init("w", w), init("gamma", gamma), init("beta", beta), init("mean", mean), init("var", var)]
    if with_bias:
        inits.append(init("b", b))
    path = os.path.join(work, "model.onnx")
    save(path, nodes, [vi("x", [2, 3, 9, 9])], outputs, inits)
    c = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b) if with_bias else None,
                                   padding=1)
    ref = [torch.relu(bn_ref(c, gamma, beta, mean, var, eps)).numpy()]
    if extra_use:
        ref.append((-c).numpy())
    return path, [("x", x)], ref, 0 if extra_use else 1


def case_gemm_bn(work, trans_b, with_c):
    a = f32(4, 6)
    bw = f32(5, 6) if trans_b else f32(6, 5)
    cb = f32(5)
    gamma, beta, mean, var = bn_params(5)
    eps = 1e-5
    gin = ["a", "bw"] + (["cb"] if with_c else [])
    nodes = [helper.make_node("Gemm", gin, ["g"], transB=1 if trans_b else 0),
             helper.make_node("BatchNormalization", ["g", "gamma", "beta", "mean", "var"], ["y"], epsilon=eps)]
    inits = [init("bw", bw), init("gamma", gamma), init("beta", beta), init("mean", mean), init("var", var)]
    if with_c:
        inits.append(init("cb", cb))
    path = os.path.join(work, "model.onnx")
    save(path, nodes, [vi("a", [4, 6])], [vi("y", [4, 5])], inits)
    bt = torch.from_numpy(bw.T.copy() if trans_b else bw)
    g = torch.from_numpy(a) @ bt + (torch.from_numpy(cb) if with_c else 0)
    return path, [("a", a)], [bn_ref(g, gamma, beta, mean, var, eps).numpy()], 1


def case_cse(work):
    x = f32(3, 4)
    ax1 = np.array([0], dtype=np.int64)
    nodes = [helper.make_node("Relu", ["x"], ["r1"]),
             helper.make_node("Relu", ["x"], ["r2"]),
             helper.make_node("Unsqueeze", ["r1", "axes1"], ["u1"]),
             helper.make_node("Unsqueeze", ["r2", "axes2"], ["u2"]),  # same after r2 → r1 and axes by content
             helper.make_node("Sub", ["u1", "u2"], ["zero"]),
             helper.make_node("Add", ["u1", "zero"], ["y"]),
             helper.make_node("Sigmoid", ["x"], ["unused"])]  # dead
    path = os.path.join(work, "model.onnx")
    save(path, nodes, [vi("x", [3, 4])], [vi("y", [1, 3, 4])], [init("axes1", ax1), init("axes2", ax1.copy())])
    ref = np.maximum(x, 0)[None]
    return path, [("x", x)], [ref], None


def case_cse_loop(work):
    """CSE inside a Loop body, and nodes differing only in an attribute are kept apart."""
    x = f32(5)
    body = helper.make_graph(
        [helper.make_node("Exp", ["acc"], ["e1"]),
         helper.make_node("Exp", ["acc"], ["e2"]),
         helper.make_node("Add", ["e1", "e2"], ["s"]),
         helper.make_node("LeakyRelu", ["s"], ["l1"], alpha=0.1),
         helper.make_node("LeakyRelu", ["s"], ["l2"], alpha=0.2),
         helper.make_node("Sub", ["l1", "l2"], ["d"]),
         helper.make_node("Mul", ["d", "half"], ["acc_out"]),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body", [vi("i", [], TensorProto.INT64), vi("cond", [], TensorProto.BOOL), vi("acc", [5])],
        [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", [5])])
    nodes = [helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)]
    path = os.path.join(work, "model.onnx")
    save(path, nodes, [vi("x", [5])], [vi("y", [5])],
         [init("n", np.array(3, dtype=np.int64)), init("half", np.array(0.5, dtype=np.float32))])
    acc = torch.from_numpy(x).double()
    for _ in range(3):
        s = 2 * torch.exp(acc)
        acc = (torch.nn.functional.leaky_relu(s, 0.1) - torch.nn.functional.leaky_relu(s, 0.2)) * 0.5
    return path, [("x", x)], [acc.float().numpy()], None


def case_pad(work, consumer, value, shared):
    """Pad of the spatial dims before an AveragePool or a Conv: folded into the node's own pads when
    it pads with zeros and nothing else reads it (the pool then counts the padding, as the padded
    input did); kept otherwise."""
    x = f32(2, 4, 9, 8)
    pads = [0, 0, 1, 0, 0, 0, 1, 2] if consumer == "Conv" else [0, 0, 1, 1, 0, 0, 1, 1]
    nodes = [helper.make_node("Pad", ["x", "pads", "value"], ["p"])]
    inits = [init("pads", np.array(pads, np.int64)), init("value", np.array(value, np.float32))]
    xp = torch.nn.functional.pad(torch.from_numpy(x), (pads[3], pads[7], pads[2], pads[6]), value=value)
    if consumer == "Conv":
        w = f32(6, 4, 3, 3)
        inits.append(init("w", w))
        nodes.append(helper.make_node("Conv", ["p", "w"], ["y"], pads=[1, 0, 0, 1]))
        yp = torch.nn.functional.conv2d(torch.nn.functional.pad(xp, (0, 1, 1, 0)), torch.from_numpy(w))
    else:
        nodes.append(helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[3, 3], strides=[2, 2]))
        yp = torch.nn.functional.avg_pool2d(xp, 3, 2)
    outputs = [vi("y", list(yp.shape))]
    ref = [yp.numpy()]
    if shared:
        nodes.append(helper.make_node("Neg", ["p"], ["z"]))
        outputs.append(vi("z", list(xp.shape)))
        ref.append((-xp).numpy())
    path = os.path.join(work, "model.onnx")
    save(path, nodes, [vi("x", [2, 4, 9, 8])], outputs, inits)
    return path, [("x", x)], ref, None


def case_concat(work, same_axis):
    """A Concat of Concats along the same axis (one written as -3 on rank 4) reads their inputs instead
    (fold_concat.c): the inner one another node reads stays, the one only the outer read is left to
    dead-code elimination; along another axis nothing changes."""
    a, b, d = f32(1, 2, 3, 4), f32(1, 3, 3, 4), f32(1, 1, 3, 4)
    if same_axis:
        nodes = [helper.make_node("Concat", ["a", "b"], ["c1"], axis=1),
                 helper.make_node("Concat", ["c1", "d"], ["c2"], axis=-3),
                 helper.make_node("Concat", ["c2", "c1"], ["c3"], axis=1),
                 helper.make_node("Sigmoid", ["c1"], ["s"])]
        c1 = np.concatenate([a, b], 1)
        c3 = np.concatenate([c1, d, c1], 1)
        ref = [c3, 1 / (1 + np.exp(-c1))]
        outputs = [vi("c3", list(c3.shape)), vi("s", list(c1.shape))]
    else:
        b = f32(1, 2, 3, 4)
        nodes = [helper.make_node("Concat", ["a", "b"], ["c1"], axis=0),
                 helper.make_node("Concat", ["c1", "d2"], ["c3"], axis=1)]
        d = f32(2, 1, 3, 4)
        c3 = np.concatenate([np.concatenate([a, b], 0), d], 1)
        ref = [c3]
        outputs = [vi("c3", list(c3.shape))]
    path = os.path.join(work, "model.onnx")
    ins = [("a", a), ("b", b), ("d" if same_axis else "d2", d)]
    save(path, nodes, [vi(n, list(v.shape)) for n, v in ins], outputs, [])
    return path, ins, ref, None


def case_loop_concat(work, kind, trips):
    """Concatenations in a Loop (loop_concat.c): torch.cat of a state onto a loop-carried value,
    appended along axis 1 (an encoder's forward states), prepended (its backward ones), along axis 0
    (a decoder's int64 tokens, also read after the loop); each becomes a scan output and one Concat
    after the loop, the same values for any trip count (0 included: the initial value alone).
    Kept as they are: a carried value the body reads elsewhere too (a running sum over it), and
    pieces of two rows (the stack would not be a plain reshape of them)."""
    h0, w = f32(1, 4), f32(4, 4)
    rows = 2 if kind == "two_rows" else 1
    acc0 = f32(1, 3, 4) if kind != "tokens" else None
    nodes_body = [helper.make_node("MatMul", ["h", "w"], ["hw"]),
                  helper.make_node("Tanh", ["hw"], ["h_out"]),
                  helper.make_node("Identity", ["cond"], ["cond_out"])]
    if kind == "tokens":
        nodes_body += [helper.make_node("ArgMax", ["h_out"], ["tok"], axis=1, keepdims=0),
                       helper.make_node("Concat", ["acc", "tok"], ["acc_out"], axis=0)]
        acc_vi, acc0 = vi("acc", ["n"], TensorProto.INT64), np.array([7, 8], np.int64)
    else:
        nodes_body.append(helper.make_node("Unsqueeze", ["h_out", "one"], ["piece1"]))
        piece = "piece1"
        if kind == "two_rows":
            nodes_body.append(helper.make_node("Concat", ["piece1", "piece1"], ["piece2"], axis=1))
            piece = "piece2"
        order = [piece, "acc"] if kind == "prepend" else ["acc", piece]
        nodes_body.append(helper.make_node("Concat", order, ["acc_out"], axis=1))
        acc_vi = vi("acc", [1, "n", 4])
        if kind == "read_too":  # the carried value read again: the state takes its mean
            nodes_body[0] = helper.make_node("ReduceMean", ["acc"], ["m"], axes=[1], keepdims=0)
            nodes_body.insert(1, helper.make_node("Add", ["m", "h"], ["hm"]))
            nodes_body.insert(2, helper.make_node("MatMul", ["hm", "w"], ["hw"]))
    out_shape = ["m"] if kind == "tokens" else [1, "m", 4]
    body = helper.make_graph(
        nodes_body, "body", [vi("i", [], TensorProto.INT64), vi("cond", [], TensorProto.BOOL), acc_vi, vi("h", [1, 4])],
        [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", out_shape, acc_vi.type.tensor_type.elem_type), vi("h_out", [1, 4])])
    nodes = [helper.make_node("Loop", ["trips", "", "acc0", "h0"], ["acc_final", "h_final"], body=body)]
    outs = [vi("acc_final", out_shape, acc_vi.type.tensor_type.elem_type), vi("h_final", [1, 4])]
    if kind == "tokens":  # the tokens read after the loop too
        nodes.append(helper.make_node("Cast", ["acc_final"], ["tokf"], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("ReduceSum", ["tokf"], ["toksum"], keepdims=0))
        outs.append(vi("toksum", []))
    path = os.path.join(work, "model.onnx")
    save(path, nodes, [vi("acc0", list(acc0.shape), acc_vi.type.tensor_type.elem_type), vi("h0", [1, 4])], outs,
         [init("trips", np.array(trips, np.int64)), init("w", w), init("one", np.array([1], np.int64))])
    acc, h = acc0.copy(), torch.from_numpy(h0).double()
    for _ in range(trips):
        if kind == "read_too":
            h = torch.tanh((torch.from_numpy(acc).double().mean(1) + h) @ torch.from_numpy(w).double())
        else:
            h = torch.tanh(h @ torch.from_numpy(w).double())
        hn = h.float().numpy()
        if kind == "tokens":
            acc = np.concatenate([acc, np.argmax(hn, 1).astype(np.int64)], 0)
        else:
            piece = np.concatenate([hn[:, None]] * rows, 1)
            acc = np.concatenate([piece, acc] if kind == "prepend" else [acc, piece], 1)
    ref = [acc, h.float().numpy()]
    if kind == "tokens":
        ref.append(np.array(acc.astype(np.float32).sum(), np.float32))
    return path, [("acc0", acc0), ("h0", h0)], ref, None


def field(text, what):
    """The count before `what` on dycl inspect's optimizations line."""
    for line in text.splitlines():
        if line.startswith("optimizations:"):
            for part in line[len("optimizations:"):].split(","):
                part = part.strip()
                if what in part:
                    return int(part.split()[0])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dycl", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    backends = ["ref"]
    r = subprocess.run([a.dycl, "run", "--help"], capture_output=True, text=True)
    if "cpu" in r.stdout:
        backends.append("cpu")
    cases = [
        ("conv_bn", lambda w: case_conv_bn(w, True, False)),
        ("conv_nobias_bn", lambda w: case_conv_bn(w, False, False)),
        ("conv_bn_shared", lambda w: case_conv_bn(w, True, True)),
        ("gemm_bn_transB", lambda w: case_gemm_bn(w, True, True)),
        ("gemm_bn_noC", lambda w: case_gemm_bn(w, False, False)),
        ("cse_dce", case_cse),
        ("cse_loop", case_cse_loop),
        ("pad_avgpool", lambda w: case_pad(w, "AveragePool", 0.0, False)),
        ("pad_conv", lambda w: case_pad(w, "Conv", 0.0, False)),
        ("pad_value_kept", lambda w: case_pad(w, "AveragePool", 0.5, False)),
        ("pad_shared_kept", lambda w: case_pad(w, "Conv", 0.0, True)),
        ("concat_flatten", lambda w: case_concat(w, True)),
        ("concat_axes_kept", lambda w: case_concat(w, False)),
    ]
    loop_concat_expected = {"append": 1, "prepend": 1, "tokens": 1, "read_too": 0, "two_rows": 0}
    for kind in loop_concat_expected:
        for trips in (0, 1, 5):
            cases.append(("loop_concat_%s_%d" % (kind, trips), lambda w, k=kind, t=trips: case_loop_concat(w, k, t)))
    pad_expected = {"pad_avgpool": 1, "pad_conv": 1, "pad_value_kept": 0, "pad_shared_kept": 0}
    for name, make in cases:
        work = os.path.join(a.work, name)
        os.makedirs(work, exist_ok=True)
        path, inputs, refs, bn_expected = make(work)
        text = inspect(a.dycl, path)
        if bn_expected is not None:
            check(field(text, "BatchNormalization folded") == bn_expected,
                  "%s: %d BatchNormalization folded expected; inspect says: %s" % (name, bn_expected, text[-300:]))
            check(("BatchNormalization" in text.split("optimizations:")[0]) == (bn_expected == 0),
                  "%s: BatchNormalization node %s in the sub-networks" % (name, "missing" if bn_expected == 0 else "left"))
        if name == "cse_dce":
            check(field(text, "common subexpressions merged") == 2, "%s: 2 merges (Relu, Unsqueeze) expected" % name)
            check(field(text, "dead nodes removed") >= 1, "%s: the unused Sigmoid must be removed" % name)
            check("Sigmoid" not in text.split("optimizations:")[0], "%s: Sigmoid still in a sub-network" % name)
        if name in pad_expected:
            check(field(text, "Pad folded") == pad_expected[name],
                  "%s: %d Pad folded expected; inspect says: %s" % (name, pad_expected[name], text[-300:]))
            check(("Pad '" in text.split("optimizations:")[0]) == (pad_expected[name] == 0),
                  "%s: Pad node %s in the sub-networks" % (name, "missing" if pad_expected[name] == 0 else "left"))
        if name.startswith("concat_"):
            flat = name == "concat_flatten"
            check(field(text, "Concat inputs flattened") == (3 if flat else 0),
                  "%s: %d Concat inputs flattened expected; inspect says: %s" % (name, 3 if flat else 0, text[-300:]))
            n_concat = text.split("optimizations:")[0].count("Concat '")
            check(n_concat == 2, "%s: 2 Concat nodes expected in the sub-networks, %d found" % (name, n_concat))
        if name.startswith("loop_concat_"):
            want = loop_concat_expected[name[len("loop_concat_"):].rsplit("_", 1)[0]]
            check(field(text, "loop concatenations made scan outputs") == want,
                  "%s: %d loop concatenations made scan outputs expected; inspect says: %s" % (name, want, text[-300:]))
        if name == "cse_loop":
            check(field(text, "common subexpressions merged") == 1, "%s: one merge (Exp) expected, not LeakyRelu" % name)
        for be in backends:
            outs, err = run_dycl(a.dycl, path, inputs, work, be)
            if outs is None:
                check(False, "%s/%s: dycl run failed: %s" % (name, be, err))
                continue
            check(len(outs) == len(refs), "%s/%s: %d outputs, expected %d" % (name, be, len(outs), len(refs)))
            for j, (o, ref) in enumerate(zip(outs, refs)):
                ok = o.shape == ref.shape and np.allclose(o, ref, rtol=1e-4, atol=1e-5)
                check(ok, "%s/%s: output %d differs from PyTorch (max abs diff %s)" %
                      (name, be, j, np.max(np.abs(o - ref)) if o.shape == ref.shape else "shape %s vs %s" %
                       (o.shape, ref.shape)))
    print("optimize: %d checks, %d failed" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
