"""Gated-synapse LIF, v1 (Eq. 16-18) and v2 (Eq. 19-21): every option combination proven
in float64 with both twins, planted bugs that must fail, forward semantics, refusals."""
import dataclasses
import itertools

import numpy as np
import pytest
from scipy.special import expit

from snn_from_scratch import cells, proofs, tour
from snn_from_scratch.cells import gated_lif

N_IN, H, B = 3, 4, 3


def prove_gated(config, twin, T, b=None):
    """The library's proof (proofs.prove: float64, a valid random initial state from
    cell.sample_state, eval mode) at one T; returns its gradcheck Report."""
    return proofs.prove("gated_lif", config, twin, sizes_T=(T,), b=b).reports[0]


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
    """Every row of the library's proof table (both twins), as ``gradcheck --cell gated_lif``."""
    rows = proofs.PROOFS["gated_lif"]
    assert {twin for _, _, twin in rows} == {"frozen", "smooth"}
    for label, cfg, twin in rows:
        r = proofs.prove("gated_lif", cfg, twin, label=label)
        assert r.ok, (label, cfg, twin, [rep.table() for rep in r.reports])


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
    ("forget carry dropped", lambda da, st, dp: (da, gated_lif.State(0 * st.I, st.V, st.Y), dp)),
    ("forget gate scaled", lambda da, st, dp: ((1.1 * da[0], da[1]), st, dp)),
    ("candidate sign", lambda da, st, dp: ((da[0], -da[1]), st, dp)),
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

    def bad(dy_t, dstate, cache_t, p, cfg):
        return orig(dy_t, dstate, cache_t, p, dataclasses.replace(cfg, variant="v1"))

    cfg = dict(variant="v2")
    assert prove_gated(cfg, "frozen", 7).ok
    monkeypatch.setattr(gated_lif, "step_backward", bad)
    assert not prove_gated(cfg, "frozen", 7).ok


def test_planted_relu_mask_bug_fails(monkeypatch):
    """Backward through the ReLU as if it were the identity."""
    orig = gated_lif.step_forward

    def bad(*a, **k):
        Y, st, c = orig(*a, **k)
        return Y, st, c._replace(relu_mask=np.ones_like(c.relu_mask))

    cfg = dict(variant="v1")
    rng = np.random.default_rng(0)
    cell = cells.make("gated_lif", N_IN, H, **cfg)
    masks = [c.relu_mask for _, _, c in cell.trace(rng.standard_normal((7, B, N_IN)))]
    assert 0 < np.mean(masks) < 1  # both sides of the ReLU occur
    assert prove_gated(cfg, "frozen", 7).ok
    monkeypatch.setattr(gated_lif, "step_forward", bad)
    assert not prove_gated(cfg, "frozen", 7).ok


def test_planted_shared_membrane_bug_fails(monkeypatch):
    """The V/Y code is shared with lif: a bug there must fail the gated proofs too."""
    orig = gated_lif.membrane_backward

    def bad(*a, **k):
        dV, dVp, dYp, dp = orig(*a, **k)
        return dV, 0.9 * dVp, dYp, dp

    assert prove_gated(dict(variant="v1"), "frozen", 7).ok
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
    assert cells.make("gated_lif", 3, 4, **tour.SETTINGS["gated_lif"]["config"]).config.variant == "v2"


def test_ema_and_float32():
    cell = cells.make("gated_lif", 3, 4, variant="v2", dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    vmax = max(float(np.abs(st.V).max()) for _, st, _ in cell.trace(x))  # with b = 1, as the pass
    y, cache = cell.forward(x)
    assert y.dtype == np.float32 and cell.buffers["b_updates"] == 1
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


# ----------------------------------------------------------------------------------------
# the step API: trace, slim caches, initial states
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [dict(), dict(variant="v2"), dict(variant="v2", output="binary", reset="zero")],
                         ids=str)
def test_trace_matches_forward_and_slim_cache(cfg):
    """cell.trace gives forward's numbers bit for bit (full caches, b untouched); the forward
    keeps I[n-1], F, C, the bool ReLU mask and dY/dV (+ V[n-1], Y[n-1] for the zero reset,
    Y[n-1] a view of the output), and its backward equals the one from the full caches."""
    rng = np.random.default_rng(2)
    cell = cells.make("gated_lif", N_IN, H, **cfg)
    x = rng.standard_normal((6, B, N_IN))
    state = cell.sample_state(B, rng)
    before = dict(cell.buffers)
    tr = cell.trace(x, state)
    assert cell.buffers == before
    cell.training = False
    y, cache = cell.forward(x, state)
    np.testing.assert_array_equal(np.stack([y_t for y_t, _, _ in tr]), y)
    for a, b_ in zip(tr[-1][1], cache["final_state"]):
        np.testing.assert_array_equal(a, b_)
    kept = {"I_prev", "F", "C", "relu_mask", "dYdV"}
    if cell.config.reset == "zero":
        kept |= {"V_prev", "Y_prev"}
    for c in cache["steps"]:
        assert {f for f, v in c._asdict().items() if v is not None} == kept
        assert c.relu_mask.dtype == bool
    if cell.config.variant == "v2":
        assert np.shares_memory(cache["Yprev"], y)
    dy = rng.standard_normal(y.shape)
    dx, g = cell.backward(dy, cache)
    dx_full, g_full = cell.backward(dy, dict(cache, steps=[c for _, _, c in tr]))
    np.testing.assert_array_equal(dx, dx_full)
    for k in g:
        np.testing.assert_array_equal(g[k], g_full[k])


def test_sample_state_is_valid():
    from snn_from_scratch.cells.lif import quantize
    multi = cells.make("gated_lif", N_IN, H)
    st = multi.sample_state(40, np.random.default_rng(0))
    np.testing.assert_array_equal(st.Y, quantize(st.V, multi.b, 6, 4)[0])
    binary = cells.make("gated_lif", N_IN, H, output="binary")
    assert set(np.unique(binary.sample_state(40, np.random.default_rng(0)).Y)) == {0.0, 1.0}
