"""Bistable Recurrent Cell (Vecoven et al. 2021, as quoted by De Geeter et al. §3.1)."""
import numpy as np
import pytest

from snn_from_scratch import cells, gradcheck as gc, proofs
from snn_from_scratch.cells import brc


@pytest.mark.parametrize("T", [1, 2, 7])
def test_proof(T):
    rng = np.random.default_rng([0, T])
    cell = cells.make("brc", 4, 5, seed=0)
    x = rng.standard_normal((T, 3, 4))
    st = cell.sample_state(3, rng)
    rep = gc.check_cell(cell, x, st, twin=None)
    assert rep.ok and rep.max_error <= 1e-7, rep.table()


@pytest.mark.parametrize("term", ["w_r", "z"])
def test_planted_bug_fails(monkeypatch, term):
    orig = brc.step_backward

    def bad(dy_t, dstate, cache_t, p, cfg):
        dP, dstate_prev, dp = orig(dy_t, dstate, cache_t, p, cfg)
        dh_prev = dstate_prev.h
        H = dh_prev.shape[1]
        if term == "w_r":   # drop the dp_r * w_r recurrence
            dh_prev = dh_prev - dP[:, H:2 * H] * p["w_r"]
        else:               # forget the direct carry dh * z
            dh_prev = dh_prev - (dstate.h + dy_t) * cache_t.z
        return dP, brc.State(dh_prev), dp

    rng = np.random.default_rng(0)
    cell = cells.make("brc", 4, 5)
    x, st = rng.standard_normal((7, 3, 4)), cell.sample_state(3, rng)
    assert gc.check_cell(cell, x, st, twin=None).ok      # control: the real backward passes
    monkeypatch.setattr(brc, "step_backward", bad)
    rep = gc.check_cell(cell, x, st, twin=None)
    assert not rep.ok


def test_proof_table():
    assert proofs.PROOFS["brc"] == [(None, {}, None)]


def test_steps_trace_and_sequence_agree():
    """The step pair looped by hand and ``cell.trace`` reproduce forward and backward."""
    cell = cells.make("brc", 3, 4, seed=2)
    rng = np.random.default_rng(2)
    x, st0 = rng.standard_normal((6, 2, 3)), cell.sample_state(2, rng)
    y, cache = cell.forward(x, st0)
    steps = cell.trace(x, st0)
    np.testing.assert_array_equal(np.stack([s[0] for s in steps]), y)
    dy = rng.standard_normal(y.shape)
    dx, g = cell.backward(dy, cache)
    p = cell.params
    dstate = brc.State(np.zeros((2, 4)))
    gw_z = np.zeros(4)
    dx_s = np.zeros_like(x)
    for t in reversed(range(6)):
        dP, dstate, dp = brc.step_backward(dy[t], dstate, steps[t][2], p, cell.config)
        assert dp == {}
        gw_z += (dP[:, :4] * steps[t][2].h_prev).sum(0)
        dx_s[t] = dP @ p["U_x"].T
    np.testing.assert_allclose(dx_s, dx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gw_z, g["w_z"], rtol=1e-12, atol=1e-14)


def test_shapes_r_range_and_dtype():
    cell = cells.make("brc", 3, 6, dtype=np.float32)
    assert {k: v.shape for k, v in cell.params.items()} == {"U_x": (3, 18), "w_z": (6,), "w_r": (6,), "b": (18,)}
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    y, c = cell.forward(x)
    assert y.dtype == np.float32 and y.shape == (5, 2, 6)
    r = np.stack([cache_t.r for _, _, cache_t in cell.trace(x)])
    assert r.dtype == np.float32 and np.all((r > 0) & (r < 2))
    dx, g = cell.backward(np.ones_like(y), c)
    assert dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.values())


def test_bistability():
    """r = 1 + tanh(b_r) near 2 (bistable): two initial states stay on two branches with
    no input; r near 0 (monostable) forgets the initial state."""
    for b_r, bistable in ((3.0, True), (-3.0, False)):
        cell = cells.make("brc", 1, 1)
        cell.params["U_x"][:] = 0.0
        cell.params["w_z"][:] = 0.0   # z = 0.5
        cell.params["w_r"][:] = 0.0
        cell.params["b"][1] = b_r
        x = np.zeros((200, 2, 1))
        y, _ = cell.forward(x, brc.State(np.array([[0.8], [-0.8]])))
        if bistable:
            assert y[-1, 0, 0] > 0.5 and y[-1, 1, 0] < -0.5
        else:
            assert abs(y[-1, 0, 0]) < 1e-3 and abs(y[-1, 1, 0]) < 1e-3
