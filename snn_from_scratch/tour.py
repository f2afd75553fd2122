"""``python -m snn_from_scratch tour``: the main job, a guided run of the whole library.

1. **Proofs.** Every available cell's backward pass is proven by finite differences under
   every configuration of the proof table (:data:`snn_from_scratch.proofs.PROOFS`)
   (float64, T in {1, 2, 7}, B = 3, non-zero initial state; spiking cells under the frozen
   and/or smooth twin), through :func:`snn_from_scratch.proofs.run_proofs`. The table is
   printed as it is computed.
2. **Every cell learns.** Each available cell — the conventional RNN, LSTM and GRU, and
   the spiking cells of the three papers — is trained on MNIST-1D (Greydanus 2020; 4,000
   training and 1,000 test sequences of 40 steps, one input per step) in float32 with Adam
   and a cosine schedule, by the set-up a user of that cell would choose: its *recipe*
   (:data:`SETTINGS`, which is :data:`snn_from_scratch.recipes.RECIPES`; ``train`` uses the
   same one): input coding (the raw value, a delay line, spikes), readout (the last step,
   or a leaky integrator read at its maximum over time), width, learning rate. The table
   prints the recipe, the parameters, the test accuracy beside the cell's target
   (:data:`snn_from_scratch.recipes.TARGETS`; chance is 10%), and for spiking cells the
   firing rate and the fraction of dead neurons (never firing on the test set) after
   training. A cell below its target gets one line saying why. Figures — learning curves
   and an accuracy bar chart, both with the chance line — are written to ``runs/tour/``
   with ``results.json`` (``{"results": [{"cell", "test_acc", "readout", "encoding",
   "firing_rate", "dead_fraction", "n_params", ...}]}``).

The exit status is non-zero if any proof fails (or a cell fails to train). The whole
tour takes under two minutes with one BLAS thread (``--threads``; measured 105 s on a
loaded 2-core machine, 63 s of CPU); ``--fast`` (or ``SNN_FAST=1``) shrinks the data, the network and
the epochs to a smoke test of well under a minute and writes to ``runs/tour-fast/`` so
that it never overwrites a full run. For reference, the MNIST-1D paper reports about 32%
(logistic regression), 68% (MLP), 91% (GRU) and 94% (CNN).
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np

from . import cells, proofs, recipes, training
from .runtime import add_threads_option, fast_mode, jsonable, set_threads
from .train_cli import load_data

#: How the comparison trains each cell: the recipes shared with ``train`` (see
#: :mod:`snn_from_scratch.recipes` for the keys and :func:`tour_settings` for the filled-in form).
SETTINGS = recipes.RECIPES
#: The Adam step a recipe leaves out.
DEFAULT_LR = recipes.DEFAULTS["lr"]
CHANCE = recipes.CHANCE
FAST = {"epochs": 2, "hidden": 32}  # --fast: a smoke test, not a result


def tour_settings(name, hidden=None, epochs=None, lr=None):
    """How the comparison trains cell ``name``: its full recipe
    (:func:`snn_from_scratch.recipes.recipe`), with ``hidden``, ``epochs`` and ``lr``
    overriding it when given (not for the SRC paper's ``leaky`` readout, whose width is
    fixed at 10 neurons per class)."""
    rec = recipes.recipe(name, epochs=epochs, lr=lr)
    if hidden is not None and rec["readout"] != "leaky":
        rec["hidden"] = hidden
    return rec


def is_smooth(name):
    """True for the conventional (non-spiking) cells: every proof runs without a twin."""
    return not recipes.is_spiking(name)


def train_one(name, data, rec, seed=0, on_epoch=None, judge=True):
    """Train one cell by the recipe ``rec`` on the MNIST-1D arrays in ``data``; returns a
    result dict (the fields of ``results.json``). ``judge``: compare with the cell's target
    (only meaningful for the recipe itself on the full data: not with --fast or overrides)."""
    t0 = time.time()

    def cb(epoch, hist, _net):
        if on_epoch is not None:
            on_epoch(name, epoch, rec["epochs"], hist)

    run = recipes.fit(name, rec, data, seed=seed, callback=cb)
    hist = run.history
    rate = dead = None
    if not is_smooth(name):
        rate, dead = recipes.spike_stats(run.net, run.X_test)
    acc = hist["val_acc"][-1] if hist["val_acc"] else math.nan
    target = recipes.TARGETS.get(name)
    return {"cell": name, "test_acc": acc, "readout": rec["readout"], "encoding": rec["encoding"],
            "firing_rate": rate, "dead_fraction": dead, "n_params": run.net.n_params(),
            "hidden": rec["hidden"], "layers": rec["layers"], "kappa": rec["kappa"], "lr": rec["lr"],
            "epochs": rec["epochs"], "config": jsonable(rec["config"]), "recipe": recipes.describe(rec),
            "target": target, "met_target": None if target is None or not judge else bool(acc >= target),
            "why": rec["why"], "best_test_acc": max(hist["val_acc"]) if hist["val_acc"] else math.nan,
            "sec_per_epoch": float(np.mean(hist["epoch_time"])) if hist["epoch_time"] else math.nan,
            "train_seconds": time.time() - t0, "history": hist}


def format_table(results):
    """The comparison table: recipe, parameters, accuracy vs target, spikes."""
    head = (f"{'cell':<14}{'coding':<14}{'readout':<14}{'net':<7}{'lr':>7}{'params':>8}{'test acc':>10}"
            f"{'target':>8}{'rate':>7}{'dead':>7}{'s/ep':>6}  config")
    lines = [head]
    for r in results:
        if "error" in r:
            lines.append(f"{r['cell']:<14}ERROR  {r['error']}")
            continue
        ro = r["readout"] + (f" k{r['kappa']:g}" if r["readout"].startswith("li-") else "")
        tgt = f"{r['target']:.0%}" if r.get("target") is not None else "-"
        mark = "" if r.get("met_target") in (None, True) else "!"
        rate = f"{r['firing_rate']:.2f}" if r["firing_rate"] is not None else "-"
        dead = f"{r['dead_fraction']:.0%}" if r["dead_fraction"] is not None else "-"
        cfg = ", ".join(f"{k}={v}" for k, v in r["config"].items()) or "defaults"
        lines.append(f"{r['cell']:<14}{r['encoding']:<14}{ro:<14}{r['layers']}x{r['hidden']:<5}{r['lr']:>7g}"
                     f"{r['n_params']:>8d}{r['test_acc']:>9.1%}{mark:1}{tgt:>8}{rate:>7}{dead:>7}"
                     f"{r['sec_per_epoch']:>6.1f}  {cfg}")
    lines.append(f"chance: {CHANCE:.0%} (10 balanced classes); rate: fraction of non-zero outputs of the "
                 "spiking layer on the test set; dead: neurons that never fire on it; ! below target")
    for r in results:
        if "error" not in r and r.get("met_target") is False:
            lines.append(f"  {r['cell']} below its target: " + (r["why"] or "no known reason: please report it"))
    return "\n".join(lines)


def make_figures(results, out):
    """Learning curves (test accuracy and training loss per epoch) and a bar chart, with
    the chance line; returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot

    ok = [r for r in results if "error" not in r and r["history"]["val_acc"]]
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    hists = {r["cell"]: r["history"] for r in ok}
    plot.learning_curves(hists, key="val_acc", ax=axes[0], chance=CHANCE,
                         title="MNIST-1D: test accuracy per epoch")
    plot.learning_curves(hists, key="loss", ax=axes[1], title="MNIST-1D: training loss (cross-entropy)")
    axes[0].set(ylim=(0, 1), ylabel="test accuracy")
    axes[1].set(ylabel="training loss")
    for ax in axes:
        ax.grid(alpha=0.3)
    paths.append(plot.save(fig, out / "learning_curves.png"))

    fig, ax = plt.subplots(figsize=(9, 4))
    names = [r["cell"] for r in ok]
    accs = [r["test_acc"] for r in ok]
    colors = ["tab:gray" if is_smooth(n) else "tab:blue" for n in names]
    bars = ax.bar(names, accs, color=colors)
    for b, r in zip(bars, ok):
        ax.text(b.get_x() + b.get_width() / 2, r["test_acc"] + 0.01, f"{r['test_acc']:.2f}", ha="center", fontsize=8)
        if r.get("target") is not None:
            ax.hlines(r["target"], b.get_x(), b.get_x() + b.get_width(), color="tab:red", lw=1.5)
    ax.axhline(CHANCE, color="k", lw=0.8, ls=":")
    ax.text(-0.45, CHANCE + 0.01, f"chance {CHANCE:.0%}", ha="left", fontsize=7,
            bbox=dict(facecolor="white", edgecolor="none", pad=1, alpha=0.8), zorder=5)
    for y, lab in ((0.32, "logistic reg. 32%"), (0.91, "GRU (MNIST-1D paper) 91%")):
        ax.axhline(y, color="gray", lw=0.6, ls="--")
        ax.text(-0.45, y + 0.01, lab, ha="left", fontsize=7, color="dimgray",
                bbox=dict(facecolor="white", edgecolor="none", pad=1, alpha=0.8), zorder=5)
    ax.set(ylabel="test accuracy", ylim=(0, 1.05),
           title="MNIST-1D, each cell by its recipe (grey: smooth, blue: spiking; red: target)")
    ax.tick_params(axis="x", labelsize=8)
    paths.append(plot.save(fig, out / "accuracy.png"))
    return paths


