"""The detector's answers do not depend on what its caches hold: the same matches and flags with
every cache at its size and with every cache holding next to nothing (each candidate's row, words
and postings read again from the catalog)."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pytest

from crawler.dedup import feature_index, rules, scoring
from crawler.dedup import store as store_module
from crawler.dedup.detector import Detector
from crawler.dedup.features import Article
from crawler.dedup.store import ArticleStore
from tests.dedup.test_detector import site_articles

WORDS = [f"word{n}" for n in range(60)] + ["ransomware", "hospital", "lockbit", "exchange", "patch"]


def catalog_articles() -> list[Article]:
    """The test site's articles, then reports sharing incident ids and words (many candidates)."""
    out = list(site_articles().values())
    rnd = random.Random(7)
    for n in range(40):
        cves = " ".join(f"CVE-2024-{rnd.randrange(1000, 1012)}" for _ in range(2))
        text = " ".join(rnd.choices(WORDS, k=120))
        out.append(Article(url=f"http://127.0.0.1:8123/r/{n}", lang="en", title=" ".join(rnd.choices(WORDS, k=5)),
                           text=f"Microsoft fixed {cves}. {text}", source=f"s{n % 3}",
                           published=f"2024-03-{1 + n % 20:02d}T00:00:00Z"))
    return out


def run(articles: list[Article]) -> tuple[list[Any], list[Any]]:
    store = ArticleStore(":memory:")
    det = Detector(store)
    matches = []
    for n, art in enumerate(articles):
        new_id, found = det.add(art)
        matches.append((new_id, [(m.article_id, m.kind, m.score, m.basis, m.detail) for m in found]))
        if n % 7 == 6:
            store.commit()
    flags = store.all_flags()
    store.close()
    return matches, flags


def test_tiny_caches_give_the_same_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    articles = catalog_articles()
    reference = run(articles)
    assert sum(len(found) for _id, found in reference[0]) > 20, "the test means something"
    monkeypatch.setattr(store_module, "SIGNALS_CACHE_FEATURES", 1)
    monkeypatch.setattr(scoring, "ARTICLE_CACHE_FEATURES", 1)
    monkeypatch.setattr(scoring, "WEIGHTED_CACHE_SIZE", 0)
    monkeypatch.setattr(feature_index, "POSTINGS_CACHE_BYTES", 1)
    assert run(articles) == reference


def test_the_cache_keeps_a_catalog_articles_anchors_not_its_words() -> None:
    """Once added, an article's words leave the signals cache (the scorer holds what it needs of
    them) and read back as they were stored; a candidate's words read for scoring leave it too."""
    articles = catalog_articles()
    store = ArticleStore(":memory:")
    det = Detector(store)
    for art in articles:
        det.add(art)
    held = [s for s in store._signals.values() if getattr(s.terms, "loaded", True)]
    assert not held
    assert store._signals_features == sum(1 + len(s.anchors) for s in store._signals.values())
    for article_id, sig in list(store._signals.items()):
        stored = store.conn.execute("SELECT json_extract(signals, '$.terms') FROM articles WHERE id = ?",
                                    (article_id,)).fetchone()[0]
        assert dict(sig.terms.items()) == json.loads(stored)
    store.release_terms(list(store._signals))
    assert store._signals_features == sum(1 + len(s.anchors) for s in store._signals.values())
    store.close()


def test_counts_weigh_by_table_as_by_log() -> None:
    counts = np.arange(1, 1 << 16, dtype=np.int32)
    assert np.array_equal(scoring.log_counts(counts.astype(np.uint16)), 1.0 + np.log(counts))
    big = np.array([3, 70_000], dtype=np.int32)  # past uint16: computed
    assert np.array_equal(scoring.log_counts(big), 1.0 + np.log(big))


def test_pairs_rejected_by_content_unscored_give_the_same_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector does not score a pair whose incidents conflict and that no link joins; scoring
    every pair (as before) gives the same matches and flags, float for float."""
    articles = catalog_articles()
    rejected: list[bool] = []
    judge = rules.rejected_by_content

    def counted(new: Any, others: Any, th: Any) -> list[bool]:
        got = judge(new, others, th)
        rejected.extend(got)
        return got

    monkeypatch.setattr(rules, "rejected_by_content", counted)
    reference = run(articles)
    assert sum(rejected) > len(rejected) / 4, "the test means something"
    assert sum(len(found) for _id, found in reference[0]) > 20
    monkeypatch.setattr(rules, "rejected_by_content", lambda new, others, th: [False] * len(others))
    assert run(articles) == reference
