#!/usr/bin/python3
"""Write hostile models and input files for the bad-input tests.

Usage: /usr/bin/python3 tests/bad_inputs/make_cases.py [OUTDIR]   (default build/bad_inputs)

Every case is a named command line for the dycl tool together with what must happen: the exit
status, and for exit status 1 the keywords of which (case-insensitively) at least one must appear
in the one `dycl: error: ...` line. build_cases() returns the cases; main() also writes them to
OUTDIR/cases.json. Models are built with onnx.helper and serialized directly (never passed to
onnx.checker, which would reject most of them); deterministic (no unseeded randomness).
"""

import json
import os
import random
import shutil
import sys

PARSE_WORDS = ["parse", "malformed", "truncated", "corrupt", "invalid", "decode", "protobuf",
               "unpack"]
OPEN_WORDS = ["no such file", "cannot open", "can't open", "could not open", "not found",
              "does not exist", "cannot read", "could not read"]
ESCAPE_WORDS = ["outside", "escape", "not allowed", "refus", "forbidden", "symlink", "symbolic link",
                "must stay", "must be inside", "not inside", "not within", "absolute"]


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field, payload):
    """A length-delimited protobuf field."""
    return _varint((field << 3) | 2) + _varint(len(payload)) + payload


def _vint(field, value):
    return _varint(field << 3) + _varint(value)


