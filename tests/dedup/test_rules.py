"""The per-pair rules on hand-built articles and scores: each rung of the ladder, links over content, refutation."""

from __future__ import annotations

from dataclasses import replace
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
    detail = {"anchors": 0.3, "terms": 0.0, "hamming": 30,
              "evidence": {"shared": ["a0", "a1", "a2", "a3", "a4"]}}
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


def with_ids(a: StoredArticle, *ids: str) -> StoredArticle:
    a.signals.anchors.update({i: 1 for i in ids})
    return a


@pytest.mark.parametrize("ids_a,ids_b,conflict", [
    (("cve-2023-35081",), ("cve-2023-35082",), True),  # one product, two vulnerabilities
    (("cve-2023-35081", "cve-2023-35082"), ("cve-2023-35082",), False),  # one shared
    (("cve-2023-35081",), (), False),  # only one names an id: nothing disagrees
    ((), (), False),
])
def test_conflicting_incident_ids(ids_a: tuple[str, ...], ids_b: tuple[str, ...], conflict: bool) -> None:
    a, b = with_ids(art(1), *ids_a), with_ids(art(2), *ids_b)
    assert bool(rules.conflicting_incidents(a, b)) is conflict


def test_different_incidents_are_never_related_by_content_but_exact_copies_and_links_stand() -> None:
    a, b = with_ids(art(1), "cve-2023-35081"), with_ids(art(2, day=1.0), "cve-2023-35082")
    strong = score(a, b, anchors=0.9, terms=0.9, headline=0.9, hamming=40)
    assert classify(a, b, strong) is None
    zh1, zh2 = with_ids(art(3, "zh"), "cve-2024-1"), with_ids(art(4, "zh", day=1.0), "cve-2024-2")
    assert classify(zh1, zh2, score(zh1, zh2, anchors_contained=0.9, terms_contained=0.9, anchors=0.9)) is None
    en, zh = with_ids(art(5, "en"), "cve-2024-1"), with_ids(art(6, "zh", day=1.0), "cve-2024-2")
    assert classify(zh, en, score(zh, en, anchors=0.9)) is None
    # Two advisories from one template: alike word for word, about two vulnerabilities.
    assert classify(a, b, score(a, b, terms=0.95, hamming=5)) is None
    # The same text is the same text; a link still decides (rules.decide).
    same = with_ids(art(7, content_hash=1), "cve-2023-35081"), with_ids(art(8, content_hash=1), "cve-2023-1")
    assert classify(*same, score(*same)).kind == Kind.EXACT
    decision, _weak = rules.decide(a, b, strong, None, Kind.ATTRIBUTED, DEFAULTS)
    assert decision is not None and decision.basis == Basis.LINK


@pytest.mark.parametrize("mixed,day,source,kind", [
    (0.30, 3.0, "", Kind.SAME_STORY),  # another outlet, within days
    (0.30, 15.0, "", None),  # outside the window
    (0.10, 1.0, "", None),  # too little in common
    (0.30, 1.0, "same", None),  # one outlet's follow-up
])
def test_zh_reports_of_one_story_from_different_originals(mixed: float, day: float, source: str,
                                                          kind: Kind | None) -> None:
    a = art(1, "zh", source=source, links=[("bleepingcomputer.com/x", "translated_from")])
    b = art(2, "zh", day=day, source=source, links=[("securityweek.com/y", "translated_from")])
    # Siblings by content, but they name different originals: not siblings; one story if alike.
    s = score(a, b, anchors=mixed, terms=mixed, anchors_contained=0.9, terms_contained=0.9)
    got = classify(a, b, s)
    assert (got.kind if got else None) == kind


def test_evidence_names_shared_ids_first_the_conflicting_ids_and_the_joining_link() -> None:
    a = with_ids(art(1, "zh", links=[("x.example/2", "translated_from")]), "cve-2024-1", "cve-2024-2", "n:1200")
    b = with_ids(art(2), "cve-2024-1", "cve-2024-3", "n:1200")
    ev = rules.evidence(a, b)
    assert ev["shared"][0] == "cve-2024-1" and "n:1200" in ev["shared"]
    assert ev["conflicting"] == ["cve-2024-2", "cve-2024-3"]
    assert ev["source"] == "https://x.example/2"
    assert "source" not in rules.evidence(art(3), art(4))


def counted_ids(a: StoredArticle, **counts: int) -> StoredArticle:
    a.signals.anchors.update({k.replace("_", "-"): n for k, n in counts.items()})
    return a


