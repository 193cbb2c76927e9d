"""trafilatura 2.3.1's regular-expression XPaths as Python predicates over the same elements.

lxml runs an XPath's ``re:test`` by calling back into Python for every element the path visits,
converting the attribute to a string and back each time: trafilatura's five such paths (the body
rule, the two boilerplate rules, the raw-tree and comment prunes) were a third of extraction's
CPU on a news page. Here each is a loop over the same elements in document order with the same
regular expressions, taken from the installed XPath's own text. An XPath whose text, with its
regular expressions left out, is not the one these loops were written for is used as it is.
The teaser, caption and share-button rules (``contains`` only) are loops too: libxml2 took five
times as long, testing six element names and copying two attributes for every element.

The XPath rules followed: ``re:test(@a|@b, p)`` searches the value of whichever of the two
attributes comes first in the source (XPath's string value of a node set), ``re:test(@a, p)``
and ``contains(@a, s)`` on a missing attribute test the empty string, ``@a='v'`` is false
without the attribute; ``.//*`` is the element's descendants, elements only. lxml compiles the
expressions with ``re.UNICODE`` only (no ``i`` flag in these paths).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from lxml.etree import XPath, _Element

    Matcher = Callable[[_Element], list[_Element]]

_RE_TEST = re.compile(r"re:test\((@[\w|@-]+), '([^']*)'(, 'i')?\)")
# The paths these loops follow, whitespace collapsed and each re:test pattern written as {}.
_BODY = (".//*[self::article or self::div or self::main or self::section][ @class='post' or @class='entry' or "
         "@itemprop='articleBody' or @id='articleContent' or re:test(@id, {}) or re:test(@class, {}) ][1]")
_OVERALL = (".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
            "@data-lp-replacement-content or contains(translate(@role, 'N', 'n'), 'nav') or "
            "contains(@data-component, 'MostPopularStories') or re:test(@id|@class, {}) or re:test(@id, {}) or "
            "re:test(@class, {})]")
_HIDDEN = (".//*[@class='comments-title' or starts-with(@id|@class, 'reply-') or re:test(@id|@style, {}) or "
           "contains(@style, 'display:none') or contains(@style, 'display: none') or re:test(@id, {}) or "
           "re:test(@class, {}) or @aria-hidden='true']")
_RAW_PRUNE = (".//*[self::div or self::section or self::aside][ re:test(@id, {}) or re:test(@class, {})][ "
              "not(.//h1) or re:test(@id, {}) or re:test(@class, {})]")
_BLOCKS = ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
_TEASER = _BLOCKS + "contains(translate(@id, 'T', 't'), 'teaser') or contains(translate(@class, 'T', 't'), 'teaser')]"
_CAPTION = _BLOCKS + "contains(@id, 'caption') or contains(@class, 'caption')]"
_SHARE_BUTTONS = ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]"
_BASIC_CLEAN = (".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script|.//style|.//svg|"
                ".//template|.//*[re:test(@class, {}, 'i') or re:test(@id, {}, 'i')]")
_COMMENTS = (".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ "
             "re:test(@id, {}) or re:test(@class, {})][ not(self::ol or self::ul) or re:test(@id, {}) or "
             "re:test(@class, {})]")


def _patterns(xpath: XPath, template: str) -> list[re.Pattern[str]] | None:
    """The compiled regular expressions of ``xpath`` in order, when its text is ``template``
    (else None), and none of them matches a missing attribute's empty string (the loops skip
    elements without the attribute)."""
    path = " ".join(xpath.path.split())
    found = _RE_TEST.findall(path)
    if _RE_TEST.sub(lambda m: f"re:test({m.group(1)}, {{}}{m.group(3) or ''})", path) != template:
        return None
    patterns = [re.compile(p, re.IGNORECASE if flags else 0) for _, p, flags in found]
    if any(p.search("") is not None for p in patterns):
        return None
    return patterns


def _first_of(el: _Element, first: str, second: str) -> str:
    """XPath's string value of ``@first|@second``: the attribute written first in the source."""
    a, b = el.get(first), el.get(second)
    if a is None:
        return b or ""
    if b is None:
        return a
    for name in el.keys():
        if name == first:
            return a
        if name == second:
            return b
    return a  # not reached: both are among the keys


@cache
def body_rule() -> Callable[[_Element], _Element | None]:
    """The first element of trafilatura's first body rule (``BODY_XPATH[0]``), None if none;
    the rule itself (its first result) for another trafilatura."""
    from trafilatura.xpaths import BODY_XPATH

    xpath = BODY_XPATH[0]
    patterns = _patterns(xpath, _BODY)
    if patterns is None:
        return lambda tree: next(iter(xpath(tree)), None)
    id_search, class_search = (p.search for p in patterns)

    def first(tree: _Element) -> _Element | None:
        # ``[1]`` takes the first match among each parent's children: the first in document
        # order is the first match of all
        for el in tree.iterdescendants("article", "div", "main", "section"):
            cls, ident = el.get("class"), el.get("id")
            if (cls == "post" or cls == "entry" or el.get("itemprop") == "articleBody" or ident == "articleContent"
                    or (ident is not None and id_search(ident)) or (cls is not None and class_search(cls))):
                return el
        return None

    return first


