"""Leaky integrate-and-fire (LIF) layer with binary or multi-bit outputs.

Ponghiran & Roy (2022), "Spiking neural networks with improved inherent recurrence
dynamics for sequential learning", Eq. 7-9 (the "traditional SNN" of their Table 1) and
Eq. 22 (multi-bit outputs), plus the snnTorch-style neuron (no synaptic current, reset to
zero, detached reset) that De Geeter et al. (2023) use as their LIF baseline.

Forward, one step (time-major tensors, x (T, B, n_in), every state (B, H)):

    I[t] = beta * I[t-1] + x[t] W            (Eq. 7, synaptic=True)
    I[t] = x[t] W                            (synaptic=False)
    V[t] = alpha * V[t-1] + I[t] - gamma * Y[t-1]        (Eq. 8, reset="subtract")
    V[t] = alpha * V[t-1] * (1 - Y[t-1]) + I[t]          (reset="zero", snnTorch style)
    Y[t] = H(V[t] - gamma)                   (Eq. 9, output="binary")

Multi-bit output (Eq. 22 with the scaling of the authors' code, DESIGN.md "Details"):

    q[t] = min(floor(V[t] * 2^N / b), 2^N - 1)  if V[t] > gamma  else 0
    Y[t] = q[t] * b / 2^N,       gamma = k * b / 2^N   (k = threshold_levels)
    V[t] = alpha * V[t-1] + I[t] - Y[t-1]    (reset subtracts the *transmitted* value)

``b`` (the attribute ``cell.b``) is the range of the membrane potential: an exponential
moving average of the batch's max|V| (momentum ``ema_momentum``, bias-corrected like Adam's
moments, as in Jacob et al. 2018), updated *after* each forward pass while
``cell.training`` is True and frozen otherwise. It starts at 1.0; thanks to the bias
correction the first training batch replaces it by that batch's max|V| exactly. With
``signed=True`` (the authors' code) the mapping is mirrored for negative potentials:
``Y = sign(V) * min(floor(|V| 2^N/b), 2^N-1) b/2^N`` for ``|V| > gamma`` (an extra sign bit;
the authors' code instead spends one of its N bits on the sign).

Backward (the rule ``backward`` implements and the gradient proofs check):

* spikes: ``dY/dV = surrogate.grad(V - gamma)`` (default: the piecewise-linear
  ``max(0, 1-|u|)`` the paper uses), and ``dY/dgamma = -surrogate.grad(V - gamma)``;
* multi-bit quantizer: clipped straight-through, ``dY/dV = 1`` for ``|V| <= b`` else 0
  (also below gamma): the backward of ``clip(V, -b, b)``. ``b`` and gamma are constants;
* ``detach_reset=True`` stops the gradient through Y[t-1] in the reset term only; a
  learnable threshold still receives ``-Y[t-1]`` from the subtraction (DESIGN.md);
* learnable ``alpha``, ``threshold`` (and ``beta``, see below) enter raw (no clamp):
  ``dV[t]/dalpha = V[t-1] (1 - Y[t-1])^[zero]``, ``dI[t]/dbeta = I[t-1]``.

The V/Y/reset/multi-bit logic is shared with :mod:`.gated_lif` through the
``membrane_forward`` / ``membrane_backward`` pair below (one implementation).

Config (frozen dataclass, DESIGN.md table) — extra fields beyond the DESIGN table:
``learn_beta`` (learnable synaptic decay, needed by the authors'-code preset) and
``signed`` (signed multi-bit range). Parameters: ``W (n_in, H)`` (Glorot uniform, the
paper's initialization), plus ``alpha (H)``, ``threshold (H)``, ``beta (H)`` when learnable.

Presets (``PRESETS[name]`` is a dict of config keywords: ``cells.make("lif", n, H, **PRESETS[name])``):

``"ponghiran"``
    the paper's traditional SNN of Table 1: synaptic current, alpha = beta = 0.9, reset by
    subtraction, 6-bit outputs with threshold b/16, piecewise-linear surrogate.
``"ponghiran_authors_code"``
    what the authors' published code actually runs: no membrane leak (alpha = 1), a
    learnable synaptic decay starting at 1 (``learn_beta=True, beta=1``), reset subtracting
    the transmitted value, signed range.
``"snntorch_leaky"``
    the snnTorch ``Leaky`` neuron De Geeter et al. (2023, Appendix A) train as their LIF
    baseline: no synaptic current, reset to zero with the reset detached, learnable decay
    0.9 and threshold 1.0, arctan surrogate (a = 2), binary spikes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import surrogates
from ..gradcheck import detach, heaviside, straight_through
from .base import Cell

__all__ = ["State", "Config", "Neuron", "LIF", "membrane_forward", "membrane_backward",
           "step_forward", "step_backward", "PRESETS", "PROOFS", "TOUR_CONFIG",
           "validate_membrane_options", "glorot_uniform"]


class State(NamedTuple):
    I: np.ndarray  # (B, H) synaptic current
    V: np.ndarray  # (B, H) membrane potential
    Y: np.ndarray  # (B, H) last output (spike or multi-bit value)


def _real(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {v!r}")


def _flag(name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")


def validate_membrane_options(c):
    """Checks of the fields shared by lif and gated_lif (the V and Y options)."""
    _real("alpha", c.alpha)
    _real("threshold", c.threshold)
    if c.threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {c.threshold}")
    if c.reset not in ("subtract", "zero"):
        raise ValueError(f"reset must be 'subtract' or 'zero', got {c.reset!r}")
    _flag("detach_reset", c.detach_reset)
    if c.output not in ("binary", "multibit"):
        raise ValueError(f"output must be 'binary' or 'multibit', got {c.output!r}")
    if isinstance(c.n_bits, bool) or not isinstance(c.n_bits, (int, np.integer)) or not 1 <= c.n_bits <= 24:
        raise ValueError(f"n_bits must be an integer in [1, 24], got {c.n_bits!r}")
    if (isinstance(c.threshold_levels, bool) or not isinstance(c.threshold_levels, (int, np.integer))
            or not 0 <= c.threshold_levels < 2 ** c.n_bits):
        raise ValueError(f"threshold_levels must be an integer in [0, 2^n_bits - 1] = "
                         f"[0, {2 ** c.n_bits - 1}], got {c.threshold_levels!r}")
    _real("ema_momentum", c.ema_momentum)
    if not 0 < c.ema_momentum <= 1:
        raise ValueError(f"ema_momentum must be in (0, 1], got {c.ema_momentum}")
    _flag("signed", c.signed)
    if c.signed and c.output != "multibit":
        raise ValueError("signed=True only applies to output='multibit'")
    if not isinstance(c.surrogate_params, dict):
        raise TypeError(f"surrogate_params must be a dict, got {type(c.surrogate_params).__name__}")
    surrogates.get(c.surrogate, **c.surrogate_params)  # ValueError naming the bad family/param
    if c.output == "multibit" and c.reset == "zero":
        raise ValueError("reset='zero' is refused with output='multibit': the multi-bit neuron "
                         "subtracts the transmitted value (Eq. 22 and the authors' code)")


@dataclass(frozen=True)
class Config:
    """LIF options (DESIGN.md). ``threshold`` is gamma for binary outputs; with
    ``output="multibit"`` gamma is ``threshold_levels * b / 2^n_bits`` instead."""

    synaptic: bool = True
    alpha: float = 0.9
    beta: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = False
    learn_alpha: bool = False
    learn_threshold: bool = False
    surrogate: str = "triangle"
    surrogate_params: dict = field(default_factory=dict)
    output: str = "binary"
    n_bits: int = 6
    threshold_levels: int = 4
    ema_momentum: float = 0.1
    learn_beta: bool = False  # extra field (authors'-code preset)
    signed: bool = False      # extra field (authors'-code preset)

    def __post_init__(self):
        _flag("synaptic", self.synaptic)
        _real("beta", self.beta)
        for nm in ("learn_alpha", "learn_threshold", "learn_beta"):
            _flag(nm, getattr(self, nm))
        validate_membrane_options(self)
        if self.output == "multibit" and self.learn_threshold:
            raise ValueError("learn_threshold is refused with output='multibit': gamma is "
                             "tied to the range b (gamma = threshold_levels * b / 2^n_bits)")
        if self.learn_beta and not self.synaptic:
            raise ValueError("learn_beta=True needs synaptic=True (there is no synaptic decay)")


class Neuron:
    """The V/Y part of a layer, frozen for one forward pass (options + the range ``b``).

    Built by :meth:`from_config`; the backward pass uses the same object (so a ``b``
    updated after the forward does not leak into its backward).
    """

    def __init__(self, reset, detach_reset, output, surrogate, n_bits=6, threshold_levels=4,
                 b=1.0, signed=False):
        self.reset, self.detach_reset, self.output = reset, bool(detach_reset), output
        self.surrogate = surrogate
        self.n_bits, self.k, self.b, self.signed = int(n_bits), int(threshold_levels), float(b), bool(signed)
        self.levels = 2 ** self.n_bits

    @classmethod
    def from_config(cls, c, b=1.0):
        return cls(c.reset, c.detach_reset, c.output, surrogates.get(c.surrogate, **c.surrogate_params),
                   c.n_bits, c.threshold_levels, b, getattr(c, "signed", False))

    @property
    def binary(self):
        return self.output == "binary"

    @property
    def multibit_gamma(self):
        """gamma = k b / 2^N (the paper's b/16 for k=4, N=6)."""
        return self.k * self.b / self.levels

    def quantize(self, V):
        """Eq. 22: the multi-bit value and its level index q (same dtype as V)."""
        step = self.b / self.levels
        gamma = self.multibit_gamma
        mag = np.abs(V) if self.signed else V
        q = np.minimum(np.floor(mag / step), self.levels - 1)
        q = np.where(mag > gamma, q, 0).astype(V.dtype, copy=False)
        if self.signed:
            q = np.sign(V) * q
        return q * V.dtype.type(step), q


def membrane_forward(I, V_prev, Y_prev, alpha, gamma, neuron, twin=None):
    """One step of V and Y given this step's synaptic current ``I`` (B, H).

    Eq. 8 (reset="subtract") or the zero reset, then Eq. 9 (binary) or Eq. 22 (multibit).
    ``alpha``, ``gamma``: scalars or (H,) arrays (learnable). For multibit ``gamma`` is
    ignored (``neuron.multibit_gamma`` is used). Returns ``(V, Y, cache)``; the cache holds
    ``dY/dV`` (surrogate or clip mask) so the backward needs no recomputation.
    """
    # The reset reads the previous output; detach_reset makes that read a constant.
    Y_r = detach(Y_prev, twin) if neuron.detach_reset else Y_prev
    if neuron.reset == "zero":
        V = alpha * V_prev * (1 - Y_r) + I
    elif neuron.binary:
        V = alpha * V_prev + I - gamma * Y_r
    else:  # multi-bit: subtract what was transmitted
        V = alpha * V_prev + I - Y_r
    if neuron.binary:
        u = V - gamma
        Y = heaviside(u, neuron.surrogate, twin)
        dYdV = neuron.surrogate.grad(u)
    else:
        b = neuron.b
        Yq, q = neuron.quantize(V)
        clipped = np.abs(V) > b
        # forward: the quantized value; backward: as if Y were clip(V, -b, b). The level
        # index and the clip mask are the discrete state whose change is a "flip".
        Y = straight_through(Yq, lambda: np.clip(V, -b, b), twin, discrete=np.stack([q, clipped]))
        dYdV = (~clipped).astype(V.dtype)
    return V, Y, (V_prev, Y_prev, dYdV)


def membrane_backward(dV, dY, cache, alpha, gamma, neuron, want_alpha=False, want_gamma=False):
    """Backward of :func:`membrane_forward`.

    ``dV`` (B, H): gradient reaching V[t] from later steps (through V[t+1]); ``dY`` (B, H):
    total gradient reaching Y[t]. Returns ``(dI, dV_prev, dY_prev, dalpha, dgamma)``, the
    last two elementwise (B, H) (None unless requested); dI is the total dL/dV[t].
    """
    V_prev, Y_prev, dYdV = cache
    dV = dV + dY * dYdV                     # every path into V[t]
    dgamma = None
    if want_gamma:                          # binary only (refused with multibit)
        dgamma = -dY * dYdV                 # Y = H(V - gamma): dY/dgamma = -dY/dV
        if neuron.reset == "subtract":
            dgamma = dgamma - dV * Y_prev   # the reset's -gamma*Y[t-1], detached or not
    if neuron.reset == "zero":
        keep = 1 - Y_prev
        dV_prev = dV * alpha * keep
        dalpha = dV * V_prev * keep if want_alpha else None
        dY_prev = np.zeros_like(dV) if neuron.detach_reset else -dV * alpha * V_prev
    else:
        dV_prev = dV * alpha
        dalpha = dV * V_prev if want_alpha else None
        if neuron.detach_reset:
            dY_prev = np.zeros_like(dV)
        else:
            dY_prev = -dV * gamma if neuron.binary else -dV
    return dV, dV_prev, dY_prev, dalpha, dgamma


def step_forward(a_t, state, beta, alpha, gamma, neuron, synaptic=True, twin=None):
    """One LIF step. ``a_t`` (B, H) is this step's input projection ``x[t] W``.

    Returns ``(Y, State(I, V, Y), cache_t)`` (Eq. 7-9 or Eq. 22).
    """
    I = beta * state.I + a_t if synaptic else a_t
    V, Y, mcache = membrane_forward(I, state.V, state.Y, alpha, gamma, neuron, twin)
    return Y, State(I, V, Y), (state.I, mcache)


def step_backward(dstate, cache_t, beta, alpha, gamma, neuron, synaptic=True,
                  want_alpha=False, want_gamma=False, want_beta=False):
    """Backward of one step. ``dstate`` = State(dI, dV, dY): gradients reaching the
    step's outputs (dY includes this step's ``dy[t]``).

    Returns ``(da, dstate_prev, (dalpha, dgamma, dbeta))`` with ``da = dL/d(x[t] W)``.
    """
    I_prev, mcache = cache_t
    dVtot, dV_prev, dY_prev, dalpha, dgamma = membrane_backward(
        dstate.V, dstate.Y, mcache, alpha, gamma, neuron, want_alpha, want_gamma)
    dI = dstate.I + dVtot                  # V[t] = ... + I[t]
    if synaptic:
        dI_prev = beta * dI                # Eq. 15: each step back multiplies by beta
        dbeta = dI * I_prev if want_beta else None
    else:
        dI_prev, dbeta = np.zeros_like(dI), None
    return dI, State(dI_prev, dV_prev, dY_prev), (dalpha, dgamma, dbeta)


def glorot_uniform(rng, n_in, n_out):
    lim = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out))


