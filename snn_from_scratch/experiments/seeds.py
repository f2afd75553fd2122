"""Seeds in parallel: ``python -m snn_from_scratch reproduce NAME --seeds N --jobs J``.

One training run is one number; a claim needs its spread. :func:`run_seeds` runs an
experiment for the seeds ``seed, seed + 1, ..., seed + N - 1`` (``--seed`` defaults to 0)
and reports, for every number the experiment calls a *headline* (``res["headline"]``, a
dict ``{label: value}``; the paper's value, where there is one, in ``res["headline_paper"]``),
its mean ± sample standard deviation over the seeds (ddof = 1; one seed: std 0).

Why joblib: the seeds are independent jobs, and ``joblib.Parallel`` runs independent jobs
on one machine (its default *loky* backend: worker processes, robust to crashes, results
returned by pickling) and, unchanged, on a cluster (its *dask* backend) — the code that
defines the sweep does not change with where it runs.

* Each worker is a separate process that pins NumPy's BLAS to one thread
  (:func:`~snn_from_scratch.runtime.set_threads`): J workers use J cores, and the small
  matrices of these models gain nothing from a second BLAS thread (see
  :mod:`snn_from_scratch.runtime`). With ``jobs=1`` the seeds run one after the other in
  this process. A seed's numbers do not depend on ``jobs``: the parallel run equals the
  sequential one bit for bit (``tests/test_seeds.py``).
* Each seed writes its figures and JSON under ``OUT/seed<k>/`` (two seeds must not
  overwrite each other's files); its printed table is captured and printed here, seed by
  seed, followed by the summary table; the summary is saved as ``OUT/<name>-seeds.json``.

**On a cluster (Dask).** joblib's ``dask`` backend sends the same jobs to a
``dask.distributed`` cluster; nothing here changes, the caller chooses the backend (this
package does not depend on dask; ``pip install "dask[distributed]"`` where you need it)::

    import joblib
    from dask.distributed import Client
    from snn_from_scratch.experiments import seeds

    client = Client("tcp://scheduler-host:8786")   # or Client() for a local test cluster
    with joblib.parallel_config(backend="dask"):
        summary = seeds.run_seeds("lotfi-smnist", n_seeds=20, jobs=-1, out="runs")

Every Dask worker needs this package installed (the same version) and the data it reads
(the offline subsets ship inside the package; fetched data sets must be on a shared
``--data-dir``); figures land on the workers' file systems under ``out`` (use a shared
path), the numbers come back to the caller. ``jobs`` is joblib's ``n_jobs`` (-1: all
workers the backend offers).
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import pathlib

import numpy as np

__all__ = ["run_seeds", "summarize", "format_summary", "headline_of", "load_summary", "check_seed",
           "WALL_CLOCK"]


def _args_for(options):
    """The ``reproduce`` options as the parser would give them, updated with ``options``."""
    from . import parser
    args = parser().parse_args([])
    for k, v in options.items():
        if not hasattr(args, k):
            raise ValueError(f"unknown option {k!r} for reproduce")
        setattr(args, k, v)
    return args


def _one(target, seed, options):
    """One seed in a worker: BLAS pinned to one thread, stdout captured, own output folder.
    ``target``: an experiment name or a module-level function ``f(args)`` (picklable)."""
    from ..runtime import set_threads
    from . import registry
    set_threads(1)
    opts = dict(options, seed=seed, out=str(pathlib.Path(options.get("out", "runs")) / f"seed{seed}"))
    pathlib.Path(opts["out"]).mkdir(parents=True, exist_ok=True)
    fn = registry()[target] if isinstance(target, str) else target
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        res = fn(_args_for(opts))
    return res, text.getvalue(), _blas_threads()


def _blas_threads():
    """The BLAS thread counts of this process (what the worker really ran with)."""
    from threadpoolctl import threadpool_info
    return sorted({p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"})


def headline_of(res):
    """The numbers of one run to summarize: ``res["headline"]``, else every scalar number
    found in the result's nested dicts (keys joined with '.')."""
    if isinstance(res, dict) and "headline" in res:
        return dict(res["headline"])
    out = {}

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[prefix] = float(v)
    walk("", res)
    return out


def summarize(runs):
    """``{label: {"mean", "std", "n", "values", "paper"}}`` over the runs' headlines (the
    labels of the first run, in its order; a label missing from a run is skipped there)."""
    heads = [headline_of(r) for r in runs]
    papers = {}
    for r in runs:
        if isinstance(r, dict):
            papers.update(r.get("headline_paper", {}))
    out = {}
    for label in heads[0]:
        vals = np.array([h[label] for h in heads if label in h], float)
        finite = vals[np.isfinite(vals)]
        out[label] = {"mean": float(np.mean(finite)) if len(finite) else float("nan"),
                      "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0,
                      "n": int(len(finite)), "values": vals.tolist(), "paper": papers.get(label)}
    return out


