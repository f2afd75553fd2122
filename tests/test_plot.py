"""The plotting helpers draw what they say (checked on the Axes' artists) and save files."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from snn_from_scratch import plot, surrogates  # noqa: E402


def test_spike_raster_draws_one_mark_per_event(tmp_path):
    s = np.zeros((10, 4))
    s[[1, 3, 3, 8], [0, 1, 2, 3]] = 1
    ax = plot.spike_raster(s)
    offsets = ax.collections[0].get_offsets()
    assert sorted(map(tuple, np.asarray(offsets).tolist())) == [(1, 0), (3, 1), (3, 2), (8, 3)]
    out = plot.save(ax, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000 and out.endswith("r.png")


def test_spike_raster_refuses_a_batch():
    with pytest.raises(ValueError, match="y\\[:, b\\]"):
        plot.spike_raster(np.zeros((5, 2, 3)))


def test_traces_threshold_and_spikes():
    V = np.linspace(0, 2, 20)
    ax = plot.traces({"V": V}, threshold=1.0, spikes=(V > 1).astype(float))
    labels = [line.get_label() for line in ax.get_lines()]
    assert "V" in labels and "threshold" in labels
    assert np.allclose(ax.get_lines()[0].get_ydata(), V)


def test_surrogate_families_draw_every_family():
    ax = plot.surrogate_families()
    assert len(ax.get_lines()) == len(surrogates.FAMILIES)
    u = ax.get_lines()[0].get_xdata()
    name = list(surrogates.FAMILIES)[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), surrogates.get(name).grad(u))


def test_gradient_flow_and_learning_curves():
    ax = plot.gradient_flow({"beta=0.9": 0.9 ** np.arange(10)[::-1]})
    assert ax.get_yscale() == "log"
    ax = plot.learning_curves({"lstm": {"val_acc": [0.2, 0.5, 0.7]}}, chance=0.1)
    assert [line.get_label() for line in ax.get_lines()][0] == "lstm"
    assert any("chance" in line.get_label() for line in ax.get_lines())
