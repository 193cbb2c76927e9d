"""Several workers, one crawl, measured: ``python bench/distributed.py [--pages 600] [--workers 1,2,4]``.

Starts a real redis-server (tests/redis_server.py), a real SeaweedFS (tests/seaweed.py) and the bench
site (bench/site.py) with ``--latency`` seconds (default 0.05) before every answer, then for each
worker count k runs k ``newsarchive crawl --worker`` processes at once, each with its own local state
(ARCHIVE_CACHE_DIR), all into one fresh bucket, on one fresh shared crawl (its own key prefix).

Each worker is a polite crawler of its own: ``--concurrency`` requests in flight (default 2, per
domain too), no AutoThrottle, no dedup pipeline (crawling and archiving only, like bench/crawl.py's
first mode). A site 50 ms away then bounds one worker at concurrency / latency pages per second, and
the workers' sum is what a shared crawl buys.

Each row: pages fetched, the crawl window seen by the site (first to last request, sampled every
0.2 s: worker start-up, the same on every machine, is not in it), pages/s over that window, the
whole wall time (start-up and the idle timeout included), and the ratio to one worker. Every run is
checked: each page fetched exactly once across the workers, one response record per page archived,
WARCs from every worker in the bucket. The target: 4 workers >= 3x one worker.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.site import BenchServer  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.seaweed import SeaweedFS  # noqa: E402

PROFILE = ROOT / "settings" / "profiles" / "test.toml"
TARGET_RATIO_AT_4 = 3.0
IDLE_TIMEOUT = 2.0
SAMPLE_SECONDS = 0.2


def sources_toml(server: BenchServer) -> str:
    return (f'[[source]]\nname = "bench"\nlang = "en"\nstart_urls = ["{server.url("/")}"]\n'
            f'allowed_domains = ["{server.host}"]\narticle_pattern = \'/p/\\d+$\'\n'
            f"follow_pattern = '/(list/\\d+)?$'\nmax_depth = 50\nmax_pages = 100000\n")


def hits(server: BenchServer) -> dict[str, int]:
    with urllib.request.urlopen(server.url("/__hits")) as r:
        return json.load(r)


class HitSampler(threading.Thread):
    """The site's request count every 0.2 s: when the first and the last request came."""

    def __init__(self, server: BenchServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.first: float | None = None
        self.last: float | None = None
        self.count = 0

    def run(self) -> None:
        while not self.stop.is_set():
            n = sum(v for k, v in hits(self.server).items() if k != "/robots.txt")
            now = time.monotonic()
            if n and self.first is None:
                self.first = now
            if n != self.count:
                self.count, self.last = n, now
            time.sleep(SAMPLE_SECONDS)


def run_workers(k: int, *, server: BenchServer, redis: RedisServer, weed: SeaweedFS, tmp: Path,
                sources: Path, concurrency: int) -> dict[str, object]:
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    weed.client().create_bucket(Bucket=bucket)
    archive = f"s3://{bucket}/archive"
    urllib.request.urlopen(server.url("/__reset")).read()
    sampler = HitSampler(server)
    sampler.start()
    procs = []
    prefix = f"bench{k}-{uuid.uuid4().hex[:6]}"  # one fresh shared crawl for these k workers
    t0 = time.monotonic()
    for i in range(k):
        env = {**_base_env(), **weed.env("admin"), "REDIS_URL": redis.url,
               "ARCHIVE_CACHE_DIR": str(tmp / f"cache-{k}-{i}")}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "--worker", "--sources", str(sources), "--archive", archive,
             "--profile", str(PROFILE), "--stats-out", str(tmp / f"stats-{k}-{i}.json"),
             "-s", "ITEM_PIPELINES={}", "-s", "LOG_LEVEL=WARNING", "-s", f"CONCURRENT_REQUESTS={concurrency}",
             "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}", "-s", f"WORKER_IDLE_TIMEOUT={IDLE_TIMEOUT}",
             "-s", f"WORKER_KEY_PREFIX={prefix}"],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    errors = [p.communicate()[1] for p in procs]
    wall = time.monotonic() - t0
    sampler.stop.set()
    sampler.join()
    for p, err in zip(procs, errors):
        if p.returncode != 0:
            sys.exit(f"{k} workers: a worker failed:\n{err.decode()[-3000:]}")
    stats = [json.loads((tmp / f"stats-{k}-{i}.json").read_text()) for i in range(k)]
    counts = hits(server)
    twice = {path: n for path, n in counts.items() if n != 1 and path != "/robots.txt"}
    pages = sum(n for path, n in counts.items() if path != "/robots.txt")
    archived = sum(int(s.get("archive/responses", 0)) for s in stats)
    listed = weed.client().list_objects_v2(Bucket=bucket, Prefix="archive/warcs/").get("Contents", [])
    writers = {obj["Key"].split("/")[-1].split("-")[1] for obj in listed}
    problems = []
    if twice:
        problems.append(f"{len(twice)} pages fetched more than once")
    if archived != pages + k:  # and each worker's own robots.txt
        problems.append(f"{archived} response records for {pages} pages and {k} robots.txt")
    if len(writers) != k:
        problems.append(f"WARCs from {len(writers)} of {k} workers")
    window = (sampler.last or t0) - (sampler.first or t0)
    return {"workers": k, "pages": pages, "window_s": round(window, 2),
            "pages_per_s": round(pages / window, 1) if window > 0 else 0.0, "wall_s": round(wall, 1),
            "per_worker": [int(s.get("response_received_count", 0)) for s in stats],
            "problems": "; ".join(problems) or "none"}


