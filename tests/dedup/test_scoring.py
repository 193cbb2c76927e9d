"""Vectors and pair scores: cosine and containment, and the cache that must not serve stale weights."""

from __future__ import annotations

import math

import pytest

from crawler.dedup.features import Article, compute_signals
from crawler.dedup.scoring import PairScore, Scorer, Vector, weights
from crawler.dedup.store import ArticleStore, feature_names


def test_cosine_and_containment() -> None:
    a = Vector({"x": 1.0, "y": 1.0})
    b = Vector({"x": 1.0, "y": 1.0, "z": 2.0})
    assert a.contained(b) == pytest.approx(1.0)  # a lies inside b
    assert a.cosine(b) == pytest.approx(2 / (math.sqrt(2) * math.sqrt(6)))
    assert Vector({}).cosine(a) == Vector({}).contained(a) == 0.0
    assert Vector({"x": 1.0}).cosine(Vector({"y": 1.0})) == 0.0


def test_weights_log_scaled_idf_and_unknown_features() -> None:
    w = weights({"cve-1": 1, "cve-2": 3, "gone": 0}, {"a:cve-1": 2.0, "a:cve-2": 1.0}, "a:")
    assert w == {"cve-1": 2.0, "cve-2": pytest.approx(1 + math.log(3))}


def test_pair_score_mixes() -> None:
    s = PairScore(anchors=0.6, terms=0.3, anchors_contained=0.9, terms_contained=0.7, headline=0.0)
    assert (s.mixed, s.sibling, s.story) == pytest.approx((0.45, 0.8, 0.3))


def test_scorer_cache_follows_the_frequencies() -> None:
    store = ArticleStore(":memory:")
    arts = []
    for n, text in enumerate(["LockBit attacks hospital, CVE-2024-1709", "LockBit attacks school, CVE-2024-1709"]):
        a = Article(url=f"https://x.example/{n}", lang="en", text=text, title="LockBit")
        sig = compute_signals(a)
        store.features.count_document(feature_names(sig))
        got = store.get(store.insert(a, sig))
        assert got is not None
        arts.append(got)
    scorer = Scorer(store.features)
    first = scorer.vectors(arts[0], None)
    assert scorer.cached(arts[0].id) and scorer.vectors(arts[0], None) == first  # served from the cache
    assert scorer.vectors(arts[0], {}) == first  # still fresh: a partial idf does not matter
    for _ in range(5):  # N moves by far more than 1%: weights are recomputed
        store.features.count_document(["a:other"])
    again = scorer.vectors(arts[0], {})  # an idf that lacks every feature: looked up, never weight 0
    assert again != first and again[0].mass > 0
    scorer.forget(arts[0].id)
    assert not scorer.cached(arts[0].id)
    s = scorer.score(arts[0], arts[1])
    assert 0 < s.anchors <= 1 and s.days is None and s.hamming == (arts[0].signals.simhash ^ arts[1].signals.simhash).bit_count()
