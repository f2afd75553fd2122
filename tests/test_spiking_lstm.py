"""The spiking LSTM (Lotfi Rezaabad & Vishwanath 2020): forward semantics and proven BPTT.

Every proof runs in float64 on T in {1, 2, 7}, B = 3, with a non-zero initial state (h, c),
with the frozen twin (the real spike trajectory) and the smooth twin, for both
``cell_grad`` options; planted bugs show that the checks can fail.
"""
import dataclasses

import numpy as np
import pytest

from snn_from_scratch import cells, surrogates
from snn_from_scratch.cells import spiking_lstm as sl
from snn_from_scratch.gradcheck import check_cell

N_IN, H, B = 4, 5, 3
CHECK = sl.PROOF_OPTIONS
STEP_BACKWARD = sl.step_backward  # the correct one, kept before any monkeypatch


def setup(T, seed=0, dtype=np.float64, **config):
    rng = np.random.default_rng([seed, T])
    cell = cells.make("spiking_lstm", N_IN, H, seed=seed, dtype=dtype, **config)
    x = rng.standard_normal((T, B, N_IN)).astype(dtype)
    # Non-zero initial state with arbitrary (non-binary) values: the carries into t = 0
    # through W_h (h) and through the forget gate (c) are exercised.
    state = sl.State(0.5 * rng.standard_normal((B, H)).astype(dtype),
                     0.5 * rng.standard_normal((B, H)).astype(dtype))
    return cell, x, state


# --------------------------------------------------------------------------------------
# Forward semantics
# --------------------------------------------------------------------------------------
def test_forward_is_eq1_with_threshold():
    """Spikes are binary, c~ in {0,1,2} from a zero state, h = o * H(c~ - theta_c)."""
    T = 6
    cell, x, _ = setup(T, init="standard_normal")
    y, cache = cell.forward(x)
    g = cache["gates"]
    assert set(np.unique(g)) <= {0.0, 1.0}
    assert set(np.unique(cache["c_tildes"])) <= {0.0, 1.0, 2.0}
    assert set(np.unique(y)) <= {0.0, 1.0}
    # recompute by hand from the equations
    p, cfg = cell.params, cell.config
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    for t in range(T):
        u = x[t] @ p["W_x"] + h @ p["W_h"] + p["b"]
        f = (u[:, :H] > cfg.theta1) * 1.0
        i = (u[:, H:2 * H] > cfg.theta1) * 1.0
        gg = (u[:, 2 * H:3 * H] > cfg.theta2) * 1.0
        o = (u[:, 3 * H:] > cfg.theta1) * 1.0
        c = ((f * c + i * gg) > cfg.theta_c) * 1.0
        h = o * c
        np.testing.assert_array_equal(y[t], h)
    np.testing.assert_array_equal(cache["final_state"].c, c)
    # some activity, and the threshold really maps 2 -> 1 somewhere
    assert 0 < y.mean() < 1


def test_step_pair_matches_sequence():
    cell, x, state = setup(1)
    y, cache = cell.forward(x, state)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx, grads = cell.backward(dy, cache)
    p = cell.params
    h1, st, c_t = sl.step_forward(x[0] @ p["W_x"], state, p["W_h"], p["b"], cell.sur)
    np.testing.assert_array_equal(h1, y[0])
    du, dh_prev, dc_prev = sl.step_backward(dy[0], np.zeros((B, H)), c_t, p["W_h"], cell.sur)
    np.testing.assert_allclose(du.sum(0), grads["b"])
    np.testing.assert_allclose(du @ p["W_x"].T, dx[0])
    assert dh_prev.shape == dc_prev.shape == (B, H)


def test_float32_stays_float32():
    cell, x, state = setup(4, dtype=np.float32)
    y, cache = cell.forward(x, state)
    assert y.dtype == np.float32 and cache["us"].dtype == np.float32
    dx, grads = cell.backward(np.ones_like(y), cache)
    assert dx.dtype == np.float32
    assert all(v.dtype == np.float32 for v in grads.values())


