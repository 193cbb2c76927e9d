"""Two `newsarchive crawl --worker` processes, one shared crawl: real Redis, real SeaweedFS, one site.

Each worker has its own local state (ARCHIVE_CACHE_DIR: capture catalog, dedup catalog, spool) and
writes to the same bucket. The site holds the English original and its Chinese translation at a
barrier until both are requested: with one request in flight per worker, the two must be fetched by
different workers, so the translation flag found after `dedup rebuild` is a cross-worker one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.archive.archive import local_state_dir
from crawler.archive.catalog import CaptureCatalog
from crawler.dedup.detector import find_related
from crawler.dedup.store import ArticleStore
from crawler.demo.httpd import HTML, Response, SiteServer, html_page
from tests.conftest import REPO, cli_env, run_cli
from tests.dedup.dedup_site import PAGES
from tests.mockserver import MockServer
from tests.redis_server import RedisServer

pytestmark = pytest.mark.s3

ORIGINAL, TRANSLATION = "/en/lockbit-hospital", "/zh/lockbit-hospital"
PROFILE = str(REPO / "settings" / "profiles" / "test.toml")
#: A short wait for the other worker (three of its heartbeats; and, by default, one request in flight per
#: worker: the barrier relies on it).
WORKER_SETTINGS = ("-s", "WORKER_IDLE_TIMEOUT=1.5", "-s", "WORKER_HEARTBEAT=0.5")


class PairedSite:
    """The dedup site's pages, a root linking them, and a barrier between the original and its translation."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=60)
        self.barrier_broken = False

    def respond(self, path: str, host: str) -> Response:
        base = f"http://{host}"
        if path == "/robots.txt":
            return Response(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if path == "/":
            links = "".join(f'<a href="{p}">{p}</a>\n' for p in PAGES)
            return Response(200, html_page("Security news", links))
        if path not in PAGES:
            return Response(404, html_page("Not Found", "<h1>404</h1>"), reason="Not Found")
        if path in (ORIGINAL, TRANSLATION):
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                self.barrier_broken = True
        return Response(200, PAGES[path][1].replace("{base}", base).encode("utf-8"), HTML)


@pytest.fixture
def paired_site():
    site = PairedSite()
    server = SiteServer(("127.0.0.1", 0), site)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, site
    finally:
        server.shutdown()
        server.server_close()


def _sources(tmp: Path, server: SiteServer) -> Path:
    host = f"127.0.0.1:{server.server_address[1]}"
    path = tmp / "sources.toml"
    path.write_text(f'[[source]]\nname = "dedup"\nlang = "en"\nstart_urls = ["http://{host}/"]\n'
                    f'allowed_domains = ["{host}"]\narticle_pattern = \'/(en|zh)/[a-z0-9-]+$\'\n', encoding="utf-8")
    return path


def _worker(tmp: Path, name: str, sources: Path, archive: str, redis_url: str,
            concurrency: int = 1) -> subprocess.Popen[bytes]:
    env = cli_env(REDIS_URL=redis_url, ARCHIVE_CACHE_DIR=str(tmp / f"cache-{name}"))
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--worker", "--sources", str(sources), "--archive", archive,
         "--profile", PROFILE, "--stats-out", str(tmp / f"stats-{name}.json"), *WORKER_SETTINGS,
         "-s", f"CONCURRENT_REQUESTS={concurrency}", "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}"],
        cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes]) -> str:
    try:
        _, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode("utf-8", "replace")


def _worker_of(filename: str) -> str:
    match = re.match(r"newsarchive-(w\d+)-", filename)
    assert match, filename
    return match.group(1)


