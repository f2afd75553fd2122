"""De Geeter, Ernst & Drion (2023), "Spike-based computation using classical recurrent
neural networks": the experiments of §3-4 and Appendix B, CPU-scaled.

``python -m snn_from_scratch reproduce degeeter-<name>`` with name in
spikes, bypass, detach, shallow, deep. Appendix A's set-up is kept — Adam, cosine
annealing from 0.005, gradient clipping at norm 1, batch 64, a final layer of 10 x
classes = 100 neurons read by the fixed leaky-integrator readout (alpha 0.99, +1 / -0.1),
Xavier-uniform weights, rate coding with gain 0.25 and latency coding (tau 10,
V_th 0.01, linear, normalized, last-step spikes removed), the SRC constants and the
snnTorch-style LIF (``lif.PRESETS["snntorch_leaky"]``) — and what a CPU cannot afford
is scaled (printed with every table, see ``SCALES``): hidden layers of 128 (64 for the
deep networks) instead of 512, 60 time steps (40) instead of 200, 2,400 training / 400
validation / 1,000 test images (of the offline 5,000-image MNIST subset unless the full
sets are fetched; Fashion-MNIST joins the shallow table when fetched) instead of
54k/6k/10k, and 4 epochs (8 for the deep networks) instead of 100.
The paper's numbers are printed beside ours; they are *not* expected to match under
this budget, the qualitative claims are what we test (the no-bypass network does not
learn; the deep LIF networks are harder to train than the deep SRC networks). A run is one
seed (data split, initialization and shuffling); error bars come from ``reproduce NAME
--seeds 3 --jobs 2`` (:mod:`.seeds`), which averages each run's ``res["headline"]``.

"Layers" counts every SRC/LIF layer including the final one of 100 neurons, as in the
paper's Table 1 (1 layer = no hidden layer).

The module is longer than ~350 lines because it holds all of one paper's experiments, each
a function printing its table and drawing its figure; splitting a paper over several files
would scatter its shared set-up (budget, constants, data) without making any part shorter.
"""
from __future__ import annotations

import pathlib
import time

import numpy as np

from .. import cells, datasets, encoding, network, optim, training
from ..cells import lif as lif_module
from ..cells import src as src_module
from ..layers import LeakyReadout
from .common import pick_scale, pyplot, save_json

__all__ = ["EXPERIMENTS", "SCALES", "PAPER", "build", "make_encoder", "train_model",
           "spike_generation", "bypass", "detach", "shallow", "deep", "step_time"]

#: The paper's values we compare against (Table 1, MNIST columns; Figures 2 and 5 read
#: qualitatively: the figures give curves, not tables).
PAPER = {
    "table1_mnist": {  # layers -> neuron -> (rate, latency) test accuracy in %
        1: {"src": (97.27, 96.54), "lif": (97.18, 96.98)},
        2: {"src": (98.32, 98.30), "lif": (98.06, 96.92)},
        3: {"src": (98.44, 98.21), "lif": (98.18, 94.73)},
        5: {"src": (98.39, 97.52), "lif": (98.08, 97.61)},
    },
    "table1_fashion-mnist": {
        1: {"src": (86.24, 86.28), "lif": (86.02, 84.72)},
        2: {"src": (87.80, 87.06), "lif": (79.32, 87.27)},
        3: {"src": (88.35, 84.86), "lif": (80.64, 78.09)},
        5: {"src": (88.54, 82.09), "lif": (84.22, 85.88)},
    },
    "figure2": "5-layer SRC, 5 models each: with bypass ~98% validation accuracy within a few "
               "epochs; without bypass the models do not learn (chance level)",
    "figure5": "SRC learns stably with 5, 10, 15 layers; LIF: 10 layers honourable but "
               "unstable, 15 layers fail to learn; SRC epochs take longer but same order",
}

#: CPU scaling (full = the committed runs, fast = SNN_FAST / CI). Paper: H 512, T 200,
#: 54k/6k/10k samples, 100 epochs.
SCALES = {
    "full": dict(H=128, T=60, n_train=2400, n_val=400, n_test=1000, epochs=4, seeds=1,
                 deep_T=40, deep_H=64, deep_epochs=8, deep_layers=(5, 10, 15),
                 shallow_layers=(1, 2, 3)),
    "fast": dict(H=32, T=20, n_train=128, n_val=64, n_test=64, epochs=1, seeds=1,
                 deep_T=12, deep_H=16, deep_epochs=1, deep_layers=(5,),
                 shallow_layers=(1, 2)),
}

