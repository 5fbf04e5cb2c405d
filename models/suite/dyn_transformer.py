"""Dynamic-depth transformer encoder with early exits (DeeBERT: Xin et al., DeeBERT: Dynamic
Early Exiting for Accelerating BERT Inference, ACL 2020; also PABEE, Zhou et al. 2020), written
from the papers' descriptions.

A BERT-style encoder over token ids [1, T] of variable length (the first token is [CLS]): token +
position embeddings with LayerNorm, then post-LayerNorm encoder layers (multi-head self-attention,
GELU feed-forward, residuals). After every layer an "off-ramp" classifier (DeeBERT's highway:
pooler linear + tanh on the [CLS] token, then a linear classifier) gives logits; inference
returns at the first layer whose prediction entropy is below that layer's threshold (DeeBERT's
exit criterion: low entropy = confident); the last layer always returns.

Per-layer entropy thresholds are calibrated in build() on a seeded pool of token sequences so that
each layer's exit takes an equal share of the pool. The weights are random (seeded), not trained.

Outputs: `logits` [1, 3] of the exit taken, `path` (int64 scalar): the exit layer, 1-based.
"""

from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

NAME = "dyn_transformer"
TITLE = "Dynamic-depth transformer (DeeBERT)"
DYNAMIC = ("early exit over depth: an off-ramp classifier on [CLS] after each of 6 encoder "
           "layers, first one with low enough entropy returns; variable-length token input")
ORIGIN = ("Xin et al., DeeBERT (ACL 2020); Zhou et al., PABEE (NeurIPS 2020); "
          "BERT (Devlin et al. 2019)")
OPSET = 17
INPUT_NAMES = ["input_ids"]
OUTPUT_NAMES = ["logits", "path"]
DYNAMIC_AXES = {"input_ids": {1: "T"}}
COVERAGE = "all 6 exits"

CLS_ID = 1
CLASSES = 3
MARGIN = 1e-3  # each entropy checked must be at least this far from its threshold

CONFIGS = {
    # BERT-base is 12 x 768 (too slow for the reference backend): full is 6 layers x 256.
    "small": dict(vocab=128, d=32, heads=2, d_ff=64, layers=6, max_len=32, t_min=2, pool=240),
    "full": dict(vocab=8192, d=256, heads=4, d_ff=1024, layers=6, max_len=128, t_min=2,
                 pool=150),
}


