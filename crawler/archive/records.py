"""WARC 1.1 records for one HTTP exchange: request, response, revisit, warcinfo, metadata.

Plain values in (an :class:`Exchange`), warcio records out. The HTTP header blocks are
serialised from the bytes Scrapy received, never re-encoded: warcio would percent-encode
a non-ASCII header value, which would change what the server sent.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from io import BytesIO
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date

WARC_VERSION = "WARC/1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"

#: Hop-by-hop and framing headers that Twisted consumes. The stored body is de-chunked,
#: so the record states its real length instead (Browsertrix keeps originals as X-Orig-*).
FRAMING_HEADERS = frozenset({b"transfer-encoding", b"content-length", b"connection", b"keep-alive"})


@dataclass
class Exchange:
    """One HTTP request and its response, as they crossed the wire (body de-chunked, still encoded)."""

    url: str
    method: str
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    status: int
    reason: str
    protocol: str
    response_headers: list[tuple[bytes, bytes]]
    body: bytes
    ip_address: str | None = None
    date: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    response_id: str = field(default_factory=lambda: make_record_id())
    request_id: str = field(default_factory=lambda: make_record_id())


def make_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(dt: datetime) -> str:
    """WARC 1.1 date: UTC, microseconds."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return datetime_to_iso_date(dt, use_micros=True)


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


class RawHttpHeaders(StatusAndHeaders):
    """StatusAndHeaders whose serialised block is fixed bytes (the received ones)."""

    def __init__(self, statusline: str, headers: list[tuple[str, str]], protocol: str, raw: bytes):
        super().__init__(statusline, headers, protocol=protocol)
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter=None) -> None:  # noqa: ARG002 - warcio's signature
        pass


def _header_block(first_line: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    lines = [first_line]
    for name, value in headers:
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _as_text_pairs(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]


def response_header_pairs(exchange: Exchange) -> list[tuple[bytes, bytes]]:
    """The response headers as stored: framing replaced by the real Content-Length."""
    kept: list[tuple[bytes, bytes]] = []
    originals: list[tuple[bytes, bytes]] = []
    for name, value in exchange.response_headers:
        lower = name.lower()
        if lower in FRAMING_HEADERS:
            if lower == b"content-length" and value.strip() == str(len(exchange.body)).encode():
                continue
            originals.append((b"X-Orig-" + name, value))
            continue
        kept.append((name, value))
    kept.extend(originals)
    kept.append((b"Content-Length", str(len(exchange.body)).encode()))
    return kept


def reason_phrase(status: int, reason: str | None) -> str:
    if reason:
        return reason
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def response_http_headers(exchange: Exchange) -> RawHttpHeaders:
    pairs = response_header_pairs(exchange)
    phrase = reason_phrase(exchange.status, exchange.reason)
    statusline = f"{exchange.status} {phrase}".rstrip()
    first = f"{exchange.protocol} {statusline}".encode("latin-1", "replace")
    return RawHttpHeaders(statusline, _as_text_pairs(pairs), exchange.protocol, _header_block(first, pairs))


def request_http_headers(exchange: Exchange) -> RawHttpHeaders:
    parts = urlsplit(exchange.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    pairs: list[tuple[bytes, bytes]] = []
    if not any(n.lower() == b"host" for n, _ in exchange.request_headers):
        pairs.append((b"Host", parts.netloc.encode("idna") if not parts.netloc.isascii() else parts.netloc.encode()))
    pairs.extend(exchange.request_headers)
    if exchange.request_body and not any(n.lower() == b"content-length" for n, _ in pairs):
        pairs.append((b"Content-Length", str(len(exchange.request_body)).encode()))
    statusline = f"{exchange.method} {target}"
    first = f"{statusline} HTTP/1.1".encode("ascii", "replace")
    return RawHttpHeaders(f"{target} HTTP/1.1", _as_text_pairs(pairs), exchange.method, _header_block(first, pairs))


class RecordFactory:
    """Builds warcio records with WARC 1.1 headers; ids and dates come from the exchange."""

    def __init__(self) -> None:
        self._builder = RecordBuilder(warc_version=WARC_VERSION)

    def warcinfo(self, filename: str, fields: Mapping[str, str], date: datetime) -> object:
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v).encode("utf-8")
        headers = {
            "WARC-Record-ID": make_record_id(),
            "WARC-Filename": filename,
            "WARC-Date": warc_date(date),
        }
        return self._builder.create_warc_record(
            "", "warcinfo", payload=BytesIO(body), length=len(body),
            warc_content_type="application/warc-fields", warc_headers_dict=headers,
        )

    def response(self, exchange: Exchange, payload_digest: str) -> object:
        headers = {
            "WARC-Record-ID": exchange.response_id,
            "WARC-Date": warc_date(exchange.date),
            "WARC-Payload-Digest": payload_digest,
        }
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        return self._builder.create_warc_record(
            exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
            warc_headers_dict=headers, http_headers=response_http_headers(exchange),
        )

    def revisit(self, exchange: Exchange, payload_digest: str, refers_to_uri: str,
                refers_to_date: str, refers_to_id: str | None) -> object:
        headers = {
            "WARC-Record-ID": exchange.response_id,
            "WARC-Date": warc_date(exchange.date),
        }
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        if refers_to_id:
            headers["WARC-Refers-To"] = refers_to_id
        record = self._builder.create_revisit_record(
            exchange.url, payload_digest, refers_to_uri, refers_to_date,
            http_headers=response_http_headers(exchange), warc_headers_dict=headers,
        )
        return record

    def request(self, exchange: Exchange) -> object:
        headers = {
            "WARC-Record-ID": exchange.request_id,
            "WARC-Date": warc_date(exchange.date),
            "WARC-Concurrent-To": exchange.response_id,
        }
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        body = exchange.request_body or b""
        return self._builder.create_warc_record(
            exchange.url, "request", payload=BytesIO(body), length=len(body),
            warc_headers_dict=headers, http_headers=request_http_headers(exchange),
        )

    def metadata(self, url: str, refers_to: str, payload: bytes, content_type: str, date: datetime) -> object:
        headers = {
            "WARC-Record-ID": make_record_id(),
            "WARC-Date": warc_date(date),
            "WARC-Concurrent-To": refers_to,
        }
        return self._builder.create_warc_record(
            url, "metadata", payload=BytesIO(payload), length=len(payload),
            warc_content_type=content_type, warc_headers_dict=headers,
        )
