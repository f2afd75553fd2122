"""Adapters: other frameworks' spiking neurons run on our ``lif`` fixtures.

One module per framework (:mod:`.snntorch`, :mod:`.norse`, :mod:`.spikingjelly`), each with
the same four names:

``NAME``, ``PACKAGE``, ``TOL``
    the framework, the module to import, the tolerance it is held to (the largest
    normwise relative error per tensor, ``snn_from_scratch.reference.rel_error``).
``version()``
    the installed version, or None when the framework (or PyTorch) is missing.
``express(header, arrays)``
    ``(plan, reason)``: how the framework's own neuron expresses this fixture (a dict the
    adapter's ``run`` reads), or ``(None, reason)`` with the reason it cannot — the
    convention that separates it from the fixture.
``run(header, arrays, plan)``
    the framework's forward from the fixture's inputs and its autograd backward of
    L = sum(dy * y), as a dict of arrays under the fixture's result names (``y``,
    ``state_final/*``, ``dx``, ``grads/*``), for ``reference.compare``.

Every adapter builds the same thing: the fixture's parameters and ``x`` as float64 leaf
tensors, ``x[t] @ W`` (the layer before the neuron, so that autograd gives dL/dW and
dL/dx), then the framework's neuron step by step from the fixture's initial state. What a
framework does differently is expressed by an exact change of variables in the adapter
(e.g. Norse's input scaling dt/tau_mem) or named as the reason it cannot run a fixture.
``docs/reference_format.md`` has the mapping of each framework, ``python -m
validation.conform`` the table.
"""
from __future__ import annotations

import importlib

import numpy as np

__all__ = ["ADAPTERS", "load", "surrogate_of", "lif_reason", "torch_inputs", "results"]

#: The adapter modules, in the order of the conformance table.
ADAPTERS = ("snntorch", "norse", "spikingjelly")


def load(name):
    """The adapter module of framework ``name`` (one of :data:`ADAPTERS`)."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown framework {name!r}; choose one of {list(ADAPTERS)}")
    return importlib.import_module(f"validation.adapters.{name}")


def surrogate_of(config):
    """``(family, params)`` of a binary lif config, with the family's default parameters
    filled in (``surrogates.get(...).params``)."""
    from snn_from_scratch import surrogates

    s = surrogates.get(config["surrogate"], **(config.get("surrogate_params") or {}))
    return s.name, s.params


def close(a, b):
    """Two surrogate parameters are the same number (to the last bits of a float)."""
    return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))


def lif_reason(header):
    """The reason no framework neuron runs this fixture, or None for a binary lif without
    batch norm (what every adapter needs before looking at its own conventions)."""
    if header.get("cell") != "lif":
        return f"cell {header.get('cell')!r}: no neuron of this framework (adapters run lif fixtures)"
    c = header["config"]
    if c.get("output") != "binary":
        return "multi-bit output (Eq. 22): no quantizing neuron"
    if c.get("norm") != "none":
        return "batch norm of the weighted input: not part of the neuron"
    return None


def torch_inputs(arrays):
    """The fixture's parameters and ``x`` as float64 leaf tensors with ``requires_grad``,
    ``dy`` as a constant: ``(P, x, dy)``."""
    import torch

    P = {k[len("params/"):]: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in arrays.items() if k.startswith("params/")}
    x = torch.tensor(arrays["x"], dtype=torch.float64, requires_grad=True)
    return P, x, torch.tensor(arrays["dy"], dtype=torch.float64)


def results(header, P, x, y, dy, final, grads=None):
    """Back-propagate L = sum(dy * y) and collect the results under the fixture's names.

    ``y`` (T, B, H) the framework's spikes (any dtype); ``final`` the final state as a dict
    over the fixture's state fields (tensors); ``grads`` overrides ``P[k].grad`` for a
    parameter the framework holds in a layout of its own (e.g. its recurrent matrix)."""
    import torch

    (dy * y).sum().backward()
    out = {"y": y.detach().double().numpy(), "dx": x.grad.numpy()}
    for f in header["state_fields"]:
        out[f"state_final/{f}"] = final[f].detach().double().numpy()
    grads = dict(grads or {})
    for k, v in P.items():
        g = grads[k] if k in grads else v.grad
        g = torch.zeros_like(v) if g is None else g
        out[f"grads/{k}"] = np.asarray(g.detach().double().numpy(), dtype=np.float64)
    return out


def our_trace(header, arrays):
    """Our own lif on the fixture, step by step: ``[(y_t, state_t, cache_t)]`` (an adapter
    uses it to see whether a fixture's trajectory enters a region where the framework's
    bookkeeping differs, e.g. a reset membrane still above threshold)."""
    from snn_from_scratch import cells, reference

    sz = header["sizes"]
    cell = cells.make(header["cell"], sz["n_in"], sz["n_hidden"], dtype=np.float64,
                      **header["config_given"])
    cell.training = False
    for k in cell.params:
        cell.params[k] = np.array(arrays[f"params/{k}"])
    return cell.trace(arrays["x"], reference.initial_state(cell, arrays))
