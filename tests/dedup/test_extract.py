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


# -- trafilatura's steps on the whole page (no container taken): trafilatura's text or deferral ----
def _comments(n: int) -> str:
    return "".join(f"<li class='reply'><p>Reader {i} says: patch now, the exploit for this bug is public.</p>"
                   f"<a href='/u/{i}'>user{i}</a></li>" for i in range(n))


_WHOLE_PAGES = {
    # a short article (under the container's paragraph floor) on a news page: the corpus pages' case
    "short article": _news_page("<div class='entry-content'>" + "".join(_para(i) for i in range(4)) + "</div>"),
    "short zh article": _news_page("<div class='entry-content'>" + "".join(_para(i, "zh") for i in range(15))
                                   + "</div>"),
    "malformed": _news_page("<div class='entry-content'>" + "".join(_para(i).replace("</p>", "") for i in range(4))
                            + "<div><span>unclosed <b>bold</i></td></div>").replace("</article>", "", 1)
                 .replace("<main>", "<main><p><div><table><p>stray cell</div>\x00"),
    "no body element": "<div class='entry-content'>" + "".join(_para(i) for i in range(4)) + "</div>",
    "no body tag": "<html><head><title>T</title></head>" + "".join(_para(i) for i in range(5)) + "</html>",
    "nested containers": _news_page("<div class='post'><div class='entry-content'><div itemprop='articleBody'>"
                                    "<article class='entry'>" + "".join(_para(i) for i in range(4))
                                    + "</article></div></div></div>"),
    # a comment section the comment rules do not name, and one they do, each far larger than the article
    "huge unnamed comments": _news_page("<div class='entry-content'>" + "".join(_para(i) for i in range(4))
                                        + "</div>", after=f"<div class='talk'><ul>{_comments(600)}</ul></div>"),
    "huge named comments": _news_page("<div class='entry-content'>" + "".join(_para(i) for i in range(4))
                                      + "</div>", after=f"<div id='comments'><ol>{_comments(600)}</ol></div>"),
    "no body rule": "<html><body>" + "".join(_para(i) for i in range(5)) + "</body></html>",  # wild text
    "tiny": "<html><body><div><p>Only a line.</p></div></body></html>",  # the baseline rescue
    "empty body": "<html><body><div> </div></body></html>",
}


@pytest.mark.parametrize("name", sorted(_WHOLE_PAGES))
def test_page_steps_give_trafilaturas_text_or_defer(name: str) -> None:
    import lxml.html
    import trafilatura

    from crawler.dedup import trafilatura_steps

    html = _WHOLE_PAGES[name]
    tree = lxml.html.fromstring(html, parser=extract_module._html_parser())
    before = lxml.html.tostring(tree)
    options = copy(_extractor_options())
    options.url = options.source = BASE + "/a"
    ours = trafilatura_steps.page_markdown(tree, options)
    assert lxml.html.tostring(tree) == before  # the page is left as it was
    theirs = trafilatura.extract(tree, options=options)
    if ours is not None:  # "" where trafilatura gives no text
        assert ours == (theirs or "")
    assert _fields(extract_v1_module(), html, BASE + "/a") == _fields(extract_module, html, BASE + "/a")


def extract_v1_module():
    from tests.dedup.reference import extract_v1

    return extract_v1


@pytest.mark.parametrize("name", ["short article", "short zh article", "malformed", "no body element", "no body tag",
                                  "nested containers", "huge named comments", "no body rule"])
def test_page_steps_take_the_pages_without_a_container(name: str) -> None:
    # these used to run the whole of trafilatura: the steps now give its text themselves
    import lxml.html

    from crawler.dedup import trafilatura_steps

    tree = lxml.html.fromstring(_WHOLE_PAGES[name], parser=extract_module._html_parser())
    options = copy(_extractor_options())
    options.url = options.source = BASE + "/a"
    assert main_text._container(tree) is None
    assert trafilatura_steps.page_markdown(tree, options)


