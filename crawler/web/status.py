"""The crawl status page's numbers, from what the archive records (there is no run log yet).

Per source: its articles (from the text index, or the dedup catalog without one), the last
capture, the articles captured within a day of that last capture (its last run,
approximately), and the pages and error responses (HTTP 4xx/5xx) captured on the hosts its
articles come from. Per host (capture catalog): pages, errors and the last capture.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.dedup.store import ArticleStore

LAST_RUN_WINDOW = 86400.0  # seconds before a source's last capture counted as its last run


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc or "(none)"
    except ValueError:
        return "(bad url)"


def _articles(catalog_path: Path, texts: Any) -> list[tuple[str, str, str | None]]:
    if texts is not None:
        return list(texts.articles_by_source())
    if not Path(catalog_path).is_file():
        return []
    with ArticleStore(catalog_path) as store:
        return [(a.source, a.url, a.fetched_at) for a in store.iter_articles()]


def crawl_status(archive: Any, catalog_path: Path, texts: Any = None) -> dict[str, Any]:
    hosts: dict[str, dict[str, Any]] = {}
    for e in archive.catalog.iter_all():
        if e.rec_type not in ("response", "revisit"):
            continue
        h = hosts.setdefault(_host(e.url), {"pages": 0, "errors": 0, "last_capture": ""})
        h["pages"] += 1
        if (e.status or "").isdigit() and int(e.status) >= 400:
            h["errors"] += 1
        h["last_capture"] = max(h["last_capture"], e.timestamp)

    caps: dict[str, list[float]] = defaultdict(list)
    source_hosts: dict[str, set[str]] = defaultdict(set)
    for source, url, captured in _articles(catalog_path, texts):
        name = source or "(none)"
        when = parse_when(captured)
        caps[name].append(when if when is not None else 0.0)
        source_hosts[name].add(_host(url))
    sources: dict[str, dict[str, Any]] = {}
    for name, times in sorted(caps.items()):
        last = max(times)
        mine = [hosts[h] for h in sorted(source_hosts[name]) if h in hosts]
        sources[name] = {
            "articles": len(times),
            "last_capture": _iso(last) if last else None,
            "new_in_last_run": sum(1 for t in times if last and t >= last - LAST_RUN_WINDOW),
            "pages": sum(h["pages"] for h in mine),
            "errors": sum(h["errors"] for h in mine),
            "hosts": sorted(source_hosts[name]),
        }
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
