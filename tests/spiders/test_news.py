"""NewsSpider on its own: what feeds, sitemaps, listings and articles mean, with hand-built responses."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest
from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.spiders.news import NewsSpider

SOURCES = """
[[source]]
name = "mock"
lang = "en"
start_urls = ["http://news.example/"]
allowed_domains = ["news.example"]
feeds = ["http://news.example/feed.xml"]
sitemaps = ["http://news.example/sitemap.xml"]
article_pattern = '^http://news\\.example/articles/\\d+$'
follow_pattern = '^http://news\\.example/(page/\\d+)?$'
max_depth = 3
max_pages = 50

[[source]]
name = "zh"
lang = "zh"
start_urls = ["http://zh.example/"]
allowed_domains = ["zh.example"]
article_pattern = '/posts/'
"""


def make_spider(tmp_path: Path, settings: dict[str, object] | None = None, **kwargs: str) -> NewsSpider:
    """The spider as Scrapy builds it, over the project's settings module and a sources file."""
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    project = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    crawler = get_crawler(NewsSpider, {**project, "NEWSARCHIVE_SOURCES": str(path), **(settings or {})})
    crawler.stats.open_spider()
    spider = NewsSpider.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    return spider


@pytest.fixture
def spider(tmp_path: Path) -> NewsSpider:
    return make_spider(tmp_path)


def stat(spider: NewsSpider, key: str) -> object:
    return spider.crawler.stats.get_value(key)


def meta(source: str = "mock", depth: int = 0) -> dict[str, object]:
    return {"source": source, "depth": depth}


def respond(cls: type[Response], url: str, body: bytes, content_type: str | None = None,
            status: int = 200, **request_meta: object) -> Response:
    headers = {"Content-Type": content_type} if content_type else {}
    request = Request(url, meta={**meta(), **request_meta})
    return cls(url, body=body, headers=headers, status=status, request=request)


def requests_of(results: object) -> list[Request]:
    return [r for r in results if isinstance(r, Request)]  # type: ignore[attr-defined]


def test_start_requests_feeds_sitemaps_then_start_urls_with_the_sources_meta(spider: NewsSpider) -> None:
    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    requests = asyncio.run(collect())
    assert [(r.url, r.callback) for r in requests] == [
        ("http://news.example/feed.xml", spider.parse_feed),
        ("http://news.example/sitemap.xml", spider.parse_sitemap),
        ("http://news.example/", spider.parse_page),
        ("http://zh.example/", spider.parse_page),
    ]
    first = requests[0].meta
    assert first["source"] == "mock" and first["lang"] == "en" and first["depth"] == 0
    assert first["allowed_domains"] == ["news.example"]
    assert first["max_depth"] == 3 and first["max_pages"] == 50
    assert requests[3].meta["lang"] == "zh" and requests[3].meta["max_depth"] is None
    assert all(r.errback == spider.on_error for r in requests)


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Mock</title>
<item><title>One</title><link> http://news.example/articles/1 </link></item>
<item><title>Two</title><link>/articles/2?utm_source=rss</link></item>
<item><title>Guid only</title><guid>http://news.example/articles/3</guid></item>
<item><title>Not a permalink</title><guid isPermaLink="false">tag:news.example,2026:4</guid></item>
<item><title>Elsewhere</title><link>http://offsite.invalid/articles/9</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Mock</title>
<entry><title>A</title><link href="http://news.example/articles/5"/></entry>
<entry><title>B</title><link rel="alternate" href="http://news.example/articles/6"/>
  <link rel="replies" href="http://news.example/articles/6/comments"/></entry>
