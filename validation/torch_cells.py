"""Every cell of the library, written a second time in PyTorch autograd, from the equations.

This is the *independent* implementation the library's hand-written backward passes are
checked against (``tests/test_against_torch.py``, chapter 11) and timed against
(``benchmarks/bench.py``). Nothing here is imported from ``snn_from_scratch``: only the
forward pass is written, from the papers' equations as ``docs/design.md`` fixes them, and
the backward is PyTorch's autograd. Every point where the library's backward is a *rule*
rather than a derivative is a small custom ``torch.autograd.Function``:

* a spike H(u) = 1[u > 0]: forward the step, backward ``g * surrogate(u)``, the surrogate
  written again here from the formulas (not imported from ``snn_from_scratch.surrogates``);
* the multi-bit quantizer of Ponghiran & Roy (Eq. 22, the authors' scaling): forward the
  levels of b/2^N above gamma = k b/2^N, clipped to 2^N - 1; backward the clipped
  straight-through estimator 1[|V| <= b];
* SRC's ReLU bypass (De Geeter et al. §4.4): forward ReLU, backward the identity;
* detach rules are ``.detach()``; SRC's z_s switch is a comparison (no gradient).

Every cell has the signature ``f(P, x, state=None, cfg=None, buffers=None, training=False)
-> (y, final_state)``: ``P`` a dict of parameter tensors under our names and layouts
(``x @ W``, gate blocks in our order), ``x`` (T, B, n_in), ``state`` a dict field -> (B, H)
tensor (zeros when None), ``cfg`` the cell's full config as a dict
(``dataclasses.asdict(cell.config)`` or a fixture header's ``config``), ``buffers`` the
running statistics the LIF family reads (``b``, the multi-bit range, fixed here; batch norm's
``bn_mean*`` / ``bn_var*``, a fresh layer's 0 and 1 when absent), ``training`` whether batch
norm uses the batch's own statistics. ``y`` is (T, B, H), ``final_state`` a dict of the state
fields. As in the library, the input projection of all steps is one matrix product before
the loop (which also makes the benchmark a like-for-like comparison).

Then: :func:`run_fixture` (a reference fixture through these functions) and the mapping of
our ``rnn``/``lstm``/``gru`` onto ``torch.nn.RNN/LSTM/GRU`` (:func:`to_torch_nn`,
:func:`run_torch_nn`), used as baselines.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["surrogate_grad_fn", "Spike", "spike", "MultibitQuantizer", "BypassReLU", "project",
           "torch_rnn", "torch_lstm", "torch_gru", "torch_brc", "torch_spiking_lstm", "torch_lif",
           "torch_gated_lif", "torch_src", "TORCH_CELLS", "STATE_FIELDS", "fixture_buffers", "run_fixture",
           "swap01", "to_torch_nn", "grads_from_torch_nn", "run_torch_nn"]


# ======================================================================================
# Surrogates, quantizer and bypass as autograd Functions
# ======================================================================================
def surrogate_grad_fn(family, params=None):
    """The surrogate derivative dH/du of a family (u the unnormalized distance to the
    threshold), as a torch function of u. Defaults are the families' documented ones."""
    p = dict(params or {})
    if family == "gaussian":        # exp(-u^2/a) / sqrt(pi a)
        a = p.get("a", 4.0)
        return lambda u: torch.exp(-u * u / a) / math.sqrt(math.pi * a)
    if family == "triangle":        # height * max(0, 1 - |u|/width)
        h, w = p.get("height", 1.0), p.get("width", 1.0)
        return lambda u: h * torch.clamp(1.0 - u.abs() / w, min=0.0)
    if family == "fast_sigmoid":    # 1 / (1 + k|u|)^2
        k = p.get("k", 25.0)
        return lambda u: 1.0 / (1.0 + k * u.abs()) ** 2
    if family == "atan":            # (a/2) / (1 + (pi a u / 2)^2)
        a = p.get("a", 2.0)
        return lambda u: (a / 2) / (1.0 + (math.pi * a * u / 2) ** 2)
    if family == "sigmoid":         # k s(ku) (1 - s(ku))
        k = p.get("k", 25.0)
        return lambda u: k * torch.sigmoid(k * u) * (1.0 - torch.sigmoid(k * u))
    if family == "straight_through":  # scale everywhere (or in a window of the given width)
        scale, width = p.get("scale", 1.0), p.get("width", None)
        if width is None:
            return lambda u: torch.full_like(u, scale)
        return lambda u: scale * (u.abs() <= width / 2).to(u.dtype)
    if family == "constant":        # the spiking LSTM's cell_grad="constant" (gamma)
        g = p["gamma"]
        return lambda u: torch.full_like(u, g)
    raise KeyError(f"unknown surrogate family {family!r}")


