"""The realistic bench site (bench/news_site.py) serves what bench/crawl.py counts on: real-sized pages in
both languages, every article reachable by links, labelled pairs on known URLs, a valid sources file; and
the crawl bench's catalog check fails when an article is missing."""

from __future__ import annotations

import gzip
import json
import random
import re
import urllib.error
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import lxml.html
import pytest

from bench.crawl import Result, Run, Target, verify_catalog
from bench.news_site import ARTICLE_PATTERN, PAGE_BYTES, TEXT_BYTES, NewsPlan, NewsServer, NewsSite
from crawler.dedup.analysis import analyse_page
from crawler.dedup.defaults import Thresholds
from crawler.dedup.detector import Detector
from crawler.dedup.store import ArticleStore
from crawler.sources import load_sources

EN_WORDS = ("attackers exploited a critical flaw in the gateway firmware while researchers warned customers "
            "that stolen credentials and ransomware payloads spread through the vendor network after the patch").split()
ZH_CHARS = "攻击者利用网关固件中的严重漏洞研究人员警告客户被盗凭据和勒索软件通过供应商网络传播补丁发布后仍有大量设备暴露"


def _paragraphs(rng: random.Random, lang: str, count: int) -> list[str]:
    if lang == "en":
        return [" ".join(rng.choices(EN_WORDS, k=70)).capitalize() + "." for _ in range(count)]
    return ["".join(rng.choices(ZH_CHARS, k=150)) + "。" for _ in range(count)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six articles a language of unique prose (the real corpus is not part of the repository), one with
    HTML in its text as some feed items have, and a labelled translation pair."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = random.Random(5)
    articles = []
    for lang in ("en", "zh"):
        for i in range(6):
            text = "\n\n".join(_paragraphs(rng, lang, 10))
            if lang == "en" and i == 0:
                text = "<p>" + text.replace("\n\n", "</p>\n<p>") + "</p>"
            articles.append({"id": f"{lang}-{i}", "lang": lang, "title": f"{lang} story {i}",
                             "published": f"2024-03-0{i + 1} 10:00", "text": text})
    (folder / "articles.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles),
                                           encoding="utf-8")
    group = {"group_id": "g1", "article_ids": ["zh-2", "en-3"], "relation": "translation_of"}
    (folder / "groups.jsonl").write_text(json.dumps(group) + "\n", encoding="utf-8")
    return folder


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _article_text(page: bytes) -> str:
    return lxml.html.fromstring(page).xpath('//*[@itemprop="articleBody"]')[0].text_content()


def test_site_serves_real_sized_pages_in_both_languages_reachable_by_links(corpus: Path) -> None:
    pages = 16  # twelve corpus articles, then four reposts
    with NewsServer(corpus, pages=pages, seed=3) as server:
        plan = server.plan
        by_path = {p.path: p for p in plan.articles}
        seen, queue, bodies = {"/"}, ["/"], {}
        while queue:
            path = queue.pop()
            status, headers, body = _get(server.url(path))
            assert status == 200, path
            assert headers["Content-Encoding"] == "gzip"
            bodies[path] = body = gzip.decompress(body)
            links = re.findall(r'href="(/[^"]*)"', body.decode("utf-8"))
            if path.endswith("feed.xml"):
                links = [ElementTree.fromstring(body).findtext(".//item/link").split(server.host, 1)[1]]
            for href in links:
                if href not in seen and "/search" not in href and "/newsletter" not in href:
                    seen.add(href)
                    queue.append(href)
        assert set(plan.article_paths()) <= seen
        assert set(plan.listing_paths()) | set(plan.feed_paths()) <= seen
        assert len(plan.article_paths()) == pages and len({p.template for p in plan.articles}) == 3
        for path in plan.article_paths():
            body, page = bodies[path], by_path[path]
            assert PAGE_BYTES[0] <= len(body) <= PAGE_BYTES[1], (path, len(body))
            text = _article_text(body)
            assert TEXT_BYTES[0] <= len(text.encode("utf-8")) <= TEXT_BYTES[1], (path, len(text.encode()))
            assert f'<html lang="{"zh-CN" if page.lang == "zh" else "en"}">'.encode() in body
            cjk = sum("\u4e00" <= c <= "\u9fff" for c in text) / len(text)
            assert (cjk > 0.5) if page.lang == "zh" else (cjk == 0), (path, cjk)
            assert b'id="comments"' in body and b"<script>" in body and b"<style>" in body
            assert "<p>" not in text and "&lt;" not in text  # HTML in a corpus text is not shown as text
            assert re.search(ARTICLE_PATTERN, server.url(path))
        assert _get(server.url("/en/page/99"))[0] == 404


def test_labelled_pair_and_reposts_carry_their_articles(corpus: Path) -> None:
    plan = NewsPlan(corpus, 16, seed=3)
    site = NewsSite(plan)
    pairs = plan.labelled_pairs()
    translation = [(a, b) for a, b, rel in pairs if rel == "translation_of"]
    assert len(translation) == 1
    first = {p.path: p for p in plan.articles}
    zh, en = (first[path] for path in translation[0])
    assert (zh.article.id, zh.lang, en.article.id, en.lang) == ("zh-2", "zh", "en-3", "en")
    for page in (zh, en):
        assert page.article.blocks[0].text in _article_text(site.page_html(page.path))
    reposts = [(first[a], first[b]) for a, b, rel in pairs if rel == "repost"]
    assert len(reposts) == 4
    for original, copy in reposts:
        assert copy.article == original.article and copy.copy == 1 and copy.template != original.template
        text, copy_text = _article_text(site.page_html(original.path)), _article_text(site.page_html(copy.path))
        shared = set(text.split("\n")) & set(copy_text.split("\n"))
        assert len("".join(shared).encode()) > 0.7 * len(text.encode())  # a light edit: the same story


def test_sources_file_keeps_each_language_to_its_half(corpus: Path, tmp_path: Path) -> None:
    plan = NewsPlan(corpus, 4, seed=3)
    path = tmp_path / "sources.toml"
    path.write_text(plan.sources_toml("http://127.0.0.1:8123", "127.0.0.1:8123"), encoding="utf-8")
    en, zh = load_sources(path)
    assert (en.lang, zh.lang) == ("en", "zh")
    assert en.is_article("http://127.0.0.1:8123/en/2024/03/7.html") and not en.is_article("http://127.0.0.1:8123/en/")
    assert en.should_follow("http://127.0.0.1:8123/en/page/2")
    assert not en.should_follow("http://127.0.0.1:8123/zh/page/2")


def test_catalog_check_fails_while_an_article_is_missing(corpus: Path, tmp_path: Path) -> None:
    plan = NewsPlan(corpus, 3, seed=3)
    site = NewsSite(plan)
    urls = {f"http://127.0.0.1:9/{p.path.lstrip('/')}": p for p in plan.articles}
    target = Target("realistic", server=None, sources=tmp_path / "s.toml",  # type: ignore[arg-type]
                    article_urls=set(urls), pages=len(urls))
    catalog = tmp_path / "dedup.sqlite3"
    store = ArticleStore(catalog)
    detector = Detector(store, Thresholds())
    for i, (url, page) in enumerate(urls.items()):
        if i:  # the first article is missing until the end
            detector.add(*analyse_page(site.page_html(page.path).decode("utf-8"), url, lang=page.lang))
    store.commit()
    result = Result("dedup", Run())
    verify_catalog(catalog, target, result)
    assert not result.checks_ok and "2 of 3 -> FAIL" in result.checks[0]

    url, page = next(iter(urls.items()))
    detector.add(*analyse_page(site.page_html(page.path).decode("utf-8"), url, lang=page.lang))
    store.commit()
    store.close()
    result = Result("dedup", Run())
    verify_catalog(catalog, target, result)
    assert result.checks_ok and "3 of 3 -> PASS" in result.checks[0]
