"""The cell protocol shared by every cell (see docs/design.md, "The cell protocol").

A cell owns ``params`` (dict of arrays), a frozen ``config`` dataclass, a ``training``
flag and optional ``buffers`` (running statistics such as the multi-bit range ``b``).
Subclasses implement ``_forward(x, state, ops)`` and ``_backward(dy, cache)``; this base
class validates every input so that bad shapes, dtypes and non-finite values give a
clear error instead of a silent broadcast.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Collection, Optional, Sequence

import numpy as np
from numpy.typing import DTypeLike

from ..ops import EXACT, Ops

__all__ = ["Cell", "make_config", "check_array", "check_finite", "check_real", "check_flag",
           "check_choice", "slim", "scan_h"]


def make_config(config_cls: type, kwargs: dict[str, Any], cell_name: str) -> Any:
    """Build the frozen config dataclass, refusing unknown keywords by name."""
    valid = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} for cell {cell_name!r}; "
                         f"valid keys: {valid}")
    return config_cls(**kwargs)


def check_real(name: str, v: float, low: Optional[float] = None, high: Optional[float] = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """A config number: a finite real (not a bool), optionally in [low, high] (or open ends).

    The one validator every cell's config uses, so that every bad value gets the same
    kind of message (``ValueError`` naming the key and the allowed range).
    """
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not np.isfinite(float(v)):
        raise ValueError(f"{name} must be a finite real number, got {v!r}")
    lo_bad = low is not None and (v <= low if low_open else v < low)
    hi_bad = high is not None and (v >= high if high_open else v > high)
    if lo_bad or hi_bad:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        rng = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be in {rng}, got {v!r}")
    return v


def check_flag(name: str, v: bool) -> bool:
    """A config switch: True or False (numpy bools accepted), else ``TypeError``."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")
    return v


def check_choice(name: str, v: str, choices: Collection[str]) -> str:
    """A config word: one of ``choices``, else ``ValueError`` listing them."""
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {v!r}")
    return v


def check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s)")


def check_array(name: str, a: np.ndarray, shape: Optional[Sequence[Optional[int]]] = None,
                dtype: Optional[DTypeLike] = None, ndim: Optional[int] = None) -> np.ndarray:
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


def slim(cache_t: tuple, keep: Optional[Collection[str]]) -> tuple:
    """One step's BPTT cache as a sequence loop stores it: the step's cache NamedTuple with
    every field not named in ``keep`` replaced by None (``keep=None``: all kept).

    Why: ``step_forward`` returns every intermediate its derivation names, so that the step
    pair reads like the equations. ``step_backward`` reads fewer (the LIF's ``V[t-1]`` only
    for a learnable alpha, say), and storing only those keeps the BPTT cache near its
    theoretical minimum (the memory goal: at most 1.2x, measured by ``benchmarks/``). Each
    cell module says which fields its ``step_backward`` reads in a function ``reads(...)``
    printed right after it; this is the only memory machinery a cell needs.
    """
    if keep is None:
        return cache_t
    return cache_t._replace(**{f: None for f in cache_t._fields if f not in keep})


def scan_h(step_forward: Callable[..., tuple], A: np.ndarray, state: tuple,
           p: dict[str, np.ndarray], cfg: Any, ops: Ops,
           keep: Optional[Collection[str]]) -> tuple[np.ndarray, list[tuple], tuple]:
    """The time loop of a cell whose output is its state ``h`` (rnn, lstm, gru, brc).

    Runs ``step_forward`` over the input projections ``A`` (T, B, .) and returns ``(hs,
    steps, final)``: ``hs`` (T+1, B, H) with ``hs[0] = h[-1]`` and ``hs[1:]`` the output,
    the slimmed per-step caches, the final state. Each step reads ``h[t-1]`` as a view of
    ``hs`` (so a cached ``h[t-1]``, or a cached ``h[t]``, costs no copy, and ``dW_h`` takes
    ``hs[:-1]`` directly: the cache holds h once); the final state keeps the step's own
    arrays.
    """
    hs = np.empty((len(A) + 1,) + state.h.shape, state.h.dtype)
    hs[0] = state.h
    state = state._replace(h=hs[0])
    steps, final = [], state
    for t in range(len(A)):
        hs[t + 1], final, cache_t = step_forward(A[t], state, p, cfg, ops)
        state = final._replace(h=hs[t + 1])
        if "h" in cache_t._fields:  # the step's own output: the same values as hs[t+1]
            cache_t = cache_t._replace(h=hs[t + 1])
        steps.append(slim(cache_t, keep))
    return hs, steps, final


