"""Leaky integrate-and-fire (LIF) layer with binary or multi-bit outputs.

Ponghiran & Roy (2022), "Spiking neural networks with improved inherent recurrence
dynamics for sequential learning": Eq. 7-9 (the "traditional SNN" of their Table 1), Eq. 15
(why its gradient vanishes) and Eq. 22 (multi-bit outputs); plus the snnTorch-style neuron
(no synaptic current, reset to zero, detached reset) that De Geeter et al. (2023) use as
their LIF baseline. The V/Y part below is shared with the gated currents of Eq. 16-21
(:mod:`.gated_lif` imports it).

Notation (time-major: x is (T, B, n_in), every state (B, H); t is the step)

    x[t]      the layer's input at step t (the paper's X[n])
    W         input weights (n_in, H); a[t] = x[t] W, the step's input projection
    I[t]      synaptic current                         V[t]  membrane potential
    Y[t]      output: the spike S[t] in {0, 1} (binary) or a multi-bit value (Eq. 22)
    alpha     membrane decay (config ``alpha``; the parameter ``alpha`` (H,) when learnable)
    beta      synaptic decay (config ``beta``; the parameter ``beta`` (H,) when learnable)
    gamma     the threshold: config/parameter ``threshold`` for binary outputs, k b / 2^N
              for multi-bit outputs (one symbol in the math, one key in the code)
    H(u)      the Heaviside step, 1 where u > 0 (in shapes, H is the number of units)
    sigma'    the surrogate derivative used for H in backward (config ``surrogate``,
              default the paper's piecewise-linear max(0, 1 - |u|))
    b         the multi-bit range: an EMA of max|V| (the attribute ``cell.b``)
    N         the number of output bits (config ``n_bits``)
    q         the integer output level of Eq. 22, Y = q b / 2^N
    k         the threshold in levels (config ``threshold_levels``): gamma = k b / 2^N
    keep, rho the reset's coefficients in backward (below)
    dX        the total gradient dL/dX reaching X

Forward, one step

    I[t] = beta * I[t-1] + a[t]                       (Eq. 7, synaptic=True)
    I[t] = a[t]                                       (synaptic=False)
    V[t] = alpha * V[t-1] + I[t] - gamma * Y[t-1]     (Eq. 8, reset="subtract")
    V[t] = alpha * V[t-1] * (1 - Y[t-1]) + I[t]       (reset="zero", snnTorch)
    Y[t] = H(V[t] - gamma)                            (Eq. 9, output="binary")

Multi-bit output (Eq. 22 with the scaling of the authors' code):

    q[t] = min(floor(V[t] 2^N / b), 2^N - 1)  if V[t] > gamma  else 0
    Y[t] = q[t] b / 2^N,        gamma = k b / 2^N   (the paper's b/16 at N = 6, k = 4)
    V[t] = alpha * V[t-1] + I[t] - Y[t-1]        (the reset subtracts the *transmitted* value)

With ``signed=True`` (the authors' code) the mapping is mirrored for negative potentials:
Y = sign(V) min(floor(|V| 2^N/b), 2^N-1) b/2^N for |V| > gamma (an extra sign bit; the
authors' code spends one of its N bits on it). ``b`` is an exponential moving average of the
batch's max|V| (momentum ``ema_momentum``, bias-corrected like Adam's moments, as in Jacob et
al. 2018), updated *after* each forward pass while ``cell.training`` is True, frozen
otherwise; it starts at 1.0, and the bias correction makes the first training batch set it
to that batch's max|V| exactly.

Backward (what ``backward`` implements and the gradient proofs check). Every variant of
Eq. 8 has the same two derivatives, with two coefficients chosen by the option:

    dV[t]/dV[t-1] = alpha * keep,        dV[t]/dY[t-1] = -rho

    option                       keep              rho
    subtract, binary             1                 gamma
    subtract, multi-bit          1                 1 (the transmitted value)
    zero                         1 - Y[t-1]        alpha * V[t-1]
    detach_reset=True            as above          0 (Y[t-1] a constant in the reset)

and, with dY/dV = sigma'(V[t] - gamma) for spikes or the clipped straight-through
1[|V[t]| <= b] for multi-bit outputs (the derivative of clip(V, -b, b); b and gamma
constants; also below gamma):

    dV[t]   = dV[t] (from step t+1) + dY[t] * dY/dV
    dV[t-1] = dV[t] * alpha * keep                  dY[t-1] = -dV[t] * rho
    dI[t]   = dI[t] (from step t+1) + dV[t];        da[t] = dI[t];   dI[t-1] = beta * dI[t]
    dalpha  = dV[t] * V[t-1] * keep                 dbeta  = dI[t] * I[t-1]
    dgamma  = -dY[t] * dY/dV - dV[t] * Y[t-1]  (the second term for the subtractive reset,
              detached or not: detaching stops the gradient through Y[t-1], not through gamma)

Along I the gradient is multiplied by beta once per step back: d I[N] / d W[n] =
beta^(N-n) x[n] (Eq. 15), the vanishing gradient the gated currents of Eq. 16-21 remove.
Learnable alpha, threshold and beta enter raw (no clamp); a constraint would be an
optimizer projection.

Config (a frozen dataclass): the fields of :class:`MembraneConfig` (the V/Y options,
shared with gated_lif), ``synaptic``, ``beta``, ``learn_alpha``, ``learn_threshold`` and
``learn_beta`` (learnable synaptic decay, for the authors'-code preset); ``signed`` is the
signed multi-bit range. Parameters: ``W (n_in, H)`` (Glorot uniform, the paper's
initialization), plus ``alpha (H)``, ``threshold (H)``, ``beta (H)`` when learnable.

Presets (``cells.make("lif", n_in, H, **PRESETS[name])``): ``"ponghiran"`` (the paper's
traditional SNN of Table 1: synaptic current, alpha = beta = 0.9, reset by subtraction,
6-bit outputs with threshold b/16, piecewise-linear surrogate), ``"ponghiran_authors_code"``
(what the authors' published code runs: no membrane leak, alpha = 1, a learnable synaptic
decay starting at 1, signed range) and ``"snntorch_leaky"`` (the snnTorch ``Leaky`` neuron
De Geeter et al. 2023, Appendix A, train as their baseline: no synaptic current, reset to
zero, detached, learnable decay 0.9 and threshold 1.0, arctan surrogate with a = 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import NamedTuple, Optional

import numpy as np

from .. import surrogates
from ..ops import EXACT
from .base import Cell, check_choice, check_flag, check_real, slim

__all__ = ["State", "MembraneConfig", "Config", "PassConstants", "StepConfig", "Cache",
           "membrane_forward", "membrane_backward", "membrane_reads", "step_forward",
           "step_backward", "reads", "coefficients", "reset_coefficients", "quantize",
           "MembraneCell", "LIF", "glorot_uniform", "PRESETS"]


class State(NamedTuple):
    I: np.ndarray  # (B, H) synaptic current I[t]
    V: np.ndarray  # (B, H) membrane potential V[t]
    Y: np.ndarray  # (B, H) output Y[t] (spike or multi-bit value)


@dataclass(frozen=True)
class MembraneConfig:
    """The V/Y options, shared by lif and gated_lif (one definition, one validation).

    ``threshold`` is gamma for binary outputs; with ``output="multibit"`` gamma is
    ``threshold_levels * b / 2^n_bits`` instead.
    """

    alpha: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = False
    surrogate: str = "triangle"
    surrogate_params: dict = field(default_factory=dict)
    output: str = "binary"
    n_bits: int = 6
    threshold_levels: int = 4
    ema_momentum: float = 0.1
    signed: bool = False  # extra field (the authors'-code preset)

    def __post_init__(self):
        check_real("alpha", self.alpha)
        check_real("threshold", self.threshold, low=0, low_open=True)
        check_choice("reset", self.reset, ("subtract", "zero"))
        check_flag("detach_reset", self.detach_reset)
        check_choice("output", self.output, ("binary", "multibit"))
        if isinstance(self.n_bits, bool) or not isinstance(self.n_bits, (int, np.integer)) \
                or not 1 <= self.n_bits <= 24:
            raise ValueError(f"n_bits must be an integer in [1, 24], got {self.n_bits!r}")
        k = self.threshold_levels
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) \
                or not 0 <= k < 2 ** self.n_bits:
            raise ValueError(f"threshold_levels must be an integer in [0, 2^n_bits - 1] = "
                             f"[0, {2 ** self.n_bits - 1}], got {k!r}")
        check_real("ema_momentum", self.ema_momentum, low=0, high=1, low_open=True)
        check_flag("signed", self.signed)
        if self.signed and self.output != "multibit":
            raise ValueError("signed=True only applies to output='multibit'")
        if not isinstance(self.surrogate_params, dict):
            raise TypeError("surrogate_params must be a dict, got "
                            f"{type(self.surrogate_params).__name__}")
        surrogates.get(self.surrogate, **self.surrogate_params)  # ValueError naming a bad name/param
        if self.output == "multibit" and self.reset == "zero":
            raise ValueError("reset='zero' is refused with output='multibit': the multi-bit neuron "
                             "subtracts the transmitted value (Eq. 22 and the authors' code)")


@dataclass(frozen=True)
class Config(MembraneConfig):
    """LIF options: the V/Y options of :class:`MembraneConfig` plus the synaptic current's."""

    synaptic: bool = True
    beta: float = 0.9
    learn_alpha: bool = False
    learn_threshold: bool = False
    learn_beta: bool = False  # extra field (the authors'-code preset)

    def __post_init__(self):
        super().__post_init__()
        check_flag("synaptic", self.synaptic)
        check_real("beta", self.beta)
        for name in ("learn_alpha", "learn_threshold", "learn_beta"):
            check_flag(name, getattr(self, name))
        if self.output == "multibit" and self.learn_threshold:
            raise ValueError("learn_threshold is refused with output='multibit': gamma is "
                             "tied to the range b (gamma = threshold_levels * b / 2^n_bits)")
        if self.learn_beta and not self.synaptic:
            raise ValueError("learn_beta=True needs synaptic=True (there is no synaptic decay)")