LR, BATCH, CLIP, N_FINAL, N_CLASSES = 5e-3, 64, 1.0, 100, 10


def _scaled_note(sc):
    return (f"CPU-scaled: hidden {sc['H']} (paper 512), T {sc['T']} (paper 200), "
            f"{sc['n_train']}/{sc['n_val']}/{sc['n_test']} train/val/test (paper 54k/6k/10k), "
            f"{sc['epochs']} epochs (paper 100)")


# --------------------------------------------------------------------------------------
# data, models, training
# --------------------------------------------------------------------------------------
def load_data(sc, data_dir=None, seed=0, kind="mnist"):
    """MNIST as (N, 784) float32 in [0, 1], split 90/10 into train/validation (Appendix A)."""
    d = datasets.load_mnist(kind, data_dir=data_dir)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(d["x_train"]))
    n_tr, n_va = sc["n_train"], sc["n_val"]
    X = d["x_train"].reshape(len(d["x_train"]), -1).astype(np.float32) / 255.0
    Xt = d["x_test"].reshape(len(d["x_test"]), -1).astype(np.float32) / 255.0
    tr, va = idx[:n_tr], idx[n_tr:n_tr + n_va]
    return dict(X=X[tr], y=d["y_train"][tr], Xv=X[va], yv=d["y_train"][va],
                Xt=Xt[:sc["n_test"]], yt=d["y_test"][:sc["n_test"]], source=d["source"])


def make_encoder(coding, T, dtype=np.float32):
    """§4.1 encodings: ``"rate"`` (Bernoulli, gain 0.25) or ``"latency"`` (tau 10,
    V_th 0.01, linear, normalized, last-step spikes removed) -> ``encode(xb, rng)``."""
    if coding == "rate":
        return lambda xb, rng: encoding.rate(xb, T, rng, gain=0.25, dtype=dtype)
    if coding == "latency":
        return lambda xb, rng: encoding.latency(xb, T, tau=10.0, threshold=0.01, linear=True,
                                                normalize=True, remove_last=True, dtype=dtype)
    raise ValueError(f"coding must be 'rate' or 'latency', got {coding!r}")


def build(neuron, n_layers, H, seed=0, coding="rate", dtype=np.float32, **config):
    """``n_layers`` SRC or LIF layers (784 -> H ... H -> 100) and the leaky readout."""
    if neuron not in ("src", "lif"):
        raise ValueError(f"neuron must be 'src' or 'lif', got {neuron!r}")
    alpha = 0.99 if coding == "latency" else 0.9  # Appendix A
    if neuron == "src":
        cfg = dict(alpha=alpha, **config)
    else:
        cfg = dict(lif_module.PRESETS["snntorch_leaky"], alpha=alpha, **config)
    sizes = [784] + [H] * (n_layers - 1) + [N_FINAL]
    layers = [cells.make(neuron, sizes[i], sizes[i + 1], seed=seed * 100 + i, dtype=dtype, **cfg)
              for i in range(n_layers)]
    return network.Network(layers, LeakyReadout(N_FINAL, N_CLASSES, dtype=dtype))


def train_model(net, data, encode, epochs, seed=0, progress=False):
    """Appendix A's training: Adam, cosine annealing from 0.005, clip 1, batch 64."""
    opt = optim.Adam(net.params, lr=LR)
    sched = optim.CosineAnnealing(opt, T_max=max(1, epochs))
    rng = np.random.default_rng(seed)
    hist = training.train(net, data["X"], data["y"], opt, epochs, BATCH, rng, encode=encode,
                          X_val=data["Xv"], y_val=data["yv"], schedule=sched, clip=CLIP,
                          progress=progress)
    return hist


def layer_activity(net, X, encode, seed=0, batch=256):
    """Mean activity T(s) (Eq. 2) of every layer on X."""
    rng = np.random.default_rng(seed)
    tot = np.zeros(len(net.layers))
    for s in range(0, len(X), batch):
        h = encode(X[s:s + batch], rng)
        for k, c in enumerate(net.layers):
            h, _ = c.forward(h)
            tot[k] += src_module.activity(h).mean() * len(h[0])
    return tot / len(X)


