"""Incremental crawls: a second run over unchanged sites fetches listings, feeds and sitemaps but
no archived article; a due recrawl is conditional, and a 304 becomes a server-not-modified revisit."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.records import NOT_MODIFIED_PROFILE, REVISIT_PROFILE
from tests.conftest import CrawlRun, crawl, run_cli, write_sources
from tests.mockserver import MockServer, served_bytes

ARTICLE = r"/(articles/\d+|feed-only|sitemap-only|gzip|chunked)$"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(validators=True) as s:
        yield s


def _records(archive: Path, since: set[str] = frozenset()):  # type: ignore[assignment]
    for path in sorted((archive / "warcs").glob("*.warc.gz")):
        if path.name in since:
            continue
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                yield rec.rec_type, rec.rec_headers, rec.http_headers


def _warcs(archive: Path) -> set[str]:
    return {p.name for p in (archive / "warcs").glob("*.warc.gz")}


def _run(tmp: Path, sources: Path, archive: Path) -> tuple[CrawlRun, set[str]]:
    before = _warcs(archive) if (archive / "warcs").is_dir() else set()
    run = crawl(tmp, sources, archive, "-s", "ITEM_PIPELINES={}")
    assert run.proc.returncode == 0, run.log[-3000:]
    return run, before


@pytest.fixture(scope="module")
def news_site() -> Iterator[MockServer]:
    """A news site as the sources crawl them: a home page and listings of 120 articles."""
    with MockServer("bench", pages=120, seed=3, validators=True) as s:
        yield s


@pytest.fixture(scope="module")
def incremental(news_site: MockServer, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("incremental")
    sources = write_sources(tmp / "sources.toml", news_site, start="/", article_pattern=r"/p/\d+$", feeds=False,
                            sitemaps=False, extra="follow_pattern = '/(list/\\d+)?$'\n")
    archive = tmp / "archive"
    first, _ = _run(tmp, sources, archive)
    second, before = _run(tmp, sources, archive)
    return first, second, before


def test_second_run_fetches_no_archived_article(incremental) -> None:
    first, second, before = incremental
    requests1, requests2 = first.stats["downloader/request_count"], second.stats["downloader/request_count"]
    assert first.stats["archive/responses"] >= 120
    assert requests2 <= 0.3 * requests1, (requests1, requests2)
    assert second.stats["incremental/skipped_archived"] >= 120
    new = [(t, h.get_header("WARC-Target-URI")) for t, h, _ in _records(second.archive, before)
           if t in ("response", "revisit")]
    assert new, "the home page and the listings are fetched every run"
    assert not [u for _, u in new if re.search(r"/p/\d+$", u)], new
    assert not second.stats.get("incremental/refetched") and not second.stats.get("archive/responses")


@pytest.fixture(scope="module")
def small_site(server: MockServer, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("incremental-small")
    sources = write_sources(tmp / "sources.toml", server, start="/basic", article_pattern=ARTICLE,
                            more_starts=("/articles/1",), extra="follow_pattern = '/basic$'\n")
    archive = tmp / "archive"
    first, _ = _run(tmp, sources, archive)
    second, before = _run(tmp, sources, archive)
    return first, second, before


def test_listings_feeds_and_sitemaps_are_fetched_again(small_site, server: MockServer) -> None:
    first, second, before = small_site
    urls = {h.get_header("WARC-Target-URI") for t, h, _ in _records(second.archive, before) if t == "request"}
    for path in ("/basic", "/feed.xml", "/sitemap.xml"):
        assert server.url(path) in urls
    # an article that is a start URL is an article all the same
    assert server.url("/articles/1") not in urls
    assert not [u for u in urls if re.search(ARTICLE, u)]
    assert second.stats["incremental/skipped_archived"] >= 5


@pytest.fixture(scope="module")
def recrawl(server: MockServer, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("recrawl-due")
    sources = write_sources(tmp / "sources.toml", server, start="/basic", article_pattern=ARTICLE,
                            feeds=False, sitemaps=False,
                            extra="follow_pattern = '/basic$'\nrecrawl_after = \"1s\"\n")
    archive = tmp / "archive"
    first, _ = _run(tmp, sources, archive)
    time.sleep(1.2)
    second, before = _run(tmp, sources, archive)
    return first, second, before


def test_due_recrawl_is_conditional_and_304_is_a_not_modified_revisit(recrawl, server: MockServer) -> None:
    first, second, before = recrawl
    assert second.stats["incremental/refetched"] >= 3
    assert second.stats["incremental/conditional"] == second.stats["incremental/refetched"]
    assert second.stats["incremental/not_modified"] >= 3
    requests = [h for t, h, _ in _records(second.archive, before) if t == "request"]
    revisits = [(h, http) for t, h, http in _records(second.archive, before) if t == "revisit"]
    not_modified = [(h, http) for h, http in revisits if h.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE]
    assert len(not_modified) == second.stats["incremental/not_modified"]
    originals = {h.get_header("WARC-Record-ID"): h for t, h, _ in _records(first.archive) if t == "response"}
    for h, http in not_modified:
        assert http.get_statuscode() == "304"  # the head as received
        orig = originals[h.get_header("WARC-Refers-To")]
        assert h.get_header("WARC-Refers-To-Target-URI") == orig.get_header("WARC-Target-URI")
        assert h.get_header("WARC-Refers-To-Date") == orig.get_header("WARC-Date")
        assert h.get_header("WARC-Payload-Digest") == orig.get_header("WARC-Payload-Digest")
    assert requests and not [(t, h) for t, h, _ in _records(second.archive, before)
                             if t == "response" and re.search(ARTICLE, h.get_header("WARC-Target-URI"))]
    # the listing (no recrawl_after applies to it) is fetched unconditionally: an identical-payload revisit
    assert any(h.get_header("WARC-Profile") == REVISIT_PROFILE for h, _ in revisits)


def test_not_modified_revisits_resolve_in_get_and_pass_checks(recrawl, server: MockServer) -> None:
    archive = str(recrawl[0].archive)
    for path in ("/articles/1", "/gzip"):
        url = server.url(path)
        listing = run_cli("list", url, "--archive", archive).stdout.decode().splitlines()
        assert len(listing) == 2 and "revisit" in listing[1], listing
        revisit_ts = listing[1].split()[0]
        raw = run_cli("get", url, "--archive", archive, "--raw", "--at", revisit_ts)
        assert raw.returncode == 0, raw.stderr
        assert raw.stdout == served_bytes(path)
        head = run_cli("get", url, "--archive", archive, "--headers", "--at", revisit_ts)
        assert b" 200 " in head.stdout.splitlines()[0], head.stdout[:200]
    verify = run_cli("verify", "--archive", archive)
    assert verify.returncode == 0, verify.stdout.decode()[-2000:]
    for path in sorted(Path(archive, "warcs").glob("*.warc.gz")):
        proc = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pywb_replays_not_modified_revisits(recrawl, server: MockServer, tmp_path: Path) -> None:
    replay = pytest.importorskip("crawler.replay")
    try:
        replay.find_pywb_venv()
    except replay.PywbNotFound as e:
        pytest.skip(f"pywb venv missing: {e}")
    from tests.replay.test_pywb_replay import fetch

    archive = recrawl[0].archive
    url = server.url("/articles/1")
    listing = run_cli("list", url, "--archive", str(archive)).stdout.decode().splitlines()
    first_ts, revisit_ts = listing[0].split()[0], listing[1].split()[0]
    config = replay.prepare_collection(str(archive), tmp_path)
    with replay.start_pywb(config) as pywb:
        for ts in (first_ts, revisit_ts):
            page = fetch(pywb.replay_url(url, ts, "id_"))
            assert page.status == 200, (ts, page.status)
            assert page.body == served_bytes("/articles/1")
            # each capture is served as itself: the revisit with its own date, the original's payload
            assert page.headers["Memento-Datetime"] == format_datetime(
                datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc), usegmt=True)
