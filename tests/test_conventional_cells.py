"""Proofs of the conventional baselines rnn, lstm and gru (hand-written BPTT).

* float64 finite differences (``check_cell``, plain twin: the cells are smooth) at
  <= 1e-7 relative error for every parameter and the input, on T in {1, 2, 7},
  B in {1, 3}, from a zero and from a non-zero initial state;
* the module's ``step_forward`` / ``step_backward`` looped by hand reproduce the
  sequence functions (so the chapters can show one step and trust the loop), and
  ``cell.trace`` reproduces ``forward``;
* float32 stays float32 and the sigmoids do not overflow;
* planted bugs (a dropped recurrent carry, a dropped gate term) make the check FAIL:
  the checks above could fail;
* bad input raises a clear error naming the argument.
"""
from __future__ import annotations

import numpy as np
import pytest

from snn_from_scratch import cells, proofs
from snn_from_scratch.cells import gru as gru_mod
from snn_from_scratch.cells import lstm as lstm_mod
from snn_from_scratch.cells import rnn as rnn_mod
from snn_from_scratch.gradcheck import check_cell

CELLS = ("rnn", "lstm", "gru")
MODULES = {"rnn": rnn_mod, "lstm": lstm_mod, "gru": gru_mod}
N_IN, H = 3, 4

#: Finite-difference settings of every proof here. Central differences in float64 with
#: h = 1e-5 carry an absolute error of about 1e-11..1e-10 per entry: round-off
#: eps*sum|dy*y|/h, which check_cell's noise floor already absorbs, and the truncation
#: error h^2 f'''/6 (f''' the third derivative), which it does not. Example (lstm,
#: T=1, B=3, random state): an entry of dW_x equal to -9.33e-5 (the tensor's largest is 0.58) is off by 3.4e-7, 3.4e-9
#: and 3.4e-11 at h = 1e-3, 1e-4, 1e-5 -- exactly h^2 scaling, so it is truncation, not
#: the backward; smaller h trades it for round-off. Such an entry cannot be resolved to
#: 1e-7 *relative* error. The floor of ``rel_error`` is therefore raised to 3e-3 of the
#: tensor's largest entry: entries below it are judged on absolute error
#: <= 1e-7 * 3e-3 * max|grad| ~ 3e-10 * max|grad|, all others on relative error <= 1e-7.
#: A planted bug gives errors of order 1e-2..1 (tests below), far above both.
FD = dict(tol=1e-7)  # check_cell picks the stencil: 4 points, h=1e-3 for smooth cells


def make(name, dtype=np.float64, seed=0):
    return cells.make(name, N_IN, H, seed=seed, dtype=dtype)


def inputs(name, T, B, nonzero_state, seed=0, dtype=np.float64):
    cell = make(name, dtype)
    rng = np.random.default_rng([seed, T, B])
    x = rng.standard_normal((T, B, N_IN)).astype(dtype)
    state = cell.sample_state(B, rng) if nonzero_state else None
    return cell, x, state


# --------------------------------------------------------------------------------------
# Finite-difference proofs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonzero_state", [False, True], ids=["zero_state", "random_state"])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize("name", CELLS)
def test_gradcheck(name, T, B, nonzero_state):
    cell, x, state = inputs(name, T, B, nonzero_state)
    rep = check_cell(cell, x, state, twin=None, **FD)
    assert rep.ok, rep.table()
    assert rep.max_error <= 1e-7
    assert {r.name for r in rep.rows} == set(cell.params) | {"x"}


@pytest.mark.parametrize("name", CELLS)
def test_proofs_table_declares_plain_twin(name):
    assert proofs.PROOFS[name] == [(None, {}, None)]


# --------------------------------------------------------------------------------------
# step functions == sequence functions
# --------------------------------------------------------------------------------------
def _steps_forward(mod, cell, x, state):
    """The forward written out with the module's step function (one call per step)."""
    p = cell.params
    ys, caches = [], []
    for t in range(x.shape[0]):
        y, state, c = mod.step_forward(x[t] @ p["W_x"], state, p, cell.config)
        assert type(c) is mod.Cache and isinstance(state, cell.State)
        ys.append(y)
        caches.append(c)
    return np.stack(ys), state, caches


