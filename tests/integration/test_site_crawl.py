"""A whole crawl of the hostile test site: what was archived, how faithfully, and what was refused."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import CrawlRun, run_cli
from tests.mockserver import BOMB_INFLATED_SIZE, HUGE_SIZE, served_bytes


def warcs(run: CrawlRun) -> list[Path]:
    files = sorted((run.archive / "warcs").glob("*.warc.gz"))
    assert files, "the crawl wrote no WARC"
    return files


def records(run: CrawlRun):
    for path in warcs(run):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                rec_type = rec.rec_type
                headers = rec.rec_headers
                http = rec.http_headers
                body = rec.raw_stream.read()
                yield rec_type, headers, http, body


def captured_urls(run: CrawlRun) -> set[str]:
    return {h.get_header("WARC-Target-URI") for t, h, _, _ in records(run) if t in ("response", "revisit")}


def cli_ok(*args: str) -> bytes:
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


# -- WARC validity -----------------------------------------------------------------------------
def test_every_warc_passes_warcio_check(site_crawl: CrawlRun) -> None:
    for path in warcs(site_crawl):
        proc = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "digest pass" in proc.stdout
        assert "digest fail" not in proc.stdout


def test_every_warc_parses_with_fastwarc_and_digests_verify(site_crawl: CrawlRun) -> None:
    from fastwarc.warc import ArchiveIterator as FastIterator
    from fastwarc.warc import WarcRecordType

    counted = 0
    for path in warcs(site_crawl):
        # Digests are checked on the unparsed block; HTTP parsing is checked in a second pass.
        for rec in FastIterator(str(path), parse_http=False, record_types=WarcRecordType.any_type,
                                fsspec_args=False):
            counted += 1
            assert rec.headers["WARC-Record-ID"]
            assert rec.verify_block_digest(), rec.headers["WARC-Target-URI"]
        for rec in FastIterator(str(path), parse_http=True, record_types=WarcRecordType.response,
                                fsspec_args=False):
            assert rec.http_headers.status_code >= 200
            assert rec.verify_payload_digest(), rec.headers["WARC-Target-URI"]
    assert counted > 40


def test_files_start_with_warcinfo_and_records_are_warc_1_1(site_crawl: CrawlRun) -> None:
    for path in warcs(site_crawl):
        with open(path, "rb") as f:
            first = next(iter(ArchiveIterator(f)))
            assert first.rec_type == "warcinfo"
            info = first.content_stream().read().decode()
        for key in ("software: newsarchive/", "format: WARC File Format 1.1", "conformsTo:", "isPartOf: mock",
                    "robots: obey", "http-header-user-agent: newsarchive"):
            assert key in info
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        name = path.name
        parts = name[: -len(".warc.gz")].split("-")
        assert parts[0] == "newsarchive" and len(parts[1]) == 17 and len(parts[2]) == 5
    for _rec_type, headers, _, _ in records(site_crawl):
        assert headers.protocol == "WARC/1.1"
        assert not headers.get_header("WARC-Target-URI", "").startswith("<")


def test_each_response_has_its_request(site_crawl: CrawlRun) -> None:
    responses, requests, ids = {}, {}, set()
    for rec_type, headers, _, _ in records(site_crawl):
        rid = headers.get_header("WARC-Record-ID")
        assert rid not in ids
        ids.add(rid)
        if rec_type == "response":
            responses[rid] = headers
            assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
            assert headers.get_header("WARC-Payload-Digest").startswith("sha1:")
            assert headers.get_header("WARC-Date").endswith("Z")
            # the response names the request written just before it
            assert headers.get_header("WARC-Concurrent-To") in requests
        elif rec_type == "request":
            assert headers.get_header("WARC-Concurrent-To") is None
            requests[rid] = headers
    named = {h.get_header("WARC-Concurrent-To"): rid for rid, h in responses.items()}
    assert responses and set(named) == set(requests)
    for qid, rid in named.items():
        assert requests[qid].get_header("WARC-Target-URI") == responses[rid].get_header("WARC-Target-URI")


def test_request_records_hold_the_request_line_and_host(site_crawl: CrawlRun, mock_server) -> None:
    for rec_type, _headers, http, _ in records(site_crawl):
        if rec_type != "request":
            continue
        assert http.protocol == "GET"
        assert http.get_header("Host") == mock_server.host
        assert "zstd" not in (http.get_header("Accept-Encoding") or "")
        assert http.get_header("Accept-Encoding", "").startswith("gzip, deflate")


def test_framing_headers_match_the_stored_body(site_crawl: CrawlRun) -> None:
    for rec_type, headers, http, body in records(site_crawl):
        if rec_type != "response":
            continue
        assert (http.get_header("Transfer-Encoding") or "").lower() != "chunked"
        assert int(http.get_header("Content-Length")) == len(body), headers.get_header("WARC-Target-URI")


def test_index_equals_cdxj_indexer(site_crawl: CrawlRun) -> None:
    ours = sorted(line for p in (site_crawl.archive / "indexes").glob("*.cdxj") for line in p.read_text().splitlines())
    proc = subprocess.run([str(Path(sys.executable).with_name("cdxj-indexer")), *map(str, warcs(site_crawl))],
                          capture_output=True, text=True, check=True)
    theirs = sorted(proc.stdout.splitlines())
    assert ours == theirs
    assert len(ours) > 30


# -- Exact bytes back ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/gzip", "/download/report", "/articles/1", "/chunked", "/gbk", "/bomb"])
def test_get_raw_returns_the_served_payload(site_crawl: CrawlRun, mock_server, path: str) -> None:
    out = cli_ok("get", mock_server.url(path), "--archive", str(site_crawl.archive), "--raw")
    assert hashlib.sha1(out).hexdigest() == hashlib.sha1(served_bytes(path)).hexdigest()


def test_get_decodes_content_encoding(site_crawl: CrawlRun, mock_server) -> None:
    out = cli_ok("get", mock_server.url("/gzip"), "--archive", str(site_crawl.archive))
    assert out == gzip.decompress(served_bytes("/gzip"))
    assert out.startswith(b"<!DOCTYPE html>")


def test_huge_page_archived_whole(site_crawl: CrawlRun, mock_server) -> None:
    out = cli_ok("get", mock_server.url("/huge"), "--archive", str(site_crawl.archive), "--raw")
    assert len(out) == HUGE_SIZE
    assert out == served_bytes("/huge")


def test_gzip_bomb_archived_compressed_never_inflated(site_crawl: CrawlRun, mock_server) -> None:
    assert mock_server.url("/bomb") in captured_urls(site_crawl)
    # Scrapy stops inflating at DOWNLOAD_MAXSIZE (64 MB); the whole crawl stays far below 1 GiB.
    assert site_crawl.stats["memusage/max"] < 400 * 1024 * 1024
    assert BOMB_INFLATED_SIZE > 10 * site_crawl.stats["memusage/max"] / 4
    proc = run_cli("get", mock_server.url("/bomb"), "--archive", str(site_crawl.archive))
    assert proc.returncode == 1
    assert b"refusing to inflate" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1  # one clear line, no traceback


def test_headers_keep_repeated_set_cookie_and_reason_phrase(site_crawl: CrawlRun, mock_server) -> None:
    out = cli_ok("get", mock_server.url("/articles/1"), "--archive", str(site_crawl.archive), "--headers").decode()
    assert out.startswith("HTTP/1.1 200 OK\r\n")
    assert "Set-Cookie: a=1; Path=/" in out and "Set-Cookie: b=2; Path=/" in out
    teapot = cli_ok("get", mock_server.url("/status/teapot"), "--archive", str(site_crawl.archive), "--headers")
    assert teapot.startswith(b"HTTP/1.1 418 I'm a Teapot Custom\r\n")


# -- Hostile cases: what was archived, what was refused ----------------------------------------------
def statuses(run: CrawlRun) -> dict[str, str]:
    return {h.get_header("WARC-Target-URI"): http.get_statuscode()
            for t, h, http, _ in records(run) if t == "response"}


def test_redirects_errors_and_slow_pages_are_archived(site_crawl: CrawlRun, mock_server) -> None:
    st = statuses(site_crawl)
    u = mock_server.url
    assert st[u("/redirect/301")] == "301" and st[u("/articles/3")] == "200"
    assert st[u("/redirect/302")] == "302" and st[u("/articles/4")] == "200"
    assert st[u("/redirect/offsite")] == "302"
    assert st[u("/status/404")] == "404" and st[u("/status/500")] == "500"
    assert st[u("/status/teapot")] == "418"
    assert st[u("/slow")] == "200"
    assert st[u("/loop/a")] == "302" and st[u("/loop/b")] == "302"
    assert st[u("/download/report")] == "200"


def test_never_offsite_nor_robots_disallowed(site_crawl: CrawlRun, mock_server) -> None:
    urls = captured_urls(site_crawl)
    assert all(u.startswith(mock_server.base_url) for u in urls)
    assert mock_server.url("/robots.txt") in urls
    assert site_crawl.hits.get("/private/secret", 0) == 0
    assert site_crawl.stats["robotstxt/forbidden"] >= 1
    assert site_crawl.stats["scope/offsite"] >= 1  # the offsite redirect, stopped before fetching
    assert site_crawl.stats["scope/offsite_links"] >= 1


def test_tracking_and_session_parameters_fetch_once(site_crawl: CrawlRun, mock_server) -> None:
    urls = captured_urls(site_crawl)
    assert not [u for u in urls if "utm_" in u or "sessionid" in u.lower() or "#" in u]
    article1 = {k: v for k, v in site_crawl.raw_hits.items() if k.startswith("/articles/1")}
    assert article1 == {"/articles/1": 1}


def test_loop_is_fetched_once_per_url(site_crawl: CrawlRun, mock_server) -> None:
    h = site_crawl.hits
    assert h["/loop/a"] == 1 and h["/loop/b"] == 1


def test_calendar_trap_is_cut(site_crawl: CrawlRun, mock_server) -> None:
    calendar = [u for u in captured_urls(site_crawl) if "/calendar/" in u]
    assert 1 <= len(calendar) <= 20
    assert not [u for u in calendar if u.count("/2026/") + u.count("/2027/") + u.count("/2025/") > 1]
    assert site_crawl.stats.get("traps/repeated_segments", 0) >= 1
    assert site_crawl.stats.get("traps/depth", 0) >= 1


def test_gbk_page_without_charset_decodes_and_its_links_are_followed(site_crawl: CrawlRun, mock_server) -> None:
    assert mock_server.url("/gbk-linked") in captured_urls(site_crawl)
    assert site_crawl.stats["encoding/fallback/gb18030"] >= 1


def test_malformed_html_and_chinese_paths(site_crawl: CrawlRun, mock_server) -> None:
    urls = captured_urls(site_crawl)
    assert mock_server.url("/malformed") in urls
    assert mock_server.url("/malformed-linked") in urls
    chinese = mock_server.url("/zh/%E6%96%87%E7%AB%A0/%E6%BC%8F%E6%B4%9E")
    assert chinese in urls
    out = cli_ok("get", mock_server.url("/zh/文章/漏洞"), "--archive", str(site_crawl.archive))
    assert "漏洞".encode() in out


def test_feed_and_sitemap_discovery(site_crawl: CrawlRun, mock_server) -> None:
    urls = captured_urls(site_crawl)
    assert mock_server.url("/feed-only") in urls
    assert mock_server.url("/sitemap-only") in urls
    assert site_crawl.stats["feeds/parsed"] >= 1 and site_crawl.stats["sitemaps/parsed"] >= 1


def test_list_shows_captures_and_get_unknown_is_exit_1(site_crawl: CrawlRun, mock_server) -> None:
    out = cli_ok("list", mock_server.url("/articles/2"), "--archive", str(site_crawl.archive)).decode()
    assert len(out.splitlines()) == 1 and " 200 " in out
    proc = run_cli("get", mock_server.url("/never-crawled"), "--archive", str(site_crawl.archive))
    assert proc.returncode == 1 and b"not in the archive" in proc.stderr
    proc = run_cli("list", mock_server.url("/never-crawled"), "--archive", str(site_crawl.archive))
    assert proc.returncode == 1
    proc = run_cli("get", mock_server.url("/articles/2"), "--archive", str(site_crawl.archive), "--at", "notadate")
    assert proc.returncode == 2


def test_index_rebuild_equals_what_the_crawl_wrote(site_crawl: CrawlRun, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    copy = tmp_path / "archive"
    shutil.copytree(site_crawl.archive, copy)

    def catalog_rows(root: Path):
        with sqlite3.connect(root / "index.sqlite3") as c:
            return sorted(c.execute("SELECT * FROM captures").fetchall())

    def sidecars(root: Path):
        return {p.name: p.read_bytes() for p in (root / "indexes").glob("*.cdxj")}

    before_rows, before_sidecars = catalog_rows(copy), sidecars(copy)
    (copy / "index.sqlite3").unlink()
    for p in (copy / "indexes").glob("*"):
        p.unlink()
    cli_ok("index", "rebuild", "--archive", str(copy))
    assert sidecars(copy) == before_sidecars
    assert catalog_rows(copy) == before_rows
