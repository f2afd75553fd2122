"""Gated-synapse LIF, v1 (Eq. 16-18) and v2 (Eq. 19-21): every option combination proven
in float64 with both twins, planted bugs that must fail, forward semantics, refusals."""
import itertools

import numpy as np
import pytest
from scipy.special import expit

from snn_from_scratch import cells
from snn_from_scratch.cells import gated_lif
from snn_from_scratch.gradcheck import check_cell

N_IN, H, B = 3, 4, 3
FLOOR = 1e-6  # check_cell's default (plus its round-off floor), see tests/test_lif.py


def prove_gated(config, twin, T, seed=0, b=1.0):
    rng = np.random.default_rng([seed, T, 7])
    cell = cells.make("gated_lif", N_IN, H, seed=seed, **config)
    cell.training = False
    cell.b = b
    x = rng.standard_normal((T, B, N_IN))
    I = 0.5 * rng.standard_normal((B, H))
    V = 0.5 * rng.standard_normal((B, H))
    if cell.config.output == "binary":
        Y = (rng.random((B, H)) < 0.4).astype(float)
    else:
        Y = cell.neuron().quantize(V)[0]
    return check_cell(cell, x, cell.State(I, V, Y), twin=twin, seed=seed, scale_floor=FLOOR)


PRODUCT = [dict(variant=v, reset=r, detach_reset=d, output=o)
           for v, r, d, o in itertools.product(("v1", "v2"), ("subtract", "zero"), (False, True),
                                               ("binary", "multibit"))
           if not (o == "multibit" and r == "zero")]


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("config", PRODUCT, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_full_option_product(config, twin):
    for T in (1, 2, 7):
        rep = prove_gated(config, twin, T)
        assert rep.ok, rep.table()
        assert rep.replay_error == 0.0


@pytest.mark.parametrize("extra", [dict(surrogate="atan"), dict(signed=True),
                                   dict(alpha=1.0, n_bits=3, threshold_levels=1)])
def test_extra_options_proven(extra):
    for v in ("v1", "v2"):
        for twin in ("frozen", "smooth"):
            rep = prove_gated(dict(variant=v, **extra), twin, 7)
            assert rep.ok, rep.table()


def test_proofs_table_passes():
    from snn_from_scratch.proofs import prove
    for label, (cfg, twin) in gated_lif.PROOFS.items():
        r = prove("gated_lif", label, cfg, twin)
        assert r.ok, (label, [rep.table() for rep in r.reports])


# ----------------------------------------------------------------------------------------
# planted bugs
# ----------------------------------------------------------------------------------------
def _patch_step_backward(monkeypatch, fix):
    orig = gated_lif.step_backward

    def bad(*a, **k):
        return fix(*orig(*a, **k))

    monkeypatch.setattr(gated_lif, "step_backward", bad)


@pytest.mark.parametrize("variant", ["v1", "v2"])
@pytest.mark.parametrize("bug, fix", [
    ("forget carry dropped", lambda f, c, st: (f, c, gated_lif.State(0 * st.I, st.V, st.Y))),
    ("forget gate scaled", lambda f, c, st: (1.1 * f, c, st)),
    ("candidate sign", lambda f, c, st: (f, -c, st)),
])
def test_planted_gate_bugs_fail(monkeypatch, variant, bug, fix):
    cfg = dict(variant=variant)
    assert prove_gated(cfg, "frozen", 7).ok
    _patch_step_backward(monkeypatch, fix)
    assert not prove_gated(cfg, "frozen", 7).ok
    assert not prove_gated(cfg, "smooth", 7).ok


def test_planted_v2_recurrence_bug_fails(monkeypatch):
    """v2 without the gradient into Y[n-1] through U_f, U_c (as if Y[n-1] were detached)."""
    orig = gated_lif.step_backward

    def bad(dstate, cache_t, params, alpha, gamma, neuron, v2):
        return orig(dstate, cache_t, params, alpha, gamma, neuron, False)

    cfg = dict(variant="v2")
    monkeypatch.setattr(gated_lif, "step_backward", bad)
    assert not prove_gated(cfg, "frozen", 7).ok


def test_planted_relu_mask_bug_fails(monkeypatch):
    """Backward through the ReLU as if it were the identity."""
    orig = gated_lif.step_forward

    def bad(*a, **k):
        Y, st, (Ip, F, C, mask, mc) = orig(*a, **k)
        return Y, st, (Ip, F, C, np.ones_like(mask), mc)

    cfg = dict(variant="v1")
    rng = np.random.default_rng(0)
    cell = cells.make("gated_lif", N_IN, H, **cfg)
    _, cache = cell.forward(rng.standard_normal((7, B, N_IN)))
    assert 0 < np.mean([c[3].mean() for c in cache["caches"]]) < 1  # both sides of the ReLU occur
    monkeypatch.setattr(gated_lif, "step_forward", bad)
    assert not prove_gated(cfg, "frozen", 7).ok


def test_planted_shared_membrane_bug_fails(monkeypatch):
    """The V/Y code is shared with lif: a bug there must fail the gated proofs too."""
    orig = gated_lif.membrane_backward

    def bad(*a, **k):
        dI, dVp, dYp, da, dg = orig(*a, **k)
        return dI, 0.9 * dVp, dYp, da, dg

    monkeypatch.setattr(gated_lif, "membrane_backward", bad)
    assert not prove_gated(dict(variant="v1"), "frozen", 7).ok


# ----------------------------------------------------------------------------------------
# forward semantics
# ----------------------------------------------------------------------------------------
def test_v2_equations_by_hand():
    rng = np.random.default_rng(4)
    cell = cells.make("gated_lif", 2, 3, variant="v2", output="binary", threshold=0.3)
    p = cell.params
    for k in p:
        p[k][...] = rng.standard_normal(p[k].shape)
    x = rng.standard_normal((3, 1, 2))
    y, cache = cell.forward(x)
    I = V = Y = np.zeros((1, 3))
    for t in range(3):
        F = expit(x[t] @ p["W_f"] + Y @ p["U_f"] + p["b_f"])
        C = np.maximum(0, x[t] @ p["W_c"] + Y @ p["U_c"] + p["b_c"])
        I = F * I + (1 - F) * C
        V = 0.9 * V + I - 0.3 * Y
        Y = (V > 0.3).astype(float)
        np.testing.assert_allclose(y[t], Y)
    np.testing.assert_allclose(cache["final_state"].I, I)
    np.testing.assert_allclose(cache["final_state"].V, V)


def test_params_and_defaults():
    v1 = cells.make("gated_lif", 3, 4)
    assert set(v1.params) == {"W_f", "W_c", "b_f", "b_c"}
    assert v1.config.output == "multibit" and v1.config.n_bits == 6 and v1.config.threshold_levels == 4
    v2 = cells.make("gated_lif", 3, 4, variant="v2")
    assert set(v2.params) == {"W_f", "W_c", "b_f", "b_c", "U_f", "U_c"}
    np.testing.assert_allclose(v2.params["U_f"] @ v2.params["U_f"].T, np.eye(4), atol=1e-12)
    assert isinstance(gated_lif.TOUR_CONFIG, dict)


def test_ema_and_float32():
    cell = cells.make("gated_lif", 3, 4, variant="v2", dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    y, cache = cell.forward(x)
    assert y.dtype == np.float32 and cell.buffers["b_updates"] == 1
    vmax = max(float(np.abs(c[4][0]).max()) for c in cache["caches"][1:])
    vmax = max(vmax, float(np.abs(cache["final_state"].V).max()))
    assert cell.b == pytest.approx(vmax, rel=1e-6)
    dx, g = cell.backward(np.ones_like(y), cache)
    assert dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.values())
    cell.training = False
    cell.forward(x)
    assert cell.buffers["b_updates"] == 1


@pytest.mark.parametrize("kwargs, word", [
    (dict(variant="v3"), "variant"),
    (dict(reset="zero"), "reset"),  # multibit default refuses the zero reset
    (dict(learn_alpha=True), "learn_alpha"),
    (dict(n_bits=30), "n_bits"),
    (dict(output="binary", signed=True), "signed"),
])
def test_bad_config_refused(kwargs, word):
    with pytest.raises(ValueError, match=word):
        cells.make("gated_lif", 2, 3, **kwargs)
