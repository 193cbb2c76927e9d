"""WARC 1.1 records for one HTTP exchange: request, response, revisit, warcinfo, metadata.

Plain values in (an :class:`Exchange`), record bytes out. We serialise records ourselves
(warcio reads and checks them in every test): the HTTP header blocks are the bytes that
crossed the wire (:class:`WireHead`, from the download handler; Scrapy's re-spelt headers only
when it is missing), never re-encoded (warcio's writer would percent-encode a non-ASCII header
value), digests are computed once over the parts, and a large body is never copied.

Links: a response or revisit names the request written before it (``WARC-Concurrent-To``); a
dedup metadata record lives under ``urn:newsarchive:dedup:URL`` and names its response
(``WARC-Refers-To``), so no replay tool takes it for a capture of the article.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Iterable, Iterator, Mapping
from urllib.parse import urlsplit

from warcio.timeutils import datetime_to_iso_date

WARC_VERSION = "WARC/1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
#: A conditional refetch answered ``304 Not Modified``: the payload is the one referred to.
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

#: Hop-by-hop and framing headers that Twisted consumes. The stored body is de-chunked,
#: so the record states its real length instead (Browsertrix keeps originals as X-Orig-*).
FRAMING_HEADERS = frozenset({b"transfer-encoding", b"content-length", b"connection", b"keep-alive"})


@dataclass(frozen=True)
class WireHead:
    """The heads of one exchange as they crossed the wire, from the download handler: Scrapy
    and Twisted re-spell header names (``ETag`` becomes ``Etag``) and Twisted drops framing ones."""

    request: bytes | None = None  # request line, headers and the blank line, as sent
    response_lines: tuple[bytes, ...] | None = None  # response header lines as received (no CRLF)


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
    wire: WireHead | None = None  # the raw heads, when the download handler kept them


def make_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(dt: datetime) -> str:
    """WARC 1.1 date: UTC, microseconds."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return datetime_to_iso_date(dt, use_micros=True)


def parse_warc_date(value: str) -> datetime | None:
    """A WARC-Date back as an aware datetime (UTC when it names no zone); None when unreadable."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _header_block(first_line: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    return _line_block(first_line, (name + b": " + value for name, value in headers))


def _line_block(first_line: bytes, lines: Iterable[bytes]) -> bytes:
    return b"\r\n".join([first_line, *lines]) + b"\r\n\r\n"


def wire_response_lines(lines: Iterable[bytes], body_length: int) -> list[bytes]:
    """The response header lines as stored: each line exactly as received (name spelling, order,
    value, folding), except framing that no longer describes the stored, de-chunked body, which
    keeps its bytes under an ``X-Orig-`` name. A Content-Length that matches stays in place;
    otherwise the real one is added last."""
    length = str(body_length).encode()
    out: list[bytes] = []
    have_length = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # folded continuation of the line before
            out.append(line)
            continue
        lower = line.partition(b":")[0].strip().lower()
        if lower in FRAMING_HEADERS:
            if lower == b"content-length" and not have_length and line.partition(b":")[2].strip() == length:
                have_length = True
                out.append(line)
            else:
                out.append(b"X-Orig-" + line)
            continue
        out.append(line)
    if not have_length:
        out.append(b"Content-Length: " + length)
    return out


def header_pairs(lines: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """(name, value) of header lines, as a reader parses them (continuations ignored)."""
    pairs = []
    for line in lines:
        if line[:1] not in (b" ", b"\t") and b":" in line:
            name, _, value = line.partition(b":")
            pairs.append((name.strip(), value.strip()))
    return pairs


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


def response_header_block(exchange: Exchange) -> bytes:
    """The response's status line and headers, as received (framing made consistent)."""
    phrase = reason_phrase(exchange.status, exchange.reason)
    first = f"{exchange.protocol} {exchange.status} {phrase}".rstrip().encode("latin-1", "replace")
    if exchange.wire is not None and exchange.wire.response_lines is not None:
        return _line_block(first, wire_response_lines(exchange.wire.response_lines, len(exchange.body)))
    return _header_block(first, response_header_pairs(exchange))


def stored_response_headers(exchange: Exchange) -> list[tuple[bytes, bytes]]:
    """The response headers as the record stores them (what an indexer reads back)."""
    if exchange.wire is not None and exchange.wire.response_lines is not None:
        return header_pairs(exchange.wire.response_lines)
    return exchange.response_headers


def request_header_block(exchange: Exchange) -> bytes:
    """The request head as sent on the wire; rebuilt from Scrapy's headers (Host first) when the
    download handler did not keep it."""
    if exchange.wire is not None and exchange.wire.request:
        return exchange.wire.request
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
    first = f"{exchange.method} {target} HTTP/1.1".encode("ascii", "replace")
    return _header_block(first, pairs)


