"""Readouts over time: how a sequence of a layer's outputs becomes class scores.

Notation: ``s[t]`` (B, H) what the last layer transmits at step t = 0..T-1 (spikes, levels
or real values); ``W`` (H, C), ``b`` (C,) learnable; ``C`` classes; ``kappa`` in [0, 1) the
readout's leak.

**Leaky integrator** (SpyTorch's and snnTorch's practice for spiking layers; Neftci,
Mostafa & Zenke 2019): one non-spiking, leaky neuron per class,

    P[t] = s[t] W + b                                      (the input current)
    o[t] = kappa * o[t-1] + (1 - kappa) * P[t],   o[-1] = 0

and the logits are a reduction of ``o`` over time: ``max_t o[t]`` (``reduce="max"``,
snnTorch's ``ce_max_membrane_loss``), ``mean_t o[t]`` (``"mean"``) or ``o[T-1]``
(``"last"``).

Why it matters: a spiking layer read only at its last step gets gradient at one step, and
BPTT must carry it back through every spike's surrogate (each a factor below 1: the
spiking LSTM's unit-state surrogate peaks at 0.28). A readout over time hands every step
its own gradient: ``dL/ds[t]`` is non-zero wherever ``o`` is read, directly or through the
leak.

Backward (the exact chain rule; max is differentiated at its argmax — its derivative
almost everywhere; a tie goes to the first step):

    g[t]   = dL/do[t] (from the reduction) + kappa * g[t+1]     (g[T] = 0)
    dP[t]  = (1 - kappa) * g[t]
    dW = sum_t s[t]^T dP[t],   db = sum_t,b dP[t],   ds[t] = dP[t] W^T

where the reduction gives ``dL/do[t] = dz * 1[t = argmax]`` (max), ``dz / T`` (mean),
``dz * 1[t = T-1]`` (last), with ``dz`` the gradient of the logits.

**Cross-entropy at every step** (rate decoding) needs no new layer: a
:class:`~snn_from_scratch.layers.Linear` at every step with per-step targets
(``output="all"`` of the network).

Same conventions as :mod:`.layers`: ``forward(s)`` returns ``(logits, cache)``,
``backward(dlogits, cache)`` returns ``(ds, grads)``; time-major; no silent dtype change.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import DTypeLike

from .cells.base import check_array, check_choice, check_real

__all__ = ["LeakyIntegrator", "REDUCTIONS"]

REDUCTIONS = ("max", "mean", "last")


class LeakyIntegrator:
    """Learnable leaky-integrator readout; logits = ``reduce`` over time of ``o[t]``.

    ``W (n_in, n_out)``, ``b (n_out,)`` initialized uniform in ``±1/sqrt(n_in)`` (as
    :class:`~snn_from_scratch.layers.Linear`), from ``rng`` or ``default_rng(seed)``.
    ``kappa`` (default 0.9, a time constant of about 10 steps) is fixed.
    """

    kind = "leaky_integrator"

    def __init__(self, n_in: int, n_out: int, kappa: float = 0.9, reduce: str = "max",
                 seed: int = 0, dtype: DTypeLike = np.float64,
                 rng: Optional[np.random.Generator] = None) -> None:
        for nm, v in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{nm} must be a positive integer, got {v!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.kappa = float(check_real("kappa", kappa, 0.0, 1.0, high_open=True))
        self.reduce = check_choice("reduce", reduce, REDUCTIONS)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        if rng is None:
            rng = np.random.default_rng(seed)
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        k = 1.0 / np.sqrt(self.n_in)
        self.params = {"W": rng.uniform(-k, k, (self.n_in, self.n_out)).astype(self.dtype),
                       "b": rng.uniform(-k, k, self.n_out).astype(self.dtype)}

    def forward(self, s: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """``s`` (T, B, n_in) -> logits (B, n_out), cache."""
        check_array("s", s, shape=(None, None, self.n_in), dtype=self.dtype)
        T, B, _ = s.shape
        if T < 1 or B < 1:
            raise ValueError(f"s must have at least one step and one sequence, got shape {s.shape}")
        k = self.dtype.type(self.kappa)
        P = (s.reshape(T * B, -1) @ self.params["W"] + self.params["b"]).reshape(T, B, self.n_out)
        o = np.empty_like(P)
        prev = np.zeros((B, self.n_out), self.dtype)
        for t in range(T):
            prev = k * prev + (1 - k) * P[t]
            o[t] = prev
        if self.reduce == "max":
            arg = np.argmax(o, axis=0)                      # (B, C): first step on a tie
            z = np.take_along_axis(o, arg[None], axis=0)[0]
        elif self.reduce == "mean":
            arg, z = None, o.mean(axis=0)
        else:
            arg, z = None, o[-1].copy()
        return z, {"s": s, "arg": arg, "T": T}

    def backward(self, dz: np.ndarray, cache: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Gradient of ``sum(dz * logits)``: ``ds`` (T, B, n_in) and ``{W, b}``."""
        s, T = cache["s"], cache["T"]
        B = s.shape[1]
        check_array("dz", dz, shape=(B, self.n_out), dtype=self.dtype)
        k = self.dtype.type(self.kappa)
        do = np.zeros((T, B, self.n_out), self.dtype)     # dL/do[t] from the reduction
        if self.reduce == "max":
            np.put_along_axis(do, cache["arg"][None], dz[None], axis=0)
        elif self.reduce == "mean":
            do[:] = dz / self.dtype.type(T)
        else:
            do[-1] = dz
        dP = np.empty_like(do)
        g = np.zeros((B, self.n_out), self.dtype)
        for t in reversed(range(T)):                       # o[t] feeds o[t+1] through kappa
            g = do[t] + k * g
            dP[t] = (1 - k) * g
        dP2 = dP.reshape(T * B, -1)
        grads = {"W": s.reshape(T * B, -1).T @ dP2, "b": dP2.sum(0)}
        return (dP2 @ self.params["W"].T).reshape(s.shape), grads

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out, "kappa": self.kappa,
                "reduce": self.reduce}

    def __repr__(self):
        return (f"LeakyIntegrator(n_in={self.n_in}, n_out={self.n_out}, kappa={self.kappa}, "
                f"reduce={self.reduce!r}, dtype={self.dtype})")
