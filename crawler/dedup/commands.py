"""Plain functions the CLI calls: look up an article's duplicates, rebuild the catalog from WARCs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.detector import Detector, find_related
from crawler.dedup.features import Article, Signals
from crawler.dedup.store import ArticleStore

logger = logging.getLogger(__name__)

#: ``type`` of the JSON payload of the WARC metadata records the dedup pipeline writes.
PAYLOAD_TYPE = "newsarchive/dedup"
PAYLOAD_SCHEMA = 1


def build_payload(article: Article, signals: Signals, *, status: int | None = None,
                  duplicates: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything ``rebuild_from_warcs`` needs to redo the detection for one page."""
    return {
        "type": PAYLOAD_TYPE,
        "schema": PAYLOAD_SCHEMA,
        "url": article.url,
        "source": article.source,
        "lang": article.lang,
        "fetched_at": article.fetched_at,
        "warc_record_id": article.warc_record_id,
        "status": status,
        "extraction": {
            "title": article.title,
            "published": article.published,
            "author": article.author,
            "text": article.text,
        },
        "signals": signals.to_json(),
        "duplicates": duplicates or [],
    }


def article_from_payload(payload: dict[str, Any]) -> tuple[Article, Signals]:
    ex = payload["extraction"]
    article = Article(
        url=payload["url"], lang=payload["lang"], text=ex["text"], title=ex.get("title") or "",
        source=payload.get("source") or "", published=ex.get("published"), fetched_at=payload.get("fetched_at"),
        warc_record_id=payload.get("warc_record_id"), author=ex.get("author"),
    )
    return article, Signals.from_json(payload["signals"])


def find_duplicates(catalog_path: str | os.PathLike[str], url: str) -> list[dict[str, Any]]:
    """The flagged relations of the article at ``url``: ``[{url, captured, kind, score, basis, ...}]``."""
    path = Path(catalog_path)
    if not path.is_file():
        raise FileNotFoundError(f"no dedup catalog at {path}")
    with ArticleStore(path) as store:
        return [{**m.as_item(), "first": m.detail.get("first"), "original": m.detail.get("original")}
                for m in find_related(store, url)]


def _iter_payloads(storage, stats: dict[str, int]):
    from warcio.archiveiterator import ArchiveIterator

    for name in storage.list("warcs/"):
        if not name.endswith((".warc", ".warc.gz")):
            continue
        stats["warcs"] += 1
        with storage.open_stream(name) as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "metadata":
                    continue
                ctype = (record.rec_headers.get_header("Content-Type") or "").split(";")[0].strip()
                if ctype != "application/json":
                    continue
                try:
                    payload = json.loads(record.content_stream().read())
                except ValueError:
                    stats["bad_records"] += 1
                    continue
                if not isinstance(payload, dict) or payload.get("type") != PAYLOAD_TYPE:
                    continue
                if payload.get("schema") != PAYLOAD_SCHEMA:
                    stats["unknown_schema"] += 1
                    continue
                stats["records"] += 1
                yield payload


def rebuild_from_warcs(storage, catalog_path: str | os.PathLike[str], settings: Thresholds = DEFAULTS) -> dict[str, int]:
    """Rebuild the whole dedup catalog from the metadata records in ``storage``'s WARCs.

    ``storage`` is an archive backend (``crawler.archive.storage``) or its URI. Records are
    replayed in WARC order, as the crawl inserted them, into a new catalog that replaces
    ``catalog_path`` only when complete.
    """
    if isinstance(storage, (str, os.PathLike)):
        from crawler.archive.storage import open_storage

        storage = open_storage(storage)
    path = Path(catalog_path)
    tmp = path.with_name(path.name + ".rebuild")
    for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        leftover.unlink(missing_ok=True)
    stats = {"warcs": 0, "records": 0, "articles": 0, "flags": 0, "bad_records": 0, "unknown_schema": 0}
    store = ArticleStore(tmp)
    complete = False
    try:
        detector = Detector(store, settings)
        for n, payload in enumerate(_iter_payloads(storage, stats), 1):
            try:
                article, signals = article_from_payload(payload)
            except (KeyError, TypeError, ValueError):
                stats["bad_records"] += 1
                logger.warning("dedup rebuild: unreadable payload for %(url)s", {"url": payload.get("url")}, exc_info=True)
                continue
            detector.add(article, signals)
            if n % 1000 == 0:
                store.commit()
        detector.settle()  # as the crawl did at its end, for a young catalog
        store.commit()
        stats["articles"] = store.count()
        stats["flags"] = len(store.all_flags())
        complete = True
    finally:
        store.close()
        if not complete:  # the old catalog stays as it was, and no half-built one beside it
            for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
                leftover.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    os.replace(tmp, path)
    return stats
