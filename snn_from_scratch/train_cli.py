"""``python -m snn_from_scratch train --cell NAME --dataset mnist1d [options]``.

Builds a stack of ``--layers`` cells of one type with ``--hidden`` units, a Linear (or
leaky-integrator) readout and the softmax cross-entropy, trains it with Adam and prints
the test accuracy. Data:

``mnist1d``
    MNIST-1D (Greydanus 2020, generated offline): each sample of 40 values is fed as
    T = 40 time steps of one input.
``mnist``
    sequential MNIST (Lotfi Rezaabad & Vishwanath §4.3): one 28-pixel row per step,
    T = 28 steps of 28 inputs (the full set when fetched, else the offline 5k subset).

Cell options go through ``--config key=value``, once per option (the rule every command
shares, :func:`snn_from_scratch.runtime.parse_config`): values are read as JSON or Python
literals when they parse (numbers, booleans, lists, dicts), as strings otherwise, and
unknown keys are refused by the cell with the list of valid ones.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import cells, checkpoint, datasets, network, optim, training
from .cells.base import check_real
from .runtime import add_config_option, add_threads_option, fast_mode, parse_config, set_threads


def load_data(name, data_dir=None, fast=False, seed=0):
    """(X_train, y_train, X_test, y_test, description) sample-major, float32.

    ``fast`` keeps 600 training and 300 test samples (a smoke test, not a result).
    """
    if name == "mnist1d":
        d = datasets.mnist1d(data_dir=data_dir)
        Xtr, Xte = d["x_train"][:, :, None], d["x_test"][:, :, None]  # (N, 40, 1): 40 steps
        desc = "MNIST-1D (40 steps x 1 input)"
    elif name == "mnist":
        d = datasets.load_mnist("mnist", data_dir=data_dir)
        Xtr, Xte = datasets.sequential_view(d["x_train"]), datasets.sequential_view(d["x_test"])
        desc = f"sequential MNIST (28 steps x 28 inputs; {d['source']})"
    else:
        raise ValueError(f"unknown dataset {name!r}; choose mnist1d or mnist")
    ytr, yte = d["y_train"].astype(np.int64), d["y_test"].astype(np.int64)
    if fast:
        Xtr, ytr, Xte, yte = Xtr[:600], ytr[:600], Xte[:300], yte[:300]
    return (np.ascontiguousarray(Xtr, np.float32), ytr, np.ascontiguousarray(Xte, np.float32), yte,
            desc)


def parser():
    p = argparse.ArgumentParser(
        prog="python -m snn_from_scratch train",
        description="Train and evaluate a stack of one cell type (Adam, softmax cross-entropy).")
    p.add_argument("--cell", required=True, help=f"cell name: {', '.join(cells.REGISTRY)}")
    p.add_argument("--dataset", default="mnist1d", choices=["mnist1d", "mnist"])
    p.add_argument("--hidden", type=int, default=64, help="units per layer (default 64)")
    p.add_argument("--layers", type=int, default=1, help="number of stacked cells (default 1)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 10; 1 with --fast)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--clip", type=float, default=None, help="clip gradients to this global norm")
    p.add_argument("--cosine", action="store_true", help="cosine-anneal the learning rate to 0")
    p.add_argument("--readout", default="linear", choices=sorted(network.READOUTS),
                   help="; ".join(f"{k}: {v}" for k, v in network.READOUTS.items())
                   + " (leaky needs --hidden = 10 x classes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    add_config_option(p)
    add_threads_option(p)
    p.add_argument("--save", default=None, metavar="PATH", help="write a checkpoint (.npz)")
    p.add_argument("--data-dir", default=None, help="data folder (default $SNN_DATA_DIR or ./data)")
    p.add_argument("--fast", action="store_true", default=fast_mode(),
                   help="600 samples, 1 epoch: a smoke test (default when SNN_FAST=1)")
    p.add_argument("--quiet", action="store_true", help="no live progress line")
    return p


def run(args, out=None):
    """Train as the command line describes; returns a dict of results."""
    out = sys.stdout if out is None else out
    config = parse_config(args.config)
    cells.cell_class(args.cell)  # unknown / unimplemented cell: ValueError with the choices
    for nm in ("hidden", "layers", "batch_size"):
        network.check_count(f"--{nm.replace('_', '-')}", getattr(args, nm))
    check_real("--lr", args.lr, low=0, low_open=True)
    if args.clip is not None:
        check_real("--clip", args.clip, low=0, low_open=True)
    epochs = args.epochs if args.epochs is not None else (1 if args.fast else 10)
    network.check_count("--epochs", epochs, low=0)
    dtype = np.dtype(args.dtype)
    Xtr, ytr, Xte, yte, desc = load_data(args.dataset, args.data_dir, args.fast, args.seed)
    n_classes = int(max(ytr.max(), yte.max())) + 1
    net = network.build(args.cell, Xtr.shape[2], args.hidden, n_classes, n_layers=args.layers,
                        readout=args.readout, seed=args.seed, dtype=dtype, config=config)
    Xtr, Xte = Xtr.astype(dtype, copy=False), Xte.astype(dtype, copy=False)
    opt = optim.Adam(net.params, lr=args.lr)
    sched = optim.CosineAnnealing(opt, max(epochs, 1)) if args.cosine else None
    print(f"data    : {desc}: {len(Xtr)} train / {len(Xte)} test, {n_classes} classes", file=out)
    print(f"model   : {args.layers} x {args.cell}({args.hidden}) + {args.readout} readout, "
          f"{net.n_params()} parameters, {dtype}", file=out)
    print(f"config  : {net.layers[0].config}", file=out)
    print(f"training: Adam lr={args.lr}, batch {args.batch_size}, {epochs} epoch(s), seed {args.seed}"
          + (f", clip {args.clip}" if args.clip else "") + (", cosine schedule" if sched else ""), file=out)
    out.flush()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    hist = training.train(net, Xtr, ytr, opt, epochs, args.batch_size, rng, X_val=Xte, y_val=yte,
                         schedule=sched, clip=args.clip, progress=not args.quiet)
    train_time = time.time() - t0
    test_loss, test_acc = network.evaluate(net, Xte, yte, batch_size=256)
    print(f"test accuracy: {test_acc:.4f}  (test loss {test_loss:.4f}; {train_time:.1f} s training, "
          f"{train_time / max(epochs, 1):.1f} s/epoch)", file=out)
    result = {"cell": args.cell, "dataset": args.dataset, "test_acc": test_acc, "test_loss": test_loss,
              "train_time": train_time, "epochs": epochs, "n_params": net.n_params(), "history": hist}
    if args.save:
        checkpoint.save_checkpoint(args.save, net, opt, schedule=sched,
                                   extra={"command": "train", "args": vars(args), "test_acc": test_acc,
                                          "history": hist})
        print(f"checkpoint written to {args.save}", file=out)
    return result


def main(argv):
    args = parser().parse_args(argv)
    try:
        set_threads(args.threads, stream=sys.stdout)
        run(args)
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
