"""Reference fixtures: export / load / compare round trips, failure detection, CLI codes.

These tests need no other framework: they check that a fixture is self-describing and
complete, that ``compare`` catches every kind of disagreement (a perturbed tensor, a missing
name, a shape mismatch, different headers), that every available cell has a fixture in the
``export-all`` suite, and that the command line's exit codes say pass / fail / unusable.
"""
from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from snn_from_scratch import cells, proofs, reference
from snn_from_scratch.cli import main as cli_main
from snn_from_scratch.runtime import jsonable, parse_config

AVAILABLE = cells.available()


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    reference.export_all(d)
    return d


def test_every_available_cell_has_a_fixture(suite_dir):
    """Fails as soon as a cell in cells.REGISTRY is implemented but export-all skips it."""
    index = json.loads((suite_dir / "index.json").read_text())
    exported = {f["cell"] for f in index["fixtures"]}
    missing = sorted(set(AVAILABLE) - exported)
    assert not missing, f"available cells without a fixture in export-all: {missing}"
    assert reference.missing_fixtures(suite_dir) == []
    for f in index["fixtures"]:
        assert (suite_dir / f["file"]).exists()
    # one file per distinct configuration, named after the readable proof label
    configs = [(f["cell"], json.dumps(f["config_given"], sort_keys=True)) for f in index["fixtures"]]
    assert len(set(configs)) == len(configs)
    files = {f["file"] for f in index["fixtures"]}
    assert len(files) == len(index["fixtures"])
    assert all(re.fullmatch(r"[a-z_]+__[a-z0-9._-]+\.npz", f) for f in files), sorted(files)
    assert "rnn__default.npz" in files
    if "lif" in AVAILABLE:
        assert "lif__binary_synaptic_zero_reset_detached_reset.npz" in files


def test_slug():
    assert reference.slug("v1, 6-bit, subtract reset, learnable alpha & threshold") == \
        "v1_6-bit_subtract_reset_learnable_alpha_and_threshold"
    assert reference.slug("the paper's defaults") == "the_papers_defaults"
    assert reference.slug("cell_grad=constant, gamma=0.7") == "cell_grad_constant_gamma_0.7"
    assert reference.slug("ReLU bypass, detached recurrence (the paper's)") == \
        "relu_bypass_detached_recurrence_the_papers"


def test_missing_fixture_is_detected(suite_dir):
    """The check above can fail: drop one cell's fixtures from the index and it is reported."""
    index = json.loads((suite_dir / "index.json").read_text())
    dropped = AVAILABLE[-1]
    index["fixtures"] = [f for f in index["fixtures"] if f["cell"] != dropped]
    assert reference.missing_fixtures(index) == [dropped]


def test_every_proofs_configuration_is_exported():
    """Every configuration of the proof table (the key options) appears in the suite, once."""
    def full(name, cfg):
        return name, json.dumps(jsonable(dataclasses.asdict(cells.make(name, 2, 2, **cfg).config)), sort_keys=True)

    suite = reference.standard_suite()
    have = [full(n, c) for _, n, c in suite]
    assert len(set(have)) == len(have)  # one fixture per distinct configuration
    for name in AVAILABLE:
        for label, (cfg, _) in proofs.proofs_of(name).items():
            assert full(name, cfg) in have, (name, label)


def test_lif_surrogate_families_all_exported():
    if "lif" not in AVAILABLE:
        pytest.skip("lif not implemented yet")
    from snn_from_scratch import surrogates

    fams = {c.get("surrogate", "triangle") for _, n, c in reference.standard_suite(["lif"])
            if c.get("output", "binary") == "binary"}
    assert set(surrogates.FAMILIES) <= fams


def test_standard_suite_exports_a_cell_without_proofs(monkeypatch):
    """A registered cell that is available is exported even without a proof table entry."""
    monkeypatch.delitem(proofs.PROOFS, "rnn")
    suite = reference.standard_suite(["rnn"])
    assert [(s, n) for s, n, _ in suite] == [("rnn__default", "rnn")]


