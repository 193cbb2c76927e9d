"""The realistic bench site: corpus articles served as real-sized news pages in Chinese and English.

``python bench/news_site.py --corpus ../shared/corpus --pages N --seed S [--port 0]`` prints
``READY http://127.0.0.1:PORT`` and serves until killed; ``with NewsServer(corpus, pages=N, seed=S)
as server:`` runs it as a subprocess (bench/crawl.py ``--site realistic``).

What it serves (``NewsPlan`` says it without rendering anything, so a benchmark can check a crawl):

- ``/en/2023/07/<n>.html`` and ``/zh/...``: N article pages, page ``n`` holding corpus article
  ``order[n % len(corpus)]`` (a seeded shuffle of the corpus; the reading is done at start, the corpus is
  never copied). Copies beyond the corpus size are light edits of the first: another outlet's template, a
  repost note, a tag on the title, one paragraph dropped (reposts, as news sites have them).
- Each article page is rendered into one of three outlet templates of its language (nav, breadcrumb,
  sidebar with related and most-read links, share bar, comments, footer, inline style and scripts,
  schema.org ``itemprop="articleBody"``): ``PAGE_BYTES`` of HTML holding ``TEXT_BYTES`` of article text
  (UTF-8). The corpus's English items are feed teasers and most Chinese ones are shorter than that, so
  a short article is continued with whole paragraphs of other corpus articles of its language (drawn at
  random, seeded by the article, so a repost carries the same text); a long one is cut at a paragraph.
- ``/en/`` and ``/en/page/<k>``: listings, newest first, ``PER_LISTING`` a page, with numbered
  pagination; ``/en/topic/<slug>``: the newest of each topic; ``/en/feed.xml``: RSS of the newest
  ``FEED_ITEMS``; ``/``: both languages; ``/robots.txt`` allows all. The same under ``/zh/``.

Every HTML page and the feed are sent gzip-encoded, as news sites send them. Bodies hold no timestamps.
``/__hits`` counts requests (crawler/demo/httpd.py).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import html
import json
import random
import re
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.demo.httpd import Response, ServerProcess, serve  # noqa: E402

LANGS = ("en", "zh")
#: UTF-8 bytes of article text (the ``articleBody`` element's text) on every article page.
TEXT_BYTES = (10_000, 20_000)
#: HTML bytes of every article page (before gzip): real news pages are mostly chrome and script.
PAGE_BYTES = (60_000, 120_000)
PER_LISTING = 20
FEED_ITEMS = 30
RELATED_LINKS = 6
MOST_READ_LINKS = 8
TEMPLATES = 3
#: The article pages' URL pattern (a source's ``article_pattern``), for both languages.
ARTICLE_PATTERN = r"/(?:en|zh)/\d{4}/\d{2}/\d+\.html$"

_OUTLETS = {
    "en": ("Breach Wire", "Patchline Magazine", "Signal & Noise Security"),
    "zh": ("安全快讯网", "威胁情报周刊", "白帽观察"),
}
_TOPICS = {
    "en": (("vulnerabilities", "Vulnerabilities"), ("malware", "Malware"), ("ransomware", "Ransomware"),
           ("cloud", "Cloud"), ("breaches", "Data breaches"), ("policy", "Policy")),
    "zh": (("vulnerabilities", "漏洞"), ("malware", "恶意软件"), ("ransomware", "勒索软件"),
           ("cloud", "云安全"), ("breaches", "数据泄露"), ("policy", "政策法规")),
}
_LABELS = {
    "en": {"home": "Home", "related": "Related stories", "most_read": "Most read", "comments": "comments",
           "reply": "Reply", "share": ("Share", "Tweet", "Email"), "newsletter": "Get the daily briefing in your inbox.",
           "subscribe": "Subscribe", "older": "Older", "newer": "Newer", "page": "Page", "by": "By",
           "repost": "This story was first published by our partner outlet and is republished with permission.",
           "retag": "Updated: ", "login": "Log in to join the discussion.", "other": "中文版",
           "rights": "All rights reserved.", "latest": "Latest security news"},
    "zh": {"home": "首页", "related": "相关阅读", "most_read": "热门文章", "comments": "条评论", "reply": "回复",
           "share": ("分享", "微博", "微信"), "newsletter": "订阅每日安全简报。", "subscribe": "订阅",
           "older": "下一页", "newer": "上一页", "page": "第", "by": "作者",
           "repost": "本文转载自合作媒体，已获授权。", "retag": "【转载】", "login": "登录后参与评论。",
           "other": "English", "rights": "版权所有。", "latest": "最新安全资讯"},
}
_AUTHORS = {
    "en": ("Dana Whitfield", "Marco Reyes", "Priya Natarajan", "Tom Okafor", "Lena Brandt", "Sam Carter"),
    "zh": ("小王斯基", "安全编辑部", "星尘", "老李", "Alpha_h4ck", "清风"),
}
_COMMENTERS = ("kernelpanic", "blue_team_bob", "ops-anna", "0xfeed", "sysadmin42", "nightshift", "patchtuesday",
               "李工", "网安小白", "蓝队老张", "redteamer", "infosec_jo")

_BLOCK_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)")
_INLINE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)|\[([^\]]+)\]\(([^)\s]+)[^)]*\)|\*\*(.+?)\*\*")


# -- the corpus ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """One block of an article body: its HTML and the bytes of text a reader sees in it."""

    html: str
    text: str

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))


@dataclass(frozen=True)
class CorpusArticle:
    id: str
    lang: str
    title: str
    published: datetime
    blocks: tuple[Block, ...]


def _inline(line: str) -> Block:
    """Markdown inline markup to escaped HTML: links, images, bold; everything else is text."""
    parts, text, pos = [], [], 0
    for m in _INLINE.finditer(line):
        plain = line[pos:m.start()]
        parts.append(html.escape(plain))
        text.append(plain)
        image, anchor, href, bold = m.groups()
        if image is not None:
            if image.startswith(("http://", "https://")):
                parts.append(f'<img src="{html.escape(image)}" alt="" loading="lazy">')
        elif anchor is not None:
            if href.startswith(("http://", "https://")):
                parts.append(f'<a href="{html.escape(href)}" rel="noopener">{html.escape(anchor)}</a>')
            else:
                parts.append(html.escape(anchor))
            text.append(anchor)
        else:
            parts.append(f"<strong>{html.escape(bold)}</strong>")
            text.append(bold)
        pos = m.end()
    parts.append(html.escape(line[pos:]))
    text.append(line[pos:])
    return Block("".join(parts), "".join(text).strip())


def markdown_blocks(text: str, title: str = "") -> list[Block]:
    """The corpus's markdown as body blocks: headings, quotes, paragraphs and figures."""
    blocks = []
    for raw in text.splitlines():
        line = raw.strip().replace("\xa0", " ")
        if not line or line.strip("#").strip() == title.strip():
            continue
        if _BLOCK_IMAGE.fullmatch(line):
            src = html.escape(_BLOCK_IMAGE.fullmatch(line).group(1))  # type: ignore[union-attr]
            blocks.append(Block(f'<figure><img src="{src}" alt="" loading="lazy"></figure>', ""))
            continue
        tag = "p"
        if line.startswith("#"):
            tag, line = "h2", line.lstrip("#").strip()
        elif line.startswith(">"):
            tag, line = "blockquote", line.lstrip(">").strip()
        inner = _inline(line)
        if inner.text or "<img" in inner.html:
            blocks.append(Block(f"<{tag}>{inner.html}</{tag}>", inner.text))
    return blocks


