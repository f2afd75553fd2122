"""Spiking Recurrent Cell (De Geeter et al. 2023, Eq. 3): proofs, planted bugs, protocol."""
import dataclasses

import numpy as np
import pytest

from snn_from_scratch import cells, gradcheck as gc, proofs
from snn_from_scratch.cells import src

MODES = {
    "exact": dict(bypass_relu=False, detach_recurrent=False),
    "bypass": dict(bypass_relu=True, detach_recurrent=False),
    "detach": dict(bypass_relu=False, detach_recurrent=True),
    "both": dict(bypass_relu=True, detach_recurrent=True),
}


def setup(T, cfg, seed=0):
    """The data of ``proofs.prove`` (the registry harness): 0/1 spikes, B=3, random state."""
    rng = np.random.default_rng([seed, T])
    cell = cells.make("src", 4, 5, seed=seed, **cfg)
    cell.training = False
    rng.standard_normal((T, 3, 4))  # the harness draws a Gaussian input first
    x = (rng.random((T, 3, 4)) < 0.5).astype(np.float64)
    state = cell.sample_state(3, rng)
    return cell, x, state


def check(T, cfg, **kw):
    cell, x, state = setup(T, cfg)
    return gc.check_cell(cell, x, state, twin="frozen", **kw)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("T", [1, 2, 7])
def test_proof_active_regime(mode, T):
    """Registry constants (the paper's, b_h=-2: neurons active): every switch setting <= 1e-7."""
    rep = check(T, dict(proofs.SRC_PROOF_CONSTANTS, **MODES[mode]))
    assert rep.ok, rep.table()
    assert rep.max_error <= 1e-7 and rep.flips == 0


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_proof_other_draws(mode, seed):
    """Other parameters, inputs and states (T = 7): still <= 1e-7."""
    rng = np.random.default_rng([seed, 99])
    cell = cells.make("src", 4, 5, seed=seed, **dict(proofs.SRC_PROOF_CONSTANTS, **MODES[mode]))
    x = (rng.random((7, 3, 4)) < 0.5).astype(np.float64)
    rep = gc.check_cell(cell, x, cell.sample_state(3, rng), twin="frozen", seed=seed)
    assert rep.ok, rep.table()


