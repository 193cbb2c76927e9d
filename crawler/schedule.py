"""`newsarchive schedule`: every source crawled on its cron schedule, each run a `newsarchive crawl` subprocess.

A subprocess per run keeps each crawl's reactor, memory and signals its own. Rules:
- no two runs of one source overlap: a run that is due while the last one still runs is skipped
  (logged, and recorded in the run log as ``skipped``);
- a missed fire time is not made up: the next one is computed from the time the check ran;
- a source whose last crawl was interrupted (killed, crashed: its job record in the archive is not
  finished, `crawler.resume`) has its next run started with ``--resume``: what that crawl archived
  is not fetched again; the run log marks the run ``resumed``;
- runs a killed scheduler left marked ``running`` are marked ``interrupted`` when it starts again;
- the first SIGTERM/SIGINT stops starting runs and passes the signal on to the running crawls, which
  stop cleanly (WARCs closed and stored), then the scheduler exits; a second one is passed on too
  (a crawl's second signal stops it at once).
Every run leaves a row in the run log (`crawler.runlog`) that `newsarchive status` shows.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from scrapy.settings import BaseSettings

from crawler.config import archive_uri, runlog_path
from crawler.cron import is_valid_cron, next_run
from crawler.errors import ConfigError
from crawler.resume import unfinished
from crawler.runlog import RunCounts, RunLog

logger = logging.getLogger(__name__)

#: How often the loop wakes to reap finished crawls when no run is due sooner (seconds).
POLL_INTERVAL = 0.5


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Job:
    """One source and when it runs."""

    source: str
    cron: str


@dataclass
class _Running:
    run_id: int
    process: subprocess.Popen[bytes]
    stats_path: Path
    log_file: object  # the open log file of the child's output
    signalled: bool = False  # the scheduler passed a stop signal on to it


#: ``command(source, stats_path, resume)``: the argv of one run.
Command = Callable[[str, Path, bool], list[str]]


class Scheduler:
    """Runs ``command(source, stats_path, resume)`` for each job on its cron schedule (see the module
    docstring); ``needs_resume(source)`` says whether the source's last crawl was interrupted."""

    def __init__(self, jobs: Sequence[Job], runlog: RunLog, command: Command, *,
                 runs_dir: Path, clock: Callable[[], datetime] = utcnow, env: dict[str, str] | None = None,
                 poll: float = POLL_INTERVAL, needs_resume: Callable[[str], bool] = lambda source: False) -> None:
        self.jobs = list(jobs)
        self.runlog = runlog
        self.command = command
        self.runs_dir = runs_dir
        self.clock = clock
        self.env = env
        self.poll = poll
        self.needs_resume = needs_resume
        self.running: dict[str, _Running] = {}
        self.stop_requests = 0
        now = clock()
        self.next_at = {job.source: next_run(job.cron, now) for job in self.jobs}
        self._abandon_orphans(iso(now))

    def _abandon_orphans(self, at: str) -> None:
        """Runs of these sources a killed scheduler left marked ``running`` whose crawl has gone too."""
        for job in self.jobs:
            for run in self.runlog.runs(job.source):
                if run.outcome == "running" and not _alive(run.pid):
                    logger.warning("schedule: %(source)s: run %(id)d was left running by a scheduler that stopped; "
                                   "marked interrupted", {"source": job.source, "id": run.id})
                    self.runlog.abandon(run.id, at=at, detail="the scheduler stopped while this run was going")

    # -- signals -----------------------------------------------------------------------------
    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        self.stop_requests += 1
        logger.info("schedule: signal %(sig)s: %(n)d crawl(s) running, stopping them cleanly",
                    {"sig": signum, "n": len(self.running)})
        for name, run in self.running.items():
            if run.process.poll() is None:
                logger.info("schedule: passing the signal on to the crawl of %(source)s", {"source": name})
                run.process.send_signal(signal.SIGTERM)
                run.signalled = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    # -- the loop ----------------------------------------------------------------------------
    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Until a stop is requested (or ``until()`` is true): start due runs, reap finished ones.
        Then wait for the running crawls to end and record them."""
        while not self.stop_requests and not (until and until()):
            self.tick()
            wait = min([*(max(0.0, (t - self.clock()).total_seconds()) for t in self.next_at.values()), self.poll])
            time.sleep(wait)
        while self.running:
            self.reap()
            if self.running:
                time.sleep(min(self.poll, 0.2))

    def tick(self) -> None:
        self.reap()
        if self.stop_requests:
            return
        now = self.clock()
        for job in self.jobs:
            planned = self.next_at[job.source]
            if planned > now:
                continue
            self.next_at[job.source] = next_run(job.cron, now)
            current = self.running.get(job.source)
            if current is not None:
                detail = f"the run started by the scheduler as run {current.run_id} is still going"
                logger.warning("schedule: %(source)s: skipping the run due at %(planned)s: %(detail)s",
                               {"source": job.source, "planned": iso(planned), "detail": detail})
                self.runlog.skip(job.source, at=iso(now), planned=iso(planned), detail=detail)
                continue
            self.launch(job, planned)

    def launch(self, job: Job, planned: datetime) -> None:
        started = self.clock()
        resume = self.needs_resume(job.source)
        run_id = self.runlog.start(job.source, started=iso(started), planned=iso(planned), resumed=resume)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        stem = self.runs_dir / f"{job.source}-{run_id}"
        stats_path = stem.with_suffix(".json")
        argv = self.command(job.source, stats_path, resume)
        log_file = open(stem.with_suffix(".log"), "wb")  # noqa: SIM115 - closed in reap()
        logger.info("schedule: %(source)s: run %(id)d started%(resume)s (log %(log)s)",
                    {"source": job.source, "id": run_id, "log": log_file.name,
                     "resume": ", resuming the interrupted crawl" if resume else ""})
        # A session of its own: a Ctrl-C in the scheduler's terminal reaches the crawl once, through us.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                   env=self.env, start_new_session=True)
        self.runlog.started(run_id, process.pid)
        self.running[job.source] = _Running(run_id, process, stats_path, log_file)

    def reap(self) -> None:
        for name, run in list(self.running.items()):
            code = run.process.poll()
            if code is None:
                continue
            del self.running[name]
            run.log_file.close()  # type: ignore[attr-defined]
            counts, stats = RunCounts(), {}
            try:
                stats = json.loads(run.stats_path.read_text())
                counts = RunCounts.from_stats(name, stats)
            except (OSError, ValueError):
                pass
            if code < 0 or stats.get("finish_reason") == "shutdown" or (code and run.signalled):
                outcome, detail = "interrupted", f"signal {-code}" if code < 0 else "stopped by the scheduler's signal"
            elif code == 0:
                outcome, detail = "ok", str(stats.get("finish_reason", ""))
            else:
                outcome, detail = "failed", f"exit code {code}; see {Path(run.log_file.name).name}"  # type: ignore[attr-defined]
            self.runlog.finish(run.run_id, finished=iso(self.clock()), outcome=outcome, exit_code=code,
                               counts=counts, detail=detail)
            logger.info("schedule: %(source)s: run %(id)d %(outcome)s (%(pages)d pages, %(articles)d articles)",
                        {"source": name, "id": run.run_id, "outcome": outcome, "pages": counts.pages,
                         "articles": counts.articles})


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- composition: settings -> jobs, run log, crawl command ------------------------------------
def jobs_from_settings(settings: BaseSettings) -> list[Job]:
    from crawler.sources import load_sources

    default = str(settings.get("SCHEDULE_DEFAULT"))
    if not is_valid_cron(default):
        raise ConfigError(f"SCHEDULE_DEFAULT: expected a cron expression such as '*/30 * * * *', got {default!r}")
    sources = load_sources(settings.get("NEWSARCHIVE_SOURCES"), settings.getlist("NEWSARCHIVE_SOURCE_NAMES") or None)
    return [Job(s.name, s.schedule or default) for s in sources]


def crawl_command(settings: BaseSettings, *, profile: str | None, overrides: Sequence[str],
                  extra: Sequence[str] = ()) -> Command:
    """``newsarchive crawl`` for one source, with the scheduler's own archive, sources, profile and ``-s``."""
    base = [sys.executable, "-m", "crawler", "crawl", "--sources", str(Path(settings.get("NEWSARCHIVE_SOURCES"))
                                                                        .absolute()),
            "--archive", archive_uri(settings), "--allow-partial"]
    if profile:
        base += ["--profile", profile]
    for item in overrides:
        base += ["-s", item]

    def command(source: str, stats_path: Path, resume: bool) -> list[str]:
        return [*base, "--source", source, "--stats-out", str(stats_path), *(["--resume"] if resume else []), *extra]

    return command


