"""Frozen copy of ``crawler.dedup.terms.terms`` before its speed rewrite (main at 0b8a06e)."""

from __future__ import annotations

from collections import Counter

from crawler.dedup.anchors import STOPWORDS_EN
from crawler.dedup.terms import _CJK_WORD_RE, _EN_WORD_RE, STOPWORDS_ZH


def terms(folded: str, lang: str) -> Counter[str]:
    """Term counts of a folded (lower-case, Simplified) text."""
    if lang == "zh":
        import rjieba

        return Counter(
            w for w in rjieba.cut(folded) if len(w) >= 2 and _CJK_WORD_RE.match(w) and w not in STOPWORDS_ZH
        )
    out: Counter[str] = Counter()
    for w in _EN_WORD_RE.findall(folded):
        if w in STOPWORDS_EN or len(w) < 3:
            continue
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out[w] += 1
    return out
