"""SettledFeedsExtension built as Scrapy builds it: which feeds it rewrites, and from which catalog."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.dedup.detector import Detector
from crawler.dedup.export import settled_duplicates
from crawler.dedup.store import ArticleStore
from crawler.extensions.settled_feeds import SettledFeedsExtension, json_layout, local_feed_path
from crawler.signals import dedup_catalog_closed
from tests.dedup.test_detector import BASE, site_articles

HOSPITAL = BASE + "/en/lockbit-hospital"


def make(settings: dict) -> SettledFeedsExtension:
    crawler = get_crawler(Spider, settings)
    crawler.stats.open_spider()
    return build_from_crawler(SettledFeedsExtension, crawler)


@pytest.mark.parametrize("uri,path", [
    ("articles.jsonl", Path("articles.jsonl")),
    ("/tmp/x/a.json", Path("/tmp/x/a.json")),
    ("file:///tmp/x/a%20b.jsonl", Path("/tmp/x/a b.jsonl")),
    ("s3://bucket/a.jsonl", None),
    ("ftp://host/a.jsonl", None),
    ("items-%(batch_id)d.jsonl", None),
])
def test_local_feed_path(uri: str, path: Path | None) -> None:
    assert local_feed_path(uri) == path


def test_json_layout_by_exporter_not_by_name() -> None:
    settings = get_crawler(Spider, {"FEED_EXPORTERS": {"ndjson": "scrapy.exporters.JsonLinesItemExporter"}}).settings
    got = {fmt: json_layout(settings, fmt) for fmt in ("jsonlines", "jsonl", "jl", "ndjson", "json", "csv", "xml", "x")}
    assert got == {"jsonlines": "jsonlines", "jsonl": "jsonlines", "jl": "jsonlines", "ndjson": "jsonlines",
                   "json": "json", "csv": None, "xml": None, "x": None}


@pytest.mark.parametrize("settings", [{"FEEDS": {}}, {"FEEDS": {"a.jsonl": {}}, "DEDUP_ENABLED": False}])
def test_not_configured(settings: dict) -> None:
    with pytest.raises(NotConfigured):
        make(settings)


def test_rewrites_local_json_feeds_from_the_announced_catalog(tmp_path: Path, caplog) -> None:
    catalog = tmp_path / "dedup.sqlite3"
    with ArticleStore(catalog) as store:
        det = Detector(store)
        for art in site_articles().values():
            det.add(art)
        det.settle()
        expected = settled_duplicates(store, HOSPITAL)
    stale = json.dumps({"url": HOSPITAL, "duplicates": []}) + "\n"
    jsonl, csv, gz = tmp_path / "a.jsonl", tmp_path / "a.csv", tmp_path / "b.jsonl.gz"
    for f in (jsonl, csv, gz):
        f.write_text(stale)
    ext = make({"FEEDS": {str(jsonl): {"format": "jsonl"}, str(csv): {"format": "csv"},
                          str(gz): {"format": "jsonlines", "postprocessing": ["scrapy.extensions.postprocessing.GzipPlugin"]},
                          str(tmp_path / "never-written.jsonl"): {"format": "jsonlines"}}})
    assert ext.engine_stopped() is None  # the pipeline never announced a catalog: nothing to do
    ext.crawler.signals.send_catch_log(signal=dedup_catalog_closed, catalog=catalog)
    with caplog.at_level(logging.WARNING):
        ext._settle_all(catalog)
    assert json.loads(jsonl.read_text())["duplicates"] == expected and expected
    assert csv.read_text() == gz.read_text() == stale
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and all("newsarchive dups" in m for m in warned)
    assert ext.crawler.stats.get_value("dedup/feed_items_settled") == 1
