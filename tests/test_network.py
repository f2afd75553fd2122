"""Network: whole-stack finite-difference proofs, substituted backward rules, the training
loop (training.py), evaluation and bit-exact checkpoints (checkpoint.py)."""
import io
import json

import numpy as np
import pytest

from snn_from_scratch import cells, checkpoint, network, proofs, training
from snn_from_scratch.checkpoint import load_checkpoint, save_checkpoint
from snn_from_scratch.gradcheck import Twin, check_function, numerical_gradient, rel_error
from snn_from_scratch.layers import LeakyReadout, Linear
from snn_from_scratch.network import Network, build, evaluate
from snn_from_scratch.optim import SGD, Adam, StepDecay
from snn_from_scratch.training import train

TOL = 1e-7


def prove_network(net, x, target, twin=None, max_entries=None, scale_floor=1e-6):
    """Finite differences of the network loss against loss_and_grads, for every parameter."""
    net.eval()
    tw = None if twin is None else Twin(twin)
    ops = {} if tw is None else {"ops": tw}
    _, grads, _ = net.loss_and_grads(x, target, **ops)

    def f():
        if tw is not None:
            tw.replay()
        return net.loss(x, target, **ops)

    return check_function(f, net.params, grads, max_entries=max_entries, scale_floor=scale_floor,
                          flip_counter=(lambda: tw.flips) if tw is not None else None)


def data(T=6, B=3, n_in=3, C=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, B, n_in)), rng.integers(0, C, B), rng


@pytest.mark.parametrize("T", [1, 2, 7])
def test_two_layer_rnn_cross_entropy_gradients(T):
    net = build("rnn", 3, 5, 4, n_layers=2, seed=1)
    x, y, _ = data(T=T)
    rep = prove_network(net, x, y)
    assert rep.ok and rep.max_error <= TOL, rep.table()
    assert {r.name for r in rep.rows} == {"0.W_x", "0.W_h", "0.b", "1.W_x", "1.W_h", "1.b", "readout.W", "readout.b"}


def test_network_planted_bugs_fail(monkeypatch):
    net = build("rnn", 3, 5, 4, n_layers=2, seed=1)
    x, y, _ = data()
    real = Linear.backward

    def scaled(self, dout, cache):  # readout passes back half the gradient to the layers
        dh, g = real(self, dout, cache)
        return 0.5 * dh, g

    monkeypatch.setattr(Linear, "backward", scaled)
    rep = prove_network(net, x, y)
    assert not rep.ok and rep["readout.W"].ok and not rep["0.W_x"].ok
    monkeypatch.setattr(Linear, "backward", real)

    # layer 1 forgets to pass its input gradient down: layer 0 learns nothing
    cell1 = net.layers[1]
    real_bw = cell1.backward
    monkeypatch.setattr(cell1, "backward", lambda dy, c: (0 * real_bw(dy, c)[0], real_bw(dy, c)[1]))
    rep = prove_network(net, x, y)
    assert not rep["0.W_h"].ok and rep["1.W_h"].ok


def test_backward_rules_substitute_one_layer_and_only_its_backward():
    """A substituted rule replaces that layer's backward (and nothing else): the forward
    pass, the loss and the other layers' backward are unchanged."""
    x, y, _ = data()
    ref = build("rnn", 3, 5, 4, n_layers=2, seed=1)
    calls = []

    def halve(cell, dy, cache):  # a made-up learning rule: half the true gradient
        calls.append(cell)
        dx, g = cell.backward(dy, cache)
        return 0.5 * dx, {k: 0.5 * v for k, v in g.items()}

    net = build("rnn", 3, 5, 4, n_layers=2, seed=1, backward_rules={1: halve})
    l0, g0, out0 = ref.loss_and_grads(x, y)
    l1, g1, out1 = net.loss_and_grads(x, y)
    assert l0 == l1 and np.array_equal(out0, out1) and calls == [net.layers[1]]
    np.testing.assert_array_equal(g1["readout.W"], g0["readout.W"])
    np.testing.assert_array_equal(g1["1.W_h"], 0.5 * g0["1.W_h"])
    np.testing.assert_allclose(g1["0.W_x"], 0.5 * g0["0.W_x"], rtol=1e-12)
    assert net.describe() == ref.describe() and "backward_rules" in repr(net)
    with pytest.raises(ValueError, match="layer indices"):
        build("rnn", 3, 5, 4, backward_rules={1: halve})
    with pytest.raises(TypeError, match="callable"):
        build("rnn", 3, 5, 4, backward_rules={0: "halve"})


