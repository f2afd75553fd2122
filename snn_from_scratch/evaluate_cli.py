"""``python -m snn_from_scratch evaluate --checkpoint PATH [--dataset NAME|PATH.npz] [--out DIR]``.

Loads a checkpoint written by ``train --save`` (or by :func:`~snn_from_scratch.checkpoint.save_checkpoint`)
and reports, on the test set:

* the test accuracy (and loss), as ``train`` computes it (:func:`network.evaluate`'s rule);
* the firing rate of every spiking layer (the cells :func:`recipes.is_spiking` names): the
  fraction of its outputs (over steps, sequences and units) that are non-zero — a spike,
  or a non-zero multi-bit level — and the fraction of its units that never fired on the
  test set ("dead": they pass no gradient through their surrogate);
* a confusion-matrix figure (true class by row, predicted by column), written to
  ``DIR/confusion_<checkpoint>.png``, and the numbers in ``DIR/evaluate_<checkpoint>.json``;
  both paths are printed.

Data: ``--dataset mnist1d``, ``mnist`` or a ``.npz`` of the user's own sequences (the
format of ``train --dataset PATH.npz``: ``x`` (N, T, n_in), ``y`` (N,), optional
``x_test``/``y_test``); the test split is the one ``train`` uses, encoded as the network
saw it (the recipe's encoding recorded in the checkpoint). Without ``--dataset``, the data
set recorded in the checkpoint by ``train`` is used.

Every expected failure (no such checkpoint, a file that is not a checkpoint, missing data,
data that does not fit the network) ends in one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import zipfile

import numpy as np

from . import checkpoint, network, recipes
from .runtime import add_threads_option, fast_mode, set_threads

class EvaluateError(Exception):
    """An expected failure, reported in one line (no traceback)."""


def parser():
    p = argparse.ArgumentParser(
        prog="python -m snn_from_scratch evaluate",
        description="Test accuracy, firing rates and a confusion matrix of a saved network.")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint (.npz) from `train --save`")
    p.add_argument("--dataset", default=None, metavar="NAME|PATH.npz",
                   help="mnist1d, mnist, or a .npz with x (N, T, n_in) and y (N,) "
                        "(default: the data set the checkpoint was trained on)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the figure and the JSON (default runs/evaluate, runs/fast/evaluate with --fast)")
    p.add_argument("--data-dir", default=None, help="data folder (default: the one recorded in the "
                                                    "checkpoint, else $SNN_DATA_DIR, else the per-user cache)")
    p.add_argument("--encoding", default=None, metavar="raw|delay:D|thermometer:K",
                   help="input coding (default: the one recorded by `train`, else raw)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--fast", action="store_true", default=fast_mode(),
                   help="the first 300 test samples of mnist1d/mnist (default when SNN_FAST=1)")
    add_threads_option(p)
    return p


# --------------------------------------------------------------------------------------
# Loading: the checkpoint and the test data, with one-line errors
# --------------------------------------------------------------------------------------
def load_network(path):
    """``(net, extra)`` from the checkpoint at ``path``; :class:`EvaluateError` when there is
    no such file or it is not a readable checkpoint."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise EvaluateError(f"no checkpoint at {path}")
    try:
        return checkpoint.load_checkpoint(p)
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, IndexError, ValueError, TypeError) as e:
        # np.load of a truncated or foreign file fails with any of these; a file that is
        # no .npz at all is taken by np.load for a pickle, which it refuses.
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "pickle" in why:
            why = "not an .npz archive"
        raise EvaluateError(f"{path} is not a readable snn_from_scratch checkpoint ({why})") from None


def load_test_data(dataset, extra, data_dir=None, fast=False, encoding=None):
    """``(X_test, y_test, description)``: the test split of ``dataset`` as ``train`` makes it
    (:func:`snn_from_scratch.train_cli.load_data`: for a ``.npz`` without ``x_test``, the
    same seeded split as at training time), encoded as the network saw its data.

    The encoding is ``encoding`` if given, else the one of the recipe ``train`` recorded in
    the checkpoint (``extra["recipe"]["encoding"]``), else ``"raw"``. A thermometer code's
    levels are quantiles of the training split, recomputed here from the same samples.
    """
    from .train_cli import FAST_SIZES, load_data

    targs = extra.get("args") or {}
    try:
        Xtr, _, Xte, yte, desc = load_data(dataset, data_dir, False, int(targs.get("seed", 0) or 0))
        spec = encoding or (extra.get("recipe") or {}).get("encoding") or "raw"
        if targs.get("fast"):  # the training run saw only the first samples: same levels
            Xtr = Xtr[:FAST_SIZES[0]]
        if fast:
            Xte, yte = Xte[:FAST_SIZES[1]], yte[:FAST_SIZES[1]]
        enc, _ = recipes.encoder(spec, Xtr)
        Xte = enc(Xte)
    except (FileNotFoundError, OSError, ValueError) as e:
        raise EvaluateError(f"cannot load {dataset}: {str(e).splitlines()[0]}") from None
    return Xte, yte, f"{desc}, test split, {spec} encoding"


def dataset_of(args, extra):
    """The data set to evaluate on: ``--dataset``, else the one ``train`` recorded."""
    if args.dataset:
        return args.dataset
    recorded = (extra.get("args") or {}).get("dataset") if isinstance(extra, dict) else None
    if not recorded:
        raise EvaluateError(f"{args.checkpoint} records no data set: pass --dataset mnist1d|mnist|PATH.npz")
    return recorded


