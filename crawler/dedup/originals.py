"""Which article a translation translates: one original per translation, the first report, never a reprint.

A Chinese translation often matches several English reports of one story by content: outlets
report within hours with the same names and figures. Translators translate the first report, so
among the candidates within ``translation_margin`` of the best the earliest wins
(``pick_original``), unless the translation's opening says another candidate's opening clearly
more (``opening_match``: the words, read through CC-CEDICT, where the anchors are alike); a
reprint of an earlier article is not an original (``first_copy``); and an original that arrives
after its translation replaces a content-based guess only when it is a better or an equally good
and earlier one, by the same rules (``beats_current_original``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from crawler.dedup import bilingual
from crawler.dedup.defaults import Thresholds
from crawler.dedup.kinds import COPIES, Basis, Kind
from crawler.dedup.rules import named_originals, translation_days
from crawler.dedup.scoring import PairScore, headline_words
from crawler.dedup.store import ArticleStore, StoredArticle

#: How much of an English report's words a Chinese translation says (``opening_match``,
#: ``headline_match``), read through CC-CEDICT; None when it cannot tell (see ``opening_words``).
HeadlineMatch = Callable[[StoredArticle], float | None]
#: Feature frequencies: names (``t:`` words) -> IDF (``FeatureIndex.idf``).
Idf = Callable[[list[str]], dict[str, float]]


@dataclass(frozen=True)
class Candidate:
    """An article the new one may translate, by content: its anchor cosine and the pair's scores."""

    score: float
    article: StoredArticle
    pair: PairScore


def _earliest_key(c: Candidate) -> tuple[float, float, int]:
    return (c.article.when if c.article.when is not None else math.inf, -c.score, c.article.id)


def pick_original(candidates: list[Candidate], margin: float, says: HeadlineMatch | None = None,
                  ratio: float = 0.0, wide: float | None = None) -> Candidate | None:
    """The original among content candidates: the earliest of those within ``margin`` of the best;
    unless (``ratio`` > 0) the translation's headline says the headline of another candidate
    within ``wide`` of the best (``margin`` when None) at least ``ratio`` times as much as the
    earliest's (``says``: CC-CEDICT word by word): then that one. Translators translate the
    headline: when the anchors cannot tell several reports apart, the headline often can."""
    if not candidates:
        return None
    best = max(c.score for c in candidates)
    close = [c for c in candidates if c.score >= margin * best]
    earliest = min(close, key=_earliest_key)
    if says is None or ratio <= 0 or len(close if wide is None else candidates) < 2:
        return earliest
    pool = close if wide is None else [c for c in candidates if c.score >= wide * best or c is earliest]
    told = {c.article.id: says(c.article) for c in pool}
    least = told[earliest.article.id]
    known = [(t, c) for c in pool if (t := told[c.article.id]) is not None]
    if least is None or not known:
        return earliest
    t, top = min(known, key=lambda tc: (-tc[0], *_earliest_key(tc[1])))
    return top if t > ratio * least else earliest


def opening_match(translation: StoredArticle, idf: Idf, words: int) -> HeadlineMatch:
    """How much of a candidate original's opening the opening of ``translation`` says: the first
    ``words`` distinct words of each (an article's ``terms`` keep the order of first occurrence:
    its headline and first paragraph or two; an RSS teaser whole), the Chinese ones looked up in
    CC-CEDICT (``bilingual.word_slots``), as the IDF-weighted share of the English words met
    (``bilingual.opening_overlap``). Translators translate the headline and the lede first and
    most closely; other outlets' reports of the story carry its names and figures (the anchors)
    in their own words."""
    slots: list[tuple[frozenset[str], ...] | None] = []

    def says(original: StoredArticle) -> float | None:
        # Called only when candidates are close: the dictionary is loaded on first need.
        if not slots:
            zh = opening_words(translation, words)
            slots.append(None if zh is None else bilingual.word_slots(zh))
        english = opening_words(original, words)
        if slots[0] is None or english is None:
            return None
        weights = idf(["t:" + w for w in english])
        return bilingual.opening_overlap(slots[0], english, lambda w: weights.get("t:" + w, 0.0))
    return says


#: An opening of at least this many words in alphabetical order is taken for a record that
#: sorted its words (WARC metadata records before 2026-12-03), not for a text's order: by chance
#: one in 40,320.
SORTED_OPENING = 8


def opening_words(art: StoredArticle, words: int) -> list[str] | None:
    """The first ``words`` distinct words of an article, or None when its signals lost their
    order (a dedup metadata record written with its words sorted: ``payload.encode``)."""
    first = list(islice(art.signals.terms, words))
    if len(first) >= SORTED_OPENING and all(a < b for a, b in zip(first, first[1:])):
        return None
    return first


