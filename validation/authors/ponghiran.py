"""Ponghiran & Roy (2022) neurons as the authors' public code computes them.

Source: GitHub ``wponghiran/imp-snns-for-sl`` at commit
``9125ccde5fc3431de22eb487cfdb7b6bf06ec83d`` (a modified PyTorch-Kaldi). Files and line
numbers below refer to that commit:

* ``fake_spike_quantization.py`` (FSQ): the multi-bit "spike" quantizer, its range
  estimator and its custom autograd function ``SpikeQuantizeSTE``;
* ``traditional_spiking_model.py`` (TRAD): the traditional LIF layer;
* ``improved_spiking_model_v1.py`` (V1) and ``improved_spiking_model_v2.py`` (V2): the
  gated layers.

The code is torch; here everything is NumPy with explicit state. Only ``SpikeQuantizeSTE``
has a hand-written backward (FSQ L157-167: the identity). Every other gradient in their
code comes from torch autograd; the ``*_backward`` functions below are the exact gradients
of those autograd graphs, derived by hand (say so in each docstring), including
``torch.clamp``'s gradient (1 where ``min <= x <= max``, else 0), ``relu``'s (1 where the
output is > 0) and the gradient through the subtractive reset, which their code does not
detach.

Quantizer in one line (FSQ L30-59, L92-123, L146-155), for a tensor V and ``nb = num_bits``::

    n = 2^(nb-1);  s = n (1 - 1e-4) / max_abs         (max_abs from the range estimator)
    q = trunc(s * clip(V, -max_abs, max_abs));  q = 0 where |q| <= threshold;  Y = q / s

i.e. a SIGNED, symmetric quantizer with magnitudes 0..n-1 on each side (one of the nb bits
is the sign). In the library's terms (``Y = sign(V) min(floor(|V| 2^N/b), 2^N-1) b/2^N`` for
``|V| > k b/2^N``, ``signed=True``): ``N = nb - 1``, ``k = threshold + 1``,
``b = max_abs / (1 - 1e-4)`` (see :func:`to_library_multibit`).
"""
from __future__ import annotations

import numpy as np

REPO = "wponghiran/imp-snns-for-sl"
COMMIT = "9125ccde5fc3431de22eb487cfdb7b6bf06ec83d"
SHRINK = 1 - 1e-4  # FSQ L117
BN_EPS = 1e-5      # nn.BatchNorm1d default (TRAD L32-34, V1 L31-34, V2 L33-36 pass only momentum)

#: The published configurations (cfg/*.cfg). All: 2 layers, use_bn=True, dropout=0.2,
#: momentum=0.1 (BN momentum AND range-EMA momentum), Adam lr 1e-3, batch 64, 24 epochs.
CONFIGS = {
    "TIMIT_traditional_spiking_model_l2_e24_nb6th3_adam1":
        dict(model="traditional", hidden=550, num_bits=6, threshold=3, learn_tau=True),
    "LibriSpeech_traditional_spiking_model_l2_e24_nb6th3_adam1":
        dict(model="traditional", hidden=550, num_bits=6, threshold=3, learn_tau=True),
    "TIMIT_improved_spiking_model_v1_l2_e24_nb6th3_adam1":
        dict(model="v1", hidden=550, num_bits=6, threshold=3, do_edat=True),
    "LibriSpeech_improved_spiking_model_v1_l2_e24_nb6th3_adam1":
        dict(model="v1", hidden=550, num_bits=6, threshold=3, do_edat=True),
    "TIMIT_improved_spiking_model_v2_l2_e24_nb6th3_adam1":
        dict(model="v2", hidden=550, num_bits=6, threshold=3, do_edat=True),
    "LibriSpeech_improved_spiking_model_v2_l2_e24_nb6th3_adam1":
        dict(model="v2", hidden=550, num_bits=6, threshold=3, do_edat=True),
}
# Fig. 5 sweeps: TIMIT v2, nb in {1, 3, 5, 32}, threshold 0, hidden 550/825/1100/1650 (1x..3x)
for _nb in (1, 3, 5, 32):
    for _tag, _h in (("1x", 550), ("1p5x", 825), ("2x", 1100), ("3x", 1650)):
        CONFIGS[f"TIMIT_improved_spiking_model_v2_l2_e24_nb{_nb}th0_adam1_{_tag}"] = dict(
            model="v2", hidden=_h, num_bits=_nb, threshold=0, do_edat=True)


