"""Suite model 10: neural machine translation with additive attention (RNNsearch).

Bahdanau, Cho and Bengio, Neural Machine Translation by Jointly Learning to Align and Translate
(ICLR 2015), written from the paper (its appendix A gives the equations used here):

- encoder: source embeddings, a bidirectional GRU (cells written with nn.Linear; scripted GRUCell
  does not export); annotation h_j = [forward_j ; backward_j];
- initial decoder state s_0 = tanh(W_s backward_1);
- alignment model e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), alpha_i = softmax(e_i),
  context c_i = sum_j alpha_ij h_j;
- deep output with maxout: t~_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i, t_i = max over pairs of
  t~_i, logits = W_o t_i;
- decoder GRU s_i = GRU(s_{i-1}; E y_{i-1}, c_i), with the paper's gate form
  s~ = tanh(W E y + U (r o s) + C c), s = (1 - z) o s + z o s~;
- greedy decoding from <bos> until <eos> is the argmax or max_len = 2 S + b tokens were emitted.

full is RNNsearch at the paper's size: vocabularies of 30000, embeddings 620, 1000 hidden units
per direction, alignment dimension 1000, maxout 500; sources of 5..50 tokens, max_len = 2 S + 10.
small: vocabularies 64, embeddings 16, 24 hidden units, alignment 24, maxout 16; sources of 3..30
tokens, max_len = 2 S + 4.

What makes it dynamic: the encoder loops run S steps (S varies per input), the decode `while`
stops at a data-dependent step (<eos>) or at a length cap that depends on S, and the token ids and
attention rows grow inside the loop.

Outputs: tokens (int64 [T]), attention (float [T, S]), path (int64 [] = T).

Weights are seeded random (gains chosen so that the decoder state drifts over many steps instead of
settling at once: a negative update-gate bias, sharper attention, logits of std ~3); the <eos>
logit bias is chosen by a deterministic search so that, on a pool of synthetic sources, decodes
span a few tokens to the length cap. Candidates whose argmax decisions have a top-2 logit margin
below MARGIN at any step are rejected.
"""

import weakref
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

NAME = "nmt"
TITLE = "NMT: bi-GRU encoder, attention GRU decoder"
DYNAMIC = ("encoder loops over a variable-length source; greedy decode until <eos> or 2S+b tokens; "
           "tokens/attention rows grow per step")
ORIGIN = "Bahdanau et al., Neural Machine Translation by Jointly Learning to Align and Translate (ICLR 2015)"
OPSET = 13
INPUT_NAMES = ["src"]
OUTPUT_NAMES = ["tokens", "attention", "path"]
DYNAMIC_AXES = {"src": {1: "src_len"}, "tokens": {0: "out_len"},
                "attention": {0: "out_len", 1: "src_len"}}
COVERAGE = ("sources of varied length; decodes ending with <eos> after 1-5, 6-10, 11-20 and 21+ "
            "tokens, and decodes cut at the length cap")

PAD, BOS, EOS = 0, 1, 2
MARGIN = 2e-3

CONFIGS = {
    # vocab (source = target), embedding, hidden per direction, alignment, maxout units,
    # source lengths, max_len = 2 S + len_b, candidate pool size
    "small": dict(vocab=64, emb=16, hidden=24, align=24, maxout=16, src_len=(3, 30), len_b=4,
                  pool=200),
    "full": dict(vocab=30000, emb=620, hidden=1000, align=1000, maxout=500, src_len=(5, 50),
                 len_b=10, pool=50),
}

BUCKETS = [(1, 5), (6, 10), (11, 20), (21, 10 ** 9)]
CAP_LABEL = "length cap (2S+b), no <eos>"


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

