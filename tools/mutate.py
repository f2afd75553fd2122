#!/usr/bin/env python
"""Mutation testing of the backward code: does the test suite catch a wrong gradient?

A *mutant* is the source with one small change inside one backward function — an
operator swapped, a term or factor dropped, a constant changed, two arguments or two
cached fields swapped, a transpose removed, a condition negated. Each mutant is run
against the tests of its file (``-x``: the first failing test kills it). A mutant that
survives is either a gap in the tests (write the test that kills it) or *equivalent*
(the change cannot alter any result, e.g. ``x * 1.0 -> x / 1.0``): docs/mutation.md
lists every survivor of the last run with the reason.

Why not ``mutmut``: mutmut 3 mutates whole files (``paths_to_mutate``); it cannot be
restricted to the backward functions except by a ``# pragma: no mutate`` on every other
line, and its first phase runs the whole suite to map tests to functions. Here the
targets are a short table (:data:`TARGETS`: file -> backward functions -> the tests that
prove them), the mutants are made with ``ast`` and run in a throw-away copy of the tree
(the working tree is never written), one forked child per mutant (the parent has
imported numpy, scipy and pytest once: a mutant costs its tests, not the start-up).

Usage (not in CI: it takes from minutes to an hour)::

    OMP_NUM_THREADS=1 nice python tools/mutate.py                  # every target
    OMP_NUM_THREADS=1 nice python tools/mutate.py cells/src.py     # one file
    python tools/mutate.py --list cells/src.py                     # the mutants, not run
    python tools/mutate.py --max 40 --seed 0                       # a seeded sample per file

It writes ``mutation_results.json`` (``--out``) and prints a table per file: mutants,
killed, survived (with each survivor's location and change), timeouts.
"""
from __future__ import annotations

import argparse
import ast
import copy
import fnmatch
import json
import os
import pathlib
import random
import shutil
import signal
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = "snn_from_scratch"

#: file (in the package) -> (backward functions, as qualified-name patterns; the tests
#: that prove them). The torch cross-checks are deliberately absent: the numpy-only suite
#: must catch a wrong backward on its own.
TARGETS = {
    "cells/rnn.py": (("step_backward", "RNN._backward"), ("test_conventional_cells.py",)),
    "cells/lstm.py": (("step_backward", "LSTM._backward"), ("test_conventional_cells.py",)),
    "cells/gru.py": (("step_backward", "GRU._backward"), ("test_conventional_cells.py",)),
    "cells/brc.py": (("step_backward", "BRC._backward"), ("test_brc.py",)),
    "cells/src.py": (("step_backward", "SRC._backward"), ("test_src.py",)),
    "cells/spiking_lstm.py": (("step_backward", "SpikingLSTM._backward", "restore"),
                              ("test_spiking_lstm.py",)),
    "cells/lif.py": (("membrane_backward", "step_backward", "LIF._backward", "reset_coefficients",
                      "times", "batch_norm_backward", "AtThreshold.grad"),
                     ("test_lif.py", "test_lif_options.py", "test_gated_lif.py")),
    "cells/gated_lif.py": (("step_backward", "GatedLIF._backward"), ("test_gated_lif.py",)),
    "layers.py": (("Linear.backward", "LeakyReadout.backward", "softmax_cross_entropy", "mse"),
                  ("test_layers.py", "test_network.py")),
    "readouts.py": (("LeakyIntegrator.backward",), ("test_readouts.py", "test_network_readouts.py")),
    "surrogates.py": (("*.grad", "*.primitive"), ("test_surrogates.py", "test_surrogate_extremes.py")),
    "optim.py": (("Optimizer.step", "SGD._update", "Adam._update", "clip_grad_norm"), ("test_optim.py",)),
}

_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}
_CMP_SWAP = {ast.Gt: ast.Lt, ast.Lt: ast.Gt, ast.GtE: ast.LtE, ast.LtE: ast.GtE, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq}
_SYM = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Gt: ">", ast.Lt: "<",
        ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}


# --------------------------------------------------------------------------------------
# Making mutants: (line, col, end_line, end_col, replacement text, description)
# --------------------------------------------------------------------------------------
def _functions(tree, patterns):
    """(qualname, FunctionDef) of every function of ``tree`` matching one of ``patterns``."""
    out = []

    def visit(node, prefix):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = prefix + ch.name
                if any(fnmatch.fnmatchcase(q, p) for p in patterns):
                    out.append((q, ch))
            elif isinstance(ch, ast.ClassDef):
                visit(ch, prefix + ch.name + ".")
    visit(tree, "")
    return out


def _validation(node):
    """An ``if`` that only raises (argument checking, not the gradient)."""
    return isinstance(node, ast.If) and all(isinstance(s, ast.Raise) for s in node.body)


def _span(node):
    return node.lineno, node.col_offset, node.end_lineno, node.end_col_offset


def _expr(node):
    return "(" + ast.unparse(node) + ")"


