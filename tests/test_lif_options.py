"""The LIF family's options beyond the paper's neuron: the recurrent SNN (U), the reset
timing, the spike at threshold, batch norm of the weighted input, the authors' range
estimator, the scale margin and non-uniform per-neuron initial values. For each: the forward
equations by hand, its proof by finite differences under both twins at a generic point
(threshold 0.7, decays off their defaults, per-neuron values drawn non-uniform), and a
planted bug that the proof must catch."""
import dataclasses

import numpy as np
import pytest

from snn_from_scratch import cells, proofs
from snn_from_scratch.cells import gated_lif, lif
from snn_from_scratch.gradcheck import Twin, check_cell, check_function

N_IN, H, B = 3, 4, 3
G = proofs.LIF_GENERIC


def prove(config, twin="frozen", T=7, name="lif", b=None):
    return proofs.prove(name, config, twin, sizes_T=(T,), b=b).reports[0]


# ----------------------------------------------------------------------------------------
# every new option proven, both twins, at the generic point, T in {1, 2, 7}
# ----------------------------------------------------------------------------------------
LEARN = dict(learn_alpha=True, learn_threshold=True, learn_beta=True)
MB = dict(output="multibit", n_bits=4, threshold_levels=3)
OPTION_CASES = {
    "recurrent binary": dict(recurrent=True, **LEARN),
    "recurrent multibit": dict(recurrent=True, learn_beta=True, **MB),
    "recurrent zero reset detached": dict(recurrent=True, reset="zero", detach_reset=True, **LEARN),
    "recurrent zero reset attached, no synaptic": dict(recurrent=True, reset="zero", synaptic=False,
                                                      learn_alpha=True),
    "same_step subtract": dict(reset_timing="same_step", **LEARN),
    "same_step subtract detached": dict(reset_timing="same_step", detach_reset=True, **LEARN),
    "same_step zero": dict(reset_timing="same_step", reset="zero", **LEARN),
    "same_step zero detached": dict(reset_timing="same_step", reset="zero", detach_reset=True, **LEARN),
    "same_step multibit": dict(reset_timing="same_step", signed=True, **MB),
    "same_step recurrent": dict(reset_timing="same_step", recurrent=True, reset="zero", **LEARN),
    "spike at threshold": dict(spike_at_threshold=True, **LEARN),
    "spike at threshold multibit": dict(spike_at_threshold=True, **MB),
    "batch norm, running statistics": dict(norm="batch", **LEARN),
    "batch norm, batch statistics": dict(norm="batch", bn_track_running_stats=False, **LEARN),
    "batch norm, multibit, recurrent": dict(norm="batch", bn_track_running_stats=False,
                                            recurrent=True, **MB),
    "authors range, margin": dict(range_estimator="authors", scale_margin=0.8, **MB),
}


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_new_options_proven(case, twin):
    for T in (1, 2, 7):
        rep = prove(dict(G, **OPTION_CASES[case]), twin, T)
        assert rep.ok, rep.table()
        assert rep.replay_error == 0.0


GATED_CASES = {
    "v1 batch norm": dict(variant="v1", output="binary", norm="batch"),
    "v2 batch norm, batch statistics": dict(variant="v2", norm="batch", bn_track_running_stats=False),
    "v2 same_step zero": dict(variant="v2", output="binary", reset="zero", reset_timing="same_step"),
    "v1 same_step multibit": dict(variant="v1", reset_timing="same_step", signed=True),
    "v2 spike at threshold": dict(variant="v2", output="binary", spike_at_threshold=True),
}


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("case", sorted(GATED_CASES))
def test_gated_new_options_proven(case, twin):
    for T in (1, 7):
        rep = prove(dict(proofs.GATED_GENERIC, **GATED_CASES[case]), twin, T, name="gated_lif")
        assert rep.ok, rep.table()


def test_proof_table_lists_every_new_option():
    for name, keys in (("lif", ("recurrent", "reset_timing", "spike_at_threshold", "norm",
                                "bn_track_running_stats", "range_estimator", "scale_margin",
                                "init_spread")),
                       ("gated_lif", ("reset_timing", "spike_at_threshold", "norm",
                                      "bn_track_running_stats", "init_spread"))):
        table = proofs.proofs_of(name)
        for k in keys:
            assert any(k in cfg for cfg, _ in table.values()), (name, k)
        assert {tw for _, tw in table.values()} == {"frozen", "smooth"}


