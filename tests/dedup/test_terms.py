"""Words for lexical similarity: golden values and the counting rewrite equal to the frozen reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dedup.normalize import fold
from crawler.dedup.terms import terms
from tests.dedup.fragments import FRAGMENTS, texts
from tests.dedup.reference import terms_v1


def test_golden():
    assert list(terms("hospitals and studies: the hospital's class buses, x86-64 news", "en").items()) == [
        ("hospital", 2), ("study", 1), ("class", 1), ("buse", 1), ("x86-64", 1), ("new", 1)]
    assert list(terms(fold("研究人员发现勒索软件攻击了医院，勒索软件团伙索要赎金"), "zh").items()) == [
        ("勒索", 2), ("医院", 1), ("团伙", 1), ("索要", 1), ("赎金", 1)]


@settings(max_examples=300, deadline=None)
@given(texts, st.sampled_from(("en", "zh")))
def test_equal_to_the_reference(text, lang):
    folded = fold(text)
    assert list(terms(folded, lang).items()) == list(terms_v1.terms(folded, lang).items())


def test_fragments_equal_the_reference():
    folded = fold(" ".join(FRAGMENTS))
    for lang in ("en", "zh"):
        assert list(terms(folded, lang).items()) == list(terms_v1.terms(folded, lang).items())


_WORD_PIECES = st.sampled_from(["a", "Z", "x9", "0", "12", "-", "--", "'", "''", ".", "..", " ", "\n", "é", "中", "İ",
                                "\u212a", "_", "a-", "-b", "b'c", "1.2", "q.", "ſ"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_WORD_PIECES, max_size=40).map("".join))
def test_possessive_word_patterns_match_as_the_greedy_ones(text):
    import re

    from crawler.dedup import anchors, fingerprint, terms

    greedy = {
        anchors._LATIN_WORD_RE: r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*",
        terms._EN_WORD_RE: r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*",
        fingerprint._TOKEN_RE: r"[\u3400-\u9fff\uf900-\ufaff]|[a-z0-9]+(?:['.][a-z0-9]+)*",
    }
    for pattern, written in greedy.items():
        for t in (text, text.lower()):
            assert pattern.findall(t) == re.compile(written).findall(t)
