"""PageItem: what the spider yields, what the dedup pipeline makes of it, what the feed export writes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.exporters import JsonLinesItemExporter
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler import meta
from crawler.items import EXPORT_FIELDS, PageItem
from crawler.spiders.news import NewsSpider


def make_spider(tmp_path: Path) -> NewsSpider:
    sources = tmp_path / "sources.toml"
    sources.write_text(textwrap.dedent("""\
        [[source]]
        name = "s"
        lang = "zh"
        start_urls = ["http://127.0.0.1:8/"]
        allowed_domains = ["127.0.0.1:8"]
        article_pattern = "/a/"
        max_depth = 3
        max_pages = 7
        """), encoding="utf-8")
    crawler = get_crawler(NewsSpider, {"NEWSARCHIVE_SOURCES": str(sources), "NEWSARCHIVE_ARTICLE_ITEMS": True})
    crawler.stats.open_spider()
    return NewsSpider.from_crawler(crawler)


def test_requests_carry_every_meta_key_under_its_one_spelling(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    request = spider._request("http://127.0.0.1:8/a/1", spider.sources["s"], spider.parse_page, depth=0)
    assert request.meta == {meta.SOURCE_META_KEY: "s", meta.LANG_META_KEY: "zh",
                            meta.ALLOWED_META_KEY: ["127.0.0.1:8"], meta.MAX_DEPTH_META_KEY: 3,
                            meta.MAX_PAGES_META_KEY: 7, meta.DEPTH_META_KEY: 0}


def test_an_article_page_is_a_page_item_linked_to_its_capture(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    request = Request("http://127.0.0.1:8/a/1", meta={
        meta.SOURCE_META_KEY: "s", meta.RESPONSE_ID_META_KEY: "<urn:uuid:1>",
        meta.WARC_DATE_META_KEY: "2026-12-02T07:00:00.000000Z"})
    response = HtmlResponse("http://127.0.0.1:8/a/1", body="<html><p>漏洞</p></html>".encode(), encoding="utf-8",
                            request=request)
    items = [x for x in spider.parse_page(response) if isinstance(x, PageItem)]
    assert items == [PageItem(url="http://127.0.0.1:8/a/1", source="s", lang="zh", status=200,
                              fetched_at="2026-12-02T07:00:00.000000Z", warc_record_id="<urn:uuid:1>",
                              html="<html><p>漏洞</p></html>")]


def test_the_pipeline_writes_through_itemadapter_and_html_is_never_exported(tmp_path: Path) -> None:
    item = PageItem(url="u", source="s", lang="en", status=200, html="<p>x</p>")
    adapter = ItemAdapter(item)
    adapter["duplicates"] = [{"url": "v", "kind": "near_duplicate"}]
    adapter["title"] = "T"
    del adapter["html"]  # what the dedup pipeline does: it reads back as None, never raises
    assert "html" in adapter and adapter.get("html") is None and item.html is None
    out = tmp_path / "items.jsonl"
    with open(out, "wb") as f:
        exporter = JsonLinesItemExporter(f, fields_to_export=EXPORT_FIELDS)
        exporter.start_exporting()
        exporter.export_item(item)
        exporter.finish_exporting()
    row = json.loads(out.read_text())
    assert list(row) == EXPORT_FIELDS and "html" not in row
    assert row["duplicates"] == [{"url": "v", "kind": "near_duplicate"}] and row["title"] == "T"


def test_the_project_exports_those_fields() -> None:
    from crawler import settings

    assert settings.FEED_EXPORT_FIELDS == EXPORT_FIELDS


def test_no_meta_key_is_spelt_outside_crawler_meta() -> None:
    """Every ``meta[...]``/``meta.get(...)`` goes through a constant of crawler/meta.py."""
    import re

    import crawler

    literal = re.compile(r"""(?:request|response|item)\.meta(?:\[|\.get\(|\.setdefault\(|\.pop\()\s*["']""")
    root = Path(crawler.__file__).parent
    for path in [*root.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert not literal.search(text), f"{path}: {literal.search(text)}"
        if path.name != "meta.py":
            assert "_META_KEY = " not in text, path
