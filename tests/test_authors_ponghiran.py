"""The presets ``ponghiran_authors_code`` (lif: their traditional model; gated_lif: their v1
and v2) against the NumPy transcription of Ponghiran & Roy's own code
(``validation/authors/ponghiran.py``: their quantizer, range estimator, batch norm and
layers, with the exact gradients of their autograd graphs).

In eval mode at a given range b, and in training mode (batch statistics, their per-step
range estimator, two passes in a row), the output levels, the zero pattern, the range and
running statistics and every gradient (input, weights, batch norm's scale and shift, the
learnable synaptic decay tau = our beta, the recurrent U) agree to <= 1e-12 in float64.
Their configuration nb6th3 is ours with n_bits 5 (+ sign) and threshold_levels 4.
"""
import numpy as np
import pytest

from snn_from_scratch import cells
from snn_from_scratch.cells import gated_lif, lif
from validation.authors import ponghiran as P

N_IN, H, T, B = 4, 6, 7, 3
NUM_BITS, THRESHOLD = 6, 3          # their cfg *_nb6th3_*
TOL = 1e-12


def close(ours, theirs):
    """max |ours - theirs| relative to the larger of 1 and max |theirs|."""
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    assert ours.shape == theirs.shape
    return float(np.max(np.abs(ours - theirs)) / max(1.0, np.max(np.abs(theirs))))


def test_mapping_of_their_configuration():
    m = P.to_library_multibit(NUM_BITS, THRESHOLD)
    for preset in (lif.PRESETS["ponghiran_authors_code"], gated_lif.PRESETS["ponghiran_authors_code"]):
        assert {k: preset[k] for k in m} == m
        assert preset["scale_margin"] == P.SHRINK and preset["spike_at_threshold"]
        assert preset["alpha"] == 1.0 and preset["reset"] == "subtract" and not preset["detach_reset"]
        assert preset["norm"] == "batch" and preset["range_estimator"] == "authors"
        assert preset["ema_momentum"] == 0.1 and preset["bn_momentum"] == 0.1 and preset["bn_eps"] == P.BN_EPS


def _setup(name, variant=None, seed=0):
    rng = np.random.default_rng(seed)
    kw = dict(lif.PRESETS["ponghiran_authors_code"]) if name == "lif" else \
        dict(gated_lif.PRESETS["ponghiran_authors_code"], variant=variant)
    cell = cells.make(name, N_IN, H, seed=seed, init_spread=0.3, **kw)  # tau, BN non-uniform
    if variant == "v2":  # a larger recurrent gain than orthogonal, so that U matters
        for k in ("U_f", "U_c"):
            cell.params[k] *= 2.0
    x = 1.5 * rng.standard_normal((T, B, N_IN))
    dy = rng.standard_normal((T, B, H))
    return cell, x, dy, rng


def _their_bn_states(cell, suffixes):
    return {s: {"running_mean": np.copy(cell.buffers[f"bn_mean{s}"]),
                "running_var": np.copy(cell.buffers[f"bn_var{s}"])} for s in suffixes}


def _theirs(cell, x, dy, quantizer, bn_states, training):
    """Their layer on x: BN(x W) (per half for v1/v2), the layer, and the gradients of
    sum(dy * Y) through their autograd graph (transcribed) and BN. Returns (Y, grads, dx)."""
    p, x2 = cell.params, x.reshape(T * B, -1)
    if cell.name == "lif":
        ws, bn = P.batchnorm_forward((x2 @ p["W"]).reshape(T, B, H), p["bn_scale"], p["bn_shift"],
                                     bn_states[""], training=training)
        Y, rec = P.traditional_layer_forward(ws, p["beta"], quantizer)
        dws, dtau = P.traditional_layer_backward(dy, rec)
        dZ, dscale, dshift = P.batchnorm_backward(dws, bn)
        dZ = dZ.reshape(T * B, H)
        grads = {"W": x2.T @ dZ, "beta": dtau, "bn_scale": dscale, "bn_shift": dshift}
        return Y, grads, (dZ @ p["W"].T).reshape(x.shape)
    halves = {}
    for s in ("_f", "_c"):
        halves[s] = P.batchnorm_forward((x2 @ p[f"W{s}"]).reshape(T, B, H), p[f"bn_scale{s}"],
                                        p[f"bn_shift{s}"], bn_states[s], training=training)
    v2 = cell.config.variant == "v2"
    Y, rec = P.improved_layer_forward(halves["_f"][0], halves["_c"][0], quantizer,
                                      U_z=p["U_f"] if v2 else None, U_c=p["U_c"] if v2 else None)
    dwz, dwc, dUz, dUc = P.improved_layer_backward(dy, rec)
    grads, dx = {}, 0
    for s, dw in (("_f", dwz), ("_c", dwc)):
        dZ, grads[f"bn_scale{s}"], grads[f"bn_shift{s}"] = P.batchnorm_backward(dw, halves[s][1])
        dZ = dZ.reshape(T * B, H)
        grads[f"W{s}"] = x2.T @ dZ
        dx = dx + (dZ @ p[f"W{s}"].T).reshape(x.shape)
    if v2:
        grads["U_f"], grads["U_c"] = dUz, dUc
    return Y, grads, dx