# The blocks the boilerplate, teaser and caption rules look at.
_DISCARD_BLOCKS = ("div", "item", "list", "p", "section", "span")


@cache
def _overall_tests() -> tuple[Callable[[_Element], bool] | None, Callable[[_Element], bool] | None]:
    """The tests of an element with attributes that ``OVERALL_DISCARD_XPATH``'s two rules take
    (the first only asked of ``_DISCARD_BLOCKS``), each None where the installed rule is another."""
    from trafilatura.xpaths import OVERALL_DISCARD_XPATH

    boilerplate, hidden = OVERALL_DISCARD_XPATH
    first, second = _patterns(boilerplate, _OVERALL), _patterns(hidden, _HIDDEN)
    boilerplate_test = hidden_test = None
    if first is not None:
        either_search, id_search, class_search = (p.search for p in first)

        def boilerplate_test(el: _Element) -> bool:
            ident, cls = el.get("id"), el.get("class")
            return bool((ident is not None and id_search(ident)) or (cls is not None and class_search(cls))
                        or ((ident is not None or cls is not None) and either_search(_first_of(el, "id", "class")))
                        or el.get("data-lp-replacement-content") is not None
                        or "nav" in (el.get("role") or "").replace("N", "n")
                        or "MostPopularStories" in (el.get("data-component") or ""))

    if second is not None:
        hidden_search, id_search2, class_search2 = (p.search for p in second)

        def hidden_test(el: _Element) -> bool:
            ident, cls, style = el.get("id"), el.get("class"), el.get("style")
            return bool(cls == "comments-title"
                        or ((ident is not None or cls is not None) and _first_of(el, "id", "class").startswith("reply-"))
                        or ((ident is not None or style is not None) and hidden_search(_first_of(el, "id", "style")))
                        or (style is not None and ("display:none" in style or "display: none" in style))
                        or (ident is not None and id_search2(ident))
                        or (cls is not None and class_search2(cls))
                        or el.get("aria-hidden") == "true")

    return boilerplate_test, hidden_test


@cache
def overall_discard() -> list[Matcher]:
    """Matchers giving what each of ``OVERALL_DISCARD_XPATH`` gives, in its order."""
    from lxml.etree import Element
    from trafilatura.xpaths import OVERALL_DISCARD_XPATH

    boilerplate, hidden = OVERALL_DISCARD_XPATH
    boilerplate_test, hidden_test = _overall_tests()
    out: list[Matcher] = []
    if boilerplate_test is None:
        out.append(boilerplate)
    else:
        test = boilerplate_test

        def boilerplate_blocks(tree: _Element) -> list[_Element]:
            return [el for el in tree.iterdescendants(*_DISCARD_BLOCKS) if el.attrib and test(el)]

        out.append(boilerplate_blocks)
    if hidden_test is None:
        out.append(hidden)
    else:
        test2 = hidden_test

        def hidden_elements(tree: _Element) -> list[_Element]:
            return [el for el in tree.iterdescendants(Element) if el.attrib and test2(el)]

        out.append(hidden_elements)
    return out


@cache
def section_discards() -> Callable[[_Element], tuple[list[_Element], ...]] | None:
    """What ``overall_discard``'s two matchers, ``captions`` and ``teasers`` give, in one walk of the
    tree (each walked it again, reading the same attributes); None unless all four are loops here.
    Each rule tests an element by its own tag and attributes, which deleting another element (a
    match of an earlier rule) leaves as they are: the lists found before the deletions are the
    lists found after them, but for elements deleted with an ancestor (deleting them again
    changes only the deleted subtree)."""
    from lxml.etree import Element

    boilerplate_test, hidden_test = _overall_tests()
    if (boilerplate_test is None or hidden_test is None or not _is_holding_loop("teasers")
            or not _is_holding_loop("captions")):
        return None
    blocks = frozenset(_DISCARD_BLOCKS)
    boilerplate, hidden = boilerplate_test, hidden_test

    def walk(tree: _Element) -> tuple[list[_Element], ...]:
        found: tuple[list[_Element], ...] = ([], [], [], [])
        boilerplate_found, hidden_found, caption_found, teaser_found = found
        for el in tree.iterdescendants(Element):
            if not el.attrib:
                continue
            if el.tag in blocks:
                if boilerplate(el):
                    boilerplate_found.append(el)
                ident, cls = el.get("id"), el.get("class")
                if (ident is not None and "caption" in ident) or (cls is not None and "caption" in cls):
                    caption_found.append(el)
                if (ident is not None and "teaser" in ident.replace("T", "t")) or \
                        (cls is not None and "teaser" in cls.replace("T", "t")):
                    teaser_found.append(el)
            if hidden(el):
                hidden_found.append(el)
        return found

    return walk


