"""Gated recurrent unit (Cho et al., 2014), in the variant PyTorch and cuDNN implement.

The other conventional baseline; the bistable recurrent cell (brc) of Vecoven et al. and
the Spiking Recurrent Cell of De Geeter et al. (2023, Eq. 3) are built on its update rule
``h = z*h_prev + (1-z)*candidate``.

Notation
--------
``x[t]`` (B, n_in)
    the input at step t; ``T`` steps, ``B`` sequences, ``H`` hidden units.
``a[t] = x[t] W_x`` (B, 3H)
    the step's input projection, computed for all steps before the loop (:meth:`GRU.inputs`).
``ax = a[t] + b``, ``ah = h[t-1] W_h`` (B, 3H)
    the input-side and recurrent-side pre-activations, blocks z, r, n (``ax_z``, ...).
``z``, ``r`` (B, H)
    the update and reset gates; ``n`` (B, H) the candidate.
``h[t]`` (B, H)
    the hidden state, also the output ``y[t]``.
``sigma``
    the logistic sigmoid.
``W_x (n_in, 3H)``, ``W_h (H, 3H)``, ``b (3H)``
    the parameters, blocks z, r, n.
``dX``
    the gradient of the loss with respect to ``X``.

Equations (one step)::

    z    = sigma(ax_z + ah_z)                   update gate
    r    = sigma(ax_r + ah_r)                   reset gate
    n    = tanh(ax_n + r * ah_n)                candidate: x W_xn + r*(h[t-1] W_hn) + b_n
    h[t] = z * h[t-1] + (1 - z) * n

Note where the reset gate acts: on the *product* ``h[t-1] W_hn`` (not on ``h[t-1]`` before
the product, as in Cho et al.'s original), and ``b_n`` sits outside the gating (PyTorch
also has a second bias ``b_hn`` inside the gating; we have one bias per block).

Backward (exact chain rule). With ``dh`` the total gradient reaching ``h[t]`` (``dy[t]``
from above plus what step t+1 sends back)::

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
(docs/design.md; PyTorch orders them r, z, n). State: ``(h)``, zeros by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit as sigmoid  # stable for any |a|; float32 in, float32 out

from ..ops import EXACT, Ops
from .base import Cell, scan_h


class State(NamedTuple):
    h: np.ndarray  # (B, H)


@dataclass(frozen=True)
class Config:
    """The GRU has no options beyond its sizes."""


class Cache(NamedTuple):
    h_prev: np.ndarray  # (B, H) h[t-1]
    z: np.ndarray       # (B, H) update gate
    r: np.ndarray       # (B, H) reset gate
    n: np.ndarray       # (B, H) candidate
    ah_n: np.ndarray    # (B, H) h[t-1] W_hn, the product the reset gate scales


def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: Config,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step. ``a_t`` (B, 3H) is this step's input projection ``x[t] W_x``.

    Returns ``(h, State(h), Cache)``. ``cfg`` and ``ops`` are unused (no options,
    nothing non-differentiable); they are part of the signature every cell shares.
    """
    h_prev = state.h
    H = h_prev.shape[1]
    ax = a_t + p["b"]
    ah = h_prev @ p["W_h"]
    zr = sigmoid(ax[:, :2 * H] + ah[:, :2 * H])
    z, r = zr[:, :H], zr[:, H:]
    ah_n = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * ah_n)
    h = z * h_prev + (1.0 - z) * n
    return h, State(h), Cache(h_prev, z, r, n, ah_n)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: Config) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step.

    ``dy_t`` (B, H): the gradient reaching the output ``h[t]`` from above; ``dstate``: a
    ``State`` of the gradient reaching ``h[t]`` from step t+1. Returns ``(dax,
    State(dh[t-1]), {})``: the gradient of the input-side pre-activation ``ax = a_t + b``
    (B, 3H; also the gradient of ``a_t``) and the gradient carried to ``h[t-1]``. The
    recurrent side's gradient ``dah`` (``dax`` with its n block times r) is formed here
    for ``dh[t-1]``; the sequence backward forms it again for ``dW_h``.
    """
    h_prev, z, r, n, ah_n = cache_t
    dh = dstate.h + dy_t
    H = dh.shape[1]
    dax = np.empty((dh.shape[0], 3 * H), dh.dtype)
    dax[:, 2 * H:] = dh * (1.0 - z) * (1.0 - n * n)           # candidate n
    dax[:, :H] = dh * (h_prev - n) * z * (1.0 - z)           # update gate z
    dax[:, H:2 * H] = dax[:, 2 * H:] * ah_n * r * (1.0 - r)  # reset gate r
    dah = dax.copy()
    dah[:, 2 * H:] *= r                                      # ah_n enters multiplied by r
    dh_prev = dh * z + dah @ p["W_h"].T                      # leaky path + through W_h
    return dax, State(dh_prev), {}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The ``Cache`` fields :func:`step_backward` reads (all of them)."""
    return {"h_prev", "z", "r", "n", "ah_n"}


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

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """``a[t] = x[t] W_x`` for all steps at once: (T, B, 3H)."""
        T, B, _ = x.shape
        return (x.reshape(T * B, -1) @ self.params["W_x"]).reshape(T, B, 3 * self.n_hidden)

    def _forward(self, x, state, ops):
        p, cfg = self.params, self.config
        hs, steps, final = scan_h(step_forward, self.inputs(x), state, p, cfg, ops, reads(p, cfg))
        return hs[1:], {"x": x, "hs": hs, "steps": steps, "final_state": final}

    def _backward(self, dy, cache):
        x, steps = cache["x"], cache["steps"]
        T, B, _ = x.shape
        H = self.n_hidden
        p, cfg = self.params, self.config
        dAx = np.empty((T, B, 3 * H), self.dtype)
        dstate = State(np.zeros_like(dy[0]))  # nothing comes back from after the last step
        for t in reversed(range(T)):
            dAx[t], dstate, _ = step_backward(dy[t], dstate, steps[t], p, cfg)
        dAh = dAx.copy()                       # the recurrent side: n block times r
        dAh[:, :, 2 * H:] *= np.stack([c.r for c in steps])
        dAx2 = dAx.reshape(T * B, -1)
        H_prev = cache["hs"][:-1].reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dAx2,
                 "W_h": H_prev.T @ dAh.reshape(T * B, -1),
                 "b": dAx2.sum(0)}
        dx = (dAx2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads
