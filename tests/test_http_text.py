"""crawler/http_text.py gives the text Scrapy's classes give (the catch-up's old decoding, kept here as
the reference), on hostile inputs: wrong and missing charsets, BOMs, compressed and damaged bodies,
lying or repeated headers, bodies that are not HTML."""

from __future__ import annotations

import codecs
import gzip
import zlib
from typing import Any

import pytest
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import ResponseTypes, responsetypes
from warcio.statusandheaders import StatusAndHeaders

from crawler.archive import retrieve
from crawler.http_text import RESPONSE_CLASSES, DecodeError, PayloadTooLarge, decode_content, page_text, response_class
from crawler.middlewares.encoding import fallback_encoding

URL = "http://127.0.0.1:8000/en/2026/01/1.html"
MAX = 1 << 20
GB18030 = ["gb18030"]
ZH = "<html><head><title>标题</title></head><body><p>中文新闻正文，测试编码。</p></body></html>"
EN = "<html><head><title>Café</title></head><body><p>naïve résumé — “quotes”</p></body></html>"


def scrapy_page_html(url: str, pairs: list[tuple[str, str]], payload: bytes, fallbacks: list[str],
                     max_size: int) -> str | None:
    """The catch-up's decoding before crawler/http_text.py: Scrapy's own classes."""
    http_headers = StatusAndHeaders("200 OK", pairs, protocol="HTTP/1.1")
    body = retrieve.decode_content(payload, http_headers.get_header("Content-Encoding"), max_size)
    headers = Headers([(k, v) for k, v in pairs if k.lower() != "content-encoding"])
    if not issubclass(responsetypes.from_args(headers=headers, url=url, body=body), HtmlResponse):
        return None
    response = HtmlResponse(url=url, body=body, headers=headers)
    encoding = fallback_encoding(response, fallbacks)
    if encoding is not None:
        response = response.replace(encoding=encoding)
    try:
        return response.text
    except Exception:
        return body.decode("utf-8", "replace")


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except DecodeError as e:
        return type(e).__name__, str(e)


