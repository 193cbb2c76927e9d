"""The dedup payload of a WARC metadata record: one article's extraction and signals, enough to redo its detection.

The crawl pipeline writes one per article (as JSON, linked to the article's response record);
``newsarchive dedup rebuild`` reads them back (``crawler/rebuild.py``) and replays them
through the detector. The payload holds the detector's *inputs* only, never its flags: what an
article relates to changes as the catalog grows (and once more when a young catalog settles at
the end of a crawl), while a WARC record is written once. The flags live in the catalog and are
derived again on a rebuild.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from crawler.dedup.features import Article, Signals

#: ``type`` of the JSON payload.
PAYLOAD_TYPE = "newsarchive/dedup"
#: 2: no ``duplicates`` (a stale copy of the flags at the moment the record was written).
PAYLOAD_SCHEMA = 2
#: Schemas this version reads: 1 differs only by the ``duplicates`` it carried, ignored.
READABLE_SCHEMAS = frozenset({1, 2})


class BadPayload(ValueError):
    """A dedup payload that cannot be read (not JSON, or fields missing or of the wrong type)."""


class UnknownSchema(BadPayload):
    """A dedup payload of a schema this version does not read (written by a newer one)."""


def build_payload(article: Article, signals: Signals, *, status: int | None = None,
                  signals_json: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a rebuild needs to redo the detection for one page; ``signals_json`` is
    ``signals.to_json()`` when the caller has it already."""
    return {
        "type": PAYLOAD_TYPE,
        "schema": PAYLOAD_SCHEMA,
        "url": article.url,
        "source": article.source,
        "lang": article.lang,
        "fetched_at": article.fetched_at,
        "warc_record_id": article.warc_record_id,
        "status": status,
        "extraction": {
            "title": article.title,
            "published": article.published,
            "author": article.author,
            "text": article.text,
        },
        "signals": signals.to_json() if signals_json is None else signals_json,
    }


#: ``json.dumps(value, ensure_ascii=False)``: the same encoder, made once (``json.dumps`` makes one a
#: call when any option differs from its defaults, about 50 calls a page).
json_text = json.JSONEncoder(ensure_ascii=False).encode
#: What :data:`json_text` gives for a string (``JSONEncoder.encode`` hands a string to it directly).
_json_string = json.encoder.encode_basestring

#: Signals whose order is information: an article's words and anchors as they first occur
#: (``originals.opening_match`` reads its first words). Kept as they are in a record.
ORDERED_SIGNALS = frozenset({"anchors", "terms"})


def encode(payload: dict[str, Any], *, words: Mapping[str, str] | None = None) -> bytes:
    """The record block: UTF-8 JSON, keys sorted but the signals' words and anchors, which keep
    the order of the text (the same article gives the same bytes either way). ``words``: the JSON
    of the signals' anchors and terms when the caller has it (``store.encoded_words``), spliced in."""
    if not words:
        return json_text(_sorted(payload)).encode("utf-8")
    # The JSON of ``_sorted(payload)`` with the words spliced in, written value by value: the
    # sorted copy of the whole payload and a ``json_text`` of each scalar (an encoder object a
    # call) were half of this (0.24 ms a realistic page, the article's text 0.08 of it).
    parts = []
    for k in sorted(payload):
        v = payload[k]
        if k == "signals":
            text = json_object((n, words[n] if n in words else _json_value(v[n] if n in ORDERED_SIGNALS
                                                                           else _sorted(v[n], n)))
                               for n in sorted(v))
        else:
            text = _json_value(_sorted(v, k))
        parts.append(f"{_json_string(k)}: {text}")
    return ("{" + ", ".join(parts) + "}").encode("utf-8")


def _json_value(value: Any) -> str:
    """``json_text(value)``, written directly for a string, an int, a bool or None."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if kind is int:
        return int.__repr__(value)
    return json_text(value)


def json_object(items: Iterable[tuple[str, str]]) -> str:
    """``json.dumps`` (default separators, ``ensure_ascii=False``) of a dict given as (key, value
    already as JSON) pairs."""
    return "{" + ", ".join(f"{_json_string(k)}: {v}" for k, v in items) + "}"


def _sorted(value: Any, parent: str = "") -> Any:
    if isinstance(value, dict):
        if parent == "signals":
            return {k: value[k] if k in ORDERED_SIGNALS else _sorted(value[k], k) for k in sorted(value)}
        return {k: _sorted(value[k], k) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def load_payload(block: bytes) -> dict[str, Any] | None:
    """The dedup payload in a JSON metadata block; ``None`` when the block is some other JSON
    metadata. Raises :class:`BadPayload` (not JSON) or :class:`UnknownSchema`."""
    try:
        payload = json.loads(block)
    except ValueError as e:  # also UnicodeDecodeError
        raise BadPayload(f"not JSON: {e}") from None
    if not isinstance(payload, dict) or payload.get("type") != PAYLOAD_TYPE:
        return None
    if payload.get("schema") not in READABLE_SCHEMAS:
        raise UnknownSchema(f"dedup payload schema {payload.get('schema')!r}, this version reads "
                            f"{', '.join(map(str, sorted(READABLE_SCHEMAS)))}")
    return payload


def article_from_payload(payload: dict[str, Any]) -> tuple[Article, Signals]:
    """The article and its signals, as the crawl gave them to the detector. Raises :class:`BadPayload`."""
    try:
        ex = payload["extraction"]
        article = Article(
            url=payload["url"], lang=payload["lang"], text=ex["text"], title=ex.get("title") or "",
            source=payload.get("source") or "", published=ex.get("published"), fetched_at=payload.get("fetched_at"),
            warc_record_id=payload.get("warc_record_id"), author=ex.get("author"),
        )
        return article, Signals.from_json(payload["signals"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BadPayload(f"{type(e).__name__}: {e}") from None
