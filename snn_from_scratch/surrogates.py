"""Spike functions and their surrogate derivatives.

A spiking neuron emits ``H(u)``, the Heaviside step of the distance ``u`` between its
potential and its threshold (``H(u) = 1`` if ``u > 0`` else ``0``). Its derivative is zero
almost everywhere, so back-propagation through it would learn nothing. A *surrogate* keeps
the forward pass exactly as it is and replaces ``H'(u)`` in the backward pass by a bump
``grad(u)``.

Every family below is an object with three methods:

``spike(u)``
    the real forward pass, ``H(u)`` (same dtype as ``u``);
``grad(u)``
    the surrogate derivative used by ``backward``;
``primitive(u)``
    a smooth function whose *exact* derivative is ``grad(u)``. It is the forward pass of
    the "smooth twin" (see :mod:`snn_from_scratch.gradcheck`): a network in which every
    spike is replaced by ``primitive`` has, as its exact gradient, the surrogate gradient
    of the spiking network, which finite differences can then check.

The families, with ``u`` the *unnormalized* distance (potential minus threshold):

================  ==========================================  ==========================
name              grad(u)                                     source
================  ==========================================  ==========================
gaussian(a)       exp(-u^2/a) / sqrt(pi a)                    Lotfi Rezaabad & Vishwanath
                                                              (2020), Eq. 2-3: a normal
                                                              density of variance a/2
triangle(h, w)    h * max(0, 1 - |u|/w)                       piecewise linear; Ponghiran
                                                              & Roy (2022), Bellec et al.
fast_sigmoid(k)   1 / (1 + k|u|)^2                            SuperSpike (Zenke & Ganguli)
atan(a)           (a/2) / (1 + (pi a u / 2)^2)                snnTorch's default
sigmoid(k)        k s(ku) (1 - s(ku)), s the logistic         derivative of a steep sigmoid
straight_through  scale (for |u| <= width/2; everywhere        Bengio et al. (2013); boxcar
(scale, width)    when width is None)                         when a width is given
================  ==========================================  ==========================

All of them are finite, non-negative (``grad``) and silent (no floating-point warning) for
every finite float32 and float64 input, up to the largest: the Gaussian only ever
exponentiates non-positive numbers, the sigmoid uses ``scipy.special.expit``, and an
intermediate that overflows to inf (``u*u``, ``k|u|``) is one whose limit is the right
answer (``exp(-inf) = 0``, ``1/inf = 0``), with the warning silenced locally.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from scipy.special import erfc, expit

__all__ = [
    "Surrogate", "Gaussian", "Triangle", "FastSigmoid", "Atan", "Sigmoid",
    "StraightThrough", "FAMILIES", "get", "heaviside",
]


def heaviside(u: np.ndarray) -> np.ndarray:
    """H(u) = 1 where u > 0, else 0, in the dtype of ``u`` (``H(0) = 0``)."""
    u = np.asarray(u)
    return (u > 0).astype(u.dtype if u.dtype.kind == "f" else np.float64)


class Surrogate:
    """Base class: a Heaviside spike with a surrogate derivative.

    Subclasses set ``name`` and implement ``grad`` and ``primitive``; the constructor's
    keyword arguments are the family's parameters (see :data:`FAMILIES`).
    """

    name = "surrogate"

    def spike(self, u: np.ndarray) -> np.ndarray:
        """The forward pass: ``H(u)``."""
        return heaviside(u)

    def grad(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def primitive(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def params(self) -> dict:
        """The family's parameters, as given to :func:`get`."""
        return dict(self._params)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self._params == other._params

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self._params.items()))))


def _positive(name, value):
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"surrogate parameter {name} must be a positive finite number, got {value}")
    return value


