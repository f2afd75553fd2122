"""Build the book as a static website: ``python tools/build_site.py [--out _build/site]``.

The site holds the chapters (``chapters/*.ipynb``, shown with the outputs they were
committed with — nothing is executed), the documents of ``docs/`` and an API reference
generated from the docstrings (one page per module). Equations are typeset by MathJax 3
served from the site itself, so the pages read offline; the build checks that no page
loads a script, style sheet or font from another host and fails if one does.

Needs the documentation requirements: ``pip install -r requirements-docs.txt`` (Sphinx,
myst-nb, the furo theme and a copy of MathJax). Takes well under a minute on 2 cores.
Open ``_build/site/index.html`` in a browser, or serve the folder:
``python -m http.server -d _build/site``.

How: the sources are staged into ``<out>-src`` (``site/index.md``, the chapters,
``docs/*.md`` and a generated ``api.rst`` listing every module of the package) and Sphinx
runs on that folder with ``site/`` as its configuration folder (``site/conf.py``).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import pathlib
import pkgutil
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "snn_from_scratch"
#: What the build needs, as (import name, the requirement that provides it).
REQUIREMENTS = (("sphinx", "sphinx"), ("myst_nb", "myst-nb"), ("furo", "furo"),
                ("mathjax", "django-static-mathjax"))
#: (section title, module-name prefix) of the API page, in order; the rest goes to "Library".
API_SECTIONS = (("Cells", f"{PACKAGE}.cells"), ("Experiments", f"{PACKAGE}.experiments"),
                ("Exercises", f"{PACKAGE}.exercises"))


def missing_requirements():
    """The requirements (PyPI names) of the build that are not installed."""
    return [req for mod, req in REQUIREMENTS if importlib.util.find_spec(mod) is None]


def modules():
    """Every public module of the package (no ``__main__``, no ``_private``), sorted."""
    sys.path.insert(0, str(ROOT))
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{PACKAGE}."):
        if any(part.startswith("_") for part in m.name.split(".")):
            continue
        names.append(m.name)
    return sorted(names)


def api_page(names):
    """The reST of the API page: an autosummary table per section (each module's first
    docstring line), each module on a page of its own under ``reference/``."""
    def table(mods):
        return ".. autosummary::\n   :toctree: reference\n\n" + "".join(f"   {m}\n" for m in mods) + "\n"

    out = ["API reference", "=============", "",
           "Generated from the docstrings. Every cell follows one protocol (the step pair "
           "``step_forward``/``step_backward``, see :mod:`snn_from_scratch.cells`); "
           "the cells are made by name with ``cells.make(name, n_in, n_hidden)``.", ""]
    rest = list(names)
    for title, prefix in API_SECTIONS:
        mods = [m for m in names if m == prefix or m.startswith(prefix + ".")]
        if not mods:
            continue
        rest = [m for m in rest if m not in mods]
        out += [title, "-" * len(title), "", table(mods)]
    out += ["Library", "-------", "", table(rest)]
    return "\n".join(out)


def stage(src):
    """Fill the staging folder ``src`` (emptied first) with the site's sources."""
    if src.exists():
        shutil.rmtree(src)
    (src / "chapters").mkdir(parents=True)
    (src / "docs").mkdir()
    shutil.copy2(ROOT / "site" / "index.md", src / "index.md")
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        shutil.copy2(nb, src / "chapters" / nb.name)
    for md in sorted((ROOT / "docs").glob("*.md")):
        shutil.copy2(md, src / "docs" / md.name)
    (src / "api.rst").write_text(api_page(modules()))


_EXTERNAL_HTML = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)
_EXTERNAL_CSS = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])(?:https?:)?//""", re.I)


def external_assets(site):
    """Files of the built ``site`` that load a script, style sheet, font or image from
    another host: a list of ``(relative path, the offending text)``. Ordinary links
    (``<a href="https://...">``) are fine: they are not loaded by the page."""
    site = pathlib.Path(site)
    found = []
    for f in sorted(site.rglob("*")):
        if f.suffix not in (".html", ".css") or not f.is_file():
            continue
        text = f.read_text(errors="replace")
        pattern = _EXTERNAL_HTML if f.suffix == ".html" else _EXTERNAL_CSS
        for m in pattern.finditer(text):
            found.append((str(f.relative_to(site)), text[m.start():m.end() + 60]))
    return found


def build(out, jobs="auto", quiet=True):
    """Build the site into ``out``; returns ``(seconds, warnings_text)``. Raises
    ``RuntimeError`` with a one-line message if Sphinx fails."""
    out = pathlib.Path(out).resolve()
    src = out.with_name(out.name + "-src")
    t0 = time.perf_counter()
    stage(src)
    env = dict(os.environ, SNN_SITE_STATIC=str(src / "_vendor"))
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(ROOT / "site"),
           "-d", str(src / ".doctrees"), "-j", str(jobs), str(src), str(out)]
    if quiet:
        cmd.insert(3, "-q")
    r = subprocess.run(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        tail = [ln for ln in r.stderr.strip().splitlines() if ln.strip()][-1:] or ["(no message)"]
        raise RuntimeError(f"sphinx-build failed (exit {r.returncode}): {tail[0]}"
                           f"{'' if len(r.stderr.splitlines()) < 2 else ' (full log above)'}")
    return time.perf_counter() - t0, r.stderr


def main(argv=None):
    p = argparse.ArgumentParser(prog="python tools/build_site.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "_build" / "site"),
                   help="output folder (default _build/site)")
    p.add_argument("--jobs", default="auto", help="Sphinx parallel jobs (default auto)")
    p.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = p.parse_args(argv)
    missing = missing_requirements()
    if missing:
        print(f"build_site: missing {', '.join(missing)}: pip install -r requirements-docs.txt",
              file=sys.stderr)
        return 2
    try:
        seconds, log = build(args.out, args.jobs, quiet=not args.verbose)
    except RuntimeError as e:
        print(f"build_site: {e}", file=sys.stderr)
        return 1
    warnings = [ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
    if log.strip():
        sys.stderr.write(log)
    bad = external_assets(args.out)
    for f, text in bad:
        print(f"build_site: {f} loads from another host: {text!r}", file=sys.stderr)
    index = pathlib.Path(args.out).resolve() / "index.html"
    print(f"built {index} in {seconds:.0f} s ({len(warnings)} warnings); "
          f"{'NO external scripts or styles' if not bad else f'{len(bad)} EXTERNAL assets'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
