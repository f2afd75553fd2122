"""Norse 1.1's ``LIFBoxCell``, ``LIFCell`` and ``LIFRecurrentCell`` on our lif fixtures.

The mapping (read from the Norse 1.1 source; ``docs/reference_format.md``, Norse):

* forward Euler with step ``dt`` (Norse's default 1e-3 s): ``v <- v + dt*tau_mem_inv*(v_leak
  - v + i)``, so (with ``v_leak = 0``) our alpha = 1 - dt*tau_mem_inv and the current enters
  **scaled by c = dt*tau_mem_inv = 1 - alpha**. The adapter expresses our unscaled input
  exactly by feeding Norse ``a / c`` (``LIFBoxCell``, ``LIFCell``) or the weights ``W / c``,
  ``U / c`` (``LIFRecurrentCell``): autograd differentiates through the division, so the
  gradients are those of our W. (alpha = 1, the integrate-and-fire neuron, has c = 0: not
  expressible; a learnable alpha is Norse's learnable tau_mem_inv, which also scales the
  input: a different parameterization.)
* ``LIFCell``: ``i_jump = i + input`` first, the membrane reads ``i_jump``, then ``i <-
  i_jump*(1 - dt*tau_syn_inv)``. So our I[t] = c * i_jump[t], beta = 1 - dt*tau_syn_inv, the
  initial ``i`` = beta*I0/c and our final I = c * i / beta (Norse stores the *decayed* current).
* every Norse neuron resets **in the same step** and stores the reset membrane ``v``: our
  ``reset_timing="same_step"``, ``State.V`` = Norse's ``v``. ``LIFBoxCell`` and ``LIFCell``
  reset with the attached spike (``(1 - z) v + z v_reset``, or ``reset_subtract``); the
  recurrent ``LIFRecurrentCell`` with the **detached** spike (``z.detach()``): the same
  library resets two ways (docs/conventions).
* spikes ``v - v_th > 0`` (strict); the surrogates (``method``): ``"super"`` = our
  fast_sigmoid(k=1) **whatever its alpha** (its backward is 1/(|u| + 1)^2; the alpha is
  ignored), ``"triangle"`` (alpha) = triangle(height=alpha, width=1), ``"heavi_erfc"`` (2) =
  gaussian(a=1/4) (2 exp(-(2u)^2)/sqrt(pi)), ``"tanh"`` (2) = sigmoid(k=4) (1 - tanh(2u)^2).
* ``method="heavi_erfc"`` computes sqrt(pi) as ``torch.as_tensor(np.pi).sqrt()``: a float32
  constant under torch's default dtype, so its gradients agree to ~3e-8 only
  (:func:`known_difference`).
* ``LIFRecurrentCell(autapses=False)`` (the default) zeroes the diagonal of its recurrent
  weights: the adapter passes ``autapses=True`` (our U has a diagonal).
"""
from __future__ import annotations

from . import close, lif_reason, results, surrogate_of, torch_inputs

NAME = "Norse"
PACKAGE = "norse"
TOL = 1e-10
#: Norse's default time step (s); any dt > 0 gives the same alpha for a matching tau_mem_inv.
DT = 1e-3


def version():
    try:
        import norse
        import torch  # noqa: F401
    except ImportError:
        return None
    return getattr(norse, "__version__", None) or _dist_version()


def _dist_version():
    from importlib.metadata import version as v

    return v("norse")


def method_of(fam, params):
    """Norse's ``(method, alpha)`` for our ``(family, params)``, or ``(None, reason)``."""
    if fam == "fast_sigmoid":
        if close(params["k"], 1.0):
            return ("super", 100.0), "method='super' (its alpha=100 is ignored)"
        return (None, f"fast_sigmoid(k={params['k']:g}): Norse's 'super' is 1/(|u| + 1)^2 "
                      f"whatever its alpha (k = 1 only)")
    if fam == "triangle":
        if close(params["width"], 1.0):
            return ("triangle", params["height"]), f"method='triangle', alpha={params['height']:g}"
        return None, "triangle of width != 1: Norse's triangle is alpha*relu(1 - |u|)"
    if fam == "gaussian":
        if close(params["a"], 0.25):
            return ("heavi_erfc", 2.0), "method='heavi_erfc', alpha=2"
        return None, ("gaussian(a != 1/4): Norse's heavi_erfc(k) is 2 exp(-(k u)^2)/sqrt(pi), "
                      "our Gaussian only for k = 2")
    if fam == "sigmoid":
        if close(params["k"], 4.0):
            return ("tanh", 2.0), "method='tanh', alpha=2"
        return None, "sigmoid(k != 4): Norse's tanh(k) is 1 - tanh(k u)^2, our sigmoid(2k) only for k = 2"
    return None, f"{fam}: Norse has no such surrogate"


