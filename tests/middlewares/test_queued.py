"""crawler/middlewares/queued.py: per source, the requests waiting in the scheduler."""

from __future__ import annotations

from scrapy import Request, Spider, signals
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.meta import SOURCE_META_KEY
from crawler.middlewares.queued import QueuedPerSourceMiddleware


def test_counts_scheduled_minus_dropped_minus_dequeued() -> None:
    crawler = get_crawler(Spider)
    crawler.stats.open_spider()
    mw = build_from_crawler(QueuedPerSourceMiddleware, crawler)
    a = [Request(f"http://a/{i}", meta={SOURCE_META_KEY: "a"}) for i in range(3)]
    robots = Request("http://a/robots.txt")
    for request in (*a, robots):
        crawler.signals.send_catch_log(signals.request_scheduled, request=request, spider=None)
    crawler.signals.send_catch_log(signals.request_dropped, request=a[2], spider=None)  # a duplicate
    assert crawler.stats.get_value("source/a/queued") == 2
    mw.process_request(a[0])
    mw.process_request(robots)
    assert crawler.stats.get_value("source/a/queued") == 1
    mw.process_request(a[1])
    mw.process_request(a[1])  # never below zero (a shared queue: taken here, scheduled elsewhere)
    assert crawler.stats.get_value("source/a/queued") == 0
    assert not [k for k in crawler.stats.get_stats() if "robots" in k or k.startswith("source//")]
