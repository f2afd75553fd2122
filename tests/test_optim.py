"""Optimizers against hand-computed steps, clipping, schedules and state round trips."""
import math

import numpy as np
import pytest

from snn_from_scratch.optim import SGD, Adam, CosineAnnealing, StepDecay, clip_grad_norm


def test_sgd_plain_and_momentum_by_hand():
    p = {"w": np.array([1.0, -2.0])}
    opt = SGD(p, lr=0.1)
    opt.step({"w": np.array([0.5, 1.0])})
    np.testing.assert_allclose(p["w"], [0.95, -2.1], rtol=0, atol=1e-15)

    p = {"w": np.array([1.0])}
    opt = SGD(p, lr=0.1, momentum=0.9)
    w = p["w"]
    opt.step({"w": np.array([1.0])})   # v = 1,          w = 1 - 0.1
    opt.step({"w": np.array([2.0])})   # v = 0.9 + 2,    w = 0.9 - 0.29
    assert w is p["w"]  # in place
    np.testing.assert_allclose(w, [1.0 - 0.1 - 0.29], atol=1e-15)

    p = {"w": np.array([1.0])}
    opt = SGD(p, lr=0.1, momentum=0.9, nesterov=True)
    opt.step({"w": np.array([1.0])})   # v = 1; step g + mu v = 1.9
    opt.step({"w": np.array([2.0])})   # v = 2.9; step 2 + 0.9*2.9 = 4.61
    np.testing.assert_allclose(p["w"], [1.0 - 0.19 - 0.461], atol=1e-15)

    p = {"w": np.array([2.0])}
    SGD(p, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})
    np.testing.assert_allclose(p["w"], [2.0 - 0.1 * 1.0], atol=1e-15)


def adam_reference(w, grads, lr, b1, b2, eps, wd=0.0, decoupled=False):
    """Kingma & Ba, Algorithm 1, written the textbook way."""
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        if wd and decoupled:
            w = w - lr * wd * w
        elif wd:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * mh / (np.sqrt(vh) + eps)
    return w


def test_adam_first_step_is_lr_times_sign():
    # bias correction makes the first step lr * g / (|g| + eps) = lr * sign(g)
    p = {"w": np.array([1.0, 1.0, 1.0])}
    Adam(p, lr=0.01).step({"w": np.array([3.0, -1e-3, 0.0])})
    np.testing.assert_allclose(p["w"], [0.99, 1.01, 1.0], atol=1e-7)


@pytest.mark.parametrize("wd,decoupled", [(0.0, False), (0.1, False), (0.1, True)])
def test_adam_matches_textbook(wd, decoupled):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(6)]
    p = {"w": w0.copy()}
    opt = Adam(p, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd, decoupled=decoupled)
    for g in grads:
        opt.step({"w": g.copy()})
    np.testing.assert_allclose(p["w"], adam_reference(w0, grads, 0.05, 0.8, 0.95, 1e-6, wd, decoupled),
                               rtol=1e-12, atol=1e-14)
    assert opt.t == 6


def test_adam_keeps_float32():
    p = {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    opt = Adam(p, lr=1e-3)
    opt.step({"w": np.ones((3, 2)), "b": np.ones(2, np.float32)})  # float64 grad is cast, not promoted
    assert p["w"].dtype == np.float32 and opt.state["m"]["w"].dtype == np.float32
    assert opt.state["v"]["b"].dtype == np.float32


def test_optimizer_validation():
    p = {"w": np.zeros(3)}
    with pytest.raises(ValueError, match="missing"):
        SGD(p, 0.1).step({})
    with pytest.raises(ValueError, match="unexpected"):
        SGD(p, 0.1).step({"w": np.zeros(3), "q": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        SGD(p, 0.1).step({"w": np.zeros(4)})
    with pytest.raises(ValueError, match="lr"):
        Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="nesterov"):
        SGD(p, 0.1, nesterov=True)
    with pytest.raises(TypeError, match="params"):
        SGD([np.zeros(3)], 0.1)


@pytest.mark.parametrize("make", [lambda p: Adam(p, lr=0.01), lambda p: SGD(p, 0.1, momentum=0.9)])
def test_state_dict_round_trip_is_exact(make):
    rng = np.random.default_rng(0)
    p1 = {"w": rng.standard_normal(4).astype(np.float32)}
    p2 = {"w": p1["w"].copy()}
    o1, o2 = make(p1), make(p2)
    for _ in range(3):
        o1.step({"w": rng.standard_normal(4).astype(np.float32)})
    sd = o1.state_dict()
    p2["w"][...] = p1["w"]
    o2.load_state_dict(sd)
    g = rng.standard_normal(4).astype(np.float32)
    o1.step({"w": g.copy()})
    o2.step({"w": g.copy()})
    assert np.array_equal(p1["w"], p2["w"])  # continuing gives bit-identical parameters
    with pytest.raises(ValueError, match="optimizer state is for"):
        SGD({"w": np.zeros(4, np.float32)}, 0.1).load_state_dict(Adam({"w": np.zeros(4, np.float32)}).state_dict())


def test_clip_grad_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    total = clip_grad_norm(g, 1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(g["a"], [0.6, 0.0], rtol=1e-10)
    np.testing.assert_allclose(g["b"], [[0.8]], rtol=1e-10)
    after = math.sqrt(sum(float(np.sum(v ** 2)) for v in g.values()))
    assert after == pytest.approx(1.0, rel=1e-10)
    small = {"a": np.array([0.3, 0.4], np.float32)}
    assert clip_grad_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], np.array([0.3, 0.4], np.float32))  # untouched
    assert small["a"].dtype == np.float32
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(g, 0.0)


def test_cosine_annealing():
    opt = SGD({"w": np.zeros(1)}, lr=1.0)
    sch = CosineAnnealing(opt, T_max=4, lr_min=0.1)
    lrs = [sch.step() for _ in range(6)]
    expect = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in (1, 2, 3, 4, 4, 4)]
    np.testing.assert_allclose(lrs, expect, rtol=1e-14)
    assert lrs[1] == pytest.approx(0.55) and lrs[3] == pytest.approx(0.1)
    assert opt.lr == lrs[-1]


def test_step_decay_and_state():
    opt = Adam({"w": np.zeros(1)}, lr=1.0)
    sch = StepDecay(opt, step_size=2, gamma=0.5)
    assert [sch.step() for _ in range(5)] == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt2 = Adam({"w": np.zeros(1)}, lr=1.0)
    sch2 = StepDecay(opt2, step_size=2, gamma=0.5)
    sch2.load_state_dict(sch.state_dict())
    assert opt2.lr == 0.25 and sch2.step() == sch.step()
    with pytest.raises(ValueError, match="step_size"):
        StepDecay(opt, 0)
    with pytest.raises(ValueError, match="T_max"):
        CosineAnnealing(opt, 0)
