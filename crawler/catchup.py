"""Catching the dedup catalog up with the archive: every archived article ends up in it, flagged.

A crawl analyses its articles as they arrive, but some are archived without it: deferred when dedup
fell behind, lost in a crash or kill, fetched by another worker into the shared archive, or crawled
with dedup off. Storage is the source of truth, so the catch-up works from it, over the WARC files
not yet checked (a checkpoint in the dedup catalog, ``checked_warcs``), in name order (time order):

(a) a dedup metadata record whose capture the catalog does not hold (another worker's, an earlier
    run's) is replayed, exactly as ``dedup rebuild`` replays it (:func:`crawler.rebuild.replay_block`);
(b) an article response (2xx HTML, its URL matching its source's ``article_pattern``) that has no
    dedup metadata record anywhere in the archive is read, analysed (``analyse_page``, as the crawl
    does), added to the catalog, and its metadata record written into a new WARC file of the archive
    (``RollingWarcWriter`` in a spool of its own, stored and indexed like any other) for a rebuild.

The capture catalog says which records need reading and where (each WARC read once, only those
records inflated: ``Catchup._read``): a WARC whose articles all have their record, and whose records the catalog holds,
is checked without reading a byte of it. Crash safety comes from the order: the catalog commits,
then the metadata WARC is stored, then the WARCs it covers are marked checked (in one transaction
with the catalog). Whatever a crash interrupts is done again by the next run: the catch-up's spool
is recovered first, and an article whose record was lost is found again in (b).

A CLI-layer module like ``crawler/rebuild.py``: ``crawler.dedup`` never reads WARCs.
"""

from __future__ import annotations

import codecs
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from scrapy.settings import BaseSettings

from crawler.archive.archive import WARCS, Archive
from crawler.archive.cdxj import CaptureEntry
from crawler.archive.records import METADATA_URI_PREFIX, metadata_uri, parse_warc_date
from crawler.archive.retrieve import parse_record
from crawler.archive.warcscan import UnreadableWarc
from crawler.archive.writer import WARC_SUFFIX, RollingWarcWriter
from crawler.catchup_pool import AnalysisPool, PoolFailure
from crawler.catchup_record import RecordAnalysis, RecordTask
from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.detector import Detector
from crawler.dedup.features import Signals
from crawler.dedup.store import ArticleStore
from crawler.errors import Interrupted
from crawler.memory import release_memory, trim_heap
from crawler.rebuild import catalog_lock, holds_capture, replay_block
from crawler.sources import Source

logger = logging.getLogger(__name__)

#: A remote WARC needing more records than this is streamed whole instead of read record by record
#: (on S3 each ranged read is a request; a WARC crawled with dedup off needs every article in it).
RANGED_READS_MAX = 64
#: Store the metadata WARC and move the checkpoint after this many articles analysed: a long
#: catch-up (a backfill) keeps its progress through a crash, and spools little.
FLUSH_EVERY = 500
#: A WARC file with fewer articles to analyse than this is analysed in this process, without
#: starting the pool: a worker costs 1.2-1.4 CPU-seconds to start and import what analysis needs
#: (measured here; 87 MB resident before its first page), the work of some 25 articles. This
#: process analyses articles itself while the workers start, so the start costs no wait.
POOL_MIN_ARTICLES = 16
#: Media types Scrapy makes an HtmlResponse of (scrapy/responsetypes.py); the spider's articles.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
#: The warcinfo description of the files the catch-up writes.
WARCINFO_DESCRIPTION = "newsarchive dedup catch-up: metadata records of articles analysed after their crawl"


