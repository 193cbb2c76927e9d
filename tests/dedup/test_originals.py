"""Choosing a translation's one original: the earliest close candidate, never a reprint, displaced only by a better one."""

from __future__ import annotations

import pytest

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


# Two outlets' reports of one finding, with the same names and ids (their anchors are alike), worded
# differently; the Chinese article translates the later one's headline and lede.
EARLIER_REPORT = Article(
    url="https://bc.example/openfire", lang="en", title="Openfire XMPP servers open to takeover attacks",
    text="Openfire XMPP servers open to takeover attacks\n\nMany Openfire XMPP servers remain vulnerable to "
         "CVE-2023-32315, an actively exploited path traversal bug that allows an unauthenticated user to create "
         "new admin accounts, VulnCheck says.", published="2023-08-23T20:00:00+00:00")
TRANSLATED_REPORT = Article(
    url="https://thn.example/openfire", lang="en",
    title="Openfire XMPP servers by the thousands still unpatched, exposed to high-severity flaw",
    text="Openfire XMPP servers by the thousands still unpatched, exposed to high-severity flaw\n\nMany thousands of "
         "Openfire XMPP servers are unpatched against a recently disclosed high-severity flaw (CVE-2023-32315) and "
         "are susceptible to a new exploit, according to a new report from VulnCheck.",
    published="2023-08-24T11:00:00+00:00")
TRANSLATION = Article(
    url="https://zh.example/openfire", lang="zh", title="数千台未修复 Openfire XMPP 服务器仍易受高危漏洞影响",
    text="数千台未修复 Openfire XMPP 服务器仍易受高危漏洞影响\n\nVulnCheck 公司发布报告称，数千台 Openfire XMPP "
         "服务器仍未修复最近披露的一个高危漏洞 (CVE-2023-32315)，易受一种新的利用方法攻击。",
    published="2023-08-28T10:00:00+00:00")


@pytest.mark.parametrize("order", [(0, 1, 2), (0, 2, 1), (2, 0, 1), (2, 1, 0)])
@pytest.mark.parametrize("opening", [True, False])
def test_the_translated_opening_chooses_among_close_originals_in_any_order(order, opening) -> None:
    """Several outlets report a story within hours with the same anchors: the report whose opening
    the translation's says is its original (off: the earliest), one original, whichever arrives last."""
    from dataclasses import replace

    from crawler.dedup.detector import Detector

    th = DEFAULTS if opening else replace(DEFAULTS, translation_opening_ratio=0.0)
    assert DEFAULTS.translation_opening_ratio > 0
    store = ArticleStore(":memory:")
    det = Detector(store, th)
    arts = (EARLIER_REPORT, TRANSLATED_REPORT, TRANSLATION)
    for i in order:
        det.add(Article(**arts[i].__dict__))
    zh = store.by_url(TRANSLATION.url)
    assert zh is not None
    got = [store.get(f.other).url for f in store.flags_of(zh.id) if f.kind == Kind.TRANSLATION]
    assert got == [TRANSLATED_REPORT.url if opening else EARLIER_REPORT.url]


def test_opening_match_reads_the_first_words_of_each() -> None:
    store = ArticleStore(":memory:")
    got = {}
    for art in (EARLIER_REPORT, TRANSLATED_REPORT, TRANSLATION):
        got[art.url] = store.get(store.insert(art, compute_signals(art)))
    says = originals.opening_match(got[TRANSLATION.url], lambda names: {n: 1.0 for n in names}, 50)
    literal, other = says(got[TRANSLATED_REPORT.url]), says(got[EARLIER_REPORT.url])
    assert literal > 1.3 * other > 0
    # Only the first ``words`` count: none, nothing said.
    assert originals.opening_match(got[TRANSLATION.url], lambda names: {n: 1.0 for n in names}, 0)(
        got[TRANSLATED_REPORT.url]) == 0.0


def test_a_wide_margin_narrower_than_the_close_one_still_weighs_the_earliest() -> None:
    store = ArticleStore(":memory:")
    best = candidate(store, "https://best.example/", "2024-03-01T12:00:00Z", 0.50)
    early = candidate(store, "https://early.example/", "2024-03-01T08:00:00Z", 0.26)  # close at 0.5, not at 0.6
    told = {best.article.id: 0.9, early.article.id: 0.1}
    assert originals.pick_original([best, early], 0.5, lambda a: told[a.id], ratio=1.3, wide=0.6) == best
    told = {best.article.id: 0.1, early.article.id: 0.9}
    assert originals.pick_original([best, early], 0.5, lambda a: told[a.id], ratio=1.3, wide=0.6) == early


def test_openings_survive_the_catalog_and_its_records(tmp_path) -> None:
    """The opening is an article's first words: its stored ``terms`` must keep the order of first
    occurrence through the catalog (reopened, words read lazily) and the WARC metadata payload."""
    from crawler.dedup import payload

    path = tmp_path / "catalog.sqlite3"
    store = ArticleStore(path)
    fresh = {}
    for art in (EARLIER_REPORT, TRANSLATED_REPORT, TRANSLATION):
        fresh[art.url] = store.get(store.insert(art, compute_signals(art)))
    assert list(fresh[EARLIER_REPORT.url].signals.terms)[:4] == ["openfire", "xmpp", "server", "open"]
    store.commit()
    store.close()
    again = ArticleStore(path)
    flat = lambda names: {n: 1.0 for n in names}  # noqa: E731
    for url, art in fresh.items():
        stored = again.by_url(url)
        assert stored is not None and list(stored.signals.terms) == list(art.signals.terms)
        block = payload.encode(payload.build_payload(Article(url=url, lang=art.lang, text=""), art.signals))
        loaded = payload.load_payload(block)
        assert loaded is not None
        _article, signals = payload.article_from_payload(loaded)
        assert list(signals.terms) == list(art.signals.terms)
    says = originals.opening_match(again.by_url(TRANSLATION.url), flat, 50)
    assert says(again.by_url(TRANSLATED_REPORT.url)) == originals.opening_match(
        fresh[TRANSLATION.url], flat, 50)(fresh[TRANSLATED_REPORT.url]) > 0


def test_an_opening_whose_words_were_sorted_cannot_tell() -> None:
    """A dedup record written before the words kept their order (sorted): its opening would be
    the alphabet's, so the earliest close original stands."""
    store = ArticleStore(":memory:")
    got = {}
    for art in (EARLIER_REPORT, TRANSLATED_REPORT, TRANSLATION):
        sig = compute_signals(art)
        got[art.url] = store.get(store.insert(art, sig))
    flat = lambda names: {n: 1.0 for n in names}  # noqa: E731
    translated = got[TRANSLATED_REPORT.url]
    assert originals.opening_words(translated, 50) == list(translated.signals.terms)[:50]
    translated.signals.terms = dict(sorted(translated.signals.terms.items()))
    assert originals.opening_words(translated, 50) is None
    assert originals.opening_match(got[TRANSLATION.url], flat, 50)(translated) is None
    cands = [Candidate(0.5, got[EARLIER_REPORT.url], PairScore(anchors=0.5)), Candidate(0.5, translated, PairScore(anchors=0.5))]
    says = originals.opening_match(got[TRANSLATION.url], flat, 50)
    assert originals.pick_original(cands, 0.6, says, ratio=1.3, wide=0.4).article.url == EARLIER_REPORT.url
