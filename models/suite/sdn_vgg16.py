"""SDN early exit on VGG-16: a CIFAR VGG-16 with batch normalisation (13 conv layers, 64..512
channels, 5 max-pools, two 512-unit fully connected layers and a linear classifier) with six
internal classifiers; inference returns at the first classifier confident enough.

The backbone follows Simonyan & Zisserman's VGG-16 configuration D adapted to 32x32 CIFAR images
(conv3x3-BN-ReLU layers 64,64,M,128,128,M,256x3,M,512x3,M,512x3,M, then FC-512, FC-512, FC-10) as
in Kaya et al.'s Shallow-Deep Networks, whose internal classifiers (mixed max/average pooling to
4x4 + one linear layer) sit after the layers where the cumulative cost first reaches 15, 30, 45,
60, 75 and 90%. At inference the network returns the logits of the first internal classifier whose
maximum softmax probability reaches its threshold, and the final classifier's otherwise. The
`small` configuration keeps the 13 conv layers, the 6 internal classifiers and the final exit with
1/16 of the channels (4..32) and 32-unit fully connected layers."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch.nn as nn  # noqa: E402

from common import (conv_bn, make_sdn, sdn_all_paths, sdn_calibrate, sdn_cases,  # noqa: E402
                    sdn_path_label)

NAME = "sdn_vgg16"
TITLE = "SDN early exit on VGG-16"
DYNAMIC = "early exit: 6 internal classifiers + final; returns at the first whose max softmax prob ≥ its threshold"
ORIGIN = ("Kaya et al., Shallow-Deep Networks (ICML 2019); VGG-16 with batch norm "
          "(Simonyan & Zisserman, ICLR 2015; Ioffe & Szegedy 2015)")
COVERAGE = "all 7 exits (6 internal classifiers + final)"
OPSET = 13
INPUT_NAMES = ["x"]
OUTPUT_NAMES = ["logits", "path"]

SEED = 16
CLASSES = 10
N_CANDIDATES = 105
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
CONFIGS = {"full": (1, 512), "small": (16, 32)}  # (channel divisor, fully connected width)


def build(config: str) -> nn.Module:
    div, fc = CONFIGS[config]
    units = []
    cin = 3
    for v in CFG:
        if v == "M":  # the pool belongs to the conv layer before it
            units[-1] = nn.Sequential(units[-1], nn.MaxPool2d(2, 2))
        else:
            units.append(conv_bn(cin, v // div, 3))
            cin = v // div
    tail = nn.Sequential(nn.Flatten(), nn.Linear(cin, fc), nn.ReLU(), nn.Linear(fc, fc), nn.ReLU(),
                         nn.Linear(fc, CLASSES))
    model = make_sdn(units, tail, CLASSES, SEED)
    sdn_calibrate(model, SEED, N_CANDIDATES)
    return model


def make_inputs(model, config: str, n: int):
    return sdn_cases(model, SEED, N_CANDIDATES, n)


def path_label(outputs) -> str:
    return sdn_path_label(outputs)


def all_paths(config: str):
    return sdn_all_paths(7)
