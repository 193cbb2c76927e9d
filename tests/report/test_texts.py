"""The full-text index: Chinese and English words, URL prefixes, and query text that is never FTS syntax."""

from __future__ import annotations

import pytest

from crawler.report.texts import TextIndex, excerpt


@pytest.fixture
def index(tmp_path):
    with TextIndex(tmp_path / "search.sqlite3") as ix:
        ix.add(
            "https://a.example/zh/1",
            title="LockBit声称攻击明尼苏达医院",
            text="LockBit勒索软件团伙声称对明尼苏达州的网络攻击负责。",
            source="fourhou",
            lang="zh",
            published="2024-03-02",
            captured="2024-03-02T01:00:00+00:00",
        )
        ix.add(
            "https://a.example/en/1",
            title="Ivanti zero-day exploited",
            text="Hackers are exploiting CVE-2025-0282 in Connect Secure.",
            source="wire",
            lang="en",
            published="2025-01-08",
            captured="2025-01-08T01:00:00+00:00",
        )
        ix.add("https://b.example/100%_off", title="Sale", text="nothing to see", source="b", lang="en")
        ix.commit()
        yield ix


@pytest.mark.parametrize(
    "words,urls",
    [
        ("勒索", ["https://a.example/zh/1"]),  # a word inside 勒索软件团伙
        ("网络攻击 LockBit", ["https://a.example/zh/1"]),
        ("明尼苏达", ["https://a.example/zh/1"]),  # a word segmenter cuts 明尼苏达州 differently
        ("软件团", ["https://a.example/zh/1"]),  # across word boundaries: any substring
        ("尼", ["https://a.example/zh/1"]),  # one character
        ("苏明", []),  # the characters, but not in this order
        ("LockBit勒索", ["https://a.example/zh/1"]),
        ("exploiting", ["https://a.example/en/1"]),
        ("cve-2025-0282", ["https://a.example/en/1"]),
        ("ivanti 勒索", []),
        ('" OR 1=1 --', []),
        ("NEAR(sale nothing) *", []),
        ("sale", ["https://b.example/100%_off"]),
    ],
)
def test_words(index, words, urls):
    hits, total = index.search(words)
    assert [h.url for h in hits] == urls and total == len(urls)


def test_url_prefix_is_a_prefix_not_a_pattern(index):
    assert [h.url for h in index.search(url_prefix="https://a.example/")[0]] == [
        "https://a.example/en/1",
        "https://a.example/zh/1",
    ]
    assert index.search(url_prefix="https://b.example/100%")[1] == 1
    assert index.search(url_prefix="https://%")[1] == 0
    assert index.search(url_prefix="https://_.example/")[1] == 0


def test_newer_capture_replaces_older(index):
    index.add("https://a.example/en/1", title="Updated", text="patched now", captured="2025-01-09T00:00:00+00:00")
    index.add("https://a.example/en/1", title="Older", text="stale", captured="2025-01-01T00:00:00+00:00")
    assert index.text_of("https://a.example/en/1") == "patched now"
    assert index.search("exploiting")[1] == 0 and index.search("patched")[1] == 1


def test_excerpt_centres_on_a_term():
    text = "x " * 300 + "CVE-2024-1709 here" + " y" * 300
    ex = excerpt(text, ["cve-2024-1709"], size=100)
    assert "CVE-2024-1709" in ex and ex.startswith("…") and ex.endswith("…") and len(ex) <= 102
