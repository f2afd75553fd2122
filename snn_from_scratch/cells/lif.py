"""Leaky integrate-and-fire (LIF) layer with binary or multi-bit outputs.

Ponghiran & Roy (2022), "Spiking neural networks with improved inherent recurrence
dynamics for sequential learning": Eq. 7-9 (the "traditional SNN" of their Table 1), Eq. 15
(why its gradient vanishes) and Eq. 22 (multi-bit outputs); the snnTorch-style neuron (no
synaptic current, reset to zero, detached reset) that De Geeter et al. (2023) use as their
LIF baseline; the recurrent SNN of Neftci, Mostafa & Zenke (2019); and, as options, what
Norse / SpikingJelly and the authors' published code do differently. The V/Y part below is
shared with the gated currents of Eq. 16-21 (:mod:`.gated_lif` imports it).

Notation (time-major: x is (T, B, n_in), every state (B, H); t is the step)

    x[t]      the layer's input at step t (the paper's X[n])
    W         input weights (n_in, H)
    z[t]      x[t] W, the weighted input
    a[t]      the step's input projection: z[t], or BN(z)[t] with ``norm="batch"``
    U         recurrent weights (H, H) (``recurrent=True``, Neftci et al. 2019)
    I[t]      synaptic current                    V[t]  membrane potential (compared with gamma)
    M[t]      the membrane the next step starts from: V[t] itself (reset_timing="next_step")
              or V[t] after its own reset ("same_step"); the state's field ``V`` holds M[t]
    Y[t]      output: the spike S[t] in {0, 1} (binary) or a multi-bit value (Eq. 22)
    alpha     membrane decay (config ``alpha``; the parameter ``alpha`` (H,) when learnable)
    beta      synaptic decay (config ``beta``; the parameter ``beta`` (H,) when learnable)
    gamma     the threshold: config/parameter ``threshold`` for binary outputs, k / s
              for multi-bit outputs (one symbol in the math, one key in the code)
    H(u)      the Heaviside step: 1 where u > 0, or u >= 0 with ``spike_at_threshold``
              (in shapes, H is the number of units)
    sigma'    the surrogate derivative used for H in backward (config ``surrogate``,
              default the paper's piecewise-linear max(0, 1 - |u|))
    b         the multi-bit range (the attribute ``cell.b``; its estimator below)
    N         the number of output (magnitude) bits (config ``n_bits``)
    r         ``scale_margin`` (1; the authors' code 1 - 1e-4)
    s         the quantizer's scale 2^N r / b; a level is 1/s wide
    q         the integer output level of Eq. 22, Y = q / s
    k         the threshold in levels (config ``threshold_levels``): gamma = k / s
    R(v, Y)   the reset, R = keep * v - rho * Y (table below)
    keep, rho the reset's coefficients: dR/dv = keep, dR/dY = -rho
    mu, sd    batch norm's mean and sqrt(variance + eps) per feature; zh = (z - mu) / sd
    g_bn, h_bn  batch norm's learned scale and shift, the params ``bn_scale``, ``bn_shift``
              (the BN paper's gamma and beta, renamed: gamma is our threshold, beta our decay)
    dX        the total gradient dL/dX reaching X

Forward, one step

    a[t] = z[t]                                       (norm="none")
    a[t] = h_bn + g_bn * (z[t] - mu) / sd              (norm="batch", over all T*B rows)
    a[t] += Y[t-1] U                                  (recurrent=True, not detached)
    I[t] = beta * I[t-1] + a[t]                       (Eq. 7, synaptic=True)
    I[t] = a[t]                                       (synaptic=False)
    V[t] = R(alpha * M[t-1], Y[t-1]) + I[t];  M[t] = V[t]     (Eq. 8, reset_timing="next_step")
    V[t] = alpha * M[t-1] + I[t];  M[t] = R(V[t], Y[t])       (reset_timing="same_step")
    Y[t] = H(V[t] - gamma)                            (Eq. 9, output="binary")

with the reset R(v, Y) = keep * v - rho * Y:

    reset="subtract", binary:     R = v - gamma * Y          keep = 1,      rho = gamma
    reset="subtract", multi-bit:  R = v - Y                  keep = 1,      rho = 1
    reset="zero":                 R = v * (1 - Y)            keep = 1 - Y,  rho = v
    detach_reset=True:            Y a constant in R          keep as above, rho = 0

"next_step" is the paper's Eq. 8 (V[t] = alpha V[t-1] + I[t] - gamma S[t-1]): the reset of
a spike enters the next step's potential, after the leak, and ``State.V`` holds the
potential V[t] as it was compared with the threshold (before its reset). "same_step" is
Norse's and SpikingJelly's order: the membrane is reset right after the spike and the next
decay acts on the reset value (V[t+1] = alpha (V[t] - gamma S[t]) + I[t+1]); ``State.V``
holds the reset membrane M[t] = R(V[t], Y[t]) (what those frameworks store as ``v``); the
potential V[t] itself is the cache's ``V``. For the zero reset the two timings are the
same function (alpha V (1 - S) either way) and differ only in what ``State.V`` holds; for
the subtractive reset "same_step" leaks the subtracted amount too.

Multi-bit output (Eq. 22 with the scaling of the authors' code), s = 2^N r / b:

    q[t] = min(floor(s min(V[t], b)), 2^N - 1)  if V[t] > gamma  (>= with spike_at_threshold),
    else 0
    Y[t] = q[t] / s,        gamma = k / s   (the paper's b/16 at N = 6, k = 4, r = 1)

and the reset subtracts the *transmitted* value Y. With ``signed=True`` the mapping is
mirrored for negative potentials (Y = sign(V) min(floor(s min(|V|, b)), 2^N - 1) / s for
|V| > gamma): the authors' code spends one of its bits on the sign. With ``scale_margin``
r < 1 the levels are 1/r times wider and the top level floor(2^N r)/s stays at or below b
(the authors' r = 1 - 1e-4 gives 2^N - 1 levels for N <= 13, like r = 1). The range b is a running estimate, updated only while
``cell.training`` is True (frozen in eval); it starts at 1.0:

    range_estimator="max_abs" (default): after each training pass, b <- the bias-corrected
        EMA (momentum ``ema_momentum``, as Adam's moments, Jacob et al. 2018) of that pass's
        max|V| over every step, unit and sequence; the pass itself used the old b.
    range_estimator="authors" (their FakeSpikeQuantization): at EVERY step of a training
        pass, bias-corrected EMAs (momentum ``ema_momentum``) of the step's min(V) and
        max(V) (over units and sequences) are updated, b = max(|min EMA|, |max EMA|), and
        that step is quantized with the updated b at once.

Batch norm (``norm="batch"``, the authors' code: ``nn.BatchNorm1d(H)`` on ``z.view(T*B,
H)``): one mean and variance per feature over time and batch together. While training, the
(biased) statistics of this pass's T*B rows; the running statistics (buffers ``bn_mean``,
``bn_var``, initial 0 and 1) are updated after it with momentum ``bn_momentum`` (0.1), the
variance unbiased (times n/(n-1), n = T*B); in eval the running statistics are used. eps is
``bn_eps`` (1e-5). ``bn_track_running_stats=False`` (torch's ``track_running_stats=False``)
uses the batch statistics in eval too and keeps no running statistics.

Backward (what ``backward`` implements and the gradient proofs check). With dY/dV =
sigma'(V[t] - gamma) for spikes or the clipped straight-through 1[|V[t]| <= b] for
multi-bit outputs (the derivative of clip(V, -b, b); b and gamma constants; also below
gamma), every option is one derivation whose coefficients the options pick
(dM, dY: the gradients reaching M[t] and Y[t] from above and from step t+1):

    next_step  (V[t] = R(alpha M[t-1], Y[t-1]) + I[t]; M[t] = V[t]):
        dV[t]   = dM + dY * dY/dV
        dM[t-1] = dV[t] * alpha * keep(Y[t-1])      dY[t-1] = -dV[t] * rho   (rho = alpha M[t-1]
                                                                           for the zero reset)
    same_step  (V[t] = alpha M[t-1] + I[t]; M[t] = R(V[t], Y[t])):
        dY      = dY - dM * rho                     (the reset's path into this step's Y[t])
        dV[t]   = dM * keep(Y[t]) + dY * dY/dV      (rho = V[t] for the zero reset)
        dM[t-1] = dV[t] * alpha                     dY[t-1] = 0 (from the membrane)
    both:
        dI[t]   = dI[t] (from step t+1) + dV[t];    da[t] = dI[t];   dI[t-1] = beta * dI[t]
        dY[t-1] += da[t] U^T                        (recurrent)
        dalpha  = dV[t] * M[t-1] (* keep(Y[t-1]) for next_step)      dbeta = dI[t] * I[t-1]
        dgamma  = -dY * dY/dV - dR * Y_r  (Y_r the Y the reset reads, dR the gradient
                  reaching R's output: dV[t] for next_step, dM for same_step; the second term
                  for the subtractive reset, detached or not: detaching stops the gradient
                  through Y, not through gamma)

After the loop, with dA the stacked da[t] (T*B, H): dU = sum_t Y[t-1]^T da[t]; batch norm's
backward (the classic one, Ioffe & Szegedy 2015, which couples all T*B rows through mu and
sd in training) dh_bn = sum dA, dg_bn = sum dA * zh, dzh = dA * g_bn and

    dz = (n dzh - sum dzh - zh * sum(dzh * zh)) / (n sd)   (batch statistics, n = T*B)
    dz = dzh / sd                                            (running statistics: constants)

then dW = x^T dz and dx = dz W^T (one matrix product each, over all steps).

Along I the gradient is multiplied by beta once per step back: d I[N] / d W[n] =
beta^(N-n) x[n] (Eq. 15), the vanishing gradient the gated currents of Eq. 16-21 remove.
Learnable alpha, threshold and beta enter raw (no clamp); a constraint would be an
optimizer projection.

Config (a frozen dataclass): the fields of :class:`MembraneConfig` (the V/Y options and
batch norm, shared with gated_lif), ``synaptic``, ``beta``, ``recurrent``, ``learn_alpha``,
``learn_threshold`` and ``learn_beta`` (learnable synaptic decay, the authors' code).
Parameters: ``W (n_in, H)`` (Glorot uniform, the paper's initialization); ``U (H, H)``
(orthogonal: an orthogonal U neither grows nor shrinks the spike vector it maps, so the
recurrent input starts at the scale of the feed-forward one whatever H is — the init the
authors use for their recurrent matrices and gated_lif v2 uses); ``alpha (H)``,
``threshold (H)``, ``beta (H)`` when learnable; ``bn_scale (H)`` (1) and ``bn_shift (H)``
(0) with ``norm="batch"``. ``init_spread`` > 0 draws every per-neuron parameter
(alpha, threshold, beta, bn_scale, bn_shift) as its initial value plus ``init_spread``
times uniform(-1, 1) — heterogeneous neurons (as after training; the gradient proofs use it
so that a backward that permutes neurons cannot pass).

The authors' code (``wponghiran/imp-snns-for-sl``, transcribed in
``validation/authors/ponghiran.py``) in these terms: their quantizer with ``num_bits`` and
``threshold`` is ours with

    =========================  ==========  ========  ================  ===================
    their cfg (num_bits, th)   ``n_bits``  N + sign  threshold_levels  first output at |V|
    =========================  ==========  ========  ================  ===================
    nb6th3 (Table 1, all)      5           6         4                 4/s = b/8 (r = 1)
    nb5th0 (Fig. 5)            4           5         1                 b/16
    nb3th0 (Fig. 5)            2           3         1                 b/4
    nb1th0 (Fig. 5)            0 (refused) 1         1                 never: Y = 0
    nb32th0 (Fig. 5)           31 (> 24)   32        1                 b/2^31
    general                    nb - 1      nb        th + 1            (th + 1)/s
    =========================  ==========  ========  ================  ===================

with ``signed=True``, ``scale_margin = 1 - 1e-4``, ``spike_at_threshold=True`` (their
q = trunc(s clip(V)) is zeroed where |q| <= th, so |V| = gamma exactly emits), our b =
their ``max_abs`` (clip at b) and ``range_estimator="authors"``. Their trunc(s V) equals our
sign(V) floor(s|V|). Their membrane is ``vmem += syn; Y = Q(vmem); vmem -= Y``: our
``reset_timing="same_step"`` with alpha = 1 (no leak), literally in that order.

Presets (``cells.make("lif", n_in, H, **PRESETS[name])``): ``"ponghiran"`` (the paper's
traditional SNN of Table 1: synaptic current, alpha = beta = 0.9, reset by subtraction,
6-bit outputs with threshold b/16, piecewise-linear surrogate), ``"ponghiran_authors_code"``
(the traditional model their published code runs with nb6th3: no membrane leak, alpha = 1,
a learnable synaptic decay starting at 1, the reset subtracting the transmitted value, not
detached, the signed 5+1-bit quantizer above with its range estimator, straight-through
clipped at b, batch norm of the weighted input; eval mode at a given b reproduces their
numbers, tests/test_authors_ponghiran.py) and ``"snntorch_leaky"`` (the snnTorch ``Leaky``
neuron De Geeter et al. 2023, Appendix A, train as their baseline: no synaptic current,
reset to zero, detached, learnable decay 0.9 and threshold 1.0, arctan surrogate with a = 2).

Why this file is long (~900 lines): it holds the membrane shared with gated_lif and every
option of the three papers' neurons and of the frameworks it is validated against (reset
timings, recurrence, batch norm, two range estimators); splitting it would separate an
option's forward from its backward. The math comes first; checks, pass constants and helpers
follow the step pair.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, NamedTuple, Optional, Sequence

import numpy as np

from .. import surrogates
from ..ops import EXACT, Ops
from .base import Cell, check_choice, check_flag, check_real, slim
from . import events

__all__ = ["State", "MembraneConfig", "Config", "PassConstants", "StepConfig", "Cache",
           "membrane_forward", "membrane_backward", "membrane_reads", "step_forward",
           "step_backward", "reads", "coefficients", "reset_coefficients", "fire", "reset",
           "quantize", "batch_norm", "batch_norm_backward", "AtThreshold", "MembraneCell",
           "LIF", "glorot_uniform", "orthogonal", "PRESETS"]


class State(NamedTuple):
    I: np.ndarray  # (B, H) synaptic current I[t]
    V: np.ndarray  # (B, H) M[t]: V[t] ("next_step") or V[t] after its reset ("same_step")
    Y: np.ndarray  # (B, H) output Y[t] (spike or multi-bit value)


@dataclass(frozen=True)
class MembraneConfig:
    """The V/Y options and batch norm, shared by lif and gated_lif (one definition, one
    validation).

    ``threshold`` is gamma for binary outputs; with ``output="multibit"`` gamma is
    ``threshold_levels / s`` (s = 2^n_bits * scale_margin / b) instead.
    """

    alpha: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = False
    reset_timing: str = "next_step"
    spike_at_threshold: bool = False
    surrogate: str = "triangle"
    surrogate_params: dict = field(default_factory=dict)
    output: str = "binary"
    n_bits: int = 6
    threshold_levels: int = 4
    ema_momentum: float = 0.1
    signed: bool = False  # the authors' signed range
    range_estimator: str = "max_abs"
    scale_margin: float = 1.0
    norm: str = "none"
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    bn_track_running_stats: bool = True
    init_spread: float = 0.0

    def __post_init__(self):
        check_membrane_config(self)  # the checks follow the step pair below


@dataclass(frozen=True)
class Config(MembraneConfig):
    """LIF options: the V/Y options of :class:`MembraneConfig` plus the synaptic current's
    and the recurrent input's."""

    synaptic: bool = True
    beta: float = 0.9
    recurrent: bool = False
    learn_alpha: bool = False
    learn_threshold: bool = False
    learn_beta: bool = False  # the authors' code: a learnable synaptic decay

    def __post_init__(self):
        check_membrane_config(self)
        check_lif_config(self)


