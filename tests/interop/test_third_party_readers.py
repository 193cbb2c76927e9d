"""Archives every standard tool reads right: two crawls of a site with real-world header spellings,
a brotli page and chunked framing, read back by the tools nobody here wrote (warcat, cdxj-indexer,
py-wacz, pywb) and by our own readers."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from crawler.archive.archive import Archive
from crawler.archive.records import METADATA_URI_PREFIX
from tests.conftest import CrawlRun, crawl, pywb_missing, run_cli
from tests.interop.wire_site import (
    ARTICLE_PATTERN,
    BODIES,
    BROTLI_BODY,
    ETAG_CASE_HEADERS,
    TITLES,
    WireSite,
)

BIN = Path(sys.executable).parent


@dataclass
class WireRun:
    site: WireSite
    archive: Path
    runs: list[CrawlRun]
    requests: dict[str, list[str]]

    def url(self, path: str) -> str:
        return self.site.url(path)


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> WireRun:
    """The site crawled twice into one archive (the second crawl's articles are revisits)."""
    tmp = tmp_path_factory.mktemp("wire")
    with WireSite() as site:
        sources = tmp / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "wire"\nlang = "en"\nstart_urls = ["{site.url("/")}"]\n'
            f'allowed_domains = ["{site.host}"]\narticle_pattern = \'{ARTICLE_PATTERN}\'\n'
            'feeds = []\nsitemaps = []\n', encoding="utf-8")
        runs = []
        for _ in range(2):
            run = crawl(tmp, sources, tmp / "archive", "-s", "INCREMENTAL_ENABLED=false")  # a full second crawl
            assert run.proc.returncode == 0, run.log[-3000:]
            runs.append(run)
    return WireRun(site, tmp / "archive", runs, dict(site.requests))


def warc_paths(archive: Path) -> list[Path]:
    paths = sorted((archive / "warcs").glob("*.warc.gz"))
    assert paths
    return paths


def raw_records(path: Path) -> list[bytes]:
    """Each record's bytes exactly as stored (one gzip member each)."""
    data, out = path.read_bytes(), []
    while data:
        d = zlib.decompressobj(zlib.MAX_WBITS + 16)
        out.append(d.decompress(data))
        data = d.unused_data
    return out


def stored(wire: WireRun, rec_type: str, path: str) -> list[bytes]:
    """The HTTP heads of every ``rec_type`` record of ``path``, as stored."""
    url = wire.url(path).encode()
    heads = []
    for warc in warc_paths(wire.archive):
        for raw in raw_records(warc):
            warc_head, _, block = raw.partition(b"\r\n\r\n")
            if f"WARC-Type: {rec_type}\r\n".encode() in warc_head and b"WARC-Target-URI: " + url + b"\r\n" in warc_head:
                heads.append(block.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
    assert heads, (rec_type, path)
    return heads


def all_records(archive: Path):
    for path in warc_paths(archive):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                yield path, record, record.raw_stream.read()


def cli_ok(*args: str) -> str:
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout.decode()


# -- header names, order and framing, as on the wire ------------------------------------------------
def test_response_headers_are_stored_as_received(wire: WireRun) -> None:
    body_length = len(BODIES["/news/etag-case"])
    expected = (b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in ETAG_CASE_HEADERS)
                + b"Content-Length: %d\r\n\r\n" % body_length)
    heads = stored(wire, "response", "/news/etag-case") + stored(wire, "revisit", "/news/etag-case")
    assert heads == [expected, expected]
    out = cli_ok("get", wire.url("/news/etag-case"), "--archive", str(wire.archive), "--headers")
    assert 'ETag: "v1-4411"' in out and "X-MiXeD-CaSe: Yes" in out and "Etag" not in out


def test_framing_that_no_longer_applies_keeps_its_bytes_under_x_orig(wire: WireRun) -> None:
    length = len(BODIES["/news/chunked"])
    expected = (b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\nX-Orig-transfer-encoding: chunked\r\n"
                b"Content-Length: %d\r\n\r\n" % length)
    assert stored(wire, "response", "/news/chunked") == [expected]


