"""`newsarchive export --wacz`: an archive (or the articles of a source and time span) as one WACZ 1.1.1.

WACZ is the package ReplayWeb.page opens: the WARCs, a CDXJ index, ``pages/pages.jsonl`` and a
``datapackage.json`` with every file's hash. Webrecorder's own ``wacz`` library (py-wacz) builds
and hashes the package; it installs in our venv (it needs cdxj-indexer and warcio, not pywb).
This module decides what goes in:

* the WARCs. Every record by default; with ``--since``/``--until``/``--source``, the articles'
  captures only, each with its request, its dedup metadata record and, for a revisit, the
  capture it refers to (a revisit replays from it), copied gzip member by gzip member, so each
  record keeps its bytes and digests. Dedup metadata records written before they moved under
  ``urn:newsarchive:dedup:URL`` (older archives have the article's URL as target) are written in
  the current form, same id, date and payload: under the article's URL a viewer would replay
  them as the article.
* ``pages/pages.jsonl``: one line per archived article capture (URL, the capture's time, the
  extracted title; with ``text``, the extracted main text for ReplayWeb.page's full-text
  search), taken from the dedup metadata records. py-wacz copies the file as it is.

The archive's bytes are never held in memory: WARCs are read as streams (an S3 archive's are
first copied to a temporary folder next to the output, one at a time), pages are written as they
are found, and py-wacz sorts its index with spill files. What grows with the archive is a few
hundred bytes per record (offset, length, links; a capture's URL and date). Measured here: a
69 MB archive of 8,166 records in 7.6 s at 65 MB RSS, 477 MB and 57,162 records in 77 s at
100 MB RSS (py-wacz's own ``wacz create`` on the 69 MB: 6.6 s, 58 MB).

py-wacz appends ``warcinfo`` to cdxj-indexer's ``CDXJIndexer.DEFAULT_RECORDS`` when imported:
import it (this module does, lazily) only in a process that runs no other cdxj-indexer.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

from crawler.archive.archive import WARCS, Archive, is_metadata
from crawler.archive.records import METADATA_URI_PREFIX, metadata_record
from crawler.archive.warcscan import PARSE_ERRORS, UnreadableWarc
from crawler.errors import ConfigError, NewsarchiveError

logger = logging.getLogger(__name__)

_JSON = "application/json"
_CHUNK = 1 << 20


class ExportError(NewsarchiveError):
    """The WACZ could not be written."""


@dataclass(frozen=True)
class Page:
    """One archived article capture, as pages.jsonl lists it."""

    url: str
    warc_date: str  # the capture's WARC-Date: ReplayWeb.page opens the page at it
    title: str
    source: str
    response_id: str
    text: str | None = None

    def json_line(self, with_text: bool) -> str:
        ts = iso_date_to_timestamp(self.warc_date)
        line: dict[str, object] = {
            "id": hashlib.blake2b(f"{ts}/{self.url}".encode(), digest_size=12).hexdigest(),
            "url": self.url,
            "ts": self.warc_date,
            "title": self.title or self.url,
        }
        if with_text and self.text:
            line["text"] = self.text
        return json.dumps(line, ensure_ascii=False) + "\n"


@dataclass
class _Record:
    offset: int
    length: int
    rec_type: str
    record_id: str
    links: tuple[str, ...] = ()  # WARC-Concurrent-To and WARC-Refers-To values
    legacy: bool = False  # a dedup metadata record in the old form, rewritten on export


@dataclass
class _Warc:
    name: str
    path: Path
    records: list[_Record] = field(default_factory=list)


@dataclass
class _Capture:
    url: str
    warc_date: str
    rec_type: str
    links: tuple[str, ...]


@dataclass
class ExportReport:
    warcs: int = 0
    records: int = 0
    pages: int = 0
    rewritten: int = 0  # old-form metadata records written in the current form
    size: int = 0


@dataclass(frozen=True)
class Selection:
    """Which articles to export: captured in [since, until] (14-digit prefixes), of these sources."""

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not (self.since or self.until or self.sources)

    def wants(self, page: Page) -> bool:
        ts = iso_date_to_timestamp(page.warc_date)
        if self.since and ts < self.since.ljust(14, "0"):
            return False
        if self.until and ts > self.until.ljust(14, "9"):
            return False
        return not self.sources or page.source in self.sources


def dedup_payload(record, body: bytes) -> dict | None:
    """The payload of a dedup metadata record (either form), or None for any other record."""
    from crawler.dedup.payload import BadPayload, load_payload

    if not is_metadata(record, _JSON):
        return None
    try:
        return load_payload(body)
    except BadPayload:  # not JSON, or a schema this version does not read: not a page here
        return None


def export_wacz(archive: Archive, out: str | os.PathLike[str], *, selection: Selection = Selection(),
                text: bool = False, title: str | None = None) -> ExportReport:
    """Write ``out`` (a .wacz) from ``archive``; replace it only once the package is complete."""
    out = Path(out)
    names = sorted(archive.warc_names())
    if not names:
        raise ExportError(f"no WARC files in {archive.storage.uri}")
    out.parent.mkdir(parents=True, exist_ok=True)
    report = ExportReport()
    with tempfile.TemporaryDirectory(prefix=".wacz-", dir=out.parent) as tmp_name:
        tmp = Path(tmp_name)
        pages_path = tmp / "pages.jsonl"
        captures: dict[str, _Capture] = {}
        chosen: set[str] = set()
        with open(pages_path, "w", encoding="utf-8") as pages:
            header = {"format": "json-pages-1.0", "id": "pages", "title": "Archived articles"}
            if text:
                header["hasText"] = True
            pages.write(json.dumps(header) + "\n")
            warcs = []
            for name in names:  # in name order, which is time order: a response before its metadata
                for page in _scan(_local_copy(archive, name, tmp / "in"), name, captures, warcs):
                    if selection.wants(page):
                        pages.write(page.json_line(text))
                        chosen.add(page.response_id)
                        report.pages += 1
        keep = None if selection.everything else _closure(chosen, warcs, captures)
        inputs: list[Path] = []
        for warc in warcs:
            path, count, rewritten = _write_selected(warc, keep, tmp / "out")
            if path is not None:
                inputs.append(path)
                report.records += count
                report.rewritten += rewritten
        if not inputs:
            raise ExportError("nothing to export: no article captured in that span and source")
        partial = tmp / out.name
        _run_py_wacz(inputs, pages_path, partial, title or f"newsarchive: {archive.storage.uri}")
        os.replace(partial, out)
    report.warcs = len(inputs)
    report.size = out.stat().st_size
    return report


# -- reading -------------------------------------------------------------------------------------
def _local_copy(archive: Archive, name: str, folder: Path) -> Path:
    """A local path to read the WARC from: its own file for a local archive, else a streamed copy."""
    local = archive.storage.local_path(WARCS + name)
    if local is not None:
        return Path(local)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(name).name
    with archive.storage.open_stream(WARCS + name) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    return path


def _scan(path: Path, name: str, captures: dict[str, _Capture], warcs: list[_Warc]) -> Iterator[Page]:
    """Offsets, types and links of every record of one WARC (payloads are not decoded), and the
    article pages its dedup metadata records describe."""
    warc = _Warc(Path(name).name, path)
    warcs.append(warc)
    with open(path, "rb") as f:
        try:
            yield from _scan_records(ArchiveIterator(f, check_digests=False), warc, captures)
        except PARSE_ERRORS as e:
            end = warc.records[-1].offset + warc.records[-1].length if warc.records else 0
            raise UnreadableWarc.at(name, end, e) from e


def _scan_records(it: ArchiveIterator, warc: _Warc, captures: dict[str, _Capture]) -> Iterator[Page]:
    """Each record's place and links into ``warc`` and ``captures``; the pages it describes."""
    for record in it:
        h = record.rec_headers
        links = tuple(v for k, v in h.headers if k.lower() in ("warc-concurrent-to", "warc-refers-to"))
        payload = dedup_payload(record, record.raw_stream.read()) if record.rec_type == "metadata" else None
        it.read_to_end(record)
        rid = h.get_header("WARC-Record-ID") or ""
        legacy = payload is not None and not (h.get_header("WARC-Target-URI") or "").startswith(METADATA_URI_PREFIX)
        warc.records.append(_Record(it.get_record_offset(), it.get_record_length(), record.rec_type, rid,
                                    links, legacy))
        if record.rec_type in ("response", "revisit"):
            captures[rid] = _Capture(h.get_header("WARC-Target-URI") or "", h.get_header("WARC-Date") or "",
                                     record.rec_type, links)
        if payload is not None:
            page = _page(payload, captures)
            if page is not None:
                yield page


