"""Benchmark a whole crawl against its peers in one run: ``python bench/crawl.py [--pages 2000]``.

Starts the bench site once (bench/site.py: N pages of 40-80 KB, one in
four gzip-encoded, 50 per listing) on a free loopback port and crawls it with:

1. ``newsarchive crawl`` with archiving on (the product), into a fresh temporary archive;
2. the same command with ``ARCHIVE_ENABLED=False`` (the same spider on bare Scrapy);
3. ``newsarchive crawl`` with the dedup pipeline on, when ``crawler.pipelines.dedup`` exists;
4. ``wget --recursive --warc-file`` (the reference archiving crawler), when wget is installed.

Modes 1-2 run with ``ITEM_PIPELINES={}``: they measure crawling and archiving only. Every Scrapy
mode uses 16 concurrent requests (16 per domain). Each row gives wall time of the whole command
(interpreter start-up and the archive's final publishing included), responses per second,
MB/s (10^6 bytes of HTTP responses, headers and body as received: Scrapy's
``downloader/response_bytes``, or the WARC response record blocks for wget) and the peak RSS
of the process tree, sampled every 50 ms with psutil. CPU seconds (user + sys of the tree,
from getrusage) and responses per CPU second are shown too: the machine is shared, and CPU per
page moves less than wall time when other work competes for the cores. With ``--repeat N`` the modes run in
alternating order and rows show medians (peak RSS: the maximum). The archive of every
archiving run is checked: one response or revisit record per response received, and
``warcio check`` passes. A command that runs longer than ``--timeout`` is killed and reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.site import BENCH_PER_LIST, BenchServer  # noqa: E402

MB = 1_000_000
RSS_POLL_SECONDS = 0.05
CONCURRENCY = 16
TARGET_ARCHIVE_RATIO = 0.90
TARGET_PEAK_RSS_MB = 300
PROFILE = ROOT / "settings" / "profiles" / "test.toml"
BIN = Path(sys.executable).parent


# -- one measured command ---------------------------------------------------------------------
@dataclass
class Run:
    wall: float = 0.0
    cpu: float = 0.0  # user + sys seconds of the whole process tree
    peak_rss: int = 0
    returncode: int | None = None
    timed_out: bool = False
    stderr_tail: str = ""


class PeakRss:
    """Polls a process and all its descendants; keeps the largest sum of their RSS."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="rss-poll", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(RSS_POLL_SECONDS)


def run_measured(cmd: list[str], cwd: Path, log_dir: Path, timeout: float, env: dict[str, str]) -> Run:
    run = Run()
    out_path, err_path = log_dir / "stdout.log", log_dir / "stderr.log"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env, start_new_session=True)
        with PeakRss(proc.pid) as rss:
            try:
                run.returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        run.wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        run.peak_rss = rss.peak
    tail = err_path.read_text(errors="replace").strip().splitlines()[-5:]
    run.stderr_tail = "\n".join(tail)
    return run


# -- the site and its server ----------------------------------------------------------------
def server_hits(server: BenchServer, reset: bool = False) -> int:
    with urllib.request.urlopen(server.url("/__reset" if reset else "/__hits"), timeout=10) as r:
        data = json.load(r)
    return 0 if reset else sum(data.values())


def write_sources(path: Path, server: BenchServer) -> None:
    path.write_text(
        "[[source]]\n"
        'name = "bench"\n'
        'lang = "en"\n'
        f'start_urls = ["{server.url("/")}"]\n'
        f'allowed_domains = ["{server.host}"]\n'
        "article_pattern = '/p/\\d+$'\n"
        "max_depth = 10\n"
        "max_pages = 100000\n",
        encoding="utf-8",
    )


# -- modes -------------------------------------------------------------------------------------
@dataclass
class Result:
    mode: str
    run: Run
    responses: int = 0
    response_bytes: int = 0
    server_hits: int = 0
    problem: str = ""
    checks: list[str] = field(default_factory=list)
    checks_ok: bool = True


@dataclass
class Mode:
    key: str
    label: str
    kind: str  # "scrapy" or "wget"
    settings: dict[str, str] = field(default_factory=dict)
    archives: bool = False