@pytest.mark.parametrize("name", AVAILABLE)
def test_fixture_is_self_describing(name, tmp_path):
    cfg = next(iter(proofs.proofs_of(name).values()))[0]
    path = tmp_path / f"{name}.npz"
    reference.export(name, path, cfg)
    header, arrays = reference.load(path)
    assert header["format"] == reference.FORMAT_VERSION
    assert header["cell"] == name and header["dtype"] == "float64"
    cell = cells.make(name, 4, 5, **cfg)
    assert header["config"] == json.loads(json.dumps(jsonable(dataclasses.asdict(cell.config))))
    assert set(header["rules"]) == {"surrogate", "detach", "other"}
    assert header["seeds"] == {"params": 0, "data": 1}
    assert header["spike_input"] == (name in proofs.SPIKE_INPUT)
    if header["spike_input"]:
        assert set(np.unique(arrays["x"])) <= {0.0, 1.0}
    if cfg.get("output", getattr(cell.config, "output", None)) == "multibit":
        assert header["b"] == reference.DEFAULT_B
    T, B, n, H = (header["sizes"][k] for k in ("T", "B", "n_in", "n_hidden"))
    expect = {"x": (T, B, n), "dy": (T, B, H), "y": (T, B, H), "dx": (T, B, n)}
    fields = reference.fixture_fields(name, dataclasses.asdict(cell.config))
    assert header["state_fields"] == fields and header["state"]
    for f in fields:
        expect[f"state0/{f}"] = expect[f"state_final/{f}"] = (B, H)
    for k, v in cell.params.items():
        expect[f"params/{k}"] = expect[f"grads/{k}"] = v.shape
    assert {k: a.shape for k, a in arrays.items()} == expect
    assert all(a.dtype == np.float64 for a in arrays.values())
    for k, s in header["shapes"].items():
        assert tuple(s) == arrays[k].shape


@pytest.mark.parametrize("name", AVAILABLE)
def test_fixture_reproduces_the_library(name):
    """Replaying the fixture's params/x/state0/dy through the cell gives its results."""
    cfg = next(iter(proofs.proofs_of(name).values()))[0]
    header, a = reference.fixture_arrays(name, cfg)
    cell = cells.make(name, header["sizes"]["n_in"], header["sizes"]["n_hidden"], seed=123, **cfg)
    cell.training = False
    for k in cell.params:
        cell.params[k][...] = a[f"params/{k}"]
    if header["b"] is not None:
        cell.b = header["b"]
    state = reference.initial_state(cell, a)
    y, cache = cell.forward(a["x"], state)
    dx, grads = cell.backward(a["dy"], cache)
    theirs = {"y": y, "dx": dx, **{f"grads/{k}": v for k, v in grads.items()},
              **{f"state_final/{f}": v for f, v in zip(cell.State._fields, cache["final_state"])
                 if f in header["state_fields"]}}
    res = reference.compare(a, theirs, tol=0.0)
    assert res.ok, res.table()


def test_round_trip_and_identical_compare(tmp_path):
    p = tmp_path / "a.npz"
    h0 = reference.export("rnn", p)
    h1, arrays = reference.load(p)
    assert h0 == h1
    res = reference.compare(p, p)
    assert res.ok and res.max_error == 0.0
    assert len(res.rows) == len(arrays)


def _copy(a):
    return {k: v.copy() for k, v in a.items()}


@pytest.fixture(scope="module")
def lif_fixture():
    name = "lif" if "lif" in AVAILABLE else "rnn"
    return reference.fixture_arrays(name, {})


def test_compare_detects_a_perturbed_tensor(lif_fixture):
    header, a = lif_fixture
    b = _copy(a)
    b["grads/W"][0, 0] *= 1 + 1e-8
    res = reference.compare(a, b, tol=1e-10)
    assert not res.ok
    bad = [r.name for r in res.rows if not r.ok]
    assert bad == ["grads/W"]
    assert 1e-10 < res.max_error < 1e-7
    assert reference.compare(a, b, tol=1e-6).ok   # within a looser tolerance


