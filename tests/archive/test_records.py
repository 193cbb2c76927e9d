"""Records on their own: the wire-head forms and links, then golden bytes with fixed ids and dates,
checked independently and against warcio's own writer for ASCII headers."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from crawler.archive.cdxj import entry_for, entry_for_record, is_indexed
from crawler.archive.records import (
    METADATA_URI_PREFIX,
    Exchange,
    WarcRecord,
    WireHead,
    http_content_type,
    metadata_record,
    reason_phrase,
    request_record,
    response_header_pairs,
    response_record,
    revisit_record,
    sha1_digest,
    warc_date,
    warcinfo_record,
    wire_response_lines,
)
from crawler.archive.warcscan import block_digest_if_needed
from tests.archive.test_writer import FIXED, exchange


def parse(record) -> object:
    raw = b"".join(record.serialize())
    return next(iter(ArchiveIterator(io.BytesIO(raw), check_digests=True))), raw


def test_wire_lines_keep_spelling_order_values_and_folding() -> None:
    lines = [b'ETag: "x"', b"content-type:text/html", b"X-Folded: a", b"\tb", b"NoColonLine", b"x-mixed-CASE:  two  "]
    assert wire_response_lines(lines, 5) == [*lines, b"Content-Length: 5"]


def test_framing_keeps_its_bytes_under_x_orig_and_a_matching_length_stays_in_place() -> None:
    lines = [b"content-length: 5", b"Content-Type: text/html", b"Content-Length: 5", b"Connection: keep-alive"]
    assert wire_response_lines(lines, 5) == [
        b"content-length: 5", b"Content-Type: text/html", b"X-Orig-Content-Length: 5", b"X-Orig-Connection: keep-alive"]
    # a length that no longer matches (a HEAD, a 304 with a length, a lie) moves aside
    assert wire_response_lines([b"Content-Length: 99", b"Transfer-Encoding: chunked"], 5) == [
        b"X-Orig-Content-Length: 99", b"X-Orig-Transfer-Encoding: chunked", b"Content-Length: 5"]


def test_response_record_stores_the_wire_lines_and_indexes_their_content_type() -> None:
    wire = WireHead(b"GET /a HTTP/1.1\r\nuser-agent: t\r\nHost: 127.0.0.1:8\r\n\r\n",
                    (b"content-type: text/plain; charset=utf-8", b"ETag: \"1\"", b"transfer-encoding: chunked"))
    ex = exchange(body=b"hello", wire=wire)
    record, raw = parse(response_record(ex, "sha1:X"))
    assert (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nETag: \"1\"\r\n"
            b"X-Orig-transfer-encoding: chunked\r\nContent-Length: 5\r\n\r\nhello") in raw
    assert record.http_headers.get_header("ETag") == '"1"'
    entry = entry_for_record(response_record(ex, "sha1:X"), 0, 1, "f")
    assert entry.mime == "text/plain"  # from the stored lines, as an indexer reads them
    request, raw = parse(request_record(ex))
    assert raw.split(b"\r\n\r\n", 1)[1].startswith(wire.request)
    assert request.rec_headers.get_header("WARC-Concurrent-To") is None


def test_without_wire_heads_the_records_fall_back_to_scrapys_headers() -> None:
    ex = exchange()
    _, raw = parse(response_record(ex, "sha1:X"))
    assert b"\r\nContent-Type: text/html\r\n" in raw and b"X-Orig-Transfer-Encoding: chunked" in raw
    request, raw = parse(request_record(ex))
    assert b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:8\r\nUser-Agent: t\r\n" in raw


def test_response_names_its_request() -> None:
    ex = exchange()
    record, _ = parse(response_record(ex, "sha1:X"))
    assert record.rec_headers.get_header("WARC-Concurrent-To") == ex.request_id


def test_metadata_record_is_never_a_capture_of_the_article() -> None:
    payload = b'{"type": "newsarchive/dedup"}'
    rec = metadata_record("https://news.example/a?b=1", "<urn:uuid:r>", payload, "application/json", FIXED)
    record, _ = parse(rec)
    h = record.rec_headers
    assert h.get_header("WARC-Target-URI") == METADATA_URI_PREFIX + "https://news.example/a?b=1"
    assert h.get_header("WARC-Refers-To") == "<urn:uuid:r>"
    assert h.get_header("WARC-Payload-Digest") is None and h.get_header("WARC-Concurrent-To") is None
    assert record.digest_checker.passed is not False
    # indexed under its own urn: key, with the block digest cdxj-indexer computes for it
    written = entry_for_record(rec, 0, 10, "f")
    digest = block_digest_if_needed(record)
    assert written.urlkey == written.url == h.get_header("WARC-Target-URI")
    assert written.digest == digest == rec.block_sha1()
    assert entry_for(record, 0, 10, "f", digest) == written


def test_old_form_metadata_is_left_out_of_the_index() -> None:
    assert not is_indexed("metadata", "application/json", "https://news.example/a")
    assert is_indexed("metadata", "application/json", METADATA_URI_PREFIX + "https://news.example/a")
    assert is_indexed("response", "application/http; msgtype=response", "https://news.example/a")
    assert not is_indexed("metadata", "application/warc-fields", "urn:x")


# -- golden bytes ----------------------------------------------------------------------------------

DATE = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=timezone.utc)
RESPONSE_ID = "<urn:uuid:00000000-0000-0000-0000-000000000001>"
REQUEST_ID = "<urn:uuid:00000000-0000-0000-0000-000000000002>"
INFO_ID = "<urn:uuid:00000000-0000-0000-0000-000000000000>"
ORIGINAL_ID = "<urn:uuid:00000000-0000-0000-0000-000000000009>"


def golden_exchange(**kw: object) -> Exchange:
    values: dict = dict(
        url="http://news.example/a?x=1", method="GET",
        request_headers=[(b"User-Agent", b"newsarchive/0.1"), (b"Accept-Encoding", b"gzip, deflate")],
        request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
        response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), (b"Set-Cookie", b"a=1"),
                          (b"Set-Cookie", b"b=2"), (b"Transfer-Encoding", b"chunked")],
        body=b"<p>hello</p>", ip_address="127.0.0.1", date=DATE, response_id=RESPONSE_ID, request_id=REQUEST_ID,
    )
    values.update(kw)
    return Exchange(**values)


def serialized(record: WarcRecord) -> bytes:
    return b"".join(record.serialize())


def assert_self_consistent(data: bytes) -> None:
    """Content-Length and WARC-Block-Digest say what the block is, computed here independently."""
    head, _, rest = data.partition(b"\r\n\r\n")
    assert rest.endswith(b"\r\n\r\n")
    block = rest[:-4]
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    assert int(fields[b"Content-Length"]) == len(block)
    digest = base64.b32encode(hashlib.sha1(block).digest())
    assert fields[b"WARC-Block-Digest"] == b"sha1:" + digest
    # and warcio, checking every digest, reads exactly one record
    records = list(ArchiveIterator(io.BytesIO(data), check_digests="raise"))
    assert len(records) == 1


def test_warcinfo_golden_bytes() -> None:
    info = {"software": "newsarchive/0.1", "format": "WARC File Format 1.1", "robots": ""}
    data = serialized(warcinfo_record("newsarchive-x.warc.gz", info, DATE, record_id=INFO_ID))
    assert data == (
        b"WARC/1.1\r\n"
        b"WARC-Type: warcinfo\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000000>\r\n"
        b"WARC-Date: 2026-11-28T12:00:00.123456Z\r\n"
        b"WARC-Filename: newsarchive-x.warc.gz\r\n"
        b"WARC-Block-Digest: sha1:YYONSMF4HE2LDWVV24SHQECRAPYX75NO\r\n"
        b"Content-Type: application/warc-fields\r\n"
        b"Content-Length: 57\r\n"
        b"\r\n"
        b"software: newsarchive/0.1\r\n"  # empty values are left out
        b"format: WARC File Format 1.1\r\n"
        b"\r\n\r\n"
    )
    assert_self_consistent(data)


def test_request_golden_bytes() -> None:
    data = serialized(request_record(golden_exchange()))
    assert data == (
        b"WARC/1.1\r\n"
        b"WARC-Type: request\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
        b"WARC-Date: 2026-11-28T12:00:00.123456Z\r\n"
        b"WARC-Target-URI: http://news.example/a?x=1\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"  # no forward link: the response names its request
        b"WARC-Payload-Digest: sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ\r\n"  # of the empty body
        b"WARC-Block-Digest: sha1:RLQNL6IJHICXCLZEDRJSCFJ2ORWUMRME\r\n"
        b"Content-Type: application/http; msgtype=request\r\n"
        b"Content-Length: 104\r\n"
        b"\r\n"
        b"GET /a?x=1 HTTP/1.1\r\n"
        b"Host: news.example\r\n"  # first, as a client sends it
        b"User-Agent: newsarchive/0.1\r\n"
        b"Accept-Encoding: gzip, deflate\r\n"
        b"\r\n"
        b"\r\n\r\n"
    )
    assert_self_consistent(data)


def test_response_golden_bytes() -> None:
    ex = golden_exchange()
    data = serialized(response_record(ex, sha1_digest(ex.body)))
    assert data == (
        b"WARC/1.1\r\n"
        b"WARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"WARC-Date: 2026-11-28T12:00:00.123456Z\r\n"
        b"WARC-Target-URI: http://news.example/a?x=1\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Concurrent-To: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"  # its request
        b"WARC-Payload-Digest: sha1:EH2SPSI2J7IA53E7X7MLVOIBNGZPXYIP\r\n"
        b"WARC-Block-Digest: sha1:46QQ2O3USQAUBCC7NV5SWAKGWSGGX4KR\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: 160\r\n"
        b"\r\n"
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Set-Cookie: a=1\r\n"  # repeated headers kept, in order
        b"Set-Cookie: b=2\r\n"
        b"X-Orig-Transfer-Encoding: chunked\r\n"  # the body is stored de-chunked
        b"Content-Length: 12\r\n"
        b"\r\n"
        b"<p>hello</p>"
        b"\r\n\r\n"
    )
    assert_self_consistent(data)
    assert sha1_digest(b"<p>hello</p>") == "sha1:EH2SPSI2J7IA53E7X7MLVOIBNGZPXYIP"


def test_revisit_golden_bytes() -> None:
    ex = golden_exchange()
    data = serialized(revisit_record(ex, sha1_digest(ex.body), "http://news.example/a?x=1",
                                     "2026-11-27T10:00:00Z", ORIGINAL_ID))
    assert data == (
        b"WARC/1.1\r\n"
        b"WARC-Type: revisit\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"WARC-Date: 2026-11-28T12:00:00.123456Z\r\n"
        b"WARC-Target-URI: http://news.example/a?x=1\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Profile: http://netpreserve.org/warc/1.1/revisit/identical-payload-digest\r\n"
        b"WARC-Refers-To-Target-URI: http://news.example/a?x=1\r\n"
        b"WARC-Refers-To-Date: 2026-11-27T10:00:00Z\r\n"
        b"WARC-Refers-To: <urn:uuid:00000000-0000-0000-0000-000000000009>\r\n"
        b"WARC-Concurrent-To: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
        b"WARC-Payload-Digest: sha1:EH2SPSI2J7IA53E7X7MLVOIBNGZPXYIP\r\n"
        b"WARC-Block-Digest: sha1:5SG3E6ZBTJ46YZYNAQ2PSA4IL5PB6WFM\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: 148\r\n"
        b"\r\n"
        b"HTTP/1.1 200 OK\r\n"  # the headers only: the payload is the original's
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Set-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"X-Orig-Transfer-Encoding: chunked\r\n"
        b"Content-Length: 12\r\n"
        b"\r\n"
        b"\r\n\r\n"
    )
    assert_self_consistent(data)


def test_a_revisit_without_an_original_id_leaves_refers_to_out() -> None:
    ex = golden_exchange()
    data = serialized(revisit_record(ex, sha1_digest(ex.body), ex.url, "2026-11-27T10:00:00Z", None))
    assert b"WARC-Refers-To:" not in data and b"WARC-Refers-To-Date:" in data


def test_metadata_golden_bytes() -> None:
    record = metadata_record("http://news.example/a", RESPONSE_ID, b'{"k": 1}', "application/json", DATE,
                             record_id="<urn:uuid:00000000-0000-0000-0000-00000000000a>")
    data = serialized(record)
    assert data == (
        b"WARC/1.1\r\n"
        b"WARC-Type: metadata\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-00000000000a>\r\n"
        b"WARC-Date: 2026-11-28T12:00:00.123456Z\r\n"
        b"WARC-Target-URI: urn:newsarchive:dedup:http://news.example/a\r\n"  # never the article's URL
        b"WARC-Refers-To: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"WARC-Block-Digest: sha1:D4TUKMXH4LBME36KSREIBLFW2HC5ENCX\r\n"  # no payload digest: no HTTP payload
        b"Content-Type: application/json\r\n"
        b"Content-Length: 8\r\n"
        b"\r\n"
        b'{"k": 1}'
        b"\r\n\r\n"
    )
    assert_self_consistent(data)


def test_generated_ids_are_unique_urns() -> None:
    ids = {warcinfo_record("f", {}, DATE).record_id for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("<urn:uuid:") and i.endswith(">") for i in ids)


# -- the same bytes as warcio's own writer, for ASCII headers ---------------------------------------


def warcio_bytes(record: WarcRecord) -> bytes:
    """The record as warcio's WARCWriter writes it from the same fields and block."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    block = b"".join(record.block)
    built = writer.create_warc_record(
        record.target_uri, record.rec_type, payload=io.BytesIO(block), length=len(block),
        warc_content_type=record.content_type, warc_headers_dict=dict(record.fields),
    )
    writer.write_record(built)
    return out.getvalue()


