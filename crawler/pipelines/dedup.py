"""DedupPipeline: send each article page to the dedup process, put its flags on the item, log a WARC metadata record."""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.config import dedup_catalog_path, thresholds
from crawler.daemons import in_daemon_thread
from crawler.dedup.defaults import Thresholds
from crawler.dedup.service import DedupService, DedupUnavailable, NoMainText, PageAnalysis, SpillDropped
from crawler.memory import release_memory
from crawler.signals import dedup_catalog_closed, stop_requested, warc_metadata

try:
    from typing import Self
except ImportError:  # Python 3.10
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: Pages beyond DEDUP_QUEUE_BYTES wait on disk (an unlinked temporary file, no memory) up to this
#: many times DEDUP_QUEUE_BYTES before one is archived unanalysed: 64 MB by default, some 800
#: realistic news pages: more than a quiet two-core machine left behind (94-151 pages deferred
#: on the 2,000-page realistic site); under a load average of 6-8 it was 1,000-1,600, and then
#: the catch-up takes most of them anyway (``_spill_or_catchup``).
SPILL_FACTOR = 4
#: At the end of the crawl, the pages still waiting on disk go to the running dedup process when
#: it needs at most this many CPU seconds for them (its pace so far), else they are left to the
#: catch-up after the crawl. The catch-up runs on both cores (a pool worker beside the crawl
#: process) but first costs about 2 s (heap release, the detector's index loaded into the crawl
#: process, a worker started): 2.7-3.3 s wall for 94-151 articles at 16 CPU-ms each. One core
#: doing n pages of c seconds beats it while n*c < 2 s + n*c/2 (x1.1: its records are read back
#: from the WARC), so up to about 4 s; and it always costs less CPU, and no memory in the crawl process.
WARM_TAIL_SECONDS = 4.0


