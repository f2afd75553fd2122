"""The known mistakes: each one a reference backward with exactly one thing wrong.

The grader names a student's error by comparing the student's gradients with the
gradients of these functions: if a student's ``step_backward`` produces, on every graded
configuration, the same numbers as the reference with (say) the reset term dropped, the
student has almost certainly dropped the reset term. Each function below is a plain
re-derivation of the library's ``step_backward`` with a ``bug`` switch; with ``bug=None``
it agrees with the library (``tests/test_exercises.py`` checks it), so that every mistake
differs from the correct rule by exactly the term its name says.

The texts of the hints live with the exercises (:mod:`.catalog`).
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..cells import lif, lstm, rnn, spiking_lstm, src


# --------------------------------------------------------------------------------------
# Elman RNN
# --------------------------------------------------------------------------------------
def rnn_step(dy_t, dstate, cache_t, p, cfg, bug=None):
    dh = dy_t if bug == "no_carry" else (dstate.h if bug == "no_dy" else dstate.h + dy_t)
    h = cache_t.h_prev if bug == "tanh_prime_at_prev" else cache_t.h
    deriv = 1.0 - h if bug == "tanh_prime_no_square" else 1.0 - h * h
    da = dh * deriv
    W = p["W_h"] if bug == "transposed_weight" else p["W_h"].T
    return da, rnn.State(da @ W), {}


# --------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------
def lstm_step(dy_t, dstate, cache_t, p, cfg, bug=None):
    c = cache_t
    dh = dy_t if bug == "no_carry" else dstate.h + dy_t
    through_h = dh * c.o if bug == "no_tanh_prime" else dh * c.o * (1.0 - c.tanh_c ** 2)
    dc_total = through_h if bug == "no_c_carry" else dstate.c + through_h
    du_f = dc_total * c.c_prev * c.f * (1.0 - c.f)
    du_i = dc_total * c.g * c.i * (1.0 - c.i)
    if bug == "gates_swapped":       # the f and i blocks written in each other's place
        du_f, du_i = du_i, du_f
    du_g = dc_total * c.i * (1.0 - c.g ** 2)
    du_o = dh * c.tanh_c * c.o * (1.0 - c.o)
    du = np.concatenate([du_f, du_i, du_g, du_o], axis=1)
    W = p["W_h"] if bug == "transposed_weight" else p["W_h"].T
    dc_prev = dc_total if bug == "no_forget_in_carry" else dc_total * c.f
    return du, lstm.State(du @ W, dc_prev), {}


# --------------------------------------------------------------------------------------
# Spiking LSTM (Lotfi Rezaabad & Vishwanath, Eq. 1 and 4)
# --------------------------------------------------------------------------------------
def spiking_lstm_step(dy_t, dstate, cache_t, p, cfg, bug=None):
    c = cache_t
    H = dy_t.shape[1]
    u_f, u_i, u_g, u_o = (c.u[:, k * H:(k + 1) * H] for k in range(4))

    def dist(u, theta):              # the surrogate's argument
        if bug == "abs_distance":
            return np.abs(u) - abs(theta)
        if bug == "theta_missing":
            return u
        return u - theta

    dh = dy_t if bug == "no_carry" else dy_t + dstate.h
    if cfg.cell_grad == "gaussian" or bug == "constant_ignored":
        s_c = cfg.sigma_c.grad(c.c_tilde - cfg.theta_c)
    else:
        s_c = cfg.gamma
    if bug == "unit_state_surrogate_missing":
        s_c = 1.0
    if bug == "carry_no_threshold":  # the paper's Eq. 4 and the authors' code
        dct = dh * c.o * s_c + dstate.c
    else:
        dct = (dh * c.o + dstate.c) * s_c
    sig_g = cfg.sigma1 if bug == "wrong_width_g" else cfg.sigma2
    du_f = dct * (c.c if bug == "c_instead_of_c_prev" else c.c_prev) * cfg.sigma1.grad(dist(u_f, cfg.theta1))
    du_i = dct * c.g * cfg.sigma1.grad(dist(u_i, cfg.theta1))
    du_g = dct * c.i * sig_g.grad(dist(u_g, cfg.theta2))
    du_o = dh * (c.c_tilde if bug == "unthresholded_c" else c.c) * cfg.sigma1.grad(dist(u_o, cfg.theta1))
    du = np.concatenate([du_f, du_i, du_g, du_o], axis=1)
    W = p["W_h"] if bug == "transposed_weight" else p["W_h"].T
    dc_prev = dct if bug == "no_forget_in_carry" else dct * c.f
    return du, spiking_lstm.State(du @ W, dc_prev), {}


# --------------------------------------------------------------------------------------
# LIF (Ponghiran & Roy Eq. 7-9): synaptic current, subtractive reset, binary spikes
# --------------------------------------------------------------------------------------
def lif_step(dy_t, dstate, cache_t, p, cfg, bug=None):
    dY = dy_t if bug == "no_dY_carry" else dstate.Y + dy_t
    dV = dstate.V + (dY if bug == "surrogate_missing" else dY * cache_t.dYdV)
    dV_prev = dV if bug == "no_alpha" else cfg.alpha * dV
    detached = cfg.detach_reset and bug != "detach_ignored"
    if bug == "no_reset" or detached:
        dY_prev = np.zeros_like(dV)
    elif bug == "reset_no_threshold":
        dY_prev = -dV
    elif bug == "reset_sign":
        dY_prev = cfg.threshold * dV
    else:
        dY_prev = -cfg.threshold * dV
    dI = dstate.I + dV
    if bug == "no_I_carry":
        dI_prev = np.zeros_like(dI)
    elif bug == "no_beta":
        dI_prev = dI
    else:
        dI_prev = cfg.beta * dI
    return dI, lif.State(dI_prev, dV_prev, dY_prev), {}


# --------------------------------------------------------------------------------------
# SRC (De Geeter et al., Eq. 3a-3f) with the bypass and detach rules of §4.4
# --------------------------------------------------------------------------------------
def src_step(dy_t, dstate, cache_t, p, cfg, bug=None):
    di, dh, dhs = dstate
    x, h, z_s = cache_t.x, cache_t.h, cache_t.z_s
    bypass = (cfg.bypass_relu or bug == "bypass_always") and bug != "bypass_ignored"
    dh = dh + (dy_t if bypass else dy_t * (h > 0))
    du = dh if bug == "no_tanh_prime" else dh * (1.0 - h * h)
    sat = 1.0 if bug == "no_saturation_prime" else 1.0 - (x / cfg.rho) ** 2
    di = du * sat if bug == "i_carry_not_received" else di + du * sat
    di_prev = np.zeros_like(di) if bug == "no_i_carry" else (di if bug == "no_alpha" else cfg.alpha * di)
    detach = (cfg.detach_recurrent or bug == "detach_always") and bug != "detach_ignored"
    if detach:
        zero = np.zeros_like(du)
        dh_prev, dhs_prev = zero, zero
    else:
        keep, mix = (1.0 - z_s, z_s) if bug == "gates_swapped" else (z_s, 1.0 - z_s)
        dh_prev = cfg.r * du + mix * dhs
        dhs_prev = cfg.r_s * du + keep * dhs
    db = di if bug == "b_h_grad_from_i" else du
    return di, src.State(di_prev, dh_prev, dhs_prev), {"b_h": db}


# --------------------------------------------------------------------------------------
# The BPTT loop (a sequence backward built from any step_backward)
# --------------------------------------------------------------------------------------
def bptt_loop(dy, caches, p, cfg, step_backward, zero, bug=None):
    T = len(caches)
    dA = [None] * T
    dstate, dp = zero, {}
    order = range(T) if bug == "forward_in_time" else reversed(range(T))
    for t in order:
        dy_t = dy[t] if (bug != "dy_last_only" or t == T - 1) else np.zeros_like(dy[t])
        da, dstate_prev, dp_t = step_backward(dy_t, dstate, caches[t], p, cfg)
        dA[t] = da
        dstate = zero if bug == "no_carry" else dstate_prev
        for k, v in dp_t.items():
            dp[k] = v if (bug == "dp_overwritten" or k not in dp) else dp[k] + v
    if bug == "dA_reversed":
        dA = dA[::-1]
    return dA, dstate, dp


# --------------------------------------------------------------------------------------
# The surrogate gradient of one family: SuperSpike's fast sigmoid
# --------------------------------------------------------------------------------------
def fast_sigmoid_grad(u, k=25.0, bug=None):
    u = np.asarray(u, dtype=np.float64)
    if bug == "grad_abs_missing":
        return 1.0 / (1.0 + k * u) ** 2
    if bug == "grad_square_missing":
        return 1.0 / (1.0 + k * np.abs(u))
    return 1.0 / (1.0 + k * np.abs(u)) ** 2


def fast_sigmoid_primitive(u, k=25.0, bug=None):
    u = np.asarray(u, dtype=np.float64)
    if bug == "primitive_offset_missing":
        return u / (1.0 + k * np.abs(u))
    if bug == "primitive_abs_missing":
        return 1.0 / k + u / (1.0 + k * u)
    if bug == "primitive_times_k":
        return 1.0 + k * u / (1.0 + k * np.abs(u))
    if bug == "primitive_logistic":
        return expit(k * u)
    return 1.0 / k + u / (1.0 + k * np.abs(u))
