"""Cells by name: ``cells.make("lstm", n_in, n_hidden, seed=0, dtype=np.float64, **config)``.

One module per cell; each module defines a ``Cell`` subclass registered here under the
cell's name, and the single-step pair the sequence functions are built from (the step API
of docs/design.md, "The cell protocol")::

    y_t, state_t, cache_t = step_forward(a_t, state, p, cfg, ops=ops.EXACT)
    da_t, dstate_prev, dp_t = step_backward(dy_t, dstate, cache_t, p, cfg)

with ``a_t`` the step's input projection (``cell.inputs(x)[t]``), ``state``/``dstate`` the
cell's ``State`` NamedTuple, ``p`` the params dict, ``cfg`` the frozen config
(``cell.step_config()``) and ``cache_t`` the module's ``Cache`` NamedTuple; ``reads(p,
cfg)`` names the ``Cache`` fields ``step_backward`` reads. ``cell.step_functions()`` returns
a cell's pair and ``cell.trace(x)`` runs it step by step with full caches.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

import numpy as np
from numpy.typing import DTypeLike

from .base import Cell

#: cell name -> (module, class name). Every cell of the three papers and the baselines.
REGISTRY = {
    "rnn": ("rnn", "RNN"),
    "lstm": ("lstm", "LSTM"),
    "gru": ("gru", "GRU"),
    "spiking_lstm": ("spiking_lstm", "SpikingLSTM"),
    "lif": ("lif", "LIF"),
    "gated_lif": ("gated_lif", "GatedLIF"),
    "brc": ("brc", "BRC"),
    "src": ("src", "SRC"),
}


def cell_class(name: str) -> type[Cell]:
    """The class of cell ``name`` (ValueError for an unknown name)."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"unknown cell {name!r}; choose one of {sorted(REGISTRY)}")
    module, cls = REGISTRY[name]
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as e:  # a cell whose module has not been written yet
        if e.name == f"{__name__}.{module}":
            raise ValueError(f"cell {name!r} is not implemented in this version") from None
        raise
    return getattr(mod, cls)


def available() -> list[str]:
    """Names of the cells this installation implements, in registry order."""
    out = []
    for name in REGISTRY:
        try:
            cell_class(name)
        except ValueError:
            continue
        out.append(name)
    return out


def make(name: str, n_in: int, n_hidden: int, seed: int = 0, dtype: DTypeLike = np.float64,
         rng: Optional[np.random.Generator] = None, **config: Any) -> Cell:
    """Build a cell. ``config`` keywords are the cell's config fields (docs/design.md,
    "Config names"); unknown keywords raise ``ValueError``. The cell runs sequences with
    ``forward``/``backward``; its module's ``step_forward``/``step_backward`` (the step API
    above, also ``cell.step_functions()``) run one step."""
    return cell_class(name)(n_in, n_hidden, seed=seed, dtype=dtype, rng=rng, **config)
