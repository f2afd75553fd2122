"""The course kit (snn_from_scratch.exercises): student versions fail, solutions pass, every
planted mistake is named by the grader, the command line's exit codes."""
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from snn_from_scratch import cells
from snn_from_scratch.exercises import EXERCISES, check, grade, main
from snn_from_scratch.exercises import mistakes as M
from snn_from_scratch.exercises.builder import (BEGIN_HIDDEN, BEGIN_SOLUTION, NOTEBOOKS,
                                                 extract_code, student_version)
from snn_from_scratch.exercises.grader import _build, _ops, reference_fns

matplotlib.use("Agg")

SOLUTIONS = {name: NOTEBOOKS / ex.notebook for name, ex in EXERCISES.items()}
PLANTS = [(name, m) for name, ex in EXERCISES.items() for m in ex.mistakes]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    assert main(["build", "--out", str(out)]) == 0
    return out


def _cells(path):
    return json.loads(Path(path).read_text())["cells"]


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# -- the mutated references are the library's backward when nothing is mutated ----------
@pytest.mark.parametrize("name", [n for n, e in EXERCISES.items() if e.kind == "step"])
def test_bug_free_mutation_is_the_library(name):
    ex = EXERCISES[name]
    fn = {"rnn_step": M.rnn_step, "lstm_step": M.lstm_step, "lif_step": M.lif_step,
          "spiking_lstm_step": M.spiking_lstm_step, "src_step": M.src_step}[name]
    for s in ex.settings:
        cell, x, state, dy = _build(s)
        p, cfg = cell.params, cell.step_config()
        zero = cell.State(*(np.zeros_like(v) for v in state))
        mine, ref = zero, zero
        for t, (_, _, cache) in reversed(list(enumerate(cell.trace(x, state, ops=_ops(s))))):
            a1, mine, p1 = fn(dy[t], mine, cache, p, cfg)
            a2, ref, p2 = ex.reference(dy[t], ref, cache, p, cfg)
            np.testing.assert_allclose(a1, a2, rtol=1e-12, atol=1e-14)
            for u, v in zip(mine, ref):
                np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)
            assert p1.keys() == p2.keys()


def test_bug_free_loop_is_the_library():
    cell = cells.make("lif", 3, 4, seed=0, learn_alpha=True, threshold=0.8)
    cell.training = False
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    y, cache = cell.forward(x)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    _, grads = cell.backward(dy, cache)
    trace = cell.trace(x)
    zero = cell.State(*(np.zeros((2, 4)),) * 3)
    dA, _, dp = M.bptt_loop(dy, [c for _, _, c in trace], cell.params, cell.step_config(),
                            cell.step_functions()[1], zero)
    np.testing.assert_allclose(x.reshape(10, 3).T @ np.stack(dA).reshape(10, 4), grads["W"], rtol=1e-12)
    np.testing.assert_allclose(dp["alpha"].sum(0), grads["alpha"], rtol=1e-12)


# -- student and solution versions from one source ----------------------------------
def test_student_version_follows_nbgrader(course):
    for src in NOTEBOOKS.glob("*.ipynb"):
        sol, stu = _cells(src), _cells(course / src.name)
        assert len(sol) == len(stu)
        ids = [c["metadata"]["nbgrader"]["grade_id"] for c in sol]
        assert len(ids) == len(set(ids)), f"{src.name}: grade ids not unique"
        for a, b in zip(sol, stu):
            meta = a["metadata"]["nbgrader"]
            assert meta["schema_version"] == 3
            assert b["metadata"]["nbgrader"] == meta
            text = _src(b)
            assert BEGIN_SOLUTION not in text and BEGIN_HIDDEN not in text and "END SOLUTION" not in text
            if meta["solution"] and a["cell_type"] == "code":
                assert "# YOUR CODE HERE\n" in text and "raise NotImplementedError()" in text
            if meta["solution"] and a["cell_type"] == "markdown":
                assert "YOUR ANSWER HERE" in text
            if meta["grade"]:
                assert meta["points"] > 0
            if meta["locked"]:
                assert b["metadata"]["editable"] is False
    for name, ex in EXERCISES.items():
        by_id = {c["metadata"]["nbgrader"]["grade_id"]: c for c in _cells(SOLUTIONS[name])}
        assert by_id[f"{name}_solution"]["metadata"]["nbgrader"]["solution"]
        tests = _src(by_id[f"{name}_tests"])
        assert f'grade("{name}"' in tests and "hidden=True" in tests.split(BEGIN_HIDDEN)[1]