class Cell:
    """Base class of all cells. Build cells with :func:`snn_from_scratch.cells.make`.

    Subclasses define ``name``, ``Config`` (frozen dataclass), ``State`` (NamedTuple)
    and implement ``_init_params(rng)``, ``_forward(x, state, ops)`` and
    ``_backward(dy, cache)``.
    """

    name = "cell"
    Config = None
    State = None

    def __init__(self, n_in: int, n_hidden: int, seed: int = 0, dtype: DTypeLike = np.float64,
                 rng: Optional[np.random.Generator] = None, **config: Any) -> None:
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
        if rng is None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative int, got {seed!r}")
            rng = np.random.default_rng(seed)
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(...)), "
                            f"got {type(rng).__name__}")
        params = self._init_params(rng)
        self.params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}
        # what a parameter must stay: a user may replace an array, never its shape or dtype
        self._param_shapes = {k: v.shape for k, v in self.params.items()}

    # -- to implement ------------------------------------------------------------------
    def _init_params(self, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(self, x, state, ops):  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, dy, cache):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- protocol ----------------------------------------------------------------------
    def init_state(self, batch: int) -> tuple:
        """The zero initial state for a batch of ``batch`` sequences."""
        return self.State(*(np.zeros((batch, self.n_hidden), self.dtype) for _ in self.State._fields))

    def sample_state(self, batch: int, rng: np.random.Generator, scale: float = 0.5) -> tuple:
        """A random non-zero initial state for gradient proofs: every field ``scale`` times
        standard normal (cells whose states are spikes or levels draw valid ones instead)."""
        return self.State(*(scale * rng.standard_normal((batch, self.n_hidden)).astype(self.dtype)
                            for _ in self.State._fields))

    def forward(self, x: np.ndarray, state: Optional[tuple] = None,
                ops: Ops = EXACT) -> tuple[np.ndarray, dict[str, Any]]:
        """Run the cell over ``x`` (T, B, n_in); returns ``y`` (T, B, H) and a cache.

        ``state`` is the initial state (zeros when None); ``cache["final_state"]`` holds
        the final one. ``ops`` carries the non-differentiable points (:mod:`..ops`): the
        plain ``ops.EXACT``, or a gradient checker's twin.
        """
        if not isinstance(ops, Ops):
            raise TypeError(f"ops must be an snn_from_scratch.ops.Ops object, got {type(ops).__name__}")
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
        self.check_params()
        y, cache = self._forward(x, state, ops)
        cache["y_shape"] = y.shape
        return y, cache

    def check_params(self) -> None:
        """Every parameter is still the array it was built as: same names, shapes and
        dtype, finite values (a replaced array is checked here, before it is used)."""
        if set(self.params) != set(self._param_shapes):
            raise ValueError(f"{self.name} params have keys {sorted(self.params)}, expected "
                             f"{sorted(self._param_shapes)}")
        for k, shape in self._param_shapes.items():
            check_array(f"parameter {k}", self.params[k], shape=shape, dtype=self.dtype)

    # -- the step functions, generically (analysis, chapters, tests) ---------------------
    def inputs(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        """The input projections of all steps, ``a[t]`` for ``step_forward`` (one matrix
        product before the loop): an array (T, B, ...) or a tuple of them."""
        raise NotImplementedError  # pragma: no cover - every cell defines it

    def step_config(self) -> Any:
        """The ``cfg`` the step functions receive (default: the frozen ``config``)."""
        return self.config

    def step_functions(self) -> tuple[Callable[..., tuple], Callable[..., tuple],
                                     Optional[Callable[..., set[str]]]]:
        """``(step_forward, step_backward, reads)`` of this cell's module."""
        import sys

        mod = sys.modules[type(self).__module__]
        return mod.step_forward, mod.step_backward, getattr(mod, "reads", None)

    def trace(self, x: np.ndarray, state: Optional[tuple] = None,
              ops: Ops = EXACT) -> list[tuple[np.ndarray, tuple, tuple]]:
        """Run the step functions over ``x`` and keep everything: a list of
        ``(y_t, state_t, cache_t)`` per step, with the *full* caches (no slimming).

        For figures, analysis and tests that look inside a step; ``forward`` computes the
        same numbers. Running statistics (the multi-bit range) are not updated.
        """
        check_array("x", x, shape=(None, None, self.n_in), dtype=self.dtype)
        state = self.init_state(x.shape[1]) if state is None else self.State(*state)
        step_forward = self.step_functions()[0]
        A, p, cfg = self.inputs(x), self.params, self.step_config()
        out = []
        for t in range(x.shape[0]):
            a_t = tuple(a[t] for a in A) if isinstance(A, tuple) else A[t]
            y_t, state, cache_t = step_forward(a_t, state, p, cfg, ops)
            out.append((y_t, state, cache_t))
        return out

    def backward(self, dy: np.ndarray, cache: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Gradient of ``sum(dy * y)``: returns ``dx`` (T, B, n_in) and ``grads`` (as params)."""
        check_array("dy", dy, shape=cache["y_shape"], dtype=self.dtype)
        return self._backward(dy, cache)

    def project(self) -> None:
        """Constraint applied after each optimizer step (none by default)."""

    def __repr__(self):
        return f"{type(self).__name__}(n_in={self.n_in}, n_hidden={self.n_hidden}, {self.config})"
