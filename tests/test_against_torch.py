"""Cross-framework check: every cell, re-implemented in PyTorch autograd, agrees with ours.

Each cell of DESIGN.md is written below a second time, *independently*, as a plain PyTorch
forward pass whose backward is left to autograd:

* every spike is a custom ``autograd.Function`` whose backward is the surrogate written
  again here from DESIGN.md's formulas (not imported from ``snn_from_scratch.surrogates``);
* the multi-bit quantizer (Ponghiran & Roy Eq. 22) is a custom Function with the clipped
  straight-through backward ``1[|V| <= b]``;
* SRC's ReLU bypass (De Geeter et al. §4.4) is a custom Function (forward ReLU, backward
  identity);
* detach rules are ``.detach()``; the z_s switch of SRC is a comparison (no gradient).

The fixtures come from :mod:`snn_from_scratch.reference` (our float64 forward/backward); the
PyTorch results are compared with :func:`reference.compare` at a relative tolerance of
1e-10 — forward outputs, final states, ``dx`` and every parameter gradient. The smooth
cells are also compared with ``torch.nn.RNN/LSTM/GRU`` with our weights mapped onto their
layouts (docs/reference_format.md). snnTorch's ``Leaky`` and ``Synaptic`` neurons are
compared with ``lif`` configured to match (skipped when snntorch is absent).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is an optional validation extra (pip install -r requirements-validation.txt)")

from snn_from_scratch import cells, reference  # noqa: E402

TOL = 1e-10
DT = torch.float64


# ======================================================================================
# Surrogates, quantizer and bypass as autograd Functions (written from DESIGN.md)
# ======================================================================================
def surrogate_grad_fn(family, params=None):
    """The surrogate derivative dH/du of DESIGN.md's families, as a torch function of u."""
    p = dict(params or {})
    if family == "gaussian":
        a = p.get("a", 4.0)
        return lambda u: torch.exp(-u * u / a) / math.sqrt(math.pi * a)
    if family == "triangle":
        h, w = p.get("height", 1.0), p.get("width", 1.0)
        return lambda u: h * torch.clamp(1.0 - u.abs() / w, min=0.0)
    if family == "fast_sigmoid":
        k = p.get("k", 25.0)
        return lambda u: 1.0 / (1.0 + k * u.abs()) ** 2
    if family == "atan":
        a = p.get("a", 2.0)
        return lambda u: (a / 2) / (1.0 + (math.pi * a * u / 2) ** 2)
    if family == "sigmoid":
        k = p.get("k", 25.0)
        return lambda u: k * torch.sigmoid(k * u) * (1.0 - torch.sigmoid(k * u))
    if family == "straight_through":
        scale, width = p.get("scale", 1.0), p.get("width", None)
        if width is None:
            return lambda u: torch.full_like(u, scale)
        return lambda u: scale * (u.abs() <= width / 2).to(u.dtype)
    if family == "constant":
        g = p["gamma"]
        return lambda u: torch.full_like(u, g)
    raise KeyError(family)


class Spike(torch.autograd.Function):
    """H(u) = 1[u > 0] forward; ``grad_fn(u)`` backward."""

    @staticmethod
    def forward(ctx, u, grad_fn):
        ctx.save_for_backward(u)
        ctx.grad_fn = grad_fn
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * ctx.grad_fn(u), None


def spike(u, family, params=None):
    return Spike.apply(u, surrogate_grad_fn(family, params))


class MultibitQuantizer(torch.autograd.Function):
    """Ponghiran & Roy Eq. 22 (authors' scaling): levels of b/2^N above gamma = k b/2^N,
    clipped to 2^N - 1; backward the clipped straight-through estimator 1[|V| <= b]."""

    @staticmethod
    def forward(ctx, V, b, n_bits, k, signed):
        ctx.save_for_backward(V)
        ctx.b = b
        levels = 2 ** n_bits
        step = b / levels
        gamma = k * b / levels
        mag = V.abs() if signed else V
        q = torch.clamp(torch.floor(mag / step), max=levels - 1)
        q = torch.where(mag > gamma, q, torch.zeros_like(q))
        if signed:
            q = torch.sign(V) * q
        return q * step

    @staticmethod
    def backward(ctx, g):
        (V,) = ctx.saved_tensors
        return g * (V.abs() <= ctx.b).to(V.dtype), None, None, None, None