class Spike(torch.autograd.Function):
    """H(u) = 1[u > 0] (1[u >= 0] with ``at_threshold``) forward; ``grad_fn(u)`` (a
    surrogate derivative) backward."""

    @staticmethod
    def forward(ctx, u, grad_fn, at_threshold=False):
        ctx.save_for_backward(u)
        ctx.grad_fn = grad_fn
        return ((u >= 0) if at_threshold else (u > 0)).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * ctx.grad_fn(u), None, None


def spike(u, family, params=None):
    """A spike of ``u`` with the surrogate ``family(params)`` in backward."""
    return Spike.apply(u, surrogate_grad_fn(family, params))


class MultibitQuantizer(torch.autograd.Function):
    """Ponghiran & Roy Eq. 22 with the authors' scaling: with the level width
    w = b / (2^N r) (N bits, margin r) and gamma = k w, the level q = min(floor(min(V, b) / w),
    2^N - 1) where V > gamma (>= with ``at_threshold``), else 0 (mirrored for negative V
    when ``signed``; the clip at b is the authors' clamp); the output is q w. Backward: the
    clipped straight-through estimator 1[|V| <= b] (the derivative of clip(V, -b, b))."""

    @staticmethod
    def forward(ctx, V, b, n_bits, k, signed=False, at_threshold=False, margin=1.0):
        ctx.save_for_backward(V)
        ctx.b = b
        levels = 2 ** n_bits
        w = b / (levels * margin)
        gamma = k * b / (levels * margin)
        mag = V.abs() if signed else V
        q = torch.clamp(torch.floor(torch.clamp(mag, max=b) / w), max=levels - 1)
        emits = (mag >= gamma) if at_threshold else (mag > gamma)
        q = torch.where(emits, q, torch.zeros_like(q))
        if signed:
            q = torch.sign(V) * q
        return q * w

    @staticmethod
    def backward(ctx, g):
        (V,) = ctx.saved_tensors
        return (g * (V.abs() <= ctx.b).to(V.dtype),) + (None,) * 6


class BypassReLU(torch.autograd.Function):
    """ReLU forward, identity backward (SRC's ``bypass_relu``)."""

    @staticmethod
    def forward(ctx, h):
        return torch.clamp(h, min=0.0)

    @staticmethod
    def backward(ctx, g):
        return g


# ======================================================================================
# The eight cells
# ======================================================================================
#: The state fields of each cell (the library's State NamedTuples, in order).
STATE_FIELDS = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",), "brc": ("h",),
                "spiking_lstm": ("h", "c"), "lif": ("I", "V", "Y"), "gated_lif": ("I", "V", "Y"),
                "src": ("i", "h", "h_s")}


def project(x, W, b=None):
    """The input projection of all T steps as one matrix product: (T, B, n_in) -> (T, B, k)."""
    T, B, n_in = x.shape
    A = x.reshape(T * B, n_in) @ W
    if b is not None:
        A = A + b
    return A.reshape(T, B, -1)


def _state(name, state, x, H):
    """The initial state as a dict (zeros of x's dtype when ``state`` is None)."""
    if state is None:
        return {f: x.new_zeros(x.shape[1], H) for f in STATE_FIELDS[name]}
    return dict(state)


def torch_rnn(P, x, state=None, cfg=None, buffers=None, training=False):
    """h = tanh(x W_x + h_prev W_h + b)."""
    h = _state("rnn", state, x, P["W_h"].shape[0])["h"]
    A, ys = project(x, P["W_x"], P["b"]), []
    for t in range(x.shape[0]):
        h = torch.tanh(A[t] + h @ P["W_h"])
        ys.append(h)
    return torch.stack(ys), {"h": h}


def torch_lstm(P, x, state=None, cfg=None, buffers=None, training=False):
    """The LSTM, gate blocks in our order f, i, g, o."""
    s = _state("lstm", state, x, P["W_h"].shape[0])
    h, c = s["h"], s["c"]
    A, ys = project(x, P["W_x"], P["b"]), []
    for t in range(x.shape[0]):
        a_f, a_i, a_g, a_o = (A[t] + h @ P["W_h"]).chunk(4, dim=1)
        c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        h = torch.sigmoid(a_o) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys), {"h": h, "c": c}


