"""The crawl's live progress display in a terminal (rich), and the log routing that keeps it readable.

Plain library: no Scrapy here. `crawler.extensions.progress` feeds it rows from the crawl's stats.
While the display is up, the terminal's log handlers write through the display's console, so a
log line appears above the table instead of tearing it, and records below ``min_level`` (Scrapy's
INFO chatter, the periodic progress lines) are left out of the terminal: the table says the same.
A log file (``LOG_FILE``) is not touched and keeps every record.
"""

from __future__ import annotations

import io
import logging
import sys
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from crawler.summary import human_bytes

#: C0 and C1 control characters (but tab) shown as ``\x1b`` etc.: text from the web or from a
#: sources file never reaches the terminal as a control sequence.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c != 0x09}


def plain(text: str) -> Text:
    """Untrusted text as a rich `Text`: no markup, no control sequences."""
    return Text(text.translate(_CONTROLS))


@dataclass(frozen=True)
class ProgressRow:
    """One line of the display: a source, or the total."""

    name: str
    pages: int
    articles: int
    queued: int | None
    errors: int
    bytes: int
    rate: float  # pages/s over the last few seconds


def progress_table(rows: list[ProgressRow], total: ProgressRow) -> Table:
    """The table the display shows. Every cell is a `Text`: names from sources.toml are never markup."""
    table = Table(expand=False, show_edge=False, pad_edge=False)
    for header in ("source", "pages", "articles", "queued", "errors", "bytes", "pages/s"):
        table.add_column(header, justify="left" if header == "source" else "right", no_wrap=True)

    def cells(row: ProgressRow) -> list[Text]:
        return [plain(row.name), Text(str(row.pages)), Text(str(row.articles)),
                Text("?" if row.queued is None else str(row.queued)),
                Text(str(row.errors), style="red" if row.errors else ""), Text(human_bytes(row.bytes)),
                Text(f"{row.rate:.1f}")]

    for row in rows:
        table.add_row(*cells(row))
    table.add_section()
    table.add_row(*cells(total), style="bold")
    return table


class _ConsoleStream(io.TextIOBase):
    """A log handler's stream that prints whole lines through the live display's console (as `plain`
    text: a hostile URL in a log line can neither style nor move the cursor)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._console.print(plain(line), soft_wrap=True, highlight=False)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            line, self._buffer = self._buffer, ""
            self._console.print(plain(line), soft_wrap=True, highlight=False)


class _BelowLevel(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


#: PROGRESS_DISPLAY values: a live table when the stream is a terminal, always, or never (log lines only).
DISPLAY_MODES = ("auto", "live", "lines")


def live_wanted(mode: str, stream: IO[str]) -> bool:
    """Whether a crawl shows the live table on ``stream`` (PROGRESS_DISPLAY ``mode``)."""
    mode = mode.lower()
    if mode not in DISPLAY_MODES:
        raise ValueError(f"PROGRESS_DISPLAY: expected one of {', '.join(DISPLAY_MODES)}, got {mode!r}")
    return mode == "live" or (mode == "auto" and stream.isatty())


def terminal_handlers(stream: IO[str]) -> list[logging.StreamHandler[Any]]:
    """The root logger's handlers that write to ``stream`` (Scrapy's own handler on stderr)."""
    return [h for h in logging.getLogger().handlers
            if type(h) is logging.StreamHandler and getattr(h, "stream", None) is stream]


class LiveProgress:
    """A rich live display on ``stream`` (a terminal), refreshed only when `update` is called (no
    thread of its own: the caller's loop drives it)."""

    def __init__(self, stream: IO[str] | None = None, *, min_level: int = logging.WARNING) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.console = Console(file=self.stream, highlight=False)
        self.min_level = min_level
        self._live: Live | None = None
        self._routed: list[tuple[logging.StreamHandler[Any], IO[str]]] = []
        self._filter = _BelowLevel(min_level)
        self._quieted: list[logging.Handler] = []

    @property
    def running(self) -> bool:
        return self._live is not None

    def start(self, renderable: Any) -> None:
        if self._live is not None:
            return
        proxy = _ConsoleStream(self.console)
        for handler in terminal_handlers(self.stream):
            handler.addFilter(self._filter)
            self._quieted.append(handler)
            self._routed.append((handler, handler.setStream(proxy) or self.stream))
        self._live = Live(renderable, console=self.console, auto_refresh=False, transient=False,
                          redirect_stdout=False, redirect_stderr=False)
        self._live.start(refresh=True)

    def update(self, renderable: Any) -> None:
        if self._live is not None:
            self._live.update(renderable, refresh=True)

    def stop(self, final: Any | None = None) -> None:
        """Leave the last frame (or ``final``) on the screen, give the cursor back, restore the handlers.
        Safe to call twice and from a signal-driven path."""
        live, self._live = self._live, None
        if live is not None:
            if final is not None:
                live.update(final, refresh=True)
            live.stop()
        for handler, stream in self._routed:
            handler.setStream(stream)
        self._routed.clear()
        for quieted in self._quieted:
            quieted.removeFilter(self._filter)
        self._quieted.clear()


def framed(title: str, table: Table, status: str) -> Group:
    """The display: a title line, the table, a status line."""
    return Group(plain(title), table, Text(status, style="dim"))