# ----------------------------------------------------------------------------------------
# init_spread: non-uniform per-neuron values, and why the proofs need them
# ----------------------------------------------------------------------------------------
def test_init_spread_draws_per_neuron_values():
    c = cells.make("lif", N_IN, H, learn_alpha=True, learn_threshold=True, learn_beta=True,
                   norm="batch", init_spread=0.1, alpha=0.8, threshold=0.7, beta=0.7)
    for k, v0 in (("alpha", 0.8), ("threshold", 0.7), ("beta", 0.7), ("bn_scale", 1.0), ("bn_shift", 0.0)):
        v = c.params[k]
        assert np.all(np.abs(v - v0) <= 0.1) and len(np.unique(v)) == H, k
    u = cells.make("lif", N_IN, H, learn_alpha=True)
    assert np.all(u.params["alpha"] == 0.9)
    # the draws come after W: W is the same as without the spread
    np.testing.assert_array_equal(c.params["W"], cells.make("lif", N_IN, H).params["W"])
    g = cells.make("gated_lif", N_IN, H, init_spread=0.2)
    assert len(np.unique(g.params["b_f"])) == H


@pytest.mark.parametrize("key", ["alpha", "threshold", "beta"])
def test_permuted_neurons_caught_only_at_a_generic_point(monkeypatch, key):
    """A backward that permutes the neurons of a per-neuron gradient passes a proof where
    every neuron starts equal, and fails at the generic point (init_spread)."""
    orig = lif.step_backward

    def bad(*a, **k):
        da, prev, dp = orig(*a, **k)
        return da, prev, {**dp, key: dp[key][:, ::-1]}  # neuron order reversed

    cfg = dict(learn_alpha=True, learn_threshold=True, learn_beta=True)
    assert prove(dict(G, **cfg)).ok
    monkeypatch.setattr(lif, "step_backward", bad)
    # uniform values and an input that treats every neuron alike: the bug is invisible
    sym = cells.make("lif", N_IN, H, **cfg)
    sym.training = False
    sym.params["W"][...] = 0.5
    rng = np.random.default_rng(0)
    dy = np.repeat(rng.standard_normal((5, B, 1)), H, axis=2)   # the same for every neuron
    assert check_cell(sym, rng.standard_normal((5, B, N_IN)), dy=dy, twin="frozen").ok
    assert not prove(dict(G, **cfg)).ok


# ----------------------------------------------------------------------------------------
# recurrent
# ----------------------------------------------------------------------------------------
def test_recurrent_equations_by_hand():
    rng = np.random.default_rng(1)
    cell = cells.make("lif", 2, 3, recurrent=True, threshold=0.3, alpha=0.7, beta=0.6)
    U = cell.params["U"]
    np.testing.assert_allclose(U @ U.T, np.eye(3), atol=1e-12)   # orthogonal init
    x = rng.standard_normal((4, 2, 2))
    y, cache = cell.forward(x)
    I = V = Y = np.zeros((2, 3))
    for t in range(4):
        I = 0.6 * I + x[t] @ cell.params["W"] + Y @ U
        V = 0.7 * V + I - 0.3 * Y
        Y = (V > 0.3).astype(float)
        np.testing.assert_allclose(y[t], Y)
    assert y.sum() > 0
    assert np.shares_memory(cache["Yprev"], y)   # dU's operand is the output array


@pytest.mark.parametrize("bug", ["dU scaled", "no gradient into Y[t-1]"])
def test_planted_recurrent_bugs_fail(monkeypatch, bug):
    cfg = dict(G, recurrent=True)
    assert prove(cfg).ok
    if bug == "dU scaled":
        orig = lif.LIF._backward

        def bad(self, dy, cache):
            dx, g = orig(self, dy, cache)
            return dx, {**g, "U": 1.01 * g["U"]}
        monkeypatch.setattr(lif.LIF, "_backward", bad)
    else:
        orig = lif.step_backward

        def bad(dy_t, dstate, cache_t, p, cfg):  # as if Y[t-1] U were detached
            return orig(dy_t, dstate, cache_t, p, dataclasses.replace(cfg, recurrent=False))
        monkeypatch.setattr(lif, "step_backward", bad)
    assert not prove(cfg).ok
    assert not prove(cfg, "smooth").ok


