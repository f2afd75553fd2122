"""Errata of Lotfi Rezaabad & Vishwanath (2020), proven by finite differences.

For each place where the paper's Eq. 2-5 / Appendix A or the authors' public code
(AliLotfi92/SNNLSTM@e1dd325d) print a backward formula that differs from the exact chain
rule of the forward pass (Eq. 1 with the §3.1 unit-state threshold),
:func:`spiking_lstm.backward_variant` computes the printed variant. The same
finite-difference check (frozen twin = the real spike trajectory, and smooth twin) accepts
our backward and rejects the variant — each erratum alone (:data:`spiking_lstm.ERRATA`) and
each of the authors' three scripts as a whole (:data:`spiking_lstm.AUTHORS`; that these
are the scripts' loops is tests/test_authors_lotfi.py).
"""
import numpy as np
import pytest

from snn_from_scratch import cells
from snn_from_scratch.cells import spiking_lstm as sl
from snn_from_scratch.gradcheck import check_cell, check_function, rel_error

N_IN, H, B, T = 4, 5, 4, 6


def setup(seed=0, **config):
    rng = np.random.default_rng(seed)
    cell = cells.make("spiking_lstm", N_IN, H, seed=seed, dtype=np.float64, **config)
    x = rng.standard_normal((T, B, N_IN))
    state = sl.State(0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H)))
    dy = rng.standard_normal((T, B, H))
    return cell, x, state, dy


def check_with(cell, x, state, dy, variant, twin="frozen"):
    """check_cell with cell.backward replaced by the printed variant (None = ours)."""
    original = cell._backward
    cell._backward = lambda d, cache: sl.backward_variant(cell, d, cache, variant)
    try:
        return check_cell(cell, x, state, dy=dy, twin=twin)
    finally:
        cell._backward = original


def last_step_only(dy):
    out = np.zeros_like(dy)
    out[-1] = dy[-1]
    return out


# variant -> how the scenario must look for the discrepancy to matter
SCENARIOS = {
    "x_prev": {},
    "wg_in_f": {},
    "carry_no_threshold": {},
    "carry_no_sender_threshold": {},
    "o_uses_next_c": {},
    "local_threshold_twice": {},
    # the cell configured as close to the MNIST script as Config can get (G_0.3 for f, i, o;
    # G_1 for g and the unit state): the script's exp(-z^2)/sqrt(0.3 pi) is still not it
    "mnist_surrogates": {"config": dict(a1=0.3, a2=1.0, a_c=1.0)},
    "last_step_every_step": {"dy": last_step_only},   # a last-step readout (seq. MNIST)
    "abs_distance": {},
    "no_recurrent_dh": {},
    "sigma_outside": {},
    "unthresholded_c": {},
}


def test_every_erratum_has_a_scenario():
    assert set(SCENARIOS) == set(sl.ERRATA)


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("variant", sorted(SCENARIOS))
def test_printed_variant_is_not_the_gradient(variant, twin):
    cell, x, state, dy = setup(**SCENARIOS[variant].get("config", {}))
    if "dy" in SCENARIOS[variant]:
        dy = SCENARIOS[variant]["dy"](dy)
    ours = check_with(cell, x, state, dy, None, twin)
    assert ours.ok, ours.table()
    printed = check_with(cell, x, state, dy, variant, twin)
    assert not printed.ok, printed.table()
    assert printed.max_error > 1e-3, printed.table()


# each script's whole loop, with the readout its script uses (see AUTHORS_SCRIPTS); the MNIST
# one on the cell configured as close to its surrogates as Config can get
AUTHOR_SCENARIOS = {
    "char": {},
    "mnist": {"dy": last_step_only, "config": dict(a1=0.3, a2=1.0, a_c=1.0)},
    "fsdd": {"dy": last_step_only},
}


