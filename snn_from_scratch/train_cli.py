"""``python -m snn_from_scratch train --cell NAME [--dataset mnist1d|mnist|PATH.npz] [options]``.

Trains a stack of ``--layers`` cells of one type with a readout and the softmax
cross-entropy (Adam), and prints the test accuracy. **Every option defaults to the cell's
recipe** (:mod:`snn_from_scratch.recipes`), the same table and the same training function
as the tour: the same cell gives the same accuracy from both. ``--help`` prints every
cell's recipe and config keys. Data:

``mnist1d``
    MNIST-1D (Greydanus 2020, generated offline): each sample of 40 values is fed as
    T = 40 time steps of one input.
``mnist``
    sequential MNIST (Lotfi Rezaabad & Vishwanath §4.3): one 28-pixel row per step,
    T = 28 steps of 28 inputs (the full set when fetched, else the offline 5k subset).
``PATH.npz``
    your own sequences (:func:`load_npz`): ``x`` (N, T, n_in) real values (a (N, T) array
    is read as one input per step), ``y`` (N,) integer labels 0..C-1, and optionally
    ``x_test`` / ``y_test`` (else a seeded 80/20 split of ``x``). Sample-major like every
    data set on disk; the training loop makes each batch time-major. Write one with
    ``np.savez("mine.npz", x=x, y=y)``.

Cell options go through ``--config key=value``, once per option (the rule every command
shares, :func:`snn_from_scratch.runtime.parse_config`): values are read as JSON or Python
literals when they parse (numbers, booleans, lists, dicts), as strings otherwise; they
override the recipe's config key by key (``--no-recipe`` starts from the cell's own
defaults), and unknown keys are refused by the cell with the list of valid ones.

``--save PATH`` is checked before training (a folder, or a folder that cannot be written,
is refused at once); if writing fails anyway after training, the model goes to a fallback
file (``./snn_checkpoint-<time>.npz``, else the temporary folder) and the command says
where. Expected failures end with a one-line ``error: ...`` and exit status 2 (1 when
training itself fails, e.g. a diverging loss), never a traceback.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time
import zipfile

import numpy as np

from . import cells, checkpoint, datasets, network, recipes
from .cells.base import check_real
from .runtime import add_config_option, add_threads_option, fast_mode, parse_config, set_threads

BUILTIN = ("mnist1d", "mnist")
FAST_SIZES = (600, 300)  # --fast: training / test samples kept
TEST_FRACTION = 0.2      # of a user's data set without x_test


def load_data(name, data_dir=None, fast=False, seed=0):
    """(X_train, y_train, X_test, y_test, description) sample-major, float32.

    ``name``: ``"mnist1d"``, ``"mnist"`` or the path of a ``.npz`` file (:func:`load_npz`).
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
    elif str(name).endswith(".npz") or os.path.sep in str(name) or os.path.exists(str(name)):
        d = load_npz(name, seed=seed)
        Xtr, Xte = d["x_train"], d["x_test"]
        desc = d["source"]
    else:
        raise ValueError(f"unknown dataset {name!r}; choose mnist1d, mnist or the path of a .npz file")
    ytr, yte = d["y_train"].astype(np.int64), d["y_test"].astype(np.int64)
    if fast:
        Xtr, ytr, Xte, yte = Xtr[:FAST_SIZES[0]], ytr[:FAST_SIZES[0]], Xte[:FAST_SIZES[1]], yte[:FAST_SIZES[1]]
    return (np.ascontiguousarray(Xtr, np.float32), ytr, np.ascontiguousarray(Xte, np.float32), yte,
            desc)