def test_page_steps_defer_where_trafilatura_would_retry_or_keep_posts() -> None:
    import lxml.html

    from crawler.dedup import trafilatura_steps

    options = copy(_extractor_options())
    short = "<div class='entry-content'>" + "".join(_para(i) for i in range(3)) + "</div>"
    filler = "".join(f"<div class='promo'><p>Promotional text number {i} for our readers today</p></div>"
                     for i in range(400))
    forum = "<script type='application/ld+json'>{\"@type\": \"DiscussionForumPosting\"}</script>"
    for html in (_news_page(short, after=filler),  # a fifth of the page's text: the recall retry could run
                 _WHOLE_PAGES["huge unnamed comments"],  # the same: comments the rules do not prune are text
                 _news_page(short + forum)):  # a forum: posts are content there
        tree = lxml.html.fromstring(html, parser=extract_module._html_parser())
        assert trafilatura_steps.page_markdown(tree, options) is None
        assert extract(html, BASE + "/a").text.rstrip("\n") == _whole_page(html).rstrip("\n")
    options.comments = True  # options these steps do not follow
    tree = lxml.html.fromstring(_WHOLE_PAGES["short article"])
    assert trafilatura_steps.page_markdown(tree, options) is None


def test_link_targets_resolved_as_trafilatura_does() -> None:
    # the remembered targets are trafilatura's own: relative, protocol-relative, other hosts, long
    from trafilatura.utils import safe_base_url, safe_relative_url

    from crawler.dedup import trafilatura_steps

    base = safe_base_url(BASE + "/a/b")
    for href in ("/x", "y/z?q=1", "//cdn.example/i", "https://o.example/p", "mailto:a@b", "{tpl}", "#top",
                 "http://[bad", "/" + "l" * 2000):
        for _ in range(2):  # computed, then remembered
            assert trafilatura_steps._link_target(base, href) == (safe_relative_url(base, href) or href)


# -- trafilatura's regular-expression XPaths as Python loops: the same elements, in order ---------
def _attribute_soup(seed: int, count: int = 400) -> str:
    """Elements of every tag the rules look at, with id, class, style, role... values drawn from
    the rules' own words (and near misses), in either attribute order."""
    import random

    rnd = random.Random(seed)
    words = ["post", "entry", "entry-content", "articleBody", "article__body", "body-text", "sidebar", "share",
             "Share", "nav", "navbar", "menu", "bar", "comment", "comments", "Comment", "commentary", "comol",
             "disqus_thread", "article-comments", "cookie", "hidden", "hide-x", "x hidden", "reply-to", "ad-slot",
             "x ad y", "widget", "footer", "tags", "tag-list", "infinite-scroll", "mvp-post-add-box", "teaser",
             "caption", "meta", "elated", "main-content", "story", "", "plain", "ÄRTICLE", "akismet", "TeaserBox",
             "img-caption", "elementor-share-buttons x", "site-footer", "Cookie-Banner", "x cookie_consent",
             "CookieBot", "notice--cookie", "consentmanager", "OneTrust-x", "moove_gdpr", "cookies-bar"]
    tags = ["div", "section", "article", "main", "p", "span", "aside", "ul", "ol", "details", "li", "b", "footer",
            "script", "style", "svg", "template", "fencedframe"]
    attrs = ["id", "class", "style", "role", "itemprop", "aria-hidden", "data-component", "data-lp-replacement-content"]
    values = {"style": ["display:none", "display: none", "color:red", "hidden"], "role": ["Navigation", "main", "x"],
              "itemprop": ["articleBody", "x"], "aria-hidden": ["true", "false"],
              "data-component": ["MostPopularStories", "x"]}
    out, open_tags = [], []
    for _ in range(count):
        if open_tags and rnd.random() < 0.4:
            out.append(f"</{open_tags.pop()}>")
            continue
        tag = rnd.choice(tags)
        chosen = rnd.sample(attrs, rnd.randint(0, 3))
        written = " ".join(f'{a}="{rnd.choice(values.get(a, words))}"' for a in chosen)
        out.append(f"<{tag} {written}>text {rnd.random():.3f}" + ("<h1>h</h1>" if rnd.random() < 0.1 else ""))
        open_tags.append(tag)
    out.extend(f"</{t}>" for t in reversed(open_tags))
    return "<html><body>" + "".join(out) + "</body></html>"


