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



def test_the_crawl_drops_the_one_list_of_session_and_tracking_parameters() -> None:
    from crawler import settings
    from crawler.urls import DEFAULT_DROP_PARAMS, DEFAULT_DROP_PREFIXES, TRACKING_PARAMS

    assert settings.CANONICAL_DROP_PARAMS == list(DEFAULT_DROP_PARAMS)
    assert settings.CANONICAL_DROP_PREFIXES == list(DEFAULT_DROP_PREFIXES)
    assert set(TRACKING_PARAMS) <= set(DEFAULT_DROP_PARAMS)
    # an offset on some sites, so never dropped by the crawl
    assert canonicalize("http://example.com/list?from=20&yclid=1") == "http://example.com/list?from=20"


def test_credentials_in_a_link_are_never_kept() -> None:
    assert canonicalize("http://user:secret@Example.com:8080/a") == "http://example.com:8080/a"