def _integer_epochs(axes):
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# --------------------------------------------------------------------------------------
# Figure 1 / Appendix B: spike generation
# --------------------------------------------------------------------------------------
def _single_neuron(b_h, z_dep=0.0, x_seq=None):
    """One SRC neuron driven by ``x`` directly: alpha = 0, W = 1 and x = rho tanh(i/rho)."""
    cell = cells.make("src", 1, 1, alpha=0.0, b_h_init=b_h, b_h_max=None, z_dep=z_dep)
    cell.params["W"][:] = 1.0
    rho = cell.config.rho
    inp = np.arctanh(np.clip(x_seq / rho, -0.999999, 0.999999)) * rho  # i such that x = x_seq
    return src_module.trace(cell, inp[:, None, None])


def stimulus(T=300):
    """The input sequence x of Figure 1: rest, a weak step, rest, a strong step, rest."""
    x = np.zeros(T)
    x[40:100] = 1.0
    x[140:220] = 2.5
    return x


def _spike_stats(s):
    on = s > 0
    starts = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    if on[0]:
        starts = np.r_[0, starts]
    n = len(starts)
    return n, (on.sum() / n if n else 0.0), float(on.mean())


def spike_generation(args):
    """Figure 1 and Appendix B (Figure 6): one SRC neuron, several b_h, fixed vs variable z_s."""
    x = stimulus()
    biases = (-6.0, -4.0, -3.0, -1.5)
    rows, traces = [], {}
    for b in biases:
        tr = _single_neuron(b, x_seq=x)
        traces[b] = tr
        n, dur, act = _spike_stats(tr["s"][:, 0, 0])
        rest_spikes = _spike_stats(tr["s"][:40, 0, 0])[0]
        rows.append(dict(b_h=b, spikes=n, mean_duration=dur, activity=act, spikes_at_rest=rest_spikes))
    fixed = _single_neuron(-4.0, z_dep=0.9, x_seq=x)
    var = traces[-4.0]
    zrows = []
    for lab, tr in (("variable z_s (0.9 / 0)", var), ("fixed z_s = 0.9", fixed)):
        n, dur, act = _spike_stats(tr["s"][:, 0, 0])
        zrows.append(dict(z_s=lab, spikes=n, mean_duration=dur, activity=act))
    print("De Geeter et al. Figure 1: one SRC neuron, input x (steps 1.0 at t=40..99, 2.5 at t=140..219)")
    print(f"  {'b_h':>6} {'spikes':>7} {'mean dur.':>10} {'T(s)':>7} {'spikes at rest':>15}")
    for r in rows:
        print(f"  {r['b_h']:>6.1f} {r['spikes']:>7d} {r['mean_duration']:>10.2f} {r['activity']:>7.3f} "
              f"{r['spikes_at_rest']:>15d}")
    print("  paper: low b_h silent without input; high b_h spikes even with null input; "
          "stronger input -> higher rate")
    print("Appendix B Figure 6 (b_h = -4): voltage-dependent vs fixed z_s")
    for r in zrows:
        print(f"  {r['z_s']:<24} spikes {r['spikes']:>3d}  mean duration {r['mean_duration']:.2f} steps")
    print("  paper: the variable z_s makes spikes shorter (fast falling edge) and keeps the "
          "refractory period long")
    plt = pyplot()
    fig, axes = plt.subplots(len(biases) + 1, 1, figsize=(9, 8), sharex=True)
    axes[0].plot(x, color="k")
    axes[0].set_ylabel("input x")
    for ax, b in zip(axes[1:], biases):
        ax.plot(traces[b]["h"][:, 0, 0], label="h", lw=1)
        ax.plot(traces[b]["s"][:, 0, 0], label="s = ReLU(h)", lw=1.5)
        ax.set_ylabel(f"b_h = {b}")
        ax.set_ylim(-1.1, 1.1)
    axes[1].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time step")
    fig.suptitle("SRC spike generation (De Geeter et al., Figure 1)")
    fig.tight_layout()
    p1 = pathlib.Path(args.out) / "degeeter_spikes_fig1.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    sl = slice(130, 230)
    t = np.arange(len(x))[sl]
    for ax, (lab, tr) in zip(axes, (("variable z_s", var), ("fixed z_s = 0.9", fixed))):
        ax.plot(t, tr["h"][sl, 0, 0], "k", label="h")
        ax.plot(t, tr["pos"][sl, 0, 0], "C3", label="r h[t-1] (positive feedback)")
        ax.plot(t, tr["neg"][sl, 0, 0], "C0", label="r_s h_s[t-1] (negative feedback)")
        ax.set_title(lab, fontsize=10)
        ax.axhline(0, color="0.8", lw=0.5)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].set_xlabel("time step")
    fig.suptitle("The two feedbacks over spikes (De Geeter et al., Appendix B, Figure 6)")
    fig.tight_layout()
    p2 = pathlib.Path(args.out) / "degeeter_spikes_fig6.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    res = {"biases": rows, "z_s": zrows, "figures": [str(p1), str(p2)]}
    save_json(args.out, "degeeter-spikes", res)
    return res


