"""SkipNet with feed-forward gates on a CIFAR ResNet-38 (Wang et al., ECCV 2018).

ResNet-38 for CIFAR: a 3x3 stem conv, then three stages of 6 basic residual blocks ([6, 6, 6],
16/32/64 channels at full size, stride 2 at the first block of stages 2 and 3), global average pool,
linear classifier. Every one of the 18 blocks has its own small feed-forward gate (the paper's
FFGate-II: a 3x3 conv with stride 2 + batch norm + ReLU, global average pool, a linear layer to one
logit, sigmoid) reading the block's input. At inference the gate is a hard threshold: the block runs
iff its gate probability is > 0.5; a skipped block passes its input on through its shortcut
(identity, or the 1x1 strided conv + batch norm of a downsampling block), as in SkipNet.

Outputs: logits (1x10), gate_probs (18 gate probabilities, one per block, all computed) and path
(int64 [18], 1 where the block ran, 0 where it was skipped; set inside the If branches).
Configs: `full` as above (gate convs with 10 channels; ~87 MMACs with every block run); `small` the
same 18 gated blocks at 4/8/8 channels, gate convs with 4 (~4 MMACs).

The weights are random (seeded); the gates are calibrated on seeded images whose "difficulty"
(contrast) varies: each gate's linear layer gets a component fitted to that difficulty score (as a
trained gate correlates with how hard an image is) and its bias is set to a quantile of its logit
over the calibration images, the quantiles spread from 2% to 98% over the blocks (in a seeded random
order). So easy images skip most blocks and hard ones run most, with the blocks' patterns varying.
"""

import math
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

NAME = "skipnet_ff"
TITLE = "SkipNet ResNet-38, feed-forward gates"
DYNAMIC = ("block skipping: a conv/pool/linear gate per block, block runs iff its prob > 0.5 "
           "(18 gated blocks)")
ORIGIN = ("Wang et al., SkipNet: Learning Dynamic Routing in Convolutional Networks (ECCV 2018), "
          "FFGate-II; ResNet-38 for CIFAR (He et al. 2016)")
OPSET = 17
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["logits", "gate_probs", "path"]
COVERAGE = "executed blocks span <=20% to >=90% of the 18 (few to most), varied skip patterns"

SEED = 38
LAYERS = [6, 6, 6]
CONFIGS = {
    # widths of the three stages, channels of each gate's conv
    "full": {"widths": (16, 32, 64), "gate_channels": 10},
    "small": {"widths": (4, 8, 8), "gate_channels": 4},
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


class FFGate(nn.Module):
    """FFGate-II: conv3x3 stride 2 + BN + ReLU, global average pool, linear -> 1, sigmoid."""

    def __init__(self, cin: int, channels: int):
        super().__init__()
        self.conv = _conv(cin, channels, 3, 2)
        self.bn = nn.BatchNorm2d(channels)
        _init_bn(self.bn, (0.6, 1.0))
        self.fc = nn.Linear(channels, 1)

    def features(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x))).mean(dim=[2, 3])

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.fc(self.features(x))).view(1)


class SkipNetFF(nn.Module):
    def __init__(self, widths=(16, 32, 64), gate_channels: int = 10, layers=LAYERS,
                 classes: int = CLASSES):
        super().__init__()
        self.stem = _conv(3, widths[0], 3, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        _init_bn(self.stem_bn, (0.6, 1.0))
        blocks, gates = [], []
        cin = widths[0]
        for s, (w, n) in enumerate(zip(widths, layers)):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                gates.append(FFGate(cin, gate_channels))
                blocks.append(BasicBlock(cin, w, stride))
                cin = w
        self.blocks = nn.ModuleList(blocks)
        self.gates = nn.ModuleList(gates)
        self.fc = nn.Linear(cin, classes)

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        x = F.relu(self.stem_bn(self.stem(image)))
        probs = torch.zeros(0)
        path = torch.zeros(0, dtype=torch.int64)
        for block, gate in zip(self.blocks, self.gates):
            p = gate(x)
            probs = torch.cat([probs, p], 0)
            if bool(p[0] > 0.5):
                x = block(x)
                path = torch.cat([path, torch.ones(1, dtype=torch.int64)], 0)
            else:
                x = block.shortcut(x)
                path = torch.cat([path, torch.zeros(1, dtype=torch.int64)], 0)
        logits = self.fc(x.mean(dim=[2, 3]))
        return logits, probs, path

    # ---- eager-only helpers (not scripted) ----

    def batched_gates(self, images: Tensor) -> Tensor:
        """The gate probabilities [N, 18] of a batch of images, each image taking its own path
        (the same decisions as forward, computed for many images at once)."""
        with torch.no_grad():
            x = F.relu(self.stem_bn(self.stem(images)))
            cols = []
            for block, gate in zip(self.blocks, self.gates):
                p = torch.sigmoid(gate.fc(gate.features(x)))[:, 0]
                cols.append(p)
                keep = (p > 0.5).view(-1, 1, 1, 1)
                x = torch.where(keep, block(x), block.shortcut(x))
            return torch.stack(cols, 1)

    def calibrate(self, images: Tensor, difficulty: Tensor, seed: int):
        """Fits each gate's linear layer to the difficulty score and sets its bias to a quantile of
        its logit over the images (in block order: a gate sees the paths chosen before it)."""
        g = torch.Generator().manual_seed(seed)
        n = len(self.blocks)
        qs = torch.linspace(SPAN[0], SPAN[1], n)[torch.randperm(n, generator=g)]
        target = (difficulty - difficulty.mean()) / difficulty.std()
        with torch.no_grad():
            x = F.relu(self.stem_bn(self.stem(images)))
            for i, (block, gate) in enumerate(zip(self.blocks, self.gates)):
                f = gate.features(x)
                fc = f - f.mean(0, keepdim=True)
                scale = fc.std(0, keepdim=True) + 1e-6
                a = torch.cat([fc / scale, torch.ones(len(f), 1)], 1)
                sol = torch.linalg.lstsq(a.double(), target.view(-1, 1).double() * 4.0).solution
                sol = sol[:-1, 0].float() / scale[0]
                noise = torch.randn(sol.shape, generator=g) * sol.abs().mean() * 0.15
                gate.fc.weight.copy_((sol + noise).view(1, -1))
                z = f @ gate.fc.weight[0]
                gate.fc.bias.fill_(-float(torch.quantile(z, float(qs[i]))))
                keep = (z + gate.fc.bias[0] > 0).view(-1, 1, 1, 1)
                x = torch.where(keep, block(x), block.shortcut(x))


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(SEED)
    model = SkipNetFF(cfg["widths"], cfg["gate_channels"])
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
