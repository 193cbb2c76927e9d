"""Time and peak memory of the editors' report at 1k, 10k and 100k synthetic articles.

A synthetic catalog: ``n`` articles from 12 outlets over 60 days, a tenth of them in clusters
of 2-6 (``n/10`` clusters at 100k = 10,000 clusters), with translations, siblings, reposts and
same-story pairs, and an excerpt text for every clustered article. For each size it prints how
long building the clusters (with the excerpts' texts) and rendering HTML, CSV and JSON take,
one HTML report end to end in wall-clock and CPU seconds (CPU time is what other work on a
shared machine does not inflate), the output sizes, and the peak resident memory of a fresh
process doing it (``ru_maxrss``), so sizes do not share a heap. Then the served app's slowest
pages on the same catalog.

    .venv/bin/python bench/report.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUTLETS_EN = ["bleepingnews", "securitywire", "threatdesk", "hackerdaily", "cyberscoop", "darkread"]
OUTLETS_ZH = ["fourhou", "freebuf", "anquanke", "secrss", "sohu-sec", "reposter"]


def make_catalog(n: int, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    from crawler.dedup.features import Signals
    from crawler.dedup.store import ArticleStore
    from crawler.report.texts import TextIndex

    rnd = random.Random(seed)
    catalog, search = folder / "dedup.sqlite3", folder / "search.sqlite3"
    start = 1_730_000_000
    ids: list[int] = []
    urls: dict[int, str] = {}
    with ArticleStore(catalog) as store, TextIndex(search) as texts:
        for i in range(n):
            zh = rnd.random() < 0.5
            outlet = rnd.choice(OUTLETS_ZH if zh else OUTLETS_EN)
            ts = start + rnd.randrange(60 * 86400)
            published = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))
            # about the size of a real article's signals: 15 anchors, 120 terms (a few KB of JSON)
            anchors = {f"cve-2024-{rnd.randrange(99999)}": 1, f"apt{rnd.randrange(99)}": 1, "lockbit": 2}
            anchors.update({f"name{rnd.randrange(5000)}": 1 for _ in range(12)})
            sig = Signals(
                simhash=rnd.getrandbits(64),
                content_hash=rnd.getrandbits(64),
                anchors=anchors,
                terms={f"term{rnd.randrange(20000)}": rnd.randint(1, 5) for _ in range(120)},
                url_key=f"{outlet}/{i}",
            )
            url = f"https://{outlet}.example/{'zh' if zh else 'en'}/{i}"
            title = f"LockBit 勒索软件攻击 {i}" if zh else f"LockBit hits target {i}"
            art = _article(url, "zh" if zh else "en", title, outlet, published)
            ids.append(
                store.conn.execute(
                    "INSERT INTO articles (url, url_key, source, lang, title, published, published_ts, fetched_at,"
                    " warc_record_id, simhash, content_hash, signals) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        url,
                        sig.url_key,
                        outlet,
                        art["lang"],
                        title,
                        published,
                        float(ts),
                        published,
                        None,
                        0,
                        0,
                        json.dumps(sig.to_json()),
                    ),
                ).lastrowid
            )
            urls[ids[-1]] = url
        store.commit()
        rnd.shuffle(ids)
        pos, kinds = 0, ["translation", "translation_sibling", "repost", "same_story", "translation"]
        while pos < n // 10 * 3.5 and pos < len(ids) - 6:
            size = rnd.randint(2, 5)
            group = ids[pos : pos + size]
            pos += size
            for a, b in zip(group, group[1:], strict=False):
                kind = rnd.choice(kinds)
                store.add_flag(
                    a, b, kind, round(rnd.uniform(0.15, 0.95), 3), rnd.choice(["content", "content+link"]), {}
                )
            for aid in group:
                texts.add(
                    urls[aid],
                    title="",
                    text=(
                        "LockBit 勒索软件 CVE-2024-1709 "
                        if "/zh/" in urls[aid]
                        else "LockBit ransomware exploited CVE-2024-1709 "
                    )
                    * 12,
                )
        store.commit()
        texts.commit()
    return catalog, search


def _article(url: str, lang: str, title: str, outlet: str, published: str) -> dict:
    return {"url": url, "lang": lang, "title": title, "source": outlet, "published": published}


def run_one(catalog: Path, search: Path, out: Path) -> dict:
    from crawler.dedup.clusters import build_clusters
    from crawler.dedup.store import ArticleStore
    from crawler.report.render import RENDERERS, Report
    from crawler.report.texts import TextIndex

    t0, c0 = time.perf_counter(), time.process_time()
    with ArticleStore(catalog) as store:
        clusters = build_clusters(store)
    with TextIndex(search) as texts:
        report = Report(
            clusters=clusters, archive="bench", texts=texts.texts_of([m.url for c in clusters for m in c.members])
        )
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    result = {"clusters": len(clusters), "build_s": round(t_build, 2)}
    for fmt, render in RENDERERS.items():
        t1, c1 = time.perf_counter(), time.process_time()
        path = out / f"report.{fmt}"
        with open(path, "w", encoding="utf-8") as f:
            for chunk in render(report):
                f.write(chunk)
        result[f"{fmt}_s"] = round(time.perf_counter() - t1, 2)
        result[f"{fmt}_MB"] = round(path.stat().st_size / 1e6, 1)
        # one report as `newsarchive report` makes it: the clusters and texts, then this format
        result[f"{fmt}_report_s"] = round(t_build + time.perf_counter() - t1, 2)
        result[f"{fmt}_report_cpu_s"] = round(c_build + time.process_time() - c1, 2)
    result["peak_MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    return result


def run_app(folder: Path) -> dict:
    """The served app over the same catalog: the slowest pages, first (cold) and again (cached)."""
    import warnings

    warnings.simplefilter("ignore")  # starlette's TestClient deprecation notice
    from fastapi.testclient import TestClient

    from crawler.archive.archive import Archive
    from crawler.web.serve import build_app

    client = TestClient(build_app(Archive.open(folder), folder / "dedup.sqlite3", label="bench"))
    out = {}
    for name, path in [
        ("report_cold", "/report"),
        ("report_warm", "/report"),
        ("report_p200", "/report?page=200"),
        ("report_filtered", "/report?lang=zh&kind=translation&since=2024-11-20"),
        ("search", "/?q=" + "勒索软件"),
        ("status", "/status"),
    ]:
        t0 = time.perf_counter()
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        out[name] = round(time.perf_counter() - t0, 2)
    out["peak_MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--child", nargs=3, metavar=("CATALOG", "SEARCH", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--app-child", metavar="FOLDER", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(Path(args.child[0]), Path(args.child[1]), Path(args.child[2]))))
        return
    if args.app_child:
        print(json.dumps(run_app(Path(args.app_child))))
        return
    apps = []
    print(
        f"{'articles':>9} {'clusters':>8} {'build s':>8} {'html s':>7} {'csv s':>6} {'json s':>7} "
        f"{'HTML report s':>14} {'(CPU s)':>8} {'html MB':>8} {'peak MB':>8}"
    )
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            catalog, search = make_catalog(n, folder)
            made = time.perf_counter() - t0
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(catalog), str(search), str(folder)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"{n:>9} {r['clusters']:>8} {r['build_s']:>8} {r['html_s']:>7} {r['csv_s']:>6} {r['json_s']:>7} "
                f"{r['html_report_s']:>14} {r['html_report_cpu_s']:>8} {r['html_MB']:>8} {r['peak_MB']:>8}"
                f"   (catalog made in {made:.0f} s)",
                flush=True,
            )
            proc = subprocess.run(
                [sys.executable, __file__, "--app-child", str(folder)], capture_output=True, text=True, check=True
            )
            apps.append((n, json.loads(proc.stdout.strip().splitlines()[-1])))
    print("\nthe served app (seconds per request; the report is cached per filter set until the catalog changes):")
    keys = ["report_cold", "report_warm", "report_p200", "report_filtered", "search", "status", "peak_MB"]
    print(f"{'articles':>9} " + " ".join(f"{k:>15}" for k in keys))
    for n, a in apps:
        print(f"{n:>9} " + " ".join(f"{a[k]:>15}" for k in keys))


if __name__ == "__main__":
    main()
