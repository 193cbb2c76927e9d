"""Retrieval on its own: pick a capture, one ranged read, revisits resolved, payloads decoded with limits."""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import brotli
import pytest

from crawler.archive.archive import Archive
from crawler.archive.records import Exchange
from crawler.archive.retrieve import (
    DecodeError,
    NotArchived,
    closest,
    decode_content,
    get_capture,
    load_record,
    parse_at,
)
from crawler.archive.writer import RollingWarcWriter

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
HTML = b"<html><body><p>" + b"threat intelligence " * 200 + b"</p></body></html>"


def exchange(url: str, body: bytes, date: datetime, headers: list[tuple[bytes, bytes]] | None = None) -> Exchange:
    return Exchange(
        url=url, method="GET", request_headers=[(b"User-Agent", b"t")], request_body=b"",
        status=200, reason="OK", protocol="HTTP/1.1",
        response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), *(headers or [])],
        body=body, ip_address="127.0.0.1", date=date,
    )


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    """A local archive holding: /a three times (bodies 1, 2, 1: the third is a revisit of the first),
    /gz gzip-encoded, /br brotli-encoded."""
    archive = Archive.open(tmp_path / "archive", cache_dir=tmp_path / "cache")
    clock = iter(T0 + timedelta(minutes=i) for i in range(100))
    writer = RollingWarcWriter(archive.spool_dir, archive.publish, clock=clock.__next__,
                               revisit_lookup=archive.catalog.original_of, hostname="h", pid=1)
    url = "http://news.example/a"
    writer.write_exchange(exchange(url, b"first " + HTML, T0))
    writer.write_exchange(exchange(url, b"second " + HTML, T0 + timedelta(days=1)))
    writer.write_exchange(exchange(url, b"first " + HTML, T0 + timedelta(days=2)))
    writer.write_exchange(exchange("http://news.example/gz", gzip.compress(HTML, mtime=0), T0,
                                   [(b"Content-Encoding", b"gzip")]))
    writer.write_exchange(exchange("http://news.example/br", brotli.compress(HTML), T0,
                                   [(b"Content-Encoding", b"br")]))
    writer.close()
    return archive


def test_latest_capture_by_default_and_closest_to_a_timestamp(archive: Archive) -> None:
    url = "http://news.example/a"
    entries = archive.catalog.captures(url)
    assert [e.rec_type for e in entries] == ["response", "response", "revisit"]
    assert closest(entries, None) is entries[-1]
    assert closest(entries, "20261129") is entries[1]  # a day after T0: the second capture
    # a partial timestamp means the end of its period, as in pywb: "2025" is before every capture
    assert closest(entries, "2025") is entries[0]
    assert closest(entries, "2026") is entries[-1]
    assert get_capture(archive, url, "20261129120000").decoded().startswith(b"second ")


def test_a_revisit_is_answered_with_its_originals_payload(archive: Archive) -> None:
    capture = get_capture(archive, "http://news.example/a")
    assert capture.entry.rec_type == "revisit"
    assert capture.payload_entry.rec_type == "response"
    assert capture.payload_entry.timestamp == "20261128120000"
    assert capture.payload == b"first " + HTML
    assert capture.status_line == "HTTP/1.1 200 OK"
    assert capture.header("content-type") == "text/html; charset=utf-8"


def test_one_ranged_read_gives_exactly_one_record(archive: Archive) -> None:
    entry = archive.catalog.captures("http://news.example/gz")[0]
    record, payload = load_record(archive, entry)
    assert record.rec_type == "response"
    assert record.rec_headers.get_header("WARC-Target-URI") == "http://news.example/gz"
    assert payload == gzip.compress(HTML, mtime=0)  # as received: still gzip


def test_encoded_captures_decode(archive: Archive) -> None:
    assert get_capture(archive, "http://news.example/gz").decoded() == HTML
    assert get_capture(archive, "http://news.example/br").decoded() == HTML


def test_urls_never_archived_are_not_found(archive: Archive) -> None:
    with pytest.raises(NotArchived, match="not in the archive"):
        get_capture(archive, "http://news.example/never")
    with pytest.raises(NotArchived):
        closest([], None)


@pytest.mark.parametrize("value, expected", [
    ("20261128120000", "20261128120000"),
    ("2026-11-28 12:00", "202611281200"),
    ("2026", "2026"),
])
def test_parse_at_keeps_the_digits(value: str, expected: str) -> None:
    assert parse_at(value) == expected


@pytest.mark.parametrize("value", ["", "yesterday", "202611281200001"])
def test_parse_at_refuses_what_is_not_a_timestamp(value: str) -> None:
    with pytest.raises(ValueError):
        parse_at(value)


# -- decoding: the behaviours warcio's content_stream() does not have (why we keep our own) ----------


@pytest.mark.parametrize("encoding, data", [
    (None, HTML),
    ("identity", HTML),
    ("gzip", gzip.compress(HTML)),
    ("x-gzip", gzip.compress(HTML)),
    ("GZIP", gzip.compress(HTML)),
    ("deflate", zlib.compress(HTML)),  # zlib-wrapped, as the RFC says
    ("deflate", zlib.compress(HTML)[2:-4]),  # raw deflate, as many servers send
    ("br", brotli.compress(HTML)),
    ("gzip, br", brotli.compress(gzip.compress(HTML))),  # applied in order, undone in reverse
    ("gzip,gzip", gzip.compress(gzip.compress(HTML))),
])
def test_decode_content(encoding: str | None, data: bytes) -> None:
    assert decode_content(data, encoding) == HTML


def test_a_corrupt_payload_is_an_error_not_its_compressed_bytes() -> None:
    # warcio's reader hands back the raw bytes when the first block does not inflate.
    with pytest.raises(DecodeError, match="bad compressed payload"):
        decode_content(b"\x1f\x8b\x08\x00 not deflate data at all", "gzip")
    with pytest.raises(DecodeError, match="brotli"):
        decode_content(b"not brotli", "br")


def test_unknown_encodings_are_refused() -> None:
    with pytest.raises(DecodeError, match="unsupported Content-Encoding 'zstd'"):
        decode_content(b"\x28\xb5\x2f\xfd", "zstd")


def test_decoding_stops_at_the_ceiling() -> None:
    bomb = gzip.compress(b"\0" * (4 << 20))  # 4 MiB from about 4 KB
    assert len(decode_content(bomb, "gzip", max_size=4 << 20)) == 4 << 20
    with pytest.raises(DecodeError, match="exceeds 1048576 bytes"):
        decode_content(bomb, "gzip", max_size=1 << 20)
    with pytest.raises(DecodeError, match="exceeds"):
        decode_content(brotli.compress(b"\0" * (4 << 20)), "br", max_size=1 << 20)
    with pytest.raises(DecodeError, match="exceeds"):
        decode_content(zlib.compress(b"\0" * (4 << 20)), "deflate", max_size=1 << 20)


def test_a_brotli_bomb_is_refused_without_inflating_it() -> None:
    import tracemalloc

    # 256 MiB from about 48 KB, compressed in 1 MiB steps: this test process never holds the 256 MiB
    # (its peak RSS would be inherited by every crawl subprocess started after it, as ru_maxrss)
    compressor = brotli.Compressor(quality=1)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(compressor.process(zeros) for _ in range(256)) + compressor.finish()
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="exceeds 1048576 bytes"):
            decode_content(bomb, "br", max_size=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