@cache
def raw_tree_prune() -> list[Matcher]:
    """Matchers giving what each of ``RAW_TREE_PRUNE_XPATH`` gives, in its order."""
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH

    infinite, *rest = RAW_TREE_PRUNE_XPATH
    patterns = _patterns(infinite, _RAW_PRUNE)
    if patterns is None or len(rest) != 1 or _patterns(rest[0], _SHARE_BUTTONS) is None:
        return list(RAW_TREE_PRUNE_XPATH)
    id_search, class_search, id_keep, class_keep = (p.search for p in patterns)

    def infinite_scroll(tree: _Element) -> list[_Element]:
        found = []
        for el in tree.iterdescendants("div", "section", "aside"):
            ident, cls = el.get("id") or "", el.get("class") or ""
            if not (ident or cls) or not (id_search(ident) or class_search(cls)):
                continue
            if next(el.iterdescendants("h1"), None) is None or id_keep(ident) or class_keep(cls):
                found.append(el)
        return found

    def share_buttons(tree: _Element) -> list[_Element]:
        return [el for el in tree.iterdescendants("div", "section", "aside")
                if "elementor-share-buttons" in (el.get("class") or "")]

    return [infinite_scroll, share_buttons]


@cache
def comments_and_lists() -> Matcher:
    """A matcher giving what ``REMOVE_COMMENTS_AND_LISTS_XPATH[0]`` gives."""
    from trafilatura.xpaths import REMOVE_COMMENTS_AND_LISTS_XPATH

    xpath = REMOVE_COMMENTS_AND_LISTS_XPATH[0]
    patterns = _patterns(xpath, _COMMENTS)
    if patterns is None or len(REMOVE_COMMENTS_AND_LISTS_XPATH) != 1:
        return lambda tree: [el for x in REMOVE_COMMENTS_AND_LISTS_XPATH for el in x(tree)]
    id_search, class_search, list_id, list_class = (p.search for p in patterns)

    def comment_blocks(tree: _Element) -> list[_Element]:
        found = []
        for el in tree.iterdescendants("div", "list", "section", "details", "ol", "ul"):
            ident, cls = el.get("id") or "", el.get("class") or ""
            if not (ident or cls) or not (id_search(ident) or class_search(cls)):
                continue
            if el.tag not in ("ol", "ul") or list_id(ident) or list_class(cls):
                found.append(el)
        return found

    return comment_blocks


def _is_holding_loop(name: str) -> bool:
    """Whether ``teasers()`` or ``captions()`` is the loop of ``_attribute_holding``."""
    matchers = teasers() if name == "teasers" else captions()
    return len(matchers) == 1 and getattr(matchers[0], "__name__", "") == "holding"


def _attribute_holding(xpaths: list[XPath], template: str, word: str, fold: tuple[str, str] | None) -> list[Matcher]:
    """``xpaths`` (one XPath whose text is ``template``) as a loop: the blocks whose id or class
    holds ``word``, after ``fold`` (XPath's ``translate``) when given; else ``xpaths`` as they are."""
    if len(xpaths) != 1 or _patterns(xpaths[0], template) is None:
        return list(xpaths)

    def holding(tree: _Element) -> list[_Element]:
        found = []
        for el in tree.iterdescendants(*_DISCARD_BLOCKS):
            for value in (el.get("id"), el.get("class")):
                if value is not None and word in (value.replace(*fold) if fold else value):
                    found.append(el)
                    break
        return found

    return [holding]


@cache
def teasers() -> list[Matcher]:
    """Matchers giving what ``TEASER_DISCARD_XPATH`` gives."""
    from trafilatura.xpaths import TEASER_DISCARD_XPATH

    return _attribute_holding(TEASER_DISCARD_XPATH, _TEASER, "teaser", ("T", "t"))


@cache
def captions() -> list[Matcher]:
    """Matchers giving what ``DISCARD_IMAGE_ELEMENTS`` gives."""
    from trafilatura.xpaths import DISCARD_IMAGE_ELEMENTS

    return _attribute_holding(DISCARD_IMAGE_ELEMENTS, _CAPTION, "caption", None)


@cache
def basic_clean() -> Matcher:
    """A matcher giving what ``BASIC_CLEAN_XPATH`` (html2txt's and the baseline's cleaning) gives."""
    from lxml.etree import Element
    from trafilatura.settings import BASIC_CLEAN_XPATH

    patterns = _patterns(BASIC_CLEAN_XPATH, _BASIC_CLEAN)
    if patterns is None:
        return BASIC_CLEAN_XPATH
    class_search, id_search = (p.search for p in patterns)
    tags = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))

    def cleaned(tree: _Element) -> list[_Element]:
        found = []
        for el in tree.iterdescendants(Element):
            tag = el.tag
            if tag in tags:
                found.append(el)
                continue
            if not el.attrib:
                continue
            cls, ident = el.get("class"), el.get("id")
            if ((tag == "div" and (cls is not None or ident is not None) and "footer" in _first_of(el, "class", "id"))
                    or (cls is not None and class_search(cls)) or (ident is not None and id_search(ident))):
                found.append(el)
        return found

    return cleaned
