"""Inverted index over rare features (anchors and top terms) with document frequencies, in SQLite.

Features carry a namespace prefix: ``a:`` for language-invariant anchors (``a:cve-2023-36884``),
``t:`` for words of one language (``t:勒索软件``, ``t:hospital``). Document frequencies count
every feature of every article; postings hold only the features used to find candidates.
"""

from __future__ import annotations

import sqlite3
import sys
from array import array
from bisect import bisect_left
from collections import defaultdict
from itertools import groupby
from typing import Iterable, Iterator

import numpy as np

#: Postings: a row holds the article ids (``ids``: 8-byte little-endian integers, ascending) one
#: flush posted under a feature, keyed by the feature and the first of them. Catalog schema 1 had a
#: row for each (feature, article) and an index by article (:func:`move_postings` turns it into
#: this): the rows of a commit were one ``executemany`` row each (about 260 a realistic article),
#: whose binding alone cost more than this table's inserts. 2,000 realistic articles, their
#: postings written in 9 commits: 0.72-0.91 CPU-ms an article with the index, 0.39-0.46 without,
#: 0.16-0.21 a list a flush; 19.1, 9.6 and 6.6 MB. There is no index by article: a delete finds an
#: article's lists by its features, since the postings of an article only ever hold its own
#: anchors and words (``feature_names``).
SCHEMA = """
CREATE TABLE IF NOT EXISTS posting_lists (
    feature TEXT NOT NULL,
    first INTEGER NOT NULL,
    ids BLOB NOT NULL,
    PRIMARY KEY (feature, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS df (
    feature TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS df_total (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    n INTEGER NOT NULL
);
INSERT OR IGNORE INTO df_total (id, n) VALUES (0, 0);
"""


#: Features known in memory (name, id, document frequency) at most, about 150 bytes each (45 MB);
#: past it the vocabulary starts again (its ``epoch`` moves) and features are read back from
#: SQLite as they are met. 400 articles of the realistic bench site hold 14,000 distinct features.
VOCABULARY_SIZE = 300_000
_CHUNK = 500  # features per ``IN (...)`` query
#: Bytes of posting lists held in memory at most (past it they are all forgotten and read again as
#: met). Reading each new article's rare features' postings from SQLite was a sixth of its time
#: in a catalog of 2,000 realistic articles (thousands of rows).
POSTINGS_CACHE_BYTES = 16 * 1024 * 1024
_LIST_BYTES = 150  # a held list without its ids: the array object and its dict entry
_LITTLE = sys.byteorder == "little"
#: ``_ranked`` counts the rows by article id (an array as long as the largest id) while the largest
#: id is below ``_BY_ID_ROWS`` times the rows plus ``_BY_ID_EXTRA``, else it sorts them.
_BY_ID_ROWS = 8
_BY_ID_EXTRA = 4096
#: A list for a feature whose first id is one of an older list's (an article posted again under
#: it, never removed): the two are one list, read as the ascending set of their ids. (``||`` makes
#: text of the two blobs, their bytes as they are in a UTF-8 catalog, the only kind made.)
_PUT_LIST = ("INSERT INTO posting_lists (feature, first, ids) VALUES (?, ?, ?)"
             " ON CONFLICT (feature, first) DO UPDATE SET ids = CAST(ids || excluded.ids AS BLOB)")


def _blob(ids: Iterable[int]) -> bytes:
    a = array("q", ids)
    if not _LITTLE:
        a.byteswap()
    return a.tobytes()


def _extend(into: array[int], blob: bytes) -> None:
    """Append the ids of a list's ``blob`` to ``into``."""
    if _LITTLE:
        into.frombytes(blob)
    else:
        a = array("q")
        a.frombytes(blob)
        a.byteswap()
        into.extend(a)


def _ascending(ids: array[int]) -> array[int]:
    """``ids`` as the ascending set of them (the lists of a feature from several flushes may
    overlap: settling posts older articles again)."""
    if len(ids) > 1:
        a = np.frombuffer(ids, dtype=np.int64)
        if (a[1:] <= a[:-1]).any():
            return array("q", np.unique(a).tobytes())
    return ids