class _MultibitRange:
    """Mixin: the multi-bit range ``b`` kept in ``buffers`` and its bias-corrected EMA."""

    def _init_range(self):
        self.buffers.update({"b": 1.0, "b_ema_biased": 0.0, "b_updates": 0})

    @property
    def b(self):
        """The membrane-potential range b of the multi-bit output (a float)."""
        return float(self.buffers["b"])

    @b.setter
    def b(self, value):
        _real("b", value)
        if value <= 0:
            raise ValueError(f"b must be > 0, got {value}")
        self.buffers["b"] = float(value)

    def _update_range(self, max_abs_v):
        """EMA of max|V| with bias correction (Jacob et al. 2018; the authors' code)."""
        m = self.config.ema_momentum
        self.buffers["b_updates"] += 1
        self.buffers["b_ema_biased"] = (1 - m) * self.buffers["b_ema_biased"] + m * float(max_abs_v)
        b = self.buffers["b_ema_biased"] / (1 - (1 - m) ** self.buffers["b_updates"])
        if b > 0:  # an all-zero batch leaves the previous range in place
            self.buffers["b"] = b


class LIF(_MultibitRange, Cell):
    """LIF layer (Ponghiran & Roy Eq. 7-9, 22). See the module docstring for the options."""

    name = "lif"
    Config = Config
    State = State

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_range()

    def _init_params(self, rng):
        H, c = self.n_hidden, self.config
        p = {"W": glorot_uniform(rng, self.n_in, H)}
        if c.learn_alpha:
            p["alpha"] = np.full(H, c.alpha)
        if c.learn_threshold:
            p["threshold"] = np.full(H, c.threshold)
        if c.learn_beta:
            p["beta"] = np.full(H, c.beta)
        return p

    def _coeffs(self):
        """(alpha, gamma, beta): parameters when learnable, else config scalars."""
        c, p = self.config, self.params
        return (p.get("alpha", c.alpha), p.get("threshold", c.threshold), p.get("beta", c.beta))

    def neuron(self):
        return Neuron.from_config(self.config, self.b)

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        c = self.config
        alpha, gamma, beta = self._coeffs()
        neuron = self.neuron()
        A = (x.reshape(T * B, -1) @ self.params["W"]).reshape(T, B, -1)  # all steps at once
        Ys = np.empty((T, B, self.n_hidden), self.dtype)
        caches, vmax = [], 0.0
        for t in range(T):
            Ys[t], state, ct = step_forward(A[t], state, beta, alpha, gamma, neuron, c.synaptic, twin)
            caches.append(ct)
            if not neuron.binary and self.training:
                vmax = max(vmax, float(np.max(np.abs(state.V))))
        if not neuron.binary and self.training:
            self._update_range(vmax)  # after the forward: this pass used the old b
        return Ys, {"x": x, "caches": caches, "neuron": neuron, "final_state": state}

    def _backward(self, dy, cache):
        x, caches, neuron = cache["x"], cache["caches"], cache["neuron"]
        T, B, _ = x.shape
        c, p = self.config, self.params
        alpha, gamma, beta = self._coeffs()
        dA = np.empty_like(dy)
        z = np.zeros_like(dy[0])
        dst = State(z, z, z)
        acc = {k: np.zeros_like(dy[0]) for k in ("alpha", "threshold", "beta") if k in p}
        for t in reversed(range(T)):
            dst = State(dst.I, dst.V, dst.Y + dy[t])
            dA[t], dst, (da_, dg_, db_) = step_backward(
                dst, caches[t], beta, alpha, gamma, neuron, c.synaptic,
                "alpha" in p, "threshold" in p, "beta" in p)
            for k, v in (("alpha", da_), ("threshold", dg_), ("beta", db_)):
                if k in acc:
                    acc[k] += v
        dA2 = dA.reshape(T * B, -1)
        grads = {"W": x.reshape(T * B, -1).T @ dA2}
        grads.update({k: v.sum(0) for k, v in acc.items()})
        dx = (dA2 @ p["W"].T).reshape(x.shape)
        return dx, grads


