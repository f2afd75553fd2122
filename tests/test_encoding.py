"""Spike encoders: statistics, hand-computed latencies, determinism and bad input."""
import math

import numpy as np
import pytest

from snn_from_scratch import encoding as enc


def rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- rate
def test_rate_shape_dtype_and_silent_prefix():
    x = np.full((3, 4, 5), 0.5)
    s = enc.rate(x, 7, rng(), gain=1.0, silent_prefix=2)
    assert s.shape == (9, 3, 20) and s.dtype == np.float32
    assert np.all(s[:2] == 0)
    assert set(np.unique(s)) <= {0.0, 1.0}
    assert enc.rate(x, 3, rng(), dtype=np.float64).dtype == np.float64


def test_rate_statistics_within_binomial_confidence():
    # Mean spike count of each channel ~ T * gain * x: check the pooled count of each
    # input level against a 5-sigma binomial interval.
    levels = np.array([0.0, 0.1, 0.4, 0.8, 1.0])
    B, T, gain = 400, 200, 0.25
    x = np.tile(levels, (B, 1))
    s = enc.rate(x, T, rng(1), gain=gain)
    counts = s.sum(axis=(0, 1))                    # per level, over B*T trials
    n_trials = B * T
    for level, k in zip(levels, counts):
        p = gain * level
        sd = math.sqrt(n_trials * p * (1 - p))
        assert abs(k - n_trials * p) <= 5 * sd + 1e-9, (level, k, n_trials * p)
    assert counts[0] == 0                          # black pixels never spike


def test_rate_gain_one_and_white_pixels_always_spike():
    s = enc.rate(np.ones((2, 3)), 10, rng(), gain=1.0)
    assert np.all(s == 1)


