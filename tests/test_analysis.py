"""analysis.py: Eq. 11 per-step gradients, Eq. 13 P[n], the exact beta^(N-n) X[n] of Eq. 15,
gradient curves, parameter and multiplication counts."""
import numpy as np
import pytest

from snn_from_scratch import analysis, cells
from snn_from_scratch.cells import lif


def _x(T, B=3, n=4, seed=0):
    return np.random.default_rng(seed).standard_normal((T, B, n))


@pytest.mark.parametrize("cfg", [{}, dict(output="multibit"), dict(reset="zero", learn_alpha=True)])
def test_per_step_grads_sum_to_backward(cfg):
    """Eq. 11: the per-step contributions add up to the cell's own weight gradient."""
    cell = cells.make("lif", 4, 5, **cfg)
    cell.training = False
    x = _x(9)
    y, cache = cell.forward(x)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    _, grads = cell.backward(dy, cache)
    dA = analysis.bptt_steps(cell, cache, dy)["W"]
    per = analysis.per_step_weight_grads(x, dA)
    np.testing.assert_allclose(per.sum(0), grads["W"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_per_step_grads_gated(variant):
    cell = cells.make("gated_lif", 4, 5, variant=variant)
    cell.training = False
    x = _x(6)
    y, cache = cell.forward(x)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    _, grads = cell.backward(dy, cache)
    dA = analysis.bptt_steps(cell, cache, dy)
    for k in ("W_f", "W_c"):
        np.testing.assert_allclose(analysis.per_step_weight_grads(x, dA[k]).sum(0), grads[k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("T", [1, 5, 60])
@pytest.mark.parametrize("cfg", [dict(output="multibit"), dict(beta=0.7), dict(learn_beta=True, beta=0.95)])
def test_synaptic_path_is_beta_power(T, cfg):
    """Eq. 15: along I the gradient to W[n] is exactly beta^(N-n) X[n] (<= 1e-12 relative)."""
    cell = cells.make("lif", 4, 5, **cfg)
    cell.training = False
    x = _x(T)
    g = np.random.default_rng(2).standard_normal((3, 5))
    measured, closed = analysis.synaptic_path_check(cell, x, g)
    err = np.max(np.abs(measured - closed)) / np.max(np.abs(closed))
    assert err <= 1e-12
    # per step, relative to that step's own size (the decay itself is measured exactly)
    for n in range(T):
        scale = np.max(np.abs(closed[n]))
        assert np.max(np.abs(measured[n] - closed[n])) <= 1e-12 * scale


def test_synaptic_path_check_catches_wrong_decay(monkeypatch):
    """A planted bug in the synaptic carry (beta^2 per step) is visible."""
    orig = lif.step_backward

    def bad(dy_t, dstate, cache_t, p, cfg):
        da, prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        beta = lif.coefficients(p, cfg)[1]
        return da, lif.State(prev.I * beta, prev.V, prev.Y), dp

    monkeypatch.setattr(lif, "step_backward", bad)
    cell = cells.make("lif", 4, 5)
    m, c = analysis.synaptic_path_check(cell, _x(8), np.ones((3, 5)))
    assert np.max(np.abs(m - c)) / np.max(np.abs(c)) > 1e-3


def test_P_factor_matches_eq13():
    cell = cells.make("lif", 4, 5, threshold=0.5)
    x = 2 * _x(8)
    trace = cell.trace(x)
    P = analysis.P_factor(cell, trace)
    assert P.shape == (8, 3, 5)
    V = np.stack([st.V for _, st, _ in trace])
    sg = cell.step_config().surrogate_fn.grad(V - 0.5)
    np.testing.assert_allclose(P, 0.9 - 0.5 * sg)
    d = cells.make("lif", 4, 5, threshold=0.5, detach_reset=True)
    np.testing.assert_allclose(analysis.P_factor(d, d.trace(x)), 0.9)
    with pytest.raises(TypeError, match="trace"):
        analysis.P_factor(cell, cell.forward(x)[1])


def test_P_factor_is_the_membrane_jacobian():
    """P[n] = dV[n+1]/dV[n]: check against the backward with a gradient on V[N] only, with the
    synaptic path switched off (synaptic=False) and no output gradient."""
    cell = cells.make("lif", 4, 5, synaptic=False, threshold=0.4)
    x = _x(2)
    _, cache = cell.forward(x)
    P = analysis.P_factor(cell, cell.trace(x))
    z = np.zeros((3, 5))
    g = np.random.default_rng(0).standard_normal((3, 5))
    dA = analysis.bptt_steps(cell, cache, dstate_final=cell.State(z, g, z))["W"]
    # dA[1] = dL/dI[1] = g (through V[1] = ... + I[1]); dA[0] = dL/dV[0] = g * P[0]
    np.testing.assert_allclose(dA[1], g)
    np.testing.assert_allclose(dA[0], g * P[0], rtol=1e-12)


def test_gradient_curves():
    T = 120
    x = _x(T, n=4)
    trad = cells.make("lif", 4, 5, detach_reset=True, output="multibit")
    trad.training = False
    lag, c = analysis.gradient_curve(trad, x)
    assert lag[0] == 0 and c[0] == 1.0 and len(c) == T
    # the traditional layer forgets: I and V both decay by 0.9 per step, ~ n 0.9^n = 3e-3 at 100
    assert c[100] < 1e-2
    v2 = cells.make("gated_lif", 4, 5, variant="v2")
    v2.training = False
    v2.params["b_f"][...] = 6.0  # forget gates near 1: the synaptic current holds
    _, c2 = analysis.gradient_curve(v2, x)
    assert c2[100] > 0.1 and c2[100] > 30 * c[100]


def test_param_counts_match_cells():
    m, n = 7, 6
    assert analysis.param_counts("lif", m, n)["weights"] == cells.make("lif", m, n).params["W"].size
    for v, kind in (("v1", "v1"), ("v2", "v2")):
        c = cells.make("gated_lif", m, n, variant=v)
        pc = analysis.param_counts(kind, m, n)
        assert pc["total"] == sum(a.size for a in c.params.values())
        assert pc["biases"] == 2 * n
    assert analysis.param_counts("gru", m, n)["weights"] == 3 * (m * n + n * n)
    assert analysis.param_counts("lstm", m, n) == {"weights": 4 * (m * n + n * n), "biases": 4 * n,
                                                   "total": 4 * (m * n + n * n) + 4 * n}
    with pytest.raises(ValueError, match="kind"):
        analysis.param_counts("tcn", m, n)


def test_multiplications():
    m = n = 2000
    # Sec. 2: with equal sizes and input density d, the savings are about 6/d and 8/d
    for d in (0.1, 0.5):
        snn = analysis.multiplications("lif", m, n, d)
        assert analysis.multiplications("gru", m, n) / snn == pytest.approx(6 / d, rel=0.1)
        assert analysis.multiplications("lstm", m, n) / snn == pytest.approx(8 / d, rel=0.1)
    assert analysis.multiplications("lif", 3, 2, 1.0) == 2 + 6 + 6
    assert analysis.multiplications("v2", 3, 2, 0.5, 0.5) == 2 * 0.5 * 6 + 2 * 0.5 * 4 + 4 + 6
    assert analysis.zero_fraction(np.array([0, 1, 0, 2.0])) == 0.5
    tot = analysis.network_multiplications("lif", [3, 2], [1.0, 0.5], 10, T=4)
    assert tot == 4 * (analysis.multiplications("lif", 3, 2, 1.0, 0.5) + 0.5 * 2 * 10)
    with pytest.raises(ValueError, match="kind"):
        analysis.multiplications("x", 1, 1)


@pytest.mark.parametrize("config", [
    dict(reset="subtract", reset_timing="same_step"),
    dict(reset="zero", reset_timing="same_step"),
    dict(reset="zero"),
    dict(reset="subtract", reset_timing="same_step", output="multibit"),
    dict(reset="subtract", detach_reset=True, reset_timing="same_step"),
])
def test_P_factor_is_the_membrane_jacobian_for_every_reset(config):
    """The same check for both timings and both resets: dL/dV[0] = dL/dV[1] P[0], where
    dA[n] = dL/dI[n] = dL/dV[n] (synaptic=False). (With reset_timing="same_step" the
    gradient injected on State.V reaches the membrane after its reset, so dA[1] != g.)"""
    cell = cells.make("lif", 4, 5, synaptic=False, threshold=0.4, **config)
    cell.training = False
    x = _x(2)
    _, cache = cell.forward(x)
    P = analysis.P_factor(cell, cell.trace(x))
    z = np.zeros((3, 5))
    g = np.random.default_rng(0).standard_normal((3, 5))
    dA = analysis.bptt_steps(cell, cache, dstate_final=cell.State(z, g, z))["W"]
    np.testing.assert_allclose(dA[0], dA[1] * P[0], rtol=1e-12, atol=1e-15)


def test_P_factor_refuses_a_recurrent_layer():
    cell = cells.make("lif", 4, 5, recurrent=True)
    with pytest.raises(ValueError, match="matrix"):
        analysis.P_factor(cell, cell.trace(_x(3)))


def test_per_step_terms_refused_with_batch_norm():
    cell = cells.make("lif", 4, 5, norm="batch")
    with pytest.raises(ValueError, match="norm='batch'"):
        analysis.gradient_curve(cell, _x(4))