# ----------------------------------------------------------------------------------------
# reset timing
# ----------------------------------------------------------------------------------------
def test_same_step_subtract_by_hand():
    """V[t+1] = alpha (V[t] - gamma S[t]) + I[t+1]; State.V holds the reset membrane."""
    cell = cells.make("lif", 1, 1, alpha=0.5, synaptic=False, threshold=1.0, reset_timing="same_step")
    cell.params["W"][...] = 1.0
    x = np.array([1.5, 0.4, 0.0]).reshape(3, 1, 1)
    y, cache = cell.forward(x)
    # V: 1.5 (spike) -> M = 0.5; V = 0.25 + 0.4 = 0.65 ; V = 0.325
    np.testing.assert_allclose(y.ravel(), [1, 0, 0])
    np.testing.assert_allclose(cache["final_state"].V.ravel(), [0.325])
    tr = cell.trace(x)
    np.testing.assert_allclose([c.V[0, 0] for _, _, c in tr], [1.5, 0.65, 0.325])  # V[t], pre-reset
    np.testing.assert_allclose([st.V[0, 0] for _, st, _ in tr], [0.5, 0.65, 0.325])  # M[t]
    nxt = cells.make("lif", 1, 1, alpha=0.5, synaptic=False, threshold=1.0)
    nxt.params["W"][...] = 1.0
    # Eq. 8: V = 0.75 + 0.4 - 1 = 0.15 — the subtracted amount does not leak
    np.testing.assert_allclose([st.V[0, 0] for _, st, _ in nxt.trace(x)], [1.5, 0.15, 0.075])


def test_same_step_zero_reset_is_the_same_function():
    """For the zero reset both timings give the same outputs and gradients; only what
    State.V holds differs (the reset membrane for same_step)."""
    rng = np.random.default_rng(2)
    x = 2 * rng.standard_normal((6, B, N_IN))
    out = {}
    for timing in ("next_step", "same_step"):
        cell = cells.make("lif", N_IN, H, reset="zero", learn_alpha=True, reset_timing=timing)
        y, cache = cell.forward(x)
        out[timing] = (y, cell.backward(np.ones_like(y), cache), cache["final_state"])
    np.testing.assert_array_equal(out["next_step"][0], out["same_step"][0])
    assert out["next_step"][0].sum() > 0
    for k in ("W", "alpha"):
        np.testing.assert_allclose(out["next_step"][1][1][k], out["same_step"][1][1][k], rtol=1e-12)
    Vn, Vs, Y = out["next_step"][2].V, out["same_step"][2].V, out["same_step"][2].Y
    np.testing.assert_allclose(Vs, Vn * (1 - Y))


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_planted_same_step_reset_bug_fails(monkeypatch, reset):
    """Drop the same-step reset's path into this step's Y[t] (rho): the proof fails."""
    orig = lif.reset_coefficients

    def bad(cache, alpha, gamma, cfg):
        keep, rho = orig(cache, alpha, gamma, cfg)
        return keep, None

    cfg = dict(G, reset_timing="same_step", reset=reset)
    assert prove(cfg).ok
    monkeypatch.setattr(lif, "reset_coefficients", bad)
    assert not prove(cfg).ok
    assert not prove(cfg, "smooth").ok


def test_planted_same_step_alpha_carry_bug_fails(monkeypatch):
    """Apply the next_step carry rule (alpha * keep) to the same_step membrane."""
    orig = lif.membrane_backward

    def bad(dV, dY, cache, p, cfg):
        dV_, dVp, dYp, dp = orig(dV, dY, cache, p, cfg)
        return dV_, dVp * (1 - cache.Y), dYp, dp

    cfg = dict(G, reset_timing="same_step", reset="zero", detach_reset=True)
    assert prove(cfg).ok
    monkeypatch.setattr(lif, "membrane_backward", bad)
    assert not prove(cfg).ok


