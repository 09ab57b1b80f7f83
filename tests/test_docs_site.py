"""The documentation site as a reader gets it: built with ``mkdocs build --strict``, every page opened from disk in
a headless Chromium (Debian's ``chromium`` and ``chromium-driver``; ``make test`` installs them where it can): no
link to a missing page, anchor or folder, no image that fails to load, no Markdown left raw in the text, a table of
contents on the long pages. Without Chromium the test is skipped, except in CI, where it fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG_PAGES = ("training.html", "benchmarks.html", "architecture.html", "evaluation.html")
RAW_MARKDOWN = [
    (re.compile(r"\n\s*[-*+] (<strong>|<code>|\w)"), "a list item run into a paragraph"),
    (re.compile(r"\]\((?!<)[^)\s]*\)"), "a link left as [text](target)"),
    (re.compile(r"(?<![\w*])\*\*\w"), "bold left as **"),
    (re.compile(r"```"), "a code fence left as text"),
    (re.compile(r"\[TOC\]"), "a [TOC] marker left as text"),
]


def _chromium():
    driver = shutil.which("chromedriver")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not (driver and browser):
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium and chromedriver for the docs test (make test installs them)")
        pytest.skip("no chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--allow-file-access-from-files",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_page_opens_from_disk_with_its_links_images_and_no_raw_markdown(site):
    pages = sorted(p for p in site.glob("*.html") if p.name not in ("404.html",))
    assert {"index.html", "training.html", "evaluation.html", "runs.html"} <= {p.name for p in pages}
    browser = _chromium()
    problems: list[str] = []
    try:
        for page in pages:
            browser.get(page.as_uri())
            name = page.name
            for href in browser.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)"):
                url = urlparse(href)
                if url.scheme != "file":
                    continue
                target = Path(unquote(url.path))
                if not target.exists():
                    problems.append(f"{name}: link to a missing file {target.relative_to(site)}")
                elif target.is_dir():
                    problems.append(f"{name}: link to a folder {target.relative_to(site)} (a directory listing)")
                elif url.fragment and target.suffix == ".html":
                    if f'id="{url.fragment}"' not in target.read_text(encoding="utf-8"):
                        problems.append(f"{name}: link to a missing anchor {target.name}#{url.fragment}")
            broken = browser.execute_script(
                "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            problems += [f"{name}: image that does not load: {src}" for src in broken]
            html = browser.execute_script(
                "const c = document.querySelector('article') || document.body;"
                "return [...c.querySelectorAll('p, li, td, h1, h2, h3, h4')].map(e => {"
                "  const x = e.cloneNode(true); x.querySelectorAll('code, pre').forEach(k => k.remove());"
                "  return x.innerHTML; })"
            )
            for block in html:
                for pattern, what in RAW_MARKDOWN:
                    if pattern.search(block):
                        problems.append(f"{name}: {what}: {re.sub(r'<[^>]+>', '', block)[:120]!r}")
            if name in LONG_PAGES:
                entries = browser.execute_script(
                    "return document.querySelectorAll('.md-nav--secondary .md-nav__link, .toc a').length"
                )
                if entries < 5:
                    problems.append(f"{name}: a long page with {entries} table-of-contents entries")
    finally:
        browser.quit()
    assert not problems, "\n".join(problems)
