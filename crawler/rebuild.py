"""Rebuilding the dedup catalog from the archive: archive metadata payloads -> detector -> settle.

This is where the archive and the dedup library meet, so it lives in the CLI layer: ``crawler.dedup``
never reads WARCs, and ``crawler.archive`` knows nothing of what a metadata block means. The replay
of one metadata block (:func:`replay_block`) and the catalog's lock are shared with the incremental
catch-up (``crawler/catchup.py``), so a rebuild and a catch-up decide alike which capture an article is.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import MutableMapping

from crawler.archive.archive import Archive
from crawler.dedup import payload
from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.detector import Detector
from crawler.dedup.features import parse_when
from crawler.dedup.store import ArticleStore
from crawler.errors import NewsarchiveError

logger = logging.getLogger(__name__)

#: Commit the rebuilt catalog every this many articles (one transaction per article is slow,
#: one for the whole archive holds every change in the WAL).
COMMIT_EVERY = 1000


class CatalogBusy(NewsarchiveError):
    """Another rebuild or catch-up holds the dedup catalog."""


@contextmanager
def catalog_lock(catalog_path: str | os.PathLike[str], *, wait: float = 0.0) -> Iterator[None]:
    """Hold the catalog's lock while rebuilding or catching up: two of them on one catalog would each
    write articles the other does not know of, and a rebuild replaces the file under a catch-up's
    open connection. An flock on the catalog's folder (it exists before the catalog does, and a
    lock file would be litter in it); the OS releases it if the process dies. Held by another
    process for more than ``wait`` seconds: `CatalogBusy`."""
    folder = Path(catalog_path).parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CatalogBusy(f"the dedup catalog {catalog_path} is in use by another `newsarchive dedup` "
                                      "rebuild, update or follow, or a crawl's catch-up; try again when it has "
                                      "finished") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # releases the lock


def rebuild_catalog(archive: Archive, catalog_path: str | os.PathLike[str],
                    thresholds: Thresholds = DEFAULTS) -> dict[str, int]:
    """Rebuild the whole dedup catalog from the dedup metadata records in ``archive``'s WARCs.

    Records are replayed in archive order, as the crawl inserted them, into a new catalog that
    replaces ``catalog_path`` only when complete; a young catalog is then settled, as the crawl
    did at its end. Returns counts: warcs, records, articles, flags, bad_records, unknown_schema.
    An archive without WARCs is an error (a mistyped path, most likely), not an empty success.
    The rebuilt catalog has no catch-up checkpoint: the next ``dedup update`` checks every WARC
    once more (quickly, from the index) for articles that have no metadata record.
    """
    warcs = len(archive.warc_names())
    if not warcs:
        raise NewsarchiveError(f"no WARCs in {archive.storage.uri}: nothing to rebuild the dedup catalog from")
    path = Path(catalog_path)
    with catalog_lock(path):
        return _rebuild(archive, path, thresholds, warcs)


def _rebuild(archive: Archive, path: Path, thresholds: Thresholds, warcs: int) -> dict[str, int]:
    tmp = path.with_name(path.name + ".rebuild")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    stats = {"warcs": warcs, "records": 0, "articles": 0, "flags": 0, "bad_records": 0,
             "unknown_schema": 0}
    store = ArticleStore(tmp)
    complete = False
    try:
        detector = Detector(store, thresholds)
        for block in archive.iter_metadata():
            if replay_block(detector, block, stats) and stats["records"] % COMMIT_EVERY == 0:
                store.commit()
        detector.settle()
        store.commit()
        stats["articles"] = store.count()
        stats["flags"] = store.count_flags()
        complete = True
    finally:
        store.close()
        if not complete:  # the old catalog stays as it was, and no half-built one beside it
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    return stats


def replay_block(detector: Detector, block: bytes, stats: MutableMapping[str, int]) -> bool:
    """Add the article of one metadata block; False when it holds none (or none readable), or
    when the catalog already holds this capture of its URL or a later one. Counts ``records``
    (dedup payloads read), ``bad_records`` and ``unknown_schema`` in ``stats``."""
    try:
        found = payload.load_payload(block)
    except payload.UnknownSchema:
        stats["unknown_schema"] = stats.get("unknown_schema", 0) + 1
        return False
    except payload.BadPayload:
        stats["bad_records"] = stats.get("bad_records", 0) + 1
        return False
    if found is None:
        return False  # another pipeline's JSON metadata
    stats["records"] = stats.get("records", 0) + 1
    try:
        article, signals = payload.article_from_payload(found)
    except payload.BadPayload:
        stats["bad_records"] = stats.get("bad_records", 0) + 1
        logger.warning("dedup: unreadable payload for %(url)s", {"url": found.get("url")}, exc_info=True)
        return False
    if holds_capture(detector.store, article.url, article.fetched_at):
        return False
    detector.add(article, signals)
    return True


def holds_capture(store: ArticleStore, url: str, fetched_at: str | None) -> bool:
    """Does the catalog hold the capture of ``url`` fetched at ``fetched_at``, or a later one?

    Each article is in the catalog once, as its newest capture: a record of an older capture
    (written late, by a catch-up, or found in another worker's WARC) never replaces it, and the
    same capture twice (its record written twice) is added once."""
    held = store.capture_of(url)
    if held is None:
        return False
    held_at, new_at = parse_when(held[0]), parse_when(fetched_at)
    if held_at is None or new_at is None:
        return held[0] == fetched_at and fetched_at is not None
    return held_at >= new_at

