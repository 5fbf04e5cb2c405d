"""Adaptive computation time (Graves, Adaptive Computation Time for Recurrent Neural Networks,
arXiv 1603.08983, 2016), written from the paper's description.

A recurrent cell (GRU-style, written out in linear layers) reads a short input sequence
x [1, T, D]. At each time step t it "ponders": it applies the cell repeatedly to the same input
(augmented with a binary flag that is 1 on the first ponder step only), starting from the previous
time step's state, and after each ponder step n a halting unit (linear + sigmoid on the new state)
gives a probability h_t^n. Pondering stops at the first N(t) where the halting probabilities sum
to at least 1 - eps, or at the step limit M. The weights are p_t^n = h_t^n for n < N(t) and the
remainder R(t) = 1 - sum_{n<N(t)} h_t^n for the last step; the state passed on is the weighted mean
sum_n p_t^n s_t^n and the output y_t is a linear read-out of it. The ponder cost is
sum_t (N(t) + R(t)). The ponder loop is a while loop with a data-dependent trip count inside a
loop over the time steps.

The halting unit's bias is calibrated in build() on a seeded pool of sequences so that every ponder
count from 1 to M occurs. The weights are random (seeded), not trained.

Outputs: `y` [1, T, D_out], `ponder_cost` [1], `path` (int64 [T]): N(t) for every time step.
"""

from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn

Tensor = torch.Tensor

NAME = "act"
TITLE = "Adaptive computation time (ACT) RNN"
DYNAMIC = ("ponders each time step: a while loop runs the cell until the halting probabilities "
           "sum to 1 - eps (or M steps), inside a loop over a variable-length sequence")
ORIGIN = "Graves, Adaptive Computation Time for Recurrent Neural Networks (arXiv 1603.08983, 2016)"
OPSET = 11
INPUT_NAMES = ["x"]
OUTPUT_NAMES = ["y", "ponder_cost", "path"]
DYNAMIC_AXES = {"x": {1: "T"}, "y": {1: "T"}, "path": {0: "T"}}

EPS = 0.01  # Graves' epsilon
MARGIN = 1e-3  # every halting decision: |sum of halting probabilities - (1 - eps)| >= MARGIN

CONFIGS = {
    # Graves' experiments use a few tens to 128 hidden units (parity: 128 tanh units).
    "small": dict(d_in=4, hidden=16, d_out=4, max_steps=5, t_max=4, pool=400),
    "full": dict(d_in=16, hidden=128, d_out=16, max_steps=8, t_max=8, pool=600),
}


class ACTCell(nn.Module):
    def __init__(self, d_in: int, hidden: int, d_out: int, max_steps: int, eps: float):
        super().__init__()
        self.hidden = hidden
        self.d_out = d_out
        self.max_steps = max_steps
        self.eps = eps
        self.zr = nn.Linear(d_in + 1 + hidden, 2 * hidden)
        self.cand = nn.Linear(d_in + 1 + hidden, hidden)
        self.halt = nn.Linear(hidden, 1)
        self.out = nn.Linear(hidden, d_out)

    def cell(self, x: Tensor, h: Tensor) -> Tensor:
        """A GRU step written in linear layers (scripted GRUCell does not export)."""
        z, r = torch.sigmoid(self.zr(torch.cat([x, h], 1))).chunk(2, 1)
        c = torch.tanh(self.cand(torch.cat([x, r * h], 1)))
        return (1.0 - z) * h + z * c

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        s = torch.zeros(1, self.hidden)
        ys = torch.zeros(0, self.d_out)
        steps = torch.zeros(0, dtype=torch.int64)
        cost = torch.zeros(1)
        for t in range(x.size(1)):
            xt = x[:, t]
            flag = torch.ones(1, 1)
            h = s
            acc = torch.zeros(1, self.hidden)
            hsum = torch.zeros(1, 1)
            w = torch.zeros(1, 1)
            n = 0
            count = torch.zeros(1, dtype=torch.int64)
            going = True
            while going:
                h = self.cell(torch.cat([xt, flag], 1), h)
                p = torch.sigmoid(self.halt(h))
                n += 1
                count = count + 1
                if n >= self.max_steps or bool((hsum + p >= 1.0 - self.eps).all()):
                    w = 1.0 - hsum  # the remainder R(t)
                    going = False
                else:
                    w = p
                acc = acc + w * h
                hsum = hsum + w
                flag = torch.zeros(1, 1)
            s = acc
            ys = torch.cat([ys, self.out(s)], 0)
            steps = torch.cat([steps, count], 0)
            cost = cost + count.to(torch.float32) + w.reshape(1)
        return ys.unsqueeze(0), cost, steps

    @torch.jit.unused
    def ponder_counts(self, x: Tensor) -> Tuple[List[int], float]:
        """(N(t) per time step, the smallest margin of the halting decisions): the forward's
        computation step by step (eager only, for calibration and input selection)."""
        counts, margin = [], float("inf")
        with torch.no_grad():
            s = torch.zeros(1, self.hidden)
            for t in range(x.size(1)):
                xt = x[:, t]
                flag = torch.ones(1, 1)
                h, acc, hsum = s, torch.zeros(1, self.hidden), torch.zeros(1, 1)
                n = 0
                while True:
                    h = self.cell(torch.cat([xt, flag], 1), h)
                    p = torch.sigmoid(self.halt(h))
                    n += 1
                    if n >= self.max_steps:
                        w = 1.0 - hsum
                        acc = acc + w * h
                        break
                    v = float(hsum + p)
                    margin = min(margin, abs(v - (1.0 - self.eps)))
                    if v >= 1.0 - self.eps:
                        w = 1.0 - hsum
                        acc = acc + w * h
                        break
                    acc = acc + p * h
                    hsum = hsum + p
                    flag = torch.zeros(1, 1)
                s = acc
                counts.append(n)
        return counts, margin