def to_library_multibit(num_bits, threshold, max_abs=None):
    """Their ``(num_bits, threshold)`` -> the library's multi-bit keywords.

    ``n_bits = num_bits - 1`` magnitude bits plus a sign (``signed=True``),
    ``threshold_levels = threshold + 1`` (their q <= threshold is zeroed, so the first
    non-zero level is threshold + 1; the two agree except exactly on a level boundary,
    where theirs emits and the library's strict ``|V| > gamma`` does not), and, given
    their ``max_abs``, ``b = max_abs / (1 - 1e-4)``. Exact for ``num_bits <= 14`` (above, the
    top level ``floor(2^N (1-1e-4))`` is below ``2^N - 1``). ``num_bits = 1`` gives
    ``n_bits = 0``: their output is identically zero."""
    out = dict(output="multibit", signed=True, n_bits=int(num_bits) - 1,
               threshold_levels=int(threshold) + 1)
    if max_abs is not None:
        out["b"] = float(max_abs) / SHRINK
    return out


# --------------------------------------------------------------------------------------
# quantizer, range estimator
# --------------------------------------------------------------------------------------
def update_ema(biased_ema, value, momentum, step):
    """FSQ L87-90: ``biased = biased (1 - m) + m value``;
    ``unbiased = biased / (1 - (1 - m)^step)``. Returns (biased, unbiased)."""
    biased_ema = biased_ema * (1 - momentum) + momentum * value
    unbiased_ema = biased_ema / (1 - (1 - momentum) ** step)
    return biased_ema, unbiased_ema


def symmetric_scale(num_bits, saturation_val, dtype=np.float32):
    """FSQ L92-123 with ``restrict_qrange=True`` (as called at L53): ``n = 2^(num_bits-1)``
    (L110), a zero saturation value is replaced by n (L116), ``scale = n (1 - 1e-4) / sat``
    (L117). The zero point is always 0. Computed in ``dtype`` as torch does (float32: the
    Python double ``n*(1-1e-4)`` meets a float32 tensor)."""
    if saturation_val < 0:
        raise ValueError("Saturation value must be >= 0")
    n = 2 ** (num_bits - 1)
    sat = dtype(n) if saturation_val == 0 else dtype(saturation_val)
    return dtype(n * (1 - 1e-4)) / sat


def spike_quantize_forward(inp, scale, threshold):
    """``SpikeQuantizeSTE.forward`` FSQ L146-155: ``q = trunc(scale * inp)`` (zero point 0),
    ``q[(q >= -threshold) & (q <= threshold)] = 0``, return ``q / scale``."""
    outp = np.trunc(scale * inp)
    idx = (outp >= -threshold) & (outp <= threshold)
    outp[idx] = 0.0
    return outp / scale


def spike_quantize_backward(grad_outp):
    """``SpikeQuantizeSTE.backward`` FSQ L157-167: straight-through, ``grad_inp = grad_outp``
    (the clipped variant is commented out at L160-164; clipping comes from the clamp
    before it, see :meth:`FakeSpikeQuantization.backward`)."""
    return grad_outp.copy()


