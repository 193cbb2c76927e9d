"""The run log: one row per scheduled crawl (or skipped one) in a small SQLite file in the archive's state dir.

`newsarchive schedule` writes it; `newsarchive status` reads it. Plain library: no Scrapy here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    planned TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    outcome TEXT NOT NULL,
    exit_code INTEGER,
    pages INTEGER NOT NULL DEFAULT 0,
    articles INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    resumed INTEGER NOT NULL DEFAULT 0,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_source ON runs (source, id);
"""

#: Columns added after the first run logs were written: (name, definition), added when missing.
_ADDED_COLUMNS = (("resumed", "INTEGER NOT NULL DEFAULT 0"), ("pid", "INTEGER"))

#: Outcomes of a run: still going, ran to its end, exited non-zero, stopped by a signal, or not started.
OUTCOMES = ("running", "ok", "failed", "interrupted", "skipped")

_FIELDS = ("id, source, planned, started, finished, outcome, exit_code, pages, articles, bytes, errors, detail, "
           "resumed, pid")


@dataclass(frozen=True)
class Run:
    id: int
    source: str
    planned: str | None
    started: str
    finished: str | None
    outcome: str
    exit_code: int | None
    pages: int
    articles: int
    bytes: int
    errors: int
    detail: str
    #: The run continued its source's interrupted crawl (``newsarchive crawl --resume``).
    resumed: bool = False
    #: The crawl's process id while it runs.
    pid: int | None = None


@dataclass(frozen=True)
class RunCounts:
    """What a finished crawl did for one source, read from its ``--stats-out`` JSON."""

    pages: int = 0
    articles: int = 0
    bytes: int = 0
    errors: int = 0

    @classmethod
    def from_stats(cls, source: str, stats: dict[str, Any]) -> RunCounts:
        prefix = f"source/{source}/"
        errors = sum(int(v) for k, v in stats.items() if k.startswith(prefix + "errors/"))
        return cls(pages=int(stats.get(prefix + "pages", 0)), articles=int(stats.get(prefix + "articles", 0)),
                   bytes=int(stats.get("downloader/response_bytes", 0)),
                   errors=errors + int(stats.get("log_count/ERROR", 0)))


class RunLog:
    """SQLite run log. Timestamps are ISO 8601 UTC strings written by the caller (an injected clock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30)
        with self._conn:
            self._conn.executescript(SCHEMA)
            have = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
            for name, definition in _ADDED_COLUMNS:
                if name not in have:
                    self._conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")

    @classmethod
    def open_existing(cls, path: Path | str) -> Self | None:
        return cls(path) if Path(path).is_file() else None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, source: str, *, started: str, planned: str | None = None, resumed: bool = False) -> int:
        with self._conn:
            cur = self._conn.execute("INSERT INTO runs (source, planned, started, outcome, resumed) "
                                     "VALUES (?, ?, ?, 'running', ?)", (source, planned, started, int(resumed)))
        return int(cur.lastrowid or 0)

    def started(self, run_id: int, pid: int) -> None:
        """The run's crawl process is up (its pid, shown while it runs)."""
        with self._conn:
            self._conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))

    def abandon(self, run_id: int, *, at: str, detail: str) -> None:
        """A run still marked ``running`` that no scheduler follows any more (it was killed): interrupted."""
        with self._conn:
            self._conn.execute("UPDATE runs SET finished = ?, outcome = 'interrupted', detail = ? "
                               "WHERE id = ? AND outcome = 'running'", (at, detail, run_id))

    def finish(self, run_id: int, *, finished: str, outcome: str, exit_code: int | None,
               counts: RunCounts = RunCounts(), detail: str = "") -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._conn:
            self._conn.execute(
                "UPDATE runs SET finished = ?, outcome = ?, exit_code = ?, pages = ?, articles = ?, bytes = ?, "
                "errors = ?, detail = ? WHERE id = ?",
                (finished, outcome, exit_code, counts.pages, counts.articles, counts.bytes, counts.errors, detail,
                 run_id))

    def skip(self, source: str, *, at: str, planned: str | None, detail: str) -> int:
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO runs (source, planned, started, finished, outcome, detail) "
                "VALUES (?, ?, ?, ?, 'skipped', ?)", (source, planned, at, at, detail))
        return int(cur.lastrowid or 0)

    def runs(self, source: str | None = None) -> list[Run]:
        if source is None:
            rows = self._conn.execute(f"SELECT {_FIELDS} FROM runs ORDER BY id")
        else:
            rows = self._conn.execute(f"SELECT {_FIELDS} FROM runs WHERE source = ? ORDER BY id", (source,))
        return [_run(row) for row in rows]

    def last(self, source: str, *, include_skipped: bool = False) -> Run | None:
        skip = "" if include_skipped else "AND outcome != 'skipped'"
        row = self._conn.execute(f"SELECT {_FIELDS} FROM runs WHERE source = ? {skip} ORDER BY id DESC LIMIT 1",
                                 (source,)).fetchone()
        return _run(row) if row else None


def _run(row: tuple[Any, ...]) -> Run:
    values = dict(zip(_FIELDS.replace(" ", "").split(","), row))
    values["resumed"] = bool(values["resumed"])
    return Run(**values)
