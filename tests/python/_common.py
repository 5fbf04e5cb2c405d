"""Shared setup of the Python package tests (tests/python/test_*.py).

CTest (tests/python/python.cmake) runs each test module with
  DYCL_LIBRARY       the build folder's libdycl.so (the library under test)
  DYCL_CLI           the build folder's dycl tool (some tests compare the package with it)
  DYCL_TEST_WORK     a scratch folder in the build folder
  DYCL_TEST_SANITIZE 1 in the AddressSanitizer build (LD_PRELOAD holds the ASan runtime)
Run by hand, from the repository root:
  DYCL_LIBRARY=build/libdycl.so DYCL_CLI=build/dycl /usr/bin/python3 -m unittest discover -s tests/python -v
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON_DIR = os.path.join(ROOT, "python")
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import dycl  # noqa: E402

DEMO = os.path.join(ROOT, "models", "demo", "early_exit.onnx")
DEMO_INPUTS = os.path.join(ROOT, "models", "demo", "inputs")
DEMO_CASES = ["easy", "medium", "hard"]  # exits 1, 2, 3 (models/demo/export_demo.py)
SANITIZE = os.environ.get("DYCL_TEST_SANITIZE") == "1"


def cli():
    """The dycl tool of the same build, or None."""
    p = os.environ.get("DYCL_CLI") or os.path.join(ROOT, "build", "dycl")
    return p if os.path.isfile(p) else None


def run_cli(*args, check=True):
    p = subprocess.run([cli(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if check and p.returncode != 0:
        raise AssertionError(f"dycl {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()}")
    return p


def work_dir(name):
    """A fresh scratch folder (under DYCL_TEST_WORK when set)."""
    base = os.environ.get("DYCL_TEST_WORK")
    if base:
        os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"{name}-", dir=base)


def demo_input(case):
    from onnx import numpy_helper
    return numpy_helper.to_array(onnx.load_tensor(os.path.join(DEMO_INPUTS, f"{case}.pb")))


def save_model(graph, path, opset=17):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="dycl-python-tests")
    onnx.save(m, path)
    return path


def tensor_vi(name, elem, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def seq_vi(name, elem):
    return helper.make_tensor_sequence_value_info(name, elem, None)


def opt_vi(name, elem):
    t = helper.make_optional_type_proto(helper.make_tensor_type_proto(elem, None))
    return helper.make_value_info(name, t)


def identity_model(path, type_proto_vi_in, type_proto_vi_out):
    g = helper.make_graph([helper.make_node("Identity", [type_proto_vi_in.name], [type_proto_vi_out.name], name="id")],
                          "identity", [type_proto_vi_in], [type_proto_vi_out])
    return save_model(g, path, opset=16)


def loop_model(path):
    """y = x * 2 repeated n times (a Loop with an int64 trip count input)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond_id"),
         helper.make_node("Add", ["acc_in", "acc_in"], ["acc_out"], name="double")],
        "body", [tensor_vi("i", TensorProto.INT64, []), tensor_vi("cond_in", TensorProto.BOOL, []),
                 tensor_vi("acc_in", TensorProto.FLOAT, None)],
        [tensor_vi("cond_out", TensorProto.BOOL, []), tensor_vi("acc_out", TensorProto.FLOAT, None)])
    g = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "x"], ["y"], name="the_loop", body=body)], "loop",
        [tensor_vi("n", TensorProto.INT64, []), tensor_vi("x", TensorProto.FLOAT, [3])],
        [tensor_vi("y", TensorProto.FLOAT, [3])])
    return save_model(g, path)


__all__ = ["HERE", "ROOT", "PYTHON_DIR", "DEMO", "DEMO_INPUTS", "DEMO_CASES", "SANITIZE", "np", "onnx", "dycl",
           "TensorProto", "helper", "cli", "run_cli", "work_dir", "demo_input", "save_model", "tensor_vi", "seq_vi",
           "opt_vi", "identity_model", "loop_model"]
