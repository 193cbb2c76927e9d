"""Incremental crawls, measured: ``python bench/incremental_crawl.py [--pages 500]``.

Starts the mock server's ``bench`` site (tests/mockserver.py: a home page, listings of 50 articles,
N articles of 40-80 KB; ``--validators``: ETag/Last-Modified, 304 to a conditional GET) and crawls
it three times into one fresh archive with ``newsarchive crawl``:

1. the first run (every page new);
2. a second run over the unchanged site (incremental: listings fetched, archived articles not);
3. with ``--recrawl`` only: a third run after ``recrawl_after = "1s"`` has passed, every article
   refetched conditionally (304s archived as server-not-modified revisits).

Each row: requests sent, responses received, response records stored, revisits stored, wall time.
The target: run 2 sends at most 30% of run 1's requests and stores no response for any article.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.mockserver import MockServer  # noqa: E402

PROFILE = ROOT / "settings" / "profiles" / "test.toml"
TARGET_REQUEST_RATIO = 0.30


def sources_toml(server: MockServer, recrawl_after: str | None) -> str:
    extra = f'recrawl_after = "{recrawl_after}"\n' if recrawl_after else ""
    return textwrap.dedent(f"""\
        [[source]]
        name = "bench"
        lang = "en"
        start_urls = ["{server.url('/')}"]
        allowed_domains = ["{server.host}"]
        article_pattern = '/p/\\d+$'
        follow_pattern = '/(list/\\d+)?$'
        max_depth = 50
        """) + extra


def run(tmp: Path, sources: Path, archive: Path, label: str) -> dict[str, object]:
    stats_path = tmp / f"stats-{label}.json"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--archive", str(archive),
         "--profile", str(PROFILE), "-s", "ITEM_PIPELINES={}", "-s", "LOG_LEVEL=WARNING",
         "--stats-out", str(stats_path)], cwd=ROOT, capture_output=True)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"{label}: crawl failed:\n{proc.stderr.decode()[-3000:]}")
    stats = json.loads(stats_path.read_text())
    return {
        "run": label,
        "requests": stats.get("downloader/request_count", 0),
        "responses": stats.get("downloader/response_count", 0),
        "stored": stats.get("archive/responses", 0),
        "revisits": stats.get("archive/revisits", 0),
        "skipped": stats.get("incremental/skipped_archived", 0),
        "not_modified": stats.get("incremental/not_modified", 0),
        "seconds": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=500)
    p.add_argument("--recrawl", action="store_true", help="a third run with every article due again")
    p.add_argument("--json", action="store_true", help="rows as JSON lines")
    args = p.parse_args(argv)
    rows = []
    with MockServer("bench", pages=args.pages, seed=1, validators=True) as server, \
            tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp_name:
        tmp = Path(tmp_name)
        sources = tmp / "sources.toml"
        archive = tmp / "archive"
        sources.write_text(sources_toml(server, "1s" if args.recrawl else None), encoding="utf-8")
        if args.recrawl:  # the first two runs follow each other within the second
            sources.write_text(sources_toml(server, "1h"), encoding="utf-8")
        rows.append(run(tmp, sources, archive, "first"))
        rows.append(run(tmp, sources, archive, "second"))
        if args.recrawl:
            sources.write_text(sources_toml(server, "1s"), encoding="utf-8")
            time.sleep(1.1)
            rows.append(run(tmp, sources, archive, "recrawl"))
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        cols = list(rows[0])
        print("  ".join(f"{c:>12}" for c in cols))
        for row in rows:
            print("  ".join(f"{row[c]!s:>12}" for c in cols))
    first, second = rows[0], rows[1]
    ratio = int(second["requests"]) / max(1, int(first["requests"]))  # type: ignore[call-overload]
    ok = ratio <= TARGET_REQUEST_RATIO and not second["stored"]
    print(f"second/first requests: {ratio:.1%} (target <= {TARGET_REQUEST_RATIO:.0%}), responses stored by the "
          f"second run: {second['stored']}, time: {float(second['seconds']) / float(first['seconds']):.0%} of the first"  # type: ignore[arg-type]
          f" -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