</feed>"""


def test_a_feed_schedules_its_in_scope_links_one_level_deeper(spider: NewsSpider) -> None:
    response = respond(XmlResponse, "http://news.example/feed.xml", RSS, "application/rss+xml", depth=0)
    requests = requests_of(spider.parse_feed(response))
    assert [r.url for r in requests] == [
        "http://news.example/articles/1", "http://news.example/articles/2", "http://news.example/articles/3"]
    assert all(r.callback == spider.parse_page and r.meta["depth"] == 1 for r in requests)
    assert stat(spider, "feeds/parsed") == 1
    assert stat(spider, "scope/offsite_links") == 1


def test_an_atom_feed_gives_its_alternate_links(spider: NewsSpider) -> None:
    response = respond(XmlResponse, "http://news.example/atom.xml", ATOM, "application/atom+xml")
    assert [r.url for r in requests_of(spider.parse_feed(response))] == [
        "http://news.example/articles/5", "http://news.example/articles/6"]


def test_a_feed_sent_as_octet_stream_is_still_read(spider: NewsSpider) -> None:
    response = respond(Response, "http://news.example/feed", RSS, "application/octet-stream")
    assert len(requests_of(spider.parse_feed(response))) == 3


def test_a_feed_url_that_answers_html_is_parsed_as_a_page(spider: NewsSpider) -> None:
    body = b'<html><body><a href="/articles/7">seven</a></body></html>'
    response = respond(HtmlResponse, "http://news.example/feed.xml", body, "text/html")
    assert [r.url for r in requests_of(spider.parse_feed(response))] == ["http://news.example/articles/7"]
    assert stat(spider, "feeds/parsed") is None


def test_a_page_url_that_answers_a_feed_is_parsed_as_a_feed(spider: NewsSpider) -> None:
    response = respond(XmlResponse, "http://news.example/", RSS, "application/rss+xml")
    assert len(requests_of(spider.parse_page(response))) == 3
    sniffed = respond(TextResponse, "http://news.example/", RSS, "text/plain")
    assert len(requests_of(spider.parse_page(sniffed))) == 3


SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://news.example/articles/10</loc><lastmod>2026-11-14</lastmod></url>
<url><loc> http://news.example/articles/11 </loc></url>
<url><loc>http://offsite.invalid/articles/12</loc></url>
</urlset>"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>http://news.example/sitemap-1.xml</loc></sitemap>
<sitemap><loc>http://news.example/sitemap-2.xml.gz</loc></sitemap>
</sitemapindex>"""


def test_a_sitemap_schedules_pages_and_an_index_schedules_sitemaps_at_the_same_depth(spider: NewsSpider) -> None:
    urlset = respond(XmlResponse, "http://news.example/sitemap.xml", SITEMAP, "application/xml", depth=1)
    pages = requests_of(spider.parse_sitemap(urlset))
    assert [r.url for r in pages] == ["http://news.example/articles/10", "http://news.example/articles/11"]
    assert all(r.callback == spider.parse_page and r.meta["depth"] == 2 for r in pages)
    index = respond(XmlResponse, "http://news.example/sitemap.xml", SITEMAP_INDEX, "application/xml", depth=1)
    sitemaps = requests_of(spider.parse_sitemap(index))
    assert [r.url for r in sitemaps] == ["http://news.example/sitemap-1.xml", "http://news.example/sitemap-2.xml.gz"]
    assert all(r.callback == spider.parse_sitemap and r.meta["depth"] == 1 for r in sitemaps)
    assert stat(spider, "sitemaps/parsed") == 2
    assert stat(spider, "scope/offsite_links") == 1


def test_a_gzipped_sitemap_is_read(spider: NewsSpider) -> None:
    response = respond(Response, "http://news.example/sitemap.xml.gz", gzip.compress(SITEMAP), "application/x-gzip")
    assert len(requests_of(spider.parse_sitemap(response))) == 2


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00broken gzip", b""])
def test_an_unreadable_sitemap_is_counted_not_raised(spider: NewsSpider, body: bytes) -> None:
    response = respond(Response, "http://news.example/sitemap.xml", body, "application/xml")
    assert requests_of(spider.parse_sitemap(response)) == []
    assert stat(spider, "sitemaps/parse_errors") == 1


