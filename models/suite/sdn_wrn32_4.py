"""SDN early exit on WideResNet-32-4: a CIFAR wide ResNet (3 stages of 5 pre-activation blocks,
widths 64/128/256 = 4 x 16/32/64) with six internal classifiers; inference returns at the first
classifier confident enough.

The backbone follows Zagoruyko & Komodakis' wide residual networks for CIFAR (3x3 stem with 16
channels, pre-activation BN-ReLU-conv3x3 x2 blocks with a 1x1 projection where the shape changes,
stride 2 at stages 2 and 3, final BN-ReLU, global average pooling, linear classifier); depth 32 and
widening factor 4 as in Kaya et al.'s Shallow-Deep Networks, whose internal classifiers (mixed
max/average pooling to 4x4 + one linear layer) sit after the blocks where the cumulative cost
first reaches 15, 30, 45, 60, 75 and 90%. At inference the network returns the logits of the first
internal classifier whose maximum softmax probability reaches its threshold, and the final
classifier's otherwise. The `small` configuration keeps the 6 internal classifiers + final exit
with [3, 3, 3] blocks of 4/8/16 channels (widening factor 0.25)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch.nn as nn  # noqa: E402

from common import (PreActBlock, make_sdn, sdn_all_paths, sdn_calibrate, sdn_cases,  # noqa: E402
                    sdn_path_label)

NAME = "sdn_wrn32_4"
TITLE = "SDN early exit on WideResNet-32-4"
DYNAMIC = "early exit: 6 internal classifiers + final; returns at the first whose max softmax prob ≥ its threshold"
ORIGIN = ("Kaya et al., Shallow-Deep Networks (ICML 2019); Wide Residual Networks "
          "(Zagoruyko & Komodakis, BMVC 2016)")
COVERAGE = "all 7 exits (6 internal classifiers + final)"
OPSET = 17
INPUT_NAMES = ["x"]
OUTPUT_NAMES = ["logits", "path"]

SEED = 324
CLASSES = 10
N_CANDIDATES = 105
# (blocks per stage, stem channels, stage widths)
CONFIGS = {"full": ([5, 5, 5], 16, [64, 128, 256]), "small": ([3, 3, 3], 4, [4, 8, 16])}


def build(config: str) -> nn.Module:
    blocks, stem, widths = CONFIGS[config]
    units = [nn.Conv2d(3, stem, 3, padding=1, bias=False)]
    cin = stem
    for s, (n, w) in enumerate(zip(blocks, widths)):
        for b in range(n):
            units.append(PreActBlock(cin, w, 2 if (b == 0 and s > 0) else 1))
            cin = w
    tail = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(cin, CLASSES))
    model = make_sdn(units, tail, CLASSES, SEED)
    sdn_calibrate(model, SEED, N_CANDIDATES)
    return model


def make_inputs(model, config: str, n: int):
    return sdn_cases(model, SEED, N_CANDIDATES, n)


def path_label(outputs) -> str:
    return sdn_path_label(outputs)


def all_paths(config: str):
    return sdn_all_paths(7)
