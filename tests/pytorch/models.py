"""Dynamic models for dycl's end-to-end PyTorch suite (run by run_pytorch_tests.py).

Two kinds of models:

- TorchModel: a small torch.nn.Module with data-dependent control flow. It is compiled with
  torch.jit.script and exported with torch.onnx.export (If / Loop / sequence ops); its reference
  outputs come from running the module eagerly in PyTorch.
- OnnxModel: an ONNX graph written by hand with onnx.helper (Scan and Loop forms the PyTorch
  exporter does not produce); its reference outputs are computed with numpy.

Every model has several input cases chosen so that they take DIFFERENT paths through the model
(different exits, skipped blocks, trip counts, decode lengths, routes). Where the path is decided by
comparing floats, the cases are found by searching seeded random inputs, and a case is only kept if
its path is stable: small perturbations of the inputs (1e-4 relative) take the same path, so that
rounding differences between PyTorch and dycl cannot flip a branch.

All weights and inputs are seeded: the exported files are deterministic.

Exporter quirks of PyTorch 1.13 worked around here: recurrent cells are written out with nn.Linear
and sigmoid/tanh (scripted GRUCell/LSTMCell do not export), a trip count taken from a tensor is
cast to int64 before .item(), and the shapes PyTorch declares for values that grow inside a loop
are wrong (dycl ignores declared shapes).
"""

from typing import List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor


# --------------------------------------------------------------------------------------------
# Search helpers
# --------------------------------------------------------------------------------------------

def _run(module, inputs):
    with torch.no_grad():
        out = module(*[torch.from_numpy(np.ascontiguousarray(a)) for a in inputs])
    if isinstance(out, torch.Tensor):
        out = (out,)
    return [o.detach().numpy() for o in out]


def _perturbed(inputs, k):
    """The inputs with their float tensors moved by about 1e-4 relative (seeded by k)."""
    rng = np.random.RandomState(1000 + k)
    res = []
    for a in inputs:
        if a.dtype.kind == "f" and a.size:
            noise = rng.uniform(-1.0, 1.0, a.shape).astype(a.dtype)
            a = (a + noise * 1e-4 * (1.0 + np.abs(a))).astype(a.dtype)
        res.append(a)
    return res


def path_is_stable(model, module, inputs, path, n=4):
    """True when n perturbed copies of the inputs take the same path."""
    for k in range(n):
        if model.path(_run(module, _perturbed(inputs, k))) != path:
            return False
    return True


def search_cases(model, module, gen, want, tries=4000):
    """Find one input set per wanted path.

    gen(k) -> list of numpy inputs (seeded by k); want: ordered list of (case_name, predicate on
    the path string). Returns [(case_name, inputs)] in the order of `want`."""
    found = {}
    for k in range(tries):
        if len(found) == len(want):
            break
        inputs = gen(k)
        path = model.path(_run(module, inputs))
        for name, pred in want:
            if name not in found and pred(path) and path_is_stable(model, module, inputs, path):
                found[name] = inputs
                break
    missing = [name for name, _ in want if name not in found]
    if missing:
        raise RuntimeError(f"{model.name}: no stable input found for case(s) {missing}")
    return [(name, found[name]) for name, _ in want]


def _randn(seed, *shape, scale=1.0):
    return (np.random.RandomState(seed).standard_normal(shape) * scale).astype(np.float32)


# --------------------------------------------------------------------------------------------
# PyTorch modules
# --------------------------------------------------------------------------------------------

class EarlyExitMLP(nn.Module):
    """Three MLP stages, each with a classifier; returns at the first confident classifier."""

    def __init__(self, d: int = 16, classes: int = 4, threshold: float = 0.7):
        super().__init__()
        self.stages = nn.ModuleList([nn.Sequential(nn.Linear(d, d), nn.ReLU()) for _ in range(3)])
        self.heads = nn.ModuleList([nn.Linear(d, classes) for _ in range(3)])
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        h = x
        k = 0
        logits = torch.zeros(1)
        for stage, head in zip(self.stages, self.heads):
            k += 1
            h = stage(h)
            logits = head(h)
            if bool(F.softmax(logits, dim=-1).max() >= self.threshold):
                return logits, torch.tensor(k, dtype=torch.int64)
        return logits, torch.tensor(k, dtype=torch.int64)


