"""The book, as a reader's browser shows it: math rendered, every image loaded, no broken internal link.

The book is built by ``.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html`` (CI
builds it before the tests; the build executes the notebooks). These tests read that build: they skip,
saying so, when it is not there, and fail when it is older than a notebook it renders or than the
library (``scratch/``, ``tfimpl/``, ``common/``) the notebooks import. The browser is
Debian's headless Chromium driven by Selenium (``apt-get install chromium chromium-driver``); the
checks skip with a reason where it cannot be had. Screenshots of the math page and a notebook page land
in ``docs/_build/screenshots/``.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "docs" / "_build" / "html"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
RAW_TEX = re.compile(r"\\(frac|sum|operatorname|mathbb|partial)\b|\$\$|\\\(|\\\[")


def _book() -> Path:
    if not (BOOK / "index.html").exists():
        pytest.skip(
            "the book is not built here: .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html"
        )
    return BOOK


# --- links, without a browser ---------------------------------------------------------------------------


class _Links(html.parser.HTMLParser):
    """The ids a page defines, and the links and image sources it holds."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") == "canonical"):
                self.links.append(attrs[key])


@functools.cache
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(errors="replace"))
    return parser


def broken_links(root: Path) -> list[str]:
    """Every internal link or image source under ``root`` whose file, or whose ``#anchor``, is missing."""
    found = []
    for page in sorted(root.rglob("*.html")):
        if "_static" in page.relative_to(root).parts:
            continue  # the theme's template fragments and MathJax's own files, not pages
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # external: the book never needs them (math and fonts are served from the site)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                found.append(f"{page.relative_to(root)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
                found.append(f"{page.relative_to(root)}: {link} (no such anchor)")
    return found


def test_no_internal_link_is_broken():
    assert broken_links(_book()) == []


def test_the_link_check_can_fail(tmp_path):
    """Negative control: a missing page and a missing anchor are both found."""
    (tmp_path / "a.html").write_text(
        '<p id="here"><a href="b.html">b</a> <a href="a.html#nowhere">x</a> <a href="#here">ok</a></p>'
    )
    assert broken_links(tmp_path) == ["a.html: b.html (no such file)", "a.html: a.html#nowhere (no such anchor)"]


LIBRARY = ("scratch", "tfimpl", "common")  # the packages the notebooks import


def stale_pages(book: Path, notebooks: list[Path], root: Path = ROOT) -> list[str]:
    """Each notebook page older than its notebook or than any library source, with what is newer.

    The book executes a notebook only when the notebook itself changes (``nb_execution_mode = "cache"``
    in ``docs/conf.py``), so a change to ``scratch/``, ``tfimpl/`` or ``common/`` alone leaves a local
    book showing, and having asserted, the old library's outputs. CI builds from a fresh checkout, where
    no cache survives, so there this always passes.
    """
    sources = [p for package in LIBRARY for p in sorted((root / package).rglob("*.py"))]
    found = []
    for notebook in notebooks:
        built = (book / "notebooks" / f"{notebook.stem}.html").stat().st_mtime
        newer = [p.relative_to(root).as_posix() for p in [notebook, *sources] if p.stat().st_mtime > built]
        if newer:
            found.append(f"{notebook.stem}: older than {', '.join(newer[:5])}" + (" ..." if len(newer) > 5 else ""))
    return found


def test_the_book_is_not_older_than_its_notebooks_or_the_library():
    stale = stale_pages(_book(), NOTEBOOKS)
    assert not stale, "rebuild the book (rm -rf docs/_build/.jupyter_cache first): " + "; ".join(stale)


def test_the_staleness_check_can_fail(tmp_path):
    """Negative control: a page newer than everything passes; touching a notebook or a library file fails it."""
    import os

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "scratch").mkdir()
    notebook, source = tmp_path / "notebooks" / "01_x.py", tmp_path / "scratch" / "layers.py"
    notebook.write_text("")
    source.write_text("")
    page = tmp_path / "book" / "notebooks" / "01_x.html"
    page.parent.mkdir(parents=True)
    page.write_text("")
    for path in (notebook, source):
        os.utime(path, (1_000, 1_000))
    os.utime(page, (2_000, 2_000))
    assert stale_pages(tmp_path / "book", [notebook], tmp_path) == []
    os.utime(source, (3_000, 3_000))  # only the library changed: the cache would not re-run the notebook
    assert stale_pages(tmp_path / "book", [notebook], tmp_path) == ["01_x: older than scratch/layers.py"]
    os.utime(notebook, (3_000, 3_000))
    assert stale_pages(tmp_path / "book", [notebook], tmp_path) == [
        "01_x: older than notebooks/01_x.py, scratch/layers.py"
    ]


