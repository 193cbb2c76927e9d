"""The article catalog in SQLite: articles, their signals, source links and flags (stored both ways)."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ItemsView, Iterable, Iterator, Mapping, cast

import numpy as np

from crawler.dedup.feature_index import FeatureIndex, move_postings
from crawler.dedup.features import Article, Signals, parse_when
from crawler.dedup.fingerprint import from_signed, to_signed
from crawler.dedup.kinds import Basis, Kind
from crawler.dedup.payload import json_object, json_text
from crawler.errors import CatalogMissing

#: 2: postings in lists (``feature_index.SCHEMA``); a catalog of schema 1 is turned into it when opened.
CATALOG_SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    url_key TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    published TEXT,
    published_ts REAL,
    fetched_at TEXT,
    warc_record_id TEXT,
    simhash INTEGER NOT NULL,
    content_hash INTEGER NOT NULL,
    signals TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_url_key ON articles (url_key);
CREATE INDEX IF NOT EXISTS articles_content_hash ON articles (content_hash);
CREATE TABLE IF NOT EXISTS links (
    url_key TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (url_key, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_article ON links (article_id);
CREATE TABLE IF NOT EXISTS flags (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    kind TEXT NOT NULL,
    score REAL NOT NULL,
    basis TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checked_warcs (
    name TEXT PRIMARY KEY,
    checked_at TEXT NOT NULL,
    outcome TEXT NOT NULL
) WITHOUT ROWID;
"""


@dataclass
class StoredArticle:
    id: int
    url: str
    url_key: str
    source: str
    lang: str
    title: str
    published: str | None
    published_ts: float | None
    fetched_at: str | None
    warc_record_id: str | None
    signals: Signals

    @property
    def when(self) -> float | None:
        """Publication time, else capture time (seconds since the epoch)."""
        return self.published_ts if self.published_ts is not None else parse_when(self.fetched_at)


@dataclass
class ArticleBrief:
    """An article as a report lists it: who, when, what, and its anchors (no terms, no fingerprints)."""

    id: int
    url: str
    source: str
    lang: str
    title: str
    published: str | None
    published_ts: float | None
    fetched_at: str | None
    anchors: tuple[str, ...] = ()

    @property
    def when(self) -> float | None:
        """Publication time, else capture time (seconds since the epoch)."""
        return self.published_ts if self.published_ts is not None else parse_when(self.fetched_at)


@dataclass
class Flag:
    other: int
    kind: Kind
    score: float
    basis: Basis
    detail: dict[str, Any]


#: Parsed signals kept in memory, counted in features (anchors + words read): at most about 84
#: bytes each, so 600,000 is at most about 50 MB. The detector keeps a catalog article's anchors
#: only (``release_terms``): about 230 on the realistic bench site, 6 KB with interned names, so
#: about 2,600 such articles. A count of articles (50,000 before) let a long crawl's dedup process
#: grow to gigabytes.
SIGNALS_CACHE_FEATURES = 600_000
#: SQLite's page cache (KiB; its default is 2 MB). Postings and frequencies are B-trees keyed by
#: feature name; since their rows go in at the commit in key order (each page met once a batch),
#: the cache no longer saves measurable CPU: 8 MB vs 32 MB, 2,000 realistic articles, commit every
#: 64, same run: 2.0-2.3 CPU-ms a commit per article either way, dedup RSS 25 MB lower.
PAGE_CACHE_KIB = 8 * 1024
#: ``json.dumps(detail, ensure_ascii=False, sort_keys=True)`` with one encoder made once.
_flag_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_ARTICLE_META_COLS = "id, url, url_key, source, lang, title, published, published_ts, fetched_at, warc_record_id"
_ARTICLE_COLS = _ARTICLE_META_COLS + ", signals"
#: The signals without their words (read when first used: ``StoredTerms``).
_ARTICLE_LIGHT_COLS = _ARTICLE_META_COLS + ", json_remove(signals, '$.terms')"


