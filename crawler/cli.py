"""The `newsarchive` command: argv -> options -> library call. One exit point, one clear line on error.

Exit codes: 0 done; 1 nothing found, or the crawl had fatal errors; 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _default_archive() -> str:
    return os.environ.get("ARCHIVE_URI", "./archive")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsarchive", description="Archive security-news sites into WARC files.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def archive_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--archive", default=None, metavar="URI",
                        help="archive folder or s3://bucket/prefix (default: $ARCHIVE_URI or ./archive)")

    c = sub.add_parser("crawl", help="crawl the sources into the archive")
    c.add_argument("--sources", default=None, help="sources file (default settings/sources.toml)")
    archive_arg(c)
    c.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    c.add_argument("--profile", default=None, help="settings profile: a name in settings/profiles/ or a .toml path")
    c.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting")
    c.add_argument("-O", "--output", default=None, help="write article items to this feed (e.g. articles.jsonl)")
    c.add_argument("--log-level", default=None)
    c.add_argument("--stats-out", default=None, metavar="FILE", help="write the crawl's stats as JSON")

    l = sub.add_parser("list", help="list every capture of a URL")
    l.add_argument("url")
    archive_arg(l)

    g = sub.add_parser("get", help="print an archived page")
    g.add_argument("url")
    archive_arg(g)
    g.add_argument("--at", default=None, metavar="TIMESTAMP", help="capture closest to this time (YYYYmmddHHMMSS)")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--raw", action="store_true", help="payload as received (still Content-Encoded)")
    mode.add_argument("--headers", action="store_true", help="status line and headers only")
    g.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")

    i = sub.add_parser("index", help="the capture index")
    isub = i.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    r = isub.add_parser("rebuild", help="rebuild the CDXJ sidecars and the catalog from the WARCs alone")
    archive_arg(r)
    r.add_argument("--workers", type=int, default=4)

    up = sub.add_parser("upload", help="store WARCs left in the spool by an interrupted or offline run")
    archive_arg(up)
    up.add_argument("--spool", default=None, help="spool folder (default: the archive's)")

    v = sub.add_parser("verify", help="check every WARC and index entry; exit 1 on any problem")
    archive_arg(v)

    rp = sub.add_parser("replay", help="serve the archive with pywb (own venv) on 127.0.0.1")
    archive_arg(rp)
    rp.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    rp.add_argument("--port", type=int, default=8080)
    rp.add_argument("--pywb-venv", default=None, help="pywb's venv (default $PYWB_VENV or ./.venv-pywb)")

    d = sub.add_parser("dups", help="list an article's near-duplicates")
    d.add_argument("url")
    archive_arg(d)
    dd = sub.add_parser("dedup", help="near-duplicate state")
    ddsub = dd.add_subparsers(dest="dedup_command", required=True, metavar="ACTION")
    ddr = ddsub.add_parser("rebuild", help="rebuild the article catalog from the WARC metadata records")
    archive_arg(ddr)
    rep = sub.add_parser("report", help="write the editors' HTML report of near-duplicate clusters")
    archive_arg(rep)
    rep.add_argument("-o", "--output", default="report.html")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed the usage line
        return EXIT_USAGE if e.code else EXIT_OK
    if getattr(args, "archive", "unset") is None:
        args.archive = _default_archive()
    if args.command != "crawl":  # a crawl logs through Scrapy's own handler
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except CliError as e:
        print(f"newsarchive: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("newsarchive: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK


# -- commands ------------------------------------------------------------------------------
def cmd_crawl(args: argparse.Namespace) -> int:
    from crawler.runner import CrawlConfigError, run_crawl

    overrides: dict[str, str] = {}
    for item in args.set:
        if "=" not in item:
            raise CliError(f"-s wants NAME=VALUE, got {item!r}", EXIT_USAGE)
        k, v = item.split("=", 1)
        overrides[k] = v
    try:
        result = run_crawl(
            sources=args.sources, archive=args.archive, only=args.source, profile=args.profile,
            overrides=overrides, output=args.output, log_level=args.log_level,
        )
    except CrawlConfigError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    if args.stats_out:
        Path(args.stats_out).write_text(json.dumps(result.stats, default=str, indent=1, sort_keys=True))
    if not result.ok:
        raise CliError(result.problem, EXIT_FAILED)
    print(result.summary())
    return EXIT_OK


def _open_archive(uri: str, sync: bool = True):
    """The archive at ``uri``; with ``sync``, its catalog first brought up to date with storage."""
    from crawler.archive.archive import Archive
    from crawler.archive.storage import StorageConfigError, StorageError

    try:
        archive = Archive.open(uri)
        if sync:
            archive.sync_catalog()
    except StorageConfigError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    except StorageError as e:
        raise CliError(str(e), EXIT_FAILED) from None
    return archive


def cmd_list(args: argparse.Namespace) -> int:
    from crawler.archive.retrieve import list_captures

    archive = _open_archive(args.archive)
    entries = list_captures(archive, args.url)
    if not entries:
        raise CliError(f"no captures of {args.url} in {args.archive}")
    for e in entries:
        kind = "revisit" if e.rec_type == "revisit" else "response"
        print(f"{e.timestamp} {e.status or '-'} {kind:8} {e.mime or '-'} {e.length:>9} {e.url} {e.filename}:{e.offset}")
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    from crawler.archive.retrieve import DecodeError, NotArchived, get_capture, parse_at
    from crawler.archive.storage import StorageError

    try:
        at = parse_at(args.at) if args.at else None
    except ValueError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    archive = _open_archive(args.archive)
    try:
        capture = get_capture(archive, args.url, at)
        if args.headers:
            data = (capture.status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in capture.headers)).encode(
                "latin-1", "replace")
        elif args.raw:
            data = capture.payload
        else:
            data = capture.decoded()
    except NotArchived as e:
        raise CliError(str(e)) from None
    except (DecodeError, StorageError) as e:
        raise CliError(f"{args.url}: {e}") from None
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    archive = _open_archive(args.archive, sync=False)
    stats = archive.rebuild_index(workers=args.workers)
    print(f"indexed {stats['entries']} records from {stats['files']} WARC files in {args.archive}")
    return EXIT_OK


def cmd_upload(args: argparse.Namespace) -> int:
    from crawler.archive.archive import Archive
    from crawler.archive.storage import StorageConfigError, StorageError

    try:
        archive = Archive.open(args.archive, spool_dir=args.spool or os.environ.get("ARCHIVE_SPOOL") or None)
        archive.storage.check()
        report = archive.recover_spool()
    except StorageConfigError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    except StorageError as e:
        raise CliError(f"upload stopped: {e}; what is not stored stays in the spool") from None
    print(f"stored {len(report.published)} WARC files from {archive.spool_dir}"
          + (f" ({report.dropped_bytes} bytes of torn records dropped)" if report.dropped_bytes else ""))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from crawler.archive.verify import verify

    archive = _open_archive(args.archive)
    report = verify(archive)
    for problem in report.problems:
        print(problem)
    print(f"verified {report.files} WARC files, {report.records} records, {report.entries} index entries: "
          f"{len(report.problems)} problems")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_replay(args: argparse.Namespace) -> int:
    from crawler.archive.storage import StorageError
    from crawler.replay import ReplayError, run_replay

    try:
        return run_replay(args.archive, args.host, args.port, venv=args.pywb_venv)
    except (ReplayError, StorageError) as e:
        raise CliError(str(e), EXIT_USAGE if "not found" in str(e).lower() else EXIT_FAILED) from None


def cmd_dups(args: argparse.Namespace) -> int:
    from crawler.dedup.commands import find_duplicates

    archive = _open_archive(args.archive, sync=False)
    dups = find_duplicates(_dedup_catalog(archive), args.url)
    if not dups:
        raise CliError(f"no duplicates known for {args.url}")
    for d in dups:
        when = d.get('captured') or d.get('timestamp') or '-'
        print(f"{d.get('kind', '-'):20} {float(d.get('score') or 0):.3f} {when} {d.get('url')}")
    return EXIT_OK


def cmd_dedup(args: argparse.Namespace) -> int:
    from crawler.dedup.commands import rebuild_from_warcs

    archive = _open_archive(args.archive, sync=False)
    stats = rebuild_from_warcs(archive.storage, _dedup_catalog(archive))
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from crawler.dedup.report import write_report

    archive = _open_archive(args.archive, sync=False)
    write_report(_dedup_catalog(archive), args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def _dedup_catalog(archive) -> Path:
    return archive.state_dir / "dedup.sqlite3"


COMMANDS = {
    "crawl": cmd_crawl,
    "list": cmd_list,
    "get": cmd_get,
    "index": cmd_index,
    "upload": cmd_upload,
    "verify": cmd_verify,
    "replay": cmd_replay,
    "dups": cmd_dups,
    "dedup": cmd_dedup,
    "report": cmd_report,
}
