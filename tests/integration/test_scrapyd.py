"""The scrapyd path of the README, against a real scrapyd the test starts: `scrapyd-deploy` builds and
uploads the project's egg, `schedule.json` runs the `news` spider on the local test site, and the
archive it writes holds the pages (`newsarchive list`, `verify`)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.archive.catalog import CaptureCatalog
from tests.conftest import REPO, run_cli, write_sources
from tests.mockserver import MockServer
from tests.seaweed import free_ports

BIN = Path(sys.executable).parent
#: What `scrapyd-deploy` needs of the checkout: the package, the build files, the project file.
DEPLOYED = ("crawler", "setup.py", "pyproject.toml", "README.md", "scrapy.cfg")


def _scrapyd_env() -> dict[str, str]:
    """scrapyd's environment: no PYTHONPATH to the checkout, so the job runs the deployed egg."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ARCHIVE_URI", "NEWSARCHIVE_SOURCES")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _api(url: str, data: dict[str, str | list[str]] | None = None) -> dict:
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=30) as response:
        return json.load(response)


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "scrapyd"
    home.mkdir()
    (port,) = free_ports(1, with_grpc=False)
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\neggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\nitems_dir =\ndbs_dir = {home / 'dbs'}\nmax_proc = 1\npoll_interval = 0.5\n")
    log = open(home / "scrapyd.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(BIN / "scrapyd")], cwd=home, env=_scrapyd_env(), stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (home / "scrapyd.out").read_text()[-3000:]
            try:
                if _api(url + "daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "scrapyd did not answer within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_deploy_schedule_and_archive_with_scrapyd(scrapyd: str, mock_server: MockServer, tmp_path: Path) -> None:
    # Deploy from a copy of the checkout (the build leaves build/ and *.egg-info behind), with the
    # [deploy] target of scrapy.cfg pointed at this test's scrapyd.
    project = tmp_path / "project"
    project.mkdir()
    for name in DEPLOYED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, project / name)
    cfg = (project / "scrapy.cfg").read_text()
    assert "url = http://127.0.0.1:6800/" in cfg and "project = newsarchive" in cfg
    (project / "scrapy.cfg").write_text(cfg.replace("http://127.0.0.1:6800/", scrapyd))
    deploy = subprocess.run([str(BIN / "scrapyd-deploy")], cwd=project, env=_scrapyd_env(), capture_output=True,
                            timeout=300)
    assert deploy.returncode == 0, deploy.stderr.decode()[-3000:]
    assert _api(scrapyd + "listspiders.json?project=newsarchive")["spiders"] == ["news"]

    sources = write_sources(tmp_path / "sources.toml", mock_server, start="/basic", feeds=False, sitemaps=False)
    archive = tmp_path / "archive"
    settings = {"NEWSARCHIVE_SOURCES": sources, "ARCHIVE_URI": archive, "AUTOTHROTTLE_ENABLED": "False",
                "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "RETRY_TIMES": "0"}
    job = _api(scrapyd + "schedule.json", {"project": "newsarchive", "spider": "news",
                                           "setting": [f"{k}={v}" for k, v in settings.items()]})
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 240
    while True:
        jobs = _api(scrapyd + "listjobs.json?project=newsarchive")
        if any(j["id"] == job["jobid"] for j in jobs["finished"]):
            break
        assert time.monotonic() < deadline, f"the job did not finish within 240 s: {jobs}"
        time.sleep(0.5)

    (log,) = (tmp_path / "scrapyd" / "logs" / "newsarchive" / "news").glob(f"{job['jobid']}.log")
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Spider closed (finished)" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "'source/mock/articles'" in text and "'archive/files_published': 1" in text, text[-3000:]
    catalog = CaptureCatalog(archive / "index.sqlite3")
    try:
        archived = {urllib.parse.urlsplit(e.url).path for e in catalog.iter_all() if e.rec_type == "response"}
    finally:
        catalog.close()
    assert {"/basic", *(f"/articles/{i}" for i in range(1, 6)), "/gzip", "/chunked", "/gbk"} <= archived, archived
    listed = run_cli("list", mock_server.url("/articles/1"), "--archive", str(archive))
    assert listed.returncode == 0 and b" 200 response " in listed.stdout, listed.stderr
    verified = run_cli("verify", "--archive", str(archive))
    assert verified.returncode == 0, verified.stdout.decode()[-2000:]
    assert b" 0 problems" in verified.stdout
