"""ArchiveWorker: the queue, the writer thread, the uploader and the backpressure decision of a crawl.

A plain library class (no Scrapy, no Twisted): the archive extension submits captures from the
reactor thread and asks whether downloads should pause; one writer thread turns jobs into WARC
records; finished files go straight to the :class:`SpoolUploader`. Unit-tested without a reactor
(``tests/archive/test_worker.py``).

Backpressure is by bytes, never by blocking the caller: past either limit (captures waiting for the
writer, finished WARCs waiting for storage) :meth:`ArchiveWorker.pressure_change` answers ``"pause"``;
once both are under half their limit it answers ``"resume"``. The paused flag and the reading of
both byte counts happen under one lock, and the worker threads wake the caller (``on_wake``) only
after lowering a count and only while paused, read under the same lock: either the wake sees the
pause, or the pause decision sees the lowered count. No wakeup is lost.

Threads and shutdown: every thread here is a daemon. Losing one at process exit loses no data:
the open WARC is ``NAME.warc.gz.open`` in the spool, flushed record by record, and finished files
wait in the spool; both are recovered (torn record dropped) and stored by the next run or
``newsarchive upload``. :meth:`close` drains and stores (bounded by a timeout); :meth:`stop`
asks every thread to stop now and returns at once.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Protocol

from crawler.archive.archive import Archive, RecoveryReport
from crawler.archive.cdxj import CaptureEntry
from crawler.archive.records import Exchange
from crawler.archive.uploader import SpoolUploader
from crawler.archive.writer import RollingWarcWriter

logger = logging.getLogger(__name__)

#: ``count(key, n)``: how the worker reports an event (a stats key, ``archive/...``, ``storage/...``).
Count = Callable[[str, int], None]
PressureChange = Literal["pause", "resume"]


class _Writer(Protocol):
    def write_exchange(self, exchange: Exchange) -> tuple[Any, Any, bool]: ...
    def write_metadata(self, url: str, refers_to: str, payload: bytes, content_type: str) -> Any: ...


@dataclass(frozen=True)
class ExchangeJob:
    """Write one HTTP exchange: request record, then response (or revisit) record."""

    exchange: Exchange

    @property
    def url(self) -> str:
        return self.exchange.url

    @property
    def size(self) -> int:
        return len(self.exchange.body)

    def write(self, writer: _Writer, count: Count) -> None:
        _response, _request, revisit = writer.write_exchange(self.exchange)
        count("archive/records_written", 2)
        count("archive/revisits" if revisit else "archive/responses", 1)
        count("archive/payload_bytes", len(self.exchange.body))


@dataclass(frozen=True)
class MetadataJob:
    """Write one ``metadata`` record about a captured response (``refers_to`` is its record id)."""

    url: str
    refers_to: str
    payload: bytes
    content_type: str = "application/json"

    @property
    def size(self) -> int:
        return len(self.payload)

    def write(self, writer: _Writer, count: Count) -> None:
        writer.write_metadata(self.url, self.refers_to, self.payload, self.content_type)
        count("archive/records_written", 1)
        count("archive/metadata", 1)


Job = ExchangeJob | MetadataJob


@dataclass
class WriterOptions:
    """What the rolling writer needs besides the spool: file naming, size, compression, warcinfo."""

    prefix: str = "newsarchive"
    max_size: int = 1024**3
    compress_level: int = 3
    warcinfo: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> WriterOptions:
        return cls(**{k: v for k, v in options.items() if v is not None})


class _Stop:
    """The sentinel that ends the writer thread's loop."""


_STOP = _Stop()


def _no_count(key: str, n: int = 1) -> None:
    pass


