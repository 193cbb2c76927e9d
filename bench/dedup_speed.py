"""Speed of the dedup fingerprint and Hamming index, with the simhash package measured in the same run.

    python bench/dedup_speed.py --corpus ../shared/corpus [--sizes 1000000,10000000] [--queries 2000] [--peer-size 1000000]
    python bench/dedup_speed.py --corpus ../shared/corpus --only-e2e [--page-sizes 14,65,250] [--pages-per-size 60] [--rounds 3]

1. Fingerprints of 3 KB texts (zh: corpus articles cut to 3,000 bytes of UTF-8; en: corpus
   teasers joined to 3,000 bytes): ``simhash.Simhash(text)`` defaults vs ours
   (``simhash_value``: folding, URL removal, shingles, hashing) and ours on prepared text.
2. End to end per article, as the crawl pipeline runs it (one thread): corpus texts rendered
   as realistic article pages (nav bar and mega menu, sidebar of related links, comments,
   footer, scripts) -> ``extract`` (trafilatura) -> ``compute_signals`` -> ``Detector.add``
   (query: candidates and scoring; insert: catalog rows, postings, index), in publication
   order, committing the catalog as the crawl's dedup process does while pages wait (every
   ``COMMIT_EVERY_PAGES`` pages and at the end; each article bears its share of its batch's
   commit in "insert"; the column "commit each" is the total p50 when every article commits
   on its own, as the dedup process does only when it is idle). CPU milliseconds per article
   and stage (``time.process_time``: the machine is shared, wall time is noisy), each article's
   least of ``--rounds`` runs from the same starting catalog (default 3; a shared machine's
   other work only ever adds to a figure), p50 / p99: the corpus pages as they come (mean 14 KB, into a
   fresh catalog) and pages of ``--page-sizes`` KB (default 14, 65, 250: the article's text
   continued with the next articles of its language, drawn from every other corpus article,
   into a catalog seeded with the other half: a page's own text is not in the catalog, its
   translations and other reports of its stories may be, as in a crawl).
3. ``NearDuplicateIndex`` (k=3) at each size: bulk build, p50/p99 query latency (half the
   queries near an entry, half random), inserts per second, bytes per entry;
   a numpy brute-force scan over the same fingerprints (which must give the same answers);
   ``simhash.SimhashIndex`` (k=3) at ``--peer-size`` for comparison.
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simhash import Simhash, SimhashIndex  # noqa: E402

from crawler.dedup.detector import Detector  # noqa: E402
from crawler.dedup.extract import ExtractionError, extract  # noqa: E402
from crawler.dedup.features import Article, compute_signals, parse_when  # noqa: E402
from crawler.dedup.fingerprint import simhash_value  # noqa: E402
from crawler.dedup.near_index import NearDuplicateIndex  # noqa: E402
from crawler.dedup.normalize import fold, remove_urls  # noqa: E402
from crawler.dedup.service import COMMIT_EVERY_PAGES  # noqa: E402
from crawler.dedup.store import ArticleStore  # noqa: E402


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


def rates(fns: dict, items_of: dict, repeat: int = 5) -> dict[str, float]:
    """Docs per second of each function, best of ``repeat`` rounds; the functions take turns
    within each round so that load from other processes hits them alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            items = items_of[name]
            t0 = time.perf_counter()
            for x in items:
                fn(x)
            best[name] = min(best[name], (time.perf_counter() - t0) / len(items))
    return {name: 1.0 / b for name, b in best.items()}


def bench_fingerprint(corpus: Path) -> dict:
    out = {}
    for lang, texts in texts_3kb(corpus).items():
        prepared = [fold(remove_urls(t)) for t in texts]
        simhash_value(texts[0])  # warm caches (OpenCC tables, token hashes of the first text)
        r = rates(
            {"peer": Simhash, "ours": simhash_value, "prepared": lambda t: simhash_value(t, prepared=True)},
            {"peer": texts, "ours": texts, "prepared": prepared},
        )
        peer, ours, ours_prepared = r["peer"], r["ours"], r["prepared"]
        out[lang] = {"texts": len(texts), "simhash_default_docs_s": peer, "ours_docs_s": ours,
                     "ours_prepared_docs_s": ours_prepared, "ratio": ours / peer, "ratio_prepared": ours_prepared / peer}
        print(f"fingerprint {lang}: {len(texts)} texts of 3 KB | Simhash(text) {peer:,.0f} docs/s | "
              f"ours {ours:,.0f} docs/s ({ours / peer:.1f}x) | ours on prepared text {ours_prepared:,.0f} docs/s "
              f"({ours_prepared / peer:.1f}x)")
    return out


_MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)[^)]*\)")


def _md_to_html(text: str) -> str:
    """Corpus markdown to the HTML a CMS would serve: headings, paragraphs, links."""
    out = []
    for block in text.split("\n"):
        block = block.strip()
        if not block:
            continue
        block = html_lib.escape(block, quote=False)
        block = _MD_LINK_RE.sub(lambda m: f'<a href="{html_lib.escape(m[2])}">{m[1]}</a>', block)
        if block.startswith("#"):
            out.append(f"<h2>{block.lstrip('#').strip()}</h2>")
        else:
            out.append(f"<p>{block}</p>")
    return "\n".join(out)


def article_page(a: dict, related: list[dict]) -> str:
    """A corpus article wrapped in a news site's boilerplate."""
    title = html_lib.escape(a.get("title") or "")
    lang = a["lang"]
    nav = " ".join(f'<li><a href="/category/{i}">{w}</a></li>' for i, w in enumerate(
        ("首页 资讯 漏洞 技术 工具 活动 招聘 专题 安全圈 关于我们" if lang == "zh" else
         "Home News Vulnerabilities Malware Ransomware Cloud Data Breach Deals Webinars About").split()))
    side = "".join(f'<li><a href="/article/{r["id"]}">{html_lib.escape(r.get("title") or "")}</a>'
                   f'<span class="date">{(r.get("published") or "")[:10]}</span></li>' for r in related)
    # A mega menu and a "most read" block, as news sites have: most of a real page's DOM.
    nav += "".join(f'<li class="sub"><a href="/topic/{i}">Topic {i}</a></li>' for i in range(80))
    side += "".join(f'<li><a href="/popular/{i}">{html_lib.escape(r.get("title") or "")}</a></li>'
                    for i, r in enumerate(related[::-1] * 2))
    tags = " ".join(f'<a class="tag" href="/tag/{t}">{t}</a>' for t in ("security", "threat", "malware", "cve"))
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Example Security News</title>
<meta property="og:title" content="{title}"><meta property="article:published_time" content="{a.get('published') or ''}">
<meta name="viewport" content="width=device-width"><link rel="stylesheet" href="/s.css">
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}gtag('js',new Date());</script>
<style>.nav li{{display:inline}} .sidebar{{float:right}}</style></head><body>
<header><div class="logo"><a href="/">Example Security News</a></div><nav class="nav"><ul>{nav}</ul></nav>
<form action="/search"><input name="q"><button>Search</button></form></header>
<div class="breadcrumb"><a href="/">Home</a> &gt; <a href="/news">News</a> &gt; {title}</div>
<main><article class="post"><h1 class="entry-title">{title}</h1>
<div class="meta"><span class="author">Editor</span> <time datetime="{a.get('published') or ''}">{(a.get('published') or '')[:10]}</time></div>
<div class="entry-content">{_md_to_html(a["text"])}</div>
<div class="tags">{tags}</div>
<div class="share"><a href="https://twitter.com/share">Tweet</a> <a href="https://facebook.com/share">Share</a> <a href="https://linkedin.com/share">LinkedIn</a></div>
</article>
<section class="comments">{_comments_html(lang)}<p>Log in to comment.</p></section></main>
<aside class="sidebar"><h3>Related articles</h3><ul>{side}</ul>
<div class="newsletter"><p>Subscribe to our newsletter for the latest security news.</p><input name="email"><button>Subscribe</button></div></aside>
<footer><ul><li><a href="/about">About</a></li><li><a href="/contact">Contact</a></li><li><a href="/privacy">Privacy policy</a></li>
<li><a href="/terms">Terms</a></li><li><a href="/rss">RSS</a></li></ul><p>© 2024 Example Security News. All rights reserved.</p></footer>
<script src="/app.js"></script></body></html>"""


_COMMENTS = {
    "en": ("Patch now, this one is already being exploited.", "Does anyone know if the cloud version is affected too?",
           "Third incident this year for this vendor. At some point the procurement people have to notice.",
           "Good write-up, thanks for the IoCs.", "The advisory is vague about which builds are fixed."),
    "zh": ("已经打补丁了，感谢提醒。", "云版本也受影响吗？有没有人测试过？", "这家厂商今年第三次出事了。",
           "写得很清楚，感谢分享IoC。", "公告里没说清楚哪些版本已经修复。"),
}


def _comments_html(lang: str) -> str:
    items = "".join(f'<li class="comment"><span class="who">user{i}</span> <time>2024-03-0{i + 1}</time><p>{c}</p>'
                    f'<a class="reply" href="#reply-{i}">Reply</a></li>' for i, c in enumerate(_COMMENTS[lang]))
    return f'<h3>{len(_COMMENTS[lang])} comments</h3><ol class="comment-list">{items}</ol>'


def sized_pages(arts: list[dict], kb: int, count: int) -> list[tuple[str, str]]:
    """``count`` article pages of about ``kb`` KB of HTML each: an article's text, followed by the
    next articles of its language (in publication order, wrapping) paragraph by paragraph until
    the page has the size, or cut to it (English corpus texts are teasers: their 190 KB come
    round again in a 250 KB page). Articles are taken evenly over the corpus."""
    by_lang: dict[str, list[int]] = {}
    for n, a in enumerate(arts):
        by_lang.setdefault(a["lang"], []).append(n)
    target = kb * 1024
    pages = []
    step = max(1, len(arts) // count)
    for n in range(0, len(arts), step)[:count]:
        a = arts[n]
        related = arts[max(0, n - 12):n][-10:]
        overhead = len(article_page({**a, "text": ""}, related).encode())
        same = by_lang[a["lang"]]
        at = same.index(n)
        paras: list[str] = []
        size = overhead
        k = 0
        while size < target and k < 3 * len(same):
            for para in arts[same[(at + k) % len(same)]]["text"].split("\n"):
                cost = len(_md_to_html(para).encode()) + 1
                if size + cost > target:
                    size = target
                    break
                paras.append(para)
                size += cost
            k += 1
        page = article_page({**a, "text": "\n".join(paras)}, related)
        pages.append((f"https://news.example/{a['lang']}/{a['id']}-{kb}k", page))
    return pages


def seeded_catalog(arts: list[dict], path: Path) -> None:
    """A catalog holding every corpus article (from its plain text), as a long crawl has it."""
    store = ArticleStore(path)
    det = Detector(store)
    for a in arts:
        art = Article(url=f"https://seed.example/{a['lang']}/{a['id']}", lang=a["lang"], text=a["text"],
                      title=a.get("title") or "", published=a.get("published"))
        det.add(art)
    store.commit()
    store.close()


STAGES = ("extract", "signals", "query", "insert", "total")


def run_pages(pages: list[tuple[str, str]], catalog: Path, commit_every: int = COMMIT_EVERY_PAGES) -> dict:
    """Every page through extract -> compute_signals -> Detector.add (query, then insert) into
    ``catalog``, committed every ``commit_every`` articles and after the last; CPU seconds
    (``time.process_time``: other processes on the machine do not count) and wall seconds of
    each stage, per article (in page order), a commit's CPU shared evenly by the articles of its batch."""
    cpu: dict[str, list[float]] = {k: [] for k in STAGES}
    batch: list[int] = []  # indexes of the articles added since the last commit
    wall: list[float] = []
    sizes, text_sizes = [], []
    failures = 0
    store = ArticleStore(catalog)
    det = Detector(store)
    spent = {"query": 0.0}
    relate = getattr(det, "_relate", None)
    if relate is not None:  # the query stage: candidates and pair scoring

        def timed_relate(*a, **kw):
            c = time.process_time()
            try:
                return relate(*a, **kw)
            finally:
                spent["query"] = time.process_time() - c

        det._relate = timed_relate

    def commit_batch() -> None:
        c, t = time.process_time(), time.perf_counter()
        store.commit()
        share, wall_share = (time.process_time() - c) / len(batch), (time.perf_counter() - t) / len(batch)
        for i in batch:
            cpu["insert"][i] += share
            cpu["total"][i] += share
            wall[i] += wall_share
        batch.clear()

    extract(pages[0][1], pages[0][0])  # warm imports and caches
    for url, html in pages:
        spent["query"] = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            ex = extract(html, url)
        except ExtractionError:
            failures += 1
            continue
        c1 = time.process_time()
        art = Article(url=url, lang=ex.detected_lang or ex.lang or "en", text=ex.text, title=ex.title,
                      published=ex.published, author=ex.author)
        sig = compute_signals(art)
        c2 = time.process_time()
        det.add(art, sig)
        c3, t3 = time.process_time(), time.perf_counter()
        for k, v in (("extract", c1 - c0), ("signals", c2 - c1), ("query", spent["query"]),
                     ("insert", c3 - c2 - spent["query"]), ("total", c3 - c0)):
            cpu[k].append(v)
        wall.append(t3 - t0)
        sizes.append(len(html.encode()))
        text_sizes.append(len(ex.text.encode()))
        batch.append(len(wall) - 1)
        if len(batch) >= commit_every:
            commit_batch()
    if batch:
        commit_batch()
    store.close()
    return {"cpu": cpu, "wall": wall, "sizes": sizes, "text_sizes": text_sizes, "failures": failures}


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1e3


