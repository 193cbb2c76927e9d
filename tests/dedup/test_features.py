"""Features of one article: the recommended-reading cut and the bound on the anchor and word passes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dedup import anchors, features
from crawler.dedup.anchors import has_case_trap
from crawler.dedup.features import Article, compute_signals, main_body, says_translated
from crawler.dedup.normalize import canonical
from tests.dedup.fragments import texts
from tests.dedup.reference import features_v1


def test_main_body_cuts_a_trailing_list():
    text = "\n".join(["正文第一段。"] * 5 + ["推荐阅读", "另一篇文章的标题"])
    assert main_body(text) == "\n".join(["正文第一段。"] * 5)
    assert main_body("Read more about it.\nBody.\nBody.") == "Read more about it.\nBody.\nBody."  # first 30%


def test_main_body_finds_the_heading_in_any_case():
    # The heading is looked for in the lower-cased text unless a letter that case-insensitive
    # matching folds differently (İ ı ſ K) is in it.
    body = ["Body paragraph."] * 5
    for heading in ("RELATED ARTICLES", "Read More", "you may alſo like", "Related artİcles", "READ MORE İstanbul"):
        assert main_body("\n".join([*body, heading, "Another story"])) == "\n".join(body), heading


@settings(max_examples=300, deadline=None)
@given(texts)
def test_main_body_equal_to_the_reference(text):
    assert main_body(text) == features_v1.main_body(text)


def test_features_come_from_the_head_of_a_long_article(monkeypatch):
    monkeypatch.setattr(features, "ARTICLE_TEXT_MAX", 170)
    head = "Microsoft fixed CVE-2024-21412 in March.\n" * 4  # 164 characters
    tail = "Google fixed CVE-2023-1111 in May.\n" * 4
    sig = compute_signals(Article(url="https://a.example/1", lang="en", text=head + tail))
    assert "cve-2024-21412" in sig.anchors and "microsoft" in sig.anchors
    assert "cve-2023-1111" not in sig.anchors and "google" not in sig.anchors
    assert "googl" not in sig.terms and "microsoft" in sig.terms
    # So do the fingerprint, content hash and length (before ARTICLE_TEXT_MAX they covered the whole text).
    short = compute_signals(Article(url="https://a.example/2", lang="en", text=head))
    assert (sig.simhash, sig.content_hash, sig.length) == (short.simhash, short.content_hash, short.length)


def test_short_article_is_unbounded():
    text = "Microsoft fixed CVE-2024-21412 in March.\n" * 10
    sig = compute_signals(Article(url="https://a.example/1", lang="en", text=text))
    assert sig.anchors["cve-2024-21412"] == 10


def test_to_json_is_what_asdict_gives_in_fresh_containers():
    from dataclasses import asdict

    sig = compute_signals(Article(url="https://a.example/1", lang="en",
                                  text="Microsoft fixed CVE-2024-21412.\n原文链接：https://b.example/x/y\n"))
    d = sig.to_json()
    ref = asdict(sig)
    ref["simhash"], ref["content_hash"] = f"{sig.simhash:016x}", f"{sig.content_hash:016x}"
    assert list(d.items()) == list(ref.items())
    d["anchors"]["x"] = 1
    d["source_links"][0]["kind"] = "x"
    assert "x" not in sig.anchors and sig.source_links[0]["kind"] != "x"
    assert features.Signals.from_json(sig.to_json()) == sig


@settings(max_examples=300, deadline=None)
@given(texts)
def test_literal_scans_equal_their_patterns(text):
    for t in (text, text + " 编译：x", text + "综合编译", text + "\u0131"):
        assert says_translated(t) == bool(features._TRANSLATED_RE.search(t))
        assert has_case_trap(t) == bool(anchors._CASE_TRAPS_RE.search(t))


_ODD = st.sampled_from(["\u03a3", "ΑΣ", "σ", "İ", "ı", "ſ", "\u212a", "Ⅻ", "ﬁ", "，", "臺灣", "[a](http://x.com)", "www.Evil.COM",
                        "https://a.example/x", "example.co.uk/p", "\nRead more\n", "\n推荐阅读\n", "Title", "\n", " "])
_HEAD_TEXTS = st.lists(st.one_of(texts, _ODD), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(_HEAD_TEXTS, st.one_of(st.just(""), _ODD, _HEAD_TEXTS))
def test_head_from_the_lower_cased_copy_is_the_head(text, title):
    # The copy cut, blanked and joined along with the text is the lower-cased copy of the result.
    article = Article(url="https://a.example/1", lang="en", text=text, title=title)
    low = text.lower()
    if features.lower_maps_each_character(text, low):
        assert features._head_lowered(article, text, low) == features._head(article, text, low)
        head, folded = features._head(article, text, low)
        assert folded == head.lower()


def test_head_with_a_capital_sigma_or_a_dotted_capital_i_lower_cases_again():
    for text in ("ΑΣ https://a.example/x tail", "İstanbul https://a.example/x tail"):
        assert not features.lower_maps_each_character(text, text.lower())
        sig = compute_signals(Article(url="https://a.example/1", lang="en", text=text, title="ΟΔΟΣ"))
        assert sig.length > 0


_COMPATIBILITY = st.sampled_from(["…", "\xa0", "\u3000", "（", "）", "，", "：", "ＡＢ", "ａ", "ﬁ", "Ⅻ", "臺灣國際電腦", "K", "\u0130",
                                  "Σ", "e\u0301", "\u0301", "x", "\n", " ", "[b](https://b.example)"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(texts, _COMPATIBILITY), max_size=16).map("".join),
       st.one_of(st.just(""), _COMPATIBILITY, texts))
def test_head_from_the_lower_cased_copy_through_nfkc_replacements(text, title):
    # NFKC by the common replacements alone, by its own pass after them, OpenCC: the head and its copy
    article = Article(url="https://a.example/1", lang="en", text=text, title=title)
    low = text.lower()
    if features.lower_maps_each_character(text, low):
        assert features._head_lowered(article, text, low) == features._head(article, text, low)
    body, body_low = features._canonical_lowered(text, low)
    assert body == canonical(text)
    if body_low is not None:
        assert body_low == body.lower()


def test_the_replaced_characters_lower_case_as_themselves():
    # what makes the replacements in the lower-cased copy its lower-cased result
    import sys

    from crawler.dedup.normalize import _COMMON_COMPATIBILITY

    replaced = set(_COMMON_COMPATIBILITY)
    assert all(ch.lower() == ch and norm.lower() == norm for ch, norm in _COMMON_COMPATIBILITY.items())
    assert not [hex(cp) for cp in range(sys.maxunicode + 1) if chr(cp) not in replaced and chr(cp).lower() in replaced]
