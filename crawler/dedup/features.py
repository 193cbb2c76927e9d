"""What the detector knows about one article: computed once from its text, stored, never from the catalog."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from crawler.dedup.anchors import DIGIT_RUN_REGEX_MAX, extract_anchors, has_case_trap
from crawler.dedup.fingerprint import fingerprint_of_folded
from crawler.dedup.normalize import (
    _COMMON_COMPATIBILITY,
    canonical,
    code_points,
    lower_maps_each_character,
    remove_urls,
    remove_urls_lowered,
    to_simplified,
)
from crawler.dedup.sourcelinks import by_first_character, holds_any, normalize_url, source_links
from crawler.dedup.terms import terms

SIGNALS_VERSION = 1

#: An article is its first this many characters (cut at a line end, ``article_head``): the
#: extraction keeps no more of a page's main text (``crawler/dedup/extract.py`` also bounds the
#: part of the page trafilatura reads to match), and every signal of its body (simhash, content
#: hash, length, anchors, words) reads no more of the text it is given, so the crawl, the
#: catch-up, ``dedup rebuild`` (which replays the stored signals) and the benchmarks see one
#: article alike. Source links and the translation markers read the whole text: extraction
#: appends the source lines trafilatura dropped after the head.
#: Why 20,000: an article's identity is in its first few thousand words (20,000 characters are
#: about 3,300 English words or 13,000 Chinese ones), while the dedup work per article grows with
#: its text: on the stress pages of issue 13 (58,000 characters of text each) extraction, signals
#: and catalog took 26-29 CPU-ms an article, 13 with this bound (and ``extract.TREE_TEXT_MAX``),
#: and a 250 KB page now costs what a 65 KB one does. Corpus texts: p50 824 characters, p99 12,500;
#: 5 of 733 are longer (23,664 to 56,014). With this bound the flagged pairs and their kinds are
#: the same (``bench/dedup_quality.py --folds 1 --pairs-out``, both modes; scores move through
#: the word weights, most by 0.0001, at most 0.10) and the cross-validated figures (``--folds 5``)
#: are the same to the last digit. 10,000 (13 articles longer) moved them: zh same_story mean F1
#: 0.947 -> 0.955 (README).
ARTICLE_TEXT_MAX = 20_000


def article_head(text: str) -> str:
    """``text`` itself, or when it is longer than ``ARTICLE_TEXT_MAX`` its head: cut at the last
    line end within the bound when that keeps at least half of it, else at the bound."""
    if len(text) <= ARTICLE_TEXT_MAX:
        return text
    cut = text.rfind("\n", ARTICLE_TEXT_MAX // 2, ARTICLE_TEXT_MAX)
    return text[:cut if cut > 0 else ARTICLE_TEXT_MAX]

# WeChat and many Chinese sites end an article with a list of other articles' titles;
# those titles would make unrelated articles look alike.
_RECOMMENDED_RE = re.compile(
    r"^[#*>\s]*(推荐阅读|阅读推荐|推荐文章|相关阅读|相关文章|往期推荐|往期回顾|往期精彩|精彩推荐|热文推荐|"
    r"猜你喜欢|更多阅读|延伸阅读|related articles|read more|recommended reading|you may also like)",
    re.IGNORECASE,
)
_TRANSLATED_RE = re.compile(r"本文翻译自|翻译自|编译自|译者|编译[:：]|译文|原文链接|原文地址|原文来自|综合编译")


@dataclass
class Article:
    """An extracted article, as the pipeline or a benchmark hands it to the detector."""

    url: str
    lang: str
    text: str
    title: str = ""
    source: str = ""
    published: str | None = None  # ISO 8601 or "YYYY-MM-DD HH:MM"
    fetched_at: str | None = None  # WARC-Date, ISO 8601 UTC
    warc_record_id: str | None = None
    author: str | None = None


@dataclass
class Signals:
    simhash: int
    content_hash: int
    anchors: dict[str, int]
    terms: dict[str, int]
    source_links: list[dict[str, str]] = field(default_factory=list)
    url_key: str = ""
    translated: bool = False  # says it is a translation (编译 / 本文翻译自 ...)
    length: int = 0
    version: int = SIGNALS_VERSION

    def to_json(self) -> dict[str, Any]:
        # What dataclasses.asdict gives (fresh containers), without its recursive deep copy:
        # that was 2 ms of a 65 KB article's insert.
        d = {name: getattr(self, name) for name in _SIGNAL_FIELDS}
        d["anchors"] = dict(self.anchors)
        d["terms"] = dict(self.terms)
        d["source_links"] = [dict(link) for link in self.source_links]
        d["simhash"] = f"{self.simhash:016x}"
        d["content_hash"] = f"{self.content_hash:016x}"
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Signals:
        d = dict(d)
        d["simhash"] = int(d["simhash"], 16)
        d["content_hash"] = int(d["content_hash"], 16)
        return cls(**d)


#: The fields of :class:`Signals`, in order (``dataclasses.fields`` builds them a call).
_SIGNAL_FIELDS = tuple(f.name for f in fields(Signals))

_RECOMMENDED_HINT_RE = re.compile(_RECOMMENDED_RE.pattern.split("(", 1)[1].rsplit(")", 1)[0], re.IGNORECASE)
# The same search as ``in`` scans of the lower-cased text for each heading (0.03 ms where the
# regex took 0.2 ms on a 15,000-character English article: its first characters, "r" and "y",
# start a match attempt at most letters), unless the text holds a letter that IGNORECASE folds
# to an ASCII one and lower() does not (İ ı ſ K).
_RECOMMENDED_HEADINGS = tuple(_RECOMMENDED_HINT_RE.pattern.lower().split("|"))
# Grouped by first character, which is looked for first (as :func:`says_translated` does): an
# English text holds none of the Chinese headings' first characters, so 4 of the 20 scans run
# (0.25 -> 0.1 ms on a 15,000-character article).
_RECOMMENDED_FIRSTS = by_first_character(_RECOMMENDED_HEADINGS)
_TRANSLATED_MARKERS = ("本文翻译自", "翻译自", "编译自", "译者", "编译:", "编译：", "译文", "原文链接", "原文地址", "原文来自",
                       "综合编译")
_TRANSLATED_FIRSTS = by_first_character(_TRANSLATED_MARKERS)


def main_body(text: str, *, low: str | None = None) -> str:
    """The text without a trailing "recommended reading" list (``text`` itself if it has none).
    ``low`` is ``text.lower()`` if the caller has it."""
    if has_case_trap(text):
        hint = bool(_RECOMMENDED_HINT_RE.search(text))
    else:
        hint = holds_any(text.lower() if low is None else low, _RECOMMENDED_FIRSTS)
    if not hint:
        return text  # no heading of such a list anywhere: one scan instead of a match per line
    lines = text.split("\n")
    cut = len(lines)
    for n, line in enumerate(lines):
        if n > len(lines) * 0.3 and _RECOMMENDED_RE.match(line.strip()):
            cut = n
            break
    return "\n".join(lines[:cut])


def says_translated(text: str) -> bool:
    """``_TRANSLATED_RE.search(text)``, as ``in`` scans for its literals (a literal's first
    character first: a one-character scan is memchr-like, a CJK word's scan is not)."""
    return holds_any(text, _TRANSLATED_FIRSTS)


def _head(article: Article, text: str, text_low: str) -> tuple[str, str]:
    """The article's head (:func:`article_head` of its main body, canonical, titled) and its
    lower-cased copy; ``text_low`` is ``text.lower()``."""
    # One lower-case copy of the text serves every pass that leaves the text as it is (most
    # articles hold no URL, no "recommended reading" list, nothing NFKC or OpenCC changes): each
    # pass returns its input itself then, and ``is`` says the copy still fits.
    low: str | None = text_low
    without_urls = remove_urls(text, low=low)
    low = low if without_urls is text else None
    kept = main_body(without_urls, low=low)
    low = low if kept is without_urls else None
    body = canonical(kept)
    if article.title and article.title.strip() not in body[: len(article.title) + 200]:
        body = canonical(article.title) + "\n" + body
    head = article_head(body)
    folded = (low if low is not None and body is kept else body.lower()) if head is body else head.lower()
    return head, folded


def _head_lowered(article: Article, text: str, text_low: str) -> tuple[str, str]:
    """:func:`_head` for a text whose lower-cased copy maps each character on its own
    (:func:`lower_maps_each_character`): the copy is cut, blanked and joined along with the text
    (URLs removed, the main body's head, the title before it) instead of lower-casing each new
    text again (0.05-0.1 ms a time on a realistic article: two or three times an article)."""
    without_urls, low = remove_urls_lowered(text, text_low)
    kept = main_body(without_urls, low=low)
    body, kept_low = _canonical_lowered(kept, low if kept is without_urls else low[:len(kept)])
    if article.title and article.title.strip() not in body[: len(article.title) + 200]:
        title = canonical(article.title)
        title_low = title.lower()
        body = title + "\n" + body
        kept_low = title_low + "\n" + kept_low if kept_low is not None and lower_maps_each_character(
            title, title_low) else None
    head = article_head(body)
    folded = head.lower() if kept_low is None else kept_low[:len(head)]
    return head, folded


def _canonical_lowered(text: str, low: str) -> tuple[str, str | None]:
    """``canonical(text)`` and its lower-cased copy when it is ``low`` (``text.lower()``, for which
    :func:`lower_maps_each_character` holds) with the same characters replaced, else None. NFKC
    (``normalize.nfkc``, step by step) changes almost every article, most often only by the
    common full-width punctuation it replaces first: a character that no other one lower-cases
    to and whose NFKC form lower-cases to itself, so the same replacements in ``low`` give the
    lower-cased copy (one ``lower()`` of the head less, 0.05 ms). OpenCC or NFKC's own pass
    (anything but those replacements) give None."""
    if unicodedata.is_normalized("NFKC", text):
        normalized: str = text
        normalized_low: str | None = low
    else:
        normalized, normalized_low = text, low
        for ch, norm in _COMMON_COMPATIBILITY.items():
            if ch in normalized:
                normalized = normalized.replace(ch, norm)
                normalized_low = normalized_low.replace(ch, norm) if normalized_low is not None else None
        if not unicodedata.is_normalized("NFKC", normalized):
            normalized, normalized_low = unicodedata.normalize("NFKC", normalized), None
    body = to_simplified(normalized)
    return body, normalized_low if body is normalized else None


def compute_signals(article: Article) -> Signals:
    """All signals of one article; depends on nothing but the article."""
    text = article.text or ""
    text_low = text.lower()
    if lower_maps_each_character(text, text_low):
        head, folded = _head_lowered(article, text, text_low)
    else:
        head, folded = _head(article, text, text_low)
    # The folded text's code points, read by the fingerprint (a long text's) and by the anchors'
    # digit scan: one encoding of the text less (0.02-0.05 ms a realistic article).
    points = code_points(folded) if len(folded) > DIGIT_RUN_REGEX_MAX else None
    simhash, content_hash, length = fingerprint_of_folded(folded, points=points)  # of fingerprint.tokens(folded)
    anchors = dict(extract_anchors(head, article.lang, low=folded, low_points=points))
    words = dict(terms(folded, article.lang))
    url_key = normalize_url(article.url) if article.url else ""  # the article's own key, which source_links needs too
    return Signals(
        simhash=simhash,  # = simhash_value(folded, prepared=True)
        content_hash=content_hash,  # xxh3-64 of the tokens joined by spaces
        anchors=anchors,
        terms=words,
        source_links=source_links(text, self_url=article.url, low=text_low, self_key=url_key),
        url_key=url_key,
        translated=says_translated(text),
        length=length,
    )


def parse_when(value: str | None) -> float | None:
    """Seconds since the epoch of an ISO-ish date; naive dates are taken as UTC."""
    if not value:
        return None
    v = value.strip().replace("Z", "+00:00")
    for candidate in (v, v.replace(" ", "T", 1)):
        try:
            dt = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    m = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})", v)
    if m:
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=timezone.utc).timestamp()
    return None
