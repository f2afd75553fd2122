"""NIR in and out (snn_from_scratch.nir_io): the discretization, round trips, and snnTorch.

Needs the ``nir`` package (requirements-validation.txt); the snnTorch tests also need torch
and snntorch. What snnTorch 1.0 (with nir 1.0.8, nirtorch 2.6) does and does not do is
asserted here and described in docs/reference_format.md, section NIR:

* ``export_to_nir`` works for neurons with per-neuron (H,) parameters and an unbatched
  sample; with scalar beta/threshold it fails ("Type inference error: type mismatch:
  0.output: [[6]] -> 1.input: []"), with a batched sample too ("input.output: [[1 4]] ->
  0.input: [[4]]"). It writes v_reset = 0 whatever the reset mechanism: only networks with
  ``reset_mechanism="zero", reset_delay=False`` are described by the graph they export.
* a float64 snnTorch network cannot run (its spikes are float32: "mat1 and mat2 must have
  the same dtype"), so the network is float32 and agreement is to float32 precision.
* ``import_from_nir`` builds modules with the graph's parameters, but the GraphModule it
  returns does not reproduce the network (not even snnTorch's own export); on a graph read
  from a file it fails ("'GraphModule' object has no attribute 'items'") unless the nodes
  are in topological order.
"""
from __future__ import annotations

import numpy as np
import pytest

from snn_from_scratch import cells, nir_io, reference

nir = pytest.importorskip("nir")

T, B = 12, 3


def _euler_lif(x_cur, alpha, g, offset, theta, synaptic=None):
    """Forward Euler by hand for the LIF of NIR (zero reset right after the spike)."""
    v = np.zeros(x_cur.shape[1:])
    i = np.zeros_like(v)
    out = []
    for t in range(len(x_cur)):
        if synaptic is not None:
            i = synaptic * i + x_cur[t]
            v = alpha * v + g * i
        else:
            v = alpha * v + g * x_cur[t] + offset
        s = (v > theta).astype(float)
        v = v * (1 - s)
        out.append(s)
    return np.stack(out)


def test_discretization_of_lif_cubalif_if_li_i():
    rng = np.random.default_rng(0)
    dt, H, n = 1e-3, 4, 3
    W = rng.standard_normal((H, n))
    b = rng.standard_normal(H) * 0.1
    x = rng.standard_normal((T, B, n))
    cur = x @ W.T + b
    tau, r, vl, th = np.full(H, 5e-3), np.full(H, 2.0), np.full(H, 0.3), np.full(H, 0.4)

    def graph(neuron):
        return nir.NIRGraph(nodes={"input": nir.Input({"input": np.array([n])}),
                                   "w": nir.Affine(weight=W, bias=b), "n": neuron,
                                   "output": nir.Output({"output": np.array([H])})},
                            edges=[("input", "w"), ("w", "n"), ("n", "output")])

    net = nir_io.from_nir(graph(nir.LIF(tau=tau, r=r, v_leak=vl, v_threshold=th, v_reset=np.zeros(H))), dt=dt)
    want = _euler_lif(cur, 1 - dt / tau, r * dt / tau, dt / tau * vl, th)
    np.testing.assert_allclose(net.forward(x), want)
    net = nir_io.from_nir(graph(nir.IF(r=r, v_threshold=0.01 * th, v_reset=np.zeros(H))), dt=dt)
    np.testing.assert_allclose(net.forward(x), _euler_lif(cur, 1.0, r * dt, 0.0, 0.01 * th))
    ts, w_in = np.full(H, 2e-3), np.full(H, 1.5)
    net = nir_io.from_nir(graph(nir.CubaLIF(tau_syn=ts, tau_mem=tau, r=r, v_leak=np.zeros(H),
                                            v_threshold=th, v_reset=np.zeros(H), w_in=w_in)), dt=dt)
    want = _euler_lif(cur * dt / ts * w_in, 1 - dt / tau, r * dt / tau, 0.0, th, synaptic=1 - dt / ts)
    np.testing.assert_allclose(net.forward(x), want)
    net = nir_io.from_nir(graph(nir.LI(tau=tau, r=r, v_leak=vl)), dt=dt)
    v, want = np.zeros((B, H)), []
    for t in range(T):
        v = (1 - dt / tau) * v + r * dt / tau * cur[t] + dt / tau * vl
        want.append(v)
    np.testing.assert_allclose(net.forward(x), np.stack(want), rtol=1e-12, atol=1e-14)
    net = nir_io.from_nir(graph(nir.I(r=r)), dt=dt)
    np.testing.assert_allclose(net.forward(x), np.cumsum(r * dt * cur, axis=0), rtol=1e-12, atol=1e-14)


