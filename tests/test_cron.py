"""Cron expressions and durations of sources.toml, and the new keys' validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.cron import is_valid_cron, next_run, parse_duration
from crawler.sources import SourcesError, load_sources


@pytest.mark.parametrize("expr", ["*/30 * * * *", "0 3 * * mon-fri", "* * * * * */2", "@hourly"])
def test_valid_cron(expr: str) -> None:
    assert is_valid_cron(expr) == (expr != "@hourly")  # five or six fields only


@pytest.mark.parametrize("expr", ["", "bogus", "61 * * * *", "* * *", "*/30 * * * * * * *", "rm -rf /"])
def test_invalid_cron(expr: str) -> None:
    assert not is_valid_cron(expr)


def test_next_run_is_strictly_after() -> None:
    t = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert next_run("*/30 * * * *", t) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert next_run("*/30 * * * *", t - timedelta(seconds=1)) == t
    assert next_run("* * * * * */2", t) == t + timedelta(seconds=2)


@pytest.mark.parametrize(("text", "seconds"), [("7d", 7 * 86400), ("12h", 43200), ("1d12h", 129600),
                                                ("90m", 5400), ("30s", 30), ("2w", 1209600), (" 1D ", 86400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "d", "7 days", "-1d", "7d x", "1.5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def _sources(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "a"\nlang = "en"\nstart_urls = ["http://127.0.0.1:1/"]\n'
                    'allowed_domains = ["127.0.0.1"]\narticle_pattern = "/a/"\n' + extra, encoding="utf-8")
    return path


def test_sources_keys_parsed(tmp_path: Path) -> None:
    (src,) = load_sources(_sources(tmp_path, 'schedule = "0 */6 * * *"\nrecrawl_after = "7d"\n'))
    assert src.schedule == "0 */6 * * *" and src.recrawl_after == timedelta(days=7)
    (plain,) = load_sources(_sources(tmp_path, ""))
    assert plain.schedule is None and plain.recrawl_after is None


@pytest.mark.parametrize(("extra", "message"), [
    ('schedule = "every hour"\n', "key 'schedule': expected a cron expression"),
    ("schedule = 30\n", "key 'schedule'"),
    ('recrawl_after = "a week"\n', "key 'recrawl_after': expected a duration"),
    ("recrawl_after = 7\n", "key 'recrawl_after'"),
    ('recrawl_afer = "7d"\n', "did you mean `recrawl_after`"),
    ('schedul = "* * * * *"\n', "did you mean `schedule`"),
])
def test_sources_keys_rejected(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message.replace("(", r"\(")):
        load_sources(_sources(tmp_path, extra))
