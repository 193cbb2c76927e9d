"""The WACZ export's selection and page lines (the package itself: tests/interop)."""

from __future__ import annotations

import json

import pytest

from crawler.errors import ConfigError
from crawler.export.wacz import Page, Selection, parse_span

PAGE = Page(url="https://news.example/a", warc_date="2026-11-30T23:59:59.500000Z", title="A", source="one",
            response_id="<urn:uuid:1>", text="body")


@pytest.mark.parametrize("selection, wanted", [
    (Selection(), True),
    (Selection(since="20261130"), True),
    (Selection(since="20261201"), False),
    (Selection(until="20261130"), True),  # a date means the whole day
    (Selection(until="2026113023"), True),
    (Selection(until="202611302359"), True),
    (Selection(until="20261129"), False),
    (Selection(sources=("one", "two")), True),
    (Selection(sources=("two",)), False),
    (Selection(since="2026", until="2026", sources=("one",)), True),
])
def test_selection_by_time_prefix_and_source(selection: Selection, wanted: bool) -> None:
    assert selection.wants(PAGE) is wanted


def test_span_values() -> None:
    assert parse_span("2026-11-30", "--since") == "20261130"
    assert parse_span("2026-11-30T12:00:00Z", "--until") == "20261130120000"
    for bad in ("soon", "26", "2026-11-30T12:00:00.123456Z"):
        with pytest.raises(ConfigError, match="--since"):
            parse_span(bad, "--since")


def test_page_line() -> None:
    line = json.loads(PAGE.json_line(with_text=True))
    assert line["url"] == PAGE.url and line["ts"] == PAGE.warc_date and line["title"] == "A"
    assert line["text"] == "body" and len(line["id"]) == 24
    assert "text" not in json.loads(PAGE.json_line(with_text=False))
    untitled = Page(url=PAGE.url, warc_date=PAGE.warc_date, title="", source="", response_id="")
    assert json.loads(untitled.json_line(False))["title"] == PAGE.url
    assert json.loads(untitled.json_line(False))["id"] == line["id"]  # stable: same capture, same id
