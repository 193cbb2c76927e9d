"""`newsarchive schedule` and `status` as an operator runs them: real crawls of the local test site."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from crawler.runlog import RunLog
from tests.conftest import REPO, cli_env, run_cli, write_sources
from tests.mockserver import MockServer


def test_schedule_runs_skips_overruns_and_stops_cleanly(mock_server: MockServer, tmp_path: Path) -> None:
    # /slow answers after 3 s, so a crawl outlasts its 3-second schedule and the next run is skipped.
    sources = write_sources(tmp_path / "sources.toml", mock_server, name="slowsite", start="/slow", feeds=False,
                            sitemaps=False, extra='schedule = "* * * * * */3"\n')
    archive = tmp_path / "archive"
    profile = str(REPO / "settings" / "profiles" / "test.toml")
    args = ["--sources", str(sources), "--archive", str(archive), "--profile", profile, "-s", "ITEM_PIPELINES={}"]
    before = run_cli("status", *args)
    assert before.returncode == 0, before.stderr
    assert "slowsite" in before.stdout.decode() and "never" in before.stdout.decode()

    proc = subprocess.Popen([sys.executable, "-m", "crawler", "schedule", *args], cwd=tmp_path, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runlog_path = archive / "runs.sqlite3"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if runlog_path.is_file():
                with RunLog(runlog_path) as log:
                    runs = log.runs("slowsite")
                if any(r.outcome == "ok" for r in runs) and any(r.outcome == "skipped" for r in runs) \
                        and any(r.outcome == "running" for r in runs):
                    break
        else:
            raise AssertionError("no finished run, skipped run and running run within 90 s")
        proc.send_signal(signal.SIGTERM)  # a crawl is running now: it must end cleanly first
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = err.decode("utf-8", "replace")
    assert proc.returncode == 0, log[-3000:]
    assert "skipping the run due at" in log
    with RunLog(runlog_path) as runlog:
        runs = runlog.runs("slowsite")
    assert not any(r.outcome == "running" for r in runs), runs  # every run recorded as it ended
    assert any(r.outcome == "interrupted" for r in runs), runs
    ok = [r for r in runs if r.outcome == "ok"]
    assert ok[0].pages >= 1 and ok[0].bytes > 0
    # the interrupted crawl closed and stored its WARC: nothing left in the spool
    assert list((archive / "warcs").glob("*.warc.gz"))
    assert not [p for p in (archive / "spool").glob("*") if p.is_file()] if (archive / "spool").is_dir() else True
    assert run_cli("verify", "--archive", str(archive)).returncode == 0

    status = run_cli("status", *args)
    assert status.returncode == 0, status.stderr
    line = next(l for l in status.stdout.decode().splitlines() if l.startswith("slowsite"))
    assert "interrupted" in line and "skipped)" in line


def test_long_crawl_logs_progress_lines(mock_server: MockServer, tmp_path: Path) -> None:
    from tests.conftest import crawl

    sources = write_sources(tmp_path / "sources.toml", mock_server, name="slowsite", start="/slow", feeds=False,
                            sitemaps=False)
    run = crawl(tmp_path, sources, tmp_path / "archive", "-s", "ITEM_PIPELINES={}", "-s", "PROGRESS_INTERVAL=0.5")
    assert run.proc.returncode == 0, run.log[-3000:]
    lines = [line for line in run.log.splitlines() if "progress: " in line]
    assert len(lines) >= 3, run.log[-3000:]  # /slow takes 3 s
    assert " pages (" in lines[-1] and " archived, " in lines[-1] and " queued, " in lines[-1]


def test_a_crawl_killed_by_sigkill_is_resumed_by_its_next_run(tmp_path: Path) -> None:
    """A scheduled crawl dies by SIGKILL (the OOM killer, say): the scheduler records it interrupted and
    starts the source's next run with --resume, which serves what the killed crawl archived from the
    archive; the run after that starts afresh."""
    import json
    import os
    import urllib.parse
    import urllib.request

    from bench.site import BENCH_PER_LIST
    from crawler.archive.catalog import CaptureCatalog

    pages = 120
    expected = {"/", *(f"/list/{k}" for k in range(-(-pages // BENCH_PER_LIST))), *(f"/p/{i}" for i in range(pages))}
    with MockServer("bench", pages=pages, seed=3) as site:
        sources = write_sources(tmp_path / "sources.toml", site, name="benchsite", start="/",
                                article_pattern=r"/p/\d+$", feeds=False, sitemaps=False,
                                extra="follow_pattern = '/(list/\\d+)?$'\nschedule = \"* * * * * */2\"\n")
        archive = tmp_path / "archive"
        profile = str(REPO / "settings" / "profiles" / "test.toml")
        args = ["--sources", str(sources), "--archive", str(archive), "--profile", profile, "-s", "ITEM_PIPELINES={}",
                "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]

        def hits() -> int:
            return sum(json.load(urllib.request.urlopen(site.url("/__hits"))).values())

        proc = subprocess.Popen([sys.executable, "-m", "crawler", "schedule", *args], cwd=tmp_path, env=cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        runlog_path = archive / "runs.sqlite3"
        killed = None
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                time.sleep(0.05)
                if not runlog_path.is_file():
                    continue
                with RunLog(runlog_path) as log:
                    runs = [r for r in log.runs("benchsite") if r.outcome != "skipped"]
                if killed is None and runs and runs[0].outcome == "running" and runs[0].pid and hits() >= 25:
                    os.kill(runs[0].pid, signal.SIGKILL)  # mid-crawl: some pages archived, most not
                    killed = runs[0].id
                if killed is not None and len(runs) >= 3 and runs[1].outcome == "ok" and runs[2].outcome != "running":
                    break
            else:
                raise AssertionError(f"no killed, resumed and fresh run within 120 s: {runs}")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err.decode()[-3000:]
        first, resumed, fresh = runs[:3]
        assert first.id == killed and first.outcome == "interrupted" and first.detail == "signal 9", first
        assert not first.resumed and resumed.resumed and not fresh.resumed, runs[:3]
        assert "resuming the interrupted crawl" in err.decode()
        stats = json.loads((archive / "runs" / f"benchsite-{resumed.id}.json").read_text())
        assert stats.get("resume/replayed", 0) >= 1, "the resumed run fetched everything again"
        assert stats["source/benchsite/pages"] < len(expected) + 1
        catalog = CaptureCatalog(archive / "index.sqlite3")
        try:
            archived = {urllib.parse.urlsplit(e.url).path for e in catalog.iter_all() if e.rec_type == "response"}
        finally:
            catalog.close()
        assert not expected - archived, sorted(expected - archived)[:10]
        assert run_cli("verify", "--archive", str(archive)).returncode == 0
        status = run_cli("status", *args)
        line = next(l for l in status.stdout.decode().splitlines() if l.startswith("benchsite"))
        with RunLog(runlog_path) as log:
            newest = [r for r in log.runs("benchsite") if r.outcome != "skipped"][-1]
        # the schedule (every 2 s) may have started a fourth run before the SIGTERM above: status shows
        # whichever run is newest, finished ok or interrupted by that SIGTERM
        assert newest.id >= fresh.id and newest.outcome in ("ok", "interrupted"), newest
        assert f" {newest.outcome} " in line, (newest, line)
        if newest.outcome == "ok":
            assert "(resumes)" not in line, line
