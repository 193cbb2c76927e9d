"""Capture every HTTP exchange as it arrives and write it to WARC on a worker thread.

``response_downloaded`` fires before any downloader middleware touches the response: the
body is still Content-Encoded, headers are all there (``getlist``). The extension copies
plain values into an :class:`Exchange` and queues it; one writer thread does digests,
compression, file I/O and the index, so the reactor never waits on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Self

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from crawler import signals as na_signals
from crawler.archive.archive import Archive
from crawler.archive.records import Exchange
from crawler.archive.uploader import SpoolUploader
from crawler.archive.writer import RollingWarcWriter
from crawler.config import archive_from_settings, writer_options
from crawler.downloader import REASON_META_KEY, WIRE_META_KEY

logger = logging.getLogger(__name__)

RESPONSE_ID_META_KEY = "warc_response_id"
WARC_DATE_META_KEY = "warc_date"
_STOP = object()


def exchange_from(request: Request, response: Response) -> Exchange:
    request_headers = [(k, v) for k, vs in request.headers.items() for v in vs]
    response_headers = [(k, v) for k, vs in response.headers.items() for v in vs]
    return Exchange(
        url=response.url,
        method=request.method,
        request_headers=request_headers,
        request_body=request.body or b"",
        status=response.status,
        reason=request.meta.get(REASON_META_KEY, ""),
        protocol=response.protocol or "HTTP/1.1",
        response_headers=response_headers,
        body=response.body,
        ip_address=str(response.ip_address) if response.ip_address else None,
        date=datetime.now(timezone.utc),
        wire=request.meta.pop(WIRE_META_KEY, None),
    )


class WarcArchiveExtension:
    """Scrapy glue: settings in, signals wired, stats counted. The archive library does the work."""

    def __init__(self, crawler: Crawler, archive: Archive, writer_kwargs: dict, *, queue_max_bytes: int,
                 spool_max_bytes: int, upload_close_timeout: float, upload_backoff_max: float) -> None:
        self.crawler = crawler
        self.archive = archive
        self.writer_kwargs = writer_kwargs
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        # Backpressure by bytes, never by blocking the reactor: past either limit (captures
        # waiting for the writer, finished WARCs waiting for storage) downloads pause, in-flight
        # ones still land, and they resume once the writer or the uploader has caught up.
        self.queue_max_bytes = queue_max_bytes
        self.spool_max_bytes = spool_max_bytes
        self.upload_close_timeout = upload_close_timeout
        self.upload_backoff_max = upload_backoff_max
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._paused = False
        self._thread: threading.Thread | None = None
        self.writer: RollingWarcWriter | None = None
        self.uploader: SpoolUploader | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.metadata, signal=na_signals.warc_metadata)

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
        writer_kwargs = writer_options(s)
        return cls(
            crawler, archive, writer_kwargs,
            queue_max_bytes=s.getint("ARCHIVE_QUEUE_MAX_BYTES"),
            spool_max_bytes=s.getint("ARCHIVE_SPOOL_MAX_BYTES"),
            upload_close_timeout=s.getfloat("ARCHIVE_UPLOAD_CLOSE_TIMEOUT"),
            upload_backoff_max=s.getfloat("ARCHIVE_UPLOAD_BACKOFF_MAX"),
        )

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    # -- lifecycle --------------------------------------------------------------------
    async def spider_opened(self, spider: scrapy.Spider) -> None:
        await maybe_deferred_to_future(threads.deferToThread(self._open_writer, spider))

    def _open_writer(self, spider: scrapy.Spider) -> None:
        # Leftovers of an interrupted run are finished and stored before anything new is written.
        report = self.archive.recover_spool()
        # Captures other machines (or runs elsewhere) stored: revisits must know them too.
        self.archive.sync_catalog()
        if report.published:
            self._inc("archive/recovered_files", len(report.published))
        info = dict(self.writer_kwargs["warcinfo"])
        info.setdefault("isPartOf", getattr(spider, "job_name", None) or spider.name)
        kwargs = dict(self.writer_kwargs, warcinfo=info)
        self.uploader = SpoolUploader(self.archive, inc_stat=self._on_upload_event,
                                      backoff_max=self.upload_backoff_max)
        self.writer = RollingWarcWriter(
            self.archive.spool_dir, self._publish, revisit_lookup=self.archive.catalog.original_of, **kwargs
        )
        self._thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
        self._thread.start()

    async def spider_closed(self, spider: scrapy.Spider, reason: str) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        await maybe_deferred_to_future(threads.deferToThread(self._finish))

    def _finish(self) -> None:
        assert self._thread is not None
        self._thread.join()
        if self.uploader is not None:
            self.uploader.close(timeout=self.upload_close_timeout)

    # -- capture (reactor thread: copy values, queue, return) ----------------------------
    def response_downloaded(self, response: Response, request: Request, spider: scrapy.Spider) -> None:
        exchange = exchange_from(request, response)
        # The spider sees these: ids link items and metadata records to this capture.
        request.meta[RESPONSE_ID_META_KEY] = exchange.response_id
        request.meta[WARC_DATE_META_KEY] = exchange.date.isoformat().replace("+00:00", "Z")
        self._put(("exchange", exchange), len(exchange.body))

    def metadata(self, url: str, refers_to: str, payload: bytes, content_type: str = "application/json") -> None:
        self._put(("metadata", (url, refers_to, payload, content_type)), len(payload))

    def _put(self, job, size: int) -> None:
        with self._lock:
            self._queued_bytes += size
            queued = self._queued_bytes
        self._queue.put((job, size))
        if self.crawler.stats is not None:
            self.crawler.stats.max_value("archive/queue_max_bytes", queued)
        self._check_pressure()

    # -- backpressure (decided on the reactor thread only) -------------------------------
    def _pressure(self) -> tuple[bool, bool]:
        """(over a limit, under the resume mark) for the writer queue and the spool."""
        with self._lock:
            queued = self._queued_bytes
        spooled = self.uploader.pending_bytes if self.uploader is not None else 0
        over = queued > self.queue_max_bytes or spooled > self.spool_max_bytes
        under = queued <= self.queue_max_bytes // 2 and spooled <= self.spool_max_bytes // 2
        return over, under

    def _check_pressure(self) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        over, under = self._pressure()
        if over and not self._paused:
            self._paused = True
            engine.pause()
            self._inc("archive/backpressure_pauses")
        elif self._paused and under:
            self._paused = False
            engine.unpause()

    def _poke(self) -> None:
        """From a worker thread: let the reactor re-decide whether downloads may go on."""
        if self._paused:
            from twisted.internet import reactor

            reactor.callFromThread(self._check_pressure)

    # -- writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        assert self.writer is not None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            job, size = item
            kind, payload = job
            try:
                if kind == "exchange":
                    _response, _request, revisit = self.writer.write_exchange(payload)
                    self._inc("archive/records_written", 2)
                    self._inc("archive/revisits" if revisit else "archive/responses")
                    self._inc("archive/payload_bytes", len(payload.body))
                else:
                    self.writer.write_metadata(*payload)
                    self._inc("archive/records_written")
                    self._inc("archive/metadata")
            except Exception:
                self._inc("archive/write_errors")
                logger.error("Could not write a WARC record for %(url)s", {"url": _job_url(job)}, exc_info=True)
            finally:
                with self._lock:
                    self._queued_bytes -= size
                self._poke()
        try:
            self.writer.close()
        except Exception:
            self._inc("archive/write_errors")
            logger.error("Could not finish the WARC file", exc_info=True)

    def _publish(self, path: Path, name: str, entries) -> None:
        assert self.uploader is not None
        self._inc("archive/files_finished")
        self.uploader.submit(path, name, entries)
        if self.uploader.pending_bytes > self.spool_max_bytes:
            from twisted.internet import reactor

            reactor.callFromThread(self._check_pressure)

    def _on_upload_event(self, key: str, count: int = 1) -> None:
        self._inc(key, count)
        if key == "storage/files_stored":
            self._inc("archive/files_published", count)
            self._poke()


def _job_url(job) -> str:
    kind, payload = job
    return payload.url if kind == "exchange" else payload[0]
