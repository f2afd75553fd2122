"""NIR graphs in and out: run a network exported by another framework with reference gradients.

NIR (the Neuromorphic Intermediate Representation, the ``nir`` package, read and written by
snnTorch, Norse, SpikingJelly, Rockpool, Sinabs, Lava-dl, Spyx) describes a network as a
graph of continuous-time primitives. This module reads the primitives our cells implement
into a :class:`Network` — a chain of stages, each a weight layer followed by a neuron,
run with our ``lif`` cell (forward and hand-written backward) — and writes such a network
back. ``nir`` is imported inside the functions: the package itself never needs it.

Discretization (NIR does not store a time step: ``dt`` is an argument, default 1e-4 s,
snnTorch's; forward Euler, as snnTorch and Norse discretize):

    Affine   y = W x + b  (NIR's weight is (out, in), multiplied from the left: our W = weight^T)
    Linear   y = W x
    LIF      tau dv/dt = (v_leak - v) + r I;  spike where v > v_threshold, then v = v_reset
             -> v[t] = alpha v[t-1] + g I[t] + (dt/tau) v_leak,
                alpha = 1 - dt/tau,  g = r dt/tau  (snnTorch writes r = tau/dt: g = 1)
    CubaLIF  tau_syn di/dt = -i + w_in x;  tau_mem dv/dt = (v_leak - v) + r i
             -> i[t] = beta i[t-1] + (dt/tau_syn) w_in x[t],  beta = 1 - dt/tau_syn
                v[t] = alpha v[t-1] + (r dt/tau_mem) i[t],    alpha = 1 - dt/tau_mem
                (the membrane reads the current of the same step)
    IF       dv/dt = r I  -> v[t] = v[t-1] + r dt I[t]   (alpha = 1, g = r dt)
    LI       as LIF without spikes: the output is v
    I        dv/dt = r I  -> v[t] = v[t-1] + r dt I[t]  (no spikes)
    recurrent edge  neuron -> Affine/Linear -> the same neuron: the spikes of step t-1 enter
             the neuron's input at step t (our ``recurrent=True``, U = weight^T; an Affine's
             bias is a constant input, added to the input layer's bias)

Each spiking neuron becomes our ``lif`` with ``reset="zero"``, ``reset_timing="same_step"``
(the reset to v_reset = 0 right after the spike, NIR's definition; only v_reset = 0 (or
None) is expressible), ``synaptic`` for CubaLIF, ``recurrent`` for a loop; the input gain
g (per neuron) and the constant (dt/tau) v_leak are folded exactly into the weights and the
bias of the layer before (a bias is an extra input row of W fed by a constant 1); CubaLIF's
scale g = (r dt/tau_mem)(w_in dt/tau_syn) likewise (its I is ours times r dt/tau_mem; a
CubaLIF v_leak != 0 has no counterpart and is refused). NIR says nothing about gradients:
the surrogate (default arctan, a = 2: snnTorch's default) and ``detach_reset`` (default
False: snnTorch's ``reset_delay=False`` and NIR's reset, attached) are arguments of
:func:`read`. Parameters of the neurons (tau, thresholds) are constants; gradients are
those of the weights and biases, reported in NIR's layouts (``grads[node]["weight"]``,
``["bias"]``).

Writing (:func:`write` / :func:`to_nir`) writes a network read from NIR back with its own
nodes and weights (an exact round trip), and inverts the map for our own layers
(:func:`from_cells`): a stage with our lif
(zero reset, either timing — for the zero reset the two timings are the same function —,
non-detached or detached alike) becomes Affine/Linear + LIF (no synaptic current; IF when
alpha = 1) or CubaLIF, with snnTorch's conventions r = tau_mem/dt and w_in = tau_syn/dt (so
g = 1 and snnTorch's import reads it back); a subtractive reset has no NIR counterpart and
is refused.

Why this file is long (~460 lines): NIR in and out for every primitive our cells implement
(Affine, Linear, LIF, CubaLIF, LI, I, IF, recurrent edges) with the discretization of each,
and the validation of a foreign graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import cells

__all__ = ["DEFAULT_DT", "Stage", "Network", "from_nir", "to_nir", "read", "write"]

#: NIR graphs carry no time step; snnTorch's export and import use 1e-4 s.
DEFAULT_DT = 1e-4

SPIKING = ("LIF", "CubaLIF", "IF")
INTEGRATING = ("LI", "I")
WEIGHTS = ("Affine", "Linear")


@dataclass
class Stage:
    """One weight layer and the neuron after it (either may be absent).

    ``weight`` (out, in) and ``bias`` (out,) in NIR's layout (None: identity / no bias);
    ``kind`` "lif" (a spiking neuron, run by our ``lif`` cell ``cell``), "li" (a leaky
    integrator: ``decay`` and ``gain`` per neuron, output the potential) or "affine" (no
    neuron). ``gain`` g and ``offset`` (the constant (dt/tau) v_leak) are folded into the
    weights; ``recurrent`` (H, H) is the loop's weight in NIR's layout; ``names`` are the
    graph's node names (weight, neuron, recurrent) for the gradients.
    """

    kind: str
    weight: np.ndarray = None
    bias: np.ndarray = None
    gain: np.ndarray = None
    offset: np.ndarray = None
    decay: np.ndarray = None
    recurrent: np.ndarray = None
    recurrent_bias: np.ndarray = None
    cell: object = None
    node: object = None          # the NIR neuron node (for writing it back)
    names: dict = field(default_factory=dict)

    @property
    def n_out(self):
        if self.weight is not None:
            return self.weight.shape[0]
        return len(self.gain)

    def folded(self, n_in):
        """Our W (n_in [+1], H): gain * weight^T, with a last row gain * bias + offset when
        there is a bias or an offset (fed by a constant input 1)."""
        W = np.eye(n_in) if self.weight is None else np.asarray(self.weight, np.float64).T
        g = np.ones(W.shape[1]) if self.gain is None else self.gain
        W = W * g
        b = np.zeros(W.shape[1])
        has_b = False
        for extra in (self.bias, self.recurrent_bias):
            if extra is not None:
                b = b + extra
                has_b = True
        b = b * g
        if self.offset is not None and np.any(self.offset != 0):
            b = b + self.offset
            has_b = True
        return (np.vstack([W, b]) if has_b else W), has_b


class Network:
    """A chain of :class:`Stage` read from a NIR graph: ``forward(x)`` (T, B, n_in) ->
    ``y`` (T, B, n_out), from rest; ``backward(dy)`` -> ``(dx, grads)`` with ``grads`` a
    dict ``{node name: {"weight": ..., "bias": ...}}`` in NIR's layouts (L = sum(dy * y))."""

    def __init__(self, stages, dt=DEFAULT_DT):
        self.stages = list(stages)
        self.dt = dt

    def forward(self, x):
        self._caches = []
        h = np.asarray(x, np.float64)
        for st in self.stages:
            W, has_b = st.folded(h.shape[2])
            inp = np.concatenate([h, np.ones(h.shape[:2] + (1,))], axis=2) if has_b else h
            if st.kind == "lif":
                _fit_cell(st, W.shape[0])
                st.cell.params["W"] = W
                if st.recurrent is not None:
                    st.cell.params["U"] = np.asarray(st.recurrent, np.float64).T
                y, cache = st.cell.forward(inp)
            else:
                A = inp @ W
                if st.kind == "li":
                    y = np.empty_like(A)
                    v = np.zeros(A.shape[1:])
                    for t in range(len(A)):
                        v = st.decay * v + A[t]
                        y[t] = v
                else:
                    y = A
                cache = None
            self._caches.append((inp, W, has_b, cache))
            h = y
        return h

    def backward(self, dy):
        grads = {}
        g = np.asarray(dy, np.float64)
        for st, (inp, W, has_b, cache) in zip(reversed(self.stages), reversed(self._caches)):
            if st.kind == "lif":
                dinp, pg = st.cell.backward(g, cache)
                dW = pg["W"]
                if st.recurrent is not None:
                    grads.setdefault(st.names["recurrent"], {})["weight"] = pg["U"].T
            else:
                dA = g
                if st.kind == "li":
                    dA = np.empty_like(g)
                    dv = np.zeros(g.shape[1:])
                    for t in reversed(range(len(g))):
                        dv = g[t] + st.decay * dv
                        dA[t] = dv
                T, B = dA.shape[:2]
                dW = inp.reshape(T * B, -1).T @ dA.reshape(T * B, -1)
                dinp = dA @ W.T
            gain = np.ones(W.shape[1]) if st.gain is None else st.gain
            n_in = W.shape[0] - (1 if has_b else 0)
            if st.weight is not None:
                grads.setdefault(st.names["weight"], {})["weight"] = (dW[:n_in] * gain).T
            if has_b:
                db = dW[n_in] * gain
                if st.bias is not None:
                    grads.setdefault(st.names["weight"], {})["bias"] = db
                if st.recurrent_bias is not None:
                    grads.setdefault(st.names["recurrent"], {})["bias"] = db
            g = dinp[..., :n_in] if has_b else dinp
        return g, grads


