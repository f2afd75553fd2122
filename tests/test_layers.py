"""Readouts and losses: every backward proven by finite differences (float64), each proof
shown to fail on a planted bug, plus numerical stability and input validation."""
import numpy as np
import pytest

from snn_from_scratch import layers
from snn_from_scratch.gradcheck import check_function
from snn_from_scratch.layers import LeakyReadout, Linear, log_softmax, mse, softmax, softmax_cross_entropy

TOL = 1e-7


def prove_linear(lin, h, dout):
    out, cache = lin.forward(h)
    dh, grads = lin.backward(dout, cache)
    analytic = {**grads, "h": dh}
    arrays = {**lin.params, "h": h}
    return check_function(lambda: float(np.sum(dout * lin.forward(h)[0])), arrays, analytic)


@pytest.mark.parametrize("shape", [(3, 4), (1, 3, 4), (5, 3, 4)])
def test_linear_gradients(shape):
    rng = np.random.default_rng(1)
    lin = Linear(4, 6, seed=2)
    h = rng.standard_normal(shape)
    dout = rng.standard_normal(shape[:-1] + (6,))
    rep = prove_linear(lin, h, dout)
    assert rep.ok and rep.max_error <= TOL, rep.table()


def test_linear_planted_bug_fails(monkeypatch):
    rng = np.random.default_rng(1)
    lin = Linear(4, 6, seed=2)
    h, dout = rng.standard_normal((5, 3, 4)), rng.standard_normal((5, 3, 6))
    good = Linear.backward

    def broken(self, dout, cache):  # drop the bias gradient's sum over time
        dh, g = good(self, dout, cache)
        g["b"] = dout[-1].sum(0)
        return dh, g

    monkeypatch.setattr(Linear, "backward", broken)
    rep = prove_linear(lin, h, dout)
    assert not rep.ok and not rep["b"].ok and rep["W"].ok


def test_linear_init_and_dtype():
    lin = Linear(16, 3, seed=0, dtype=np.float32)
    assert lin.params["W"].dtype == np.float32 and lin.params["b"].dtype == np.float32
    assert np.all(np.abs(lin.params["W"]) <= 0.25) and np.abs(lin.params["W"]).max() > 0.2
    out, _ = lin.forward(np.ones((2, 16), np.float32))
    assert out.dtype == np.float32 and out.shape == (2, 3)
    with pytest.raises(TypeError, match="dtype"):
        lin.forward(np.ones((2, 16)))  # float64 into a float32 layer: refused, not upcast
    with pytest.raises(ValueError, match="h"):
        lin.forward(np.ones((2, 15), np.float32))
    with pytest.raises(ValueError, match="h must have shape"):
        lin.forward(np.ones((16,), np.float32))
    with pytest.raises(ValueError, match="n_out"):
        Linear(3, 0)
    # the same seed gives the same weights; an explicit Generator is honored
    assert np.array_equal(Linear(4, 2, seed=5).params["W"], Linear(4, 2, rng=np.random.default_rng(5)).params["W"])


# -- LeakyReadout ------------------------------------------------------------------------
def test_leaky_readout_weights_and_forward():
    ro = LeakyReadout(30, 3)
    W = ro.W_ro
    assert W.shape == (30, 3)
    assert np.all(W[:10, 0] == 1) and np.all(W[10:, 0] == -0.1) and np.all(W[10:20, 1] == 1)
    assert ro.params == {}
    rng = np.random.default_rng(0)
    s = (rng.random((7, 2, 30)) < 0.3).astype(np.float64)
    o, _ = ro.forward(s)
    # the recurrence o[t] = 0.99 o[t-1] + s[t] W_ro, written out directly
    ref = np.zeros((2, 3))
    for t in range(7):
        ref = 0.99 * ref + s[t] @ W
    np.testing.assert_allclose(o, ref, rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="neurons_per_class"):
        LeakyReadout(31, 3)
    ro32 = LeakyReadout(20, 2, neurons_per_class=10, dtype=np.float32)
    o32, c = ro32.forward(np.ones((4, 2, 20), np.float32))
    assert o32.dtype == np.float32
    ds, g = ro32.backward(np.ones((2, 2), np.float32), c)
    assert ds.dtype == np.float32 and ds.shape == (4, 2, 20) and g == {}


def prove_leaky(ro, s, do):
    o, cache = ro.forward(s)
    ds, _ = ro.backward(do, cache)
    return check_function(lambda: float(np.sum(do * ro.forward(s)[0])), {"s": s}, {"s": ds})


