"""Frozen copy of ``crawler.dedup.sourcelinks.source_links`` before its speed rewrite (main at 0b8a06e)."""

from __future__ import annotations

import re

from crawler.dedup.normalize import SOURCE_LINE_MARKERS
from crawler.dedup.sourcelinks import (  # noqa: F401
    _HEADING_MARKERS,
    MAX_BARE_SOURCES,
    TRANSLATION_MARKERS,
    _latin_title,
    _note,
    find_urls,
    normalize_url,
)


def _marker_in(line: str) -> str | None:
    low = line.strip().strip("*#>-_ ").lower()[:60]
    for marker in SOURCE_LINE_MARKERS + TRANSLATION_MARKERS:
        idx = low.find(marker)
        if idx != -1 and idx <= 12:
            return marker
    heading = low.strip(" :：*")
    if heading in _HEADING_MARKERS:
        return "原文：" if heading == "原文" else "参考"  # "原文" heads the original; the rest, references
    return None


def _bare_url(line: str) -> str | None:
    """The URL of a line that holds one URL and nothing else (``> https://…``, ``[1]https://…``)."""
    urls = find_urls(line)
    if len(urls) != 1:
        return None
    rest = line.replace(urls[0], " ")
    rest = re.sub(r"^[\s>*\-•·]*(\[\d{1,2}\]|\d{1,2}[.、)])?", "", rest)
    return urls[0] if not rest.strip(" \t\xa0>*-•·") else None


def source_links(text: str, *, self_url: str | None = None) -> list[dict[str, str]]:
    """The links an article gives as its source, each ``{"url": normalised, "kind": ...}``.

    ``kind`` is ``"translated_from"`` after a translation marker (本文翻译自, 原文链接, 编译自)
    and ``"cites"`` after a reference marker (参考链接, 来源, Source:, via). A marker line
    may hold the URL itself or be followed by up to three lines of URLs (a list of references).
    Markdown links ``[text](url)`` count as URLs. The article's own URL is never its source.

    Without a marker, a line that holds nothing but an external URL cites it, and is taken as
    the original (``translated_from``) when the line before it is an English headline: the way
    FreeBuf and others end a translation. Links to the publishing platform itself (WeChat posts
    and images) are never sources.
    """
    own = normalize_url(self_url) if self_url else None
    found: dict[str, str] = {}
    lines = text.split("\n")
    claimed: set[int] = set()
    for i, line in enumerate(lines):
        marker = _marker_in(line)
        if marker is None:
            continue
        kind = "translated_from" if marker in TRANSLATION_MARKERS else "cites"
        urls = find_urls(line)
        j, taken = i + 1, 0
        # A heading line ("参考链接：") is followed by its list: up to three lines of URLs.
        while j < len(lines) and taken < 3:
            nxt = lines[j]
            j += 1
            if not nxt.strip():
                continue
            more = find_urls(nxt)
            if not more or _marker_in(nxt):
                break
            urls.extend(more)
            claimed.add(j - 1)
            taken += 1
        claimed.add(i)
        for u in urls:
            _note(found, u, kind, own)
    bare: list[tuple[str, bool]] = []  # (url, after an English headline)
    previous = ""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if i not in claimed:
            url = _bare_url(line)
            if url is not None:
                bare.append((url, _latin_title(previous)))
        previous = line
    # Dozens of bare URL lines are data (indicators, a link dump), not where the article
    # comes from: then only a URL under an English headline counts.
    many = len(bare) > MAX_BARE_SOURCES
    for url, after_headline in bare:
        if after_headline or not many:
            _note(found, url, "translated_from" if after_headline else "cites", own)
    return [{"url": u, "kind": k} for u, k in found.items()]


