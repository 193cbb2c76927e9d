"""The WARC writer on its own: records, digests, rollover, names, crash recovery."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.archive import Archive
from crawler.archive.cdxj import CaptureEntry
from crawler.archive.records import Exchange, sha1_digest
from crawler.archive.warcscan import complete_members_end, iter_entries, repair_torn_tail
from crawler.archive.writer import RollingWarcWriter, gzip_member

FIXED = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=timezone.utc)


def exchange(url: str = "http://127.0.0.1:8/a", body: bytes = b"hello", **kw) -> Exchange:
    defaults = dict(
        method="GET",
        request_headers=[(b"User-Agent", b"t"), (b"Accept-Encoding", b"gzip, deflate")],
        request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
        response_headers=[(b"Content-Type", b"text/html"), (b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"),
                          (b"Transfer-Encoding", b"chunked"), (b"X-Name", "caf\u00e9".encode("latin-1"))],
        ip_address="127.0.0.1", date=FIXED,
        response_id="<urn:uuid:00000000-0000-0000-0000-000000000001>",
        request_id="<urn:uuid:00000000-0000-0000-0000-000000000002>",
    )
    defaults.update(kw)
    return Exchange(url=url, body=body, **defaults)


class Collected:
    def __init__(self) -> None:
        self.files: list[tuple[Path, str, list[CaptureEntry]]] = []

    def __call__(self, path: Path, name: str, entries: list[CaptureEntry]) -> None:
        self.files.append((path, name, entries))


def make_writer(tmp_path: Path, **kw) -> tuple[RollingWarcWriter, Collected]:
    published = Collected()
    writer = RollingWarcWriter(tmp_path / "spool", published, clock=lambda: FIXED, hostname="host_1", pid=42, **kw)
    return writer, published


def read(path: Path):
    with open(path, "rb") as f:
        return [(r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read()) for r in ArchiveIterator(f)]


def test_response_record_keeps_the_received_header_bytes(tmp_path: Path) -> None:
    writer, published = make_writer(tmp_path)
    writer.write_exchange(exchange())
    writer.close()
    (path, name, entries), = published.files
    assert name == "newsarchive-20261128120000123-00001-host-1-42.warc.gz"
    raw = gzip.decompress(path.read_bytes())
    assert b"HTTP/1.1 200 OK\r\n" in raw
    assert b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n" in raw
    assert "X-Name: caf\u00e9".encode("latin-1") in raw  # not percent-encoded, not UTF-8
    assert b"\r\nTransfer-Encoding: chunked" not in raw
    assert b"X-Orig-Transfer-Encoding: chunked\r\n" in raw
    assert b"Content-Length: 5\r\n\r\nhello" in raw
    types = [r[0] for r in read(path)]
    assert types == ["warcinfo", "request", "response"]
    resp = read(path)[2][1]
    assert resp.get_header("WARC-Payload-Digest") == sha1_digest(b"hello")
    assert resp.get_header("WARC-Date") == "2026-11-28T12:00:00.123456Z"
    assert [e.rec_type for e in entries] == ["response"]


def test_each_record_is_its_own_gzip_member_and_offsets_are_exact(tmp_path: Path) -> None:
    writer, published = make_writer(tmp_path)
    for i in range(5):
        writer.write_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(3000),
                                       response_id=f"<urn:uuid:{i}>", request_id=f"<urn:uuid:r{i}>"))
    writer.close()
    (path, _, entries), = published.files
    data = path.read_bytes()
    for e in entries:
        member = data[e.offset:e.offset + e.length]
        assert gzip.decompress(member).startswith(b"WARC/1.1\r\n")
    with open(path, "rb") as f:
        assert complete_members_end(f) == (len(data), 11)


@pytest.mark.parametrize("levels", [(3, 0), (0, 3), (6, 0, 1), (3,)])
def test_a_segmented_member_is_one_gzip_member_of_its_bytes(levels: tuple[int, ...]) -> None:
    texts = [b"WARC/1.1\r\nWARC-Type: response\r\n\r\n" * 20, os.urandom(70_000), b"", b"\r\n\r\n"]
    segments = [([texts[i], texts[-1]] if i == len(levels) - 1 else [texts[i]], level)
                for i, level in enumerate(levels)]
    member = b"".join(gzip_member(segments))
    expected = b"".join(b"".join(parts) for parts, _ in segments)
    assert gzip.decompress(member) == expected
    d = zlib.decompressobj(zlib.MAX_WBITS + 16)  # what warcio and pywb read records with
    assert d.decompress(member) == expected and d.eof and d.unused_data == b""
    assert member[:10] == zlib.compress(b"", 3, wbits=31)[:10]  # the header zlib writes
    assert gzip.decompress(b"".join(gzip_member([]))) == b""


def test_a_precompressed_payload_is_stored_and_its_heads_deflated(tmp_path: Path) -> None:
    """A gzip-encoded body is not deflated again (stored blocks: its bytes appear as they are in
    the file), while the WARC and HTTP heads in front of it still are; warcio reads the record and
    checks its digests, and recovery counts it as one complete member."""
    text = b"<p>news</p>" * 5000
    encoded = gzip.compress(text)
    headers = [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip"), (b"Set-Cookie", b"a=1" * 100)]
    writer, published = make_writer(tmp_path)
    writer.write_exchange(exchange(body=encoded, response_headers=headers))
    writer.write_exchange(exchange(url="http://127.0.0.1:8/plain", body=text, response_id="<urn:uuid:p>",
                                   request_id="<urn:uuid:q>"))
    writer.close()
    (path, name, entries), = published.files
    data = path.read_bytes()
    by_url = {e.url: data[e.offset:e.offset + e.length] for e in entries if e.rec_type == "response"}
    stored, plain = by_url["http://127.0.0.1:8/a"], by_url["http://127.0.0.1:8/plain"]
    assert encoded in stored and b"a=1a=1a=1" not in stored and b"WARC-Type" not in stored
    assert len(plain) < len(text) // 20
    with open(path, "rb") as f:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Payload-Digest"), r.content_stream().read())
                   for r in ArchiveIterator(f, check_digests="raise")]
    assert ("response", sha1_digest(encoded), text) in records
    assert ("response", sha1_digest(text), text) in records
    with open(path, "rb") as f:
        assert complete_members_end(f) == (len(data), 5)
        f.seek(0)
        assert list(iter_entries(f, name)) == entries
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_rollover_at_max_size_and_unique_names(tmp_path: Path) -> None:
    writer, published = make_writer(tmp_path, max_size=20_000)
    for i in range(20):
        writer.write_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(4000),
                                       response_id=f"<urn:uuid:{i}>", request_id=f"<urn:uuid:r{i}>"))
    writer.close()
    names = [n for _, n, _ in published.files]
    assert len(names) >= 4 and len(set(names)) == len(names)
    assert [n.split("-")[2] for n in names] == [f"{i:05d}" for i in range(1, len(names) + 1)]
    for path, name, entries in published.files:
        assert read(path)[0][0] == "warcinfo"
        assert path.stat().st_size < 20_000 + 6000
        with open(path, "rb") as f:
            assert list(iter_entries(f, name)) == entries
    assert not list((tmp_path / "spool").glob("*.open"))


def test_same_payload_again_becomes_a_revisit(tmp_path: Path) -> None:
    writer, published = make_writer(tmp_path)
    writer.write_exchange(exchange())
    _, _, revisit = writer.write_exchange(exchange(response_id="<urn:uuid:x2>", request_id="<urn:uuid:y2>"))
    assert revisit
    _, _, changed = writer.write_exchange(exchange(body=b"changed", response_id="<urn:uuid:x3>",
                                                   request_id="<urn:uuid:y3>"))
    assert not changed
    writer.close()
    recs = read(published.files[0][0])
    rv = [r for r in recs if r[0] == "revisit"]
    assert len(rv) == 1
    assert rv[0][1].get_header("WARC-Refers-To") == "<urn:uuid:00000000-0000-0000-0000-000000000001>"
    assert rv[0][3] == b""


def test_torn_tail_is_cut_and_complete_records_kept(tmp_path: Path) -> None:
    writer, published = make_writer(tmp_path)
    for i in range(3):
        writer.write_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=b"x" * 1000,
                                       response_id=f"<urn:uuid:{i}>", request_id=f"<urn:uuid:r{i}>"))
    writer.close()
    path = published.files[0][0]
    good = path.read_bytes()
    torn = tmp_path / "torn.warc.gz.open"
    torn.write_bytes(good + gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" * 50)[:-30])
    dropped, members = repair_torn_tail(torn)
    assert members == 7 and dropped > 0
    assert torn.read_bytes() == good


def test_recover_spool_publishes_leftovers(tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "archive")
    writer = RollingWarcWriter(archive.spool_dir, archive.publish, clock=lambda: FIXED, hostname="h", pid=1)
    writer.write_exchange(exchange())
    f = writer._file  # simulate a crash: the process dies with the file open
    assert f is not None
    f.flush()
    with open(f.name, "ab") as g:
        g.write(b"\x1f\x8b\x08\x00garbage")
    report = archive.recover_spool()
    f.close()  # what the dead process's exit would have done
    assert len(report.published) == 1 and report.dropped_bytes == len(b"\x1f\x8b\x08\x00garbage")
    name = report.published[0]
    assert (tmp_path / "archive" / "warcs" / name).exists()
    assert [e.url for e in archive.catalog.captures("http://127.0.0.1:8/a")] == ["http://127.0.0.1:8/a"]
    assert not list(archive.spool_dir.iterdir())


KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    from crawler.archive.archive import Archive
    from crawler.archive.records import Exchange
    from crawler.archive.writer import RollingWarcWriter, gzip_member
    archive = Archive.open(sys.argv[1])
    w = RollingWarcWriter(archive.spool_dir, archive.publish, max_size=200_000)
    i = 0
    print("started", flush=True)
    while True:
        body = os.urandom(5000 + i % 7000)
        w.write_exchange(Exchange(url=f"http://127.0.0.1:8/p{i}", method="GET", request_headers=[],
                                  request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
                                  response_headers=[(b"Content-Type", b"text/html")], body=body))
        i += 1
""")


