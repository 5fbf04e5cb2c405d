"""Shared building blocks of the dynamic-network suite (models/suite/*.py import what they need).

Everything here is plain PyTorch 1.13 that torch.jit.script compiles and torch.onnx.export
exports with control flow kept. The API is stable: other model files depend on it.
Import it as `from common import ...` (suite.py puts models/suite/ on sys.path; a model file run
on its own can do `sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))` first).

Layers
  conv_bn(cin, cout, k=3, stride=1, groups=1, relu=True)   Conv2d(no bias) + BatchNorm2d (+ ReLU)
  BasicBlock(cin, cout, stride=1)      ResNet basic block (post-activation), 1x1 projection shortcut
  PreActBlock(cin, cout, stride=1)     wide-ResNet block (pre-activation BN-ReLU-conv x2)
  ExitHead(channels, classes, in_size, pool_to=4, threshold=0.5)
                                       SDN internal classifier: mixed max/avg pooling to pool_to^2,
                                       then a linear layer; carries its exit threshold
  FinalHead()                          identity head of an SDN's last segment
  build_sdn(units, tail, make_head, exit_after)
                                       SDN from a chain of units: segment boundaries after the
                                       unit indices exit_after, tail (final classifier) appended
  SDN(segments, heads)                 early-exit network: run segment i, then head i; return at the
                                       first head whose max softmax prob >= its threshold; the
                                       last head (the final classifier) always returns.
                                       forward(x) -> (logits, path) with path = int64 exit index

Initialisation / calibration / inputs (eager-only helpers, never scripted)
  init_weights(module, seed=None)      kaiming conv/linear weights, non-trivial BN statistics,
                                       residual branches damped so deep nets stay in range
  count_macs(module, *inputs)          multiply-accumulates per leaf Conv2d/Linear (forward hooks)
  unit_costs(units, x)                 MACs of each unit of a sequential chain
  place_exits(costs, fractions)        indices of the units after which cumulative cost first
                                       reaches each fraction (SDN: 15%, 30%, ..., 90%)
  run_eager(model, inputs)             tuple of output tensors under no_grad
  image_candidates(seed, n, shape)     varied CIFAR-like float images (scales, colour offsets,
                                       smooth patterns, noise)
  calibrate_thresholds(conf, margin)
                                       per-exit thresholds that spread candidates over all exits
  exit_of(conf_row, thresholds, margin) -> (exit index, stable) for one candidate
  perturbed(inputs, k, rel=1e-4)       copy of the inputs with float tensors moved ~rel (seeded)
  path_is_stable(model, inputs, label_fn, n=3, rel=1e-4)
                                       True when n perturbed copies give the same path label
  select_cases(labels, n, stable=None) indices of n candidates covering every label round-robin
  sequential_calibrate_sdn(model, candidates, margin)
                                       calibrates an SDN's head thresholds in place; returns the
                                       per-candidate exit index and stability
"""

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
            relu: bool = True) -> nn.Sequential:
    """Conv2d (no bias, 'same' padding for odd k) + BatchNorm2d (+ ReLU)."""
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): conv-bn-relu-conv-bn + shortcut, then relu.
    The shortcut is a 1x1 conv + BN when the shape changes (option B), identity otherwise."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride), conv_bn(cout, cout, 3, relu=False))
        if stride != 1 or cin != cout:
            self.shortcut = conv_bn(cin, cout, 1, stride, relu=False)
        else:
            self.shortcut = nn.Sequential()
        self.residual_bn = self.body[1][1]  # damped by init_weights

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class PreActBlock(nn.Module):
    """Wide-ResNet block (Zagoruyko & Komodakis 2016): BN-ReLU-conv3x3-BN-ReLU-conv3x3 + shortcut
    (1x1 conv on the pre-activated input when the shape changes). Dropout is omitted (eval)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.has_proj = stride != 1 or cin != cout
        self.proj = nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if self.has_proj else nn.Identity()
        self.residual_conv = self.conv2  # damped by init_weights

    def forward(self, x: Tensor) -> Tensor:
        o = F.relu(self.bn1(x))
        y = self.conv1(o)
        y = self.conv2(F.relu(self.bn2(y)))
        if self.has_proj:
            return y + self.proj(o)
        return y + x


class ExitHead(nn.Module):
    """SDN internal classifier (Kaya et al. 2019): mixed pooling alpha*maxpool + (1-alpha)*avgpool
    reducing an in_size x in_size map to pool_to x pool_to (none when already that small), then one
    linear layer. `threshold` is the confidence (max softmax prob) at which the network exits here."""

    def __init__(self, channels: int, classes: int, in_size: int, pool_to: int = 4,
                 threshold: float = 0.5):
        super().__init__()
        k = in_size // pool_to if in_size > pool_to else 1
        self.k = k
        out_size = in_size // k
        self.maxpool = nn.MaxPool2d(k, k) if k > 1 else nn.Identity()
        self.avgpool = nn.AvgPool2d(k, k) if k > 1 else nn.Identity()
        self.alpha = nn.Parameter(torch.rand(1))
        self.fc = nn.Linear(channels * out_size * out_size, classes)
        self.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        if self.k > 1:
            x = self.alpha * self.maxpool(x) + (1.0 - self.alpha) * self.avgpool(x)
        return self.fc(torch.flatten(x, 1))


class FinalHead(nn.Module):
    """The head of an SDN's last segment: the identity (the segment ends with the final
    classifier); threshold 2.0, never used."""

    def __init__(self):
        super().__init__()
        self.threshold = 2.0

    def forward(self, x: Tensor) -> Tensor:
        return x


class SDN(nn.Module):
    """Shallow-Deep Network: len(segments) == len(heads); head i reads the output of segment i.
    Heads 0..n-2 are internal classifiers, head n-1 the final classifier (threshold ignored).
    forward(x) -> (logits [1, classes], path: int64 scalar, the index of the exit taken)."""

    def __init__(self, segments: Sequence[nn.Module], heads: Sequence[nn.Module]):
        super().__init__()
        assert len(segments) == len(heads)
        self.segments = nn.ModuleList(segments)
        self.heads = nn.ModuleList(heads)
        self.n_exits = len(heads)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        logits = torch.zeros(1)
        k = 0
        last = self.n_exits - 1
        for seg, head in zip(self.segments, self.heads):
            x = seg(x)
            logits = head(x)
            if k < last:
                if bool(F.softmax(logits, dim=1).max() >= head.threshold):
                    return logits, torch.tensor(k, dtype=torch.int64)
            k += 1
        return logits, torch.tensor(last, dtype=torch.int64)

    @torch.jit.unused
    def exit_confidences(self, x: Tensor) -> Tensor:
        """Max softmax prob of every head (eager only; no early return)."""
        res = []
        with torch.no_grad():
            for seg, head in zip(self.segments, self.heads):
                x = seg(x)
                res.append(F.softmax(head(x), dim=1).max())
        return torch.stack(res)

    @torch.jit.unused
    def exit_logits(self, x: Tensor) -> List[Tensor]:
        """Logits of every head (eager only; no early return)."""
        res = []
        with torch.no_grad():
            for seg, head in zip(self.segments, self.heads):
                x = seg(x)
                res.append(head(x))
        return res


# --------------------------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------------------------


def init_weights(module: nn.Module, seed: Optional[int] = None, residual_scale: float = 0.3,
                 head_std: float = 1.0):
    """Seeded random weights at a sensible scale: kaiming-normal (fan_in, relu) conv weights,
    linear weights with std head_std/sqrt(fan_in), small biases, BatchNorm with random gamma/beta
    and running statistics near identity. The last BN (or conv) of each residual branch
    (`residual_bn` / `residual_conv` attribute) is scaled by residual_scale so deep residual
    stacks neither explode nor vanish."""
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.uniform_(-0.05, 0.05)
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0.0, head_std / math.sqrt(m.in_features))
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, nn.BatchNorm2d) or isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.25)
        for m in module.modules():
            if hasattr(m, "residual_bn") and isinstance(m.residual_bn, nn.BatchNorm2d):
                m.residual_bn.weight.mul_(residual_scale)
                m.residual_bn.bias.mul_(residual_scale)
            if hasattr(m, "residual_conv") and isinstance(m.residual_conv, nn.Conv2d):
                m.residual_conv.weight.mul_(residual_scale)
    module.eval()
    return module


def count_macs(module: nn.Module, *inputs: Tensor) -> dict:
    """{leaf module: multiply-accumulates} for every Conv2d and Linear called by module(*inputs)."""
    macs = {}
    hooks = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            macs[m] = macs.get(m, 0) + int(out.numel()) * k
        else:
            macs[m] = macs.get(m, 0) + int(out.numel()) * m.in_features

    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return macs


def unit_costs(units: Sequence[nn.Module], x: Tensor) -> List[int]:
    """MACs of each unit of a sequential chain (unit i gets unit i-1's output)."""
    costs = []
    with torch.no_grad():
        for u in units:
            c = count_macs(u, x)
            costs.append(sum(c.values()))
            x = u(x)
    return costs


def place_exits(costs: Sequence[float], fractions: Sequence[float]) -> List[int]:
    """For each fraction f, the index of the first unit after which the cumulative cost reaches
    f * total (distinct, increasing, never the last unit)."""
    total = float(sum(costs))
    cum = np.cumsum(np.asarray(costs, dtype=np.float64))
    res: List[int] = []
    for f in fractions:
        i = int(np.searchsorted(cum, f * total - 1e-9))
        i = min(i, len(costs) - 2)
        if res and i <= res[-1]:
            i = res[-1] + 1
        res.append(i)
    if res and res[-1] > len(costs) - 2:
        raise ValueError("place_exits: too many exits for the number of units")
    return res


SDN_FRACTIONS = (0.15, 0.30, 0.45, 0.60, 0.75, 0.90)


def build_sdn(units: Sequence[nn.Module], tail: nn.Module, make_head, exit_after: Sequence[int]) -> SDN:
    """Groups units into segments ending after each unit index in exit_after (each followed by
    make_head(i, unit_index) as its internal classifier); the remaining units plus `tail` form the
    last segment, whose head is the identity (tail is the final classifier and returns logits)."""
    segments, heads = [], []
    start = 0
    for j, i in enumerate(exit_after):
        segments.append(nn.Sequential(*units[start:i + 1]))
        heads.append(make_head(j, i))
        start = i + 1
    segments.append(nn.Sequential(*units[start:], tail))
    heads.append(FinalHead())
    return SDN(segments, heads)


# --------------------------------------------------------------------------------------------
# Eager helpers: running, inputs, calibration, case selection
# --------------------------------------------------------------------------------------------


def run_eager(model: nn.Module, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
    with torch.no_grad():
        out = model(*inputs)
    if isinstance(out, torch.Tensor):
        out = (out,)
    return tuple(out)


def image_candidates(seed: int, n: int, shape=(1, 3, 32, 32)) -> List[Tensor]:
    """n varied image-like tensors (seeded): per-image scale 0.1..4 (log-uniform), per-channel
    offsets, a mix of white noise and smooth (upsampled low-resolution) patterns."""
    g = torch.Generator().manual_seed(seed)
    res = []
    c, h, w = shape[1], shape[2], shape[3]
    for _ in range(n):
        scale = float(torch.exp(torch.empty(1).uniform_(math.log(0.1), math.log(4.0), generator=g)))
        low = torch.randn(shape[0], c, max(1, h // 8), max(1, w // 8), generator=g)
        smooth = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
        noise = torch.randn(shape, generator=g)
        mix = float(torch.rand(1, generator=g))
        offset = torch.randn(shape[0], c, 1, 1, generator=g) * 0.5
        x = scale * (mix * smooth * 2.0 + (1.0 - mix) * noise + offset)
        res.append(x.contiguous())
    return res


def _best_cut(values: np.ndarray, q: float, margin: float) -> float:
    """A threshold near quantile q of values, in the middle of a gap of at least 2*margin."""
    v = np.sort(values)
    if len(v) == 0:
        return 2.0
    target = int(round(q * (len(v) - 1)))
    best, best_score = None, None
    for i in range(len(v) - 1):
        gap = v[i + 1] - v[i]
        if gap <= 2 * margin:
            continue
        score = abs(i - target) - min(gap, 0.05) * 10  # near the quantile, prefer wide gaps
        if best_score is None or score < best_score:
            best, best_score = (v[i] + v[i + 1]) / 2.0, score
    if best is None:
        return float(v[target]) + margin * 1.5
    return float(best)


def calibrate_thresholds(conf: np.ndarray, margin: float = 2e-3) -> List[float]:
    """conf[n, E]: max softmax prob of each of E exits (the last is final) per candidate.
    Thresholds for exits 0..E-2 chosen one after another so that roughly an equal share of the
    candidates still running at exit i stops there."""
    n, e = conf.shape
    alive = np.ones(n, dtype=bool)
    thr: List[float] = []
    for i in range(e - 1):
        vals = conf[alive, i]
        share = 1.0 / (e - i)
        t = _best_cut(vals, 1.0 - share, margin)
        thr.append(t)
        alive &= conf[:, i] < t
    return thr


def exit_of(conf_row: np.ndarray, thresholds: Sequence[float], margin: float = 1e-3) -> Tuple[int, bool]:
    """(exit index, stable) for one candidate: stable when no evaluated exit is within margin."""
    stable = True
    for i, t in enumerate(thresholds):
        if abs(float(conf_row[i]) - t) < margin:
            stable = False
        if conf_row[i] >= t:
            return i, stable
    return len(thresholds), stable


def perturbed(inputs: Sequence[Tensor], k: int, rel: float = 1e-4) -> Tuple[Tensor, ...]:
    """The inputs with float tensors moved by about rel * (1 + |x|) (seeded by k)."""
    g = torch.Generator().manual_seed(1000 + k)
    res = []
    for a in inputs:
        if a.is_floating_point() and a.numel():
            noise = torch.rand(a.shape, generator=g, dtype=a.dtype) * 2.0 - 1.0
            a = a + noise * rel * (1.0 + a.abs())
        res.append(a)
    return tuple(res)


def path_is_stable(model: nn.Module, inputs: Sequence[Tensor], label_fn, n: int = 3,
                   rel: float = 1e-4) -> bool:
    """True when n perturbed copies of the inputs give the same label_fn(outputs) as the inputs."""
    want = label_fn(run_eager(model, inputs))
    for k in range(n):
        if label_fn(run_eager(model, perturbed(inputs, k, rel))) != want:
            return False
    return True


def select_cases(labels: Sequence[str], n: int, stable: Optional[Sequence[bool]] = None,
                 order: Optional[Sequence[str]] = None) -> List[int]:
    """Indices of n candidates (stable ones only) covering every label: round-robin over the labels
    (in `order`, or sorted), taking candidates in index order."""
    by: dict = {}
    for i, lab in enumerate(labels):
        if stable is not None and not stable[i]:
            continue
        by.setdefault(lab, []).append(i)
    keys = list(order) if order is not None else sorted(by)
    keys = [k for k in keys if k in by]
    res: List[int] = []
    pos = {k: 0 for k in keys}
    while len(res) < n and keys:
        progressed = False
        for k in keys:
            if len(res) >= n:
                break
            if pos[k] < len(by[k]):
                res.append(by[k][pos[k]])
                pos[k] += 1
                progressed = True
        if not progressed:
            break
    return res


def sequential_calibrate_sdn(model: SDN, candidates: Sequence[Tensor], margin: float = 2e-3,
                             logit_std: float = 2.0):
    """Rescales each internal classifier's linear layer so that its logits have standard deviation
    logit_std over the candidates (random heads would otherwise be nearly uniform or saturated),
    then sets model.heads[i].threshold (i < n_exits-1) from the candidates' exit confidences.
    Returns (exits, stable) per candidate under the new thresholds (one forward per candidate)."""
    per_head = [model.exit_logits(x) for x in candidates]
    n_ic = model.n_exits - 1
    scales = [1.0] * model.n_exits
    if logit_std:
        with torch.no_grad():
            for i, h in enumerate(list(model.heads)[:n_ic]):
                if isinstance(h, ExitHead):
                    sd = float(torch.cat([p[i].flatten() for p in per_head]).std())
                    if sd > 0:
                        scales[i] = logit_std / sd
                        h.fc.weight.mul_(scales[i])
                        h.fc.bias.mul_(scales[i])
    conf = np.array([[float(F.softmax(p[i] * scales[i], dim=1).max()) for i in range(model.n_exits)]
                     for p in per_head], dtype=np.float64)
    thr = calibrate_thresholds(conf, margin)
    for h, t in zip(model.heads, thr):
        h.threshold = float(t)
    exits, stable = [], []
    for row in conf:
        e, s = exit_of(row, thr, margin / 2)
        exits.append(e)
        stable.append(s)
    _SDN_CACHE[id(model)] = (list(candidates), exits, stable, thr, margin / 2)
    return exits, stable


_SDN_CACHE: dict = {}  # id(model) -> (candidates, exits, stable, thresholds, margin) of its calibration


# --------------------------------------------------------------------------------------------
# SDN helpers (shared by the sdn_* models; usable by any early-exit model built with SDN)
# --------------------------------------------------------------------------------------------


def unit_shapes(units: Sequence[nn.Module], x: Tensor) -> List[Tuple[int, ...]]:
    """Output shape of each unit of a sequential chain."""
    shapes = []
    with torch.no_grad():
        for u in units:
            x = u(x)
            shapes.append(tuple(x.shape))
    return shapes


def make_sdn(units: Sequence[nn.Module], tail: nn.Module, classes: int, seed: int,
             shape=(1, 3, 32, 32), fractions=SDN_FRACTIONS, pool_to: int = 4) -> SDN:
    """An SDN over a backbone chain: one ExitHead after the unit where the cumulative MACs first
    reach each fraction of the backbone's total (Kaya et al. place ICs at ~15..90% of the cost),
    seeded init_weights. Thresholds are still uncalibrated (see sdn_calibrate)."""
    torch.manual_seed(seed)
    x = torch.zeros(shape)
    chain = nn.Sequential(*units, tail)
    init_weights(chain, seed)
    costs = unit_costs(list(units) + [tail], x)
    costs = costs[:-2] + [costs[-2] + costs[-1]]  # the tail belongs to the last unit
    exits = place_exits(costs, fractions)
    shapes = unit_shapes(units, x)

    def head(j, i):
        c, s = shapes[i][1], shapes[i][2]
        return ExitHead(c, classes, s, pool_to)
    torch.manual_seed(seed + 1)
    model = build_sdn(units, tail, head, exits)
    with torch.no_grad():  # heads: fresh weights at the same scale as the rest
        for h in model.heads:
            init_weights(h)
            if isinstance(h, ExitHead):
                h.alpha.uniform_(0.2, 0.8)
    model.exit_after = exits  # type: ignore[attr-defined]
    model.eval()
    return model


def sdn_calibrate(model: SDN, seed: int, n_candidates: int, shape=(1, 3, 32, 32),
                  margin: float = 2e-3):
    """Calibrates the thresholds on image_candidates(seed, n_candidates) so that the candidates
    spread over all exits."""
    return sequential_calibrate_sdn(model, image_candidates(seed, n_candidates, shape), margin)


def sdn_cases(model: SDN, seed: int, n_candidates: int, n: int, shape=(1, 3, 32, 32),
              margin: float = 1e-3) -> List[Tuple[Tensor]]:
    """n stable cases from image_candidates(seed, n_candidates) covering every exit round-robin
    (the exit confidences of a kept case are at least margin away from every threshold it meets).
    Reuses the calibration's forward passes when the model was calibrated in this process."""
    thr = [float(h.threshold) for h in list(model.heads)[:-1]]
    cached = _SDN_CACHE.get(id(model))
    if cached is not None and cached[3] == thr and len(cached[0]) == n_candidates and cached[4] >= margin:
        cands, labels, stable = cached[0], cached[1], cached[2]
    else:
        cands = image_candidates(seed, n_candidates, shape)
        labels, stable = [], []
        for x in cands:
            e, s = exit_of(model.exit_confidences(x).numpy(), thr, margin)
            labels.append(e)
            stable.append(s)
    idx = select_cases(labels, n, stable, order=list(range(model.n_exits)))
    return [(cands[i],) for i in idx]


def sdn_path_label(outputs) -> str:
    return f"exit {int(outputs[-1])}"


def sdn_all_paths(n_exits: int) -> List[str]:
    return [f"exit {k}" for k in range(n_exits)]