def crawler_command() -> list[str]:
    script = BIN / "newsarchive"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crawler"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("ARCHIVE_URI", "ARCHIVE_SPOOL", "ARCHIVE_CACHE_DIR", "NEWSARCHIVE_SOURCES", "LOG_LEVEL"):
        env.pop(name, None)  # the bench decides where everything goes
    return env


def run_scrapy(mode: Mode, ctx: Context) -> Result:
    work = Path(tempfile.mkdtemp(prefix=f"bench-crawl-{mode.key}-"))
    try:
        archive, stats_path = work / "archive", work / "stats.json"
        cmd = crawler_command() + [
            "crawl", "--sources", str(ctx.sources), "--archive", str(archive),
            "--profile", str(PROFILE), "--stats-out", str(stats_path),
        ]
        settings = {
            "LOG_LEVEL": "WARNING",
            "CONCURRENT_REQUESTS": str(CONCURRENCY),
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(CONCURRENCY),
            "TRAP_MAX_PAGES_PER_SOURCE": str(ctx.args.pages * 2 + 100),
            **mode.settings,
        }
        for name, value in settings.items():
            cmd += ["-s", f"{name}={value}"]
        server_hits(ctx.server, reset=True)
        run = run_measured(cmd, ROOT, work, ctx.args.timeout, child_env())
        result = Result(mode.label, run, server_hits=server_hits(ctx.server))
        if run.timed_out:
            result.problem = f"killed after {ctx.args.timeout:.0f} s"
            return result
        if not stats_path.exists():
            result.problem = f"exit {run.returncode}, no stats: {run.stderr_tail or '(no stderr)'}"
            return result
        stats = json.loads(stats_path.read_text())
        result.responses = int(stats.get("response_received_count", 0))
        result.response_bytes = int(stats.get("downloader/response_bytes", 0))
        if run.returncode != 0 or stats.get("finish_reason") != "finished":
            result.problem = f"exit {run.returncode}, finish_reason {stats.get('finish_reason')}"
        if mode.archives:
            verify_archive(archive, stats, result)
        if "dedup/articles" in stats or "dedup/deferred" in stats:
            # the crawl never waits for the dedup process: what it analysed vs left to a catch-up
            result.checks.append(f"dedup: {stats.get('dedup/articles', 0)} articles analysed during the crawl, "
                                 f"{stats.get('dedup/deferred', 0)} deferred, "
                                 f"{stats.get('dedup/extract_failures', 0)} without main text")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def verify_archive(archive: Path, stats: dict, result: Result) -> None:
    warcs = sorted((archive / "warcs").rglob("*.warc.gz"))
    leftovers = sorted(p.name for p in (archive / "spool").glob("*")) if (archive / "spool").is_dir() else []
    counts: dict[str, int] = {}
    for path in warcs:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                counts[record.rec_type] = counts.get(record.rec_type, 0) + 1
    captured = counts.get("response", 0) + counts.get("revisit", 0)
    received = int(stats.get("response_received_count", 0))
    complete = captured == received and not leftovers
    result.checks.append(
        f"records: {counts.get('response', 0)} response + {counts.get('revisit', 0)} revisit"
        f" = {captured} vs {received} responses received, in {len(warcs)} WARC(s)"
        f"{', spool leftovers: ' + ', '.join(leftovers) if leftovers else ''}"
        f", write errors {stats.get('archive/write_errors', 0)} -> {'PASS' if complete else 'FAIL'}"
    )
    check = subprocess.run([str(BIN / "warcio"), "check", *map(str, warcs)], capture_output=True, text=True)
    passed = check.returncode == 0 and bool(warcs)
    detail = "" if passed else f" ({(check.stdout + check.stderr).strip().splitlines()[-1:] or 'no WARCs'})"
    result.checks.append(f"warcio check on {len(warcs)} WARC(s): {'PASS' if passed else 'FAIL'}{detail}")
    result.checks_ok = complete and passed


