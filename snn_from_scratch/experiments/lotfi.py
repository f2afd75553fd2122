"""Lotfi Rezaabad & Vishwanath (2020), "Long Short-Term Memory Spiking Networks and Their
Applications": the experiments of §4.2-4.4 and Appendix B, CPU-scaled, plus MNIST-1D.

``python -m snn_from_scratch reproduce lotfi-<name>`` with name in sinusoid, smnist,
charlm, surrogate-sweep, mnist1d. Each prints a table with the paper's numbers beside
ours, saves a figure (and a JSON of the numbers) under ``--out`` and returns a dict.

Set-up kept from the paper and the authors' code (§4.1): Adam (betas 0.9/0.999; lr 1e-3
for the sinusoid, the language model and the surrogate sweep), thresholds 0.1, Gaussian surrogates a1 = 4, a2 = 0.3 (a_c = 4 for the unit state),
He-normal weights and zero biases, one spiking-LSTM layer. The readout is where we depart:
the classifiers (sequential MNIST, MNIST-1D) are read by a learnable leaky integrator whose
logits are the max over time (``network.build(readout="li-max")``, SpyTorch's and
snnTorch's practice), and the paper's Linear on the last step is trained beside it
("last step") — read at one step only, a spiking layer's gradient must cross every spike's
surrogate on the way back (chapter 05 measures it). Measured on sequential MNIST at the
budget below (3 seeds, mean ± std): spiking LSTM 51.2 ± 6.0 % read at the last step,
87.7 ± 1.7 % with li-max; the LSTM 95.4 ± 0.4 % and 94.6 ± 1.5 %; ratio spiking / LSTM
with the same li-max readout 0.927 ± 0.005 (the paper 0.991). The classifiers train with
the library's recipe, :data:`CLASSIFY` (with the paper's Adam 1e-3 and no schedule the same
spiking LSTM reached 55.1 ± 8.3 % with li-max, 50.4 ± 4.4 % at the last step, the LSTM
90.5 / 92.2 %). The language model reads every step with a Linear, as in the paper. What a
CPU shared by several people cannot afford is scaled (see
:data:`SCALES`, printed with every table): fewer epochs/iterations, the offline
5,000-image MNIST subset when full MNIST has not been fetched, the offline
Python-documentation corpus when Alice has not been fetched. The paper's numbers are
printed beside ours; under this budget they are not expected to match, the comparisons
that matter are spiking vs conventional LSTM under the *same* budget and readout, and the
ratios between them. Error bars: ``reproduce NAME --seeds 3 --jobs 2``
(:mod:`.seeds`); each experiment's ``res["headline"]`` holds the numbers it summarizes.

The conventional LSTM baseline (``cells.make("lstm")``) gets exactly the same inputs
(the same spike trains), sizes, readout, optimizer and budget: the only difference is the
cell.
Every model trains through :mod:`snn_from_scratch.training` (``train`` over epochs of a
data set, ``step`` where batches are drawn fresh each iteration); the backward of the
authors' SpikingMNIST.py (§4.3) is a substituted rule, ``Network(backward_rules={0: printed_backward()})``.

The module is longer than ~350 lines because it holds all of one paper's experiments, each
a function printing its table and drawing its figure; splitting a paper over several files
would scatter its shared set-up (budget, constants, data) without making any part shorter.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np

from .. import datasets, encoding, network, optim, training
from ..cells import spiking_lstm as sl
from .common import out_dir, pick_scale, pyplot, save_json, smooth

__all__ = ["EXPERIMENTS", "SCALES", "PAPER", "sinusoid", "smnist", "charlm", "surrogate_sweep",
           "mnist1d", "step_time", "sample_text", "gradient_reach", "printed_backward"]

#: The paper's numbers (Table 1, Table 3, §4.2, Appendix B).
PAPER = {
    "smnist": {"spiking_lstm": 98.23, "spiking_lstm_best": 98.3, "lstm": 99.10,
               "note": "Table 1: 28 inputs, full MNIST (60k/10k), 2000 epochs"},
    "charlm": {"alice": {"spiking_lstm": 19.0267, "lstm": 14.7539, "vocab": 41},
               "wikitext-2": {"spiking_lstm": 19.3849, "lstm": 14.9319, "vocab": 74},
               "note": "Table 3: 52k training / 12k test characters, hidden 200, 1000 iterations"},
    "sinusoid": "Figure 4: predictions converge on the target 'in few iterations' (no numbers)",
    "sweep": "Figure 6: (a1, a2) = (4, 0.3) converges fastest; the curves are not tabulated",
}

#: CPU scaling: "full" = the committed chapter run, "fast" = SNN_FAST / CI.
SCALES = {
    "full": dict(
        sin_iters=300, sin_batch=16, sin_snapshots=(0, 20, 60, 300),
        mnist_H=128, mnist_epochs=10, mnist_train=4000, mnist_test=1000,
        char_H=200, char_iters=400, char_seq=50, char_batch=32,
        sweep_H=128, sweep_epochs=4, sweep_train=4000, sweep_test=1000,
        m1d_H=64, m1d_epochs=12, m1d_train=4000, m1d_test=1000,
    ),
    "fast": dict(
        sin_iters=4, sin_batch=4, sin_snapshots=(0, 2, 4),
        mnist_H=16, mnist_epochs=1, mnist_train=128, mnist_test=128,
        char_H=16, char_iters=4, char_seq=20, char_batch=8,
        sweep_H=16, sweep_epochs=1, sweep_train=128, sweep_test=128,
        m1d_H=16, m1d_epochs=1, m1d_train=128, m1d_test=128,
    ),
}
PAPER_SIZES = dict(sin_H=100, mnist_H="1000 in Table 1 (200 in the authors' code)",
                   char_H=200, mnist_epochs=2000, char_iters=1000)

LR = 1e-3
BATCH = 64
#: How the classifiers (sequential MNIST, MNIST-1D) are trained, every model alike: the
#: library's recipe (:mod:`snn_from_scratch.recipes`) — Adam from ``lr`` annealed (cosine)
#: to ``lr_min`` over the epochs, gradient-norm clip ``clip`` — and the leak ``kappa`` of
#: the leaky-integrator readout. The paper's Adam 1e-3 without a schedule (:data:`LR`)
#: trains the sinusoid, the language model and the surrogate sweep.
CLASSIFY = dict(lr=1e-2, lr_min=5e-4, clip=5.0, kappa=0.9)
DTYPE = np.float32
M1D_LEVELS = 16
SWEEP_PAIRS = ((4.0, 0.3), (0.3, 4.0), (1.0, 1.0), (4.0, 4.0), (0.3, 0.3))


# --------------------------------------------------------------------------------------
# §4.2 Toy sinusoid (Figure 4)
# --------------------------------------------------------------------------------------
def sinusoid_signal(T=100):
    """The target f(x) = 0.5 sin 3x + 0.5 sin 6x + 1 sampled at T points of [0, 2 pi)."""
    xs = np.linspace(0.0, 2 * np.pi, T, endpoint=False)
    return xs, 0.5 * np.sin(3 * xs) + 0.5 * np.sin(6 * xs) + 1.0


def sinusoid(args):
    """§4.2 toy sinusoid: ON/OFF Poisson input -> 100 spiking-LSTM units -> linear, T=100."""
    sc, out = pick_scale(SCALES, args), out_dir(args)
    rng = np.random.default_rng(args.seed)
    T, n_copies, H = 100, 10, 100
    xs, f = sinusoid_signal(T)
    # 20 inputs (the paper's input size): 10 ON and 10 OFF channels of the centred signal
    # f - 1 in [-1, 1]; each channel spikes with probability |f - 1| on its side.
    signal = np.repeat((f - 1.0)[None, :, None], n_copies, axis=2)          # (1, T, 10)

    def batch(b):
        x = encoding.on_off(np.broadcast_to(signal, (b, T, n_copies)), rng, dtype=DTYPE)  # (T, b, 20)
        target = np.broadcast_to(f.astype(DTYPE)[:, None, None], (T, b, 1)).copy()
        return x, target

    net = network.build("spiking_lstm", 2 * n_copies, H, 1, loss="mse", output="all",
                        seed=args.seed, dtype=DTYPE)
    x_show, t_show = batch(1)                      # one fixed spike train to plot
    snaps = {}
    opt = optim.Adam(net.params, lr=LR)
    losses = []
    t0 = time.time()
    for it in range(sc["sin_iters"] + 1):
        if it in sc["sin_snapshots"]:
            pred, _ = net.forward(x_show)
            snaps[it] = pred[:, 0, 0].astype(float)
        if it == sc["sin_iters"]:
            break
        xb, yb = batch(sc["sin_batch"])
        losses.append(training.step(net, opt, xb, yb)[0])
    dt = time.time() - t0
    mse_per_step = {it: float(np.mean((p - f) ** 2)) for it, p in snaps.items()}
    print("Lotfi Rezaabad & Vishwanath §4.2 / Figure 4: toy sinusoid, T = 100, 20 ON/OFF inputs, "
          f"{H} spiking-LSTM units, linear readout, loss 1/2 sum_t |y_t - yhat_t|^2")
    print(f"  scaled: {sc['sin_iters']} Adam iterations on batches of {sc['sin_batch']} fresh "
          f"Poisson draws ({dt:.1f} s); paper: {PAPER['sinusoid']}")
    print(f"  {'iteration':>10}{'MSE per step':>14}")
    for it, m in mse_per_step.items():
        print(f"  {it:>10d}{m:>14.4f}")
    print(f"  target variance (MSE of predicting the mean): {np.var(f):.4f}")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    on, off = x_show[:, 0, :n_copies], x_show[:, 0, n_copies:]
    ti, ci = np.nonzero(on)
    axes[0].plot(ti, ci, "|", color="tab:red", ms=4, label="ON")
    ti, ci = np.nonzero(off)
    axes[0].plot(ti, ci + n_copies, "|", color="tab:blue", ms=4, label="OFF")
    axes[0].plot(np.arange(T), (f - 1) * 4.5 + 9.5, "k-", lw=1, label="f(x) (scaled)")
    axes[0].set(xlabel="time step t", ylabel="input channel", title="Input: ON/OFF Poisson spikes (Figure 3)")
    axes[0].legend(loc="upper right", fontsize=7)
    axes[1].plot(np.arange(T), f, "k-", lw=2.5, label="target f(x)")
    for it, p in snaps.items():
        axes[1].plot(np.arange(T), p, lw=1.2, label=f"iteration {it}")
    axes[1].set(xlabel="time step t", ylabel="output", title="Predictions during training (Figure 4)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = out / "lotfi_sinusoid.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    res = {"mse": mse_per_step, "losses": losses, "seconds": dt, "figure": str(path),
           "snapshots": {k: v.tolist() for k, v in snaps.items()}, "target": f.tolist()}
    save_json(out, "lotfi_sinusoid", {k: v for k, v in res.items() if k != "snapshots"})
    return res


# --------------------------------------------------------------------------------------
# §4.3 Sequential MNIST (Table 1)
# --------------------------------------------------------------------------------------
def _mnist(sc, data_dir, n_train_key, n_test_key, seed):
    d = datasets.load_mnist("mnist", data_dir=data_dir)
    rng = np.random.default_rng(seed)
    tr = rng.permutation(len(d["x_train"]))[:sc[n_train_key]]
    te = np.arange(min(sc[n_test_key], len(d["x_test"])))
    X = datasets.sequential_view(d["x_train"][tr])
    Xt = datasets.sequential_view(d["x_test"][te])
    return X, d["y_train"][tr], Xt, d["y_test"][te], d["source"]


def bernoulli_encode(xb, rng):
    """The authors' pixel coding: one spike per pixel and step, pixel > uniform, redrawn."""
    return encoding.bernoulli_sequence(xb, rng, dtype=DTYPE)