class ArchiveWorker:
    """Captures in, WARC files out, stored in the background; says when the producer should pause.

    Call order: :meth:`start` (blocking: recovers the spool, syncs the catalog, starts the threads),
    any number of :meth:`submit_exchange` / :meth:`submit_metadata`, then :meth:`close` (blocking)
    or :meth:`stop` (returns at once). ``count`` is called from the writer and uploader threads
    (see the extension for the stats convention); ``on_wake`` from them too, when the producer is
    paused and a limit may have been cleared: it should make the producer call
    :meth:`pressure_change` again, on its own thread.
    """

    def __init__(self, archive: Archive, options: WriterOptions, *, queue_max_bytes: int, spool_max_bytes: int,
                 upload_backoff_max: float = 30.0, count: Count | None = None,
                 on_wake: Callable[[], None] | None = None) -> None:
        self.archive = archive
        self.options = options
        self.queue_max_bytes = queue_max_bytes
        self.spool_max_bytes = spool_max_bytes
        self.upload_backoff_max = upload_backoff_max
        self._count: Count = count or _no_count
        self._on_wake = on_wake or (lambda: None)
        self._queue: queue.SimpleQueue[Job | _Stop] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued_bytes = 0
        self._paused = False
        self._stopping = False  # stop(): no more records, leave the open file as .open
        self._thread: threading.Thread | None = None
        self.writer: RollingWarcWriter | None = None
        self.uploader: SpoolUploader | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, job_name: str | None = None) -> RecoveryReport:
        """Finish an interrupted run's leftovers, then start the uploader and the writer thread.
        ``job_name`` is the warcinfo ``isPartOf`` unless the options name one."""
        if job_name:
            self.options = dataclasses.replace(self.options, warcinfo={"isPartOf": job_name, **self.options.warcinfo})
        report = self.archive.recover_spool()
        if report.published:
            self._count("archive/recovered_files", len(report.published))
        # Captures other machines (or runs elsewhere) stored: revisits must know them too.
        self.archive.sync_catalog()
        with self._lock:
            if self._stopping:
                return report
            self.uploader = SpoolUploader(self.archive, inc_stat=self._on_upload_event,
                                          backoff_max=self.upload_backoff_max)
            self.writer = RollingWarcWriter(
                self.archive.spool_dir, self._publish, revisit_lookup=self.archive.catalog.original_of,
                not_modified_lookup=self.archive.catalog.latest_payload,
                prefix=self.options.prefix, max_size=self.options.max_size,
                compress_level=self.options.compress_level, warcinfo=self.options.warcinfo,
            )
            self._thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
            self._thread.start()
        return report

    @property
    def started(self) -> bool:
        return self._thread is not None

    def close(self, timeout: float | None = None) -> int:
        """Write everything queued, finish the open file, then wait up to ``timeout`` seconds for
        storage. Returns the finished files left in the spool for the next run (0 when all stored)."""
        thread = self._thread
        if thread is None:
            return 0
        self._queue.put(_STOP)
        thread.join()
        assert self.uploader is not None
        return self.uploader.close(timeout=timeout)

    def hurry(self, timeout: float) -> None:
        """The crawl was interrupted: store for at most ``timeout`` more seconds, leave the rest spooled."""
        if self.uploader is not None:
            self.uploader.stop(timeout)

    def stop(self) -> None:
        """Stop now, without waiting: the writer after the record in hand (its file stays ``.open``),
        the uploader after the file in hand. Safe from any thread, any number of times."""
        with self._lock:
            self._stopping = True
        self._queue.put(_STOP)
        if self.uploader is not None:
            self.uploader.stop(0.0)

    # -- producer side ------------------------------------------------------------------
    def submit_exchange(self, exchange: Exchange) -> int:
        """Queue an exchange; returns the bytes now queued (for a high-water stat)."""
        return self._submit(ExchangeJob(exchange))

    def submit_metadata(self, url: str, refers_to: str, payload: bytes,
                        content_type: str = "application/json") -> int:
        return self._submit(MetadataJob(url, refers_to, payload, content_type))

    def _submit(self, job: Job) -> int:
        with self._lock:
            self._queued_bytes += job.size
            queued = self._queued_bytes
        self._queue.put(job)
        return queued

    # -- backpressure -------------------------------------------------------------------
    @property
    def queued_bytes(self) -> int:
        with self._lock:
            return self._queued_bytes

    @property
    def spooled_bytes(self) -> int:
        return self.uploader.pending_bytes if self.uploader is not None else 0

    def over_limit(self) -> bool:
        """Captures waiting for the writer, or finished WARCs waiting for storage, are over a limit."""
        with self._lock:
            return self._over()

    def _over(self) -> bool:
        return self._queued_bytes > self.queue_max_bytes or self.spooled_bytes > self.spool_max_bytes

    def _under(self) -> bool:
        return self._queued_bytes <= self.queue_max_bytes // 2 and self.spooled_bytes <= self.spool_max_bytes // 2

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def pressure_change(self) -> PressureChange | None:
        """Decide, atomically, whether the producer must pause now, may resume now, or neither."""
        with self._lock:
            if not self._paused and self._over():
                self._paused = True
                return "pause"
            if self._paused and self._under():
                self._paused = False
                return "resume"
            return None

    def _wake_if_paused(self) -> None:
        with self._lock:
            paused = self._paused
        if paused:
            self._on_wake()

    # -- writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        writer = self.writer
        assert writer is not None
        while True:
            job = self._queue.get()
            if isinstance(job, _Stop) or self._stopping:
                break
            try:
                job.write(writer, self._count)
            except Exception:
                self._count("archive/write_errors", 1)
                logger.error("Could not write a WARC record for %(url)s", {"url": job.url}, exc_info=True)
            finally:
                with self._lock:
                    self._queued_bytes -= job.size
                self._wake_if_paused()
        try:
            if self._stopping:
                writer.abandon()  # stays NAME.warc.gz.open: recovered by the next run
            else:
                writer.close()
        except Exception:
            self._count("archive/write_errors", 1)
            logger.error("Could not finish the WARC file", exc_info=True)

    def _publish(self, path: Path, name: str, entries: list[CaptureEntry]) -> None:
        assert self.uploader is not None
        self._count("archive/files_finished", 1)
        self.uploader.submit(path, name, entries)

    # -- uploader thread ----------------------------------------------------------------
    def _on_upload_event(self, key: str, n: int = 1) -> None:
        self._count(key, n)
        if key == "storage/files_stored":
            self._count("archive/files_published", n)
            self._wake_if_paused()

