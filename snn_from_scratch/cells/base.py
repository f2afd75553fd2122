"""The cell protocol shared by every cell (see DESIGN.md, "The cell protocol").

A cell owns ``params`` (dict of arrays), a frozen ``config`` dataclass, a ``training``
flag and optional ``buffers`` (running statistics such as the multi-bit range ``b``).
Subclasses implement ``_forward(x, state, twin)`` and ``_backward(dy, cache)``; this base
class validates every input so that bad shapes, dtypes and non-finite values give a
clear error instead of a silent broadcast.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Cell", "make_config", "check_array", "check_finite"]


def make_config(config_cls, kwargs, cell_name):
    """Build the frozen config dataclass, refusing unknown keywords by name."""
    valid = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} for cell {cell_name!r}; "
                         f"valid keys: {valid}")
    return config_cls(**kwargs)


def check_finite(name, a):
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s)")


def check_array(name, a, shape=None, dtype=None, ndim=None):
    """Check type, rank, shape (None entries match anything), dtype and finiteness."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            want = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {np.dtype(dtype)} "
                        f"(convert it with .astype, nothing is converted silently)")
    check_finite(name, a)
    return a


class Cell:
    """Base class of all cells. Build cells with :func:`snn_from_scratch.cells.make`.

    Subclasses define ``name``, ``Config`` (frozen dataclass), ``State`` (NamedTuple)
    and implement ``_init_params(rng)``, ``_forward(x, state, twin)`` and
    ``_backward(dy, cache)``.
    """

    name = "cell"
    Config = None
    State = None

    def __init__(self, n_in, n_hidden, seed=0, dtype=np.float64, rng=None, **config):
        for nm, v in (("n_in", n_in), ("n_hidden", n_hidden)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{nm} must be a positive integer, got {v!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        self.n_in, self.n_hidden, self.dtype = int(n_in), int(n_hidden), dtype
        self.config = make_config(self.Config, config, self.name)
        self.training = True
        self.buffers = {}
        rng = np.random.default_rng(seed) if rng is None else rng
        params = self._init_params(rng)
        self.params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}

    # -- to implement ------------------------------------------------------------------
    def _init_params(self, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(self, x, state, twin):  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, dy, cache):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- protocol ----------------------------------------------------------------------
    def init_state(self, batch):
        """The zero initial state for a batch of ``batch`` sequences."""
        return self.State(*(np.zeros((batch, self.n_hidden), self.dtype) for _ in self.State._fields))

    def forward(self, x, state=None, twin=None):
        """Run the cell over ``x`` (T, B, n_in); returns ``y`` (T, B, H) and a cache.

        ``state`` is the initial state (zeros when None); ``cache["final_state"]`` holds
        the final one. ``twin`` is a :class:`snn_from_scratch.gradcheck.Twin` (gradient
        checks only).
        """
        check_array("x", x, shape=(None, None, self.n_in), dtype=self.dtype)
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x must have at least one time step and one sequence, got shape {x.shape}")
        B = x.shape[1]
        if state is None:
            state = self.init_state(B)
        else:
            if not isinstance(state, tuple) or len(state) != len(self.State._fields):
                raise TypeError(f"state must be a {self.name} State{self.State._fields}, "
                                f"got {type(state).__name__}")
            state = self.State(*state)
            for f, v in zip(self.State._fields, state):
                check_array(f"state.{f}", v, shape=(B, self.n_hidden), dtype=self.dtype)
        for k, v in self.params.items():
            check_finite(f"parameter {k}", v)
        y, cache = self._forward(x, state, twin)
        cache["y_shape"] = y.shape
        return y, cache

    def backward(self, dy, cache):
        """Gradient of ``sum(dy * y)``: returns ``dx`` (T, B, n_in) and ``grads`` (as params)."""
        check_array("dy", dy, shape=cache["y_shape"], dtype=self.dtype)
        return self._backward(dy, cache)

    def project(self):
        """Constraint applied after each optimizer step (none by default)."""

    def __repr__(self):
        return f"{type(self).__name__}(n_in={self.n_in}, n_hidden={self.n_hidden}, {self.config})"
