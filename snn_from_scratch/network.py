"""A stack of recurrent layers with a readout, a training loop, evaluation and checkpoints.

``Network(layers=[cell, ...], readout=Linear(...) | LeakyReadout(...), loss, output)``
feeds each layer's output sequence ``y (T, B, H)`` to the next layer as its input, then
reads it out:

``output="last"``
    with a :class:`~snn_from_scratch.layers.Linear` readout, the logits are
    ``y[T-1] W + b`` (B, C); with a :class:`~snn_from_scratch.layers.LeakyReadout` the
    leaky integrators read the whole sequence and return ``o[T]`` (B, C) (De Geeter et
    al. §4.2). Targets: labels (B,) for cross-entropy, (B, C) for MSE.
``output="all"``
    the Linear readout at every step, (T, B, C), with per-step targets: labels (T, B)
    (or (B,), the same label at every step) for cross-entropy, (T, B, C) for MSE.

The backward pass is written by hand: the loss gives ``dout``; the readout's backward
gives the gradient reaching the last layer's outputs (``dy[T-1]`` only, for a Linear
``last`` readout); each cell's ``backward`` (the cell protocol, BPTT inside the cell)
turns its ``dy`` into ``dx``, which is the ``dy`` of the layer below.

Parameters are exposed as one flat dict of the *live* arrays, ``"0.W_x"``, ...,
``"1.W_h"``, ``"readout.W"``, so an optimizer built on ``net.params`` updates the cells
in place.

Checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`) are single ``.npz``
files: a JSON header (library version, each layer's cell name, sizes, dtype and config,
the readout, loss and output), every parameter, every cell's ``buffers`` (running
statistics such as the multi-bit range ``b``) and the optimizer's state. A round trip
restores every array bit for bit; loading into a model that differs in any of these
raises ``ValueError`` naming the difference.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import sys
import time

import numpy as np

from . import __version__, cells
from .cells.base import Cell
from .layers import LeakyReadout, Linear, mse, softmax_cross_entropy

__all__ = ["Network", "build", "train", "evaluate", "accuracy", "save_checkpoint", "load_checkpoint"]

LOSSES = ("cross_entropy", "mse")
OUTPUTS = ("last", "all")


class Network:
    """Layers of cells (each feeding the next), a readout and a loss. See module docstring."""

    def __init__(self, layers, readout, loss="cross_entropy", output="last"):
        if isinstance(layers, Cell):
            layers = [layers]
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError("layers must be a non-empty list of cells (from cells.make)")
        for i, c in enumerate(layers):
            if not isinstance(c, Cell):
                raise TypeError(f"layers[{i}] must be a cell built by cells.make, got {type(c).__name__}")
        if not isinstance(readout, (Linear, LeakyReadout)):
            raise TypeError(f"readout must be a Linear or LeakyReadout, got {type(readout).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if isinstance(readout, LeakyReadout) and output != "last":
            raise ValueError("LeakyReadout reads the final integrator value o[T]: use output='last'")
        for i in range(1, len(layers)):
            if layers[i].n_in != layers[i - 1].n_hidden:
                raise ValueError(f"layers[{i}].n_in = {layers[i].n_in} does not match "
                                 f"layers[{i - 1}].n_hidden = {layers[i - 1].n_hidden}")
        if readout.n_in != layers[-1].n_hidden:
            raise ValueError(f"readout n_in = {readout.n_in} does not match the last layer's "
                             f"n_hidden = {layers[-1].n_hidden}")
        dtypes = {np.dtype(c.dtype) for c in layers} | {np.dtype(readout.dtype)}
        if len(dtypes) != 1:
            raise TypeError(f"all layers and the readout must share one dtype, got {sorted(map(str, dtypes))}")
        self.layers = list(layers)
        self.readout = readout
        self.loss_name = loss
        self.output = output
        self.dtype = dtypes.pop()
        self.n_in = self.layers[0].n_in
        self.n_out = readout.n_out

    # -- parameters and modes ----------------------------------------------------------
    @property
    def params(self):
        """Flat dict of the live parameter arrays: ``"{layer}.{name}"`` and ``"readout.{name}"``."""
        out = {}
        for i, c in enumerate(self.layers):
            for k, v in c.params.items():
                out[f"{i}.{k}"] = v
        for k, v in self.readout.params.items():
            out[f"readout.{k}"] = v
        return out

    def n_params(self):
        """Number of learnable scalars."""
        return int(sum(v.size for v in self.params.values()))

    def train(self):
        """Training mode: running statistics (e.g. the multi-bit range b) are updated."""
        for c in self.layers:
            c.training = True
        return self

    def eval(self):
        """Evaluation mode: running statistics frozen."""
        for c in self.layers:
            c.training = False
        return self

    @property
    def training(self):
        return any(c.training for c in self.layers)

    def project(self):
        """Apply every cell's constraint (``cell.project()``); call after each optimizer step."""
        for c in self.layers:
            c.project()

    # -- forward / backward ------------------------------------------------------------
    def forward(self, x, states=None, twin=None):
        """``x`` (T, B, n_in) -> ``out`` ((B, C) for "last", (T, B, C) for "all"), cache.

        ``states`` optional list of initial states, one per layer (None = zeros).
        ``twin`` (gradient checks only) is passed to every layer; one tape serves the
        whole stack because the layers always run in the same order.
        """
        if states is not None and len(states) != len(self.layers):
            raise ValueError(f"states must have one entry per layer ({len(self.layers)}), got {len(states)}")
        h, caches = x, []
        for i, c in enumerate(self.layers):
            h, cache = c.forward(h, None if states is None else states[i], twin=twin)
            caches.append(cache)
        if isinstance(self.readout, LeakyReadout):
            out, rcache = self.readout.forward(h)
        elif self.output == "last":
            out, rcache = self.readout.forward(h[-1])
        else:
            out, rcache = self.readout.forward(h)
        return out, {"layers": caches, "readout": rcache, "y_shape": h.shape}

    def backward(self, dout, cache):
        """Gradient of ``sum(dout * out)`` w.r.t. every parameter (flat dict) and the input."""
        dro, rgrads = self.readout.backward(dout, cache["readout"])
        if self.output == "last" and isinstance(self.readout, Linear):
            dy = np.zeros(cache["y_shape"], self.dtype)
            dy[-1] = dro  # only the last step is read: BPTT starts there
        else:
            dy = dro
        grads = {f"readout.{k}": v for k, v in rgrads.items()}
        for i in reversed(range(len(self.layers))):
            dy, g = self.layers[i].backward(dy, cache["layers"][i])
            grads.update({f"{i}.{k}": v for k, v in g.items()})
        return dy, {k: grads[k] for k in self.params}  # parameter order

    def _target(self, out, target):
        """Broadcast per-sequence labels to every step for output='all' cross-entropy."""
        if self.loss_name == "cross_entropy" and self.output == "all" and isinstance(target, np.ndarray) \
                and target.ndim == 1 and out.ndim == 3:
            return np.broadcast_to(target, out.shape[:2])
        return target

    def loss(self, x, target, states=None, twin=None):
        """The scalar loss only (no backward): what finite differences differentiate."""
        out, _ = self.forward(x, states, twin=twin)
        return self._loss(out, target)[0]

    def _loss(self, out, target):
        target = self._target(out, target)
        if self.loss_name == "cross_entropy":
            return softmax_cross_entropy(out, target)
        return mse(out, target)

    def loss_and_grads(self, x, target, states=None, twin=None):
        """Forward, loss and hand-written backward: returns ``(loss, grads, out)``."""
        out, cache = self.forward(x, states, twin=twin)
        loss, dout = self._loss(out, target)
        _, grads = self.backward(dout, cache)
        return loss, grads, out

    # -- description (checkpoints) -----------------------------------------------------
    def describe(self):
        """JSON-safe description of the architecture (what a checkpoint must match)."""
        return _jsonable({
            "layers": [{"cell": c.name, "n_in": c.n_in, "n_hidden": c.n_hidden, "dtype": str(c.dtype),
                        "config": dataclasses.asdict(c.config)} for c in self.layers],
            "readout": self.readout.describe(),
            "loss": self.loss_name, "output": self.output, "dtype": str(self.dtype),
        })

    def __repr__(self):
        inner = ",\n  ".join(repr(c) for c in self.layers)
        return (f"Network(\n  {inner},\n  readout={self.readout!r},\n  loss={self.loss_name!r}, "
                f"output={self.output!r})")


