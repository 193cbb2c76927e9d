"""CC-CEDICT, word by word: a Chinese headline's English lemmas, and how much of an English headline it says."""

from __future__ import annotations

import math

from crawler.dedup import bilingual
from crawler.dedup.terms import terms

LINES = [
    "# CC-CEDICT\n",
    "蘋果 苹果 [ping2 guo3] /apple/CL:個|个[ge4],顆|颗[ke1]/\n",
    "修復 修复 [xiu1 fu4] /to restore; to renovate/(computing) to repair (a corrupted file etc)/\n",
    "漏洞 漏洞 [lou4 dong4] /leak/hole/gap/loophole/\n",
    "貓 猫 [mao1] /cat/\n",  # one character: too vague, left out
    "服務 服务 [fu2 wu4] /to serve/service/CL:項|项[xiang4]/\n",
    "服務器 服务器 [fu2 wu4 qi4] /server/\n",
]


def test_parse_keeps_content_words_of_the_senses_and_adds_the_security_senses() -> None:
    table = bilingual.parse_cedict(LINES)
    assert table.get("苹果") == ("apple",)  # no classifier, no pinyin
    assert table.get("修复") == ("fix", "patch", "restore", "renovate", "repair")  # a security sense first
    assert table.get("漏洞")[:3] == ("vulnerability", "flaw", "bug")  # everyday CC-CEDICT says "loophole"
    assert "loophole" in table.get("漏洞")
    assert table.get("猫") is None and table.get("不在") is None
    assert "服务器" in table and len(table) > 5


def test_slots_one_per_word_latin_tokens_as_they_are() -> None:
    table = bilingual.parse_cedict(LINES)
    got = bilingual.slots("苹果修复 Safari 漏洞", table)
    assert frozenset({"apple"}) in got and frozenset({"safari"}) in got
    assert any("repair" in s for s in got) and any("vulnerability" in s for s in got)
    # A word the dictionary lacks is looked up by its longest known parts.
    assert frozenset({"server"}) in bilingual.slots("服务器群", table)


def test_the_packaged_dictionary_loads_once() -> None:
    table = bilingual.dictionary()
    assert bilingual.dictionary() is table
    assert len(table) > 100_000
    assert "ransomware" in table.get("勒索软件")
    assert "microsoft" in table.get("微软")


def test_overlap_prefers_the_headline_the_chinese_one_translates() -> None:
    zh = bilingual.slots("苹果修复两个已遭利用的零日漏洞")
    literal = dict(terms("apple fixes two zero-day vulnerabilities exploited in attacks", "en"))
    other = dict(terms("ios 17.1.2 is out with security updates for iphone", "en"))
    flat = lambda _w: 1.0  # noqa: E731
    assert bilingual.headline_overlap(zh, literal, flat) > 0.5
    assert bilingual.headline_overlap(zh, other, flat) == 0.0
    assert bilingual.headline_overlap((), literal, flat) == 0.0
    # IDF weights: a rare word met counts more than a common one.
    rare = {"apple": 1, "patch": 1}
    idf = lambda w: {"apple": 3.0, "patch": 0.5}.get(w, 1.0)  # noqa: E731
    assert math.isclose(bilingual.headline_overlap(zh[:1], rare, idf), 3.0 / math.sqrt(3.5 * 3.0))


def test_word_slots_read_an_articles_words_and_skip_what_is_not_chinese() -> None:
    table = bilingual.parse_cedict(LINES)
    got = bilingual.word_slots(["苹果", "safari", "服务器群", "猫猫"], table)
    assert got[0] == frozenset({"apple"}) and frozenset({"server"}) in got
    assert all("safari" not in s for s in got)  # a zh article's terms hold Chinese words only
    assert bilingual.word_slots([], table) == ()


def test_opening_overlap_is_the_share_of_the_english_opening_said() -> None:
    table = bilingual.parse_cedict(LINES)
    zh = bilingual.word_slots(["苹果", "修复", "漏洞"], table)
    idf = lambda w: {"apple": 3.0, "iphone": 1.0}.get(w, 0.5)  # noqa: E731
    assert math.isclose(bilingual.opening_overlap(zh, ["apple", "fix", "flaw"], idf), 1.0)
    # "apple" and "fix" met (3.0 + 0.5) of 3.0 + 0.5 + 1.0: the unsaid word weighs its IDF
    assert math.isclose(bilingual.opening_overlap(zh, ["apple", "fix", "iphone"], idf), 3.5 / 4.5)
    assert bilingual.opening_overlap(zh, ["iphone"], idf) == 0.0
    assert bilingual.opening_overlap((), ["apple"], idf) == 0.0
    assert bilingual.opening_overlap(zh, [], idf) == 0.0