# --------------------------------------------------------------------------------------
# Figure 2 (bypass) and the detach comparison
# --------------------------------------------------------------------------------------
def _compare_variants(args, name, variants, title, paper_note):
    sc = pick_scale(SCALES, args)
    data = load_data(sc, args.data_dir, seed=args.seed)
    enc = make_encoder("rate", sc["T"])
    curves = {}
    for lab, cfg in variants.items():
        curves[lab] = []
        for k in range(sc["seeds"]):
            seed = args.seed + k
            net = build("src", 5, sc["H"], seed=seed, **cfg)
            t0 = time.time()
            h = train_model(net, data, enc, sc["epochs"], seed=seed)
            tl, ta = network.evaluate(net, data["Xt"], data["yt"], batch_size=256, encode=enc)
            curves[lab].append(dict(loss=h["loss"], val_acc=h["val_acc"], val_loss=h["val_loss"],
                                    test_acc=ta, test_loss=tl, time=time.time() - t0))
    print(title)
    print("  " + _scaled_note(sc) + f"; {sc['seeds']} seed(s); data {data['source']}")
    print(f"  {'variant':<28}{'train loss (last)':>18}{'val acc (last)':>16}{'test acc':>10}")
    summary = {}
    for lab, runs in curves.items():
        tl = np.mean([r["loss"][-1] for r in runs])
        va = np.mean([r["val_acc"][-1] for r in runs])
        te = np.mean([r["test_acc"] for r in runs])
        summary[lab] = dict(train_loss=tl, val_acc=va, test_acc=te)
        print(f"  {lab:<28}{tl:>18.4f}{100 * va:>15.2f}%{100 * te:>9.2f}%")
    head = {}
    for lab, r in summary.items():
        head[f"{lab} test acc %"] = 100 * r["test_acc"]
        head[f"{lab} val acc % (last epoch)"] = 100 * r["val_acc"]
        head[f"{lab} train loss (last epoch)"] = r["train_loss"]
    print("  paper: " + paper_note)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for j, (lab, runs) in enumerate(curves.items()):
        for r in runs:
            ep = np.arange(1, len(r["loss"]) + 1)
            axes[0].plot(ep, r["loss"], color=f"C{j}", marker="o", label=lab if r is runs[0] else None)
            axes[1].plot(ep, 100 * np.array(r["val_acc"]), color=f"C{j}", marker="o",
                         label=lab if r is runs[0] else None)
    axes[0].set(xlabel="epoch", ylabel="training cross-entropy")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy (%)")
    axes[1].axhline(10, color="0.6", ls=":", lw=1)
    _integer_epochs(axes)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    p = pathlib.Path(args.out) / f"{name}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    res = {"curves": curves, "summary": summary, "scale": sc, "figure": str(p), "headline": head}
    save_json(args.out, name, res)
    return res


def bypass(args):
    """Figure 2: 5-layer SRC networks with and without the ReLU bypass (MNIST, rate)."""
    return _compare_variants(
        args, "degeeter-bypass",
        {"bypass_relu=True": dict(bypass_relu=True), "bypass_relu=False": dict(bypass_relu=False)},
        "De Geeter et al. Figure 2: 5-layer SRC on MNIST (rate coding), ReLU bypass on/off",
        PAPER["figure2"])


def detach(args):
    """§4.4: 5-layer SRC networks with and without detach_recurrent (bypass on)."""
    return _compare_variants(
        args, "degeeter-detach",
        {"detach_recurrent=True": dict(detach_recurrent=True),
         "detach_recurrent=False": dict(detach_recurrent=False)},
        "De Geeter et al. §4.4: 5-layer SRC on MNIST (rate coding), detach_recurrent on/off",
        "detaching h and h_s improves learning, 'not as important as skipping the ReLU' (no figure)")