def test_a_sitemap_that_is_html_schedules_nothing(spider: NewsSpider) -> None:
    response = respond(Response, "http://news.example/sitemap.xml", b"<html><a href='/x'>x</a></html>", "text/html")
    assert requests_of(spider.parse_sitemap(response)) == []


LISTING = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body>
<a href="/articles/1#comments">one</a>
<a href="/articles/2?utm_source=x&amp;sessionid=S">two</a>
<a href="  /page/2  ">older</a>
<a href="/about">about (neither article nor listing)</a>
<a href="http://offsite.invalid/articles/3">elsewhere</a>
<a href="javascript:void(0)">js</a><a href="mailto:a@b">mail</a><a href="#top">top</a><a href="">empty</a>
<a href="http://[::1/x">broken</a>
</body></html>"""


def test_a_listing_follows_articles_and_listing_pages_canonically(spider: NewsSpider) -> None:
    response = respond(HtmlResponse, "http://news.example/", LISTING, "text/html; charset=utf-8", depth=0)
    results = list(spider.parse_page(response))
    assert not [r for r in results if not isinstance(r, Request)]  # the home page is not an article
    assert [r.url for r in results] == [
        "http://news.example/articles/1", "http://news.example/articles/2", "http://news.example/page/2"]
    assert all(r.callback == spider.parse_page and r.meta["source"] == "mock" for r in results)
    assert all("depth" not in r.meta for r in results)  # the trap middleware sets it from the response
    assert stat(spider, "scope/offsite_links") == 1
    assert stat(spider, "links/invalid") == 1


def test_an_article_gives_an_item_and_its_links(spider: NewsSpider) -> None:
    body = b'<html><head><title>T</title></head><body><p>Text</p><a href="/articles/2">next</a></body></html>'
    response = respond(HtmlResponse, "http://news.example/articles/1", body, "text/html; charset=utf-8",
                       warc_response_id="<urn:uuid:1>", warc_date="2026-11-28T12:00:00Z")
    results = list(spider.parse_page(response))
    items = [ItemAdapter(r) for r in results if not isinstance(r, Request)]
    assert len(items) == 1
    item = items[0]
    assert item["url"] == "http://news.example/articles/1"
    assert item["source"] == "mock" and item["lang"] == "en" and item["status"] == 200
    assert item["html"] == body.decode()
    assert item["warc_record_id"] == "<urn:uuid:1>" and item["fetched_at"] == "2026-11-28T12:00:00Z"
    assert [r.url for r in results if isinstance(r, Request)] == ["http://news.example/articles/2"]
    assert stat(spider, "pages/articles") == 1


def test_an_article_url_that_errs_gives_no_item(spider: NewsSpider) -> None:
    response = respond(HtmlResponse, "http://news.example/articles/404", b"<html>gone</html>", "text/html", status=404)
    assert [r for r in spider.parse_page(response) if not isinstance(r, Request)] == []
    assert stat(spider, "pages/articles") is None


def test_items_can_be_turned_off(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, {"NEWSARCHIVE_ARTICLE_ITEMS": False})
    response = respond(HtmlResponse, "http://news.example/articles/1", b"<p>x</p>", "text/html")
    assert list(spider.parse_page(response)) == []
    assert stat(spider, "pages/articles") == 1


def test_a_pdf_is_counted_as_not_html(spider: NewsSpider) -> None:
    response = respond(Response, "http://news.example/report", b"%PDF-1.4\n\x00\xff", "application/pdf")
    assert list(spider.parse_page(response)) == []
    assert stat(spider, "pages/not_html") == 1


def test_a_source_subset_and_the_job_name(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, source="zh")
    assert list(spider.sources) == ["zh"] and spider.job_name == "zh"
    assert make_spider(tmp_path).job_name == "mock+zh"


def test_tracking_parameters_come_from_settings(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, {"CANONICAL_DROP_PARAMS": ["id"], "CANONICAL_DROP_PREFIXES": []})
    assert spider.canonical("http://news.example/a?utm_source=x&id=2&b=1") == "http://news.example/a?utm_source=x&b=1"
