"""Downloader middleware: never fetch outside the request's source's allowed domains (redirects included)."""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from crawler.meta import ALLOWED_META_KEY
from crawler.sources import host_allowed

logger = logging.getLogger(__name__)


class SourceScopeMiddleware:
    """Drops any request whose host is not allowed for its source; redirects carry their meta, so
    a 3xx pointing offsite is archived (its response was fetched) but never followed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._warned: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        allowed = request.meta.get(ALLOWED_META_KEY)
        if allowed is None:  # robots.txt and other engine-made requests inherit nothing: let them be
            return None
        if host_allowed(request.url, tuple(allowed)):
            return None
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("scope/offsite")
        host = request.url.split("/")[2] if "//" in request.url else request.url
        if host not in self._warned:
            self._warned.add(host)
            logger.info("Not leaving the allowed domains: %(url)s (host logged once)", {"url": request.url})
        raise IgnoreRequest(f"offsite: {request.url}")
