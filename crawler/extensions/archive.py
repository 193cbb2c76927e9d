"""Capture every HTTP exchange as it arrives and write it to WARC on a worker thread.

``response_downloaded`` fires before any downloader middleware touches the response: the
body is still Content-Encoded, headers are all there (``getlist``). The extension copies
plain values into an :class:`Exchange` and queues it; one writer thread does digests,
compression, file I/O and the index, so the reactor never waits on disk.
"""

from __future__ import annotations

import logging
import platform
import queue
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Self

import scrapy
import warcio
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.internet import threads

import crawler
from crawler import signals as na_signals
from crawler.archive.archive import Archive
from crawler.archive.records import Exchange
from crawler.archive.writer import RollingWarcWriter
from crawler.downloader import REASON_META_KEY

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
    )


class WarcArchiveExtension:
    """Scrapy glue: settings in, signals wired, stats counted. The archive library does the work."""

    def __init__(self, crawler: Crawler, archive: Archive, writer_kwargs: dict, queue_max_bytes: int) -> None:
        self.crawler = crawler
        self.archive = archive
        self.writer_kwargs = writer_kwargs
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        # Backpressure by bytes, not by count: past the limit downloads pause (in-flight ones
        # still land) until the writer has drained half of it. The reactor never blocks.
        self.queue_max_bytes = queue_max_bytes
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._paused = False
        self._thread: threading.Thread | None = None
        self.writer: RollingWarcWriter | None = None
        self.failed = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.metadata, signal=na_signals.warc_metadata)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        uri = s.get("ARCHIVE_URI")
        if not uri:
            raise NotConfigured("ARCHIVE_URI must be a folder or s3://bucket/prefix")
        archive = Archive.open(
            uri, spool_dir=s.get("ARCHIVE_SPOOL"), cache_dir=s.get("ARCHIVE_CACHE_DIR"),
            keep_spooled=s.getbool("ARCHIVE_KEEP_SPOOLED"),
            storage=_storage_from_settings(uri, s),
        )
        # Fail before the first request: a crawl that cannot store its WARCs must not start.
        archive.storage.check()
        writer_kwargs = {
            "prefix": s.get("WARC_PREFIX"),
            "max_size": s.getint("WARC_MAX_SIZE"),
            "compress_level": s.getint("WARC_COMPRESS_LEVEL"),
            "warcinfo": _warcinfo_fields(s),
        }
        return cls(crawler, archive, writer_kwargs, s.getint("ARCHIVE_QUEUE_MAX_BYTES"))

    # -- lifecycle --------------------------------------------------------------------
    def spider_opened(self, spider: scrapy.Spider):
        return threads.deferToThread(self._open_writer, spider)

    def _open_writer(self, spider: scrapy.Spider) -> None:
        # Leftovers of an interrupted run are finished and stored before anything new is written.
        report = self.archive.recover_spool()
        stats = self.crawler.stats
        if report.published and stats is not None:
            stats.set_value("archive/recovered_files", len(report.published))
        info = dict(self.writer_kwargs["warcinfo"])
        info.setdefault("isPartOf", getattr(spider, "job_name", None) or spider.name)
        kwargs = dict(self.writer_kwargs, warcinfo=info)
        self.writer = RollingWarcWriter(
            self.archive.spool_dir, self._publish, revisit_lookup=self.archive.catalog.original_of, **kwargs
        )
        self._thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
        self._thread.start()

    def spider_closed(self, spider: scrapy.Spider, reason: str):
        if self._thread is None:
            return None
        self._queue.put(_STOP)
        return threads.deferToThread(self._thread.join)

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
        stats = self.crawler.stats
        if stats is not None:
            stats.max_value("archive/queue_max_bytes", queued)
        engine = self.crawler.engine
        if queued > self.queue_max_bytes and not self._paused and engine is not None:
            self._paused = True
            engine.pause()
            if stats is not None:
                stats.inc_value("archive/backpressure_pauses")

    def _drained(self, size: int) -> None:
        with self._lock:
            self._queued_bytes -= size
            queued = self._queued_bytes
        if self._paused and queued <= self.queue_max_bytes // 2:
            from twisted.internet import reactor

            reactor.callFromThread(self._resume)

    def _resume(self) -> None:
        if self._paused and self.crawler.engine is not None:
            self._paused = False
            self.crawler.engine.unpause()

    # -- writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        stats = self.crawler.stats
        assert self.writer is not None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            job, size = item
            kind, payload = job
            try:
                if kind == "exchange":
                    response, _request, revisit = self.writer.write_exchange(payload)
                    if stats is not None:
                        stats.inc_value("archive/records_written", 2)
                        stats.inc_value("archive/revisits" if revisit else "archive/responses")
                        stats.inc_value("archive/payload_bytes", len(payload.body))
                else:
                    self.writer.write_metadata(*payload)
                    if stats is not None:
                        stats.inc_value("archive/records_written")
                        stats.inc_value("archive/metadata")
            except Exception:
                self.failed = True
                if stats is not None:
                    stats.inc_value("archive/write_errors")
                logger.error("Could not write a WARC record for %(url)s", {"url": _job_url(job)}, exc_info=True)
            finally:
                self._drained(size)
        try:
            self.writer.close()
        except Exception:
            self.failed = True
            if stats is not None:
                stats.inc_value("archive/write_errors")
            logger.error("Could not finish the WARC file", exc_info=True)

    def _publish(self, path: Path, name: str, entries) -> None:
        self.archive.publish(path, name, entries)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("archive/files_published")


def _job_url(job) -> str:
    kind, payload = job
    return payload.url if kind == "exchange" else payload[0]


def _storage_from_settings(uri: str, settings):
    from crawler.archive.storage import is_remote, open_storage

    if not is_remote(uri):
        return None
    kwargs = {}
    for key, setting in (("endpoint_url", "AWS_ENDPOINT_URL"), ("access_key", "AWS_ACCESS_KEY_ID"),
                         ("secret_key", "AWS_SECRET_ACCESS_KEY"), ("session_token", "AWS_SESSION_TOKEN"),
                         ("region", "AWS_REGION_NAME")):
        value = settings.get(setting)
        if value:
            kwargs[key] = value
    if not kwargs:
        return open_storage(uri)
    from crawler.archive.storage.s3 import S3Storage

    return S3Storage.from_uri(uri, **kwargs)


def _warcinfo_fields(settings) -> dict[str, str]:
    return {
        "software": f"newsarchive/{crawler.__version__} (scrapy/{scrapy.__version__}; warcio/{_warcio_version()})",
        "format": "WARC File Format 1.1",
        "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        "http-header-user-agent": settings.get("USER_AGENT") or "",
        "hostname": platform.node(),
        "operator": settings.get("WARC_OPERATOR") or "",
        "description": "Security-news archive crawl",
    }


def _warcio_version() -> str:
    try:
        from importlib.metadata import version

        return version("warcio")
    except Exception:  # pragma: no cover
        return getattr(warcio, "__version__", "unknown")
