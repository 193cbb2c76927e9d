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
