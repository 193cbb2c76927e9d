"""Running a crawl outside `scrapy crawl`: settings checked before the first request, a summary per source after."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.settings import Settings

from crawler import shutdown
from crawler.errors import ConfigError, Interrupted
from crawler.summary import FINISHED, crawl_summary

logger = logging.getLogger(__name__)


class CrawlConfigError(ConfigError, ValueError):
    """Bad configuration, found before any request: which file, which key, what was expected."""


@dataclass
class SourceSummary:
    """One source's share of the crawl, from the ``source/<name>/...`` stats."""

    name: str
    pages: int = 0
    articles: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_stats(cls, name: str, stats: dict) -> SourceSummary:
        prefix = f"source/{name}/"
        errors = {k[len(prefix) + len("errors/"):]: int(v) for k, v in stats.items()
                  if k.startswith(prefix + "errors/")}
        return cls(name, int(stats.get(prefix + "pages", 0)), int(stats.get(prefix + "articles", 0)), errors)

    @property
    def fetched(self) -> int:
        """Pages received that were not HTTP errors."""
        return self.pages - sum(n for kind, n in self.errors.items() if kind.startswith("http_"))

    def line(self) -> str:
        errors = ", ".join(f"{n} x {kind}" for kind, n in sorted(self.errors.items())) or "none"
        mark = "  <- fetched nothing" if self.fetched <= 0 else ""
        return f"  {self.name}: {self.pages} pages, {self.articles} articles, errors: {errors}{mark}"


@dataclass
class CrawlResult:
    stats: dict = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    problem: str = ""
    #: Where the archive is, and what the suggested next commands need to find it.
    archive: str = ""
    dedup: bool = True
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.problem

    def per_source(self) -> list[SourceSummary]:
        return [SourceSummary.from_stats(name, self.stats) for name in self.sources]

    def summary(self) -> str:
        """The one-screen end-of-run summary (`crawler.summary`)."""
        return crawl_summary(self.stats, [src.line() for src in self.per_source()], archive=self.archive,
                             interrupted=self.interrupted, dedup=self.dedup)


def preflight(settings: Settings) -> list[str]:
    """Everything that can be wrong before the first request: the sources file, the dedup
    thresholds, the archive (probed once, here). Returns the names of the sources to crawl."""
    from crawler.config import storage_from_settings, thresholds
    from crawler.sources import load_sources

    sources = load_sources(settings.get("NEWSARCHIVE_SOURCES"), settings.getlist("NEWSARCHIVE_SOURCE_NAMES") or None)
    live_display_log_level(settings)
    if settings.getbool("DEDUP_ENABLED"):
        thresholds(settings)
    if settings.getbool("ARCHIVE_ENABLED"):
        storage_from_settings(settings).check()
        settings.set("ARCHIVE_STORAGE_CHECK", False, priority="cmdline")  # probed just now
    names = [s.name for s in sources]
    if settings.getbool("NEWSARCHIVE_WORKER"):  # last: joins the shared crawl once every check passed
        import os
        import socket

        from crawler.resume import job_name
        from crawler.workers import join_shared_crawl

        join_shared_crawl(settings, job_name(names), host=socket.gethostname(), pid=os.getpid())
    return names


def dedup_on(settings: Settings) -> bool:
    """The crawl flags near-duplicates: DEDUP_ENABLED, and the dedup pipeline not switched off."""
    pipelines = settings.getwithbase("ITEM_PIPELINES")
    return settings.getbool("DEDUP_ENABLED") and any(
        str(name).endswith("DedupPipeline") and order is not None for name, order in pipelines.items())


def archive_location(settings: Settings) -> str:
    """Where the archive is: an absolute path, or its s3:// URI."""
    from crawler.archive.storage import is_remote
    from crawler.config import archive_uri

    uri = archive_uri(settings)
    where = uri if is_remote(uri) else str(Path(uri.removeprefix("file://")).absolute())
    return where


def live_display_log_level(settings: Settings) -> None:
    """Checks PROGRESS_DISPLAY and PROGRESS_LIVE_LOG_LEVEL. In a terminal the live progress table replaces
    Scrapy's INFO lines: the log level becomes PROGRESS_LIVE_LOG_LEVEL, unless a log file is set or the
    user chose a level (--log-level, -s LOG_LEVEL)."""
    import sys

    from scrapy.settings import SETTINGS_PRIORITIES

    from crawler.console import live_wanted
    from crawler.known_settings import check_log_level

    try:
        live = live_wanted(str(settings.get("PROGRESS_DISPLAY")), sys.stderr)
    except ValueError as e:
        raise CrawlConfigError(str(e)) from None
    level = check_log_level(str(settings.get("PROGRESS_LIVE_LOG_LEVEL")), "PROGRESS_LIVE_LOG_LEVEL")
    if live and not settings.get("LOG_FILE") and settings.getpriority("LOG_LEVEL") < SETTINGS_PRIORITIES["cmdline"]:
        settings.set("LOG_LEVEL", level, priority="cmdline")


def run_crawl(settings: Settings, *, allow_partial: bool = False,
              after_preflight: Callable[[], object] | None = None,
              on_interrupted: Callable[[CrawlResult], object] | None = None) -> CrawlResult:
    """Crawl with ``settings`` (from `crawler.config.load_settings`). The result's ``problem`` says
    why the crawl failed: it stopped early, records were lost, nothing was fetched, or (unless
    ``allow_partial``) a source fetched nothing. ``after_preflight`` runs once the checks passed
    (the resume job record is written there, never into an archive that failed them);
    ``on_interrupted`` gets what a crawl stopped by a signal did, before `Interrupted` is raised."""
    names = preflight(settings)
    if after_preflight is not None:
        after_preflight()
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings)
    crawler = process.create_crawler("news")
    result = CrawlResult(sources=names, archive=archive_location(settings), dedup=dedup_on(settings))
    try:
        shutdown.run(process, crawler)  # SIGINT/SIGTERM: Interrupted, exit 1 (crawler/shutdown.py)
    except Interrupted:
        if on_interrupted is not None:
            result.stats, result.interrupted = crawler.stats.get_stats() if crawler.stats else {}, True
            on_interrupted(result)
        raise
    result.stats = crawler.stats.get_stats() if crawler.stats else {}
    result.problem = _problem(result, allow_partial)
    return result


def _problem(result: CrawlResult, allow_partial: bool) -> str:
    stats = result.stats
    reason = stats.get("finish_reason")
    if stats.get("archive/write_errors"):
        return f"{stats['archive/write_errors']} WARC records could not be written (see the log)"
    if reason not in FINISHED:
        return f"the crawl stopped: {reason or 'it did not start'}"
    if not stats.get("response_received_count") and not stats.get("downloader/response_count"):
        errors = {k.rsplit("/", 1)[-1].rsplit(".", 1)[-1]: v for k, v in stats.items()
                  if k.startswith("downloader/exception_type_count/")}
        detail = ", ".join(f"{n} x {name}" for name, n in sorted(errors.items())) or "no request was made"
        return f"no page could be fetched ({detail})"
    dead = [s.name for s in result.per_source() if s.fetched <= 0]
    if dead and not allow_partial:
        return (f"{len(dead)} of {len(result.sources)} sources fetched nothing but errors: {', '.join(dead)} "
                "(see the summary; --allow-partial accepts this)")
    return ""
