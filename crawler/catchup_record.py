"""One archived article record analysed for the catch-up: the whole of what a pool worker imports.

A pool worker (crawler/catchup_pool.py) runs :class:`RecordTask` and nothing else, so this module
imports only warcio, the page decoding of crawler/http_text.py and the analysis (extraction,
signals, payload): not Scrapy, not the archive package (its index imports surt, tldextract and
requests), not the detector. A worker was 130-136 MB resident after its pages with
``crawler.catchup`` imported, 103 MB with this module (150 realistic pages, measured here).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.dedup.analysis import analyse_page
from crawler.dedup.extract import ExtractionError
from crawler.dedup.features import Article, Signals
from crawler.dedup.payload import build_payload, encode
from crawler.http_text import DecodeError, page_text

#: ``crawler.archive.warcscan.PARSE_ERRORS`` (a test keeps them equal): what a damaged record raises.
PARSE_ERRORS = (ArchiveLoadFailed, EOFError, zlib.error, ValueError, TypeError, KeyError, IndexError)


@dataclass(frozen=True)
class RecordTask:
    """One article record to analyse, in plain values (what a pool worker is sent). Calling it analyses."""

    raw: bytes  # the record as stored: one gzip member
    filename: str
    offset: int
    url: str
    source: str
    lang: str
    fallbacks: tuple[str, ...]  # the source language's fallback charsets
    max_size: int

    def __call__(self) -> RecordAnalysis:
        return analyse_record(self)


@dataclass(frozen=True)
class RecordAnalysis:
    """One article record analysed: what the catch-up's own process needs to add the article to the
    catalog and write its metadata record. ``status``: ``ok``, or why there is nothing to add
    (``unreadable``, ``undecodable``, ``not_html``, ``no_text``; ``message`` says more)."""

    url: str
    status: str
    message: str = ""
    article: Article | None = None
    signals: Signals | None = None
    record_id: str = ""
    fetched_at: str | None = None
    block: bytes = b""  # the metadata record's block


def analyse_record(task: RecordTask) -> RecordAnalysis:
    """Parse the record, decode its page as the spider did, extract and compute signals
    (``analyse_page``, as the crawl does) and encode the metadata block. Depends on the record's
    bytes alone: a pool worker and the catch-up's own process give the same answer."""
    url = task.url
    try:
        record, payload = _parse_record(task.raw)
    except (*PARSE_ERRORS, StopIteration) as e:
        return RecordAnalysis(url, "unreadable", _unreadable(task.filename, task.offset, e))
    try:
        html = page_text(url, list(record.http_headers.headers) if record.http_headers is not None else [],
                         payload, list(task.fallbacks), task.max_size)
    except DecodeError as e:
        return RecordAnalysis(url, "undecodable", str(e))
    if html is None:
        return RecordAnalysis(url, "not_html")
    record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
    fetched_at = record.rec_headers.get_header("WARC-Date")
    try:
        article, signals = analyse_page(html, url, lang=task.lang, source=task.source, fetched_at=fetched_at,
                                        warc_record_id=record_id or None)
    except ExtractionError as e:
        return RecordAnalysis(url, "no_text", str(e))
    status = record.http_headers.get_statuscode() if record.http_headers is not None else None
    block = encode(build_payload(article, signals, status=int(status) if status and status.isdigit() else None))
    return RecordAnalysis(url, "ok", "", article, signals, record_id, fetched_at, block)


def _parse_record(raw: bytes) -> tuple[Any, bytes]:
    """``crawler.archive.retrieve.parse_record`` without its error wrapping: ``(record, payload)``."""
    record = next(iter(ArchiveIterator(io.BytesIO(raw), check_digests=False)))
    payload = record.raw_stream.read() if record.rec_type != "revisit" else b""
    return record, payload


def _unreadable(filename: str, offset: int, error: BaseException) -> str:
    """The message of ``crawler.archive.warcscan.UnreadableWarc.at(filename, offset, error)``."""
    first = (str(error).splitlines() or [type(error).__name__])[0][:120]
    return f"{filename} at offset {offset}: not a readable WARC record ({first}); `newsarchive verify` lists the damage"