class BypassReLU(torch.autograd.Function):
    """ReLU forward, identity backward (SRC's ``bypass_relu``)."""

    @staticmethod
    def forward(ctx, h):
        return torch.clamp(h, min=0.0)

    @staticmethod
    def backward(ctx, g):
        return g


# ======================================================================================
# The eight cells in PyTorch. Signature: f(P, x, state0, cfg, b) -> (y, final_state)
#   P: dict of parameter tensors (our names and layouts), x (T, B, n_in),
#   state0: dict field -> (B, H) tensor, cfg: the full config dict, b: multi-bit range.
# ======================================================================================
def torch_rnn(P, x, s, cfg, b=None):
    h, ys = s["h"], []
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ P["W_x"] + h @ P["W_h"] + P["b"])
        ys.append(h)
    return torch.stack(ys), {"h": h}


def torch_lstm(P, x, s, cfg, b=None):
    h, c, ys = s["h"], s["c"], []
    for t in range(x.shape[0]):
        a = x[t] @ P["W_x"] + h @ P["W_h"] + P["b"]
        a_f, a_i, a_g, a_o = a.chunk(4, dim=1)          # our order: f, i, g, o
        c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        h = torch.sigmoid(a_o) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys), {"h": h, "c": c}


def torch_gru(P, x, s, cfg, b=None):
    h, ys = s["h"], []
    H = h.shape[1]
    W_xz, W_xr, W_xn = P["W_x"].split(H, dim=1)         # our order: z, r, n
    W_hz, W_hr, W_hn = P["W_h"].split(H, dim=1)
    b_z, b_r, b_n = P["b"].split(H)
    for t in range(x.shape[0]):
        z = torch.sigmoid(x[t] @ W_xz + h @ W_hz + b_z)
        r = torch.sigmoid(x[t] @ W_xr + h @ W_hr + b_r)
        n = torch.tanh(x[t] @ W_xn + r * (h @ W_hn) + b_n)   # b_n outside the r-product
        h = z * h + (1 - z) * n
        ys.append(h)
    return torch.stack(ys), {"h": h}


def torch_brc(P, x, s, cfg, b=None):
    h, ys = s["h"], []
    H = h.shape[1]
    U_z, U_r, U_h = P["U_x"].split(H, dim=1)
    b_z, b_r, b_h = P["b"].split(H)
    for t in range(x.shape[0]):
        z = torch.sigmoid(x[t] @ U_z + P["w_z"] * h + b_z)
        r = 1 + torch.tanh(x[t] @ U_r + P["w_r"] * h + b_r)
        h = z * h + (1 - z) * torch.tanh(x[t] @ U_h + r * h + b_h)
        ys.append(h)
    return torch.stack(ys), {"h": h}


def torch_spiking_lstm(P, x, s, cfg, b=None):
    """Lotfi Rezaabad & Vishwanath Eq. 1 with the unit-state threshold (§3.1)."""
    h, c, ys = s["h"], s["c"], []
    g1 = ("gaussian", {"a": cfg["a1"]})
    g2 = ("gaussian", {"a": cfg["a2"]})
    gc = (("gaussian", {"a": cfg["a_c"]}) if cfg["cell_grad"] == "gaussian"
          else ("constant", {"gamma": cfg["gamma"]}))
    for t in range(x.shape[0]):
        u = x[t] @ P["W_x"] + h @ P["W_h"] + P["b"]
        u_f, u_i, u_g, u_o = u.chunk(4, dim=1)
        f = spike(u_f - cfg["theta1"], *g1)
        i = spike(u_i - cfg["theta1"], *g1)
        g = spike(u_g - cfg["theta2"], *g2)
        o = spike(u_o - cfg["theta1"], *g1)
        c = spike(f * c + i * g - cfg["theta_c"], *gc)
        h = o * c
        ys.append(h)
    return torch.stack(ys), {"h": h, "c": c}


