"""Tests of snn_from_scratch.surrogates: every family's spike, grad and primitive.

What is proven here, for every family and several parameter values:

* ``grad`` is the exact derivative of ``primitive`` (central differences in float64, on a
  grid that spans the bump and reaches far into both tails) -- the property the smooth
  and frozen twins of gradcheck rely on;
* the bump has the area the primitive's limits say (independent quadrature of ``grad``);
* ``spike`` is the Heaviside step with H(0) = 0;
* every value is finite for |u| up to 1e4 in float32 and float64, with NumPy's floating
  point errors turned into exceptions, and the input dtype is preserved;
* the formulas, peaks and widths stated in the docstrings (and docs/design.md) are the code's;
* ``get`` refuses unknown families, unknown parameters and invalid values by name.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, special, stats

from snn_from_scratch import surrogates
from snn_from_scratch.surrogates import get

# (family, parameters): the defaults plus narrow and wide variants of each family.
CASES = [
    ("gaussian", {}),
    ("gaussian", {"a": 0.3}),
    ("gaussian", {"a": 4.0}),
    ("gaussian", {"a": 25.0}),
    ("triangle", {}),
    ("triangle", {"height": 2.0, "width": 0.5}),
    ("triangle", {"height": 0.3, "width": 3.0}),
    ("fast_sigmoid", {}),
    ("fast_sigmoid", {"k": 1.0}),
    ("fast_sigmoid", {"k": 100.0}),
    ("atan", {}),
    ("atan", {"a": 0.5}),
    ("atan", {"a": 10.0}),
    ("sigmoid", {}),
    ("sigmoid", {"k": 1.0}),
    ("sigmoid", {"k": 100.0}),
    ("straight_through", {}),
    ("straight_through", {"scale": 2.0}),
    ("straight_through", {"width": 1.0}),
    ("straight_through", {"scale": 0.5, "width": 3.0}),
]
IDS = [f"{n}-" + ",".join(f"{k}={v}" for k, v in p.items()) for n, p in CASES]


def scale_of(s):
    """The family's natural width (where the bump lives) and its kinks."""
    p = s.params
    if s.name == "gaussian":
        return math.sqrt(p["a"]), []
    if s.name == "triangle":
        return p["width"], [0.0, -p["width"], p["width"]]
    if s.name == "fast_sigmoid":
        return 1.0 / p["k"], [0.0]  # |u| makes grad' jump at 0
    if s.name == "atan":
        return 2.0 / (math.pi * p["a"]), []
    if s.name == "sigmoid":
        return 1.0 / p["k"], []
    if s.name == "straight_through":
        w = p["width"]
        return (1.0, []) if w is None else (w, [-w / 2, w / 2])
    raise AssertionError(s.name)


