"""The dedup catch-up over a real local archive: what it reads, what it writes, what it survives."""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.archive.archive import Archive
from crawler.archive.records import Exchange, metadata_uri
from crawler.archive.writer import RollingWarcWriter
from crawler.catchup import Catchup, CatchupCounts, StopSignals, catch_up, dedup_enabled, follow
from crawler.cli import main
from crawler.config import load_settings
from crawler.dedup.detector import find_related
from crawler.dedup.store import ArticleStore
from crawler.errors import Interrupted
from crawler.rebuild import CatalogBusy, catalog_lock, rebuild_catalog
from crawler.sources import Source
from tests.dedup.dedup_site import EXPECTED, NEGATIVES, PAGES
from tests.seaweed import closed_port

BIN = Path(sys.executable).parent
HOST = "news.test"
BASE = f"http://{HOST}"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
SOURCE = Source(name="site", lang="en", start_urls=(BASE + "/",), allowed_domains=(HOST,),
                article_pattern=re.compile(r"/(en|zh)/[a-z0-9-]+$"))
GBK_PAGE = ("<html><head><title>勒索软件攻击港口</title></head><body><article><h1>勒索软件攻击港口</h1>"
            + "<p>日本物流企业近日遭到勒索软件攻击，港口集装箱码头的调度系统被加密，装卸作业中断近两天。</p>" * 6
            + "</article></body></html>")


def page(path: str, body: bytes, *, status: int = 200, ctype: str = "text/html; charset=utf-8",
         at: datetime = T0) -> Exchange:
    return Exchange(url=BASE + path, method="GET", request_headers=[(b"Host", HOST.encode())], request_body=b"",
                    status=status, reason="", protocol="HTTP/1.1", response_headers=[(b"Content-Type", ctype.encode())],
                    body=body, date=at)


def site_exchanges() -> list[Exchange]:
    """The dedup site as a crawl archives it, plus pages the catch-up must leave alone."""
    out = [page("/", b"<html><body>home</body></html>")]
    for i, (path, (ctype, html)) in enumerate(PAGES.items()):
        out.append(page(path, html.replace("{base}", BASE).encode(), ctype=ctype, at=T0 + timedelta(seconds=i)))
    out += [page("/en/missing", b"<html>gone</html>", status=404),  # not a 2xx
            page("/en/feed-xml", b"<?xml version='1.0'?><rss/>", ctype="application/rss+xml"),  # not HTML
            page("/about", PAGES["/en/lockbit-school"][1].encode())]  # not an article URL
    return out


def write_archive(root: Path, exchanges: list[Exchange], *, per_file: int = 4, prefix: str = "crawl") -> Archive:
    """Exchanges into WARC files of ``per_file`` exchanges, stored and indexed as a crawl does."""
    archive = Archive.open(root)
    for start in range(0, len(exchanges), per_file):
        writer = RollingWarcWriter(root / "spool", archive.publish, prefix=prefix, hostname="w1", pid=start,
                                   clock=lambda: T0)
        for ex in exchanges[start:start + per_file]:
            writer.write_exchange(ex)
        writer.close()
    return archive


def run(root: Path, sources: list[Source] = [SOURCE], **kw) -> CatchupCounts:  # noqa: B006
    archive = Archive.open(root)
    with Catchup(archive, root / "dedup.sqlite3", sources, spool_dir=root / "spool" / "catchup",
                 writer_options={"prefix": "catchup"}, fallbacks={"zh": ["gb18030"]}, **kw) as c:
        return c.run_once()


def flags(catalog: Path) -> dict[frozenset[str], str]:
    out = {}
    with ArticleStore.open_existing(catalog) as store:
        for art in store.iter_articles():
            for m in find_related(store, art.url):
                out[frozenset((art.url[len(BASE):], m.url[len(BASE):]))] = str(m.kind)
    return out