def _membrane(I, V, Y, alpha, gamma, cfg, b):
    """V and Y of one step (lif Eq. 8-9 / Eq. 22), shared by lif and gated_lif."""
    Y_r = Y.detach() if cfg["detach_reset"] else Y
    if cfg["output"] == "multibit":
        V = alpha * V + I - Y_r                       # subtract the transmitted value
        Y = MultibitQuantizer.apply(V, b, cfg["n_bits"], cfg["threshold_levels"], cfg.get("signed", False))
    else:
        if cfg["reset"] == "zero":
            V = alpha * V * (1 - Y_r) + I
        else:
            V = alpha * V + I - gamma * Y_r
        Y = spike(V - gamma, cfg["surrogate"], cfg["surrogate_params"])
    return V, Y


def torch_lif(P, x, s, cfg, b=None):
    """Ponghiran & Roy Eq. 7-9 (+ Eq. 22); learnable alpha / threshold / beta raw."""
    I, V, Y, ys = s["I"], s["V"], s["Y"], []
    alpha = P.get("alpha", cfg["alpha"])
    gamma = P.get("threshold", cfg["threshold"])
    beta = P.get("beta", cfg["beta"])
    for t in range(x.shape[0]):
        a = x[t] @ P["W"]
        I = beta * I + a if cfg["synaptic"] else a
        V, Y = _membrane(I, V, Y, alpha, gamma, cfg, b)
        ys.append(Y)
    return torch.stack(ys), {"I": I, "V": V, "Y": Y}


def torch_gated_lif(P, x, s, cfg, b=None):
    """Ponghiran & Roy Eq. 16-18 (v1) / 19-21 (v2, Y[t-1] not detached)."""
    I, V, Y, ys = s["I"], s["V"], s["Y"], []
    v2 = cfg["variant"] == "v2"
    for t in range(x.shape[0]):
        af = x[t] @ P["W_f"] + P["b_f"]
        ac = x[t] @ P["W_c"] + P["b_c"]
        if v2:
            af = af + Y @ P["U_f"]
            ac = ac + Y @ P["U_c"]
        F = torch.sigmoid(af)
        I = F * I + (1 - F) * torch.relu(ac)
        V, Y = _membrane(I, V, Y, cfg["alpha"], cfg["threshold"], cfg, b)
        ys.append(Y)
    return torch.stack(ys), {"I": I, "V": V, "Y": Y}


def torch_src(P, x, s, cfg, b=None):
    """De Geeter et al. Eq. 3a-3f with the bypass_relu / detach_recurrent switches."""
    i, h, h_s, ys = s["i"], s["h"], s["h_s"], []
    for t in range(x.shape[0]):
        i = cfg["alpha"] * i + x[t] @ P["W"]
        xx = cfg["rho"] * torch.tanh(i / cfg["rho"])
        hp, hsp = (h.detach(), h_s.detach()) if cfg["detach_recurrent"] else (h, h_s)
        # a switch (no gradient); the constants built in the state's dtype, not float32
        z_s = torch.where(hp > 0.5, torch.full_like(hp, cfg["z_dep"]), torch.full_like(hp, cfg["z_hyp"]))
        h = torch.tanh(xx + cfg["r"] * hp + cfg["r_s"] * hsp + P["b_h"])
        h_s = z_s * hsp + (1 - z_s) * hp
        ys.append(BypassReLU.apply(h) if cfg["bypass_relu"] else torch.relu(h))
    return torch.stack(ys), {"i": i, "h": h, "h_s": h_s}


#: cell name -> its PyTorch implementation. Every cell of DESIGN.md has one.
TORCH_CELLS = {
    "rnn": torch_rnn, "lstm": torch_lstm, "gru": torch_gru, "brc": torch_brc,
    "spiking_lstm": torch_spiking_lstm, "lif": torch_lif, "gated_lif": torch_gated_lif,
    "src": torch_src,
}


def run_torch(header, arrays, impl=None):
    """Load a fixture into PyTorch, run forward + autograd backward of sum(dy*y).

    Returns a dict of arrays with the fixture's result names (``y``, ``state_final/*``,
    ``dx``, ``grads/*``), ready for :func:`reference.compare`.
    """
    impl = impl or TORCH_CELLS[header["cell"]]
    P = {k[len("params/"):]: torch.tensor(v, dtype=DT, requires_grad=True)
         for k, v in arrays.items() if k.startswith("params/")}
    x = torch.tensor(arrays["x"], dtype=DT, requires_grad=True)
    s0 = {f: torch.tensor(arrays[f"state0/{f}"], dtype=DT) for f in header["state_fields"]}
    y, final = impl(P, x, s0, header["config"], header.get("b"))
    loss = (torch.tensor(arrays["dy"], dtype=DT) * y).sum()
    loss.backward()
    out = {"y": y.detach().numpy(), "dx": x.grad.numpy()}
    for f in header["state_fields"]:
        out[f"state_final/{f}"] = final[f].detach().numpy()
    for k, v in P.items():
        out[f"grads/{k}"] = (v.grad if v.grad is not None else torch.zeros_like(v)).numpy()
    return out


# ======================================================================================
# The suite: every available cell, every key option
# ======================================================================================
def _extra_configs():
    """Option products beyond the PROOFS tables (cheap here: no finite differences)."""
    out = []
    for syn, reset, det, la, lt, sur in itertools.product(
            (True, False), ("subtract", "zero"), (False, True), (False, True), (False, True),
            ("triangle", "atan")):
        out.append(("lif", dict(synaptic=syn, reset=reset, detach_reset=det, learn_alpha=la,
                                learn_threshold=lt, surrogate=sur)))
    for syn, det, lb, signed in itertools.product((True, False), (False, True), (False, True), (False, True)):
        if lb and not syn:
            continue
        out.append(("lif", dict(output="multibit", synaptic=syn, detach_reset=det, learn_beta=lb,
                                signed=signed, n_bits=3, threshold_levels=1)))
    for v, det, signed in itertools.product(("v1", "v2"), (False, True), (False, True)):
        out.append(("gated_lif", dict(variant=v, detach_reset=det, signed=signed)))
    for v, sur in itertools.product(("v1", "v2"), ("gaussian", "fast_sigmoid", "sigmoid")):
        out.append(("gated_lif", dict(variant=v, output="binary", surrogate=sur)))
    out.append(("spiking_lstm", dict(theta1=0.0, theta2=0.3, theta_c=0.5, a1=1.0, a2=2.0, a_c=0.5)))
    out.append(("src", dict(z_dep=0.2, r_s=-3.0, b_h_init=-1.0, b_h_max=None)))  # z_s switches
    for bp, dr in itertools.product((False, True), repeat=2):
        out.append(("src", dict(bypass_relu=bp, detach_recurrent=dr, b_h_init=0.5, b_h_max=None)))
    return out


def _label(name, cfg, b):
    opts = ",".join(f"{k}={v}" for k, v in cfg.items())
    return f"{name}[{opts}]" + ("" if b == reference.DEFAULT_B else f"[b={b}]")


def _cases():
    """(label, cell, config, b): the standard suite of reference.export-all, the option
    products above, and multi-bit cells with a small range b so that |V| > b (the clipped
    region of the straight-through rule) is exercised too."""
    avail = set(cells.available())
    cases = [(stem, name, cfg, reference.DEFAULT_B) for stem, name, cfg in reference.standard_suite()]
    for name, cfg in _extra_configs():
        if name in avail:
            cases.append((_label(name, cfg, reference.DEFAULT_B), name, cfg, reference.DEFAULT_B))
    for name, cfg in (("lif", dict(output="multibit")), ("gated_lif", dict(variant="v1")),
                      ("gated_lif", dict(variant="v2", signed=True))):
        if name in avail:
            cases.append((_label(name, cfg, 0.25), name, cfg, 0.25))
    return cases


