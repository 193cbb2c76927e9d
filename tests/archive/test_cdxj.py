"""CDXJ lines on their own: pywb's format, the same entry from a parsed record and from the writer's record."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.cdxj import (
    CaptureEntry,
    entry_for,
    entry_for_record,
    entry_from_line,
    is_indexed,
    mime_of,
    parse_line,
    sorted_lines,
    surt_key,
)
from crawler.archive.records import (
    Exchange,
    WarcRecord,
    metadata_record,
    request_record,
    response_record,
    revisit_record,
    sha1_digest,
    warcinfo_record,
)
from crawler.archive.warcscan import block_digest_if_needed

DATE = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=timezone.utc)
EX = Exchange(
    url="https://www.News.example/a/b?x=1", method="GET", request_headers=[], request_body=b"",
    status=200, reason="OK", protocol="HTTP/1.1",
    response_headers=[(b"Content-Type", b"Text/HTML; charset=utf-8")], body=b"<p>hi</p>",
    ip_address="127.0.0.1", date=DATE, response_id="<urn:uuid:1>", request_id="<urn:uuid:2>",
)


def entry(**kw: object) -> CaptureEntry:
    values: dict = dict(urlkey="example,news)/a", timestamp="20261128120000", url="http://news.example/a",
                        mime="text/html", status="200", digest="sha1:ABC", length=321, offset=1234,
                        filename="f.warc.gz", rec_type="response", record_id="<urn:uuid:1>",
                        warc_date="2026-11-28T12:00:00.123456Z")
    values.update(kw)
    return CaptureEntry(**values)


def test_a_line_in_pywbs_format() -> None:
    assert entry().cdxj_line() == (
        'example,news)/a 20261128120000 {"url": "http://news.example/a", "mime": "text/html", "status": "200", '
        '"digest": "sha1:ABC", "length": "321", "offset": "1234", "filename": "f.warc.gz"}'
    )
    bare = entry(mime=None, status=None, digest=None).cdxj_line()
    assert json.loads(bare.split(" ", 2)[2]) == {"url": "http://news.example/a", "length": "321",
                                                   "offset": "1234", "filename": "f.warc.gz"}


def test_a_hostile_url_stays_one_line_of_valid_json() -> None:
    url = 'http://news.example/a"b\\c\n{"x": 1}\u2028'
    line = entry(url=url, urlkey=surt_key(url)).cdxj_line()
    _, _, fields = parse_line(line)
    assert fields["url"] == url
    assert "\n" not in line


def test_surt_keys() -> None:
    assert surt_key("https://www.News.example:443/a/b?x=1") == "example,news)/a/b?x=1"
    assert surt_key("http://127.0.0.1:8080/a") == "1,0,0,127:8080)/a"  # as surt (and cdxj-indexer) key it
    assert surt_key("http://a.example:99999999/") == "http://a.example:99999999/"  # surt raises: keep the URL


@pytest.mark.parametrize("rec_type, http_ct, warc_ct, expected", [
    ("response", "Text/HTML; charset=utf-8", "application/http; msgtype=response", "Text/HTML"),
    ("response", None, "application/http; msgtype=response", None),
    ("revisit", "text/html", "application/http; msgtype=response", "warc/revisit"),
    ("metadata", None, "application/json", "application/json"),
    ("resource", None, "image/png ; q=1", "image/png"),
])
def test_mime_of(rec_type: str, http_ct: str | None, warc_ct: str, expected: str | None) -> None:
    assert mime_of(rec_type, http_ct, warc_ct) == expected


def test_what_is_indexed() -> None:
    assert is_indexed("response", None) and is_indexed("revisit", None)
    assert is_indexed("metadata", "application/json")
    assert not is_indexed("metadata", "application/warc-fields")
    assert not is_indexed("request", None) and not is_indexed("warcinfo", "application/warc-fields")


def parsed(record: WarcRecord):
    data = b"".join(record.serialize())
    return next(iter(ArchiveIterator(io.BytesIO(data))))


@pytest.mark.parametrize("record", [
    response_record(EX, sha1_digest(EX.body)),
    revisit_record(EX, sha1_digest(EX.body), EX.url, "2026-11-27T10:00:00Z", "<urn:uuid:0>"),
    metadata_record(EX.url, "<urn:uuid:1>", b"{}", "application/json", DATE, record_id="<urn:uuid:3>"),
    request_record(EX),
    warcinfo_record("f.warc.gz", {"software": "x"}, DATE),
], ids=["response", "revisit", "metadata", "request", "warcinfo"])
def test_the_writers_entry_equals_the_one_from_the_parsed_record(record: WarcRecord) -> None:
    from_writer = entry_for_record(record, 100, 200, "f.warc.gz")
    read = parsed(record)  # as the index scan reads it: a record without a payload digest gets its block's
    from_parse = entry_for(read, 100, 200, "f.warc.gz", block_digest_if_needed(read))
    assert from_writer == from_parse
    if record.rec_type in ("request", "warcinfo"):
        assert from_writer is None


def test_a_revisit_entry_knows_its_original() -> None:
    record = revisit_record(EX, sha1_digest(EX.body), EX.url, "2026-11-27T10:00:00Z", "<urn:uuid:0>")
    e = entry_for_record(record, 0, 10, "f.warc.gz")
    assert e is not None
    assert (e.mime, e.status, e.timestamp) == ("warc/revisit", "200", "20261128120000")
    assert (e.refers_to_uri, e.refers_to_date, e.refers_to_id) == (EX.url, "2026-11-27T10:00:00Z", "<urn:uuid:0>")


def test_a_sidecar_line_gives_back_what_it_holds() -> None:
    e = entry()
    back = entry_from_line(e.cdxj_line())
    assert (back.urlkey, back.timestamp, back.url, back.mime, back.status, back.digest, back.length,
            back.offset, back.filename) == (e.urlkey, e.timestamp, e.url, e.mime, e.status, e.digest, e.length,
                                            e.offset, e.filename)
    # what a sidecar does not hold: the record id and the sub-second date
    assert back.record_id == "" and back.warc_date == "2026-11-28T12:00:00Z"
    assert entry_from_line(entry(mime="warc/revisit").cdxj_line()).rec_type == "revisit"
    assert entry_from_line(entry(mime="application/json", status=None).cdxj_line()).rec_type == "metadata"


def test_lines_sort_as_plain_strings() -> None:
    entries = [entry(urlkey="b)/", timestamp="2"), entry(urlkey="a)/", timestamp="9"), entry(urlkey="a)/", timestamp="1")]
    lines = sorted_lines(entries)
    assert [ln.split(" ", 2)[:2] for ln in lines] == [["a)/", "1"], ["a)/", "9"], ["b)/", "2"]]
