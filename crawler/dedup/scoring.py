"""How alike two articles are: IDF-weighted vectors of anchors, words and headline words, and a pair's scores."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np

from crawler.dedup.feature_index import VOCABULARY_SIZE, FeatureIndex
from crawler.dedup.features import Signals
from crawler.dedup.normalize import fold
from crawler.dedup.store import StoredArticle, StoredTerms
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
#: The part of ``ArticleFeatures`` a feature is in (anchors, words, headline words), in its key.
_PART_OF = np.arange(3, dtype=np.int32)


def _read(held: Mapping[str, int]) -> dict[str, int]:
    """``held`` as a dict: a catalog article's words as read (not copied), else a copy."""
    return held.read() if isinstance(held, StoredTerms) else dict(held.items())


@lru_cache(maxsize=20_000)
def headline_words(title: str, lang: str) -> dict[str, int]:
    """Words of a headline (shared: never mutate). Rebuilding a candidate's vectors recounted
    its headline with rjieba each time: a third of the scoring time on a young catalog."""
    return dict(terms(fold(title), lang)) if title else {}


@dataclass(slots=True)
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
           named: list[list[str] | None] | None = None,
           named_ids: list[np.ndarray | None] | None = None) -> list[Counts]:
        """The ``(counts, prefix)`` namespaces, their ids looked up at once (one vocabulary epoch).
        ``named``: for each namespace, its names (``prefix + key`` of each key in order) when the
        caller made them already, else None; ``named_ids``: for each, those names' ids in the
        current epoch when the caller has them (``FeatureIndex.count_document`` gave them), else None."""
        names: list[str] = []
        counts: list[int] = []
        bounds = [0]
        # the ids known for each namespace (None: looked up): only with the names given
        known: list[np.ndarray | None] = []
        for at, (held, prefix) in enumerate(namespaces):
            # a catalog article's words: read once, not copied
            items = held if type(held) is dict else _read(held)
            given_ids = named_ids[at] if named_ids is not None else None
            if not items or min(items.values()) > 0:  # always, but for a hand-made Signals
                given = named[at] if named is not None else None
                # no test and two appends a word (2/3 of the time); names made before have their hash
                names += given if given is not None else [prefix + k for k in items]
                counts += items.values()
                if given is None or given_ids is None or len(given_ids) != len(items):
                    given_ids = None
            else:
                given_ids = None
                for k, v in items.items():
                    if v > 0:
                        names.append(prefix + k)
                        counts.append(v)
            known.append(given_ids)
            bounds.append(len(names))
        ids = _NO_IDS
        if names:
            rest = [names[lo:hi] for lo, hi, got in zip(bounds, bounds[1:], known) if got is None]
            looked = sum(map(len, rest))
            if looked == len(names) or features.size() + looked > VOCABULARY_SIZE:
                # (a lookup that may start the vocabulary again gives every name its id in order)
                ids = features.ids(names).astype(np.int32)
            else:
                # the ids known are those ``features.ids`` gives (one lookup of each name saved: a
                # thousand a realistic new article); the rest looked up in the same order as among
                # all: each new name gets the id it got before
                found = iter(np.split(features.ids([n for part in rest for n in part]).astype(np.int32),
                                      np.cumsum([len(part) for part in rest])[:-1]) if rest else ())
                ids = np.concatenate([got.astype(np.int32) if got is not None else next(found) for got in known])
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
class _Batch:
    """Articles weighed together, one after the other: their keys, weights, and each feature's
    segment ``3 * n + part`` (``n``: the article's place in the batch)."""

    keys: np.ndarray
    w: np.ndarray
    seg: np.ndarray


