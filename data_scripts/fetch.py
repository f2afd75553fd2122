#!/usr/bin/env python3
"""Fetch the real data sets: ``python data_scripts/fetch.py NAME [NAME ...] [--dest DIR]``.

The same as ``python -m snn_from_scratch fetch``: the implementation lives in the package
(:mod:`snn_from_scratch.fetch`) so that an installed copy can fetch too.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone without installing

from snn_from_scratch.fetch import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