def run_wget(mode: Mode, ctx: Context) -> Result:
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-wget-"))
    try:
        cmd = [
            ctx.wget, "--recursive", "--level=inf", "--no-parent", "--no-verbose", "--delete-after",
            "-P", str(work / "files"), f"--warc-file={work / 'crawl'}",
        ]
        if ctx.wget_compression:  # decode gzip bodies to find their links, as Scrapy does
            cmd.append("--compression=auto")
        cmd.append(ctx.server.url("/"))
        server_hits(ctx.server, reset=True)
        run = run_measured(cmd, work, work, ctx.args.timeout, child_env())
        result = Result(mode.label, run, server_hits=server_hits(ctx.server))
        if run.timed_out:
            result.problem = f"killed after {ctx.args.timeout:.0f} s"
            return result
        if run.returncode != 0:  # wget exits 8 when some request got an error status
            result.problem = f"exit {run.returncode}: {run.stderr_tail.splitlines()[-1:]}"
        for path in sorted(work.glob("crawl*.warc.gz")):
            with open(path, "rb") as f:
                for record in ArchiveIterator(f):
                    if record.rec_type == "response":
                        result.responses += 1
                        result.response_bytes += int(record.rec_headers.get_header("Content-Length") or 0)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Context:
    args: argparse.Namespace
    server: BenchServer
    sources: Path
    wget: str | None
    wget_compression: bool


def dedup_pipeline_available() -> str:
    """Empty when the default ITEM_PIPELINES can be loaded, else why not."""
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    settings = Settings()
    settings.setmodule("crawler.settings")
    for path in settings.getdict("ITEM_PIPELINES"):
        module = path.rsplit(".", 1)[0]
        if importlib.util.find_spec(module) is None:
            return f"{module} does not exist yet"
        try:
            load_object(path)
        except Exception as e:  # noqa: BLE001 - report any import failure as a skip
            return f"{path} does not load: {e}"
    return ""


# -- report --------------------------------------------------------------------------------
@dataclass
class Row:
    label: str
    results: list[Result]

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if not r.problem]

    def median(self, fn) -> float:
        values = [fn(r) for r in self.ok]
        return statistics.median(values) if values else float("nan")

    @property
    def wall(self) -> float:
        return self.median(lambda r: r.run.wall)

    @property
    def pages_per_s(self) -> float:
        return self.median(lambda r: r.responses / r.run.wall)

    @property
    def cpu(self) -> float:
        return self.median(lambda r: r.run.cpu)

    @property
    def pages_per_cpu_s(self) -> float:
        return self.median(lambda r: r.responses / r.run.cpu if r.run.cpu else float("nan"))

    @property
    def mb_per_s(self) -> float:
        return self.median(lambda r: r.response_bytes / MB / r.run.wall)

    @property
    def peak_rss_mb(self) -> float:
        return max((r.run.peak_rss for r in self.ok), default=0) / 2**20