# --------------------------------------------------------------------------------------
# Table 1 / Figure 4 (shallow) and Figure 5 (deep)
# --------------------------------------------------------------------------------------
def shallow(args, layers=None, kinds=("mnist", "fashion-mnist")):
    """Table 1 and Figure 4: 1-3 layer SRC vs LIF, MNIST (and Fashion-MNIST when fetched),
    rate and latency coding, with the activity T(s). ``layers`` (default the scale's
    ``shallow_layers``) and ``kinds`` (data sets) select a part of the table."""
    sc = pick_scale(SCALES, args)
    if layers is not None:
        sc["shallow_layers"] = tuple(layers)
    sets = []
    for kind in kinds:
        try:
            sets.append((kind, load_data(sc, args.data_dir, seed=args.seed, kind=kind)))
        except FileNotFoundError:
            print(f"  ({kind} not fetched: `python data_scripts/fetch.py {kind}`; skipped)")
    rows = []
    for kind, data in sets:
        for coding in ("rate", "latency"):
            enc = make_encoder(coding, sc["T"])
            for L in sc["shallow_layers"]:
                for neuron in ("src", "lif"):
                    net = build(neuron, L, sc["H"], seed=args.seed, coding=coding)
                    t0 = time.time()
                    h = train_model(net, data, enc, sc["epochs"], seed=args.seed)
                    _, ta = network.evaluate(net, data["Xt"], data["yt"], batch_size=256, encode=enc)
                    act = layer_activity(net, data["Xt"][:256], enc)
                    paper = PAPER[f"table1_{kind}"].get(L, {}).get(neuron)
                    rows.append(dict(dataset=kind, coding=coding, layers=L, neuron=neuron, test_acc=100 * ta,
                                     val_acc=[100 * v for v in h["val_acc"]],
                                     paper=None if paper is None else paper[0 if coding == "rate" else 1],
                                     activity=float(act.mean()), activity_per_layer=act.tolist(),
                                     time=time.time() - t0, source=data["source"]))
    print("De Geeter et al. Table 1 and Figure 4 (activity T(s), Eq. 2)")
    print("  " + _scaled_note(sc) + "; data " + "; ".join(d["source"] for _, d in sets))
    print(f"  {'dataset':<14}{'coding':<8}{'layers':>7}{'neuron':>8}{'test acc %':>11}{'paper %':>9}"
          f"{'T(s)':>8}{'time s':>8}")
    for r in rows:
        pp = "-" if r["paper"] is None else f"{r['paper']:.2f}"
        print(f"  {r['dataset']:<14}{r['coding']:<8}{r['layers']:>7d}{r['neuron']:>8}{r['test_acc']:>11.2f}"
              f"{pp:>9}{r['activity']:>8.3f}{r['time']:>8.1f}")
    rows_fig = [r for r in rows if r["dataset"] == sets[0][0]]
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    Ls = list(sc["shallow_layers"])
    for ax, coding in zip(axes, ("rate", "latency")):
        w = 0.38
        for j, neuron in enumerate(("src", "lif")):
            vals = [next(r["activity"] for r in rows_fig if r["coding"] == coding and r["layers"] == L
                         and r["neuron"] == neuron) for L in Ls]
            ax.bar(np.arange(len(Ls)) + (j - 0.5) * w, vals, w, label=neuron.upper())
        ax.set_xticks(np.arange(len(Ls)), [str(L) for L in Ls])
        ax.set(xlabel="layers", ylabel="mean activity T(s)", title=f"{sets[0][0]}, {coding} coding")
        ax.legend()
    fig.suptitle("Mean spiking activity on the test set (De Geeter et al., Figure 4)", fontsize=10)
    fig.tight_layout()
    p = pathlib.Path(args.out) / "degeeter-shallow.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    head, paper = {}, {}
    for r in rows:
        key = f"{r['dataset']} {r['coding']} {r['layers']} layer(s) {r['neuron']}"
        head[f"{key} acc %"] = r["test_acc"]
        head[f"{key} T(s)"] = r["activity"]
        if r["paper"] is not None:
            paper[f"{key} acc %"] = r["paper"]
    res = {"rows": rows, "scale": sc, "figure": str(p), "headline": head, "headline_paper": paper}
    save_json(args.out, "degeeter-shallow", res)
    return res


