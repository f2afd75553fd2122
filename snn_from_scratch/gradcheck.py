"""Proving gradients: finite differences, relative errors and the twins of a spiking network.

A hand-written ``backward`` is only trusted once finite differences agree with it. For a
smooth network that is the classic check (CS231n): perturb each parameter by ``±h``,
difference the loss, compare. A spiking network is not smooth: ``H(u)`` is flat almost
everywhere, so finite differences of the real network see zeros where ``backward`` (by
design) reports the surrogate gradient. We therefore check ``backward`` against a *twin*
of the network whose **exact** gradient is, by construction, the rule ``backward``
claims to implement:

smooth twin
    every spike ``H(u)`` is replaced by the surrogate's ``primitive(u)``, whose derivative
    is ``grad(u)``. The trajectory changes (spikes become soft), the equations do not.

frozen twin
    the real spiking trajectory is kept: each non-differentiable point is written as
    ``proxy(u) + stop(value(u~) - proxy(u~))`` where ``u~`` is the nominal input. On the
    nominal ("record") pass the correction ``value - proxy`` is written to a tape; on the
    perturbed ("replay") passes it is read back as a constant. At the nominal point the
    twin's values equal the real network's exactly, and its derivative is ``proxy'`` =
    the backward rule. For a spike ``proxy = primitive``; for a straight-through
    quantizer ``proxy`` is the clipped identity; for a ReLU bypass ``proxy(h) = h``.

Detach points (``stop(v)``) are recorded and replayed in both twins. A replayed pass
also compares the *discrete state* (which neurons spiked, which values were clipped) with
the recording: a perturbation that flips a spike or crosses a clip is counted and
reported in the check's table, never hidden.

Cells route every such point through an ``ops`` object (:mod:`snn_from_scratch.ops`):
``ops.EXACT`` in normal use, a :class:`Twin` here. Cells never import this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .ops import EXACT, Ops

__all__ = [
    "Twin", "rel_error", "numerical_gradient",
    "check_cell", "check_function", "TensorCheck", "Report",
]


# --------------------------------------------------------------------------------------
# The twin tape
# --------------------------------------------------------------------------------------
class Twin(Ops):
    """Record/replay tape that turns a spiking forward pass into a differentiable twin.

    ``Twin("frozen")`` or ``Twin("smooth")``: an :class:`~snn_from_scratch.ops.Ops`
    object, passed as ``ops=`` to a cell's ``forward`` in place of ``ops.EXACT``. The first
    pass records (phase ``"record"``); call :meth:`replay` and every later pass reads the
    tape back in the same order. ``flips`` counts discrete states that differ from the
    recording during the current replayed pass.
    """

    def __init__(self, mode="frozen"):
        if mode not in ("frozen", "smooth"):
            raise ValueError(f"twin mode must be 'frozen' or 'smooth', got {mode!r}")
        self.mode = mode
        self.phase = "record"
        self.tape: list = []
        self.pos = 0
        self.flips = 0

    def replay(self):
        """Switch to replay and rewind the tape (call before each perturbed pass)."""
        self.phase = "replay"
        self.pos = 0
        self.flips = 0
        return self

    # -- tape helpers ------------------------------------------------------------------
    def _push(self, kind, value, discrete):
        self.tape.append((kind, value, None if discrete is None else np.array(discrete, copy=True)))

    def _pop(self, kind, discrete):
        if self.pos >= len(self.tape):
            raise RuntimeError("twin replay ran past the recorded tape: the forward pass "
                               "took a different path than when it was recorded")
        k, value, d0 = self.tape[self.pos]
        self.pos += 1
        if k != kind:
            raise RuntimeError(f"twin replay expected a {k!r} operation, got {kind!r}")
        if d0 is not None and discrete is not None:
            self.flips += int(np.count_nonzero(np.asarray(discrete) != d0))
        return value

    # -- the three operations ----------------------------------------------------------
    def heaviside(self, u, surrogate):
        if self.mode == "smooth":
            return surrogate.primitive(u)
        s = surrogate.spike(u)
        if self.phase == "record":
            self._push("spike", s - surrogate.primitive(u), s)
            return s
        corr = self._pop("spike", s)
        return surrogate.primitive(u) + corr

    def detach(self, v, discrete=None):
        if self.phase == "record":
            self._push("detach", np.array(v, copy=True), discrete)
            return v
        return self._pop("detach", discrete)

    def straight_through(self, value, proxy, discrete=None):
        proxy = proxy()
        if self.mode == "smooth":
            return proxy
        if self.phase == "record":
            self._push("st", value - proxy, discrete)
            return value
        corr = self._pop("st", discrete)
        return proxy + corr


# --------------------------------------------------------------------------------------
# Errors and finite differences
# --------------------------------------------------------------------------------------
def rel_error(a, b, floor=1e-8):
    """CS231n relative error ``max |a-b| / max(floor, |a|+|b|)`` (elementwise, then max).

    The ``floor`` keeps entries where both gradients are (numerically) zero from dividing
    by zero; :func:`check_cell` sets it relative to the tensor's scale, see there.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def numerical_gradient(f, array, h=1e-5, indices=None, on_eval=None, stencil=2):
    """Central differences of ``f`` with respect to entries of ``array``.

    ``stencil=2``: ``(f(x+h) - f(x-h)) / 2h``, truncation error O(h^2).
    ``stencil=4``: ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h``, truncation error
    O(h^4); with a larger ``h`` it also divides the round-off by that much — the better
    choice wherever ``f`` is smooth over ``[x-2h, x+2h]``.

    ``array`` is perturbed *in place* and restored bit for bit. ``indices`` (flat)
    selects entries; the others are left at 0 in the result (and reported as unchecked by
    the caller). ``on_eval()`` is called after each evaluation of ``f`` (the twin's flip
    counter).
    """
    if stencil not in (2, 4):
        raise ValueError(f"stencil must be 2 or 4, got {stencil!r}")
    grad = np.zeros(array.shape, dtype=np.float64)
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("numerical_gradient needs a contiguous array to perturb in place")
    gflat = grad.reshape(-1)
    idx = range(flat.size) if indices is None else indices
    offsets, weights = ((1, -1), (1.0, -1.0)) if stencil == 2 else ((2, 1, -1, -2), (-1.0, 8.0, -8.0, 1.0))
    denom = 2 * h if stencil == 2 else 12 * h
    for k in idx:
        old = flat[k]
        total = 0.0
        for o, w in zip(offsets, weights):
            flat[k] = old + o * h
            total += w * f()
            if on_eval:
                on_eval()
        flat[k] = old
        gflat[k] = total / denom
    return grad


