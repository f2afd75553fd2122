"""Does sparsity save wall-clock time? Event-driven inference against dense products.

Run from the repository root::

    python -m benchmarks.sparsity            # full (a few minutes): sweep + MNIST-1D networks
    python -m benchmarks.sparsity --fast     # tiny sizes (seconds)

Ponghiran & Roy's argument for the gated LIF (v2) is cost: at ~84% zeros it needs ~10x fewer
multiplications than a GRU of the same width (``snn_from_scratch.analysis.multiplications``
counts them, Eq. 10). On a CPU a multiplication saved is time saved only if skipping it is
cheaper than doing it: a dense BLAS product streams at tens of GFLOP/s, the event-driven
product (``snn_from_scratch/cells/events.py``: a CSR matrix of the non-zero inputs) reads
scattered rows of W at a fraction of that. Three measurements, float32, one thread:

1. **the input projection** ``X W`` (T*B rows) dense vs event-driven, swept over the input
   density: where the crossover lies (``events.EVENT_DENSITY`` is set from it);
2. **one layer's inference** (a gated LIF v2 layer in eval mode, its input at each density;
   the event-driven path forced on and off) beside a GRU layer of the same width, with the
   multiplication counts of ``analysis.multiplications``;
3. **MNIST-1D**: a 2-layer gated LIF v2 network and a 2-layer GRU of the same width (trained
   briefly, or untrained with ``--epochs 0``), inference time per sequence on the test set,
   each layer's measured output density, and the networks' multiplication counts
   (``analysis.network_multiplications``).

What the event-driven path does *not* cover: v2's recurrent products ``Y[n-1] U_f``,
``Y[n-1] U_c`` stay dense, one (B, H) x (H, H) product per step inside ``step_forward`` (the
step pair stays the equations a student reads); at batch sizes above one, a per-step sparse
product would pay its bookkeeping at every step.
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from snn_from_scratch import analysis, cells, network  # noqa: E402
from snn_from_scratch.cells import events  # noqa: E402

__all__ = ["DENSITIES", "projection_sweep", "layer_sweep", "mnist1d_networks", "crossover",
           "format_tables", "run", "main"]

#: Input densities swept (fraction of non-zero inputs).
DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.16, 0.25, 0.5, 1.0)


def _best(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


def _inputs(rng, shape, d, multibit=True, dtype=np.float32):
    """Inputs of density ``d``: multi-bit levels q/64 (a v2 layer's outputs) or spikes."""
    X = (rng.random(shape) < d).astype(dtype)
    if multibit:
        X *= rng.integers(1, 64, shape).astype(dtype) / dtype(64)
    return X


def projection_sweep(rows=6400, n_in=256, H=256, densities=DENSITIES, repeats=5, seed=0):
    """``[(density, dense s, event s)]`` of ``X W`` with ``X`` (rows, n_in), ``W`` (n_in, H).
    The event time includes building the CSR matrix from the dense input (as the layers do)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_in, H)).astype(np.float32)
    out = []
    for d in densities:
        X = _inputs(rng, (rows, n_in), d)
        t_dense = _best(lambda: X @ W, repeats)[0]
        t_ev = _best(lambda: events.project(X, W, max_density=1.0), repeats)[0]
        out.append((d, t_dense, t_ev))
    return out


def crossover(sweep):
    """The largest swept density at which the event-driven product is faster (None: never)."""
    wins = [d for d, t_dense, t_ev in sweep if t_ev < t_dense]
    return max(wins) if wins else None


def _forward_time(layer, x, repeats, max_density):
    """Inference time of ``layer.forward(x)`` with the event-driven threshold forced."""
    saved = events.EVENT_DENSITY
    events.EVENT_DENSITY = max_density
    try:
        return _best(lambda: layer.forward(x), repeats)[0]
    finally:
        events.EVENT_DENSITY = saved


def layer_sweep(T=40, B=64, H=256, densities=DENSITIES, repeats=3, seed=0):
    """Per density: ``dict(d, v2_dense, v2_events, gru, mults_v2, mults_gru)``: seconds per
    forward of a (T, B) batch, and multiplications per step of one sequence (the v2 layer's
    own output density measured)."""
    rng = np.random.default_rng(seed)
    v2 = cells.make("gated_lif", H, H, seed=0, dtype=np.float32, variant="v2")
    gru = cells.make("gru", H, H, seed=0, dtype=np.float32)
    v2.training = gru.training = False
    out = []
    for d in densities:
        x = _inputs(rng, (T, B, H), d)
        y, _ = v2.forward(x)
        d_out = analysis.density(y)
        out.append(dict(d=d, d_out=d_out,
                        v2_dense=_forward_time(v2, x, repeats, 0.0),
                        v2_events=_forward_time(v2, x, repeats, 1.0),
                        gru=_best(lambda: gru.forward(x), repeats)[0],
                        mults_v2=analysis.multiplications("v2", H, H, d, d_out),
                        mults_gru=analysis.multiplications("gru", H, H, 1.0, 1.0)))
    return out


def mnist1d_networks(H=128, epochs=2, batch=64, n_test=512, repeats=3, seed=0, data=None):
    """2-layer gated LIF v2 and GRU networks of width ``H`` on MNIST-1D.

    Trained ``epochs`` epochs (Adam, lr 1e-3 after ``net.train()``; 0: untrained), then
    timed in eval mode on ``n_test`` test sequences in batches of ``batch``. Returns a dict
    per network: accuracy, per-layer output densities, seconds per sequence (v2: with the
    event-driven path on and off), multiplications per sequence (Eq. 10 counts).
    """
    from snn_from_scratch import datasets, training
    from snn_from_scratch.optim import Adam

    data = data or datasets.mnist1d()
    Xtr, ytr = data["x_train"].astype(np.float32), data["y_train"]
    Xte, yte = data["x_test"][:n_test].astype(np.float32), data["y_test"][:n_test]
    T = Xte.shape[1]
    res = {}
    for kind, cell, cfg in (("v2", "gated_lif", {"variant": "v2"}), ("gru", "gru", {})):
        net = network.build(cell, 1, H, 10, n_layers=2, seed=seed, dtype=np.float32, config=cfg)
        if epochs:
            net.train()
            training.train(net, Xtr, ytr, Adam(net.params, lr=1e-3), epochs, batch,
                           np.random.default_rng(seed), progress=False)
        net.eval()
        _, acc = network.evaluate(net, Xte, yte)
        enc = network.default_encode(net)
        xbs = [enc(Xte[s:s + batch]) for s in range(0, len(Xte), batch)]
        # the densities of each layer's output (the next layer's input)
        h, dens = xbs[0], [analysis.density(xbs[0])]
        for layer in net.layers:
            h, _ = layer.forward(h)
            dens.append(analysis.density(h))

        def infer():
            for xb in xbs:
                net.forward(xb)

        saved = events.EVENT_DENSITY
        times = {}
        try:
            for label, md in (("events", 1.0), ("dense", 0.0)) if kind == "v2" else (("dense", 0.0),):
                events.EVENT_DENSITY = md
                times[label] = _best(infer, repeats)[0] / len(Xte)
        finally:
            events.EVENT_DENSITY = saved
        mults = analysis.network_multiplications(kind, [1, H, H], dens if kind == "v2" else [1.0] * 3, 10, T)
        res[kind] = dict(acc=acc, densities=dens, per_seq_s=times, mults=mults, T=T, H=H,
                         epochs=epochs)
    return res


def format_tables(sweep, layers, nets, H_sweep=None):
    f = "{:.3f}".format
    lines = []
    if sweep:
        lines += ["input projection X W (float32, one thread): dense BLAS vs event-driven (CSR)",
                  f"{'density':>8}{'dense ms':>10}{'events ms':>11}{'events/dense':>14}"]
        for d, td, te in sweep:
            lines.append(f"{d:>8.2f}{1e3 * td:>10.2f}{1e3 * te:>11.2f}{te / td:>14.2f}")
        c = crossover(sweep)
        lines.append(f"event-driven faster up to density {c} (events.EVENT_DENSITY = {events.EVENT_DENSITY})"
                     if c else "event-driven never faster in this sweep")
        lines.append("")
    if layers:
        lines += [f"one layer, inference of a (T, B) batch, width {H_sweep}: gated LIF v2 (dense / "
                  "event-driven input product) vs GRU; multiplications per step and sequence",
                  f"{'d_in':>6}{'d_out':>7}{'v2 dense ms':>13}{'v2 events ms':>14}{'GRU ms':>9}"
                  f"{'GRU/v2ev':>10}{'mults v2':>11}{'mults GRU':>11}{'GRU/v2':>8}"]
        for r in layers:
            lines.append(f"{r['d']:>6.2f}{r['d_out']:>7.2f}{1e3 * r['v2_dense']:>13.2f}"
                         f"{1e3 * r['v2_events']:>14.2f}{1e3 * r['gru']:>9.2f}"
                         f"{r['gru'] / r['v2_events']:>10.2f}{r['mults_v2']:>11.0f}{r['mults_gru']:>11.0f}"
                         f"{r['mults_gru'] / r['mults_v2']:>8.1f}")
        lines.append("")
    if nets:
        v2, gru = nets["v2"], nets["gru"]
        lines += [f"MNIST-1D, 2 layers of {v2['H']}, T = {v2['T']}, {v2['epochs']} epoch(s) of "
                  "training, inference (eval mode) per test sequence",
                  f"{'network':<22}{'acc':>6}{'densities (x, layer 1, layer 2)':>34}{'us/seq':>9}"
                  f"{'mults/seq':>12}"]
        for label, r, key in (("gated LIF v2 events", v2, "events"), ("gated LIF v2 dense", v2, "dense"),
                              ("GRU", gru, "dense")):
            dens = ", ".join(f(d) for d in r["densities"])
            lines.append(f"{label:<22}{r['acc']:>6.3f}{dens:>34}{1e6 * r['per_seq_s'][key]:>9.1f}"
                         f"{r['mults']:>12.0f}")
        lines.append(f"GRU / v2: {gru['mults'] / v2['mults']:.1f}x the multiplications, "
                     f"{gru['per_seq_s']['dense'] / v2['per_seq_s']['events']:.2f}x the time "
                     f"(v2 event-driven), {gru['per_seq_s']['dense'] / v2['per_seq_s']['dense']:.2f}x "
                     "(v2 dense)")
    return "\n".join(lines)


def run(fast=False, epochs=None, stream=sys.stdout):
    """All three measurements; returns a dict with the results and the printed tables."""
    if fast:
        sweep = projection_sweep(rows=512, n_in=64, H=64, densities=(0.05, 0.5), repeats=2)
        H = 32
        layers = layer_sweep(T=8, B=16, H=H, densities=(0.05, 0.5), repeats=2)
        nets = None
    else:
        sweep = projection_sweep()
        H = 256
        layers = layer_sweep(H=H)
        nets = mnist1d_networks(epochs=2 if epochs is None else epochs)
    txt = format_tables(sweep, layers, nets, H)
    return {"sweep": sweep, "layers": layers, "nets": nets, "table": txt, "fast": fast}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.sparsity",
                                description="Event-driven inference vs dense products (float32, one thread).")
    p.add_argument("--fast", action="store_true", help="tiny sizes (seconds)")
    p.add_argument("--epochs", type=int, default=None, help="MNIST-1D training epochs (default 2)")
    args = p.parse_args(argv)
    from benchmarks import bench

    print("threads:", bench.pin_threads(1, torch_too=False))
    print(run(fast=args.fast, epochs=args.epochs)["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