def deep(args):
    """Figure 5: 5/10/15-layer SRC vs LIF on MNIST rate coding: validation curves, epoch time."""
    sc = pick_scale(SCALES, args)
    sc = dict(sc, H=sc["deep_H"], T=sc["deep_T"], epochs=sc["deep_epochs"])
    data = load_data(sc, args.data_dir, seed=args.seed)
    enc = make_encoder("rate", sc["T"])
    runs = []
    for L in sc["deep_layers"]:
        for neuron in ("src", "lif"):
            net = build(neuron, L, sc["H"], seed=args.seed)
            try:
                h = train_model(net, data, enc, sc["epochs"], seed=args.seed)
                tl, ta = network.evaluate(net, data["Xt"], data["yt"], batch_size=256, encode=enc)
            except FloatingPointError as e:  # a diverging network is a result, not a crash
                h = {"val_loss": [float("nan")], "val_acc": [float("nan")], "epoch_time": [float("nan")]}
                tl, ta = float("nan"), float("nan")
                print(f"  {neuron} {L} layers diverged: {e}")
            runs.append(dict(layers=L, neuron=neuron, val_loss=h["val_loss"], val_acc=h["val_acc"],
                             epoch_time=h["epoch_time"], test_loss=tl, test_acc=100 * ta))
    print("De Geeter et al. Figure 5: deep networks on MNIST (rate coding)")
    print("  " + _scaled_note(sc) + f"; data {data['source']}")
    print(f"  {'layers':>7}{'neuron':>8}{'val acc per epoch %':>32}{'test acc %':>11}{'test loss':>10}{'epoch s':>9}")
    for r in runs:
        va = " ".join(f"{100 * v:5.1f}" for v in r["val_acc"])
        print(f"  {r['layers']:>7d}{r['neuron']:>8}{va:>32}{r['test_acc']:>11.2f}{r['test_loss']:>10.3f}"
              f"{np.nanmean(r['epoch_time']):>9.1f}")
    print("  paper: " + PAPER["figure5"])
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for r in runs:
        ls = "-" if r["neuron"] == "src" else "--"
        col = f"C{list(sc['deep_layers']).index(r['layers'])}"
        ep = np.arange(1, len(r["val_acc"]) + 1)
        lab = f"{r['neuron'].upper()} {r['layers']}"
        axes[0].plot(ep, r["val_loss"], ls, color=col, marker="o", label=lab)
        axes[1].plot(ep, 100 * np.array(r["val_acc"]), ls, color=col, marker="o", label=lab)
    axes[0].set(xlabel="epoch", ylabel="validation cross-entropy")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy (%)")
    axes[1].legend(fontsize=8)
    _integer_epochs(axes[:2])
    Ls = list(sc["deep_layers"])
    for j, neuron in enumerate(("src", "lif")):
        t = [np.nanmean(next(r["epoch_time"] for r in runs if r["layers"] == L and r["neuron"] == neuron))
             for L in Ls]
        axes[2].bar(np.arange(len(Ls)) + (j - 0.5) * 0.38, t, 0.38, label=neuron.upper())
    axes[2].set_xticks(np.arange(len(Ls)), [str(L) for L in Ls])
    axes[2].set(xlabel="layers", ylabel="epoch time (s)")
    axes[2].legend(fontsize=8)
    fig.suptitle("Deep SRC vs LIF networks (De Geeter et al., Figure 5)", fontsize=10)
    fig.tight_layout()
    p = pathlib.Path(args.out) / "degeeter-deep.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    head = {f"{r['layers']} layers {r['neuron']} test acc %": r["test_acc"] for r in runs}
    head.update({f"{r['layers']} layers {r['neuron']} epoch s": float(np.nanmean(r["epoch_time"])) for r in runs})
    res = {"runs": runs, "scale": sc, "figure": str(p), "headline": head}
    save_json(args.out, "degeeter-deep", res)
    return res


def step_time(n_layers=2, B=64, T=200, H=512, repeats=3, seed=0):
    """Median seconds of one training step (forward, backward, clip, Adam, projection) of an
    SRC network 784 -> H ... -> 100 with the leaky readout, float32, rate-coded input."""
    net = build("src", n_layers, H, seed=seed)
    opt = optim.Adam(net.params, lr=LR)
    rng = np.random.default_rng(seed)
    x = encoding.rate(rng.random((B, 784)).astype(np.float32) * 0.5, T, rng, gain=0.25)
    y = rng.integers(0, N_CLASSES, B)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        training.step(net, opt, x, y, clip=CLIP)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


EXPERIMENTS = {
    "degeeter-spikes": spike_generation,
    "degeeter-bypass": bypass,
    "degeeter-detach": detach,
    "degeeter-shallow": shallow,
    "degeeter-deep": deep,
}
