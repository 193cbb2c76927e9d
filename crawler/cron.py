"""Cron expressions and durations of the sources file: parsed by croniter, checked before anything runs.

A schedule is standard five-field cron (``"*/30 * * * *"``); croniter's optional sixth field
(seconds) is accepted too, which lets tests run a schedule every few seconds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import croniter

_DURATION_RE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def is_valid_cron(expr: str) -> bool:
    fields = expr.split()
    return len(fields) in (5, 6) and bool(croniter.is_valid(expr))


def next_run(expr: str, after: datetime) -> datetime:
    """The first time after ``after`` (timezone-aware) that ``expr`` fires."""
    return croniter(expr, after).get_next(datetime)


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"1d12h"``, ``"90m"``, ``"30s"``, ``"2w"``; ValueError otherwise."""
    clean = text.strip().lower()
    if not clean or _DURATION_RE.sub("", clean).strip():
        raise ValueError(f"not a duration: {text!r} (e.g. '7d', '12h', '1d12h', '30m')")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _DURATION_RE.findall(clean)))
