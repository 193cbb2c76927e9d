"""Fingerprints: golden values for fixed zh/en texts, and equality with the simhash package."""

from __future__ import annotations

from collections import Counter

from simhash import Simhash

from crawler.dedup import fingerprint as fp
from crawler.dedup.normalize import fold, remove_urls

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
