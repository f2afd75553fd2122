"""Memory of the BPTT cache: what a cell's forward keeps for its backward, against the minimum.

A cell's ``forward`` returns ``(y, cache)``; the cache is a dict holding arrays and lists of
per-step ``Cache`` NamedTuples whose fields the backward does not read are None
(``snn_from_scratch.cells.base.slim``). :func:`cache_bytes` walks that structure and adds up
the *distinct buffers* it keeps alive: a view (``y[t-1]``, a slice of a stacked array) is
counted once, by the buffer it belongs to, with that buffer's full size (the view keeps all
of it alive); None fields, shapes and configs cost nothing; the caller's input ``x`` is not
counted (the caller holds it anyway). The output ``y`` *is* counted when the cache holds a
view of it, which the minimum below accounts for where the backward reads ``y``.

:data:`MIN_VALUES_PER_UNIT` is the theoretical minimum: the values per (step, sequence,
hidden unit) the exact backward must read that no cheap elementwise function of the others
gives back. The goal is a cache of at most 1.2x that minimum.
"""
from __future__ import annotations

import tracemalloc

import numpy as np

__all__ = ["MIN_VALUES_PER_UNIT", "cache_bytes", "min_cache_bytes", "cache_contents", "memory_ours"]

#: cell -> (values per step, sequence and hidden unit, which ones).
MIN_VALUES_PER_UNIT = {
    "rnn": (1, "h (tanh' = 1 - h^2, and h[t-1] for dW_h)"),
    "lstm": (6, "f, i, g, o, c, h (tanh(c) recomputed; c[t-1], h[t-1] are the previous step's)"),
    "gru": (5, "z, r, n, h, h[t-1] W_hn"),
    "brc": (4, "z, r, n, h"),
    "spiking_lstm": (6, "u (4 potentials: every spike and surrogate), c~ (the cell spike's "
                        "surrogate), h (operand of dW_h)"),
    "lif": (1, "one value per step: V, or the surrogate factor dY/dV computed from it "
               "(I is linear and not needed)"),
    "gated_lif": (4, "F, C, I, V (Y[t-1] is the quantizer of V[t-1])"),
    "src": (2, "i and h with detach_recurrent (x, z_s from them); + h_s without it"),
}


def _root(a):
    """The array owning ``a``'s memory (``a`` itself unless it is a view)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def cache_bytes(cache, exclude=()):
    """Bytes of the distinct buffers held by a cache (views counted once, by their buffer).

    Walks dicts, lists, tuples (NamedTuples included; None fields skipped) and the array
    attributes of plain objects. Buffers shared with one of ``exclude`` (the caller's
    input) are not counted.
    """
    seen, total = set(), 0
    excluded = {id(_root(e)) for e in exclude}

    def walk(o):
        nonlocal total
        if isinstance(o, np.ndarray):
            r = _root(o)
            if id(r) in seen or id(r) in excluded:
                return
            seen.add(id(r))
            total += r.nbytes
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            for v in vars(o).values():
                if isinstance(v, np.ndarray):
                    walk(v)

    walk(cache)
    return total


def min_cache_bytes(name, T, B, H, dtype=np.float32):
    """The theoretical minimum of :data:`MIN_VALUES_PER_UNIT` in bytes (None if unknown)."""
    k = MIN_VALUES_PER_UNIT.get(name, (None, ""))[0]
    return None if k is None else k * T * B * H * np.dtype(dtype).itemsize


def cache_contents(cache):
    """What a cache holds, one line of text per entry: arrays by dtype and shape, lists of
    per-step NamedTuples by the fields they keep (the ones not None). Other entries (shapes,
    configs) are left out."""
    out = {}
    for k, v in cache.items():
        if isinstance(v, np.ndarray):
            out[k] = f"{v.dtype}{list(v.shape)}"
        elif isinstance(v, list) and v and hasattr(v[0], "_fields"):
            kept = [f for f in v[0]._fields if getattr(v[0], f) is not None]
            out[k] = f"{len(v)} x {type(v[0]).__name__}({', '.join(kept)})"
        elif isinstance(v, tuple) and hasattr(v, "_fields"):
            out[k] = f"{type(v).__name__}({', '.join(v._fields)})"
    return out


def memory_ours(cell, x, dy):
    """``(cache bytes, traced peak bytes of forward + backward)`` of one pass of ``cell``.

    The peak is what ``tracemalloc`` sees NumPy allocate above the starting point, the
    cache included; the cell is run as it is (set ``cell.training`` before).
    """
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        y, cache = cell.forward(x)
        cb = cache_bytes(cache, exclude=(x,))
        cell.backward(dy, cache)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return cb, peak