def test_an_interim_1xx_response_is_not_part_of_the_stored_head(wire: WireRun) -> None:
    head = stored(wire, "response", "/early-hints")[0]
    assert head.startswith(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nContent-Length: ")
    assert b"Link" not in head and b"103" not in head


def test_request_heads_are_the_bytes_sent(wire: WireRun) -> None:
    for head in stored(wire, "request", "/news/etag-case"):
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0] == "GET /news/etag-case HTTP/1.1"
        names = [line.split(":", 1)[0] for line in lines[1:] if line]
        assert names == wire.requests["/news/etag-case"]  # the order the server received them in
        assert f"Host: {wire.site.host}" in lines


# -- links, metadata records ------------------------------------------------------------------------
def test_responses_name_their_request_and_metadata_names_its_response(wire: WireRun) -> None:
    seen: set[str] = set()
    requests: set[str] = set()
    responses: set[str] = set()
    metadata = 0
    for _path, record, _body in all_records(wire.archive):
        h = record.rec_headers
        rid = h.get_header("WARC-Record-ID")
        if record.rec_type == "request":
            assert h.get_header("WARC-Concurrent-To") is None  # nothing ahead of it
            requests.add(rid)
        elif record.rec_type in ("response", "revisit"):
            assert h.get_header("WARC-Concurrent-To") in requests  # written before it
            responses.add(rid)
        elif record.rec_type == "metadata":
            metadata += 1
            assert h.get_header("WARC-Target-URI").startswith(METADATA_URI_PREFIX + wire.site.base_url)
            assert h.get_header("WARC-Refers-To") in responses
            assert h.get_header("WARC-Payload-Digest") is None
            assert h.get_header("WARC-Concurrent-To") is None
        seen.add(rid)
    assert metadata == 2 * len(TITLES)


def test_list_and_get_show_the_article_and_dedup_rebuild_finds_the_metadata(wire: WireRun) -> None:
    listing = cli_ok("list", wire.url("/news/etag-case"), "--archive", str(wire.archive)).splitlines()
    assert [line.split()[2:4] for line in listing] == [["response", "text/html"], ["revisit", "warc/revisit"]]
    out = cli_ok("dedup", "rebuild", "--archive", str(wire.archive))
    assert "records=6" in out and "articles=3" in out and "bad_records=0" in out


# -- brotli ----------------------------------------------------------------------------------------
def test_verify_and_get_read_the_brotli_capture(wire: WireRun) -> None:
    out = cli_ok("verify", "--archive", str(wire.archive))
    assert out.rstrip().endswith(": 0 problems")
    assert cli_ok("get", wire.url("/news/brotli"), "--archive", str(wire.archive)).encode() == BODIES["/news/brotli"]
    raw = run_cli("get", wire.url("/news/brotli"), "--archive", str(wire.archive), "--raw")
    assert raw.returncode == 0 and raw.stdout == BROTLI_BODY


def test_warcio_content_stream_decodes_brotli_in_our_process(wire: WireRun) -> None:
    import crawler.archive  # noqa: F401  (installs the decoder)

    decoded = []
    for path in warc_paths(wire.archive):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI").endswith("/brotli"):
                    decoded.append(record.content_stream().read())
    assert decoded == [BODIES["/news/brotli"]]


# -- third-party readers ---------------------------------------------------------------------------
def test_warcat_verify_reports_nothing_but_the_revisit_digest_limitation(wire: WireRun) -> None:
    """warcat checks a revisit's WARC-Payload-Digest against its (empty) block: every reader that
    does so flags identical-payload-digest revisits, whose digest is the original's payload's."""
    revisits = {r.rec_headers.get_header("WARC-Record-ID") for _, r, _ in all_records(wire.archive)
                if r.rec_type == "revisit"}
    assert revisits
    paths = warc_paths(wire.archive)
    first = subprocess.run([sys.executable, "-m", "warcat", "verify", str(paths[0])], capture_output=True, text=True)
    assert first.returncode == 0 and "failed validation" not in first.stderr, first.stderr[-3000:]  # no revisit there
    # All files in one run, in order: a revisit refers to a record of an earlier file.
    proc = subprocess.run([sys.executable, "-m", "warcat", "verify", *map(str, paths)], capture_output=True, text=True)
    # warcat logs each problem with its traceback; anything else there is a crash
    assert proc.stderr.count("Traceback (most recent call last)") == proc.stderr.count("failed validation")
    flagged: dict[str, list[str]] = {}
    for rid, problem in re.findall(r"Record (<urn:uuid:[^>]+>) failed validation\n.*?VerifyProblem: \('([^']+)'",
                                   proc.stderr, re.S):
        flagged.setdefault(rid, []).append(problem)
    assert set(flagged) == revisits, flagged
    assert all(problems == ["Bad payload digest."] for problems in flagged.values()), flagged
    assert proc.stderr.rstrip().endswith(f"Validation failed. Problems: {len(revisits)}.")


