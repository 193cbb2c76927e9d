"""The `newsarchive` command: argv -> settings -> library call. One exit point, one clear line on error.

Every command takes ``--profile`` and ``-s NAME=VALUE`` and builds its objects through
`crawler.config` from the same settings stack as a crawl. Errors are `NewsarchiveError`s
(`crawler.errors`), caught once in `main`.

Exit codes: 0 done; 1 failed, nothing found, or interrupted; 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from crawler.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError, Interrupted, NewsarchiveError
from crawler.shutdown import interruptible


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsarchive", description="Archive security-news sites into WARC files.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--archive", default=None, metavar="URI",
                        help="archive folder or s3://bucket/prefix (default: the ARCHIVE_URI setting, ./archive)")
    common.add_argument("--profile", default=None,
                        help="settings profile: a name in the project's settings/profiles/ or a .toml path")
    common.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting (repeatable)")

    def command(name: str, help: str, parent: argparse._SubParsersAction = sub) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=help, parents=[common])

    c = command("crawl", "crawl the sources into the archive")
    c.add_argument("--sources", default=None, help="sources file (default: the project's settings/sources.toml)")
    c.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    c.add_argument("-O", "--output", default=None, help="write article items to this feed (e.g. articles.jsonl)")
    c.add_argument("--log-level", default=None, help="CRITICAL, ERROR, WARNING, INFO or DEBUG")
    c.add_argument("--stats-out", default=None, metavar="FILE", help="write the crawl's stats as JSON")
    c.add_argument("--resume", action="store_true",
                   help="continue the interrupted crawl of these sources: what it archived is not fetched again")
    c.add_argument("--worker", action="store_true",
                   help="one worker of a crawl shared through Redis (REDIS_URL): run it on each machine")
    c.add_argument("--allow-partial", action="store_true",
                   help="exit 0 even if some source fetched nothing but errors (a site down)")

    sc = command("schedule", "run every source on its schedule (cron syntax in sources.toml) until SIGTERM")
    sc.add_argument("--sources", default=None, help="sources file (default: the project's settings/sources.toml)")
    sc.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    st = command("status", "per source: last run, next run, pages, articles, bytes, errors")
    st.add_argument("--sources", default=None, help="sources file (default: the project's settings/sources.toml)")

    l = command("list", "list every capture of a URL")
    l.add_argument("url")

    g = command("get", "print an archived page")
    g.add_argument("url")
    g.add_argument("--at", default=None, metavar="TIMESTAMP", help="capture closest to this time (YYYYmmddHHMMSS)")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--raw", action="store_true", help="payload as received (still Content-Encoded)")
    mode.add_argument("--headers", action="store_true", help="status line and headers only")
    g.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")

    i = sub.add_parser("index", help="the capture index")
    isub = i.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    r = command("rebuild", "rebuild the CDXJ sidecars and the catalog from the WARCs alone", isub)
    r.add_argument("--workers", type=int, default=4)

    up = command("upload", "store WARCs left in the spool by an interrupted or offline run")
    up.add_argument("--spool", default=None, help="spool folder (default: the archive's)")

    command("verify", "check every WARC and index entry; exit 1 on any problem")

    rp = command("replay", "serve the archive with pywb (own venv) on 127.0.0.1")
    rp.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    rp.add_argument("--port", type=int, default=8080)
    rp.add_argument("--pywb-venv", default=None, help="pywb's venv (default $PYWB_VENV or ./.venv-pywb)")

    d = command("dups", "list an article's near-duplicates")
    d.add_argument("url")
    dd = sub.add_parser("dedup", help="near-duplicate state")
    ddsub = dd.add_subparsers(dest="dedup_command", required=True, metavar="ACTION")
    command("rebuild", "rebuild the article catalog from the WARC metadata records", ddsub)
    du = command("update", "catch the article catalog up with the archive once: replay other runs' metadata "
                 "records, analyse articles archived without one", ddsub)
    du.add_argument("--sources", default=None, help="sources file (default: the project's settings/sources.toml)")
    df = command("follow", "catch up every --interval seconds until SIGTERM (one consumer for several workers)",
                 ddsub)
    df.add_argument("--sources", default=None, help="sources file (default: the project's settings/sources.toml)")
    df.add_argument("--interval", type=float, default=60.0, metavar="S", help="seconds between passes (default 60)")
    ex = command("export", "package the archive for other tools (WACZ for ReplayWeb.page)")
    ex.add_argument("--wacz", metavar="OUT.wacz", help="write a WACZ 1.1.1 package")
    ex.add_argument("--since", help="only articles captured at or after this date/time (2026-11-30)")
    ex.add_argument("--until", help="only articles captured at or before this date/time")
    ex.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    ex.add_argument("--text", action="store_true", help="put each article's extracted text in pages.jsonl")
    rep = command("report", "write the editors' report of near-duplicate clusters (HTML, CSV or JSON)")
    rep.add_argument("-o", "--output", default="report.html", help="output file (its suffix sets the format)")
    from crawler.report.cli import add_report_arguments, add_serve_arguments

    add_report_arguments(rep)
    add_serve_arguments(command("serve", "the editors' web app over the archive (search, captures, report, status)"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed the usage line
        return EXIT_USAGE if e.code else EXIT_OK
    if args.command != "crawl":  # a crawl logs through Scrapy's own handler
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # warcio writes its warnings about damaged records straight to stderr, several lines each:
    # held back here, and said once in one line when the command succeeds anyway (a failing
    # command's own line already points at `newsarchive verify`). A crawl logs through Scrapy.
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held) if args.command != "crawl" else contextlib.nullcontext():
            code = COMMANDS[args.command](args)
    except NewsarchiveError as e:
        print(f"newsarchive: {_one_line(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("newsarchive: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK
    if held.getvalue().strip():
        first = held.getvalue().strip().splitlines()[0].strip()
        print(f"newsarchive: warning: the WARC reader found damaged records ({first}); "
              "`newsarchive verify` lists them", file=sys.stderr)
    return code


def _one_line(e: BaseException) -> str:
    return " ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__


def _settings(args: argparse.Namespace, **values):
    from crawler.config import load_settings

    return load_settings(profile=args.profile, overrides=args.set, archive=args.archive, **values)


def _output_file(path: str | None, option: str) -> Path | None:
    """A file the command will write: its folder must exist (checked before any work)."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{option} {path}: is a folder, expected a file name")
    if not out.absolute().parent.is_dir():
        raise ConfigError(f"{option} {path}: folder {out.absolute().parent} does not exist")
    return out


