"""Properties that hold for every input, checked with ``hypothesis`` on drawn cases.

* a backward pass never mutates its inputs (x, dy, the cache, the parameters, the buffers);
* float32 and float64 agree to float32 precision (smooth cells directly; spiking cells on
  their smooth twin, and on the real forward up to the few spikes a rounding may flip);
* a checkpoint's save/load round trip is bit-exact (parameters, buffers, optimizer state,
  extra);
* every surrogate is finite, silent and non-negative for any finite float32/float64 input;
* the frozen twin's recording pass gives, bit for bit, the plain forward and backward.

Every configuration is drawn from the proof table (``proofs.PROOFS``: every cell, every
option combination it proves, generic points included). ``max_examples`` keeps the whole
module to a few seconds.
"""
import json
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
from hypothesis import HealthCheck, assume, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from snn_from_scratch import cells, proofs, surrogates  # noqa: E402
from snn_from_scratch.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from snn_from_scratch.gradcheck import Twin  # noqa: E402
from snn_from_scratch.network import build  # noqa: E402
from snn_from_scratch.optim import Adam  # noqa: E402

N_IN, H = 3, 4
SMOOTH = {"rnn", "lstm", "gru", "brc"}


def _configs():
    out, seen = [], set()
    for name in cells.available():
        for cfg, _ in proofs.proofs_of(name).values():
            key = (name, json.dumps(cfg, sort_keys=True, default=repr))
            if key not in seen:
                seen.add(key)
                out.append((name, cfg))
    return out


CONFIGS = _configs()
CASE = st.tuples(st.sampled_from(CONFIGS), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2 ** 16))
# database=None: no example database written into the working tree
FAST = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def setup(name, cfg, T, B, seed, dtype=np.float64, training=False):
    # batch statistics need two rows (the cell refuses one, rightly)
    assume(not (T * B < 2 and cfg.get("norm") == "batch"
                and (training or not cfg.get("bn_track_running_stats", True))))
    rng = np.random.default_rng(seed)
    cell = cells.make(name, N_IN, H, seed=seed % 97, dtype=dtype, **cfg)
    cell.training = training
    x = rng.standard_normal((T, B, N_IN))
    if name in proofs.SPIKE_INPUT:
        x = (rng.random((T, B, N_IN)) < 0.5).astype(np.float64)
    state = cell.sample_state(B, rng)
    return cell, x.astype(dtype), state, rng


def snap(v):
    """A deep copy of every array in a nested structure (dicts, lists, tuples)."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, dict):
        return {k: snap(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [snap(x) for x in v]
    return v


def assert_same(a, b, where="cache"):
    """Bit-for-bit equality of two snapped structures (dtype included)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=True), f"{where} changed"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")


# --------------------------------------------------------------------------------------
@FAST
@given(CASE, st.booleans())
def test_backward_never_mutates_its_inputs(case, training):
    (name, cfg), T, B, seed = case
    cell, x, state, rng = setup(name, cfg, T, B, seed, training=training)
    y, cache = cell.forward(x, state)
    dy = rng.standard_normal(y.shape)
    before = snap((x, dy, cache, cell.params, cell.buffers, state))
    cell.backward(dy, cache)
    assert_same(before, snap((x, dy, cache, cell.params, cell.buffers, state)), f"{name} {cfg}")


# --------------------------------------------------------------------------------------
def _pair(name, cfg, T, B, seed):
    """The same cell, input, state and dy in float64 and float32, from float32-exact numbers."""
    c64, x, state, rng = setup(name, cfg, T, B, seed)
    c32 = cells.make(name, N_IN, H, seed=seed % 97, dtype=np.float32, **cfg)
    c32.training = False
    for k, v in c64.params.items():
        c32.params[k][...] = v.astype(np.float32)
        v[...] = c32.params[k]
    for k, v in c64.buffers.items():
        if isinstance(v, np.ndarray):
            c32.buffers[k] = v.astype(np.float32)
            c64.buffers[k] = c32.buffers[k].astype(np.float64)
        else:
            c32.buffers[k] = v
    x32 = x.astype(np.float32)
    s32 = type(state)(*[np.asarray(v, np.float32) for v in state])
    s64 = type(state)(*[v.astype(np.float64) for v in s32])
    dy = rng.standard_normal((T, B, H)).astype(np.float32)
    return (c64, x32.astype(np.float64), s64, dy.astype(np.float64)), (c32, x32, s32, dy)


