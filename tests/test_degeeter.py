"""De Geeter et al. (2023) support: §4.1 encodings on known inputs, the §4.2 readout's
backward proven, the activity T(s) of Eq. 2, and the experiments' building blocks."""
import argparse

import numpy as np
import pytest

from snn_from_scratch import cells, encoding, gradcheck as gc
from snn_from_scratch.cells import src
from snn_from_scratch.experiments import degeeter
from snn_from_scratch.layers import LeakyReadout


# ---------------------------------------------------------------- §4.1 encodings
def test_rate_coding_gain_quarter():
    enc = degeeter.make_encoder("rate", 4000, dtype=np.float64)
    x = np.array([[1.0, 0.0, 0.5]])
    s = enc(x, np.random.default_rng(0))
    assert s.shape == (4000, 1, 3) and set(np.unique(s)) <= {0.0, 1.0}
    p = s.mean(0)[0]
    # binomial standard deviations: sqrt(p(1-p)/T) ~ 0.007 and 0.005
    assert abs(p[0] - 0.25) < 0.03 and p[1] == 0.0 and abs(p[2] - 0.125) < 0.02


def test_rate_coding_silent_prefix():
    s = encoding.rate(np.ones((2, 5)), 200, np.random.default_rng(1), gain=0.25, silent_prefix=20)
    assert s.shape == (220, 2, 5) and not s[:20].any() and s[20:].any()


def test_latency_coding_known_times():
    """tau 10, V_th 0.01, linear, normalized to T=200: t = 199 (1 - x); x below V_th removed."""
    enc = degeeter.make_encoder("latency", 200)
    x = np.array([[1.0, 0.5, 0.25, 0.0, 0.005, 0.02]])
    s = enc(x, None)
    assert s.shape == (200, 1, 6) and s.sum(0).max() <= 1
    times = [int(np.flatnonzero(s[:, 0, j])[0]) if s[:, 0, j].any() else None for j in range(6)]
    assert times[0] == 0                      # brightest first
    assert times[1] == 100                    # rint(99.5) = 100 (half to even)
    assert times[2] == int(np.rint(199 * 0.75))
    assert times[3] is None and times[4] is None  # below threshold: the last-step spikes removed
    assert times[5] == int(np.rint(199 * 0.98))


def test_encoder_rejects_unknown():
    with pytest.raises(ValueError, match="coding"):
        degeeter.make_encoder("phase", 10)


