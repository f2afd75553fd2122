"""Long short-term memory (Hochreiter & Schmidhuber, 1997; forget gate of Gers et al., 2000).

The conventional (non-spiking) baseline of the three papers, and the smooth ancestor of
the spiking LSTM of Lotfi Rezaabad & Vishwanath (2020, Eq. 1), whose equations have the
same shape with every sigmoid/tanh replaced by a thresholded Heaviside.

Notation
--------
``x[t]`` (B, n_in)
    the input at step t; ``T`` steps, ``B`` sequences, ``H`` hidden units.
``a[t] = x[t] W_x`` (B, 4H)
    the step's input projection, computed for all steps before the loop (:meth:`LSTM.inputs`).
``u`` (B, 4H)
    the pre-activation of the four gates, blocks ``u_f, u_i, u_g, u_o``.
``f, i, o`` (B, H)
    the forget, input and output gates; ``g`` (B, H) the candidate.
``c[t]``, ``h[t]`` (B, H)
    the cell (memory) state and the hidden state; ``h[t]`` is also the output ``y[t]``.
``sigma``
    the logistic sigmoid.
``W_x (n_in, 4H)``, ``W_h (H, 4H)``, ``b (4H)``
    the parameters, gate blocks in the order f, i, g, o.
``dX``
    the gradient of the loss with respect to ``X``.

Equations (one step)::

    u      = a[t] + h[t-1] W_h + b
    f      = sigma(u_f)      forget gate
    i      = sigma(u_i)      input gate
    g      = tanh(u_g)       candidate
    o      = sigma(u_o)      output gate
    c[t]   = f * c[t-1] + i * g
    h[t]   = o * tanh(c[t])

Backward (exact chain rule; nothing is a surrogate). With ``dh`` the total gradient reaching
``h[t]`` (``dy[t]`` from the layer above *plus* what step t+1 sends back) and ``dc`` the
gradient carried into ``c[t]`` from step t+1::

    dc_total = dc + dh * o * (1 - tanh(c)^2)       c[t] feeds h[t] and c[t+1]
    du_f = dc_total * c[t-1] * f (1 - f)
    du_i = dc_total * g      * i (1 - i)
    du_g = dc_total * i      * (1 - g^2)
    du_o = dh * tanh(c)      * o (1 - o)
    dc[t-1] = dc_total * f                          the "constant error carousel"
    dh[t-1] = du W_h^T

``du`` is also the gradient of ``a[t]`` (``u = a[t] + ...``); after the loop
``dW_x = X^T dU``, ``dW_h = H_prev^T dU``, ``db = sum dU``, ``dx = dU W_x^T``.

Shapes: x (T, B, n_in), h (T, B, H); W_x (n_in, 4H), W_h (H, 4H), b (4H,), gate blocks in
the order f, i, g, o (docs/design.md; PyTorch orders them i, f, g, o — map with care).
State: ``(h, c)``, zeros by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit as sigmoid  # stable for any |u|; float32 in, float32 out

from ..ops import EXACT, Ops
from .base import Cell, scan_h


class State(NamedTuple):
    h: np.ndarray  # (B, H) hidden output
    c: np.ndarray  # (B, H) cell (memory) state


@dataclass(frozen=True)
class Config:
    """The LSTM has no options beyond its sizes."""


class Cache(NamedTuple):
    h_prev: np.ndarray  # (B, H) h[t-1]
    c_prev: np.ndarray  # (B, H) c[t-1]
    f: np.ndarray       # (B, H) forget gate
    i: np.ndarray       # (B, H) input gate
    g: np.ndarray       # (B, H) candidate
    o: np.ndarray       # (B, H) output gate
    tanh_c: np.ndarray  # (B, H) tanh(c[t])


def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: Config,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step. ``a_t`` (B, 4H) is this step's input projection ``x[t] W_x``.

    Returns ``(h, State(h, c), Cache)``. ``cfg`` and ``ops`` are unused (no options,
    nothing non-differentiable); they are part of the signature every cell shares.
    """
    h_prev, c_prev = state
    H = h_prev.shape[1]
    u = a_t + h_prev @ p["W_h"] + p["b"]
    gates = np.empty_like(u)      # the activated blocks f, i, g, o side by side
    gates[:, :2 * H] = sigmoid(u[:, :2 * H])              # f, i
    gates[:, 2 * H:3 * H] = np.tanh(u[:, 2 * H:3 * H])    # g
    gates[:, 3 * H:] = sigmoid(u[:, 3 * H:])              # o
    f, i, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, State(h, c), Cache(h_prev, c_prev, f, i, g, o, tanh_c)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: Config) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step.

    ``dy_t`` (B, H): the gradient reaching the output ``h[t]`` from above; ``dstate``: a
    ``State`` of the gradients reaching ``h[t]`` and ``c[t]`` from step t+1. Returns
    ``(du, dstate_prev, {})``: the pre-activation gradient ``du`` (B, 4H, blocks f, i, g,
    o; also the gradient of ``a_t``) and ``State(dh[t-1], dc[t-1])``, the gradients
    carried to ``h[t-1]`` (through ``W_h``) and ``c[t-1]`` (through the forget gate).
    """
    c_prev, tanh_c = cache_t.c_prev, cache_t.tanh_c
    f, i, g, o = cache_t.f, cache_t.i, cache_t.g, cache_t.o
    dh = dstate.h + dy_t
    H = dh.shape[1]
    # c[t] reaches the loss twice: through h[t] = o*tanh(c[t]) and through c[t+1].
    dc_total = dstate.c + dh * o * (1.0 - tanh_c * tanh_c)
    du = np.empty((dh.shape[0], 4 * H), dh.dtype)
    du[:, :H] = dc_total * c_prev * f * (1.0 - f)          # forget gate
    du[:, H:2 * H] = dc_total * g * i * (1.0 - i)           # input gate
    du[:, 2 * H:3 * H] = dc_total * i * (1.0 - g * g)       # candidate
    du[:, 3 * H:] = dh * tanh_c * o * (1.0 - o)             # output gate
    return du, State(du @ p["W_h"].T, dc_total * f), {}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads."""
    return {"c_prev", "f", "i", "g", "o", "tanh_c"}


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

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """``a[t] = x[t] W_x`` for all steps at once: (T, B, 4H)."""
        T, B, _ = x.shape
        return (x.reshape(T * B, -1) @ self.params["W_x"]).reshape(T, B, 4 * self.n_hidden)

    def _forward(self, x, state, ops):
        p, cfg = self.params, self.config
        hs, steps, final = scan_h(step_forward, self.inputs(x), state, p, cfg, ops, reads(p, cfg))
        return hs[1:], {"x": x, "hs": hs, "steps": steps, "final_state": final}

    def _backward(self, dy, cache):
        x, steps = cache["x"], cache["steps"]
        T, B, _ = x.shape
        p, cfg = self.params, self.config
        dU = np.empty((T, B, 4 * self.n_hidden), self.dtype)
        zero = np.zeros_like(dy[0])
        dstate = State(zero, zero)  # nothing comes back from after the last step
        for t in reversed(range(T)):
            dU[t], dstate, _ = step_backward(dy[t], dstate, steps[t], p, cfg)
        dU2 = dU.reshape(T * B, -1)
        H_prev = cache["hs"][:-1].reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dU2,
                 "W_h": H_prev.T @ dU2,
                 "b": dU2.sum(0)}
        dx = (dU2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads
