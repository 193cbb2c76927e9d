"""The report and the web app built from a real crawl of five local outlets, checked in headless chromium.

Chromium is Debian's (``apt-get install chromium fonts-wqy-zenhei``), driven by playwright with
``executable_path`` (no ``playwright install``). Set ``NEWSARCHIVE_SCREENSHOTS=docs`` to refresh
the screenshots the README shows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import REPO, cli_env, pywb_missing, run_cli
from tests.report.editors_site import EXPECTED, HOSTILE_TITLE, crawl_outlets

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "t0ken-for-the-tests-only"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("editors")
    archive, bases = crawl_outlets(tmp)
    names = {f"{bases[o]}{p}": (o, p) for (o, p), _b, _k in EXPECTED} | {
        f"{bases[o]}{p}": (o, p) for _a, (o, p), _k in EXPECTED
    }
    return archive, bases, names, tmp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(archive: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "serve", "--archive", str(archive), "--port", str(port), *args],
        cwd=REPO,
        env=env or cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("serve did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _status_of(url: str, headers: dict | None = None) -> int:
    """The HTTP status of a GET (an error status is an answer here, not an exception)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return r.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code


@pytest.fixture(scope="module")
def app(site):
    archive = site[0]
    proc, base = _serve(archive, "--replay-url", "http://127.0.0.1:9")
    yield base
    _stop(proc)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: apt-get install -y chromium fonts-wqy-zenhei (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _shot(page, tmp: Path, name: str) -> None:
    path = tmp / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    target = os.environ.get("NEWSARCHIVE_SCREENSHOTS")
    if target:
        Path(REPO / target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, REPO / target / f"{name}.png")


def _no_script_ran(page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"


# --- the report as a file ----------------------------------------------------------------------
def _pairs_from_csv(path: Path, names: dict) -> set[tuple]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    for r in rows:  # the outlet column agrees with the server the URL came from
        assert r["a_source"] == names[r["a_url"]][0] and r["b_source"] == names[r["b_url"]][0]
    return {(names[r["a_url"]], names[r["b_url"]], r["kind"]) for r in rows if r["kind"] != "translation_sibling"}


def _pairs_from_json(path: Path, names: dict) -> set[tuple]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        (names[r["a"]], names[r["b"]], r["kind"])
        for c in data["clusters"]
        for r in c["relations"]
        if r["kind"] != "translation_sibling"
    }


def test_csv_and_json_show_the_expected_clusters_original_first(site):
    archive, _bases, names, tmp = site
    for fmt in ("csv", "json"):
        proc = run_cli("report", "--archive", str(archive), "-o", str(tmp / f"all.{fmt}"))
        assert proc.returncode == 0, proc.stderr
    expected = {(a, b, k) for a, b, k in EXPECTED}
    # the repost of the translation also translates the original (it carries the same source line)
    expected.add((("bleepingnews", "/en/lockbit-hospital"), ("reposter", "/zh/lockbit-hospital-repost"), "translation"))
    assert _pairs_from_csv(tmp / "all.csv", names) == expected
    assert _pairs_from_json(tmp / "all.json", names) == expected
    data = json.loads((tmp / "all.json").read_text(encoding="utf-8"))
    assert [names[c["original"]][1] for c in data["clusters"]] == [  # newest first
        "/en/ivanti-zero-day",
        "/zh/lockbit-logistics",
        "/en/lockbit-hospital",
    ]
    assert data["report"]["totals"]["clusters"] == 3


@pytest.mark.parametrize(
    "args,pairs",
    [
        (["--kind", "translation"], 3),
        (["--source", "freebuf"], 7),  # the whole LockBit hospital cluster
        (["--lang", "en", "--kind", "same_story"], 1),
        (["--since", "2025-01-01"], 1),
        (["--until", "2024-03-04", "--kind", "repost"], 2),  # a date includes its whole day (UTC)
    ],
)
def test_cli_filters(site, args, pairs):
    archive, _bases, names, tmp = site
    out = tmp / f"f{abs(hash(tuple(args)))}.csv"
    proc = run_cli("report", "--archive", str(archive), "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == pairs
    if "--kind" in args:
        assert {r["kind"] for r in rows} == {args[args.index("--kind") + 1]}


def test_report_file_in_the_browser(site, browser):
    archive, bases, _names, tmp = site
    out = tmp / "report.html"
    assert run_cli("report", "--archive", str(archive), "-o", str(out)).returncode == 0
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    clusters = page.locator("section.cluster")
    assert clusters.count() == 3
    first_rows = [clusters.nth(i).locator("tr[data-role=original] td.words").inner_text() for i in range(3)]
    assert first_rows == ["original, by bleepingnews", "original, by fourhou", "original, by bleepingnews"]
    hospital = clusters.nth(2).inner_text()
    # published 2024-03-01 15:00 UTC; 03-02 09:00+08:00; 03-03 10:30+08:00; 03-02 12:00 UTC
    assert "translated by fourhou, 10 h later" in hospital
    assert "translated by freebuf, 1 day 11 h later" in hospital
    assert "reposted by securitywire, 21 h later" in hospital
    assert "2024-03-01 15:00 UTC" in hospital
    assert "same story, also reported by securitywire" in clusters.nth(0).inner_text()
    assert "confirmed by a source link" in hospital
    assert clusters.nth(2).locator("mark").count() > 5  # shared anchors highlighted in the excerpts
    # the hostile title is shown as text, and nothing of it ran
    assert HOSTILE_TITLE in clusters.nth(1).inner_text()
    assert clusters.nth(1).locator("script, img[onerror]").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    assert page.locator(".charts img").count() >= 2
    assert all(page.evaluate(f"document.querySelectorAll('.charts img')[{i}].naturalWidth") > 0 for i in range(2))
    _no_script_ran(page)
    assert errors == []
    page.screenshot(path=str(tmp / "report-full.png"), full_page=True)
    _shot(page, tmp, "report")
    clusters.nth(2).screenshot(path=str(tmp / "cluster.png"))
    if os.environ.get("NEWSARCHIVE_SCREENSHOTS"):
        shutil.copy(tmp / "cluster.png", REPO / os.environ["NEWSARCHIVE_SCREENSHOTS"] / "report-cluster.png")
    page.close()


# --- the app ------------------------------------------------------------------------------------
def test_app_pages_in_the_browser(site, app, browser):
    _archive, bases, _names, tmp = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(app + "/?q=" + quote("勒索"))
    hits = page.locator("#hits tr")
    assert hits.count() - 1 >= 3
    assert "LockBit声称攻击St. Olaf Medical Center" in page.locator("#hits").inner_text()
    _no_script_ran(page)
    _shot(page, tmp, "app-search")

    page.goto(app + "/?prefix=" + quote(bases["securitywire"] + "/en/"))
    assert page.locator("#total").inner_text() == "2 articles"

    hostile = bases["reposter"] + "/zh/logistics-repost"
    page.goto(app + "/article?url=" + quote(hostile))
    assert page.locator("#title").inner_text() == HOSTILE_TITLE
    assert "reposted by reposter" in page.locator("section.cluster").inner_text()
    assert "<script>window." in page.locator("#text").inner_text()  # shown as text (trafilatura escapes _ as \\_)
    _no_script_ran(page)
    _shot(page, tmp, "app-article")

    page.goto(app + "/captures?url=" + quote(hostile))
    assert page.locator("#captures a.replay").first.get_attribute("href").startswith("http://127.0.0.1:9/archive/")
    raw_href = page.locator("#captures a.raw").first.get_attribute("href")
    _no_script_ran(page)
    _shot(page, tmp, "app-captures")
    with urllib.request.urlopen(app + raw_href) as r:
        assert r.headers["Content-Disposition"].startswith("attachment;")
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"window.__xss=7" in r.read()

    page.goto(app + "/report")
    assert page.locator("section.cluster").count() == 3
    page.select_option("select[name=kind]", "translation")
    page.select_option("select[name=lang]", "zh")
    page.click("#filters button")
    page.wait_for_load_state()
    assert "kind=translation" in page.url
    assert page.locator("section.cluster").count() == 1
    assert {
        page.locator(".relation").nth(i).get_attribute("data-kind") for i in range(page.locator(".relation").count())
    } == {"translation"}
    _no_script_ran(page)
    _shot(page, tmp, "app-report")

    page.goto(app + "/status")
    sources = page.locator("#sources").inner_text()
    for outlet in ("bleepingnews", "fourhou", "freebuf", "reposter", "securitywire"):
        assert outlet in sources
    _shot(page, tmp, "app-status")
    assert errors == []
    page.close()


def test_app_headers_and_api(app):
    with urllib.request.urlopen(app + "/report") as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'none'" in csp and "default-src 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    with urllib.request.urlopen(app + "/api/openapi.json") as r:
        paths = json.load(r)["paths"]
    assert {"/api/search", "/api/report", "/api/article", "/api/captures", "/api/status"} <= set(paths)
    with urllib.request.urlopen(app + "/api/report?kind=same_story") as r:
        data = json.load(r)
    assert [rel["kind"] for c in data["clusters"] for rel in c["relations"]] == ["same_story"]
    with urllib.request.urlopen(app + "/api/report?size=1&page=3") as r:  # paged: the oldest cluster last
        data = json.load(r)
    assert data["report"]["totals"]["clusters"] == 3
    assert [c["original"].endswith("/en/lockbit-hospital") for c in data["clusters"]] == [True]
    with urllib.request.urlopen(app + "/api/status") as r:
        status = json.load(r)
    assert {k: v["articles"] for k, v in status["sources"].items()} == {
        "bleepingnews": 3,
        "fourhou": 2,
        "freebuf": 1,
        "reposter": 2,
        "securitywire": 2,
    }
    assert all(v["pages"] > v["articles"] and v["new_in_last_run"] == v["articles"] for v in status["sources"].values())
    with urllib.request.urlopen(app + "/api/search?q=" + quote("明尼苏达 医院")) as r:
        hits = json.load(r)
    assert hits["total"] == 3 and {h["source"] for h in hits["hits"]} == {"fourhou", "freebuf", "reposter"}
    for bad in (
        "/raw?url=" + quote("file:///etc/passwd"),
        "/raw?url=..%2F..%2Fetc%2Fpasswd",
        "/article?url=/etc/passwd",
    ):
        assert _status_of(app + bad) == 404
    assert _status_of(app + "/report?since=yesterday-ish") == 400
    assert _status_of(app + "/api/report?page=0") == 422


def test_network_bind_needs_a_token(site):
    archive = site[0]
    proc = run_cli("serve", "--archive", str(archive), "--host", "0.0.0.0", "--port", str(_free_port()))
    assert proc.returncode == 2 and b"token" in proc.stderr
    proc, base = _serve(archive, "--host", "0.0.0.0", env=cli_env(NEWSARCHIVE_TOKEN=TOKEN))
    try:
        for path in ("/", "/api/report", "/api/openapi.json", "/raw?url=x"):
            assert _status_of(base + path) == 401
        assert _status_of(base + "/api/status", {"Authorization": f"Bearer {TOKEN}"}) == 200
        assert _status_of(base + "/", {"Authorization": "Bearer wrong"}) == 401
        assert _status_of(base + "/", {"Authorization": f"Bearer {TOKEN}x"}) == 401
        assert _status_of(base + "/", {"Authorization": "Bearer tökén", "Cookie": "newsarchive_token=ä"}) == 401
    finally:
        _stop(proc)


def test_token_in_the_address_once_sets_a_cookie(site):
    archive = site[0]
    proc, base = _serve(archive, "--host", "0.0.0.0", "--token", TOKEN)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(base + "/status?token=" + TOKEN) as r:  # 303 to /status, the cookie set
            assert r.url == base + "/status" and b"bleepingnews" in r.read()
        with opener.open(base + "/report") as r:  # the cookie alone is enough from now on
            assert r.status == 200
        assert _status_of(base + "/status?token=" + TOKEN[:-1] + "x") == 401
    finally:
        _stop(proc)


@pytest.mark.pywb
@pytest.mark.skipif(pywb_missing() is not None, reason="pywb venv missing (make pywb)")
def test_serve_with_replay_links_to_pywb(site, browser):
    archive, bases, _names, tmp = site
    proc, base = _serve(archive, "--replay")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        url = bases["freebuf"] + "/zh/lockbit-hospital-2"
        page.goto(base + "/captures?url=" + quote(url))
        replay = page.locator("#captures a.replay").first.get_attribute("href")
        assert replay.startswith("http://127.0.0.1:") and replay.endswith("/" + url)
        assert page.locator("nav.top a", has_text="Replay (pywb)").count() == 1
        with urllib.request.urlopen(replay) as r:  # pywb's framed replay page
            assert r.status == 200
        prefix = replay[: -len("/" + url)]  # {pywb}/archive/{timestamp}
        with urllib.request.urlopen(f"{prefix}id_/{url}") as r:  # the page as captured
            assert "勒索攻击明尼苏达医院".encode() in r.read()
        page.close()
    finally:
        _stop(proc)
    # Stopping the app stops its pywb too (uvicorn re-raises SIGTERM; pywb must not be orphaned).
    pywb_port = int(replay.split("/")[2].rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", pywb_port), timeout=0.5).close()
        except OSError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"pywb still answers on port {pywb_port} after serve stopped")


def test_the_app_catches_up_with_new_warcs(site, tmp_path):
    """A crawl running beside the app adds WARC files: the next request after ``refresh_every`` indexes them."""
    import threading

    import uvicorn

    from crawler.archive.archive import Archive
    from crawler.report.texts import TextIndex
    from crawler.web.app import AppConfig, create_app

    archive_dir = tmp_path / "archive"
    shutil.copytree(site[0], archive_dir)
    archive = Archive.open(archive_dir)
    texts = TextIndex(archive_dir / "search.sqlite3")
    for table in ("docs_fts", "docs", "warcs"):  # as if the WARCs had arrived after the app started
        texts.conn.execute(f"DELETE FROM {table}")
    texts.commit()
    app = create_app(
        AppConfig(archive=archive, catalog_path=archive_dir / "dedup.sqlite3", texts=texts, refresh_every=0.0)
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=" + quote("勒索")) as r:
            assert json.load(r)["total"] == 5
    finally:
        server.should_exit = True
        thread.join(10)
        texts.close()