def summarise(rounds: list[dict]) -> dict:
    """One row from rounds of :func:`run_pages` over the same pages into the same starting
    catalog: each article's least CPU (and wall) time of the rounds for each stage and the total
    (as ``timeit`` takes the least of its repeats: the rest is other work on the machine), then
    p50 / p99 and mean over the articles."""
    first = rounds[0]

    def least(series: list[list[float]]) -> list[float]:
        return [min(v) for v in zip(*series)]

    out = {"articles": len(first["wall"]), "extract_failures": first["failures"], "rounds": len(rounds),
           "html_kb_p50": statistics.median(first["sizes"]) / 1024,
           "text_kb_p50": statistics.median(first["text_sizes"]) / 1024}
    wall = least([r["wall"] for r in rounds])
    out["wall_total_p50_ms"], out["wall_total_p99_ms"] = _pct(wall, 0.5), _pct(wall, 0.99)
    for k in STAGES:
        xs = least([r["cpu"][k] for r in rounds])
        out[k] = {"mean_ms": statistics.mean(xs) * 1e3, "p50_ms": _pct(xs, 0.5), "p99_ms": _pct(xs, 0.99)}
    return out


def bench_end_to_end(corpus: Path, limit: int, sizes: list[int], per_size: int, rounds: int = 3) -> dict:
    """Per-article CPU of each stage on the corpus pages as they come (mean 14 KB; a fresh
    catalog, as in a first crawl) and on pages of each size in ``sizes`` KB (``per_size``
    pages each, built from the even-numbered articles, into a catalog seeded with the odd ones);
    each set run ``rounds`` times from the same starting catalog, each way of committing in turn."""
    arts = [json.loads(line) for line in open(corpus / "articles.jsonl", encoding="utf-8")]
    arts.sort(key=lambda a: (parse_when(a.get("published")) or 0.0, a["id"]))
    subset = arts[:limit] if limit else arts
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pages = [(f"https://news.example/{a['lang']}/{a['id']}", article_page(a, subset[max(0, n - 12):n][-10:]))
                 for n, a in enumerate(subset)]

        def row(pages: list[tuple[str, str]], seed: Path | None) -> dict:
            runs: dict[int, list[dict]] = {COMMIT_EVERY_PAGES: [], 1: []}
            for n in range(rounds):
                for every in runs:
                    catalog = Path(tmp) / f"round{n}-{every}.sqlite3"
                    if seed is not None:
                        shutil.copyfile(seed, catalog)
                    runs[every].append(run_pages(pages, catalog, commit_every=every))
                    for leftover in Path(tmp).glob(f"round{n}-{every}.sqlite3*"):
                        leftover.unlink()
            return {**summarise(runs[COMMIT_EVERY_PAGES]), "commit_each_p50_ms": summarise(runs[1])["total"]["p50_ms"]}

        rows["corpus"] = row(pages, None)
        if sizes:
            seed = Path(tmp) / "seed.sqlite3"
            seeded_catalog(arts[1::2], seed)
            for kb in sizes:
                rows[f"{kb}k"] = row(sized_pages(arts[0::2], kb, per_size), seed)
    print(f"end to end, CPU ms per article (time.process_time), each article's least of {rounds} rounds, p50 / p99;")
    print("  query = candidates and scoring;")
    print(f"  commits every {COMMIT_EVERY_PAGES} articles and at the end, as the dedup process under a backlog, "
          "each article bearing its share;")
    print("  commit each = total p50 when every article commits on its own (the dedup process when idle):")
    print(f"  {'pages':<16}{'n':>5}{'HTML KB':>9}{'text KB':>9}" + "".join(f"{k:>16}" for k in STAGES)
          + f"{'wall total':>16}{'commit each':>13}")
    for name, r in rows.items():
        label = f"corpus ({r['html_kb_p50']:.0f} KB)" if name == "corpus" else f"{name[:-1]} KB"
        print(f"  {label:<16}{r['articles']:>5}{r['html_kb_p50']:>9.1f}{r['text_kb_p50']:>9.1f}"
              + "".join(f"{r[k]['p50_ms']:>8.2f}{r[k]['p99_ms']:>8.2f}" for k in STAGES)
              + f"{r['wall_total_p50_ms']:>8.2f}{r['wall_total_p99_ms']:>8.2f}{r['commit_each_p50_ms']:>13.2f}")
    sized = [(k, r) for k, r in rows.items() if k != "corpus"]
    if len(sized) >= 2:
        (k0, r0), (k1, r1) = sized[0], sized[-1]
        growth = r1["total"]["p50_ms"] / r0["total"]["p50_ms"]
        text = r1["text_kb_p50"] / r0["text_kb_p50"]
        print(f"  {k0} -> {k1}: text x{text:.1f}, CPU p50 x{growth:.1f} ({'sublinear' if growth <= text else 'SUPERLINEAR'})")
    return rows


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
    # Peer: a numpy brute-force scan of the same fingerprints (popcount of XOR over all),
    # which is also the reference the index must agree with.
    scan_fps = np.concatenate([fps, new])
    scan_ids = np.arange(len(scan_fps), dtype=np.int64)

    m1, m2, m4, h01 = (np.uint64(v) for v in (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
                                               0x0101010101010101))

    def scan(q: int) -> list[tuple[int, int]]:
        # SWAR popcount: the fastest numpy-only way over a large array (a byte lookup
        # table costs 8 gathers per entry).
        x = scan_fps ^ np.uint64(q)
        x = x - ((x >> np.uint64(1)) & m1)
        x = (x & m2) + ((x >> np.uint64(2)) & m2)
        x = (x + (x >> np.uint64(4))) & m4
        d = (x * h01) >> np.uint64(56)
        hit = np.nonzero(d <= 3)[0]
        return sorted(zip(scan_ids[hit].tolist(), d[hit].tolist()), key=lambda p: (p[1], p[0]))

    sample = queries[:40]
    scan_p50, _ = latency(scan, sample)
    agree = sum(scan(q) == idx.query(q) for q in sample)
    print(f"index k=3 at {size:,}: build {build:.1f} s | query p50 {p50:.1f} µs p99 {p99:.1f} µs "
          f"(near queries answered {found}/{len(queries[::2])}) | {per_entry:.1f} B/entry | "
          f"{ins_rate:,.0f} inserts/s | p50 after inserts {p50b:.1f} µs")
    print(f"  numpy brute-force scan at {size + n_ins:,}: p50 {scan_p50:,.0f} µs -> index {scan_p50 / p50b:,.0f}x faster; "
          f"same answers for {agree}/{len(sample)} queries")
    return {"size": size, "build_s": build, "p50_us": p50, "p99_us": p99, "bytes_per_entry": per_entry,
            "inserts_per_s": ins_rate, "p50_after_inserts_us": p50b, "scan_p50_us": scan_p50,
            "scan_agreement": agree / len(sample)}


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
    ap.add_argument("--peer-size", type=int, default=1_000_000, help="SimhashIndex size (0: skip)")
    ap.add_argument("--e2e-articles", type=int, default=0, help="end-to-end pages (0: the whole corpus; -1: skip)")
    ap.add_argument("--page-sizes", default="14,65,250", help="KB of HTML of the sized article pages, comma separated")
    ap.add_argument("--pages-per-size", type=int, default=60)
    ap.add_argument("--only-e2e", action="store_true", help="skip the fingerprint and index benchmarks")
    ap.add_argument("--rounds", type=int, default=3,
                    help="end-to-end runs of each page set; an article's figure is its least (default 3)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not (args.corpus / "articles.jsonl").is_file():
        print(f"error: no articles.jsonl in {args.corpus}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(20240301)
    report = {"fingerprint": None if args.only_e2e else bench_fingerprint(args.corpus), "end_to_end": None,
              "index": [], "peer": None}
    if args.e2e_articles >= 0:
        sizes = [int(s) for s in args.page_sizes.split(",") if s]
        report["end_to_end"] = bench_end_to_end(args.corpus, args.e2e_articles, sizes, args.pages_per_size,
                                                 max(1, args.rounds))
    if args.only_e2e:
        args.sizes, args.peer_size = "", 0
    for size in (int(s) for s in args.sizes.split(",") if s):
        report["index"].append(bench_index(size, args.queries, rng))
    if args.peer_size:
        report["peer"] = bench_peer(args.peer_size, min(args.queries, 1000), rng)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