def test_same_step_sample_state_is_reset():
    for cfg in (dict(reset="zero"), dict(output="multibit", signed=True)):
        cell = cells.make("lif", N_IN, H, reset_timing="same_step", **cfg)
        st = cell.sample_state(50, np.random.default_rng(0))
        ref = cells.make("lif", N_IN, H, **cfg).sample_state(50, np.random.default_rng(0))
        np.testing.assert_array_equal(st.Y, ref.Y)
        np.testing.assert_array_equal(st.V, lif.reset(ref.V, ref.Y, lif.coefficients(
            cell.params, cell.step_config())[2], cell.step_config()))
        if cfg.get("reset") == "zero":
            assert np.all(st.V[st.Y == 1] == 0)


# ----------------------------------------------------------------------------------------
# spike at threshold
# ----------------------------------------------------------------------------------------
def test_spike_at_threshold_forward():
    for at, expect in ((False, 0.0), (True, 1.0)):
        cell = cells.make("lif", 1, 1, synaptic=False, threshold=0.5, spike_at_threshold=at)
        cell.params["W"][...] = 1.0
        y, _ = cell.forward(np.full((1, 1, 1), 0.5))   # V exactly at the threshold
        assert y[0, 0, 0] == expect
    V = np.array([-0.25, 0.25 - 1e-12, 0.25, 0.3])   # gamma = 4 * 1 / 16
    np.testing.assert_array_equal(lif.quantize(V, 1.0, 4, 4, signed=True)[1], [0, 0, 0, 4])
    np.testing.assert_array_equal(lif.quantize(V, 1.0, 4, 4, signed=True, at_threshold=True)[1],
                                  [-4, 0, 4, 4])


def test_spike_at_threshold_goes_through_the_twins():
    """A frozen twin's recording pass spikes where the real neuron does, also exactly at
    the threshold (the twin calls the surrogate's own spike)."""
    cell = cells.make("lif", 1, 2, synaptic=False, threshold=0.5, spike_at_threshold=True)
    cell.params["W"][...] = 1.0
    cell.training = False
    x = np.full((2, 1, 1), 0.5)
    y0, _ = cell.forward(x)
    y1, _ = cell.forward(x, ops=Twin("frozen"))
    np.testing.assert_array_equal(y0, y1)
    assert y0[0].sum() == 2
    assert isinstance(cell.step_config().surrogate_fn, lif.AtThreshold)


def test_planted_at_threshold_surrogate_bug_fails(monkeypatch):
    cfg = dict(G, spike_at_threshold=True, learn_threshold=True)
    assert prove(cfg).ok
    orig = lif.AtThreshold.grad
    monkeypatch.setattr(lif.AtThreshold, "grad", lambda self, u: 1.1 * orig(self, u))
    assert not prove(cfg).ok
    assert not prove(cfg, "smooth").ok


# ----------------------------------------------------------------------------------------
# batch norm
# ----------------------------------------------------------------------------------------
def test_batch_norm_forward_and_running_statistics():
    rng = np.random.default_rng(3)
    cell = cells.make("lif", N_IN, H, norm="batch", init_spread=0.3)
    x = rng.standard_normal((5, B, N_IN)) + 1.0
    Z = x.reshape(-1, N_IN) @ cell.params["W"]
    mu, var = Z.mean(0), Z.var(0)
    A = cell.inputs(x).reshape(-1, H)
    np.testing.assert_allclose(A, cell.params["bn_shift"] + cell.params["bn_scale"] * (Z - mu) / np.sqrt(var + 1e-5))
    np.testing.assert_array_equal(cell.buffers["bn_mean"], 0)   # inputs() does not update
    cell.forward(x)
    n = Z.shape[0]
    np.testing.assert_allclose(cell.buffers["bn_mean"], 0.1 * mu)
    np.testing.assert_allclose(cell.buffers["bn_var"], 0.9 + 0.1 * var * n / (n - 1))  # unbiased
    cell.training = False
    before = {k: np.copy(cell.buffers[k]) for k in ("bn_mean", "bn_var")}
    A_eval = cell.inputs(x).reshape(-1, H)
    np.testing.assert_allclose(A_eval, cell.params["bn_shift"] + cell.params["bn_scale"] * (
        Z - before["bn_mean"]) / np.sqrt(before["bn_var"] + 1e-5))
    cell.forward(x)
    for k in before:
        np.testing.assert_array_equal(cell.buffers[k], before[k])   # eval: frozen
    batch = cells.make("lif", N_IN, H, norm="batch", bn_track_running_stats=False)
    assert "bn_mean" not in batch.buffers
    batch.training = False
    Ab = batch.inputs(x).reshape(-1, H)
    np.testing.assert_allclose(Ab, (Z - mu) / np.sqrt(var + 1e-5))