def test_compare_detects_missing_and_unexpected_names(lif_fixture):
    _, a = lif_fixture
    b = _copy(a)
    del b["dx"]
    res = reference.compare(a, b)
    assert not res.ok and any("missing tensor 'dx'" in p for p in res.problems)
    b = _copy(a)
    b["grads/extra"] = np.zeros(3)
    res = reference.compare(a, b)
    assert not res.ok and any("unexpected tensor 'grads/extra'" in p for p in res.problems)
    # inputs may be left out of the other framework's file: only results are required
    b = {k: v for k, v in a.items() if k.startswith(("grads/", "state_final/")) or k in ("y", "dx")}
    assert reference.compare(a, b).ok


def test_compare_detects_shape_mismatch(lif_fixture):
    _, a = lif_fixture
    b = _copy(a)
    b["grads/W"] = b["grads/W"].T.copy()
    res = reference.compare(a, b)
    assert not res.ok and any("shape mismatch for 'grads/W'" in p for p in res.problems)
    assert "PROBLEM" in res.table()


def test_compare_detects_different_inputs_and_headers(tmp_path):
    _, a = reference.fixture_arrays("rnn", {})
    b = _copy(a)
    b["x"] = b["x"] + 1e-6
    res = reference.compare(a, b)
    assert not res.ok and [r.name for r in res.rows if not r.ok] == ["x"]
    reference.export("rnn", tmp_path / "r.npz")
    reference.export("gru", tmp_path / "g.npz")
    res = reference.compare(tmp_path / "r.npz", tmp_path / "g.npz")
    assert not res.ok and any("headers differ in 'cell'" in p for p in res.problems)


def test_compare_nan_fails_and_bad_tol_is_refused(lif_fixture):
    _, a = lif_fixture
    b = _copy(a)
    b["y"][0, 0, 0] = np.nan
    assert not reference.compare(a, b).ok
    with pytest.raises(ValueError, match="tol"):
        reference.compare(a, a, tol=-1)