class GRUStep(nn.Module):
    """The recurrent half of a GRU step (Cho et al. 2014, as in the paper's appendix):
    given the input projections gx = [W_r x ; W_z x ; W x] (+ biases) and the state h:
    r = sig(W_r x + U_r h), z = sig(W_z x + U_z h), h~ = tanh(W x + U (r o h)),
    h' = (1 - z) o h + z o h~."""

    def __init__(self, hidden: int):
        super().__init__()
        self.u_rz = nn.Linear(hidden, 2 * hidden, bias=False)
        self.u = nn.Linear(hidden, hidden, bias=False)

    def forward(self, gx: Tensor, h: Tensor) -> Tensor:
        xr, xz, xn = gx.chunk(3, 1)
        hr, hz = self.u_rz(h).chunk(2, 1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        cand = torch.tanh(xn + self.u(r * h))
        return (1.0 - z) * h + z * cand


class RNNSearch(nn.Module):
    def __init__(self, vocab: int, emb: int, hidden: int, align: int, maxout: int, len_b: int):
        super().__init__()
        self.hidden = hidden
        self.maxout = maxout
        self.len_b = len_b
        self.bos = BOS
        self.eos = EOS
        self.src_embed = nn.Embedding(vocab, emb)
        self.enc_f_in = nn.Linear(emb, 3 * hidden)
        self.enc_f = GRUStep(hidden)
        self.enc_b_in = nn.Linear(emb, 3 * hidden)
        self.enc_b = GRUStep(hidden)
        self.init_s = nn.Linear(hidden, hidden)             # W_s
        self.att_annot = nn.Linear(2 * hidden, align)       # U_a (applied once to all h_j)
        self.att_state = nn.Linear(hidden, align, bias=False)  # W_a
        self.att_v = nn.Linear(align, 1, bias=False)        # v_a
        self.tgt_embed = nn.Embedding(vocab, emb)
        self.dec_in = nn.Linear(emb + 2 * hidden, 3 * hidden)  # [W_r W_z W] E y + [C_r C_z C] c
        self.dec = GRUStep(hidden)
        self.out_s = nn.Linear(hidden, 2 * maxout)          # U_o
        self.out_y = nn.Linear(emb, 2 * maxout, bias=False)  # V_o
        self.out_c = nn.Linear(2 * hidden, 2 * maxout, bias=False)  # C_o
        self.out_vocab = nn.Linear(maxout, vocab)           # W_o

    def encode(self, src: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """src [1, S] -> annotations [1, S, 2n], their alignment projections [1, S, A], s_0."""
        n_src = src.size(1)
        x = self.src_embed(src)
        gx_f = self.enc_f_in(x)
        gx_b = self.enc_b_in(x)
        h = torch.zeros(1, self.hidden)
        fwd = torch.zeros(1, 0, self.hidden)
        for t in range(n_src):
            h = self.enc_f(gx_f[:, t], h)
            fwd = torch.cat([fwd, h.unsqueeze(1)], 1)
        h = torch.zeros(1, self.hidden)
        bwd = torch.zeros(1, 0, self.hidden)
        for t in range(n_src):
            h = self.enc_b(gx_b[:, n_src - 1 - t], h)
            bwd = torch.cat([h.unsqueeze(1), bwd], 1)
        annot = torch.cat([fwd, bwd], 2)
        s = torch.tanh(self.init_s(bwd[:, 0]))
        return annot, self.att_annot(annot), s

    def step(self, annot: Tensor, ua: Tensor, tok: Tensor, s: Tensor
             ) -> Tuple[Tensor, Tensor, Tensor]:
        """One decode step from y_{i-1} = tok [1] and s_{i-1}: (logits [1, V], alpha [1, S], s_i)."""
        e = self.att_v(torch.tanh(ua + self.att_state(s).unsqueeze(1))).squeeze(2)
        alpha = F.softmax(e, dim=1)
        ctx = (annot * alpha.unsqueeze(2)).sum(1)
        y = self.tgt_embed(tok)
        t = self.out_s(s) + self.out_y(y) + self.out_c(ctx)
        t = t.reshape(1, self.maxout, 2).max(2)[0]
        logits = self.out_vocab(t)
        s = self.dec(self.dec_in(torch.cat([y, ctx], 1)), s)
        return logits, alpha, s

    def forward(self, src: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        annot, ua, s = self.encode(src)
        max_len = 2 * src.size(1) + self.len_b
        tok = torch.full([1], self.bos, dtype=torch.int64)
        tokens = torch.zeros([0], dtype=torch.int64)
        attention = torch.zeros([0, src.size(1)])
        count = torch.zeros([], dtype=torch.int64)
        step = 0
        done = False
        while not done and step < max_len:
            logits, alpha, s = self.step(annot, ua, tok, s)
            tok = logits.argmax(1)
            tokens = torch.cat([tokens, tok], 0)
            attention = torch.cat([attention, alpha], 0)
            count = count + 1
            done = bool(tok[0] == self.eos)
            step += 1
        return tokens, attention, count


# --------------------------------------------------------------------------------------------
# Initialisation, calibration, inputs
# --------------------------------------------------------------------------------------------

def _init(model: RNNSearch) -> None:
    """Linear weights N(0, 1.5^2/fan_in), biases N(0, 0.1^2), embeddings N(0, 1); alignment
    scores with gain 3 (attention that moves); update gates biased to -1.5 (a slowly drifting
    state); the vocabulary projection scaled to logits of std ~3."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 1.5 / m.in_features ** 0.5)
            if m.bias is not None:
                nn.init.normal_(m.bias, 0.0, 0.1)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0)
    nn.init.normal_(model.att_v.weight, 0.0, 3.0 / model.att_v.in_features ** 0.5)
    nn.init.normal_(model.out_vocab.weight, 0.0, 2.5 / model.out_vocab.in_features ** 0.5)
    nn.init.normal_(model.out_vocab.bias, 0.0, 0.5)
    n = model.hidden
    with torch.no_grad():
        for lin in (model.enc_f_in, model.enc_b_in, model.dec_in):
            lin.bias[n:2 * n] -= 1.5


def make_source(seed: int, config: str) -> Tensor:
    """A deterministic source sentence [1, S]: Zipf-distributed word ids >= 3, then <eos>."""
    cfg = CONFIGS[config]
    rng = np.random.RandomState(20_000 + seed)
    lo, hi = cfg["src_len"]
    n = int(rng.randint(lo, hi + 1))
    words = np.arange(3, cfg["vocab"])
    p = 1.0 / np.arange(1, words.size + 1) ** 1.1
    p = p[rng.permutation(words.size)]  # which ids are frequent is seeded too
    ids = rng.choice(words, size=n - 1, p=p / p.sum())
    return torch.from_numpy(np.concatenate([ids, [EOS]]).astype(np.int64)).reshape(1, n)


def pool_margins(model: RNNSearch, srcs: List[Tensor], batch: int = 64
                 ) -> List[Tuple[np.ndarray, np.ndarray]]:
    """For each source, the decode with <eos> never taken (until <eos> wins the argmax the
    trajectory does not depend on the <eos> logit), for its max_len steps: m[t] = best non-eos
    logit - eos logit (the decode stops at the first t with m[t] < the <eos> shift) and gap[t] =
    gap of the top-2 non-eos logits.

    The sources are encoded one by one (model.encode), the decode steps run batched (a batch-1
    step reads every weight once per token: 100 MB per step in the full model) with the padded
    source positions masked out of the attention; this mirrors RNNSearch.step. Batched float
    sums may differ from the batch-1 forward in the last bits, which the MARGIN absorbs, and
    make_inputs checks every chosen source against the real forward."""
    res: List[Tuple[np.ndarray, np.ndarray]] = []
    with torch.no_grad():
        for i0 in range(0, len(srcs), batch):
            group = srcs[i0:i0 + batch]
            enc = [model.encode(x) for x in group]
            nb, smax = len(group), max(x.size(1) for x in group)
            steps = [2 * x.size(1) + model.len_b for x in group]
            annot = torch.zeros(nb, smax, 2 * model.hidden)
            ua = torch.zeros(nb, smax, model.att_v.in_features)
            mask = torch.zeros(nb, smax, dtype=torch.bool)
            for r, (a, u, _) in enumerate(enc):
                annot[r, :a.size(1)] = a[0]
                ua[r, :a.size(1)] = u[0]
                mask[r, :a.size(1)] = True
            s = torch.cat([e[2] for e in enc], 0)
            tok = torch.full([nb], model.bos, dtype=torch.int64)
            m = np.zeros((nb, max(steps)))
            gap = np.zeros((nb, max(steps)))
            for t in range(max(steps)):
                e = model.att_v(torch.tanh(ua + model.att_state(s).unsqueeze(1))).squeeze(2)
                alpha = F.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
                ctx = (annot * alpha.unsqueeze(2)).sum(1)
                y = model.tgt_embed(tok)
                o = model.out_s(s) + model.out_y(y) + model.out_c(ctx)
                logits = model.out_vocab(o.reshape(nb, model.maxout, 2).max(2)[0])
                s = model.dec(model.dec_in(torch.cat([y, ctx], 1)), s)
                lg = logits.double().numpy()
                other = lg.copy()
                other[:, model.eos] = -np.inf
                top2 = np.partition(other, -2, axis=1)[:, -2:]
                m[:, t] = top2.max(1) - lg[:, model.eos]
                gap[:, t] = top2.max(1) - top2.min(1)
                tok = torch.from_numpy(np.argmax(other, axis=1).astype(np.int64))
            res += [(m[r, :steps[r]].copy(), gap[r, :steps[r]].copy()) for r in range(nb)]
    return res


def length_at(m: np.ndarray, gap: np.ndarray, shift: float) -> Tuple[int, bool, bool]:
    """(decoded length, ended with <eos>, robust) when the <eos> logit is raised by shift."""
    stop = np.nonzero(m < shift)[0]
    n = int(stop[0]) + 1 if stop.size else m.size
    ended = bool(stop.size)
    robust = bool(np.all(np.abs(m[:n] - shift) > MARGIN))
    k = n - 1 if ended else n
    return n, ended, robust and bool(np.all(gap[:k] > MARGIN))


def _bucket(n: int, ended: bool) -> int:
    if not ended:
        return len(BUCKETS)
    return next(i for i, (lo, hi) in enumerate(BUCKETS) if lo <= n <= hi)


def _label(b: int) -> str:
    if b == len(BUCKETS):
        return CAP_LABEL
    lo, hi = BUCKETS[b]
    return f"<eos> after {lo}-{hi} tokens" if hi < 10 ** 9 else f"<eos> after {lo}+ tokens"


def _choose_shift(traj: List[Tuple[np.ndarray, np.ndarray]]) -> float:
    """The <eos> shift that spreads the pool's robust decodes best over the buckets (the smallest
    bucket first, then the number of distinct lengths); deterministic."""
    allm = np.concatenate([m[:20] for m, _ in traj])
    best, best_key = 0.0, None
    for s in np.quantile(allm, np.linspace(0.0, 0.6, 241)):
        s = float(s) + 1e-4
        counts = [0] * (len(BUCKETS) + 1)
        lengths = set()
        for m, gap in traj:
            n, ended, robust = length_at(m, gap, s)
            if robust:
                counts[_bucket(n, ended)] += 1
                lengths.add((n, ended))
        key = (min(counts), len(lengths), -abs(s))
        if best_key is None or key > best_key:
            best, best_key = s, key
    return best


# each pool source's decode trajectory with the <eos> shift it was measured under (build fills
# it; make_inputs reuses it)
_TRAJ: "weakref.WeakKeyDictionary[nn.Module, Dict[int, Tuple[np.ndarray, np.ndarray, float]]]" = \
    weakref.WeakKeyDictionary()


def build(config: str) -> torch.nn.Module:
    cfg = CONFIGS[config]
    torch.manual_seed(10)
    model = RNNSearch(cfg["vocab"], cfg["emb"], cfg["hidden"], cfg["align"], cfg["maxout"],
                      cfg["len_b"])
    _init(model)
    model.eval()
    traj = pool_margins(model, [make_source(k, config) for k in range(cfg["pool"])])
    shift = _choose_shift(traj)
    with torch.no_grad():
        model.out_vocab.bias[EOS] += shift
    # the trajectories stay valid: until <eos> wins, no step depends on the <eos> logit
    _TRAJ[model] = {k: (m, gap, shift) for k, (m, gap) in enumerate(traj)}
    return model


def make_inputs(model, config: str, n: int) -> List[Tuple[Tensor, ...]]:
    """n pool sources with robust decodes covering every bucket, then as many distinct
    (length, source length) pairs as possible; each checked against the real forward."""
    cfg = CONFIGS[config]
    traj = _TRAJ.setdefault(model, {})
    cands: Dict[int, List[Tuple[int, int, int]]] = {}
    size = 0
    while sum(len(v) for v in cands.values()) < n:
        seeds = list(range(size, max(cfg["pool"], size + n)))
        size = seeds[-1] + 1
        new = [k for k in seeds if k not in traj]
        for k, mg in zip(new, pool_margins(model, [make_source(k, config) for k in new])):
            traj[k] = mg + (0.0,)
        for k in seeds:
            n_tok, ended, robust = length_at(*traj[k])
            if robust:
                cands.setdefault(_bucket(n_tok, ended), []).append((n_tok, make_source(k, config).size(1), k))
        if size > 20 * max(cfg["pool"], n):
            raise RuntimeError(f"nmt: too few robust sources in a pool of {size}")
    res: List[Tuple[Tensor, ...]] = []
    seen_len, seen_src = set(), set()
    # round-robin over the buckets; inside a bucket prefer a decode length and a source length
    # not chosen yet; a choice is kept only when the real forward decodes the predicted length
    while len(res) < n and any(cands.values()):
        for b in range(len(BUCKETS) + 1):
            lst = cands.get(b, [])
            if not lst or len(res) >= n:
                continue
            pick = next((x for x in lst if x[0] not in seen_len and x[1] not in seen_src),
                        next((x for x in lst if x[0] not in seen_len), lst[0]))
            lst.remove(pick)
            src = make_source(pick[2], config)
            with torch.no_grad():
                count = int(model(src)[2])
            if count != pick[0]:
                continue
            res.append((src,))
            seen_len.add(pick[0])
            seen_src.add(pick[1])
    if len(res) < n:
        raise RuntimeError(f"nmt: only {len(res)} sources decode as predicted")
    return res


def path_label(outputs) -> str:
    tokens = np.asarray(outputs[0]).reshape(-1)
    n = int(np.asarray(outputs[-1]))
    return _label(_bucket(n, tokens.size > 0 and int(tokens[-1]) == EOS))


def all_paths(config: str) -> List[str]:
    return [_label(b) for b in range(len(BUCKETS) + 1)]
