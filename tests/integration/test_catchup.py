"""No archived article is left unflagged: crawls without dedup, killed crawls and other workers' crawls,
caught up from storage by `newsarchive dedup update`, `dedup follow` and the end of the next crawl."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.archive.catalog import CaptureCatalog
from crawler.archive.records import METADATA_URI_PREFIX
from crawler.dedup.detector import find_related
from crawler.dedup.store import ArticleStore
from tests.conftest import REPO, cli_env, crawl, run_cli
from tests.dedup.dedup_site import EXPECTED, HTML, NEGATIVES, PAGES, serve
from tests.integration.test_s3_crawl import s3_env

PROFILE = str(REPO / "settings" / "profiles" / "test.toml")
ARTICLE = re.compile(r"/(en|zh)/[a-z0-9-]+$")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = serve(PAGES)
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write_sources(path: Path, host: str, *, article_pattern: str = ARTICLE.pattern, extra: str = "") -> Path:
    path.write_text(f'[[source]]\nname = "dedup"\nlang = "en"\nstart_urls = ["http://{host}/"]\n'
                    f'allowed_domains = ["{host}"]\narticle_pattern = \'{article_pattern}\'\n{extra}', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def archived_without_dedup(site: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site crawled once with DEDUP_ENABLED=false: nothing analysed, no catalog, no catch-up.
    Tests catch up copies of this archive (:func:`copy_archive`), never the archive itself."""
    tmp = tmp_path_factory.mktemp("no-dedup")
    run = crawl(tmp, write_sources(tmp / "sources.toml", site), tmp / "archive", "-s", "DEDUP_ENABLED=false")
    assert run.proc.returncode == 0, run.log[-2000:]
    assert b"dedup catch-up" not in run.proc.stdout and not (tmp / "archive" / "dedup.sqlite3").exists()
    return tmp / "archive"


def copy_archive(archive: Path, to: Path) -> Path:
    shutil.copytree(archive, to)
    return to


def counts(stdout: bytes, prefix: str = "") -> dict[str, int]:
    """The catch-up's ``name=value`` line (after ``prefix``) in a command's output."""
    for line in stdout.decode().splitlines():
        if line.startswith(prefix) and "warcs_checked=" in line:
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line[len(prefix):])}
    raise AssertionError(f"no catch-up counts in {stdout.decode()[-2000:]}")


def catalog_flags(catalog: Path) -> dict[frozenset[str], str]:
    """Every relation in the catalog, by the two articles' paths."""
    out = {}
    with ArticleStore.open_existing(catalog) as store:
        for art in store.iter_articles():
            for m in find_related(store, art.url):
                out[frozenset((_path(art.url), _path(m.url)))] = str(m.kind)
    return out


def catalog_articles(catalog: Path) -> set[str]:
    with ArticleStore.open_existing(catalog) as store:
        return {_path(a.url) for a in store.iter_articles()}


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def assert_flagged_as_a_full_crawl(found: dict[frozenset[str], str]) -> None:
    for a, b, kind in EXPECTED:
        got = found.get(frozenset((a, b)))
        assert got in ({"translation", "attributed"} if kind == "translation" else {kind}), (a, b, got, found)
    for a, b in NEGATIVES:
        assert frozenset((a, b)) not in found, (a, b, found)


def test_a_crawl_without_dedup_caught_up_equals_a_crawl_with_it(tmp_path: Path, site: str,
                                                               archived_without_dedup: Path) -> None:
    sources = write_sources(tmp_path / "sources.toml", site)
    on = crawl(tmp_path, sources, tmp_path / "on")
    copy_archive(archived_without_dedup, tmp_path / "off")
    assert on.proc.returncode == 0, on.log[-2000:]
    # the crawl with dedup analysed everything itself (but what its dedup deferred, if anything):
    # its catch-up only checked its WARC
    done = counts(on.proc.stdout, "dedup catch-up: ")
    deferred = on.stats.get("dedup/deferred", 0)
    assert done["warcs_checked"] >= 1 and done["articles_extracted"] == deferred and done["metadata_replayed"] == 0
    if not deferred:
        assert not (tmp_path / "on" / "spool" / "catchup").exists(), "nothing written, nothing spooled"

    update = run_cli("dedup", "update", "--sources", str(sources), "--archive", str(tmp_path / "off"))
    assert update.returncode == 0, update.stderr
    did = counts(update.stdout)
    assert did["articles_extracted"] == len(PAGES) and did["skipped"] == did["metadata_replayed"] == 0
    expected = catalog_flags(tmp_path / "on" / "dedup.sqlite3")
    assert_flagged_as_a_full_crawl(expected)
    assert catalog_articles(tmp_path / "off" / "dedup.sqlite3") == set(PAGES)
    assert catalog_flags(tmp_path / "off" / "dedup.sqlite3") == expected
    assert did["flags_added"] == len(expected)

    again = run_cli("dedup", "update", "--sources", str(sources), "--archive", str(tmp_path / "off"))
    assert again.returncode == 0 and set(counts(again.stdout).values()) == {0}, again.stdout

    # the metadata records it wrote are in the archive: a rebuild from the WARCs alone agrees
    rebuild = run_cli("dedup", "rebuild", "--archive", str(tmp_path / "off"))
    assert rebuild.returncode == 0, rebuild.stderr
    assert catalog_flags(tmp_path / "off" / "dedup.sqlite3") == expected
    verify = run_cli("verify", "--archive", str(tmp_path / "off"))
    assert verify.returncode == 0, verify.stdout[-2000:]


