"""The conformance runner: snnTorch, Norse and SpikingJelly on our lif fixtures.

``python -m validation.conform [--fast] [--framework NAME] [--all]``

For every ``lif`` fixture of the standard suite (``reference.standard_suite``: the proof
table's configurations and the conformance fixtures of ``reference.conformance_suite``, each
framework neuron under each surrogate family), each installed framework's adapter
(:mod:`validation.adapters`) says whether one of its neurons expresses the fixture — and
if not, the convention that separates them — runs it, and ``reference.compare`` measures
the largest normwise relative error of every result tensor. The table has one row per
(fixture, framework) that ran: the error of ``y``, of each final state field, of ``dx``
and of each parameter gradient, and the verdict against the framework's tolerance
(snnTorch 1e-7: its spikes are float32; Norse and SpikingJelly 1e-10); every mismatch is
followed by its reason. Then a summary per framework: how many fixtures ran, how many
agree to 1e-10 and to 1e-7, and why the others could not run (``--all`` lists them one by
one). ``--fast`` runs only the conformance fixtures (the ones written for the frameworks).

Exit status 0 when every fixture that ran agrees within tolerance or differs for a
documented reason (``known_difference`` of the adapter), 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field

from snn_from_scratch import reference

from . import adapters

__all__ = ["Row", "Report", "fixtures", "run", "main"]

#: The columns of the table: result tensors in a fixed order ("-" where a fixture has none).
COLUMNS = ("y", "state_final/V", "state_final/Y", "state_final/I", "dx", "grads/W", "grads/U",
           "grads/alpha", "grads/threshold", "grads/beta")
SHORT = {"y": "y", "state_final/V": "V", "state_final/Y": "Y", "state_final/I": "I", "dx": "dx",
         "grads/W": "dW", "grads/U": "dU", "grads/alpha": "dalpha", "grads/threshold": "dthr",
         "grads/beta": "dbeta"}


@dataclass
class Row:
    """One (fixture, framework) that ran."""

    fixture: str
    framework: str
    neuron: str                      # the framework's neuron and settings, in words
    errors: dict                     # tensor -> largest relative error
    tol: float
    problems: list = field(default_factory=list)
    known: str = None                # a documented reason for a difference, or None

    @property
    def max_error(self):
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self):
        return not self.problems and self.max_error <= self.tol

    @property
    def verdict(self):
        if self.ok:
            return f"ok (<= {self.tol:.0e})"
        return "DIFFERS (known)" if self.known else "FAIL"


@dataclass
class Report:
    rows: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)      # framework -> [(fixture, reason)]
    missing: dict = field(default_factory=dict)      # framework -> why it did not run at all
    versions: dict = field(default_factory=dict)

    @property
    def ok(self):
        return all(r.ok or r.known for r in self.rows)

    def counts(self, framework):
        """``(ran, <= 1e-10, <= 1e-7, not expressible)`` of ``framework``."""
        rs = [r for r in self.rows if r.framework == framework]
        return (len(rs), sum(r.max_error <= 1e-10 and not r.problems for r in rs),
                sum(r.max_error <= 1e-7 and not r.problems for r in rs),
                len(self.skipped.get(framework, [])))

    def table(self):
        w = max([len(r.fixture) for r in self.rows] + [20]) - len("lif__") + 1
        head = f"{'fixture':<{w}}{'framework':<14}" + "".join(f"{SHORT[c]:>9}" for c in COLUMNS) + "  verdict"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            cells = "".join(f"{r.errors[c]:>9.1e}" if c in r.errors else f"{'-':>9}" for c in COLUMNS)
            lines.append(f"{r.fixture[len('lif__'):]:<{w}}{r.framework:<14}{cells}  {r.verdict}")
            if not r.ok:
                why = r.known or "; ".join(r.problems) or "not explained: a conformance bug"
                lines.append(f"{'':<{w}}  reason: {why}")
        return "\n".join(lines)

    def summary(self, all_skipped=False):
        lines = []
        for fw, why in self.missing.items():
            lines.append(f"{fw}: skipped, {why}")
        for fw in self.versions:
            ran, e10, e7, skip = self.counts(fw)
            lines.append(f"{fw} {self.versions[fw]}: {ran} fixtures ran, {e10} agree to <= 1e-10, "
                         f"{e7} to <= 1e-7; {skip} not expressible")
            for r in self.rows:
                if r.framework == fw and not r.ok:
                    lines.append(f"  mismatch {r.fixture}: {r.max_error:.1e}: {r.known or 'UNEXPLAINED'}")
            reasons = Counter(reason for _, reason in self.skipped.get(fw, []))
            if all_skipped:
                for fx, reason in self.skipped.get(fw, []):
                    lines.append(f"  not expressible {fx}: {reason}")
            else:
                for reason, n in reasons.most_common():
                    lines.append(f"  not expressible ({n}): {reason}")
        return "\n".join(lines)


def fixtures(fast=False):
    """The lif fixtures the runner uses: ``[(stem, header, arrays)]`` (``fast``: only the
    conformance fixtures, ``reference.conformance_suite``)."""
    out = []
    for stem, name, config in reference.standard_suite(["lif"]):
        if fast and not stem.startswith("lif__conformance"):
            continue
        header, arrays = reference.fixture_arrays(name, config)
        out.append((stem, header, arrays))
    return out


def run(frameworks=None, fast=False, suite=None):
    """Run every installed framework of ``frameworks`` (default all of
    :data:`adapters.ADAPTERS`) on the fixtures; returns a :class:`Report`."""
    suite = fixtures(fast) if suite is None else suite
    report = Report()
    for fw in frameworks or adapters.ADAPTERS:
        ad = adapters.load(fw)
        v = ad.version()
        if v is None:
            report.missing[ad.NAME] = (f"{ad.PACKAGE} (or torch) is not installed "
                                       "(pip install -r requirements-validation.txt)")
            continue
        report.versions[ad.NAME] = v
        report.skipped[ad.NAME] = []
        for stem, header, arrays in suite:
            plan, words = ad.express(header, arrays)
            if plan is None:
                report.skipped[ad.NAME].append((stem, words))
                continue
            res = reference.compare(arrays, ad.run(header, arrays, plan), tol=ad.TOL)
            known = getattr(ad, "known_difference", lambda h, p: None)(header, plan)
            report.rows.append(Row(stem, ad.NAME, words,
                                   {r.name: r.rel_error for r in res.rows if not r.note},
                                   ad.TOL, list(res.problems), None if res.ok else known))
    return report


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m validation.conform", description=__doc__.split("\n\n")[1])
    p.add_argument("--fast", action="store_true", help="only the conformance fixtures")
    p.add_argument("--framework", action="append", choices=adapters.ADAPTERS,
                   help="run only this framework (repeatable)")
    p.add_argument("--all", action="store_true", help="list every fixture a framework cannot express")
    args = p.parse_args(argv)
    _quiet_torch()
    report = run(args.framework, fast=args.fast)
    if report.rows:
        print(report.table())
        print()
    print(report.summary(all_skipped=args.all))
    return 0 if report.ok else 1


def _quiet_torch():
    """torch logs a warning per process when Triton is missing (SpikingJelly probes it)."""
    import logging

    logging.getLogger("torch._library.triton").setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
