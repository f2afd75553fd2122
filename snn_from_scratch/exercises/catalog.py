"""The exercises: what each one asks, where it is graded, and the mistakes it can name.

An :class:`Exercise` names the function(s) a student writes (with the library's step
signature ``step_backward(dy_t, dstate, cache_t, p, cfg)`` for the step exercises), the
notebook and chapter it belongs to, the configurations it is graded on (:class:`Setting`:
a cell, its options, the twin that makes finite differences meaningful, the sizes and the
seed), and its known mistakes (:class:`Mistake`: a mutated reference from
:mod:`.mistakes`, the hint the grader prints when a student's gradients are those of the
mutation, and ``plant``, the edit of the solution's text that makes the same mistake — the
tests plant each one and check that the grader names it).

Settings are chosen so that every known mistake changes the numbers: thresholds, decays
and widths off their defaults (a dropped factor of 1.0 is invisible), non-square weights
where a forgotten transpose should raise, both values of every switch the exercise asks
the student to honour (detach, bypass, cell_grad).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Optional

from ..cells import lif, lstm, rnn, spiking_lstm, src
from . import mistakes as M


@dataclass(frozen=True)
class Setting:
    """One graded configuration: ``cells.make(cell, n_in, H, seed=seed, **config)``, run
    on T steps of B sequences under ``twin`` (None: a smooth cell, plain finite
    differences; ``"frozen"`` / ``"smooth"``: :class:`gradcheck.Twin`). ``spikes``: 0/1
    inputs. For the surrogate exercise ``config`` holds the family's parameters."""

    label: str
    cell: str
    config: dict = field(default_factory=dict)
    twin: Optional[str] = None
    T: int = 4
    B: int = 3
    n_in: int = 3
    H: int = 4
    seed: int = 0
    spikes: bool = False


@dataclass(frozen=True)
class Mistake:
    """A known mistake: ``key`` (printed in the hint), ``hint`` (what is wrong, in words),
    ``fn`` (the reference with this mistake, same signature as the student's function),
    ``plant`` (``(old, new)`` text edits of the solution that make it) and, for exercises
    with several functions, ``affects``: the function it concerns."""

    key: str
    hint: str
    fn: Callable
    plant: tuple = ()
    affects: Optional[str] = None


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    chapter: str            # the chapter of the book it belongs to
    notebook: str           # the exercise notebook (in exercises/notebooks/)
    functions: tuple        # the names of the functions the student writes
    kind: str               # "step", "loop" or "surrogate"
    reference: Callable     # the library's function (for "surrogate": None, see grader)
    settings: tuple
    hidden_settings: tuple
    mistakes: tuple
    minutes: int            # a time estimate for a student who has read the chapter
    prelude: str            # the imports the student's code may rely on


def _m(fn, key, hint, plant, affects=None):
    return Mistake(key, hint, partial(fn, bug=key), tuple(plant), affects)


TRANSPOSE_HINT = ("transposed weight: in backward a weight enters transposed — the gradient "
                  "reaching h[t-1] through h[t-1] W_h is du W_h^T, not du W_h")

# --------------------------------------------------------------------------------------
RNN_STEP = Exercise(
    name="rnn_step", title="The Elman RNN: one step backward", chapter="03",
    notebook="ex03_bptt_by_hand.ipynb", functions=("rnn_step_backward",), kind="step",
    reference=rnn.step_backward,
    settings=(Setting("default", "rnn", T=4, B=3, n_in=3, H=4, seed=1),),
    hidden_settings=(Setting("hidden", "rnn", T=6, B=2, n_in=5, H=3, seed=7),),
    mistakes=(
        _m(M.rnn_step, "no_carry", "dh: the recurrent carry is missing — h[t] also feeds step "
           "t+1, so the gradient reaching it is dy[t] + dstate.h",
           [("dh = dstate.h + dy_t", "dh = dy_t")]),
        _m(M.rnn_step, "no_dy", "dh: the gradient from above (dy_t) is missing — h[t] is the "
           "layer's output as well as the next step's input",
           [("dh = dstate.h + dy_t", "dh = dstate.h")]),
        _m(M.rnn_step, "tanh_prime_no_square", "da: tanh' is 1 - h^2 (the square is missing)",
           [("(1.0 - cache_t.h ** 2)", "(1.0 - cache_t.h)")]),
        _m(M.rnn_step, "tanh_prime_at_prev", "da: tanh' is evaluated at h[t-1] instead of h[t] "
           "(the derivative belongs to this step's tanh)",
           [("cache_t.h ** 2", "cache_t.h_prev ** 2")]),
        _m(M.rnn_step, "transposed_weight", TRANSPOSE_HINT, [('p["W_h"].T', 'p["W_h"]')]),
    ),
    minutes=20,
    prelude="import numpy as np\nfrom snn_from_scratch.cells import rnn\n",
)

LSTM_STEP = Exercise(
    name="lstm_step", title="The LSTM: one step backward", chapter="03",
    notebook="ex03_bptt_by_hand.ipynb", functions=("lstm_step_backward",), kind="step",
    reference=lstm.step_backward,
    settings=(Setting("default", "lstm", T=4, B=3, n_in=3, H=3, seed=1),),
    hidden_settings=(Setting("hidden", "lstm", T=6, B=2, n_in=4, H=2, seed=7),),
    mistakes=(
        _m(M.lstm_step, "no_carry", "dh: the recurrent carry is missing — dh = dy_t + dstate.h",
           [("dh = dstate.h + dy_t", "dh = dy_t")]),
        _m(M.lstm_step, "no_c_carry", "dc carry: the gradient reaching c[t] from step t+1 "
           "(dstate.c) is not added — c[t] feeds h[t] and c[t+1]",
           [("dc_total = dstate.c + ", "dc_total = ")]),
        _m(M.lstm_step, "no_tanh_prime", "dc_total: the path through h[t] = o tanh(c[t]) needs "
           "tanh'(c[t]) = 1 - tanh(c[t])^2",
           [("dh * c.o * (1.0 - c.tanh_c ** 2)", "dh * c.o")]),
        _m(M.lstm_step, "no_forget_in_carry", "dc carry: c[t-1] enters c[t] multiplied by the "
           "forget gate, so dc[t-1] = dc_total * f (the factor f is missing)",
           [("dc_prev = dc_total * c.f", "dc_prev = dc_total")]),
        _m(M.lstm_step, "gates_swapped", "du: the gate blocks are out of order — the library's "
           "order is f, i, g, o",
           [("[du_f, du_i, du_g, du_o]", "[du_i, du_f, du_g, du_o]")]),
        _m(M.lstm_step, "transposed_weight", TRANSPOSE_HINT, [('p["W_h"].T', 'p["W_h"]')]),
    ),
    minutes=40,
    prelude="import numpy as np\nfrom snn_from_scratch.cells import lstm\n",
)

BPTT_LOOP = Exercise(
    name="bptt_loop", title="The BPTT loop: a sequence backward from a step backward",
    chapter="03", notebook="ex03_bptt_by_hand.ipynb", functions=("bptt_backward",),
    kind="loop", reference=partial(M.bptt_loop, bug=None),
    settings=(Setting("rnn", "rnn", T=5, B=3, n_in=3, H=4, seed=2),
              Setting("lif, learnable alpha & threshold", "lif",
                      dict(threshold=0.8, alpha=0.85, beta=0.7, learn_alpha=True,
                           learn_threshold=True), "frozen", T=5, B=3, n_in=3, H=4, seed=2)),
    hidden_settings=(Setting("hidden lstm", "lstm", T=6, B=2, n_in=3, H=2, seed=5),
                     Setting("hidden lif", "lif", dict(threshold=1.2, learn_alpha=True),
                             "frozen", T=6, B=2, n_in=3, H=3, seed=5)),
    mistakes=(
        _m(M.bptt_loop, "forward_in_time", "loop order: BPTT walks backwards in time — step t "
           "needs what step t+1 sent back, so iterate reversed(range(T))",
           [("reversed(range(T))", "range(T)")]),
        _m(M.bptt_loop, "no_carry", "missing recurrent carry: the State returned by step t's "
           "backward must be passed to step t-1 (here every step starts from zero)",
           [("dA[t], dstate, dp_t = step_backward(dy[t], dstate,",
             "dA[t], _, dp_t = step_backward(dy[t], dstate,")]),
        _m(M.bptt_loop, "dp_overwritten", "parameter terms: each step's dp_t must be added to the "
           "running sum, not overwrite it",
           [("dp[k] = dp[k] + v if k in dp else v", "dp[k] = v")]),
        _m(M.bptt_loop, "dy_last_only", "dy: the gradient from above reaches the output at every "
           "step (dy[t]), not only at the last one",
           [("step_backward(dy[t], dstate,", "step_backward(dy[t] if t == T - 1 else 0 * dy[t], dstate,")]),
        _m(M.bptt_loop, "dA_reversed", "dA: da of step t belongs in dA[t] (the list is in time order)",
           [("dA[t], dstate, dp_t", "dA[T - 1 - t], dstate, dp_t")]),
    ),
    minutes=20,
    prelude="import numpy as np\n",
)

SURROGATE = Exercise(
    name="surrogate", title="A surrogate gradient and its primitive: the fast sigmoid",
    chapter="01", notebook="ex01_surrogates.ipynb",
    functions=("fast_sigmoid_grad", "fast_sigmoid_primitive"), kind="surrogate",
    reference=None,
    settings=(Setting("k=25", "lif", dict(k=25.0), "smooth"),
              Setting("k=3", "lif", dict(k=3.0), "smooth")),
    hidden_settings=(Setting("hidden k=10", "lif", dict(k=10.0), "smooth", seed=3),),
    mistakes=(
        _m(M.fast_sigmoid_grad, "grad_abs_missing", "grad: |u| was written u — the bump must be "
           "symmetric about the threshold (and 1/(1 + k u)^2 blows up at u = -1/k)",
           [("return 1.0 / (1.0 + k * np.abs(u)) ** 2", "return 1.0 / (1.0 + k * u) ** 2")],
           affects="grad"),
        _m(M.fast_sigmoid_grad, "grad_square_missing", "grad: the square is missing — "
           "1/(1 + k|u|) is not the fast sigmoid's derivative (and its integral diverges)",
           [("return 1.0 / (1.0 + k * np.abs(u)) ** 2", "return 1.0 / (1.0 + k * np.abs(u))")],
           affects="grad"),
        _m(M.fast_sigmoid_primitive, "primitive_offset_missing", "primitive: the constant 1/k "
           "is missing — the primitive must be 0 far below threshold, where the spike is 0",
           [("return 1.0 / k + u / (1.0 + k * np.abs(u))", "return u / (1.0 + k * np.abs(u))")],
           affects="primitive"),
        _m(M.fast_sigmoid_primitive, "primitive_abs_missing", "primitive: |u| was written u in "
           "the denominator — u/(1 + k u) is not an antiderivative of 1/(1 + k|u|)^2 for u < 0",
           [("return 1.0 / k + u / (1.0 + k * np.abs(u))", "return 1.0 / k + u / (1.0 + k * u)")],
           affects="primitive"),
        _m(M.fast_sigmoid_primitive, "primitive_times_k", "primitive: scaled by k — its "
           "derivative would be k/(1 + k|u|)^2, k times the surrogate",
           [("return 1.0 / k + u / (1.0 + k * np.abs(u))",
             "return 1.0 + k * u / (1.0 + k * np.abs(u))")], affects="primitive"),
        _m(M.fast_sigmoid_primitive, "primitive_logistic", "primitive: the logistic sigmoid is "
           "the primitive of another surrogate (the 'sigmoid' family), not of the fast sigmoid",
           [("return 1.0 / k + u / (1.0 + k * np.abs(u))", "return 1.0 / (1.0 + np.exp(-k * u))")],
           affects="primitive"),
    ),
    minutes=25,
    prelude="import numpy as np\n",
)

