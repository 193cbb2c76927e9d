"""How alike two articles are: IDF-weighted vectors of anchors, words and headline words, and a pair's scores."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from crawler.dedup.feature_index import FeatureIndex
from crawler.dedup.normalize import fold
from crawler.dedup.store import StoredArticle, feature_names
from crawler.dedup.templates import SourceTemplates
from crawler.dedup.terms import terms

DAY = 86400.0

#: Cached vectors of this many articles at most (then the cache starts again).
VECTOR_CACHE_SIZE = 100_000


@lru_cache(maxsize=20_000)
def _headline(title: str, lang: str) -> dict[str, int]:
    """Words of a headline (shared: never mutate). Rebuilding a candidate's vectors recounted
    its headline with rjieba each time: a third of the scoring time on a young catalog."""
    return dict(terms(fold(title), lang)) if title else {}


def weights(counts: dict[str, int], idf: dict[str, float], prefix: str,
            drop: frozenset[str] = frozenset()) -> dict[str, float]:
    """Log-scaled counts times IDF; ``prefix`` is the feature namespace (``a:`` or ``t:``);
    features in ``drop`` (an outlet's template) carry no weight."""
    if drop:
        return {k: (1.0 + math.log(v)) * idf.get(prefix + k, 0.0) for k, v in counts.items()
                if v > 0 and prefix + k not in drop}
    return {k: (1.0 + math.log(v)) * idf.get(prefix + k, 0.0) for k, v in counts.items() if v > 0}


class Vector:
    """A sparse weighted vector, with its norm and mass computed once."""

    __slots__ = ("mass", "norm", "w")

    def __init__(self, w: dict[str, float]) -> None:
        self.w = w
        self.norm = math.sqrt(sum(v * v for v in w.values()))
        self.mass = sum(w.values())

    def contained(self, other: Vector) -> float:
        """Weighted overlap over the smaller mass: 1.0 when one vector lies inside the other."""
        if not self.mass or not other.mass:
            return 0.0
        x, y = (self.w, other.w) if len(self.w) <= len(other.w) else (other.w, self.w)
        inter = sum(min(v, y[k]) for k, v in x.items() if k in y)
        return inter / min(self.mass, other.mass)

    def cosine(self, other: Vector) -> float:
        if not self.norm or not other.norm:
            return 0.0
        x, y = (self.w, other.w) if len(self.w) <= len(other.w) else (other.w, self.w)
        dot = sum(v * y[k] for k, v in x.items() if k in y)
        return dot / (self.norm * other.norm) if dot > 0 else 0.0


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


class Scorer:
    """Scores pairs of stored articles against one feature index's frequencies.

    An article's vectors are cached by id while the number of documents moves less than 1%
    (the weights barely change); ``forget`` an article whose features change. With ``templates``,
    the features of an article's outlet template carry no weight in its vectors."""

    def __init__(self, features: FeatureIndex, templates: SourceTemplates | None = None) -> None:
        self.features = features
        self.templates = templates
        self._cache: dict[int, tuple[int, Vector, Vector, Vector]] = {}

    def cached(self, article_id: int) -> bool:
        return article_id in self._cache

    def forget(self, article_id: int) -> None:
        self._cache.pop(article_id, None)

    def clear(self) -> None:
        self._cache.clear()

    def idf_for(self, new: StoredArticle, others: Iterable[StoredArticle]) -> dict[str, float]:
        """One IDF lookup for every feature the pairs of ``new`` with ``others`` will need: those
        of every vector to (re)build, the new article's and each candidate's whose cached vectors
        are missing or stale, headline words included. Looking up the rest in ``vectors``, per
        candidate, was one query each."""
        names = set(feature_names(new.signals))
        names.update("t:" + w for w in _headline(new.title, new.lang))
        total = self.features.total()
        for o in others:
            hit = self._cache.get(o.id)
            if hit is None or abs(hit[0] - total) > total * 0.01:
                names.update(feature_names(o.signals))
                names.update("t:" + w for w in _headline(o.title, o.lang))
        return self.features.idf(names)

    def vectors(self, art: StoredArticle, idf: dict[str, float] | None) -> tuple[Vector, Vector, Vector]:
        """IDF-weighted anchor, word and headline-word vectors, cached while N moves < 1%."""
        total = self.features.total()
        hit = self._cache.get(art.id)
        if hit is not None and abs(hit[0] - total) <= total * 0.01:
            return hit[1], hit[2], hit[3]
        headline = _headline(art.title, art.lang)
        names = feature_names(art.signals) + ["t:" + w for w in headline]
        if idf is None:
            idf = self.features.idf(names)
        else:
            # The caller's idf covers the articles it expected to miss the cache; a stale
            # entry must not be rebuilt with weights of 0 for the features it lacks.
            missing = [f for f in names if f not in idf]
            if missing:
                idf = {**idf, **self.features.idf(missing)}
        drop = self.templates.template(art.source, self.features.df, total) if self.templates is not None \
            else frozenset()
        va = Vector(weights(art.signals.anchors, idf, "a:", drop))
        vt = Vector(weights(art.signals.terms, idf, "t:", drop))
        vh = Vector(weights(headline, idf, "t:"))
        if len(self._cache) > VECTOR_CACHE_SIZE:
            self._cache.clear()
        self._cache[art.id] = (total, va, vt, vh)
        return va, vt, vh

    def score(self, a: StoredArticle, b: StoredArticle, idf: dict[str, float] | None = None) -> PairScore:
        if idf is None:
            idf = self.features.idf(feature_names(a.signals) + feature_names(b.signals))
        aa, at, ah = self.vectors(a, idf)
        ba, bt, bh = self.vectors(b, idf)
        s = PairScore()
        s.anchors = aa.cosine(ba)
        s.anchors_contained = aa.contained(ba)
        if a.lang == b.lang:
            s.terms = at.cosine(bt)
            s.terms_contained = at.contained(bt)
            s.headline = ah.cosine(bh)
        s.hamming = (a.signals.simhash ^ b.signals.simhash).bit_count()
        if a.when is not None and b.when is not None:
            s.days = (b.when - a.when) / DAY
        return s
