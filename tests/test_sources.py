"""The sources file is a contract: bad files are refused with the source and key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.sources import SourcesError, host_allowed, load_sources
from tests.conftest import REPO, run_cli

GOOD = """
[[source]]
name = "a"
lang = "zh"
start_urls = ["https://www.example.com/"]
allowed_domains = ["www.example.com"]
article_pattern = '^https://www\\.example\\.com/posts/\\w+$'
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sources.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_project_sources_file_lists_the_real_sites() -> None:
    names = {s.name for s in load_sources(REPO / "settings" / "sources.toml")}
    assert {"4hou", "freebuf", "anquanke", "bleepingcomputer", "thehackernews", "securityweek", "therecord"} <= names
    for s in load_sources(REPO / "settings" / "sources.toml"):
        assert s.feeds or s.sitemaps or s.follow_pattern, s.name
        assert all(s.allows(u) for u in s.start_urls), s.name


@pytest.mark.parametrize("text, message", [
    (GOOD.replace('lang = "zh"', 'lang = "fr"'), "source 'a': key 'lang'"),
    (GOOD.replace("article_pattern = '^https://www\\.example\\.com/posts/\\w+$'", "article_pattern = '(['"),
     "source 'a': key 'article_pattern': bad regular expression"),
    (GOOD.replace('allowed_domains = ["www.example.com"]\n', ""), "source 'a': missing key 'allowed_domains'"),
    (GOOD + GOOD, "source 'a': duplicate name"),
    (GOOD.replace('name = "a"', 'name = "Bad Name"'), "key 'name'"),
    (GOOD.replace('allowed_domains = ["www.example.com"]', 'allowed_domains = ["http://x/"]'), "key 'allowed_domains'"),
    ("not toml [", "not valid TOML"),
    ("", "expected one or more [[source]]"),
])
def test_bad_sources_are_refused_naming_source_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_sources(write(tmp_path, text))


def test_crawl_with_bad_sources_exits_2_before_any_request(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('lang = "zh"', 'lang = "fr"'))
    proc = run_cli("crawl", "--sources", str(path), "--archive", str(tmp_path / "archive"), cwd=tmp_path)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert str(path) in err and "'lang'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "archive" / "warcs").exists()


def test_unknown_source_name_is_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    proc = run_cli("crawl", "--sources", str(path), "--source", "nope", "--archive", str(tmp_path / "a"), cwd=tmp_path)
    assert proc.returncode == 2 and b"no source named 'nope'" in proc.stderr


def test_host_allowed_with_ports_and_subdomains() -> None:
    assert host_allowed("http://127.0.0.1:8080/x", ("127.0.0.1:8080",))
    assert not host_allowed("http://127.0.0.1:8081/x", ("127.0.0.1:8080",))
    assert host_allowed("https://news.example.com/x", ("example.com",))
    assert not host_allowed("https://evilexample.com/x", ("example.com",))
    assert not host_allowed("ftp://example.com/x", ("example.com",))
    assert not host_allowed("javascript:alert(1)", ("example.com",))
