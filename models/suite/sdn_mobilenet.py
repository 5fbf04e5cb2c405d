"""SDN early exit on MobileNet v1: the CIFAR variant of MobileNet (3x3 stem + 13 depthwise-separable
blocks, 32..1024 channels) with six internal classifiers; inference returns at the first classifier
confident enough.

The backbone follows Howard et al.'s MobileNet v1 (each block a depthwise 3x3 conv-BN-ReLU then a
pointwise 1x1 conv-BN-ReLU; widths 64, 128x2, 256x2, 512x6, 1024x2) with the CIFAR changes used by
Kaya et al.'s Shallow-Deep Networks (stride-1 stem, strides 2 at the 128/256/512/1024 transitions,
global average pooling of the final 2x2 map, linear classifier). Internal classifiers (mixed
max/average pooling to 4x4 + one linear layer) sit after the blocks where the cumulative cost first
reaches 15, 30, 45, 60, 75 and 90%. At inference the network returns the logits of the first
internal classifier whose maximum softmax probability reaches its threshold, and the final
classifier's otherwise. The `small` configuration keeps the 13 blocks, the 6 internal classifiers
and the final exit at width multiplier 1/8 (4..128 channels)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch.nn as nn  # noqa: E402

from common import (conv_bn, make_sdn, sdn_all_paths, sdn_calibrate, sdn_cases,  # noqa: E402
                    sdn_path_label)

NAME = "sdn_mobilenet"
TITLE = "SDN early exit on MobileNet v1"
DYNAMIC = "early exit: 6 internal classifiers + final; returns at the first whose max softmax prob ≥ its threshold"
ORIGIN = ("Kaya et al., Shallow-Deep Networks (ICML 2019); MobileNet v1 "
          "(Howard et al., MobileNets, arXiv 1704.04861, 2017), CIFAR variant")
COVERAGE = "all 7 exits (6 internal classifiers + final)"
OPSET = 11
INPUT_NAMES = ["x"]
OUTPUT_NAMES = ["logits", "path"]

SEED = 1
CLASSES = 10
N_CANDIDATES = 105
# (out channels, stride) of the 13 depthwise-separable blocks; stem: 32 channels, stride 1
CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
       (512, 1), (512, 1), (1024, 2), (1024, 1)]
CONFIGS = {"full": 1, "small": 8}  # channel divisor (width multiplier 1/d)


def dw_separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1))


def build(config: str) -> nn.Module:
    div = CONFIGS[config]
    cin = 32 // div
    units = [conv_bn(3, cin, 3)]
    for cout, stride in CFG:
        units.append(dw_separable(cin, cout // div, stride))
        cin = cout // div
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
