"""The benchmark's cells written a third time, in JAX (``jit`` + ``lax.scan``), for timing.

A compiled peer: what a performance-minded user would write. Only the configurations the
benchmark times are covered (``bench.REFERENCE``: spiking_lstm, lif, gated_lif v2 with its
default multi-bit output, src, lstm, all with their default options); every function is
written from the equations (the cell modules' docstrings), not imported from
``snn_from_scratch``. The points where the backward is a rule rather than a derivative are
``jax.custom_jvp`` functions:

* a spike ``H(u) = 1[u > 0]``: forward the step, derivative ``surrogate(u)``;
* the multi-bit quantizer (Ponghiran & Roy Eq. 22): forward the levels, derivative the
  clip mask ``1[|V| <= b]`` (straight-through of clip(V, -b, b));
* SRC's bypassed ReLU and its detached recurrent states: ``lax.stop_gradient``.

As in ours, the input projection of all steps is one matrix product before the loop, the
loop is a ``lax.scan``, and a training step (forward, ``jax.grad`` of ``sum(dy * y)``,
Adam, and SRC's clamp of ``b_h``) is one ``jax.jit``-compiled function.

Threads: XLA reads ``XLA_FLAGS`` when ``jax`` is first imported; :func:`import_jax` sets
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` before that (one
thread, as NumPy and PyTorch in the benchmark). Importing this module does not import JAX:
``available()`` says whether it is installed (an optional extra:
``pip install -r requirements-bench.txt``).
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np

__all__ = ["available", "import_jax", "XLA_ONE_THREAD", "CELLS", "forward", "train_step",
           "value_and_grads"]

#: XLA flags that keep JAX's CPU backend on one thread (Eigen's pool and the op parallelism).
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def available():
    """Whether JAX is installed (without importing it)."""
    return importlib.util.find_spec("jax") is not None


def import_jax(one_thread=True):
    """Import JAX (float64 enabled, for the agreement check; float32 arrays stay float32).

    With ``one_thread`` the XLA flags of :data:`XLA_ONE_THREAD` are put in ``XLA_FLAGS``
    first; returns ``(jax, how)``, ``how`` saying how the threads were pinned (or that
    JAX had been imported before, when the flags can no longer act).
    """
    how = "JAX imported before: XLA_FLAGS not applied"
    if "jax" not in sys.modules:
        if one_thread:
            flags = os.environ.get("XLA_FLAGS", "")
            if "xla_cpu_multi_thread_eigen" not in flags:
                os.environ["XLA_FLAGS"] = (flags + " " + XLA_ONE_THREAD).strip()
        how = f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax, how


# ======================================================================================
# the non-differentiable points
# ======================================================================================
def _spike(grad_fn):
    """H(u) = 1[u > 0] with derivative ``grad_fn(u)`` (a ``custom_jvp``)."""
    import jax

    @jax.custom_jvp
    def spike(u):
        return (u > 0).astype(u.dtype)

    @spike.defjvp
    def _jvp(primals, tangents):
        (u,), (du,) = primals, tangents
        return spike(u), du * grad_fn(u)

    return spike


def _gaussian(a):
    import jax.numpy as jnp

    return lambda u: jnp.exp(-(u * u) / a) / math.sqrt(math.pi * a)


def _triangle(height=1.0, width=1.0):
    import jax.numpy as jnp

    return lambda u: height * jnp.maximum(0.0, 1.0 - jnp.abs(u) / width)


def _quantizer(n_bits, k, margin=1.0):
    """Eq. 22 (unsigned, V > gamma emits): ``Y = q w`` with w = b / (2^N r), derivative the
    clip mask 1[|V| <= b] (b a constant)."""
    import jax
    import jax.numpy as jnp

    levels = 2 ** n_bits

    @jax.custom_jvp
    def quantize(V, b):
        w = b / (levels * margin)
        q = jnp.minimum(jnp.floor(jnp.minimum(V, b) / w), levels - 1)
        q = jnp.where(V > k * w, q, 0.0).astype(V.dtype)
        return q * w.astype(V.dtype)

    @quantize.defjvp
    def _jvp(primals, tangents):
        (V, b), (dV, _) = primals, tangents
        return quantize(V, b), dV * (jnp.abs(V) <= b).astype(V.dtype)

    return quantize


# ======================================================================================
# the cells (default options of each; P holds our parameter names and layouts)
# ======================================================================================
def _project(x, W, b=None):
    T, B, n = x.shape
    A = x.reshape(T * B, n) @ W
    if b is not None:
        A = A + b
    return A.reshape(T, B, -1)


def spiking_lstm(P, x, cfg, buffers):
    """Lotfi Rezaabad & Vishwanath Eq. 1 + the unit-state threshold, Gaussian surrogates."""
    import jax
    import jax.numpy as jnp

    s1, s2, sc = (_spike(_gaussian(cfg[a])) for a in ("a1", "a2", "a_c"))
    th1, th2, thc = cfg["theta1"], cfg["theta2"], cfg["theta_c"]
    H = P["W_h"].shape[0]
    A = _project(x, P["W_x"])
    W_h, b = P["W_h"], P["b"]

    def step(carry, a):
        h, c = carry
        u = a + h @ W_h + b
        f, i = s1(u[:, :H] - th1), s1(u[:, H:2 * H] - th1)
        g, o = s2(u[:, 2 * H:3 * H] - th2), s1(u[:, 3 * H:] - th1)
        c = sc(f * c + i * g - thc)
        h = o * c
        return (h, c), h

    z = jnp.zeros((x.shape[1], H), x.dtype)
    return jax.lax.scan(step, (z, z), A)[1]


def lif(P, x, cfg, buffers):
    """Ponghiran & Roy Eq. 7-9: synaptic current, reset by subtraction in the next step (not
    detached), binary spikes with the triangle surrogate."""
    import jax
    import jax.numpy as jnp

    spike = _spike(_triangle(**cfg["surrogate_params"]))
    alpha, beta, gamma = cfg["alpha"], cfg["beta"], cfg["threshold"]
    A = _project(x, P["W"])

    def step(carry, a):
        I, V, Y = carry
        I = beta * I + a                       # Eq. 7
        V = alpha * V + I - gamma * Y          # Eq. 8
        Y = spike(V - gamma)                   # Eq. 9
        return (I, V, Y), Y

    z = jnp.zeros((x.shape[1], P["W"].shape[1]), x.dtype)
    return jax.lax.scan(step, (z, z, z), A)[1]


def gated_lif(P, x, cfg, buffers):
    """Ponghiran & Roy Eq. 19-21 (v2) with the multi-bit output of Eq. 22 (range b fixed)."""
    import jax
    import jax.numpy as jnp

    quant = _quantizer(cfg["n_bits"], cfg["threshold_levels"], cfg["scale_margin"])
    alpha = cfg["alpha"]
    b = jnp.asarray(buffers["b"], x.dtype)
    A_f, A_c = _project(x, P["W_f"], P["b_f"]), _project(x, P["W_c"], P["b_c"])
    U_f, U_c = P["U_f"], P["U_c"]

    def step(carry, a):
        I, V, Y = carry
        a_f, a_c = a
        F = jax.nn.sigmoid(a_f + Y @ U_f)               # Eq. 19
        a_c = a_c + Y @ U_c
        C = jnp.where(a_c > 0, a_c, 0.0)                # Eq. 20 (ReLU'(0) = 0, as ours)
        I = F * I + (1 - F) * C                         # Eq. 21
        V = alpha * V + I - Y                           # Eq. 8, the transmitted value subtracted
        Y = quant(V, b)                                 # Eq. 22
        return (I, V, Y), Y

    z = jnp.zeros((x.shape[1], P["W_f"].shape[1]), x.dtype)
    return jax.lax.scan(step, (z, z, z), (A_f, A_c))[1]


def src(P, x, cfg, buffers):
    """De Geeter et al. Eq. 3a-3f, bypassed ReLU and detached recurrent states (defaults)."""
    import jax
    import jax.numpy as jnp

    sg = jax.lax.stop_gradient
    c = cfg
    A = _project(x, P["W"])
    b_h = P["b_h"]

    def step(carry, a):
        i, h, h_s = carry
        i = c["alpha"] * i + a                                     # 3a
        xx = c["rho"] * jnp.tanh(i / c["rho"])                     # 3b
        hp, hsp = sg(h), sg(h_s)
        z_s = jnp.where(hp > 0.5, c["z_dep"], c["z_hyp"]).astype(i.dtype)   # 3c
        h = jnp.tanh(xx + c["r"] * hp + c["r_s"] * hsp + b_h)      # 3d
        h_s = z_s * hsp + (1.0 - z_s) * hp                         # 3e
        s = h + sg(jnp.maximum(h, 0.0) - h)                        # 3f, identity backward
        return (i, h, h_s), s

    z = jnp.zeros((x.shape[1], P["W"].shape[1]), x.dtype)
    return jax.lax.scan(step, (z, z, z), A)[1]


def lstm(P, x, cfg, buffers):
    """The LSTM, gate blocks f, i, g, o (ours)."""
    import jax
    import jax.numpy as jnp

    H = P["W_h"].shape[0]
    A = _project(x, P["W_x"], P["b"])
    W_h = P["W_h"]

    def step(carry, a):
        h, c = carry
        u = a + h @ W_h
        f, i = jax.nn.sigmoid(u[:, :H]), jax.nn.sigmoid(u[:, H:2 * H])
        g, o = jnp.tanh(u[:, 2 * H:3 * H]), jax.nn.sigmoid(u[:, 3 * H:])
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return (h, c), h

    z = jnp.zeros((x.shape[1], H), x.dtype)
    return jax.lax.scan(step, (z, z), A)[1]


#: cell name -> JAX forward ``f(P, x, cfg, buffers) -> y``.
CELLS = {"spiking_lstm": spiking_lstm, "lif": lif, "gated_lif": gated_lif, "src": src,
         "lstm": lstm}


def _check_config(name, cfg):
    """Refuse a configuration the JAX versions do not cover (else timings compare apples and
    pears)."""
    want = {"lif": dict(synaptic=True, recurrent=False, reset="subtract", detach_reset=False,
                        reset_timing="next_step", output="binary", surrogate="triangle",
                        spike_at_threshold=False, norm="none", learn_alpha=False,
                        learn_threshold=False, learn_beta=False),
            "gated_lif": dict(variant="v2", reset="subtract", detach_reset=False,
                              reset_timing="next_step", output="multibit", signed=False,
                              spike_at_threshold=False, norm="none", range_estimator="max_abs"),
            "src": dict(bypass_relu=True, detach_recurrent=True),
            "spiking_lstm": dict(cell_grad="gaussian")}.get(name, {})
    bad = {k: cfg.get(k) for k, v in want.items() if cfg.get(k) != v}
    if bad:
        raise ValueError(f"the JAX {name} covers the benchmark's configuration only; got {bad}")


def forward(name, P, x, cfg, buffers=None):
    """``y`` of the JAX version of ``name`` (eager; for the agreement check)."""
    _check_config(name, cfg)
    return CELLS[name](P, x, cfg, dict(buffers or {}))


def value_and_grads(name, P, x, dy, cfg, buffers=None):
    """``(y, dx, grads)`` of ``L = sum(dy * y)`` by ``jax.vjp`` (float64 agreement check)."""
    import jax

    _check_config(name, cfg)
    f = CELLS[name]
    buffers = dict(buffers or {})
    y, vjp = jax.vjp(lambda P_, x_: f(P_, x_, cfg, buffers), P, x)
    gP, gx = vjp(dy)
    return y, gx, gP


def train_step(name, cfg, buffers, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, b_h_max=None):
    """A ``jax.jit``-compiled training step ``(P, m, v, t, x, dy) -> (P, m, v)``: forward,
    ``jax.grad`` of ``sum(dy * y)``, Adam (bias-corrected, as ``snn_from_scratch.optim``)
    and, for src, the clamp ``b_h <= b_h_max``."""
    import jax
    import jax.numpy as jnp

    _check_config(name, cfg)
    f = CELLS[name]
    buffers = dict(buffers or {})

    def loss(P, x, dy):
        return jnp.sum(dy * f(P, x, cfg, buffers))

    def step(P, m, v, t, x, dy):
        g = jax.grad(loss)(P, x, dy)
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        P = jax.tree_util.tree_map(lambda p, m_, v_: p - lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps),
                                   P, m, v)
        if b_h_max is not None and "b_h" in P:
            P = dict(P, b_h=jnp.minimum(P["b_h"], b_h_max))
        return P, m, v

    return jax.jit(step)


def to_jax(params, dtype=np.float32):
    """Our params dict as JAX arrays of ``dtype``."""
    import jax.numpy as jnp

    return {k: jnp.asarray(np.asarray(v, dtype)) for k, v in params.items()}
