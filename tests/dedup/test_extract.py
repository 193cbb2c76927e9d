"""Extraction: main text, metadata from the page's tags, source lines trafilatura drops, language from the text."""

from __future__ import annotations

import pytest

from crawler.dedup.extract import ExtractionError, detect_lang, extract
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