class Cache(NamedTuple):
    """One step's BPTT cache (the sequence forward keeps only the fields :func:`reads` names)."""

    I_prev: np.ndarray  # I[t-1] (a learnable beta: dI[t]/dbeta = I[t-1])
    V_prev: np.ndarray  # M[t-1] (a learnable alpha; next_step's zero reset: rho = alpha M[t-1])
    Y_prev: np.ndarray  # Y[t-1] (next_step: the zero reset's keep; a threshold's -Y[t-1])
    V: np.ndarray       # V[t], the potential before its reset (same_step's zero reset: rho)
    Y: np.ndarray       # Y[t] (same_step: the zero reset's keep; a threshold's -Y[t])
    dYdV: np.ndarray    # dY[t]/dV[t]: sigma'(V[t] - gamma), or the clip mask |V[t]| <= b (bool)


# --------------------------------------------------------------------------------------
# The V/Y part of one step (Eq. 8-9 and 22), shared with gated_lif
# --------------------------------------------------------------------------------------
def membrane_forward(I: np.ndarray, state: Any, p: dict[str, np.ndarray], cfg: MembraneConfig,
                     ops: Ops = EXACT) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """V[t], Y[t] and M[t] from this step's current ``I`` = I[t] (B, H) and the previous
    ``state`` (whose ``V`` is M[t-1]).

    Returns ``(V, Y, dYdV, M)``. ``dYdV`` is what the backward multiplies by: the surrogate's
    values (binary) or the clip mask as a bool array (multi-bit: 1 byte per unit instead of
    4-8; a float times a bool keeps the float's dtype). ``M`` is V itself for
    ``reset_timing="next_step"``, the reset V for ``"same_step"``.
    """
    alpha, _, gamma = coefficients(p, cfg)
    if cfg.reset_timing == "same_step":
        V = alpha * state.V + I                            # M[t-1] was reset already
        Y, dYdV = fire(V, gamma, cfg, ops)
        return V, Y, dYdV, reset(V, Y, gamma, cfg, ops)    # reset right after the spike
    # next_step, Eq. 8: the reset of Y[t-1] enters V[t]. detach_reset: the reset reads
    # Y[t-1] as a constant (the value is the same; ops.detach lets a twin see the cut).
    Y_r = ops.detach(state.Y) if cfg.detach_reset else state.Y
    if cfg.reset == "zero":
        V = alpha * state.V * (1 - Y_r) + I                # a spike zeroes what leaks on
    else:
        sub = gamma * Y_r if cfg.output == "binary" else Y_r   # Eq. 22: subtract what was sent
        V = alpha * state.V + I - sub                      # Eq. 8
    Y, dYdV = fire(V, gamma, cfg, ops)
    return V, Y, dYdV, V


