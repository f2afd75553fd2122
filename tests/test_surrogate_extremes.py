"""Surrogates at the extremes of float32 and float64: finite, silent, the right limits."""
import warnings

import numpy as np
import pytest

from snn_from_scratch import surrogates as S


def _extremes(dt):
    fi = np.finfo(dt)
    big = [fi.max, fi.max / 2, np.sqrt(fi.max) * 2, 1e19, 1e4, 1.0, fi.eps, fi.tiny, fi.smallest_subnormal]
    return np.array(sorted({dt(v) for v in big} | {dt(-v) for v in big} | {dt(0)}), dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(S.FAMILIES))
def test_grad_and_primitive_finite_and_silent_everywhere(name, dt):
    s = S.get(name)
    u = _extremes(dt)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        g, p, sp = s.grad(u), s.primitive(u), s.spike(u)
    for a in (g, p, sp):
        assert a.dtype == dt and np.all(np.isfinite(a))
    assert np.all(g >= 0)
    # the limits: no gradient far from the threshold (except the straight-through)
    if name != "straight_through":
        assert g[0] == 0 and g[-1] == 0
    # the primitive is monotone (its derivative is grad >= 0)
    assert np.all(np.diff(p.astype(np.float64)) >= 0)


def test_fast_sigmoid_primitive_agrees_with_the_direct_formula():
    s = S.get("fast_sigmoid", k=7.0)
    u = np.linspace(-3, 3, 101)
    np.testing.assert_allclose(s.primitive(u), 1 / 7.0 + u / (1 + 7.0 * np.abs(u)), rtol=1e-13, atol=1e-15)
