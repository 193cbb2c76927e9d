"""`report` and `serve` in-process: their mistakes are one line and the right exit code, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    """Exit code and the last stderr line; our own errors are that one line (argparse adds its usage)."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 or err[0].startswith("usage:"), err
    return code, err[-1] if err else ""


@pytest.mark.parametrize(
    "argv,code,words",
    [
        (["serve"], 1, "no archive at"),
        (["report"], 1, "no archive at"),
        (["serve", "-s", "ARCHIVE_CACHE_DIRS=x"], 2, "unknown setting"),
        (["report", "--kind", "dupe"], 2, "invalid choice"),
    ],
)
def test_mistakes(argv, code, words, tmp_path: Path, capsys) -> None:
    got, line = _run(capsys, *argv, "--archive", tmp_path / "none")
    assert got == code and words in line


def test_report_options_checked_against_an_archive(tmp_path: Path, capsys) -> None:
    (tmp_path / "warcs").mkdir()
    got, line = _run(capsys, "report", "--archive", tmp_path)
    assert got == 1 and "no dedup catalog" in line and "newsarchive dedup rebuild" in line
    (tmp_path / "dedup.sqlite3").write_bytes(b"")
    got, line = _run(capsys, "report", "--archive", tmp_path, "--since", "last week", "-o", tmp_path / "r.csv")
    assert got == 2 and "last week" in line
    got, line = _run(capsys, "report", "--archive", tmp_path, "-o", tmp_path / "r.pdf", "--format", "pdf")
    assert got == 2


def test_network_bind_without_a_token_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("NEWSARCHIVE_TOKEN", raising=False)
    (tmp_path / "warcs").mkdir()
    got, line = _run(capsys, "serve", "--archive", tmp_path, "--host", "0.0.0.0")
    assert got == 2 and "token" in line
    got, line = _run(capsys, "serve", "--archive", tmp_path, "--host", "::", "--token", "short")
    assert got == 2 and "16 characters" in line