@dataclass(frozen=True)
class PassConstants:
    """What a step needs beyond the cell's config: two constants of one forward pass.

    Mixed into each module's ``StepConfig`` (``class StepConfig(PassConstants, Config)``).
    ``b`` is the multi-bit range as it was when the pass ran (a ``b`` updated after the
    forward must not leak into its backward, so the cache keeps this object);
    ``surrogate_fn`` is ``config.surrogate`` built once as a :class:`surrogates.Surrogate`.
    """

    b: float = 1.0
    surrogate_fn: Optional[surrogates.Surrogate] = None  # set from ``surrogate``

    def __post_init__(self):
        super().__post_init__()  # the Config's checks
        sg = surrogates.get(self.surrogate, **self.surrogate_params)
        object.__setattr__(self, "surrogate_fn", sg)  # frozen: set once, here


@dataclass(frozen=True)
class StepConfig(PassConstants, Config):
    """The ``cfg`` of lif's step functions: the cell's :class:`Config` plus this pass's range
    ``b`` and surrogate object. Built by ``cell.step_config()``."""


class Cache(NamedTuple):
    """One step's BPTT cache (the sequence forward keeps only the fields :func:`reads` names)."""

    I_prev: np.ndarray  # I[t-1] (a learnable beta: dI[t]/dbeta = I[t-1])
    V_prev: np.ndarray  # V[t-1] (a learnable alpha; the zero reset's rho = alpha V[t-1])
    Y_prev: np.ndarray  # Y[t-1] (the zero reset's keep; a learnable threshold's -Y[t-1])
    dYdV: np.ndarray    # dY[t]/dV[t]: sigma'(V[t] - gamma), or the clip mask |V[t]| <= b (bool)


