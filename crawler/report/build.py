"""`newsarchive report`: options -> filters -> clusters -> a file in the asked format."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.dedup.clusters import KINDS, Filters, build_clusters
from crawler.dedup.store import ArticleStore
from crawler.errors import CatalogMissing, ConfigError
from crawler.report.render import FORMATS, RENDERERS, Report
from crawler.report.texts import TextIndex

_AGO_RE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.I)
_AGO_UNIT = {"h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(value: str | None, *, now: datetime | None = None, end: bool = False) -> float | None:
    """``7d``/``12h``/``2w`` ago, a date (``2026-11-01``; as ``--until`` it includes that whole day)
    or an ISO date-time; None for None or ''."""
    if not value:
        return None
    now = now or datetime.now(UTC)
    m = _AGO_RE.match(value)
    if m:
        return now.timestamp() - int(m.group(1)) * _AGO_UNIT[m.group(2).lower()]
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"not a date, date-time or age like 7d: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if end and len(value.strip()) <= 10:
        dt += timedelta(days=1)
    return dt.timestamp()


def make_filters(
    since: str | None = None,
    until: str | None = None,
    sources: Iterable[str] = (),
    langs: Iterable[str] = (),
    kinds: Iterable[str] = (),
    now: datetime | None = None,
) -> Filters:
    kinds = tuple(k for k in kinds if k)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ConfigError(f"unknown kind {bad[0]!r} (one of {', '.join(KINDS)})")
    return Filters(
        since=parse_time(since, now=now),
        until=parse_time(until, now=now, end=True),
        sources=tuple(s for s in sources if s),
        langs=tuple(lang for lang in langs if lang),
        kinds=kinds,
    )


def format_for(out_path: str | Path, fmt: str | None) -> str:
    """``fmt``, else the output's suffix (``.csv``, ``.json``), else HTML."""
    if fmt is None:
        suffix = Path(out_path).suffix.lower().lstrip(".")
        fmt = suffix if suffix in FORMATS else "html"
    if fmt not in FORMATS:
        raise ConfigError(f"unknown report format: {fmt} (one of {', '.join(FORMATS)})")
    return fmt


def build_report(
    catalog_path: str | Path,
    filters: Filters | None = None,
    *,
    texts: TextIndex | None = None,
    archive_label: str = "",
    replay_base: str | None = None,
) -> Report:
    if not Path(catalog_path).is_file():
        raise CatalogMissing(
            f"no dedup catalog at {catalog_path}: crawl with dedup on, or run `newsarchive dedup rebuild`"
        )
    filters = filters or Filters()
    with ArticleStore(catalog_path) as store:
        clusters = build_clusters(store, filters)
    report = Report(
        clusters=clusters, filters=filters, archive=archive_label or str(catalog_path), replay_base=replay_base
    )
    if texts is not None:
        report.texts = texts.texts_of([m.url for c in clusters for m in c.members])
    return report


def write_report(
    catalog_path: str | Path,
    out_path: str | Path,
    fmt: str | None = None,
    filters: Filters | None = None,
    *,
    texts: TextIndex | None = None,
    archive_label: str = "",
    replay_base: str | None = None,
) -> int:
    """Write the report; returns the number of clusters in it."""
    fmt = format_for(out_path, fmt)
    report = build_report(catalog_path, filters, texts=texts, archive_label=archive_label, replay_base=replay_base)
    out = Path(out_path)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        for chunk in RENDERERS[fmt](report):
            f.write(chunk)
    tmp.replace(out)
    return len(report.clusters)