# -- commands ------------------------------------------------------------------------------
@interruptible  # SIGINT/SIGTERM at any moment: exit 1, "newsarchive: interrupted ..."
def cmd_crawl(args: argparse.Namespace) -> int:
    from crawler import resume
    from crawler.runner import run_crawl

    stats_out = _output_file(args.stats_out, "--stats-out")
    settings = _settings(args, sources=args.sources, only=args.source, output=args.output, log_level=args.log_level)
    if args.worker:  # crawler/workers.py: the frontier is in Redis, which is also how a worker resumes
        if args.resume:
            raise ConfigError("--worker and --resume: a worker continues the shared crawl in Redis by itself")
        settings.set("NEWSARCHIVE_WORKER", True, priority="cmdline")
    jobs: list[resume.Job] = []
    # a worker's stats are its share: a source the other workers fetched is not a dead source here
    result = run_crawl(settings, allow_partial=args.allow_partial or args.worker,
                       after_preflight=lambda: jobs.append(resume.start(settings, resume=args.resume)),
                       on_interrupted=lambda partial: print(partial.summary(), flush=True))
    if jobs and resume.ended(result.stats):
        resume.finish(jobs[0])
    if stats_out is not None:
        stats_out.write_text(json.dumps(result.stats, default=str, indent=1, sort_keys=True))
    print(result.summary())
    _crawl_catchup(settings)
    if not result.ok:
        raise NewsarchiveError(result.problem)
    return EXIT_OK


#: How long a crawl's end waits for another catch-up of its catalog (a crawl of another source
#: that ended just before) before leaving the work to the next one.
CRAWL_CATCHUP_WAIT = 30.0


def _crawl_catchup(settings) -> None:
    """After the crawl, its WARCs stored: the articles it archived without analysing them (deferred,
    or left by a crashed earlier run, or another worker's) are caught up from storage. Optional work:
    a failure is one warning line, and the crawl's own outcome stands."""
    from crawler.catchup import catch_up, dedup_enabled
    from crawler.config import archive_from_settings

    if not dedup_enabled(settings):
        return
    try:
        # Two scheduled crawls ending together: the second waits for the first one's catch-up.
        counts = catch_up(settings, archive_from_settings(settings), wait=CRAWL_CATCHUP_WAIT)
    except Interrupted:
        raise
    except NewsarchiveError as e:
        print(f"newsarchive: warning: dedup catch-up not done ({_one_line(e)}); "
              "`newsarchive dedup update` does it later", file=sys.stderr)
        return
    print(f"dedup catch-up: {counts.line()}")


def cmd_schedule(args: argparse.Namespace) -> int:
    from crawler.schedule import run_schedule

    logging.getLogger("crawler.schedule").setLevel(logging.INFO)
    return run_schedule(_settings(args, sources=args.sources, only=args.source), profile=args.profile,
                        overrides=args.set)


