"""The catch-up's pool of analysis workers: the same catalog and records as one process, nothing lost
when a worker dies, no worker for a small pass."""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.news_site import NewsServer
from crawler.archive.archive import Archive
from crawler.catchup import POOL_MIN_ARTICLES, Catchup, CatchupCounts, catchup_from_settings, pool_workers
from crawler.catchup_pool import AnalysisPool, PoolFailure
from crawler.config import load_settings
from crawler.dedup.detector import find_related
from crawler.dedup.store import ArticleStore
from crawler.sources import load_sources
from tests.conftest import crawl, run_cli
from tests.test_catchup import SOURCE, site_exchanges, write_archive

#: More article pages than POOL_MIN_ARTICLES, all in the crawl's one WARC file.
PAGES = 40
EN_WORDS = ("port harbour ransomware attack city council budget vote school teachers strike river flood "
            "rescue team minister trade talks energy prices rail line bridge repair museum opening").split()
ZH_CHARS = "港口勒索软件攻击市议会预算投票学校教师罢工河流洪水救援队部长贸易谈判能源价格铁路桥梁维修博物馆开放"


@pytest.fixture(scope="module")
def news_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The bench's realistic news site (real-sized pages, reposts, a translation) crawled with dedup
    off: ``(archive, sources)``. Tests catch up copies of it."""
    tmp = tmp_path_factory.mktemp("pool-site")
    corpus = tmp / "corpus"
    corpus.mkdir()
    rng = random.Random(7)
    articles = []
    for lang in ("en", "zh"):
        for i in range(12):
            if lang == "en":
                paragraphs = [" ".join(rng.choices(EN_WORDS, k=70)).capitalize() + "." for _ in range(10)]
            else:
                paragraphs = ["".join(rng.choices(ZH_CHARS, k=150)) + "。" for _ in range(10)]
            articles.append({"id": f"{lang}-{i}", "lang": lang, "title": f"{lang} story {i}",
                             "published": f"2024-03-{i + 1:02d} 10:00", "text": "\n\n".join(paragraphs)})
    (corpus / "articles.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles),
                                           encoding="utf-8")
    (corpus / "groups.jsonl").write_text(json.dumps({"group_id": "g1", "article_ids": ["zh-2", "en-3"],
                                                     "relation": "translation_of"}) + "\n", encoding="utf-8")
    with NewsServer(corpus, pages=PAGES, seed=3) as server:
        sources = tmp / "sources.toml"
        sources.write_text(server.plan.sources_toml(server.base_url, server.host), encoding="utf-8")
        run = crawl(tmp, sources, tmp / "archive", "-s", "DEDUP_ENABLED=false")
        assert run.proc.returncode == 0, run.log[-2000:]
    yield tmp / "archive", sources


def copy_of(archive: Path, to: Path) -> Path:
    shutil.copytree(archive, to)
    return to


def catalog(path: Path) -> tuple[dict[str, tuple], dict[frozenset[str], str]]:
    """Every article (its capture and signals) and every relation in a catalog."""
    arts, related = {}, {}
    with ArticleStore.open_existing(path) as store:
        for a in store.iter_articles():
            arts[a.url] = (a.fetched_at, a.warc_record_id, a.lang, a.title, a.signals)
            for m in find_related(store, a.url):
                related[frozenset((a.url, m.url))] = str(m.kind)
    return arts, related


def written_records(archive: Path, before: set[str]) -> list[bytes]:
    """The metadata blocks of the WARC files the catch-up added, in the order written."""
    opened = Archive.open(archive)
    return list(opened.iter_metadata(names=sorted(set(opened.warc_names()) - before)))


def counts_of(stdout: bytes) -> dict[str, str]:
    line = next(s for s in stdout.decode().splitlines() if "warcs_checked=" in s)
    return dict(kv.split("=") for kv in line.split())


def test_the_pool_gives_the_catalog_flags_and_records_of_one_process(tmp_path: Path,
                                                                      news_crawl: tuple[Path, Path]) -> None:
    archive, sources = news_crawl
    crawled = set(Archive.open(archive).warc_names())
    results = {}
    for workers in ("0", "2"):
        copy = copy_of(archive, tmp_path / f"workers-{workers}")
        update = run_cli("dedup", "update", "--sources", str(sources), "--archive", str(copy),
                         "-s", f"DEDUP_CATCHUP_WORKERS={workers}")
        assert update.returncode == 0, update.stderr.decode()[-2000:]
        results[workers] = (counts_of(update.stdout), catalog(copy / "dedup.sqlite3"), written_records(copy, crawled))
    serial, pooled = results["0"], results["2"]
    assert int(serial[0]["articles_extracted"]) >= PAGES and pooled[0] == serial[0]
    assert serial[0]["pool_fallbacks"] == "0"
    assert pooled[1][0] == serial[1][0]  # the same articles, captures and signals
    assert pooled[1][1] == serial[1][1] and serial[1][1]  # the same flags (the site has reposts)
    assert pooled[2] == serial[2] and len(serial[2]) == int(serial[0]["articles_extracted"])  # byte for byte


def test_a_worker_killed_mid_pass_loses_no_article(tmp_path: Path, news_crawl: tuple[Path, Path]) -> None:
    """SIGKILL to one worker after a few articles, to the other a few later: the articles they held
    are analysed in the catch-up's process (counted), and the catalog is the one-process catalog."""
    archive, sources = news_crawl
    reference, killed = copy_of(archive, tmp_path / "ref"), copy_of(archive, tmp_path / "killed")
    catalog_path = Path("dedup.sqlite3")
    with Catchup(Archive.open(reference), reference / catalog_path, load_sources(str(sources)),
                 spool_dir=reference / "spool" / "catchup", writer_options={}) as c:
        expected = c.run_once()

    calls = {"n": 0}
    victims: list[int] = []

    def stop() -> bool:  # asked before each record is taken: a hook into the middle of the pass
        calls["n"] += 1
        pool = c._pool
        if calls["n"] in (3, 12) and pool is not None:
            victim = pool.pids[len(victims)]
            victims.append(victim)
            os.kill(victim, signal.SIGKILL)
        return False

    with Catchup(Archive.open(killed), killed / catalog_path, load_sources(str(sources)),
                 spool_dir=killed / "spool" / "catchup", writer_options={}, stop=stop, workers=2) as c:
        got = c.run_once()
    assert len(victims) == 2 and not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                                         for p in victims)
    assert got.pool_fallbacks > 0
    assert got.articles_extracted == expected.articles_extracted >= PAGES
    assert {**vars(got), "pool_fallbacks": 0} == vars(expected)
    assert catalog(killed / catalog_path) == catalog(reference / catalog_path)


