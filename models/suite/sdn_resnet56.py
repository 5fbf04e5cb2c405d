"""SDN early exit on ResNet-56: a CIFAR ResNet-56 (3 stages of 9 basic blocks, 16/32/64 channels)
with six internal classifiers; inference returns at the first classifier confident enough.

The backbone follows He et al.'s CIFAR ResNet (3x3 stem, stages of [9, 9, 9] basic blocks, stride 2
at the start of stages 2 and 3, global average pooling and a linear classifier). Following Kaya et
al.'s Shallow-Deep Networks, internal classifiers (mixed max/average pooling to 4x4 + one linear
layer) sit after the blocks where the cumulative cost first reaches 15, 30, 45, 60, 75 and 90% of
the network's; at inference the network returns the logits of the first internal classifier whose
maximum softmax probability reaches its threshold, and the final classifier's otherwise. The
`small` configuration keeps the 6 internal classifiers + final exit with [3, 3, 3] blocks of
4/8/16 channels."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch.nn as nn  # noqa: E402

from common import (BasicBlock, conv_bn, make_sdn, sdn_all_paths, sdn_calibrate,  # noqa: E402
                    sdn_cases, sdn_path_label)

NAME = "sdn_resnet56"
TITLE = "SDN early exit on ResNet-56"
DYNAMIC = "early exit: 6 internal classifiers + final; returns at the first whose max softmax prob ≥ its threshold"
ORIGIN = ("Kaya et al., Shallow-Deep Networks (ICML 2019); ResNet-56 for CIFAR "
          "(He et al., Deep Residual Learning, CVPR 2016)")
COVERAGE = "all 7 exits (6 internal classifiers + final)"
OPSET = 17
INPUT_NAMES = ["x"]
OUTPUT_NAMES = ["logits", "path"]

SEED = 56
CLASSES = 10
N_CANDIDATES = 105
CONFIGS = {"full": ([9, 9, 9], [16, 32, 64]), "small": ([3, 3, 3], [4, 8, 16])}


def build(config: str) -> nn.Module:
    blocks, widths = CONFIGS[config]
    units = [conv_bn(3, widths[0], 3)]
    cin = widths[0]
    for s, (n, w) in enumerate(zip(blocks, widths)):
        for b in range(n):
            units.append(BasicBlock(cin, w, 2 if (b == 0 and s > 0) else 1))
            cin = w
    tail = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, CLASSES))
    model = make_sdn(units, tail, CLASSES, SEED)
    sdn_calibrate(model, SEED, N_CANDIDATES)
    return model


def make_inputs(model, config: str, n: int):
    return sdn_cases(model, SEED, N_CANDIDATES, n)


def path_label(outputs) -> str:
    return sdn_path_label(outputs)


def all_paths(config: str):
    return sdn_all_paths(7)