@dataclass
class TensorCheck:
    """One row of a gradient proof: a tensor, its error and the flips seen."""

    name: str
    shape: tuple
    rel_error: float
    abs_error: float
    checked: int
    flips: int
    tol: float

    @property
    def ok(self):
        return self.rel_error <= self.tol


@dataclass
class Report:
    """Per-tensor proof of a backward pass. ``ok`` is True when every row passes."""

    title: str
    rows: list = field(default_factory=list)
    replay_error: float = 0.0

    @property
    def ok(self):
        return all(r.ok for r in self.rows) and self.replay_error == 0.0

    @property
    def max_error(self):
        return max((r.rel_error for r in self.rows), default=0.0)

    @property
    def flips(self):
        return sum(r.flips for r in self.rows)

    def __getitem__(self, name):
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def table(self):
        lines = [self.title,
                 f"  {'tensor':<12}{'shape':<14}{'rel.error':>11}{'abs.error':>11}{'checked':>9}{'flips':>7}  verdict"]
        for r in self.rows:
            verdict = "ok" if r.ok else f"FAIL (tol {r.tol:.0e})"
            lines.append(f"  {r.name:<12}{str(r.shape):<14}{r.rel_error:>11.2e}{r.abs_error:>11.2e}"
                         f"{r.checked:>9d}{r.flips:>7d}  {verdict}")
        if self.replay_error:
            lines.append(f"  replay of the nominal pass differs from the recording by {self.replay_error:.2e}: FAIL")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _compare(name, analytic, numeric, indices, tol, flips, scale_floor, noise=0.0):
    a = np.asarray(analytic, dtype=np.float64).reshape(-1)
    n = np.asarray(numeric, dtype=np.float64).reshape(-1)
    if indices is not None:
        a, n = a[indices], n[indices]
    # Entries whose true gradient is tiny are dominated by round-off in the difference
    # quotient, about noise = eps*sum|dy*y|/h. The floor (relative to the tensor's largest
    # entry, and noise/tol) keeps them from deciding the verdict: an entry below the floor
    # passes only if its *absolute* error is below tol*floor (about the round-off itself),
    # so any error larger than the finite differences can resolve is still caught.
    floor = max(1e-12, scale_floor * max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0)),
                noise / tol)
    err = rel_error(a, n, floor=floor)
    abs_err = float(np.max(np.abs(a - n), initial=0.0))
    return TensorCheck(name, tuple(np.shape(analytic)), err, abs_err, int(a.size), flips, tol)


