"""``python -m snn_from_scratch tour``: the main job, a guided run of the whole library.

1. **Proofs.** Every available cell's backward pass is proven by finite differences under
   every configuration of the proof table (:data:`snn_from_scratch.proofs.PROOFS`) (float64, T in {1, 2, 7}, B = 3,
   non-zero initial state; spiking cells under the frozen and/or smooth twin), through
   :func:`snn_from_scratch.proofs.run_proofs`. The table is printed as it is computed.
2. **A quick comparison.** Each available cell — the conventional RNN, LSTM and GRU, and
   the spiking cells of the three papers — is trained on MNIST-1D (Greydanus 2020; 4,000
   training and 1,000 test sequences of 40 steps, one input per step) in float32 with
   Adam, one layer of ``--hidden`` units and a Linear readout on the last step. Each
   cell's settings are in :data:`SETTINGS`. A table (cell, parameters, test accuracy, training time
   per epoch) is printed, and figures — learning curves and an accuracy bar chart — are
   written to ``runs/tour/`` together with ``results.json``.

The exit status is non-zero if any proof fails (or a cell fails to train). The whole
tour takes a few minutes on two cores; ``--fast`` (or ``SNN_FAST=1``) shrinks the data,
the network and the epochs to a smoke test of well under a minute. For reference, the
MNIST-1D paper reports about 32% (logistic regression), 68% (MLP), 91% (GRU) and 94%
(CNN) after much longer training than this tour's few epochs.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np

from . import cells, network, optim, proofs, training
from .runtime import add_threads_option, fast_mode, jsonable, set_threads
from .train_cli import load_data

#: The Adam step of every cell but the plain tanh RNN, which sits on a loss plateau (ln 10)
#: at 1e-2 within a short run and needs a smaller step (SETTINGS below).
DEFAULT_LR = 1e-2


#: How the comparison trains each cell: cell keywords, Adam step, readout ("linear" on the
#: last step, or "leaky": the SRC paper's fixed leaky integrators, which need 10 neurons
#: per class), hidden width (None: ``--hidden``) and layers. Settings of the tour, not of
#: the cells: they live here.
SETTINGS = {
    "rnn": dict(lr=1e-3),
    "lstm": {},
    "gru": {},
    # the paper's defaults
    "spiking_lstm": {},
    # the paper's Table 1 traditional SNN (6-bit outputs, threshold b/16)
    "lif": dict(config=dict(synaptic=True, alpha=0.9, beta=0.9, reset="subtract", output="multibit",
                            n_bits=6, threshold_levels=4, surrogate="triangle")),
    # the paper's best SNN (v2, 6-bit, b/16)
    "gated_lif": dict(config=dict(variant="v2")),
    "brc": {},
    # The paper's configuration (both switches on) read by the paper's fixed leaky-integrator
    # readout (a final layer of 100 neurons, section 4.2), which learned better than a linear
    # readout on the last step in a 5-epoch trial (24% vs 11% test accuracy; MNIST-1D's single
    # continuous input channel is far from the spike trains the SRC was designed for).
    "src": dict(readout="leaky", lr=1e-2),
}


def tour_settings(name, hidden):
    """How the comparison trains cell ``name``: :data:`SETTINGS` with the defaults filled in
    (config {}, lr :data:`DEFAULT_LR`, readout "linear", ``hidden`` units — 100 for the
    leaky readout —, one layer)."""
    st = SETTINGS.get(name, {})
    readout = st.get("readout", "linear")
    return {"config": dict(st.get("config", {})),
            "lr": float(st.get("lr", DEFAULT_LR)),
            "readout": readout,
            "hidden": int(st.get("hidden", 100 if readout == "leaky" else hidden)),
            "layers": int(st.get("layers", 1))}


def train_one(name, data, hidden, epochs, batch_size, seed, status=None, lr=None):
    """Train one cell on the MNIST-1D arrays in ``data``; returns a result dict."""
    Xtr, ytr, Xte, yte = data
    st = tour_settings(name, hidden)
    config = st["config"]
    lr = st["lr"] if lr is None else lr
    net = network.build(name, Xtr.shape[2], st["hidden"], 10, n_layers=st["layers"], readout=st["readout"],
                        seed=seed, dtype=np.float32, config=config)
    opt = optim.Adam(net.params, lr=lr)
    sched = optim.CosineAnnealing(opt, T_max=max(1, epochs), lr_min=lr / 20)

    def cb(epoch, hist, _net):
        if status is not None:
            status.update(f"  training {name:<13} epoch {epoch}/{epochs}  loss {hist['loss'][-1]:.3f}  "
                          f"test acc {hist['val_acc'][-1]:.3f}", force=True)

    hist = training.train(net, Xtr, ytr, opt, epochs, batch_size, np.random.default_rng(seed),
                          X_val=Xte, y_val=yte, schedule=sched, clip=5.0, progress=False, callback=cb)
    return {"cell": name, "config": jsonable(config), "lr": lr, "n_params": net.n_params(),
            "net": f"{st['layers']}x{st['hidden']} {st['readout']}",
            "test_acc": hist["val_acc"][-1], "best_test_acc": max(hist["val_acc"]) if hist["val_acc"] else math.nan,
            "sec_per_epoch": float(np.mean(hist["epoch_time"])) if hist["epoch_time"] else math.nan,
            "history": hist}


def format_table(results):
    lines = [f"{'cell':<14}{'network':<16}{'params':>8}{'test acc':>10}{'best':>8}{'s/epoch':>9}  config"]
    for r in results:
        if "error" in r:
            lines.append(f"{r['cell']:<14}{'':<16}{'':>8}{'ERROR':>10}{'':>8}{'':>9}  {r['error']}")
            continue
        cfg = ", ".join(f"{k}={v}" for k, v in r["config"].items()) or "defaults"
        lines.append(f"{r['cell']:<14}{r['net']:<16}{r['n_params']:>8d}{r['test_acc']:>10.3f}{r['best_test_acc']:>8.3f}"
                     f"{r['sec_per_epoch']:>9.2f}  {cfg} (lr {r['lr']:g})")
    return "\n".join(lines)


def is_smooth(name):
    """True for the conventional (non-spiking) cells: every proof runs without a twin."""
    return all(twin is None for _, twin in proofs.proofs_of(name).values())


def make_figures(results, out):
    """Learning curves (test accuracy and training loss per epoch) and a bar chart."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "error" not in r and r["history"]["val_acc"]]
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in ok:
        ep = np.arange(1, len(r["history"]["val_acc"]) + 1)
        style = "--" if is_smooth(r["cell"]) else "-"
        axes[0].plot(ep, r["history"]["val_acc"], style, marker=".", label=r["cell"])
        axes[1].plot(ep, r["history"]["loss"], style, marker=".", label=r["cell"])
    axes[0].set(xlabel="epoch", ylabel="test accuracy", title="MNIST-1D: test accuracy "
                "(dashed: smooth cells)", ylim=(0, 1))
    axes[1].set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="MNIST-1D: training loss")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    p = out / "learning_curves.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = [r["cell"] for r in ok]
    accs = [r["test_acc"] for r in ok]
    colors = ["tab:gray" if is_smooth(n) else "tab:blue" for n in names]
    bars = ax.bar(names, accs, color=colors)
    for b, a in zip(bars, accs):
        ax.text(b.get_x() + b.get_width() / 2, a + 0.01, f"{a:.2f}", ha="center", fontsize=8)
    for y, lab in ((0.32, "logistic reg. 32%"), (0.68, "MLP 68%"), (0.91, "GRU (paper) 91%")):
        ax.axhline(y, color="k", lw=0.6, ls=":")
        ax.text(len(names) - 0.5, y + 0.01, lab, ha="right", fontsize=7)
    ax.set(ylabel="test accuracy", ylim=(0, 1.05),
           title="MNIST-1D after a short run (grey: smooth cells, blue: spiking)")
    fig.tight_layout()
    p = out / "accuracy.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)
    return paths


