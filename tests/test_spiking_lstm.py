"""The spiking LSTM (Lotfi Rezaabad & Vishwanath 2020): forward semantics and proven BPTT.

Every proof runs in float64 on T in {1, 2, 7}, B = 3, with a non-zero initial state (h, c),
with the frozen twin (the real spike trajectory) and the smooth twin, for both
``cell_grad`` options; planted bugs show that the checks can fail.
"""
import dataclasses
import inspect

import numpy as np
import pytest

from snn_from_scratch import cells, proofs, surrogates
from snn_from_scratch.cells import spiking_lstm as sl
from snn_from_scratch.cells.base import slim
from snn_from_scratch.gradcheck import Twin, check_cell

N_IN, H, B = 4, 5, 3
STEP_BACKWARD = sl.step_backward  # the correct ones, kept before any monkeypatch
RESTORE = sl.restore


def setup(T, seed=0, dtype=np.float64, **config):
    rng = np.random.default_rng([seed, T])
    cell = cells.make("spiking_lstm", N_IN, H, seed=seed, dtype=dtype, **config)
    x = rng.standard_normal((T, B, N_IN)).astype(dtype)
    # Non-zero initial state with arbitrary (non-binary) values: the carries into t = 0
    # through W_h (h) and through the forget gate (c) are exercised.
    state = sl.State(0.5 * rng.standard_normal((B, H)).astype(dtype),
                     0.5 * rng.standard_normal((B, H)).astype(dtype))
    return cell, x, state


def zero_dstate(dtype=np.float64):
    return sl.State(np.zeros((B, H), dtype), np.zeros((B, H), dtype))


# --------------------------------------------------------------------------------------
# Forward semantics
# --------------------------------------------------------------------------------------
def test_forward_is_eq1_with_threshold():
    """Spikes are binary, c~ in {0,1,2} from a zero state, h = o * H(c~ - theta_c)."""
    T = 6
    cell, x, _ = setup(T, init="standard_normal")
    y, cache = cell.forward(x)
    steps = [c for _, _, c in cell.trace(x)]
    gates = np.stack([np.concatenate([c.f, c.i, c.g, c.o], axis=1) for c in steps])
    assert set(np.unique(gates)) <= {0.0, 1.0}
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
        np.testing.assert_array_equal(steps[t].c, c)
    np.testing.assert_array_equal(cache["final_state"].c, c)
    # some activity, and the threshold really maps 2 -> 1 somewhere
    assert 0 < y.mean() < 1


def test_step_pair_matches_sequence():
    cell, x, state = setup(1)
    y, cache = cell.forward(x, state)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx, grads = cell.backward(dy, cache)
    p, cfg = cell.params, cell.config
    h1, st, c_t = sl.step_forward(cell.inputs(x)[0], state, p, cfg)
    assert isinstance(c_t, sl.Cache) and isinstance(st, sl.State)
    np.testing.assert_array_equal(h1, y[0])
    np.testing.assert_array_equal(st.c, cache["final_state"].c)
    du, dprev, dp = sl.step_backward(dy[0], zero_dstate(), c_t, p, cfg)
    assert dp == {} and isinstance(dprev, sl.State)
    np.testing.assert_array_equal(du.sum(0), grads["b"])
    np.testing.assert_array_equal(du @ p["W_x"].T, dx[0])
    assert dprev.h.shape == dprev.c.shape == (B, H)


