"""Readouts and losses: ``Linear``, ``LeakyReadout``, softmax cross-entropy and MSE.

Everything here follows the CS231n layer convention used by the cells: ``forward``
returns ``(out, cache)`` and ``backward(dout, cache)`` returns the gradient with respect
to the input and a dict of parameter gradients. The losses return ``(loss, dpred)``
directly, the gradient of the scalar loss with respect to the prediction.

Shapes are time-major like the cells: a sequence is ``(T, B, n)``, one step ``(B, n)``.

Readouts
--------
``Linear`` (``out = h W + b``) reads either every step ``(T, B, H) -> (T, B, C)`` or a
single step ``(B, H) -> (B, C)`` (the network passes ``y[T-1]`` for ``output="last"``).

``LeakyReadout`` is the readout of De Geeter, Ernst & Drion (2023), §4.2: one leaky
integrator per class, ``o[t] = alpha o[t-1] + s[t] W_ro`` with ``alpha = 0.99`` and a
*fixed* weight matrix ``W_ro`` in which each class is excited (+1) by its own group of
``neurons_per_class`` = 10 neurons and inhibited (-0.1) by all the others. The
prediction is read from the integrators at the final time step, ``o[T]``, and the loss
(§4.3) is the cross-entropy of ``o[T]``. It has no learnable parameters.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import DTypeLike

from .cells.base import check_array

__all__ = ["Linear", "LeakyReadout", "softmax", "log_softmax", "softmax_cross_entropy", "mse"]


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _check_size(name, v):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


# --------------------------------------------------------------------------------------
# Linear
# --------------------------------------------------------------------------------------
class Linear:
    """Affine readout ``out = h W + b``.

    Parameters ``W (n_in, n_out)`` and ``b (n_out,)``, both initialized uniform in
    ``±1/sqrt(n_in)`` (PyTorch's ``nn.Linear``), drawn from ``rng`` (or
    ``default_rng(seed)``) and stored in ``dtype``.

    ``forward(h)`` accepts one step ``(B, n_in)`` or a whole sequence ``(T, B, n_in)``
    (every step through the same weights, one matrix product) and keeps the dtype: a
    float32 readout refuses float64 input instead of silently upcasting.
    """

    kind = "linear"

    def __init__(self, n_in: int, n_out: int, seed: int = 0, dtype: DTypeLike = np.float64,
                 rng: Optional[np.random.Generator] = None) -> None:
        self.n_in, self.n_out = _check_size("n_in", n_in), _check_size("n_out", n_out)
        self.dtype = _check_dtype(dtype)
        rng = np.random.default_rng(seed) if rng is None else rng
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        k = 1.0 / np.sqrt(self.n_in)
        self.params = {"W": rng.uniform(-k, k, (self.n_in, self.n_out)).astype(self.dtype),
                       "b": rng.uniform(-k, k, self.n_out).astype(self.dtype)}

    def forward(self, h: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """``h`` (B, n_in) or (T, B, n_in) -> ``out`` (B, n_out) or (T, B, n_out), cache."""
        if not isinstance(h, np.ndarray):
            raise TypeError(f"h must be a numpy array, got {type(h).__name__}")
        if h.ndim not in (2, 3):
            raise ValueError(f"h must have shape (B, n_in) or (T, B, n_in), got {h.shape}")
        check_array("h", h, shape=(None,) * (h.ndim - 1) + (self.n_in,), dtype=self.dtype)
        out = h @ self.params["W"] + self.params["b"]
        return out, {"h": h}

    def backward(self, dout: np.ndarray, cache: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Gradients of ``sum(dout * out)``: returns ``dh`` (shape of h) and {W, b}."""
        h = cache["h"]
        check_array("dout", dout, shape=h.shape[:-1] + (self.n_out,), dtype=self.dtype)
        h2 = h.reshape(-1, self.n_in)
        d2 = dout.reshape(-1, self.n_out)
        grads = {"W": h2.T @ d2, "b": d2.sum(0)}
        return dout @ self.params["W"].T, grads

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out}

    def __repr__(self):
        return f"Linear(n_in={self.n_in}, n_out={self.n_out}, dtype={self.dtype})"