def _pick(size, max_entries, rng):
    if max_entries is None or size <= max_entries:
        return None
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def check_function(f, arrays, analytic, h=1e-5, tol=1e-7, max_entries=None, seed=0,
                   scale_floor=1e-6, title="gradient check", on_eval=None, flip_counter=None,
                   noise=0.0, stencil=2):
    """Prove ``analytic[name]`` = d f / d ``arrays[name]`` for each named array.

    ``f()`` returns a scalar computed from the arrays (which are perturbed in place).
    ``flip_counter()`` (optional) returns the flips of the last evaluation.
    """
    rng = np.random.default_rng(seed)
    report = Report(title)
    for name, arr in arrays.items():
        idx = _pick(arr.size, max_entries, rng)
        flips = [0]

        def count():
            if flip_counter is not None:
                flips[0] += flip_counter()

        num = numerical_gradient(f, arr, h=h, indices=idx, on_eval=count, stencil=stencil)
        report.rows.append(_compare(name, analytic[name], num, idx, tol, flips[0], scale_floor, noise))
    return report


def check_cell(cell, x, state=None, dy=None, twin="frozen", h=None, tol=1e-7,
               max_entries=None, seed=0, scale_floor=1e-6, params=None, check_input=True,
               stencil=None):
    """Prove ``cell.backward`` by finite differences, for every parameter and the input.

    Parameters
    ----------
    cell : a cell from :func:`snn_from_scratch.cells.make`, in float64.
    x : (T, B, n_in) float64 input.
    state : optional initial state (the cell's NamedTuple).
    dy : (T, B, H) upstream gradient; drawn from ``seed`` when None. The checked loss is
        ``L = sum(dy * y)``.
    twin : ``"frozen"`` (the real trajectory, non-differentiable points recorded and
        replayed), ``"smooth"`` (spikes replaced by the surrogate's primitive) or ``None``
        (plain finite differences of the real network: for cells that are smooth).
    h, stencil : finite-difference step and stencil (2 or 4 points, see
        :func:`numerical_gradient`). Default: for a smooth cell (``twin=None``) the 4-point
        stencil with ``h = 1e-3``; for a twin, which is smooth only between the kinks of a
        surrogate's primitive or a clip, the 2-point stencil with ``h = 1e-5``, so that a
        perturbation rarely straddles a kink.
    tol : the pass threshold on the relative error.
    max_entries : check at most this many randomly chosen entries per tensor.
    params : names of the parameters to check (default: all).

    Returns a :class:`Report`: one row per tensor with the relative error, the largest
    absolute error, the number of entries checked and the spike flips / clip crossings the
    perturbations caused (0 means the twin followed the real trajectory everywhere). The
    relative error's floor is ``max(scale_floor * max|grad|, noise / tol)`` with
    ``noise = eps * sum|dy*y| / h`` the difference quotient's round-off. The
    check runs with ``cell.training = False`` (running statistics frozen) and never
    changes the cell's parameters.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    if stencil is None:
        stencil = 4 if twin is None else 2
    if h is None:
        h = 1e-3 if stencil == 4 else 1e-5
    if cell.dtype != np.float64:
        raise TypeError("check_cell needs a float64 cell: build it with dtype=np.float64")
    rng = np.random.default_rng(seed)
    was_training = cell.training
    cell.training = False  # before any forward: running statistics (multi-bit b) stay put
    try:
        if dy is None:
            y0, _ = cell.forward(x, state)
            dy = rng.standard_normal(y0.shape)
        tw = None if twin is None else Twin(twin)
        ops = EXACT if tw is None else tw  # a smooth cell needs no twin: plain forward passes
        y, cache = cell.forward(x, state, ops=ops)
        dx, grads = cell.backward(dy, cache)
        if tw is not None:
            tw.replay()
            y_again, _ = cell.forward(x, state, ops=ops)
            replay_error = float(np.max(np.abs(y_again - y), initial=0.0))
        else:
            replay_error = 0.0

        def loss():
            if tw is not None:
                tw.replay()
            out, _ = cell.forward(x, state, ops=ops)
            return float(np.sum(dy * out))

        arrays = {k: cell.params[k] for k in (params or cell.params)}
        analytic = {k: grads[k] for k in arrays}
        if check_input:
            arrays["x"] = x
            analytic["x"] = dx
        title = f"{cell.name} ({twin or 'plain'} twin) T={x.shape[0]} B={x.shape[1]}"
        # round-off of a difference quotient of L = sum(dy*y): about eps * sum|dy*y| / h
        noise = np.finfo(np.float64).eps * float(np.sum(np.abs(dy * y))) / h
        rep = check_function(loss, arrays, analytic, h=h, tol=tol, max_entries=max_entries, noise=noise, stencil=stencil,
                             seed=seed, scale_floor=scale_floor, title=title,
                             flip_counter=(lambda: tw.flips) if tw is not None else None)
        rep.replay_error = replay_error
        return rep
    finally:
        cell.training = was_training