_SLSTM = dict(theta1=0.15, theta2=0.05, theta_c=0.4, a1=3.0, a2=0.5, a_c=2.5)
_abs = [("u_f - cfg.theta1", "np.abs(u_f) - abs(cfg.theta1)"),
        ("u_i - cfg.theta1", "np.abs(u_i) - abs(cfg.theta1)"),
        ("u_g - cfg.theta2", "np.abs(u_g) - abs(cfg.theta2)"),
        ("u_o - cfg.theta1", "np.abs(u_o) - abs(cfg.theta1)")]
SPIKING_LSTM_STEP = Exercise(
    name="spiking_lstm_step", title="The spiking LSTM: the unit state and its carry",
    chapter="04", notebook="ex04_spiking_lstm.ipynb",
    functions=("spiking_lstm_step_backward",), kind="step", reference=spiking_lstm.step_backward,
    settings=(Setting("Gaussian unit-state surrogate", "spiking_lstm", _SLSTM, "frozen",
                      T=5, B=4, n_in=3, H=3, seed=2),
              Setting("Gaussian, smooth twin", "spiking_lstm", _SLSTM, "smooth",
                      T=5, B=4, n_in=3, H=3, seed=2),
              Setting("cell_grad='constant', gamma=0.7", "spiking_lstm",
                      dict(_SLSTM, cell_grad="constant", gamma=0.7), "frozen",
                      T=5, B=4, n_in=3, H=3, seed=2)),
    hidden_settings=(Setting("hidden", "spiking_lstm", dict(theta1=0.05, theta2=0.2, theta_c=0.6),
                             "smooth", T=5, B=2, n_in=4, H=2, seed=4),),
    mistakes=(
        _m(M.spiking_lstm_step, "carry_no_threshold", "dc carry: the threshold factor s_c is "
           "missing on the carry from step t+1 — c~[t] reaches c[t] (and so c~[t+1]) only "
           "through H(c~ - theta_c): dc~ = (dh*o + dc) * s_c (the paper's Eq. 4 adds the "
           "carry after the factor)",
           [("dct = (dh * c.o + dstate.c) * s_c", "dct = dh * c.o * s_c + dstate.c")]),
        _m(M.spiking_lstm_step, "unit_state_surrogate_missing", "dc~: the derivative of the "
           "unit-state threshold c = H(c~ - theta_c) is missing (s_c, the surrogate of that "
           "spike, multiplies both paths)",
           [("dct = (dh * c.o + dstate.c) * s_c", "dct = dh * c.o + dstate.c")]),
        _m(M.spiking_lstm_step, "abs_distance", "surrogate evaluated at the wrong point: "
           "|u| - |theta| (the paper's printed Delta) instead of the signed u - theta",
           _abs),
        _m(M.spiking_lstm_step, "theta_missing", "surrogate evaluated at the wrong point: at u "
           "instead of u - theta (the bump sits on the threshold)",
           [(a, a.split(" - ")[0]) for a, _ in _abs]),
        _m(M.spiking_lstm_step, "wrong_width_g", "du_g: g is a spike of threshold theta2 with "
           "its own surrogate sigma2 (width a2), not sigma1",
           [("cfg.sigma2.grad", "cfg.sigma1.grad")]),
        _m(M.spiking_lstm_step, "constant_ignored", "s_c: with cell_grad='constant' the "
           "unit-state threshold's derivative is the constant gamma, not the Gaussian",
           [('if cfg.cell_grad == "gaussian":', "if True:")]),
        _m(M.spiking_lstm_step, "no_forget_in_carry", "dc carry: c[t-1] enters c~ multiplied "
           "by the forget gate, so dc[t-1] = dc~ * f (the factor f is missing)",
           [("dc_prev = dct * c.f", "dc_prev = dct")]),
        _m(M.spiking_lstm_step, "no_carry", "dh: the recurrent carry is missing — dh = dy_t + "
           "dstate.h (the paper's Eq. 4 read literally keeps only the readout term)",
           [("dh = dy_t + dstate.h", "dh = dy_t")]),
        _m(M.spiking_lstm_step, "unthresholded_c", "du_o: h = o * c uses the thresholded spike "
           "c[t], not the sum c~[t]", [("du_o = dh * c.c *", "du_o = dh * c.c_tilde *")]),
        _m(M.spiking_lstm_step, "c_instead_of_c_prev", "du_f: f multiplies c[t-1] in c~, so "
           "du_f carries c[t-1], not c[t]", [("dct * c.c_prev *", "dct * c.c *")]),
        _m(M.spiking_lstm_step, "transposed_weight", TRANSPOSE_HINT, [('p["W_h"].T', 'p["W_h"]')]),
    ),
    minutes=50,
    prelude="import numpy as np\nfrom snn_from_scratch.cells import spiking_lstm\n",
)