def print_report(rows: dict[str, Row], notes: list[str], args: argparse.Namespace) -> bool:
    print()
    print(f"{'mode':<34} {'wall s':>7} {'CPU s':>6} {'responses':>9} {'hits':>6} {'pages/s':>8}"
          f" {'pages/CPU-s':>11} {'MB/s':>7} {'peak RSS MB':>11}")
    for row in rows.values():
        for problem in {r.problem for r in row.results if r.problem}:
            print(f"{row.label:<34} FAILED: {problem}")
        if not row.ok:
            continue
        r0 = row.ok[0]
        print(f"{row.label:<34} {row.wall:7.2f} {row.cpu:6.2f} {r0.responses:9d} {r0.server_hits:6d}"
              f" {row.pages_per_s:8.1f} {row.pages_per_cpu_s:11.1f} {row.mb_per_s:7.2f} {row.peak_rss_mb:11.1f}")
    for note in notes:
        print(f"  note: {note}")

    print()
    ok = True

    def ratio(a: str, b: str) -> float | None:
        if a in rows and b in rows and rows[a].ok and rows[b].ok:
            return rows[a].pages_per_s / rows[b].pages_per_s
        return None

    r = ratio("archive", "bare")
    if r is not None:
        verdict = "PASS" if r >= TARGET_ARCHIVE_RATIO else "FAIL"
        ok &= r >= TARGET_ARCHIVE_RATIO
        print(f"archiving throughput / bare Scrapy:  {r:.3f}  (target >= {TARGET_ARCHIVE_RATIO:.2f}) {verdict}")
        cpu = rows["bare"].pages_per_cpu_s and rows["archive"].pages_per_cpu_s / rows["bare"].pages_per_cpu_s
        print(f"  same, per CPU second:              {cpu:.3f}  (less sensitive to other load on the machine)")
    r = ratio("dedup", "archive")
    if r is not None:
        print(f"with dedup pipeline / archiving:     {r:.3f}")
    r = ratio("archive", "wget")
    if r is not None:
        print(f"newsarchive / wget:                  {r:.3f}")
    if "archive" in rows and rows["archive"].ok:
        rss = rows["archive"].peak_rss_mb
        ok &= rss < TARGET_PEAK_RSS_MB
        print(f"newsarchive peak RSS:                {rss:.1f} MB  (target < {TARGET_PEAK_RSS_MB} MB)"
              f" {'PASS' if rss < TARGET_PEAK_RSS_MB else 'FAIL'}")

    for key in ("archive", "dedup"):
        if key not in rows:
            continue
        print(f"\narchive check, {rows[key].label}:")
        for i, result in enumerate(rows[key].results, 1):
            prefix = f"  run {i}: " if len(rows[key].results) > 1 else "  "
            for line in result.checks or [f"not checked: {result.problem}"]:
                print(prefix + line)
            ok &= result.checks_ok and not result.problem
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=2000, help="pages in the generated site (default 2000)")
    p.add_argument("--repeat", type=int, default=1, help="rounds; the modes alternate order (default 1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before a crawl is killed (default 600)")
    p.add_argument("--no-dedup", action="store_true", help="skip the crawl with the dedup pipeline on (the slow one)")
    args = p.parse_args(argv)

    notes: list[str] = []
    modes = [
        Mode("archive", "newsarchive crawl (archiving on)", "scrapy", {"ITEM_PIPELINES": "{}"}, archives=True),
        Mode("bare", "same spider, ARCHIVE_ENABLED=False", "scrapy",
             {"ITEM_PIPELINES": "{}", "ARCHIVE_ENABLED": "False"}),
    ]
    why_not = "--no-dedup" if args.no_dedup else dedup_pipeline_available()
    if why_not:
        notes.append(f"skipped 'archiving + dedup pipeline': {why_not}")
    else:
        modes.append(Mode("dedup", "archiving + dedup pipeline", "scrapy", archives=True))
    wget = shutil.which("wget")
    wget_compression = False
    if wget:
        modes.append(Mode("wget", "wget --recursive --warc-file", "wget"))
        help_text = subprocess.run([wget, "--help"], capture_output=True, text=True).stdout
        wget_compression = "--compression" in help_text
    else:
        notes.append("skipped wget: not installed (apt-get install -y wget)")

    lists = -(-args.pages // BENCH_PER_LIST)
    print(f"bench site: {args.pages} pages + {lists} listings + / + robots.txt = {args.pages + lists + 2} URLs,"
          f" seed {args.seed}; {args.repeat} round(s); Scrapy at {CONCURRENCY}/{CONCURRENCY} concurrency;"
          f" {os.cpu_count()} CPUs")
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        started = time.perf_counter()
        with BenchServer(pages=args.pages, seed=args.seed) as server:
            print(f"server {server.base_url} ready in {time.perf_counter() - started:.1f} s", flush=True)
            ctx = Context(args, server, work / "sources.toml", wget, wget_compression)
            write_sources(ctx.sources, server)
            rows = {m.key: Row(m.label, []) for m in modes}
            for round_no in range(args.repeat):
                order = modes if round_no % 2 == 0 else modes[::-1]
                for mode in order:
                    runner = run_scrapy if mode.kind == "scrapy" else run_wget
                    result = runner(mode, ctx)
                    status = result.problem or f"{result.responses} responses"
                    print(f"  round {round_no + 1}: {mode.label}: {result.run.wall:.2f} s, {status}", flush=True)
                    rows[mode.key].results.append(result)
        ok = print_report(rows, notes, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
