"""`newsarchive crawl --resume` after a SIGKILL at random moments: nothing archived before the kill
is fetched again, nothing is missing at the end."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.site import BENCH_PER_LIST
from crawler.archive.catalog import CaptureCatalog
from tests.conftest import REPO, cli_env, run_cli, write_sources
from tests.mockserver import MockServer

PAGES = 100  # two listings of 50; kills land after 0 to 50 responses
PROFILE = str(REPO / "settings" / "profiles" / "test.toml")


@pytest.fixture(scope="module")
def site() -> Iterator[MockServer]:
    with MockServer("bench", pages=PAGES, seed=5) as s:
        yield s


def _hits(server: MockServer, reset: bool = False) -> Counter[str]:
    data = json.load(urllib.request.urlopen(server.url("/__hits")))
    if reset:
        urllib.request.urlopen(server.url("/__reset")).read()
    return Counter(data)


def _archived(archive: Path) -> Counter[str]:
    """Path -> number of response/revisit records in the archive's catalog."""
    catalog = CaptureCatalog(archive / "index.sqlite3")
    try:
        return Counter(urlsplit(e.url).path for e in catalog.iter_all() if e.rec_type in ("response", "revisit"))
    finally:
        catalog.close()


def _crawl_args(sources: Path, archive: Path) -> list[str]:
    return ["crawl", "--sources", str(sources), "--archive", str(archive), "--profile", PROFILE,
            "-s", "ITEM_PIPELINES={}", "-s", "CONCURRENT_REQUESTS=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4"]


def _killed_crawl(args: list[str], cwd: Path, server: MockServer, after_pages: int) -> None:
    """Run a crawl and SIGKILL it once the server has answered ``after_pages`` more requests (0: at once)."""
    start = sum(_hits(server).values())
    proc = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=cwd, env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if sum(_hits(server).values()) - start >= after_pages:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the crawl ended before the moment chosen to kill it"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


EXPECTED = {"/", *(f"/list/{k}" for k in range(-(-PAGES // BENCH_PER_LIST))), *(f"/p/{i}" for i in range(PAGES))}


@pytest.mark.parametrize("seed", [11, 23, 37, 41])
def test_resume_after_sigkill(site: MockServer, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sources = write_sources(tmp_path / "sources.toml", site, start="/", article_pattern=r"/p/\d+$", feeds=False,
                            sitemaps=False, extra="follow_pattern = '/(list/\\d+)?$'\n")
    archive = tmp_path / "archive"
    args = _crawl_args(sources, archive)
    _hits(site, reset=True)
    kills = 0
    # one or two kills, each at a random moment of the crawl (after 0 to PAGES/2 responses)
    for moment in [rng.randint(0, PAGES // 2) for _ in range(rng.choice((1, 2)))]:
        _killed_crawl(args + (["--resume"] if kills else []), tmp_path, site, moment)
        kills += 1
        # what the killed crawl left in the spool is archived at the next start: publish it now to see it
        if (archive / "spool").is_dir():  # a kill during start-up leaves none
            upload = run_cli("upload", "--archive", str(archive))
            assert upload.returncode == 0, upload.stderr
    before = {p for p, n in _archived(archive).items()} if (archive / "index.sqlite3").exists() else set()
    _hits(site, reset=True)
    proc = run_cli(*args, "--resume", "--stats-out", str(tmp_path / "stats.json"), cwd=tmp_path)
    log = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, log[-3000:]
    hits = _hits(site)
    refetched = sorted(p for p in before if hits[p])
    assert not refetched, f"archived before the kill, fetched again: {refetched[:10]} (seed {seed})"
    archived = _archived(archive)
    missing = sorted(EXPECTED - set(archived))
    assert not missing, f"missing after resume: {missing[:10]} (seed {seed}, {len(before)} archived before)"
    assert all(n == 1 for p, n in archived.items() if p in EXPECTED), [p for p, n in archived.items() if n > 1]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats.get("resume/replayed", 0) >= len(before & EXPECTED) - 1  # robots.txt aside
    # the job ran to its end: nothing left to resume
    again = run_cli(*args, "--resume", cwd=tmp_path)
    assert again.returncode == 1 and b"nothing to resume" in again.stderr


def test_resume_without_a_job_is_an_error(site: MockServer, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "sources.toml", site, start="/", feeds=False, sitemaps=False)
    proc = run_cli(*_crawl_args(sources, tmp_path / "archive"), "--resume", cwd=tmp_path)
    assert proc.returncode == 1
    assert b"nothing to resume: no crawl of mock was started" in proc.stderr
