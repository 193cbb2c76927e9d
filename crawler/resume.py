"""Resumable crawls: the job record of a source set, kept in the archive's local state dir.

``newsarchive crawl`` starts a job (``jobs/<source set>/job.json``: when it started) and marks it
finished when the crawl ran to its end. ``newsarchive crawl --resume`` continues the unfinished job:
the crawl starts again from its seeds, and every page the job archived before it stopped is served
from the archive instead of the network (`crawler.middlewares.resume`), so its links are followed
again and nothing is fetched twice.

Why not Scrapy's own JOBDIR queues: they survive a clean stop, not a SIGKILL. queuelib's disk
queues write their bookkeeping (``info.json``, the LIFO size header) and Scrapy its ``active.json``
only on close, and ``requests.seen`` is a buffered file, so a killed crawl resumes from a stale or
empty frontier and pages go missing. The archive is written record by record (flushed, torn tails
repaired at the next start), so the frontier rebuilt from it is exactly what was archived.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scrapy.settings import BaseSettings

from crawler.errors import NewsarchiveError

JOB_FILE = "job.json"
#: The setting the resume middleware reads: the WARC-Date from which archived pages are replayed.
RESUME_SETTING = "NEWSARCHIVE_RESUME_SINCE"


class NothingToResume(NewsarchiveError):
    """``--resume`` without an unfinished job of these sources."""


@dataclass(frozen=True)
class Job:
    dir: Path
    sources: tuple[str, ...]
    started: str  # WARC date, UTC
    finished: bool = False

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / (JOB_FILE + ".tmp")
        tmp.write_text(json.dumps({"sources": list(self.sources), "started": self.started,
                                   "finished": self.finished}), encoding="utf-8")
        os.replace(tmp, self.dir / JOB_FILE)


def job_name(sources: Sequence[str]) -> str:
    """The job folder of a source set: its sorted names, or a digest of them when that is too long."""
    joined = "+".join(sorted(sources))
    if len(joined) <= 80:
        return joined
    return "sources-" + hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()


def job_dir(state_dir: Path, sources: Sequence[str]) -> Path:
    return state_dir / "jobs" / job_name(sources)


def load_job(path: Path) -> Job | None:
    try:
        data = json.loads((path / JOB_FILE).read_text(encoding="utf-8"))
        return Job(path, tuple(data["sources"]), str(data["started"]), bool(data.get("finished")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def settings_job_dir(settings: BaseSettings, sources: Sequence[str]) -> Path:
    """The job folder of these sources in the archive the settings name."""
    from crawler.archive.archive import local_state_dir
    from crawler.config import archive_uri

    return job_dir(local_state_dir(archive_uri(settings), settings.get("ARCHIVE_CACHE_DIR")), sources)


def unfinished(settings: BaseSettings, sources: Sequence[str]) -> Job | None:
    """The job of these sources that was started and did not run to its end (killed, crashed,
    stopped): what ``newsarchive crawl --resume`` would continue. None when there is none."""
    job = load_job(settings_job_dir(settings, sources))
    return job if job is not None and not job.finished else None


def begin(settings: BaseSettings, sources: Sequence[str], *, resume: bool, now: datetime | None = None) -> Job:
    """Start a job (or, with ``resume``, take up the unfinished one) and tell the crawl where it resumes."""
    from crawler.archive.records import warc_date

    path = settings_job_dir(settings, sources)
    if resume:
        job = load_job(path)
        if job is None:
            raise NothingToResume(f"nothing to resume: no crawl of {', '.join(sorted(sources))} was started "
                                  f"in this archive ({path})")
        if job.finished:
            raise NothingToResume(f"nothing to resume: the last crawl of {', '.join(sorted(sources))} "
                                  f"(started {job.started}) ran to its end")
        settings.set(RESUME_SETTING, job.started, priority="cmdline")
        return job
    job = Job(path, tuple(sorted(sources)), warc_date(now or datetime.now(UTC)))
    job.save()
    return job


def finish(job: Job) -> None:
    Job(job.dir, job.sources, job.started, finished=True).save()


def start(settings: BaseSettings, *, resume: bool) -> Job:
    """`begin` for the sources the settings select (NEWSARCHIVE_SOURCES, NEWSARCHIVE_SOURCE_NAMES)."""
    from crawler.sources import load_sources

    names = [s.name for s in load_sources(settings.get("NEWSARCHIVE_SOURCES"),
                                          settings.getlist("NEWSARCHIVE_SOURCE_NAMES") or None)]
    return begin(settings, names, resume=resume)


def ended(stats: dict[str, object]) -> bool:
    """Did the crawl run to its end (its frontier empty, or a configured limit reached)?"""
    reason = str(stats.get("finish_reason") or "")
    return reason == "finished" or reason.startswith("closespider_")