def _generic_bn_cell(name="lif", **cfg):
    cell = cells.make(name, N_IN, H, norm="batch", init_spread=0.2, **cfg)
    rng = np.random.default_rng(11)
    for k in [k for k in cell.buffers if k.startswith("bn_mean")]:
        cell.buffers[k] = 0.3 * rng.standard_normal(H)
    for k in [k for k in cell.buffers if k.startswith("bn_var")]:
        cell.buffers[k] = rng.uniform(0.5, 2.0, H)
    return cell


def training_mode_check(cell, x, state=None, twin="frozen"):
    """Finite differences of a TRAINING-mode forward (batch statistics part of the
    function): cell.training stays True, and every buffer (running statistics, b) is put
    back after each evaluation so that no update changes the function between passes."""
    saved = {k: np.copy(v) for k, v in cell.buffers.items()}

    def restore():
        for k, v in saved.items():
            cell.buffers[k] = np.copy(v) if isinstance(v, np.ndarray) else type(cell.buffers[k])(v)

    rng = np.random.default_rng(0)
    cell.training = True
    y, _ = cell.forward(x, state)
    restore()
    dy = rng.standard_normal(y.shape)
    tw = Twin(twin)
    y, cache = cell.forward(x, state, ops=tw)
    restore()
    dx, grads = cell.backward(dy, cache)

    def loss():
        tw.replay()
        out, _ = cell.forward(x, state, ops=tw)
        restore()
        return float(np.sum(dy * out))

    arrays = dict(cell.params, x=x)
    analytic = dict(grads, x=dx)
    noise = np.finfo(float).eps * float(np.sum(np.abs(dy * y))) / 1e-5
    return check_function(loss, arrays, analytic, noise=noise, title="training mode",
                          flip_counter=lambda: tw.flips)


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("cfg", [dict(G, **LEARN), dict(G, recurrent=True, **MB),
                                 lif.PRESETS["ponghiran_authors_code"]], ids=["binary", "multibit", "authors"])
def test_batch_norm_proven_in_training_mode(cfg, twin):
    rng = np.random.default_rng(4)
    cfg = dict(cfg, norm="batch", init_spread=0.1)
    cell = cells.make("lif", N_IN, H, **cfg)   # the authors' preset: their per-step range too
    x = rng.standard_normal((6, B, N_IN))
    # one training pass first: the authors' estimator's first update sets b to the step's
    # max|V| exactly, which puts that potential ON the clip (a kink: no derivative there)
    cell.forward(rng.standard_normal((6, B, N_IN)))
    rep = training_mode_check(cell, x, cell.sample_state(B, rng), twin)
    assert rep.ok, rep.table()


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_gated_batch_norm_proven_in_training_mode(variant):
    rng = np.random.default_rng(5)
    cell = cells.make("gated_lif", N_IN, H, variant=variant, norm="batch", init_spread=0.1, alpha=0.8)
    rep = training_mode_check(cell, rng.standard_normal((6, B, N_IN)), cell.sample_state(B, rng))
    assert rep.ok, rep.table()


@pytest.mark.parametrize("name", ["lif", "gated_lif"])
def test_batch_norm_proven_in_eval_mode_with_generic_statistics(name):
    rng = np.random.default_rng(6)
    cell = _generic_bn_cell(name)
    cell.training = False
    rep = check_cell(cell, rng.standard_normal((6, B, N_IN)), cell.sample_state(B, rng))
    assert rep.ok, rep.table()


