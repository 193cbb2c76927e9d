"""The extraction speed check: ``extract`` against its frozen reference on bench pages, same fields, CPU per page.

    .venv/bin/python -m tests.dedup.extract_equivalence --corpus /work/shared/corpus [--news-pages 2000]
        [--page-sizes 14,65,250] [--pages-per-size 60] [--rounds 3] [--time-pages 300]

Pages: the realistic article pages of ``bench/news_site.py`` (``NewsPlan`` over the corpus, every
template, both languages), the corpus pages of ``bench/dedup_speed.py`` and its sized pages, and
the pages of the extraction tests (``tests/dedup/dedup_site.py``). Every page goes through both
implementations; any field that differs (text, title, published, author, lang, detected_lang, or
one raising where the other does not) is printed and makes the exit code 1, except the text of an
article longer than ``ARTICLE_TEXT_MAX``, which the reference reads whole: there the new text must be
its beginning (the same text up to the last paragraphs before the cut; counted apart). Then CPU ms per page
(``time.process_time``), old and new alternating page by page, min of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crawler.dedup import extract as new  # noqa: E402
from crawler.dedup.features import ARTICLE_TEXT_MAX  # noqa: E402
from tests.dedup.reference import extract_v1 as old  # noqa: E402

FIELDS = ("text", "title", "published", "author", "lang", "detected_lang")
#: At the cut the tree trafilatura reads ends inside the article, so its last paragraphs (and the
#: source lines added after them) may differ from the whole article's: this much of the head.
CUT_SLACK = 3_000


def _result(module, html: str, url: str) -> tuple | str:
    try:
        ex = module.extract(html, url)
    except module.ExtractionError as e:
        return f"ExtractionError: {e}"
    return tuple(getattr(ex, f) for f in FIELDS)


def page_sets(corpus: Path, news_pages: int, sizes: list[int], per_size: int) -> dict[str, list[tuple[str, str]]]:
    from bench import dedup_speed
    from bench.news_site import NewsPlan, NewsSite
    from crawler.dedup.features import parse_when
    from tests.dedup import dedup_site

    sets: dict[str, list[tuple[str, str]]] = {}
    plan = NewsPlan(corpus, news_pages, 1)
    site = NewsSite(plan)
    sets["realistic"] = [(f"http://127.0.0.1:8000{p.path}", site.page_html(p.path).decode()) for p in plan.articles]
    arts = [json.loads(line) for line in open(corpus / "articles.jsonl", encoding="utf-8")]
    arts.sort(key=lambda a: (parse_when(a.get("published")) or 0.0, a["id"]))
    sets["corpus"] = [(f"https://news.example/{a['lang']}/{a['id']}",
                       dedup_speed.article_page(a, arts[max(0, n - 12):n][-10:])) for n, a in enumerate(arts)]
    for kb in sizes:
        sets[f"{kb}k"] = dedup_speed.sized_pages(arts[0::2], kb, per_size)
    base = "http://127.0.0.1:8123"
    sets["tests"] = [(base + path, body.replace("{base}", base)) for path, (_, body) in dedup_site.PAGES.items()
                     if isinstance(body, str)]
    sets["hostile"] = hostile_pages()
    return sets


def hostile_pages() -> list[tuple[str, str]]:
    """The hostile-inputs test site's HTML pages (malformed, 15 MiB, GBK, NUL bytes...), decoded
    as UTF-8 with replacement and as gb18030, plus odd documents of no text."""
    import gzip

    from tests import mockserver

    site = mockserver.NewsSite()
    base = "http://127.0.0.1:8124"
    pages = []
    for path in [*site._static, "/huge"]:
        body = site.respond(path, "127.0.0.1:8124").payload
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        if b"<" not in body[:2000]:
            continue
        pages.append((base + path, body.decode("utf-8", "replace")))
        pages.append((base + path + "#gb18030", body.decode("gb18030", "replace")))
    odd = ["<html></html>", "<p>x</p>", "\x00\x00<html><body>\x00</body></html>", "<?xml version='1.0'?><a>b</a>",
           "<html><body>" + "<div>" * 5000 + "deep text " * 300 + "</div>" * 5000 + "</body></html>",
           "<html><head><title>T</title></head><body><article>" + "<p>Word " * 2000 + "</article></body></html>",
           "plain text with no markup at all, " * 50, "<html><body><script>" + "x" * 100000 + "</script></body></html>"]
    pages += [(f"{base}/odd/{i}", html) for i, html in enumerate(odd)]
    return pages


def compare(sets: dict[str, list[tuple[str, str]]]) -> int:
    differ = 0
    for name, pages in sets.items():
        same = errors = heads = 0
        for url, html in pages:
            a, b = _result(old, html, url), _result(new, html, url)
            if a == b:
                same += 1
                errors += isinstance(a, str)
                continue
            if _is_head(a, b):
                same += 1
                heads += 1
                continue
            differ += 1
            if isinstance(a, str) or isinstance(b, str):
                print(f"  DIFFER {name} {url}: old {a if isinstance(a, str) else 'ok'}, new {b if isinstance(b, str) else 'ok'}")
            else:
                fields = [f for f, x, y in zip(FIELDS, a, b) if x != y]
                print(f"  DIFFER {name} {url}: {fields}")
        print(f"{name}: {len(pages)} pages, {same} identical ({errors} of them ExtractionError in both, "
              f"{heads} the head of an article longer than ARTICLE_TEXT_MAX)", flush=True)
    return differ


def _is_head(a: tuple | str, b: tuple | str) -> bool:
    """Only the text differs, the reference's is longer than an article, and the new one is its head."""
    if isinstance(a, str) or isinstance(b, str) or a[1:] != b[1:] or len(a[0]) <= ARTICLE_TEXT_MAX:
        return False
    old_text, new_text = a[0], b[0]
    common = len(os.path.commonprefix([old_text, new_text]))
    # the new text is where the old one begins (a page whose text past the cut was one long node,
    # e.g. markup escaped as text, keeps less of it), up to the last paragraphs before the cut
    return common >= min(len(new_text), ARTICLE_TEXT_MAX) - CUT_SLACK and len(new_text) <= ARTICLE_TEXT_MAX + CUT_SLACK


