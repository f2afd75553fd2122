"""The grader: a gradient proof of the student's function, where it goes wrong, and why.

For a step exercise the student's ``step_backward`` is run *inside the library's cell*:
during the check the cell module's ``step_backward`` is replaced by the student's (and its
``reads`` by "keep every cache field", so that a student may read any field the
derivation names; a call to the library's ``step_backward`` from inside the student's
function still reaches the library's), and ``cell.backward`` computes ``dx`` and every parameter's gradient
with the library's own time loop and after-the-loop matrix products. A second loop over
the steps (on the full caches of ``cell.trace``) runs the student's function and the
library's side by side and yields the gradient reaching each field of the initial state.

Three things are then printed per configuration:

1. **the proof**: for every tensor (dx, each parameter, each field of the initial state) the
   relative error of the student's gradient against central finite differences of the
   cell's forward pass — on the frozen or smooth twin of :mod:`..gradcheck` for spiking
   cells, so that the finite differences see the surrogate gradient;
2. **where it departs**: walking BPTT backwards from the last step, the first step at which
   the student's outputs (``da_t``, each field of ``dstate_prev``, each ``dp_t`` entry)
   differ from the library's. A wrong term in the step shows at the last step; a wrong
   carry only at the first step that receives one (T-2);
3. **a hint**: the student's gradients are compared with those of the exercise's known
   mistakes (:mod:`.mistakes`, each the reference with one thing wrong); if they agree on
   every configuration, the mistake is named ("HINT [no_reset]: dV carry: the reset term is
   missing ...").

:func:`grade` is what the notebooks' test cells call (the hidden tests too, with
``hidden=True``: other sizes, seeds and constants); ``exercises check`` calls it on a file.

Why this file is long (~600 lines): grading is one pipeline (load the student's function,
run it inside the cell on the twins, locate the first departing step, match the known
mistakes, print the report) whose parts only make sense together.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import cells
from ..gradcheck import Twin, check_cell, numerical_gradient, rel_error
from ..ops import EXACT
from .catalog import EXERCISES

TOL = 1e-6          # the proof's tolerance on the relative error (the library's own is 1e-7)
MATCH_RTOL = 1e-6   # two gradients "agree" (student vs reference or a known mistake)


class StudentError(Exception):
    """The student's function raised, or returned something of the wrong form."""

    def __init__(self, message, t=None):
        super().__init__(message)
        self.message, self.t = message, t


@dataclass
class Run:
    """One function run on one setting: the gradients (``tensors``), the per-step outputs
    (``steps[t]``: name -> array), or the error that stopped it."""

    tensors: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    error: Optional[str] = None
    error_t: Optional[int] = None


# --------------------------------------------------------------------------------------
# The problem of one setting: a cell, an input, an initial state, an upstream gradient
# --------------------------------------------------------------------------------------
def _build(s):
    cell = cells.make(s.cell, s.n_in, s.H, seed=s.seed, dtype=np.float64, **s.config)
    cell.training = False
    rng = np.random.default_rng([s.seed, 2024])
    if s.spikes:
        x = (rng.random((s.T, s.B, s.n_in)) < 0.5).astype(np.float64)
    else:
        x = rng.standard_normal((s.T, s.B, s.n_in))
    state = cell.State(*(np.ascontiguousarray(v) for v in cell.sample_state(s.B, rng)))
    dy = rng.standard_normal((s.T, s.B, s.H))
    return cell, x, state, dy


def _ops(s):
    return EXACT if s.twin is None else Twin(s.twin)


def _state_name(f):
    return f"{f}[-1]"


_NUMERIC = {}


def _numeric(s):
    """Central finite differences of L = sum(dy * y) on the setting's twin, for every
    parameter, the input and each field of the initial state: the ground truth of the
    proof. Returns ``(numeric, flips, noise)``. Computed once per setting."""
    key = repr(s)
    if key not in _NUMERIC:
        _NUMERIC[key] = _numeric_uncached(s)
    return _NUMERIC[key]