def printed_backward(variant=sl.AUTHORS_SCRIPTS["mnist"]):
    """A spiking-LSTM layer's backward rule transcribed from print, for
    ``Network(backward_rules={layer: printed_backward()})`` (default: the backward loop of
    the authors' SpikingMNIST.py, L176-232 — the carry without the sending step's
    threshold factor, G_0.3 for f/i/o and exp(-u^2)/sqrt(0.3 pi) for g and the unit state,
    the last-step gradient injected at every step). For the comparison in chapter 5 only:
    it is not the gradient."""
    return functools.partial(sl.backward_variant, variant=variant)


def _fit_classifier(cell, X, y, Xt, yt, H, epochs, seed, encode, n_in, printed=None, readout="linear",
                    **config):
    """Train one classifier (``readout`` a key of :data:`~snn_from_scratch.network.READOUTS`:
    "linear" reads the last step, "li-max" the max over time of a learnable leaky
    integrator; :data:`CLASSIFY`'s recipe, batch :data:`BATCH`, shuffled with
    ``default_rng(seed + 1)``) and
    measure the test accuracy after every epoch; ``printed`` trains with
    :func:`printed_backward` of that variant.
    Returns ``(net, per-step losses, accuracy per epoch, seconds)``."""
    rules = None if printed is None else {0: printed_backward(printed)}
    net = network.build(cell, n_in, H, 10, seed=seed, dtype=DTYPE, config=config, backward_rules=rules,
                        readout=readout, kappa=CLASSIFY["kappa"])
    curve = []

    def test_accuracy(epoch, hist, net):
        curve.append(network.evaluate(net, Xt, yt, batch_size=500, encode=encode)[1])

    t0 = time.time()
    opt = optim.Adam(net.params, lr=CLASSIFY["lr"])
    sched = optim.CosineAnnealing(opt, T_max=epochs, lr_min=CLASSIFY["lr_min"])
    hist = training.train(net, X, y, opt, epochs, BATCH, np.random.default_rng(seed + 1), encode=encode,
                          schedule=sched, clip=CLASSIFY["clip"], progress=False, callback=test_accuracy)
    return net, hist["batch_loss"], curve, time.time() - t0


