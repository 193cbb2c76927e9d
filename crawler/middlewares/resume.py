"""Downloader middleware: a resumed crawl (``newsarchive crawl --resume``) serves every page its job
already archived from the archive, not the network (see `crawler.resume`).

The response is rebuilt from the capture (status, headers, the payload as received), so every
downloader middleware's ``process_response`` (decompression, charsets, redirects) and the spider
treat it as on the first fetch and follow the same links. It never reaches the WARC writer: only
downloads send ``response_downloaded``. Counted ``resume/replayed``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.archive.records import parse_warc_date
from crawler.middlewares.incremental import is_archived
from crawler.resume import RESUME_SETTING

if TYPE_CHECKING:
    from datetime import datetime

    from crawler.archive.archive import Archive
    from crawler.archive.cdxj import CaptureEntry

logger = logging.getLogger(__name__)


class ResumeMiddleware:
    def __init__(self, crawler: Crawler, archive: Archive, since: datetime) -> None:
        self.crawler = crawler
        self.archive = archive
        self.since = since

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        since = parse_warc_date(s.get(RESUME_SETTING) or "")
        if since is None or not s.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("not a resumed crawl")
        from crawler.config import archive_from_settings

        return cls(crawler, archive_from_settings(s, create=True), since)

    async def process_request(self, request: Request, spider: Spider | None = None) -> Response | None:
        if request.method != "GET":
            return None
        entry = self.archive.catalog.latest(request.url)
        if entry is None or not is_archived(entry):
            return None
        captured = parse_warc_date(entry.warc_date)
        if captured is None or captured < self.since:
            return None
        try:
            response = await maybe_deferred_to_future(deferToThread(self._rebuild, request, entry))
        except Exception:
            logger.warning("Could not read the archived %(url)s: fetching it again", {"url": request.url},
                           exc_info=True)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("resume/read_errors")
            return None
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("resume/replayed")
        return response

    def _rebuild(self, request: Request, entry: CaptureEntry) -> Response:
        from crawler.archive.retrieve import get_capture

        capture = get_capture(self.archive, request.url, at=entry.timestamp)
        headers = Headers()
        for name, value in capture.headers:
            headers.appendlist(name, value)
        status = int(capture.status_line.split()[1]) if capture.status_line else 200
        cls = responsetypes.from_args(headers=headers, url=request.url, body=capture.payload)
        return cls(url=request.url, status=status, headers=headers, body=capture.payload, flags=["archived"],
                   request=request)
