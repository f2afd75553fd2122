"""The spiking LSTM of Lotfi Rezaabad & Vishwanath (2020), "Long Short-Term Memory Spiking
Networks and Their Applications", ICONS 2020 (code: github AliLotfi92/SNNLSTM).

An LSTM whose every activation is a spike: the gates and the modulated input are
Heaviside steps of their membrane potentials, and the unit state, which the paper's Eq. 1
would let take the values 0, 1 or 2, is thresholded back to a spike (§3.1: "we threshold
this output to output 1 when it is 1 or 2")::

    u      = x[t] W_x + h[t-1] W_h + b              (B, 4H), blocks f, i, g, o   (Eq. 1)
    f      = H(u_f - theta1)                         forget gate, sigma_1
    i      = H(u_i - theta1)                         input gate, sigma_1
    g      = H(u_g - theta2)                         modulated input, sigma_2
    o      = H(u_o - theta1)                         output gate, sigma_1
    c~[t]  = f * c[t-1] + i * g                      in {0, 1, 2}
    c[t]   = H(c~[t] - theta_c)                      the unit state, a spike again (§3.1)
    h[t]   = o * c[t]                                what the layer transmits

Surrogate (§3.2, Eq. 2; the authors' code): the derivative of each H is replaced by the
normalized Gaussian ``G_a(z) = exp(-z^2/a) / sqrt(pi a)`` of the *signed* distance
``z = u - theta`` — ``a1`` for f, i, o, ``a2`` for g, ``a_c`` for the unit-state threshold.
The paper prints the distance as ``|u| - |theta|``; that is a different (and, for
negative ``u``, wrong-signed) bump — see :data:`ERRATA` and chapter 04. With
``cell_grad="constant"`` the unit-state step's derivative is the paper's constant ``gamma``
(§3.1) instead of ``G_{a_c}``.

Backward: the exact chain rule of the equations above with every H' replaced by its
surrogate. With ``dh`` the total gradient reaching ``h[t]`` (layer above plus step t+1)
and ``dc`` the gradient reaching the spike ``c[t]`` from step t+1::

    dc_total = dh * o + dc                  c[t] feeds h[t] and c~[t+1]
    dc~      = dc_total * s_c               s_c = G_{a_c}(c~ - theta_c)  or gamma
    du_f     = dc~ * c[t-1] * G_{a1}(u_f - theta1)
    du_i     = dc~ * g      * G_{a1}(u_i - theta1)
    du_g     = dc~ * i      * G_{a2}(u_g - theta2)
    du_o     = dh  * c[t]   * G_{a1}(u_o - theta1)
    dc[t-1]  = dc~ * f                      the carry; it has passed through s_c
    dh[t-1]  = du W_h^T

The carry ``dc[t-1]`` includes the threshold factor ``s_c`` of step t because the carried
quantity is the *spike* c[t-1] and c~[t] depends on it; the paper's Eq. 4 and the authors'
code add ``f * dL/dc~`` to ``dL/dc~[t-1]`` without it (erratum "carry_no_threshold").

BPTT cache: ``hs`` (h[t-1] for dW_h), ``us`` (the four potentials), ``c_tildes`` and the
initial ``c0`` — 6 values per unit and step, the theoretical minimum. The spikes f, i, g,
o and c are recomputed in backward as ``H(u - theta)``, ``H(c~ - theta_c)`` (bit for bit
the forward's values); ``cache["gates"]`` and ``cache["cs"]`` are derived on first access.
Under a gradient-check twin the forward stores the twin's spike values instead (the
smooth twin's are ``primitive(u)``, not 0/1), and the backward uses those.

Shapes: x (T, B, n_in), h (T, B, H); W_x (n_in, 4H), W_h (H, 4H), b (4H,), blocks f, i,
g, o as in the ``lstm`` cell. State ``(h, c)``, both spikes in the real cell (any values
are accepted as an initial state, which the gradient proofs use).

Initialization (``init``): ``"he_normal"`` (default, the authors' code): every weight
N(0, 2/(n_in + H)) — their code multiplies the concatenation [x_t, h_{t-1}], so the fan-in
is n_in + H; ``"standard_normal"`` (the paper's §4.1): N(0, 1). Biases are zero in both.

This module also holds :func:`backward_variant`, the printed formulas of the paper's Eq. 4
and Appendix A and of the authors' code, one switch per discrepancy (:data:`ERRATA`), so
that the tests and chapter 04 can show by finite differences which of them is the gradient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import surrogates
from ..gradcheck import heaviside, straight_through
from .base import Cell


class State(NamedTuple):
    h: np.ndarray  # (B, H) output spikes h = o * c
    c: np.ndarray  # (B, H) unit-state spikes (after the theta_c threshold)


CELL_GRADS = ("gaussian", "constant")
INITS = ("he_normal", "standard_normal")


@dataclass(frozen=True)
class Config:
    """Options of the spiking LSTM (defaults: the paper's §4.1 and the authors' code).

    theta1 : threshold of f, i, o (sigma_1).          theta2 : threshold of g (sigma_2).
    theta_c : threshold of the unit state c~ in {0, 1, 2} (§3.1; 0.1 in the authors' code).
    a1, a2, a_c : widths of the normalized Gaussian surrogate exp(-z^2/a)/sqrt(pi a)
        for f/i/o, for g and for the unit-state threshold (Eq. 2-3, Appendix B).
    cell_grad : "gaussian" (G_{a_c}) or "constant" (the paper's gamma) for dc/dc~.
    gamma : the constant of cell_grad="constant" (§3.1: "1 or <= 1").
    init : "he_normal" (authors' code) or "standard_normal" (paper §4.1); biases zero.
    """

    theta1: float = 0.1
    theta2: float = 0.1
    theta_c: float = 0.1
    a1: float = 4.0
    a2: float = 0.3
    a_c: float = 4.0
    cell_grad: str = "gaussian"
    gamma: float = 1.0
    init: str = "he_normal"

    def __post_init__(self):
        for name in ("theta1", "theta2", "theta_c"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(float(v)):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        for name in ("a1", "a2", "a_c", "gamma"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if self.cell_grad not in CELL_GRADS:
            raise ValueError(f"cell_grad must be one of {CELL_GRADS}, got {self.cell_grad!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")


class Surrogates(NamedTuple):
    """The four surrogate objects a step needs (built once per cell from the config)."""

    s1: surrogates.Surrogate   # Gaussian(a1): f, i, o
    s2: surrogates.Surrogate   # Gaussian(a2): g
    sc: surrogates.Surrogate   # Gaussian(a_c): unit state (cell_grad="gaussian")
    cfg: Config


def make_surrogates(cfg):
    return Surrogates(surrogates.get("gaussian", a=cfg.a1), surrogates.get("gaussian", a=cfg.a2),
                      surrogates.get("gaussian", a=cfg.a_c), cfg)


def _blocks(a, H):
    """Views of the f, i, g, o blocks of a (B, 4H) array."""
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]


def step_forward(ax_t, state, W_h, b, sur, twin=None):
    """One step of Eq. 1 (with the §3.1 unit-state threshold).

    ``ax_t`` (B, 4H) is this step's input projection ``x[t] W_x``; ``state`` = (h, c) of
    step t-1; ``sur`` from :func:`make_surrogates`; ``twin`` for gradient checks only.
    Returns ``(h, State(h, c), cache_t)`` with ``cache_t = (h_prev, c_prev, u, gates,
    c_tilde, c)``: ``u`` (B, 4H) the membrane potentials, ``gates`` (B, 4H) the f, i, g, o
    spikes (soft values in the smooth twin — backward never assumes they are 0/1).
    """
    h_prev, c_prev = state
    cfg = sur.cfg
    H = h_prev.shape[1]
    u = ax_t + h_prev @ W_h + b
    u_f, u_i, u_g, u_o = _blocks(u, H)
    gates = np.empty_like(u)
    f, i, g, o = _blocks(gates, H)
    # Every spike goes through gradcheck.heaviside so that the twins can prove backward.
    f[...] = heaviside(u_f - cfg.theta1, sur.s1, twin)
    i[...] = heaviside(u_i - cfg.theta1, sur.s1, twin)
    g[...] = heaviside(u_g - cfg.theta2, sur.s2, twin)
    o[...] = heaviside(u_o - cfg.theta1, sur.s1, twin)
    c_tilde = f * c_prev + i * g
    z_c = c_tilde - cfg.theta_c
    if cfg.cell_grad == "gaussian":
        c = heaviside(z_c, sur.sc, twin)
    else:
        # Forward: the spike H(c~ - theta_c); backward: the constant gamma (§3.1). As a
        # straight-through op its proxy is gamma * (c~ - theta_c), whose derivative is gamma.
        c = straight_through(surrogates.heaviside(z_c), lambda: cfg.gamma * z_c, twin,
                             discrete=z_c > 0)
    h = o * c
    return h, State(h, c), (h_prev, c_prev, u, gates, c_tilde, c)


def step_backward(dh, dc, cache_t, W_h, sur):
    """Backward of one step: the exact chain rule of :func:`step_forward` under the surrogates.

    ``dh`` (B, H) is the total gradient reaching ``h[t]``; ``dc`` (B, H) the gradient
    reaching the spike ``c[t]`` from step t+1. Returns ``(du, dh_prev, dc_prev)``: the
    membrane-potential gradient ``du`` (B, 4H, blocks f, i, g, o) and the gradients carried
    to ``h[t-1]`` (through ``W_h``) and to ``c[t-1]`` (through ``c~ = f*c[t-1] + ...``).
    """
    h_prev, c_prev, u, gates, c_tilde, c = cache_t
    cfg = sur.cfg
    H = dh.shape[1]
    f, i, g, o = _blocks(gates, H)
    u_f, u_i, u_g, u_o = _blocks(u, H)
    # c[t] reaches the loss twice: through h[t] = o * c[t] and through c~[t+1].
    dc_total = dh * o + dc
    # ... and reaches c~[t] only through the unit-state threshold.
    if cfg.cell_grad == "gaussian":
        s_c = sur.sc.grad(c_tilde - cfg.theta_c)
    else:
        s_c = cfg.gamma
    dct = dc_total * s_c
    du = np.empty_like(u)
    du_f, du_i, du_g, du_o = _blocks(du, H)
    du_f[...] = dct * c_prev * sur.s1.grad(u_f - cfg.theta1)
    du_i[...] = dct * g * sur.s1.grad(u_i - cfg.theta1)
    du_g[...] = dct * i * sur.s2.grad(u_g - cfg.theta2)
    du_o[...] = dh * c * sur.s1.grad(u_o - cfg.theta1)
    return du, du @ W_h.T, dct * f


class SpikingLSTM(Cell):
    """Spiking LSTM cell (Lotfi Rezaabad & Vishwanath 2020, Eq. 1 and §3.1).

    Params ``W_x (n_in,4H)``, ``W_h (H,4H)``, ``b (4H)``, blocks f, i, g, o. Config: see
    :class:`Config`. ``y`` = h, the output spikes. ``backward`` is the exact chain rule
    under the Gaussian surrogates (module docstring).
    """

    name = "spiking_lstm"
    Config = Config
    State = State

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sur = make_surrogates(self.config)

    def _init_params(self, rng):
        H, n = self.n_hidden, self.n_in
        if self.config.init == "he_normal":
            std = math.sqrt(2.0 / (n + H))  # the authors multiply [x_t, h_{t-1}]
        else:
            std = 1.0
        return {"W_x": std * rng.standard_normal((n, 4 * H)),
                "W_h": std * rng.standard_normal((H, 4 * H)),
                "b": np.zeros(4 * H)}

    def _thetas(self):
        """The (4H,) thresholds of the f, i, g, o blocks, in the cell's dtype."""
        H, cfg = self.n_hidden, self.config
        return np.repeat(np.array([cfg.theta1, cfg.theta1, cfg.theta2, cfg.theta1], self.dtype), H)

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        H = self.n_hidden
        p = self.params
        A_x = (x.reshape(T * B, -1) @ p["W_x"]).reshape(T, B, 4 * H)  # all steps at once
        hs = np.empty((T + 1, B, H), self.dtype)
        us = np.empty((T, B, 4 * H), self.dtype)
        cts = np.empty((T, B, H), self.dtype)
        hs[0] = state.h
        c0 = state.c
        # The spikes f, i, g, o and c are H(u - theta), H(c~ - theta_c) of the cached
        # potentials: the backward recomputes them (cheap, elementwise) instead of caching
        # 5 more values per unit. Under a gradient-check twin they are not those 0/1 values
        # (the smooth twin's spikes are primitive(u)), so there the twin's values are kept.
        keep = twin is not None
        if keep:
            gates = np.empty((T, B, 4 * H), self.dtype)
            cs = np.empty((T + 1, B, H), self.dtype)
            cs[0] = c0
        for t in range(T):
            hs[t + 1], state, (_, _, us[t], g_t, cts[t], c_t) = step_forward(
                A_x[t], state, p["W_h"], p["b"], self.sur, twin)
            if keep:
                gates[t], cs[t + 1] = g_t, c_t
        cache = _Cache({"x": x, "hs": hs, "us": us, "c_tildes": cts, "c0": c0, "final_state": state},
                       thetas=self._thetas(), theta_c=self.config.theta_c)
        if keep:
            cache["gates"], cache["cs"] = gates, cs
        return hs[1:], cache

    def _backward(self, dy, cache):
        x, hs, us, cts = (cache[k] for k in ("x", "hs", "us", "c_tildes"))
        T, B, _ = x.shape
        p = self.params
        theta_c = self.config.theta_c
        # dict.get: the spikes kept by the forward (twin runs), else None -> recomputed
        gates, cs = cache.get("gates"), cache.get("cs")
        thetas = self._thetas()
        dU = np.empty((T, B, 4 * self.n_hidden), self.dtype)
        dh = np.zeros_like(hs[0])
        dc = np.zeros_like(hs[0])
        c_t = cs[T] if cs is not None else surrogates.heaviside(cts[T - 1] - theta_c)
        for t in reversed(range(T)):
            if cs is not None:
                c_prev = cs[t]
            else:  # c[t-1] = H(c~[t-1] - theta_c), the forward's spike bit for bit
                c_prev = cache["c0"] if t == 0 else surrogates.heaviside(cts[t - 1] - theta_c)
            g_t = gates[t] if gates is not None else surrogates.heaviside(us[t] - thetas)
            cache_t = (hs[t], c_prev, us[t], g_t, cts[t], c_t)
            dU[t], dh, dc = step_backward(dh + dy[t], dc, cache_t, p["W_h"], self.sur)
            c_t = c_prev
        dU2 = dU.reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dU2,
                 "W_h": hs[:-1].reshape(T * B, -1).T @ dU2,
                 "b": dU2.sum(0)}
        dx = (dU2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads


class _Cache(dict):
    """The forward cache of :class:`SpikingLSTM`: a dict whose ``"gates"`` (T, B, 4H) and
    ``"cs"`` (T+1, B, H) entries, when the forward did not store them (no twin), are
    derived on first access from the potentials — ``H(u - theta)`` and ``H(c~ - theta_c)``
    with ``cs[0]`` the initial state — and then kept. ``dict.get`` and ``in`` see only
    what is stored (the backward uses that to choose stored or recomputed spikes)."""

    def __init__(self, data, thetas, theta_c):
        super().__init__(data)
        self._thetas, self._theta_c = thetas, theta_c

    def __missing__(self, key):
        if key == "gates":
            value = surrogates.heaviside(self["us"] - self._thetas)
        elif key == "cs":
            c0 = self["c0"]
            value = np.concatenate([c0[None], surrogates.heaviside(self["c_tildes"] - self._theta_c)])
        else:
            raise KeyError(key)
        self[key] = value
        return value


#: Configurations proven by `python -m snn_from_scratch gradcheck` (float64, both twins).
PROOFS = {
    "default": ({}, "frozen"),
    "default (smooth)": ({}, "smooth"),
    "cell_grad=constant": ({"cell_grad": "constant", "gamma": 0.7}, "frozen"),
    "cell_grad=constant (smooth)": ({"cell_grad": "constant", "gamma": 0.7}, "smooth"),
    "standard_normal init": ({"init": "standard_normal"}, "frozen"),
}

#: Keyword arguments the tour uses when it trains this cell (the paper's defaults).
TOUR_CONFIG = {}


# ======================================================================================
# Errata: the printed backward formulas, one switch per discrepancy
# ======================================================================================
#: variant name -> (where it is printed, what it does). Each is demonstrated by a
#: finite-difference test in tests/test_lotfi_errata.py and tabulated in chapter 04.
ERRATA = {
    "x_prev": ("Appendix A, dw_{i,x}, dw_{g,x}, dw_{f,x}",
               "input-weight gradients of i, g, f use x_{t-1} where x_t is meant"),
    "wg_in_f": ("Appendix A, dw_{f,h}",
                "the f-gate surrogate is evaluated at w_{g,h} h_{t-1} + w_{g,x} x_t + b_f "
                "(the g weights) instead of the f gate's own potential"),
    "carry_no_threshold": ("Eq. 4 (dL/dc_{t-1}) and the authors' code",
                           "the unit-state carry f_{t+1} * dL/dc~_{t+1} is added after the "
                           "threshold factor instead of before it"),
    "last_step_every_step": ("the authors' code (last-step readout)",
                             "the loss gradient of the last step is injected at every step"),
    "abs_distance": ("Eq. 2 and Appendix A (Delta[.] = |.| - |theta|)",
                     "the surrogate is evaluated at |u| - |theta| instead of the signed u - theta"),
    "no_recurrent_dh": ("Eq. 4, dL/dh_t = w_y dL/dy_t (read literally)",
                        "dL/dh_t keeps only the readout term; the term from step t+1 is dropped"),
    "sigma_outside": ("Eq. 4, dL/dh_{t-1} (read literally)",
                      "the surrogate factor multiplies w_{.,h} dL/d(gate) after the matrix "
                      "product (and w is not transposed) instead of before it"),
    "unthresholded_c": ("Eq. 1 / Eq. 4 (c_t of Eq. 1 is f c + i g, in {0,1,2})",
                        "dL/do_t and dL/df_t use the unthresholded sum c~ where the forward "
                        "transmits the thresholded spike c"),
}


#: The two discrepancies of the authors' public code (with the signed surrogate distance).
AUTHORS_CODE = ("carry_no_threshold", "last_step_every_step")


def backward_variant(cell, dy, cache, variant=None):
    """The backward pass as *printed*: ``variant`` is one key of :data:`ERRATA`, a tuple of
    keys (several errata at once, e.g. :data:`AUTHORS_CODE`), or None.

    With ``variant=None`` this is a second, deliberately plain transcription of the exact
    backward (one loop, no step functions) and agrees with ``cell.backward``; each variant
    changes exactly the line the paper (or the authors' code) prints differently. Returns
    ``(dx, grads)`` like ``cell.backward``. Used by the errata tests and chapter 04 only.
    """
    chosen = () if variant is None else ((variant,) if isinstance(variant, str) else tuple(variant))
    bad = [v for v in chosen if v not in ERRATA]
    if bad:
        raise ValueError(f"variant must be None, one of {sorted(ERRATA)} or a tuple of them, got {variant!r}")
    cfg, sur, p = cell.config, cell.sur, cell.params
    x, hs, cs, us, gates, cts = (cache[k] for k in ("x", "hs", "cs", "us", "gates", "c_tildes"))
    T, B, _ = x.shape
    H = cell.n_hidden
    W_x, W_h = p["W_x"], p["W_h"]
    thetas = np.concatenate([np.full(H, cfg.theta1), np.full(H, cfg.theta1),
                             np.full(H, cfg.theta2), np.full(H, cfg.theta1)]).astype(cell.dtype)

    def gauss(z):  # the surrogate of each block, evaluated at z (B, 4H)
        out = np.empty_like(z)
        out[:, :2 * H] = sur.s1.grad(z[:, :2 * H])
        out[:, 2 * H:3 * H] = sur.s2.grad(z[:, 2 * H:3 * H])
        out[:, 3 * H:] = sur.s1.grad(z[:, 3 * H:])
        return out

    if "last_step_every_step" in chosen:
        dy = np.broadcast_to(dy[-1], dy.shape)
    dU = np.zeros((T, B, 4 * H), cell.dtype)
    dUmix = np.zeros((T, B, H), cell.dtype)  # f block of dU for the wg_in_f variant
    dh_next = np.zeros((B, H), cell.dtype)
    dc_next = np.zeros((B, H), cell.dtype)
    for t in reversed(range(T)):
        u, gts = us[t], gates[t]
        f, i, g, o = _blocks(gts, H)
        c_prev, c, ct = cs[t], cs[t + 1], cts[t]
        dh = dy[t] + (0 if "no_recurrent_dh" in chosen else dh_next)
        s_c = sur.sc.grad(ct - cfg.theta_c) if cfg.cell_grad == "gaussian" else cfg.gamma
        c_used = ct if "unthresholded_c" in chosen else c
        c_prev_used = (cts[t - 1] if t > 0 else c_prev) if "unthresholded_c" in chosen else c_prev
        d_o = dh * c_used                                   # dL/do_t   (Eq. 4)
        if "carry_no_threshold" in chosen:
            dct = s_c * o * dh + dc_next                    # gamma o dL/dh + f_{t+1} dL/dc_{t+1}
        else:
            dct = s_c * (o * dh + dc_next)
        d_i, d_g, d_f = dct * g, dct * i, dct * c_prev_used  # dL/di, dL/dg, dL/df
        dgate = np.concatenate([d_f, d_i, d_g, d_o], axis=1)
        z = (np.abs(u) - np.abs(thetas)) if "abs_distance" in chosen else (u - thetas)
        sig = gauss(z)
        dU[t] = sig * dgate
        if "wg_in_f" in chosen:
            # sigma_1'(Delta_1[w_{g,h} h_{t-1} + w_{g,x} x_t + b_{f,h} + b_{f,x}])
            u_mix = x[t] @ W_x[:, 2 * H:3 * H] + hs[t] @ W_h[:, 2 * H:3 * H] + p["b"][:H]
            dUmix[t] = sur.s1.grad(u_mix - cfg.theta1) * d_f
        if "sigma_outside" in chosen:
            # sigma'(Delta[u]) (w_{.,h} dL/dgate): w_{.,h} = W_h^T in our layout, so
            # w dL/dgate is dgate @ W_h (row vectors), the surrogate applied after it.
            dh_next = sum(sig[:, k * H:(k + 1) * H] * (dgate[:, k * H:(k + 1) * H] @ W_h[:, k * H:(k + 1) * H])
                          for k in range(4))
        else:
            dh_next = dU[t] @ W_h.T
        dc_next = dct * f
    dU2 = dU.reshape(T * B, -1)
    X2 = x.reshape(T * B, -1)
    Hp2 = hs[:-1].reshape(T * B, -1)
    grads = {"W_x": X2.T @ dU2, "W_h": Hp2.T @ dU2, "b": dU2.sum(0)}
    if "x_prev" in chosen:
        x_prev = np.concatenate([np.zeros_like(x[:1]), x[:-1]]).reshape(T * B, -1)
        grads["W_x"][:, :3 * H] = x_prev.T @ dU2[:, :3 * H]   # f, i, g lines print x_{t-1}
    if "wg_in_f" in chosen:
        grads["W_h"][:, :H] = Hp2.T @ dUmix.reshape(T * B, -1)
    dx = (dU2 @ W_x.T).reshape(x.shape)
    return dx, grads

#: Finite-difference settings for this cell's proofs in the tests and chapter 04: check_cell's
#: defaults (2-point central differences, h = 1e-5, and a floor that excuses only errors at
#: the round-off of the difference quotient, eps*sum|dy*y|/h). Planted bugs give errors of order 1.
PROOF_OPTIONS = {}