class StoredTerms(Mapping[str, int]):
    """The words of a candidate's signals, read from the catalog when first used. They are most
    of its JSON: decoding it whole for each candidate past the signals cache was a third of an
    article's time in a catalog of 2,000 realistic articles, and only a candidate whose vectors
    the scorer no longer holds needs them."""

    __slots__ = ("_id", "_store", "_terms")

    def __init__(self, store: ArticleStore, article_id: int) -> None:
        self._store = store
        self._id = article_id
        self._terms: dict[str, int] | None = None

    @property
    def loaded(self) -> bool:
        return self._terms is not None

    def _load(self) -> dict[str, int]:
        if self._terms is None:
            row = self._store.conn.execute("SELECT json_extract(signals, '$.terms') FROM articles WHERE id = ?",
                                           (self._id,)).fetchone()
            self._terms = json.loads(row[0]) if row is not None and row[0] else {}
            self._store._terms_loaded(self._id, self)
        return self._terms

    def read(self) -> dict[str, int]:
        """The words as read (shared: never mutate)."""
        return self._load()

    def __getitem__(self, key: str) -> int:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, key: object) -> bool:
        return key in self._load()

    def unload(self) -> None:
        """Forget the words read (they are read again when used)."""
        if self._terms is not None:
            held, self._terms = len(self._terms), None
            self._store._terms_unloaded(self._id, self, held)

    def items(self) -> ItemsView[str, int]:
        return self._load().items()


def _size(sig: Signals) -> int:
    """What one parsed ``Signals`` costs the cache, in features (at least 1): words not read yet
    cost nothing."""
    terms = sig.terms
    return 1 + len(sig.anchors) + (0 if isinstance(terms, StoredTerms) and not terms.loaded else len(terms))