def _steps_backward(name, mod, cell, x, dy, caches):
    """BPTT written out with the step functions only (per-step weight-gradient sums)."""
    p = cell.params
    T = x.shape[0]
    H = cell.n_hidden
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    dstate = cell.State(*(np.zeros_like(dy[0]) for _ in cell.State._fields))
    for t in reversed(range(T)):
        dax, dstate, dp = mod.step_backward(dy[t], dstate, caches[t], p, cell.config)
        assert dp == {} and isinstance(dstate, cell.State)
        dah = dax.copy()
        if name == "gru":                    # the recurrent side sees r * dax_n
            dah[:, 2 * H:] *= caches[t].r
        g["W_x"] += x[t].T @ dax
        g["W_h"] += caches[t].h_prev.T @ dah
        g["b"] += dax.sum(0)
        dx[t] = dax @ p["W_x"].T
    return dx, g


@pytest.mark.parametrize("name", CELLS)
def test_step_functions_match_sequence(name):
    mod = MODULES[name]
    cell, x, state = inputs(name, 5, 3, True, seed=1)
    y, cache = cell.forward(x, state)
    y_steps, final, caches = _steps_forward(mod, cell, x, state)
    np.testing.assert_allclose(y_steps, y, rtol=0, atol=1e-14)
    for a, b in zip(final, cache["final_state"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    assert isinstance(cache["final_state"], cell.State)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    dx, grads = cell.backward(dy, cache)
    dx_s, g_s = _steps_backward(name, mod, cell, x, dy, caches)
    np.testing.assert_allclose(dx_s, dx, rtol=1e-12, atol=1e-13)
    for k in cell.params:
        assert grads[k].shape == cell.params[k].shape
        np.testing.assert_allclose(g_s[k], grads[k], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", CELLS)
def test_trace_and_step_functions(name):
    """``cell.trace`` runs the module's steps with full caches: its outputs are forward's,
    and ``step_functions``/``inputs`` are the module's."""
    mod = MODULES[name]
    cell, x, state = inputs(name, 5, 3, True, seed=4)
    assert cell.step_functions() == (mod.step_forward, mod.step_backward, mod.reads)
    np.testing.assert_array_equal(cell.inputs(x)[2], x[2] @ cell.params["W_x"])
    y, cache = cell.forward(x, state)
    steps = cell.trace(x, state)
    np.testing.assert_array_equal(np.stack([y_t for y_t, _, _ in steps]), y)
    for a, b in zip(steps[-1][1], cache["final_state"]):
        np.testing.assert_array_equal(a, b)
    assert all(v is not None for v in steps[0][2])            # full caches
    assert mod.reads(cell.params, cell.config) <= set(mod.Cache._fields)


@pytest.mark.parametrize("name", CELLS)
def test_split_sequence_continues_from_final_state(name):
    """Running [0:3) then [3:7) from the final state equals running [0:7) at once."""
    cell, x, state = inputs(name, 7, 2, True, seed=3)
    y, cache = cell.forward(x, state)
    y1, c1 = cell.forward(x[:3], state)
    y2, c2 = cell.forward(x[3:], c1["final_state"])
    np.testing.assert_allclose(np.concatenate([y1, y2]), y, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", CELLS)
def test_backward_does_not_mutate_params(name):
    cell, x, state = inputs(name, 4, 2, True)
    before = {k: v.copy() for k, v in cell.params.items()}
    y, cache = cell.forward(x, state)
    cell.backward(np.ones_like(y), cache)
    for k in before:
        np.testing.assert_array_equal(before[k], cell.params[k])


def test_lstm_gate_layout_f_i_g_o():
    """The f block of b (first H entries) is the forget gate: a large f-bias keeps c."""
    cell = make("lstm")
    for k in cell.params:
        cell.params[k][...] = 0.0
    cell.params["b"][:H] = 50.0      # f = 1
    cell.params["b"][H:2 * H] = -50.0  # i = 0: nothing written
    c0 = np.full((2, H), 0.3)
    _, cache = cell.forward(np.zeros((4, 2, N_IN)), cell.State(np.zeros((2, H)), c0))
    np.testing.assert_allclose(cache["final_state"].c, c0, atol=1e-12)


def test_gru_candidate_uses_r_gated_hidden_product_and_outer_bias():
    """n = tanh(x W_xn + r * (h_prev W_hn) + b_n): checked against the formula directly."""
    cell = make("gru", seed=4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, N_IN))
    h0 = rng.standard_normal((2, H))
    y, _ = cell.forward(x, cell.State(h0))
    W_x, W_h, b = cell.params["W_x"], cell.params["W_h"], cell.params["b"]
    s = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    z = s(x[0] @ W_x[:, :H] + h0 @ W_h[:, :H] + b[:H])
    r = s(x[0] @ W_x[:, H:2 * H] + h0 @ W_h[:, H:2 * H] + b[H:2 * H])
    n = np.tanh(x[0] @ W_x[:, 2 * H:] + r * (h0 @ W_h[:, 2 * H:]) + b[2 * H:])
    np.testing.assert_allclose(y[0], z * h0 + (1 - z) * n, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", CELLS)
def test_init_is_uniform_pm_one_over_sqrt_H(name):
    cell = cells.make(name, 5, 16, seed=0)
    k = 1.0 / np.sqrt(16)
    for v in cell.params.values():
        assert np.all(np.abs(v) <= k) and np.max(np.abs(v)) > 0.8 * k
    blocks = {"rnn": 1, "lstm": 4, "gru": 3}[name]
    assert cell.params["W_x"].shape == (5, blocks * 16)
    assert cell.params["W_h"].shape == (16, blocks * 16)
    assert cell.params["b"].shape == (blocks * 16,)
    other = cells.make(name, 5, 16, seed=0)
    for k2 in cell.params:  # same seed, same parameters
        np.testing.assert_array_equal(cell.params[k2], other.params[k2])


# --------------------------------------------------------------------------------------
# float32
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_float32_stays_float32_and_does_not_overflow(name):
    cell, x, state = inputs(name, 6, 3, True, dtype=np.float32)
    x = (x * 1e3).astype(np.float32)  # saturating pre-activations: exp must not overflow
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        y, cache = cell.forward(x, state)
        dx, grads = cell.backward(np.ones_like(y), cache)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert all(v.dtype == np.float32 for v in cache["final_state"])
    assert all(g.dtype == np.float32 for g in grads.values())
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    # float32 agrees with float64 on ordinary inputs
    c64, x64, s64 = inputs(name, 6, 3, True)
    c32, x32, s32 = inputs(name, 6, 3, True, dtype=np.float32)
    np.testing.assert_allclose(c32.forward(x32, s32)[0], c64.forward(x64, s64)[0], atol=1e-5)


# --------------------------------------------------------------------------------------
# Planted bugs: the proofs must be able to fail
# --------------------------------------------------------------------------------------
def _zeros_state(state):
    return type(state)(*(np.zeros_like(v) for v in state))


def _rnn_no_carry(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        da, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        return da, _zeros_state(dstate_prev), dp
    return broken


def _rnn_no_tanh_derivative(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        dh = dstate.h + dy_t
        return dh, rnn_mod.State(dh @ p["W_h"].T), {}  # forgot the factor (1 - h^2)
    return broken


def _lstm_no_h_carry(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        du, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        return du, dstate_prev._replace(h=np.zeros_like(dstate_prev.h)), dp
    return broken


def _lstm_no_c_carry(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        du, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        return du, dstate_prev._replace(c=np.zeros_like(dstate_prev.c)), dp
    return broken


def _lstm_no_forget_gate_term(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        du, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        H = dy_t.shape[1]
        # the forget gate's pre-activation gradient dropped (also from what h[t-1] receives)
        dh_prev = dstate_prev.h - du[:, :H] @ p["W_h"][:, :H].T
        du = du.copy()
        du[:, :H] = 0.0
        return du, dstate_prev._replace(h=dh_prev), dp
    return broken


def _gru_no_carry(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        dax, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        return dax, _zeros_state(dstate_prev), dp
    return broken


def _gru_no_r_in_hidden_product(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        dax, _, dp = orig(dy_t, dstate, cache_t, p, cfg)
        # as if ah_n were not multiplied by r: dah = dax instead of [dax_z, dax_r, r * dax_n]
        dh_prev = (dstate.h + dy_t) * cache_t.z + dax @ p["W_h"].T
        return dax, gru_mod.State(dh_prev), dp
    return broken


def _gru_no_update_gate_term(orig):
    def broken(dy_t, dstate, cache_t, p, cfg):
        dax, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        H = dy_t.shape[1]
        dh_prev = dstate_prev.h - dax[:, :H] @ p["W_h"][:, :H].T
        dax = dax.copy()
        dax[:, :H] = 0.0
        return dax, gru_mod.State(dh_prev), dp
    return broken


PLANTED = [
    ("rnn", "no_recurrent_carry", _rnn_no_carry),
    ("rnn", "no_tanh_derivative", _rnn_no_tanh_derivative),
    ("lstm", "no_h_carry", _lstm_no_h_carry),
    ("lstm", "no_c_carry", _lstm_no_c_carry),
    ("lstm", "no_forget_gate_term", _lstm_no_forget_gate_term),
    ("gru", "no_recurrent_carry", _gru_no_carry),
    ("gru", "no_r_in_hidden_product", _gru_no_r_in_hidden_product),
    ("gru", "no_update_gate_term", _gru_no_update_gate_term),
]


@pytest.mark.parametrize("name,bug,breaker", PLANTED, ids=[f"{n}-{b}" for n, b, _ in PLANTED])
def test_planted_bug_is_caught(monkeypatch, name, bug, breaker):
    mod = MODULES[name]
    cell, x, state = inputs(name, 4, 3, True, seed=7)
    assert check_cell(cell, x, state, twin=None, **FD).ok  # control: the real backward passes
    monkeypatch.setattr(mod, "step_backward", breaker(mod.step_backward))
    rep = check_cell(cell, x, state, twin=None, **FD)
    assert not rep.ok, f"planted bug {bug} not caught:\n{rep.table()}"
    assert rep.max_error > 1e-3


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_bad_input(name):
    cell = make(name)
    x = np.zeros((3, 2, N_IN))
    with pytest.raises(ValueError, match=r"x has shape"):
        cell.forward(np.zeros((3, 2, N_IN + 1)))
    with pytest.raises(ValueError, match=r"x must have 3 dimensions|x has shape"):
        cell.forward(np.zeros((2, N_IN)))
    with pytest.raises(TypeError, match=r"x has dtype float32"):
        cell.forward(x.astype(np.float32))
    with pytest.raises(TypeError, match=r"x must be a numpy array"):
        cell.forward(x.tolist())
    bad = x.copy()
    bad[1, 0, 2] = np.nan
    with pytest.raises(ValueError, match=r"x contains 1 NaN"):
        cell.forward(bad)
    wrong = cell.State(*(np.zeros((3, H)) for _ in cell.State._fields))  # B=3, x has B=2
    with pytest.raises(ValueError, match=r"state\.h has shape"):
        cell.forward(x, wrong)
    with pytest.raises(TypeError, match=r"state must be"):
        cell.forward(x, tuple(np.zeros((2, H)) for _ in range(len(cell.State._fields) + 1)))
    y, cache = cell.forward(x)
    with pytest.raises(ValueError, match=r"dy has shape"):
        cell.backward(np.zeros((3, 2, H + 1)), cache)
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['hidden_size'\]"):
        cells.make(name, N_IN, H, hidden_size=3)
    with pytest.raises(ValueError, match=r"n_hidden must be a positive integer"):
        cells.make(name, N_IN, 0)


def test_lstm_bad_cell_state_shape():
    cell = make("lstm")
    with pytest.raises(ValueError, match=r"state\.c has shape"):
        cell.forward(np.zeros((2, 2, N_IN)), cell.State(np.zeros((2, H)), np.zeros((2, H + 1))))


def test_unknown_cell_name():
    with pytest.raises(ValueError, match=r"unknown cell 'lstmm'"):
        cells.make("lstmm", N_IN, H)
