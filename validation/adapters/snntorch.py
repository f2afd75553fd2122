"""snnTorch 1.0's ``Leaky``, ``Synaptic``, ``RLeaky`` and ``RSynaptic`` on our lif fixtures.

The mapping (read from the snnTorch 1.0 source; ``docs/reference_format.md``, snnTorch):

* names: snnTorch's ``beta`` is our membrane decay ``alpha``; ``Synaptic``'s ``alpha`` is our
  synaptic decay ``beta`` (swapped); ``syn`` is our I (after this step's input), ``mem`` our
  state's V. Both decays are clamped to [0, 1] in snnTorch's forward (ours are raw).
* ``reset_delay=True`` (default): the reset of step t is ``H(mem[t-1] - threshold)``,
  recomputed from the stored membrane and **always detached**, so ``mem`` is the potential
  before its reset — our ``reset_timing="next_step"``, ``detach_reset=True``, and the
  fixture's Y0 = H(V0 - threshold) is exactly the reset snnTorch derives from ``mem``.
* ``reset_delay=False``: the membrane is reset right after the spike with the *attached*
  spike (``mem - (spk - reset) * threshold``): our ``"same_step"``, ``detach_reset=False``.
  Its "avoid double reset" bookkeeping subtracts ``H(mem - threshold)`` once more when the
  reset membrane is still above threshold (V > 2 theta, subtractive reset): such
  trajectories have no counterpart, and the adapter says so.
* the zero reset of ``Synaptic``, ``RLeaky`` and ``RSynaptic`` zeroes the whole new membrane,
  ``(beta mem + input)(1 - reset)`` (and ``RSynaptic`` the current): no counterpart with the
  delayed reset. ``Leaky``'s is ours (``beta (1 - reset) mem + input``).
* spikes ``(mem - threshold > 0).float()``: strict, and **float32** even in a float64 model,
  so the gradient through every spike is rounded to float32 (errors ~1e-8, tolerance 1e-7).
* surrogates: ``atan(alpha=a)`` = our atan(a); ``fast_sigmoid(slope=k)`` = fast_sigmoid(k);
  ``sigmoid(slope=k)`` = sigmoid(k); ``straight_through_estimator()`` = straight_through
  (scale 1, no window). ``triangular()`` has no counterpart: its gradient is +threshold
  below 0 and -threshold above (not a triangle). No Gaussian.
* ``RLeaky``/``RSynaptic`` apply ``recurrent = nn.Linear(H, H)`` to their float32 spike: a
  float64 Linear raises "mat1 and mat2 must have the same dtype", so the adapter replaces
  the module by the same map in float64, ``spk @ U`` (our U = ``recurrent.weight.T``, bias 0).
"""
from __future__ import annotations

import numpy as np

from . import close, lif_reason, our_trace, results, surrogate_of, torch_inputs

NAME = "snnTorch"
PACKAGE = "snntorch"
#: snnTorch's spikes are float32: 1e-7 instead of 1e-10.
TOL = 1e-7


def version():
    try:
        import snntorch
        import torch  # noqa: F401
    except ImportError:
        return None
    return snntorch.__version__


def spike_grad(fam, params):
    """snnTorch's surrogate for our ``(family, params)``, or ``(None, reason)``."""
    from snntorch import surrogate as sg

    if fam == "atan":
        return sg.atan(alpha=params["a"]), f"surrogate.atan(alpha={params['a']:g})"
    if fam == "fast_sigmoid":
        return sg.fast_sigmoid(slope=params["k"]), f"surrogate.fast_sigmoid(slope={params['k']:g})"
    if fam == "sigmoid":
        return sg.sigmoid(slope=params["k"]), f"surrogate.sigmoid(slope={params['k']:g})"
    if fam == "straight_through":
        if params.get("width") is None and close(params["scale"], 1.0):
            return sg.straight_through_estimator(), "surrogate.straight_through_estimator()"
        return None, ("straight_through with a window or a scale != 1: snnTorch's "
                      "straight_through_estimator() passes 1 everywhere")
    if fam == "triangle":
        return None, ("triangle: snnTorch's triangular() is not a triangle (its gradient is "
                      "+threshold below 0 and -threshold above, docs/conventions)")
    return None, f"{fam}: snnTorch has no such surrogate"