@pytest.mark.parametrize("make", [
    lambda ex: warcinfo_record("newsarchive-x.warc.gz", {"software": "newsarchive/0.1", "robots": "obey"}, DATE,
                               record_id=INFO_ID),
    lambda ex: request_record(ex),
    lambda ex: response_record(ex, sha1_digest(ex.body)),
    lambda ex: revisit_record(ex, sha1_digest(ex.body), ex.url, "2026-11-27T10:00:00Z", ORIGINAL_ID),
    lambda ex: response_record(ex.__class__(**{**ex.__dict__, "body": b"", "status": 304, "reason": ""}),
                               sha1_digest(b"")),
], ids=["warcinfo", "request", "response", "revisit", "empty-304"])
def test_same_bytes_as_warcios_writer(make) -> None:
    record = make(golden_exchange())
    assert serialized(record) == warcio_bytes(record)


def test_warcio_would_re_encode_a_latin1_header_we_keep() -> None:
    # Why records.py serialises by hand: a non-ASCII header value is kept as the server sent it.
    ex = golden_exchange(response_headers=[(b"X-Name", "caf\u00e9".encode("latin-1"))])
    record = response_record(ex, sha1_digest(ex.body))
    assert "X-Name: caf\u00e9\r\n".encode("latin-1") in serialized(record)
    assert serialized(record) != warcio_bytes(record)


