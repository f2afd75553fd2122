"""What every entry point shares: the fast-mode switch, ``--config key=value`` and JSON.

The command-line modules (``tour``, ``train_cli``, ``reference``, ``experiments``), the
checkpoints and the chapters all need these three small things, and none of them should
have to import another entry point (or the experiments) to get them:

:func:`fast_mode`
    True when the environment variable ``SNN_FAST`` is set (to anything but ``0`` /
    ``false``): small data and few epochs, for CI and quick looks.
:func:`add_config_option` / :func:`parse_config`
    one spelling of cell options on every command line — ``--config key=value``, repeated
    once per option (``--config reset=zero --config alpha=0.95``) — and one rule for the
    value: JSON first (``true``, ``2.5``, ``{"a": 2}``), then a Python literal (``True``,
    ``None``, ``{'a': 2}``), else the plain string (``reset=zero``).
:func:`add_threads_option` / :func:`set_threads`
    the BLAS thread count, chosen deliberately by every command that trains: one thread by
    default. The matrices of these models are small (a few hundred units): a second BLAS
    thread buys little and, on a busy 2-core machine, costs a lot (an LSTM epoch measured
    1.0-1.2 s with one thread, 7.5-12 s with NumPy's default two under load).
:func:`jsonable`
    a config, history or result made JSON-safe (tuples -> lists, numpy scalars and arrays
    -> Python numbers and lists), for checkpoint headers, fixture headers and result files.
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
from typing import Any, Iterable, Optional, TextIO

import numpy as np

__all__ = ["fast_mode", "add_config_option", "parse_config", "parse_value", "jsonable",
           "add_threads_option", "set_threads"]


def fast_mode() -> bool:
    """True when ``SNN_FAST=1``: shrink data and epochs (CI and quick looks)."""
    return os.environ.get("SNN_FAST", "0") not in ("", "0", "false", "False")


def add_config_option(parser: argparse.ArgumentParser,
                      example: str = "--config reset=zero --config alpha=0.95") -> None:
    """Add the repeatable ``--config KEY=VALUE`` option (read it with :func:`parse_config`)."""
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a cell keyword, one per --config (repeatable), e.g. {example}")


def parse_value(text: str) -> Any:
    """The value of ``key=value``: JSON, else a Python literal, else the string itself."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            pass
    return text


def parse_config(items: Optional[Iterable[str]]) -> dict[str, Any]:
    """``["reset=zero", "alpha=0.8"]`` -> ``{"reset": "zero", "alpha": 0.8}``.

    ``ValueError`` for an item without ``=`` or a key that is not a Python name (the cell
    itself refuses unknown keys, listing the valid ones).
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--config expects key=value, got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        if not key.isidentifier():
            raise ValueError(f"--config key {key!r} is not a valid name")
        out[key] = parse_value(value)
    return out


def jsonable(v: Any) -> Any:
    """``v`` with tuples as lists, numpy scalars/arrays as Python numbers/lists, dict keys as
    strings and non-finite floats as the strings ``'nan'``, ``'inf'``, ``'-inf'`` (strict
    JSON has no NaN, and a fixture header is read by other languages' JSON parsers); any
    other object becomes its ``repr``."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (default 1; 0 = leave the BLAS library's own choice)."""
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="BLAS threads for NumPy (default 1: fastest for these small matrices "
                             "on a shared machine; 0 keeps the library's default)")


_LIMITS = []  # keeps threadpoolctl's limiter alive for the life of the process


def set_threads(n: int, stream: Optional[TextIO] = None) -> str:
    """Limit NumPy's BLAS (OpenBLAS, MKL, BLIS) to ``n`` threads for the rest of the process
    (``n = 0``: leave it alone) with ``threadpoolctl``, and print the result on ``stream``
    (None: silent). Returns the one-line description."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"threads must be an integer >= 0, got {n!r}")
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # pragma: no cover - declared in requirements.txt
        text = "BLAS threads: not set (install threadpoolctl; or set OMP_NUM_THREADS before starting)"
    else:
        if n > 0:
            _LIMITS.append(threadpool_limits(limits=n, user_api="blas"))
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        now = sorted({p["num_threads"] for p in pools}) or ["?"]
        libs = ", ".join(sorted({p.get("internal_api", "?") for p in pools})) or "no BLAS found"
        text = (f"BLAS threads: {'/'.join(map(str, now))} ({libs}; "
                f"{'set by --threads' if n > 0 else 'the library default'})")
    if stream is not None:
        print(text, file=stream, flush=True)
    return text
