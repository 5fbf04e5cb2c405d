/* Typed kernels of RNN, GRU and LSTM: a template that ops/rnn.c includes once per element type
 * (RNN_T = float, then double) after defining RNN_T, RNN_SFX, RNN_DTYPE, RNN_EXP, RNN_TANH and
 * RNN_LOG1P, which it undefines at its end. Compiled on its own (the build compiles every .c
 * file) it is empty.
 *
 * Layout of the work: inputs are converted to RNN_T in layout 0 ([seq, batch, ...]) and the
 * weights transposed. For each direction, X*W^T + biases is computed for all steps at once; then
 * the steps run for all batch entries together: H*R^T for the entries still active (each stops
 * at its own length when sequence_lens is given; a reverse direction starts at the entry's last
 * valid step), then each entry's cell update. Outputs are written in layout 0 and permuted to
 * layout 1 when asked. */
#ifdef DYCL_RNN_TEMPLATE

#define RNN_CAT_(a, b) a##_##b
#define RNN_CAT(a, b) RNN_CAT_(a, b)
#define RNN_FN(name) RNN_CAT(name, RNN_SFX)

/* Elementwise activation; the switch is outside the loops. */
static void RNN_FN(rnn_act)(const rnn_act_t* a, RNN_T* x, int64_t n) {
  const RNN_T al = (RNN_T)a->alpha, be = (RNN_T)a->beta;
  switch (a->kind) {
    case RNN_ACT_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
      break;
    case RNN_ACT_TANH:
      for (int64_t i = 0; i < n; i++) x[i] = RNN_TANH(x[i]);
      break;
    case RNN_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) x[i] = 1 / (1 + RNN_EXP(-x[i]));
      break;
    case RNN_ACT_AFFINE:
      for (int64_t i = 0; i < n; i++) x[i] = al * x[i] + be;
      break;
    case RNN_ACT_LEAKYRELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : al * x[i];
      break;
    case RNN_ACT_THRESHOLDEDRELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= al ? x[i] : 0;
      break;
    case RNN_ACT_SCALEDTANH:
      for (int64_t i = 0; i < n; i++) x[i] = al * RNN_TANH(be * x[i]);
      break;
    case RNN_ACT_HARDSIGMOID:
      for (int64_t i = 0; i < n; i++) {
        RNN_T v = al * x[i] + be;
        x[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
      }
      break;
    case RNN_ACT_ELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : al * (RNN_EXP(x[i]) - 1);
      break;
    case RNN_ACT_SOFTSIGN:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1 + (x[i] < 0 ? -x[i] : x[i]));
      break;
    case RNN_ACT_SOFTPLUS:
      for (int64_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] + RNN_LOG1P(RNN_EXP(-x[i])) : RNN_LOG1P(RNN_EXP(x[i]));
      break;
  }
}

static void RNN_FN(rnn_clip)(const rnn_cfg_t* cfg, RNN_T* x, int64_t n) {
  if (!cfg->has_clip) return;
  const RNN_T c = (RNN_T)cfg->clip;
  for (int64_t i = 0; i < n; i++) x[i] = x[i] < -c ? -c : (x[i] > c ? c : x[i]);
}

/* out[r][c] = sum over m < K of in[r][m] * T[m][c0 + c], for c < nc and for the rows r listed in
 * `rows` (n of them; NULL: rows 0..n-1). T is row-major with `ld` columns (a transposed weight
 * matrix), so the inner loop is a contiguous axpy that compilers vectorize without reordering
 * any sum: every output accumulates over m in increasing order, as a plain dot product would. */