def _numeric_uncached(s):
    cell, x, state, dy = _build(s)
    ops = _ops(s)
    stencil, h = (4, 1e-3) if s.twin is None else (2, 1e-5)
    y, _ = cell.forward(x, state, ops=ops)     # the twin records the nominal pass

    def loss():
        if s.twin is not None:
            ops.replay()
        out, _ = cell.forward(x, state, ops=ops)
        return float(np.sum(dy * out))

    arrays = dict(cell.params)
    arrays["x"] = x
    arrays.update({_state_name(f): v for f, v in zip(cell.State._fields, state)})
    numeric, flips = {}, {}
    for name, arr in arrays.items():
        count = [0]

        def on_eval():
            if s.twin is not None:
                count[0] += ops.flips
        numeric[name] = numerical_gradient(loss, arr, h=h, on_eval=on_eval, stencil=stencil)
        flips[name] = count[0]
    noise = np.finfo(np.float64).eps * float(np.sum(np.abs(dy * y))) / h
    return numeric, flips, noise


# --------------------------------------------------------------------------------------
# Running a function on a setting
# --------------------------------------------------------------------------------------
def _describe_exception(e):
    if isinstance(e, NotImplementedError):
        return "NotImplementedError: not implemented yet (the placeholder is still there)"
    return f"{type(e).__name__}: {e}"


def _call(fn, args, t):
    try:
        return fn(*args)
    except Exception as e:  # the student's code: report, never crash the grader
        raise StudentError(_describe_exception(e), t) from None


def _unpack_step(out, State, t):
    if not isinstance(out, tuple) or len(out) != 3:
        raise StudentError("step_backward must return a tuple (da_t, dstate_prev, dp_t), got "
                           f"{type(out).__name__}", t)
    da, ds, dp = out
    if not (isinstance(ds, tuple) and hasattr(ds, "_fields")) or len(ds) != len(State._fields):
        raise StudentError(f"dstate_prev must be a State{State._fields} (the cell module's "
                           f"named tuple), got {type(ds).__name__}", t)
    if not isinstance(dp, dict):
        raise StudentError(f"dp_t must be a dict, got {type(dp).__name__}", t)
    return da, State(*ds), dp


def _outputs(da, ds, dp):
    out = {"da": np.asarray(da, dtype=np.float64)}
    out.update({f"dstate.{f}": np.asarray(v, dtype=np.float64) for f, v in zip(ds._fields, ds)})
    out.update({f"dp.{k}": np.asarray(v, dtype=np.float64) for k, v in dp.items()})
    return out


def _check_shapes(mine, ref, t):
    for k, v in ref.items():
        if k not in mine:
            raise StudentError(f"step t={t}: {k} is missing from the returned values", t)
        if mine[k].shape != v.shape:
            raise StudentError(f"step t={t}: {k} has shape {mine[k].shape}, expected {v.shape}", t)


def _guarded(fn, reference):
    """``fn`` as the module's ``step_backward``; a call made from inside ``fn`` (a student's
    function that calls the library's, say) reaches the library's own, as it would outside
    the check, instead of recursing into ``fn``."""
    depth = [0]

    def step_backward(*args):
        if depth[0]:
            return reference(*args)
        depth[0] += 1
        try:
            return fn(*args)
        finally:
            depth[0] -= 1
    return step_backward


def run_step(ex, s, fn):
    """The student's (or a mistake's) ``step_backward`` on setting ``s``: per-step outputs
    from a loop over the full caches, then dx and the parameters from ``cell.backward``
    with the cell module's ``step_backward`` replaced by ``fn``."""
    run = Run()
    cell, x, state, dy = _build(s)
    mod = sys.modules[type(cell).__module__]
    reference = mod.step_backward
    p, cfg, State = cell.params, cell.step_config(), cell.State
    caches = [c for _, _, c in cell.trace(x, state, ops=_ops(s))]
    zero = State(*(np.zeros_like(v) for v in state))
    mine, ref = zero, zero
    run.steps = [None] * s.T
    try:
        for t in reversed(range(s.T)):
            ra, rs, rp = reference(dy[t], ref, caches[t], p, cfg)
            out = _call(fn, (dy[t], mine, caches[t], p, cfg), t)
            da, mine, dp = _unpack_step(out, State, t)
            ref = rs
            run.steps[t] = _outputs(da, mine, dp)
            _check_shapes(run.steps[t], _outputs(ra, rs, rp), t)
        run.tensors.update({_state_name(f): np.asarray(v, np.float64) for f, v in zip(State._fields, mine)})
        saved = mod.step_backward, mod.reads
        mod.step_backward, mod.reads = _guarded(fn, reference), (lambda *a, **k: None)
        try:
            y, cache = cell.forward(x, state, ops=_ops(s))
            try:
                dx, grads = cell.backward(dy, cache)   # the library's loop, the student's steps
            except Exception as e:
                raise StudentError(_describe_exception(e)) from None
        finally:
            mod.step_backward, mod.reads = saved
        run.tensors["x"] = dx
        run.tensors.update(grads)
    except StudentError as e:
        run.error, run.error_t = e.message, e.t
    return run