# ---------------------------------------------------------------- §4.2 readout proof
def _readout_check(ro, T=7, B=3, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((T, B, ro.n_in))
    do = rng.standard_normal((B, ro.n_out))
    o, cache = ro.forward(s)
    ds, g = ro.backward(do, cache)
    assert g == {} and ro.params == {}
    return gc.check_function(lambda: float(np.sum(do * ro.forward(s)[0])), {"s": s}, {"s": ds},
                             title="LeakyReadout")


@pytest.mark.parametrize("T", [1, 2, 7])
def test_leaky_readout_proof(T):
    ro = LeakyReadout(20, 2, alpha=0.99, dtype=np.float64)
    rep = _readout_check(ro, T=T)
    assert rep.ok and rep.max_error <= 1e-7, rep.table()


def test_leaky_readout_weights_and_planted_bug(monkeypatch):
    ro = LeakyReadout(100, 10, dtype=np.float64)
    W = ro.W_ro
    assert W.shape == (100, 10) and np.all(W[:10, 0] == 1.0) and np.all(W[10:, 0] == -0.1)
    assert np.all((W == 1.0).sum(0) == 10)
    # o[T] of a single spike at step t is 0.99^(T-1-t) W_ro[j]
    s = np.zeros((5, 1, 100)); s[1, 0, 3] = 1.0
    o, _ = ro.forward(s)
    np.testing.assert_allclose(o[0], 0.99 ** 3 * W[3])
    # a wrong decay exponent in backward (one step off) must fail the proof
    monkeypatch.setattr(LeakyReadout, "_decay",
                        lambda self, T: (self.alpha ** np.arange(T, 0, -1, dtype=float)).astype(self.dtype))
    assert not _readout_check(LeakyReadout(20, 2, dtype=np.float64)).ok


# ---------------------------------------------------------------- Eq. 2 activity
def test_activity_counts_spiking_steps_not_spikes():
    s = np.zeros((10, 2, 2))
    s[2:5, 0, 0] = [0.3, 1.0, 0.1]       # one SRC spike over 3 steps: T(s) = 0.3
    s[[1, 4, 8], 1, 1] = 1.0             # three binary LIF spikes: T(s) = 0.3 too
    np.testing.assert_allclose(src.activity(s), [[0.3, 0.0], [0.0, 0.3]])


def test_activity_of_lif_is_spike_rate():
    lif = cells.make("lif", 5, 4, **degeeter.lif_module.PRESETS["snntorch_leaky"])
    x = (np.random.default_rng(0).random((50, 3, 5)) < 0.5).astype(np.float64) * 3
    y, _ = lif.forward(x)
    np.testing.assert_allclose(src.activity(y), y.sum(0) / 50)


# ---------------------------------------------------------------- experiments
def test_build_networks():
    net = degeeter.build("src", 3, 16, coding="latency")
    assert [c.n_hidden for c in net.layers] == [16, 16, 100] and net.layers[0].n_in == 784
    assert all(c.config.alpha == 0.99 for c in net.layers)
    lif = degeeter.build("lif", 2, 8)
    assert lif.layers[0].config.reset == "zero" and lif.layers[0].config.learn_alpha
    assert net.dtype == np.float32
    with pytest.raises(ValueError, match="neuron"):
        degeeter.build("lstm", 2, 8)


def test_spike_generation_experiment(tmp_path):
    args = argparse.Namespace(fast=True, seed=0, out=str(tmp_path), data_dir=None)
    res = degeeter.spike_generation(args)
    rows = {r["b_h"]: r for r in res["biases"]}
    assert rows[-6.0]["spikes_at_rest"] == 0 and rows[-6.0]["spikes"] > 0   # Figure 1a
    assert rows[-1.5]["spikes_at_rest"] > 0                                  # Figure 1b
    assert rows[-1.5]["activity"] > rows[-6.0]["activity"]
    var, fixed = res["z_s"]
    assert fixed["mean_duration"] > var["mean_duration"]                     # Figure 6
    assert all((tmp_path / f).exists() for f in ("degeeter_spikes_fig1.png", "degeeter_spikes_fig6.png"))


def test_step_time_runs():
    assert degeeter.step_time(n_layers=2, B=4, T=5, H=8, repeats=1) > 0


def test_shallow_part_of_the_table_has_headline_and_paper(tmp_path):
    """``shallow(args, layers=, kinds=)`` runs a part of Table 1; its headline numbers (what
    ``reproduce --seeds`` averages) carry the paper's value beside ours."""
    args = argparse.Namespace(fast=True, seed=0, out=str(tmp_path), data_dir=None)
    res = degeeter.shallow(args, layers=(1,), kinds=("mnist",))
    assert {(r["coding"], r["layers"], r["neuron"]) for r in res["rows"]} == \
        {(c, 1, n) for c in ("rate", "latency") for n in ("src", "lif")}
    key = "mnist latency 1 layer(s) lif acc %"
    assert 0 <= res["headline"][key] <= 100
    assert res["headline_paper"][key] == degeeter.PAPER["table1_mnist"][1]["lif"][1]
    assert "mnist rate 1 layer(s) src T(s)" in res["headline"]


def test_one_seed_per_run_seeds_come_from_the_runner():
    """The error bars come from ``reproduce --seeds N`` (experiments.seeds): a run is one seed."""
    assert degeeter.SCALES["full"]["seeds"] == degeeter.SCALES["fast"]["seeds"] == 1
