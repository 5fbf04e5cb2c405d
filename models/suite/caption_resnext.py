"""Suite model 7: image captioning, Show, Attend and Tell with a ResNeXt encoder.

Encoder: ResNeXt (Xie et al., CVPR 2017), bottleneck blocks whose 3x3 convolution is split into
`cardinality` groups (aggregated residual transformations). full: ResNeXt-50 (32x4d), stages
[3, 4, 6, 3], 3x256x256 images -> an 8x8 grid of 2048-d annotations. small: cardinality 4, tiny
widths, stages [1, 1, 1], 3x64x64 images -> a 4x4 grid of 128-d annotations.
Decoder (caption_common.py): LSTM with soft additive attention, gating scalar and deep output
layer; greedy decoding from <start> until <end> or 20 tokens.

Outputs: tokens (int64 [T]), alphas (attention maps, float [T, L]), path (int64 [] = T).
"""

import os
import sys
from typing import List, Tuple

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import caption_common as C  # noqa: E402  (the decoder shared with the other captioning model)

NAME = "caption_resnext"
TITLE = "Captioning: ResNeXt + attention LSTM"
DYNAMIC = "greedy decode loop: <end> or 20 tokens; tokens/attention maps grow per step"
ORIGIN = ("Xu et al., Show, Attend and Tell (ICML 2015); "
          "ResNeXt: Xie et al., Aggregated Residual Transformations (CVPR 2017)")
OPSET = 17
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["tokens", "alphas", "path"]
COVERAGE = "decode lengths in 1-5, 6-10, 11-15, 16-20 tokens and the 20-token cap"

CONFIGS = {
    # image size, stem (channels, kernel), stages (blocks, width, out, stride), cardinality,
    # decoder (vocab, embedding, attention, hidden), calibration batch, candidate pool
    "small": dict(image=64, stem=(16, 3), stages=[(1, 16, 32, 1), (1, 32, 64, 2), (1, 64, 128, 2)],
                  groups=4, dec=(64, 16, 16, 32), calib=16, pool=240),
    "full": dict(image=256, stem=(64, 7),
                 stages=[(3, 128, 256, 1), (4, 256, 512, 2), (6, 512, 1024, 2), (3, 1024, 2048, 2)],
                 groups=32, dec=(10000, 512, 512, 512), calib=8, pool=60),
}


def build(config: str) -> torch.nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(7)
    enc = C.BottleneckEncoder(cfg["stem"][0], cfg["stem"][1], cfg["stages"], cfg["groups"])
    vocab, emb, att, hid = cfg["dec"]
    return C.build_caption_model(enc, enc.out_channels, vocab, emb, att, hid, cfg["image"],
                                 cfg["calib"], cfg["pool"])


def make_inputs(model, config: str, n: int) -> List[Tuple[torch.Tensor, ...]]:
    cfg = CONFIGS[config]
    return C.select_inputs(model, cfg["image"], n, cfg["pool"])


def path_label(outputs) -> str:
    return C.path_label(outputs)


def all_paths(config: str) -> List[str]:
    return C.all_labels()