def test_lotfi_authors_code_rule_through_the_network():
    """Chapter 05's use: the spiking LSTM trained with the authors' code's backward is a
    Network with that layer's rule substituted; everything else is the exact network."""
    from snn_from_scratch.cells import spiking_lstm as sl
    from snn_from_scratch.experiments import lotfi

    rng = np.random.default_rng(0)
    x = (rng.random((6, 4, 3)) < 0.5).astype(np.float64)
    y = rng.integers(0, 3, 4)
    exact = build("spiking_lstm", 3, 8, 3, seed=2)
    printed = build("spiking_lstm", 3, 8, 3, seed=2, backward_rules={0: lotfi.printed_backward()})
    l0, g0, out0 = exact.loss_and_grads(x, y)
    l1, g1, out1 = printed.loss_and_grads(x, y)
    assert l0 == l1 and np.array_equal(out0, out1)
    np.testing.assert_array_equal(g1["readout.W"], g0["readout.W"])
    out, cache = printed.forward(x)
    _, dout = printed._loss(out, y)
    dro, _ = printed.readout.backward(dout, cache["readout"])
    dy = np.zeros(cache["y_shape"])
    dy[-1] = dro
    _, ref = sl.backward_variant(printed.layers[0], dy, cache["layers"][0], sl.AUTHORS_SCRIPTS["mnist"])
    for k, v in ref.items():
        np.testing.assert_array_equal(g1[f"0.{k}"], v)
    assert not np.allclose(g1["0.W_h"], g0["0.W_h"])


def test_training_uses_the_substituted_rule():
    """training.train steps with the rule: a rule that zeroes a layer's gradients freezes
    that layer's parameters, while the readout keeps learning."""
    X, y = toy(N=32)
    def zero(cell, dy, cache):
        dx, g = cell.backward(dy, cache)
        return 0 * dx, {k: 0 * v for k, v in g.items()}

    net = build("rnn", 2, 4, 2, dtype=np.float32, backward_rules={0: zero})
    before = {k: v.copy() for k, v in net.params.items()}
    train(net, X, y, SGD(net.params, lr=0.1), 1, 16, rng=np.random.default_rng(0), progress=False)
    assert all(np.array_equal(net.params[k], before[k]) for k in ("0.W_x", "0.W_h", "0.b"))
    assert not np.array_equal(net.params["readout.W"], before["readout.W"])


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_per_step_output_gradients(loss):
    net = build("rnn", 3, 5, 4, n_layers=2, seed=2, loss=loss, output="all")
    x, _, rng = data(T=5)
    target = rng.integers(0, 4, (5, 3)) if loss == "cross_entropy" else rng.standard_normal((5, 3, 4))
    rep = prove_network(net, x, target)
    assert rep.ok and rep.max_error <= TOL, rep.table()
    out, _ = net.forward(x)
    assert out.shape == (5, 3, 4)


def test_per_sequence_labels_broadcast_over_steps():
    net = build("rnn", 3, 5, 4, seed=2, output="all")
    x, y, _ = data(T=4)
    l1 = net.loss(x, y)
    l2 = net.loss(x, np.broadcast_to(y, (4, 3)).copy())
    assert l1 == l2
    g1, g2 = net.loss_and_grads(x, y)[1], net.loss_and_grads(x, np.broadcast_to(y, (4, 3)).copy())[1]
    assert all(np.array_equal(g1[k], g2[k]) for k in g1)  # (T, B) labels are proven above


def test_leaky_readout_network_gradients():
    layers = [cells.make("rnn", 3, 6, seed=0), cells.make("rnn", 6, 6, seed=1)]
    net = Network(layers, LeakyReadout(6, 3, neurons_per_class=2, alpha=0.9), loss="cross_entropy")
    x, y, _ = data(T=5, C=3)
    rep = prove_network(net, x, y)
    assert rep.ok and rep.max_error <= TOL, rep.table()
    assert "readout.W" not in net.params


