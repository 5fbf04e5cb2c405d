"""Shared parts of the two image-captioning models of the suite (caption_resnext, caption_resnet).

Show, Attend and Tell (Xu et al., ICML 2015), written from the paper:

- a convolutional encoder turns the image into a grid of L = H'xW' annotation vectors a_i (C each);
- an LSTM decoder (the cell written out with nn.Linear; scripted LSTMCell does not export) with
  soft, additive attention (eq. 4-6): e_ti = w^T tanh(W_a a_i + W_h h_{t-1}),
  alpha_t = softmax(e_t), z_t = beta_t * sum_i alpha_ti a_i with the gating scalar
  beta_t = sigmoid(f_beta(h_{t-1})) of section 4.2.1;
- the initial memory and hidden state from the mean annotation through tanh MLPs (f_init,c,
  f_init,h of section 3.1.2);
- the deep output layer (eq. 7): p(y_t) ~ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t));
- greedy decoding from <start> until <end> is the argmax or MAX_TOKENS (20) tokens were emitted.

What makes it dynamic: the decode loop is a `while` whose trip count depends on the image (the
step at which <end> wins the argmax), and the token ids / attention maps grow inside the loop.

The encoders (ResNet / ResNeXt bottleneck stacks) are built from `Bottleneck` below; the model
files give their stage layouts. Weights are seeded random; batch-norm running statistics are
calibrated on a deterministic batch of synthetic images (so activations stay O(1) at any depth),
and the <end> logit bias is chosen by a deterministic search so that, on a pool of synthetic
images, decodes span short captions to the 20-token cap. Candidate inputs whose argmax decisions
have a top-2 logit margin below MARGIN at any step are rejected.
"""

import weakref
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

PAD, START, END = 0, 1, 2
MAX_TOKENS = 20
MARGIN = 2e-3  # minimum top-2 logit gap (and |end margin - bias|) accepted at any decode step

# Path labels: decode length buckets (the length includes the <end> token when emitted).
BUCKETS = [(1, 5), (6, 10), (11, 15), (16, 20)]
CAP_LABEL = f"cap: {MAX_TOKENS} tokens, no <end>"


def bucket_label(n: int, ended: bool) -> str:
    if not ended:
        return CAP_LABEL
    for lo, hi in BUCKETS:
        if lo <= n <= hi:
            return f"{lo}-{hi} tokens"
    return f"{n} tokens"


def all_labels() -> List[str]:
    return [f"{lo}-{hi} tokens" for lo, hi in BUCKETS] + [CAP_LABEL]


def path_label(outputs) -> str:
    tokens = np.asarray(outputs[0]).reshape(-1)
    n = int(np.asarray(outputs[-1]))
    ended = tokens.size > 0 and int(tokens[-1]) == END
    return bucket_label(n, ended)


# --------------------------------------------------------------------------------------------
# Encoder building blocks
# --------------------------------------------------------------------------------------------