def mutants_of(source, patterns):
    """Every mutant of the functions of ``source`` matching ``patterns``."""
    tree = ast.parse(source)
    out = []
    for qual, fn in _functions(tree, patterns):
        body = fn.body[1:] if (fn.body and isinstance(fn.body[0], ast.Expr)
                               and isinstance(fn.body[0].value, ast.Constant)) else fn.body
        skip = set()
        attrs = {}  # name -> attributes read on it in this function (cached fields, config)
        for stmt in body:
            for node in ast.walk(stmt):
                if _validation(node) or isinstance(node, ast.Raise):
                    skip.update(id(n) for n in ast.walk(node))
                if isinstance(node, ast.Subscript):       # indices and slices: not arithmetic
                    skip.update(id(n) for n in ast.walk(node.slice))
                if isinstance(node, ast.keyword) and node.arg in ("axis", "dtype", "keepdims", "out", "copy"):
                    skip.update(id(n) for n in ast.walk(node))
        called = set()
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call):
                    called.add(id(node.func))
                    for a in node.args:  # np.zeros(shape), .sum(0), .reshape(T*B, -1): shapes
                        if isinstance(node.func, ast.Attribute) and node.func.attr in (
                                "reshape", "sum", "mean", "max", "min", "zeros", "ones", "empty",
                                "transpose", "swapaxes", "stack", "concatenate", "full"):
                            skip.update(id(n) for n in ast.walk(a))
        for stmt in body:  # data attributes (not methods) read on each name
            for node in ast.walk(stmt):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and isinstance(node.ctx, ast.Load) and id(node) not in called):
                    attrs.setdefault(node.value.id, set()).add(node.attr)

        def add(node, text, what):
            out.append(dict(function=qual, line=node.lineno, span=_span(node), text=text, what=what))

        for stmt in body:
            for node in ast.walk(stmt):
                if id(node) in skip:
                    continue
                if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
                    new = copy.copy(node)
                    new.op = _BINOP_SWAP[type(node.op)]()
                    add(node, _expr(new), f"{_SYM[type(node.op)]} -> {_SYM[type(new.op)]}")
                    if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                        add(node, _expr(node.left), f"drop right operand of {_SYM[type(node.op)]}")
                    if isinstance(node.op, (ast.Add, ast.Mult)):
                        add(node, _expr(node.right), f"drop left operand of {_SYM[type(node.op)]}")
                elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAP:
                    new = copy.copy(node)
                    new.op = _BINOP_SWAP[type(node.op)]()
                    add(node, ast.unparse(new), f"{_SYM[type(node.op)]}= -> {_SYM[type(new.op)]}=")
                elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
                    add(node, _expr(node.operand), "drop unary minus")
                elif (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
                      and not isinstance(node.value, bool)):
                    v = node.value
                    news = [1] if v == 0 else ([0, 2] if v == 1 else [0, 2 * v])
                    for n in news:
                        n = type(v)(n)
                        add(node, repr(n), f"constant {v!r} -> {n!r}")
                elif isinstance(node, ast.Attribute) and node.attr == "T":
                    add(node, _expr(node.value), "drop .T")
                elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and isinstance(node.ctx, ast.Load) and id(node) not in called):
                    names = sorted(attrs.get(node.value.id, ()))
                    if len(names) >= 2:
                        alts = []
                        same = [a for a in names if a[0] == node.attr[0]]
                        if len(same) >= 2:
                            alts.append(same[(same.index(node.attr) + 1) % len(same)])
                        alts.append(names[(names.index(node.attr) + 1) % len(names)])
                        for a in dict.fromkeys(alts):
                            if a != node.attr:
                                add(node, f"{node.value.id}.{a}", f"{node.value.id}.{node.attr} -> .{a}")
                elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(
                        isinstance(a, ast.Starred) for a in node.args):
                    pairs = [(0, 1)] + ([(len(node.args) - 2, len(node.args) - 1)] if len(node.args) >= 3 else [])
                    for i, j in pairs:
                        if ast.dump(node.args[i]) == ast.dump(node.args[j]):
                            continue
                        new = copy.copy(node)
                        new.args = list(node.args)
                        new.args[i], new.args[j] = new.args[j], new.args[i]
                        add(node, _expr(new), f"swap arguments {i} and {j} of {ast.unparse(node.func)}")
                elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_SWAP:
                    new = copy.copy(node)
                    new.ops = [_CMP_SWAP[type(node.ops[0])]()]
                    add(node, _expr(new), f"{_SYM[type(node.ops[0])]} -> {_SYM[type(new.ops[0])]}")
                if isinstance(node, (ast.If, ast.IfExp)) and id(node.test) not in skip:
                    add(node.test, f"(not {_expr(node.test)})", "negate condition")
    return out


def apply(source, m):
    """The source with mutant ``m`` applied (the replaced span, by line and column)."""
    lines = source.splitlines(keepends=True)
    l0, c0, l1, c1 = m["span"]
    # ast columns are UTF-8 byte offsets
    head = lines[l0 - 1].encode()[:c0].decode()
    tail = lines[l1 - 1].encode()[c1:].decode()
    return "".join(lines[:l0 - 1]) + head + m["text"] + tail + "".join(lines[l1:])