def cmd_status(args: argparse.Namespace) -> int:
    from crawler.schedule import status_lines

    print("\n".join(status_lines(_settings(args, sources=args.sources))))
    return EXIT_OK


def _archive(settings, *, sync: bool = True):
    """The existing archive the command reads; with ``sync``, its catalog first brought up to date."""
    from crawler.config import archive_from_settings

    archive = archive_from_settings(settings)
    if sync:
        archive.sync_catalog()
    return archive


def cmd_list(args: argparse.Namespace) -> int:
    from crawler.archive.retrieve import NotArchived, list_captures

    archive = _archive(_settings(args))
    entries = list_captures(archive, args.url)
    if not entries:
        raise NotArchived(f"no captures of {args.url} in {archive.storage.uri}")
    for e in entries:
        kind = "revisit" if e.rec_type == "revisit" else "response"
        print(f"{e.timestamp} {e.status or '-'} {kind:8} {e.mime or '-'} {e.length:>9} {e.url} {e.filename}:{e.offset}")
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    from crawler.archive.retrieve import get_capture, parse_at

    try:
        at = parse_at(args.at) if args.at else None
    except ValueError as e:
        raise ConfigError(str(e)) from None
    output = _output_file(args.output, "-o")
    capture = get_capture(_archive(_settings(args)), args.url, at)
    if args.headers:
        data = (capture.status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in capture.headers)).encode(
            "latin-1", "replace")
    elif args.raw:
        data = capture.payload
    else:
        data = capture.decoded()
    if output is not None:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def _require_warcs(archive, action: str) -> list[str]:
    names = archive.warc_names()
    if not names:
        raise NewsarchiveError(f"no WARC files in the archive {archive.storage.uri}: {action}")
    return names


def cmd_index(args: argparse.Namespace) -> int:
    archive = _archive(_settings(args), sync=False)
    _require_warcs(archive, "nothing to index")
    stats = archive.rebuild_index(workers=args.workers)
    print(f"indexed {stats['entries']} records from {stats['files']} WARC files in {archive.storage.uri}")
    return EXIT_OK


def cmd_upload(args: argparse.Namespace) -> int:
    from crawler.archive.storage import StorageError
    from crawler.archive.writer import WARC_SUFFIX
    from crawler.config import archive_from_settings, spool_dir

    settings = _settings(args)
    if args.spool:
        settings.set("ARCHIVE_SPOOL", args.spool, priority="cmdline")
    spool = spool_dir(settings)
    if not spool.is_dir():
        raise NewsarchiveError(f"no spool folder at {spool}: nothing to upload")
    if not any(spool.glob(f"*{WARC_SUFFIX}*")):
        print(f"nothing to upload in {spool}")
        return EXIT_OK
    archive = archive_from_settings(settings, create=True)
    archive.storage.check()
    try:
        report = archive.recover_spool()
    except StorageError as e:
        if isinstance(e, ConfigError):
            raise
        raise StorageError(f"upload stopped: {e}; what is not stored stays in {spool}") from e
    print(f"stored {len(report.published)} WARC files from {archive.spool_dir}"
          + (f" ({report.dropped_bytes} bytes of torn records dropped)" if report.dropped_bytes else ""))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from crawler.archive.verify import verify
    from crawler.archive.warcscan import UnreadableWarc

    archive = _archive(_settings(args), sync=False)
    try:
        archive.sync_catalog()
    except UnreadableWarc:
        pass  # verify names the damage, file by file
    report = verify(archive)
    for problem in report.problems:
        print(problem)
    print(f"verified {report.files} WARC files, {report.records} records, {report.entries} index entries: "
          f"{len(report.problems)} problems")
    if not report.files:
        raise NewsarchiveError(f"no WARC files in the archive {archive.storage.uri}: nothing verified")
    if not report.ok:
        raise NewsarchiveError(f"{len(report.problems)} problems in the archive {archive.storage.uri} (listed above)")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from crawler.archive.storage import is_remote
    from crawler.config import aws_environment
    from crawler.replay import run_replay

    settings = _settings(args)
    archive = _archive(settings, sync=False)
    uri = archive.storage.uri
    remote = is_remote(uri)
    return run_replay(uri, args.host, args.port, venv=args.pywb_venv, storage=archive.storage if remote else None,
                      env=aws_environment(settings) if remote else None)


def _dedup_catalog(settings) -> Path:
    """The dedup catalog, which must exist: a missing archive and a missing catalog are told apart."""
    from crawler.config import dedup_catalog_path, existing_dedup_catalog, require_archive, storage_from_settings

    if not dedup_catalog_path(settings).is_file():
        require_archive(storage_from_settings(settings))
    return existing_dedup_catalog(settings)


