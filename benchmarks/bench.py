"""Training-step benchmarks of the library against PyTorch autograd (float32, one BLAS thread).

Run from the repository root (see ``benchmarks/README.md``)::

    python -m benchmarks.bench            # the reference sizes (minutes)
    python -m benchmarks.bench --fast     # tiny sizes (seconds): a smoke test
    python benchmarks/bench.py --help     # the same, as a script

For each cell at the reference sizes below we time a *full training step* — the forward over
the whole sequence, the hand-written backward, and an Adam update of every parameter (plus
the cell's projection) — in float32, and the same step in PyTorch autograd on the same
equations (``validation/torch_cells.py``: the independent PyTorch version of every cell, the
input projection stacked before the loop as in ours), same dtype, same number of threads.
For the LSTM also ``torch.nn.LSTM`` (PyTorch's fused kernel) with our weights. The loss is
``L = sum(dy * y)`` with a fixed random ``dy``: a readout's cost is not the cell's. Before
timing, each PyTorch version is checked to compute our numbers (float64, tiny sizes).

Printed per cell: the median step time of ours and of PyTorch and their ratio (goal:
ours / torch < 1), the achieved GFLOP/s of the matrix products and its share of this
machine's measured float32 matmul peak, and the memory of the BPTT cache against the
theoretical minimum the exact backward must keep (``benchmarks/memory.py``; goal: at most
1.2x). Optionally the scaling of the step time with T and H (``--scaling``). Goals are read
off the printout, never asserted by a timed test.

Threads: one by default (``--threads N`` to change). Run as a script, the count is put in
``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` *before NumPy is
imported* (the only moment those variables are read); in every case it is then (re)applied
with ``threadpoolctl`` when installed, else through OpenBLAS's C API, and with
``torch.set_num_threads``. The table states how it was pinned and the count NumPy reports.

FLOP count: only the matrix products, ``6 T B a b`` per weight matrix of shape (a, b) (2 for
the forward product, 2 for dX, 2 for dW). Elementwise work is not counted, so GFLOP/s is a
lower bound of the work done and a measure of how much of the time is spent in BLAS.
"""
from __future__ import annotations

import os
import sys


def _requested_threads(argv):
    """The ``--threads`` value of a command line (default 1), read before argparse runs."""
    for k, a in enumerate(argv):
        if a == "--threads" and k + 1 < len(argv):
            return argv[k + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


#: How the BLAS threads were pinned before NumPy was imported (None: NumPy came first).
_ENV_PINNED = None
if __name__ == "__main__" and "numpy" not in sys.modules:
    _n = _requested_threads(sys.argv[1:])
    if _n.isdigit() and int(_n) >= 1:
        for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[_var] = _n
        _ENV_PINNED = f"OMP_NUM_THREADS={_n} before NumPy was imported"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

# The repository root (for `validation` and the clone's `snn_from_scratch`) when this file
# runs as a script: then only benchmarks/ itself is on sys.path.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from snn_from_scratch import cells, reference  # noqa: E402
from snn_from_scratch.optim import Adam  # noqa: E402

from benchmarks import memory  # noqa: E402

__all__ = ["REFERENCE", "FAST", "pin_threads", "numpy_threads", "torch_available", "matmul_peak",
           "matmul_flops", "make_ours", "inputs", "ours_step", "torch_step", "time_ours",
           "time_torch", "agreement", "measure_memory", "bench_cell", "format_table", "run",
           "profile_cell", "main"]

#: cell -> (config, sizes): the reference sizes. n_in is our choice (stated).
REFERENCE = {
    "spiking_lstm": ({}, dict(B=64, T=28, H=256, n_in=28)),       # sequential MNIST rows
    "lif": ({}, dict(B=64, T=100, H=256, n_in=64)),
    "gated_lif": ({"variant": "v2"}, dict(B=64, T=100, H=256, n_in=64)),
    "src": ({}, dict(B=64, T=200, H=512, n_in=64)),
    "lstm": ({}, dict(B=256, T=50, H=1024, n_in=128)),
}
#: Tiny sizes for --fast (chapter 12's fast mode, CI smoke runs).
FAST = {k: (c, dict(B=8, T=8, H=32, n_in=8)) for k, (c, _) in REFERENCE.items()}

#: Cells fed spike trains (Bernoulli, 20%) rather than real-valued input.
SPIKE_INPUT = ("lif", "gated_lif", "src")


# --------------------------------------------------------------------------------------
# machine facts: threads, peak
# --------------------------------------------------------------------------------------
def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _openblas_libs():
    try:
        with open("/proc/self/maps") as f:
            return sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower()})
    except OSError:
        return []


