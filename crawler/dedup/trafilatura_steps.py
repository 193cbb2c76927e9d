"""trafilatura 2.3.1's markdown of an article container, by the steps our options take and nothing else.

``trafilatura.bare_extraction`` + ``determine_returnstring`` on a container page, with our options
(markdown, fast, links and tables, no comments, images, metadata, dedup or language filter), do work
whose result we never read: three copies of the tree (its input, its cleaning copy, a backup for the
external extractors fast mode never runs), a deep copy of the cleaned tree kept for the wild-text
recovery, another of the result for the markdown pass, and a markdown pass over an empty comments
body. ``container_markdown`` calls trafilatura's own functions for the steps that shape the text, in
its order, and hands back None whenever a step our shortcuts leave out could run:

- the main extractor's text is under ``min_extracted_size`` (recovery of wild text, baseline rescue);
- it is under trafilatura's escalation length (3,000 characters) and a fifth of an upper bound of
  the container page's text (trafilatura's recall retry could run);
- the result tree is larger than ``max_tree_size``;
- the page declares a discussion forum (posts are comments there, and trafilatura keeps them);
- trafilatura is not the version these steps were copied from.

``page_markdown`` takes the same steps on a whole page (one whose container the caller does not take), with
trafilatura's copy of its input kept uncleaned for the rescues: the wild-text recovery when no body rule
found a subtree (the cleaned tree is then still what trafilatura copies for it), the baseline rescue,
and the recall-retry test, by an upper bound of the page's html2txt first and html2txt itself only
when the bound cannot settle it; it hands back None when a body rule's subtree left the text short,
or the retry would run, or the page is a forum.

On None the caller runs trafilatura itself. The markdown conversion (``xmltotxt``) is called on the
result with the same passes; the escaping pass skips text holding none of the characters it escapes
(it returns such text unchanged), the emphasis passes run only where a ``hi`` element is (they only
touch those), and a body whose passes cannot reach across its children takes them child by child,
a paragraph of text alone written from the text ``_extract`` trimmed. With ``extract``'s own (one
walk for the meta tags) these took extraction on 600 realistic pages of
``bench/news_site.py`` from about 5.0 to 4.1 CPU-ms an article (0.79-0.86 of it in six runs, old and
new alternating every 20 pages). ``tests/dedup/extract_equivalence.py`` checks the output against
trafilatura's on the bench pages.

Round 5 (issue 13) took out more passes whose work the result never shows: a paragraph of ``hi`` and
``ref`` children written in one pass (``_flat_paragraph``), the four discard rules of the article's
subtree found in one walk (``trafilatura_xpaths.section_discards``), ``tree_cleaning``'s walks for
tags the tree lacks (``_tree_cleaning``), and the link-density tests' walk over every paragraph
(``_link_holders``). On the 2,000 articles of the crawl-order workload: extract 4.61 -> 4.22 CPU-ms
an article (0.92; 6,000 pages, old and new alternating every 20), 14 KB pages 1.98 -> 1.89.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from html import unescape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from lxml.etree import _Element
    from lxml.html import HtmlElement
    from trafilatura.settings import Extractor

_VERSION = "2.3.1"
# trafilatura core.ESCALATION_MAX_LENGTH and ESCALATION_PAGE_SHARE: results shorter than this
# length and this share of the page's text (html2txt) are retried in recall mode.
_ESCALATION_MAX_LENGTH = 3000
_ESCALATION_PAGE_SHARE = 0.2
# Characters trafilatura's markdown escaping acts on (xml._INLINE_SPECIAL_CHARS), and the backslash
# every LaTeX math span it rewrites starts with: text with none of them comes back unchanged.
_ESCAPED_RE = re.compile(r"[*_`~\[\]<\\]")
_ESCAPED_CHARS = "*_`~[]<"
# Links whose resolved target is remembered: up to this length of base URL and href together
# (menu, tag and sidebar links are short paths; 4,096 of them hold at most a few MB).
_CACHED_LINK_LENGTH = 512


@cache
def available() -> bool:
    """Whether the installed trafilatura is the one these steps follow (else: trafilatura itself)."""
    try:
        import trafilatura
        from trafilatura import core, htmlprocessing, main_extractor, utils, xml  # noqa: F401
    except ImportError:
        return False
    return trafilatura.__version__ == _VERSION


def _follows(options: Extractor) -> bool:
    """Whether ``options`` take only the paths these steps follow."""
    return not (options.comments or options.focus != "balanced" or not options.fast or options.dedup or options.lang
                or options.with_metadata or options.images or options.format != "markdown")


def container_markdown(container: HtmlElement, options: Extractor, min_text: int,
                       short_text_floor: Callable[[], float]) -> str | None:
    """trafilatura's markdown for a page holding only (a copy of) ``container`` in its body, as
    ``bare_extraction`` + ``determine_returnstring`` give it, when the caller would keep it: its
    text at least ``min_text`` characters, and when under 3,000 at least ``short_text_floor()``.
    ``""`` when the caller would not keep it (the whole page's text is wanted), None when
    trafilatura must run on the container to say."""
    if not _follows(options):
        return None
    try:
        return _container_steps(container, options, min_text, short_text_floor)
    except (TypeError, ValueError):  # bare_extraction gives None for these: let it say so
        return None


def page_markdown(tree: HtmlElement, options: Extractor) -> str | None:
    """``trafilatura.extract(tree, options=options)`` (``tree`` left as it was), or None when a
    step these shortcuts leave out could run (trafilatura must then say, None included)."""
    if not _follows(options):
        return None
    try:
        return _page_steps(tree, options)
    except (TypeError, ValueError):  # bare_extraction gives None for these: let it say so
        return None


def _container_steps(container: HtmlElement, options: Extractor, min_text: int,
                     short_text_floor: Callable[[], float]) -> str | None:
    from copy import copy

    page = container.makeelement("html")
    page.append(container.makeelement("body"))
    page[0].append(copy(container))  # the copy keeps the tail, as the moved container does
    # the tree itself is cleaned: trafilatura copies it for the baseline and escalation, which
    # do not run here (the container's text bounds the page's html2txt from above)
    texts: dict[_Element, str] = {}  # the kept paragraphs' trimmed texts, read again by _finish and body_markdown
    found = _sequence(page, options, keep_raw=False, texts=texts)
    if found is None:
        return None
    _, _, body, text, _, _ = found
    if len(body) == 0 or len(text) < options.min_extracted_size:
        return None  # the wild-text recovery and the baseline rescue would run
    if len(text) < _ESCALATION_MAX_LENGTH and len(text) < _ESCALATION_PAGE_SHARE * _page_text_bound(container):
        return None
    _finish(body, texts)
    # bare_extraction's checks after the sequence (a None from it: no usable text), then the caller's
    if options.max_tree_size and len(body) > options.max_tree_size:
        return None
    if len(text) < options.min_output_size or len(text) < min_text or sum(el.tag != "graphic" for el in body) < 2:
        return ""
    if len(text) < _ESCALATION_MAX_LENGTH and len(text) < short_text_floor():
        return ""
    return body_markdown(body, texts)


def _page_steps(tree: HtmlElement, options: Extractor) -> str | None:
    from copy import copy

    from trafilatura.baseline import baseline
    from trafilatura.main_extractor import recover_wild_text

    found = _sequence(copy(tree), options, keep_raw=True)  # bare_extraction's copy of its input
    if found is None:
        return None
    raw, cleaned, body, text, potential_tags, touched = found
    short = len(body) == 0 or len(text) < options.min_extracted_size
    if short:
        # extract_content's recovery of wild text, from its copy of the cleaned tree taken before
        # the main extractor: that is the cleaned tree itself when no body rule found a subtree
        if touched:
            return None
        body = recover_wild_text(cleaned, body, options, potential_tags, set())
        text = " ".join(body.itertext()).strip()
    _finish(body)
    if len(text) < options.min_extracted_size:  # trafilatura_sequence's baseline rescue
        b_body, b_text, b_len = baseline(raw)  # it copies the tree it is given
        if b_len > len(text):
            body, text = b_body, b_text
    # the recall escalation, from the pruned tree's html2txt: first its bound (text and element count)
    if 0 < len(text) < _ESCALATION_MAX_LENGTH and len(text) < _ESCALATION_PAGE_SHARE * _raw_text_bound(raw) \
            and len(text) < _ESCALATION_PAGE_SHARE * len(_html2txt(raw)):
        return None
    # bare_extraction's checks: its None is no text for the caller
    if options.max_tree_size and len(body) > options.max_tree_size:
        return None
    if len(text) < options.min_output_size and 0 < options.min_output_comm_size:
        return ""
    return body_markdown(body)


def _sequence(page: HtmlElement, options: Extractor, keep_raw: bool, texts: dict[_Element, str] | None = None,
              ) -> tuple[HtmlElement, HtmlElement, _Element, str, set[str], bool] | None:
    """``trafilatura_sequence`` on ``page`` (changed) up to ``_extract`` of the main extractor:
    the pruned raw tree (cleaned apart when ``keep_raw``, else cleaned itself), the cleaned
    tree, then what ``_extract`` gives (``texts`` as it fills it). None on a forum page."""
    from copy import copy

    from trafilatura import core, htmlprocessing

    from crawler.dedup import trafilatura_xpaths

    if core._forum_thread_page(page):
        return None
    raw = htmlprocessing.prune_unwanted_nodes(page, trafilatura_xpaths.raw_tree_prune())
    raw = htmlprocessing.prune_unwanted_nodes(raw, [trafilatura_xpaths.comments_and_lists()])
    # _prepare_tree without the backup for the external extractors (fast mode runs none)
    cleaned = _tree_cleaning(copy(raw) if keep_raw else raw, options)
    cleaned = _convert_tags(cleaned, options, options.url)
    # extract_content without its copy for recover_wild_text (the callers say when it runs)
    return raw, cleaned, *_extract(cleaned, options, texts)


def _tree_cleaning(tree: HtmlElement, options: Extractor) -> HtmlElement:
    """``htmlprocessing.tree_cleaning`` with tables kept, no images and no recall focus (else that
    function): its deletion loop, a walk of the tree for each of some forty tags, walks it only for
    the tags the tree holds (found in one walk: deletions add no tag), and ``prune_html`` finds the
    empty elements by XPath (an element without text or children is one without child nodes) rather
    than reading the text and length of each element it may delete. The loop itself stays: lxml's
    iterator stops inside a deleted element that holds another of its tag, and the elements after
    it are then left for trafilatura's later passes."""
    from lxml.etree import strip_tags
    from trafilatura import htmlprocessing as h
    from trafilatura.settings import CUT_EMPTY_ELEMS, MANUALLY_CLEANED, MANUALLY_STRIPPED
    from trafilatura.xml import delete_element

    if options.focus == "recall" or options.images or not options.tables:
        return h.tree_cleaning(tree, options)
    h.recover_math(tree)
    cleaning_list, stripping_list = MANUALLY_CLEANED.copy(), MANUALLY_STRIPPED.copy()
    clean_forms = "form" in cleaning_list
    if clean_forms:
        cleaning_list.remove("form")
    for elem in tree.iter("figure", "table"):
        if elem.find(".//table") is not None if elem.tag == "figure" else elem.get("role") in ("presentation", "none"):
            elem.tag = "div"
    strip_tags(tree, stripping_list)
    present = {element.tag for element in tree.iter(*cleaning_list)} if cleaning_list else set()
    for expression in cleaning_list:
        if expression in present:
            for element in tree.iter(expression):
                delete_element(element)
    if clean_forms:
        h._handle_forms(tree)
    tails = options.focus != "precision"
    for element in [e for e in _childless()(tree) if e.tag in CUT_EMPTY_ELEMS]:
        delete_element(element, keep_tail=tails)
    return tree


@cache
def _childless() -> Callable[[_Element], list[_Element]]:
    """The descendant elements without child nodes (``prune_html``'s elements of no text and no children)."""
    from lxml.etree import XPath

    return XPath(".//*[not(node())]")


def _convert_tags(tree: HtmlElement, options: Extractor, url: str | None) -> HtmlElement:
    """``htmlprocessing.convert_tags`` with links kept and no images, each link's target resolved
    by ``_link_target`` (trafilatura resolves each of the hundreds of menu and sidebar links of
    every page with urljoin, most of them the same on every page of a site); else that function."""
    from lxml.etree import strip_tags
    from trafilatura import htmlprocessing as h
    from trafilatura.utils import safe_base_url
    from trafilatura.xml import delete_element

    if not options.links or options.images:
        return h.convert_tags(tree, options, url)
    base_url = url and safe_base_url(url)
    for elem in tree.iter("a", "ref"):
        target = elem.get("href")
        elem.tag = "ref"
        elem.attrib.clear()
        if target:
            elem.set("target", _link_target(base_url, target) if base_url else target)
    for elem in tree.iter("strong"):
        if "schema-faq-question" in elem.get("class", ""):
            elem.attrib.clear()
            elem.set("rend", "h3")
            elem.tag = "head"
    for elem in tree.iter("sub", "sup"):
        if not elem.text and len(elem) == 0:
            delete_element(elem)
    if options.formatting:
        for elem in tree.iter(h.REND_TAG_MAPPING.keys()):
            elem.attrib.clear()
            elem.set("rend", h.REND_TAG_MAPPING[elem.tag])
            elem.tag = "hi"
    else:
        strip_tags(tree, *h.REND_TAG_MAPPING.keys())
    for elem in tree.iter(h.CONVERSIONS.keys()):
        h.CONVERSIONS[elem.tag](elem)
    return tree


def _link_target(base_url: str, href: str) -> str:
    """``convert_link``'s target: ``href`` resolved against the page's base URL, a pure function
    of the two, remembered for the last few thousand short ones (a page's links are untrusted:
    long ones would make the cache hold a page's worth of text each)."""
    if len(href) + len(base_url) > _CACHED_LINK_LENGTH:
        return _resolved_link(base_url, href)
    return _cached_link(base_url, href)


def _resolved_link(base_url: str, href: str) -> str:
    from trafilatura.utils import safe_relative_url

    return safe_relative_url(base_url, href) or href


_cached_link = lru_cache(maxsize=4096)(_resolved_link)


def _finish(body: _Element, texts: dict[_Element, str] | None = None) -> None:
    """The end of ``extract_content``: adjacent repeats, done elements, divs and blank line breaks.
    ``texts``: trimmed texts of leaf elements of ``body`` (``_plain_paragraph``'s), its own for the others."""
    from lxml.etree import strip_elements, strip_tags
    from trafilatura import main_extractor

    previous = None
    for el in list(body):
        current = texts.get(el) if texts else None
        if current is None:
            text = el.text
            if len(el) == 0 and text is not None and el.tag.__class__ is str:  # a leaf: its text is all of itertext
                current = " ".join(text.split())
            else:
                current = main_extractor._elem_text(el)
        if current and current == previous and len(current) > main_extractor.MIN_DUPLICATE_LENGTH:
            main_extractor.delete_element(el, keep_tail=False)
        else:
            previous = current
    strip_elements(body, "done")
    strip_tags(body, "div")
    for linebreak in body.iter("lb"):
        if (
            linebreak.tail
            and not main_extractor.text_chars_test(linebreak.tail)
            and not any(anc.tag in main_extractor.SPACING_PROTECTED for anc in linebreak.iterancestors())
        ):
            linebreak.tail = None


def _raw_text_bound(tree: HtmlElement) -> int:
    """At least the length of trafilatura's html2txt of ``tree`` (``main_text._page_text_bound``)."""
    body = tree.find(".//body")
    root = tree if body is None else body
    return len(" ".join(root.xpath("string()").split())) + 2 * int(root.xpath("count(.//*)"))


def _html2txt(tree: HtmlElement) -> str:
    """``baseline.html2txt(tree)``, changing ``tree`` instead of a copy of it."""
    from lxml.html import HtmlElement
    from trafilatura.baseline import _spaced_text
    from trafilatura.xml import delete_element

    from crawler.dedup import trafilatura_xpaths

    body = tree.find(".//body")
    if body is None and not isinstance(tree, HtmlElement):
        return ""
    root = tree if body is None else body
    for elem in trafilatura_xpaths.basic_clean()(root):  # basic_cleaning
        delete_element(elem)
    return _spaced_text(root)


def _extract(tree: HtmlElement, options: Extractor,
             texts: dict[_Element, str] | None = None) -> tuple[_Element, str, set[str], bool]:
    """``main_extractor._extract``: its body rules in order, the first by ``trafilatura_xpaths``;
    the sections pruned by ``_prune_sections``. Also whether a rule found a subtree (else the
    tree is as it came). Plain paragraphs' texts go into ``texts`` (``_plain_paragraph``)."""
    from lxml.etree import Element
    from trafilatura import main_extractor as m
    from trafilatura.htmlprocessing import process_node
    from trafilatura.settings import INLINE_FORMATTABLE, TAG_CATALOG
    from trafilatura.utils import text_chars_test
    from trafilatura.xml import delete_element
    from trafilatura.xpaths import BODY_XPATH

    from crawler.dedup import trafilatura_xpaths

    potential_tags = set(TAG_CATALOG)
    if options.tables is True:
        potential_tags.update(["table", "td", "th", "tr"])
    if options.images is True:
        potential_tags.add("graphic")
    if options.links is True:
        potential_tags.add("ref")
    result_body = Element("body")
    first_rule = trafilatura_xpaths.body_rule()
    found = False
    for n, expr in enumerate(BODY_XPATH):
        subtree = first_rule(tree) if n == 0 else next((s for s in expr(tree) if s is not None), None)
        if subtree is None:
            continue
        found = True
        subtree = _prune_sections(subtree, potential_tags, options)
        if len(subtree) == 0:
            continue
        ptest = _paragraph_text()(subtree)
        factor = 1 if options.focus == "precision" else 3
        if not ptest or len("".join(ptest)) < options.min_extracted_size * factor:
            potential_tags.add("div")
        subelems = _descendants()(subtree)
        inline = INLINE_FORMATTABLE | {"lb"}
        if all(e.tag in inline for e in subelems):  # else neither test below holds: stops at an article's first block
            tags = {e.tag for e in subelems}
            if tags == {"lb"} or (subtree.tag == "div" and "div" in potential_tags):
                subelems = [subtree]
        lead, start = None, len(result_body)
        if subelems != [subtree] and text_chars_test(subtree.text):
            lead = Element("p")
            lead.text = subtree.text
            lead = process_node(lead, options)
        for elem in subelems:
            if elem.getroottree().getroot() is result_body:
                continue
            tag = elem.tag
            if tag == "p" and len(elem) == 0:  # most of an article: kept as it is, or not at all
                processed_elem = _plain_paragraph(elem, texts)
                if processed_elem is not None:
                    result_body.append(processed_elem)
                continue  # no tail to rebuild: a paragraph is no REBUILT_BLOCKS tag
            tail = elem.tail  # as it was before handle_textelem
            processed_elem = m.handle_textelem(elem, potential_tags, options)
            if processed_elem is not None:
                result_body.append(processed_elem)
                if elem.getroottree().getroot() is not result_body:
                    elem.tag = "done"
            if tag in m.REBUILT_BLOCKS and text_chars_test(tail) and (processed_elem is None or processed_elem.tail is None):
                tail_elem = Element("p")
                tail_elem.text = tail
                if process_node(tail_elem, options) is not None:
                    result_body.append(tail_elem)
        while len(result_body) > 0 and (result_body[-1].tag in m.NOT_AT_THE_END):
            delete_element(result_body[-1], keep_tail=False)
        if sum(e.tag != "graphic" for e in result_body) > 1:
            if lead is not None:
                result_body.insert(start, lead)
            break
    return result_body, " ".join(result_body.itertext()).strip(), potential_tags, found


@cache
def _paragraph_text() -> Callable[[_Element], list[str]]:
    """The text nodes of the document's paragraphs (``_extract``'s test of them), as plain
    strings (lxml's default result strings each keep a reference to their parent)."""
    from lxml.etree import XPath

    return XPath("//p//text()", smart_strings=False)


@cache
def _descendants() -> Callable[[_Element], list]:
    """``.xpath(".//*")``, compiled once (each ``.xpath`` call parses and compiles its expression
    again: 10 us, a few times a page)."""
    from lxml.etree import XPath

    return XPath(".//*")


@cache
def _element_count() -> Callable[[_Element], float]:
    """``.xpath("count(.//*)")``, compiled once (:func:`_descendants`)."""
    from lxml.etree import XPath

    return XPath("count(.//*)")


def _link_holders(subtree: HtmlElement, tagname: str) -> list[HtmlElement]:
    """What ``subtree.iter(tagname)`` gives that holds a link, in document order: each link's
    ancestors up to ``subtree`` (the walk up stops at one seen from an earlier link, all of whose
    ancestors were seen then), top-down, in the order of the links (an element comes at its first
    link; one that comes before another in the document holds an earlier link or is its ancestor).
    A page has a few links in its article and tens of paragraphs."""
    seen: set[HtmlElement] = set()
    found = []
    for ref in subtree.iterdescendants("ref"):
        chain = []
        for anc in ref.iterancestors():
            if anc in seen:
                break
            seen.add(anc)
            chain.append(anc)
            if anc is subtree:
                break
        found += [anc for anc in reversed(chain) if anc.tag == tagname]
    return found


def delete_by_link_density(subtree: HtmlElement, tagname: str, backtracking: bool = False,
                           favor_precision: bool = False) -> HtmlElement:
    """``htmlprocessing.delete_by_link_density``, its test run only on the elements holding a link
    (``_link_holders``): the test passes an element without one (most of an article's paragraphs)."""
    from trafilatura.htmlprocessing import link_density_test
    from trafilatura.utils import trim
    from trafilatura.xml import delete_element

    deletions = []
    len_threshold = 200 if favor_precision else 100
    depth_threshold = 1 if favor_precision else 3
    for elem in _link_holders(subtree, tagname):
        result, short_with_links = link_density_test(elem, favor_precision)
        if result or (
            backtracking
            and short_with_links
            and len(elem) >= depth_threshold
            and len(trim(elem.text_content())) < len_threshold
        ):
            parent = elem.getparent()
            if tagname == "p" and parent is not None and parent.tag in ("item", "td", "th"):
                continue
            deletions.append(elem)
    for elem in dict.fromkeys(deletions):
        delete_element(elem)
    return subtree


def _plain_paragraph(elem: _Element, texts: dict[_Element, str] | None = None) -> _Element | None:
    """``handle_textelem`` for a ``p`` without children (``handle_paragraphs``: ``process_node``
    without the duplicate test): text and tail trimmed (None if empty), the tail as the text when
    there is none, None when the text is filtered out (share buttons) or there was nothing. Text
    is written back only when trimming changed it (lxml rebuilds the node on each write); a kept
    text goes into ``texts`` too (reading it again from lxml decodes it again)."""
    share_filter, long_text = _share_filter()
    text, tail = elem.text, elem.tail
    if not text and not tail:
        return None
    # trim: whitespace runs to one space; str.split leaves none at either end
    new_text = (" ".join(text.split()) or None) if text else None
    new_tail = (" ".join(tail.split()) or None) if tail else None
    if new_text is None and new_tail is not None:
        new_text, new_tail = new_tail, None
    if new_text != text:
        elem.text = new_text
    if new_tail != tail:
        elem.tail = new_tail
    # textfilter: a trimmed text has no line break (str.split splits at all of splitlines'), no
    # space at either end
    if new_text is not None and (len(new_text) <= long_text or not (new_text[0].isalnum() or new_text[0] == "_")) \
            and share_filter(new_text):
        return None
    if texts is not None and new_text is not None:
        texts[elem] = new_text
    return elem


# trafilatura's share-button filter (utils.RE_FILTER): ``\W*`` then a word of at most 20 characters
# (``More on this.{,8}``) ending the text. Its words start with a letter, so a match starts its word at
# the text's first word character (``\w``: alphanumeric or ``_``): a text starting with one is matched
# only when it is that short. The regex took a third of a paragraph's handling.
_FILTER_PATTERN = (r"\W*(Drucken|E-?Mail|Facebook|Flipboard|Google|Instagram|Linkedin|Mail|PDF|Pinterest|Pocket|"
                   r"Print|QQ|Reddit|Twitter|WeChat|WeiBo|Whatsapp|Xing|Mehr zum Thema:?|More on this.{,8}$)$")


@cache
def _share_filter() -> tuple[Callable[[str], object], int | float]:
    """``RE_FILTER.match`` and :func:`_filtered_length`, looked up once: an import and a call for
    each paragraph were a tenth of its handling."""
    from trafilatura.utils import RE_FILTER

    return RE_FILTER.match, _filtered_length()


@cache
def _filtered_length() -> int | float:
    """The longest text starting with a word character that ``RE_FILTER`` can match (with a line
    break before ``$``); infinite for another pattern (the regex then tests every text)."""
    import re

    from trafilatura.utils import RE_FILTER

    return 21 if RE_FILTER.pattern == _FILTER_PATTERN and RE_FILTER.flags == re.IGNORECASE | re.UNICODE else float("inf")


def _prune_sections(tree: HtmlElement, potential_tags: set[str], options: Extractor) -> HtmlElement:
    """``main_extractor.prune_unwanted_sections`` (not keeping teasers), its boilerplate rules by
    ``trafilatura_xpaths``; the second round of link-density deletions is skipped when the
    first deleted nothing (the tests are functions of the tree: they would delete nothing)."""
    from lxml.etree import strip_tags
    from trafilatura.htmlprocessing import link_density_test_tables, prune_unwanted_nodes
    from trafilatura.xml import delete_element
    from trafilatura.xpaths import PRECISION_DISCARD_XPATH

    from crawler.dedup import trafilatura_xpaths

    favor_precision = options.focus == "precision"
    discards = trafilatura_xpaths.section_discards()
    if discards is None:
        overall, captions, teasers = (trafilatura_xpaths.overall_discard(), trafilatura_xpaths.captions(),
                                      trafilatura_xpaths.teasers())
    else:  # the four lists from one walk
        found = discards(tree)
        overall, captions, teasers = [_given(found[0]), _given(found[1])], [_given(found[2])], [_given(found[3])]
    tree = prune_unwanted_nodes(tree, overall, with_backup=True)
    if "graphic" not in potential_tags:
        tree = prune_unwanted_nodes(tree, captions)
    if options.focus != "recall":
        tree = prune_unwanted_nodes(tree, teasers)
        if favor_precision:
            tree = prune_unwanted_nodes(tree, PRECISION_DISCARD_XPATH)
    count = _element_count()
    for _ in range(2):
        before = (tree.getparent(), count(tree))
        tree = delete_by_link_density(tree, "div", backtracking=True, favor_precision=favor_precision)
        tree = delete_by_link_density(tree, "list", backtracking=False, favor_precision=favor_precision)
        tree = delete_by_link_density(tree, "p", backtracking=False, favor_precision=favor_precision)
        if (tree.getparent(), count(tree)) == before:
            break  # nothing deleted (each deletion removes an element, or the tree from its parent)
    if "table" in potential_tags or favor_precision:
        boilerplate_tables = [elem for elem in tree.iter("table") if link_density_test_tables(elem) is True]
        for elem in boilerplate_tables:
            delete_element(elem, keep_tail=False)
    if favor_precision:
        while len(tree) > 0 and (tree[-1].tag == "head"):
            delete_element(tree[-1], keep_tail=False)
        tree = delete_by_link_density(tree, "head", backtracking=False, favor_precision=True)
        tree = delete_by_link_density(tree, "quote", backtracking=False, favor_precision=True)
    strip_tags(tree, "span", *(() if "ref" in potential_tags else ("ref",)))
    return tree


def _given(elements: list[_Element]) -> Callable[[_Element], list[_Element]]:
    """A matcher giving ``elements`` (found before) for any tree."""
    return lambda _tree: elements


def _page_text_bound(container: HtmlElement) -> int:
    """``main_text._page_text_bound`` of the page html > body > container (with its tail), from the
    container left in its own page: at least the length of trafilatura's html2txt of that page."""
    text = container.text_content() + (container.tail or "")
    return len(" ".join(text.split())) + 2 * (1 + int(_element_count()(container)))


def body_markdown(body: _Element, texts: dict[_Element, str] | None = None) -> str:
    """``determine_returnstring`` for markdown without metadata: ``xmltotxt`` of the body (which
    it changes: trafilatura converts a copy) joined with that of the empty comments body, stripped.
    A body of no text and no ``hi`` child renders as its children: each is escaped, has its
    emphasis collapsed and merged, is stripped and written in turn (``_body_blocks``), what each
    pass does to one child reading and changing that child alone (the merge of adjacent ``hi``
    elements would join two children of the body). ``texts``: the text of leaf children whose text
    is known (``_finish``)."""
    from trafilatura import utils, xml

    parts: list[str] = []
    if body.find("hi") is None and not body.text and body.tag not in xml.NEWLINE_ELEMS \
            and body.tag not in ("cell", "item", "quote", "table") and not xml._consumes_inline_children(body) \
            and not _escape_skipped(body):
        _body_blocks(body, parts, texts or {})
    else:
        _escape_tree(body)
        _emphasis(body)
        _strip_block_whitespace(body)
        if body.text or body.tag in xml.NEWLINE_ELEMS or body.tag in ("cell", "item", "quote", "table") \
                or xml._consumes_inline_children(body):
            xml.process_element(body, parts, True)
        else:
            _body_children(body, parts)
    text = unescape(_sanitized("".join(parts)) or "")
    return utils.normalize_unicode(f"{text}\n".strip())


def _emphasis(body: _Element) -> None:
    """``xml._collapse_emphasis`` and ``xml._merge_adjacent_hi`` of ``body`` (no ``hi`` itself),
    run where they change something instead of recursing through every element: the first on
    each outermost ``hi`` (below it, away from any ``hi``, it only passes an empty set down), the
    second's pass on each element holding a ``hi`` (a merge removes a childless ``hi`` and
    changes two ``hi`` texts: no other element's pass sees a difference, so their order is free)."""
    from trafilatura import xml

    outermost = [hi for hi in body.iter("hi") if next(hi.iterancestors("hi"), None) is None]
    if not outermost:
        return
    for hi in outermost:
        xml._collapse_emphasis(hi)
    for element in dict.fromkeys(hi.getparent() for hi in body.iter("hi")):
        _merge_adjacent_hi(element, list(element), xml.MERGEABLE_RENDS)


def _merge_adjacent_hi(element: _Element, children: list[_Element], mergeable: frozenset[str] | set[str]) -> None:
    """``xml._merge_adjacent_hi``'s reverse pass over ``element``'s ``children`` (a list of them,
    kept in step): removing ``nxt`` never disturbs the pairs still to be visited."""
    for i in range(len(children) - 2, -1, -1):
        curr, nxt = children[i], children[i + 1]
        if (
            curr.tag == "hi"
            and nxt.tag == "hi"
            and curr.get("rend") == nxt.get("rend")
            and curr.get("rend") in mergeable
            and len(curr) == 0
            and len(nxt) == 0
            and not (curr.tail or "").strip()
        ):
            curr.text = (curr.text or "") + (curr.tail or "") + (nxt.text or "")
            curr.tail = nxt.tail
            element.remove(nxt)
            del children[i + 1]


def _strip_block_whitespace(element: _Element) -> None:
    """``xml._strip_block_whitespace``, writing only the text it changes (lxml rebuilds the node
    on each write)."""
    for p in element.iter("p", "quote", "head"):
        text = p.text
        if text:
            stripped = text.lstrip() if len(p) > 0 else text.strip()
            if stripped != text:
                p.text = stripped
        if len(p) > 0:
            tail = p[-1].tail
            if tail and tail.rstrip() != tail:
                p[-1].tail = tail.rstrip()


def _sanitized(text: str) -> str | None:
    """``utils.sanitize(text, True)``: each line without HTML space entities and control
    characters, empty lines dropped, the paragraph marks removed. Without the three entities a
    line is only filtered, and a line of printable characters has nothing to filter."""
    from trafilatura import utils

    if "&#13;" in text or "&#10;" in text or "&nbsp;" in text:
        return utils.sanitize(text, True)
    lines = text.splitlines()
    if not "".join(lines).isprintable():
        filtered = utils.remove_control_characters
        lines = [line if line.isprintable() else filtered(line) for line in lines]
    return "\n".join(filter(None, lines)).replace("\u2424", "")


def _body_children(body: _Element, parts: list[str]) -> None:
    """``xml.process_element(body, parts, True)`` for a body of no text that renders as its
    children (not a cell, item, block or inline element): each child in turn, a paragraph or
    heading of text alone (most of an article) written here as process_element writes it (a
    line break unless the output ends in a separator, the text, the block's end mark, the tail
    left-stripped), any other child by process_element."""
    from trafilatura import xml

    for child in body:
        tag, text = child.tag, child.text
        if (tag != "p" and tag != "head") or not text or len(child):
            xml.process_element(child, parts, True)
            continue
        _write_block(child, text, child.tail, parts, xml)


def _write_block(child: _Element, text: str, tail: str | None, parts: list[str], xml: ModuleType) -> None:
    """A paragraph or heading of ``text`` alone, as ``xml.process_element`` writes it: a line
    break unless the output ends in a separator, the text (a heading's prefix before it, block
    syntax at its start escaped), the block's end mark, the tail left-stripped. ``xml`` is
    trafilatura's module of that name (imported by the caller, once for all of a body's blocks)."""
    if (parts[-1][-1:] if parts else "") not in xml.SEPARATORS:
        parts.append("\n")
    if child.tag == "head":
        parts.append(f"{xml._heading_prefix(child)} {text}")
    else:  # block syntax starts, after up to 3 spaces, with # > - + or a digit (\d: isdecimal)
        first = text.lstrip(" ")[:1]
        parts.append(xml._escape_block_start(text) if first in "#>-+" or first.isdecimal() else text)
    parts.append("\n\u2424\n")
    if tail:
        parts.append(tail.lstrip())


def _escape_tree(element: _Element) -> None:
    """xml._escape_and_convert_math_tree, calling the escaping only on text it can change; the
    element's children (paragraphs) holding nothing to escape are left alone."""
    if _escape_skipped(element):
        return
    text = element.text
    if text and _ESCAPED_RE.search(text) is not None:
        element.text = _escape_text(text)
    for child in element:
        if not _untouched(child):
            _escape(child)
        tail = child.tail
        if tail and _ESCAPED_RE.search(tail) is not None:
            child.tail = _escape_text(tail)


def _escape_skipped(element: _Element) -> bool:
    """Whether the escaping leaves ``element`` and what it holds as they are (code)."""
    tag = element.tag
    if tag != "code" and tag != "hi":
        return False
    from trafilatura.xml import HI_FORMATTING

    return tag == "code" or HI_FORMATTING.get(element.get("rend") or "") == "`"


def _escape(element: _Element) -> None:
    """xml._escape_and_convert_math_tree of ``element``, calling the escaping only on text it can change."""
    if _escape_skipped(element):
        return
    search = _ESCAPED_RE.search
    text = element.text
    if text and search(text) is not None:
        element.text = _escape_text(text)
    for child in element:
        _escape(child)
        tail = child.tail
        if tail and search(tail) is not None:
            child.tail = _escape_text(tail)


def _escape_text(text: str) -> str:
    """xml._escape_and_convert_math of text holding one of the characters it acts on: without a
    backslash (no math span, no escaped run) a backslash before each of them."""
    if "\\" in text:
        from trafilatura.xml import _escape_and_convert_math

        return _escape_and_convert_math(text)
    for c in _ESCAPED_CHARS:
        if c in text:
            text = text.replace(c, "\\" + c)
    return text


def _untouched(element: _Element) -> bool:
    """Nothing in ``element`` to escape (comments and processing instructions hold text itertext skips)."""
    from lxml.etree import Comment, ProcessingInstruction

    return _ESCAPED_RE.search("".join(element.itertext())) is None \
        and next(element.iter(Comment, ProcessingInstruction), None) is None


def _body_blocks(body: _Element, parts: list[str], texts: dict[_Element, str]) -> None:
    """``_escape_tree``, ``_emphasis``, ``_strip_block_whitespace`` and ``_body_children`` of a body
    of no text and no ``hi`` child, child by child: a paragraph or heading of text alone (most of an
    article) is escaped, stripped and written from its text, without writing the text back; any
    other child goes through the four in turn."""
    from trafilatura import xml

    search = _ESCAPED_RE.search
    for child in body:
        tag, text = child.tag, texts.get(child)
        if text is None:
            text = child.text
        tail = child.tail
        if tail and search(tail) is not None:
            child.tail = tail = _escape_text(tail)
        if (tag != "p" and tag != "head") or len(child):
            kids = list(child) if tag == "p" else None
            if kids and all(kid.tag in _FLAT_INLINE and len(kid) == 0 for kid in kids):
                _flat_paragraph(child, kids, parts, xml)
                continue
            if not _untouched(child):
                _escape(child)
            _emphasis(child)
            _strip_block_whitespace(child)
            xml.process_element(child, parts, True)
            continue
        if text:
            if search(text) is not None:
                text = _escape_text(text)
            text = text.strip()
        if not text:
            if child.text:
                child.text = text
            xml.process_element(child, parts, True)
            continue
        _write_block(child, text, tail, parts, xml)


# The children of a paragraph that ``_flat_paragraph`` writes (each without children of its own).
_FLAT_INLINE = frozenset(("hi", "ref"))


def _flat_paragraph(child: _Element, kids: list[_Element], parts: list[str], xml: ModuleType) -> None:
    """``_escape``, ``_emphasis``, ``_strip_block_whitespace`` and ``xml.process_element`` of a
    paragraph ``child`` whose children, ``kids``, are ``hi`` and ``ref`` elements without children
    (a bold line, a line of links: a seventh of an article's blocks, each of which took the four
    general passes a few tens of microseconds). What each does to such a paragraph: the escaping
    of its texts and tails but a code span's text; no emphasis to collapse (no ``hi`` holds one),
    adjacent ``hi`` of one rend merged; the text left-stripped, the last tail right-stripped; then
    written as process_element writes it (a line break unless the output ends in a separator, the
    text with block syntax at its start escaped, each child's markup with its tail when it has
    text, a line break when the paragraph has no text, the block's end mark, the tail left-stripped)."""
    search = _ESCAPED_RE.search
    text = child.text
    if text and search(text) is not None:
        child.text = _escape_text(text)
    for kid in kids:
        if not _escape_skipped(kid):
            value = kid.text
            if value and search(value) is not None:
                kid.text = _escape_text(value)
        value = kid.tail
        if value and search(value) is not None:
            kid.tail = _escape_text(value)
    _merge_adjacent_hi(child, kids, xml.MERGEABLE_RENDS)  # (kids without children of their own)
    text = child.text
    if text:
        stripped = text.lstrip()
        if stripped != text:
            child.text = text = stripped
    last = kids[-1]
    value = last.tail
    if value and value.rstrip() != value:
        last.tail = value.rstrip()
    if (parts[-1][-1:] if parts else "") not in xml.SEPARATORS:
        parts.append("\n")
    if text:
        parts.append(xml.replace_element_text(child, True))
    for kid in kids:
        if kid.text:
            parts.append(xml.replace_element_text(kid, True))
            if kid.tail:
                parts.append(kid.tail)
    if not text:
        parts.append("\n")
    parts.append("\n\u2424\n")
    value = child.tail
    if value:
        parts.append(value.lstrip())