class SkipBlocks(nn.Module):
    """Residual conv blocks, each run only when its gate on the pooled features says so."""

    def __init__(self, c: int = 4, n: int = 3):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                          nn.Conv2d(c, c, 3, padding=1))
            for _ in range(n)])
        self.gates = nn.ModuleList([nn.Linear(c, 1) for _ in range(n)])
        for blk in self.blocks:  # non-trivial running statistics for the eval-mode BatchNorm
            bn = blk[1]
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        mask = torch.zeros((), dtype=torch.int64)
        bit = 1
        for block, gate in zip(self.blocks, self.gates):
            g = torch.sigmoid(gate(x.mean(dim=[2, 3])))
            if bool(g.max() > 0.5):
                x = x + block(x)
                mask = mask + bit
            bit = bit * 2
        return x, mask


WHILE_MAX_ITERS = 5


class WhileCell(nn.Module):
    """Iterates a cell while the state is still 'large' (data-dependent trip count, capped)."""

    def __init__(self, d: int = 8, max_iters: int = WHILE_MAX_ITERS, tol: float = 0.05):
        super().__init__()
        self.lin = nn.Linear(d, d, bias=False)
        self.max_iters = max_iters
        self.tol = tol

    def cond(self, x: Tensor) -> bool:
        return bool(x.abs().mean() > self.tol)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        i = 0
        count = torch.zeros((), dtype=torch.int64)
        while self.cond(x) and i < self.max_iters:
            x = 0.9 * torch.tanh(self.lin(x))
            i += 1
            count = count + 1
        return x, count


class GreedyDecoder(nn.Module):
    """Greedy token-by-token decoder with a GRU-style cell written in linear layers.

    Emits tokens until the end token (0) or max_steps; the tokens and the per-step logits are
    concatenated to tensors that grow inside the loop."""

    def __init__(self, vocab: int = 8, emb: int = 8, hidden: int = 16, max_steps: int = 12):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.zr = nn.Linear(emb + hidden, 2 * hidden)
        self.cand = nn.Linear(emb + hidden, hidden)
        self.out = nn.Linear(hidden, vocab)
        self.vocab = vocab
        self.max_steps = max_steps

    def forward(self, h: Tensor) -> Tuple[Tensor, Tensor]:
        tok = torch.ones(1, dtype=torch.int64)  # start token
        tokens = torch.zeros(0, dtype=torch.int64)
        all_logits = torch.zeros(0, self.vocab)
        step = 0
        done = False
        while not done and step < self.max_steps:
            xh = torch.cat([self.emb(tok), h], 1)
            z, r = torch.sigmoid(self.zr(xh)).chunk(2, 1)
            c = torch.tanh(self.cand(torch.cat([self.emb(tok), r * h], 1)))
            h = (1.0 - z) * h + z * c
            logits = self.out(h)
            tok = logits.argmax(1)
            tokens = torch.cat([tokens, tok], 0)
            all_logits = torch.cat([all_logits, logits], 0)
            done = bool(tok[0] == 0)
            step += 1
        return tokens, all_logits


class LSTMSteps(nn.Module):
    """Runs an LSTM-style cell (written in linear layers) for n steps, n given by an input."""

    def __init__(self, d: int = 4, hidden: int = 8):
        super().__init__()
        self.ih = nn.Linear(d, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden, bias=False)
        self.hidden = hidden

    def forward(self, x: Tensor, n: Tensor) -> Tuple[Tensor, Tensor]:
        h = torch.zeros(x.size(1), self.hidden)
        c = torch.zeros(x.size(1), self.hidden)
        steps = int(n.to(torch.int64).item())
        for i in range(steps):
            gates = self.ih(x[i]) + self.hh(h)
            ig, fg, gg, og = gates.chunk(4, 1)
            c = torch.sigmoid(fg) * c + torch.sigmoid(ig) * torch.tanh(gg)
            h = torch.sigmoid(og) * torch.tanh(c)
        return h, c