def torch_gru(P, x, state=None, cfg=None, buffers=None, training=False):
    """Blocks z, r, n; n = tanh(x W_xn + r*(h_prev W_hn) + b_n) (bias outside the r-product)."""
    H = P["W_h"].shape[0]
    h = _state("gru", state, x, H)["h"]
    W_hz, W_hr, W_hn = P["W_h"].split(H, dim=1)
    A, ys = project(x, P["W_x"], P["b"]), []
    for t in range(x.shape[0]):
        A_z, A_r, A_n = A[t].split(H, dim=1)
        z = torch.sigmoid(A_z + h @ W_hz)
        r = torch.sigmoid(A_r + h @ W_hr)
        n = torch.tanh(A_n + r * (h @ W_hn))
        h = z * h + (1 - z) * n
        ys.append(h)
    return torch.stack(ys), {"h": h}


def torch_brc(P, x, state=None, cfg=None, buffers=None, training=False):
    """Vecoven et al.'s bistable cell (as quoted by De Geeter et al. §3.1)."""
    H = P["w_z"].shape[0]
    h = _state("brc", state, x, H)["h"]
    A, ys = project(x, P["U_x"], P["b"]), []
    for t in range(x.shape[0]):
        A_z, A_r, A_h = A[t].split(H, dim=1)
        z = torch.sigmoid(A_z + P["w_z"] * h)
        r = 1 + torch.tanh(A_r + P["w_r"] * h)
        h = z * h + (1 - z) * torch.tanh(A_h + r * h)
        ys.append(h)
    return torch.stack(ys), {"h": h}


def torch_spiking_lstm(P, x, state=None, cfg=None, buffers=None, training=False):
    """Lotfi Rezaabad & Vishwanath Eq. 1 with the unit-state threshold (§3.1); surrogates of
    the signed distance u - theta, the exact chain rule (incl. the c-carry's threshold)."""
    s = _state("spiking_lstm", state, x, P["W_h"].shape[0])
    h, c = s["h"], s["c"]
    g1 = surrogate_grad_fn("gaussian", {"a": cfg["a1"]})        # f, i, o
    g2 = surrogate_grad_fn("gaussian", {"a": cfg["a2"]})        # g
    gc = (surrogate_grad_fn("gaussian", {"a": cfg["a_c"]}) if cfg["cell_grad"] == "gaussian"
          else surrogate_grad_fn("constant", {"gamma": cfg["gamma"]}))
    A, ys = project(x, P["W_x"], P["b"]), []
    for t in range(x.shape[0]):
        u_f, u_i, u_g, u_o = (A[t] + h @ P["W_h"]).chunk(4, dim=1)
        f = Spike.apply(u_f - cfg["theta1"], g1)
        i = Spike.apply(u_i - cfg["theta1"], g1)
        g = Spike.apply(u_g - cfg["theta2"], g2)
        o = Spike.apply(u_o - cfg["theta1"], g1)
        c = Spike.apply(f * c + i * g - cfg["theta_c"], gc)
        h = o * c
        ys.append(h)
    return torch.stack(ys), {"h": h, "c": c}


def _batch_norm(Z, scale, shift, mean, var, cfg, batch_stats):
    """Batch norm of the rows of Z (T*B, H), one mean and variance per feature over time and
    batch together (``nn.BatchNorm1d`` on ``z.view(T*B, H)``): the rows' own (biased)
    statistics in training or with ``bn_track_running_stats=False`` — autograd then
    differentiates through them —, else the running ``mean`` / ``var`` as constants."""
    if batch_stats:
        mean, var = Z.mean(0), Z.var(0, unbiased=False)
    return shift + scale * (Z - mean) / torch.sqrt(var + cfg["bn_eps"])


def _input(x, W, P, cfg, buffers, training, suffix="", bias=None):
    """A weighted input of all steps (T, B, H): x W (+ bias), or its batch norm with the
    params ``bn_scale<suffix>``, ``bn_shift<suffix>`` (the shift is the bias) and the
    running statistics ``bn_mean<suffix>``, ``bn_var<suffix>`` of ``buffers`` (a fresh
    layer's 0 and 1 when absent)."""
    if cfg.get("norm", "none") != "batch":
        return project(x, W, bias)
    T, B, _ = x.shape
    Z = project(x, W).reshape(T * B, -1)
    H = Z.shape[1]
    mean = torch.as_tensor(buffers.get(f"bn_mean{suffix}", np.zeros(H)), dtype=x.dtype)
    var = torch.as_tensor(buffers.get(f"bn_var{suffix}", np.ones(H)), dtype=x.dtype)
    batch_stats = training or not cfg.get("bn_track_running_stats", True)
    A = _batch_norm(Z, P[f"bn_scale{suffix}"], P[f"bn_shift{suffix}"], mean, var, cfg, batch_stats)
    return A.reshape(T, B, H)


