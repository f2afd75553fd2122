"""The event-driven input projection (``cells/events.py``): only the non-zero inputs are
multiplied, chosen by the measured density, equal to the dense product up to round-off;
the lif and gated_lif layers use it in inference (never while training)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from snn_from_scratch import cells
from snn_from_scratch.cells import events


def _spikes(rng, shape, d, dtype=np.float32):
    return (rng.random(shape) < d).astype(dtype)


def test_path_chosen_by_measured_density():
    rng = np.random.default_rng(0)
    sparse, dense = _spikes(rng, (200, 64), 0.05), _spikes(rng, (200, 64), 0.5)
    assert scipy.sparse.issparse(events.input_matrix(sparse))
    assert events.input_matrix(dense) is dense
    assert events.input_matrix(sparse, max_density=0.0) is sparse
    assert scipy.sparse.issparse(events.input_matrix(dense, max_density=1.0))
    tiny = _spikes(rng, (10, 8), 0.05)           # too small: always dense
    assert events.input_matrix(tiny) is tiny
    assert events.density(sparse) == np.count_nonzero(sparse) / sparse.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary", "multibit"])
def test_event_product_equals_dense_product(dtype, kind):
    rng = np.random.default_rng(1)
    X = _spikes(rng, (300, 96), 0.08, dtype)
    if kind == "multibit":      # levels q / 64 with many zeros, as a multi-bit layer emits
        X *= rng.integers(1, 64, X.shape).astype(dtype) / dtype(64)
    W = rng.standard_normal((96, 40)).astype(dtype)
    ev, de = events.project(X, W, max_density=1.0), X @ W
    assert ev.dtype == de.dtype and ev.shape == de.shape and isinstance(ev, np.ndarray)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ev, de, rtol=tol, atol=tol * np.abs(W).sum(0).max())


def test_event_product_bit_for_bit_on_exact_sums():
    """Integer-valued inputs and weights: every partial sum is exact, so the two orders
    of summation give the same bits."""
    rng = np.random.default_rng(2)
    X = _spikes(rng, (256, 64), 0.05, np.float64)
    W = rng.integers(-8, 8, (64, 32)).astype(np.float64)
    assert np.array_equal(events.project(X, W, max_density=1.0), X @ W)


@pytest.mark.parametrize("name,config", [("lif", {}), ("gated_lif", {"variant": "v2"}),
                                         ("gated_lif", {"variant": "v1", "norm": "batch"})])
def test_layers_use_events_in_inference_only(name, config, monkeypatch):
    rng = np.random.default_rng(3)
    T, B, n_in, H = 12, 16, 64, 24
    x = _spikes(rng, (T, B, n_in), 0.05, np.float64)
    cell = cells.make(name, n_in, H, seed=0, dtype=np.float64, **config)
    cell.training = False
    calls = []
    real = events.input_matrix

    def spy(X2, max_density=None):
        out = real(X2, max_density)
        calls.append(scipy.sparse.issparse(out))
        return out

    monkeypatch.setattr(events, "input_matrix", spy)
    y_ev, _ = cell.forward(x)
    assert calls and all(calls)                        # the event-driven product ran
    monkeypatch.setattr(events, "EVENT_DENSITY", 0.0)  # force the dense product
    calls.clear()
    y_de, _ = cell.forward(x)
    assert calls and not any(calls)
    np.testing.assert_allclose(y_ev, y_de, rtol=1e-12, atol=1e-12)
    a_de = cell.inputs(x)                              # still forced dense
    monkeypatch.setattr(events, "EVENT_DENSITY", 1.0)  # force the event-driven product
    a_ev = cell.inputs(x)
    for u, v in zip(a_ev if isinstance(a_ev, tuple) else (a_ev,), a_de if isinstance(a_de, tuple) else (a_de,)):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    # training never takes the event-driven path (bit-identical to the dense product)
    calls.clear()
    cell.training = True
    cell.forward(x)
    assert not calls
