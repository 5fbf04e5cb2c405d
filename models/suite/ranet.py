"""RANet-style resolution-adaptive classifier (Yang et al., Resolution Adaptive Networks for
Efficient Inference, CVPR 2020), written from the paper's description.

The image is looked at in increasing resolution: the first sub-network sees it downsampled to
8x8, the second to 16x16, the third at full 32x32. Each sub-network is a chain of dense blocks
(DenseNet-style: every conv layer's output is concatenated to its input, then a 1x1 transition
compresses the channels), and an exit classifier follows every block. A later (higher-resolution)
sub-network reuses the features of the earlier one: block j of sub-network s takes the output
of block j of sub-network s-1, upsampled 2x by a transposed convolution ("up-conv"), concatenated
to its own features (RANet's feature fusion). The network returns at the first exit whose max
softmax probability reaches that exit's threshold; the last exit always returns.

Thresholds are per exit, as in RANet (which picks them from a compute budget on a validation
set): here they are calibrated in build() on a seeded pool of images so that each exit takes an
equal share of the pool. The weights are random (seeded, Kaiming-scaled), not trained.

Outputs: `logits` [1, 10] of the exit taken, `path` (int64 scalar): the exit index, 1-based.
"""

from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

NAME = "ranet"
TITLE = "RANet resolution-adaptive network"
DYNAMIC = ("early exit over resolutions: sub-networks on 8x8, 16x16, 32x32 images, 2 exits each; "
           "first confident exit returns")
ORIGIN = "Yang et al., Resolution Adaptive Networks for Efficient Inference (CVPR 2020)"
OPSET = 17
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["logits", "path"]
DYNAMIC_AXES = None
COVERAGE = "all 6 exits"

CLASSES = 10
MARGIN = 1e-3  # a confidence checked must be at least this far from its threshold
POOL = {"small": 480, "full": 300}  # calibration / candidate pool size

CONFIGS = {
    # scales: input downsampling factor per sub-network (coarse to fine); chans: channels of the
    # sub-network's features; growth: dense-layer growth rate; layers: dense layers per block;
    # fuse: channels of the up-convolved features taken from the previous sub-network.
    "small": dict(scales=[4, 2, 1], chans=[12, 8, 6], growth=[6, 4, 3], layers=1, blocks=2,
                  fuse=[0, 6, 4]),
    "full": dict(scales=[4, 2, 1], chans=[64, 32, 16], growth=[24, 12, 6], layers=4, blocks=2,
                 fuse=[0, 32, 16]),
}


def _init_bn(bn: nn.BatchNorm2d, g: torch.Generator):
    c = bn.num_features
    bn.running_mean.copy_(torch.rand(c, generator=g) * 0.2 - 0.1)
    bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    bn.weight.data.copy_(torch.rand(c, generator=g) * 0.4 + 0.8)
    bn.bias.data.copy_(torch.rand(c, generator=g) * 0.2 - 0.1)


class DenseLayer(nn.Module):
    """BN-ReLU-Conv3x3 whose output (growth channels) is concatenated to its input."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], 1)


class DenseBlock(nn.Module):
    """Dense layers, then a BN-ReLU-Conv1x1 transition back to `cout` channels."""

    def __init__(self, cin: int, cout: int, growth: int, layers: int):
        super().__init__()
        mods = []
        c = cin
        for _ in range(layers):
            mods.append(DenseLayer(c, growth))
            c += growth
        self.layers = nn.Sequential(*mods)
        self.bn = nn.BatchNorm2d(c)
        self.trans = nn.Conv2d(c, cout, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.trans(F.relu(self.bn(self.layers(x))))


class UpConv(nn.Module):
    """RANet's fusion path: the coarser sub-network's features upsampled 2x (transposed conv)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.up(x)))


