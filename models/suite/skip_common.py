"""Shared parts of the block-skipping models of the suite (skipnet_ff, skipnet_rnn, blockdrop).

- the seeded synthetic CIFAR-sized images with a "difficulty" score that the gates / the policy
  are calibrated on (`image`, `calibration_set`);
- weight initialisation helpers (`init_bn`, `conv`) and SkipNet's CIFAR basic block with its
  1x1-conv + BN downsampling shortcut (`SkipNetBlock`; BlockDrop has its own parameter-free one);
- the input selection: `make_inputs` picks images whose executed-block counts spread from the
  fewest to the most found among seeded candidates, rejecting images with a gate probability
  within GATE_MARGIN of 0.5; `path_label` / `all_paths`.

Not a model (no NAME): suite.py only treats files that define NAME as models, and hashes this
file into the stamps of the models that import it.
"""

import math
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

GATE_MARGIN = 1e-3       # candidate inputs with a gate prob within this of 0.5 are rejected
N_CALIB = 384            # calibration images
CALIB_SEED = 100000      # seeds of the calibration images (make_inputs uses 0, 1, 2, ...)
SPAN = (0.02, 0.98)      # skip quantiles of the gates / blocks, spread over this range


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def image(seed: int) -> Tuple[Tensor, float]:
    """A seeded CIFAR-sized image and its difficulty in [0, 1] (the contrast, log-scaled): smooth
    colour structure plus noise, a random brightness per channel."""
    rng = np.random.RandomState(seed)
    d = rng.uniform(0.0, 1.0)
    contrast = math.exp(math.log(0.25) + d * (math.log(3.0) - math.log(0.25)))
    low = torch.from_numpy(rng.standard_normal((1, 3, 4, 4)).astype(np.float32))
    low = F.interpolate(low, size=(32, 32), mode="bilinear", align_corners=False)
    noise = torch.from_numpy(rng.standard_normal((1, 3, 32, 32)).astype(np.float32))
    offset = torch.from_numpy(rng.uniform(-0.5, 0.5, (1, 3, 1, 1)).astype(np.float32))
    x = contrast * (0.7 * low + 0.7 * noise) + offset
    return x.contiguous(), d


def calibration_set() -> Tuple[Tensor, Tensor]:
    """The N_CALIB calibration images as one batch [N, 3, 32, 32] and their difficulties [N]."""
    imgs, ds = zip(*[image(CALIB_SEED + k) for k in range(N_CALIB)])
    return torch.cat(imgs, 0), torch.tensor(ds, dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Model parts
# --------------------------------------------------------------------------------------------

def init_bn(bn: nn.BatchNorm2d, gamma: Tuple[float, float]):
    with torch.no_grad():
        bn.running_mean.uniform_(-0.1, 0.1)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(*gamma)
        bn.bias.uniform_(-0.1, 0.1)


def conv(cin, cout, k, stride):
    c = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
    nn.init.kaiming_normal_(c.weight, nonlinearity="relu")
    return c


class SkipNetBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus shortcut, ReLU. The shortcut of a downsampling block is a
    1x1 strided conv + BN (SkipNet's CIFAR ResNets); a skipped block applies only the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = conv(cin, cout, 3, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv(cout, cout, 3, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        init_bn(self.bn1, (0.6, 1.0))
        init_bn(self.bn2, (0.2, 0.4))  # small residual branches: no explosion over the depth
        if stride != 1 or cin != cout:
            bn = nn.BatchNorm2d(cout)
            init_bn(bn, (0.8, 1.0))
            self.shortcut = nn.Sequential(conv(cin, cout, 1, stride), bn)
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


# --------------------------------------------------------------------------------------------
# Inputs and paths
# --------------------------------------------------------------------------------------------

def _spread_pick(counts: List[int], n: int) -> List[int]:
    """Indices of n items whose counts spread evenly from the smallest to the largest count: for
    each of n evenly spaced target counts, the first unused item nearest to it. Sorted by count."""
    if len(counts) <= n:
        return sorted(range(len(counts)), key=lambda i: (counts[i], i))
    lo, hi = min(counts), max(counts)
    used = set()
    for j in range(n):
        target = lo + (hi - lo) * j / max(1, n - 1)
        best = min((i for i in range(len(counts)) if i not in used),
                   key=lambda i: (abs(counts[i] - target), i))
        used.add(best)
    return sorted(used, key=lambda i: (counts[i], i))


def make_inputs(model: nn.Module, n: int, name: str,
                keep_at_half: bool = False) -> List[Tuple[Tensor, ...]]:
    """n seeded images whose executed-block counts spread from the fewest to the most found among
    the candidates; images with a gate probability within GATE_MARGIN of 0.5 are rejected.

    `model.batched_gates(images)` gives the probabilities [N, blocks] of a batch (each image on its
    own path), the model's second output those of one image. A block runs iff its probability is
    > 0.5, or >= 0.5 with keep_at_half (BlockDrop)."""
    def runs(p: Tensor) -> Tensor:
        return p >= 0.5 if keep_at_half else p > 0.5

    cands = [image(k)[0] for k in range(max(20 * n, 400))]
    probs = model.batched_gates(torch.cat(cands, 0))
    pool = [i for i in range(len(cands)) if float((probs[i] - 0.5).abs().min()) > 2 * GATE_MARGIN]
    while True:
        counts = [int(runs(probs[i]).sum()) for i in pool]
        picks = [pool[j] for j in _spread_pick(counts, n)]
        bad = []
        for i in picks:  # check the single-image forward (the reference) too
            with torch.no_grad():
                p = model(cands[i])[1].reshape(-1)
            same = torch.equal(runs(p), runs(probs[i]))
            if float((p - 0.5).abs().min()) <= GATE_MARGIN or not same:
                bad.append(i)
        if not bad:
            return [(cands[i],) for i in picks]
        pool = [i for i in pool if i not in bad]
        if len(pool) < n:
            raise RuntimeError(f"{name}: only {len(pool)} usable inputs")


def path_label(outputs) -> str:
    path = outputs[-1]
    bits = "".join(str(int(v)) for v in path.reshape(-1).tolist())
    return f"{bits.count('1')}/{len(bits)} blocks {bits}"


def all_paths(config: str):
    return None