def build(cell, n_in, n_hidden, n_out, n_layers=1, readout="linear", loss="cross_entropy",
          output="last", seed=0, dtype=np.float64, config=None):
    """Convenience: ``n_layers`` cells of type ``cell`` (same ``config`` dict) and a readout.

    ``config`` is a dict of the cell's keywords (not ``**kwargs``: a cell option may share
    a name with a network argument, e.g. the LIF's ``output``).
    Layer ``i`` is seeded ``seed + i``, the readout ``seed + n_layers``. ``readout`` is
    ``"linear"`` or ``"leaky"`` (then the last layer must have ``10 * n_out`` neurons).
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
    config = {} if config is None else dict(config)
    layers = [cells.make(cell, n_in if i == 0 else n_hidden, n_hidden, seed=seed + i, dtype=dtype, **config)
              for i in range(n_layers)]
    if readout == "linear":
        ro = Linear(n_hidden, n_out, seed=seed + n_layers, dtype=dtype)
    elif readout == "leaky":
        ro = LeakyReadout(n_hidden, n_out, dtype=dtype)
    else:
        raise ValueError(f"readout must be 'linear' or 'leaky', got {readout!r}")
    return Network(layers, ro, loss=loss, output=output)


# --------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------
def default_encode(net):
    """Sample-major data (B, T, n_in) -> time-major (T, B, n_in) in the network's dtype.

    Two-dimensional data (B, T) is read as T steps of one input each (MNIST-1D).
    """
    def encode(xb, rng=None):
        xb = np.asarray(xb)
        if xb.ndim == 2:
            xb = xb[:, :, None]
        if xb.ndim != 3:
            raise ValueError(f"default encoding needs data of shape (N, T, n_in) or (N, T), "
                             f"got a batch of shape {xb.shape}; pass encode=")
        return np.ascontiguousarray(xb.transpose(1, 0, 2), dtype=net.dtype)
    return encode


def _batch_target(net, yb):
    """Sample-major targets -> what the loss expects (time-major for per-step targets)."""
    per_step = (net.output == "all" and
                ((net.loss_name == "cross_entropy" and yb.ndim == 2) or (net.loss_name == "mse" and yb.ndim == 3)))
    if per_step:
        yb = np.ascontiguousarray(np.swapaxes(yb, 0, 1))
    if net.loss_name == "mse":
        yb = yb.astype(net.dtype, copy=False)
    return yb


def accuracy(out, target, net=None):
    """Fraction of correct argmax predictions (NaN for a regression target).

    Works for (B, C) / (T, B, C) outputs with integer labels of shape out.shape[:-1] (or
    (B,) broadcast over time), or one-hot-like MSE targets of the output's shape.
    """
    pred = np.argmax(out, axis=-1)
    if np.issubdtype(target.dtype, np.integer):
        return float(np.mean(pred == np.broadcast_to(target, pred.shape)))
    if target.shape == out.shape and out.shape[-1] > 1:
        return float(np.mean(pred == np.argmax(target, axis=-1)))
    return float("nan")


def _check_data(X, y, name="X"):
    if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"{name} and its targets must be numpy arrays")
    if len(X) != len(y):
        raise ValueError(f"{name} has {len(X)} samples but the targets have {len(y)}")
    if len(X) == 0:
        raise ValueError(f"{name} is empty")


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def evaluate(net, X, y, batch_size=256, encode=None, rng=None):
    """Mean loss and accuracy of ``net`` on (X, y) in evaluation mode; returns ``(loss, acc)``.

    ``rng`` feeds a stochastic ``encode`` (default ``default_rng(0)``: evaluation is
    deterministic). The network's training flag is restored afterwards.
    """
    _check_data(X, y)
    batch_size = _check_batch_size(batch_size)
    encode = default_encode(net) if encode is None else encode
    rng = np.random.default_rng(0) if rng is None else rng
    was = [c.training for c in net.layers]
    net.eval()
    tot_loss = tot_acc = 0.0
    try:
        for s in range(0, len(X), batch_size):
            xb, yb = X[s:s + batch_size], y[s:s + batch_size]
            out, _ = net.forward(encode(xb, rng))
            tgt = _batch_target(net, yb)
            loss, _ = net._loss(out, tgt)
            tot_loss += loss * len(xb)
            tot_acc += accuracy(out, tgt) * len(xb)
    finally:
        for c, w in zip(net.layers, was):
            c.training = w
    return tot_loss / len(X), tot_acc / len(X)


class Progress:
    """One status line on ``stream``, rewritten in place with ``\\r`` (throttled)."""

    def __init__(self, stream, enabled=True, every=0.1):
        self.stream, self.enabled, self.every = stream, enabled, every
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.last = 0.0
        self.width = 0

    def update(self, text, force=False):
        if not self.enabled:
            return
        now = time.time()
        if not self.tty:
            return  # a log file gets only the finished lines
        if not force and now - self.last < self.every:
            return
        self.last = now
        pad = max(0, self.width - len(text))
        self.width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def clear(self):
        """Erase the live line (terminal only), e.g. before printing elsewhere."""
        if self.enabled and self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def finish(self, text):
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


def train(net, X, y, optimizer, epochs, batch_size, rng, encode=None, X_val=None, y_val=None,
          schedule=None, clip=None, progress=True, callback=None, stream=None):
    """Train ``net`` with minibatch ``optimizer`` steps; returns the history.

    Each epoch shuffles the samples with ``rng`` (a ``numpy.random.Generator``, also
    passed to ``encode(xb, rng)`` for stochastic encodings), takes minibatches of
    ``batch_size`` (the last one may be smaller), computes the loss and the hand-written
    gradients, optionally clips them to global norm ``clip``, steps the optimizer and
    applies the cells' projections (``net.project()``). After the epoch it evaluates on
    ``(X_val, y_val)`` if given and calls ``schedule.step()``.

    Data are sample-major: ``X`` (N, ...) and ``y`` (N,) labels, (N, C) MSE targets, or
    per-step targets (N, T) / (N, T, C) for ``output="all"``. ``encode`` defaults to
    :func:`default_encode` ((N, T, n_in) or (N, T) -> time-major).

    ``progress`` writes a live line (epoch, batch, running loss and accuracy, ETA) to
    ``stream`` (default stderr), rewritten with ``\\r`` on a terminal, and one finished
    line per epoch. ``callback(epoch, history, net)`` runs after each epoch; returning
    True stops training early. A non-finite loss raises ``FloatingPointError``.

    History: dict of per-epoch lists ``loss``, ``acc`` (training, running means over the
    epoch), ``val_loss``, ``val_acc`` (NaN without validation data), ``lr``,
    ``epoch_time`` (seconds, training only) and ``grad_norm`` (mean pre-clip norm, NaN
    when not clipping).
    """
    _check_data(X, y)
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        _check_data(X_val, y_val, "X_val")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    batch_size = _check_batch_size(batch_size)
    if set(optimizer.params) != set(net.params) or any(optimizer.params[k] is not v for k, v in net.params.items()):
        raise ValueError("the optimizer must be built on this network's live parameters (net.params)")
    encode = default_encode(net) if encode is None else encode
    bar = Progress(sys.stderr if stream is None else stream, enabled=progress)
    hist = {k: [] for k in ("loss", "acc", "val_loss", "val_acc", "lr", "epoch_time", "grad_norm")}
    N = len(X)
    n_batches = math.ceil(N / batch_size)
    for epoch in range(1, int(epochs) + 1):
        net.train()
        t0 = time.time()
        order = rng.permutation(N)
        tot_loss = tot_acc = 0.0
        norms = []
        seen = 0
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb = encode(X[idx], rng)
            tgt = _batch_target(net, y[idx])
            loss, grads, out = net.loss_and_grads(xb, tgt)
            if not math.isfinite(loss):
                bar.finish("")
                raise FloatingPointError(f"the loss became {loss} in epoch {epoch}, batch {b + 1}: "
                                         "lower the learning rate or clip the gradients")
            if clip is not None:
                norms.append(_clip(grads, clip))
            optimizer.step(grads)
            net.project()
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


def _clip(grads, clip):
    from .optim import clip_grad_norm
    return clip_grad_norm(grads, clip)


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------
def _jsonable(v):
    """Make a config value JSON-safe: tuples -> lists, numpy scalars -> Python numbers."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)


