"""Long articles: an article is its first ARTICLE_TEXT_MAX characters, in extraction, signals, catch-up and rebuild."""

from __future__ import annotations

import io
import json

import lxml.html
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.catchup_record import RecordTask, analyse_record
from crawler.dedup import extract as extract_module
from crawler.dedup.analysis import analyse_page
from crawler.dedup.defaults import DEFAULTS
from crawler.dedup.detector import Detector
from crawler.dedup.extract import TREE_TEXT_MAX, extract
from crawler.dedup.features import ARTICLE_TEXT_MAX, Article, article_head, compute_signals
from crawler.dedup.payload import build_payload, encode
from crawler.dedup.service import _Analyst
from crawler.dedup.store import ArticleStore
from crawler.rebuild import replay_block

URL = "http://127.0.0.1:8000/en/2026/01/long.html"
SOURCE = "https://origin.example/advisories/2026/long-story"
WORDS = ("vendor", "patched", "kernel", "driver", "exploit", "researchers", "attackers", "campaign", "firmware",
         "gateway", "ransomware", "hospital", "telemetry", "customers", "signature", "sandbox", "botnet")


def paragraph(n: int, topic: str = "") -> str:
    """A paragraph of about 330 characters that no other ``n`` repeats (its CVE id and word order)."""
    words = " ".join(WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(40))
    return f"Part {n} {topic}: {words}. The advisory for CVE-2026-{10000 + n} lists build {n}.{n % 7}."


def page(paragraphs: list[str], *, head: str = "", tail: str = "", script: str = "") -> str:
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>A long report</title>"
            f"<meta property='article:published_time' content='2026-01-05T08:00:00+00:00'></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/about'>About</a></nav>{script}"
            f"<article><h1>A long report</h1>\n{head}{body}{tail}</article>"
            f"<footer><p>Copyright 2026 Example News. All rights reserved.</p></footer></body></html>")


def long_paragraphs(chars: int, start: int = 0, topic: str = "") -> list[str]:
    out: list[str] = []
    n = start
    while sum(map(len, out)) < chars:
        out.append(paragraph(n, topic))
        n += 1
    return out


def paragraphs_of(text: str) -> list[str]:
    """The paragraphs of an extracted text after its headline."""
    heading, *rest = text.rstrip("\n").split("\n\n")
    assert heading == "# A long report"
    return rest


def test_a_300_kb_article_is_analysed_from_its_head():
    paragraphs = long_paragraphs(300_000)
    late = "https://late.example/the-end"
    html = page(paragraphs, head=f"<p>Source: <a href='{SOURCE}'>{SOURCE}</a></p>",
                tail=f"<p>Via: <a href='{late}'>{late}</a></p>")
    assert len(html) > 300_000
    article, signals = analyse_page(html, URL, lang="en", source="site")
    # The text is the article's head, whole paragraphs in order, within the bound, its source line
    # first; a source line past the bound is read too (a translation names its original at its end
    # as often as at its start) and comes after the head.
    *body, late_line = article.text.rstrip("\n").split("\n")
    assert late in late_line and len("\n".join(body)) <= ARTICLE_TEXT_MAX
    source_line, *kept = paragraphs_of("\n".join(body))
    assert kept == paragraphs[:len(kept)] and len(article.text) > ARTICLE_TEXT_MAX - 2 * len(paragraphs[0])
    assert SOURCE in source_line
    assert [link["url"] for link in signals.source_links] == [SOURCE.split("://")[1], late.split("://")[1]]
    # Every signal of the body comes from the head: nothing of the tail, a bounded number of tokens.
    assert "cve-2026-10100" not in signals.anchors and "cve-2026-10000" in signals.anchors
    assert f"cve-2026-{10000 + len(kept) + 5}" not in signals.anchors
    assert signals.length < ARTICLE_TEXT_MAX // 4
    # What is stored per article (the metadata record's block) is bounded too.
    assert len(encode(build_payload(article, signals))) < 2 * ARTICLE_TEXT_MAX
    assert article.published == "2026-01-05T08:00:00+00:00"


def test_the_tree_trafilatura_reads_is_cut_after_its_text_bound():
    paragraphs = long_paragraphs(300_000)
    tree = lxml.html.fromstring(page(paragraphs))
    before = tree.find("body").text_content()
    assert extract_module._bound_tree(tree, TREE_TEXT_MAX)
    after = tree.find("body").text_content()
    # A prefix of the page's text in document order: the footer and the article's tail are gone.
    assert before.startswith(after) and "Copyright" not in after
    # Within the bound, give or take the whitespace between elements that is not counted.
    assert TREE_TEXT_MAX <= len(after) <= TREE_TEXT_MAX + 2 * len(paragraphs)
    assert len(tree.find("body").xpath(".//p")) < len(paragraphs) // 10


def test_one_huge_text_node_is_cut_too():
    text = " ".join(paragraph(n) for n in range(1000))  # 330 KB in one paragraph, no line end
    ex = extract(page([text]), URL)
    assert len(ex.text) <= ARTICLE_TEXT_MAX and text.startswith(paragraphs_of(ex.text)[0])
    assert len(ex.text) > ARTICLE_TEXT_MAX - 100