@pytest.mark.parametrize("twin", ["frozen", "smooth"])
@pytest.mark.parametrize("script", sorted(AUTHOR_SCENARIOS))
def test_authors_script_is_not_the_gradient(script, twin):
    assert set(AUTHOR_SCENARIOS) == set(sl.AUTHORS_SCRIPTS)
    scenario = AUTHOR_SCENARIOS[script]
    cell, x, state, dy = setup(**scenario.get("config", {}))
    if "dy" in scenario:
        dy = scenario["dy"](dy)
    ours = check_with(cell, x, state, dy, None, twin)
    assert ours.ok, ours.table()
    printed = check_with(cell, x, state, dy, sl.AUTHORS_SCRIPTS[script], twin)
    assert not printed.ok, printed.table()
    assert printed.max_error > 1e-3, printed.table()


def test_carry_erratum_also_with_constant_gamma():
    """§3.1's constant gamma < 1: the skipped factor is gamma itself (carry too large)."""
    cell, x, state, dy = setup(cell_grad="constant", gamma=0.5)
    assert check_with(cell, x, state, dy, None).ok
    assert not check_with(cell, x, state, dy, "carry_no_threshold").ok
    assert not check_with(cell, x, state, dy, "carry_no_sender_threshold").ok


def test_the_two_carry_errata_are_different_formulas():
    """Eq. 4 drops the receiving step's threshold factor, the authors' code the sending
    step's: both differ from the chain rule and from each other."""
    cell, x, state, dy = setup()
    _, cache = cell.forward(x, state)
    _, g0 = cell.backward(dy, cache)
    _, g_paper = sl.backward_variant(cell, dy, cache, "carry_no_threshold")
    _, g_code = sl.backward_variant(cell, dy, cache, "carry_no_sender_threshold")
    for k in g0:
        assert rel_error(g_paper[k], g_code[k]) > 1e-2, k
    with pytest.raises(ValueError, match="carry"):
        sl.backward_variant(cell, dy, cache, ("carry_no_threshold", "carry_no_sender_threshold"))


def test_variants_change_only_their_line():
    """Each variant differs from ours only in the tensors its printed line concerns."""
    cell, x, state, dy = setup()
    y, cache = cell.forward(x, state)
    dx0, g0 = cell.backward(dy, cache)
    touched = {"x_prev": {"W_x"}, "wg_in_f": {"W_h"}}
    for variant, keys in touched.items():
        dx, g = sl.backward_variant(cell, dy, cache, variant)
        np.testing.assert_array_equal(dx, dx0)
        for k in g0:
            same = np.array_equal(g[k], g0[k])
            assert same == (k not in keys), (variant, k)
    # x_prev touches the f, i, g blocks of W_x only (the o line prints x_t correctly)
    _, g = sl.backward_variant(cell, dy, cache, "x_prev")
    np.testing.assert_array_equal(g["W_x"][:, 3 * H:], g0["W_x"][:, 3 * H:])
    assert not np.array_equal(g["W_x"][:, :H], g0["W_x"][:, :H])


def test_eq3_softmax_gradient_is_wrt_logits():
    """Eq. 3 / Eq. 5: dL/dy_t = y_t - y_true holds for the logits z = w_y h + b_y,
    not for the softmax output y_t the equation names."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 6))
    labels = np.array([1, 4, 0])
    onehot = np.eye(6)[labels]

    def softmax(a):
        e = np.exp(a - a.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def ce_of_logits():
        return float(-np.sum(onehot * np.log(softmax(z))))

    y = softmax(z)
    printed = y - onehot
    rep = check_function(ce_of_logits, {"z": z}, {"z": printed})
    assert rep.ok, rep.table()       # correct as the gradient w.r.t. the logits

    p = softmax(z)

    def ce_of_probs():               # L as a function of the softmax output itself
        return float(-np.sum(onehot * np.log(p)))

    rep = check_function(ce_of_probs, {"y": p}, {"y": printed})
    assert not rep.ok                # ... and wrong w.r.t. y_t (that is -y_true / y_t)
    assert rel_error(-onehot / p, printed) > 0.1
