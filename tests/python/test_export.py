"""dycl.export: scripted export with control flow, the PyTorch 1.13 quirks, the checks, the tracing verdict."""

import os
import unittest
import warnings
from typing import List, Tuple

from _common import dycl, np, onnx, work_dir

import torch
import torch.nn as nn

torch.set_num_threads(1)


class EarlyExit(nn.Module):
    """Two stages; returns after the first when its classifier is confident."""

    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head1 = nn.Linear(4, 5)
        self.stage2 = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head2 = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.stage1(x)
        logits = self.head1(h.mean(dim=[2, 3]))
        if bool(logits.softmax(dim=-1).max() >= 0.5):
            return logits, torch.tensor(1)
        h = self.stage2(h)
        return self.head2(h.mean(dim=[2, 3])), torch.tensor(2)


class Growing(nn.Module):
    """A while-style loop whose carried value grows: appends a row per step, n steps."""

    def forward(self, x: torch.Tensor, n: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = x
        for i in range(int(n.to(torch.int64).item())):
            out = torch.cat([out, x * float(i + 1)], 0)
        return out, out.sum()


class FloatTrips(nn.Module):
    """range(int(n.item())) with a float n: PyTorch 1.13 exports a float Loop trip count."""

    def forward(self, x: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        y = x
        for i in range(int(n.item())):
            y = y * 0.5 + float(i)
        return y


class SignBranch(nn.Module):
    """A data-dependent branch: tracing records one side only."""

    def __init__(self):
        super().__init__()
        self.pos = nn.Linear(4, 3)
        self.neg = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > 0):
            return torch.relu(self.pos(x))
        return self.neg(x) * 2.0


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Rows(nn.Module):
    """Returns a list: one tensor per row (a sequence output)."""

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        res: List[torch.Tensor] = []
        for i in range(x.shape[0]):
            res.append(x[i] * float(i))
        return res


class GruStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(3, 4)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.cell(x, h)


class Normed(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / x.norm()


class ScriptOnly(nn.Module):
    """Different in TorchScript than in eager mode: the export cannot match eager PyTorch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return x + 1.0
        return x


class NotScriptable(nn.Module):
    """Runs eagerly, but TorchScript does not compile NumPy calls."""

    def forward(self, x):
        return torch.from_numpy(np.tanh(x.numpy()))


def quiet_export(*args, **kw):
    with warnings.catch_warnings(record=True) as wl:
        warnings.simplefilter("always")
        report = dycl.export(*args, **kw)
    return report, [w for w in wl if issubclass(w.category, dycl.TracingWarning)]


def graphs(g):
    yield g
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from graphs(a.g)


class Export(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = work_dir("export")

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_early_exit(self):
        torch.manual_seed(0)
        net = EarlyExit()
        i = torch.arange(3 * 8 * 8, dtype=torch.float32).reshape(1, 3, 8, 8)
        examples = [torch.sin(i) * c for c in (100.0, 0.01)]
        with torch.no_grad():
            exits = [int(net(x)[1]) for x in examples]
        self.assertEqual(sorted(exits), [1, 2], "the examples must take both exits")
        path = self.path("early_exit.onnx")
        report, tw = quiet_export(net, examples, path, output_names=["logits", "exit"])
        self.assertTrue(report.ok, report)
        self.assertEqual(report.output_names, ["logits", "exit"])
        self.assertEqual(report.input_names, ["x"])  # forward's parameter name
        self.assertIn("If", {n.op_type for n in onnx.load(path).graph.node})
        # the second stage runs only on the input that takes exit 2
        calls = [c["stats"].subnet_calls for c in report.checks]
        self.assertLess(calls[exits.index(1)], calls[exits.index(2)])
        self.assertEqual(report.traced_wrong, [1])
        self.assertEqual(len(tw), 1)
        with dycl.load(path) as m:
            for x, e in zip(examples, exits):
                logits, exit_taken = m.run(x.numpy())
                self.assertEqual(int(exit_taken), e)
                np.testing.assert_allclose(logits, net(x)[0].detach().numpy(), rtol=1e-3, atol=1e-4)

    def test_loop_with_growing_value(self):
        x = torch.tensor([[1.0, -2.0]])
        examples = [(x, torch.tensor(n)) for n in (0, 2, 5)]
        path = self.path("growing.onnx")
        report, _ = quiet_export(Growing(), examples, path)
        self.assertTrue(report.ok, report)
        self.assertEqual([c["stats"].loop_iterations for c in report.checks], [0, 2, 5])
        self.assertEqual(report.traced_wrong, [1, 2])  # traced on n=0: no rows appended on the others
        self.assertIn("a traced export would give wrong results on input 1, 2", str(report))
        # what PyTorch declares for the loop-carried value ([1,2]) is wrong from the first
        # iteration on: no declared shapes are left inside the loop body
        raw = self.path("growing_raw.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(torch.jit.script(Growing()), examples[1], raw, opset_version=17)
        body_raw = [g for g in graphs(onnx.load(raw).graph)][1]
        self.assertTrue(any(vi.type.tensor_type.HasField("shape") and vi.type.tensor_type.shape.dim
                            and all(d.HasField("dim_value") for d in vi.type.tensor_type.shape.dim)
                            for vi in body_raw.input[2:]))
        model = onnx.load(path)
        for g in list(graphs(model.graph))[1:]:
            self.assertEqual(len(g.value_info), 0)
            for vi in list(g.input) + list(g.output):
                self.assertFalse(vi.type.tensor_type.HasField("shape"), vi.name)
        onnx.checker.check_model(model, full_check=True)
        self.assertEqual(report.dynamic_axes.get("output_0"), {0: "output_0_dim0"})

    def test_float_trip_count(self):
        examples = [(torch.tensor([4.0, -8.0]), torch.tensor(float(n))) for n in (3.0, 0.0, 5.0)]
        raw = self.path("float_trips_raw.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(torch.jit.script(FloatTrips()), examples[0], raw, opset_version=17)
        with self.assertRaisesRegex(dycl.InvalidModelError, "trip count must be int64"):
            dycl.load(raw)
        path = self.path("float_trips.onnx")
        report, _ = quiet_export(FloatTrips(), examples, path)
        self.assertTrue(report.ok, report)
        self.assertTrue(any("trip count" in f and "cast to int64" in f for f in report.fixes), report.fixes)
        self.assertEqual([c["stats"].loop_iterations for c in report.checks], [3, 0, 5])
        onnx.checker.check_model(onnx.load(path), full_check=True)

    def test_branch_where_tracing_is_wrong(self):
        torch.manual_seed(1)
        net = SignBranch()
        examples = [torch.ones(1, 4), -torch.ones(1, 4), torch.full((1, 4), 0.5)]
        with warnings.catch_warnings(record=True) as wl:
            warnings.simplefilter("always")
            report = dycl.export(net, examples, self.path("branch.onnx"))
        self.assertTrue(report.ok, report)
        self.assertEqual(report.traced_wrong, [1])
        msgs = [str(w.message) for w in wl if issubclass(w.category, dycl.TracingWarning)]
        self.assertEqual(len(msgs), 1)
        self.assertIn("a traced export would give wrong results on input 1", msgs[0])
        self.assertIn("a traced export would give wrong results on input 1", str(report))

    def test_tracing_right_for_a_static_model(self):
        torch.manual_seed(2)
        examples = [(torch.randn(3, 4),), (np.ones((3, 4), np.float32),)]  # NumPy inputs are fine too
        report, tw = quiet_export(Mlp(), examples, self.path("mlp.onnx"), check_trace=True)
        self.assertTrue(report.ok, report)
        self.assertEqual(report.traced_wrong, [])
        self.assertEqual(tw, [])
        self.assertIn("a traced export would give the same results on these 2 inputs", str(report))
        report, _ = quiet_export(Mlp(), torch.randn(2, 4), self.path("mlp1.onnx"), check_trace=False)
        self.assertIsNone(report.traced_wrong)

    def test_list_output_is_a_sequence(self):
        examples = [torch.arange(6.0).reshape(3, 2), torch.arange(10.0).reshape(5, 2)]
        path = self.path("rows.onnx")
        report, _ = quiet_export(Rows(), examples, path)
        self.assertTrue(report.ok, report)
        self.assertEqual(report.dynamic_axes, {"x": {0: "x_dim0"}})
        with dycl.load(path) as m:
            self.assertEqual(m.output_kinds, ["sequence"])
            (rows,) = m.run(np.ones((4, 2), np.float32))
        self.assertEqual([r.tolist() for r in rows], [[float(i)] * 2 for i in range(4)])

    def test_quirks_that_need_a_rewrite(self):
        with self.assertRaises(dycl.ExportError) as cm:
            quiet_export(GruStep(), (torch.ones(1, 3), torch.ones(1, 4)), self.path("gru.onnx"))
        self.assertIn("gru_cell", str(cm.exception))
        self.assertIn("nn.Linear", str(cm.exception))
        with self.assertRaises(dycl.ExportError) as cm:
            quiet_export(Normed(), torch.ones(2, 3), self.path("norm.onnx"))
        self.assertIn("torch.norm", str(cm.exception))
        self.assertIn("torch.sqrt((x * x).sum(", str(cm.exception))
        with self.assertRaisesRegex(dycl.ExportError, "torch.jit.script failed"):
            quiet_export(NotScriptable(), torch.ones(2), self.path("noscript.onnx"))

    def test_mismatch_is_loud(self):
        path = self.path("script_only.onnx")
        with self.assertRaises(dycl.MismatchError) as cm:
            quiet_export(ScriptOnly(), [torch.zeros(2), torch.ones(2)], path)
        e = cm.exception
        self.assertIn("differs from eager PyTorch on input 0", str(e))
        self.assertFalse(e.report.ok)
        self.assertEqual(len(e.report.checks), 2)
        self.assertTrue(os.path.isfile(path))  # kept for inspection

    def test_arguments(self):
        net = Mlp().train()
        report, _ = quiet_export(net, torch.ones(1, 4), self.path("names.onnx"), input_names=["features"],
                                 output_names=["scores"], check_trace=False)
        self.assertTrue(net.training)  # the module's mode is restored
        with dycl.load(report.path) as m:
            self.assertEqual((m.input_names, m.output_names), (["features"], ["scores"]))
        with self.assertRaises(ValueError):
            dycl.export(net, torch.ones(1, 4), self.path("o18.onnx"), opset=18)
        with self.assertRaises(ValueError):
            dycl.export(net, [(torch.ones(1, 4),), (torch.ones(1, 4), torch.ones(1))], self.path("bad.onnx"))
        with self.assertRaises(ValueError):
            dycl.export(net, [], self.path("none.onnx"))


if __name__ == "__main__":
    unittest.main()
