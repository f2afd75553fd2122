"""Bad input gets a clear error, and never costs data: the small items of the audit."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from snn_from_scratch import cells, datasets, encoding
from snn_from_scratch import fetch as F


def _write_idx(path, arr):
    arr = np.ascontiguousarray(arr, np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw))


def _mnist_folder(root, labels=(0, 9), side=28):
    r = np.random.default_rng(0)
    lo, hi = labels
    _write_idx(root / "train-images-idx3-ubyte.gz", r.integers(0, 255, (4, side, side)))
    _write_idx(root / "train-labels-idx1-ubyte.gz", np.array([lo, hi, lo, hi]))
    _write_idx(root / "t10k-images-idx3-ubyte.gz", r.integers(0, 255, (2, side, side)))
    _write_idx(root / "t10k-labels-idx1-ubyte.gz", np.array([lo, hi]))


def test_make_refuses_a_bad_rng_or_seed():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        cells.make("rnn", 2, 3, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        cells.make("rnn", 2, 3, rng=0)
    with pytest.raises(ValueError, match="seed"):
        cells.make("rnn", 2, 3, seed=-1)
    a = cells.make("rnn", 2, 3, rng=np.random.default_rng(5))
    b = cells.make("rnn", 2, 3, rng=np.random.default_rng(5))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


@pytest.mark.parametrize("bad, match", [
    (lambda p: p.__setitem__("W_h", p["W_h"].astype(np.float32)), "dtype"),
    (lambda p: p.__setitem__("W_h", p["W_h"][:, :2]), "shape"),
    (lambda p: p.__setitem__("b", p["b"].tolist()), "numpy array"),
    (lambda p: p.pop("b"), "keys"),
    (lambda p: p.__setitem__("extra", np.zeros(3)), "keys"),
])
def test_replaced_params_are_checked_before_use(bad, match):
    cell = cells.make("rnn", 2, 3, dtype=np.float64)
    bad(cell.params)
    with pytest.raises((TypeError, ValueError), match=match):
        cell.forward(np.zeros((2, 1, 2)))


@pytest.mark.parametrize("fn, args", [
    (encoding.rate, (np.zeros((0, 5)), 3, np.random.default_rng(0))),
    (encoding.rate, (np.zeros((2, 0)), 3, np.random.default_rng(0))),
])
def test_encoding_an_empty_batch_says_so(fn, args):
    with pytest.raises(ValueError, match="empty"):
        fn(*args)


@pytest.mark.parametrize("labels, side, match", [((0, 255), 28, "labels range"), ((-0, 12), 28, "labels range"),
                                                 ((0, 9), 14, "14x14")])
def test_mnist_loader_checks_labels_and_image_shape(tmp_path, labels, side, match):
    _mnist_folder(tmp_path / "mnist", labels, side)
    with pytest.raises(ValueError, match=match):
        datasets.load_mnist("mnist", data_dir=tmp_path)


def test_mnist_loader_accepts_a_valid_folder(tmp_path):
    _mnist_folder(tmp_path / "mnist")
    assert datasets.load_mnist("mnist", data_dir=tmp_path)["x_train"].shape == (4, 28, 28)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_a_corrupt_mnist1d_cache_is_rebuilt(tmp_path, damage, capsys):
    good = datasets.mnist1d(data_dir=tmp_path)
    cache = Path(good["source"])
    if damage == "truncate":
        cache.write_bytes(cache.read_bytes()[:100])
    elif damage == "garbage":
        cache.write_bytes(b"not a zip file at all")
    else:
        np.savez(cache, something=np.zeros(3))
    again = datasets.mnist1d(data_dir=tmp_path)
    assert "generating it again" in capsys.readouterr().err
    np.testing.assert_array_equal(again["x_train"], good["x_train"])
    assert datasets.mnist1d(data_dir=tmp_path)["source"] == str(cache)  # rewritten, readable


def test_fetch_refuses_negative_retries(capsys):
    with pytest.raises(SystemExit):
        F.main(["mnist", "--retries", "-1"])
    assert "must be >= 0" in capsys.readouterr().err
