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
    st = proofs.random_state(cell, 3, rng)
    rep = gc.check_cell(cell, x, st, twin=None)
    assert rep.ok and rep.max_error <= 1e-7, rep.table()


@pytest.mark.parametrize("term", ["w_r", "z"])
def test_planted_bug_fails(monkeypatch, term):
    orig = brc.step_backward

    def bad(dh, cache_t, w_z, w_r):
        da, dh_prev = orig(dh, cache_t, w_z, w_r)
        h_prev, z, r, n = cache_t
        H = h_prev.shape[1]
        if term == "w_r":   # drop the dp_r * w_r recurrence
            dh_prev = dh_prev - da[:, H:2 * H] * w_r
        else:               # forget the direct carry dh * z
            dh_prev = dh_prev - dh * z
        return da, dh_prev

    monkeypatch.setattr(brc, "step_backward", bad)
    rng = np.random.default_rng(0)
    cell = cells.make("brc", 4, 5)
    rep = gc.check_cell(cell, rng.standard_normal((7, 3, 4)), proofs.random_state(cell, 3, rng), twin=None)
    assert not rep.ok


def test_shapes_r_range_and_dtype():
    cell = cells.make("brc", 3, 6, dtype=np.float32)
    assert {k: v.shape for k, v in cell.params.items()} == {"U_x": (3, 18), "w_z": (6,), "w_r": (6,), "b": (18,)}
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    y, c = cell.forward(x)
    assert y.dtype == np.float32 and y.shape == (5, 2, 6)
    assert np.all((c["r"] > 0) & (c["r"] < 2))
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
