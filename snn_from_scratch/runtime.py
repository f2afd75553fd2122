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
:func:`jsonable`
    a config, history or result made JSON-safe (tuples -> lists, numpy scalars and arrays
    -> Python numbers and lists), for checkpoint headers, fixture headers and result files.
"""
from __future__ import annotations

import ast
import json
import math
import os

import numpy as np

__all__ = ["fast_mode", "add_config_option", "parse_config", "parse_value", "jsonable"]


def fast_mode():
    """True when ``SNN_FAST=1``: shrink data and epochs (CI and quick looks)."""
    return os.environ.get("SNN_FAST", "0") not in ("", "0", "false", "False")


def add_config_option(parser, example="--config reset=zero --config alpha=0.95"):
    """Add the repeatable ``--config KEY=VALUE`` option (read it with :func:`parse_config`)."""
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a cell keyword, one per --config (repeatable), e.g. {example}")


def parse_value(text):
    """The value of ``key=value``: JSON, else a Python literal, else the string itself."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            pass
    return text


def parse_config(items):
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


def jsonable(v):
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
