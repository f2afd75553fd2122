"""Gradient flow and cost accounting for the LIF family (Ponghiran & Roy 2022, Sec. 2-3).

Gradient flow
    :func:`bptt_steps` re-runs the cells' own hand-written backward steps
    (``lif.step_backward`` / ``gated_lif.step_backward``) and returns the per-step
    pre-activation gradients, from which :func:`per_step_weight_grads` forms the
    contributions ``dJ/dW[n] = X[n]^T dA[n]`` of Eq. 11 (their sum over n is the cell's
    ``backward`` weight gradient, exactly). A gradient can be injected at the final state
    (``dstate_final``), e.g. at ``I[N]`` only, which isolates the synaptic path whose
    closed form is ``beta^(N-n) X[n]`` (Eq. 15). :func:`P_factor` is Eq. 13's
    ``P[n] = d(alpha V[n] - gamma Y[n]) / dV[n]`` under the backward rule.

Cost accounting
    :func:`param_counts` (m inputs, n units: m*n; v1 2mn; v2 2(mn+n^2); GRU 3(mn+n^2);
    LSTM 4(mn+n^2); biases separately) and :func:`multiplications` per time step (Eq. 10
    and the GRU/LSTM counterparts of Sec. 2), with the input density measured on a run.

A note on Eq. 10: the paper calls ``s`` "a ratio of zeros in the input vector", but the
count ``s*m*n`` only shrinks with sparser inputs if ``s`` is the ratio of NON-zeros (and
the quoted 6/s, 8/s savings only make sense that way). We use the density ``d`` =
fraction of non-zero inputs.
"""
from __future__ import annotations

import numpy as np

from .cells import gated_lif as _gated
from .cells import lif as _lif

__all__ = ["bptt_steps", "per_step_weight_grads", "synaptic_path_check", "P_factor",
           "gradient_curve", "param_counts", "multiplications", "zero_fraction", "density",
           "network_multiplications"]


def bptt_steps(cell, cache, dy=None, dstate_final=None):
    """Per-step pre-activation gradients of a lif / gated_lif forward ``cache``.

    ``dy`` (T, B, H): gradient on the outputs (None = zeros); ``dstate_final``: a State of
    gradients on the final (I, V, Y) (None = zeros). Returns a dict of (T, B, H) arrays:
    ``{"W": dA}`` for lif (dA[n] = dJ/d(X[n] W)), ``{"W_f": dA_f, "W_c": dA_c}`` for
    gated_lif. The loop is the cell's own (same ``step_backward`` functions).
    """
    caches, neuron = cache["caches"], cache["neuron"]
    T = len(caches)
    B, H = cache["final_state"].I.shape
    dt = cache["final_state"].I.dtype
    dy = np.zeros((T, B, H), dt) if dy is None else dy
    z = np.zeros((B, H), dt)
    dst = cell.State(z, z, z) if dstate_final is None else cell.State(*dstate_final)
    if cell.name == "lif":
        c, p = cell.config, cell.params
        alpha, gamma, beta = cell._coeffs()
        dA = np.empty((T, B, H), dt)
        for t in reversed(range(T)):
            dst = cell.State(dst.I, dst.V, dst.Y + dy[t])
            dA[t], dst, _ = _lif.step_backward(dst, caches[t], beta, alpha, gamma, neuron, c.synaptic)
        return {"W": dA}
    if cell.name == "gated_lif":
        c, p = cell.config, cell.params
        dAf, dAc = np.empty((T, B, H), dt), np.empty((T, B, H), dt)
        for t in reversed(range(T)):
            dst = cell.State(dst.I, dst.V, dst.Y + dy[t])
            dAf[t], dAc[t], dst = _gated.step_backward(dst, caches[t], p, c.alpha, c.threshold,
                                                       neuron, c.variant == "v2")
        return {"W_f": dAf, "W_c": dAc}
    raise ValueError(f"bptt_steps supports the lif and gated_lif cells, got {cell.name!r}")


def per_step_weight_grads(x, dA):
    """Eq. 11's terms ``dJ/dW[n] = X[n]^T dA[n]``: (T, n_in, H) for x (T, B, n_in)."""
    return np.einsum("tbi,tbh->tih", x, dA)


def synaptic_path_check(cell, x, g, state=None):
    """Eq. 15, measured: inject ``g = dJ/dI[N]`` (B, H) at the last synaptic current only and
    run the hand-written BPTT. Returns ``(measured, closed_form)``, both (T, n_in, H): the
    per-step contributions ``dJ/dW[n]`` and ``beta^(N-n) X[n]^T g``. The two agree to
    roundoff because the synaptic path multiplies by beta once per step back."""
    if cell.name != "lif" or not cell.config.synaptic:
        raise ValueError("synaptic_path_check needs a lif cell with synaptic=True")
    _, cache = cell.forward(x, state)
    z = np.zeros_like(g)
    dA = bptt_steps(cell, cache, dstate_final=cell.State(g, z, z))["W"]
    measured = per_step_weight_grads(x, dA)
    T = x.shape[0]
    beta = cell._coeffs()[2]
    powers = np.asarray(beta, dtype=x.dtype) ** np.arange(T - 1, -1, -1, dtype=x.dtype)[:, None]  # (T, 1|H)
    closed = np.einsum("tbi,bh->tih", x, g) * powers[:, None, :]
    return measured, closed