class FakeSpikeQuantization:
    """``FakeSpikeQuantization`` module, FSQ L5-59, with its buffers as attributes.

    ``dtype``: float64 by default (gradient checks); ``np.float32`` reproduces torch's
    default arithmetic (buffers, EMA, scale and trunc in float32).

    State (FSQ L17-24): ``tracked_min_biased, tracked_min, tracked_max_biased,
    tracked_max`` (all 0), ``iter_count`` (0), ``scale`` (1). ``training`` plays
    ``nn.Module.training``. One instance per layer plus one for the input encoder.

    forward(V) (FSQ L30-59), when training:

        k <- k + 1                                            (L42; one call per TIME STEP)
        mb <- (1-mu) mb + mu min(V);  m_hat = mb / (1 - (1-mu)^k)   (L41, L43-45, L87-90)
        Mb <- (1-mu) Mb + mu max(V);  M_hat = Mb / (1 - (1-mu)^k)   (L46-48)

    min/max over the WHOLE (B, H) tensor of that step (``t.min()``, L78-80): one scalar
    range per quantizer, shared by all neurons and batch items. Then, always,
    ``max_abs = max(|m_hat|, |M_hat|)`` (L50), in training ``scale`` is recomputed from it
    (L52-53; in eval the stored scale is used), ``V`` is clamped to ``[-max_abs, max_abs]``
    (L56) and quantized (L58) — so each step is quantized with the range that already
    includes that step's own min/max.
    """

    def __init__(self, num_bits=8, threshold=0, ema_momentum=0.1, dtype=np.float64):
        self.num_bits = num_bits
        self.threshold = threshold
        self.dtype = dtype
        self.ema_momentum = dtype(ema_momentum)
        self.tracked_min_biased = dtype(0)
        self.tracked_min = dtype(0)
        self.tracked_max_biased = dtype(0)
        self.tracked_max = dtype(0)
        self.iter_count = dtype(0)
        self.scale = dtype(1)
        self.training = True

    @property
    def max_abs(self):
        """FSQ L50 (``max`` of two 1-element tensors)."""
        return max(abs(self.tracked_min), abs(self.tracked_max))

    def forward(self, inp):
        """Returns ``(Y, mask)``; ``mask`` = where ``torch.clamp`` passes the gradient."""
        inp = np.asarray(inp, dtype=self.dtype)
        if self.training:
            current_min, current_max = inp.min(), inp.max()                  # L41
            self.iter_count = self.iter_count + self.dtype(1)                # L42
            self.tracked_min_biased, self.tracked_min = update_ema(          # L43-45
                self.tracked_min_biased, current_min, self.ema_momentum, self.iter_count)
            self.tracked_max_biased, self.tracked_max = update_ema(          # L46-48
                self.tracked_max_biased, current_max, self.ema_momentum, self.iter_count)
        max_abs = self.max_abs                                               # L50
        if self.training:
            self.scale = symmetric_scale(self.num_bits, max_abs, self.dtype)  # L52-53
        mask = (inp >= -max_abs) & (inp <= max_abs)
        clamped = np.clip(inp, -max_abs, max_abs)                            # L56
        return spike_quantize_forward(clamped, self.scale, self.threshold), mask  # L58

    @staticmethod
    def backward(grad_out, mask):
        """Autograd of L56-58 (derived): STE (L166) times the clamp's gradient,
        ``dY/dV = 1 if -max_abs <= V <= max_abs else 0`` — also below the threshold."""
        return spike_quantize_backward(grad_out) * mask

    def library_b(self):
        """The library's ``b`` equivalent to the current range: ``max_abs / (1 - 1e-4)``."""
        return float(self.max_abs) / SHRINK


# --------------------------------------------------------------------------------------
# batch norm on the weighted inputs
# --------------------------------------------------------------------------------------
def batchnorm_forward(a, gamma, beta, state, momentum=0.1, eps=BN_EPS, training=True):
    """``nn.BatchNorm1d(H, momentum)`` applied to ``ws.view(T*B, H)`` (TRAD L87-89,
    V1 L98-103, V2 L101-106; final layer TRAD L119-121): statistics per feature over the
    time AND batch axes jointly (padding frames included). Training: normalize with the
    biased variance; ``running_mean <- (1-m) rm + m mean``,
    ``running_var <- (1-m) rv + m var * N/(N-1)`` (unbiased), N = T*B. Eval: running
    statistics. ``state`` is a dict with ``running_mean``/``running_var`` (init 0 / 1),
    updated in place. ``a``: (..., H). Returns (out, cache)."""
    shp = a.shape
    X = a.reshape(-1, shp[-1])
    if training:
        mu = X.mean(0)
        var = X.var(0)
        n = X.shape[0]
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var * n / (n - 1)
    else:
        mu, var = state["running_mean"], state["running_var"]
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (X - mu) * inv
    out = gamma * xhat + beta
    return out.reshape(shp), (xhat, inv, gamma, training, shp)


