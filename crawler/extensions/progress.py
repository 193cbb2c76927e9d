"""Extension: what a crawl is doing, while it runs. Every PROGRESS_INTERVAL seconds a progress line in
the log (pages/s, archived, already archived, queued, errors, bytes); in a terminal, a live table per
source (`crawler.console`) refreshed every PROGRESS_REFRESH seconds. Scrapy's LogStats says pages
and items; this says what an operator of a long archive crawl asks: is it archiving, how much is
left, is it failing, and which source."""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler import signals as na_signals
from crawler.meta import SOURCE_META_KEY

logger = logging.getLogger(__name__)

#: pages/s is measured over this many seconds, so the figure does not jump with every refresh.
RATE_WINDOW = 5.0


def source_errors(stats: dict[str, Any], source: str | None = None) -> int:
    """Requests that ended in an error (HTTP 4xx/5xx or an exception, after retries): the
    ``source/<name>/errors/<kind>`` stats of one source, or of all."""
    prefix = f"source/{source}/errors/" if source else "source/"
    return sum(int(v) for k, v in stats.items() if k.startswith(prefix) and "/errors/" in k)


def progress_values(stats: dict[str, Any]) -> dict[str, int]:
    """The counts of a progress line, from a crawl's stats."""
    return {
        "pages": int(stats.get("response_received_count", 0)),
        "archived": int(stats.get("archive/responses", 0)) + int(stats.get("archive/revisits", 0)),
        "skipped": int(stats.get("incremental/skipped_archived", 0)),
        "errors": source_errors(stats),
        "bytes": int(stats.get("downloader/response_bytes", 0)),
    }


