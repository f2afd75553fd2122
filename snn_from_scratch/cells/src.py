"""Spiking Recurrent Cell (SRC) of De Geeter, Ernst & Drion (2023), Eq. 3a-3f.

A recurrent cell derived from the GRU through the Bistable Recurrent Cell (``brc``) that
communicates with spikes yet is built from smooth functions only (apart from the switch
of ``z_s``).

Notation
--------
``s_in[t]`` (B, n_in)
    the input spikes at step t (any real input works too); ``T`` steps, ``B`` sequences,
    ``H`` neurons (in shapes; ``H(.)`` with an argument is the Heaviside step below).
``W (n_in, H)``, ``b_h (H)``
    the learnable parameters (the paper's ``W_s`` and ``b_h``).
``a[t] = s_in[t] W`` (B, H)
    the step's input projection, computed for all steps before the loop (:meth:`SRC.inputs`).
``i[t]`` (B, H)
    the leaky integrator of the input spikes (the synaptic current); ``alpha`` its leak.
``x[t]`` (B, H)
    the saturated input ``rho tanh(i / rho)``, in (-rho, rho).
``h[t]``, ``h_s[t]`` (B, H)
    the fast and the slow state.
``r``, ``r_s``
    the fixed feedback gains of ``h[t-1]`` (positive: the rising edge of a spike) and of
    ``h_s[t-1]`` (negative: the falling edge and the refractory period).
``z_s[t]`` (B, H)
    the update gate of ``h_s``: ``z_hyp`` below the switch point 0.5 (slow, hyperpolarized),
    ``z_dep`` above it (fast, during a spike).
``u[t]`` (B, H)
    the pre-activation of 3d (the argument of its tanh).
``s[t]`` (B, H)
    the output spikes (the paper's ``s_out``), also the cell's output ``y[t]``.
``H(v)``
    the Heaviside step: 1 where v > 0, else 0.
``dX``
    the gradient of the loss with respect to ``X``.

Equations (one step)::

    i[t]   = alpha * i[t-1] + s_in[t] W                                   (3a)
    x[t]   = rho * tanh(i[t] / rho)                                       (3b)
    z_s[t] = z_hyp + (z_dep - z_hyp) * H(h[t-1] - 0.5)                    (3c)
    h[t]   = tanh(x[t] + r * h[t-1] + r_s * h_s[t-1] + b_h)               (3d)
    h_s[t] = z_s[t] * h_s[t-1] + (1 - z_s[t]) * h[t-1]                    (3e)
    s[t]   = ReLU(h[t])                                                   (3f)

The paper fixes the BRC's gates ``z = 0``, ``r = 2``, ``r_s = -7`` and ``z_hyp = 0.9``,
``z_dep = 0``. Following docs/design.md the switch reads ``h[t-1]`` (the paper writes
``z_s[h]`` and ``h[t]``; ``h[t]`` is not yet known when ``h_s[t]`` is formed from
``h[t-1]``, so the previous value is the causal reading). Learnable: ``W`` and ``b_h``
(§4.4); ``b_h`` starts at ``b_h_init`` (-6) and :meth:`SRC.project` clamps it to
``<= b_h_max`` (-4) after every optimizer step (§3.1: a too large bias makes the neuron
saturate).

Backward (the two switches of §4.4)
-----------------------------------
``bypass_relu`` (default True)
    ``ds/dh = 1`` everywhere instead of ``H(h)``: gradient reaches ``h`` also between
    spikes, when ``h < 0``. The forward still applies the ReLU.
``detach_recurrent`` (default True)
    ``h[t-1]`` and ``h_s[t-1]`` are constants wherever they appear (in 3c, 3d and 3e): the
    only path back in time is the integrator ``i`` (as in a LIF neuron's synapse).

The Heaviside of 3c is a switch, not a spike: its derivative is taken as zero. With both
switches off ``backward`` is the exact gradient of Eq. 3 (away from the ``z_s`` step and
the ReLU kink). One step backward, with ``dh``, ``dh_s``, ``di`` what step t+1 sends back
to ``h[t]``, ``h_s[t]``, ``i[t]`` and ``dy[t]`` the gradient reaching ``s[t]`` from above::

    dh      = dh + dy[t] * (1 if bypass_relu else H(h[t]))               (3f)
    du      = dh * (1 - h[t]^2)                                          (3d)
    di      = di + du * (1 - (x[t] / rho)^2)                              (3b)
    da[t]   = di;   di[t-1] = alpha * di;   db_h += sum over the batch of du   (3a, 3d)
    dh[t-1]   = r du + (1 - z_s) dh_s     } without detach_recurrent (3d, 3e);
    dh_s[t-1] = r_s du + z_s dh_s         } zeros with it

and, after the loop, ``dW = S_in^T dA`` and ``ds_in = dA W^T``. The forward routes its
non-differentiable points through ``ops`` (:mod:`snn_from_scratch.ops`): the switch of 3c
and the detached states through ``ops.detach`` (the switch's pattern reported as flips by
a gradient check), the ReLU's backward rule (plain or bypassed) through
``ops.straight_through``.

Shapes: s_in (T, B, n_in), s (T, B, H). State ``(i, h, h_s)``, zeros by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from ..ops import EXACT, Ops
from . import events
from .base import Cell, check_flag, check_real, slim

__all__ = ["SRC", "State", "Config", "Cache", "step_forward", "step_backward", "reads",
           "activity", "trace"]


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
        check_real("alpha", self.alpha, 0.0, 1.0)          # the integrator's leak
        check_real("rho", self.rho, low=0.0, low_open=True)  # the input saturation
        check_real("r", self.r)
        check_real("r_s", self.r_s)
        check_real("z_hyp", self.z_hyp, 0.0, 1.0)
        check_real("z_dep", self.z_dep, 0.0, 1.0)
        check_real("b_h_init", self.b_h_init)
        if self.b_h_max is not None:
            check_real("b_h_max", self.b_h_max)
            if self.b_h_init > self.b_h_max:
                raise ValueError(f"b_h_init ({self.b_h_init}) must be <= b_h_max ({self.b_h_max})")
        check_flag("bypass_relu", self.bypass_relu)
        check_flag("detach_recurrent", self.detach_recurrent)


class Cache(NamedTuple):
    x: np.ndarray    # (B, H) saturated input, Eq. 3b
    z_s: np.ndarray  # (B, H) the switched gate of h_s, Eq. 3c
    h: np.ndarray    # (B, H) fast state h[t], Eq. 3d


def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: Config,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step of Eq. 3. ``a_t`` (B, H) is this step's input ``s_in[t] W``.

    Returns ``(s, State(i, h, h_s), Cache(x, z_s, h))``.
    """
    c = cfg
    i_prev, h_prev, hs_prev = state
    i = c.alpha * i_prev + a_t                                     # 3a
    x = c.rho * np.tanh(i / c.rho)                                 # 3b
    if c.detach_recurrent:   # constants wherever they appear
        h_prev = ops.detach(h_prev)
        hs_prev = ops.detach(hs_prev)
    above = h_prev > 0.5
    # 3c: a switch with zero derivative (a gradient check reports its changes as flips).
    z_s = ops.detach(np.where(above, c.z_dep, c.z_hyp).astype(i.dtype, copy=False),
                     discrete=above)
    h = np.tanh(x + c.r * h_prev + c.r_s * hs_prev + p["b_h"])    # 3d
    h_s = z_s * hs_prev + (1.0 - z_s) * h_prev                     # 3e
    s = np.maximum(h, 0.0)                                         # 3f
    # the backward rule of the ReLU: the identity (bypass) or H(h)
    proxy = (lambda: h) if c.bypass_relu else (lambda: np.maximum(h, 0.0))
    s = ops.straight_through(s, proxy, discrete=h > 0)
    return s, State(i, h, h_s), Cache(x, z_s, h)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: Config) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step.

    ``dy_t`` (B, H): the gradient reaching ``s[t]`` from above; ``dstate``: a ``State`` of
    the gradients reaching ``i[t]``, ``h[t]``, ``h_s[t]`` from step t+1 (``h`` and ``h_s``
    are zeros under ``detach_recurrent``).

    Returns ``(da, dstate_prev, {"b_h": du})``: ``da`` = dL/d(s_in[t] W) (B, H), the
    ``State`` of the gradients reaching step t-1's ``i``, ``h``, ``h_s``, and ``du`` (B, H)
    the gradient of the pre-activation of 3d (summed over the batch it is this step's part
    of ``b_h``'s gradient):

    * 3f: ``dh = dh + dy_t * (1 if bypass_relu else H(h))``;
    * 3d: ``du = dh (1 - h^2)``;
    * 3b: ``di = di + du (1 - (x/rho)^2)`` (d/di rho tanh(i/rho) = 1 - tanh^2);
    * 3a: ``da = di``, ``di_prev = alpha di``;
    * 3d, 3e (only without ``detach_recurrent``; z_s is a switch, no derivative):
      ``dh_prev = r du + (1 - z_s) dh_s``, ``dh_s_prev = r_s du + z_s dh_s``.
    """
    c = cfg
    di, dh, dhs = dstate
    x, h = cache_t.x, cache_t.h
    if c.bypass_relu:
        dh = dh + dy_t
    else:
        dh = dh + dy_t * (h > 0)
    du = dh * (1.0 - h * h)
    xr = x / c.rho
    di = di + du * (1.0 - xr * xr)
    if c.detach_recurrent:
        zero = np.zeros_like(du)      # no path through h[t-1], h_s[t-1]
        dstate_prev = State(c.alpha * di, zero, zero)
    else:
        z_s = cache_t.z_s
        dstate_prev = State(c.alpha * di, c.r * du + (1.0 - z_s) * dhs, c.r_s * du + z_s * dhs)
    return di, dstate_prev, {"b_h": du}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads: ``z_s`` only without
    ``detach_recurrent``."""
    return {"x", "h"} if cfg.detach_recurrent else {"x", "z_s", "h"}


class SRC(Cell):
    """Spiking Recurrent Cell layer. Params ``W (n_in, H)``, ``b_h (H)``.

    Initialization (Appendix A): ``W`` Xavier-uniform, U(-sqrt(6/(n_in+H)), +sqrt(...));
    ``b_h = b_h_init`` (-6). ``project()`` clamps ``b_h <= b_h_max``. The inputs are
    meant to be 0/1 spike trains (a continuous input works too).
    """

    name = "src"
    Config = Config
    State = State

    def _init_params(self, rng):
        n, H = self.n_in, self.n_hidden
        lim = np.sqrt(6.0 / (n + H))
        return {"W": rng.uniform(-lim, lim, (n, H)), "b_h": np.full(H, self.config.b_h_init)}

    def project(self) -> None:
        """Clamp ``b_h`` to ``<= b_h_max`` in place (§3.1, Appendix A: max b_h = -4)."""
        if self.config.b_h_max is not None:
            np.minimum(self.params["b_h"], self.dtype.type(self.config.b_h_max),
                       out=self.params["b_h"])

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """``a[t] = s_in[t] W`` for all steps at once: (T, B, H) (a sparse product for
        sparse spike trains, see :func:`_input_matrix`)."""
        T, B, _ = x.shape
        X = _input_matrix(x.reshape(T * B, -1))
        return np.asarray(X @ self.params["W"]).reshape(T, B, self.n_hidden)

    def _forward(self, x, state, ops):
        T, B, _ = x.shape
        c, p = self.config, self.params
        A = self.inputs(x)
        keep = reads(p, c)
        s = np.empty((T, B, self.n_hidden), self.dtype)
        steps = []
        for t in range(T):
            s[t], state, cache_t = step_forward(A[t], state, p, c, ops)
            steps.append(slim(cache_t, keep))
        return s, {"x": x, "steps": steps, "final_state": state}

    def _backward(self, dy, cache):
        x, steps = cache["x"], cache["steps"]
        T, B, _ = x.shape
        H = self.n_hidden
        c, p = self.config, self.params
        dA = np.empty((T, B, H), self.dtype)
        db = np.zeros(H, self.dtype)
        zero = np.zeros((B, H), self.dtype)
        dstate = State(zero, zero, zero)  # nothing comes back from after the last step
        for t in reversed(range(T)):
            dA[t], dstate, dp_t = step_backward(dy[t], dstate, steps[t], p, c)
            db += dp_t["b_h"].sum(0)
        dA2 = dA.reshape(T * B, H)
        X = _input_matrix(x.reshape(T * B, -1))  # rebuilt, not stored: cheap next to X^T dA
        grads = {"W": np.asarray(X.T @ dA2), "b_h": db}
        dx = (dA2 @ p["W"].T).reshape(x.shape)
        return dx, grads


#: Input density below which the input projection uses a sparse matrix product (spike
#: trains are mostly zeros: rate-coded MNIST ~3% ones, an SRC layer's output a few %).
SPARSE_DENSITY = 0.1


def _input_matrix(X2):
    """The (T*B, n_in) input as a dense array, or as a CSR matrix when it is sparse
    (:func:`.events.input_matrix`): ``X W`` and ``X^T dA`` then cost nnz*H instead of
    T*B*n_in*H; the results are the same sums (up to summation order)."""
    return events.input_matrix(X2, max_density=SPARSE_DENSITY)


def activity(s: np.ndarray, axis: int = 0) -> np.ndarray:
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


def trace(cell: SRC, x: np.ndarray, state: Optional[State] = None) -> dict[str, np.ndarray]:
    """Run an SRC over ``x`` (T, B, n_in) and return every internal variable per step.

    A dict of (T, B, H) arrays ``i``, ``x`` (3b), ``z_s``, ``h``, ``h_s``, ``s`` and the
    feedbacks ``pos = r h[t-1]`` and ``neg = r_s h_s[t-1]`` that enter 3d (Appendix B,
    Figure 6). For figures; it reads the steps of ``cell.trace`` (the same
    ``step_forward`` as ``forward``).
    """
    if not isinstance(cell, SRC):
        raise TypeError(f"trace needs an SRC cell, got {type(cell).__name__}")
    c = cell.config
    prev = cell.init_state(x.shape[1]) if state is None else State(*state)
    out = {k: [] for k in ("i", "x", "z_s", "h", "h_s", "s", "pos", "neg")}
    for s_t, st, cache_t in cell.trace(x, state):
        out["pos"].append(c.r * prev.h)      # the feedbacks that entered 3d at this step
        out["neg"].append(c.r_s * prev.h_s)
        out["s"].append(s_t)
        out["x"].append(cache_t.x)
        out["z_s"].append(cache_t.z_s)
        out["i"].append(st.i)
        out["h"].append(st.h)
        out["h_s"].append(st.h_s)
        prev = st
    return {k: np.stack(v).astype(cell.dtype, copy=False) for k, v in out.items()}
