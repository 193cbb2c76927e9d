"""Rebuilding the dedup catalog from the archive: archive metadata payloads -> detector -> settle.

This is where the archive and the dedup library meet, so it lives in the CLI layer: ``crawler.dedup``
never reads WARCs, and ``crawler.archive`` knows nothing of what a metadata block means.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from crawler.archive.archive import Archive
from crawler.dedup import payload
from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.detector import Detector
from crawler.dedup.store import ArticleStore
from crawler.errors import NewsarchiveError

logger = logging.getLogger(__name__)

#: Commit the rebuilt catalog every this many articles (one transaction per article is slow,
#: one for the whole archive holds every change in the WAL).
COMMIT_EVERY = 1000


def rebuild_catalog(archive: Archive, catalog_path: str | os.PathLike[str],
                    thresholds: Thresholds = DEFAULTS) -> dict[str, int]:
    """Rebuild the whole dedup catalog from the dedup metadata records in ``archive``'s WARCs.

    Records are replayed in archive order, as the crawl inserted them, into a new catalog that
    replaces ``catalog_path`` only when complete; a young catalog is then settled, as the crawl
    did at its end. Returns counts: warcs, records, articles, flags, bad_records, unknown_schema.
    An archive without WARCs is an error (a mistyped path, most likely), not an empty success.
    """
    warcs = len(archive.warc_names())
    if not warcs:
        raise NewsarchiveError(f"no WARCs in {archive.storage.uri}: nothing to rebuild the dedup catalog from")
    path = Path(catalog_path)
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
            if _replay(detector, block, stats) and stats["records"] % COMMIT_EVERY == 0:
                store.commit()
        detector.settle()
        store.commit()
        stats["articles"] = store.count()
        stats["flags"] = len(store.all_flags())
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


def _replay(detector: Detector, block: bytes, stats: dict[str, int]) -> bool:
    """Add the article of one metadata block; False when it holds none (or none readable)."""
    try:
        found = payload.load_payload(block)
    except payload.UnknownSchema:
        stats["unknown_schema"] += 1
        return False
    except payload.BadPayload:
        stats["bad_records"] += 1
        return False
    if found is None:
        return False  # another pipeline's JSON metadata
    stats["records"] += 1
    try:
        article, signals = payload.article_from_payload(found)
    except payload.BadPayload:
        stats["bad_records"] += 1
        logger.warning("dedup rebuild: unreadable payload for %(url)s", {"url": found.get("url")}, exc_info=True)
        return False
    detector.add(article, signals)
    return True
