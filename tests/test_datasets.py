"""Loaders: data folder resolution, MNIST-1D, IDX reader, MNIST fallback, EMNIST
orientation, the MFCC front end and FSDD, character corpora. All offline."""
from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from snn_from_scratch import datasets as D


def write_idx(path, arr, code=0x08, compress=True, dims=None):
    arr = np.ascontiguousarray(arr)
    dims = arr.shape if dims is None else dims
    raw = bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big")
                                                    for d in dims) + arr.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


# ----------------------------------------------------------------------------- folders
def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("SNN_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert D.data_dir() == Path.home() / ".cache" / "snn_from_scratch"
    monkeypatch.setenv("SNN_DATA_DIR", str(tmp_path / "env"))
    assert D.data_dir() == tmp_path / "env"
    assert D.data_dir(tmp_path / "arg") == tmp_path / "arg"      # argument wins
    with pytest.raises(TypeError, match="data_dir"):
        D.data_dir(3)


# ----------------------------------------------------------------------------- MNIST-1D
def test_mnist1d_generated_offline_cached_and_deterministic(tmp_path):
    np.random.seed(7)
    random.seed(7)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()
    d = D.mnist1d(data_dir=tmp_path)
    # make_dataset seeds the global generators: they must be restored
    assert np.array_equal(np.random.get_state()[1], np_before)
    assert random.getstate() == py_before
    assert d["x_train"].shape == (4000, 40) and d["x_test"].shape == (1000, 40)
    assert d["x_train"].dtype == np.float32 and d["y_train"].dtype == np.int64
    assert sorted(np.unique(d["y_train"])) == list(range(10))
    cache = Path(d["source"])
    assert cache.parent == tmp_path / "mnist1d" and cache.suffix == ".npz"
    again = D.mnist1d(data_dir=tmp_path)                          # from the cache
    assert again["source"] == d["source"]
    assert np.array_equal(again["x_train"], d["x_train"])
    assert np.array_equal(again["y_test"], d["y_test"])
    assert D.mnist1d(data_dir=tmp_path, dtype=np.float64)["x_train"].dtype == np.float64
    with pytest.raises(ValueError, match="seed"):
        D.mnist1d(data_dir=tmp_path, seed=-1)


# ----------------------------------------------------------------------------- IDX
def test_read_idx_gzip_and_raw(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(D.read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert np.array_equal(D.read_idx(write_idx(tmp_path / "a", a, compress=False)), a)
    # compression is detected from the content, not the name
    assert np.array_equal(D.read_idx(write_idx(tmp_path / "b.idx", a)), a)
    f = np.array([1.5, -2.0], dtype=">f4")
    out = D.read_idx(write_idx(tmp_path / "f.gz", f, code=0x0D))
    assert out.dtype == np.float32 and np.array_equal(out, [1.5, -2.0])


def test_read_idx_errors(tmp_path):
    a = np.zeros((2, 3, 4), np.uint8)
    with pytest.raises(FileNotFoundError):
        D.read_idx(tmp_path / "nope.gz")
    bad_magic = tmp_path / "bad_magic"
    bad_magic.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        D.read_idx(bad_magic)
    with pytest.raises(ValueError, match="type code"):
        D.read_idx(write_idx(tmp_path / "t.gz", a, code=0x42))
    with pytest.raises(ValueError, match="need 24 data bytes, the file holds 23"):
        D.read_idx(write_idx(tmp_path / "d.gz", a[:, :, :4].ravel()[:23],
                             dims=(2, 3, 4)))
    with pytest.raises(ValueError, match="need 30 data bytes"):
        D.read_idx(write_idx(tmp_path / "e.gz", a, dims=(2, 3, 5)))
    with pytest.raises(ValueError, match="got 3 dimension"):
        D.read_idx(write_idx(tmp_path / "g.gz", a), expect_ndim=1)
    corrupt = tmp_path / "c.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    with pytest.raises(ValueError, match="gzip"):
        D.read_idx(corrupt)
    short = tmp_path / "s"
    short.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        D.read_idx(short)


# ----------------------------------------------------------------------------- MNIST
def test_load_mnist_falls_back_to_the_offline_subset(tmp_path, monkeypatch):
    monkeypatch.delenv("SNN_MNIST5K", raising=False)
    # shipped inside the package: a clone or an installed copy has it, nothing to skip
    assert (D._mnist5k_dir() / "train-images-idx3-ubyte.gz").is_file()
    assert D._mnist5k_dir().is_relative_to(Path(D.__file__).resolve().parent)
    m = D.load_mnist("mnist", data_dir=tmp_path)                  # empty data folder
    assert m["source"].startswith("mnist5k")
    assert m["x_train"].shape == (4000, 28, 28) and m["x_test"].shape == (1000, 28, 28)
    assert m["x_train"].dtype == np.uint8 and m["y_train"].dtype == np.int64
    assert np.bincount(m["y_train"]).tolist() == [400] * 10       # stratified subset
    assert m["x_train"].max() == 255


def test_data_dir_is_env_else_a_per_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNN_DATA_DIR", str(tmp_path / "d"))
    assert D.data_dir() == tmp_path / "d"
    monkeypatch.delenv("SNN_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert D.data_dir() == tmp_path / "cache" / "snn_from_scratch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert D.data_dir() == Path.home() / ".cache" / "snn_from_scratch"


def test_load_mnist_prefers_the_full_set_and_honours_env(tmp_path, monkeypatch):
    r = np.random.default_rng(0)
    for folder in (tmp_path / "data" / "mnist", tmp_path / "sub"):
        for stem, shape in (("train-images-idx3-ubyte", (5, 28, 28)),
                            ("train-labels-idx1-ubyte", (5,)),
                            ("t10k-images-idx3-ubyte", (2, 28, 28)),
                            ("t10k-labels-idx1-ubyte", (2,))):
            write_idx(folder / (stem + ".gz"), r.integers(0, 10, shape, dtype=np.uint8))
    full = D.load_mnist("mnist", data_dir=tmp_path / "data")
    assert full["source"].startswith("full") and len(full["x_train"]) == 5
    monkeypatch.setenv("SNN_MNIST5K", str(tmp_path / "sub"))
    sub = D.load_mnist("mnist", data_dir=tmp_path / "empty")
    assert sub["source"] == f"mnist5k: {tmp_path / 'sub'}"


def test_load_mnist_missing_names_the_fetch_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="python -m snn_from_scratch fetch "
                                                "fashion-mnist"):
        D.load_mnist("fashion-mnist", data_dir=tmp_path)
    monkeypatch.setenv("SNN_MNIST5K", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="python -m snn_from_scratch fetch mnist"):
        D.load_mnist("mnist", data_dir=tmp_path)
    with pytest.raises(ValueError, match="kind"):
        D.load_mnist("cifar", data_dir=tmp_path)


def test_image_label_count_mismatch_is_refused(tmp_path):
    folder = tmp_path / "fashion-mnist"
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8),
              compress=False)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(1, np.uint8), compress=False)
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        D.load_mnist("fashion-mnist", data_dir=tmp_path)


