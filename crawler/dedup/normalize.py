"""Text normalisation shared by every dedup signal: Unicode folding, Traditional->Simplified, link stripping."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# --- Traditional -> Simplified ---------------------------------------------------------
# OpenCC (pure Python) costs about 14 ms on a 3 KB article; almost every page we crawl is
# already Simplified, so a count of distinct Traditional characters decides first whether the phrase converter must run.


@lru_cache(maxsize=1)
def _opencc() -> Any:
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    import opencc

    path = Path(opencc.__file__).with_name("dictionary") / "TSCharacters.txt"
    chars = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and len(parts[0]) == 1:
                targets = parts[1].split()
                if targets and targets[0] != parts[0]:
                    chars.add(parts[0])
    return frozenset(chars)


@lru_cache(maxsize=1)
def _traditional_table() -> np.ndarray:
    """One flag per code point: a Traditional character (of :func:`_traditional_chars`)."""
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    table[[ord(ch) for ch in _traditional_chars()]] = True
    return table


@lru_cache(maxsize=1)
def _first_traditional() -> int:
    """The lowest code point of a Traditional character."""
    return min(map(ord, _traditional_chars()))


_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` (one uint32 each, read-only)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def to_simplified(text: str) -> str:
    """OpenCC ``t2s`` when the text holds Traditional characters, else the text unchanged."""
    # Count rather than test one: a Simplified page may quote a few Traditional characters
    # (names, variants); a Traditional page has them among its most common characters.
    # The distinct Traditional characters come from a flag table over the code points (numpy,
    # 0.02 ms per 10,000 characters; set(text) made a string object per character: 0.4 ms).
    cps = code_points(text)
    # Below the first Traditional character (U+346E) lies every character of an English text
    # (its highest code point is found in 6 us; the table look-up of each took 25 us).
    if not cps.size or cps.max() < _first_traditional():
        return text
    hits = np.unique(cps[_traditional_table()[cps]]).size
    if hits < 3:
        return text
    if hits >= 0.05 * len(set(_CJK_RE.findall(text))):
        return _opencc().convert(text)
    return text


#: The characters of Chinese (and some English) pages that NFKC changes, most common first,
#: with what NFKC makes of each (ASCII: starters, that no mark before them reorders). The
#: no-break space (a space to NFKC) is in most English pages that have any of these: without it
#: they took the full normalize(), 1.2 of 16 ms of a 65 KB page's signals.
_COMMON_COMPATIBILITY = {ch: unicodedata.normalize("NFKC", ch) for ch in "，：（）！；？…＞｜～\u3000\xa0＜％＃＆＋－／＝［］"}


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``; English pages are usually normalised already
    and pass the quick check without a copy.

    The common full-width punctuation is replaced first (``str.replace``, a fast scan per
    character; normalize() cost 1 ms per 10,000 Chinese characters): NFKC gives the same result
    for the text before and after (each replacement is the character's own NFKC form, so the
    compatibility decomposition NFKC composes from does not change), and the replaced text is
    usually normalised already."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    for ch, norm in _COMMON_COMPATIBILITY.items():
        if ch in text:
            text = text.replace(ch, norm)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def canonical(text: str) -> str:
    """NFKC (full-width -> ASCII) and Traditional -> Simplified; case kept (names need it)."""
    return to_simplified(nfkc(text))


def fold(text: str) -> str:
    """:func:`canonical` and lower case."""
    return canonical(text).lower()


# --- Links ---------------------------------------------------------------------------------

_MD_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL_RE = re.compile(
    r"""(?:https?|hxxps?|h\*\*ps?)(?::|\[:\])//[^\s<>"'，。）)\]]+"""
    r"""|\bwww\.[^\s<>"'，。）)\]]+""",
    re.IGNORECASE,
)
#: The TLDs that make a word a bare domain in article text (example.com, sub.example.co.uk):
#: hand-picked from what the corpus's articles name, letters only, so versions (17.4.1) and file
#: names (setup.exe) stay. Not the public suffix list: "in", "it" or "so" there would need words
#: around them to tell a domain from prose. crawler/dedup/anchors.py uses the same list.
TLDS = (
    "com", "net", "org", "info", "io", "gov", "edu", "mil", "cn", "uk", "de", "fr", "ru", "jp", "kr", "in",
    "us", "co", "me", "ly", "ai", "dev", "app", "xyz", "top", "site", "online", "news", "blog", "tech",
    "security", "cc", "tv", "eu", "nl", "be", "ch", "au", "ca", "br", "it", "es", "pl", "se", "no", "fi",
    "ir", "il", "ua", "tw", "hk", "sg", "gl", "gle", "to", "sh", "so", "biz",
)
TLD_ALTERNATION = "(?:" + "|".join(TLDS) + ")"
# A bare domain with an optional path: example.com/path, sub.example.co.uk.
_BARE_DOMAIN_RE = re.compile(
    r"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    + TLD_ALTERNATION
    + r"(?![\w-])(?:/[^\s<>\"'，。）)\]]*)?",
    re.IGNORECASE,
)

