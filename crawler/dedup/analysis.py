"""One archived article page in, the detector's inputs out: extraction, then signals.

The crawl's dedup process and the catch-up over stored WARCs both call ``analyse_page``, so an
article analysed late (deferred, missed by a crash, or fetched by another worker) gets exactly
the fields and signals it would have got in the crawl.
"""

from __future__ import annotations

from crawler.dedup.extract import extract
from crawler.dedup.features import Article, Signals, compute_signals


def analyse_page(html: str, url: str, *, lang: str | None = None, source: str = "",
                 fetched_at: str | None = None, warc_record_id: str | None = None) -> tuple[Article, Signals]:
    """Extract the main text of ``html`` and compute its signals.

    The text's own language wins over ``lang`` (the source's declared one): a site declared "en"
    may carry Chinese posts, and the detector compares by language. Raises
    ``crawler.dedup.extract.ExtractionError`` when the page has no main text."""
    ex = extract(html, url)
    article = Article(
        url=url,
        lang=ex.detected_lang or lang or ex.lang or "en",
        text=ex.text,
        title=ex.title,
        source=source,
        published=ex.published,
        fetched_at=fetched_at,
        warc_record_id=warc_record_id,
        author=ex.author,
    )
    return article, compute_signals(article)
