"""Extension: a progress line every PROGRESS_INTERVAL seconds of a crawl (pages/s, archived, queued,
errors, bytes), from the crawl's stats. Scrapy's LogStats says pages and items; this says what an
operator of a long archive crawl asks: is it archiving, how much is left, is it failing."""

from __future__ import annotations

import logging
import time
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)


def progress_values(stats: dict[str, Any]) -> dict[str, int]:
    """The counts of a progress line, from a crawl's stats."""
    errors = sum(int(v) for k, v in stats.items()
                 if k == "downloader/exception_count" or (k.startswith("source/") and "/errors/" in k))
    return {
        "pages": int(stats.get("response_received_count", 0)),
        "archived": int(stats.get("archive/responses", 0)) + int(stats.get("archive/revisits", 0)),
        "skipped": int(stats.get("incremental/skipped_archived", 0)),
        "errors": errors,
        "bytes": int(stats.get("downloader/response_bytes", 0)),
    }


class ProgressExtension:
    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self._loop: task.LoopingCall | None = None
        self._last = (time.monotonic(), 0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured("PROGRESS_INTERVAL is 0")
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self) -> None:
        self._last = (time.monotonic(), 0)
        self._loop = task.LoopingCall(self.log)
        self._loop.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def queued(self) -> int | None:
        slot = getattr(self.crawler.engine, "_slot", None)
        scheduler = getattr(slot, "scheduler", None)
        try:
            return len(scheduler) if scheduler is not None else None
        except TypeError:
            return None

    def log(self) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats is not None else {}
        values = progress_values(stats)
        now = time.monotonic()
        then, pages_then = self._last
        rate = (values["pages"] - pages_then) / max(now - then, 1e-9)
        self._last = (now, values["pages"])
        queued = self.queued()
        logger.info("progress: %(pages)d pages (%(rate).1f/s), %(archived)d archived, %(skipped)d already archived, "
                    "%(queued)s queued, %(errors)d errors, %(mb).1f MB",
                    {**values, "rate": rate, "queued": "?" if queued is None else queued,
                     "mb": values["bytes"] / 1e6})