# --------------------------------------------------------------------------------------
# Running them
# --------------------------------------------------------------------------------------
def make_workdir():
    work = pathlib.Path(tempfile.mkdtemp(prefix="snn_mutate_"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in (PKG, "tests", "validation"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, work / name, ignore=ignore)
    for name in ("pytest.ini", "pyproject.toml", "conftest.py"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, work / name)
    if (ROOT / "data").exists():
        os.symlink(ROOT / "data", work / "data")
    return work


def run_tests(work, tests, timeout, log):
    """Run pytest on ``tests`` in a forked child; returns 'killed', 'survived' or 'timeout'."""
    pid = os.fork()
    if pid == 0:  # the child: a fresh import of the (mutated) package
        try:
            os.chdir(work)
            sys.path.insert(0, str(work))
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            import pytest
            rc = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:nbval",
                              *[f"tests/{t}" for t in tests]])
            mod = sys.modules.get(PKG)
            if mod is None or not str(mod.__file__).startswith(str(work)):
                os._exit(99)  # the tests ran against another copy of the package
            os._exit(int(rc))
        except BaseException:  # noqa: BLE001 - anything here is a test-run failure
            os._exit(98)
    t0 = time.time()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.time() - t0 > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.time() - t0
        time.sleep(0.05)
    if rc == 99:
        raise RuntimeError(f"tests imported {PKG} from outside {work}")
    return ("survived" if rc == 0 else "killed"), time.time() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help=f"files of {PKG}/ to mutate (default: every target)")
    p.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    p.add_argument("--max", type=int, default=None, help="at most this many mutants per file (seeded sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="mutation_results.json")
    args = p.parse_args(argv)
    files = args.files or list(TARGETS)
    for f in files:
        if f not in TARGETS:
            p.error(f"no target {f!r}; targets: {', '.join(TARGETS)}")
    plan = {}
    for f in files:
        src = (ROOT / PKG / f).read_text()
        ms = mutants_of(src, TARGETS[f][0])
        seen, uniq = {src}, []
        for m in ms:  # two changes that give the same source are one mutant
            s = apply(src, m)
            if s not in seen:
                seen.add(s)
                try:
                    compile(s, f, "exec")
                except SyntaxError:  # not a program: not a mutant
                    continue
                uniq.append(m)
        total = len(uniq)
        if args.max is not None and total > args.max:
            uniq = sorted(random.Random(args.seed).sample(uniq, args.max), key=lambda m: m["span"])
        plan[f] = (src, uniq, total)
    if args.list:
        for f, (src, ms, total) in plan.items():
            print(f"{f}: {len(ms)} of {total} mutants")
            for m in ms:
                print(f"  {m['function']}:{m['line']}: {m['what']}:  {m['text'][:100]}")
        return 0
    sys.dont_write_bytecode = True  # every mutant is compiled from its source
    import numpy  # noqa: F401  (imported once, before forking)
    import pytest  # noqa: F401
    import scipy.sparse  # noqa: F401
    work = make_workdir()
    log = str(work / "last_run.log")
    results = {}
    try:
        for f, (src, ms, total) in plan.items():
            target = work / PKG / f
            tests = TARGETS[f][1]
            status, base_time = run_tests(work, tests, 3600, log)
            if status != "survived":
                print(f"{f}: the unmutated tests fail ({status}); see {log}", file=sys.stderr)
                results[f] = {"error": "baseline fails"}
                continue
            timeout = max(60.0, 3 * base_time)
            rows = []
            print(f"{f}: {len(ms)} mutants (of {total}); tests {', '.join(tests)} take {base_time:.0f} s",
                  flush=True)
            for k, m in enumerate(ms):
                target.write_text(apply(src, m))
                status, dt = run_tests(work, tests, timeout, log)
                by = ""
                if status == "killed":  # the first failing test, for the record
                    by = next((ln.split(" - ")[0][7:].strip() for ln in open(log, errors="replace")
                               if ln.startswith(("FAILED ", "ERROR "))), "?")
                rows.append(dict(m, span=list(m["span"]), status=status, seconds=round(dt, 1),
                                 killed_by=by))
                if status != "killed":
                    print(f"  [{k + 1}/{len(ms)}] {status.upper()}: {m['function']}:{m['line']}: "
                          f"{m['what']}: {m['text'][:100]}", flush=True)
            target.write_text(src)
            n = {s: sum(r["status"] == s for r in rows) for s in ("killed", "survived", "timeout")}
            results[f] = {"total_mutants": total, "run": len(rows), **n, "mutants": rows}
            print(f"{f}: {len(rows)} run, {n['killed']} killed, {n['survived']} survived, "
                  f"{n['timeout']} timeouts", flush=True)
            pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'file':<24}{'mutants':>8}{'run':>6}{'killed':>8}{'survived':>10}{'timeout':>9}")
    for f, r in results.items():
        if "error" in r:
            print(f"{f:<24}  {r['error']}")
        else:
            print(f"{f:<24}{r['total_mutants']:>8}{r['run']:>6}{r['killed']:>8}{r['survived']:>10}{r['timeout']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
