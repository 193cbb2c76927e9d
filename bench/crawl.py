"""Benchmark a whole crawl against its peers in one run: ``python bench/crawl.py --corpus ../shared/corpus``.

Two sites, each started once on a free loopback port (``--site realistic|stress``, default both):

- realistic (bench/news_site.py): ``--pages`` corpus articles in Chinese and English rendered as
  real-sized news pages (60-120 KB of HTML with 10-20 KB of article text, nav, sidebar, comments,
  inline style and script; three outlet templates per language), listings with pagination, topic
  pages and a feed, all gzip-encoded: what users crawl. Needs ``--corpus`` (read at start, never copied).
- stress (bench/site.py): ``--pages`` pages of 40-80 KB of word-list prose, one in four
  gzip-encoded, 50 per listing: a worst case for text handling.

Each site is crawled with:

1. ``newsarchive crawl`` with ``ARCHIVE_ENABLED=False`` and ``ITEM_PIPELINES={}`` (bare: the same
   spider on bare Scrapy);
2. the same with archiving on, into a fresh temporary archive;
3. archiving + dedup: the command as users run it (default pipelines), when
   ``crawler.pipelines.dedup`` loads; its dedup catalog goes to the run's temporary folder;
4. ``wget --recursive --warc-file`` (the reference archiving crawler), when wget is installed.

Every Scrapy mode uses 16 concurrent requests (16 per domain). Each row gives wall time of the whole
command until the process exits (interpreter start-up, the archive's final publishing and any
post-crawl dedup catch-up included), responses per second, MB/s (10^6 bytes of HTTP responses,
headers and body as received: Scrapy's ``downloader/response_bytes``, or the WARC response record
blocks for wget) and the peak RSS of the process tree (the crawl and every child, such as a dedup
process), sampled every 50 ms with psutil. CPU seconds (user + sys of the tree, from getrusage) and
responses per CPU second are shown too: the machine is shared, and CPU per page moves less than wall
time when other work competes for the cores. With ``--repeat N`` the runs interleave (rounds alternate
the order of the modes) and rows show medians (peak RSS: the maximum).

Every run is checked, not only timed: an archiving run's archive holds one response or revisit
record per response received and a response for every article page of the site, and ``warcio
check`` passes; an archiving + dedup run's catalog holds every article page of the site once the
process has exited (so dedup work still queued when the spider closes counts against it). The
catalog's flags on the realistic site's labelled pairs (corpus groups, and reposts of one article)
are reported for information. A command that runs longer than ``--timeout`` is killed and reported.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import shutil
import signal
import sqlite3
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

from bench.news_site import NewsServer  # noqa: E402
from bench.site import BENCH_PER_LIST, BenchServer  # noqa: E402
from crawler.demo.httpd import ServerProcess  # noqa: E402

MB = 1_000_000
RSS_POLL_SECONDS = 0.05
CONCURRENCY = 16
TARGET_ARCHIVE_RATIO = 0.90
TARGET_PEAK_RSS_MB = 300
#: Archiving + dedup vs bare Scrapy (issue 13): on the realistic site, and on the stress pages.
TARGET_DEDUP_RATIO = {"realistic": 0.80, "stress": 0.50}
#: Peak RSS of the whole crawl with dedup (issue 13, measured on the 2,000-page site).
TARGET_DEDUP_PEAK_RSS_MB = 400
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
    #: Per-process figures from :class:`ProcessSampler` (see there); None when not sampled.
    tree: ProcessSampler | None = None


#: The dedup child's command line names this (crawler/dedup/service.py).
DEDUP_CHILD_MARK = "crawler.dedup.service"


class ProcessSampler:
    """Polls a process and all its descendants every ``RSS_POLL_SECONDS``: the largest sum of their
    RSS, and per role (``crawl``: the command's own process, ``dedup``: the dedup child, ``other``)
    the peak RSS and the last CPU seconds seen. When ``crawl_done`` (a file the crawl writes as its
    crawl ends, before any post-crawl catch-up: ``--stats-out``) appears, it notes the time, the
    crawl process's CPU seconds so far and the tree's peak RSS so far: the crawl phase vs the tail."""

    def __init__(self, pid: int, crawl_done: Path | None = None) -> None:
        self.pid = pid
        self.crawl_done = crawl_done
        self.peak = 0
        self.peak_by_role: dict[str, int] = {}
        self.cpu_by_pid: dict[int, tuple[str, float]] = {}
        self.started = time.perf_counter()
        #: seconds from start, crawl-process CPU seconds and tree peak RSS when ``crawl_done`` appeared
        self.done_at: float | None = None
        self.crawl_cpu_at_done: float | None = None
        self.peak_at_done: int | None = None
        #: per role, the RSS of each at the sample where the tree's total peaked (crawl and tail)
        self.peak_parts: dict[str, int] = {}
        self.tail_peak = 0  # the tree's peak after ``crawl_done`` appeared (the catch-up and exit)
        self.tail_peak_parts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="rss-poll", daemon=True)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_of(self, role: str) -> float:
        return sum(cpu for r, cpu in self.cpu_by_pid.values() if r == role)

    def _role(self, proc: psutil.Process) -> str:
        if proc.pid == self.pid:
            return "crawl"
        try:
            return "dedup" if any(DEDUP_CHILD_MARK in part for part in proc.cmdline()) else "other"
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return "other"

    def _poll(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        roles: dict[int, str] = {}
        while not self._stop.is_set():
            total = 0
            parts: dict[str, int] = {}
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    role = roles.get(proc.pid) or roles.setdefault(proc.pid, self._role(proc))
                    with proc.oneshot():
                        rss = proc.memory_info().rss
                        times = proc.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                parts[role] = parts.get(role, 0) + rss
                self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), rss)
                self.cpu_by_pid[proc.pid] = (role, times.user + times.system)
            if total > self.peak:
                self.peak, self.peak_parts = total, parts
            if self.done_at is not None and total > self.tail_peak:
                self.tail_peak, self.tail_peak_parts = total, parts
            if self.done_at is None and self.crawl_done is not None and self.crawl_done.exists():
                self.done_at = time.perf_counter() - self.started
                self.crawl_cpu_at_done = self.cpu_by_pid.get(self.pid, ("crawl", 0.0))[1]
                self.peak_at_done = self.peak
            self._stop.wait(RSS_POLL_SECONDS)


def run_measured(cmd: list[str], cwd: Path, log_dir: Path, timeout: float, env: dict[str, str],
                 crawl_done: Path | None = None) -> Run:
    run = Run()
    out_path, err_path = log_dir / "stdout.log", log_dir / "stderr.log"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env, start_new_session=True)
        with ProcessSampler(proc.pid, crawl_done) as tree:
            try:
                run.returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        run.wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        run.peak_rss = tree.peak
        run.tree = tree
    tail = err_path.read_text(errors="replace").strip().splitlines()[-5:]
    run.stderr_tail = "\n".join(tail)
    return run


# -- the sites and their servers --------------------------------------------------------------
@dataclass
class Target:
    """One site under test: its running server, a sources file for it, and what it serves."""

    key: str  # "realistic" or "stress"
    server: ServerProcess
    sources: Path
    article_urls: set[str]
    pages: int  # every URL a full crawl fetches (articles, listings, feeds, robots.txt)
    #: (url, url, relation) pairs the catalog should flag (realistic site only)
    labelled_pairs: list[tuple[str, str, str]] = field(default_factory=list)


def server_hits(server: ServerProcess, reset: bool = False) -> int:
    with urllib.request.urlopen(server.url("/__reset" if reset else "/__hits"), timeout=10) as r:
        data = json.load(r)
    return 0 if reset else sum(data.values())


def stress_sources(server: ServerProcess) -> str:
    return (
        "[[source]]\n"
        'name = "bench"\n'
        'lang = "en"\n'
        f'start_urls = ["{server.url("/")}"]\n'
        f'allowed_domains = ["{server.host}"]\n'
        "article_pattern = '/p/\\d+$'\n"
        "max_depth = 10\n"
        "max_pages = 100000\n"
    )


def start_target(key: str, args: argparse.Namespace, stack: contextlib.ExitStack, work: Path) -> Target:
    started = time.perf_counter()
    sources = work / f"sources-{key}.toml"
    if key == "realistic":
        news = stack.enter_context(NewsServer(args.corpus, pages=args.pages, seed=args.seed))
        plan = news.plan
        sources.write_text(plan.sources_toml(news.base_url, news.host), encoding="utf-8")
        url = news.url
        target = Target(key, news, sources, {url(p) for p in plan.article_paths()},
                        len(plan.article_paths()) + len(plan.listing_paths()) + len(plan.feed_paths()) + 1,
                        [(url(a), url(b), rel) for a, b, rel in plan.labelled_pairs()])
        what = (f"{args.pages} article pages ({sum(p.lang == 'zh' for p in plan.articles)} zh) from"
                f" {len(plan.corpus_articles)} corpus articles, {len(plan.listing_paths())} listings,"
                f" 2 feeds")
    else:
        server = stack.enter_context(BenchServer(pages=args.pages, seed=args.seed))
        sources.write_text(stress_sources(server), encoding="utf-8")
        lists = -(-args.pages // BENCH_PER_LIST)
        target = Target(key, server, sources, {server.url(f"/p/{i}") for i in range(args.pages)},
                        args.pages + lists + 2)
        what = f"{args.pages} word-list pages + {lists} listings"
    print(f"{key} site: {what}, {target.pages} URLs; {target.server.base_url} ready in"
          f" {time.perf_counter() - started:.1f} s", flush=True)
    return target


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
    dedup: bool = False


def crawler_command() -> list[str]:
    script = BIN / "newsarchive"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crawler"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("ARCHIVE_URI", "ARCHIVE_SPOOL", "ARCHIVE_CACHE_DIR", "NEWSARCHIVE_SOURCES", "LOG_LEVEL",
                 "DEDUP_CATALOG"):
        env.pop(name, None)  # the bench decides where everything goes
    return env


def run_scrapy(mode: Mode, ctx: Context) -> Result:
    work = Path(tempfile.mkdtemp(prefix=f"bench-crawl-{ctx.target.key}-{mode.key}-"))
    try:
        archive, stats_path, catalog = work / "archive", work / "stats.json", work / "dedup.sqlite3"
        cmd = crawler_command() + [
            "crawl", "--sources", str(ctx.target.sources), "--archive", str(archive),
            "--profile", str(PROFILE), "--stats-out", str(stats_path),
        ]
        settings = {
            "LOG_LEVEL": "WARNING",
            "CONCURRENT_REQUESTS": str(CONCURRENCY),
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(CONCURRENCY),
            "TRAP_MAX_PAGES_PER_SOURCE": str(ctx.target.pages * 2 + 100),
            **({"DEDUP_CATALOG": str(catalog)} if mode.dedup else {}),
            **mode.settings,
        }
        for name, value in settings.items():
            cmd += ["-s", f"{name}={value}"]
        server_hits(ctx.target.server, reset=True)
        run = run_measured(cmd, ROOT, work, ctx.args.timeout, child_env(), crawl_done=stats_path)
        result = Result(mode.label, run, server_hits=server_hits(ctx.target.server))
        if run.timed_out:
            result.problem = (f"killed after {ctx.args.timeout:.0f} s, having fetched {result.server_hits}"
                              f" of {ctx.target.pages} URLs{catalog_progress(catalog, ctx.target) if mode.dedup else ''}")
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
            verify_archive(archive, stats, ctx.target, result)
        if "dedup/articles" in stats or "dedup/deferred" in stats:
            # the crawl never waits for the dedup process: what it analysed vs left to a catch-up
            result.checks.append(f"dedup: {stats.get('dedup/articles', 0)} articles analysed during the crawl "
                                 f"({stats.get('dedup/analysed_after_item', 0)} after their item went on, "
                                 f"{stats.get('dedup/spilled', 0)} of them having waited on disk), "
                                 f"{stats.get('dedup/deferred', 0)} deferred, "
                                 f"{stats.get('dedup/extract_failures', 0)} without main text")
        result.checks.extend(process_lines(run, result.responses, (work / "stdout.log").read_text(errors="replace")))
        if mode.dedup:
            verify_catalog(catalog, ctx.target, result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def process_lines(run: Run, responses: int, stdout: str) -> list[str]:
    """Where the CPU and memory went: the crawl process vs the dedup child, the crawl vs its tail."""
    tree = run.tree
    if tree is None:
        return []
    mib = 2**20
    crawl_total = tree.cpu_of("crawl")
    crawl_cpu = tree.crawl_cpu_at_done if tree.crawl_cpu_at_done is not None else crawl_total
    per_page = f" = {1000 * crawl_cpu / responses:.1f} CPU-ms per response" if responses else ""
    lines = [f"crawl process: {crawl_cpu:.1f} CPU s until its crawl ended{per_page} (start-up included), "
             f"peak RSS {tree.peak_by_role.get('crawl', 0) / mib:.0f} MB"]
    if "dedup" in tree.peak_by_role:
        lines.append(f"dedup process: {tree.cpu_of('dedup'):.1f} CPU s, peak RSS {tree.peak_by_role['dedup'] / mib:.0f} MB;"
                     f" tree peak RSS during the crawl {(tree.peak_at_done or tree.peak) / mib:.0f} MB")
    if tree.done_at is not None:
        catchup = next((line for line in stdout.splitlines() if line.startswith("dedup catch-up:")), "")
        lines.append(f"tail after the crawl (catch-up, exit): {run.wall - tree.done_at:.1f} s wall, "
                     f"{crawl_total - crawl_cpu:.1f} CPU s of the crawl process"
                     f"{'; ' + catchup if catchup else ''}")
        lines.append(f"tree peak RSS in the tail {tree.tail_peak / mib:.0f} MB ({_parts(tree.tail_peak_parts)})")
    lines.append(f"tree peak RSS {tree.peak / mib:.0f} MB was {_parts(tree.peak_parts)}")
    return lines


def _parts(parts: dict[str, int]) -> str:
    """Per-role RSS at one sample: ``crawl 290 + other 130 MB`` (other: the catch-up's pool workers)."""
    return " + ".join(f"{role} {rss / 2**20:.0f}" for role, rss in sorted(parts.items())) + " MB"


def verify_archive(archive: Path, stats: dict, target: Target, result: Result) -> None:
    warcs = sorted((archive / "warcs").rglob("*.warc.gz"))
    # WARC files left unstored (the crawl's spool, and the catch-up's own folder inside it)
    leftovers = sorted(p.name for p in (archive / "spool").rglob("*.warc*") if p.is_file()) if (archive / "spool").is_dir() else []
    counts: dict[str, int] = {}
    archived: set[str] = set()
    for path in warcs:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                counts[record.rec_type] = counts.get(record.rec_type, 0) + 1
                if record.rec_type in ("response", "revisit"):
                    archived.add(record.rec_headers.get_header("WARC-Target-URI") or "")
    captured = counts.get("response", 0) + counts.get("revisit", 0)
    received = int(stats.get("response_received_count", 0))
    complete = captured == received and not leftovers
    result.checks.append(
        f"records: {counts.get('response', 0)} response + {counts.get('revisit', 0)} revisit"
        f" = {captured} vs {received} responses received, in {len(warcs)} WARC(s)"
        f"{', spool leftovers: ' + ', '.join(leftovers) if leftovers else ''}"
        f", write errors {stats.get('archive/write_errors', 0)} -> {'PASS' if complete else 'FAIL'}"
    )
    missing = target.article_urls - archived
    result.checks.append(f"article pages archived: {len(target.article_urls) - len(missing)}"
                         f" of {len(target.article_urls)} -> {'PASS' if not missing else 'FAIL'}"
                         f"{'' if not missing else ' (e.g. ' + min(missing) + ')'}")
    check = subprocess.run([str(BIN / "warcio"), "check", *map(str, warcs)], capture_output=True, text=True)
    passed = check.returncode == 0 and bool(warcs)
    detail = "" if passed else f" ({(check.stdout + check.stderr).strip().splitlines()[-1:] or 'no WARCs'})"
    result.checks.append(f"warcio check on {len(warcs)} WARC(s): {'PASS' if passed else 'FAIL'}{detail}")
    result.checks_ok = result.checks_ok and complete and passed and not missing


def catalog_contents(catalog: Path) -> tuple[set[str], list[tuple[str, str, str]]]:
    """The article URLs of a dedup catalog and its flags as (url, url, kind), read-only."""
    conn = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True)
    try:
        urls = {row[0] for row in conn.execute("SELECT url FROM articles")}
        flags = conn.execute(
            "SELECT a.url, b.url, f.kind FROM flags f JOIN articles a ON a.id = f.a JOIN articles b ON b.id = f.b"
        ).fetchall()
    finally:
        conn.close()
    return urls, flags


def catalog_progress(catalog: Path, target: Target) -> str:
    """How many of the site's articles a (killed) crawl's catalog holds, for the report."""
    try:
        urls, _ = catalog_contents(catalog) if catalog.exists() else (set(), [])
    except sqlite3.Error:
        return ", catalog unreadable"
    return f", {len(urls & target.article_urls)} of {len(target.article_urls)} articles in the dedup catalog"


def verify_catalog(catalog: Path, target: Target, result: Result) -> None:
    """After the crawl process exited: every article page of the site is in the dedup catalog."""
    if not catalog.exists():
        result.checks.append(f"dedup catalog: {catalog.name} was not written -> FAIL")
        result.checks_ok = False
        return
    try:
        urls, flags = catalog_contents(catalog)
    except sqlite3.Error as e:
        result.checks.append(f"dedup catalog unreadable: {e} -> FAIL")
        result.checks_ok = False
        return
    missing = target.article_urls - urls
    result.checks.append(f"articles in the dedup catalog at exit: {len(target.article_urls) - len(missing)}"
                         f" of {len(target.article_urls)} -> {'PASS' if not missing else 'FAIL'}")
    result.checks_ok = result.checks_ok and not missing
    flagged = {frozenset((a, b)) for a, b, _kind in flags}
    by_relation: dict[str, list[int]] = {}
    for a, b, relation in target.labelled_pairs:
        if a in urls and b in urls:
            counts = by_relation.setdefault(relation, [0, 0])
            counts[0] += frozenset((a, b)) in flagged
            counts[1] += 1
    if by_relation:
        shares = ", ".join(f"{rel} {n}/{total}" for rel, (n, total) in sorted(by_relation.items()))
        result.checks.append(f"labelled pairs flagged (information): {shares}; {len(flags)} flags in all")


def run_wget(mode: Mode, ctx: Context) -> Result:
    work = Path(tempfile.mkdtemp(prefix=f"bench-crawl-{ctx.target.key}-wget-"))
    try:
        cmd = [
            ctx.wget, "--recursive", "--level=inf", "--no-parent", "--no-verbose", "--delete-after",
            "-P", str(work / "files"), f"--warc-file={work / 'crawl'}",
        ]
        if ctx.wget_compression:  # decode gzip bodies to find their links, as Scrapy does
            cmd.append("--compression=auto")
        cmd.append(ctx.target.server.url("/"))
        server_hits(ctx.target.server, reset=True)
        run = run_measured(cmd, work, work, ctx.args.timeout, child_env())
        result = Result(mode.label, run, server_hits=server_hits(ctx.target.server))
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
    target: Target
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


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def print_site_report(site: str, rows: dict[str, Row]) -> bool:
    """The table, ratios against bare Scrapy and the checks of one site; False if a target or check failed."""
    print(f"\n== {site} site ==")
    print(f"{'mode':<36} {'wall s':>7} {'CPU s':>6} {'responses':>9} {'hits':>6} {'pages/s':>8}"
          f" {'pages/CPU-s':>11} {'MB/s':>7} {'peak RSS MB':>11}")
    for row in rows.values():
        for problem in {r.problem for r in row.results if r.problem}:
            print(f"{row.label:<36} FAILED: {problem}")
        if not row.ok:
            continue
        r0 = row.ok[0]
        print(f"{row.label:<36} {row.wall:7.2f} {row.cpu:6.2f} {r0.responses:9d} {r0.server_hits:6d}"
              f" {row.pages_per_s:8.1f} {row.pages_per_cpu_s:11.1f} {row.mb_per_s:7.2f} {row.peak_rss_mb:11.1f}")
    print()
    ok = True

    def measured(key: str) -> bool:
        return key in rows and bool(rows[key].ok)

    def ratio_line(key: str, text: str, target: float | None) -> None:
        nonlocal ok
        if not (measured(key) and measured("bare")):
            return
        r = rows[key].pages_per_s / rows["bare"].pages_per_s
        per_cpu = rows[key].pages_per_cpu_s / rows["bare"].pages_per_cpu_s
        goal = f"  (target >= {target:.2f}) {_verdict(r >= target)}" if target is not None else ""
        if target is not None:
            ok &= r >= target
        print(f"{text:<38}{r:.3f}{goal}")
        print(f"{'  same, per CPU second:':<38}{per_cpu:.3f}  (less sensitive to other load on the machine)")

    ratio_line("archive", "archiving / bare Scrapy:", TARGET_ARCHIVE_RATIO)
    ratio_line("dedup", "archiving + dedup / bare Scrapy:", TARGET_DEDUP_RATIO.get(site))
    if measured("dedup") and measured("archive"):
        print(f"{'archiving + dedup / archiving:':<38}{rows['dedup'].pages_per_s / rows['archive'].pages_per_s:.3f}")
    if measured("archive") and measured("wget"):
        print(f"{'newsarchive / wget:':<38}{rows['archive'].pages_per_s / rows['wget'].pages_per_s:.3f}")
    for key, limit in (("archive", TARGET_PEAK_RSS_MB), ("dedup", TARGET_DEDUP_PEAK_RSS_MB)):
        if measured(key):
            rss = rows[key].peak_rss_mb
            ok &= rss < limit
            print(f"{'peak RSS, ' + rows[key].label + ':':<38}{rss:.1f} MB  (target < {limit} MB) {_verdict(rss < limit)}")

    for key in ("bare", "archive", "dedup"):
        if key not in rows:
            continue
        print(f"\nchecks, {rows[key].label}:")
        for i, result in enumerate(rows[key].results, 1):
            prefix = f"  run {i}: " if len(rows[key].results) > 1 else "  "
            for line in result.checks or [f"not checked: {result.problem}"]:
                print(prefix + line)
            ok &= result.checks_ok and not result.problem
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--site", choices=("realistic", "stress", "both"), default="both",
                   help="which site to crawl (default both)")
    p.add_argument("--corpus", type=Path, default=Path("../shared/corpus"),
                   help="the labelled corpus the realistic site renders (default ../shared/corpus)")
    p.add_argument("--pages", type=int, default=2000, help="article pages of each site (default 2000)")
    p.add_argument("--repeat", type=int, default=1, help="rounds; the modes alternate order (default 1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before a crawl is killed (default 1800)")
    p.add_argument("--no-dedup", action="store_true", help="skip the crawls with dedup on (the slow ones)")
    p.add_argument("--modes", default="bare,archive,dedup,wget",
                   help="comma-separated subset of bare,archive,dedup,wget (default all)")
    args = p.parse_args(argv)
    sites = ("realistic", "stress") if args.site == "both" else (args.site,)
    if "realistic" in sites and not (args.corpus / "articles.jsonl").exists():
        p.error(f"the realistic site needs the corpus: no {args.corpus / 'articles.jsonl'} (pass --corpus DIR,"
                " or --site stress)")

    notes: list[str] = []
    modes = [
        Mode("bare", "bare Scrapy (ARCHIVE_ENABLED=False)", "scrapy",
             {"ITEM_PIPELINES": "{}", "ARCHIVE_ENABLED": "False"}),
        Mode("archive", "archiving (ITEM_PIPELINES={})", "scrapy", {"ITEM_PIPELINES": "{}"}, archives=True),
    ]
    why_not = "--no-dedup" if args.no_dedup else dedup_pipeline_available()
    if why_not:
        notes.append(f"skipped 'archiving + dedup': {why_not}")
    else:
        modes.append(Mode("dedup", "archiving + dedup (as users run it)", "scrapy", archives=True, dedup=True))
    wget = shutil.which("wget")
    wget_compression = False
    if wget:
        modes.append(Mode("wget", "wget --recursive --warc-file", "wget"))
        help_text = subprocess.run([wget, "--help"], capture_output=True, text=True).stdout
        wget_compression = "--compression" in help_text
    else:
        notes.append("skipped wget: not installed (apt-get install -y wget)")

    wanted = set(args.modes.split(","))
    modes = [m for m in modes if m.key in wanted]
    print(f"{args.repeat} round(s); Scrapy at {CONCURRENCY}/{CONCURRENCY} concurrency; {os.cpu_count()} CPUs;"
          f" seed {args.seed}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        with contextlib.ExitStack() as stack:
            targets = [start_target(site, args, stack, work) for site in sites]
            rows = {t.key: {m.key: Row(m.label, []) for m in modes} for t in targets}
            for round_no in range(args.repeat):
                for target in targets:
                    ctx = Context(args, target, wget, wget_compression)
                    for mode in modes if round_no % 2 == 0 else modes[::-1]:
                        runner = run_scrapy if mode.kind == "scrapy" else run_wget
                        result = runner(mode, ctx)
                        status = result.problem or f"{result.responses} responses"
                        print(f"  round {round_no + 1}, {target.key}: {mode.label}: {result.run.wall:.2f} s,"
                              f" {status}", flush=True)
                        rows[target.key][mode.key].results.append(result)
        ok = True
        for site, site_rows in rows.items():
            ok &= print_site_report(site, site_rows)
        for note in notes:
            print(f"note: {note}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
