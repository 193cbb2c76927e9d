"""The shared frontier of `newsarchive crawl --worker`: scrapy-redis's scheduler, counted as Scrapy 2.14+ wants.

scrapy-redis 0.9 passes ``spider=`` to ``StatsCollector.inc_value`` and logs through ``Spider.log``,
both deprecated since Scrapy 2.14 (warnings in every worker's log); the queue, the seen-set and
persistence are its own.
"""

from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler

logger = logging.getLogger(__name__)


class SharedScheduler(Scheduler):
    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider, key=self.queue_key,
                                                 serializer=self.serializer)
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if self.flush_on_start:
            self.flush()
        if len(self.queue):
            logger.info("Joining a shared crawl with %(n)d requests queued", {"n": len(self.queue)})

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop(self.idle_before_close)
        if request and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request