def _fit_cell(st, n_rows):
    """Make the stage's lif take ``n_rows`` inputs (the folded W may have a bias row): a new
    cell with the same config and the same neuron parameters."""
    cell = st.cell
    if cell.n_in == n_rows:
        return
    import dataclasses

    cfg = dataclasses.asdict(cell.config)
    new = cells.make("lif", n_rows, cell.n_hidden, dtype=np.float64, **cfg)
    for k, v in cell.params.items():
        if k not in ("W",):
            new.params[k] = v
    new.training = cell.training
    st.cell = new


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
def _flatten(graph, prefix=""):
    """Nodes and edges of a NIR graph with nested graphs inlined (names ``outer.inner``)
    and the nested Input/Output nodes bypassed."""
    import nir

    nodes, edges = {}, []
    sub_io = {}
    for k, n in graph.nodes.items():
        name = prefix + k
        if isinstance(n, nir.NIRGraph):
            inner_nodes, inner_edges = _flatten(n, name + ".")
            ins = [f"{name}.{j}" for j, m in n.nodes.items() if isinstance(m, nir.Input)]
            outs = [f"{name}.{j}" for j, m in n.nodes.items() if isinstance(m, nir.Output)]
            nodes.update(inner_nodes)
            edges += inner_edges
            sub_io[name] = (ins[0], outs[0])
        else:
            nodes[name] = n
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        a = sub_io[a][1] if a in sub_io else a
        b = sub_io[b][0] if b in sub_io else b
        edges.append((a, b))
    if prefix:  # bypass this level's Input/Output only for nested graphs
        return nodes, edges
    # remove nested Input/Output pass-throughs
    for name in [k for k, n in nodes.items() if isinstance(n, (nir.Input, nir.Output)) and "." in k]:
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e] + [(a, b) for a in preds for b in succs]
        del nodes[name]
    return nodes, edges


