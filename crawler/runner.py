"""Running a crawl outside `scrapy crawl`: settings from module + profile + overrides, checked first."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scrapy.settings import Settings

from crawler.errors import ConfigError

logger = logging.getLogger(__name__)

PROFILES_DIR = Path("settings/profiles")


class CrawlConfigError(ConfigError, ValueError):
    """Bad configuration, found before any request: which file, which key, what was expected."""


@dataclass
class CrawlResult:
    stats: dict = field(default_factory=dict)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def summary(self) -> str:
        s = self.stats
        return (f"crawl finished ({s.get('finish_reason', '?')}): {s.get('response_received_count', 0)} responses, "
                f"{s.get('archive/responses', 0)} archived, {s.get('archive/revisits', 0)} revisits, "
                f"{s.get('archive/files_published', 0)} WARC files")


def load_profile(profile: str) -> dict:
    path = Path(profile)
    if not path.suffix:
        path = PROFILES_DIR / f"{profile}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrawlConfigError(f"profile {profile!r}: {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise CrawlConfigError(f"{path}: not valid TOML: {e}") from None
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise CrawlConfigError(f"{path}: key 'settings': expected a table of Scrapy settings")
    return settings


def build_settings(*, sources: str | None, archive: str | None, only: list[str], profile: str | None,
                   overrides: dict[str, str], output: str | None, log_level: str | None) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    if profile:
        settings.setdict(load_profile(profile), priority="project")
    if sources:
        settings.set("NEWSARCHIVE_SOURCES", sources, priority="cmdline")
    if archive:
        settings.set("ARCHIVE_URI", archive, priority="cmdline")
    if only:
        settings.set("NEWSARCHIVE_SOURCE_NAMES", only, priority="cmdline")
    if output:
        settings.set("FEEDS", {output: {"format": _feed_format(output), "encoding": "utf-8", "overwrite": True}},
                     priority="cmdline")
    if log_level:
        settings.set("LOG_LEVEL", log_level.upper(), priority="cmdline")
    for key, value in overrides.items():
        settings.set(key, value, priority="cmdline")
    return settings


def _feed_format(path: str) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"jsonl": "jsonlines", "jl": "jsonlines", "json": "json", "csv": "csv", "xml": "xml"}.get(suffix, "jsonlines")


def preflight(settings: Settings) -> None:
    """Everything that can be wrong before the first request: the sources file, the dedup
    thresholds, the archive."""
    from crawler.archive.storage import StorageConfigError, StorageError
    from crawler.sources import SourcesError, load_sources

    try:
        load_sources(settings.get("NEWSARCHIVE_SOURCES"), settings.getlist("NEWSARCHIVE_SOURCE_NAMES") or None)
    except SourcesError as e:
        raise CrawlConfigError(str(e)) from None
    if settings.getbool("DEDUP_ENABLED"):
        from crawler.dedup.defaults import DedupSettings

        try:
            DedupSettings.from_mapping(settings.getdict("DEDUP_THRESHOLDS"))
        except (TypeError, ValueError) as e:
            raise CrawlConfigError(f"DEDUP_THRESHOLDS: {e}") from None
    if settings.getbool("ARCHIVE_ENABLED"):
        try:
            from crawler.extensions.archive import storage_from_settings

            storage_from_settings(settings.get("ARCHIVE_URI"), settings).check()
        except (StorageConfigError, StorageError) as e:
            raise CrawlConfigError(str(e)) from None


def run_crawl(**kwargs) -> CrawlResult:
    settings = build_settings(**kwargs)
    preflight(settings)
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings)
    crawler = process.create_crawler("news")
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = CrawlResult(stats=stats)
    reason = stats.get("finish_reason")
    if stats.get("archive/write_errors"):
        result.problem = f"{stats['archive/write_errors']} WARC records could not be written (see the log)"
    elif reason not in ("finished", "closespider_pagecount", "closespider_itemcount", "closespider_timeout"):
        result.problem = f"the crawl stopped: {reason or 'it did not start'}"
    elif not stats.get("response_received_count") and not stats.get("downloader/response_count"):
        errors = {k.rsplit("/", 1)[-1].rsplit(".", 1)[-1]: v for k, v in stats.items()
                  if k.startswith("downloader/exception_type_count/")}
        detail = ", ".join(f"{n} x {name}" for name, n in sorted(errors.items())) or "no request was made"
        result.problem = f"no page could be fetched ({detail})"
    return result
