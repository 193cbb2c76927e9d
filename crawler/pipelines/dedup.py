"""DedupPipeline: extract each article page, flag near-duplicates and translations, log a WARC metadata record."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from crawler.config import dedup_catalog_path, thresholds
from crawler.daemons import DaemonWorker
from crawler.dedup.analysis import analyse_page
from crawler.dedup.defaults import Thresholds
from crawler.dedup.detector import Detector, Match
from crawler.dedup.extract import ExtractionError
from crawler.dedup.features import Article, Signals
from crawler.dedup.payload import build_payload, encode
from crawler.dedup.store import ArticleStore
from crawler.signals import dedup_catalog_closed, stop_requested, warc_metadata

try:
    from typing import Self
except ImportError:  # Python 3.10
    from typing_extensions import Self

logger = logging.getLogger(__name__)


class DedupPipeline:
    """For items with ``html``: extract, detect, add ``duplicates`` and the extracted fields,
    drop ``html``, and ask the archive for a WARC metadata record.

    The per-item work (extraction, signals, catalog) is pure Python that holds the GIL for
    tens of milliseconds; it runs on ONE dedicated thread, not Twisted's shared pool. Ten
    pool threads doing it at once starved the reactor (35 -> 3.8 pages/s in the crawl
    benchmark); with one, the reactor competes with at most one Python thread, and items
    wait in the thread's queue (the ``CONCURRENT_ITEMS`` bound applies).

    The thread is a daemon (crawler.daemons), stopped at close_spider, at engine_stopped and at
    once on a second Ctrl-C: it can never keep the process alive. Lost mid-item at exit, it loses
    that item's uncommitted catalog transaction (SQLite rolls it back), nothing else."""

    #: How long close_spider waits for the item in progress before settling without it.
    close_timeout = 30.0

    def __init__(self, crawler, *, catalog: Path, settings: Thresholds) -> None:
        self.crawler = crawler
        self.catalog = Path(catalog)
        self.settings = settings
        self.store: ArticleStore | None = None
        self.detector: Detector | None = None
        self._lock = threading.Lock()
        self._pool: DaemonWorker | None = None
        crawler.signals.connect(self._stop_thread, signal=signals.engine_stopped)
        crawler.signals.connect(self._stop_requested, signal=stop_requested)

    @classmethod
    def from_crawler(cls, crawler) -> Self:
        s = crawler.settings
        if not s.getbool("DEDUP_ENABLED", True):
            raise NotConfigured("DEDUP_ENABLED is False")
        # A typo in a threshold must stop the crawl, not switch dedup off (`newsarchive crawl`
        # checks this before starting and exits 2; `scrapy crawl` fails here).
        return cls(crawler, catalog=dedup_catalog_path(s), settings=thresholds(s))

    def open_spider(self) -> None:
        self.store = ArticleStore(self.catalog)
        self.detector = Detector(self.store, self.settings)
        self._pool = DaemonWorker(name="dedup")

    def close_spider(self) -> None:
        self._stop_thread(timeout=self.close_timeout)  # waits for the item in progress
        if self.store is not None:
            with self._lock:
                # Once, at shutdown, while no item is in flight: a young catalog (at most a few
                # hundred articles, 0.6 s at 200) has its flags decided again with its final statistics.
                if self.detector is not None and self.detector.settle():
                    self.store.commit()
                    settled = self.store.count()
                    self.crawler.stats.set_value("dedup/settled", settled)
                    logger.info("dedup: flags of the young catalog (%(n)d articles) decided again in publication order",
                                {"n": settled})
                self.store.close()
            self.store = self.detector = None
            self.crawler.signals.send_catch_log(signal=dedup_catalog_closed, catalog=self.catalog)

    async def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if "html" not in adapter or not adapter.get("html"):
            return item
        stats = self.crawler.stats
        try:
            article, signals, matches = await maybe_deferred_to_future(self._in_worker(self._analyse, dict(adapter)))
        except ExtractionError as e:
            stats.inc_value("dedup/extract_failures")
            logger.warning("dedup: no main text in %(url)s: %(error)s", {"url": adapter.get("url"), "error": e})
            del adapter["html"]
            return item
        except Exception:
            stats.inc_value("dedup/errors")
            logger.warning("dedup: failed on %(url)s", {"url": adapter.get("url")}, exc_info=True)
            del adapter["html"]
            return item
        stats.inc_value("dedup/articles")
        if matches:
            stats.inc_value("dedup/near_duplicates")
        for m in matches:
            stats.inc_value(f"dedup/flags/{m.kind}")
        adapter["duplicates"] = [m.as_item() for m in matches]
        if adapter.get("lang") != article.lang:
            stats.inc_value("dedup/lang_overridden")
        adapter["source_lang"] = adapter.get("lang")
        adapter["lang"] = article.lang
        adapter["title"] = article.title
        adapter["published"] = article.published
        adapter["text"] = article.text
        adapter["signals"] = signals.to_json()
        del adapter["html"]
        # The record carries the detector's inputs, not these flags: they change as the catalog
        # grows and settles, and a rebuild derives them again (crawler/dedup/payload.py).
        self.crawler.signals.send_catch_log(
            signal=warc_metadata,
            url=article.url,
            refers_to=article.warc_record_id,
            payload=encode(build_payload(article, signals, status=adapter.get("status"))),
            content_type="application/json",
        )
        return item

    def _in_worker(self, f, *args: Any) -> defer.Deferred:
        """``f(*args)`` on the pipeline's own thread."""
        if self._pool is None:
            return defer.fail(RuntimeError("dedup pipeline is not open"))
        return self._pool.submit(f, *args)

    def _stop_thread(self, timeout: float | None = 0) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop(timeout)

    def _stop_requested(self, force: bool = False) -> None:
        if force:  # a second Ctrl-C: items still queued are dropped, the catalog keeps what committed
            self._stop_thread()

    def _analyse(self, fields: dict[str, Any]) -> tuple[Article, Signals, list[Match]]:
        """Runs on the worker thread: extraction, signals, catalog."""
        article, signals = analyse_page(
            fields["html"], fields["url"], lang=fields.get("lang"), source=fields.get("source") or "",
            fetched_at=fields.get("fetched_at"), warc_record_id=fields.get("warc_record_id"))
        with self._lock:
            if self.detector is None:
                raise RuntimeError("dedup catalog is closed")
            _id, matches = self.detector.add(article, signals)
            self.store.commit()
        return article, signals, matches