class ListAppend(nn.Module):
    """Builds Python lists in a loop (sequence ops in ONNX), then stacks / concatenates them."""

    def __init__(self, d: int = 4):
        super().__init__()
        self.f = nn.Linear(d, d)
        self.d = d

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        outs: List[Tensor] = []
        pos: List[Tensor] = [torch.zeros(0, self.d)]
        for i in range(x.size(0)):
            y = torch.tanh(self.f(x[i:i + 1]))
            if bool(y.sum() > 0):
                outs.append(y)
                pos.append(y * 2.0)
            else:
                outs.append(-y)
        n_pos = torch.tensor(len(pos) - 1, dtype=torch.int64)
        return torch.stack(outs, 0), torch.cat(pos, 0), n_pos


class MoEIf(nn.Module):
    """Top-1 mixture of experts for one sample: an `if` chooses which expert runs."""

    def __init__(self, d: int = 8):
        super().__init__()
        self.router = nn.Linear(d, 3)
        self.e0 = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, d))
        self.e1 = nn.Sequential(nn.Linear(d, d), nn.Tanh())
        self.e2 = nn.Sequential(nn.Linear(d, 4), nn.Sigmoid(), nn.Linear(4, d))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        r = self.router(x).argmax(1)
        if bool(r[0] == 0):
            y = self.e0(x)
        elif bool(r[0] == 1):
            y = self.e1(x)
        else:
            y = self.e2(x)
        return y, r


class MoEScatter(nn.Module):
    """Token-level top-1 routing: index_select the tokens of each expert, run it only when it got
    tokens, and index_copy the results back."""

    def __init__(self, d: int = 8, n_experts: int = 3):
        super().__init__()
        self.router = nn.Linear(d, n_experts)
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(d, d), nn.Tanh())
                                      for _ in range(n_experts)])

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        r = self.router(x).argmax(1)
        out = torch.zeros_like(x)
        e = 0
        for expert in self.experts:
            idx = torch.nonzero(r == e).squeeze(1)
            if idx.numel() > 0:
                out = out.index_copy(0, idx, expert(x.index_select(0, idx)))
            e += 1
        return out, r


class NestedLoops(nn.Module):
    """A for loop over the rows, each refined by a data-dependent while loop; results grow."""

    def __init__(self, d: int = 4, max_iters: int = 6):
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.max_iters = max_iters
        self.d = d

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        rows = torch.zeros(0, self.d)
        counts = torch.zeros(0, dtype=torch.int64)
        for i in range(x.size(0)):
            row = x[i:i + 1]
            k = 0
            cnt = torch.zeros(1, dtype=torch.int64)
            while bool(row.abs().max() > 0.2) and k < self.max_iters:
                row = 0.6 * torch.tanh(self.lin(row))
                k += 1
                cnt = cnt + 1
            rows = torch.cat([rows, row], 0)
            counts = torch.cat([counts, cnt], 0)
        return rows, counts


# --------------------------------------------------------------------------------------------
# Model specifications
# --------------------------------------------------------------------------------------------

class TorchModel:
    """A PyTorch model of the suite. Subclasses set the attributes and define make_module,
    example_inputs, cases and path."""
    kind = "torch"
    name = ""
    opsets = (17,)
    seed = 0
    input_names: Tuple[str, ...] = ()
    output_names: Tuple[str, ...] = ()
    dynamic_axes: dict = {}

    def build(self):
        torch.manual_seed(self.seed)
        m = self.make_module()
        m.eval()
        return m

    def path(self, outputs) -> str:
        return ""


