"""The non-differentiable points a cell routes its forward pass through.

A spiking cell is built from smooth NumPy expressions and a few points where the chain
rule alone does not say what ``backward`` should do:

``heaviside(u, surrogate)``
    a spike ``H(u)``; ``backward`` uses ``surrogate.grad(u)`` for its derivative;
``detach(v, discrete=None)``
    ``stop(v)``: the value ``v``, through which no gradient flows (a detached reset, a
    switch such as the SRC's ``z_s``, a ReLU mask);
``straight_through(value, proxy, discrete=None)``
    the value ``value`` in the forward pass, but ``backward`` differentiates as if it were
    ``proxy()`` (a zero-argument callable: the clipped identity of a multi-bit quantizer,
    the identity of the SRC's ReLU bypass, ``gamma * u`` for a constant derivative).

``discrete`` (optional) is the discrete state behind a value (which neurons spiked, which
values were clipped): the gradient checker compares it between passes and reports a
change as a *flip*.

:data:`EXACT` is the plain object every cell uses by default: ``heaviside`` is
``surrogate.spike``, ``detach`` and ``straight_through`` return the value, at no cost.
:mod:`snn_from_scratch.gradcheck` defines the *twins* — other ``Ops`` objects with the
same three methods whose exact derivative is the rule ``backward`` implements — and
passes one as ``ops=`` to prove a backward pass. Cells never import the checker.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .surrogates import Surrogate

__all__ = ["Ops", "EXACT"]


class Ops:
    """The plain forward of the three non-differentiable points (see the module docstring)."""

    def heaviside(self, u: np.ndarray, surrogate: Surrogate) -> np.ndarray:
        """``H(u)`` (1 where u > 0, in u's dtype); backward rule ``surrogate.grad(u)``."""
        return surrogate.spike(u)

    def detach(self, v: np.ndarray, discrete: Optional[np.ndarray] = None) -> np.ndarray:
        """``stop(v)``: the value itself; backward treats it as a constant."""
        return v

    def straight_through(self, value: np.ndarray, proxy: Callable[[], np.ndarray],
                         discrete: Optional[np.ndarray] = None) -> np.ndarray:
        """``value`` in the forward pass; backward differentiates ``proxy()`` instead.

        ``proxy`` is only called by the gradient checker's twins.
        """
        return value

    def __repr__(self):
        return "ops.EXACT" if type(self) is Ops else f"{type(self).__name__}()"


#: The plain operations: what every cell uses outside gradient checks.
EXACT = Ops()