# --------------------------------------------------------------------------------------
# The V/Y part of one step (Eq. 8-9 and 22), shared with gated_lif
# --------------------------------------------------------------------------------------
def membrane_forward(I, state, p, cfg, ops=EXACT):
    """V[t] and Y[t] from this step's current ``I`` = I[t] (B, H) and the previous ``state``.

    Returns ``(V, Y, dYdV)``. ``dYdV`` is what the backward multiplies by: the surrogate's
    values (binary) or the clip mask as a bool array (multi-bit: 1 byte per unit instead of
    4-8; a float times a bool keeps the float's dtype).
    """
    alpha, _, gamma = coefficients(p, cfg)
    # detach_reset: the reset reads Y[t-1] as a constant (the value is the same; ops.detach
    # lets a gradient checker's twin see the cut).
    Y_r = ops.detach(state.Y) if cfg.detach_reset else state.Y
    if cfg.reset == "zero":
        V = alpha * state.V * (1 - Y_r) + I                # a spike zeroes what leaks on
    else:
        reset = gamma * Y_r if cfg.output == "binary" else Y_r  # Eq. 22: subtract what was sent
        V = alpha * state.V + I - reset                    # Eq. 8
    if cfg.output == "binary":
        u = V - gamma
        Y = ops.heaviside(u, cfg.surrogate_fn)             # Eq. 9
        dYdV = cfg.surrogate_fn.grad(u)
    else:
        b = cfg.b
        Yq, q = quantize(V, b, cfg.n_bits, cfg.threshold_levels, cfg.signed)   # Eq. 22
        clipped = np.abs(V) > b
        # forward: the quantized value; backward: as if Y were clip(V, -b, b). The level
        # and the clip mask are the discrete state whose change a twin reports as a flip.
        Y = ops.straight_through(Yq, lambda: np.clip(V, -b, b), discrete=np.stack([q, clipped]))
        dYdV = ~clipped
    return V, Y, dYdV