_LIF = dict(alpha=0.85, beta=0.7, threshold=0.8)
LIF_STEP = Exercise(
    name="lif_step", title="The LIF neuron: synaptic current, subtractive reset, detach",
    chapter="06", notebook="ex06_lif.ipynb", functions=("lif_step_backward",), kind="step",
    reference=lif.step_backward,
    settings=(Setting("reset attached", "lif", dict(_LIF, detach_reset=False), "frozen",
                      T=5, B=3, n_in=3, H=4, seed=0),
              Setting("reset detached", "lif", dict(_LIF, detach_reset=True), "frozen",
                      T=5, B=3, n_in=3, H=4, seed=0)),
    hidden_settings=(Setting("hidden", "lif", dict(alpha=0.95, beta=0.6, threshold=1.3),
                             "smooth", T=6, B=2, n_in=2, H=3, seed=6),
                     Setting("hidden detached", "lif", dict(alpha=0.95, beta=0.6, threshold=1.3,
                                                            detach_reset=True),
                             "frozen", T=6, B=2, n_in=2, H=3, seed=6)),
    mistakes=(
        _m(M.lif_step, "no_reset", "dV carry: the reset term is missing — V[t] = ... - gamma "
           "Y[t-1] sends dY[t-1] = -gamma dV[t] back (unless the reset is detached)",
           [("dY_prev = -cfg.threshold * dV", "dY_prev = np.zeros_like(dV)")]),
        _m(M.lif_step, "detach_ignored", "detach_reset: with a detached reset Y[t-1] is a "
           "constant in V[t] = ... - gamma Y[t-1], so no gradient reaches it (dY[t-1] = 0)",
           [("if cfg.detach_reset:", "if False:")]),
        _m(M.lif_step, "reset_no_threshold", "reset term: the threshold factor gamma is "
           "missing — the reset subtracts gamma Y[t-1], so dY[t-1] = -gamma dV[t]",
           [("dY_prev = -cfg.threshold * dV", "dY_prev = -dV")]),
        _m(M.lif_step, "reset_sign", "reset term: wrong sign — the reset *subtracts* gamma "
           "Y[t-1], so dY[t-1] = -gamma dV[t]",
           [("dY_prev = -cfg.threshold * dV", "dY_prev = cfg.threshold * dV")]),
        _m(M.lif_step, "no_alpha", "dV carry: the leak alpha is missing — V[t] = alpha V[t-1] "
           "+ ..., so dV[t-1] = alpha dV[t]", [("dV_prev = cfg.alpha * dV", "dV_prev = dV")]),
        _m(M.lif_step, "no_beta", "dI carry: the synaptic decay beta is missing — I[t] = beta "
           "I[t-1] + a[t], so dI[t-1] = beta dI[t]", [("dI_prev = cfg.beta * dI", "dI_prev = dI")]),
        _m(M.lif_step, "no_I_carry", "missing recurrent carry: the synaptic current carries "
           "gradient back in time, dI[t-1] = beta dI[t]",
           [("dI_prev = cfg.beta * dI", "dI_prev = 0 * dI")]),
        _m(M.lif_step, "no_dY_carry", "dY: the gradient reaching Y[t] from step t+1 (through "
           "V[t+1]'s reset, dstate.Y) is dropped — dY = dy_t + dstate.Y",
           [("dY = dstate.Y + dy_t", "dY = dy_t")]),
        _m(M.lif_step, "surrogate_missing", "dV: the spike's surrogate derivative dY/dV "
           "(cache_t.dYdV) is missing on the path through Y[t]",
           [("dY * cache_t.dYdV", "dY")]),
    ),
    minutes=40,
    prelude="import numpy as np\nfrom snn_from_scratch.cells import lif\n",
)

