"""Bistable Recurrent Cell (BRC) of Vecoven, Ernst & Drion (2021), as quoted by De Geeter,
Ernst & Drion (2023), §3.1 — the cell the Spiking Recurrent Cell is derived from.

Notation
--------
``x[t]`` (B, n_in)
    the input at step t; ``T`` steps, ``B`` sequences, ``H`` hidden units.
``a[t] = x[t] U_x`` (B, 3H)
    the step's input projection, computed for all steps before the loop (:meth:`BRC.inputs`),
    blocks ``a_z, a_r, a_h`` (the paper's ``U_z x[t]``, ``U_r x[t]``, ``U_h x[t]``).
``p_z, p_r, p_n`` (B, H)
    the pre-activations of ``z``, ``r`` and ``n`` (the arguments of sigma and tanh below).
``z`` (B, H)
    the update gate, in (0, 1); ``r`` (B, H) the reset gate, in (0, 2).
``n`` (B, H)
    the candidate state (the paper's ``h^[t]``).
``h[t]`` (B, H)
    the hidden state, also the output ``y[t]``.
``*``
    elementwise product (the paper's ``⊙``); ``sigma`` the logistic sigmoid.
``U_x (n_in, 3H)``, ``w_z (H)``, ``w_r (H)``, ``b (3H)``
    the parameters: ``U_x`` and ``b`` in blocks z, r, h (``b_z, b_r, b_h``); ``w_z``,
    ``w_r`` are *vectors* — the memory is cellular, each neuron only sees its own past.
``dX``
    the gradient of the loss with respect to ``X``.

Equations (one step; De Geeter et al. §3.1, unnumbered)::

    z[t] = sigma(x[t] U_z + w_z * h[t-1] + b_z)          update gate
    r[t] = 1 + tanh(x[t] U_r + w_r * h[t-1] + b_r)       r > 1 is bistable
    n[t] = tanh(x[t] U_h + r[t] * h[t-1] + b_h)          candidate state
    h[t] = z[t] * h[t-1] + (1 - z[t]) * n[t]

Two differences from the GRU (the ``gru`` cell): the recurrent weights are vectors
instead of matrices, and ``r`` spans (0, 2) instead of (0, 1). With ``r > 1`` the map
``h -> tanh(r h + c)`` has a slope above one at the origin, so it has two stable fixed
points (bistability): the positive feedback that the SRC reuses as the rising edge of a
spike.

Backward: the exact gradient of ``sum(dy * h)`` (every function is smooth; no surrogate).
With ``dh`` the total gradient reaching ``h[t]`` (``dy[t]`` from above plus what step
t+1 sends back)::

    dz   = dh (h[t-1] - n),   dn = dh (1 - z)
    dp_n = dn (1 - n^2),      dr = dp_n h[t-1]
    dp_r = dr (1 - (r - 1)^2),   dp_z = dz z (1 - z)
    dh[t-1] = dh z + dp_n r + dp_z w_z + dp_r w_r

and, after the loop, ``dU_x = X^T dP``, ``db = sum dP`` (``dP = [dp_z, dp_r, dp_n]``),
``dw_z = sum_{t,b} dp_z h[t-1]``, ``dw_r = sum_{t,b} dp_r h[t-1]``, ``dx = dP U_x^T``.

Shapes: x (T, B, n_in), h (T, B, H). State ``(h)``, zeros by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from ..ops import EXACT, Ops
from .base import Cell, scan_h


class State(NamedTuple):
    h: np.ndarray  # (B, H)


@dataclass(frozen=True)
class Config:
    """The BRC has no options beyond its sizes (docs/design.md)."""


class Cache(NamedTuple):
    h_prev: np.ndarray  # (B, H) h[t-1]
    z: np.ndarray       # (B, H) update gate
    r: np.ndarray       # (B, H) reset gate, in (0, 2)
    n: np.ndarray       # (B, H) candidate


def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: Config,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step. ``a_t`` (B, 3H) is this step's input projection ``x[t] U_x``.

    Returns ``(h, State(h), Cache(h_prev, z, r, n))``. ``cfg`` and ``ops`` are unused
    (no options, nothing non-differentiable); they are part of the signature every cell
    shares.
    """
    h_prev = state.h
    H = h_prev.shape[1]
    w_z, w_r, b = p["w_z"], p["w_r"], p["b"]
    z = expit(a_t[:, :H] + w_z * h_prev + b[:H])
    r = 1.0 + np.tanh(a_t[:, H:2 * H] + w_r * h_prev + b[H:2 * H])
    n = np.tanh(a_t[:, 2 * H:] + r * h_prev + b[2 * H:])
    h = z * h_prev + (1.0 - z) * n
    return h, State(h), Cache(h_prev, z, r, n)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: Config) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step.

    ``dy_t`` (B, H): the gradient reaching the output ``h[t]`` from above; ``dstate``: a
    ``State`` of the gradient reaching ``h[t]`` from step t+1. Returns ``(dP,
    State(dh[t-1]), {})``: ``dP`` (B, 3H) the gradients of the three pre-activations
    (blocks z, r, h; also the gradient of ``a_t``) and the gradient carried to ``h[t-1]``:

    * ``h = z h_prev + (1-z) n``: dz = dh (h_prev - n), dn = dh (1-z), dh_prev = dh z;
    * ``n = tanh(p_n)``, ``p_n = a_h + r h_prev + b_h``: dp_n = dn (1 - n^2),
      dr = dp_n h_prev, dh_prev += dp_n r;
    * ``r = 1 + tanh(p_r)``: dp_r = dr (1 - (r-1)^2); ``z = sigmoid(p_z)``: dp_z = dz z (1-z);
    * the vector recurrences ``w_z h_prev``, ``w_r h_prev``: dh_prev += dp_z w_z + dp_r w_r.

    ``w_z``'s and ``w_r``'s gradients (``dp_z h_prev``, ``dp_r h_prev``) are summed over
    the whole sequence after the loop.
    """
    h_prev, z, r, n = cache_t
    dh = dstate.h + dy_t
    dz = dh * (h_prev - n)
    dn = dh * (1.0 - z)
    dp_n = dn * (1.0 - n * n)
    dr = dp_n * h_prev
    rm1 = r - 1.0
    dp_r = dr * (1.0 - rm1 * rm1)
    dp_z = dz * z * (1.0 - z)
    dh_prev = dh * z + dp_n * r + dp_z * p["w_z"] + dp_r * p["w_r"]
    return np.concatenate([dp_z, dp_r, dp_n], axis=1), State(dh_prev), {}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads (all of them)."""
    return {"h_prev", "z", "r", "n"}


