"""dycl.load / Model: run, stats, bench, inspect, split, compile, threads -- checked against the dycl tool."""

import json
import os
import re
import threading
import unittest

from _common import (DEMO, DEMO_CASES, SANITIZE, demo_input, dycl, loop_model, np, onnx, run_cli, work_dir)
from onnx import numpy_helper


def read_pb(path):
    return numpy_helper.to_array(onnx.load_tensor(path))


class Demo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = work_dir("model")
        cls.model = dycl.load(DEMO, backend="ref")
        cls.inputs = {c: demo_input(c) for c in DEMO_CASES}

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_names_and_kinds(self):
        g = onnx.load(DEMO).graph
        inits = {i.name for i in g.initializer}
        self.assertEqual(self.model.input_names, [i.name for i in g.input if i.name not in inits])
        self.assertEqual(self.model.output_names, [o.name for o in g.output])
        self.assertEqual(self.model.input_kinds, ["tensor"])
        self.assertEqual(self.model.output_kinds, ["tensor", "tensor"])

    def test_run_matches_the_tool(self):
        """The package's outputs are bit for bit those of `dycl run` (same library, same backend)."""
        for exit_no, case in enumerate(DEMO_CASES, 1):
            with self.subTest(case=case):
                logits, exit_taken = self.model.run(self.inputs[case])
                out = os.path.join(self.dir, f"cli_{case}")
                run_cli("run", DEMO, os.path.join(os.path.dirname(DEMO), "inputs", f"{case}.pb"), "-o", out,
                        "--backend", "ref")
                want_logits, want_exit = read_pb(os.path.join(out, "output_0.pb")), read_pb(os.path.join(out, "output_1.pb"))
                self.assertEqual((logits.dtype, logits.shape), (want_logits.dtype, want_logits.shape))
                self.assertTrue(np.array_equal(logits, want_logits))
                self.assertEqual((exit_taken.dtype, exit_taken.shape), (np.dtype(np.int64), ()))
                self.assertEqual(int(exit_taken), int(want_exit))
                self.assertEqual(int(exit_taken), exit_no)  # easy, medium, hard leave at exits 1, 2, 3
                # one sub-network per stage run: the host called as many as the exit taken
                self.assertEqual(self.model.last_stats.subnet_calls, exit_no)

    def test_run_by_name_and_bad_calls(self):
        x = self.inputs["medium"]
        a = self.model.run(x)
        b = self.model.run(image=x)
        self.assertTrue(all(np.array_equal(p, q) for p, q in zip(a, b)))
        with self.assertRaisesRegex(dycl.InvalidInputError, "takes 1 input"):
            self.model.run(x, x)
        with self.assertRaisesRegex(dycl.InvalidInputError, "unknown input name"):
            self.model.run(picture=x)
        with self.assertRaisesRegex(dycl.InvalidInputError, "must have shape"):
            self.model.run(x[:, :2])

    def test_cpu_backend(self):
        try:
            m = dycl.load(DEMO, backend="cpu")
        except dycl.Error as e:  # dycl built without oneDNN: the backend is refused by name
            self.assertIn("cpu", str(e))
            return
        with m:
            for case in DEMO_CASES:
                ref = self.model.run(self.inputs[case])
                got = m.run(self.inputs[case])
                np.testing.assert_allclose(got[0], ref[0], rtol=1e-3, atol=1e-4)
                self.assertEqual(int(got[1]), int(ref[1]))

    def test_bench(self):
        r = self.model.bench(self.inputs["hard"], iters=25, warmup=2)
        self.assertEqual((r.iters, len(r.samples_us), r.warmup), (25, 25, 2))
        self.assertTrue(0 < r.p10_us <= r.median_us <= r.p90_us, r)
        self.assertEqual(r.samples_us, sorted(r.samples_us))
        self.assertRegex(str(r), r"^median_us=[0-9.]+ p10_us=[0-9.]+ p90_us=[0-9.]+$")
        with self.assertRaises(ValueError):
            self.model.bench(self.inputs["hard"], iters=0)
        with self.assertRaises(dycl.InvalidInputError):
            self.model.bench(self.inputs["hard"][:, :1])

    def test_inspect_matches_the_tool(self):
        ins = self.model.inspect()
        dot = os.path.join(self.dir, "demo.dot")
        p = run_cli("inspect", DEMO, "--dot", dot)
        self.assertEqual(ins.text, p.stdout.decode())
        with open(dot, encoding="utf-8") as f:
            self.assertEqual(ins.dot, f.read())
        self.assertEqual(str(ins), ins.text)
        # structured form: as many sub-networks as the text lists, with their inputs and outputs
        listed = re.findall(r"^subnet_(\d+)  \(", ins.text, re.M)
        self.assertEqual([s["index"] for s in ins.subnets], [int(k) for k in listed])
        self.assertTrue(ins.host["steps"])
        self.assertIn(ins.host["steps"][0]["op"], ("call", "if", "loop", "scan"))
        for s in ins.subnets:
            self.assertTrue(s["inputs"] and s["outputs"])

    def test_split(self):
        out = os.path.join(self.dir, "split")
        r = self.model.split(out)
        cli_out = os.path.join(self.dir, "split_cli")
        run_cli("split", DEMO, "-o", cli_out)
        with open(os.path.join(cli_out, "program.json"), encoding="utf-8") as f:
            self.assertEqual(r.program, json.load(f))
        self.assertEqual(len(r.subnet_files), len(r.program["subnets"]))
        for path in r.subnet_files:
            m = onnx.load(path)
            onnx.checker.check_model(m)
            self.assertFalse({n.op_type for n in m.graph.node} & {"If", "Loop", "Scan"})

    def test_compile(self):
        out = os.path.join(self.dir, "pkg")
        # Building the package runs make and gcc: in the sanitizer build (LD_PRELOAD holding the ASan
        # runtime, inherited by make and gcc) only the package is written; building and running
        # packages is covered by the normal build here and by tests/compile in both builds.
        pkg = self.model.compile(out, build=not SANITIZE)
        self.assertEqual(pkg.name, "early_exit")  # the default: the model file's name
        for f in (pkg.header, os.path.join(out, "early_exit.c"), os.path.join(out, "Makefile")):
            self.assertTrue(os.path.isfile(f), f)
        with self.assertRaisesRegex(dycl.InvalidInputError, "not a C identifier"):
            self.model.compile(os.path.join(self.dir, "bad"), name="9 lives")
        if SANITIZE:
            return
        self.assertTrue(os.path.isfile(pkg.lib) and os.access(pkg.runner, os.X_OK))
        import subprocess
        for case in DEMO_CASES:
            res = os.path.join(self.dir, f"pkg_{case}")
            subprocess.run([pkg.runner, os.path.join(os.path.dirname(DEMO), "inputs", f"{case}.pb"), "-o", res],
                           check=True, stdout=subprocess.DEVNULL)
            want = self.model.run(self.inputs[case])
            for j, w in enumerate(want):
                self.assertTrue(np.array_equal(read_pb(os.path.join(res, f"output_{j}.pb")), w))

    def test_threads_share_a_model(self):
        cases = DEMO_CASES * 4
        want = [self.model.run(self.inputs[c]) for c in cases]
        got = [None] * len(cases)
        errs = []

        def work(i):
            try:
                for _ in range(3):
                    got[i] = self.model.run(self.inputs[cases[i]])
            except Exception as e:  # noqa: BLE001
                errs.append(e)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errs, [])
        for w, g in zip(want, got):
            self.assertTrue(all(np.array_equal(a, b) for a, b in zip(w, g)))


