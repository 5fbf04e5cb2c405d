"""Mixture of experts: a Switch-Transformer block (Fedus et al., Switch Transformers, 2021),
written from the paper's description.

One pre-LayerNorm transformer block over a variable-length sequence x [1, T, D]: multi-head
self-attention with a residual connection, then a switch FFN layer with a residual connection.
The switch layer's router (a linear layer, softmax over the experts) sends each token to its
top-1 expert (argmax); each expert is a ReLU FFN (D -> d_ff -> D) applied ONLY to the tokens
routed to it: the loop over the experts gathers their tokens (nonzero + index_select), runs the
expert when it got any (`if`), scales its output by the router probability (the switch gate) and
scatters it back (index_copy). No capacity limit: at inference every token is processed.

The router bias is calibrated in build() on a seeded pool of sequences so that the experts get
about equal shares of the tokens (what Switch's load-balancing loss aims for in training).
The weights are random (seeded), not trained.

Outputs: `y` [1, T, D] (the block's output), `path` (int64 [T]): the expert index of each token.
"""

from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

NAME = "moe"
TITLE = "Switch-Transformer mixture of experts"
DYNAMIC = ("top-1 routing: each token of a variable-length sequence goes to one expert FFN; "
           "experts run only on their tokens (gather / if / scatter)")
ORIGIN = "Fedus et al., Switch Transformers (JMLR 2022, arXiv 2101.03961)"
OPSET = 17
INPUT_NAMES = ["x"]
OUTPUT_NAMES = ["y", "path"]
DYNAMIC_AXES = {"x": {1: "T"}, "y": {1: "T"}, "path": {0: "T"}}

MARGIN = 1e-3  # router: top-1 probability at least this far above the second

CONFIGS = {
    "small": dict(d=32, heads=2, d_ff=64, experts=4, t_min=1, t_max=12, pool=240),
    # Switch-Base uses d_model 768 / d_ff 3072 / 128 experts; scaled to what the reference
    # backend runs in well under a second per sequence.
    "full": dict(d=256, heads=4, d_ff=1024, experts=8, t_min=1, t_max=128, pool=600),
}
COVERAGE = "each expert alone, and all experts in one sequence"


class Expert(nn.Module):
    def __init__(self, d: int, d_ff: int):
        super().__init__()
        self.wi = nn.Linear(d, d_ff)
        self.wo = nn.Linear(d_ff, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.wo(F.relu(self.wi(x)))


class SwitchBlock(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int, experts: int):
        super().__init__()
        self.d = d
        self.heads = heads
        self.dh = d // heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.router = nn.Linear(d, experts)
        self.experts = nn.ModuleList([Expert(d, d_ff) for _ in range(experts)])

    def attention(self, x: Tensor) -> Tensor:
        t = x.size(1)
        q, k, v = self.qkv(x).chunk(3, 2)
        q = q.reshape(1, t, self.heads, self.dh).transpose(1, 2)
        k = k.reshape(1, t, self.heads, self.dh).transpose(1, 2)
        v = v.reshape(1, t, self.heads, self.dh).transpose(1, 2)
        att = F.softmax(torch.matmul(q, k.transpose(2, 3)) / (self.dh ** 0.5), -1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(1, t, self.d)
        return self.proj(o)

    def route(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(tokens [T, D] after the first residual's LayerNorm, router probs [T, E], x)."""
        x = x + self.attention(self.ln1(x))
        h = self.ln2(x)[0]
        return h, F.softmax(self.router(h), 1), x

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        h, probs, x = self.route(x)
        gate, idx = probs.max(1)
        y = torch.zeros_like(h)
        e = 0
        for expert in self.experts:
            sel = torch.nonzero(idx == e).squeeze(1)
            if sel.numel() > 0:
                out = expert(h.index_select(0, sel)) * gate.index_select(0, sel).unsqueeze(1)
                y = y.index_copy(0, sel, out)
            e += 1
        return x + y.unsqueeze(0), idx


def _sequence(seed: int, cfg: dict) -> Tensor:
    """A seeded sequence [1, T, D] of token embeddings: random length (log-uniform), a per-sequence topic
    vector (so that some sequences lean towards one expert) plus per-token noise."""
    g = torch.Generator().manual_seed(12000 + seed)
    u = float(torch.rand(1, generator=g))  # log-uniform length: short and long sequences
    t = int(round(cfg["t_min"] * (cfg["t_max"] / cfg["t_min"]) ** u))
    topic = torch.randn(1, 1, cfg["d"], generator=g) * float(torch.rand(1, generator=g)) * 1.5
    return (topic + torch.randn(1, t, cfg["d"], generator=g)).contiguous()


def _pool(config: str):
    cfg = CONFIGS[config]
    return [_sequence(i, cfg) for i in range(cfg["pool"])]


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(1200)
    m = SwitchBlock(cfg["d"], cfg["heads"], cfg["d_ff"], cfg["experts"])
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Linear):
                nn.init.normal_(mod.weight, std=1.0 / mod.in_features ** 0.5)
                nn.init.normal_(mod.bias, std=0.02)
        # router logits with a spread of about 2 so that routing is decisive but varied
        nn.init.normal_(m.router.weight, std=2.0 / cfg["d"] ** 0.5)
        m.router.bias.zero_()
        for p in (m.ln1, m.ln2):
            p.weight.uniform_(0.8, 1.2)
            p.bias.uniform_(-0.1, 0.1)
    m.eval()
    # Load balancing: move the router bias until every expert gets about 1/E of the pool's tokens.
    with torch.no_grad():
        hs = torch.cat([m.route(x)[0] for x in _pool(config)], 0)
        logits0 = m.router(hs)
        bias = torch.zeros(cfg["experts"])
        for _ in range(200):
            share = torch.bincount((logits0 + bias).argmax(1), minlength=cfg["experts"]).float()
            share = share / share.sum()
            bias = bias - 0.1 * torch.log((share + 1e-3) * cfg["experts"])
        m.router.bias.copy_(bias)
    return m


def _robust(model, x) -> Tuple[bool, Tensor]:
    with torch.no_grad():
        _, probs, _ = model.route(x)
    top2 = probs.topk(2, 1).values
    ok = bool((top2[:, 0] - top2[:, 1]).min() >= MARGIN) if probs.size(1) > 1 else True
    return ok, probs.argmax(1)


def make_inputs(model, config: str, n: int):
    e_count = CONFIGS[config]["experts"]
    want = all_paths(config)
    found = {}
    rest = []
    for x in _pool(config):
        ok, idx = _robust(model, x)
        if not ok:
            continue
        lab = "experts " + ",".join(str(e) for e in sorted(set(idx.tolist())))
        if lab in want and lab not in found:
            found[lab] = x
        else:
            rest.append(x)
    missing = [p for p in want if p not in found]
    if missing:
        raise RuntimeError(f"moe/{config}: no robust input for {missing} ({e_count} experts)")
    # the sequence that uses every expert first (the example the exporters see), then each
    # expert alone
    res = [(found[p],) for p in want[-1:] + want[:-1]]
    # the rest: varied lengths, in pool order
    for x in rest:
        if len(res) >= n:
            break
        res.append((x,))
    return res[:max(n, len(want))]


def path_label(outputs) -> str:
    idx = outputs[-1]
    return "experts " + ",".join(str(e) for e in sorted(set(int(i) for i in idx.reshape(-1))))


def all_paths(config: str):
    e = CONFIGS[config]["experts"]
    return [f"experts {i}" for i in range(e)] + ["experts " + ",".join(str(i) for i in range(e))]