@pytest.mark.parametrize("T", [1, 2, 7])
def test_leaky_readout_gradients(T):
    rng = np.random.default_rng(T)
    ro = LeakyReadout(8, 4, neurons_per_class=2, alpha=0.9)
    rep = prove_leaky(ro, rng.standard_normal((T, 3, 8)), rng.standard_normal((3, 4)))
    assert rep.ok and rep.max_error <= TOL, rep.table()


def test_leaky_readout_planted_bug_fails(monkeypatch):
    rng = np.random.default_rng(3)
    ro = LeakyReadout(8, 4, neurons_per_class=2, alpha=0.9)
    # forget the leak in backward: every step weighted 1 instead of alpha^(T-t)
    monkeypatch.setattr(ro, "_decay", lambda T: np.ones(T))
    rep = prove_leaky(ro, rng.standard_normal((5, 3, 8)), rng.standard_normal((3, 4)))
    assert not rep.ok


# -- losses ------------------------------------------------------------------------------
def prove_ce(logits, labels):
    loss, d = softmax_cross_entropy(logits, labels)
    return check_function(lambda: softmax_cross_entropy(logits, labels)[0], {"logits": logits}, {"logits": d})


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5), (1, 2)])
def test_cross_entropy_gradients(shape):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape)
    labels = rng.integers(0, shape[-1], shape[:-1])
    rep = prove_ce(logits, labels)
    assert rep.ok and rep.max_error <= TOL, rep.table()


def test_cross_entropy_value_and_mean_over_leading_dims():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, (3, 4))
    loss, _ = softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    ref = -np.mean(np.log(np.take_along_axis(p, y[..., None], -1)))
    assert abs(loss - ref) < 1e-13
    np.testing.assert_allclose(softmax(z), p, rtol=1e-13)
    np.testing.assert_allclose(log_softmax(z), np.log(p), rtol=1e-12)


def test_cross_entropy_planted_bug_fails(monkeypatch):
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    real = layers.softmax_cross_entropy

    def broken(z, y):  # forgets to divide by the batch size
        loss, d = real(z, y)
        return loss, d * len(y)

    loss, d = broken(logits, labels)
    rep = check_function(lambda: real(logits, labels)[0], {"logits": logits}, {"logits": d})
    assert not rep.ok


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extreme_logits_finite(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, 1e4]], dtype)
    y = np.array([0, 0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = softmax_cross_entropy(z, y)
        p = softmax(z)
        lp = log_softmax(z)
    assert np.isfinite(loss) and np.all(np.isfinite(d)) and np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    assert d.dtype == dtype
    # sample 1 is confidently wrong by 2e4: its loss is 2e4, averaged over 3 samples
    assert abs(loss - (2e4 + np.log(3)) / 3) < 1e-2
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)


def test_cross_entropy_extreme_logits_gradient_float64():
    # large logits: the proof still holds (FD on a loss near 1e4 needs a bigger step)
    rng = np.random.default_rng(1)
    z = 1e4 * np.array([[1.0, 1.0 - 1e-8, -1.0], [0.5, 0.5, 0.5]]) + rng.standard_normal((2, 3)) * 1e-3
    y = np.array([1, 2])
    loss, d = softmax_cross_entropy(z, y)
    rep = check_function(lambda: softmax_cross_entropy(z, y)[0], {"z": z}, {"z": d}, h=1e-4, tol=1e-6)
    assert rep.ok, rep.table()


def test_cross_entropy_validation():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match="labels must lie in"):
        softmax_cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="labels must lie in"):
        softmax_cross_entropy(z, np.array([0, -1, 1]))
    with pytest.raises(TypeError, match="integer dtype"):
        softmax_cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="labels has shape"):
        softmax_cross_entropy(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="labels"):
        softmax_cross_entropy(z, [0, 1, 2])
    with pytest.raises(ValueError, match="NaN"):
        softmax_cross_entropy(np.array([[np.nan, 0.0]]), np.array([0]))


@pytest.mark.parametrize("shape", [(4, 3), (5, 4, 3)])
def test_mse_gradients_and_convention(shape):
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, d = mse(pred, target)
    batch = shape[-2]
    assert abs(loss - 0.5 * np.sum((pred - target) ** 2) / batch) < 1e-12
    rep = check_function(lambda: mse(pred, target)[0], {"pred": pred}, {"pred": d})
    assert rep.ok and rep.max_error <= TOL, rep.table()
    bad = d * 2  # planted bug: the 1/2 forgotten
    assert not check_function(lambda: mse(pred, target)[0], {"pred": pred}, {"pred": bad}).ok
    with pytest.raises(ValueError, match="target has shape"):
        mse(pred, target[..., :2])
