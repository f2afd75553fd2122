"""The proof harness itself: the proof table ``proofs.PROOFS``, and twin/no-twin agreement.

A frozen twin's *recording* pass must follow the real network exactly: same outputs, and a
backward pass that is bit-for-bit the one a user gets without any twin. Otherwise the
proofs would prove a code path that training does not run (e.g. a cell that caches spike
values only under a twin and recomputes them otherwise).
"""
import numpy as np
import pytest

from snn_from_scratch import cells, proofs
from snn_from_scratch.gradcheck import Twin

CASES = [(name, label) for name in cells.available() for label in proofs.proofs_of(name)]


@pytest.mark.parametrize("name,label", CASES)
def test_frozen_recording_equals_plain_pass(name, label):
    config, _ = proofs.proofs_of(name)[label]
    rng = np.random.default_rng(3)
    cell = cells.make(name, 4, 5, seed=1, dtype=np.float64, **config)
    cell.training = False
    x = rng.standard_normal((6, 3, 4))
    if name in proofs.SPIKE_INPUT:
        x = (rng.random((6, 3, 4)) < 0.5).astype(np.float64)
    state = cell.sample_state(3, rng)
    y0, c0 = cell.forward(x, state)
    y1, c1 = cell.forward(x, state, ops=Twin("frozen"))
    np.testing.assert_array_equal(y0, y1)
    dy = rng.standard_normal(y0.shape)
    dx0, g0 = cell.backward(dy, c0)
    dx1, g1 = cell.backward(dy, c1)
    np.testing.assert_array_equal(dx0, dx1)
    assert g0.keys() == g1.keys() == cell.params.keys()
    for k in g0:
        np.testing.assert_array_equal(g0[k], g1[k], err_msg=k)


def test_every_registered_cell_is_available_and_has_proofs():
    """Every registered cell has an explicit entry in the proof table (no default), and
    the table names no cell that does not exist."""
    assert cells.available() == list(cells.REGISTRY)
    assert set(proofs.PROOFS) == set(cells.REGISTRY)
    for name in cells.REGISTRY:
        assert proofs.PROOFS[name], name
        assert len(proofs.proofs_of(name)) == len(proofs.PROOFS[name]), f"{name}: duplicate labels"
    assert proofs.SPIKE_INPUT <= set(cells.REGISTRY)
    with pytest.raises(ValueError, match="no proofs"):
        proofs.proofs_of("lstmm")


def test_proof_fails_on_planted_bug(monkeypatch):
    """The harness's verdict can fail: scale one parameter gradient of the rnn cell."""
    from snn_from_scratch.cells import rnn

    orig = rnn.RNN._backward

    def bad(self, dy, cache):
        dx, g = orig(self, dy, cache)
        g["b"] = 1.001 * g["b"]
        return dx, g

    assert proofs.prove("rnn", {}, None).ok           # control: the real backward passes
    monkeypatch.setattr(rnn.RNN, "_backward", bad)
    res = proofs.prove("rnn", {}, None)
    assert not res.ok