def timing(sets: dict[str, list[tuple[str, str]]], rounds: int, limit: int) -> None:
    print(f"CPU ms per page (time.process_time), old and new alternating on each page, {rounds} times: "
          "the sum over pages of each page's minimum")
    for name, pages in sets.items():
        pages = pages[:limit]
        best = {"old": [float("inf")] * len(pages), "new": [float("inf")] * len(pages)}
        for _ in range(rounds):
            for i, (url, html) in enumerate(pages):
                for label, module in (("old", old), ("new", new)):
                    c = time.process_time()
                    _result(module, html, url)
                    best[label][i] = min(best[label][i], time.process_time() - c)
        o, n = (sum(best[k]) / len(pages) * 1e3 for k in ("old", "new"))
        print(f"  {name:<10}{len(pages):>5} pages  old {o:7.2f}  new {n:7.2f}  ({n / o:.2f})", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    ap.add_argument("--news-pages", type=int, default=2000)
    ap.add_argument("--page-sizes", default="14,65,250")
    ap.add_argument("--pages-per-size", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--time-pages", type=int, default=300, help="pages of each set timed (0: no timing)")
    ap.add_argument("--no-compare", action="store_true")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.page_sizes.split(",") if s]
    sets = page_sets(a.corpus, a.news_pages, sizes, a.pages_per_size)
    differ = 0 if a.no_compare else compare(sets)
    if a.time_pages:
        timing(sets, a.rounds, a.time_pages)
    if differ:
        print(f"{differ} pages differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
