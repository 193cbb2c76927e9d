"""PageItem: the article item, the contract between the spider, the dedup pipeline and the feed export.

Scrapy handles dataclass items through itemadapter; components read and write them with
``ItemAdapter(item)`` (as the dedup pipeline does), so dict items keep working too. Every field has
a default: itemadapter treats a field without one as absent once deleted, and reading it then
raises instead of giving ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class PageItem:
    """One article page. The spider fills the first block; the dedup pipeline the second and drops ``html``."""

    # -- the spider (crawler/spiders/news.py) ----------------------------------------------
    url: str
    source: str
    #: The source's declared language; the dedup pipeline replaces it with the text's own.
    lang: str
    status: int
    #: WARC-Date and WARC-Record-ID of the response record this page was archived as.
    fetched_at: str | None = None
    warc_record_id: str | None = None
    #: The decoded page, for the pipeline only: never exported (see EXPORT_FIELDS).
    html: str | None = None

    # -- the dedup pipeline (crawler/pipelines/dedup.py) -----------------------------------
    #: Near-duplicates and translations found when the article was added: url, kind, score, ...
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    #: The source's declared language when the text's differs (``lang`` is then the text's).
    source_lang: str | None = None
    title: str | None = None
    published: str | None = None
    text: str | None = None
    #: The article's fingerprints (simhash, anchors, terms, ...), as stored in the WARC metadata record.
    signals: dict[str, Any] | None = None


#: What a feed export (``newsarchive crawl -O articles.jsonl``, FEED_EXPORT_FIELDS) writes, in this order.
EXPORT_FIELDS = [f.name for f in fields(PageItem) if f.name != "html"]
