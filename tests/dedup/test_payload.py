"""The dedup payload of a WARC metadata record: inputs only, round-trips, refuses what it cannot read."""

from __future__ import annotations

import json

import pytest

from crawler.dedup.features import Article, compute_signals
from crawler.dedup.payload import (
    PAYLOAD_SCHEMA,
    PAYLOAD_TYPE,
    BadPayload,
    UnknownSchema,
    article_from_payload,
    build_payload,
    encode,
    load_payload,
)

ARTICLE = Article(url="https://zh.example/1", lang="zh", text="LockBit勒索软件团伙声称对医院发动攻击，利用 CVE-2024-1709 漏洞。",
                  title="LockBit攻击医院", source="zh", published="2024-03-02", fetched_at="2024-03-02T01:00:00Z",
                  warc_record_id="<urn:uuid:1>", author="编辑")


def test_round_trip_and_no_flags() -> None:
    sig = compute_signals(ARTICLE)
    block = encode(build_payload(ARTICLE, sig, status=200))
    payload = load_payload(block)
    assert payload is not None and payload["type"] == PAYLOAD_TYPE and payload["schema"] == PAYLOAD_SCHEMA == 2
    assert "duplicates" not in payload  # flags live in the catalog, never in a record written once
    assert article_from_payload(payload) == (ARTICLE, sig)
    assert block == encode(json.loads(block))  # keys sorted: the same article, the same bytes


def test_signals_given_as_json_make_the_same_record() -> None:
    """The dedup process hands the payload the ``to_json()`` it already made for its answer."""
    sig = compute_signals(ARTICLE)
    assert encode(build_payload(ARTICLE, sig, status=200, signals_json=sig.to_json())) == \
        encode(build_payload(ARTICLE, sig, status=200))


def test_schema_1_is_read() -> None:
    payload = build_payload(ARTICLE, compute_signals(ARTICLE))
    old = {**payload, "schema": 1, "duplicates": [{"url": "https://x.example/", "kind": "repost"}]}
    assert article_from_payload(load_payload(encode(old)) or {})[0] == ARTICLE


@pytest.mark.parametrize("block,error", [
    (b"\xff\xfe not utf-8", BadPayload),
    (b"{", BadPayload),
    (json.dumps({"type": PAYLOAD_TYPE, "schema": 3}).encode(), UnknownSchema),
    (json.dumps({"type": PAYLOAD_TYPE}).encode(), UnknownSchema),
])
def test_unreadable_blocks(block: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_payload(block)


@pytest.mark.parametrize("block", [b"[]", b"null", b'"text"', json.dumps({"type": "other/thing", "schema": 2}).encode()])
def test_other_json_is_not_a_dedup_payload(block: bytes) -> None:
    assert load_payload(block) is None


@pytest.mark.parametrize("change", [
    {"extraction": None}, {"extraction": {}}, {"url": None, "extraction": []}, {"signals": {"simhash": "zz"}},
    {"signals": {**build_payload(ARTICLE, compute_signals(ARTICLE))["signals"], "unknown": 1}},
])
def test_malformed_payloads_are_bad(change: dict) -> None:
    payload = {**build_payload(ARTICLE, compute_signals(ARTICLE)), **change}
    with pytest.raises(BadPayload):
        article_from_payload(payload)


def test_words_encoded_once_make_the_same_record() -> None:
    """The dedup process splices in the anchors' and words' JSON the catalog's row was made with."""
    from crawler.dedup.store import encoded_words

    for article in (ARTICLE, Article(url="https://en.example/2", lang="en", text="Ivanti fixed CVE-2024-21887, "
                                     "exploited since December: \"patch now\" \\ say analysts.", title="Ivanti \u2028")):
        sig = compute_signals(article)
        sig.source_links = [{"url": "x.example/1", "kind": "translated_from"}]
        payload = build_payload(article, sig, status=None, signals_json=sig.to_json())
        assert encode(payload, words=encoded_words(sig)) == encode(payload)


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**70, 1.5, float("inf"), "", "é\u2028\"\\\n", [1, "a"],
                                   {"b": 1, "a": None}])
def test_values_written_directly_are_what_the_encoder_writes(value: object) -> None:
    from crawler.dedup.payload import _json_value, json_text

    assert _json_value(value) == json_text(value)
