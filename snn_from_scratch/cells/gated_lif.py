"""LIF layer with gated synaptic currents: "SNNs with improved dynamics" v1 and v2.

Ponghiran & Roy (2022), Section 3. The synaptic current of Eq. 7, whose constant decay
beta makes the gradient along I vanish like beta^(N-n) (Eq. 15), is replaced by a
GRU-like selective update.

Notation (as in :mod:`.lif`; time-major, every state (B, H), n the step)

    X[n]        the layer's input;  W_f, W_c (n_in, H) input weights;  b_f, b_c (H) biases
    U_f, U_c    (H, H) recurrent weights of v2, applied to the previous output Y[n-1]
    a_f, a_c    the gates' pre-activations; the step's input projections are
                X[n] W_f + b_f and X[n] W_c + b_c (a_t = (a_f, a_c) before v2's Y[n-1] U)
    F[n]        forget gate in (0, 1)           C[n]  candidate current >= 0
    I, V, Y     synaptic current, membrane potential, output (spike or multi-bit value)
    alpha, gamma (= config ``threshold``), b, N (= ``n_bits``), k (= ``threshold_levels``),
    sigma', keep, rho:  the V/Y symbols of :mod:`.lif`
    m[n]        the ReLU's 0/1 mask 1[a_c > 0];  s(z) = 1 / (1 + exp(-z)) the sigmoid
    BN_f, BN_c  with ``norm="batch"``: batch norm (as in :mod:`.lif`, over all T*B rows) of
                each weighted input, params ``bn_scale_f``, ``bn_shift_f``, ``bn_scale_c``,
                ``bn_shift_c`` (H,), running statistics ``bn_mean_f`` ... in ``cell.buffers``

Forward, one step

    (norm="batch": X[n] W_f + b_f and X[n] W_c + b_c below become BN_f(X W_f)[n] and
     BN_c(X W_c)[n], without b_f, b_c: BN's shift is the bias, as in the authors' code)
    v1 (Eq. 16-18):  F[n] = s(X[n] W_f + b_f)
                     C[n] = ReLU(X[n] W_c + b_c)
    v2 (Eq. 19-21):  F[n] = s(X[n] W_f + Y[n-1] U_f + b_f)
                     C[n] = ReLU(X[n] W_c + Y[n-1] U_c + b_c)
    both:            I[n] = F[n] * I[n-1] + (1 - F[n]) * C[n]

then V and Y exactly as in :mod:`.lif` (Eq. 8 with the reset, Eq. 9 or the multi-bit
Eq. 22; the same ``membrane_forward`` / ``membrane_backward`` code, so every V/Y option of
lif — ``reset_timing``, ``spike_at_threshold``, ``range_estimator``, ``scale_margin`` —
works here unchanged, and ``State.V`` holds the same membrane M[n] as there). The paper writes the
gates without biases; we add ``b_f``, ``b_c`` (initialized to 0). v2 uses the previous
*output* Y[n-1] (sparse), not I[n-1] (dense), and does not detach it: gradients flow from F
and C back into Y[n-1] and through the output's surrogate or straight-through rule into
V[n-1].

Backward, per step (dI the total gradient reaching I[n]: dV[n] plus the next step's)

    dF = dI * (I[n-1] - C[n]);  dC = dI * (1 - F[n]);  dI[n-1] = dI * F[n]
    da_f = dF * F (1 - F);      da_c = dC * m[n]
    dY[n-1] += da_f U_f^T + da_c U_c^T                         (v2 only)

so the gradient along the synaptic path is multiplied by F[n] per step: a learned,
input-dependent factor instead of the constant beta. With ``norm="batch"`` the stacked
da_f, da_c go through lif's batch-norm backward (:func:`.lif.batch_norm_backward`) after the
loop, each half on its own. The ReLU's kink is routed through
``ops.detach`` of its mask (C = a_c * stop(m)): the value is exact, the derivative is the
mask, and a perturbation that crosses the kink is reported as a flip.

Memory: the sequence forward keeps per step I[n-1], F, C, the ReLU mask (bool) and dY/dV
(the bool clip mask for multi-bit outputs), V[n-1] and Y[n-1] (or V[n], Y[n] with
``reset_timing="same_step"``) only for the zero reset (:func:`reads`); v2's operand of dU (Y[n-1] for every n) is a view of the output array.
About 4.5 values per unit and step against the 4 (F, C, I, V) of the theoretical minimum.

Initialization: Glorot uniform for W_f, W_c (the paper), orthogonal for U_f, U_c (the
paper's recurrent matrices), zero biases (``init_spread`` > 0: the biases and batch norm's
per-neuron scale and shift drawn non-uniform, as in :mod:`.lif`). Config: ``variant`` plus
the V/Y and batch-norm options of :class:`.lif.MembraneConfig` (``alpha``, ``threshold``,
``reset``, ``detach_reset``, ``reset_timing``, ``spike_at_threshold``, ``surrogate``,
``surrogate_params``, ``output``, ``n_bits``, ``threshold_levels``, ``ema_momentum``,
``signed``, ``range_estimator``, ``scale_margin``, ``norm``, ``bn_momentum``, ``bn_eps``,
``bn_track_running_stats``, ``init_spread``); default ``output="multibit"`` (6 bits, b/16).

Preset ``PRESETS["ponghiran_authors_code"]`` (pass ``variant`` separately): the authors'
published v1/v2 (cfg ``*_nb6th3_*``): alpha = 1 (no leak), the signed 5+1-bit quantizer
with their scale margin, threshold and per-step range estimator, the reset subtracting the
transmitted value (same step, not detached), batch norm on both weighted inputs (the
mapping table is in :mod:`.lif`). In eval mode at a given b it reproduces their numbers
(tests/test_authors_ponghiran.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from ..ops import EXACT, Ops
from .base import check_choice
from . import events
from .lif import (MembraneCell, MembraneConfig, PassConstants, batch_norm_backward, glorot_uniform,
                  membrane_backward, membrane_forward, membrane_reads, orthogonal)

__all__ = ["State", "Config", "StepConfig", "Cache", "step_forward", "step_backward", "reads",
           "GatedLIF", "orthogonal", "PRESETS"]


class State(NamedTuple):
    I: np.ndarray  # (B, H) synaptic current I[n]
    V: np.ndarray  # (B, H) the membrane M[n] (V[n]; after its reset with "same_step")
    Y: np.ndarray  # (B, H) output Y[n]


@dataclass(frozen=True)
class Config(MembraneConfig):
    """gated_lif options: ``variant`` + the V/Y options of lif (multi-bit by default)."""

    output: str = "multibit"
    variant: str = "v1"

    def __post_init__(self):
        check_choice("variant", self.variant, ("v1", "v2"))
        super().__post_init__()


@dataclass(frozen=True)
class StepConfig(PassConstants, Config):
    """The ``cfg`` of the step functions: the :class:`Config` plus this pass's multi-bit
    range ``b`` and surrogate object (see :class:`.lif.PassConstants`). Built by
    ``cell.step_config()``."""


class Cache(NamedTuple):
    """One step's BPTT cache (the sequence forward keeps only the fields :func:`reads` names)."""

    I_prev: np.ndarray     # I[n-1]
    F: np.ndarray          # forget gate F[n]
    C: np.ndarray          # candidate C[n]
    relu_mask: np.ndarray  # m[n] = 1[a_c > 0], bool (a quarter of a float32)
    V_prev: np.ndarray     # M[n-1] (zero reset only, next_step)
    Y_prev: np.ndarray     # Y[n-1] (zero reset only, next_step)
    V: np.ndarray          # V[n] before its reset (zero reset only, same_step)
    Y: np.ndarray          # Y[n] (zero reset only, same_step)
    dYdV: np.ndarray       # dY[n]/dV[n]: surrogate values, or the clip mask (bool)


