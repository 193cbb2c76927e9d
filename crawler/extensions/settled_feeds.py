"""SettledFeedsExtension: once the crawl is over, exported items say what the settled dedup catalog says.

Scrapy exports each item as it is scraped; the dedup pipeline settles the catalog when the
spider closes, before the feeds are stored. At ``engine_stopped`` every feed is stored, so this
rewrites the ``duplicates`` of the items in each local JSON lines or JSON feed from the catalog
the pipeline announced (``crawler.signals.dedup_catalog_closed``), on a thread. Other feeds
(CSV, XML, remote URIs, batch templates, compressed feeds) keep the relations known when each
item was exported; a warning says so and where the settled ones are.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlparse
from urllib.request import url2pathname

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.exporters import JsonItemExporter, JsonLinesItemExporter
from scrapy.settings import BaseSettings
from scrapy.utils.conf import feed_complete_default_values_from_settings
from scrapy.utils.misc import load_object
from twisted.internet import threads
from twisted.internet.defer import Deferred

from crawler import signals as na_signals
from crawler.dedup.export import settle_feed
from crawler.dedup.store import ArticleStore

logger = logging.getLogger(__name__)


def local_feed_path(uri: str) -> Path | None:
    """The file a feed URI names, or None when it is remote or a template (``%(batch_id)d``)."""
    if "%(" in uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # a one-letter scheme is a Windows drive
        return None
    return Path(uri)


def json_layout(settings: BaseSettings, fmt: str) -> str | None:
    """``"jsonlines"`` or ``"json"`` when the feed format's exporter writes that (whatever its
    alias: ``jsonl``, ``jl`` ...), else None."""
    path = settings.getwithbase("FEED_EXPORTERS").get(fmt)
    if not path:
        return None
    exporter = load_object(path)
    if not isinstance(exporter, type):
        return None
    if issubclass(exporter, JsonLinesItemExporter):
        return "jsonlines"
    if issubclass(exporter, JsonItemExporter):
        return "json"
    return None


class SettledFeedsExtension:
    def __init__(self, crawler: Crawler, *, feeds: dict[str, dict[str, Any]]) -> None:
        self.crawler = crawler
        self.feeds = feeds
        self.catalog: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("DEDUP_ENABLED", True):
            raise NotConfigured("DEDUP_ENABLED is False")
        feeds = {str(uri): feed_complete_default_values_from_settings(dict(opts or {}), s, str(uri))
                 for uri, opts in s.getdict("FEEDS").items()}
        if not feeds:
            raise NotConfigured("no FEEDS")
        ext = cls(crawler, feeds=feeds)
        crawler.signals.connect(ext.catalog_closed, signal=na_signals.dedup_catalog_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def catalog_closed(self, catalog: Path) -> None:
        self.catalog = Path(catalog)

    def engine_stopped(self) -> Deferred[None] | None:
        if self.catalog is None or not self.catalog.is_file():
            return None  # no article went through the dedup pipeline
        return threads.deferToThread(self._settle_all, self.catalog)

    def _settle_all(self, catalog: Path) -> None:
        stats = self.crawler.stats
        assert stats is not None
        with ArticleStore.open_existing(catalog) as store:
            for uri, opts in self.feeds.items():
                path = local_feed_path(uri)
                layout = json_layout(self.crawler.settings, opts["format"])
                if path is None or layout is None or opts.get("postprocessing"):
                    logger.warning("feed %(uri)s (%(format)s): items keep the duplicates known when each was "
                                   "exported; `newsarchive dups URL` and `newsarchive report` give the settled ones",
                                   {"uri": uri, "format": opts["format"]})
                    continue
                if not path.is_file():
                    continue
                try:
                    changed = settle_feed(path, layout, store, encoding=opts.get("encoding"),
                                          indent=opts.get("indent"))
                except (OSError, ValueError):
                    stats.inc_value("dedup/feed_settle_errors")
                    logger.warning("feed %(uri)s: could not rewrite its duplicates from the catalog; they are "
                                   "as known when each item was exported", {"uri": uri}, exc_info=True)
                    continue
                stats.inc_value("dedup/feed_items_settled", changed)
                logger.info("feed %(uri)s: %(n)d items' duplicates updated from the settled catalog",
                            {"uri": uri, "n": changed})
