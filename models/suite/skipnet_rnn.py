"""SkipNet with the recurrent gate on a CIFAR ResNet-38 (Wang et al., ECCV 2018).

ResNet-38 for CIFAR: a 3x3 stem conv, then three stages of 6 basic residual blocks ([6, 6, 6],
16/32/64 channels at full size, stride 2 at the first block of stages 2 and 3), global average pool,
linear classifier. Before each of the 18 blocks the recurrent gate (the paper's RNNGate) reads the
block's input: global average pool, a linear projection to a 10-d embedding (one projection per
input width, i.e. shared by the blocks whose inputs have the same number of channels), one step of
an LSTM (10 hidden units, shared by all blocks, its state carried from block to block; written with
nn.Linear + sigmoid/tanh), a linear layer to one logit (shared; plus a per-block calibration bias),
sigmoid. At inference the gate is a hard threshold: the block runs iff its probability is > 0.5; a
skipped block passes its input on through its shortcut (identity, or the 1x1 strided conv + batch
norm of a downsampling block), as in SkipNet.

Outputs: logits (1x10), gate_probs (18 gate probabilities, one per block, all computed) and path
(int64 [18], 1 where the block ran, 0 where it was skipped; set inside the If branches).
Exported at opset 11.
Configs: `full` as above (~83 MMACs with every block run); `small` the same 18 gated blocks and gate
(10-d embedding, 10 LSTM units) at 4/8/8 channels (~4 MMACs).

The weights are random (seeded); the gate is calibrated on seeded images whose "difficulty"
(contrast) varies: one embedding row of each projection and the LSTM's output layer are fitted to
that difficulty score (as a trained gate correlates with how hard an image is), and the per-block
biases are set, block after block, to quantiles of the gate logit over the calibration images,
spread from 2% to 98% over the blocks (in a seeded random order). So easy images skip most blocks
and hard ones run most, with the blocks' patterns varying.
"""

import math
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

NAME = "skipnet_rnn"
TITLE = "SkipNet ResNet-38, recurrent (LSTM) gate"
DYNAMIC = ("block skipping: a shared LSTM gate reads each block's pooled input, block runs iff "
           "prob > 0.5 (18 gated blocks)")
ORIGIN = ("Wang et al., SkipNet: Learning Dynamic Routing in Convolutional Networks (ECCV 2018), "
          "RNNGate; ResNet-38 for CIFAR (He et al. 2016)")
OPSET = 11
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["logits", "gate_probs", "path"]
COVERAGE = "executed blocks span <=20% to >=90% of the 18 (few to most), varied skip patterns"

SEED = 381
LAYERS = [6, 6, 6]
CONFIGS = {
    "full": {"widths": (16, 32, 64), "embed": 10, "hidden": 10},
    "small": {"widths": (4, 8, 8), "embed": 10, "hidden": 10},
}
CLASSES = 10
GATE_MARGIN = 1e-3       # candidate inputs with a gate prob within this of 0.5 are rejected
N_CALIB = 384            # calibration images
CALIB_SEED = 100000      # seeds of the calibration images (make_inputs uses 0, 1, 2, ...)
SPAN = (0.02, 0.98)      # skip quantiles of the gates, spread over this range


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def _image(seed: int) -> Tuple[Tensor, float]:
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


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

def _init_bn(bn: nn.BatchNorm2d, gamma: Tuple[float, float]):
    with torch.no_grad():
        bn.running_mean.uniform_(-0.1, 0.1)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(*gamma)
        bn.bias.uniform_(-0.1, 0.1)