def format_summary(summary, title=""):
    """The summary as a table: label, mean ± std, seeds, the paper's value."""
    w = max([len(k) for k in summary] + [8])
    lines = [title] if title else []
    lines.append(f"  {'measured':<{w}}  {'mean ± std':>20}  {'seeds':>5}  {'paper':>8}")
    for k, s in summary.items():
        p = s["paper"]
        ps = "-" if p is None else (f"{p:.4g}" if isinstance(p, (int, float)) else str(p))
        ms = f"{s['mean']:.4g} ± {s['std']:.2g}" if math.isfinite(s["mean"]) else "nan"
        lines.append(f"  {k:<{w}}  {ms:>20}  {s['n']:>5d}  {ps:>8}")
    return "\n".join(lines)


def load_summary(path):
    """The summary saved by :func:`run_seeds` (``OUT/<name>-seeds.json``, or a copy committed
    as ``results/NAME.json``): ``{label: {"mean", "std", "n", "values", "paper"}}``, ready
    for :func:`format_summary`."""
    return json.loads(pathlib.Path(path).read_text())["summary"]


#: labels that measure wall-clock time: they differ from run to run, :func:`check_seed` skips them
WALL_CLOCK = ("epoch s", "train s", "seconds", "time s")


def check_seed(headline, summary, index=0, skip=WALL_CLOCK):
    """Check that one run's ``headline`` (``res["headline"]``) equals the ``index``-th seed's
    stored values of ``summary`` (e.g. a chapter's seed-0 run against the committed sweep):
    every label the two share, except wall-clock ones (``skip``: substrings), must agree to
    float round-off (1e-9 relative; NaN equals NaN). Raises ``AssertionError`` listing the
    differences, or if no label is shared; returns the number of labels compared."""
    compared, bad = 0, []
    for label, s in summary.items():
        if label not in headline or any(k in label for k in skip) or index >= len(s["values"]):
            continue
        want = s["values"][index]
        want = float("nan") if want is None else float(want)
        got = float(headline[label])
        compared += 1
        same = (math.isnan(got) and math.isnan(want)) or \
            (math.isfinite(got) and math.isfinite(want) and abs(got - want) <= 1e-9 * max(1.0, abs(want)))
        if not same:
            bad.append(f"{label}: this run {got!r}, stored {want!r}")
    if not compared:
        raise AssertionError("no headline label in common with the summary")
    if bad:
        raise AssertionError(f"seed {index} differs from the stored summary:\n  " + "\n  ".join(bad))
    return compared


def run_seeds(target, n_seeds=3, jobs=1, seed=0, verbose=True, **options):
    """Run ``target`` (an experiment name, or a module-level function ``f(args)``) for
    seeds ``seed .. seed + n_seeds - 1`` with ``jobs`` joblib workers (loky processes by
    default; see the module docstring for Dask); ``options`` are ``reproduce``'s (``fast``,
    ``out``, ``data_dir``). Prints each seed's table and the summary (``verbose``).

    Returns ``{"name", "seeds", "runs": [result per seed], "texts": [printout per seed],
    "summary": summarize(runs), "blas_threads": [the BLAS thread counts each seed ran with]}``.
    """
    from joblib import Parallel, delayed
    from ..network import check_count
    n_seeds = check_count("n_seeds", n_seeds)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0:
        raise ValueError(f"jobs must be a non-zero integer (joblib's n_jobs), got {jobs!r}")
    seeds = list(range(seed, seed + n_seeds))
    options = dict(options)
    options.setdefault("out", "runs")
    # no backend= here: joblib.parallel_config(backend="dask") around the call must win
    done = Parallel(n_jobs=jobs)(delayed(_one)(target, s, options) for s in seeds)
    runs, texts, threads = [d[0] for d in done], [d[1] for d in done], [d[2] for d in done]
    name = target if isinstance(target, str) else getattr(target, "__name__", None) or \
        getattr(getattr(target, "func", None), "__name__", "experiment")
    summary = summarize(runs)
    if verbose:
        for s, t in zip(seeds, texts):
            print(f"--- seed {s} ---")
            print(t, end="" if t.endswith("\n") else "\n")
        print(format_summary(summary, f"{name}: mean ± std over seeds {seeds} "
                                      f"(sample std, ddof 1), {jobs} job(s)"))
    from ..runtime import jsonable
    from .common import save_json
    out = pathlib.Path(options["out"])
    out.mkdir(parents=True, exist_ok=True)
    save_json(out, f"{name}-seeds", jsonable({"name": name, "seeds": seeds, "summary": summary}))
    return {"name": name, "seeds": seeds, "runs": runs, "texts": texts, "summary": summary,
            "blas_threads": threads}
