"""The papers' experiments: ``python -m snn_from_scratch reproduce NAME [options]``.

Each paper has a module here (``lotfi``, ``ponghiran``, ``degeeter``) that defines
``EXPERIMENTS = {"lotfi-sinusoid": function, ...}``. Every experiment function takes the
parsed common options (``args.fast``, ``args.seed``, ``args.out``, ``args.data_dir``),
prints its table, saves its figure(s) under ``args.out`` and returns a dict of results
that the chapters display. Helpers they share are in :mod:`.common`; ``fast_mode`` lives
in :mod:`snn_from_scratch.runtime` (re-exported here for the chapters).
"""
from __future__ import annotations

import argparse
import importlib
import pathlib
import sys

from ..runtime import add_threads_option, fast_mode, set_threads

PAPER_MODULES = ("lotfi", "ponghiran", "degeeter")


def registry():
    """All experiments available in this installation: name -> function."""
    out = {}
    for m in PAPER_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{m}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{m}":
                continue
            raise
        out.update(mod.EXPERIMENTS)
    return out


def parser():
    p = argparse.ArgumentParser(prog="python -m snn_from_scratch reproduce",
                                description="Run one of the papers' experiments.")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--fast", action="store_true", default=fast_mode(),
                   help="small data and few epochs (default when SNN_FAST=1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run seeds SEED..SEED+N-1 and report mean ± std (experiments.seeds)")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="with --seeds: joblib worker processes, each with one BLAS thread")
    p.add_argument("--out", default="runs", help="folder for figures and tables (default runs/)")
    p.add_argument("--data-dir", default=None, help="data folder (default $SNN_DATA_DIR, else the per-user cache)")
    add_threads_option(p)
    return p


def run(name, **options):
    """Run experiment ``name`` from Python (the chapters): options as on the command line."""
    exps = registry()
    if name not in exps:
        raise ValueError(f"unknown experiment {name!r}; available: {sorted(exps)}")
    args = parser().parse_args([name])
    for k, v in options.items():
        if not hasattr(args, k):
            raise ValueError(f"unknown option {k!r} for reproduce")
        setattr(args, k, v)
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    return exps[name](args)


def main(argv):
    args = parser().parse_args(argv)
    exps = registry()
    if args.list or not args.name:
        print("experiments:")
        for n, f in sorted(exps.items()):
            doc = (f.__doc__ or "").strip().splitlines()
            print(f"  {n:<28}{doc[0] if doc else ''}")
        return 0
    if args.name not in exps:
        print(f"unknown experiment {args.name!r}; available: {sorted(exps)}")
        return 2
    set_threads(args.threads, stream=sys.stdout)
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.seeds > 1 or args.jobs != 1:
        from .seeds import run_seeds
        run_seeds(args.name, n_seeds=args.seeds, jobs=args.jobs, seed=args.seed, fast=args.fast,
                  out=args.out, data_dir=args.data_dir)
        return 0
    exps[args.name](args)
    return 0