def test_student_version_of_a_cell():
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"solution": True}},
                     "source": "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
                     "outputs": [1], "execution_count": 3}]}
    out = student_version(nb)["cells"][0]
    assert out["source"] == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert out["outputs"] == [] and out["execution_count"] is None


@pytest.mark.parametrize("name", list(EXERCISES))
def test_student_fails_solution_passes(course, name):
    student = check(name, course / EXERCISES[name].notebook, quiet=True)
    assert not student.ok and "NotImplementedError" in student.text
    solution = check(name, SOLUTIONS[name], quiet=True)
    assert solution.ok, solution.text
    assert check(name, SOLUTIONS[name], hidden=True, quiet=True).ok


def test_notebooks_run_top_to_bottom(course, capsys):
    """The solution notebooks' test cells pass (hidden tests included); the student
    versions' first test cell fails."""
    for src in sorted(NOTEBOOKS.glob("*.ipynb")):
        ns = {}
        for c in _cells(src):
            if c["cell_type"] == "code":
                exec(_src(c), ns)
        ns = {}
        with pytest.raises((NotImplementedError, AssertionError)):
            for c in _cells(course / src.name):
                if c["cell_type"] == "code":
                    exec(_src(c), ns)


# -- the diagnosis --------------------------------------------------------------------
@pytest.mark.parametrize("name,mistake", PLANTS, ids=[f"{n}-{m.key}" for n, m in PLANTS])
def test_planted_mistake_is_named(tmp_path, name, mistake):
    code = extract_code(SOLUTIONS[name], EXERCISES[name])
    for old, new in mistake.plant:
        assert old in code, f"plant of {mistake.key}: {old!r} not in the solution"
        code = code.replace(old, new)
    path = tmp_path / "answer.py"
    path.write_text(code)
    result = check(name, path, quiet=True)
    assert not result.ok
    assert result.hint == mistake.key, result.text
    assert f"HINT [{mistake.key}]" in result.text


def test_report_locates_the_departure():
    """A dropped carry shows at the first step that receives one (T-2), not at T-1; a
    wrong local derivative already at the last step."""
    ex = EXERCISES["rnn_step"]
    T = ex.settings[0].T
    carry = {m.key: m for m in ex.mistakes}["no_carry"]
    text = grade("rnn_step", carry.fn, quiet=True).text
    assert f"first depart from the reference at t={T - 2}" in text
    local = {m.key: m for m in ex.mistakes}["tanh_prime_no_square"]
    text = grade("rnn_step", local.fn, quiet=True).text
    assert f"first depart from the reference at t={T - 1}" in text


def test_unknown_mistake_gets_a_generic_hint():
    def wrong(dy_t, dstate, cache_t, p, cfg):     # scaled: no known mistake
        da, ds, dp = reference_fns(EXERCISES["rnn_step"])[0](dy_t, dstate, cache_t, p, cfg)
        return 1.5 * da, ds, dp
    r = grade("rnn_step", wrong, quiet=True)
    assert not r.ok and r.hint is None and "HINT:" in r.text and "last step" in r.text


# -- the command line ----------------------------------------------------------------
def test_cli_exit_codes(course, tmp_path, capsys):
    assert main(["check", "lif_step", str(SOLUTIONS["lif_step"])]) == 0
    assert main(["check", "lif_step", str(course / "ex06_lif.ipynb")]) == 1
    capsys.readouterr()
    assert main(["check", "no_such_exercise", str(SOLUTIONS["lif_step"])]) == 2
    assert main(["check", "lif_step", str(tmp_path / "missing.ipynb")]) == 2
    assert main(["check", "lif_step"]) == 2
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and not any("Traceback" in line for line in err)
    broken = tmp_path / "broken.py"
    broken.write_text("def lif_step_backward(:\n")
    assert main(["check", "lif_step", str(broken)]) == 1
    other = tmp_path / "other.py"
    other.write_text("def something_else():\n    pass\n")
    assert main(["check", "lif_step", str(other)]) == 1
    assert main(["list"]) == 0
    assert "lif_step" in capsys.readouterr().out