def _compare(cell, y, grads, dx, Y, their_grads, their_dx, scale):
    out = {"Y": close(y, Y), "dx": close(dx, their_dx)}
    np.testing.assert_array_equal(y == 0, Y == 0)                       # the zero pattern
    np.testing.assert_array_equal(np.round(y * scale), np.round(Y * scale))   # the levels
    assert set(grads) == set(their_grads) == set(cell.params)
    for k in grads:
        out[k] = close(grads[k], their_grads[k])
    return out


CASES = [("lif", None), ("gated_lif", "v1"), ("gated_lif", "v2")]
LAYER = {None: "traditional", "v1": "v1", "v2": "v2"}


@pytest.mark.parametrize("b", [0.6, 1.7])
@pytest.mark.parametrize("name, variant", CASES, ids=[LAYER[v] for _, v in CASES])
def test_eval_mode_at_a_given_range(name, variant, b):
    cell, x, dy, rng = _setup(name, variant)
    cell.training = False
    cell.b = b
    for k in [k for k in cell.buffers if k.startswith("bn_mean")]:   # generic running statistics
        cell.buffers[k] = 0.2 * rng.standard_normal(H)
    for k in [k for k in cell.buffers if k.startswith("bn_var")]:
        cell.buffers[k] = rng.uniform(0.5, 2.0, H)
    q = P.FakeSpikeQuantization(num_bits=NUM_BITS, threshold=THRESHOLD, ema_momentum=0.1)
    q.training = False
    q.tracked_min, q.tracked_max = -0.5 * b, b          # their max_abs = b
    q.scale = P.symmetric_scale(NUM_BITS, b, np.float64)
    Y, tg, tdx = _theirs(cell, x, dy, q, _their_bn_states(cell, cell.NORMS), training=False)
    y, cache = cell.forward(x)
    dx, grads = cell.backward(dy, cache)
    err = _compare(cell, y, grads, dx, Y, tg, tdx, q.scale)
    assert max(err.values()) <= TOL, err
    # the point is generic: many levels, zeros and clipped potentials occur (v1/v2 never go
    # negative from a zero state: C >= 0 and the reset never overshoots)
    levels = np.unique(np.round(y * q.scale))
    assert len(levels) >= 6 and 0 in levels and levels.max() == 2 ** (NUM_BITS - 1) - 1
    clipped = np.mean([np.mean(~c.dYdV) for _, _, c in cell.trace(x)])
    assert 0 < clipped < 1   # both sides of the clip


def _eval_errors(name, variant, b, **change):
    cell, x, dy, rng = _setup(name, variant)
    if change:  # the same parameters, another configuration
        other = cells.make(name, N_IN, H, **{**cell.config.__dict__, **change})
        other.params = cell.params
        cell = other
    cell.training = False
    cell.b = b
    for k in [k for k in cell.buffers if k.startswith("bn_mean")]:   # generic running statistics
        cell.buffers[k] = 0.2 * rng.standard_normal(H)
    for k in [k for k in cell.buffers if k.startswith("bn_var")]:
        cell.buffers[k] = rng.uniform(0.5, 2.0, H)
    q = P.FakeSpikeQuantization(num_bits=NUM_BITS, threshold=THRESHOLD, ema_momentum=0.1)
    q.training = False
    q.tracked_min, q.tracked_max = -0.5 * b, b          # their max_abs = b
    q.scale = P.symmetric_scale(NUM_BITS, b, np.float64)
    Y, tg, tdx = _theirs(cell, x, dy, q, _their_bn_states(cell, cell.NORMS), training=False)
    y, cache = cell.forward(x)
    dx, grads = cell.backward(dy, cache)
    out = {"Y": close(y, Y), "dx": close(dx, tdx)}
    out.update({k: close(grads[k], tg[k]) for k in grads})
    return out


