"""settle_feed: exported items' duplicates rewritten from the catalog; everything else kept byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.dedup.detector import Detector
from crawler.dedup.export import settle_feed, settled_duplicates
from crawler.dedup.store import ArticleStore
from tests.dedup.test_detector import BASE, site_articles

HOSPITAL, REPOST = BASE + "/en/lockbit-hospital", BASE + "/zh/lockbit-hospital-repost"


@pytest.fixture
def store() -> ArticleStore:
    store = ArticleStore(":memory:")
    det = Detector(store)
    for art in site_articles().values():
        det.add(art)
    det.settle()
    return store


def test_jsonlines(tmp_path: Path, store: ArticleStore) -> None:
    lines = [
        json.dumps({"url": HOSPITAL, "title": "LockBit", "duplicates": []}),  # stale: exported first
        json.dumps({"url": BASE + "/feed.xml", "status": 200}),  # not an article item
        "not json at all",
        json.dumps({"url": REPOST, "title": "转载：医院", "duplicates": settled_duplicates(store, REPOST)},
                   ensure_ascii=False),  # already true
        json.dumps({"url": "https://unknown.example/", "duplicates": [{"url": HOSPITAL, "kind": "repost"}]}),
    ]
    feed = tmp_path / "items.jsonl"
    feed.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert settle_feed(feed, "jsonlines", store, encoding="utf-8") == 2
    out = feed.read_text(encoding="utf-8").splitlines()
    assert out[1:4] == lines[1:4]  # untouched lines keep their bytes
    first = json.loads(out[0])
    assert first["duplicates"] == settled_duplicates(store, HOSPITAL) and first["duplicates"]
    assert list(first) == ["url", "title", "duplicates"]  # field order kept
    assert json.loads(out[4])["duplicates"] == []  # an article the catalog does not know relates to nothing
    assert not list(tmp_path.glob("*.settling"))


def test_json_array_keeps_scrapys_layout(tmp_path: Path, store: ArticleStore) -> None:
    feed = tmp_path / "items.json"
    feed.write_text(f'[\n{{"url": "{HOSPITAL}", "duplicates": []}},\n{{"url": "x"}}\n]', encoding="utf-8")
    assert settle_feed(feed, "json", store, encoding=None, indent=0) == 1
    text = feed.read_text(encoding="utf-8")
    assert text.startswith('[\n{"url": ') and text.endswith('},\n{"url": "x"}\n]')
    assert json.loads(text)[0]["duplicates"] == settled_duplicates(store, HOSPITAL)


def test_nothing_to_change_leaves_the_file_alone(tmp_path: Path, store: ArticleStore) -> None:
    feed = tmp_path / "items.jsonl"
    feed.write_text(json.dumps({"url": HOSPITAL, "duplicates": settled_duplicates(store, HOSPITAL)}) + "\n")
    before = feed.stat()
    assert settle_feed(feed, "jsonlines", store) == 0
    assert feed.stat().st_mtime_ns == before.st_mtime_ns and feed.stat().st_ino == before.st_ino


@pytest.mark.parametrize("fmt,content", [("csv", "url,duplicates\n"), ("json", '{"url": "x"}')])
def test_refuses_what_it_cannot_rewrite(tmp_path: Path, store: ArticleStore, fmt: str, content: str) -> None:
    feed = tmp_path / "items"
    feed.write_text(content)
    with pytest.raises(ValueError):
        settle_feed(feed, fmt, store)
    assert feed.read_text() == content and not list(tmp_path.glob("*.settling"))