def build_cases(outdir):
    import numpy as np
    import onnx
    from onnx import helper as h, numpy_helper, TensorProto as T

    outdir = os.path.abspath(outdir)
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    os.makedirs(outdir)
    cases = []

    def path(*parts):
        p = os.path.join(outdir, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def write(rel, data):
        p = path(rel)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def model_bytes(nodes, inputs, outputs, inits=(), opset=17, domain_opsets=None):
        g = h.make_graph(list(nodes), "g", list(inputs), list(outputs), initializer=list(inits))
        ops = [h.make_opsetid("", opset)]
        for dom, ver in (domain_opsets or {}).items():
            ops.append(h.make_opsetid(dom, ver))
        m = h.make_model(g, opset_imports=ops, producer_name="dycl-bad-inputs")
        m.ir_version = 8
        return m.SerializeToString()

    def tensor_file(rel, arr, name="x"):
        return write(rel, numpy_helper.from_array(np.asarray(arr), name).SerializeToString())

    def case(name, argv, exit=1, keywords=None, note=""):
        cases.append({"name": name, "argv": list(argv), "exit": exit,
                      "keywords": list(keywords or []), "note": note})

    def model_case(name, model_path, inputs, keywords, note="", inspect=True):
        case(name, ["run", model_path] + list(inputs), 1, keywords, note)
        if inspect:
            case(name + ".inspect", ["inspect", model_path], 1, keywords, note)

    # A valid model used as a base: Z = Add(X, Y), X, Y float [2, 3], plus an initializer so
    # that the file is not tiny.
    X = h.make_tensor_value_info("X", T.FLOAT, [2, 3])
    Y = h.make_tensor_value_info("Y", T.FLOAT, [2, 3])
    Z = h.make_tensor_value_info("Z", T.FLOAT, [2, 3])
    W = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "W")
    good = model_bytes([h.make_node("Add", ["X", "Y"], ["Z"], name="add0")], [X, Y], [Z], [W])
    good_model = write("good/model.onnx", good)
    x_ok = tensor_file("good/x.pb", np.ones((2, 3), np.float32), "X")
    y_ok = tensor_file("good/y.pb", np.ones((2, 3), np.float32), "Y")

    # ---------------------------------------------------------------- unreadable model files
    model_case("truncated_model", write("truncated/model.onnx", good[: len(good) // 2]),
               [x_ok, y_ok], PARSE_WORDS, "the first half of a valid model")
    rnd = random.Random(1234)
    # 0x07: field 0 with wire type 7, which no protobuf parser accepts, then random bytes
    junk = b"\x07" + bytes(rnd.getrandbits(8) for _ in range(4095))
    model_case("random_bytes_model", write("random/model.onnx", junk), [x_ok, y_ok], PARSE_WORDS)
    model_case("empty_model_file", write("empty/model.onnx", b""), [x_ok, y_ok],
               ["empty", "no graph", "has no graph", "missing graph", "graph is missing"]
               + PARSE_WORDS)
    missing = path("missing/does_not_exist.onnx")
    model_case("missing_model_file", missing, [x_ok, y_ok], OPEN_WORDS + ["does_not_exist.onnx"])

    # ---------------------------------------------------------------- broken graphs
    A = h.make_tensor_value_info("A", T.FLOAT, [2])
    model_case("graph_cycle", write("cycle/model.onnx", model_bytes(
        [h.make_node("Relu", ["c"], ["b"], name="n1"), h.make_node("Relu", ["b"], ["c"], name="n2")],
        [A], [h.make_tensor_value_info("c", T.FLOAT, [2])])),
        [tensor_file("cycle/a.pb", np.ones(2, np.float32), "A")],
        ["cycle", "cyclic", "topolog", "undefined", "not defined", "before it is defined",
         "unknown value"],
        "n1 uses c, which n2 computes from n1's output (ONNX requires topological order, so "
        "'undefined value' is a fair message too)")
    model_case("undefined_value", write("undefined/model.onnx", model_bytes(
        [h.make_node("Add", ["A", "ghost_value"], ["B"], name="add_ghost")],
        [A], [h.make_tensor_value_info("B", T.FLOAT, [2])])),
        [tensor_file("undefined/a.pb", np.ones(2, np.float32), "A")],
        ["ghost_value", "undefined", "not defined", "unknown value"])
    model_case("unknown_op", write("unknown_op/model.onnx", model_bytes(
        [h.make_node("FrobnicateTensor", ["A"], ["B"], name="frob")],
        [A], [h.make_tensor_value_info("B", T.FLOAT, [2])])),
        [tensor_file("unknown_op/a.pb", np.ones(2, np.float32), "A")],
        ["FrobnicateTensor", "unknown op", "unsupported op"])
    model_case("future_opset", write("future_opset/model.onnx", model_bytes(
        [h.make_node("Relu", ["A"], ["B"], name="relu")],
        [A], [h.make_tensor_value_info("B", T.FLOAT, [2])], opset=99)),
        [tensor_file("future_opset/a.pb", np.ones(2, np.float32), "A")],
        ["opset", "99", "operator set"])

    # ---------------------------------------------------------------- bad inputs to a good model
    case("input_wrong_rank", ["run", good_model, tensor_file("inputs/x_rank1.pb",
                                                              np.ones(6, np.float32), "X"), y_ok],
         1, ["rank", "shape", "dimension"], "X is float [2,3], the file holds float [6]")
    case("input_wrong_dtype", ["run", good_model, tensor_file("inputs/x_int64.pb",
                                                               np.ones((2, 3), np.int64), "X"), y_ok],
         1, ["type", "int64", "float"], "X is float, the file holds int64")
    # a sequence input whose items have the wrong element type
    seq_model = write("seq_input/model.onnx", model_bytes(
        [h.make_node("SequenceLength", ["S"], ["L"], name="len")],
        [h.make_tensor_sequence_value_info("S", T.FLOAT, None)],
        [h.make_tensor_value_info("L", T.INT64, [])]))
    seq_bad = path("seq_input/s_int32.pb")
    with open(seq_bad, "wb") as f:
        f.write(h.make_sequence("S", onnx.SequenceProto.TENSOR,
                                [numpy_helper.from_array(np.ones(3, np.int32))]).SerializeToString())
    case("input_sequence_item_dtype", ["run", seq_model, seq_bad], 1, ["int32", "float32", "sequence"],
         "S is a sequence of float tensors, the file's item is int32")
    case("input_missing", ["run", good_model, x_ok], 1,
         ["missing", "too few", "expect", "number of inputs", "2 input", "got 1", "needs 2",
          "requires 2"], "the model has two inputs, one file is given")
    case("input_too_many", ["run", good_model, x_ok, y_ok, y_ok], 1,
         ["too many", "expect", "number of inputs", "2 input", "got 3", "takes 2", "extra"],
         "the model has two inputs, three files are given")
    case("input_file_missing", ["run", good_model, path("inputs/no_such_input.pb"), y_ok], 1,
         OPEN_WORDS + ["no_such_input.pb"])
    indir = path("inputs/a_directory.pb")
    os.makedirs(indir, exist_ok=True)
    case("input_is_directory", ["run", good_model, indir, y_ok], 1,
         ["directory", "not a regular file", "not a file", "cannot read", "could not read"]
         + PARSE_WORDS)
    case("input_garbage_pb", ["run", good_model, write("inputs/garbage.pb",
                                                       b"\xff" * 32 + b"not a tensor" + junk[:200]),
                              y_ok], 1, PARSE_WORDS + ["tensorproto"])
    case("input_garbage_npy", ["run", good_model, write("inputs/garbage.npy",
                                                        b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz"),
                               y_ok], 1, PARSE_WORDS + ["npy", "header"])

    # ---------------------------------------------------------------- broken initializers
    short = T()
    short.name = "W"
    short.data_type = T.FLOAT
    short.dims.extend([1000])
    short.raw_data = b"\0" * 12
    Wv = h.make_tensor_value_info("W2", T.FLOAT, [1000])
    model_case("initializer_short_raw_data", write("short_raw/model.onnx", model_bytes(
        [h.make_node("Identity", ["W"], ["W2"], name="id")], [], [Wv], [short])), [],
        ["raw_data", "bytes", "size", "short", "length", "expected 4000", "4000"],
        "dims [1000] float need 4000 bytes, raw_data has 12")
    neg = T()
    neg.name = "W"
    neg.data_type = T.FLOAT
    neg.dims.extend([-5, 2])
    neg.float_data.extend([0.0] * 10)
    model_case("initializer_negative_dims", write("negative_dims/model.onnx", model_bytes(
        [h.make_node("Identity", ["W"], ["W2"], name="id")], [],
        [h.make_tensor_value_info("W2", T.FLOAT, None)], [neg])), [],
        ["negative", "-5", "invalid dim", "dimension"])

    # ---------------------------------------------------------------- broken control flow
    cond_vi = h.make_tensor_value_info("cond", T.BOOL, [])
    cond_true = tensor_file("control/cond_true.pb", np.array(True), "cond")

    def const_graph(name, out, dtype, value):
        return h.make_graph(
            [h.make_node("Constant", [], [out], name=name + "_c",
                         value=h.make_tensor(name + "_v", dtype, [1], [value]))],
            name, [], [h.make_tensor_value_info(out, dtype, [1])])

    model_case("if_branch_types_differ", write("if_types/model.onnx", model_bytes(
        [h.make_node("If", ["cond"], ["R"], name="the_if",
                     then_branch=const_graph("then_g", "t_out", T.FLOAT, 1.0),
                     else_branch=const_graph("else_g", "e_out", T.INT64, 1))],
        [cond_vi], [h.make_tensor_value_info("R", T.FLOAT, [1])])), [cond_true],
        ["branch", "differ", "mismatch", "then", "else"],
        "then_branch yields float, else_branch int64")

    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"], name="b_id0"),
         h.make_node("Identity", ["x_in"], ["x_out"], name="b_id1")],
        "body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_value_info("x_in", T.FLOAT, [1])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []),
         h.make_tensor_value_info("x_out", T.FLOAT, [1])])
    model_case("loop_float_trip_count", write("loop_float_M/model.onnx", model_bytes(
        [h.make_node("Loop", ["M", "", "X0"], ["XF"], name="the_loop", body=body)],
        [h.make_tensor_value_info("X0", T.FLOAT, [1])],
        [h.make_tensor_value_info("XF", T.FLOAT, [1])],
        [numpy_helper.from_array(np.array(3.0, np.float32), "M")])),
        [tensor_file("loop_float_M/x0.pb", np.ones(1, np.float32), "X0")],
        ["trip", "int64", "float", "type"], "M is a float32 initializer; ONNX requires int64")

    # ---------------------------------------------------------------- external data escapes
    decoy = write("ext/etc/passwd", b"root:x:0:0:decoy, outside the model's folder\n" * 100)

    def ext_model(rel, location):
        t = T()
        t.name = "W"
        t.data_type = T.FLOAT
        t.dims.extend([4])
        t.data_location = T.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", location
        e = t.external_data.add()
        e.key, e.value = "length", "16"
        return write(rel, model_bytes([h.make_node("Identity", ["W"], ["W2"], name="id")], [],
                                      [h.make_tensor_value_info("W2", T.FLOAT, [4])], [t]))

    # ext/m/sub/model.onnx -> ../../etc/passwd is ext/etc/passwd: it exists, so only a
    # containment check can refuse it ("no such file" would not prove anything).
    model_case("external_data_dotdot", ext_model("ext/m/sub/model.onnx", "../../etc/passwd"), [],
               ESCAPE_WORDS, f"location ../../etc/passwd resolves to {decoy}")
    model_case("external_data_absolute", ext_model("ext/abs/model.onnx", decoy), [],
               ESCAPE_WORDS, "location is an absolute path")
    link_model = ext_model("ext/link/model.onnx", "weights.bin")
    os.symlink(decoy, path("ext/link/weights.bin"))
    model_case("external_data_symlink_out", link_model, [], ESCAPE_WORDS,
               "weights.bin is a symlink inside the folder pointing outside it")

    # ---------------------------------------------------------------- resource limits
    depth = 1000
    leaf = const_graph("leaf", "o", T.FLOAT, 1.0).SerializeToString()
    g = leaf
    for i in range(depth):
        node = h.make_node("If", ["cond"], [f"o{i}"], name=f"if{i}",
                           else_branch=const_graph(f"else{i}", f"e{i}", T.FLOAT, 2.0))
        attr = _ld(1, b"then_branch") + _vint(20, onnx.AttributeProto.GRAPH) + _ld(6, g)
        node_b = node.SerializeToString() + _ld(5, attr)
        vi = h.make_tensor_value_info(f"o{i}", T.FLOAT, [1]).SerializeToString()
        g = _ld(1, node_b) + _ld(2, f"g{i}".encode()) + _ld(12, vi)
    g += _ld(11, cond_vi.SerializeToString())
    top = h.make_model(h.make_graph([], "x", [], []), opset_imports=[h.make_opsetid("", 17)])
    top.ir_version = 8
    top.ClearField("graph")
    model_case("nesting_1000_deep", write("deep/model.onnx", top.SerializeToString() + _ld(7, g)),
               [cond_true], ["nest"], f"If inside If, {depth} levels (default limit: 64)")

    shape = numpy_helper.from_array(np.array([10 ** 6] * 3, np.int64), "shape")
    case("constant_of_shape_petabytes", ["run", write("huge/model.onnx", model_bytes(
        [h.make_node("ConstantOfShape", ["shape"], ["Big"], name="cos")], [],
        [h.make_tensor_value_info("Big", T.FLOAT, None)], [shape]))],
        1, ["limit", "bytes", "too large"], "float [1e6, 1e6, 1e6]: 4e18 bytes")

    # ---------------------------------------------------------------- more hostile shapes
    huge = T()
    huge.name = "X"
    huge.data_type = T.FLOAT
    huge.dims.extend([2 ** 40, 2 ** 40])
    case("input_dims_overflow", ["run", good_model, write("inputs/huge_dims.pb",
                                                           huge.SerializeToString()), y_ok],
         1, ["overflow", "too large", "limit", "bytes", "size", "shape", "holds", "data"],
         "an input TensorProto with dims [2^40, 2^40] and no data")
    case("input_npy_short_data", ["run", good_model, write(
        "inputs/short.npy", b"\x93NUMPY\x01\x00" + (lambda hd: len(hd).to_bytes(2, "little") + hd)(
            b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".ljust(118) + b"\n")
        + b"\0" * 8), y_ok],
        1, ["truncated", "short", "bytes", "size", "data", "npy"],
        ".npy header says float32 (2, 3) (24 bytes), 8 bytes follow")
    rank9 = h.make_tensor_value_info("R", T.FLOAT, [1] * 9)
    model_case("rank_above_max", write("rank9/model.onnx", model_bytes(
        [h.make_node("Relu", ["R"], ["S"], name="relu9")], [rank9],
        [h.make_tensor_value_info("S", T.FLOAT, [1] * 9)])),
        [tensor_file("rank9/r.pb", np.ones([1] * 9, np.float32), "R")],
        ["rank", "dimensions", "9"], "rank 9 > DYCL_MAX_RANK (8)")
    model_case("duplicate_output_name", write("dup_output/model.onnx", model_bytes(
        [h.make_node("Relu", ["A"], ["B"], name="r1"), h.make_node("Neg", ["A"], ["B"], name="r2")],
        [A], [h.make_tensor_value_info("B", T.FLOAT, [2])])),
        [tensor_file("dup_output/a.pb", np.ones(2, np.float32), "A")],
        ["more than once", "twice", "duplicate", "already defined", "redefin", "defined again",
         "multiple"], "two nodes both produce 'B'")
    model_case("graph_output_not_produced", write("no_producer/model.onnx", model_bytes(
        [h.make_node("Relu", ["A"], ["B"], name="r1")], [A],
        [h.make_tensor_value_info("nowhere", T.FLOAT, [2])])),
        [tensor_file("no_producer/a.pb", np.ones(2, np.float32), "A")],
        ["nowhere", "undefined", "not defined", "not produced", "no producer"])
    model_case("too_many_op_inputs", write("arity/model.onnx", model_bytes(
        [h.make_node("Relu", ["A", "A", "A"], ["B"], name="relu3")], [A],
        [h.make_tensor_value_info("B", T.FLOAT, [2])])),
        [tensor_file("arity/a.pb", np.ones(2, np.float32), "A")],
        ["input", "arity", "expects", "takes", "at most"], "Relu given 3 inputs")
    model_case("if_without_else_branch", write("if_no_else/model.onnx", model_bytes(
        [h.make_node("If", ["cond"], ["R"], name="half_if",
                     then_branch=const_graph("then_g", "t_out", T.FLOAT, 1.0))],
        [cond_vi], [h.make_tensor_value_info("R", T.FLOAT, [1])])), [cond_true],
        ["else_branch", "attribute", "missing"])
    bad_body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"], name="b_id0")], "short_body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, [])],
        [h.make_tensor_value_info("cond_out", T.BOOL, [])])
    model_case("loop_body_arity", write("loop_arity/model.onnx", model_bytes(
        [h.make_node("Loop", ["M", "", "X0"], ["XF"], name="bad_loop", body=bad_body)],
        [h.make_tensor_value_info("X0", T.FLOAT, [1])],
        [h.make_tensor_value_info("XF", T.FLOAT, [1])],
        [numpy_helper.from_array(np.array(3, np.int64), "M")])),
        [tensor_file("loop_arity/x0.pb", np.ones(1, np.float32), "X0")],
        ["body", "input", "output", "carried"],
        "one loop-carried value, but the body takes and gives none")
    model_case("scan_too_many_scan_inputs", write("scan_n/model.onnx", model_bytes(
        [h.make_node("Scan", ["S0", "XS"], ["SF"], name="bad_scan", num_scan_inputs=5,
                     body=h.make_graph([h.make_node("Add", ["s", "x"], ["s2"], name="acc")],
                                       "scan_body",
                                       [h.make_tensor_value_info("s", T.FLOAT, [1]),
                                        h.make_tensor_value_info("x", T.FLOAT, [1])],
                                       [h.make_tensor_value_info("s2", T.FLOAT, [1])]))],
        [h.make_tensor_value_info("S0", T.FLOAT, [1]),
         h.make_tensor_value_info("XS", T.FLOAT, [3, 1])],
        [h.make_tensor_value_info("SF", T.FLOAT, [1])], opset=11)),
        [tensor_file("scan_n/s0.pb", np.zeros(1, np.float32), "S0"),
         tensor_file("scan_n/xs.pb", np.ones((3, 1), np.float32), "XS")],
        ["num_scan_inputs", "scan input", "input"], "num_scan_inputs=5 with 2 inputs")
    model_case("attribute_wrong_type", write("attr_type/model.onnx", model_bytes(
        [h.make_node("Transpose", ["A2"], ["B2"], name="tr", perm=[1.5, 0.5])],
        [h.make_tensor_value_info("A2", T.FLOAT, [2, 3])],
        [h.make_tensor_value_info("B2", T.FLOAT, [3, 2])])),
        [tensor_file("attr_type/a.pb", np.ones((2, 3), np.float32), "A2")],
        ["perm", "attribute"], "Transpose perm given as floats")
    str_init = T()
    str_init.name = "Sx"
    str_init.data_type = T.STRING
    str_init.dims.extend([3])
    str_init.string_data.extend([b"a"])
    model_case("string_initializer_count", write("str_init/model.onnx", model_bytes(
        [h.make_node("Identity", ["Sx"], ["Sy"], name="sid")], [],
        [h.make_tensor_value_info("Sy", T.STRING, [3])],
        [str_init])), [],
        ["initializer", "string", "values", "dims", "size", "holds"],
        "a STRING initializer with dims [3] and one string")

    # ---------------------------------------------------------------- usage errors
    case("usage_run_without_args", ["run"], 2, [], "exit status 2")
    case("usage_unknown_command", ["frobnicate"], 2, [], "exit status 2")
    case("usage_run_missing_o_arg", ["run", good_model, x_ok, y_ok, "-o"], 2, [],
         "-o without its folder")

    with open(os.path.join(outdir, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    return cases


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "build/bad_inputs"
    cases = build_cases(outdir)
    print(f"make_cases: wrote {len(cases)} cases into {os.path.abspath(outdir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