@pytest.mark.parametrize("change", [dict(n_bits=6), dict(scale_margin=1.0), dict(detach_reset=True),
                                    dict(alpha=0.99)], ids=str)
@pytest.mark.parametrize("name, variant", CASES, ids=[LAYER[v] for _, v in CASES])
def test_a_wrong_preset_fails(name, variant, change):
    """The comparison can fail: the former preset's 6 magnitude bits, the margin, a detached
    reset or a membrane leak each make the numbers differ from theirs."""
    assert max(_eval_errors(name, variant, 0.6).values()) <= TOL
    assert max(_eval_errors(name, variant, 0.6, **change).values()) > 1e-6


@pytest.mark.parametrize("name, variant", CASES, ids=[LAYER[v] for _, v in CASES])
def test_training_mode_two_passes(name, variant):
    """Batch statistics and their per-step range estimator (from fresh buffers, then on
    from the first pass's): outputs, ranges, running statistics and gradients."""
    cell, x, dy, rng = _setup(name, variant, seed=1)
    q = P.FakeSpikeQuantization(num_bits=NUM_BITS, threshold=THRESHOLD, ema_momentum=0.1)
    states = _their_bn_states(cell, cell.NORMS)
    seen, orig = [], cell._observe_range
    cell._observe_range = lambda V: seen.append(orig(V)) or seen[-1]
    for rep in range(2):
        xx = x if rep == 0 else 0.7 * x + 0.3
        their_b = []
        wrapped_forward = q.forward

        def spy(V):
            out = wrapped_forward(V)
            their_b.append(q.max_abs)
            return out

        q.forward = spy
        Y, tg, tdx = _theirs(cell, xx, dy, q, states, training=True)
        q.forward = wrapped_forward
        del seen[:]
        y, cache = cell.forward(xx)
        dx, grads = cell.backward(dy, cache)
        err = _compare(cell, y, grads, dx, Y, tg, tdx, q.scale)
        assert max(err.values()) <= TOL, (rep, err)
        np.testing.assert_allclose(seen, their_b, rtol=TOL, atol=0)     # b at every step
        assert cell.buffers["range_updates"] == q.iter_count == T * (rep + 1)
        assert cell.buffers["range_min_biased"] == pytest.approx(q.tracked_min_biased, rel=TOL)
        assert cell.buffers["range_max_biased"] == pytest.approx(q.tracked_max_biased, rel=TOL)
        for s in cell.NORMS:
            np.testing.assert_allclose(cell.buffers[f"bn_mean{s}"], states[s]["running_mean"], rtol=TOL, atol=TOL)
            np.testing.assert_allclose(cell.buffers[f"bn_var{s}"], states[s]["running_var"], rtol=TOL, atol=TOL)
        assert np.count_nonzero(y) > 0


def test_range_estimator_against_theirs_on_the_same_potentials():
    """The estimator alone: the same sequence of V tensors, our per-step b = their max_abs
    (and the quantized values equal theirs at each step)."""
    rng = np.random.default_rng(5)
    cell = cells.make("lif", N_IN, H, **lif.PRESETS["ponghiran_authors_code"])
    q = P.FakeSpikeQuantization(num_bits=NUM_BITS, threshold=THRESHOLD, ema_momentum=0.1)
    cfg = cell.step_config(observe_range=True)
    for t in range(12):
        V = (1 + t % 3) * rng.standard_normal((B, H)) + 0.3 * t
        Yq, _ = q.forward(V)
        Y, _ = lif.fire(V, None, cfg)
        assert cell.b == pytest.approx(q.max_abs, rel=TOL)
        np.testing.assert_allclose(Y, Yq, rtol=0, atol=TOL)
        np.testing.assert_array_equal(Y == 0, Yq == 0)
