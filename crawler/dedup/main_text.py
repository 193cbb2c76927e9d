"""trafilatura's main text of a parsed page, run on the article's container alone when that gives the whole page's text.

trafilatura's cost grows with the tree it cleans, prunes and measures. Its first body rule
picks the article's container (``itemprop="articleBody"``, ``entry-content``, ``js_content``...);
on a news page that container is a fifth of the DOM, and trafilatura's recall check then measures
the whole page's text (html2txt: about a third of its time on a 14 KB page). Here the container
is given to trafilatura as a page of its own, and its answer is kept only when the whole page
provably (or, for two steps, with a wide margin) takes the same path through trafilatura:

- the container is the first element the body rule matches in the raw page, and no ancestor is
  one trafilatura deletes before looking (only html/body/div/main/article/section ancestors,
  none named like a comment section or an infinite-scroll block);
- the rule succeeds on it (at least two blocks come out) with enough text that trafilatura's
  short-text rescues (wild text, baseline: below 250 characters) do not run;
- trafilatura's recall escalation (a result under 3,000 characters and under a fifth of the
  page's text) cannot fire on the whole page: the page's text is bounded from above without
  trafilatura's html2txt pass;
- the container's paragraphs hold at least ``_MIN_PARAGRAPH_TEXT`` characters (trafilatura looks
  at the paragraph text of the whole document to decide whether to take text-bearing divs).

Otherwise the whole page is extracted. On the container and on the whole page, ``trafilatura_steps``
first calls trafilatura's own steps directly (skipping the copies and passes whose results are
never read); when one of the paths it leaves out could run, trafilatura itself runs.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from lxml.html import HtmlElement
    from trafilatura.settings import Extractor

_CONTAINER_ANCESTORS = frozenset(("html", "body", "div", "main", "article", "section"))
# Ancestors trafilatura prunes from the raw tree (comment sections, infinite-scroll blocks, its
# RAW_TREE_PRUNE_XPATH and REMOVE_COMMENTS_AND_LISTS_XPATH), matched more widely here.
_PRUNED_ANCESTOR_RE = re.compile(r"comment|disqus|dsq-|infinite|mvp-post-add", re.IGNORECASE)
# trafilatura takes text-bearing divs when the document's paragraphs hold under 750 characters
# (3 x MIN_EXTRACTED_SIZE); the container's must clear that with room for what its pruning drops.
_MIN_PARAGRAPH_TEXT = 1000
# Below this the whole page can take trafilatura's short-text paths (rescues at 250 characters).
_MIN_TEXT = 750
# trafilatura's recall escalation (core.py): results under this length covering under this share
# of the page's text are retried in recall mode.
_ESCALATION_MAX_LENGTH = 3000
_ESCALATION_PAGE_SHARE = 0.2


def main_text(tree: HtmlElement, options: Extractor) -> str | None:
    """trafilatura's markdown for ``tree`` (left as it was), from its article container when possible."""
    import trafilatura

    from crawler.dedup import trafilatura_steps

    container = _container(tree)
    if container is not None:
        # trafilatura's steps that shape the text when they are all that would run; "": the
        # container's text is not the page's
        text = None
        if trafilatura_steps.available():
            text = trafilatura_steps.container_markdown(
                container, options, _MIN_TEXT, lambda: _ESCALATION_PAGE_SHARE * _page_text_bound(tree))
        if text is None:
            text = _container_text(tree, container, options)
            if text is not None:
                return text
        elif text:
            return text
    # the whole page: trafilatura's steps again when they are all that would run
    text = trafilatura_steps.page_markdown(tree, options) if trafilatura_steps.available() else None
    return text if text is not None else trafilatura.extract(tree, options=options)


def _container(tree: HtmlElement) -> HtmlElement | None:
    """The element trafilatura's first body rule picks, if trafilatura will see it there."""
    try:
        from crawler.dedup.trafilatura_xpaths import body_rule

        rule = body_rule()
    except ImportError:  # another trafilatura: the whole page, as before
        return None
    container = rule(tree)
    if container is None or container.getparent() is None:
        return None
    for ancestor in container.iterancestors():
        if ancestor.tag not in _CONTAINER_ANCESTORS:
            return None
        if _PRUNED_ANCESTOR_RE.search(f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"):
            return None
    if sum(map(len, _paragraph_text_below()(container))) < _MIN_PARAGRAPH_TEXT:
        return None
    return container


@cache
def _paragraph_text_below() -> Callable[[HtmlElement], list[str]]:
    """``.xpath(".//p//text()", smart_strings=False)``, compiled once (an ``.xpath`` call parses and
    compiles its expression each time: 10 us)."""
    from lxml.etree import XPath

    return XPath(".//p//text()", smart_strings=False)


def _container_text(tree: HtmlElement, container: HtmlElement, options: Extractor) -> str | None:
    """trafilatura on the container as a page of its own; None when the whole page may differ."""
    import trafilatura

    try:
        from trafilatura.core import determine_returnstring
    except ImportError:
        return None
    parent = container.getparent()
    index = parent.index(container)
    page = tree.makeelement("html")
    page.append(tree.makeelement("body"))
    page[0].append(container)  # moved, with its tail; trafilatura works on a copy
    try:
        document = trafilatura.bare_extraction(page, options=options)
    finally:
        parent.insert(index, container)
    if document is None or isinstance(document, dict):
        return None
    raw = document.raw_text or ""
    if len(raw) < _MIN_TEXT or sum(el.tag != "graphic" for el in document.body) < 2:
        return None
    if len(raw) < _ESCALATION_MAX_LENGTH and len(raw) < _ESCALATION_PAGE_SHARE * _page_text_bound(tree):
        return None
    return determine_returnstring(document, options)


def _page_text_bound(tree: HtmlElement) -> int:
    """At least the length of trafilatura's html2txt of the page: the body's text with whitespace
    collapsed, plus two for each element (html2txt spaces every block's text and tail; each space
    splits at most one word) and deletes some elements (which never lengthens it)."""
    body = tree.find(".//body")
    root = tree if body is None else body
    return len(" ".join(root.text_content().split())) + 2 * int(root.xpath("count(.//*)"))
