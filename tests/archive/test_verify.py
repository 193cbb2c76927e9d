"""`verify` finds each kind of damage and names the file and offset."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from crawler.archive.archive import Archive
from crawler.archive.verify import verify
from crawler.archive.writer import RollingWarcWriter
from tests.archive.test_writer import FIXED, exchange


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    archive = Archive.open(tmp_path / "archive")
    writer = RollingWarcWriter(archive.spool_dir, archive.publish, clock=lambda: FIXED, hostname="h", pid=1,
                               max_size=15_000)
    for i in range(12):
        writer.write_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(2000),
                                       response_id=f"<urn:uuid:{i}>", request_id=f"<urn:uuid:r{i}>"))
    writer.close()
    assert len(archive.warc_names()) >= 2
    return archive


def messages(archive: Archive) -> list[str]:
    return [str(p) for p in verify(archive).problems]


def test_clean_archive_verifies(archive: Archive) -> None:
    report = verify(archive)
    assert report.ok, report.problems
    assert report.entries == 12 and report.records == 12 * 2 + len(archive.warc_names())


def test_flipped_byte_is_reported_with_file_and_offset(archive: Archive) -> None:
    name = archive.warc_names()[0]
    path = archive.storage.local_path("warcs/" + name)
    entry = archive.index_file(name)[1]
    data = bytearray(path.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0x55
    path.write_bytes(bytes(data))
    found = messages(archive)
    assert any(m.startswith(f"{name}:{entry.offset}:") for m in found), found


def test_missing_sidecar_and_catalog_rows_and_dangling_index(archive: Archive) -> None:
    first, second = archive.warc_names()[:2]
    archive.storage.delete(f"indexes/{first[:-len('.warc.gz')]}.cdxj")
    with sqlite3.connect(archive.catalog.path) as c:
        c.execute("DELETE FROM captures WHERE filename = ? AND offset = (SELECT MIN(offset) FROM captures "
                  "WHERE filename = ?)", (second, second))
    archive.storage.put_bytes(b"", "indexes/ghost.cdxj")
    found = messages(archive)
    assert any(first in m and "is missing" in m for m in found)
    assert any(m.startswith(second) and "not in the catalog" in m for m in found)
    assert any("ghost.cdxj" in m and "not in storage" in m for m in found)


def test_trailing_garbage_and_lost_warc(archive: Archive) -> None:
    first, second = archive.warc_names()[:2]
    with open(archive.storage.local_path("warcs/" + first), "ab") as f:
        f.write(b"\x1f\x8b\x08\x00partial")
    archive.storage.delete("warcs/" + second)
    found = messages(archive)
    assert any(m.startswith(first) for m in found)
    assert any(second in m and "not in storage" in m for m in found)


def test_verify_cli_exit_codes(archive: Archive) -> None:
    from tests.conftest import run_cli

    root = str(archive.storage.local_path(""))
    ok = run_cli("verify", "--archive", root)
    assert ok.returncode == 0 and b"0 problems" in ok.stdout
    archive.storage.delete("warcs/" + archive.warc_names()[0])
    bad = run_cli("verify", "--archive", root)
    assert bad.returncode == 1 and b"not in storage" in bad.stdout


def test_catalog_synced_from_sidecars_serves_list_and_get(archive: Archive, tmp_path: Path) -> None:
    """A fresh machine: the catalog is built from the small sidecars, not by reading WARCs."""
    from crawler.archive.retrieve import get_capture

    fresh = Archive.open(archive.storage.local_path(""), storage=archive.storage)
    fresh.catalog.clear()
    assert fresh.sync_catalog() == {"added": len(archive.warc_names()), "removed": 0}
    assert fresh.catalog.count() == 12
    capture = get_capture(fresh, "http://127.0.0.1:8/3")
    assert len(capture.payload) == 2000


# -- pairing, both ways ------------------------------------------------------------------------
def _warc_of(tmp_path: Path, records: list) -> Archive:
    """An archive holding one WARC made of these warcio records, indexed as the crawler would."""
    from warcio.warcwriter import WARCWriter

    archive = Archive.open(tmp_path / "archive")
    (tmp_path / "archive" / "warcs").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "archive" / "warcs" / "t.warc.gz"
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        for build in records:
            writer.write_record(build(writer))
    archive.rebuild_index()
    return archive


def _pair(kind: str, rid: str, links: dict[str, str]):
    import io

    from warcio.statusandheaders import StatusAndHeaders

    def build(writer):
        if kind == "request":
            http = StatusAndHeaders("GET /a HTTP/1.1", [("Host", "127.0.0.1:8")], is_http_request=True)
        else:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", "2")],
                                    protocol="HTTP/1.1")
        body = b"" if kind == "request" else b"ok"
        # a length given: without one warcio spools the record to a temporary file it never closes
        return writer.create_warc_record("http://127.0.0.1:8/a", kind, payload=io.BytesIO(body), length=len(body),
                                         http_headers=http, warc_headers_dict={"WARC-Record-ID": rid, **links})
    return build


def test_pairing_is_accepted_in_either_direction(tmp_path: Path) -> None:
    archive = _warc_of(tmp_path, [
        _pair("request", "<urn:uuid:q1>", {}),  # as written now: the response names the request
        _pair("response", "<urn:uuid:r1>", {"WARC-Concurrent-To": "<urn:uuid:q1>"}),
        _pair("request", "<urn:uuid:q2>", {"WARC-Concurrent-To": "<urn:uuid:r2>"}),  # as older archives have it
        _pair("response", "<urn:uuid:r2>", {}),
    ])
    assert messages(archive) == []


def test_unpaired_records_are_reported_both_ways(tmp_path: Path) -> None:
    archive = _warc_of(tmp_path, [
        _pair("request", "<urn:uuid:q1>", {}),  # answered by nothing, and not the last record
        _pair("response", "<urn:uuid:r1>", {"WARC-Concurrent-To": "<urn:uuid:gone>"}),
        _pair("request", "<urn:uuid:q3>", {}),  # the last record: a crash between request and response
    ])
    found = messages(archive)
    assert len(found) == 2, found
    assert any("request <urn:uuid:q1> has no response record" in m for m in found)
    assert any("record <urn:uuid:r1> has no request record" in m for m in found)

