"""LIF cell (Ponghiran & Roy Eq. 7-9, 22): every option combination proven by finite
differences in float64 (frozen and smooth twins), planted bugs that must fail, the
multi-bit quantizer, the EMA range b, the presets and the refusals."""
import itertools

import numpy as np
import pytest

from snn_from_scratch import cells, proofs, tour
from snn_from_scratch.cells import lif
from snn_from_scratch.gradcheck import check_cell

N_IN, H, B = 3, 4, 3
# check_cell's default floor: max(1e-6 * max|grad|, noise / tol) with noise = eps*sum|dy*y|/h,
# the difference quotient's round-off (entries below it are held to an absolute error of
# about that round-off). Planted bugs below still fail by orders of magnitude.
FLOOR = 1e-6


def prove_lif(config, twin, T, b=None):
    """The library's proof (proofs.prove: float64, a valid random initial state from
    cell.sample_state, eval mode) at one T; returns its gradcheck Report."""
    return proofs.prove("lif", config, twin, sizes_T=(T,), b=b).reports[0]


def _product():
    out = []
    for syn, reset, det, la, lt, output in itertools.product(
            (True, False), ("subtract", "zero"), (False, True), (False, True), (False, True),
            ("binary", "multibit")):
        if output == "multibit" and (reset == "zero" or lt):
            continue  # refused (tested below)
        out.append(dict(synaptic=syn, reset=reset, detach_reset=det, learn_alpha=la,
                        learn_threshold=lt, output=output))
    return out


PRODUCT = _product()


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("config", PRODUCT, ids=lambda c: "-".join(
    f"{k}={v}" for k, v in c.items()))
def test_full_option_product(config, twin):
    for T in (1, 2, 7):
        rep = prove_lif(config, twin, T)
        assert rep.ok, rep.table()
        assert rep.replay_error == 0.0


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("preset", sorted(lif.PRESETS))
def test_presets_proven(preset, twin):
    for T in (1, 2, 7):
        rep = prove_lif(lif.PRESETS[preset], twin, T)
        assert rep.ok, rep.table()


@pytest.mark.parametrize("extra", [dict(learn_beta=True), dict(output="multibit", signed=True),
                                   dict(surrogate="gaussian", surrogate_params={"a": 0.5}),
                                   dict(surrogate="fast_sigmoid", surrogate_params={"k": 2.0}, learn_threshold=True),
                                   dict(output="multibit", n_bits=2, threshold_levels=1)])
def test_extra_options_proven(extra):
    for twin in ("frozen", "smooth"):
        for T in (1, 7):
            rep = prove_lif(extra, twin, T)
            assert rep.ok, rep.table()


def test_product_covers_every_option():
    assert len(PRODUCT) == 32 + 8
    for key in ("synaptic", "reset", "detach_reset", "learn_alpha", "learn_threshold", "output"):
        assert len({c[key] for c in PRODUCT}) == 2


def test_clip_is_exercised_and_flagged():
    """With a small b many potentials exceed the range: the clipped straight-through rule
    gives them zero gradient, and a perturbation across the clip would be reported."""
    cell = cells.make("lif", N_IN, H, output="multibit")
    cell.training = False
    cell.b = 0.3
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, B, N_IN))
    masks = [c.dYdV for _, _, c in cell.trace(x)]
    frac = np.mean([m.mean() for m in masks])
    assert 0.05 < frac < 0.95  # both sides of the clip occur
    rep = check_cell(cell, x, twin="frozen", scale_floor=FLOOR)
    assert rep.ok, rep.table()


# ----------------------------------------------------------------------------------------
# planted bugs: each deliberately wrong backward must fail the check
# ----------------------------------------------------------------------------------------
def _wrap_membrane_backward(monkeypatch, module, fix):
    orig = module.membrane_backward

    def bad(*a, **k):
        return fix(*orig(*a, **k))

    monkeypatch.setattr(module, "membrane_backward", bad)


def _scaled(dp, key, factor):
    return {**dp, key: factor * dp[key]}


