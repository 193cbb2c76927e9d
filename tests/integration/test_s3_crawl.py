"""Crawling into S3 (a real SeaweedFS): retrieval, rebuild, credentials, replay, crashes, an outage."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env, write_sources
from tests.mockserver import MockServer, served_bytes


def s3_env(server, tmp: Path, identity: str = "admin", **extra: str) -> dict[str, str]:
    env = cli_env(**server.env(identity))
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        env.pop(var, None)
    env.update(AWS_CONFIG_FILE=str(tmp / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-creds"),
               ARCHIVE_CACHE_DIR=str(tmp / "cache"), ARCHIVE_SPOOL=str(tmp / "spool"))
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, timeout=timeout)


def crawl_args(sources: Path, uri: str, stats: Path, *extra: str) -> list[str]:
    return ["crawl", "--sources", str(sources), "--archive", uri, "--profile",
            str(REPO / "settings/profiles/test.toml"), "--stats-out", str(stats), "-s", "ITEM_PIPELINES={}", *extra]


@pytest.fixture(scope="module")
def s3_crawl(seaweedfs, mock_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s3-crawl")
    client = seaweedfs.client("admin")
    bucket = f"crawl-{os.getpid()}"
    client.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/warcs"
    sources = write_sources(tmp / "sources.toml", mock_server, start="/basic", feeds=False, sitemaps=False,
                            more_starts=("/redirect/301",), extra="follow_pattern = '/(basic|redirect/301)$'\n")
    env = s3_env(seaweedfs, tmp)
    proc = cli(env, *crawl_args(sources, uri, tmp / "stats.json"), cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"tmp": tmp, "uri": uri, "bucket": bucket, "env": env, "client": client, "sources": sources,
            "stats": json.loads((tmp / "stats.json").read_text())}


def keys(client, bucket: str) -> list[str]:
    return sorted(o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                  for o in page.get("Contents", []))


def test_crawl_stores_warcs_and_indexes_in_s3_and_empties_the_spool(s3_crawl) -> None:
    stored = keys(s3_crawl["client"], s3_crawl["bucket"])
    warcs = [k for k in stored if k.startswith("warcs/warcs/") and k.endswith(".warc.gz")]
    indexes = [k for k in stored if k.startswith("warcs/indexes/") and k.endswith(".cdxj")]
    assert warcs and len(indexes) == len(warcs)
    assert not list((s3_crawl["tmp"] / "spool").glob("*"))
    assert s3_crawl["stats"]["storage/files_stored"] == len(warcs)
    assert not s3_crawl["stats"].get("storage/upload_retries")


def test_get_from_a_fresh_machine_returns_the_served_bytes(s3_crawl, mock_server, tmp_path: Path) -> None:
    env = dict(s3_crawl["env"], ARCHIVE_CACHE_DIR=str(tmp_path / "fresh-cache"))
    for path in ("/gzip", "/articles/1", "/gbk"):
        proc = cli(env, "get", mock_server.url(path), "--archive", s3_crawl["uri"], "--raw")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == served_bytes(path)
    listing = cli(env, "list", mock_server.url("/redirect/301"), "--archive", s3_crawl["uri"])
    assert listing.returncode == 0 and b" 301 " in listing.stdout


def test_index_rebuild_from_s3_equals_the_crawls_index(s3_crawl) -> None:
    client, bucket = s3_crawl["client"], s3_crawl["bucket"]
    index_keys = [k for k in keys(client, bucket) if k.startswith("warcs/indexes/")]
    before = {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in index_keys}
    for k in index_keys:
        client.delete_object(Bucket=bucket, Key=k)
    proc = cli(s3_crawl["env"], "index", "rebuild", "--archive", s3_crawl["uri"])
    assert proc.returncode == 0, proc.stderr
    after = {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys(client, bucket)
             if k.startswith("warcs/indexes/")}
    assert after == before
    verify = cli(s3_crawl["env"], "verify", "--archive", s3_crawl["uri"])
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("identity, change, expected", [
    ("admin", {"AWS_SECRET_ACCESS_KEY": "wrong-secret-value"}, "SignatureDoesNotMatch"),
    ("admin", {"AWS_ACCESS_KEY_ID": "NOSUCHKEY"}, "InvalidAccessKeyId"),
    ("readonly", {}, "AccessDenied"),
])
def test_bad_credentials_stop_the_crawl_before_any_request(s3_crawl, seaweedfs, mock_server, tmp_path: Path,
                                                             identity: str, change: dict, expected: str) -> None:
    urllib_reset = __import__("urllib.request").request.urlopen
    urllib_reset(mock_server.url("/__reset")).read()
    env = s3_env(seaweedfs, tmp_path, identity, **change)
    proc = cli(env, *crawl_args(s3_crawl["sources"], s3_crawl["uri"], tmp_path / "stats.json"), cwd=tmp_path)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert expected in err and s3_crawl["bucket"] in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "wrong-secret-value" not in err and seaweedfs.identities[identity].secret_key not in err
    hits = json.load(urllib_reset(mock_server.url("/__hits")))
    assert hits == {}


def test_missing_bucket_and_unreachable_endpoint_are_exit_2(s3_crawl, seaweedfs, tmp_path: Path) -> None:
    from tests.seaweed import closed_port

    env = s3_env(seaweedfs, tmp_path)
    proc = cli(env, *crawl_args(s3_crawl["sources"], "s3://no-such-bucket-here/x", tmp_path / "s.json"))
    assert proc.returncode == 2 and b"no-such-bucket-here" in proc.stderr
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{closed_port()}"
    proc = cli(env, *crawl_args(s3_crawl["sources"], s3_crawl["uri"], tmp_path / "s.json"), timeout=120)
    assert proc.returncode == 2 and s3_crawl["bucket"].encode() in proc.stderr


def test_pywb_replays_a_page_straight_from_s3(s3_crawl, mock_server, tmp_path: Path, monkeypatch) -> None:
    replay = pytest.importorskip("crawler.replay")
    try:
        replay.find_pywb_venv()
    except replay.PywbNotFound as e:
        pytest.skip(f"pywb venv missing: {e}")
    from crawler.archive.storage import open_storage
    from tests.replay.test_pywb_replay import fetch

    for key, value in s3_crawl["env"].items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    storage = open_storage(s3_crawl["uri"])
    listing = cli(s3_crawl["env"], "list", mock_server.url("/articles/2"), "--archive", s3_crawl["uri"])
    ts = listing.stdout.decode().split()[0]
    config = replay.prepare_collection(s3_crawl["uri"], tmp_path, storage=storage)
    env = {k: v for k, v in s3_crawl["env"].items() if k.startswith("AWS_")}
    with replay.start_pywb(config, env=env) as server:
        page = fetch(server.replay_url(mock_server.url("/articles/2"), ts, "id_"))
    assert page.status == 200 and page.body == served_bytes("/articles/2")


# -- crashes and outages -----------------------------------------------------------------------------
def bench_sources(path: Path, server: MockServer) -> Path:
    path.write_text(
        "[[source]]\n"
        'name = "bench"\nlang = "en"\n'
        f'start_urls = ["{server.base_url}/"]\n'
        f'allowed_domains = ["{server.host}"]\n'
        "article_pattern = '/p/\\\\d+$'\nmax_depth = 50\nmax_pages = 100000\n",
        encoding="utf-8",
    )
    return path


def all_page_urls(server: MockServer, pages: int) -> set[str]:
    lists = -(-pages // 50)
    return ({server.url(f"/p/{i}") for i in range(pages)} | {server.url(f"/list/{k}") for k in range(lists)}
            | {server.url("/")})


def archived_urls(env, uri: str) -> tuple[set[str], list[str]]:
    from crawler.archive.archive import Archive

    old = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    try:
        archive = Archive.open(uri, cache_dir=env["ARCHIVE_CACHE_DIR"])
        archive.sync_catalog()
        entries = [e for e in archive.catalog.iter_all() if e.rec_type in ("response", "revisit")]
    finally:
        os.environ.clear()
        os.environ.update(old)
    return {e.url for e in entries}, [f"{e.filename}:{e.offset}" for e in entries]


def test_sigkill_at_random_moments_loses_nothing(seaweedfs, tmp_path: Path) -> None:
    """Five crawls killed with SIGKILL at random moments, each restarted; the last one finishes."""
    pages = 300
    rng = random.Random(20261128)
    client = seaweedfs.client("admin")
    bucket = f"kill-{os.getpid()}"
    client.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/a"
    env = s3_env(seaweedfs, tmp_path)
    with MockServer("bench", pages=pages, seed=3) as server:
        sources = bench_sources(tmp_path / "sources.toml", server)
        args = crawl_args(sources, uri, tmp_path / "stats.json", "-s", "WARC_MAX_SIZE=400000",
                          "-s", "CONCURRENT_REQUESTS=2", "-s", "DOWNLOAD_DELAY=0.01", "-s", "LOG_LEVEL=WARNING")
        interrupted = 0
        for _kill in range(5):
            proc = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=tmp_path, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.5, 5.0))
            interrupted += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert interrupted >= 4, "the kills must land while the crawler runs"
        final = cli(env, *args, cwd=tmp_path)
        assert final.returncode == 0, final.stderr[-3000:]
        urls, places = archived_urls(env, uri)
        assert all_page_urls(server, pages) <= urls
    assert len(places) == len(set(places))  # no record indexed twice
    verify = cli(env, "verify", "--archive", uri)
    assert verify.returncode == 0, verify.stdout.decode()[-3000:]
    assert not list((tmp_path / "spool").glob("*"))


#: How long SeaweedFS stays down: ten one-second retries at the test's ARCHIVE_UPLOAD_BACKOFF_MAX=1,
#: while the crawl goes on (about 20 s of pages at the test's rate).
OUTAGE_SECONDS = 10


def test_s3_outage_mid_crawl_is_waited_out(make_seaweedfs, tmp_path: Path) -> None:
    """SeaweedFS stops for OUTAGE_SECONDS in the middle of a crawl; the crawl spools, retries, finishes."""
    server_s3 = make_seaweedfs()
    client = server_s3.client("admin")
    client.create_bucket(Bucket="outage")
    uri = "s3://outage/a"
    env = s3_env(server_s3, tmp_path)
    pages = 300
    with MockServer("bench", pages=pages, seed=5) as site:
        sources = bench_sources(tmp_path / "sources.toml", site)
        args = crawl_args(sources, uri, tmp_path / "stats.json", "-s", "WARC_MAX_SIZE=300000",
                          "-s", "CONCURRENT_REQUESTS=1", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                          "-s", "DOWNLOAD_DELAY=0.05", "-s", "ARCHIVE_UPLOAD_BACKOFF_MAX=1",
                          "-s", "LOG_LEVEL=WARNING")
        proc = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # the outage starts once the crawl has stored a WARC: storage worked, the crawl is under way
        deadline = time.monotonic() + 120
        while (proc.poll() is None and time.monotonic() < deadline
               and not [k for k in keys(client, "outage") if k.endswith(".warc.gz")]):
            time.sleep(0.1)
        assert proc.poll() is None, "the crawl ended before the outage"
        server_s3.stop()
        time.sleep(OUTAGE_SECONDS)
        server_s3.start()
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        stats = json.loads((tmp_path / "stats.json").read_text())
        assert stats["storage/upload_retries"] >= 1
        assert not stats.get("storage/upload_failures")
        urls, places = archived_urls(env, uri)
        assert all_page_urls(site, pages) <= urls
    verify = cli(env, "verify", "--archive", uri)
    assert verify.returncode == 0, verify.stdout.decode()[-3000:]