def _finish(cell, x, state, trace, dA, dp):
    """The after-the-loop products of the cells the loop exercise is graded on."""
    T, B, _ = x.shape
    dA = np.stack(dA)
    X2, dA2 = x.reshape(T * B, -1), dA.reshape(T * B, -1)
    p = cell.params
    if cell.name in ("rnn", "lstm"):
        H_prev = np.stack([state.h] + [trace[t][1].h for t in range(T - 1)]).reshape(T * B, -1)
        grads = {"W_x": X2.T @ dA2, "W_h": H_prev.T @ dA2, "b": dA2.sum(0)}
        return (dA2 @ p["W_x"].T).reshape(x.shape), grads
    grads = {"W": X2.T @ dA2}                  # lif
    grads.update({k: np.asarray(v).sum(0) for k, v in dp.items()})
    return (dA2 @ p["W"].T).reshape(x.shape), grads


def run_loop(ex, s, fn):
    """The student's BPTT loop driving the library's ``step_backward`` on setting ``s``."""
    run = Run()
    cell, x, state, dy = _build(s)
    step_backward = cell.step_functions()[1]
    p, cfg, State = cell.params, cell.step_config(), cell.State
    trace = cell.trace(x, state, ops=_ops(s))
    caches = [c for _, _, c in trace]
    index = {id(c): t for t, c in enumerate(caches)}
    calls = {}

    def recording_step(dy_t, dstate, cache_t, p_, cfg_):
        out = step_backward(dy_t, dstate, cache_t, p_, cfg_)
        calls.setdefault(index.get(id(cache_t)), out)
        return out

    zero = State(*(np.zeros_like(v) for v in state))
    try:
        out = _call(fn, (dy, caches, p, cfg, recording_step, zero), None)
        if not isinstance(out, tuple) or len(out) != 3:
            raise StudentError("bptt_backward must return (dA, dstate0, dp)")
        dA, ds0, dp = out
        if len(dA) != s.T or any(a is None for a in dA):
            raise StudentError(f"dA must hold one da per step ({s.T}), got {len(dA)} "
                               f"with {sum(a is None for a in dA)} missing")
        ds0 = State(*ds0)
        run.steps = [None] * s.T
        for t in range(s.T):
            st = {"da": np.asarray(dA[t], np.float64)}
            if t in calls:
                st.update({k: v for k, v in _outputs(*calls[t]).items() if k != "da"})
            run.steps[t] = st
        run.tensors.update({_state_name(f): np.asarray(v, np.float64) for f, v in zip(State._fields, ds0)})
        dx, grads = _finish(cell, x, state, trace, dA, dp)
        if set(grads) != set(cell.params):
            raise StudentError(f"dp has keys {sorted(dp)}, expected the per-step parameters "
                               f"{sorted(set(cell.params) - {'W'})}")
        run.tensors["x"] = dx
        run.tensors.update(grads)
    except StudentError as e:
        run.error, run.error_t = e.message, e.t
    except Exception as e:
        run.error = _describe_exception(e)
    return run


GRID = np.linspace(-2.0, 2.0, 401)
#: where the primitive is differentiated: between the grid points, so that no difference
#: quotient straddles u = 0, where the fast sigmoid's second derivative jumps
GRID_FD = GRID + 0.0025


