"""The per-pair rules on hand-built articles and scores: each rung of the ladder, links over content, refutation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.dedup import rules
from crawler.dedup.defaults import DEFAULTS
from crawler.dedup.features import Signals
from crawler.dedup.kinds import Basis, Kind
from crawler.dedup.rules import Decision, Found, Relation
from crawler.dedup.scoring import PairScore
from crawler.dedup.store import StoredArticle

DAY = 86400.0
T0 = datetime(2024, 3, 1, tzinfo=UTC).timestamp()


def art(i: int, lang: str = "en", *, day: float | None = 0.0, source: str = "", links: list[tuple[str, str]] = (),
        translated: bool = False, content_hash: int | None = None, anchors: int = 5, length: int = 100) -> StoredArticle:
    sig = Signals(simhash=i, content_hash=content_hash if content_hash is not None else i,
                  anchors={f"a{n}": 1 for n in range(anchors)}, terms={},
                  source_links=[{"url": u, "kind": k} for u, k in links], url_key=f"x.example/{i}",
                  translated=translated, length=length)
    return StoredArticle(id=i, url=f"https://x.example/{i}", url_key=f"x.example/{i}", source=source, lang=lang,
                         title="", published=None, published_ts=None if day is None else T0 + day * DAY,
                         fetched_at=None, warc_record_id=None, signals=sig)


def score(a: StoredArticle, b: StoredArticle, **kw: float) -> PairScore:
    days = None if a.when is None or b.when is None else (b.when - a.when) / DAY
    return PairScore(days=days, **kw)


def classify(a: StoredArticle, b: StoredArticle, s: PairScore) -> Relation | None:
    return rules.classify(a, b, s, DEFAULTS, new_sources=rules.sources(a))


def test_exact_wins_over_everything_and_needs_words() -> None:
    a, b = art(1, content_hash=7), art(2, "zh", content_hash=7)
    assert classify(a, b, score(a, b)) == Relation(Kind.EXACT, 1.0)
    empty_a, empty_b = art(3, content_hash=8, length=0), art(4, content_hash=8, length=0)
    assert classify(empty_a, empty_b, score(empty_a, empty_b, hamming=0)) is None


@pytest.mark.parametrize("hamming,terms,kind", [(3, 0.0, Kind.REPOST), (4, 0.85, Kind.REPOST), (4, 0.84, None)])
def test_repost(hamming: int, terms: float, kind: Kind | None) -> None:
    a, b = art(1), art(2)
    got = classify(a, b, score(a, b, hamming=hamming, terms=terms))
    assert (got.kind if got else None) == kind


@pytest.mark.parametrize("zh_day,anchors,found", [
    (1.0, 0.15, True), (1.0, 0.149, False), (-2.0, 0.5, True), (-2.5, 0.5, False), (30.0, 0.5, True), (31.0, 0.5, False),
])
def test_translation_window_from_either_side(zh_day: float, anchors: float, found: bool) -> None:
    en, zh = art(1, "en"), art(2, "zh", day=zh_day)
    for new, other in ((zh, en), (en, zh)):
        got = classify(new, other, score(new, other, anchors=anchors))
        assert got == (Relation(Kind.TRANSLATION, anchors) if found else None)


def test_undated_translation_is_in_the_window() -> None:
    en, zh = art(1, "en", day=None), art(2, "zh", day=100.0)
    assert classify(zh, en, score(zh, en, anchors=0.2)) == Relation(Kind.TRANSLATION, 0.2)


def test_zh_siblings_and_their_sources() -> None:
    a = art(1, "zh", links=[("bleepingcomputer.com/x", "translated_from")], translated=True)
    b = art(2, "zh", day=1.0, links=[("bleepingcomputer.com/x?web_view=true", "cites")])
    s = PairScore(anchors_contained=0.6, terms_contained=0.6, days=1.0)
    assert classify(a, b, s) == Relation(Kind.TRANSLATION_SIBLING, 0.6)
    other_source = art(3, "zh", day=1.0, links=[("securityweek.com/y", "cites")])
    assert classify(a, other_source, s) is None  # each names a different original
    plain_a, plain_b = art(4, "zh"), art(5, "zh", day=1.0)
    assert classify(plain_a, plain_b, s) == Relation(Kind.SAME_STORY, 0.6)  # neither says it is translated
    far = art(6, "zh", day=61.0)
    assert classify(plain_a, far, PairScore(anchors_contained=0.6, terms_contained=0.6, days=61.0)) is None


def test_same_story_is_between_outlets() -> None:
    a, b, c = art(1, source="A"), art(2, source="B", day=1.0), art(3, source="A", day=1.0)
    s = PairScore(anchors=0.5, terms=0.5, headline=0.5, days=1.0)
    assert classify(a, b, s) == Relation(Kind.SAME_STORY, 0.5)
    assert classify(a, c, s) is None
    assert classify(a, b, PairScore(anchors=0.5, terms=0.5, headline=0.5, days=4.5)) is None


def test_decide_lays_the_link_over_the_content() -> None:
    a, b = art(1, "zh"), art(2, "en")
    s = score(a, b, anchors=0.3, terms=0.0, hamming=30)
    detail = {"anchors": 0.3, "terms": 0.0, "hamming": 30}
    assert rules.decide(a, b, s, None, None, DEFAULTS) == (None, False)
    rel = Relation(Kind.TRANSLATION, 0.3)
    assert rules.decide(a, b, s, rel, None, DEFAULTS) == (Decision(b, Kind.TRANSLATION, 0.3, Basis.CONTENT, detail), False)
    assert rules.decide(a, b, s, rel, Kind.TRANSLATION, DEFAULTS)[0].basis == Basis.CONTENT_LINK
    linked, weak = rules.decide(a, b, s, None, Kind.TRANSLATION, DEFAULTS)
    assert (linked.kind, linked.basis, linked.score, weak) == (Kind.TRANSLATION, Basis.LINK, 0.3, False)
    _d, weak = rules.decide(a, b, score(a, b, anchors=0.01), None, Kind.TRANSLATION, DEFAULTS)
    assert weak  # the content does not confirm the link


def test_link_relation() -> None:
    zh, en, en2 = art(1, "zh", translated=True), art(2, "en"), art(3, "en", links=[("src.example/a", "cites")])
    assert rules.link_relation(zh, en, {Found.CITES}, {}) == Kind.TRANSLATION
    assert rules.link_relation(en2, en, {Found.CITED_BY, Found.CONTENT}, {}) == Kind.ATTRIBUTED
    zh2 = art(4, "zh", links=[("src.example/a", "cites")])
    new_links = {"src.example/a": "cites"}
    assert rules.link_relation(zh, zh2, {Found.SAME_SOURCE}, new_links) == Kind.TRANSLATION_SIBLING
    assert rules.link_relation(zh, en2, {Found.SAME_SOURCE}, new_links) == Kind.SAME_STORY
    assert rules.link_relation(zh, en2, {Found.SAME_SOURCE}, {"elsewhere.example/": "cites"}) is None
    assert rules.link_relation(zh, en, {Found.SIMHASH, Found.CONTENT}, new_links) is None


def test_translation_side() -> None:
    en, zh, ja = art(1, "en", day=5.0), art(2, "zh", day=0.0), art(3, "ja", day=1.0)
    assert rules.is_translation_side(zh, en) and not rules.is_translation_side(en, zh)
    assert rules.is_translation_side(ja, zh) and not rules.is_translation_side(zh, ja)  # neither en: the later


def test_refute_links() -> None:
    new = art(1, "zh", links=[("x.example/2", "translated_from")])
    wrong, other = art(2, "en"), art(3, "en")
    d_wrong = Decision(wrong, Kind.TRANSLATION, 0.0, Basis.LINK)
    d_other = Decision(other, Kind.SAME_STORY, 0.5, Basis.CONTENT)
    named = rules.named_originals(new)
    assert named == {"x.example/2"}
    # the content matches something else: the weak link goes, and the original is found by content
    assert rules.refute_links([d_wrong, d_other], {2}, True, named, [], ["by content"]) == ([d_other], ["by content"])
    # nothing else matches: the link stands
    assert rules.refute_links([d_wrong], {2}, False, named, [], ["by content"]) == ([d_wrong], [])
