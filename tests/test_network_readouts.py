"""Every readout through the network: gradients proven end to end (spiking cells under a
twin), checkpoints round-trip, and the readout over time reaches every step."""
import numpy as np
import pytest

from snn_from_scratch import checkpoint, network
from snn_from_scratch.gradcheck import Twin, check_function
from snn_from_scratch.network import READOUTS, build


def prove(net, x, y, twin=None):
    net.eval()
    tw = None if twin is None else Twin(twin)
    kw = {} if tw is None else {"ops": tw}
    loss, grads, out = net.loss_and_grads(x, y, **kw)

    def f():
        if tw is not None:
            tw.replay()
        return net.loss(x, y, **kw)

    # the 2-point stencil with a small step (max over time has kinks, as a twin does);
    # the floor is the round-off of the difference quotient, as in check_cell
    stencil, h = 2, 1e-5
    noise = np.finfo(np.float64).eps * (abs(loss) + float(np.sum(np.abs(out)))) / h
    return check_function(f, net.params, grads, h=h, stencil=stencil, noise=noise,
                          flip_counter=(lambda: tw.flips) if tw else None)


@pytest.mark.parametrize("readout", ["linear", "rate", "li-max", "li-mean", "li-last"])
@pytest.mark.parametrize("cell, twin, config", [("gru", None, {}),
                                                ("lif", "frozen", dict(threshold=0.6)),
                                                ("spiking_lstm", "smooth", {})])
def test_each_readout_is_proven_through_the_network(readout, cell, twin, config):
    rng = np.random.default_rng(3)
    net = build(cell, 3, 6, 4, readout=readout, seed=2, config=config)
    x = rng.standard_normal((5, 3, 3))
    y = rng.integers(0, 4, 3)
    rep = prove(net, x, y, twin)
    assert rep.ok, rep.table()


def test_a_readout_over_time_sends_gradient_to_every_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 4, 3))
    y = rng.integers(0, 4, 4)
    reach = {}
    for ro in ("linear", "li-mean"):
        net = build("gru", 3, 6, 4, readout=ro, seed=0)
        out, cache = net.forward(x)
        _, dout = net._loss(out, y)
        dro, _ = net.readout.backward(dout, cache["readout"])
        reach[ro] = dro
    assert reach["linear"].shape == (4, 6)                      # one step only
    assert np.all(np.abs(reach["li-mean"]).sum(axis=(1, 2)) > 0)  # every step


@pytest.mark.parametrize("readout", sorted(READOUTS))
def test_checkpoint_round_trip_with_every_readout(tmp_path, readout):
    hidden = 40 if readout == "leaky" else 6
    net = build("lif", 3, hidden, 4, readout=readout, seed=1, dtype=np.float32)
    path = tmp_path / "m.npz"
    checkpoint.save_checkpoint(path, net)
    again = checkpoint.load_checkpoint(path)
    net2 = again[0] if isinstance(again, tuple) else again
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x)[0], net2.forward(x)[0])
    assert net2.readout.describe() == net.readout.describe()


def test_unknown_readout_refused():
    with pytest.raises(ValueError, match="readout must be one of"):
        build("gru", 3, 6, 4, readout="softmax")
    with pytest.raises(ValueError, match="use output='last'"):
        network.Network(build("gru", 3, 6, 4).layers, build("gru", 3, 6, 4, readout="li-max").readout,
                        output="all")