#: sequential MNIST and MNIST-1D: (result key, label, cell, authors' script or None, readout)
#: Fixed synaptic delays on the sequential-MNIST input (``encoding.delay_line``): each step
#: sees the last SMNIST_DELAY rows of Bernoulli spikes (28 x 4 = 112 input channels). The
#: tour's recipe for the spiking LSTM (a delay line of 4) carried over; every model gets the
#: same input. Measured on seed 0 with the li-max readout: spiking LSTM 85.9% -> 91.4%,
#: LSTM 92.9% -> 96.1%.
SMNIST_DELAY = 4


def smnist_encode(xb, rng):
    """The Bernoulli pixel spikes of :func:`bernoulli_encode`, then a delay line of
    :data:`SMNIST_DELAY` rows: (28, B, 28 * SMNIST_DELAY), time-major."""
    s = bernoulli_encode(xb, rng)
    return encoding.delay_line(np.ascontiguousarray(s.transpose(1, 0, 2)), SMNIST_DELAY).astype(s.dtype, copy=False)


SMNIST_MODELS = (
    ("spiking_lstm", "spiking LSTM, li-max", "spiking_lstm", None, "li-max"),
    ("spiking_lstm_last", "spiking LSTM, last step", "spiking_lstm", None, "linear"),
    ("spiking_lstm_authors", "spiking LSTM, authors' bwd", "spiking_lstm", "mnist", "linear"),
    ("lstm", "LSTM, li-max", "lstm", None, "li-max"),
    ("lstm_last", "LSTM, last step", "lstm", None, "linear"),
)


