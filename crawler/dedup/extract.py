"""Main text and metadata of an HTML page with trafilatura (markdown, links kept for source detection)."""

from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass
from functools import cache
from itertools import chain, compress
from typing import TYPE_CHECKING

from crawler.dedup.features import ARTICLE_TEXT_MAX, article_head
from crawler.dedup.main_text import main_text
from crawler.dedup.normalize import SOURCE_LINE_MARKERS
from crawler.dedup.sourcelinks import TRANSLATION_MARKERS

if TYPE_CHECKING:
    from collections.abc import Callable

    from lxml.html import HtmlElement, HTMLParser
    from trafilatura.settings import Extractor


class ExtractionError(Exception):
    """trafilatura found no main text (the caller counts it)."""


@dataclass
class Extracted:
    text: str  # markdown; source lines ("本文翻译自：url") appended when trafilatura dropped them
    title: str
    published: str | None  # ISO 8601 with the time when the page's tags give it, else YYYY-MM-DD
    author: str | None
    lang: str | None  # from the page, if it says
    detected_lang: str | None = None  # from the text (share of CJK characters)


_BLOCKS = frozenset(("p", "div", "li", "section", "span", "td", "blockquote", "footer", "small", "em", "strong"))
_URL_RE = re.compile(r"https?://\S+")
_MARKERS = tuple(dict.fromkeys(m.strip() for m in SOURCE_LINE_MARKERS + TRANSLATION_MARKERS))
# The test for a text node holding a marker: Python's case-insensitive regex. Pages without one
# of the letters IGNORECASE folds to an ASCII one that ``lower()`` does not map to it (İ ı ſ K)
# get the same answer faster from substring tests on the ASCII-lower-cased UTF-8 page text, then
# the markers' positions in the text nodes joined (``_holding``).
_MARKER_RE = re.compile("|".join(re.escape(m) for m in _MARKERS), re.IGNORECASE)
_CASE_TRAPS = "\u0130\u0131\u017f\u212a"
_MARKERS_UTF8 = tuple((m, m.encode()) for m in dict.fromkeys(m.lower() for m in _MARKERS))
# Substrings shared by several markers: the markers holding a key are looked for only where
# the key is, in the ASCII-lower-cased UTF-8 text (28 scans of an 80 KB page were 2 ms, 1 ms
# in the page's str). A key with no ASCII letter is first looked for in the str one character
# at a time (the same answer: lower-casing changes only ASCII letters): Python finds a single
# character with memchr on its low byte, so one whose low byte is not ASCII is absent from a
# page of Latin text after a few microseconds.
_MARKER_KEYS = ("原文", "参考", "来源", "译自", "出处", "链接", "via", "source", "reference")


@dataclass(frozen=True)
class _MarkerGroup:
    key: bytes
    chars: str  # the key's characters to find in the page's str first ("" when it holds an ASCII letter)
    members: tuple[tuple[int, bytes, int], ...]  # (index in _MARKERS_UTF8, marker, the key's offset in it)


def _marker_groups() -> tuple[_MarkerGroup, ...]:
    """A group for each key, and one for each marker holding no key (its own key)."""
    groups: dict[str, list[tuple[int, bytes, int]]] = {}
    for i, (m, encoded) in enumerate(_MARKERS_UTF8):
        key = next((k for k in _MARKER_KEYS if k in m), m)
        groups.setdefault(key, []).append((i, encoded, encoded.index(key.encode())))
    out = []
    for key, members in groups.items():
        chars = "" if any(c.isascii() and c.isalpha() for c in key) else \
            "".join(sorted(key, key=lambda c: (ord(c) & 0xFF) < 0x80))
        out.append(_MarkerGroup(key.encode(), chars, tuple(members)))
    return tuple(out)


_MARKER_GROUPS = _marker_groups()