def parser():
    p = argparse.ArgumentParser(prog="python -m snn_from_scratch tour",
                                description="Prove every cell's gradients and train a quick comparison "
                                            "of every cell on MNIST-1D.")
    p.add_argument("--fast", action="store_true", default=fast_mode(),
                   help="smoke test under a minute (default when SNN_FAST=1)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per cell (default 15; 2 with --fast)")
    p.add_argument("--hidden", type=int, default=None, help="units per cell (default 64; 32 with --fast)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cells", nargs="+", default=None, help="subset of cells (default: all available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None,
                   help=f"Adam learning rate for every cell (default: the tour's SETTINGS, else {DEFAULT_LR:g})")
    p.add_argument("--out", default="runs/tour", help="folder for figures and results (default runs/tour)")
    p.add_argument("--data-dir", default=None, help="data folder (default $SNN_DATA_DIR or ./data)")
    p.add_argument("--skip-proofs", action="store_true", help="only the training comparison")
    p.add_argument("--skip-training", action="store_true", help="only the proofs")
    add_threads_option(p)
    return p


def main(argv):
    args = parser().parse_args(argv)
    set_threads(args.threads, stream=sys.stdout)
    t_start = time.time()
    names = cells.available() if args.cells is None else args.cells
    for n in names:
        try:
            cells.cell_class(n)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    epochs = args.epochs if args.epochs is not None else (2 if args.fast else 15)
    hidden = args.hidden if args.hidden is not None else (32 if args.fast else 64)
    out = pathlib.Path(args.out)
    status = training.Progress(sys.stderr)
    failed = []

    print(f"snn_from_scratch tour{' (fast)' if args.fast else ''}: cells {', '.join(names)}\n")
    if not args.skip_proofs:
        print("1. Finite-difference proofs of every backward pass (float64, T in "
              f"{proofs.SIZES_T}, B={proofs.BATCH}, non-zero initial state)\n")
        print(proofs.format_header())
        t0 = time.time()
        res = proofs.run_proofs(names, stream=sys.stdout)
        failed += [f"proof {r.cell} [{r.label}]" for r in res if not r.ok]
        print(f"\n{sum(r.ok for r in res)}/{len(res)} configurations proven (tolerance 1e-7) "
              f"in {time.time() - t0:.1f} s\n")

    results = []
    if not args.skip_training:
        Xtr, ytr, Xte, yte, desc = load_data("mnist1d", args.data_dir, fast=args.fast)
        print(f"2. Training comparison on {desc}: {len(Xtr)} train / {len(Xte)} test; "
              f"by default 1 layer of {hidden} units and a Linear readout on the last step (network column), "
              f"Adam + cosine schedule, "
              f"clip 5, batch {args.batch_size}, {epochs} epochs, float32\n")
        for n in names:
            t0 = time.time()
            try:
                r = train_one(n, (Xtr, ytr, Xte, yte), hidden, epochs, args.batch_size, args.seed, status, args.lr)
            except Exception as e:  # report and carry on: one broken cell must not hide the others
                r = {"cell": n, "error": f"{type(e).__name__}: {e}"}
                failed.append(f"training {n}")
            status.clear()
            print(f"  {n:<13} " + (f"test acc {r['test_acc']:.3f}" if "error" not in r else r["error"])
                  + f"  ({time.time() - t0:.1f} s)", flush=True)
            results.append(r)
        print()
        print(format_table(results))
        out.mkdir(parents=True, exist_ok=True)
        figs = make_figures(results, out)
        with open(out / "results.json", "w") as f:
            json.dump({"epochs": epochs, "hidden": hidden, "fast": args.fast,
                       "results": jsonable(results)}, f, indent=1)
        print(f"\nfigures: {', '.join(str(p) for p in figs)}; results: {out / 'results.json'}")
    total = time.time() - t_start
    print(f"\ntour finished in {total:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
