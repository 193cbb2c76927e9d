"""Several workers, one crawl: the shared crawl's state in Redis, and the settings that put a crawl on it.

The frontier (a scrapy-redis priority queue) and the seen-set (its request-fingerprint set) of a crawl
are shared by every ``newsarchive crawl --worker`` of the same source set and the same Redis. A
*shared crawl* is one generation of those keys; a worker joins the live generation or, when there is
none, starts the next one (a new, empty seen-set: a scheduled run fetches feeds and listings again).

Keys, under ``{WORKER_KEY_PREFIX}:{source set}``:
- ``crawl``: the number of the current generation ``N``;
- ``N:requests`` (sorted set), ``N:dupefilter`` (set): scrapy-redis's frontier and seen-set;
- ``N:workers`` (hash): worker id -> JSON heartbeat ``{host, pid, busy, at}`` (``at``: Redis's clock);
- ``worker_ids``: a counter that gives every worker a number (its WARC files carry it: ``-w{id}-``).

A generation is live while its frontier holds requests or one of its workers is alive (a heartbeat
younger than 5 intervals). So a crawl whose workers all died with requests queued is continued by
the next worker that starts; one whose frontier is empty and whose workers are gone is over.

A request a worker has popped and not finished is only in that worker's memory: a worker that dies
loses its in-flight requests (at most CONCURRENT_REQUESTS). They stay in the seen-set, so no other
worker of that generation fetches them; the next generation does, when it meets their links again
(README, "Several machines").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from crawler.errors import ConfigError, NewsarchiveError

if TYPE_CHECKING:
    import redis
    from scrapy.settings import BaseSettings

#: A worker whose last heartbeat is older than this many heartbeat intervals is dead.
DEAD_AFTER_BEATS = 5
#: The scrapy-redis components a worker's crawl runs on (the scheduler: scrapy-redis's, counted quietly).
SCHEDULER = "crawler.scheduler.SharedScheduler"
DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"
QUEUE = "scrapy_redis.queue.PriorityQueue"


class RedisUnavailable(NewsarchiveError):
    """The Redis server of REDIS_URL could not be reached (the message never holds its password)."""


def redacted(url: str) -> str:
    """A Redis URL fit for a log line: its password (and a user name's secret part) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def key_base(prefix: str, job: str) -> str:
    """``{prefix}:{job}``; a ``%`` would break scrapy-redis's ``key % {"spider": name}``."""
    return prefix + ":" + re.sub(r"[%\s]", "_", job)


@dataclass(frozen=True)
class Membership:
    """This worker's place in a shared crawl."""

    crawl: int
    worker: int
    started: bool  # this worker started the generation (it was the first)


class SharedCrawl:
    """The Redis side of one shared crawl: joining, heartbeats, what the other workers are doing."""

    def __init__(self, client: redis.Redis, base: str, *, heartbeat: float, host: str, pid: int,
                 membership: Membership | None = None) -> None:
        self.client = client
        self.base = base
        self.heartbeat = heartbeat
        self.host, self.pid = host, pid
        self.membership = membership  # set by join(), or given by a process that joined already

    # -- keys -------------------------------------------------------------------------------
    @property
    def current_key(self) -> str:
        return f"{self.base}:crawl"

    def requests_key(self, crawl: int) -> str:
        return f"{self.base}:{crawl}:requests"

    def dupefilter_key(self, crawl: int) -> str:
        return f"{self.base}:{crawl}:dupefilter"

    def workers_key(self, crawl: int) -> str:
        return f"{self.base}:{crawl}:workers"

    # -- joining ------------------------------------------------------------------------------
    def join(self) -> Membership:
        """Join the live generation, or start the next one (atomically: two workers starting at once
        end up in the same generation)."""
        import redis

        worker = int(self.client.incr(f"{self.base}:worker_ids"))
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.current_key)
                    current = int(pipe.get(self.current_key) or 0)
                    if current:
                        pipe.watch(self.workers_key(current))
                    live = bool(current) and self._live(pipe, current)
                    crawl = current if live else current + 1
                    now = self._now(pipe)
                    pipe.multi()
                    if not live:
                        pipe.set(self.current_key, crawl)
                        if current:  # the finished generation's keys: nobody reads them again
                            pipe.delete(self.requests_key(current), self.dupefilter_key(current),
                                        self.workers_key(current))
                    pipe.hset(self.workers_key(crawl), str(worker), self._beat_value(busy=True, at=now))
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        self.membership = Membership(crawl, worker, started=not live)
        return self.membership

    def _live(self, client: Any, crawl: int) -> bool:
        if int(client.zcard(self.requests_key(crawl))):
            return True
        return bool(self._alive(client.hgetall(self.workers_key(crawl)), self._now(client)))

    def _alive(self, beats: dict[Any, Any], now: float) -> dict[int, dict[str, Any]]:
        alive = {}
        for worker, raw in beats.items():
            try:
                beat = json.loads(raw)
                at = float(beat["at"])
            except (TypeError, ValueError, KeyError):
                continue
            if now - at <= DEAD_AFTER_BEATS * self.heartbeat:
                alive[int(worker)] = beat
        return alive

    @staticmethod
    def _now(client: Any) -> float:
        seconds, micros = client.time()
        return seconds + micros / 1e6

    def _beat_value(self, *, busy: bool, at: float) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "busy": busy, "at": at})

    # -- while crawling -------------------------------------------------------------------------
    def member(self) -> Membership:
        if self.membership is None:
            raise RuntimeError("join() first")
        return self.membership

    def beat(self, *, busy: bool) -> None:
        """Say this worker is alive, and whether it has requests in flight."""
        m = self.member()
        value = self._beat_value(busy=busy, at=self._now(self.client))
        self.client.hset(self.workers_key(m.crawl), str(m.worker), value)

    def leave(self) -> None:
        m = self.member()
        self.client.hdel(self.workers_key(m.crawl), str(m.worker))

    def queued(self) -> int:
        """Requests waiting in the shared frontier."""
        return int(self.client.zcard(self.requests_key(self.member().crawl)))

    def others_busy(self) -> list[int]:
        """The other live workers that have requests in flight (they may still find new links)."""
        m = self.member()
        alive = self._alive(self.client.hgetall(self.workers_key(m.crawl)), self._now(self.client))
        return sorted(w for w, beat in alive.items() if w != m.worker and beat.get("busy"))