def _markers_present(page_text: str, low: bytes) -> tuple[str, ...]:
    """The markers (lower-case, in _MARKERS_UTF8's order) that ``low``, the ASCII-lower-cased
    UTF-8 of ``page_text``, holds."""
    found: set[int] = set()
    for group in _MARKER_GROUPS:
        if group.chars and not all(c in page_text for c in group.chars):
            continue
        at = low.find(group.key)
        while at >= 0:
            found.update(i for i, m, offset in group.members if at >= offset and low.startswith(m, at - offset))
            at = low.find(group.key, at + 1)
    return tuple(_MARKERS_UTF8[i][0] for i in sorted(found))


@cache
def _extractor_options() -> Extractor:
    """trafilatura's options for every page, built once (building them reads its config: a
    few hundred microseconds a page); each call gets a copy with its own URL."""
    from trafilatura.settings import Extractor

    return Extractor(output_format="markdown", fast=True, comments=False, links=True, images=False, tables=True,
                     dedup=False)


@cache
def _html_parser() -> HTMLParser:
    """lxml.html's parser with every element an ``HtmlElement``, its class chosen in C. lxml.html's
    own lookup is a Python method run each time an element gets a Python object (every element
    trafilatura and these functions touch: a tenth of extraction's time); the special classes it
    picks (forms, inputs, labels) add methods nothing here calls."""
    import lxml.html
    from lxml.etree import ElementDefaultClassLookup

    parser = lxml.html.HTMLParser()
    parser.set_element_class_lookup(ElementDefaultClassLookup(
        element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity))
    return parser


# Runs of CJK characters (counted by their lengths: one match per run, not per character) and
# the ASCII letters (which UTF-8 writes as themselves, so counted by deleting them from the bytes).
_CJK_RUN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_LATIN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


#: The head of a text that :func:`detect_lang` reads.
_LANG_SAMPLE = 4000


def detect_lang(text: str) -> str | None:
    """``zh`` when CJK characters are at least a fifth of the letters, ``en`` when Latin
    letters dominate, None for too little text. A Chinese article quotes many Latin names
    (CVE ids, products) but its prose is CJK; an English one holds almost no CJK."""
    sample = text[:_LANG_SAMPLE]
    cjk = sum(map(len, _CJK_RUN_RE.findall(sample)))
    encoded = sample.encode("utf-8", "surrogatepass")
    latin = len(encoded) - len(encoded.translate(None, _LATIN))
    if cjk + latin < 20:
        return None
    # A CJK character carries about a word; Latin letters about a fifth of one.
    return "zh" if cjk >= 0.2 * (cjk + latin / 5) else "en"


def _holding(nodes: list, text: str, low: bytes, markers: tuple[str, ...]) -> list | None:
    """The ``nodes`` (text nodes; ``text`` is their text joined) that hold one of ``markers``
    (lower-case; ASCII letters compared case-insensitively), in order. ``low``: the
    ASCII-lower-cased UTF-8 of ``text`` if the caller has it. None if lower-casing the ASCII
    letters moved a character (not reached: lxml's text is valid UTF-8)."""
    from bisect import bisect_right
    from itertools import accumulate

    if any(c.isascii() and c.isalpha() for m in markers for c in m):
        lowered = (low or text.encode("utf-8", "replace").lower()).decode("utf-8", "replace")
        if len(lowered) != len(text):
            return None
        text = lowered
    ends = list(accumulate(map(len, nodes)))
    hits: set[int] = set()
    for m in markers:
        at = text.find(m)
        while at >= 0:
            i = bisect_right(ends, at)
            if at + len(m) <= ends[i]:
                hits.add(i)
            at = text.find(m, at + 1)
    return [nodes[i] for i in sorted(hits)]