def express(header, arrays):
    reason = lif_reason(header)
    if reason:
        return None, reason
    c = header["config"]
    if c["reset_timing"] != "same_step":
        return None, "reset in the next step: Norse resets the membrane in the same step"
    if c["spike_at_threshold"]:
        return None, "spike at V >= threshold: Norse spikes where v - v_th > 0 (strict)"
    if c["learn_alpha"] or c["learn_beta"]:
        return None, ("learnable decay: Norse's tau_mem_inv / tau_syn_inv also scale the input "
                      "(a different parameterization)")
    if not 0 <= c["alpha"] < 1 or (c["synaptic"] and not 0 <= c["beta"] < 1):
        return None, "a decay outside [0, 1): Norse's forward Euler needs 0 < dt/tau <= 1"
    m, words = method_of(*surrogate_of(c))
    if m is None:
        return None, words
    if c["recurrent"]:
        if not c["synaptic"]:
            return None, "recurrent without a synaptic current: Norse's recurrent LIF has one"
        if c["reset"] != "zero" or not c["detach_reset"]:
            return None, ("LIFRecurrentCell resets to v_reset with the detached spike "
                          "(zero reset, detach_reset=True only)")
        kind = "LIFRecurrentCell"
    elif c["synaptic"]:
        if c["reset"] != "zero" or c["detach_reset"]:
            return None, "LIFCell resets to v_reset with the attached spike (zero reset, not detached, only)"
        kind = "LIFCell"
    else:
        if c["detach_reset"]:
            return None, "LIFBoxCell resets with the attached spike (not detached)"
        kind = "LIFBoxCell"
    reset = "" if kind != "LIFBoxCell" else (", reset_method=reset_subtract" if c["reset"] == "subtract"
                                             else ", reset_method=reset_value")
    return {"kind": kind, "method": m[0], "alpha": m[1]}, f"{kind}({words}{reset})"


def known_difference(header, plan):
    """Why this fixture may differ beyond round-off, or None: a documented precision
    caveat of Norse itself (docs/conventions/norse_heavi_erfc.py)."""
    if plan["method"] == "heavi_erfc":
        return ("Norse's heavi_erfc divides by torch.as_tensor(np.pi).sqrt(), a float32 tensor "
                "under torch's default dtype: its gradient is off by ~3e-8 (agrees to 1e-16 "
                "under torch.set_default_dtype(torch.float64))")
    return None


def run(header, arrays, plan):
    import torch
    from norse.torch import (LIFBoxCell, LIFBoxParameters, LIFCell, LIFParameters,
                             LIFRecurrentCell)
    from norse.torch.functional.lif import LIFFeedForwardState, LIFState
    from norse.torch.functional.lif_box import LIFBoxFeedForwardState
    from norse.torch.functional.reset import reset_subtract, reset_value

    c = header["config"]
    P, x, dy = torch_inputs(arrays)
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    tau_mem_inv = f64((1 - c["alpha"]) / DT)
    scale = DT * tau_mem_inv                     # Norse's input scaling dt/tau_mem = 1 - alpha
    v_th = P["threshold"] if "threshold" in P else f64(c["threshold"])
    common = dict(tau_mem_inv=tau_mem_inv, v_leak=f64(0.0), v_th=v_th, v_reset=f64(0.0),
                  method=plan["method"], alpha=torch.as_tensor(plan["alpha"]))
    kind = plan["kind"]
    v0 = torch.tensor(arrays["state0/V"])
    ys = []
    if kind == "LIFBoxCell":
        reset = reset_subtract if c["reset"] == "subtract" else reset_value
        cell = LIFBoxCell(LIFBoxParameters(**common, reset_method=reset), dt=DT)
        A = (x @ P["W"]) / scale
        state = LIFBoxFeedForwardState(v=v0)
        for t in range(A.shape[0]):
            z, state = cell(A[t], state)
            ys.append(z)
        final = {"V": state.v, "Y": z}
        return results(header, P, x, torch.stack(ys), dy, final)
    tau_syn_inv = f64((1 - c["beta"]) / DT)
    keep = 1 - DT * tau_syn_inv                  # Norse's synaptic decay, our beta
    p = LIFParameters(tau_syn_inv=tau_syn_inv, **common)
    i0 = keep * torch.tensor(arrays["state0/I"]) / scale
    if kind == "LIFCell":
        cell = LIFCell(p, dt=DT)
        A = (x @ P["W"]) / scale
        state = LIFFeedForwardState(v=v0, i=i0)
        for t in range(A.shape[0]):
            z, state = cell(A[t], state)
            ys.append(z)
    else:
        H = arrays["params/W"].shape[1]
        cell = LIFRecurrentCell(arrays["x"].shape[2], H, p, dt=DT, autapses=True,
                                input_weights=P["W"].T / scale, recurrent_weights=P["U"].T / scale)
        state = LIFState(z=torch.tensor(arrays["state0/Y"]), v=v0, i=i0)
        for t in range(x.shape[0]):
            z, state = cell(x[t], state)
            ys.append(z)
    final = {"V": state.v, "Y": z, "I": scale * state.i / keep}
    return results(header, P, x, torch.stack(ys), dy, final)