def move_postings(conn: sqlite3.Connection) -> bool:
    """Turn catalog schema 1's postings (a row each, table ``postings``) into lists (in the open
    transaction); False when there is no such table."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'postings'").fetchone() is None:
        return False
    rows = conn.execute("SELECT feature, article_id FROM postings ORDER BY feature, article_id")
    lists: Iterator[tuple[str, list[int]]] = ((f, [i for _f, i in g]) for f, g in groupby(rows, key=lambda r: r[0]))
    conn.executemany(_PUT_LIST, ((f, ids[0], _blob(ids)) for f, ids in lists))
    conn.execute("DROP TABLE postings")  # and its index by article
    return True


class FeatureIndex:
    """Postings and document frequencies over one SQLite connection (owned by the store).

    In memory each feature met has an integer id (``ids``) and its document frequency in a
    numpy array that ``count_document`` moves at once, so the scorer weighs thousands of
    features with array arithmetic instead of dict lookups. The df table follows at
    :meth:`flush` (the store's commit, in the same transaction as the articles counted): one
    upsert per feature per batch instead of one per feature per article (about 900 for a
    realistic article, the common words in every one of them), so a killed process loses the
    uncommitted articles and their counts together and the table always matches the articles."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self._total: int | None = None
        #: Bumped whenever a frequency changes: what was computed from them may be reused until then.
        self.generation = 0
        #: Bumped whenever the vocabulary starts again: ids handed out before mean nothing then.
        self.epoch = 0
        self._ids: dict[str, int] = {}
        self._names: list[str] = []
        self._df = np.zeros(1024, dtype=np.int64)
        #: Every feature of the df table is in the vocabulary: one met first has df 0, no query.
        self._complete = False
        #: Counts moved in memory since the last flush, by feature id (one array operation a
        #: document, where a dict of names took one Python step per feature), and of the total.
        self._moved = np.zeros(1024, dtype=np.int64)
        self._pending_total = 0
        #: Posting lists read from SQLite (ascending article ids), kept equal to the table by
        #: :meth:`add` (this object is the table's one writer); any other change forgets them.
        self._postings: dict[str, array[int]] = {}
        self._postings_bytes = 0
        #: Postings added since the last flush, by feature: the table gets them at :meth:`flush`
        #: in key order (an article's few hundred rows inserted one by one, each into its own
        #: page of the B-tree, were its largest SQLite cost in a catalog of 2,000).
        self._pending: defaultdict[str, list[int]] = defaultdict(list)
        self._load_vocabulary()

    def _load_vocabulary(self) -> None:
        """The whole df table when it fits in half the vocabulary (a fresh catalog: nothing)."""
        rows = int(self.conn.execute("SELECT COUNT(*) FROM df").fetchone()[0])
        if rows > VOCABULARY_SIZE // 2:
            return
        cur = self.conn.execute("SELECT feature, n FROM df")
        while batch := cur.fetchmany(100_000):
            self._assign([f for f, _n in batch], [n for _f, n in batch])
        self._complete = True

    def reset(self) -> None:
        """Forget every frequency held in memory (SQLite changed behind it: a rollback), and the
        counts not yet flushed (the rollback dropped their articles)."""
        self._pending_total = 0
        self._total = None
        self._ids, self._names = {}, []
        self._df = np.zeros(1024, dtype=np.int64)
        self._moved = np.zeros(1024, dtype=np.int64)
        self._complete = False
        self._pending = defaultdict(list)
        self._forget_postings()
        self.generation += 1
        self.epoch += 1

    def _assign(self, names: list[str], dfs: list[int]) -> None:
        start = len(self._names)
        need = start + len(names)
        if need > len(self._df):
            grown = np.zeros(max(need, 2 * len(self._df)), dtype=np.int64)
            grown[:start] = self._df[:start]
            self._df = grown
            moved = np.zeros(len(grown), dtype=np.int64)
            moved[:start] = self._moved[:start]
            self._moved = moved
        self._df[start:need] = dfs
        self._ids.update(zip(names, range(start, need)))
        self._names.extend(names)

    def ids(self, features: list[str]) -> np.ndarray:
        """The ids of ``features`` (in order; duplicates allowed), giving new ones an id and their
        frequency from SQLite."""
        got = list(map(self._ids.get, features))
        if None in got:
            missing = list(dict.fromkeys(f for f, i in zip(features, got) if i is None))
            if self._names and len(self._names) + len(missing) > VOCABULARY_SIZE:
                self.flush()  # what memory moved goes to the table before memory forgets it
                self.reset()
                return self.ids(features)
            if self._complete:
                dfs = [0] * len(missing)
            else:
                known: dict[str, int] = {}
                for i in range(0, len(missing), _CHUNK):
                    chunk = missing[i:i + _CHUNK]
                    known.update(self.conn.execute(
                        f"SELECT feature, n FROM df WHERE feature IN ({','.join('?' * len(chunk))})", chunk))
                dfs = [int(known.get(f, 0)) for f in missing]
            self._assign(missing, dfs)
            got = list(map(self._ids.get, features))
        return np.array(got, dtype=np.int64)

    def size(self) -> int:
        """Ids handed out in this vocabulary (each id is below it)."""
        return len(self._names)

    def name(self, feature_id: int) -> str:
        return self._names[feature_id]

    def names(self, ids: list[int]) -> list[str]:
        """:meth:`name` of each id: the vocabulary's own strings (a dict probe with one of them
        finds its key by identity, without comparing the text)."""
        return list(map(self._names.__getitem__, ids))

    # --- document frequencies -------------------------------------------------------
    def total(self) -> int:
        if self._total is None:
            self._total = int(self.conn.execute("SELECT n FROM df_total WHERE id = 0").fetchone()[0]) \
                + self._pending_total
        return self._total

    def count_document(self, features: Iterable[str], sign: int = 1, *, distinct: bool = False) -> np.ndarray | None:
        """Add (or with ``sign=-1`` remove) one document's features to the frequencies (in
        memory now, in the df table at the next :meth:`flush`). ``distinct``: ``features`` is a
        list that names each feature once (``feature_names``), so no set is made of it. Returns
        the ids of ``features`` in their order when they were given ``distinct`` (what
        :meth:`ids` would give them in this ``epoch``), else None."""
        feats = features if distinct and isinstance(features, list) else list(set(features))
        given = feats is features
        known = self._ids
        in_order = True
        try:  # each id straight into the array: 0.35 -> 0.15 CPU-ms a realistic article
            ids = np.fromiter(map(known.get, feats), dtype=np.int64, count=len(feats))
        except TypeError:  # a feature met for the first time (no id: None)
            # New features get ids in name order, as always (only they are sorted: a few of an
            # article's hundreds); before counting: a new feature's frequency is read as it was.
            # The names are looked up once more, not twice (each a cold dict probe: a quarter
            # of the articles of a crawl bring a new feature).
            got = list(map(known.get, feats))
            new = sorted([f for f, i in zip(feats, got) if i is None])
            if self._names and len(self._names) + len(new) > VOCABULARY_SIZE:
                ids = self.ids(sorted(feats))  # the vocabulary starts again: all in name order, as always
                in_order = False
            else:
                given_new = dict(zip(new, self.ids(new).tolist()))
                ids = np.array([i if i is not None else given_new[f] for f, i in zip(feats, got)], dtype=np.int64)
        self._df[ids] += sign  # ids of a set: each once
        self._moved[ids] += sign
        self._pending_total += sign
        if self._total is not None:
            self._total += sign
        self.generation += 1
        return ids if given and in_order else None

    def flush(self) -> None:
        """Write the counts moved and the postings added since the last flush to their tables (in
        the open transaction)."""
        self._flush_postings()
        moved = np.flatnonzero(self._moved)
        if len(moved):
            names = self._names
            # in key order: the upserts walk the table's B-tree in order (about 15% cheaper than at random)
            self.conn.executemany(
                "INSERT INTO df (feature, n) VALUES (?, ?) ON CONFLICT(feature) DO UPDATE SET n = n + excluded.n",
                sorted(zip(map(names.__getitem__, moved.tolist()), self._moved[moved].tolist())),
            )
            self._moved[moved] = 0
        if self._pending_total:
            self.conn.execute("UPDATE df_total SET n = n + ? WHERE id = 0", (self._pending_total,))
            self._pending_total = 0

    def df_of(self, ids: np.ndarray) -> np.ndarray:
        return self._df[ids]

    def idf_of(self, ids: np.ndarray) -> np.ndarray:
        """Smoothed IDF, ``log((N + 1) / (df + 0.5))``, of features by id; never seen counts as df 0."""
        return np.log((self.total() + 1) / (self._df[ids] + 0.5))

    def df(self, features: Iterable[str]) -> dict[str, int]:
        feats = list(set(features))
        return dict(zip(feats, self._df[self.ids(feats)].tolist()))

    def idf(self, features: Iterable[str]) -> dict[str, float]:
        """:meth:`idf_of` by name."""
        feats = list(set(features))
        return dict(zip(feats, self.idf_of(self.ids(feats)).tolist()))

    # --- postings ---------------------------------------------------------------------
    def add(self, article_id: int, features: Iterable[str]) -> None:
        """Post ``article_id`` under ``features`` (in the table at the next :meth:`flush`)."""
        held, pending = self._postings, self._pending
        feats = set(features)
        for f in feats:  # in any order: each list gets its ids in call order, the flush sorts
            pending[f].append(article_id)
        grown = 0
        for ids in map(held.get, feats):
            if ids is None:
                continue
            if not ids or ids[-1] < article_id:  # a new article: the largest id
                ids.append(article_id)
            else:  # settling re-adds older articles
                at = bisect_left(ids, article_id)
                if at == len(ids) or ids[at] != article_id:
                    ids.insert(at, article_id)
                else:
                    continue
            grown += 8
        self._postings_bytes += grown
        if self._postings_bytes > POSTINGS_CACHE_BYTES:
            self._forget_postings()

    def remove(self, article_id: int, features: Iterable[str] | None = None) -> None:
        """Take ``article_id`` out of its postings. ``features``: every feature it may be posted
        under (its ``feature_names``), which finds its lists by key; without them every list that
        may hold it is read (there is no index by article)."""
        self._flush_postings()
        if features is None:  # its 8 bytes anywhere in a list (checked below: maybe across two ids)
            rows = self.conn.execute("SELECT feature, first, ids FROM posting_lists WHERE instr(ids, ?) > 0",
                                     (_blob([article_id]),)).fetchall()
        else:
            feats = sorted(set(features))
            rows = []
            for i in range(0, len(feats), _CHUNK):
                chunk = feats[i:i + _CHUNK]
                rows += self.conn.execute(f"SELECT feature, first, ids FROM posting_lists WHERE feature IN "
                                          f"({','.join('?' * len(chunk))})", chunk).fetchall()
        # the lists of each feature that hold it are put back as one without it
        by_feature: dict[str, list[tuple[str, int, bytes]]] = defaultdict(list)
        for row in rows:
            by_feature[row[0]].append(row)
        for f, lists in by_feature.items():
            rest: set[int] = set()
            firsts = []
            for _f, first, blob in lists:
                ids = array("q")
                _extend(ids, blob)
                if article_id in ids:
                    firsts.append((f, first))
                    rest.update(ids)
            if firsts:
                self.conn.executemany("DELETE FROM posting_lists WHERE feature = ? AND first = ?", firsts)
                rest.discard(article_id)
                if rest:
                    ids_left = sorted(rest)
                    self.conn.execute(_PUT_LIST, (f, ids_left[0], _blob(ids_left)))
        self._forget_postings()

    def clear_postings(self) -> None:
        """Take every article out of the postings (what :meth:`remove` of each does, at once:
        a young catalog's settle posts all of them again)."""
        self._pending = defaultdict(list)
        self.conn.execute("DELETE FROM posting_lists")
        self._forget_postings()

    def _flush_postings(self) -> None:
        pending = self._pending
        if pending:
            # in key order: the inserts walk the table's B-tree in order; an article posted twice
            # under a feature is there once, as it always was
            rows = []
            for f in sorted(pending):
                ids = pending[f]
                if len(ids) > 1:
                    ids = sorted(set(ids))
                rows.append((f, ids[0], _blob(ids)))
            self.conn.executemany(_PUT_LIST, rows)
            self._pending = defaultdict(list)

    def _forget_postings(self) -> None:
        self._postings = {}
        self._postings_bytes = 0

    def candidate_ids(self, weights: dict[str, float], *, max_df: int, limit: int) -> list[int]:
        """The ids of :meth:`candidates`, ascending: the same articles, from one read of the
        postings, weighed with arrays (thousands of rows an article in a catalog of 2,000) only
        when more than ``limit`` articles share a feature and the weights choose among them."""
        return self._ranked(self._usable(weights, max_df), weights, limit)

    def candidate_ids_by_idf(self, features: list[str], *, max_df: int, limit: int,
                             ids: np.ndarray | None = None) -> list[int]:
        """:meth:`candidate_ids` of ``features`` (each named once) weighed by their :meth:`idf`:
        their ids looked up once for both their frequencies and their weights (two sets and two
        lookups of each name before). ``ids``: :meth:`ids` of ``features`` in this ``epoch``, when
        the caller has them."""
        if ids is None:
            ids = self.ids(features)
        dfs = self._df[ids]
        keep = np.flatnonzero((dfs > 0) & (dfs <= max_df)).tolist()
        usable = [features[i] for i in keep]
        # the same floats as ``idf``: the same formula over the same counts, element by element
        weights = dict(zip(usable, self.idf_of(ids[keep]).tolist()))
        return self._ranked(usable, weights, limit)

    def _ranked(self, usable: list[str], weights: dict[str, float], limit: int) -> list[int]:
        feats, lengths, articles = self._postings_of(usable)
        # Article ids are below the catalog's largest: while that is within a few times the rows,
        # counting them by id finds them in order without the sort of ``np.unique`` (a fifth of
        # this function in a catalog of 2,000 realistic articles).
        by_id = bool(len(articles)) and int(articles.max()) < _BY_ID_ROWS * len(articles) + _BY_ID_EXTRA
        found = np.flatnonzero(np.bincount(articles)) if by_id else np.unique(articles)
        if len(found) <= limit:
            return found.tolist()
        # Each article's mass summed in the order of its rows, as :meth:`candidates` adds them
        # (``np.bincount`` adds one row after the other, whatever bin it is given): the same
        # floats, the same ranking.
        w = np.repeat(np.array([weights[f] for f in feats], dtype=np.float64), lengths)
        if by_id:
            mass = np.bincount(articles, weights=w)[found]
        else:
            mass = np.bincount(np.searchsorted(found, articles), weights=w, minlength=len(found))
        top = np.lexsort((found, -mass))[:limit]
        return np.sort(found[top]).tolist()

    def _postings_of(self, usable: list[str]) -> tuple[list[str], list[int], np.ndarray]:
        """The postings of ``usable`` features in the order SQLite gives their rows (the features of
        each ``IN`` chunk ascending, then article ids): the features that have any, how many rows
        each, and the rows' article ids. Posting lists read once are kept in memory."""
        held = self._postings
        feats: list[str] = []
        lengths: list[int] = []
        # the lists copied one after the other into one array (a numpy view made of each list was
        # most of the cost: about 80 lists an article)
        rows = array("q")
        for i in range(0, len(usable), _CHUNK):
            chunk = usable[i:i + _CHUNK]
            missing = [f for f in chunk if f not in held]
            if missing:
                for f in missing:
                    held[f] = array("q")
                for f, blob in self.conn.execute(
                        f"SELECT feature, ids FROM posting_lists WHERE feature IN ({','.join('?' * len(missing))})",
                        missing):
                    _extend(held[f], blob)
                pending = self._pending
                for f in missing:
                    held[f] = _ascending(held[f])
                    waiting = pending.get(f)
                    if waiting:  # posted since the last flush: not in the table yet
                        ids = held[f]
                        if ids and ids[-1] >= min(waiting) or any(x >= y for x, y in zip(waiting, waiting[1:])):
                            held[f] = array("q", sorted(set(ids).union(waiting)))  # settling re-adds older ones
                        else:
                            ids.extend(waiting)
                self._postings_bytes += _LIST_BYTES * len(missing) + 8 * sum(len(held[f]) for f in missing)
            for f in sorted(chunk):
                ids = held[f]
                if ids:
                    feats.append(f)
                    lengths.append(len(ids))
                    rows.extend(ids)
        articles = np.frombuffer(rows, dtype=np.int64)  # a copy: no view on the lists that adds append to
        if self._postings_bytes > POSTINGS_CACHE_BYTES:
            self._forget_postings()
        return feats, lengths, articles

    def _usable(self, weights: dict[str, float], max_df: int) -> list[str]:
        dfs = self.df(weights)
        return [f for f in weights if 0 < dfs[f] <= max_df]

    def candidates(self, weights: dict[str, float], *, max_df: int, limit: int) -> list[tuple[int, float]]:
        """Articles sharing the rarest features, ranked by shared weight: ``[(id, mass)]``."""
        self._flush_postings()  # this reference reads the table itself
        usable = self._usable(weights, max_df)
        mass: dict[int, float] = defaultdict(float)
        for i in range(0, len(usable), 500):
            chunk = usable[i:i + 500]
            lists: dict[str, array[int]] = {}
            for feature, blob in self.conn.execute(
                f"SELECT feature, ids FROM posting_lists WHERE feature IN ({','.join('?' * len(chunk))})", chunk
            ):
                _extend(lists.setdefault(feature, array("q")), blob)
            for feature in sorted(lists):  # the order of the rows a row for each posting gave
                for article_id in _ascending(lists[feature]):
                    mass[article_id] += weights[feature]
        ranked = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]
