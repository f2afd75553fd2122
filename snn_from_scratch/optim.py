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
bit, hyper-parameters are Python numbers).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm", "CosineAnnealing", "StepDecay"]


def _positive(name, v, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return float(v)


class Optimizer:
    """Base class: holds the live parameter dict, validates gradients, (de)serializes."""

    #: names of the per-parameter state dicts (e.g. ("m", "v") for Adam)
    slots: tuple = ()

    def __init__(self, params, lr):
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

    def step(self, grads):
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

    def hyper(self):
        """Hyper-parameters as a JSON-safe dict (Python numbers)."""
        return {"lr": self.lr}

    def state_dict(self):
        """``{"type", "t", "hyper": {...}, "state": {slot: {name: array}}}`` (copies)."""
        return {"type": type(self).__name__, "t": self.t, "hyper": dict(self.hyper()),
                "state": {s: {k: v.copy() for k, v in d.items()} for s, d in self.state.items()}}

    def load_state_dict(self, sd):
        """Restore a :meth:`state_dict`; refuses another optimizer type or other parameters."""
        if sd.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {sd.get('type')!r}, this optimizer is "
                             f"{type(self).__name__!r}")
        for s in self.slots:
            d = sd["state"].get(s, {})
            if set(d) != set(self.params):
                raise ValueError(f"optimizer state {s!r} has parameters {sorted(d)}, expected "
                                 f"{sorted(self.params)}")
            for k, v in d.items():
                if v.shape != self.params[k].shape or v.dtype != self.params[k].dtype:
                    raise ValueError(f"optimizer state {s}[{k!r}] is {v.dtype}{v.shape}, expected "
                                     f"{self.params[k].dtype}{self.params[k].shape}")
        for s in self.slots:
            for k, v in sd["state"][s].items():
                self.state[s][k][...] = v
        self.t = int(sd["t"])
        for k, v in sd["hyper"].items():
            setattr(self, k, tuple(v) if isinstance(v, list) else v)

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({hp})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    ``g <- g + wd p``; with momentum ``mu``: ``v <- mu v + g`` and ``p <- p - lr v``
    (Nesterov: ``p <- p - lr (g + mu v)``); without momentum ``p <- p - lr g``.
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.momentum = _positive("momentum", momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1, got {momentum!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.slots = ("velocity",) if self.momentum else ()
        super().__init__(params, lr)

    def _update(self, k, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            v = self.state["velocity"][k]
            v *= self.momentum
            v += g
            g = g + self.momentum * v if self.nesterov else v
        p -= self.lr * g

    def hyper(self):
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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled=False):
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2
                and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = _positive("eps", eps)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.decoupled = bool(decoupled)
        super().__init__(params, lr)

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

    def hyper(self):
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay, "decoupled": self.decoupled}


def clip_grad_norm(grads, max_norm):
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

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError("the schedule needs an optimizer from snn_from_scratch.optim")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch):  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self):
        """Advance one epoch and set the optimizer's learning rate; returns it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def state_dict(self):
        return {"epoch": self.epoch, "base_lr": self.base_lr}

    def load_state_dict(self, sd):
        self.epoch, self.base_lr = int(sd["epoch"]), float(sd["base_lr"])
        self.optimizer.lr = self.lr_at(self.epoch)


class CosineAnnealing(_Schedule):
    """``lr(e) = lr_min + (lr0 - lr_min) (1 + cos(pi e / T_max)) / 2`` for e <= T_max, then lr_min.

    (Loshchilov & Hutter 2017, without restarts.)
    """

    def __init__(self, optimizer, T_max, lr_min=0.0):
        super().__init__(optimizer)
        if isinstance(T_max, bool) or not isinstance(T_max, (int, np.integer)) or T_max < 1:
            raise ValueError(f"T_max must be a positive integer (epochs), got {T_max!r}")
        self.T_max = int(T_max)
        self.lr_min = _positive("lr_min", lr_min, allow_zero=True)

    def lr_at(self, epoch):
        e = min(epoch, self.T_max)
        return self.lr_min + (self.base_lr - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * e / self.T_max))


class StepDecay(_Schedule):
    """``lr(e) = lr0 * gamma ** (e // step_size)``: multiply by gamma every step_size epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer (epochs), got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _positive("gamma", gamma)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)