def test_principal_ids_are_what_an_article_names_most() -> None:
    a = counted_ids(art(1), cve_2024_1=3, cve_2024_2=1)
    assert rules.principal_ids(a) == {"cve-2024-1"}
    assert rules.principal_ids(art(2)) == frozenset()


@pytest.mark.parametrize("ids_b,conflict", [
    ({"cve_2024_3": 3, "cve_2024_2": 1}, True),  # each mentions the other's context flaw, subjects differ
    ({"cve_2024_2": 2}, False),  # b's subject is named by a: one may be a's story told from its sequel
    ({"cve_2024_1": 1, "cve_2024_3": 3}, False),  # a's subject is named by b
])
def test_two_incidents_that_mention_one_flaw_in_passing(ids_b: dict[str, int], conflict: bool) -> None:
    a = counted_ids(art(1), cve_2024_1=3, cve_2024_2=1)
    b = counted_ids(art(2, day=1.0), **ids_b)
    got = rules.conflicting_incidents(a, b)
    assert bool(got) is conflict
    if conflict:
        assert got == {"ids": ["cve-2024-1", "cve-2024-3"]}
    off = replace(DEFAULTS, principal_ids=False)
    assert not rules.conflicting_incidents(a, b, off)


@pytest.mark.parametrize("ids_b,day,kind", [
    ({"cve_2024_1": 2}, 40.0, Kind.SAME_STORY),  # the same subject weeks later: CISA confirms, a roundup
    ({"cve_2024_1": 2}, 61.0, None),  # beyond the siblings' window
    ({"cve_2024_1": 2, "cve_2024_9": 2}, 40.0, None),  # names the flaw beside its own subject
    ({}, 40.0, None),  # no ids: the days alone decide
])
def test_zh_reports_of_one_subject_weeks_apart(ids_b: dict[str, int], day: float, kind: Kind | None) -> None:
    a = counted_ids(art(1, "zh", links=[("bleepingcomputer.com/x", "translated_from")]), cve_2024_1=3)
    b = counted_ids(art(2, "zh", day=day, links=[("securityweek.com/y", "translated_from")]), **ids_b)
    s = score(a, b, anchors=0.3, terms=0.3)
    got = classify(a, b, s)
    assert (got.kind if got else None) == kind
    narrow = replace(DEFAULTS, zh_story_subject_window_days=0.0)
    assert rules.classify(a, b, s, narrow, new_sources=rules.sources(a)) is None


@pytest.mark.parametrize("ids_b,day,source,kind", [
    ({"cve_2024_1": 1}, 2.0, "B", Kind.SAME_STORY),  # the same subject within days: one incident
    ({"cve_2024_1": 1}, 5.0, "B", None),  # beyond the story window: a follow-up weeks on
    ({"cve_2024_1": 1, "cve_2024_9": 1}, 2.0, "B", None),  # its subject is two flaws, one of them another
    ({}, 2.0, "B", None),  # no ids: the score decides
    ({"cve_2024_1": 1}, 2.0, "A", None),  # one outlet's own follow-up
])
def test_en_reports_of_one_subject_worded_apart(ids_b: dict[str, int], day: float, source: str, kind: Kind | None) -> None:
    a = counted_ids(art(1, source="A"), cve_2024_1=2)
    b = counted_ids(art(2, day=day, source=source), **ids_b)
    s = score(a, b, anchors=0.3, terms=0.25, headline=0.3)  # story 0.28, below story_min
    got = classify(a, b, s)
    assert got == (Relation(Kind.SAME_STORY, s.story) if kind else None)
    off = replace(DEFAULTS, story_same_subject=False)
    assert rules.classify(a, b, s, off, new_sources=rules.sources(a)) is None


def titled(a: StoredArticle, title: str) -> StoredArticle:
    return replace(a, title=title)


def test_one_outlets_template_about_two_products_is_two_items() -> None:
    a = titled(art(1, "zh", source="CERT"), "【漏洞通告】Apache Tomcat 远程代码执行漏洞安全风险通告")
    b = titled(art(2, "zh", day=1.0, source="CERT"), "【漏洞通告】Fortinet FortiOS 远程代码执行漏洞安全风险通告")
    template = score(a, b, terms=0.95, hamming=5, anchors_contained=0.8, terms_contained=0.95)
    assert rules.conflicting_incidents(a, b) == {"products": ["apache", "fortinet", "fortios", "tomcat"]}
    assert classify(a, b, template) is None
    assert rules.evidence(a, b)["conflicting_products"] == ["apache", "fortinet", "fortios", "tomcat"]
    # The same product twice, another outlet, or a headline naming nothing: not a conflict.
    again = titled(art(3, "zh", day=1.0, source="CERT"), "【漏洞通告】Apache Tomcat 漏洞更新")
    other_outlet = titled(art(4, "zh", day=1.0, source="FreeBuf"), b.title)
    plain = titled(art(5, "zh", day=1.0, source="CERT"), "【漏洞通告】远程代码执行漏洞安全风险通告")
    for other in (again, other_outlet, plain):
        assert rules.conflicting_incidents(a, other) is None
    assert classify(a, again, template).kind == Kind.REPOST
    assert not rules.conflicting_incidents(a, b, replace(DEFAULTS, template_products=False))