class Gaussian(Surrogate):
    """Normalized Gaussian of Lotfi Rezaabad & Vishwanath (2020), Eq. 3.

    ``grad(u) = exp(-u^2 / a) / sqrt(pi a)``: the density of a zero-mean normal
    perturbation of variance ``a/2`` — by the paper's Eq. 2 the expected finite
    difference of the step under that perturbation. Peak ``1/sqrt(pi a)`` at ``u = 0``;
    ``grad`` falls to ``peak/e`` at ``|u| = sqrt(a)``.
    ``primitive(u) = erfc(-u / sqrt(a)) / 2`` (the normal CDF), going from 0 to 1.
    """

    name = "gaussian"

    def __init__(self, a: float = 4.0) -> None:
        self.a = _positive("a", a)
        self._params = {"a": self.a}

    def grad(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # -u^2/a <= 0, so exp never overflows; it underflows (harmlessly) to 0, and so may
        # u*u for tiny u, while u*u overflows to inf for |u| > 1.8e19 in float32 (1.3e154 in
        # float64) and exp(-inf) = 0 is the right limit: silence only those two, locally, so
        # np.seterr(all="raise") users are not hit.
        with np.errstate(under="ignore", over="ignore"):
            return (np.exp(-(u * u) / self.a) / math.sqrt(math.pi * self.a)).astype(u.dtype, copy=False)

    def primitive(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # erfc keeps full relative precision in the left tail, where 1 + erf(.) cancels;
        # -u/sqrt(a) may underflow for subnormal u, or overflow to +-inf for a narrow bump
        # (erfc(-inf) = 2, erfc(inf) = 0: the right limits)
        with np.errstate(under="ignore", over="ignore"):
            return (0.5 * erfc(-u / math.sqrt(self.a))).astype(u.dtype, copy=False)


class Triangle(Surrogate):
    """Piecewise-linear surrogate: ``grad(u) = height * max(0, 1 - |u|/width)``.

    Peak ``height`` at 0, zero for ``|u| >= width`` (area ``height*width``). The default
    (1, 1) is the ``max{0, 1 - |u|}`` of Bellec et al., used by Ponghiran & Roy (2022).
    ``primitive`` is piecewise quadratic, from 0 (``u <= -width``) to ``height*width``.
    """

    name = "triangle"

    def __init__(self, height: float = 1.0, width: float = 1.0) -> None:
        self.height = _positive("height", height)
        self.width = _positive("width", width)
        self._params = {"height": self.height, "width": self.width}

    def grad(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # height * max(0, 1 - |u|/width), computed in place in one buffer: this runs once per
        # step of every binary LIF layer, and each pass over a fresh temporary costs as much
        # as the arithmetic. The factors equal to 1 are skipped (exact: x/1 = x, 1*x = x).
        # |u|/width overflows to inf for a narrow triangle and huge u: 1 - inf -> clipped to 0
        g = np.asarray(np.abs(u), dtype=u.dtype if u.dtype.kind == "f" else np.float64)
        with np.errstate(over="ignore"):
            if self.width != 1.0:
                g /= self.width
            np.subtract(1.0, g, out=g)
        np.maximum(g, 0.0, out=g)
        if self.height != 1.0:
            g *= self.height
        return g

    def primitive(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        w, h = self.width, self.height
        v = np.clip(u, -w, w)
        # integral of h(1 - |s|/w) from -w to v
        left = h * (v + w) ** 2 / (2 * w)
        right = h * (w - (w - v) ** 2 / (2 * w))
        return np.where(v < 0, left, right).astype(u.dtype, copy=False)


class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli 2018): ``grad(u) = 1/(1 + k|u|)^2``.

    Peak 1 at 0, half-peak at ``|u| = (sqrt(2) - 1)/k``.
    ``primitive(u) = 1/k + u/(1 + k|u|)``, from 0 to ``2/k``.
    """

    name = "fast_sigmoid"

    def __init__(self, k: float = 25.0) -> None:
        self.k = _positive("k", k)
        self._params = {"k": self.k}

    def grad(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # k|u| overflows to inf for huge |u|; 1/inf^2 = 0 is the right limit
        with np.errstate(over="ignore"):
            return (1.0 / (1.0 + self.k * np.abs(u)) ** 2).astype(u.dtype, copy=False)

    def primitive(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # 1/k + u/(1 + k|u|), written as 1/(k(1 + k|u|)) on the left and its mirror on the
        # right: the direct form gives inf/inf = nan once k|u| overflows.
        with np.errstate(over="ignore"):
            tail = 1.0 / (self.k * (1.0 + self.k * np.abs(u)))
        return np.where(u < 0, tail, 2.0 / self.k - tail).astype(u.dtype, copy=False)


class Atan(Surrogate):
    """Arctangent surrogate (snnTorch's default): ``grad(u) = (a/2)/(1 + (pi a u/2)^2)``.

    Peak ``a/2`` at 0, half-peak at ``|u| = 2/(pi a)``.
    ``primitive(u) = 1/2 + arctan(pi a u / 2)/pi``, from 0 to 1.
    """

    name = "atan"

    def __init__(self, a: float = 2.0) -> None:
        self.a = _positive("a", a)
        self._params = {"a": self.a}

    def grad(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # z*z underflows harmlessly for tiny u and overflows to inf for huge u, where
        # (a/2)/inf = 0 is the right limit
        with np.errstate(under="ignore", over="ignore"):
            z = (math.pi * self.a / 2) * u
            return ((self.a / 2) / (1.0 + z * z)).astype(u.dtype, copy=False)

    def primitive(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # arctan(+-inf) = +-pi/2 is the right limit; subnormal u underflows harmlessly
        with np.errstate(over="ignore", under="ignore"):
            return (0.5 + np.arctan((math.pi * self.a / 2) * u) / math.pi).astype(u.dtype, copy=False)


class Sigmoid(Surrogate):
    """Derivative of a steep logistic: ``grad(u) = k s(ku)(1 - s(ku))``.

    Peak ``k/4`` at 0. ``primitive(u) = s(ku)``, from 0 to 1 (``expit``: no overflow).
    """

    name = "sigmoid"

    def __init__(self, k: float = 25.0) -> None:
        self.k = _positive("k", k)
        self._params = {"k": self.k}

    def grad(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        # s(ku) s(-ku) = s(1-s) without the cancellation of 1 - s for large ku; ku may
        # overflow to +-inf, where expit gives exactly 0 and 1
        with np.errstate(over="ignore"):
            ku = self.k * u
        return (self.k * expit(ku) * expit(-ku)).astype(u.dtype, copy=False)

    def primitive(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        with np.errstate(over="ignore"):
            return expit(self.k * u).astype(u.dtype, copy=False)


class StraightThrough(Surrogate):
    """Straight-through estimator: ``grad(u) = scale``.

    With ``width=None`` (default) the gradient passes everywhere and
    ``primitive(u) = scale*u``. With a finite ``width`` it is the boxcar
    ``scale * 1[|u| <= width/2]`` and ``primitive(u) = scale*clip(u, -width/2, width/2)``.
    """

    name = "straight_through"

    def __init__(self, scale: float = 1.0, width: Optional[float] = None) -> None:
        self.scale = _positive("scale", scale)
        self.width = None if width is None else _positive("width", width)
        self._params = {"scale": self.scale, "width": self.width}

    def grad(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        if self.width is None:
            return np.full(u.shape, self.scale, dtype=u.dtype)
        return (self.scale * (np.abs(u) <= self.width / 2)).astype(u.dtype, copy=False)

    def primitive(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u)
        if self.width is None:
            # scale*u is unbounded: clipped to the dtype's range, so it stays finite (only a
            # smooth twin evaluates it, and never that far from the threshold)
            big = np.finfo(u.dtype if u.dtype.kind == "f" else np.float64).max
            with np.errstate(over="ignore"):
                return np.clip(self.scale * u, -big, big).astype(u.dtype, copy=False)
        half = self.width / 2
        return (self.scale * np.clip(u, -half, half)).astype(u.dtype, copy=False)


#: name -> class; the keyword arguments of each class are the family's parameters.
FAMILIES = {
    cls.name: cls
    for cls in (Gaussian, Triangle, FastSigmoid, Atan, Sigmoid, StraightThrough)
}


def get(spec: str | Surrogate, **params: Any) -> Surrogate:
    """Return a surrogate from a name (``get("atan", a=2)``) or pass an instance through.

    Raises ``ValueError`` for an unknown family or parameter, naming the valid ones.
    """
    if isinstance(spec, Surrogate):
        if params:
            raise ValueError("surrogate parameters given together with a Surrogate instance")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"surrogate must be a name or a Surrogate, got {type(spec).__name__}")
    if spec not in FAMILIES:
        raise ValueError(f"unknown surrogate {spec!r}; choose one of {sorted(FAMILIES)}")
    cls = FAMILIES[spec]
    import inspect

    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for surrogate {spec!r}; valid: {valid}")
    return cls(**params)