#: The page text (in document order; scripts and styles left out) that the date search and
#: trafilatura read: room for an article's head (``ARTICLE_TEXT_MAX``) and for what comes before
#: it on a page (navigation, breadcrumb, headline, byline: at most 1,500 characters on the bench's
#: realistic templates; none of their pages has more text than this). The rest of a longer page
#: is cut from the tree before they run, so their work is bounded as the text kept is:
#: trafilatura's cost grows with the tree it cleans and converts. Extraction p50 on the pages of
#: ``bench/dedup_speed.py``: 250 KB 63 -> 14 CPU-ms, 65 KB 14 -> 11 (30 KB, under the bound: 7.5);
#: the stress pages of ``bench/site.py`` 13 -> 7.
#: A page whose navigation is longer keeps less of its article (never nothing: the bound is
#: counted from the body's start). Source lines are looked for on the whole page, before the cut:
#: a translation names its original at its end as often as at its start, and a link-based flag
#: is the one an editor can check. It costs a scan of the page's text (about 1 CPU-ms at 80 KB;
#: 7 of 21 on the 250 KB pages of ``bench/dedup_speed.py``, which hold a source line every few
#: thousand characters), and what it adds is bounded by ``SOURCE_LINES_MAX``.
TREE_TEXT_MAX = ARTICLE_TEXT_MAX + 5_000
#: Characters of source lines added after the article's head (each line is a block of at most 300
#: characters): a page of thousands of "Source:" blocks adds its first few, not all of them.
SOURCE_LINES_MAX = 2_000
# Elements whose text is no page text (trafilatura drops them).
_NO_TEXT = frozenset(("script", "style", "noscript", "template"))


def _bound_tree(tree: HtmlElement, limit: int) -> bool:
    """Cut ``tree`` after the first ``limit`` characters of its body's text: the text node that
    passes it is shortened, the elements after it (their tails, later siblings, ancestors'
    later siblings and tails) removed. Whitespace-only nodes (indentation) do not count; the
    walk stops at the cut, so its cost is bounded too. True when something was cut."""
    from lxml.etree import iterwalk

    body = tree.find("body")
    root = tree if body is None else body
    if len(root.text_content()) <= limit:  # all of its text, scripts and whitespace too: most pages
        return False
    budget = limit
    cut = None
    walker = iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        if event == "end":
            if el is root:
                break
            attr = "tail"
        elif budget <= 0:
            cut = el
            break
        elif event == "start":
            if el.tag in _NO_TEXT:
                continue
            attr = "text"
        else:  # a comment or processing instruction: its text is none of the page's, its tail is
            attr = "tail"
        value = getattr(el, attr)
        if not value:
            continue
        if budget <= 0:  # the text after the cut, whitespace too
            setattr(el, attr, None)
        elif not value.isspace():
            if len(value) > budget:
                setattr(el, attr, value[:budget])
            budget -= len(value)
    if cut is None:
        return budget < 0
    node = cut
    parent = node.getparent()
    del parent[parent.index(node):]  # the element, its later siblings and their tails
    while parent is not root:
        node, parent = parent, parent.getparent()
        node.tail = None
        del parent[parent.index(node) + 1:]
    return True


#: A block longer than this (its text with white space collapsed) is no source line.
_SOURCE_BLOCK_MAX = 300
#: Text nodes longer than this are tested for more than ``_SOURCE_BLOCK_MAX`` characters that are
#: not white space (in their first this many characters).
_LONG_NODE = 1000


@cache
def _text_nodes() -> Callable[[HtmlElement], list]:
    """The document's text nodes in order, each knowing its element (``getparent``, ``is_text``)."""
    from lxml.etree import XPath

    return XPath("//text()")


