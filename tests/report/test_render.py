"""The report from a small catalog: orientation, order, wording, filters, and hostile strings kept inert."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, datetime

import pytest

from crawler.dedup.clusters import build_clusters, duration_words, member_words
from crawler.dedup.features import Article, compute_signals
from crawler.dedup.store import ArticleStore
from crawler.errors import CatalogMissing, ConfigError
from crawler.report.build import make_filters, parse_time, write_report
from crawler.report.links import replay_href, safe_href

XSS_TITLE = "<script>alert(1)</script>"
NOW = datetime(2024, 5, 2, tzinfo=UTC)


def _add(store: ArticleStore, url: str, lang: str, title: str, published: str, source: str) -> int:
    art = Article(
        url=url,
        lang=lang,
        text=title + " body CVE-2024-1709 LockBit",
        title=title,
        source=source,
        published=published,
        fetched_at="2024-05-01T00:00:00+00:00",
    )
    return store.insert(art, compute_signals(art))


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "dedup.sqlite3"
    with ArticleStore(path) as store:
        en = _add(
            store, "https://en.example/story", "en", "LockBit hits hospital", "2024-03-01T10:00:00+00:00", "bleeping"
        )
        zh = _add(store, "https://zh.example/a", "zh", XSS_TITLE, "2024-03-02T13:00:00+00:00", "4hou")
        evil = _add(
            store, "javascript:alert(document.cookie)", "zh", '=HYPERLINK("x")', "2024-03-03T08:00:00+00:00", ""
        )
        other = _add(store, "https://x.example/1", "en", "Unrelated A", "2024-05-01T00:00:00+00:00", "wire")
        other2 = _add(store, "https://y.example/2", "en", "Unrelated B", "2024-04-30T22:00:00+00:00", "week")
        # stored with the translation second: the report must still put the original first
        store.add_flag(zh, en, "translation", 0.2, "content+link", {"original": "https://en.example/story"})
        store.add_flag(evil, zh, "repost", 0.95, "content", {})
        store.add_flag(other, other2, "same_story", 0.47, "content", {})
        store.commit()
    return path


def test_newest_cluster_first_original_first_and_wording(catalog):
    with ArticleStore(catalog) as store:
        cs = build_clusters(store)
    assert [len(c.members) for c in cs] == [2, 3]  # the May story is the newest
    assert cs[0].original.url == "https://y.example/2"  # published two hours earlier
    assert member_words(cs[0].members[1]) == "same story, also reported by wire, 2 h later"
    lock = cs[1]
    assert [m.url for m in lock.members] == [
        "https://en.example/story",
        "https://zh.example/a",
        "javascript:alert(document.cookie)",
    ]
    assert member_words(lock.members[1]) == "translated by 4hou, 1 day 3 h later"
    tr = next(r for r in lock.relations if r.kind == "translation")
    assert (tr.a.url, tr.b.url, tr.confidence) == ("https://en.example/story", "https://zh.example/a", "link")
    story = cs[0].relations[0]
    assert story.confidence == "borderline"  # 0.47 against a 0.45 threshold, no link
    assert "cve-2024-1709" in tr.shared_anchors


@pytest.mark.parametrize(
    "seconds,words",
    [
        (None, ""),
        (30, "at the same time"),
        (45 * 60, "45 min later"),
        (-2 * 3600, "2 h earlier"),
        (86400 + 3 * 3600 + 120, "1 day 3 h later"),
        (3 * 86400, "3 days later"),
    ],
)
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words


def test_html_escapes_titles_and_links_only_http(catalog, tmp_path):
    out = tmp_path / "r.html"
    assert write_report(catalog, out) == 2
    page = out.read_text(encoding="utf-8")
    assert XSS_TITLE not in page and "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page.lower()
    assert "javascript:alert(document.cookie)" in page  # shown as text, not linked
    assert 'href="https://en.example/story"' in page
    assert "translated by 4hou, 1 day 3 h later" in page
    assert "confirmed by a source link" in page and "borderline" in page
    assert "newsarchive get https://en.example/story" in page  # no replay server: the command
    # Self-contained: charts are data: images, no external resource, no script allowed.
    assert "<link" not in page and "@import" not in page and 'http-equiv="Content-Security-Policy"' in page
    assert "script-src 'none'" in html.unescape(page)
    assert page.count('src="data:image/svg+xml;base64,') >= 2
    assert 'src="http' not in page


def test_replay_links_when_a_replay_server_is_named(catalog, tmp_path):
    write_report(catalog, tmp_path / "r.html", replay_base="http://127.0.0.1:8090")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:8090/archive/20240501000000/https://en.example/story"' in page
    assert replay_href("http://r", "javascript:alert(1)", None) is None


def test_csv_rows_bom_and_orientation(catalog, tmp_path):
    write_report(catalog, tmp_path / "r.csv")
    raw = (tmp_path / "r.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 3
    tr = next(r for r in rows if r["kind"] == "translation")
    assert (tr["a_url"], tr["a_source"], tr["a_lang"]) == ("https://en.example/story", "bleeping", "en")
    assert (tr["b_url"], tr["b_source"], tr["b_lang"]) == ("https://zh.example/a", "4hou", "zh")
    assert tr["confidence"] == "confirmed by a source link" and tr["score"] == "0.200" and tr["b_delay"] == "27.0 h"
    assert all(not r["b_title"].startswith("=") and not r["a_title"].startswith("=") for r in rows)
    assert {r["cluster"] for r in rows} == {str(min_id) for min_id in (1, 4)}


def test_json_metadata_and_same_orientation(catalog, tmp_path):
    write_report(catalog, tmp_path / "r.json", filters=make_filters(langs=["zh"]))
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    meta = data["report"]
    assert meta["filters"]["langs"] == ["zh"] and meta["totals"]["clusters"] == 1
    assert meta["totals"]["by_kind"] == {"translation": 1, "repost": 1}
    (c,) = data["clusters"]
    assert c["original"] == "https://en.example/story"
    tr = next(r for r in c["relations"] if r["kind"] == "translation")
    assert (tr["a"], tr["b"]) == ("https://en.example/story", "https://zh.example/a")
    assert c["members"][1]["words"] == "translated by 4hou, 1 day 3 h later"


@pytest.mark.parametrize(
    "kw,expected",
    [
        ({}, 2),
        ({"since": "2024-04-01"}, 1),
        ({"until": "2024-03-02"}, 1),  # a date includes that whole day
        ({"since": "2024-03-04", "until": "2024-04-29"}, 0),
        ({"sources": ["4hou"]}, 1),
        ({"sources": ["wire", "4hou"]}, 2),
        ({"langs": ["zh"]}, 1),
        ({"kinds": ["same_story"]}, 1),
        ({"kinds": ["repost"], "langs": ["en"]}, 1),
        ({"since": "3d"}, 1),  # from NOW: 2024-04-29
    ],
)
def test_filters(catalog, kw, expected):
    with ArticleStore(catalog) as store:
        cs = build_clusters(store, make_filters(**kw, now=NOW))
    assert len(cs) == expected
    if kw.get("kinds"):
        assert all(r.kind in kw["kinds"] for c in cs for r in c.relations)


def test_bad_options(catalog, tmp_path):
    with pytest.raises(ConfigError):
        make_filters(kinds=["dupe"])
    with pytest.raises(ConfigError):
        parse_time("last tuesday")
    with pytest.raises(ConfigError):
        write_report(catalog, tmp_path / "r.x", fmt="pdf")
    with pytest.raises(CatalogMissing):
        write_report(tmp_path / "none.sqlite3", tmp_path / "r.html")


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://a.example/x", True),
        ("http://a.example", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,x", False),
        ("//evil.example/x", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_href(url, ok):
    assert (safe_href(url) is not None) == ok


def test_nothing_to_report_says_so(catalog, tmp_path):
    assert write_report(catalog, tmp_path / "r.html", filters=make_filters(since="2030-01-01")) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No clusters match these filters." in page and "data:image/svg" not in page
    write_report(catalog, tmp_path / "s.html", filters=make_filters(kinds=["same_story"]))
    page = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert "No translations in this range." in page and page.count("data:image/svg") == 1  # relations by kind


def test_briefs_carry_the_anchors_without_decoding_signals(catalog):
    with ArticleStore(catalog) as store:
        briefs = store.briefs([1, 2, 99])
        assert sorted(briefs) == [1, 2]
        assert "cve-2024-1709" in briefs[1].anchors and briefs[2].title == XSS_TITLE
        assert briefs[1].when == datetime(2024, 3, 1, 10, tzinfo=UTC).timestamp()
        full = store.get(1)
        assert set(briefs[1].anchors) == set(full.signals.anchors)
