"""The recipe: how each cell is trained unless you say otherwise — one table for ``tour`` and ``train``.

A *recipe* is what a user of a cell would choose to train it on a sequence classification
task: the input coding, the readout, the width, the learning rate and the schedule. The
tour and ``python -m snn_from_scratch train`` read the same table (:data:`RECIPES`, filled
in by :func:`recipe`) and train through the same function (:func:`fit`), so that the same
cell gives the same accuracy from both entry points.

The keys of a recipe (:data:`DEFAULTS` holds the values a cell's entry leaves out):

``config``
    the cell's keywords (``cells.make(name, ..., **config)``; ``train --config`` overrides
    them one key at a time).
``encoding``
    how a sample-major sequence ``(N, T, n)`` is presented to the first layer (still
    sample-major; the training loop makes it time-major): ``"raw"`` (the values
    themselves), ``"delay:D"`` (a tapped delay line, :func:`snn_from_scratch.encoding.delay_line`:
    the last D values of every channel at every step, ``n*D`` channels) or
    ``"thermometer:K"`` (spikes: channel k of each input fires while the value exceeds the
    (k+1/2)/K quantile of the training values, ``n*K`` channels; the level-crossing code of
    :mod:`snn_from_scratch.experiments.lotfi`).
``readout``, ``kappa``
    a key of :data:`snn_from_scratch.network.READOUTS` and the leak of the leaky-integrator
    readouts (``li-*``).
``hidden``, ``layers``
    the width of each layer and the number of stacked layers.
``lr``, ``epochs``, ``batch_size``, ``clip``, ``schedule``
    Adam's step, the epochs, the minibatch, the global gradient-norm clip and the schedule
    (``"cosine"``: annealed from ``lr`` to ``lr / 20`` over the epochs; ``"constant"``).
``why``
    one line the tour prints when the cell misses its target (:data:`TARGETS`).

Why these recipes (MNIST-1D, float32, one layer, 15 epochs, one seed; measured with this
library — the README's "Which hyper-parameters matter" has the table):

* **The readout matters most.** A layer read only at its last step gets gradient at one
  step, which BPTT must carry back through every spike's surrogate. The learnable leaky
  integrator whose logits are the maximum over time (``li-max``) gives every step its own
  gradient: spiking_lstm 24% -> 93%, lif 27% -> 57%, gated_lif v2 84% -> 95% (last step
  -> li-max); it also rescues the plain tanh RNN (94%; 23% read at its last step). A short leak
  (``kappa`` 0.5, or 0 for the spiking LSTM) beat the default 0.9 for every cell tried.
* **Cells without connections between their neurons** (``lif`` without ``recurrent``,
  ``src``) see one input value per step: every neuron is a thresholded copy of the same
  filtered signal. A delay line (``delay:16``) and width give them something to combine.
  The LIF resets to zero (snnTorch's default): 57% against 46% with the subtractive reset.
* Adam at 1e-2 with a cosine schedule suits every cell here; 1e-3 without a schedule (the
  old ``train`` default) leaves most of them far from where they end up.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional

import numpy as np

from . import cells, encoding, network, optim, training

__all__ = ["DEFAULTS", "RECIPES", "TARGETS", "CHANCE", "recipe", "parse_encoding", "encoder", "build",
           "make_optimizer", "Run", "fit", "is_spiking", "spike_stats", "describe", "help_text"]

#: What a recipe leaves out. ``lr / LR_MIN_DIVISOR`` is where the cosine schedule ends.
DEFAULTS = {"config": {}, "encoding": "raw", "readout": "linear", "kappa": 0.9, "hidden": 64, "layers": 1,
            "lr": 1e-2, "epochs": 15, "batch_size": 64, "clip": 5.0, "schedule": "cosine", "why": ""}
LR_MIN_DIVISOR = 20
SCHEDULES = ("cosine", "constant")

#: cell -> what differs from :data:`DEFAULTS`. Settings of the tour and ``train``, not of the cells.
RECIPES = {
    # a last-step readout leaves the tanh RNN on the ln 10 plateau (23% at lr 1e-3, 12% at 1e-2)
    "rnn": dict(readout="li-max", kappa=0.5),
    # li-max: 96% where the last step gives 89% in 15 epochs
    "lstm": dict(readout="li-max", kappa=0.5),
    # the conventional baseline, read at its last step as the MNIST-1D paper's GRU (97%; li-max 93%)
    "gru": {},
    # the paper's cell; read at its last step it stays near chance. kappa 0: the logits are the
    # maximum over time of the readout's input itself; a 4-tap delay line adds 7 points
    "spiking_lstm": dict(encoding="delay:4", readout="li-max", kappa=0.0,
                         why="its gradient crosses a spike surrogate (peak 0.28) at every step; "
                             "li-max with kappa 0.5 and raw input gave 79%"),
    # the snnTorch-style neuron (reset to zero) with synaptic delays: one layer of neurons
    # without connections between them needs the delays to combine the recent past
    "lif": dict(config=dict(reset="zero"), encoding="delay:16", hidden=128, readout="li-max", kappa=0.5,
                why="one layer without recurrent weights sees only 16 delayed copies of one input; "
                    "30 epochs gave 51% with the subtractive reset"),
    # the paper's best SNN (v2, 6-bit outputs, threshold b/16)
    "gated_lif": dict(config=dict(variant="v2"), readout="li-max", kappa=0.5,
                      why="15 epochs are short for it: 25 epochs gave 95% (kappa 0.9)"),
    "brc": dict(readout="li-max", kappa=0.5),
    # no connections between its neurons either: delays, and width (each neuron a random
    # feature of the delayed input); the exact recurrent gradient (the paper detaches it)
    "src": dict(config=dict(detach_recurrent=False), encoding="delay:16", hidden=256, readout="li-max",
                kappa=0.5, why="no connections between its neurons and a 6% firing rate: accuracy grows "
                               "with width (128: 42%, 256: 57%)"),
}

#: The tour's targets on MNIST-1D at these recipes (float32, one seed).
TARGETS = {"gated_lif": 0.93, "spiking_lstm": 0.85, "gru": 0.95, "lstm": 0.90, "rnn": 0.50, "brc": 0.50,
           "src": 0.50, "lif": 0.45}
#: Ten balanced classes.
CHANCE = 0.10


def recipe(cell, own=True, **overrides):
    """The full recipe of ``cell``: :data:`DEFAULTS` updated by the cell's entry of
    :data:`RECIPES` (skipped with ``own=False``), then by the ``overrides`` whose value is
    not None (a ``config`` override is merged key by key). ``ValueError`` for an unknown
    cell or key."""
    cells.cell_class(cell)
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for source in (RECIPES.get(cell, {}) if own else {}, overrides):
        for k, v in source.items():
            if k not in DEFAULTS:
                raise ValueError(f"unknown recipe key {k!r}; valid: {sorted(DEFAULTS)}")
            if v is None:
                continue
            if k == "config":
                out["config"].update(v)
            else:
                out[k] = v
    parse_encoding(out["encoding"])
    if out["readout"] not in network.READOUTS:
        raise ValueError(f"readout must be one of {sorted(network.READOUTS)}, got {out['readout']!r}")
    if out["schedule"] not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {out['schedule']!r}")
    return out


# --------------------------------------------------------------------------------------
# Input coding
# --------------------------------------------------------------------------------------
def parse_encoding(spec):
    """``"raw"`` -> ("raw", 1); ``"delay:8"`` -> ("delay", 8); ``"thermometer:16"`` ->
    ("thermometer", 16). ``ValueError`` with the valid forms otherwise."""
    if spec == "raw":
        return "raw", 1
    kind, _, n = str(spec).partition(":")
    if kind in ("delay", "thermometer") and n.isdigit() and int(n) >= 1:
        return kind, int(n)
    raise ValueError(f"encoding must be 'raw', 'delay:D' or 'thermometer:K' (D, K positive integers), "
                     f"got {spec!r}")


def encoder(spec, X_train):
    """A function ``X (N, T, n) -> X' (N, T, n')`` (sample-major, float32, contiguous) for
    the encoding ``spec``, and ``n'``'s factor. Deterministic: it is applied once to the
    whole data set. A thermometer's levels are quantiles of ``X_train``."""
    kind, k = parse_encoding(spec)
    if kind == "raw":
        return (lambda X: np.ascontiguousarray(X, np.float32)), 1
    if kind == "delay":
        return (lambda X: np.ascontiguousarray(encoding.delay_line(X, k).transpose(1, 0, 2), np.float32)), k
    levels = np.quantile(X_train, (np.arange(k) + 0.5) / k).astype(np.float32)

    def thermometer(X):
        N, T, n = X.shape
        return np.ascontiguousarray((X[..., None] > levels).reshape(N, T, n * k), np.float32)
    return thermometer, k