@dataclass
class CatchupCounts:
    """What one catch-up did (printed as ``name=value``)."""

    warcs_checked: int = 0
    metadata_replayed: int = 0
    articles_extracted: int = 0
    no_text: int = 0  # article pages without a main text (the crawl gives them no metadata either)
    flags_added: int = 0
    skipped: int = 0  # unreadable WARC files and records, undecodable payloads: logged, never fatal
    pool_fallbacks: int = 0  # articles analysed in this process after their pool worker died or failed

    def line(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    def add(self, other: CatchupCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class _Work:
    """A record the catch-up must read: a metadata record to replay, or an article (``source``) to analyse."""

    entry: CaptureEntry
    source: Source | None = None


class _LazyWriter:
    """The catch-up's WARC writer, made for its first record: a pass that writes none leaves no
    file and no spool folder behind."""

    def __init__(self, make: Callable[[], RollingWarcWriter]) -> None:
        self._make = make
        self._writer: RollingWarcWriter | None = None

    def write_metadata(self, url: str, refers_to: str, payload: bytes, content_type: str,
                       date: datetime | None = None) -> None:
        if self._writer is None:
            self._writer = self._make()
        self._writer.write_metadata(url, refers_to, payload, content_type, date)

    def finish_file(self) -> None:
        if self._writer is not None:
            self._writer.finish_file()

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.abandon()


class Catchup:
    """The catch-up of one dedup catalog with one archive. ``run_once`` is one pass; a follower keeps
    the object (and so the catalog and the detector's in-memory index) between passes."""

    def __init__(self, archive: Archive, catalog_path: Path, sources: list[Source], *, spool_dir: Path,
                 writer_options: dict[str, Any], thresholds: Thresholds = DEFAULTS,
                 fallbacks: dict[str, list[str]] | None = None, max_size: int = 64 * 1024 * 1024,
                 stop: Callable[[], bool] = lambda: False, workers: int = 0) -> None:
        self.archive = archive
        # The catch-up's own spool: a crawl's recovery never takes its open file for a crashed one.
        self.out = Archive(archive.storage, archive.catalog, spool_dir)
        self.catalog_path = Path(catalog_path)
        self.sources = sources
        self.thresholds = thresholds
        self.writer_options = dict(writer_options)
        self.writer_options["warcinfo"] = {**self.writer_options.get("warcinfo", {}),
                                           "description": WARCINFO_DESCRIPTION}
        self.fallbacks = {lang: [codecs.lookup(e).name for e in encs] for lang, encs in (fallbacks or {}).items()}
        self.max_size = max_size
        self.stop = stop
        #: Worker processes analysing articles while this one adds them (0: all in this process).
        self.workers = workers
        self._pool: AnalysisPool | None = None  # one pass's, started when the pass has work enough
        self.store = ArticleStore(self.catalog_path)
        self._detector: Detector | None = None
        self._published: list[str] = []
        self._pending = 0  # articles whose record is in the writer's open file
        self._changed = False

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Catchup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def detector(self) -> Detector:
        """Built on first need: loading every fingerprint is the cost of a large catalog, and a
        catch-up after a crawl that analysed everything needs none."""
        if self._detector is None:
            self._detector = Detector(self.store, self.thresholds)
        return self._detector

    # -- one pass -----------------------------------------------------------------------------
    def run_once(self) -> CatchupCounts:
        counts = CatchupCounts()
        self._recover_spool()
        unreadable: list[str] = []
        self.archive.sync_catalog(unreadable)
        checked = self.store.checked_warcs()
        names = sorted(n for n in self.archive.warc_names() if n not in checked)
        flags_before = self.store.count_flags()
        writer = _LazyWriter(lambda: RollingWarcWriter(self.out.spool_dir, self._publish, **self.writer_options))
        done: list[tuple[str, str]] = []
        self._changed, self._pending = False, 0
        try:
            for name in names:
                if self.stop():
                    break
                if name in unreadable:
                    counts.skipped += 1
                    logger.warning("dedup catch-up: %(name)s cannot be read, skipped (`newsarchive verify` "
                                   "names the damage)", {"name": name})
                    done.append((name, "unreadable"))
                    continue
                outcome = self._check(name, writer, counts)
                if outcome is None:  # stopped half-way through this file: it is checked again next time
                    break
                done.append((name, outcome))
                counts.warcs_checked += 1
                if self._pending >= FLUSH_EVERY:
                    self._flush(writer, done)
            if self._changed:
                # The workers have no more to do: gone before the settle and the last flush (the
                # tail's peak was the crawl process beside an idle worker).
                self._close_pool()
                trim_heap()
                # As the crawl does at its end: a young catalog's flags are decided again in
                # publication order, so it does not depend on the order articles came in.
                self.detector.settle()
            self._flush(writer, done)
        except BaseException:
            self._close_pool(kill=True)
            self.store.rollback()
            writer.abandon()  # its records stay in the spool; the next pass stores and replays them
            # The detector's in-memory index and the store's signals cache still hold the articles
            # rolled back (and SQLite reuses their ids): a follower's next pass starts afresh.
            self.store.close()
            self.store, self._detector = ArticleStore(self.catalog_path), None
            raise
        finally:
            self._close_pool()
        counts.flags_added = self.store.count_flags() - flags_before
        return counts

    def _close_pool(self, *, kill: bool = False) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close(kill=kill)

    def _publish(self, path: Path, name: str, entries: list[CaptureEntry]) -> None:
        self.out.publish(path, name, entries)
        self._published.append(name)

    def _flush(self, writer: _LazyWriter, done: list[tuple[str, str]]) -> None:
        """Store the metadata WARC, then mark what it covers checked, with the catalog, in one commit."""
        self.store.commit()
        writer.finish_file()
        now = datetime.now(timezone.utc).isoformat()
        for outcome in sorted({o for _, o in done}):
            self.store.mark_checked([n for n, o in done if o == outcome], now, outcome)
        self.store.mark_checked(self._published, now, "written")
        self.store.commit()
        done.clear()
        self._published.clear()
        self._pending = 0

    def _recover_spool(self) -> None:
        """Store what a crashed catch-up left in its spool (before reading: its records are then replayed)."""
        spool = self.out.spool_dir
        if not spool.is_dir() or not any(spool.glob(f"*{WARC_SUFFIX}*")):
            return
        try:
            report = self.out.recover_spool()
        except UnreadableWarc as e:  # another unindexed WARC is damaged; the spool's own were stored first
            logger.warning("dedup catch-up: %(error)s", {"error": e})
            return
        if report.published:
            logger.info("dedup catch-up: stored %(n)d WARC files an interrupted catch-up left",
                        {"n": len(report.published)})

    # -- one WARC file ------------------------------------------------------------------------
    def _check(self, name: str, writer: _LazyWriter, counts: CatchupCounts) -> str | None:
        """Catch up one WARC; returns its outcome (``ok``, ``damaged``), or None when stopped."""
        work = self._plan(self.archive.catalog.entries_of(name))
        outcome = "ok"
        reads = self._read(name, work)
        if self._pool is None and self.workers > 0 and sum(w.source is not None for w in work) >= POOL_MIN_ARTICLES:
            self._pool = AnalysisPool(self.workers)
        analysed = self._pool.ordered(reads, self._task) if self._pool is not None else _in_process(reads, self._task)
        try:
            for item, read, result in analysed:
                if self.stop():
                    return None
                if isinstance(read, UnreadableWarc):
                    outcome = _skipped_record(read, counts)
                    continue
                if item.source is None:
                    try:
                        _record, payload = parse_record(read, name, item.entry.offset)
                    except UnreadableWarc as e:
                        outcome = _skipped_record(e, counts)
                        continue
                    self._replay(payload, counts)
                    continue
                if isinstance(result, RecordTask):  # in this process, now that its turn has come
                    result = result()
                elif isinstance(result, PoolFailure):
                    counts.pool_fallbacks += 1
                    logger.warning("dedup catch-up: %(url)s analysed in this process: %(why)s",
                                   {"url": item.entry.url, "why": result.reason})
                    task = self._task(item, read)
                    assert task is not None
                    result = task()
                assert isinstance(result, RecordAnalysis)
                if result.status == "unreadable":
                    outcome = _skipped_record(result.message, counts)
                    continue
                self._add(result, counts, writer)
        finally:
            analysed.close()
        return outcome

    def _plan(self, entries: list[CaptureEntry]) -> list[_Work]:
        """The records of one WARC that need reading, in file order (from the index only)."""
        work = []
        for e in entries:
            if e.rec_type == "metadata" and e.url.startswith(METADATA_URI_PREFIX):
                if self._may_replay(e.url[len(METADATA_URI_PREFIX):], e.timestamp):
                    work.append(_Work(e))
            elif e.rec_type == "response" and (e.status or "").startswith("2") and (e.mime is None or e.mime in HTML_TYPES):
                source = self.source_for(e.url)
                if source is not None and not self._has_record(e.url, e.timestamp):
                    work.append(_Work(e, source))
        return work

    def source_for(self, url: str) -> Source | None:
        """The source whose article this URL is (its host allowed, its article_pattern matching)."""
        return next((s for s in self.sources if s.allows(url) and s.is_article(url)), None)

    def _may_replay(self, url: str, at: str) -> bool:
        """Can the metadata record of ``url`` stored at ``at`` hold a capture the catalog lacks? Yes
        when the URL is not in the catalog, or was captured again after the capture it holds and
        before the record. (Reading the record decides; this only spares reading the others.)"""
        held = self.store.capture_of(url)
        held_ts = _timestamp14(held[0]) if held is not None else None
        if held_ts is None:
            return True
        return any(held_ts < c.timestamp.ljust(14, "0") <= at.ljust(14, "0")
                   for c in self.archive.catalog.captures(url))

    def _has_record(self, url: str, at: str) -> bool:
        """Is there a dedup metadata record of ``url`` from ``at`` on, in any WARC of the archive?"""
        return any(m.timestamp.ljust(14, "0") >= at.ljust(14, "0")
                   for m in self.archive.catalog.captures(metadata_uri(url), ("metadata",)))

    def _read(self, name: str, work: list[_Work]) -> Iterator[tuple[_Work, bytes | UnreadableWarc]]:
        """``(work, raw)`` in file order (``raw``: the record's bytes, one gzip member, not yet
        inflated), or ``(work, UnreadableWarc)`` for a record the index places wrongly. The file is
        read once: in a local archive one open file and a seek per record; remotely a ranged read
        per record when few are needed, else one stream whose other records are skipped as bytes.
        Only the records wanted are read (the index gives each one's offset and length): the
        crawl's listings, requests and metadata records are never inflated."""
        storage = self.archive.storage
        if len(work) <= RANGED_READS_MAX and storage.local_path(WARCS + name) is None:
            for item in work:
                yield item, storage.open_range(WARCS + name, item.entry.offset, item.entry.length)
            return
        position = 0
        with storage.open_stream(WARCS + name) as stream:
            seekable = getattr(stream, "seekable", lambda: False)()
            for item in sorted(work, key=lambda w: w.entry.offset):
                entry = item.entry
                if entry.offset < position:  # overlaps the record before: the index is wrong
                    yield item, UnreadableWarc.at(name, entry.offset, LookupError("no record starts here"))
                    continue
                if seekable:
                    stream.seek(entry.offset)
                else:
                    _skip(stream, entry.offset - position)
                raw = _read_exactly(stream, entry.length)
                position = entry.offset + len(raw)
                yield item, raw

    def _task(self, item: _Work, read: bytes | UnreadableWarc) -> RecordTask | None:
        """The analysis of an article record (None for a metadata record to replay, or no record)."""
        if item.source is None or isinstance(read, UnreadableWarc):
            return None
        return RecordTask(read, item.entry.filename, item.entry.offset, item.entry.url, item.source.name,
                          item.source.lang, tuple(self.fallbacks.get(item.source.lang, [])), self.max_size)

    # -- one record -----------------------------------------------------------------------------
    def _replay(self, block: bytes, counts: CatchupCounts) -> None:
        stats: dict[str, int] = {}
        if replay_block(self.detector, block, stats):
            counts.metadata_replayed += 1
            self._changed = True
        bad = stats.get("bad_records", 0) + stats.get("unknown_schema", 0)
        if bad:
            counts.skipped += bad
            logger.warning("dedup catch-up: skipped a dedup metadata record it cannot read")

    def _add(self, result: RecordAnalysis, counts: CatchupCounts, writer: _LazyWriter) -> None:
        """One article's analysis into the catalog and its metadata record into the writer."""
        url = result.url
        if result.status == "undecodable":
            counts.skipped += 1
            logger.warning("dedup catch-up: cannot decode %(url)s: %(error)s", {"url": url, "error": result.message})
            return
        if result.status == "not_html":  # the index's media type said HTML: damage, or a lying server
            counts.skipped += 1
            logger.warning("dedup catch-up: %(url)s is not HTML, skipped", {"url": url})
            return
        if result.status == "no_text":
            counts.no_text += 1
            logger.info("dedup catch-up: no main text in %(url)s: %(error)s", {"url": url, "error": result.message})
            return
        assert result.article is not None and result.signals is not None
        counts.articles_extracted += 1
        if not holds_capture(self.store, url, result.fetched_at):  # else only its record was lost
            share_words(result.signals)
            self.detector.add(result.article, result.signals)
            self._changed = True
        # dated as its capture: a record written now would make a later capture of the URL, in a WARC
        # checked later, look analysed (``_has_record`` compares dates)
        writer.write_metadata(url, result.record_id, result.block, "application/json", parse_warc_date(result.fetched_at or ""))
        self._pending += 1


def share_words(signals: Signals) -> None:
    """Make the words of ``signals`` the interpreter's one copy of each (``sys.intern``), in place.

    The store keeps the signals of its recent articles (``SIGNALS_CACHE_FEATURES`` features): an
    article analysed in this process names its words with strings shared between articles, but
    one unpickled from a pool worker brings its own copy of every word, about 50 KB an article.
    The cache full of those was 45 MB more of this process (2,000 realistic articles, 285 MB vs
    239 MB without a pool; tracemalloc: 30 MB alive from ``Connection.recv`` after 600)."""
    for name in ("terms", "anchors"):
        words = getattr(signals, name)
        if isinstance(words, dict):  # not words the store reads lazily
            shared = {sys.intern(w): n for w, n in words.items()}
            setattr(signals, name, shared if type(words) is dict else type(words)(shared))


def _in_process(reads: Iterator[tuple[_Work, bytes | UnreadableWarc]],
                task_of: Callable[[_Work, bytes | UnreadableWarc], RecordTask | None],
                ) -> Generator[tuple[_Work, Any, RecordTask | None], None, None]:
    """``(work, read, task)`` in the shape the pool gives them: each article's task is called (analysed
    in this process) only when its turn comes, after the stop check."""
    for item, read in reads:
        yield item, read, task_of(item, read)


def _skipped_record(error: object, counts: CatchupCounts) -> str:
    """Count and log a record that cannot be read; the outcome of its WARC file."""
    counts.skipped += 1
    logger.warning("dedup catch-up: skipped a record: %(error)s", {"error": error})
    return "damaged"


def _skip(stream: Any, n: int) -> None:
    """Read past ``n`` bytes of a stream that cannot seek (as bytes: nothing is inflated)."""
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)


def _read_exactly(stream: Any, n: int) -> bytes:
    """``n`` bytes, or fewer where the file ends (a stream may return less per read)."""
    parts, left = [], n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _timestamp14(iso: str | None) -> str | None:
    """A WARC-Date (ISO 8601) as the index's 14-digit timestamp."""
    if not iso:
        return None
    digits = "".join(ch for ch in iso.split(".")[0] if ch.isdigit())
    return digits[:14] if len(digits) >= 14 else None


# -- built from settings, for the CLI --------------------------------------------------------------
def dedup_enabled(settings: BaseSettings) -> bool:
    """Does a crawl with these settings analyse its articles (so catching up belongs to it)?"""
    pipelines = settings.getwithbase("ITEM_PIPELINES")
    return (settings.getbool("DEDUP_ENABLED") and settings.getbool("NEWSARCHIVE_ARTICLE_ITEMS")
            and any(str(path).endswith(".DedupPipeline") and order is not None for path, order in pipelines.items()))


def catchup_from_settings(settings: BaseSettings, archive: Archive, *,
                          stop: Callable[[], bool] = lambda: False) -> Catchup:
    """A catch-up of the settings' dedup catalog with ``archive``, the sources file's article patterns."""
    from crawler.config import dedup_catalog_path, spool_dir, thresholds, writer_options
    from crawler.sources import load_sources

    sources = load_sources(settings.get("NEWSARCHIVE_SOURCES"))  # every source: the archive holds them all
    return Catchup(archive, dedup_catalog_path(settings), sources, spool_dir=spool_dir(settings) / "catchup",
                   writer_options=writer_options(settings), thresholds=thresholds(settings),
                   fallbacks=settings.getdict("ENCODING_FALLBACKS"), max_size=settings.getint("DOWNLOAD_MAXSIZE"),
                   stop=stop, workers=pool_workers(settings.getint("DEDUP_CATCHUP_WORKERS")))


def pool_workers(setting: int) -> int:
    """``DEDUP_CATCHUP_WORKERS`` as a number of worker processes: -1 (the default) is one fewer than
    the CPUs this process may run on, at least one; 0 keeps the analysis in the catch-up's process."""
    if setting >= 0:
        return setting
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus - 1)