HTML = "text/html"
CASES: list[tuple[str, str, list[tuple[str, str]], bytes, list[str]]] = [
    ("utf-8 declared", URL, [("Content-Type", "text/html; charset=utf-8")], EN.encode(), []),
    ("gbk declared as utf-8", URL, [("Content-Type", "text/html; charset=utf-8")], ZH.encode("gbk"), GB18030),
    ("gbk undeclared, fallback", URL, [("Content-Type", HTML)], ZH.encode("gbk"), GB18030),
    ("gbk undeclared, no fallback", URL, [("Content-Type", HTML)], ZH.encode("gbk"), []),
    ("short gbk undeclared", URL, [("Content-Type", HTML)], "<p>中文</p>".encode("gbk"), []),
    ("cp1252 undeclared", URL, [("Content-Type", HTML)], EN.encode("cp1252"), []),
    ("latin-1 undeclared", URL, [("Content-Type", HTML)], "<p>Café naïve</p>".encode("latin-1"), GB18030),
    ("cp1252 in meta", URL, [("Content-Type", HTML)],
     b'<html><head><meta charset="windows-1252"></head><body>\x93q\x94 \x80</body></html>', GB18030),
    ("http-equiv meta gbk", URL, [("Content-Type", HTML)],
     b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">' + ZH.encode("gbk"), []),
    ("header beats meta", URL, [("Content-Type", "text/html; charset=iso-8859-1")],
     b'<meta charset="utf-8">' + EN.encode("utf-8"), []),
    ("utf-8 BOM beats header", URL, [("Content-Type", "text/html; charset=gbk")], codecs.BOM_UTF8 + EN.encode(), []),
    ("utf-16 BOM", URL, [("Content-Type", HTML)], codecs.BOM_UTF16_LE + EN.encode("utf-16-le"), GB18030),
    ("unknown charset", URL, [("Content-Type", "text/html; charset=x-no-such")], EN.encode(), []),
    ("quoted charset", URL, [("Content-Type", 'text/html; charset="GB2312"')], ZH.encode("gb2312"), []),
    ("charset utf-16 without BOM", URL, [("Content-Type", "text/html; charset=utf-16")], EN.encode("utf-16-be"), []),
    ("undecodable as declared", URL, [("Content-Type", "text/html; charset=ascii")], ZH.encode(), []),
    ("gzip", URL, [("Content-Type", HTML), ("Content-Encoding", "gzip")], gzip.compress(ZH.encode()), []),
    ("x-gzip upper-case name", URL, [("content-type", HTML), ("CONTENT-ENCODING", "x-gzip")],
     gzip.compress(EN.encode()), []),
    ("raw deflate", URL, [("Content-Type", HTML), ("Content-Encoding", "deflate")],
     zlib.compress(EN.encode())[2:-4], []),
    ("stacked", URL, [("Content-Type", HTML), ("Content-Encoding", "deflate, gzip")],
     gzip.compress(zlib.compress(EN.encode())), []),
    ("two content-encodings", URL, [("Content-Type", HTML), ("Content-Encoding", "gzip"), ("Content-Encoding", "br")],
     gzip.compress(EN.encode()), []),
    ("damaged gzip", URL, [("Content-Type", HTML), ("Content-Encoding", "gzip")], gzip.compress(EN.encode())[:-30] + b"x" * 30, []),
    ("not compressed at all", URL, [("Content-Type", HTML), ("Content-Encoding", "gzip")], EN.encode(), []),
    ("unknown coding", URL, [("Content-Type", HTML), ("Content-Encoding", "zstd")], EN.encode(), []),
    ("gzip bomb", URL, [("Content-Type", HTML), ("Content-Encoding", "gzip")], gzip.compress(b"<html>" + b" " * (2 * MAX)), []),
    ("json", URL, [("Content-Type", "application/json")], b'{"a": "<html>"}', []),
    ("image", URL, [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00\x00", []),
    ("plain text", URL, [("Content-Type", "text/plain; charset=utf-8")], EN.encode(), []),
    ("xhtml", URL, [("Content-Type", "application/xhtml+xml")], EN.encode(), []),
    ("two content-types, the last wins", URL, [("Content-Type", "application/json"), ("content-type", HTML)],
     ZH.encode("gbk"), GB18030),
    ("no content-type, .html url", URL, [], ZH.encode(), []),
    ("no content-type, body sniffed", "http://127.0.0.1:8000/a/1", [], b"<!DOCTYPE html><p>x</p>", []),
    ("no content-type, binary body", "http://127.0.0.1:8000/a/1", [], b"<html>\x01\x02", []),
    ("no content-type, xml body", "http://127.0.0.1:8000/a/1", [], b"<?xml version='1.0'?><html>", []),
    ("octet-stream, disposition .html", "http://127.0.0.1:8000/a/1",
     [("Content-Type", "application/octet-stream"), ("Content-Disposition", 'attachment; filename="a.html"')],
     EN.encode(), []),
    ("disposition without filename", "http://127.0.0.1:8000/a/1.pdf", [("Content-Disposition", "inline")], b"%PDF", []),
    ("disposition .html.gz", "http://127.0.0.1:8000/a/1", [("Content-Disposition", "attachment; filename=a.html.gz")],
     EN.encode(), []),
    ("latin-1 header value", URL, [("Content-Type", "text/html; charset=utf-8; x=é")], EN.encode(), []),
    ("empty body", URL, [("Content-Type", HTML)], b"", GB18030),
]


@pytest.mark.parametrize(("url", "pairs", "payload", "fallbacks"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_text_is_scrapys(url: str, pairs: list[tuple[str, str]], payload: bytes, fallbacks: list[str]) -> None:
    ours = outcome(page_text, url, pairs, payload, fallbacks, MAX)
    theirs = outcome(scrapy_page_html, url, pairs, payload, fallbacks, MAX)
    assert (ours[0].replace("PayloadTooLarge", "DecodeError"), ours[1]) == \
        (theirs[0].replace("PayloadTooLarge", "DecodeError"), theirs[1])


def test_the_cases_reach_every_outcome() -> None:
    """The cases above are hostile enough: some pages decode, some are not HTML, some do not inflate."""
    outcomes = [outcome(page_text, *c[1:], MAX) for c in CASES]
    assert {"ok", "DecodeError", "PayloadTooLarge"} <= {kind for kind, _ in outcomes}
    assert any(kind == "ok" and text is None for kind, text in outcomes)
    assert ("ok", ZH) in outcomes  # the GBK page with its fallback
    assert outcome(page_text, URL, [("Content-Type", HTML)], ZH.encode("gbk"), GB18030, MAX) == ("ok", ZH)


@pytest.mark.parametrize("content_type", [
    "text/html", "TEXT/HTML; charset=utf-8", " text/html ;", "text/xml", "text/x-foo", "application/xml",
    "application/rss+xml", "application/json", "application/octet-stream", "image/jpeg", "", ";", "html",
    "application/vnd.wap.xhtml+xml", "application/javascript", "multipart/mixed",
])
@pytest.mark.parametrize("url", [URL, "http://127.0.0.1:8000/feed.xml", "http://127.0.0.1:8000/a.json",
                                 "http://127.0.0.1:8000/a.tar.gz", "http://127.0.0.1:8000/a"])
def test_the_response_class_is_scrapys(content_type: str, url: str) -> None:
    for body in (b"", b"<html>", b"<?XML", b"\x00\x07", b"plain"):
        pairs = [("Content-Type", content_type)] if content_type else []
        expected = responsetypes.from_args(headers=Headers(pairs), url=url, body=body)
        headers = {k.title().encode(): [v.encode()] for k, v in pairs}
        assert response_class(headers, url, body) == f"scrapy.http.{expected.__name__}", (pairs, url, body)


def test_the_copied_tables_match_scrapy() -> None:
    assert RESPONSE_CLASSES == ResponseTypes.CLASSES


@pytest.mark.parametrize(("payload", "coding", "expected"), [
    (gzip.compress(b"x" * 100), "gzip", ("ok", b"x" * 100)),
    (b"plain", None, ("ok", b"plain")),
    (b"plain", "identity", ("ok", b"plain")),
    (zlib.compress(b"y" * 10), "deflate", ("ok", b"y" * 10)),
    (zlib.compress(b"y")[2:-4], "deflate", ("ok", b"y")),  # raw deflate, as many servers send
    (gzip.compress(gzip.compress(b"w")), "gzip, x-gzip", ("ok", b"w")),  # stacked, undone last first
    (b"", ", ,", ("ok", b"")),
    (b"\x1f\x8bbad", "gzip", ("DecodeError", None)),
    (b"a", "compress", ("DecodeError", "unsupported Content-Encoding 'compress'")),
    (gzip.compress(b"z" * (MAX + 1)), "gzip", ("PayloadTooLarge", None)),  # a bomb stays a bomb
])
def test_content_decoding(payload: bytes, coding: str | None, expected: tuple[str, Any]) -> None:
    kind, value = outcome(decode_content, payload, coding, MAX)
    assert kind == expected[0]
    if expected[1] is not None:
        assert value == expected[1]


def test_the_archive_reader_and_the_catch_up_share_one_decoder() -> None:
    """``get`` and the catch-up's workers undo Content-Encoding with the same code and errors."""
    assert retrieve.decode_content is decode_content
    assert retrieve.DecodeError is DecodeError and issubclass(PayloadTooLarge, retrieve.DecodeError)
