"""Gradient flow and cost accounting for the LIF family (Ponghiran & Roy 2022, Sec. 2-3).

Gradient flow
    :func:`bptt_steps` re-runs the cells' own hand-written backward steps
    (``cell.step_functions()``: ``lif.step_backward`` / ``gated_lif.step_backward``) and
    returns the per-step pre-activation gradients, from which :func:`per_step_weight_grads`
    forms the contributions ``dJ/dW[n] = X[n]^T dA[n]`` of Eq. 11 (their sum over n is the cell's
    ``backward`` weight gradient, exactly). A gradient can be injected at the final state
    (``dstate_final``), e.g. at ``I[N]`` only, which isolates the synaptic path whose
    closed form is ``beta^(N-n) X[n]`` (Eq. 15). :func:`P_factor` is Eq. 13's
    ``P[n] = d(alpha V[n] - gamma Y[n]) / dV[n]`` under the backward rule, read from the
    per-step values of ``cell.trace(x, state)``.

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

from .cells.lif import coefficients

__all__ = ["bptt_steps", "per_step_weight_grads", "synaptic_path_check", "P_factor",
           "gradient_curve", "param_counts", "multiplications", "zero_fraction", "density",
           "network_multiplications"]


def bptt_steps(cell, cache, dy=None, dstate_final=None):
    """Per-step pre-activation gradients of a lif / gated_lif forward ``cache``.

    ``dy`` (T, B, H): gradient on the outputs (None = zeros); ``dstate_final``: a State of
    gradients on the final (I, V, Y) (None = zeros). Returns a dict of (T, B, H) arrays,
    one per input projection, keyed by its weight (``cell.input_weights``): ``{"W": dA}``
    for lif (dA[n] = dJ/d(X[n] W)), ``{"W_f": dA_f, "W_c": dA_c}`` for gated_lif. The loop
    is the cell's own: its module's ``step_backward`` (``cell.step_functions()``) over the
    per-step caches the forward kept (``cache["steps"]``, ``cache["cfg"]``).
    """
    if "steps" not in cache or not hasattr(cell, "input_weights"):
        raise ValueError(f"bptt_steps supports the lif and gated_lif cells, got {cell.name!r}")
    step_backward = cell.step_functions()[1]
    steps, cfg = cache["steps"], cache["cfg"]
    T, B = cache["x"].shape[:2]
    shape, dt = (T, B, cell.n_hidden), cell.dtype
    dy = np.zeros(shape, dt) if dy is None else dy
    z = np.zeros(shape[1:], dt)
    dstate = cell.State(z, z, z) if dstate_final is None else cell.State(*dstate_final)
    dA = {k: np.empty(shape, dt) for k in cell.input_weights}
    for t in reversed(range(T)):
        da_t, dstate, _ = step_backward(dy[t], dstate, steps[t], cell.params, cfg)
        for k, d in zip(cell.input_weights, da_t if isinstance(da_t, tuple) else (da_t,)):
            dA[k][t] = d
    return dA


def _refuse_batch_norm(cell, what):
    if getattr(cell.config, "norm", "none") != "none":
        raise ValueError(f"{what}: with norm='batch' the statistics couple every step, so the "
                         f"per-step terms x[n]^T dA[n] do not add up to dW; use norm='none'")


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
    _refuse_batch_norm(cell, "synaptic_path_check")
    _, cache = cell.forward(x, state)
    z = np.zeros_like(g)
    dA = bptt_steps(cell, cache, dstate_final=cell.State(g, z, z))["W"]
    measured = per_step_weight_grads(x, dA)
    T = x.shape[0]
    beta = coefficients(cell.params, cache["cfg"])[1]
    powers = np.asarray(beta, dtype=x.dtype) ** np.arange(T - 1, -1, -1, dtype=x.dtype)[:, None]  # (T, 1|H)
    closed = np.einsum("tbi,bh->tih", x, g) * powers[:, None, :]
    return measured, closed


def P_factor(cell, trace):
    """Eq. 13, ``P[n] = dV[n+1]/dV[n]`` along the membrane for each step (T, B, H).

    ``trace`` = ``cell.trace(x, state)`` (lif or gated_lif): per step ``(Y[n], State(I[n],
    M[n], Y[n]), Cache)``, ``Cache.V`` the potential compared with the threshold and
    ``Cache.dYdV`` the factor ``U'[n] = dY[n]/dV[n]``. With ``s`` the reset's scale (gamma
    for binary spikes, 1 for multi-bit outputs, whose straight-through derivative is the
    clip mask):

    * subtractive reset, ``reset_timing="next_step"`` (Eq. 8): ``alpha - s U'[n]``;
    * subtractive reset, ``"same_step"`` (the reset acts before the next decay):
      ``alpha (1 - s U'[n])``;
    * zero reset (either timing): ``alpha (1 - Y[n]) - alpha V[n] U'[n]``;
    * a detached reset drops the ``U'`` terms.

    Refused for ``recurrent=True``: there ``V[n]`` also reaches ``V[n+1]`` through
    ``Y[n] U``, a matrix, and no elementwise factor describes it.
    """
    if isinstance(trace, dict):
        raise TypeError("P_factor takes cell.trace(x, state), the per-step values, not a forward cache")
    cfg = cell.step_config()
    if getattr(cfg, "recurrent", False):
        raise ValueError("P_factor: with recurrent=True dV[n+1]/dV[n] is a matrix (through Y[n] U), "
                         "not an elementwise factor")
    alpha, _, gamma = coefficients(cell.params, cfg)
    scale = gamma if cfg.output == "binary" else 1.0
    same_step = getattr(cfg, "reset_timing", "next_step") == "same_step"
    out = []
    for _, st, c in trace:
        g_n, Y_n = c.dYdV, st.Y
        V_n = getattr(c, "V", None)
        V_n = st.V if V_n is None else V_n      # the potential before its reset
        if cfg.reset == "zero":
            P = alpha * (1 - Y_n) - (0 if cfg.detach_reset else alpha * V_n * g_n)
        elif same_step:
            P = alpha * (1 - (0 if cfg.detach_reset else scale * g_n))
        else:
            P = alpha - (0 if cfg.detach_reset else scale * g_n)
        out.append(np.broadcast_to(P, V_n.shape))
    return np.stack(out)


def gradient_curve(cell, x, dJdY_last=None, seed=0):
    """Norm of ``dJ/dW[n]`` against ``N - n`` for a loss at the last step only (Eq. 11).

    ``dJdY_last`` (B, H) defaults to a standard normal draw. Returns ``(lag, norms)`` with
    ``lag = N - n`` = 0..T-1 and the Frobenius norm of each step's contribution (summed
    over the weight matrices of a gated cell), normalized by its value at lag 0.
    Refused with ``norm="batch"``: batch norm couples every step's input projection, so
    ``x[n]^T dA[n]`` is no longer the weight gradient's term of step n.
    """
    _refuse_batch_norm(cell, "gradient_curve")
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
