"""LIF layer with gated synaptic currents: "SNNs with improved dynamics" v1 and v2.

Ponghiran & Roy (2022), Section 3. The synaptic current of Eq. 7, whose constant decay
beta makes the gradient along I vanish like beta^(N-n) (Eq. 15), is replaced by a
GRU-like selective update:

    v1 (Eq. 16-18):  F[n] = sigmoid(X[n] W_f + b_f)
                     C[n] = ReLU(X[n] W_c + b_c)
    v2 (Eq. 19-21):  F[n] = sigmoid(X[n] W_f + Y[n-1] U_f + b_f)
                     C[n] = ReLU(X[n] W_c + Y[n-1] U_c + b_c)
    both:            I[n] = F[n] * I[n-1] + (1 - F[n]) * C[n]

then V and Y exactly as in :mod:`.lif` (Eq. 8 with the reset, Eq. 9 or the multi-bit
Eq. 22; the same ``membrane_forward`` / ``membrane_backward`` code). The paper writes the
gates without biases; we add ``b_f``, ``b_c`` (initialized to 0) as DESIGN.md's parameter
table fixes. v2 uses the previous *output* Y[n-1] (sparse), not I[n-1] (dense), and does
not detach it (DESIGN.md): gradients flow from F and C back into Y[n-1] and through the
quantizer's straight-through rule into V[n-1].

Backward, per step (dI the total gradient reaching I[n]):

    dF = dI * (I[n-1] - C[n]);  dC = dI * (1 - F[n]);  dI[n-1] += dI * F[n]
    da_f = dF * F (1 - F);      da_c = dC * 1[a_c > 0]
    dY[n-1] += da_f U_f^T + da_c U_c^T                        (v2 only)

so the gradient along the synaptic path is multiplied by F[n] per step, a learned,
input-dependent factor instead of the constant beta. The ReLU's kink is routed through
``detach`` of its 0/1 mask (``C = a_c * stop(1[a_c > 0])``): the value is exact, the
derivative is the mask, and a perturbation that crosses the kink is reported as a flip.

BPTT cache: per step ``I[n-1]``, ``F[n]``, ``C[n]``, the ReLU mask (bool) and ``dY/dV``
(bool clip mask for multi-bit outputs), ``V[n-1]``/``Y[n-1]`` only when the membrane
backward reads them (zero reset, see :func:`.lif.membrane_needs`); v2's operand of dU,
``Y[n-1]`` for every n, is a view of the output array (``Ys[0]`` the initial Y). About 4.5
values per unit and step against the 4 (F, C, I, V) of the theoretical minimum.
``cache["caches"]`` gives readers the full per-step tuples, V and Y replayed from the
stored currents on first access (:class:`.lif.StepCaches`).

Initialization: Glorot uniform for W_f, W_c (the paper), orthogonal for U_f, U_c (the
paper's recurrent matrices), zero biases. Default ``output="multibit"`` (6 bits, b/16).
Options: ``variant`` plus the lif options that concern V and Y (DESIGN.md), and the extra
``signed`` of :mod:`.lif`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from ..gradcheck import detach
from .base import Cell
from .lif import (Neuron, StepCaches, _MultibitRange, glorot_uniform, membrane_backward,
                  membrane_forward, membrane_needs, validate_membrane_options)

__all__ = ["State", "Config", "GatedLIF", "step_forward", "step_backward", "PROOFS", "TOUR_CONFIG"]


class State(NamedTuple):
    I: np.ndarray  # (B, H) synaptic current
    V: np.ndarray  # (B, H) membrane potential
    Y: np.ndarray  # (B, H) last output


@dataclass(frozen=True)
class Config:
    """gated_lif options (DESIGN.md): ``variant`` + the V/Y options of lif."""

    variant: str = "v1"
    alpha: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = False
    surrogate: str = "triangle"
    surrogate_params: dict = field(default_factory=dict)
    output: str = "multibit"
    n_bits: int = 6
    threshold_levels: int = 4
    ema_momentum: float = 0.1
    signed: bool = False  # extra field (as in lif)

    def __post_init__(self):
        if self.variant not in ("v1", "v2"):
            raise ValueError(f"variant must be 'v1' or 'v2', got {self.variant!r}")
        validate_membrane_options(self)


def step_forward(af_t, ac_t, state, params, alpha, gamma, neuron, v2, twin=None):
    """One step. ``af_t``, ``ac_t`` (B, H): this step's input projections
    ``X[n] W_f + b_f`` and ``X[n] W_c + b_c``. Returns ``(Y, State, cache_t)``."""
    af, ac = af_t, ac_t
    if v2:  # Eq. 19-20: the previous (sparse) output feeds both gates
        af = af + state.Y @ params["U_f"]
        ac = ac + state.Y @ params["U_c"]
    F = expit(af)
    # The ReLU's 0/1 mask as a bool array (a quarter of a float32's memory in the cache);
    # float * bool keeps the float dtype.
    pos = ac > 0
    mask = detach(pos, twin, discrete=pos)
    C = ac * mask                                           # ReLU (Eq. 17/20)
    I = F * state.I + (1 - F) * C                           # Eq. 18/21
    V, Y, mcache = membrane_forward(I, state.V, state.Y, alpha, gamma, neuron, twin)
    return Y, State(I, V, Y), (state.I, F, C, mask, mcache)


def step_backward(dstate, cache_t, params, alpha, gamma, neuron, v2):
    """Backward of one step. ``dstate`` = State(dI, dV, dY), the gradients reaching the
    step's outputs (dY includes ``dy[n]``). Returns ``(da_f, da_c, dstate_prev)``."""
    I_prev, F, C, mask, mcache = cache_t
    dVtot, dV_prev, dY_prev, _, _ = membrane_backward(dstate.V, dstate.Y, mcache, alpha, gamma, neuron)
    dI = dstate.I + dVtot
    dF = dI * (I_prev - C)
    dC = dI * (1 - F)
    da_f = dF * F * (1 - F)          # sigmoid' = F (1 - F)
    da_c = dC * mask                 # ReLU' = the recorded mask
    if v2:
        dY_prev = dY_prev + da_f @ params["U_f"].T + da_c @ params["U_c"].T
    return da_f, da_c, State(dI * F, dV_prev, dY_prev)


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix: a uniformly distributed orthogonal matrix


