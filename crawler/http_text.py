"""An archived HTTP response's page text, decoded as the spider's Scrapy decoded it, without importing Scrapy.

The catch-up's pool workers analyse archived pages and must get the text the crawl got: Scrapy's
choice of response class (``scrapy.responsetypes``), ``TextResponse.text``'s charset order (BOM,
Content-Type, ``<meta>``, then detection) and our charset fallbacks
(``crawler.middlewares.encoding.fallback_encoding``). Importing ``scrapy.http`` for that cost each
worker 32 MB of resident memory (Scrapy, Twisted, parsel; measured with ``-X importtime`` and
``/proc/self/statm``), a tenth of the whole crawl's budget beside the catch-up's catalog. Here the
same decisions are made over plain values with the same w3lib functions Scrapy calls;
tests/test_http_text.py checks the answers against Scrapy's own classes on hostile inputs, and
that the tables copied here still match Scrapy's.

Content-Encoding is undone here for the archive reader too (``crawler.archive.retrieve`` imports
``decode_content`` from this module, which keeps a worker from importing the whole archive
package, 12 MB more per worker).
"""

from __future__ import annotations

import codecs
import functools
import importlib.util
import re
import zlib
from mimetypes import MimeTypes
from pathlib import Path

from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

from crawler.errors import NewsarchiveError

#: ``scrapy.responsetypes.ResponseTypes.CLASSES`` (a test keeps them equal): media type -> class.
RESPONSE_CLASSES = {
    "text/html": "scrapy.http.HtmlResponse",
    "application/atom+xml": "scrapy.http.XmlResponse",
    "application/rdf+xml": "scrapy.http.XmlResponse",
    "application/rss+xml": "scrapy.http.XmlResponse",
    "application/xhtml+xml": "scrapy.http.HtmlResponse",
    "application/vnd.wap.xhtml+xml": "scrapy.http.HtmlResponse",
    "application/xml": "scrapy.http.XmlResponse",
    "application/json": "scrapy.http.JsonResponse",
    "application/x-json": "scrapy.http.JsonResponse",
    "application/json-amazonui-streaming": "scrapy.http.JsonResponse",
    "application/javascript": "scrapy.http.TextResponse",
    "application/x-javascript": "scrapy.http.TextResponse",
    "text/xml": "scrapy.http.XmlResponse",
    "text/*": "scrapy.http.TextResponse",
}
HTML_CLASS = "scrapy.http.HtmlResponse"
#: Scrapy's base ``Response``: no class decided yet.
_RESPONSE = "scrapy.http.Response"
#: ``scrapy.utils.python._BINARYCHARS``: control bytes that make a body binary.
_BINARY_BYTES = frozenset(i for i in range(32) if i not in (0, 9, 10, 13))
#: ``TextResponse._DEFAULT_ENCODING``
_DEFAULT_ENCODING = "ascii"
#: As crawler/middlewares/encoding.py: a page that names its charset in a ``<meta>``.
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=", re.IGNORECASE)


class DecodeError(NewsarchiveError, ValueError):
    """The payload's Content-Encoding cannot be undone within limits (``get`` and the catch-up alike)."""


class PayloadTooLarge(DecodeError):
    """Decoding would exceed the ceiling (a stored compression bomb stays a bomb)."""


#: Ceiling for undoing a Content-Encoding (a stored gzip bomb stays a bomb).
MAX_DECODED_SIZE = 256 * 1024 * 1024


# -- Content-Encoding ----------------------------------------------------------------------------
def decode_content(payload: bytes, encoding: str | None, max_size: int = MAX_DECODED_SIZE) -> bytes:
    """``payload`` with its Content-Encoding (``gzip``, ``x-gzip``, ``deflate``, ``br``, stacked)
    undone, at most ``max_size`` bytes. Raises :class:`DecodeError`."""
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    data = payload
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, zlib.MAX_WBITS | 32, max_size)
        elif coding == "deflate":
            try:  # zlib-wrapped, as RFC 9110 says; many servers send raw deflate instead
                data = _inflate(data, zlib.MAX_WBITS, max_size)
            except PayloadTooLarge:
                raise
            except DecodeError:
                data = _inflate(data, -zlib.MAX_WBITS, max_size)
        elif coding == "br":
            from crawler.archive.warcio_brotli import BrotliDecodeError, BrotliDecompressor, BrotliSizeExceeded

            try:
                data = BrotliDecompressor(max_size).decompress(data)  # stops at max_size: a bomb stays one
            except ImportError as e:
                raise DecodeError("payload is brotli-encoded and brotli is not installed") from e
            except BrotliSizeExceeded as e:
                raise PayloadTooLarge(f"decoded payload exceeds {max_size} bytes (refusing to inflate further)") from e
            except BrotliDecodeError as e:
                raise DecodeError(str(e)) from e
        else:
            raise DecodeError(f"unsupported Content-Encoding {coding!r}")
    return data


