"""Which article a translation translates: one original per translation, the first report, never a reprint.

A Chinese translation often matches several English reports of one story by content: outlets
report within hours with the same names and figures. Translators translate the first report, so
among the candidates within ``translation_margin`` of the best the earliest wins
(``pick_original``); a reprint of an earlier article is not an original (``first_copy``); and an
original that arrives after its translation replaces a content-based guess only when it is a
better or an equally good and earlier one (``beats_current_original``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from crawler.dedup.defaults import Thresholds
from crawler.dedup.kinds import COPIES, Basis, Kind
from crawler.dedup.rules import named_originals, translation_days
from crawler.dedup.scoring import PairScore
from crawler.dedup.store import ArticleStore, StoredArticle


@dataclass(frozen=True)
class Candidate:
    """An article the new one may translate, by content: its anchor cosine and the pair's scores."""

    score: float
    article: StoredArticle
    pair: PairScore


def pick_original(candidates: list[Candidate], margin: float) -> Candidate | None:
    """The original among content candidates: the earliest of those within the margin of the best."""
    if not candidates:
        return None
    best = max(c.score for c in candidates)
    close = [c for c in candidates if c.score >= margin * best]
    return min(close, key=lambda c: (c.article.when if c.article.when is not None else math.inf, -c.score, c.article.id))


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
                           th: Thresholds) -> bool:
    """Whether ``new`` (an original arriving after ``translation``) replaces its current original."""
    named = named_originals(translation)
    if named and new.url_key not in named:
        return False
    r = th.translation_margin
    for f in store.flags_of(translation.id):
        if f.kind != Kind.TRANSLATION:
            continue
        if f.basis != Basis.CONTENT:
            return False
        current = store.get(f.other)
        cur_when = current.when if current is not None and current.when is not None else math.inf
        new_when = new.when if new.when is not None else math.inf
        if score >= r * f.score and f.score >= r * score:
            if new_when >= cur_when:
                return False  # as good, but not earlier
        elif f.score > score:
            return False
    return True
