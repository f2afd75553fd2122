"""Checkpoints: a :class:`~snn_from_scratch.network.Network` (and its optimizer and
schedule) in one ``.npz`` file, restored bit for bit.

The file holds a JSON header — format, library version, the architecture
(:meth:`Network.describe`: each layer's cell name, sizes, dtype and config, the readout,
loss and output), each layer's buffer kinds, the parameter shapes, the optimizer's and
schedule's state and a free ``extra`` dict (epoch, history, command line) — and the
arrays: every parameter (``param/<name>``), every cell's ``buffers`` (running statistics
such as the multi-bit range ``b``: ``buffer/<layer>/<name>``) and the optimizer's slots
(``optim/<slot>/<name>``).

:func:`save_checkpoint` writes it, :func:`read_header` reads the header alone,
:func:`load_checkpoint` restores into a given network (or rebuilds one from the header).
Loading into a model that differs in anything the header records raises ``ValueError``
naming the difference, and nothing is modified unless everything matches.
"""
from __future__ import annotations

import dataclasses
import io
import json

import numpy as np

from . import __version__, cells
from .layers import LeakyReadout, Linear
from .readouts import LeakyIntegrator
from .network import Network
from .runtime import jsonable

__all__ = ["save_checkpoint", "load_checkpoint", "read_header"]


def _buffer_kind(v):
    if v is None:
        return "none"
    if isinstance(v, np.ndarray):
        return "array"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    raise TypeError(f"cannot checkpoint a buffer of type {type(v).__name__}")


