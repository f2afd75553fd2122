"""Smoke tests of ``benchmarks/`` (tiny sizes, no timed assertions) and of the rule that the
package imports no framework.

The benchmark runs without PyTorch (its torch columns stay empty); the tests that need
PyTorch skip with a message when it is not installed.
"""
from __future__ import annotations

import ast
import json
import pathlib
import sys
from typing import NamedTuple

import numpy as np
import pytest

# benchmarks/ and validation/ sit at the repository root, beside tests/ (pytest.ini's
# `pythonpath = .` puts the root on sys.path; this keeps the file runnable without it).
ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchmarks import bench, memory, scaling, sparsity  # noqa: E402
from snn_from_scratch import cells  # noqa: E402

HAVE_TORCH = bench.torch_available()
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is an optional validation extra "
                                                        "(pip install -r requirements-validation.txt)")
HAVE_JAX = bench.jax_available()
needs_jax = pytest.mark.skipif(not HAVE_JAX, reason="JAX is an optional benchmark extra "
                                                    "(pip install -r requirements-bench.txt)")
TINY = dict(B=2, T=3, H=4, n_in=3)


def test_the_package_imports_no_framework():
    """No module of snn_from_scratch imports torch, snntorch, jax & co. (docs/design.md)."""
    frameworks = {"torch", "snntorch", "jax", "tensorflow", "norse", "spikingjelly"}
    bad = []
    for path in sorted((ROOT / "snn_from_scratch").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} {m}" for m in mods
                    if m.split(".")[0] in frameworks]
    assert not bad, bad


# --------------------------------------------------------------------------------------
# the cache measure
# --------------------------------------------------------------------------------------
class _Cache(NamedTuple):
    a: object
    b: object
    c: object


def test_cache_bytes_counts_each_buffer_once():
    big = np.zeros((5, 4, 3), np.float32)              # 240 bytes
    other = np.zeros((4, 3), np.float64)               # 96 bytes
    x = np.ones((5, 4, 2), np.float32)                 # the caller's input: not counted
    steps = [_Cache(big[t], None, x[t]) for t in range(5)]   # views of one buffer, unread None
    cache = {"caches": steps, "stacked": big, "mask": other > 0, "final_state": _Cache(other, other[0], None),
             "y_shape": (5, 4, 3), "config": object()}
    assert memory.cache_bytes(cache, exclude=(x,)) == 240 + 96 + 12
    assert memory.cache_bytes(cache) == 240 + 96 + 12 + x.nbytes
    assert memory.cache_bytes({"caches": [_Cache(None, None, None)]}) == 0


def test_cache_contents_names_the_kept_fields():
    a = np.zeros((2, 3), np.float32)
    cache = {"caches": [_Cache(a, None, a), _Cache(a, None, a)], "x": np.zeros((2, 3, 4)),
             "final_state": _Cache(a, a, a), "y_shape": (2, 3, 4)}
    assert memory.cache_contents(cache) == {"caches": "2 x _Cache(a, c)", "x": "float64[2, 3, 4]",
                                            "final_state": "_Cache(a, b, c)"}


def test_min_cache_bytes():
    assert memory.min_cache_bytes("lstm", 2, 3, 4) == 6 * 2 * 3 * 4 * 4
    assert memory.min_cache_bytes("nonexistent", 2, 3, 4) is None
    assert set(memory.MIN_VALUES_PER_UNIT) >= set(bench.REFERENCE)


@pytest.mark.parametrize("name", sorted(bench.REFERENCE))
def test_memory_of_every_benchmarked_cell(name):
    if name not in cells.available():
        pytest.skip(f"{name} is not available in this version")
    cb, peak = bench.measure_memory(name, bench.REFERENCE[name][0], TINY)
    assert 0 < cb <= peak


# --------------------------------------------------------------------------------------
# the benchmark, fast mode
# --------------------------------------------------------------------------------------
def test_fast_run_without_torch(monkeypatch):
    monkeypatch.setattr(bench, "FAST", {k: (c, TINY) for k, (c, _) in bench.FAST.items()})
    res = bench.run(fast=True, repeats=1, with_torch=False, with_jax=False, threads=None, stream=None)
    names = [r["cell"] for r in res["rows"]]
    assert names == [n for n in bench.REFERENCE if n in cells.available()]
    for r in res["rows"]:
        assert r["ours_s"] > 0 and r["torch_s"] is None and r["jax_s"] is None and r["cache_ratio"] > 0
        assert r["call_floor_s"] > 0 and r["cpu_per_wall"]["ours"] > 0
    assert "ratios" in res["table"] and "torch columns are empty" in res["table"]
    assert "targets (read off, never asserted)" in res["table"]
    assert "lstm" in res["table"].split("targets")[1]    # the lstm's own targets are listed