def test_rel_error_is_normwise():
    assert reference.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert reference.rel_error(np.array([1.0, 0.0]), np.array([1.0, 1e-12])) == pytest.approx(1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown cell"):
        reference.fixture_arrays("nope", {})
    with pytest.raises(ValueError, match="unknown config key"):
        reference.fixture_arrays("rnn", {"bogus": 1})
    with pytest.raises(ValueError, match="unknown size"):
        reference.fixture_arrays("rnn", {}, depth=3)
    with pytest.raises(ValueError, match=".npz"):
        reference.export("rnn", "out.txt")
    with pytest.raises(FileNotFoundError):
        reference.load("/nonexistent/fixture.npz")
    # the one --config parser (runtime.parse_config) reads JSON and Python literals
    assert parse_config(["reset=zero", "alpha=0.8", "synaptic=false", 'surrogate_params={"a": 3}']) == {
        "reset": "zero", "alpha": 0.8, "synaptic": False, "surrogate_params": {"a": 3}}
    with pytest.raises(ValueError, match="key=value"):
        parse_config(["reset"])


def test_cli_exit_codes(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    name = "lif" if "lif" in AVAILABLE else "rnn"
    args = ["reference", "export", "--cell", name, "--out", str(a)]
    if name == "lif":
        args += ["--config", "reset=zero", "--config", "surrogate=atan",
                 "--config", 'surrogate_params={"a": 3.0}']
    assert cli_main(args) == 0
    h, arr = reference.load(a)
    if name == "lif":
        assert h["config"]["reset"] == "zero" and h["config"]["surrogate_params"] == {"a": 3.0}
    assert cli_main(["reference", "compare", str(a), str(a)]) == 0
    assert "PASS" in capsys.readouterr().out
    arr = dict(arr, __header__=json.dumps(h))
    arr["dx"] = arr["dx"] * (1 + 1e-9)
    np.savez(b, **arr)
    assert cli_main(["reference", "compare", str(a), str(b)]) == 1
    assert cli_main(["reference", "compare", str(a), str(b), "--tol", "1e-6"]) == 0
    assert cli_main(["reference", "compare", str(a), str(tmp_path / "missing.npz")]) == 2
    assert cli_main(["reference", "export", "--cell", "nope", "--out", str(b)]) == 2
    assert cli_main(["reference", "export", "--cell", "rnn", "--config", "bogus=1", "--out", str(b)]) == 2
    assert cli_main(["reference"]) == 2
    assert cli_main(["reference", "export-all", "--out", str(tmp_path / "suite")]) == 0
    assert (tmp_path / "suite" / "index.json").exists()


# --------------------------------------------------------------------------------------
# initial states consistent with the dynamics (issue 13), the conformance fixtures
# --------------------------------------------------------------------------------------
def _lif_suite():
    return [(stem, c) for stem, n, c in reference.standard_suite(["lif"])]


@pytest.mark.parametrize("stem,config", _lif_suite()[::3], ids=[s for s, _ in _lif_suite()[::3]])
def test_lif_initial_state_is_consistent(stem, config):
    """state0/Y is the spike H(V0 - theta) (>= with spike_at_threshold) or the level of V0;
    with the same-step reset state0/V is V0 after that reset; no I without a synaptic current."""
    from snn_from_scratch.cells import lif as L

    h, a = reference.fixture_arrays("lif", config)
    c = h["config"]
    Y, M = a["state0/Y"], a["state0/V"]
    assert ("state0/I" in a) == c["synaptic"] and ("state_final/I" in a) == c["synaptic"]
    if c["output"] == "binary":
        theta = a.get("params/threshold", c["threshold"])
        assert set(np.unique(Y)) <= {0.0, 1.0}
        if c["reset_timing"] == "next_step":
            want = (M >= theta) if c["spike_at_threshold"] else (M > theta)
            np.testing.assert_array_equal(Y, want.astype(float))
        elif c["reset"] == "zero":
            assert np.all(M[Y == 1] == 0)
        else:   # subtract: V0 = M + theta*Y was (not) above threshold
            V0 = M + theta * Y
            want = (V0 >= theta) if c["spike_at_threshold"] else (V0 > theta)
            np.testing.assert_array_equal(Y, want.astype(float))
    else:
        cell = cells.make("lif", 4, 5, **h["config_given"])
        cell.b = h["b"]
        sc = cell.step_config()
        V0 = M + Y if c["reset_timing"] == "same_step" else M
        q = L.quantize(V0, sc.b, sc.n_bits, sc.threshold_levels, sc.signed, sc.spike_at_threshold,
                       sc.scale_margin)[0]
        np.testing.assert_allclose(Y, q, rtol=0, atol=1e-15)
    assert 0 < Y.mean() or c["output"] != "binary"   # some units start above threshold


def test_spiking_lstm_initial_state_is_spikes():
    h, a = reference.fixture_arrays("spiking_lstm", {})
    c0, h0 = a["state0/c"], a["state0/h"]
    assert set(np.unique(c0)) <= {0.0, 1.0} and set(np.unique(h0)) <= {0.0, 1.0}
    assert np.all(h0 <= c0)


def test_real_valued_states_are_the_drawn_ones():
    """Cells with real-valued states keep the draws of earlier versions (values unchanged)."""
    h, a = reference.fixture_arrays("rnn", {})
    rng = np.random.default_rng(1)
    T, B, n, H = (h["sizes"][k] for k in ("T", "B", "n_in", "n_hidden"))
    np.testing.assert_array_equal(a["x"], rng.standard_normal((T, B, n)))
    np.testing.assert_array_equal(a["state0/h"], 0.5 * rng.standard_normal((B, H)))


def test_conformance_suite_covers_families_and_neurons():
    from snn_from_scratch import surrogates

    suite = reference.conformance_suite()
    fams = {c["surrogate"] for _, c in suite}
    assert fams == set(surrogates.FAMILIES)
    for words, opts in reference.CONFORMANCE_NEURONS:
        got = {c["surrogate"] for label, c in suite if label.startswith(f"conformance: {words},")}
        assert got == set(surrogates.FAMILIES), words
    stems = {s for s, _, _ in reference.standard_suite(["lif"])}
    assert len([s for s in stems if s.startswith("lif__conformance")]) == len(suite)
    timings = {(c.get("reset_timing", "next_step"), c.get("spike_at_threshold", False),
                c.get("detach_reset", False), c.get("synaptic", True)) for _, c in suite}
    assert ("same_step", True, False, False) in timings and ("next_step", False, True, False) in timings
