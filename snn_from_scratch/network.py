"""The model: a stack of recurrent layers with a readout and a loss, and its evaluation.

``Network(layers=[cell, ...], readout, loss, output)`` feeds each layer's output sequence
``y (T, B, H)`` to the next layer as its input, then reads it out:

``output="last"``
    with a :class:`~snn_from_scratch.layers.Linear` readout, the logits are
    ``y[T-1] W + b`` (B, C). A *sequence readout* reads the whole sequence and returns
    (B, C): the learnable leaky integrator of :mod:`snn_from_scratch.readouts` (logits =
    max, mean or last value over time of a leaky membrane) or the SRC paper's fixed
    :class:`~snn_from_scratch.layers.LeakyReadout` (``o[T]``, De Geeter et al. §4.2).
    Targets: labels (B,) for cross-entropy, (B, C) for MSE.
``output="all"``
    the Linear readout at every step, (T, B, C), with per-step targets: labels (T, B)
    (or (B,), the same label at every step: cross-entropy at every step, "rate") for
    cross-entropy, (T, B, C) for MSE.

:func:`build` names them: ``readout="linear"`` (last step), ``"rate"`` (Linear at every
step), ``"li-max"`` / ``"li-mean"`` / ``"li-last"`` (leaky integrator) and ``"leaky"``
(the SRC paper's fixed readout). Why it matters for spiking layers: read only at its last
step, a spiking layer gets gradient at one step, which BPTT must carry back through every
spike's surrogate; a readout over time gives every step its own gradient.

The backward pass is written by hand: the loss gives ``dout``; the readout's backward
gives the gradient reaching the last layer's outputs (``dy[T-1]`` only, for a Linear
``last`` readout); each cell's ``backward`` (the cell protocol, BPTT inside the cell)
turns its ``dy`` into ``dx``, which is the ``dy`` of the layer below. A layer may be
given a *substituted* backward rule (``backward_rules``, e.g. a paper's printed
formulas): the network then trains with that rule instead of the gradient, which is how
the chapters compare learning rules.

Parameters are exposed as one flat dict of the *live* arrays, ``"0.W_x"``, ...,
``"1.W_h"``, ``"readout.W"``, so an optimizer built on ``net.params`` updates the cells
in place.

The rest of the model's life is in two other modules: :mod:`snn_from_scratch.training`
(the training loop) and :mod:`snn_from_scratch.checkpoint` (save / load).

Why this file is a little over ~350 lines: the model's forward and backward for every
readout plus the small evaluation helpers the training loop shares; nothing here trains or
saves.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

import numpy as np
from numpy.typing import DTypeLike

from . import cells
from .cells.base import Cell
from .layers import LeakyReadout, Linear, mse, softmax_cross_entropy
from .ops import EXACT, Ops
from .readouts import LeakyIntegrator
from .runtime import jsonable

__all__ = ["Network", "build", "READOUTS", "evaluate", "accuracy", "default_encode", "batch_target",
           "check_data", "check_count"]

LOSSES = ("cross_entropy", "mse")
OUTPUTS = ("last", "all")
#: readout name (build, the CLI's --readout) -> what it is
READOUTS = {
    "linear": "Linear on the last step",
    "rate": "Linear at every step, cross-entropy at every step",
    "li-max": "learnable leaky integrator, logits = max over time",
    "li-mean": "learnable leaky integrator, logits = mean over time",
    "li-last": "learnable leaky integrator, logits = last step",
    "leaky": "the SRC paper's fixed leaky integrators (10 neurons per class)",
}
SEQUENCE_READOUTS = (LeakyReadout, LeakyIntegrator)  # read (T, B, H), return (B, C)


class Network:
    """Layers of cells (each feeding the next), a readout and a loss. See module docstring.

    ``backward_rules`` (optional): ``{layer index: rule}`` with ``rule(cell, dy, cache) ->
    (dx, grads)`` used in place of that layer's ``cell.backward(dy, cache)`` — a substituted
    learning rule such as ``functools.partial(spiking_lstm.backward_variant,
    variant=spiking_lstm.AUTHORS_SCRIPTS["mnist"])``. The forward pass is unchanged; :meth:`backward`,
    :meth:`loss_and_grads` and therefore :func:`snn_from_scratch.training.train` use the
    rule. Such a network's "gradients" are not the gradient of its loss (nothing proves
    them): it is for comparing learning rules, as chapter 05 does.
    """

    def __init__(self, layers: Cell | Sequence[Cell], readout: Linear | LeakyReadout | LeakyIntegrator,
                 loss: str = "cross_entropy", output: str = "last",
                 backward_rules: Optional[dict[int, Callable[..., tuple]]] = None) -> None:
        if isinstance(layers, Cell):
            layers = [layers]
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError("layers must be a non-empty list of cells (from cells.make)")
        for i, c in enumerate(layers):
            if not isinstance(c, Cell):
                raise TypeError(f"layers[{i}] must be a cell built by cells.make, got {type(c).__name__}")
        if not isinstance(readout, (Linear,) + SEQUENCE_READOUTS):
            raise TypeError(f"readout must be a Linear, LeakyIntegrator or LeakyReadout, got "
                            f"{type(readout).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if isinstance(readout, SEQUENCE_READOUTS) and output != "last":
            raise ValueError(f"{type(readout).__name__} reads the whole sequence and returns one "
                             f"score per class: use output='last'")
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
        backward_rules = dict(backward_rules or {})
        for i, rule in backward_rules.items():
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(layers):
                raise ValueError(f"backward_rules keys must be layer indices 0..{len(layers) - 1}, got {i!r}")
            if not callable(rule):
                raise TypeError(f"backward_rules[{i}] must be callable as rule(cell, dy, cache), got {rule!r}")
        self.layers = list(layers)
        self.backward_rules = backward_rules
        self.readout = readout
        self.loss_name = loss
        self.output = output
        self.dtype = dtypes.pop()
        self.n_in = self.layers[0].n_in
        self.n_out = readout.n_out

    # -- parameters and modes ----------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Flat dict of the live parameter arrays: ``"{layer}.{name}"`` and ``"readout.{name}"``."""
        out = {}
        for i, c in enumerate(self.layers):
            for k, v in c.params.items():
                out[f"{i}.{k}"] = v
        for k, v in self.readout.params.items():
            out[f"readout.{k}"] = v
        return out

    def n_params(self) -> int:
        """Number of learnable scalars."""
        return int(sum(v.size for v in self.params.values()))

    def train(self) -> Network:
        """Training mode: running statistics (e.g. the multi-bit range b) are updated."""
        for c in self.layers:
            c.training = True
        return self

    def eval(self) -> Network:
        """Evaluation mode: running statistics frozen."""
        for c in self.layers:
            c.training = False
        return self

    @property
    def training(self) -> bool:
        return any(c.training for c in self.layers)

    def project(self) -> None:
        """Apply every cell's constraint (``cell.project()``); call after each optimizer step."""
        for c in self.layers:
            c.project()

    # -- forward / backward ------------------------------------------------------------
    def forward(self, x: np.ndarray, states: Optional[Sequence[Optional[tuple]]] = None,
                ops: Ops = EXACT) -> tuple[np.ndarray, dict[str, Any]]:
        """``x`` (T, B, n_in) -> ``out`` ((B, C) for "last", (T, B, C) for "all"), cache.

        ``states`` optional list of initial states, one per layer (None = zeros).
        ``ops`` (a gradient checker's twin; default the plain :data:`~snn_from_scratch.ops.EXACT`)
        is passed to every layer; one twin's tape serves the whole stack because the layers
        always run in the same order.
        """
        if states is not None and len(states) != len(self.layers):
            raise ValueError(f"states must have one entry per layer ({len(self.layers)}), got {len(states)}")
        h, caches = x, []
        for i, c in enumerate(self.layers):
            h, cache = c.forward(h, None if states is None else states[i], ops=ops)
            caches.append(cache)
        if isinstance(self.readout, SEQUENCE_READOUTS):
            out, rcache = self.readout.forward(h)
        elif self.output == "last":
            out, rcache = self.readout.forward(h[-1])
        else:
            out, rcache = self.readout.forward(h)
        return out, {"layers": caches, "readout": rcache, "y_shape": h.shape}

    def backward(self, dout: np.ndarray, cache: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Gradient of ``sum(dout * out)`` w.r.t. every parameter (flat dict) and the input."""
        dro, rgrads = self.readout.backward(dout, cache["readout"])
        if self.output == "last" and isinstance(self.readout, Linear):
            dy = np.zeros(cache["y_shape"], self.dtype)
            dy[-1] = dro  # only the last step is read: BPTT starts there
        else:
            dy = dro
        grads = {f"readout.{k}": v for k, v in rgrads.items()}
        for i in reversed(range(len(self.layers))):
            rule = self.backward_rules.get(i)
            if rule is None:
                dy, g = self.layers[i].backward(dy, cache["layers"][i])
            else:
                dy, g = rule(self.layers[i], dy, cache["layers"][i])
            grads.update({f"{i}.{k}": v for k, v in g.items()})
        return dy, {k: grads[k] for k in self.params}  # parameter order

    def _target(self, out, target):
        """Broadcast per-sequence labels to every step for output='all' cross-entropy."""
        if self.loss_name == "cross_entropy" and self.output == "all" and isinstance(target, np.ndarray) \
                and target.ndim == 1 and out.ndim == 3:
            return np.broadcast_to(target, out.shape[:2])
        return target

    def loss(self, x: np.ndarray, target: np.ndarray, states: Optional[Sequence[Optional[tuple]]] = None,
             ops: Ops = EXACT) -> float:
        """The scalar loss only (no backward): what finite differences differentiate."""
        out, _ = self.forward(x, states, ops=ops)
        return self._loss(out, target)[0]

    def _loss(self, out, target):
        target = self._target(out, target)
        if self.loss_name == "cross_entropy":
            return softmax_cross_entropy(out, target)
        return mse(out, target)

    def loss_and_grads(self, x: np.ndarray, target: np.ndarray,
                       states: Optional[Sequence[Optional[tuple]]] = None,
                       ops: Ops = EXACT) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Forward, loss and hand-written backward: returns ``(loss, grads, out)``."""
        out, cache = self.forward(x, states, ops=ops)
        loss, dout = self._loss(out, target)
        _, grads = self.backward(dout, cache)
        return loss, grads, out

    # -- description (checkpoints) -----------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """JSON-safe description of the architecture (what a checkpoint must match).

        A substituted backward rule is not part of it: it changes training, not the model.
        """
        return jsonable({
            "layers": [{"cell": c.name, "n_in": c.n_in, "n_hidden": c.n_hidden, "dtype": str(c.dtype),
                        "config": dataclasses.asdict(c.config)} for c in self.layers],
            "readout": self.readout.describe(),
            "loss": self.loss_name, "output": self.output, "dtype": str(self.dtype),
        })

    def __repr__(self):
        inner = ",\n  ".join(repr(c) for c in self.layers)
        rules = f", backward_rules={self.backward_rules!r}" if self.backward_rules else ""
        return (f"Network(\n  {inner},\n  readout={self.readout!r},\n  loss={self.loss_name!r}, "
                f"output={self.output!r}{rules})")


def build(cell: str, n_in: int, n_hidden: int, n_out: int, n_layers: int = 1, readout: str = "linear",
          loss: str = "cross_entropy", output: str = "last", seed: int = 0,
          dtype: DTypeLike = np.float64, config: Optional[dict[str, Any]] = None,
          backward_rules: Optional[dict[int, Callable[..., tuple]]] = None,
          kappa: float = 0.9) -> Network:
    """Convenience: ``n_layers`` cells of type ``cell`` (same ``config`` dict) and a readout.

    ``config`` is a dict of the cell's keywords (not ``**kwargs``: a cell option may share
    a name with a network argument, e.g. the LIF's ``output``).
    Layer ``i`` is seeded ``seed + i``, the readout ``seed + n_layers``. ``readout`` is a
    key of :data:`READOUTS` (``"leaky"``: the last layer must have ``10 * n_out`` neurons;
    ``"rate"`` sets ``output="all"``); ``kappa`` is the leaky integrator's leak.
    ``backward_rules``: see :class:`Network`.
    """
    check_count("n_layers", n_layers)
    config = {} if config is None else dict(config)
    layers = [cells.make(cell, n_in if i == 0 else n_hidden, n_hidden, seed=seed + i, dtype=dtype, **config)
              for i in range(n_layers)]
    if readout in ("linear", "rate"):
        ro = Linear(n_hidden, n_out, seed=seed + n_layers, dtype=dtype)
        output = "all" if readout == "rate" else output
    elif readout == "leaky":
        ro = LeakyReadout(n_hidden, n_out, dtype=dtype)
    elif readout in ("li-max", "li-mean", "li-last"):
        ro = LeakyIntegrator(n_hidden, n_out, kappa=kappa, reduce=readout[3:], seed=seed + n_layers, dtype=dtype)
    else:
        raise ValueError(f"readout must be one of {sorted(READOUTS)}, got {readout!r}")
    return Network(layers, ro, loss=loss, output=output, backward_rules=backward_rules)


# --------------------------------------------------------------------------------------
# Data in, accuracy and evaluation (shared with the training loop)
# --------------------------------------------------------------------------------------
def default_encode(net: Network) -> Callable[..., np.ndarray]:
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


def batch_target(net: Network, yb: np.ndarray) -> np.ndarray:
    """Sample-major targets -> what the loss expects (time-major for per-step targets)."""
    per_step = (net.output == "all" and
                ((net.loss_name == "cross_entropy" and yb.ndim == 2) or (net.loss_name == "mse" and yb.ndim == 3)))
    if per_step:
        yb = np.ascontiguousarray(np.swapaxes(yb, 0, 1))
    if net.loss_name == "mse":
        yb = yb.astype(net.dtype, copy=False)
    return yb


def accuracy(out: np.ndarray, target: np.ndarray, net: Optional[Network] = None) -> float:
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


def check_data(X: np.ndarray, y: np.ndarray, name: str = "X") -> None:
    """Sample-major data and targets: numpy arrays of the same non-zero length."""
    if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"{name} and its targets must be numpy arrays")
    if len(X) != len(y):
        raise ValueError(f"{name} has {len(X)} samples but the targets have {len(y)}")
    if len(X) == 0:
        raise ValueError(f"{name} is empty")


def check_count(name: str, v: int, low: int = 1) -> int:
    """A count (layers, epochs, batch size): an integer (not a bool) >= ``low``, else
    ``ValueError`` naming it. Returns it as a Python int."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{name} must be {kind}, got {v!r}")
    return int(v)


