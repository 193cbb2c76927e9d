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


def test_the_translated_headline_chooses_among_close_candidates() -> None:
    store = ArticleStore(":memory:")
    first = candidate(store, "https://first.example/", "2024-03-01T08:00:00Z", 0.50)
    literal = candidate(store, "https://literal.example/", "2024-03-01T10:00:00Z", 0.45)
    weak = candidate(store, "https://weak.example/", "2024-03-01T11:00:00Z", 0.20)  # 0.4 x best
    told = {first.article.id: 0.2, literal.article.id: 0.5, weak.article.id: 0.9}

    def says(art) -> float:
        return told[art.id]

    cands = [first, literal, weak]
    assert originals.pick_original(cands, 0.6) == first  # no headline: the earliest close one
    assert originals.pick_original(cands, 0.6, says, ratio=0.0) == first  # off
    assert originals.pick_original(cands, 0.6, says, ratio=2.0) == literal  # 0.5 > 2 x 0.2
    assert originals.pick_original(cands, 0.6, says, ratio=3.0) == first  # not by enough
    assert originals.pick_original(cands, 0.6, says, ratio=2.0, wide=0.4) == weak  # a wider pool
    assert originals.pick_original([first], 0.6, says, ratio=2.0) == first


def test_headline_match_reads_the_chinese_headline_against_each_english_one() -> None:
    store = ArticleStore(":memory:")

    def stored(url: str, lang: str, title: str):
        art = Article(url=url, lang=lang, text="text", title=title, published="2024-03-01T08:00:00Z")
        got = store.get(store.insert(art, compute_signals(art)))
        assert got is not None
        return got

    zh = stored("https://zh.example/", "zh", "苹果紧急修复两个已遭利用的零日漏洞")
    literal = stored("https://a.example/", "en", "Apple fixes two zero-day vulnerabilities exploited in attacks")
    other = stored("https://b.example/", "en", "iOS 17.1.2 is out with security updates")
    says = originals.headline_match(zh, lambda names: {n: 1.0 for n in names})
    assert says(literal) > 0.5 and says(other) == 0.0
    assert originals.headline_match(stored("https://c.example/", "zh", ""), lambda n: {})(literal) == 0.0


def test_a_later_original_whose_headline_is_translated_displaces_a_close_guess() -> None:
    from dataclasses import replace

    store = ArticleStore(":memory:")
    current = candidate(store, "https://current.example/", "2024-03-01T08:00:00Z", 0.5).article
    later = candidate(store, "https://later.example/", "2024-03-01T18:00:00Z", 0.5).article
    zh = candidate(store, "https://zh.example/", "2024-03-02T08:00:00Z", 0.0, lang="zh").article
    store.add_flag(zh.id, current.id, Kind.TRANSLATION, 0.5, Basis.CONTENT)
    th = replace(DEFAULTS, translation_headline_ratio=2.0)
    told = {current.id: 0.1, later.id: 0.6}
    assert not originals.beats_current_original(store, zh, later, 0.5, th)  # as good, not earlier
    assert originals.beats_current_original(store, zh, later, 0.5, th, lambda a: told[a.id])
    told = {current.id: 0.6, later.id: 0.1}
    first = candidate(store, "https://first.example/", "2024-03-01T01:00:00Z", 0.5).article
    told[first.id] = 0.1
    assert not originals.beats_current_original(store, zh, first, 0.5, th, lambda a: told[a.id])  # earlier, but
