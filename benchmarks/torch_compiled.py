"""The benchmark's cells as ``torch.compile``-d steps: PyTorch's compiled peer.

``validation/torch_cells.py`` writes each cell's whole sequence as one Python function;
compiling *that* with ``torch.compile`` unrolls the time loop into one graph, which took
122 s for the LIF at T = 100 on the benchmark machine (and minutes more for SRC's T = 200).
What a user compiles in practice is the *step*: here each cell's step is a function of
(state, this step's input projection, params) built from the same autograd Functions as
``validation/torch_cells.py`` (``Spike``, ``MultibitQuantizer``, ``BypassReLU``), compiled
once with ``torch.compile(dynamic=False)`` (forward and backward kernels fused by
Inductor); the time loop, the stacked input projection before it and autograd's walk back
through the steps stay in Python, as in ours. Only the benchmark's configurations
(``bench.REFERENCE``, default options) are covered.
"""
from __future__ import annotations

import torch

from validation import torch_cells as tc

__all__ = ["STEPS", "sequence", "compiled"]


def _lif_step(cfg, buffers):
    sg = tc.surrogate_grad_fn(cfg["surrogate"], cfg["surrogate_params"])
    alpha, beta, gamma = cfg["alpha"], cfg["beta"], cfg["threshold"]

    def step(state, a, P):
        I, V, Y = state
        I = beta * I + a                             # Eq. 7
        V = alpha * V + I - gamma * Y                # Eq. 8 (reset of Y[t-1], not detached)
        Y = tc.Spike.apply(V - gamma, sg)            # Eq. 9
        return (I, V, Y), Y
    return step


def _gated_lif_step(cfg, buffers):
    b, alpha = float(buffers["b"]), cfg["alpha"]
    n, k, r = cfg["n_bits"], cfg["threshold_levels"], cfg["scale_margin"]

    def step(state, a, P):
        I, V, Y = state
        a_f, a_c = a
        F = torch.sigmoid(a_f + Y @ P["U_f"])                      # Eq. 19
        C = torch.relu(a_c + Y @ P["U_c"])                         # Eq. 20
        I = F * I + (1 - F) * C                                    # Eq. 21
        V = alpha * V + I - Y                                      # Eq. 8
        Y = tc.MultibitQuantizer.apply(V, b, n, k, False, False, r)   # Eq. 22
        return (I, V, Y), Y
    return step


def _src_step(cfg, buffers):
    c = cfg

    def step(state, a, P):
        i, h, h_s = state
        i = c["alpha"] * i + a                                          # 3a
        xx = c["rho"] * torch.tanh(i / c["rho"])                        # 3b
        hp, hsp = h.detach(), h_s.detach()
        z_s = torch.where(hp > 0.5, torch.full_like(hp, c["z_dep"]), torch.full_like(hp, c["z_hyp"]))
        h = torch.tanh(xx + c["r"] * hp + c["r_s"] * hsp + P["b_h"])    # 3d
        h_s = z_s * hsp + (1 - z_s) * hp                                # 3e
        return (i, h, h_s), tc.BypassReLU.apply(h)                      # 3f
    return step


def _spiking_lstm_step(cfg, buffers):
    g1 = tc.surrogate_grad_fn("gaussian", {"a": cfg["a1"]})
    g2 = tc.surrogate_grad_fn("gaussian", {"a": cfg["a2"]})
    gc = tc.surrogate_grad_fn("gaussian", {"a": cfg["a_c"]})
    th1, th2, thc = cfg["theta1"], cfg["theta2"], cfg["theta_c"]

    def step(state, a, P):
        h, c = state
        u_f, u_i, u_g, u_o = (a + h @ P["W_h"] + P["b"]).chunk(4, dim=1)
        f, i = tc.Spike.apply(u_f - th1, g1), tc.Spike.apply(u_i - th1, g1)
        g, o = tc.Spike.apply(u_g - th2, g2), tc.Spike.apply(u_o - th1, g1)
        c = tc.Spike.apply(f * c + i * g - thc, gc)
        h = o * c
        return (h, c), h
    return step


def _lstm_step(cfg, buffers):
    def step(state, a, P):
        h, c = state
        a_f, a_i, a_g, a_o = (a + h @ P["W_h"]).chunk(4, dim=1)
        c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        h = torch.sigmoid(a_o) * torch.tanh(c)
        return (h, c), h
    return step


#: cell -> (step builder, number of state fields, input projection(P, x)).
STEPS = {
    "lif": (_lif_step, 3, lambda P, x: tc.project(x, P["W"])),
    "gated_lif": (_gated_lif_step, 3,
                  lambda P, x: tuple(zip(tc.project(x, P["W_f"], P["b_f"]),
                                         tc.project(x, P["W_c"], P["b_c"])))),
    "src": (_src_step, 3, lambda P, x: tc.project(x, P["W"])),
    "spiking_lstm": (_spiking_lstm_step, 2, lambda P, x: tc.project(x, P["W_x"])),
    "lstm": (_lstm_step, 2, lambda P, x: tc.project(x, P["W_x"], P["b"])),
}


def sequence(name, cfg, buffers, H, compile=True):
    """``f(P, x) -> y`` (T, B, H): the stacked input projection, then the (compiled) step in a
    Python loop, from a zero state of ``H`` units. ``compile=False``: the same step
    uncompiled (eager)."""
    build, n_state, project = STEPS[name]
    step = build(cfg, dict(buffers or {}))
    if compile:
        step = torch.compile(step, dynamic=False)

    def f(P, x):
        state = tuple(x.new_zeros(x.shape[1], H) for _ in range(n_state))
        ys = []
        for a in project(P, x):
            state, y = step(state, a, P)
            ys.append(y)
        return torch.stack(ys)
    return f


def compiled(name, cfg, buffers, H):
    """The compiled sequence function of ``name`` (``sequence(..., compile=True)``)."""
    return sequence(name, cfg, buffers, H, compile=True)