def test_two_workers_share_one_crawl(tmp_path: Path, paired_site, redis_server: RedisServer, s3_bucket: str,
                                     s3_env: dict[str, str]) -> None:
    server, site = paired_site
    sources = _sources(tmp_path, server)
    workers = [_worker(tmp_path, name, sources, s3_bucket, redis_server.url) for name in ("a", "b")]
    logs = [_finish(p) for p in workers]
    for proc, log in zip(workers, logs):
        assert proc.returncode == 0, log[-3000:]
        assert redis_server.password not in log, "the Redis password reached the log"
        assert "Traceback" not in log and "] ERROR:" not in log and "Warning:" not in log, log[-3000:]
    assert not site.barrier_broken, "the original and its translation were not fetched at the same time"

    # every URL fetched exactly once across both workers (robots.txt is each worker's own)
    hits = dict(server.hits)
    pages = {"/", *PAGES}
    assert pages <= set(hits), f"not fetched: {pages - set(hits)}"
    assert {p: n for p, n in hits.items() if n != 1 and p != "/robots.txt"} == {}, hits
    assert hits["/robots.txt"] == 2

    # every page archived, by both workers, into the one bucket
    check = tmp_path / "cache-check"
    env = cli_env(ARCHIVE_CACHE_DIR=str(check))
    verify = run_cli("verify", "--archive", s3_bucket, env=env)
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
    catalog = CaptureCatalog(local_state_dir(s3_bucket, check) / "index.sqlite3")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    by_url = {}
    for path in pages:
        entry = catalog.latest(base + path)
        assert entry is not None and entry.status == "200", f"{path} not archived"
        by_url[path] = _worker_of(entry.filename)
    assert len(set(by_url.values())) == 2, f"one worker did everything: {by_url}"
    assert by_url[ORIGINAL] != by_url[TRANSLATION]

    # one dedup catalog over every worker's metadata records: the cross-worker pair is flagged
    rebuild = run_cli("dedup", "rebuild", "--archive", s3_bucket, env=env)
    assert rebuild.returncode == 0, rebuild.stderr.decode()
    with ArticleStore.open_existing(local_state_dir(s3_bucket, check) / "dedup.sqlite3") as store:
        related = {m.url: m.kind for m in find_related(store, base + ORIGINAL)}
    assert related.get(base + TRANSLATION) in ("translation", "attributed"), related

    # the next run (a new generation: both workers left) fetches the root again and no archived
    # article, although this worker's own cache never saw the others' WARCs
    again = _worker(tmp_path, "c", sources, s3_bucket, redis_server.url)
    log = _finish(again)
    assert again.returncode == 0, log[-3000:]
    after = dict(server.hits)
    assert after["/"] == 2
    assert {p: after[p] for p in PAGES} == {p: 1 for p in PAGES}


def _article_hits(server: MockServer) -> dict[str, int]:
    data = json.load(urllib.request.urlopen(server.url("/__hits")))
    return {p: n for p, n in data.items() if re.fullmatch(r"/p/\d+", p)}


def test_a_killed_worker_loses_only_what_it_held(tmp_path: Path, redis_server: RedisServer, s3_bucket: str,
                                                 s3_env: dict[str, str]) -> None:
    """SIGKILL one of two workers mid-crawl: the other finishes the shared crawl without fetching
    anything twice; the pages the dead one held (in flight, or queued for its writer) are missing
    until the next run, which fetches them because they are not archived (they are linked from
    listings, which every run fetches), after the dead worker's spool was stored at its restart."""
    pages = 120
    with MockServer("bench", pages=pages, seed=3, latency=0.05) as site:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "bench"\nlang = "en"\nstart_urls = ["{site.url("/")}"]\n'
            f'allowed_domains = ["{site.host}"]\narticle_pattern = \'/p/\\d+$\'\n'
            f"follow_pattern = '/(list/\\d+)?$'\nmax_depth = 50\n", encoding="utf-8")
        doomed = _worker(tmp_path, "a", sources, s3_bucket, redis_server.url, concurrency=2)
        survivor = _worker(tmp_path, "b", sources, s3_bucket, redis_server.url, concurrency=2)
        deadline = time.monotonic() + 120
        while sum(_article_hits(site).values()) < 30 and time.monotonic() < deadline and doomed.poll() is None:
            time.sleep(0.02)
        assert doomed.poll() is None, "the crawl ended before the kill"
        doomed.kill()
        doomed.communicate()
        log = _finish(survivor)
        assert survivor.returncode == 0, log[-3000:]
        first = _article_hits(site)
        assert max(first.values()) == 1, "a page was fetched twice in one shared crawl"

        check = cli_env(ARCHIVE_CACHE_DIR=str(tmp_path / "cache-check"))
        archived_first = _archived_articles(s3_bucket, tmp_path / "cache-check", check)

        # the dead worker's machine runs it again: its spool is stored first, then a new crawl
        again = _worker(tmp_path, "a", sources, s3_bucket, redis_server.url, concurrency=2)
        log = _finish(again)
        assert again.returncode == 0, log[-3000:]
        after = _article_hits(site)
        archived = _archived_articles(s3_bucket, tmp_path / "cache-check", check)
    assert archived == {f"/p/{i}" for i in range(pages)}, f"missing: {set(range(pages)) - archived}"
    refetched = {p for p, n in after.items() if n > 1}
    assert max(after.values()) <= 2
    # only what was fetched but not archived by the end of the first crawl (the dead worker's share)
    assert refetched <= {f"/p/{i}" for i in range(pages)} - archived_first
    assert len(refetched) <= 10, refetched


def _archived_articles(archive: str, cache: Path, env: dict[str, str]) -> set[str]:
    """The article paths with a 200 response in the bucket (`verify` brings the catalog up to date)."""
    proc = run_cli("verify", "--archive", archive, env=env)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    catalog = CaptureCatalog(local_state_dir(archive, cache) / "index.sqlite3")
    return {urlsplit(e.url).path for e in catalog.iter_all()
            if e.status == "200" and re.fullmatch(r"/p/\d+", urlsplit(e.url).path)}