def _close(a32, a64, rtol, what):
    scale = max(1.0, float(np.max(np.abs(a64), initial=0.0)))
    err = float(np.max(np.abs(a32.astype(np.float64) - a64), initial=0.0))
    assert err <= rtol * scale, f"{what}: float32 and float64 differ by {err:.2e} (scale {scale:.2e})"


@FAST
@given(CASE)
def test_float32_agrees_with_float64(case):
    (name, cfg), T, B, seed = case
    (c64, x64, s64, dy64), (c32, x32, s32, dy32) = _pair(name, cfg, T, B, seed)
    # smooth cells as they are; spiking cells through their smooth twin (no spike to flip)
    ops = (lambda: {}) if name in SMOOTH else (lambda: {"ops": Twin("smooth")})
    y64, k64 = c64.forward(x64, s64, **ops())
    y32, k32 = c32.forward(x32, s32, **ops())
    assert y32.dtype == np.float32
    _close(y32, y64, 1e-4, f"{name} {cfg}: y")
    dx64, g64 = c64.backward(dy64, k64)
    dx32, g32 = c32.backward(dy32, k32)
    _close(dx32, dx64, 1e-3, f"{name} {cfg}: dx")
    for k in g64:
        assert g32[k].dtype == np.float32
        _close(g32[k], g64[k], 1e-3, f"{name} {cfg}: d{k}")
    if name not in SMOOTH:
        # the real spiking forward: equal but for the rare spike a rounding flips
        y64, _ = c64.forward(x64, s64)
        y32, _ = c32.forward(x32, s32)
        scale = max(1.0, float(np.max(np.abs(y64))))
        flipped = np.abs(y32 - y64) > 1e-4 * scale
        assert flipped.mean() <= 0.1, f"{name} {cfg}: {flipped.mean():.0%} of the outputs differ"


# --------------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 53, 2 ** 53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.sampled_from(CONFIGS), st.sampled_from([np.float32, np.float64]), st.integers(0, 2 ** 16),
       st.dictionaries(st.text(max_size=6), JSON, max_size=3))
def test_checkpoint_round_trip_is_bit_exact(tmp_path, config, dtype, seed, extra):
    name, cfg = config
    net = build(name, N_IN, H, 3, config=cfg, dtype=dtype, seed=seed % 97)
    rng = np.random.default_rng(seed)
    for v in net.params.values():  # values as after training: not the initial ones
        v += (0.1 * rng.standard_normal(v.shape)).astype(dtype)
    opt = Adam(net.params, lr=float(rng.uniform(1e-4, 1e-1)), betas=(0.8, 0.95))
    opt.step({k: rng.standard_normal(v.shape).astype(dtype) for k, v in net.params.items()})
    for c in net.layers:  # running statistics off their initial values too
        for k, v in c.buffers.items():
            if isinstance(v, np.ndarray):
                c.buffers[k] = (v + rng.random(v.shape)).astype(v.dtype)
            elif isinstance(v, float):
                c.buffers[k] = float(rng.uniform(0.5, 2.0))
    path = tmp_path / f"rt{seed}.npz"
    save_checkpoint(path, net, opt, extra=extra)
    net2, extra2 = load_checkpoint(path)            # rebuilt from the header alone
    opt2 = Adam(net2.params)
    load_checkpoint(path, net2, opt2)
    assert net2.describe() == net.describe()
    assert_same(snap(net.params), snap(net2.params), "params")
    for c1, c2 in zip(net.layers, net2.layers):
        assert c1.buffers.keys() == c2.buffers.keys()
        for k, v in c1.buffers.items():
            if isinstance(v, np.ndarray):
                assert_same(v, c2.buffers[k], f"buffer {k}")
            else:
                assert type(v) is type(c2.buffers[k]) and v == c2.buffers[k], k
    assert_same(snap(opt.state), snap(opt2.state), "optimizer state")
    assert (opt2.t, opt2.hyper()) == (opt.t, opt.hyper())
    assert extra2 == json.loads(json.dumps(extra))