@pytest.mark.parametrize("bug", ["eval formula in training", "no mean term", "scale permuted"])
def test_planted_batch_norm_bugs_fail(monkeypatch, bug):
    orig = lif.batch_norm_backward

    def bad(dA, bn_cache, batch_stats):
        Zh, inv, scale = bn_cache
        if bug == "eval formula in training":
            return orig(dA, bn_cache, False)
        dZ, ds, db = orig(dA, bn_cache, batch_stats)
        if bug == "no mean term":
            return dZ + (inv * scale * dA).mean(0) * batch_stats, ds, db
        return dZ, ds[::-1], db

    rng = np.random.default_rng(7)
    cell = cells.make("lif", N_IN, H, norm="batch", init_spread=0.1, **LEARN)
    x, st = rng.standard_normal((6, B, N_IN)), cell.sample_state(B, rng)
    assert training_mode_check(cell, x, st).ok
    assert proofs.prove("lif", dict(G, norm="batch", bn_track_running_stats=False), "frozen").ok
    monkeypatch.setattr(lif, "batch_norm_backward", bad)
    assert not training_mode_check(cell, x, st).ok
    assert not proofs.prove("lif", dict(G, norm="batch", bn_track_running_stats=False), "frozen").ok


def test_gated_batch_norm_params_and_buffers():
    g = cells.make("gated_lif", N_IN, H, variant="v2", norm="batch")
    assert set(g.params) == {"W_f", "W_c", "U_f", "U_c", "bn_scale_f", "bn_shift_f",
                             "bn_scale_c", "bn_shift_c"}
    assert {"bn_mean_f", "bn_var_f", "bn_mean_c", "bn_var_c"} <= set(g.buffers)


def test_batch_norm_refuses_a_single_row():
    cell = cells.make("lif", N_IN, H, norm="batch")
    with pytest.raises(ValueError, match="T\\*B"):
        cell.forward(np.ones((1, 1, N_IN)))
    cell.training = False
    cell.forward(np.ones((1, 1, N_IN)))   # running statistics: fine


def test_batch_norm_buffers_saved_by_checkpoints(tmp_path):
    from snn_from_scratch import checkpoint, network

    cfg = dict(norm="batch", output="multibit", range_estimator="authors")
    net = network.build("lif", N_IN, H, 2, config=cfg)
    net.layers[0].forward(np.random.default_rng(0).standard_normal((4, B, N_IN)))
    path = checkpoint.save_checkpoint(str(tmp_path / "c.npz"), net)
    fresh = network.build("lif", N_IN, H, 2, config=cfg)
    checkpoint.load_checkpoint(path, fresh)
    for k in ("bn_mean", "bn_var", "b", "range_min_biased", "range_max_biased", "range_updates"):
        np.testing.assert_array_equal(fresh.layers[0].buffers[k], net.layers[0].buffers[k])
    assert fresh.layers[0].buffers["range_updates"] == 4


# ----------------------------------------------------------------------------------------
# the "authors" range estimator and the scale margin (their code: test_authors_ponghiran.py)
# ----------------------------------------------------------------------------------------
def test_authors_range_updates_per_step_while_training():
    rng = np.random.default_rng(8)
    cell = cells.make("lif", N_IN, H, output="multibit", range_estimator="authors")
    x = 2 * rng.standard_normal((5, B, N_IN))
    seen = []
    orig = cell._observe_range
    cell._observe_range = lambda V: seen.append(orig(V)) or seen[-1]
    y, cache = cell.forward(x)
    assert len(seen) == 5 and cell.buffers["range_updates"] == 5
    assert cell.b == seen[-1] and len(set(seen)) == 5
    Vs = [c.V for _, _, c in cells.make("lif", N_IN, H, output="multibit").trace(x)]
    # step 0: the bias-corrected EMAs are that step's min and max
    assert seen[0] == pytest.approx(max(abs(Vs[0].min()), abs(Vs[0].max())))
    cell.training = False
    b = cell.b
    cell.forward(x)
    assert cell.b == b and cell.buffers["range_updates"] == 5
    assert cache["cfg"].observe_range is not None and cell.step_config().observe_range is None