def _arr(v, H=None):
    a = np.asarray(v, np.float64)
    if H is not None and a.ndim == 0:
        a = np.full(H, float(a))
    return a


def _neuron(name, node, dt, H, surrogate, detach_reset):
    """The lif keywords, gain and offset of a NIR neuron node (or an "li" stage's decay)."""
    kind = type(node).__name__
    reset = getattr(node, "v_reset", None)
    if kind in SPIKING and reset is not None and np.any(_arr(reset) != 0):
        raise NotImplementedError(f"node {name!r} ({kind}): v_reset != 0 has no counterpart "
                                  "(our zero reset resets to 0)")
    common = dict(reset="zero", reset_timing="same_step", detach_reset=detach_reset,
                  surrogate=surrogate[0], surrogate_params=dict(surrogate[1]), output="binary")
    if kind == "LIF":
        tau, r = _arr(node.tau, H), _arr(node.r, H)
        alpha = 1 - dt / tau
        return dict(common, synaptic=False, alpha=alpha, threshold=_arr(node.v_threshold, H)), \
            r * dt / tau, dt / tau * _arr(node.v_leak, H)
    if kind == "IF":
        return dict(common, synaptic=False, alpha=np.ones(H), threshold=_arr(node.v_threshold, H)), \
            _arr(node.r, H) * dt, None
    if kind == "CubaLIF":
        if np.any(_arr(node.v_leak) != 0):
            raise NotImplementedError(f"node {name!r} (CubaLIF): v_leak != 0 (a constant added to "
                                      "the membrane, not to the filtered current) has no counterpart")
        tm, ts = _arr(node.tau_mem, H), _arr(node.tau_syn, H)
        g = _arr(node.r, H) * dt / tm * _arr(node.w_in, H) * dt / ts
        return dict(common, synaptic=True, alpha=1 - dt / tm, beta=1 - dt / ts,
                    threshold=_arr(node.v_threshold, H)), g, None
    if kind == "LI":
        tau = _arr(node.tau, H)
        return {"decay": 1 - dt / tau}, _arr(node.r, H) * dt / tau, dt / tau * _arr(node.v_leak, H)
    if kind == "I":
        return {"decay": np.ones(H)}, _arr(node.r, H) * dt, None
    raise NotImplementedError(f"node {name!r}: NIR primitive {kind} is not supported "
                              f"(supported: Affine, Linear, {', '.join(SPIKING + INTEGRATING)})")


