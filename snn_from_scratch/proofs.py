"""The proof table: which configuration of which cell is proven, and how.

``python -m snn_from_scratch gradcheck [--cell NAME | --all]`` runs it; the tour and the
tests read it too. For every (cell, configuration) :func:`prove` runs
:func:`gradcheck.check_cell` in float64 on small sizes — T in {1, 2, 7}, B = 3, a valid
non-zero initial state drawn by the cell's own ``sample_state`` — and :func:`format_row`
prints one line with the worst relative error over every parameter and the input::

    lif   synaptic, subtract reset, detached reset, learnable alpha & threshold   frozen   7.6e-09   0   ok

The columns, explained once (also by ``gradcheck --help``):

twin
    how the spikes are made differentiable for finite differences (chapter 02):
    ``plain`` — none needed, the cell is smooth; ``smooth`` — every spike replaced by its
    surrogate's primitive; ``frozen`` — the real spike train kept, each spike written as
    ``primitive(u) + stop(H(u~) - primitive(u~))``.
flips
    how many perturbations changed a spike, a clip or a switch (a twin then no longer
    follows the real trajectory). 0 means every difference quotient was taken on the
    real network's trajectory.

Why this file is a little over ~350 lines: the proof table itself (every option combination
of every cell, at generic points) is data, kept in one place with its labels.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from . import cells
from .gradcheck import check_cell

__all__ = ["PROOFS", "SPIKE_INPUT", "LIF_GENERIC", "GATED_GENERIC", "SPIKING_LSTM_GENERIC", "SRC_GENERIC",
           "SRC_PROOF_CONSTANTS", "describe", "rows_of", "proofs_of", "prove", "run_proofs",
           "ProofResult", "format_header", "format_row", "main"]

SIZES_T = (1, 2, 7)
N_IN, N_HIDDEN, BATCH = 4, 5, 3


#: A generic point for the LIF family's proofs (docs/design.md, "Proving gradients"): a
#: threshold other than 1, decays off their defaults, and every per-neuron parameter
#: (learnable alpha/threshold/beta, batch norm's scale and shift, gated biases) drawn
#: non-uniform by the cells' ``init_spread`` (value + 0.1 U(-1, 1) per neuron), so that a
#: backward that drops a factor 1.0 or permutes neurons cannot pass.
LIF_GENERIC = dict(threshold=0.7, alpha=0.8, beta=0.7, init_spread=0.1)
GATED_GENERIC = dict(threshold=0.7, alpha=0.8, init_spread=0.1)


def _lif_table():
    """Every lif option combination that changes the backward pass (synaptic x reset x
    detach_reset x learnable alpha x learnable threshold x output; multi-bit refuses the
    zero reset and a learnable threshold), under both twins; plus the presets, a
    learnable beta, the signed range, a non-default surrogate, and the options of the
    recurrent SNN, the reset timing, the spike at threshold, batch norm (running statistics,
    and batch statistics: ``bn_track_running_stats=False`` proves the training-mode
    function, statistics included, while the proof's eval mode keeps b frozen) and the
    authors' range estimator, at the generic point :data:`LIF_GENERIC`."""
    import itertools

    from .cells.lif import PRESETS

    G = LIF_GENERIC
    mb = dict(output="multibit", n_bits=4, threshold_levels=3)
    learn = dict(learn_alpha=True, learn_threshold=True, learn_beta=True)
    out = []
    for twin in ("frozen", "smooth"):
        for syn, reset, det, la, lt, o in itertools.product(
                (True, False), ("subtract", "zero"), (False, True), (False, True), (False, True),
                ("binary", "multibit")):
            if o == "multibit" and (reset == "zero" or lt):
                continue
            out.append((None, dict(synaptic=syn, reset=reset, detach_reset=det, learn_alpha=la,
                                   learn_threshold=lt, output=o), twin))
        for name, cfg in PRESETS.items():
            out.append((f"preset {name}", dict(cfg), twin))
        out.append((None, dict(learn_beta=True), twin))
        out.append((None, dict(surrogate="atan", reset="zero", learn_threshold=True), twin))
        out.append((None, dict(output="multibit", n_bits=2, threshold_levels=1, signed=True), twin))
        for extra in (
                dict(learn),                                              # non-uniform learnables
                dict(recurrent=True),
                dict(recurrent=True, learn_beta=True, **mb),
                dict(recurrent=True, reset="zero", detach_reset=True, **learn),
                dict(recurrent=True, synaptic=False, reset_timing="same_step",
                     learn_alpha=True, learn_threshold=True),
                dict(reset_timing="same_step", **learn),
                dict(reset_timing="same_step", detach_reset=True, learn_threshold=True),
                dict(reset_timing="same_step", reset="zero", **learn),
                dict(reset_timing="same_step", reset="zero", detach_reset=True, **learn),
                dict(reset_timing="same_step", signed=True, learn_beta=True, **mb),
                dict(spike_at_threshold=True, **learn),
                dict(spike_at_threshold=True, signed=True, **mb),
                dict(norm="batch", **learn),
                dict(norm="batch", bn_track_running_stats=False, recurrent=True, **learn),
                dict(norm="batch", bn_track_running_stats=False, learn_beta=True, **mb),
                dict(range_estimator="authors", scale_margin=0.9, signed=True, **mb)):
            out.append((None, dict(G, **extra), twin))
        out.append(("preset ponghiran_authors_code, non-uniform beta & BN",
                    dict(PRESETS["ponghiran_authors_code"], init_spread=0.1), twin))
        out.append(("preset ponghiran_authors_code, batch statistics (training function)",
                    dict(PRESETS["ponghiran_authors_code"], init_spread=0.1,
                         bn_track_running_stats=False), twin))
    return out


def _gated_table():
    """Every gated_lif combination: variant x reset x detach_reset x output (multi-bit
    refuses the zero reset), under both twins; plus, at the generic point
    :data:`GATED_GENERIC`, batch norm (running and batch statistics), the reset timing, the
    spike at threshold and the authors'-code preset for v1 and v2."""
    import itertools

    from .cells.gated_lif import PRESETS

    G = GATED_GENERIC
    out = []
    for twin in ("frozen", "smooth"):
        for v, reset, det, o in itertools.product(("v1", "v2"), ("subtract", "zero"), (False, True),
                                                   ("binary", "multibit")):
            if o == "multibit" and reset == "zero":
                continue
            out.append((None, dict(variant=v, reset=reset, detach_reset=det, output=o), twin))
        for extra in (
                dict(variant="v2", output="binary"),                      # non-uniform biases
                dict(variant="v1", output="binary", norm="batch"),
                dict(variant="v2", norm="batch", bn_track_running_stats=False, n_bits=4),
                dict(variant="v2", output="binary", reset="zero", reset_timing="same_step"),
                dict(variant="v1", reset_timing="same_step", signed=True, n_bits=4),
                dict(variant="v2", output="binary", spike_at_threshold=True)):
            out.append((None, dict(G, **extra), twin))
        for v in ("v1", "v2"):
            out.append((f"{v}, preset ponghiran_authors_code",
                        dict(PRESETS["ponghiran_authors_code"], variant=v, init_spread=0.1), twin))
        out.append(("v2, preset ponghiran_authors_code, batch statistics (training function)",
                    dict(PRESETS["ponghiran_authors_code"], variant="v2", init_spread=0.1,
                         bn_track_running_stats=False), twin))
    return out


#: The SRC's proofs run at the paper's constants except the bias: at the initial
#: b_h = -6 every neuron rests deep in tanh's saturated tail (1 - h^2 ~ 1e-5) and most
#: gradient entries sit at the round-off floor of central differences; b_h = -2 keeps the
#: neurons active (h crosses 0 and 0.5 often, so the ReLU rule and the z_s switch are
#: exercised) with the same code path. tests/test_src.py also checks b_h = -6.
SRC_PROOF_CONSTANTS = {"b_h_init": -2.0, "b_h_max": None}

#: The SRC's generic point (docs/design.md, "Proving gradients"): every constant of Eq. 3
#: off the paper's value — the leak alpha, the saturation rho, the feedback gains r and
#: r_s, and both gates of 3c, z_dep = 0.3 != 0 —, so that a backward that hard-codes a
#: paper constant (e.g. z_dep = 0, where the carry of h_s drops a term) fails a proof. The
#: constants keep the neurons spiking: h[t-1] > 0.5 (z_s = z_dep) occurs in the proofs.
SRC_GENERIC = dict(SRC_PROOF_CONSTANTS, alpha=0.8, rho=4.0, r=2.5, r_s=-6.0, z_hyp=0.7, z_dep=0.3)

#: The spiking LSTM's generic point: three distinct thresholds (f/i/o, g, the unit state)
#: and three distinct surrogate widths, so that a backward that uses one threshold or
#: width in place of another cannot pass (at the paper's values theta1 = theta2 = theta_c
#: and a1 = a_c, and such a swap changes no number).
SPIKING_LSTM_GENERIC = dict(theta1=0.15, theta2=0.05, theta_c=0.4, a1=3.0, a2=0.5, a_c=1.5)

#: cell -> [(label or None, config, twin)]: what ``gradcheck`` proves. ``twin`` None: a
#: smooth cell, plain finite differences. A None label is made by :func:`describe`.
PROOFS = {
    "rnn": [(None, {}, None)],
    "lstm": [(None, {}, None)],
    "gru": [(None, {}, None)],
    "spiking_lstm": [
        (None, {}, "frozen"),
        (None, {}, "smooth"),
        (None, {"cell_grad": "constant", "gamma": 0.7}, "frozen"),
        (None, {"cell_grad": "constant", "gamma": 0.7}, "smooth"),
        (None, {"init": "standard_normal"}, "frozen"),
        ("generic point: distinct thresholds and widths", SPIKING_LSTM_GENERIC, "frozen"),
        ("generic point: distinct thresholds and widths", SPIKING_LSTM_GENERIC, "smooth"),
        ("generic point, cell_grad=constant, gamma=0.7",
         dict(SPIKING_LSTM_GENERIC, cell_grad="constant", gamma=0.7), "frozen"),
        ("generic point, cell_grad=constant, gamma=0.7",
         dict(SPIKING_LSTM_GENERIC, cell_grad="constant", gamma=0.7), "smooth"),
        ("generic point, init=standard_normal", dict(SPIKING_LSTM_GENERIC, init="standard_normal"),
         "frozen"),
    ],
    "lif": _lif_table(),
    "gated_lif": _gated_table(),
    "brc": [(None, {}, None)],
    "src": [
        ("exact rule (no bypass, no detach)", dict(SRC_PROOF_CONSTANTS, bypass_relu=False,
                                                    detach_recurrent=False), "frozen"),
        ("ReLU bypass", dict(SRC_PROOF_CONSTANTS, bypass_relu=True, detach_recurrent=False), "frozen"),
        ("detached recurrence", dict(SRC_PROOF_CONSTANTS, bypass_relu=False, detach_recurrent=True),
         "frozen"),
        ("ReLU bypass, detached recurrence (the paper's)", dict(SRC_PROOF_CONSTANTS), "frozen"),
        ("generic constants, exact rule", dict(SRC_GENERIC, bypass_relu=False, detach_recurrent=False),
         "frozen"),
        ("generic constants, ReLU bypass", dict(SRC_GENERIC, bypass_relu=True, detach_recurrent=False),
         "frozen"),
        ("generic constants, detached recurrence",
         dict(SRC_GENERIC, bypass_relu=False, detach_recurrent=True), "frozen"),
        ("generic constants, ReLU bypass, detached recurrence", dict(SRC_GENERIC), "frozen"),
    ],
}

#: Cells whose proofs feed 0/1 spike trains: the SRC's inputs are spikes (a continuous
#: input works too, but spikes are what the paper's rules were written for).
SPIKE_INPUT = {"src"}


def describe(name, config):
    """A label a teacher can project: the options of ``config`` in words."""
    c = dict(config)
    if name == "lif" or name == "gated_lif":
        words = []
        if name == "gated_lif":
            words.append(c.pop("variant", "v1"))
        generic = LIF_GENERIC if name == "lif" else GATED_GENERIC
        at_generic = all(k in c and c[k] == v for k, v in generic.items())
        if at_generic:  # one word for the generic point's constants
            for k in generic:
                del c[k]
        out = c.pop("output", "binary" if name == "lif" else "multibit")
        bits = c.pop("n_bits", 6)
        signed = c.pop("signed", False)
        words.append("binary" if out == "binary" else f"{bits}-bit{' signed' if signed else ''}")
        if name == "lif":
            words.append("synaptic" if c.pop("synaptic", True) else "no synaptic current")
            if c.pop("recurrent", False):
                words.append("recurrent U")
        timing = c.pop("reset_timing", "next_step")
        words.append(f"{c.pop('reset', 'subtract')} reset"
                     + (" in the same step" if timing == "same_step" else ""))
        if c.pop("detach_reset", False):
            words.append("detached reset")
        if c.pop("spike_at_threshold", False):
            words.append("spike at V >= threshold")
        learn = [k for k in ("alpha", "threshold", "beta") if c.pop(f"learn_{k}", False)]
        if learn:
            words.append("learnable " + " & ".join(learn))
        if c.pop("norm", "none") == "batch":
            words.append("batch norm" + ("" if c.pop("bn_track_running_stats", True)
                                         else " (batch statistics)"))
        if c.pop("range_estimator", "max_abs") == "authors":
            words.append("authors' range")
        if "init_spread" in c:
            words.append(f"per-neuron values +-{c.pop('init_spread')}")
        if "surrogate" in c:
            words.append(f"{c.pop('surrogate')} surrogate")
        words += [f"{k}={v}" for k, v in c.items()]
        if at_generic:
            words.append("generic point")
        return ", ".join(words)
    if not c:
        return "the paper's defaults" if name in ("spiking_lstm", "src") else "default"
    return ", ".join(f"{k}={v}" for k, v in c.items())


def rows_of(name):
    """The proof table of cell ``name`` as a list of ``(label, config, twin)`` (labels filled in)."""
    if name not in PROOFS:
        raise ValueError(f"no proofs for cell {name!r}; cells with proofs: {sorted(PROOFS)}")
    return [(label or describe(name, cfg), cfg, twin) for label, cfg, twin in PROOFS[name]]


def proofs_of(name):
    """The proof table of cell ``name`` as ``{key: (config, twin)}``. The key is the label,
    followed by ``[frozen]`` / ``[smooth]`` for the spiking cells (a configuration is
    proven under both twins, and each proof needs its own key)."""
    out = {}
    for label, cfg, twin in rows_of(name):
        key = label if twin is None else f"{label} [{twin}]"
        if key in out:
            raise ValueError(f"proof table of {name!r} lists {key!r} twice")
        out[key] = (cfg, twin)
    return out


@dataclass
class ProofResult:
    cell: str
    label: str
    twin: str
    reports: list  # one gradcheck.Report per T

    @property
    def ok(self):
        return all(r.ok for r in self.reports)

    @property
    def max_error(self):
        return max(r.max_error for r in self.reports)

    @property
    def flips(self):
        return sum(r.flips for r in self.reports)


def prove(name, config=None, twin="frozen", sizes_T=SIZES_T, seed=0, b=None, label=None,
          max_entries=None, n_in=N_IN, n_hidden=N_HIDDEN, batch=BATCH):
    """Prove one (cell, configuration) on every T in ``sizes_T``; returns a :class:`ProofResult`.

    The cell is built in float64 with ``seed``, set to eval mode (running statistics such
    as the multi-bit range ``b`` stay put; ``b`` sets that range first); the input is
    standard normal (0/1 spikes for the cells of :data:`SPIKE_INPUT`), the initial state a
    valid non-zero one from ``cell.sample_state``.
    """
    config = {} if config is None else dict(config)
    reports = []
    for T in sizes_T:
        rng = np.random.default_rng([seed, T])
        cell = cells.make(name, n_in, n_hidden, seed=seed, dtype=np.float64, **config)
        cell.training = False
        if b is not None:
            cell.b = b
        x = rng.standard_normal((T, batch, n_in))
        if name in SPIKE_INPUT:
            x = (rng.random((T, batch, n_in)) < 0.5).astype(np.float64)
        state = cell.sample_state(batch, rng)
        reports.append(check_cell(cell, x, state, twin=twin, seed=seed, max_entries=max_entries))
    return ProofResult(name, label or describe(name, config), twin or "plain", reports)


def run_proofs(names=None, max_entries=None, stream=None):
    """Prove every configuration of the given cells (default: all available)."""
    names = cells.available() if names is None else names
    out = []
    for name in names:
        for label, config, twin in rows_of(name):
            res = prove(name, config, twin, label=label, max_entries=max_entries)
            out.append(res)
            if stream is not None:
                print(format_row(res), file=stream, flush=True)
    return out


LABEL_WIDTH = 66


def format_header():
    return (f"{'cell':<14}{'configuration':<{LABEL_WIDTH}}{'twin':<8}{'max rel.error':>14}"
            f"{'flips':>7}  verdict")


def format_row(r):
    return (f"{r.cell:<14}{r.label:<{LABEL_WIDTH}}{r.twin:<8}{r.max_error:>14.2e}{r.flips:>7d}  "
            f"{'ok' if r.ok else 'FAIL'}")


COLUMNS = ("twin: how spikes are made differentiable (plain: smooth cell; smooth: spikes -> surrogate "
           "primitive; frozen: the real spike train, spikes written primitive(u) + stop(H - primitive)). "
           "flips: perturbations that changed a spike, clip or switch (0: every difference quotient on "
           "the real trajectory).")


def main(argv):
    import sys

    p = argparse.ArgumentParser(prog="python -m snn_from_scratch gradcheck",
                                description="Prove the cells' backward passes by finite differences "
                                            f"(float64, T in {SIZES_T}, B={BATCH}, non-zero initial state). "
                                            + COLUMNS)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cell", choices=sorted(cells.REGISTRY), help="one cell")
    g.add_argument("--all", action="store_true", help="every available cell (default)")
    p.add_argument("--verbose", action="store_true", help="print every tensor's row")
    args = p.parse_args(argv)
    names = [args.cell] if args.cell else None
    if names:
        try:
            cells.cell_class(args.cell)
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
    print(COLUMNS)
    print(format_header())
    t0 = time.time()
    results = run_proofs(names, stream=None if args.verbose else sys.stdout)
    if args.verbose:
        for r in results:
            print(format_row(r))
            for rep in r.reports:
                print(rep.table())
    bad = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(bad)}/{len(results)} configurations proven "
          f"(tolerance 1e-7) in {time.time() - t0:.1f} s")
    return 1 if bad else 0
