"""`newsarchive crawl` as people see it: a live table in a terminal (run under a pseudo-terminal),
plain progress lines without one, and the one-screen summary at the end of every run."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from tests.conftest import REPO, cli_env, write_sources
from tests.mockserver import MockServer

PROFILE = str(REPO / "settings" / "profiles" / "test.toml")
ANSI = re.compile(rb"\x1b\[")
SHOW_CURSOR = b"\x1b[?25h"


class TerminalCrawl:
    """A crawl whose stdin, stdout and stderr are one pseudo-terminal of 120 x 40; its output is read
    as it comes (a full pty buffer would block the crawl)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-m", "crawler", *args], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=cwd, env=cli_env(TERM="xterm-256color"),
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child side closed
                break
            if not data:
                break
            self.output += data

    def wait_for(self, needle: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            assert self.proc.poll() is None, f"exited before {needle!r}:\n{self.text[-3000:]}"
            assert time.monotonic() < deadline, f"no {needle!r} within {timeout}s:\n{self.text[-3000:]}"
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)
        os.close(self.master)
        return code

    @property
    def text(self) -> str:
        return bytes(self.output).decode("utf-8", "replace")


def _args(sources: Path, archive: Path, *extra: str) -> list[str]:
    return ["crawl", "--sources", str(sources), "--archive", str(archive), "--profile", PROFILE,
            "-s", "PROGRESS_REFRESH=0.2", *extra]


def test_terminal_shows_a_live_table_then_the_summary(mock_server: MockServer, tmp_path: Path) -> None:
    # /slow (3 s) keeps the crawl going for several redraws
    sources = write_sources(tmp_path / "s.toml", mock_server, name="mocksite", start="/basic", feeds=False,
                            sitemaps=False, more_starts=("/slow",))
    crawl = TerminalCrawl(_args(sources, tmp_path / "archive", "-s", "ITEM_PIPELINES={}"), tmp_path)
    code = crawl.finish()
    out = crawl.text
    assert code == 0, out[-3000:]
    # the table: its header, a row for the source and the total, redrawn in place (cursor up, erase line)
    assert re.search(r"source\S*\s.*pages\S*\s.*articles.*queued.*errors.*bytes.*pages/s", out), out[-3000:]
    assert re.search(r"mocksite\s+│\s+\d+ │", out) and re.search(r"total\S*\s.*│", out), out[-3000:]
    assert out.count("\x1b[1A") > 10, "the table was not redrawn in place"
    assert out.count("newsarchive crawl: ") >= 3, "fewer than three frames"
    # Scrapy's INFO chatter and the progress lines stay out of the terminal; the cursor comes back
    assert "[scrapy.core.engine] INFO" not in out and "progress: " not in out, out[-3000:]
    assert SHOW_CURSOR in crawl.output
    # the summary, after the last frame
    summary = out[out.rindex("crawl finished (finished)"):]
    assert out.rindex("crawl finished") > out.rindex("│"), "the summary came before the display ended"
    for expected in ("pages", "articles:", "archived:", "WARC files", "flags: dedup off", "errors: 1 x http_404",
                     "  mocksite: ", f"archive: {tmp_path / 'archive'}", "next: newsarchive list URL --archive"):
        assert expected in summary, (expected, summary)
    assert len(summary.strip().splitlines()) <= 24, "longer than one screen"


def test_ctrl_c_stops_the_display_cleanly_and_still_summarises(mock_server: MockServer, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "s.toml", mock_server, name="mocksite", start="/slow", feeds=False,
                            sitemaps=False)
    crawl = TerminalCrawl(_args(sources, tmp_path / "archive", "-s", "ITEM_PIPELINES={}"), tmp_path)
    try:
        crawl.wait_for("│".encode())  # the table is up; /slow is still being answered
        os.killpg(crawl.proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    finally:
        code = crawl.finish(60)
    out = crawl.text
    assert code == 1, out[-3000:]
    assert "stopping cleanly" in out or "stopped" in out
    assert crawl.output.rindex(SHOW_CURSOR) > crawl.output.rindex("│".encode()), "cursor left hidden"
    tail = out[out.rindex("│"):]
    assert "crawl stopped" in tail and "newsarchive crawl --resume" in tail, tail
    assert tail.strip().splitlines()[-1].startswith("newsarchive: interrupted by SIGINT"), tail
    assert "Traceback" not in out


def test_without_a_terminal_plain_progress_lines_and_no_escapes(mock_server: MockServer, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "s.toml", mock_server, name="mocksite", start="/basic", feeds=False,
                            sitemaps=False, more_starts=("/slow",))
    proc = subprocess.run([sys.executable, "-m", "crawler", *_args(sources, tmp_path / "archive", "-s",
                                                                    "ITEM_PIPELINES={}", "-s", "PROGRESS_INTERVAL=0.5")],
                          cwd=tmp_path, env=cli_env(TERM="xterm-256color"), capture_output=True, timeout=300)
    err, out = proc.stderr.decode(), proc.stdout.decode()
    assert proc.returncode == 0, err[-3000:]
    assert not ANSI.search(proc.stderr) and not ANSI.search(proc.stdout)
    lines = [line for line in err.splitlines() if "progress: " in line]
    assert len(lines) >= 3, err[-3000:]
    assert re.search(r"progress: \d+ pages \([\d.]+/s\), \d+ archived, \d+ already archived, \d+ queued, \d+ errors, "
                     r"[\d.]+ MB$", lines[-1]), lines[-1]
    assert "[scrapy.core.engine] INFO: Spider opened" in err  # without a table, the log is the progress
    assert out.startswith("crawl finished (finished)") and "  mocksite: " in out and "next: newsarchive" in out