def test_config_defaults_and_validation():
    cfg = cells.make("spiking_lstm", 2, 3).config
    assert dataclasses.asdict(cfg) == {"theta1": 0.1, "theta2": 0.1, "theta_c": 0.1, "a1": 4.0,
                                       "a2": 0.3, "a_c": 4.0, "cell_grad": "gaussian",
                                       "gamma": 1.0, "init": "he_normal"}
    for bad in ({"a1": 0}, {"a2": -1.0}, {"a_c": float("nan")}, {"gamma": 0.0},
                {"theta1": float("inf")}, {"cell_grad": "sigmoid"}, {"init": "xavier"},
                {"theta2": "0.1"}, {"nonsense": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            cells.make("spiking_lstm", 2, 3, **bad)


def test_init_options():
    n, h = 30, 50
    he = cells.make("spiking_lstm", n, h, seed=3).params
    sn = cells.make("spiking_lstm", n, h, seed=3, init="standard_normal").params
    assert set(he) == {"W_x", "W_h", "b"} and he["W_x"].shape == (n, 4 * h)
    assert he["W_h"].shape == (h, 4 * h) and he["b"].shape == (4 * h,)
    w = np.concatenate([he["W_x"], he["W_h"]])
    assert abs(w.std() - np.sqrt(2 / (n + h))) < 0.01
    assert abs(np.concatenate([sn["W_x"], sn["W_h"]]).std() - 1) < 0.02
    assert not he["b"].any() and not sn["b"].any()


def test_surrogate_objects_follow_config():
    cell = cells.make("spiking_lstm", 2, 3, a1=2.0, a2=0.5, a_c=1.5)
    assert cell.sur.s1 == surrogates.get("gaussian", a=2.0)
    assert cell.sur.s2 == surrogates.get("gaussian", a=0.5)
    assert cell.sur.sc == surrogates.get("gaussian", a=1.5)


# --------------------------------------------------------------------------------------
# Proofs
# --------------------------------------------------------------------------------------
PROOF_CASES = [(label, cfg, twin, T) for label, (cfg, twin) in sl.PROOFS.items() for T in (1, 2, 7)]


@pytest.mark.parametrize("label,config,twin,T", PROOF_CASES,
                         ids=[f"{c[0]}-T{c[3]}" for c in PROOF_CASES])
def test_proof(label, config, twin, T):
    cell, x, state = setup(T, **config)
    rep = check_cell(cell, x, state, twin=twin, **CHECK)
    assert rep.ok, rep.table()
    assert rep.max_error <= 1e-7
    assert rep.flips == 0, rep.table()
    assert {r.name for r in rep.rows} == {"W_x", "W_h", "b", "x"}


def test_required_proofs_declared():
    twins = {(cfg.get("cell_grad", "gaussian"), tw) for cfg, tw in sl.PROOFS.values()}
    assert {("gaussian", "frozen"), ("gaussian", "smooth"),
            ("constant", "frozen"), ("constant", "smooth")} <= twins
    assert sl.TOUR_CONFIG == {}


# -- planted bugs: each wrong backward must fail the same check -----------------------
def _bug_carry_skips_threshold(dh, dc, cache_t, W_h, sur):
    """The paper's / authors' carry: dc~ = s_c * o * dh + dc (threshold factor skipped)."""
    h_prev, c_prev, u, gates, c_tilde, c = cache_t
    du, dh_prev, _ = STEP_BACKWARD(dh, dc, cache_t, W_h, sur)
    Hh = dh.shape[1]
    s_c = sur.sc.grad(c_tilde - sur.cfg.theta_c) if sur.cfg.cell_grad == "gaussian" else sur.cfg.gamma
    o, f = gates[:, 3 * Hh:], gates[:, :Hh]
    dct = s_c * o * dh + dc
    f_, i_, g_ = gates[:, :Hh], gates[:, Hh:2 * Hh], gates[:, 2 * Hh:3 * Hh]
    du[:, :Hh] = dct * c_prev * sur.s1.grad(u[:, :Hh] - sur.cfg.theta1)
    du[:, Hh:2 * Hh] = dct * g_ * sur.s1.grad(u[:, Hh:2 * Hh] - sur.cfg.theta1)
    du[:, 2 * Hh:3 * Hh] = dct * i_ * sur.s2.grad(u[:, 2 * Hh:3 * Hh] - sur.cfg.theta2)
    return du, du @ W_h.T, dct * f


def _bug_g_uses_a1(dh, dc, cache_t, W_h, sur):
    """Wrong surrogate object for g (a1 instead of a2: the MNIST script's mix-up)."""
    return STEP_BACKWARD(dh, dc, cache_t, W_h, sur._replace(s2=sur.s1))


def _bug_binary_c(dh, dc, cache_t, W_h, sur):
    """Assumes spikes are binary: du_o = dh * G (c taken as 1) — fails wherever c != 1."""
    h_prev, c_prev, u, gates, c_tilde, c = cache_t
    return STEP_BACKWARD(dh, dc, (h_prev, c_prev, u, gates, c_tilde, np.ones_like(c)), W_h, sur)


def _bug_no_dh_prev(dh, dc, cache_t, W_h, sur):
    du, dh_prev, dc_prev = STEP_BACKWARD(dh, dc, cache_t, W_h, sur)
    return du, 0.0 * dh_prev, dc_prev


def _bug_constant_uses_gaussian(dh, dc, cache_t, W_h, sur):
    """cell_grad='constant' but backward uses the Gaussian anyway."""
    return STEP_BACKWARD(dh, dc, cache_t, W_h, sur._replace(cfg=dataclasses.replace(sur.cfg, cell_grad="gaussian")))


BUGS = [
    ("carry_skips_threshold", _bug_carry_skips_threshold, {}, "frozen"),
    ("carry_skips_threshold", _bug_carry_skips_threshold, {}, "smooth"),
    ("carry_skips_threshold_constant", _bug_carry_skips_threshold, {"cell_grad": "constant", "gamma": 0.7}, "frozen"),
    ("g_uses_a1", _bug_g_uses_a1, {}, "frozen"),
    ("binary_c", _bug_binary_c, {}, "smooth"),
    ("binary_c", _bug_binary_c, {}, "frozen"),
    ("no_dh_prev", _bug_no_dh_prev, {}, "frozen"),
    ("constant_uses_gaussian", _bug_constant_uses_gaussian, {"cell_grad": "constant", "gamma": 0.7}, "frozen"),
    ("constant_uses_gaussian", _bug_constant_uses_gaussian, {"cell_grad": "constant", "gamma": 0.7}, "smooth"),
]


@pytest.mark.parametrize("name,bug,config,twin", BUGS, ids=[f"{b[0]}-{b[3]}" for b in BUGS])
def test_planted_bug_fails(monkeypatch, name, bug, config, twin):
    cell, x, state = setup(7, **config)
    assert check_cell(cell, x, state, twin=twin, **CHECK).ok  # the same check passes ...
    monkeypatch.setattr(sl, "step_backward", bug)
    rep = check_cell(cell, x, state, twin=twin, **CHECK)
    assert not rep.ok                                           # ... and catches the bug
    assert rep.max_error > 1e-4, rep.table()


def test_default_check_options_also_pass():
    """check_cell's own defaults (what `gradcheck --all` uses) prove the default cell too."""
    for twin in ("frozen", "smooth"):
        cell, x, state = setup(7)
        rep = check_cell(cell, x, state, twin=twin)
        assert rep.ok, rep.table()


def test_backward_variant_none_is_backward():
    for cfg in ({}, {"cell_grad": "constant", "gamma": 0.5}):
        cell, x, state = setup(5, **cfg)
        y, cache = cell.forward(x, state)
        dy = np.random.default_rng(2).standard_normal(y.shape)
        dx, g = cell.backward(dy, cache)
        dx2, g2 = sl.backward_variant(cell, dy, cache, None)
        np.testing.assert_allclose(dx2, dx, rtol=1e-12, atol=1e-14)
        for k in g:
            np.testing.assert_allclose(g2[k], g[k], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="variant"):
        sl.backward_variant(cell, dy, cache, "nope")


def test_bad_state_and_input():
    cell, x, state = setup(2)
    with pytest.raises(ValueError, match="x"):
        cell.forward(x[:, :, :2])
    with pytest.raises(ValueError, match="state.c"):
        cell.forward(x, sl.State(state.h, state.c[:, :2]))


# --------------------------------------------------------------------------------------
# The experiments module (smoke test; chapter 05 runs every experiment in fast mode)
# --------------------------------------------------------------------------------------
def test_lotfi_experiments_registered_and_sinusoid_runs(tmp_path, capsys):
    from snn_from_scratch import experiments
    from snn_from_scratch.experiments import lotfi
    assert {"lotfi-sinusoid", "lotfi-smnist", "lotfi-charlm", "lotfi-surrogate-sweep",
            "lotfi-mnist1d"} <= set(experiments.registry())
    res = experiments.run("lotfi-sinusoid", fast=True, out=str(tmp_path))
    assert (tmp_path / "lotfi_sinusoid.png").is_file()
    assert all(np.isfinite(v) for v in res["mse"].values())
    assert "Figure 4" in capsys.readouterr().out
    # thermometer code: K channels, monotone in the level
    levels = lotfi.thermometer_levels(np.linspace(-1, 1, 101)[None, :], K=4)
    s = lotfi.thermometer(np.array([[-2.0, 0.0, 2.0]]), levels)
    assert s.shape == (3, 1, 4) and s.dtype == np.float32
    np.testing.assert_array_equal(s[:, 0].sum(1), [0, 2, 4])


def test_use_printed_backward_swaps_only_backward():
    from snn_from_scratch.experiments import lotfi
    cell, x, state = setup(5)
    y, cache = cell.forward(x, state)
    dy = np.zeros_like(y)
    dy[-1] = 1.0
    dx0, g0 = cell.backward(dy, cache)
    lotfi.use_printed_backward(cell)
    y2, cache2 = cell.forward(x, state)
    np.testing.assert_array_equal(y, y2)
    dx1, g1 = cell.backward(dy, cache2)
    ref = sl.backward_variant(cell, dy, cache2, sl.AUTHORS_CODE)
    np.testing.assert_array_equal(g1["W_h"], ref[1]["W_h"])
    assert not np.allclose(g1["W_h"], g0["W_h"])