def membrane_backward(dV: np.ndarray, dY: np.ndarray, cache: Any, p: dict[str, np.ndarray],
                      cfg: MembraneConfig,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backward of :func:`membrane_forward`: the module docstring's derivation, one for
    every option (the options only pick the coefficients ``keep`` and ``rho`` and where the
    reset sits).

    ``dV`` (B, H): the gradient reaching the state's membrane M[t] from step t+1 (for
    "next_step" that is V[t]); ``dY``: the total gradient reaching Y[t]. ``cache``: any
    NamedTuple with fields ``V_prev``, ``Y_prev``, ``V``, ``Y``, ``dYdV`` (those
    :func:`membrane_reads` does not name may be None). Returns ``(dV, dV_prev, dY_prev,
    dp)``: the total dL/dV[t] (the potential), the gradients reaching M[t-1] and Y[t-1],
    and ``dp``, this step's contributions (B, H) to a learnable ``alpha`` / ``threshold``.
    """
    alpha, _, gamma = coefficients(p, cfg)
    keep, rho = reset_coefficients(cache, alpha, gamma, cfg)
    if cfg.reset_timing == "same_step":    # V[t] = alpha M[t-1] + I[t];  M[t] = R(V[t], Y[t])
        dM = dV
        dY = dY + times(-dM, rho)          # the reset's path into this step's Y[t]
        dV_Y = dY * cache.dYdV             # the path through Y[t]
        dV = times(dM, keep) + dV_Y        # every path into V[t]
        dV_prev = dV * alpha               # dV[t]/dM[t-1] = alpha
        dY_prev = np.zeros_like(dV)        # Y[t-1] is not in this step's membrane
        dR, Y_r, carry = dM, cache.Y, ()
    else:                                  # V[t] = R(alpha M[t-1], Y[t-1]) + I[t]
        dV_Y = dY * cache.dYdV             # the path through Y[t]
        dV = dV + dV_Y                     # every path into V[t]
        dV_prev = times(dV * alpha, keep)  # dV[t]/dM[t-1] = alpha * keep
        dY_prev = times(-dV, rho)          # dV[t]/dY[t-1] = -rho
        dR, Y_r, carry = dV, cache.Y_prev, keep
    dp = {}
    if "alpha" in p:
        dp["alpha"] = times(dV * cache.V_prev, carry)        # dV[t]/dalpha = M[t-1] (* keep)
    if "threshold" in p:  # binary only: Y = H(V - gamma), so dY/dgamma = -dY/dV
        dp["threshold"] = -dV_Y - dR * Y_r if cfg.reset == "subtract" else -dV_Y
    return dV, dV_prev, dY_prev, dp


def membrane_reads(p: dict[str, np.ndarray], cfg: MembraneConfig) -> set[str]:
    """The ``Cache`` fields :func:`membrane_backward` reads: ``dYdV`` always; ``V_prev`` for a
    learnable alpha; for "next_step" ``V_prev`` also for the (attached) zero reset's rho and
    ``Y_prev`` for its keep and a learnable threshold's ``-Y[t-1]`` (subtractive reset); for
    "same_step" this step's ``V`` and ``Y`` in those roles instead."""
    zero = cfg.reset == "zero"
    V, Y = ("V", "Y") if cfg.reset_timing == "same_step" else ("V_prev", "Y_prev")
    need = {"dYdV"}
    if "alpha" in p:
        need.add("V_prev")
    if zero and not cfg.detach_reset:
        need.add(V)
    if zero or ("threshold" in p and cfg.reset == "subtract"):
        need.add(Y)
    return need