def batchnorm_backward(dout, cache):
    """Exact gradient of :func:`batchnorm_forward` (what autograd computes; derived).
    Returns (da, dgamma, dbeta)."""
    xhat, inv, gamma, training, shp = cache
    D = dout.reshape(-1, shp[-1])
    dgamma = (D * xhat).sum(0)
    dbeta = D.sum(0)
    dxhat = D * gamma
    if training:
        n = D.shape[0]
        da = inv / n * (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
    else:
        da = dxhat * inv
    return da.reshape(shp), dgamma, dbeta


def fold_bn_eval(W, gamma, beta, state, eps=BN_EPS):
    """Eval-mode BN after ``x W`` (no bias) is affine: returns ``(W', b')`` with
    ``BN(x W) = x W' + b'`` — how a library cell without norm can reproduce an eval pass.
    W: (n_in, H) in the library's layout."""
    s = gamma / np.sqrt(state["running_var"] + eps)
    return W * s, beta - s * state["running_mean"]


# --------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _membrane_backward(dY_t, mask_t, gV_next):
    # V_t = R_{t-1} + I_t, Y_t = Q(V_t), R_t = V_t - Y_t (reset NOT detached):
    # dL/dR_t = dL/dV_{t+1};  dL/dV_t = dL/dR_t + mask_t * (dL/dY_t - dL/dR_t)
    return gV_next + mask_t * (dY_t - gV_next)


def encoder_forward(xs, quantizer):
    """Input sigma-delta encoder (``fsq_x``): TRAD L62-70 (always), V1 L66-74 / V2 L69-77
    (when ``do_edat``)::

        acc += x_t;  Y_t = Q(acc);  acc -= Y_t      (no leak, reset by the sent value)

    xs: (T, B, n_in). Returns (Ys, masks)."""
    acc = np.zeros_like(xs[0])
    Ys, masks = [], []
    for x in xs:
        acc = acc + x
        Y, m = quantizer.forward(acc)
        Ys.append(Y)
        masks.append(m)
        acc = acc - Y
    return np.stack(Ys), np.stack(masks)


def encoder_backward(dYs, masks):
    """Autograd of :func:`encoder_forward` (derived; the features carry no gradient in
    their code, this is for completeness): ``dL/dx_t = dL/dacc_t``."""
    dxs = np.zeros_like(dYs)
    g = np.zeros_like(dYs[0])
    for t in reversed(range(len(dYs))):
        g = _membrane_backward(dYs[t], masks[t], g)
        dxs[t] = g
    return dxs


def traditional_layer_forward(ws, tau, quantizer, dropout_mask=None):
    """Traditional LIF layer, TRAD L91-107, ``ws`` = BN(Linear(input)) of shape (T, B, H)::

        syn_t = ws_t * mask + tau * syn_{t-1}     (L96 training; L98 eval: no mask)
        V_t   = R_{t-1} + syn_t                   (L101, ``vmem += syn``; no membrane leak)
        Y_t   = Q(V_t)                            (L102)
        R_t   = V_t - Y_t                         (L107, reset by the transmitted value)

    ``tau`` (H,): ``nn.Parameter(ones)``, learnable when ``learn_tau`` (TRAD L29-30; the
    configs set learn_tau=True). ``dropout_mask`` (B, H): Bernoulli(1-p)/(1-p), one draw
    per layer and batch, reused at every step (L81-83); None = eval. Returns (Ys, cache)."""
    T, B, H = ws.shape
    prev_syn = np.zeros((B, H))
    vmem = np.zeros((B, H))
    Ys, masks, syns = [], [], []
    for t in range(T):
        if dropout_mask is not None:
            syn = ws[t] * dropout_mask + tau * prev_syn
        else:
            syn = ws[t] + tau * prev_syn
        vmem = vmem + syn
        Y, m = quantizer.forward(vmem)
        Ys.append(Y)
        masks.append(m)
        syns.append(syn)
        prev_syn = syn
        vmem = vmem - Y
    return np.stack(Ys), dict(masks=masks, syns=syns, tau=tau, dropout_mask=dropout_mask)


def traditional_layer_backward(dYs, cache):
    """Exact gradient of their autograd graph for :func:`traditional_layer_forward`
    (derived by hand; no custom backward besides the STE)::

        gV_t   = m_t dY_t + (1 - m_t) gV_{t+1}       (membrane carry killed where |V| <= max_abs)
        gsyn_t = gV_t + tau gsyn_{t+1}
        dws_t  = gsyn_t * mask;   dtau = sum_t sum_B gsyn_t syn_{t-1}

    Returns (dws, dtau)."""
    masks, syns, tau, dm = cache["masks"], cache["syns"], cache["tau"], cache["dropout_mask"]
    T = len(masks)
    dws = np.zeros((T,) + syns[0].shape)
    dtau = np.zeros_like(np.asarray(tau, dtype=np.float64))
    gV = np.zeros_like(syns[0])
    gsyn_next = np.zeros_like(syns[0])
    for t in reversed(range(T)):
        gV = _membrane_backward(dYs[t], masks[t], gV)
        gsyn = gV + tau * gsyn_next
        dws[t] = gsyn * (dm if dm is not None else 1.0)
        if t > 0:
            dtau = dtau + (gsyn * syns[t - 1]).sum(0)
        gsyn_next = gsyn
    return dws, dtau


def improved_layer_forward(wz, wc, quantizer, U_z=None, U_c=None, dropout_mask=None):
    """Gated layer with ``do_edat=True``: V1 L105-124 (``U_z is None``) / V2 L108-130.

    ``wz, wc`` (T, B, H): BN of the two halves of ``Linear(input)`` (``ws.chunk(2, -1)``,
    V1 L96 / V2 L99: first half forget, second candidate). ``U_z, U_c`` (H, H) in the
    library's layout (``linear_us.weight[:H].T`` and ``[H:].T``, V2 L114-115, no bias)::

        a_z = wz_t [+ Y_{t-1} U_z];  a_c = wc_t [+ Y_{t-1} U_c]      (V2 L114-118)
        z = sigmoid(a_z);  c = relu(a_c)                             (V1 L111-112)
        h_t = (1 - z) c * mask + z h_{t-1}                           (V1 L113-116; eval: no mask)
        V_t = R_{t-1} + h_t;  Y_t = Q(V_t);  R_t = V_t - Y_t         (V1 L119-124)

    h is the paper's synaptic current I (Eq. 18/21), z its F, c its C; the membrane has no
    leak. Returns (Ys, cache)."""
    T, B, H = wz.shape
    prev_h = np.zeros((B, H))
    acc = np.zeros((B, H))
    sparse_h = np.zeros((B, H))
    rec = dict(z=[], c=[], hprev=[], Yprev=[], masks=[])
    Ys = []
    for t in range(T):
        az, ac = wz[t], wc[t]
        if U_z is not None:
            az = az + sparse_h @ U_z
            ac = ac + sparse_h @ U_c
        z = _sigmoid(az)
        c = np.maximum(ac, 0.0)
        if dropout_mask is not None:
            h = ((1 - z) * c * dropout_mask) + (z * prev_h)
        else:
            h = ((1 - z) * c) + (z * prev_h)
        acc = acc + h
        rec["Yprev"].append(sparse_h)
        sparse_h, m = quantizer.forward(acc)
        Ys.append(sparse_h)
        for k, v in (("z", z), ("c", c), ("hprev", prev_h), ("masks", m)):
            rec[k].append(v)
        prev_h = h
        acc = acc - sparse_h
    rec.update(U_z=U_z, U_c=U_c, dropout_mask=dropout_mask)
    return np.stack(Ys), rec


def improved_layer_backward(dYs, cache):
    """Exact gradient of their autograd graph for :func:`improved_layer_forward`
    (derived by hand)::

        gY_t = dY_t + (da_z_{t+1} U_z^T + da_c_{t+1} U_c^T)          (v2 only: Y feeds back)
        gV_t = m_t gY_t + (1 - m_t) gV_{t+1}
        gh_t = gV_t + z_{t+1} gh_{t+1}
        da_z = gh_t (h_{t-1} - c_t mask) z (1 - z);  da_c = gh_t (1 - z) mask 1[c_t > 0]
        dU_z = sum_t Y_{t-1}^T da_z_t;  dU_c = sum_t Y_{t-1}^T da_c_t

    Returns (dwz, dwc, dU_z, dU_c) (the last two None for v1)."""
    Z, C, HP, YP, M = (cache[k] for k in ("z", "c", "hprev", "Yprev", "masks"))
    U_z, U_c, dm = cache["U_z"], cache["U_c"], cache["dropout_mask"]
    mk = dm if dm is not None else 1.0
    T = len(Z)
    dwz = np.zeros((T,) + Z[0].shape)
    dwc = np.zeros_like(dwz)
    dUz = None if U_z is None else np.zeros_like(U_z)
    dUc = None if U_c is None else np.zeros_like(U_c)
    gV = np.zeros_like(Z[0])
    gh_next = np.zeros_like(Z[0])
    gY_rec = np.zeros_like(Z[0])
    for t in reversed(range(T)):
        gY = dYs[t] + gY_rec
        gV = _membrane_backward(gY, M[t], gV)
        gh = gV + (Z[t + 1] * gh_next if t < T - 1 else 0.0)
        z, c = Z[t], C[t]
        daz = gh * (HP[t] - c * mk) * z * (1 - z)
        dac = gh * (1 - z) * mk * (c > 0)
        dwz[t], dwc[t] = daz, dac
        if U_z is not None:
            dUz += YP[t].T @ daz
            dUc += YP[t].T @ dac
            gY_rec = daz @ U_z.T + dac @ U_c.T
        gh_next = gh
    return dwz, dwc, dUz, dUc


# --------------------------------------------------------------------------------------
# weight layouts
# --------------------------------------------------------------------------------------
def split_gate_weight(weight):
    """torch ``nn.Linear(n, 2H).weight`` (2H, n) -> library ``(W_f, W_c)`` each (n, H):
    ``chunk(2, -1)`` of the output puts the forget gate first (V1 L96, V2 L99, V2 L115)."""
    H = weight.shape[0] // 2
    return weight[:H].T.copy(), weight[H:].T.copy()


def join_gate_weight(W_f, W_c):
    """Inverse of :func:`split_gate_weight`."""
    return np.concatenate([W_f.T, W_c.T], axis=0)
