"""Ponghiran & Roy (2022) experiments, scaled to a pure-NumPy CPU budget.

``ponghiran-architectures``  Table 1 in form: two-layer LSTM, GRU, traditional LIF
    (6-bit, b/16), gated v1 and v2 (6-bit, b/16), equal widths, and the three spiking
    models again in the authors' configuration (their code's nb6th3: batch norm of the
    weighted inputs, no membrane leak, 5 bits + sign with the first level at b/8, their
    range estimator; :data:`AUTHORS_ARCHS`), on sequential tasks that need memory over
    many steps: MNIST-1D (40 steps), sequential MNIST by rows (28 steps of 28 pixels) and
    a long variant (196 steps of 4 pixels). Reports accuracy, % zero outputs (hidden
    layers) and multiplications per inference normalized to the LSTM, from the sparsity
    measured on the test set (batch norm's own multiplications not counted).
``ponghiran-precision``  Figure 5a/5b: accuracy of v2 for 1, 2, 3, 4, 6-bit outputs
    (threshold b/2^N) and for 1x / 1.5x / 2x width, and v2 in the authors' configuration
    over their grid (:data:`AUTHORS_BITS`).
``ponghiran-vanishing``  Eq. 15 measured against beta^(N-n) (exact), and the gradient
    norm ||dJ/dW[n]|| against N-n for the traditional layer, v1 and v2.

Every network is read by the learnable leaky integrator, logits = max over time
(:data:`READOUT`; ``architectures(args, readouts=("li-max", "linear"))`` adds the spiking
models read at the last step, the comparison). What is scaled (the paper: TIMIT /
LibriSpeech frame classification, 550 units, 24 epochs, recurrent dropout, 5 seeds): here
widths of 64 (16 in fast mode), a few epochs, the offline MNIST subset, Adam (lr 3e-3,
gradient clipping at 1), no dropout; one seed per run, error bars from ``reproduce NAME
--seeds 3 --jobs 2`` (:mod:`.seeds`). Numbers are what this scaled run measures, not the
paper's.
"""
from __future__ import annotations

import pathlib
import time

import numpy as np

from .. import analysis, cells, datasets, network, optim, training
from ..cells import gated_lif as gated_module
from ..cells import lif as lif_module
from .common import pyplot

ARCHS = {  # name -> (cell, config, kind for the cost model)
    "LSTM": ("lstm", {}, "lstm"),
    "GRU": ("gru", {}, "gru"),
    "traditional LIF": ("lif", dict(lif_module.PRESETS["ponghiran"]), "lif"),
    "gated v1": ("gated_lif", dict(variant="v1"), "v1"),
    "gated v2": ("gated_lif", dict(variant="v2"), "v2"),
}
#: the same three spiking models as the authors' published code runs them (cfg *_nb6th3_*:
#: batch norm of the weighted inputs, no membrane leak, signed 5+1-bit outputs with the first
#: level at b/8, their per-step range estimator, the reset not detached); see the presets'
#: docstrings in cells/lif.py and cells/gated_lif.py for the mapping of their bit grid.
AUTHORS_ARCHS = {
    "traditional LIF (authors' cfg)": ("lif", dict(lif_module.PRESETS["ponghiran_authors_code"]), "lif"),
    "gated v1 (authors' cfg)": ("gated_lif", dict(gated_module.PRESETS["ponghiran_authors_code"], variant="v1"), "v1"),
    "gated v2 (authors' cfg)": ("gated_lif", dict(gated_module.PRESETS["ponghiran_authors_code"], variant="v2"), "v2"),
}
SPIKING = ("traditional LIF", "gated v1", "gated v2")
#: the readout of every architecture (the spiking ones' last-step comparison: ``readouts``)
READOUT = "li-max"

#: The paper's Table 1 (TIMIT / LibriSpeech 100h): accuracy %, zero outputs %, ops/LSTM.
PAPER_TABLE1 = {
    "LSTM": ((82.68, 89.95), ("<0.01", "<0.01"), (1.00, 1.00)),
    "GRU": ((82.26, 89.77), ("<0.01", "<0.01"), (0.81, None)),
    "traditional LIF": ((70.66, 78.39), (59.90, 59.96), (0.13, None)),
    "gated v1": ((79.64, 87.36), (70.89, 67.80), (0.15, None)),
    "gated v2": ((81.28, 88.25), (84.29, 86.33), (0.08, None)),
}