def richardson_check(net, x, target, h=1e-3):
    """Finite differences with Richardson extrapolation, ``(4 D(h) - D(2h)) / 3``.

    A scalar cross-entropy of O(1) carries ~eps*|L|/h = 2e-11 of round-off in a plain
    central difference with h = 1e-5, which is too much for entries of 1e-5 deep in a
    two-layer stack (relative error 1e-6 from noise alone). Extrapolation cancels the
    O(h^2) truncation term, so h = 1e-3 can be used and the round-off drops 100-fold.
    Only for smooth networks: a larger step would cross spike/clip boundaries.
    """
    net.eval()
    _, grads, _ = net.loss_and_grads(x, target)
    rows = {}
    for k, p in net.params.items():
        f = lambda: net.loss(x, target)  # noqa: E731
        num = (4 * numerical_gradient(f, p, h=h) - numerical_gradient(f, p, h=2 * h)) / 3
        rows[k] = rel_error(grads[k], num, floor=max(1e-12, 1e-6 * np.abs(num).max()))
    return rows


SMOOTH_CELLS = [c for c in cells.available()
                if c != "rnn" and all(twin is None for _, twin in proofs.proofs_of(c).values())]


@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize("name", ["rnn"] + SMOOTH_CELLS)
def test_every_smooth_cell_in_a_two_layer_network(name, T):
    """The network is generic: any cell stacks (cell protocol only). Spiking cells are
    proven at cell level under their twins (tests of the cells, `gradcheck --all`); at
    network level a finite difference can straddle the kink of a surrogate (e.g. the
    triangle's edge when a layer receiving no spikes sits exactly at V = 0)."""
    layers = [cells.make(name, 3, 5, seed=0), cells.make(name, 5, 5, seed=1)]
    net = Network(layers, Linear(5, 4, seed=3))
    x, y, _ = data(T=T, seed=4)
    rows = richardson_check(net, x, y)
    assert max(rows.values()) <= TOL, rows
    # planted bug: the first layer's recurrent-weight gradient scaled by 1.01 fails
    real = layers[0].backward

    def bug(dy, cache):
        dx, g = real(dy, cache)
        k = list(g)[0]  # the input weights (the recurrent ones get no gradient at T=1)
        g[k] = 1.01 * g[k]
        return dx, g

    layers[0].backward = bug
    assert max(richardson_check(net, x, y).values()) > 1e-4


@pytest.mark.skipif("src" not in cells.available(), reason="src cell not available")
def test_spiking_src_network_frozen_twin():
    """A spiking stack under one shared frozen-twin tape (SRC, exact configuration)."""
    config = {"bypass_relu": False, "detach_recurrent": False}
    layers = [cells.make("src", 3, 5, seed=0, **config), cells.make("src", 5, 5, seed=1, **config)]
    net = Network(layers, Linear(5, 4, seed=3))
    rng = np.random.default_rng(4)
    for T in (2, 7):
        x = (rng.random((T, 3, 3)) < 0.5).astype(np.float64)
        y = rng.integers(0, 4, 3)
        # scale_floor 1e-3: entries 1000x below the tensor's largest are judged against
        # that scale (round-off of the O(1) loss, see richardson_check)
        rep = prove_network(net, x, y, twin="frozen", scale_floor=1e-3)
        assert rep.ok and rep.max_error <= TOL and rep.flips == 0, rep.table()


def test_network_validation():
    a, b = cells.make("rnn", 3, 5), cells.make("rnn", 4, 5)
    with pytest.raises(ValueError, match=r"layers\[1\].n_in"):
        Network([a, b], Linear(5, 2))
    with pytest.raises(ValueError, match="readout n_in"):
        Network([a], Linear(6, 2))
    with pytest.raises(TypeError, match="dtype"):
        Network([a], Linear(5, 2, dtype=np.float32))
    with pytest.raises(ValueError, match="loss"):
        Network([a], Linear(5, 2), loss="hinge")
    with pytest.raises(ValueError, match="output"):
        Network([a], Linear(5, 2), output="first")
    with pytest.raises(ValueError, match="LeakyReadout"):
        Network([cells.make("rnn", 3, 20)], LeakyReadout(20, 2), output="all")
    with pytest.raises(TypeError, match="layers"):
        Network([], Linear(5, 2))


