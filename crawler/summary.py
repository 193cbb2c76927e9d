"""The one-screen summary that ends every `newsarchive crawl`, from the crawl's stats (plain library).

Its first line says how the crawl ended, its last lines where the archive is and what to run next;
between them what it did: pages, articles (new, refetched, already archived), records, bytes and
WARC files stored, near-duplicate flags by kind, errors by kind, and one line per source.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: Finish reasons of a crawl that ran to its end (a page, item or time limit is an end too).
FINISHED = ("finished", "closespider_pagecount", "closespider_itemcount", "closespider_timeout")


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def errors_by_kind(stats: Mapping[str, Any]) -> Counter[str]:
    """Every source's ``errors/<kind>`` added up, plus the archive's own failures."""
    kinds: Counter[str] = Counter()
    for key, value in stats.items():
        if key.startswith("source/") and "/errors/" in key:
            kinds[key.split("/errors/", 1)[1]] += int(value)
    for key, name in (("archive/write_errors", "WARC write error"), ("storage/upload_failures", "not stored"),
                      ("dedup/errors", "dedup error")):
        if stats.get(key):
            kinds[name] += int(stats[key])
    return kinds


def _count_list(counts: Mapping[str, int], sep: str = " x ") -> str:
    return ", ".join(f"{n}{sep}{kind}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def crawl_summary(stats: Mapping[str, Any], source_lines: Sequence[str], *, archive: str,
                  interrupted: bool = False, dedup: bool = True) -> str:
    """The summary's text. ``source_lines`` are the per-source lines (`crawler.runner.SourceSummary`);
    ``archive`` is where the archive is, as the suggested next commands name it (``--archive ...``)."""
    s = stats
    reason = str(s.get("finish_reason") or ("interrupted" if interrupted else "?"))
    ended = "finished" if reason in FINISHED and not interrupted else "stopped"
    pages = int(s.get("response_received_count", 0))
    seconds = float(s.get("elapsed_time_seconds") or 0.0)
    rate = f" ({pages / seconds:.1f}/s)" if seconds > 0 else ""
    errors = errors_by_kind(s)
    articles = int(s.get("pages/articles", 0))
    refetched = int(s.get("incremental/refetched", 0))
    skipped = int(s.get("incremental/skipped_archived", 0))
    finished_files, stored_files = int(s.get("archive/files_finished", 0)), int(s.get("archive/files_published", 0))
    flags = {k[len("dedup/flags/"):]: int(v) for k, v in s.items() if k.startswith("dedup/flags/")}

    lines = [
        f"crawl {ended} ({reason}) in {duration(seconds)}: {pages} pages{rate}, {articles} articles, "
        f"{sum(errors.values())} errors",
        f"  articles: {max(0, articles - refetched)} new, {refetched} refetched "
        f"({int(s.get('incremental/not_modified', 0))} not modified), {skipped} already archived (not fetched)",
        f"  archived: {int(s.get('archive/responses', 0))} responses, {int(s.get('archive/revisits', 0))} revisits, "
        f"{int(s.get('archive/metadata', 0))} metadata records; {human_bytes(int(s.get('storage/bytes_stored', 0)))} "
        f"stored in {stored_files} WARC files"
        + (f" ({finished_files - stored_files} still in the spool)" if finished_files > stored_files else ""),
        f"  flags: {_count_list(flags, ' ')}" if dedup else "  flags: dedup off",
        f"  errors: {_count_list(errors)}",
        *source_lines,
        f"archive: {archive}",
    ]
    where = f"--archive {shlex.quote(archive)}"
    nxt = [f"newsarchive list URL {where}", f"newsarchive verify {where}"]
    if dedup:
        nxt.append(f"newsarchive report -o report.html {where}")
    if finished_files > stored_files:
        nxt.insert(0, f"newsarchive upload {where}")
    if interrupted or ended == "stopped":
        nxt.insert(0, f"newsarchive crawl --resume {where}  (with the same --sources and --source)")
    lines.append("next: " + "\n      ".join(nxt) + "\n      (add the crawl's --profile and -s, if any)")
    return "\n".join(lines)
