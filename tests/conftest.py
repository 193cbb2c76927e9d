"""Shared fixtures: the hostile test site, crawls run as the user runs them, S3 (plugin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from tests.mockserver import MockServer
from tests.redis_server import RedisServer

pytest_plugins = ["tests.conftest_s3"]

REPO = Path(__file__).resolve().parent.parent


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ARCHIVE_URI", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """`newsarchive ARGS` as a user runs it, in a subprocess (a crawl owns its reactor)."""
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args], cwd=cwd or REPO, env=env or cli_env(),
        capture_output=True, timeout=timeout,
    )


def write_sources(path: Path, server: MockServer, *, name: str = "mock", lang: str = "en",
                  start: str = "/", article_pattern: str | None = None, extra: str = "",
                  feeds: bool = True, sitemaps: bool = True, more_starts: tuple[str, ...] = ()) -> Path:
    base = server.base_url
    pattern = article_pattern or r"/(articles/\d+|feed-only|sitemap-only|gzip|chunked|gbk|gbk-linked|zh/.*)$"
    path.write_text(textwrap.dedent(f"""\
        [[source]]
        name = "{name}"
        lang = "{lang}"
        start_urls = {json.dumps([base + start, *(base + p for p in more_starts)])}
        allowed_domains = ["{server.host}"]
        feeds = {json.dumps([base + "/feed.xml"] if feeds else [])}
        sitemaps = {json.dumps([base + "/sitemap.xml"] if sitemaps else [])}
        article_pattern = '{pattern}'
        max_depth = 6
        """) + extra, encoding="utf-8")
    return path


@dataclass
class CrawlRun:
    archive: Path
    stats: dict
    proc: subprocess.CompletedProcess
    hits: dict | None = None  # the server's request counts right after this crawl
    raw_hits: dict | None = None

    @property
    def log(self) -> str:
        return self.proc.stderr.decode("utf-8", "replace")


def crawl(tmp: Path, sources: Path, archive: Path, *extra: str, profile: str = "test") -> CrawlRun:
    stats_path = tmp / f"stats-{len(list(tmp.glob('stats-*.json')))}.json"
    proc = run_cli("crawl", "--sources", str(sources), "--archive", str(archive), "--profile",
                   str(REPO / "settings" / "profiles" / f"{profile}.toml"), "--stats-out", str(stats_path),
                   *extra, cwd=tmp)
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return CrawlRun(archive, stats, proc)


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture(scope="session")
def site_crawl(mock_server: MockServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    """One crawl of the whole hostile site, shared by the tests that inspect its archive."""
    tmp = tmp_path_factory.mktemp("site-crawl")
    sources = write_sources(tmp / "sources.toml", mock_server, lang="zh")
    urllib.request.urlopen(mock_server.url("/__reset")).read()
    run = crawl(tmp, sources, tmp / "archive", "-s", "ITEM_PIPELINES={}")
    assert run.proc.returncode == 0, run.log[-3000:]
    run.hits = json.load(urllib.request.urlopen(mock_server.url("/__hits")))
    run.raw_hits = json.load(urllib.request.urlopen(mock_server.url("/__hits?raw=1")))
    return run


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server of this test's own (free port, a password), killed after it."""
    from tests.redis_server import find_redis_server

    if find_redis_server() is None:
        pytest.skip("redis-server not installed (apt-get install redis-server: .ci/system-deps.sh)")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


_SLOW_DIRS = ("integration", "replay")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Whole crawls and pywb runs are `slow`: `pytest -m "not slow"` is the fast unit loop."""
    for item in items:
        if any(part in _SLOW_DIRS for part in item.path.relative_to(REPO / "tests").parts[:-1]):
            item.add_marker(pytest.mark.slow)


def pywb_missing() -> str | None:
    """Why pywb's venv cannot be used (None when it can): the reason a pywb test is skipped."""
    from crawler.replay import PywbNotFound, find_pywb_venv

    try:
        find_pywb_venv()
    except PywbNotFound as e:
        return str(e)
    return None


def process_gone(pid: int, timeout: float = 20) -> bool:
    """True once ``pid`` has exited (or is a zombie its parent has not reaped) within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False
