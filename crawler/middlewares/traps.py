"""Spider middleware: crawler-trap defences, each a setting with a stats counter.

Depth (per source ``max_depth`` or TRAP_MAX_DEPTH), pages per source, URL length and
repeated path segments (calendar traps such as /2026/11/2026/11/).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import AsyncIterator, Iterable, Self
from urllib.parse import unquote, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.meta import DEPTH_META_KEY, MAX_DEPTH_META_KEY, MAX_PAGES_META_KEY, SOURCE_META_KEY

logger = logging.getLogger(__name__)


def repeated_segments(url: str) -> int:
    """How often the most repeated non-empty path segment occurs."""
    segments = [s for s in unquote(urlsplit(url).path).split("/") if s]
    if not segments:
        return 0
    return max(Counter(segments).values())


def repeated_runs(url: str) -> int:
    """Back-to-back repeats of a run of two or more segments: /calendar/2026/11/2026/11/ repeats "2026/11"."""
    segments = [s for s in unquote(urlsplit(url).path).split("/") if s]
    best = 1
    n = len(segments)
    for size in range(2, n // 2 + 1):
        for start in range(0, n - 2 * size + 1):
            run = segments[start:start + size]
            count = 1
            pos = start + size
            while segments[pos:pos + size] == run:
                count += 1
                pos += size
            best = max(best, count)
    return best


class TrapDefenseMiddleware:
    def __init__(self, crawler: Crawler, *, depth_limit: int, max_pages: int, max_url_length: int,
                 max_repeated_segments: int) -> None:
        self.crawler = crawler
        self.depth_limit = depth_limit
        self.max_pages = max_pages
        self.max_url_length = max_url_length
        self.max_repeated_segments = max_repeated_segments
        # Unique URLs let through per source: a page linked from every other page counts once.
        self._urls: dict[str, set[str]] = {}
        self._logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        return cls(
            crawler,
            depth_limit=s.getint("TRAP_MAX_DEPTH"),
            max_pages=s.getint("TRAP_MAX_PAGES_PER_SOURCE"),
            max_url_length=s.getint("TRAP_MAX_URL_LENGTH"),
            max_repeated_segments=s.getint("TRAP_MAX_REPEATED_SEGMENTS"),
        )

    def _reject(self, reason: str, request: Request) -> bool:
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(f"traps/{reason}")
        if reason not in self._logged:
            self._logged.add(reason)
            logger.info("Trap defence %(reason)s: not scheduling %(url)s (further ones counted in traps/%(reason)s)",
                        {"reason": reason, "url": request.url})
        return False

    def allow(self, request: Request) -> bool:
        meta = request.meta
        source = meta.get(SOURCE_META_KEY)
        if source is None:
            return True
        if len(request.url) > self.max_url_length:
            return self._reject("url_too_long", request)
        limit = meta.get(MAX_DEPTH_META_KEY)
        limit = self.depth_limit if limit is None else limit
        if limit and meta.get(DEPTH_META_KEY, 0) > limit:
            return self._reject("depth", request)
        if self.max_repeated_segments and (
            repeated_segments(request.url) > self.max_repeated_segments
            or repeated_runs(request.url) >= self.max_repeated_segments
        ):
            return self._reject("repeated_segments", request)
        max_pages = meta.get(MAX_PAGES_META_KEY) or self.max_pages
        urls = self._urls.setdefault(source, set())
        if request.url in urls:
            return True  # a repeat: the dupefilter drops it, it costs no page
        if max_pages and len(urls) >= max_pages:
            return self._reject("max_pages", request)
        urls.add(request.url)
        return True

    def _filter(self, result: Iterable, response: Response | None) -> Iterable:
        for item in result:
            if isinstance(item, Request):
                if response is not None and DEPTH_META_KEY not in item.meta:
                    item.meta[DEPTH_META_KEY] = response.meta.get(DEPTH_META_KEY, 0) + 1
                if not self.allow(item):
                    continue
            yield item

    def process_spider_output(self, response: Response, result: Iterable, spider: Spider | None = None) -> Iterable:
        return self._filter(result, response)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator,
                                          spider: Spider | None = None) -> AsyncIterator:
        async for item in result:
            for kept in self._filter([item], response):
                yield kept

    async def process_start(self, start: AsyncIterator) -> AsyncIterator:
        async for item in start:
            for kept in self._filter([item], None):
                yield kept
