"""`newsarchive` run in-process through `main([...])`: every mistake is one line and an exit code, never a traceback.

No crawl runs here (a crawl owns its reactor; tests/integration/ runs those in subprocesses):
commands that would crawl are only given cases that stop before the first request.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from crawler.archive.archive import Archive
from crawler.archive.writer import RollingWarcWriter
from crawler.cli import main
from tests.archive.test_writer import FIXED, exchange
from tests.seaweed import closed_port

URL = "http://127.0.0.1:8/0"
_ENV = ("ARCHIVE_URI", "ARCHIVE_SPOOL", "ARCHIVE_CACHE_DIR", "NEWSARCHIVE_SOURCES", "LOG_LEVEL", "WARC_OPERATOR",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "PYWB_VENV")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the caller's environment, a private cache and no AWS config files."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The single stderr line a failing command prints (asserted so)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("newsarchive: "), err
    assert "Traceback" not in err
    return lines[0]


def build_archive(root: Path, n: int = 3) -> Archive:
    archive = Archive.open(root)
    writer = RollingWarcWriter(archive.spool_dir, archive.publish, clock=lambda: FIXED, hostname="h", pid=1)
    for i in range(n):
        writer.write_exchange(exchange(url=f"http://127.0.0.1:8/{i}", body=b"<p>page %d</p>" % i,
                                       response_id=f"<urn:uuid:{i}>", request_id=f"<urn:uuid:r{i}>"))
    writer.close()
    archive.catalog.close()
    return archive


def garbage_warc() -> bytes:
    return gzip.compress(b"this is not a WARC record\r\n" * 20)


# -- every subcommand against each kind of trouble ----------------------------------------
def _sources(tmp: Path) -> Path:
    port = closed_port()
    path = tmp / "sources.toml"
    path.write_text(f'[[source]]\nname = "down"\nlang = "en"\nstart_urls = ["http://127.0.0.1:{port}/"]\n'
                    f'allowed_domains = ["127.0.0.1:{port}"]\narticle_pattern = "/a/"\n', encoding="utf-8")
    return path


COMMANDS = ("crawl", "list", "get", "index rebuild", "upload", "verify", "replay", "dups", "dedup rebuild", "report",
            "export")


def _commands(tmp: Path) -> dict[str, list[str]]:
    spool = tmp / "spool-in"
    return {
        "crawl": ["crawl", "--sources", _sources(tmp)],
        "list": ["list", URL],
        "get": ["get", URL],
        "index rebuild": ["index", "rebuild"],
        "upload": ["upload", "--spool", spool],
        "verify": ["verify"],
        "replay": ["replay", "--port", "0", "--pywb-venv", tmp / "no-pywb"],
        "dups": ["dups", URL],
        "dedup rebuild": ["dedup", "rebuild"],
        "report": ["report", "-o", tmp / "report.html"],
        "export": ["export", "--wacz", tmp / "out.wacz"],
    }


def _missing(tmp: Path) -> list[str]:
    return ["--archive", tmp / "no-such-archive"]


def _unreachable_s3(tmp: Path) -> list[str]:
    (tmp / "spool-in").mkdir(exist_ok=True)
    (tmp / "spool-in" / "x.warc.gz").write_bytes(garbage_warc())  # upload must reach the store
    return ["--archive", "s3://bucket/prefix", "-s", f"AWS_ENDPOINT_URL=http://127.0.0.1:{closed_port()}",
            "-s", "AWS_ACCESS_KEY_ID=key", "-s", "AWS_SECRET_ACCESS_KEY=secret"]


def _corrupt_warc(tmp: Path) -> list[str]:
    root = tmp / "corrupt"
    (root / "warcs").mkdir(parents=True)
    (root / "warcs" / "bad.warc.gz").write_bytes(garbage_warc())
    (tmp / "spool-in").mkdir(exist_ok=True)
    (tmp / "spool-in" / "bad.warc.gz").write_bytes(garbage_warc())
    return ["--archive", root]


def _missing_catalog(tmp: Path) -> list[str]:
    build_archive(tmp / "archive")
    return ["--archive", tmp / "archive"]


CASES = {"missing archive": _missing, "unreachable S3": _unreachable_s3, "corrupt WARC": _corrupt_warc,
         "missing catalog": _missing_catalog}
#: A crawl into a missing folder creates it and crawls (tests/integration does that); a corrupt
#: WARC or a missing catalog are no trouble for a crawl; only the dedup commands need the catalog.
NOT_TROUBLE = {("crawl", "missing archive"), ("crawl", "corrupt WARC"), ("crawl", "missing catalog")} | {
    (c, "missing catalog") for c in ("list", "get", "index rebuild", "upload", "verify", "replay", "dedup rebuild",
                                     "export")}
MATRIX = [(c, case) for case in CASES for c in COMMANDS if (c, case) not in NOT_TROUBLE]


@pytest.mark.parametrize("command, case", MATRIX, ids=[f"{c}-{case}".replace(" ", "_") for c, case in MATRIX])
def test_every_command_fails_in_one_line(command: str, case: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    where = CASES[case](tmp_path)
    argv = _commands(tmp_path)[command]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "xdg-cache" not in p.parts)
    code, _out, err = run(capsys, *argv, *where)
    line = one_line(err)
    assert code in (1, 2), line
    if case == "missing archive":
        assert code == 1 and "no archive at" in line or command == "upload" and "nothing to upload" in line
    if case == "unreachable S3":
        assert code == 2 and "cannot connect to the endpoint http://127.0.0.1:" in line, line
    if case == "missing catalog":
        assert f"newsarchive dedup rebuild --archive {tmp_path / 'archive'}" in line
    if command != "upload" and command != "crawl":
        after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "xdg-cache" not in p.parts)
        created = set(after) - set(before) - {Path("report.html")}
        if case != "missing archive":  # an existing archive may gain its capture catalog
            created -= {p for p in created if p.name.startswith("index.sqlite3")}
        assert not created, created


def test_a_corrupt_record_behind_a_good_index_is_one_line(tmp_path: Path, capsys) -> None:
    archive = build_archive(tmp_path / "archive")
    path = tmp_path / "archive" / "warcs" / archive.warc_names()[0]
    path.write_bytes(b"\x00" * path.stat().st_size)
    code, _out, err = run(capsys, "get", URL, "--archive", tmp_path / "archive")
    assert code == 1 and "not a readable WARC record" in one_line(err)
    code, out, err = run(capsys, "verify", "--archive", tmp_path / "archive")
    assert code == 1 and "problems in the archive" in one_line(err) and "unreadable" in out


# -- the settings stack: the same for every command ---------------------------------------
@pytest.mark.parametrize("argv", [
    ["list", URL], ["get", URL], ["verify"], ["index", "rebuild"], ["upload"], ["replay"], ["dups", URL],
    ["dedup", "rebuild"], ["report"], ["crawl"], ["export", "--wacz", "out.wacz"],
])
def test_every_command_takes_profile_and_set(argv: list[str], tmp_path: Path, capsys) -> None:
    """A misspelt -s name is refused by every command, so every command reads -s (and --profile)."""
    code, _out, err = run(capsys, *argv, "-s", "ARCHIVE_CACHE_DIRS=x")
    assert code == 2 and "unknown setting 'ARCHIVE_CACHE_DIRS' (did you mean `ARCHIVE_CACHE_DIR`?)" in one_line(err)
    profile = tmp_path / "p.toml"
    profile.write_text('[settings]\nWARC_MAX_SIZ = 5\n', encoding="utf-8")
    code, _out, err = run(capsys, *argv, "--profile", profile)
    line = one_line(err)
    assert code == 2 and str(profile) in line and "did you mean `WARC_MAX_SIZE`?" in line


def test_profile_archive_and_dedup_catalog_reach_reading_commands(tmp_path: Path, capsys) -> None:
    """ARCHIVE_URI and DEDUP_CATALOG from a profile are where `list` and `dups` look."""
    build_archive(tmp_path / "elsewhere")
    profile = tmp_path / "p.toml"
    profile.write_text(f'[settings]\nARCHIVE_URI = "{tmp_path / "elsewhere"}"\n'
                       f'DEDUP_CATALOG = "{tmp_path / "cat" / "d.sqlite3"}"\n', encoding="utf-8")
    code, out, _err = run(capsys, "list", URL, "--profile", profile)
    assert code == 0 and URL in out
    code, _out, err = run(capsys, "dups", URL, "--profile", profile)
    assert code == 1 and f"no dedup catalog at {tmp_path / 'cat' / 'd.sqlite3'}" in one_line(err)


def test_profile_names_resolve_from_the_project_not_the_working_directory(tmp_path: Path, capsys) -> None:
    from crawler.config import load_settings

    settings = load_settings(profile="test")  # the working directory is tmp_path (autouse fixture)
    assert settings.getint("RETRY_TIMES") == 0
    assert Path(settings.get("NEWSARCHIVE_SOURCES")).is_file()


def test_environment_is_read_when_settings_are_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from crawler.config import dedup_catalog_path, load_settings

    monkeypatch.setenv("ARCHIVE_CACHE_DIR", str(tmp_path / "c1"))
    assert dedup_catalog_path(load_settings(archive="s3://b/p")).is_relative_to(tmp_path / "c1")
    monkeypatch.setenv("ARCHIVE_CACHE_DIR", str(tmp_path / "c2"))
    assert dedup_catalog_path(load_settings(archive="s3://b/p")).is_relative_to(tmp_path / "c2")
    monkeypatch.delenv("ARCHIVE_CACHE_DIR")
    assert dedup_catalog_path(load_settings(archive="s3://b/p")).is_relative_to(tmp_path / "xdg-cache")


def test_command_line_beats_set_beats_profile(tmp_path: Path) -> None:
    from crawler.config import load_settings

    profile = tmp_path / "p.toml"
    profile.write_text('[settings]\nARCHIVE_URI = "from-profile"\nWARC_MAX_SIZE = 7\nCONCURRENT_REQUESTS = 3\n')
    s = load_settings(profile=str(profile), overrides=["WARC_MAX_SIZE=8", "ARCHIVE_URI=from-s"])
    assert (s.get("ARCHIVE_URI"), s.getint("WARC_MAX_SIZE"), s.getint("CONCURRENT_REQUESTS")) == ("from-s", 8, 3)
    s = load_settings(profile=str(profile), overrides=["ARCHIVE_URI=from-s"], archive="from-cli")
    assert s.get("ARCHIVE_URI") == "from-cli"


# -- issue 9: each mistake named, before the first request ------------------------------
@pytest.mark.parametrize("argv, message", [
    (["-s", "WARC_MAX_SIZE=abc"], "-s: setting WARC_MAX_SIZE: expected a number, got 'abc'"),
    (["-s", "ROBOTSTXT_OBEY=perhaps"], "-s: setting ROBOTSTXT_OBEY: expected true or false"),
    (["-s", "DEDUP_THRESHOLDS={story_min: 1}"], "-s: setting DEDUP_THRESHOLDS: expected a JSON object"),
    (["-s", "WARC_MAX_SIZE"], "-s wants NAME=VALUE, got 'WARC_MAX_SIZE'"),
    (["--log-level", "LOUD"], "log level 'LOUD': expected one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
    (["-s", "LOG_LEVEL=LOUD"], "log level 'LOUD'"),
    (["-O", "articles.txt"], "Unrecognized output format 'txt'"),
    (["--stats-out", "missing-dir/stats.json"], "folder"),
])
def test_crawl_refuses_bad_values_before_the_first_request(argv, message, tmp_path: Path, capsys) -> None:
    code, _out, err = run(capsys, "crawl", "--sources", _sources(tmp_path), "--archive", tmp_path / "a", *argv)
    assert code == 2 and message in one_line(err)
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("value, message", [
    ('CONCURRENT_REQUESTS = "many"', "setting CONCURRENT_REQUESTS: expected a number, got 'many'"),
    ("USER_AGENT = 5", "setting USER_AGENT: expected a string, got 5"),
    ("ITEM_PIPELINES = [1]", "setting ITEM_PIPELINES: expected a table"),
    ("AUTOTHROTTLE_ENABLED = 'no'", "setting AUTOTHROTTLE_ENABLED: expected true or false"),
    ("CONCURENT_REQUESTS = 4", "unknown setting 'CONCURENT_REQUESTS' (did you mean `CONCURRENT_REQUESTS`?)"),
])
def test_profile_values_have_their_settings_type(value: str, message: str, tmp_path: Path, capsys) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text(f"[settings]\n{value}\n", encoding="utf-8")
    code, _out, err = run(capsys, "crawl", "--sources", _sources(tmp_path), "--profile", profile,
                          "--archive", tmp_path / "a")
    line = one_line(err)
    assert code == 2 and message in line and str(profile) in line


def test_profile_beside_its_settings_table_is_refused(tmp_path: Path, capsys) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('WARC_MAX_SIZE = 5\n[settings]\n', encoding="utf-8")
    code, _out, err = run(capsys, "list", URL, "--profile", profile)
    assert code == 2 and "unknown table or key 'WARC_MAX_SIZE'" in one_line(err)


def test_the_projects_profiles_are_valid(capsys) -> None:
    from crawler.config import load_profile, profiles_dir

    for path in profiles_dir().glob("*.toml"):
        load_profile(path.stem)


@pytest.mark.parametrize("extra, message", [
    ("folow_pattern = '/x/'\n", "source 'down': unknown key 'folow_pattern' (did you mean `follow_pattern`?)"),
    ("max_page = 5\n", "unknown key 'max_page' (did you mean `max_pages`?)"),
    ("feed = ['http://127.0.0.1/f']\n", "unknown key 'feed' (did you mean `feeds`?)"),
])
def test_unknown_source_keys_stop_the_crawl(extra: str, message: str, tmp_path: Path, capsys) -> None:
    sources = _sources(tmp_path)
    sources.write_text(sources.read_text() + extra)
    code, _out, err = run(capsys, "crawl", "--sources", sources, "--archive", tmp_path / "a")
    line = one_line(err)
    assert code == 2 and message in line and str(sources) in line


def test_unknown_top_level_key_in_sources(tmp_path: Path, capsys) -> None:
    sources = _sources(tmp_path)
    sources.write_text("sorce = 1\n" + sources.read_text())
    code, _out, err = run(capsys, "crawl", "--sources", sources, "--archive", tmp_path / "a")
    assert code == 2 and "unknown key 'sorce' (did you mean `source`?)" in one_line(err)


def test_archive_that_is_a_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "f").write_text("x")
    for argv in (["list", URL], ["verify"], ["dups", URL], ["report"]):
        code, _out, err = run(capsys, *argv, "--archive", tmp_path / "f")
        assert code == 2 and "is a file, not an archive folder" in one_line(err), argv


def test_report_into_a_missing_folder(tmp_path: Path, capsys) -> None:
    code, _out, err = run(capsys, "report", "-o", "missing-dir/x.html", "--archive", tmp_path)
    assert code == 2 and "missing-dir" in one_line(err) and "does not exist" in err
    assert not (tmp_path / "missing-dir").exists()


@pytest.mark.parametrize("argv, message", [
    (["verify"], "no WARC files in the archive"),
    (["index", "rebuild"], "nothing to index"),
    (["dedup", "rebuild"], "nothing to rebuild the dedup catalog from"),
])
def test_empty_archive_is_said_and_fails(argv, message, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty" / "warcs").mkdir(parents=True)
    code, out, err = run(capsys, *argv, "--archive", tmp_path / "empty")
    assert code == 1 and message in one_line(err)


def test_dedup_rebuild_without_article_records_fails(tmp_path: Path, capsys) -> None:
    build_archive(tmp_path / "archive")
    code, out, err = run(capsys, "dedup", "rebuild", "--archive", tmp_path / "archive")
    assert code == 1 and "no article metadata records in the 1 WARC files" in one_line(err)
    assert "warcs=1" in out


def test_reading_commands_work_on_a_good_archive(tmp_path: Path, capsys) -> None:
    build_archive(tmp_path / "archive")
    code, out, _ = run(capsys, "list", URL, "--archive", tmp_path / "archive")
    assert code == 0 and URL in out
    code, out, _ = run(capsys, "get", URL, "--archive", tmp_path / "archive")
    assert code == 0 and "page 0" in out
    code, out, _ = run(capsys, "verify", "--archive", tmp_path / "archive")
    assert code == 0 and "0 problems" in out
    code, out, _ = run(capsys, "index", "rebuild", "--archive", tmp_path / "archive")
    assert code == 0 and "indexed 3 records" in out
    code, _, err = run(capsys, "list", "http://127.0.0.1:8/nope", "--archive", tmp_path / "archive")
    assert code == 1 and "no captures of http://127.0.0.1:8/nope" in one_line(err)


def test_upload_with_an_empty_spool_touches_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "spool").mkdir()
    code, out, _ = run(capsys, "upload", "--spool", tmp_path / "spool", "--archive", tmp_path / "new")
    assert code == 0 and "nothing to upload" in out
    assert not (tmp_path / "new").exists()


def test_keyboard_interrupt_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    import crawler.cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(crawler.cli.COMMANDS, "list", interrupted)
    code, _out, err = run(capsys, "list", URL)
    assert code == 1 and one_line(err) == "newsarchive: interrupted"


def test_s3_errors_name_the_archive_not_a_doubled_prefix(tmp_path: Path) -> None:
    from crawler.archive.storage import StorageError
    from crawler.archive.storage.s3 import S3Storage

    storage = S3Storage("bucket", "warcs", endpoint_url=f"http://127.0.0.1:{closed_port()}", access_key="k",
                        secret_key="s", max_attempts=1)
    with pytest.raises(StorageError) as e:
        list(storage.list("warcs/"))
    message = str(e.value)
    assert "warcs/warcs" not in message
    assert message.startswith("archive s3://bucket/warcs/: list 'warcs/' failed: cannot connect to the endpoint")
    assert os.linesep not in message


def test_unknown_source_name_is_named_with_the_closest(tmp_path: Path, capsys) -> None:
    code, _out, err = run(capsys, "crawl", "--sources", _sources(tmp_path), "--source", "dwn", "--archive", tmp_path / "a")
    assert code == 2 and "no source named 'dwn' (did you mean `down`?) (have: down)" in one_line(err)