def test_params_are_live_and_train_eval_modes():
    net = build("rnn", 3, 5, 2, n_layers=2)
    p = net.params
    assert p["1.W_h"] is net.layers[1].params["W_h"] and p["readout.W"] is net.readout.params["W"]
    p["0.b"][...] = 7.0
    assert np.all(net.layers[0].params["b"] == 7.0)
    net.eval()
    assert not any(c.training for c in net.layers)
    net.train()
    assert all(c.training for c in net.layers)
    assert net.n_params() == sum(v.size for v in p.values())


# -- training -----------------------------------------------------------------------------
def toy(N=96, T=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, T, 2)).astype(np.float32)
    y = (X[:, :, 0].sum(1) > 0).astype(np.int64)
    return X, y


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_train_learns_and_is_reproducible():
    X, y = toy()
    hists = []
    for _ in range(2):
        net = build("gru", 2, 12, 2, dtype=np.float32, seed=0)
        opt = Adam(net.params, lr=2e-2)
        hists.append(train(net, X, y, opt, epochs=6, batch_size=16, rng=np.random.default_rng(1),
                           X_val=X, y_val=y, progress=False))
    h = hists[0]
    assert set(h) >= {"loss", "acc", "val_loss", "val_acc", "lr", "epoch_time", "grad_norm"}
    assert len(h["loss"]) == 6 and h["loss"][-1] < h["loss"][0] and h["val_acc"][-1] > 0.8
    assert h["loss"] == hists[1]["loss"] and h["val_acc"] == hists[1]["val_acc"]  # same Generator, same run
    assert all(v.dtype == np.float32 for v in net.params.values())


def test_train_progress_line_and_schedule_and_clip_and_projection(monkeypatch):
    X, y = toy(N=40)
    net = build("rnn", 2, 6, 2, dtype=np.float32)
    calls = []
    monkeypatch.setattr(net.layers[0], "project", lambda: calls.append(1))
    opt = SGD(net.params, lr=0.1, momentum=0.9)
    sched = StepDecay(opt, step_size=1, gamma=0.5)
    seen_rng = []

    def encode(xb, rng):
        seen_rng.append(rng)
        return np.ascontiguousarray(xb.transpose(1, 0, 2))

    stream = FakeTTY()
    gen = np.random.default_rng(0)
    h = train(net, X, y, opt, epochs=3, batch_size=16, rng=gen, encode=encode, schedule=sched,
              clip=0.5, stream=stream)
    out = stream.getvalue()
    assert "\r" in out and "ETA" in out and "epoch 3/3" in out and "batch 3/3" in out
    assert h["lr"] == [0.1, 0.05, 0.025] and opt.lr == 0.0125  # schedule.step() once per epoch
    assert len(calls) == 9  # projection after every optimizer step (3 batches x 3 epochs)
    assert all(r is gen for r in seen_rng)
    assert all(np.isfinite(h["grad_norm"]))
    quiet = io.StringIO()
    train(net, X, y, opt, epochs=1, batch_size=16, rng=gen, progress=False, stream=quiet)
    assert quiet.getvalue() == ""


def test_train_with_leaky_readout():
    X, y = toy(N=48)
    net = build("rnn", 2, 20, 2, readout="leaky", dtype=np.float32)
    assert isinstance(net.readout, LeakyReadout) and "readout.W" not in net.params
    h = train(net, X, y, Adam(net.params, lr=1e-2), epochs=2, batch_size=16, rng=np.random.default_rng(0),
              X_val=X, y_val=y, progress=False)
    # the readout's gradient reaches the cell: it learns (loss down, above chance on the toy task)
    assert h["loss"][-1] < h["loss"][0] and h["val_acc"][-1] > 0.6, h
    with pytest.raises(ValueError, match="neurons_per_class"):
        build("rnn", 2, 21, 2, readout="leaky")


