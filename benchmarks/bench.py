"""Training-step benchmarks of the library against JAX, PyTorch and torch.compile (float32,
one thread for every framework).

Run from the repository root (see ``benchmarks/README.md``)::

    python -m benchmarks.bench            # the reference sizes, every peer (~10 minutes)
    python -m benchmarks.bench --fast     # tiny sizes (seconds): a smoke test
    python benchmarks/bench.py --help     # the same, as a script

For each cell at the reference sizes below we time a *full training step* — the forward over
the whole sequence, the hand-written backward (parameters and input), and an Adam update of
every parameter (plus the cell's projection) — in float32, and the same step written in the
peers a performance-minded user would pick, timed interleaved with ours: JAX (``jit`` +
``lax.scan``, ``custom_jvp`` spikes: ``benchmarks/jax_cells.py``), PyTorch eager autograd on
the same equations (``validation/torch_cells.py``), ``torch.compile`` of each cell's step
(``benchmarks/torch_compiled.py``) and, for the LSTM, ``torch.nn.LSTM`` (PyTorch's fused
kernel) with our weights. The loss is ``L = sum(dy * y)`` with a fixed random ``dy``: a
readout's cost is not the cell's. Before timing, each peer is checked to compute our numbers
(float64, tiny sizes). A missing framework is skipped with a message.

Printed per cell: the median step time of ours and of each peer and their ratios (targets:
ours <= 1.0x JAX on every seed cell, <= 1.0x the fused LSTM), the achieved GFLOP/s of the
matrix products and its share of this machine's measured float32 matmul peak (the large
LSTM: >= 70%), the memory of the BPTT cache against the theoretical minimum the exact
backward must keep (``benchmarks/memory.py``; at most 1.2x), and two floors: the matrix
products at the peak and the *call floor* (our step at B = H = n_in = 1: the interpreter's
share). Optionally the scaling of the step time with T and H (``--scaling``; every cell over
wider ranges: ``benchmarks/scaling.py``). Targets are read off the printout, never asserted
by a timed test.

Threads: one by default (``--threads N`` to change). Run as a script, the count is put in
``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` *before NumPy is
imported* (the only moment those variables are read); in every case it is then (re)applied
with ``threadpoolctl`` when installed, else through OpenBLAS's C API, and with
``torch.set_num_threads``; JAX gets ``--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`` in ``XLA_FLAGS`` before it is imported. The table states how
each was pinned and the count NumPy reports.

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

__all__ = ["REFERENCE", "FAST", "SEED_CELLS", "TARGETS", "jax_available", "jax_step", "call_floor", "pin_threads", "numpy_threads", "torch_available", "matmul_peak",
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


def torch_step(name, config, sz, fused=False, compiled=False):
    """A closure running the same training step in PyTorch autograd (float32).

    ``fused=True`` (lstm only): ``torch.nn.LSTM`` (PyTorch's own kernel) with our weights.
    ``compiled=True``: the cell's step compiled by ``torch.compile``
    (``benchmarks/torch_compiled.py``; the first call compiles). The input requires a
    gradient in every variant: ours computes ``dx`` (a layer above the first needs it), so
    every peer computes it too.
    """
    import torch

    from validation import torch_cells as tc

    cell, _ = make_ours(name, config, sz)
    cfg, buffers = _torch_config(cell)
    x_np, dy_np = inputs(name, sz)
    x, dy = torch.from_numpy(x_np).requires_grad_(True), torch.from_numpy(dy_np)
    if fused:
        mod = tc.to_torch_nn(name, cell.params, dtype=torch.float32)
        params = list(mod.parameters())

        def fwd():
            return mod(x)[0]
    else:
        P = {k: torch.tensor(v, requires_grad=True) for k, v in cell.params.items()}
        params = list(P.values())
        if compiled:
            from benchmarks import torch_compiled

            f_c = torch_compiled.compiled(name, cfg, buffers, sz["H"])

            def fwd():
                return f_c(P, x)
        else:
            f = tc.TORCH_CELLS[name]

            def fwd():
                return f(P, x, None, cfg, buffers, training=True)[0]
    opt = torch.optim.Adam(params, lr=1e-3)
    clamp = cfg.get("b_h_max") if name == "src" and not fused else None

    def step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        x.grad = None
        y = fwd()
        t1 = time.perf_counter()
        (dy * y).sum().backward()
        t2 = time.perf_counter()
        opt.step()
        if clamp is not None:  # ours: cell.project() clamps b_h after the update
            with torch.no_grad():
                P["b_h"].clamp_(max=clamp)
        t3 = time.perf_counter()
        return _phases(t0, t1, t2, t3)

    return step


def jax_available():
    """Whether JAX is installed (an optional extra: ``pip install -r requirements-bench.txt``)."""
    from benchmarks import jax_cells

    return jax_cells.available()


def jax_step(name, config, sz):
    """A closure running the same training step in JAX: forward (``lax.scan``), ``jax.grad``
    (params and ``x``), Adam (and src's clamp), one ``jax.jit``-compiled function
    (``benchmarks/jax_cells.py``; the first call compiles)."""
    from benchmarks import jax_cells as jc

    jax, _ = jc.import_jax()
    import jax.numpy as jnp

    cell, _ = make_ours(name, config, sz)
    cfg = dataclasses.asdict(cell.config)
    x_np, dy_np = inputs(name, sz)
    x, dy = jnp.asarray(x_np), jnp.asarray(dy_np)
    fn = jc.train_step(name, cfg, cell.buffers, b_h_max=cfg.get("b_h_max") if name == "src" else None)
    state = {"P": jc.to_jax(cell.params)}
    state["m"] = jax.tree_util.tree_map(jnp.zeros_like, state["P"])
    state["v"] = jax.tree_util.tree_map(jnp.zeros_like, state["P"])
    state["t"] = 0

    def step():
        state["t"] += 1
        t0 = time.perf_counter()
        out = fn(state["P"], state["m"], state["v"], jnp.float32(state["t"]), x, dy)
        jax.block_until_ready(out)
        t1 = time.perf_counter()
        state["P"], state["m"], state["v"] = out[0], out[1], out[2]
        return {"step": t1 - t0}

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
            c0 = time.process_time()
            try:
                ph = st()
            finally:
                gc.enable()
            # CPU time of the whole process over the step: about the wall time when the
            # framework really ran on one thread (more: it used others)
            ph = dict(ph, cpu=time.process_time() - c0)
            if k >= warmup:
                out[j].append(ph)
    return out


def _summary(samples):
    med = {k: statistics.median(p[k] for p in samples) for k in samples[0]}
    med["best"] = min(p["step"] for p in samples)
    med["cpu_per_wall"] = sum(p["cpu"] for p in samples) / sum(p["step"] for p in samples)
    return med


def time_ours(name, config, sz, repeats=5, warmup=1):
    """Median seconds of one training step of our cell (forward, backward, Adam, project)."""
    (samples,) = _measure([ours_step(name, config, sz)], repeats, warmup)
    return _summary(samples)["step"]


def time_torch(name, config, sz, repeats=5, warmup=1, fused=False):
    """Median seconds of the same training step in PyTorch autograd (float32)."""
    (samples,) = _measure([torch_step(name, config, sz, fused)], repeats, warmup)
    return _summary(samples)["step"]


def agreement(name, config, T=9, B=3, H=6, n_in=4, peer="torch"):
    """Our cell and a peer's version (as timed) on the same tiny problem, in float64: the
    :class:`reference.Comparison` of y, dx and every parameter gradient (else the timing
    ratios would compare different computations).

    ``peer``: "torch" (``validation/torch_cells.py``, autograd), "compile" (the step
    functions of ``benchmarks/torch_compiled.py`` that the benchmark compiles, run
    uncompiled: a float64 compilation would cost another compile) or "jax"
    (``benchmarks/jax_cells.py``, ``jax.vjp``).
    """
    sz = dict(T=T, B=B, H=H, n_in=n_in)
    cell, _ = make_ours(name, config, sz, dtype=np.float64)
    cell.training = False
    x, dy = inputs(name, sz, np.float64)
    y, cache = cell.forward(x)
    dx, grads = cell.backward(dy, cache)
    ours = {"y": y, "dx": dx, **{f"grads/{k}": v for k, v in grads.items()}}
    cfg, buffers = _torch_config(cell)
    if peer == "jax":
        from benchmarks import jax_cells as jc

        jc.import_jax()
        import jax.numpy as jnp

        yj, gx, gP = jc.value_and_grads(name, jc.to_jax(cell.params, np.float64), jnp.asarray(x),
                                        jnp.asarray(dy), cfg, buffers)
        theirs = {"y": np.asarray(yj), "dx": np.asarray(gx),
                  **{f"grads/{k}": np.asarray(v) for k, v in gP.items()}}
        return reference.compare(ours, theirs)
    import torch

    from validation import torch_cells as tc

    P = {k: torch.tensor(v, requires_grad=True) for k, v in cell.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    if peer == "compile":
        from benchmarks import torch_compiled

        yt = torch_compiled.sequence(name, cfg, buffers, H, compile=False)(P, xt)
    else:
        yt = tc.TORCH_CELLS[name](P, xt, None, cfg, buffers)[0]
    (torch.tensor(dy) * yt).sum().backward()
    theirs = {"y": yt.detach().numpy(), "dx": xt.grad.numpy(),
              **{f"grads/{k}": v.grad.numpy() for k, v in P.items()}}
    return reference.compare(ours, theirs)


def call_floor(name, config, sz, repeats=5):
    """The interpreter's share of our step (seconds): the same training step (same T, same
    configuration) with one sequence, one input and one hidden unit — every NumPy call is
    made, on 1-element arrays, so what remains is the per-call cost of the Python loop, no
    arithmetic. A compiled peer (JAX's scan) pays none of it; NumPy pays it whatever the
    arithmetic is fused into, as long as each equation is one NumPy expression per step.
    """
    return time_ours(name, config, dict(sz, B=1, H=1, n_in=1), repeats=repeats)


def measure_memory(name, config, sz):
    """``(cache bytes, traced peak bytes)`` of one forward + backward of our cell (float32)."""
    cell, _ = make_ours(name, config, sz)
    cell.training = False
    x, dy = inputs(name, sz)
    return memory.memory_ours(cell, x, dy)


# --------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------
#: The seed cells (one per paper) and the large LSTM: the targets of the benchmark.
SEED_CELLS = ("spiking_lstm", "lif", "gated_lif", "src")

#: Targets, printed (never asserted): ours <= 1.0x JAX jit on every seed cell, <= 1.0x the
#: fused torch.nn.LSTM and >= 70% of the matmul peak on the large LSTM, cache <= 1.2x min.
TARGETS = dict(ratio_jax=1.0, ratio_fused=1.0, lstm_peak_frac=0.70, cache_ratio=1.2)


def _first_call(step):
    """Run a peer's first step (compilation) outside the timing; its seconds."""
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def bench_cell(name, config, sz, peak, repeats=5, with_torch=True, with_jax=False, with_compile=False,
               floor=True):
    """One row of the table (a dict). Ours and every peer run interleaved (same load):
    PyTorch eager autograd, ``torch.nn.LSTM`` (lstm), JAX jit + scan, torch.compile."""
    cell, _ = make_ours(name, config, sz)
    flops = matmul_flops(cell, sz["T"], sz["B"])
    steps, which = [ours_step(name, config, sz)], ["ours"]
    compile_s = {}
    if with_torch:
        steps.append(torch_step(name, config, sz))
        which.append("torch")
        if name == "lstm":
            steps.append(torch_step(name, config, sz, fused=True))
            which.append("fused")
    if with_jax:
        steps.append(jax_step(name, config, sz))
        which.append("jax")
        compile_s["jax"] = _first_call(steps[-1])
    if with_compile:
        steps.append(torch_step(name, config, sz, compiled=True))
        which.append("compile")
        compile_s["compile"] = _first_call(steps[-1])
    res = dict(zip(which, (_summary(s) for s in _measure(steps, repeats))))
    ph = res["ours"]
    cb, peak_mem = measure_memory(name, config, sz)
    mn = memory.min_cache_bytes(name, sz["T"], sz["B"], sz["H"])
    row = dict(cell=name, config=config, **sz, ours_s=ph["step"], ours_best_s=ph["best"], phases=ph,
               gflops=flops / ph["step"] / 1e9, peak_frac=flops / ph["step"] / 1e9 / peak,
               cache_mb=cb / 2 ** 20, min_mb=None if mn is None else mn / 2 ** 20,
               cache_ratio=None if not mn else cb / mn, traced_peak_mb=peak_mem / 2 ** 20,
               torch_s=None, torch_best_s=None, ratio=None, ratio_best=None, torch_phases=None,
               torch_nn_s=None, torch_nn_best_s=None, ratio_fused=None, agree=None,
               jax_s=None, jax_best_s=None, ratio_jax=None, ratio_jax_best=None, jax_agree=None,
               compile_s=None, compile_best_s=None, ratio_compile=None, ratio_compile_best=None,
               compile_agree=None, compile_time_s=compile_s,
               cpu_per_wall={k: v["cpu_per_wall"] for k, v in res.items()},
               call_floor_s=None, ratio_jax_cpu=None)
    for peer, key in (("torch", "torch"), ("jax", "jax"), ("compile", "compile")):
        if peer in res:
            r = res[peer]
            ratio_key = "ratio" if peer == "torch" else f"ratio_{peer}"
            row.update({f"{key}_s": r["step"], f"{key}_best_s": r["best"],
                        ratio_key: ph["step"] / r["step"], f"{ratio_key}_best": ph["best"] / r["best"],
                        ("agree" if peer == "torch" else f"{peer}_agree"):
                            agreement(name, config, peer=peer).max_error})
    if "jax" in res:  # CPU time: what the step costs the machine, less sensitive to its load
        row["ratio_jax_cpu"] = ph["cpu"] / res["jax"]["cpu"]
    if "torch" in res:
        row["torch_phases"] = res["torch"]
    if "fused" in res:
        row.update(torch_nn_s=res["fused"]["step"], torch_nn_best_s=res["fused"]["best"],
                   ratio_fused=ph["step"] / res["fused"]["step"])
    if floor:
        row["call_floor_s"] = call_floor(name, config, sz)
    return row


def _targets(r):
    """The targets a row is held to, as ``(label, value, goal, met)``."""
    out = []
    if r["cell"] in SEED_CELLS and r["ratio_jax"] is not None:
        out.append(("ours/JAX", r["ratio_jax"], TARGETS["ratio_jax"], r["ratio_jax"] <= TARGETS["ratio_jax"]))
    if r["cell"] == "lstm":
        if r["ratio_fused"] is not None:
            out.append(("ours/fused", r["ratio_fused"], TARGETS["ratio_fused"],
                        r["ratio_fused"] <= TARGETS["ratio_fused"]))
        out.append(("%peak", r["peak_frac"], TARGETS["lstm_peak_frac"],
                    r["peak_frac"] >= TARGETS["lstm_peak_frac"]))
    if r["cache_ratio"] is not None:
        out.append(("cache/min", r["cache_ratio"], TARGETS["cache_ratio"],
                    r["cache_ratio"] <= TARGETS["cache_ratio"]))
    return out


def format_table(rows, peak, threads, pinned="", tpeak=None):
    """The printed side-by-side table of :func:`run`'s rows."""
    def f(v, fmt, scale=1.0):
        return "-" if v is None else format(scale * v, fmt)

    lines = [f"float32, {threads} BLAS thread(s) (pinned by: {pinned or 'not pinned'}); "
             f"float32 matmul peak {peak:.1f} GFLOP/s (NumPy GEMM)"
             + (f", PyTorch's GEMM {tpeak:.1f}" if tpeak else "")
             + "; loss sum(dy*y), Adam lr 1e-3; every peer computes dx too",
             f"{'cell':<13}{'B':>4}{'T':>5}{'H':>6}{'ours ms':>9}{'JAX ms':>9}{'eager ms':>9}"
             f"{'compile ms':>11}{'fused ms':>9} |{'/JAX':>6}{'/eager':>7}{'/comp':>7}{'/fused':>7}"
             f"{'best/JAX':>9}{'cpu/JAX':>8} |{'GFLOP/s':>8}{'%peak':>6}{'cache MB':>9}{'x min':>6}"]
    for r in rows:
        lines.append(
            f"{r['cell']:<13}{r['B']:>4}{r['T']:>5}{r['H']:>6}{1e3 * r['ours_s']:>9.1f}"
            f"{f(r['jax_s'], '.1f', 1e3):>9}{f(r['torch_s'], '.1f', 1e3):>9}"
            f"{f(r['compile_s'], '.1f', 1e3):>11}{f(r['torch_nn_s'], '.1f', 1e3):>9} |"
            f"{f(r['ratio_jax'], '.2f'):>6}{f(r['ratio'], '.2f'):>7}{f(r['ratio_compile'], '.2f'):>7}"
            f"{f(r['ratio_fused'], '.2f'):>7}{f(r['ratio_jax_best'], '.2f'):>9}{f(r['ratio_jax_cpu'], '.2f'):>8} |"
            f"{r['gflops']:>8.1f}{100 * r['peak_frac']:>5.0f}%{r['cache_mb']:>9.2f}"
            f"{f(r['cache_ratio'], '.2f'):>6}")
    lines.append("ratios: ours / peer, median over median of interleaved steps (best: fastest over "
                 "fastest; cpu: median CPU time over median CPU time); '-': peer not run")
    lines.append("")
    lines.append(f"{'cell':<13}{'fwd/bwd/adam ms':>17}{'call floor ms':>14}"
                 f"{'BLAS floor ms':>14}{'agree eager/JAX/compile':>25}{'compile s JAX/torch':>21}"
                 f"{'cpu/wall ours/JAX/eager/compile':>33}")
    for r in rows:
        ph = r["phases"]
        phs = f"{1e3 * ph['forward']:.1f}/{1e3 * ph['backward']:.1f}/{1e3 * ph['adam']:.1f}"
        agree = "/".join(f(r[k], ".0e") for k in ("agree", "jax_agree", "compile_agree"))
        comp = "/".join(f(r["compile_time_s"].get(k), ".1f") for k in ("jax", "compile"))
        cpw = "/".join(f(r["cpu_per_wall"].get(k), ".2f") for k in ("ours", "jax", "torch", "compile"))
        blas = r["gflops"] * r["ours_s"] / (r["gflops"] / r["peak_frac"])  # matrix products at peak
        lines.append(f"{r['cell']:<13}{phs:>17}{f(r['call_floor_s'], '.1f', 1e3):>14}"
                     f"{1e3 * blas:>14.1f}{agree:>25}{comp:>21}{cpw:>33}")
    lines.append("call floor: our step with B = H = n_in = 1 (every NumPy call, no arithmetic: the "
                 "interpreter's share); BLAS floor: our "
                 "matrix products at the measured peak; agree: largest relative error of the peer "
                 "against ours (float64, tiny sizes); cpu/wall: process CPU time over wall time "
                 "(about 1 on one thread, less when the machine is shared)")
    lines.append("")
    lines.append("targets (read off, never asserted): ours/JAX <= 1.0 on every seed cell; lstm: "
                 "ours/fused <= 1.0 and >= 70% of the matmul peak; cache <= 1.2x min")
    for r in rows:
        t = _targets(r)
        if t:
            lines.append(f"  {r['cell']:<13}" + "; ".join(
                (f"{lab} {100 * val:.0f}% ({'met' if ok else 'NOT met'}, goal >= {100 * goal:.0f}%)" if lab == "%peak"
                 else f"{lab} {val:.2f} ({'met' if ok else 'NOT met'}, goal <= {goal})")
                for lab, val, goal, ok in t))
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
        threads=1, stream=sys.stdout, with_jax=None, with_compile=None):
    """Run the benchmark; returns a dict (rows, peak_gflops, threads, pinned, scaling, table).

    ``out``: a folder for ``bench.json`` / ``bench_fast.json`` and the scaling plots (None:
    nothing written). ``threads``: pinned for NumPy's BLAS, PyTorch and JAX (None: left as
    is). ``with_jax`` / ``with_compile`` (None: JAX when installed; torch.compile when
    PyTorch is and not ``fast``, its compilations taking ~15 s a cell): the compiled peers.
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
    notes = []
    if with_jax is None:
        with_jax = jax_available()
        if not with_jax:
            notes.append("(JAX not installed: its column is empty; pip install -r requirements-bench.txt)")
    if with_compile is None:
        with_compile = with_torch and not fast
        if with_torch and fast:
            notes.append("(torch.compile skipped in fast mode: ~15 s of compilation a cell; --compile to run it)")
    with_compile = with_compile and with_torch
    repeats = repeats or (3 if fast else 5)
    pinned = pin_threads(threads, torch_too=with_torch) if threads else "left as is"
    if with_jax:
        from benchmarks import jax_cells

        pinned += "; JAX: " + jax_cells.import_jax(one_thread=bool(threads) and int(threads) == 1)[1]
    n_threads = numpy_threads()
    size, reps = (256, 3) if fast else (2048, 5)
    peak = matmul_peak(size, repeats=reps)
    tpeak = torch_matmul_peak(size, repeats=reps) if with_torch else None
    rows = []
    for n in run_names:
        cfg, sz = table[n]
        rows.append(bench_cell(n, cfg, sz, peak, repeats=repeats, with_torch=with_torch,
                               with_jax=with_jax, with_compile=with_compile))
        if stream is not None:
            r = rows[-1]
            msg = f"  {n}: ours {1e3 * r['ours_s']:.1f} ms"
            for k, lab in (("jax_s", "JAX"), ("torch_s", "torch"), ("compile_s", "compile"),
                           ("torch_nn_s", "fused")):
                if r[k]:
                    msg += f", {lab} {1e3 * r[k]:.1f} ms"
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
    for note in notes:
        txt += "\n" + note
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
    # strip_dirs: file names without the folders of the machine that ran it (committed outputs)
    pstats.Stats(pr, stream=s).strip_dirs().sort_stats("tottime").print_stats(top)
    return s.getvalue()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench",
                                description="Time training steps (float32) against JAX jit, PyTorch eager and torch.compile.")
    p.add_argument("--fast", action="store_true", help="tiny sizes (seconds), for smoke tests")
    p.add_argument("--cell", action="append", choices=sorted(REFERENCE), help="only these cells")
    p.add_argument("--repeats", type=int, default=None, help="timed steps per measurement (median)")
    p.add_argument("--scaling", action="store_true", help="also sweep T and H (plots in --out)")
    p.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    p.add_argument("--no-jax", action="store_true", help="do not time JAX")
    p.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="time torch.compile (default: yes, but not with --fast)")
    p.add_argument("--no-compile", dest="compile", action="store_false", help="do not time torch.compile")
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
              with_torch=False if args.no_torch else None, scale=args.scaling, threads=args.threads,
              with_jax=False if args.no_jax else None, with_compile=args.compile)
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
