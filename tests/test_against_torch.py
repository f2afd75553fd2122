"""Cross-framework check: every cell, re-implemented in PyTorch autograd, agrees with ours.

The PyTorch versions live in ``validation/torch_cells.py`` (at the repository root, outside
the package): each cell written a second time, *independently*, as a plain PyTorch forward
pass whose backward is left to autograd, with the spikes, the multi-bit quantizer and SRC's
bypass as custom ``autograd.Function``s and detach rules as ``.detach()``.

The fixtures come from :mod:`snn_from_scratch.reference` (our float64 forward/backward); the
PyTorch results are compared with :func:`reference.compare` at a relative tolerance of
1e-10 — forward outputs, final states, ``dx`` and every parameter gradient. The smooth
cells are also compared with ``torch.nn.RNN/LSTM/GRU`` with our weights mapped onto their
layouts (docs/reference_format.md). snnTorch's ``Leaky`` and ``Synaptic`` neurons are
compared with ``lif`` configured to match (``validation/snntorch_neurons.py``; skipped when
snntorch is absent). Without PyTorch the whole module is skipped with a message.
"""
from __future__ import annotations

import itertools
import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is an optional validation extra (pip install -r requirements-validation.txt)")

# validation/ sits at the repository root, beside tests/ (pytest.ini's `pythonpath = .` puts
# the root on sys.path; this keeps the file runnable with an older configuration too).
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from snn_from_scratch import cells, reference  # noqa: E402
from validation import torch_cells as tc  # noqa: E402

TOL = 1e-10


# ======================================================================================
# The suite: every available cell, every key option
# ======================================================================================
def _extra_configs():
    """Option products beyond the proof tables (cheap here: no finite differences). Only
    valid combinations: lif's multi-bit output has no zero reset and no learnable threshold,
    a learnable beta needs the synaptic current (a refused one fails the test)."""
    out = []
    for syn, reset, det, la, lt, sur in itertools.product(
            (True, False), ("subtract", "zero"), (False, True), (False, True), (False, True),
            ("triangle", "atan")):
        out.append(("lif", dict(synaptic=syn, reset=reset, detach_reset=det, learn_alpha=la,
                                learn_threshold=lt, surrogate=sur)))
    for syn, det, lb, signed in itertools.product((True, False), (False, True), (False, True), (False, True)):
        if lb and not syn:
            continue
        out.append(("lif", dict(output="multibit", synaptic=syn, detach_reset=det, learn_beta=lb,
                                signed=signed, n_bits=3, threshold_levels=1)))
    for v, det, signed in itertools.product(("v1", "v2"), (False, True), (False, True)):
        out.append(("gated_lif", dict(variant=v, detach_reset=det, signed=signed)))
    for v, sur in itertools.product(("v1", "v2"), ("gaussian", "fast_sigmoid", "sigmoid")):
        out.append(("gated_lif", dict(variant=v, output="binary", surrogate=sur)))
    # the reset timing, the recurrent input, batch norm (running and batch statistics) and
    # the spike at V = gamma, with learnable per-neuron values drawn non-uniform
    generic = dict(threshold=0.7, alpha=0.8, beta=0.7, init_spread=0.1)
    norms = (dict(norm="none"), dict(norm="batch"), dict(norm="batch", bn_track_running_stats=False))
    for timing, reset, rec, bn, at in itertools.product(
            ("next_step", "same_step"), ("subtract", "zero"), (False, True), norms, (False, True)):
        out.append(("lif", dict(generic, reset_timing=timing, reset=reset, recurrent=rec, spike_at_threshold=at,
                                learn_alpha=True, learn_threshold=True, learn_beta=True, **bn)))
    for timing, rec, bn, signed, at in itertools.product(
            ("next_step", "same_step"), (False, True), norms, (False, True), (False, True)):
        out.append(("lif", dict(generic, output="multibit", n_bits=3, threshold_levels=1, scale_margin=0.9,
                                reset_timing=timing, recurrent=rec, signed=signed, spike_at_threshold=at,
                                learn_alpha=True, learn_beta=True, **bn)))
    for v, out_, timing, bn in itertools.product(("v1", "v2"), ("binary", "multibit"),
                                                 ("next_step", "same_step"), norms):
        out.append(("gated_lif", dict(threshold=0.7, alpha=0.8, init_spread=0.1, variant=v, output=out_,
                                      reset_timing=timing, **bn)))
    out.append(("spiking_lstm", dict(theta1=0.0, theta2=0.3, theta_c=0.5, a1=1.0, a2=2.0, a_c=0.5)))
    out.append(("src", dict(z_dep=0.2, r_s=-3.0, b_h_init=-1.0, b_h_max=None)))  # z_s switches
    for bp, dr in itertools.product((False, True), repeat=2):
        out.append(("src", dict(bypass_relu=bp, detach_recurrent=dr, b_h_init=0.5, b_h_max=None)))
    return out


