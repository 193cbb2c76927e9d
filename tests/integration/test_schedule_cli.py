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
