"""The crawl status page's numbers, from what the archive records (there is no run log yet).

Per source (dedup catalog): articles, the last capture, and the articles captured within a
day of that last capture (the last run, approximately). Per host (capture catalog): pages
captured, the last capture, and error responses (HTTP 4xx/5xx) kept in the archive.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.dedup.store import ArticleStore

LAST_RUN_WINDOW = 86400.0  # seconds before a source's last capture counted as its last run


def crawl_status(archive: Any, catalog_path: Path, texts: Any = None) -> dict[str, Any]:
    sources: dict[str, dict[str, Any]] = {}
    if Path(catalog_path).is_file():
        caps: dict[str, list[float]] = defaultdict(list)
        with ArticleStore(catalog_path) as store:
            for art in store.iter_articles():
                when = parse_when(art.fetched_at)
                caps[art.source or "(none)"].append(when if when is not None else 0.0)
        for name, times in sorted(caps.items()):
            last = max(times)
            sources[name] = {
                "articles": len(times),
                "last_capture": _iso(last) if last else None,
                "new_in_last_run": sum(1 for t in times if last and t >= last - LAST_RUN_WINDOW),
            }
    hosts: dict[str, dict[str, Any]] = {}
    for e in archive.catalog.iter_all():
        if e.rec_type not in ("response", "revisit"):
            continue
        try:
            host = urlsplit(e.url).netloc or "(none)"
        except ValueError:
            host = "(bad url)"
        h = hosts.setdefault(host, {"pages": 0, "errors": 0, "last_capture": ""})
        h["pages"] += 1
        if (e.status or "").isdigit() and int(e.status) >= 400:
            h["errors"] += 1
        if e.timestamp > h["last_capture"]:
            h["last_capture"] = e.timestamp
    for h in hosts.values():
        ts = h["last_capture"]
        h["last_capture"] = f"{ts[:4]}-{ts[4:6]}-{ts[6:8]} {ts[8:10]}:{ts[10:12]} UTC" if len(ts) >= 12 else ts
    return {
        "sources": sources,
        "hosts": dict(sorted(hosts.items())),
        "warc_files": len(archive.catalog.files()),
        "indexed_texts": texts.count() if texts is not None else None,
    }


def parse_when(value: str | None) -> float | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
