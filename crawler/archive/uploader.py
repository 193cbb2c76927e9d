"""Moving finished WARCs from the spool into storage, in the background, never giving up on one.

A finished file is published (WARC, then sidecar, then catalog rows: see Archive.publish) by one
uploader thread. A storage error is retried with capped exponential backoff for as long as the
crawl runs; the file stays in the spool meanwhile, and a file still there when the uploader is
closed is left for the next run (or ``newsarchive upload``) to finish. A capture counts as
archived only once its WARC is durable in storage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from crawler.archive.archive import Archive
from crawler.archive.cdxj import CaptureEntry

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    path: Path
    name: str
    entries: list[CaptureEntry]
    size: int


def _no_stat(key: str, n: int = 1) -> None:
    pass


class SpoolUploader:
    def __init__(self, archive: Archive, *, backoff_base: float = 1.0, backoff_max: float = 30.0,
                 inc_stat: Callable[[str, int], None] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.archive = archive
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._inc: Callable[[str, int], None] = inc_stat or _no_stat
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline: float | None = None
        self._pending_bytes = 0
        self._wake = threading.Event()
        self._sleep = sleep
        self._thread = threading.Thread(target=self._run, name="warc-uploader", daemon=True)
        self._thread.start()

    @property
    def pending_bytes(self) -> int:
        """Bytes of finished WARCs waiting in the spool for storage."""
        with self._cond:
            return self._pending_bytes

    def submit(self, path: Path, name: str, entries: list[CaptureEntry]) -> None:
        size = path.stat().st_size
        with self._cond:
            self._jobs.append(_Job(path, name, entries, size))
            self._pending_bytes += size
            self._cond.notify()

    def stop(self, timeout: float = 0.0) -> None:
        """Without waiting: store files (queued or yet to come) for at most ``timeout`` more seconds
        (0: none after the one in hand), then stop; what is left stays in the spool. Any thread."""
        self._close_by(timeout, closing=timeout <= 0)

    def _close_by(self, timeout: float | None, closing: bool = True) -> None:
        with self._cond:
            self._closing = self._closing or closing
            if timeout is not None:
                deadline = time.monotonic() + timeout
                self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)
            self._cond.notify()
        self._wake.set()

    def close(self, timeout: float | None = None) -> int:
        """Stop after the queued files are stored, or at ``timeout``; returns files left in the spool."""
        self._close_by(timeout)
        self._thread.join()
        with self._cond:
            left = len(self._jobs)
        if left:
            self._inc("storage/upload_failures", left)
            logger.error("%(n)d finished WARC files could not be stored yet; they stay in %(spool)s and are "
                         "stored first by the next run or `newsarchive upload`",
                         {"n": left, "spool": self.archive.spool_dir})
        return left

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if not self._jobs or self._past_deadline():
                    return
                job = self._jobs[0]
            attempt = 0
            while True:
                try:
                    self.archive.publish(job.path, job.name, job.entries)
                    break
                except Exception as e:  # any storage failure: keep the file, try again later
                    attempt += 1
                    self._inc("storage/upload_retries", 1)
                    delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
                    logger.warning("Storing %(name)s failed (attempt %(n)d): %(error)s; retrying in %(delay).0fs",
                                   {"name": job.name, "n": attempt, "error": e, "delay": delay})
                    if self._past_deadline():
                        return
                    self._pause(delay)
                    if self._past_deadline():
                        return
            with self._cond:
                self._jobs.popleft()
                self._pending_bytes -= job.size
            self._inc("storage/files_stored", 1)
            self._inc("storage/bytes_stored", job.size)

    def _pause(self, delay: float) -> None:
        if self._sleep is not None:
            self._sleep(delay)
            return
        if self._deadline is not None:
            delay = max(0.0, min(delay, self._deadline - time.monotonic()))
        self._wake.wait(delay)
        self._wake.clear()