# -- the helpers the records are made of ----------------------------------------------------------


def test_warc_date_is_utc_with_microseconds() -> None:
    assert warc_date(DATE) == "2026-11-28T12:00:00.123456Z"
    east = DATE.astimezone(timezone(timedelta(hours=8)))
    assert warc_date(east) == "2026-11-28T12:00:00.123456Z"
    assert warc_date(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"  # naive is UTC; no zero fraction


def test_framing_headers_are_replaced_by_the_real_length() -> None:
    pairs = response_header_pairs(golden_exchange(response_headers=[
        (b"Content-Length", b"12"), (b"Connection", b"keep-alive"), (b"ETag", b'"x"')]))
    assert pairs == [(b"ETag", b'"x"'), (b"X-Orig-Connection", b"keep-alive"), (b"Content-Length", b"12")]
    lying = response_header_pairs(golden_exchange(response_headers=[(b"Content-Length", b"999")]))
    assert lying == [(b"X-Orig-Content-Length", b"999"), (b"Content-Length", b"12")]


def test_reason_phrase_falls_back_to_the_standard_one() -> None:
    assert reason_phrase(418, "I'm a Teapot Custom") == "I'm a Teapot Custom"
    assert reason_phrase(404, "") == "Not Found"
    assert reason_phrase(599, None) == ""


def test_http_content_type_is_the_first_one() -> None:
    headers = [(b"content-type", b" text/html "), (b"Content-Type", b"text/plain")]
    assert http_content_type(headers) == "text/html"
    assert http_content_type([]) is None
