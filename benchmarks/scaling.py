"""Scaling of every cell's training step with the sequence length T and the width H.

Run from the repository root::

    python -m benchmarks.scaling --out runs/scaling    # T = 1 ... 1000, H = 32 ... 1024
    python -m benchmarks.scaling --fast                # a few small points (seconds)

For every cell of the library (its default configuration; gated_lif as v2), float32, one
thread: the time of a full training step (forward, backward, Adam; ``bench.time_ours``) and
the memory (the BPTT cache, ``memory.cache_bytes``, and the traced peak of forward +
backward) against T at fixed B, H, and against H at fixed B, T. On log-log axes a cost
``c x^k`` is a line of slope ``k``: :func:`exponent` fits it by least squares over the
points past the fixed costs (x >= 10 for T, x >= 64 for H). BPTT must be linear in T (one
forward and one backward step per time step, a cache of T steps): slope 1 in time and
memory. In H the slope is between 1 (elementwise work, input products with a fixed n_in)
and 2 (the recurrent H x kH products) for time, and 1 for the cache (values per unit).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from snn_from_scratch import cells  # noqa: E402

from benchmarks import bench  # noqa: E402

__all__ = ["CONFIGS", "FULL", "FAST", "sweep", "exponent", "plot", "format_table", "run", "main"]

#: Every cell in its default configuration (gated_lif as v2, the benchmark's).
CONFIGS = {"rnn": {}, "lstm": {}, "gru": {}, "brc": {}, "spiking_lstm": {}, "lif": {},
           "gated_lif": {"variant": "v2"}, "src": {}}
#: (fixed sizes, T values, H values)
FULL = (dict(B=16, T=50, H=128, n_in=32), (1, 10, 30, 100, 300, 1000), (32, 64, 128, 256, 512, 1024))
FAST = (dict(B=4, T=8, H=16, n_in=8), (1, 10, 30), (16, 64, 128))


def _point(name, config, sz, repeats):
    t = bench.time_ours(name, config, sz, repeats=repeats)
    cache, peak = bench.measure_memory(name, config, sz)
    return dict(t=t, cache=cache, peak=peak)


def sweep(name, config, base, key, values, repeats=3):
    """``[(value, seconds, cache bytes, traced peak bytes)]`` with ``base[key]`` = each value."""
    out = []
    for v in values:
        p = _point(name, config, dict(base, **{key: v}), repeats)
        out.append((v, p["t"], p["cache"], p["peak"]))
    return out


def exponent(points, col=1, min_x=None):
    """Least-squares slope of log(cost) against log(x) over the points with x >= ``min_x``
    (``col``: 1 time, 2 cache, 3 peak); None with fewer than two points."""
    pts = [p for p in points if (min_x is None or p[0] >= min_x) and p[col] > 0]
    if len(pts) < 2:
        return None
    x = np.log([p[0] for p in pts])
    y = np.log([p[col] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def plot(results, out_dir):
    """Log-log plots of time and cache against T and H, one line per cell; returns paths."""
    from matplotlib.figure import Figure

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key in ("T", "H"):
        fig = Figure(figsize=(10, 4))
        ax_t, ax_m = fig.subplots(1, 2)
        for k, (name, res) in enumerate(results.items()):
            pts = res[key]
            v = [p[0] for p in pts]
            ax_t.loglog(v, [1e3 * p[1] for p in pts], "o-", color=f"C{k}",
                        label=f"{name} (slope {res['slopes'][key]['time']:.2f})")
            ax_m.loglog(v, [p[2] / 2 ** 20 for p in pts], "o-", color=f"C{k}",
                        label=f"{name} (slope {res['slopes'][key]['cache']:.2f})")
        ax_t.set_ylabel("training step [ms]")
        ax_m.set_ylabel("BPTT cache [MB]")
        for ax in (ax_t, ax_m):
            ax.set_xlabel(key)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)
        ax_t.set_title(f"time against {key}")
        ax_m.set_title(f"cache against {key}")
        fig.tight_layout()
        p = out_dir / f"scaling_{key}.png"
        fig.savefig(p, dpi=110)
        paths.append(p)
    return paths


def format_table(results, base):
    lines = [f"fitted log-log slopes (time, cache, traced peak); T sweep at B={base['B']} H={base['H']}, "
             f"H sweep at B={base['B']} T={base['T']}; n_in={base['n_in']}, float32, one thread",
             f"{'cell':<13}{'T: time':>9}{'cache':>7}{'peak':>7}{'H: time':>9}{'cache':>7}{'peak':>7}"
             f"{'ms at T max':>13}{'ms at H max':>13}"]
    f = (lambda v: "-" if v is None else f"{v:.2f}")
    for name, r in results.items():
        s = r["slopes"]
        lines.append(f"{name:<13}{f(s['T']['time']):>9}{f(s['T']['cache']):>7}{f(s['T']['peak']):>7}"
                     f"{f(s['H']['time']):>9}{f(s['H']['cache']):>7}{f(s['H']['peak']):>7}"
                     f"{1e3 * r['T'][-1][1]:>13.1f}{1e3 * r['H'][-1][1]:>13.1f}")
    lines.append("BPTT must be linear in T: slopes near 1 in time and memory (fitted over T >= 10; "
                 "over H >= 64)")
    return "\n".join(lines)


def run(fast=False, names=None, out=None, repeats=None, stream=sys.stdout, Ts=None, Hs=None):
    """Sweep every cell (or ``names``); returns ``{"results", "base", "table", "plots"}``.
    ``Ts`` / ``Hs`` replace the swept values (e.g. fewer points for a chapter)."""
    base, Ts0, Hs0 = FAST if fast else FULL
    Ts, Hs = tuple(Ts or Ts0), tuple(Hs or Hs0)
    repeats = repeats or (1 if fast else 3)
    results = {}
    for name in names or CONFIGS:
        if name not in cells.available():
            continue
        cfg = CONFIGS[name]
        r = {"T": sweep(name, cfg, base, "T", Ts, repeats), "H": sweep(name, cfg, base, "H", Hs, repeats)}
        r["slopes"] = {k: {lab: exponent(r[k], col, 10 if k == "T" else (64 if not fast else 16))
                           for lab, col in (("time", 1), ("cache", 2), ("peak", 3))} for k in ("T", "H")}
        results[name] = r
        if stream is not None:
            print(f"  {name}: T slope {r['slopes']['T']['time']:.2f}, H slope {r['slopes']['H']['time']:.2f}",
                  file=stream, flush=True)
    res = {"results": results, "base": base, "table": format_table(results, base), "fast": fast}
    if out:
        res["plots"] = [str(p) for p in plot(results, out)]
        (pathlib.Path(out) / ("scaling_fast.json" if fast else "scaling.json")).write_text(
            json.dumps({k: v for k, v in res.items() if k != "table"}, indent=1, default=str))
    return res


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling",
                                description="Time and memory of every cell against T and H (log-log fits).")
    p.add_argument("--fast", action="store_true", help="a few small points (seconds)")
    p.add_argument("--cell", action="append", choices=sorted(CONFIGS), help="only these cells")
    p.add_argument("--out", default=None, help="folder for the plots and the JSON")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args(argv)
    print("threads:", bench.pin_threads(1, torch_too=False))
    res = run(fast=args.fast, names=args.cell, out=args.out, repeats=args.repeats)
    print(res["table"])
    if res.get("plots"):
        print("plots: " + ", ".join(res["plots"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