_BREAK_TAGS = re.compile(r"(?i)<br\s*/?>|</(?:p|div|tr|li|h\d|table|blockquote)\s*>")
_TAG = re.compile(r"<[^>]+>")


def plain_markdown(text: str) -> str:
    """Corpus text without the HTML some of it carries (feed descriptions, pasted tables): block-ending
    tags become line breaks, other tags go, entities are decoded."""
    if "<" not in text and "&" not in text:
        return text
    return html.unescape(_TAG.sub("", _BREAK_TAGS.sub("\n", text)))


def _published(value: str | None) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value or "", fmt).replace(tzinfo=None)
        except ValueError:
            continue
    return datetime(2024, 1, 1)


def load_corpus(corpus: Path) -> tuple[list[CorpusArticle], list[dict]]:
    """The articles (sorted by id) and the labelled groups of a corpus folder (/work/shared/corpus layout)."""
    path = Path(corpus) / "articles.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no corpus at {corpus}: expected {path} (pass --corpus ../shared/corpus)")
    articles = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            if a.get("lang") not in LANGS:
                continue
            title = (a.get("title") or "").strip()
            articles.append(CorpusArticle(a["id"], a["lang"], title, _published(a.get("published")),
                                          tuple(markdown_blocks(plain_markdown(a.get("text") or ""), title))))
    groups_path = Path(corpus) / "groups.jsonl"
    groups = []
    if groups_path.exists():
        with open(groups_path, encoding="utf-8") as f:
            groups = [json.loads(line) for line in f if line.strip()]
    return sorted(articles, key=lambda a: a.id), groups