def _conv(cin, cout, k, stride):
    c = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
    nn.init.kaiming_normal_(c.weight, nonlinearity="relu")
    return c


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus shortcut, ReLU. The shortcut of a downsampling block is a
    1x1 strided conv + BN (SkipNet's CIFAR ResNets); a skipped block applies only the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = _conv(cin, cout, 3, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = _conv(cout, cout, 3, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        _init_bn(self.bn1, (0.6, 1.0))
        _init_bn(self.bn2, (0.2, 0.4))  # small residual branches: no explosion over the depth
        if stride != 1 or cin != cout:
            bn = nn.BatchNorm2d(cout)
            _init_bn(bn, (0.8, 1.0))
            self.shortcut = nn.Sequential(_conv(cin, cout, 1, stride), bn)
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class LSTMGate(nn.Module):
    """The shared part of the recurrent gate: one LSTM step (nn.Linear + sigmoid/tanh; gate order
    i, f, g, o) and the output layer to one logit."""

    def __init__(self, embed: int, hidden: int):
        super().__init__()
        self.ih = nn.Linear(embed, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden, bias=False)
        self.out = nn.Linear(hidden, 1)
        self.hidden = hidden

    def step(self, e: Tensor, h: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
        gates = self.ih(e) + self.hh(h)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class SkipNetRNN(nn.Module):
    def __init__(self, widths=(16, 32, 64), embed: int = 10, hidden: int = 10, layers=LAYERS,
                 classes: int = CLASSES):
        super().__init__()
        self.stem = _conv(3, widths[0], 3, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        _init_bn(self.stem_bn, (0.6, 1.0))
        # Blocks grouped by the width of their INPUT (the first block of a stage reads the previous
        # stage's width): one gate projection per group.
        groups: List[List[nn.Module]] = [[] for _ in widths]
        cin = widths[0]
        for s, (w, n) in enumerate(zip(widths, layers)):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                groups[s - 1 if (s > 0 and b == 0) else s].append(BasicBlock(cin, w, stride))
                cin = w
        self.groups = nn.ModuleList([nn.ModuleList(g) for g in groups])
        self.projs = nn.ModuleList([nn.Linear(w, embed) for w in widths])
        self.gate = LSTMGate(embed, hidden)
        self.n_blocks = sum(layers)
        self.gate_bias = nn.Parameter(torch.zeros(self.n_blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        x = F.relu(self.stem_bn(self.stem(image)))
        h = torch.zeros(1, self.gate.hidden)
        c = torch.zeros(1, self.gate.hidden)
        probs = torch.zeros(0)
        path = torch.zeros(0, dtype=torch.int64)
        i = 0
        for group, proj in zip(self.groups, self.projs):
            for block in group:
                h, c = self.gate.step(proj(x.mean(dim=[2, 3])), h, c)
                p = torch.sigmoid(self.gate.out(h).view(1) + self.gate_bias[i].view(1))
                probs = torch.cat([probs, p], 0)
                if bool(p[0] > 0.5):
                    x = block(x)
                    path = torch.cat([path, torch.ones(1, dtype=torch.int64)], 0)
                else:
                    x = block.shortcut(x)
                    path = torch.cat([path, torch.zeros(1, dtype=torch.int64)], 0)
                i += 1
        logits = self.fc(x.mean(dim=[2, 3]))
        return logits, probs, path

    # ---- eager-only helpers (not scripted) ----

    def _blocks(self):
        for group, proj in zip(self.groups, self.projs):
            for block in group:
                yield block, proj

    def batched_gates(self, images: Tensor) -> Tensor:
        """The gate probabilities [N, 18] of a batch of images, each image taking its own path
        (the same decisions as forward, computed for many images at once)."""
        with torch.no_grad():
            x = F.relu(self.stem_bn(self.stem(images)))
            h = torch.zeros(len(images), self.gate.hidden)
            c = torch.zeros(len(images), self.gate.hidden)
            cols = []
            for i, (block, proj) in enumerate(self._blocks()):
                h, c = self.gate.step(proj(x.mean(dim=[2, 3])), h, c)
                p = torch.sigmoid(self.gate.out(h)[:, 0] + self.gate_bias[i])
                cols.append(p)
                x = torch.where((p > 0.5).view(-1, 1, 1, 1), block(x), block.shortcut(x))
            return torch.stack(cols, 1)

    def calibrate(self, images: Tensor, difficulty: Tensor, seed: int):
        g = torch.Generator().manual_seed(seed)
        n = self.n_blocks
        qs = torch.linspace(SPAN[0], SPAN[1], n)[torch.randperm(n, generator=g)]
        target = (difficulty - difficulty.mean()) / difficulty.std()
        nimg = len(images)

        def fit(feats: Tensor, y: Tensor) -> Tuple[Tensor, float]:
            """Least-squares weights and bias mapping feats to y."""
            a = torch.cat([feats, torch.ones(len(feats), 1)], 1)
            sol = torch.linalg.lstsq(a.double(), y.view(-1, 1).double()).solution[:, 0].float()
            return sol[:-1], float(sol[-1])

        with torch.no_grad():
            # 1. Embedding row 0 of each projection predicts the difficulty (all blocks run).
            x = F.relu(self.stem_bn(self.stem(images)))
            pooled = {k: [] for k in range(len(self.projs))}
            for k, group in enumerate(self.groups):
                for block in group:
                    pooled[k].append(x.mean(dim=[2, 3]))
                    x = block(x)
            for k, proj in enumerate(self.projs):
                f = torch.cat(pooled[k], 0)
                w, b = fit(f, target.repeat(len(pooled[k])) * 2.0)
                proj.weight[0] = w
                proj.bias[0] = b
            # 2. The output layer predicts the difficulty from the LSTM state (all blocks run).
            x = F.relu(self.stem_bn(self.stem(images)))
            h = torch.zeros(nimg, self.gate.hidden)
            c = torch.zeros(nimg, self.gate.hidden)
            hs = []
            for block, proj in self._blocks():
                h, c = self.gate.step(proj(x.mean(dim=[2, 3])), h, c)
                hs.append(h)
                x = block(x)
            w, b = fit(torch.cat(hs, 0), target.repeat(n) * 4.0)
            noise = torch.randn(w.shape, generator=g) * w.abs().mean() * 0.15
            self.gate.out.weight[0] = w + noise
            self.gate.out.bias[0] = b
            # 3. Per-block biases, block after block, with the decisions taken.
            x = F.relu(self.stem_bn(self.stem(images)))
            h = torch.zeros(nimg, self.gate.hidden)
            c = torch.zeros(nimg, self.gate.hidden)
            for i, (block, proj) in enumerate(self._blocks()):
                h, c = self.gate.step(proj(x.mean(dim=[2, 3])), h, c)
                z = self.gate.out(h)[:, 0]
                self.gate_bias[i] = -float(torch.quantile(z, float(qs[i])))
                keep = (z + self.gate_bias[i] > 0).view(-1, 1, 1, 1)
                x = torch.where(keep, block(x), block.shortcut(x))


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(SEED)
    model = SkipNetRNN(cfg["widths"], cfg["embed"], cfg["hidden"])
    model.eval()
    imgs, ds = zip(*[_image(CALIB_SEED + k) for k in range(N_CALIB)])
    model.calibrate(torch.cat(imgs, 0), torch.tensor(ds, dtype=torch.float32), SEED + 1)
    return model


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


def make_inputs(model: nn.Module, config: str, n: int) -> List[Tuple[Tensor, ...]]:
    """n seeded images whose executed-block counts spread from the fewest to the most found among
    the candidates; images with a gate probability within GATE_MARGIN of 0.5 are rejected."""
    cands = [_image(k)[0] for k in range(max(20 * n, 400))]
    probs = model.batched_gates(torch.cat(cands, 0))
    pool = [i for i in range(len(cands)) if float((probs[i] - 0.5).abs().min()) > 2 * GATE_MARGIN]
    while True:
        counts = [int((probs[i] > 0.5).sum()) for i in pool]
        picks = [pool[j] for j in _spread_pick(counts, n)]
        bad = []
        for i in picks:  # check the single-image forward (the reference) too
            with torch.no_grad():
                p = model(cands[i])[1]
            same = torch.equal(p > 0.5, probs[i] > 0.5)
            if float((p - 0.5).abs().min()) <= GATE_MARGIN or not same:
                bad.append(i)
        if not bad:
            return [(cands[i],) for i in picks]
        pool = [i for i in pool if i not in bad]
        if len(pool) < n:
            raise RuntimeError(f"{NAME}: only {len(pool)} usable inputs")


def path_label(outputs) -> str:
    path = outputs[-1]
    bits = "".join(str(int(v)) for v in path.reshape(-1).tolist())
    return f"{bits.count('1')}/{len(bits)} blocks {bits}"


def all_paths(config: str):
    return None
