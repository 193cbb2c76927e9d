"""Replay through pywb of a small WARC 1.1 archive written with warcio and indexed with cdxj-indexer."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive.cdxj import entry_for_record
from crawler.archive.records import NOT_MODIFIED_PROFILE, Exchange, WarcRecord, request_record, revisit_record
from crawler.archive.storage.local import LocalStorage
from crawler.replay import COLLECTION, PywbNotFound, ReplayError, find_pywb_venv, prepare_collection, start_pywb
from crawler.replay.pywb import MERGED_INDEX_NAME, check_first_capture, merge_cdxj, read_collection_paths
from tests.conftest import pywb_missing

PAGE = "http://127.0.0.1:8/page"
OLD = "http://127.0.0.1:8/old"
PHRASE = "Quartz zebra 7781 replays intact"
HTML = f"<!doctype html><html><head><title>t</title></head><body><p>{PHRASE}</p></body></html>".encode()

# WARC 1.1 dates carry microseconds; CDXJ and pywb timestamps keep 14 digits.
PAGE_DATE, PAGE_TS = "2024-01-02T03:04:05.123456Z", "20240102030405"
OLD_DATE, OLD_TS = "2024-01-02T03:04:06.000001Z", "20240102030406"
REVISIT_DATE, REVISIT_TS = "2024-03-04T05:06:07.654321Z", "20240304050607"
# A conditional refetch of /page answered 304, stored by the crawler's own record writer.
NOT_MODIFIED_AT, NOT_MODIFIED_TS = datetime(2024, 5, 6, 7, 8, 9, 2, tzinfo=timezone.utc), "20240506070809"
OLD_REVISIT_DATE, OLD_REVISIT_TS = "2024-05-06T07:08:10.000001Z", "20240506070810"
# A 304 revisit whose original is in no WARC of the archive.
ORPHAN = "http://127.0.0.1:8/orphan"
# A 304 revisit as Heritrix writes it: WARC/1.0, no block, no WARC-Refers-To-Target-URI.
HERITRIX_DATE, HERITRIX_TS = "2024-06-07T08:09:10Z", "20240607080910"


_PYWB_MISSING = pywb_missing()
needs_pywb = [
    pytest.mark.pywb,
    pytest.mark.skipif(_PYWB_MISSING is not None, reason=f"pywb venv missing: {_PYWB_MISSING}"),
]


# -- building the archive ----------------------------------------------------------------------


def _write(writer: WARCWriter, record) -> None:  # type: ignore[no-untyped-def]
    writer.write_record(record)
    # warcio buffers records without a seekable payload in a temp file it never closes.
    if record.raw_stream is not None:
        record.raw_stream.close()


def _request(writer: WARCWriter, url: str, date: str, concurrent_to: str) -> None:
    path = url.split("127.0.0.1:8", 1)[1]
    headers = StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [("Host", "127.0.0.1:8"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", "newsarchive-test")],
        is_http_request=True,
    )
    record = writer.create_warc_record(
        url,
        "request",
        payload=io.BytesIO(b""),
        length=0,
        http_headers=headers,
        warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": concurrent_to},
    )
    _write(writer, record)


def _page_headers(body: bytes) -> StatusAndHeaders:
    return StatusAndHeaders(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body))),
        ],
        protocol="HTTP/1.1",
    )


@dataclass
class Archive:
    root: Path
    page_digest: str
    not_modified_line: str  # our own CDXJ line for the 304 revisit (crawler/archive/cdxj.py)


def _index(warc: Path, index_dir: Path) -> Path:
    indexer = Path(sys.executable).with_name("cdxj-indexer")
    if not indexer.exists():
        indexer = Path(shutil.which("cdxj-indexer") or indexer)
    out = index_dir / (warc.name.removesuffix(".warc.gz") + ".cdxj")
    # Run in the WARC folder with a bare name, so the "filename" field is the bare WARC name.
    subprocess.run([str(indexer), "--sort", "-o", str(out), warc.name], cwd=warc.parent, check=True)
    return out


def build_archive(root: Path) -> Archive:
    """crawl-00000: request+response for /page (gzip body), request+301 for /old;
    crawl-00001: request+revisit for /page pointing back at the first capture."""
    warcs, indexes = root / "warcs", root / "indexes"
    warcs.mkdir(parents=True)
    indexes.mkdir()
    body = gzip.compress(HTML, mtime=0)

    with open(warcs / "crawl-00000.warc.gz", "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        response = writer.create_warc_record(
            PAGE,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=_page_headers(body),
            warc_headers_dict={"WARC-Date": PAGE_DATE, "WARC-IP-Address": "127.0.0.1"},
        )
        page_id = response.rec_headers.get_header("WARC-Record-ID")
        page_digest = response.rec_headers.get_header("WARC-Payload-Digest")
        _request(writer, PAGE, PAGE_DATE, page_id)
        _write(writer, response)

        redirect = writer.create_warc_record(
            OLD,
            "response",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                "301 Moved Permanently",
                [("Location", "/page"), ("Content-Length", "0"), ("Content-Type", "text/html")],
                protocol="HTTP/1.1",
            ),
            warc_headers_dict={"WARC-Date": OLD_DATE},
        )
        _request(writer, OLD, OLD_DATE, redirect.rec_headers.get_header("WARC-Record-ID"))
        _write(writer, redirect)

    with open(warcs / "crawl-00001.warc.gz", "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        revisit = writer.create_revisit_record(
            PAGE,
            digest=page_digest,
            refers_to_uri=PAGE,
            refers_to_date=PAGE_DATE,
            http_headers=_page_headers(body),
            warc_headers_dict={"WARC-Date": REVISIT_DATE, "WARC-Refers-To": page_id},
        )
        _request(writer, PAGE, REVISIT_DATE, revisit.rec_headers.get_header("WARC-Record-ID"))
        _write(writer, revisit)

        # An identical-payload revisit of the redirect: pywb replays its own 3xx head, as before.
        old_revisit = writer.create_revisit_record(
            OLD,
            digest=redirect.rec_headers.get_header("WARC-Payload-Digest"),
            refers_to_uri=OLD,
            refers_to_date=OLD_DATE,
            http_headers=redirect.http_headers,
            warc_headers_dict={"WARC-Date": OLD_REVISIT_DATE},
        )
        _request(writer, OLD, OLD_REVISIT_DATE, old_revisit.rec_headers.get_header("WARC-Record-ID"))
        _write(writer, old_revisit)

    with open(warcs / "crawl-00002.warc.gz", "wb") as f:
        exchange = _not_modified(PAGE)
        _write_ours(f, request_record(exchange))
        record = revisit_record(exchange, page_digest, PAGE, PAGE_DATE, page_id, profile=NOT_MODIFIED_PROFILE)
        offset, length = _write_ours(f, record)
        entry = entry_for_record(record, offset, length, "crawl-00002.warc.gz")
        assert entry is not None
        orphan = _not_modified(ORPHAN)
        _write_ours(f, request_record(orphan))
        _write_ours(f, revisit_record(orphan, page_digest, ORPHAN, PAGE_DATE, None, profile=NOT_MODIFIED_PROFILE))

    with open(warcs / "crawl-00003.warc.gz", "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.0")
        heritrix = writer.create_revisit_record(PAGE, digest=page_digest, refers_to_uri=PAGE, refers_to_date=PAGE_DATE,
                                                warc_headers_dict={"WARC-Date": HERITRIX_DATE})
        heritrix.rec_headers.replace_header("WARC-Profile", "http://netpreserve.org/warc/1.0/revisit/server-not-modified")
        heritrix.rec_headers.remove_header("WARC-Refers-To-Target-URI")
        heritrix.rec_headers.add_header("WARC-Refers-To", page_id)
        heritrix.rec_headers.add_header("WARC-Truncated", "length")
        heritrix.rec_headers.add_header("WARC-Etag", '"v1"')
        _write(writer, heritrix)

    for warc in sorted(warcs.iterdir()):
        _index(warc, indexes)
    return Archive(root, page_digest, entry.cdxj_line())


def _not_modified(url: str) -> Exchange:
    """A conditional GET answered ``304 Not Modified``, as the crawler's download handler hands it over."""
    return Exchange(
        url=url, method="GET", request_body=b"", status=304, reason="Not Modified", protocol="HTTP/1.1", body=b"",
        request_headers=[(b"Host", b"127.0.0.1:8"), (b"If-None-Match", b'"v1"')],
        response_headers=[(b"Date", b"Mon, 06 May 2024 07:08:09 GMT"), (b"ETag", b'"v1"')],
        date=NOT_MODIFIED_AT, ip_address="127.0.0.1",
    )