def load_npz(path, seed=0):
    """A user's data set: ``x`` (N, T, n_in), ``y`` (N,) labels, optional ``x_test``/``y_test``.

    Without a test set, a seeded permutation keeps 20% of the samples for testing. Every
    problem — missing file or key, wrong rank, non-finite values, labels that are not
    integers >= 0, lengths that differ — is a ``ValueError`` (``FileNotFoundError`` for a
    missing file) of one line naming the array. Returns a dict like :mod:`datasets`'.
    """
    p = pathlib.Path(path)
    where = f"--dataset {path}"
    if not p.is_file():
        raise FileNotFoundError(f"{where}: no such file")
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise ValueError(f"{where}: a single array (.npy), not a .npz archive; write one with "
                         "np.savez(path, x=x, y=y)")
    if magic[:4] != b"PK\x03\x04":
        raise ValueError(f"{where}: not a .npz archive (np.savez(path, x=x, y=y) writes one)")
    try:
        z = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{where}: not a readable .npz file ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    with z:
        keys = set(z.files)
        missing = {"x", "y"} - keys
        if missing:
            raise ValueError(f"{where}: missing array(s) {sorted(missing)}; found {sorted(keys)} "
                             "(expected x (N, T, n_in), y (N,), optional x_test, y_test)")
        if ("x_test" in keys) != ("y_test" in keys):
            raise ValueError(f"{where}: give both x_test and y_test, or neither")
        try:
            arrays = {k: z[k] for k in ("x", "y", "x_test", "y_test") if k in keys}
        except ValueError as e:  # object arrays need pickle, which we refuse
            raise ValueError(f"{where}: cannot read the arrays without pickle ({e}); store numbers only") from None
    x, y = _check_x(where, "x", arrays["x"]), _check_y(where, "y", arrays["y"])
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} samples but y has {len(y)}")
    if "x_test" in arrays:
        xt, yt = _check_x(where, "x_test", arrays["x_test"]), _check_y(where, "y_test", arrays["y_test"])
        if len(xt) != len(yt):
            raise ValueError(f"{where}: x_test has {len(xt)} samples but y_test has {len(yt)}")
        if xt.shape[2] != x.shape[2]:
            raise ValueError(f"{where}: x_test has {xt.shape[2]} inputs per step but x has {x.shape[2]}")
        split = "its own test set"
    else:
        if len(x) < 2:
            raise ValueError(f"{where}: {len(x)} sample(s): need at least 2 to split off a test set")
        order = np.random.default_rng(seed).permutation(len(x))
        n_test = max(1, int(round(TEST_FRACTION * len(x))))
        xt, yt, x, y = x[order[:n_test]], y[order[:n_test]], x[order[n_test:]], y[order[n_test:]]
        split = f"a {TEST_FRACTION:.0%} test split (seed {seed})"
    return {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt,
            "source": f"{path} ({x.shape[1]} steps x {x.shape[2]} inputs; {split})"}


def _check_x(where, name, x):
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{where}: {name} must hold real numbers, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x[:, :, None]  # (N, T): one input per step
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"{where}: {name} must have shape (N, T, n_in) with N, T, n_in >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: {name} holds {int(np.count_nonzero(~np.isfinite(x)))} NaN or infinite value(s)")
    return x.astype(np.float32, copy=False)


