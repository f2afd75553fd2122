"""SpikingJelly 2.0's ``LIFNode`` and ``IFNode`` (multi-step, ``activation_based``) on our
lif fixtures.

The mapping (read from the SpikingJelly 2.0 source; ``docs/reference_format.md``,
SpikingJelly):

* charge: ``decay_input=False``: ``H = v - (v - v_reset)/tau + x``, so alpha = 1 - 1/tau
  (tau > 1 is required) and the input enters unscaled; with ``decay_input=True`` (the
  default) ``H = v + (x - (v - v_reset))/tau``: the input is scaled by 1/tau (the adapter
  uses ``decay_input=False``; feeding ``tau * a`` would do as well). ``IFNode``: ``H = v +
  x``, alpha = 1. The subtractive reset (``v_reset=None``) charges with v_reset = 0 too.
* spikes ``heaviside(H - v_threshold)`` with **H >= v_threshold** (``x >= 0``): our
  ``spike_at_threshold=True``.
* reset right after the spike, stored in ``v``: ``v_reset=0.0``: ``v = s*0 + (1 - s)*H``;
  ``v_reset=None``: ``v = H - s*v_threshold``; ``detach_reset`` detaches s there. Our
  ``reset_timing="same_step"``; ``State.V`` = SpikingJelly's ``v``.
* surrogates (``surrogate_function``, spiking=True): ``Sigmoid(alpha=k)`` = sigmoid(k);
  ``ATan(alpha=a)`` = atan(a); ``Erf(alpha)`` = gaussian(a = 1/alpha^2);
  ``PiecewiseQuadratic(alpha)`` = triangle(height=alpha, width=1/alpha);
  ``SuperSpike(alpha=1)`` = fast_sigmoid(k=1) (its alpha scales the gradient);
  ``SoftSign(alpha=2)`` = fast_sigmoid(k=2) (alpha/(2 (1 + alpha|u|)^2));
  ``Rect(alpha)`` = straight_through(scale=alpha, width=1/alpha) (it passes |u| < 1/(2 alpha),
  strictly; ours <=: the same off the boundary).
* ``v_threshold``, ``tau`` are Python floats: no learnable or per-neuron threshold/decay.
"""
from __future__ import annotations

import math

from . import close, lif_reason, results, surrogate_of, torch_inputs

NAME = "SpikingJelly"
PACKAGE = "spikingjelly"
TOL = 1e-10


def version():
    try:
        import spikingjelly  # noqa: F401
        import torch  # noqa: F401
        from importlib.metadata import version as v
    except ImportError:
        return None
    return v("spikingjelly")


def surrogate_function(fam, params):
    """``(class name, alpha)`` of SpikingJelly's surrogate for ours, or ``(None, reason)``."""
    if fam == "sigmoid":
        return ("Sigmoid", params["k"]), f"Sigmoid(alpha={params['k']:g})"
    if fam == "atan":
        return ("ATan", params["a"]), f"ATan(alpha={params['a']:g})"
    if fam == "gaussian":
        a = 1 / math.sqrt(params["a"])
        return ("Erf", a), f"Erf(alpha={a:g})"
    if fam == "triangle":
        if close(params["height"] * params["width"], 1.0):
            return ("PiecewiseQuadratic", params["height"]), f"PiecewiseQuadratic(alpha={params['height']:g})"
        return None, "triangle with height*width != 1: PiecewiseQuadratic(alpha) has height alpha, width 1/alpha"
    if fam == "fast_sigmoid":
        if close(params["k"], 1.0):
            return ("SuperSpike", 1.0), "SuperSpike(alpha=1)"
        if close(params["k"], 2.0):
            return ("SoftSign", 2.0), "SoftSign(alpha=2)"
        return None, "fast_sigmoid(k not 1 or 2): SuperSpike is alpha/(1+|u|)^2, SoftSign alpha/(2(1+alpha|u|)^2)"
    if fam == "straight_through":
        w = params.get("width")
        if w is not None and close(params["scale"] * w, 1.0):
            return ("Rect", params["scale"]), f"Rect(alpha={params['scale']:g})"
        return None, "straight_through without a window of width 1/scale: SpikingJelly's Rect is a box"
    return None, f"{fam}: SpikingJelly has no such surrogate"


def express(header, arrays):
    reason = lif_reason(header)
    if reason:
        return None, reason
    c = header["config"]
    if c["reset_timing"] != "same_step":
        return None, "reset in the next step: SpikingJelly resets v right after the spike"
    if not c["spike_at_threshold"]:
        return None, "spike at V > threshold: SpikingJelly spikes where H - v_threshold >= 0"
    if c["synaptic"]:
        return None, "synaptic current: LIFNode/IFNode have none"
    if c["recurrent"]:
        return None, "recurrent input: not part of LIFNode/IFNode"
    if c["learn_alpha"] or c["learn_threshold"] or c["learn_beta"]:
        return None, "learnable decay or threshold: LIFNode's tau and v_threshold are Python floats"
    if not 0 <= c["alpha"] <= 1:
        return None, "alpha outside [0, 1]: tau = 1/(1 - alpha) must exceed 1"
    sf, words = surrogate_function(*surrogate_of(c))
    if sf is None:
        return None, words
    if c["alpha"] == 1.0:
        kind = "IFNode"
    elif c["alpha"] == 0.0:
        return None, "alpha = 0: LIFNode needs tau > 1"
    else:
        kind = "LIFNode"
    reset = "v_reset=None" if c["reset"] == "subtract" else "v_reset=0.0"
    return ({"kind": kind, "surrogate": sf},
            f"{kind}({'decay_input=False, ' if kind == 'LIFNode' else ''}{reset}, "
            f"detach_reset={c['detach_reset']}, {words})")


def run(header, arrays, plan):
    import torch
    from spikingjelly.activation_based import neuron, surrogate

    c = header["config"]
    P, x, dy = torch_inputs(arrays)
    name, alpha = plan["surrogate"]
    kw = dict(v_threshold=float(c["threshold"]),
              v_reset=None if c["reset"] == "subtract" else 0.0,
              surrogate_function=getattr(surrogate, name)(alpha=float(alpha)),
              detach_reset=bool(c["detach_reset"]), step_mode="m")
    if plan["kind"] == "IFNode":
        node = neuron.IFNode(**kw)
    else:
        node = neuron.LIFNode(tau=1.0 / (1.0 - float(c["alpha"])), decay_input=False, **kw)
    node.v = torch.tensor(arrays["state0/V"])
    y = node(x @ P["W"])                 # multi-step: all T steps at once
    return results(header, P, x, y, dy, {"V": node.v, "Y": y[-1]})
