"""encoding.delay_line: the tapped delay line (synaptic delays)."""
import numpy as np
import pytest

from snn_from_scratch import encoding


def test_each_block_is_the_input_k_steps_ago():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)       # (B, T, n)
    out = encoding.delay_line(x, 3)
    assert out.shape == (6, 3, 6) and out.dtype == np.float32
    for t in range(6):
        for k in range(3):
            want = x[:, t - k] if t - k >= 0 else np.zeros((3, 2), np.float32)
            np.testing.assert_array_equal(out[t, :, 2 * k:2 * k + 2], want)


def test_one_channel_and_d1_is_the_time_major_input():
    x = np.arange(12.0).reshape(3, 4)                          # (B, T): one channel
    np.testing.assert_array_equal(encoding.delay_line(x, 1)[..., 0], x.T)
    assert encoding.delay_line(x, 10).shape == (4, 3, 10)       # more taps than steps: zeros


@pytest.mark.parametrize("d", [0, -1, 1.5, True])
def test_bad_depth_refused(d):
    with pytest.raises((TypeError, ValueError), match="d must"):
        encoding.delay_line(np.zeros((2, 3)), d)