def _page(payload: dict, captures: dict[str, _Capture]) -> Page | None:
    response_id = str(payload.get("warc_record_id") or "")
    capture = captures.get(response_id)
    if capture is None:
        logger.warning("export: no capture %(id)s for the article %(url)s",
                       {"id": response_id, "url": payload.get("url")})
        return None
    extraction = payload.get("extraction") or {}
    text = extraction.get("text")
    return Page(url=capture.url, warc_date=capture.warc_date, title=str(extraction.get("title") or ""),
                source=str(payload.get("source") or ""), response_id=response_id,
                text=text if isinstance(text, str) else None)


def _closure(response_ids: set[str], warcs: list[_Warc], captures: dict[str, _Capture]) -> set[str]:
    """The ids to export for these captures: each with its request, its metadata and, for a
    revisit, the capture it refers to (and that one's request)."""
    keep = set(response_ids)
    for rid in list(keep):
        capture = captures.get(rid)
        if capture is not None and capture.rec_type == "revisit":
            keep.update(link for link in capture.links if link in captures)
    for rid in list(keep):
        keep.update(captures[rid].links if rid in captures else ())  # requests they name
    for warc in warcs:
        for rec in warc.records:
            if rec.rec_type in ("request", "metadata") and any(link in keep for link in rec.links):
                keep.add(rec.record_id)  # metadata about them; an older file's request naming its response
    return keep


