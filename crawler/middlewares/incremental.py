"""Downloader middleware: incremental crawls. An article already archived is not fetched again
until its source's ``recrawl_after`` has passed; a refetch is conditional on the last capture.

Feeds, sitemaps and listing pages (every URL that is not an article of its source) pass untouched:
they are where new articles are found, so each run fetches them. For an article URL the capture
catalog answers, with one indexed SQLite query on the reactor thread:
- never archived (or only as an error, 4xx/5xx): fetched;
- archived, and the source has no ``recrawl_after`` or the newest capture is younger: dropped
  (``IgnoreRequest``, counted ``incremental/skipped_archived``);
- archived and older: fetched again with ``If-None-Match``/``If-Modified-Since`` from the newest
  capture's headers (read from the WARC in a thread). A ``304 Not Modified`` is archived as a
  server-not-modified revisit by the WARC writer; an unchanged 200 as an identical-payload revisit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.archive.records import parse_warc_date
from crawler.meta import INCREMENTAL_META_KEY, SOURCE_META_KEY
from crawler.sources import Source, load_sources

if TYPE_CHECKING:
    from crawler.archive.archive import Archive
    from crawler.archive.cdxj import CaptureEntry

logger = logging.getLogger(__name__)


#: Validators taken from the last capture's response head -> the conditional request header.
_VALIDATORS = (("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since"))


def is_archived(entry: CaptureEntry) -> bool:
    """A capture that counts as having the page: a 2xx/3xx response, or any revisit (of one)."""
    return entry.rec_type == "revisit" or (entry.status or "").startswith(("2", "3"))


class IncrementalMiddleware:
    def __init__(self, crawler: Crawler, sources: dict[str, Source], archive: Archive, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.crawler = crawler
        self.sources = sources
        self.archive = archive
        self.clock = clock

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("INCREMENTAL_ENABLED") or not s.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("incremental crawls need INCREMENTAL_ENABLED and ARCHIVE_ENABLED")
        from crawler.config import archive_from_settings

        sources = load_sources(s.get("NEWSARCHIVE_SOURCES"), s.getlist("NEWSARCHIVE_SOURCE_NAMES") or None)
        return cls(crawler, {src.name: src for src in sources}, archive_from_settings(s, create=True))

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"incremental/{key}")

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(INCREMENTAL_META_KEY) is False or request.method != "GET":
            return None
        source = self.sources.get(request.meta.get(SOURCE_META_KEY, ""))
        if source is None or not source.is_article(request.url):
            return None
        if request.meta.get(INCREMENTAL_META_KEY):  # a retry or redirect of a refetch: decided already
            return None
        last = self.archive.catalog.latest(request.url)
        if last is None or not is_archived(last):
            return None
        captured = parse_warc_date(last.warc_date)
        due = source.recrawl_after is not None and (captured is None or
                                                    self.clock() - captured >= source.recrawl_after)
        if not due:
            self._inc("skipped_archived")
            raise IgnoreRequest(f"already archived at {last.warc_date} (recrawl_after: "
                                f"{source.recrawl_after or 'never'})")
        self._inc("refetched")
        request.meta[INCREMENTAL_META_KEY] = last.record_id or True
        try:
            validators = await maybe_deferred_to_future(deferToThread(self._validators, last))
        except Exception:  # an unreadable capture: refetch without conditions, the archive says so
            logger.warning("Could not read the last capture of %(url)s for its validators",
                           {"url": request.url}, exc_info=True)
            self._inc("validator_errors")
            return None
        for name, value in validators.items():
            if name not in request.headers:
                request.headers[name] = value
        if validators:
            self._inc("conditional")
        return None

    def _validators(self, last: CaptureEntry) -> dict[str, str]:
        """If-None-Match / If-Modified-Since from the newest capture that carries them (runs in a thread)."""
        from crawler.archive.retrieve import load_record

        record, _ = load_record(self.archive, last)
        http = record.http_headers
        found: dict[str, str] = {}
        if http is not None:
            for header, conditional in _VALIDATORS:
                value = http.get_header(header)
                if value:
                    found[conditional] = value
        return found

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if response.status == 304 and request.meta.get(INCREMENTAL_META_KEY):
            self._inc("not_modified")
        return response
