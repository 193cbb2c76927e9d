"""A second full run over unchanged pages: revisit records, not new copies; pywb replays both runs.

Incremental crawls are off here (INCREMENTAL_ENABLED=false: every URL fetched again, as when every
article's `recrawl_after` has passed on a server without validators); tests/integration/test_incremental.py
covers the incremental default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.records import REVISIT_PROFILE
from tests.conftest import CrawlRun, crawl, run_cli, write_sources
from tests.mockserver import served_bytes


@pytest.fixture(scope="module")
def two_runs(mock_server, tmp_path_factory) -> tuple[CrawlRun, CrawlRun]:
    tmp = tmp_path_factory.mktemp("recrawl")
    sources = write_sources(tmp / "sources.toml", mock_server, start="/basic", feeds=False, sitemaps=False,
                            more_starts=("/redirect/301",),
                            extra="follow_pattern = '/(basic|redirect/301)$'\n")
    full = ("-s", "ITEM_PIPELINES={}", "-s", "INCREMENTAL_ENABLED=false")
    first = crawl(tmp, sources, tmp / "archive", *full)
    assert first.proc.returncode == 0, first.log[-3000:]
    second = crawl(tmp, sources, tmp / "archive", *full)
    assert second.proc.returncode == 0, second.log[-3000:]
    return first, second


def _records(archive: Path):
    for path in sorted((archive / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                yield path.name, rec.rec_type, rec.rec_headers, rec.http_headers, rec.raw_stream.read()


def test_second_run_writes_revisits_for_unchanged_payloads(two_runs, mock_server) -> None:
    first, second = two_runs
    assert first.stats["archive/responses"] >= 8 and not first.stats.get("archive/revisits")
    # Everything on /basic is static: the second run stores no body twice.
    assert second.stats["archive/revisits"] == first.stats["archive/responses"]
    assert second.stats["downloader/response_count"] == first.stats["downloader/response_count"]
    assert not second.stats.get("archive/responses")
    originals = {h.get_header("WARC-Record-ID"): (h, name) for name, t, h, _, _ in _records(first.archive)
                 if t == "response"}
    revisits = [(h, http, body) for _, t, h, http, body in _records(first.archive) if t == "revisit"]
    assert len(revisits) == second.stats["archive/revisits"]
    for h, http, body in revisits:
        assert h.get_header("WARC-Profile") == REVISIT_PROFILE
        orig, _ = originals[h.get_header("WARC-Refers-To")]
        assert h.get_header("WARC-Refers-To-Target-URI") == orig.get_header("WARC-Target-URI")
        assert h.get_header("WARC-Refers-To-Date") == orig.get_header("WARC-Date")
        assert h.get_header("WARC-Payload-Digest") == orig.get_header("WARC-Payload-Digest")
        assert http is not None and http.get_statuscode()  # the response headers are kept
        assert body == b""


def test_revisits_pass_warcio_check(two_runs) -> None:
    for path in sorted((two_runs[0].archive / "warcs").glob("*.warc.gz")):
        proc = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_get_resolves_revisits_and_picks_the_closest_capture(two_runs, mock_server) -> None:
    archive = str(two_runs[0].archive)
    url = mock_server.url("/gzip")
    listing = run_cli("list", url, "--archive", archive).stdout.decode().splitlines()
    assert len(listing) == 2 and "revisit" in listing[1] and "response" in listing[0]
    first_ts = listing[0].split()[0]
    for args in ((), ("--at", first_ts), ("--at", "20991231")):
        proc = run_cli("get", url, "--archive", archive, "--raw", *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == served_bytes("/gzip")


def test_pywb_replays_crawled_page_redirect_and_revisit(two_runs, mock_server, tmp_path) -> None:
    replay = pytest.importorskip("crawler.replay")
    try:
        replay.find_pywb_venv()
    except replay.PywbNotFound as e:
        pytest.skip(f"pywb venv missing: {e}")
    from tests.replay.test_pywb_replay import fetch

    archive = two_runs[0].archive
    listing = run_cli("list", mock_server.url("/articles/1"), "--archive", str(archive)).stdout.decode().splitlines()
    first_ts, revisit_ts = listing[0].split()[0], listing[1].split()[0]
    assert "revisit" in listing[1]
    config = replay.prepare_collection(str(archive), tmp_path)
    with replay.start_pywb(config) as server:
        page = fetch(server.replay_url(mock_server.url("/articles/1"), first_ts, "id_"))
        assert page.status == 200
        assert page.body == served_bytes("/articles/1")
        again = fetch(server.replay_url(mock_server.url("/articles/1"), revisit_ts, "id_"))
        assert again.status == 200 and again.body == served_bytes("/articles/1")
        redirect = fetch(server.replay_url(mock_server.url("/redirect/301"), first_ts, "id_"))
        assert redirect.status == 301
        assert redirect.headers["Location"].endswith("/articles/3")
