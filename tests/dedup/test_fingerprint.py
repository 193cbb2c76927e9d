"""Fingerprints: golden values for fixed zh/en texts, and equality with the simhash package."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from simhash import Simhash

from crawler.dedup import fingerprint as fp
from crawler.dedup.normalize import fold, remove_urls
from tests.dedup.fragments import texts

ZH = "LockBit勒索软件团伙声称对明尼苏达州一家医院的网络攻击负责，此次攻击迫使该医院转移救护车并推迟手术。攻击者利用了CVE-2024-1709漏洞。"
EN = ("The LockBit ransomware gang has claimed responsibility for a cyberattack on a Minnesota hospital "
      "that forced it to divert ambulances and postpone surgeries. The attackers exploited CVE-2024-1709.")
ZH_TRADITIONAL = "LockBit勒索軟件團夥聲稱對明尼蘇達州一家醫院的網絡攻擊負責，此次攻擊迫使該醫院轉移救護車並推遲手術。攻擊者利用了CVE-2024-1709漏洞。"

# Pinned: a change here changes every stored fingerprint (and needs a catalog rebuild).
GOLDEN = {
    "zh": "43018508ec88a4ef",
    "en": "55a7224fa403a414",
}


def test_golden_values():
    assert f"{fp.simhash_value(ZH):016x}" == GOLDEN["zh"]
    assert f"{fp.simhash_value(EN):016x}" == GOLDEN["en"]


def test_equals_package_build_by_features():
    for text in (ZH, EN, EN * 3, "short"):
        prepared = fold(remove_urls(text))
        toks = fp.tokens(prepared)
        expected = Simhash(Counter(fp.shingles(toks)), hashfunc=fp.shingle_hash).value
        assert fp.simhash_value(prepared, prepared=True) == expected


def test_fingerprint_is_a_simhash_object():
    a, b = fp.fingerprint(EN), fp.fingerprint(EN + " Updated.")
    assert isinstance(a, Simhash)
    assert a.distance(b) == fp.hamming(a.value, b.value) <= 12


def test_traditional_chinese_matches_simplified():
    assert fp.hamming(fp.simhash_value(ZH), fp.simhash_value(ZH_TRADITIONAL)) <= 3


def test_links_do_not_change_the_fingerprint():
    assert fp.simhash_value(EN + " https://example.com/a?utm=1") == fp.simhash_value(EN)


def test_empty_text():
    assert fp.simhash_value("") == 0


# --- the vectorised path of compute_signals ------------------------------------------------

def _token_path(folded: str) -> tuple[int, int, int]:
    toks = fp.tokens(folded)
    return fp.simhash_of_tokens(toks), xxhash.xxh3_64_intdigest(" ".join(toks).encode("utf-8")), len(toks)


def test_xxh3_short_equals_the_xxhash_package_for_every_length():
    rnd = random.Random(7)
    strings = [bytes(rnd.randrange(256) for _ in range(n)) for n in range(1, 17) for _ in range(200)]
    buf = np.frombuffer(b"".join(strings) + bytes(8), dtype=np.uint8)
    lengths = np.array([len(s) for s in strings], dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.intp)
    expected = np.array([xxhash.xxh3_64_intdigest(s) for s in strings], dtype=np.uint64)
    assert (fp.xxh3_short(buf, starts, lengths) == expected).all()


def test_cjk_table_holds_each_characters_xxh3():
    table = fp._cjk_hashes()
    for cp in (0x3400, 0x4E2D, 0x9FFF, 0xF900, 0xFAFF):
        assert int(table[cp - 0x3400]) == xxhash.xxh3_64_intdigest(chr(cp).encode("utf-8"))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab.'z09 \n-_中文漢\u3400\u33ff\u9fff\ua000\uf900\ufaff\ufb00é😀"), max_size=80)
       | texts.map(lambda t: fold(remove_urls(t))))
def test_fingerprint_numpy_equals_the_token_path(folded):
    assert fp.fingerprint_numpy(folded) == _token_path(folded)


def test_fingerprint_of_folded_edges():
    for folded in ("", " ", "a", "中", "a.", ".a", "a.b", "a'.b", "a..b", "x" * 17, "x" * 40 + ".y" * 30,
                   "中a中", "1.2.3.4", "don't", "\ud800a", fold(ZH), fold(EN) * 5):
        assert fp.fingerprint_numpy(folded) == _token_path(folded), folded
        assert fp.fingerprint_of_folded(folded) == _token_path(folded), folded


def test_latin_tokens_hashed_either_way_give_the_token_path(monkeypatch):
    # A few Latin tokens go through the token cache, many through xxh3_short: both, on each text.
    rnd = random.Random(3)
    words = ["".join(rnd.choice("abcxyz019") for _ in range(rnd.randint(1, 22))) + rnd.choice(("", "'s", ".v2", "-"))
             for _ in range(1500)]
    many = " ".join(words) + " 中文漢字 " + fold(EN)
    for folded in (many, fold(ZH) * 3, "x" * 40 + ".y" * 30, "中a中", ""):
        for minimum in (0, 1, 10**9):
            monkeypatch.setattr(fp, "LATIN_VECTOR_MIN", minimum)
            assert fp.fingerprint_numpy(folded) == _token_path(folded), (folded[:40], minimum)


def test_either_path_by_length_and_cjk_count():
    # Around both switches of fingerprint_of_folded: the result never depends on the path taken.
    for n in (fp.VECTOR_MIN_WIDE - 1, fp.VECTOR_MIN_WIDE, fp.VECTOR_MIN_WIDE + 1):
        folded = "中" * n + " ab" * 10
        assert fp.fingerprint_of_folded(folded) == _token_path(folded)
    for n in (fp.VECTOR_MIN_CHARS - 1, fp.VECTOR_MIN_CHARS):
        folded = ("word " * n)[:n]
        assert fp.fingerprint_of_folded(folded) == _token_path(folded)