class _Surrogate:
    """The student's two functions as a surrogate object (what a cell calls)."""

    name = "student"

    def __init__(self, grad, primitive, k):
        self._g, self._p, self.k = grad, primitive, k

    def spike(self, u):
        return (u > 0).astype(u.dtype)

    def grad(self, u):
        return np.asarray(self._g(u, self.k), dtype=np.float64)

    def primitive(self, u):
        return np.asarray(self._p(u, self.k), dtype=np.float64)


def run_surrogate(ex, s, fns):
    """The student's ``grad`` and ``primitive`` of the fast sigmoid on setting ``s``:
    their values on a grid, the finite-difference derivative of the primitive, and a LIF
    layer's gradient proof on the smooth twin built from them."""
    run = Run()
    grad, primitive = fns
    k = s.config["k"]
    with np.errstate(all="ignore"):
        for name, f in (("grad", grad), ("primitive", primitive)):
            try:
                v = np.asarray(f(GRID.copy(), k), dtype=np.float64)
                if v.shape != GRID.shape:
                    raise StudentError(f"{name}(u) returned shape {v.shape} for u of shape {GRID.shape}")
                run.tensors[name] = v
            except StudentError as e:
                run.error = e.message
            except Exception as e:
                run.error = f"{name}: {_describe_exception(e)}"
        if "primitive" in run.tensors and "grad" in run.tensors:
            h = 1e-6
            try:
                fd = (np.asarray(primitive(GRID_FD + h, k), np.float64)
                      - np.asarray(primitive(GRID_FD - h, k), np.float64)) / (2 * h)
                run.tensors["primitive'"] = fd
                run.tensors["grad at FD points"] = np.asarray(grad(GRID_FD.copy(), k), np.float64)
            except Exception as e:
                run.error = f"primitive: {_describe_exception(e)}"
    if run.error is None:
        cell, x, state, dy = _build(_lif_setting(s))
        cfg = cell.step_config()
        object.__setattr__(cfg, "surrogate_fn", _Surrogate(grad, primitive, k))
        cell.step_config = lambda *a, **k: cfg   # every pass uses the student's surrogate
        try:
            with np.errstate(all="ignore"):
                rep = check_cell(cell, x, state, dy=dy, twin="smooth")
            run.tensors["LIF layer"] = rep.max_error
        except Exception as e:
            run.error = f"LIF layer with your surrogate: {_describe_exception(e)}"
    return run


def _lif_setting(s):
    """The LIF layer of the surrogate exercise's network proof."""
    from dataclasses import replace
    return replace(s, config=dict(surrogate="fast_sigmoid", surrogate_params={"k": s.config["k"]},
                                  threshold=0.3, alpha=0.9, beta=0.8), twin="smooth")


RUNNERS = {"step": run_step, "loop": run_loop}


def run(ex, s, fns):
    if ex.kind == "surrogate":
        return run_surrogate(ex, s, fns)
    return RUNNERS[ex.kind](ex, s, fns[0])


def reference_fns(ex):
    """The correct function(s) of an exercise (the library's own, or the bug-free mutation)."""
    from functools import partial

    from . import mistakes as M
    if ex.kind == "surrogate":
        return (partial(M.fast_sigmoid_grad, bug=None), partial(M.fast_sigmoid_primitive, bug=None))
    return (ex.reference,)


# --------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------
def _close(a, b, rtol=MATCH_RTOL):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-12)
    return float(np.max(np.abs(a - b), initial=0.0)) <= rtol * scale


def _runs_agree(r1, r2, only=None):
    if only is not None:
        return all(n in r1.tensors and n in r2.tensors and _close(r1.tensors[n], r2.tensors[n])
                   for n in only)
    if r1.error or r2.error:
        return r1.error is not None and r1.error == r2.error
    names = only if only is not None else r2.tensors.keys()
    return all(n in r1.tensors and _close(r1.tensors[n], r2.tensors[n]) for n in names)


def _departure(mine, ref):
    """Walking back from the last step: ``{output: first step where it departs}``."""
    first = {}
    for t in reversed(range(len(ref.steps))):
        if mine.steps[t] is None or ref.steps[t] is None:
            continue
        for k, v in ref.steps[t].items():
            if k not in first and (k not in mine.steps[t] or not _close(mine.steps[t][k], v)):
                first[k] = t
    return first