# --------------------------------------------------------------------------------------
# One LIF step: the recurrent input, the synaptic current (Eq. 7) and the V/Y part above
# --------------------------------------------------------------------------------------
def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: StepConfig,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step. ``a_t`` (B, H) = x[t] W (batch-normalized with ``norm="batch"``);
    ``state`` = State(I[t-1], M[t-1], Y[t-1]); ``cfg`` a :class:`StepConfig`. Returns
    ``(Y[t], State(I[t], M[t], Y[t]), Cache)``."""
    _, beta, _ = coefficients(p, cfg)
    if cfg.recurrent:
        a_t = a_t + state.Y @ p["U"]                      # Neftci et al. 2019 (not detached)
    I = beta * state.I + a_t if cfg.synaptic else a_t     # Eq. 7
    V, Y, dYdV, M = membrane_forward(I, state, p, cfg, ops)   # Eq. 8-9 or 22
    return Y, State(I, M, Y), Cache(state.I, state.V, state.Y, V, Y, dYdV)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: StepConfig) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step. ``dy_t``: the gradient reaching Y[t] from above; ``dstate``:
    State(dI, dM, dY) reaching I[t], M[t], Y[t] from step t+1. Returns ``(da_t,
    State(dI[t-1], dM[t-1], dY[t-1]), dp_t)``, ``dp_t`` this step's (B, H) contributions to
    the learnable ``alpha``, ``threshold``, ``beta`` (those the cell has)."""
    _, beta, _ = coefficients(p, cfg)
    dV, dV_prev, dY_prev, dp = membrane_backward(dstate.V, dstate.Y + dy_t, cache_t, p, cfg)
    dI = dstate.I + dV                     # V[t] = ... + I[t]
    if cfg.synaptic:
        dI_prev = beta * dI                # Eq. 15: each step back multiplies by beta
        if "beta" in p:
            dp["beta"] = dI * cache_t.I_prev
    else:
        dI_prev = np.zeros_like(dI)
    if cfg.recurrent:
        dY_prev = dY_prev + dI @ p["U"].T  # a[t] += Y[t-1] U; dU is formed after the loop
    return dI, State(dI_prev, dV_prev, dY_prev), dp   # da[t] = dI[t]: I[t] = ... + a[t]


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads (what a sequence forward keeps):
    the membrane's (:func:`membrane_reads`) and ``I_prev`` for a learnable beta. The default
    neuron keeps ``dYdV`` alone: one value per unit and step. (The recurrent dU reads
    Y[t-1], a view of the output array, after the loop.)"""
    need = membrane_reads(p, cfg)
    if "beta" in p:
        need.add("I_prev")
    return need


# --------------------------------------------------------------------------------------
# What the step functions call: the coefficients, the spike, the reset, Eq. 22, BN
# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# What the step pair reads from its configuration: the checks of the options, the step
# config (the config plus the constants of one pass) and the coefficients
# --------------------------------------------------------------------------------------
def check_membrane_config(cfg: MembraneConfig) -> None:
    """The checks of :class:`MembraneConfig`'s fields (ValueError / TypeError naming the key)."""
    check_real("alpha", cfg.alpha)
    check_real("threshold", cfg.threshold, low=0, low_open=True)
    check_choice("reset", cfg.reset, ("subtract", "zero"))
    check_flag("detach_reset", cfg.detach_reset)
    check_choice("reset_timing", cfg.reset_timing, ("next_step", "same_step"))
    check_flag("spike_at_threshold", cfg.spike_at_threshold)
    check_choice("output", cfg.output, ("binary", "multibit"))
    if isinstance(cfg.n_bits, bool) or not isinstance(cfg.n_bits, (int, np.integer)) \
            or not 1 <= cfg.n_bits <= 24:
        raise ValueError(f"n_bits must be an integer in [1, 24], got {cfg.n_bits!r}")
    k = cfg.threshold_levels
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) \
            or not 0 <= k < 2 ** cfg.n_bits:
        raise ValueError(f"threshold_levels must be an integer in [0, 2^n_bits - 1] = "
                         f"[0, {2 ** cfg.n_bits - 1}], got {k!r}")
    check_real("ema_momentum", cfg.ema_momentum, low=0, high=1, low_open=True)
    check_flag("signed", cfg.signed)
    check_choice("range_estimator", cfg.range_estimator, ("max_abs", "authors"))
    check_real("scale_margin", cfg.scale_margin, low=0, high=1, low_open=True)
    for name, default in (("signed", False), ("range_estimator", "max_abs"),
                          ("scale_margin", 1.0)):
        if getattr(cfg, name) != default and cfg.output != "multibit":
            raise ValueError(f"{name}={getattr(cfg, name)!r} only applies to output='multibit'")
    check_choice("norm", cfg.norm, ("none", "batch"))
    check_real("bn_momentum", cfg.bn_momentum, low=0, high=1, low_open=True)
    check_real("bn_eps", cfg.bn_eps, low=0, low_open=True)
    check_flag("bn_track_running_stats", cfg.bn_track_running_stats)
    check_real("init_spread", cfg.init_spread, low=0)
    if not isinstance(cfg.surrogate_params, dict):
        raise TypeError("surrogate_params must be a dict, got "
                        f"{type(cfg.surrogate_params).__name__}")
    surrogates.get(cfg.surrogate, **cfg.surrogate_params)  # ValueError naming a bad name/param
    if cfg.output == "multibit" and cfg.reset == "zero":
        raise ValueError("reset='zero' is refused with output='multibit': the multi-bit neuron "
                         "subtracts the transmitted value (Eq. 22 and the authors' code)")