@pytest.mark.parametrize("seed", range(12))
def test_xpath_loops_match_trafilaturas_xpaths(seed: int) -> None:
    import lxml.html
    from trafilatura.settings import BASIC_CLEAN_XPATH
    from trafilatura.xpaths import (
        BODY_XPATH,
        DISCARD_IMAGE_ELEMENTS,
        OVERALL_DISCARD_XPATH,
        RAW_TREE_PRUNE_XPATH,
        REMOVE_COMMENTS_AND_LISTS_XPATH,
        TEASER_DISCARD_XPATH,
    )

    from crawler.dedup import trafilatura_xpaths

    tree = lxml.html.fromstring(_attribute_soup(seed))
    assert trafilatura_xpaths.body_rule()(tree) is next(iter(BODY_XPATH[0](tree)), None)
    for loop, xpath in zip(trafilatura_xpaths.overall_discard(), OVERALL_DISCARD_XPATH, strict=True):
        assert loop(tree) == xpath(tree)
    for loop, xpath in zip(trafilatura_xpaths.raw_tree_prune(), RAW_TREE_PRUNE_XPATH, strict=True):
        assert loop(tree) == xpath(tree)
    assert trafilatura_xpaths.comments_and_lists()(tree) == REMOVE_COMMENTS_AND_LISTS_XPATH[0](tree)
    assert trafilatura_xpaths.teasers()[0](tree) == TEASER_DISCARD_XPATH[0](tree)
    assert trafilatura_xpaths.captions()[0](tree) == DISCARD_IMAGE_ELEMENTS[0](tree)
    assert trafilatura_xpaths.basic_clean()(tree) == BASIC_CLEAN_XPATH(tree)
    assert trafilatura_xpaths.basic_clean()(tree[0]) == BASIC_CLEAN_XPATH(tree[0])  # html2txt's: from the body
    discards = trafilatura_xpaths.section_discards()
    assert discards is not None
    assert discards(tree) == (OVERALL_DISCARD_XPATH[0](tree), OVERALL_DISCARD_XPATH[1](tree),
                              DISCARD_IMAGE_ELEMENTS[0](tree), TEASER_DISCARD_XPATH[0](tree))


@pytest.mark.parametrize("seed", range(30))
def test_link_density_deletions_are_trafilaturas(seed: int) -> None:
    # tests run on the elements holding a link only, found from the links (nested holders,
    # holders that lose their links to an earlier deletion, the subtree itself deleted)
    import random

    import lxml.html
    from lxml import etree
    from trafilatura import htmlprocessing

    from crawler.dedup import trafilatura_steps

    rnd = random.Random(seed)
    tags = ["div", "p", "list", "item", "td", "graphic", "hi", "quote", "head"]
    out, open_tags = [], []
    for _ in range(rnd.randint(5, 150)):
        r = rnd.random()
        if r < 0.3 and open_tags:
            out.append(f"</{open_tags.pop()}>")
        elif r < 0.55:
            tag = rnd.choice(tags)
            out.append(f"<{tag}>")
            open_tags.append(tag)
        elif r < 0.8:
            out.append(f"<ref target='http://x.example/{rnd.randint(0, 9)}'>{rnd.choice(['', 'l', 'a link', 'x' * 120])}</ref>")
        else:
            out.append(rnd.choice(["", " ", "text ", "more words in a sentence ", "y" * 90]))
    out.extend(f"</{t}>" for t in reversed(open_tags))
    xml = "<div>" + "".join(out) + "</div>"
    parser = etree.XMLParser()
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(element=lxml.html.HtmlElement))
    ours, theirs = etree.fromstring(xml, parser), etree.fromstring(xml, parser)
    for precision in (False, True):
        for _ in range(2):
            for tag, backtracking in (("div", True), ("list", False), ("p", False), ("head", False), ("quote", False)):
                trafilatura_steps.delete_by_link_density(ours, tag, backtracking, precision)
                htmlprocessing.delete_by_link_density(theirs, tag, backtracking, precision)
                assert etree.tostring(ours) == etree.tostring(theirs), xml


