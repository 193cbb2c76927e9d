"""SourceScopeMiddleware on its own: requests outside their source's allowed domains are dropped."""

from __future__ import annotations

import logging

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.middlewares.scope import SourceScopeMiddleware

ALLOWED = ["news.example", "127.0.0.1:8080"]


@pytest.fixture
def mw() -> SourceScopeMiddleware:
    crawler = get_crawler()
    crawler.stats.open_spider()
    return build_from_crawler(SourceScopeMiddleware, crawler)


def req(url: str) -> Request:
    return Request(url, meta={"source": "s", "allowed_domains": ALLOWED})


@pytest.mark.parametrize("url", [
    "http://news.example/a",
    "https://www.news.example/a",  # subdomains of an allowed domain
    "http://NEWS.example./a",  # case and a trailing dot
    "http://127.0.0.1:8080/x",  # host:port entries match that port only
])
def test_in_scope_requests_pass(mw: SourceScopeMiddleware, url: str) -> None:
    assert mw.process_request(req(url)) is None
    assert mw.crawler.stats.get_value("scope/offsite") is None


@pytest.mark.parametrize("url", [
    "http://offsite.invalid/x",
    "http://evilnews.example/a",  # a suffix of the name is not a subdomain
    "http://news.example.evil.invalid/a",
    "http://127.0.0.1:8081/x",
    "http://127.0.0.1/x",
    "ftp://news.example/a",
    "http://news.example@offsite.invalid/a",  # the allowed name as userinfo: the host is offsite
])
def test_offsite_requests_are_dropped_and_counted(mw: SourceScopeMiddleware, url: str) -> None:
    with pytest.raises(IgnoreRequest, match="offsite"):
        mw.process_request(req(url))
    assert mw.crawler.stats.get_value("scope/offsite") == 1


def test_a_redirect_offsite_is_dropped_because_meta_is_carried(mw: SourceScopeMiddleware) -> None:
    # RedirectMiddleware builds the follow-up with request.replace(url=...): same meta, new URL.
    redirected = req("http://news.example/redirect").replace(url="http://offsite.invalid/")
    with pytest.raises(IgnoreRequest):
        mw.process_request(redirected)


def test_engine_requests_without_a_source_pass(mw: SourceScopeMiddleware) -> None:
    assert mw.process_request(Request("http://anything.invalid/robots.txt")) is None


def test_each_offsite_host_is_logged_once(mw: SourceScopeMiddleware, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crawler.middlewares.scope")
    for path in ("a", "b", "c"):
        with pytest.raises(IgnoreRequest):
            mw.process_request(req(f"http://offsite.invalid/{path}"))
    with pytest.raises(IgnoreRequest):
        mw.process_request(req("http://other.invalid/"))
    assert mw.crawler.stats.get_value("scope/offsite") == 4
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2
    assert "http://offsite.invalid/a" in logged[0] and "http://other.invalid/" in logged[1]
