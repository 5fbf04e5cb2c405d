"""Suite model 8: image captioning, Show, Attend and Tell with a ResNet encoder.

Encoder: ResNet (He et al., CVPR 2016) bottleneck stacks. full: ResNet-101, stages [3, 4, 23, 3],
3x256x256 images -> an 8x8 grid of 2048-d annotations (the common ResNet-101 re-implementation of
Show, Attend and Tell, without its adaptive pooling). small: tiny widths, stages [2, 2, 2],
3x64x64 images -> a 4x4 grid of 128-d annotations.
Decoder (caption_common.py, shared with caption_resnext): LSTM with soft additive attention,
gating scalar and deep output layer; greedy decoding from <start> until <end> or 20 tokens.

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

NAME = "caption_resnet"
TITLE = "Captioning: ResNet + attention LSTM"
DYNAMIC = "greedy decode loop: <end> or 20 tokens; tokens/attention maps grow per step"
ORIGIN = ("Xu et al., Show, Attend and Tell (ICML 2015); "
          "ResNet: He et al., Deep Residual Learning (CVPR 2016)")
OPSET = 17
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["tokens", "alphas", "path"]
COVERAGE = "decode lengths in 1-5, 6-10, 11-15, 16-20 tokens and the 20-token cap"

CONFIGS = {
    # image size, stem (channels, kernel), stages (blocks, width, out, stride), groups = 1,
    # decoder (vocab, embedding, attention, hidden), calibration batch, candidate pool
    "small": dict(image=64, stem=(16, 3), stages=[(2, 8, 32, 1), (2, 16, 64, 2), (2, 32, 128, 2)],
                  dec=(64, 16, 16, 32), calib=16, pool=240),
    "full": dict(image=256, stem=(64, 7),
                 stages=[(3, 64, 256, 1), (4, 128, 512, 2), (23, 256, 1024, 2), (3, 512, 2048, 2)],
                 dec=(10000, 512, 512, 512), calib=8, pool=60),
}


def build(config: str) -> torch.nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(8)
    enc = C.BottleneckEncoder(cfg["stem"][0], cfg["stem"][1], cfg["stages"], 1)
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
