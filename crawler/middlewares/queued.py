"""Downloader middleware, nearest the engine: how many requests of each source wait in the scheduler.

``source/<name>/queued`` goes up when the engine schedules a source's request (``request_scheduled``),
down when the scheduler refuses it (``request_dropped``: a duplicate) and when it leaves the
scheduler (this middleware's ``process_request``, the first thing a dequeued request meets). The
progress display shows it per source; at the end of a crawl stopped early it says what was left.
Requests without a source (robots.txt) are not counted. With a shared queue (scrapy-redis) a
request may leave on another worker: each worker's figure counts what it queued and took itself.
"""

from __future__ import annotations

from typing import Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler

from crawler.meta import SOURCE_META_KEY
from crawler.middlewares.sourcestats import stat_key


class QueuedPerSourceMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = cls(crawler)
        crawler.signals.connect(mw.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(mw.request_dropped, signal=signals.request_dropped)
        return mw

    def _add(self, request: Request, n: int) -> None:
        source = request.meta.get(SOURCE_META_KEY)
        stats = self.crawler.stats
        if source and stats is not None:
            key = stat_key(source, "queued")
            stats.set_value(key, max(0, int(stats.get_value(key, 0)) + n))

    def request_scheduled(self, request: Request) -> None:
        self._add(request, 1)

    def request_dropped(self, request: Request) -> None:
        self._add(request, -1)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        self._add(request, -1)
        return None
