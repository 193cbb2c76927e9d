"""DedupPipeline built as Scrapy builds it: items get duplicates, html goes, a metadata record is asked for."""

from __future__ import annotations

import json

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet import defer

from crawler.pipelines.dedup import DedupPipeline
from crawler.signals import dedup_catalog_closed, warc_metadata
from tests.dedup import dedup_site

BASE = "http://127.0.0.1:8123"


def make_pipeline(settings):
    crawler = get_crawler(Spider, settings)
    crawler.stats.open_spider()
    return crawler, build_from_crawler(DedupPipeline, crawler)


def item_for(path, n):
    _ctype, html = dedup_site.PAGES[path]
    return {
        "url": BASE + path, "source": "test", "lang": path.split("/")[1], "html": html.replace("{base}", BASE),
        "fetched_at": "2024-03-06T00:00:00Z", "warc_record_id": f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>",
        "status": 200,
    }


def test_disabled():
    with pytest.raises(NotConfigured):
        make_pipeline({"DEDUP_ENABLED": False, "DEDUP_CATALOG": "x"})


def test_default_catalog_beside_the_capture_catalog(tmp_path):
    from crawler.archive.archive import Archive

    _crawler, pipe = make_pipeline({"ARCHIVE_URI": str(tmp_path / "arch")})
    assert pipe.catalog == tmp_path / "arch" / "dedup.sqlite3"
    _crawler, pipe = make_pipeline({"ARCHIVE_URI": "s3://bucket/prefix", "ARCHIVE_CACHE_DIR": str(tmp_path / "c")})
    assert pipe.catalog.parent.parent == tmp_path / "c"
    # the CLI (`newsarchive dups`) looks in the same place
    archive = Archive.open("s3://bucket/prefix", cache_dir=tmp_path / "c", storage=object())
    assert archive.state_dir / "dedup.sqlite3" == pipe.catalog


def run(coro):
    """Drive the pipeline's coroutine: with the thread hop made synchronous it never suspends."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("process_item suspended")


def test_process_items(tmp_path, monkeypatch):
    # The pipeline's thread hop, run inline: the test needs no running reactor.
    monkeypatch.setattr(DedupPipeline, "_in_worker", lambda self, f, *a: defer.maybeDeferred(f, *a))
    monkeypatch.setattr("crawler.pipelines.dedup.maybe_deferred_to_future", lambda d: d)
    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    sent = []
    def on_metadata(**kw):
        sent.append(kw)

    crawler.signals.connect(on_metadata, signal=warc_metadata)
    closed = []
    crawler.signals.connect(lambda catalog: closed.append(catalog), signal=dedup_catalog_closed, weak=False)
    pipe.open_spider()
    out = []
    for n, path in enumerate(["/en/lockbit-hospital", "/zh/lockbit-hospital", "/en/lockbit-school"]):
        out.append(run(pipe.process_item(item_for(path, n))))
    broken = run(pipe.process_item({**item_for("/en/lockbit-school", 9), "url": BASE + "/empty", "html": "<html></html>"}))
    passthrough = run(pipe.process_item({"url": BASE + "/feed"}))
    assert closed == []
    pipe.close_spider()
    assert closed == [tmp_path / "d.sqlite3"]  # announced once settled and closed (the feeds are rewritten from it)

    assert all("html" not in it for it in out) and "html" not in broken and passthrough == {"url": BASE + "/feed"}
    zh = out[1]
    assert [(d["url"], d["kind"]) for d in zh["duplicates"]] == [(BASE + "/en/lockbit-hospital", "translation")]
    assert zh["title"] and "LockBit" in zh["text"] and zh["signals"]["simhash"]
    assert out[2]["duplicates"] == []
    assert len(sent) == 3
    first = sent[1]
    assert first["url"] == BASE + "/zh/lockbit-hospital"
    assert first["refers_to"] == "<urn:uuid:00000000-0000-0000-0000-000000000001>"
    assert first["content_type"] == "application/json"
    payload = json.loads(first["payload"])
    assert payload["schema"] == 2 and payload["lang"] == "zh" and payload["extraction"]["text"]
    assert "duplicates" not in payload  # the catalog's flags change after the record is written
    stats = crawler.stats.get_stats()
    assert stats["dedup/articles"] == 3 and stats["dedup/extract_failures"] == 1
    assert stats["dedup/flags/translation"] == 1 and stats["dedup/near_duplicates"] == 1


def test_language_from_text_overrides_declared(tmp_path, monkeypatch):
    """A site declared "en" with a Chinese post: the item's lang is the text's, source_lang the site's."""
    monkeypatch.setattr(DedupPipeline, "_in_worker", lambda self, f, *a: defer.maybeDeferred(f, *a))
    monkeypatch.setattr("crawler.pipelines.dedup.maybe_deferred_to_future", lambda d: d)
    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    zh = run(pipe.process_item({**item_for("/zh/lockbit-logistics", 1), "lang": "en"}))
    en = run(pipe.process_item(item_for("/en/lockbit-school", 2)))
    pipe.close_spider()
    assert (zh["lang"], zh["source_lang"]) == ("zh", "en")
    assert (en["lang"], en["source_lang"]) == ("en", "en")
    assert crawler.stats.get_value("dedup/lang_overridden") == 1


def test_work_runs_on_one_dedicated_thread(tmp_path):
    """Extraction and detection never run on the reactor's shared pool: one thread of its own, a
    daemon (it can never keep the process alive), stopped when the spider closes."""
    _crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    thread = pipe._pool.thread
    try:
        assert thread.name == "dedup" and thread.daemon and thread.is_alive()
    finally:
        pipe.close_spider()
    assert pipe._pool is None and not thread.is_alive()


@pytest.mark.parametrize("signal_name, kwargs", [("engine_stopped", {}), ("stop_requested", {"force": True})])
def test_thread_stops_without_close_spider(tmp_path, signal_name, kwargs):
    """Ctrl-C while the spider opens: close_spider never runs, the engine stop (or a second Ctrl-C) ends the thread."""
    from scrapy import signals

    from crawler import signals as na_signals

    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    thread = pipe._pool.thread
    signal = getattr(signals, signal_name, None) or getattr(na_signals, signal_name)
    crawler.signals.send_catch_log(signal, **kwargs)
    thread.join(5)
    assert not thread.is_alive() and pipe._pool is None
    pipe.close_spider()  # still safe afterwards: settles and closes the catalog


def test_a_first_ctrl_c_keeps_the_thread_for_the_items_in_flight(tmp_path):
    from crawler import signals as na_signals

    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    crawler.signals.send_catch_log(na_signals.stop_requested, force=False)
    assert pipe._pool is not None and pipe._pool.thread.is_alive()
    pipe.close_spider()
