"""compute_signals on hostile and corpus-like texts: pinned to what main gave before the speed work.

Each case's signals (``Signals.to_json``, key order included) are pinned by a SHA-256 taken with
the implementation before the speed rewrite of issue 13 (main at 1e4eb37); a rewrite of any
pass (normalisation, tokens, simhash, anchors, words, source links) must give the same bytes.
The inputs are built deterministically from the test fragments, so nothing here needs the corpus.
"""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from crawler.dedup import features
from crawler.dedup.features import Article, compute_signals
from tests.dedup.fragments import FRAGMENTS, SEPARATORS

ZH_PARAGRAPH = ("微软3月12日修复了编号为CVE-2024-21412的漏洞，俄罗斯黑客组织APT28利用该零日漏洞窃取了120万条记录，"
                "损失达1.5亿美元，影响iPhone 17.4.1版本，域名evil-domain.com。勒索软件攻击了医院。研究人员表示，"
                "攻击者通过钓鱼邮件投递木马，随后横向移动并部署勒索软件。")
EN_PARAGRAPH = ("Microsoft fixed CVE-2024-21412 and CWE-79 flaws exploited by APT28 (GHSA-jfh8-c2jp-5v3q) on "
                "March 12th; 1.5 million devices and 23,000 servers run version v17.4.1 of the iPhone app. "
                "Russian hackers used a zero-day against hospitals via evil-domain.com in 2024, the U.S. said.")
ZH_SIMPLIFIED = "LockBit勒索软件团伙声称对明尼苏达州一家医院的网络攻击负责，此次攻击迫使该医院转移救护车并推迟手术。攻击者利用了CVE-2024-1709漏洞。"
ZH_TRADITIONAL = "LockBit勒索軟件團夥聲稱對明尼蘇達州一家醫院的網絡攻擊負責，此次攻擊迫使該醫院轉移救護車並推遲手術。攻擊者利用了CVE-2024-1709漏洞。"


def _mix(seed: int, n: int) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choice(FRAGMENTS) + rnd.choice(SEPARATORS) for _ in range(n))


def _article_of(seed: int, paragraphs: int, paragraph: str) -> str:
    rnd = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        words = paragraph.split(" ") if " " in paragraph else list(paragraph)
        rnd.shuffle(words)
        out.append((" " if " " in paragraph else "").join(words) + rnd.choice(("", " " + _mix(rnd.random(), 3))))
    return "\n\n".join(out)


CASES: dict[str, tuple[str, str, str]] = {  # name: (lang, title, text)
    "empty": ("en", "", ""),
    "blank": ("zh", "", " \n\n\t\u3000 \n"),
    "fragments_en": ("en", "Microsoft Patches Wormable RCE", _mix(1, 400)),
    "fragments_zh": ("zh", "微软修复漏洞", _mix(2, 400)),
    "corpus_like_zh": ("zh", "勒索软件攻击医院", _article_of(3, 60, ZH_PARAGRAPH) + "\n\n**推荐阅读**\n\n[标题](https://mp.weixin.qq.com/s/x)"),
    "corpus_like_en": ("en", "LockBit hits hospital", _article_of(4, 60, EN_PARAGRAPH) + "\nSource: https://example.com/a/b"),
    "traditional": ("zh", "", (ZH_TRADITIONAL + "\n") * 30),
    "one_huge_line": ("en", "", " ".join([EN_PARAGRAPH, ZH_PARAGRAPH] * 400)),
    "mixed_scripts": ("zh", "Смешанный", ("Привет мир CVE-2024-1 Ελληνικά ΣΑΣ 日本語のテキスト 한국어 텍스트 العربية "
                                         "עברית हिन्दी ไทย " + ZH_PARAGRAPH + EN_PARAGRAPH + "\n") * 20),
    "fullwidth": ("zh", "", ("ＣＶＥ－２０２４－１２３４ Ｍｉｃｒｏｓｏｆｔ １２０万 ｅｘａｍｐｌｅ．ｃｏｍ Ｖ１．２．３ "
                              "ＡＰＴ２８ ３月１５日 ＧＨＳＡ－ｊｆｈ８－ｃ２ｊｐ－５ｖ３ｑ\n") * 20),
    "emoji": ("en", "🔥 Breaking", ("🔥🚨 CVE-2024-1709 👉 https://x.example.com/🙂 Microsoft 🇺🇸 1.5 million 👨‍👩‍👧 "
                                   "勒索软件💰\n") * 30),
    "nul_bytes": ("en", "a\x00b", ("CVE-2024-\x001709 Micro\x00soft 12\x0034 example.com\x00/x \x00\x00\n" * 30)),
    "case_traps": ("en", "", "İstanbul ıcve-2024-1111 KELVIN ſource: https://a.example/x Related artİcles\n" * 20),
    "over_feature_max": ("en", "", _article_of(5, 400, EN_PARAGRAPH) + "\n" + _mix(6, 2000)),
    "megabyte": ("zh", "", "\n".join((ZH_PARAGRAPH if i % 2 else EN_PARAGRAPH) + _mix(i, 5) for i in range(3800))),
}