def http_content_type(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The first Content-Type header, as an index reads it."""
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1").strip()
    return None


@dataclass
class WarcRecord:
    """One record ready to serialise: named fields, then a block given in parts (never joined,
    so a 15 MB body is not copied). Digests are computed once, over the parts."""

    rec_type: str
    fields: list[tuple[str, str]]
    block: tuple[bytes, ...]
    content_type: str
    target_uri: str = ""
    http_mime: str | None = None  # for the index
    status: str | None = None

    @property
    def record_id(self) -> str:
        return self.field("WARC-Record-ID") or ""

    def field(self, name: str) -> str | None:
        for k, v in self.fields:
            if k == name:
                return v
        return None

    def block_sha1(self) -> str:
        """The block's sha1 (what cdxj-indexer indexes for a record without a payload digest)."""
        h = hashlib.sha1()
        for part in self.block:
            h.update(part)
        return "sha1:" + base64.b32encode(h.digest()).decode("ascii")

    def serialize(self) -> Iterator[bytes]:
        """The record's bytes, in parts: header, block parts, the closing CRLF CRLF."""
        block_digest = hashlib.sha1()
        length = 0
        for part in self.block:
            block_digest.update(part)
            length += len(part)
        fields = list(self.fields)
        fields.append(("WARC-Block-Digest", "sha1:" + base64.b32encode(block_digest.digest()).decode("ascii")))
        fields.append(("Content-Type", self.content_type))
        fields.append(("Content-Length", str(length)))
        head = WARC_VERSION + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
        yield head.encode("utf-8")
        yield from self.block
        yield b"\r\n\r\n"


def _common(rec_type: str, record_id: str, date: datetime, uri: str | None) -> list[tuple[str, str]]:
    fields = [("WARC-Type", rec_type), ("WARC-Record-ID", record_id), ("WARC-Date", warc_date(date))]
    if uri:
        fields.append(("WARC-Target-URI", uri))
    return fields


def warcinfo_record(filename: str, info: Mapping[str, str], date: datetime, record_id: str | None = None) -> WarcRecord:
    body = "".join(f"{k}: {v}\r\n" for k, v in info.items() if v).encode("utf-8")
    fields = _common("warcinfo", record_id or make_record_id(), date, None) + [("WARC-Filename", filename)]
    return WarcRecord("warcinfo", fields, (body,), "application/warc-fields")


def response_record(exchange: Exchange, payload_digest: str) -> WarcRecord:
    fields = _common("response", exchange.response_id, exchange.date, exchange.url)
    if exchange.ip_address:
        fields.append(("WARC-IP-Address", exchange.ip_address))
    # The link back to the request written before it: cdxj-indexer, pywb and py-wacz pair a
    # request and a response when the later record names the earlier one.
    fields.append(("WARC-Concurrent-To", exchange.request_id))
    fields.append(("WARC-Payload-Digest", payload_digest))
    return WarcRecord("response", fields, (response_header_block(exchange), exchange.body),
                      "application/http; msgtype=response", target_uri=exchange.url,
                      http_mime=http_content_type(stored_response_headers(exchange)), status=str(exchange.status))


def revisit_record(exchange: Exchange, payload_digest: str, refers_to_uri: str, refers_to_date: str,
                   refers_to_id: str | None, profile: str = REVISIT_PROFILE) -> WarcRecord:
    """A revisit: the response headers, no body, pointing at the original. Identical-payload-digest
    (the default), or server-not-modified for a 304 (the digest is then the original's payload's,
    which the server said is unchanged)."""
    fields = _common("revisit", exchange.response_id, exchange.date, exchange.url)
    if exchange.ip_address:
        fields.append(("WARC-IP-Address", exchange.ip_address))
    fields += [("WARC-Profile", profile), ("WARC-Refers-To-Target-URI", refers_to_uri),
               ("WARC-Refers-To-Date", refers_to_date)]
    if refers_to_id:
        fields.append(("WARC-Refers-To", refers_to_id))
    fields.append(("WARC-Concurrent-To", exchange.request_id))
    fields.append(("WARC-Payload-Digest", payload_digest))
    return WarcRecord("revisit", fields, (response_header_block(exchange),),
                      "application/http; msgtype=response", target_uri=exchange.url,
                      http_mime=http_content_type(stored_response_headers(exchange)), status=str(exchange.status))


def request_record(exchange: Exchange) -> WarcRecord:
    """The request, written before its response. The response names it (WARC-Concurrent-To);
    the request names nothing ahead of it, as wget writes them: a link to a record not yet
    written is what strict readers (warcat) report as "not seen yet"."""
    fields = _common("request", exchange.request_id, exchange.date, exchange.url)
    if exchange.ip_address:
        fields.append(("WARC-IP-Address", exchange.ip_address))
    body = exchange.request_body or b""
    fields.append(("WARC-Payload-Digest", sha1_digest(body)))
    return WarcRecord("request", fields, (request_header_block(exchange), body),
                      "application/http; msgtype=request", target_uri=exchange.url)


#: Target URI prefix of our dedup metadata records. Not the article's URL: pywb, cdxj-indexer and
#: ReplayWeb.page index a metadata record under its WARC-Target-URI, and a record under the article's
#: URL would replay (as JSON) in place of the article. Browsertrix does the same for its own
#: records (``urn:pageinfo:URL``, ``urn:text:URL``).
METADATA_URI_PREFIX = "urn:newsarchive:dedup:"


def metadata_uri(url: str) -> str:
    """The target URI of the metadata record about the capture of ``url``."""
    return METADATA_URI_PREFIX + url


def metadata_record(url: str, refers_to: str, payload: bytes, content_type: str, date: datetime,
                    record_id: str | None = None) -> WarcRecord:
    """A ``metadata`` record about the response ``refers_to`` (the capture of ``url``).

    ``WARC-Refers-To`` names the response; no ``WARC-Payload-Digest``, since the block has no
    HTTP payload (warcat and fastwarc reject one)."""
    uri = metadata_uri(url)
    fields = _common("metadata", record_id or make_record_id(), date, uri)
    if refers_to:
        fields.append(("WARC-Refers-To", refers_to))
    return WarcRecord("metadata", fields, (payload,), content_type, target_uri=uri)
