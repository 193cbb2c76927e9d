"""Anchors: golden values for English and Chinese text, and the fast passes equal to the frozen reference."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dedup import anchors
from crawler.dedup.anchors import english_names, extract_anchors
from tests.dedup.fragments import FRAGMENTS, texts
from tests.dedup.reference import anchors_v1

EN = (
    "Microsoft fixed CVE-2024-21412 and CWE-79 flaws exploited by APT28 (GHSA-jfh8-c2jp-5v3q) on "
    "March 12th; 1.5 million devices and 23,000 servers run version v17.4.1 of the iPhone app. "
    "Russian hackers used a zero-day against hospitals via evil-domain.com in 2024, the U.S. said."
)
ZH = ("微软3月12日修复了编号为CVE-2024-21412的漏洞，俄罗斯黑客组织APT28利用该零日漏洞窃取了120万条记录，"
      "损失达1.5亿美元，影响iPhone 17.4.1版本，域名evil-domain.com。勒索软件攻击了医院。")


def items(c) -> list[tuple[str, int]]:
    return list(c.items())


def test_english_golden():
    # Values of the implementation before the speed rewrite (main at 0b8a06e).
    assert items(extract_anchors(EN, "en")) == [
        ("cve-2024-21412", 1), ("cwe-79", 1), ("ghsa-jfh8-c2jp-5v3q", 1), ("apt28", 2), ("dom:evil-domain.com", 1),
        ("d:3-12", 1), ("v:17.4.1", 1), ("n:12", 1), ("n:1500000", 1), ("n:23000", 1), ("microsoft", 1),
        ("march", 1), ("iphone", 1), ("russia", 1), ("zeroday", 1), ("hospital", 1),
    ]


def test_chinese_golden():
    # Figures across 万 and 亿, dates against characters, Latin names and the glossary.
    assert items(extract_anchors(ZH, "zh")) == [
        ("cve-2024-21412", 1), ("apt28", 2), ("dom:evil-domain.com", 1), ("d:3-12", 1), ("v:17.4.1", 1),
        ("n:1200000", 1), ("n:150000000", 1), ("iphone", 1), ("microsoft", 1), ("russia", 1), ("zeroday", 1),
        ("ransomware", 1), ("hospital", 1),
    ]


def test_english_names_golden():
    assert english_names("The Russian group hit GitLab and 3CX, not the news; zero-day in x86-64 Hospitals") == [
        "russia", "gitlab", "cx", "zeroday", "x86-64", "hospital"]


def test_fragments_each_equal_the_reference():
    for text in FRAGMENTS:
        for lang in ("en", "zh"):
            assert items(extract_anchors(text, lang)) == items(anchors_v1.extract_anchors(text, lang)), (text, lang)
        assert english_names(text) == anchors_v1.english_names(text), text


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from(("en", "zh")))
def test_equal_to_the_reference(text, lang):
    assert items(extract_anchors(text, lang)) == items(anchors_v1.extract_anchors(text, lang))
    assert english_names(text) == anchors_v1.english_names(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("CVEcvegGhHsSaApPtT2024-_ .,:月日万亿vV3\nİıſK.com.cn"), max_size=80),
       st.sampled_from(("en", "zh")))
def test_equal_to_the_reference_on_odd_text(text, lang):
    assert items(extract_anchors(text, lang)) == items(anchors_v1.extract_anchors(text, lang))


def test_case_traps_are_every_character_ignorecase_matches_with_an_ascii_letter():
    # The literal tests judge the lower-cased text; they are sound only if every character that
    # re.IGNORECASE matches with an ASCII letter, and lower() does not map to it, is a trap.
    ascii_letter = re.compile("[a-z]", re.I)
    traps = {ch for ch in map(chr, range(0x80, sys.maxunicode + 1))
             if ascii_letter.fullmatch(ch) and not ("a" <= ch.lower() <= "z" and ascii_letter.fullmatch(ch.lower()))}
    assert traps == {"\u0130", "\u0131", "\u017f"}  # İ ı ſ (K lower-cases to k)
    assert all(anchors._CASE_TRAPS_RE.fullmatch(ch) for ch in traps)


def test_word_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(anchors, "_WORD_CACHE_MAX", 50)
    names = anchors.WordJudgements(anchors._en_name)
    for i in range(500):
        out = anchors.Counter()
        names.count(out, [f"W{i}", "the", f"W{i}", "Microsoft"])
        assert list(out.items()) == [(f"w{i}", 2), ("microsoft", 1)]
        assert len(names.judged) <= 52 and len(names.named) <= 52


def test_word_judgements_keep_the_order_of_first_occurrence():
    names = anchors.WordJudgements(anchors._en_name)
    out = anchors.Counter({"cve-2024-1": 1})
    names.count(out, ["the", "Russian", "GitLab", "russia", "Russian", "hospitals"])
    assert list(out.items()) == [("cve-2024-1", 1), ("russia", 3), ("gitlab", 1), ("hospital", 1)]
    names.count(out, ["GitLab", "Zero-Days"])  # judged before and new
    assert list(out.items()) == [("cve-2024-1", 1), ("russia", 3), ("gitlab", 2), ("hospital", 1), ("zeroday", 1)]


def test_lower_case_keeps_every_character_class_the_patterns_use():
    # Group, domain and date patterns run case-sensitively on the lower-cased text: sound only
    # if \w, \s and \d hold for a character exactly when they hold for its lower case, and
    # lower() keeps the length (all but İ, which is a trap).
    classes = [re.compile(p) for p in (r"\w", r"\s", r"\d")]
    for ch in map(chr, range(sys.maxunicode + 1)):
        low = ch.lower()
        if len(low) != 1:
            assert anchors._CASE_TRAPS_RE.fullmatch(ch)
            continue
        for cls in classes:
            assert bool(cls.fullmatch(ch)) == bool(cls.fullmatch(low)), (hex(ord(ch)), cls.pattern)


def test_a_trap_character_takes_the_case_insensitive_path():
    text = "İ APT28 and Apt 29 hit Evil.COM on March 5; ſ"
    assert items(extract_anchors(text, "en")) == items(anchors_v1.extract_anchors(text, "en"))
    assert "apt28" in extract_anchors(text, "en") and "d:3-5" in extract_anchors(text, "en")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["jan", "january", "may", "June", "sept", "sepember", "september", "dec", "xmay", "mayx",
                                 "_mar", "3apr", ".", ". ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "1", "12", "123",
                                 "5th", "2nd", "31st", "٣", "a", "月"]), max_size=30))
def test_english_dates_are_the_finditer_matches(parts):
    low = "".join(parts).lower()
    assert [m.span() for m in anchors._english_dates(low)] == [m.span() for m in anchors._DATE_EN_FAST_RE.finditer(low)]


def test_english_dates_on_the_fragments():
    for text in FRAGMENTS:
        low = text.lower()
        assert [m.groups() for m in anchors._english_dates(low)] == [
            m.groups() for m in anchors._DATE_EN_FAST_RE.finditer(low)], text


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["1", "12", "123", "٣", "月", "日", " ", "\u3000", "\n", "号", "a", "3月", "15日"]), max_size=30))
def test_chinese_dates_are_the_finditer_matches(parts):
    text = "".join(parts)
    assert [m.span() for m in anchors._chinese_dates(text)] == [m.span() for m in anchors._DATE_ZH_RE.finditer(text)]


def test_number_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(anchors, "_NUMBER_CACHE_MAX", 5)
    for n in range(40):
        text = f"{1000 + n} devices, 1.{n} million users"
        assert items(extract_anchors(text, "en")) == items(anchors_v1.extract_anchors(text, "en"))
    assert len(anchors._NUMBER_ANCHORS[id(anchors._SCALE_EN)]) <= 6 + 2


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["apt", "unc", "ta", "fin", "temp", "storm", "dev", "uat", "sectorj", "sector", "xapt",
                                 "_ta", "3dev", "-", " ", "  ", "\n", "1", "28", "12345", "123456", "٣", "a", "x",
                                 "_", "."]), max_size=30))
def test_threat_groups_are_the_finditer_matches(parts):
    low = "".join(parts)
    assert [m.groups() for m in anchors._threat_groups(low)] == [m.groups() for m in anchors._GROUP_FAST_RE.finditer(low)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["1", "12", "1,000", "2,00", "1.5", "3.", ".5", ",", ".", " ", "\n", "٣", "万", "亿",
                                 "million", "m", "bn", "k", "a", "_", "x1"]), max_size=30))
def test_number_figures_are_the_findall_matches(parts):
    low = "".join(parts)
    starts = anchors._digit_run_starts(low)
    for pattern in (anchors._NUM_EN_FAST_RE, anchors._NUM_ZH_FAST_RE):
        assert anchors._number_figures(pattern, low, starts) == pattern.findall(low)


def test_digit_table_flags_what_re_calls_a_digit():
    table = anchors._digit_table()
    digit = re.compile(r"\d")
    for cp in range(0x20000):
        assert table[cp] == bool(digit.match(chr(cp))), hex(cp)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["1", "12", "٣", "１２", "𝟙", "a", " ", "-", "x9", ",5", "\n", "\ud800", "中", "0" * 7,
                                 "x" * 97]), max_size=40))
def test_digit_run_starts_by_regex_as_by_the_table(parts):
    text = "".join(parts)
    for cut in {len(text), anchors.DIGIT_RUN_REGEX_MAX, anchors.DIGIT_RUN_REGEX_MAX + 1, 1}:
        low = text[:cut]
        expected = [m.start() for m in re.finditer(r"\d", low) if m.start() == 0 or low[m.start() - 1] not in "0123456789"]
        assert anchors._digit_run_starts_by_table(low) == expected
        assert anchors._digit_run_starts(low) == expected


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["1", "12", "٣", "a", " ", "-", "x9", ",5"]), max_size=20),
       st.lists(st.tuples(st.integers(0, 40), st.integers(1, 6)), max_size=5))
def test_digit_run_starts_follow_a_blanking(parts, cuts):
    text = "".join(parts)
    spans, done = [], 0
    for gap, width in cuts:  # sorted, disjoint (possibly adjacent) spans inside the text
        start = done + gap % 3
        if start + width > len(text):
            break
        spans.append((start, start + width))
        done = start + width
    expected = anchors._digit_run_starts(anchors._spaced(text, spans))
    assert anchors._starts_after_spacing(anchors._digit_run_starts(text), spans, text) == expected
