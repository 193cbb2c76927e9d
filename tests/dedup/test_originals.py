"""Choosing a translation's one original: the earliest close candidate, never a reprint, displaced only by a better one."""

from __future__ import annotations

from crawler.dedup import originals
from crawler.dedup.defaults import DEFAULTS
from crawler.dedup.features import Article, compute_signals
from crawler.dedup.kinds import Basis, Kind
from crawler.dedup.originals import Candidate
from crawler.dedup.scoring import PairScore
from crawler.dedup.store import ArticleStore


def candidate(store: ArticleStore, url: str, when: str, score: float, lang: str = "en") -> Candidate:
    i = store.insert(Article(url=url, lang=lang, text=f"text of {url}", published=when), compute_signals(
        Article(url=url, lang=lang, text=f"text of {url}")))
    got = store.get(i)
    assert got is not None
    return Candidate(score, got, PairScore(anchors=score))


def test_pick_original_earliest_within_the_margin() -> None:
    store = ArticleStore(":memory:")
    best = candidate(store, "https://b.example/", "2024-03-01T12:00:00Z", 0.50)
    early = candidate(store, "https://a.example/", "2024-03-01T08:00:00Z", 0.31)  # >= 0.6 x best
    earlier_weak = candidate(store, "https://c.example/", "2024-03-01T01:00:00Z", 0.29)
    assert originals.pick_original([], 0.6) is None
    assert originals.pick_original([best, early, earlier_weak], 0.6) == early
    assert originals.pick_original([best, earlier_weak], 0.6) == best


def test_first_copy_and_beats_current_original() -> None:
    store = ArticleStore(":memory:")
    first = candidate(store, "https://first.example/", "2024-03-01T08:00:00Z", 0.2)
    reprint = candidate(store, "https://reprint.example/", "2024-03-01T12:00:00Z", 0.5)
    zh = candidate(store, "https://zh.example/", "2024-03-02T08:00:00Z", 0.0, lang="zh").article
    store.add_flag(first.article.id, reprint.article.id, Kind.REPOST, 0.9, Basis.CONTENT)
    chosen = originals.first_copy(store, zh, reprint, lambda other: PairScore(anchors=0.4, days=-1.0), DEFAULTS)
    assert chosen.article.id == first.article.id and chosen.score == 0.5  # the reprint's score, the first's page
    # zh's current original is the reprint (content, 0.5): the first report, as good and earlier, beats it
    store.add_flag(zh.id, reprint.article.id, Kind.TRANSLATION, 0.5, Basis.CONTENT)
    assert originals.beats_current_original(store, zh, first.article, 0.45, DEFAULTS)
    assert not originals.beats_current_original(store, zh, first.article, 0.2, DEFAULTS)  # much weaker
    later = candidate(store, "https://later.example/", "2024-03-01T18:00:00Z", 0.5).article
    assert not originals.beats_current_original(store, zh, later, 0.5, DEFAULTS)  # as good, not earlier
    store.add_flag(zh.id, reprint.article.id, Kind.TRANSLATION, 0.5, Basis.LINK)
    assert not originals.beats_current_original(store, zh, first.article, 0.9, DEFAULTS)  # it names its original