def test_gradients_are_those_of_the_lif_cells():
    """The network's weight gradients equal our lif's (NIR layout: transposed, gain 1)."""
    rng = np.random.default_rng(1)
    cell = cells.make("lif", 3, 4, synaptic=False, reset="zero", reset_timing="same_step",
                      alpha=0.8, threshold=0.3, surrogate="atan", seed=2)
    net = nir_io.from_cells([(cell, None)])
    x, dy = rng.standard_normal((T, B, 3)), rng.standard_normal((T, B, 4))
    y_ref, cache = cell.forward(x)
    dx_ref, g_ref = cell.backward(dy, cache)
    y = net.forward(x)
    dx, grads = net.backward(dy)
    assert reference.rel_error(y, y_ref) == 0
    assert reference.rel_error(dx, dx_ref) < 1e-15
    assert reference.rel_error(grads["0.weight"]["weight"], g_ref["W"].T) < 1e-15


def _our_network(seed=0):
    mk = dict(reset="zero", reset_timing="same_step", threshold=0.4, surrogate="atan", seed=seed)
    l1 = cells.make("lif", 4, 6, synaptic=True, alpha=0.8, beta=0.7, **mk)
    l2 = cells.make("lif", 6, 5, synaptic=False, recurrent=True, alpha=0.85, **mk)
    l3 = cells.make("lif", 5, 3, synaptic=False, alpha=0.9, **mk)
    rng = np.random.default_rng(seed)
    for c in (l1, l2, l3):
        c.params["W"] = c.params["W"] * 2.0
    return nir_io.from_cells([(l1, rng.standard_normal(6) * 0.1), (l2, None), (l3, rng.standard_normal(3) * 0.1)])


def test_our_export_round_trip(tmp_path):
    net = _our_network()
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((T, B, 4)), rng.standard_normal((T, B, 3))
    y = net.forward(x)
    dx, grads = net.backward(dy)
    assert 0 < y.mean() < 1
    path = tmp_path / "ours.nir"
    nir_io.write(path, net)
    graph = nir.read(path)                       # read back by nir itself
    kinds = sorted(type(n).__name__ for n in graph.nodes.values())
    assert kinds == ["Affine", "Affine", "CubaLIF", "Input", "LIF", "LIF", "Linear", "Linear", "Output"]
    back = nir_io.read(path)
    y2 = back.forward(x)
    dx2, grads2 = back.backward(dy)
    assert reference.rel_error(y, y2) == 0
    assert reference.rel_error(dx, dx2) < 1e-13
    for k in grads:
        for kk in grads[k]:
            assert reference.rel_error(grads[k][kk], grads2[k][kk]) < 1e-13, (k, kk)


def test_unsupported_primitives_are_refused():
    net = _our_network()
    net.stages[0].cell = cells.make("lif", 4, 6, reset="subtract")
    with pytest.raises(NotImplementedError, match="zero reset"):
        nir_io.to_nir(net)
    H = 2
    g = nir.NIRGraph(nodes={"input": nir.Input({"input": np.array([H])}),
                            "n": nir.LIF(tau=np.ones(H), r=np.ones(H), v_leak=np.zeros(H),
                                         v_threshold=np.ones(H), v_reset=np.full(H, 0.5)),
                            "output": nir.Output({"output": np.array([H])})},
                     edges=[("input", "n"), ("n", "output")])
    with pytest.raises(NotImplementedError, match="v_reset"):
        nir_io.from_nir(g)