static void RNN_FN(rnn_gemm)(RNN_T* out, int64_t out_ld, const RNN_T* in, int64_t in_ld, const int64_t* rows, int64_t n,
                             const RNN_T* T, int64_t ld, int64_t c0, int64_t nc, int64_t K) {
  for (int64_t i = 0; i < n; i++) {
    RNN_T* o = out + (rows ? rows[i] : i) * out_ld;
    for (int64_t c = 0; c < nc; c++) o[c] = 0;
  }
  for (int64_t m = 0; m < K; m++) {
    const RNN_T* t = T + m * ld + c0;
    for (int64_t i = 0; i < n; i++) {
      int64_t r = rows ? rows[i] : i;
      RNN_T* o = out + r * out_ld;
      const RNN_T v = in[r * in_ld + m];
      for (int64_t c = 0; c < nc; c++) o[c] += v * t[c];
    }
  }
}

/* dst[j][i] = src[i][j] for a rows x cols matrix src. */
static void RNN_FN(rnn_transpose)(RNN_T* dst, const RNN_T* src, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

/* Reads n elements of t from flat offset `off`, converting to RNN_T. */
static void RNN_FN(rnn_load)(RNN_T* dst, const dycl_value_t* t, int64_t off, int64_t n) {
  if (t->dtype == RNN_DTYPE) {
    memcpy(dst, (const RNN_T*)t->data + off, (size_t)n * sizeof(RNN_T));
  } else {
    for (int64_t i = 0; i < n; i++) dst[i] = (RNN_T)dycl_tensor_get_f64(t, off + i);
  }
}

static void RNN_FN(rnn_store)(dycl_value_t* t, int64_t off, const RNN_T* src, int64_t n) {
  if (t->dtype == RNN_DTYPE) {
    memcpy((RNN_T*)t->data + off, src, (size_t)n * sizeof(RNN_T));
  } else {
    for (int64_t i = 0; i < n; i++) dycl_tensor_set_f64(t, off + i, (double)src[i]);
  }
}

/* One time step of one batch entry, in two stages around the recurrent products.
 * g: X*W^T + biases for this step (consumed in place); rec: H*R^T for the gates (GRU without
 * linear_before_reset: z and r only; stage 1 leaves r (.) H in tmp, and the caller puts
 * (r (.) H)*Rh^T into rec + 2H before stage 2). h and c are updated in place. */
static void RNN_FN(rnn_cell1)(const rnn_cfg_t* cfg, const rnn_act_t* acts, RNN_T* g, const RNN_T* rec, const RNN_T* h,
                              RNN_T* tmp) {
  const int64_t H = cfg->H;
  if (cfg->cell != RNN_CELL_GRU || cfg->linear_before_reset) return;
  for (int64_t j = 0; j < 2 * H; j++) g[j] += rec[j];
  RNN_FN(rnn_clip)(cfg, g, 2 * H);
  RNN_FN(rnn_act)(&acts[0], g, 2 * H);
  for (int64_t j = 0; j < H; j++) tmp[j] = g[H + j] * h[j];
}

static void RNN_FN(rnn_cell2)(const rnn_cfg_t* cfg, const rnn_act_t* acts, RNN_T* g, const RNN_T* rec, RNN_T* h, RNN_T* c,
                              const RNN_T* bias_rh, const RNN_T* P, RNN_T* tmp) {
  const int64_t H = cfg->H;
  switch (cfg->cell) {
    case RNN_CELL_RNN:
      for (int64_t j = 0; j < H; j++) g[j] += rec[j];
      RNN_FN(rnn_clip)(cfg, g, H);
      RNN_FN(rnn_act)(&acts[0], g, H);
      memcpy(h, g, (size_t)H * sizeof(RNN_T));
      break;
    case RNN_CELL_GRU: {
      RNN_T* z = g;
      RNN_T* r = g + H;
      RNN_T* hh = g + 2 * H;
      if (cfg->linear_before_reset) {
        for (int64_t j = 0; j < 2 * H; j++) g[j] += rec[j];
        RNN_FN(rnn_clip)(cfg, g, 2 * H);
        RNN_FN(rnn_act)(&acts[0], g, 2 * H);
        for (int64_t j = 0; j < H; j++) hh[j] += r[j] * (rec[2 * H + j] + bias_rh[j]);
      } else {
        for (int64_t j = 0; j < H; j++) hh[j] += rec[2 * H + j]; /* (r (.) H)*Rh^T */
      }
      RNN_FN(rnn_clip)(cfg, hh, H);
      RNN_FN(rnn_act)(&acts[1], hh, H);
      for (int64_t j = 0; j < H; j++) h[j] = (1 - z[j]) * hh[j] + z[j] * h[j];
      break;
    }
    case RNN_CELL_LSTM: {
      RNN_T* gi = g;
      RNN_T* go = g + H;
      RNN_T* gf = g + 2 * H;
      RNN_T* gc = g + 3 * H;
      for (int64_t j = 0; j < 4 * H; j++) g[j] += rec[j];
      if (P) {
        for (int64_t j = 0; j < H; j++) gi[j] += P[j] * c[j];
        if (!cfg->input_forget)
          for (int64_t j = 0; j < H; j++) gf[j] += P[2 * H + j] * c[j];
      }
      RNN_FN(rnn_clip)(cfg, gi, H);
      RNN_FN(rnn_act)(&acts[0], gi, H);
      if (cfg->input_forget) {
        for (int64_t j = 0; j < H; j++) gf[j] = 1 - gi[j];
      } else {
        RNN_FN(rnn_clip)(cfg, gf, H);
        RNN_FN(rnn_act)(&acts[0], gf, H);
      }
      RNN_FN(rnn_clip)(cfg, gc, H);
      RNN_FN(rnn_act)(&acts[1], gc, H);
      for (int64_t j = 0; j < H; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
      if (P)
        for (int64_t j = 0; j < H; j++) go[j] += P[H + j] * c[j];
      RNN_FN(rnn_clip)(cfg, go, H);
      RNN_FN(rnn_act)(&acts[0], go, H);
      memcpy(tmp, c, (size_t)H * sizeof(RNN_T));
      RNN_FN(rnn_act)(&acts[2], tmp, H);
      for (int64_t j = 0; j < H; j++) h[j] = go[j] * tmp[j];
      break;
    }
  }
}

/* Allocates n elements of RNN_T (zero-filled), overflow-checked. */
static dycl_status_t RNN_FN(rnn_alloc)(dycl_kctx_t* ctx, const dycl_node_t* node, int64_t n, RNN_T** out) {
  void* p;
  dycl_status_t s = dycl_kernel_scratch(ctx, node, n, sizeof(RNN_T), &p);
  *out = p;
  return s;
}

static dycl_status_t RNN_FN(rnn_compute)(dycl_kctx_t* ctx, const dycl_node_t* node, const rnn_cfg_t* cfg,
                                         const rnn_io_t* io) {
  const int64_t S = cfg->S, B = cfg->B, I = cfg->I, H = cfg->H, D = cfg->ndir;
  const int64_t G = cfg->ngates, GH = G * H; /* checked by the caller */
  const bool gru_reset_first = cfg->cell == RNN_CELL_GRU && !cfg->linear_before_reset;
  dycl_status_t st = NULL;
  enum { BX, BXW, BW, BWT, BR, BRT, BB, BP, BH, BC, BREC, BT, BY, BYH, BYC, BIDX, NBUF };
  RNN_T* buf[NBUF] = {0};
  int64_t n_x, n_xw, n_w, n_r, n_y, n_bh, n_bgh, n_dbh;
  if (!dycl_mul_i64(S, B, &n_x) || !dycl_mul_i64(n_x, GH, &n_xw) || !dycl_mul_i64(n_x, I, &n_x) ||
      !dycl_mul_i64(GH, I, &n_w) || !dycl_mul_i64(GH, H, &n_r) || !dycl_mul_i64(B, H, &n_bh) ||
      !dycl_mul_i64(B, GH, &n_bgh) || !dycl_mul_i64(n_bh, D, &n_dbh) || !dycl_mul_i64(n_dbh, S, &n_y))
    return dycl_node_error(node, DYCL_CODE_LIMIT, "sizes overflow");
  /* BIDX holds 2*B int64 (lengths, active rows): sized in RNN_T units, rounded up */
  const int64_t n_idx = (2 * B * (int64_t)sizeof(int64_t) + (int64_t)sizeof(RNN_T) - 1) / (int64_t)sizeof(RNN_T);
  const int64_t sizes[NBUF] = {n_x, n_xw, n_w, n_w, n_r, n_r, 2 * GH, 3 * H, n_bh, n_bh, n_bgh, n_bh,
                               io->y ? n_y : 0, n_dbh, n_dbh, n_idx};
  for (int k = 0; k < NBUF; k++) DYCL_GOTO_IF_ERROR(st, RNN_FN(rnn_alloc)(ctx, node, sizes[k], &buf[k]), done);
  int64_t* len = (int64_t*)(void*)buf[BIDX];
  int64_t* active = len + B;
  int64_t max_len = 0;
  for (int64_t b = 0; b < B; b++) {
    len[b] = io->seq ? dycl_tensor_get_i64(io->seq, b) : S; /* validated by the caller */
    if (len[b] > max_len) max_len = len[b];
  }

  /* X in layout 0: [S, B, I] */
  if (cfg->layout == 0) {
    RNN_FN(rnn_load)(buf[BX], io->x, 0, n_x);
  } else {
    for (int64_t b = 0; b < B; b++)
      for (int64_t s = 0; s < S; s++) RNN_FN(rnn_load)(buf[BX] + (s * B + b) * I, io->x, (b * S + s) * I, I);
  }

  for (int64_t d = 0; d < D; d++) {
    const bool reverse = D == 2 ? d == 1 : cfg->reverse;
    const rnn_act_t* acts = cfg->act + d * cfg->nact;
    RNN_T *WT = buf[BWT], *RT = buf[BRT], *bias = buf[BB], *P = io->p ? buf[BP] : NULL;
    RNN_T *h = buf[BH], *c = buf[BC], *xw = buf[BXW], *rec = buf[BREC], *tmp = buf[BT];
    RNN_FN(rnn_load)(buf[BW], io->w, d * n_w, n_w);
    RNN_FN(rnn_transpose)(WT, buf[BW], GH, I);
    RNN_FN(rnn_load)(buf[BR], io->r, d * n_r, n_r);
    RNN_FN(rnn_transpose)(RT, buf[BR], GH, H);
    if (io->b) RNN_FN(rnn_load)(bias, io->b, d * 2 * GH, 2 * GH);
    else memset(bias, 0, (size_t)(2 * GH) * sizeof(RNN_T));
    if (io->p) RNN_FN(rnn_load)(P, io->p, d * 3 * H, 3 * H);
    /* initial states */
    const dycl_value_t* init[2] = {io->h0, io->c0};
    RNN_T* state[2] = {h, c};
    for (int k = 0; k < 2; k++) {
      if (!init[k]) {
        memset(state[k], 0, (size_t)n_bh * sizeof(RNN_T));
      } else if (cfg->layout == 0) {
        RNN_FN(rnn_load)(state[k], init[k], d * n_bh, n_bh);
      } else {
        for (int64_t b = 0; b < B; b++) RNN_FN(rnn_load)(state[k] + b * H, init[k], (b * D + d) * H, H);
      }
    }
    /* xw = X*W^T + Wb + Rb for every step, in blocks of rows (GRU with linear_before_reset keeps
     * Rbh for the step) */
    const bool keep_rbh = cfg->cell == RNN_CELL_GRU && cfg->linear_before_reset;
    for (int64_t row0 = 0; row0 < S * B; row0 += 16) {
      int64_t nb = S * B - row0 < 16 ? S * B - row0 : 16;
      RNN_FN(rnn_gemm)(xw + row0 * GH, GH, buf[BX] + row0 * I, I, NULL, nb, WT, GH, 0, GH, I);
      for (int64_t r = row0; r < row0 + nb; r++) {
        RNN_T* o = xw + r * GH;
        for (int64_t j = 0; j < GH; j++) o[j] += bias[j] + ((keep_rbh && j >= 2 * H) ? 0 : bias[GH + j]);
      }
    }
    const RNN_T* bias_rh = bias + GH + 2 * H; /* GRU: Rbh */
    /* time steps: step k of entry b is time t = k (forward) or len[b] - 1 - k (reverse) */
    for (int64_t k = 0; k < max_len; k++) {
      int64_t n_act = 0;
      for (int64_t b = 0; b < B; b++)
        if (len[b] > k) active[n_act++] = b;
      RNN_FN(rnn_gemm)(rec, GH, h, H, active, n_act, RT, GH, 0, gru_reset_first ? 2 * H : GH, H);
      if (gru_reset_first) {
        for (int64_t i = 0; i < n_act; i++) {
          int64_t b = active[i], t = reverse ? len[b] - 1 - k : k;
          RNN_FN(rnn_cell1)(cfg, acts, xw + (t * B + b) * GH, rec + b * GH, h + b * H, tmp + b * H);
        }
        RNN_FN(rnn_gemm)(rec + 2 * H, GH, tmp, H, active, n_act, RT, GH, 2 * H, H, H);
      }
      for (int64_t i = 0; i < n_act; i++) {
        int64_t b = active[i], t = reverse ? len[b] - 1 - k : k;
        RNN_T* hb = h + b * H;
        RNN_FN(rnn_cell2)(cfg, acts, xw + (t * B + b) * GH, rec + b * GH, hb, c + b * H, bias_rh, P, tmp + b * H);
        if (io->y) memcpy(buf[BY] + ((t * D + d) * B + b) * H, hb, (size_t)H * sizeof(RNN_T));
      }
    }
    memcpy(buf[BYH] + d * n_bh, h, (size_t)n_bh * sizeof(RNN_T));
    memcpy(buf[BYC] + d * n_bh, c, (size_t)n_bh * sizeof(RNN_T));
  }

  /* outputs */
  if (io->y) {
    if (cfg->layout == 0) {
      RNN_FN(rnn_store)(io->y, 0, buf[BY], n_y);
    } else { /* [B, S, D, H] from [S, D, B, H] */
      for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++)
          for (int64_t b = 0; b < B; b++)
            RNN_FN(rnn_store)(io->y, ((b * S + s) * D + d) * H, buf[BY] + ((s * D + d) * B + b) * H, H);
    }
  }
  dycl_value_t* finals[2] = {io->yh, io->yc};
  const RNN_T* fbuf[2] = {buf[BYH], buf[BYC]};
  for (int k = 0; k < 2; k++) {
    if (!finals[k]) continue;
    if (cfg->layout == 0) {
      RNN_FN(rnn_store)(finals[k], 0, fbuf[k], n_dbh);
    } else { /* [B, D, H] from [D, B, H] */
      for (int64_t d = 0; d < D; d++)
        for (int64_t b = 0; b < B; b++) RNN_FN(rnn_store)(finals[k], (b * D + d) * H, fbuf[k] + (d * B + b) * H, H);
    }
  }
done:
  for (int k = 0; k < NBUF; k++) dycl_free(ctx->alloc, buf[k]);
  return st;
}

#undef RNN_FN
#undef RNN_CAT
#undef RNN_CAT_
/* the parameters of this instantiation: the next one defines its own */
#undef RNN_T
#undef RNN_SFX
#undef RNN_DTYPE
#undef RNN_EXP
#undef RNN_TANH
#undef RNN_LOG1P

#endif /* DYCL_RNN_TEMPLATE */