def test_train_and_evaluate_validation():
    X, y = toy(N=20)
    net = build("rnn", 2, 4, 2, dtype=np.float32)
    opt = Adam(net.params)
    with pytest.raises(TypeError, match="rng"):
        train(net, X, y, opt, 1, 8, rng=0)
    with pytest.raises(ValueError, match="samples"):
        train(net, X, y[:5], opt, 1, 8, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="batch_size"):
        train(net, X, y, opt, 1, 0, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="live parameters"):
        train(net, X, y, Adam(build("rnn", 2, 4, 2, dtype=np.float32).params), 1, 8, rng=np.random.default_rng())
    with pytest.raises(FloatingPointError, match="loss became"):
        bad = build("rnn", 2, 4, 2, dtype=np.float32)
        real = bad.loss_and_grads
        bad.loss_and_grads = lambda x, t: (float("nan"),) + real(x, t)[1:]  # a diverged step
        train(bad, X, y, SGD(bad.params, lr=0.1), 2, 8, rng=np.random.default_rng(), progress=False)
    # evaluate's batches (7 + 7 + 6) are weighted by their sizes: the same numbers as one
    # forward pass over all 20 samples, with the loss and accuracy computed here by hand
    net = build("rnn", 2, 4, 2, dtype=np.float32)
    loss, acc = evaluate(net, X, y, batch_size=7)
    logits, _ = net.forward(np.ascontiguousarray(X.transpose(1, 0, 2)))
    z = logits.astype(np.float64)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(len(y)), y].mean(), rel=1e-5)
    assert acc == np.mean(np.argmax(logits, 1) == y)


def test_step_is_one_training_step_and_train_is_made_of_steps():
    """training.step = forward, backward, clip, optimizer, projection; training.train's
    epoch is exactly those steps on the shuffled minibatches (bit for bit), and its
    history's batch_loss holds every step's loss."""
    X, y = toy(N=40)
    a, b = (build("rnn", 2, 6, 2, dtype=np.float32, seed=3) for _ in range(2))
    oa, ob = Adam(a.params, lr=1e-2), Adam(b.params, lr=1e-2)
    h = train(a, X, y, oa, 2, 16, rng=np.random.default_rng(7), clip=0.5, progress=False)
    rng, losses, enc = np.random.default_rng(7), [], network.default_encode(b)
    for _ in range(2):
        order = rng.permutation(len(X))
        for s in range(0, len(X), 16):
            idx = order[s:s + 16]
            loss, out, norm = training.step(b, ob, enc(X[idx], rng), y[idx], clip=0.5)
            assert np.isfinite(norm) and out.shape == (len(idx), 2)
            losses.append(loss)
    assert h["batch_loss"] == losses and len(losses) == 6
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert np.isnan(training.step(b, ob, enc(X[:4]), y[:4])[2])  # no clip: no norm
    with pytest.raises(FloatingPointError, match="loss became"):
        bad = build("rnn", 2, 4, 2, dtype=np.float32)
        before = bad.params["0.W_x"].copy()
        real = bad.loss_and_grads
        bad.loss_and_grads = lambda x, t: (float("inf"),) + real(x, t)[1:]
        try:
            training.step(bad, SGD(bad.params, lr=0.1), enc(X[:4]), y[:4])
        finally:
            assert np.array_equal(bad.params["0.W_x"], before)  # nothing updated


def test_moved_names_still_resolve_from_network():
    assert network.train is training.train and network.Progress is training.Progress
    assert network.save_checkpoint is checkpoint.save_checkpoint
    assert network.load_checkpoint is checkpoint.load_checkpoint
    assert network.read_header is checkpoint.read_header
    with pytest.raises(AttributeError):
        network.no_such_name


def test_evaluate_restores_mode_and_matches_forward():
    X, y = toy(N=30)
    net = build("rnn", 2, 4, 2, dtype=np.float64)
    net.train()
    loss, acc = evaluate(net, X.astype(np.float64), y, batch_size=7)
    assert net.training
    out, _ = net.forward(np.ascontiguousarray(X.astype(np.float64).transpose(1, 0, 2)))
    assert acc == pytest.approx(np.mean(out.argmax(-1) == y))
    assert loss == pytest.approx(net.loss(np.ascontiguousarray(X.astype(np.float64).transpose(1, 0, 2)), y))


