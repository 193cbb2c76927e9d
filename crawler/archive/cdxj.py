"""CDXJ index lines in pywb's format, the same that cdxj-indexer writes. Field names live here only."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

import surt as _surt
from warcio.timeutils import iso_date_to_timestamp

#: Record types cdxj-indexer indexes by default (metadata/resource unless warc-fields).
INDEXED_TYPES = ("response", "revisit", "resource", "metadata")
_MIME_SPLIT = re.compile(r"[;\s]")


#: surt is pure Python (about 60 us a URL); one capture asks for its key several times, on two
#: threads (incremental check, revisit lookup, index entries of request and response).
@functools.lru_cache(maxsize=4096)
def surt_key(url: str) -> str:
    try:
        return _surt.surt(url)
    except Exception:  # surt raises assorted errors on odd URLs; cdxj-indexer keeps the URL then
        return url


def mime_of(rec_type: str, http_content_type: str | None, warc_content_type: str | None) -> str | None:
    if rec_type == "revisit":
        return "warc/revisit"
    value = http_content_type if rec_type in ("response", "request") else warc_content_type
    if not value:
        return None
    return _MIME_SPLIT.split(value, 1)[0].strip()


def is_indexed(rec_type: str, warc_content_type: str | None, target_uri: str | None = None) -> bool:
    if rec_type not in INDEXED_TYPES:
        return False
    if rec_type in ("resource", "metadata") and warc_content_type == "application/warc-fields":
        return False
    if rec_type == "metadata" and is_legacy_metadata(warc_content_type, target_uri):
        return False
    return True


def is_legacy_metadata(warc_content_type: str | None, target_uri: str | None) -> bool:
    """A dedup metadata record in the old form (before they moved under ``urn:``): JSON under the
    article's own URL. Indexed, it would replay as the article, so our index leaves it out
    (cdxj-indexer keeps it; ``newsarchive index rebuild`` brings an old archive's sidecars up to date)."""
    return (warc_content_type or "").split(";")[0].strip() == "application/json" and (
        (target_uri or "").lower().startswith(("http://", "https://")))


def needs_payload_digest(rec_type: str, warc_content_type: str | None, target_uri: str | None,
                         payload_digest: str | None) -> bool:
    """cdxj-indexer puts a digest of the block in the index for an indexed record that carries no
    WARC-Payload-Digest (our metadata records): the reader must compute it to match."""
    return not payload_digest and is_indexed(rec_type, warc_content_type, target_uri)


@dataclass(frozen=True)
class CaptureEntry:
    """One indexed record: where it is and what it holds. Extra fields feed the catalog only."""

    urlkey: str
    timestamp: str
    url: str
    mime: str | None
    status: str | None
    digest: str | None
    length: int
    offset: int
    filename: str
    rec_type: str
    record_id: str
    warc_date: str
    refers_to_uri: str | None = None
    refers_to_date: str | None = None
    refers_to_id: str | None = None

    def cdxj_line(self) -> str:
        fields: dict[str, str] = {"url": self.url}
        if self.mime:
            fields["mime"] = self.mime
        if self.status:
            fields["status"] = self.status
        if self.digest:
            fields["digest"] = self.digest
        fields["length"] = str(self.length)
        fields["offset"] = str(self.offset)
        fields["filename"] = self.filename
        return f"{self.urlkey} {self.timestamp} {json.dumps(fields)}"


def entry_for(record, offset: int, length: int, filename: str,
              computed_digest: str | None = None) -> CaptureEntry | None:
    """The index entry for a warcio record at (offset, length) in ``filename``, or None if not
    indexed. ``computed_digest``: the block's digest, for a record that carries none
    (:func:`needs_payload_digest`)."""
    rec_headers = record.rec_headers
    rec_type = record.rec_type
    warc_ct = rec_headers.get_header("Content-Type")
    url = rec_headers.get_header("WARC-Target-URI") or ""
    if not is_indexed(rec_type, warc_ct, url):
        return None
    http = record.http_headers
    http_ct = http.get_header("Content-Type") if http is not None else None
    status = None
    if http is not None and rec_type in ("response", "revisit"):
        status = http.get_statuscode()
    wdate = rec_headers.get_header("WARC-Date")
    return CaptureEntry(
        urlkey=surt_key(url),
        timestamp=iso_date_to_timestamp(wdate),
        url=url,
        mime=mime_of(rec_type, http_ct, warc_ct),
        status=status,
        digest=rec_headers.get_header("WARC-Payload-Digest") or computed_digest,
        length=length,
        offset=offset,
        filename=filename,
        rec_type=rec_type,
        record_id=rec_headers.get_header("WARC-Record-ID") or "",
        warc_date=wdate,
        refers_to_uri=rec_headers.get_header("WARC-Refers-To-Target-URI"),
        refers_to_date=rec_headers.get_header("WARC-Refers-To-Date"),
        refers_to_id=rec_headers.get_header("WARC-Refers-To"),
    )


def entry_for_record(record, offset: int, length: int, filename: str) -> CaptureEntry | None:
    """The index entry of a record this program serialised (a records.WarcRecord), computed from
    the values it was built from, exactly as entry_for computes it from the parsed record."""
    if not is_indexed(record.rec_type, record.content_type, record.target_uri):
        return None
    url = record.target_uri
    wdate = record.field("WARC-Date") or ""
    digest = record.field("WARC-Payload-Digest")
    if not digest:
        digest = record.block_sha1()
    return CaptureEntry(
        urlkey=surt_key(url),
        timestamp=iso_date_to_timestamp(wdate),
        url=url,
        mime=mime_of(record.rec_type, record.http_mime, record.content_type),
        status=record.status if record.rec_type in ("response", "revisit") else None,
        digest=digest,
        length=length,
        offset=offset,
        filename=filename,
        rec_type=record.rec_type,
        record_id=record.record_id,
        warc_date=wdate,
        refers_to_uri=record.field("WARC-Refers-To-Target-URI"),
        refers_to_date=record.field("WARC-Refers-To-Date"),
        refers_to_id=record.field("WARC-Refers-To"),
    )


def parse_line(line: str) -> tuple[str, str, dict]:
    urlkey, timestamp, rest = line.rstrip("\n").split(" ", 2)
    return urlkey, timestamp, json.loads(rest)


def entry_from_line(line: str) -> CaptureEntry:
    """A catalog entry from a sidecar line: enough to list, get and resolve revisits (by URL and
    digest). Record ids and microsecond dates are only in the WARC (``index rebuild`` reads them)."""
    urlkey, timestamp, fields = parse_line(line)
    mime = fields.get("mime")
    status = fields.get("status")
    rec_type = "revisit" if mime == "warc/revisit" else ("response" if status else "metadata")
    ts = timestamp.ljust(14, "0")
    warc_date = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"
    return CaptureEntry(
        urlkey=urlkey, timestamp=timestamp, url=fields.get("url", ""), mime=mime, status=status,
        digest=fields.get("digest"), length=int(fields["length"]), offset=int(fields["offset"]),
        filename=fields["filename"], rec_type=rec_type, record_id="", warc_date=warc_date,
    )


def sorted_lines(entries: list[CaptureEntry]) -> list[str]:
    """Lines in the order pywb's binary search needs (plain string sort, as cdxj-indexer --sort)."""
    return sorted(e.cdxj_line() for e in entries)
