"""Extraction: main text, metadata from the page's tags, source lines trafilatura drops, language from the text."""

from __future__ import annotations

from copy import copy

import pytest

from crawler.dedup import extract as extract_module
from crawler.dedup import main_text
from crawler.dedup.extract import ExtractionError, _extractor_options, detect_lang, extract
from tests.dedup import dedup_site

BASE = "http://127.0.0.1:8123"


def page(path: str) -> str:
    return dedup_site.PAGES[path][1].replace("{base}", BASE)


def test_metadata_from_tags():
    ex = extract(page("/zh/lockbit-hospital"), BASE + "/zh/lockbit-hospital")
    assert ex.title == "LockBit声称攻击St. Olaf Medical Center，120万患者受影响"
    assert ex.published == "2024-03-02T09:00:00+08:00"  # the time of day and zone kept
    assert ex.lang == "zh" and ex.detected_lang == "zh"
    assert "CVE-2024-1709" in ex.text


def test_source_line_kept():
    ex = extract(page("/zh/lockbit-hospital"), BASE + "/zh/lockbit-hospital")
    assert BASE + "/en/lockbit-hospital" in ex.text and "本文翻译自" in ex.text


def test_source_line_in_link_dense_footer():
    html = ("<html><body><article>" + "<p>" + "正文内容。" * 80 + "</p></article>"
            "<div class='foot'><span>原文链接：<a href='https://www.bleepingcomputer.com/news/x/'>链接</a></span>"
            "<a href='/a'>首页</a> <a href='/b'>关于</a></div></body></html>")
    ex = extract(html, "https://zh.example/a")
    assert "https://www.bleepingcomputer.com/news/x/" in ex.text


@pytest.mark.parametrize("text,lang", [
    ("LockBit勒索软件团伙声称对明尼苏达州 Olmsted Medical Center 医院发动攻击，利用 ScreenConnect 的 CVE-2024-1709 漏洞。", "zh"),
    ("The LockBit ransomware gang claimed an attack on a hospital in Minnesota (据报道).", "en"),
    ("CVE-2024-1709", None),
])
def test_detect_lang(text, lang):
    assert detect_lang(text) == lang


def test_empty_page():
    with pytest.raises(ExtractionError):
        extract("   ")


@pytest.mark.parametrize("value,published", [
    ("2024-03-02T09:00:00+08:00", "2024-03-02T09:00:00+08:00"),
    ("2024-03-02T09:00:00.123Z", "2024-03-02T09:00:00Z"),
    ("2024-03-02 09:00+0800", "2024-03-02T09:00:00+0800"),
    ("2024-03-02T09:00:00", "2024-03-02"),  # a time in no known zone: the date only
    ("2024-03-02", "2024-03-02"),
])
def test_published_keeps_the_time_of_day(value: str, published: str) -> None:
    html = page("/en/lockbit-hospital").replace("2024-03-01T15:00:00+00:00", value)
    assert extract(html, BASE + "/en/lockbit-hospital").published == published


# -- the article container: trafilatura on it alone must give the whole page's text ---------------
def _para(n: int, lang: str = "en") -> str:
    if lang == "zh":
        return f"<p>第{n}段：研究人员发现攻击者利用该漏洞在受害网络中横向移动，并窃取了大量敏感数据。</p>"
    return (f"<p>Paragraph {n}: researchers said the attackers moved laterally through the victim's network "
            f"and exfiltrated data before deploying the encryptor on <a href='https://ex.example/{n}'>hosts</a>.</p>")


def _news_page(body: str, before: str = "", after: str = "") -> str:
    nav = "".join(f"<li><a href='/topic/{i}'>Topic {i}</a></li>" for i in range(40))
    side = "".join(f"<li><a href='/story/{i}'>Related story number {i} about security</a></li>" for i in range(20))
    return (f"<html lang='en'><head><title>T</title><script>var x = 1;</script><style>p{{color:red}}</style></head>"
            f"<body><header><nav><ul>{nav}</ul></nav></header><main>{before}"
            f"<article class='story'><h1>Headline of the story</h1>{body}</article>{after}</main>"
            f"<aside class='rail'><ul>{side}</ul></aside>"
            f"<section class='comments'><ol class='comment-list'><li><p>First!</p></li></ol></section>"
            f"<footer><p>© 2026 Outlet. All rights reserved.</p></footer></body></html>")


