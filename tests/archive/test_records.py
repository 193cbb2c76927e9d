"""Record forms: heads as they crossed the wire, the request/response link, metadata records."""

from __future__ import annotations

import io

from warcio.archiveiterator import ArchiveIterator

from crawler.archive.cdxj import entry_for, entry_for_record, is_indexed
from crawler.archive.records import (
    METADATA_URI_PREFIX, WireHead, metadata_record, request_record, response_record, wire_response_lines,
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
