"""DedupPipeline built as Scrapy builds it: items get duplicates, html goes, a metadata record is asked for;
the work runs in the dedup process, never the crawl's."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet import defer

from crawler.dedup.service import DedupUnavailable
from crawler.pipelines.dedup import DedupPipeline
from crawler.signals import dedup_catalog_closed, warc_metadata
from tests.dedup import dedup_site

BASE = "http://127.0.0.1:8123"


def make_pipeline(settings):
    from crawler import settings as project

    crawler = get_crawler(Spider, {"DEDUP_QUEUE_BYTES": project.DEDUP_QUEUE_BYTES,
                                   "DEDUP_WAIT_BYTES": project.DEDUP_WAIT_BYTES, **settings})
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
    """Drive one of the pipeline's coroutines: with the reactor hops made blocking it never suspends."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine suspended")


@pytest.fixture
def inline(monkeypatch):
    """The pipeline's hops back to the reactor, made blocking: the test needs no running reactor. The
    dedup process is real: these tests wait for its answers."""
    monkeypatch.setattr(DedupPipeline, "_deferred", lambda self, answer: defer.maybeDeferred(answer.result, 60))
    monkeypatch.setattr("crawler.pipelines.dedup.in_daemon_thread", lambda f, *a, name: defer.maybeDeferred(f, *a))
    monkeypatch.setattr("crawler.pipelines.dedup.maybe_deferred_to_future", lambda d: d)


def test_process_items(tmp_path, inline):
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
    child = pipe.service
    run(pipe.close_spider())
    assert closed == [tmp_path / "d.sqlite3"]  # announced once settled and closed (the feeds are rewritten from it)
    assert child.wait(0) == 0, "the dedup process closed the catalog and exited"

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
    assert stats["dedup/settled"] == 3 and "dedup/deferred" not in stats and "dedup/worker_died" not in stats


def test_language_from_text_overrides_declared(tmp_path, inline):
    """A site declared "en" with a Chinese post: the item's lang is the text's, source_lang the site's."""
    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    zh = run(pipe.process_item({**item_for("/zh/lockbit-logistics", 1), "lang": "en"}))
    en = run(pipe.process_item(item_for("/en/lockbit-school", 2)))
    run(pipe.close_spider())
    assert (zh["lang"], zh["source_lang"]) == ("zh", "en")
    assert (en["lang"], en["source_lang"]) == ("en", "en")
    assert crawler.stats.get_value("dedup/lang_overridden") == 1


def test_analysis_runs_in_the_dedup_process(tmp_path, inline):
    """Extraction and detection never run in the crawl's process: the child that answers has its own pid,
    its parent is the crawl, and it holds the catalog."""
    import psutil

    _crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    try:
        answer = pipe.service.analyse(item_for("/en/lockbit-hospital", 1)).result(60)
        assert answer.pid == pipe.service.pid != os.getpid()
        child = psutil.Process(answer.pid)
        assert child.ppid() == os.getpid() and "crawler.dedup.service" in " ".join(child.cmdline())
        assert str(tmp_path / "d.sqlite3") in {f.path for f in child.open_files()}
    finally:
        run(pipe.close_spider())


def test_a_full_backlog_defers_the_page(tmp_path, inline):
    """DEDUP_QUEUE_BYTES, and the spill on disk beyond it (SPILL_FACTOR times that), smaller than a
    page: it is archived unanalysed, counted, and the crawl goes on."""
    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3"), "DEDUP_QUEUE_BYTES": 300})
    assert pipe.spill_bytes < min(len(item_for(p, 0)["html"]) for p in ("/en/lockbit-hospital", "/en/lockbit-school"))
    sent = []
    crawler.signals.connect(lambda **kw: sent.append(kw), signal=warc_metadata, weak=False)
    pipe.open_spider()
    items = [run(pipe.process_item(item_for(p, n))) for n, p in enumerate(["/en/lockbit-hospital", "/en/lockbit-school"])]
    run(pipe.close_spider())
    assert all("html" not in it and "duplicates" not in it for it in items)
    assert sent == [] and crawler.stats.get_value("dedup/deferred") == 2
    assert crawler.stats.get_value("dedup/articles") is None