# --------------------------------------------------------------------------------------
# The network, the optimizer and the training run
# --------------------------------------------------------------------------------------
def build(cell, n_in, n_out, rec, seed=0, dtype=np.float32):
    """The network of ``rec`` for ``n_in`` raw input channels (the encoding's factor applied)."""
    _, factor = parse_encoding(rec["encoding"])
    return network.build(cell, n_in * factor, rec["hidden"], n_out, n_layers=rec["layers"], readout=rec["readout"],
                         seed=seed, dtype=dtype, config=rec["config"], kappa=rec["kappa"])


def make_optimizer(net, rec, epochs):
    """Adam at ``rec["lr"]`` and the schedule (None for "constant")."""
    opt = optim.Adam(net.params, lr=rec["lr"])
    if rec["schedule"] == "cosine":
        return opt, optim.CosineAnnealing(opt, T_max=max(1, epochs), lr_min=rec["lr"] / LR_MIN_DIVISOR)
    return opt, None


class Run(NamedTuple):
    """What :func:`fit` returns."""
    net: network.Network
    optimizer: optim.Adam
    schedule: Optional[optim.CosineAnnealing]
    history: dict
    X_train: np.ndarray
    X_test: np.ndarray


def fit(cell, rec, data, seed=0, dtype=np.float32, epochs=None, progress=False, callback=None, stream=None):
    """Train ``cell`` by the recipe ``rec`` on ``data = (X_train, y_train, X_test, y_test)``
    (sample-major, raw); the one training run of ``tour`` and ``train``.

    Returns a :class:`Run`: the network, its optimizer and schedule (for a checkpoint), the
    history and the data as the network saw them (encoded). ``epochs`` defaults to
    ``rec["epochs"]``; the test set is evaluated after every epoch (``history["val_acc"]``).
    """
    Xtr, ytr, Xte, yte = data
    epochs = rec["epochs"] if epochs is None else epochs
    enc, _ = encoder(rec["encoding"], Xtr)
    Xtr, Xte = enc(Xtr).astype(dtype, copy=False), enc(Xte).astype(dtype, copy=False)
    n_out = int(max(ytr.max(), yte.max())) + 1
    net = build(cell, data[0].shape[2], n_out, rec, seed=seed, dtype=dtype)
    opt, sched = make_optimizer(net, rec, epochs)
    hist = training.train(net, Xtr, ytr, opt, epochs, rec["batch_size"], np.random.default_rng(seed),
                          X_val=Xte, y_val=yte, schedule=sched, clip=rec["clip"], progress=progress,
                          callback=callback, stream=stream)
    return Run(net, opt, sched, hist, Xtr, Xte)


