"""The spool uploader: retries with backoff, never drops a file, leaves what it cannot store."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from crawler.archive.archive import Archive
from crawler.archive.storage import StorageError
from crawler.archive.storage.local import LocalStorage
from crawler.archive.uploader import SpoolUploader
from crawler.archive.writer import RollingWarcWriter
from tests.archive.test_writer import FIXED, exchange


class FlakyStorage(LocalStorage):
    """A local folder whose put_file fails the first ``failures`` times (an outage in one method)."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put_file(self, local_path: Path, name: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("storage is down")
        super().put_file(local_path, name)


def write_files(archive: Archive, uploader: SpoolUploader, n: int) -> None:
    writer = RollingWarcWriter(archive.spool_dir, uploader.submit, clock=lambda: FIXED, hostname="h", pid=1,
                               max_size=5_000)
    for i in range(n):
        writer.write_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=os.urandom(4000),
                                       response_id=f"<urn:uuid:{i}>", request_id=f"<urn:uuid:r{i}>"))
    writer.close()


def test_outage_is_retried_until_every_file_is_stored(tmp_path: Path) -> None:
    storage = FlakyStorage(tmp_path / "archive", failures=5)
    archive = Archive.open(tmp_path / "archive", storage=storage)
    stats: Counter[str] = Counter()
    sleeps: list[float] = []
    uploader = SpoolUploader(archive, inc_stat=lambda k, n=1: stats.update({k: n}), sleep=sleeps.append)
    write_files(archive, uploader, 4)
    assert uploader.close(timeout=30) == 0
    assert stats["storage/upload_retries"] == 5 and stats["storage/files_stored"] == 4
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(archive.warc_names()) == 4 and archive.catalog.count() == 4
    assert not list(archive.spool_dir.iterdir())


def test_files_left_at_close_stay_in_the_spool_and_the_next_run_stores_them(tmp_path: Path) -> None:
    storage = FlakyStorage(tmp_path / "archive", failures=10**6)
    archive = Archive.open(tmp_path / "archive", storage=storage)
    stats: Counter[str] = Counter()
    uploader = SpoolUploader(archive, inc_stat=lambda k, n=1: stats.update({k: n}), backoff_base=0.01,
                             backoff_max=0.02)
    write_files(archive, uploader, 3)
    assert uploader.close(timeout=0.5) == 3
    assert stats["storage/upload_failures"] == 3
    assert archive.catalog.count() == 0  # nothing indexed that is not stored
    assert len(list(archive.spool_dir.glob("*.warc.gz"))) == 3
    # storage is back: the next run (or `newsarchive upload`) finishes the job
    storage.failures = 0
    report = archive.recover_spool()
    assert len(report.published) == 3 and archive.catalog.count() == 3