def _tensor_output(name, run_ref):
    """The per-step output a tensor is made from: a state field from its carry, a parameter
    with per-step terms from ``dp``, everything else (dx, the weights) from ``da``."""
    if name.endswith("[-1]"):
        return "dstate." + name[:-4]
    if run_ref.steps and run_ref.steps[0] is not None and f"dp.{name}" in run_ref.steps[0]:
        return f"dp.{name}"
    return "da"


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------
@dataclass
class Result:
    exercise: str
    ok: bool
    text: str
    hint: Optional[str] = None       # the key of the known mistake named, if any

    def __bool__(self):
        return self.ok

    def __str__(self):
        return self.text


def _twin_words(s):
    return {None: "plain finite differences (a smooth cell)",
            "frozen": "frozen twin (the real spike train)",
            "smooth": "smooth twin (spikes -> surrogate primitive)"}[s.twin]


def _proof_rows(ex, s, mine, ref):
    """Rows (name, shape, rel.error, departs, ok) of a step or loop setting."""
    numeric, flips, noise = _numeric(s)
    depart = _departure(mine, ref) if not mine.error else {}
    rows = []
    for name, num in numeric.items():
        a = mine.tensors.get(name)
        if a is None or np.shape(a) != num.shape:
            rows.append((name, num.shape, np.inf, "-", False))
            continue
        scale = max(float(np.max(np.abs(num), initial=0.0)), float(np.max(np.abs(a), initial=0.0)))
        floor = max(1e-12, 1e-6 * scale, noise / TOL)
        err = rel_error(a, num, floor=floor) if np.all(np.isfinite(a)) else np.inf
        key = _tensor_output(name, ref)
        t = depart.get(key)
        rows.append((name, num.shape, err, "-" if t is None else f"t={t}", err <= TOL))
    return rows


def _surrogate_rows(s, mine, ref):
    rows = []
    checks = (("grad", "grad(u) vs 1/(1+k|u|)^2", ref.tensors["grad"], 1e-9),
              ("primitive", "primitive(u)", ref.tensors["primitive"], 1e-9),
              ("primitive'", "d primitive/du vs your grad", mine.tensors.get("grad at FD points"), 1e-6))
    for key, label, target, tol in checks:
        a = mine.tensors.get(key)
        if a is None or target is None:
            rows.append((label, GRID.shape, np.inf, "-", False))
            continue
        scale = max(float(np.max(np.abs(target))), 1e-12)
        bad = np.abs(a - target) > tol * scale
        bad |= ~np.isfinite(a)
        err = rel_error(a, target, floor=1e-6 * scale) if np.all(np.isfinite(a)) else np.inf
        where = f"u={GRID[np.argmax(bad)]:+.2f}" if bad.any() else "-"
        rows.append((label, GRID.shape, err, where, not bad.any()))
    net = mine.tensors.get("LIF layer")
    rows.append(("LIF layer proof (smooth twin)", "", np.inf if net is None else net, "-",
                 net is not None and net <= 1e-6))
    return rows


def _format_rows(rows, first_col="gradient of"):
    w = max(14, max(len(str(r[0])) for r in rows) + 2)
    lines = [f"  {first_col:<{w}}{'shape':<13}{'rel.error':>10}  {'departs':<9}verdict"]
    for name, shape, err, dep, ok in rows:
        lines.append(f"  {name:<{w}}{str(shape):<13}{err:>10.1e}  {dep:<9}{'ok' if ok else 'FAIL'}")
    return lines


def _hint(ex, settings, mine_runs):
    """The known mistake whose gradients the student's reproduce on every setting."""
    for m in ex.mistakes:
        ok = True
        for s, mine in zip(settings, mine_runs):
            if ex.kind == "surrogate":
                fns = reference_fns(ex)
                mfns = (m.fn, fns[1]) if m.affects == "grad" else (fns[0], m.fn)
                other = run(ex, s, mfns)
                if not _runs_agree(mine, other, only=[m.affects]):
                    ok = False
                    break
            else:
                other = run(ex, s, (m.fn,))
                if not _runs_agree(mine, other):
                    ok = False
                    break
        if ok:
            return m
    return None