def test_every_notebook_is_in_the_book_executed_with_its_headline():
    """The build executed each notebook (a failing cell fails the build); its last cell printed its headline."""
    book = _book()
    for path in NOTEBOOKS:
        page = (book / "notebooks" / f"{path.stem}.html").read_text()
        assert "headline:" in page, f"{path.name}: no headline output in the book"
        assert re.search(r'<img [^>]*src="[^"]*_images/', page), f"{path.name}: no figure in the book"


# --- in the browser ---------------------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    """The built book served on localhost, as a reader's browser would fetch it."""
    handler = functools.partial(_Quiet, directory=str(_book()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="the browser tests need selenium: pip install -e '.[docs]'"
    )
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("no headless Chromium here: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1700", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):  # fmt: skip
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(driver), options=options)
    yield driver
    driver.quit()


def open_page(browser, url: str) -> None:
    """Load ``url`` and, where the page loads MathJax, wait until it has typeset everything (at most 30 s)."""
    browser.get(url)
    deadline = time.time() + 30
    uses_mathjax = browser.execute_script("return !!document.querySelector('script[src*=\"MathJax.js\"]')")
    while uses_mathjax and time.time() < deadline:  # the script loads asynchronously
        if browser.execute_script("return !!(window.MathJax && MathJax.Hub && MathJax.isReady)"):
            break
        time.sleep(0.2)
    browser.execute_script(
        "window.__typeset = !(window.MathJax && MathJax.Hub);"
        "if (!window.__typeset) { MathJax.Hub.Queue(function () { window.__typeset = true; }); }"
    )
    while time.time() < deadline and not browser.execute_script("return window.__typeset"):
        time.sleep(0.2)


def page_problems(browser) -> list[str]:
    """What a reader would see wrong on the open page: raw TeX, MathJax errors, images that did not load."""
    problems = []
    text = browser.execute_script("return document.querySelector('main, article, body').innerText")
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
    if raw:
        problems.append(f"raw TeX visible: {raw}")
    errors = browser.execute_script("return document.querySelectorAll('.merror, .noError, .MathJax_Error').length")
    if errors:
        problems.append(f"{errors} equations MathJax could not typeset")
    missing = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    if missing:
        problems.append(f"images not loaded: {missing}")
    return problems


def typeset_count(browser) -> int:
    return browser.execute_script("return document.querySelectorAll('span.MathJax, .MathJax_Display').length")


@pytest.mark.parametrize("page", ["api/losses.html", "api/optimizers.html"])  # math.html: the screenshot test
def test_the_math_reads_as_math(browser, site, page):
    open_page(browser, f"{site}/{page}")
    assert typeset_count(browser) > 5
    assert page_problems(browser) == []


def test_the_front_page_reads_well(browser, site):
    open_page(browser, f"{site}/index.html")
    assert "written twice" in browser.execute_script("return document.body.innerText")
    assert page_problems(browser) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_page_shows_its_figures_and_math(browser, site, path):
    open_page(browser, f"{site}/notebooks/{path.stem}.html")
    assert browser.execute_script("return document.images.length") >= 1
    assert typeset_count(browser) > 0
    assert page_problems(browser) == []


def test_the_math_page_reads_as_math_and_the_screenshots_are_taken(browser, site):
    """The long math page (typeset once: MathJax takes seconds over it) and the first notebook, photographed."""
    shots = BOOK.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    for page, name in (("math.html", "math.png"), (f"notebooks/{NOTEBOOKS[0].stem}.html", "notebook.png")):
        open_page(browser, f"{site}/{page}")
        if page == "math.html":
            assert typeset_count(browser) > 5
            assert page_problems(browser) == []
        browser.save_screenshot(str(shots / name))
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_checks_can_fail(browser, site, tmp_path):
    """Negative control: a copy of a math page (the short one of the optimizers' API) with a broken equation
    and a missing image fails both checks."""
    page = (BOOK / "api" / "optimizers.html").read_text()
    broken = page.replace(
        "<h1>",
        '<p><span class="math notranslate nohighlight">\\(\\frac{1}{\\)</span></p><img src="_images/no-such.png" alt="x"><h1>',
        1,
    )
    (BOOK / "api" / "_broken_control.html").write_text(broken)
    try:
        open_page(browser, f"{site}/api/_broken_control.html")
        problems = page_problems(browser)
    finally:
        (BOOK / "api" / "_broken_control.html").unlink()
    assert any("could not typeset" in p or "raw TeX" in p for p in problems), problems
    assert any("images not loaded" in p for p in problems), problems