def _budget(fast):
    if fast:
        return dict(H=16, epochs=1, n_train=256, n_test=256, n_long=96, epochs_long=1)
    return dict(H=64, epochs=8, n_train=4000, n_test=1000, n_long=3000, epochs_long=4)


def load_task(name, args, n_train, n_test):
    """(X_train, y_train, X_test, y_test, n_in, T) sample-major float32 (N, T, n_in)."""
    if name == "mnist1d":
        d = datasets.mnist1d(data_dir=args.data_dir)
        Xtr, Xte = d["x_train"][:, :, None], d["x_test"][:, :, None]
        ytr, yte = d["y_train"], d["y_test"]
    else:
        d = datasets.load_mnist("mnist", data_dir=args.data_dir)
        Xtr, Xte = datasets.sequential_view(d["x_train"]), datasets.sequential_view(d["x_test"])
        ytr, yte = d["y_train"], d["y_test"]
        if name == "smnist196":  # 4 pixels per step, row-major: 196 steps
            Xtr, Xte = Xtr.reshape(len(Xtr), 196, 4), Xte.reshape(len(Xte), 196, 4)
    Xtr, ytr = np.ascontiguousarray(Xtr[:n_train], np.float32), ytr[:n_train]
    Xte, yte = np.ascontiguousarray(Xte[:n_test], np.float32), yte[:n_test]
    return Xtr, ytr, Xte, yte, Xtr.shape[2], Xtr.shape[1]


def measure(net, X, y, batch=250):
    """Accuracy and, per layer, the outputs' zero fraction on (X, y) in eval mode."""
    net.eval()
    correct, zeros, sizes = 0, np.zeros(len(net.layers)), np.zeros(len(net.layers))
    in_zero = 0.0
    for i in range(0, len(X), batch):
        h = np.ascontiguousarray(X[i:i + batch].transpose(1, 0, 2))
        in_zero += np.count_nonzero(h == 0)
        for k, layer in enumerate(net.layers):
            h, _ = layer.forward(h)
            zeros[k] += np.count_nonzero(h == 0)
            sizes[k] += h.size
        reads_sequence = isinstance(net.readout, network.SEQUENCE_READOUTS)
        out, _ = net.readout.forward(h if reads_sequence else h[-1])
        correct += int(np.sum(np.argmax(out, -1) == y[i:i + batch]))
    net.train()
    return correct / len(X), zeros / sizes, in_zero / X.size


def train_eval(cell, config, kind, task_data, H, epochs, seed=0, lr=3e-3, readout=READOUT):
    """Two stacked cells of width ``H`` (seeds seed, seed+1) and ``readout`` (default the
    leaky integrator, logits = max over time; "linear": a Linear on the last step), trained
    with Adam (clip 1, batch 64); accuracy, zero fractions and multiplications on the test
    set (the readout counted at every step)."""
    Xtr, ytr, Xte, yte, n_in, T = task_data
    net = network.build(cell, n_in, H, 10, n_layers=2, seed=seed, dtype=np.float32, config=config,
                        readout=readout)
    opt = optim.Adam(net.params, lr=lr)
    t0 = time.time()
    hist = training.train(net, Xtr, ytr, opt, epochs, 64, np.random.default_rng(seed), clip=1.0,
                          progress=False)
    secs = time.time() - t0
    acc, zf, in_zero = measure(net, Xte, yte)
    dens = [1 - in_zero] + [1 - z for z in zf]
    mults = analysis.network_multiplications(kind, [n_in, H, H], dens, 10, T)
    return dict(acc=acc, zero_frac=[float(z) for z in zf], densities=dens, mults=mults,
                train_loss=hist["loss"], seconds=secs, net=net)


