"""``python -m snn_from_scratch bench [--quick]``: training-step benchmarks against PyTorch.

For each seed cell at the reference sizes of the project (below) we time a *full training
step* — forward over the whole sequence, the hand-written backward, and an Adam update of
every parameter — in float32, and the same step written in PyTorch autograd on the same
equations (same dtype, the stacked input projection before the loop as in ours, and
``torch.set_num_threads`` set to the number of threads NumPy's BLAS uses). The loss is
``L = sum(dy * y)`` with a fixed random ``dy``: a readout's cost is not the cell's.

Printed per cell: the median step time of ours and of PyTorch and their ratio (goal: ours
<= 0.7x PyTorch), the achieved GFLOP/s of the matrix products against this machine's
measured float32 matmul peak (goal on the large LSTM: >= 50%), and the memory of the BPTT
cache (the arrays the forward keeps for the backward) against the theoretical minimum the
exact backward must keep (goal: within 1.5x). Then the scaling of the step time with T and
with H, plotted to ``runs/bench/``. Goals are read off the printout, never asserted by a
timed test.

FLOP count: only the matrix products, ``2 T B n_in n_out`` for each forward use of a
weight matrix and twice that in backward (``dX`` and ``dW``), i.e. ``6 T B a b`` per
weight matrix of shape (a, b). Elementwise work is not counted, so GFLOP/s is a lower
bound of the work done and a fair measure of how much of the time is spent in BLAS.

PyTorch is imported only inside the functions that need it: the library never requires it.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import pathlib
import statistics
import sys
import time
import tracemalloc

import numpy as np

from . import cells
from .optim import Adam

__all__ = ["REFERENCE", "QUICK", "numpy_threads", "matmul_peak", "matmul_flops", "cache_bytes",
           "min_cache_bytes", "time_ours", "time_torch", "bench_cell", "run", "main"]

#: cell -> (config, sizes): the reference sizes of the issue. n_in is our choice (stated).
REFERENCE = {
    "spiking_lstm": ({}, dict(B=64, T=28, H=256, n_in=28)),       # sequential MNIST rows
    "lif": ({}, dict(B=64, T=100, H=256, n_in=64)),
    "gated_lif": ({"variant": "v2"}, dict(B=64, T=100, H=256, n_in=64)),
    "src": ({}, dict(B=64, T=200, H=512, n_in=64)),
    "lstm": ({}, dict(B=256, T=50, H=1024, n_in=128)),
}
#: Tiny sizes for --quick (the chapter's fast mode, CI smoke runs).
QUICK = {k: (c, dict(B=8, T=8, H=32, n_in=8)) for k, (c, _) in REFERENCE.items()}

#: Theoretical minimum of the BPTT cache, in values per (step, sequence, hidden unit): what
#: the exact backward must read that no cheap elementwise function of the others gives.
MIN_VALUES_PER_UNIT = {
    "rnn": (1, "h (tanh' = 1 - h^2, and h[t-1] for dW_h)"),
    "lstm": (6, "f, i, g, o, c, h (tanh(c) recomputed; c[t-1], h[t-1] are the previous step's)"),
    "gru": (5, "z, r, n, h, h[t-1] W_hn"),
    "brc": (4, "z, r, n, h"),
    "spiking_lstm": (6, "u (4 potentials: every spike and surrogate), c~ (the cell spike's "
                        "surrogate), h (operand of dW_h)"),
    "lif": (1, "one value per step: V, or the surrogate factor dY/dV computed from it (I is linear and not needed)"),
    "gated_lif": (4, "F, C, I, V (Y[t-1] is the quantizer of V[t-1])"),
    "src": (2, "i and h with detach_recurrent (x, z_s from them); + h_s without it"),
}


# --------------------------------------------------------------------------------------
# machine facts
# --------------------------------------------------------------------------------------
def numpy_threads():
    """Threads NumPy's BLAS uses (OpenBLAS queried directly; else the environment)."""
    try:
        libs = {ln.split()[-1] for ln in open("/proc/self/maps") if "openblas" in ln.lower()}
        for path in sorted(libs):
            lib = ctypes.CDLL(path)
            for fn in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads"):
                if hasattr(lib, fn):
                    return int(getattr(lib, fn)())
    except OSError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def matmul_peak(n=2048, repeats=5, dtype=np.float32):
    """Measured GFLOP/s of one square float32 matrix product (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    best = min(_timeit(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def torch_matmul_peak(n=2048, repeats=5):
    """The same measurement with PyTorch's float32 GEMM (its own BLAS), or None."""
    if not torch_available():
        return None
    import torch

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    torch.matmul(a, b, out=out)
    best = min(_timeit(lambda: torch.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timeit(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------
# counting
# --------------------------------------------------------------------------------------
def matmul_flops(cell, T, B):
    """FLOPs of the matrix products of one training step (forward + backward)."""
    return sum(6 * T * B * p.shape[0] * p.shape[1] for p in cell.params.values() if p.ndim == 2)


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def cache_bytes(cache, exclude=()):
    """Bytes of the distinct arrays held by a cache (views counted once, by their buffer).

    Arrays sharing memory with one of ``exclude`` (the caller's input) are not counted.
    """
    seen, total = set(), 0
    excl = [_root(e) for e in exclude]

    def walk(o):
        nonlocal total
        if isinstance(o, np.ndarray):
            r = _root(o)
            if id(r) in seen or any(r is e for e in excl):
                return
            seen.add(id(r))
            total += r.nbytes
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            for v in vars(o).values():
                if isinstance(v, np.ndarray):
                    walk(v)

    walk(cache)
    return total


def min_cache_bytes(name, T, B, H, dtype=np.float32):
    k = MIN_VALUES_PER_UNIT.get(name, (None, ""))[0]
    return None if k is None else k * T * B * H * np.dtype(dtype).itemsize


# --------------------------------------------------------------------------------------
# our step
# --------------------------------------------------------------------------------------
def _inputs(name, sz, dtype, seed=0):
    rng = np.random.default_rng(seed)
    T, B, n = sz["T"], sz["B"], sz["n_in"]
    if name in ("lif", "gated_lif", "src"):  # spike trains (Bernoulli, 20%)
        x = (rng.random((T, B, n)) < 0.2).astype(dtype)
    else:
        x = rng.standard_normal((T, B, n)).astype(dtype)
    dy = (rng.standard_normal((T, B, sz["H"])) / np.sqrt(B)).astype(dtype)
    return x, dy


def make_ours(name, config, sz, dtype=np.float32):
    cell = cells.make(name, sz["n_in"], sz["H"], seed=0, dtype=dtype, **config)
    cell.training = True
    opt = Adam(cell.params, lr=1e-3)
    return cell, opt


def ours_step(name, config, sz):
    """A closure running one training step of our cell; returns its phase times (s)."""
    cell, opt = make_ours(name, config, sz)
    x, dy = _inputs(name, sz, np.float32)

    def step():
        t0 = time.perf_counter()
        y, cache = cell.forward(x)
        t1 = time.perf_counter()
        dx, grads = cell.backward(dy, cache)
        t2 = time.perf_counter()
        opt.step(grads)
        cell.project()
        t3 = time.perf_counter()
        return {"step": t3 - t0, "forward": t1 - t0, "backward": t2 - t1, "adam": t3 - t2}

    return step


def _measure(steps, repeats, warmup=1):
    """Run the step closures *interleaved* (a, b, a, b, ...), so that both see the same
    machine load, and return for each the list of its phase dicts after warm-up."""
    out = [[] for _ in steps]
    for k in range(warmup + repeats):
        for j, st in enumerate(steps):
            # as timeit does: no garbage-collector pause inside a timed step (arrays are
            # freed by reference counting anyway; a full gc.collect() costs 0.1 s with torch)
            gc.disable()
            try:
                ph = st()
            finally:
                gc.enable()
            if k >= warmup:
                out[j].append(ph)
    return out


def _summary(samples):
    med = {k: statistics.median(p[k] for p in samples) for k in samples[0]}
    med["best"] = min(p["step"] for p in samples)
    return med


def time_ours(name, config, sz, repeats=5, warmup=1, phases=False):
    """Median seconds of one training step of our cell (forward, backward, Adam, project).

    With ``phases=True`` also returns the median forward / backward / optimizer times.
    """
    (samples,) = _measure([ours_step(name, config, sz)], repeats, warmup)
    m = _summary(samples)
    return (m["step"], m) if phases else m["step"]


def memory_ours(name, config, sz):
    """(cache bytes, traced peak bytes of forward+backward) of our cell in float32."""
    cell, _ = make_ours(name, config, sz)
    cell.training = False
    x, dy = _inputs(name, sz, np.float32)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    y, cache = cell.forward(x)
    cb = cache_bytes(cache, exclude=(x,))
    cell.backward(dy, cache)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return cb, peak


# --------------------------------------------------------------------------------------
# PyTorch: the same equations in autograd (float32)
# --------------------------------------------------------------------------------------
def _torch_cells():
    """Build the PyTorch versions of the benchmarked cells (import torch lazily)."""
    import torch

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u, kind, a):
            ctx.save_for_backward(u)
            ctx.kind, ctx.a = kind, a
            return (u > 0).to(u.dtype)

        @staticmethod
        def backward(ctx, g):
            (u,) = ctx.saved_tensors
            if ctx.kind == "gaussian":
                d = torch.exp(-u * u / ctx.a) * (1.0 / np.sqrt(np.pi * ctx.a))
            else:  # triangle(1, 1)
                d = torch.clamp(1.0 - u.abs(), min=0.0)
            return g * d, None, None

    class Quant(torch.autograd.Function):
        @staticmethod
        def forward(ctx, V, b, n_bits, k):
            ctx.save_for_backward(V)
            ctx.b = b
            step = b / 2 ** n_bits
            q = torch.clamp(torch.floor(V / step), max=2 ** n_bits - 1)
            q = torch.where(V > k * step, q, torch.zeros_like(q))
            return q * step

        @staticmethod
        def backward(ctx, g):
            (V,) = ctx.saved_tensors
            return g * (V.abs() <= ctx.b).to(g.dtype), None, None, None

    class Bypass(torch.autograd.Function):
        @staticmethod
        def forward(ctx, h):
            return torch.clamp(h, min=0.0)

        @staticmethod
        def backward(ctx, g):
            return g

    def lstm(P, x, c):
        T, B, _ = x.shape
        H = P["W_h"].shape[0]
        A = (x.reshape(T * B, -1) @ P["W_x"] + P["b"]).reshape(T, B, -1)
        h = x.new_zeros(B, H)
        cc = x.new_zeros(B, H)
        ys = []
        for t in range(T):
            a = A[t] + h @ P["W_h"]
            f, i, g, o = a.chunk(4, 1)
            cc = torch.sigmoid(f) * cc + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(cc)
            ys.append(h)
        return torch.stack(ys)

    def spiking_lstm(P, x, c):
        T, B, _ = x.shape
        H = P["W_h"].shape[0]
        A = (x.reshape(T * B, -1) @ P["W_x"] + P["b"]).reshape(T, B, -1)
        h = x.new_zeros(B, H)
        cc = x.new_zeros(B, H)
        ys = []
        for t in range(T):
            u = A[t] + h @ P["W_h"]
            uf, ui, ug, uo = u.chunk(4, 1)
            f = Spike.apply(uf - c["theta1"], "gaussian", c["a1"])
            i = Spike.apply(ui - c["theta1"], "gaussian", c["a1"])
            g = Spike.apply(ug - c["theta2"], "gaussian", c["a2"])
            o = Spike.apply(uo - c["theta1"], "gaussian", c["a1"])
            cc = Spike.apply(f * cc + i * g - c["theta_c"], "gaussian", c["a_c"])
            h = o * cc
            ys.append(h)
        return torch.stack(ys)

    def lif(P, x, c):  # default config: synaptic, subtract, triangle, binary
        T, B, _ = x.shape
        A = (x.reshape(T * B, -1) @ P["W"]).reshape(T, B, -1)
        I = x.new_zeros(A.shape[1:])
        V = torch.zeros_like(I)
        Y = torch.zeros_like(I)
        ys = []
        for t in range(T):
            I = c["beta"] * I + A[t]
            V = c["alpha"] * V + I - c["threshold"] * Y
            Y = Spike.apply(V - c["threshold"], "triangle", 1.0)
            ys.append(Y)
        return torch.stack(ys)

    def gated_lif(P, x, c):  # v2, multibit, subtract
        T, B, _ = x.shape
        Af = (x.reshape(T * B, -1) @ P["W_f"] + P["b_f"]).reshape(T, B, -1)
        Ac = (x.reshape(T * B, -1) @ P["W_c"] + P["b_c"]).reshape(T, B, -1)
        I = x.new_zeros(Af.shape[1:])
        V = torch.zeros_like(I)
        Y = torch.zeros_like(I)
        ys = []
        for t in range(T):
            F = torch.sigmoid(Af[t] + Y @ P["U_f"])
            C = torch.relu(Ac[t] + Y @ P["U_c"])
            I = F * I + (1 - F) * C
            V = c["alpha"] * V + I - Y
            Y = Quant.apply(V, c["b"], c["n_bits"], c["threshold_levels"])
            ys.append(Y)
        return torch.stack(ys)

    def src(P, x, c):  # bypass_relu + detach_recurrent (the defaults)
        T, B, _ = x.shape
        A = (x.reshape(T * B, -1) @ P["W"]).reshape(T, B, -1)
        i = x.new_zeros(A.shape[1:])
        h = torch.zeros_like(i)
        hs = torch.zeros_like(i)
        ys = []
        for t in range(T):
            i = c["alpha"] * i + A[t]
            xx = c["rho"] * torch.tanh(i / c["rho"])
            hp, hsp = h.detach(), hs.detach()
            zs = torch.where(hp > 0.5, torch.full_like(hp, c["z_dep"]), torch.full_like(hp, c["z_hyp"]))
            h = torch.tanh(xx + c["r"] * hp + c["r_s"] * hsp + P["b_h"])
            hs = zs * hsp + (1 - zs) * hp
            ys.append(Bypass.apply(h))
        return torch.stack(ys)

    return {"lstm": lstm, "spiking_lstm": spiking_lstm, "lif": lif, "gated_lif": gated_lif, "src": src}


def set_threads(n):
    """Use ``n`` threads in NumPy's OpenBLAS (through its C API) and in PyTorch."""
    try:
        libs = {ln.split()[-1] for ln in open("/proc/self/maps") if "openblas" in ln.lower()}
        for path in sorted(libs):
            lib = ctypes.CDLL(path)
            for fn in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                       "openblas_set_num_threads"):
                if hasattr(lib, fn):
                    getattr(lib, fn)(int(n))
    except OSError:
        pass
    if torch_available():
        import torch

        torch.set_num_threads(int(n))


def torch_step(name, config, sz, threads=None, fused=False):
    """A closure running the same training step in PyTorch autograd (float32).

    ``fused=True`` (lstm only) uses ``torch.nn.LSTM`` instead (PyTorch's own kernel).
    """
    import dataclasses

    import torch

    torch.set_num_threads(threads or numpy_threads())
    cell, _ = make_ours(name, config, sz)
    cfg = dataclasses.asdict(cell.config)
    if name == "gated_lif":
        cfg["b"] = cell.b
    x_np, dy_np = _inputs(name, sz, np.float32)
    x, dy = torch.from_numpy(x_np), torch.from_numpy(dy_np)
    if fused:
        mod = torch.nn.LSTM(sz["n_in"], sz["H"])
        params = list(mod.parameters())

        def fwd():
            return mod(x)[0]
    else:
        P = {k: torch.tensor(v, requires_grad=True) for k, v in cell.params.items()}
        params = list(P.values())
        f = _torch_cells()[name]

        def fwd():
            return f(P, x, cfg)
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        y = fwd()
        t1 = time.perf_counter()
        (dy * y).sum().backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return {"step": t3 - t0, "forward": t1 - t0, "backward": t2 - t1, "adam": t3 - t2}

    return step


def time_torch(name, config, sz, repeats=5, warmup=1, threads=None, fused=False):
    """Median seconds of the same training step in PyTorch autograd (float32)."""
    (samples,) = _measure([torch_step(name, config, sz, threads, fused)], repeats, warmup)
    return _summary(samples)["step"]


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------
def bench_cell(name, config, sz, peak, repeats=5, with_torch=True, threads=None):
    """One row of the table (a dict). Ours and PyTorch run interleaved (same load)."""
    cell, _ = make_ours(name, config, sz)
    flops = matmul_flops(cell, sz["T"], sz["B"])
    steps = [ours_step(name, config, sz)]
    if with_torch:
        steps.append(torch_step(name, config, sz, threads))
        if name == "lstm":
            steps.append(torch_step(name, config, sz, threads, fused=True))
    res = [_summary(s) for s in _measure(steps, repeats)]
    ph = res[0]
    t_ours = ph["step"]
    cb, peak_mem = memory_ours(name, config, sz)
    mn = min_cache_bytes(name, sz["T"], sz["B"], sz["H"])
    row = dict(cell=name, config=config, **sz, ours_s=t_ours, ours_best_s=ph["best"], phases=ph,
               gflops=flops / t_ours / 1e9, gflops_best=flops / ph["best"] / 1e9,
               peak_frac=flops / t_ours / 1e9 / peak, cache_mb=cb / 2 ** 20,
               min_mb=None if mn is None else mn / 2 ** 20,
               cache_ratio=None if not mn else cb / mn, traced_peak_mb=peak_mem / 2 ** 20,
               torch_s=None, torch_best_s=None, ratio=None, ratio_best=None, torch_phases=None,
               torch_nn_s=None)
    if with_torch:
        row.update(torch_s=res[1]["step"], torch_best_s=res[1]["best"], torch_phases=res[1],
                   ratio=t_ours / res[1]["step"], ratio_best=ph["best"] / res[1]["best"])
        if name == "lstm":
            row["torch_nn_s"] = res[2]["step"]
    return row


def format_table(rows, peak, threads):
    lines = [f"float32, {threads} thread(s); measured matmul peak {peak:.1f} GFLOP/s "
             f"(numpy float32 GEMM); loss sum(dy*y), Adam lr 1e-3",
             f"{'cell':<13}{'B':>4}{'T':>5}{'H':>6}{'n_in':>5}{'ours ms':>10}{'torch ms':>10}"
             f"{'ratio':>7}{'best':>6}{'GFLOP/s':>9}{'%peak':>7}{'cache MB':>10}{'min MB':>8}{'x min':>7}"
             f"{'fwd/bwd/adam ms':>20}"]
    for r in rows:
        ts = "-" if r["torch_s"] is None else f"{1e3 * r['torch_s']:.1f}"
        ra = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        rb = "-" if r["ratio_best"] is None else f"{r['ratio_best']:.2f}"
        ph = r["phases"]
        lines.append(
            f"{r['cell']:<13}{r['B']:>4}{r['T']:>5}{r['H']:>6}{r['n_in']:>5}{1e3 * r['ours_s']:>10.1f}"
            f"{ts:>10}{ra:>7}{rb:>6}{r['gflops']:>9.1f}{100 * r['peak_frac']:>6.0f}%{r['cache_mb']:>10.1f}"
            f"{(r['min_mb'] or 0):>8.1f}{(r['cache_ratio'] or 0):>7.2f}"
            f"{1e3 * ph['forward']:>8.0f}/{1e3 * ph['backward']:.0f}/{1e3 * ph['adam']:.0f}")
        if r.get("torch_nn_s"):
            lines.append(f"{'':<13}torch.nn.LSTM (fused kernel): {1e3 * r['torch_nn_s']:.1f} ms, "
                         f"ours / fused = {r['ours_s'] / r['torch_nn_s']:.2f}")
    lines.append("ratio: median/median of interleaved steps; best: fastest/fastest (less "
                 "sensitive to the load of a shared machine)")
    lines.append("goals: ratio <= 0.7 on every seed cell; >= 50% of peak on the large lstm; "
                 "cache <= 1.5x min")
    return "\n".join(lines)


def scaling(name, config, sz, key, factors=(0.25, 0.5, 1.0), repeats=2, with_torch=True, threads=None):
    """Step time of ours (and PyTorch) with ``sz[key]`` scaled by each factor."""
    out = []
    for f in factors:
        s = dict(sz)
        s[key] = max(1, int(round(sz[key] * f)))
        t_o = time_ours(name, config, s, repeats=repeats)
        t_t = time_torch(name, config, s, repeats=repeats, threads=threads) if with_torch else None
        out.append((s[key], t_o, t_t))
    return out


def plot_scaling(results, out_dir):
    """results: {cell: {"T": [(v, ours, torch)], "H": [...]}} -> PNG files; returns paths."""
    # A bare Figure (no pyplot): saving needs no GUI backend and leaves the caller's
    # backend (e.g. a notebook's inline one) untouched.
    from matplotlib.figure import Figure

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, label in (("T", "sequence length T"), ("H", "hidden size H")):
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        for k, (name, res) in enumerate(results.items()):
            pts = res.get(key) or []
            if not pts:
                continue
            v = [p[0] for p in pts]
            line, = ax.loglog(v, [1e3 * p[1] for p in pts], "o-", label=f"{name} (ours)")
            if pts[0][2] is not None:
                ax.loglog(v, [1e3 * p[2] for p in pts], "s--", color=line.get_color(), alpha=0.6,
                          label=f"{name} (PyTorch)")
        ax.set_xlabel(label)
        ax.set_ylabel("training step [ms]")
        ax.set_title(f"step time vs {key} (others at reference size)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        p = out_dir / f"scaling_{key}.png"
        fig.savefig(p, dpi=110)
        paths.append(p)
    return paths


def run(quick=False, names=None, repeats=None, out="runs/bench", with_torch=None, scale=True,
        stream=sys.stdout, threads=None):
    """Run the benchmark; returns a dict (rows, peak, threads, scaling, table)."""
    table = QUICK if quick else REFERENCE
    avail = set(cells.available())
    names = [n for n in (names or table) if n in avail and n in table]
    skipped = [n for n in (names or table) if n not in avail]
    if with_torch is None:
        with_torch = torch_available()
    repeats = repeats or (3 if quick else 5)
    if threads:
        set_threads(threads)
    threads = numpy_threads()
    peak = matmul_peak(256 if quick else 2048, repeats=3 if quick else 5)
    tpeak = torch_matmul_peak(256 if quick else 2048, repeats=3 if quick else 5) if with_torch else None
    rows = []
    for n in names:
        cfg, sz = table[n]
        rows.append(bench_cell(n, cfg, sz, peak, repeats=repeats, with_torch=with_torch, threads=threads))
        if stream is not None:
            r = rows[-1]
            msg = f"  {n}: ours {1e3 * r['ours_s']:.1f} ms"
            if r["torch_s"]:
                msg += f", torch {1e3 * r['torch_s']:.1f} ms"
            print(msg, file=stream, flush=True)
    # The peak is measured again after the rows and the larger value kept: on a shared
    # machine one measurement can land in a busy moment and make every %peak look too good.
    peak = max(peak, matmul_peak(256 if quick else 2048, repeats=3 if quick else 5))
    for r in rows:
        r["peak_frac"] = r["gflops"] / peak
    txt = format_table(rows, peak, threads)
    if tpeak:
        txt += f"\n(PyTorch's own float32 GEMM on the same matrices: {tpeak:.1f} GFLOP/s)"
    if not with_torch:
        txt += ("\n(PyTorch not installed: the torch columns are empty; "
                "pip install -r requirements-validation.txt)")
    if skipped:
        txt += f"\n(cells not implemented in this version, skipped: {skipped})"
    sc = {}
    if scale:
        for n in names:
            cfg, sz = table[n]
            base = dict(sz)
            if not quick and n == "lstm":  # the full-size LSTM would dominate the run time
                base = dict(sz, B=64, H=512)
            sc[n] = {"T": scaling(n, cfg, base, "T", repeats=2, with_torch=with_torch, threads=threads),
                     "H": scaling(n, cfg, base, "H", repeats=2, with_torch=with_torch, threads=threads)}
    res = {"rows": rows, "peak_gflops": peak, "torch_peak_gflops": tpeak, "threads": threads,
           "scaling": sc, "table": txt, "quick": quick}
    if out:
        out = pathlib.Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if sc:
            res["plots"] = [str(p) for p in plot_scaling(sc, out)]
        fname = "bench_quick.json" if quick else "bench.json"
        (out / fname).write_text(json.dumps(res, indent=1, default=str))
    return res


def profile_cell(name, config, sz, top=15):
    """cProfile of our training step: where the time goes (printed, returned as text)."""
    import cProfile
    import io
    import pstats

    cell, opt = make_ours(name, config, sz)
    x, dy = _inputs(name, sz, np.float32)
    pr = cProfile.Profile()
    pr.enable()
    y, cache = cell.forward(x)
    dx, grads = cell.backward(dy, cache)
    opt.step(grads)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(prog="python -m snn_from_scratch bench",
                                description="Time training steps (float32) against PyTorch autograd.")
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for smoke tests")
    p.add_argument("--cell", action="append", choices=sorted(REFERENCE), help="only these cells")
    p.add_argument("--repeats", type=int, default=None, help="timed steps per measurement (median)")
    p.add_argument("--no-scaling", action="store_true", help="skip the T/H scaling sweep")
    p.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    p.add_argument("--profile", action="store_true", help="print a cProfile of each cell's step")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both NumPy's BLAS and PyTorch (default: NumPy's current count)")
    p.add_argument("--out", default="runs/bench", help="folder for the JSON and plots")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.threads is not None and args.threads < 1:
        print("error: --threads must be >= 1", file=sys.stderr)
        return 2
    if args.repeats is not None and args.repeats < 1:
        print("error: --repeats must be >= 1", file=sys.stderr)
        return 2
    res = run(quick=args.quick, names=args.cell, repeats=args.repeats, out=args.out,
              with_torch=False if args.no_torch else None, scale=not args.no_scaling,
              threads=args.threads)
    print(res["table"])
    for n, sc in res["scaling"].items():
        for key in ("T", "H"):
            pts = ", ".join(f"{key}={v}: {1e3 * o:.1f}" + (f"/{1e3 * t:.1f}" if t else "")
                            for v, o, t in sc[key])
            print(f"  scaling {n:<13} ours/torch ms  {pts}")
    if res.get("plots"):
        print("plots: " + ", ".join(res["plots"]))
    if args.profile:
        table = QUICK if args.quick else REFERENCE
        for r in res["rows"]:
            print(f"\n=== profile of {r['cell']} ===")
            print(profile_cell(r["cell"], *table[r["cell"]]))
    return 0