@pytest.mark.parametrize("delay", [0.3, 0.55, 0.8, 1.1, 1.4])
def test_kill_9_mid_write_loses_nothing_already_written(tmp_path: Path, delay: float) -> None:
    root = tmp_path / "archive"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(root)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline() == b"started\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    archive = Archive.open(root)
    before = archive.catalog.count()
    report = archive.recover_spool()
    archive.sync_catalog()  # what every start does after recovery
    assert not list(archive.spool_dir.glob("*.open"))
    total = archive.catalog.count()
    assert total >= before
    names = archive.warc_names()
    assert names
    # one checker run over every file (it names each bad file and exits 1 if any is bad)
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *(str(root / "warcs" / n) for n in names)],
                           capture_output=True)
    assert check.returncode == 0, check.stdout
    for name in names:
        # every indexed entry reads back as exactly one record
        for e in archive.index_file(name):
            assert archive.storage.open_range("warcs/" + name, e.offset, e.length)[:2] == b"\x1f\x8b"
    urls = [e.url for e in archive.catalog.iter_all()]
    assert len(urls) == len(set(urls)) == total
    from crawler.archive.verify import verify

    checked = verify(archive)
    assert checked.ok, [str(p) for p in checked.problems]  # no response without its request
    assert not list(archive.spool_dir.iterdir()), report  # everything left behind was finished
