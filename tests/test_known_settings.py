"""Settings are checked against their defaults: a name must exist, a value must read as the default's type."""

from __future__ import annotations

import pytest

from crawler.errors import ConfigError
from crawler.known_settings import check_log_level, check_setting, did_you_mean


@pytest.mark.parametrize("name, value, expected", [
    ("WARC_MAX_SIZE", "1000", 1000),
    ("WARC_MAX_SIZE", 1000, 1000),
    ("DOWNLOAD_DELAY", "0.25", 0.25),  # an int default Scrapy reads as a float
    ("ROBOTSTXT_OBEY", "False", False),
    ("ROBOTSTXT_OBEY", "1", True),
    ("ROBOTSTXT_OBEY", True, True),
    ("ITEM_PIPELINES", "{}", {}),
    ("DEDUP_THRESHOLDS", '{"story_min": 0.5}', {"story_min": 0.5}),
    ("CANONICAL_DROP_PREFIXES", "utm_,ref_", "utm_,ref_"),  # Scrapy's getlist splits it
    ("CANONICAL_DROP_PREFIXES", '["utm_"]', ["utm_"]),
    ("USER_AGENT", "x/1", "x/1"),
    ("ARCHIVE_SPOOL", "/tmp/x", "/tmp/x"),  # a None default says nothing about the type
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9", "http://127.0.0.1:9"),  # Scrapy's own
    ("LOG_LEVEL", "debug", "DEBUG"),
])
def test_values_read_as_their_default_type(name, value, expected) -> None:
    assert check_setting(name, value, "-s") == expected


@pytest.mark.parametrize("name, value, message", [
    ("WARC_MAX_SIZE", "1 GB", "-s: setting WARC_MAX_SIZE: expected a number, got '1 GB'"),
    ("WARC_MAX_SIZE", True, "expected a number"),
    ("ROBOTSTXT_OBEY", "yes", "expected true or false"),
    ("ITEM_PIPELINES", "[]", "expected a table"),
    ("ITEM_PIPELINES", "{", "expected a JSON object"),
    ("CANONICAL_DROP_PARAMS", "[oops", "expected a JSON list"),
    ("USER_AGENT", 3, "expected a string"),
    ("LOG_LEVEL", "LOUD", "log level 'LOUD'"),
    ("WARC_MAXSIZE", "1", "unknown setting 'WARC_MAXSIZE' (did you mean `WARC_MAX_SIZE`?)"),
    ("XYZZY", "1", "unknown setting 'XYZZY'"),
])
def test_bad_names_and_values_are_named(name, value, message) -> None:
    with pytest.raises(ConfigError) as e:
        check_setting(name, value, "-s")
    assert message in str(e.value) and e.value.exit_code == 2


def test_nothing_close_suggests_nothing() -> None:
    assert did_you_mean("XYZZY", ["WARC_MAX_SIZE"]) == ""
    assert check_log_level(20, "LOG_LEVEL") == 20
