"""The archived articles' titles and texts in SQLite FTS5: full-text search and excerpts.

The dedup catalog keeps fingerprints, not texts; the texts are in the WARC metadata records
the dedup pipeline writes (``crawler/dedup/payload.py``, read through
``Archive.iter_metadata``). This index is a cache of those records: :meth:`TextIndex.sync`
reads the WARC files it has not read yet, and deleting the file rebuilds it.

Chinese has no spaces, and FTS5's ``unicode61`` tokenizer would make a whole sentence one
token. Runs of CJK characters are indexed as overlapping bigrams (明尼苏达州 -> 明尼 尼苏 苏达
达州, plus the last character alone), the way Lucene's CJK analyzer does; a query's CJK run
becomes the phrase of its bigrams, so any Chinese substring of two or more characters is found
(勒索 in 勒索软件团伙, 明尼苏达 in 明尼苏达州), and a single character is a prefix query. A word
segmenter was tried first (rjieba's search mode): a query word the segmenter cuts differently
from the text (明尼苏达 vs 明尼苏达州) was not found. SQLite's ``trigram`` tokenizer cannot
match two-character words, the commonest in Chinese. Latin words go to ``unicode61`` as they
are. The original text is kept beside the indexed one for excerpts. Every query is
parameterised; user words reach FTS5 only as quoted phrases, never as query syntax.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from crawler.dedup.payload import BadPayload, article_from_payload, load_payload

logger = logging.getLogger(__name__)

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


_CJK_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def segment(text: str) -> str:
    """The text as FTS5 tokens: CJK runs as overlapping bigrams, the rest as it is."""
    return _CJK_RUN_RE.sub(lambda m: " " + " ".join(_bigrams(m.group(0))) + " ", text or "")


def fts_query(words: str) -> str | None:
    """A safe FTS5 query: every word and every CJK run must occur (None for nothing to find)."""
    parts: list[str] = []
    pos = 0
    for m in _CJK_RUN_RE.finditer(words):
        parts += _latin_words(words[pos : m.start()])
        run = m.group(0)
        parts.append(f'"{run}"*' if len(run) == 1 else '"' + " ".join(_bigrams(run)[:-1]) + '"')
        pos = m.end()
    parts += _latin_words(words[pos:])
    return " AND ".join(parts) or None


_WORD_RE = re.compile(r"[^\W_]+")


def _latin_words(text: str) -> list[str]:
    """Each space-separated chunk as a phrase of its words (unicode61 splits on anything not a
    letter or digit: ``cve-2025-0282`` is the phrase "cve 2025 0282"); punctuation alone is dropped."""
    out = []
    for chunk in text.split():
        words = _WORD_RE.findall(chunk)
        if words:
            out.append('"' + " ".join(words) + '"')
    return out


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
        #: The app's worker threads share this connection: one statement at a time.
        self._lock = threading.RLock()
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

    def add_block(self, block: bytes) -> bool:
        """Add the article of one WARC metadata block if it is a dedup payload (else False)."""
        try:
            payload = load_payload(block)
            if payload is None:
                return False
            article, _signals = article_from_payload(payload)
        except BadPayload as e:
            logger.warning("Text index: a dedup payload skipped (%(error)s)", {"error": e})
            return False
        self.add(
            article.url,
            title=article.title,
            text=article.text,
            source=article.source,
            lang=article.lang,
            published=article.published,
            captured=article.fetched_at,
        )
        return True

    def commit(self) -> None:
        self.conn.commit()

    def pending(self, names: Iterable[str]) -> list[str]:
        """The WARC files in ``names`` this index has not read yet."""
        done = {r[0] for r in self._q("SELECT name FROM warcs")}
        return [n for n in names if n not in done and n.endswith((".warc", ".warc.gz"))]

    def sync(self, archive: Any, names: Iterable[str]) -> dict[str, int]:
        """Read the dedup payloads of the WARC files in ``names`` not read before.

        A damaged WARC file keeps the articles read before the damage and is not read again
        (``newsarchive verify`` is where damage is reported and dealt with)."""
        from crawler.archive.warcscan import UnreadableWarc

        done = {r[0] for r in self._q("SELECT name FROM warcs")}
        stats = {"warcs": 0, "articles": 0}
        for name in names:
            if name in done or not name.endswith((".warc", ".warc.gz")):
                continue
            n = 0
            with self._lock:  # readers (the app's threads) wait for one file at a time
                try:
                    for block in archive.iter_metadata(names=[name]):
                        n += self.add_block(block)
                except UnreadableWarc as e:
                    logger.warning("Text index: %(error)s", {"error": e})
                self.conn.execute("INSERT OR REPLACE INTO warcs VALUES (?, ?)", (name, n))
                self.conn.commit()
            stats["warcs"] += 1
            stats["articles"] += n
        return stats

    # --- reading --------------------------------------------------------------------------
    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def count(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM docs")[0][0])

    def articles_by_source(self) -> Iterator[tuple[str, str, str | None]]:
        """``(source, url, captured)`` of every indexed article (for the status page)."""
        yield from self._q("SELECT source, url, captured FROM docs")

    def text_of(self, url: str) -> str | None:
        rows = self._q("SELECT text FROM docs WHERE url = ?", (url,))
        return rows[0][0] if rows else None

    def texts_of(self, urls: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            q = f"SELECT url, text FROM docs WHERE url IN ({','.join('?' * len(chunk))})"
            out.update(self._q(q, chunk))
        return out

    def search(self, words: str = "", url_prefix: str = "", limit: int = 50, offset: int = 0) -> tuple[list[Hit], int]:
        """Articles whose title or text has every word of ``words`` and whose URL starts with
        ``url_prefix``; newest capture first. Returns (one page of hits, total)."""
        where, params = [], []
        match = fts_query(words) if words.strip() else None
        if words.strip() and match is None:  # only punctuation: nothing can match
            return [], 0
        if match:
            where.append("docs.id IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)")
            params.append(match)
        if url_prefix:
            # A range on the UNIQUE index, not LIKE: no wildcard in a URL can widen it.
            where.append("docs.url >= ? AND docs.url < ?")
            params += [url_prefix, url_prefix + "\U0010ffff"]
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = int(self._q(f"SELECT COUNT(*) FROM docs{clause}", params)[0][0])
        rows = self._q(
            f"SELECT url, source, lang, title, text, published, captured FROM docs{clause}"
            " ORDER BY COALESCE(published, captured) DESC, id DESC LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
        terms = query_terms(words)
        return [Hit(r[0], r[1], r[2], r[3], r[5], r[6], excerpt(r[4], terms)) for r in rows], total


def query_terms(words: str) -> list[str]:
    """The words of a query worth pointing at in an excerpt (no single Latin letters)."""
    chunks = [c.strip("\"'()[]{}*,.;:!?") for c in _CJK_RUN_RE.sub(" ", words).split()]
    return _CJK_RUN_RE.findall(words) + [c for c in chunks if len(c) > 1]


def excerpt(text: str, terms: Iterable[str] = (), size: int = 220) -> str:
    """About ``size`` characters of ``text`` around the first of ``terms`` found (else its start).

    Only the window is normalised: a report calls this for every relation of 10,000 clusters."""
    if not text:
        return ""
    wanted = tuple(t for t in terms if t)
    m = _find_pattern(wanted).search(text) if wanted else None
    at = m.start() if m else 0
    start = max(0, at - size // 3)
    window = _SPACE_RE.sub(" ", text[start : start + size * 2]).strip()
    chunk = window[:size]
    more = start + size * 2 < len(text) or len(window) > size
    return ("…" if start else "") + chunk + ("…" if more else "")


@functools.lru_cache(maxsize=256)
def _find_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)


def open_text_index(archive: Any, sync: bool = True, out: TextIO | None = None) -> TextIndex:
    """The archive's text index (``search.sqlite3`` in its state folder), brought up to date.

    The first time, every WARC file is read once (from S3 too): ``out`` is told how many."""
    index = TextIndex(Path(archive.state_dir) / "search.sqlite3")
    if sync:
        names = archive.warc_names()
        todo = index.pending(names)
        if todo and out is not None:
            print(f"indexing article texts from {len(todo)} WARC files not read before", file=out, flush=True)
        index.sync(archive, todo)
    return index