# --------------------------------------------------------------------------------------
# snnTorch end to end
# --------------------------------------------------------------------------------------
#: snnTorch runs in float32 (its spikes are float32, a float64 network cannot run):
#: agreement is to float32 precision, accumulated over three layers and twelve steps.
F32_TOL = 1e-5


def _snntorch_net():
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)

    def f(v, n):  # per-neuron parameters: scalar ones break snnTorch's export (module doc)
        return torch.full((n,), v)

    kw = dict(init_hidden=True, reset_mechanism="zero", reset_delay=False)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        snn.Synaptic(alpha=f(0.7, 6), beta=f(0.8, 6), threshold=f(0.5, 6), **kw),
        torch.nn.Linear(6, 5),
        snn.RLeaky(beta=f(0.85, 5), linear_features=5, threshold=f(0.5, 5), **kw),
        torch.nn.Linear(5, 3),
        snn.Leaky(beta=f(0.9, 3), threshold=f(0.5, 3), output=True, **kw))
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(2.5)
    return net


def _run_snntorch(net, x, dy):
    import torch

    for m in net:
        if hasattr(m, "reset_hidden"):
            m.reset_hidden()
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    Y = torch.stack([net(xt[t])[0] for t in range(len(x))])
    (torch.tensor(dy, dtype=torch.float32) * Y).sum().backward()
    return Y.detach().double().numpy(), xt.grad.double().numpy()


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, 4)).astype(np.float32).astype(np.float64)
    return x, rng.standard_normal((T, B, 3)).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("via_file", [False, True])
def test_snntorch_export_runs_here(tmp_path, via_file):
    """snnTorch's own export, imported here: same spikes, same gradients to float32 precision."""
    import torch
    from snntorch.export_nir import export_to_nir

    net = _snntorch_net()
    graph = export_to_nir(net, torch.randn(4))
    if via_file:
        nir.write(tmp_path / "snntorch.nir", graph)
        graph = nir.read(tmp_path / "snntorch.nir")
    x, dy = _data()
    ours = nir_io.read(graph)
    y = ours.forward(x)
    dx, grads = ours.backward(dy)
    Y, dX = _run_snntorch(net, x, dy)
    assert 0.05 < y.mean() < 0.95
    assert reference.rel_error(y, Y) == 0
    assert reference.rel_error(dx, dX) < F32_TOL
    mods = {"0": net[0], "2": net[2], "4": net[4], "3.w_rec": net[3].recurrent}
    for k, m in mods.items():
        assert reference.rel_error(grads[k]["weight"], m.weight.grad.numpy()) < F32_TOL, k
        assert reference.rel_error(grads[k]["bias"], m.bias.grad.numpy()) < F32_TOL, k


def test_snntorch_export_needs_per_neuron_parameters():
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net = torch.nn.Sequential(torch.nn.Linear(4, 6), snn.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(ValueError, match="Type inference error"):
        export_to_nir(net, torch.randn(4))


def test_our_export_read_by_snntorch():
    """snnTorch's import of our export: its modules carry our parameters (asserted); its
    GraphModule's forward does not reproduce the network (it does not reproduce snnTorch's
    own export either) — xfail with the measured error, so a fixed snnTorch shows up."""
    import torch
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir

    net = _snntorch_net()
    ours = nir_io.read(export_to_nir(net, torch.randn(4)))
    graph = nir_io.to_nir(ours)
    sn = import_from_nir(graph)
    mods = dict(sn.named_modules())
    np.testing.assert_allclose(mods["0"].weight.detach().numpy(), net[0].weight.detach().numpy())
    np.testing.assert_allclose(mods["1"].alpha.detach().numpy(), 0.7, rtol=1e-6)
    np.testing.assert_allclose(mods["1"].beta.detach().numpy(), 0.8, rtol=1e-6)
    x, dy = _data()
    y = ours.forward(x)
    state, outs = None, []
    for t in range(T):
        o, state = sn(torch.tensor(x[t], dtype=torch.float32), state)
        outs.append(o)
    err = reference.rel_error(y, torch.stack(outs).detach().double().numpy())
    if err > 0:
        pytest.xfail(f"snnTorch's import_from_nir does not reproduce the network (spikes differ, "
                     f"relative error {err:.2g})")