_SRC = dict(b_h_init=-2.0, b_h_max=None, z_dep=0.2, alpha=0.85)
SRC_STEP = Exercise(
    name="src_step", title="The Spiking Recurrent Cell: bypass and detach rules",
    chapter="10", notebook="ex10_src.ipynb", functions=("src_step_backward",), kind="step",
    reference=src.step_backward,
    settings=tuple(Setting(f"bypass_relu={b}, detach_recurrent={d}", "src",
                           dict(_SRC, bypass_relu=b, detach_recurrent=d), "frozen",
                           T=5, B=3, n_in=4, H=3, seed=3, spikes=True)
                   for b in (False, True) for d in (False, True)),
    hidden_settings=(Setting("hidden exact", "src", dict(_SRC, bypass_relu=False,
                                                         detach_recurrent=False, r=1.5),
                             "frozen", T=6, B=2, n_in=5, H=2, seed=8, spikes=True),),
    mistakes=(
        _m(M.src_step, "bypass_ignored", "bypass_relu: with the bypass ds/dh is taken as 1 — "
           "dy_t passes to h unmasked, also where h < 0",
           [("if cfg.bypass_relu:", "if False:")]),
        _m(M.src_step, "bypass_always", "bypass_relu=False: the exact rule is the ReLU's own "
           "derivative, dy_t * H(h)", [("if cfg.bypass_relu:", "if True:")]),
        _m(M.src_step, "detach_ignored", "detach_recurrent: h[t-1] and h_s[t-1] are constants, "
           "so nothing flows back through them (dh[t-1] = dh_s[t-1] = 0)",
           [("if cfg.detach_recurrent:", "if False:")]),
        _m(M.src_step, "detach_always", "detach_recurrent=False: the exact gradient flows back "
           "through h[t-1] (3d, 3e) and h_s[t-1]", [("if cfg.detach_recurrent:", "if True:")]),
        _m(M.src_step, "no_tanh_prime", "du: 3d's tanh' = 1 - h[t]^2 is missing",
           [("du = dh * (1.0 - h ** 2)", "du = dh")]),
        _m(M.src_step, "no_saturation_prime", "di: the saturation x = rho tanh(i/rho) (3b) "
           "has derivative 1 - (x/rho)^2, missing here",
           [("di = di + du * (1.0 - (x / cfg.rho) ** 2)", "di = di + du")]),
        _m(M.src_step, "no_alpha", "di carry: the integrator's leak alpha is missing — "
           "di[t-1] = alpha di[t]", [("di_prev = cfg.alpha * di", "di_prev = di")]),
        _m(M.src_step, "no_i_carry", "missing recurrent carry: the integrator i sends "
           "di[t-1] = alpha di[t] back (the only path in time under detach)",
           [("di_prev = cfg.alpha * di", "di_prev = 0 * di")]),
        _m(M.src_step, "i_carry_not_received", "missing recurrent carry: the gradient reaching "
           "i[t] from step t+1 (dstate.i) must be added to this step's di",
           [("di = di + du * (", "di = du * (")]),
        _m(M.src_step, "gates_swapped", "3e: h_s[t] = z_s h_s[t-1] + (1 - z_s) h[t-1], so "
           "h_s's carry keeps z_s and h's gets (1 - z_s) — swapped here",
           [("dh_prev = cfg.r * du + (1.0 - z_s) * dhs", "dh_prev = cfg.r * du + z_s * dhs"),
            ("dhs_prev = cfg.r_s * du + z_s * dhs", "dhs_prev = cfg.r_s * du + (1.0 - z_s) * dhs")]),
    ),
    minutes=35,
    prelude="import numpy as np\nfrom snn_from_scratch.cells import src\n",
)

#: name -> Exercise, in the order of the book
EXERCISES = {e.name: e for e in (SURROGATE, RNN_STEP, LSTM_STEP, BPTT_LOOP, SPIKING_LSTM_STEP,
                                 LIF_STEP, SRC_STEP)}
