"""Optimizers, gradient clipping and learning-rate schedules.

An optimizer is built on a dict of *live* parameter arrays (``net.params``) and updates
them **in place** in ``step(grads)``, so the network, its cells and the optimizer all see
the same arrays. Its state (momenta) is kept in arrays of each parameter's dtype: a
float32 network trains entirely in float32.

* :class:`SGD` — ``v = mu v + g``; ``p -= lr v`` (or Nesterov: ``p -= lr (g + mu v)``),
  the PyTorch formulation, with optional L2 ``weight_decay`` (added to ``g``).
* :class:`Adam` — Kingma & Ba (2015), Algorithm 1, with bias correction:
  ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
  ``p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``; optional ``weight_decay``,
  either L2 added to the gradient (``decoupled=False``, PyTorch ``Adam``) or decoupled
  ``p -= lr * wd * p`` (``decoupled=True``, AdamW, Loshchilov & Hutter 2019).
* :func:`clip_grad_norm` — rescale all gradients together when their global L2 norm
  exceeds ``max_norm`` (Pascanu et al. 2013), the usual cure for exploding BPTT gradients.
* :class:`CosineAnnealing`, :class:`StepDecay` — per-epoch schedules (``.step()`` once per
  epoch) that set ``optimizer.lr``.

Parameter projections (e.g. the SRC bias ``b_h <= -4``) are not the optimizer's
business: each cell's ``project()`` enforces its own constraint and
:meth:`snn_from_scratch.network.Network.project` calls them after every optimizer step
(the training loop does it).

``state_dict()`` / ``load_state_dict()`` round-trip exactly (arrays are copied bit for
bit, hyper-parameters are Python numbers). ``load_state_dict`` validates every value as the
constructor does (and the state arrays' names, shapes, dtypes and finiteness) before it
changes anything: a refused state leaves the optimizer as it was.

Why this file is a little over ~350 lines: each optimizer and schedule also validates the
state a checkpoint gives it, key by key, before applying any of it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm", "CosineAnnealing", "StepDecay"]


def _positive(name, v, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return float(v)


def _fraction(name, v):
    """A finite number in [0, 1) (a momentum or a beta)."""
    v = _positive(name, v, allow_zero=True)
    if v >= 1:
        raise ValueError(f"{name} must be < 1, got {v!r}")
    return v


def _flag(name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def _count(name, v):
    """A non-negative integer (a step or epoch counter)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    return int(v)


def _betas(v):
    if not (isinstance(v, (tuple, list)) and len(v) == 2):
        raise ValueError(f"betas must be two numbers in [0, 1), got {v!r}")
    try:
        return (_fraction("betas[0]", v[0]), _fraction("betas[1]", v[1]))
    except ValueError:
        raise ValueError(f"betas must be two numbers in [0, 1), got {v!r}") from None


