"""crawler/summary.py: the one-screen summary at the end of a crawl."""

from __future__ import annotations

from crawler.summary import crawl_summary, duration, errors_by_kind

STATS = {
    "finish_reason": "finished", "elapsed_time_seconds": 125.0, "response_received_count": 250,
    "pages/articles": 160, "incremental/refetched": 10, "incremental/not_modified": 4,
    "incremental/skipped_archived": 35, "archive/responses": 230, "archive/revisits": 20, "archive/metadata": 160,
    "storage/bytes_stored": 14_000_000, "archive/files_finished": 3, "archive/files_published": 2,
    "dedup/articles": 160, "dedup/flags/translation_of": 2, "dedup/flags/near_duplicate": 3,
    "source/a/errors/http_404": 3, "source/b/errors/http_404": 1, "source/b/errors/TimeoutError": 2,
    "archive/write_errors": 1,
}


def test_duration() -> None:
    assert [duration(s) for s in (3.21, 125, 3725)] == ["3.2 s", "2m 05s", "1h 02m 05s"]


def test_errors_by_kind_adds_sources_and_the_archive() -> None:
    assert errors_by_kind(STATS) == {"http_404": 4, "TimeoutError": 2, "WARC write error": 1}


def test_summary() -> None:
    text = crawl_summary(STATS, ["  a: 100 pages", "  b: 150 pages"], archive="/srv/my archive")
    lines = text.splitlines()
    assert lines[0] == "crawl finished (finished) in 2m 05s: 250 pages (2.0/s), 160 articles, 7 errors"
    assert lines[1] == "  articles: 150 new, 10 refetched (4 not modified), 35 already archived (not fetched)"
    assert lines[2] == ("  archived: 230 responses, 20 revisits, 160 metadata records; 14.0 MB stored in 2 WARC "
                        "files (1 still in the spool)")
    assert lines[3] == "  flags: 3 near_duplicate, 2 translation_of"
    assert lines[4] == "  errors: 4 x http_404, 2 x TimeoutError, 1 x WARC write error"
    assert lines[5:7] == ["  a: 100 pages", "  b: 150 pages"]
    assert lines[7] == "archive: /srv/my archive"
    assert lines[8] == "next: newsarchive upload --archive '/srv/my archive'"
    assert "newsarchive report -o report.html --archive '/srv/my archive'" in text
    assert "--resume" not in text


def test_an_interrupted_crawl_suggests_resume_and_no_report_without_dedup() -> None:
    text = crawl_summary({"finish_reason": "shutdown"}, [], archive="s3://b/p", interrupted=True, dedup=False)
    assert text.startswith("crawl stopped (shutdown) in 0.0 s: 0 pages, 0 articles, 0 errors")
    assert "  flags: dedup off" in text and "report" not in text
    assert "next: newsarchive crawl --resume --archive s3://b/p" in text