@pytest.mark.parametrize("config", [{}, {"cell_grad": "constant", "gamma": 0.7}])
def test_step_loop_matches_sequence(config):
    """The step pair driven by hand over T steps (full caches from ``trace``) gives the
    sequence's output, final state and gradients."""
    T = 5
    cell, x, state = setup(T, **config)
    y, cache = cell.forward(x, state)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx, grads = cell.backward(dy, cache)
    p, cfg = cell.params, cell.config
    steps = cell.trace(x, state)
    np.testing.assert_array_equal(np.stack([y_t for y_t, _, _ in steps]), y)
    for a, b in zip(steps[-1][1], cache["final_state"]):
        np.testing.assert_array_equal(a, b)
    dstate, dU = zero_dstate(), []
    for t in reversed(range(T)):
        du, dstate, _ = sl.step_backward(dy[t], dstate, steps[t][2], p, cfg)
        dU.append(du)
    dU = np.stack(dU[::-1])
    np.testing.assert_allclose(dU.sum((0, 1)), grads["b"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dU @ p["W_x"].T, dx, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("twin", [None, "smooth", "frozen"])
@pytest.mark.parametrize("config", [{}, {"cell_grad": "constant", "gamma": 0.7},
                                    proofs.SPIKING_LSTM_GENERIC,
                                    dict(proofs.SPIKING_LSTM_GENERIC, cell_grad="constant", gamma=0.7)])
def test_restore_gives_the_forward_caches(config, twin):
    """``restore`` rebuilds each step's full Cache bit for bit — the recomputed spikes
    without a twin, the twin's own (soft, in the smooth twin) spikes under one."""
    T = 6
    cell, x, state = setup(T, **config)
    ops = {} if twin is None else {"ops": Twin(twin)}
    _, cache = cell.forward(x, state, **ops)
    ops = {} if twin is None else {"ops": Twin(twin)}
    steps = cell.trace(x, state, **ops)
    for t, (_, _, full) in enumerate(steps):
        got = sl.restore(cache, t, cell.config)
        assert got._fields == full._fields
        for name, a, b in zip(full._fields, got, full):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} at t={t}")
    if twin == "smooth":  # the smooth twin's spikes are not 0/1: they must have been kept
        assert not set(np.unique(steps[0][2].f)) <= {0.0, 1.0}


@pytest.mark.parametrize("label", list(proofs.proofs_of("spiking_lstm")))
def test_plain_backward_is_the_proven_one(label):
    """The proofs run under a twin, where ``restore`` returns the spikes the twin stored;
    without one, ``restore`` recomputes them (thresholds theta1, theta2, theta_c). The plain
    backward must be the frozen twin's recording pass, bit for bit, at every proven
    configuration — the generic point's distinct thresholds included (at the paper's equal
    thresholds, recomputing with the wrong one changes nothing), with a non-binary initial
    c, so that c~[0] falls between 0 and theta_c."""
    config, _ = proofs.proofs_of("spiking_lstm")[label]
    cell, x, state = setup(6, **config)
    y0, c0 = cell.forward(x, state)
    y1, c1 = cell.forward(x, state, ops=Twin("frozen"))
    np.testing.assert_array_equal(y0, y1)
    dy = np.random.default_rng(4).standard_normal(y0.shape)
    (dx0, g0), (dx1, g1) = cell.backward(dy, c0), cell.backward(dy, c1)
    np.testing.assert_array_equal(dx0, dx1)
    for k in g0:
        np.testing.assert_array_equal(g0[k], g1[k], err_msg=k)


def test_cache_is_the_theoretical_minimum():
    """Without a twin the forward stores h[t-1], u (4), c~ and c0: 6 values per unit and
    step; under a twin it keeps the twin's spikes (and nothing else) besides."""
    T = 4
    cell, x, state = setup(T)
    _, cache = cell.forward(x, state)
    stored = {k: v.shape for k, v in cache.items() if isinstance(v, np.ndarray) and k != "x"}
    assert stored == {"hs": (T + 1, B, H), "us": (T, B, 4 * H), "c_tildes": (T, B, H), "c0": (B, H)}
    assert cache["twin_spikes"] is None
    _, cache = cell.forward(x, state, ops=Twin("smooth"))
    assert len(cache["twin_spikes"]) == T
    for c in cache["twin_spikes"]:
        assert {f for f, v in zip(c._fields, c) if v is not None} == set(sl.SPIKES)


@pytest.mark.parametrize("config", [{}, {"cell_grad": "constant", "gamma": 0.7}])
def test_reads_names_exactly_what_step_backward_reads(config):
    cell, x, state = setup(1, **config)
    p, cfg = cell.params, cell.config
    _, _, full = sl.step_forward(cell.inputs(x)[0], state, p, cfg)
    keep = sl.reads(p, cfg)
    assert keep <= set(sl.Cache._fields)
    assert ("c_tilde" in keep) == (cfg.cell_grad == "gaussian")
    dy = np.random.default_rng(3).standard_normal((B, H))
    dstate = sl.State(np.ones((B, H)), np.ones((B, H)))
    ref = sl.step_backward(dy, dstate, full, p, cfg)
    got = sl.step_backward(dy, dstate, slim(full, keep), p, cfg)
    np.testing.assert_array_equal(got[0], ref[0])
    for a, b in zip(got[1], ref[1]):
        np.testing.assert_array_equal(a, b)
    for name in keep:  # every field it names is needed
        with pytest.raises(TypeError):
            sl.step_backward(dy, dstate, slim(full, keep - {name}), p, cfg)


def test_float32_stays_float32():
    cell, x, state = setup(4, dtype=np.float32)
    y, cache = cell.forward(x, state)
    assert y.dtype == np.float32 and cache["us"].dtype == np.float32
    dx, grads = cell.backward(np.ones_like(y), cache)
    assert dx.dtype == np.float32
    assert all(v.dtype == np.float32 for v in grads.values())
    assert all(v.dtype == np.float32 for v in sl.restore(cache, 2, cell.config))


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
    cfg = cells.make("spiking_lstm", 2, 3, a1=2.0, a2=0.5, a_c=1.5).config
    assert cfg.sigma1 == surrogates.get("gaussian", a=2.0)
    assert cfg.sigma2 == surrogates.get("gaussian", a=0.5)
    assert cfg.sigma_c == surrogates.get("gaussian", a=1.5)
    assert cfg.sigma1 is cfg.sigma1            # built once per config, not per step
    assert dataclasses.replace(cfg, a1=3.0).sigma1 == surrogates.get("gaussian", a=3.0)


def test_module_keeps_to_its_cell():
    """No foreign settings and no gradient checker in the cell module."""
    for name in ("PROOFS", "TOUR_CONFIG", "PROOF_OPTIONS", "PROOF_CONSTANTS"):
        assert not hasattr(sl, name), name
    assert "gradcheck" not in inspect.getsource(sl)


# --------------------------------------------------------------------------------------
# Proofs
# --------------------------------------------------------------------------------------
# The proof table lives in snn_from_scratch/proofs.py (what `gradcheck` runs). Its raw rows
# are used here so that every row is proven even if two rows were to share a label.
PROOF_CASES = [(label or proofs.describe("spiking_lstm", cfg), cfg, twin, T)
               for label, cfg, twin in proofs.PROOFS["spiking_lstm"] for T in (1, 2, 7)]


@pytest.mark.parametrize("label,config,twin,T", PROOF_CASES,
                         ids=[f"{c[0]}-{c[2]}-T{c[3]}" for c in PROOF_CASES])
def test_proof(label, config, twin, T):
    cell, x, state = setup(T, **config)
    rep = check_cell(cell, x, state, twin=twin)
    assert rep.ok, rep.table()
    assert rep.max_error <= 1e-7
    assert rep.flips == 0, rep.table()
    assert {r.name for r in rep.rows} == {"W_x", "W_h", "b", "x"}


def test_required_proofs_declared():
    table = proofs.proofs_of("spiking_lstm")
    twins = {(cfg.get("cell_grad", "gaussian"), tw) for cfg, tw in table.values()}
    assert {("gaussian", "frozen"), ("gaussian", "smooth"),
            ("constant", "frozen"), ("constant", "smooth")} <= twins
    # a generic point (docs/design.md, "Proving gradients"): distinct thresholds and widths,
    # all off the paper's values, under both twins and both unit-state derivatives
    assert len({GENERIC[k] for k in ("theta1", "theta2", "theta_c")}) == 3
    assert len({GENERIC[k] for k in ("a1", "a2", "a_c")}) == 3
    defaults = sl.Config()
    assert all(v != getattr(defaults, k) for k, v in GENERIC.items())
    generic = {(cfg.get("cell_grad", "gaussian"), tw) for cfg, tw in table.values()
               if all(cfg.get(k) == v for k, v in GENERIC.items())}
    assert generic == {("gaussian", "frozen"), ("gaussian", "smooth"),
                       ("constant", "frozen"), ("constant", "smooth")}
    # no label hides another row (gradcheck runs what proofs_of returns)
    assert len(table) == len(proofs.PROOFS["spiking_lstm"])


# -- planted bugs: each wrong backward must fail the same check -----------------------
def _bug_carry_skips_threshold(dy_t, dstate, cache_t, p, cfg):
    """The paper's / authors' carry: dc~ = s_c * o * dh + dc (threshold factor skipped)."""
    du, _, _ = STEP_BACKWARD(dy_t, dstate, cache_t, p, cfg)
    Hh = dy_t.shape[1]
    u = cache_t.u
    dh = dy_t + dstate.h
    s_c = cfg.sigma_c.grad(cache_t.c_tilde - cfg.theta_c) if cfg.cell_grad == "gaussian" else cfg.gamma
    dct = s_c * cache_t.o * dh + dstate.c
    du[:, :Hh] = dct * cache_t.c_prev * cfg.sigma1.grad(u[:, :Hh] - cfg.theta1)
    du[:, Hh:2 * Hh] = dct * cache_t.g * cfg.sigma1.grad(u[:, Hh:2 * Hh] - cfg.theta1)
    du[:, 2 * Hh:3 * Hh] = dct * cache_t.i * cfg.sigma2.grad(u[:, 2 * Hh:3 * Hh] - cfg.theta2)
    return du, sl.State(du @ p["W_h"].T, dct * cache_t.f), {}


def _bug_g_uses_a1(dy_t, dstate, cache_t, p, cfg):
    """Wrong surrogate for g (a1 instead of a2: the MNIST script's mix-up)."""
    return STEP_BACKWARD(dy_t, dstate, cache_t, p, dataclasses.replace(cfg, a2=cfg.a1))


def _bug_binary_c(dy_t, dstate, cache_t, p, cfg):
    """Assumes spikes are binary: du_o = dh * G (c taken as 1) — fails wherever c != 1."""
    return STEP_BACKWARD(dy_t, dstate, cache_t._replace(c=np.ones_like(cache_t.c)), p, cfg)


def _bug_no_dh_prev(dy_t, dstate, cache_t, p, cfg):
    du, dprev, dp = STEP_BACKWARD(dy_t, dstate, cache_t, p, cfg)
    return du, dprev._replace(h=0.0 * dprev.h), dp


def _bug_constant_uses_gaussian(dy_t, dstate, cache_t, p, cfg):
    """cell_grad='constant' but backward uses the Gaussian anyway."""
    return STEP_BACKWARD(dy_t, dstate, cache_t, p, dataclasses.replace(cfg, cell_grad="gaussian"))


def _bug_recompute_under_twin(cache, t, cfg):
    """The sequence backward recomputes H(u - theta) even under a twin (ignores the twin's
    stored spikes): wrong for the smooth twin, whose spikes are soft."""
    return RESTORE(dict(cache, twin_spikes=None), t, cfg)


def _swapped(a, b):
    """A backward that uses config value ``b`` where ``a`` belongs and vice versa (e.g. the
    unit-state threshold theta_c in place of the gates' theta1): invisible at the paper's
    values, where theta1 = theta2 = theta_c and a1 = a_c."""
    def bug(dy_t, dstate, cache_t, p, cfg):
        return STEP_BACKWARD(dy_t, dstate, cache_t, p,
                             dataclasses.replace(cfg, **{a: getattr(cfg, b), b: getattr(cfg, a)}))
    bug.__name__ = f"swap_{a}_{b}"
    return bug


CONSTANT = {"cell_grad": "constant", "gamma": 0.7}
GENERIC = proofs.SPIKING_LSTM_GENERIC
GENERIC_CONSTANT = dict(GENERIC, **CONSTANT)
SWAPS = [("theta_c", "theta1"), ("theta_c", "theta2"), ("theta1", "theta2"), ("a_c", "a1"),
         ("a1", "a2"), ("a_c", "a2")]
BUGS = [
    ("carry_skips_threshold", "step_backward", _bug_carry_skips_threshold, {}, "frozen"),
    ("carry_skips_threshold", "step_backward", _bug_carry_skips_threshold, {}, "smooth"),
    ("carry_skips_threshold_constant", "step_backward", _bug_carry_skips_threshold, CONSTANT, "frozen"),
    ("g_uses_a1", "step_backward", _bug_g_uses_a1, {}, "frozen"),
    ("binary_c", "step_backward", _bug_binary_c, {}, "smooth"),
    ("binary_c", "step_backward", _bug_binary_c, {}, "frozen"),
    ("no_dh_prev", "step_backward", _bug_no_dh_prev, {}, "frozen"),
    ("constant_uses_gaussian", "step_backward", _bug_constant_uses_gaussian, CONSTANT, "frozen"),
    ("constant_uses_gaussian", "step_backward", _bug_constant_uses_gaussian, CONSTANT, "smooth"),
    ("recompute_under_twin", "restore", _bug_recompute_under_twin, {}, "smooth"),
    # at the generic point (distinct thetas and widths) every swap is caught, under both
    # twins; with the constant unit-state derivative the thresholds still matter
    *[(f"swap_{a}_{b}", "step_backward", _swapped(a, b), GENERIC, twin)
      for a, b in SWAPS for twin in ("frozen", "smooth")],
    *[(f"swap_{a}_{b}_constant", "step_backward", _swapped(a, b), GENERIC_CONSTANT, "frozen")
      for a, b in (("theta_c", "theta1"), ("theta_c", "theta2"), ("theta1", "theta2"))],
]


@pytest.mark.parametrize("name,target,bug,config,twin", BUGS, ids=[f"{b[0]}-{b[4]}" for b in BUGS])
def test_planted_bug_fails(monkeypatch, name, target, bug, config, twin):
    cell, x, state = setup(7, **config)
    assert check_cell(cell, x, state, twin=twin).ok            # the same check passes ...
    monkeypatch.setattr(sl, target, bug)
    rep = check_cell(cell, x, state, twin=twin)
    assert not rep.ok                                           # ... and catches the bug
    assert rep.max_error > 1e-4, rep.table()


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


def test_printed_backward_rule_is_the_authors_code():
    """experiments.lotfi's substituted rule is backward_variant(AUTHORS_CODE): not the
    gradient (it differs from cell.backward), and the forward pass is untouched."""
    from snn_from_scratch.experiments import lotfi
    cell, x, state = setup(5)
    y, cache = cell.forward(x, state)
    dy = np.zeros_like(y)
    dy[-1] = 1.0
    dx0, g0 = cell.backward(dy, cache)
    dx1, g1 = lotfi.printed_backward()(cell, dy, cache)
    ref = sl.backward_variant(cell, dy, cache, sl.AUTHORS_SCRIPTS["mnist"])
    np.testing.assert_array_equal(g1["W_h"], ref[1]["W_h"])
    assert not np.allclose(g1["W_h"], g0["W_h"])
    y2, _ = cell.forward(x, state)
    np.testing.assert_array_equal(y, y2)