def _whole_page(html: str, url: str = BASE + "/a") -> str | None:
    """What extraction gave before the container path: trafilatura on the whole page."""
    import lxml.html
    import trafilatura

    options = copy(_extractor_options())
    options.url = options.source = url
    return trafilatura.extract(lxml.html.fromstring(html), options=options)


def _container_of(html: str):
    import lxml.html

    tree = lxml.html.fromstring(html)
    return tree, main_text._container(tree)


LONG_BODY = "<div class='entry-content' itemprop='articleBody'>" + "".join(_para(i) for i in range(30)) + "</div>"


def test_container_text_is_the_whole_page_text() -> None:
    import lxml.html

    html = _news_page(LONG_BODY)
    tree, container = _container_of(html)
    assert container is not None and container.get("class") == "entry-content"
    before = lxml.html.tostring(tree)
    options = copy(_extractor_options())
    options.url = options.source = BASE + "/a"
    assert main_text._container_text(tree, container, options) is not None  # the container path was taken
    assert lxml.html.tostring(tree) == before  # the page is put back as it was
    assert extract(html, BASE + "/a").text.startswith(_whole_page(html).rstrip("\n"))


def test_teaser_before_the_body_falls_back_to_the_whole_page() -> None:
    teaser = "<div class='post-content teaser'><p>A short teaser of another story.</p><p>Read more.</p></div>"
    html = _news_page(LONG_BODY, before=teaser)
    assert _container_of(html)[1] is None  # trafilatura's rule picks the teaser first: not used alone
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_long_teaser_before_the_body_gives_the_whole_page_text() -> None:
    teaser = "<div class='post-content'>" + "".join(_para(100 + i) for i in range(10)) + "</div>"
    html = _news_page(LONG_BODY, before=teaser)
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_container_in_an_aside_is_not_used() -> None:
    side_body = "<aside><div class='entry-content'>" + "".join(_para(200 + i) for i in range(12)) + "</div></aside>"
    html = _news_page("".join(_para(i) for i in range(20)), before=side_body)
    assert _container_of(html)[1] is None  # trafilatura deletes asides before it looks
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_listing_of_nested_articles_gives_the_whole_page_text() -> None:
    posts = "".join(f"<article class='post'><h2>Post {k}</h2><div class='entry-content'>"
                    + "".join(_para(10 * k + i) for i in range(8)) + "</div></article>" for k in range(4))
    html = _news_page(posts)
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_empty_container_falls_back_to_the_whole_page() -> None:
    html = _news_page("".join(_para(i) for i in range(20)), before="<div class='entry-content'></div>")
    assert _container_of(html)[1] is None
    ex = extract(html, BASE + "/a")
    assert "Paragraph 19" in ex.text
    assert ex.text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_single_block_container_falls_back_to_the_whole_page() -> None:
    # one long paragraph: trafilatura's first rule gives one block and moves on to <article>
    body = "<div class='entry-content'><p>" + " ".join(f"Sentence {i} of one long paragraph." for i in range(80)) + "</p></div>"
    html = _news_page(body + "<p>A paragraph after the body, in the article.</p>")
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_short_article_on_a_large_page_falls_back_to_the_whole_page() -> None:
    # under 3,000 characters and a small share of the page: trafilatura may retry in recall mode
    body = "<div class='entry-content'>" + "".join(_para(i) for i in range(8)) + "</div>"
    filler = "".join(f"<div class='promo'><a href='/p/{i}'>Promotional link text number {i} for readers</a></div>"
                     for i in range(400))
    html = _news_page(body, after=filler)
    tree, container = _container_of(html)
    assert container is not None
    options = copy(_extractor_options())
    assert main_text._container_text(tree, container, options) is None
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