def test_site_crawl_passes_warcat_verify(site_crawl: CrawlRun) -> None:
    for path in sorted((site_crawl.archive / "warcs").glob("*.warc.gz")):
        proc = subprocess.run([sys.executable, "-m", "warcat", "verify", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0 and "failed validation" not in proc.stderr, proc.stderr[-3000:]


def test_sidecars_equal_cdxj_indexer(wire: WireRun) -> None:
    ours = sorted(line for p in (wire.archive / "indexes").glob("*.cdxj") for line in p.read_text().splitlines())
    proc = subprocess.run([str(BIN / "cdxj-indexer"), *map(str, warc_paths(wire.archive))],
                          capture_output=True, text=True, check=True)
    assert ours == sorted(proc.stdout.splitlines())
    assert any(line.startswith(METADATA_URI_PREFIX) for line in ours)


# -- WACZ ------------------------------------------------------------------------------------------
def wacz_validate(path: Path) -> None:
    proc = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded, the passed WACZ is valid" in proc.stdout


def pages_of(path: Path) -> list[dict]:
    with zipfile.ZipFile(path) as z:
        lines = z.read("pages/pages.jsonl").decode("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def response_dates(wire: WireRun) -> dict[str, list[str]]:
    dates: dict[str, list[str]] = {}
    for _, record, _ in all_records(wire.archive):
        if record.rec_type in ("response", "revisit"):
            dates.setdefault(record.rec_headers.get_header("WARC-Target-URI"), []).append(
                record.rec_headers.get_header("WARC-Date"))
    return dates


def test_export_wacz_validates_and_lists_the_articles(wire: WireRun, tmp_path: Path) -> None:
    out = tmp_path / "wire.wacz"
    cli_ok("export", "--archive", str(wire.archive), "--wacz", str(out), "--text")
    wacz_validate(out)
    header, *pages = pages_of(out)
    assert header["format"] == "json-pages-1.0" and header["hasText"] is True
    dates = response_dates(wire)
    assert sorted((p["url"], p["ts"]) for p in pages) == sorted(
        (wire.url(path), ts) for path in TITLES for ts in dates[wire.url(path)])
    for page in pages:
        path = page["url"][len(wire.site.base_url):]
        assert page["title"] == TITLES[path]
        assert BODIES[path].decode().split("<p>")[1].split(".")[0] in page["text"]
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        index = gzip.decompress(z.read("indexes/index.cdx.gz")).decode().splitlines()
        for warc in warc_paths(wire.archive):  # unfiltered: the WARCs themselves, byte for byte
            assert z.read(f"archive/{warc.name}") == warc.read_bytes()
    assert {"datapackage.json", "datapackage-digest.json", "indexes/index.idx"} <= set(names)
    # py-wacz paired each response with its request (the link the response now carries); it
    # pairs responses only, never revisits.
    entries = [json.loads(line.split(" ", 2)[2]) for line in index]
    responses = [e for e in entries if "/news/" in e["url"] and e.get("mime") == "text/html"]
    assert len(responses) == len(TITLES) and all(e.get("referrer") == wire.url("/") for e in responses)


def test_export_wacz_of_one_span_keeps_what_replay_needs(wire: WireRun, tmp_path: Path) -> None:
    second = min(ts for dates in response_dates(wire).values() for ts in dates[1:])
    since = re.sub(r"\D", "", second)[:14]
    out = tmp_path / "span.wacz"
    cli_ok("export", "--archive", str(wire.archive), "--wacz", str(out), "--since", since, "--source", "wire")
    wacz_validate(out)
    header, *pages = pages_of(out)
    assert "hasText" not in header and all("text" not in p for p in pages)
    assert len(pages) == len(TITLES) and all(re.sub(r"\D", "", p["ts"])[:14] >= since for p in pages)
    kinds: dict[str, list[str]] = {}
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("archive/"):
                for record in ArchiveIterator(io.BytesIO(z.read(name))):
                    kinds.setdefault(record.rec_type, []).append(record.rec_headers.get_header("WARC-Target-URI"))
    # each revisit with the capture it replays from, both with their requests, and the metadata
    assert sorted(kinds["revisit"]) == sorted(kinds["response"]) == sorted(wire.url(p) for p in TITLES)
    assert len(kinds["request"]) == len(kinds["metadata"]) == 2 * len(TITLES)
    assert wire.url("/") not in kinds["response"]


def test_export_refuses_an_empty_selection_in_one_line(wire: WireRun, tmp_path: Path) -> None:
    for args in (["--source", "nosuch"], ["--since", "2100-01-01"]):
        proc = run_cli("export", "--archive", str(wire.archive), "--wacz", str(tmp_path / "x.wacz"), *args)
        assert proc.returncode == 1 and proc.stderr.decode().startswith("newsarchive: nothing to export")
        assert len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "x.wacz").exists()
    proc = run_cli("export", "--archive", str(wire.archive), "--wacz", str(tmp_path / "x.wacz"), "--since", "soon")
    assert proc.returncode == 2
    assert run_cli("export", "--archive", str(wire.archive)).returncode == 2


@pytest.mark.s3
def test_export_wacz_from_s3(wire: WireRun, seaweedfs, make_bucket, s3_kwargs, tmp_path: Path) -> None:
    from crawler.archive.storage import open_storage
    from crawler.export.wacz import export_wacz

    uri = f"s3://{make_bucket()}/archive"
    storage = open_storage(uri, **s3_kwargs)
    for warc in warc_paths(wire.archive):
        storage.put_file(warc, f"warcs/{warc.name}")
    archive = Archive.open(uri, cache_dir=tmp_path / "cache", storage=storage)
    report = export_wacz(archive, tmp_path / "s3.wacz", text=True)
    assert report.pages == 2 * len(TITLES) and report.warcs == len(warc_paths(wire.archive))
    wacz_validate(tmp_path / "s3.wacz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".wacz-")]  # temporary copies gone


# -- archives written before the change ------------------------------------------------------------
def legacy_copy(wire: WireRun, root: Path) -> Path:
    """The wire archive with its metadata records in the old form: JSON under the article's URL,
    WARC-Concurrent-To the response, a payload digest."""
    (root / "warcs").mkdir(parents=True)
    for warc in warc_paths(wire.archive):
        with open(warc, "rb") as src, open(root / "warcs" / warc.name, "wb") as dst:
            writer = WARCWriter(dst, gzip=True, warc_version="1.1")
            for record in ArchiveIterator(src):
                if record.rec_type != "metadata":
                    record.raw_stream = io.BytesIO(record.raw_stream.read())  # keep the block as it is
                    writer.write_record(record)
                    continue
                body = record.raw_stream.read()
                h = record.rec_headers
                old = writer.create_warc_record(
                    json.loads(body)["url"], "metadata", payload=io.BytesIO(body), length=len(body),
                    warc_content_type="application/json",
                    warc_headers_dict={"WARC-Record-ID": h.get_header("WARC-Record-ID"),
                                       "WARC-Date": h.get_header("WARC-Date"),
                                       "WARC-Concurrent-To": h.get_header("WARC-Refers-To")})
                writer.write_record(old)
    return root


def test_old_archives_rebuild_reindex_and_export_in_the_current_form(wire: WireRun, tmp_path: Path) -> None:
    old = legacy_copy(wire, tmp_path / "old")
    cli_ok("index", "rebuild", "--archive", str(old))
    sidecars = "".join(p.read_text() for p in (old / "indexes").glob("*.cdxj"))
    assert "application/json" not in sidecars  # never a capture of the article
    out = cli_ok("dedup", "rebuild", "--archive", str(old))
    assert "records=6" in out
    wacz = tmp_path / "old.wacz"
    cli_ok("export", "--archive", str(old), "--wacz", str(wacz))
    wacz_validate(wacz)
    with zipfile.ZipFile(wacz) as z:
        metadata = [r for name in z.namelist() if name.startswith("archive/")
                    for r in ArchiveIterator(io.BytesIO(z.read(name))) if r.rec_type == "metadata"]
    old_ids = {r.rec_headers.get_header("WARC-Record-ID") for _, r, _ in all_records(old) if r.rec_type == "metadata"}
    assert {r.rec_headers.get_header("WARC-Record-ID") for r in metadata} == old_ids
    assert all(r.rec_headers.get_header("WARC-Target-URI").startswith(METADATA_URI_PREFIX) for r in metadata)


# -- pywb ------------------------------------------------------------------------------------------
@pytest.mark.pywb
@pytest.mark.skipif(pywb_missing() is not None, reason="pywb venv missing (make pywb)")
def test_pywb_replays_the_latest_capture_of_each_article_as_the_article(wire: WireRun, tmp_path: Path) -> None:
    from crawler.replay import prepare_collection, start_pywb

    config = prepare_collection(wire.archive, tmp_path / "pywb")
    with start_pywb(config) as server:
        for path, title in TITLES.items():
            for timestamp in ("", "29991231235959"):  # the latest, and any time after it
                request = urllib.request.Request(server.replay_url(wire.url(path), timestamp, "mp_"),
                                                 headers={"Accept-Encoding": "identity"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    body = response.read()
                    assert response.headers.get_content_type() == "text/html", (path, response.headers)
                assert f"<title>{title}</title>".encode() in body, (path, body[:300])
                assert b'"type": "newsarchive/dedup"' not in body
            # the metadata record is still there for whoever asks for it by its own address
            meta = METADATA_URI_PREFIX + wire.url(path)
            with urllib.request.urlopen(server.replay_url(meta, "", "id_"), timeout=30) as response:
                assert response.headers.get_content_type() == "application/json"
                assert json.loads(response.read())["url"] == wire.url(path)


def test_verify_names_the_migration_for_an_old_archives_index(wire: WireRun, tmp_path: Path) -> None:
    """An old archive's sidecars (cdxj-indexer's, or ours before the change) list the old-form
    metadata records as captures of the article: verify says which command fixes that."""
    old = legacy_copy(wire, tmp_path / "old")
    cli_ok("index", "rebuild", "--archive", str(old))
    proc = subprocess.run([str(BIN / "cdxj-indexer"), "--sort", *map(str, warc_paths(old))], capture_output=True,
                          text=True, check=True, cwd=old / "warcs")
    for warc in warc_paths(old):  # the index as it was: every line cdxj-indexer writes
        lines = [line for line in proc.stdout.splitlines() if f'"filename": "{warc.name}"' in line]
        (old / "indexes" / (warc.name[: -len(".warc.gz")] + ".cdxj")).write_text("".join(l + "\n" for l in lines))
    out = run_cli("verify", "--archive", str(old)).stdout.decode()
    problems = [line for line in out.splitlines() if not line.startswith("verified ")]
    assert len(problems) == 6 and all(p.endswith("run `newsarchive index rebuild`") for p in problems), out
    cli_ok("index", "rebuild", "--archive", str(old))
    assert cli_ok("verify", "--archive", str(old)).rstrip().endswith(": 0 problems")


def test_fastwarc_check_passes_every_record_but_revisits(wire: WireRun) -> None:
    """``fastwarc check -p`` verifies payload digests too: metadata records, which carry none
    now, pass; identical-payload revisits are the same limitation as warcat's."""
    revisits = {r.rec_headers.get_header("WARC-Record-ID") for _, r, _ in all_records(wire.archive)
                if r.rec_type == "revisit"}
    metadata = {r.rec_headers.get_header("WARC-Record-ID") for _, r, _ in all_records(wire.archive)
                if r.rec_type == "metadata"}
    assert metadata
    for path in warc_paths(wire.archive):
        proc = subprocess.run([str(BIN / "fastwarc"), "check", "-p", str(path)], capture_output=True, text=True)
        out = (proc.stdout + proc.stderr).replace("\r", "\n")
        failed = set(re.findall(r"^(<urn:uuid:[^>]+>)$", out, re.M))
        assert failed <= revisits, (failed - revisits, out[-2000:])