def express(header, arrays):
    reason = lif_reason(header)
    if reason:
        return None, reason
    c = header["config"]
    if c["spike_at_threshold"]:
        return None, "spike at V >= threshold: snnTorch spikes where mem - threshold > 0 (strict)"
    fn, words = spike_grad(*surrogate_of(c))
    if fn is None:
        return None, words
    for key, theirs in (("alpha", "beta"), ("beta", "alpha")):
        v = np.asarray(arrays.get(f"params/{key}", c[key]))
        if (key == "alpha" or c["synaptic"]) and (np.any(v < 0) or np.any(v > 1)):
            return None, f"{key} outside [0, 1]: snnTorch clamps its {theirs} to [0, 1]"
    same = c["reset_timing"] == "same_step"
    kind = ("RSynaptic" if c["synaptic"] else "RLeaky") if c["recurrent"] else \
        ("Synaptic" if c["synaptic"] else "Leaky")
    if not same:
        if not c["detach_reset"]:
            return None, "reset not detached: snnTorch's delayed reset is always detached"
        if c["reset"] == "zero" and kind != "Leaky":
            return None, (f"zero reset with {kind}: snnTorch zeroes the whole new membrane "
                          f"(beta*mem + input)*(1 - reset), ours only the leaked part")
    else:
        if c["detach_reset"]:
            return None, "detached same-step reset: snnTorch's reset_delay=False reset is attached"
        if c["reset"] == "subtract":
            theta = np.asarray(arrays.get("params/threshold", c["threshold"]))
            Ms = [arrays["state0/V"]] + [s.V for _, s, _ in our_trace(header, arrays)]
            if any(np.any(M > theta) for M in Ms):
                return None, ("a reset membrane above threshold (V > 2*threshold): snnTorch's "
                              "reset_delay=False subtracts the threshold once more")
    return {"kind": kind, "spike_grad": fn, "surrogate": words, "reset_delay": not same}, \
        f"{kind}(reset_mechanism={c['reset']!r}, reset_delay={not same}), {words}"


def run(header, arrays, plan):
    import snntorch
    import torch

    c = header["config"]
    P, x, dy = torch_inputs(arrays)

    H = arrays["params/W"].shape[1]

    def f64(v):
        """A float64 (H,) tensor: a Python float would become a float32 buffer, and a 0-d
        float64 tensor times the float32 spike is computed in float32 (PyTorch's promotion
        rules let a 0-d tensor not raise the dtype), which would round theta*reset."""
        return torch.full((H,), float(v), dtype=torch.float64)

    kw = dict(threshold=P["threshold"].detach().clone() if "threshold" in P else f64(c["threshold"]),
              learn_threshold="threshold" in P, spike_grad=plan["spike_grad"],
              reset_mechanism=c["reset"], reset_delay=plan["reset_delay"])
    mem_decay = P["alpha"].detach().clone() if "alpha" in P else f64(c["alpha"])
    kind = plan["kind"]
    if kind in ("Synaptic", "RSynaptic"):  # snnTorch's alpha is our beta, its beta our alpha
        syn_decay = P["beta"].detach().clone() if "beta" in P else f64(c["beta"])
        kw.update(alpha=syn_decay, learn_alpha="beta" in P)
    if kind.startswith("R"):
        kw.update(all_to_all=True, linear_features=H)
    neuron = getattr(snntorch, kind)(beta=mem_decay, learn_beta="alpha" in P, **kw)
    if kind.startswith("R"):
        neuron.recurrent = _float64_recurrent(P["U"])
    A = x @ P["W"]                                       # the layer before the neuron
    mem = torch.tensor(arrays["state0/V"])
    syn = torch.tensor(arrays["state0/I"]) if "state0/I" in arrays else None
    spk = torch.tensor(arrays["state0/Y"])
    ys = []
    for t in range(A.shape[0]):
        if kind == "Leaky":
            spk, mem = neuron(A[t], mem)
        elif kind == "Synaptic":
            spk, syn, mem = neuron(A[t], syn, mem)
        elif kind == "RLeaky":
            spk, mem = neuron(A[t], spk, mem)
        else:
            spk, syn, mem = neuron(A[t], spk, syn, mem)
        ys.append(spk)
    final = {"V": mem, "Y": spk, "I": syn}
    out = results(header, P, x, torch.stack(ys), dy, final)
    # snnTorch's own learnable parameters received the gradients (new leaves it made)
    for k, p in (("alpha", getattr(neuron, "beta", None)), ("threshold", getattr(neuron, "threshold", None)),
                 ("beta", getattr(neuron, "alpha", None) if kind in ("Synaptic", "RSynaptic") else None)):
        if k in P:
            out[f"grads/{k}"] = p.grad.detach().double().numpy()
    return out


def _float64_recurrent(U):
    """``spk @ U`` with the float32 spike promoted to U's float64: snnTorch's own
    ``nn.Linear(H, H)`` with weight U^T and bias 0, minus the dtype error."""
    import torch

    class Float64Recurrent(torch.nn.Module):
        def forward(self, spk):
            return spk.to(U.dtype) @ U

    return Float64Recurrent()