def _write_ours(f: io.BufferedWriter, record: WarcRecord) -> tuple[int, int]:
    """One record of ours as its own gzip member, as RollingWarcWriter stores it: (offset, length)."""
    offset = f.tell()
    member = gzip.compress(b"".join(record.serialize()), mtime=0)
    f.write(member)
    return offset, len(member)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def replay(archive: Archive, tmp_path_factory: pytest.TempPathFactory):
    config = prepare_collection(archive.root, tmp_path_factory.mktemp("pywb"))
    with start_pywb(config) as server:
        yield server


# -- fetching without following redirects or guessing encodings -------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass
class Fetched:
    status: int
    headers: Message
    body: bytes  # Content-Encoding removed


def fetch(url: str, accept_gzip: bool = True) -> Fetched:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if accept_gzip else {})
    try:
        response = _opener.open(request, timeout=10)
    except urllib.error.HTTPError as e:
        response = e
    with response:
        body = response.read()
        headers = response.headers
        if headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return Fetched(response.status, headers, body)


# -- the archive is what the crawler makes ------------------------------------------------------


def test_built_index_matches_crawler_layout(archive: Archive) -> None:
    lines = (archive.root / "indexes" / "crawl-00001.cdxj").read_text().splitlines()
    revisit = [json.loads(line.split(" ", 2)[2]) for line in lines if f" {REVISIT_TS} " in line]
    assert revisit and revisit[0]["mime"] == "warc/revisit"
    assert revisit[0]["digest"] == archive.page_digest
    assert revisit[0]["filename"] == "crawl-00001.warc.gz"