class EncoderLayer(nn.Module):
    """Post-LayerNorm BERT layer."""

    def __init__(self, d: int, heads: int, d_ff: int):
        super().__init__()
        self.d = d
        self.heads = heads
        self.dh = d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d, eps=1e-12)
        self.ff1 = nn.Linear(d, d_ff)
        self.ff2 = nn.Linear(d_ff, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x: Tensor) -> Tensor:
        t = x.size(1)
        q, k, v = self.qkv(x).chunk(3, 2)
        q = q.reshape(1, t, self.heads, self.dh).transpose(1, 2)
        k = k.reshape(1, t, self.heads, self.dh).transpose(1, 2)
        v = v.reshape(1, t, self.heads, self.dh).transpose(1, 2)
        att = F.softmax(torch.matmul(q, k.transpose(2, 3)) / (self.dh ** 0.5), -1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(1, t, self.d)
        x = self.ln1(x + self.proj(o))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class OffRamp(nn.Module):
    """DeeBERT's highway classifier: pooler (linear + tanh) on [CLS], then a linear layer."""

    def __init__(self, d: int, classes: int):
        super().__init__()
        self.pool = nn.Linear(d, d)
        self.cls = nn.Linear(d, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.cls(torch.tanh(self.pool(x[:, 0])))


def _entropy(logits: Tensor) -> Tensor:
    return -(F.softmax(logits, 1) * F.log_softmax(logits, 1)).sum()


class DynDepthEncoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        d = cfg["d"]
        self.tok = nn.Embedding(cfg["vocab"], d)
        self.pos = nn.Embedding(cfg["max_len"], d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList([EncoderLayer(d, cfg["heads"], cfg["d_ff"])
                                     for _ in range(cfg["layers"])])
        self.ramps = nn.ModuleList([OffRamp(d, CLASSES) for _ in range(cfg["layers"])])
        self.n_layers = cfg["layers"]
        self.classes = CLASSES
        self.register_buffer("thresholds", torch.full((cfg["layers"],), -1.0))

    def embed(self, input_ids: Tensor) -> Tensor:
        t = input_ids.size(1)
        return self.ln(self.tok(input_ids) + self.pos.weight[:t].unsqueeze(0))

    def forward(self, input_ids: Tensor) -> Tuple[Tensor, Tensor]:
        x = self.embed(input_ids)
        logits = torch.zeros(1, self.classes)
        k = 0
        for layer, ramp in zip(self.layers, self.ramps):
            x = layer(x)
            logits = ramp(x)
            k += 1
            if k < self.n_layers:
                if bool(_entropy(logits) < self.thresholds[k - 1]):
                    return logits, torch.tensor(k, dtype=torch.int64)
        return logits, torch.tensor(k, dtype=torch.int64)

    @torch.jit.unused
    def entropies(self, input_ids: Tensor) -> List[float]:
        """Entropy of every off-ramp, all layers run (eager only, for calibration)."""
        res = []
        with torch.no_grad():
            x = self.embed(input_ids)
            for layer, ramp in zip(self.layers, self.ramps):
                x = layer(x)
                res.append(float(_entropy(ramp(x))))
        return res


def _decide(ents: List[float], thr: List[float]) -> Tuple[int, float]:
    """(exit layer 1-based, smallest margin of the decisions made)."""
    margin = float("inf")
    for k in range(len(ents) - 1):
        margin = min(margin, abs(ents[k] - thr[k]))
        if ents[k] < thr[k]:
            return k + 1, margin
    return len(ents), margin


def _ids(seed: int, cfg: dict) -> Tensor:
    """Seeded token ids [1, T]: [CLS] then T-1 tokens drawn from a random window ("topic") of
    the vocabulary; T log-uniform in t_min..max_len."""
    g = torch.Generator().manual_seed(14000 + seed)
    u = float(torch.rand(1, generator=g))
    t = int(round(cfg["t_min"] * (cfg["max_len"] / cfg["t_min"]) ** u))
    width = max(4, cfg["vocab"] // 16)
    lo = int(torch.randint(2, cfg["vocab"] - width, (1,), generator=g))
    toks = torch.randint(lo, lo + width, (1, t - 1), generator=g)
    return torch.cat([torch.full((1, 1), CLS_ID, dtype=torch.int64), toks], 1)


_LAST_POOL: list = []  # [(model, config, ids, entropies)]: build's pool, reused by make_inputs


def _pool(model, config: str):
    for m, c, ids, ents in _LAST_POOL:
        if m is model and c == config:
            return ids, ents
    cfg = CONFIGS[config]
    ids = [_ids(i, cfg) for i in range(cfg["pool"])]
    ents = [model.entropies(x) for x in ids]
    _LAST_POOL[:] = [(model, config, ids, ents)]
    return ids, ents


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(1400)
    m = DynDepthEncoder(cfg)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Linear):
                nn.init.normal_(mod.weight, std=1.0 / mod.in_features ** 0.5)
                nn.init.normal_(mod.bias, std=0.02)
            elif isinstance(mod, nn.Embedding):
                nn.init.normal_(mod.weight, std=1.0)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.uniform_(0.8, 1.2)
                mod.bias.uniform_(-0.1, 0.1)
        for ramp in m.ramps:  # logits with a spread of a few units: entropies vary
            nn.init.normal_(ramp.cls.weight, std=4.0 / cfg["d"] ** 0.5)
    m.eval()
    # Calibration: exit k takes 1/(L-k) of the sequences still running at it (lowest entropies),
    # so each of the L exits gets an equal share; thresholds sit between two neighbours.
    _, ents = _pool(m, config)
    e = np.array(ents, dtype=np.float64)
    L = m.n_layers
    remaining = np.arange(len(e))
    thr = []
    for k in range(L - 1):
        v = np.sort(e[remaining, k])
        take = len(v) // (L - k)
        t = 0.5 * (v[take - 1] + v[take])
        thr.append(float(t))
        remaining = remaining[e[remaining, k] >= t]
    thr.append(-1.0)  # not used: the last layer always returns
    m.thresholds.copy_(torch.tensor(thr, dtype=torch.float32))
    return m


def make_inputs(model, config: str, n: int):
    ids, ents = _pool(model, config)
    thr = [float(t) for t in model.thresholds]
    by_exit = {}
    for x, en in zip(ids, ents):
        k, margin = _decide(en, thr)
        if margin >= MARGIN:
            by_exit.setdefault(k, []).append(x)
    missing = [k for k in range(1, model.n_layers + 1) if not by_exit.get(k)]
    if missing:
        raise RuntimeError(f"dyn_transformer/{config}: no robust input leaves at layer(s) {missing}")
    res = []
    i = 0
    while len(res) < n and i < max(len(v) for v in by_exit.values()):  # round robin over exits
        for k in sorted(by_exit, reverse=True):  # the deepest exit first: the exporters' example
            if i < len(by_exit[k]) and len(res) < n:
                res.append((by_exit[k][i],))
        i += 1
    return res


def path_label(outputs) -> str:
    return f"exit {int(outputs[-1])}"


def all_paths(config: str):
    return [f"exit {k}" for k in range(1, CONFIGS[config]["layers"] + 1)]
