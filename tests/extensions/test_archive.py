"""The archive extension built as Scrapy builds it: settings in, signals wired, stats counted, engine paused.

No reactor and no subprocess: the worker is started and closed directly (spider_opened/closed hop to
threads through the reactor; the crawl tests cover them), signals are sent through the crawler.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request, Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from crawler import settings as project_settings
from crawler import signals as na_signals
from crawler.extensions.archive import WarcArchiveExtension
from crawler.meta import REASON_META_KEY, RESPONSE_ID_META_KEY, WARC_DATE_META_KEY


class Engine:
    """Stands in for the engine's pause()/unpause() (the only engine calls the extension makes)."""

    def __init__(self) -> None:
        self.paused = False
        self.calls: list[str] = []

    def pause(self) -> None:
        self.paused = True
        self.calls.append("pause")

    def unpause(self) -> None:
        self.paused = False
        self.calls.append("unpause")


#: The project's archive settings (crawler/settings.py), without its component maps.
ARCHIVE_SETTINGS = {k: getattr(project_settings, k) for k in dir(project_settings)
                    if k.startswith(("ARCHIVE_", "WARC_"))}


def make(tmp_path: Path, **settings):
    crawler = get_crawler(Spider, {**ARCHIVE_SETTINGS, "ARCHIVE_URI": str(tmp_path / "archive"), **settings})
    crawler.stats.open_spider()
    return crawler, build_from_crawler(WarcArchiveExtension, crawler)


def download(crawler, url: str = "http://127.0.0.1:8/a", body: bytes = b"<html>hi</html>") -> Request:
    request = Request(url, meta={REASON_META_KEY: "Fine Thanks"})
    response = Response(url, status=200, headers={"Content-Type": "text/html", "Set-Cookie": ["a=1", "b=2"]},
                        body=body, request=request)
    # as the engine sends it: with a spider argument the handler does not take
    crawler.signals.send_catch_log(signals.response_downloaded, response=response, request=request,
                                   spider=Spider("s"))
    return request


def warc_records(archive: Path) -> list:
    out = []
    for path in sorted((archive / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as f:
            for r in ArchiveIterator(f):
                out.append((r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                            r.http_headers.statusline if r.http_headers else None,
                            r.rec_headers.get_header("WARC-Record-ID")))
    return out


@pytest.mark.parametrize("settings, message", [({"ARCHIVE_ENABLED": False}, "ARCHIVE_ENABLED is off"),
                                               ({"ARCHIVE_URI": ""}, "ARCHIVE_URI must be")])
def test_not_configured(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(NotConfigured, match=message):
        make(tmp_path, **settings)


def test_capture_sets_the_ids_the_spider_reads_and_writes_the_exchange(tmp_path: Path) -> None:
    crawler, ext = make(tmp_path)
    ext.worker.start("job")
    request = download(crawler)
    crawler.signals.send_catch_log(na_signals.warc_metadata, url="http://127.0.0.1:8/a",
                                   refers_to=request.meta[RESPONSE_ID_META_KEY], payload=b'{"k": 1}',
                                   content_type="application/json")
    assert ext.worker.close(timeout=10) == 0
    assert request.meta[RESPONSE_ID_META_KEY].startswith("<urn:uuid:")
    assert request.meta[WARC_DATE_META_KEY].endswith("Z")
    recs = warc_records(tmp_path / "archive")
    assert [r[0] for r in recs] == ["warcinfo", "request", "response", "metadata"]
    assert recs[2][2] == "200 Fine Thanks" and recs[2][3] == request.meta[RESPONSE_ID_META_KEY]
    stats = crawler.stats.get_stats()
    assert stats["archive/responses"] == 1 and stats["archive/metadata"] == 1
    assert stats["archive/records_written"] == 3 and stats["archive/files_published"] == 1
    assert stats["archive/queue_max_bytes"] >= len(b"<html>hi</html>")  # high-water mark of queued bytes


def test_downloads_pause_over_the_limit_and_resume_when_drained(tmp_path: Path) -> None:
    crawler, ext = make(tmp_path, ARCHIVE_QUEUE_MAX_BYTES=10)
    crawler.engine = Engine()
    download(crawler, body=b"x" * 11)  # the writer is not running yet: the queue stays over the limit
    assert crawler.engine.calls == ["pause"]
    download(crawler, "http://127.0.0.1:8/b", body=b"x" * 11)
    assert crawler.engine.calls == ["pause"]  # decided once
    assert crawler.stats.get_value("archive/backpressure_pauses") == 1
    woken = []
    ext.worker._on_wake = lambda: woken.append(1)  # the reactor hop (_wake) needs a running reactor
    ext.worker.start()
    assert ext.worker.close(timeout=10) == 0
    assert woken  # the writer told the paused producer
    ext._apply_pressure()  # what the woken reactor does
    assert crawler.engine.calls == ["pause", "unpause"] and not crawler.engine.paused


def test_second_signal_stops_the_worker_now(tmp_path: Path) -> None:
    crawler, ext = make(tmp_path)
    ext.worker.start()
    download(crawler)
    crawler.signals.send_catch_log(na_signals.stop_requested, force=False)
    assert ext.interrupted and ext.worker._thread.is_alive()  # a first signal only hurries storage
    crawler.signals.send_catch_log(na_signals.stop_requested, force=True)
    ext.worker._thread.join(5)
    assert not ext.worker._thread.is_alive()


def test_engine_stop_without_a_close_leaves_no_thread(tmp_path: Path) -> None:
    """A spider stopped while opening never closes: engine_stopped ends the worker's threads."""
    crawler, ext = make(tmp_path)
    ext.worker.start()
    crawler.signals.send_catch_log(signals.engine_stopped)
    ext.worker._thread.join(5)
    ext.worker.uploader._thread.join(5)
    assert not ext.worker._thread.is_alive() and not ext.worker.uploader._thread.is_alive()


def test_the_extension_stays_glue() -> None:
    """Thread, queue and backpressure live in crawler/archive/worker.py; the module imports no threading."""
    import crawler.extensions.archive as module

    source = Path(module.__file__).read_text()
    assert "import threading" not in source and "import queue" not in source
    assert "deferToThread" not in source