# -- checkpoints ----------------------------------------------------------------------------
def _arrays_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _buffer_cell():
    """A cell with running-statistics buffers if one exists (multi-bit LIF), else rnn."""
    if "lif" in cells.available() and cells.make("lif", 2, 3).buffers:
        return "lif"
    return "rnn"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checkpoint_round_trip_is_bit_exact(tmp_path, dtype):
    X, y = toy(N=32)
    X = X.astype(dtype)
    name = _buffer_cell()
    net = build(name, 2, 10, 2, n_layers=2, dtype=dtype, seed=0)
    opt = Adam(net.params, lr=1e-2)
    train(net, X, y, opt, epochs=2, batch_size=16, rng=np.random.default_rng(0), progress=False)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, net, opt, extra={"epoch": 2, "note": "hi"})

    net2 = build(name, 2, 10, 2, n_layers=2, dtype=dtype, seed=99)
    opt2 = Adam(net2.params, lr=0.5)
    net2_params = net2.params
    _, extra = load_checkpoint(path, net2, opt2)
    assert extra == {"epoch": 2, "note": "hi"}
    for k, v in net.params.items():
        assert _arrays_equal(v, net2.params[k]), k
        assert net2.params[k] is net2_params[k]  # loaded in place: optimizers keep working
    for c1, c2 in zip(net.layers, net2.layers):
        assert c1.buffers.keys() == c2.buffers.keys()
        for k in c1.buffers:
            assert type(c1.buffers[k]) is type(c2.buffers[k]) and c1.buffers[k] == c2.buffers[k]
    for s in opt.state:
        for k in opt.state[s]:
            assert _arrays_equal(opt.state[s][k], opt2.state[s][k])
    assert opt2.t == opt.t and opt2.lr == opt.lr
    # continuing both runs gives identical parameters
    for n, o in ((net, opt), (net2, opt2)):
        train(n, X, y, o, epochs=1, batch_size=16, rng=np.random.default_rng(5), progress=False)
    for k, v in net.params.items():
        assert _arrays_equal(v, net2.params[k]), k
    # rebuilding from the header alone
    net3, _ = load_checkpoint(path)
    assert net3.describe() == net.describe()


def test_checkpoint_header_is_json(tmp_path):
    net = build("rnn", 2, 4, 3)
    path = tmp_path / "c.npz"
    save_checkpoint(path, net)
    h = checkpoint.read_header(path)
    assert h["version"] and h["model"]["layers"][0]["cell"] == "rnn"
    assert h["model"]["readout"] == {"kind": "linear", "n_in": 4, "n_out": 3}
    json.dumps(h)


def test_checkpoint_mismatch_errors(tmp_path):
    path = tmp_path / "c.npz"
    net = build("rnn", 2, 4, 3)
    save_checkpoint(path, net, Adam(net.params))
    before = net.params["0.W_x"].copy()
    with pytest.raises(ValueError, match=r"cell.*'rnn'.*'gru'"):
        load_checkpoint(path, build("gru", 2, 4, 3))
    with pytest.raises(ValueError, match="n_hidden"):
        load_checkpoint(path, build("rnn", 2, 5, 3))
    with pytest.raises(ValueError, match="dtype"):
        load_checkpoint(path, build("rnn", 2, 4, 3, dtype=np.float32))
    with pytest.raises(ValueError, match="n_out"):
        load_checkpoint(path, build("rnn", 2, 4, 2))
    with pytest.raises(ValueError, match=r"layers has 1 entries in the checkpoint, 2"):
        load_checkpoint(path, build("rnn", 2, 4, 3, n_layers=2))
    with pytest.raises(ValueError, match="optimizer state is for 'Adam'"):
        load_checkpoint(path, build("rnn", 2, 4, 3), SGD(build("rnn", 2, 4, 3).params, 0.1))
    nopt = tmp_path / "n.npz"
    save_checkpoint(nopt, net)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(nopt, net, Adam(net.params))
    assert np.array_equal(net.params["0.W_x"], before)
    if "lif" in cells.available():
        p2 = tmp_path / "l.npz"
        save_checkpoint(p2, build("lif", 2, 4, 3, config={"threshold": 1.0}))
        with pytest.raises(ValueError, match="threshold"):
            load_checkpoint(p2, build("lif", 2, 4, 3, config={"threshold": 0.5}))
    # a tampered parameter shape is caught even when the header matches
    z = dict(np.load(path))
    z["param/0.W_h"] = np.zeros((3, 3))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **z)
    with pytest.raises(ValueError, match="0.W_h"):
        load_checkpoint(bad, build("rnn", 2, 4, 3))