def _label(name, cfg, b):
    opts = ",".join(f"{k}={v}" for k, v in cfg.items())
    return f"{name}[{opts}]" + ("" if b == reference.DEFAULT_B else f"[b={b}]")


def _cases():
    """(label, cell, config, b): the standard suite of reference.export-all, the option
    products above, and multi-bit cells with a small range b so that |V| > b (the clipped
    region of the straight-through rule) is exercised too."""
    avail = set(cells.available())
    cases = [(stem, name, cfg, reference.DEFAULT_B) for stem, name, cfg in reference.standard_suite()]
    for name, cfg in _extra_configs():
        if name in avail:
            cases.append((_label(name, cfg, reference.DEFAULT_B), name, cfg, reference.DEFAULT_B))
    for name, cfg in (("lif", dict(output="multibit")), ("gated_lif", dict(variant="v1")),
                      ("gated_lif", dict(variant="v2", signed=True))):
        if name in avail:
            cases.append((_label(name, cfg, 0.25), name, cfg, 0.25))
    return cases


CASES = _cases()


def test_every_registered_cell_has_a_torch_implementation():
    missing = sorted(set(cells.REGISTRY) - set(tc.TORCH_CELLS))
    assert not missing, f"cells without a PyTorch implementation in validation/torch_cells.py: {missing}"


def test_every_available_cell_is_in_the_cross_framework_suite():
    covered = {name for _, name, _, _ in CASES}
    missing = sorted(set(cells.available()) - covered)
    assert not missing, f"available cells not cross-checked against PyTorch: {missing}"