def membrane_backward(dV, dY, cache, p, cfg):
    """Backward of :func:`membrane_forward`: the module docstring's derivation, one for
    every option (the option only picks the coefficients ``keep`` and ``rho``).

    ``dV`` (B, H): the gradient reaching V[t] from step t+1; ``dY``: the total gradient
    reaching Y[t]. ``cache``: any NamedTuple with fields ``V_prev``, ``Y_prev``, ``dYdV``
    (those :func:`membrane_reads` does not name may be None). Returns ``(dV, dV_prev,
    dY_prev, dp)``: the total dL/dV[t], the gradients reaching V[t-1] and Y[t-1], and ``dp``,
    this step's contributions (B, H) to a learnable ``alpha`` / ``threshold``.
    """
    alpha, _, gamma = coefficients(p, cfg)
    keep, rho = reset_coefficients(cache, alpha, gamma, cfg)
    dV_Y = dY * cache.dYdV                     # the path through Y[t]
    dV = dV + dV_Y                             # every path into V[t]
    dV_prev = times(dV * alpha, keep)          # dV[t]/dV[t-1] = alpha * keep
    dY_prev = times(-dV, rho)                  # dV[t]/dY[t-1] = -rho
    dp = {}
    if "alpha" in p:
        dp["alpha"] = times(dV * cache.V_prev, keep)           # dV[t]/dalpha = V[t-1] * keep
    if "threshold" in p:  # binary only: Y = H(V - gamma), so dY/dgamma = -dY/dV
        dp["threshold"] = -dV_Y - dV * cache.Y_prev if cfg.reset == "subtract" else -dV_Y
    return dV, dV_prev, dY_prev, dp


def membrane_reads(p, cfg):
    """The ``Cache`` fields :func:`membrane_backward` reads: ``dYdV`` always; ``V_prev`` for a
    learnable alpha and the (attached) zero reset's rho; ``Y_prev`` for the zero reset's keep
    and a learnable threshold's ``-Y[t-1]`` under the subtractive reset."""
    zero = cfg.reset == "zero"
    need = {"dYdV"}
    if "alpha" in p or (zero and not cfg.detach_reset):
        need.add("V_prev")
    if zero or ("threshold" in p and cfg.reset == "subtract"):
        need.add("Y_prev")
    return need


# --------------------------------------------------------------------------------------
# One LIF step: the synaptic current (Eq. 7) and the V/Y part above
# --------------------------------------------------------------------------------------
def step_forward(a_t, state, p, cfg, ops=EXACT):
    """One step. ``a_t`` (B, H) = x[t] W; ``state`` = State(I[t-1], V[t-1], Y[t-1]);
    ``cfg`` a :class:`StepConfig`. Returns ``(Y[t], State(I[t], V[t], Y[t]), Cache)``."""
    _, beta, _ = coefficients(p, cfg)
    I = beta * state.I + a_t if cfg.synaptic else a_t     # Eq. 7
    V, Y, dYdV = membrane_forward(I, state, p, cfg, ops)  # Eq. 8-9 or 22
    return Y, State(I, V, Y), Cache(state.I, state.V, state.Y, dYdV)


