"""The editors' report: clusters by date, who translated whom, and hostile titles and URLs kept inert."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crawler.dedup.features import Article, compute_signals
from crawler.dedup.report import clusters, safe_href, write_report
from crawler.dedup.store import ArticleStore

XSS_TITLE = "<script>alert(1)</script>"


def _add(store: ArticleStore, url: str, lang: str, title: str, published: str) -> int:
    art = Article(url=url, lang=lang, text=title + " body", title=title, source="src", published=published)
    return store.insert(art, compute_signals(art))


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "dedup.sqlite3"
    with ArticleStore(path) as store:
        en = _add(store, "https://en.example/story", "en", "LockBit hits hospital", "2024-03-01T10:00:00+00:00")
        zh = _add(store, "https://zh.example/a", "zh", XSS_TITLE, "2024-03-02T08:00:00+00:00")
        evil = _add(store, "javascript:alert(document.cookie)", "zh", "=HYPERLINK(\"x\")", "2024-03-03T08:00:00+00:00")
        other = _add(store, "https://x.example/1", "en", "Unrelated A", "2024-05-01T00:00:00+00:00")
        other2 = _add(store, "https://y.example/2", "en", "Unrelated B", "2024-04-30T00:00:00+00:00")
        store.add_flag(zh, en, "translation", 0.5, "content+link", {"original": "https://en.example/story"})
        store.add_flag(zh, evil, "repost", 0.95, "content", {})
        store.add_flag(other, other2, "same_story", 0.6, "content", {})
        store.commit()
    return path


def test_clusters_are_components_ordered_by_date(catalog):
    with ArticleStore(catalog) as store:
        cs = clusters(store)
    assert [len(c.members) for c in cs] == [3, 2]
    assert [m.url for m in cs[0].members] == [
        "https://en.example/story", "https://zh.example/a", "javascript:alert(document.cookie)"]
    assert cs[1].first.url == "https://y.example/2"  # published a day earlier
    tr = next(p for p in cs[0].pairs if p.kind == "translation")
    assert tr.original == cs[0].members[0].id


def test_html_escapes_titles_and_refuses_javascript_urls(catalog, tmp_path):
    out = tmp_path / "r.html"
    assert write_report(catalog, out) == 2
    page = out.read_text(encoding="utf-8")
    assert XSS_TITLE not in page and "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page.lower()
    assert "javascript:alert(document.cookie)" in page  # shown as text, not linked
    assert 'href="https://en.example/story"' in page
    assert "#2 translates #1" in page
    # Self-contained: nothing fetched from elsewhere.
    assert "<link" not in page and "src=" not in page and "@import" not in page


def test_json_and_csv(catalog, tmp_path):
    write_report(catalog, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    first = data["clusters"][0]
    assert first["first"] == "https://en.example/story"
    assert {p["kind"] for p in first["pairs"]} == {"translation", "repost"}
    assert next(p for p in first["pairs"] if p["kind"] == "translation")["original"] == "https://en.example/story"
    write_report(catalog, tmp_path / "r.txt", fmt="csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.txt").read_text(encoding="utf-8"))))
    assert len(rows) == 3
    assert all(not r["b_title"].startswith("=") and not r["a_title"].startswith("=") for r in rows)
    with pytest.raises(ValueError):
        write_report(catalog, tmp_path / "r.x", fmt="pdf")


@pytest.mark.parametrize("url,ok", [
    ("https://a.example/x", True), ("http://a.example", True), ("javascript:alert(1)", False),
    (" JavaScript:alert(1)", False), ("java\tscript:alert(1)", False), ("data:text/html,x", False),
    ("//evil.example/x", False), ("", False), (None, False),
])
def test_safe_href(url, ok):
    assert (safe_href(url) is not None) == ok


def test_missing_catalog(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "none.sqlite3", tmp_path / "r.html")