def _diff(a, b, path="model"):
    """First difference between two JSON-like structures, as a readable string (or None)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return f"{path}.{k} is missing from the checkpoint"
            if k not in b:
                return f"{path}.{k} is in the checkpoint but not in the model"
            d = _diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} has {len(a)} entries in the checkpoint, {len(b)} in the model"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a != b:
        return f"{path}: checkpoint has {a!r}, model has {b!r}"
    return None


def save_checkpoint(path, net, optimizer=None, extra=None, schedule=None):
    """Write ``net`` (and optionally the optimizer / schedule state) to one ``.npz`` file.

    ``extra`` is any JSON-safe dict (epoch, history, command line, ...), returned by
    :func:`load_checkpoint`. Arrays are stored exactly; the header is JSON.
    """
    arrays = {f"param/{k}": v for k, v in net.params.items()}
    buffers = []
    for i, c in enumerate(net.layers):
        kinds = {}
        for k, v in c.buffers.items():
            kinds[k] = _buffer_kind(v)
            if v is not None:
                arrays[f"buffer/{i}/{k}"] = np.asarray(v)
        buffers.append(kinds)
    header = {"format": "snn_from_scratch.checkpoint/1", "version": __version__,
              "model": net.describe(), "buffers": buffers,
              "param_shapes": {k: list(v.shape) for k, v in net.params.items()},
              "extra": jsonable(extra or {})}
    if optimizer is not None:
        sd = optimizer.state_dict()
        header["optimizer"] = {"type": sd["type"], "t": sd["t"], "hyper": jsonable(sd["hyper"]),
                               "slots": sorted(sd["state"])}
        for s, d in sd["state"].items():
            for k, v in d.items():
                arrays[f"optim/{s}/{k}"] = v
    if schedule is not None:
        header["schedule"] = {"type": type(schedule).__name__, **jsonable(schedule.state_dict())}
    arrays["header"] = np.array(json.dumps(header))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def read_header(path):
    """The JSON header of a checkpoint (architecture, version, extra)."""
    with np.load(path, allow_pickle=False) as z:
        if "header" not in z.files:
            raise ValueError(f"{path} is not a snn_from_scratch checkpoint (no header)")
        return json.loads(str(z["header"][()]))


def load_checkpoint(path, net=None, optimizer=None, schedule=None):
    """Restore a checkpoint into ``net`` (in place) and optionally ``optimizer``/``schedule``.

    With ``net=None`` the network is rebuilt from the header (cells.make with the saved
    config). Returns ``(net, extra)``. Any mismatch — another cell, size, dtype, config,
    readout, loss, output or parameter shape — raises ``ValueError`` naming it; nothing is
    modified unless everything matches.
    """
    with np.load(path, allow_pickle=False) as z:
        if "header" not in z.files:
            raise ValueError(f"{path} is not a snn_from_scratch checkpoint (no header)")
        header = json.loads(str(z["header"][()]))
        data = {k: z[k] for k in z.files if k != "header"}
    model = header["model"]
    if net is None:
        net = _rebuild(model)
    d = _diff(model, net.describe())
    if d:
        raise ValueError(f"checkpoint {path} does not match the model: {d}")
    params = net.params
    saved = {k[len("param/"):]: v for k, v in data.items() if k.startswith("param/")}
    if set(saved) != set(params):
        raise ValueError(f"checkpoint parameters {sorted(saved)} differ from the model's {sorted(params)}")
    for k, v in saved.items():
        if v.shape != params[k].shape or v.dtype != params[k].dtype:
            raise ValueError(f"parameter {k!r}: checkpoint has {v.dtype}{v.shape}, model has "
                             f"{params[k].dtype}{params[k].shape}")
    for i, c in enumerate(net.layers):
        if set(header["buffers"][i]) != set(c.buffers):
            raise ValueError(f"layer {i} buffers: checkpoint has {sorted(header['buffers'][i])}, "
                             f"model has {sorted(c.buffers)}")
    if schedule is not None and "schedule" not in header:
        raise ValueError(f"checkpoint {path} holds no schedule state")
    if optimizer is not None:
        if "optimizer" not in header:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        osd = header["optimizer"]
        sd = {"type": osd["type"], "t": osd["t"], "hyper": osd["hyper"],
              "state": {s: {k[len(f"optim/{s}/"):]: v for k, v in data.items() if k.startswith(f"optim/{s}/")}
                        for s in osd["slots"]}}
        # Validate fully before touching anything (load_state_dict validates, then writes).
        optimizer.load_state_dict(sd)
    # Everything matches: write into the live arrays (optimizers hold references to them).
    for k, v in saved.items():
        params[k][...] = v
    for i, c in enumerate(net.layers):
        for k, kind in header["buffers"][i].items():
            if kind == "none":
                c.buffers[k] = None
            elif kind == "array":
                c.buffers[k] = data[f"buffer/{i}/{k}"].copy()
            else:
                c.buffers[k] = {"bool": bool, "int": int, "float": float}[kind](data[f"buffer/{i}/{k}"][()])
    if schedule is not None:
        schedule.load_state_dict(header["schedule"])
    return net, header.get("extra", {})


def _rebuild(model):
    layers = []
    for i, L in enumerate(model["layers"]):
        cls = cells.cell_class(L["cell"])
        cfg = {}
        for f in dataclasses.fields(cls.Config):
            if f.name in L["config"]:
                v = L["config"][f.name]
                # JSON turned tuples into lists; give the dataclass back its tuple.
                if isinstance(v, list) and isinstance(f.default, tuple):
                    v = tuple(v)
                cfg[f.name] = v
        layers.append(cells.make(L["cell"], L["n_in"], L["n_hidden"], dtype=np.dtype(L["dtype"]), **cfg))
    r = model["readout"]
    dt = np.dtype(model["dtype"])
    if r["kind"] == "linear":
        ro = Linear(r["n_in"], r["n_out"], dtype=dt)
    elif r["kind"] == "leaky_integrator":
        ro = LeakyIntegrator(r["n_in"], r["n_out"], kappa=r["kappa"], reduce=r["reduce"], dtype=dt)
    elif r["kind"] == "leaky":
        ro = LeakyReadout(r["n_in"], r["n_out"], alpha=r["alpha"], neurons_per_class=r["neurons_per_class"],
                          dtype=dt, excite=r["excite"], inhibit=r["inhibit"])
    else:
        raise ValueError(f"unknown readout kind {r['kind']!r} in checkpoint")
    return Network(layers, ro, loss=model["loss"], output=model["output"])