def test_emnist_orientation_and_missing(tmp_path):
    # An "L" drawn upright; EMNIST stores its transpose.
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 6] = 255            # vertical stroke (rows 4..23, column 6)
    img[23, 6:20] = 255           # horizontal foot on row 23
    folder = tmp_path / "emnist" / "gzip"
    for split in ("train", "test"):
        write_idx(folder / f"emnist-bymerge-{split}-images-idx3-ubyte.gz",
                  img.T[None].repeat(2, axis=0))
        write_idx(folder / f"emnist-bymerge-{split}-labels-idx1-ubyte.gz",
                  np.array([3, 4], np.uint8))
    e = D.load_emnist("bymerge", data_dir=tmp_path)
    assert np.array_equal(e["x_train"][0], img)
    # the sequential view reads rows: the foot row is one bright step of 14 pixels
    rows = D.sequential_view(e["x_train"])[0]
    assert rows[23].sum() == pytest.approx(14.0) and rows[10].sum() == pytest.approx(1.0)
    assert e["classes"] is None and e["y_test"].tolist() == [3, 4]
    with pytest.raises(FileNotFoundError, match="snn_from_scratch fetch emnist"):
        D.load_emnist("balanced", data_dir=tmp_path)
    with pytest.raises(ValueError, match="split"):
        D.load_emnist("weird", data_dir=tmp_path)


def test_sequential_view():
    u8 = np.array([[[0, 255], [51, 102]]], np.uint8)
    v = D.sequential_view(u8)
    assert v.dtype == np.float32 and np.allclose(v[0], [[0, 1], [0.2, 0.4]])
    flat = np.zeros((3, 784), np.uint8)
    assert D.sequential_view(flat).shape == (3, 28, 28)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        D.sequential_view(np.full((1, 2, 2), 2.0))
    with pytest.raises(ValueError, match="shape"):
        D.sequential_view(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="NaN"):
        D.sequential_view(np.full((1, 2, 2), np.nan))
    with pytest.raises(TypeError, match="images"):
        D.sequential_view([[0]])


# ----------------------------------------------------------------------------- FSDD
def test_mel_filterbank_shape_and_peaks():
    fb = D.mel_filterbank(26, 256, 8000)
    assert fb.shape == (26, 129)
    assert np.all(fb.max(axis=1) > 0.3)                           # no empty filter
    assert np.all(np.diff(fb.argmax(axis=1)) >= 0)                # increasing centres
    with pytest.raises(ValueError, match="fmax"):
        D.mel_filterbank(26, 256, 8000, fmax=5000)


