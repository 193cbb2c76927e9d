"""URL removal and Unicode folding, each equal to the straightforward version it replaced."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dedup.normalize import (
    _BARE_DOMAIN_RE,
    _MD_IMAGE_RE,
    _MD_LINK_RE,
    _TLD_HINT_LOW_RE,
    _TLD_HINT_RE,
    _URL_HINT_RE,
    _URL_RE,
    _opencc,
    _traditional_chars,
    _url_hint_lines,
    hinted_lines,
    lower_maps_each_character,
    nfkc,
    remove_urls,
    remove_urls_lowered,
    to_simplified,
)
from tests.dedup.fragments import texts


def _remove_urls_v1(text: str) -> str:
    # main at 0b8a06e: a Python callback per markdown link
    if "](" in text:
        text = _MD_IMAGE_RE.sub(lambda m: m.group(1), text)
        text = _MD_LINK_RE.sub(lambda m: m.group(1), text)
    if _URL_HINT_RE.search(text):
        text = _URL_RE.sub(" ", text)
    if _TLD_HINT_RE.search(text):
        text = _BARE_DOMAIN_RE.sub(" ", text)
    return text


def test_links_keep_their_text():
    assert remove_urls("See [the \\1 report](https://a.example/r) and ![a chart](https://a.example/c.png).") == \
        "See the \\1 report and a chart."


@settings(max_examples=300, deadline=None)
@given(texts)
def test_equal_to_the_callback_version(text):
    assert remove_urls(text) == _remove_urls_v1(text)


def test_no_backreference_expansion_of_link_text():
    text = "[\\g<0> and \\2](https://x.example/a)"
    assert remove_urls(text) == "\\g<0> and \\2"
    assert re.search(r"\\", remove_urls(text))


# Characters NFKC changes or composes with: full-width punctuation and letters, combining marks
# after them, Hangul jamo, ligatures, a lone surrogate, Traditional and Simplified characters.
_UNICODE_ODD = st.text(alphabet=st.sampled_from(
    "，：（）！；？…＞｜～\u3000\xa0＜％＃＆＋－／＝［］ＡＢｃ１２\u0301\u0338\u0327\u1100\u1161\u11a8ﬁ"
    "\ud800e>=a.,: 漢語軟體团队國际\n"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_UNICODE_ODD, texts))
def test_nfkc_equals_unicodedata(text):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


def _to_simplified_v1(text: str) -> str:
    # main at 1e4eb37: distinct characters from set(text)
    chars = set(text)
    hits = len(chars & _traditional_chars())
    if hits < 3:
        return text
    if hits >= 0.05 * sum(1 for ch in chars if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"):
        return _opencc().convert(text)
    return text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("國際軟體漢語經濟发展国际软件汉语经济的是 a\ud800🙂"), max_size=80))
def test_to_simplified_equals_the_set_version(text):
    assert to_simplified(text) == _to_simplified_v1(text)


def test_to_simplified_converts_a_traditional_page_only():
    assert to_simplified("軟體漢語經濟國際") == "软体汉语经济国际"
    assert to_simplified("软件的國际") == "软件的國际"  # one Traditional character quoted: kept


def _hinted_lines_v1(hint, text):
    """hinted_lines as it followed every match of the hint."""
    line_end = -1
    for h in hint.finditer(text):
        if h.start() < line_end:
            continue
        line_start = text.rfind("\n", 0, h.start()) + 1
        line_end = text.find("\n", h.end())
        if line_end < 0:
            line_end = len(text)
        yield line_start, line_end


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab.1\n /:wW.com\u0130"), max_size=120))
def test_hinted_lines_equal_following_every_match(text):
    for hint in (_TLD_HINT_RE, _TLD_HINT_LOW_RE, _URL_HINT_RE, re.compile(r"\.\d")):
        assert list(hinted_lines(hint, text)) == list(_hinted_lines_v1(hint, text))


def test_no_break_space_before_marks_normalises_as_a_space():
    for text in ("a\xa0\u0301b", "\xa0\u0338=", "x\xa0\xa0\u0327ç\u3000\xa0", "Hello\xa0world\u2122"):
        assert nfkc(text) == unicodedata.normalize("NFKC", text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("wW./:[]\n xh\u0130"), max_size=80))
def test_url_hint_lines_by_find_equal_the_hint_pattern(text):
    if len(text.lower()) == len(text):
        assert _url_hint_lines(text, text.lower()) == list(hinted_lines(_URL_HINT_RE, text))
    assert remove_urls(text, low=text.lower()) == remove_urls(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(texts, st.text(alphabet=st.sampled_from("wW./:[]()!\n xh\u0130\u0131\u017fΣσ.com.CN/ab"), max_size=80)))
def test_urls_removed_with_the_lower_cased_copy(text):
    low = text.lower()
    if lower_maps_each_character(text, low):
        without, without_low = remove_urls_lowered(text, low)
        assert without == remove_urls(text)
        assert without_low == without.lower()
