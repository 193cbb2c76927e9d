"""The `report` and `serve` options, and `report` itself: argv -> filters -> write_report (light imports)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.dedup.kinds import Kind

KIND_CHOICES = tuple(str(k) for k in Kind)


def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--since",
        default=None,
        metavar="WHEN",
        help="clusters with an article from then on: 7d, 12h, 2w ago, or a date",
    )
    p.add_argument("--until", default=None, metavar="WHEN", help="... up to then (a date includes that day)")
    p.add_argument(
        "--source", action="append", default=[], metavar="NAME", help="with an article from this source (repeatable)"
    )
    p.add_argument(
        "--lang", action="append", default=[], metavar="LANG", help="with an article in this language (repeatable)"
    )
    p.add_argument(
        "--kind", action="append", default=[], choices=KIND_CHOICES, help="only relations of this kind (repeatable)"
    )


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    add_filter_arguments(p)
    p.add_argument(
        "--format", default=None, choices=("html", "csv", "json"), help="default: from -o's suffix, else html"
    )
    p.add_argument(
        "--replay-url",
        default=None,
        metavar="URL",
        help="link archived copies to this running `newsarchive replay` (e.g. http://127.0.0.1:8080)",
    )
    p.add_argument("--no-texts", action="store_true", help="skip the excerpts (no reading of WARC metadata records)")


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; others need a token)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--token",
        default=None,
        help="access token every request must carry (default $NEWSARCHIVE_TOKEN); required off loopback",
    )
    p.add_argument("--replay-url", default=None, metavar="URL", help="a running `newsarchive replay` to link to")
    p.add_argument("--replay", action="store_true", help="start pywb beside the app (on 127.0.0.1) and link to it")
    p.add_argument("--pywb-venv", default=None, help="pywb's venv (default $PYWB_VENV or ./.venv-pywb)")


def run_report(args: argparse.Namespace, output: Path, archive: Any, catalog: Path, *,
               replay_url: str | None = None) -> int:
    """Write the report of ``catalog`` (the archive's dedup catalog) to ``output``."""
    from crawler.report.build import format_for, make_filters, write_report
    from crawler.report.texts import open_text_index

    fmt = format_for(output, args.format)
    filters = make_filters(args.since, args.until, args.source, args.lang, args.kind)
    texts = None if args.no_texts else open_text_index(archive, out=sys.stdout)
    try:
        n = write_report(
            catalog,
            output,
            fmt,
            filters,
            texts=texts,
            archive_label=archive.storage.uri,
            replay_base=args.replay_url or replay_url or None,
        )
    finally:
        if texts is not None:
            texts.close()
    print(f"wrote {output} ({fmt}, {n} clusters)")
    return 0
