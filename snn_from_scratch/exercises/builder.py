"""Student versions from the solution notebooks, with nbgrader's conventions, without nbgrader.

The notebooks in ``exercises/notebooks/`` are the *source* (nbgrader's word): the solution
versions, written for nbgrader. This module does what ``nbgrader generate_assignment``
does to them, in plain JSON, so that a course can be run without nbgrader installed:

* in a code cell, every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is
  replaced by ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the region's
  indentation; in a markdown cell by ``YOUR ANSWER HERE``;
* every region between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (markers
  included) is removed;
* outputs and execution counts are cleared; cells whose nbgrader metadata says
  ``locked`` are marked read-only (``editable``/``deletable`` false, as nbgrader's release
  does).

It also extracts a student's answer from a notebook for the grader: the code of the
solution cells of one exercise (``grade_id`` ``<exercise>_solution``), or, if a student's
notebook has lost its metadata, the code cells that define the exercise's functions.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).parent / "notebooks"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = ("YOUR ANSWER HERE",)


def _source(cell):
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _replace_regions(text, begin, end, stub):
    """Replace each begin..end region (marker lines included) by ``stub`` lines at the
    begin marker's indentation; ``stub=()`` removes the region."""
    out, inside, n = [], False, 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"nested {begin!r}")
            inside, n = True, n + 1
            indent = line[:len(line) - len(line.lstrip())]
            out += [indent + s for s in stub]
        elif stripped == end:
            if not inside:
                raise ValueError(f"{end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r}")
    return "\n".join(out), n


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def student_version(nb):
    """The student version of a solution notebook (a dict in nbformat 4 JSON)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        text = _source(cell)
        text, _ = _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, ())
        stub = CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB
        text, n = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, stub)
        meta = nbgrader_meta(cell)
        if meta.get("solution") and n == 0:     # nbgrader: no markers -> the whole cell
            text = "\n".join(stub)
        cell["source"] = text
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if meta.get("locked"):
            cell["metadata"]["editable"] = False
            cell["metadata"]["deletable"] = False
        elif meta.get("solution"):
            cell["metadata"]["deletable"] = False
    return nb


def read_notebook(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_notebook(nb, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")


def solution_notebooks():
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def build(out, solutions=False):
    """Write the student version of every exercise notebook to ``out`` (and, with
    ``solutions``, the solution versions to ``out/solutions``). Returns the paths written."""
    out = Path(out)
    written = []
    for src in solution_notebooks():
        nb = read_notebook(src)
        written.append(out / src.name)
        write_notebook(student_version(nb), written[-1])
        if solutions:
            written.append(out / "solutions" / src.name)
            write_notebook(nb, written[-1])
    return written


def _defines(text, names):
    return any(re.search(rf"^\s*def {re.escape(n)}\s*\(", text, re.M) for n in names)


def extract_code(path, exercise):
    """The source code of the student's answer to ``exercise`` in ``path`` (.py or .ipynb)."""
    path = Path(path)
    if path.suffix == ".py":
        return path.read_text(encoding="utf-8")
    nb = read_notebook(path)
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    tagged = [_source(c) for c in code
              if nbgrader_meta(c).get("grade_id") == f"{exercise.name}_solution"]
    if not tagged:
        tagged = [_source(c) for c in code if _defines(_source(c), exercise.functions)]
    return "\n\n".join(tagged)


def load_functions(path, exercise):
    """Execute the student's answer (after the exercise's imports) and return its functions.

    Raises ``LookupError`` when a function is not defined; any error of the student's code
    itself propagates (the caller reports it)."""
    code = extract_code(path, exercise)
    ns = {"__name__": "student_answer"}
    exec(compile(exercise.prelude, "<exercise imports>", "exec"), ns)
    exec(compile(code, str(path), "exec"), ns)
    missing = [n for n in exercise.functions if not callable(ns.get(n))]
    if missing:
        raise LookupError(f"{path} does not define {', '.join(missing)}")
    return tuple(ns[n] for n in exercise.functions)
