"""Spiking Recurrent Cell (SRC) of De Geeter, Ernst & Drion (2023), Eq. 3a-3f.

A recurrent cell derived from the GRU through the Bistable Recurrent Cell (``brc``) that
communicates with spikes yet is built from smooth functions only (apart from the switch
of ``z_s``)::

    i[t]   = alpha * i[t-1] + s_in[t] W                                   (3a)
    x[t]   = rho * tanh(i[t] / rho)                                       (3b)
    z_s[t] = z_hyp + (z_dep - z_hyp) * H(h[t-1] - 0.5)                    (3c)
    h[t]   = tanh(x[t] + r * h[t-1] + r_s * h_s[t-1] + b_h)               (3d)
    h_s[t] = z_s[t] * h_s[t-1] + (1 - z_s[t]) * h[t-1]                    (3e)
    s[t]   = ReLU(h[t])                                                   (3f)

``i`` is a leaky integrator of the input spikes (the synapse), ``x`` its saturation to
(-rho, rho), ``h`` the fast state (positive feedback ``r h``, the BRC's bistability: the
rising edge of a spike), ``h_s`` a slow state lagging behind ``h`` (negative feedback
``r_s h_s``: the falling edge and the refractory period). The paper fixes the BRC's gates
``z = 0``, ``r = 2``, ``r_s = -7``; ``z_s`` jumps from ``z_hyp`` (slow, below threshold)
to ``z_dep`` (fast, during a spike) when ``h`` exceeds 0.5. Following DESIGN.md the
switch reads ``h[t-1]`` (the paper writes ``z_s[h]`` and ``h[t]``; ``h[t]`` is not yet
known when ``h_s[t]`` is formed from ``h[t-1]``, so the previous value is the causal
reading). Learnable: ``W (n_in, H)`` and ``b_h (H)`` (§4.4); ``b_h`` starts at ``b_h_init``
(-6) and :meth:`SRC.project` clamps it to ``<= b_h_max`` (-4) after every optimizer step
(§3.1: a too large bias makes the neuron saturate).

Backward (the two switches of §4.4)
-----------------------------------
``bypass_relu`` (default True)
    ``ds/dh = 1`` everywhere instead of ``H(h)``: gradient reaches ``h`` also between
    spikes, when ``h < 0``. The forward still applies the ReLU.
``detach_recurrent`` (default True)
    ``h[t-1]`` and ``h_s[t-1]`` are constants wherever they appear (in 3c, 3d and 3e): the
    only path back in time is the integrator ``i`` (as in a LIF neuron's synapse).
The Heaviside of 3c is a switch, not a spike: its derivative is taken as zero (DESIGN.md).
With both switches off ``backward`` is the exact gradient of Eq. 3 (away from the
``z_s`` step and the ReLU kink). Gradient proofs route the switch through
``gradcheck.detach`` (its pattern reported as flips), the ReLU (plain or bypassed)
through ``gradcheck.straight_through`` and the detached states through
``gradcheck.detach``.

Shapes: s_in (T, B, n_in), s (T, B, H). State ``(i, h, h_s)``, zeros by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
import scipy.sparse

from .. import gradcheck as gc
from .base import Cell

__all__ = ["SRC", "State", "Config", "step_forward", "step_backward", "activity", "trace",
           "PROOFS", "TOUR_CONFIG"]


class State(NamedTuple):
    i: np.ndarray    # (B, H) integrator (synaptic current), Eq. 3a
    h: np.ndarray    # (B, H) fast state, Eq. 3d
    h_s: np.ndarray  # (B, H) slow state, Eq. 3e


@dataclass(frozen=True)
class Config:
    """SRC constants (De Geeter et al., Appendix A) and the two backward switches (§4.4).

    ``b_h_max=None`` disables the projection of ``b_h`` (used to explore the dynamics of
    Figure 1 with biases above -4).
    """

    alpha: float = 0.9
    rho: float = 3.0
    r: float = 2.0
    r_s: float = -7.0
    z_hyp: float = 0.9
    z_dep: float = 0.0
    b_h_init: float = -6.0
    b_h_max: Optional[float] = -4.0
    bypass_relu: bool = True
    detach_recurrent: bool = True

    def __post_init__(self):
        for name in ("alpha", "rho", "r", "r_s", "z_hyp", "z_dep", "b_h_init"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(v):
                raise ValueError(f"src config {name} must be a finite number, got {v!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"src config alpha (integrator leak) must be in [0, 1], got {self.alpha}")
        if self.rho <= 0:
            raise ValueError(f"src config rho (input saturation) must be > 0, got {self.rho}")
        for name in ("z_hyp", "z_dep"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"src config {name} must be in [0, 1], got {getattr(self, name)}")
        if self.b_h_max is not None:
            if isinstance(self.b_h_max, bool) or not isinstance(
                    self.b_h_max, (int, float, np.integer, np.floating)) or not np.isfinite(self.b_h_max):
                raise ValueError(f"src config b_h_max must be a finite number or None, got {self.b_h_max!r}")
            if self.b_h_init > self.b_h_max:
                raise ValueError(f"src config b_h_init ({self.b_h_init}) must be <= b_h_max "
                                 f"({self.b_h_max})")
        for name in ("bypass_relu", "detach_recurrent"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"src config {name} must be a bool, got {getattr(self, name)!r}")


def step_forward(a_t, state, b_h, config, twin=None):
    """One step of Eq. 3. ``a_t`` (B, H) is this step's input ``s_in[t] W``.

    Returns ``(s, State(i, h, h_s), cache_t)`` with ``cache_t = (x, h, above)``: what the
    backward step needs (``above = h[t-1] > 0.5``, the pattern of the ``z_s`` switch).
    """
    c = config
    i_prev, h_prev, hs_prev = state
    i = c.alpha * i_prev + a_t                                     # 3a
    x = c.rho * np.tanh(i / c.rho)                                 # 3b
    if c.detach_recurrent:   # constants wherever they appear (twin: recorded and replayed)
        h_prev = gc.detach(h_prev, twin)
        hs_prev = gc.detach(hs_prev, twin)
    above = h_prev > 0.5
    # 3c: a switch with zero derivative; the twin replays its value and reports flips.
    z_s = gc.detach(np.where(above, c.z_dep, c.z_hyp).astype(i.dtype, copy=False), twin,
                    discrete=above)
    h = np.tanh(x + c.r * h_prev + c.r_s * hs_prev + b_h)         # 3d
    h_s = z_s * hs_prev + (1.0 - z_s) * h_prev                     # 3e
    s = np.maximum(h, 0.0)                                         # 3f
    if twin is not None:     # the backward rule of the ReLU: identity (bypass) or H(h)
        proxy = (lambda: h) if c.bypass_relu else (lambda: np.maximum(h, 0.0))
        s = gc.straight_through(s, proxy, twin, discrete=h > 0)
    return s, State(i, h, h_s), (x, h, above)


def step_backward(ds, carry, cache_t, config):
    """Backward of one step.

    ``ds`` (B, H): gradient reaching ``s[t]``; ``carry = (di, dh, dh_s)``: gradients
    reaching ``i[t]``, ``h[t]``, ``h_s[t]`` from step t+1 (``dh``, ``dh_s`` are zeros
    under ``detach_recurrent``); ``cache_t = (x, h, above)`` from :func:`step_forward`.

    Returns ``(da, du, carry_prev)``: ``da`` = dL/d(s_in[t] W) (B, H), ``du`` the gradient
    of the pre-activation of 3d (its sum is ``b_h``'s gradient) and the carry to step t-1:

    * 3f: ``dh = carry_h + ds * (1 if bypass_relu else H(h))``;
    * 3d: ``du = dh (1 - h^2)``;
    * 3b: ``di = carry_i + du (1 - (x/rho)^2)`` (d/di rho tanh(i/rho) = 1 - tanh^2);
    * 3a: ``da = di``, ``di_prev = alpha di``;
    * 3d, 3e (only without ``detach_recurrent``; z_s is a switch, no derivative):
      ``dh_prev = r du + (1 - z_s) dh_s``, ``dh_s_prev = r_s du + z_s dh_s``.
    """
    c = config
    di, dh, dhs = carry
    x, h, above = cache_t
    if c.bypass_relu:
        dh = dh + ds
    else:
        dh = dh + ds * (h > 0)
    du = dh * (1.0 - h * h)
    xr = x / c.rho
    di = di + du * (1.0 - xr * xr)
    if c.detach_recurrent:
        dh_prev = dhs_prev = None     # no path through h[t-1], h_s[t-1]
    else:
        z_s = np.where(above, c.z_dep, c.z_hyp).astype(du.dtype, copy=False)
        dh_prev = c.r * du + (1.0 - z_s) * dhs
        dhs_prev = c.r_s * du + z_s * dhs
    return di, du, (c.alpha * di, dh_prev, dhs_prev)


class SRC(Cell):
    """Spiking Recurrent Cell layer. Params ``W (n_in, H)``, ``b_h (H)``.

    Initialization (Appendix A): ``W`` Xavier-uniform, U(-sqrt(6/(n_in+H)), +sqrt(...));
    ``b_h = b_h_init`` (-6). ``project()`` clamps ``b_h <= b_h_max``.
    ``wants_spike_input``: the proof harness feeds 0/1 spike trains (the SRC's inputs are
    spikes; a continuous input works too).
    """

    name = "src"
    Config = Config
    State = State
    wants_spike_input = True

    def _init_params(self, rng):
        n, H = self.n_in, self.n_hidden
        lim = np.sqrt(6.0 / (n + H))
        return {"W": rng.uniform(-lim, lim, (n, H)), "b_h": np.full(H, self.config.b_h_init)}

    def project(self):
        """Clamp ``b_h`` to ``<= b_h_max`` in place (§3.1, Appendix A: max b_h = -4)."""
        if self.config.b_h_max is not None:
            np.minimum(self.params["b_h"], self.dtype.type(self.config.b_h_max),
                       out=self.params["b_h"])

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        H = self.n_hidden
        c, p = self.config, self.params
        X = _input_matrix(x.reshape(T * B, -1))
        A = np.asarray(X @ p["W"]).reshape(T, B, H)  # all steps' inputs at once
        s = np.empty((T, B, H), self.dtype)
        xs = np.empty((T, B, H), self.dtype)
        hs = np.empty((T + 1, B, H), self.dtype)
        above = np.empty((T, B, H), bool)
        hs[0] = state.h
        for t in range(T):
            s[t], state, (xs[t], _, above[t]) = step_forward(A[t], state, p["b_h"], c, twin)
            hs[t + 1] = state.h
        return s, {"x_in": x, "X": X, "x": xs, "h": hs, "above": above, "final_state": state}

    def _backward(self, dy, cache):
        x_in, xs, hs, above = cache["x_in"], cache["x"], cache["h"], cache["above"]
        T, B, _ = x_in.shape
        H = self.n_hidden
        c, p = self.config, self.params
        dA = np.empty((T, B, H), self.dtype)
        db = np.zeros(H, self.dtype)
        zero = np.zeros((B, H), self.dtype)
        carry = (zero, zero, zero)
        for t in reversed(range(T)):
            dA[t], du, carry = step_backward(dy[t], carry, (xs[t], hs[t + 1], above[t]), c)
            db += du.sum(0)
            if carry[1] is None:
                carry = (carry[0], zero, zero)
        dA2 = dA.reshape(T * B, H)
        grads = {"W": np.asarray(cache["X"].T @ dA2), "b_h": db}
        dx = (dA2 @ p["W"].T).reshape(x_in.shape)
        return dx, grads


#: Input density below which the input projection uses a sparse matrix product.
SPARSE_DENSITY = 0.1


def _input_matrix(X2):
    """The (T*B, n_in) input as a dense array, or as a CSR matrix when it is sparse.

    Spike trains are mostly zeros (rate-coded MNIST: ~3% ones; an SRC layer's output: a
    few % spiking steps), so ``X W`` and ``X^T dA`` cost nnz*H instead of T*B*n_in*H with
    a sparse product; the results are the same sums (up to summation order).
    """
    if X2.shape[1] < 32 or X2.size < 4096:
        return X2
    flat = np.flatnonzero(X2.reshape(-1) != 0)  # on a bool mask: much faster than on floats
    if flat.size > SPARSE_DENSITY * X2.size:
        return X2
    rows, cols = np.divmod(flat, X2.shape[1])
    indptr = np.zeros(X2.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=X2.shape[0]), out=indptr[1:])
    return scipy.sparse.csr_matrix((X2.reshape(-1)[flat], cols, indptr), shape=X2.shape)


def activity(s, axis=0):
    """The relative number of spiking time steps, De Geeter et al. Eq. 2.

    ``T(s) = (1/T) sum_t H(s[t])``: the fraction of steps on which the output is non-zero
    (an SRC spike spans several steps; for a binary neuron such as ``lif`` it is the spike
    count over T). ``s`` is time-major (T, B, H); returns the mean over ``axis`` (time),
    i.e. one value per sequence and neuron (B, H). Average it for a layer's mean activity.
    """
    s = np.asarray(s)
    if s.ndim < 1 or s.shape[axis] < 1:
        raise ValueError(f"activity: s needs at least one time step, got shape {s.shape}")
    return np.mean(s > 0, axis=axis)


def trace(cell, x, state=None):
    """Run an SRC over ``x`` (T, B, n_in) and return every internal variable per step.

    A dict of (T, B, H) arrays ``i``, ``x`` (3b), ``z_s``, ``h``, ``h_s``, ``s`` and the
    feedbacks ``pos = r h[t-1]`` and ``neg = r_s h_s[t-1]`` that enter 3d (Appendix B,
    Figure 6). For figures; it calls the same ``step_forward`` as ``forward``.
    """
    if not isinstance(cell, SRC):
        raise TypeError(f"trace needs an SRC cell, got {type(cell).__name__}")
    y, cache = cell.forward(x, state)  # validation + the reference output
    T, B, _ = x.shape
    st = cell.init_state(B) if state is None else State(*state)
    A = (x.reshape(T * B, -1) @ cell.params["W"]).reshape(T, B, -1)
    c = cell.config
    out = {k: np.empty((T, B, cell.n_hidden), cell.dtype) for k in
           ("i", "x", "z_s", "h", "h_s", "s", "pos", "neg")}
    for t in range(T):
        out["pos"][t] = c.r * st.h
        out["neg"][t] = c.r_s * st.h_s
        out["s"][t], st, (out["x"][t], _, above) = step_forward(A[t], st, cell.params["b_h"], c)
        out["z_s"][t] = np.where(above, c.z_dep, c.z_hyp)
        out["i"][t], out["h"][t], out["h_s"][t] = st
    assert np.array_equal(out["s"], y)
    return out


#: Constants under which the registry proofs run: the paper's, except the bias. At the
#: initial b_h = -6 every neuron rests deep in tanh's saturated tail (1 - h^2 ~ 1e-5) and
#: most gradient entries sit at the round-off floor of central differences; b_h = -2 keeps
#: the neurons active (h crosses 0 and 0.5 often, so the ReLU rule and the z_s switch
#: are exercised) with the same code path. tests/test_src.py also checks b_h = -6.
PROOF_CONSTANTS = {"b_h_init": -2.0, "b_h_max": None}

#: Configurations proven by `python -m snn_from_scratch gradcheck`. No surrogate spikes:
#: the frozen twin replays the z_s switch, the detached states and the ReLU rule.
PROOFS = {
    "exact (no bypass, no detach)": (dict(PROOF_CONSTANTS, bypass_relu=False,
                                          detach_recurrent=False), "frozen"),
    "bypass_relu": (dict(PROOF_CONSTANTS, bypass_relu=True, detach_recurrent=False), "frozen"),
    "detach_recurrent": (dict(PROOF_CONSTANTS, bypass_relu=False, detach_recurrent=True), "frozen"),
    "bypass + detach (default)": (dict(PROOF_CONSTANTS), "frozen"),
}

#: How `python -m snn_from_scratch tour` trains the SRC on MNIST-1D: the paper's
#: configuration (both switches on) read by the paper's fixed leaky-integrator readout
#: (a final layer of 100 neurons, §4.2), which learned better than a linear readout on the
#: last step in a 5-epoch trial (24% vs 11% test accuracy; MNIST-1D's single continuous
#: input channel is far from the spike trains the SRC was designed for).
TOUR_CONFIG = {}
TOUR_READOUT = "leaky"
TOUR_LR = 1e-2
