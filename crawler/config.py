"""The composition root: the settings stack, and the archive, storage, catalogs and options built from it.

Every command of the CLI and every Scrapy component builds its objects here, from one `Settings`
made by `load_settings` (module defaults and the environment, then a profile, then ``-s``, then
the command's own options), so a crawl and the commands that read its archive agree on where
everything is.
"""

from __future__ import annotations

import platform
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.settings import BaseSettings, Settings

from crawler.errors import ArchiveMissing, CatalogMissing, ConfigError
from crawler.known_settings import check_log_level, check_setting

if TYPE_CHECKING:
    from crawler.archive.archive import Archive
    from crawler.archive.storage import ArchiveStorage
    from crawler.dedup.defaults import Thresholds

#: The file of a dedup catalog beside the capture catalog.
DEDUP_CATALOG_NAME = "dedup.sqlite3"

#: Scrapy's AWS_* settings -> S3 backend options (empty values leave boto3's own chain in charge).
S3_SETTINGS = {
    "AWS_ENDPOINT_URL": "endpoint_url",
    "AWS_ACCESS_KEY_ID": "access_key",
    "AWS_SECRET_ACCESS_KEY": "secret_key",
    "AWS_SESSION_TOKEN": "session_token",
    "AWS_REGION_NAME": "region",
    "AWS_VERIFY": "verify",
    "AWS_USE_SSL": "use_ssl",
}


# -- the settings stack ---------------------------------------------------------------------
def profiles_dir() -> Path:
    from crawler.settings import project_root

    return project_root() / "settings" / "profiles"


def profile_path(profile: str) -> Path:
    """A profile name (``production``: settings/profiles/production.toml of the project) or a path."""
    path = Path(profile)
    return path if path.suffix else profiles_dir() / f"{profile}.toml"


def load_profile(profile: str) -> dict[str, Any]:
    """The ``[settings]`` table of a profile, every name known and every value of its setting's type."""
    path = profile_path(profile)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"profile {profile!r}: {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"profile {profile!r}: {path} is a folder, not a .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    unknown = [k for k in data if k != "settings"]
    if unknown:
        raise ConfigError(f"{path}: unknown table or key {unknown[0]!r}: a profile holds one [settings] table")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: key 'settings': expected a table of settings")
    return {name: check_setting(name, value, str(path)) for name, value in settings.items()}


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``-s NAME=VALUE`` options, each name known and each value parsed as its setting's type."""
    overrides: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"-s wants NAME=VALUE, got {item!r}")
        overrides[name.strip()] = check_setting(name.strip(), value, "-s")
    return overrides


def load_settings(
    *,
    profile: str | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    archive: str | None = None,
    sources: str | None = None,
    only: Sequence[str] = (),
    output: str | None = None,
    log_level: str | None = None,
) -> Settings:
    """Module defaults and the environment, then the profile, then ``-s``, then the command's options."""
    from crawler.settings import environment

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(environment(), priority="project")
    check_log_level(settings.get("LOG_LEVEL"), "LOG_LEVEL")
    if profile:
        settings.setdict(load_profile(profile), priority="project")
    if overrides:
        if not isinstance(overrides, Mapping):
            overrides = parse_overrides(overrides)
        else:
            overrides = {k: check_setting(k, v, "-s") for k, v in overrides.items()}
        settings.setdict(dict(overrides), priority="cmdline")
    if sources:
        settings.set("NEWSARCHIVE_SOURCES", sources, priority="cmdline")
    if archive:
        settings.set("ARCHIVE_URI", archive, priority="cmdline")
    if only:
        settings.set("NEWSARCHIVE_SOURCE_NAMES", list(only), priority="cmdline")
    if output:
        settings.set("FEEDS", feeds_for(settings, output), priority="cmdline")
    if log_level:
        settings.set("LOG_LEVEL", check_log_level(log_level), priority="cmdline")
    return settings


def feeds_for(settings: BaseSettings, output: str) -> dict[str, dict[str, Any]]:
    """``-O FILE[:FORMAT]`` as `scrapy crawl -O` reads it (format from the suffix, overwrite)."""
    from scrapy.exceptions import UsageError
    from scrapy.utils.conf import feed_process_params_from_cli

    try:
        return feed_process_params_from_cli(settings, [], overwrite_output=[output])
    except UsageError as e:
        raise ConfigError(f"-O {output}: {e}") from None


# -- objects ---------------------------------------------------------------------------------
def storage_from_settings(settings: BaseSettings) -> ArchiveStorage:
    """The storage backend for ARCHIVE_URI with Scrapy's AWS_* settings applied."""
    from crawler.archive.storage import is_remote, open_storage

    uri = archive_uri(settings)
    if not is_remote(uri):
        return open_storage(uri)
    options = {key: settings.get(name) for name, key in S3_SETTINGS.items() if settings.get(name) not in (None, "")}
    return open_storage(uri, **options)


def archive_uri(settings: BaseSettings) -> str:
    uri = settings.get("ARCHIVE_URI")
    if not uri:
        raise ConfigError("no archive: give --archive FOLDER or s3://bucket/prefix (or set ARCHIVE_URI)")
    return str(uri)


