#!/usr/bin/python3
"""Tiny control-flow models for the host-overhead measurement of bench/run_bench.py.

  loop_add.onnx   Loop(M) whose body is one Add on a float[1] carried value
  loop_if.onnx    Loop(M) whose body is an If on the iteration's parity, each branch one Add
Inputs: M (int64 scalar, 10000 by default) and x (float32[1]). Written to OUT/<name>/ with
input_0.pb (M) and input_1.pb (x).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(arr, name, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def loop_model(with_if):
    one = numpy_helper.from_array(np.array([1.0], np.float32), "one")
    if with_if:
        two = numpy_helper.from_array(np.array(2, np.int64), "two")
        zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
        then_g = helper.make_graph([helper.make_node("Add", ["x_in", "one"], ["t_out"])], "then", [],
                                   [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [1])])
        else_g = helper.make_graph([helper.make_node("Sub", ["x_in", "one"], ["e_out"])], "else", [],
                                   [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [1])])
        nodes = [helper.make_node("Mod", ["i", "two"], ["r"]),
                 helper.make_node("Equal", ["r", "zero"], ["even"]),
                 helper.make_node("If", ["even"], ["x_out"], then_branch=then_g, else_branch=else_g),
                 helper.make_node("Identity", ["cond_in"], ["cond_out"])]
        inits = [two, zero]
    else:
        nodes = [helper.make_node("Add", ["x_in", "one"], ["x_out"]),
                 helper.make_node("Identity", ["cond_in"], ["cond_out"])]
        inits = []
    body = helper.make_graph(
        nodes, "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [1])], initializer=inits)
    g = helper.make_graph(
        [helper.make_node("Loop", ["M", "", "x"], ["y"], body=body)], "loop",
        [helper.make_tensor_value_info("M", TensorProto.INT64, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], initializer=[one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench/loop"
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    for name, with_if in (("loop_add", False), ("loop_if", True)):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        onnx.save(loop_model(with_if), os.path.join(d, "model.onnx"))
        _save(np.array(iters, np.int64), "M", os.path.join(d, "input_0.pb"))
        _save(np.array([0.0], np.float32), "x", os.path.join(d, "input_1.pb"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
