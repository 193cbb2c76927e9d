"""The scheduler's rules with real child processes (a small stand-in crawl), and the run log."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from crawler.runlog import RunCounts, RunLog
from crawler.schedule import Job, Scheduler

#: A stand-in for `newsarchive crawl`: runs SECONDS, writes its stats, exits with CODE; on SIGTERM it
#: writes finish_reason=shutdown and exits 0 after a short clean-up (as a crawl does).
CHILD = r"""
import json, signal, sys, time
source, stats, seconds, code = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
reason = "finished"
def stop(*_):
    global reason
    reason = "shutdown"
signal.signal(signal.SIGTERM, stop)
end = time.monotonic() + seconds
while time.monotonic() < end and reason == "finished":
    time.sleep(0.02)
time.sleep(0.2)
json.dump({"finish_reason": reason, f"source/{source}/pages": 5, f"source/{source}/articles": 3,
           f"source/{source}/errors/http_404": 1, "downloader/response_bytes": 1234}, open(stats, "w"))
sys.exit(0 if reason == "shutdown" else code)
"""


def _command(seconds: dict[str, float], codes: dict[str, int] | None = None):
    def command(source: str, stats: Path, resume: bool = False) -> list[str]:
        return [sys.executable, "-c", CHILD, source, str(stats), str(seconds[source]), str((codes or {}).get(source, 0))]
    return command


def _until(seconds: float):
    end = time.monotonic() + seconds
    return lambda: time.monotonic() >= end


def _spans(runs) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(r.started), datetime.fromisoformat(r.finished)) for r in runs
            if r.outcome != "skipped"]


def test_runs_never_overlap_and_an_overrun_skips(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    # every second; "slow" takes 2.2 s so the runs due meanwhile are skipped, "quick" is never skipped
    jobs = [Job("slow", "* * * * * *"), Job("quick", "* * * * * */2")]
    scheduler = Scheduler(jobs, runlog, _command({"slow": 2.2, "quick": 0.1}), runs_dir=tmp_path / "runs", poll=0.1)
    scheduler.run(until=_until(6.5))
    slow, quick = runlog.runs("slow"), runlog.runs("quick")
    done = [r for r in slow if r.outcome == "ok"]
    assert len(done) >= 2
    assert any(r.outcome == "skipped" and "still going" in r.detail for r in slow)
    spans = sorted(_spans(slow))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "two runs of one source overlapped"
    assert quick and not any(r.outcome == "skipped" for r in quick)
    assert done[0].pages == 5 and done[0].articles == 3 and done[0].bytes == 1234 and done[0].errors == 1
    assert (tmp_path / "runs" / f"slow-{done[0].id}.log").is_file()
    assert not scheduler.running  # run() waited for the last crawl


def test_stop_passes_the_signal_on_and_waits(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    scheduler = Scheduler([Job("long", "* * * * * *")], runlog, _command({"long": 60}), runs_dir=tmp_path / "runs",
                          poll=0.1)
    threading.Timer(2.0, scheduler.request_stop).start()
    t0 = time.monotonic()
    scheduler.run()
    assert time.monotonic() - t0 < 10
    (run,) = [r for r in runlog.runs("long") if r.outcome != "skipped"]  # none started after the signal
    assert run.outcome == "interrupted" and run.exit_code == 0
    assert run.finished is not None and run.pages == 5  # the crawl wrote its stats on the way out


def test_a_failing_crawl_is_recorded_as_failed(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    scheduler = Scheduler([Job("bad", "* * * * * *")], runlog, _command({"bad": 0}, {"bad": 3}),
                          runs_dir=tmp_path / "runs", poll=0.1)
    scheduler.run(until=_until(1.8))
    runs = runlog.runs("bad")
    assert runs and all(r.outcome == "failed" and r.exit_code == 3 and "exit code 3" in r.detail for r in runs)


def test_missing_stats_still_finish_the_record(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    scheduler = Scheduler([Job("x", "* * * * * *")], runlog,
                          lambda source, stats, resume: [sys.executable, "-c", "import sys; sys.exit(2)"],
                          runs_dir=tmp_path / "runs", poll=0.1)
    scheduler.run(until=_until(1.5))
    (run, *_) = runlog.runs("x")
    assert run.outcome == "failed" and run.pages == 0 and run.finished


def test_runlog_last_and_counts(tmp_path: Path) -> None:
    with RunLog(tmp_path / "r.sqlite3") as log:
        a = log.start("s", started="2026-12-02T08:00:00+00:00")
        log.finish(a, finished="2026-12-02T08:01:00+00:00", outcome="ok", exit_code=0, counts=RunCounts(1, 2, 3, 4))
        log.skip("s", at="2026-12-02T08:00:30+00:00", planned=None, detail="busy")
        assert log.last("s").id == a and log.last("s", include_skipped=True).outcome == "skipped"
        assert log.last("other") is None
    assert RunLog.open_existing(tmp_path / "missing.sqlite3") is None
    counts = RunCounts.from_stats("s", {"source/s/pages": 7, "source/s/articles": 2, "source/t/pages": 9,
                                        "source/s/errors/dns": 2, "log_count/ERROR": 1,
                                        "downloader/response_bytes": 10})
    assert counts == RunCounts(pages=7, articles=2, bytes=10, errors=3)
    json.dumps(counts.__dict__)


def test_a_source_whose_crawl_was_interrupted_resumes(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    seen: list[tuple[str, bool]] = []
    interrupted = {"a"}

    def command(source: str, stats: Path, resume: bool) -> list[str]:
        seen.append((source, resume))
        interrupted.discard(source)  # this run finishes what was left
        return [sys.executable, "-c", CHILD, source, str(stats), "0", "0"]

    scheduler = Scheduler([Job("a", "* * * * * *"), Job("b", "* * * * * *")], runlog, command,
                          runs_dir=tmp_path / "runs", poll=0.1, needs_resume=lambda source: source in interrupted)
    scheduler.run(until=_until(2.5))
    assert ("a", True) in seen and ("b", True) not in seen
    a_runs = [r for r in runlog.runs("a") if r.outcome != "skipped"]
    assert a_runs[0].resumed and not any(r.resumed for r in a_runs[1:])
    assert all(r.pid for r in a_runs)


def test_runs_left_running_by_a_killed_scheduler_are_marked_interrupted(tmp_path: Path) -> None:
    import subprocess

    runlog = RunLog(tmp_path / "runs.sqlite3")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = runlog.start("a", started="2026-12-02T08:00:00+00:00")
    runlog.started(dead, gone.pid)
    alive = runlog.start("a", started="2026-12-02T08:00:01+00:00")
    runlog.started(alive, os.getpid())  # an orphaned crawl still going: left alone
    other = runlog.start("other", started="2026-12-02T08:00:00+00:00")  # another scheduler's source
    Scheduler([Job("a", "0 0 1 1 *")], runlog, _command({}), runs_dir=tmp_path / "runs")
    by_id = {r.id: r for r in runlog.runs()}
    assert by_id[dead].outcome == "interrupted" and "scheduler stopped" in by_id[dead].detail
    assert by_id[alive].outcome == "running" and by_id[other].outcome == "running"


def test_runlog_adds_new_columns_to_an_old_file(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript("""CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,
        planned TEXT, started TEXT NOT NULL, finished TEXT, outcome TEXT NOT NULL, exit_code INTEGER,
        pages INTEGER NOT NULL DEFAULT 0, articles INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '');
        INSERT INTO runs (source, started, outcome) VALUES ('s', '2026-12-01T00:00:00+00:00', 'ok');""")
    conn.commit()
    conn.close()
    with RunLog(path) as log:
        (old,) = log.runs("s")
        assert old.outcome == "ok" and old.resumed is False and old.pid is None
        new = log.start("s", started="2026-12-02T00:00:00+00:00", resumed=True)
        assert log.runs("s")[-1].id == new and log.runs("s")[-1].resumed


def test_status_says_which_source_resumes_and_which_run_was_resumed(tmp_path: Path) -> None:
    from crawler import resume
    from crawler.config import load_settings, runlog_path
    from crawler.schedule import status_lines

    sources = tmp_path / "sources.toml"
    sources.write_text("".join(f'[[source]]\nname = "{n}"\nlang = "en"\nstart_urls = ["http://127.0.0.1:9/"]\n'
                               f'allowed_domains = ["127.0.0.1"]\narticle_pattern = "/a/"\n\n' for n in ("a", "b")))
    settings = load_settings(archive=str(tmp_path / "archive"), sources=str(sources))
    (tmp_path / "archive").mkdir()
    resume.begin(settings, ["a"], resume=False)  # a crawl of "a" started and never finished
    finished = resume.begin(settings, ["b"], resume=False)
    resume.finish(finished)
    with RunLog(runlog_path(settings)) as log:
        run = log.start("b", started="2026-12-02T08:00:00+00:00", resumed=True)
        log.finish(run, finished="2026-12-02T08:01:00+00:00", outcome="ok", exit_code=0)
    lines = {line.split()[0]: line for line in status_lines(settings)[1:]}
    assert lines["a"].endswith("(resumes)") and "never" in lines["a"]
    assert " ok+resumed " in lines["b"] and "(resumes)" not in lines["b"]