def is_spiking(cell):
    """True for the spiking cells: the cells whose proofs need a twin (chapter 02)."""
    from . import proofs

    return any(twin is not None for _, twin in proofs.proofs_of(cell).values())


def spike_stats(net, X, batch_size=256):
    """Firing rate and fraction of dead neurons of ``net``'s layers on ``X`` (sample-major,
    encoded), in evaluation mode: the rate is the fraction of (step, sequence, neuron)
    outputs that are non-zero (a spike, or a multi-bit level above zero), averaged over the
    layers; a neuron is dead if it never fires on any sequence of ``X``. Returns
    ``(rate, dead_fraction)``."""
    was = [c.training for c in net.layers]
    net.eval()
    fired = [np.zeros(c.n_hidden, bool) for c in net.layers]
    count = np.zeros(len(net.layers))
    try:
        for s in range(0, len(X), batch_size):
            h = np.ascontiguousarray(np.swapaxes(X[s:s + batch_size], 0, 1), net.dtype)
            for i, c in enumerate(net.layers):
                h, _ = c.forward(h)
                nz = h != 0
                count[i] += nz.sum()
                fired[i] |= nz.any(axis=(0, 1))
    finally:
        for c, w in zip(net.layers, was):
            c.training = w
    T = X.shape[1]
    rate = float(np.mean([count[i] / (len(X) * T * c.n_hidden) for i, c in enumerate(net.layers)]))
    dead = float(np.mean(np.concatenate([~f for f in fired])))
    return rate, dead


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------
def describe(rec):
    """One line: ``"1x64, raw, li-max (kappa 0.5), lr 0.01 cosine, 15 epochs"``."""
    ro = rec["readout"] + (f" (kappa {rec['kappa']:g})" if rec["readout"].startswith("li-") else "")
    cfg = ", ".join(f"{k}={v}" for k, v in rec["config"].items())
    return (f"{rec['layers']}x{rec['hidden']}, {rec['encoding']}, {ro}, lr {rec['lr']:g} {rec['schedule']}, "
            f"{rec['epochs']} epoch{'' if rec['epochs'] == 1 else 's'}, batch {rec['batch_size']}, "
            + (f"clip {rec['clip']:g}" if rec["clip"] else "no clip")
            + (f"; config {cfg}" if cfg else ""))


def help_text(width=100):
    """Each cell's recipe and config keys (with their defaults), for ``train --help``."""
    import textwrap

    lines = ["recipes (the defaults of `train` and the tour; every option below overrides them):"]
    for name in cells.available():
        lines.append(f"  {name:<13}" + describe(recipe(name)))
    lines += ["", "config keys of each cell (--config KEY=VALUE; default in parentheses):"]
    for name in cells.available():
        fields = dataclasses.fields(cells.cell_class(name).Config)
        items = ", ".join(f"{f.name} ({_default(f)})" for f in fields) or "none"
        lines += textwrap.wrap(f"{name}: {items}", width=width, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines)


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return "required"

