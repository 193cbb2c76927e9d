"""Inverted index over rare features (anchors and top terms) with document frequencies, in SQLite.

Features carry a namespace prefix: ``a:`` for language-invariant anchors (``a:cve-2023-36884``),
``t:`` for words of one language (``t:勒索软件``, ``t:hospital``). Document frequencies count
every feature of every article; postings hold only the features used to find candidates.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from typing import Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS postings (
    feature TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    PRIMARY KEY (feature, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postings_article ON postings (article_id);
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


class FeatureIndex:
    """Postings and document frequencies over one SQLite connection (owned by the store)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self._df_cache: dict[str, int] = {}
        self._total: int | None = None
        #: Bumped whenever a frequency changes: what was computed from them may be reused until then.
        self.generation = 0
        self._idf_cache: dict[str, float] = {}
        self._idf_generation = 0

    # --- document frequencies -------------------------------------------------------
    def total(self) -> int:
        if self._total is None:
            self._total = int(self.conn.execute("SELECT n FROM df_total WHERE id = 0").fetchone()[0])
        return self._total

    def count_document(self, features: Iterable[str], sign: int = 1) -> None:
        """Add (or with ``sign=-1`` remove) one document's features to the frequencies."""
        feats = list(set(features))
        self.conn.executemany(
            "INSERT INTO df (feature, n) VALUES (?, ?) ON CONFLICT(feature) DO UPDATE SET n = n + excluded.n",
            [(f, sign) for f in feats],
        )
        self.conn.execute("UPDATE df_total SET n = n + ? WHERE id = 0", (sign,))
        # The cached frequencies move with the table (as the upsert moved them) instead of being
        # dropped: dropping them made every new article look all its features up again.
        cache = self._df_cache
        for f in feats:
            if f in cache:
                cache[f] += sign
        if self._total is not None:
            self._total += sign
        self.generation += 1

    def df(self, features: Iterable[str]) -> dict[str, int]:
        feats = [f for f in set(features)]
        missing = [f for f in feats if f not in self._df_cache]
        for i in range(0, len(missing), 500):
            chunk = missing[i:i + 500]
            rows = self.conn.execute(
                f"SELECT feature, n FROM df WHERE feature IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            found = dict(rows)
            for f in chunk:
                self._df_cache[f] = int(found.get(f, 0))
        if len(self._df_cache) > 200_000:
            keep = {f: self._df_cache[f] for f in feats}
            self._df_cache = keep
        return {f: self._df_cache[f] for f in feats}

    def idf(self, features: Iterable[str]) -> dict[str, float]:
        """Smoothed IDF, ``log((N + 1) / (df + 0.5))``; a feature never seen counts as df 0.

        Kept while no frequency changes (``generation``): one new article asks for its own
        features three times (indexed features, candidates, pair scores), and the candidates'
        features again and again."""
        if self._idf_generation != self.generation or len(self._idf_cache) > 200_000:
            self._idf_cache = {}
            self._idf_generation = self.generation
        cache = self._idf_cache
        feats = set(features)
        missing = [f for f in feats if f not in cache]
        if missing:
            n = self.total()
            log = math.log
            for f, d in self.df(missing).items():
                cache[f] = log((n + 1) / (d + 0.5))
        return {f: cache[f] for f in feats}

    # --- postings ---------------------------------------------------------------------
    def add(self, article_id: int, features: Iterable[str]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO postings (feature, article_id) VALUES (?, ?)",
            [(f, article_id) for f in set(features)],
        )

    def remove(self, article_id: int) -> None:
        self.conn.execute("DELETE FROM postings WHERE article_id = ?", (article_id,))

    def candidates(self, weights: dict[str, float], *, max_df: int, limit: int) -> list[tuple[int, float]]:
        """Articles sharing the rarest features, ranked by shared weight: ``[(id, mass)]``."""
        dfs = self.df(weights)
        usable = [f for f in weights if 0 < dfs[f] <= max_df]
        mass: dict[int, float] = defaultdict(float)
        for i in range(0, len(usable), 500):
            chunk = usable[i:i + 500]
            for feature, article_id in self.conn.execute(
                f"SELECT feature, article_id FROM postings WHERE feature IN ({','.join('?' * len(chunk))})", chunk
            ):
                mass[article_id] += weights[feature]
        ranked = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]