def _buffer_kind(v):
    if v is None:
        return "none"
    if isinstance(v, np.ndarray):
        return "array"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    raise TypeError(f"cannot checkpoint a buffer of type {type(v).__name__}")


def _diff(a, b, path="model"):
    """First difference between two JSON-like structures, as a readable string (or None)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return f"{path}.{k} is missing from the checkpoint"
            if k not in b:
                return f"{path}.{k} is in the checkpoint but not in the model"
            d = _diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} has {len(a)} entries in the checkpoint, {len(b)} in the model"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a != b:
        return f"{path}: checkpoint has {a!r}, model has {b!r}"
    return None


def save_checkpoint(path, net, optimizer=None, extra=None, schedule=None):
    """Write ``net`` (and optionally the optimizer / schedule state) to one ``.npz`` file.

    ``extra`` is any JSON-safe dict (epoch, history, command line, ...), returned by
    :func:`load_checkpoint`. Arrays are stored exactly; the header is JSON.
    """
    arrays = {f"param/{k}": v for k, v in net.params.items()}
    buffers = []
    for i, c in enumerate(net.layers):
        kinds = {}
        for k, v in c.buffers.items():
            kinds[k] = _buffer_kind(v)
            if v is not None:
                arrays[f"buffer/{i}/{k}"] = np.asarray(v)
        buffers.append(kinds)
    header = {"format": "snn_from_scratch.checkpoint/1", "version": __version__,
              "model": net.describe(), "buffers": buffers,
              "param_shapes": {k: list(v.shape) for k, v in net.params.items()},
              "extra": _jsonable(extra or {})}
    if optimizer is not None:
        sd = optimizer.state_dict()
        header["optimizer"] = {"type": sd["type"], "t": sd["t"], "hyper": _jsonable(sd["hyper"]),
                               "slots": sorted(sd["state"])}
        for s, d in sd["state"].items():
            for k, v in d.items():
                arrays[f"optim/{s}/{k}"] = v
    if schedule is not None:
        header["schedule"] = {"type": type(schedule).__name__, **_jsonable(schedule.state_dict())}
    arrays["header"] = np.array(json.dumps(header))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def read_header(path):
    """The JSON header of a checkpoint (architecture, version, extra)."""
    with np.load(path, allow_pickle=False) as z:
        if "header" not in z.files:
            raise ValueError(f"{path} is not a snn_from_scratch checkpoint (no header)")
        return json.loads(str(z["header"][()]))


def load_checkpoint(path, net=None, optimizer=None, schedule=None):
    """Restore a checkpoint into ``net`` (in place) and optionally ``optimizer``/``schedule``.

    With ``net=None`` the network is rebuilt from the header (cells.make with the saved
    config). Returns ``(net, extra)``. Any mismatch — another cell, size, dtype, config,
    readout, loss, output or parameter shape — raises ``ValueError`` naming it; nothing is
    modified unless everything matches.
    """
    with np.load(path, allow_pickle=False) as z:
        if "header" not in z.files:
            raise ValueError(f"{path} is not a snn_from_scratch checkpoint (no header)")
        header = json.loads(str(z["header"][()]))
        data = {k: z[k] for k in z.files if k != "header"}
    model = header["model"]
    if net is None:
        net = _rebuild(model)
    d = _diff(model, net.describe())
    if d:
        raise ValueError(f"checkpoint {path} does not match the model: {d}")
    params = net.params
    saved = {k[len("param/"):]: v for k, v in data.items() if k.startswith("param/")}
    if set(saved) != set(params):
        raise ValueError(f"checkpoint parameters {sorted(saved)} differ from the model's {sorted(params)}")
    for k, v in saved.items():
        if v.shape != params[k].shape or v.dtype != params[k].dtype:
            raise ValueError(f"parameter {k!r}: checkpoint has {v.dtype}{v.shape}, model has "
                             f"{params[k].dtype}{params[k].shape}")
    for i, c in enumerate(net.layers):
        if set(header["buffers"][i]) != set(c.buffers):
            raise ValueError(f"layer {i} buffers: checkpoint has {sorted(header['buffers'][i])}, "
                             f"model has {sorted(c.buffers)}")
    if schedule is not None and "schedule" not in header:
        raise ValueError(f"checkpoint {path} holds no schedule state")
    if optimizer is not None:
        if "optimizer" not in header:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        osd = header["optimizer"]
        sd = {"type": osd["type"], "t": osd["t"], "hyper": osd["hyper"],
              "state": {s: {k[len(f"optim/{s}/"):]: v for k, v in data.items() if k.startswith(f"optim/{s}/")}
                        for s in osd["slots"]}}
        # Validate fully before touching anything (load_state_dict validates, then writes).
        optimizer.load_state_dict(sd)
    # Everything matches: write into the live arrays (optimizers hold references to them).
    for k, v in saved.items():
        params[k][...] = v
    for i, c in enumerate(net.layers):
        for k, kind in header["buffers"][i].items():
            if kind == "none":
                c.buffers[k] = None
            elif kind == "array":
                c.buffers[k] = data[f"buffer/{i}/{k}"].copy()
            else:
                c.buffers[k] = {"bool": bool, "int": int, "float": float}[kind](data[f"buffer/{i}/{k}"][()])
    if schedule is not None:
        schedule.load_state_dict(header["schedule"])
    return net, header.get("extra", {})


def _rebuild(model):
    layers = []
    for i, L in enumerate(model["layers"]):
        cls = cells.cell_class(L["cell"])
        cfg = {}
        for f in dataclasses.fields(cls.Config):
            if f.name in L["config"]:
                v = L["config"][f.name]
                # JSON turned tuples into lists; give the dataclass back its tuple.
                if isinstance(v, list) and isinstance(f.default, tuple):
                    v = tuple(v)
                cfg[f.name] = v
        layers.append(cells.make(L["cell"], L["n_in"], L["n_hidden"], dtype=np.dtype(L["dtype"]), **cfg))
    r = model["readout"]
    dt = np.dtype(model["dtype"])
    if r["kind"] == "linear":
        ro = Linear(r["n_in"], r["n_out"], dtype=dt)
    elif r["kind"] == "leaky":
        ro = LeakyReadout(r["n_in"], r["n_out"], alpha=r["alpha"], neurons_per_class=r["neurons_per_class"],
                          dtype=dt, excite=r["excite"], inhibit=r["inhibit"])
    else:
        raise ValueError(f"unknown readout kind {r['kind']!r} in checkpoint")
    return Network(layers, ro, loss=model["loss"], output=model["output"])
