"""The book as a website: built, served on 127.0.0.1 and opened in headless Chromium.

The site is the one ``.ci/run`` built (``$SNN_SITE_DIR``, made by ``python
tools/build_site.py``) or, when that is not set, one built here into a temporary folder
(about a minute). The checks read what a reader sees, from the DOM after MathJax ran and
from a screenshot:

* a chapter page shows its equations typeset (MathJax output elements, one per math
  element of the page, and no raw ``$$``, ``\\(`` or ``\\[`` left in the text) and its
  figures (every ``<img>`` was fetched from the site as a PNG);
* no page loads a script, style sheet or font from another host (MathJax is served by
  the site: the pages read offline);
* the API page lists the cells.

Skipped, with the reason, when Chromium (Debian's ``chromium``) or the documentation
requirements (``requirements-docs.txt``) are not installed.
"""
from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CELLS = ("rnn", "lstm", "gru", "spiking_lstm", "lif", "gated_lif", "brc", "src")
#: Chapters whose page is opened: each has display equations, inline math and figures.
CHAPTERS = ("01_spikes_and_surrogates", "06_lif_bptt", "09_spiking_recurrent_cell")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load_build_site():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build_site = _load_build_site()


def _chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


CHROMIUM = _chromium()
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                       "(Debian: apt-get install chromium; or set $CHROMIUM)"),
    pytest.mark.skipif(bool(build_site.missing_requirements()),
                       reason="documentation requirements missing "
                              f"({', '.join(build_site.missing_requirements())}): "
                              "pip install -r requirements-docs.txt"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site's folder: ``$SNN_SITE_DIR`` when .ci/run built it, else built here."""
    given = os.environ.get("SNN_SITE_DIR")
    if given and (pathlib.Path(given) / "index.html").is_file():
        return pathlib.Path(given)
    out = tmp_path_factory.mktemp("site") / "site"
    build_site.build(out)
    return out


class _Server:
    """``http.server`` on 127.0.0.1 (a free port) serving ``root``; remembers every request
    as ``(path, status)`` so that a test can tell which images the browser fetched."""

    def __init__(self, root):
        self.requests = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                log.append((self.path.split("?")[0], int(code) if str(code).isdigit() else code))

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(site):
    s = _Server(site)
    yield s
    s.close()


def chromium(args, url, tmp_path):
    """Run headless Chromium on ``url`` with ``args`` (e.g. ``["--dump-dom"]``): a fresh
    profile, no network but what the page asks of our server, time for MathJax to typeset."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args, url]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    assert r.returncode == 0, f"chromium failed ({r.returncode}): {r.stderr.decode(errors='replace')[-2000:]}"
    return r.stdout.decode(errors="replace")


def _body(html):
    m = re.search(r"<body\b.*</body>", html, flags=re.S | re.I)
    return m.group(0) if m else html


def _visible_text(html):
    """The body's text, without code, program output, scripts and typeset math."""
    t = re.sub(r"<(pre|code|script|style|mjx-container|textarea)\b.*?</\1>", " ", _body(html),
               flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", t)


def test_no_page_loads_from_another_host(site):
    assert build_site.external_assets(site) == []
    # MathJax itself is in the site, and the pages point at that copy.
    assert (site / "_static" / "mathjax" / "tex-chtml-full.js").is_file()
    page = (site / "chapters" / "06_lif_bptt.html").read_text()
    assert re.search(r'<script[^>]+src="[./]*_static/mathjax/tex-chtml-full\.js', page)


def test_index_lists_every_chapter(site):
    index = (site / "index.html").read_text()
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        assert f'href="chapters/{nb.stem}.html"' in index, f"{nb.stem} is not in the table of contents"
        assert (site / "chapters" / f"{nb.stem}.html").is_file()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_equations_and_figures(chapter, site, server, tmp_path):
    static = (site / "chapters" / f"{chapter}.html").read_text()
    n_math = len(re.findall(r'class="math notranslate', _body(static)))
    assert n_math > 0, f"{chapter}: no math in the built page"
    before = len(server.requests)
    dom = chromium(["--dump-dom"], f"{server.url}/chapters/{chapter}.html", tmp_path)
    fetched = dict(server.requests[before:])

    # Equations: MathJax replaced every math element by its output, no TeX is left raw.
    n_typeset = len(re.findall(r"<mjx-container\b", _body(dom)))
    assert n_typeset >= n_math, f"{chapter}: {n_typeset} typeset equations for {n_math} math elements"
    text = _visible_text(dom)
    for raw in ("$$", "\\(", "\\[", "\\begin{"):
        assert raw not in text, f"{chapter}: raw {raw!r} left in the page: ...{text[text.find(raw) - 80:text.find(raw) + 80]}..."
    assert fetched.get("/_static/mathjax/tex-chtml-full.js") == 200
    fonts = [p for p in fetched if p.startswith("/_static/mathjax/output/chtml/fonts/")]
    assert fonts and all(fetched[p] == 200 for p in fonts), f"MathJax fonts: {fonts}"

    # Figures: every image of the page was fetched from the site and is a PNG.
    imgs = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', _body(dom))
    pngs = [s for s in imgs if s.endswith(".png")]
    n_figures = sum(1 for c in __import__("json").loads((ROOT / "chapters" / f"{chapter}.ipynb").read_text())["cells"]
                    for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert len(pngs) >= n_figures > 0, f"{chapter}: {len(pngs)} images for {n_figures} figures"
    for src in pngs:
        path = "/chapters/" + src if not src.startswith("/") else src
        path = os.path.normpath(path)
        assert fetched.get(path) == 200, f"{chapter}: the browser did not load {path} ({fetched.get(path)})"
        assert (site / path.lstrip("/")).read_bytes()[:8] == PNG_SIGNATURE
    missing = [p for p, code in fetched.items() if code != 200 and p != "/favicon.ico"]
    assert not missing, f"{chapter}: requests that failed: {missing}"


def test_chapter_screenshot_is_a_rendered_page(site, server, tmp_path):
    """A screenshot of chapter 06's top: the title (with typeset math), text, the first
    display equations and the first figure. Kept in ``$SNN_SITE_SCREENSHOT`` if set."""
    import matplotlib.image

    shot = pathlib.Path(os.environ.get("SNN_SITE_SCREENSHOT", tmp_path / "chapter06.png"))
    chromium([f"--screenshot={shot}", "--window-size=1280,2400"],
             f"{server.url}/chapters/06_lif_bptt.html", tmp_path)
    img = matplotlib.image.imread(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    ink = (img[..., :3].mean(axis=2) < 0.5).mean()        # dark pixels: text, equations, plots
    colour = (img[..., :3].std(axis=2) > 0.15).mean()     # coloured pixels: plot lines, links
    assert ink > 0.01, f"screenshot nearly blank ({ink:.2%} dark pixels)"
    assert colour > 0.001, f"screenshot has no colour (no figure?): {colour:.3%}"


def test_api_page_lists_the_cells(site, server, tmp_path):
    dom = chromium(["--dump-dom"], f"{server.url}/api.html", tmp_path)
    body = _body(dom)
    for cell in CELLS:
        module = f"snn_from_scratch.cells.{cell}"
        assert re.search(rf'href="reference/{re.escape(module)}\.html[^"]*"', body), f"API page lacks {module}"
        page = (site / "reference" / f"{module}.html").read_text()
        assert "step_forward" in page and "step_backward" in page, f"{module}: step pair not documented"
