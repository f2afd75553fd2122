"""Reference gradients for validating other frameworks' spiking BPTT against ours.

``python -m snn_from_scratch reference COMMAND``:

``export --cell NAME [--config k=v] [--config k=v] ... --out FILE.npz``
    one *fixture*: a float64 ``.npz`` holding a JSON header and every array another
    framework needs to reproduce one forward and one backward pass of a cell — the
    parameters, the input ``x``, the initial state, the upstream gradient ``dy``, and our
    results ``y``, the final state, ``dx`` and every parameter gradient.
``export-all --out DIR``
    the standard suite: every available cell under each of its key options (the
    configurations of the proof table :data:`snn_from_scratch.proofs.PROOFS` — each reset
    and detach rule, binary and multi-bit output, SRC with and without bypass/detach —
    plus one ``lif`` fixture per surrogate family, plus the conformance fixtures of
    :func:`conformance_suite` — the neurons snnTorch, Norse and SpikingJelly implement,
    each under every surrogate family), one file per distinct configuration,
    named ``<cell>__<slug of the proof label>.npz`` (e.g.
    ``lif__binary_synaptic_zero_reset_detached_reset.npz``), and an ``index.json``
    listing them.
``compare OURS.npz THEIRS.npz [--tol 1e-10]``
    per-tensor relative errors and a verdict; exit status 0 when every tensor agrees,
    1 when one does not, 2 when the files cannot be compared at all.

The initial state is one the cell's dynamics could have produced (:func:`consistent_state`:
a spiking neuron's previous output is the spike of its potential; the header's ``state``
says which membrane ``V`` holds); a lif without synaptic current has no ``I`` in its
fixture (:func:`fixture_fields`).

The loss behind every gradient is ``L = sum(dy * y)`` (the cell protocol, ``docs/design.md``),
so ``dx = dL/dx`` and ``grads/<name> = dL/d params/<name>`` under the surrogate and
detach rules written, in words, in the header. The file layout is documented in
``docs/reference_format.md``; :func:`load` reads a fixture back as ``(header, arrays)``
and :func:`compare` compares two of them in Python.

Relative error of a tensor (normwise, so that entries that are zero in both files do not
divide by round-off): ``max|a - b| / max(max|a|, max|b|)``, and 0 when both are zero.

The module is longer than the others (about 700 lines) on purpose: it is the one file a
reader validating another framework needs, read top to bottom — what a fixture holds
(with the rules in words), the standard suite, the comparison, the command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, TextIO

import numpy as np

from . import __version__, cells, proofs, surrogates
from .cells.base import Cell, check_real, make_config
from .runtime import add_config_option, jsonable, parse_config

__all__ = [
    "FORMAT_VERSION", "DEFAULT_SIZES", "DEFAULT_B", "export", "export_all", "standard_suite",
    "load", "save", "compare", "Comparison", "describe_rules", "fixture_arrays", "main",
    "missing_fixtures", "rel_error", "slug", "consistent_state", "fixture_fields", "initial_state",
    "state_conventions", "conformance_suite", "FRAMEWORK_SURROGATES", "CONFORMANCE_NEURONS",
    "CONFORMANCE_EXTRAS", "CONFORMANCE_POINT", "surrogate_label",
]

#: Version of the file layout (bumped on any incompatible change).
FORMAT_VERSION = "snn-reference/1"
#: Sizes of a fixture: small enough to read by eye, large enough to exercise every path.
DEFAULT_SIZES = {"T": 7, "B": 3, "n_in": 4, "n_hidden": 5}
#: The fixed multi-bit range ``b`` of multi-bit fixtures (training=False: never updated).
DEFAULT_B = 2.0
#: Names of the arrays that are inputs of a fixture (the other framework loads them) and
#: prefixes of those that are results (the other framework computes them).
INPUT_NAMES = ("x", "dy")
INPUT_PREFIXES = ("params/", "state0/")
OUTPUT_NAMES = ("y", "dx")
OUTPUT_PREFIXES = ("state_final/", "grads/")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _config_dict(cell):
    return jsonable(dataclasses.asdict(cell.config))


def _is_multibit(config):
    return config.get("output") == "multibit"


def _set_b(cell, b):
    """Fix the multi-bit range ``b`` of a cell (the attribute ``cell.b``)."""
    try:
        cell.b = float(b)
    except AttributeError:  # a cell without a settable attribute: its buffer
        cell.buffers["b"] = float(b)
    got = float(np.asarray(getattr(cell, "b", cell.buffers.get("b"))))
    if got != float(b):
        raise RuntimeError(f"could not fix the multi-bit range b of {cell.name!r} "
                           f"(asked for {b}, the cell reports {got})")


def _surrogate_words(fam, params):
    s = surrogates.get(fam, **(params or {}))
    formula = {
        "gaussian": "exp(-u^2/a)/sqrt(pi*a)",
        "triangle": "height*max(0, 1-|u|/width)",
        "fast_sigmoid": "1/(1+k|u|)^2",
        "atan": "(a/2)/(1+(pi*a*u/2)^2)",
        "sigmoid": "k*s(ku)*(1-s(ku)), s the logistic",
        "straight_through": "scale (for |u| <= width/2; everywhere when width is None)",
    }[s.name]
    args = ", ".join(f"{k}={v!r}" for k, v in s.params.items())
    return f"{s.name}({args}): dH/du := {formula}"


def describe_rules(name: str, config: dict[str, Any]) -> dict[str, str]:
    """The surrogate and detach rules of a configuration, in words (for the header)."""
    c = dict(config)
    sur, det, other = [], [], []
    if name in ("rnn", "lstm", "gru", "brc"):
        sur.append("none: the cell is smooth, gradients are exact")
        det.append("none")
    elif name == "spiking_lstm":
        sur.append(f"f, i, o = H(u - theta1) with dH/du := gaussian(a=a1={c.get('a1')}) of the signed "
                   f"distance u - theta1; g = H(u - theta2) with gaussian(a=a2={c.get('a2')})")
        if c.get("cell_grad") == "constant":
            sur.append(f"c = H(c~ - theta_c) with the constant dH/du := gamma = {c.get('gamma')}")
        else:
            sur.append(f"c = H(c~ - theta_c) with gaussian(a=a_c={c.get('a_c')})")
        det.append("none: exact chain rule of Eq. 1 under the surrogates (including the threshold "
                   "factor on the c carry)")
    elif name in ("lif", "gated_lif"):
        if _is_multibit(c):
            sur.append(f"multi-bit output Y = floor(V*2^N/b)*b/2^N for V > gamma (levels clipped to "
                       f"2^N - 1), else 0, N = n_bits = {c.get('n_bits')}, gamma = k*b/2^N with "
                       f"k = threshold_levels = {c.get('threshold_levels')}; backward: clipped "
                       f"straight-through dY/dV := 1 for |V| <= b, else 0 (also below gamma); b is "
                       f"fixed (header 'b'), training=False")
            if c.get("signed"):
                sur.append("signed: Y = sign(V)*min(floor(|V|*2^N/b), 2^N-1)*b/2^N for |V| > gamma")
            Yr = "Y[t] (same_step: M = V - Y)" if c.get("reset_timing") == "same_step" else "Y[t-1]"
            det.append(f"reset subtracts {Yr}" + (" (detached: no gradient through it in the reset "
                                                  "term)" if c.get("detach_reset") else
                                                  ", gradient flows through it"))
        else:
            words = _surrogate_words(c.get("surrogate"), c.get("surrogate_params"))
            ge = ">=" if c.get("spike_at_threshold") else ">"
            sur.append(f"S = H(V - threshold) (1 where V {ge} threshold) with {words}, "
                       f"u = V - threshold (unnormalized)")
            same = c.get("reset_timing") == "same_step"
            if same:
                rule = {"subtract": "M = V - threshold*S, then V[t+1] = alpha*M + I[t+1]",
                        "zero": "M = V*(1 - S), then V[t+1] = alpha*M + I[t+1]"}.get(c.get("reset"))
            else:
                rule = {"subtract": "V[t] = alpha*V[t-1] + I[t] - threshold*S[t-1]",
                        "zero": "V[t] = alpha*V[t-1]*(1 - S[t-1]) + I[t]"}.get(c.get("reset"))
            S = "S[t]" if same else "S[t-1]"
            det.append(f"reset {c.get('reset')!r}, {c.get('reset_timing', 'next_step')} ({rule}); " + (
                f"detach_reset: {S} in the reset term is a constant (a learnable threshold "
                f"still receives -{S} from a subtractive reset)" if c.get("detach_reset")
                else f"gradient flows through {S} in the reset"))
        if name == "gated_lif":
            det.append(f"reset timing {c.get('reset_timing', 'next_step')}")
        if name == "gated_lif":
            v2 = c.get("variant") == "v2"
            det.append(f"variant {c.get('variant')}" + (
                ": Y[t-1] enters the forget/candidate gates and is NOT detached there" if v2 else ""))
        if name == "lif":
            other.append(f"synaptic={c.get('synaptic')}, recurrent={c.get('recurrent')} (a[t] += "
                         f"Y[t-1] U, not detached), learn_alpha={c.get('learn_alpha')}, "
                         f"learn_threshold={c.get('learn_threshold')}, learn_beta={c.get('learn_beta')}, "
                         f"norm={c.get('norm')!r}")
    elif name == "src":
        sur.append("z_s's Heaviside H(h[t-1] - 0.5) is a switch with zero derivative")
        sur.append("s_out = ReLU(h): " + ("bypass_relu, dS/dh := 1" if c.get("bypass_relu")
                                          else "exact ReLU derivative 1[h > 0]"))
        det.append("detach_recurrent: h[t-1] and h_s[t-1] are constants wherever they appear (only "
                   "the integrator i carries gradient in time)" if c.get("detach_recurrent")
                   else "none: exact gradient through h[t-1] and h_s[t-1]")
    else:  # a cell added later: say what its config says
        for k in ("surrogate", "surrogate_params"):
            if k in c:
                sur.append(f"{k}={c[k]!r}")
        for k, v in c.items():
            if "detach" in k or "bypass" in k:
                det.append(f"{k}={v!r}")
        if not sur:
            sur.append("see the cell's docstring")
        if not det:
            det.append("see the cell's docstring")
    return {"surrogate": "; ".join(sur), "detach": "; ".join(det), "other": "; ".join(other)}


def _draw_inputs(cell, T, B, rng):
    """Input ``x``, a non-zero initial state and ``dy`` (0/1 spikes as ``x`` for the cells
    of :data:`snn_from_scratch.proofs.SPIKE_INPUT`, as in their proofs). The state is made
    consistent with the cell's dynamics by :func:`consistent_state` (same random stream:
    the draws are those of every earlier version of the format)."""
    if cell.name in proofs.SPIKE_INPUT:
        x = (rng.random((T, B, cell.n_in)) < 0.5).astype(np.float64)
    else:
        x = rng.standard_normal((T, B, cell.n_in))
    state = cell.State(*(0.5 * rng.standard_normal((B, cell.n_hidden)) for _ in cell.State._fields))
    dy = rng.standard_normal((T, B, cell.n_hidden))
    return x, consistent_state(cell, state), dy


def consistent_state(cell: Cell, drawn: tuple) -> tuple:
    """An initial state the cell's own dynamics could have produced, from the random
    ``drawn`` one (0.5 times standard normal per field).

    * ``lif`` / ``gated_lif``: the potential V0 = 2 * drawn V (standard normal, so that a
      good share of units start above threshold), the previous output Y0 = H(V0 - gamma)
      (``>=`` with ``spike_at_threshold``) or, multi-bit, the level of V0 (Eq. 22 at the
      fixture's fixed b); the state's membrane is V0 itself with
      ``reset_timing="next_step"`` and V0 after its reset by Y0 with ``"same_step"``
      (what the state stores, the module docstring of :mod:`.cells.lif`). I is the drawn
      current (unused, and left out of the fixture, without a synaptic current).
    * ``spiking_lstm``: spikes: c0 = H(drawn c), h0 = o * c0 with o = H(drawn h).
    * every other cell: the drawn reals (their states are real-valued).
    """
    if cell.name == "spiking_lstm":
        c0 = (drawn.c > 0).astype(np.float64)
        return cell.State(c0 * (drawn.h > 0), c0)
    if cell.name not in ("lif", "gated_lif"):
        return drawn
    from .cells import lif as L

    c = cell.step_config()
    V0 = 2.0 * drawn.V
    gamma = L.coefficients(cell.params, c)[2]
    if c.output == "binary":
        Y0 = ((V0 >= gamma) if c.spike_at_threshold else (V0 > gamma)).astype(np.float64)
    else:
        Y0 = L.quantize(V0, c.b, c.n_bits, c.threshold_levels, c.signed, c.spike_at_threshold,
                        c.scale_margin)[0]
    M0 = L.reset(V0, Y0, gamma, c) if c.reset_timing == "same_step" else V0
    return cell.State(drawn.I, M0, Y0)


def fixture_fields(name: str, config: dict[str, Any]) -> list[str]:
    """The state fields a fixture of ``name`` under the full ``config`` (a dict) holds:
    the cell's State fields, without ``I`` for a lif without synaptic current (its I[t]
    is this step's input a[t], read by nothing after the step)."""
    fields = list(cells.cell_class(name).State._fields)
    if name == "lif" and not config.get("synaptic", True):
        fields.remove("I")
    return fields


def initial_state(cell: Cell, arrays: dict[str, np.ndarray]) -> tuple:
    """The cell's State from a fixture's ``state0/*`` arrays (zeros for a field the
    fixture leaves out: ``I`` of a lif without synaptic current)."""
    ref = next(arrays[k] for k in arrays if k.startswith("state0/"))
    return cell.State(*(arrays.get(f"state0/{f}", np.zeros_like(ref)) for f in cell.State._fields))


def state_conventions(name: str, config: dict[str, Any]) -> str:
    """What the state arrays of a fixture of ``name`` hold, in words (the header's ``state``)."""
    c = dict(config)
    if name in ("lif", "gated_lif"):
        same = c.get("reset_timing") == "same_step"
        ge = ">=" if c.get("spike_at_threshold") else ">"
        out = (f"Y0 = H(V0 - gamma), spike where V0 {ge} gamma" if c.get("output") == "binary"
               else "Y0 = the multi-bit level of V0 (Eq. 22 at the header's b)")
        words = [f"Y: the previous output (spike or level), consistent with the potential: {out}"]
        if same:
            words.append("V: the membrane AFTER its reset, M = R(V, Y) (reset_timing='same_step': "
                         "what Norse and SpikingJelly store as v); the next step computes "
                         "V[t] = alpha*M[t-1] + I[t]")
        else:
            words.append("V: the potential BEFORE its reset, as compared with the threshold "
                         "(reset_timing='next_step': what snnTorch stores as mem); the reset of "
                         "Y[t-1] enters V[t]")
        if name == "lif" and not c.get("synaptic", True):
            words.append("no synaptic current: no I in the fixture (the cell's I[t] is a[t] and "
                         "nothing reads it afterwards)")
        else:
            words.append("I: the synaptic current I[t] (after this step's input)")
        return "; ".join(words)
    if name == "spiking_lstm":
        return "h, c: spikes (c0 = H(.), h0 = o*c0 with o a spike)"
    return "real-valued states: " + ", ".join(cells.cell_class(name).State._fields)


def fixture_arrays(name: str, config: Optional[dict[str, Any]] = None, seed: int = 0, data_seed: int = 1,
                   b: float = DEFAULT_B, **sizes: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run one forward/backward of cell ``name`` in float64 and return ``(header, arrays)``.

    ``config`` are cell keywords; ``seed`` initializes the parameters (``cells.make``),
    ``data_seed`` draws ``x``, the initial state and ``dy``; ``b`` is the fixed range of a
    multi-bit cell. ``sizes`` override :data:`DEFAULT_SIZES` (T, B, n_in, n_hidden).
    """
    config = dict(config or {})
    sz = dict(DEFAULT_SIZES)
    unknown = sorted(set(sizes) - set(sz))
    if unknown:
        raise ValueError(f"unknown size(s) {unknown}; valid: {sorted(sz)}")
    sz.update(sizes)
    cell = cells.make(name, sz["n_in"], sz["n_hidden"], seed=seed, dtype=np.float64, **config)
    cell.training = False
    cfg = _config_dict(cell)
    header_b = None
    if _is_multibit(cfg):
        _set_b(cell, b)
        header_b = float(b)
    rng = np.random.default_rng(data_seed)
    x, state, dy = _draw_inputs(cell, sz["T"], sz["B"], rng)
    params0 = {k: v.copy() for k, v in cell.params.items()}
    y, cache = cell.forward(x, state)
    dx, grads = cell.backward(dy, cache)
    for k, v in cell.params.items():  # the protocol: backward never mutates params
        if not np.array_equal(v, params0[k]):
            raise RuntimeError(f"{name}.backward changed parameter {k!r}")
    final = cell.State(*cache["final_state"])
    fields = fixture_fields(name, cfg)
    arrays = {}
    for k, v in cell.params.items():
        arrays[f"params/{k}"] = v
    arrays["x"] = x
    for f, v in zip(cell.State._fields, state):
        if f in fields:
            arrays[f"state0/{f}"] = v
    arrays["dy"] = dy
    arrays["y"] = y
    for f, v in zip(cell.State._fields, final):
        if f in fields:
            arrays[f"state_final/{f}"] = v
    arrays["dx"] = dx
    for k in cell.params:
        arrays[f"grads/{k}"] = grads[k]
    arrays = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()}
    header = {
        "format": FORMAT_VERSION,
        "library": "snn_from_scratch",
        "library_version": __version__,
        "numpy_version": np.__version__,
        "cell": name,
        "config": cfg,
        "config_given": jsonable(config),
        "dtype": "float64",
        "layout": "time-major: x (T, B, n_in), y and dy (T, B, n_hidden); states (B, n_hidden)",
        "loss": "L = sum(dy * y); dx = dL/dx, grads/<p> = dL/d params/<p>",
        "rules": describe_rules(name, cfg),
        "training": False,
        "b": header_b,
        "seeds": {"params": int(seed), "data": int(data_seed)},
        "sizes": sz,
        "state_fields": fields,
        "state": state_conventions(name, cfg),
        "param_names": list(cell.params),
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "spike_input": name in proofs.SPIKE_INPUT,
    }
    return header, arrays


def save(path: str | os.PathLike, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> pathlib.Path:
    """Write a fixture: ``header`` (JSON in the array ``__header__``) and the arrays."""
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"a fixture file must end in .npz, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = [k for k in arrays if k == "__header__"]
    if bad:
        raise ValueError("'__header__' is reserved for the JSON header")
    np.savez(path, __header__=np.array(json.dumps(header, sort_keys=True)), **arrays)
    return path


def load(path_or_dict: str | os.PathLike | dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a fixture: returns ``(header, arrays)`` (header ``{}`` when the file has none).

    Also accepts a dict of arrays (with an optional ``"__header__"`` entry) so that another
    framework's results can be compared without writing a file.
    """
    if isinstance(path_or_dict, dict):
        d = dict(path_or_dict)
        h = d.pop("__header__", {})
        if isinstance(h, (str, np.ndarray)):
            h = json.loads(str(np.asarray(h)))
        return dict(h), {k: np.asarray(v) for k, v in d.items()}
    path = pathlib.Path(path_or_dict)
    if not path.exists():
        raise FileNotFoundError(f"no such fixture file: {str(path)!r}")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    h = arrays.pop("__header__", None)
    header = json.loads(str(h)) if h is not None else {}
    return header, arrays


def export(name: str, out: str | os.PathLike, config: Optional[dict[str, Any]] = None, seed: int = 0,
           data_seed: int = 1, b: float = DEFAULT_B, **sizes: int) -> dict[str, Any]:
    """Write the fixture of cell ``name`` under ``config`` to ``out`` (.npz); returns the header."""
    header, arrays = fixture_arrays(name, config, seed=seed, data_seed=data_seed, b=b, **sizes)
    save(out, header, arrays)
    return header


#: Surrogate families exported for ``lif`` besides those its proof table already uses.
LIF_SURROGATE_VARIANTS = tuple(surrogates.FAMILIES)

#: The surrogate points of the conformance fixtures: for each family, parameters that the
#: frameworks' own surrogates reproduce exactly (docs/reference_format.md, per framework).
#: ``straight_through`` twice: snnTorch's (everywhere) and SpikingJelly's ``Rect`` (a box).
FRAMEWORK_SURROGATES = (
    ("gaussian", {"a": 0.25}),                        # Norse heavi_erfc(2), SJ Erf(2)
    ("triangle", {"height": 1.0, "width": 1.0}),      # Norse triangle(1), SJ PiecewiseQuadratic(1)
    ("fast_sigmoid", {"k": 1.0}),                     # snnTorch fast_sigmoid(1), Norse super, SJ SuperSpike(1)
    ("atan", {"a": 2.0}),                             # snnTorch atan(2), SJ ATan(2)
    ("sigmoid", {"k": 4.0}),                          # snnTorch sigmoid(4), SJ Sigmoid(4), Norse tanh(2)
    ("straight_through", {"scale": 1.0}),             # snnTorch straight_through_estimator()
    ("straight_through", {"scale": 1.0, "width": 1.0}),   # SJ Rect(1)
)

#: The generic point of the conformance fixtures (a threshold and decays off 1).
CONFORMANCE_POINT = dict(alpha=0.8, threshold=0.7, beta=0.7)

#: The neurons the frameworks implement, as lif options (no synaptic current), each under
#: every surrogate of :data:`FRAMEWORK_SURROGATES`: (label, options).
CONFORMANCE_NEURONS = (
    ("zero reset, detached", dict(reset="zero", detach_reset=True)),             # snnTorch Leaky
    ("subtract reset, detached", dict(reset="subtract", detach_reset=True)),     # snnTorch Leaky
    ("zero reset in the same step", dict(reset="zero", reset_timing="same_step")),   # Norse LIFBox
    ("subtract reset in the same step", dict(reset="subtract", reset_timing="same_step")),
    ("zero reset in the same step, spike at V >= threshold",                     # SpikingJelly
     dict(reset="zero", reset_timing="same_step", spike_at_threshold=True)),
    ("subtract reset in the same step, spike at V >= threshold",
     dict(reset="subtract", reset_timing="same_step", spike_at_threshold=True)),
)

_SAME = dict(reset_timing="same_step")
_AT = dict(reset_timing="same_step", spike_at_threshold=True)
#: Further framework neurons (one surrogate each): synaptic currents, recurrence, the
#: integrate-and-fire neuron, learnable per-neuron parameters. (label, options).
CONFORMANCE_EXTRAS = (
    ("synaptic, subtract reset, detached", dict(synaptic=True, detach_reset=True)),   # snnTorch Synaptic
    ("synaptic, recurrent U, subtract reset, detached",                               # snnTorch RSynaptic
     dict(synaptic=True, recurrent=True, detach_reset=True)),
    ("recurrent U, subtract reset, detached", dict(recurrent=True, detach_reset=True)),   # RLeaky
    ("synaptic, zero reset in the same step",                                          # Norse LIFCell
     dict(synaptic=True, reset="zero", surrogate="fast_sigmoid", surrogate_params={"k": 1.0}, **_SAME)),
    ("synaptic, zero reset in the same step",
     dict(synaptic=True, reset="zero", surrogate="triangle", surrogate_params={"height": 1.0, "width": 1.0},
          **_SAME)),
    ("synaptic, recurrent U, zero reset in the same step, detached",                  # Norse LIFRecurrentCell
     dict(synaptic=True, recurrent=True, reset="zero", detach_reset=True, surrogate="fast_sigmoid",
          surrogate_params={"k": 1.0}, **_SAME)),
    ("recurrent U, zero reset in the same step", dict(recurrent=True, reset="zero", **_SAME)),
    ("zero reset in the same step, detached, spike at V >= threshold",                 # SJ detach_reset
     dict(reset="zero", detach_reset=True, surrogate="sigmoid", surrogate_params={"k": 4.0}, **_AT)),
    ("subtract reset in the same step, detached, spike at V >= threshold",
     dict(reset="subtract", detach_reset=True, surrogate="sigmoid", surrogate_params={"k": 4.0}, **_AT)),
    ("integrate-and-fire, zero reset in the same step, spike at V >= threshold",       # SJ IFNode
     dict(alpha=1.0, reset="zero", surrogate="sigmoid", surrogate_params={"k": 4.0}, **_AT)),
    ("integrate-and-fire, subtract reset in the same step, spike at V >= threshold",
     dict(alpha=1.0, reset="subtract", **_AT)),
    ("zero reset, detached, learnable alpha and threshold per neuron",               # snnTorch learn_*
     dict(reset="zero", detach_reset=True, learn_alpha=True, learn_threshold=True, init_spread=0.1)),
    ("synaptic, subtract reset, detached, learnable beta per neuron",                 # Synaptic learn_alpha
     dict(synaptic=True, detach_reset=True, learn_beta=True, init_spread=0.1)),
    ("subtract reset in the same step, learnable threshold per neuron",              # Norse v_th param
     dict(reset="subtract", learn_threshold=True, init_spread=0.1, surrogate="triangle",
          surrogate_params={"height": 1.0, "width": 1.0}, **_SAME)),
)


def surrogate_label(fam: str, params: dict[str, Any]) -> str:
    """``atan(a=2)``, ``straight_through(scale=1, width=1)``: a surrogate point in words."""
    args = ", ".join(f"{k}={v:g}" for k, v in params.items())
    return f"{fam}({args})"


def conformance_suite() -> list[tuple[str, dict[str, Any]]]:
    """The conformance fixtures of ``lif``: ``[(label, config)]`` — each neuron of
    :data:`CONFORMANCE_NEURONS` under each surrogate point of :data:`FRAMEWORK_SURROGATES`,
    then :data:`CONFORMANCE_EXTRAS` (arctan a = 2 unless they say otherwise), all at
    :data:`CONFORMANCE_POINT` and without a synaptic current unless they say so."""
    out = []
    for words, opts in CONFORMANCE_NEURONS:
        for fam, params in FRAMEWORK_SURROGATES:
            cfg = dict(CONFORMANCE_POINT, synaptic=False, **opts, surrogate=fam,
                       surrogate_params=dict(params))
            out.append((f"conformance: {words}, {surrogate_label(fam, params)}", cfg))
    for words, opts in CONFORMANCE_EXTRAS:
        cfg = dict(CONFORMANCE_POINT, synaptic=False, surrogate="atan", surrogate_params={"a": 2.0})
        cfg.update(opts)
        fam, params = cfg["surrogate"], cfg["surrogate_params"]
        out.append((f"conformance: {words}, {surrogate_label(fam, params)}", cfg))
    return out


def slug(label: str) -> str:
    """A proof label as a file-name stem: lower case, words joined by ``_``
    ("v1, 6-bit, subtract reset" -> "v1_6-bit_subtract_reset"; "gamma=0.7" -> "gamma_0.7")."""
    label = label.lower().replace("'", "").replace("&", "and")
    return re.sub(r"[^a-z0-9.-]+", "_", label).strip("_.") or "default"


def standard_suite(names: Optional[Sequence[str]] = None) -> list[tuple[str, str, dict[str, Any]]]:
    """The fixtures of ``export-all``: ``[(file_stem, cell, config)]``.

    Every available cell under each configuration of its proof table
    (:func:`snn_from_scratch.proofs.rows_of`: the key options the cell is proven under),
    plus, for ``lif``, one binary fixture per surrogate family not already covered. One
    fixture per distinct configuration — the full config the keywords give, so a preset
    that spells out another entry's options, or an entry proven under both twins (a
    fixture is the real network; twins only matter to finite differences), is exported
    once, under the first label. The stem is ``<cell>__<slug of the label>`` (the label
    without the twin: ``proofs.proofs_of`` keys add ``[frozen]`` / ``[smooth]``).
    """
    names = cells.available() if names is None else list(names)
    suite, seen, stems = [], set(), set()

    def add(label, name, config):
        cls = cells.cell_class(name)
        full = dataclasses.asdict(make_config(cls.Config, dict(config), name))
        key = (name, json.dumps(jsonable(full), sort_keys=True))
        if key in seen:
            return
        stem = f"{name}__{slug(label)}"
        if stem in stems:
            raise ValueError(f"two configurations of {name!r} have the label {label!r}: "
                             "give one of them its own label in proofs.PROOFS")
        seen.add(key)
        stems.add(stem)
        suite.append((stem, name, dict(config)))

    for name in names:
        # a newly registered cell without proofs yet still gets its default fixture
        rows = proofs.rows_of(name) if name in proofs.PROOFS else [(proofs.describe(name, {}), {}, None)]
        for label, config, _twin in rows:
            add(label, name, config)
        if name == "lif":
            covered = {c.get("surrogate", "triangle") for (_, n, c) in suite
                       if n == "lif" and not _is_multibit(c)}
            for fam in LIF_SURROGATE_VARIANTS:
                if fam not in covered:
                    add(proofs.describe("lif", {"surrogate": fam}), "lif", {"surrogate": fam})
            for label, config in conformance_suite():
                add(label, "lif", config)
    return suite


def export_all(out_dir: str | os.PathLike, names: Optional[Sequence[str]] = None, seed: int = 0,
               data_seed: int = 1, stream: Optional[TextIO] = None) -> dict[str, Any]:
    """Write the standard suite to ``out_dir`` with an ``index.json``; returns the index."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {"format": FORMAT_VERSION, "library_version": __version__, "fixtures": []}
    for stem, name, config in standard_suite(names):
        fname = f"{stem}.npz"
        header = export(name, out_dir / fname, config, seed=seed, data_seed=data_seed)
        index["fixtures"].append({"file": fname, "cell": name, "config_given": header["config_given"],
                                  "rules": header["rules"]})
        if stream is not None:
            print(f"  {fname:<48}{name:<14}{json.dumps(header['config_given'])}", file=stream)
    (out_dir / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True))
    return index


def missing_fixtures(index_or_dir: dict[str, Any] | str | os.PathLike) -> list[str]:
    """Available cells that have no fixture in an ``export-all`` index (a dict or a folder
    holding ``index.json``): an empty list when the suite covers every cell."""
    index = index_or_dir
    if not isinstance(index, dict):
        index = json.loads((pathlib.Path(index_or_dir) / "index.json").read_text())
    exported = {f["cell"] for f in index.get("fixtures", [])}
    return [n for n in cells.available() if n not in exported]


# --------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------
def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Normwise relative error ``max|a-b| / max(max|a|, max|b|)`` (0 when both are zero)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    diff = float(np.max(np.abs(a - b), initial=0.0))
    if not (math.isfinite(diff) and math.isfinite(scale)):
        return math.inf
    return 0.0 if scale == 0.0 else diff / scale


@dataclass
class Row:
    name: str
    shape: tuple
    rel_error: float
    abs_error: float
    ok: bool
    note: str = ""


@dataclass
class Comparison:
    """Result of :func:`compare`: ``ok``, one :class:`Row` per tensor and ``problems``."""

    tol: float
    rows: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.rows)

    @property
    def max_error(self) -> float:
        return max((r.rel_error for r in self.rows), default=0.0)

    def table(self) -> str:
        lines = [f"  {'tensor':<22}{'shape':<14}{'rel.error':>11}{'abs.error':>11}  verdict"]
        for r in self.rows:
            v = "ok" if r.ok else f"FAIL (tol {self.tol:.0e})"
            lines.append(f"  {r.name:<22}{str(r.shape):<14}{r.rel_error:>11.2e}{r.abs_error:>11.2e}  {v}"
                         + (f"  {r.note}" if r.note else ""))
        for p in self.problems:
            lines.append(f"  PROBLEM: {p}")
        lines.append(f"  verdict: {'PASS' if self.ok else 'FAIL'} (largest relative error "
                     f"{self.max_error:.2e}, tolerance {self.tol:.0e})")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _is_output(name):
    return name in OUTPUT_NAMES or name.startswith(OUTPUT_PREFIXES)


def compare(ours: str | os.PathLike | dict[str, Any], theirs: str | os.PathLike | dict[str, Any],
            tol: float = 1e-10) -> Comparison:
    """Compare two fixtures (paths or dicts of arrays) tensor by tensor.

    Every *result* of ``ours`` (``y``, ``state_final/*``, ``dx``, ``grads/*``) must be in
    ``theirs`` with the same shape and a relative error <= ``tol``; the *inputs* (``params/*``,
    ``x``, ``state0/*``, ``dy``) are compared when ``theirs`` has them (so that a framework
    that ran on different inputs is caught). A name in ``theirs`` that ``ours`` lacks, a
    missing result, a shape mismatch or two headers naming different cells or configs is
    a problem, listed in ``Comparison.problems``, and fails the comparison.
    """
    check_real("tol", tol, low=0)
    h1, a1 = load(ours)
    h2, a2 = load(theirs)
    res = Comparison(float(tol))
    if h1 and h2:
        for key in ("cell", "config"):
            if key in h1 and key in h2 and h1[key] != h2[key]:
                res.problems.append(f"headers differ in {key!r}: {h1[key]!r} vs {h2[key]!r}")
        if h1.get("b") is not None and h2.get("b") is not None and h1["b"] != h2["b"]:
            res.problems.append(f"headers differ in the multi-bit range b: {h1['b']} vs {h2['b']}")
    for name in a1:
        if name not in a2:
            if _is_output(name):
                res.problems.append(f"missing tensor {name!r} (shape {a1[name].shape}) in the second file")
            continue
        x, y = a1[name], a2[name]
        if x.shape != y.shape:
            res.problems.append(f"shape mismatch for {name!r}: {x.shape} vs {y.shape}")
            continue
        err = rel_error(x, y)
        abs_err = float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)), initial=0.0))
        res.rows.append(Row(name, tuple(x.shape), err, abs_err, err <= tol,
                            "" if _is_output(name) else "(input)"))
    for name in a2:
        if name not in a1:
            res.problems.append(f"unexpected tensor {name!r} in the second file (not in the first)")
    return res


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m snn_from_scratch reference",
                                description="Export and compare reference gradients (float64 fixtures).")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="write one fixture", allow_abbrev=False)
    e.add_argument("--cell", required=True, help=f"one of {sorted(cells.REGISTRY)}")
    add_config_option(e, example="--config reset=zero --config surrogate=atan")
    e.add_argument("--out", required=True, help="output .npz")
    e.add_argument("--seed", type=int, default=0, help="parameter seed (default 0)")
    e.add_argument("--data-seed", type=int, default=1, help="seed of x, state0, dy (default 1)")
    e.add_argument("--range", dest="b", type=float, default=DEFAULT_B, metavar="b",
                   help=f"fixed range b of multi-bit cells (default {DEFAULT_B})")
    # spelled out: `--T`/`--B` beside `--b` read alike (and argparse abbreviates options)
    names = {"T": "steps", "B": "batch", "n_in": "n-in", "n_hidden": "n-hidden"}
    for k, v in DEFAULT_SIZES.items():
        e.add_argument(f"--{names.get(k, k.replace('_', '-'))}", dest=k, type=int, default=v, metavar="N",
                       help=f"{ {'T': 'time steps', 'B': 'sequences in the batch'}.get(k, k)} (default {v})")
    a = sub.add_parser("export-all", help="write the standard suite and index.json")
    a.add_argument("--out", required=True, help="output folder")
    c = sub.add_parser("compare", help="compare two fixtures")
    c.add_argument("ours")
    c.add_argument("theirs")
    c.add_argument("--tol", type=float, default=1e-10, help="relative-error tolerance (default 1e-10)")
    try:
        args = p.parse_args(argv)
    except SystemExit as ex:  # argparse exits 2 on bad usage, 0 on --help
        return int(ex.code or 0)
    try:
        if args.cmd == "export":
            cfg = parse_config(args.config)
            h = export(args.cell, args.out, cfg, seed=args.seed, data_seed=args.data_seed, b=args.b,
                       **{k: getattr(args, k) for k in DEFAULT_SIZES})
            print(f"wrote {args.out}: {h['cell']} {json.dumps(h['config'])}")
            return 0
        if args.cmd == "export-all":
            print(f"writing the standard suite to {args.out}:")
            idx = export_all(args.out, stream=sys.stdout)
            print(f"{len(idx['fixtures'])} fixtures, index in {os.path.join(args.out, 'index.json')}")
            return 0
        res = compare(args.ours, args.theirs, tol=args.tol)
        print(f"compare {args.ours} vs {args.theirs}")
        print(res.table())
        return 0 if res.ok else 1
    except (ValueError, TypeError, FileNotFoundError) as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2
