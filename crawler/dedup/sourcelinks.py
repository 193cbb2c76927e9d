"""Source links an article names for itself (本文翻译自, 原文链接, Source: ...) and URL normalisation."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crawler.dedup.normalize import SOURCE_LINE_MARKERS
from crawler.urls import TRACKING_PARAMS, TRACKING_PREFIXES

#: Markers that say "this article is a translation of" rather than "see also".
TRANSLATION_MARKERS = ("本文翻译自", "翻译自", "编译自", "译自", "原文链接", "原文地址", "原文来自", "原文出处", "原文：", "原文:")

_URL_RE = re.compile(r"""(?:https?|hxxps?)(?::|\[:\])//[^\s<>"'，。）)\]\[]+""", re.IGNORECASE)
_WWW_RE = re.compile(r"""(?<![/\w.])www\.[^\s<>"'，。）)\]\[]+""", re.IGNORECASE)

# Query parameters that never change what a cited page is: the crawl's click trackers
# (crawler/urls.py), plus what only comparing links can afford to drop (a crawl must not
# guess that ``from`` or ``source`` mean nothing on every site).
_CITATION_ONLY_PARAMS = ("ref", "source", "from", "wx_fmt", "scene", "srcid", "web_view", "amp",
                         "_hsenc", "_hsmi", "igshid", "cmpid", "ncid", "sr_share")
_CITATION_ONLY_PREFIXES = ("sharer_", "share_")
_TRACKING_PARAMS = re.compile(
    "^(?:"
    + "|".join([*(re.escape(p) for p in TRACKING_PARAMS + _CITATION_ONLY_PARAMS),
                *(re.escape(p) + r"\w+" for p in TRACKING_PREFIXES + _CITATION_ONLY_PREFIXES)])
    + ")$",
    re.IGNORECASE,
)


def normalize_url(url: str) -> str:
    """One spelling per page: lower-case host without ``www.``, no scheme, no fragment,
    no trailing slash, no tracking parameters, ``hxxp`` defanging undone.

    >>> normalize_url("https://www.BleepingComputer.com/news/x/?utm_source=rss#top")
    'bleepingcomputer.com/news/x'
    """
    url = url.strip().strip(".,;:!?)>]}\"'，。")
    url = re.sub(r"^hxxp", "http", url, flags=re.IGNORECASE).replace("[:]", ":").replace("[.]", ".")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if host.startswith("m.") and host.count(".") >= 2:
        host = host[2:]
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "")
    path = path.rstrip("/")
    if path.endswith(("/index.html", "/index.htm", "/index.php")):
        path = path.rsplit("/", 1)[0]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    query.sort()
    return urlunsplit(("", host, path, urlencode(query), "")).lstrip("/")


_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def find_urls(text: str) -> list[str]:
    """URLs in a line, images (``![](...)``) excluded: an image is never a source."""
    text = _MD_IMAGE_RE.sub(" ", text)
    return [m.group(0) for m in _URL_RE.finditer(text)] + [m.group(0) for m in _WWW_RE.finditer(text)]


#: Lines that are nothing but a heading over a list of references ("**参考**", "网址").
_HEADING_MARKERS = frozenset((
    "参考", "参考文章", "参考原文", "消息来源", "网址", "链接", "来源", "出处", "原文",
    "reference", "references", "source", "sources",
))
#: Hosts whose pages are never an article's source: the publishing platform's own plumbing
#: (images, "recommended reading" links to other posts of the account).
_PLATFORM_HOSTS = ("mp.weixin.qq.com", "weixin.qq.com", "mmbiz.qpic.cn", "qpic.cn")
#: More bare URL lines than this and they are a list of indicators or links, not sources.
MAX_BARE_SOURCES = 12
_LATIN_TITLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_'’‘:,.&()!?%$\-–— /\"“”]+$")


# One scan of the whole text finds the few lines that can hold a marker or a URL; the
# per-line tests (``_marker_in``, ``find_urls``) run only on those (a 65 KB article has 600
# lines and a handful of hits). Each hint is a substring every hit needs, so skipping the other
# lines changes nothing. Markers are looked for in the lower-cased text, as ``_marker_in`` does:
# with a case-insensitive pattern the scan cost 3 ms on 65 KB, lower() and a plain one 0.4 ms.
_MARKER_WORDS = {m.strip() for m in (*SOURCE_LINE_MARKERS, *TRANSLATION_MARKERS, *_HEADING_MARKERS)}
_MARKER_HINT_RE = re.compile("|".join(sorted(
    {re.escape(m) for m in _MARKER_WORDS if not m.isascii()} | {"source", "via", "reference"}, key=len, reverse=True)))
