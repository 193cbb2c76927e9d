"""Archive.iter_metadata: the blocks of the metadata records of one content type, in archive order."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.archive.archive import Archive
from crawler.archive.warcscan import UnreadableWarc
from tests.test_rebuild import write_warc


def test_iter_metadata_yields_matching_blocks_in_archive_order(tmp_path: Path) -> None:
    warcs = tmp_path / "archive" / "warcs"
    warcs.mkdir(parents=True)
    write_warc(warcs / "a-00000.warc.gz", [("http://a.example/1", b'{"n": 1}', "application/json"),
                                          ("http://a.example/2", b"k: v\r\n", "application/warc-fields"),
                                          ("http://a.example/3", b'{"n": 2}', "application/json; charset=utf-8")])
    write_warc(warcs / "a-00001.warc.gz", [("http://a.example/4", b'{"n": 3}', "application/json")])
    (warcs / "notes.txt").write_text("not a WARC")
    archive = Archive.open(tmp_path / "archive")
    assert list(archive.iter_metadata()) == [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}']
    assert list(archive.iter_metadata("application/warc-fields")) == [b"k: v\r\n"]


def test_iter_metadata_of_an_empty_archive(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    assert list(Archive.open(tmp_path / "archive").iter_metadata()) == []


def test_iter_metadata_names_a_damaged_warc(tmp_path: Path) -> None:
    warcs = tmp_path / "archive" / "warcs"
    warcs.mkdir(parents=True)
    write_warc(warcs / "a-00000.warc.gz", [("http://a.example/1", b'{"n": 1}', "application/json")])
    good = (warcs / "a-00000.warc.gz").read_bytes()
    (warcs / "a-00001.warc.gz").write_bytes(good + b"\x1f\x8b\x08\x00garbage, not a gzip member")
    blocks = Archive.open(tmp_path / "archive").iter_metadata()
    assert next(blocks) == b'{"n": 1}'
    assert next(blocks) == b'{"n": 1}'  # the second file's intact records still come first
    with pytest.raises(UnreadableWarc, match=r"a-00001\.warc\.gz at offset \d+: not a readable WARC record"):
        next(blocks)