def check_lif_config(cfg: Config) -> None:
    """The checks of the fields :class:`Config` adds to :class:`MembraneConfig`."""
    check_flag("synaptic", cfg.synaptic)
    check_real("beta", cfg.beta)
    check_flag("recurrent", cfg.recurrent)
    for name in ("learn_alpha", "learn_threshold", "learn_beta"):
        check_flag(name, getattr(cfg, name))
    if cfg.output == "multibit" and cfg.learn_threshold:
        raise ValueError("learn_threshold is refused with output='multibit': gamma is "
                         "tied to the range b (gamma = threshold_levels / s)")
    if cfg.learn_beta and not cfg.synaptic:
        raise ValueError("learn_beta=True needs synaptic=True (there is no synaptic decay)")


@dataclass(frozen=True)
class PassConstants:
    """What a step needs beyond the cell's config: constants of one forward pass.

    Mixed into each module's ``StepConfig`` (``class StepConfig(PassConstants, Config)``).
    ``b`` is the multi-bit range as it was when the pass started (a ``b`` updated after the
    forward must not leak into its backward, so the cache keeps this object);
    ``surrogate_fn`` is ``config.surrogate`` built once as a :class:`surrogates.Surrogate`
    (wrapped in :class:`AtThreshold` with ``spike_at_threshold``); ``observe_range`` is None,
    or — a training pass with ``range_estimator="authors"`` — the cell's function
    ``V[t] -> b`` that updates the running min/max with this step's potentials and returns
    the range this step is quantized with (the backward needs no b: it reads the cached
    clip mask).
    """

    b: float = 1.0
    surrogate_fn: Optional[surrogates.Surrogate] = None  # set from ``surrogate``
    observe_range: Optional[Callable] = None

    def __post_init__(self):
        super().__post_init__()  # the Config's checks
        sg = surrogates.get(self.surrogate, **self.surrogate_params)
        if self.spike_at_threshold:
            sg = AtThreshold(sg)
        object.__setattr__(self, "surrogate_fn", sg)  # frozen: set once, here


@dataclass(frozen=True)
class StepConfig(PassConstants, Config):
    """The ``cfg`` of lif's step functions: the cell's :class:`Config` plus this pass's range
    ``b``, surrogate object and range observer. Built by ``cell.step_config()``."""


def coefficients(p: dict[str, np.ndarray], cfg: MembraneConfig,
                 ) -> tuple[np.ndarray | float, Optional[np.ndarray | float], np.ndarray | float]:
    """``(alpha, beta, gamma)`` of a step: the learnable parameter when the cell has one (an
    (H,) array), else the config's number. gamma of a multi-bit output is ``k / s = k b /
    (2^N r)`` (``cfg`` a step config, b the pass's range); beta is None for a cell without
    synaptic decay (gated_lif)."""
    alpha = p.get("alpha", cfg.alpha)
    beta = p.get("beta", getattr(cfg, "beta", None))
    if cfg.output == "binary":
        gamma = p.get("threshold", cfg.threshold)
    else:
        gamma = int(cfg.threshold_levels) * cfg.b / (2 ** int(cfg.n_bits) * cfg.scale_margin)
    return alpha, beta, gamma


def fire(V: np.ndarray, gamma: np.ndarray | float, cfg: MembraneConfig,
         ops: Ops = EXACT) -> tuple[np.ndarray, np.ndarray]:
    """``(Y[t], dY/dV)`` of the potentials ``V``: the spike H(V - gamma) (Eq. 9) and its
    surrogate derivative, or the multi-bit value of Eq. 22 and its clip mask."""
    if cfg.output == "binary":
        u = V - gamma
        return ops.heaviside(u, cfg.surrogate_fn), cfg.surrogate_fn.grad(u)    # Eq. 9
    # "authors" while training: b from this step's own V, but a constant for the backward
    # (as in their code); ops.detach lets a twin replay it as one
    b = cfg.b if cfg.observe_range is None else ops.detach(cfg.observe_range(V))
    Yq, q = quantize(V, b, cfg.n_bits, cfg.threshold_levels, cfg.signed,
                     cfg.spike_at_threshold, cfg.scale_margin)                   # Eq. 22
    clipped = np.abs(V) > b
    # forward: the quantized value; backward: as if Y were clip(V, -b, b). The level and
    # the clip mask are the discrete state whose change a twin reports as a flip.
    Y = ops.straight_through(Yq, lambda: np.clip(V, -b, b), discrete=np.stack([q, clipped]))
    return Y, ~clipped


