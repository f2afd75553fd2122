"""Long short-term memory (Hochreiter & Schmidhuber, 1997; forget gate of Gers et al., 2000).

The conventional (non-spiking) baseline of the three papers, and the smooth ancestor of
the spiking LSTM of Lotfi Rezaabad & Vishwanath (2020, Eq. 1), whose equations have the
same shape with every sigmoid/tanh replaced by a thresholded Heaviside.

Equations (one step; sigma is the logistic sigmoid)::

    a      = x[t] W_x + h[t-1] W_h + b                  (B, 4H), blocks f, i, g, o
    f      = sigma(a_f)      forget gate
    i      = sigma(a_i)      input gate
    g      = tanh(a_g)       candidate
    o      = sigma(a_o)      output gate
    c[t]   = f * c[t-1] + i * g
    h[t]   = o * tanh(c[t])

Backward (exact chain rule; nothing is a surrogate). With ``dh`` the total gradient reaching
``h[t]`` (from the layer above *and* from step t+1) and ``dc`` the gradient carried into
``c[t]`` from step t+1::

    dc_total = dc + dh * o * (1 - tanh(c)^2)       c[t] feeds h[t] and c[t+1]
    da_f = dc_total * c[t-1] * f (1 - f)
    da_i = dc_total * g      * i (1 - i)
    da_g = dc_total * i      * (1 - g^2)
    da_o = dh * tanh(c)      * o (1 - o)
    dc[t-1] = dc_total * f                          the "constant error carousel"
    dh[t-1] = da W_h^T                              (to which step t-1 adds its dy)

Shapes: x (T, B, n_in), h (T, B, H); W_x (n_in, 4H), W_h (H, 4H), b (4H,), gate blocks in
the order f, i, g, o (DESIGN.md; PyTorch orders them i, f, g, o — map with care).
State: ``(h, c)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit as sigmoid  # stable for any |a|; float32 in, float32 out

from .base import Cell


class State(NamedTuple):
    h: np.ndarray  # (B, H) hidden output
    c: np.ndarray  # (B, H) cell (memory) state


@dataclass(frozen=True)
class Config:
    """The LSTM has no options beyond its sizes."""


def step_forward(ax_t, state, W_h, b):
    """One step. ``ax_t`` (B, 4H) is this step's input projection ``x[t] W_x``.

    Returns ``(h, State(h, c), cache_t)``; ``cache_t = (h_prev, c_prev, gates, tanh_c)``
    where ``gates`` (B, 4H) holds the activated f, i, g, o.
    """
    h_prev, c_prev = state
    H = h_prev.shape[1]
    a = ax_t + h_prev @ W_h + b
    gates = np.empty_like(a)
    gates[:, :2 * H] = sigmoid(a[:, :2 * H])      # f, i
    gates[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
    gates[:, 3 * H:] = sigmoid(a[:, 3 * H:])      # o
    f, i, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, State(h, c), (h_prev, c_prev, gates, tanh_c)


def step_backward(dh, dc, cache_t, W_h):
    """Backward of one step.

    ``dh`` (B, H) is the total gradient reaching ``h[t]``, ``dc`` (B, H) the gradient
    reaching ``c[t]`` from step t+1. Returns ``(da, dh_prev, dc_prev)``: the pre-activation
    gradient ``da`` (B, 4H, blocks f, i, g, o) and the gradients carried to ``h[t-1]``
    (through ``W_h``) and ``c[t-1]`` (through the forget gate).
    """
    _, c_prev, gates, tanh_c = cache_t
    H = dh.shape[1]
    f, i, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    # c[t] reaches the loss twice: through h[t] = o*tanh(c[t]) and through c[t+1].
    dc_total = dc + dh * o * (1.0 - tanh_c * tanh_c)
    da = np.empty_like(gates)
    da[:, :H] = dc_total * c_prev * f * (1.0 - f)          # forget gate
    da[:, H:2 * H] = dc_total * g * i * (1.0 - i)           # input gate
    da[:, 2 * H:3 * H] = dc_total * i * (1.0 - g * g)       # candidate
    da[:, 3 * H:] = dh * tanh_c * o * (1.0 - o)             # output gate
    return da, da @ W_h.T, dc_total * f


class LSTM(Cell):
    """LSTM cell. Params ``W_x (n_in,4H)``, ``W_h (H,4H)``, ``b (4H)``, blocks f, i, g, o.

    Initialization: uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter (PyTorch's).
    """

    name = "lstm"
    Config = Config
    State = State

    def _init_params(self, rng):
        k = 1.0 / np.sqrt(self.n_hidden)
        H, n = self.n_hidden, self.n_in
        return {"W_x": rng.uniform(-k, k, (n, 4 * H)), "W_h": rng.uniform(-k, k, (H, 4 * H)),
                "b": rng.uniform(-k, k, 4 * H)}

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        H = self.n_hidden
        p = self.params
        A_x = (x.reshape(T * B, -1) @ p["W_x"]).reshape(T, B, 4 * H)  # all steps at once
        hs = np.empty((T + 1, B, H), self.dtype)
        cs = np.empty((T + 1, B, H), self.dtype)
        gates = np.empty((T, B, 4 * H), self.dtype)
        tanh_cs = np.empty((T, B, H), self.dtype)
        hs[0], cs[0] = state.h, state.c
        for t in range(T):
            hs[t + 1], state, (_, _, gates[t], tanh_cs[t]) = step_forward(A_x[t], state, p["W_h"], p["b"])
            cs[t + 1] = state.c
        cache = {"x": x, "hs": hs, "cs": cs, "gates": gates, "tanh_cs": tanh_cs,
                 "final_state": state}
        return hs[1:], cache

    def _backward(self, dy, cache):
        x, hs, cs, gates, tanh_cs = (cache[k] for k in ("x", "hs", "cs", "gates", "tanh_cs"))
        T, B, _ = x.shape
        p = self.params
        dA = np.empty((T, B, 4 * self.n_hidden), self.dtype)
        dh = np.zeros_like(hs[0])
        dc = np.zeros_like(cs[0])
        for t in reversed(range(T)):
            cache_t = (hs[t], cs[t], gates[t], tanh_cs[t])
            dA[t], dh, dc = step_backward(dh + dy[t], dc, cache_t, p["W_h"])
        dA2 = dA.reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dA2,
                 "W_h": hs[:-1].reshape(T * B, -1).T @ dA2,
                 "b": dA2.sum(0)}
        dx = (dA2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads


#: Configurations proven by `python -m snn_from_scratch gradcheck` (smooth cell: plain FD).
PROOFS = {"default": ({}, None)}