def pin_threads(n, torch_too=True):
    """Use ``n`` threads in NumPy's BLAS (and in PyTorch unless ``torch_too`` is False);
    returns how it was done (text).

    threadpoolctl when installed, else OpenBLAS's C API (NumPy's wheels ship OpenBLAS);
    ``OMP_NUM_THREADS`` only works before NumPy is imported (done at the top of this file
    when it runs as a script).
    """
    n = int(n)
    how = [_ENV_PINNED] if _ENV_PINNED else []
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(limits=n)  # not a context: stays until changed
        how.append("threadpoolctl")
    except ImportError:
        done = False
        for path in _openblas_libs():
            lib = ctypes.CDLL(path)
            for fn in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                       "openblas_set_num_threads"):
                if hasattr(lib, fn):
                    getattr(lib, fn)(n)
                    done = True
        if done:
            how.append("OpenBLAS C API")
    if torch_too and torch_available():
        import torch

        torch.set_num_threads(n)
        how.append("torch.set_num_threads")
    return ", ".join(how) or "not pinned"


def numpy_threads():
    """Threads NumPy's BLAS uses now (threadpoolctl or OpenBLAS queried; else the environment)."""
    try:
        import threadpoolctl

        info = [d for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
        if info:
            return int(info[0]["num_threads"])
    except ImportError:
        pass
    for path in _openblas_libs():
        lib = ctypes.CDLL(path)
        for fn in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                   "openblas_get_num_threads"):
            if hasattr(lib, fn):
                return int(getattr(lib, fn)())
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count()