def _recipe_text():
    c = CLASSIFY
    return f"Adam {c['lr']:g} -> {c['lr_min']:g} (cosine), clip {c['clip']:g}"


def smnist(args):
    """§4.3 sequential MNIST: rows as 28 steps of Bernoulli spikes, spiking vs conventional LSTM."""
    sc, out = pick_scale(SCALES, args), out_dir(args)
    X, y, Xt, yt, source = _mnist(sc, args.data_dir, "mnist_train", "mnist_test", args.seed)
    res = {"source": source}
    for key, _, cell, script, readout in SMNIST_MODELS:
        printed = None if script is None else sl.AUTHORS_SCRIPTS[script]
        net, losses, curve, dt = _fit_classifier(cell, X, y, Xt, yt, sc["mnist_H"], sc["mnist_epochs"],
                                                 args.seed, smnist_encode, 28 * SMNIST_DELAY,
                                                 printed=printed, readout=readout)
        res[key] = {"test_acc": curve[-1], "curve": curve, "losses": losses, "seconds": dt, "readout": readout}
    s, c = res["spiking_lstm"]["test_acc"], res["lstm"]["test_acc"]
    sl_, cl = res["spiking_lstm_last"]["test_acc"], res["lstm_last"]["test_acc"]
    res["ratio"] = s / c if c else float("nan")
    res["ratio_last"] = sl_ / cl if cl else float("nan")
    p = PAPER["smnist"]
    print("Lotfi Rezaabad & Vishwanath §4.3 / Table 1: sequential MNIST (28 rows = 28 steps, "
          f"Bernoulli pixel spikes redrawn every pass, a delay line of {SMNIST_DELAY} rows for every model)")
    print(f"  data: {source}; {len(X)} train / {len(Xt)} test; hidden {sc['mnist_H']} "
          f"(paper {PAPER_SIZES['mnist_H']}); {sc['mnist_epochs']} epochs (paper 2000), batch {BATCH}, "
          f"{_recipe_text()} (paper: Adam 1e-3)")
    print(f"  readouts: li-max = learnable leaky integrator, logits = max over time (kappa {CLASSIFY['kappa']}); "
          "last step = Linear on the last step (the paper's)")
    print(f"  {'model':<34}{'test acc %':>11}{'paper %':>9}{'train s':>9}")
    paper_of = {"spiking_lstm": p["spiking_lstm"], "lstm_last": p["lstm"]}
    for key, label, *_ in SMNIST_MODELS:
        pp = f"{paper_of[key]:>9.2f}" if key in paper_of else f"{'':>9}"
        print(f"  {label:<34}{100 * res[key]['test_acc']:>11.2f}{pp}{res[key]['seconds']:>9.1f}")
    print(f"  {'ratio spiking / LSTM (li-max)':<34}{res['ratio']:>11.3f}{p['spiking_lstm'] / p['lstm']:>9.3f}")
    print(f"  {'ratio spiking / LSTM (last step)':<34}{res['ratio_last']:>11.3f}")
    print("  (authors' bwd = SpikingMNIST.py's loop: carry_no_sender_threshold + mnist_surrogates + "
          "last_step_every_step, with their last-step readout; not the gradient)")
    res["headline"] = {f"sMNIST acc % {label}": 100 * res[key]["test_acc"] for key, label, *_ in SMNIST_MODELS}
    res["headline"]["sMNIST ratio spiking/LSTM (li-max)"] = res["ratio"]
    res["headline"]["sMNIST ratio spiking/LSTM (last step)"] = res["ratio_last"]
    res["headline_paper"] = {"sMNIST acc % spiking LSTM, li-max": p["spiking_lstm"],
                             "sMNIST acc % LSTM, last step": p["lstm"],
                             "sMNIST ratio spiking/LSTM (li-max)": p["spiking_lstm"] / p["lstm"]}
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for key, lab, *_ in SMNIST_MODELS:
        r = res[key]
        axes[0].plot(smooth(r["losses"], 20), label=lab)
        axes[1].plot(np.arange(1, len(r["curve"]) + 1), 100 * np.array(r["curve"]), "o-", label=lab)
    axes[1].axhline(p["spiking_lstm"], ls="--", color="tab:blue", lw=0.8, label="paper spiking (full MNIST)")
    axes[1].axhline(p["lstm"], ls="--", color="tab:green", lw=0.8, label="paper LSTM")
    axes[0].set(xlabel="training step", ylabel="cross-entropy (smoothed)", title="Sequential MNIST: training loss")
    axes[1].set(xlabel="epoch", ylabel="test accuracy %", title="Sequential MNIST: test accuracy")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = out / "lotfi_smnist.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    res["figure"] = str(path)
    save_json(out, "lotfi_smnist", res)
    return res