class ArticleStore:
    """One SQLite file (or ``":memory:"``). Not thread-safe: one writer at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        self.conn.executescript(SCHEMA)
        self.features = FeatureIndex(self.conn)
        #: Parsed signals by article id: decoding the JSON of each candidate was a third of
        #: the detector's time (about 80 candidates per article). Signals never change once
        #: stored; an entry goes when its article is deleted.
        self._signals: OrderedDict[int, Signals] = OrderedDict()
        #: The articles of cached signals, as read (rows never change once stored): get_many
        #: of ~30 candidates an article read them from SQLite each time.
        self._articles: dict[int, StoredArticle] = {}
        self._signals_features = 0  # features held by ``_signals``
        self.conn.execute("BEGIN")
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(CATALOG_SCHEMA_VERSION),))
        elif int(row[0]) == 1:  # its postings a row each: moved into lists, committed with the new version
            move_postings(self.conn)
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(CATALOG_SCHEMA_VERSION),))
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN")
        elif int(row[0]) != CATALOG_SCHEMA_VERSION:
            raise ValueError(f"{self.path}: catalog schema {row[0]}, this version reads {CATALOG_SCHEMA_VERSION}")

    @classmethod
    def open_existing(cls, path: str | Path) -> ArticleStore:
        """The catalog at ``path``, which must exist (a lookup never creates one)."""
        if not Path(path).is_file():
            raise CatalogMissing(f"no dedup catalog at {path}: a crawl builds it, and `newsarchive dedup rebuild` "
                                 "builds it from the archive's WARCs")
        return cls(path)

    # --- transactions -------------------------------------------------------------------
    def commit(self) -> None:
        self.features.flush()  # the frequencies counted in memory, with their articles
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def rollback(self) -> None:
        """Drop every change since the last commit (a catch-up that failed half-way)."""
        self.conn.execute("ROLLBACK")
        self.conn.execute("BEGIN")
        self.features.reset()  # its frequencies in memory moved with the changes dropped
        # articles of the dropped changes are gone, and their ids will be handed out again
        self._signals.clear()
        self._articles.clear()
        self._signals_features = 0

    def close(self) -> None:
        try:
            self.features.flush()
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError:
            pass
        self.conn.close()

    def __enter__(self) -> ArticleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- articles -----------------------------------------------------------------------
    def insert(self, article: Article, signals: Signals, *, replace: bool = True) -> int:
        """Insert an article (replacing an older capture of the same URL) and its links. Without
        ``replace`` the caller has removed any older capture already (the detector does)."""
        old = self.by_url(article.url) if replace else None
        if old is not None:
            self.delete(old.id)
        stored = signals.to_json()
        words = encoded_words(signals)
        signals_text = json_object((k, words[k] if k in words else json_text(v))
                                   for k, v in stored.items())  # json.dumps(stored, ensure_ascii=False)
        cur = self.conn.execute(
            "INSERT INTO articles (url, url_key, source, lang, title, published, published_ts, fetched_at,"
            " warc_record_id, simhash, content_hash, signals) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.url, signals.url_key, article.source or "", article.lang, article.title or "",
                article.published, parse_when(article.published), article.fetched_at, article.warc_record_id,
                to_signed(signals.simhash), to_signed(signals.content_hash), signals_text,
            ),
        )
        assert cur.lastrowid is not None
        article_id = int(cur.lastrowid)
        # The detector reads the new article back at once: keep what the JSON decodes to (its
        # anchors' names shared with every other cached article naming them).
        stored["anchors"] = _interned(stored["anchors"])
        self._cache_signals(article_id, Signals.from_json(stored))
        self.conn.executemany(
            "INSERT OR REPLACE INTO links (url_key, article_id, kind) VALUES (?, ?, ?)",
            [(link["url"], article_id, link["kind"]) for link in signals.source_links],
        )
        return article_id

    def delete(self, article_id: int) -> None:
        """Remove an article, its links, postings, frequencies and every flag that names it."""
        art = self.get(article_id)
        if art is None:
            return
        names = feature_names(art.signals)
        self.features.remove(article_id, names)  # its postings are among its features
        self.features.count_document(names, sign=-1, distinct=True)
        self.conn.execute("DELETE FROM links WHERE article_id = ?", (article_id,))
        self.conn.execute("DELETE FROM flags WHERE a = ? OR b = ?", (article_id, article_id))
        self.conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        gone = self._signals.pop(article_id, None)
        if gone is not None:
            self._signals_features -= _size(gone)
        self._articles.pop(article_id, None)

    def _row(self, row: tuple[Any, ...], *, whole: bool = False) -> StoredArticle:
        """A row of ``_ARTICLE_COLS`` or ``_ARTICLE_LIGHT_COLS``, in that order, or of
        ``_ARTICLE_META_COLS`` for an article whose signals are cached. ``whole``: the article goes
        to a caller outside the detector, which may keep it past the store's life, so its words are
        read now (a cached candidate's may not have been yet)."""
        (article_id, url, url_key, source, lang, title, published, published_ts, fetched_at,
         warc_record_id) = row[:10]
        signals_json = row[10] if len(row) > 10 else None
        sig = self._signals.get(article_id)
        if sig is None:
            assert signals_json is not None, "a row without its signals is read only for a cached article"
            d = json.loads(signals_json)
            d["anchors"] = _interned(d["anchors"])
            if "terms" not in d:  # read without its words (``_ARTICLE_LIGHT_COLS``): they come when used
                d["terms"] = cast(dict[str, int], StoredTerms(self, article_id))
            sig = Signals.from_json(d)
            self._cache_signals(article_id, sig)
        if whole and isinstance(sig.terms, StoredTerms):
            sig.terms._load()
        art = StoredArticle(id=article_id, url=url, url_key=url_key, source=source, lang=lang, title=title,
                            published=published, published_ts=published_ts, fetched_at=fetched_at,
                            warc_record_id=warc_record_id, signals=sig)
        self._articles[article_id] = art
        return art

    def _one(self, where: str, value: object) -> StoredArticle | None:
        row = self.conn.execute(f"SELECT {_ARTICLE_COLS} FROM articles WHERE {where} = ?", (value,)).fetchone()
        return None if row is None else self._row(row, whole=True)

    def _cache_signals(self, article_id: int, sig: Signals) -> None:
        old = self._signals.pop(article_id, None)
        if old is not None:
            self._signals_features -= _size(old)
        self._signals[article_id] = sig
        self._signals_features += _size(sig)
        self._evict()

    def _terms_loaded(self, article_id: int, terms: StoredTerms) -> None:
        """The words of a cached article were read: they count in the cache from now on."""
        sig = self._signals.get(article_id)
        if sig is not None and sig.terms is terms:
            self._signals_features += len(terms)
            self._evict()

    def _terms_unloaded(self, article_id: int, terms: StoredTerms, held: int) -> None:
        """The words of a cached article were forgotten: they no longer count in the cache."""
        sig = self._signals.get(article_id)
        if sig is not None and sig.terms is terms:
            self._signals_features -= held

    def release_terms(self, ids: Iterable[int]) -> None:
        """Keep only the anchors of these cached articles' signals; their words are read again
        from the catalog when used. The detector calls it once it has scored or indexed them:
        the scorer keeps what it needs of the words (``Scorer.article_features``), and an
        inserted article's words kept here were most of the cache (620 of its 850 features on
        the realistic site), so the cache held a third of the catalog and each older candidate's
        row was read and its derived facts (``rules._memo``) computed again."""
        signals = self._signals
        for article_id in ids:
            sig = signals.get(article_id)
            if sig is None:
                continue
            terms = sig.terms
            if isinstance(terms, StoredTerms):
                if terms._terms is not None:  # most candidates' words are not read (see ``unload``)
                    terms.unload()
            else:
                self._signals_features -= len(terms)
                sig.terms = cast(dict[str, int], StoredTerms(self, article_id))

    def _evict(self) -> None:
        while self._signals_features > SIGNALS_CACHE_FEATURES and len(self._signals) > 1:
            evicted, gone = self._signals.popitem(last=False)
            self._signals_features -= _size(gone)
            self._articles.pop(evicted, None)

    def get(self, article_id: int) -> StoredArticle | None:
        return self._one("id", article_id)

    def get_many(self, ids: list[int]) -> dict[int, StoredArticle]:
        """The articles of ``ids`` that exist, by ascending id."""
        known = self._articles
        out: dict[int, StoredArticle] = {i: known[i] for i in ids if i in known}
        if len(out) == len(ids):  # all read before (the usual answer to the detector: in order)
            order = sorted(out)
            return out if order == ids else {i: out[i] for i in order}
        # Articles whose signals are cached are read without their JSON (most of a row's
        # bytes): first, so that caching the others cannot evict them in between.
        cached = [i for i in ids if i in self._signals and i not in out]
        rest = [i for i in ids if i not in self._signals and i not in out]
        for cols, part in ((_ARTICLE_META_COLS, cached), (_ARTICLE_LIGHT_COLS, rest)):
            for i in range(0, len(part), 500):
                chunk = part[i:i + 500]
                for row in self.conn.execute(
                    f"SELECT {cols} FROM articles WHERE id IN ({','.join('?' * len(chunk))})", chunk
                ):
                    art = self._row(row)
                    out[art.id] = art
        return dict(sorted(out.items()))

    def briefs(self, ids: list[int]) -> dict[int, ArticleBrief]:
        """What a report shows of each article, without decoding its whole signals (only the
        anchors are read out of the JSON, by SQLite): 10,000 clusters in a fraction of the time
        and memory of :meth:`get_many`, and nothing added to the signals cache."""
        out: dict[int, ArticleBrief] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row in self.conn.execute(
                "SELECT id, url, source, lang, title, published, published_ts, fetched_at,"
                f" json_extract(signals, '$.anchors') FROM articles WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ):
                article_id, url, source, lang, title, published, published_ts, fetched_at, anchors = row
                out[article_id] = ArticleBrief(
                    id=article_id, url=url, source=source, lang=lang, title=title, published=published,
                    published_ts=published_ts, fetched_at=fetched_at, anchors=tuple(json.loads(anchors) if anchors else ()),
                )
        return out

    def by_url(self, url: str) -> StoredArticle | None:
        return self._one("url", url)

    def capture_of(self, url: str) -> tuple[str | None, str | None] | None:
        """``(fetched_at, warc_record_id)`` of the capture of ``url`` the catalog holds, without
        reading its signals; None when the URL is not in the catalog."""
        row = self.conn.execute("SELECT fetched_at, warc_record_id FROM articles WHERE url = ?", (url,)).fetchone()
        return None if row is None else (row[0], row[1])

    def ids_by_url_key(self, url_key: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM articles WHERE url_key = ?", (url_key,))]

    def ids_by_content_hash(self, content_hash: int) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM articles WHERE content_hash = ?", (to_signed(content_hash),))]

    def iter_articles(self) -> Iterator[StoredArticle]:
        for row in self.conn.execute(f"SELECT {_ARTICLE_COLS} FROM articles ORDER BY id"):
            yield self._row(row, whole=True)

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def simhashes(self) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, fingerprints) for building the Hamming index."""
        rows = self.conn.execute("SELECT id, simhash FROM articles ORDER BY id").fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        fps = np.array([from_signed(r[1]) for r in rows], dtype=np.uint64)
        return ids, fps

    # --- source links ---------------------------------------------------------------------
    def citing(self, url_key: str) -> list[tuple[int, str]]:
        """Articles that name ``url_key`` as a source: ``[(id, kind)]``."""
        return [(r[0], r[1]) for r in self.conn.execute("SELECT article_id, kind FROM links WHERE url_key = ?", (url_key,))]

    # --- flags ------------------------------------------------------------------------------
    def add_flag(self, a: int, b: int, kind: Kind, score: float, basis: Basis,
                 detail: dict[str, Any] | None = None) -> None:
        """Store a relation both ways, replacing any older relation of the pair."""
        d = _flag_json(detail or {})
        k, b_ = str(kind), str(basis)
        self.conn.executemany(
            "INSERT OR REPLACE INTO flags (a, b, kind, score, basis, detail) VALUES (?,?,?,?,?,?)",
            [(a, b, k, score, b_, d), (b, a, k, score, b_, d)],
        )

    def clear_flags(self) -> None:
        self.conn.execute("DELETE FROM flags")

    def remove_flag(self, a: int, b: int) -> None:
        self.conn.execute("DELETE FROM flags WHERE (a = ? AND b = ?) OR (a = ? AND b = ?)", (a, b, b, a))

    def flags_of(self, article_id: int) -> list[Flag]:
        return [
            Flag(r[0], Kind(r[1]), r[2], Basis(r[3]), json.loads(r[4]))
            for r in self.conn.execute(
                "SELECT b, kind, score, basis, detail FROM flags WHERE a = ? ORDER BY score DESC, b", (article_id,)
            )
        ]

    def count_flags(self) -> int:
        """Relations, each counted once."""
        return int(self.conn.execute("SELECT COUNT(*) FROM flags WHERE a < b").fetchone()[0])

    def all_flags(self) -> list[tuple[int, int, Kind, float, Basis]]:
        """Each relation once (a < b): ``(a, b, kind, score, basis)``."""
        return [(a, b, Kind(kind), score, Basis(basis)) for a, b, kind, score, basis
                in self.conn.execute("SELECT a, b, kind, score, basis FROM flags WHERE a < b ORDER BY a, b")]


    # --- the catch-up's checkpoint: WARC files already checked against the catalog -------------
    # (plain names: the catalog never reads a WARC; crawler/catchup.py does)
    def checked_warcs(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM checked_warcs")}

    def mark_checked(self, names: list[str], checked_at: str, outcome: str = "ok") -> None:
        """Record WARC files as checked (in the open transaction: with the articles they gave)."""
        self.conn.executemany("INSERT OR REPLACE INTO checked_warcs (name, checked_at, outcome) VALUES (?, ?, ?)",
                              [(name, checked_at, outcome) for name in names])


def _interned(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` with its names interned: the articles of a catalog name the same few
    thousand anchors over and over, and each decoded row had its own copies."""
    intern = sys.intern
    return {intern(k): v for k, v in counts.items()}


def encoded_words(signals: Signals) -> dict[str, str]:
    """The JSON (``ensure_ascii=False``) of an article's anchors and words, the bulk of its signals:
    the catalog's row and the WARC payload (``payload.encode``) both hold them, and encoding them
    twice was 0.37 CPU-ms of a realistic article. Kept on the signals, which never change."""
    held = signals.__dict__
    got = held.get("_encoded_words")
    if got is None:
        got = held["_encoded_words"] = {name: json_text(dict(getattr(signals, name)))
                                        for name in ("anchors", "terms")}
    return cast(dict[str, str], got)


def feature_names(signals: Signals) -> list[str]:
    """Every feature of an article in the frequency namespace (``a:`` anchors, ``t:`` terms)."""
    return ["a:" + a for a in signals.anchors] + ["t:" + t for t in signals.terms]
