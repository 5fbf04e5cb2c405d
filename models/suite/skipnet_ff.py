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

import os
import sys
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import skip_common as S  # noqa: E402  (shared with the other block-skipping models)

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


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

class FFGate(nn.Module):
    """FFGate-II: conv3x3 stride 2 + BN + ReLU, global average pool, linear -> 1, sigmoid."""

    def __init__(self, cin: int, channels: int):
        super().__init__()
        self.conv = S.conv(cin, channels, 3, 2)
        self.bn = nn.BatchNorm2d(channels)
        S.init_bn(self.bn, (0.6, 1.0))
        self.fc = nn.Linear(channels, 1)

    def features(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x))).mean(dim=[2, 3])

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.fc(self.features(x))).view(1)


class SkipNetFF(nn.Module):
    def __init__(self, widths=(16, 32, 64), gate_channels: int = 10, layers=LAYERS,
                 classes: int = CLASSES):
        super().__init__()
        self.stem = S.conv(3, widths[0], 3, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        S.init_bn(self.stem_bn, (0.6, 1.0))
        blocks, gates = [], []
        cin = widths[0]
        for s, (w, n) in enumerate(zip(widths, layers)):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                gates.append(FFGate(cin, gate_channels))
                blocks.append(S.SkipNetBlock(cin, w, stride))
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
        qs = torch.linspace(S.SPAN[0], S.SPAN[1], n)[torch.randperm(n, generator=g)]
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
    model.calibrate(*S.calibration_set(), SEED + 1)
    return model


# --------------------------------------------------------------------------------------------
# Inputs and paths
# --------------------------------------------------------------------------------------------

def make_inputs(model: nn.Module, config: str, n: int) -> List[Tuple[Tensor, ...]]:
    """n seeded images whose executed-block counts spread from the fewest to the most found among
    the candidates; images with a gate probability within S.GATE_MARGIN of 0.5 are rejected."""
    return S.make_inputs(model, n, NAME)


path_label = S.path_label
all_paths = S.all_paths
