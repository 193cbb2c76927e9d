"""The capture catalog on its own: files published atomically, lookups by URL, record id and digest."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from crawler.archive.catalog import CaptureCatalog
from crawler.archive.cdxj import CaptureEntry, surt_key


def entry(url: str, ts: str, filename: str = "a.warc.gz", offset: int = 0, rec_type: str = "response",
          digest: str = "sha1:AAA", record_id: str | None = None, **kw: object) -> CaptureEntry:
    date = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}.000001Z"
    values: dict = dict(urlkey=surt_key(url), timestamp=ts, url=url, mime="text/html", status="200", digest=digest,
                        length=100, offset=offset, filename=filename, rec_type=rec_type,
                        record_id=record_id or f"<urn:uuid:{filename}:{offset}>", warc_date=date)
    values.update(kw)
    return CaptureEntry(**values)


@pytest.fixture
def catalog(tmp_path: Path):
    catalog = CaptureCatalog(tmp_path / "state" / "index.sqlite3")
    yield catalog
    catalog.close()


def test_entries_round_trip_every_field(catalog: CaptureCatalog) -> None:
    revisit = entry("http://news.example/a", "20261128120000", offset=500, rec_type="revisit", mime="warc/revisit",
                    refers_to_uri="http://news.example/a", refers_to_date="2026-11-27T10:00:00Z",
                    refers_to_id="<urn:uuid:orig>")
    stored = [entry("http://news.example/a", "20261127100000"), revisit]
    assert catalog.add_file("a.warc.gz", stored) == 2
    assert catalog.captures("http://news.example/a") == stored
    assert list(catalog.iter_all()) == stored
    assert catalog.by_record_id(revisit.record_id) == revisit


def test_captures_match_by_surt_key_oldest_first_and_only_responses_and_revisits(catalog: CaptureCatalog) -> None:
    catalog.add_file("a.warc.gz", [
        entry("https://www.news.example/a", "20261128000000", offset=0),
        entry("http://news.example/a", "20261127000000", offset=100),
        entry("http://news.example/a", "20261129000000", offset=200, rec_type="metadata", mime="application/json"),
        entry("http://news.example/b", "20261126000000", offset=300),
    ])
    found = catalog.captures("http://NEWS.example/a")
    assert [(e.timestamp, e.offset) for e in found] == [("20261127000000", 100), ("20261128000000", 0)]
    assert [e.rec_type for e in catalog.captures("http://news.example/a", ("metadata",))] == ["metadata"]
    assert catalog.captures("http://news.example/never") == []


def test_a_file_republished_replaces_its_entries(catalog: CaptureCatalog) -> None:
    catalog.add_file("a.warc.gz", [entry("http://news.example/a", "20261127000000", offset=o) for o in (0, 100)])
    catalog.add_file("b.warc.gz", [entry("http://news.example/b", "20261127000000", filename="b.warc.gz")])
    catalog.add_file("a.warc.gz", [entry("http://news.example/c", "20261128000000")])
    assert catalog.count() == 2
    assert catalog.captures("http://news.example/a") == []
    assert catalog.files() == ["a.warc.gz", "b.warc.gz"]
    catalog.remove_file("a.warc.gz")
    assert catalog.files() == ["b.warc.gz"] and catalog.count() == 1
    catalog.clear()
    assert catalog.files() == [] and catalog.count() == 0


def test_a_failed_publish_leaves_the_catalog_as_it_was(catalog: CaptureCatalog) -> None:
    catalog.add_file("a.warc.gz", [entry("http://news.example/a", "20261127000000")])
    duplicate = entry("http://news.example/x", "20261128000000", offset=7)
    with pytest.raises(Exception, match="UNIQUE"):
        catalog.add_file("a.warc.gz", [duplicate, duplicate])  # same (filename, offset) twice
    assert [e.url for e in catalog.iter_all()] == ["http://news.example/a"]


def test_original_of_is_the_earliest_full_response_with_that_digest(catalog: CaptureCatalog) -> None:
    catalog.add_file("a.warc.gz", [
        entry("http://news.example/a", "20261128000000", offset=0, digest="sha1:X"),
        entry("http://news.example/a", "20261127000000", offset=100, digest="sha1:X"),
        entry("http://news.example/a", "20261126000000", offset=200, digest="sha1:X", rec_type="revisit"),
        entry("http://news.example/a", "20261125000000", offset=300, digest="sha1:Y"),
    ])
    original = catalog.original_of("https://news.example/a", "sha1:X")
    assert original is not None and original.offset == 100
    assert catalog.original_of("http://news.example/a", "sha1:Z") is None
    assert catalog.by_record_id("<urn:uuid:none>") is None


def test_each_thread_has_its_own_connection(catalog: CaptureCatalog) -> None:
    catalog.add_file("a.warc.gz", [entry("http://news.example/a", "20261127000000")])
    seen: list[int] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            name = f"t{n}.warc.gz"
            catalog.add_file(name, [entry(f"http://news.example/t{n}", "20261127000000", filename=name)])
            seen.append(len(catalog.captures(f"http://news.example/t{n}")))
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            catalog.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and seen == [1, 1, 1, 1]
    assert catalog.count() == 5


def test_a_reopened_catalog_keeps_what_was_published(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    first = CaptureCatalog(path)
    first.add_file("a.warc.gz", [entry("http://news.example/a", "20261127000000")])
    first.close()
    again = CaptureCatalog(path)
    try:
        assert again.files() == ["a.warc.gz"] and again.count() == 1
    finally:
        again.close()