CASES = _cases()


def test_every_registered_cell_has_a_torch_implementation():
    missing = sorted(set(cells.REGISTRY) - set(TORCH_CELLS))
    assert not missing, f"cells without a PyTorch implementation in this test: {missing}"


def test_every_available_cell_is_in_the_cross_framework_suite():
    covered = {name for _, name, _, _ in CASES}
    missing = sorted(set(cells.available()) - covered)
    assert not missing, f"available cells not cross-checked against PyTorch: {missing}"


@pytest.mark.parametrize("label,name,cfg,b", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("T", [1, 7])
def test_torch_autograd_matches_ours(label, name, cfg, b, T):
    try:
        header, ours = reference.fixture_arrays(name, cfg, T=T, b=b)
    except ValueError as e:  # an option combination the cell refuses (e.g. zero reset + multibit)
        pytest.skip(f"configuration refused by the cell: {e}")
    theirs = run_torch(header, ours)
    res = reference.compare(ours, theirs, tol=TOL)
    assert res.ok, f"{label} T={T}\n{res.table()}"
    # the comparison really looked at every result tensor
    names = {r.name for r in res.rows}
    assert {"y", "dx"} | {f"grads/{k}" for k in header["param_names"]} <= names


def test_small_range_exercises_the_clip():
    """The b=0.25 cases above really put some |V| beyond b (else the clip is untested)."""
    for name, cfg in (("lif", dict(output="multibit")), ("gated_lif", dict(variant="v1"))):
        if name not in cells.available():
            continue
        _, a = reference.fixture_arrays(name, cfg, b=0.25)
        V = a["state_final/V"]
        assert np.any(np.abs(V) > 0.25)  # (|V| <= b is exercised by the b = 2 fixtures)


def test_a_wrong_torch_surrogate_is_caught():
    """The comparison can fail: a torch LIF with a different surrogate width disagrees."""
    header, ours = reference.fixture_arrays("lif", {"surrogate": "triangle"})
    cfg = dict(header["config"], surrogate_params={"width": 1.5})
    header = dict(header, config=cfg)
    res = reference.compare(ours, run_torch(header, ours), tol=TOL)
    assert not res.ok
    assert res.rows[[r.name for r in res.rows].index("y")].ok   # forward identical
    assert not [r for r in res.rows if r.name == "grads/W"][0].ok


def test_a_missing_detach_is_caught():
    """src with detach_recurrent: a torch version that forgets the detach disagrees."""
    header, ours = reference.fixture_arrays("src", {"detach_recurrent": True, "bypass_relu": True})
    header = dict(header, config=dict(header["config"], detach_recurrent=False))
    res = reference.compare(ours, run_torch(header, ours), tol=TOL)
    assert not res.ok and [r for r in res.rows if r.name == "y"][0].ok


# ======================================================================================
# Against torch.nn's own recurrent layers (weights mapped, docs/reference_format.md)
# ======================================================================================
def _swap01(a, H, axis):
    """Swap the first two H-blocks along ``axis`` (our f,i <-> torch's i,f; our z,r <->
    torch's r,z). The swap is its own inverse, so it maps both ways."""
    idx = np.r_[H:2 * H, 0:H, 2 * H:a.shape[axis]]
    return np.take(a, idx, axis=axis)


@pytest.mark.parametrize("name", [n for n in ("rnn", "lstm", "gru") if n in cells.available()])
def test_torch_nn_layers_match_ours(name):
    header, ours = reference.fixture_arrays(name, {})
    H, n_in = header["sizes"]["n_hidden"], header["sizes"]["n_in"]
    W_x, W_h, b = (ours[f"params/{k}"] for k in ("W_x", "W_h", "b"))
    if name == "rnn":
        mod, wx, wh, bb = torch.nn.RNN(n_in, H, nonlinearity="tanh", dtype=DT), W_x, W_h, b
    elif name == "lstm":  # our f,i,g,o -> torch i,f,g,o; one bias -> b_ih (b_hh = 0)
        mod = torch.nn.LSTM(n_in, H, dtype=DT)
        wx, wh, bb = _swap01(W_x, H, 1), _swap01(W_h, H, 1), _swap01(b, H, 0)
    else:  # our z,r,n -> torch r,z,n; b_hh = 0, so torch's b_hn (inside r*(...)) vanishes
        mod = torch.nn.GRU(n_in, H, dtype=DT)
        wx, wh, bb = _swap01(W_x, H, 1), _swap01(W_h, H, 1), _swap01(b, H, 0)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.tensor(wx.T))
        mod.weight_hh_l0.copy_(torch.tensor(wh.T))
        mod.bias_ih_l0.copy_(torch.tensor(bb))
        mod.bias_hh_l0.zero_()
    x = torch.tensor(ours["x"], requires_grad=True)
    h0 = torch.tensor(ours["state0/h"])[None]
    if name == "lstm":
        y, (hT, cT) = mod(x, (h0, torch.tensor(ours["state0/c"])[None]))
    else:
        y, hT = mod(x, h0)
    (torch.tensor(ours["dy"]) * y).sum().backward()
    back = (lambda a, axis: a) if name == "rnn" else (lambda a, axis: _swap01(a, H, axis))
    theirs = {"y": y.detach().numpy(), "dx": x.grad.numpy(), "state_final/h": hT[0].detach().numpy(),
              "grads/W_x": back(mod.weight_ih_l0.grad.numpy().T, 1),
              "grads/W_h": back(mod.weight_hh_l0.grad.numpy().T, 1),
              "grads/b": back(mod.bias_ih_l0.grad.numpy(), 0)}
    if name == "lstm":
        theirs["state_final/c"] = cT[0].detach().numpy()
    res = reference.compare(ours, theirs, tol=TOL)
    assert res.ok, res.table()
    if name != "gru":  # b_hh receives the same gradient as b_ih except GRU's n block
        assert np.allclose(mod.bias_hh_l0.grad.numpy(), mod.bias_ih_l0.grad.numpy(), rtol=1e-12, atol=1e-14)