def _tiebreak(th: Thresholds) -> tuple[str | None, float, float | None]:
    """Which reading chooses among close originals besides their order, with its ratio and wide
    margin: the opening when ``translation_opening_ratio`` is on, else the headline when
    ``translation_headline_ratio`` is, else none."""
    if th.translation_opening_ratio > 0:
        return "opening", th.translation_opening_ratio, th.translation_opening_margin
    if th.translation_headline_ratio > 0:
        return "headline", th.translation_headline_ratio, th.translation_headline_margin
    return None, 0.0, None


def reading(translation: StoredArticle, idf: Idf, th: Thresholds) -> tuple[HeadlineMatch | None, float, float | None]:
    """``(says, ratio, wide)`` for ``pick_original`` (see ``_tiebreak``); ``(None, 0.0, None)``
    when only the order chooses."""
    what, ratio, wide = _tiebreak(th)
    if what == "opening":
        return opening_match(translation, idf, th.translation_opening_words), ratio, wide
    if what == "headline":
        return headline_match(translation, idf), ratio, wide
    return None, 0.0, None


def headline_match(translation: StoredArticle, idf: Idf) -> HeadlineMatch:
    """How much of a candidate original's headline the Chinese headline of
    ``translation`` says, looked up word by word in CC-CEDICT (``bilingual``), IDF-weighted by
    ``idf`` (of ``t:`` words, the English term frequencies of the catalog)."""
    def says(original: StoredArticle) -> float:
        # Called only when two candidates are close: the dictionary is loaded on first need.
        zh = bilingual.slots(translation.title) if translation.title else ()
        if not zh:
            return 0.0
        english = headline_words(original.title, "en")  # shared: read only
        names = {"t:" + w for w in english} | {"t:" + w for s in zh for w in s}
        weights = idf(sorted(names))
        return bilingual.headline_overlap(zh, english, lambda w: weights.get("t:" + w, 0.0))
    return says


def first_copy(store: ArticleStore, new: StoredArticle, chosen: Candidate,
               score_with: Callable[[StoredArticle], PairScore], th: Thresholds) -> Candidate:
    """A reprint is not an original: when the chosen original is an exact copy or repost of an
    earlier article (a flag already in the catalog), the translation's original is that one.
    ``score_with(article)`` scores ``new`` against another article."""
    art = chosen.article
    best: StoredArticle | None = None
    best_when = math.inf
    for f in store.flags_of(art.id):
        if f.kind not in COPIES or f.other == new.id:
            continue
        copy = store.get(f.other)
        if copy is None or copy.lang != art.lang or copy.when is None or art.when is None or copy.when >= art.when:
            continue
        if best is None or copy.when < best_when:
            best, best_when = copy, copy.when
    if best is None:
        return chosen
    s_copy = score_with(best)
    lo, hi = th.translation_window_days
    if not lo <= translation_days(new, best, s_copy) <= hi:
        return chosen
    return Candidate(max(s_copy.anchors, chosen.score), best, s_copy)


def beats_current_original(store: ArticleStore, translation: StoredArticle, new: StoredArticle, score: float,
                           th: Thresholds, says: HeadlineMatch | None = None) -> bool:
    """Whether ``new`` (an original arriving after ``translation``) replaces its current original:
    as ``pick_original`` would choose between the two (``says``: see ``reading``, whose ratio and
    wide margin apply)."""
    named = named_originals(translation)
    if named and new.url_key not in named:
        return False
    r = th.translation_margin
    _what, ratio, wide = _tiebreak(th)
    wide = r if wide is None else wide
    for f in store.flags_of(translation.id):
        if f.kind != Kind.TRANSLATION:
            continue
        if f.basis != Basis.CONTENT:
            return False
        current = store.get(f.other)
        cur_when = current.when if current is not None and current.when is not None else math.inf
        new_when = new.when if new.when is not None else math.inf
        if says is not None and ratio > 0 and current is not None and score >= wide * f.score \
                and f.score >= wide * score:
            told_new, told_cur = says(new), says(current)
            if told_new is not None and told_cur is not None:
                if told_new > ratio * told_cur:
                    continue  # its opening (or headline) is the one translated
                if told_cur > ratio * told_new:
                    return False
        if score >= r * f.score and f.score >= r * score:
            if new_when >= cur_when:
                return False  # as good, but not earlier
        elif f.score > score:
            return False
    return True