def test_mfcc_of_a_tone_puts_energy_in_the_right_band():
    sr = 8000
    t = np.arange(sr // 2) / sr
    low = (0.5 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
    high = (0.5 * np.sin(2 * np.pi * 2500 * t) * 32767).astype(np.int16)
    c_low, c_high = D.mfcc(low, sr), D.mfcc(high, sr)
    assert c_low.shape == (1 + int(np.ceil((4000 - 200) / 80)), 13)
    # c1 (the spectral tilt) is positive when energy sits low, negative when high
    assert c_low[:, 1].mean() > 0 > c_high[:, 1].mean()
    # undo the DCT on the full 26 coefficients: the log-mel peak is at the tone's band
    from scipy.fft import idct
    logmel = idct(D.mfcc(low, sr, n_mfcc=26), type=2, norm="ortho", axis=1)
    fb = D.mel_filterbank(26, 256, sr)
    centre_hz = fb.argmax(axis=1) * sr / 256
    assert abs(centre_hz[logmel.mean(axis=0).argmax()] - 300) < 100
    assert D.mfcc(low[:50], sr).shape == (1, 13)                  # shorter than a frame
    with pytest.raises(ValueError, match="NaN"):
        D.mfcc(np.array([0.0, np.nan] * 200), sr)


def test_load_fsdd_split_and_standardization(tmp_path):
    rec = tmp_path / "fsdd" / "free-spoken-digit-dataset-1.0.9" / "recordings"
    rec.mkdir(parents=True)
    sr = 8000
    for digit in range(3):
        for index in (0, 4, 5, 49):
            t = np.arange(int(sr * (0.2 + 0.05 * digit))) / sr
            sig = (0.3 * np.sin(2 * np.pi * (400 + 800 * digit) * t) * 32767)
            wavfile.write(rec / f"{digit}_nicolas_{index}.wav", sr, sig.astype(np.int16))
    (rec / "README.wav.txt").write_text("not a recording")
    d = D.load_fsdd(data_dir=tmp_path, n_steps=8)
    assert d["x_train"].shape == (6, 8, 13) and d["x_test"].shape == (6, 8, 13)
    assert sorted(d["y_test"].tolist()) == [0, 0, 1, 1, 2, 2]
    assert set(d["speakers_train"]) == {"nicolas"}
    flat = d["x_train"].reshape(-1, 13)
    assert np.allclose(flat.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(flat.std(axis=0), 1, atol=1e-3)
    raw = D.load_fsdd(data_dir=tmp_path, standardize=False, n_steps=3, n_mfcc=5)
    assert raw["x_test"].shape == (6, 3, 5)
    with pytest.raises(FileNotFoundError, match="snn_from_scratch fetch fsdd"):
        D.load_fsdd(data_dir=tmp_path / "none")


# ----------------------------------------------------------------------------- text
def test_pydoc_corpus_offline_paper_split_and_round_trip():
    c = D.load_text("pydoc")
    assert len(c.train) == 52_000 and len(c.test) == 12_000
    assert c.train.dtype == np.int64 and c.vocab == "".join(sorted(set(c.vocab)))
    txt = c.decode(c.train[:500])
    assert txt == txt.lower() and np.array_equal(c.encode(txt), c.train[:500])
    assert np.array_equal(D.load_text("pydoc").train, c.train)     # deterministic
    oh = c.one_hot(c.train[:7])
    assert oh.shape == (7, c.vocab_size) and oh.dtype == np.float32
    assert np.array_equal(oh.argmax(axis=1), c.train[:7]) and np.all(oh.sum(1) == 1)
    x, y = c.sequences("train", seq_len=50)
    assert x.shape == (1039, 50) and np.array_equal(x[:, 1:], y[:, :-1])
    assert np.array_equal(y[0], c.train[1:51])
    full = D.load_text("pydoc", split="full")
    assert abs(len(full.train) / (len(full.train) + len(full.test)) - 0.9) < 1e-3
    cased = D.load_text("pydoc", lower=False)
    assert any(ch.isupper() for ch in cased.vocab)


def test_char_corpus_errors():
    c = D.load_text("pydoc")
    with pytest.raises(ValueError, match="vocabulary"):
        c.encode("\u2603")
    with pytest.raises(TypeError, match="text"):
        c.encode(5)
    with pytest.raises(ValueError, match="ids"):
        c.decode([c.vocab_size])
    with pytest.raises(TypeError, match="integers"):
        c.one_hot(np.array([0.5]))
    with pytest.raises(ValueError, match="which"):
        c.sequences("valid")
    with pytest.raises(ValueError, match="seq_len"):
        c.sequences("train", seq_len=0)
    with pytest.raises(ValueError, match="name"):
        D.load_text("shakespeare")
    with pytest.raises(ValueError, match="split"):
        D.load_text("pydoc", split="half")


def test_missing_corpora_name_the_fetch_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="snn_from_scratch fetch alice"):
        D.load_text("alice", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="snn_from_scratch fetch wikitext-2"):
        D.load_text("wikitext-2", data_dir=tmp_path)


def test_strip_gutenberg():
    raw = ("header\r\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\r\nBody Text\r\n"
           "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\r\nlicence")
    assert D.strip_gutenberg(raw) == "Body Text\n"
    with pytest.raises(ValueError, match="Gutenberg"):
        D.strip_gutenberg("no markers here")
