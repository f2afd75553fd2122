"""The standalone example examples/lif_bptt.py ("one screen of BPTT").

It re-derives the LIF layer's backward pass without the library, so it must (1) agree with
the library's lif cell to round-off, (2) pass its own finite-difference check, (3) have a
check that fails on a planted bug, and (4) run end to end in fast mode, learning something.
"""
import ast
import importlib.util
import inspect
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from snn_from_scratch import cells
from snn_from_scratch.gradcheck import rel_error

PATH = Path(__file__).resolve().parents[1] / "examples" / "lif_bptt.py"


@pytest.fixture(scope="module")
def ex():
    """The example, imported by path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("lif_bptt_example", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_is_standalone():
    """NumPy and the mnist1d data package only: the point is that it stands alone."""
    tree = ast.parse(PATH.read_text())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert mods <= {"os", "numpy", "mnist1d"}, mods


# Generic points: a threshold other than 1 and decays off the 0.9 default, distinct.
@pytest.mark.parametrize("alpha, beta, gamma, T", [(0.85, 0.75, 0.7, 7), (0.95, 0.6, 1.3, 1),
                                                   (0.7, 0.9, 0.45, 12)])
def test_lif_layer_equals_library(ex, alpha, beta, gamma, T):
    rng = np.random.default_rng(1)
    n_in, H, B = 3, 5, 4
    x = rng.standard_normal((T, B, n_in))
    W = 0.8 * rng.standard_normal((n_in, H))
    dy = rng.standard_normal((T, B, H))

    S, cache = ex.lif_forward(x, W, alpha, beta, gamma)
    dx, dW = ex.lif_backward(dy, cache, alpha, beta, gamma)

    cell = cells.make("lif", n_in, H, dtype=np.float64, synaptic=True, alpha=alpha, beta=beta,
                      threshold=gamma, reset="subtract", surrogate="triangle")
    cell.params["W"] = W.copy()
    y, lcache = cell.forward(x)
    dx_lib, grads = cell.backward(dy, lcache)

    np.testing.assert_array_equal(S, y)
    if T > 1:  # the comparison is only meaningful if spikes and resets happen
        assert 0 < S.mean() < 1
    assert np.any(ex.surrogate(cache[2]) > 0)
    assert rel_error(dx, dx_lib, floor=1e-12) < 1e-12
    assert rel_error(dW, grads["W"], floor=1e-12) < 1e-12


def _problem(ex, seed=0):
    rng = np.random.default_rng(seed)
    T, B, n_in, H = 6, 3, 4, 5
    params = {"W": 0.7 * rng.standard_normal((n_in, H)), "Wo": rng.standard_normal((H, 10)),
              "bo": 0.1 * rng.standard_normal(10)}
    x = rng.standard_normal((T, B, n_in))
    y = rng.integers(0, 10, B)
    return params, x, y


def test_gradcheck_passes(ex):
    params, x, y = _problem(ex)
    S, cache = ex.lif_forward(x, params["W"], ex.ALPHA, ex.BETA, ex.GAMMA)
    assert 0 < S.mean() < 1                       # a real spiking trajectory
    # the frozen twin is the real network at the nominal point
    U = cache[2]
    S_twin, _ = ex.lif_forward(x, params["W"], ex.ALPHA, ex.BETA, ex.GAMMA,
                               frozen=ex.heaviside(U) - ex.primitive(U))
    np.testing.assert_allclose(S_twin, S, rtol=0, atol=1e-15)
    errors = ex.gradcheck(params, x, y)
    assert set(errors) == {"W", "Wo", "bo", "x"}
    assert max(errors.values()) < 1e-7, errors


# Planted bugs in lif_backward (a line of its source, rewritten): each one must fail the check.
BUGS = {
    "dropped reset term": ("dS_reset = -gamma * dV", "dS_reset = 0 * dV"),
    "dropped synaptic carry": ("dI = dV + beta * dI_next", "dI = dV"),
    "dropped membrane carry": ("+ alpha * dV_next", ""),
    "reset with the wrong sign": ("dS_reset = -gamma * dV", "dS_reset = gamma * dV"),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_gradcheck_catches_planted_bug(ex, bug, monkeypatch):
    old, new = BUGS[bug]
    src = textwrap.dedent(inspect.getsource(ex.lif_backward))
    assert src.count(old) == 1, f"the planted bug {bug!r} no longer matches the source"
    namespace = dict(vars(ex))
    exec(compile(src.replace(old, new), str(PATH), "exec"), namespace)
    monkeypatch.setattr(ex, "lif_backward", namespace["lif_backward"])
    params, x, y = _problem(ex)
    errors = ex.gradcheck(params, x, y)
    assert errors["W"] > 1e-3 and errors["x"] > 1e-3, errors


def test_main_runs_fast_and_learns(ex, monkeypatch, capsys):
    monkeypatch.setenv("SNN_FAST", "1")
    errors, acc = ex.main()
    out = capsys.readouterr().out
    assert max(errors.values()) < 1e-7 and " ok" in out
    losses = [float(v) for v in re.findall(r"batches (\d+\.\d+)", out)]
    assert len(losses) >= 3 and losses[-1] < losses[0] - 0.1, out
    assert acc > 0.15, out