def _membrane(I, M, Y, alpha, gamma, cfg, b, sg):
    """One step of V and Y (Ponghiran & Roy Eq. 8-9, or Eq. 22 for the multi-bit output),
    shared by lif and gated_lif. ``M`` is the membrane the step starts from (the state's V),
    ``sg`` the binary spike's surrogate function. Returns the new (M, Y).

    The reset R(v, Y) is v - gamma Y (binary subtract), v - Y (multi-bit: subtract the
    transmitted value) or v (1 - Y) (zero), Y a constant in it with ``detach_reset``.
    reset_timing "next_step" (Eq. 8): V[t] = R(alpha M[t-1], Y[t-1]) + I[t], M[t] = V[t];
    "same_step" (Norse, SpikingJelly): V[t] = alpha M[t-1] + I[t], M[t] = R(V[t], Y[t]).
    """
    binary = cfg["output"] == "binary"
    at = cfg.get("spike_at_threshold", False)

    def R(v, Yv):
        Y_r = Yv.detach() if cfg["detach_reset"] else Yv
        if cfg["reset"] == "zero":
            return v * (1 - Y_r)
        return v - (gamma * Y_r if binary else Y_r)

    def fire(V):
        if binary:
            return Spike.apply(V - gamma, sg, at)
        return MultibitQuantizer.apply(V, b, cfg["n_bits"], cfg["threshold_levels"],
                                       cfg.get("signed", False), at, cfg.get("scale_margin", 1.0))

    if cfg.get("reset_timing", "next_step") == "same_step":
        V = alpha * M + I
        Y_new = fire(V)
        return R(V, Y_new), Y_new
    V = R(alpha * M, Y) + I
    return V, fire(V)


def _gamma(P, cfg, b):
    """The threshold: the (learnable) ``threshold`` for spikes, k w for multi-bit outputs."""
    if cfg["output"] == "binary":
        return P.get("threshold", cfg["threshold"])
    return cfg["threshold_levels"] * b / (2 ** cfg["n_bits"] * cfg.get("scale_margin", 1.0))


def _binary_surrogate(cfg):
    return None if cfg["output"] == "multibit" else surrogate_grad_fn(cfg["surrogate"], cfg["surrogate_params"])


def _buffers(buffers):
    return dict(buffers or {})


def torch_lif(P, x, state=None, cfg=None, buffers=None, training=False):
    """Ponghiran & Roy Eq. 7-9 (+ Eq. 22), with batch norm of x W (``norm="batch"``), the
    recurrent input Y[t-1] U (``recurrent``, Neftci et al. 2019, not detached) and the
    reset timings; learnable alpha / threshold / beta enter raw."""
    buffers = _buffers(buffers)
    b = buffers.get("b")
    s = _state("lif", state, x, P["W"].shape[1])
    I, M, Y = s.get("I"), s["V"], s["Y"]
    alpha = P.get("alpha", cfg["alpha"])
    beta = P.get("beta", cfg["beta"])
    gamma = _gamma(P, cfg, b)
    sg = _binary_surrogate(cfg)
    A, ys = _input(x, P["W"], P, cfg, buffers, training), []
    for t in range(x.shape[0]):
        a = A[t] + Y @ P["U"] if cfg.get("recurrent", False) else A[t]
        I = beta * I + a if cfg["synaptic"] else a
        M, Y = _membrane(I, M, Y, alpha, gamma, cfg, b, sg)
        ys.append(Y)
    return torch.stack(ys), {"I": I, "V": M, "Y": Y}


