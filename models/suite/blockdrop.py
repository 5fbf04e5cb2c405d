"""BlockDrop on a CIFAR ResNet-110 (Wu et al., CVPR 2018).

The policy network, a small ResNet-8 (3x3 stem conv, one basic block per stage at 16/32/64 channels,
global average pool, linear layer), looks at the image once and emits one keep probability
(sigmoid) per residual block of the main network: a CIFAR ResNet-110, three stages of 18 basic
blocks ([18, 18, 18], 16/32/64 channels, stride 2 at the first block of stages 2 and 3; 54 blocks).
At inference the policy is binarised: block b runs iff its probability is >= 0.5; a dropped block
passes its input on through its shortcut only (identity, or BlockDrop's parameter-free downsampling
shortcut of the first block of a stage: 2x2 average pool + zero channels), in a for/if over the
blocks.

Outputs: logits (1x10), keep_probs (1x54, the policy's probabilities) and path (int64 [54], 1 where
the block ran, 0 where it was dropped; set inside the If branches).
Configs: `full` as above (~265 MMACs with every block run); `small` the same 54 blocks and policy at
4/8/8 channels (~13 MMACs with every block run).

The weights are random (seeded); the policy's output layer is calibrated on seeded images whose
"difficulty" (contrast) varies: its rows get a component fitted to that difficulty score (as a
trained policy keeps more blocks for harder images) plus noise, and its biases are set to quantiles
of the logits over the calibration images, spread from 2% to 98% over the blocks (in a seeded
random order). So easy images drop most blocks and hard ones keep most, with varying patterns.
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

NAME = "blockdrop"
TITLE = "BlockDrop ResNet-110"
DYNAMIC = ("block dropping: a ResNet-8 policy net emits 54 keep probs, blocks below 0.5 are "
           "skipped (for/if over 54 blocks)")
ORIGIN = ("Wu et al., BlockDrop: Dynamic Inference Paths in Residual Networks (CVPR 2018); "
          "ResNet-110 for CIFAR (He et al. 2016)")
OPSET = 17
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["logits", "keep_probs", "path"]
COVERAGE = "executed blocks span <=20% to >=90% of the 54 (few to most), varied drop patterns"

SEED = 110
LAYERS = [18, 18, 18]
CONFIGS = {
    "full": {"widths": (16, 32, 64), "policy_widths": (16, 32, 64)},
    "small": {"widths": (4, 8, 8), "policy_widths": (4, 8, 8)},
}
CLASSES = 10


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

class ChannelPad(nn.Module):
    """Appends `extra` (<= the input's channels) zero channels."""

    def __init__(self, extra: int):
        super().__init__()
        self.extra = extra

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, torch.zeros_like(x[:, :self.extra])], 1)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus shortcut, ReLU. The shortcut of a downsampling block is
    BlockDrop's DownsampleB (average pool + zero channels, no parameters); a dropped block applies
    only the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, residual_gamma=(0.1, 0.25)):
        super().__init__()
        self.conv1 = S.conv(cin, cout, 3, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = S.conv(cout, cout, 3, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        S.init_bn(self.bn1, (0.6, 1.0))
        S.init_bn(self.bn2, residual_gamma)  # small residual branches: no explosion over the depth
        parts = []
        if stride != 1:
            parts.append(nn.AvgPool2d(stride))
        if cout > cin:
            assert cout - cin <= cin
            parts.append(ChannelPad(cout - cin))
        self.shortcut = nn.Sequential(*parts)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


def _stages(widths, layers, residual_gamma) -> List[nn.Module]:
    blocks = []
    cin = widths[0]
    for s, (w, n) in enumerate(zip(widths, layers)):
        for b in range(n):
            blocks.append(BasicBlock(cin, w, 2 if (s > 0 and b == 0) else 1, residual_gamma))
            cin = w
    return blocks


class Policy(nn.Module):
    """ResNet-8 policy network: stem, [1, 1, 1] basic blocks, average pool, linear -> n logits."""

    def __init__(self, widths, n_blocks: int):
        super().__init__()
        self.stem = S.conv(3, widths[0], 3, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        S.init_bn(self.stem_bn, (0.6, 1.0))
        self.body = nn.Sequential(*_stages(widths, [1, 1, 1], (0.4, 0.8)))
        self.fc = nn.Linear(widths[-1], n_blocks)

    def features(self, image: Tensor) -> Tensor:
        x = F.relu(self.stem_bn(self.stem(image)))
        return self.body(x).mean(dim=[2, 3])

    def forward(self, image: Tensor) -> Tensor:
        return torch.sigmoid(self.fc(self.features(image)))


class BlockDrop(nn.Module):
    def __init__(self, widths=(16, 32, 64), policy_widths=(16, 32, 64), layers=LAYERS,
                 classes: int = CLASSES):
        super().__init__()
        self.policy = Policy(policy_widths, sum(layers))
        self.stem = S.conv(3, widths[0], 3, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        S.init_bn(self.stem_bn, (0.6, 1.0))
        self.blocks = nn.ModuleList(_stages(widths, layers, (0.1, 0.25)))
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        probs = self.policy(image)
        x = F.relu(self.stem_bn(self.stem(image)))
        path = torch.zeros(0, dtype=torch.int64)
        i = 0
        for block in self.blocks:
            if bool(probs[0, i] >= 0.5):
                x = block(x)
                path = torch.cat([path, torch.ones(1, dtype=torch.int64)], 0)
            else:
                x = block.shortcut(x)
                path = torch.cat([path, torch.zeros(1, dtype=torch.int64)], 0)
            i += 1
        logits = self.fc(x.mean(dim=[2, 3]))
        return logits, probs, path

    # ---- eager-only helpers (not scripted) ----

    def batched_gates(self, images: Tensor) -> Tensor:
        """The keep probabilities [N, 54] of a batch of images."""
        with torch.no_grad():
            return self.policy(images)

    def calibrate(self, images: Tensor, difficulty: Tensor, seed: int):
        g = torch.Generator().manual_seed(seed)
        n = len(self.blocks)
        qs = torch.linspace(S.SPAN[0], S.SPAN[1], n)[torch.randperm(n, generator=g)]
        target = (difficulty - difficulty.mean()) / difficulty.std()
        with torch.no_grad():
            f = self.policy.features(images)
            a = torch.cat([f, torch.ones(len(f), 1)], 1).double()
            u = torch.linalg.lstsq(a, target.view(-1, 1).double() * 4.0).solution[:-1, 0].float()
            noise = torch.randn(n, len(u), generator=g) * u.abs().mean() * 0.15
            self.policy.fc.weight.copy_(u.view(1, -1) + noise)
            z = f @ self.policy.fc.weight.t()
            for i in range(n):
                self.policy.fc.bias[i] = -float(torch.quantile(z[:, i], float(qs[i])))


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(SEED)
    model = BlockDrop(cfg["widths"], cfg["policy_widths"])
    model.eval()
    model.calibrate(*S.calibration_set(), SEED + 1)
    return model


# --------------------------------------------------------------------------------------------
# Inputs and paths
# --------------------------------------------------------------------------------------------

def make_inputs(model: nn.Module, config: str, n: int) -> List[Tuple[Tensor, ...]]:
    """n seeded images whose executed-block counts spread from the fewest to the most found among
    the candidates; images with a keep probability within S.GATE_MARGIN of 0.5 are rejected."""
    return S.make_inputs(model, n, NAME, keep_at_half=True)


path_label = S.path_label
all_paths = S.all_paths