@pytest.mark.parametrize("label,name,cfg,b", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("T", [1, 7])
def test_torch_autograd_matches_ours(label, name, cfg, b, T):
    # No try/except: every configuration of the suite is a valid one, so a cell that refuses
    # it (ValueError) fails here instead of silently skipping the cross-check.
    header, ours = reference.fixture_arrays(name, cfg, T=T, b=b)
    theirs = tc.run_fixture(header, ours)
    res = reference.compare(ours, theirs, tol=TOL)
    assert res.ok, f"{label} T={T}\n{res.table()}"
    # the comparison really looked at every result tensor
    names = {r.name for r in res.rows}
    assert {"y", "dx"} | {f"grads/{k}" for k in header["param_names"]} <= names


def test_small_range_exercises_the_clip():
    """The b=0.25 cases above really put some |V| beyond b (else the clip is untested)."""
    for name, cfg in (("lif", dict(output="multibit")), ("gated_lif", dict(variant="v1"))):
        if name not in cells.available():
            continue
        _, a = reference.fixture_arrays(name, cfg, b=0.25)
        V = a["state_final/V"]
        assert np.any(np.abs(V) > 0.25)  # (|V| <= b is exercised by the b = 2 fixtures)


def test_a_wrong_torch_surrogate_is_caught():
    """The comparison can fail: a torch LIF with a different surrogate width disagrees."""
    header, ours = reference.fixture_arrays("lif", {"surrogate": "triangle"})
    cfg = dict(header["config"], surrogate_params={"width": 1.5})
    header = dict(header, config=cfg)
    res = reference.compare(ours, tc.run_fixture(header, ours), tol=TOL)
    assert not res.ok
    assert res.rows[[r.name for r in res.rows].index("y")].ok   # forward identical
    assert not [r for r in res.rows if r.name == "grads/W"][0].ok


def test_a_wrong_reset_timing_is_caught():
    """lif with the reset in the same step: a torch version resetting in the next step
    (Eq. 8's order) agrees until the first spike and not after."""
    cfg = dict(threshold=0.7, alpha=0.8, beta=0.7, reset_timing="same_step")
    header, ours = reference.fixture_arrays("lif", cfg)
    header = dict(header, config=dict(header["config"], reset_timing="next_step"))
    res = reference.compare(ours, tc.run_fixture(header, ours), tol=TOL)
    assert not res.ok


def test_a_missing_detach_is_caught():
    """src with detach_recurrent: a torch version that forgets the detach disagrees."""
    header, ours = reference.fixture_arrays("src", {"detach_recurrent": True, "bypass_relu": True})
    header = dict(header, config=dict(header["config"], detach_recurrent=False))
    res = reference.compare(ours, tc.run_fixture(header, ours), tol=TOL)
    assert not res.ok and [r for r in res.rows if r.name == "y"][0].ok


# ======================================================================================
# Against torch.nn's own recurrent layers (weights mapped, docs/reference_format.md)
# ======================================================================================
@pytest.mark.parametrize("name", [n for n in ("rnn", "lstm", "gru") if n in cells.available()])
def test_torch_nn_layers_match_ours(name):
    header, ours = reference.fixture_arrays(name, {})
    theirs, mod = tc.run_torch_nn(header, ours)
    res = reference.compare(ours, theirs, tol=TOL)
    assert res.ok, res.table()
    if name != "gru":  # b_hh receives the same gradient as b_ih except GRU's n block
        assert np.allclose(mod.bias_hh_l0.grad.numpy(), mod.bias_ih_l0.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gru_recurrent_n_bias_cannot_be_mapped():
    """PyTorch's b_hn sits inside the r-product: moving half of our n-bias there changes y."""
    header, ours = reference.fixture_arrays("gru", {})
    theirs, _ = tc.run_torch_nn(header, ours, b_hn_fraction=0.5)
    res = reference.compare(ours, theirs, tol=TOL)
    assert not res.ok and not [r for r in res.rows if r.name == "y"][0].ok


# ======================================================================================
# snnTorch's own neurons against lif configured to match
# ======================================================================================
@pytest.mark.parametrize("kind,reset", [("Leaky", "subtract"), ("Leaky", "zero"), ("Synaptic", "subtract")])
def test_snntorch_neurons_match_lif(kind, reset):
    pytest.importorskip("snntorch", reason="snntorch is an optional validation extra")
    from validation import snntorch_neurons as sn

    ours, theirs = sn.compare_with_lif(kind, reset)
    res = reference.compare(ours, theirs, tol=sn.SNN_TOL)
    assert res.ok, res.table()


def test_snntorch_synaptic_zero_reset_differs():
    """snnTorch's Synaptic zeroes the *whole* new membrane, (beta V + syn)(1 - S[t-1]); our
    lif (and snnTorch's Leaky) zero only the leaked part, alpha V (1 - S[t-1]) + I. The two
    agree until the first spike and differ after (docs/reference_format.md)."""
    pytest.importorskip("snntorch", reason="snntorch is an optional validation extra")
    from validation import snntorch_neurons as sn

    ours, theirs = sn.compare_with_lif("Synaptic", "zero")
    res = reference.compare(ours, theirs, tol=sn.SNN_TOL)
    assert not res.ok