def archive_from_settings(settings: BaseSettings, *, create: bool = False) -> Archive:
    """The archive at ARCHIVE_URI. Without ``create`` (every reading command) it must already exist:
    nothing is created where the user pointed, and a missing archive is `ArchiveMissing`."""
    from crawler.archive.archive import Archive

    storage = storage_from_settings(settings)
    if not create:
        require_archive(storage)
    return Archive.open(
        archive_uri(settings), spool_dir=spool_dir(settings), cache_dir=settings.get("ARCHIVE_CACHE_DIR"),
        keep_spooled=settings.getbool("ARCHIVE_KEEP_SPOOLED"), storage=storage,
    )


def require_archive(storage: ArchiveStorage) -> None:
    """An archive is a folder (or prefix) that holds ``warcs/`` or ``indexes/``; anything else is named."""
    from crawler.archive.archive import INDEXES, WARCS
    from crawler.archive.storage import is_remote

    if not is_remote(storage.uri):
        root = Path(getattr(storage, "root", storage.uri))
        if root.is_file():
            raise ConfigError(f"{root} is a file, not an archive folder")
        if not root.is_dir():
            raise ArchiveMissing(f"no archive at {root}")
        if not (root / WARCS).is_dir() and not (root / INDEXES).is_dir():
            raise ArchiveMissing(f"no archive at {root}: the folder has no warcs/ or indexes/")
        return
    storage.check(write=False)  # seconds, not boto3's minutes of retries, on a dead endpoint
    if next(iter(storage.list(WARCS)), None) is None and next(iter(storage.list(INDEXES)), None) is None:
        raise ArchiveMissing(f"no archive at {storage.uri}: nothing under its warcs/ or indexes/ "
                             f"(an archive s3://bucket/prefix keeps its WARC files under prefix/warcs/)")


def spool_dir(settings: BaseSettings) -> Path:
    """Where WARCs wait to be stored: ARCHIVE_SPOOL, else ``spool/`` in the archive's local state folder."""
    from crawler.archive.archive import local_state_dir

    if settings.get("ARCHIVE_SPOOL"):
        return Path(settings.get("ARCHIVE_SPOOL"))
    return local_state_dir(archive_uri(settings), settings.get("ARCHIVE_CACHE_DIR")) / "spool"


def aws_environment(settings: BaseSettings) -> dict[str, str]:
    """The AWS_* settings as the environment of a child process (pywb reads S3 through boto3's chain)."""
    names = {"AWS_ENDPOINT_URL": "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN": "AWS_SESSION_TOKEN",
             "AWS_REGION_NAME": "AWS_DEFAULT_REGION"}
    return {var: str(settings.get(name)) for name, var in names.items() if settings.get(name) not in (None, "")}


def dedup_catalog_path(settings: BaseSettings) -> Path:
    """DEDUP_CATALOG, else ``dedup.sqlite3`` beside the capture catalog: in a local archive's folder, or
    in a remote archive's folder under ARCHIVE_CACHE_DIR."""
    from crawler.archive.archive import local_state_dir

    if settings.get("DEDUP_CATALOG"):
        return Path(settings.get("DEDUP_CATALOG"))
    return local_state_dir(archive_uri(settings), settings.get("ARCHIVE_CACHE_DIR")) / DEDUP_CATALOG_NAME


def runlog_path(settings: BaseSettings) -> Path:
    """The run log of `newsarchive schedule` (read by `status`), in the archive's local state folder."""
    from crawler.archive.archive import local_state_dir

    return local_state_dir(archive_uri(settings), settings.get("ARCHIVE_CACHE_DIR")) / "runs.sqlite3"


def existing_dedup_catalog(settings: BaseSettings) -> Path:
    """The dedup catalog, which must exist; else `CatalogMissing` saying how to build it."""
    path = dedup_catalog_path(settings)
    if not path.is_file():
        raise CatalogMissing(
            f"no dedup catalog at {path}: build it from the archive's WARCs with "
            f"`newsarchive dedup rebuild --archive {archive_uri(settings)}` (same --profile and -s)"
        )
    return path


def writer_options(settings: BaseSettings) -> dict[str, Any]:
    """Keyword arguments of `RollingWarcWriter` (besides where and what to publish)."""
    return {
        "prefix": settings.get("WARC_PREFIX"),
        "max_size": settings.getint("WARC_MAX_SIZE"),
        "compress_level": settings.getint("WARC_COMPRESS_LEVEL"),
        "warcinfo": warcinfo_fields(settings),
    }


def warcinfo_fields(settings: BaseSettings) -> dict[str, str]:
    import scrapy

    import crawler

    return {
        "software": f"newsarchive/{crawler.__version__} (scrapy/{scrapy.__version__}; warcio/{_warcio_version()})",
        "format": "WARC File Format 1.1",
        "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        "http-header-user-agent": settings.get("USER_AGENT") or "",
        "hostname": platform.node(),
        "operator": settings.get("WARC_OPERATOR") or "",
        "description": "Security-news archive crawl",
    }


def _warcio_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("warcio")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def thresholds(settings: BaseSettings) -> Thresholds:
    """The dedup thresholds: the frozen defaults with DEDUP_THRESHOLDS over them (a misspelt name is an error)."""
    from crawler.dedup.defaults import Thresholds

    try:
        return Thresholds.from_mapping(settings.getdict("DEDUP_THRESHOLDS"))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"DEDUP_THRESHOLDS: {e}") from None
