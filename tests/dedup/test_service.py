"""DedupService: one child process owns the catalog; its backlog is bounded in bytes; it never outlives the crawl."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from crawler.dedup.defaults import Thresholds
from crawler.dedup.service import CHILD_NICENESS, DedupService, DedupUnavailable, NoMainText, SpillDropped, _Spill
from tests.conftest import REPO, cli_env, process_gone
from tests.dedup import dedup_site

BASE = "http://127.0.0.1:8123"


def page(path: str) -> dict:
    _ctype, html = dedup_site.PAGES[path]
    return {"url": BASE + path, "html": html.replace("{base}", BASE), "lang": path.split("/")[1], "source": "t",
            "status": 200, "warc_record_id": "<urn:uuid:00000000-0000-0000-0000-000000000001>"}


def wait_answered(answers: list) -> None:
    """Wait for each future: answered, or failed because the child is gone."""
    for a in answers:
        try:
            a.result(30)
        except DedupUnavailable:
            pass


@pytest.fixture
def started(tmp_path):
    services = []

    def start(**kw) -> DedupService:
        service = DedupService(tmp_path / "d.sqlite3", Thresholds(), **{"max_bytes": 10_000_000, **kw})
        service.start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.kill()
        assert service.wait(10) is not None


def test_answers_come_from_the_child_in_order(started):
    service = started()
    answers = [service.analyse(page(p)) for p in ("/en/lockbit-hospital", "/zh/lockbit-hospital", "/en/lockbit-school")]
    results = [a.result(60) for a in answers]
    assert {r.pid for r in results} == {service.pid} and service.pid != os.getpid()
    assert psutil.Process(service.pid).nice() == min(19, psutil.Process().nice() + CHILD_NICENESS)  # the crawl first
    assert [r.kinds for r in results] == [[], ["translation"], []]
    assert results[1].duplicates[0]["url"] == BASE + "/en/lockbit-hospital"
    assert service.in_flight_bytes == 0
    with pytest.raises(NoMainText):
        service.analyse({**page("/en/lockbit-school"), "html": "<html></html>"}).result(60)
    assert service.settle().result(60) == 3
    service.close(30)
    assert service.wait(0) == 0 and not service.running
    assert service.analyse(page("/en/lockbit-school")) is None


def test_an_answer_no_item_waits_for_carries_the_record_only(started):
    service = started()
    full = service.analyse(page("/en/lockbit-hospital")).result(60)
    lean = service.analyse(page("/zh/lockbit-hospital"), for_item=False).result(60)
    assert full.signals and "text" in full.article
    assert lean.signals == {} and lean.article == {"url": BASE + "/zh/lockbit-hospital",
                                                   "warc_record_id": page("/zh/lockbit-hospital")["warc_record_id"]}
    assert lean.kinds == ["translation"] and b'"lang": "zh"' in lean.payload  # flags, catalog and record as ever


def test_an_idle_child_has_committed_what_it_answered(started, tmp_path):
    """Commits are batched while a backlog lasts, but never held back once the child is idle:
    other readers of the catalog (``dups``, the web app) see every answered page."""
    import sqlite3

    service = started()
    answers = [service.analyse(page(p)) for p in ("/en/lockbit-hospital", "/zh/lockbit-hospital", "/en/lockbit-school")]
    assert all(a.result(60) for a in answers)
    deadline = time.monotonic() + 10
    while True:
        reader = sqlite3.connect(tmp_path / "d.sqlite3")
        try:
            count = reader.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        finally:
            reader.close()
        if count == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert count == 3 and service.running


def test_backlog_is_bounded_in_bytes(started):
    one = len(page("/en/lockbit-hospital")["html"].encode())
    service = started(max_bytes=int(one * 1.5))
    service.opened.result(60)
    first = service.analyse(page("/en/lockbit-hospital"))
    assert first is not None and one < service.in_flight_bytes <= service.max_bytes
    assert service.analyse(page("/en/lockbit-hospital")) is None  # refused: the crawl does not wait
    first.result(60)
    assert service.in_flight_bytes == 0
    assert service.analyse(page("/en/lockbit-school")) is not None  # room again once answered


def test_a_page_larger_than_the_backlog_is_refused(started):
    """Refused before it is pickled (its HTML alone is over the bound); nothing is sent."""
    one = len(page("/en/lockbit-hospital")["html"].encode())
    service = started(max_bytes=one - 1)
    service.opened.result(60)
    assert service.analyse(page("/en/lockbit-hospital")) is None and service.in_flight_bytes == 0
    assert service.analyse({**page("/en/lockbit-hospital"), "html": "<html><p>x</p></html>"}) is not None


def test_a_killed_child_is_reported_once_and_fails_what_it_had(started):
    died = []
    service = started(on_death=died.append)
    service.opened.result(60)
    answers = [service.analyse(page("/en/lockbit-hospital")) for _ in range(3)]
    os.kill(service.pid, signal.SIGKILL)
    wait_answered(answers)
    deadline = time.monotonic() + 10
    while not died and time.monotonic() < deadline:
        time.sleep(0.02)
    assert died == [-signal.SIGKILL] and not service.running and service.in_flight_bytes == 0
    assert service.analyse(page("/en/lockbit-school")) is None


def test_kill_is_not_a_death(started):
    died = []
    service = started(on_death=died.append)
    service.opened.result(60)
    service.kill()
    assert service.wait(10) == -signal.SIGKILL
    time.sleep(0.2)
    assert died == []


def test_the_child_ignores_sigint(started):
    """A Ctrl-C at the terminal reaches the whole process group: the crawl decides, not the child."""
    service = started()
    service.opened.result(60)
    os.kill(service.pid, signal.SIGINT)
    assert service.analyse(page("/en/lockbit-hospital")).result(60).pid == service.pid


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_the_child_never_outlives_its_parent(tmp_path, how):
    """However the crawl process ends (SIGKILL, os._exit with work queued), its dedup child exits."""
    script = textwrap.dedent(f"""\
        import os, signal, sys
        from pathlib import Path
        from crawler.dedup.defaults import Thresholds
        from crawler.dedup.service import DedupService
        s = DedupService(Path({str(tmp_path / "d.sqlite3")!r}), Thresholds(), max_bytes=10**8)
        s.start()
        s.opened.result(60)
        for n in range(20):
            s.analyse({{"url": f"http://x/{{n}}", "html": "<html><body><article>" + "<p>word salad here</p>" * 500
                                                      + "</article></body></html>"}})
        print(s.pid, flush=True)
        if {how!r} == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(3)
        """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=cli_env(), capture_output=True, timeout=120)
    child = int(proc.stdout.split()[0])
    assert proc.returncode == (-signal.SIGKILL if how == "sigkill" else 3)
    assert process_gone(child), f"dedup child {child} outlived its parent"


def test_pages_beyond_the_backlog_wait_on_disk_and_are_all_answered(started):
    """Past ``max_bytes`` a page waits in the spill (not in memory) and is sent once the child has taken
    what was queued before it; the settle comes after the spill's last page."""
    one = len(page("/en/lockbit-hospital")["html"].encode())
    service = started(max_bytes=int(one * 1.5), spill_bytes=one * 20)
    service.opened.result(60)
    paths = ["/en/lockbit-hospital", "/zh/lockbit-hospital", "/en/lockbit-school"] * 3
    answers = [service.analyse({**page(p), "url": f"{BASE}{p}?{n}"}, for_item=False) for n, p in enumerate(paths)]
    assert all(a is not None for a in answers)
    assert service.spilled_pages >= len(paths) - 1 and service.in_flight_bytes > service.max_bytes
    settled = service.settle()
    results = [a.result(60) for a in answers]
    assert [r.article["url"] for r in results] == [f"{BASE}{p}?{n}" for n, p in enumerate(paths)]
    assert settled.result(60) == len(paths)  # every page was in the catalog before the settle
    assert service.in_flight_bytes == 0 and service.spill_pages == 0
    assert service.cpu_per_page is not None and service.cpu_per_page > 0


