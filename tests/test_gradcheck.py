"""Tests of snn_from_scratch.gradcheck: the machinery every other proof relies on.

The checker itself is proven here on small "toy" cells written in this file, whose
backward passes are derived by hand in their docstrings:

* ``ToySpiking``: y[t] = H(x[t] W + y[t-1] U - theta), a recurrent spiking layer;
* ``ToyLIF``: V[t] = alpha V[t-1] (1 - stop(S[t-1])) + x[t] W, S[t] = H(V[t] - 1) --
  a reset through ``detach``;
* ``ToyQuantizer``: y[t] = clip(round(4 x[t] W)/4, -1, 1) through ``straight_through``
  with the clipped identity as proxy.

Each is proven by the frozen and the smooth twin, and each has a planted bug (a dropped or
wrong term, selected by the ``bug`` config field) that the same check must reject: a
check that cannot fail proves nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

from snn_from_scratch import cells
from snn_from_scratch.ops import EXACT, Ops
from snn_from_scratch.cells import rnn as rnn_module
from snn_from_scratch.cells.base import Cell
from snn_from_scratch.gradcheck import (Report, TensorCheck, Twin, check_cell, check_function,
                                        numerical_gradient, rel_error)
from snn_from_scratch.surrogates import get as get_surrogate


# ======================================================================================
# Toy cells
# ======================================================================================
class SpikeState(NamedTuple):
    y: np.ndarray  # (B, H)


@dataclass(frozen=True)
class SpikeConfig:
    theta: float = 0.5
    surrogate: str = "gaussian"
    a: float = 1.0          # the Gaussian's width parameter
    bug: str = ""           # "" (correct) | "drop_recurrent" | "scale_input"


class ToySpiking(Cell):
    """y[t] = H(u[t]),  u[t] = x[t] W + y[t-1] U - theta.

    Backward (surrogate rule H'(u) := g(u)), with dy[t] the upstream gradient:
        gy[t] = dy[t] + du[t+1] U^T        (y[t] feeds u[t+1] through U)
        du[t] = gy[t] * g(u[t])
        dW = sum_t x[t]^T du[t],  dU = sum_t y[t-1]^T du[t],  dx[t] = du[t] W^T.
    ``y[t-1]`` is the cached forward value (in the smooth twin it is primitive(u), not 0/1).
    """

    name = "toy_spiking"
    Config = SpikeConfig
    State = SpikeState

    @property
    def surrogate(self):
        return get_surrogate("gaussian", a=self.config.a)

    def _init_params(self, rng):
        H = self.n_hidden
        return {"W": rng.standard_normal((self.n_in, H)), "U": 0.7 * rng.standard_normal((H, H))}

    def _forward(self, x, state, ops):
        T, B, _ = x.shape
        p, sur = self.params, self.surrogate
        A = (x.reshape(T * B, -1) @ p["W"]).reshape(T, B, -1)
        ys = np.empty((T + 1, B, self.n_hidden))
        us = np.empty((T, B, self.n_hidden))
        ys[0] = state.y
        for t in range(T):
            us[t] = A[t] + ys[t] @ p["U"] - self.config.theta
            ys[t + 1] = ops.heaviside(us[t], sur)
        return ys[1:], {"x": x, "ys": ys, "us": us, "final_state": SpikeState(ys[-1])}

    def _backward(self, dy, cache):
        x, ys, us = cache["x"], cache["ys"], cache["us"]
        T, B, _ = x.shape
        p, sur, bug = self.params, self.surrogate, self.config.bug
        dU_pre = np.empty_like(dy)
        carry = np.zeros_like(dy[0])
        for t in reversed(range(T)):
            du = (dy[t] + carry) * sur.grad(us[t])
            dU_pre[t] = du
            carry = 0.0 * du if bug == "drop_recurrent" else du @ p["U"].T
        D = dU_pre.reshape(T * B, -1)
        grads = {"W": x.reshape(T * B, -1).T @ D, "U": ys[:-1].reshape(T * B, -1).T @ D}
        if bug == "scale_input":
            grads["W"] = grads["W"] * (1 + 1e-4)
        return (D @ p["W"].T).reshape(x.shape), grads


class LIFState(NamedTuple):
    V: np.ndarray
    S: np.ndarray


@dataclass(frozen=True)
class LIFConfig:
    alpha: float = 0.8
    detach_reset: bool = True
    bug: str = ""           # "" | "ignore_detach" (backward through the reset anyway)
                            #    | "drop_reset_path" (forward not detached, backward drops it)


class ToyLIF(Cell):
    """V[t] = alpha V[t-1] (1 - R[t-1]) + x[t] W,  S[t] = H(V[t] - 1),
    R[t-1] = stop(S[t-1]) when ``detach_reset`` else S[t-1].

    Backward (triangle surrogate g), carrying gV from V[t+1] to V[t]:
        gS[t] = dy[t] + [not detached] gV[t+1] * (-alpha V[t])
        gV[t] = gS[t] g(V[t] - 1) + gV[t+1] alpha (1 - S[t])
        dW = sum_t x[t]^T gV[t],  dx[t] = gV[t] W^T.
    """

    name = "toy_lif"
    Config = LIFConfig
    State = LIFState
    surrogate = get_surrogate("triangle", height=1.0, width=1.0)

    def _init_params(self, rng):
        return {"W": 1.5 * rng.standard_normal((self.n_in, self.n_hidden))}

    def _forward(self, x, state, ops):
        T, B, _ = x.shape
        a, sur = self.config.alpha, self.surrogate
        I = (x.reshape(T * B, -1) @ self.params["W"]).reshape(T, B, -1)
        Vs = np.empty((T + 1, B, self.n_hidden))
        Ss = np.empty((T + 1, B, self.n_hidden))
        Vs[0], Ss[0] = state.V, state.S
        for t in range(T):
            R = ops.detach(Ss[t]) if self.config.detach_reset else Ss[t]
            Vs[t + 1] = a * Vs[t] * (1 - R) + I[t]
            Ss[t + 1] = ops.heaviside(Vs[t + 1] - 1.0, sur)
        return Ss[1:], {"x": x, "Vs": Vs, "Ss": Ss, "final_state": LIFState(Vs[-1], Ss[-1])}

    def _backward(self, dy, cache):
        x, Vs, Ss = cache["x"], cache["Vs"], cache["Ss"]
        T, B, _ = x.shape
        a, sur, bug = self.config.alpha, self.surrogate, self.config.bug
        through_reset = (not self.config.detach_reset and bug != "drop_reset_path") or bug == "ignore_detach"
        gVs = np.empty_like(dy)
        gV_next = np.zeros_like(dy[0])
        for t in reversed(range(T)):
            gS = dy[t] + (gV_next * (-a * Vs[t + 1]) if through_reset else 0.0)
            gV = gS * sur.grad(Vs[t + 1] - 1.0) + gV_next * a * (1 - Ss[t + 1])
            gVs[t], gV_next = gV, gV
        G = gVs.reshape(T * B, -1)
        return (G @ self.params["W"].T).reshape(x.shape), {"W": x.reshape(T * B, -1).T @ G}


class QState(NamedTuple):
    h: np.ndarray


@dataclass(frozen=True)
class QConfig:
    bug: str = ""  # "" | "no_clip_mask" (gradient passes where the proxy is clipped)


class ToyQuantizer(Cell):
    """y[t] = clip(round(4 a[t]) / 4, -1, 1), a[t] = x[t] W: a clipped straight-through
    estimator, backward dy/da = 1[|a| <= 1] (the derivative of the proxy clip(a, -1, 1))."""

    name = "toy_quantizer"
    Config = QConfig
    State = QState

    def _init_params(self, rng):
        return {"W": 1.2 * rng.standard_normal((self.n_in, self.n_hidden))}

    def _forward(self, x, state, ops):
        T, B, _ = x.shape
        A = (x.reshape(T * B, -1) @ self.params["W"]).reshape(T, B, -1)
        ys = np.empty_like(A)
        for t in range(T):
            a = A[t]
            q = np.clip(np.round(4 * a) / 4, -1, 1)
            ys[t] = ops.straight_through(q, lambda a=a: np.clip(a, -1, 1),
                                         discrete=np.stack([np.round(4 * a), np.abs(a) <= 1]))
        return ys, {"x": x, "A": A, "final_state": QState(ys[-1])}

    def _backward(self, dy, cache):
        x, A = cache["x"], cache["A"]
        T, B, _ = x.shape
        dA = dy if self.config.bug == "no_clip_mask" else dy * (np.abs(A) <= 1)
        D = dA.reshape(T * B, -1)
        return (D @ self.params["W"].T).reshape(x.shape), {"W": x.reshape(T * B, -1).T @ D}


def toy_inputs(T, B=3, n_in=4, n_hidden=5, seed=0, scale=1.0):
    rng = np.random.default_rng([seed, T])
    return scale * rng.standard_normal((T, B, n_in)), rng


# ======================================================================================
# rel_error and numerical_gradient
# ======================================================================================
def test_rel_error_basics():
    a = np.array([1.0, 2.0, -3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == 1.0                        # opposite signs: the maximum
    assert rel_error([1.0], [1.0 + 1e-6]) == pytest.approx(1e-6 / (2 + 1e-6))
    assert rel_error(a, a + [0, 1e-9, 0]) == rel_error(a + [0, 1e-9, 0], a)  # symmetric
    assert rel_error([0.0, 0.0], [0.0, 0.0]) == 0.0        # 0/0 avoided by the floor
    # the floor: tiny absolute differences between tiny numbers do not count
    assert rel_error([1e-12], [0.0], floor=1e-8) == pytest.approx(1e-4)
    assert rel_error([1e-12], [0.0], floor=1e-20) == 1.0
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert isinstance(rel_error(1.0, 2.0), float)
    # elementwise, then max: one bad entry decides
    assert rel_error([1.0, 1.0, 1.0], [1.0, 1.0, 3.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(3), np.zeros(4))


def test_numerical_gradient_of_known_functions():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    g = numerical_gradient(lambda: float(np.sum(np.sin(x))), x, h=1e-5)
    assert rel_error(g, np.cos(x0)) < 1e-9
    np.testing.assert_array_equal(x, x0)                  # restored bit-exactly
    A = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    g = numerical_gradient(lambda: float(v @ A @ v), v)   # quadratic form: (A + A^T) v
    exact = (A + A.T) @ v
    floor = 1e-6 * np.abs(exact).max()   # round-off ~eps|f|/h on entries near 0
    assert rel_error(g, exact, floor=floor) < 1e-7   # the round-off of ~eps|f|/h
    # central differences have no truncation error on a quadratic, whatever h
    g_big_h = numerical_gradient(lambda: float(v @ A @ v), v, h=0.5)
    assert rel_error(g_big_h, exact, floor=floor) < 1e-13


def test_numerical_gradient_indices_and_callback():
    x = np.arange(6.0).reshape(2, 3)
    calls = []
    g = numerical_gradient(lambda: float(np.sum(x ** 3)), x, indices=[1, 4],
                           on_eval=lambda: calls.append(1))
    assert len(calls) == 4                                # two evaluations per entry
    expect = np.zeros(6)
    expect[[1, 4]] = 3 * np.array([1.0, 4.0]) ** 2
    np.testing.assert_allclose(g.reshape(-1), expect, rtol=1e-9, atol=0)
    # a strided view that flattens without a copy is perturbed in place, correctly
    z = np.ones((4, 4))[:, ::2]
    np.testing.assert_allclose(numerical_gradient(lambda: float(np.sum(z ** 2)), z), 2 * z)
    # one that cannot be flattened in place would be perturbed in a copy: refused
    with pytest.raises(ValueError, match="contiguous"):
        y = np.ones((4, 4))[:, :2]
        numerical_gradient(lambda: float(np.sum(y)), y)


def test_check_function_passes_and_catches_a_dropped_term():
    rng = np.random.default_rng(2)
    X, c = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def f():
        return float(np.sum(c * np.tanh(X @ W + b)))

    t = np.tanh(X @ W + b)
    da = c * (1 - t * t)
    good = {"W": X.T @ da, "b": da.sum(0)}
    rep = check_function(f, {"W": W, "b": b}, good)
    assert rep.ok and rep.max_error < 1e-8 and rep.flips == 0
    assert rep["W"].checked == 12 and rep["b"].shape == (4,)
    bad = {"W": X.T @ c, "b": da.sum(0)}                   # dropped tanh' factor
    rep_bad = check_function(f, {"W": W, "b": b}, bad)
    assert not rep_bad.ok and not rep_bad["W"].ok and rep_bad["b"].ok
    assert "FAIL" in rep_bad.table()
    few = check_function(f, {"W": W, "b": b}, good, max_entries=5)
    assert few["W"].checked == 5 and few["b"].checked == 4 and few.ok
    with pytest.raises(KeyError):
        rep["nope"]


def test_report_semantics():
    ok_row = TensorCheck("W", (2,), 1e-9, 1e-12, 2, 0, 1e-7)
    bad_row = TensorCheck("b", (2,), 1e-3, 1e-5, 2, 3, 1e-7)
    assert Report("t", [ok_row]).ok
    assert not Report("t", [ok_row, bad_row]).ok
    r = Report("t", [ok_row, bad_row])
    assert r.max_error == 1e-3 and r.flips == 3
    assert not Report("t", [ok_row], replay_error=1e-16).ok   # replay must be exact
    assert "replay" in Report("t", [ok_row], replay_error=1e-16).table()


# ======================================================================================
# The twin tape and the three operations
# ======================================================================================
def test_operations_are_free_without_twin():
    """``ops.EXACT`` (what cells use outside gradient checks) does the plain thing."""
    sur = get_surrogate("atan")
    u = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(EXACT.heaviside(u, sur), [0.0, 0.0, 1.0])
    v = np.ones(3)
    assert EXACT.detach(v) is v
    assert EXACT.detach(v, discrete=v > 0) is v

    def proxy():
        raise AssertionError("the proxy must not be evaluated without a twin")

    assert EXACT.straight_through(v, proxy) is v
    assert isinstance(Twin("frozen"), Ops) and isinstance(EXACT, Ops)
    with pytest.raises(TypeError, match="ops must be"):
        cells.make("rnn", 2, 3).forward(np.zeros((1, 1, 2)), ops="frozen")


def test_no_cell_imports_the_checker():
    """Cells route their non-differentiable points through the ``ops`` they are given;
    none imports the gradient checker (the proofs would otherwise test a special path)."""
    import ast
    import pathlib

    for f in sorted(pathlib.Path(cells.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("gradcheck" in n for n in names), f"{f.name} imports the checker"


def test_twin_modes_and_errors():
    with pytest.raises(ValueError, match="twin mode"):
        Twin("soft")
    sur = get_surrogate("sigmoid", k=2.0)
    u = np.array([-0.3, 0.2])
    sm = Twin("smooth")
    np.testing.assert_array_equal(sm.heaviside(u, sur), sur.primitive(u))   # soft spikes
    np.testing.assert_array_equal(sm.straight_through(u, lambda: 2 * u), 2 * u)
    fr = Twin("frozen")
    s = fr.heaviside(u, sur)
    np.testing.assert_array_equal(s, [0.0, 1.0])           # record pass = the real spikes
    d = fr.detach(u)
    assert d is u
    fr.replay()
    # a replayed spike is primitive(u') + recorded correction: differentiable, exact at u
    u2 = u + np.array([1e-3, 0.0])
    np.testing.assert_array_equal(fr.heaviside(u2, sur),
                                  sur.primitive(u2) + (s - sur.primitive(u)))
    # a replayed detach returns the recorded constant, whatever it is given now
    np.testing.assert_array_equal(fr.detach(u2), u)
    with pytest.raises(RuntimeError, match="past the recorded tape"):
        fr.detach(u2)
    fr.replay()
    with pytest.raises(RuntimeError, match="expected a 'spike' operation"):
        fr.detach(u)


def test_twin_counts_flips_on_replay():
    sur = get_surrogate("gaussian")
    fr = Twin("frozen")
    u = np.array([-1e-8, 1e-8, 0.5])
    fr.heaviside(u, sur)
    fr.replay()
    fr.heaviside(u, sur)
    assert fr.flips == 0
    fr.replay()
    fr.heaviside(u + 1e-5, sur)                           # the first neuron now spikes
    assert fr.flips == 1
    fr.replay()
    fr.heaviside(u - 1e-5, sur)                           # the second one stops
    assert fr.flips == 1


# ======================================================================================
# Toy spiking layer: frozen and smooth twins, planted bugs
# ======================================================================================
@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_toy_spiking_proven(T, twin):
    x, rng = toy_inputs(T)
    cell = ToySpiking(4, 5, seed=T)
    state = SpikeState(0.5 * rng.standard_normal((3, 5)))   # non-zero initial state
    rep = check_cell(cell, x, state, twin=twin)
    assert rep.ok, rep.table()
    assert rep.max_error < 1e-7 and rep.replay_error == 0.0
    assert [r.name for r in rep.rows] == ["W", "U", "x"]
    if twin == "frozen":
        assert rep.flips == 0, rep.table()                 # no input lies within h of theta
        y, _ = cell.forward(x, state)
        assert set(np.unique(y)) <= {0.0, 1.0} and 0 < y.mean() < 1   # it really spikes


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("bug", ["drop_recurrent", "scale_input"])
def test_toy_spiking_planted_bug_fails(bug, twin):
    x, rng = toy_inputs(7)
    state = SpikeState(0.5 * rng.standard_normal((3, 5)))
    good = check_cell(ToySpiking(4, 5, seed=7), x, state, twin=twin)
    bad = check_cell(ToySpiking(4, 5, seed=7, bug=bug), x, state, twin=twin)
    assert good.ok and not bad.ok, bad.table()
    if bug == "scale_input":   # a relative error of 1e-4 on one tensor only: caught there
        assert not bad["W"].ok and bad["U"].ok and bad["x"].ok
        assert bad["W"].rel_error == pytest.approx(5e-5, rel=1e-3)


def test_frozen_twin_follows_the_real_trajectory():
    x, rng = toy_inputs(7)
    cell = ToySpiking(4, 5, seed=1)
    state = SpikeState(0.5 * rng.standard_normal((3, 5)))
    y_plain, _ = cell.forward(x, state)
    tw = Twin("frozen")
    y_rec, _ = cell.forward(x, state, ops=tw)
    np.testing.assert_array_equal(y_rec, y_plain)          # recording changes nothing
    tw.replay()
    y_rep, _ = cell.forward(x, state, ops=tw)
    np.testing.assert_array_equal(y_rep, y_plain)          # replay at the nominal point: exact
    assert tw.pos == len(tw.tape) == 7
    tw2 = Twin("smooth")
    y_smooth, _ = cell.forward(x, state, ops=tw2)
    assert not np.array_equal(y_smooth, y_plain)           # the smooth twin changes the path
    assert np.all((y_smooth > 0) & (y_smooth < 1))


def test_replay_past_tape_raises_when_the_path_changes():
    x, rng = toy_inputs(3)
    cell = ToySpiking(4, 5, seed=0)
    tw = Twin("frozen")
    cell.forward(x, ops=tw)
    tw.replay()
    with pytest.raises(RuntimeError, match="past the recorded tape"):
        cell.forward(np.concatenate([x, x]), ops=tw)     # more steps than were recorded


def test_flip_is_detected_and_reported():
    """A neuron 5e-8 above threshold: a perturbation of h = 1e-5 flips it."""
    cell = ToySpiking(1, 1, seed=0)
    cell.params["W"][...] = 1.0
    cell.params["U"][...] = 0.0
    x = np.full((1, 1, 1), 0.5 + 5e-8)                     # u = 5e-8 (theta = 0.5)
    rep = check_cell(cell, x, twin="frozen", h=1e-5, dy=np.ones((1, 1, 1)))
    assert rep.flips > 0, rep.table()
    assert rep["x"].flips > 0 and rep["W"].flips > 0
    assert rep.ok  # the frozen twin stays differentiable through the flip; it is reported
    far = np.full((1, 1, 1), 0.7)
    assert check_cell(cell, far, twin="frozen", h=1e-5, dy=np.ones((1, 1, 1))).flips == 0


def test_replay_error_is_reported():
    """A forward that is not a pure function of its inputs cannot be proven."""

    class Drifting(ToySpiking):
        calls = 0

        def _forward(self, x, state, ops):
            Drifting.calls += 1
            y, cache = super()._forward(x, state, ops)
            return y + 1e-12 * Drifting.calls, cache

    x, rng = toy_inputs(2)
    rep = check_cell(Drifting(4, 5, seed=0), x, twin="frozen")
    assert rep.replay_error > 0 and not rep.ok


# ======================================================================================
# detach and straight_through on toys
# ======================================================================================
@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_toy_lif_detached_reset_proven(T, twin):
    x, rng = toy_inputs(T, scale=1.0)
    state = LIFState(rng.standard_normal((3, 5)), (rng.random((3, 5)) < 0.5).astype(float))
    rep = check_cell(ToyLIF(4, 5, seed=T), x, state, twin=twin)
    assert rep.ok, rep.table()


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
def test_toy_lif_reset_through_spike_proven(twin):
    x, rng = toy_inputs(7)
    state = LIFState(rng.standard_normal((3, 5)), (rng.random((3, 5)) < 0.5).astype(float))
    rep = check_cell(ToyLIF(4, 5, seed=7, detach_reset=False), x, state, twin=twin)
    assert rep.ok, rep.table()


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("detach_reset,bug", [(True, "ignore_detach"), (False, "drop_reset_path")])
def test_toy_lif_wrong_detach_rule_fails(detach_reset, bug, twin):
    """Backward must implement exactly the forward's detach: either mismatch is caught."""
    x, rng = toy_inputs(7)
    state = LIFState(rng.standard_normal((3, 5)), (rng.random((3, 5)) < 0.5).astype(float))
    rep = check_cell(ToyLIF(4, 5, seed=7, detach_reset=detach_reset, bug=bug), x, state, twin=twin)
    assert not rep.ok, rep.table()


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_toy_quantizer_straight_through_proven(T, twin):
    x, _ = toy_inputs(T)
    cell = ToyQuantizer(4, 5, seed=T)
    rep = check_cell(cell, x, twin=twin)
    assert rep.ok, rep.table()
    A = np.einsum("tbi,ih->tbh", x, cell.params["W"])
    assert np.any(np.abs(A) > 1) and np.any(np.abs(A) < 1)  # both sides of the clip exercised


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
def test_toy_quantizer_missing_clip_mask_fails(twin):
    x, _ = toy_inputs(7)
    rep = check_cell(ToyQuantizer(4, 5, seed=7, bug="no_clip_mask"), x, twin=twin)
    assert not rep.ok and not rep["W"].ok and not rep["x"].ok


def test_quantizer_frozen_replay_is_exact_and_forward_is_quantized():
    x, _ = toy_inputs(7)
    cell = ToyQuantizer(4, 5, seed=7)
    y, _ = cell.forward(x)
    np.testing.assert_array_equal(y * 4, np.round(y * 4))
    rep = check_cell(cell, x, twin="frozen")
    assert rep.replay_error == 0.0


def test_plain_finite_differences_cannot_prove_a_spiking_cell():
    """Without a twin, finite differences of H are 0: the surrogate backward 'fails'."""
    x, rng = toy_inputs(2)
    rep = check_cell(ToySpiking(4, 5, seed=2), x, twin=None)
    assert not rep.ok


# ======================================================================================
# check_cell on the library's rnn
# ======================================================================================
def _rnn_case(T, B=3, dtype=np.float64):
    rng = np.random.default_rng([5, T, B])
    cell = cells.make("rnn", 4, 5, seed=T, dtype=dtype)
    x = rng.standard_normal((T, B, 4)).astype(dtype)
    state = cell.State(0.5 * rng.standard_normal((B, 5)).astype(dtype))
    return cell, x, state


@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize("B", [1, 3])
def test_check_cell_rnn_passes_and_restores_params(T, B):
    cell, x, state = _rnn_case(T, B)
    before = {k: v.copy() for k, v in cell.params.items()}
    ids = {k: id(v) for k, v in cell.params.items()}
    x0 = x.copy()
    cell.training = True
    rep = check_cell(cell, x, state, twin=None)
    assert rep.ok and rep.max_error < 1e-7, rep.table()
    assert [r.name for r in rep.rows] == ["W_x", "W_h", "b", "x"]
    for k in before:
        np.testing.assert_array_equal(cell.params[k], before[k])       # bit-exact
        assert id(cell.params[k]) == ids[k]                             # same live arrays
    np.testing.assert_array_equal(x, x0)                                # caller's x untouched
    assert cell.training is True                                        # flag restored


def test_check_cell_rnn_planted_bug_fails(monkeypatch):
    cell, x, state = _rnn_case(7)
    assert check_cell(cell, x, state, twin=None).ok

    def no_recurrence(dy_t, dstate, cache_t, p, cfg):   # drops the gradient carried to h[t-1]
        da, dstate_prev, dp = rnn_module.__dict__["_orig_step_backward"](dy_t, dstate, cache_t, p, cfg)
        return da, rnn_module.State(np.zeros_like(dstate_prev.h)), dp

    monkeypatch.setitem(rnn_module.__dict__, "_orig_step_backward", rnn_module.step_backward)
    monkeypatch.setattr(rnn_module, "step_backward", no_recurrence)
    rep = check_cell(cell, x, state, twin=None)
    assert not rep.ok and not rep["W_h"].ok, rep.table()


def test_check_cell_options():
    cell, x, state = _rnn_case(2)
    rep = check_cell(cell, x, state, twin=None, params=["W_h"], check_input=False)
    assert [r.name for r in rep.rows] == ["W_h"] and rep.ok
    rep = check_cell(cell, x, state, twin=None, max_entries=3)
    assert all(r.checked == min(3, int(np.prod(r.shape))) for r in rep.rows) and rep.ok
    assert "rnn (plain twin) T=2 B=3" in rep.table()


def test_check_cell_refuses_float32():
    cell, x, state = _rnn_case(2, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        check_cell(cell, x, state)
