"""The archive: storage + capture catalog + spool, and the operations on all three.

Publishing order is what makes a capture durable: the WARC is stored first, then its
CDXJ sidecar, then its catalog rows, so no index entry ever points at bytes that are
not in storage. Everything here can be rebuilt from ``warcs/`` alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from crawler.archive.catalog import CaptureCatalog
from crawler.archive.cdxj import CaptureEntry, entry_from_line, sorted_lines
from crawler.archive.storage import ArchiveStorage, is_remote, open_storage
from crawler.archive.warcscan import PARSE_ERRORS, UnreadableWarc, iter_entries, repair_torn_tail
from crawler.archive.writer import OPEN_SUFFIX, WARC_SUFFIX

logger = logging.getLogger(__name__)

WARCS = "warcs/"
INDEXES = "indexes/"


def index_name(warc_name: str) -> str:
    stem = warc_name[: -len(WARC_SUFFIX)] if warc_name.endswith(WARC_SUFFIX) else warc_name
    return f"{INDEXES}{stem}.cdxj"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "newsarchive"


def _slug(uri: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9]+", "-", uri).strip("-")[:60]
    return f"{clean}-{hashlib.blake2b(uri.encode(), digest_size=4).hexdigest()}"


def local_state_dir(uri: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where an archive keeps its local state (catalogs, spool): the folder itself, or for a remote
    archive a folder of its own under the cache dir."""
    uri = os.fspath(uri)
    if is_remote(uri):
        return (Path(cache_dir) if cache_dir else default_cache_dir()) / _slug(uri)
    from crawler.archive.storage.local import LocalStorage

    return LocalStorage.from_uri(uri).root


def _media_type(record: ArcWarcRecord) -> str:
    return (record.rec_headers.get_header("Content-Type") or "").split(";")[0].strip()


def is_metadata(record: ArcWarcRecord, content_type: str = "application/json") -> bool:
    """A ``metadata`` record of ``content_type``, in either form newsarchive wrote: under
    ``urn:newsarchive:dedup:URL`` (now) or under the article's own URL (before); the target URI
    decides nothing here."""
    return record.rec_type == "metadata" and _media_type(record) == content_type


@dataclass
class RecoveryReport:
    finished: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    dropped_bytes: int = 0
    discarded: list[str] = field(default_factory=list)