def evaluate(net: Network, X: np.ndarray, y: np.ndarray, batch_size: int = 256,
             encode: Optional[Callable[..., np.ndarray]] = None,
             rng: Optional[np.random.Generator] = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``net`` on (X, y) in evaluation mode; returns ``(loss, acc)``.

    ``rng`` feeds a stochastic ``encode`` (default ``default_rng(0)``: evaluation is
    deterministic). The network's training flag is restored afterwards.
    """
    check_data(X, y)
    batch_size = check_count("batch_size", batch_size)
    encode = default_encode(net) if encode is None else encode
    rng = np.random.default_rng(0) if rng is None else rng
    was = [c.training for c in net.layers]
    net.eval()
    tot_loss = tot_acc = 0.0
    try:
        for s in range(0, len(X), batch_size):
            xb, yb = X[s:s + batch_size], y[s:s + batch_size]
            out, _ = net.forward(encode(xb, rng))
            tgt = batch_target(net, yb)
            loss, _ = net._loss(out, tgt)
            tot_loss += loss * len(xb)
            tot_acc += accuracy(out, tgt) * len(xb)
    finally:
        for c, w in zip(net.layers, was):
            c.training = w
    return tot_loss / len(X), tot_acc / len(X)


#: Names that lived here before the training loop and the checkpoints got their own modules.
_MOVED = {"train": "training", "Progress": "training", "save_checkpoint": "checkpoint",
          "load_checkpoint": "checkpoint", "read_header": "checkpoint"}


def __getattr__(name):
    """``network.train`` etc. still resolve (to :mod:`training` / :mod:`checkpoint`) for old
    code; new code imports them from there."""
    if name in _MOVED:
        import importlib
        return getattr(importlib.import_module(f"{__package__}.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
