"""Source links as Chinese outlets write them: marked, headed lists, and bare lines after an English headline."""

from __future__ import annotations

from crawler.dedup.sourcelinks import normalize_url, source_links


def links(text: str, self_url: str | None = None) -> dict[str, str]:
    return {link["url"]: link["kind"] for link in source_links(text, self_url=self_url)}


def test_marked_line_is_the_original():
    text = "正文。\n\n本文翻译自：https://www.bleepingcomputer.com/news/security/x-flaw/?utm_source=rss\n"
    assert links(text) == {"bleepingcomputer.com/news/security/x-flaw": "translated_from"}


def test_english_headline_then_bare_url_is_the_original():
    # FreeBuf ends a translation with the original's headline and its URL, no marker.
    text = ("微软修复了一个蠕虫级漏洞。\n\n"
            "Microsoft Patches Wormable RCE Vulnerability in Windows and Windows Server  \n  \n"
            "https://cybersecuritynews.com/microsoft-patches-wormable-rce-vulnerability/  \n\nEND\n")
    assert links(text) == {"cybersecuritynews.com/microsoft-patches-wormable-rce-vulnerability": "translated_from"}


def test_bare_url_lines_cite():
    text = ("正文。\n> https://www.bleepingcomputer.com/news/security/gitlab-flaw/  \n"
            "消息来源：\n\n[1]https://www.securityweek.com/gigabyte-flaws/\xa0\n"
            "**参考**\n- https://nvd.nist.gov/vuln/detail/CVE-2025-0411\n")
    assert links(text) == {
        "bleepingcomputer.com/news/security/gitlab-flaw": "cites",
        "securityweek.com/gigabyte-flaws": "cites",
        "nvd.nist.gov/vuln/detail/CVE-2025-0411": "cites",
    }


def test_not_sources():
    text = (
        "正文提到 https://example.com/in/a/sentence 的页面。\n"  # a URL inside prose
        "https://codesafe.example.cn\n"  # a site's home page in every footer
        "[往期推荐](https://mp.weixin.qq.com/s?__biz=MzA&mid=1&idx=1)\n"  # the platform's own posts
        "![](https://mmbiz.qpic.cn/mmbiz_png/abc/640)\n"  # an image
        "原文链接：https://zh.example/post/1\n"  # the article itself
    )
    assert links(text, self_url="https://zh.example/post/1") == {}


def test_heading_over_the_original():
    assert links("正文。\n**原文**\n\nhttps://securityweek.com/x-flaw/\n") == {"securityweek.com/x-flaw": "translated_from"}


def test_a_chinese_line_is_not_a_headline():
    text = "微软修复了一个蠕虫级漏洞，影响全部版本的系统\nhttps://example.com/news/1\n"
    assert links(text) == {"example.com/news/1": "cites"}


def test_normalize_drops_view_parameters():
    assert normalize_url("https://securityaffairs.com/1/x.html?web_view=true") == "securityaffairs.com/1/x.html"
    assert normalize_url("https://mp.weixin.qq.com/s?__biz=MzA&mid=1") == "mp.weixin.qq.com/s?__biz=MzA&mid=1"


def test_same_site_other_language_is_a_source():
    # A bilingual site: the Chinese page translates the English one on the same host.
    text = "正文。\n本文翻译自：http://127.0.0.1:8123/en/lockbit-hospital\n"
    assert links(text, self_url="http://127.0.0.1:8123/zh/lockbit-hospital") == {
        "127.0.0.1:8123/en/lockbit-hospital": "translated_from"}


def test_a_dump_of_urls_is_not_a_list_of_sources():
    ioc = "\n".join(f"https://evil{i}.example.com/payload/{i}.bin" for i in range(500))
    text = ("恶意软件的下载地址如下：\n" + ioc + "\n\nNew Malware Campaign Hits Developers Worldwide\n"
            "https://www.bleepingcomputer.com/news/security/new-malware-campaign/\n")
    assert links(text) == {"bleepingcomputer.com/news/security/new-malware-campaign": "translated_from"}


def test_normalize_drops_the_crawls_click_trackers_too():
    # the crawl's list (crawler/urls.py) plus what only a comparison of cited links may drop
    url = "https://news.example/a?yclid=1&fbclid=2&utm_medium=x&from=timeline&share_id=3&id=7"
    assert normalize_url(url) == "news.example/a?id=7"


# --- the line hints equal the per-line scan of the frozen reference ---------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crawler.dedup import sourcelinks  # noqa: E402
from tests.dedup.fragments import FRAGMENTS, texts  # noqa: E402
from tests.dedup.reference import sourcelinks_v1  # noqa: E402


@settings(max_examples=400, deadline=None)
@given(texts)
def test_equal_to_the_reference(text):
    url = "https://news.example/a/1"
    assert source_links(text, self_url=url) == sourcelinks_v1.source_links(text, self_url=url)


def test_fragments_as_lines_equal_the_reference():
    text = "\n".join(FRAGMENTS)
    assert source_links(text) == sourcelinks_v1.source_links(text)
    # "İ" lower-cases to two characters: the hints fall back to every line.
    text = "İİ\n" + text
    assert source_links(text) == sourcelinks_v1.source_links(text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_equal_to_the_reference_with_the_callers_lower_case_copy(text):
    url = "https://news.example/a/1"
    assert source_links(text, self_url=url, low=text.lower()) == sourcelinks_v1.source_links(text, self_url=url)


def test_a_source_word_many_times_in_a_line_is_one_hinted_line():
    lines = ["open-source resources source: https://a.example/x " * 20, "plain", "via https://b.example/y //"]
    text = "\n".join(lines)
    assert source_links(text) == sourcelinks_v1.source_links(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("wW./:\n x\u0130K"), max_size=80))
def test_url_lines_by_find_equal_the_hint_pattern(text):
    expected = sourcelinks._hinted_lines(text, sourcelinks._URL_HINT_RE)
    assert sourcelinks._url_lines(text, text.lower()) == expected
    assert sourcelinks._url_lines(text, None) == expected


@settings(max_examples=300, deadline=None)
@given(texts | st.text(alphabet=st.sampled_from("source via reference 原文链接来源参考\n*# :"), max_size=80))
def test_marker_lines_by_find_equal_the_hint_pattern(text):
    low = text.lower()
    n_lines = text.count("\n") + 1
    if len(low) == len(text):
        assert sourcelinks._marker_lines(text, n_lines, low) == sorted(
            sourcelinks._hinted_lines(low, sourcelinks._MARKER_HINT_RE))


@settings(max_examples=300, deadline=None)
@given(texts, st.sampled_from(["https://news.example/a/1", "https://www.A.example/x/?utm_source=y#z", "http://a.example",
                               "a.example/1", "hxxps://b[.]example/2/", ""]))
def test_equal_to_the_reference_with_the_callers_own_key(text, url):
    # compute_signals passes the url_key it computes anyway: the article's own link is left out the same
    for own in (url, url.upper()):
        key = sourcelinks.normalize_url(own) if own else ""
        text_with_own = f"{text}\n来源：{own}\n{own}\n"
        expected = sourcelinks_v1.source_links(text_with_own, self_url=own)
        assert source_links(text_with_own, self_url=own, low=text_with_own.lower(), self_key=key) == expected