def architectures(args, tasks=("mnist1d", "smnist28", "smnist196"), authors=True, readouts=(READOUT,)):
    """Table 1 in form: LSTM, GRU, traditional LIF, v1, v2 on three sequential tasks.

    ``tasks``: a subset of the three; ``authors``: also the three spiking models in the
    authors' configuration (:data:`AUTHORS_ARCHS`, batch norm); ``readouts``: the spiking
    models (ours) are also trained with each further readout (e.g. "linear", the last
    step) for the readout comparison. From the command line all three tasks, with the
    authors' configuration and the leaky-integrator readout.
    """
    bud = _budget(args.fast)
    all_tasks = {"mnist1d": (bud["n_train"], bud["epochs"]),
                 "smnist28": (bud["n_train"], max(1, bud["epochs"] // 2)),
                 "smnist196": (bud["n_long"], bud["epochs_long"])}
    archs = dict(ARCHS, **(AUTHORS_ARCHS if authors else {}))
    for ro in readouts[1:]:
        archs.update({f"{n} [{ro}]": ARCHS[n] + (ro,) for n in SPIKING})
    res = {}
    for task in tasks:
        n_train, epochs = all_tasks[task]
        data = load_task(task, args, n_train, bud["n_test"])
        res[task] = {}
        for name, (cell, cfg, kind, *ro) in archs.items():
            r = train_eval(cell, cfg, kind, data, bud["H"], epochs, seed=args.seed,
                           readout=ro[0] if ro else readouts[0])
            r.pop("net")
            res[task][name] = r
        lstm = res[task]["LSTM"]["mults"]
        for r in res[task].values():
            r["mults_norm"] = r["mults"] / lstm
    _print_arch_table(res, bud, list(archs), readouts[0])
    _plot_arch(res, pathlib.Path(args.out) / "ponghiran_architectures.png")
    head, paper = {}, {}
    for t in res:
        for name, r in res[t].items():
            head[f"{t} {name} acc %"] = 100 * r["acc"]
            if name not in ("LSTM", "GRU"):
                head[f"{t} {name} zeros %"] = 100 * float(np.mean(r["zero_frac"]))
            if name != "LSTM":
                head[f"{t} {name} ops/LSTM"] = r["mults_norm"]
            if name in PAPER_TABLE1:
                a, z, o = PAPER_TABLE1[name]
                paper[f"{t} {name} acc %"] = a[0]
                if not isinstance(z[0], str):
                    paper[f"{t} {name} zeros %"] = z[0]
                paper[f"{t} {name} ops/LSTM"] = o[0]
    return {"results": res, "budget": bud, "headline": head, "headline_paper": paper}


def _print_arch_table(res, bud, names=tuple(ARCHS), readout=READOUT):
    tasks = list(res)
    print(f"Two-layer networks, width {bud['H']}, readout {readout} ({network.READOUTS[readout]}); "
          "spiking (ours): 6-bit outputs, threshold b/16, no batch norm; (authors' cfg): their nb6th3 "
          "(5 bits + sign, first level b/8), batch norm, alpha 1")
    w = max(len(n) for n in names) + 1
    head = f"{'architecture':<{w}}" + "".join(f"{'acc ' + t:>15}" for t in tasks) + \
        "".join(f"{'%0 ' + t:>14}" for t in tasks) + "".join(f"{'ops ' + t:>15}" for t in tasks)
    print(head)
    for name in names:
        row = f"{name:<{w}}"
        row += "".join(f"{100 * res[t][name]['acc']:>14.1f}%" for t in tasks)
        row += "".join(f"{100 * np.mean(res[t][name]['zero_frac']):>13.1f}%" for t in tasks)
        row += "".join(f"{res[t][name]['mults_norm']:>15.3f}" for t in tasks)
        print(row)
    print("\nThe paper's Table 1 (TIMIT, LibriSpeech 100h):")
    print(f"{'architecture':<17}{'acc TIMIT':>11}{'acc Libri':>11}{'%0 TIMIT':>10}{'%0 Libri':>10}{'ops TIMIT':>11}")
    for name, (a, z, o) in PAPER_TABLE1.items():
        print(f"{name:<17}{a[0]:>11.2f}{a[1]:>11.2f}{str(z[0]):>10}{str(z[1]):>10}{o[0]:>11.2f}")


def _plot_arch(res, path):
    plt = pyplot()
    tasks, names = list(res), list(next(iter(res.values())))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    w = 0.8 / len(tasks)
    for j, (key, lab, f) in enumerate((("acc", "test accuracy (%)", lambda r: 100 * r["acc"]),
                                       ("zero", "zero outputs (%)", lambda r: 100 * np.mean(r["zero_frac"])),
                                       ("ops", "multiplications / LSTM", lambda r: r["mults_norm"]))):
        for i, t in enumerate(tasks):
            axes[j].bar(np.arange(len(names)) + i * w, [f(res[t][n]) for n in names], w, label=t)
        axes[j].set_xticks(np.arange(len(names)) + w * (len(tasks) - 1) / 2)
        axes[j].set_xticklabels(names, rotation=35, ha="right", fontsize=7)
        axes[j].set_ylabel(lab)
    axes[0].legend(fontsize=8)
    fig.suptitle("Ponghiran & Roy Table 1 in form (scaled)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: the authors' grid for Figure 5 (their cfg nbXth0, X = num_bits including the sign): our
#: n_bits = X - 1, threshold_levels = 1 (first level at b/2^(X-1)); X = 1 would leave 0 bits
AUTHORS_BITS = (2, 3, 4, 6)


def precision(args, authors=True):
    """Figure 5a/5b: v2 accuracy vs output bits (threshold b/2^N) and width; with ``authors``
    also v2 in the authors' configuration over their grid (:data:`AUTHORS_BITS`)."""
    bud = _budget(args.fast)
    n_train = bud["n_train"] // 2 if not args.fast else bud["n_train"]
    data = load_task("mnist1d", args, n_train, bud["n_test"])
    bits_all = (1, 2, 3, 4, 6)
    widths = (1.0, 1.5, 2.0)
    runs = [(nb, 1.0) for nb in bits_all] + [(nb, w) for w in widths[1:] for nb in (1, 3, 6)]
    res = {}
    for nb, w in runs:
        H = int(round(bud["H"] * w))
        cfg = dict(variant="v2", n_bits=nb, threshold_levels=1)
        r = train_eval("gated_lif", cfg, "v2", data, H, bud["epochs"], seed=args.seed)
        r.pop("net")
        res[(nb, w)] = r
    res_a = {}
    for X in (AUTHORS_BITS if authors else ()):
        cfg = dict(gated_module.PRESETS["ponghiran_authors_code"], variant="v2", n_bits=X - 1, threshold_levels=1)
        r = train_eval("gated_lif", cfg, "v2", data, bud["H"], bud["epochs"], seed=args.seed)
        r.pop("net")
        res_a[X] = r
    print(f"gated v2 on MNIST-1D ({n_train} training sequences, {bud['epochs']} epochs), threshold b/2^N, "
          f"readout {READOUT}")
    print(f"{'bits':>5}" + "".join(f"{'width x' + str(w):>12}" for w in widths))
    for nb in bits_all:
        print(f"{nb:>5}" + "".join(f"{100 * res[(nb, w)]['acc']:>11.1f}%" if (nb, w) in res else f"{'-':>12}"
                                   for w in widths))
    if res_a:
        print("authors' configuration (batch norm, alpha 1, signed), their num_bits X (X - 1 bits + sign, "
              "threshold 0: first level b/2^(X-1)), width x1.0:")
        for X, r in res_a.items():
            print(f"{X:>5}{100 * r['acc']:>11.1f}%   zeros {100 * np.mean(r['zero_frac']):5.1f}%")
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(bits_all, [100 * res[(nb, 1.0)]["acc"] for nb in bits_all], "o-", label="ours (N bits)")
    if res_a:
        ax[0].plot([X - 1 for X in res_a], [100 * r["acc"] for r in res_a.values()], "s--",
                   label="authors' cfg (N bits + sign)")
        ax[0].legend(fontsize=8)
    ax[0].set_xlabel("output bits N (threshold b/2^N)")
    ax[0].set_ylabel("test accuracy (%)")
    ax[0].set_title("(a) precision, width 1x")
    for w in widths:
        nbs = [nb for nb in bits_all if (nb, w) in res]
        ax[1].plot(nbs, [100 * res[(nb, w)]["acc"] for nb in nbs], "o-", label=f"{w}x width")
    ax[1].set_xlabel("output bits N")
    ax[1].set_title("(b) precision and width")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(pathlib.Path(args.out) / "ponghiran_precision.png", dpi=110)
    plt.close(fig)
    head = {f"v2 {nb} bit x{w} acc %": 100 * r["acc"] for (nb, w), r in res.items()}
    head.update({f"v2 authors' cfg num_bits {X} acc %": 100 * r["acc"] for X, r in res_a.items()})
    return {"results": {f"{nb}bit_x{w}": r for (nb, w), r in res.items()}, "table": res,
            "authors": {f"num_bits{X}": r for X, r in res_a.items()}, "headline": head}


def vanishing(args):
    """Eq. 15 measured vs beta^(N-n); gradient norm vs N-n for LIF, v1, v2."""
    N = 60 if args.fast else 300
    rng = np.random.default_rng(args.seed)
    n_in, H, B = 8, 16, 8
    x = rng.standard_normal((N, B, n_in))
    out = {}
    # (1) the exact synaptic path of a traditional layer
    for beta in (0.5, 0.9, 0.99):
        cell = cells.make("lif", n_in, H, beta=beta, **{k: v for k, v in lif_module.PRESETS["ponghiran"].items()
                                                       if k != "beta"})
        cell.training = False
        g = rng.standard_normal((B, H))
        m, c = analysis.synaptic_path_check(cell, x, g)
        per_step = np.linalg.norm(m.reshape(N, -1), axis=1)
        out[f"beta={beta}"] = dict(rel_error=float(np.max(np.abs(m - c)) / np.max(np.abs(c))),
                                   norms=per_step[::-1] / per_step[-1])
    print(f"Eq. 15, synaptic path of a traditional LIF layer, N = {N}:")
    for k, v in out.items():
        print(f"  {k:<10} max |measured - beta^(N-n) X[n]^T g| / max = {v['rel_error']:.1e}")
    # (2) full gradient curves (loss at the last step)
    curves = {}
    trad = cells.make("lif", n_in, H, **lif_module.PRESETS["ponghiran"])
    trad.forward(x)  # one training-mode pass sets the range b to this input's max|V| (EMA)
    trad.training = False
    curves["traditional LIF (beta=0.9)"] = analysis.gradient_curve(trad, x, seed=1)[1]
    for v in ("v1", "v2"):
        for bf in (0.0, 4.0):
            cell = cells.make("gated_lif", n_in, H, variant=v)
            cell.params["b_f"][...] = bf
            cell.forward(x)  # sets b (EMA of max|V|), as training would
            cell.training = False
            curves[f"{v}, forget bias {bf:g}"] = analysis.gradient_curve(cell, x, seed=1)[1]
    lags = tuple(l for l in (10, 50, 100, 200) if l < N) + (N - 1,)
    print("\n||dJ/dW[n]|| / ||dJ/dW[N]|| at N-n =", lags)
    for k, c in curves.items():
        print(f"  {k:<28}" + "".join(f"{c[l]:>11.2e}" for l in lags))
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    lag = np.arange(N)
    for k, v in out.items():
        beta = float(k.split("=")[1])
        ax[0].semilogy(lag, v["norms"], lw=2, label=f"measured, {k}")
        ax[0].semilogy(lag, beta ** lag, "k--", lw=1)
    ax[0].set_ylim(1e-16, 2)
    ax[0].set_xlabel("N - n")
    ax[0].set_ylabel("||dJ/dW[n]|| (synaptic path) / lag 0")
    ax[0].set_title("Eq. 15: measured (colour) vs beta^(N-n) (dashed)")
    ax[0].legend(fontsize=8)
    for k, c in curves.items():
        ax[1].semilogy(lag, np.maximum(c, 1e-30), label=k)
    ax[1].set_ylim(1e-20, 10)
    ax[1].set_xlabel("N - n")
    ax[1].set_ylabel("||dJ/dW[n]|| / lag 0")
    ax[1].set_title("full BPTT, loss at step N")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(pathlib.Path(args.out) / "ponghiran_vanishing.png", dpi=110)
    plt.close(fig)
    return {"synaptic": out, "curves": curves, "N": N}


EXPERIMENTS = {
    "ponghiran-architectures": architectures,
    "ponghiran-precision": precision,
    "ponghiran-vanishing": vanishing,
}