class _Rate:
    """pages/s over the last RATE_WINDOW seconds."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, pages: int) -> float:
        self.samples.append((now, pages))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW:
            self.samples.popleft()
        then, pages_then = self.samples[0]
        return (pages - pages_then) / (now - then) if now > then else 0.0


class ProgressExtension:
    def __init__(self, crawler: Crawler, interval: float, *, live: bool = False, refresh: float = 1.0,
                 live_log_level: int = logging.WARNING) -> None:
        self.crawler = crawler
        self.interval = interval
        self.refresh = refresh
        self._loops: list[task.LoopingCall] = []
        self._last = (time.monotonic(), 0)
        self._rates: dict[str, _Rate] = {}
        self._bytes: dict[str, int] = {}
        self._status = "crawling"
        self.display = None
        if live:
            from crawler.console import LiveProgress

            self.display = LiveProgress(sys.stderr, min_level=live_log_level)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        interval = s.getfloat("PROGRESS_INTERVAL")
        from crawler.console import live_wanted

        try:
            live = live_wanted(str(s.get("PROGRESS_DISPLAY")), sys.stderr)
        except ValueError as e:
            raise NotConfigured(str(e)) from None
        if interval <= 0 and not live:
            raise NotConfigured("PROGRESS_INTERVAL is 0 and no live display")
        level = logging.getLevelName(str(s.get("PROGRESS_LIVE_LOG_LEVEL")).upper())
        ext = cls(crawler, interval, live=live, refresh=s.getfloat("PROGRESS_REFRESH"),
                  live_log_level=level if isinstance(level, int) else logging.WARNING)
        for handler, signal in ((ext.spider_opened, signals.spider_opened),
                                (ext.spider_closed, signals.spider_closed),
                                (ext.engine_stopped, signals.engine_stopped),
                                (ext.response_downloaded, signals.response_downloaded),
                                (ext.stop_requested, na_signals.stop_requested)):
            crawler.signals.connect(handler, signal=signal)
        return ext

    # -- lifecycle ---------------------------------------------------------------------------
    def spider_opened(self) -> None:
        from twisted.internet import reactor

        self._last = (time.monotonic(), 0)
        if self.interval > 0:
            self._start_loop(self.log, self.interval)
        if self.display is not None:
            self.display.start(self.renderable())
            self._start_loop(self.redraw, self.refresh)
            # Whatever ends the reactor (a forced stop included) gives the terminal back first.
            reactor.addSystemEventTrigger("before", "shutdown", self.stop_display)

    def _start_loop(self, fn: Any, every: float) -> None:
        loop = task.LoopingCall(fn)
        loop.start(every, now=False)
        self._loops.append(loop)

    def spider_closed(self) -> None:
        # The display keeps running while the archive closes (WARCs stored, catalog settled).
        self._status = "closing: finishing and storing WARC files"
        for loop in self._loops:
            if loop.running and loop.f == self.log:
                loop.stop()

    def engine_stopped(self) -> None:
        self.stop_display()

    def stop_requested(self, force: bool = False) -> None:
        if force:
            self.stop_display()
        else:
            self._status = "stopping cleanly (press Ctrl-C again to stop at once)"
            self.redraw()

    def stop_display(self) -> None:
        for loop in self._loops:
            if loop.running:
                loop.stop()
        if self.display is not None and self.display.running:
            self._status = "stopped"
            self.display.stop(self.renderable())

    # -- counting ----------------------------------------------------------------------------
    def response_downloaded(self, response: Any, request: Any) -> None:
        source = request.meta.get(SOURCE_META_KEY)
        if source:
            self._bytes[source] = self._bytes.get(source, 0) + len(response.body)

    def queued(self) -> int | None:
        engine = self.crawler.engine
        scheduler = getattr(engine, "scheduler", None) or getattr(getattr(engine, "_slot", None), "scheduler", None)
        try:
            return len(scheduler) if scheduler is not None else None
        except TypeError:
            return None

    def _stats(self) -> dict[str, Any]:
        return self.crawler.stats.get_stats() if self.crawler.stats is not None else {}

    def log(self) -> None:
        values = progress_values(self._stats())
        now = time.monotonic()
        then, pages_then = self._last
        rate = (values["pages"] - pages_then) / max(now - then, 1e-9)
        self._last = (now, values["pages"])
        queued = self.queued()
        logger.info("progress: %(pages)d pages (%(rate).1f/s), %(archived)d archived, %(skipped)d already archived, "
                    "%(queued)s queued, %(errors)d errors, %(mb).1f MB",
                    {**values, "rate": rate, "queued": "?" if queued is None else queued,
                     "mb": values["bytes"] / 1e6})

    # -- the live display --------------------------------------------------------------------
    def rows(self) -> tuple[list[Any], Any]:
        from crawler.console import ProgressRow

        stats = self._stats()
        now = time.monotonic()
        spider = self.crawler.spider
        names = sorted(getattr(spider, "sources", None) or {})
        rows = []
        for name in names:
            p = f"source/{name}/"
            pages = int(stats.get(p + "pages", 0))
            rows.append(ProgressRow(name, pages, int(stats.get(p + "articles", 0)), int(stats.get(p + "queued", 0)),
                                    source_errors(stats, name), self._bytes.get(name, 0),
                                    self._rates.setdefault(name, _Rate()).add(now, pages)))
        pages = sum(r.pages for r in rows)
        queued = self.queued()
        if queued is None:  # the engine has gone: what the sources still had queued
            queued = sum(r.queued or 0 for r in rows)
        total = ProgressRow("total", pages, sum(r.articles for r in rows), queued, sum(r.errors for r in rows),
                            sum(r.bytes for r in rows), self._rates.setdefault("", _Rate()).add(now, pages))
        return rows, total

    def renderable(self) -> Any:
        from crawler.console import framed, progress_table

        rows, total = self.rows()
        stats = self._stats()
        archived = int(stats.get("archive/responses", 0)) + int(stats.get("archive/revisits", 0))
        title = (f"newsarchive crawl: {archived} archived, {int(stats.get('incremental/skipped_archived', 0))} "
                 f"already archived, {int(stats.get('archive/files_published', 0))} WARC files stored")
        return framed(title, progress_table(rows, total), self._status)

    def redraw(self) -> None:
        if self.display is not None and self.display.running:
            self.display.update(self.renderable())