def reset(V: np.ndarray, Y: np.ndarray, gamma: np.ndarray | float, cfg: MembraneConfig,
          ops: Ops = EXACT) -> np.ndarray:
    """``R(V, Y)`` of the module docstring (reset_timing="same_step"): V - gamma Y, V - Y
    (multi-bit) or V (1 - Y); Y a constant in it with ``detach_reset``."""
    Y_r = ops.detach(Y) if cfg.detach_reset else Y
    if cfg.reset == "zero":
        return V * (1 - Y_r)
    return V - (gamma * Y_r if cfg.output == "binary" else Y_r)


def reset_coefficients(cache: Any, alpha: np.ndarray | float, gamma: np.ndarray | float,
                       cfg: MembraneConfig) -> tuple[Optional[tuple], Optional[tuple]]:
    """``(keep, rho)`` of this option: ``dR/dv = keep`` and ``dR/dY = -rho`` for the reset
    ``R(v, Y)`` (the module docstring's table), each as a tuple of factors (``()`` is 1)
    or, for a cut path, None (0). For "next_step" v = alpha M[t-1] and Y = Y[t-1]; for
    "same_step" v = V[t] and Y = Y[t]. Factors, not their product: a factor that is absent
    costs no multiplication, and the rounding is that of multiplying them in one at a time."""
    same = cfg.reset_timing == "same_step"
    if cfg.reset == "zero":                 # R = v (1 - Y)
        keep = (1 - (cache.Y if same else cache.Y_prev),)
        rho = None if cfg.detach_reset else ((cache.V,) if same else (alpha, cache.V_prev))
    else:                                   # R = v - rho Y
        keep = ()
        rho = None if cfg.detach_reset else ((gamma,) if cfg.output == "binary" else ())
    return keep, rho


def times(g: np.ndarray, factors: Optional[Sequence[np.ndarray | float]]) -> np.ndarray:
    """``g`` times each of ``factors`` in turn; ``factors`` None: the path is cut (zeros)."""
    if factors is None:
        return np.zeros_like(g)
    for f in factors:
        g = g * f
    return g


def quantize(V: np.ndarray, b: float, n_bits: int, k: float, signed: bool = False,
             at_threshold: bool = False, margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 22: the multi-bit output of potentials ``V`` with range ``b``, ``n_bits`` = N bits,
    threshold ``k`` levels and ``margin`` r (s = 2^N r / b, gamma = k / s). Returns ``(Y,
    q)``, both in V's dtype: ``q = min(floor(s min(V, b)), 2^N - 1)`` where V > gamma (>=
    with ``at_threshold``), else 0 (mirrored for negative V when ``signed``), and ``Y = q /
    s`` (computed as q times the level width 1/s). The clip at b is the authors' clamp; with
    r = 1 the cap 2^N - 1 alone gives the same levels."""
    b, levels = float(b), 2 ** int(n_bits)
    step = b / (levels * margin)
    gamma = int(k) * b / (levels * margin)
    mag = np.abs(V) if signed else V
    q = np.minimum(np.floor(np.minimum(mag, b) / step), levels - 1)
    emits = mag >= gamma if at_threshold else mag > gamma
    q = np.where(emits, q, 0).astype(V.dtype, copy=False)
    if signed:
        q = np.sign(V) * q
    return q * V.dtype.type(step), q


def batch_norm(Z: np.ndarray, scale: np.ndarray, shift: np.ndarray, mean: np.ndarray, var: np.ndarray,
               eps: float) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batch norm of the rows of ``Z`` (n, H) with the given per-feature ``mean``/``var``:
    ``A = shift + scale * (Z - mean) / sqrt(var + eps)``. Returns ``(A, (Zh, inv, scale))``,
    ``Zh`` the normalized rows and ``inv = 1/sqrt(var + eps)``."""
    inv = 1 / np.sqrt(var + eps)
    Zh = (Z - mean) * inv
    return scale * Zh + shift, (Zh, inv, scale)