def test_scale_margin_levels():
    V = np.array([0.0, 0.1, 0.5, 0.99, 1.2])
    Y, q = lif.quantize(V, 1.0, 3, 1, margin=0.5)   # s = 8 * 0.5 / 1 = 4: levels 1/4 wide
    np.testing.assert_array_equal(q, [0, 0, 2, 3, 4])   # 1.2 clipped to b: floor(4)
    np.testing.assert_allclose(Y, q / 4)
    cell = cells.make("lif", 1, 1, output="multibit", n_bits=3, threshold_levels=2, scale_margin=0.5)
    assert lif.coefficients(cell.params, cell.step_config())[2] == pytest.approx(2 / 4)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(recurrent=1), TypeError, "recurrent"),
    (dict(reset_timing="later"), ValueError, "reset_timing"),
    (dict(spike_at_threshold="yes"), TypeError, "spike_at_threshold"),
    (dict(norm="layer"), ValueError, "norm"),
    (dict(norm="batch", bn_eps=0.0), ValueError, "bn_eps"),
    (dict(norm="batch", bn_momentum=1.5), ValueError, "bn_momentum"),
    (dict(range_estimator="minmax", output="multibit"), ValueError, "range_estimator"),
    (dict(range_estimator="authors"), ValueError, "range_estimator"),   # binary output
    (dict(scale_margin=1.5, output="multibit"), ValueError, "scale_margin"),
    (dict(scale_margin=0.5), ValueError, "scale_margin"),               # binary output
    (dict(init_spread=-0.1), ValueError, "init_spread"),
])
def test_bad_new_config_refused(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        cells.make("lif", 2, 3, **kwargs)


def test_gated_has_no_recurrent_keyword():
    with pytest.raises(ValueError, match="recurrent"):
        cells.make("gated_lif", 2, 3, recurrent=True)


# ----------------------------------------------------------------------------------------
# the step API with the new options: trace, slim caches, valid states
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_trace_and_slim_cache_with_new_options(case):
    rng = np.random.default_rng(9)
    cell = cells.make("lif", N_IN, H, **dict(G, **OPTION_CASES[case]))
    cell.training = False
    x = 2 * rng.standard_normal((5, B, N_IN))
    state = cell.sample_state(B, rng)
    tr = cell.trace(x, state)
    y, cache = cell.forward(x, state)
    np.testing.assert_array_equal(np.stack([y_t for y_t, _, _ in tr]), y)
    for a, b_ in zip(tr[-1][1], cache["final_state"]):
        np.testing.assert_array_equal(a, b_)
    dy = rng.standard_normal(y.shape)
    dx, g = cell.backward(dy, cache)
    dx_full, g_full = cell.backward(dy, dict(cache, steps=[c for _, _, c in tr]))
    np.testing.assert_array_equal(dx, dx_full)
    for k in g:
        np.testing.assert_array_equal(g[k], g_full[k])
    if cell.config.output == "binary":
        assert set(np.unique(state.Y)) <= {0.0, 1.0}
    else:
        c = cell.step_config()
        V_pre = tr[0][2].V_prev if c.reset_timing == "next_step" else None
        if V_pre is not None:
            np.testing.assert_array_equal(state.Y, lif.quantize(
                V_pre, c.b, c.n_bits, c.threshold_levels, c.signed, c.spike_at_threshold,
                c.scale_margin)[0])


def test_float32_with_new_options():
    for name, cfg in (("lif", dict(recurrent=True, norm="batch", reset_timing="same_step")),
                      ("lif", dict(output="multibit", range_estimator="authors", norm="batch")),
                      ("gated_lif", dict(gated_lif.PRESETS["ponghiran_authors_code"], variant="v2"))):
        cell = cells.make(name, N_IN, H, dtype=np.float32, **cfg)
        x = np.random.default_rng(0).standard_normal((4, B, N_IN)).astype(np.float32)
        y, cache = cell.forward(x)
        assert y.dtype == np.float32
        dx, g = cell.backward(np.ones_like(y), cache)
        assert dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.values())
        assert all(np.asarray(v).dtype == np.float32 for k, v in cell.buffers.items() if k.startswith("bn_"))