def test_not_modified_revisit_is_indexed_as_cdxj_indexer_does(archive: Archive) -> None:
    """The 304 revisit keeps its 304 head and the original's payload digest; cdxj-indexer's line for it
    is the line our writer puts in the sidecar index, and names the original's digest."""
    lines = (archive.root / "indexes" / "crawl-00002.cdxj").read_text().splitlines()
    assert archive.not_modified_line in lines
    fields = json.loads(archive.not_modified_line.split(" ", 2)[2])
    assert (fields["mime"], fields["status"], fields["digest"]) == ("warc/revisit", "304", archive.page_digest)


# -- pywb ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("archive")
class TestPywbReplay:
    pytestmark = needs_pywb

    def test_id_replay_returns_original_payload(self, replay) -> None:
        got = fetch(replay.replay_url(PAGE, PAGE_TS, "id_"))
        assert got.status == 200
        assert got.headers["Content-Encoding"] == "gzip"  # the bytes as captured
        assert got.body == HTML
        assert got.headers["Memento-Datetime"] == "Tue, 02 Jan 2024 03:04:05 GMT"

    def test_id_replay_decodes_for_clients_without_gzip(self, replay) -> None:
        got = fetch(replay.replay_url(PAGE, PAGE_TS, "id_"), accept_gzip=False)
        assert got.status == 200
        assert "Content-Encoding" not in got.headers
        assert got.headers["X-Archive-Orig-Content-Encoding"] == "gzip"
        assert got.body == HTML

    def test_revisit_resolves_to_original_payload(self, replay) -> None:
        got = fetch(replay.replay_url(PAGE, REVISIT_TS, "id_"))
        assert got.status == 200
        assert PHRASE.encode() in got.body
        # The revisit itself was served (its date), with the payload of the first capture.
        assert got.headers["Memento-Datetime"] == "Mon, 04 Mar 2024 05:06:07 GMT"

    def test_not_modified_revisit_replays_the_capture_it_confirms(self, replay) -> None:
        got = fetch(replay.replay_url(PAGE, NOT_MODIFIED_TS, "id_"))
        # The original's status, headers and payload, not the empty 304 the record stores ...
        assert got.status == 200
        assert got.headers["Content-Type"] == "text/html; charset=utf-8"
        assert got.headers["Content-Encoding"] == "gzip"
        assert got.body == HTML
        # ... served as the revisit (its date), as `newsarchive get` resolves it.
        assert got.headers["Memento-Datetime"] == "Mon, 06 May 2024 07:08:09 GMT"
        page = fetch(replay.replay_url(PAGE, NOT_MODIFIED_TS, "mp_"))
        assert page.status == 200
        assert PHRASE.encode() in page.body

    def test_heritrix_not_modified_revisit_replays_the_capture_it_confirms(self, replay) -> None:
        got = fetch(replay.replay_url(PAGE, HERITRIX_TS, "id_"))
        assert (got.status, got.body) == (200, HTML)
        # the revisit itself, not a neighbouring capture pywb fell back to
        assert got.headers["Memento-Datetime"] == "Fri, 07 Jun 2024 08:09:10 GMT"

    def test_not_modified_revisit_without_its_original_is_not_an_empty_304(self, replay) -> None:
        # pywb's answer for any revisit whose original cannot be loaded (and no other capture can).
        assert fetch(replay.replay_url(ORPHAN, NOT_MODIFIED_TS, "id_")).status == 503

    def test_revisit_of_a_redirect_replays_as_3xx(self, replay) -> None:
        got = fetch(replay.replay_url(OLD, OLD_REVISIT_TS, "id_"))
        assert got.status == 301
        assert got.headers["Location"] == "/page"
        assert got.headers["Memento-Datetime"] == "Mon, 06 May 2024 07:08:10 GMT"

    def test_redirect_replays_as_3xx(self, replay) -> None:
        raw = fetch(replay.replay_url(OLD, OLD_TS, "id_"))
        assert raw.status == 301
        assert raw.headers["Location"] == "/page"  # id_ leaves headers as archived
        rewritten = fetch(replay.replay_url(OLD, OLD_TS, "mp_"))
        assert rewritten.status == 301
        assert rewritten.headers["Location"] == f"/{COLLECTION}/{OLD_TS}mp_/{PAGE}"

    def test_framed_and_rewritten_replay(self, replay) -> None:
        frame = fetch(replay.replay_url(PAGE, PAGE_TS))
        assert frame.status == 200
        # The top frame holds pywb's banner; its script loads the mp_ URL into #replay_iframe.
        assert b"replay_iframe" in frame.body and PAGE.encode() in frame.body
        assert PHRASE.encode() not in frame.body
        page = fetch(replay.replay_url(PAGE, PAGE_TS, "mp_"))
        assert page.status == 200
        assert PHRASE.encode() in page.body

    def test_unknown_url_is_404(self, replay) -> None:
        assert fetch(replay.replay_url("http://127.0.0.1:8/never", PAGE_TS, "id_")).status == 404