# -- writing -------------------------------------------------------------------------------------
def _write_selected(warc: _Warc, keep: set[str] | None, folder: Path) -> tuple[Path | None, int, int]:
    """The WARC to package: the file itself when it goes in whole and unchanged, else a copy of
    its selected records (gzip members copied byte for byte, old-form metadata rewritten)."""
    chosen = [r for r in warc.records if keep is None or r.record_id in keep]
    if not any(r.rec_type != "warcinfo" for r in chosen):
        return None, 0, 0
    if keep is not None:  # a file's warcinfo describes every record of it that goes in
        chosen = [r for r in warc.records if r.rec_type == "warcinfo" or r.record_id in keep]
    rewrite = [r for r in chosen if r.legacy]
    if keep is None and not rewrite:
        return warc.path, len(chosen), 0
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / warc.name
    with open(warc.path, "rb") as src, open(path, "wb") as dst:
        for rec in chosen:
            if rec.legacy:
                dst.write(_current_form(src, rec))
            else:
                _copy_range(src, dst, rec.offset, rec.length)
    return path, len(chosen), len(rewrite)


def _copy_range(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
    src.seek(offset)
    while length > 0:
        chunk = src.read(min(_CHUNK, length))
        if not chunk:
            raise ExportError(f"{getattr(src, 'name', 'WARC')} ends inside a record at {offset}")
        dst.write(chunk)
        length -= len(chunk)


def _current_form(src: BinaryIO, rec: _Record) -> bytes:
    """An old-form dedup metadata record, serialised under its urn: target (same id, date and
    payload bytes), as one gzip member."""
    src.seek(rec.offset)
    record = next(iter(ArchiveIterator(io.BytesIO(src.read(rec.length)), check_digests=False)))
    h = record.rec_headers
    body = record.raw_stream.read()
    payload = dedup_payload(record, body) or {}
    refers_to = payload.get("warc_record_id") or h.get_header("WARC-Concurrent-To") or ""
    date = datetime.fromisoformat((h.get_header("WARC-Date") or "").replace("Z", "+00:00"))
    new = metadata_record(str(payload.get("url") or ""), refers_to, body, h.get_header("Content-Type") or _JSON,
                          date, record_id=h.get_header("WARC-Record-ID"))
    z = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return b"".join(z.compress(part) for part in new.serialize()) + z.flush()


def _run_py_wacz(inputs: Iterable[Path], pages: Path, out: Path, title: str) -> None:
    """py-wacz's `create`, in this process, with our pages copied as they are (`--copy-pages`)."""
    try:
        from wacz.main import create_wacz
    except ImportError as e:  # pragma: no cover - a dependency
        raise ExportError("the wacz package is not installed: pip install wacz") from e
    options = argparse.Namespace(
        inputs=[str(p) for p in inputs], output=str(out), pages=str(pages), copy_pages=True,
        extra_pages=None, text=False, detect_pages=False, hash_type="sha256", log_directory=None,
        split_seeds=False, ts=None, url=None, date=None, title=title, desc=None,
        signing_url=None, signing_token=None, file=False,
    )
    chatter = io.StringIO()  # py-wacz prints its progress; keep it for the debug log
    try:
        with contextlib.redirect_stdout(chatter):
            code = create_wacz(options)
    except Exception as e:
        raise ExportError(f"py-wacz could not build the package: {e}") from e
    finally:
        for line in chatter.getvalue().splitlines():
            logger.debug("py-wacz: %(line)s", {"line": line})
    if code:
        raise ExportError(f"py-wacz could not build the package: {chatter.getvalue().strip()[-200:]}")


def parse_span(value: str, what: str) -> str:
    """A --since/--until value (``2026-11-30``, ``20261130120000``) as a 1-14 digit prefix."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits or len(digits) > 14 or len(digits) < 4:
        raise ConfigError(f"{what} wants a date or time like 2026-11-30 or 20261130120000, got {value!r}")
    return digits


def iter_page_lines(path: Path) -> Iterator[dict]:  # for tests and tools: the pages a WACZ lists
    import zipfile

    with zipfile.ZipFile(path) as z, z.open("pages/pages.jsonl") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