class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (grouped for ResNeXt: `groups` parallel paths, the "cardinality") ->
    1x1 expand, plus the identity or a 1x1 projection shortcut (He et al. 2016; Xie et al. 2017,
    form (c) of their figure 3). The stride is on the 3x3 convolution."""

    def __init__(self, inp: int, width: int, out: int, stride: int, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        if stride != 1 or inp != out:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + self.shortcut(x))


class BottleneckEncoder(nn.Module):
    """Stem (conv + BN + ReLU + 3x3/2 max-pool) and stages of bottleneck blocks; returns the last
    stage's feature map [1, C, H', W'] (the annotation grid; no global pooling, no classifier).

    stages: list of (blocks, width, out, stride); groups: cardinality of the 3x3 convolutions."""

    def __init__(self, stem_out: int, stem_kernel: int, stages: List[Tuple[int, int, int, int]],
                 groups: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem_out, stem_kernel, stride=2, padding=stem_kernel // 2, bias=False),
            nn.BatchNorm2d(stem_out), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))
        blocks = []
        inp = stem_out
        for n, width, out, stride in stages:
            for b in range(n):
                blocks.append(Bottleneck(inp, width, out, stride if b == 0 else 1, groups))
                inp = out
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = inp

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.stem(x))


# --------------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------------

class AttentionDecoder(nn.Module):
    """LSTM decoder with soft additive attention over the annotation grid; greedy decoding.

    forward(feats [1, C, H, W]) -> (tokens int64 [T], alphas float [T, L], path int64 [] = T)."""

    def __init__(self, feat_dim: int, vocab: int, emb_dim: int, att_dim: int, dec_dim: int,
                 max_tokens: int = MAX_TOKENS):
        super().__init__()
        self.vocab = vocab
        self.max_tokens = max_tokens
        self.start = START
        self.end = END
        self.embed = nn.Embedding(vocab, emb_dim)
        self.att_feat = nn.Linear(feat_dim, att_dim)      # W_a (applied once to the grid)
        self.att_hid = nn.Linear(dec_dim, att_dim)        # W_h
        self.att_out = nn.Linear(att_dim, 1)              # w
        self.f_beta = nn.Linear(dec_dim, 1)               # gating scalar beta_t
        self.init_h = nn.Linear(feat_dim, dec_dim)
        self.init_c = nn.Linear(feat_dim, dec_dim)
        self.lstm_ih = nn.Linear(emb_dim + feat_dim, 4 * dec_dim)
        self.lstm_hh = nn.Linear(dec_dim, 4 * dec_dim, bias=False)
        self.out_h = nn.Linear(dec_dim, emb_dim)          # L_h
        self.out_z = nn.Linear(feat_dim, emb_dim, bias=False)  # L_z
        self.out_vocab = nn.Linear(emb_dim, vocab)        # L_o

    def prepare(self, feats: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        a = feats.flatten(2).transpose(1, 2)              # [1, L, C]
        mean = a.mean(1)
        h = torch.tanh(self.init_h(mean))
        c = torch.tanh(self.init_c(mean))
        return a, self.att_feat(a), h, c

    def step(self, a: Tensor, att_a: Tensor, tok: Tensor, h: Tensor, c: Tensor
             ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """One decode step from the previous token `tok` [1]: (logits [1, V], alpha [1, L], h, c)."""
        e = self.att_out(torch.tanh(att_a + self.att_hid(h).unsqueeze(1))).squeeze(2)  # [1, L]
        alpha = F.softmax(e, dim=1)
        z = (a * alpha.unsqueeze(2)).sum(1)                # [1, C]
        z = torch.sigmoid(self.f_beta(h)) * z
        y = self.embed(tok)                               # [1, E]
        gates = self.lstm_ih(torch.cat([y, z], 1)) + self.lstm_hh(h)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        logits = self.out_vocab(y + self.out_h(h) + self.out_z(z))
        return logits, alpha, h, c

    def forward(self, feats: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        a, att_a, h, c = self.prepare(feats)
        tok = torch.full([1], self.start, dtype=torch.int64)
        tokens = torch.zeros([0], dtype=torch.int64)
        alphas = torch.zeros([0, a.size(1)])
        count = torch.zeros([], dtype=torch.int64)
        step = 0
        done = False
        while not done and step < self.max_tokens:
            logits, alpha, h, c = self.step(a, att_a, tok, h, c)
            tok = logits.argmax(1)
            tokens = torch.cat([tokens, tok], 0)
            alphas = torch.cat([alphas, alpha], 0)
            count = count + 1
            done = bool(tok[0] == self.end)
            step += 1
        return tokens, alphas, count


class CaptionModel(nn.Module):
    """encoder (image -> annotation grid) + attention decoder."""

    def __init__(self, encoder: nn.Module, decoder: AttentionDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        return self.decoder(self.encoder(image))


# --------------------------------------------------------------------------------------------
# Initialisation and calibration
# --------------------------------------------------------------------------------------------

def make_image(seed: int, size: int) -> Tensor:
    """A deterministic synthetic 'photo' [1, 3, size, size], roughly ImageNet-normalised: smooth
    blobs at two scales, fine noise, per-channel colour offsets; contrast varies with the seed."""
    g = torch.Generator().manual_seed(10_000 + seed)
    u = torch.rand(4, generator=g)
    coarse = F.interpolate(torch.randn(1, 3, 4, 4, generator=g), size=(size, size), mode="bilinear",
                           align_corners=False)
    mid = F.interpolate(torch.randn(1, 3, 16, 16, generator=g), size=(size, size), mode="bilinear",
                        align_corners=False)
    fine = torch.randn(1, 3, size, size, generator=g)
    offset = torch.randn(1, 3, 1, 1, generator=g) * 0.5
    img = (0.3 + 1.5 * u[0]) * coarse + (0.2 + 1.0 * u[1]) * mid + (0.1 + 0.6 * u[2]) * fine + offset
    return img.clamp(-2.5, 2.5).contiguous()


def init_encoder(encoder: nn.Module, calib_images: Tensor) -> None:
    """Kaiming conv weights, random BN affine parameters, and BN running statistics measured on
    calib_images (one train-mode pass with cumulative averaging), so eval-mode activations have
    a sensible scale at every depth. The last BN of each residual branch gets a smaller gamma."""
    for m in encoder.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.7, 1.3)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    for m in encoder.modules():
        if isinstance(m, Bottleneck):
            nn.init.uniform_(m.bn3.weight, 0.2, 0.6)
    bns = [m for m in encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    encoder.train()
    with torch.no_grad():
        encoder(calib_images)
    encoder.eval()
    for bn in bns:
        bn.momentum = 0.1


def init_decoder(dec: AttentionDecoder) -> None:
    """Random decoder weights scaled so that the decode dynamics depend on the image and evolve
    over many steps instead of settling on a fixed point after a few:
    Linear weights N(0, 1.5^2 / fan_in) (recurrent ones too), biases N(0, 0.1^2), attention
    scores and the L_z path with larger gains (3 and 2: sharper, moving attention; the context
    reaches the logits), embeddings N(0, 1), an LSTM forget-gate bias of +3 and input-gate bias of
    -1 (a slowly integrating memory, so the <end> margin drifts over the decode), and the
    vocabulary projection scaled to logits of std ~3 (far fewer near-ties)."""
    for m in dec.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 1.5 / m.in_features ** 0.5)
            if m.bias is not None:
                nn.init.normal_(m.bias, 0.0, 0.1)
    nn.init.normal_(dec.embed.weight, 0.0, 1.0)
    nn.init.normal_(dec.att_out.weight, 0.0, 3.0 / dec.att_out.in_features ** 0.5)
    nn.init.normal_(dec.out_z.weight, 0.0, 2.0 / dec.out_z.in_features ** 0.5)
    e = dec.out_vocab.in_features
    nn.init.normal_(dec.out_vocab.weight, 0.0, 2.0 / e ** 0.5)
    nn.init.normal_(dec.out_vocab.bias, 0.0, 0.5)
    d = dec.lstm_hh.in_features
    with torch.no_grad():
        dec.lstm_ih.bias[:d] -= 1.0        # input gate
        dec.lstm_ih.bias[d:2 * d] += 3.0   # forget gate


def decode_margins(dec: AttentionDecoder, feats: Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """Runs the decoder with <end> never taken (the trajectory does not depend on the <end>
    logit until <end> wins), for dec.max_tokens steps. Returns, per step t:
    m[t] = max non-end logit - end logit (the decode stops at the first t where m[t] < bias
    shift) and gap[t] = gap between the two largest non-end logits."""
    m = np.zeros(dec.max_tokens)
    gap = np.zeros(dec.max_tokens)
    with torch.no_grad():
        a, att_a, h, c = dec.prepare(feats)
        tok = torch.full([1], dec.start, dtype=torch.int64)
        for t in range(dec.max_tokens):
            logits, _, h, c = dec.step(a, att_a, tok, h, c)
            lg = logits[0].double().numpy()
            end = lg[dec.end]
            other = lg.copy()
            other[dec.end] = -np.inf
            top2 = np.partition(other, -2)[-2:]
            m[t] = top2.max() - end
            gap[t] = top2.max() - top2.min()
            tok = torch.tensor([int(np.argmax(other))], dtype=torch.int64)
    return m, gap


def length_at(m: np.ndarray, gap: np.ndarray, shift: float) -> Tuple[int, bool, bool]:
    """(decoded length, ended with <end>, robust) when the <end> logit is raised by shift."""
    stop = np.nonzero(m < shift)[0]
    n = int(stop[0]) + 1 if stop.size else m.size
    ended = bool(stop.size)
    robust = bool(np.all(np.abs(m[:n] - shift) > MARGIN))
    k = n - 1 if ended else n  # at the <end> step only the <end> vs best-other margin matters
    robust = robust and bool(np.all(gap[:k] > MARGIN))
    return n, ended, robust


def _bucket_index(n: int, ended: bool) -> int:
    if not ended:
        return len(BUCKETS)
    for i, (lo, hi) in enumerate(BUCKETS):
        if lo <= n <= hi:
            return i
    return len(BUCKETS)


def choose_end_shift(traj: List[Tuple[np.ndarray, np.ndarray]]) -> float:
    """The <end>-logit shift that spreads the pool's robust decodes best over the length buckets
    (maximise the smallest bucket, then the number of distinct lengths); deterministic."""
    allm = np.concatenate([m for m, _ in traj])
    grid = np.quantile(allm, np.linspace(0.0, 0.6, 241))
    best, best_key = 0.0, None
    for s in grid:
        s = float(s) + 1e-4  # a shift exactly on an observed margin would not be robust
        counts = [0] * (len(BUCKETS) + 1)
        lengths = set()
        for m, gap in traj:
            n, ended, robust = length_at(m, gap, s)
            if robust:
                counts[_bucket_index(n, ended)] += 1
                lengths.add((n, ended))
        key = (min(counts), len(lengths), -abs(s))
        if best_key is None or key > best_key:
            best, best_key = s, key
    return best


# per-model caches (build fills them; make_inputs reuses them): the pool's encoder features, and
# each pool image's decode trajectory with the <end> shift it was measured under
_FEATS: "weakref.WeakKeyDictionary[nn.Module, Dict[int, Tensor]]" = weakref.WeakKeyDictionary()
_TRAJ: "weakref.WeakKeyDictionary[nn.Module, Dict[int, Tuple[np.ndarray, np.ndarray, float]]]" = \
    weakref.WeakKeyDictionary()


def pool_features(model: CaptionModel, seeds: List[int], size: int) -> Dict[int, Tensor]:
    cache = _FEATS.setdefault(model, {})
    with torch.no_grad():
        for s in seeds:
            if s not in cache:
                cache[s] = model.encoder(make_image(s, size))
    return cache


def pool_lengths(model: CaptionModel, seeds: List[int], size: int) -> Dict[int, Tuple[int, bool, bool]]:
    """{seed: (decoded length, ended with <end>, robust)} under the model's current weights."""
    feats = pool_features(model, seeds, size)
    traj = _TRAJ.setdefault(model, {})
    res = {}
    for s in seeds:
        if s not in traj:
            m, gap = decode_margins(model.decoder, feats[s])
            traj[s] = (m, gap, 0.0)
        m, gap, shift = traj[s]
        res[s] = length_at(m, gap, shift)
    return res