def test_behind_a_backlog_the_item_goes_on_and_the_answer_writes_the_record(tmp_path, inline):
    """DEDUP_WAIT_BYTES=0: no item waits for its flags, but no page is deferred either: each answer,
    when it comes, asks for the metadata record and the catalog holds the page."""
    from crawler.dedup.store import ArticleStore

    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3"), "DEDUP_WAIT_BYTES": 0})
    sent = []
    crawler.signals.connect(lambda **kw: sent.append(kw), signal=warc_metadata, weak=False)
    pipe.open_spider()
    paths = ["/en/lockbit-hospital", "/zh/lockbit-hospital"]
    items = [run(pipe.process_item(item_for(p, n))) for n, p in enumerate(paths)]
    broken = run(pipe.process_item({**item_for("/en/lockbit-school", 9), "url": BASE + "/empty", "html": "<p></p>"}))
    run(pipe.close_spider())
    assert all("html" not in it and "duplicates" not in it for it in [*items, broken])
    assert [kw["url"] for kw in sent] == [BASE + p for p in paths]
    assert sent[1]["refers_to"] == "<urn:uuid:00000000-0000-0000-0000-000000000001>"
    stats = crawler.stats.get_stats()
    assert stats["dedup/analysed_after_item"] == 3 and stats["dedup/articles"] == 2
    assert stats["dedup/extract_failures"] == 1 and stats["dedup/flags/translation"] == 1
    assert "dedup/deferred" not in stats
    store = ArticleStore(tmp_path / "d.sqlite3")
    try:
        assert store.count() == 2 and store.count_flags() == 1
    finally:
        store.close()


def test_close_waits_while_the_child_answers(tmp_path):
    """A backlog longer to work through than close_timeout is not given up on: only silence is."""
    _crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    service = pipe.service

    def page(n):
        return item_for("/zh/lockbit-hospital" if n % 2 else "/en/lockbit-hospital", n)

    service.analyse(page(0)).result(60)  # the catalog open, the code loaded
    start = time.monotonic()  # the pace of a backlog: pages sent together, not one round trip each
    for answer in [service.analyse(page(n)) for n in range(1, 51)]:
        answer.result(60)
    each = (time.monotonic() - start) / 50
    # A page may take many times the mean on a busy machine: the child runs niced, and other
    # processes at normal priority can hold both cores for a while (0.5 s was seen exceeded).
    pipe.close_timeout = max(2.0, 6 * each)
    # a backlog about three timeouts long at the measured pace, however fast this machine is
    backlog = [service.analyse(page(n)) for n in range(51, 51 + min(20000, int(3 * pipe.close_timeout / each) + 1))]
    start = time.monotonic()
    assert pipe._settle_and_close(service) == 2  # two URLs, each crawled again and again
    assert time.monotonic() - start > pipe.close_timeout  # longer than the timeout, and not given up on
    assert all(a.done() and a.exception() is None for a in backlog) and service.wait(0) == 0


def test_a_dead_dedup_process_defers_later_pages(tmp_path, inline):
    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    first = run(pipe.process_item(item_for("/en/lockbit-hospital", 1)))
    child = pipe.service
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    later = run(pipe.process_item(item_for("/zh/lockbit-hospital", 2)))
    run(pipe.close_spider())  # no settle, no hang; the catalog is still announced
    assert "duplicates" in first and "duplicates" not in later and "html" not in later
    assert crawler.stats.get_value("dedup/deferred") == 1 and crawler.stats.get_value("dedup/articles") == 1


@pytest.mark.parametrize("signal_name, kwargs", [("engine_stopped", {}), ("stop_requested", {"force": True})])
def test_process_ends_without_close_spider(tmp_path, inline, signal_name, kwargs):
    """Ctrl-C while the spider opens: close_spider never runs, the engine stop (or a second Ctrl-C) kills the child."""
    from scrapy import signals

    from crawler import signals as na_signals

    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    child = pipe.service
    signal = getattr(signals, signal_name, None) or getattr(na_signals, signal_name)
    crawler.signals.send_catch_log(signal, **kwargs)
    assert child.wait(10) is not None and not child.running
    with pytest.raises(DedupUnavailable):
        child.settle().result(1)
    run(pipe.close_spider())  # still safe afterwards


def test_a_first_ctrl_c_keeps_the_process_for_the_items_in_flight(tmp_path, inline):
    from crawler import signals as na_signals

    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    pipe.open_spider()
    crawler.signals.send_catch_log(na_signals.stop_requested, force=False)
    assert pipe.service.running and pipe.service.wait(0.5) is None
    item = run(pipe.process_item(item_for("/en/lockbit-hospital", 1)))
    assert "duplicates" in item
    run(pipe.close_spider())


@pytest.fixture
def answers_on_arrival(monkeypatch):
    """As ``inline``, but an answer no item waits for fires when it arrives (on the service's reader
    thread) instead of being waited for: the pages go on while the dedup process is busy."""
    from twisted.python.failure import Failure

    def deferred(self, answer):
        d = defer.Deferred()

        def fire(done):
            error = done.exception()
            d.callback(done.result()) if error is None else d.errback(Failure(error))

        answer.add_done_callback(fire)
        return d

    monkeypatch.setattr(DedupPipeline, "_deferred", deferred)
    monkeypatch.setattr("crawler.pipelines.dedup.in_daemon_thread", lambda f, *a, name: defer.maybeDeferred(f, *a))
    monkeypatch.setattr("crawler.pipelines.dedup.maybe_deferred_to_future", lambda d: d)


