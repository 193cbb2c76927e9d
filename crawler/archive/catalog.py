"""The capture catalog: every indexed record in SQLite, for fast lookups by URL and digest.

It is a cache of what the WARCs say: ``index rebuild`` regenerates it from them alone.
One connection per thread (SQLite's rule); writes come from the archive writer thread.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator

from crawler.archive.cdxj import CaptureEntry, surt_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    urlkey TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    url TEXT NOT NULL,
    mime TEXT,
    status TEXT,
    digest TEXT,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    filename TEXT NOT NULL,
    rec_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    warc_date TEXT NOT NULL,
    refers_to_uri TEXT,
    refers_to_date TEXT,
    refers_to_id TEXT,
    PRIMARY KEY (filename, offset)
);
CREATE INDEX IF NOT EXISTS captures_by_url ON captures (urlkey, timestamp);
CREATE INDEX IF NOT EXISTS captures_by_record ON captures (record_id);
CREATE TABLE IF NOT EXISTS files (
    filename TEXT PRIMARY KEY,
    records INTEGER NOT NULL
);
"""

_COLUMNS = (
    "urlkey, timestamp, url, mime, status, digest, length, offset, filename, rec_type, "
    "record_id, warc_date, refers_to_uri, refers_to_date, refers_to_id"
)


class CaptureCatalog:
    """SQLite catalog of captures (the embedded default index)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def add_file(self, filename: str, entries: Iterable[CaptureEntry]) -> int:
        """Publish one WARC's entries atomically (replacing any earlier entries of that file)."""
        rows = [
            (e.urlkey, e.timestamp, e.url, e.mime, e.status, e.digest, e.length, e.offset, e.filename,
             e.rec_type, e.record_id, e.warc_date, e.refers_to_uri, e.refers_to_date, e.refers_to_id)
            for e in entries
        ]
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM captures WHERE filename = ?", (filename,))
            conn.executemany(f"INSERT INTO captures ({_COLUMNS}) VALUES ({','.join('?' * 15)})", rows)
            conn.execute("INSERT OR REPLACE INTO files (filename, records) VALUES (?, ?)", (filename, len(rows)))
        return len(rows)

    def remove_file(self, filename: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM captures WHERE filename = ?", (filename,))
            conn.execute("DELETE FROM files WHERE filename = ?", (filename,))

    def clear(self) -> None:
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM captures")
            conn.execute("DELETE FROM files")

    def files(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT filename FROM files ORDER BY filename")]

    def captures(self, url: str, rec_types: tuple[str, ...] = ("response", "revisit")) -> list[CaptureEntry]:
        """Every capture of ``url`` (by SURT key, so http/https and www. variants match), oldest first."""
        marks = ",".join("?" * len(rec_types))
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM captures WHERE urlkey = ? AND rec_type IN ({marks}) "
            "ORDER BY timestamp, warc_date",
            (surt_key(url), *rec_types),
        )
        return [CaptureEntry(*row) for row in rows]

    def by_record_id(self, record_id: str) -> CaptureEntry | None:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM captures WHERE record_id = ?", (record_id,)).fetchone()
        return CaptureEntry(*row) if row else None

    def original_of(self, url: str, digest: str) -> CaptureEntry | None:
        """The earliest full response for ``url`` with this payload digest (what a revisit refers to)."""
        row = self._conn().execute(
            f"SELECT {_COLUMNS} FROM captures WHERE urlkey = ? AND digest = ? AND rec_type = 'response' "
            "ORDER BY warc_date LIMIT 1",
            (surt_key(url), digest),
        ).fetchone()
        return CaptureEntry(*row) if row else None

    def latest(self, url: str) -> CaptureEntry | None:
        """The newest capture of ``url`` (a response or a revisit): what an incremental crawl asks first."""
        row = self._conn().execute(
            f"SELECT {_COLUMNS} FROM captures WHERE urlkey = ? AND rec_type IN ('response', 'revisit') "
            "ORDER BY timestamp DESC, warc_date DESC LIMIT 1",
            (surt_key(url),),
        ).fetchone()
        return CaptureEntry(*row) if row else None

    def latest_payload(self, url: str) -> CaptureEntry | None:
        """The full response holding the newest 2xx payload of ``url`` (through an identical-payload
        revisit to its original): what a ``304 Not Modified`` says is still current."""
        row = self._conn().execute(
            f"SELECT {_COLUMNS} FROM captures WHERE urlkey = ? AND rec_type IN ('response', 'revisit') "
            "AND status LIKE '2%' ORDER BY timestamp DESC, warc_date DESC LIMIT 1",
            (surt_key(url),),
        ).fetchone()
        if row is None:
            return None
        entry = CaptureEntry(*row)
        if entry.rec_type == "response":
            return entry
        return self.original_of(url, entry.digest) if entry.digest else None

    def entries_of(self, filename: str) -> list[CaptureEntry]:
        """Every indexed record of one WARC file, in file order."""
        rows = self._conn().execute(f"SELECT {_COLUMNS} FROM captures WHERE filename = ? ORDER BY offset", (filename,))
        return [CaptureEntry(*row) for row in rows]

    def iter_all(self) -> Iterator[CaptureEntry]:
        for row in self._conn().execute(f"SELECT {_COLUMNS} FROM captures ORDER BY filename, offset"):
            yield CaptureEntry(*row)

    def count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM captures").fetchone()[0]
