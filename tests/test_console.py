"""crawler/console.py: the live table and how log records reach the terminal while it is up."""

from __future__ import annotations

import io
import logging

import pytest

from crawler.console import LiveProgress, ProgressRow, framed, live_wanted, progress_table
from crawler.summary import human_bytes


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _table(name: str = "mock") -> object:
    row = ProgressRow(name, pages=12, articles=5, queued=3, errors=1, bytes=2_500_000, rate=4.25)
    total = ProgressRow("total", 12, 5, 3, 1, 2_500_000, 4.25)
    return framed("newsarchive crawl: 10 archived", progress_table([row], total), "crawling")


def test_live_wanted() -> None:
    assert live_wanted("auto", _Tty()) and not live_wanted("auto", io.StringIO())
    assert live_wanted("LIVE", io.StringIO()) and not live_wanted("lines", _Tty())
    with pytest.raises(ValueError, match="PROGRESS_DISPLAY"):
        live_wanted("fancy", _Tty())


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (999, 1500, 2_500_000, 7e9)] == ["999 B", "1.5 kB", "2.5 MB", "7.0 GB"]


def test_the_table_renders_values_and_names_as_text() -> None:
    stream = _Tty()
    display = LiveProgress(stream)
    display.start(_table("[bold red]evil\x1b[2J"))
    display.stop()
    out = stream.getvalue()
    assert "[bold red]evil" in out  # markup in a source name is shown, not interpreted
    assert "\x1b[2J" not in out  # nor a control sequence
    for cell in ("12", "5", "3", "2.5 MB", "4.2", "total", "pages/s", "crawling"):
        assert cell in out


@pytest.fixture
def terminal_handler():
    stream = _Tty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield stream, handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_log_records_print_above_the_display_and_info_is_left_out(terminal_handler) -> None:
    stream, handler = terminal_handler
    display = LiveProgress(stream, min_level=logging.WARNING)
    display.start(_table())
    assert handler.stream is not stream  # routed through the display's console
    log = logging.getLogger("tests.console")
    log.info("an info line the table replaces")
    log.warning("a warning about %s", "http://x/\x1b[31mred")
    display.update(_table())
    display.stop()
    out = stream.getvalue()
    assert "an info line" not in out
    assert "WARNING: a warning about http://x/" in out and "\x1b[31mred" not in out
    assert handler.stream is stream and not handler.filters  # restored
    log.info("after the display")
    assert "after the display" in stream.getvalue()
    display.stop()  # twice is harmless