def big_page(path: str) -> dict:
    """A page larger than a pipe's buffer (64 KB): one being sent waits until the child reads it."""
    p = page(path)
    return {**p, "html": p["html"].replace("</body>", "<!--" + "x" * 70_000 + "--></body>")}


def test_the_spill_is_bounded_and_can_be_given_back(started):
    one = len(pickle.dumps(("page", 1, big_page("/en/lockbit-hospital")), protocol=pickle.HIGHEST_PROTOCOL)) + 10
    service = started(max_bytes=one, spill_bytes=int(one * 2.5))
    service.opened.result(60)
    first = service.analyse(big_page("/en/lockbit-hospital"))  # in memory, then in the pipe
    sent = [service.analyse(big_page("/en/lockbit-hospital")) for _ in range(8)]  # then on disk, two at most
    assert first is not None and None in sent  # no room in memory nor on disk: refused, the crawl does not wait
    waiting = [w for w in sent if w is not None]
    assert 2 <= len(waiting) < 8
    given_back = service.drop_spill()
    assert first.result(60).pid == service.pid
    outcomes = []
    for w in waiting:
        try:
            outcomes.append(w.result(60).pid)
        except SpillDropped:
            outcomes.append("dropped")
    # whatever was still waiting on disk is given back; what had been taken out to be sent is answered
    assert outcomes.count("dropped") == given_back and service.spill_pages == 0
    assert service.analyse(page("/en/lockbit-school")).result(60).pid == service.pid  # goes on as before