def step_backward(dy_t, dstate, cache_t, p, cfg):
    """Backward of one step. ``dy_t``: the gradient reaching Y[t] from above; ``dstate``:
    State(dI, dV, dY) reaching I[t], V[t], Y[t] from step t+1. Returns ``(da_t,
    State(dI[t-1], dV[t-1], dY[t-1]), dp_t)``, ``dp_t`` this step's (B, H) contributions to
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
    return dI, State(dI_prev, dV_prev, dY_prev), dp   # da[t] = dI[t]: I[t] = ... + a[t]


def reads(p, cfg):
    """The ``Cache`` fields :func:`step_backward` reads (what a sequence forward keeps):
    the membrane's (:func:`membrane_reads`) and ``I_prev`` for a learnable beta. The default
    neuron keeps ``dYdV`` alone: one value per unit and step."""
    need = membrane_reads(p, cfg)
    if "beta" in p:
        need.add("I_prev")
    return need


# --------------------------------------------------------------------------------------
# What the step functions call: the coefficients, the reset's coefficients, Eq. 22
# --------------------------------------------------------------------------------------
def coefficients(p, cfg):
    """``(alpha, beta, gamma)`` of a step: the learnable parameter when the cell has one (an
    (H,) array), else the config's number. gamma of a multi-bit output is ``k b / 2^N``
    (``cfg`` a step config); beta is None for a cell without synaptic decay (gated_lif)."""
    alpha = p.get("alpha", cfg.alpha)
    beta = p.get("beta", getattr(cfg, "beta", None))
    if cfg.output == "binary":
        gamma = p.get("threshold", cfg.threshold)
    else:
        gamma = int(cfg.threshold_levels) * cfg.b / 2 ** int(cfg.n_bits)
    return alpha, beta, gamma


def reset_coefficients(cache, alpha, gamma, cfg):
    """``(keep, rho)`` of this option: ``dV[t]/dV[t-1] = alpha * keep`` and ``dV[t]/dY[t-1]
    = -rho`` (the module docstring's table), each as a tuple of factors (``()`` is 1) or, for
    a cut path, None (0). Factors, not their product: a factor that is absent costs no
    multiplication, and the rounding is that of multiplying them in one at a time."""
    if cfg.reset == "zero":                 # V[t] = alpha V[t-1] (1 - Y[t-1]) + I[t]
        keep = (1 - cache.Y_prev,)
        rho = None if cfg.detach_reset else (alpha, cache.V_prev)
    else:                                   # V[t] = alpha V[t-1] + I[t] - rho Y[t-1]
        keep = ()
        rho = None if cfg.detach_reset else ((gamma,) if cfg.output == "binary" else ())
    return keep, rho


def times(g, factors):
    """``g`` times each of ``factors`` in turn; ``factors`` None: the path is cut (zeros)."""
    if factors is None:
        return np.zeros_like(g)
    for f in factors:
        g = g * f
    return g


def quantize(V, b, n_bits, k, signed=False):
    """Eq. 22: the multi-bit output of potentials ``V`` with range ``b``, ``n_bits`` = N bits
    and threshold ``k`` levels (gamma = k b / 2^N). Returns ``(Y, q)``, both in V's dtype:
    ``q = min(floor(V 2^N / b), 2^N - 1)`` where V > gamma, else 0 (mirrored for negative V
    when ``signed``), and ``Y = q b / 2^N``."""
    b, levels = float(b), 2 ** int(n_bits)
    step = b / levels
    gamma = int(k) * b / levels
    mag = np.abs(V) if signed else V
    q = np.minimum(np.floor(mag / step), levels - 1)
    q = np.where(mag > gamma, q, 0).astype(V.dtype, copy=False)
    if signed:
        q = np.sign(V) * q
    return q * V.dtype.type(step), q


# --------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------
class MembraneCell(Cell):
    """What a lif and a gated_lif layer share beyond the step functions: the time loop, the
    multi-bit range ``b`` (buffers ``b``, ``b_ema_biased``, ``b_updates``), the step config
    and a valid random initial state. Subclasses set ``StepConfig`` and define ``inputs``."""

    StepConfig = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers.update({"b": 1.0, "b_ema_biased": 0.0, "b_updates": 0})

    @property
    def b(self):
        """The membrane-potential range b of the multi-bit output (a float)."""
        return float(self.buffers["b"])

    @b.setter
    def b(self, value):
        check_real("b", value, low=0, low_open=True)
        self.buffers["b"] = float(value)

    def step_config(self):
        """The step functions' ``cfg``: the config plus this pass's ``b`` and surrogate."""
        c = self.config
        return self.StepConfig(**{f.name: getattr(c, f.name) for f in fields(c)}, b=self.b)

    def sample_state(self, batch, rng, scale=0.5):
        """A valid non-zero initial state: I and V ``scale`` times standard normal; Y spikes
        (40% ones) for binary outputs, the multi-bit levels of V (range ``b``) otherwise."""
        shape = (batch, self.n_hidden)
        I = scale * rng.standard_normal(shape).astype(self.dtype)
        V = scale * rng.standard_normal(shape).astype(self.dtype)
        c = self.step_config()
        if c.output == "binary":
            Y = (rng.random(shape) < 0.4).astype(self.dtype)
        else:
            Y = quantize(V, c.b, c.n_bits, c.threshold_levels, c.signed)[0]
        return self.State(I, V, Y)

    def _loop(self, A, state, cfg, ops):
        """Run the module's ``step_forward`` over the input projections ``A`` (an array
        (T, B, H) or a tuple of them). Returns ``(Ys, final_state, steps)``: ``Ys`` (T+1, B,
        H) with ``Ys[1:]`` the output, ``steps`` the slimmed caches. Updates ``b`` afterwards
        while training a multi-bit layer (this pass used the old one)."""
        step_forward, _, reads = self.step_functions()
        keep = reads(self.params, cfg)
        T = len(A[0]) if isinstance(A, tuple) else len(A)
        # Ys[0] = Y[-1] (the initial output), Ys[1:] the output. Step t reads Y[t-1] as the
        # view Ys[t], so a cached Y[t-1] (and gated v2's operand of dU, Ys[:-1]) is the
        # output array itself, not a copy.
        Ys = np.empty((T + 1,) + state.Y.shape, self.dtype)
        Ys[0] = state.Y
        state = state._replace(Y=Ys[0])
        track = self.training and cfg.output == "multibit"
        steps, vmax = [], 0.0
        for t in range(T):
            a_t = tuple(a[t] for a in A) if isinstance(A, tuple) else A[t]
            Y, state, cache_t = step_forward(a_t, state, self.params, cfg, ops)
            Ys[t + 1] = Y
            steps.append(slim(cache_t, keep))
            if track:
                vmax = max(vmax, float(np.max(np.abs(state.V))))
            state = state._replace(Y=Ys[t + 1])
        if track:
            self._update_range(vmax)
        # The final state owns its arrays: the step's own Y (a view would keep the whole
        # output alive), I copied when it is a view of A (lif with synaptic=False).
        I = state.I if state.I.base is None else state.I.copy()
        return Ys, self.State(I, state.V, Y), steps

    def _update_range(self, max_abs_v):
        """EMA of max|V| with bias correction (Jacob et al. 2018; the authors' code)."""
        m = self.config.ema_momentum
        self.buffers["b_updates"] += 1
        self.buffers["b_ema_biased"] = (1 - m) * self.buffers["b_ema_biased"] + m * float(max_abs_v)
        b = self.buffers["b_ema_biased"] / (1 - (1 - m) ** self.buffers["b_updates"])
        if b > 0:  # an all-zero batch leaves the previous range in place
            self.buffers["b"] = b


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
        if c.learn_alpha:
            p["alpha"] = np.full(H, c.alpha)
        if c.learn_threshold:
            p["threshold"] = np.full(H, c.threshold)
        if c.learn_beta:
            p["beta"] = np.full(H, c.beta)
        return p

    def inputs(self, x):
        T, B, _ = x.shape
        return (x.reshape(T * B, -1) @ self.params["W"]).reshape(T, B, -1)  # all steps at once

    def _forward(self, x, state, ops):
        cfg = self.step_config()
        Ys, final, steps = self._loop(self.inputs(x), state, cfg, ops)
        return Ys[1:], {"x": x, "steps": steps, "cfg": cfg, "final_state": final}

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
        grads = {"W": x.reshape(T * B, -1).T @ dA2}   # all steps at once
        grads.update({k: v.sum(0) for k, v in acc.items()})
        dx = (dA2 @ p["W"].T).reshape(x.shape)
        return dx, grads


def glorot_uniform(rng, n_in, n_out):
    lim = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out))


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