PLANTED = {
    # drop the reset's gradient into Y[t-1]
    "no reset gradient": (dict(), lambda dV, dVp, dYp, dp: (dV, dVp, 0 * dYp, dp)),
    # forget the membrane carry V[t-1] -> V[t]
    "no membrane carry": (dict(), lambda dV, dVp, dYp, dp: (dV, 0 * dVp, dYp, dp)),
    # the alpha gradient off by 10%
    "alpha scaled": (dict(learn_alpha=True), lambda dV, dVp, dYp, dp: (dV, dVp, dYp, _scaled(dp, "alpha", 1.1))),
    # the threshold gradient with its sign flipped
    "threshold sign": (dict(learn_threshold=True),
                       lambda dV, dVp, dYp, dp: (dV, dVp, dYp, _scaled(dp, "threshold", -1.0))),
    # zero reset: the keep factor dropped is visible through dV_prev
    "zero reset carry": (dict(reset="zero"), lambda dV, dVp, dYp, dp: (dV, 1.05 * dVp, dYp, dp)),
    # zero reset: its reset coefficient rho = alpha V[t-1] off by 10%
    "zero reset rho": (dict(reset="zero"), lambda dV, dVp, dYp, dp: (dV, dVp, 1.1 * dYp, dp)),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_planted_membrane_bugs_fail(monkeypatch, bug):
    config, fix = PLANTED[bug]
    assert prove_lif(config, "frozen", 7).ok  # the honest backward passes
    _wrap_membrane_backward(monkeypatch, lif, fix)
    rep = prove_lif(config, "frozen", 7)
    assert not rep.ok, rep.table()


def test_planted_synaptic_decay_bug_fails(monkeypatch):
    """Eq. 15's beta per step back: drop it and the proof fails."""
    orig = lif.step_backward

    def bad(dy_t, dstate, cache_t, p, cfg):
        da, dprev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        return da, lif.State(0 * dprev.I, dprev.V, dprev.Y), dp

    monkeypatch.setattr(lif, "step_backward", bad)
    assert not prove_lif({}, "frozen", 7).ok
    assert not prove_lif({}, "smooth", 7).ok


def test_planted_beta_gradient_bug_fails(monkeypatch):
    orig = lif.step_backward

    def bad(*a, **k):
        da, dprev, dp = orig(*a, **k)
        return da, dprev, _scaled(dp, "beta", 0.9)

    assert prove_lif(dict(learn_beta=True), "frozen", 7).ok
    monkeypatch.setattr(lif, "step_backward", bad)
    assert not prove_lif(dict(learn_beta=True), "frozen", 7).ok


def test_planted_unclipped_straight_through_fails(monkeypatch):
    """A straight-through estimator that forgets the clip (dY/dV = 1 everywhere)."""
    orig = lif.membrane_forward

    def bad(*a, **k):
        V, Y, dYdV, M = orig(*a, **k)
        return V, Y, np.ones_like(dYdV), M

    cfg = dict(output="multibit")
    assert prove_lif(cfg, "frozen", 7, b=0.5).ok
    monkeypatch.setattr(lif, "membrane_forward", bad)
    assert not prove_lif(cfg, "frozen", 7, b=0.5).ok


def test_planted_surrogate_scale_fails(monkeypatch):
    orig = lif.membrane_forward

    def bad(*a, **k):
        V, Y, dYdV, M = orig(*a, **k)
        return V, Y, 1.2 * dYdV, M

    monkeypatch.setattr(lif, "membrane_forward", bad)
    assert not prove_lif({}, "frozen", 7).ok
    assert not prove_lif({}, "smooth", 7).ok


def test_detach_reset_really_detaches():
    """Detached and attached resets give identical forwards but different gradients."""
    rng = np.random.default_rng(3)
    x = 2.0 * rng.standard_normal((6, B, N_IN))
    a = cells.make("lif", N_IN, H, detach_reset=False, surrogate="atan")
    d = cells.make("lif", N_IN, H, detach_reset=True, surrogate="atan")
    ya, ca = a.forward(x)
    yd, cd = d.forward(x)
    np.testing.assert_array_equal(ya, yd)
    assert ya.sum() > 0
    dy = rng.standard_normal(ya.shape)
    assert not np.allclose(a.backward(dy, ca)[1]["W"], d.backward(dy, cd)[1]["W"])


# ----------------------------------------------------------------------------------------
# forward semantics
# ----------------------------------------------------------------------------------------
def test_binary_equations_by_hand():
    cell = cells.make("lif", 1, 1, alpha=0.5, beta=0.25, threshold=1.0)
    cell.params["W"][...] = 1.0
    x = np.array([1.2, 0.0, 0.9, 0.0]).reshape(4, 1, 1)
    y, cache = cell.forward(x)
    # I: 1.2, 0.3, 0.975, 0.24375 ; V: 1.2 (spike) ; 0.6+0.3-1=-0.1 ; -0.05+0.975=0.925 ; 0.4625+0.24375
    np.testing.assert_allclose(y.ravel(), [1, 0, 0, 0])
    np.testing.assert_allclose(cache["final_state"].V.ravel(), [0.4625 + 0.24375])


def test_zero_reset_by_hand():
    cell = cells.make("lif", 1, 1, alpha=0.5, synaptic=False, reset="zero")
    cell.params["W"][...] = 1.0
    x = np.array([1.5, 0.4, 0.4]).reshape(3, 1, 1)
    y, cache = cell.forward(x)
    np.testing.assert_allclose(y.ravel(), [1, 0, 0])
    np.testing.assert_allclose(cache["final_state"].V.ravel(), [0.4 * 0.5 + 0.4])


def test_multibit_levels():
    cell = cells.make("lif", 1, 1, output="multibit")  # 6 bits, k = 4: gamma = b/16
    cell.b = 2.0
    assert lif.coefficients(cell.params, cell.step_config())[2] == pytest.approx(2.0 / 16)
    V = np.array([-1.0, 0.0, 0.12, 0.125, 0.126, 0.5, 1.99, 2.0, 5.0])
    Y, q = lif.quantize(V, 2.0, 6, 4)
    step = 2.0 / 64
    np.testing.assert_allclose(q, [0, 0, 0, 0, 4, 16, 63, 63, 63])
    np.testing.assert_allclose(Y, q * step)
    assert Y.max() == pytest.approx(63 * step)  # top level (2^N - 1) b / 2^N
    Ys, qs = lif.quantize(np.array([-0.5, -0.1, 0.1, 0.5]), 2.0, 6, 4, signed=True)
    np.testing.assert_allclose(qs, [-16, 0, 0, 16])


def test_multibit_reset_subtracts_transmitted_value():
    cell = cells.make("lif", 1, 1, output="multibit", alpha=1.0, synaptic=False)
    cell.training = False
    cell.b = 1.0
    cell.params["W"][...] = 1.0
    x = np.array([0.7, 0.0]).reshape(2, 1, 1)
    y, cache = cell.forward(x)
    assert y[0, 0, 0] == pytest.approx(np.floor(0.7 * 64) / 64)
    assert cache["final_state"].V[0, 0] == pytest.approx(0.7 - y[0, 0, 0])


def test_ema_range_b():
    rng = np.random.default_rng(0)
    cell = cells.make("lif", N_IN, H, output="multibit", ema_momentum=0.1)
    assert cell.b == 1.0
    x1 = 3 * rng.standard_normal((5, B, N_IN))
    cell.training = False
    y_eval, _ = cell.forward(x1)
    assert cell.b == 1.0  # frozen in eval
    cell.training = True
    y_train, _ = cell.forward(x1)
    np.testing.assert_array_equal(y_train, y_eval)  # this pass used the old b ...
    vmax1 = max(float(np.abs(st).max()) for st in _potentials(cell, x1, 1.0))
    assert cell.b == pytest.approx(vmax1)  # ... and the update happened after it (bias-corrected)
    b1 = cell.b
    x2 = 0.5 * x1
    vmax2 = max(float(np.abs(st).max()) for st in _potentials(cell, x2, b1))
    cell.forward(x2)
    biased = 0.9 * 0.1 * vmax1 + 0.1 * vmax2
    assert cell.b == pytest.approx(biased / (1 - 0.9 ** 2))


def _potentials(cell, x, b):
    c = cells.make("lif", cell.n_in, cell.n_hidden, **{**cell.config.__dict__})
    c.params = {k: v.copy() for k, v in cell.params.items()}
    c.training = False
    c.b = b
    return [st.V for _, st, _ in c.trace(x)]


def test_float32_stays_float32():
    for cfg in ({}, dict(output="multibit", learn_alpha=True), lif.PRESETS["snntorch_leaky"],
                lif.PRESETS["ponghiran_authors_code"]):
        cell = cells.make("lif", N_IN, H, dtype=np.float32, **cfg)
        x = np.random.default_rng(0).standard_normal((4, B, N_IN)).astype(np.float32)
        y, cache = cell.forward(x)
        assert y.dtype == np.float32
        dx, g = cell.backward(np.ones_like(y), cache)
        assert dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.values())
        assert set(g) == set(cell.params)


