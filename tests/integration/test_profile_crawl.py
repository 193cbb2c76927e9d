"""One settings stack for every command: a crawl into S3 configured by a profile and ARCHIVE_CACHE_DIR,
then `list`, `get`, `dups` and `report` (in-process) find everything it wrote, where it wrote it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crawler.cli import main
from tests.conftest import REPO, cli_env, run_cli
from tests.dedup.dedup_site import EXPECTED, PAGES
from tests.integration.test_dedup_crawl import serve

pytestmark = pytest.mark.s3

_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION")


def test_profile_and_cache_dir_reach_every_command(seaweedfs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bucket = f"profile-{os.getpid()}"
    seaweedfs.client("admin").create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/news"
    ident = seaweedfs.identities["admin"]
    # Endpoint and credentials only in the profile: the environment has no AWS_* at all.
    profile = tmp_path / "s3.toml"
    profile.write_text(
        (REPO / "settings" / "profiles" / "test.toml").read_text(encoding="utf-8")
        + f'ARCHIVE_URI = "{uri}"\nAWS_ENDPOINT_URL = "{seaweedfs.endpoint}"\n'
        f'AWS_ACCESS_KEY_ID = "{ident.access_key}"\nAWS_SECRET_ACCESS_KEY = "{ident.secret_key}"\n',
        encoding="utf-8")
    env = {"ARCHIVE_CACHE_DIR": str(tmp_path / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    child_env = {k: v for k, v in cli_env(**env).items() if k not in _AWS_ENV}

    server = serve(PAGES)
    host = f"127.0.0.1:{server.server_address[1]}"
    base = f"http://{host}"
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "dedup"\nlang = "en"\nstart_urls = ["{base}/"]\n'
                       f'allowed_domains = ["{host}"]\narticle_pattern = \'/(en|zh)/[a-z0-9-]+$\'\n', encoding="utf-8")
    try:
        proc = run_cli("crawl", "--sources", str(sources), "--profile", str(profile), "--stats-out",
                       str(tmp_path / "stats.json"), cwd=tmp_path, env=child_env)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "stats.json").read_text())["dedup/articles"] == len(PAGES)
    catalogs = sorted(p.name for p in (tmp_path / "cache").rglob("*.sqlite3"))
    assert catalogs == ["dedup.sqlite3", "index.sqlite3"]
    assert not (tmp_path / "xdg").exists()

    # The same profile and environment, in this process: every reading command finds it all.
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    for path in PAGES:
        assert main(["list", base + path, "--profile", str(profile)]) == 0
        assert base + path in capsys.readouterr().out
    assert main(["get", base + "/en/lockbit-hospital", "--profile", str(profile)]) == 0
    assert "St. Olaf Medical Center" in capsys.readouterr().out
    for a, b, _kind in EXPECTED:
        assert main(["dups", base + a, "--profile", str(profile)]) == 0
        assert base + b + "\n" in capsys.readouterr().out
    assert main(["report", "-o", str(tmp_path / "report.html"), "--profile", str(profile)]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert all(base + path in html for a, b, _ in EXPECTED for path in (a, b))
    assert not (tmp_path / "xdg").exists()

    # From "another machine" (an empty cache): the catalog is missing, and the message says how to build it.
    monkeypatch.setenv("ARCHIVE_CACHE_DIR", str(tmp_path / "other-machine"))
    assert main(["dups", base + "/en/lockbit-hospital", "--profile", str(profile)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"`newsarchive dedup rebuild --archive {uri}`" in err[0]
    assert main(["dedup", "rebuild", "--profile", str(profile)]) == 0
    capsys.readouterr()
    assert main(["dups", base + "/en/lockbit-hospital", "--profile", str(profile)]) == 0
    assert base + "/zh/lockbit-hospital\n" in capsys.readouterr().out