def articles(catalog: Path) -> dict[str, tuple[str | None, str | None]]:
    with ArticleStore.open_existing(catalog) as store:
        return {a.url[len(BASE):]: (a.fetched_at, a.warc_record_id) for a in store.iter_articles()}


def assert_site_flagged(found: dict[frozenset[str], str]) -> None:
    for a, b, kind in EXPECTED:
        got = found.get(frozenset((a, b)))
        assert got in ({"translation", "attributed"} if kind == "translation" else {kind}), (a, b, got, found)
    for a, b in NEGATIVES:
        assert frozenset((a, b)) not in found, (a, b)


def test_articles_archived_without_analysis_are_analysed_flagged_and_recorded(tmp_path: Path) -> None:
    archive = write_archive(tmp_path, site_exchanges())
    warcs = archive.warc_names()
    counts = run(tmp_path)
    assert counts.warcs_checked == len(warcs) and counts.articles_extracted == len(PAGES)
    assert counts.metadata_replayed == counts.skipped == counts.no_text == 0
    assert counts.flags_added == len(flags(tmp_path / "dedup.sqlite3")) > 0
    assert set(articles(tmp_path / "dedup.sqlite3")) == set(PAGES)
    assert_site_flagged(flags(tmp_path / "dedup.sqlite3"))
    # each article's capture: its response record's date and id
    response_ids = {e.url[len(BASE):]: e.record_id for e in archive.catalog.iter_all() if e.rec_type == "response"}
    assert {p: rid for p, (_at, rid) in articles(tmp_path / "dedup.sqlite3").items()} == \
        {p: response_ids[p] for p in PAGES}

    # one new WARC file, stored and indexed like any other, holding one record per article
    new = sorted(set(Archive.open(tmp_path).warc_names()) - set(warcs))
    assert len(new) == 1 and new[0].startswith("catchup-")
    payloads = [json.loads(b) for b in Archive.open(tmp_path).iter_metadata(names=new)]
    assert sorted(p["url"] for p in payloads) == sorted(BASE + p for p in PAGES)
    assert (tmp_path / "indexes" / new[0].replace(".warc.gz", ".cdxj")).is_file()
    assert not list((tmp_path / "spool" / "catchup").iterdir())

    # nothing left: a second pass reads nothing and changes nothing
    before = flags(tmp_path / "dedup.sqlite3")
    assert run(tmp_path) == CatchupCounts()
    assert flags(tmp_path / "dedup.sqlite3") == before
    assert set(Archive.open(tmp_path).warc_names()) == set(warcs + new)

    # and the records written are what a rebuild needs: the same flags from the WARCs alone
    rebuilt = rebuild_catalog(Archive.open(tmp_path), tmp_path / "rebuilt.sqlite3")
    assert rebuilt["articles"] == len(PAGES)
    assert flags(tmp_path / "rebuilt.sqlite3") == before


def test_the_written_warc_reads_in_warcio_and_cdxj_indexer_as_its_sidecar_says(tmp_path: Path) -> None:
    archive = write_archive(tmp_path, site_exchanges())
    old = set(archive.warc_names())
    run(tmp_path)
    (new,) = set(Archive.open(tmp_path).warc_names()) - old
    path = tmp_path / "warcs" / new
    check = subprocess.run([str(BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    indexer = subprocess.run([str(BIN / "cdxj-indexer"), str(path)], capture_output=True, text=True, check=True)
    sidecar = (tmp_path / "indexes" / new.replace(".warc.gz", ".cdxj")).read_text().splitlines()
    assert sorted(indexer.stdout.splitlines()) == sorted(sidecar) and len(sidecar) == len(PAGES)


def test_streamed_and_ranged_reads_give_the_same_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_archive(tmp_path / "ranged", site_exchanges())
    write_archive(tmp_path / "streamed", site_exchanges())
    run(tmp_path / "ranged")
    monkeypatch.setattr("crawler.catchup.RANGED_READS_MAX", 0)
    run(tmp_path / "streamed")
    assert flags(tmp_path / "ranged" / "dedup.sqlite3") == flags(tmp_path / "streamed" / "dedup.sqlite3")
    dates = [{p: at for p, (at, _id) in articles(tmp_path / name / "dedup.sqlite3").items()}
             for name in ("ranged", "streamed")]
    assert dates[0] == dates[1] and len(dates[0]) == len(PAGES)


def test_records_of_other_runs_are_replayed_and_their_articles_not_analysed_again(tmp_path: Path) -> None:
    """Worker 1 analysed its articles; a catalog that never saw them replays their records."""
    write_archive(tmp_path, site_exchanges())
    run(tmp_path)  # writes the records
    reference = flags(tmp_path / "dedup.sqlite3")
    for leftover in tmp_path.glob("dedup.sqlite3*"):
        leftover.unlink()
    counts = run(tmp_path)
    assert counts.metadata_replayed == len(PAGES) and counts.articles_extracted == 0
    assert flags(tmp_path / "dedup.sqlite3") == reference


def test_a_record_of_an_older_capture_never_replaces_the_newer_one(tmp_path: Path) -> None:
    path = "/en/lockbit-hospital"
    old = page(path, PAGES[path][1].encode(), at=T0)
    new = page(path, PAGES[path][1].replace("37 scheduled", "38 scheduled").encode(), at=T0 + timedelta(days=3))
    write_archive(tmp_path / "one", [old])
    run(tmp_path / "one")  # the old capture's record, in its own catch-up WARC
    archive = write_archive(tmp_path / "two", [new])
    run(tmp_path / "two")
    # an archive holding both, the older capture's record stored last (another worker's, late)
    for name in Archive.open(tmp_path / "one").warc_names():
        archive.storage.put_file(tmp_path / "one" / "warcs" / name, "warcs/" + name.replace("catchup", "zz-late"))
    counts = run(tmp_path / "two")
    assert counts.metadata_replayed == 0 and counts.warcs_checked == 1
    newer = new.date.isoformat().replace("+00:00", "Z")
    assert articles(tmp_path / "two" / "dedup.sqlite3")[path][0] == newer
    # a rebuild reads every record, the late one last, and keeps the newer capture too
    rebuild_catalog(Archive.open(tmp_path / "two"), tmp_path / "rebuilt.sqlite3")
    assert articles(tmp_path / "rebuilt.sqlite3")[path][0] == newer


def test_two_unanalysed_captures_of_one_url_in_one_pass_are_both_analysed(tmp_path: Path) -> None:
    """The record written for the older capture (dated as that capture, as Heritrix dates a
    capture's metadata) does not make the newer capture, in a later WARC, look analysed."""
    path = "/en/lockbit-hospital"
    old = page(path, PAGES[path][1].encode(), at=T0)
    new = page(path, PAGES[path][1].replace("37 scheduled", "38 scheduled").encode(), at=T0 + timedelta(days=3))
    archive = write_archive(tmp_path, [old, new], per_file=1)
    counts = run(tmp_path)
    assert counts.articles_extracted == 2 and counts.warcs_checked == 2, counts
    newer = new.date.isoformat().replace("+00:00", "Z")
    assert articles(tmp_path / "dedup.sqlite3")[path][0] == newer
    records = archive.catalog.captures(metadata_uri(BASE + path), ("metadata",))
    assert sorted(m.timestamp[:14] for m in records) == [f"{old.date:%Y%m%d%H%M%S}", f"{new.date:%Y%m%d%H%M%S}"]
    rebuild_catalog(Archive.open(tmp_path), tmp_path / "rebuilt.sqlite3")
    assert articles(tmp_path / "rebuilt.sqlite3")[path][0] == newer


def test_pages_without_a_declared_charset_are_decoded_as_the_crawl_decodes_them(tmp_path: Path) -> None:
    zh = Source(name="zh", lang="zh", start_urls=(BASE + "/",), allowed_domains=(HOST,),
                article_pattern=re.compile(r"/gbk/\d+$"))
    write_archive(tmp_path, [page("/gbk/1", GBK_PAGE.encode("gbk"), ctype="text/html")])
    assert run(tmp_path, [zh]).articles_extracted == 1
    with ArticleStore.open_existing(tmp_path / "dedup.sqlite3") as store:
        art = store.by_url(BASE + "/gbk/1")
        assert art is not None and art.title == "勒索软件攻击港口" and art.lang == "zh"


def test_gzip_encoded_pages_are_decoded(tmp_path: Path) -> None:
    path = "/en/lockbit-school"
    ex = page(path, gzip.compress(PAGES[path][1].encode()))
    ex.response_headers.append((b"Content-Encoding", b"gzip"))
    write_archive(tmp_path, [ex])
    assert run(tmp_path).articles_extracted == 1
    assert "/en/lockbit-school" in articles(tmp_path / "dedup.sqlite3")


def test_unreadable_warcs_and_records_are_counted_skips_and_the_rest_is_caught_up(tmp_path: Path) -> None:
    archive = write_archive(tmp_path, site_exchanges(), per_file=3)
    names = archive.warc_names()
    # a file that is no WARC at all, without a sidecar (dropped into warcs/ by hand, or torn)
    (tmp_path / "warcs" / "broken-00001.warc.gz").write_bytes(b"\x1f\x8b\x08\x00garbage" * 50)
    # and a WARC whose index is fine but one record's bytes are damaged
    # (an article's response: names sort by time, then pid as text, so which file holds which
    # pages is not fixed, and a damaged listing page would never be read)
    damaged_warc, damaged = next((name, e) for name in names for e in archive.catalog.entries_of(name)
                                 if e.rec_type == "response" and e.url[len(BASE):] in PAGES)
    raw = bytearray((tmp_path / "warcs" / damaged_warc).read_bytes())
    # every byte of it: with only its first 60 bytes overwritten, warcio still reads some records
    # (one in seven here) as an empty response, and which article is damaged varies
    raw[damaged.offset: damaged.offset + damaged.length] = b"\xff" * damaged.length
    (tmp_path / "warcs" / damaged_warc).write_bytes(bytes(raw))
    counts = run(tmp_path)
    assert counts.skipped == 2, counts
    lost = {damaged.url[len(BASE):]}
    assert set(articles(tmp_path / "dedup.sqlite3")) == set(PAGES) - lost
    assert counts.articles_extracted == len(PAGES) - len(lost)
    # both are checked: the next pass does not read them again
    assert run(tmp_path) == CatchupCounts()
    with ArticleStore.open_existing(tmp_path / "dedup.sqlite3") as store:
        outcomes = dict(store.conn.execute("SELECT name, outcome FROM checked_warcs"))
    assert outcomes["broken-00001.warc.gz"] == "unreadable" and outcomes[damaged_warc] == "damaged"


def test_a_streamed_warc_parses_only_the_records_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read once, records skipped as bytes: a damaged record the catch-up does not need (a listing
    page) costs nothing and hides none of the articles after it in the file."""
    monkeypatch.setattr("crawler.catchup.RANGED_READS_MAX", 0)  # the whole file, as for a crawl's big WARC
    archive = write_archive(tmp_path, site_exchanges(), per_file=len(site_exchanges()))
    (name,) = archive.warc_names()
    entries = archive.catalog.entries_of(name)
    first_article = min(e.offset for e in entries if e.rec_type == "response" and e.url[len(BASE):] in PAGES)
    skipped = next(e for e in entries if e.offset < first_article)
    raw = bytearray((tmp_path / "warcs" / name).read_bytes())
    raw[skipped.offset: skipped.offset + 60] = b"\xff" * 60
    (tmp_path / "warcs" / name).write_bytes(bytes(raw))
    counts = run(tmp_path)
    assert counts.skipped == 0 and counts.articles_extracted == len(PAGES), counts
    assert set(articles(tmp_path / "dedup.sqlite3")) == set(PAGES)


def test_a_pass_that_fails_half_way_leaves_nothing_half_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after some articles were added and their records spooled: the catalog rolls back,
    the spooled records are stored at the next pass and replayed, the rest analysed: the end state
    is the uninterrupted one."""
    write_archive(tmp_path / "ref", site_exchanges())
    run(tmp_path / "ref")
    write_archive(tmp_path / "a", site_exchanges())
    import crawler.catchup_record as catchup  # where the analysis runs (a pool worker imports only it)

    calls = {"n": 0}
    real = catchup.analyse_page

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(catchup, "analyse_page", failing)
    with pytest.raises(OSError):
        run(tmp_path / "a")
    assert list((tmp_path / "a" / "spool" / "catchup").glob("*.open"))
    with ArticleStore(tmp_path / "a" / "dedup.sqlite3") as store:
        assert store.count() == 0 and not store.checked_warcs()
    counts = run(tmp_path / "a")
    assert counts.metadata_replayed == 4 and counts.articles_extracted == len(PAGES) - 4
    assert flags(tmp_path / "a" / "dedup.sqlite3") == flags(tmp_path / "ref" / "dedup.sqlite3")
    assert run(tmp_path / "a") == CatchupCounts()


def test_a_stop_finishes_the_record_in_hand_stores_what_it_wrote_and_the_next_pass_continues(tmp_path: Path) -> None:
    write_archive(tmp_path, site_exchanges(), per_file=3)
    seen = {"n": 0}

    def stop_after_two_checks() -> bool:
        seen["n"] += 1
        return seen["n"] > 4

    first = run(tmp_path, stop=stop_after_two_checks)
    assert 0 < first.articles_extracted < len(PAGES)
    assert not list((tmp_path / "spool" / "catchup").glob("*"))  # what it wrote is stored
    second = run(tmp_path)
    assert first.articles_extracted + second.articles_extracted == len(PAGES)
    assert_site_flagged(flags(tmp_path / "dedup.sqlite3"))


def test_one_catch_up_per_catalog(tmp_path: Path) -> None:
    write_archive(tmp_path, site_exchanges())
    settings = load_settings(archive=str(tmp_path))
    with catalog_lock(tmp_path / "dedup.sqlite3"):
        with pytest.raises(CatalogBusy, match="in use by another"):
            catch_up(settings, Archive.open(tmp_path))
        with pytest.raises(CatalogBusy):
            rebuild_catalog(Archive.open(tmp_path), tmp_path / "dedup.sqlite3")


def test_follow_catches_up_each_pass_until_stopped(tmp_path: Path) -> None:
    archive = write_archive(tmp_path, site_exchanges()[:4])
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "site"\nlang = "en"\nstart_urls = ["{BASE}/"]\n'
                       f'allowed_domains = ["{HOST}"]\narticle_pattern = \'/(en|zh)/[a-z0-9-]+$\'\n')
    settings = load_settings(archive=str(tmp_path), sources=str(sources))
    passes: list[CatchupCounts] = []

    def report(counts: CatchupCounts) -> None:
        passes.append(counts)
        if len(passes) == 1:  # a worker stores more while the follower runs
            write_archive(tmp_path, site_exchanges()[4:], prefix="crawl2")

    total = follow(settings, archive, interval=0.01, stop=lambda: len(passes) >= 3, report=report)
    assert [p.articles_extracted for p in passes] == [3, len(PAGES) - 3, 0]
    assert total.articles_extracted == len(PAGES)
    assert_site_flagged(flags(tmp_path / "dedup.sqlite3"))


def test_stop_signals_first_asks_second_interrupts() -> None:
    with StopSignals() as stop:
        assert not stop()
        signal.raise_signal(signal.SIGTERM)
        assert stop() and stop.name == "SIGTERM"
        with pytest.raises(Interrupted, match="interrupted by SIGINT"):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is not stop._on_signal


def test_a_crawl_catches_up_only_when_it_analyses_articles() -> None:
    assert dedup_enabled(load_settings())
    assert not dedup_enabled(load_settings(overrides=["DEDUP_ENABLED=false"]))
    assert not dedup_enabled(load_settings(overrides=["ITEM_PIPELINES={}"]))
    assert not dedup_enabled(load_settings(overrides=["NEWSARCHIVE_ARTICLE_ITEMS=false"]))


@pytest.mark.parametrize("trouble, code, says", [
    (lambda tmp: ["--archive", str(tmp / "no-such-archive")], 1, "no archive at"),
    (lambda tmp: ["--archive", "s3://bucket/prefix", "-s", f"AWS_ENDPOINT_URL=http://127.0.0.1:{closed_port()}",
                  "-s", "AWS_ACCESS_KEY_ID=key", "-s", "AWS_SECRET_ACCESS_KEY=secret"], 2, "cannot connect"),
    (lambda tmp: ["--archive", str(write_archive(tmp / "a", site_exchanges()[:2]).storage.uri), "--interval", "0"],
     2, "--interval 0: expected a number of seconds above 0"),
], ids=["missing archive", "unreachable S3", "bad interval"])
def test_update_and_follow_fail_in_one_line_and_create_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               trouble, code: int, says: str) -> None:
    def files() -> set[Path]:  # SQLite's -wal and -shm come and go with the connections
        return {p for p in tmp_path.rglob("*") if not p.name.endswith(("-wal", "-shm"))}

    argv = trouble(tmp_path)
    before = files()
    command = ["dedup", "follow"] if "--interval" in argv else ["dedup", "update"]
    assert main([*command, *argv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("newsarchive: ") and says in err[0], err
    assert files() == before


def test_a_crawl_end_waits_for_another_catch_up_of_its_catalog(tmp_path: Path) -> None:
    import threading
    import time

    write_archive(tmp_path, site_exchanges()[:3])
    settings = load_settings(archive=str(tmp_path))
    released = threading.Event()

    def hold() -> None:
        with catalog_lock(tmp_path / "dedup.sqlite3"):
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    threading.Timer(0.5, released.set).start()
    started = time.monotonic()
    counts = catch_up(settings, Archive.open(tmp_path), wait=10)
    holder.join()
    assert 0.2 < time.monotonic() - started < 5 and counts.warcs_checked == 1


def test_follow_survives_a_failed_pass_and_its_catalog_ends_as_an_uninterrupted_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.archive.storage import StorageError

    write_archive(tmp_path / "ref", site_exchanges())
    run(tmp_path / "ref")
    archive = write_archive(tmp_path / "a", site_exchanges())
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "site"\nlang = "en"\nstart_urls = ["{BASE}/"]\n'
                       f'allowed_domains = ["{HOST}"]\narticle_pattern = \'/(en|zh)/[a-z0-9-]+$\'\n')
    import crawler.catchup_record as catchup  # where the analysis runs (a pool worker imports only it)

    calls = {"n": 0}
    real = catchup.analyse_page

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise StorageError("the store stopped answering")
        return real(*args, **kwargs)

    monkeypatch.setattr(catchup, "analyse_page", flaky)
    passes: list[CatchupCounts] = []
    settings = load_settings(archive=str(tmp_path / "a"), sources=str(sources))
    follow(settings, archive, interval=0.01, stop=lambda: len(passes) >= 2, report=passes.append)
    assert passes[0].metadata_replayed == 5 and passes[0].articles_extracted == len(PAGES) - 5
    assert flags(tmp_path / "a" / "dedup.sqlite3") == flags(tmp_path / "ref" / "dedup.sqlite3")
