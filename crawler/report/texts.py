"""The archived articles' titles and texts in SQLite FTS5: full-text search and excerpts.

The dedup catalog keeps fingerprints, not texts; the texts are in the WARC metadata records
the dedup pipeline writes (``{"type": "newsarchive/dedup", "extraction": {...}}``). This
index is a cache of those records: :meth:`TextIndex.sync` reads the WARC files it has not
read yet, and deleting the file rebuilds it.

Chinese has no spaces, and FTS5's ``unicode61`` tokenizer would make a whole sentence one
token. Texts are pre-segmented with rjieba's ``cut_for_search`` (which also emits the short
words inside long ones: 明尼苏达州 gives 明尼苏 and 苏达 too) and the query is segmented the
same way, so "勒索" finds "勒索软件团伙" and English words work as usual. The original text is
kept beside the segmented one for excerpts. Every query is parameterised; user words reach
FTS5 only as quoted phrases, never as query syntax.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rjieba

logger = logging.getLogger(__name__)

PAYLOAD_TYPE = "newsarchive/dedup"  # the dedup pipeline's WARC metadata payload
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    published TEXT,
    captured TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(title, body,
    tokenize='unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS warcs (name TEXT PRIMARY KEY, records INTEGER NOT NULL);
"""

_SPACE_RE = re.compile(r"\s+")


def segment(text: str) -> str:
    """Words separated by spaces, for FTS5's unicode61 tokenizer (Chinese and English)."""
    return " ".join(t for t in rjieba.cut_for_search(text or "") if t.strip())


@dataclass
class Hit:
    url: str
    source: str
    lang: str
    title: str
    published: str | None
    captured: str | None
    excerpt: str


class TextIndex:
    """``search.sqlite3`` beside the catalogs. One writer at a time; readers any thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self.conn.executescript(SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self.conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> TextIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------------
    def add(
        self,
        url: str,
        *,
        title: str = "",
        text: str = "",
        source: str = "",
        lang: str = "",
        published: str | None = None,
        captured: str | None = None,
    ) -> None:
        """Add or replace the article at ``url`` (a newer capture replaces an older one)."""
        old = self.conn.execute("SELECT id, captured FROM docs WHERE url = ?", (url,)).fetchone()
        if old is not None:
            if old[1] and captured and old[1] > captured:
                return
            self.conn.execute("DELETE FROM docs_fts WHERE rowid = ?", (old[0],))
            self.conn.execute("DELETE FROM docs WHERE id = ?", (old[0],))
        cur = self.conn.execute(
            "INSERT INTO docs (url, source, lang, title, text, published, captured) VALUES (?,?,?,?,?,?,?)",
            (url, source or "", lang or "", title or "", text or "", published, captured),
        )
        self.conn.execute(
            "INSERT INTO docs_fts (rowid, title, body) VALUES (?, ?, ?)", (cur.lastrowid, segment(title), segment(text))
        )

    def add_payload(self, payload: dict[str, Any]) -> bool:
        if not isinstance(payload, dict) or payload.get("type") != PAYLOAD_TYPE or not payload.get("url"):
            return False
        ex = payload.get("extraction") or {}
        self.add(
            str(payload["url"]),
            title=str(ex.get("title") or ""),
            text=str(ex.get("text") or ""),
            source=str(payload.get("source") or ""),
            lang=str(payload.get("lang") or ""),
            published=ex.get("published"),
            captured=payload.get("fetched_at"),
        )
        return True

    def commit(self) -> None:
        self.conn.commit()

    def sync(self, storage: Any, names: Iterable[str]) -> dict[str, int]:
        """Read the dedup payloads of the WARC files in ``names`` not read before."""
        done = {r[0] for r in self.conn.execute("SELECT name FROM warcs")}
        stats = {"warcs": 0, "articles": 0}
        for name in names:
            if name in done or not name.endswith((".warc", ".warc.gz")):
                continue
            n = 0
            for payload in _payloads(storage, name):
                n += self.add_payload(payload)
            self.conn.execute("INSERT OR REPLACE INTO warcs VALUES (?, ?)", (name, n))
            self.conn.commit()
            stats["warcs"] += 1
            stats["articles"] += n
        return stats

    # --- reading --------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    def text_of(self, url: str) -> str | None:
        row = self.conn.execute("SELECT text FROM docs WHERE url = ?", (url,)).fetchone()
        return None if row is None else row[0]

    def texts_of(self, urls: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            q = f"SELECT url, text FROM docs WHERE url IN ({','.join('?' * len(chunk))})"
            out.update(self.conn.execute(q, chunk).fetchall())
        return out

    def search(self, words: str = "", url_prefix: str = "", limit: int = 50, offset: int = 0) -> tuple[list[Hit], int]:
        """Articles whose title or text has every word of ``words`` and whose URL starts with
        ``url_prefix``; newest capture first. Returns (one page of hits, total)."""
        where, params = [], []
        phrases = [t for t in segment(words).split(" ") if t] if words.strip() else []
        if phrases:
            where.append("docs.id IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)")
            params.append(" AND ".join('"' + p.replace('"', '""') + '"' for p in phrases))
        if url_prefix:
            # A range on the UNIQUE index, not LIKE: no wildcard in a URL can widen it.
            where.append("docs.url >= ? AND docs.url < ?")
            params += [url_prefix, url_prefix + "\U0010ffff"]
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = int(self.conn.execute(f"SELECT COUNT(*) FROM docs{clause}", params).fetchone()[0])
        rows = self.conn.execute(
            f"SELECT url, source, lang, title, text, published, captured FROM docs{clause}"
            " ORDER BY COALESCE(published, captured) DESC, id DESC LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        ).fetchall()
        terms = query_terms(words)
        return [Hit(r[0], r[1], r[2], r[3], r[5], r[6], excerpt(r[4], terms)) for r in rows], total


def query_terms(words: str) -> list[str]:
    """The words of a query worth pointing at in an excerpt (no single Latin letters)."""
    return [p for p in segment(words).split(" ") if p and (len(p) > 1 or not p.isascii())]


def excerpt(text: str, terms: Iterable[str] = (), size: int = 220) -> str:
    """About ``size`` characters of ``text`` around the first of ``terms`` found (else its start)."""
    flat = _SPACE_RE.sub(" ", text or "").strip()
    if len(flat) <= size:
        return flat
    low = flat.lower()
    at = min((i for i in (low.find(t.lower()) for t in terms if t) if i >= 0), default=0)
    start = max(0, at - size // 3)
    chunk = flat[start : start + size]
    return ("…" if start else "") + chunk + ("…" if start + size < len(flat) else "")


def _payloads(storage: Any, name: str) -> Iterator[dict[str, Any]]:
    from warcio.archiveiterator import ArchiveIterator

    with storage.open_stream("warcs/" + name) as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "metadata":
                continue
            ctype = (record.rec_headers.get_header("Content-Type") or "").split(";")[0].strip()
            if ctype != "application/json":
                continue
            try:
                payload = json.loads(record.content_stream().read())
            except ValueError:
                logger.warning("Unreadable metadata record in %(name)s", {"name": name})
                continue
            if isinstance(payload, dict):
                yield payload


def open_text_index(archive: Any, sync: bool = True) -> TextIndex:
    """The archive's text index (``search.sqlite3`` in its state folder), brought up to date."""
    index = TextIndex(Path(archive.state_dir) / "search.sqlite3")
    if sync:
        index.sync(archive.storage, archive.warc_names())
    return index