@needs_torch
def test_fast_run_with_torch_and_cli(tmp_path, capsys):
    assert bench.main(["--fast", "--cell", "lif", "--cell", "lstm", "--repeats", "1",
                       "--threads", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lif" in out and "ratios" in out and "fused ms" in out and "ours/fused" in out
    res = json.loads((tmp_path / "bench_fast.json").read_text())
    assert res["threads"] == 1
    assert all(r["torch_s"] > 0 and r["agree"] < 1e-10 for r in res["rows"])
    assert bench.main(["--repeats", "0"]) == 2
    assert bench.main(["--threads", "0"]) == 2


@needs_torch
@pytest.mark.parametrize("name", sorted(bench.REFERENCE))
def test_timed_torch_versions_compute_our_numbers(name):
    """The PyTorch step the benchmark times computes what ours computes (else the ratio is
    moot): same y, dx and parameter gradients in float64, under the benchmark's configs."""
    if name not in cells.available():
        pytest.skip(f"{name} is not available in this version")
    res = bench.agreement(name, bench.REFERENCE[name][0])
    assert res.ok, res.table()


@needs_torch
def test_fused_lstm_holds_our_weights():
    import torch

    step = bench.torch_step("lstm", {}, TINY, fused=True)
    ph = step()
    assert ph["step"] > 0 and set(ph) == {"step", "forward", "backward", "adam"}
    cell, _ = bench.make_ours("lstm", {}, TINY)
    from validation import torch_cells as tc

    mod = tc.to_torch_nn("lstm", cell.params, dtype=torch.float32)
    x, _ = bench.inputs("lstm", TINY)
    y, _ = cell.forward(x)
    np.testing.assert_allclose(mod(torch.from_numpy(x))[0].detach().numpy(), y, rtol=1e-4, atol=1e-5)


@needs_torch
def test_fused_row_and_table_columns():
    res = bench.run(fast=True, names=["lstm"], repeats=1, with_jax=False, threads=None, stream=None)
    (r,) = res["rows"]
    assert r["torch_nn_s"] > 0 and r["ratio_fused"] == pytest.approx(r["ours_s"] / r["torch_nn_s"])
    assert "torch.compile skipped in fast mode" in res["table"]


@needs_torch
@pytest.mark.parametrize("name", sorted(bench.REFERENCE))
def test_compiled_step_functions_compute_our_numbers(name):
    """What the benchmark hands to torch.compile (benchmarks/torch_compiled.py), run
    uncompiled in float64, computes our y, dx and gradients."""
    res = bench.agreement(name, bench.REFERENCE[name][0], peer="compile")
    assert res.ok, res.table()


# --------------------------------------------------------------------------------------
# JAX (optional)
# --------------------------------------------------------------------------------------
def test_jax_is_optional():
    from benchmarks import jax_cells

    assert jax_cells.available() == HAVE_JAX
    if not HAVE_JAX:
        res = bench.run(fast=True, names=["lif"], repeats=1, with_torch=False, threads=None, stream=None)
        assert "JAX not installed" in res["table"] and res["rows"][0]["jax_s"] is None


@needs_jax
@pytest.mark.parametrize("name", sorted(bench.REFERENCE))
def test_jax_versions_compute_our_numbers(name):
    """The JAX step the benchmark times (custom_jvp spikes and quantizer, lax.scan) computes
    our y, dx and parameter gradients in float64."""
    res = bench.agreement(name, bench.REFERENCE[name][0], peer="jax")
    assert res.ok, res.table()


@needs_jax
def test_jax_step_and_row():
    step = bench.jax_step("src", bench.REFERENCE["src"][0], TINY)
    assert step()["step"] > 0 and step()["step"] > 0
    res = bench.run(fast=True, names=["lif"], repeats=1, with_torch=False, with_jax=True, threads=1,
                    stream=None)
    (r,) = res["rows"]
    assert r["jax_s"] > 0 and r["ratio_jax"] > 0 and r["jax_agree"] < 1e-10
    assert "XLA_FLAGS" in res["pinned"] and "ours/JAX" in res["table"]


def test_jax_refuses_other_configurations():
    from benchmarks import jax_cells

    with pytest.raises(ValueError, match="benchmark's configuration"):
        jax_cells._check_config("lif", {"synaptic": False})


# --------------------------------------------------------------------------------------
# sparsity and scaling, fast mode
# --------------------------------------------------------------------------------------
def test_sparsity_fast():
    res = sparsity.run(fast=True)
    assert len(res["sweep"]) == 2 and len(res["layers"]) == 2
    for r in res["layers"]:
        assert r["v2_dense"] > 0 and r["v2_events"] > 0 and r["gru"] > 0
        assert r["mults_gru"] > r["mults_v2"] > 0
    assert "event-driven" in res["table"]
    assert sparsity.crossover([(0.1, 2.0, 1.0), (0.5, 1.0, 2.0)]) == 0.1
    assert sparsity.crossover([(0.5, 1.0, 2.0)]) is None


def test_scaling_fast_and_exponent(tmp_path):
    pts = [(x, 3.0 * x ** 1.5, 2.0 * x, 1.0) for x in (1, 10, 100)]
    assert scaling.exponent(pts) == pytest.approx(1.5)
    assert scaling.exponent(pts, col=2, min_x=10) == pytest.approx(1.0)
    assert scaling.exponent(pts[:1]) is None
    res = scaling.run(fast=True, names=["lif", "lstm"], out=tmp_path, stream=None)
    assert set(res["results"]) == {"lif", "lstm"}
    for r in res["results"].values():
        assert [p[0] for p in r["T"]] == list(scaling.FAST[1])
        assert r["slopes"]["T"]["cache"] == pytest.approx(1.0, abs=0.2)   # a cache of T steps
    assert all(pathlib.Path(p).exists() for p in res["plots"])