# --------------------------------------------------------------------------------------
# §4.4 Character-level language model (Table 3, Table 4)
# --------------------------------------------------------------------------------------
def _char_corpus(data_dir):
    try:
        return datasets.load_text("alice", data_dir=data_dir), True
    except FileNotFoundError:
        return datasets.load_text("pydoc", data_dir=data_dir), False


def sample_text(net, corpus, prime, n, rng, temperature=0.8):
    """Generate ``n`` characters from a trained character model, one step at a time."""
    V = corpus.vocab_size
    states = None
    ids = list(corpus.encode(prime))
    out = []
    x = corpus.one_hot(np.array(ids)[:, None], dtype=net.dtype)      # (T, 1, V)
    for _ in range(n):
        logits, cache = net.forward(x, states)
        states = [c["final_state"] for c in cache["layers"]]
        z = logits[-1, 0].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        nxt = int(rng.choice(V, p=p))
        out.append(nxt)
        x = corpus.one_hot(np.array([[nxt]]), dtype=net.dtype)
    return corpus.decode(out)


def charlm(args, iters=None):
    """§4.4 character-level LM: one-hot characters, 200 units, softmax at every step; perplexity.
    ``iters`` overrides the scale's number of iterations (the longer-budget check).

    The paper's ordering is *not* reproduced here, and we say so: its spiking / conventional
    perplexity ratio is 1.29 (Alice), ours on the offline corpus (Python's documentation,
    vocabulary 73; Alice is not available offline) is 0.90 ± 0.03 (3 seeds, 400 iterations:
    spiking 12.52 ± 0.14, LSTM 13.96 ± 0.69) — the spiking LSTM is ahead. It is not only the
    short budget: at 1600 iterations (4x, 2 seeds) the ratio is still 0.89 ± 0.03 (7.72 vs
    8.68). The spiking LSTM fits the training text faster (training perplexity 4.67 vs 6.01
    at 1600 iterations) and overfits more (test / train 1.66 vs 1.44). Untested causes: the
    corpus (technical text with many repeated keywords and indentation, a different
    vocabulary from Alice's 41), the LSTM's PyTorch-style small uniform initialization
    against the spiking LSTM's He-normal one under the same Adam 1e-3, and the paper's
    unreported details (sequence length, batch). Read the ratio as "comparable", not as a
    confirmation or a refutation of Table 3.
    """
    sc, out = pick_scale(SCALES, args), out_dir(args)
    if iters is not None:
        sc["char_iters"] = int(iters)
    corpus, is_alice = _char_corpus(args.data_dir)
    L = sc["char_seq"]
    Xtr, Ytr = corpus.sequences("train", seq_len=L, stride=L // 2)
    Xte, Yte = corpus.sequences("test", seq_len=L)
    if getattr(args, "fast", False):
        Xte, Yte = Xte[:16], Yte[:16]
    V = corpus.vocab_size

    def encode(xb, rng=None):
        return corpus.one_hot(np.ascontiguousarray(xb.T), dtype=DTYPE)   # (T, B, V)

    res = {"corpus": corpus.name, "source": corpus.source, "vocab": V}
    for cell in ("spiking_lstm", "lstm"):
        net = network.build(cell, V, sc["char_H"], V, output="all", seed=args.seed, dtype=DTYPE)
        r = np.random.default_rng(args.seed + 1)

        def batches():
            for _ in range(sc["char_iters"]):
                idx = r.integers(0, len(Xtr), sc["char_batch"])
                yield encode(Xtr[idx]), np.ascontiguousarray(Ytr[idx].T)

        t0 = time.time()
        opt = optim.Adam(net.params, lr=LR)
        losses = [training.step(net, opt, xb, yb)[0] for xb, yb in batches()]
        dt = time.time() - t0
        test_loss, test_acc = network.evaluate(net, Xte, Yte, batch_size=256, encode=encode)
        res[cell] = {"test_ppl": math.exp(test_loss), "train_ppl_last": math.exp(np.mean(losses[-20:])),
                     "test_acc": test_acc, "losses": losses, "seconds": dt}
        if cell == "spiking_lstm":
            prime = corpus.decode(Xte[0][:20])
            res["prime"] = prime
            res["sample"] = sample_text(net, corpus, prime, 200 if not args.fast else 30,
                                        np.random.default_rng(args.seed + 2))
    p = PAPER["charlm"]
    s, c = res["spiking_lstm"]["test_ppl"], res["lstm"]["test_ppl"]
    res["ratio"] = s / c
    res["headline"] = {"char-LM test ppl spiking LSTM": s, "char-LM test ppl LSTM": c,
                       "char-LM ratio spiking/LSTM": s / c,
                       "char-LM train ppl (last 20 it.) spiking LSTM": res["spiking_lstm"]["train_ppl_last"],
                       "char-LM train ppl (last 20 it.) LSTM": res["lstm"]["train_ppl_last"]}
    res["headline_paper"] = {"char-LM test ppl spiking LSTM": p["alice"]["spiking_lstm"],
                             "char-LM test ppl LSTM": p["alice"]["lstm"],
                             "char-LM ratio spiking/LSTM": p["alice"]["spiking_lstm"] / p["alice"]["lstm"]}
    print("Lotfi Rezaabad & Vishwanath §4.4 / Table 3: character-level language model "
          "(one-hot input, softmax at every step)")
    print(f"  corpus: {corpus.name} ({corpus.source}), vocabulary {V}, {len(corpus.train)} train / "
          f"{len(corpus.test)} test characters (paper split); "
          + ("" if is_alice else "Alice not fetched (python data_scripts/fetch.py alice): offline corpus; "))
    print(f"  hidden {sc['char_H']} (paper 200), {sc['char_iters']} iterations (paper 1000) of batch "
          f"{sc['char_batch']} x {L} characters, Adam {LR}")
    print(f"  {'model':<16}{'test ppl':>10}{'paper Alice':>13}{'paper WT-2':>12}{'train s':>9}")
    print(f"  {'spiking LSTM':<16}{s:>10.2f}{p['alice']['spiking_lstm']:>13.2f}"
          f"{p['wikitext-2']['spiking_lstm']:>12.2f}{res['spiking_lstm']['seconds']:>9.1f}")
    print(f"  {'LSTM':<16}{c:>10.2f}{p['alice']['lstm']:>13.2f}{p['wikitext-2']['lstm']:>12.2f}"
          f"{res['lstm']['seconds']:>9.1f}")
    print(f"  {'ratio spk/conv':<16}{s / c:>10.3f}{p['alice']['spiking_lstm'] / p['alice']['lstm']:>13.3f}"
          f"{p['wikitext-2']['spiking_lstm'] / p['wikitext-2']['lstm']:>12.3f}")
    print(f"  (uniform guessing: perplexity {V})")
    print(f"  sample from the spiking LSTM (temperature 0.8), primed with {res['prime']!r}:")
    print("    " + repr(res["sample"]))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for cell, lab in (("spiking_lstm", "spiking LSTM"), ("lstm", "LSTM")):
        ax.plot(np.exp(smooth(res[cell]["losses"], 25)), label=f"{lab} (test ppl {res[cell]['test_ppl']:.2f})")
    ax.axhline(p["alice"]["spiking_lstm"], ls="--", color="tab:blue", lw=0.8, label="paper spiking (Alice)")
    ax.axhline(p["alice"]["lstm"], ls="--", color="tab:orange", lw=0.8, label="paper LSTM (Alice)")
    ax.set(xlabel="iteration", ylabel="training perplexity (smoothed)", yscale="log",
           title=f"Character-level LM on {corpus.name}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "lotfi_charlm.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    res["figure"] = str(path)
    save_json(out, "lotfi_charlm", res)
    return res


# --------------------------------------------------------------------------------------
# Appendix B: surrogate widths (Figure 6)
# --------------------------------------------------------------------------------------
def surrogate_sweep(args):
    """Appendix B / Figure 6: convergence on sequential MNIST for several (a1, a2)."""
    sc, out = pick_scale(SCALES, args), out_dir(args)
    X, y, Xt, yt, source = _mnist(sc, args.data_dir, "sweep_train", "sweep_test", args.seed)
    res = {"source": source, "runs": []}
    for a1, a2 in SWEEP_PAIRS:
        net = network.build("spiking_lstm", 28, sc["sweep_H"], 10, seed=args.seed, dtype=DTYPE,
                            config={"a1": a1, "a2": a2})
        t0 = time.time()
        losses = training.train(net, X, y, optim.Adam(net.params, lr=LR), sc["sweep_epochs"], BATCH,
                                np.random.default_rng(args.seed + 1), encode=bernoulli_encode,
                                progress=False)["batch_loss"]
        acc = network.evaluate(net, Xt, yt, batch_size=500, encode=bernoulli_encode)[1]
        res["runs"].append({"a1": a1, "a2": a2, "losses": losses, "test_acc": acc,
                            "final_loss": float(np.mean(losses[-10:])), "seconds": time.time() - t0})
    print("Lotfi Rezaabad & Vishwanath Appendix B / Figure 6: surrogate widths (a1 for f, i, o; "
          "a2 for g), sequential MNIST")
    print(f"  data: {source}; {len(X)} train / {len(Xt)} test; hidden {sc['sweep_H']}; "
          f"{sc['sweep_epochs']} epoch(s) of batch {BATCH}; paper: {PAPER['sweep']}")
    print(f"  {'a1':>5}{'a2':>6}  {'final train loss':>17}{'test acc %':>11}  note")
    for r in res["runs"]:
        note = {(4.0, 0.3): "the paper's choice", (0.3, 4.0): "a1 of the authors' MNIST script (its g/unit state: 1.826 G_1)"}.get(
            (r["a1"], r["a2"]), "")
        print(f"  {r['a1']:>5.1f}{r['a2']:>6.1f}  {r['final_loss']:>17.4f}{100 * r['test_acc']:>11.2f}  {note}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for r in res["runs"]:
        lw = 2.2 if (r["a1"], r["a2"]) == (4.0, 0.3) else 1.1
        ax.plot(smooth(r["losses"], 10), lw=lw, label=f"a1={r['a1']:g}, a2={r['a2']:g} "
                                                       f"({100 * r['test_acc']:.1f}%)")
    ax.set(xlabel="training step", ylabel="cross-entropy (smoothed)",
           title="Convergence for several surrogate widths (Figure 6)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "lotfi_surrogate_sweep.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    res["figure"] = str(path)
    save_json(out, "lotfi_surrogate_sweep", res)
    return res


# --------------------------------------------------------------------------------------
# MNIST-1D (the embedded default data set)
# --------------------------------------------------------------------------------------
def thermometer_levels(X, K=16):
    """K thresholds at the (k + 1/2)/K quantiles of the training values."""
    return np.quantile(X, (np.arange(K) + 0.5) / K).astype(DTYPE)


def thermometer(xb, levels):
    """(B, T) real values -> (T, B, K) spikes: channel k fires while x_t > levels[k].

    A deterministic level-crossing (thermometer) code, so that the spiking LSTM receives
    spikes, as in every experiment of the paper. It is a choice, not a necessity: one
    real-valued input channel does not leave the cell silent (measured at initialization on
    1,000 MNIST-1D training sequences, H = 64, He-normal weights: 10.8%, 7.8% and 11.6% of
    the outputs spike for seeds 0, 1, 2; the thermometer code: 9.5%, 9.6%, 10.7%), and
    :func:`mnist1d` trains that variant too (``spiking_lstm_real``). Measured (3 seeds, the
    li-max readout, :data:`CLASSIFY`): one real channel 53.1 ± 5.4 %, the thermometer code
    45.6 ± 2.1 % — the code costs accuracy here; it stays the main variant because it keeps
    the paper's spikes-in setting.
    """
    return np.ascontiguousarray((xb.T[:, :, None] > levels).astype(DTYPE))


def real_channel(xb, rng=None):
    """(B, T) real values -> (T, B, 1): the value itself as one input channel."""
    return np.ascontiguousarray(xb.T[:, :, None], dtype=DTYPE)


def firing_rate(net, X, encode, n=500):
    """Fraction of the first layer's outputs that are non-zero on ``X[:n]`` (eval mode)."""
    y, _ = net.layers[0].forward(encode(X[:n], None))
    return float(np.mean(y != 0))


#: MNIST-1D models: (result key, label, cell, input ("thermometer" / "real"), readout)
M1D_MODELS = (
    ("spiking_lstm", "spiking LSTM, li-max", "spiking_lstm", "thermometer", "li-max"),
    ("spiking_lstm_last", "spiking LSTM, last step", "spiking_lstm", "thermometer", "linear"),
    ("spiking_lstm_real", "spiking LSTM, li-max, 1 real ch.", "spiking_lstm", "real", "li-max"),
    ("lstm", "LSTM, li-max", "lstm", "thermometer", "li-max"),
    ("lstm_last", "LSTM, last step", "lstm", "thermometer", "linear"),
)


def mnist1d(args):
    """MNIST-1D (40 steps, thermometer-coded into 16 spike channels): spiking vs conventional LSTM."""
    sc, out = pick_scale(SCALES, args), out_dir(args)
    d = datasets.mnist1d(data_dir=args.data_dir)
    X, y = d["x_train"][:sc["m1d_train"]], d["y_train"][:sc["m1d_train"]]
    Xt, yt = d["x_test"][:sc["m1d_test"]], d["y_test"][:sc["m1d_test"]]
    levels = thermometer_levels(X, M1D_LEVELS)

    def encode(xb, rng=None):
        return thermometer(xb, levels)

    coders = {"thermometer": (encode, M1D_LEVELS), "real": (real_channel, 1)}
    res = {"source": d["source"]}
    for key, _, cell, coding, readout in M1D_MODELS:
        enc, n_in = coders[coding]
        net, losses, curve, dt = _fit_classifier(cell, X, y, Xt, yt, sc["m1d_H"], sc["m1d_epochs"],
                                                 args.seed, enc, n_in, readout=readout)
        res[key] = {"test_acc": curve[-1], "curve": curve, "losses": losses, "seconds": dt,
                    "readout": readout, "input": coding}
        if cell == "spiking_lstm":
            init = network.build(cell, n_in, sc["m1d_H"], 10, seed=args.seed, dtype=DTYPE)
            res[key]["firing_rate_init"] = firing_rate(init, Xt, enc)
            res[key]["firing_rate"] = firing_rate(net, Xt, enc)
    s, c = res["spiking_lstm"]["test_acc"], res["lstm"]["test_acc"]
    res["ratio"] = s / c if c else float("nan")
    print(f"MNIST-1D (Greydanus 2020; 40 steps, the value thermometer-coded into {M1D_LEVELS} spike channels "
          "unless '1 real ch.')")
    print(f"  data: {d['source']}; {len(X)} train / {len(Xt)} test; hidden {sc['m1d_H']}; "
          f"{sc['m1d_epochs']} epochs, batch {BATCH}, {_recipe_text()}; li-max = leaky-integrator readout, "
          "max over time; last step = Linear on the last step")
    print(f"  {'model':<34}{'test acc %':>11}{'rate init':>10}{'rate end':>9}{'train s':>9}")
    for key, label, *_ in M1D_MODELS:
        r = res[key]
        rates = (f"{r['firing_rate_init']:>10.3f}{r['firing_rate']:>9.3f}" if "firing_rate" in r
                 else f"{'':>10}{'':>9}")
        print(f"  {label:<34}{100 * r['test_acc']:>11.2f}{rates}{r['seconds']:>9.1f}")
    print(f"  {'ratio spk/conv (li-max)':<34}{res['ratio']:>11.3f}")
    print("  reference (MNIST-1D paper, 4000/1000 split): logistic ~32%, MLP ~68%, GRU ~91%, CNN ~94%")
    res["headline"] = {f"MNIST-1D acc % {label}": 100 * res[key]["test_acc"] for key, label, *_ in M1D_MODELS}
    res["headline"]["MNIST-1D ratio spiking/LSTM (li-max)"] = res["ratio"]
    for key, label, *_ in M1D_MODELS:
        if "firing_rate" in res[key]:
            res["headline"][f"MNIST-1D firing rate at init, {label}"] = res[key]["firing_rate_init"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key, lab, *_ in M1D_MODELS:
        ax.plot(np.arange(1, len(res[key]["curve"]) + 1), 100 * np.array(res[key]["curve"]), "o-", label=lab)
    ax.set(xlabel="epoch", ylabel="test accuracy %", title="MNIST-1D")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "lotfi_mnist1d.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    res["figure"] = str(path)
    save_json(out, "lotfi_mnist1d", res)
    return res


# --------------------------------------------------------------------------------------
# How far back does the gradient reach? (a diagnostic for chapter 5)
# --------------------------------------------------------------------------------------
def gradient_reach(configs, data_dir=None, H=128, B=64, seed=0):
    """How much of a last-step loss's gradient reaches each row of sequential MNIST.

    At initialization, float64, one batch of ``B`` Bernoulli-coded images: the norm of the
    input gradient ``|dL/dx_t|`` (= ``|du_t W_x^T|``, the signal every weight gradient of
    step t is made of) for t = 0..27, divided by its value at the last step.
    ``configs``: {label: (cell name, config dict)}. Returns {label: array (28,)}.
    """
    from ..layers import softmax_cross_entropy
    d = datasets.load_mnist("mnist", data_dir=data_dir)
    X = datasets.sequential_view(d["x_train"][:B])
    y = d["y_train"][:B]
    out = {}
    for label, (cell, config) in configs.items():
        rng = np.random.default_rng(seed)
        net = network.build(cell, 28, H, 10, seed=seed, dtype=np.float64, config=config)
        xb = encoding.bernoulli_sequence(X, rng, dtype=np.float64)
        logits, cache = net.forward(xb)
        _, dlogits = softmax_cross_entropy(logits, y)
        dx, _ = net.backward(dlogits, cache)
        norms = np.array([np.linalg.norm(dx[t]) for t in range(dx.shape[0])])
        out[label] = norms / norms[-1]
    return out


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
def step_time(B=64, T=28, H=256, n_in=28, repeats=10, cell="spiking_lstm", seed=0):
    """Seconds per training step (forward + backward + Adam), float32, median of ``repeats``."""
    net = network.build(cell, n_in, H, 10, seed=seed, dtype=DTYPE)
    opt = optim.Adam(net.params, lr=LR)
    rng = np.random.default_rng(seed)
    x = (rng.random((T, B, n_in)) < 0.3).astype(DTYPE)
    y = rng.integers(0, 10, B)
    times = []
    for _ in range(repeats + 2):
        t0 = time.perf_counter()
        training.step(net, opt, x, y)
        times.append(time.perf_counter() - t0)
    assert all(p.dtype == DTYPE for p in net.params.values())  # float32 throughout
    return float(np.median(times[2:])), float(np.min(times[2:]))


EXPERIMENTS = {
    "lotfi-sinusoid": sinusoid,
    "lotfi-smnist": smnist,
    "lotfi-charlm": charlm,
    "lotfi-surrogate-sweep": surrogate_sweep,
    "lotfi-mnist1d": mnist1d,
}
