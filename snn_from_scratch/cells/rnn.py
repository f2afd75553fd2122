"""Elman RNN: ``h[t] = tanh(x[t] W_x + h[t-1] W_h + b)``.

The simplest recurrent cell and the template every other cell follows:

* ``step_forward`` / ``step_backward`` — one time step and its exact chain rule;
* ``RNN._forward`` projects the input of *all* steps with one matrix product before the
  time loop (``A_x = X W_x``), then loops over time;
* ``RNN._backward`` loops backward over time collecting the pre-activation gradients
  ``dA[t]`` and forms every weight gradient with one matrix product after the loop
  (``dW_x = X^T dA``, ``dW_h = H_prev^T dA``), and ``dx = dA W_x^T``.

Shapes: x (T, B, n_in), h (T, B, H); W_x (n_in, H), W_h (H, H), b (H,).
Backward: the exact gradient of ``sum(dy * h)`` (tanh is smooth, no surrogate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import Cell


class State(NamedTuple):
    h: np.ndarray  # (B, H)


@dataclass(frozen=True)
class Config:
    """The RNN has no options beyond its sizes."""


def step_forward(ax_t, state, W_h, b):
    """One step. ``ax_t`` (B, H) is this step's input projection ``x[t] W_x``.

    Returns ``(h, State(h), cache_t)`` with ``h = tanh(ax_t + h_prev W_h + b)``.
    """
    h_prev = state.h
    h = np.tanh(ax_t + h_prev @ W_h + b)
    return h, State(h), (h_prev, h)


def step_backward(dh, cache_t, W_h):
    """Backward of one step. ``dh`` (B, H) is the total gradient reaching ``h[t]``.

    Returns ``(da, dh_prev)``: the pre-activation gradient ``da = dh * (1 - h^2)``
    (tanh' = 1 - tanh^2) and the gradient carried to ``h[t-1]``, ``da W_h^T``.
    """
    _, h = cache_t
    da = dh * (1.0 - h * h)
    return da, da @ W_h.T


class RNN(Cell):
    """Elman RNN cell. Params ``W_x (n_in,H)``, ``W_h (H,H)``, ``b (H)``.

    Initialization: uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter (PyTorch's).
    """

    name = "rnn"
    Config = Config
    State = State

    def _init_params(self, rng):
        k = 1.0 / np.sqrt(self.n_hidden)
        H, n = self.n_hidden, self.n_in
        return {"W_x": rng.uniform(-k, k, (n, H)), "W_h": rng.uniform(-k, k, (H, H)),
                "b": rng.uniform(-k, k, H)}

    def _forward(self, x, state, twin):
        T, B, _ = x.shape
        p = self.params
        A_x = (x.reshape(T * B, -1) @ p["W_x"]).reshape(T, B, -1)  # all steps at once
        hs = np.empty((T + 1, B, self.n_hidden), self.dtype)
        hs[0] = state.h
        for t in range(T):
            hs[t + 1], state, _ = step_forward(A_x[t], state, p["W_h"], p["b"])
        return hs[1:], {"x": x, "hs": hs, "final_state": state}

    def _backward(self, dy, cache):
        x, hs = cache["x"], cache["hs"]
        T, B, _ = x.shape
        p = self.params
        dA = np.empty_like(dy)
        dh = np.zeros_like(hs[0])
        for t in reversed(range(T)):
            dA[t], dh = step_backward(dh + dy[t], (hs[t], hs[t + 1]), p["W_h"])
        dA2 = dA.reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dA2,
                 "W_h": hs[:-1].reshape(T * B, -1).T @ dA2,
                 "b": dA2.sum(0)}
        dx = (dA2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads


#: Configurations proven by `python -m snn_from_scratch gradcheck` (smooth cell: plain FD).
PROOFS = {"default": ({}, None)}