def parser():
    p = argparse.ArgumentParser(prog="python -m snn_from_scratch tour",
                                description="Prove every cell's gradients and train every cell on MNIST-1D "
                                            "by its recipe (the defaults of `train`).")
    p.add_argument("--fast", action="store_true", default=fast_mode(),
                   help="smoke test under a minute (default when SNN_FAST=1); writes to runs/tour-fast")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs per cell (default: the recipe's; {FAST['epochs']} with --fast)")
    p.add_argument("--hidden", type=int, default=None,
                   help=f"units per cell (default: the recipe's; {FAST['hidden']} with --fast)")
    p.add_argument("--cells", nargs="+", default=None, help="subset of cells (default: all available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate for every cell (default: the recipe's)")
    p.add_argument("--out", default=None,
                   help="folder for figures and results (default runs/tour; runs/tour-fast with --fast)")
    p.add_argument("--data-dir", default=None, help="data folder (default $SNN_DATA_DIR or ./data)")
    p.add_argument("--skip-proofs", action="store_true", help="only the training comparison")
    p.add_argument("--skip-training", action="store_true", help="only the proofs")
    add_threads_option(p)
    return p


def main(argv):
    args = parser().parse_args(argv)
    names = cells.available() if args.cells is None else args.cells
    try:
        set_threads(args.threads, stream=sys.stdout)
        for n in names:
            cells.cell_class(n)
        for nm in ("epochs", "hidden"):
            v = getattr(args, nm)
            if v is not None and v < 1:
                raise ValueError(f"--{nm} must be a positive integer, got {v}")
        if args.lr is not None and not args.lr > 0:
            raise ValueError(f"--lr must be > 0, got {args.lr}")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t_start = time.time()
    epochs = args.epochs if args.epochs is not None else (FAST["epochs"] if args.fast else None)
    hidden = args.hidden if args.hidden is not None else (FAST["hidden"] if args.fast else None)
    out = pathlib.Path(args.out if args.out is not None else ("runs/tour-fast" if args.fast else "runs/tour"))
    failed = []

    print(f"snn_from_scratch tour{' (fast: a smoke test, not a result)' if args.fast else ''}: "
          f"cells {', '.join(names)}\n", flush=True)
    if not args.skip_proofs:
        print("1. Finite-difference proofs of every backward pass (float64, T in "
              f"{proofs.SIZES_T}, B={proofs.BATCH}, non-zero initial state)\n")
        print(proofs.format_header())
        t0 = time.time()
        res = proofs.run_proofs(names, stream=sys.stdout)
        failed += [f"proof {r.cell} [{r.label}]" for r in res if not r.ok]
        print(f"\n{sum(r.ok for r in res)}/{len(res)} configurations proven (tolerance 1e-7) "
              f"in {time.time() - t0:.1f} s\n", flush=True)

    if not args.skip_training:
        Xtr, ytr, Xte, yte, desc = load_data("mnist1d", args.data_dir, fast=args.fast)
        print(f"2. Every cell by its recipe on {desc}: {len(Xtr)} train / {len(Xte)} test, float32, "
              f"Adam + cosine schedule, seed {args.seed}; chance {CHANCE:.0%}. The same recipes are "
              "`train`'s defaults.\n", flush=True)
        status = training.Progress(sys.stderr)
        tty = sys.stdout.isatty()

        def on_epoch(name, epoch, n_epochs, hist):
            text = (f"  {name:<13} epoch {epoch}/{n_epochs}  loss {hist['loss'][-1]:.3f}  "
                    f"test acc {hist['val_acc'][-1]:.3f}  ({hist['epoch_time'][-1]:.1f} s)")
            if tty:
                status.update(text, force=True)  # one live line on a terminal
            else:
                print(text, flush=True)  # a log file gets every epoch

        judge = not args.fast and args.epochs is None and args.hidden is None and args.lr is None
        if not judge:
            print("  (targets are for the recipes on the full data: not judged in this run)\n")
        results = []
        for n in names:
            t0 = time.time()
            rec = tour_settings(n, hidden, epochs, args.lr)
            print(f"  {n:<13} {recipes.describe(rec)}", flush=True)
            try:
                r = train_one(n, (Xtr, ytr, Xte, yte), rec, args.seed, on_epoch, judge)
            except Exception as e:  # report and carry on: one broken cell must not hide the others
                r = {"cell": n, "error": f"{type(e).__name__}: {e}"}
                failed.append(f"training {n}")
            status.clear()
            if "error" in r:
                print(f"  {n:<13} {r['error']}", flush=True)
            else:
                spikes = ("" if r["firing_rate"] is None else
                          f", firing rate {r['firing_rate']:.2f}, {r['dead_fraction']:.0%} dead")
                print(f"  {n:<13} test acc {r['test_acc']:.3f}{spikes}  ({time.time() - t0:.1f} s)", flush=True)
            results.append(r)
        print()
        print(format_table(results))
        out.mkdir(parents=True, exist_ok=True)
        figs = make_figures(results, out)
        with open(out / "results.json", "w") as f:
            json.dump({"epochs": epochs, "hidden": hidden, "fast": args.fast, "seed": args.seed,
                       "chance": CHANCE, "results": jsonable(results)}, f, indent=1)
        print("\nfigures:")
        for p in figs:
            print(f"  {p}")
        print(f"results: {out / 'results.json'}")
    total = time.time() - t_start
    print(f"\ntour finished in {total:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
