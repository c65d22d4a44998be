"""The book checker's rules, on hand-written pages (the real pages are checked by `make book-check`)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)


def parse(html: str):
    parser = check_book.PageParser()
    parser.feed(html)
    parser.close()
    return parser


def test_resources_from_outside_the_book_are_found_and_links_are_not():
    page = parse('<html><head><script src="https://cdn.example/require.min.js"></script>'
                 '<link rel="stylesheet" href="//fonts.example/a.css"><link rel="canonical" href="https://x/y">'
                 '<script src="_static/local.js"></script></head><body><a href="https://doi.org/10">cite</a>'
                 '<img src="http://img.example/x.png"></body></html>')
    assert page.external == ['<script src=https://cdn.example/require.min.js>', '<link href=//fonts.example/a.css>',
                             '<img src=http://img.example/x.png>']


def test_output_figures_need_a_caption():
    page = parse('<main><figure id="fig-a"><img src="../_images/a.png"><figcaption>A.</figcaption></figure>'
                 '<figure><img src="../_images/b.png"></figure><div><img src="../_images/c.png"></div>'
                 '<img src="../_static/logo.png"></main>')
    assert page.uncaptioned == ["../_images/b.png", "../_images/c.png"]
