"""A course kit: exercises that students solve, graded by gradient proofs.

Each exercise asks for one backward function with the library's own signature (for a
cell, ``step_backward(dy_t, dstate, cache_t, p, cfg)``), next to a derivation to complete.
The exercises live in notebooks grouped by chapter (``exercises/notebooks/``, the solution
versions, in nbgrader's format); the student versions are built from them::

    python -m snn_from_scratch exercises list
    python -m snn_from_scratch exercises build --out course/          # student versions
    python -m snn_from_scratch exercises check lif_step my_lif.ipynb  # grade an answer

``check`` runs the student's function inside the library's cell, proves its gradients by
finite differences (on the frozen or smooth twin for spiking cells), reports per tensor the
relative error and the first time step where the backward pass departs, and names the
likely mistake (:mod:`.grader`). Exit code 0: correct; 1: not (yet); 2: bad usage.
The notebooks' test cells call the same grader (:func:`grade`). docs/teaching.md describes
how to run a course with it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalog import EXERCISES, Exercise, Mistake, Setting
from .grader import Result, grade

__all__ = ["EXERCISES", "Exercise", "Mistake", "Setting", "Result", "grade", "check", "main"]


def check(name, path, hidden=False, quiet=False):
    """Grade the answer to exercise ``name`` found in ``path`` (.ipynb or .py).

    Returns a :class:`Result`. Raises ``ValueError`` (unknown exercise) or
    ``FileNotFoundError`` (no such file): bad usage, not a wrong answer.
    """
    from .builder import load_functions

    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; choose one of: {', '.join(EXERCISES)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix not in (".py", ".ipynb"):
        raise ValueError(f"{path}: expected a notebook (.ipynb) or a Python file (.py)")
    ex = EXERCISES[name]
    try:
        fns = load_functions(path, ex)
    except LookupError as e:
        return _fail(name, str(e), quiet)
    except Exception as e:   # the student's file does not even run: a wrong answer, not usage
        return _fail(name, f"{path} could not be run: {type(e).__name__}: {e}", quiet)
    return grade(name, *fns, hidden=hidden, quiet=quiet)


def _fail(name, message, quiet):
    text = f"== {name} ==\n{message}\nRESULT: FAIL"
    if not quiet:
        print(text)
    return Result(name, False, text)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line, no usage dump, no SystemExit
        raise _UsageError(f"{self.prog}: {message}")


def _parser():
    p = _Parser(prog="python -m snn_from_scratch exercises",
                description="The course kit: build the student notebooks, grade answers.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("list", help="the exercises, their chapters and time estimates")
    b = sub.add_parser("build", help="write the student versions of the exercise notebooks")
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument("--solutions", action="store_true",
                   help="also write the solution versions to OUT/solutions")
    c = sub.add_parser("check", help="grade an answer: exit 0 correct, 1 not, 2 bad usage")
    c.add_argument("name", help="the exercise (see `exercises list`)")
    c.add_argument("path", help="the student's notebook (.ipynb) or Python file (.py)")
    c.add_argument("--hidden", action="store_true", help="grade on the hidden settings too")
    return p


def main(argv=None) -> int:
    """``exercises list | build --out DIR [--solutions] | check NAME PATH [--hidden]``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    try:
        if any(a in ("-h", "--help") for a in argv):
            try:
                parser.parse_args(argv)
            except SystemExit as e:
                return int(e.code or 0)
        args = parser.parse_args(argv)
    except _UsageError as e:
        print(e, file=sys.stderr)
        return 2
    if args.command is None:
        print(parser.format_usage().strip(), file=sys.stderr)
        return 2
    if args.command == "list":
        print(f"{'exercise':<19}{'chapter':<9}{'minutes':<9}{'notebook':<27}title")
        for e in EXERCISES.values():
            print(f"{e.name:<19}{e.chapter:<9}{e.minutes:<9}{e.notebook:<27}{e.title}")
        return 0
    if args.command == "build":
        from .builder import build

        for path in build(args.out, solutions=args.solutions):
            print(f"wrote {path}")
        return 0
    try:
        result = check(args.name, args.path)
        if result.ok and args.hidden:
            result = check(args.name, args.path, hidden=True)
    except (ValueError, FileNotFoundError) as e:
        print(f"exercises check: {e}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1