def test_a_small_pass_starts_no_worker(tmp_path: Path) -> None:
    write_archive(tmp_path, site_exchanges(), per_file=len(site_exchanges()))
    children: list[int] = []
    # the session's own servers (SeaweedFS, Redis) are children of this process too
    before = {p.pid for p in psutil.Process().children()}

    def stop() -> bool:
        children.extend(p.pid for p in psutil.Process().children() if p.pid not in before)
        return False

    with Catchup(Archive.open(tmp_path), tmp_path / "dedup.sqlite3", [SOURCE], spool_dir=tmp_path / "spool" / "c",
                 writer_options={}, stop=stop, workers=2) as c:
        counts = c.run_once()
    assert 0 < counts.articles_extracted < POOL_MIN_ARTICLES and not children
    assert counts.pool_fallbacks == 0


def test_answers_come_in_read_order_and_a_failing_task_is_left_to_the_caller() -> None:
    reads = [(i, b"x" if i % 5 else b"") for i in range(1, 13)]  # every fifth read has nothing to do
    pool = AnalysisPool(1)
    try:
        assert pool.result(pool.submit(functools.partial(int, "0"))) == 0  # started and ready
        answers = pool.ordered(reads, lambda i, r: _Explode(i) if r else None)
        got = [next(answers)]
        time.sleep(1.0)  # the worker's answers are in before they are asked for
        got += list(answers)
    finally:
        pool.close()
    assert [(i, r) for i, r, _a in got] == reads
    failed = [(i, a) for i, _r, a in got if isinstance(a, PoolFailure)]
    assert all(i == 2 and "odd: 2" in a.reason for i, a in failed)  # or run in this process: raises there
    assert [a for i, _r, a in got if i != 2] == [None if i % 5 == 0 else i for i in range(1, 13) if i != 2]


def test_a_task_raising_in_the_callers_process_raises_at_its_turn() -> None:
    pool = AnalysisPool(1)
    try:
        answers = pool.ordered([(i, b"x") for i in range(1, 9)], lambda i, r: _Explode(i))
        with pytest.raises(ValueError, match="odd: 2"):
            for i, _r, answer in answers:
                assert answer == i or (i == 2 and isinstance(answer, PoolFailure))
                if isinstance(answer, PoolFailure):
                    _Explode(i)()
    finally:
        pool.close()


class _Explode:
    """A task that fails on one input (importable by a worker: this module is on its path)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self) -> int:
        if self.n == 2:
            raise ValueError(f"odd: {self.n}")
        return self.n


def test_workers_come_from_the_setting(tmp_path: Path) -> None:
    assert pool_workers(0) == 0 and pool_workers(3) == 3
    assert pool_workers(-1) == max(1, len(os.sched_getaffinity(0)) - 1)
    settings = load_settings(archive=str(tmp_path), overrides=["DEDUP_CATCHUP_WORKERS=3"])
    with catchup_from_settings(settings, Archive.open(tmp_path)) as c:
        assert c.workers == 3
    with catchup_from_settings(load_settings(archive=str(tmp_path)), Archive.open(tmp_path)) as c:
        assert c.workers == pool_workers(-1)
    assert CatchupCounts().pool_fallbacks == 0