def _timeit(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


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

    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    torch.matmul(a, b, out=out)
    best = min(_timeit(lambda: torch.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def matmul_flops(cell, T, B):
    """FLOPs of the matrix products of one training step (forward + backward)."""
    return sum(6 * T * B * p.shape[0] * p.shape[1] for p in cell.params.values() if p.ndim == 2)


# --------------------------------------------------------------------------------------
# the two training steps
# --------------------------------------------------------------------------------------
def inputs(name, sz, dtype=np.float32, seed=0):
    """``x`` (spike trains for the spiking-input cells) and ``dy`` of the benchmark."""
    rng = np.random.default_rng(seed)
    T, B, n = sz["T"], sz["B"], sz["n_in"]
    if name in SPIKE_INPUT:
        x = (rng.random((T, B, n)) < 0.2).astype(dtype)
    else:
        x = rng.standard_normal((T, B, n)).astype(dtype)
    dy = (rng.standard_normal((T, B, sz["H"])) / np.sqrt(B)).astype(dtype)
    return x, dy


def make_ours(name, config, sz, dtype=np.float32):
    """Our cell in training mode and its Adam optimizer."""
    cell = cells.make(name, sz["n_in"], sz["H"], seed=0, dtype=dtype, **config)
    cell.training = True
    return cell, Adam(cell.params, lr=1e-3)


def _phases(t0, t1, t2, t3):
    return {"step": t3 - t0, "forward": t1 - t0, "backward": t2 - t1, "adam": t3 - t2}


def ours_step(name, config, sz):
    """A closure running one training step of our cell; returns its phase times (s)."""
    cell, opt = make_ours(name, config, sz)
    x, dy = inputs(name, sz)

    def step():
        t0 = time.perf_counter()
        y, cache = cell.forward(x)
        t1 = time.perf_counter()
        dx, grads = cell.backward(dy, cache)
        t2 = time.perf_counter()
        opt.step(grads)
        cell.project()
        t3 = time.perf_counter()
        return _phases(t0, t1, t2, t3)

    return step


def _torch_config(cell):
    """The config dict and the buffers (multi-bit range ``b``, batch norm's running
    statistics) the PyTorch version of ``cell`` needs, as they are now."""
    return dataclasses.asdict(cell.config), dict(getattr(cell, "buffers", {}))


def torch_step(name, config, sz, fused=False):
    """A closure running the same training step in PyTorch autograd (float32).

    ``fused=True`` (lstm only): ``torch.nn.LSTM`` (PyTorch's own kernel) with our weights.
    """
    import torch

    from validation import torch_cells as tc

    cell, _ = make_ours(name, config, sz)
    cfg, buffers = _torch_config(cell)
    x_np, dy_np = inputs(name, sz)
    x, dy = torch.from_numpy(x_np), torch.from_numpy(dy_np)
    if fused:
        mod = tc.to_torch_nn(name, cell.params, dtype=torch.float32)
        params = list(mod.parameters())

        def fwd():
            return mod(x)[0]
    else:
        P = {k: torch.tensor(v, requires_grad=True) for k, v in cell.params.items()}
        params = list(P.values())
        f = tc.TORCH_CELLS[name]

        def fwd():
            return f(P, x, None, cfg, buffers, training=True)[0]
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
        return _phases(t0, t1, t2, t3)

    return step


def _measure(steps, repeats, warmup=1):
    """Run the step closures *interleaved* (a, b, a, b, ...), so that all see the same
    machine load; return for each the list of its phase dicts after warm-up."""
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


def time_ours(name, config, sz, repeats=5, warmup=1):
    """Median seconds of one training step of our cell (forward, backward, Adam, project)."""
    (samples,) = _measure([ours_step(name, config, sz)], repeats, warmup)
    return _summary(samples)["step"]


def time_torch(name, config, sz, repeats=5, warmup=1, fused=False):
    """Median seconds of the same training step in PyTorch autograd (float32)."""
    (samples,) = _measure([torch_step(name, config, sz, fused)], repeats, warmup)
    return _summary(samples)["step"]


def agreement(name, config, T=9, B=3, H=6, n_in=4):
    """Our cell and its PyTorch version (as timed) on the same tiny problem, in float64:
    the :class:`reference.Comparison` of y, dx and every parameter gradient (else the
    timing ratios would compare different computations)."""
    import torch

    from validation import torch_cells as tc

    sz = dict(T=T, B=B, H=H, n_in=n_in)
    cell, _ = make_ours(name, config, sz, dtype=np.float64)
    cell.training = False
    x, dy = inputs(name, sz, np.float64)
    y, cache = cell.forward(x)
    dx, grads = cell.backward(dy, cache)
    cfg, buffers = _torch_config(cell)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in cell.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    yt = tc.TORCH_CELLS[name](P, xt, None, cfg, buffers)[0]
    (torch.tensor(dy) * yt).sum().backward()
    theirs = {"y": yt.detach().numpy(), "dx": xt.grad.numpy(),
              **{f"grads/{k}": v.grad.numpy() for k, v in P.items()}}
    ours = {"y": y, "dx": dx, **{f"grads/{k}": v for k, v in grads.items()}}
    return reference.compare(ours, theirs)


def measure_memory(name, config, sz):
    """``(cache bytes, traced peak bytes)`` of one forward + backward of our cell (float32)."""
    cell, _ = make_ours(name, config, sz)
    cell.training = False
    x, dy = inputs(name, sz)
    return memory.memory_ours(cell, x, dy)


# --------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------
def bench_cell(name, config, sz, peak, repeats=5, with_torch=True):
    """One row of the table (a dict). Ours and PyTorch run interleaved (same load)."""
    cell, _ = make_ours(name, config, sz)
    flops = matmul_flops(cell, sz["T"], sz["B"])
    steps = [ours_step(name, config, sz)]
    if with_torch:
        steps.append(torch_step(name, config, sz))
        if name == "lstm":
            steps.append(torch_step(name, config, sz, fused=True))
    res = [_summary(s) for s in _measure(steps, repeats)]
    ph = res[0]
    cb, peak_mem = measure_memory(name, config, sz)
    mn = memory.min_cache_bytes(name, sz["T"], sz["B"], sz["H"])
    row = dict(cell=name, config=config, **sz, ours_s=ph["step"], ours_best_s=ph["best"], phases=ph,
               gflops=flops / ph["step"] / 1e9, peak_frac=flops / ph["step"] / 1e9 / peak,
               cache_mb=cb / 2 ** 20, min_mb=None if mn is None else mn / 2 ** 20,
               cache_ratio=None if not mn else cb / mn, traced_peak_mb=peak_mem / 2 ** 20,
               torch_s=None, torch_best_s=None, ratio=None, ratio_best=None, torch_phases=None,
               torch_nn_s=None, agree=None)
    if with_torch:
        row.update(torch_s=res[1]["step"], torch_best_s=res[1]["best"], torch_phases=res[1],
                   ratio=ph["step"] / res[1]["step"], ratio_best=ph["best"] / res[1]["best"],
                   agree=agreement(name, config).max_error)
        if name == "lstm":
            row["torch_nn_s"] = res[2]["step"]
    return row


def format_table(rows, peak, threads, pinned="", tpeak=None):
    """The printed table of :func:`run`'s rows."""
    def f(v, fmt, scale=1.0):
        return "-" if v is None else format(scale * v, fmt)

    lines = [f"float32, {threads} BLAS thread(s) (pinned by: {pinned or 'not pinned'}); "
             f"float32 matmul peak {peak:.1f} GFLOP/s (NumPy GEMM)"
             + (f", PyTorch's GEMM {tpeak:.1f}" if tpeak else "")
             + "; loss sum(dy*y), Adam lr 1e-3",
             f"{'cell':<13}{'B':>4}{'T':>5}{'H':>6}{'n_in':>5}{'ours ms':>10}{'torch ms':>10}"
             f"{'ratio':>7}{'best':>6}{'GFLOP/s':>9}{'%peak':>7}{'cache MB':>10}{'min MB':>8}"
             f"{'x min':>7}{'fwd/bwd/adam ms':>20}{'agree':>9}"]
    for r in rows:
        ph = r["phases"]
        phs = f"{1e3 * ph['forward']:.1f}/{1e3 * ph['backward']:.1f}/{1e3 * ph['adam']:.1f}"
        lines.append(
            f"{r['cell']:<13}{r['B']:>4}{r['T']:>5}{r['H']:>6}{r['n_in']:>5}{1e3 * r['ours_s']:>10.1f}"
            f"{f(r['torch_s'], '.1f', 1e3):>10}{f(r['ratio'], '.2f'):>7}{f(r['ratio_best'], '.2f'):>6}"
            f"{r['gflops']:>9.1f}{100 * r['peak_frac']:>6.0f}%{r['cache_mb']:>10.2f}"
            f"{f(r['min_mb'], '.2f'):>8}{f(r['cache_ratio'], '.2f'):>7}"
            f"{phs:>20}"
            f"{f(r['agree'], '.0e'):>9}")
        if r.get("torch_nn_s"):
            lines.append(f"{'':<13}torch.nn.LSTM (fused kernel, our weights): {1e3 * r['torch_nn_s']:.1f} ms, "
                         f"ours / fused = {r['ours_s'] / r['torch_nn_s']:.2f}")
    lines.append("ratio: ours/torch, median/median of interleaved steps; best: fastest/fastest (less "
                 "sensitive to the load of a shared machine); agree: largest relative error of the "
                 "PyTorch version against ours (float64, tiny sizes)")
    lines.append("goals: ratio < 1 on every cell; cache <= 1.2x min")
    return "\n".join(lines)


def scaling(name, config, sz, key, factors=(0.25, 0.5, 1.0), repeats=2, with_torch=True):
    """Step time of ours (and PyTorch) with ``sz[key]`` scaled by each factor."""
    out = []
    for fac in factors:
        s = dict(sz)
        s[key] = max(1, int(round(sz[key] * fac)))
        t_o = time_ours(name, config, s, repeats=repeats)
        t_t = time_torch(name, config, s, repeats=repeats) if with_torch else None
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
        for name, res in results.items():
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


def run(fast=False, names=None, repeats=None, out=None, with_torch=None, scale=False,
        threads=1, stream=sys.stdout):
    """Run the benchmark; returns a dict (rows, peak_gflops, threads, pinned, scaling, table).

    ``out``: a folder for ``bench.json`` / ``bench_fast.json`` and the scaling plots (None:
    nothing written). ``threads``: pinned for NumPy's BLAS and PyTorch (None: left as is).
    """
    table = FAST if fast else REFERENCE
    avail = set(cells.available())
    wanted = list(names or table)
    unknown = sorted(set(wanted) - set(table))
    if unknown:
        raise ValueError(f"no benchmark for {unknown}; choose from {sorted(table)}")
    run_names = [n for n in wanted if n in avail]
    skipped = [n for n in wanted if n not in avail]
    if with_torch is None:
        with_torch = torch_available()
    repeats = repeats or (3 if fast else 5)
    pinned = pin_threads(threads, torch_too=with_torch) if threads else "left as is"
    n_threads = numpy_threads()
    size, reps = (256, 3) if fast else (2048, 5)
    peak = matmul_peak(size, repeats=reps)
    tpeak = torch_matmul_peak(size, repeats=reps) if with_torch else None
    rows = []
    for n in run_names:
        cfg, sz = table[n]
        rows.append(bench_cell(n, cfg, sz, peak, repeats=repeats, with_torch=with_torch))
        if stream is not None:
            r = rows[-1]
            msg = f"  {n}: ours {1e3 * r['ours_s']:.1f} ms"
            if r["torch_s"]:
                msg += f", torch {1e3 * r['torch_s']:.1f} ms"
            print(msg, file=stream, flush=True)
    # The peak is measured again after the rows and the larger value kept: on a shared
    # machine one measurement can land in a busy moment and make every %peak look too good.
    peak = max(peak, matmul_peak(size, repeats=reps))
    for r in rows:
        r["peak_frac"] = r["gflops"] / peak
    txt = format_table(rows, peak, n_threads, pinned, tpeak)
    if not with_torch:
        txt += ("\n(PyTorch not installed or not asked for: the torch columns are empty; "
                "pip install -r requirements-validation.txt)")
    if skipped:
        txt += f"\n(cells not available in this version, skipped: {skipped})"
    sc = {}
    if scale:
        for n in run_names:
            cfg, sz = table[n]
            base = dict(sz, B=64, H=512) if (not fast and n == "lstm") else dict(sz)  # keep it short
            sc[n] = {k: scaling(n, cfg, base, k, repeats=2, with_torch=with_torch) for k in ("T", "H")}
    res = {"rows": rows, "peak_gflops": peak, "torch_peak_gflops": tpeak, "threads": n_threads,
           "pinned": pinned, "scaling": sc, "table": txt, "fast": fast}
    if out:
        out = pathlib.Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if sc:
            res["plots"] = [str(p) for p in plot_scaling(sc, out)]
        (out / ("bench_fast.json" if fast else "bench.json")).write_text(json.dumps(res, indent=1, default=str))
    return res


def profile_cell(name, config, sz, top=15):
    """cProfile of one training step of our cell: where the time goes (returned as text)."""
    import cProfile
    import io
    import pstats

    cell, opt = make_ours(name, config, sz)
    x, dy = inputs(name, sz)
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
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench",
                                description="Time training steps (float32) against PyTorch autograd.")
    p.add_argument("--fast", action="store_true", help="tiny sizes (seconds), for smoke tests")
    p.add_argument("--cell", action="append", choices=sorted(REFERENCE), help="only these cells")
    p.add_argument("--repeats", type=int, default=None, help="timed steps per measurement (median)")
    p.add_argument("--scaling", action="store_true", help="also sweep T and H (plots in --out)")
    p.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    p.add_argument("--profile", action="store_true", help="print a cProfile of each cell's step")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for NumPy's BLAS and PyTorch (default 1)")
    p.add_argument("--out", default=None, help="folder for the JSON (and plots); default: none")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    for opt, v in (("--threads", args.threads), ("--repeats", args.repeats)):
        if v is not None and v < 1:
            print(f"error: {opt} must be >= 1", file=sys.stderr)
            return 2
    res = run(fast=args.fast, names=args.cell, repeats=args.repeats, out=args.out,
              with_torch=False if args.no_torch else None, scale=args.scaling, threads=args.threads)
    print(res["table"])
    for n, sc in res["scaling"].items():
        for key in ("T", "H"):
            pts = ", ".join(f"{key}={v}: {1e3 * o:.1f}" + (f"/{1e3 * t:.1f}" if t else "")
                            for v, o, t in sc[key])
            print(f"  scaling {n:<13} ours/torch ms  {pts}")
    if res.get("plots"):
        print("plots: " + ", ".join(res["plots"]))
    if args.profile:
        table = FAST if args.fast else REFERENCE
        for r in res["rows"]:
            print(f"\n=== profile of {r['cell']} ===")
            print(profile_cell(r["cell"], *table[r["cell"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
