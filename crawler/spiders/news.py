"""The generic `news` spider: feeds, sitemaps, listing pages and articles of every source.

Scope and traps are enforced by middlewares from the request meta the spider sets
(source, allowed domains, limits); the spider only decides what links mean.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator, Iterator, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.items import PageItem
from crawler.meta import (
    ALLOWED_META_KEY,
    DEPTH_META_KEY,
    LANG_META_KEY,
    MAX_DEPTH_META_KEY,
    MAX_PAGES_META_KEY,
    RESPONSE_ID_META_KEY,
    SOURCE_META_KEY,
    WARC_DATE_META_KEY,
)
from crawler.sources import Source, load_sources
from crawler.urls import canonicalize

logger = logging.getLogger(__name__)

_FEED_LINKS = (
    "//item/link/text() | //item/guid[not(@isPermaLink='false')]/text()"
    " | //*[local-name()='entry']/*[local-name()='link'][not(@rel) or @rel='alternate']/@href"
)
_FEED_TYPES = (b"rss", b"atom", b"xml")


class NewsSpider(Spider):
    name = "news"

    def __init__(self, sources: list[Source], *, drop_params: list[str], drop_prefixes: list[str],
                 article_items: bool = True, job_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources = {s.name: s for s in sources}
        self.drop_params = drop_params
        self.drop_prefixes = drop_prefixes
        self.article_items = article_items
        self.job_name = job_name or "news"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        s = crawler.settings
        path = kwargs.pop("sources", None) or s.get("NEWSARCHIVE_SOURCES")
        names = kwargs.pop("source", None)
        only = [n for n in names.split(",") if n] if names else s.getlist("NEWSARCHIVE_SOURCE_NAMES")
        sources = load_sources(path, only or None)
        spider = cls(
            sources,
            *args,
            drop_params=s.getlist("CANONICAL_DROP_PARAMS"),
            drop_prefixes=s.getlist("CANONICAL_DROP_PREFIXES"),
            article_items=s.getbool("NEWSARCHIVE_ARTICLE_ITEMS"),
            job_name=kwargs.pop("job_name", None) or "+".join(sorted(x.name for x in sources)),
            **kwargs,
        )
        spider._set_crawler(crawler)
        return spider

    # -- requests -------------------------------------------------------------------------
    def canonical(self, url: str) -> str:
        return canonicalize(url, self.drop_params, self.drop_prefixes)

    def _request(self, url: str, source: Source, callback, depth: int | None = None, **meta: Any) -> Request:
        base = {
            SOURCE_META_KEY: source.name,
            LANG_META_KEY: source.lang,
            ALLOWED_META_KEY: list(source.allowed_domains),
            MAX_DEPTH_META_KEY: source.max_depth,
            MAX_PAGES_META_KEY: source.max_pages,
        }
        if depth is not None:
            base[DEPTH_META_KEY] = depth
        base.update(meta)
        return Request(self.canonical(url), callback=callback, meta=base, errback=self.on_error)

    async def start(self) -> AsyncIterator[Request]:
        for source in self.sources.values():
            for url in source.feeds:
                yield self._request(url, source, self.parse_feed, depth=0)
            for url in source.sitemaps:
                yield self._request(url, source, self.parse_sitemap, depth=0)
            for url in source.start_urls:
                yield self._request(url, source, self.parse_page, depth=0)

    def on_error(self, failure) -> None:
        request = failure.request if hasattr(failure, "request") else None
        self.crawler.stats.inc_value(f"pages/errors/{failure.type.__name__}")
        logger.info("Fetch failed: %(url)s (%(error)s)",
                    {"url": getattr(request, "url", "?"), "error": failure.getErrorMessage()})

    # -- callbacks ------------------------------------------------------------------------
    def parse_page(self, response: Response) -> Iterator[Any]:
        source = self.sources[response.meta[SOURCE_META_KEY]]
        stats = self.crawler.stats
        if not isinstance(response, HtmlResponse):
            if isinstance(response, XmlResponse) or _looks_like_feed(response):
                yield from self.parse_feed(response)
            else:
                stats.inc_value("pages/not_html")
            return
        try:
            hrefs = response.xpath("//a/@href | //link[@rel='alternate']/@href").getall()
        except Exception:
            stats.inc_value("pages/parse_errors")
            logger.warning("Could not parse links from %(url)s", {"url": response.url}, exc_info=True)
            hrefs = []
        if response.status < 400 and source.is_article(response.url):
            stats.inc_value("pages/articles")
            stats.inc_value(f"source/{source.name}/articles")
            if self.article_items:
                yield self._article_item(response, source)
        yield from self._follow(response, source, hrefs)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        source = self.sources[response.meta[SOURCE_META_KEY]]
        if isinstance(response, HtmlResponse) and not _looks_like_feed(response):
            yield from self.parse_page(response)
            return
        if not isinstance(response, TextResponse):  # a feed served as application/octet-stream
            response = TextResponse(url=response.url, body=response.body, encoding="utf-8", request=response.request)
        try:
            links = response.xpath(_FEED_LINKS).getall()
        except Exception:
            self.crawler.stats.inc_value("feeds/parse_errors")
            logger.warning("Not a readable feed: %(url)s", {"url": response.url})
            return
        self.crawler.stats.inc_value("feeds/parsed")
        for link in links:
            url = response.urljoin(link.strip())
            if source.allows(url):
                yield self._request(url, source, self.parse_page, depth=response.meta.get(DEPTH_META_KEY, 0) + 1)
            else:
                self.crawler.stats.inc_value("scope/offsite_links")

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        source = self.sources[response.meta[SOURCE_META_KEY]]
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception:
                self.crawler.stats.inc_value("sitemaps/parse_errors")
                return
        try:
            sitemap = Sitemap(body)
        except Exception:
            self.crawler.stats.inc_value("sitemaps/parse_errors")
            logger.warning("Not a readable sitemap: %(url)s", {"url": response.url})
            return
        self.crawler.stats.inc_value("sitemaps/parsed")
        callback = self.parse_sitemap if sitemap.type == "sitemapindex" else self.parse_page
        depth = response.meta.get(DEPTH_META_KEY, 0) + (0 if sitemap.type == "sitemapindex" else 1)
        for entry in sitemap:
            url = response.urljoin(entry.get("loc", "").strip())
            if source.allows(url):
                yield self._request(url, source, callback, depth=depth)
            else:
                self.crawler.stats.inc_value("scope/offsite_links")

    # -- helpers ---------------------------------------------------------------------------
    def _follow(self, response: HtmlResponse, source: Source, hrefs: list[str]) -> Iterator[Request]:
        stats = self.crawler.stats
        for href in hrefs:
            href = href.strip()
            if not href or href.startswith(("javascript:", "mailto:", "tel:", "data:", "#")):
                continue
            try:
                url = self.canonical(response.urljoin(href))
            except ValueError:
                stats.inc_value("links/invalid")
                continue
            if not source.allows(url):
                stats.inc_value("scope/offsite_links")
                continue
            if source.is_article(url) or source.should_follow(url):
                yield self._request(url, source, self.parse_page)

    def _article_item(self, response: HtmlResponse, source: Source) -> PageItem:
        try:
            html = response.text
        except Exception:
            html = response.body.decode("utf-8", "replace")
        return PageItem(
            url=response.url,
            source=source.name,
            lang=source.lang,
            status=response.status,
            fetched_at=response.meta.get(WARC_DATE_META_KEY),
            warc_record_id=response.meta.get(RESPONSE_ID_META_KEY),
            html=html,
        )


def _looks_like_feed(response: Response) -> bool:
    ctype = (response.headers.get(b"Content-Type") or b"").lower()
    if any(t in ctype for t in _FEED_TYPES):
        return True
    head = response.body[:512].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head or b"<rdf" in head)