class Lifetime(unittest.TestCase):
    def test_close(self):
        m = dycl.load(DEMO, backend="ref")
        x = demo_input("easy")
        m.run(x)
        m.close()
        m.close()  # twice is fine
        with self.assertRaisesRegex(dycl.Error, "closed"):
            m.run(x)
        with self.assertRaisesRegex(dycl.Error, "closed"):
            m.inspect()
        with dycl.load(DEMO, backend="ref") as m2:
            self.assertIn("early_exit.onnx", repr(m2))
        self.assertIn("closed", repr(m2))

    def test_loop_model_and_limits(self):
        d = work_dir("loop")
        path = loop_model(os.path.join(d, "loop.onnx"))
        x = np.array([1, -2, 0.5], np.float32)
        with dycl.load(path, backend="ref") as m:
            for n in (0, 1, 5):
                (y,) = m.run(np.array(n, np.int64), x)
                self.assertTrue(np.array_equal(y, x * 2.0 ** n))
                self.assertEqual(m.last_stats.loop_iterations, n)
        with dycl.load(path, backend="ref", max_iterations=3) as m:
            m.run(np.array(3, np.int64), x)
            with self.assertRaises(dycl.LimitError) as cm:
                m.run(np.array(4, np.int64), x)
            self.assertEqual(cm.exception.code, 6)
            m.run(np.array(2, np.int64), x)  # a session that failed on a limit runs again


if __name__ == "__main__":
    unittest.main()
