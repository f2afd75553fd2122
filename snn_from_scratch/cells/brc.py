"""Bistable Recurrent Cell (BRC) of Vecoven, Ernst & Drion (2021), as quoted by De Geeter,
Ernst & Drion (2023), §3.1 — the cell the Spiking Recurrent Cell is derived from.

Per neuron (``*`` is elementwise; ``w_z``, ``w_r`` are *vectors*: the memory is cellular,
each neuron only sees its own past)::

    z[t]  = sigmoid(x[t] U_z + w_z * h[t-1] + b_z)          update gate, in (0, 1)
    r[t]  = 1 + tanh(x[t] U_r + w_r * h[t-1] + b_r)         in (0, 2): r > 1 is bistable
    n[t]  = tanh(x[t] U_h + r[t] * h[t-1] + b_h)            candidate state (paper's h^)
    h[t]  = z[t] * h[t-1] + (1 - z[t]) * n[t]

Two differences from the GRU (DESIGN.md's ``gru``): the recurrent weights are vectors
instead of matrices, and ``r`` spans (0, 2) instead of (0, 1). With ``r > 1`` the map
``h -> tanh(r h + c)`` has a slope above one at the origin, so it has two stable fixed
points (bistability): the positive feedback that the SRC reuses as the rising edge of a
spike.

Shapes: x (T, B, n_in), h (T, B, H). Params (DESIGN.md): ``U_x (n_in, 3H)`` with column
blocks z, r, h; ``w_z (H)``, ``w_r (H)``, ``b (3H)`` (blocks z, r, h).
Backward: the exact gradient of ``sum(dy * h)`` (every function is smooth; no surrogate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from .base import Cell


class State(NamedTuple):
    h: np.ndarray  # (B, H)


@dataclass(frozen=True)
class Config:
    """The BRC has no options beyond its sizes (DESIGN.md)."""


def step_forward(a_t, state, w_z, w_r, b):
    """One step. ``a_t`` (B, 3H) is this step's input projection ``x[t] U_x``.

    Returns ``(h, State(h), cache_t)`` with ``cache_t = (h_prev, z, r, n)``.
    """
    h_prev = state.h
    H = h_prev.shape[1]
    z = expit(a_t[:, :H] + w_z * h_prev + b[:H])
    r = 1.0 + np.tanh(a_t[:, H:2 * H] + w_r * h_prev + b[H:2 * H])
    n = np.tanh(a_t[:, 2 * H:] + r * h_prev + b[2 * H:])
    h = z * h_prev + (1.0 - z) * n
    return h, State(h), (h_prev, z, r, n)


def step_backward(dh, cache_t, w_z, w_r):
    """Backward of one step. ``dh`` (B, H) is the total gradient reaching ``h[t]``.

    Returns ``(da, dh_prev)``, ``da`` (B, 3H) the gradients of the three pre-activations
    (blocks z, r, h) and ``dh_prev`` the gradient carried to ``h[t-1]``:

    * ``h = z h_prev + (1-z) n``: dz = dh (h_prev - n), dn = dh (1-z), dh_prev = dh z;
    * ``n = tanh(p_n)``, ``p_n = a_h + r h_prev + b_h``: dp_n = dn (1 - n^2),
      dr = dp_n h_prev, dh_prev += dp_n r;
    * ``r = 1 + tanh(p_r)``: dp_r = dr (1 - (r-1)^2); ``z = sigmoid(p_z)``: dp_z = dz z (1-z);
    * the vector recurrences ``w_z h_prev``, ``w_r h_prev``: dh_prev += dp_z w_z + dp_r w_r.
    """
    h_prev, z, r, n = cache_t
    dz = dh * (h_prev - n)
    dn = dh * (1.0 - z)
    dp_n = dn * (1.0 - n * n)
    dr = dp_n * h_prev
    rm1 = r - 1.0
    dp_r = dr * (1.0 - rm1 * rm1)
    dp_z = dz * z * (1.0 - z)
    dh_prev = dh * z + dp_n * r + dp_z * w_z + dp_r * w_r
    return np.concatenate([dp_z, dp_r, dp_n], axis=1), dh_prev


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

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        H = self.n_hidden
        p = self.params
        A = (x.reshape(T * B, -1) @ p["U_x"]).reshape(T, B, 3 * H)  # all steps at once
        hs = np.empty((T + 1, B, H), self.dtype)
        zs, rs, ns = (np.empty((T, B, H), self.dtype) for _ in range(3))
        hs[0] = state.h
        for t in range(T):
            hs[t + 1], state, (_, zs[t], rs[t], ns[t]) = step_forward(A[t], state, p["w_z"],
                                                                       p["w_r"], p["b"])
        return hs[1:], {"x": x, "hs": hs, "z": zs, "r": rs, "n": ns, "final_state": state}

    def _backward(self, dy, cache):
        x, hs = cache["x"], cache["hs"]
        T, B, _ = x.shape
        H = self.n_hidden
        p = self.params
        dA = np.empty((T, B, 3 * H), self.dtype)
        dh = np.zeros_like(hs[0])
        for t in reversed(range(T)):
            dA[t], dh = step_backward(dh + dy[t], (hs[t], cache["z"][t], cache["r"][t],
                                                   cache["n"][t]), p["w_z"], p["w_r"])
        dA2 = dA.reshape(T * B, 3 * H)
        hp = hs[:-1]
        grads = {"U_x": x.reshape(T * B, -1).T @ dA2,
                 "w_z": np.einsum("tbh,tbh->h", dA[:, :, :H], hp),
                 "w_r": np.einsum("tbh,tbh->h", dA[:, :, H:2 * H], hp),
                 "b": dA2.sum(0)}
        dx = (dA2 @ p["U_x"].T).reshape(x.shape)
        return dx, grads


#: Configurations proven by `python -m snn_from_scratch gradcheck` (smooth cell: plain FD).
PROOFS = {"default": ({}, None)}

#: Configuration used by `python -m snn_from_scratch tour`.
TOUR_CONFIG = {}
