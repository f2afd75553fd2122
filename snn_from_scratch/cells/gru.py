"""Gated recurrent unit (Cho et al., 2014), in the variant PyTorch and cuDNN implement.

The other conventional baseline; the bistable recurrent cell (brc) of Vecoven et al. and
the Spiking Recurrent Cell of De Geeter et al. (2023, Eq. 3) are built on its update rule
``h = z*h_prev + (1-z)*candidate``.

Equations (one step; sigma is the logistic sigmoid)::

    ax   = x[t] W_x + b                         (B, 3H), blocks z, r, n
    ah   = h[t-1] W_h                           (B, 3H), blocks z, r, n
    z    = sigma(ax_z + ah_z)                   update gate
    r    = sigma(ax_r + ah_r)                   reset gate
    n    = tanh(ax_n + r * ah_n)                candidate: x W_xn + r*(h[t-1] W_hn) + b_n
    h[t] = z * h[t-1] + (1 - z) * n

Note where the reset gate acts: on the *product* ``h[t-1] W_hn`` (not on ``h[t-1]`` before
the product, as in Cho et al.'s original), and ``b_n`` sits outside the gating (PyTorch
also has a second bias ``b_hn`` inside the gating; we have one bias per block).

Backward (exact chain rule). With ``dh`` the total gradient reaching ``h[t]``::

    dz    = dh * (h[t-1] - n)
    dn    = dh * (1 - z)
    dax_n = dn * (1 - n^2)                       pre-activation of the candidate
    dr    = dax_n * ah_n                         r multiplies ah_n ...
    dah_n = dax_n * r                            ... and ah_n is multiplied by r
    dax_z = dz * z (1 - z);   dah_z = dax_z
    dax_r = dr * r (1 - r);   dah_r = dax_r
    dh[t-1] = dh * z + dah W_h^T                 direct (leaky) path + through W_h

So the input side and the recurrent side see *different* pre-activation gradients in the
n block: ``dW_x = X^T dAx`` and ``db = sum dAx``, but ``dW_h = H_prev^T dAh`` with
``dAh = [dax_z, dax_r, r * dax_n]``. Both are still one matrix product after the loop.

Shapes: x (T, B, n_in), h (T, B, H); W_x (n_in, 3H), W_h (H, 3H), b (3H,), blocks z, r, n
(DESIGN.md; PyTorch orders them r, z, n). State: ``(h)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit as sigmoid  # stable for any |a|; float32 in, float32 out

from .base import Cell


class State(NamedTuple):
    h: np.ndarray  # (B, H)


@dataclass(frozen=True)
class Config:
    """The GRU has no options beyond its sizes."""


def step_forward(ax_t, state, W_h, b):
    """One step. ``ax_t`` (B, 3H) is this step's input projection ``x[t] W_x``.

    Returns ``(h, State(h), cache_t)``; ``cache_t = (h_prev, z, r, n, ah_n)`` with
    ``ah_n = h_prev W_hn`` (needed by the backward of the r-gated product).
    """
    h_prev = state.h
    H = h_prev.shape[1]
    ax = ax_t + b
    ah = h_prev @ W_h
    zr = sigmoid(ax[:, :2 * H] + ah[:, :2 * H])
    z, r = zr[:, :H], zr[:, H:]
    ah_n = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * ah_n)
    h = z * h_prev + (1.0 - z) * n
    return h, State(h), (h_prev, z, r, n, ah_n)


def step_backward(dh, cache_t, W_h):
    """Backward of one step. ``dh`` (B, H) is the total gradient reaching ``h[t]``.

    Returns ``(dax, dah, dh_prev)``: the gradient of the input-side pre-activation
    ``ax = x W_x + b`` (B, 3H), of the recurrent product ``ah = h_prev W_h`` (B, 3H; its n
    block is the x-side one times r) and the gradient carried to ``h[t-1]``.
    """
    h_prev, z, r, n, ah_n = cache_t
    H = dh.shape[1]
    dax = np.empty((dh.shape[0], 3 * H), dh.dtype)
    dax[:, 2 * H:] = dh * (1.0 - z) * (1.0 - n * n)           # candidate n
    dax[:, :H] = dh * (h_prev - n) * z * (1.0 - z)           # update gate z
    dax[:, H:2 * H] = dax[:, 2 * H:] * ah_n * r * (1.0 - r)  # reset gate r
    dah = dax.copy()
    dah[:, 2 * H:] *= r                                      # ah_n enters multiplied by r
    dh_prev = dh * z + dah @ W_h.T                           # leaky path + through W_h
    return dax, dah, dh_prev


class GRU(Cell):
    """GRU cell. Params ``W_x (n_in,3H)``, ``W_h (H,3H)``, ``b (3H)``, blocks z, r, n.

    Initialization: uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter (PyTorch's).
    """

    name = "gru"
    Config = Config
    State = State

    def _init_params(self, rng):
        k = 1.0 / np.sqrt(self.n_hidden)
        H, n = self.n_hidden, self.n_in
        return {"W_x": rng.uniform(-k, k, (n, 3 * H)), "W_h": rng.uniform(-k, k, (H, 3 * H)),
                "b": rng.uniform(-k, k, 3 * H)}

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        H = self.n_hidden
        p = self.params
        A_x = (x.reshape(T * B, -1) @ p["W_x"]).reshape(T, B, 3 * H)  # all steps at once
        hs = np.empty((T + 1, B, H), self.dtype)
        zrn = np.empty((T, B, 3 * H), self.dtype)   # activated z, r, n per step
        ah_n = np.empty((T, B, H), self.dtype)
        hs[0] = state.h
        for t in range(T):
            hs[t + 1], state, (_, z, r, n, ah_n[t]) = step_forward(A_x[t], state, p["W_h"], p["b"])
            zrn[t, :, :H], zrn[t, :, H:2 * H], zrn[t, :, 2 * H:] = z, r, n
        return hs[1:], {"x": x, "hs": hs, "zrn": zrn, "ah_n": ah_n, "final_state": state}

    def _backward(self, dy, cache):
        x, hs, zrn, ah_n = cache["x"], cache["hs"], cache["zrn"], cache["ah_n"]
        T, B, _ = x.shape
        H = self.n_hidden
        p = self.params
        dAx = np.empty((T, B, 3 * H), self.dtype)
        dAh = np.empty((T, B, 3 * H), self.dtype)
        dh = np.zeros_like(hs[0])
        for t in reversed(range(T)):
            z, r, n = zrn[t, :, :H], zrn[t, :, H:2 * H], zrn[t, :, 2 * H:]
            dAx[t], dAh[t], dh = step_backward(dh + dy[t], (hs[t], z, r, n, ah_n[t]), p["W_h"])
        dAx2 = dAx.reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dAx2,
                 "W_h": hs[:-1].reshape(T * B, -1).T @ dAh.reshape(T * B, -1),
                 "b": dAx2.sum(0)}
        dx = (dAx2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads


#: Configurations proven by `python -m snn_from_scratch gradcheck` (smooth cell: plain FD).
PROOFS = {"default": ({}, None)}
