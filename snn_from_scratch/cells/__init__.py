"""Cells by name: ``cells.make("lstm", n_in, n_hidden, seed=0, dtype=np.float64, **config)``.

One module per cell; each module defines a ``Cell`` subclass registered here under the
cell's name, and the single-step pair ``step_forward`` / ``step_backward`` the sequence
functions are built from.
"""
from __future__ import annotations

import importlib

import numpy as np

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


def cell_class(name):
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


def available():
    """Names of the cells this installation implements, in registry order."""
    out = []
    for name in REGISTRY:
        try:
            cell_class(name)
        except ValueError:
            continue
        out.append(name)
    return out


def make(name, n_in, n_hidden, seed=0, dtype=np.float64, rng=None, **config):
    """Build a cell. ``config`` keywords are the cell's config fields (DESIGN.md)."""
    return cell_class(name)(n_in, n_hidden, seed=seed, dtype=dtype, rng=rng, **config)