def test_malformed_html_gives_the_whole_page_text() -> None:
    body = ("<div class='entry-content'>" + "".join(_para(i).replace("</p>", "") for i in range(25))
            + "<div><span>unclosed <b>bold</i></td></div>")
    html = _news_page(body).replace("</article>", "", 1)
    assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")


@pytest.mark.parametrize("label", ["Source:", "SOURCE:", "Via"])
def test_source_line_markers_ignore_ascii_case(label: str) -> None:
    html = ("<html><body><article>" + "".join(_para(i) for i in range(5)) + "</article>"
            f"<div class='foot'><span>{label} <a href='https://orig.example/x'>orig</a></span>"
            "<a href='/a'>Home</a> <a href='/b'>About</a></div></body></html>")
    assert "https://orig.example/x" in extract(html, BASE + "/a").text


def test_source_line_found_on_a_page_with_case_traps() -> None:
    # İ ı ſ K on the page: the case-insensitive regex says which text nodes hold a marker
    html = ("<html><body><article><p>İstanbul</p>" + "".join(_para(i) for i in range(5)) + "</article>"
            "<div class='foot'><span>Source: <a href='https://orig.example/y'>orig</a></span>"
            "<a href='/a'>Home</a> <a href='/b'>About</a></div></body></html>")
    assert "https://orig.example/y" in extract(html, BASE + "/a").text


# -- trafilatura's steps called directly: the same fields as the frozen reference ------------------
def _fields(module, html: str, url: str):
    try:
        ex = module.extract(html, url)
    except module.ExtractionError:
        return "ExtractionError"
    return ex.text, ex.title, ex.published, ex.author, ex.lang, ex.detected_lang


_REFERENCE_PAGES = [
    _news_page(LONG_BODY),  # the container path, long text
    _news_page("<div class='entry-content'>" + "".join(_para(i) for i in range(8)) + "</div>"),  # short text
    _news_page("<div class='entry-content'>" + "".join(_para(i, "zh") for i in range(40)) + "</div>"),
    _news_page("<div class='entry-content'>" + "".join(_para(i).replace("researchers", "re*search_ers [x] <y> \\(a_1\\)")
                                                        for i in range(30)) + "</div>"),  # markdown escaping, math
    _news_page("<div class='entry-content'><p>Intro <b>bold</b> <b>more</b> <i><b>x</b></i></p>"
               + "".join(_para(i) for i in range(30)) + "<pre>code_with *stars*</pre></div>"),
    _news_page(LONG_BODY, after="".join(f"<div class='promo'><a href='/p/{i}'>Promo link {i}</a></div>" for i in range(400))),
    _news_page("<div class='entry-content'><script type='application/ld+json'>{\"@type\": \"DiscussionForumPosting\"}"
               "</script>" + "".join(_para(i) for i in range(30)) + "</div>"),
    _news_page(LONG_BODY).replace("<main>", "<main><form><input name='q'><select><option>a</option></select></form>"),
    "<html><body><div class='entry-content'><p>" + "word " * 10 + "</p></div></body></html>",
]


@pytest.mark.parametrize("n", range(len(_REFERENCE_PAGES)))
def test_same_fields_as_the_reference(n: int) -> None:
    from tests.dedup.reference import extract_v1

    html = _REFERENCE_PAGES[n]
    assert _fields(extract_v1, html, BASE + "/a") == _fields(extract_module, html, BASE + "/a")


def test_container_steps_match_trafilatura_or_defer() -> None:
    # on a long article the direct steps give trafilatura's own markdown for the container page
    import lxml.html
    import trafilatura

    from crawler.dedup import trafilatura_steps

    html = _news_page(LONG_BODY)
    tree, container = _container_of(html)
    options = copy(_extractor_options())
    options.url = options.source = BASE + "/a"
    text = trafilatura_steps.container_markdown(container, options, 750, lambda: 0.0)
    page = lxml.html.fromstring("<html><body></body></html>")
    page[0].append(copy(container))
    assert text == trafilatura.extract(page, options=options)
    options.comments = True  # options these steps do not follow: trafilatura must run
    assert trafilatura_steps.container_markdown(container, options, 750, lambda: 0.0) is None
