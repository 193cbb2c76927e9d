"""Speed of the dedup fingerprint and Hamming index, with the simhash package measured in the same run.

    python bench/dedup_speed.py --corpus ../shared/corpus [--sizes 1000000,10000000] [--queries 2000] [--peer-size 100000]

1. Fingerprints of 3 KB texts (zh: corpus articles cut to 3,000 bytes of UTF-8; en: corpus
   teasers joined to 3,000 bytes): ``simhash.Simhash(text)`` defaults vs ours
   (``simhash_value``: folding, URL removal, shingles, hashing) and ours on prepared text.
2. ``NearDuplicateIndex`` (k=3) at each size: bulk build, p50/p99 query latency (half the
   queries near an entry, half random), inserts per second, bytes per entry;
   ``simhash.SimhashIndex`` (k=3) at ``--peer-size`` for comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simhash import Simhash, SimhashIndex  # noqa: E402

from crawler.dedup.fingerprint import simhash_value  # noqa: E402
from crawler.dedup.hamming import NearDuplicateIndex  # noqa: E402
from crawler.dedup.normalize import fold, remove_urls  # noqa: E402


def cut_bytes(text: str, n: int) -> str:
    return text.encode("utf-8")[:n].decode("utf-8", "ignore")


def texts_3kb(corpus: Path) -> dict[str, list[str]]:
    arts = [json.loads(line) for line in open(corpus / "articles.jsonl", encoding="utf-8")]
    zh = [cut_bytes(a["text"], 3000) for a in arts if a["lang"] == "zh" and len(a["text"].encode()) >= 3000]
    en_all = [a["text"] for a in arts if a["lang"] == "en"]
    en, buf = [], ""
    for t in en_all:
        buf += t + "\n\n"
        if len(buf.encode()) >= 3000:
            en.append(cut_bytes(buf, 3000))
            buf = ""
    return {"zh": zh[:200], "en": en[:200]}


def rate(fn, items, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, time.perf_counter() - t0)
    return len(items) / best


def bench_fingerprint(corpus: Path) -> dict:
    out = {}
    for lang, texts in texts_3kb(corpus).items():
        prepared = [fold(remove_urls(t)) for t in texts]
        simhash_value(texts[0])  # warm caches (OpenCC tables, token hashes of the first text)
        peer = rate(Simhash, texts)
        ours = rate(simhash_value, texts)
        ours_prepared = rate(lambda t: simhash_value(t, prepared=True), prepared)
        out[lang] = {"texts": len(texts), "simhash_default_docs_s": peer, "ours_docs_s": ours,
                     "ours_prepared_docs_s": ours_prepared, "ratio": ours / peer, "ratio_prepared": ours_prepared / peer}
        print(f"fingerprint {lang}: {len(texts)} texts of 3 KB | Simhash(text) {peer:,.0f} docs/s | "
              f"ours {ours:,.0f} docs/s ({ours / peer:.1f}x) | ours on prepared text {ours_prepared:,.0f} docs/s "
              f"({ours_prepared / peer:.1f}x)")
    return out


def make_queries(fps: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    qs = []
    for i in range(n):
        if i % 2 == 0:
            v = int(fps[rng.integers(len(fps))])
            for b in rng.choice(64, size=int(rng.integers(0, 4)), replace=False):
                v ^= 1 << int(b)
        else:
            v = int(rng.integers(0, 2**63, dtype=np.int64)) * 2 + int(rng.integers(0, 2))
        qs.append(v)
    return qs


def latency(fn, queries) -> tuple[float, float]:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


def bench_index(size: int, nq: int, rng: np.random.Generator) -> dict:
    fps = rng.integers(0, 2**63, size=size, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, size=size).astype(np.uint64)
    ids = np.arange(size, dtype=np.int64)
    idx = NearDuplicateIndex(k=3)
    t0 = time.perf_counter()
    idx.bulk_load(ids, fps)
    build = time.perf_counter() - t0
    queries = make_queries(fps, nq, rng)
    for q in queries[:50]:
        idx.query(q)
    p50, p99 = latency(idx.query, queries)
    found = sum(1 for q in queries[::2] if idx.query(q))
    per_entry = idx.nbytes() / size
    # Inserts on top (through the append buffer and its merges).
    n_ins = 20_000
    new = rng.integers(0, 2**63, size=n_ins, dtype=np.int64).astype(np.uint64)
    t0 = time.perf_counter()
    for i in range(n_ins):
        idx.insert(size + i, int(new[i]))
    idx.flush()
    ins_rate = n_ins / (time.perf_counter() - t0)
    p50b, _ = latency(idx.query, queries[:500])
    print(f"index k=3 at {size:,}: build {build:.1f} s | query p50 {p50:.1f} µs p99 {p99:.1f} µs "
          f"(near queries answered {found}/{len(queries[::2])}) | {per_entry:.1f} B/entry | "
          f"{ins_rate:,.0f} inserts/s | p50 after inserts {p50b:.1f} µs")
    return {"size": size, "build_s": build, "p50_us": p50, "p99_us": p99, "bytes_per_entry": per_entry,
            "inserts_per_s": ins_rate}


def bench_peer(size: int, nq: int, rng: np.random.Generator) -> dict:
    fps = [int(x) for x in rng.integers(0, 2**63, size=size, dtype=np.int64)]
    t0 = time.perf_counter()
    ref = SimhashIndex([(str(i), Simhash(v)) for i, v in enumerate(fps)], k=3)
    build = time.perf_counter() - t0
    queries = make_queries(np.array(fps, dtype=np.uint64), nq, rng)
    p50, p99 = latency(lambda q: ref.get_near_dups(Simhash(q)), queries)
    ours = NearDuplicateIndex(k=3)
    ours.bulk_load(np.arange(size), np.array(fps, dtype=np.uint64))
    o50, _ = latency(ours.query, queries)
    print(f"simhash.SimhashIndex k=3 at {size:,}: build {build:.1f} s | query p50 {p50:.1f} µs p99 {p99:.1f} µs "
          f"| ours at the same size p50 {o50:.1f} µs")
    return {"size": size, "build_s": build, "p50_us": p50, "p99_us": p99, "ours_p50_us": o50}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    ap.add_argument("--sizes", default="1000000,10000000", help="index sizes, comma separated")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--peer-size", type=int, default=100_000, help="SimhashIndex size (0: skip)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not (args.corpus / "articles.jsonl").is_file():
        print(f"error: no articles.jsonl in {args.corpus}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(20240301)
    report = {"fingerprint": bench_fingerprint(args.corpus), "index": [], "peer": None}
    for size in (int(s) for s in args.sizes.split(",") if s):
        report["index"].append(bench_index(size, args.queries, rng))
    if args.peer_size:
        report["peer"] = bench_peer(args.peer_size, min(args.queries, 1000), rng)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
