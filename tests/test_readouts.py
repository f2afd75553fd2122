"""The leaky-integrator readout: forward as the recurrence says, backward proven by
finite differences, a broken backward caught, bad input refused."""
import numpy as np
import pytest

from snn_from_scratch.gradcheck import check_function
from snn_from_scratch.readouts import LeakyIntegrator


def _prove(ro, s, dz):
    def f():
        z, _ = ro.forward(s)
        return float(np.sum(dz * z))

    z, cache = ro.forward(s)
    ds, grads = ro.backward(dz, cache)
    arrays = dict(ro.params, s=s)
    analytic = dict(grads, s=ds)
    # smooth between max's switches: the 2-point stencil with a small step, and the
    # round-off floor of the difference quotient, as check_cell uses for its twins
    h = 1e-5
    noise = np.finfo(np.float64).eps * float(np.sum(np.abs(dz * z))) / h
    return check_function(f, arrays, analytic, h=h, tol=1e-7, noise=noise)


@pytest.mark.parametrize("reduce", ["max", "mean", "last"])
@pytest.mark.parametrize("kappa", [0.0, 0.7, 0.95])
@pytest.mark.parametrize("T", [1, 2, 9])
def test_backward_is_the_gradient(reduce, kappa, T):
    rng = np.random.default_rng([T, int(kappa * 100)])
    ro = LeakyIntegrator(5, 3, kappa=kappa, reduce=reduce, seed=T)
    s = rng.standard_normal((T, 4, 5))
    rep = _prove(ro, s, rng.standard_normal((4, 3)))
    assert rep.ok, rep.table()


def test_forward_is_the_recurrence():
    rng = np.random.default_rng(0)
    ro = LeakyIntegrator(3, 2, kappa=0.8, reduce="max")
    s = rng.standard_normal((6, 2, 3))
    o, prev = [], np.zeros((2, 2))
    for t in range(6):
        prev = 0.8 * prev + 0.2 * (s[t] @ ro.params["W"] + ro.params["b"])
        o.append(prev)
    o = np.stack(o)
    np.testing.assert_allclose(ro.forward(s)[0], o.max(0), rtol=1e-14)
    np.testing.assert_allclose(LeakyIntegrator(3, 2, 0.8, "mean").forward(s)[0], o.mean(0), rtol=1e-14)
    np.testing.assert_allclose(LeakyIntegrator(3, 2, 0.8, "last").forward(s)[0], o[-1], rtol=1e-14)


def test_every_step_gets_gradient_unlike_a_last_step_readout():
    rng = np.random.default_rng(1)
    ro = LeakyIntegrator(4, 3, kappa=0.5, reduce="mean")
    s = rng.standard_normal((8, 2, 4))
    ds, _ = ro.backward(np.ones((2, 3)), ro.forward(s)[1])
    assert np.all(np.abs(ds).sum(axis=(1, 2)) > 0)


def test_a_broken_backward_is_caught(monkeypatch):
    rng = np.random.default_rng(2)
    ro = LeakyIntegrator(4, 3, kappa=0.6, reduce="mean")
    s = rng.standard_normal((5, 2, 4))
    orig = LeakyIntegrator.backward

    def dropped_leak(self, dz, cache):          # forgets that o[t] feeds o[t+1]
        old = self.kappa
        ds, g = orig(self, dz, cache)
        self.kappa = 0.0
        ds0, g0 = orig(self, dz, cache)
        self.kappa = old
        return ds0, g0

    monkeypatch.setattr(LeakyIntegrator, "backward", dropped_leak)
    assert not _prove(ro, s, rng.standard_normal((2, 3))).ok


@pytest.mark.parametrize("kw, err", [(dict(kappa=1.0), ValueError), (dict(kappa=-0.1), ValueError),
                                     (dict(reduce="sum"), ValueError), (dict(n_out=0), ValueError),
                                     (dict(rng=1), TypeError)])
def test_bad_config_refused(kw, err):
    args = dict(n_in=3, n_out=2)
    args.update(kw)
    with pytest.raises(err):
        LeakyIntegrator(**args)


def test_bad_input_refused():
    ro = LeakyIntegrator(3, 2, dtype=np.float32)
    with pytest.raises(TypeError, match="dtype"):
        ro.forward(np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match="shape"):
        ro.forward(np.zeros((2, 1, 4), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        ro.forward(np.full((2, 1, 3), np.nan, np.float32))
