"""experiments.seeds: seeds in parallel through joblib's local process backend (loky).

The parallel run must equal the sequential one bit for bit (a seed's numbers cannot
depend on where it ran), every worker must run with one BLAS thread, and the summary is
the mean and sample standard deviation of each headline number."""
import math

import numpy as np
import pytest

from snn_from_scratch import experiments
from snn_from_scratch.experiments import seeds

TIMING = {"seconds", "time", "epoch_time", "figure", "figures"}


def _same(a, b, path="res"):
    """Exact equality of two results (dicts, lists, arrays, numbers), timings and paths aside."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            if k not in TIMING:
                _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple, np.ndarray)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, path


def test_parallel_equals_sequential_bit_for_bit(tmp_path):
    opts = dict(fast=True, data_dir=None)
    par = seeds.run_seeds("lotfi-mnist1d", n_seeds=2, jobs=2, out=str(tmp_path / "par"), verbose=False, **opts)
    seq = seeds.run_seeds("lotfi-mnist1d", n_seeds=2, jobs=1, out=str(tmp_path / "seq"), verbose=False, **opts)
    assert par["seeds"] == seq["seeds"] == [0, 1]
    for a, b in zip(par["runs"], seq["runs"]):
        _same(a, b)
    assert par["summary"] == seq["summary"]
    # the two seeds are different runs, each pinned to one BLAS thread, with its own folder
    h0, h1 = (seeds.headline_of(r) for r in par["runs"])
    assert h0 != h1
    assert all(t == [1] for t in par["blas_threads"] + seq["blas_threads"])
    assert (tmp_path / "par" / "seed0" / "lotfi_mnist1d.png").exists()
    assert (tmp_path / "par" / "seed1" / "lotfi_mnist1d.json").exists()
    assert (tmp_path / "par" / "lotfi-mnist1d-seeds.json").exists()
    assert "--- seed 1 ---" not in par["texts"][0] and "MNIST-1D" in par["texts"][1]


def test_summary_mean_and_sample_std():
    runs = [{"headline": {"acc": 0.5, "ratio": 1.0}, "headline_paper": {"acc": 0.9}},
            {"headline": {"acc": 0.7, "ratio": float("nan")}},
            {"headline": {"acc": 0.6, "ratio": 3.0}}]
    s = seeds.summarize(runs)
    assert s["acc"]["mean"] == pytest.approx(0.6) and s["acc"]["std"] == pytest.approx(0.1)
    assert s["acc"]["n"] == 3 and s["acc"]["paper"] == 0.9
    assert s["ratio"]["mean"] == 2.0 and s["ratio"]["n"] == 2       # NaN (a diverged run) left out
    assert "0.6 ± 0.1" in seeds.format_summary(s)
    one = seeds.summarize(runs[:1])
    assert one["acc"]["std"] == 0.0


def test_headline_fallback_flattens_numbers():
    assert seeds.headline_of({"a": {"b": 1, "c": [1, 2], "d": True}, "e": 2.5, "f": "x"}) == {"a.b": 1.0, "e": 2.5}


def test_cli_options_and_bad_values():
    args = experiments.parser().parse_args(["lotfi-mnist1d", "--seeds", "3", "--jobs", "2"])
    assert args.seeds == 3 and args.jobs == 2
    with pytest.raises(ValueError, match="n_seeds"):
        seeds.run_seeds("lotfi-mnist1d", n_seeds=0)
    with pytest.raises(ValueError, match="jobs"):
        seeds.run_seeds("lotfi-mnist1d", n_seeds=1, jobs=0)


def test_load_summary_and_check_seed(tmp_path):
    import json
    runs = [{"headline": {"acc": 0.5, "epoch s": 1.0, "div": float("nan")}},
            {"headline": {"acc": 0.7, "epoch s": 2.0, "div": 1.0}}]
    path = tmp_path / "x-seeds.json"
    path.write_text(json.dumps({"name": "x", "seeds": [0, 1], "summary": seeds.summarize(runs)}))
    s = seeds.load_summary(path)
    assert s["acc"]["values"] == [0.5, 0.7] and "0.6 ± 0.14" in seeds.format_summary(s)
    # wall-clock labels are skipped, NaN equals NaN, labels absent from the run are ignored
    assert seeds.check_seed({"acc": 0.5, "epoch s": 9.0, "div": float("nan")}, s) == 2
    assert seeds.check_seed({"acc": 0.7, "other": 3.0}, s, index=1) == 1
    with pytest.raises(AssertionError, match="acc"):
        seeds.check_seed({"acc": 0.5 + 1e-6}, s)
    with pytest.raises(AssertionError, match="no headline label"):
        seeds.check_seed({"other": 1.0}, s)
