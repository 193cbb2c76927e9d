"""rebuild_catalog reproduces the catalog from the archive's dedup metadata records, and counts what it skips."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive.archive import Archive
from crawler.dedup.detector import Detector, find_related
from crawler.dedup.features import compute_signals
from crawler.dedup.payload import build_payload, encode
from crawler.dedup.store import ArticleStore
from crawler.errors import CatalogMissing, NewsarchiveError
from crawler.rebuild import rebuild_catalog
from tests.dedup.test_detector import BASE, site_articles


def write_warc(path: Path, blocks: list[tuple[str, bytes, str]]) -> None:
    """A WARC of response + metadata pairs: ``(url, metadata block, metadata content type)``."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        for i, (url, block, ctype) in enumerate(blocks):
            response_id = f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            # lengths given: without one warcio spools each record to a temporary file it never closes
            resp = writer.create_warc_record(url, "response", payload=io.BytesIO(b"<html></html>"), length=13,
                                             http_headers=http, warc_headers_dict={"WARC-Record-ID": response_id})
            writer.write_record(resp)
            meta = writer.create_warc_record(url, "metadata", payload=io.BytesIO(block), length=len(block),
                                             warc_content_type=ctype,
                                             warc_headers_dict={"WARC-Concurrent-To": response_id})
            writer.write_record(meta)


def snapshot(path: Path) -> tuple[list[Any], list[Any]]:
    with ArticleStore(path) as store:
        arts = [(a.url, a.lang, a.title, a.signals.to_json()) for a in store.iter_articles()]
        url = {a.id: a.url for a in store.iter_articles()}
        flags = sorted((url[a], url[b], k, round(s, 6), basis) for a, b, k, s, basis in store.all_flags())
    return arts, flags


def live_catalog(path: Path) -> list[bytes]:
    """The detector fed as the crawl feeds it (then settled); returns each article's metadata block."""
    blocks = []
    with ArticleStore(path) as store:
        det = Detector(store)
        for art in site_articles().values():
            sig = compute_signals(art)
            det.add(art, sig)
            blocks.append(encode(build_payload(art, sig, status=200)))
        assert det.settle()  # as the crawl pipeline does at the end, for a young catalog
    return blocks


def test_rebuild_reproduces_catalog(tmp_path: Path) -> None:
    live = tmp_path / "live.sqlite3"
    blocks = live_catalog(live)
    urls = [json.loads(b)["url"] for b in blocks]
    (tmp_path / "archive" / "warcs").mkdir(parents=True)
    items = [(u, b, "application/json") for u, b in zip(urls, blocks)]
    write_warc(tmp_path / "archive" / "warcs" / "a-00000.warc.gz", items[:4])
    write_warc(tmp_path / "archive" / "warcs" / "a-00001.warc.gz", items[4:])
    archive = Archive.open(tmp_path / "archive")
    rebuilt = tmp_path / "rebuilt.sqlite3"
    stats = rebuild_catalog(archive, rebuilt)
    assert stats["warcs"] == 2 and stats["records"] == len(blocks) == stats["articles"]
    assert stats["flags"] > 0 and stats["bad_records"] == stats["unknown_schema"] == 0
    assert snapshot(rebuilt) == snapshot(live)
    assert not list(tmp_path.glob("rebuilt.sqlite3.rebuild*"))

    with ArticleStore.open_existing(rebuilt) as store:
        kinds = {m.url: m.kind for m in find_related(store, BASE + "/zh/lockbit-hospital")}
        assert kinds[BASE + "/en/lockbit-hospital"] == "translation"
        assert kinds[BASE + "/zh/lockbit-hospital-repost"] == "repost"
        assert find_related(store, "https://nowhere.example/") == []


def test_rebuild_skips_what_is_not_a_readable_dedup_payload(tmp_path: Path) -> None:
    live = tmp_path / "live.sqlite3"
    blocks = live_catalog(live)
    first = json.loads(blocks[0])
    schema_1 = {**first, "schema": 1, "duplicates": [{"url": "https://stale.example/", "kind": "repost"}]}
    hostile = [
        (first["url"], b"{not json", "application/json"),
        (first["url"], json.dumps({"type": "someone-else/metrics", "n": 1}).encode(), "application/json"),
        (first["url"], json.dumps({**first, "schema": 99}).encode(), "application/json"),
        (first["url"], json.dumps({**first, "extraction": None}).encode(), "application/json"),
        (first["url"], json.dumps({**first, "signals": {"simhash": "zz"}}).encode(), "application/json"),
        (first["url"], blocks[1], "text/plain"),  # not a JSON metadata record: never read
    ]
    good = [(json.loads(b)["url"], b, "application/json") for b in blocks[1:]]
    (tmp_path / "archive" / "warcs").mkdir(parents=True)
    write_warc(tmp_path / "archive" / "warcs" / "a-00000.warc.gz",
               hostile + [(first["url"], json.dumps(schema_1).encode(), "application/json")] + good)
    stats = rebuild_catalog(Archive.open(tmp_path / "archive"), tmp_path / "rebuilt.sqlite3")
    assert stats["unknown_schema"] == 1 and stats["bad_records"] == 3
    assert stats["records"] == len(blocks) + 2  # the two unreadable dedup payloads count as records seen
    assert stats["articles"] == len(blocks)  # the schema-1 payload (with its stale list) is read
    assert snapshot(tmp_path / "rebuilt.sqlite3") == snapshot(live)


def test_lookup_never_creates_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogMissing, match="dedup rebuild"):
        ArticleStore.open_existing(tmp_path / "nothing" / "dedup.sqlite3")
    assert not (tmp_path / "nothing").exists()


def test_an_archive_without_warcs_is_an_error_not_an_empty_catalog(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    catalog = tmp_path / "archive" / "dedup.sqlite3"
    with pytest.raises(NewsarchiveError, match="no WARCs in") as e:
        rebuild_catalog(Archive.open(tmp_path / "archive"), catalog)
    assert e.value.exit_code == 1 and not catalog.exists()


class _Broken(Exception):
    pass


def test_a_failed_rebuild_leaves_the_old_catalog_and_nothing_beside_it(tmp_path: Path, monkeypatch) -> None:
    live = tmp_path / "archive" / "dedup.sqlite3"
    blocks = live_catalog(live)
    (tmp_path / "archive" / "warcs").mkdir(parents=True)
    write_warc(tmp_path / "archive" / "warcs" / "a-00000.warc.gz",
               [(json.loads(b)["url"], b, "application/json") for b in blocks])
    before = snapshot(live)

    def broken(self: Detector) -> bool:
        raise _Broken

    monkeypatch.setattr(Detector, "settle", broken)
    with pytest.raises(_Broken):
        rebuild_catalog(Archive.open(tmp_path / "archive"), live)
    assert snapshot(live) == before
    assert not list((tmp_path / "archive").glob("dedup.sqlite3.rebuild*"))
