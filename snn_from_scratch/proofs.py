"""``python -m snn_from_scratch gradcheck [--cell NAME | --all]``: the proof table.

Each cell module declares ``PROOFS = {label: (config, twin)}``, the configurations its
backward pass is proven under. For each we run :func:`gradcheck.check_cell` in float64
on small sizes — T in {1, 2, 7}, B = 3, a non-zero initial state — and print one line per
(cell, configuration) with the worst relative error over every parameter and the input.
"""
from __future__ import annotations

import argparse
import importlib
import time
from dataclasses import dataclass

import numpy as np

from . import cells
from .gradcheck import check_cell

SIZES_T = (1, 2, 7)
N_IN, N_HIDDEN, BATCH = 4, 5, 3


@dataclass
class ProofResult:
    cell: str
    label: str
    twin: str
    reports: list  # one Report per T

    @property
    def ok(self):
        return all(r.ok for r in self.reports)

    @property
    def max_error(self):
        return max(r.max_error for r in self.reports)

    @property
    def flips(self):
        return sum(r.flips for r in self.reports)


def proofs_of(name):
    """The ``PROOFS`` table of cell ``name``."""
    module = importlib.import_module(f"snn_from_scratch.cells.{cells.REGISTRY[name][0]}")
    return getattr(module, "PROOFS", {"default": ({}, None)})


def random_state(cell, batch, rng, scale=0.5):
    """A non-zero initial state: every field drawn (so carries into t=0 are exercised)."""
    return cell.State(*(scale * rng.standard_normal((batch, cell.n_hidden)) for _ in cell.State._fields))


def prove(name, label, config, twin, seed=0, sizes_T=SIZES_T, max_entries=None):
    """Prove one (cell, configuration) on every T in ``sizes_T``; returns a ProofResult."""
    reports = []
    for T in sizes_T:
        rng = np.random.default_rng([seed, T])
        cell = cells.make(name, N_IN, N_HIDDEN, seed=seed, dtype=np.float64, **config)
        cell.training = False
        x = rng.standard_normal((T, BATCH, N_IN))
        if getattr(cell, "wants_spike_input", False):
            x = (rng.random((T, BATCH, N_IN)) < 0.5).astype(np.float64)
        state = random_state(cell, BATCH, rng)
        reports.append(check_cell(cell, x, state, twin=twin, seed=seed, max_entries=max_entries))
    return ProofResult(name, label, str(twin), reports)


def run_proofs(names=None, max_entries=None, stream=None):
    """Prove every configuration of the given cells (default: all available)."""
    names = cells.available() if names is None else names
    out = []
    for name in names:
        for label, (config, twin) in proofs_of(name).items():
            res = prove(name, label, config, twin, max_entries=max_entries)
            out.append(res)
            if stream is not None:
                print(format_row(res), file=stream, flush=True)
    return out


def format_header():
    return (f"{'cell':<14}{'configuration':<44}{'twin':<8}{'max rel.error':>14}"
            f"{'flips':>7}  verdict")


def format_row(r):
    return (f"{r.cell:<14}{r.label:<44}{r.twin:<8}{r.max_error:>14.2e}{r.flips:>7d}  "
            f"{'ok' if r.ok else 'FAIL'}")


def main(argv):
    import sys

    p = argparse.ArgumentParser(prog="python -m snn_from_scratch gradcheck",
                                description="Prove the cells' backward passes by finite differences "
                                            f"(float64, T in {SIZES_T}, B={BATCH}, non-zero initial state).")
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
