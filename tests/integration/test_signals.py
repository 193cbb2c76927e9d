"""SIGINT or SIGTERM at any moment of `newsarchive crawl` ends it within 30 s (a second signal: 5 s) with
exit 1 and one line `newsarchive: interrupted ...`, and the archive stays verifiable (issue 9, item 1).

One archive for the whole sequence: each run finds what the previous interrupted run left (``.open``
files, finished files not yet stored) and recovers it first; a last full crawl then leaves an empty
spool and a clean `verify`. Moments are tied to log lines (start-up, spider open, the n-th response,
the close) plus seeded random delays, so the test hits the same phases however loaded the machine is.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env, run_cli, write_sources
from tests.mockserver import MockServer

pytestmark = pytest.mark.slow

#: The tame part of the site only (about 17 responses, nothing slow or huge): the phases, not the pages, matter.
TAME = "follow_pattern = '/basic$'\n"
INTERRUPTED_LINE = re.compile(r"^newsarchive: interrupted by SIG(INT|TERM)\b")


class Crawl:
    """`newsarchive crawl` as a subprocess whose log lines the test can wait for."""

    stdout = ""

    def __init__(self, sources: Path, archive: Path, cwd: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--archive", str(archive),
             "--profile", str(REPO / "settings" / "profiles" / "test.toml"), "--log-level", "DEBUG",
             # every run fetches the whole site again, so each moment (mid-crawl too) is reached;
             # skipping archived articles is tests/integration/test_incremental.py's subject
             "-s", "INCREMENTAL_ENABLED=false", *extra],
            cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def count(self, text: str) -> int:
        with self._cond:
            return sum(text in line for line in self.lines)

    def wait_for(self, text: str, nth: int = 1, timeout: float = 60) -> bool:
        """Until ``text`` has appeared in ``nth`` log lines; False if the process ended first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(text in line for line in self.lines) < nth:
                if self.proc.poll() is not None and not self._reader.is_alive():
                    return False
                assert time.monotonic() < deadline, f"no {text!r} in {timeout}s"
                self._cond.wait(0.05)
        return True

    def wait_for_handlers(self, timeout: float = 30) -> None:
        """Until the command has installed its SIGTERM handler (``SigCgt`` in /proc): before that, the
        interpreter is still starting and a signal gets the OS default, as for any program."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                status = Path(f"/proc/{self.proc.pid}/status").read_text()
            except OSError:
                break
            caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
            if caught & (1 << (signal.SIGTERM - 1)):
                return
            time.sleep(0.005)

    def signal(self, signum: int) -> float:
        self.proc.send_signal(signum)
        return time.monotonic()

    def wait(self, limit: float) -> float:
        t0 = time.monotonic()
        try:
            self.proc.wait(timeout=limit + 30)  # beyond the limit: fail with the numbers, then kill
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"still running {limit + 30:.0f}s after the signal:\n{self.log[-3000:]}")
        self._reader.join(10)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stdout = self.proc.stdout.read().decode("utf-8", "replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        waited = time.monotonic() - t0
        # the crawl's dedup process (crawler/dedup/service.py) never outlives it, however it ended
        for pid in map(int, re.findall(r"dedup: analysing in process (\d+)", self.log)):
            assert process_gone(pid), f"dedup process {pid} outlived the crawl"
        return waited

    @property
    def log(self) -> str:
        with self._cond:
            return "".join(self.lines)


def process_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def finished_before(crawl: Crawl) -> bool:
    """The command had done all its work (summary printed) when the signal came."""
    return crawl.stdout.startswith("crawl finished (finished)")


def assert_interrupted(crawl: Crawl, waited: float, limit: float, what: str) -> None:
    log = crawl.log
    rc = crawl.proc.returncode
    assert waited < limit, f"{what}: took {waited:.1f}s after the signal (limit {limit}s)"
    if rc in (0, -signal.SIGINT, -signal.SIGTERM):
        # The signal came after the crawl had done its work: the command returned 0, or the signal
        # reached the interpreter's own exit, where CPython restores the default handlers (as for any
        # program that is exiting). Never before the summary.
        assert finished_before(crawl), f"{what}: exit {rc} without a finished crawl:\n{log[-3000:]}"
        return
    assert rc == 1, f"{what}: exit {rc}:\n{log[-3000:]}"
    last = log.strip().splitlines()[-1]
    assert INTERRUPTED_LINE.match(last), f"{what}: last line {last!r}"
    assert sum(line.startswith("newsarchive:") for line in log.splitlines()) == 1
    assert "Traceback" not in log, f"{what}:\n{log[-3000:]}"


def verify_clean(archive: Path, what: str) -> None:
    proc = run_cli("verify", "--archive", str(archive), timeout=120)
    if not list((archive / "warcs").glob("*.warc.gz")):  # stopped before anything was stored
        assert proc.returncode == 1 and proc.stderr.decode().startswith("newsarchive: no "), proc.stderr
        return
    assert proc.returncode == 0, f"after {what}: {proc.stdout.decode()[-2000:]}{proc.stderr.decode()[-2000:]}"


@pytest.fixture(scope="module")
def site() -> MockServer:
    with MockServer() as server:
        yield server


def test_a_signal_at_any_moment_ends_the_crawl_and_the_archive_stays_verifiable(site: MockServer,
                                                                               tmp_path: Path) -> None:
    rng = random.Random(20261202)
    sources = write_sources(tmp_path / "s.toml", site, start="/basic", extra=TAME)
    archive = tmp_path / "archive"
    # (what, log line to wait for and its count, extra delay): start-up has no log line yet.
    moments = [
        ("start-up", None, 0, rng.uniform(0.0, 0.4)),
        ("spider open", "Spider opened", 1, rng.uniform(0.0, 0.2)),
        ("first responses", "Crawled (", rng.randint(1, 4), 0.0),
        ("mid-crawl", "Crawled (", rng.randint(5, 10), rng.uniform(0.0, 0.2)),
        ("close: dedup settle, writer drain, upload", "Closing spider", 1, rng.uniform(0.0, 0.03)),
        ("anywhere", None, 0, rng.uniform(0.5, 5.0)),
    ]
    for what, line, nth, delay in moments:
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        crawl = Crawl(sources, archive, tmp_path)
        crawl.wait_for_handlers()
        if line is None or crawl.wait_for(line, nth):
            time.sleep(delay)
            crawl.signal(signum)
        waited = crawl.wait(30)
        assert_interrupted(crawl, waited, 30, f"{signal.Signals(signum).name} at {what}")
        print(f"{signal.Signals(signum).name} at {what}: exit {crawl.proc.returncode} after {waited:.2f}s")
        if what != "anywhere":  # the moment was hit: the crawl cannot have finished before it
            assert crawl.proc.returncode == 1, crawl.log[-3000:]
        verify_clean(archive, what)

    # The next full run recovers whatever the interrupted ones left, and finishes clean.
    full = Crawl(sources, archive, tmp_path)
    full.wait(120)
    assert full.proc.returncode == 0, full.log[-3000:]
    verify_clean(archive, "the full crawl")
    assert not [p.name for p in (archive / "spool").iterdir()]


def test_a_signal_during_a_storage_outage_and_a_second_one(site: MockServer, tmp_path: Path) -> None:
    """Uploads fail (warcs/ became a file) so the close would wait ARCHIVE_UPLOAD_CLOSE_TIMEOUT (120 s):
    a first signal cuts it to seconds; a second, sent while the first is being honoured, ends the
    process within 5 s. The spool keeps everything; the next run stores it."""
    sources = write_sources(tmp_path / "s.toml", site, start="/basic", extra=TAME)
    archive = tmp_path / "archive"
    extra = ("-s", "WARC_MAX_SIZE=30000", "-s", "ARCHIVE_UPLOAD_BACKOFF_MAX=1")

    def outage() -> None:
        (archive / "warcs").mkdir(parents=True, exist_ok=True)
        os.replace(archive / "warcs", archive / "warcs.saved")
        (archive / "warcs").write_text("storage is down")

    def restore() -> None:
        (archive / "warcs").unlink()
        os.replace(archive / "warcs.saved", archive / "warcs")

    # One signal while the close waits for storage: ends well within 30 s (it waits 10 s at most).
    crawl = Crawl(sources, archive, tmp_path, *extra)
    assert crawl.wait_for("Crawled (", 2)
    outage()
    assert crawl.wait_for("Closing spider")
    assert crawl.wait_for("Storing ", 1, timeout=30)  # the uploader is retrying
    crawl.signal(signal.SIGTERM)
    waited = crawl.wait(30)
    assert_interrupted(crawl, waited, 30, "SIGTERM during a storage outage at close")
    print(f"SIGTERM during a storage outage at close: exit {crawl.proc.returncode} after {waited:.2f}s")
    assert crawl.proc.returncode == 1
    restore()
    spooled = [p.name for p in (archive / "spool").iterdir()]
    assert spooled and all(name.endswith(".warc.gz") for name in spooled), crawl.log[-5000:]
    verify_clean(archive, "the outage")

    # A second signal while the first is honoured: within 5 s of it.
    crawl = Crawl(sources, archive, tmp_path, *extra)
    assert crawl.wait_for("Crawled (", 3)
    outage()
    crawl.signal(signal.SIGINT)
    time.sleep(1.0)
    crawl.signal(signal.SIGINT)
    waited = crawl.wait(5)
    assert_interrupted(crawl, waited, 5, "a second SIGINT")
    print(f"second SIGINT: exit {crawl.proc.returncode} after {waited:.2f}s")
    restore()
    verify_clean(archive, "the second signal")

    full = Crawl(sources, archive, tmp_path)
    full.wait(120)
    assert full.proc.returncode == 0, full.log[-3000:]
    verify_clean(archive, "the full crawl")
    assert not [p.name for p in (archive / "spool").iterdir()]
    shutil.rmtree(archive)
