"""Main text and metadata of an HTML page with trafilatura (markdown, links kept for source detection)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.dedup.sourcelinks import TRANSLATION_MARKERS
from crawler.dedup.normalize import SOURCE_LINE_MARKERS


class ExtractionError(Exception):
    """trafilatura found no main text (the caller counts it)."""


@dataclass
class Extracted:
    text: str  # markdown; source lines ("本文翻译自：url") appended when trafilatura dropped them
    title: str
    published: str | None  # YYYY-MM-DD as htmldate finds it
    author: str | None
    lang: str | None  # from the page, if it says


_BLOCKS = ("p", "div", "li", "section", "span", "td", "blockquote", "footer", "small", "em", "strong")
_URL_RE = re.compile(r"https?://\S+")


def _source_lines(tree) -> list[str]:
    """``marker：url`` for each short block that names a source. trafilatura drops link-dense
    paragraphs as boilerplate, and a source line is exactly that."""
    out: list[str] = []
    markers = tuple(m.strip() for m in SOURCE_LINE_MARKERS + TRANSLATION_MARKERS)
    for el in tree.iter(*_BLOCKS):
        text = " ".join(el.text_content().split())
        if not text or len(text) > 300:
            continue
        low = text.lower()
        if not any(0 <= low.find(m) <= 12 for m in markers):
            continue
        urls = [a.get("href") for a in el.iter("a") if a.get("href", "").startswith(("http://", "https://"))]
        urls += _URL_RE.findall(text)
        if urls:
            label = text.split("http")[0].strip() or text[:20]
            line = f"{label} {' '.join(dict.fromkeys(urls))}"
            if line not in out:
                out.append(line)
    return out


def extract(html: str, url: str | None = None) -> Extracted:
    """Extract one page; raises ExtractionError when there is no main text."""
    import lxml.html
    import trafilatura
    from trafilatura.metadata import extract_metadata

    if not html or not html.strip():
        raise ExtractionError("empty page")
    try:
        tree = lxml.html.fromstring(html)
        text = trafilatura.extract(
            tree,
            url=url,
            output_format="markdown",
            include_links=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            deduplicate=False,
        )
        meta = extract_metadata(tree, default_url=url)
        sources = _source_lines(tree)
    except (ValueError, TypeError, AttributeError, lxml.etree.ParserError) as e:
        raise ExtractionError(f"trafilatura failed: {e}") from e
    if not text or not text.strip():
        raise ExtractionError("no main text")
    extra = [line for line in sources if not all(u in text for u in _URL_RE.findall(line))]
    if extra:
        text = text.rstrip("\n") + "\n\n" + "\n".join(extra) + "\n"
    lang = None
    html_lang = tree.get("lang") or ""
    if html_lang:
        lang = html_lang.split("-")[0].lower()
    return Extracted(
        text=text,
        title=((meta.title if meta else None) or "").strip(),
        published=meta.date if meta else None,
        author=meta.author if meta else None,
        lang=lang,
    )