def torch_gated_lif(P, x, state=None, cfg=None, buffers=None, training=False):
    """Ponghiran & Roy Eq. 16-18 (v1) / 19-21 (v2: + Y[t-1] U, Y[t-1] not detached); with
    ``norm="batch"`` each weighted input is batch-normalized and the BN shift is the bias."""
    buffers = _buffers(buffers)
    b = buffers.get("b")
    s = _state("gated_lif", state, x, P["W_f"].shape[1])
    I, M, Y = s.get("I"), s["V"], s["Y"]
    v2 = cfg["variant"] == "v2"
    gamma = _gamma(P, cfg, b)
    sg = _binary_surrogate(cfg)
    A_f = _input(x, P["W_f"], P, cfg, buffers, training, "_f", P.get("b_f"))
    A_c = _input(x, P["W_c"], P, cfg, buffers, training, "_c", P.get("b_c"))
    ys = []
    for t in range(x.shape[0]):
        a_f, a_c = A_f[t], A_c[t]
        if v2:
            a_f = a_f + Y @ P["U_f"]
            a_c = a_c + Y @ P["U_c"]
        F = torch.sigmoid(a_f)
        I = F * I + (1 - F) * torch.relu(a_c)
        M, Y = _membrane(I, M, Y, cfg["alpha"], gamma, cfg, b, sg)
        ys.append(Y)
    return torch.stack(ys), {"I": I, "V": M, "Y": Y}


def torch_src(P, x, state=None, cfg=None, buffers=None, training=False):
    """De Geeter et al. Eq. 3a-3f with the bypass_relu / detach_recurrent switches."""
    s = _state("src", state, x, P["W"].shape[1])
    i, h, h_s = s["i"], s["h"], s["h_s"]
    A, ys = project(x, P["W"]), []
    for t in range(x.shape[0]):
        i = cfg["alpha"] * i + A[t]
        xx = cfg["rho"] * torch.tanh(i / cfg["rho"])
        hp, hsp = (h.detach(), h_s.detach()) if cfg["detach_recurrent"] else (h, h_s)
        # a switch (no gradient); the constants built in the state's dtype
        z_s = torch.where(hp > 0.5, torch.full_like(hp, cfg["z_dep"]), torch.full_like(hp, cfg["z_hyp"]))
        h = torch.tanh(xx + cfg["r"] * hp + cfg["r_s"] * hsp + P["b_h"])
        h_s = z_s * hsp + (1 - z_s) * hp
        ys.append(BypassReLU.apply(h) if cfg["bypass_relu"] else torch.relu(h))
    return torch.stack(ys), {"i": i, "h": h, "h_s": h_s}


#: cell name -> its PyTorch implementation. Every cell of the library has one.
TORCH_CELLS = {
    "rnn": torch_rnn, "lstm": torch_lstm, "gru": torch_gru, "brc": torch_brc,
    "spiking_lstm": torch_spiking_lstm, "lif": torch_lif, "gated_lif": torch_gated_lif,
    "src": torch_src,
}


# ======================================================================================
# A reference fixture through the PyTorch cells
# ======================================================================================
def fixture_buffers(header, arrays):
    """The buffers a fixture fixes: its header's multi-bit range ``b`` and any
    ``buffers/<name>`` arrays (batch norm's running statistics; without them a fresh
    layer's, mean 0 and variance 1, which is what a fixture's untrained cell has)."""
    out = {k[len("buffers/"):]: v for k, v in arrays.items() if k.startswith("buffers/")}
    if header.get("b") is not None:
        out["b"] = header["b"]
    return out


def run_fixture(header, arrays, impl=None, dtype=torch.float64):
    """Load a fixture (:func:`snn_from_scratch.reference.fixture_arrays` / ``load``) into
    PyTorch, run the forward from ``state0`` and autograd's backward of sum(dy * y).

    Returns a dict of arrays under the fixture's result names (``y``, ``state_final/*``,
    ``dx``, ``grads/*``), ready for :func:`snn_from_scratch.reference.compare`. ``impl``
    replaces the cell's function (e.g. a deliberately wrong one). The fixture's cell is in
    evaluation mode (``header["training"]`` False).
    """
    impl = impl or TORCH_CELLS[header["cell"]]
    P = {k[len("params/"):]: torch.tensor(v, dtype=dtype, requires_grad=True)
         for k, v in arrays.items() if k.startswith("params/")}
    x = torch.tensor(arrays["x"], dtype=dtype, requires_grad=True)
    s0 = {f: torch.tensor(arrays[f"state0/{f}"], dtype=dtype) for f in header["state_fields"]}
    y, final = impl(P, x, s0, header["config"], fixture_buffers(header, arrays),
                    bool(header.get("training", False)))
    (torch.tensor(arrays["dy"], dtype=dtype) * y).sum().backward()
    out = {"y": y.detach().numpy(), "dx": x.grad.numpy()}
    for f in header["state_fields"]:
        out[f"state_final/{f}"] = final[f].detach().numpy()
    for k, v in P.items():
        out[f"grads/{k}"] = (v.grad if v.grad is not None else torch.zeros_like(v)).numpy()
    return out