def _inflate(data: bytes, wbits: int, max_size: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = bytearray()
    try:
        out += d.decompress(data, max_size + 1)
        while d.unconsumed_tail and len(out) <= max_size:
            out += d.decompress(d.unconsumed_tail, max_size + 1 - len(out))
    except zlib.error as e:
        raise DecodeError(f"bad compressed payload: {e}") from e
    if len(out) > max_size:
        raise PayloadTooLarge(f"decoded payload exceeds {max_size} bytes (refusing to inflate further)")
    return bytes(out)


# -- the page's text -----------------------------------------------------------------------------
def page_text(url: str, header_pairs: list[tuple[str, str]], payload: bytes, fallbacks: list[str],
              max_size: int) -> str | None:
    """The page's text as the spider got it, or None when Scrapy would not have made an
    ``HtmlResponse`` of it: Content-Encoding undone (within ``max_size``, else :class:`DecodeError`),
    then the charset Scrapy picks, unless the page declares none and is not UTF-8 (then the
    first of ``fallbacks``, codec names, that decodes it)."""
    pairs = list(header_pairs)
    # the first Content-Encoding, as warcio's ``get_header`` gives it
    body = decode_content(payload, next((v for k, v in pairs if k.lower() == "content-encoding"), None), max_size)
    # as HttpCompressionMiddleware leaves it: decoded, without Content-Encoding
    headers = _headers([(k, v) for k, v in pairs if k.lower() != "content-encoding"])
    if response_class(headers, url, body) != HTML_CLASS:
        return None
    content_type = _last(headers, b"Content-Type") or b""
    ct = content_type.decode("latin-1")
    override = fallback_encoding(content_type, body, fallbacks)
    try:
        declared = (override or read_bom(body)[0] or http_content_type_encoding(ct)
                    or html_body_declared_encoding(body))
        if declared:
            return html_to_unicode(f"charset={declared}", body)[1]
        return html_to_unicode(ct, body, auto_detect_fun=_auto_detect, default_encoding=_DEFAULT_ENCODING)[1]
    except Exception:  # as the spider does
        return body.decode("utf-8", "replace")


def fallback_encoding(content_type: bytes, body: bytes, fallbacks: list[str]) -> str | None:
    """``crawler.middlewares.encoding.fallback_encoding`` over plain values: the first of
    ``fallbacks`` that decodes a body declaring no charset and not valid UTF-8, else None."""
    if b"charset" in content_type.lower() or body[:3] == codecs.BOM_UTF8 \
            or body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or _META_CHARSET.search(body[:4096]):
        return None
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    for enc in fallbacks:
        try:
            body.decode(enc)
        except UnicodeDecodeError:
            continue
        return enc
    return None


def _auto_detect(text: bytes) -> str | None:
    """``TextResponse._auto_detect_fun``: ASCII, UTF-8, then charset_normalizer's guess."""
    for enc in (_DEFAULT_ENCODING, "utf-8"):
        try:
            text.decode(enc)
        except UnicodeError:
            continue
        return resolve_encoding(enc)
    from charset_normalizer import from_bytes

    match = from_bytes(text).best()
    return resolve_encoding(match.encoding) if match else None


# -- Scrapy's response class ----------------------------------------------------------------------
def _headers(pairs: list[tuple[str, str]]) -> dict[bytes, list[bytes]]:
    """``scrapy.http.Headers(pairs)``: names title-cased, values in order (the last one is the value)."""
    out: dict[bytes, list[bytes]] = {}
    for k, v in pairs:
        out.setdefault(k.title().encode("utf-8"), []).append(v.encode("utf-8"))
    return out


def _last(headers: dict[bytes, list[bytes]], name: bytes) -> bytes | None:
    values = headers.get(name)
    return values[-1] if values else None


def response_class(headers: dict[bytes, list[bytes]], url: str, body: bytes) -> str:
    """``scrapy.responsetypes.responsetypes.from_args(headers=..., url=..., body=...)``, by class path."""
    cls = _RESPONSE
    if b"Content-Type" in headers:
        if not _last(headers, b"Content-Encoding"):
            ct = (_last(headers, b"Content-Type") or b"").decode("latin-1")
            cls = _from_mimetype(ct.split(";")[0].strip().lower())
    if cls == _RESPONSE and b"Content-Disposition" in headers:
        disposition = (_last(headers, b"Content-Disposition") or b"").decode("latin-1", "replace")
        try:
            cls = _from_filename(disposition.split(";")[1].split("=")[1].strip("\"'"))
        except IndexError:
            cls = _RESPONSE
    if cls == _RESPONSE:
        cls = _from_filename(url)
    if cls == _RESPONSE:
        cls = _from_body(body)
    return cls


def _from_mimetype(mimetype: str) -> str:
    if mimetype in RESPONSE_CLASSES:
        return RESPONSE_CLASSES[mimetype]
    return RESPONSE_CLASSES.get(f"{mimetype.split('/', maxsplit=1)[0]}/*", _RESPONSE)


def _from_filename(filename: str) -> str:
    mimetype, encoding = _mimetypes().guess_type(filename)
    return _from_mimetype(mimetype) if mimetype and not encoding else _RESPONSE


def _from_body(body: bytes) -> str:
    chunk = body[:5000]
    if any(c in _BINARY_BYTES for c in chunk):
        return _from_mimetype("application/octet-stream")
    lower = chunk.lower()
    if b"<html>" in lower:
        return _from_mimetype("text/html")
    if b"<?xml" in lower:
        return _from_mimetype("text/xml")
    if b"<!doctype html>" in lower:
        return _from_mimetype("text/html")
    return _from_mimetype("text")


@functools.cache
def _mimetypes() -> MimeTypes:
    """Scrapy's table: the system's types, then scrapy/mime.types (found without importing Scrapy)."""
    types = MimeTypes()
    spec = importlib.util.find_spec("scrapy")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "mime.types"
        if path.is_file():
            with open(path, encoding="utf8") as f:
                types.readfp(f)
    return types