def _check_y(where, name, y):
    if y.ndim != 1:
        raise ValueError(f"{where}: {name} must be one label per sequence, shape (N,), got {y.shape}")
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{where}: {name} must hold integer class labels, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not (np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise ValueError(f"{where}: {name} must hold integer class labels 0..C-1, got non-integer values")
    if len(y) and y.min() < 0:
        raise ValueError(f"{where}: {name} must hold class labels >= 0, got {y.min()}")
    return y.astype(np.int64)


def check_save_path(path):
    """Refuse a ``--save`` target before training: a folder, a path under a file, or a
    folder that cannot be written (tried by creating a temporary file there)."""
    p = pathlib.Path(path)
    if p.is_dir():
        raise ValueError(f"--save {path}: is a folder; give a file name, e.g. {p / 'model.npz'}")
    parent = p.parent if str(p.parent) else pathlib.Path(".")
    existing = parent
    while not existing.exists():  # the folders to be created at save time
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--save {path}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise ValueError(f"--save {path}: cannot write in {existing} ({e.strerror or e})") from None


def save(path, net, opt, sched, extra, out):
    """Write the checkpoint to ``path``; if that fails, to a fallback file (said on
    ``out`` and stderr). Returns the path written (None if even the fallback failed)."""
    try:
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        checkpoint.save_checkpoint(path, net, opt, schedule=sched, extra=extra)
        print(f"checkpoint written to {path}", file=out)
        return str(path)
    except OSError as e:
        reason = e.strerror or str(e)
    name = f"snn_checkpoint-{time.strftime('%Y%m%d-%H%M%S')}.npz"
    for folder in (pathlib.Path.cwd(), pathlib.Path(tempfile.gettempdir())):
        try:
            checkpoint.save_checkpoint(folder / name, net, opt, schedule=sched, extra=extra)
        except OSError:
            continue
        print(f"error: could not write {path} ({reason}); the model was saved to {folder / name} instead",
              file=sys.stderr)
        return str(folder / name)
    print(f"error: could not write {path} ({reason}) nor a fallback checkpoint; the model is lost",
          file=sys.stderr)
    return None


def parser():
    p = argparse.ArgumentParser(
        prog="python -m snn_from_scratch train", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train and evaluate a stack of one cell type (Adam, softmax cross-entropy). Every "
                    "option defaults to the cell's recipe (below), the one the tour uses.",
        epilog=recipes.help_text())
    p.add_argument("--cell", required=True, help=f"cell name: {', '.join(cells.REGISTRY)}")
    p.add_argument("--dataset", default="mnist1d", metavar="mnist1d|mnist|PATH.npz",
                   help="a built-in data set or your own .npz (x (N, T, n_in), y (N,), optional "
                        "x_test, y_test); default mnist1d")
    p.add_argument("--no-recipe", action="store_true",
                   help="start from the library defaults (linear readout, raw input, the cell's own "
                        "config) instead of the cell's recipe")
    p.add_argument("--hidden", type=int, default=None, help="units per layer (recipe)")
    p.add_argument("--layers", type=int, default=None, help="number of stacked cells (recipe)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (recipe; 1 with --fast)")
    p.add_argument("--batch-size", type=int, default=None, help="minibatch size (recipe)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (recipe)")
    p.add_argument("--schedule", default=None, choices=recipes.SCHEDULES,
                   help=f"cosine: anneal lr to lr/{recipes.LR_MIN_DIVISOR} over the epochs (recipe)")
    p.add_argument("--cosine", action="store_const", const="cosine", dest="schedule", help=argparse.SUPPRESS)
    p.add_argument("--clip", type=float, default=None, help="clip gradients to this global norm, 0: no clipping "
                                                            "(recipe)")
    p.add_argument("--readout", default=None, choices=sorted(network.READOUTS),
                   help="(recipe) " + "; ".join(f"{k}: {v}" for k, v in network.READOUTS.items())
                   + " (leaky needs --hidden = 10 x classes)")
    p.add_argument("--kappa", type=float, default=None, help="leak of the li-* readouts (recipe)")
    p.add_argument("--encoding", default=None, metavar="raw|delay:D|thermometer:K",
                   help="input coding (recipe): the values, a delay line of D taps, or K spike channels "
                        "per input (level crossings)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    add_config_option(p)
    add_threads_option(p)
    p.add_argument("--save", default=None, metavar="PATH", help="write a checkpoint (.npz); checked before training")
    p.add_argument("--data-dir", default=None, help="data folder (default $SNN_DATA_DIR or ./data)")
    p.add_argument("--fast", action="store_true", default=fast_mode(),
                   help="600 samples, 1 epoch: a smoke test (default when SNN_FAST=1)")
    p.add_argument("--quiet", action="store_true", help="no live progress line")
    return p


def settings(args):
    """The recipe this command line asks for: the cell's (or the defaults with
    ``--no-recipe``) with every given option on top. Raises ``ValueError`` for a bad value."""
    cells.cell_class(args.cell)  # unknown / unimplemented cell: ValueError with the choices
    for nm in ("hidden", "layers", "batch_size"):
        if getattr(args, nm) is not None:
            network.check_count(f"--{nm.replace('_', '-')}", getattr(args, nm))
    if args.lr is not None:
        check_real("--lr", args.lr, low=0, low_open=True)
    if args.clip is not None:
        check_real("--clip", args.clip, low=0)
    if args.kappa is not None:
        check_real("--kappa", args.kappa, low=0, high=1, high_open=True)
    if args.epochs is not None:
        network.check_count("--epochs", args.epochs, low=0)
    over = dict(hidden=args.hidden, layers=args.layers, batch_size=args.batch_size, lr=args.lr,
                schedule=args.schedule, readout=args.readout, kappa=args.kappa, encoding=args.encoding,
                epochs=args.epochs if args.epochs is not None else (1 if args.fast else None),
                config=parse_config(args.config))
    if args.clip is not None:
        over["clip"] = args.clip if args.clip > 0 else None
    clip = over.pop("clip", "recipe")
    rec = recipes.recipe(args.cell, own=not args.no_recipe, **over)
    if clip != "recipe":
        rec["clip"] = clip  # None: no clipping
    return rec


def run(args, out=None):
    """Train as the command line describes; returns a dict of results."""
    out = sys.stdout if out is None else out
    rec = settings(args)
    if args.save:
        check_save_path(args.save)
    dtype = np.dtype(args.dtype)
    Xtr, ytr, Xte, yte, desc = load_data(args.dataset, args.data_dir, args.fast, args.seed)
    n_classes = int(max(ytr.max(), yte.max())) + 1
    print(f"data    : {desc}: {len(Xtr)} train / {len(Xte)} test, {n_classes} classes", file=out)
    print(f"recipe  : {args.cell}: {recipes.describe(rec)}"
          + (" (library defaults, --no-recipe)" if args.no_recipe else ""), file=out)
    # built once up front so that a bad config fails before any training (fit builds the same)
    net = recipes.build(args.cell, Xtr.shape[2], n_classes, rec, seed=args.seed, dtype=dtype)
    print(f"model   : {rec['layers']} x {args.cell}({rec['hidden']}) + {rec['readout']} readout, "
          f"{net.n_params()} parameters, {dtype}", file=out)
    print(f"config  : {net.layers[0].config}", file=out)
    out.flush()
    t0 = time.time()
    r = recipes.fit(args.cell, rec, (Xtr, ytr, Xte, yte), seed=args.seed, dtype=dtype,
                    progress=not args.quiet)
    train_time = time.time() - t0
    net, hist = r.net, r.history
    epochs = rec["epochs"]
    test_loss = hist["val_loss"][-1] if hist["val_loss"] else float("nan")
    test_acc = hist["val_acc"][-1] if hist["val_acc"] else float("nan")
    if not hist["val_acc"]:  # zero epochs: the untrained network
        test_loss, test_acc = network.evaluate(net, r.X_test, yte, batch_size=256)
    line = (f"test accuracy: {test_acc:.4f}  (test loss {test_loss:.4f}; {train_time:.1f} s training, "
            f"{train_time / max(epochs, 1):.1f} s/epoch)")
    rate = dead = None
    if recipes.is_spiking(args.cell):
        rate, dead = recipes.spike_stats(net, r.X_test)
        line += f"; firing rate {rate:.3f}, {dead:.0%} of the neurons dead"
    print(line, file=out)
    result = {"cell": args.cell, "dataset": args.dataset, "test_acc": test_acc, "test_loss": test_loss,
              "train_time": train_time, "epochs": epochs, "n_params": net.n_params(), "recipe": rec,
              "firing_rate": rate, "dead_fraction": dead, "history": hist}
    if args.save:
        result["saved_to"] = save(args.save, net, r.optimizer, r.schedule,
                                  {"command": "train", "args": vars(args), "recipe": rec, "test_acc": test_acc,
                                   "history": hist}, out)
    return result


def main(argv):
    args = parser().parse_args(argv)
    try:
        set_threads(args.threads, stream=sys.stdout)
        res = run(args)
    except FloatingPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    if args.save and res.get("saved_to") != args.save:
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
