"""Figures every chapter and command draws: spike rasters, membrane traces, surrogate
families, gradient flow over time and learning curves.

Each function draws into ``ax`` (a matplotlib Axes; a new figure when None) and returns
the Axes, so that chapters can compose panels and commands can save them. Arrays are
time-major like everywhere in the library: a layer's output is ``(T, B, H)``; the
functions that show one sequence take ``(T, H)`` (pick ``y[:, b]`` yourself).

matplotlib is imported inside the functions: importing the library never needs it.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

__all__ = ["spike_raster", "traces", "surrogate_families", "gradient_flow",
           "learning_curves", "save"]


def _axes(ax, figsize=(6, 3)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _as_2d(name, a):
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be (T, H) — one sequence; got shape {a.shape} "
                         f"(for a layer output (T, B, H) pass y[:, b])")
    return a


def spike_raster(spikes: np.ndarray, ax: Any = None, title: Optional[str] = None, dt: float = 1.0,
                 color: Any = "k", max_neurons: Optional[int] = None) -> Any:
    """Dots at (t, neuron) wherever ``spikes`` (T, H) is non-zero; multi-bit outputs are
    drawn with a dot size proportional to the value. Returns the Axes."""
    s = _as_2d("spikes", spikes)
    if max_neurons is not None:
        s = s[:, :max_neurons]
    ax = _axes(ax)
    t, n = np.nonzero(s)
    vals = np.abs(s[t, n]).astype(float)
    size = 6.0 if vals.size == 0 or vals.max() == vals.min() else 2 + 10 * vals / vals.max()
    ax.scatter(t * dt, n, s=size, c=color, marker="|" if np.isscalar(size) else "o", linewidths=1)
    ax.set_xlim(-0.5 * dt, (s.shape[0] - 0.5) * dt)
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel("time step" if dt == 1.0 else "time")
    ax.set_ylabel("neuron")
    ax.set_title(title or f"spike raster ({int(np.count_nonzero(s))} events, "
                          f"{np.count_nonzero(s) / max(1, s.size):.1%} of slots)")
    return ax


def traces(values: Mapping[str, np.ndarray], threshold: Optional[float | np.ndarray] = None,
           spikes: Optional[np.ndarray] = None, ax: Any = None, title: Optional[str] = None,
           neuron: int = 0) -> Any:
    """Time courses of one neuron: ``values`` maps a label (e.g. ``"V"``, ``"I"``) to a
    (T,) or (T, H) array (column ``neuron`` is drawn). ``threshold`` (a number or (T,))
    draws the firing threshold; ``spikes`` (T,) or (T, H) marks the steps where the neuron
    fired (and so where the next step's reset acts). Returns the Axes."""
    ax = _axes(ax, figsize=(7, 3))
    T = None
    for label, v in values.items():
        v = np.asarray(v)
        v = v[:, neuron] if v.ndim == 2 else v
        if v.ndim != 1:
            raise ValueError(f"values[{label!r}] must be (T,) or (T, H), got shape {np.shape(values[label])}")
        T = len(v)
        ax.plot(np.arange(T), v, label=label, lw=1.4)
    if threshold is not None:
        th = np.broadcast_to(np.asarray(threshold, float), (T,)) if T else np.asarray(threshold)
        ax.plot(np.arange(T), th, "k--", lw=1, label="threshold")
    if spikes is not None:
        s = np.asarray(spikes)
        s = s[:, neuron] if s.ndim == 2 else s
        for t in np.flatnonzero(s):
            ax.axvline(t, color="tab:red", alpha=0.25, lw=2)
        if np.any(s):
            ax.plot([], [], color="tab:red", alpha=0.4, lw=2, label="spike (reset next step)")
    ax.set_xlabel("time step")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def surrogate_families(names: Optional[Iterable[str]] = None, u: Optional[np.ndarray] = None,
                       ax: Any = None,
                       params: Optional[Mapping[str, Mapping[str, float]]] = None) -> Any:
    """``grad(u)`` of the surrogate families (default: all of :data:`surrogates.FAMILIES`
    with their default parameters; ``params`` maps a name to keyword arguments)."""
    from . import surrogates

    names = list(surrogates.FAMILIES) if names is None else list(names)
    u = np.linspace(-2, 2, 801) if u is None else np.asarray(u, float)
    params = params or {}
    ax = _axes(ax, figsize=(6, 3.5))
    for name in names:
        s = surrogates.get(name, **params.get(name, {}))
        ax.plot(u, s.grad(u), label=repr(s) if params.get(name) else name, lw=1.5)
    ax.set_xlabel("u = V - threshold")
    ax.set_ylabel("surrogate dH/du")
    ax.legend(fontsize=8)
    ax.set_title("surrogate derivatives")
    return ax


def gradient_flow(norms: Mapping[str, Sequence[float]], ax: Any = None, title: Optional[str] = None,
                  logy: bool = True) -> Any:
    """How much gradient reaches each step: ``norms`` maps a label to a (T,) sequence (e.g.
    the norm of dL/dx[t] for a loss at the last step). Log scale by default, where a
    geometric decay beta^(N-n) is a straight line."""
    ax = _axes(ax)
    for label, v in norms.items():
        v = np.asarray(v, float)
        ax.plot(np.arange(len(v)), v, label=label, lw=1.4)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("time step n")
    ax.set_ylabel("gradient norm")
    ax.legend(fontsize=8)
    ax.set_title(title or "gradient flow back in time")
    return ax


def learning_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], key: str = "val_acc",
                    ax: Any = None, chance: Optional[float] = None,
                    title: Optional[str] = None) -> Any:
    """One line per run: ``histories`` maps a label to a training history (the dict that
    :func:`snn_from_scratch.training.train` returns); ``key`` picks the curve
    (``"val_acc"``, ``"loss"``, ...). ``chance`` draws the chance level."""
    ax = _axes(ax)
    for label, hist in histories.items():
        v = np.asarray(hist.get(key, []), float)
        ax.plot(np.arange(1, len(v) + 1), v, marker="o", ms=3, label=label)
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", label=f"chance ({chance:.0%})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def save(ax_or_fig: Any, path: str | os.PathLike) -> str:
    """Save the figure of ``ax_or_fig`` to ``path`` (folders created), close it, and return
    the path as a string (commands print it)."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