class BRC(Cell):
    """Bistable Recurrent Cell. Params ``U_x (n_in,3H)``, ``w_z (H)``, ``w_r (H)``, ``b (3H)``.

    Initialization: ``U_x`` Xavier-uniform per block (fan_in n_in, fan_out H), as for the
    SRC's input weights (De Geeter et al., Appendix A); ``w_z``, ``w_r`` uniform(-1, 1) so
    that some neurons start bistable (r > 1 needs w_r h > 0); biases zero.
    """

    name = "brc"
    Config = Config
    State = State

    def _init_params(self, rng):
        n, H = self.n_in, self.n_hidden
        lim = np.sqrt(6.0 / (n + H))
        return {"U_x": rng.uniform(-lim, lim, (n, 3 * H)),
                "w_z": rng.uniform(-1.0, 1.0, H), "w_r": rng.uniform(-1.0, 1.0, H),
                "b": np.zeros(3 * H)}

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """``a[t] = x[t] U_x`` for all steps at once: (T, B, 3H)."""
        T, B, _ = x.shape
        return (x.reshape(T * B, -1) @ self.params["U_x"]).reshape(T, B, 3 * self.n_hidden)

    def _forward(self, x, state, ops):
        p, cfg = self.params, self.config
        hs, steps, final = scan_h(step_forward, self.inputs(x), state, p, cfg, ops, reads(p, cfg))
        return hs[1:], {"x": x, "hs": hs, "steps": steps, "final_state": final}

    def _backward(self, dy, cache):
        x, steps = cache["x"], cache["steps"]
        T, B, _ = x.shape
        H = self.n_hidden
        p, cfg = self.params, self.config
        dP = np.empty((T, B, 3 * H), self.dtype)
        dstate = State(np.zeros_like(dy[0]))  # nothing comes back from after the last step
        for t in reversed(range(T)):
            dP[t], dstate, _ = step_backward(dy[t], dstate, steps[t], p, cfg)
        dP2 = dP.reshape(T * B, 3 * H)
        h_prev = cache["hs"][:-1]
        grads = {"U_x": x.reshape(T * B, -1).T @ dP2,
                 "w_z": np.einsum("tbh,tbh->h", dP[:, :, :H], h_prev),
                 "w_r": np.einsum("tbh,tbh->h", dP[:, :, H:2 * H], h_prev),
                 "b": dP2.sum(0)}
        dx = (dP2 @ p["U_x"].T).reshape(x.shape)
        return dx, grads
