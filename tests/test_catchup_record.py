"""crawler/catchup_record.py: a pool worker's whole analysis, without Scrapy or the archive package loaded."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive import retrieve, warcscan
from crawler.catchup_record import PARSE_ERRORS, RecordTask, analyse_record
from crawler.dedup.analysis import analyse_page

ROOT = Path(__file__).resolve().parent.parent
URL = "http://127.0.0.1:8000/zh/2026/01/7.html"
ZH = ("<html><head><title>新闻标题</title></head><body><nav>首页 国际 财经</nav><article><h1>新闻标题</h1>"
      + "".join(f"<p>第{i}段：记者报道，当地政府宣布了新的交通计划，预计明年完成建设，居民表示欢迎。</p>" for i in range(12))
      + "</article></body></html>")


def record(payload: bytes, headers: list[tuple[str, str]]) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(URL, "response", payload=io.BytesIO(payload), http_headers=http))
    return out.getvalue()


def task(raw: bytes, fallbacks: tuple[str, ...] = ("gb18030",)) -> RecordTask:
    return RecordTask(raw, "a.warc.gz", 1234, URL, "site", "zh", fallbacks, 1 << 20)


def test_a_gzipped_gbk_page_without_charset_is_analysed_as_the_crawl_does() -> None:
    raw = record(gzip.compress(ZH.encode("gbk")), [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    result = analyse_record(task(raw))
    assert result.status == "ok"
    article, signals = analyse_page(ZH, URL, lang="zh", source="site", fetched_at=result.fetched_at,
                                    warc_record_id=result.record_id)
    assert result.article == article and result.signals == signals
    assert json.loads(result.block)["extraction"]["text"] == article.text
    assert json.loads(result.block)["status"] == 200


def test_damage_and_undecodable_bodies_are_outcomes_not_errors() -> None:
    raw = record(gzip.compress(ZH.encode()), [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    damaged = raw[:40] + b"\x00" * 40 + raw[80:]
    result = analyse_record(task(damaged))
    assert result.status == "unreadable"
    try:  # the message the archive's own reader gives
        retrieve.parse_record(damaged, "a.warc.gz", 1234)
    except warcscan.UnreadableWarc as e:
        assert result.message == str(e)
    else:
        raise AssertionError("the archive's reader parsed a damaged record")
    assert analyse_record(task(b"")).status == "unreadable"
    bad_gzip = record(b"\x1f\x8b not gzip", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    assert analyse_record(task(bad_gzip)).status == "undecodable"
    assert analyse_record(task(record(b"{}", [("Content-Type", "application/json")]))).status == "not_html"
    assert analyse_record(task(record(b"<html><body></body></html>", [("Content-Type", "text/html")]))).status == "no_text"


def test_the_parse_errors_are_the_archive_readers() -> None:
    assert PARSE_ERRORS == warcscan.PARSE_ERRORS


def test_a_worker_loads_neither_scrapy_nor_the_archive_nor_the_detector() -> None:
    """What keeps a pool worker small (crawler/catchup_pool.py imports this module and nothing else)."""
    code = ("import sys; from crawler.catchup_pool import serve; import crawler.catchup_record; "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())
    assert not {m for m in loaded if m.split(".")[0] in ("scrapy", "twisted", "surt", "tldextract", "requests")}
    assert not {"crawler.archive.archive", "crawler.archive.catalog", "crawler.dedup.detector",
                "crawler.dedup.store", "crawler.catchup"} & loaded


def test_words_of_an_answer_from_a_worker_become_shared_and_stay_equal() -> None:
    """A pool answer is unpickled with its own copy of every word; the catch-up's process shares them
    (crawler.catchup.share_words) before the store caches the signals, values and order unchanged."""
    import pickle

    from crawler.catchup import share_words

    raw = record(ZH.encode(), [("Content-Type", "text/html; charset=utf-8")])
    first, second = (pickle.loads(pickle.dumps(analyse_record(task(raw)))) for _ in range(2))
    assert first.signals is not None and second.signals is not None
    before = first.signals.to_json()
    word = next(iter(first.signals.terms))
    assert next(w for w in second.signals.terms if w == word) is not word
    share_words(first.signals)
    share_words(second.signals)
    assert first.signals.to_json() == before and list(first.signals.terms) == list(before["terms"])
    assert type(first.signals.terms) is type(second.signals.terms)
    assert next(w for w in second.signals.terms if w == word) is next(w for w in first.signals.terms if w == word)