_URL_HINT_RE = re.compile(r"//|[wW][wW][wW]\.")  # "www." in any case, without IGNORECASE's slow scan
#: Whether the hint may occur at all, as ``in`` scans: the literals grouped by their first
#: character, which is looked for first (a one-character ``in`` is a memchr-like scan, 1 us on
#: 15,000 characters; a CJK word in a text of Latin script took 13 us, and each regex scan above
#: 0.2-0.3 ms). Most articles hold no URL and no marker: then the regex never runs.
_URL_HINT_LITERALS = ("//", "ww.", "wW.", "Ww.", "WW.")
_MARKER_HINT_LITERALS = tuple(sorted(
    {m for m in _MARKER_WORDS if not m.isascii()} | {"source", "via", "reference"}))


def by_first_character(literals: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for lit in literals:
        out[lit[0]] = (*out.get(lit[0], ()), lit)
    return out


_URL_HINT_FIRSTS = by_first_character(_URL_HINT_LITERALS)
_MARKER_HINT_FIRSTS = by_first_character(_MARKER_HINT_LITERALS)


def holds_any(text: str, firsts: dict[str, tuple[str, ...]]) -> bool:
    """Whether ``text`` holds one of the literals of ``firsts`` (by :func:`by_first_character`)."""
    return any(first in text and any(lit in text for lit in lits) for first, lits in firsts.items())


def _hinted_lines(text: str, pattern: re.Pattern[str], firsts: dict[str, tuple[str, ...]] | None = None) -> set[int]:
    """Numbers of the lines of ``text`` (split on "\\n") where ``pattern`` occurs; ``firsts``, if
    given, holds (by :func:`by_first_character`) strings one of which every match of ``pattern`` holds."""
    out: set[int] = set()
    if firsts is not None and not holds_any(text, firsts):
        return out
    # Searched for again from the end of each hinted line (the hints never hold a line break):
    # "source" and "//" occur dozens of times in some lines of a long page.
    pos, line = 0, 0
    m = pattern.search(text)
    while m is not None:
        line += text.count("\n", pos, m.start())
        out.add(line)
        pos = text.find("\n", m.end())
        if pos < 0:
            break
        m = pattern.search(text, pos)
    return out


def _lines_holding(text: str, literal: str, out: set[int]) -> None:
    """Add to ``out`` the numbers of the lines of ``text`` (split on "\\n") that hold ``literal``
    (which holds no line break): ``find`` scans, from each line found to the next."""
    at = text.find(literal)
    line, counted = 0, 0
    while at >= 0:
        line += text.count("\n", counted, at)
        counted = at
        out.add(line)
        end = text.find("\n", at + len(literal))
        if end < 0:
            return
        at = text.find(literal, end)


def _url_lines(text: str, low: str | None) -> set[int]:
    """The lines where ``_URL_HINT_RE`` occurs. With the lower-case copy (of the same length, so
    of the same lines), "www." in any case is "www." there, and both literals are ``find`` scans
    (a memchr-like first character), where the pattern's first characters ("/", "w", "W") start
    a match attempt at every "w" of an English text."""
    if low is None or len(low) != len(text):
        return _hinted_lines(text, _URL_HINT_RE, _URL_HINT_FIRSTS)
    out: set[int] = set()
    _lines_holding(text, "//", out)
    _lines_holding(low, "www.", out)
    return out


_MARKER_ASCII_LITERALS = tuple(m for m in _MARKER_HINT_LITERALS if m.isascii())
_MARKER_CJK_FIRSTS = tuple(first for first in _MARKER_HINT_FIRSTS if not first.isascii())


def _marker_lines(text: str, n_lines: int, low: str | None = None) -> list[int]:
    """The lines where :func:`_marker_in` may find a marker, in order (``low``: ``text.lower()``)."""
    if low is None:
        low = text.lower()
    if len(low) != len(text):  # "İ" lower-cases to two characters: positions would shift
        return list(range(n_lines))
    if any(first in low for first in _MARKER_CJK_FIRSTS):
        return sorted(_hinted_lines(low, _MARKER_HINT_RE, _MARKER_HINT_FIRSTS))
    # No Chinese marker can occur: the lines of the English ones by find scans. The pattern's
    # alternation is tried at each "s", "v" and "r" (0.69 ms on a 65 KB English page, the scans
    # 0.2 ms); in a Chinese text, which holds many of the markers' first characters, one scan of
    # the pattern is cheaper than a scan per marker.
    out: set[int] = set()
    for literal in _MARKER_ASCII_LITERALS:
        _lines_holding(low, literal, out)
    return sorted(out)


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


def _latin_title(line: str) -> bool:
    """A line that reads like an English headline: four words or more, Latin script only."""
    t = line.strip().strip("*#>_ ")
    return 15 <= len(t) <= 200 and len(t.split()) >= 4 and bool(_LATIN_TITLE_RE.match(t))


def source_links(text: str, *, self_url: str | None = None, low: str | None = None,
                 self_key: str | None = None) -> list[dict[str, str]]:
    """The links an article gives as its source, each ``{"url": normalised, "kind": ...}``.

    ``low`` is ``text.lower()`` and ``self_key`` ``normalize_url(self_url)`` if the caller has them.
    ``kind`` is ``"translated_from"`` after a translation marker (本文翻译自, 原文链接, 编译自)
    and ``"cites"`` after a reference marker (参考链接, 来源, Source:, via). A marker line
    may hold the URL itself or be followed by up to three lines of URLs (a list of references).
    Markdown links ``[text](url)`` count as URLs. The article's own URL is never its source.

    Without a marker, a line that holds nothing but an external URL cites it, and is taken as
    the original (``translated_from``) when the line before it is an English headline: the way
    FreeBuf and others end a translation. Links to the publishing platform itself (WeChat posts
    and images) are never sources.
    """
    own = self_key if self_key is not None and self_url else normalize_url(self_url) if self_url else None
    found: dict[str, str] = {}
    lines = text.split("\n")
    claimed = _marked_links(text, lines, found, own, low)
    bare = _bare_links(text, lines, claimed, low)
    # Dozens of bare URL lines are data (indicators, a link dump), not where the article
    # comes from: then only a URL under an English headline counts.
    many = len(bare) > MAX_BARE_SOURCES
    for url, after_headline in bare:
        if after_headline or not many:
            _note(found, url, "translated_from" if after_headline else "cites", own)
    return [{"url": u, "kind": k} for u, k in found.items()]


def _marked_links(text: str, lines: list[str], found: dict[str, str], own: str | None, low: str | None) -> set[int]:
    """Note the URLs of each marker line and of the list that follows it; returns the lines used."""
    claimed: set[int] = set()
    for i in _marker_lines(text, len(lines), low):
        line = lines[i]
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
    return claimed


def _bare_links(text: str, lines: list[str], claimed: set[int], low: str | None = None) -> list[tuple[str, bool]]:
    """Lines outside the marked ones that hold nothing but a URL: (url, after an English headline).
    Only the lines with a URL are visited, each with the non-blank line before it."""
    bare: list[tuple[str, bool]] = []
    for i in sorted(_url_lines(text, low) - claimed):
        line = lines[i]
        if not line.strip():
            continue
        url = _bare_url(line)
        if url is not None:
            before = i - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            bare.append((url, _latin_title(lines[before]) if before >= 0 else False))
    return bare


@lru_cache(maxsize=4096)
def _cited_key(url: str) -> str:
    """:func:`normalize_url` of a cited URL, remembered: articles cite the same sources (387
    distinct URLs in 1,769 citations of 2,000 realistic articles; 12 us each)."""
    return normalize_url(url)


def _note(found: dict[str, str], url: str, kind: str, own: str | None) -> None:
    try:
        n = _cited_key(url)
    except ValueError:
        return
    host = n.split("/", 1)[0]
    if not n or n == own or "." not in host or n == host:
        return  # a site's home page is not an article, so not a source
    if any(host == p or host.endswith("." + p) for p in _PLATFORM_HOSTS) and kind != "translated_from":
        return
    if found.get(n) != "translated_from":
        found[n] = kind