class TestRunReplay:
    """``newsarchive replay``: serves until Ctrl-C (or a service manager's SIGTERM), then stops pywb and exits 0."""

    pytestmark = needs_pywb

    @pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
    def test_serves_until_interrupted(self, archive: Archive, tmp_path: Path, signum: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        code = (
            "import sys; from crawler.replay import run_replay; "
            f"sys.exit(run_replay({str(archive.root)!r}, '127.0.0.1', {port}, workdir={str(tmp_path)!r}))"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=Path(__file__).parents[2], stdout=subprocess.PIPE, text=True
        )
        try:
            banner = proc.stdout.readline()  # printed once pywb answers
            assert banner.startswith(f"Replaying {archive.root} at http://127.0.0.1:{port}/{COLLECTION}/")
            got = fetch(f"http://127.0.0.1:{port}/{COLLECTION}/{PAGE_TS}id_/{PAGE}")
            assert got.body == HTML
            proc.send_signal(signum)
            assert proc.wait(timeout=15) == 0
            assert "warning" not in proc.stdout.read()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
        deadline = time.monotonic() + 5
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _port_open(port), "pywb outlived run_replay"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.pywb
@pytest.mark.skipif(_PYWB_MISSING is not None, reason=f"pywb venv missing: {_PYWB_MISSING}")
def test_first_capture_check_reports_unreadable_warcs(archive: Archive, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(archive.root / "indexes", broken / "indexes")
    (broken / "warcs").mkdir()  # the WARCs are gone, the index still names them
    config = prepare_collection(broken, tmp_path / "work")
    with start_pywb(config) as server:
        problem = check_first_capture(server, read_collection_paths(config)[0])
    assert problem is not None and "crawl-00000.warc.gz" in problem and "HTTP 503" in problem


# -- the collection config ---------------------------------------------------------------------


def test_prepare_collection_local_reads_archive_in_place(archive: Archive, tmp_path: Path) -> None:
    config = prepare_collection(archive.root, tmp_path)
    assert config == tmp_path / "config.yaml"
    assert read_collection_paths(config) == (archive.root / "indexes", f"{archive.root / 'warcs'}/")


def test_prepare_collection_remote_merges_indexes(archive: Archive, tmp_path: Path) -> None:
    # Any backend with list() and open_stream() will do; LocalStorage stands in for S3 here.
    config = prepare_collection("s3://bucket/some/prefix", tmp_path / "work", storage=LocalStorage(archive.root))
    index_dir, archive_paths = read_collection_paths(config)
    assert archive_paths == "s3://bucket/some/prefix/warcs/"
    merged = index_dir / MERGED_INDEX_NAME
    lines = merged.read_bytes().splitlines(keepends=True)
    originals = b"".join(p.read_bytes() for p in (archive.root / "indexes").glob("*.cdxj"))
    assert lines == sorted(originals.splitlines(keepends=True))
    assert [p.name for p in index_dir.iterdir()] == [MERGED_INDEX_NAME]


def test_prepare_collection_refuses_credentials_in_uri(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="environment"):
        prepare_collection("s3://KEY:SECRET@bucket/prefix", tmp_path, storage=LocalStorage(tmp_path))


def test_prepare_collection_without_indexes(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="nothing to replay"):
        prepare_collection(tmp_path / "empty", tmp_path / "work")


def test_merge_cdxj_many_files_and_unsorted_input(tmp_path: Path) -> None:
    inputs = []
    for i in range(7):
        path = tmp_path / f"{i}.cdxj"
        path.write_bytes(b"".join(b"com,example)/%02d 2024010100000%d {}\n" % (j, i) for j in range(0, 30, 3)))
        inputs.append(path)
    out = tmp_path / "out" / "all.cdxj"
    out.parent.mkdir()
    merge_cdxj(inputs, out, fan_in=3)  # three levels of merging
    lines = out.read_bytes().splitlines()
    assert len(lines) == 70 and lines == sorted(lines)

    bad = tmp_path / "bad.cdxj"
    bad.write_bytes(b"com,example)/b 20240101000000 {}\ncom,example)/a 20240101000000 {}\n")
    with pytest.raises(ReplayError, match="not sorted"):
        merge_cdxj([bad], tmp_path / "out" / "bad-out.cdxj")


def test_named_pywb_venv_must_work(tmp_path: Path) -> None:
    with pytest.raises(PywbNotFound, match="pywb-venv.sh"):
        find_pywb_venv(tmp_path / "no-such-venv")