def test_presets():
    p = lif.PRESETS
    assert set(p) == {"ponghiran", "ponghiran_authors_code", "snntorch_leaky"}
    s = cells.make("lif", 2, 3, **p["snntorch_leaky"])
    assert set(s.params) == {"W", "alpha", "threshold"}
    np.testing.assert_allclose(s.params["alpha"], 0.9)
    np.testing.assert_allclose(s.params["threshold"], 1.0)
    assert s.config.surrogate == "atan" and s.config.reset == "zero" and s.config.detach_reset
    assert not s.config.synaptic
    a = cells.make("lif", 2, 3, **p["ponghiran_authors_code"])
    assert set(a.params) == {"W", "beta", "bn_scale", "bn_shift"}
    assert a.config.alpha == 1.0 and a.config.signed and a.config.norm == "batch"
    # their nb6th3: num_bits 6 = 5 magnitude bits + sign, threshold 3 -> 4 levels
    assert (a.config.n_bits, a.config.threshold_levels) == (5, 4)
    assert a.config.scale_margin == 1 - 1e-4 and a.config.spike_at_threshold
    assert a.config.range_estimator == "authors" and a.config.reset_timing == "same_step"
    np.testing.assert_allclose(a.params["beta"], 1.0)
    t = cells.make("lif", 2, 3, **p["ponghiran"])
    assert lif.coefficients(t.params, t.step_config())[2] == pytest.approx(t.b / 16)
    cfg = tour.SETTINGS["lif"]["config"]
    made = cells.make("lif", 2, 3, **cfg).config
    assert {k: getattr(made, k) for k in cfg} == cfg


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(output="multibit", reset="zero"), ValueError, "reset"),
    (dict(output="multibit", learn_threshold=True), ValueError, "learn_threshold"),
    (dict(reset="none"), ValueError, "reset"),
    (dict(output="ternary"), ValueError, "output"),
    (dict(threshold=0.0), ValueError, "threshold"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(n_bits=0), ValueError, "n_bits"),
    (dict(threshold_levels=64), ValueError, "threshold_levels"),
    (dict(ema_momentum=0.0), ValueError, "ema_momentum"),
    (dict(surrogate="nope"), ValueError, "surrogate"),
    (dict(surrogate_params={"zz": 1}), ValueError, "zz"),
    (dict(learn_alpha=1), TypeError, "learn_alpha"),
    (dict(learn_beta=True, synaptic=False), ValueError, "learn_beta"),
    (dict(signed=True), ValueError, "signed"),
    (dict(tau=3), ValueError, "tau"),
])
def test_bad_config_refused(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        cells.make("lif", 2, 3, **kwargs)


def test_bad_b_refused():
    cell = cells.make("lif", 2, 3, output="multibit")
    with pytest.raises(ValueError, match="b"):
        cell.b = -1.0


def test_proofs_table_passes():
    """Every row of the library's proof table (both twins), as ``gradcheck --cell lif``."""
    rows = proofs.PROOFS["lif"]
    assert {twin for _, _, twin in rows} == {"frozen", "smooth"}
    for label, cfg, twin in rows:
        r = proofs.prove("lif", cfg, twin, label=label)
        assert r.ok, (label, cfg, twin, [rep.table() for rep in r.reports])


# ----------------------------------------------------------------------------------------
# the step API: trace, slim caches, step config, initial states
# ----------------------------------------------------------------------------------------
TRACE_CONFIGS = [dict(), dict(output="multibit"), dict(reset="zero", learn_alpha=True, learn_threshold=True),
                 dict(learn_beta=True), dict(synaptic=False), lif.PRESETS["ponghiran_authors_code"]]


@pytest.mark.parametrize("cfg", TRACE_CONFIGS, ids=str)
def test_trace_matches_forward_and_keeps_b(cfg):
    """cell.trace runs the same step functions with full caches: the same numbers, bit for
    bit, and no update of the multi-bit range."""
    rng = np.random.default_rng(0)
    cell = cells.make("lif", N_IN, H, **cfg)
    # the authors' range estimator updates b at every step of a training forward, which
    # trace (no statistics update) cannot follow: compare that one in eval mode
    cell.training = cfg.get("range_estimator") != "authors"
    x = 2 * rng.standard_normal((6, B, N_IN))
    state = cell.sample_state(B, rng)
    before = {k: np.copy(v) for k, v in cell.buffers.items()}
    tr = cell.trace(x, state)
    assert before.keys() == cell.buffers.keys()
    assert all(np.array_equal(before[k], cell.buffers[k]) for k in before)
    y, cache = cell.forward(x, state)
    np.testing.assert_array_equal(np.stack([y_t for y_t, _, _ in tr]), y)
    for a, b_ in zip(tr[-1][1], cache["final_state"]):
        np.testing.assert_array_equal(a, b_)
    assert all(isinstance(c, lif.Cache) and all(v is not None for v in c) for _, _, c in tr)


@pytest.mark.parametrize("cfg, kept", [
    (dict(), {"dYdV"}),
    (dict(output="multibit"), {"dYdV"}),
    (dict(learn_alpha=True), {"dYdV", "V_prev"}),
    (dict(learn_threshold=True), {"dYdV", "Y_prev"}),
    (dict(learn_beta=True), {"dYdV", "I_prev"}),
    (dict(reset="zero"), {"dYdV", "V_prev", "Y_prev"}),
    (dict(reset="zero", detach_reset=True), {"dYdV", "Y_prev"}),
])
def test_cache_keeps_only_what_backward_reads(cfg, kept):
    """The memory goal: the default neuron keeps dY/dV alone (one value per unit and step;
    a bool for multi-bit outputs); the rest only when the backward reads it. The slimmed
    caches give the same backward as the full ones of cell.trace."""
    rng = np.random.default_rng(1)
    cell = cells.make("lif", N_IN, H, **cfg)
    cell.training = False
    x = rng.standard_normal((5, B, N_IN))
    state = cell.sample_state(B, rng)
    y, cache = cell.forward(x, state)
    for c in cache["steps"]:
        assert {f for f, v in c._asdict().items() if v is not None} == kept
    if cfg.get("output") == "multibit":
        assert cache["steps"][0].dYdV.dtype == bool
    if "Y_prev" in kept:  # Y[t-1] is a view of the output array, not a copy
        assert all(np.shares_memory(c.Y_prev, y) for c in cache["steps"][1:])
    dy = rng.standard_normal(y.shape)
    dx, g = cell.backward(dy, cache)
    full = dict(cache, steps=[c for _, _, c in cell.trace(x, state)])
    dx_full, g_full = cell.backward(dy, full)
    np.testing.assert_array_equal(dx, dx_full)
    for k in g:
        np.testing.assert_array_equal(g[k], g_full[k])


def test_step_config_and_backward_use_the_pass_b():
    cell = cells.make("lif", N_IN, H, output="multibit")
    cell.b = 0.7
    cfg = cell.step_config()
    assert isinstance(cfg, lif.StepConfig) and cfg.b == 0.7 and cfg.reset == cell.config.reset
    assert cfg.surrogate_fn == lif.surrogates.get("triangle")
    x = np.random.default_rng(0).standard_normal((4, B, N_IN))
    _, cache = cell.forward(x)          # training: b is updated after the pass ...
    assert cell.b != 0.7 and cache["cfg"].b == 0.7   # ... and the backward keeps the pass's b


@pytest.mark.parametrize("cfg", [dict(), dict(output="multibit"), dict(output="multibit", signed=True)])
def test_sample_state_is_valid(cfg):
    cell = cells.make("lif", N_IN, H, output=cfg.get("output", "binary"), signed=cfg.get("signed", False))
    cell.b = 0.8
    st = cell.sample_state(50, np.random.default_rng(0))
    assert st.V.std() > 0.3 and st.I.std() > 0.3
    if cell.config.output == "binary":
        assert set(np.unique(st.Y)) == {0.0, 1.0}
    else:
        np.testing.assert_array_equal(st.Y, lif.quantize(st.V, 0.8, 6, 4, cell.config.signed)[0])
        assert np.count_nonzero(st.Y) > 0