# ======================================================================================
# torch.nn.RNN / LSTM / GRU with our weights (docs/reference_format.md)
# ======================================================================================
def swap01(a, H, axis):
    """Swap the first two H-blocks along ``axis``: our f,i <-> torch's i,f (LSTM), our z,r
    <-> torch's r,z (GRU). The swap is its own inverse, so it maps both ways."""
    idx = np.r_[H:2 * H, 0:H, 2 * H:a.shape[axis]]
    return np.take(a, idx, axis=axis)


def to_torch_nn(name, params, dtype=torch.float64, b_hn_fraction=0.0):
    """A ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` holding our ``rnn``/``lstm``/``gru`` params.

    PyTorch multiplies from the left (``weight_ih_l0`` is (kH, n_in): transposed), orders the
    LSTM gates i, f, g, o and the GRU blocks r, z, n (first two blocks swapped), and has two
    biases: ours goes into ``bias_ih_l0``, ``bias_hh_l0`` is zero. The GRU's ``b_hn`` sits
    inside the r-product in PyTorch: ``b_hn_fraction`` moves that fraction of our n-bias
    there, which changes the function unless it is 0 (chapter 11 shows it).
    """
    W_x, W_h, b = (np.asarray(params[k]) for k in ("W_x", "W_h", "b"))
    n_in, H = W_x.shape[0], W_h.shape[0]
    if name == "rnn":
        mod = torch.nn.RNN(n_in, H, nonlinearity="tanh", dtype=dtype)
    elif name in ("lstm", "gru"):
        mod = (torch.nn.LSTM if name == "lstm" else torch.nn.GRU)(n_in, H, dtype=dtype)
        W_x, W_h, b = swap01(W_x, H, 1), swap01(W_h, H, 1), swap01(b, H, 0)
    else:
        raise ValueError(f"torch.nn has no layer for cell {name!r} (rnn, lstm, gru only)")
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.tensor(W_x.T))
        mod.weight_hh_l0.copy_(torch.tensor(W_h.T))
        mod.bias_ih_l0.copy_(torch.tensor(b))
        mod.bias_hh_l0.zero_()
        if name == "gru" and b_hn_fraction:
            b_n = torch.tensor(b[2 * H:], dtype=dtype)
            mod.bias_hh_l0[2 * H:] = b_hn_fraction * b_n
            mod.bias_ih_l0[2 * H:] = (1 - b_hn_fraction) * b_n
    return mod


def grads_from_torch_nn(name, mod):
    """The gradients of a :func:`to_torch_nn` layer under our names and layouts."""
    H = mod.hidden_size
    back = (lambda a, axis: a) if name == "rnn" else (lambda a, axis: swap01(a, H, axis))
    return {"W_x": back(mod.weight_ih_l0.grad.numpy().T, 1),
            "W_h": back(mod.weight_hh_l0.grad.numpy().T, 1),
            "b": back(mod.bias_ih_l0.grad.numpy(), 0)}


def run_torch_nn(header, arrays, b_hn_fraction=0.0):
    """A fixture of ``rnn``/``lstm``/``gru`` through the matching ``torch.nn`` layer.

    Returns ``(results, module)``: the results under the fixture's names (as
    :func:`run_fixture`), and the layer (its ``bias_hh_l0.grad`` can be inspected).
    """
    name = header["cell"]
    params = {k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")}
    mod = to_torch_nn(name, params, b_hn_fraction=b_hn_fraction)
    x = torch.tensor(arrays["x"], requires_grad=True)
    h0 = torch.tensor(arrays["state0/h"])[None]
    if name == "lstm":
        y, (hT, cT) = mod(x, (h0, torch.tensor(arrays["state0/c"])[None]))
    else:
        y, hT = mod(x, h0)
    (torch.tensor(arrays["dy"]) * y).sum().backward()
    out = {"y": y.detach().numpy(), "dx": x.grad.numpy(), "state_final/h": hT[0].detach().numpy()}
    if name == "lstm":
        out["state_final/c"] = cT[0].detach().numpy()
    out.update({f"grads/{k}": v for k, v in grads_from_torch_nn(name, mod).items()})
    return out, mod