def batch_norm_backward(dA: np.ndarray, bn_cache: tuple[np.ndarray, np.ndarray, np.ndarray],
                        batch_stats: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`batch_norm` for ``dA`` (n, H): ``(dZ, dscale, dshift)``. With
    ``batch_stats`` the mean and variance are those of Z's rows (training), and every row's
    gradient depends on all rows (the classic formula, module docstring); otherwise they
    are constants (running statistics)."""
    Zh, inv, scale = bn_cache
    dscale = (dA * Zh).sum(0)
    dshift = dA.sum(0)
    dZh = dA * scale
    if batch_stats:
        n = dA.shape[0]
        dZ = inv / n * (n * dZh - dZh.sum(0) - Zh * (dZh * Zh).sum(0))
    else:
        dZ = dZh * inv
    return dZ, dscale, dshift


class AtThreshold(surrogates.Surrogate):
    """A surrogate whose spike is 1 where u >= 0 (``spike_at_threshold=True``, SpikingJelly's
    ``heaviside``): ``spike`` changed, ``grad`` and ``primitive`` those of ``base``. A spike
    goes through ``ops.heaviside(u, surrogate)`` like any other, so the twins (which call
    ``surrogate.spike`` and ``surrogate.primitive``) prove it unchanged."""

    def __init__(self, base: surrogates.Surrogate) -> None:
        self.base = base
        self.name = f"{base.name} (spike at u >= 0)"
        self._params = {"base": base}

    def spike(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        return (u >= 0).astype(u.dtype if u.dtype.kind == "f" else np.float64)

    def grad(self, u: np.ndarray) -> np.ndarray:
        return self.base.grad(u)

    def primitive(self, u: np.ndarray) -> np.ndarray:
        return self.base.primitive(u)


# --------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------
class MembraneCell(Cell):
    """What a lif and a gated_lif layer share beyond the step functions: the time loop, the
    multi-bit range ``b`` (buffers ``b``, ``b_ema_biased``, ``b_updates``; with
    ``range_estimator="authors"`` also ``range_min_biased``, ``range_max_biased``,
    ``range_updates``), batch norm's running statistics (``bn_mean*``, ``bn_var*``), the
    step config, a valid random initial state and the sequence forward. Subclasses set
    ``StepConfig``, ``NORMS`` (the suffixes of their batch norms) and define ``inputs``,
    ``_project`` and ``_reads_previous_output(cfg)`` (whether the backward needs every
    ``Y[t-1]``: the recurrent weights' operand)."""

    StepConfig = None
    NORMS = ("",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        self.buffers.update({"b": 1.0, "b_ema_biased": 0.0, "b_updates": 0})
        if c.output == "multibit" and c.range_estimator == "authors":
            self.buffers.update({"range_min_biased": 0.0, "range_max_biased": 0.0,
                                 "range_updates": 0})
        if c.norm == "batch" and c.bn_track_running_stats:
            for s in self.NORMS:
                self.buffers[f"bn_mean{s}"] = np.zeros(self.n_hidden, self.dtype)
                self.buffers[f"bn_var{s}"] = np.ones(self.n_hidden, self.dtype)

    @property
    def b(self) -> float:
        """The membrane-potential range b of the multi-bit output (a float)."""
        return float(self.buffers["b"])

    @b.setter
    def b(self, value: float) -> None:
        check_real("b", value, low=0, low_open=True)
        self.buffers["b"] = float(value)

    def step_config(self, observe_range: bool = False) -> PassConstants:
        """The step functions' ``cfg``: the config plus this pass's ``b`` and surrogate;
        with ``observe_range`` (a training pass of the "authors" range estimator) also the
        per-step range update. ``trace`` calls it without: it never updates statistics."""
        c = self.config
        kw = {f.name: getattr(c, f.name) for f in fields(c)}
        if observe_range and c.output == "multibit" and c.range_estimator == "authors":
            kw["observe_range"] = self._observe_range
        return self.StepConfig(**kw, b=self.b)

    def sample_state(self, batch: int, rng: np.random.Generator, scale: float = 0.5) -> tuple:
        """A valid non-zero initial state: I and V ``scale`` times standard normal; Y spikes
        (40% ones) for binary outputs, the multi-bit levels of V (range ``b``) otherwise;
        with ``reset_timing="same_step"`` the state's membrane is V after the reset by Y."""
        shape = (batch, self.n_hidden)
        I = scale * rng.standard_normal(shape).astype(self.dtype)
        V = scale * rng.standard_normal(shape).astype(self.dtype)
        c = self.step_config()
        if c.output == "binary":
            Y = (rng.random(shape) < 0.4).astype(self.dtype)
        else:
            Y = quantize(V, c.b, c.n_bits, c.threshold_levels, c.signed, c.spike_at_threshold,
                         c.scale_margin)[0]
        if c.reset_timing == "same_step":
            V = reset(V, Y, coefficients(self.params, c)[2], c)
        return self.State(I, V, Y)

    def _forward(self, x, state, ops):
        cfg = self.step_config(observe_range=self.training)
        A, bn = self._project(x, update=True)
        Ys, final, steps = self._loop(A, state, cfg, ops)
        cache = {"x": x, "steps": steps, "cfg": cfg, "final_state": final}
        if bn is not None:
            cache["bn"] = bn
        if self._reads_previous_output(cfg):
            cache["Yprev"] = Ys[:-1]  # Y[t-1] for every t: the operand of dU (a view, no copy)
        return Ys[1:], cache

    def _loop(self, A, state, cfg, ops):
        """Run the module's ``step_forward`` over the input projections ``A`` (an array
        (T, B, H) or a tuple of them). Returns ``(Ys, final_state, steps)``: ``Ys`` (T+1, B,
        H) with ``Ys[1:]`` the output, ``steps`` the slimmed caches. With the "max_abs"
        estimator, updates ``b`` afterwards while training a multi-bit layer (this pass
        used the old one); the "authors" estimator updates it inside the steps."""
        step_forward, _, reads = self.step_functions()
        keep = reads(self.params, cfg)
        T = len(A[0]) if isinstance(A, tuple) else len(A)
        # Ys[0] = Y[-1] (the initial output), Ys[1:] the output. Step t reads Y[t-1] as the
        # view Ys[t], so a cached Y[t-1] (and the operand of a recurrent dU, Ys[:-1]) is
        # the output array itself, not a copy.
        Ys = np.empty((T + 1,) + state.Y.shape, self.dtype)
        Ys[0] = state.Y
        state = state._replace(Y=Ys[0])
        track = self.training and cfg.output == "multibit" and cfg.range_estimator == "max_abs"
        steps, vmax = [], 0.0
        for t in range(T):
            a_t = tuple(a[t] for a in A) if isinstance(A, tuple) else A[t]
            Y, state, cache_t = step_forward(a_t, state, self.params, cfg, ops)
            Ys[t + 1] = Y
            steps.append(slim(cache_t, keep))
            if track:  # the potentials V[t] as quantized (before a same-step reset)
                vmax = max(vmax, float(np.max(np.abs(cache_t.V))))
            state = state._replace(Y=Ys[t + 1])
        if track:
            self._update_range(vmax)
        # The final state owns its arrays: the step's own Y (a view would keep the whole
        # output alive), I copied when it is a view of A (lif with synaptic=False).
        I = state.I if state.I.base is None else state.I.copy()
        return Ys, self.State(I, state.V, Y), steps

    def _update_range(self, max_abs_v):
        """"max_abs": EMA of max|V| with bias correction (Jacob et al. 2018)."""
        m = self.config.ema_momentum
        self.buffers["b_updates"] += 1
        self.buffers["b_ema_biased"] = (1 - m) * self.buffers["b_ema_biased"] + m * float(max_abs_v)
        b = self.buffers["b_ema_biased"] / (1 - (1 - m) ** self.buffers["b_updates"])
        if b > 0:  # an all-zero batch leaves the previous range in place
            self.buffers["b"] = b

    def _observe_range(self, V):
        """"authors" (their FakeSpikeQuantization.forward while training): one update per
        step of the bias-corrected EMAs of min(V) and max(V); returns the new b =
        max(|min EMA|, |max EMA|), with which this step is quantized. (A range of exactly
        0 — both EMAs 0 — keeps the previous b; theirs would output zeros.)"""
        m, buf = self.config.ema_momentum, self.buffers
        buf["range_updates"] += 1
        corr = 1 - (1 - m) ** buf["range_updates"]
        buf["range_min_biased"] = buf["range_min_biased"] * (1 - m) + m * float(V.min())
        buf["range_max_biased"] = buf["range_max_biased"] * (1 - m) + m * float(V.max())
        b = max(abs(buf["range_min_biased"] / corr), abs(buf["range_max_biased"] / corr))
        if b > 0:
            buf["b"] = b
        return self.b

    def _batch_norm(self, s, Z, update):
        """Batch norm ``s`` ("" for lif, "_f"/"_c" for gated_lif) of the weighted inputs
        ``Z`` (T*B, H). Training (or ``bn_track_running_stats=False``): the statistics of
        Z's rows; with ``update`` (a training forward, never ``inputs``/``trace``) the
        running statistics are updated. Eval: the running statistics. Returns ``(A,
        (bn_cache, batch_stats))``."""
        c, p = self.config, self.params
        batch_stats = self.training or not c.bn_track_running_stats
        if batch_stats:
            n = Z.shape[0]
            if n < 2:
                raise ValueError("batch norm over time and batch needs T*B >= 2 rows "
                                 f"when it uses batch statistics, got T*B = {n}")
            mean, var = Z.mean(0), Z.var(0)
            if update and self.training and c.bn_track_running_stats:
                m, buf = c.bn_momentum, self.buffers
                buf[f"bn_mean{s}"] = (1 - m) * buf[f"bn_mean{s}"] + m * mean
                buf[f"bn_var{s}"] = (1 - m) * buf[f"bn_var{s}"] + m * var * n / (n - 1)  # unbiased
        else:
            mean, var = self.buffers[f"bn_mean{s}"], self.buffers[f"bn_var{s}"]
        A, bn_cache = batch_norm(Z, p[f"bn_scale{s}"], p[f"bn_shift{s}"], mean, var, c.bn_eps)
        return A, (bn_cache, batch_stats)

    def _per_neuron(self, rng, p, names):
        """``init_spread``: each of ``names`` (already in ``p``) plus spread * U(-1, 1)."""
        spread = self.config.init_spread
        if spread > 0:
            for k in names:
                if k in p:
                    p[k] = p[k] + spread * rng.uniform(-1.0, 1.0, self.n_hidden)
        return p


class LIF(MembraneCell):
    """LIF layer (Ponghiran & Roy Eq. 7-9, 22). See the module docstring for the options."""

    name = "lif"
    Config = Config
    State = State
    StepConfig = StepConfig
    input_weights = ("W",)  # the weight of each input projection (analysis.bptt_steps)

    def _init_params(self, rng):
        H, c = self.n_hidden, self.config
        p = {"W": glorot_uniform(rng, self.n_in, H)}
        if c.recurrent:
            p["U"] = orthogonal(rng, H)
        if c.learn_alpha:
            p["alpha"] = np.full(H, c.alpha)
        if c.learn_threshold:
            p["threshold"] = np.full(H, c.threshold)
        if c.learn_beta:
            p["beta"] = np.full(H, c.beta)
        if c.norm == "batch":
            p["bn_scale"], p["bn_shift"] = np.ones(H), np.zeros(H)
        return self._per_neuron(rng, p, ("alpha", "threshold", "beta", "bn_scale", "bn_shift"))

    def inputs(self, x: np.ndarray) -> np.ndarray:
        return self._project(x, update=False)[0]

    def _project(self, x, update):
        """a[t] for all steps: x W (one matrix product), batch-normalized with
        ``norm="batch"``. Returns ``(A, bn)``, ``bn`` what the BN backward needs (or None)."""
        T, B, _ = x.shape
        x2, W = x.reshape(T * B, -1), self.params["W"]
        # all steps at once; in inference event-driven (only the non-zero inputs multiplied)
        # when the input is sparse enough (cells/events.py)
        Z = x2 @ W if self.training else events.project(x2, W)
        bn = None
        if self.config.norm == "batch":
            Z, bn = self._batch_norm("", Z, update)
        return Z.reshape(T, B, -1), bn

    def _reads_previous_output(self, cfg):
        return cfg.recurrent  # Y[t-1] U: dU needs every Y[t-1]

    def _backward(self, dy, cache):
        x, steps, cfg = cache["x"], cache["steps"], cache["cfg"]
        T, B, _ = x.shape
        p = self.params
        dA = np.empty_like(dy)
        z = np.zeros_like(dy[0])
        dstate = State(z, z, z)
        acc = {k: np.zeros_like(dy[0]) for k in ("alpha", "threshold", "beta") if k in p}
        for t in reversed(range(T)):
            dA[t], dstate, dp = step_backward(dy[t], dstate, steps[t], p, cfg)
            for k, v in dp.items():
                acc[k] += v
        dA2 = dA.reshape(T * B, -1)
        grads = {}
        if cfg.recurrent:
            grads["U"] = cache["Yprev"].reshape(T * B, -1).T @ dA2
        dZ = dA2
        if "bn" in cache:  # after the loop: BN couples all T*B rows (module docstring)
            dZ, grads["bn_scale"], grads["bn_shift"] = batch_norm_backward(dA2, *cache["bn"])
        grads["W"] = x.reshape(T * B, -1).T @ dZ   # all steps at once
        grads.update({k: v.sum(0) for k, v in acc.items()})
        dx = (dZ @ p["W"].T).reshape(x.shape)
        return dx, {k: grads[k] for k in p}   # in the params' order


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    lim = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out))


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix: a uniformly distributed orthogonal matrix


#: Named configurations (config keywords), see the module docstring.
PRESETS = {
    "ponghiran": dict(synaptic=True, alpha=0.9, beta=0.9, reset="subtract", output="multibit",
                      n_bits=6, threshold_levels=4, surrogate="triangle"),
    # their traditional model, cfg *_nb6th3_*: num_bits 6 -> n_bits 5 + sign, threshold 3 -> k 4
    "ponghiran_authors_code": dict(synaptic=True, alpha=1.0, beta=1.0, learn_beta=True,
                                   reset="subtract", detach_reset=False, reset_timing="same_step",
                                   output="multibit", signed=True, n_bits=5, threshold_levels=4,
                                   spike_at_threshold=True, scale_margin=1 - 1e-4,
                                   range_estimator="authors", ema_momentum=0.1, norm="batch",
                                   bn_momentum=0.1, bn_eps=1e-5),
    "snntorch_leaky": dict(synaptic=False, alpha=0.9, learn_alpha=True, threshold=1.0,
                           learn_threshold=True, reset="zero", detach_reset=True,
                           surrogate="atan", surrogate_params={"a": 2.0}, output="binary"),
}