def test_script_and_style_text_does_not_use_up_the_bound():
    paragraphs = long_paragraphs(12_000)
    script = "<script>" + "var x = 'nav data';\n" * 10_000 + "</script><style>" + "p{}" * 20_000 + "</style>"
    assert extract(page(paragraphs, script=script), URL).text == extract(page(paragraphs), URL).text
    assert paragraphs_of(extract(page(paragraphs), URL).text) == paragraphs


def test_a_page_within_the_bound_is_left_as_it_is():
    paragraphs = long_paragraphs(ARTICLE_TEXT_MAX - 1_000)
    tree = lxml.html.fromstring(page(paragraphs))
    html = lxml.html.tostring(tree)
    assert not extract_module._bound_tree(tree, TREE_TEXT_MAX)
    assert lxml.html.tostring(tree) == html
    assert paragraphs_of(extract(page(paragraphs), URL).text) == paragraphs


def test_two_long_articles_alike_in_their_head_are_one_article():
    """Past its first ARTICLE_TEXT_MAX characters an article's text is not read, so two pages that
    agree on them are flagged ``exact``, whatever follows; a difference within them counts."""
    head = long_paragraphs(ARTICLE_TEXT_MAX + 5_000)
    store = ArticleStore(":memory:")
    det = Detector(store)
    added = {}
    for name, paragraphs in {
        "a": head + long_paragraphs(30_000, 500, "ransomware at a hospital"),
        "b": head + long_paragraphs(60_000, 900, "a botnet of routers"),
        "c": long_paragraphs(ARTICLE_TEXT_MAX, 2000, "another story") + head,
    }.items():
        article, signals = analyse_page(page(paragraphs), f"http://127.0.0.1:8000/en/{name}.html", lang="en")
        added[name] = (article, signals, det.add(article, signals))
    (a, sig_a, (id_a, _)), (b, sig_b, (_, matches_b)), (_, sig_c, (_, matches_c)) = added.values()
    assert a.text == b.text and sig_a.content_hash == sig_b.content_hash
    assert [(m.article_id, m.kind) for m in matches_b] == [(id_a, "exact")]
    assert sig_c.content_hash != sig_a.content_hash and "exact" not in [m.kind for m in matches_c]


def test_signals_of_a_long_text_are_those_of_its_head():
    """Also for a text that did not come through extraction (the benchmarks' corpus texts, tests)."""
    text = "\n".join(long_paragraphs(3 * ARTICLE_TEXT_MAX))
    head = article_head(text)
    assert len(head) <= ARTICLE_TEXT_MAX and text.startswith(head + "\n")
    sig = compute_signals(Article(url=URL, lang="en", text=text))
    assert sig == compute_signals(Article(url=URL, lang="en", text=head))


def _record(html: str) -> tuple[bytes, str, str]:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    rec = writer.create_warc_record(URL, "response", payload=io.BytesIO(html.encode()), http_headers=http)
    writer.write_record(rec)
    return out.getvalue(), rec.rec_headers.get_header("WARC-Record-ID"), rec.rec_headers.get_header("WARC-Date")


def test_the_crawl_the_catch_up_and_a_rebuild_bound_a_long_article_alike(tmp_path):
    html = page(long_paragraphs(300_000), head=f"<p>Source: {SOURCE}</p>")
    raw, record_id, fetched_at = _record(html)
    caught_up = analyse_record(RecordTask(raw, "a.warc.gz", 0, URL, "site", "en", (), 1 << 20))
    assert caught_up.status == "ok"
    analyst = _Analyst(str(tmp_path / "crawl.sqlite3"), DEFAULTS)
    try:
        crawled = analyst.page({"html": html, "url": URL, "lang": "en", "source": "site", "status": 200,
                                "fetched_at": fetched_at, "warc_record_id": record_id})
    finally:
        analyst.close()
    assert crawled.payload == caught_up.block
    text = json.loads(crawled.payload)["extraction"]["text"]
    assert len(text) < ARTICLE_TEXT_MAX + 200 and SOURCE in text
    store = ArticleStore(tmp_path / "rebuilt.sqlite3")
    try:
        assert replay_block(Detector(store), caught_up.block, {})
        rebuilt = store.by_url(URL)
        assert rebuilt is not None and rebuilt.signals == caught_up.signals
    finally:
        store.close()


def test_a_page_of_thousands_of_source_lines_adds_a_bounded_few():
    """Source lines are read on the whole page, but what they add after the head is bounded."""
    from crawler.dedup.extract import SOURCE_LINES_MAX

    blocks = "".join(f"<div>Source: <a href='https://s{n}.example/a'>s{n}</a></div>" for n in range(3_000))
    html = page(long_paragraphs(2_000), tail=blocks)
    ex = extract(html, URL)
    head, _, after = ex.text.partition("\n\n" + "Source: s")  # the lines added after the head
    added = ("Source: s" + after).rstrip("\n").split("\n")
    numbers = [int(line.split()[1][1:]) for line in added]
    assert len(head) <= ARTICLE_TEXT_MAX and numbers == sorted(numbers)  # the first past the head, in page order
    assert 10 < len(added) < 100 and sum(len(line) + 1 for line in added) <= SOURCE_LINES_MAX + 1
    assert "https://s2999.example/a" not in ex.text
