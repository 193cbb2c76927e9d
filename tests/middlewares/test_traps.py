"""TrapDefenseMiddleware on its own: each defence a setting and a counter, a page counted once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.middlewares.traps import TrapDefenseMiddleware, repeated_runs, repeated_segments

SETTINGS = {"TRAP_MAX_PAGES_PER_SOURCE": 3, "TRAP_MAX_DEPTH": 2, "TRAP_MAX_URL_LENGTH": 60,
            "TRAP_MAX_REPEATED_SEGMENTS": 2}


def make_mw(**settings: int) -> TrapDefenseMiddleware:
    crawler = get_crawler(settings_dict={**SETTINGS, **settings})
    crawler.stats.open_spider()
    return build_from_crawler(TrapDefenseMiddleware, crawler)


def req(url: str, depth: int = 1, source: str = "s", **meta: object) -> Request:
    return Request(url, meta={"source": source, "depth": depth, **meta})


def stat(mw: TrapDefenseMiddleware, key: str) -> object:
    return mw.crawler.stats.get_value(key)


def test_the_same_page_linked_many_times_counts_once() -> None:
    mw = make_mw()
    assert all(mw.allow(req("http://a.example/1")) for _ in range(10))
    assert mw.allow(req("http://a.example/2")) and mw.allow(req("http://a.example/3"))
    assert not mw.allow(req("http://a.example/4"))
    assert mw.allow(req("http://a.example/1"))  # already let through: costs nothing
    assert stat(mw, "traps/max_pages") == 1


def test_pages_are_counted_per_source_and_a_source_may_set_its_own_limit() -> None:
    mw = make_mw()
    for n in range(3):
        assert mw.allow(req(f"http://a.example/{n}", source="a"))
    assert mw.allow(req("http://b.example/0", source="b"))
    assert not mw.allow(req("http://a.example/3", source="a"))
    assert all(mw.allow(req(f"http://c.example/{n}", source="c", max_pages=5)) for n in range(5))
    assert not mw.allow(req("http://c.example/5", source="c", max_pages=5))
    assert stat(mw, "traps/max_pages") == 2


def test_depth_uses_the_sources_limit_then_the_setting() -> None:
    mw = make_mw()
    assert mw.allow(req("http://a.example/d2", depth=2))
    assert not mw.allow(req("http://a.example/d3", depth=3))
    assert mw.allow(req("http://a.example/s3", depth=3, max_depth=4))
    assert not mw.allow(req("http://a.example/s1", depth=2, max_depth=1))
    assert stat(mw, "traps/depth") == 2


def test_long_urls_and_repeated_segments_are_cut() -> None:
    mw = make_mw()
    assert not mw.allow(req("http://a.example/" + "x" * 80))
    assert not mw.allow(req("http://a.example/calendar/2026/11/2026/11/"))
    assert not mw.allow(req("http://a.example/a/b/a/c/a"))
    assert stat(mw, "traps/url_too_long") == 1
    assert stat(mw, "traps/repeated_segments") == 2
    assert stat(mw, "traps/max_pages") is None  # rejected pages never took a page slot


def test_a_zero_setting_turns_its_defence_off() -> None:
    mw = make_mw(TRAP_MAX_PAGES_PER_SOURCE=0, TRAP_MAX_DEPTH=0, TRAP_MAX_REPEATED_SEGMENTS=0)
    assert all(mw.allow(req(f"http://a.example/{n}", depth=50)) for n in range(20))
    assert mw.allow(req("http://a.example/calendar/2026/11/2026/11/2026/11/"))


def test_requests_without_a_source_are_not_ours_to_judge() -> None:
    mw = make_mw()
    assert mw.allow(Request("http://a.example/" + "x" * 200, meta={"depth": 99}))


@pytest.mark.parametrize("url, runs, segments", [
    ("http://a/calendar/2026/11/2026/11/", 2, 2),
    ("http://a/calendar/2026/11/2026/11/2026/11/", 3, 3),
    ("http://a/2024/11/11/story", 1, 2),  # a date is not a trap
    ("http://a/a/b/a/c/a", 1, 3),
    ("http://a/", 1, 0),
    ("http://a/%E6%96%87/%E6%96%87", 1, 2),  # compared decoded
])
def test_repeat_measures(url: str, runs: int, segments: int) -> None:
    assert repeated_runs(url) == runs
    assert repeated_segments(url) == segments


def test_the_first_rejection_of_each_kind_is_logged_the_rest_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crawler.middlewares.traps")
    mw = make_mw()
    for n in range(5):
        mw.allow(req(f"http://a.example/deep{n}", depth=9))
    assert stat(mw, "traps/depth") == 5
    assert len(caplog.records) == 1
    assert "http://a.example/deep0" in caplog.records[0].getMessage()


def page(depth: int) -> HtmlResponse:
    return HtmlResponse("http://a.example/page", body=b"<html></html>",
                        request=Request("http://a.example/page", meta={"source": "s", "depth": depth}))


def test_spider_output_gets_depth_from_its_response_and_is_filtered() -> None:
    mw = make_mw()
    out: Iterable[object] = [
        Request("http://a.example/child", meta={"source": "s"}),
        {"an": "item"},
        Request("http://a.example/" + "y" * 80, meta={"source": "s"}),
    ]
    kept = list(mw.process_spider_output(page(1), out))
    assert kept[1] == {"an": "item"} and len(kept) == 2
    assert kept[0].meta["depth"] == 2
    deep = list(mw.process_spider_output(page(2), [Request("http://a.example/grandchild", meta={"source": "s"})]))
    assert deep == [] and stat(mw, "traps/depth") == 1


def test_async_output_and_start_requests_are_filtered_too() -> None:
    mw = make_mw()

    async def agen(items: list[object]) -> AsyncIterator[object]:
        for item in items:
            yield item

    async def collect(it: AsyncIterator[object]) -> list[object]:
        return [x async for x in it]

    start = [req("http://a.example/start", depth=0), req("http://a.example/" + "z" * 80, depth=0)]
    kept_start = asyncio.run(collect(mw.process_start(agen(start))))
    assert [r.url for r in kept_start] == ["http://a.example/start"]
    out = [Request("http://a.example/next", meta={"source": "s"})]
    kept = asyncio.run(collect(mw.process_spider_output_async(page(0), agen(out))))
    assert [(r.url, r.meta["depth"]) for r in kept] == [("http://a.example/next", 1)]