def build_caption_model(encoder: nn.Module, feat_dim: int, vocab: int, emb_dim: int, att_dim: int,
                        dec_dim: int, image_size: int, calib_batch: int, pool: int) -> CaptionModel:
    """Assembles, initialises and calibrates a captioning model (call after torch.manual_seed)."""
    dec = AttentionDecoder(feat_dim, vocab, emb_dim, att_dim, dec_dim)
    init_decoder(dec)
    calib = torch.cat([make_image(100_000 + i, image_size) for i in range(calib_batch)], 0)
    init_encoder(encoder, calib)
    model = CaptionModel(encoder, dec).eval()
    feats = pool_features(model, list(range(pool)), image_size)
    traj = [decode_margins(dec, feats[s]) for s in range(pool)]
    shift = choose_end_shift(traj)
    with torch.no_grad():
        dec.out_vocab.bias[END] += shift
    # the trajectories stay valid: until <end> wins, no step depends on the <end> logit
    _TRAJ[model] = {s: (m, gap, shift) for s, (m, gap) in enumerate(traj)}
    return model


def select_inputs(model: CaptionModel, image_size: int, n: int, pool: int) -> List[Tuple[Tensor]]:
    """n pool images whose decodes are robust, covering every length bucket, then as many
    distinct lengths as possible (the pool grows when it has fewer than n robust images); each
    choice is checked against the decoder's forward on the same features."""
    cands: Dict[int, List[Tuple[int, int]]] = {}  # bucket -> [(length, seed)]
    size = 0
    while sum(len(v) for v in cands.values()) < n:
        seeds = list(range(size, max(pool, size + n)))
        size = seeds[-1] + 1
        for s, (n_tok, ended, robust) in pool_lengths(model, seeds, image_size).items():
            if robust:
                cands.setdefault(_bucket_index(n_tok, ended), []).append((n_tok, s))
        if size > 20 * max(pool, n):
            raise RuntimeError(f"caption: too few robust inputs in a pool of {size}")
    chosen: List[Tuple[int, int]] = []
    seen_len = set()
    # round-robin over buckets; inside a bucket prefer a length not chosen yet
    while len(chosen) < n:
        for b in range(len(BUCKETS) + 1):
            lst = cands.get(b, [])
            if not lst or len(chosen) >= n:
                continue
            pick = next((x for x in lst if x[0] not in seen_len), lst[0])
            lst.remove(pick)
            chosen.append(pick)
            seen_len.add(pick[0])
    feats = pool_features(model, [s for _, s in chosen], image_size)
    res = []
    with torch.no_grad():
        for n_tok, s in chosen:
            tokens, _, count = model.decoder(feats[s])
            if int(count) != n_tok:
                raise RuntimeError(f"caption: seed {s}: forward decoded {int(count)} tokens, "
                                   f"calibration predicted {n_tok}")
            res.append((make_image(s, image_size),))
    return res
