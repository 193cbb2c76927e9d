"""The sources file (settings/sources.toml): the sites to crawl, validated before any request."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from crawler.cron import is_valid_cron, parse_duration
from crawler.errors import ConfigError
from crawler.known_settings import did_you_mean

NAME_RE = re.compile(r"^[a-z0-9_-]+$")
LANGS = ("zh", "en")
_URL_LISTS = ("start_urls", "feeds", "sitemaps")
#: Every key a [[source]] table may have; any other is a mistake, named with the closest of these.
KEYS = ("name", "lang", *_URL_LISTS, "allowed_domains", "article_pattern", "follow_pattern", "max_depth", "max_pages",
        "schedule", "recrawl_after")


class SourcesError(ConfigError, ValueError):
    """The sources file is wrong: the message names the file, the source and the key."""


@dataclass(frozen=True)
class Source:
    name: str
    lang: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    article_pattern: re.Pattern[str]
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    follow_pattern: re.Pattern[str] | None = None
    max_depth: int | None = None
    max_pages: int | None = None
    #: cron expression of `newsarchive schedule` (None: the SCHEDULE_DEFAULT setting)
    schedule: str | None = None
    #: an archived article is fetched again once its last capture is this old (None: never)
    recrawl_after: timedelta | None = None

    def allows(self, url: str) -> bool:
        """Is this URL's host (or host:port) one of the source's allowed domains?"""
        return host_allowed(url, self.allowed_domains)

    def is_article(self, url: str) -> bool:
        return bool(self.article_pattern.search(url))

    def should_follow(self, url: str) -> bool:
        if self.follow_pattern is None:
            return True
        return bool(self.follow_pattern.search(url))


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    for domain in allowed:
        d = domain.lower()
        if ":" in d:
            dhost, _, dport = d.rpartition(":")
            if host == dhost and port == int(dport):
                return True
            continue
        if host == d or host.endswith("." + d):
            return True
    return False


def load_sources(path: str | Path, only: list[str] | None = None) -> list[Source]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(f"{path}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SourcesError(f"{path}: not valid TOML: {e}") from None
    for key in data:
        if key != "source":
            raise SourcesError(f"{path}: unknown key {key!r}{did_you_mean(key, ['source'])}: "
                               "expected only [[source]] tables")
    raw = data.get("source")
    if not isinstance(raw, list) or not raw:
        raise SourcesError(f"{path}: expected one or more [[source]] tables")
    sources: list[Source] = []
    seen: set[str] = set()
    for i, table in enumerate(raw):
        src = _parse_source(path, i, table)
        if src.name in seen:
            raise SourcesError(f"{path}: source {src.name!r}: duplicate name")
        seen.add(src.name)
        sources.append(src)
    if only:
        unknown = [n for n in only if n not in seen]
        if unknown:
            raise SourcesError(f"{path}: no source named {', '.join(map(repr, unknown))}"
                               f"{did_you_mean(unknown[0], seen)} (have: {', '.join(sorted(seen))})")
        sources = [s for s in sources if s.name in only]
    return sources


def _parse_source(path: Path, index: int, table: object) -> Source:
    label = f"source #{index + 1}"
    if not isinstance(table, dict):
        raise SourcesError(f"{path}: {label}: expected a table")
    name = table.get("name")
    if isinstance(name, str) and NAME_RE.match(name):
        label = f"source {name!r}"
    for key in table:  # first: a misspelt key explains a "missing" one
        if key not in KEYS:
            raise SourcesError(f"{path}: {label}: unknown key {key!r}{did_you_mean(key, KEYS)}")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SourcesError(f"{path}: {label}: key 'name': expected a string of [a-z0-9_-]+, got {name!r}")

    def fail(key: str, expected: str) -> SourcesError:
        return SourcesError(f"{path}: {label}: key {key!r}: expected {expected}, got {table.get(key)!r}")

    lang = table.get("lang")
    if lang not in LANGS:
        raise fail("lang", "one of " + " | ".join(LANGS))
    for key in ("start_urls", "allowed_domains", "article_pattern"):
        if key not in table:
            raise SourcesError(f"{path}: {label}: missing key {key!r}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in (*_URL_LISTS, "allowed_domains"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(key, "a list of strings")
        lists[key] = tuple(value)
    for key in _URL_LISTS:
        for url in lists[key]:
            if urlsplit(url).scheme not in ("http", "https"):
                raise SourcesError(f"{path}: {label}: key {key!r}: expected http(s) URLs, got {url!r}")
    if not lists["start_urls"] and not lists["feeds"] and not lists["sitemaps"]:
        raise fail("start_urls", "at least one URL (or feeds/sitemaps)")
    if not lists["allowed_domains"]:
        raise fail("allowed_domains", "at least one host")
    for dom in lists["allowed_domains"]:
        if "/" in dom or not re.match(r"^[A-Za-z0-9.-]+(:\d+)?$", dom):
            raise SourcesError(f"{path}: {label}: key 'allowed_domains': expected a host or host:port, got {dom!r}")
    patterns: dict[str, re.Pattern[str] | None] = {}
    for key in ("article_pattern", "follow_pattern"):
        value = table.get(key)
        if value is None and key == "follow_pattern":
            patterns[key] = None
            continue
        if not isinstance(value, str):
            raise fail(key, "a regular expression string")
        try:
            patterns[key] = re.compile(value)
        except re.error as e:
            raise SourcesError(f"{path}: {label}: key {key!r}: bad regular expression: {e}") from None
    ints: dict[str, int | None] = {}
    for key in ("max_depth", "max_pages"):
        value = table.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise fail(key, "a non-negative integer")
        ints[key] = value
    article_pattern = patterns["article_pattern"]
    assert article_pattern is not None  # a missing one was refused above
    schedule = table.get("schedule")
    if schedule is not None and (not isinstance(schedule, str) or not is_valid_cron(schedule)):
        raise fail("schedule", "a cron expression such as '*/30 * * * *'")
    recrawl_after = None
    if "recrawl_after" in table:
        value = table["recrawl_after"]
        try:
            recrawl_after = parse_duration(value) if isinstance(value, str) else None
        except ValueError:
            pass
        if recrawl_after is None:
            raise fail("recrawl_after", "a duration such as '7d', '12h' or '1d12h'")
    return Source(
        name=name, lang=lang, start_urls=lists["start_urls"], allowed_domains=lists["allowed_domains"],
        article_pattern=article_pattern, feeds=lists["feeds"], sitemaps=lists["sitemaps"],
        follow_pattern=patterns["follow_pattern"], max_depth=ints["max_depth"], max_pages=ints["max_pages"],
        schedule=schedule, recrawl_after=recrawl_after,
    )