def cmd_dups(args: argparse.Namespace) -> int:
    from crawler.dedup.detector import find_related
    from crawler.dedup.store import ArticleStore

    with ArticleStore.open_existing(_dedup_catalog(_settings(args))) as store:
        dups = find_related(store, args.url)
    if not dups:
        raise NewsarchiveError(f"no duplicates known for {args.url}")
    for m in dups:
        print(f"{m.kind:20} {m.score:.3f} {m.captured or '-'} {m.url}")
        if m.explain():
            print(f"    {m.basis}: {m.explain()}")
    return EXIT_OK


def cmd_dedup(args: argparse.Namespace) -> int:
    if args.dedup_command == "rebuild":
        return _dedup_rebuild(args)
    from crawler.catchup import CatchupCounts, StopSignals, catch_up, follow
    from crawler.config import dedup_catalog_path

    if args.dedup_command == "follow" and args.interval <= 0:
        raise ConfigError(f"--interval {args.interval:g}: expected a number of seconds above 0")
    settings = _settings(args, sources=args.sources)
    archive = _archive(settings, sync=False)
    catalog = dedup_catalog_path(settings)
    if not catalog.parent.is_dir() and settings.get("DEDUP_CATALOG"):
        raise ConfigError(f"DEDUP_CATALOG {catalog}: folder {catalog.parent} does not exist")
    with StopSignals() as stop:
        if args.dedup_command == "update":
            print(catch_up(settings, archive, stop=stop).line())
            if stop():
                raise Interrupted(f"interrupted by {stop.name}: the catch-up stopped early, what it did is stored; "
                                  "`newsarchive dedup update` continues")
            return EXIT_OK

        def report(counts: CatchupCounts) -> None:
            if counts.warcs_checked or counts.skipped:
                print(counts.line(), flush=True)

        total = follow(settings, archive, interval=args.interval, stop=stop, report=report)
        print(f"stopped by {stop.name}: {total.line()}", flush=True)
    return EXIT_OK


def _dedup_rebuild(args: argparse.Namespace) -> int:
    from crawler.config import dedup_catalog_path, thresholds
    from crawler.rebuild import rebuild_catalog

    settings = _settings(args)
    archive = _archive(settings, sync=False)
    names = _require_warcs(archive, "nothing to rebuild the dedup catalog from")
    catalog = dedup_catalog_path(settings)
    if not catalog.parent.is_dir():
        raise ConfigError(f"DEDUP_CATALOG {catalog}: folder {catalog.parent} does not exist")
    stats = rebuild_catalog(archive, catalog, thresholds(settings))  # a damaged WARC: UnreadableWarc, named
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    if not stats.get("records"):
        raise NewsarchiveError(f"no article metadata records in the {len(names)} WARC files of "
                               f"{archive.storage.uri} (crawled with DEDUP_ENABLED off?): the dedup catalog is empty")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from crawler.report.cli import run_report

    output = _output_file(args.output, "-o")
    settings = _settings(args)
    catalog = _dedup_catalog(settings)
    return run_report(args, output, _archive(settings, sync=False), catalog,
                      replay_url=settings.get("NEWSARCHIVE_REPLAY_URL"))


def cmd_serve(args: argparse.Namespace) -> int:
    from crawler.config import aws_environment, dedup_catalog_path
    from crawler.web.serve import run_serve

    settings = _settings(args)
    archive = _archive(settings, sync=False)
    return run_serve(args, archive, dedup_catalog_path(settings), replay_env=aws_environment(settings),
                     token=settings.get("NEWSARCHIVE_TOKEN"), replay_url=settings.get("NEWSARCHIVE_REPLAY_URL"))


def cmd_export(args: argparse.Namespace) -> int:
    from crawler.export.wacz import Selection, export_wacz, parse_span

    if not args.wacz:
        raise ConfigError("export wants --wacz OUT.wacz")
    output = _output_file(args.wacz, "--wacz")
    selection = Selection(since=parse_span(args.since, "--since") if args.since else None,
                          until=parse_span(args.until, "--until") if args.until else None,
                          sources=tuple(args.source))
    report = export_wacz(_archive(_settings(args)), output, selection=selection, text=args.text)
    print(f"wrote {args.wacz}: {report.pages} article pages, {report.records} records from {report.warcs} "
          f"WARC files, {report.size} bytes")
    return EXIT_OK


COMMANDS = {
    "crawl": cmd_crawl,
    "schedule": cmd_schedule,
    "status": cmd_status,
    "list": cmd_list,
    "get": cmd_get,
    "index": cmd_index,
    "upload": cmd_upload,
    "verify": cmd_verify,
    "replay": cmd_replay,
    "dups": cmd_dups,
    "dedup": cmd_dedup,
    "report": cmd_report,
    "export": cmd_export,
    "serve": cmd_serve,
}