#: Short lines that only name a source (README of the corpus, and what the sites write).
SOURCE_LINE_MARKERS = (
    "原文链接", "原文地址", "原文来自", "原文出处", "本文翻译自", "翻译自", "编译自", "参考链接",
    "参考来源", "参考资料", "参考及来源", "参考文献", "文章来源", "新闻来源", "信息来源", "新闻链接",
    "来源：", "来源:", "出处：", "source:", "sources:", "via ", "via:", "reference:", "references:",
    "原文：", "原文:",
)
_SOURCE_LINE_MAX = 80  # longer lines are prose, not a source note
_URL_ONLY_RE = re.compile(r"^[\s>*\-•·\d.、()\[\]（）:：]*$")


# Cheap scans (a literal first character) that say whether the costly patterns can match:
# _BARE_DOMAIN_RE tries every word start of a text, which was half the fingerprint's time.
_TLD_HINT_RE = re.compile(r"\." + TLD_ALTERNATION + r"(?![\w-])", re.IGNORECASE)
_URL_HINT_RE = re.compile(r"//|\[:\]|www\.", re.IGNORECASE)
# Faster still: the URL hint only if one of its literals ("www." in any case) is in the text at
# all (``in`` scans: 0.01 ms on 15,000 characters, the regex 0.4 ms, and most extracted articles
# hold no URL); the TLD hint case-sensitively over the lower-cased text (a literal "." the engine
# scans for), which has the same length and the same matches unless the text holds a letter that
# IGNORECASE folds to an ASCII one and lower() does not (İ ı ſ; K lower-cases to k).
_URL_HINT_LITERALS = ("//", "[:]", "ww.", "wW.", "Ww.", "WW.")
_TLD_HINT_LOW_RE = re.compile(_TLD_HINT_RE.pattern)
_CASE_TRAPS = "\u0130\u0131\u017f"


def remove_urls(text: str, *, low: str | None = None) -> str:
    """Drop every URL and bare domain; keep the anchor text of markdown links. ``low`` is
    ``text.lower()`` if the caller has it (used while nothing was changed). The result is
    ``text`` itself (the same object) when there was nothing to remove."""
    given = text
    if "](" in text:
        # A template, not a function: no Python call per link (hundreds on a long page).
        text = _MD_IMAGE_RE.sub(r"\1", text)
        text = _MD_LINK_RE.sub(r"\1", text)
        if text is not given:
            low = None
    if any(lit in text for lit in _URL_HINT_LITERALS):
        # The lower-case copy (0.1 ms on 20,000 characters) makes the hint's lines find scans;
        # it still serves the bare domains below if no URL was removed.
        if low is None:
            low = text.lower()
        lines = _url_hint_lines(text, low) if len(low) == len(text) else None
        without = _blank_on_hinted_lines(_URL_RE, _URL_HINT_RE, text, lines=lines)
        if without is not text:
            text, low = without, None
    if any(ch in text for ch in _CASE_TRAPS):
        return _blank_on_hinted_lines(_BARE_DOMAIN_RE, _TLD_HINT_RE, text)
    if low is None:
        low = text.lower()
    return _blank_on_hinted_lines(_BARE_DOMAIN_RE, _TLD_HINT_LOW_RE, text, low)


def lower_maps_each_character(text: str, low: str) -> bool:
    """Whether ``low`` (``text.lower()``) maps each character of ``text`` on its own to one
    character: then the lower-cased copy of any cut, join or blanking of ``text`` is the same cut,
    join or blanking of ``low``. ``str.lower`` maps each character by itself but the capital sigma
    (final or not by its neighbours), and to one character each when it keeps the length (no
    character lower-cases to none; İ to two)."""
    return len(low) == len(text) and "\u03a3" not in text


def remove_urls_lowered(text: str, low: str) -> tuple[str, str]:
    """``remove_urls(text)`` and its lower-cased copy, the same blanking of ``low`` (``text.lower()``,
    for which :func:`lower_maps_each_character` holds): a second ``lower()`` of a text with a URL
    took 0.05-0.1 ms of a realistic article's signals."""
    if "](" in text:  # markdown links keep their anchor text: not a blanking
        without = remove_urls(text, low=low)
        return without, low if without is text else without.lower()
    if any(lit in text for lit in _URL_HINT_LITERALS):
        spans = _spans_on_lines(_URL_RE, text, _url_hint_lines(text, low))
        text, low = blank(text, spans), blank(low, spans)
    if any(ch in text for ch in _CASE_TRAPS):
        lines = list(hinted_lines(_TLD_HINT_RE, text))
    else:
        lines = list(hinted_lines(_TLD_HINT_LOW_RE, low))
    spans = _spans_on_lines(_BARE_DOMAIN_RE, text, lines)
    return blank(text, spans), blank(low, spans)


