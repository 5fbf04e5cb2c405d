"""NumPy <-> dycl values: every dtype, shapes, strings, sequences, optionals, and no leaks."""

import os
import unittest

from _common import TensorProto, dycl, onnx, helper, identity_model, np, opt_vi, save_model, seq_vi, tensor_vi, work_dir

NUMERIC = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
           np.uint32, np.uint64, np.bool_]
SHAPES = [(), (0,), (5,), (2, 3), (3, 0, 2), (1, 2, 1, 2, 1, 1, 2, 1)]


def sample(dtype, shape, seed):
    rng = np.random.RandomState(seed)
    if dtype == np.bool_:
        return np.asarray(rng.rand(*shape) > 0.5)
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.randint(max(info.min, -2**62), min(info.max, 2**62), size=shape, dtype=np.int64).astype(dtype) \
        if shape else np.array(info.max, dtype=dtype)


class Values(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = work_dir("values")
        cls.models = {}
        for dt in NUMERIC + [np.str_]:
            elem = onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dt)] if dt is not np.str_ else TensorProto.STRING
            path = os.path.join(cls.dir, f"id_{np.dtype(dt).name}.onnx")
            cls.models[dt] = dycl.load(identity_model(path, tensor_vi("x", elem, None), tensor_vi("y", elem, None)),
                                       backend="ref")

    @classmethod
    def tearDownClass(cls):
        for m in cls.models.values():
            m.close()

    def test_numeric_round_trip(self):
        for dt in NUMERIC:
            for k, shape in enumerate(SHAPES):
                with self.subTest(dtype=np.dtype(dt).name, shape=shape):
                    x = sample(dt, shape, k)
                    (y,) = self.models[dt].run(x)
                    self.assertEqual(y.dtype, np.dtype(dt))
                    self.assertEqual(y.shape, x.shape)
                    self.assertTrue(np.array_equal(y, x, equal_nan=dt not in (np.bool_,) and np.dtype(dt).kind == "f"))

    def test_non_native_layouts(self):
        m = self.models[np.float32]
        x = np.arange(24, dtype=np.float32).reshape(4, 6)
        for arr in (x[:, ::2], np.asfortranarray(x), x.astype(">f4"), x.T):
            with self.subTest(strides=arr.strides, dtype=str(arr.dtype)):
                (y,) = m.run(arr)
                self.assertEqual(y.dtype, np.float32)
                self.assertTrue(np.array_equal(y, arr))
                self.assertTrue(y.flags.c_contiguous and y.flags.writeable)

    def test_other_array_likes(self):
        import torch
        (y,) = self.models[np.float32].run(torch.arange(6, dtype=torch.float32).reshape(2, 3))
        self.assertTrue(np.array_equal(y, np.arange(6, dtype=np.float32).reshape(2, 3)))
        (y,) = self.models[np.int64].run([[1, 2], [3, 4]])
        self.assertEqual((y.dtype, y.tolist()), (np.dtype(np.int64), [[1, 2], [3, 4]]))
        (y,) = self.models[np.bool_].run(True)
        self.assertEqual((y.dtype, y.shape, bool(y)), (np.dtype(np.bool_), (), True))

    def test_strings(self):
        m = self.models[np.str_]
        for x in (np.array(["a", "", "héllo wörld", "x" * 1000]), np.array([["ab", "c"], ["", "d"]], dtype=object),
                  np.array("scalar"), np.array([], dtype=str), np.array([b"bytes", b"\xc3\xa9"], dtype=object)):
            with self.subTest(x=x):
                (y,) = m.run(x)
                self.assertEqual(y.dtype, np.dtype(object))
                self.assertEqual(y.shape, x.shape)
                want = [v.decode() if isinstance(v, bytes) else str(v) for v in x.reshape(-1)]
                self.assertEqual(list(y.reshape(-1)), want)

    def test_bfloat16_outputs_as_float32(self):
        g = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.BFLOAT16, name="to_bf16")], "bf16",
                              [tensor_vi("x", TensorProto.FLOAT, [4])], [tensor_vi("y", TensorProto.BFLOAT16, [4])])
        with dycl.load(save_model(g, os.path.join(self.dir, "bf16.onnx")), backend="ref") as m:
            x = np.array([1.0, 3.14159, -1e20, 2.0 ** -130], dtype=np.float32)
            (y,) = m.run(x)
        self.assertEqual(y.dtype, np.float32)
        # bfloat16 is float32 with the low 16 bits gone: exact for 1.0, within one bfloat16 ulp else
        self.assertTrue(np.all((y.view(np.uint32) & 0xFFFF) == 0))
        np.testing.assert_allclose(y, x, rtol=2.0 ** -8, atol=0)

    def test_bfloat16_inputs(self):
        x = np.array([1.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -0.0, np.inf, np.nan, 3.0e38], dtype=np.float32)
        b = dycl.BFloat16(x)
        # round to nearest, ties to even: 1 + 1/2 ulp -> 1, 1 + 3/2 ulp -> 1 + 2 ulp (ulp = 2^-7 at 1)
        want = np.array([1.0, 1.0, 1 + 2.0 ** -6, -0.0, np.inf, np.nan, 3.0e38], dtype=np.float32)
        np.testing.assert_allclose(b.to_float32(), want, rtol=2.0 ** -8)
        self.assertEqual(b.bits[0], 0x3F80)
        g = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT, name="from_bf16")], "bf16in",
                              [tensor_vi("x", TensorProto.BFLOAT16, [7])], [tensor_vi("y", TensorProto.FLOAT, [7])])
        with dycl.load(save_model(g, os.path.join(self.dir, "bf16in.onnx")), backend="ref") as m:
            (y,) = m.run(b)
            self.assertTrue(np.array_equal(y, b.to_float32(), equal_nan=True))
            (y,) = m.run(dycl.BFloat16.from_bits(b.bits))
            self.assertTrue(np.array_equal(y, b.to_float32(), equal_nan=True))

    def test_sequences(self):
        path = os.path.join(self.dir, "seq.onnx")
        g = helper.make_graph(
            [helper.make_node("Identity", ["s"], ["t"], name="id"),
             helper.make_node("SequenceLength", ["s"], ["n"], name="len")], "seq",
            [seq_vi("s", TensorProto.FLOAT)], [seq_vi("t", TensorProto.FLOAT), tensor_vi("n", TensorProto.INT64, [])])
        with dycl.load(save_model(g, path, opset=16), backend="ref") as m:
            self.assertEqual((m.input_kinds, m.output_kinds), (["sequence"], ["sequence", "tensor"]))
            for items in ([np.ones((2, 3), np.float32), np.arange(4, dtype=np.float32)],
                          [np.float32(7.5)], (np.zeros((0, 2), np.float32),)):
                with self.subTest(n=len(items)):
                    t, n = m.run(list(items))
                    self.assertIsInstance(t, list)
                    self.assertEqual(int(n), len(items))
                    for a, b in zip(items, t):
                        self.assertEqual((b.dtype, b.shape), (np.dtype(np.float32), np.shape(a)))
                        self.assertTrue(np.array_equal(a, b))
            with self.assertRaises(dycl.InvalidInputError) as cm:
                m.run(np.ones(3, np.float32))
            self.assertIn("input 's'", str(cm.exception))

    def test_optionals(self):
        path = os.path.join(self.dir, "opt.onnx")
        g = helper.make_graph(
            [helper.make_node("Identity", ["o"], ["p"], name="id"),
             helper.make_node("OptionalHasElement", ["o"], ["has"], name="has")], "opt",
            [opt_vi("o", TensorProto.FLOAT)], [opt_vi("p", TensorProto.FLOAT), tensor_vi("has", TensorProto.BOOL, [])])
        with dycl.load(save_model(g, path, opset=16), backend="ref") as m:
            self.assertEqual(m.input_kinds, ["optional"])
            p, has = m.run(None)
            self.assertIsNone(p)
            self.assertFalse(bool(has))
            x = np.arange(6, dtype=np.float32).reshape(3, 2)
            p, has = m.run(x)
            self.assertTrue(bool(has))
            self.assertTrue(np.array_equal(p, x))

    def test_bad_values(self):
        m = self.models[np.float32]
        cases = [(np.ones(2, np.complex64), "complex64"), (np.ones((1,) * 9, np.float32), "rank 9"),
                 (None, "got None"), (np.ones(2, np.int32), "input 'x'")]
        for x, words in cases:
            with self.subTest(words=words):
                with self.assertRaises(dycl.InvalidInputError) as cm:
                    m.run(x)
                self.assertIn(words, str(cm.exception))
                self.assertIn("input 'x'", str(cm.exception))
                self.assertEqual(cm.exception.code, 2)

    def test_no_leaks(self):
        """Every allocation dycl makes for a model goes through the model's allocator: after many runs
        (good and failing), the live blocks are what they were after the first run, and none after close()."""
        path = os.path.join(self.dir, "mix.onnx")
        g = helper.make_graph(
            [helper.make_node("SequenceLength", ["s"], ["n"], name="len"),
             helper.make_node("OptionalHasElement", ["o"], ["has"], name="has"),
             helper.make_node("Identity", ["t"], ["t2"], name="tid"),
             helper.make_node("Identity", ["s"], ["s2"], name="sid")], "mix",
            [seq_vi("s", TensorProto.FLOAT), opt_vi("o", TensorProto.FLOAT), tensor_vi("t", TensorProto.STRING, None)],
            [tensor_vi("n", TensorProto.INT64, []), tensor_vi("has", TensorProto.BOOL, []),
             tensor_vi("t2", TensorProto.STRING, None), seq_vi("s2", TensorProto.FLOAT)])
        m = dycl.load(save_model(g, path, opset=16), backend="ref", track_memory=True)
        args = ([np.ones((2, 2), np.float32)] * 3, None, np.array(["abc", "de"]))
        m.run(*args)
        base = m.memory()
        self.assertGreater(base["live_blocks"], 0)
        for i in range(200):
            n, has, t2, s2 = m.run([np.full((i % 5, 2), i, np.float32)] * (i % 4), np.ones(i % 3, np.float32) if i % 2 else None,
                                   np.array(["x" * (i % 7)] * (i % 3), dtype=str))
            self.assertEqual(int(n), i % 4)
            with self.assertRaises(dycl.InvalidInputError):
                m.run([np.ones(2, np.float32)], None, np.ones(2, np.float32))  # floats where strings are declared
        after = m.memory()
        self.assertEqual((after["live_blocks"], after["live_bytes"]), (base["live_blocks"], base["live_bytes"]))
        self.assertGreater(after["allocations"], base["allocations"] + 1000)
        m.close()
        self.assertEqual(m.memory()["live_blocks"], 0)
        self.assertEqual(m.memory()["live_bytes"], 0)


if __name__ == "__main__":
    unittest.main()