# -- the settings of a worker's crawl --------------------------------------------------------------
def redis_client(url: str) -> redis.Redis:
    try:
        import redis
    except ImportError:
        raise ConfigError("--worker needs scrapy-redis and redis: pip install 'newsarchive[distributed]'") from None
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
    except ValueError as e:
        raise ConfigError(f"REDIS_URL {redacted(url)}: {e}") from None


def join_shared_crawl(settings: BaseSettings, job: str, *, host: str, pid: int) -> Membership:
    """Join (or start) the shared crawl of ``job`` on REDIS_URL and set what the crawl runs on:
    scrapy-redis's scheduler and seen-set on this generation's keys, kept when a worker closes
    (SCHEDULER_PERSIST: the first worker to finish must not delete the others' frontier), and WARC
    names that carry the worker's number."""
    import redis

    url = settings.get("REDIS_URL")
    if not url:
        raise ConfigError("--worker needs a Redis server: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    shared = SharedCrawl(redis_client(url), key_base(settings.get("WORKER_KEY_PREFIX"), job),
                         heartbeat=settings.getfloat("WORKER_HEARTBEAT"), host=host, pid=pid)
    try:
        m = shared.join()
    except redis.RedisError as e:
        raise RedisUnavailable(f"Redis at {redacted(url)}: {type(e).__name__}: {_no_secret(str(e), url)}") from None
    for name, value in {
        "SCHEDULER": SCHEDULER,
        "DUPEFILTER_CLASS": DUPEFILTER,
        "SCHEDULER_QUEUE_CLASS": QUEUE,
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": shared.requests_key(m.crawl),
        "SCHEDULER_DUPEFILTER_KEY": shared.dupefilter_key(m.crawl),
        "WORKER_MEMBERSHIP": {"base": shared.base, "crawl": m.crawl, "worker": m.worker, "started": m.started},
        "WARC_PREFIX": f"{settings.get('WARC_PREFIX')}-w{m.worker}",
    }.items():
        settings.set(name, value, priority="cmdline")
    return m


def _no_secret(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