class DedupPipeline:
    """For items with ``html``: analyse in the dedup process, add ``duplicates`` and the extracted
    fields, drop ``html``, and ask the archive for a WARC metadata record.

    Extraction, signals and the catalog are pure Python that holds a GIL for tens of milliseconds
    per page; they run in ONE child process (crawler.dedup.service), so the crawl's reactor never
    waits for them. On a thread of the crawl process they cost the crawl 80% of its speed.

    The crawl never waits for dedup either. Pages sent and not yet answered are bounded in memory
    by ``DEDUP_QUEUE_BYTES``; past it a page waits on disk (``dedup/spilled``; an unlinked file of
    at most ``SPILL_FACTOR`` times that). A page beyond both, or any page once the child has died,
    is archived unanalysed (``dedup/deferred``; the item gets no ``duplicates``) for a catch-up from
    the archive. At the end the pages still on disk go to the running child when it needs at most
    ``WARM_TAIL_SECONDS`` of CPU for them, else to the catch-up (deferred then).
    An item waits for its answer only when less than ``DEDUP_WAIT_BYTES`` of pages are ahead of it
    (the answer comes soon): a waiting item keeps its response (body, text, parsed tree: about
    five times the page) in Scrapy's scraper slot, so that bound stays below
    ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``, past which Scrapy stops downloading. Behind a longer backlog
    the item goes on at once without flags and its page waits as bytes only; its answer, when it
    comes, writes the metadata record and fills the catalog (``dedup/analysed_after_item``; a local
    JSON feed gets its flags when settled, crawler/extensions/settled_feeds.py). A child briefly
    behind thus defers nothing, and the catch-up after the crawl has less to do.

    close_spider settles the catalog in the child and closes it, waiting while the child answers;
    a second Ctrl-C (``stop_requested(force=True)``) or the engine stopping kills the child. The
    child also exits by itself when this process ends, however it ends (crawler.dedup.service)."""

    #: How long close_spider waits for an answer from the child (working through its backlog, then
    #: settling and closing the catalog) before killing it.
    close_timeout = 30.0

    def __init__(self, crawler, *, catalog: Path, settings: Thresholds, queue_bytes: int,
                 wait_bytes: int | None = None, spill_bytes: int | None = None) -> None:
        self.crawler = crawler
        self.catalog = Path(catalog)
        self.settings = settings
        self.queue_bytes = queue_bytes
        self.wait_bytes = queue_bytes if wait_bytes is None else wait_bytes
        self.spill_bytes = SPILL_FACTOR * queue_bytes if spill_bytes is None else spill_bytes
        self.service: DedupService | None = None
        self._deferred_reasons: set[str] = set()
        self._overflowed = False  # a page found no room, in memory or on disk
        crawler.signals.connect(self._kill, signal=signals.engine_stopped)
        crawler.signals.connect(self._stop_requested, signal=stop_requested)

    @classmethod
    def from_crawler(cls, crawler) -> Self:
        s = crawler.settings
        if not s.getbool("DEDUP_ENABLED", True):
            raise NotConfigured("DEDUP_ENABLED is False")
        wait_bytes = s.getint("DEDUP_WAIT_BYTES")
        if min(wait_bytes, s.getint("DEDUP_QUEUE_BYTES")) >= s.getint("SCRAPER_SLOT_MAX_ACTIVE_SIZE"):
            logger.warning("DEDUP_WAIT_BYTES (%(q)d) >= SCRAPER_SLOT_MAX_ACTIVE_SIZE (%(s)d): when dedup falls "
                           "behind, Scrapy stops downloading while items wait for their flags",
                           {"q": wait_bytes, "s": s.getint("SCRAPER_SLOT_MAX_ACTIVE_SIZE")})
        # A typo in a threshold must stop the crawl, not switch dedup off (`newsarchive crawl`
        # checks this before starting and exits 2; `scrapy crawl` fails here).
        return cls(crawler, catalog=dedup_catalog_path(s), settings=thresholds(s),
                   queue_bytes=s.getint("DEDUP_QUEUE_BYTES"), wait_bytes=wait_bytes)

    def open_spider(self) -> None:
        self.service = DedupService(self.catalog, self.settings, max_bytes=self.queue_bytes,
                                    spill_bytes=self.spill_bytes, on_death=self._died_in_thread)
        self.service.start()
        self.service.opened.add_done_callback(self._opened)
        logger.info("dedup: analysing in process %(pid)d (catalog %(catalog)s)",
                    {"pid": self.service.pid, "catalog": self.catalog})

    async def close_spider(self) -> None:
        service = self.service
        if service is None:
            return
        try:
            settled = await maybe_deferred_to_future(
                in_daemon_thread(self._settle_and_close, service, name="dedup-close"))
        except Exception as e:
            logger.warning("dedup: the catalog was not settled and closed cleanly (%(error)s); it keeps "
                           "what was committed", {"error": e})
        else:
            if settled:
                self.crawler.stats.set_value("dedup/settled", settled)
                logger.info("dedup: flags of the young catalog (%(n)d articles) decided again in publication order",
                            {"n": settled})
        finally:
            service.kill()  # a no-op once it has exited
            self.service = None
        if service.spilled_pages:
            self.crawler.stats.set_value("dedup/spilled", service.spilled_pages)
        deferred = self.crawler.stats.get_value("dedup/deferred", 0)
        if deferred:
            logger.warning("dedup: %(n)d pages were archived unanalysed (dedup/deferred); a catch-up from the "
                           "archive analyses them", {"n": deferred})
        self.crawler.signals.send_catch_log(signal=dedup_catalog_closed, catalog=self.catalog)

    def _settle_and_close(self, service: DedupService) -> int:
        """On a daemon thread: blocking waits for the child, never on the reactor. The backlog ahead
        of the settle may take long; the child is given up on only when it stops answering."""
        self._spill_or_catchup(service)
        settling = service.settle()
        # The crawl is over: the heap it freed goes back to the system before the child's
        # largest moment (its backlog, then the settle reloading the catalog's articles), which
        # was the tree's peak (crawl process 213 MB + dedup process 162-196 MB).
        release_memory()
        while True:
            try:
                settled = settling.result(min(1.0, self.close_timeout))
                break
            except concurrent.futures.TimeoutError:
                if service.idle_seconds > self.close_timeout:
                    raise TimeoutError(f"the dedup process answered nothing for {self.close_timeout:g} s") from None
        service.close(self.close_timeout)
        return settled

    def _spill_or_catchup(self, service: DedupService) -> None:
        """The pages still waiting on disk at the end: to the running dedup process, or, when the
        catch-up after the crawl has work anyway (pages found no room) or would be done sooner
        (``WARM_TAIL_SECONDS``), all but the oldest ``DEDUP_QUEUE_BYTES`` given back to it
        unanalysed (their futures fail: counted deferred)."""
        waiting = service.spill_pages
        if not waiting:
            return
        # no answer yet (a crawl of a few pages, all at the start): its pace is unknown, the pages few
        pace = service.cpu_per_page or 0.0
        if not self._overflowed and waiting * pace <= WARM_TAIL_SECONDS:
            logger.info("dedup: %(n)d pages waiting on disk go to the dedup process (about %(s).1f CPU s)",
                        {"n": waiting, "s": waiting * pace})
            return
        # The oldest DEDUP_QUEUE_BYTES of them stay, as a backlog in memory would have: the catch-up
        # runs anyway, and the dedup process is done with those before it starts. Giving back all of
        # them took longer: 500 realistic pages, load 6: 37-43 s to exit, all to the catch-up 51-55 s.
        dropped = service.drop_spill(keep_bytes=self.queue_bytes)
        logger.info("dedup: %(n)d pages waiting on disk are left to the catch-up after the crawl", {"n": dropped})

    async def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if "html" not in adapter or not adapter.get("html"):
            return item
        service = self.service
        fields = {k: adapter.get(k) for k in ("html", "url", "lang", "source", "fetched_at", "warc_record_id",
                                               "status")}
        del adapter["html"]  # sent (or deferred): the item never carries it further
        waits = service is not None and service.in_flight_bytes < self.wait_bytes  # its answer comes soon
        answer = service.analyse(fields, for_item=waits) if service is not None else None
        url = fields["url"]
        if answer is None:
            running = service is not None and service.running
            self._overflowed |= running
            self._defer(url, "backlog_full" if running else "no_process")
            return item
        if not waits:  # its answer is far off: the item goes on, the answer writes the record
            self.crawler.stats.inc_value("dedup/analysed_after_item")
            later = self._deferred(answer).addCallbacks(self._record, self._failed, errbackArgs=(url,))
            later.addErrback(self._late_error, url)
            return item
        try:
            result: PageAnalysis = await maybe_deferred_to_future(self._deferred(answer))
        except Exception:
            self._failed(Failure(), url)
            return item
        self._record(result)
        article = result.article
        adapter["duplicates"] = result.duplicates
        if adapter.get("lang") != article["lang"]:
            self.crawler.stats.inc_value("dedup/lang_overridden")
        adapter["source_lang"] = adapter.get("lang")
        for key in ("lang", "title", "published", "text"):
            adapter[key] = article[key]
        adapter["signals"] = result.signals
        return item

    def _record(self, result: PageAnalysis) -> None:
        """An analysed page: counted, and its WARC metadata record asked for."""
        stats = self.crawler.stats
        stats.inc_value("dedup/articles")
        if result.duplicates:
            stats.inc_value("dedup/near_duplicates")
        for kind in result.kinds:
            stats.inc_value(f"dedup/flags/{kind}")
        self.crawler.signals.send_catch_log(
            signal=warc_metadata,
            url=result.article["url"],
            refers_to=result.article["warc_record_id"],
            payload=result.payload,
            content_type="application/json",
        )

    def _failed(self, failure: Failure, url: str) -> None:
        """A page the child did not analyse: no main text, an error, or the child gone (then deferred)."""
        stats = self.crawler.stats
        if failure.check(NoMainText):
            stats.inc_value("dedup/extract_failures")
            logger.warning("dedup: no main text in %(url)s: %(error)s", {"url": url, "error": failure.value})
        elif failure.check(SpillDropped):
            self._defer(url, "left_to_catchup")
        elif failure.check(DedupUnavailable):
            self._defer(url, "no_process")
        else:
            stats.inc_value("dedup/errors")
            logger.warning("dedup: failed on %(url)s: %(error)s", {"url": url, "error": failure.value})

    def _deferred(self, answer: concurrent.futures.Future[PageAnalysis]) -> Deferred[PageAnalysis]:
        """The child's answer as a Deferred fired on the reactor thread."""
        from twisted.internet import reactor

        d: Deferred[PageAnalysis] = Deferred()

        def fire(done: concurrent.futures.Future[PageAnalysis]) -> None:
            error = done.exception()
            if error is None:
                d.callback(done.result())
            else:
                d.errback(Failure(error))

        answer.add_done_callback(lambda done: reactor.callFromThread(fire, done))
        return d

    def _late_error(self, failure: Failure, url: str) -> None:
        logger.error("dedup: the answer for %(url)s could not be recorded: %(error)s",
                     {"url": url, "error": failure.getErrorMessage()})

    def _defer(self, url: str, reason: str) -> None:
        """Archive the page unanalysed: counted, logged once per reason."""
        self.crawler.stats.inc_value("dedup/deferred")
        if reason not in self._deferred_reasons:
            self._deferred_reasons.add(reason)
            why = {"backlog_full": f"more than DEDUP_QUEUE_BYTES ({self.queue_bytes}) of pages wait for the dedup "
                                   f"process, and {self.spill_bytes} more on disk",
                   "left_to_catchup": "the dedup process had more pages waiting on disk at the end than the "
                                      "catch-up after the crawl takes to analyse"}.get(reason, "the dedup process is not running")
            logger.warning("dedup: %(why)s: %(url)s and later pages like it are archived unanalysed "
                           "(counted in dedup/deferred)", {"why": why, "url": url})

    def _opened(self, opened: concurrent.futures.Future[Any]) -> None:
        error = opened.exception()
        if error is not None:  # the child exits; _died counts it
            logger.error("dedup: the dedup process could not open the catalog %(catalog)s: %(error)s",
                         {"catalog": self.catalog, "error": error})

    def _died_in_thread(self, returncode: int | None) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(self._died, returncode)

    def _died(self, returncode: int | None) -> None:
        self.crawler.stats.inc_value("dedup/worker_died")
        logger.error("dedup: the dedup process ended unexpectedly (exit code %(code)s); later pages are archived "
                     "unanalysed", {"code": returncode})

    def _kill(self) -> None:
        if self.service is not None:
            self.service.kill()

    def _stop_requested(self, force: bool = False) -> None:
        if force:  # a second Ctrl-C: the catalog keeps what committed; pages not answered are deferred
            self._kill()