class EarlyExitSpec(TorchModel):
    name = "early_exit"
    opsets = (17, 13)
    seed = 1
    input_names = ("x",)
    output_names = ("logits", "exit")

    def make_module(self):
        return EarlyExitMLP()

    def example_inputs(self):
        return [_randn(0, 1, 16)]

    def path(self, outputs):
        return f"exit {int(outputs[1])}"

    def cases(self, module):
        scales = [0.3, 0.6, 1.0, 2.0, 4.0, 8.0]
        gen = lambda k: [_randn(k, 1, 16, scale=scales[k % len(scales)])]
        return search_cases(self, module, gen, [(f"exit{e}", lambda p, e=e: p == f"exit {e}")
                                                for e in (1, 2, 3)])


class SkipBlocksSpec(TorchModel):
    name = "skip_blocks"
    opsets = (11, 17)
    seed = 2
    input_names = ("x",)
    output_names = ("y", "mask")
    dynamic_axes = {"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}}

    def make_module(self):
        return SkipBlocks()

    def example_inputs(self):
        return [_randn(0, 1, 4, 8, 8)]

    def path(self, outputs):
        m = int(outputs[1])
        taken = [str(b + 1) for b in range(3) if m >> b & 1]
        return "blocks " + (",".join(taken) if taken else "none")

    def cases(self, module):
        sizes = [(8, 8), (5, 7), (12, 12), (3, 9)]

        def gen(k):
            h, w = sizes[k % len(sizes)]
            rng = np.random.RandomState(k)
            x = rng.standard_normal((1, 4, h, w)) * rng.uniform(0.5, 3.0) + rng.uniform(-1.5, 1.5, (1, 4, 1, 1))
            return [x.astype(np.float32)]

        paths = ["blocks none", "blocks 1,2,3", "blocks 1", "blocks 2,3", "blocks 1,3", "blocks 2"]
        want = [(p.replace("blocks ", "skip_").replace(",", ""), lambda q, p=p: q == p) for p in paths]
        # Not every combination need exist for these weights: keep the ones found (at least 4).
        res = []
        for name, pred in want:
            try:
                res += search_cases(self, module, gen, [(name, pred)], tries=600)
            except RuntimeError:
                pass
        if len(res) < 4:
            raise RuntimeError(f"{self.name}: only {len(res)} distinct paths found")
        return res


class WhileLoopSpec(TorchModel):
    name = "while_loop"
    opsets = (17, 11)
    seed = 3
    input_names = ("x",)
    output_names = ("y", "iters")

    def make_module(self):
        return WhileCell()

    def example_inputs(self):
        return [_randn(0, 1, 8)]

    def path(self, outputs):
        n = int(outputs[1])
        return f"{n} iterations" + (" (the cap)" if n == WHILE_MAX_ITERS else "")

    def cases(self, module):
        scales = [0.01, 0.05, 0.2, 1.0, 3.0, 10.0]
        gen = lambda k: [_randn(k, 1, 8, scale=scales[k % len(scales)])]
        seen = set()
        for k in range(300):
            seen.add(int(self.path(_run(module, gen(k))).split()[0]))
        counts = sorted(seen)
        # the fewest iterations (0 when reachable), the most (the cap when reachable), two between
        pick = sorted({counts[0], counts[len(counts) // 3], counts[2 * len(counts) // 3], counts[-1]})
        return search_cases(self, module, gen, [(f"iters{c}", lambda p, c=c: p.split()[0] == str(c))
                                                for c in pick])


class GreedyDecoderSpec(TorchModel):
    name = "greedy_decoder"
    seed = 4
    input_names = ("h",)
    output_names = ("tokens", "logits")

    def make_module(self):
        return GreedyDecoder()

    def example_inputs(self):
        return [_randn(0, 1, 16)]

    def path(self, outputs):
        toks = outputs[0].tolist()
        return f"len {len(toks)} tokens {' '.join(map(str, toks))}"

    def cases(self, module):
        gen = lambda k: [_randn(k, 1, 16, scale=1.0 + (k % 4))]
        lens = {}
        for k in range(600):
            p = self.path(_run(module, gen(k)))
            lens.setdefault(int(p.split()[1]), k)
        chosen = sorted(lens)
        if len(chosen) > 4:  # shortest, longest, and two in between
            chosen = [chosen[0], chosen[len(chosen) // 3], chosen[2 * len(chosen) // 3], chosen[-1]]
        return search_cases(self, module, gen, [(f"len{n}", lambda p, n=n: p.startswith(f"len {n} "))
                                                for n in chosen])


class LSTMStepsSpec(TorchModel):
    name = "lstm_steps"
    opsets = (13,)
    seed = 5
    input_names = ("x", "n")
    output_names = ("h", "c")
    dynamic_axes = {"x": {0: "t", 1: "b"}, "h": {0: "b"}, "c": {0: "b"}}

    def make_module(self):
        return LSTMSteps()

    def example_inputs(self):
        return [_randn(0, 5, 2, 4), np.array(3, dtype=np.int64)]

    def path(self, outputs):
        return ""

    def cases(self, module):
        res = []
        for name, t, b, n in [("steps0", 3, 2, 0), ("steps1", 4, 1, 1), ("steps3", 5, 2, 3), ("steps9", 9, 3, 9)]:
            res.append((name, [_randn(10 + n, t, b, 4), np.array(n, dtype=np.int64)]))
        return res


class ListAppendSpec(TorchModel):
    name = "list_append"
    seed = 6
    input_names = ("x",)
    output_names = ("stacked", "positives", "n_pos")
    dynamic_axes = {"x": {0: "t"}, "stacked": {0: "t"}, "positives": {0: "p"}}

    def make_module(self):
        return ListAppend()

    def example_inputs(self):
        return [_randn(0, 5, 4)]

    def path(self, outputs):
        return f"{int(outputs[2])} of {outputs[0].shape[0]} positive"

    def cases(self, module):
        def gen(k):
            rng = np.random.RandomState(k)
            t = 1 + k % 7
            return [(rng.standard_normal((t, 4)) * 2 + rng.uniform(-1, 1)).astype(np.float32)]
        want = [("t1_none", "0 of 1 positive"), ("t1_one", "1 of 1 positive"),
                ("t5_mixed", "2 of 5 positive"), ("t7_all", "7 of 7 positive"),
                ("t6_none", "0 of 6 positive")]
        return search_cases(self, module, gen, [(n, lambda p, w=w: p == w) for n, w in want])


class MoEIfSpec(TorchModel):
    name = "moe_if"
    seed = 7
    input_names = ("x",)
    output_names = ("y", "route")

    def make_module(self):
        return MoEIf()

    def example_inputs(self):
        return [_randn(0, 1, 8)]

    def path(self, outputs):
        return f"expert {int(outputs[1][0])}"

    def cases(self, module):
        gen = lambda k: [_randn(k, 1, 8, scale=2.0)]
        return search_cases(self, module, gen, [(f"expert{e}", lambda p, e=e: p == f"expert {e}")
                                                for e in range(3)])


class MoEScatterSpec(TorchModel):
    name = "moe_scatter"
    seed = 8
    input_names = ("x",)
    output_names = ("y", "route")
    dynamic_axes = {"x": {0: "n"}, "y": {0: "n"}, "route": {0: "n"}}

    def make_module(self):
        return MoEScatter()

    def example_inputs(self):
        return [_randn(0, 6, 8)]

    def path(self, outputs):
        r = outputs[1]
        return "tokens per expert " + "/".join(str(int((r == e).sum())) for e in range(3))

    def cases(self, module):
        def gen(k):
            n = [1, 2, 6, 9][k % 4]
            return [_randn(k, n, 8, scale=2.0)]

        def counts(p):
            return [int(c) for c in p.split()[-1].split("/")]
        want = [("n1", lambda p: sum(counts(p)) == 1),
                ("n2_split", lambda p: sum(counts(p)) == 2 and max(counts(p)) == 1),
                ("n6_all_experts", lambda p: sum(counts(p)) == 6 and min(counts(p)) > 0),
                ("n9_one_idle", lambda p: sum(counts(p)) == 9 and sorted(counts(p))[0] == 0
                 and sorted(counts(p))[1] > 0)]
        return search_cases(self, module, gen, want)


class NestedLoopsSpec(TorchModel):
    name = "nested_loops"
    seed = 9
    input_names = ("x",)
    output_names = ("rows", "iters")
    dynamic_axes = {"x": {0: "n"}, "rows": {0: "n"}, "iters": {0: "n"}}

    def make_module(self):
        return NestedLoops()

    def example_inputs(self):
        return [_randn(0, 3, 4)]

    def path(self, outputs):
        return "iterations per row " + ",".join(str(int(c)) for c in outputs[1])

    def cases(self, module):
        def gen(k):
            rng = np.random.RandomState(k)
            n = [1, 3, 5][k % 3]
            return [(rng.standard_normal((n, 4)) * rng.uniform(0.05, 3.0, (n, 1))).astype(np.float32)]

        def its(p):
            return [int(c) for c in p.split()[-1].split(",")]
        want = [("n1", lambda p: len(its(p)) == 1 and its(p)[0] > 0),
                ("n3_varied", lambda p: len(its(p)) == 3 and len(set(its(p))) == 3),
                ("n5_varied", lambda p: len(its(p)) == 5 and len(set(its(p))) >= 3 and 0 in its(p))]
        return search_cases(self, module, gen, want)


# --------------------------------------------------------------------------------------------
# Hand-written ONNX models (Scan, Loop with scan outputs), numpy references
# --------------------------------------------------------------------------------------------

class OnnxModel:
    kind = "onnx"
    name = ""
    opset = 17

    def model(self, graph):
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="dycl-tests")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m

    def path(self, inputs, outputs) -> str:
        return ""


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


F32, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


class ScanCumsum(OnnxModel):
    """Scan with one state and one scan input: running sum over the time axis (axis 0)."""
    name = "scan_cumsum"

    def build(self):
        body = helper.make_graph(
            [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
             helper.make_node("Identity", ["s_out"], ["y_t"])],
            "body", [_vi("s_in", F32, ["d"]), _vi("x_t", F32, ["d"])],
            [_vi("s_out", F32, ["d"]), _vi("y_t", F32, ["d"])])
        g = helper.make_graph(
            [helper.make_node("Scan", ["s0", "x"], ["s", "y"], body=body, num_scan_inputs=1)],
            "scan_cumsum", [_vi("s0", F32, ["d"]), _vi("x", F32, ["t", "d"])],
            [_vi("s", F32, ["d"]), _vi("y", F32, ["t", "d"])])
        return self.model(g)

    def cases(self):
        return [(f"t{t}", [_randn(40 + t, 3), _randn(50 + t, t, 3)]) for t in (0, 1, 6)]

    def reference(self, inputs):
        s0, x = inputs
        y = (np.cumsum(x.astype(np.float64), axis=0) + s0).astype(np.float32)
        return [y[-1] if len(y) else s0, y.reshape(x.shape)]

    def path(self, inputs, outputs):
        return f"{inputs[1].shape[0]} iterations"


class ScanRNN(OnnxModel):
    """Scan running a tanh RNN over time; weights are outer-graph initializers used by the body;
    the body returns the same value as state and as scan output."""
    name = "scan_rnn"
    opset = 11

    def __init__(self):
        rng = np.random.RandomState(60)
        self.W = (rng.standard_normal((3, 5)) * 0.5).astype(np.float32)
        self.U = (rng.standard_normal((5, 5)) * 0.5).astype(np.float32)
        self.b = (rng.standard_normal((5,)) * 0.1).astype(np.float32)

    def build(self):
        body = helper.make_graph(
            [helper.make_node("MatMul", ["x_t", "W"], ["xw"]),
             helper.make_node("MatMul", ["h_in", "U"], ["hu"]),
             helper.make_node("Add", ["xw", "hu"], ["pre0"]),
             helper.make_node("Add", ["pre0", "b"], ["pre"]),
             helper.make_node("Tanh", ["pre"], ["h_out"])],
            "rnn_body", [_vi("h_in", F32, ["b", 5]), _vi("x_t", F32, ["b", 3])],
            [_vi("h_out", F32, ["b", 5]), _vi("h_out", F32, ["b", 5])])
        g = helper.make_graph(
            [helper.make_node("Scan", ["h0", "x"], ["h", "hs"], body=body, num_scan_inputs=1)],
            "scan_rnn", [_vi("h0", F32, ["b", 5]), _vi("x", F32, ["t", "b", 3])],
            [_vi("h", F32, ["b", 5]), _vi("hs", F32, ["t", "b", 5])],
            initializer=[numpy_helper.from_array(self.W, "W"), numpy_helper.from_array(self.U, "U"),
                         numpy_helper.from_array(self.b, "b")])
        return self.model(g)

    def cases(self):
        return [(f"t{t}_b{b}", [_randn(70 + t, b, 5), _randn(80 + t, t, b, 3)])
                for t, b in ((1, 1), (4, 2), (9, 3))]

    def reference(self, inputs):
        h, x = inputs
        h = h.astype(np.float64)
        hs = []
        for t in range(x.shape[0]):
            h = np.tanh(x[t] @ self.W.astype(np.float64) + h @ self.U.astype(np.float64) + self.b)
            hs.append(h)
        return [h.astype(np.float32), np.stack(hs).astype(np.float32)]

    def path(self, inputs, outputs):
        return f"{inputs[1].shape[0]} iterations"


class ScanReverse(OnnxModel):
    """Scan with a reverse-direction input and a reverse-direction output (suffix sums) next to a
    forward input and a forward output."""
    name = "scan_reverse"

    def build(self):
        body = helper.make_graph(
            [helper.make_node("Add", ["s_in", "r_t"], ["s_out"]),
             helper.make_node("Mul", ["s_out", "f_t"], ["p_t"]),
             helper.make_node("Identity", ["s_out"], ["suffix_t"])],
            "body", [_vi("s_in", F32, [2]), _vi("r_t", F32, [2]), _vi("f_t", F32, [2])],
            [_vi("s_out", F32, [2]), _vi("suffix_t", F32, [2]), _vi("p_t", F32, [2])])
        g = helper.make_graph(
            [helper.make_node("Scan", ["s0", "r", "f"], ["s", "suffix", "prod"], body=body,
                              num_scan_inputs=2, scan_input_directions=[1, 0],
                              scan_output_directions=[1, 0])],
            "scan_reverse", [_vi("s0", F32, [2]), _vi("r", F32, ["t", 2]), _vi("f", F32, ["t", 2])],
            [_vi("s", F32, [2]), _vi("suffix", F32, ["t", 2]), _vi("prod", F32, ["t", 2])])
        return self.model(g)

    def cases(self):
        return [(f"t{t}", [np.zeros(2, np.float32), _randn(90 + t, t, 2), _randn(95 + t, t, 2)])
                for t in (1, 5)]

    def reference(self, inputs):
        s0, r, f = [a.astype(np.float64) for a in inputs]
        t = r.shape[0]
        s = s0
        suffix = np.zeros_like(r)
        prod = np.zeros_like(r)
        for i in range(t):  # iteration i reads r[t-1-i] and f[i]
            s = s + r[t - 1 - i]
            suffix[t - 1 - i] = s  # reverse output: iteration i's value lands at t-1-i
            prod[i] = s * f[i]
        return [s.astype(np.float32), suffix.astype(np.float32), prod.astype(np.float32)]

    def path(self, inputs, outputs):
        return f"{inputs[1].shape[0]} iterations"


class ScanAxes(OnnxModel):
    """Scan over axis 1 of a [batch, time, d] input (scan_input_axes=1, scan_output_axes=1):
    running maximum."""
    name = "scan_axis1"

    def build(self):
        body = helper.make_graph(
            [helper.make_node("Max", ["m_in", "x_t"], ["m_out"]),
             helper.make_node("Identity", ["m_out"], ["y_t"])],
            "body", [_vi("m_in", F32, ["b", "d"]), _vi("x_t", F32, ["b", "d"])],
            [_vi("m_out", F32, ["b", "d"]), _vi("y_t", F32, ["b", "d"])])
        g = helper.make_graph(
            [helper.make_node("Scan", ["m0", "x"], ["m", "y"], body=body, num_scan_inputs=1,
                              scan_input_axes=[1], scan_output_axes=[1])],
            "scan_axis1", [_vi("m0", F32, ["b", "d"]), _vi("x", F32, ["b", "t", "d"])],
            [_vi("m", F32, ["b", "d"]), _vi("y", F32, ["b", "t", "d"])])
        return self.model(g)

    def cases(self):
        return [(f"b{b}_t{t}", [np.full((b, 3), -10.0, np.float32), _randn(100 + t, b, t, 3)])
                for b, t in ((1, 1), (2, 6), (3, 4))]

    def reference(self, inputs):
        m0, x = inputs
        y = np.maximum.accumulate(np.concatenate([m0[:, None, :], x], axis=1), axis=1)[:, 1:, :]
        return [y[:, -1, :], y]

    def path(self, inputs, outputs):
        return f"{inputs[1].shape[1]} iterations"


class LoopScanOutputs(OnnxModel):
    """Loop with both a trip count and a data-dependent condition, a carried state and a scan
    output (per-iteration values concatenated): doubles x until its sum exceeds a limit."""
    name = "loop_scan_outputs"

    def build(self):
        body = helper.make_graph(
            [helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.array(2.0, np.float32))),
             helper.make_node("Mul", ["x_in", "two"], ["x_out"]),
             helper.make_node("ReduceSum", ["x_out"], ["total"], keepdims=0),
             helper.make_node("Less", ["total", "limit"], ["cond_out"]),
             helper.make_node("Cast", ["i"], ["i_f"], to=F32),
             helper.make_node("Add", ["x_out", "i_f"], ["y_t"])],
            "body", [_vi("i", I64, []), _vi("cond_in", BOOL, []), _vi("x_in", F32, [3])],
            [_vi("cond_out", BOOL, []), _vi("x_out", F32, [3]), _vi("y_t", F32, [3])])
        g = helper.make_graph(
            [helper.make_node("Loop", ["max_iters", "", "x0"], ["x", "ys"], body=body)],
            "loop_scan_outputs",
            [_vi("max_iters", I64, []), _vi("x0", F32, [3]), _vi("limit", F32, [])],
            [_vi("x", F32, [3]), _vi("ys", F32, ["n", 3])])
        return self.model(g)

    def cases(self):
        return [("cond_stops_at_4", [np.array(10, np.int64), np.array([1, 2, 1], np.float32), np.array(40, np.float32)]),
                ("cap_stops_at_2", [np.array(2, np.int64), np.array([1, 2, 1], np.float32), np.array(1e6, np.float32)]),
                ("one_iteration", [np.array(10, np.int64), np.array([5, 5, 5], np.float32), np.array(1, np.float32)])]

    def reference(self, inputs):
        m, x, limit = int(inputs[0]), inputs[1].copy(), float(inputs[2])
        ys = []
        i = 0
        while i < m:
            x = (x * 2).astype(np.float32)
            ys.append(x + np.float32(i))
            i += 1
            if not float(x.sum()) < limit:
                break
        return [x, np.stack(ys).astype(np.float32) if ys else np.zeros((0, 3), np.float32)]

    def path(self, inputs, outputs):
        return f"{outputs[1].shape[0]} iterations"


TORCH_MODELS = [EarlyExitSpec(), SkipBlocksSpec(), WhileLoopSpec(), GreedyDecoderSpec(),
                LSTMStepsSpec(), ListAppendSpec(), MoEIfSpec(), MoEScatterSpec(), NestedLoopsSpec()]
ONNX_MODELS = [ScanCumsum(), ScanRNN(), ScanReverse(), ScanAxes(), LoopScanOutputs()]