# --------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------
def evaluate(net, X, y, batch_size=256):
    """One pass over (X, y) in evaluation mode: a dict with ``accuracy``, ``predictions``
    (the class of the last output step), ``confusion`` (n_classes x n_classes counts, true
    by row) and ``layers`` (per layer: cell, non-zero fraction, fraction of dead units).

    Each layer's output is recorded on the way by wrapping its ``forward`` for the duration
    of the pass (the network itself runs unchanged; the wrappers are removed afterwards).
    """
    network.check_data(X, y)
    if net.loss_name != "cross_entropy":
        raise EvaluateError(f"this network is trained with the {net.loss_name!r} loss: evaluate "
                            "measures classifiers (cross-entropy)")
    n_in = net.layers[0].n_in
    if X.ndim != 3 or X.shape[2] != n_in:
        raise EvaluateError(f"the data has {X.shape[2] if X.ndim == 3 else '?'} inputs per step "
                            f"(shape {X.shape}) but the network expects {n_in}: not the data set "
                            "(or --encoding) it was trained on")
    encode = network.default_encode(net)
    H = len(net.layers)
    nonzero = np.zeros(H)
    count = np.zeros(H)
    fired = [np.zeros(c.n_hidden, bool) for c in net.layers]
    seen = []

    def recording(i, forward):
        def wrapped(x, state=None, **kw):
            out, cache = forward(x, state, **kw)
            nonzero[i] += np.count_nonzero(out)
            count[i] += out.size
            fired[i] |= np.any(out != 0, axis=(0, 1))
            return out, cache
        return wrapped

    was = [c.training for c in net.layers]
    net.eval()
    for i, c in enumerate(net.layers):
        c.forward = recording(i, c.forward)
        seen.append(c)
    correct = 0.0
    preds = []
    n_out = 0
    try:
        for s in range(0, len(X), batch_size):
            xb, yb = X[s:s + batch_size], y[s:s + batch_size]
            out, _ = net.forward(encode(xb))
            correct += network.accuracy(out, network.batch_target(net, yb)) * len(xb)
            preds.append(np.argmax(out[-1] if out.ndim == 3 else out, axis=-1))
            n_out = out.shape[-1]
    finally:
        for c, w in zip(seen, was):
            del c.forward          # the class's forward again
            c.training = w
    pred = np.concatenate(preds)
    n_classes = max(int(y.max()) + 1, n_out)
    confusion = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(confusion, (y, pred), 1)
    layers = [{"layer": i, "cell": c.name, "spiking": recipes.is_spiking(c.name),
               "nonzero_fraction": float(nonzero[i] / max(count[i], 1)),
               "dead_fraction": float(1.0 - fired[i].mean())} for i, c in enumerate(net.layers)]
    return {"accuracy": correct / len(X), "n": int(len(X)), "predictions": pred,
            "confusion": confusion, "layers": layers}


def confusion_figure(confusion, title, path):
    """Draw the confusion matrix (row-normalised colours, counts written) and save it."""
    import matplotlib.pyplot as plt

    from . import plot

    n = confusion.shape[0]
    rows = confusion.sum(axis=1, keepdims=True)
    frac = confusion / np.maximum(rows, 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if confusion[i, j]:
                    ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    return plot.save(fig, path)


# --------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------
def run(args, out=None):
    """Evaluate as the command line describes; returns the results dict (also in the JSON)."""
    out = sys.stdout if out is None else out
    net, extra = load_network(args.checkpoint)
    extra = extra if isinstance(extra, dict) else {}
    dataset = dataset_of(args, extra)
    data_dir = args.data_dir or (extra.get("args") or {}).get("data_dir")
    X, y, desc = load_test_data(dataset, extra, data_dir, args.fast, args.encoding)
    network.check_count("--batch-size", args.batch_size)
    desc_model = " + ".join(f"{c.name}({c.n_hidden})" for c in net.layers)
    print(f"checkpoint: {args.checkpoint}: {desc_model}, {net.readout.describe()['kind']} readout, "
          f"{net.n_params()} parameters, {net.dtype}", file=out)
    print(f"data      : {desc}: {len(X)} sequences", file=out)
    res = evaluate(net, X, y, batch_size=args.batch_size)
    print(f"test accuracy: {res['accuracy']:.4f} ({res['n']} sequences)"
          + (f"; at training time: {extra['test_acc']:.4f}" if isinstance(extra.get("test_acc"), float) else ""),
          file=out)
    for L in res["layers"]:
        if L["spiking"]:
            print(f"layer {L['layer']} ({L['cell']}): firing rate {L['nonzero_fraction']:.4f} "
                  f"(non-zero outputs / all outputs), {L['dead_fraction']:.1%} of units never fired",
                  file=out)
        else:
            print(f"layer {L['layer']} ({L['cell']}): not a spiking layer (continuous outputs)", file=out)
    folder = pathlib.Path(args.out) if args.out else pathlib.Path("runs") / ("fast" if args.fast else "") / "evaluate"
    stem = pathlib.Path(args.checkpoint).stem
    fig = confusion_figure(res["confusion"], f"{stem}: test accuracy {res['accuracy']:.3f} ({len(X)} sequences)", folder / f"confusion_{stem}.png")
    summary = {"checkpoint": str(args.checkpoint), "dataset": str(dataset), "accuracy": res["accuracy"],
               "n": res["n"], "layers": res["layers"], "confusion": res["confusion"].tolist()}
    js = folder / f"evaluate_{stem}.json"
    js.write_text(json.dumps(summary, indent=1))
    print(f"figure written to {fig}", file=out)
    print(f"results written to {js}", file=out)
    res.update(figure=fig, json=str(js))
    return res


def main(argv):
    args = parser().parse_args(argv)
    try:
        set_threads(args.threads, stream=sys.stdout)
        run(args)
    except EvaluateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