def _size(node):
    for a in ("v_threshold", "tau", "tau_mem", "r"):
        v = np.asarray(getattr(node, a, np.zeros(0)))
        if v.ndim == 1:
            return v.shape[0]
    return None


def from_nir(graph, dt=DEFAULT_DT, surrogate=("atan", {"a": 2.0}), detach_reset=False):
    """A :class:`Network` from a ``nir.NIRGraph`` (a chain, each neuron optionally with one
    recurrent weight loop). Raises ``NotImplementedError`` naming what is not expressible."""
    import nir

    nodes, edges = _flatten(graph)
    succ, pred = {}, {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    loops = {}   # neuron -> its recurrent weight node
    for w, n in nodes.items():
        if isinstance(n, (nir.Affine, nir.Linear)):
            for p in pred.get(w, []):
                if p in succ.get(w, []):
                    loops[p] = w
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise NotImplementedError(f"a graph with {len(inputs)} Input nodes; a chain has one")
    stages, pending, cur = [], None, inputs[0]
    seen = set()
    while True:
        nxt = [b for b in succ.get(cur, []) if b != loops.get(cur)]
        if len(nxt) != 1:
            raise NotImplementedError(f"node {cur!r} has {len(nxt)} successors: only chains are supported")
        cur = nxt[0]
        if cur in seen:
            raise NotImplementedError(f"a cycle through {cur!r} other than a neuron's recurrent loop")
        seen.add(cur)
        node = nodes[cur]
        kind = type(node).__name__
        if isinstance(node, nir.Output):
            if pending is not None:
                stages.append(Stage("affine", weight=pending[1], bias=pending[2],
                                    names={"weight": pending[0]}))
            break
        if kind in WEIGHTS:
            if pending is not None:
                raise NotImplementedError(f"two weight layers in a row ({pending[0]!r}, {cur!r})")
            pending = (cur, _arr(node.weight), _arr(node.bias) if kind == "Affine" else None)
            continue
        H = pending[1].shape[0] if pending is not None else _size(node)
        kw, gain, offset = _neuron(cur, node, dt, H, surrogate, detach_reset)
        names = {"weight": pending[0] if pending else None, "neuron": cur}
        st = Stage("lif" if kind in SPIKING else "li", weight=pending[1] if pending else None,
                   bias=pending[2] if pending else None, gain=gain, offset=offset, node=node,
                   names=names)
        if cur in loops:
            if kind not in SPIKING:
                raise NotImplementedError(f"a recurrent loop around {kind} {cur!r}")
            w = nodes[loops[cur]]
            st.recurrent = _arr(w.weight)
            st.recurrent_bias = _arr(w.bias) if isinstance(w, nir.Affine) else None
            names["recurrent"] = loops[cur]
            kw["recurrent"] = True
        if kind in SPIKING:
            # the per-neuron constants ride in the cell's learnable-parameter slots (their
            # gradients are computed and not reported: NIR's neurons have no learnables)
            alpha, thr, beta = kw.pop("alpha"), kw.pop("threshold"), kw.pop("beta", None)
            cfg = dict(kw, learn_alpha=True, learn_threshold=True, learn_beta=beta is not None)
            n_in = pending[1].shape[1] if pending else H
            st.cell = cells.make("lif", n_in, H, dtype=np.float64, **cfg)
            st.cell.params.update(alpha=alpha, threshold=thr)
            if beta is not None:
                st.cell.params["beta"] = beta
        else:
            st.decay = kw["decay"]
        stages.append(st)
        pending = None
    return Network(stages, dt)


def read(source, dt=DEFAULT_DT, surrogate=("atan", {"a": 2.0}), detach_reset=False):
    """A :class:`Network` from a NIR file (``nir.read``) or a ``nir.NIRGraph``."""
    import nir

    graph = source if isinstance(source, nir.NIRGraph) else nir.read(source)
    return from_nir(graph, dt=dt, surrogate=surrogate, detach_reset=detach_reset)


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def to_nir(network, dt=None):
    """A ``nir.NIRGraph`` of a :class:`Network` (snnTorch's conventions: r = tau/dt,
    w_in = tau_syn/dt, so the gain is 1 and snnTorch's import reads it back)."""
    import nir

    dt = network.dt if dt is None else dt
    nodes, edges, prev = {}, [], "input"
    n_in = None
    for i, st in enumerate(network.stages):
        if st.weight is not None:
            # a stage read from NIR is written back as it was (its own weights and node);
            # one of our own layers with gain 1 (snnTorch's conventions below)
            W = np.asarray(st.weight, np.float64)
            n_in = n_in or W.shape[1]
            name = st.names.get("weight") or f"{i}.weight"
            nodes[name] = nir.Affine(weight=W, bias=np.asarray(st.bias, np.float64)) \
                if st.bias is not None else nir.Linear(weight=W)
            edges.append((prev, name))
            prev = name
        if st.kind == "affine":
            continue
        name = st.names.get("neuron") or f"{i}.neuron"
        H = st.n_out
        if st.node is not None:
            nodes[name] = st.node
        elif st.kind == "li":
            tau = dt / (1 - st.decay) if np.all(st.decay < 1) else None
            nodes[name] = (nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(H)) if tau is not None
                           else nir.I(r=np.full(H, 1 / dt)))
        else:
            nodes[name] = _write_neuron(st.cell, dt)
            if st.recurrent is not None:
                rname = st.names.get("recurrent") or f"{i}.recurrent"
                nodes[rname] = (nir.Affine(weight=np.asarray(st.recurrent), bias=st.recurrent_bias)
                                if st.recurrent_bias is not None else nir.Linear(weight=np.asarray(st.recurrent)))
                edges += [(name, rname), (rname, name)]
        edges.append((prev, name))
        prev = name
    n_in = n_in or network.stages[0].n_out
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}), **nodes,
             "output": nir.Output(output_type={"output": np.array([network.stages[-1].n_out])})}
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _write_neuron(cell, dt):
    """The NIR node of our lif ``cell`` (zero reset), snnTorch's conventions."""
    import nir

    c, p, H = cell.config, cell.params, cell.n_hidden
    if c.reset != "zero" or c.output != "binary" or c.norm != "none":
        raise NotImplementedError("only the binary lif with the zero reset has a NIR counterpart "
                                  f"(got reset={c.reset!r}, output={c.output!r}, norm={c.norm!r}); "
                                  "NIR's neurons reset to v_reset")
    alpha = np.broadcast_to(np.asarray(p.get("alpha", c.alpha), np.float64), (H,)).copy()
    thr = np.broadcast_to(np.asarray(p.get("threshold", c.threshold), np.float64), (H,)).copy()
    zero = np.zeros(H)
    if c.synaptic:
        beta = np.broadcast_to(np.asarray(p.get("beta", c.beta), np.float64), (H,)).copy()
        tau_syn, tau_mem = dt / (1 - beta), dt / (1 - alpha)
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=zero,
                           v_threshold=thr, v_reset=zero, w_in=tau_syn / dt)
    if np.all(alpha == 1):
        return nir.IF(r=np.full(H, 1 / dt), v_threshold=thr, v_reset=zero)
    tau = dt / (1 - alpha)
    return nir.LIF(tau=tau, r=tau / dt, v_leak=zero, v_threshold=thr, v_reset=zero)


def from_cells(layers, dt=DEFAULT_DT):
    """A :class:`Network` from our own layers: ``[(cell, bias or None)]``, each a lif (its W
    the weight, U the recurrent weight) — to write with :func:`write`."""
    stages = []
    for i, (cell, bias) in enumerate(layers):
        st = Stage("lif", weight=cell.params["W"].T.copy(), bias=None if bias is None else np.asarray(bias),
                   cell=cell, names={"weight": f"{i}.weight", "neuron": f"{i}.lif"})
        if "U" in cell.params:
            st.recurrent = cell.params["U"].T.copy()
            st.names["recurrent"] = f"{i}.recurrent"
        stages.append(st)
    return Network(stages, dt)


def write(path, network, dt=None):
    """Write a :class:`Network` as a NIR file (``nir.write``); returns the graph."""
    import nir

    graph = to_nir(network, dt)
    nir.write(path, graph)
    return graph
