"""Errors become dycl.Error subclasses carrying dycl's message; finding libdycl.so; the binding matches dycl.h."""

import ctypes
import os
import re
import shutil
import subprocess
import sys
import unittest

from _common import (DEMO, PYTHON_DIR, ROOT, TensorProto, dycl, helper, loop_model, np, run_cli, save_model,
                     tensor_vi, work_dir)

HEADER = os.path.join(ROOT, "include", "dycl", "dycl.h")


def cli_message(*args):
    """The message of `dycl ARGS` (exit status 1, one line `dycl: error: MESSAGE`)."""
    p = run_cli(*args, check=False)
    err = p.stderr.decode().strip().splitlines()
    assert p.returncode == 1 and len(err) == 1 and err[0].startswith("dycl: error: "), (p.returncode, err)
    return err[0][len("dycl: error: "):]


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = work_dir("errors")
        d = cls.dir
        cls.garbage = os.path.join(d, "garbage.onnx")
        with open(cls.garbage, "wb") as f:
            f.write(b"\x12\x34 this is not a protobuf \xff\xff")
        x, y = tensor_vi("x", TensorProto.FLOAT, [2, 3]), tensor_vi("y", TensorProto.FLOAT, None)
        cls.unknown_op = save_model(helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], name="frob")], "g", [x], [y]),
                                    os.path.join(d, "frob.onnx"))
        cls.opset18 = save_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g", [x], [y]),
                                 os.path.join(d, "op18.onnx"), opset=18)
        cls.reshape = save_model(helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")], "g",
                                                   [x, tensor_vi("s", TensorProto.INT64, [2])], [y]),
                                 os.path.join(d, "reshape.onnx"))
        cls.loop = loop_model(os.path.join(d, "loop.onnx"))
        np.save(os.path.join(d, "x.npy"), np.ones((2, 3), np.float32))
        np.save(os.path.join(d, "s.npy"), np.array([4, 4], np.int64))
        np.save(os.path.join(d, "n.npy"), np.array(5, np.int64))
        np.save(os.path.join(d, "x3.npy"), np.ones(3, np.float32))
        np.save(os.path.join(d, "x22.npy"), np.ones((2, 2), np.float32))

    def check(self, exc_type, code, call, cli_args):
        with self.assertRaises(exc_type) as cm:
            call()
        e = cm.exception
        self.assertIsInstance(e, dycl.Error)
        self.assertEqual(e.code, code)
        self.assertEqual(e.message, str(e))
        self.assertEqual(e.message, cli_message(*cli_args))  # the same one-line message as the tool's
        return e

    def test_load_errors(self):
        missing = os.path.join(self.dir, "missing.onnx")
        self.check(dycl.DyclIOError, 4, lambda: dycl.load(missing), ["inspect", missing])
        self.check(dycl.InvalidModelError, 1, lambda: dycl.load(self.garbage), ["inspect", self.garbage])
        e = self.check(dycl.UnsupportedError, 3, lambda: dycl.load(self.unknown_op), ["inspect", self.unknown_op])
        self.assertIn("frob", e.message)
        self.check(dycl.UnsupportedError, 3, lambda: dycl.load(self.opset18), ["inspect", self.opset18])

    def test_run_errors(self):
        d = self.dir
        with dycl.load(self.reshape, backend="ref") as m:
            self.check(dycl.DyclRuntimeError, 7, lambda: m.run(np.ones((2, 3), np.float32), np.array([4, 4], np.int64)),
                       ["run", "--backend", "ref", self.reshape, os.path.join(d, "x.npy"), os.path.join(d, "s.npy")])
            self.check(dycl.InvalidInputError, 2, lambda: m.run(np.ones((2, 2), np.float32), np.array([4, 1], np.int64)),
                       ["run", "--backend", "ref", self.reshape, os.path.join(d, "x22.npy"), os.path.join(d, "s.npy")])
            (y,) = m.run(np.arange(6, dtype=np.float32).reshape(2, 3), np.array([3, 2], np.int64))  # still usable
            self.assertEqual(y.shape, (3, 2))
        with dycl.load(self.loop, backend="ref", max_iterations=4) as m:
            self.check(dycl.LimitError, 6, lambda: m.run(np.array(5, np.int64), np.ones(3, np.float32)),
                       ["run", "--backend", "ref", "--max-iterations", "4", self.loop, os.path.join(d, "n.npy"),
                        os.path.join(d, "x3.npy")])

    def test_bad_options(self):
        with self.assertRaises(dycl.InvalidInputError):
            dycl.load(DEMO, max_iterations=-1)
        with self.assertRaises(dycl.InvalidInputError):
            dycl.load(DEMO, deadline_seconds=-2.0)
        with self.assertRaises(dycl.Error) as cm:
            dycl.load(DEMO, backend="gpu")
        self.assertIn("gpu", str(cm.exception))

    def test_error_classes(self):
        classes = [dycl.InvalidModelError, dycl.InvalidInputError, dycl.UnsupportedError, dycl.DyclIOError,
                   dycl.NoMemoryError, dycl.LimitError, dycl.DyclRuntimeError, dycl.InternalError]
        L = dycl._lib.lib()
        for cls in classes:
            self.assertTrue(issubclass(cls, dycl.Error))
            self.assertNotIn(L.dycl_code_name(cls.code).decode(), ("ok", "unknown"))
        for cls in (dycl.LibraryError, dycl.ExportError, dycl.MismatchError):
            self.assertTrue(issubclass(cls, dycl.Error))
        self.assertTrue(issubclass(dycl.MismatchError, dycl.ExportError))


