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
Loading validates every value it would apply — the model, each parameter's and buffer's
name, shape and dtype, the optimizer's and schedule's state — before it writes anything: a
refused file raises a one-line ``ValueError`` naming the path and what is wrong, and the
network, optimizer and schedule are left exactly as they were. A file that is not a
checkpoint (not a .npz, truncated, corrupt bytes, a header that is not JSON or of another
format) gives the same kind of error. Saving writes a temporary file next to the target and
renames it, so an interrupted save never leaves a truncated checkpoint behind.

Why this file is a little over ~350 lines: a load validates every value before it applies
any (header, parameters, buffers, optimizer, schedule), and each refusal names the file and
the value.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import zipfile
import zlib
from typing import Any, Optional

import numpy as np

from . import __version__, cells
from .layers import LeakyReadout, Linear
from .readouts import LeakyIntegrator
from .network import Network
from .optim import CosineAnnealing, Optimizer, StepDecay
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


def save_checkpoint(path: str | os.PathLike, net: Network, optimizer: Optional[Optimizer] = None,
                    extra: Optional[dict[str, Any]] = None,
                    schedule: Optional[CosineAnnealing | StepDecay] = None) -> str | os.PathLike:
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
    header = {"format": FORMAT, "version": __version__,
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
    # a temporary file in the same folder, then an atomic rename: never a half-written file
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(buf.getvalue())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


FORMAT = "snn_from_scratch.checkpoint/1"
#: Keys of the header: required, then optional.
HEADER_KEYS = ("format", "version", "model", "buffers", "param_shapes")
HEADER_OPTIONAL = ("extra", "optimizer", "schedule")
BUFFER_KINDS = ("none", "array", "bool", "int", "float")


def _reason(e):
    """An exception as one short line."""
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if len(msg) <= 160 else msg[:157] + "..."


def _open(path, arrays=True):
    """``(header, {name: array})`` of the checkpoint at ``path``. Every way a file can fail
    to be one — not a zip (.npz) file, truncated, corrupt bytes, no header, a header that is
    not JSON, of another format or without a required key, an array of an unknown name —
    is a one-line ``ValueError`` naming ``path`` and what is wrong (a missing file stays a
    ``FileNotFoundError``)."""
    def bad(what):
        return ValueError(f"checkpoint {path}: {what}")

    try:  # what the file is, from its first bytes (np.load would try a pickle)
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise bad("is a directory, not a checkpoint file") from None
    except OSError as e:
        raise bad(f"cannot be read ({_reason(e)})") from None
    if not magic:
        raise bad("an empty file, not a checkpoint")
    if magic.startswith(b"\x93NUMPY"):
        raise bad("a single .npy array, not a checkpoint (.npz) file")
    if not magic.startswith(b"PK"):
        kind = "a pickle (checkpoints never hold one)" if magic[:1] == b"\x80" else "not an .npz archive (zip)"
        raise bad(f"not a checkpoint: {kind}")
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise bad(f"truncated or corrupt ({_reason(e)})") from None
    with z:
        try:
            if "header" not in z.files:
                raise bad("no header: a .npz file, but not a snn_from_scratch checkpoint")
            raw = z["header"]
            data = {k: z[k] for k in z.files if k != "header"} if arrays else {}
        except ValueError as e:
            if str(e).startswith(f"checkpoint {path}:"):
                raise
            raise bad(f"corrupt or truncated ({_reason(e)})") from None
        except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
            raise bad(f"corrupt or truncated ({_reason(e)})") from None
    if raw.shape != () or raw.dtype.kind != "U":
        raise bad(f"the header is not a JSON string (an array {raw.dtype}{raw.shape})")
    try:
        header = json.loads(str(raw[()]))
    except ValueError as e:
        raise bad(f"bad header, not JSON ({_reason(e)})") from None
    if not isinstance(header, dict):
        raise bad(f"bad header: a JSON {type(header).__name__}, not an object")
    if header.get("format") != FORMAT:
        raise bad(f"header of another format: {header.get('format')!r}, expected {FORMAT!r}")
    missing = [k for k in HEADER_KEYS if k not in header]
    unknown = sorted(set(header) - set(HEADER_KEYS) - set(HEADER_OPTIONAL))
    if missing or unknown:
        raise bad(f"header keys: missing {missing}, unknown {unknown}")
    for k in data:
        parts = k.split("/")
        if not ((parts[0] == "param" and len(parts) == 2) or
                (parts[0] in ("buffer", "optim") and len(parts) == 3)):
            raise bad(f"unknown array {k!r} (expected param/NAME, buffer/LAYER/NAME, optim/SLOT/NAME)")
    return header, data


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a checkpoint (architecture, version, extra); a file that is not a
    checkpoint gives a one-line ``ValueError`` naming the path (see :func:`load_checkpoint`)."""
    return _open(path, arrays=False)[0]


def _check_buffers(path, header, data, net):
    """The buffers to apply, one dict per layer, validated against the live cells: the same
    names, known kinds, and every value of its kind (arrays: the live buffer's shape and
    dtype; numbers: 0-d, finite)."""
    saved = header["buffers"]
    if not isinstance(saved, list) or len(saved) != len(net.layers):
        raise ValueError(f"checkpoint {path}: 'buffers' must list {len(net.layers)} layer(s), got {saved!r:.80}")
    out = []
    for i, (kinds, c) in enumerate(zip(saved, net.layers)):
        if not isinstance(kinds, dict) or set(kinds) != set(c.buffers):
            got = sorted(kinds) if isinstance(kinds, dict) else kinds
            raise ValueError(f"checkpoint {path}: layer {i} buffers: checkpoint has {got}, "
                             f"model has {sorted(c.buffers)}")
        new = {}
        for k, kind in kinds.items():
            if kind not in BUFFER_KINDS:
                raise ValueError(f"checkpoint {path}: layer {i} buffer {k!r} has an unknown kind "
                                 f"{kind!r} (known: {', '.join(BUFFER_KINDS)})")
            name = f"buffer/{i}/{k}"
            if kind == "none":
                if name in data:
                    raise ValueError(f"checkpoint {path}: {name} is stored but its kind is 'none'")
                new[k] = None
                continue
            if name not in data:
                raise ValueError(f"checkpoint {path}: {name} is missing")
            v, live = data[name], c.buffers[k]
            if kind == "array":
                if v.dtype.kind not in "fiub":
                    raise ValueError(f"checkpoint {path}: {name} has dtype {v.dtype}, not a number array")
                if isinstance(live, np.ndarray) and (v.shape != live.shape or v.dtype != live.dtype):
                    raise ValueError(f"checkpoint {path}: {name} is {v.dtype}{v.shape}, the model's is "
                                     f"{live.dtype}{live.shape}")
                new[k] = v.copy()
                continue
            if v.shape != () or v.dtype.kind not in ("b" if kind == "bool" else "iu" if kind == "int" else "f"):
                raise ValueError(f"checkpoint {path}: {name} should be one {kind}, got an array {v.dtype}{v.shape}")
            value = {"bool": bool, "int": int, "float": float}[kind](v[()])
            if kind == "float" and not math.isfinite(value):
                raise ValueError(f"checkpoint {path}: {name} is {value}, not a finite number")
            new[k] = value
        out.append(new)
    used = {f"buffer/{i}/{k}" for i, kinds in enumerate(saved) for k, kind in kinds.items() if kind != "none"}
    extra = sorted(k for k in data if k.startswith("buffer/") and k not in used)
    if extra:
        raise ValueError(f"checkpoint {path}: arrays {extra} belong to no buffer of the header")
    return out


def load_checkpoint(path: str | os.PathLike, net: Optional[Network] = None,
                    optimizer: Optional[Optimizer] = None,
                    schedule: Optional[CosineAnnealing | StepDecay] = None) -> tuple[Network, dict[str, Any]]:
    """Restore a checkpoint into ``net`` (in place) and optionally ``optimizer``/``schedule``.

    With ``net=None`` the network is rebuilt from the header (cells.make with the saved
    config). Returns ``(net, extra)``.

    Everything is validated before anything is written: the model (another cell, size,
    dtype, config, readout, loss or output), every parameter (names, shapes, dtypes), every
    buffer (names, kinds, shapes, dtypes, finite numbers), the optimizer state
    (:meth:`~snn_from_scratch.optim.Optimizer.validate_state_dict`: type, hyper-parameters in
    the constructor's range, ``t``, slots, arrays) and the schedule state. A refused file
    raises a one-line ``ValueError`` naming ``path`` and what is wrong, and leaves ``net``,
    ``optimizer`` and ``schedule`` exactly as they were; so does a file that is not a
    checkpoint at all (truncated, corrupt, not a .npz, a header that is not JSON or of
    another format).
    """
    header, data = _open(path)
    model = header["model"]
    if net is None:
        try:
            net = _rebuild(model)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise ValueError(f"checkpoint {path}: cannot rebuild the model from the header "
                             f"({_reason(e)})") from None
    d = _diff(model, net.describe())
    if d:
        raise ValueError(f"checkpoint {path} does not match the model: {d}")
    params = net.params
    saved = {k[len("param/"):]: v for k, v in data.items() if k.startswith("param/")}
    if set(saved) != set(params):
        raise ValueError(f"checkpoint {path}: parameters {sorted(saved)} differ from the model's {sorted(params)}")
    for k, v in saved.items():
        if v.shape != params[k].shape or v.dtype != params[k].dtype:
            raise ValueError(f"checkpoint {path}: parameter {k!r} is {v.dtype}{v.shape}, the model's is "
                             f"{params[k].dtype}{params[k].shape}")
    shapes = header["param_shapes"]
    if not isinstance(shapes, dict) or shapes != {k: list(v.shape) for k, v in saved.items()}:
        raise ValueError(f"checkpoint {path}: the header's 'param_shapes' do not match the stored arrays")
    buffers = _check_buffers(path, header, data, net)
    extra = header.get("extra", {})
    if not isinstance(extra, dict):
        raise ValueError(f"checkpoint {path}: 'extra' must be a JSON object, got {type(extra).__name__}")
    osd = ssd = None
    if optimizer is not None:
        if "optimizer" not in header:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        o = header["optimizer"]
        keys = {"type", "t", "hyper", "slots"}
        if not isinstance(o, dict) or set(o) != keys:
            got = sorted(o) if isinstance(o, dict) else type(o).__name__
            raise ValueError(f"checkpoint {path}: optimizer header must have exactly the keys "
                             f"{sorted(keys)}, got {got}")
        if not isinstance(o["slots"], list) or not all(isinstance(s_, str) for s_ in o["slots"]):
            raise ValueError(f"checkpoint {path}: optimizer slots must be a list of names, got {o['slots']!r:.80}")
        state = {s_: {k[len(f"optim/{s_}/"):]: v for k, v in data.items() if k.startswith(f"optim/{s_}/")}
                 for s_ in o["slots"]}
        stray = sorted(k for k in data if k.startswith("optim/") and k.split("/")[1] not in o["slots"])
        if stray:
            raise ValueError(f"checkpoint {path}: arrays {stray} belong to no optimizer slot")
        try:
            osd = optimizer.validate_state_dict({"type": o["type"], "t": o["t"], "hyper": o["hyper"],
                                                 "state": state})
        except ValueError as e:
            raise ValueError(f"checkpoint {path}: {e}") from None
    if schedule is not None:
        if "schedule" not in header:
            raise ValueError(f"checkpoint {path} holds no schedule state")
        sh = header["schedule"]
        if not isinstance(sh, dict) or sh.get("type") != type(schedule).__name__:
            got = sh.get("type") if isinstance(sh, dict) else sh
            raise ValueError(f"checkpoint {path}: the schedule state is for {got!r}, this schedule is "
                             f"{type(schedule).__name__!r}")
        try:
            ssd = schedule.validate_state_dict({k: v for k, v in sh.items() if k != "type"})
        except ValueError as e:
            raise ValueError(f"checkpoint {path}: {e}") from None
    # Everything is valid: write into the live arrays (optimizers hold references to them).
    for k, v in saved.items():
        params[k][...] = v
    for c, new in zip(net.layers, buffers):
        c.buffers.update(new)
    if osd is not None:
        optimizer.load_state_dict(osd)
    if ssd is not None:
        schedule.load_state_dict(ssd)
    return net, extra


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