class GatedLIF(_MultibitRange, Cell):
    """Gated-synapse LIF layer, ``variant="v1"`` (Eq. 16-18) or ``"v2"`` (Eq. 19-21).

    Params: ``W_f, W_c (n_in, H)``, ``b_f, b_c (H)``; v2 adds ``U_f, U_c (H, H)``.
    """

    name = "gated_lif"
    Config = Config
    State = State

    def _init_params(self, rng):
        n, H = self.n_in, self.n_hidden
        p = {"W_f": glorot_uniform(rng, n, H), "W_c": glorot_uniform(rng, n, H),
             "b_f": np.zeros(H), "b_c": np.zeros(H)}
        if self.config.variant == "v2":
            p["U_f"] = orthogonal(rng, H)
            p["U_c"] = orthogonal(rng, H)
        return p

    def neuron(self):
        return Neuron.from_config(self.config, self.b)

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        p, c = self.params, self.config
        v2 = c.variant == "v2"
        neuron = self.neuron()
        x2 = x.reshape(T * B, -1)
        A_f = (x2 @ p["W_f"] + p["b_f"]).reshape(T, B, -1)  # all steps at once
        A_c = (x2 @ p["W_c"] + p["b_c"]).reshape(T, B, -1)
        # Ys[0] = Y[-1], Ys[1:] the output: step t reads Y[t-1] as a view of it, so neither
        # v2's operand of dU (Ys[:-1]) nor a cached Y[t-1] costs a copy.
        Ys = np.empty((T + 1, B, self.n_hidden), self.dtype)
        Ys[0] = state.Y
        initial, state = state, state._replace(Y=Ys[0])
        need_V, need_Y = membrane_needs(neuron)
        steps, full, vmax = [], ([] if twin is not None else None), 0.0
        track = not neuron.binary and self.training
        for t in range(T):
            Y, state, ct = step_forward(A_f[t], A_c[t], state, p, c.alpha, c.threshold, neuron, v2, twin)
            Ys[t + 1] = Y
            # Keep what the backward reads: I[t-1], F, C, the ReLU mask and dY/dV; V[t-1]
            # and Y[t-1] only when the membrane backward needs them (zero reset).
            I_prev, F, C, mask, (V_prev, Y_prev, dYdV) = ct
            steps.append((I_prev, F, C, mask, (V_prev if need_V else None, Y_prev if need_Y else None, dYdV)))
            if full is not None:
                full.append(ct)
            if track:
                vmax = max(vmax, float(np.max(np.abs(state.V))))
            state = state._replace(Y=Ys[t + 1])
        if track:
            self._update_range(vmax)
        final = State(state.I, state.V, Y)  # the step's own Y, not a view of the output

        if full is None:
            def rebuild():
                # Replay of the membrane from the stored currents I[t] (the next step's
                # I[t-1], the final state's I): the same membrane_forward on the same
                # inputs, so V[t-1], Y[t-1] and dY/dV come back bit for bit.
                out, V, Yp = [], initial.V, initial.Y
                for t in range(T):
                    I_t = steps[t + 1][0] if t + 1 < T else final.I
                    V_new, Y_new, mc = membrane_forward(I_t, V, Yp, c.alpha, c.threshold, neuron)
                    out.append(steps[t][:4] + (mc,))
                    V, Yp = V_new, Y_new
                return out
        else:
            def rebuild():
                return full
        cache = {"x": x, "steps": steps, "neuron": neuron, "final_state": final,
                 "caches": StepCaches(T, rebuild)}
        if full is None:
            cache["initial_state"] = initial
        if v2:
            cache["Yprev"] = Ys[:-1]  # Y[t-1] for every t: the operand of dU_f, dU_c
        return Ys[1:], cache

    def _backward(self, dy, cache):
        x, steps, neuron = cache["x"], cache["steps"], cache["neuron"]
        T, B, _ = x.shape
        p, c = self.params, self.config
        v2 = c.variant == "v2"
        dAf, dAc = np.empty_like(dy), np.empty_like(dy)
        z = np.zeros_like(dy[0])
        dst = State(z, z, z)
        for t in reversed(range(T)):
            dst = State(dst.I, dst.V, dst.Y + dy[t])
            dAf[t], dAc[t], dst = step_backward(dst, steps[t], p, c.alpha, c.threshold, neuron, v2)
        x2 = x.reshape(T * B, -1)
        f2, c2 = dAf.reshape(T * B, -1), dAc.reshape(T * B, -1)
        grads = {"W_f": x2.T @ f2, "W_c": x2.T @ c2, "b_f": f2.sum(0), "b_c": c2.sum(0)}
        if v2:
            Y2 = cache["Yprev"].reshape(T * B, -1)
            grads["U_f"] = Y2.T @ f2
            grads["U_c"] = Y2.T @ c2
        dx = (f2 @ p["W_f"].T + c2 @ p["W_c"].T).reshape(x.shape)
        return dx, grads


#: The tour trains the paper's best SNN (v2, 6-bit, b/16).
TOUR_CONFIG = dict(variant="v2")


def _proofs():
    """Every option combination: variant x reset x detach_reset x output (multi-bit
    refuses the zero reset), under both twins."""
    import itertools

    out = {}
    for twin in ("frozen", "smooth"):
        for v, reset, det, o in itertools.product(("v1", "v2"), ("subtract", "zero"), (False, True),
                                                   ("binary", "multibit")):
            if o == "multibit" and reset == "zero":
                continue
            out[f"{v} {o[:5]} {reset[:4]}{' det' if det else ''} [{twin[0]}]"] = (
                dict(variant=v, reset=reset, detach_reset=det, output=o), twin)
    return out


#: label -> (config, twin): what `python -m snn_from_scratch gradcheck` proves.
PROOFS = _proofs()