class Exit(nn.Module):
    """Exit classifier: conv3x3-BN-ReLU, global average pool, linear."""

    def __init__(self, c: int, classes: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(F.relu(self.bn(self.conv(x))).mean(dim=[2, 3]))


class SubNet(nn.Module):
    """One resolution: a stem conv on the downsampled image, dense blocks (each fusing the
    previous sub-network's block output when there is one), an exit after every block."""

    def __init__(self, factor: int, c: int, growth: int, layers: int, blocks: int,
                 prev_c: int, fuse: int):
        super().__init__()
        self.factor = factor
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        self.blocks = nn.ModuleList([DenseBlock(c + fuse, c, growth, layers)
                                     for _ in range(blocks)])
        self.ups = nn.ModuleList([UpConv(prev_c, fuse) for _ in range(blocks if fuse else 0)])
        self.exits = nn.ModuleList([Exit(c, CLASSES) for _ in range(blocks)])


class RANet(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        subs = []
        prev_c = 0
        for s, f in enumerate(cfg["scales"]):
            subs.append(SubNet(f, cfg["chans"][s], cfg["growth"][s], cfg["layers"],
                               cfg["blocks"], prev_c, cfg["fuse"][s]))
            prev_c = cfg["chans"][s]
        self.sub0, self.sub1, self.sub2 = subs
        self.n_exits = len(subs) * cfg["blocks"]
        self.classes = CLASSES
        self.register_buffer("thresholds", torch.full((self.n_exits,), 2.0))

    # The three sub-networks are written out (not a loop over a ModuleList) so that the fused
    # features of the previous resolution stay plain tensors instead of a list (ONNX sequence).
    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        k = 0
        # sub-network 1: 8x8
        x = F.avg_pool2d(image, self.sub0.factor)
        h = self.sub0.stem(x)
        feats0: List[Tensor] = []
        logits = torch.zeros(1, self.classes)
        for block, ex in zip(self.sub0.blocks, self.sub0.exits):
            h = block(h)
            feats0.append(h)
            logits = ex(h)
            if bool(F.softmax(logits, 1).max() >= self.thresholds[k]):
                return logits, torch.tensor(k + 1, dtype=torch.int64)
            k += 1
        # sub-network 2: 16x16, fusing sub-network 1's block outputs
        x = F.avg_pool2d(image, self.sub1.factor)
        h = self.sub1.stem(x)
        feats1: List[Tensor] = []
        j = 0
        for block, up, ex in zip(self.sub1.blocks, self.sub1.ups, self.sub1.exits):
            h = block(torch.cat([h, up(feats0[j])], 1))
            feats1.append(h)
            logits = ex(h)
            if bool(F.softmax(logits, 1).max() >= self.thresholds[k]):
                return logits, torch.tensor(k + 1, dtype=torch.int64)
            k += 1
            j += 1
        # sub-network 3: 32x32, fusing sub-network 2's block outputs
        h = self.sub2.stem(image)
        j = 0
        for block, up, ex in zip(self.sub2.blocks, self.sub2.ups, self.sub2.exits):
            h = block(torch.cat([h, up(feats1[j])], 1))
            logits = ex(h)
            if k + 1 < self.n_exits:
                if bool(F.softmax(logits, 1).max() >= self.thresholds[k]):
                    return logits, torch.tensor(k + 1, dtype=torch.int64)
            k += 1
            j += 1
        return logits, torch.tensor(k, dtype=torch.int64)

    @torch.jit.unused
    def confidences(self, image: Tensor) -> List[float]:
        """Max softmax probability of every exit, all computed (eager only, for calibration)."""
        res = []
        with torch.no_grad():
            feats_prev: List[Tensor] = []
            for s, sub in enumerate([self.sub0, self.sub1, self.sub2]):
                h = sub.stem(F.avg_pool2d(image, sub.factor) if sub.factor > 1 else image)
                feats = []
                for j, (block, ex) in enumerate(zip(sub.blocks, sub.exits)):
                    if s == 0:
                        h = block(h)
                    else:
                        h = block(torch.cat([h, sub.ups[j](feats_prev[j])], 1))
                    feats.append(h)
                    res.append(float(F.softmax(ex(h), 1).max()))
                feats_prev = feats
        return res


def _decide(confs: List[float], thr: List[float]) -> Tuple[int, float]:
    """(exit index 1-based, smallest margin of the decisions made) for given thresholds."""
    margin = float("inf")
    for k in range(len(confs) - 1):
        margin = min(margin, abs(confs[k] - thr[k]))
        if confs[k] >= thr[k]:
            return k + 1, margin
    return len(confs), margin


def _image(seed: int) -> Tensor:
    """A seeded CIFAR-normalized-like image: smooth low-frequency pattern plus pixel noise, with
    a random contrast (which spreads the classifiers' confidences)."""
    g = torch.Generator().manual_seed(7000 + seed)
    low = torch.randn(1, 3, 4, 4, generator=g)
    low = F.interpolate(low, size=(32, 32), mode="bilinear", align_corners=False)
    noise = torch.randn(1, 3, 32, 32, generator=g)
    a = float(torch.rand(1, generator=g)) * 2.5 + 0.1
    b = float(torch.rand(1, generator=g)) * 1.0 + 0.05
    return (a * low + b * noise).contiguous()


_LAST_POOL: list = []  # [(model, config, images, confidences)]: build's pool, reused by make_inputs


def _pool(model: RANet, config: str):
    for m, c, imgs, confs in _LAST_POOL:
        if m is model and c == config:
            return imgs, confs
    imgs = [_image(i) for i in range(POOL[config])]
    confs = [model.confidences(x) for x in imgs]
    _LAST_POOL[:] = [(model, config, imgs, confs)]
    return imgs, confs


def build(config: str) -> nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(1100)
    model = RANet(cfg)
    g = torch.Generator().manual_seed(1101)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                _init_bn(m, g)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=1.5 / m.in_features ** 0.5)
                nn.init.zeros_(m.bias)
    model.eval()
    # Calibration: exit k takes 1/(K-k) of the images still running at it, so that each of the
    # K exits gets an equal share; thresholds sit halfway between two neighbouring confidences.
    _, confs = _pool(model, config)
    c = np.array(confs, dtype=np.float64)
    K = model.n_exits
    remaining = np.arange(len(c))
    thr = []
    for k in range(K - 1):
        v = np.sort(c[remaining, k])
        take = len(v) // (K - k)
        cut = len(v) - take
        t = 0.5 * (v[cut - 1] + v[cut])
        thr.append(float(t))
        remaining = remaining[c[remaining, k] < t]
    thr.append(2.0)  # the last exit always returns
    model.thresholds.copy_(torch.tensor(thr, dtype=torch.float32))
    return model


def make_inputs(model, config: str, n: int):
    imgs, confs = _pool(model, config)
    thr = [float(t) for t in model.thresholds]
    by_exit = {}
    for x, cf in zip(imgs, confs):
        e, margin = _decide(cf, thr)
        if margin >= MARGIN:
            by_exit.setdefault(e, []).append(x)
    missing = [e for e in range(1, model.n_exits + 1) if not by_exit.get(e)]
    if missing:
        raise RuntimeError(f"ranet/{config}: no robust input leaves at exit(s) {missing}")
    res = []
    i = 0
    while len(res) < n:  # round robin over the exits
        for e in sorted(by_exit):
            if i < len(by_exit[e]) and len(res) < n:
                res.append((by_exit[e][i],))
        i += 1
        if i > max(len(v) for v in by_exit.values()):
            break
    return res


def path_label(outputs) -> str:
    return f"exit {int(outputs[-1])}"


def all_paths(config: str):
    return [f"exit {k}" for k in range(1, 3 * CONFIGS[config]["blocks"] + 1)]