@pytest.mark.parametrize("mode", ["exact", "detach"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_proof_initial_bias(mode, T):
    """The initial bias b_h = -6 (all paper constants): exact and detached rules <= 1e-7."""
    rep = check(T, MODES[mode])
    assert rep.ok, rep.table()


@pytest.mark.parametrize("mode", ["bypass", "both"])
def test_proof_initial_bias_bypass(mode):
    """Bypass at b_h = -6: every neuron saturated (1-h^2 ~ 1e-5), the gradients are tiny
    and central differences only resolve them to their round-off floor (~1e-10 absolute):
    1e-4 relative there (see proofs.SRC_PROOF_CONSTANTS)."""
    for T in (1, 2, 7):
        rep = check(T, MODES[mode], tol=1e-4)
        assert rep.ok, rep.table()
        assert max(r.abs_error for r in rep.rows) < 1e-8


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("T", [1, 2, 7])
def test_proof_generic_constants(mode, T):
    """The generic point proofs.SRC_GENERIC — every constant of Eq. 3 off the paper's
    value, z_dep != 0 among them — under every switch setting: <= 1e-7, no flips."""
    rep = check(T, dict(proofs.SRC_GENERIC, **MODES[mode]))
    assert rep.ok, rep.table()
    assert rep.max_error <= 1e-7 and rep.flips == 0


def test_generic_point_moves_every_constant_and_uses_z_dep():
    defaults = src.Config()
    for k in ("alpha", "rho", "r", "r_s", "z_hyp", "z_dep", "b_h_init"):
        assert proofs.SRC_GENERIC[k] != getattr(defaults, k), k
    # the proofs' trajectories really visit the depolarized gate (h[t-1] > 0.5, z_s = z_dep)
    cell, x, state = setup(7, dict(proofs.SRC_GENERIC, detach_recurrent=False))
    z_s = np.stack([c.z_s for _, _, c in cell.trace(x, state)])
    assert np.any(z_s == proofs.SRC_GENERIC["z_dep"]) and np.any(z_s == proofs.SRC_GENERIC["z_hyp"])
    table = proofs.proofs_of("src")
    generic = {(c.get("bypass_relu", True), c.get("detach_recurrent", True)) for c, _ in table.values()
               if c.get("z_dep") == proofs.SRC_GENERIC["z_dep"]}
    assert generic == {(False, False), (True, False), (False, True), (True, True)}


def test_registry_proofs_cover_all_switches():
    table = proofs.proofs_of("src")
    labels = {(c.get("bypass_relu", True), c.get("detach_recurrent", True)) for c, _ in table.values()}
    assert labels == {(False, False), (True, False), (False, True), (True, True)}
    for label, (cfg, twin) in table.items():
        assert proofs.prove("src", cfg, twin, label=label).ok
    assert "src" in proofs.SPIKE_INPUT


# ------------------------------------------------------------------ planted bugs fail
def _patched(monkeypatch, fn):
    orig = src.step_backward
    monkeypatch.setattr(src, "step_backward", lambda dy_t, dstate, cache_t, p, cfg:
                        fn(orig, dy_t, dstate, cache_t, p, cfg))


def bug_no_tanh_b(orig, dy_t, dstate, cache_t, p, cfg):
    """Drop the factor 1-(x/rho)^2 of Eq. 3b (pretend x = i)."""
    return orig(dy_t, dstate, cache_t._replace(x=np.zeros_like(cache_t.x)), p, cfg)


def bug_relu_in_bypass(orig, dy_t, dstate, cache_t, p, cfg):
    """Use H(h) although the bypass is on."""
    return orig(dy_t * (cache_t.h > 0), dstate, cache_t, p, cfg)


def bug_flow_through_h(orig, dy_t, dstate, cache_t, p, cfg):
    """Ignore detach_recurrent: send r du and r_s du back to h[t-1] and h_s[t-1]."""
    da, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
    du = dp["b_h"]
    return da, dstate_prev._replace(h=cfg.r * du, h_s=cfg.r_s * du), dp


def bug_hs_carry(orig, dy_t, dstate, cache_t, p, cfg):
    """Lose half the z_s * dh_s term of dh_s[t-1] (scale the carry of h_s)."""
    da, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
    if not cfg.detach_recurrent:
        dstate_prev = dstate_prev._replace(h_s=dstate_prev.h_s - 0.5 * cache_t.z_s * dstate.h_s)
    return da, dstate_prev, dp


def bug_alpha(orig, dy_t, dstate, cache_t, p, cfg):
    """Carry i back with alpha^2 instead of alpha."""
    da, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
    return da, dstate_prev._replace(i=dstate_prev.i * cfg.alpha), dp


def bug_bias(orig, dy_t, dstate, cache_t, p, cfg):
    """Report b_h's gradient from the integrator's side (di) instead of du."""
    da, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
    return da, dstate_prev, {"b_h": da}


@pytest.mark.parametrize("bug,modes", [
    (bug_no_tanh_b, ["exact", "bypass", "detach", "both"]),
    (bug_relu_in_bypass, ["bypass", "both"]),
    (bug_flow_through_h, ["detach", "both"]),
    (bug_hs_carry, ["exact", "bypass"]),
    (bug_alpha, ["exact", "bypass", "detach", "both"]),
    (bug_bias, ["exact", "both"]),
])
def test_planted_bugs_fail(monkeypatch, bug, modes):
    _patched(monkeypatch, bug)
    for mode in modes:
        rep = check(7, dict(proofs.SRC_PROOF_CONSTANTS, **MODES[mode]))
        assert not rep.ok, f"{bug.__name__} was not caught in mode {mode}"


def _hard_coded(name):
    """A backward that uses the paper's value of constant ``name`` instead of the config's
    (the forward uses the config's). z_dep / z_hyp reach the backward through the cached
    gate z_s: the bug rebuilds z_s with the paper's value (z_dep = 0: the term
    (1 - z_s) dh_s keeps all of dh_s and z_s dh_s drops, during a spike)."""
    paper = getattr(src.Config(), name)

    def bug(orig, dy_t, dstate, cache_t, p, cfg):
        if name in ("z_dep", "z_hyp"):
            if cache_t.z_s is not None:
                dep = cache_t.z_s == cfg.z_dep
                z_s = np.where(dep, paper if name == "z_dep" else cfg.z_dep,
                               cfg.z_hyp if name == "z_dep" else paper)
                cache_t = cache_t._replace(z_s=z_s)
            return orig(dy_t, dstate, cache_t, p, cfg)
        return orig(dy_t, dstate, cache_t, p, dataclasses.replace(cfg, **{name: paper}))
    bug.__name__ = f"hard_coded_{name}"
    return bug


@pytest.mark.parametrize("name,modes", [
    ("alpha", ["exact", "bypass", "detach", "both"]),
    ("rho", ["exact", "bypass", "detach", "both"]),
    ("r", ["exact", "bypass"]),
    ("r_s", ["exact", "bypass"]),
    ("z_dep", ["exact", "bypass"]),
    ("z_hyp", ["exact", "bypass"]),
])
def test_hard_coded_paper_constant_fails_at_the_generic_point(monkeypatch, name, modes):
    """A backward that hard-codes one of the paper's constants passes every proof at the
    paper's constants (which is why the generic point exists) and fails at SRC_GENERIC."""
    _patched(monkeypatch, _hard_coded(name))
    for mode in modes:
        assert check(7, dict(proofs.SRC_PROOF_CONSTANTS, **MODES[mode])).ok   # invisible here
        rep = check(7, dict(proofs.SRC_GENERIC, **MODES[mode]))
        assert not rep.ok, f"hard-coded {name} was not caught in mode {mode}"
        assert rep.max_error > 1e-4, rep.table()


def test_flips_are_reported():
    """A perturbation large enough to move h[t-1] across 0.5 flips z_s: reported."""
    rep = check(7, dict(proofs.SRC_PROOF_CONSTANTS, **MODES["exact"]), h=0.3, tol=1.0)
    assert rep.flips > 0


# ------------------------------------------------------------------ semantics
def test_bypass_passes_gradient_between_spikes():
    cell = cells.make("src", 3, 4, b_h_init=-6.0)
    x = np.zeros((5, 2, 3))
    y, cache = cell.forward(x)
    assert np.all(y == 0)  # silent at rest (b_h = -6)
    _, g_on = cell.backward(np.ones_like(y), cache)
    off = cells.make("src", 3, 4, b_h_init=-6.0, bypass_relu=False)
    y2, c2 = off.forward(x)
    _, g_off = off.backward(np.ones_like(y2), c2)
    assert np.all(g_off["b_h"] == 0) and np.all(g_on["b_h"] != 0)


def test_detach_with_alpha_zero_has_no_memory():
    """With detach and alpha = 0 nothing carries gradient in time: dx[t] only sees dy[t]."""
    cell = cells.make("src", 3, 4, alpha=0.0, b_h_init=-1.0, b_h_max=None)
    rng = np.random.default_rng(1)
    x = (rng.random((6, 2, 3)) < 0.5).astype(float)
    y, cache = cell.forward(x)
    dy = np.zeros_like(y)
    dy[3] = 1.0
    dx, _ = cell.backward(dy, cache)
    assert np.all(dx[:3] == 0) and np.all(dx[4:] == 0) and np.any(dx[3] != 0)


def test_sequence_equals_steps_and_state_continues():
    cell = cells.make("src", 3, 4, b_h_init=-2.0, b_h_max=None)
    rng = np.random.default_rng(2)
    x = (rng.random((8, 2, 3)) < 0.6).astype(float)
    y, cache = cell.forward(x)
    st = cell.init_state(2)
    for t in range(8):
        s, st, _ = src.step_forward(x[t] @ cell.params["W"], st, cell.params, cell.config)
        np.testing.assert_array_equal(s, y[t])
    for a, b in zip(st, cache["final_state"]):
        np.testing.assert_array_equal(a, b)
    y1, c1 = cell.forward(x[:3])
    y2, _ = cell.forward(x[3:], c1["final_state"])
    np.testing.assert_allclose(np.concatenate([y1, y2]), y, atol=0)


def test_init_project_dtype():
    cell = cells.make("src", 784, 512, seed=0, dtype=np.float32)
    lim = np.sqrt(6 / (784 + 512))
    assert cell.params["W"].shape == (784, 512) and np.abs(cell.params["W"]).max() <= lim
    assert abs(cell.params["W"].std() - lim / np.sqrt(3)) < 0.01 * lim  # Xavier uniform
    assert np.all(cell.params["b_h"] == -6.0)
    cell.params["b_h"][:] = np.linspace(-8, 0, 512)
    ref = cell.params["b_h"]
    cell.project()
    assert cell.params["b_h"] is ref and cell.params["b_h"].max() == -4.0
    assert cell.params["b_h"].min() == -8.0 and cell.params["b_h"].dtype == np.float32
    x = (np.random.default_rng(0).random((4, 2, 784)) < 0.1).astype(np.float32)
    y, cache = cell.forward(x)
    dx, g = cell.backward(np.ones_like(y), cache)
    assert y.dtype == dx.dtype == g["W"].dtype == g["b_h"].dtype == np.float32
    assert all(v.dtype == np.float32 for v in cache["final_state"])


def test_backward_does_not_mutate_params():
    cell, x, st = setup(3, {})
    before = {k: v.copy() for k, v in cell.params.items()}
    y, c = cell.forward(x, st)
    cell.backward(np.ones_like(y), c)
    for k in before:
        np.testing.assert_array_equal(before[k], cell.params[k])


@pytest.mark.parametrize("kw,exc", [
    (dict(alpha=1.5), ValueError), (dict(rho=0.0), ValueError), (dict(z_hyp=2.0), ValueError),
    (dict(b_h_init=-3.0), ValueError), (dict(bypass_relu="yes"), TypeError),
    (dict(r=float("nan")), ValueError), (dict(tau=1.0), ValueError), (dict(b_h_max="x"), ValueError),
])
def test_bad_config(kw, exc):
    with pytest.raises(exc) as e:
        cells.make("src", 2, 3, **kw)
    assert list(kw)[0] in str(e.value)


def test_activity_eq2():
    s = np.zeros((4, 1, 3))
    s[:, 0, 0] = [0.0, 0.2, 0.9, 0.0]   # one SRC spike spanning two steps -> 2/4
    s[:, 0, 1] = 1.0                     # always on -> 1
    a = src.activity(s)
    np.testing.assert_allclose(a, [[0.5, 1.0, 0.0]])
    with pytest.raises(ValueError):
        src.activity(np.zeros((0, 1, 1)))


def test_trace_feedbacks():
    cell = cells.make("src", 1, 1, alpha=0.0, b_h_init=-4.0)
    cell.params["W"][:] = 1.0
    x = np.zeros((60, 1, 1)); x[10:50] = 2.0
    tr = src.trace(cell, x)
    assert tr["s"].max() > 0.9                      # it spikes under stimulation
    assert set(np.unique(tr["z_s"])) == {0.0, 0.9}  # the switch is used
    np.testing.assert_allclose(tr["pos"][1:], 2.0 * tr["h"][:-1])
    np.testing.assert_allclose(tr["neg"][1:], -7.0 * tr["h_s"][:-1])
    assert src.activity(tr["s"]).item() > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_input_path_matches_dense(monkeypatch, dtype):
    """Sparse spike inputs use a CSR product (SPARSE_DENSITY); results match the dense one."""
    cell = cells.make("src", 200, 16, dtype=dtype, b_h_init=-2.0, b_h_max=None)
    x = (np.random.default_rng(3).random((30, 4, 200)) < 0.03).astype(dtype)
    assert not isinstance(src._input_matrix(x.reshape(-1, 200)), np.ndarray)  # sparse path
    y, c = cell.forward(x)
    dy = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
    dx, g = cell.backward(dy, c)
    monkeypatch.setattr(src, "SPARSE_DENSITY", 0.0)
    assert isinstance(src._input_matrix(x.reshape(-1, 200)), np.ndarray)
    y2, c2 = cell.forward(x)
    dx2, g2 = cell.backward(dy, c2)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(y, y2, atol=tol)
    np.testing.assert_allclose(dx, dx2, atol=tol)
    for k in g:
        assert g[k].dtype == dtype
        np.testing.assert_allclose(g[k], g2[k], atol=tol * 10, rtol=tol)


@pytest.mark.parametrize("mode", list(MODES))
def test_step_api_and_trace(mode):
    """The step pair: dstate is always a State of arrays (zeros under detach_recurrent),
    dp_t carries b_h's per-example part, reads() names what step_backward uses, and
    cell.trace reproduces forward."""
    cell, x, st0 = setup(5, dict(proofs.SRC_PROOF_CONSTANTS, **MODES[mode]))
    y, cache = cell.forward(x, st0)
    steps = cell.trace(x, st0)
    np.testing.assert_array_equal(np.stack([s for s, _, _ in steps]), y)
    assert type(steps[0][2]) is src.Cache
    need = src.reads(cell.params, cell.config)
    assert need == ({"x", "h"} if MODES[mode]["detach_recurrent"] else {"x", "z_s", "h"})
    dy = np.random.default_rng(5).standard_normal(y.shape)
    dx, g = cell.backward(dy, cache)
    zero = np.zeros((3, 5))
    dstate = src.State(zero, zero, zero)
    db = np.zeros(5)
    dA = np.empty((5, 3, 5))
    for t in reversed(range(5)):
        slim_t = steps[t][2]._replace(**{f: None for f in src.Cache._fields if f not in need})
        dA[t], dstate, dp = src.step_backward(dy[t], dstate, slim_t, cell.params, cell.config)
        assert isinstance(dstate, src.State) and all(isinstance(v, np.ndarray) for v in dstate)
        if MODES[mode]["detach_recurrent"]:
            assert not np.any(dstate.h) and not np.any(dstate.h_s)
        db += dp["b_h"].sum(0)
    np.testing.assert_array_equal(db, g["b_h"])
    np.testing.assert_array_equal((dA.reshape(15, 5) @ cell.params["W"].T).reshape(x.shape), dx)
