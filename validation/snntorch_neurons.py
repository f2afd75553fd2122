"""snnTorch's ``Leaky`` and ``Synaptic`` neurons against our ``lif`` configured to match.

The conventions (read from the snnTorch 1.0 source; chapter 11 §11.5 and
``docs/reference_format.md`` discuss them): snnTorch's ``Leaky(beta)`` is our membrane decay
``alpha``; ``Synaptic(alpha, beta)`` has its ``alpha`` as our synaptic decay ``beta`` and its
``beta`` as our ``alpha`` (the names are swapped); its reset is always detached and read from
the previous membrane (our ``detach_reset=True``, Y[t-1]); its default surrogate is
``atan(alpha=2)`` (our ``surrogate="atan", a=2``). Both sides get the same weights W (applied
before the neuron, so autograd gives dL/dW and dL/dx), the same initial membrane (and
synaptic current), and our initial Y = H(V0 - threshold), the reset snnTorch derives from
its membrane.

Needs torch and snntorch (``pip install -r requirements-validation.txt``).
"""
from __future__ import annotations

import numpy as np
import torch

from snn_from_scratch import cells

__all__ = ["SNN_TOL", "lif_config", "compare_with_lif"]

#: snnTorch casts spikes with ``.float()``: the spike path is float32 even in a float64 model.
SNN_TOL = 1e-6


def lif_config(kind, reset, alpha=0.8, beta=0.7, threshold=0.6):
    """Our ``lif`` keywords matching snnTorch's ``kind`` ("Leaky"/"Synaptic") and ``reset``."""
    return dict(synaptic=(kind == "Synaptic"), alpha=alpha, beta=beta, threshold=threshold,
                reset=reset, detach_reset=True, surrogate="atan", surrogate_params={"a": 2.0})


def compare_with_lif(kind, reset, T=7, B=3, n_in=4, H=5, seed=0):
    """Run snnTorch's ``kind`` neuron and our matching ``lif`` on the same data (float64).

    Returns ``(ours, theirs)``: dicts of ``y``, ``dx``, ``grads/W``, ``state_final/V``, for
    :func:`snn_from_scratch.reference.compare` at :data:`SNN_TOL`.
    """
    import snntorch
    from snntorch import surrogate as sg

    cfg = lif_config(kind, reset)
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

    def f64(v):  # python floats would become float32 buffers inside snnTorch
        return torch.tensor(v, dtype=torch.float64)

    kw = dict(threshold=f64(cfg["threshold"]), spike_grad=sg.atan(alpha=2.0), reset_mechanism=reset)
    spk = []
    if kind == "Leaky":  # snnTorch's beta is our membrane decay alpha
        neuron = snntorch.Leaky(beta=f64(cfg["alpha"]), **kw)
        mem = torch.tensor(V0)
        for t in range(T):
            s, mem = neuron(xt[t] @ W, mem)
            spk.append(s)
    elif kind == "Synaptic":  # snnTorch's alpha is our synaptic decay beta, its beta our alpha
        neuron = snntorch.Synaptic(alpha=f64(cfg["beta"]), beta=f64(cfg["alpha"]), **kw)
        syn, mem = torch.tensor(I0), torch.tensor(V0)
        for t in range(T):
            s, syn, mem = neuron(xt[t] @ W, syn, mem)
            spk.append(s)
    else:
        raise ValueError(f"kind must be 'Leaky' or 'Synaptic', got {kind!r}")
    spk = torch.stack(spk)
    (torch.tensor(dy) * spk).sum().backward()
    theirs = {"y": spk.detach().double().numpy(), "dx": xt.grad.numpy(), "grads/W": W.grad.numpy(),
              "state_final/V": mem.detach().numpy()}
    ours = {"y": y, "dx": dx, "grads/W": grads["W"], "state_final/V": cache["final_state"].V}
    return ours, theirs
