"""The public API is annotated (issue 16): every public function and method of the modules
below has a type hint for each parameter (``self``/``cls``, ``*args`` and ``**kwargs``
excepted) and for its return, and every hint resolves (``typing.get_type_hints``)."""
from __future__ import annotations

import importlib
import inspect
import typing

import pytest

MODULES = [
    "snn_from_scratch.cells", "snn_from_scratch.cells.base", "snn_from_scratch.cells.rnn",
    "snn_from_scratch.cells.lstm", "snn_from_scratch.cells.gru", "snn_from_scratch.cells.brc",
    "snn_from_scratch.cells.src", "snn_from_scratch.cells.spiking_lstm", "snn_from_scratch.cells.lif",
    "snn_from_scratch.cells.gated_lif", "snn_from_scratch.layers", "snn_from_scratch.readouts",
    "snn_from_scratch.network", "snn_from_scratch.training", "snn_from_scratch.checkpoint",
    "snn_from_scratch.encoding", "snn_from_scratch.datasets", "snn_from_scratch.reference",
    "snn_from_scratch.optim", "snn_from_scratch.surrogates", "snn_from_scratch.ops",
    "snn_from_scratch.runtime", "snn_from_scratch.plot",
]

#: Public functions that may stay (partly) unannotated: "module:qualname" -> why. Empty: every
#: public function of these modules is annotated.
ALLOWED: dict[str, str] = {}


def _ours(fn, mod) -> bool:
    """A function written in ``mod``'s file (not one a dataclass or NamedTuple generated)."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == mod.__file__


def _public_functions(mod):
    """(qualname, function) of every public function and public class's public method (and
    ``__init__``) defined in ``mod``; properties by their getter and setter."""
    out = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
            continue
        if inspect.isfunction(obj):
            out.append((name, obj))
        elif inspect.isclass(obj):
            for klass in obj.__mro__:      # inherited methods too (e.g. a private base's)
                if getattr(klass, "__module__", None) != mod.__name__:
                    continue
                for attr, member in vars(klass).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    fns = ([member.fget, member.fset] if isinstance(member, property)
                           else [getattr(member, "func", member)])  # cached_property: .func
                    for fn in fns:
                        if inspect.isfunction(fn) and _ours(fn, mod):
                            out.append((f"{klass.__name__}.{attr}", fn))
    return out


def _missing(fn) -> list[str]:
    sig = inspect.signature(fn)
    missing = [p.name for p in sig.parameters.values()
               if p.name not in ("self", "cls")
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               and p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("modname", MODULES)
def test_public_api_is_annotated(modname):
    mod = importlib.import_module(modname)
    funcs = _public_functions(mod)
    assert funcs, f"no public functions found in {modname}"
    bad = {}
    for qual, fn in funcs:
        key = f"{modname}:{qual}"
        if key in ALLOWED:
            continue
        missing = _missing(fn)
        if missing:
            bad[key] = missing
        typing.get_type_hints(fn)  # every annotation names something importable
    assert not bad, f"unannotated parameters/returns: {bad}"


def test_step_api_hints():
    """The step pair of every cell module names the module's own State and Cache."""
    from snn_from_scratch import cells

    for name in cells.available():
        mod = importlib.import_module(cells.cell_class(name).__module__)
        fwd = typing.get_type_hints(mod.step_forward)
        bwd = typing.get_type_hints(mod.step_backward)
        assert fwd["state"] is mod.State and bwd["dstate"] is mod.State, name
        assert bwd["cache_t"] is mod.Cache, name
        assert typing.get_args(fwd["return"])[1:] == (mod.State, mod.Cache), name