@dataclass(slots=True)
class ArticleFeatures:
    """An article's anchors, words and headline words, one after the other, as keys
    ``3 * id + part`` (part 0, 1, 2: each part by ascending id; the one key ``score_many`` looks
    a feature up by, where a headline word and a word share an id), with their counts (uint16
    when they fit: ``log_counts`` makes them the ``1 + log(count)`` one array operation weighs
    all three with). int32 keys: ids stay below ``feature_index.VOCABULARY_SIZE``."""

    epoch: int  # the feature index's vocabulary the ids belong to
    keys: np.ndarray
    counts: np.ndarray
    words_at: int  # where the words start
    headline_at: int  # where the headline words start
    parts: tuple[int, int, int]  # how many anchors, words and headline words


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
        #: See :meth:`named`: the signals, their names, and those names' ids with their epoch.
        self._names: tuple[Signals, list[str], np.ndarray | None, int] | None = None
        self._weighted: dict[int, _Weights] = {}
        self._weighted_at = (-1, -1, -1)  # (generation, epoch, total) of the weighted cache
        self._drop_ids: dict[str, tuple[frozenset[str], int, np.ndarray]] = {}
        self._table = np.full(0, -1, dtype=np.int32)
        self._idf_table: tuple[int, np.ndarray] = (-1, np.zeros(0))  # (total, IDF by df) of ``_idf``

    def cached(self, article_id: int) -> bool:
        return article_id in self._cache

    def forget(self, article_id: int) -> None:
        gone = self._cache.pop(article_id, None)
        if gone is not None:
            self._cached_features -= len(gone.keys)
        self._weighted.pop(article_id, None)

    def clear(self) -> None:
        self._cache.clear()
        self._cached_features = 0
        self._weighted.clear()
        self._last = None
        self._names = None

    def named(self, sig: Signals, names: list[str], ids: np.ndarray | None = None) -> None:
        """``names`` are ``store.feature_names`` of ``sig`` (anchors, then words): the new article's,
        made for its frequencies, reused for its vectors (each made again, and hashed again at
        each lookup, was a few % of an add). ``ids``: their ids in the current epoch (what
        ``FeatureIndex.count_document`` returns), when known."""
        self._names = (sig, names, ids, self.features.epoch)

    def _names_of(self, sig: Signals, *, words: bool) -> tuple[list[str] | None, np.ndarray | None]:
        """The names of ``sig``'s words (or anchors) given to :meth:`named`, and their ids while
        still valid, else None."""
        held = self._names
        if held is None or held[0] is not sig:
            return None, None
        cut = len(sig.anchors)
        ids = held[2]
        if ids is not None and held[3] == self.features.epoch:
            ids = ids[cut:] if words else ids[:cut]
        else:
            ids = None
        return (held[1][cut:] if words else held[1][:cut]), ids

    def terms_of(self, sig: Signals) -> Counts:
        """The words of ``sig`` as ids and counts (``FeatureIndex.name`` names them)."""
        last = self._last
        if last is not None and last[0] is sig and last[1] == self.features.epoch:
            return last[2]
        names, ids = self._names_of(sig, words=True)
        (words,) = Counts.of(self.features, (sig.terms, "t:"), named=[names], named_ids=[ids])
        self._last = (sig, self.features.epoch, words)
        return words

    def article_features(self, art: StoredArticle) -> ArticleFeatures:
        epoch = self.features.epoch
        hit = self._cache.get(art.id)
        if hit is not None and hit.epoch == epoch:
            self._cache.move_to_end(art.id)
            return hit
        words = self.terms_of(art.signals)
        names, ids = self._names_of(art.signals, words=False)
        anchors, headline = Counts.of(self.features, (art.signals.anchors, "a:"),
                                      (headline_words(art.title, art.lang), "t:"), named=[names, None],
                                      named_ids=[ids, None])
        if self.features.epoch != epoch:  # the lookup restarted the vocabulary: words' ids are void
            return self.article_features(art)
        counts = np.concatenate((anchors.counts, words.counts, headline.counts))
        if len(counts) and counts.max() < len(_LOG_COUNTS):
            counts = counts.astype(np.uint16)
        parts = (len(anchors.ids), len(words.ids), len(headline.ids))
        keys = np.concatenate((anchors.ids, words.ids, headline.ids)) * 3
        keys += np.repeat(_PART_OF, parts)
        out = ArticleFeatures(epoch, keys, counts, parts[0], parts[0] + parts[1], parts)
        self.forget(art.id)
        self._cache[art.id] = out
        self._cached_features += len(out.keys)
        while self._cached_features > ARTICLE_CACHE_FEATURES and len(self._cache) > 1:
            _, gone = self._cache.popitem(last=False)
            self._cached_features -= len(gone.keys)
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

    def _idf(self, keys: np.ndarray) -> np.ndarray:
        """``FeatureIndex.idf_of`` of the features with these keys, the same floats: the IDF
        depends on a feature's document frequency alone, so the logarithm is taken once per
        frequency (a table as long as the largest, about the catalog's size) and gathered, where
        ``idf_of`` took one per feature of every candidate (57,000 an article in crawl order);
        with fewer features in the vocabulary than keys asked for, gathered by key from the
        IDF of every feature (15,000 of them for 2,000 realistic articles)."""
        fi = self.features
        size = fi.size()
        whole = 3 * size <= len(keys)
        df = fi.df_of(np.arange(size) if whole else keys // 3)
        if not len(df) or df.min() < 0:  # never below 0; the plain formula if it were
            return fi.idf_of(keys // 3)
        top, total = int(df.max()), fi.total()
        held = self._idf_table
        if held[0] != total or len(held[1]) <= top:
            # ``df + 0.5`` in float64 and ``(N + 1) / that``, as ``idf_of`` does, one entry per df
            held = self._idf_table = (total, np.log((total + 1) / (np.arange(max(top, total) + 1) + 0.5)))
        return np.repeat(held[1][df], 3)[keys] if whole else held[1][df]

    def _weigh(self, arts: list[StoredArticle]) -> list[_Weights] | None:
        """The weights of each article under the current frequencies, those not kept computed in
        one array pass; None when the vocabulary started again meanwhile (ids handed out before
        mean nothing: the caller asks again for fewer articles)."""
        got = self._weights(arts)
        return None if got is None else cast(list[_Weights], got[0])

    def _weights(self, arts: list[StoredArticle], wanted: list[bool] | None = None
                 ) -> tuple[list[_Weights | None], _Batch | None] | None:
        """:meth:`_weigh` of the articles ``wanted`` (all by default: None for the others not kept),
        and when every one of them was weighed now: their keys, weights and segments
        (``3 * n + part``) one after the other (what ``score_many`` would build again). Every
        article's features are looked up all the same, in order: which feature gets which id
        (new headline words, a restarted vocabulary), and so the order of every later sum, stays
        what it was when all were weighed."""
        fi = self.features
        total = fi.total()
        now = (fi.generation, fi.epoch, total)
        if now != self._weighted_at or len(self._weighted) > WEIGHTED_CACHE_SIZE:
            self._weighted.clear()
            self._weighted_at = now
        out: list[_Weights | None] = []
        todo: list[tuple[int, StoredArticle, frozenset[str]]] = []
        weighted, templates = self._weighted, self.templates
        if not weighted and templates is None:  # frequencies just moved (every article in crawl order)
            out = [None] * len(arts)
            todo = [(n, art, _NO_DROP) for n, art in enumerate(arts)]
        for n, art in enumerate(arts) if not todo else ():
            drop = templates.template(art.source, fi.df, total) if templates is not None else _NO_DROP
            hit = weighted.get(art.id)
            if hit is not None and (hit.drop is drop or hit.drop == drop):
                out.append(hit)
            else:
                out.append(None)
                todo.append((n, art, drop))
        if not todo:
            return out, None
        feats = [self.article_features(art) for _n, art, _d in todo]
        drops = [self._dropped(art.source, drop) if drop else _NO_IDS for _n, art, drop in todo]
        if (fi.generation, fi.epoch, fi.total()) != now:
            return None
        complete = len(todo) == len(arts)
        if wanted is not None:
            keep = [k for k, (n, _art, _drop) in enumerate(todo) if wanted[n]]
            if len(keep) < len(todo):
                complete = len(keep) == sum(wanted)
                todo, feats, drops = [todo[k] for k in keep], [feats[k] for k in keep], [drops[k] for k in keep]
                if not todo:
                    return out, None
        keys = feats[0].keys if len(feats) == 1 else np.concatenate([f.keys for f in feats])
        w = log_counts(np.concatenate([f.counts for f in feats])) * self._idf(keys)
        if any(len(d) for d in drops):
            lo = 0
            for f, drop_ids in zip(feats, drops):
                h = f.headline_at
                if len(drop_ids) and h:  # template features weigh nothing: the same sums as leaving them out
                    ids = f.keys[:h] // 3
                    at = np.searchsorted(drop_ids, ids)
                    np.minimum(at, len(drop_ids) - 1, out=at)
                    w[lo:lo + h][drop_ids[at] == ids] = 0.0
                lo += len(f.keys)
        parts = [p for f in feats for p in f.parts]
        seg = np.repeat(np.arange(len(parts)), parts)
        norms = np.sqrt(np.bincount(seg, weights=w * w, minlength=len(parts))).tolist()
        masses = np.bincount(seg, weights=w, minlength=len(parts)).tolist()
        lo = k = 0
        for (n, art, drop), f in zip(todo, feats):
            hi = lo + len(f.keys)
            out[n] = weighted[art.id] = _Weights(drop, f, w[lo:hi], norms[k:k + 3], masses[k:k + 3])
            lo, k = hi, k + 3
        return out, (_Batch(keys, w, seg) if complete else None)

    def score(self, a: StoredArticle, b: StoredArticle) -> PairScore:
        return self.score_many(a, [b])[0]

    def _positions(self, size: int) -> np.ndarray:
        """A table of at least ``size`` entries, all -1 (``score_many`` clears what it sets)."""
        if len(self._table) < size:
            self._table = np.full(max(size, 2 * len(self._table)), -1, dtype=np.int32)
        return self._table

    def score_many(self, a: StoredArticle, others: list[StoredArticle]) -> list[PairScore]:
        """``a`` scored against each of ``others``, all pairs in one array pass: the features of the
        others, one after the other, are looked up in ``a``'s, each pair's dot product and shared
        minimum summed by ``np.bincount``, and the cosines and containments divided out as arrays
        (a candidate's sums do not depend on the others in the batch: ``score(a, b)`` gives the
        same floats). Equal to scoring each pair alone (``Vector.compare`` in
        tests/dedup/test_scoring.py, the code this replaced) up to rounding (the sums run in
        another order: 2e-15 on the corpus); that took about ten numpy calls per vector pair,
        most of an article's query time."""
        return cast(list[PairScore], self.score_some(a, others, None))

    def score_some(self, a: StoredArticle, others: list[StoredArticle], wanted: list[bool] | None
                   ) -> list[PairScore | None]:
        """:meth:`score_many` of the others ``wanted`` (all when None), None for the rest: the
        same floats for those scored (a pair's scores do not depend on the others in the batch)
        and the same features looked up for all, in the same order (see :meth:`_weights`).
        Rules that reject a pair whatever its scores spare its arrays (three in four candidates
        in crawl order)."""
        if not others:
            return []
        epoch = self.features.epoch
        got = self._weights([a, *others], None if wanted is None else [True, *wanted])
        if got is None or self.features.epoch != epoch:
            # a pair always fits in the vocabulary (as before batches); every pair looked up as before
            if len(others) == 1:
                return self.score_some(a, others, wanted)
            scored = [self.score_many(a, [b])[0] for b in others]
            return [s if wanted is None or wanted[j] else None for j, s in enumerate(scored)]
        weighed, batch = got
        wa = cast(_Weights, weighed[0])
        if wanted is None:
            picked = list(range(len(others)))
        else:
            picked = [j for j, want in enumerate(wanted) if want]
            if not picked:
                return [None] * len(others)
        wbs = cast(list[_Weights], [weighed[j + 1] for j in picked])
        chosen = others if len(picked) == len(others) else [others[j] for j in picked]
        keys_a = wa.feats.keys
        segs = 3 * len(wbs)
        dots: np.ndarray = np.zeros(segs)
        mins: np.ndarray = dots
        if len(keys_a):
            if batch is not None:  # all weighed just now, ``a`` first: the others' part of the batch
                at_b = len(keys_a)
                keys, ws, seg = batch.keys[at_b:], batch.w[at_b:], batch.seg[at_b:]
            else:
                keys = np.concatenate([wb.feats.keys for wb in wbs])
                ws = np.concatenate([wb.w for wb in wbs])
                seg = np.repeat(np.arange(3, segs + 3), [p for wb in wbs for p in wb.feats.parts])
            # Where each feature of ``a`` is, by key, in a table as long as the vocabulary (a
            # gather per feature of the others, where a binary search took ten steps): set for
            # ``a``, cleared after.
            table = self._positions(3 * self.features.size())
            table[keys_a] = np.arange(len(keys_a), dtype=np.int32)
            try:
                at = table[keys]
            finally:
                table[keys_a] = -1
            hit = np.flatnonzero(at >= 0)
            if len(hit):
                xs, ys = wa.w[at[hit]], ws[hit]
                hs = seg[hit]  # each hit's pair and part, after ``a``'s three
                dots = np.bincount(hs, weights=xs * ys, minlength=segs + 3)[3:]
                mins = np.bincount(hs, weights=np.minimum(xs, ys), minlength=segs + 3)[3:]
        # ``_cosine`` and ``_contained`` of the pair scored alone, for every pair and part at once
        # (the same IEEE operations on the same floats)
        na, ma = np.tile(wa.norms, len(wbs)), np.tile(wa.masses, len(wbs))
        nb = np.array([x for wb in wbs for x in wb.norms])
        mb = np.array([x for wb in wbs for x in wb.masses])
        cos = np.divide(dots, na * nb, out=np.zeros(segs), where=(na != 0) & (nb != 0) & (dots > 0))
        inside = np.divide(mins, np.minimum(ma, mb), out=np.zeros(segs), where=(ma != 0) & (mb != 0))
        lang, simhash, when = a.lang, a.signals.simhash, a.when
        same = np.array([b.lang == lang for b in chosen])
        terms = np.where(same, cos[1::3], 0.0).tolist()
        terms_contained = np.where(same, inside[1::3], 0.0).tolist()
        headline = np.where(same, cos[2::3], 0.0).tolist()
        hamming = [(simhash ^ b.signals.simhash).bit_count() for b in chosen]
        if when is None:
            days: list[float | None] = [None] * len(chosen)
        else:
            days = [None if (bw := b.when) is None else (bw - when) / DAY for b in chosen]
        scores = list(map(PairScore, cos[0::3].tolist(), terms, inside[0::3].tolist(), terms_contained, headline,
                          hamming, days))
        if len(picked) == len(others):
            return cast(list[PairScore | None], scores)
        out: list[PairScore | None] = [None] * len(others)
        for j, s in zip(picked, scores):
            out[j] = s
        return out


def log_counts(counts: np.ndarray) -> np.ndarray:
    """``1.0 + np.log(counts)`` (float64), by table for the counts it holds."""
    if counts.dtype == np.uint16:
        return _LOG_COUNTS[counts]
    return 1.0 + np.log(counts)