class Archive:
    """A WARC archive at a URI: where finished files go, and the index of what they hold."""

    def __init__(self, storage: ArchiveStorage, catalog: CaptureCatalog, spool_dir: Path,
                 keep_spooled: bool = False) -> None:
        self.storage = storage
        self.catalog = catalog
        self.spool_dir = Path(spool_dir)
        self.keep_spooled = keep_spooled

    @classmethod
    def open(cls, uri: str | os.PathLike[str], *, spool_dir: str | os.PathLike[str] | None = None,
             cache_dir: str | os.PathLike[str] | None = None, keep_spooled: bool = False,
             storage: ArchiveStorage | None = None) -> Archive:
        uri = os.fspath(uri)
        storage = storage or open_storage(uri)
        home = local_state_dir(uri, cache_dir)
        spool = Path(spool_dir) if spool_dir else home / "spool"
        return cls(storage, CaptureCatalog(home / "index.sqlite3"), spool, keep_spooled=keep_spooled)

    @property
    def state_dir(self) -> Path:
        """This archive's local state folder (catalogs)."""
        return self.catalog.path.parent

    # -- publishing -------------------------------------------------------------------
    def publish(self, path: Path, name: str, entries: list[CaptureEntry]) -> None:
        """Store a finished WARC, then its sidecar index, then its catalog rows."""
        self.storage.put_file(path, WARCS + name)
        self.store_index(name, entries)
        self.catalog.add_file(name, entries)
        if path.exists() and not self.keep_spooled:
            path.unlink()
        logger.info("Archived %(name)s (%(records)d index entries)", {"name": name, "records": len(entries)})

    def store_index(self, name: str, entries: list[CaptureEntry]) -> None:
        """The WARC's CDXJ sidecar, sorted as pywb's binary search needs."""
        cdxj = "".join(line + "\n" for line in sorted_lines(entries)).encode("utf-8")
        self.storage.put_bytes(cdxj, index_name(name))

    def recover_spool(self) -> RecoveryReport:
        """Finish what a crashed or interrupted run left in the spool: repair, rename, publish."""
        report = RecoveryReport()
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.spool_dir.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
            dropped, members = repair_torn_tail(path)
            report.dropped_bytes += dropped
            if members <= 1:  # nothing but (maybe) a warcinfo record
                path.unlink()
                report.discarded.append(path.name)
                continue
            final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
            os.replace(path, final)
            report.finished.append(final.name)
            if dropped:
                logger.warning("Recovered %(name)s: dropped a torn final record of %(n)d bytes",
                               {"name": final.name, "n": dropped})
        for path in sorted(self.spool_dir.glob(f"*{WARC_SUFFIX}")):
            with open(path, "rb") as f:
                entries = list(iter_entries(f, path.name))
            self.publish(path, path.name, entries)
            report.published.append(path.name)
        self._index_unindexed(report)
        return report

    def _index_unindexed(self, report: RecoveryReport) -> None:
        """A crash after a WARC was stored but before its sidecar was: index it from the WARC."""
        indexed = set(self.storage.list(INDEXES))
        for name in self.warc_names():
            if index_name(name) in indexed:
                continue
            entries = self.index_file(name)
            self.store_index(name, entries)
            self.catalog.add_file(name, entries)
            report.published.append(name)
            logger.warning("Indexed %(name)s, stored by an interrupted run without its index", {"name": name})

    # -- the index, from the WARCs alone ------------------------------------------------
    def warc_names(self) -> list[str]:
        return [n[len(WARCS):] for n in self.storage.list(WARCS) if n.endswith(WARC_SUFFIX)]

    def index_file(self, name: str) -> list[CaptureEntry]:
        with self.storage.open_stream(WARCS + name) as stream:
            return list(iter_entries(stream, name))

    def rebuild_index(self, workers: int = 4) -> dict[str, int]:
        """Regenerate every sidecar and the catalog from the WARCs in storage."""
        names = self.warc_names()
        stats = {"files": 0, "entries": 0}

        def one(name: str) -> tuple[str, list[CaptureEntry]]:
            entries = self.index_file(name)
            self.store_index(name, entries)
            return name, entries

        self.catalog.clear()
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for name, entries in pool.map(one, names):
                self.catalog.add_file(name, entries)
                stats["files"] += 1
                stats["entries"] += len(entries)
        known = {index_name(n) for n in names}
        for stale in [n for n in self.storage.list(INDEXES) if n.endswith(".cdxj") and n not in known]:
            self.storage.delete(stale)
        return stats

    def iter_metadata(self, content_type: str = "application/json", names: Iterable[str] | None = None) -> Iterator[bytes]:
        """The block of every ``metadata`` record of ``content_type`` in the archive's WARCs, in
        archive order (files as listed, records as written): what pipelines stored about their
        captures, e.g. the dedup payload ``newsarchive dedup rebuild`` replays. The one place that
        recognises such a record by its WARC headers (:func:`is_metadata`, both forms); what the
        block means is the reader's business. ``names`` reads only those WARC files (a reader that
        keeps up incrementally)."""
        for name in self.warc_names() if names is None else names:
            with self.storage.open_stream(WARCS + name) as stream:
                it = ArchiveIterator(stream, check_digests=False)
                offset = 0
                try:
                    for record in it:
                        if is_metadata(record, content_type):
                            yield record.content_stream().read()
                        it.read_to_end(record)
                        offset = it.get_record_offset() + it.get_record_length()
                except PARSE_ERRORS as e:
                    raise UnreadableWarc.at(name, offset, e) from e

    def sync_catalog(self, unreadable: list[str] | None = None) -> dict[str, int]:
        """Make the catalog agree with storage: add WARCs it lacks (another machine's, or a fresh
        machine's first look at a remote archive) from their sidecars, forget WARCs that are gone.
        A WARC without a sidecar that cannot be read raises :class:`UnreadableWarc`; given an
        ``unreadable`` list, its name goes there instead and the others are still added."""
        stored = set(self.warc_names())
        known = set(self.catalog.files())
        added = sorted(stored - known)
        for name in list(added):
            try:
                self.catalog.add_file(name, self.sidecar_entries(name))
            except UnreadableWarc:
                if unreadable is None:
                    raise
                unreadable.append(name)
                added.remove(name)
        removed = sorted(known - stored)
        for name in removed:
            self.catalog.remove_file(name)
        if added or removed:
            logger.info("Catalog synced with %(uri)s: %(a)d WARCs added, %(r)d removed",
                        {"uri": self.storage.uri, "a": len(added), "r": len(removed)})
        return {"added": len(added), "removed": len(removed)}

    def sidecar_entries(self, name: str) -> list[CaptureEntry]:
        """Catalog entries of one WARC from its small sidecar (no WARC read); from the WARC if it
        has none."""
        key = index_name(name)
        if not self.storage.exists(key):
            return self.index_file(name)
        with self.storage.open_stream(key) as f:
            return [entry_from_line(line.decode("utf-8")) for line in f if line.strip()]
