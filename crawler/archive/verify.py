"""`newsarchive verify`: every WARC and every index entry checked, both directions.

Per WARC: gzip members complete, each record's block and payload digests, every response or
revisit paired with a request and every request with a response (WARC-Concurrent-To, in either
direction: in older archives only the request names its response), no bytes after
the last record. Per index: the sidecar and the catalog hold exactly the entries the WARC
yields, and nothing points at a file that is not in storage. Each problem names the file and
the offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from warcio.archiveiterator import ArchiveIterator

from crawler.archive.archive import INDEXES, WARCS, Archive, index_name
from crawler.archive.cdxj import CaptureEntry, entry_for, is_legacy_metadata
from crawler.archive.warcscan import PARSE_ERRORS, block_digest_if_needed

_CHUNK = 1 << 20


@dataclass
class Problem:
    filename: str
    offset: int | None
    message: str

    def __str__(self) -> str:
        where = self.filename if self.offset is None else f"{self.filename}:{self.offset}"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    files: int = 0
    records: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _drain(stream) -> None:
    while stream.read(_CHUNK):
        pass


def check_warc(archive: Archive, name: str, report: VerifyReport,
               old_metadata: set[int] | None = None) -> tuple[list[CaptureEntry], int | None]:
    """Check one WARC's records; return the index entries it yields and where it became unreadable.
    ``old_metadata`` collects the offsets of old-form dedup metadata records (not indexed now)."""
    entries: list[CaptureEntry] = []
    pairs = _Pairing()
    end = 0
    try:
        with archive.storage.open_stream(WARCS + name) as stream:
            it = ArchiveIterator(stream, check_digests=True)
            for record in it:
                # The stored bytes are what is checked: digests cover them as they are, so no
                # Content-Encoding (brotli, a gzip bomb) is ever decoded here.
                digest = block_digest_if_needed(record)
                _drain(record.raw_stream)
                it.read_to_end(record)
                offset, length = it.get_record_offset(), it.get_record_length()
                end = offset + length
                report.records += 1
                checker = record.digest_checker
                if checker.passed is False:
                    for problem in checker.problems:
                        report.problems.append(Problem(name, offset, f"digest: {problem}"))
                pairs.add(record, offset)
                if old_metadata is not None and record.rec_type == "metadata" and is_legacy_metadata(
                        record.rec_headers.get_header("Content-Type"), record.rec_headers.get_header("WARC-Target-URI")):
                    old_metadata.add(offset)
                entry = entry_for(record, offset, length, name, digest)
                if entry is not None:
                    entries.append(entry)
    except (*PARSE_ERRORS, OSError) as e:
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        report.problems.append(Problem(name, end, f"unreadable from this offset on: {first_line[:80]!r}"))
        return entries, end
    size = archive.storage.size(WARCS + name)
    if end and size > end:  # (an unreadable tail returned above)
        report.problems.append(Problem(name, end, f"{size - end} bytes after the last complete record"))
    report.problems.extend(pairs.problems(name))
    return entries, None


class _Pairing:
    """Requests and responses of one WARC, and the WARC-Concurrent-To links between them."""

    def __init__(self) -> None:
        self.responses: dict[str, tuple[int, list[str]]] = {}  # id -> (offset, ids it names)
        self.requests: dict[str, tuple[int, list[str]]] = {}

    def add(self, record, offset: int) -> None:
        if record.rec_type not in ("response", "revisit", "request"):
            return
        rid = record.rec_headers.get_header("WARC-Record-ID") or ""
        named = [v for k, v in record.rec_headers.headers if k.lower() == "warc-concurrent-to"]
        side = self.requests if record.rec_type == "request" else self.responses
        side[rid] = (offset, named)

    def problems(self, name: str) -> Iterator[Problem]:
        answered = {rid for rid, (_, named) in self.requests.items() for rid in named}
        asked = {qid for _, named in self.responses.values() for qid in named}
        for rid, (offset, named) in self.responses.items():
            if rid not in answered and not any(q in self.requests for q in named):
                yield Problem(name, offset, f"record {rid} has no request record")
        last = max((offset for offset, _ in [*self.requests.values(), *self.responses.values()]), default=-1)
        for qid, (offset, named) in self.requests.items():
            # The writer writes the request first: a crash between the two leaves the file's
            # last record a request without its response, and nothing is lost.
            if qid not in asked and not any(r in self.responses for r in named) and offset != last:
                yield Problem(name, offset, f"request {qid} has no response record")


_OLD_METADATA = ("index entry of a dedup metadata record in the old form (under the article's URL), which replay "
                 "shows as the article: run `newsarchive index rebuild`")


def _cdxj_lines(archive: Archive, name: str) -> list[str] | None:
    key = index_name(name)
    if not archive.storage.exists(key):
        return None
    with archive.storage.open_stream(key) as f:
        return [line.decode("utf-8").rstrip("\n") for line in f if line.strip()]


def verify(archive: Archive) -> VerifyReport:
    report = VerifyReport()
    names = archive.warc_names()
    catalog_by_file: dict[str, set[tuple]] = {}
    for e in archive.catalog.iter_all():
        catalog_by_file.setdefault(e.filename, set()).add((e.offset, e.length, e.url, e.digest, e.timestamp))
    for name in names:
        report.files += 1
        old_metadata: set[int] = set()
        entries, broken_at = check_warc(archive, name, report, old_metadata)
        report.entries += len(entries)
        expected = sorted(e.cdxj_line() for e in entries)
        sidecar = _cdxj_lines(archive, name)
        have = catalog_by_file.pop(name, set())
        missing_sidecar = sidecar is None
        if broken_at is not None:
            # Past the damage nothing can be compared; say so once instead of once per entry.
            beyond = [line for line in sidecar or [] if (_offset_of(line) or 0) >= broken_at]
            if beyond:
                report.problems.append(Problem(name, broken_at, f"{len(beyond)} index entries point into the damage"))
            sidecar = [line for line in sidecar or [] if (_offset_of(line) or 0) < broken_at]
            have = {row for row in have if row[0] < broken_at}
        if missing_sidecar:
            report.problems.append(Problem(name, None, f"index {index_name(name)} is missing"))
        else:
            sidecar = sidecar or []
            for line in sorted(set(expected) - set(sidecar)):
                report.problems.append(Problem(name, _offset_of(line), "record not in the CDXJ index"))
            for line in sorted(set(sidecar) - set(expected)):
                offset = _offset_of(line)
                report.problems.append(Problem(name, offset, _OLD_METADATA if offset in old_metadata
                                               else "CDXJ entry points at no record"))
            if sidecar != sorted(sidecar):
                report.problems.append(Problem(index_name(name), None, "CDXJ index is not sorted"))
            if len(sidecar) != len(set(sidecar)):
                report.problems.append(Problem(index_name(name), None, "CDXJ index has duplicate lines"))
        wanted = {(e.offset, e.length, e.url, e.digest, e.timestamp) for e in entries}
        for row in sorted(wanted - have):
            report.problems.append(Problem(name, row[0], "record not in the catalog"))
        for row in sorted(have - wanted):
            report.problems.append(Problem(name, row[0], _OLD_METADATA if row[0] in old_metadata
                                           else "catalog entry points at no record"))
    for name in sorted(catalog_by_file):
        report.problems.append(Problem(name, None, "catalog lists a WARC that is not in storage"))
    known = {index_name(n) for n in names}
    for key in archive.storage.list(INDEXES):
        if key.endswith(".cdxj") and key not in known:
            report.problems.append(Problem(key, None, "index of a WARC that is not in storage"))
    return report


def _offset_of(line: str) -> int | None:
    try:
        import json

        return int(json.loads(line.split(" ", 2)[2])["offset"])
    except (ValueError, KeyError, IndexError):
        return None
