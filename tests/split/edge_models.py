"""Small hand-written ONNX models for the corners of `dycl split` that the node tests and the PyTorch
models do not reach. generate(folder) writes <folder>/<name>/model.onnx and input sets, and returns
[(name, model path, [(case, [input paths])])].

- edge_dup_names: both If branches define a value named "t"; the graph outputs include an Identity of
  an input (an alias the host binds), a constant and a string constant (host-bound constants).
- edge_shadow: an Identity in the main graph makes a branch read the outer value "q" while the
  branch defines its own "q" (dycl allows the shadowing): the sub-network file must still have
  distinct names.
- edge_loop: a Loop with a trip count, no condition, a body that passes its condition and a carried
  value through (aliases, no sub-network copies them), a scan output, and a captured outer value;
  trip counts 0 and 3.
"""

import os


def _save_inputs(folder, case, arrays):
    from onnx import numpy_helper
    d = os.path.join(folder, case)
    os.makedirs(d, exist_ok=True)
    paths = []
    for i, (name, a) in enumerate(arrays):
        p = os.path.join(d, f"input_{i}.pb")
        with open(p, "wb") as f:
            f.write(numpy_helper.from_array(a, name).SerializeToString())
        paths.append(p)
    return case, paths


def _model(graph, opset=17):
    from onnx import helper
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="dycl-split-tests")
    m.ir_version = 8
    return m


def edge_dup_names(folder):
    import numpy as np
    from onnx import helper, TensorProto as T
    then_g = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["t"]), helper.make_node("Mul", ["t", "x"], ["y_then"])],
        "then", [], [helper.make_tensor_value_info("y_then", T.FLOAT, [2, 3])])
    else_g = helper.make_graph(
        [helper.make_node("Sub", ["x", "w"], ["t"]), helper.make_node("Neg", ["t"], ["y_else"])],
        "else", [], [helper.make_tensor_value_info("y_else", T.FLOAT, [2, 3])])
    nodes = [
        helper.make_node("Relu", ["x"], ["w"]),
        helper.make_node("If", ["c"], ["r"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Identity", ["x"], ["a"]),
        helper.make_node("Constant", [], ["k"], value=helper.make_tensor("kv", T.INT64, [2], [5, 7])),
        helper.make_node("Constant", [], ["s"], value_strings=["split", "me"]),
    ]
    g = helper.make_graph(nodes, "edge_dup_names",
                          [helper.make_tensor_value_info("c", T.BOOL, []),
                           helper.make_tensor_value_info("x", T.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("r", T.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("a", T.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("k", T.INT64, [2]),
                           helper.make_tensor_value_info("s", T.STRING, [2])])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(_model(g).SerializeToString())
    x = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
    cases = [_save_inputs(folder, c, [("c", np.array(v)), ("x", x)]) for c, v in (("then", True), ("else", False))]
    return path, cases


def edge_shadow(folder):
    import numpy as np
    from onnx import helper, TensorProto as T
    then_g = helper.make_graph(
        [helper.make_node("Abs", ["x"], ["q"]), helper.make_node("Add", ["q", "q2"], ["y_then"])],
        "then", [], [helper.make_tensor_value_info("y_then", T.FLOAT, ["n"])])
    else_g = helper.make_graph(
        [helper.make_node("Mul", ["q2", "x"], ["y_else"])],
        "else", [], [helper.make_tensor_value_info("y_else", T.FLOAT, ["n"])])
    nodes = [
        helper.make_node("Neg", ["x"], ["q"]),
        helper.make_node("Identity", ["q"], ["q2"]),
        helper.make_node("ReduceSum", ["x"], ["sum"], keepdims=0),
        helper.make_node("Greater", ["sum", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["r"], then_branch=then_g, else_branch=else_g),
    ]
    g = helper.make_graph(nodes, "edge_shadow", [helper.make_tensor_value_info("x", T.FLOAT, ["n"])],
                          [helper.make_tensor_value_info("r", T.FLOAT, ["n"])],
                          initializer=[helper.make_tensor("zero", T.FLOAT, [], [0.0])])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(_model(g).SerializeToString())
    cases = [_save_inputs(folder, "positive", [("x", np.array([1, 2, -0.5], np.float32))]),
             _save_inputs(folder, "negative", [("x", np.array([-1, 2, -3.5, 0], np.float32))])]
    return path, cases


def edge_loop(folder):
    import numpy as np
    from onnx import helper, TensorProto as T
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "w"], ["v_out"]),
         helper.make_node("Identity", ["v_in"], ["v_scan"])],
        "body",
        [helper.make_tensor_value_info("i", T.INT64, []),
         helper.make_tensor_value_info("cond_in", T.BOOL, []),
         helper.make_tensor_value_info("v_in", T.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", T.BOOL, []),
         helper.make_tensor_value_info("v_out", T.FLOAT, [2]),
         helper.make_tensor_value_info("v_scan", T.FLOAT, [2])])
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["w"]),
        helper.make_node("Loop", ["m", ""], ["v_final", "v_all"], body=body),
    ]
    g = helper.make_graph(nodes, "edge_loop",
                          [helper.make_tensor_value_info("m", T.INT64, []),
                           helper.make_tensor_value_info("x", T.FLOAT, [2])],
                          [helper.make_tensor_value_info("v_final", T.FLOAT, [2]),
                           helper.make_tensor_value_info("v_all", T.FLOAT, [None, 2])])
    # the carried value's initial value: x itself
    g.node[1].input.append("x")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(_model(g).SerializeToString())
    x = np.array([0.5, -2], np.float32)
    cases = [_save_inputs(folder, f"trip{n}", [("m", np.array(n, np.int64)), ("x", x)]) for n in (0, 3)]
    return path, cases


def generate(folder):
    out = []
    for fn in (edge_dup_names, edge_shadow, edge_loop):
        name = fn.__name__
        path, cases = fn(os.path.join(folder, name))
        out.append((name, path, cases))
    return out
