"""How alike two articles are: IDF-weighted vectors of anchors, words and headline words, and a pair's scores."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np

from crawler.dedup.feature_index import FeatureIndex
from crawler.dedup.features import Signals
from crawler.dedup.normalize import fold
from crawler.dedup.store import StoredArticle
from crawler.dedup.templates import SourceTemplates
from crawler.dedup.terms import terms

DAY = 86400.0

#: Features of cached articles at most, all articles together (the least recently scored go
#: first): 6 bytes each (an int32 id, a uint16 count), 15 MB. An 83 KB article of the realistic
#: bench site holds about 870, so about 2,900 such articles: past the cache, each candidate's
#: words are read back from the catalog and counted again (1,500,000 at 12 bytes, a float64
#: log-count, held 1,700 and those rebuilds grew an article's time by a catalog of 2,000).
ARTICLE_CACHE_FEATURES = 2_500_000
#: Weighted vectors kept while no frequency changes (a catalog seeded beforehand never changes
#: them: a new article's candidates are scored once each, a later one's again).
WEIGHTED_CACHE_SIZE = 2_000

_NO_IDS = np.zeros(0, dtype=np.int32)
#: ``1 + log(count)`` by count (index 0 unused: counts are positive): the same floats as
#: ``1.0 + np.log(counts)`` element by element (checked in tests/dedup/test_scoring.py).
_LOG_COUNTS = 1.0 + np.log(np.maximum(np.arange(1 << 16, dtype=np.int32), 1))
_NO_DROP: frozenset[str] = frozenset()


@lru_cache(maxsize=20_000)
def headline_words(title: str, lang: str) -> dict[str, int]:
    """Words of a headline (shared: never mutate). Rebuilding a candidate's vectors recounted
    its headline with rjieba each time: a third of the scoring time on a young catalog."""
    return dict(terms(fold(title), lang)) if title else {}


@dataclass
class PairScore:
    anchors: float = 0.0  # cosine of IDF-weighted anchors
    terms: float = 0.0  # cosine of IDF-weighted words (same language only)
    anchors_contained: float = 0.0  # weighted share of the smaller anchor set found in the other
    terms_contained: float = 0.0
    headline: float = 0.0  # cosine of the titles' words (same language only)
    hamming: int = 64
    days: float | None = None  # other.when - new.when

    @property
    def mixed(self) -> float:
        """Anchors and words alike: how much a same-language pair named by a link agrees."""
        return (self.anchors + self.terms) / 2

    @property
    def sibling(self) -> float:
        """Two Chinese translations of one original. Containment, not cosine: one outlet adds an
        editor's note, a digest of other news or a long footer, and a cosine counts all of it
        against the pair; what matters is how much of the shorter text the other one holds."""
        return (self.anchors_contained + self.terms_contained) / 2

    @property
    def story(self) -> float:
        """Two English reports of one incident: names, words, and the headline, which English
        outlets write plainly (WeChat headlines are not: "POC/EXP请私发我", so siblings leave them out)."""
        return (self.anchors + self.terms + self.headline) / 3


@dataclass(slots=True)
class Counts:
    """One namespace of an article's features: ids (ascending) and how often each occurs.
    They do not depend on any frequency, so they never go stale (int32: 8 bytes a feature)."""

    ids: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, features: FeatureIndex, *namespaces: tuple[dict[str, int], str],
           named: list[list[str] | None] | None = None) -> list[Counts]:
        """The ``(counts, prefix)`` namespaces, their ids looked up at once (one vocabulary epoch).
        ``named``: for each namespace, its names (``prefix + key`` of each key in order) when the
        caller made them already, else None."""
        names: list[str] = []
        counts: list[int] = []
        bounds = [0]
        for at, (held, prefix) in enumerate(namespaces):
            items = held if type(held) is dict else dict(held.items())  # a catalog article's words: read once
            if not items or min(items.values()) > 0:  # always, but for a hand-made Signals
                given = named[at] if named is not None else None
                # no test and two appends a word (2/3 of the time); names made before have their hash
                names += given if given is not None else [prefix + k for k in items]
                counts += items.values()
            else:
                for k, v in items.items():
                    if v > 0:
                        names.append(prefix + k)
                        counts.append(v)
            bounds.append(len(names))
        ids = features.ids(names).astype(np.int32) if names else _NO_IDS
        n = np.array(counts, dtype=np.int32)
        out = []
        for lo, hi in zip(bounds, bounds[1:]):
            order = np.argsort(ids[lo:hi])
            out.append(cls(ids[lo:hi][order], n[lo:hi][order]))
        return out


@dataclass(slots=True)
class _Weights:
    """An article's weights under one generation of frequencies, over its ``ArticleFeatures``,
    with each part's norm and mass (anchors, words, headline words)."""

    drop: frozenset[str]  # the outlet's template features, weighing nothing
    feats: ArticleFeatures
    w: np.ndarray
    norms: list[float]
    masses: list[float]