@pytest.mark.parametrize("seed", range(20))
def test_tree_cleaning_is_trafilaturas(seed: int) -> None:
    # nested elements of one cleaned tag (lxml's iterator stops inside the first deleted), forms,
    # figures holding tables, layout tables, empty elements with and without tails, comments
    import random

    import lxml.html
    from lxml import etree
    from trafilatura.htmlprocessing import tree_cleaning

    from crawler.dedup import trafilatura_steps

    rnd = random.Random(seed)
    tags = ["div", "p", "span", "aside", "footer", "script", "figure", "table", "form", "b", "em", "li", "section",
            "img", "font", "iframe", "button", "svg", "h2", "blockquote", "td", "tr", "math", "nav", "menu"]
    out, open_tags = [], []
    for _ in range(rnd.randint(5, 120)):
        r = rnd.random()
        if r < 0.35 and open_tags:
            out.append(f"</{open_tags.pop()}>")
        elif r < 0.7:
            tag = rnd.choice(tags)
            attrs = rnd.choice(["", " role='presentation'", " role='none'", " alttext='x^2'", " class='c'"])
            out.append(f"<{tag}{attrs}>")
            open_tags.append(tag)
        elif r < 0.75:
            out.append("<!-- c -->")
        else:
            out.append(rnd.choice(["", " ", "text ", "more words here ", "\n"]))
    out.extend(f"</{t}>" for t in reversed(open_tags))
    html = "<html><body>" + "".join(out) + "</body></html>"
    options = _extractor_options()
    ours = trafilatura_steps._tree_cleaning(lxml.html.fromstring(html), options)
    theirs = tree_cleaning(lxml.html.fromstring(html), options)
    assert etree.tostring(ours) == etree.tostring(theirs), html


def test_tree_cleaning_leaves_what_lxmls_iterator_skips() -> None:
    import lxml.html
    from lxml import etree
    from trafilatura.htmlprocessing import tree_cleaning

    from crawler.dedup import trafilatura_steps

    html = "<html><body><div><aside>1<aside>2</aside></aside>t</div><aside>3</aside><p>x</p></body></html>"
    ours = trafilatura_steps._tree_cleaning(lxml.html.fromstring(html), _extractor_options())
    assert etree.tostring(ours) == etree.tostring(tree_cleaning(lxml.html.fromstring(html), _extractor_options()))
    assert b"<aside>3</aside>" in etree.tostring(ours)


@pytest.mark.parametrize("seed", range(12))
def test_section_discards_found_at_once_prune_as_in_turn(seed: int) -> None:
    # the caption and teaser rules find, after the boilerplate rules' deletions, what they found before
    import lxml.html
    from lxml import etree
    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.xpaths import DISCARD_IMAGE_ELEMENTS, OVERALL_DISCARD_XPATH, TEASER_DISCARD_XPATH

    from crawler.dedup import trafilatura_steps, trafilatura_xpaths

    in_turn, at_once = (lxml.html.fromstring(_attribute_soup(seed)) for _ in range(2))
    for backup in (True, False):  # the backup may keep the boilerplate, or not
        prune_unwanted_nodes(in_turn, OVERALL_DISCARD_XPATH, with_backup=backup)
        prune_unwanted_nodes(in_turn, DISCARD_IMAGE_ELEMENTS)
        prune_unwanted_nodes(in_turn, TEASER_DISCARD_XPATH)
        discards = trafilatura_xpaths.section_discards()
        assert discards is not None
        found = discards(at_once)
        prune_unwanted_nodes(at_once, [trafilatura_steps._given(found[0]), trafilatura_steps._given(found[1])],
                             with_backup=backup)
        prune_unwanted_nodes(at_once, [trafilatura_steps._given(found[2])])
        prune_unwanted_nodes(at_once, [trafilatura_steps._given(found[3])])
        assert etree.tostring(at_once) == etree.tostring(in_turn)