def P_factor(cell, cache):
    """Eq. 13, ``P[n] = dV[n+1]/dV[n]`` along the membrane for each step (T, B, H).

    Subtractive reset: ``alpha - gamma * U'(V[n] - gamma)`` (binary, U' the surrogate) or
    ``alpha - 1[|V[n]| <= b]`` (multi-bit: the reset subtracts Y, whose straight-through
    derivative is 1); a detached reset leaves ``alpha``. Zero reset:
    ``alpha (1 - Y[n]) - alpha V[n] U'(V[n] - gamma)``.
    """
    caches, neuron = cache["caches"], cache["neuron"]
    if cell.name == "lif":
        alpha, gamma, _ = cell._coeffs()
    else:
        alpha, gamma = cell.config.alpha, cell.config.threshold
    T = len(caches)
    out = []
    for t in range(T):
        # membrane cache of step t: (V[t-1], Y[t-1], dY[t]/dV[t]); V[t], Y[t] are in the next one
        g_n = caches[t][-1][2]
        if t + 1 < T:
            V_n, Y_n = caches[t + 1][-1][0], caches[t + 1][-1][1]
        else:
            V_n, Y_n = cache["final_state"].V, cache["final_state"].Y
        scale = gamma if neuron.binary else 1.0
        if neuron.reset == "zero":
            P = alpha * (1 - Y_n) - (0 if neuron.detach_reset else alpha * V_n * g_n)
        else:
            P = alpha - (0 if neuron.detach_reset else scale * g_n)
        out.append(np.broadcast_to(P, V_n.shape))
    return np.stack(out)


def gradient_curve(cell, x, dJdY_last=None, seed=0):
    """Norm of ``dJ/dW[n]`` against ``N - n`` for a loss at the last step only (Eq. 11).

    ``dJdY_last`` (B, H) defaults to a standard normal draw. Returns ``(lag, norms)`` with
    ``lag = N - n`` = 0..T-1 and the Frobenius norm of each step's contribution (summed
    over the weight matrices of a gated cell), normalized by its value at lag 0.
    """
    y, cache = cell.forward(x)
    T, B, H = y.shape
    rng = np.random.default_rng(seed)
    dy = np.zeros_like(y)
    dy[-1] = rng.standard_normal((B, H)) if dJdY_last is None else dJdY_last
    dA = bptt_steps(cell, cache, dy)
    sq = sum(np.sum(per_step_weight_grads(x, d) ** 2, axis=(1, 2)) for d in dA.values())
    norms = np.sqrt(sq)[::-1]
    return np.arange(T), norms / max(norms[0], np.finfo(float).tiny)


# --------------------------------------------------------------------------------------
# Cost accounting
# --------------------------------------------------------------------------------------
def param_counts(kind, m, n):
    """Weights and biases of a layer with m inputs and n units (Sec. 2 and 3).

    ``kind``: "lif" (m n), "v1" (2 m n), "v2" (2(m n + n^2)), "gru" (3(m n + n^2)),
    "lstm" (4(m n + n^2)). Biases as implemented here: lif 0, v1/v2 2n (b_f, b_c),
    gru 3n, lstm 4n. Returns ``{"weights": .., "biases": .., "total": ..}``.
    """
    table = {"lif": (m * n, 0), "v1": (2 * m * n, 2 * n), "v2": (2 * (m * n + n * n), 2 * n),
             "gru": (3 * (m * n + n * n), 3 * n), "lstm": (4 * (m * n + n * n), 4 * n)}
    if kind not in table:
        raise ValueError(f"kind must be one of {sorted(table)}, got {kind!r}")
    w, b = table[kind]
    return {"weights": w, "biases": b, "total": w + b}


def multiplications(kind, m, n, d_in=1.0, d_out=1.0):
    """Multiplications per time step of one layer (m inputs, n units).

    ``d_in``: density (fraction of non-zero entries) of the layer's input; ``d_out``: of its
    own previous output (used by v2, GRU, LSTM for the recurrent products).

    * lif (Eq. 10): ``n + d_in m n`` for I (beta I and the sparse X W) ``+ 3n`` for V.
    * v1: ``2 d_in m n`` (forget and candidate) ``+ 2n`` (F I and (1-F) C) ``+ 3n``.
    * v2: v1 ``+ 2 d_out n^2`` (the sparse Y[n-1] U products).
    * gru: ``3n + 3(d_in m + d_out n) n``;  lstm: ``3n + 4(d_in m + d_out n) n``
      (Sec. 2: 3n + 3(m+n)n and 3n + 4(m+n)n with dense vectors).
    """
    if kind == "lif":
        return n + d_in * m * n + 3 * n
    if kind == "v1":
        return 2 * d_in * m * n + 2 * n + 3 * n
    if kind == "v2":
        return 2 * d_in * m * n + 2 * d_out * n * n + 2 * n + 3 * n
    if kind == "gru":
        return 3 * n + 3 * (d_in * m + d_out * n) * n
    if kind == "lstm":
        return 3 * n + 4 * (d_in * m + d_out * n) * n
    raise ValueError(f"kind must be one of lif, v1, v2, gru, lstm; got {kind!r}")


def zero_fraction(y):
    """Fraction of exactly-zero entries of an output tensor (Table 1, columns 6-7)."""
    y = np.asarray(y)
    return float(np.count_nonzero(y == 0)) / max(y.size, 1)


def density(y):
    """Fraction of non-zero entries (1 - zero_fraction)."""
    return 1.0 - zero_fraction(y)


def network_multiplications(kind, sizes, densities, n_out, T):
    """Multiplications per inference of a stacked network (Table 1, columns 8-9).

    ``sizes`` = [m, n1, n2, ...]; ``densities`` = [d_x, d_1, d_2, ...] the measured
    densities of the input and of each layer's output; the readout (n_last x n_out) is
    applied at every step with the last layer's density. Returns the total over T steps.
    """
    total = 0.0
    for i in range(1, len(sizes)):
        total += multiplications(kind, sizes[i - 1], sizes[i], densities[i - 1], densities[i])
    total += densities[-1] * sizes[-1] * n_out
    return total * T
