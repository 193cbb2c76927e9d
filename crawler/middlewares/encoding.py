"""Downloader middlewares for encodings: what we accept on the wire, and charset fallbacks."""

from __future__ import annotations

import codecs
import logging
from typing import Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response, TextResponse

from crawler import http_text
from crawler.meta import LANG_META_KEY

logger = logging.getLogger(__name__)



def _brotli_available() -> bool:
    try:
        import brotli  # noqa: F401
    except ImportError:
        return False
    return True


class AcceptEncodingMiddleware:
    """Send only encodings that warcio and pywb can decode: never zstd, br only with brotli."""

    def __init__(self, encodings: list[str]) -> None:
        usable = [e for e in encodings if e in ("gzip", "deflate") or (e == "br" and _brotli_available())]
        self.header = ", ".join(usable).encode() if usable else b"identity"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getlist("ACCEPT_ENCODINGS"))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        request.headers[b"Accept-Encoding"] = self.header


class CharsetFallbackMiddleware:
    """A page that declares no charset and is not valid UTF-8 is decoded with the source language's
    fallbacks (gb18030 for zh): Scrapy guesses cp1252 for a short GBK page."""

    def __init__(self, crawler: Crawler, fallbacks: dict[str, list[str]]) -> None:
        self.crawler = crawler
        self.fallbacks = {lang: [codecs.lookup(e).name for e in encs] for lang, encs in fallbacks.items()}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, crawler.settings.getdict("ENCODING_FALLBACKS"))

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if not isinstance(response, HtmlResponse):
            return response
        enc = fallback_encoding(response, self.fallbacks.get(request.meta.get(LANG_META_KEY, ""), []))
        if enc is None:
            return response
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"encoding/fallback/{enc}")
        return response.replace(encoding=enc)


def fallback_encoding(response: TextResponse, fallbacks: list[str]) -> str | None:
    """The first of ``fallbacks`` that decodes a page declaring no charset and not valid UTF-8;
    None when the page needs none (the dedup catch-up decodes archived pages the same way:
    ``crawler.http_text.fallback_encoding`` over the plain values, which this calls)."""
    return http_text.fallback_encoding(response.headers.get(b"Content-Type") or b"", response.body, fallbacks)