def step_forward(a_t: tuple[np.ndarray, np.ndarray], state: State, p: dict[str, np.ndarray], cfg: StepConfig,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step. ``a_t = (a_f, a_c)`` (B, H) each: X[n] W_f + b_f and X[n] W_c + b_c (their
    batch norms with ``norm="batch"``). Returns ``(Y[n], State(I[n], V[n], Y[n]), Cache)``."""
    a_f, a_c = a_t
    if cfg.variant == "v2":  # Eq. 19-20: the previous (sparse) output feeds both gates
        a_f = a_f + state.Y @ p["U_f"]
        a_c = a_c + state.Y @ p["U_c"]
    F = expit(a_f)                                         # Eq. 16/19
    pos = a_c > 0
    relu_mask = ops.detach(pos, discrete=pos)
    C = a_c * relu_mask                                    # Eq. 17/20 (float * bool: float)
    I = F * state.I + (1 - F) * C                          # Eq. 18/21
    V, Y, dYdV, M = membrane_forward(I, state, p, cfg, ops)   # Eq. 8-9 or 22, as in lif
    return Y, State(I, M, Y), Cache(state.I, F, C, relu_mask, state.V, state.Y, V, Y, dYdV)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: StepConfig) -> tuple[tuple[np.ndarray, np.ndarray], State, dict[str, np.ndarray]]:
    """Backward of one step. ``dy_t``: the gradient reaching Y[n] from above; ``dstate``:
    State(dI, dV, dY) from step n+1. Returns ``((da_f, da_c), State(dI[n-1], dV[n-1],
    dY[n-1]), {})`` (no parameter outside the after-the-loop matrix products)."""
    F = cache_t.F
    dV, dV_prev, dY_prev, _ = membrane_backward(dstate.V, dstate.Y + dy_t, cache_t, p, cfg)
    dI = dstate.I + dV                # V[n] = ... + I[n]
    dF = dI * (cache_t.I_prev - cache_t.C)
    dC = dI * (1 - F)
    da_f = dF * F * (1 - F)           # s' = F (1 - F)
    da_c = dC * cache_t.relu_mask     # ReLU' = the recorded mask
    if cfg.variant == "v2":
        dY_prev = dY_prev + da_f @ p["U_f"].T + da_c @ p["U_c"].T
    return (da_f, da_c), State(dI * F, dV_prev, dY_prev), {}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads: I[n-1], F, C, the mask, and the
    membrane's (:func:`.lif.membrane_reads`: dY/dV; for the zero reset V[n-1], Y[n-1], or
    V[n], Y[n] with ``reset_timing="same_step"``)."""
    return {"I_prev", "F", "C", "relu_mask"} | membrane_reads(p, cfg)


class GatedLIF(MembraneCell):
    """Gated-synapse LIF layer, ``variant="v1"`` (Eq. 16-18) or ``"v2"`` (Eq. 19-21).

    Params: ``W_f, W_c (n_in, H)``, ``b_f, b_c (H)``; v2 adds ``U_f, U_c (H, H)``;
    ``norm="batch"`` replaces ``b_f, b_c`` by ``bn_scale_f, bn_shift_f, bn_scale_c,
    bn_shift_c (H)``.
    """

    name = "gated_lif"
    Config = Config
    State = State
    StepConfig = StepConfig
    input_weights = ("W_f", "W_c")  # the weight of each input projection (analysis.bptt_steps)
    NORMS = ("_f", "_c")            # one batch norm per weighted input (norm="batch")

    def _init_params(self, rng):
        n, H = self.n_in, self.n_hidden
        p = {"W_f": glorot_uniform(rng, n, H), "W_c": glorot_uniform(rng, n, H)}
        if self.config.norm == "batch":  # BN's shift is the bias (the authors' code)
            p.update(bn_scale_f=np.ones(H), bn_shift_f=np.zeros(H),
                     bn_scale_c=np.ones(H), bn_shift_c=np.zeros(H))
        else:
            p.update(b_f=np.zeros(H), b_c=np.zeros(H))
        if self.config.variant == "v2":
            p["U_f"] = orthogonal(rng, H)
            p["U_c"] = orthogonal(rng, H)
        return self._per_neuron(rng, p, ("b_f", "b_c", "bn_scale_f", "bn_shift_f",
                                         "bn_scale_c", "bn_shift_c"))

    def inputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._project(x, update=False)[0]

    def _project(self, x, update):
        """(a_f, a_c) for all steps (one matrix product each) and what the batch norms'
        backward needs (``None`` without ``norm="batch"``)."""
        T, B, _ = x.shape
        p, x2 = self.params, x.reshape(T * B, -1)
        # in inference event-driven (only the non-zero inputs multiplied) when the input is
        # sparse enough (cells/events.py); training keeps the dense product
        xW = (lambda W: x2 @ W) if self.training else (lambda W: events.project(x2, W))
        if self.config.norm == "batch":
            Z_f, bn_f = self._batch_norm("_f", xW(p["W_f"]), update)
            Z_c, bn_c = self._batch_norm("_c", xW(p["W_c"]), update)
            return (Z_f.reshape(T, B, -1), Z_c.reshape(T, B, -1)), (bn_f, bn_c)
        A_f = (xW(p["W_f"]) + p["b_f"]).reshape(T, B, -1)  # all steps at once
        A_c = (xW(p["W_c"]) + p["b_c"]).reshape(T, B, -1)
        return (A_f, A_c), None

    def _reads_previous_output(self, cfg):
        return cfg.variant == "v2"  # Y[n-1] U_f, Y[n-1] U_c: dU_f, dU_c need every Y[n-1]

    def _backward(self, dy, cache):
        x, steps, cfg = cache["x"], cache["steps"], cache["cfg"]
        T, B, _ = x.shape
        p = self.params
        dAf, dAc = np.empty_like(dy), np.empty_like(dy)
        z = np.zeros_like(dy[0])
        dstate = State(z, z, z)
        for t in reversed(range(T)):
            (dAf[t], dAc[t]), dstate, _ = step_backward(dy[t], dstate, steps[t], p, cfg)
        x2 = x.reshape(T * B, -1)
        f2, c2 = dAf.reshape(T * B, -1), dAc.reshape(T * B, -1)
        grads = {}
        if cfg.variant == "v2":
            Y2 = cache["Yprev"].reshape(T * B, -1)
            grads["U_f"] = Y2.T @ f2
            grads["U_c"] = Y2.T @ c2
        if "bn" in cache:  # after the loop: each BN couples all T*B rows of its half
            bn_f, bn_c = cache["bn"]
            f2, grads["bn_scale_f"], grads["bn_shift_f"] = batch_norm_backward(f2, *bn_f)
            c2, grads["bn_scale_c"], grads["bn_shift_c"] = batch_norm_backward(c2, *bn_c)
        else:
            grads["b_f"], grads["b_c"] = f2.sum(0), c2.sum(0)
        grads["W_f"], grads["W_c"] = x2.T @ f2, x2.T @ c2
        dx = (f2 @ p["W_f"].T + c2 @ p["W_c"].T).reshape(x.shape)
        return dx, {k: grads[k] for k in p}   # in the params' order


#: Named configurations (config keywords; ``variant`` passed separately), see the docstring.
PRESETS = {
    # their v1/v2, cfg *_nb6th3_*: num_bits 6 -> n_bits 5 + sign, threshold 3 -> k 4
    "ponghiran_authors_code": dict(alpha=1.0, reset="subtract", detach_reset=False,
                                   reset_timing="same_step", output="multibit", signed=True,
                                   n_bits=5, threshold_levels=4, spike_at_threshold=True,
                                   scale_margin=1 - 1e-4, range_estimator="authors",
                                   ema_momentum=0.1, norm="batch", bn_momentum=0.1, bn_eps=1e-5),
}
