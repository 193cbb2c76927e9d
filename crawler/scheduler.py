"""The shared frontier of `newsarchive crawl --worker`: scrapy-redis's scheduler, counted as Scrapy 2.14+ wants.

scrapy-redis 0.9 passes ``spider=`` to ``StatsCollector.inc_value``, deprecated since Scrapy 2.14
(a warning per request in every worker's log); the queue, the seen-set and persistence are its own.
"""

from __future__ import annotations

from scrapy import Request
from scrapy_redis.scheduler import Scheduler


class SharedScheduler(Scheduler):
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