def catch_up(settings: BaseSettings, archive: Archive, *, stop: Callable[[], bool] = lambda: False,
             wait: float = 0.0) -> CatchupCounts:
    """One catch-up pass, holding the catalog's lock (another one holding it for more than ``wait``
    seconds is `CatalogBusy`)."""
    import gc

    from crawler.config import dedup_catalog_path

    release_memory()  # after a crawl in this process: its freed heap, before the catalog's caches grow
    # What lives now (after a crawl: Scrapy's objects, millions of them) is left out of the
    # collector's passes while the analysis allocates: each full pass walked all of it.
    gc.freeze()
    try:
        with catalog_lock(dedup_catalog_path(settings), wait=wait), \
                catchup_from_settings(settings, archive, stop=stop) as c:
            return c.run_once()
    finally:
        gc.unfreeze()


def follow(settings: BaseSettings, archive: Archive, *, interval: float, stop: Callable[[], bool],
           report: Callable[[CatchupCounts], None], sleep: Callable[[float], None] = time.sleep) -> CatchupCounts:
    """Catch up every ``interval`` seconds until ``stop()``; ``report`` gets each pass's counts. A
    pass that fails on storage (an outage) is logged and tried again at the next interval."""
    from crawler.archive.storage import StorageError
    from crawler.config import dedup_catalog_path

    total = CatchupCounts()
    with catalog_lock(dedup_catalog_path(settings)), catchup_from_settings(settings, archive, stop=stop) as c:
        while not stop():
            try:
                counts = c.run_once()
            except StorageError as e:
                logger.warning("dedup follow: this pass failed, trying again in %(s)s s: %(error)s",
                               {"s": interval, "error": e})
            else:
                total.add(counts)
                report(counts)
            deadline = time.monotonic() + interval
            while not stop() and time.monotonic() < deadline:
                sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    return total


class StopSignals:
    """SIGINT/SIGTERM for `dedup update` and `dedup follow`: the first one lets the pass finish the
    record in hand, store what it wrote and stop (calling the object says whether one came); a
    second one stops at once (``Interrupted``: the catalog's open transaction is rolled back and
    the spooled records are stored by the next run)."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return bool(self.received)

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            raise Interrupted(f"interrupted by {signal.Signals(signum).name}: stopped at once; "
                              "the next `newsarchive dedup update` continues")

    @property
    def name(self) -> str:
        return signal.Signals(self.received[0]).name if self.received else ""