def _sequence(seed: int, cfg: dict) -> Tensor:
    """A seeded sequence [1, T, d_in]: T from 1 to t_max (T = 1 for a third of them), each time
    step with its own random scale (which spreads the halting probabilities)."""
    g = torch.Generator().manual_seed(13000 + seed)
    t = 1 if seed % 3 == 0 else int(torch.randint(1, cfg["t_max"] + 1, (1,), generator=g))
    scale = torch.rand(1, t, 1, generator=g) * 3.0 + 0.05
    return (torch.randn(1, t, cfg["d_in"], generator=g) * scale).contiguous()


def _pool(config: str):
    cfg = CONFIGS[config]
    return [_sequence(i, cfg) for i in range(cfg["pool"])]


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(1300)
    m = ACTCell(cfg["d_in"], cfg["hidden"], cfg["d_out"], cfg["max_steps"], EPS)
    with torch.no_grad():
        for mod in (m.zr, m.cand, m.out):
            nn.init.normal_(mod.weight, std=1.0 / mod.in_features ** 0.5)
            nn.init.normal_(mod.bias, std=0.1)
        # a halting unit that reads the state strongly: its probabilities range from ~0 to ~1
        nn.init.normal_(m.halt.weight, std=12.0 / cfg["hidden"] ** 0.5)
        m.halt.bias.zero_()
    m.eval()
    # Calibrate the halting bias: among a grid, take the one whose rarest ponder count (over the
    # single-step sequences of the pool, each robust) is most frequent.
    pool = [x for x in _pool(config) if x.size(1) == 1]
    best = None
    for b in np.linspace(-8.0, 8.0, 33):
        with torch.no_grad():
            m.halt.bias.fill_(float(b))
        hist = np.zeros(cfg["max_steps"] + 1, dtype=np.int64)
        for x in pool:
            counts, margin = m.ponder_counts(x)
            if margin >= MARGIN:
                hist[counts[0]] += 1
        score = int(hist[1:].min())
        if best is None or score > best[0]:
            best = (score, float(b))
    with torch.no_grad():
        m.halt.bias.fill_(best[1])
    return m


def _label(counts) -> str:
    return "steps " + ",".join(str(int(c)) for c in counts)


def make_inputs(model, config: str, n: int):
    want = all_paths(config)
    found = {}
    rest: List[Tensor] = []
    for x in _pool(config):
        counts, margin = model.ponder_counts(x)
        if margin < MARGIN:
            continue
        lab = _label(counts)
        if lab in want and lab not in found:
            found[lab] = x
        elif x.size(1) > 1:
            rest.append(x)
    missing = [p for p in want if p not in found]
    if missing:
        raise RuntimeError(f"act/{config}: no robust single-step input for {missing}")
    res = []
    # interleave the longer sequences with the single-step ones (a long one first: the
    # exporters' example)
    singles = [found[p] for p in want]
    while len(res) < n and (singles or rest):
        if rest:
            res.append((rest.pop(0),))
        if singles and len(res) < n:
            res.append((singles.pop(0),))
    for x in singles:  # every required single-step case, even beyond n
        res.append((x,))
    return res


def path_label(outputs) -> str:
    return _label(outputs[-1].reshape(-1).tolist())


def all_paths(config: str):
    # one single-step sequence for each ponder count; longer sequences mix counts
    return [f"steps {k}" for k in range(1, CONFIGS[config]["max_steps"] + 1)]


COVERAGE = "ponder counts 1..M each (M = 5 small, 8 full), on sequences of 1 to 4 / 8 steps"