def test_evidence_orders_shared_anchors_ids_then_plain_names_then_prefixed() -> None:
    """The groups sorted apart give the order of the key ``(not an id, ":" in it, name)``."""
    names = ["n:12", "ivanti", "cve-2024-9", "d:2024-01-10", "ghsa-abcd", "apache", "cve-2024-1", "n:3", "zlib",
             "log4j", "cisa", "v:2.1", "hospital", "fortios", "tomcat"]
    a, b = with_ids(art(1, anchors=0), *names), with_ids(art(2, anchors=0), *names)
    every = sorted(a.signals.anchors, key=lambda x: (not x.startswith(rules.INCIDENT_ID_PREFIXES), ":" in x, x))
    assert rules.evidence(a, b)["shared"] == every[:rules.EVIDENCE_ANCHORS]
    few = with_ids(art(3, anchors=0), "cve-2024-9", "n:3", "apache")
    assert rules.evidence(a, few)["shared"] == ["cve-2024-9", "apache", "n:3"]


def mixed_pairs() -> list[StoredArticle]:
    """Articles naming ids (as subject and in passing), none, one template's products, copies."""
    return [
        counted_ids(art(1, source="A"), cve_2024_1=3, cve_2024_2=1),
        counted_ids(art(2, day=1.0, source="B"), cve_2024_3=3, cve_2024_2=1),
        counted_ids(art(3, day=1.0, source="A"), cve_2024_2=2),
        counted_ids(art(4, "zh", day=2.0, source="B"), cve_2024_1=1, cve_2024_3=3),
        counted_ids(art(5, day=1.0, source="A", content_hash=1), cve_2024_9=1),  # a copy of 1, another id
        art(6, day=1.0, source="A"),
        titled(art(7, "zh", source="CERT"), "【漏洞通告】Apache Tomcat 远程代码执行漏洞安全风险通告"),
        titled(art(8, "zh", day=1.0, source="CERT"), "【漏洞通告】Fortinet FortiOS 远程代码执行漏洞安全风险通告"),
        titled(art(9, "zh", day=1.0, source="CERT", content_hash=7), "【漏洞通告】Fortinet 漏洞更新"),  # a copy of 7
        titled(art(10, "zh", day=1.0, source="CERT"), "【漏洞通告】远程代码执行漏洞安全风险通告"),
        with_ids(art(11, "en", day=3.0), "ghsa-abcd"),
    ]


@pytest.mark.parametrize("th", [DEFAULTS, replace(DEFAULTS, principal_ids=False),
                                replace(DEFAULTS, template_products=False), replace(DEFAULTS, incident_ids=False)])
def test_rejected_by_content_is_what_classify_says_whatever_the_scores(th) -> None:
    """``conflicts`` is the truth of ``conflicting_incidents``; a pair ``rejected_by_content`` is
    None by ``classify`` at any scores (the detector does not score it), and the others are those
    ``classify`` does not reject before reading a score."""
    arts = mixed_pairs()
    strong = [dict(anchors=x, terms=x, headline=x, anchors_contained=x, terms_contained=x, hamming=h)
              for x, h in ((0.99, 0), (0.5, 30), (0.0, 64))]
    rejected_any = kept_any = False
    for new in arts:
        got = rules.rejected_by_content(new, arts, th)
        assert len(got) == len(arts)
        for other, rejected in zip(arts, got):
            conflict = bool(rules.conflicting_incidents(new, other, th))
            assert rules.conflicts(new, other, th) is conflict
            exact = rules.is_exact(new, other)
            assert rejected is (bool(th.incident_ids) and not exact and conflict)
            for kw in strong:
                s = score(new, other, **kw)
                if rejected:
                    assert rules.classify(new, other, s, th, new_sources=rules.sources(new)) is None
            rejected_any |= rejected
            kept_any |= not rejected and other is not new
    assert kept_any and (rejected_any or not th.incident_ids)