#: Named configurations (config keywords), see the module docstring.
PRESETS = {
    "ponghiran": dict(synaptic=True, alpha=0.9, beta=0.9, reset="subtract", output="multibit",
                      n_bits=6, threshold_levels=4, surrogate="triangle"),
    "ponghiran_authors_code": dict(synaptic=True, alpha=1.0, beta=1.0, learn_beta=True,
                                   reset="subtract", output="multibit", signed=True,
                                   n_bits=6, threshold_levels=4),
    "snntorch_leaky": dict(synaptic=False, alpha=0.9, learn_alpha=True, threshold=1.0,
                           learn_threshold=True, reset="zero", detach_reset=True,
                           surrogate="atan", surrogate_params={"a": 2.0}, output="binary"),
}

#: The configuration the tour trains (the paper's Table 1 traditional SNN).
TOUR_CONFIG = dict(PRESETS["ponghiran"])


def _proofs():
    """Every option combination that changes the backward pass: synaptic x reset x
    detach_reset x learn_alpha x learn_threshold x output (multi-bit refuses the zero
    reset and a learnable threshold), under both twins; plus the presets, a learnable
    beta, the signed range and non-default surrogates."""
    import itertools

    out = {}
    for twin in ("frozen", "smooth"):
        for syn, reset, det, la, lt, o in itertools.product(
                (True, False), ("subtract", "zero"), (False, True), (False, True), (False, True),
                ("binary", "multibit")):
            if o == "multibit" and (reset == "zero" or lt):
                continue
            label = (f"{o[:5]} {'syn' if syn else 'nosyn'} {reset[:4]}{' det' if det else ''}"
                     f"{' la' if la else ''}{' lt' if lt else ''} [{twin[0]}]")
            out[label] = (dict(synaptic=syn, reset=reset, detach_reset=det, learn_alpha=la,
                               learn_threshold=lt, output=o), twin)
        for name, cfg in PRESETS.items():
            out[f"preset {name} [{twin[0]}]"] = (dict(cfg), twin)
        out[f"binary learn_beta [{twin[0]}]"] = (dict(learn_beta=True), twin)
        out[f"binary atan zero lt [{twin[0]}]"] = (dict(surrogate="atan", reset="zero", learn_threshold=True), twin)
        out[f"multibit 2-bit signed [{twin[0]}]"] = (
            dict(output="multibit", n_bits=2, threshold_levels=1, signed=True), twin)
    return out


#: label -> (config, twin): what `python -m snn_from_scratch gradcheck` proves.
PROOFS = _proofs()