def _generic_hint(ex, mine_runs, ref_runs):
    """No known mistake fits: say what the numbers show."""
    for mine, ref in zip(mine_runs, ref_runs):
        if mine.error:
            e = mine.error
            if "NotImplementedError" in e:
                return "write the function first: it still raises NotImplementedError"
            if "shape" in e or "mismatch" in e or "aligned" in e:
                return ("a shape error: " + TRANSPOSE_WORDS)
            return "your function raised an error (above): fix it first"
        if ex.kind == "surrogate":
            continue
        dep = _departure(mine, ref)
        if dep:
            t = max(dep.values())
            outs = sorted(k for k, v in dep.items() if v == t)
            last = len(ref.steps) - 1
            where = ("already at the last step, where nothing comes back from t+1: the local "
                     "derivative of the step is wrong" if t == last else
                     f"first at t={t}, the first step that receives a carry from t+1: what the "
                     "step does with dstate (the carried gradients) is wrong")
            return f"{', '.join(outs)} {'departs' if len(outs) == 1 else 'depart'} {where}"
    return None


TRANSPOSE_WORDS = ("a matrix product has incompatible shapes — is a weight used without its "
                   "transpose (transposed weight)?")


def grade(name, *functions, hidden=False, quiet=False):
    """Grade the student's function(s) for exercise ``name``; print the report (unless
    ``quiet``) and return a :class:`Result` (``.ok``, ``.text``, ``.hint``).

    ``functions``: the exercise's functions in the order of ``EXERCISES[name].functions``.
    ``hidden=True`` grades on the hidden settings (other sizes, seeds and constants).
    """
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; choose one of {sorted(EXERCISES)}")
    ex = EXERCISES[name]
    if len(functions) != len(ex.functions):
        raise TypeError(f"exercise {name!r} grades {len(ex.functions)} function(s) "
                        f"{ex.functions}, got {len(functions)}")
    settings = ex.hidden_settings if hidden else ex.settings
    lines = [f"== {ex.name}: {ex.title} (chapter {ex.chapter}) =="]
    mine_runs, ref_runs, n_bad = [], [], 0
    for s in settings:
        mine = run(ex, s, functions)
        ref = run(ex, s, reference_fns(ex))
        mine_runs.append(mine)
        ref_runs.append(ref)
        if ex.kind == "surrogate":
            lines.append(f"setting {s.label!r}: values on {GRID.size} points of [-2, 2]; "
                         f"a LIF layer proven on the smooth twin with your functions")
        else:
            lines.append(f"setting {s.label!r}: {_twin_words(s)}, T={s.T}, B={s.B}, "
                         f"n_in={s.n_in}, H={s.H}")
        if mine.error:
            at = "" if mine.error_t is None else f" (at step t={mine.error_t})"
            lines.append(f"  your function raised{at}: {mine.error}")
            n_bad += 1
            continue
        rows = _surrogate_rows(s, mine, ref) if ex.kind == "surrogate" else _proof_rows(ex, s, mine, ref)
        lines += _format_rows(rows, "check" if ex.kind == "surrogate" else "gradient of")
        if not all(r[4] for r in rows):
            n_bad += 1
            if ex.kind != "surrogate":
                dep = _departure(mine, ref)
                if dep:
                    t = max(dep.values())
                    outs = ", ".join(sorted(k for k, v in dep.items() if v == t))
                    lines.append(f"  walking back from t={s.T - 1}: your outputs first depart "
                                 f"from the reference at t={t} ({outs})")
    ok = n_bad == 0
    hint = None
    if ok:
        lines.append(f"RESULT: PASS — every gradient proven on {len(settings)} setting(s)")
    else:
        m = _hint(ex, settings, mine_runs)
        lines.append(f"RESULT: FAIL — {n_bad} of {len(settings)} setting(s) wrong")
        if m is not None:
            hint = m.key
            lines.append(f"HINT [{m.key}]: {m.hint}")
        else:
            g = _generic_hint(ex, mine_runs, ref_runs)
            if g:
                lines.append(f"HINT: {g}")
    text = "\n".join(lines)
    if not quiet:
        print(text)
    return Result(name, ok, text, hint)