SPILL_PATHS = ["/en/lockbit-hospital", "/zh/lockbit-hospital", "/en/lockbit-school", "/zh/lockbit-logistics"]


def big_item(path, n):
    """A page larger than a pipe's buffer (64 KB): one sent waits in the pipe until the child reads it."""
    item = item_for(path, n)
    return {**item, "html": item["html"].replace("</body>", "<!--" + "x" * 70_000 + "--></body>")}


def spilling_pipeline(tmp_path):
    """A backlog of one page in memory: while the dedup process starts, the next pages wait on disk."""
    crawler, pipe = make_pipeline({"DEDUP_CATALOG": str(tmp_path / "d.sqlite3"), "DEDUP_QUEUE_BYTES": 80_000,
                                   "DEDUP_WAIT_BYTES": 0})
    sent = []
    crawler.signals.connect(lambda **kw: sent.append(kw["url"]), signal=warc_metadata, weak=False)
    return crawler, pipe, sent


def test_pages_waiting_on_disk_go_to_the_running_process_at_the_end(tmp_path, answers_on_arrival):
    """Pages beyond DEDUP_QUEUE_BYTES are not deferred while the spill has room: at the end the running
    dedup process analyses them before it settles, so every page is in the catalog with its record
    and the catch-up after the crawl has nothing to do."""
    from crawler.dedup.store import ArticleStore

    crawler, pipe, sent = spilling_pipeline(tmp_path)
    pipe.open_spider()
    items = [run(pipe.process_item(big_item(p, n))) for n, p in enumerate(SPILL_PATHS)]
    spilled = pipe.service.spilled_pages
    run(pipe.close_spider())
    stats = crawler.stats.get_stats()
    assert spilled >= 1 and stats["dedup/spilled"] == spilled and "dedup/deferred" not in stats
    assert all("html" not in it for it in items)
    assert sorted(sent) == sorted(BASE + p for p in SPILL_PATHS) and stats["dedup/articles"] == len(SPILL_PATHS)
    store = ArticleStore(tmp_path / "d.sqlite3")
    try:
        assert store.count() == len(SPILL_PATHS) and store.count_flags() >= 1
    finally:
        store.close()


def test_pages_waiting_on_disk_are_left_to_the_catchup_when_it_is_sooner(tmp_path, answers_on_arrival, monkeypatch):
    """When the running process would take longer than WARM_TAIL_SECONDS for them, the pages still on
    disk are given back unanalysed: counted deferred, no record, for the catch-up from the archive."""
    monkeypatch.setattr("crawler.pipelines.dedup.WARM_TAIL_SECONDS", 0.0)
    crawler, pipe, sent = spilling_pipeline(tmp_path)
    pipe.open_spider()
    service = pipe.service
    items = [{**big_item(p, n), "url": f"{BASE}{p}?{n}"} for n, p in enumerate(SPILL_PATHS + SPILL_PATHS[:1])]
    for item in items:
        run(pipe.process_item(item))
    deadline = time.monotonic() + 60
    while service.cpu_per_page is None and time.monotonic() < deadline:  # its pace known: the first answer
        time.sleep(0.005)
    assert service.spill_pages >= 2
    run(pipe.close_spider())
    stats = crawler.stats.get_stats()
    # the oldest DEDUP_QUEUE_BYTES (one page) stay for the dedup process, as a backlog in memory would
    assert stats["dedup/deferred"] >= 1 and stats["dedup/spilled"] == len(items) - 1
    assert stats["dedup/articles"] == len(sent) == len(items) - stats["dedup/deferred"] >= 2


def test_a_killed_dedup_process_leaves_the_pages_on_disk_deferred(tmp_path, answers_on_arrival):
    """Pages waiting on disk when the dedup process dies are counted deferred (the catch-up analyses
    them from the archive): none is lost, and the end of the crawl does not hang."""
    crawler, pipe, sent = spilling_pipeline(tmp_path)
    pipe.open_spider()
    for n, p in enumerate(SPILL_PATHS):
        run(pipe.process_item(big_item(p, n)))
    child = pipe.service
    assert child.spilled_pages >= 1
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    run(pipe.close_spider())
    stats = crawler.stats.get_stats()
    assert stats.get("dedup/articles", 0) + stats["dedup/deferred"] == len(SPILL_PATHS) == len(sent) + stats["dedup/deferred"]