def _spans_on_lines(pattern: re.Pattern[str], text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans of ``pattern``'s matches on each of the (sorted, disjoint) ``lines`` of ``text``:
    the matches :func:`_blank_on_hinted_lines` replaces."""
    return [m.span() for line_start, line_end in lines for m in pattern.finditer(text, line_start, line_end)]


def blank(text: str, spans: list[tuple[int, int]], *, keep_length: bool = False) -> str:
    """``text`` with each of the (sorted, disjoint) spans replaced by one space, as ``sub(" ", ...)``,
    or with ``keep_length`` by as many spaces as it is long (the positions of the text kept);
    ``text`` itself if there are none."""
    if not spans:
        return text
    parts: list[str] = []
    done = 0
    for start, end in spans:
        parts.append(text[done:start])
        parts.append(" " * (end - start) if keep_length else " ")
        done = end
    parts.append(text[done:])
    return "".join(parts)


def hinted_lines(hint: re.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of ``text`` (split on "\\n", the break excluded) where ``hint``
    occurs, in order, each once. ``pattern.finditer(text, start, end)`` over these lines finds
    every match of a pattern whose matches never span a line break and always hold a match of
    the hint: the look-behinds see the characters before ``start``, and ``end`` is a line break.

    The hint (whose matches never hold a line break either) is searched for again from the end
    of each hinted line, not followed through every match: a 250 KB page has thousands of ".com"
    and ".1" in a few hundred lines."""
    h = hint.search(text)
    while h is not None:
        line_start = text.rfind("\n", 0, h.start()) + 1
        line_end = text.find("\n", h.end())
        if line_end < 0:
            yield line_start, len(text)
            return
        yield line_start, line_end
        h = hint.search(text, line_end + 1)


def _url_hint_lines(text: str, low: str) -> list[tuple[int, int]]:
    """``list(hinted_lines(_URL_HINT_RE, text))`` by ``find`` scans: "//" and "[:]" in the text,
    "www." (in any case) in its lower-case copy ``low``, of the same length, so of the same
    positions. The case-insensitive pattern tests every character of the text (0.6 ms on a
    65 KB page with links, 2.6 ms on 250 KB); a literal's ``find`` skips to its first character."""
    lines = set()
    for literal, where in (("//", text), ("[:]", text), ("www.", low)):
        at = where.find(literal)
        while at >= 0:
            end = text.find("\n", at + len(literal))
            if end < 0:
                end = len(text)
            lines.add((text.rfind("\n", 0, at) + 1, end))
            at = where.find(literal, end + 1)
    return sorted(lines)


def _blank_on_hinted_lines(pattern: re.Pattern[str], hint: re.Pattern[str], text: str, hint_text: str | None = None,
                           *, lines: list[tuple[int, int]] | None = None) -> str:
    """``pattern.sub(" ", text)``, with ``pattern`` run only on the lines where ``hint`` occurs
    (in ``hint_text``, of the same length and lines as ``text``, if given; ``lines``, if given,
    are those lines, as :func:`hinted_lines` gives them).

    Exact for the URL and bare-domain patterns: each of their matches holds a match of its hint
    and none spans a line break (no whitespace inside). A case-insensitive pattern with a
    leading look-behind tries every position of a text: on a 250 KB page each ``sub`` took
    11-13 ms, most of it on lines that cannot hold a match."""
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    if lines is None:
        lines = list(hinted_lines(hint, text if hint_text is None else hint_text))
    for line_start, line_end in lines:
        for m in pattern.finditer(text, line_start, line_end):
            parts.append(text[done:m.start()])
            parts.append(" ")
            done = m.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _is_source_line(line: str) -> bool:
    stripped = line.strip().strip("*#>-_ ").lower()
    if not stripped or len(stripped) > _SOURCE_LINE_MAX + 200:
        return False
    head = stripped[:_SOURCE_LINE_MAX]
    for marker in SOURCE_LINE_MARKERS:
        idx = head.find(marker)
        if idx != -1 and idx <= 12:
            # The marker leads the line (after a list number or bullet) ...
            rest = remove_urls(stripped[idx + len(marker):]).strip(" :：-—>*")
            # ... and what follows it, once URLs are gone, is short: a name, not a sentence.
            return len(rest) <= _SOURCE_LINE_MAX
    return False


def _is_url_only(line: str) -> bool:
    if not line.strip():
        return False
    return bool(_URL_ONLY_RE.match(remove_urls(line)))


def strip_links(text: str) -> str:
    """Content only, as the corpus README defines it.

    Removes every URL (http(s), hxxp, www., bare ``domain.tld/path``), keeps only the anchor
    text of markdown links, and drops the short lines that name a source (原文链接, 本文翻译自,
    参考链接, Source:, via ...) together with up to three following lines that hold only a
    URL or domain. Prose such as "据BleepingComputer报道" stays: it is content.
    """
    lines = text.split("\n")
    keep: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_source_line(line):
            i += 1
            skipped = 0
            while i < len(lines) and skipped < 3:
                if not lines[i].strip():
                    i += 1
                    continue
                if _is_url_only(lines[i]):
                    i += 1
                    skipped += 1
                    continue
                break
            continue
        keep.append(remove_urls(line))
        i += 1
    return "\n".join(keep)
