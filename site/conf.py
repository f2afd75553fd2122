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
