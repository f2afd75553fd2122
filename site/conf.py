"""Sphinx configuration of the book's website (built by ``python tools/build_site.py``).

The site is the chapters (the notebooks in ``chapters/``, shown with the outputs they were
committed with: nothing is executed during the build) plus an API reference generated from
the docstrings. Equations are typeset by a copy of MathJax 3 served from the site itself
(from the PyPI package ``django-static-mathjax``, see ``requirements-docs.txt``), so the
site reads offline and loads no script or style sheet from another host.

``tools/build_site.py`` stages the sources (``site/index.md``, the chapters, ``docs/*.md``
and a generated ``api.rst``) into a scratch folder and runs Sphinx on it with this folder
as the configuration folder (``-c site``); run that, not ``sphinx-build`` on this folder.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))           # autodoc imports the library from the checkout

import snn_from_scratch  # noqa: E402

project = "snn_from_scratch"
author = "The snn_from_scratch developers"
copyright = "the snn_from_scratch developers (MIT License)"
release = version = snn_from_scratch.__version__

extensions = [
    "myst_nb",                      # notebooks and MyST markdown
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",          # the NumPy-style "Parameters" sections
    "sphinx.ext.viewcode",
]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "conf.py"]
templates_path = ["_templates"]

# --- notebooks: shown as committed, never executed --------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

# --- API reference -----------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
add_module_names = False
# The docstrings' ``::`` blocks are equations and tables in ASCII, not Python: no colours.
highlight_language = "text"

# --- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"snn_from_scratch {release}"
html_copy_source = False
html_show_sourcelink = False
html_static_path = []


def _vendored_mathjax():
    """A folder holding ``mathjax/`` (the combined TeX->CommonHTML component and its
    fonts), copied out of the installed ``django-static-mathjax`` package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is not installed: pip install -r requirements-docs.txt "
                           "(package django-static-mathjax)")
    es5 = pathlib.Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml-full.js").is_file():
        raise RuntimeError(f"no MathJax 3 es5 build under {es5}")
    dest = pathlib.Path(os.environ.get("SNN_SITE_STATIC", ROOT / "_build" / "site-static"))
    mj = dest / "mathjax"
    if not (mj / "tex-chtml-full.js").is_file():
        (mj / "output" / "chtml").mkdir(parents=True, exist_ok=True)
        shutil.copy2(es5 / "tex-chtml-full.js", mj / "tex-chtml-full.js")
        shutil.copytree(es5 / "output" / "chtml" / "fonts", mj / "output" / "chtml" / "fonts",
                        dirs_exist_ok=True)
    return dest


html_static_path.append(str(_vendored_mathjax()))
# Relative to _static/ of the built site: MathJax 3, served locally (no CDN).
mathjax_path = "mathjax/tex-chtml-full.js"
mathjax3_config = {
    "tex": {"tags": "ams"},
    # The combined component already holds every TeX extension: never try to fetch one.
    "loader": {"load": []},
    "options": {"menuOptions": {"settings": {"assistiveMml": False}}},
}


# --- docstrings --------------------------------------------------------------------------
# The library's docstrings are written to be read in the source: plain text with the
# equations and notation tables as indented ASCII blocks. reST would fold such a block into
# a quoted paragraph (and read ``|u|`` as a substitution), so an indented block that
# follows a paragraph is shown as it is written: preformatted, as if introduced by ``::``.
_ABS = re.compile(r"(?<![\w|`\\])\|([^|\s`][^|`]{0,24}?)\|(?![\w|_`])")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#\.\s|\.\.\s|:\w)")


def _indent(line):
    return len(line) - len(line.lstrip())


def literal_blocks(lines):
    """``lines`` of a docstring, with ASCII blocks made preformatted (a new list):

    * an indented block after a paragraph (a blank line between, 4+ more columns) gets
      a ``::`` before it;
    * a paragraph with hanging indents (a line 4+ columns deeper than the paragraph's
      first line, no blank line between: ``name : text`` lists) becomes a literal block;
    * outside literal blocks, ``|u|`` (an absolute value, not a substitution) is escaped.
    """
    out = []
    para = []          # lines of the current paragraph (not yet emitted)
    literal = None     # indentation of the paragraph that opened the current literal block

    def flush():
        nonlocal para
        if not para:
            return
        base = _indent(para[0])
        hanging = (not _LIST_MARKER.match(para[0]) and not para[0].rstrip().endswith("::")
                   and any(_indent(ln) >= base + 4 for ln in para[1:]))
        if hanging:
            out.extend(["", " " * base + "::", ""] + ["    " + ln for ln in para])
        else:
            out.extend(_ABS.sub(r"\\|\1\\|", ln) if "|" in ln and not ln.lstrip().startswith(("|", "+"))
                       else ln for ln in para)
        para = []

    for i, line in enumerate(lines):
        if literal is not None:
            if not line.strip() or _indent(line) > literal:
                out.append(line)
                continue
            literal = None
        if not line.strip():
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), None)
            if (para and nxt is not None and not _LIST_MARKER.match(para[0])
                    and not nxt.lstrip().startswith(">>>")
                    and _indent(nxt) >= _indent(para[0]) + 4):
                base = _indent(para[0])
                ends = para[-1].rstrip().endswith("::")
                flush()
                if not ends:
                    out.extend(["", " " * base + "::"])
                literal = base
            elif para and para[-1].rstrip().endswith("::"):
                literal = _indent(para[0])
                flush()
            else:
                flush()
            out.append(line)
        else:
            para.append(line)
    flush()
    return out


def _process_docstring(app, what, name, obj, options, lines):
    lines[:] = literal_blocks(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)
    # MathJax on every page, not only those with math: the navigation shows the chapters'
    # titles, some of which hold an equation, on every page.
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