_SOURCE_WORDS = re.compile(r"原文|来源|参考|翻译|编译|转载|链接|http|www\.|source|via ", re.I)


def padding_pool(articles: list[CorpusArticle]) -> dict[str, list[tuple[str, Block]]]:
    """Paragraphs that may continue another article, by language: prose only. Paragraphs with links
    or naming a source, and any text seen in two corpus articles (outlets' boilerplate) are left out:
    a page continued with them would cite another article's original or share its footer, and the
    detector would rightly flag the pair (hundreds of false pairs in 150 pages)."""
    seen: dict[str, set[str]] = {}
    for a in articles:
        for b in a.blocks:
            seen.setdefault(b.text, set()).add(a.id)
    return {lang: [(a.id, b) for a in articles if a.lang == lang for b in a.blocks
                   if b.size >= 120 and b.html.startswith("<p>") and "<a " not in b.html
                   and not _SOURCE_WORDS.search(b.text) and len(seen[b.text]) == 1]
            for lang in LANGS}


# -- what the site serves -------------------------------------------------------------------------
@dataclass(frozen=True)
class ArticlePage:
    n: int
    path: str
    article: CorpusArticle
    copy: int  # 0: the corpus article as published; k > 0: the k-th repost
    template: int
    topic: int
    published: datetime

    @property
    def lang(self) -> str:
        return self.article.lang


