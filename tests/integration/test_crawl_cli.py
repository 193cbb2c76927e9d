"""The crawl command's contract: exit codes, fail-fast configuration, backpressure, `scrapy crawl news`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.conftest import REPO, cli_env, crawl, run_cli, write_sources


def response_urls(archive: Path) -> list[str]:
    urls = []
    for path in sorted((archive / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as f:
            urls += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)
                     if r.rec_type == "response"]
    return urls


def test_unwritable_archive_is_exit_2_before_any_request(mock_server, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "s.toml", mock_server, start="/basic")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    proc = run_cli("crawl", "--sources", str(sources), "--archive", str(blocker), cwd=tmp_path)
    assert proc.returncode == 2
    assert b"not writable" in proc.stderr and b"Traceback" not in proc.stderr


def test_misspelt_dedup_threshold_is_exit_2_before_any_request(mock_server, tmp_path: Path) -> None:
    """A typo in a threshold must not quietly switch near-duplicate detection off."""
    sources = write_sources(tmp_path / "s.toml", mock_server, start="/basic")
    proc = run_cli("crawl", "--sources", str(sources), "--archive", str(tmp_path / "archive"),
                   "-s", 'DEDUP_THRESHOLDS={"stroy_min": 0.5}', cwd=tmp_path)
    assert proc.returncode == 2
    assert b"unknown dedup settings: stroy_min" in proc.stderr and b"Traceback" not in proc.stderr
    assert not (tmp_path / "archive" / "warcs").exists() or not any((tmp_path / "archive" / "warcs").iterdir())


def test_writer_backpressure_pauses_downloads_and_loses_nothing(mock_server, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "s.toml", mock_server, start="/basic", feeds=False, sitemaps=False)
    run = crawl(tmp_path, sources, tmp_path / "archive", "-s", "ITEM_PIPELINES={}",
                "-s", "ARCHIVE_QUEUE_MAX_BYTES=1")
    assert run.proc.returncode == 0, run.log[-2000:]
    assert run.stats["archive/backpressure_pauses"] >= 1
    urls = response_urls(tmp_path / "archive")
    assert len(urls) == run.stats["downloader/response_count"] == run.stats["archive/responses"]


def test_scrapy_crawl_news_is_the_same_spider(mock_server, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "s.toml", mock_server, start="/basic", feeds=False, sitemaps=False)
    archive = tmp_path / "archive"
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"NEWSARCHIVE_SOURCES={sources}",
         "-s", f"ARCHIVE_URI={archive}", "-s", "ITEM_PIPELINES={}", "-s", "AUTOTHROTTLE_ENABLED=False",
         "-s", "LOG_LEVEL=WARNING"],
        cwd=REPO, env=cli_env(), capture_output=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert mock_server.url("/articles/1") in response_urls(archive)


def test_a_crawl_that_fetches_nothing_is_exit_1(tmp_path: Path) -> None:
    from tests.seaweed import closed_port

    port = closed_port()
    sources = tmp_path / "s.toml"
    sources.write_text(f'[[source]]\nname = "down"\nlang = "en"\nstart_urls = ["http://127.0.0.1:{port}/"]\n'
                       f'allowed_domains = ["127.0.0.1:{port}"]\narticle_pattern = "/a/"\n', encoding="utf-8")
    proc = run_cli("crawl", "--sources", str(sources), "--archive", str(tmp_path / "archive"),
                   "--profile", "test", "-s", "RETRY_TIMES=0", cwd=REPO)
    assert proc.returncode == 1
    last = proc.stderr.decode().strip().splitlines()[-1]
    assert last.startswith("newsarchive: no page could be fetched") and "ConnectionRefusedError" in last


def test_a_source_that_fetched_nothing_fails_the_crawl_unless_allow_partial(mock_server, tmp_path: Path) -> None:
    """A dead site (connection refused) and one that answers only 500s: exit 1 naming both, every
    source in the summary with its pages, articles and errors by kind; --allow-partial: exit 0."""
    from tests.seaweed import closed_port

    port = closed_port()
    sources = write_sources(tmp_path / "s.toml", mock_server, start="/basic", feeds=False, sitemaps=False, extra=(
        f'\n[[source]]\nname = "down"\nlang = "en"\nstart_urls = ["http://127.0.0.1:{port}/"]\n'
        f'allowed_domains = ["127.0.0.1:{port}"]\narticle_pattern = "/a/"\n'
        f'\n[[source]]\nname = "broken"\nlang = "en"\nstart_urls = ["{mock_server.url("/status/500")}"]\n'
        f'allowed_domains = ["{mock_server.host}"]\narticle_pattern = "/a/"\n'))
    run = crawl(tmp_path, sources, tmp_path / "archive", "-s", "ITEM_PIPELINES={}")
    out = run.proc.stdout.decode()
    assert run.proc.returncode == 1, run.log[-2000:]
    assert run.log.strip().splitlines()[-1] == (
        "newsarchive: 2 of 3 sources fetched nothing but errors: down, broken "
        "(see the summary; --allow-partial accepts this)")
    mock = [line for line in out.splitlines() if line.startswith("  mock:")][0]
    assert f"  mock: {run.stats['source/mock/pages']} pages, {run.stats['source/mock/articles']} articles" in mock
    assert run.stats["source/mock/articles"] >= 5 and "fetched nothing" not in mock
    down = re.compile(r"^  down: 0 pages, 0 articles, errors: 1 x \w*ConnectionRefusedError  <- fetched nothing$", re.M)
    assert down.search(out), out
    assert "  broken: 1 pages, 0 articles, errors: 1 x http_500  <- fetched nothing" in out

    run = crawl(tmp_path, sources, tmp_path / "archive", "-s", "ITEM_PIPELINES={}", "--allow-partial")
    assert run.proc.returncode == 0, run.log[-2000:]
    assert down.search(run.proc.stdout.decode())
