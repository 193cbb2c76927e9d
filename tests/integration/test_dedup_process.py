"""Whole crawls with dedup in its own process: a full backlog or a dead dedup process never stops the
crawl nor loses a page; the page is archived unanalysed and counted, and no dedup process remains."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from crawler.archive.archive import Archive
from tests.conftest import REPO, cli_env, crawl, process_gone
from tests.dedup.dedup_site import PAGES, serve

#: The dedup site's articles, and copies under other paths: enough pages for a kill to land mid-crawl.
MANY_PAGES = {**PAGES, **{f"/en/copy-{n}-{path.rsplit('/', 1)[1]}": page
                          for n in range(8) for path, page in PAGES.items() if path.startswith("/en/")}}
CHILD_LINE = re.compile(r"dedup: analysing in process (\d+)")


def write_sources(tmp: Path, base: str, host: str) -> Path:
    sources = tmp / "sources.toml"
    sources.write_text(f'[[source]]\nname = "dedup"\nlang = "en"\nstart_urls = ["{base}/"]\n'
                       f'allowed_domains = ["{host}"]\narticle_pattern = \'/(en|zh)/[a-z0-9-]+$\'\n', encoding="utf-8")
    return sources


def archived_urls(archive: Path) -> set[str]:
    arch = Archive.open(archive)
    return {e.url for name in arch.warc_names() for e in arch.index_file(name) if e.rec_type == "response"}


def test_a_full_backlog_archives_every_page_unanalysed(tmp_path: Path) -> None:
    server = serve(PAGES)
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        run = crawl(tmp_path, write_sources(tmp_path, f"http://{host}", host), tmp_path / "archive",
                    "-s", "DEDUP_QUEUE_BYTES=1", "-O", str(tmp_path / "articles.jsonl"))
    finally:
        server.shutdown()
        server.server_close()
    assert run.proc.returncode == 0, run.log[-3000:]
    assert run.stats["dedup/deferred"] == len(PAGES) and "dedup/articles" not in run.stats
    assert run.log.count("archived unanalysed (counted in dedup/deferred)") == 1  # logged once, then counted
    assert {f"http://{host}{p}" for p in PAGES} <= archived_urls(tmp_path / "archive")
    items = [json.loads(line) for line in (tmp_path / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    # unanalysed: no flags and no extraction (the item's defaults), and the page itself not exported
    assert len(items) == len(PAGES) and all(not it["duplicates"] and not it.get("text") and "html" not in it
                                            for it in items)
    child = int(CHILD_LINE.search(run.log).group(1))
    assert process_gone(child), f"dedup process {child} outlived the crawl"


def test_a_killed_dedup_process_neither_stops_nor_hangs_the_crawl(tmp_path: Path) -> None:
    server = serve(MANY_PAGES)
    host = f"127.0.0.1:{server.server_address[1]}"
    archive, stats_path = tmp_path / "archive", tmp_path / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--sources", str(write_sources(tmp_path, f"http://{host}", host)),
         "--archive", str(archive), "--profile", str(REPO / "settings" / "profiles" / "test.toml"),
         "--log-level", "DEBUG", "--stats-out", str(stats_path)],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: list[str] = []
    child: list[int] = []
    killed = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            if (m := CHILD_LINE.search(line)):
                child.append(int(m.group(1)))
            # a few pages analysed, most still to come: the dedup process dies
            if child and not killed.is_set() and sum("Scraped from" in x for x in lines) >= 3:
                os.kill(child[0], signal.SIGKILL)
                killed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
        assert proc.stderr is not None
        proc.stderr.close()
        server.shutdown()
        server.server_close()
    log = "".join(lines)
    assert proc.returncode == 0 and killed.is_set(), log[-3000:]
    stats = json.loads(stats_path.read_text())
    assert stats["dedup/worker_died"] == 1, log[-3000:]
    assert 3 <= stats.get("dedup/articles", 0) < len(MANY_PAGES) <= stats["dedup/articles"] + stats["dedup/deferred"]
    assert "the dedup process ended unexpectedly (exit code -9)" in log
    assert {f"http://{host}{p}" for p in MANY_PAGES} <= archived_urls(archive)
    assert process_gone(child[0])


def test_pages_past_the_backlog_are_analysed_by_the_dedup_process_before_it_closes(tmp_path: Path) -> None:
    """A backlog of a few pages in memory: the rest wait on disk, and the running dedup process takes
    them at the end of the crawl. Every article is in the catalog with its metadata record when the
    crawl ends, so its catch-up has none left to analyse."""
    from crawler.dedup.store import ArticleStore

    server = serve(MANY_PAGES)
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        run = crawl(tmp_path, write_sources(tmp_path, f"http://{host}", host), tmp_path / "archive",
                    "-s", "DEDUP_QUEUE_BYTES=6000", "-s", "DEDUP_WAIT_BYTES=0")
    finally:
        server.shutdown()
        server.server_close()
    assert run.proc.returncode == 0, run.log[-3000:]
    assert run.stats.get("dedup/spilled", 0) > 0, "no page waited on disk: the dedup process kept up"
    assert "dedup/deferred" not in run.stats and run.stats["dedup/articles"] == len(MANY_PAGES)
    assert "articles_extracted=0 " in run.proc.stdout.decode()
    with ArticleStore.open_existing(tmp_path / "archive" / "dedup.sqlite3") as store:
        assert store.count() == len(MANY_PAGES)