class Optimizer:
    """Base class: holds the live parameter dict, validates gradients, (de)serializes."""

    #: names of the per-parameter state dicts (e.g. ("m", "v") for Adam)
    slots: tuple = ()

    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        if not isinstance(params, dict) or not params:
            raise TypeError("params must be a non-empty dict name -> numpy array (e.g. net.params)")
        for k, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
                raise TypeError(f"parameter {k!r} must be a float32/float64 numpy array")
        self.params = params
        self.lr = _positive("lr", lr, allow_zero=True)
        self.t = 0
        self.state = {s: {k: np.zeros_like(p) for k, p in params.items()} for s in self.slots}

    def _check_grads(self, grads):
        if not isinstance(grads, dict):
            raise TypeError(f"grads must be a dict, got {type(grads).__name__}")
        missing = sorted(set(self.params) - set(grads))
        extra = sorted(set(grads) - set(self.params))
        if missing or extra:
            raise ValueError(f"grads do not match the parameters: missing {missing}, unexpected {extra}")
        for k, p in self.params.items():
            g = grads[k]
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                raise ValueError(f"gradient {k!r} has shape {getattr(g, 'shape', None)}, "
                                 f"expected {p.shape}")

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """Update every parameter in place from ``grads`` (same keys and shapes)."""
        self._check_grads(grads)
        self.t += 1
        for k, p in self.params.items():
            g = grads[k]
            if g.dtype != p.dtype:  # keep the parameter dtype (no float64 creep into float32)
                g = g.astype(p.dtype)
            self._update(k, p, g)

    def _update(self, k, p, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def hyper(self) -> dict[str, Any]:
        """Hyper-parameters as a JSON-safe dict (Python numbers)."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """``{"type", "t", "hyper": {...}, "state": {slot: {name: array}}}`` (copies)."""
        return {"type": type(self).__name__, "t": self.t, "hyper": dict(self.hyper()),
                "state": {s: {k: v.copy() for k, v in d.items()} for s, d in self.state.items()}}

    def _check_hyper(self, hyper):  # pragma: no cover - abstract
        """``hyper`` (the keys of :meth:`hyper`) validated like the constructor's arguments."""
        raise NotImplementedError

    def validate_state_dict(self, sd: dict[str, Any]) -> dict[str, Any]:
        """Check every value of a :meth:`state_dict` without changing anything; returns it
        normalized (Python numbers, tuples). Raises ``ValueError`` naming the first bad
        value: another optimizer type, unknown or missing keys, a hyper-parameter out of
        the constructor's range (lr, betas, eps, momentum, ...), ``t`` not an integer >= 0,
        slots or arrays that do not match the parameters (name, shape, dtype), non-finite
        state (or a negative second moment)."""
        name = type(self).__name__
        if not isinstance(sd, dict):
            raise ValueError(f"optimizer state must be a dict, got {type(sd).__name__}")
        if sd.get("type") != name:
            raise ValueError(f"optimizer state is for {sd.get('type')!r}, this optimizer is {name!r}")
        keys = {"type", "t", "hyper", "state"}
        if set(sd) != keys:
            raise ValueError(f"optimizer state keys: unknown {sorted(set(sd) - keys)}, "
                             f"missing {sorted(keys - set(sd))}")
        t = _count("t", sd["t"])
        hyper = sd["hyper"]
        known = set(self.hyper())
        if not isinstance(hyper, dict) or set(hyper) != known:
            got = sorted(hyper) if isinstance(hyper, dict) else type(hyper).__name__
            raise ValueError(f"{name} hyper-parameters must be exactly {sorted(known)}, got {got}")
        hyper = self._check_hyper(hyper)
        state = sd["state"]
        if not isinstance(state, dict) or set(state) != set(self.slots):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"optimizer state slots: {got}, expected {sorted(self.slots)}")
        out = {}
        for s in self.slots:
            d = state[s]
            if not isinstance(d, dict) or set(d) != set(self.params):
                got = sorted(d) if isinstance(d, dict) else type(d).__name__
                raise ValueError(f"optimizer state {s!r} has parameters {got}, expected "
                                 f"{sorted(self.params)}")
            for k, v in d.items():
                p = self.params[k]
                if not isinstance(v, np.ndarray) or v.shape != p.shape or v.dtype != p.dtype:
                    got = f"{v.dtype}{v.shape}" if isinstance(v, np.ndarray) else type(v).__name__
                    raise ValueError(f"optimizer state {s}[{k!r}] is {got}, expected {p.dtype}{p.shape}")
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"optimizer state {s}[{k!r}] holds non-finite values")
                if s == "v" and np.any(v < 0):
                    raise ValueError(f"optimizer state {s}[{k!r}] (a second moment) holds negative values")
            out[s] = d
        return {"type": name, "t": t, "hyper": hyper, "state": out}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`: everything is validated first
        (:meth:`validate_state_dict`), then applied; a refused state changes nothing."""
        sd = self.validate_state_dict(sd)
        for s, d in sd["state"].items():
            for k, v in d.items():
                self.state[s][k][...] = v
        self.t = sd["t"]
        for k, v in sd["hyper"].items():
            setattr(self, k, v)

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({hp})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    ``g <- g + wd p``; with momentum ``mu``: ``v <- mu v + g`` and ``p <- p - lr v``
    (Nesterov: ``p <- p - lr (g + mu v)``); without momentum ``p <- p - lr g``.
    """

    def __init__(self, params: dict[str, np.ndarray], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        self.momentum = _fraction("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.slots = ("velocity",) if self.momentum else ()
        super().__init__(params, lr)

    def _check_hyper(self, hyper):
        h = {"lr": _positive("lr", hyper["lr"], allow_zero=True),
             "momentum": _fraction("momentum", hyper["momentum"]),
             "nesterov": _flag("nesterov", hyper["nesterov"]),
             "weight_decay": _positive("weight_decay", hyper["weight_decay"], allow_zero=True)}
        if h["nesterov"] and h["momentum"] == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        if bool(h["momentum"]) != bool(self.momentum):  # the velocity slot exists or not
            raise ValueError(f"momentum {h['momentum']!r}: this SGD was built with momentum "
                             f"{self.momentum!r} ({'a' if self.momentum else 'no'} velocity state)")
        return h

    def _update(self, k, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            v = self.state["velocity"][k]
            v *= self.momentum
            v += g
            g = g + self.momentum * v if self.nesterov else v
        p -= self.lr * g

    def hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015, Algorithm 1).

    ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``;
    ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m/(1-b1^t)``,
    ``v_hat = v/(1-b2^t)``. ``weight_decay`` adds ``wd p`` to ``g`` (L2), or with
    ``decoupled=True`` shrinks ``p <- p - lr wd p`` before the step (AdamW).
    """

    slots = ("m", "v")

    def __init__(self, params: dict[str, np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False) -> None:
        self.betas = _betas(betas)
        self.eps = _positive("eps", eps)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.decoupled = bool(decoupled)
        super().__init__(params, lr)

    def _check_hyper(self, hyper):
        return {"lr": _positive("lr", hyper["lr"], allow_zero=True), "betas": _betas(hyper["betas"]),
                "eps": _positive("eps", hyper["eps"]),
                "weight_decay": _positive("weight_decay", hyper["weight_decay"], allow_zero=True),
                "decoupled": _flag("decoupled", hyper["decoupled"])}

    def _update(self, k, p, g):
        b1, b2 = self.betas
        if self.weight_decay and self.decoupled:
            p -= (self.lr * self.weight_decay) * p
        elif self.weight_decay:
            g = g + self.weight_decay * p
        m, v = self.state["m"][k], self.state["v"][k]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        # Fold both bias corrections into the step size and eps (algebraically identical
        # to m_hat / (sqrt(v_hat) + eps)) so the update allocates a single temporary.
        c1 = 1.0 - b1 ** self.t
        c2 = math.sqrt(1.0 - b2 ** self.t)
        p -= (self.lr * c2 / c1) * (m / (np.sqrt(v) + self.eps * c2))

    def hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay, "decoupled": self.decoupled}


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale every gradient by ``max_norm / norm`` when the global norm exceeds ``max_norm``.

    The global norm is ``sqrt(sum over all tensors of sum(g^2))`` (accumulated in
    float64). The gradients are modified **in place**; the norm *before* clipping is
    returned (a non-finite norm is returned unchanged and nothing is scaled, so the
    caller can notice the divergence).
    """
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    max_norm = _positive("max_norm", max_norm)
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
    if math.isfinite(total) and total > max_norm:
        scale = max_norm / (total + 1e-12)
        for g in grads.values():
            g *= g.dtype.type(scale)
    return total


class _Schedule:
    """Per-epoch schedule: remembers the optimizer's initial lr; ``step()`` once per epoch."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError("the schedule needs an optimizer from snn_from_scratch.optim")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch and set the optimizer's learning rate; returns it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "base_lr": self.base_lr}

    def validate_state_dict(self, sd: dict[str, Any]) -> dict[str, Any]:
        """Check a :meth:`state_dict` (keys ``epoch``, an integer >= 0, and ``base_lr``, a
        finite number >= 0) without changing anything; returns it normalized."""
        keys = {"epoch", "base_lr"}
        if not isinstance(sd, dict) or set(sd) != keys:
            got = sorted(sd) if isinstance(sd, dict) else type(sd).__name__
            raise ValueError(f"schedule state must have exactly the keys {sorted(keys)}, got {got}")
        return {"epoch": _count("epoch", sd["epoch"]), "base_lr": _positive("base_lr", sd["base_lr"], allow_zero=True)}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        sd = self.validate_state_dict(sd)
        self.epoch, self.base_lr = sd["epoch"], sd["base_lr"]
        self.optimizer.lr = self.lr_at(self.epoch)


class CosineAnnealing(_Schedule):
    """``lr(e) = lr_min + (lr0 - lr_min) (1 + cos(pi e / T_max)) / 2`` for e <= T_max, then lr_min.

    (Loshchilov & Hutter 2017, without restarts.)
    """

    def __init__(self, optimizer: Optimizer, T_max: int, lr_min: float = 0.0) -> None:
        super().__init__(optimizer)
        if isinstance(T_max, bool) or not isinstance(T_max, (int, np.integer)) or T_max < 1:
            raise ValueError(f"T_max must be a positive integer (epochs), got {T_max!r}")
        self.T_max = int(T_max)
        self.lr_min = _positive("lr_min", lr_min, allow_zero=True)

    def lr_at(self, epoch: int) -> float:
        e = min(epoch, self.T_max)
        return self.lr_min + (self.base_lr - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * e / self.T_max))


class StepDecay(_Schedule):
    """``lr(e) = lr0 * gamma ** (e // step_size)``: multiply by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer (epochs), got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _positive("gamma", gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)
