"""The training loop: minibatch steps of an optimizer on a :class:`~snn_from_scratch.network.Network`.

:func:`step`
    ONE training step, the unit everything else is made of: forward, loss and the
    hand-written backward (``net.loss_and_grads``), a check that the loss is finite,
    optional clipping to a global gradient norm, the optimizer's update and the cells'
    projections (``net.project()``, e.g. the SRC's bound on ``b_h``).
:func:`train`
    epochs of shuffled minibatches of a sample-major data set, each a :func:`step`, with
    optional validation, learning-rate schedule, live progress line and early stop; returns
    the history.

An experiment whose batches do not come from a fixed data set (fresh random draws each
iteration, snapshots between steps) calls :func:`step` in its own loop. A network
trained with a substituted backward rule (``Network(backward_rules=...)``) goes through
the same loop: the rule sits inside ``net.loss_and_grads``.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, Optional, TextIO

import numpy as np

from .network import Network, accuracy, batch_target, check_count, check_data, default_encode, evaluate
from .optim import CosineAnnealing, Optimizer, StepDecay, clip_grad_norm

__all__ = ["step", "train", "Progress"]


def step(net: Network, optimizer: Optimizer, x: np.ndarray, target: np.ndarray,
         clip: Optional[float] = None) -> tuple[float, np.ndarray, float]:
    """One optimizer step on the batch ``(x, target)`` (time-major, as ``net.loss`` takes
    them); returns ``(loss, out, grad_norm)`` (``grad_norm`` before clipping, NaN when not
    clipping). A non-finite loss raises ``FloatingPointError`` before anything is updated.
    """
    loss, grads, out = net.loss_and_grads(x, target)
    if not math.isfinite(loss):
        raise FloatingPointError(f"the loss became {loss}: lower the learning rate or clip the gradients")
    norm = clip_grad_norm(grads, clip) if clip is not None else float("nan")
    optimizer.step(grads)
    net.project()
    return loss, out, norm


def train(net: Network, X: np.ndarray, y: np.ndarray, optimizer: Optimizer, epochs: int,
          batch_size: int, rng: np.random.Generator, encode: Optional[Callable[..., np.ndarray]] = None,
          X_val: Optional[np.ndarray] = None,
          y_val: Optional[np.ndarray] = None, schedule: Optional[CosineAnnealing | StepDecay] = None,
          clip: Optional[float] = None, progress: bool = True,
          callback: Optional[Callable[[int, dict[str, list], Network], Any]] = None,
          stream: Optional[TextIO] = None) -> dict[str, list]:
    """Train ``net`` with minibatch ``optimizer`` steps; returns the history.

    Each epoch shuffles the samples with ``rng`` (a ``numpy.random.Generator``, also
    passed to ``encode(xb, rng)`` for stochastic encodings), takes minibatches of
    ``batch_size`` (the last one may be smaller) and makes one :func:`step` on each
    (loss, hand-written gradients, optional clipping to global norm ``clip``, optimizer,
    ``net.project()``). After the epoch it evaluates on ``(X_val, y_val)`` if given and
    calls ``schedule.step()``.

    Data are sample-major: ``X`` (N, ...) and ``y`` (N,) labels, (N, C) MSE targets, or
    per-step targets (N, T) / (N, T, C) for ``output="all"``. ``encode`` defaults to
    :func:`~snn_from_scratch.network.default_encode` ((N, T, n_in) or (N, T) -> time-major).

    ``progress`` writes a live line (epoch, batch, running loss and accuracy, ETA) to
    ``stream`` (default stderr), rewritten with ``\\r`` on a terminal, and one finished
    line per epoch. ``callback(epoch, history, net)`` runs after each epoch; returning
    True stops training early. A non-finite loss raises ``FloatingPointError``.

    History: dict of per-epoch lists ``loss``, ``acc`` (training, running means over the
    epoch), ``val_loss``, ``val_acc`` (NaN without validation data), ``lr``,
    ``epoch_time`` (seconds, training only) and ``grad_norm`` (mean pre-clip norm, NaN
    when not clipping); and ``batch_loss``, the loss of every step in order (the curves
    the chapters smooth and plot).
    """
    check_data(X, y)
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        check_data(X_val, y_val, "X_val")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    epochs = check_count("epochs", epochs, low=0)
    batch_size = check_count("batch_size", batch_size)
    if set(optimizer.params) != set(net.params) or any(optimizer.params[k] is not v for k, v in net.params.items()):
        raise ValueError("the optimizer must be built on this network's live parameters (net.params)")
    encode = default_encode(net) if encode is None else encode
    bar = Progress(sys.stderr if stream is None else stream, enabled=progress)
    hist = {k: [] for k in ("loss", "acc", "val_loss", "val_acc", "lr", "epoch_time", "grad_norm",
                            "batch_loss")}
    N = len(X)
    n_batches = math.ceil(N / batch_size)
    for epoch in range(1, epochs + 1):
        net.train()
        t0 = time.time()
        order = rng.permutation(N)
        tot_loss = tot_acc = 0.0
        norms = []
        seen = 0
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb = encode(X[idx], rng)
            tgt = batch_target(net, y[idx])
            try:
                loss, out, norm = step(net, optimizer, xb, tgt, clip)
            except FloatingPointError as e:
                bar.finish("")
                raise FloatingPointError(f"{e} (epoch {epoch}, batch {b + 1})") from None
            if clip is not None:
                norms.append(norm)
            hist["batch_loss"].append(loss)
            tot_loss += loss * len(idx)
            tot_acc += accuracy(out, tgt) * len(idx)
            seen += len(idx)
            el = time.time() - t0
            eta = el / (b + 1) * (n_batches - b - 1)
            bar.update(f"epoch {epoch}/{epochs}  batch {b + 1}/{n_batches}  loss {tot_loss / seen:.4f}  "
                       f"acc {tot_acc / seen:.3f}  ETA {_fmt_time(eta)}", force=b in (0, n_batches - 1))
        dt = time.time() - t0
        hist["loss"].append(tot_loss / N)
        hist["acc"].append(tot_acc / N)
        hist["epoch_time"].append(dt)
        hist["lr"].append(optimizer.lr)
        hist["grad_norm"].append(float(np.mean(norms)) if norms else float("nan"))
        if X_val is not None:
            vl, va = evaluate(net, X_val, y_val, batch_size=max(batch_size, 256), encode=encode, rng=rng)
        else:
            vl = va = float("nan")
        hist["val_loss"].append(vl)
        hist["val_acc"].append(va)
        line = (f"epoch {epoch}/{epochs}  loss {hist['loss'][-1]:.4f}  acc {hist['acc'][-1]:.3f}")
        if X_val is not None:
            line += f"  val_loss {vl:.4f}  val_acc {va:.3f}"
        bar.finish(line + f"  ({dt:.1f} s)")
        if schedule is not None:
            schedule.step()
        if callback is not None and callback(epoch, hist, net):
            break
    net.train()
    return hist


class Progress:
    """One status line on ``stream``: on a terminal rewritten in place with ``\\r``
    (throttled to ``every`` seconds); elsewhere (a log file, a pipe, a notebook) written as a
    plain line at most every ``log_every`` seconds, so that a long epoch still shows signs of
    life, plus the finished line of each epoch.

    Why not tqdm: its updates are carriage-return rewrites, which a log file keeps as one
    growing line, and in a notebook a widget whose state would be committed with the
    chapters' outputs. Forty lines give both behaviours we want.
    """

    def __init__(self, stream: TextIO, enabled: bool = True, every: float = 0.1,
                 log_every: float = 10.0) -> None:
        self.stream, self.enabled, self.every, self.log_every = stream, enabled, every, log_every
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.last = time.time()
        self.width = 0

    def update(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.time()
        if not self.tty:
            if now - self.last >= self.log_every:  # a plain line now and then
                self.last = now
                self.stream.write(text + "\n")
                self.stream.flush()
            return
        if not force and now - self.last < self.every:
            return
        self.last = now
        pad = max(0, self.width - len(text))
        self.width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def clear(self) -> None:
        """Erase the live line (terminal only), e.g. before printing elsewhere."""
        if self.enabled and self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def finish(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad + "\n")
        else:
            self.stream.write(text + "\n")
        self.width = 0
        self.stream.flush()


def _fmt_time(s):
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}h{(s % 3600) // 60:02d}"
