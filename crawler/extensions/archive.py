"""Capture every HTTP exchange as it arrives; an ArchiveWorker writes and stores it off the reactor.

``response_downloaded`` fires before any downloader middleware touches the response: the body is
still Content-Encoded, headers are all there (``getlist``). The extension copies plain values into
an :class:`Exchange` for :class:`crawler.archive.worker.ArchiveWorker` (queue, writer thread,
uploader, backpressure) and keeps the glue: settings, signals, stats, engine pause and resume.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

from crawler import signals as na_signals
from crawler.archive.archive import Archive
from crawler.archive.records import Exchange
from crawler.archive.worker import ArchiveWorker, WriterOptions
from crawler.config import archive_from_settings, writer_options
from crawler.daemons import in_daemon_thread
from crawler.meta import REASON_META_KEY, RESPONSE_ID_META_KEY, WARC_DATE_META_KEY, WIRE_META_KEY

logger = logging.getLogger(__name__)

#: An interrupted crawl (SIGINT/SIGTERM) waits at most this long for storage at close; what is not
#: stored by then stays in the spool for the next run. The process must end within 30 s of the signal.
INTERRUPTED_UPLOAD_TIMEOUT = 10.0


def exchange_from(request: Request, response: Response) -> Exchange:
    return Exchange(
        url=response.url,
        method=request.method,
        request_headers=[(k, v) for k, vs in request.headers.items() for v in vs],
        request_body=request.body or b"",
        status=response.status,
        reason=request.meta.get(REASON_META_KEY, ""),
        protocol=response.protocol or "HTTP/1.1",
        response_headers=[(k, v) for k, vs in response.headers.items() for v in vs],
        body=response.body,
        ip_address=str(response.ip_address) if response.ip_address else None,
        date=datetime.now(timezone.utc),
        wire=request.meta.pop(WIRE_META_KEY, None),
    )


class WarcArchiveExtension:
    """Scrapy glue: settings in, signals wired, stats counted. The archive worker does the work."""

    def __init__(self, crawler: Crawler, archive: Archive, options: WriterOptions, *, queue_max_bytes: int,
                 spool_max_bytes: int, upload_close_timeout: float, upload_backoff_max: float) -> None:
        self.crawler = crawler
        self.upload_close_timeout = upload_close_timeout
        self.interrupted = self.closing = False
        self.worker = ArchiveWorker(archive, options, queue_max_bytes=queue_max_bytes, spool_max_bytes=spool_max_bytes,
                                    upload_backoff_max=upload_backoff_max, count=self._inc, on_wake=self._wake)
        for handler, signal in ((self.spider_opened, signals.spider_opened), (self.spider_closed, signals.spider_closed),
                                (self.response_downloaded, signals.response_downloaded),
                                (self.engine_stopped, signals.engine_stopped),
                                (self.metadata, na_signals.warc_metadata),
                                (self.stop_requested, na_signals.stop_requested)):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        if not s.get("ARCHIVE_URI"):
            raise NotConfigured("ARCHIVE_URI must be a folder or s3://bucket/prefix")
        archive = archive_from_settings(s, create=True)
        if s.getbool("ARCHIVE_STORAGE_CHECK", True):
            # Fail before the first request: a crawl that cannot store its WARCs must not start.
            archive.storage.check()
        return cls(
            crawler, archive, WriterOptions.from_mapping(writer_options(s)),
            queue_max_bytes=s.getint("ARCHIVE_QUEUE_MAX_BYTES"),
            spool_max_bytes=s.getint("ARCHIVE_SPOOL_MAX_BYTES"),
            upload_close_timeout=s.getfloat("ARCHIVE_UPLOAD_CLOSE_TIMEOUT"),
            upload_backoff_max=s.getfloat("ARCHIVE_UPLOAD_BACKOFF_MAX"),
        )

    def _inc(self, key: str, count: int = 1) -> None:
        """Called from the worker's threads too. Safe because every key has ONE writing thread: the writer
        (archive/ records, responses, revisits, metadata, payload_bytes, write_errors, files_finished), the
        uploader (storage/*, archive/files_published), the start or close thread (archive/recovered_files,
        storage/upload_failures), the reactor (the rest). ``inc_value`` is a read-modify-write: a key
        written from two threads must go through ``reactor.callFromThread`` instead."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    # -- lifecycle (blocking work on daemon threads: crawler.daemons) ------------------------
    async def spider_opened(self) -> None:
        spider = self.crawler.spider
        job = getattr(spider, "job_name", None) or getattr(spider, "name", "")
        try:
            await maybe_deferred_to_future(in_daemon_thread(self.worker.start, job, name="warc-start"))
        except Exception as e:
            # Leftovers that cannot be stored, a catalog that cannot be read: archive nothing rather
            # than crawl without archiving.
            logger.error("The archive could not start: %(error)s", {"error": e}, exc_info=True)
            raise CloseSpider("archive_unavailable") from None

    async def spider_closed(self, reason: str) -> None:
        if not self.worker.started:
            return
        self.closing = True
        timeout = self.upload_close_timeout
        if self.interrupted or reason == "shutdown":  # reason of a crawl stopped by Crawler.stop
            timeout = min(timeout, INTERRUPTED_UPLOAD_TIMEOUT)
        await maybe_deferred_to_future(in_daemon_thread(self.worker.close, timeout, name="warc-close"))

    def stop_requested(self, force: bool = False) -> None:
        self.interrupted = True
        self.worker.stop() if force else self.worker.hurry(INTERRUPTED_UPLOAD_TIMEOUT)

    def engine_stopped(self) -> None:
        # A spider that never closed leaves no thread behind. (engine_stopped can come while the close
        # still runs: a stop during the close does not wait for it.)
        if not self.closing:
            self.worker.stop()

    # -- capture (reactor thread: copy values, queue, return) --------------------------------
    def response_downloaded(self, response: Response, request: Request) -> None:
        exchange = exchange_from(request, response)
        # The spider sees these: ids link items and metadata records to this capture.
        request.meta[RESPONSE_ID_META_KEY] = exchange.response_id
        request.meta[WARC_DATE_META_KEY] = exchange.date.isoformat().replace("+00:00", "Z")
        self._apply_pressure(self.worker.submit_exchange(exchange))

    def metadata(self, url: str, refers_to: str, payload: bytes, content_type: str = "application/json") -> None:
        self._apply_pressure(self.worker.submit_metadata(url, refers_to, payload, content_type))

    # -- backpressure: downloads pause, the reactor never blocks ----------------------------
    def _apply_pressure(self, queued_bytes: int = 0) -> None:
        if self.crawler.stats is not None and queued_bytes:
            self.crawler.stats.max_value("archive/queue_max_bytes", queued_bytes)
        engine = self.crawler.engine
        change = self.worker.pressure_change() if engine is not None else None
        if change == "pause":
            engine.pause()
            self._inc("archive/backpressure_pauses")
        elif change == "resume":
            engine.unpause()

    def _wake(self) -> None:
        """From a worker thread: a limit may be cleared; the reactor re-decides."""
        from twisted.internet import reactor

        reactor.callFromThread(self._apply_pressure)