def _base_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "ARCHIVE_URI"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=600)
    p.add_argument("--latency", type=float, default=0.05, help="seconds before each answer of the site")
    p.add_argument("--concurrency", type=int, default=2, help="requests in flight per worker")
    p.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    p.add_argument("--json", action="store_true", help="rows as JSON lines")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as d:
        tmp = Path(d)
        weed = SeaweedFS(tmp / "weed")
        with RedisServer(tmp / "redis") as redis, BenchServer(pages=args.pages, seed=1, latency=args.latency) as site:
            weed.start()
            try:
                sources = tmp / "sources.toml"
                sources.write_text(sources_toml(site), encoding="utf-8")
                for k in counts:
                    rows.append(run_workers(k, server=site, redis=redis, weed=weed, tmp=tmp, sources=sources,
                                            concurrency=args.concurrency))
            finally:
                weed.stop()
    base = next((r["pages_per_s"] for r in rows if r["workers"] == 1), None)
    for r in rows:
        r["ratio"] = round(float(r["pages_per_s"]) / float(base), 2) if base else None
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print(f"site: {args.pages} pages + listings, {args.latency * 1000:.0f} ms per answer; "
              f"{args.concurrency} requests in flight per worker; Redis + SeaweedFS on this machine")
        print(f"{'workers':>7} {'pages':>6} {'window s':>9} {'pages/s':>8} {'x 1 worker':>10} {'wall s':>7}  "
              f"per worker / checks")
        for r in rows:
            print(f"{r['workers']:>7} {r['pages']:>6} {r['window_s']:>9} {r['pages_per_s']:>8} "
                  f"{r['ratio'] if r['ratio'] is not None else '-':>10} {r['wall_s']:>7}  "
                  f"{r['per_worker']} / {r['problems']}")
    four = next((r for r in rows if r["workers"] == 4), None)
    if four is not None and four["ratio"] is not None:
        verdict = "met" if float(four["ratio"]) >= TARGET_RATIO_AT_4 else "NOT met"
        print(f"target 4 workers >= {TARGET_RATIO_AT_4}x one worker: {verdict} ({four['ratio']}x)")
    return 1 if any(r["problems"] != "none" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