def test_rate_is_deterministic_for_a_seed_and_varies_across_seeds():
    x = rng(5).random((4, 10))
    a = enc.rate(x, 20, rng(3), gain=0.5)
    b = enc.rate(x, 20, rng(3), gain=0.5)
    c = enc.rate(x, 20, rng(4), gain=0.5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert enc.poisson is enc.rate


def test_rate_does_not_touch_global_random_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    enc.rate(np.ones((2, 2)) * 0.5, 5, rng())
    assert np.array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("bad, exc, word", [
    (np.array([[0.5, np.nan]]), ValueError, "NaN"),
    (np.array([[0.5, 1.5]]), ValueError, "[0, 1]"),
    (np.array([[-0.1, 0.5]]), ValueError, "[0, 1]"),
    (np.array([0.5, 0.5]), ValueError, "rank"),
    (np.array([["a"]]), TypeError, "real"),
    ("abc", TypeError, "numpy array"),
])
def test_rate_bad_input(bad, exc, word):
    with pytest.raises(exc, match=None) as e:
        enc.rate(bad, 5, rng())
    assert word in str(e.value) and "x" in str(e.value)


def test_rate_bad_arguments():
    x = np.ones((1, 2)) * 0.5
    with pytest.raises(TypeError, match="rng"):
        enc.rate(x, 5, np.random.RandomState(0))
    with pytest.raises(ValueError, match="T"):
        enc.rate(x, 0, rng())
    with pytest.raises(TypeError, match="T"):
        enc.rate(x, 2.5, rng())
    with pytest.raises(ValueError, match="gain"):
        enc.rate(x, 5, rng(), gain=1.5)
    with pytest.raises(ValueError, match="gain"):
        enc.rate(x, 5, rng(), gain=0.0)
    with pytest.raises(ValueError, match="silent_prefix"):
        enc.rate(x, 5, rng(), silent_prefix=-1)


def test_bernoulli_sequence_time_major_and_rate():
    x = np.zeros((300, 4, 3))
    x[:, :, 1] = 0.5
    x[:, :, 2] = 1.0
    s = enc.bernoulli_sequence(x, rng(2))
    assert s.shape == (4, 300, 3)
    assert np.all(s[..., 0] == 0) and np.all(s[..., 2] == 1)
    k, n = s[..., 1].sum(), s[..., 1].size
    assert abs(k - n / 2) <= 5 * math.sqrt(n / 4)
    # time-major: the step axis of the output is the T axis of the input
    x2 = np.zeros((2, 5))
    x2[:, 3] = 1.0
    s2 = enc.bernoulli_sequence(x2, rng())
    assert s2.shape == (5, 2, 1) and np.all(s2[3] == 1) and s2.sum() == 2


# ----------------------------------------------------------------------------- ON/OFF
def test_on_off_sign_split():
    sig = np.array([[1.0, -1.0, 0.0, 0.5, -0.5]])        # (B=1, T=5)
    s = enc.on_off(sig, rng())
    assert s.shape == (5, 1, 2)
    on, off = s[..., 0], s[..., 1]
    assert on[0, 0] == 1 and off[0, 0] == 0             # +1: ON surely, OFF never
    assert on[1, 0] == 0 and off[1, 0] == 1             # -1: OFF surely
    assert on[2, 0] == 0 and off[2, 0] == 0             # 0: silent
    assert np.all(on * off == 0)                        # never both at once


def test_on_off_rates_match_positive_and_negative_parts():
    T, B = 50, 400
    t = np.linspace(0, 2 * np.pi, T)
    sig = np.tile(np.sin(t)[:, None], (B, 1, 2)).reshape(B, T, 2) * 0.8
    s = enc.on_off(sig, rng(7), gain=1.0)
    assert s.shape == (T, B, 4)
    on_rate = s[..., :2].mean(axis=1)                    # (T, 2)
    off_rate = s[..., 2:].mean(axis=1)
    expected_on = np.maximum(sig[0], 0)                  # (T, 2)
    expected_off = np.maximum(-sig[0], 0)
    tol = 5 * np.sqrt(0.25 / B)
    assert np.all(np.abs(on_rate - expected_on) <= tol)
    assert np.all(np.abs(off_rate - expected_off) <= tol)
    # E[ON - OFF] = gain * signal
    assert np.all(np.abs((on_rate - off_rate) - sig[0]) <= 2 * tol)


def test_on_off_bad_input():
    with pytest.raises(ValueError, match="gain"):
        enc.on_off(np.array([[2.0, -0.5]]), rng())
    with pytest.raises(ValueError, match="signal"):
        enc.on_off(np.array([0.5, 0.1]), rng())
    with pytest.raises(ValueError, match="NaN"):
        enc.on_off(np.array([[np.nan, 0.1]]), rng())
    with pytest.raises(ValueError, match="signal"):
        enc.on_off(np.zeros((1, 2, 3, 4)), rng())
    # a larger signal is fine once scaled by the gain
    assert enc.on_off(np.array([[2.0, -2.0]]), rng(), gain=0.5).shape == (2, 1, 2)


# ----------------------------------------------------------------------------- latency
def test_latency_snntorch_docstring_example():
    # snnTorch's documented example: [0.02, 0.5, 1], 5 steps, normalize, linear
    # -> times [3.92, 2, 0] -> spikes at steps 4, 2, 0.
    t, sat = enc.latency_times(np.array([[0.02, 0.5, 1.0]]), 5)
    assert np.allclose(t, [[3.92, 2.0, 0.0]]) and not sat.any()
    s = enc.latency(np.array([[0.02, 0.5, 1.0]]), 5)
    assert s.shape == (5, 1, 3)
    assert [int(np.argmax(s[:, 0, j])) for j in range(3)] == [4, 2, 0]


def test_latency_linear_times_by_hand_T200():
    # normalize=True, linear: tau -> T-1 = 199, t = 199 (1 - x), clamp 199 (1 - 0.01)
    x = np.array([[1.0, 0.5, 0.25, 0.8, 0.005, 0.0]])
    t, sat = enc.latency_times(x, 200)
    assert np.allclose(t[0], [0.0, 99.5, 149.25, 39.8, 197.01, 197.01])
    assert sat[0].tolist() == [False, False, False, False, True, True]
    s = enc.latency(x, 200)                              # saturated spikes removed
    assert s.sum() == 4
    where = {int(j): int(np.flatnonzero(s[:, 0, j])[0]) for j in range(4)}
    assert where == {0: 0, 1: 100, 2: 149, 3: 40}        # 99.5 rounds half to even
    s_keep = enc.latency(x, 200, remove_last=False)
    assert s_keep.sum() == 6 and s_keep[197, 0, 4] == 1 and s_keep[197, 0, 5] == 1


def test_latency_log_times_by_hand_and_last_step_removal():
    tau, th, eps, T = 10.0, 0.01, 1e-7, 200
    t_max = tau * math.log((th + eps) / eps)
    x = np.array([[1.0, 0.011, 0.02, 0.0]])
    t, sat = enc.latency_times(x, T, linear=False)
    hand = [tau * math.log(v / (v - th)) * (T - 1) / t_max for v in (1.0, 0.011, 0.02)]
    assert np.allclose(t[0, :3], hand)
    assert np.isclose(t[0, 3], T - 1)                     # saturated -> last step
    s_all = enc.latency(x, T, linear=False, remove_last=False)
    assert s_all[T - 1, 0, 3] == 1
    s = enc.latency(x, T, linear=False)
    assert s[:, 0, 3].sum() == 0                          # removed
    assert s[round(hand[1]), 0, 1] == 1 and s[0, 0, 0] == 1
    assert s.sum() == 3


def test_latency_unnormalized_drops_spikes_outside_window():
    # linear, tau = 10, T = 5: x = 1 -> t 0; x = 0.5 -> t 5 (outside 0..4): dropped
    s = enc.latency(np.array([[1.0, 0.5, 0.7]]), 5, normalize=False)
    assert s[0, 0, 0] == 1 and s[:, 0, 1].sum() == 0 and s[3, 0, 2] == 1


def test_latency_at_most_one_spike_and_image_shape():
    x = rng(0).random((3, 4, 4))
    s = enc.latency(x, 30)
    assert s.shape == (30, 3, 16) and s.max() == 1
    assert np.all(s.sum(axis=0) <= 1)


def test_latency_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        enc.latency(np.array([[1.2]]), 10)
    with pytest.raises(ValueError, match="NaN"):
        enc.latency(np.array([[np.nan]]), 10)
    with pytest.raises(ValueError, match="rank"):
        enc.latency(np.array([0.5]), 10)
    with pytest.raises(ValueError, match="threshold"):
        enc.latency(np.array([[0.5]]), 10, threshold=1.0)
    with pytest.raises(ValueError, match="tau"):
        enc.latency(np.array([[0.5]]), 10, tau=0)


# ----------------------------------------------------------------------------- delta
def test_delta_matches_hand_computed_examples():
    a = np.array([[1, 2, 2.9, 3, 3.9]])
    assert enc.delta(a, threshold=1)[:, 0, 0].tolist() == [1, 1, 0, 0, 0]
    c = np.array([[0, 1, 1.5, 3, 2]])
    assert enc.delta(c, threshold=1)[:, 0, 0].tolist() == [0, 1, 0, 1, 0]
    assert enc.delta(c, threshold=1, off_spikes=True)[:, 0, 1].tolist() == [0, 0, 0, 0, 1]
    assert enc.delta(a, threshold=1, padding=True)[:, 0, 0].tolist() == [0, 1, 0, 0, 0]
    b = np.array([[1, 2, 0, 2, 2.9]])
    s = enc.delta(b, threshold=1, off_spikes=True)
    assert s.shape == (5, 1, 2)
    assert s[:, 0, 0].tolist() == [1, 1, 0, 1, 0]        # ON
    assert s[:, 0, 1].tolist() == [0, 0, 1, 0, 0]        # OFF


def test_delta_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        enc.delta(np.zeros((1, 3)), threshold=0)
    with pytest.raises(ValueError, match="x"):
        enc.delta(np.zeros(3))
    with pytest.raises(ValueError, match="inf"):
        enc.delta(np.array([[0.0, np.inf]]))