def grid_for(s):
    """Points across the bump, in the near tails and far in both tails (|u| up to 1e3)."""
    sc, kinks = scale_of(s)
    core = sc * (np.linspace(-6.0, 6.0, 241) + 0.00317)  # offset: never exactly on a kink
    tails = sc * np.array([-100.0, -20.0, -10.0, 10.0, 20.0, 100.0])
    far = np.array([-1e3, -37.3, 37.3, 1e3])
    u = np.concatenate([core, tails, far])
    for k in kinks:  # the primitive is only piecewise smooth there
        u = u[np.abs(u - k) > 1e-3 * sc]
    return u


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_grad_is_derivative_of_primitive(name, params):
    s = get(name, **params)
    u = grid_for(s)
    # h relative to |u| keeps the round-off of the difference quotient (~eps |P| / h)
    # bounded even where the primitive is large (straight-through: P = scale * u).
    h = 1e-6 * np.maximum(scale_of(s)[0], np.abs(u))
    fd = (s.primitive(u + h) - s.primitive(u - h)) / (2 * h)
    g = s.grad(u)
    peak = float(s.grad(np.array(0.0)))
    err = np.abs(fd - g)
    bound = 1e-8 * peak + 1e-6 * np.abs(g)
    worst = int(np.argmax(err / bound))
    assert np.all(err <= bound), (f"{s}: at u={u[worst]:.6g} finite difference {fd[worst]:.10g} "
                                  f"vs grad {g[worst]:.10g}")


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_area_of_bump_matches_primitive_limits(name, params):
    """Integrate grad numerically (independently of primitive) between two far points."""
    s = get(name, **params)
    sc, kinks = scale_of(s)
    lo, hi = -50.0 * sc, 50.0 * sc
    area, _ = integrate.quad(lambda v: float(s.grad(np.array(v))), lo, hi,
                             points=[k for k in kinks] or None, limit=200)
    rise = float(s.primitive(np.array(hi)) - s.primitive(np.array(lo)))
    assert area == pytest.approx(rise, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_spike_is_heaviside(name, params):
    s = get(name, **params)
    tiny = np.finfo(np.float64).tiny
    u = np.array([-1e4, -1.0, -tiny, -0.0, 0.0, tiny, 1e-300, 1.0, 1e4])
    np.testing.assert_array_equal(s.spike(u), [0, 0, 0, 0, 0, 1, 1, 1, 1])
    assert s.spike(np.array(0.0)) == 0.0  # H(0) = 0: a neuron exactly at threshold is silent
    rng = np.random.default_rng(0)
    v = rng.standard_normal(1000)
    np.testing.assert_array_equal(s.spike(v), (v > 0).astype(np.float64))


MAGNITUDES = np.array([0.0, 1e-30, 1e-6, 0.1, 1.0, 3.0, 30.0, 300.0, 1e3, 5e3, 1e4])


def _evaluate_all(s, u, errstate):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**errstate):
            return {f: getattr(s, f)(u) for f in ("spike", "grad", "primitive")}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_finite_no_overflow_and_dtype_preserved(name, params, dtype):
    """No overflow / invalid / divide for |u| <= 1e4; outputs finite, dtype and shape kept."""
    s = get(name, **params)
    u = np.concatenate([-MAGNITUDES[::-1], MAGNITUDES]).astype(dtype)
    out = _evaluate_all(s, u, dict(over="raise", invalid="raise", divide="raise", under="ignore"))
    for f, v in out.items():
        assert v.dtype == dtype, f"{s}.{f} returned {v.dtype} for {np.dtype(dtype)} input"
        assert v.shape == u.shape
        assert np.all(np.isfinite(v)), f"{s}.{f} not finite at {u[~np.isfinite(v)]}"
    assert np.all(out["grad"] >= 0)
    u2 = u.reshape(2, -1)  # a 2-D batch keeps its shape too
    with np.errstate(under="ignore"):
        for f in ("spike", "grad", "primitive"):
            r = getattr(s, f)(u2)
            assert r.shape == u2.shape and r.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_no_floating_point_warning_at_all(name, params, dtype):
    """Even with *every* floating-point error raised (underflow included) nothing fires.

    Underflow to 0 is harmless, but a user debugging with ``np.seterr(all="raise")`` must
    not see the surrogates crash a training run: the library has to silence it locally.
    """
    s = get(name, **params)
    u = np.concatenate([-MAGNITUDES[::-1], MAGNITUDES]).astype(dtype)
    out = _evaluate_all(s, u, dict(all="raise"))
    for v in out.values():
        assert np.all(np.isfinite(v)) and v.dtype == dtype


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_primitive_is_monotone_and_grad_symmetric(name, params):
    s = get(name, **params)
    u = np.sort(grid_for(s))
    assert np.all(np.diff(s.primitive(u)) >= 0)
    peak = float(s.grad(np.array(0.0)))
    # (the sigmoid's right tail is computed as s(1-s) with s ~ 1: exact only to ~eps*peak)
    np.testing.assert_allclose(s.grad(u), s.grad(-u), rtol=1e-13, atol=1e-13 * peak)


# ----------------------------------------------------------------------------------------
# The docstring / docs/design.md formulas, peaks and widths are the code's
# ----------------------------------------------------------------------------------------
def _u():
    return np.linspace(-7.3, 7.3, 1461)


