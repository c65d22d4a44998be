#!/usr/bin/env python3
"""Check a built Jupyter Book in headless Chromium, as a reader would see it.

For every HTML page under the build folder (except genindex and search), Chromium loads
the page, runs its scripts (MathJax included), and dumps the resulting DOM. The page fails
when
  - an <img> points to a file that does not exist,
  - math was left untypeset (an element of class "math" with no <mjx-container> inside,
    i.e. raw \\( \\[ $$ text) or MathJax reported a TeX error (<mjx-merror>),
  - a link in the left navigation sidebar points to a file that does not exist,
  - a page in CAPTIONED_PAGES shows a figure (an image of a cell's output) without a caption,
  - the page loads anything from outside the book (a script, style sheet, image, font or frame
    from http(s):// or //host): the book must read offline (links a reader follows are fine).
A screenshot of every page is written to the screenshots folder.

Usage: python scripts/check_book.py _build/html [--screenshots _build/screenshots]
Exit status 0 when every page is OK, 1 otherwise. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
    "param", "source", "track", "wbr",
}
# Pages whose every output figure must be a numbered figure with a caption.
CAPTIONED_PAGES = {f"notebooks/{name}.html" for name in (
    "01_task_and_architecture", "02_structural_modularity", "03_deep_r", "04_bottleneck_metric",
    "05_weight_mask_metric", "06_correlation_metric", "07_results", "09_bandwidth", "10_cells",
    "11_resources", "12_over_time")}
# Attributes by which a page loads a resource (not links a reader follows).
RESOURCE_ATTRS = {"script": ("src",), "link": ("href",), "img": ("src",), "iframe": ("src",),
                  "source": ("src",), "video": ("src",), "audio": ("src",), "embed": ("src",)}
# The left sidebar of sphinx-book-theme (pydata-sphinx-theme).
SIDEBAR_CLASSES = {"bd-sidebar-primary", "bd-docs-nav"}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--hide-scrollbars", "--virtual-time-budget=5000",
]


class PageParser(HTMLParser):
    """Collects images, sidebar links and math elements from a rendered DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []  # open elements: tag, classes, flags
        self.images: list[str] = []
        self.sidebar_links: list[str] = []
        self.untypeset: list[str] = []  # text of math elements MathJax did not render
        self.math_errors: list[str] = []
        self.external: list[str] = []  # resources loaded from outside the book
        self.uncaptioned: list[str] = []  # output images outside a <figure> with a <figcaption>
        self.figures: list[dict] = []  # open <figure> elements: their images and whether captioned

    def _in(self, key: str) -> bool:
        return any(el[key] for el in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
            if "_images/" in attrs["src"] or attrs["src"].startswith("data:image"):  # a cell's output
                if self.figures:
                    self.figures[-1]["images"].append(attrs["src"])
                else:
                    self.uncaptioned.append(attrs["src"][:60])
        if tag == "figure":
            self.figures.append({"images": [], "caption": False})
        if tag == "figcaption" and self.figures:
            self.figures[-1]["caption"] = True
        for name in RESOURCE_ATTRS.get(tag, ()):
            url = attrs.get(name) or ""
            if tag == "link" and not {"stylesheet", "preload", "icon", "modulepreload"} & set(
                    (attrs.get("rel") or "").lower().split()):
                continue  # rel="canonical", "next", ...: a link, not something the page loads
            if url.startswith(("http:", "https:", "//")):
                self.external.append(f"<{tag} {name}={url}>")
        if tag == "a" and attrs.get("href") and self._in("sidebar"):
            self.sidebar_links.append(attrs["href"])
        if tag == "mjx-container":
            for el in self.stack:
                if el["math"]:
                    el["typeset"] = True
        if tag == "mjx-merror":
            self.math_errors.append(attrs.get("data-mjx-error", "TeX error"))
        if tag in VOID_TAGS:
            return
        self.stack.append({
            "tag": tag,
            "sidebar": bool(classes & SIDEBAR_CLASSES),
            # MathJax puts class "math" on nothing else; Sphinx marks every formula with it.
            "math": "math" in classes and tag in {"span", "div"},
            "typeset": False,
            "text": [],
        })

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_data(self, data):
        for el in self.stack:
            if el["math"] and not el["typeset"]:
                el["text"].append(data)

    def handle_endtag(self, tag):
        if not any(el["tag"] == tag for el in self.stack):
            return  # stray end tag
        if tag == "figure" and self.figures:
            figure = self.figures.pop()
            if not figure["caption"]:
                self.uncaptioned += [src[:60] for src in figure["images"]]
        while self.stack:
            el = self.stack.pop()
            if el["math"] and not el["typeset"]:
                nested = any(o["math"] for o in self.stack)
                if not nested:  # report the outermost untypeset element only
                    self.untypeset.append(" ".join("".join(el["text"]).split()))
            if el["tag"] == tag:
                break


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL on `page` refers to, or None for external/fragment URLs."""
    parts = urlsplit(url)
    if parts.scheme in {"http", "https", "data", "mailto", "javascript"} or parts.netloc:
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if not parts.path:
        return None  # "#anchor" on the same page
    target = (page.parent / unquote(parts.path)).resolve()
    if url.split("#")[0].endswith("/") or target.is_dir():
        target = target / "index.html"
    return target


def run_chromium(chromium: str, extra: list[str], url: str, profile: str) -> subprocess.CompletedProcess:
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.IGNORECASE)


def check_page(chromium: str, root: Path, page: Path, shots: Path | None) -> list[str]:
    problems: list[str] = []
    # A redirect stub (the root index.html of a Jupyter Book): check only its target, since
    # the DOM Chromium dumps would be the target's, with links relative to another folder.
    redirect = REFRESH.search(page.read_text(encoding="utf-8", errors="replace")[:2000])
    if redirect and "<body" not in page.read_text(encoding="utf-8", errors="replace"):
        target = local_target(page, redirect.group(1))
        if target is not None and not target.is_file():
            return [f"redirect to a missing page: {redirect.group(1)}"]
        return []
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        try:
            dom = run_chromium(chromium, ["--dump-dom"], url, profile)
        except subprocess.TimeoutExpired:
            return ["chromium timed out dumping the DOM"]
        if dom.returncode != 0 or "<html" not in dom.stdout:
            tail = dom.stderr.strip().splitlines()[-1:] or ["no output"]
            return [f"chromium could not render the page (exit {dom.returncode}: {tail[0]})"]
        if shots is not None:
            rel = page.relative_to(root).with_suffix(".png")
            shot = shots / "__".join(rel.parts)
            shot.parent.mkdir(parents=True, exist_ok=True)
            try:
                run_chromium(chromium, ["--window-size=1280,1600", f"--screenshot={shot}"], url, profile)
            except subprocess.TimeoutExpired:
                problems.append("chromium timed out taking the screenshot")
            if not shot.exists():
                problems.append(f"no screenshot written to {shot}")

    parser = PageParser()
    parser.feed(dom.stdout)
    parser.close()

    for src in parser.images:
        target = local_target(page, src)
        if target is not None and not target.is_file():
            problems.append(f"image not found: {src}")
    if parser.untypeset:
        n = len(parser.untypeset)
        problems.append(f"untypeset math in {n} element{'s' * (n > 1)}, "
                        f"first: {parser.untypeset[0][:80]!r} (did MathJax load?)")
    for err in parser.math_errors:
        problems.append(f"MathJax error: {err[:80]}")
    if page.relative_to(root).as_posix() in CAPTIONED_PAGES and parser.uncaptioned:
        problems.append(f"{len(parser.uncaptioned)} figure(s) without a caption, first: {parser.uncaptioned[0]}")
    # the page as served (before its scripts run) and as rendered (after)
    raw = PageParser()
    raw.feed(page.read_text(encoding="utf-8", errors="replace"))
    raw.close()
    external = list(dict.fromkeys(raw.external + parser.external))
    if external:
        problems.append(f"{len(external)} resource(s) from outside the book, first: {external[0][:100]}")
    for href in parser.sidebar_links:
        target = local_target(page, href)
        if target is not None and not target.is_file():
            problems.append(f"sidebar link to a missing page: {href}")
    return problems


def pages_of(root: Path) -> list[Path]:
    pages = []
    for page in sorted(root.rglob("*.html")):
        rel = page.relative_to(root)
        if rel.name in SKIP_PAGES or any(part.startswith(("_", ".")) for part in rel.parts[:-1]):
            continue  # _static, _sources, _images, ... are assets, not pages
        pages.append(page)
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path, help="the built book, e.g. _build/html")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="folder for one PNG per page (default: <html>/../screenshots)")
    ap.add_argument("--chromium", default=None, help="browser binary (default: chromium)")
    args = ap.parse_args(argv)

    root = args.html.resolve()
    if not (root / "index.html").is_file():
        print(f"check_book: no built book at {root} (run `make book` first)", file=sys.stderr)
        return 1
    chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("check_book: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    shots = (args.screenshots or root.parent / "screenshots").resolve()
    shots.mkdir(parents=True, exist_ok=True)

    pages = pages_of(root)
    failed = 0
    for page in pages:
        rel = page.relative_to(root)
        problems = check_page(chromium, root, page, shots)
        if problems:
            failed += 1
            print(f"FAIL {rel}: " + "; ".join(problems))
        else:
            print(f"OK   {rel}")
    print(f"check_book: {len(pages) - failed} of {len(pages)} pages OK; screenshots in {shots}")
    if not pages:
        print("check_book: no pages found", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