# --------------------------------------------------------------------------------------
def _surrogate():
    pos = st.floats(0.05, 50.0)
    return st.one_of(
        st.builds(lambda a: surrogates.get("gaussian", a=a), pos),
        st.builds(lambda h, w: surrogates.get("triangle", height=h, width=w), pos, pos),
        st.builds(lambda k: surrogates.get("fast_sigmoid", k=k), pos),
        st.builds(lambda a: surrogates.get("atan", a=a), pos),
        st.builds(lambda k: surrogates.get("sigmoid", k=k), pos),
        st.builds(lambda s, w: surrogates.get("straight_through", scale=s, width=w), pos,
                  st.none() | pos))


def _inputs():
    return st.sampled_from([np.float32, np.float64]).flatmap(lambda dt: hnp.arrays(
        dt, st.integers(1, 16),
        elements=st.floats(allow_nan=False, allow_infinity=False, width=np.dtype(dt).itemsize * 8)))


def _extreme_examples():
    """Every family with a narrow and a wide parameter at the largest floats (a random draw
    rarely reaches them)."""
    out = []
    for dt in (np.float32, np.float64):
        fi = np.finfo(dt)
        u = np.array([-fi.max, -fi.max / 3, -1.0, -fi.smallest_subnormal, 0.0, fi.smallest_subnormal,
                      1.0, fi.max / 3, fi.max], dt)
        for v in (0.05, 50.0):
            for s in (surrogates.get("gaussian", a=v), surrogates.get("triangle", height=1 / v, width=v),
                      surrogates.get("fast_sigmoid", k=v), surrogates.get("atan", a=v),
                      surrogates.get("sigmoid", k=v), surrogates.get("straight_through", scale=v, width=v)):
                out.append((s, u))
    return out


def _with_examples(examples):
    def deco(f):
        for s, u in examples:
            f = example(s, u)(f)
        return f
    return deco


@settings(max_examples=300, deadline=None, database=None)
@given(_surrogate(), _inputs())
@_with_examples(_extreme_examples())
def test_surrogates_finite_silent_non_negative(s, u):
    # silent: no warning numpy would print (underflow to 0 is ignored by numpy's defaults)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        g, p, sp = s.grad(u), s.primitive(u), s.spike(u)
    for a in (g, p, sp):
        assert a.dtype == u.dtype and a.shape == u.shape and np.all(np.isfinite(a)), s
    assert np.all(g >= 0), s
    assert set(np.unique(sp)) <= {0.0, 1.0}
    np.testing.assert_array_equal(sp, (u > 0).astype(u.dtype))


# --------------------------------------------------------------------------------------
@FAST
@given(CASE)
def test_frozen_recording_pass_is_the_plain_pass(case):
    (name, cfg), T, B, seed = case
    cell, x, state, rng = setup(name, cfg, T, B, seed)
    y0, c0 = cell.forward(x, state)
    y1, c1 = cell.forward(x, state, ops=Twin("frozen"))
    np.testing.assert_array_equal(y0, y1)
    dy = rng.standard_normal(y0.shape)
    dx0, g0 = cell.backward(dy, c0)
    dx1, g1 = cell.backward(dy, c1)
    np.testing.assert_array_equal(dx0, dx1)
    assert g0.keys() == g1.keys() == cell.params.keys()
    for k in g0:
        np.testing.assert_array_equal(g0[k], g1[k], err_msg=f"{name} {cfg}: d{k}")