@dataclass(slots=True)
class ArticleFeatures:
    """An article's anchors, words and headline words, one after the other (each part by
    ascending id), with their counts (uint16 when they fit: ``log_counts`` makes them the
    ``1 + log(count)`` one array operation weighs all three with)."""

    epoch: int  # the feature index's vocabulary the ids belong to
    ids: np.ndarray
    counts: np.ndarray
    words_at: int  # where the words start
    headline_at: int  # where the headline words start


class Scorer:
    """Scores pairs of stored articles against one feature index's frequencies.

    Each article's features are kept as id and log-count arrays (by article id, the least
    recently used go first; ``forget`` an article whose features change); its weights are the
    IDF of the current frequencies times those, computed when scored, kept while no frequency
    changes. With ``templates``, the features of an article's outlet template carry no weight
    in its vectors."""

    def __init__(self, features: FeatureIndex, templates: SourceTemplates | None = None) -> None:
        self.features = features
        self.templates = templates
        self._cache: OrderedDict[int, ArticleFeatures] = OrderedDict()
        self._cached_features = 0
        #: The words of the last Signals asked for by :meth:`terms_of` (the new article's,
        #: whose indexed terms come before its scores), and their vocabulary epoch.
        self._last: tuple[Signals, int, Counts] | None = None
        self._names: tuple[Signals, list[str]] | None = None  # see :meth:`named`
        self._weighted: dict[int, _Weights] = {}
        self._weighted_at = (-1, -1, -1)  # (generation, epoch, total) of the weighted cache
        self._drop_ids: dict[str, tuple[frozenset[str], int, np.ndarray]] = {}
        self._table = np.full(0, -1, dtype=np.int32)

    def cached(self, article_id: int) -> bool:
        return article_id in self._cache

    def forget(self, article_id: int) -> None:
        gone = self._cache.pop(article_id, None)
        if gone is not None:
            self._cached_features -= len(gone.ids)
        self._weighted.pop(article_id, None)

    def clear(self) -> None:
        self._cache.clear()
        self._cached_features = 0
        self._weighted.clear()
        self._last = None
        self._names = None

    def named(self, sig: Signals, names: list[str]) -> None:
        """``names`` are ``store.feature_names`` of ``sig`` (anchors, then words): the new article's,
        made for its frequencies, reused for its vectors (each made again, and hashed again at
        each lookup, was a few % of an add)."""
        self._names = (sig, names)

    def _names_of(self, sig: Signals, *, words: bool) -> list[str] | None:
        held = self._names
        if held is None or held[0] is not sig:
            return None
        cut = len(sig.anchors)
        return held[1][cut:] if words else held[1][:cut]

    def terms_of(self, sig: Signals) -> Counts:
        """The words of ``sig`` as ids and counts (``FeatureIndex.name`` names them)."""
        last = self._last
        if last is not None and last[0] is sig and last[1] == self.features.epoch:
            return last[2]
        (words,) = Counts.of(self.features, (sig.terms, "t:"), named=[self._names_of(sig, words=True)])
        self._last = (sig, self.features.epoch, words)
        return words

    def article_features(self, art: StoredArticle) -> ArticleFeatures:
        epoch = self.features.epoch
        hit = self._cache.get(art.id)
        if hit is not None and hit.epoch == epoch:
            self._cache.move_to_end(art.id)
            return hit
        words = self.terms_of(art.signals)
        anchors, headline = Counts.of(self.features, (art.signals.anchors, "a:"),
                                      (headline_words(art.title, art.lang), "t:"),
                                      named=[self._names_of(art.signals, words=False), None])
        if self.features.epoch != epoch:  # the lookup restarted the vocabulary: words' ids are void
            return self.article_features(art)
        counts = np.concatenate((anchors.counts, words.counts, headline.counts))
        if len(counts) and counts.max() < len(_LOG_COUNTS):
            counts = counts.astype(np.uint16)
        out = ArticleFeatures(epoch, np.concatenate((anchors.ids, words.ids, headline.ids)), counts,
                              len(anchors.ids), len(anchors.ids) + len(words.ids))
        self.forget(art.id)
        self._cache[art.id] = out
        self._cached_features += len(out.ids)
        while self._cached_features > ARTICLE_CACHE_FEATURES and len(self._cache) > 1:
            _, gone = self._cache.popitem(last=False)
            self._cached_features -= len(gone.ids)
        return out

    def _dropped(self, source: str, drop: frozenset[str]) -> np.ndarray:
        """The ids of an outlet's template features, ascending."""
        epoch = self.features.epoch
        hit = self._drop_ids.get(source)
        if hit is not None and (hit[0] is drop or hit[0] == drop) and hit[1] == epoch:
            return hit[2]
        ids = np.sort(self.features.ids(sorted(drop)).astype(np.int32))
        self._drop_ids[source] = (drop, self.features.epoch, ids)
        return ids

    def _weigh(self, arts: list[StoredArticle]) -> list[_Weights] | None:
        """The weights of each article under the current frequencies, those not kept computed in
        one array pass; None when the vocabulary started again meanwhile (ids handed out before
        mean nothing: the caller asks again for fewer articles)."""
        fi = self.features
        total = fi.total()
        now = (fi.generation, fi.epoch, total)
        if now != self._weighted_at or len(self._weighted) > WEIGHTED_CACHE_SIZE:
            self._weighted.clear()
            self._weighted_at = now
        out: list[_Weights | None] = []
        todo: list[tuple[int, StoredArticle, frozenset[str]]] = []
        for n, art in enumerate(arts):
            drop = self.templates.template(art.source, fi.df, total) if self.templates is not None \
                else _NO_DROP
            hit = self._weighted.get(art.id)
            if hit is not None and (hit.drop is drop or hit.drop == drop):
                out.append(hit)
            else:
                out.append(None)
                todo.append((n, art, drop))
        if todo:
            feats = [self.article_features(art) for _n, art, _d in todo]
            drops = [self._dropped(art.source, drop) if drop else _NO_IDS for _n, art, drop in todo]
            if (fi.generation, fi.epoch, fi.total()) != now:
                return None
            ids = np.concatenate([f.ids for f in feats])
            w = log_counts(np.concatenate([f.counts for f in feats])) * fi.idf_of(ids)
            lo = 0
            parts: list[int] = []
            for f, drop_ids in zip(feats, drops):
                hi = lo + len(f.ids)
                h = f.headline_at
                if len(drop_ids) and h:  # template features weigh nothing: the same sums as leaving them out
                    at = np.searchsorted(drop_ids, f.ids[:h])
                    np.minimum(at, len(drop_ids) - 1, out=at)
                    w[lo:lo + h][drop_ids[at] == f.ids[:h]] = 0.0
                parts += (f.words_at, h - f.words_at, len(f.ids) - h)
                lo = hi
            seg = np.repeat(np.arange(len(parts)), parts)
            norms = np.sqrt(np.bincount(seg, weights=w * w, minlength=len(parts))).tolist()
            masses = np.bincount(seg, weights=w, minlength=len(parts)).tolist()
            lo = 0
            for k, ((n, art, drop), f) in enumerate(zip(todo, feats)):
                hi = lo + len(f.ids)
                got = _Weights(drop, f, w[lo:hi], norms[3 * k:3 * k + 3], masses[3 * k:3 * k + 3])
                self._weighted[art.id] = got
                out[n] = got
                lo = hi
        return cast(list[_Weights], out)

    def score(self, a: StoredArticle, b: StoredArticle) -> PairScore:
        return self.score_many(a, [b])[0]

    def _positions(self, size: int) -> np.ndarray:
        """A table of at least ``size`` entries, all -1 (``score_many`` clears what it sets)."""
        if len(self._table) < size:
            self._table = np.full(max(size, 2 * len(self._table)), -1, dtype=np.int32)
        return self._table

    def score_many(self, a: StoredArticle, others: list[StoredArticle]) -> list[PairScore]:
        """``a`` scored against each of ``others``, all pairs in one array pass: the features of the
        others, one after the other, are looked up in ``a``'s, and each pair's dot product and
        shared minimum summed by ``np.bincount`` (a candidate's sums do not depend on the others
        in the batch: ``score(a, b)`` gives the same floats). Equal to scoring each pair alone
        (``Vector.compare`` in tests/dedup/test_scoring.py, the code this replaced) up to rounding
        (the sums run in another order: 2e-15 on the corpus); that took about ten numpy calls per
        vector pair, most of an article's query time."""
        if not others:
            return []
        epoch = self.features.epoch
        got = self._weigh([a, *others])
        if got is None or self.features.epoch != epoch:
            if len(others) == 1:  # a pair always fits in the vocabulary (as before batches)
                return self.score_many(a, others)
            return [self.score_many(a, [b])[0] for b in others]
        wa, wbs = got[0], got[1:]
        fa = wa.feats
        # Where each feature of ``a`` is, by key ``3 * id + part`` in a table as long as the
        # vocabulary (a gather per feature of the others, where a binary search took ten steps):
        # set for ``a``, cleared after.
        keys_a = fa.ids.astype(np.int64) * 3
        keys_a[fa.words_at:fa.headline_at] += 1
        keys_a[fa.headline_at:] += 2
        parts = [n for wb in wbs for n in (wb.feats.words_at, wb.feats.headline_at - wb.feats.words_at,
                                           len(wb.feats.ids) - wb.feats.headline_at)]
        segs = len(parts)
        dots: list[float] = [0.0] * segs
        mins: list[float] = [0.0] * segs
        if len(keys_a):
            seg = np.repeat(np.arange(segs), parts)
            keys = np.concatenate([wb.feats.ids for wb in wbs]).astype(np.int64) * 3
            keys += seg % 3
            table = self._positions(3 * self.features.size())
            table[keys_a] = np.arange(len(keys_a), dtype=np.int32)
            try:
                at = table[keys]
            finally:
                table[keys_a] = -1
            hit = np.flatnonzero(at >= 0)
            if len(hit):
                xs = wa.w[at[hit]]
                ys = np.concatenate([wb.w for wb in wbs])[hit]
                hs = seg[hit]
                dots = np.bincount(hs, weights=xs * ys, minlength=segs).tolist()
                mins = np.bincount(hs, weights=np.minimum(xs, ys), minlength=segs).tolist()
        na, ma = wa.norms, wa.masses
        out = []
        for j, (b, wb) in enumerate(zip(others, wbs)):
            s = PairScore()
            nb, mb = wb.norms, wb.masses
            k = 3 * j
            s.anchors, s.anchors_contained = _cosine(dots[k], na[0], nb[0]), _contained(mins[k], ma[0], mb[0])
            if a.lang == b.lang:
                s.terms = _cosine(dots[k + 1], na[1], nb[1])
                s.terms_contained = _contained(mins[k + 1], ma[1], mb[1])
                s.headline = _cosine(dots[k + 2], na[2], nb[2])
            s.hamming = (a.signals.simhash ^ b.signals.simhash).bit_count()
            if a.when is not None and b.when is not None:
                s.days = (b.when - a.when) / DAY
            out.append(s)
        return out


def log_counts(counts: np.ndarray) -> np.ndarray:
    """``1.0 + np.log(counts)`` (float64), by table for the counts it holds."""
    if counts.dtype == np.uint16:
        return _LOG_COUNTS[counts]
    return 1.0 + np.log(counts)


def _cosine(dot: float, na: float, nb: float) -> float:
    return dot / (na * nb) if na and nb and dot > 0 else 0.0


def _contained(shared: float, ma: float, mb: float) -> float:
    return shared / min(ma, mb) if ma and mb else 0.0
