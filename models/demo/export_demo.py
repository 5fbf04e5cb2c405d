#!/usr/bin/python3
"""Export dycl's demo model: a small early-exit image classifier, and three inputs for it.

Usage: /usr/bin/python3 models/demo/export_demo.py [--out DIR]     (default: models/demo)

Writes DIR/early_exit.onnx (opset 17) and DIR/inputs/{easy,medium,hard}.pb, which take exits 1, 2
and 3. Everything is seeded, so the files come out the same on every run (with the same PyTorch).
Needs PyTorch and onnx (Debian's /usr/bin/python3 has both).

The model: a CIFAR-sized input (1x3x32x32) goes through three stages of conv + batch norm + ReLU +
max pool (16, 32, 64 channels); after each stage an internal classifier (global average pool +
linear, 10 classes) gives logits, and the network returns at the first stage whose softmax
probability reaches THRESHOLD. Outputs: `logits` (1x10, from the exit taken) and `exit` (int64
scalar: 1, 2 or 3). The weights are random (seeded), not trained: the inputs are found by searching
seeded random images for ones that leave at each exit, with a margin so that rounding cannot change
the exit.
"""

import argparse
import os
import sys
from typing import Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

THRESHOLD = 0.8
SEED = 2024
OPSET = 17
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["logits", "exit"]
CASES = ["easy", "medium", "hard"]  # take exits 1, 2, 3
MARGIN = 0.01  # each confidence checked must be at least this far from THRESHOLD


def stage(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


class Head(nn.Module):
    def __init__(self, c, classes):
        super().__init__()
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(x.mean(dim=[2, 3]))


class EarlyExitCNN(nn.Module):
    def __init__(self, classes: int = 10, threshold: float = THRESHOLD):
        super().__init__()
        self.stages = nn.ModuleList([stage(3, 16), stage(16, 32), stage(32, 64)])
        self.heads = nn.ModuleList([Head(16, classes), Head(32, classes), Head(64, classes)])
        self.threshold = threshold

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = image
        k = 0
        logits = torch.zeros(1)
        for st, head in zip(self.stages, self.heads):
            k += 1
            h = st(h)
            logits = head(h)
            if bool(F.softmax(logits, dim=-1).max() >= self.threshold):
                return logits, torch.tensor(k, dtype=torch.int64)
        return logits, torch.tensor(k, dtype=torch.int64)

    def confidences(self, image):
        """Max softmax probability of every internal classifier (eager only, for the search)."""
        h, res = image, []
        for st, head in zip(self.stages, self.heads):
            h = st(h)
            res.append(float(F.softmax(head(h), dim=-1).max()))
        return res


def build_model():
    torch.manual_seed(SEED)
    m = EarlyExitCNN()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):  # plausible eval-mode statistics
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
            if isinstance(mod, Head):  # spread the logits so that confident exits exist
                mod.fc.weight.mul_(4.0)
    m.eval()
    return m


def candidate(k):
    """Seeded random 'image': per-channel brightness plus noise with a random contrast."""
    rng = np.random.RandomState(k)
    contrast = rng.uniform(0.2, 2.0)
    x = rng.uniform(-1.5, 1.5, (1, 3, 1, 1)) + contrast * rng.standard_normal((1, 3, 32, 32))
    return x.astype(np.float32)


def exit_of(confs):
    """The exit taken (1-based) for these confidences, or None if one is too close to call."""
    for i, c in enumerate(confs):
        if abs(c - THRESHOLD) < MARGIN:
            return None
        if c >= THRESHOLD:
            return i + 1
    return len(confs)


def find_inputs(model, tries=5000):
    found = {}
    with torch.no_grad():
        for k in range(tries):
            x = candidate(k)
            e = exit_of(model.confidences(torch.from_numpy(x)))
            if e is not None and e not in found:
                found[e] = x
            if len(found) == len(CASES):
                break
    if len(found) != len(CASES):
        raise RuntimeError(f"found inputs for exits {sorted(found)} only")
    return {name: found[i + 1] for i, name in enumerate(CASES)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    import onnx
    from onnx import numpy_helper

    model = build_model()
    inputs = find_inputs(model)
    os.makedirs(os.path.join(args.out, "inputs"), exist_ok=True)
    path = os.path.join(args.out, "early_exit.onnx")
    torch.onnx.export(torch.jit.script(model), (torch.from_numpy(inputs["easy"]),), path,
                      opset_version=OPSET, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES)
    onnx.checker.check_model(onnx.load(path))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    with torch.no_grad():
        for name in CASES:
            x = inputs[name]
            p = os.path.join(args.out, "inputs", name + ".pb")
            with open(p, "wb") as f:
                f.write(numpy_helper.from_array(x, INPUT_NAMES[0]).SerializeToString())
            logits, k = model(torch.from_numpy(x))
            confs = " ".join(f"{c:.3f}" for c in model.confidences(torch.from_numpy(x)))
            print(f"wrote {p}: exit {int(k)}, class {int(logits.argmax())}, "
                  f"confidences per exit {confs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
