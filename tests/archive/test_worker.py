"""ArchiveWorker without a reactor: pause and resume, no lost wakeup, errors counted, close drains, stop stops."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.archive import Archive
from crawler.archive.storage import StorageError
from crawler.archive.storage.local import LocalStorage
from crawler.archive.worker import ArchiveWorker, ExchangeJob, MetadataJob, WriterOptions
from crawler.archive.writer import OPEN_SUFFIX
from tests.archive.test_writer import exchange


class Recorder:
    """Stats and wakes as the extension would see them (from the worker's threads)."""

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.wakes = 0
        self._lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def wake(self) -> None:
        with self._lock:
            self.wakes += 1


class GatedStorage(LocalStorage):
    """A local folder whose put_file waits for ``gate`` (a slow or stalled store), failing while ``down``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = threading.Event()
        self.gate.set()
        self.down = False

    def put_file(self, local_path: Path, name: str) -> None:
        self.gate.wait()
        if self.down:
            raise StorageError("storage is down")
        super().put_file(local_path, name)


def make_worker(tmp_path: Path, rec: Recorder, *, storage: LocalStorage | None = None, **kw) -> ArchiveWorker:
    root = tmp_path / "archive"
    archive = Archive.open(root, storage=storage or LocalStorage(root))
    max_size = kw.pop("max_size", 10**9)
    options = dict(queue_max_bytes=10_000, spool_max_bytes=10**9, upload_backoff_max=0.05)
    options.update(kw)
    return ArchiveWorker(archive, WriterOptions(prefix="t", max_size=max_size),
                         count=rec.count, on_wake=rec.wake, **options)


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def records(archive_dir: Path) -> list[str]:
    out = []
    for path in sorted((archive_dir / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as f:
            out += [r.rec_type for r in ArchiveIterator(f)]
    return out


def test_jobs_are_typed_and_know_their_size() -> None:
    job = ExchangeJob(exchange(body=b"x" * 7))
    assert (job.size, job.url) == (7, "http://127.0.0.1:8/a")
    meta = MetadataJob("http://127.0.0.1:8/a", "<urn:uuid:1>", b"{}")
    assert (meta.size, meta.content_type) == (2, "application/json")


def test_pause_over_the_queue_limit_and_resume_once_drained(tmp_path: Path) -> None:
    rec = Recorder()
    worker = make_worker(tmp_path, rec, queue_max_bytes=10_000)
    # Submitted before the writer runs: nothing drains, the queue is over its limit.
    for i in range(6):
        worker.submit_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(3000)))
    assert worker.queued_bytes == 18_000 and worker.over_limit()
    assert worker.pressure_change() == "pause"
    assert worker.pressure_change() is None  # decided once
    worker.start("job")
    # The writer drains and, the producer being paused, wakes it; the producer then resumes.
    assert until(lambda: rec.wakes > 0 and worker.queued_bytes == 0)
    assert worker.pressure_change() == "resume"
    assert not worker.paused and worker.pressure_change() is None
    assert worker.close(timeout=10) == 0
    assert rec.stats["archive/responses"] == 6 and rec.stats["archive/records_written"] == 12
    assert rec.stats["archive/files_published"] == 1
    assert records(tmp_path / "archive").count("response") == 6


def test_no_wake_while_not_paused(tmp_path: Path) -> None:
    rec = Recorder()
    worker = make_worker(tmp_path, rec)
    worker.start()
    worker.submit_exchange(exchange(body=b"small"))
    assert worker.close(timeout=10) == 0
    assert rec.wakes == 0  # the reactor is not bothered while downloads run


def test_pause_on_a_full_spool_and_resume_when_storage_catches_up(tmp_path: Path) -> None:
    rec = Recorder()
    storage = GatedStorage(tmp_path / "archive")
    storage.gate.clear()  # storage stalls: finished files pile up in the spool
    worker = make_worker(tmp_path, rec, storage=storage, spool_max_bytes=5_000, max_size=4_000)
    worker.start()
    for i in range(4):
        worker.submit_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(3000)))
    assert until(lambda: worker.spooled_bytes > 5_000)
    assert worker.pressure_change() == "pause"
    wakes = rec.wakes
    storage.gate.set()
    assert until(lambda: worker.spooled_bytes == 0 and rec.wakes > wakes)
    assert worker.pressure_change() == "resume"
    assert worker.close(timeout=10) == 0


def test_no_lost_wakeup_when_pressure_drops_during_the_decision(tmp_path: Path) -> None:
    """Hammer the decision while the writer drains: whenever the worker ends idle and paused, it
    has woken the producer after the last drop (the producer would resume on that wake)."""
    for round_ in range(30):
        rec = Recorder()
        worker = make_worker(tmp_path / str(round_), rec, queue_max_bytes=2_000)
        worker.start()
        decided = []
        for i in range(5):
            worker.submit_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=b"y" * 1000))
            decided.append(worker.pressure_change())
        assert until(lambda w=worker: w.queued_bytes == 0)
        if worker.paused:
            assert rec.wakes > 0, f"round {round_}: paused with nothing left to wake the producer"
            assert worker.pressure_change() == "resume"
        worker.close(timeout=10)


def test_write_errors_are_counted_and_the_rest_is_written(tmp_path: Path) -> None:
    rec = Recorder()
    worker = make_worker(tmp_path, rec)
    worker.start()
    worker.submit_exchange(exchange(url="http://127.0.0.1:8/ok1"))
    worker.submit_metadata("http://127.0.0.1:8/bad", "<urn:uuid:1>", "not bytes")  # type: ignore[arg-type]
    worker.submit_exchange(exchange(url="http://127.0.0.1:8/ok2"))
    assert worker.close(timeout=10) == 0
    assert rec.stats["archive/write_errors"] == 1
    assert rec.stats["archive/responses"] == 2 and rec.stats["archive/metadata"] == 0
    assert worker.queued_bytes == 0


def test_close_drains_the_queue_finishes_the_file_and_stores_it(tmp_path: Path) -> None:
    rec = Recorder()
    worker = make_worker(tmp_path, rec, queue_max_bytes=10**9)
    worker.start()
    for i in range(50):
        worker.submit_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(2000)))
        worker.submit_metadata(f"http://127.0.0.1:8/{i}", "<urn:uuid:x>", b'{"a": 1}')
    assert worker.close(timeout=10) == 0
    types = records(tmp_path / "archive")
    assert types.count("response") == 50 and types.count("metadata") == 50 and types[0] == "warcinfo"
    assert not list(worker.archive.spool_dir.iterdir())


def test_close_timeout_leaves_unstored_files_in_the_spool(tmp_path: Path) -> None:
    rec = Recorder()
    storage = GatedStorage(tmp_path / "archive")
    storage.down = True
    worker = make_worker(tmp_path, rec, storage=storage)
    worker.start()
    worker.submit_exchange(exchange())
    t0 = time.monotonic()
    assert worker.close(timeout=0.3) == 1
    assert time.monotonic() - t0 < 5
    assert rec.stats["storage/upload_failures"] == 1
    assert [p.name.endswith(".warc.gz") for p in worker.archive.spool_dir.iterdir()] == [True]


def test_hurry_cuts_a_long_close_short(tmp_path: Path) -> None:
    """An interrupted crawl: close was given minutes for storage, a signal leaves it a moment."""
    rec = Recorder()
    storage = GatedStorage(tmp_path / "archive")
    storage.down = True
    worker = make_worker(tmp_path, rec, storage=storage)
    worker.start()
    worker.submit_exchange(exchange())
    left: list[int] = []
    closer = threading.Thread(target=lambda: left.append(worker.close(timeout=600)))
    closer.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    worker.hurry(0.2)
    closer.join(10)
    assert not closer.is_alive() and left == [1] and time.monotonic() - t0 < 5


def test_hurry_before_close_still_stores_the_last_file(tmp_path: Path) -> None:
    """A signal while the writer still has the open file: the uploader must not quit before it is finished."""
    rec = Recorder()
    worker = make_worker(tmp_path, rec)
    worker.start()
    worker.submit_exchange(exchange())
    worker.hurry(5.0)  # nothing is waiting for storage yet
    time.sleep(0.1)
    assert worker.close(timeout=600) == 0
    assert records(tmp_path / "archive").count("response") == 1


def test_stop_when_told_leaves_the_open_file_for_recovery(tmp_path: Path) -> None:
    rec = Recorder()
    storage = GatedStorage(tmp_path / "archive")
    worker = make_worker(tmp_path, rec, storage=storage)
    worker.start()
    worker.submit_exchange(exchange(url="http://127.0.0.1:8/1"))
    assert until(lambda: rec.stats["archive/responses"] == 1)
    worker.stop()
    assert until(lambda: not worker._thread.is_alive(), timeout=5)  # type: ignore[union-attr]
    assert until(lambda: not worker.uploader._thread.is_alive(), timeout=5)  # type: ignore[union-attr]
    worker.stop()  # twice is harmless
    left = list(worker.archive.spool_dir.iterdir())
    assert [p.name.endswith(".warc.gz" + OPEN_SUFFIX) for p in left] == [True]
    # The next run finishes and stores it.
    report = Archive.open(tmp_path / "archive").recover_spool()
    assert len(report.published) == 1 and records(tmp_path / "archive").count("response") == 1


def test_stop_does_not_wait_for_a_stalled_upload(tmp_path: Path) -> None:
    rec = Recorder()
    storage = GatedStorage(tmp_path / "archive")
    storage.gate.clear()
    worker = make_worker(tmp_path, rec, storage=storage, max_size=1)
    worker.start()
    worker.submit_exchange(exchange())
    assert until(lambda: worker.spooled_bytes > 0)
    t0 = time.monotonic()
    worker.stop()
    assert time.monotonic() - t0 < 0.5
    assert worker._thread.daemon and worker.uploader._thread.daemon  # type: ignore[union-attr]
    storage.gate.set()


def test_stop_before_start_starts_no_thread(tmp_path: Path) -> None:
    worker = make_worker(tmp_path, Recorder())
    worker.stop()
    worker.start()
    assert not worker.started and worker.close(timeout=1) == 0


@pytest.mark.parametrize("job_name, expected", [("news-job", "news-job"), (None, None)])
def test_job_name_is_the_warcinfo_is_part_of(tmp_path: Path, job_name: str | None, expected: str | None) -> None:
    worker = make_worker(tmp_path, Recorder())
    worker.start(job_name)
    assert worker.options.warcinfo.get("isPartOf") == expected
    worker.close(timeout=1)
