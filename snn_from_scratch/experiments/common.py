"""What every paper's experiment module shares: its scale, output folder, JSON, plots.

Each experiment function receives the parsed ``reproduce`` options (``args.fast``,
``args.seed``, ``args.out``, ``args.data_dir``); these helpers turn them into the scale
of the run and the place its files go, so that the paper modules hold only experiments.
Training itself goes through :mod:`snn_from_scratch.training`.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np

__all__ = ["pick_scale", "out_dir", "save_json", "pyplot", "smooth"]


def pick_scale(scales, args):
    """``scales["fast"]`` with ``args.fast`` (SNN_FAST / CI), else ``scales["full"]`` (a copy)."""
    return dict(scales["fast" if getattr(args, "fast", False) else "full"])


def out_dir(args):
    """The folder ``args.out`` (default ``runs``), created if needed."""
    p = pathlib.Path(getattr(args, "out", "runs"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def save_json(out, name, obj):
    """Write ``obj`` to ``out/name.json`` (numpy numbers as floats); returns the path."""
    p = pathlib.Path(out) / f"{name}.json"
    p.write_text(json.dumps(obj, indent=1, default=float))
    return p


def pyplot():
    """``matplotlib.pyplot``, imported only when an experiment draws (headless runs fall
    back to the Agg backend by themselves; notebooks keep theirs)."""
    import matplotlib.pyplot as plt
    return plt


def smooth(v, k):
    """Running mean of ``v`` over ``k`` points (shorter at the start), for loss curves."""
    v = np.asarray(v, float)
    if len(v) < k or k < 2:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    return np.concatenate([v[:k - 1].cumsum() / np.arange(1, k), (c[k:] - c[:-k]) / k])