def child(code, env_extra, cwd=None):
    """Runs python code in a fresh interpreter; returns (exit status, stdout, stderr)."""
    env = dict(os.environ)
    env.pop("DYCL_LIBRARY", None)
    env.pop("PYTHONPATH", None)
    env.update(env_extra)
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                       check=False)
    return p.returncode, p.stdout.decode().strip(), p.stderr.decode().strip()


PROBE = "import dycl, sys; print(dycl.library_path()); m = dycl.load(sys.argv[0] if len(sys.argv) > 1 else %r); print(m.input_names)" % DEMO


class LibraryLookup(unittest.TestCase):
    """The order documented in python/dycl/__init__.py: DYCL_LIBRARY, installed layout, source tree, find_library."""

    @classmethod
    def setUpClass(cls):
        cls.lib = os.path.realpath(os.environ.get("DYCL_LIBRARY") or os.path.join(ROOT, "build", "libdycl.so"))
        cls.dir = work_dir("lookup")

    def test_env_variable(self):
        rc, out, err = child(PROBE, {"DYCL_LIBRARY": self.lib, "PYTHONPATH": PYTHON_DIR})
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), [self.lib, "['image']"])

    def test_env_variable_that_does_not_load(self):
        rc, out, err = child(PROBE, {"DYCL_LIBRARY": os.path.join(self.dir, "nothing.so"), "PYTHONPATH": PYTHON_DIR})
        self.assertNotEqual(rc, 0)
        self.assertIn("dycl.errors.LibraryError: cannot load DYCL_LIBRARY=", err)
        rc, out, err = child(PROBE, {"DYCL_LIBRARY": "libm.so.6", "PYTHONPATH": PYTHON_DIR})  # a library, not libdycl
        self.assertNotEqual(rc, 0)
        self.assertIn("'libm.so.6' is not libdycl", err)

    def test_installed_layout(self):
        prefix = os.path.join(self.dir, "prefix")
        pkg = os.path.join(prefix, "lib", "python3", "dist-packages")
        shutil.copytree(os.path.join(PYTHON_DIR, "dycl"), os.path.join(pkg, "dycl"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.symlink(self.lib, os.path.join(prefix, "lib", "libdycl.so"))
        rc, out, err = child(PROBE, {"PYTHONPATH": pkg}, cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), [os.path.join(prefix, "lib", "libdycl.so"), "['image']"])

    def test_source_tree(self):
        tree = os.path.join(self.dir, "tree")
        shutil.copytree(os.path.join(PYTHON_DIR, "dycl"), os.path.join(tree, "python", "dycl"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.makedirs(os.path.join(tree, "build"))
        os.symlink(self.lib, os.path.join(tree, "build", "libdycl.so"))
        rc, out, err = child(PROBE, {"PYTHONPATH": os.path.join(tree, "python")}, cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), [os.path.join(tree, "build", "libdycl.so"), "['image']"])

    def test_order(self):
        """DYCL_LIBRARY before the installed layout before the source tree's build/."""
        prefix = os.path.join(self.dir, "order")
        pkg = os.path.join(prefix, "lib", "python3", "dist-packages")
        shutil.copytree(os.path.join(PYTHON_DIR, "dycl"), os.path.join(pkg, "dycl"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        installed = os.path.join(prefix, "lib", "libdycl.so")
        in_tree = os.path.join(prefix, "lib", "python3", "build", "libdycl.so")  # <package>/../../build
        explicit = os.path.join(self.dir, "explicit", "libdycl.so")
        for p in (installed, in_tree, explicit):
            os.makedirs(os.path.dirname(p), exist_ok=True)
            os.symlink(self.lib, p)
        for env, want in (({"DYCL_LIBRARY": explicit}, explicit), ({}, installed)):
            rc, out, err = child(PROBE, dict(env, PYTHONPATH=pkg), cwd=self.dir)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.splitlines()[0], want)
        os.remove(installed)
        rc, out, err = child(PROBE, {"PYTHONPATH": pkg}, cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[0], in_tree)

    def test_nothing_found(self):
        lone = os.path.join(self.dir, "lone", "a", "b")
        shutil.copytree(os.path.join(PYTHON_DIR, "dycl"), os.path.join(lone, "dycl"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        code = ("import ctypes.util; ctypes.util.find_library = lambda name: None\n"
                "import dycl\ntry:\n    dycl.load(%r)\nexcept dycl.LibraryError as e:\n    print(e)\n" % DEMO)
        rc, out, err = child(code, {"PYTHONPATH": lone}, cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("libdycl.so not found; set DYCL_LIBRARY", out)
        self.assertIn("installed:", out)
        self.assertIn("source tree:", out)


# ------------------------------------------------------------------------------------------------
# the ctypes binding against include/dycl/dycl.h

C_TYPES = {"const dycl_allocator_t*": ctypes.c_void_p, "const char*": ctypes.c_char_p, "int": ctypes.c_int,
           "uint64_t": ctypes.c_uint64, "int64_t": ctypes.c_int64, "double": ctypes.c_double, "void*": ctypes.c_void_p}


def header():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def struct_fields(text, name):
    m = re.search(r"typedef struct %s \{(.*?)\}" % name, text, re.S)
    assert m, name
    fields = []
    for decl in m.group(1).split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        fm = re.fullmatch(r"(.*?)\s*\(\*(\w+)\)\(.*\)", decl)
        if fm:
            fields.append(("fnptr", fm.group(2)))
            continue
        ty, fname = decl.rsplit(" ", 1)
        while fname.startswith("*"):
            ty, fname = ty + "*", fname[1:]
        fields.append((ty.replace(" *", "*"), fname))
    return fields


class Binding(unittest.TestCase):
    def test_structs_match_the_header(self):
        from dycl import _lib
        text = header()
        for cname, cls in (("dycl_options", _lib.Options), ("dycl_compile_options", _lib.CompileOptions),
                           ("dycl_run_stats", _lib.RunStatsC), ("dycl_allocator", _lib.Allocator)):
            with self.subTest(struct=cname):
                fields = struct_fields(text, cname)
                self.assertEqual([n for _, n in fields], [n for n, _ in cls._fields_])
                for (cty, n), (_, pyty) in zip(fields, cls._fields_):
                    if cty != "fnptr":
                        self.assertEqual(ctypes.sizeof(C_TYPES[cty]), ctypes.sizeof(pyty), n)

    def test_functions_and_enums_match_the_header(self):
        from dycl import _export, _lib, _values
        text = header()
        declared = set(re.findall(r"\b(dycl_\w+)\s*\(", text))
        self.assertEqual(sorted(set(_lib._PROTOS) - declared), [])
        L = _lib.lib()
        for name in _lib._PROTOS:
            self.assertTrue(hasattr(L, name), name)
        codes = dict(re.findall(r"DYCL_CODE_(\w+) = (\d+)", text))
        self.assertEqual({c.code_name: c.code for c in (dycl.InvalidModelError, dycl.InvalidInputError,
                                                          dycl.UnsupportedError, dycl.DyclIOError, dycl.NoMemoryError,
                                                          dycl.LimitError, dycl.DyclRuntimeError, dycl.InternalError)},
                         {k: int(v) for k, v in codes.items() if k != "OK"})
        dtypes = {int(v): k for k, v in re.findall(r"DYCL_DTYPE_(\w+) = (\d+)", text)}
        for code, npdt in _values._TO_NUMPY.items():
            self.assertIn(code, dtypes)
            self.assertEqual(L.dycl_dtype_size(code), np.dtype(npdt).itemsize, dtypes[code])
        self.assertEqual(set(dtypes) - set(_values._TO_NUMPY), {0, _values.STRING, _values.BFLOAT16})
        self.assertEqual(int(re.search(r"#define DYCL_MAX_OPSET (\d+)", text).group(1)), _export.MAX_OPSET)


if __name__ == "__main__":
    unittest.main()