def _source_lines(tree: HtmlElement) -> list[str]:
    """``marker：url`` for each short block that names a source. trafilatura drops link-dense
    paragraphs as boilerplate, and a source line is exactly that.

    Markers are looked for in the text nodes but those that no block of a source line can hold:
    the text of an element with more than ``_SOURCE_BLOCK_MAX`` characters besides white space
    (inline scripts and styles: three quarters of a realistic page's text, which every marker
    scan read). Every block holding such a node holds its text, so it is longer than a source
    line: the walk up from that node would stop at its first unseen block, having read no line;
    that block and the blocks above it, all as long, give no line to any other walk either, seen
    or not. A node that is an element's tail stays: the element it hangs on does not hold it."""
    out: list[str] = []
    seen: set[HtmlElement] = set()
    for node in _marker_nodes(_block_text_nodes(tree)):
        el = node.getparent()
        while el is not None:
            if el.tag in _BLOCKS and el not in seen:
                seen.add(el)
                text = " ".join(el.text_content().split())
                if len(text) > _SOURCE_BLOCK_MAX:
                    break  # outer blocks only grow
                if text:
                    _source_line(el, text, out)
            el = el.getparent()
    return out


def _block_text_nodes(tree: HtmlElement) -> list:
    """The text nodes of ``tree`` in order but an element's text of more than ``_SOURCE_BLOCK_MAX``
    characters besides white space (:func:`_source_lines`). The long nodes are picked out in C
    (``compress``), then tested: a page has a few hundred nodes and two or three long ones."""
    nodes = _text_nodes()(tree)
    long_nodes = compress(range(len(nodes)), map(_LONG_NODE.__lt__, map(len, nodes)))
    dropped = [i for i in long_nodes if nodes[i].is_text
               and len("".join(nodes[i][:_LONG_NODE].split())) > _SOURCE_BLOCK_MAX]
    if not dropped:
        return nodes
    kept: list = []
    start = 0
    for i in dropped:
        kept += nodes[start:i]
        start = i + 1
    kept += nodes[start:]
    return kept


def _marker_nodes(nodes: list) -> list:
    """The text ``nodes`` that ``_MARKER_RE`` finds a marker in, in order. Only a node holding one
    of the letters IGNORECASE folds to an ASCII one that ``lower()`` does not (İ ı ſ K) needs the
    regex; in the others, substring tests on the UTF-8 bytes with ASCII lower-cased give the same
    answer (an alternation of 28 words took 1.5 ms over an 83 KB page, str.lower of a page with
    Chinese in it 0.6 ms; these take a tenth of that), and a marker the joined text lacks is in
    no node (most English pages hold none)."""
    text = "".join(nodes)
    if any(c in text for c in _CASE_TRAPS):
        return [node for node in nodes if _MARKER_RE.search(node)]
    low = text.encode("utf-8", "replace").lower()
    present = _markers_present(text, low)
    if not present:
        return []
    found = _holding(nodes, text, low, present)
    return [node for node in nodes if _MARKER_RE.search(node)] if found is None else found


def _source_line(el: HtmlElement, text: str, out: list[str]) -> None:
    low = text.lower()
    if not any(0 <= low.find(m) <= 12 for m in _MARKERS):
        return
    urls = [a.get("href") for a in el.iter("a") if a.get("href", "").startswith(("http://", "https://"))]
    urls += _URL_RE.findall(text)
    if urls:
        label = text.split("http")[0].strip() or text[:20]
        line = f"{label} {' '.join(dict.fromkeys(urls))}"
        if line not in out:
            out.append(line)


# The date's tags, in the order they are trusted: (attribute, the values it may have), then
# ``<time datetime>``.
_DATE_METAS = (
    ("property", ("article:published_time",)),
    ("name", ("article:published_time",)),
    ("itemprop", ("datePublished",)),
    ("name", ("pubdate", "publishdate", "date", "DC.date.issued")),
)
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?")


def _metas(tree: HtmlElement) -> list[HtmlElement]:
    """The document's ``meta`` elements in document order (what ``//meta`` finds): one walk of
    the tree for all the tags read here, where each XPath walked it again."""
    return list(tree.getroottree().getroot().iter("meta"))


def _meta_contents(metas: list[HtmlElement], attribute: str, values: tuple[str, ...]) -> list[str]:
    """``//meta[@attribute=value...]/@content`` over ``metas``."""
    return [content for m in metas if m.get(attribute) in values and (content := m.get("content")) is not None]