def run_schedule(settings: BaseSettings, *, profile: str | None, overrides: Sequence[str],
                 extra: Sequence[str] = ()) -> int:
    """The long-lived scheduler process: returns when a signal stopped it and its crawls have ended."""
    jobs = jobs_from_settings(settings)
    with RunLog(runlog_path(settings)) as runlog:
        scheduler = Scheduler(jobs, runlog, crawl_command(settings, profile=profile, overrides=overrides, extra=extra),
                              runs_dir=runlog_path(settings).parent / "runs",
                              needs_resume=lambda source: unfinished(settings, [source]) is not None)
        scheduler.install_signal_handlers()
        for job in jobs:
            logger.info("schedule: %(source)s on %(cron)r, next run %(next)s",
                           {"source": job.source, "cron": job.cron, "next": iso(scheduler.next_at[job.source])})
        scheduler.run()
    return 0


def status_lines(settings: BaseSettings, *, now: datetime | None = None) -> list[str]:
    """One line per source: last run (outcome, when, pages, articles, bytes, errors) and next run. A
    resumed run's outcome reads ``ok+resumed``; a next run that will resume says ``(resumes)``."""
    jobs = jobs_from_settings(settings)
    now = now or utcnow()
    runlog = RunLog.open_existing(runlog_path(settings))
    lines = [f"{'source':16} {'last run':25} {'outcome':11} {'pages':>6} {'articles':>8} {'bytes':>10} "
             f"{'errors':>6}  next run"]
    try:
        for job in jobs:
            last = runlog.last(job.source) if runlog else None
            skipped = [r for r in (runlog.runs(job.source) if runlog else []) if r.outcome == "skipped"]
            nxt = iso(next_run(job.cron, now))
            if (last is None or last.outcome != "running") and unfinished(settings, [job.source]) is not None:
                nxt += " (resumes)"
            if last is None:
                lines.append(f"{job.source:16} {'never':25} {'-':11} {'-':>6} {'-':>8} {'-':>10} {'-':>6}  {nxt}")
                continue
            outcome = last.outcome + ("+resumed" if last.resumed else "")
            lines.append(f"{job.source:16} {last.started:25} {outcome:11} {last.pages:>6} {last.articles:>8} "
                         f"{last.bytes:>10} {last.errors:>6}  {nxt}"
                         + (f"  ({len(skipped)} skipped)" if skipped else ""))
    finally:
        if runlog:
            runlog.close()
    return lines