def test_defaults_are_design_md():
    assert get("triangle").params == {"height": 1.0, "width": 1.0}
    assert get("fast_sigmoid").params == {"k": 25.0}
    assert get("atan").params == {"a": 2.0}
    assert get("sigmoid").params == {"k": 25.0}
    assert get("straight_through").params == {"scale": 1.0, "width": None}
    assert get("gaussian").params == {"a": 4.0}  # the paper's a1 for the f, i, o gates
    assert set(surrogates.FAMILIES) == {"gaussian", "triangle", "fast_sigmoid", "atan",
                                        "sigmoid", "straight_through"}


@pytest.mark.parametrize("a", [0.3, 1.0, 4.0])
def test_gaussian_formula_peak_width(a):
    s = get("gaussian", a=a)
    u = _u()
    np.testing.assert_allclose(s.grad(u), np.exp(-u ** 2 / a) / np.sqrt(np.pi * a), rtol=1e-14)
    # Lotfi Rezaabad & Vishwanath Eq. 2-3: the density of a normal of variance a/2 ...
    sd = math.sqrt(a / 2)
    np.testing.assert_allclose(s.grad(u), stats.norm.pdf(u, scale=sd), rtol=1e-12)
    # ... and the primitive is its CDF.
    np.testing.assert_allclose(s.primitive(u), stats.norm.cdf(u, scale=sd), rtol=1e-9, atol=1e-15)
    peak = 1 / math.sqrt(math.pi * a)
    assert float(s.grad(np.array(0.0))) == pytest.approx(peak, rel=1e-15)
    assert float(s.grad(np.array(math.sqrt(a)))) == pytest.approx(peak / math.e, rel=1e-14)
    assert float(s.grad(np.array(-math.sqrt(a)))) == pytest.approx(peak / math.e, rel=1e-14)


@pytest.mark.parametrize("height,width", [(1.0, 1.0), (2.0, 0.5), (0.3, 3.0)])
def test_triangle_formula_peak_width(height, width):
    s = get("triangle", height=height, width=width)
    u = _u()
    np.testing.assert_allclose(s.grad(u), height * np.maximum(0, 1 - np.abs(u) / width),
                               rtol=1e-14, atol=1e-15)
    assert float(s.grad(np.array(0.0))) == height
    assert float(s.grad(np.array(width / 2))) == pytest.approx(height / 2, rel=1e-14)
    for edge in (width, -width, 1.0001 * width, 10 * width):
        assert float(s.grad(np.array(edge))) == 0.0
    assert float(s.grad(np.array(0.999 * width))) > 0
    # primitive goes from 0 (u <= -width) to height*width (the area of the triangle)
    assert float(s.primitive(np.array(-width))) == 0.0
    assert float(s.primitive(np.array(-5 * width))) == 0.0
    assert float(s.primitive(np.array(5 * width))) == pytest.approx(height * width, rel=1e-15)
    assert float(s.primitive(np.array(0.0))) == pytest.approx(height * width / 2, rel=1e-15)


@pytest.mark.parametrize("k", [1.0, 25.0, 100.0])
def test_fast_sigmoid_formula_peak_width(k):
    s = get("fast_sigmoid", k=k)
    u = _u() / k
    np.testing.assert_allclose(s.grad(u), 1 / (1 + k * np.abs(u)) ** 2, rtol=1e-14)
    np.testing.assert_allclose(s.primitive(u), 1 / k + u / (1 + k * np.abs(u)), rtol=1e-13)
    assert float(s.grad(np.array(0.0))) == 1.0
    half = (math.sqrt(2) - 1) / k
    assert float(s.grad(np.array(half))) == pytest.approx(0.5, rel=1e-14)
    assert float(s.primitive(np.array(-1e4))) == pytest.approx(0.0, abs=1e-3 / k)
    assert float(s.primitive(np.array(1e4))) == pytest.approx(2 / k, rel=1e-3)