def test_xpath_loops_are_the_installed_rules() -> None:
    # each loop follows the installed XPath (its text matched the one the loop was written for)
    from crawler.dedup import trafilatura_xpaths

    assert all(not hasattr(f, "path") for f in trafilatura_xpaths.overall_discard())
    assert not any(hasattr(f, "path") for f in trafilatura_xpaths.raw_tree_prune())
    assert not any(hasattr(f, "path") for f in trafilatura_xpaths.teasers() + trafilatura_xpaths.captions())
    assert trafilatura_xpaths.body_rule().__name__ == "first"
    assert not hasattr(trafilatura_xpaths.basic_clean(), "path")


def test_source_id_class_order_decides_the_either_attribute_rule() -> None:
    # re:test(@id|@class, ...) reads the attribute written first in the source
    import lxml.html

    from crawler.dedup import trafilatura_xpaths

    tree = lxml.html.fromstring("<html><body><div class='cookie' id='x'>a</div><div id='x' class='cookie'>b</div>"
                                "</body></html>")
    assert [el.text for el in trafilatura_xpaths.overall_discard()[0](tree)] == ["a"]


# -- source markers: where they are looked for ---------------------------------------------------
@pytest.mark.parametrize("text", [
    "no marker here", "原文链接：http://a", "参考来源 and via: x", "SOURCE: x", "Sources:", "原文", "来源",
    "文章来源新闻来源", "本文翻译自 编译自 译自", "references:reference:", "vIA", "原文：原文:来源:来源：出处：",
])
def test_markers_present_as_substring_tests(text: str) -> None:
    page_text = f"Lead {text} tail ’"
    low = page_text.encode().lower()
    expected = tuple(m for m, encoded in extract_module._MARKERS_UTF8 if encoded in low)
    assert extract_module._markers_present(page_text, low) == expected


def test_marker_nodes_as_the_regex_finds_them() -> None:
    import lxml.html

    html = ("<html><body><p>Sour<b>ce:</b> split across nodes</p><p>SOURCE: http://a.example/1</p>"
            "<div>原文链接：<a href='http://b.example'>b</a> and 原文 twice 原文链接</div><p>via</p><p>VIA: x</p>"
            "<p>no marker</p><span>参考来源：x</span></body></html>")
    nodes = extract_module._text_nodes()(lxml.html.fromstring(html))
    markers = tuple(m for m, _ in extract_module._MARKERS_UTF8)
    by_regex = [n for n in nodes if extract_module._MARKER_RE.search(n)]
    assert extract_module._holding(nodes, "".join(nodes), b"", markers) == by_regex
    assert extract_module._marker_nodes(nodes) == by_regex
    assert extract_module._holding(nodes, "".join(nodes), b"", ("source:",)) == [n for n in nodes if "source:" in n.lower()]


# -- source lines: the long text of an element (inline scripts and styles) is not searched ----------
_LONG_SCRIPT = "var x = 1;\n" * 120  # 1,320 characters, 1,080 of them not white space


