"""The encoding middlewares on their own: what we accept on the wire, and charset fallbacks."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.middlewares.encoding import AcceptEncodingMiddleware, CharsetFallbackMiddleware

# Short enough that Scrapy's own guess is wrong (cp949): the case the fallback exists for.
GBK_TEXT = "勒索软件防护指南"
GBK_PAGE = f"<p>{GBK_TEXT}</p>".encode("gbk")


def accept_header(encodings: list[str]) -> bytes:
    mw = build_from_crawler(AcceptEncodingMiddleware, get_crawler(settings_dict={"ACCEPT_ENCODINGS": encodings}))
    request = Request("http://news.example/", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert mw.process_request(request) is None
    return request.headers[b"Accept-Encoding"]


def test_only_encodings_warcio_and_pywb_decode_are_sent() -> None:
    assert accept_header(["gzip", "deflate", "br", "zstd"]) == b"gzip, deflate, br"
    assert accept_header(["zstd", "compress"]) == b"identity"
    assert accept_header([]) == b"identity"


def test_the_project_default_is_sent() -> None:
    from crawler import settings

    assert accept_header(settings.ACCEPT_ENCODINGS) == b"gzip, deflate, br"


@pytest.fixture
def fallback() -> CharsetFallbackMiddleware:
    crawler = get_crawler(settings_dict={"ENCODING_FALLBACKS": {"zh": ["GB18030"], "en": ["cp1252"]}})
    crawler.stats.open_spider()
    return build_from_crawler(CharsetFallbackMiddleware, crawler)


def html(body: bytes, content_type: bytes = b"text/html") -> HtmlResponse:
    return HtmlResponse("http://news.example/p", body=body, headers={"Content-Type": content_type})


def page_request(lang: str) -> Request:
    return Request("http://news.example/p", meta={"lang": lang})


def test_a_chinese_page_without_charset_is_read_as_gb18030(fallback: CharsetFallbackMiddleware) -> None:
    response = html(GBK_PAGE)
    assert GBK_TEXT not in response.text  # Scrapy's own guess for a short GBK page
    fixed = fallback.process_response(page_request("zh"), response)
    assert fixed.encoding == "gb18030"
    assert GBK_TEXT in fixed.text
    assert fixed.body == GBK_PAGE  # bytes untouched
    assert fallback.crawler.stats.get_value("encoding/fallback/gb18030") == 1


@pytest.mark.parametrize("response", [
    html(GBK_PAGE, b"text/html; charset=gbk"),  # declared in the header
    html(b'<meta charset="gbk">' + GBK_PAGE),  # declared in the page
    html(b"\xef\xbb\xbf" + "安全".encode()),  # a BOM
    html("<p>安全新闻</p>".encode()),  # valid UTF-8
])
def test_declared_or_valid_utf8_pages_are_left_alone(fallback: CharsetFallbackMiddleware, response) -> None:
    assert fallback.process_response(page_request("zh"), response) is response
    assert fallback.crawler.stats.get_value("encoding/fallback/gb18030") is None


def test_no_fallback_for_other_languages_or_non_html(fallback: CharsetFallbackMiddleware) -> None:
    response = html(GBK_PAGE)
    assert fallback.process_response(page_request("fr"), response) is response
    assert fallback.process_response(Request("http://news.example/p"), response) is response
    text = TextResponse("http://news.example/t", body=GBK_PAGE, headers={"Content-Type": b"text/plain"})
    assert fallback.process_response(page_request("zh"), text) is text


def test_a_fallback_that_cannot_decode_the_page_is_skipped(fallback: CharsetFallbackMiddleware) -> None:
    undecodable = b"<p>\x81\x20\xff\xfe</p>"  # neither UTF-8 nor GB18030
    response = html(undecodable)
    assert fallback.process_response(page_request("zh"), response) is response
    en = fallback.process_response(page_request("en"), html(b"<p>caf\xe9</p>"))
    assert en.encoding == "cp1252" and "café" in en.text
