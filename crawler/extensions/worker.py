"""A worker of a shared crawl (``newsarchive crawl --worker``): heartbeats, and when to stop.

Scrapy closes a spider as soon as its scheduler is empty; a worker's scheduler is the shared frontier,
which is empty for a moment whenever the other workers hold every request in flight. So the worker
stays open (``DontCloseSpider``) while the frontier has requests or another live worker is busy (its
responses may bring new links), and stops once both have stayed so for WORKER_IDLE_TIMEOUT seconds.
While waiting it looks at the frontier every WORKER_POLL_INTERVAL seconds instead of the engine's 5.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured

from crawler.workers import Membership, SharedCrawl, redacted, redis_client

logger = logging.getLogger(__name__)


class SharedCrawlExtension:
    def __init__(self, crawler: Crawler, shared: SharedCrawl, *, idle_timeout: float, poll_interval: float,
                 redis_url: str) -> None:
        self.crawler = crawler
        self.shared = shared
        self.idle_timeout = idle_timeout
        self.poll_interval = poll_interval
        self.redis_url = redis_url
        self.idle_since: float | None = None
        self.waiting = False  # the engine has found nothing to do at least once
        self._last_beat = 0.0
        self._loop = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        joined = s.getdict("WORKER_MEMBERSHIP")
        if not s.getbool("NEWSARCHIVE_WORKER") or not joined:
            raise NotConfigured("not a worker of a shared crawl (newsarchive crawl --worker)")
        membership = Membership(int(joined["crawl"]), int(joined["worker"]), bool(joined["started"]))
        shared = SharedCrawl(redis_client(s.get("REDIS_URL")), joined["base"], heartbeat=s.getfloat("WORKER_HEARTBEAT"),
                             host=socket.gethostname(), pid=os.getpid(), membership=membership)
        return cls(crawler, shared, idle_timeout=s.getfloat("WORKER_IDLE_TIMEOUT"),
                   poll_interval=s.getfloat("WORKER_POLL_INTERVAL"), redis_url=s.get("REDIS_URL"))

    def spider_opened(self) -> None:
        from twisted.internet import task

        m = self.shared.member()
        logger.info("Worker %(worker)d of shared crawl %(crawl)d (%(how)s) on Redis %(url)s, %(queued)d requests queued",
                    {"worker": m.worker, "crawl": m.crawl, "how": "started it" if m.started else "joined",
                     "url": redacted(self.redis_url), "queued": self.shared.queued()})
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("worker/id", m.worker)
            self.crawler.stats.set_value("worker/crawl", m.crawl)
        self._beat(busy=True)
        self._loop = task.LoopingCall(self._tick)
        self._loop.start(self.poll_interval, now=False)

    def spider_closed(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        try:
            self.shared.leave()
        except Exception:  # Redis gone: the heartbeat ages out instead
            logger.warning("Could not leave the shared crawl in Redis", exc_info=True)

    # -- the reactor's view, every poll interval ----------------------------------------------------
    def _busy(self) -> bool:
        engine = self.crawler.engine
        try:
            return engine is not None and engine.running and not engine.spider_is_idle()
        except RuntimeError:  # no spider open (yet, or any more)
            return False

    def _beat(self, *, busy: bool) -> None:
        self.shared.beat(busy=busy)
        self._last_beat = time.monotonic()

    def _tick(self) -> None:
        try:
            if time.monotonic() - self._last_beat >= self.shared.heartbeat:
                self._beat(busy=self._busy())
            if self.waiting:
                self._wake_engine()  # spider_idle comes again at once: requests are pulled, or the wait counted
        except Exception:  # a Redis hiccup must not end the loop; the heartbeat ages, the crawl goes on
            logger.warning("Shared crawl: Redis unreachable", exc_info=True)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("worker/redis_errors")

    def _wake_engine(self) -> None:
        # Scrapy has no public "look at the scheduler now": its engine's own heartbeat does this every
        # 5 s (ExecutionEngine._SLOT_HEARTBEAT_INTERVAL). Without it the call is skipped, not an error.
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    # -- when to stop -------------------------------------------------------------------------------
    def spider_idle(self) -> None:
        """The local engine has nothing to do: wait for the others, or stop after the idle timeout."""
        self.waiting = True
        if self.shared.queued() or self.shared.others_busy():
            self.idle_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
            self._beat(busy=False)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("worker/idle_waits")
        if now - self.idle_since < self.idle_timeout:
            raise DontCloseSpider
        logger.info("Shared frontier empty and no other worker busy for %(s).0f s: this worker stops",
                    {"s": now - self.idle_since})