@pytest.mark.parametrize("html", [
    # markers in a long script: inside a short block, a long block, the body itself
    f"<html><body><div><script>来源：http://s.example/1 {_LONG_SCRIPT}</script></div><p>x</p></body></html>",
    f"<html><body><div><script>{_LONG_SCRIPT} Source: http://s.example/2</script>tail 来源：http://t.example/3"
    "</div><p>来源：<a href='http://u.example/4'>u</a></p></body></html>",
    # a long node of white space and a few words: kept (fewer than 300 characters that are not white space)
    "<html><body><div><script>来源：http://s.example/5" + " " * 2000 + "x</script></div></body></html>",
    "<html><body><div>来源：http://s.example/6" + "\xa0 \u3000" * 700 + "end</div></body></html>",
    # a long tail: the element it hangs on is read
    "<html><body><div><span>来源：http://s.example/7</span>" + "来源：http://t.example/8 " * 80 + "</div></body></html>",
    "<html><body><div><p>Source: <a href='http://a.example/9'>a</a></p>" + "source: words " * 100
    + "<p>via: http://b.example/10</p></div><p>原文链接：http://c.example/11</p></body></html>",
    # a marker split between a long node and the next one; a long node holding every block's marker
    f"<html><body><p><b>{_LONG_SCRIPT}来</b>源：http://s.example/12</p></body></html>",
    "<html><body><section><p>参考链接：http://s.example/13</p>" + "参考链接：x " * 200 + "</section></body></html>",
    "<html><body><section>" + "参考链接：x " * 200 + "<p>参考链接：http://s.example/18</p></section></body></html>",
    # case traps in a long node, in a short one
    f"<html><body><div><style>\u0130 {_LONG_SCRIPT}</style></div><p>SOURCE: http://s.example/14</p></body></html>",
    "<html><body><p>\u017fource: http://s.example/15</p><p>Source: http://s.example/16</p>"
    f"<style>\u212a {_LONG_SCRIPT} source: x</style></body></html>",
    # long scripts in the head and after the body, a comment's tail
    f"<html><head><script>{_LONG_SCRIPT} 原文链接：http://h.example</script></head><body><!-- c -->来源："
    f"http://s.example/17<p>x</p></body><script>{_LONG_SCRIPT}</script></html>",
])
def test_source_lines_as_the_reference_finds_them(html: str) -> None:
    import lxml.html

    from tests.dedup.reference import extract_v1

    ours = extract_module._source_lines(lxml.html.fromstring(html, parser=extract_module._html_parser()))
    assert ours == extract_v1._source_lines(lxml.html.fromstring(html))


def test_source_lines_as_the_reference_finds_them_on_random_pages() -> None:
    import random

    import lxml.html

    from tests.dedup.reference import extract_v1

    rnd = random.Random(13)
    pieces = ["来源：", "Source: ", "SOURCE:", "via ", "原文链接", "参考链接：", "http://a.example/x", "word ", " " * 40,
              "\xa0", "\u017f", "\u0130", "来", "源：", "x" * 120, "<a href='http://b.example/y'>b</a>"]
    tags = ["div", "p", "span", "script", "style", "section", "li", "b", "td"]
    for _ in range(300):
        out, open_tags = [], []
        for _ in range(rnd.randint(1, 40)):
            r = rnd.random()
            if r < 0.25 and open_tags:
                out.append(f"</{open_tags.pop()}>")
            elif r < 0.5:
                tag = rnd.choice(tags)
                out.append(f"<{tag}>")
                open_tags.append(tag)
            else:
                out.append("".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30))))
        out.extend(f"</{t}>" for t in reversed(open_tags))
        html = "<html><body>" + "".join(out) + "</body></html>"
        ours = extract_module._source_lines(lxml.html.fromstring(html, parser=extract_module._html_parser()))
        assert ours == extract_v1._source_lines(lxml.html.fromstring(html)), html


def test_detect_lang_counts_as_the_regexes_do() -> None:
    import random
    import re

    cjk, latin = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]"), re.compile(r"[A-Za-z]")

    def by_regex(text: str) -> str | None:
        sample = text[:4000]
        c, n = len(cjk.findall(sample)), len(latin.findall(sample))
        if c + n < 20:
            return None
        return "zh" if c >= 0.2 * (c + n / 5) else "en"

    rnd = random.Random(7)
    alphabet = "aZz中文\u3040\u30ff\u3400\u9fff\uf900\ufaff\uac00\ud7af\ud7b0\u3039 é1"
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 80)))
        assert detect_lang(text) == by_regex(text)