# sha256 of json.dumps(signals.to_json(), ensure_ascii=False), from main at 1e4eb37.
PINNED: dict[str, str] = {
    "blank": "4750cdcbe9b8f7061c6a75aeff5d77d4a7056c7b88a7d60fa7da34b10455fd51",
    "case_traps": "ac91d819ba8beb06ba0288d5e2d8fcf11f47a2b277edc77ddf4a45936769f7b1",
    "corpus_like_en": "5166f1464719694a0ee58e30441460d189a29fb677b94be0200f2e98470afc92",
    "corpus_like_zh": "73a38f5bc83f5d080330218403f3f284a06378231ab8e2e1343fc1a5148670f2",
    "emoji": "5c28d785bdd928a77960a892bb309ad9e5cf019b11d1ccf3c1a1010a867ccf69",
    "empty": "b141f215018ac1bd54cda3461beb8e22076c505399e9465d7e98074b6e447c56",
    "fragments_en": "59ea5de80f824f06d628f7c455177b8c354bbd33c76462e507855f9c1290dcc1",
    "fragments_zh": "85ea9da4e388f3a92ce3e86f6abe6ef4c14455c91bc5d12ad72939afe5dfd810",
    "fullwidth": "b80650ed5b7f00765d1bdfea2b5637b799edd32aeb20a04681505afde0a20abf",
    "megabyte": "f9b9408d8f229db3749936764fab0db297d5bf513ee2563c5cc2f99755e46035",
    "mixed_scripts": "e9488c2bf2dd2219e5c8c3bcb4ee5ebf437d398d742397b77922c88bcfe0db4b",
    "nul_bytes": "cfcb45a7c17488872711b2d70ccaa5523749d81b98b27cae98eecdae7490d6f9",
    "one_huge_line": "9b90d09056847ad7cd88d3d12c73c35633a8eaefa8d1924fc8e888b01a62d313",
    "over_feature_max": "4a59ccd8104a39a348312fc263d9b3a6feecaa893b9bbf5a83c6d85adc433a01",
    "traditional": "20f62f06fcae18615f4f036aa632a269cfff6f3b2f4b4535571c1e0bbb49246f",
}


@pytest.fixture(autouse=True)
def main_feature_bound(monkeypatch):
    """The pins were taken with the anchor and word passes bounded at 60,000 characters (then
    ``FEATURE_TEXT_MAX``; now ``ARTICLE_TEXT_MAX``, which bounds the fingerprint too)."""
    monkeypatch.setattr(features, "ARTICLE_TEXT_MAX", 60_000)


# The cases longer than the bound: their pins hold the fingerprint of the whole text (simhash,
# content hash, token count), which since ARTICLE_TEXT_MAX is taken from the head, as the anchors
# and words were already; every other field must still give the pinned bytes.
LONGER_THAN_THE_BOUND = ("megabyte", "one_huge_line", "over_feature_max")


def _body(name: str) -> str:
    """The body compute_signals fingerprints (main's steps: URLs removed, a trailing "recommended
    reading" list cut, canonical form, the title first unless the text starts with it)."""
    from crawler.dedup.normalize import canonical, remove_urls

    _lang, title, text = CASES[name]
    body = canonical(features.main_body(remove_urls(text)))
    if title and title.strip() not in body[: len(title) + 200]:
        body = canonical(title) + "\n" + body
    return body


def _signals(name: str) -> dict:
    lang, title, text = CASES[name]
    sig = compute_signals(Article(url=f"https://news.example/{name}", lang=lang, text=text, title=title))
    return sig.to_json()


def _digest(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, ensure_ascii=False).encode("utf-8")).hexdigest()


def test_cases_cover_the_sizes_they_name():
    assert len(CASES["megabyte"][2]) > 1_000_000
    assert len(CASES["over_feature_max"][2]) > 60_000
    assert "\n" not in CASES["one_huge_line"][2] and len(CASES["one_huge_line"][2]) > 100_000


@pytest.mark.parametrize("name", sorted(CASES))
def test_signals_equal_the_pinned_ones(name):
    signals = _signals(name)
    if name in LONGER_THAN_THE_BOUND:
        from crawler.dedup.fingerprint import fingerprint_of_folded

        body = _body(name)
        head = features.article_head(body)
        assert len(body) > len(head)
        simhash, content_hash, length = fingerprint_of_folded(head.lower())
        assert (signals["simhash"], signals["content_hash"], signals["length"]) == (
            f"{simhash:016x}", f"{content_hash:016x}", length)
        simhash, content_hash, length = fingerprint_of_folded(body.lower())  # main's: the whole body
        signals.update(simhash=f"{simhash:016x}", content_hash=f"{content_hash:016x}", length=length)
    assert _digest(signals) == PINNED[name]


def test_signals_say_what_the_text_holds():
    # Properties that can fail whatever the pins: the ids, names and sources of the corpus-like texts.
    zh, en = _signals("corpus_like_zh"), _signals("corpus_like_en")
    assert zh["anchors"]["cve-2024-21412"] == 60 and zh["anchors"]["microsoft"] >= 60 and "apt28" in zh["anchors"]
    assert en["anchors"]["cve-2024-21412"] == 60 and "n:1500000" in en["anchors"]
    assert {"url": "example.com/a/b", "kind": "cites"} in en["source_links"]
    assert "勒索" in zh["terms"] and "hospital" in en["terms"]
    assert _signals("empty")["length"] == 0 and _signals("empty")["anchors"] == {}
    full = _signals("fullwidth")
    assert "cve-2024-1234" in full["anchors"] and "apt28" in full["anchors"] and "dom:example.com" in full["anchors"]
    simplified = _signals_of("zh", (ZH_SIMPLIFIED + "\n") * 30)
    assert _signals("traditional")["terms"] == simplified["terms"] and simplified["terms"]


def _signals_of(lang: str, text: str) -> dict:
    return compute_signals(Article(url="https://news.example/x", lang=lang, text=text)).to_json()