@pytest.mark.parametrize("a", [0.5, 2.0, 10.0])
def test_atan_formula_peak_width(a):
    s = get("atan", a=a)
    u = _u() / a
    np.testing.assert_allclose(s.grad(u), (a / 2) / (1 + (np.pi * a * u / 2) ** 2), rtol=1e-14)
    np.testing.assert_allclose(s.primitive(u), 0.5 + np.arctan(np.pi * a * u / 2) / np.pi, rtol=1e-14)
    assert float(s.grad(np.array(0.0))) == pytest.approx(a / 2, rel=1e-15)
    half = 2 / (math.pi * a)
    assert float(s.grad(np.array(half))) == pytest.approx(a / 4, rel=1e-14)
    assert float(s.grad(np.array(-half))) == pytest.approx(a / 4, rel=1e-14)


@pytest.mark.parametrize("k", [1.0, 25.0, 100.0])
def test_sigmoid_formula_peak(k):
    s = get("sigmoid", k=k)
    u = _u() / k
    sig = 1 / (1 + np.exp(-k * u))
    np.testing.assert_allclose(s.grad(u), k * sig * (1 - sig), rtol=1e-12)
    np.testing.assert_allclose(s.primitive(u), special.expit(k * u), rtol=1e-15)
    assert float(s.grad(np.array(0.0))) == pytest.approx(k / 4, rel=1e-15)
    assert float(s.primitive(np.array(0.0))) == 0.5


def test_straight_through_constant_and_boxcar():
    u = _u()
    s = get("straight_through", scale=1.5)
    np.testing.assert_array_equal(s.grad(u), np.full_like(u, 1.5))
    np.testing.assert_allclose(s.primitive(u), 1.5 * u, rtol=1e-15)
    box = get("straight_through", scale=2.0, width=1.0)
    # the boxcar: scale on the closed interval |u| <= width/2, zero outside
    np.testing.assert_array_equal(box.grad(u), np.where(np.abs(u) <= 0.5, 2.0, 0.0))
    for edge in (0.5, -0.5):
        assert float(box.grad(np.array(edge))) == 2.0
    for out in (0.5000001, -0.5000001, 3.0):
        assert float(box.grad(np.array(out))) == 0.0
    np.testing.assert_allclose(box.primitive(u), 2.0 * np.clip(u, -0.5, 0.5), rtol=1e-15)


def test_grad_and_primitive_do_not_depend_on_dtype_beyond_rounding():
    u = np.linspace(-3, 3, 101)
    for name, params in CASES:
        s = get(name, **params)
        for f in ("grad", "primitive"):
            a64 = getattr(s, f)(u)
            a32 = getattr(s, f)(u.astype(np.float32))
            np.testing.assert_allclose(a32, a64, rtol=2e-6, atol=2e-6 * max(1.0, np.abs(a64).max()))


# ----------------------------------------------------------------------------------------
# get(): construction and errors
# ----------------------------------------------------------------------------------------
def test_get_builds_and_passes_instances_through():
    s = get("atan", a=3)
    assert isinstance(s, surrogates.Atan) and s.a == 3.0
    assert get(s) is s
    assert get("atan", a=3) == s and hash(get("atan", a=3.0)) == hash(s)
    assert get("atan", a=2) != s and get("sigmoid") != get("fast_sigmoid")
    assert "a=3.0" in repr(s)


def test_get_unknown_family():
    with pytest.raises(ValueError, match="unknown surrogate 'erf'") as e:
        get("erf")
    assert "gaussian" in str(e.value) and "straight_through" in str(e.value)


def test_get_unknown_parameter_names_it_and_the_valid_ones():
    with pytest.raises(ValueError, match=r"\['k'\].*'gaussian'.*valid: \['a'\]"):
        get("gaussian", k=1.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        get("triangle", height=1.0, slope=2.0)


def test_get_bad_types_and_values():
    with pytest.raises(TypeError, match="surrogate must be a name"):
        get(3)
    with pytest.raises(ValueError, match="together with a Surrogate instance"):
        get(get("atan"), a=2.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="parameter a must be a positive finite number"):
            get("gaussian", a=bad)
        with pytest.raises(ValueError, match="parameter width"):
            get("straight_through", width=bad)
    with pytest.raises(ValueError, match="parameter k"):
        get("sigmoid", k=-2)
