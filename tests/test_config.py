"""The composition root: the objects a crawl builds are the ones the commands build, from one settings stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler import config
from crawler.archive.storage.local import LocalStorage
from crawler.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ARCHIVE_URI", "ARCHIVE_SPOOL", "ARCHIVE_CACHE_DIR", "NEWSARCHIVE_SOURCES", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def archive_settings(settings) -> dict:
    """Our settings only (the whole stack would ask get_crawler for a running reactor)."""
    import crawler.settings as ours

    return {k: settings[k] for k in dir(ours) if k.isupper() and k.startswith(("ARCHIVE_", "WARC_", "DEDUP_"))}


def test_storage_is_probed_once_per_crawl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`newsarchive crawl` probes in preflight; the extension then does not probe again.
    Under `scrapy crawl` (no preflight) the extension probes."""
    from crawler.extensions.archive import WarcArchiveExtension
    from crawler.runner import preflight

    probes: list[Path] = []
    original = LocalStorage.check

    def counting_check(self, *, write: bool = True) -> None:
        probes.append(self.root)
        original(self, write=write)

    monkeypatch.setattr(LocalStorage, "check", counting_check)
    sources = tmp_path / "s.toml"
    sources.write_text('[[source]]\nname = "a"\nlang = "en"\nstart_urls = ["http://127.0.0.1:9/"]\n'
                       'allowed_domains = ["127.0.0.1:9"]\narticle_pattern = "/a/"\n')
    settings = config.load_settings(sources=str(sources), archive=str(tmp_path / "a"))
    assert preflight(settings) == ["a"]
    build_from_crawler(WarcArchiveExtension, get_crawler(Spider, archive_settings(settings)))
    assert probes == [tmp_path / "a"]
    plain = config.load_settings(archive=str(tmp_path / "b"))  # as `scrapy crawl news` reads the module
    build_from_crawler(WarcArchiveExtension, get_crawler(Spider, archive_settings(plain)))
    assert probes == [tmp_path / "a", tmp_path / "b"]


def test_dedup_catalog_follows_the_settings(tmp_path: Path) -> None:
    local = config.load_settings(archive=str(tmp_path / "arch"))
    assert config.dedup_catalog_path(local) == tmp_path / "arch" / "dedup.sqlite3"
    remote = config.load_settings(archive="s3://b/p", overrides={"ARCHIVE_CACHE_DIR": str(tmp_path / "c")})
    assert config.dedup_catalog_path(remote).parent.parent == tmp_path / "c"
    explicit = config.load_settings(overrides={"DEDUP_CATALOG": str(tmp_path / "d.sqlite3")})
    assert config.dedup_catalog_path(explicit) == tmp_path / "d.sqlite3"


def test_pipeline_and_commands_share_the_catalog(tmp_path: Path) -> None:
    from crawler.pipelines.dedup import DedupPipeline

    settings = config.load_settings(archive="s3://b/p", overrides={"ARCHIVE_CACHE_DIR": str(tmp_path / "c")})
    pipe = build_from_crawler(DedupPipeline, get_crawler(Spider, archive_settings(settings)))
    assert pipe.catalog == config.dedup_catalog_path(settings)


def test_s3_options_come_from_aws_settings() -> None:
    settings = config.load_settings(archive="s3://bucket/prefix", overrides=[
        "AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s"])
    storage = config.storage_from_settings(settings)
    assert storage.uri == "s3://bucket/prefix/" and storage.endpoint == "http://127.0.0.1:9"
    assert config.aws_environment(settings) == {
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}


def test_writer_options_are_the_settings() -> None:
    options = config.writer_options(config.load_settings(overrides=["WARC_MAX_SIZE=1000", "WARC_PREFIX=x"]))
    assert (options["max_size"], options["prefix"], options["compress_level"]) == (1000, "x", 3)
    assert options["warcinfo"]["format"] == "WARC File Format 1.1"


def test_thresholds_refuse_a_misspelt_name() -> None:
    with pytest.raises(ConfigError, match="DEDUP_THRESHOLDS: .*stroy_min"):
        config.thresholds(config.load_settings(overrides=['DEDUP_THRESHOLDS={"stroy_min": 0.5}']))


def test_feed_format_is_scrapys() -> None:
    assert config.feeds_for(config.load_settings(), "a.jsonl") == {"a.jsonl": {"format": "jsonl", "overwrite": True}}
    assert config.feeds_for(config.load_settings(), "out:csv") == {"out": {"format": "csv", "overwrite": True}}
    with pytest.raises(ConfigError, match="Unrecognized output format 'txt'"):
        config.feeds_for(config.load_settings(), "a.txt")


def test_reading_an_archive_creates_nothing(tmp_path: Path) -> None:
    from crawler.errors import ArchiveMissing

    with pytest.raises(ArchiveMissing, match="no archive at"):
        config.archive_from_settings(config.load_settings(archive=str(tmp_path / "x")))
    (tmp_path / "plain").mkdir()
    with pytest.raises(ArchiveMissing, match="has no warcs/ or indexes/"):
        config.archive_from_settings(config.load_settings(archive=str(tmp_path / "plain")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]
    assert not any((tmp_path / "plain").iterdir())
    archive = config.archive_from_settings(config.load_settings(archive=str(tmp_path / "new")), create=True)
    assert archive.state_dir == tmp_path / "new"