@dataclass
class NewsPlan:
    """Which article is on which URL, in which template: everything but the rendering."""

    corpus: Path
    pages: int
    seed: int
    articles: list[ArticlePage] = field(init=False)
    groups: list[dict] = field(init=False)
    corpus_articles: list[CorpusArticle] = field(init=False)
    by_lang: dict[str, list[ArticlePage]] = field(init=False)

    def __post_init__(self) -> None:
        if self.pages < 1:
            raise ValueError(f"pages must be at least 1, got {self.pages}")
        corpus, self.groups = load_corpus(self.corpus)
        self.corpus_articles = corpus
        if not corpus:
            raise ValueError(f"no zh or en articles in {self.corpus}")
        order = list(corpus)
        random.Random(self.seed).shuffle(order)
        self.articles = []
        for n in range(self.pages):
            article, copy = order[n % len(order)], n // len(order)
            published = article.published + timedelta(days=copy, hours=3 * copy)
            template = (_stable(article.id) + copy) % TEMPLATES
            self.articles.append(ArticlePage(
                n, f"/{article.lang}/{published:%Y}/{published:%m}/{n}.html", article, copy, template,
                _stable(article.id, "topic") % len(_TOPICS[article.lang]), published))
        self.by_lang = {lang: sorted((p for p in self.articles if p.lang == lang),
                                     key=lambda p: (p.published, p.n), reverse=True) for lang in LANGS}

    def article_paths(self) -> list[str]:
        return [p.path for p in self.articles]

    def listing_count(self, lang: str) -> int:
        return max(1, -(-len(self.by_lang[lang]) // PER_LISTING))

    def listing_paths(self) -> list[str]:
        paths = ["/"]
        for lang in LANGS:
            paths += [f"/{lang}/"] + [f"/{lang}/page/{k}" for k in range(2, self.listing_count(lang) + 1)]
            paths += [f"/{lang}/topic/{slug}" for slug, _ in _TOPICS[lang]]
        return paths

    def feed_paths(self) -> list[str]:
        return [f"/{lang}/feed.xml" for lang in LANGS]

    def labelled_pairs(self) -> list[tuple[str, str, str]]:
        """(path, path, relation) of the corpus's labelled groups whose articles are both served (their
        first copies), then every repost with its original (relation ``repost``)."""
        first = {}
        for p in self.articles:
            first.setdefault(p.article.id, p.path)
        pairs = []
        for g in self.groups:
            ids = [i for i in g.get("article_ids", []) if i in first]
            pairs += [(first[a], first[b], g.get("relation", "")) for i, a in enumerate(ids) for b in ids[i + 1:]]
        pairs += [(first[p.article.id], p.path, "repost") for p in self.articles if p.copy]
        return pairs

    def sources_toml(self, base_url: str, host: str) -> str:
        """A sources file with one source per language, each kept to its half of the site."""
        out = []
        for lang in LANGS:
            out.append(
                "[[source]]\n"
                f'name = "news-{lang}"\n'
                f'lang = "{lang}"\n'
                f'start_urls = ["{base_url}/{lang}/"]\n'
                f'allowed_domains = ["{host}"]\n'
                f"article_pattern = '{ARTICLE_PATTERN}'\n"
                f"follow_pattern = '^http://[^/]+/{lang}/'\n"
                "max_depth = 20\n"
                "max_pages = 100000\n")
        return "\n".join(out)


def _stable(*parts: object) -> int:
    """A hash stable across processes (``hash()`` is salted)."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


# -- rendering -----------------------------------------------------------------------------------
class NewsSite:
    """Serves a ``NewsPlan``; every page is rendered and gzipped before the server says READY."""

    def __init__(self, plan: NewsPlan) -> None:
        self.plan = plan
        self._pool = padding_pool(plan.corpus_articles)
        self._position = {lang: {p.n: i for i, p in enumerate(plan.by_lang[lang])} for lang in LANGS}
        self._by_path = {p.path: p for p in plan.articles}
        self._cache: dict[str, Response] = {}
        self._feeds: dict[tuple[str, str], Response] = {}
        self._lock = threading.Lock()
        for path in plan.listing_paths() + plan.article_paths():
            self._cache[path] = self._build(path)

    # -- Site protocol
    def respond(self, path: str, host: str) -> Response:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        if path == "/robots.txt":
            return Response(200, b"User-agent: *\nDisallow:\n", "text/plain")
        m = re.fullmatch(r"/(en|zh)/feed\.xml", path)
        if m:
            with self._lock:
                key = (m.group(1), host)
                if key not in self._feeds:
                    self._feeds[key] = _gzipped(self.feed_xml(m.group(1), host), "application/rss+xml; charset=utf-8")
                return self._feeds[key]
        return Response(404, b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>", reason="Not Found")

    def _build(self, path: str) -> Response:
        return _gzipped(self.page_html(path))

    # -- pages
    def page_html(self, path: str) -> bytes:
        """The uncompressed HTML of a listing or article path (KeyError for any other)."""
        if path in self._by_path:
            return self.article_html(self._by_path[path]).encode("utf-8")
        if path == "/":
            return self._home().encode("utf-8")
        m = re.fullmatch(r"/(en|zh)/(?:page/(\d+))?", path)
        if m:
            return self._listing(m.group(1), int(m.group(2) or 1)).encode("utf-8")
        m = re.fullmatch(r"/(en|zh)/topic/([a-z]+)", path)
        if m:
            return self._topic(m.group(1), m.group(2)).encode("utf-8")
        raise KeyError(path)

    def body_blocks(self, page: ArticlePage) -> list[Block]:
        """The article's own blocks to a seeded size in ``TEXT_BYTES``, continued with other articles'
        paragraphs of its language when short; a repost adds a note and drops one paragraph."""
        a = page.article
        rng = random.Random(_stable(self.plan.seed, a.id))
        target = rng.randint(TEXT_BYTES[0] + 1_000, TEXT_BYTES[1] - 1_500)
        labels = _LABELS[a.lang]
        blocks: list[Block] = []
        if page.copy:
            note = labels["repost"]
            blocks.append(Block(f'<p class="repost-note"><em>{html.escape(note)}</em></p>', note))
        own = list(a.blocks)
        if page.copy and len(own) > 2:
            del own[1 + page.copy % (len(own) - 1)]
        size = sum(b.size for b in blocks)
        for block in own:
            if size + block.size > target:
                break
            blocks.append(block)
            size += block.size
        pool = self._pool[a.lang]
        taken: set[int] = set()
        for _ in range(10 * len(pool)):
            if size >= target - 300 or not pool:
                break
            i = rng.randrange(len(pool))
            aid, block = pool[i]
            if aid != a.id and i not in taken and size + block.size <= TEXT_BYTES[1] - 500:
                blocks.append(block)
                taken.add(i)
                size += block.size
        return blocks

    def article_html(self, page: ArticlePage) -> str:
        a, lang = page.article, page.lang
        labels = _LABELS[lang]
        rng = random.Random(_stable(self.plan.seed, page.n, "chrome"))
        title = (labels["retag"] if page.copy else "") + a.title
        same = self.plan.by_lang[lang]
        pos = self._position[lang][page.n]
        related = [same[(pos + k) % len(same)] for k in range(1, RELATED_LINKS + 1) if len(same) > k]
        most_read = rng.sample(same, min(MOST_READ_LINKS, len(same)))
        ctx = _Context(
            lang=lang, outlet=_OUTLETS[lang][page.template], title=title,
            author=_AUTHORS[lang][_stable(a.id, "author") % len(_AUTHORS[lang])],
            published=page.published, topic=_TOPICS[lang][page.topic],
            body="\n".join(b.html for b in self.body_blocks(page)),
            related=[(p.path, _title(p)) for p in related], most_read=[(p.path, _title(p)) for p in most_read],
            comments=self._comments(rng, lang), teaser=_teaser(a))
        render = (_template_wire, _template_magazine, _template_portal)[page.template]
        return _sized(render(ctx), rng, PAGE_BYTES)

    def _comments(self, rng: random.Random, lang: str) -> list[tuple[str, str, str]]:
        pool = self._pool[lang]
        out = []
        for _ in range(rng.randint(3, 12)):
            text = rng.choice(pool)[1].text
            cut = 80 if lang == "zh" else 240
            out.append((rng.choice(_COMMENTERS), f"{rng.randint(1, 23):02d}:{rng.randint(0, 59):02d}",
                        text[:cut] + ("…" if len(text) > cut else "")))
        return out

    def _listing(self, lang: str, k: int) -> str:
        pages = self.plan.listing_count(lang)
        items = self.plan.by_lang[lang][(k - 1) * PER_LISTING:k * PER_LISTING]
        numbers = [1, *range(max(2, k - 5), min(pages, k + 5) + 1), pages]
        nav = []
        if k > 1:
            nav.append(f'<a rel="prev" href="{_listing_path(lang, k - 1)}">{_LABELS[lang]["newer"]}</a>')
        for i in sorted(set(numbers)):
            cls = ' class="current"' if i == k else ""
            nav.append(f'<a{cls} href="{_listing_path(lang, i)}">{i}</a>')
        if k < pages:
            nav.append(f'<a rel="next" href="{_listing_path(lang, k + 1)}">{_LABELS[lang]["older"]}</a>')
        heading = _LABELS[lang]["latest"] + (f" · {_LABELS[lang]['page']} {k}" if k > 1 else "")
        return self._index_page(lang, heading, items, " ".join(nav), seed=k)

    def _topic(self, lang: str, slug: str) -> str:
        names = dict(_TOPICS[lang])
        if slug not in names:
            raise KeyError(slug)
        index = [s for s, _ in _TOPICS[lang]].index(slug)
        items = [p for p in self.plan.by_lang[lang] if p.topic == index][:PER_LISTING]
        return self._index_page(lang, names[slug], items, "", seed=1000 + index)

    def _index_page(self, lang: str, heading: str, items: list[ArticlePage], pagination: str, seed: int) -> str:
        rng = random.Random(_stable(self.plan.seed, lang, seed))
        lis = "\n".join(
            f'<li class="teaser"><h3><a href="{p.path}">{html.escape(_title(p))}</a></h3>'
            f'<time datetime="{p.published:%Y-%m-%dT%H:%M}">{p.published:%Y-%m-%d}</time>'
            f"<p>{html.escape(_teaser(p.article))}</p></li>" for p in items)
        ctx = _Context(lang=lang, outlet=_OUTLETS[lang][0], title=heading, author="", published=datetime(2024, 1, 1),
                       topic=_TOPICS[lang][0], body="", related=[], comments=[], teaser=heading,
                       most_read=[(p.path, _title(p)) for p in rng.sample(self.plan.by_lang[lang],
                                                                        min(MOST_READ_LINKS, len(self.plan.by_lang[lang])))])
        main = f'<main class="listing"><h1>{html.escape(heading)}</h1>\n<ul class="stream">\n{lis}\n</ul>\n' \
               f'<nav class="pagination">{pagination}</nav></main>'
        return _document(ctx, _header(ctx, "site-header") + main + _sidebar(ctx, "rail") + _footer(ctx),
                         scripts=_scripts(rng, 4_000))

    def _home(self) -> str:
        parts = []
        for lang in LANGS:
            items = "".join(f'<li><a href="{p.path}">{html.escape(_title(p))}</a></li>'
                            for p in self.plan.by_lang[lang][:10])
            parts.append(f'<section lang="{lang}"><h2><a href="/{lang}/">{_LABELS[lang]["latest"]}</a></h2>'
                         f"<ul>{items}</ul></section>")
        return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Security news</title>\n'
                '</head>\n<body>\n' + "\n".join(parts) + "\n</body>\n</html>\n")

    def feed_xml(self, lang: str, host: str) -> bytes:
        base = f"http://{host}"
        items = "".join(
            f"<item><title>{html.escape(_title(p))}</title><link>{base}{p.path}</link>"
            f"<guid>{base}{p.path}</guid><pubDate>{p.published:%a, %d %b %Y %H:%M:00} +0000</pubDate>"
            f"<description>{html.escape(_teaser(p.article))}</description></item>\n"
            for p in self.plan.by_lang[lang][:FEED_ITEMS])
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>{html.escape(_OUTLETS[lang][0])}</title><link>{base}/{lang}/</link>"
                f"<description>{_LABELS[lang]['latest']}</description>\n{items}</channel></rss>\n").encode("utf-8")


def _listing_path(lang: str, k: int) -> str:
    return f"/{lang}/" if k == 1 else f"/{lang}/page/{k}"


def _title(p: ArticlePage) -> str:
    return (_LABELS[p.lang]["retag"] if p.copy else "") + p.article.title


def _teaser(a: CorpusArticle) -> str:
    text = next((b.text for b in a.blocks if b.size >= 60), a.title)
    cut = 90 if a.lang == "zh" else 220
    return text[:cut] + ("…" if len(text) > cut else "")


def _gzipped(body: bytes, content_type: str = "text/html; charset=utf-8") -> Response:
    return Response(200, gzip.compress(body, compresslevel=6, mtime=0), content_type,
                    headers=(("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")))


# -- templates -------------------------------------------------------------------------------------
@dataclass
class _Context:
    lang: str
    outlet: str
    title: str
    author: str
    published: datetime
    topic: tuple[str, str]
    body: str
    related: list[tuple[str, str]]
    most_read: list[tuple[str, str]]
    comments: list[tuple[str, str, str]]
    teaser: str


def _links(items: list[tuple[str, str]], cls: str) -> str:
    return "\n".join(f'<li class="{cls}"><a href="{path}">{html.escape(text)}</a></li>' for path, text in items)


def _nav_items(ctx: _Context) -> list[tuple[str, str]]:
    lang = ctx.lang
    return [(f"/{lang}/", _LABELS[lang]["home"])] + [(f"/{lang}/topic/{s}", name) for s, name in _TOPICS[lang]]


def _header(ctx: _Context, cls: str) -> str:
    other = "zh" if ctx.lang == "en" else "en"
    social = "".join(f'<a class="social" href="https://{d}/securitynews" rel="noopener">{d.split(".")[0]}</a>'
                     for d in ("twitter.com", "facebook.com", "linkedin.com", "weibo.com"))
    return (f'<header class="{cls}"><div class="brand"><a href="/{ctx.lang}/">{html.escape(ctx.outlet)}</a></div>\n'
            f'<nav class="primary"><ul>{_links(_nav_items(ctx), "nav-item")}</ul></nav>\n'
            f'<form class="search" action="/{ctx.lang}/search" method="get"><input name="q" type="search">'
            f'<button type="submit">Search</button></form>\n<div class="lang-switch"><a href="/{other}/">'
            f'{_LABELS[ctx.lang]["other"]}</a></div><div class="social-links">{social}</div></header>\n')


def _sidebar(ctx: _Context, cls: str) -> str:
    labels = _LABELS[ctx.lang]
    related = (f'<section class="related"><h3>{labels["related"]}</h3><ul>{_links(ctx.related, "related-item")}</ul>'
               f"</section>\n" if ctx.related else "")
    tags = " ".join(f'<a class="tag" href="/{ctx.lang}/topic/{s}">{html.escape(n)}</a>' for s, n in _TOPICS[ctx.lang])
    return (f'<aside class="{cls}">{related}<section class="most-read"><h3>{labels["most_read"]}</h3>'
            f'<ol>{_links(ctx.most_read, "most-read-item")}</ol></section>\n'
            f'<div class="ad-slot" id="ad-rail-1" data-size="300x250"></div>\n'
            f'<section class="newsletter"><p>{labels["newsletter"]}</p><form action="/{ctx.lang}/newsletter" '
            f'method="post"><input name="email" type="email"><button>{labels["subscribe"]}</button></form></section>\n'
            f'<section class="tags">{tags}</section><div class="ad-slot" id="ad-rail-2" data-size="300x600"></div>'
            f"</aside>\n")


def _comments_html(ctx: _Context, list_tag: str, item_cls: str) -> str:
    labels = _LABELS[ctx.lang]
    items = "\n".join(
        f'<li class="{item_cls}" id="c{i}"><div class="comment-meta"><span class="who">{html.escape(who)}</span> '
        f'<time>{ctx.published:%Y-%m-%d} {when}</time></div><p>{html.escape(text)}</p>'
        f'<a class="reply" href="#c{i}">{labels["reply"]}</a></li>'
        for i, (who, when, text) in enumerate(ctx.comments))
    return (f'<section id="comments" class="comments"><h3>{len(ctx.comments)} {labels["comments"]}</h3>\n'
            f"<{list_tag} class=\"comment-list\">\n{items}\n</{list_tag}><p class=\"login\">{labels['login']}</p>"
            f"</section>\n")


def _footer(ctx: _Context) -> str:
    labels = _LABELS[ctx.lang]
    return (f'<footer class="site-footer"><ul>{_links(_nav_items(ctx), "footer-item")}'
            f'<li><a href="/{ctx.lang}/feed.xml">RSS</a></li></ul>\n'
            f"<p>© 2026 {html.escape(ctx.outlet)}. {labels['rights']}</p></footer>\n")


def _byline(ctx: _Context) -> str:
    return (f'<div class="byline">{_LABELS[ctx.lang]["by"]} <span class="author" itemprop="author">'
            f'{html.escape(ctx.author)}</span> · <time itemprop="datePublished" datetime="'
            f'{ctx.published:%Y-%m-%dT%H:%M:00+00:00}">{ctx.published:%Y-%m-%d %H:%M}</time></div>\n')


def _share(ctx: _Context) -> str:
    return '<div class="share">' + "".join(f'<button class="share-btn" data-net="{i}">{html.escape(s)}</button>'
                                           for i, s in enumerate(_LABELS[ctx.lang]["share"])) + "</div>\n"


def _template_wire(ctx: _Context) -> str:
    """A wire-service layout: header, article, sidebar after it, comments, footer."""
    crumbs = (f'<nav class="breadcrumb"><a href="/{ctx.lang}/">{_LABELS[ctx.lang]["home"]}</a> › '
              f'<a href="/{ctx.lang}/topic/{ctx.topic[0]}">{html.escape(ctx.topic[1])}</a></nav>\n')
    article = (f'<main id="main">{crumbs}<article class="story" itemscope itemtype="https://schema.org/NewsArticle">\n'
               f'<h1 class="headline" itemprop="headline">{html.escape(ctx.title)}</h1>\n{_byline(ctx)}{_share(ctx)}'
               f'<div class="story-body" itemprop="articleBody">\n{ctx.body}\n</div>\n{_share(ctx)}</article>\n'
               f"{_comments_html(ctx, 'ol', 'comment')}</main>\n")
    return _document(ctx, _header(ctx, "site-header") + article + _sidebar(ctx, "rail") + _footer(ctx), "wire")


def _template_magazine(ctx: _Context) -> str:
    """A blog/magazine layout: sidebar first in source order, entry-content, threaded comments."""
    article = (f'<div id="page"><div class="content-wrap">{_sidebar(ctx, "col-side widget-area")}'
               f'<div class="col-main"><article class="post hentry" itemscope itemtype="https://schema.org/Article">'
               f'<header class="entry-header"><span class="cat-links"><a href="/{ctx.lang}/topic/{ctx.topic[0]}">'
               f'{html.escape(ctx.topic[1])}</a></span><h1 class="entry-title" itemprop="headline">'
               f'{html.escape(ctx.title)}</h1>{_byline(ctx)}</header>\n'
               f'<div class="entry-content" itemprop="articleBody">\n{ctx.body}\n</div>\n'
               f'<footer class="entry-footer">{_share(ctx)}</footer></article>\n'
               f"{_comments_html(ctx, 'ul', 'comment depth-1')}</div></div></div>\n")
    return _document(ctx, _header(ctx, "masthead") + article + _footer(ctx), "magazine")


def _template_portal(ctx: _Context) -> str:
    """A portal/WeChat-mirror layout: rich_media container, js_content body, related list below."""
    related = "".join(f'<div class="related-card"><a href="{p}">{html.escape(t)}</a></div>' for p, t in ctx.related)
    article = (f'<div class="rich_media"><div class="rich_media_inner"><h1 class="rich_media_title" itemprop="headline">'
               f'{html.escape(ctx.title)}</h1><div class="rich_media_meta_list">{_byline(ctx)}</div>\n'
               f'<div class="rich_media_content" id="js_content" itemprop="articleBody">\n{ctx.body}\n</div>\n'
               f'<div class="related-cards">{related}</div>{_share(ctx)}</div>'
               f"{_comments_html(ctx, 'div', 'cmt-item')}</div>\n")
    ctx_side = _Context(**{**ctx.__dict__, "related": []})
    return _document(ctx, _header(ctx, "portal-top") + article + _sidebar(ctx_side, "portal-side") + _footer(ctx),
                     "portal")


def _document(ctx: _Context, body: str, kind: str = "listing", scripts: str = "") -> str:
    state = json.dumps({"page": {"type": kind, "lang": ctx.lang, "section": ctx.topic[0], "title": ctx.title,
                                 "author": ctx.author, "related": [p for p, _ in ctx.related]}}, ensure_ascii=False)
    state = state.replace("</", "<\\/")
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if ctx.lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(ctx.title)} | {html.escape(ctx.outlet)}</title>\n"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="description" content="{html.escape(ctx.teaser)}">\n'
            f'<meta property="og:title" content="{html.escape(ctx.title)}">\n'
            f'<meta property="article:published_time" content="{ctx.published:%Y-%m-%dT%H:%M:00+00:00}">\n'
            f'<link rel="alternate" type="application/rss+xml" href="/{ctx.lang}/feed.xml">\n'
            f'<style>{_css(kind)}</style>\n'
            f"<script>window.__PAGE_STATE__={state};</script>\n"
            f"{scripts}</head>\n<body class=\"{kind}\">\n{body}</body>\n</html>\n")


@functools.lru_cache(maxsize=None)
def _css(kind: str) -> str:
    """A layout's stylesheet, inlined as news sites inline theirs: about 12 KB of rules."""
    rng = random.Random(_stable("css", kind))
    props = ("margin:0 auto", "padding:8px 12px", "display:flex", "font-size:15px", "line-height:1.6",
             "color:#1a1a1a", "background:#fff", "border-bottom:1px solid #e5e5e5", "max-width:1180px",
             "grid-template-columns:1fr 320px", "text-decoration:none", "font-weight:600")
    rules = []
    for i in range(160):
        sel = f".{kind}-{rng.choice(('card', 'grid', 'col', 'item', 'meta', 'nav', 'btn', 'ad'))}-{i}"
        rules.append(f"{sel}{{{';'.join(rng.sample(props, rng.randint(2, 5)))}}}")
    rules.append("@media (max-width:760px){.rail,.col-side,.portal-side{display:none}}")
    return "".join(rules)


def _scripts(rng: random.Random, size: int) -> str:
    """Inline script of about ``size`` bytes: tag manager, ad config and bundle bootstrap code."""
    out = ["<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
           "gtag('js',new Date());gtag('config','G-BENCH0001');</script>\n<script>"]
    length = len(out[0])
    i = 0
    while length < size:
        name, cls, key = f"m{i:x}", f"c{rng.getrandbits(24):06x}", f"{rng.getrandbits(64):016x}"
        line = (f'function {name}(e,t){{var n=e.querySelectorAll(".{cls}");for(var r=0;r<n.length;r++)'
                f'{{n[r].setAttribute("data-k","{key}");t&&t(n[r],{rng.randint(1, 9999)})}}return n.length}}'
                f'window.__ads=window.__ads||[];__ads.push({{slot:"{cls}",sizes:[[300,250],[728,90]],k:"{key}"}});\n')
        out.append(line)
        length += len(line)
        i += 1
    out.append("</script>\n")
    return "".join(out)


def _sized(page: str, rng: random.Random, bounds: tuple[int, int]) -> str:
    """Adds inline script before ``</head>`` until the page reaches a seeded size within ``bounds``."""
    size = len(page.encode("utf-8"))
    target = rng.randint(bounds[0] + 5_000, bounds[1] - 15_000)
    if size >= target:
        return page
    return page.replace("</head>", _scripts(rng, target - size) + "</head>", 1)


# -- serving --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"), help="corpus folder")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pages", type=int, default=2000, help="article pages (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="shuffle and padding seed")
    args = parser.parse_args(argv)
    site = NewsSite(NewsPlan(args.corpus, args.pages, args.seed))
    serve(args.port, site, name="newsarchive-news-bench/1.0")
    return 0


class NewsServer(ServerProcess):
    """This site in a subprocess for a ``with`` block; ``plan`` is the same ``NewsPlan`` it serves."""

    def __init__(self, corpus: Path, *, pages: int, seed: int = 1, port: int = 0,
                 startup_timeout: float = 180.0) -> None:
        self.plan = NewsPlan(Path(corpus), pages, seed)
        argv = [sys.executable, "-u", str(Path(__file__).resolve()), "--corpus", str(Path(corpus).resolve()),
                "--port", str(port), "--pages", str(pages), "--seed", str(seed)]
        super().__init__(argv, startup_timeout=startup_timeout)


if __name__ == "__main__":
    sys.exit(main())