# ======================================================================================
# snnTorch's own neurons against lif configured to match
# ======================================================================================
SNN_TOL = 1e-6  # snnTorch casts spikes with .float(): the spike path is float32


def _snntorch_run(kind, reset, T=7, B=3, n_in=4, H=5, seed=0):
    snntorch = pytest.importorskip("snntorch", reason="snntorch is an optional validation extra")
    from snntorch import surrogate as sg

    cfg = dict(synaptic=(kind == "Synaptic"), alpha=0.8, beta=0.7, threshold=0.6, reset=reset,
               detach_reset=True, surrogate="atan", surrogate_params={"a": 2.0})
    cell = cells.make("lif", n_in, H, seed=seed, dtype=np.float64, **cfg)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((T, B, n_in))
    V0 = rng.standard_normal((B, H))
    I0 = 0.5 * rng.standard_normal((B, H)) if cfg["synaptic"] else np.zeros((B, H))
    Y0 = (V0 > cfg["threshold"]).astype(np.float64)   # snnTorch derives the reset from mem
    dy = rng.standard_normal((T, B, H))
    y, cache = cell.forward(x, cell.State(I0, V0, Y0))
    dx, grads = cell.backward(dy, cache)

    W = torch.tensor(cell.params["W"], requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    f64 = lambda v: torch.tensor(v, dtype=DT)  # noqa: E731  (python floats would become float32 buffers)
    kw = dict(threshold=f64(cfg["threshold"]), spike_grad=sg.atan(alpha=2.0), reset_mechanism=reset)
    if kind == "Leaky":  # snnTorch's beta is our membrane decay alpha
        neuron = snntorch.Leaky(beta=f64(cfg["alpha"]), **kw)
        mem = torch.tensor(V0)
        spk = []
        for t in range(T):
            s, mem = neuron(xt[t] @ W, mem)
            spk.append(s)
    else:  # Synaptic: snnTorch's alpha is our synaptic decay beta, its beta our alpha
        neuron = snntorch.Synaptic(alpha=f64(cfg["beta"]), beta=f64(cfg["alpha"]), **kw)
        syn, mem = torch.tensor(I0), torch.tensor(V0)
        spk = []
        for t in range(T):
            s, syn, mem = neuron(xt[t] @ W, syn, mem)
            spk.append(s)
    spk = torch.stack(spk)
    (torch.tensor(dy) * spk).sum().backward()
    theirs = {"y": spk.detach().double().numpy(), "dx": xt.grad.numpy(), "grads/W": W.grad.numpy(),
              "state_final/V": mem.detach().numpy()}
    ours = {"y": y, "dx": dx, "grads/W": grads["W"], "state_final/V": cache["final_state"].V}
    return ours, theirs


@pytest.mark.parametrize("kind,reset", [("Leaky", "subtract"), ("Leaky", "zero"), ("Synaptic", "subtract")])
def test_snntorch_neurons_match_lif(kind, reset):
    ours, theirs = _snntorch_run(kind, reset)
    res = reference.compare(ours, theirs, tol=SNN_TOL)
    assert res.ok, res.table()


def test_snntorch_synaptic_zero_reset_differs():
    """snnTorch's Synaptic zeroes the *whole* new membrane, (beta V + syn)(1 - S[t-1]); our
    lif (and snnTorch's Leaky) zero only the leaked part, alpha V (1 - S[t-1]) + I. The two
    agree until the first spike and differ after (docs/reference_format.md)."""
    ours, theirs = _snntorch_run("Synaptic", "zero")
    res = reference.compare(ours, theirs, tol=SNN_TOL)
    assert not res.ok


# ======================================================================================
# The benchmark's PyTorch cells compute the same thing as ours (else its ratios are moot)
# ======================================================================================
@pytest.mark.parametrize("name", [n for n in ("lstm", "spiking_lstm", "lif", "gated_lif", "src")
                                  if n in cells.available()])
def test_bench_torch_cells_are_the_same_equations(name):
    import dataclasses

    from snn_from_scratch import bench

    config, _ = bench.REFERENCE[name]
    cell = cells.make(name, 4, 6, seed=0, dtype=np.float64, **config)
    cell.training = False
    rng = np.random.default_rng(0)
    x = (rng.random((9, 3, 4)) < 0.5).astype(np.float64)
    dy = rng.standard_normal((9, 3, 6))
    y, cache = cell.forward(x)
    dx, grads = cell.backward(dy, cache)
    cfg = dataclasses.asdict(cell.config)
    if name == "gated_lif":
        cfg["b"] = cell.b
    P = {k: torch.tensor(v, requires_grad=True) for k, v in cell.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    yt = bench._torch_cells()[name](P, xt, cfg)
    (torch.tensor(dy) * yt).sum().backward()
    theirs = {"y": yt.detach().numpy(), "dx": xt.grad.numpy(),
              **{f"grads/{k}": v.grad.numpy() for k, v in P.items()}}
    ours = {"y": y, "dx": dx, **{f"grads/{k}": v for k, v in grads.items()}}
    res = reference.compare(ours, theirs, tol=TOL)
    assert res.ok, res.table()


def test_bench_quick_smoke(tmp_path, capsys):
    from snn_from_scratch import bench

    assert bench.main(["--quick", "--cell", "lif", "--no-scaling", "--repeats", "1",
                       "--threads", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lif" in out and "ratio" in out
    assert (tmp_path / "bench_quick.json").exists()
    assert bench.main(["--repeats", "0"]) == 2