# -- the markdown of a body: trafilatura's conversion, plain paragraphs written directly ------------
@pytest.mark.parametrize("body", [
    "<p>Plain paragraph.</p><p>Another one.</p><head rend='h3'>Heading</head><p>Text.</p>",
    "<p>1. Numbered-looking start</p><p># hash start</p><p>- dash</p><p>&gt; quote-like</p><p>١. arabic digit</p>",
    "<p>With <hi rend='#b'>bold</hi> and a <ref target='http://x.example'>link</ref>.</p><p>after</p>",
    "<p>a_b *c* [d] &lt;e&gt; `f` ~g~ back\\slash \\(x_1\\)</p><p>tail</p>plain tail text<p>x</p>",
    "<list><item>one</item><item>two</item></list><p>p</p><quote>q</quote><p>  spaced  </p>",
    "<p>x</p><code>a_b *c*</code><p>y</p><table><row><cell>c_1</cell></row></table>",
    "<hi rend='#b'>a</hi><hi rend='#b'>b</hi><p>x_y</p>",
    "<p><hi rend='#i'><hi rend='#i'>nested</hi></hi> and <hi rend='#b'>x</hi> <hi rend='#b'>y</hi>.</p><p>*z*</p>",
    "<p>  </p><p>text</p><head rend='h2'>  H_1  </head>tail *t*<p></p><quote><p> q </p>q_t </quote>",
    "<list><item><hi rend='#b'>a</hi><hi rend='#b'>b</hi></item></list><p><hi rend='#t'>c_d</hi></p>",
    # paragraphs of hi and ref children without children of their own
    "<p><hi rend='#b'>bold line</hi></p><p><ref target='http://x.example/a'>a link</ref></p><p>x</p>",
    "<p>  1. lead_ <hi rend='#b'>a*</hi> mid_ <ref target='http://x.example'>[l]</ref> end_  </p>t_ail<p>y</p>",
    "<p><hi rend='#b'>a</hi><hi rend='#b'>b</hi>  <hi rend='#b'>c</hi> x <hi rend='#b'>d</hi><hi rend='#i'>e</hi></p>",
    "<p><hi rend='#u'>u</hi><hi rend='#u'>v</hi><hi rend='#sup'>1</hi><hi rend='#sup'>2</hi><hi>plain</hi></p>",
    "<p><hi rend='#t'>c_d*</hi> after_ <hi rend='#t'>e</hi><hi rend='#t'>f</hi></p><p># <hi rend='#b'>h</hi></p>",
    "<p><hi rend='#b'></hi>tail of empty<ref target='http://x.example'></ref>t2<ref>no target</ref> </p><p>z</p>",
    "<p><ref target='http://x.example'>   </ref>  <hi rend='#b'>  spaced  </hi>  \n </p>  tail  <p>q</p>",
    "<p>lead<hi rend='#i'>i</hi></p>\\(x_1\\) tail<p><hi rend='#b'>a\\_b</hi><ref target='http://x.example'>c\\*</ref></p>",
])
def test_body_markdown_is_trafilaturas(body: str) -> None:
    from lxml import etree
    from trafilatura import utils, xml

    from crawler.dedup import trafilatura_steps

    def parse() -> etree._Element:
        return etree.fromstring(f"<body>{body}</body>")

    ours = trafilatura_steps.body_markdown(parse())
    theirs = utils.normalize_unicode(f"{xml.xmltotxt(parse(), True)}\n".strip())
    assert ours == theirs


@pytest.mark.parametrize("text", [
    "Print", "  ***Print  ", "!!! " * 40 + "Facebook", "More on this 1234567", "More on this 12345678", "more ON this.",
    "Mehr zum Thema:", "Twitter is where the news broke first", "_Print", "_" + "x" * 30, "打印", "Pinterest\n",
    "x" * 30, "Facebook   ", "\u2028Print", "« Print", "1" * 25, "Whatsapp" + "\u3000" * 20, "",
])
def test_paragraph_filter_is_trafilaturas(text: str) -> None:
    from lxml import etree
    from trafilatura.htmlprocessing import process_node

    from crawler.dedup import trafilatura_steps

    def paragraph() -> etree._Element:
        element = etree.Element("p")
        element.text = text
        return element

    assert (trafilatura_steps._plain_paragraph(paragraph()) is None) == \
        (process_node(paragraph(), _extractor_options()) is None)