def test_pages_the_crawls_dedup_deferred_are_flagged_at_its_end(tmp_path: Path, site: str) -> None:
    """Dedup far behind (a backlog bound of one byte): every page is archived unanalysed, and the
    crawl's own catch-up flags them all before it exits."""
    sources = write_sources(tmp_path / "sources.toml", site)
    run = crawl(tmp_path, sources, tmp_path / "archive", "-s", "DEDUP_QUEUE_BYTES=1")
    assert run.proc.returncode == 0, run.log[-2000:]
    assert run.stats["dedup/deferred"] == len(PAGES)
    assert counts(run.proc.stdout, "dedup catch-up: ")["articles_extracted"] == len(PAGES)
    assert catalog_articles(tmp_path / "archive" / "dedup.sqlite3") == set(PAGES)
    assert_flagged_as_a_full_crawl(catalog_flags(tmp_path / "archive" / "dedup.sqlite3"))


def _records(archive: Path) -> tuple[set[str], set[str]]:
    """(article paths with a response, article paths with a dedup metadata record) in the capture catalog."""
    catalog = CaptureCatalog(archive / "index.sqlite3")
    try:
        entries = list(catalog.iter_all())
    finally:
        catalog.close()
    responses = {_path(e.url) for e in entries if e.rec_type == "response" and ARTICLE.search(e.url)}
    records = {_path(e.url[len(METADATA_URI_PREFIX):]) for e in entries if e.url.startswith(METADATA_URI_PREFIX)}
    return responses, records


def _settled_size(spool: Path, timeout: float = 20.0) -> None:
    """Wait until the killed crawl's open WARC stops growing (what it fetched is written)."""
    last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        size = sum(p.stat().st_size for p in spool.glob("*.open")) if spool.is_dir() else 0
        if size != last:
            last, stable_since = size, time.monotonic()
        elif size and time.monotonic() - stable_since > 1.0:
            return
        time.sleep(0.1)


@pytest.mark.parametrize("killed_with", ["dedup", "dedup-off"])
def test_articles_archived_by_a_killed_crawl_are_flagged_by_the_next_crawl(tmp_path: Path, killed_with: str) -> None:
    """SIGKILL while a page hangs (the articles fetched beside it archived, analysed or not), then a
    plain next crawl: it skips what is archived, and its catch-up flags what the killed one did not."""
    arrived, release = threading.Event(), threading.Event()
    server = serve({**PAGES, "/slow": (HTML, "<html><body>slow</body></html>")}, held={"/slow": (arrived, release)})
    host = f"127.0.0.1:{server.server_address[1]}"
    sources = write_sources(tmp_path / "sources.toml", host)
    archive = tmp_path / "archive"
    args = ["crawl", "--sources", str(sources), "--archive", str(archive), "--profile", PROFILE]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "crawler", *args,
                                 *(["-s", "DEDUP_ENABLED=false"] if killed_with == "dedup-off" else [])],
                                cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert arrived.wait(120), "the crawl never asked for the held page"
            _settled_size(archive / "spool")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        release.set()
        upload = run_cli("upload", "--archive", str(archive))  # what the kill left, stored to look at it
        assert upload.returncode == 0, upload.stderr
        archived, recorded = _records(archive)
        assert archived, "nothing was archived before the kill"
        unrecorded = archived - recorded
        if killed_with == "dedup-off":
            assert unrecorded == archived

        proc2 = run_cli(*args, "--stats-out", str(tmp_path / "stats.json"), cwd=tmp_path)
        assert proc2.returncode == 0, proc2.stderr[-3000:]
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    did = counts(proc2.stdout, "dedup catch-up: ")
    # what the killed crawl left unanalysed, and what the next one deferred (a dedup behind)
    deferred = json.loads((tmp_path / "stats.json").read_text()).get("dedup/deferred", 0)
    assert did["articles_extracted"] == len(unrecorded) + deferred and did["skipped"] == 0, (did, unrecorded)
    # every article is archived once and in the catalog, with the flags of a crawl never killed
    assert _records(archive)[0] == set(PAGES) and _records(archive)[1] == set(PAGES)
    assert catalog_articles(archive / "dedup.sqlite3") == set(PAGES)
    assert_flagged_as_a_full_crawl(catalog_flags(archive / "dedup.sqlite3"))