def _published(tree: HtmlElement, url: str | None) -> str | None:
    """The publication date: the page's own metadata (meta tags, ``<time>``) first, with its
    time of day and offset when the tag has them (``2024-03-02T09:00:00+08:00``: editors ask
    who was first by hours, and a date alone reads as midnight); else htmldate's YYYY-MM-DD
    without its extensive search, which scans every text node and was a sixth of the
    pipeline's time."""
    metas = _metas(tree)
    found = chain((_meta_contents(metas, attribute, names) for attribute, names in _DATE_METAS),
                  (tree.xpath(xp) for xp in ("//time[@datetime]/@datetime",)))  # each in turn, when needed
    for values in found:
        for value in values:
            m = _ISO_DATE_RE.search(str(value))
            if m:
                if m.group(4) is None or m.group(7) is None:  # no time, or a time in no known zone
                    return m.group(0)[:10]
                return f"{m.group(0)[:10]}T{m.group(4)}:{m.group(5)}:{m.group(6) or '00'}{m.group(7)}"
    from htmldate import find_date

    try:
        return find_date(tree, url=url, extensive_search=False, original_date=True)
    except (ValueError, TypeError):
        return None


def _title(tree: HtmlElement, metas: list[HtmlElement] | None = None) -> str:
    og_title = _meta_contents(_metas(tree) if metas is None else metas, "property", ("og:title",))
    for values in chain((og_title,), (tree.xpath(xp) for xp in ("//h1//text()", "//title/text()"))):
        parts = [" ".join(str(v).replace("\u200b", " ").replace("\ufeff", " ").split()) for v in values]
        title = " ".join(p for p in parts if p).strip()
        if title:
            return title
    return ""


def _author(tree: HtmlElement, metas: list[HtmlElement] | None = None) -> str | None:
    metas = _metas(tree) if metas is None else metas
    for values in (_meta_contents(metas, "name", ("author",)), _meta_contents(metas, "property", ("article:author",))):
        for value in values:
            value = " ".join(str(value).split())
            if value and not value.startswith("http"):
                return value
    return None


def extract(html: str, url: str | None = None) -> Extracted:
    """Extract one page; raises ExtractionError when there is no main text.

    trafilatura runs in fast mode (no readability / justext fallback: on article pages its
    own extractor finds the body; the fallback was two thirds of its time) and without its
    metadata pass; title, date and author come from the page's tags."""
    import lxml.html

    if not html or not html.strip():
        raise ExtractionError("empty page")
    try:
        tree = lxml.html.fromstring(html, parser=_html_parser())
        metas = _metas(tree)
        title = _title(tree, metas)
        author = _author(tree, metas)
        html_lang = tree.get("lang") or ""
        sources = _source_lines(tree)
        _bound_tree(tree, TREE_TEXT_MAX)
        published = _published(tree, url)
        options = copy(_extractor_options())
        options.url = url
        options.source = url and url.encode("utf-8", "replace").decode("utf-8")  # as Extractor(url=url) sets it
        text = main_text(tree, options)
    except (ValueError, TypeError, AttributeError, lxml.etree.ParserError) as e:
        raise ExtractionError(f"trafilatura failed: {e}") from e
    if not text or not text.strip():
        raise ExtractionError("no main text")
    text = article_head(text)
    extra = []
    room = SOURCE_LINES_MAX
    for line in sources:
        if len(line) <= room and not all(u in text for u in _URL_RE.findall(line)):
            extra.append(line)
            room -= len(line) + 1
    if extra:
        text = text.rstrip("\n") + "\n\n" + "\n".join(extra) + "\n"
    lang = html_lang.split("-")[0].lower() or None
    return Extracted(text=text, title=title, published=published, author=author, lang=lang,
                     detected_lang=detect_lang(title + "\n" + text[:_LANG_SAMPLE]))  # the sample detect_lang reads
