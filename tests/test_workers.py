"""The shared crawl in Redis (crawler/workers.py), against a real redis-server."""

from __future__ import annotations

import json
import threading
import time

import pytest

from crawler.config import load_settings
from crawler.errors import ConfigError
from crawler.workers import RedisUnavailable, SharedCrawl, join_shared_crawl, key_base, redacted
from tests.redis_server import RedisServer
from tests.seaweed import closed_port


def shared(server: RedisServer, heartbeat: float = 1.0, pid: int = 1) -> SharedCrawl:
    return SharedCrawl(server.client(), key_base("test", "a+b"), heartbeat=heartbeat, host="host", pid=pid)


def test_redacted_hides_the_password_only() -> None:
    assert redacted("redis://:s3cret@host:6380/1") == "redis://:***@host:6380/1"
    assert redacted("redis://user:s3cret@host/0") == "redis://user:***@host/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_key_base_has_no_percent_for_scrapy_redis() -> None:
    assert key_base("na", "100% news sites") == "na:100__news_sites"


def test_workers_starting_together_share_one_generation(redis_server: RedisServer) -> None:
    results = []

    def join(i: int) -> None:
        results.append(shared(redis_server, pid=i).join())

    threads = [threading.Thread(target=join, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {m.crawl for m in results} == {1}
    assert sum(m.started for m in results) == 1
    assert len({m.worker for m in results}) == 8


def test_a_finished_crawl_is_followed_by_a_fresh_generation(redis_server: RedisServer) -> None:
    a = shared(redis_server)
    first = a.join()
    client = redis_server.client()
    client.sadd(a.dupefilter_key(first.crawl), "seen-fingerprint")
    a.leave()  # frontier empty, nobody left: the crawl is over
    b = shared(redis_server)
    second = b.join()
    assert second.crawl == first.crawl + 1 and second.started
    assert not client.exists(a.dupefilter_key(first.crawl)), "the old seen-set would hide every seed"


def test_queued_requests_of_dead_workers_are_continued(redis_server: RedisServer) -> None:
    a = shared(redis_server, heartbeat=0.01)
    first = a.join()
    a.beat(busy=True)
    client = redis_server.client()
    client.zadd(a.requests_key(first.crawl), {"a-request": 0})
    # the worker dies (no leave): its heartbeat ages out, but the frontier still holds work
    b = shared(redis_server, heartbeat=0.01)
    time.sleep(0.1)
    assert b.join().crawl == first.crawl
    assert b.others_busy() == [], "a dead worker is not busy"


def test_a_worker_dead_before_its_first_heartbeat_ages_out(redis_server: RedisServer) -> None:
    first = shared(redis_server, heartbeat=0.01).join()  # joined, then killed at once
    time.sleep(0.1)
    second = shared(redis_server, heartbeat=0.01).join()
    assert second.crawl == first.crawl + 1, "a worker that never beat must not keep its crawl alive"


def test_others_busy_sees_live_busy_workers(redis_server: RedisServer) -> None:
    a, b = shared(redis_server), shared(redis_server)
    a.join()
    mb = b.join()
    b.beat(busy=True)
    assert a.others_busy() == [mb.worker]
    b.beat(busy=False)
    assert a.others_busy() == []
    assert a.queued() == 0


def test_join_sets_the_scrapy_redis_settings(redis_server: RedisServer) -> None:
    settings = load_settings(overrides={"REDIS_URL": redis_server.url})
    m = join_shared_crawl(settings, "mock", host="h", pid=1)
    assert settings.get("SCHEDULER") == "crawler.scheduler.SharedScheduler"
    assert settings.get("DUPEFILTER_CLASS") == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert settings.getbool("SCHEDULER_PERSIST") is True
    assert settings.get("SCHEDULER_QUEUE_KEY") == f"newsarchive:mock:{m.crawl}:requests"
    assert settings.get("WARC_PREFIX") == f"newsarchive-w{m.worker}"
    beat = json.loads(redis_server.client().hget(f"newsarchive:mock:{m.crawl}:workers", str(m.worker)))
    assert beat["host"] == "h" and beat["pid"] == 1


def test_no_redis_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        join_shared_crawl(load_settings(), "mock", host="h", pid=1)


def test_unreachable_redis_is_named_without_its_password() -> None:
    url = f"redis://:topsecret@127.0.0.1:{closed_port()}/0"
    with pytest.raises(RedisUnavailable) as e:
        join_shared_crawl(load_settings(overrides={"REDIS_URL": url}), "mock", host="h", pid=1)
    assert "topsecret" not in str(e.value) and ":***@" in str(e.value)


def _sources(tmp_path) -> str:
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "s"\nlang = "en"\nstart_urls = ["http://127.0.0.1:9/"]\n'
                    'allowed_domains = ["127.0.0.1"]\narticle_pattern = "/a/"\n', encoding="utf-8")
    return str(path)


def test_crawl_worker_without_redis_url_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    from crawler.cli import main

    monkeypatch.delenv("REDIS_URL", raising=False)
    code = main(["crawl", "--worker", "--sources", _sources(tmp_path), "--archive", str(tmp_path / "archive")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "REDIS_URL" in err[0], err


def test_crawl_worker_and_resume_refused(tmp_path, capsys) -> None:
    from crawler.cli import main

    code = main(["crawl", "--worker", "--resume", "--sources", _sources(tmp_path), "--archive", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2 and "--worker and --resume" in err