# --------------------------------------------------------------------------------------
# LeakyReadout
# --------------------------------------------------------------------------------------
def readout_weights(n_classes: int, neurons_per_class: int = 10, excite: float = 1.0,
                    inhibit: float = -0.1, dtype: DTypeLike = np.float64) -> np.ndarray:
    """De Geeter et al. §4.2: ``W_ro (n_classes*neurons_per_class, n_classes)``.

    Neuron ``j`` belongs to class ``j // neurons_per_class``; it excites that class's
    integrator with weight ``excite`` (+1) and inhibits every other one with ``inhibit``
    (-0.1).
    """
    n_in = n_classes * neurons_per_class
    W = np.full((n_in, n_classes), inhibit, dtype=dtype)
    W[np.arange(n_in), np.arange(n_in) // neurons_per_class] = excite
    return W


class LeakyReadout:
    """Leaky-integrator readout with fixed weights (De Geeter et al. 2023, §4.2).

    ``o[t] = alpha * o[t-1] + s[t] W_ro`` for t = 1..T with ``o[0] = 0``; the output is
    ``o[T]`` (B, n_classes). Unrolled, ``o[T] = sum_t alpha^(T-t) s[t] W_ro``, so the
    backward pass is ``ds[t] = alpha^(T-t) * do W_ro^T`` — the leak makes early spikes
    count less, by 0.99 per step.

    The input size must be ``neurons_per_class * n_classes`` (ValueError otherwise).
    ``W_ro`` is a frozen buffer, not a parameter: ``params`` is empty and ``backward``
    returns no parameter gradients.
    """

    kind = "leaky"

    def __init__(self, n_in: int, n_classes: int, alpha: float = 0.99,
                 neurons_per_class: int = 10, dtype: DTypeLike = np.float64,
                 excite: float = 1.0, inhibit: float = -0.1) -> None:
        self.n_in = _check_size("n_in", n_in)
        self.n_out = _check_size("n_classes", n_classes)
        self.neurons_per_class = _check_size("neurons_per_class", neurons_per_class)
        if self.n_in != self.neurons_per_class * self.n_out:
            raise ValueError(f"LeakyReadout: n_in ({self.n_in}) must equal neurons_per_class "
                             f"({self.neurons_per_class}) * n_classes ({self.n_out}) = "
                             f"{self.neurons_per_class * self.n_out}")
        if not (isinstance(alpha, (int, float, np.floating)) and 0.0 <= float(alpha) <= 1.0):
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        self.excite, self.inhibit = float(excite), float(inhibit)
        self.dtype = _check_dtype(dtype)
        self.W_ro = readout_weights(self.n_out, self.neurons_per_class, self.excite, self.inhibit, self.dtype)
        self.params = {}

    def _decay(self, T):
        # alpha^(T-1-t) for t = 0..T-1 (0-based): the weight of step t in o[T].
        return (self.alpha ** np.arange(T - 1, -1, -1, dtype=np.float64)).astype(self.dtype)

    def forward(self, s: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """``s`` (T, B, n_in) -> ``o[T]`` (B, n_classes), cache."""
        check_array("s", s, shape=(None, None, self.n_in), dtype=self.dtype)
        T, B, _ = s.shape
        # The recurrence, as written in the paper (one cheap (B, C) update per step, after
        # projecting all steps at once).
        P = (s.reshape(T * B, -1) @ self.W_ro).reshape(T, B, self.n_out)
        o = np.zeros((B, self.n_out), self.dtype)
        for t in range(T):
            o = self.alpha * o + P[t]
        return o.astype(self.dtype, copy=False), {"T": T, "B": B}

    def backward(self, do: np.ndarray, cache: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Gradient of ``sum(do * o[T])``: ``ds`` (T, B, n_in) and ``{}`` (no params)."""
        T, B = cache["T"], cache["B"]
        check_array("do", do, shape=(B, self.n_out), dtype=self.dtype)
        ds1 = do @ self.W_ro.T  # (B, n_in): the gradient reaching s[T]
        ds = self._decay(T)[:, None, None] * ds1[None]
        return ds.astype(self.dtype, copy=False), {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out, "alpha": self.alpha,
                "neurons_per_class": self.neurons_per_class, "excite": self.excite,
                "inhibit": self.inhibit}

    def __repr__(self):
        return (f"LeakyReadout(n_in={self.n_in}, n_classes={self.n_out}, alpha={self.alpha}, "
                f"neurons_per_class={self.neurons_per_class}, dtype={self.dtype})")


# --------------------------------------------------------------------------------------
# Softmax and losses
# --------------------------------------------------------------------------------------
def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z - logsumexp(z)``, shifted by the max so that no ``exp`` overflows."""
    z = np.asarray(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (max-shifted): finite for logits up to ±1e300."""
    z = np.asarray(z)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _check_logits(name, z):
    if not isinstance(z, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(z).__name__}")
    if z.ndim < 1 or z.shape[-1] < 1 or z.size == 0:
        raise ValueError(f"{name} must have a class axis last and at least one entry, got {z.shape}")
    if z.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {z.dtype}")
    check_array(name, z)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient.

    ``logits`` (..., C) float, ``labels`` integer array of shape ``logits.shape[:-1]``
    with values in ``[0, C)``. The loss is
    ``L = -mean_n log softmax(logits_n)[labels_n]`` over every leading index n (batch, or
    time and batch), computed with log-sum-exp so that logits of 1e4 stay finite; the
    gradient is ``dL/dlogits = (softmax(logits) - onehot(labels)) / N``.

    Returns ``(loss, dlogits)``: loss a Python float, dlogits with the logits' dtype.
    """
    _check_logits("logits", logits)
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"labels must be a numpy integer array, got {type(labels).__name__}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels has shape {labels.shape}, expected logits.shape[:-1] = "
                         f"{logits.shape[:-1]}")
    C = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in [0, {C}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    N = labels.size
    lsm = log_softmax(logits)
    picked = np.take_along_axis(lsm, labels[..., None], axis=-1)
    loss = -float(np.sum(picked, dtype=np.float64)) / N
    d = np.exp(lsm)  # softmax, from the stable log-softmax
    np.put_along_axis(d, labels[..., None], np.take_along_axis(d, labels[..., None], -1) - 1, -1)
    d /= N
    return loss, d.astype(logits.dtype, copy=False)


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Half sum of squared errors per sequence: ``L = 0.5 * sum((pred - target)^2) / batch``.

    ``batch`` is the batch axis size: ``pred.shape[0]`` for ``(B, C)`` and
    ``pred.shape[-2]`` for a per-step ``(T, B, C)`` prediction — so a per-step loss is
    summed (not averaged) over time, the convention of a loss accumulated along a
    sequence. Returns ``(loss, dpred)`` with ``dpred = (pred - target) / batch``.
    """
    _check_logits("pred", pred)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target must be a numpy array, got {type(target).__name__}")
    if target.shape != pred.shape:
        raise ValueError(f"target has shape {target.shape}, expected pred's shape {pred.shape}")
    check_array("target", target)
    if pred.ndim not in (2, 3):
        raise ValueError(f"pred must have shape (B, C) or (T, B, C), got {pred.shape}")
    batch = pred.shape[-2]
    diff = pred - target.astype(pred.dtype, copy=False)
    loss = 0.5 * float(np.sum(diff.astype(np.float64) ** 2)) / batch
    return loss, (diff / pred.dtype.type(batch)).astype(pred.dtype, copy=False)
