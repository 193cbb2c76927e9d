"""rebuild_from_warcs reproduces the catalog from WARC metadata records; find_duplicates reads it."""

from __future__ import annotations

import io
import json

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive.storage.local import LocalStorage
from crawler.dedup.commands import build_payload, find_duplicates, rebuild_from_warcs
from crawler.dedup.detector import Detector
from crawler.dedup.features import compute_signals
from crawler.dedup.store import ArticleStore
from tests.dedup.test_detector import BASE, site_articles


def write_warc(path, payloads):
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        for i, payload in enumerate(payloads):
            response_id = f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            resp = writer.create_warc_record(payload["url"], "response", payload=io.BytesIO(b"<html></html>"),
                                             http_headers=http, warc_headers_dict={"WARC-Record-ID": response_id})
            writer.write_record(resp)
            meta = writer.create_warc_record(
                payload["url"], "metadata", payload=io.BytesIO(json.dumps(payload).encode()),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Concurrent-To": response_id, "WARC-Refers-To": response_id},
            )
            writer.write_record(meta)


def snapshot(path):
    with ArticleStore(path) as store:
        arts = [(a.url, a.lang, a.title, a.signals.to_json()) for a in store.iter_articles()]
        url = {a.id: a.url for a in store.iter_articles()}
        flags = sorted((url[a], url[b], k, round(s, 6), basis) for a, b, k, s, basis in store.all_flags())
    return arts, flags


def test_rebuild_reproduces_catalog(tmp_path):
    articles = list(site_articles().values())
    live = tmp_path / "live.sqlite3"
    payloads = []
    with ArticleStore(live) as store:
        det = Detector(store)
        for art in articles:
            sig = compute_signals(art)
            det.add(art, sig)
            payloads.append(build_payload(art, sig, status=200))
        assert det.settle()  # as the crawl pipeline does at the end, for a young catalog
    (tmp_path / "archive" / "warcs").mkdir(parents=True)
    write_warc(tmp_path / "archive" / "warcs" / "a-00000.warc.gz", payloads[:4])
    write_warc(tmp_path / "archive" / "warcs" / "a-00001.warc.gz", payloads[4:])
    rebuilt = tmp_path / "rebuilt.sqlite3"
    stats = rebuild_from_warcs(LocalStorage(tmp_path / "archive"), rebuilt)
    assert stats["warcs"] == 2 and stats["records"] == len(articles) == stats["articles"]
    assert stats["flags"] > 0
    assert snapshot(rebuilt) == snapshot(live)

    dups = find_duplicates(rebuilt, BASE + "/zh/lockbit-hospital")
    kinds = {d["url"]: d["kind"] for d in dups}
    assert kinds[BASE + "/en/lockbit-hospital"] == "translation"
    assert kinds[BASE + "/zh/lockbit-hospital-repost"] == "repost"
    assert find_duplicates(rebuilt, "https://nowhere.example/") == []