@pytest.mark.s3
def test_a_translation_fetched_by_another_worker_is_flagged_by_one_consumer(seaweedfs, make_bucket, tmp_path: Path,
                                                                            site: str) -> None:
    """Two workers, one S3 archive, a local cache each: one fetches the English originals, the other
    the Chinese translations. A `dedup update` on a third machine's cache flags the translation."""
    uri = f"s3://{make_bucket()}/news"

    def worker(name: str, lang: str) -> subprocess.CompletedProcess:
        sources = write_sources(tmp_path / f"{name}.toml", site, article_pattern=f"/{lang}/[a-z0-9-]+$",
                                extra=f"follow_pattern = '/{lang}/'\n")
        env = s3_env(seaweedfs, tmp_path, ARCHIVE_CACHE_DIR=str(tmp_path / name),
                     ARCHIVE_SPOOL=str(tmp_path / name / "spool"))
        return subprocess.run([sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--archive", uri,
                               "--profile", PROFILE], cwd=tmp_path, env=env, capture_output=True, timeout=600)

    english, chinese = worker("en-worker", "en"), worker("zh-worker", "zh")
    assert english.returncode == 0 and chinese.returncode == 0, (english.stderr[-2000:], chinese.stderr[-2000:])
    first = next((tmp_path / "en-worker").rglob("dedup.sqlite3"))
    assert catalog_articles(first) == {p for p in PAGES if p.startswith("/en/")}
    # the second worker's own catch-up already replayed the first one's records
    assert counts(chinese.stdout, "dedup catch-up: ")["metadata_replayed"] == 3

    sources = write_sources(tmp_path / "all.toml", site)
    env = s3_env(seaweedfs, tmp_path, ARCHIVE_CACHE_DIR=str(tmp_path / "consumer"))
    update = subprocess.run([sys.executable, "-m", "crawler", "dedup", "update", "--sources", str(sources),
                             "--archive", uri], env=env, capture_output=True, timeout=600)
    assert update.returncode == 0, update.stderr
    did = counts(update.stdout)
    assert did["metadata_replayed"] == len(PAGES) and did["articles_extracted"] == 0
    catalog = next((tmp_path / "consumer").rglob("dedup.sqlite3"))
    assert catalog_articles(catalog) == set(PAGES)
    found = catalog_flags(catalog)
    assert found[frozenset(("/en/lockbit-hospital", "/zh/lockbit-hospital"))] in ("translation", "attributed")
    assert_flagged_as_a_full_crawl(found)


def test_a_malformed_warc_among_good_ones_is_a_counted_skip(tmp_path: Path, site: str,
                                                           archived_without_dedup: Path) -> None:
    sources = write_sources(tmp_path / "sources.toml", site)
    copy_archive(archived_without_dedup, tmp_path / "archive")
    (tmp_path / "archive" / "warcs" / "zz-truncated.warc.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(3000))
    update = run_cli("dedup", "update", "--sources", str(sources), "--archive", str(tmp_path / "archive"))
    assert update.returncode == 0, update.stderr
    did = counts(update.stdout)
    assert did["skipped"] == 1 and did["articles_extracted"] == len(PAGES), did
    assert b"zz-truncated.warc.gz" in update.stderr and b"Traceback" not in update.stderr
    assert_flagged_as_a_full_crawl(catalog_flags(tmp_path / "archive" / "dedup.sqlite3"))


def test_dedup_follow_catches_up_until_sigterm_and_exits_cleanly(tmp_path: Path, site: str,
                                                                 archived_without_dedup: Path) -> None:
    sources = write_sources(tmp_path / "sources.toml", site)
    copy_archive(archived_without_dedup, tmp_path / "archive")
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "dedup", "follow", "--interval", "0.5", "--sources",
                             str(sources), "--archive", str(tmp_path / "archive")], cwd=tmp_path, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one line per pass that found something
        assert counts(first)["articles_extracted"] == len(PAGES)
        time.sleep(1.0)  # a few empty passes
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.decode().startswith("stopped by SIGTERM: ") and counts(out, "stopped by SIGTERM: ")[
        "articles_extracted"] == len(PAGES)
    assert_flagged_as_a_full_crawl(catalog_flags(tmp_path / "archive" / "dedup.sqlite3"))
