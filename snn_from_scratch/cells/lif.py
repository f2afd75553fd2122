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

BPTT cache (what the forward keeps for the backward): per step only what the backward
reads — ``dY/dV[t]`` (the surrogate's values, or the multi-bit clip mask as bool), plus
``V[t-1]`` for a learnable alpha or the zero reset, ``Y[t-1]`` for the zero reset or a
learnable threshold (a view of the output array, no copy) and ``I[t-1]`` for a learnable
beta (:func:`membrane_needs`, :meth:`LIF.backward_needs`): one value per unit and step for
the default neuron, the theoretical minimum. ``cache["steps"]`` holds these (other
entries None); ``cache["caches"]`` (:class:`StepCaches`) gives readers the full per-step
tuples of ``step_forward``, rebuilt on first access by replaying the pass from ``x``, a
copy of ``W`` and the initial state (bit for bit the same values).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import surrogates
from ..gradcheck import detach, heaviside, straight_through
from .base import Cell

__all__ = ["State", "Config", "Neuron", "LIF", "membrane_forward", "membrane_backward",
           "membrane_needs", "StepCaches", "step_forward", "step_backward", "PRESETS", "PROOFS",
           "TOUR_CONFIG", "validate_membrane_options", "glorot_uniform"]


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
    ignored (``neuron.multibit_gamma`` is used). Returns ``(V, Y, cache)`` with
    ``cache = (V[t-1], Y[t-1], dY/dV[t])``: ``dY/dV`` is the surrogate's values (binary) or
    the clip mask ``|V| <= b`` as a bool array (multi-bit: 1 byte per unit instead of 4-8),
    so the backward needs no recomputation. The sequence forward keeps only the entries of
    this cache that :func:`membrane_backward` reads (:func:`membrane_needs`).
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
        dYdV = ~clipped  # bool: multiplying a float gradient by it keeps the float dtype
    return V, Y, (V_prev, Y_prev, dYdV)


def membrane_backward(dV, dY, cache, alpha, gamma, neuron, want_alpha=False, want_gamma=False):
    """Backward of :func:`membrane_forward`.

    ``dV`` (B, H): gradient reaching V[t] from later steps (through V[t+1]); ``dY`` (B, H):
    total gradient reaching Y[t]. ``cache`` as :func:`membrane_forward` returns it; entries
    that :func:`membrane_needs` says are not read may be None. Returns
    ``(dI, dV_prev, dY_prev, dalpha, dgamma)``, the last two elementwise (B, H) (None unless
    requested); dI is the total dL/dV[t].
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


def membrane_needs(neuron, want_alpha=False, want_gamma=False):
    """Which of ``V[t-1]``, ``Y[t-1]`` :func:`membrane_backward` reads: ``(need_V, need_Y)``.

    ``dY/dV`` is always read. ``V[t-1]`` only for a learnable alpha and for the zero
    reset's gradient into ``Y[t-1]`` (``-alpha V[t-1]``, absent when the reset is detached);
    ``Y[t-1]`` only for the zero reset's keep factor ``1 - Y[t-1]`` and for a learnable
    threshold's ``-Y[t-1]`` under the subtractive reset. A sequence forward stores nothing
    else for the membrane (the default binary / multi-bit neuron stores ``dY/dV`` alone).
    """
    zero = neuron.reset == "zero"
    need_V = bool(want_alpha) or (zero and not neuron.detach_reset)
    need_Y = zero or (bool(want_gamma) and neuron.reset == "subtract")
    return need_V, need_Y


class StepCaches(Sequence):
    """The per-step caches of one forward pass, read-only, for inspection and analysis.

    ``caches[t]`` is the full tuple the module's ``step_forward`` returned for step ``t``
    (lif: ``(I[t-1], (V[t-1], Y[t-1], dY/dV[t]))``). The forward stores only what the
    backward reads (``cache["steps"]``, other entries None); the full tuples are rebuilt
    on first access by ``rebuild()`` — a replay of the forward from stored values, bit for
    bit the same numbers — and kept. Under a gradient-check twin they are stored instead
    (the twins' values are not those of a plain replay).
    """

    def __init__(self, n_steps, rebuild):
        self._n = int(n_steps)
        self._rebuild = rebuild
        self._full = None

    def _steps(self):
        if self._full is None:
            self._full = list(self._rebuild())
            self._rebuild = None
        return self._full

    def __len__(self):
        return self._n

    def __getitem__(self, k):
        return self._steps()[k]


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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

    def backward_needs(self):
        """``(need_I, need_V, need_Y)``: which of ``I[t-1]``, ``V[t-1]``, ``Y[t-1]`` the
        backward reads (``dY/dV[t]`` always). ``I[t-1]`` only for a learnable beta
        (``dI[t]/dbeta = I[t-1]``); V and Y see :func:`membrane_needs`."""
        p = self.params
        return ("beta" in p,) + membrane_needs(self.neuron(), "alpha" in p, "threshold" in p)

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        c = self.config
        alpha, gamma, beta = self._coeffs()
        neuron = self.neuron()
        W = self.params["W"]
        A = (x.reshape(T * B, -1) @ W).reshape(T, B, -1)  # all steps at once
        track = not neuron.binary and self.training
        Ys, final, steps, full, vmax = _scan(A, state, beta, alpha, gamma, neuron, c.synaptic, twin,
                                             keep=self.backward_needs(), also_full=twin is not None,
                                             track_vmax=track)
        if track:
            self._update_range(vmax)  # after the forward: this pass used the old b
        if full is None:
            # What a reader of cache["caches"] needs to replay this pass (bit for bit): a copy
            # of W and of the learnable coefficients as they were (an optimizer step may come
            # before the inspection), the initial state and x. Small next to the steps' values.
            snap = {"W": W.copy(), "coeffs": tuple(np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                                                   for v in (beta, alpha, gamma)),
                    "initial_state": state}

            def rebuild():
                A0 = (x.reshape(T * B, -1) @ snap["W"]).reshape(T, B, -1)
                return _scan(A0, snap["initial_state"], *snap["coeffs"], neuron, c.synaptic)[2]
        else:
            snap = None

            def rebuild():
                return full
        cache = {"x": x, "steps": steps, "neuron": neuron, "final_state": final,
                 "caches": StepCaches(T, rebuild)}
        if snap is not None:
            cache["replay"] = snap
        return Ys[1:], cache

    def _backward(self, dy, cache):
        x, steps, neuron = cache["x"], cache["steps"], cache["neuron"]
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
                dst, steps[t], beta, alpha, gamma, neuron, c.synaptic,
                "alpha" in p, "threshold" in p, "beta" in p)
            for k, v in (("alpha", da_), ("threshold", dg_), ("beta", db_)):
                if k in acc:
                    acc[k] += v
        dA2 = dA.reshape(T * B, -1)
        grads = {"W": x.reshape(T * B, -1).T @ dA2}
        grads.update({k: v.sum(0) for k, v in acc.items()})
        dx = (dA2 @ p["W"].T).reshape(x.shape)
        return dx, grads


def _scan(A, state, beta, alpha, gamma, neuron, synaptic, twin=None, keep=None, also_full=False,
          track_vmax=False):
    """The time loop of a lif layer over its input projections ``A`` (T, B, H).

    Returns ``(Ys, final_state, steps, full, vmax)``. ``Ys`` (T+1, B, H): ``Ys[0]`` the
    initial ``Y``, ``Ys[1:]`` the output; each step reads ``Y[t-1]`` as a view of it, so a
    cached ``Y[t-1]`` costs no copy. ``steps``: the per-step caches of :func:`step_forward`,
    with the entries ``keep = (need_I, need_V, need_Y)`` does not ask for replaced by None
    (``keep=None``: all kept); ``full`` the unpruned ones when ``also_full`` (else None);
    ``vmax`` = max |V| over the pass when ``track_vmax`` (the multi-bit range's EMA).
    """
    T = A.shape[0]
    Ys = np.empty((T + 1,) + A.shape[1:], A.dtype)
    Ys[0] = state.Y
    state = state._replace(Y=Ys[0])
    steps, full, vmax = [], ([] if also_full else None), 0.0
    for t in range(T):
        Y, state, ct = step_forward(A[t], state, beta, alpha, gamma, neuron, synaptic, twin)
        Ys[t + 1] = Y
        if keep is not None:
            (I_prev, (V_prev, Y_prev, dYdV)), (kI, kV, kY) = ct, keep
            steps.append((I_prev if kI else None,
                          (V_prev if kV else None, Y_prev if kY else None, dYdV)))
        else:
            steps.append(ct)
        if also_full:
            full.append(ct)
        if track_vmax:
            vmax = max(vmax, float(np.max(np.abs(state.V))))
        state = state._replace(Y=Ys[t + 1])
    # The final state owns its arrays: Y the step's own (not a view that would keep the
    # whole output alive through the cache), I copied when it is a view of A (synaptic=False).
    I_T = state.I if synaptic else state.I.copy()
    return Ys, State(I_T, state.V, Y), steps, full, vmax


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
