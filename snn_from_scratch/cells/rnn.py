"""Elman RNN: ``h[t] = tanh(x[t] W_x + h[t-1] W_h + b)``.

The simplest recurrent cell and the template every other cell follows (docs/design.md,
"The cell protocol").

Notation
--------
``x[t]`` (B, n_in)
    the input at step t; ``T`` steps, ``B`` sequences, ``H`` hidden units.
``a[t] = x[t] W_x`` (B, H)
    the step's input projection, computed for all steps before the loop (:meth:`RNN.inputs`).
``h[t]`` (B, H)
    the hidden state, which is also the output ``y[t]``; ``h[-1]`` is the initial state.
``W_x (n_in, H)``, ``W_h (H, H)``, ``b (H)``
    the parameters.
``dX``
    the gradient of the loss with respect to ``X``.

Equation (one step)::

    h[t] = tanh(a[t] + h[t-1] W_h + b)

Backward (the exact chain rule: tanh is smooth, no surrogate). With ``dh`` the total
gradient reaching ``h[t]`` (``dy[t]`` from above plus what step t+1 sends back)::

    da[t]   = dh * (1 - h[t]^2)                  tanh' = 1 - tanh^2
    dh[t-1] = da[t] W_h^T                        what step t-1 receives

and, after the loop, one matrix product per weight over the stacked sequence:
``dW_x = X^T dA``, ``dW_h = H_prev^T dA``, ``db = sum dA``, ``dx = dA W_x^T``.

Shapes: x (T, B, n_in), h (T, B, H). State ``(h)``, zeros by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..ops import EXACT, Ops
from .base import Cell, scan_h


class State(NamedTuple):
    h: np.ndarray  # (B, H)


@dataclass(frozen=True)
class Config:
    """The RNN has no options beyond its sizes."""


class Cache(NamedTuple):
    h_prev: np.ndarray  # (B, H) h[t-1]
    h: np.ndarray       # (B, H) h[t]


def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: Config,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step. ``a_t`` (B, H) is this step's input projection ``x[t] W_x``.

    Returns ``(h, State(h), Cache(h_prev, h))`` with ``h = tanh(a_t + h_prev W_h + b)``.
    ``cfg`` and ``ops`` are unused (no options, nothing non-differentiable); they are part
    of the signature every cell shares.
    """
    h_prev = state.h
    h = np.tanh(a_t + h_prev @ p["W_h"] + p["b"])
    return h, State(h), Cache(h_prev, h)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: Config) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step.

    ``dy_t`` (B, H): the gradient reaching the output ``h[t]`` from above; ``dstate``: a
    ``State`` of the gradient reaching ``h[t]`` from step t+1. Returns ``(da, dstate_prev,
    {})``: the pre-activation gradient ``da = dh * (1 - h^2)`` and ``State(da W_h^T)``,
    the gradient reaching ``h[t-1]``. No parameter gradient is formed inside the step.
    """
    dh = dstate.h + dy_t                 # h[t] is the output and the next step's input
    da = dh * (1.0 - cache_t.h * cache_t.h)
    return da, State(da @ p["W_h"].T), {}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads."""
    return {"h"}


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

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """``a[t] = x[t] W_x`` for all steps at once: (T, B, H)."""
        T, B, _ = x.shape
        return (x.reshape(T * B, -1) @ self.params["W_x"]).reshape(T, B, -1)

    def _forward(self, x, state, ops):
        p, cfg = self.params, self.config
        hs, steps, final = scan_h(step_forward, self.inputs(x), state, p, cfg, ops, reads(p, cfg))
        return hs[1:], {"x": x, "hs": hs, "steps": steps, "final_state": final}

    def _backward(self, dy, cache):
        x, steps = cache["x"], cache["steps"]
        T, B, _ = x.shape
        p, cfg = self.params, self.config
        dA = np.empty_like(dy)
        dstate = State(np.zeros_like(dy[0]))  # nothing comes back from after the last step
        for t in reversed(range(T)):
            dA[t], dstate, _ = step_backward(dy[t], dstate, steps[t], p, cfg)
        dA2 = dA.reshape(T * B, -1)
        H_prev = cache["hs"][:-1].reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dA2,
                 "W_h": H_prev.T @ dA2,
                 "b": dA2.sum(0)}
        dx = (dA2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads
