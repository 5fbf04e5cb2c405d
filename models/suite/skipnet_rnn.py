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


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

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
        self.stem = S.conv(3, widths[0], 3, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        S.init_bn(self.stem_bn, (0.6, 1.0))
        # Blocks grouped by the width of their INPUT (the first block of a stage reads the previous
        # stage's width): one gate projection per group.
        groups: List[List[nn.Module]] = [[] for _ in widths]
        cin = widths[0]
        for s, (w, n) in enumerate(zip(widths, layers)):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                groups[s - 1 if (s > 0 and b == 0) else s].append(S.SkipNetBlock(cin, w, stride))
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
        qs = torch.linspace(S.SPAN[0], S.SPAN[1], n)[torch.randperm(n, generator=g)]
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
