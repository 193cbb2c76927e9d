"""Downloader middleware: per source, the pages received and the errors by kind, as stats.

``source/<name>/pages`` counts every final response of a source's requests (after retries and
redirects), ``source/<name>/errors/http_<status>`` the ones of status 400 and up, and
``source/<name>/errors/<ExceptionName>`` the requests that ended in an exception. A request
dropped on purpose (robots.txt, scope: ``IgnoreRequest``) is no error. The crawl summary and
its exit code read these (`crawler.runner`).
"""

from __future__ import annotations

from typing import Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.meta import SOURCE_META_KEY


def stat_key(source: str, what: str) -> str:
    return f"source/{source}/{what}"


class SourceStatsMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _inc(self, request: Request, what: str) -> None:
        source = request.meta.get(SOURCE_META_KEY)
        if source and self.crawler.stats is not None:
            self.crawler.stats.inc_value(stat_key(source, what))

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        self._inc(request, "pages")
        if response.status >= 400:
            self._inc(request, f"errors/http_{response.status}")
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        if not isinstance(exception, IgnoreRequest):
            self._inc(request, f"errors/{type(exception).__name__}")
        return None
