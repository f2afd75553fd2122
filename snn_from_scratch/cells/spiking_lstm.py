"""The spiking LSTM of Lotfi Rezaabad & Vishwanath (2020), "Long Short-Term Memory Spiking
Networks and Their Applications", ICONS 2020 (code: github AliLotfi92/SNNLSTM).

An LSTM whose every activation is a spike: the gates and the modulated input are
Heaviside steps of their membrane potentials, and the unit state, which the paper's Eq. 1
would let take the values 0, 1 or 2, is thresholded back to a spike (§3.1: "we threshold
this output to output 1 when it is 1 or 2").

Notation
--------
``x[t]`` (B, n_in)
    the input at step t; ``T`` steps, ``B`` sequences, ``H`` hidden units.
``a[t] = x[t] W_x`` (B, 4H)
    the step's input projection, computed for all steps before the loop
    (:meth:`SpikingLSTM.inputs`).
``u`` (B, 4H)
    the membrane potentials of the four spikes, blocks ``u_f, u_i, u_g, u_o``.
``H(z)``
    the Heaviside step: 1 where z > 0, else 0 (``H(0) = 0``); not to be confused with
    ``H``, the number of hidden units.
``f, i, o`` (B, H)
    the forget, input and output gates, spikes of threshold ``theta1`` (the paper's sigma_1).
``g`` (B, H)
    the modulated input, a spike of threshold ``theta2`` (the paper's sigma_2).
``c~`` (B, H), ``c_tilde`` in code
    ``f * c[t-1] + i * g``, in {0, 1, 2}: what Eq. 1 calls ``c_t``.
``c[t]`` (B, H)
    the unit state, a spike again: ``H(c~ - theta_c)`` (§3.1).
``h[t]`` (B, H)
    the output spikes ``o * c[t]``, what the layer transmits (``y[t]``).
``theta1, theta2, theta_c``
    the thresholds of f/i/o, of g and of the unit state (config keys of the same names;
    all 0.1 in the paper's §4.1 and the authors' code). This cell has no key
    ``threshold``; ``gamma`` below is not a threshold.
``G_a(z) = exp(-z^2/a) / sqrt(pi a)``
    the normalized Gaussian, the surrogate derivative of H (§3.2, Eq. 2); integral 1.
``a1, a2, a_c``
    the widths of G for f/i/o, for g and for the unit-state threshold.
``sigma1, sigma2, sigma_c``
    the three spike functions as surrogate objects, properties of :class:`Config`:
    ``cfg.sigma1.spike(z) = H(z)``, ``cfg.sigma1.grad(z) = G_{a1}(z)``; likewise sigma2
    with a2 (g) and sigma_c with a_c (the unit state).
``gamma``
    the paper's constant derivative of the unit-state threshold (§3.1, "1 or <= 1"),
    used instead of ``G_{a_c}`` with ``cell_grad="constant"``.
``s_c`` (B, H)
    the derivative used for the unit-state threshold: ``G_{a_c}(c~ - theta_c)`` or ``gamma``.
``W_x (n_in, 4H)``, ``W_h (H, 4H)``, ``b (4H)``
    the parameters, blocks in the order f, i, g, o (as the ``lstm`` cell).
``dX``
    the gradient of the loss with respect to ``X``. ``dy[t]`` reaches ``h[t]`` from the
    layer above; ``dh``, ``dc`` (a :class:`State`, ``dstate``) reach ``h[t]`` and the
    spike ``c[t]`` from step t+1 (chapter 04's delta^h, delta^c); ``dc~`` (``dct`` in
    code; the paper's ``dL/dc_t``) reaches ``c~[t]``; ``du`` reaches ``u`` and is also
    ``da[t]``.

Equations (one step)::

    u      = a[t] + h[t-1] W_h + b                  a[t] = x[t] W_x            (Eq. 1)
    f      = H(u_f - theta1)                         forget gate               (Eq. 1)
    i      = H(u_i - theta1)                         input gate                (Eq. 1)
    g      = H(u_g - theta2)                         modulated input           (Eq. 1)
    o      = H(u_o - theta1)                         output gate               (Eq. 1)
    c~     = f * c[t-1] + i * g                      in {0, 1, 2}              (Eq. 1)
    c[t]   = H(c~ - theta_c)                         the unit state            (§3.1)
    h[t]   = o * c[t]                                                          (Eq. 1)

Surrogate (§3.2, Eq. 2; the authors' code): every H'(z) is replaced by ``G_a(z)`` of the
*signed* distance ``z = u - theta`` — ``a1`` for f, i, o, ``a2`` for g, ``a_c`` for the
unit-state threshold (or ``gamma`` with ``cell_grad="constant"``, §3.1). The paper prints
the distance as ``|u| - |theta|``; that is a different (and, for negative ``u``,
wrong-signed) bump — see :data:`ERRATA` and chapter 04.

Backward: the exact chain rule of the equations above with every H' replaced by its
surrogate (the paper's Eq. 4 prints another; see :data:`ERRATA`). With
``dh = dy[t] + dh_from_t+1`` the total gradient reaching ``h[t]``::

    dc_total = dh * o + dc                   c[t] feeds h[t] and c~[t+1]
    dc~      = dc_total * s_c                 s_c = G_{a_c}(c~ - theta_c)  or  gamma
    du_f     = dc~ * c[t-1] * G_{a1}(u_f - theta1)
    du_i     = dc~ * g      * G_{a1}(u_i - theta1)
    du_g     = dc~ * i      * G_{a2}(u_g - theta2)
    du_o     = dh  * c[t]   * G_{a1}(u_o - theta1)
    dc[t-1]  = dc~ * f                        the carry; it has passed through s_c
    dh[t-1]  = du W_h^T

and after the loop ``dW_x = X^T dU``, ``dW_h = H_prev^T dU``, ``db = sum dU``,
``dx = dU W_x^T``. The carry ``dc[t-1]`` includes the threshold factor ``s_c`` of step t
because the carried quantity is the *spike* c[t-1] and c~[t] depends on it. The paper's
Eq. 4 adds ``f * dL/dc~`` after the factor, dropping that of the receiving step (erratum
"carry_no_threshold"); the authors' code carries the gradient of c[t] taken *before* its
factor, dropping that of the sending step (erratum "carry_no_sender_threshold").
Nothing here uses ``f^2 = f`` or ``c in {0, 1}``: in the smooth twin of a gradient check
the spikes are soft values.

Shapes: x (T, B, n_in), h (T, B, H). State ``(h, c)``, both spikes in the real cell (any
values are accepted as an initial state, which the gradient proofs use). The BPTT cache
keeps 6 values per unit and step, the spikes are recomputed: see :func:`restore`.

Initialization (``init``): ``"he_normal"`` (default, the authors' code): every weight
N(0, 2/(n_in + H)) — their code multiplies the concatenation [x_t, h_{t-1}], so the fan-in
is n_in + H; ``"standard_normal"`` (the paper's §4.1): N(0, 1). Biases are zero in both.

At the end, :func:`backward_variant` holds the printed formulas of the paper's Eq. 4 and
Appendix A and of the authors' code, one switch per discrepancy (:data:`ERRATA`), so
that the tests and chapter 04 can show by finite differences which of them is the
gradient; the authors' three scripts' backward loops as combinations of them
("authors_char", "authors_mnist", "authors_fsdd": :data:`AUTHORS`, with the readout each
script uses in :data:`AUTHORS_SCRIPTS`); and what the authors' code does outside the cell
(:data:`NOTES`). The surrogate widths above are the paper's and the char and FSDD
scripts'; the MNIST script's differ (erratum "mnist_surrogates").

Why this file is long (~600 lines): after the cell itself (docstring, step pair, sequence
functions: about 350 lines) comes the errata machinery — the paper's and the authors' three
scripts' printed backward passes, one switch per discrepancy — which belongs beside the
derivation it departs from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from .. import surrogates
from ..ops import EXACT, Ops
from .base import Cell, check_choice, check_real, slim


class State(NamedTuple):
    h: np.ndarray  # (B, H) output spikes h = o * c
    c: np.ndarray  # (B, H) unit-state spikes (after the theta_c threshold)


CELL_GRADS = ("gaussian", "constant")
INITS = ("he_normal", "standard_normal")


@dataclass(frozen=True)
class Config:
    """Options of the spiking LSTM (defaults: the paper's §4.1 and the authors' code).

    theta1 : threshold of f, i, o (sigma_1).          theta2 : threshold of g (sigma_2).
    theta_c : threshold of the unit state c~ in {0, 1, 2} (§3.1; 0.1 in the authors' code).
    a1, a2, a_c : widths of the normalized Gaussian surrogate exp(-z^2/a)/sqrt(pi a)
        for f/i/o, for g and for the unit-state threshold (Eq. 2-3, Appendix B).
    cell_grad : "gaussian" (G_{a_c}) or "constant" (the paper's gamma) for dc/dc~.
    gamma : the constant of cell_grad="constant" (§3.1: "1 or <= 1").
    init : "he_normal" (authors' code) or "standard_normal" (paper §4.1); biases zero.

    The surrogate objects ``sigma1``, ``sigma2``, ``sigma_c`` are properties computed once
    per config (``cached_property``: the config is frozen, so they never go stale), not
    rebuilt at every step.
    """

    theta1: float = 0.1
    theta2: float = 0.1
    theta_c: float = 0.1
    a1: float = 4.0
    a2: float = 0.3
    a_c: float = 4.0
    cell_grad: str = "gaussian"
    gamma: float = 1.0
    init: str = "he_normal"

    def __post_init__(self):
        for name in ("theta1", "theta2", "theta_c"):
            check_real(name, getattr(self, name))
        for name in ("a1", "a2", "a_c", "gamma"):
            check_real(name, getattr(self, name), low=0, low_open=True)
        check_choice("cell_grad", self.cell_grad, CELL_GRADS)
        check_choice("init", self.init, INITS)

    @cached_property
    def sigma1(self) -> surrogates.Surrogate:
        """H with the surrogate G_{a1}: f, i, o."""
        return surrogates.get("gaussian", a=self.a1)

    @cached_property
    def sigma2(self) -> surrogates.Surrogate:
        """H with the surrogate G_{a2}: g."""
        return surrogates.get("gaussian", a=self.a2)

    @cached_property
    def sigma_c(self) -> surrogates.Surrogate:
        """H with the surrogate G_{a_c}: the unit state (used with cell_grad="gaussian")."""
        return surrogates.get("gaussian", a=self.a_c)


class Cache(NamedTuple):
    """Everything one step computes (all (B, H) but ``u``, (B, 4H))."""

    h_prev: np.ndarray   # h[t-1], operand of dW_h (after the loop)
    c_prev: np.ndarray   # c[t-1]
    u: np.ndarray        # the potentials, blocks u_f, u_i, u_g, u_o
    f: np.ndarray        # the four spikes (the twin's values under a gradient check)
    i: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c_tilde: np.ndarray  # c~ = f * c[t-1] + i * g
    c: np.ndarray        # c[t] = H(c~ - theta_c)


# ======================================================================================
# One step
# ======================================================================================
def step_forward(a_t: np.ndarray, state: State, p: dict[str, np.ndarray], cfg: Config,
                 ops: Ops = EXACT) -> tuple[np.ndarray, State, Cache]:
    """One step of Eq. 1 with the §3.1 unit-state threshold.

    ``a_t`` (B, 4H) is this step's input projection ``x[t] W_x``; ``state`` = (h, c) of
    step t-1; ``p`` the params; ``cfg`` the :class:`Config`. Returns
    ``(h, State(h, c), Cache)``. Every spike goes through ``ops.heaviside`` with its
    surrogate object, so that a gradient check's twin can replace it (the smooth twin's
    "spikes" are soft values).
    """
    h_prev, c_prev = state
    H = h_prev.shape[1]
    u = a_t + h_prev @ p["W_h"] + p["b"]
    u_f, u_i, u_g, u_o = _blocks(u, H)
    f = ops.heaviside(u_f - cfg.theta1, cfg.sigma1)
    i = ops.heaviside(u_i - cfg.theta1, cfg.sigma1)
    g = ops.heaviside(u_g - cfg.theta2, cfg.sigma2)
    o = ops.heaviside(u_o - cfg.theta1, cfg.sigma1)
    c_tilde = f * c_prev + i * g
    z_c = c_tilde - cfg.theta_c
    if cfg.cell_grad == "gaussian":
        c = ops.heaviside(z_c, cfg.sigma_c)
    else:
        # Forward: the spike H(c~ - theta_c); backward: the constant gamma (§3.1). As a
        # straight-through op its proxy is gamma * (c~ - theta_c), whose derivative is gamma.
        c = ops.straight_through(surrogates.heaviside(z_c), lambda: cfg.gamma * z_c,
                                 discrete=z_c > 0)
    h = o * c
    return h, State(h, c), Cache(h_prev, c_prev, u, f, i, g, o, c_tilde, c)


def step_backward(dy_t: np.ndarray, dstate: State, cache_t: Cache, p: dict[str, np.ndarray],
                  cfg: Config) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Backward of one step: the exact chain rule of :func:`step_forward` under the surrogates.

    ``dy_t`` (B, H) is the gradient reaching ``h[t]`` from the layer above; ``dstate`` =
    State(dh, dc) the gradients reaching ``h[t]`` and the spike ``c[t]`` from step t+1.
    Returns ``(du, State(dh_prev, dc_prev), {})``: ``du`` (B, 4H, blocks f, i, g, o) is
    the gradient of the potentials and of the input projection ``a[t]``; ``dh_prev`` goes
    through ``W_h``, ``dc_prev`` through ``c~ = f * c[t-1] + ...``. No per-step parameter
    terms: the weight gradients are matrix products after the loop.
    """
    H = dy_t.shape[1]
    u_f, u_i, u_g, u_o = _blocks(cache_t.u, H)
    dh = dy_t + dstate.h
    # c[t] reaches the loss twice: through h[t] = o * c[t] and through c~[t+1].
    dc_total = dh * cache_t.o + dstate.c
    # ... and reaches c~[t] only through the unit-state threshold.
    if cfg.cell_grad == "gaussian":
        s_c = cfg.sigma_c.grad(cache_t.c_tilde - cfg.theta_c)
    else:
        s_c = cfg.gamma
    dct = dc_total * s_c
    du = np.empty_like(cache_t.u)
    du_f, du_i, du_g, du_o = _blocks(du, H)
    du_f[...] = dct * cache_t.c_prev * cfg.sigma1.grad(u_f - cfg.theta1)
    du_i[...] = dct * cache_t.g * cfg.sigma1.grad(u_i - cfg.theta1)
    du_g[...] = dct * cache_t.i * cfg.sigma2.grad(u_g - cfg.theta2)
    du_o[...] = dh * cache_t.c * cfg.sigma1.grad(u_o - cfg.theta1)
    return du, State(du @ p["W_h"].T, dct * cache_t.f), {}


def reads(p: dict[str, np.ndarray], cfg: Config) -> set[str]:
    """The :class:`Cache` fields :func:`step_backward` reads (``c_tilde`` only for the
    Gaussian unit-state surrogate; ``h_prev`` never: it is the operand of dW_h, after the loop)."""
    fields = {"c_prev", "u", "f", "i", "g", "o", "c"}
    return (fields | {"c_tilde"}) if cfg.cell_grad == "gaussian" else fields


# ======================================================================================
# The sequence
# ======================================================================================
#: The spike fields of a Cache: stored only under a gradient-check twin (see restore).
SPIKES = ("c_prev", "f", "i", "g", "o", "c")


def restore(cache: dict[str, Any], t: int, cfg: Config) -> Cache:
    """The full :class:`Cache` of step ``t``, rebuilt from what the sequence forward stored.

    This is the cell's one memory optimization. The forward stores ``hs`` (h[t-1], the
    operand of dW_h; ``hs[1:]`` is also the output), ``us`` (the four potentials u),
    ``c_tildes`` (c~) and the initial ``c0``: 6 values per unit and step, the theoretical
    minimum. Every spike is an elementwise function of those — f, i, g, o = H(u - theta),
    c[t] = H(c~[t] - theta_c), c[t-1] the previous step's c (``c0`` at t = 0) — and is
    recomputed here with the forward's own expression, so bit for bit the forward's value,
    instead of storing 5 more values per unit and step.

    Under a gradient-check twin (the forward ran with ``ops`` other than ``ops.EXACT``)
    the spikes are the twin's values — in the smooth twin the soft ``primitive(u)``, not
    H(u - theta) — so the forward keeps them (``cache["twin_spikes"]``, the steps' caches
    slimmed to :data:`SPIKES`) and they are used as they are.
    """
    h_prev, u, c_tilde = cache["hs"][t], cache["us"][t], cache["c_tildes"][t]
    if cache["twin_spikes"] is not None:
        return cache["twin_spikes"][t]._replace(h_prev=h_prev, u=u, c_tilde=c_tilde)
    H = c_tilde.shape[1]
    u_f, u_i, u_g, u_o = _blocks(u, H)
    c_prev = cache["c0"] if t == 0 else surrogates.heaviside(cache["c_tildes"][t - 1] - cfg.theta_c)
    return Cache(h_prev, c_prev, u,
                 cfg.sigma1.spike(u_f - cfg.theta1), cfg.sigma1.spike(u_i - cfg.theta1),
                 cfg.sigma2.spike(u_g - cfg.theta2), cfg.sigma1.spike(u_o - cfg.theta1),
                 c_tilde, surrogates.heaviside(c_tilde - cfg.theta_c))


class SpikingLSTM(Cell):
    """Spiking LSTM cell (Lotfi Rezaabad & Vishwanath 2020, Eq. 1 and §3.1).

    Params ``W_x (n_in,4H)``, ``W_h (H,4H)``, ``b (4H)``, blocks f, i, g, o. Config: see
    :class:`Config`. ``y`` = h, the output spikes. ``backward`` is the exact chain rule
    under the Gaussian surrogates (module docstring).
    """

    name = "spiking_lstm"
    Config = Config
    State = State

    def _init_params(self, rng):
        H, n = self.n_hidden, self.n_in
        if self.config.init == "he_normal":
            std = math.sqrt(2.0 / (n + H))  # the authors multiply [x_t, h_{t-1}]
        else:
            std = 1.0
        return {"W_x": std * rng.standard_normal((n, 4 * H)),
                "W_h": std * rng.standard_normal((H, 4 * H)),
                "b": np.zeros(4 * H)}

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """``a[t] = x[t] W_x`` for all steps at once: (T, B, 4H)."""
        T, B, _ = x.shape
        return (x.reshape(T * B, -1) @ self.params["W_x"]).reshape(T, B, 4 * self.n_hidden)

    def _forward(self, x, state, ops):
        T, B, _ = x.shape
        H, p, cfg = self.n_hidden, self.params, self.config
        A = self.inputs(x)
        # The stored minimum (see restore): h[t-1] (hs[1:] is also y), u, c~ and c0.
        hs = np.empty((T + 1, B, H), self.dtype)
        us = np.empty((T, B, 4 * H), self.dtype)
        c_tildes = np.empty((T, B, H), self.dtype)
        hs[0] = state.h
        c0 = state.c
        twin_spikes = None if ops is EXACT else []
        for t in range(T):
            hs[t + 1], state, cache_t = step_forward(A[t], state, p, cfg, ops)
            us[t], c_tildes[t] = cache_t.u, cache_t.c_tilde
            if twin_spikes is not None:
                twin_spikes.append(slim(cache_t, SPIKES))
        cache = {"x": x, "hs": hs, "us": us, "c_tildes": c_tildes, "c0": c0,
                 "twin_spikes": twin_spikes, "final_state": state}
        return hs[1:], cache

    def _backward(self, dy, cache):
        x, hs = cache["x"], cache["hs"]
        T, B, _ = x.shape
        p, cfg = self.params, self.config
        dU = np.empty((T, B, 4 * self.n_hidden), self.dtype)
        dstate = State(np.zeros_like(hs[0]), np.zeros_like(hs[0]))  # nothing after step T-1
        for t in reversed(range(T)):
            dU[t], dstate, _ = step_backward(dy[t], dstate, restore(cache, t, cfg), p, cfg)
        dU2 = dU.reshape(T * B, -1)
        grads = {"W_x": x.reshape(T * B, -1).T @ dU2,
                 "W_h": hs[:-1].reshape(T * B, -1).T @ dU2,
                 "b": dU2.sum(0)}
        dx = (dU2 @ p["W_x"].T).reshape(x.shape)
        return dx, grads


# ======================================================================================
# Helpers
# ======================================================================================
def _blocks(a, H):
    """Views of the f, i, g, o blocks of a (B, 4H) array."""
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]


# ======================================================================================
# Errata: the printed backward formulas, one switch per discrepancy
# ======================================================================================
#: variant name -> (where it is printed, what it does). Each is demonstrated by a
#: finite-difference test in tests/test_lotfi_errata.py (both twins reject it, ours passes)
#: and tabulated in chapter 04. Script names are files of AliLotfi92/SNNLSTM@e1dd325d.
ERRATA = {
    "x_prev": ("Appendix A, dw_{i,x}, dw_{g,x}, dw_{f,x}",
               "input-weight gradients of i, g, f use x_{t-1} where x_t is meant"),
    "wg_in_f": ("Appendix A, dw_{f,h}",
                "the f-gate surrogate is evaluated at w_{g,h} h_{t-1} + w_{g,x} x_t + b_f "
                "(the g weights) instead of the f gate's own potential"),
    "carry_no_threshold": ("Eq. 4 (dL/dc_t = gamma o_t dL/dh_t, then dL/dc_{t-1} += f_t dL/dc_t)",
                           "the RECEIVING step's threshold factor is missing on the carry: "
                           "dc~_t = s_c(t) o dh + f_{t+1} dc~_{t+1} instead of "
                           "s_c(t) (o dh + f_{t+1} dc~_{t+1})"),
    "carry_no_sender_threshold": ("the authors' code: CharLevelSpikingLSTM.py L206-207, L212-218, "
                                  "L243; SpikingMNIST.py L198-199, L204-210, L231; "
                                  "SpikingFSDD.py L191-192, L197-203, L225",
                                  "the carry is e_t = o dh + f_{t+1} e_{t+1}, the gradient reaching "
                                  "the spike c_t BEFORE its threshold factor, and dc~_t = s_c(t) e_t: "
                                  "the SENDING step's factor is missing, "
                                  "dc~_t = s_c(t) (o dh + f_{t+1} dc~_{t+1} / s_c(t+1))"),
    "o_uses_next_c": ("CharLevelSpikingLSTM.py L196-197, L209 (tc = c before c is reassigned)",
                      "dL/do_t uses c_{t+1} instead of c_t at every step but the last"),
    "local_threshold_twice": ("SpikingFSDD.py L192, then L197-203",
                              "the unit-state surrogate multiplies the local term twice: "
                              "s_c^2 o dh (once before the carry is added, once with it)"),
    "mnist_surrogates": ("SpikingMNIST.py L98-102 (deriv_spike, deriv_Tanhspike), used at L202-211",
                         "f, i, o use G_0.3 (not G_4); g and the unit state use "
                         "exp(-z^2)/sqrt(0.3 pi) = G_1(z)/sqrt(0.3): area 1.826, not the "
                         "probability density of Eq. 2, so no Config (a normalized G_a) is it"),
    "last_step_every_step": ("the authors' code: SpikingMNIST.py L196, SpikingFSDD.py L189 "
                             "(last-step readout)",
                             "the loss gradient of the last step is injected at every step"),
    "abs_distance": ("Eq. 2 and Appendix A (Delta[.] = |.| - |theta|)",
                     "the surrogate is evaluated at |u| - |theta| instead of the signed u - theta"),
    "no_recurrent_dh": ("Eq. 4, dL/dh_t = w_y dL/dy_t (read literally)",
                        "dL/dh_t keeps only the readout term; the term from step t+1 is dropped"),
    "sigma_outside": ("Eq. 4, dL/dh_{t-1} (read literally)",
                      "the surrogate factor multiplies w_{.,h} dL/d(gate) after the matrix "
                      "product (and w is not transposed) instead of before it"),
    "unthresholded_c": ("Eq. 1 / Eq. 4 (c_t of Eq. 1 is f c + i g, in {0,1,2})",
                        "dL/do_t and dL/df_t use the unthresholded sum c~ where the forward "
                        "transmits the thresholded spike c"),
}

#: The authors' three backward loops, each EXACTLY (up to float rounding; tested against
#: the line-by-line transcription validation/authors/lotfi.py in
#: tests/test_authors_lotfi.py): name -> (script and lines, the errata it combines).
#: Each uses its script's own surrogate functions whatever the cell's config says
#: (a1, a2, a_c, cell_grad, gamma are ignored): G_4 for f/i/o and the unit state and G_0.3
#: for g in the char and FSDD scripts (Appendix B's values), the "mnist_surrogates" in
#: the MNIST script; the distances u - theta are the forward's (theta = 0.1 in all
#: scripts). ``dy[t]`` is what the script adds to dL/dh_t from outside the recurrence,
#: ``np.dot(dout, wy.T)``: see :data:`AUTHORS_SCRIPTS` for the readouts.
AUTHORS = {
    "authors_char": ("CharLevelSpikingLSTM.py L193-244",
                     ("carry_no_sender_threshold", "o_uses_next_c")),
    "authors_mnist": ("SpikingMNIST.py L189-232 (SpikingEMNIST.py runs the same loop)",
                      ("carry_no_sender_threshold", "mnist_surrogates")),
    "authors_fsdd": ("SpikingFSDD.py L182-226",
                     ("carry_no_sender_threshold", "local_threshold_twice")),
}

#: script -> the variant that gives that script's cell gradients from the protocol's ``dy``
#: of the script's own readout. Char: a softmax at every step, dy[t] = dout_t wy^T, used as
#: it is. MNIST/FSDD: a softmax at the last step only, dy = 0 but dy[T-1] = dout wy^T; the
#: scripts add that dout wy^T at EVERY step (MNIST L196, FSDD L189), hence
#: "last_step_every_step" (the only key an authors_* variant combines with).
AUTHORS_SCRIPTS = {
    "char": "authors_char",
    "mnist": ("authors_mnist", "last_step_every_step"),
    "fsdd": ("authors_fsdd", "last_step_every_step"),
}

#: The authors' sequential-MNIST backward (what experiments.lotfi trains "with the
#: authors' backward"). Kept under this name for its callers; prefer AUTHORS_SCRIPTS.
AUTHORS_CODE = AUTHORS_SCRIPTS["mnist"]

#: Departures of the authors' code that the cell's backward never sees (no switch), each
#: demonstrated in tests/test_authors_lotfi.py.
NOTES = {
    "readout_doubled": ("CharLevelSpikingLSTM.py L202-203 and L221-222",
                        "dwy and dby are accumulated twice per step: the readout's gradients "
                        "are doubled; the cell's are not (dout wy^T enters dh once, L205)"),
}


def _script_gauss(a):
    """A script's normalized Gaussian, written as the scripts write it (Char L95-99)."""
    return lambda z: (1 / np.sqrt(a * np.pi)) * np.exp(-(z ** 2) / a)


def _mnist_wide(z):
    """SpikingMNIST.py L101-102, ``deriv_Tanhspike``: exp(-z^2)/sqrt(0.3 pi), not normalized."""
    return (1 / np.sqrt(0.3 * np.pi)) * np.exp(-z ** 2)


#: The scripts' surrogates as (f/i/o, g, unit state).
_APPENDIX_B = (_script_gauss(4), _script_gauss(0.3), _script_gauss(4))   # Char L95-99, FSDD L89-93
_MNIST = (_script_gauss(0.3), _mnist_wide, _mnist_wide)                  # MNIST L98-102


def _resolve(variant):
    """The set of errata switches of ``variant`` and the surrogate triple (None: the config's)."""
    names = () if variant is None else ((variant,) if isinstance(variant, str) else tuple(variant))
    bad = [v for v in names if v not in ERRATA and v not in AUTHORS]
    if bad:
        raise ValueError(f"variant must be None, one of {sorted(ERRATA)} or {sorted(AUTHORS)}, "
                         f"or a tuple of them, got {variant!r}")
    scripts = [v for v in names if v in AUTHORS]
    if scripts:
        if len(scripts) > 1 or set(names) - {scripts[0], "last_step_every_step"}:
            raise ValueError(f"variant: an authors_* variant combines only with "
                             f"'last_step_every_step', got {variant!r}")
        chosen = set(AUTHORS[scripts[0]][1]) | (set(names) & {"last_step_every_step"})
        surrogates_ = _MNIST if "mnist_surrogates" in chosen else _APPENDIX_B
    else:
        chosen = set(names)
        surrogates_ = _MNIST if "mnist_surrogates" in chosen else None
    if {"carry_no_threshold", "carry_no_sender_threshold"} <= chosen:
        raise ValueError("variant: 'carry_no_threshold' and 'carry_no_sender_threshold' are "
                         "two readings of the same carry; choose one")
    return chosen, surrogates_


def backward_variant(cell: SpikingLSTM, dy: np.ndarray, cache: dict[str, Any],
                     variant: str | tuple[str, ...] | None = None,
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The backward pass as *printed*: ``variant`` is one key of :data:`ERRATA` or of
    :data:`AUTHORS`, a tuple of keys (several errata at once; an authors_* key only with
    "last_step_every_step", e.g. ``AUTHORS_SCRIPTS["mnist"]``), or None.

    With ``variant=None`` this is a second, deliberately plain transcription of the exact
    backward (one loop, no step functions) and agrees with ``cell.backward``; each erratum
    changes exactly the line the paper (or the authors' code) prints differently, and
    "authors_char" / "authors_mnist" / "authors_fsdd" are the authors' scripts' loops
    (:data:`AUTHORS`). Returns ``(dx, grads)`` like ``cell.backward``. The spikes of each
    step come from :func:`restore`, as in ``cell.backward``. Used by the errata tests,
    chapter 04 and ``experiments.lotfi`` (training with the authors' backward).
    """
    chosen, script_sur = _resolve(variant)
    cfg, p = cell.config, cell.params
    x, hs, cts = cache["x"], cache["hs"], cache["c_tildes"]
    T, B, _ = x.shape
    H = cell.n_hidden
    W_x, W_h = p["W_x"], p["W_h"]
    thetas = np.concatenate([np.full(H, cfg.theta1), np.full(H, cfg.theta1),
                             np.full(H, cfg.theta2), np.full(H, cfg.theta1)]).astype(cell.dtype)
    if script_sur is None:   # the config's surrogates
        G_fio, G_g = cfg.sigma1.grad, cfg.sigma2.grad
        if cfg.cell_grad == "gaussian":
            G_c = cfg.sigma_c.grad
        else:
            def G_c(z):
                return cfg.gamma
    else:                    # a script's own functions
        G_fio, G_g, G_c = script_sur

    def gauss(z):  # the surrogate of each block, evaluated at z (B, 4H)
        out = np.empty_like(z)
        out[:, :2 * H] = G_fio(z[:, :2 * H])
        out[:, 2 * H:3 * H] = G_g(z[:, 2 * H:3 * H])
        out[:, 3 * H:] = G_fio(z[:, 3 * H:])
        return out

    if "last_step_every_step" in chosen:
        dy = np.broadcast_to(dy[-1], dy.shape)
    dU = np.zeros((T, B, 4 * H), cell.dtype)
    dUmix = np.zeros((T, B, H), cell.dtype)  # f block of dU for the wg_in_f variant
    dh_next = np.zeros((B, H), cell.dtype)
    dc_next = np.zeros((B, H), cell.dtype)
    c_o_next = None                          # the c of step t+1, for o_uses_next_c
    for t in reversed(range(T)):
        s = restore(cache, t, cfg)
        u, f, i, g, o = s.u, s.f, s.i, s.g, s.o
        c_prev, c, ct = s.c_prev, s.c, s.c_tilde
        dh = dy[t] + (0 if "no_recurrent_dh" in chosen else dh_next)
        s_c = G_c(ct - cfg.theta_c)
        c_used = ct if "unthresholded_c" in chosen else c
        c_prev_used = (cts[t - 1] if t > 0 else c_prev) if "unthresholded_c" in chosen else c_prev
        c_o = c_o_next if ("o_uses_next_c" in chosen and t < T - 1) else c_used
        d_o = dh * c_o                                      # dL/do_t   (Eq. 4)
        local = o * dh                                      # c_t's share through h_t
        if "local_threshold_twice" in chosen:
            local = s_c * local
        if "carry_no_threshold" in chosen:                  # Eq. 4
            dct = s_c * local + dc_next                     # gamma o dL/dh + f_{t+1} dL/dc_{t+1}
            carried = dct
        elif "carry_no_sender_threshold" in chosen:         # the authors' code
            carried = local + dc_next                       # e_t = o dh + f_{t+1} e_{t+1}
            dct = s_c * carried
        else:                                               # the chain rule
            dct = s_c * (local + dc_next)
            carried = dct
        d_i, d_g, d_f = dct * g, dct * i, dct * c_prev_used  # dL/di, dL/dg, dL/df
        dgate = np.concatenate([d_f, d_i, d_g, d_o], axis=1)
        z = (np.abs(u) - np.abs(thetas)) if "abs_distance" in chosen else (u - thetas)
        sig = gauss(z)
        dU[t] = sig * dgate
        if "wg_in_f" in chosen:
            # sigma_1'(Delta_1[w_{g,h} h_{t-1} + w_{g,x} x_t + b_{f,h} + b_{f,x}])
            u_mix = x[t] @ W_x[:, 2 * H:3 * H] + s.h_prev @ W_h[:, 2 * H:3 * H] + p["b"][:H]
            dUmix[t] = G_fio(u_mix - cfg.theta1) * d_f
        if "sigma_outside" in chosen:
            # sigma'(Delta[u]) (w_{.,h} dL/dgate): w_{.,h} = W_h^T in our layout, so
            # w dL/dgate is dgate @ W_h (row vectors), the surrogate applied after it.
            dh_next = sum(sig[:, k * H:(k + 1) * H] * (dgate[:, k * H:(k + 1) * H] @ W_h[:, k * H:(k + 1) * H])
                          for k in range(4))
        else:
            dh_next = dU[t] @ W_h.T
        dc_next = carried * f
        c_o_next = c_used
    dU2 = dU.reshape(T * B, -1)
    X2 = x.reshape(T * B, -1)
    Hp2 = hs[:-1].reshape(T * B, -1)
    grads = {"W_x": X2.T @ dU2, "W_h": Hp2.T @ dU2, "b": dU2.sum(0)}
    if "x_prev" in chosen:
        x_prev = np.concatenate([np.zeros_like(x[:1]), x[:-1]]).reshape(T * B, -1)
        grads["W_x"][:, :3 * H] = x_prev.T @ dU2[:, :3 * H]   # f, i, g lines print x_{t-1}
    if "wg_in_f" in chosen:
        grads["W_h"][:, :H] = Hp2.T @ dUmix.reshape(T * B, -1)
    dx = (dU2 @ W_x.T).reshape(x.shape)
    return dx, grads
