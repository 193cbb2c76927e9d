from __future__ import annotations

import pytest

from crawler.urls import canonicalize


@pytest.mark.parametrize("url, expected", [
    ("http://Example.COM:80/a?utm_source=x&id=3&utm_medium=y#frag", "http://example.com/a?id=3"),
    ("https://example.com:443/a?sessionid=ABC123", "https://example.com/a"),
    ("https://example.com/a;jsessionid=XYZ?x=1", "https://example.com/a?x=1"),
    ("http://127.0.0.1:8080/zh/文章/漏洞", "http://127.0.0.1:8080/zh/%E6%96%87%E7%AB%A0/%E6%BC%8F%E6%B4%9E"),
    ("http://example.com/%7euser/%e6%96%87", "http://example.com/~user/%E6%96%87"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com/a?b=2&a=1", "http://example.com/a?b=2&a=1"),  # order kept
    ("http://example.com/a?PHPSESSID=1&fbclid=2&q=x", "http://example.com/a?q=x"),
    ("http://example.com/c%2fd%2Fe", "http://example.com/c%2Fd%2Fe"),  # an escaped slash is not a slash
])
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_canonicalize_is_idempotent() -> None:
    for url in ("http://example.com/zh/文章?q=漏洞&utm_x=1", "https://a.b/c%2Fd?x=%20"):
        once = canonicalize(url)
        assert canonicalize(once) == once


def test_trap_defences_count_unique_pages_and_cut_traps() -> None:
    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from crawler.middlewares.traps import TrapDefenseMiddleware, repeated_runs, repeated_segments

    crawler = get_crawler(settings_dict={"TRAP_MAX_PAGES_PER_SOURCE": 3, "TRAP_MAX_DEPTH": 2,
                                         "TRAP_MAX_URL_LENGTH": 60, "TRAP_MAX_REPEATED_SEGMENTS": 2})
    crawler.stats.open_spider()
    mw = TrapDefenseMiddleware.from_crawler(crawler)

    def req(url: str, depth: int = 1) -> Request:
        return Request(url, meta={"source": "s", "depth": depth})

    # the same page linked many times counts once
    assert all(mw.allow(req("http://a.example/1")) for _ in range(10))
    assert mw.allow(req("http://a.example/2")) and mw.allow(req("http://a.example/3"))
    assert not mw.allow(req("http://a.example/4"))
    assert crawler.stats.get_value("traps/max_pages") == 1
    assert not mw.allow(req("http://a.example/deep", depth=3))
    assert not mw.allow(req("http://a.example/" + "x" * 80))
    assert not mw.allow(req("http://a.example/calendar/2026/11/2026/11/"))
    assert crawler.stats.get_value("traps/depth") == 1
    assert crawler.stats.get_value("traps/url_too_long") == 1
    assert crawler.stats.get_value("traps/repeated_segments") == 1
    assert repeated_runs("http://a/calendar/2026/11/2026/11/") == 2
    assert repeated_runs("http://a/2024/11/11/story") == 1  # a date is not a trap
    assert repeated_segments("http://a/a/b/a/c/a") == 3