def test_a_killed_child_fails_the_pages_waiting_on_disk(started):
    """Nothing waits forever: the pages in the spill fail like those in memory (the crawl counts them
    deferred; the catch-up analyses them from the archive)."""
    one = len(page("/en/lockbit-hospital")["html"].encode())
    service = started(max_bytes=one, spill_bytes=one * 10)
    service.opened.result(60)
    answers = [service.analyse(page("/en/lockbit-hospital")) for _ in range(6)]
    assert service.spill_pages >= 1
    os.kill(service.pid, signal.SIGKILL)
    wait_answered(answers)
    assert all(a.done() for a in answers) and service.spill_pages == 0 and service.in_flight_bytes == 0


def test_the_spill_is_a_ring_of_bounded_size():
    ring = _Spill(100)
    try:
        assert ring.put(1, b"a" * 40) and ring.put(2, b"b" * 40)
        assert not ring.put(3, b"c" * 30)  # 80 + 30 > 100, and the oldest starts at 0
        seq, offset, n = ring.oldest()
        assert (seq, ring.read(offset, n)) == (1, b"a" * 40) and ring.pop_if(1)
        assert ring.put(3, b"c" * 30)  # wraps to the start, before the oldest (at 40)
        assert not ring.put(4, b"d" * 20)  # 30 + 20 > 40: would overwrite page 2
        assert [ring.read(o, n) for _s, o, n in [ring.oldest()]] == [b"b" * 40] and ring.pop_if(2)
        assert not ring.pop_if(2) and ring.size == 30 and len(ring) == 1
        seq, offset, n = ring.oldest()
        assert (seq, ring.read(offset, n)) == (3, b"c" * 30)
        assert ring.put(4, b"d" * 30) and ring.put(5, b"e" * 30)
        assert ring.drop_newest(60) == [5] and ring.size == 60 and len(ring) == 2  # the oldest stay
        assert ring.clear() == [3, 4] and ring.size == 0 and ring.put(5, b"e" * 100) and not ring.put(6, b"f")
    finally:
        ring.close()


def test_a_spill_the_disk_refuses_defers_the_page(tmp_path):
    """A full disk (here the file-size limit, so the write really fails with EFBIG) is no crash: the
    page is refused like one beyond the spill and the crawl goes on; what was in memory is answered."""
    script = textwrap.dedent(f"""\
        import resource, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from crawler.dedup.defaults import Thresholds
        from crawler.dedup.service import DedupService
        from tests.dedup.test_service import page
        first = page("/en/lockbit-hospital")
        one = len(first["html"].encode())
        service = DedupService(Path({str(tmp_path / "d.sqlite3")!r}), Thresholds(), max_bytes=int(one * 1.5),
                               spill_bytes=one * 20)
        service.start()
        service.opened.result(60)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.RLIM_INFINITY))  # the child keeps its own
        answers = [service.analyse({{**page(p), "url": p + str(n)}}, for_item=False)
                   for n, p in enumerate(["/en/lockbit-hospital", "/zh/lockbit-hospital", "/en/lockbit-school"])]
        print(answers[0] is not None, answers[1:] == [None, None], service.spilled_pages)
        print(answers[0].result(60).pid == service.pid)
        service.close(30)
        print(service.wait(30))
        """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=cli_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "0", "True", "0"], proc.stdout
    assert "cannot spill a page to disk" in proc.stderr
