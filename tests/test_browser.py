"""Open every page of the built (smoke) site in headless Chromium, as a reader would.

Asserts: no request leaves 127.0.0.1, every image loads, MathJax renders the intro's
equations, no console errors. Saves screenshots under _build/screenshots/. Needs
Debian's chromium (`make test` installs it); skips with a message where it is absent.
"""
import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); "
                    "`make test` installs it where it can")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _pages(site):
    return sorted(str(p.relative_to(site)) for p in (site / "book").glob("*.html"))


def test_every_page_loads_offline_with_its_images_and_no_errors(site, server, browser):
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    pages = _pages(site)
    assert "book/intro.html" in pages and len(pages) >= 3
    for rel in pages:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        foreign, errors = [], []
        page.on("request", lambda r: foreign.append(r.url)
                if urlparse(r.url).hostname not in ("127.0.0.1", None) and not r.url.startswith("data:")
                else None)
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("response", lambda r: errors.append(f"HTTP {r.status} for {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/{rel}", wait_until="load")
        page.wait_for_load_state("networkidle")
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        if rel == "book/intro.html":
            page.wait_for_selector("mjx-container", timeout=20000)
            assert page.locator("mjx-container").count() >= 3  # the method's display equations
            page.screenshot(path=str(shots / "intro.png"), full_page=False)
        if rel == "book/01_representations.html":
            page.screenshot(path=str(shots / "01_representations.png"), full_page=False)
        page.close()
        assert not foreign, f"{rel} requested hosts other than 127.0.0.1: {foreign[:5]}"
        assert not broken, f"{rel} has images that did not load: {broken}"
        assert not errors, f"{rel} logged console errors: {errors[:5]}"
