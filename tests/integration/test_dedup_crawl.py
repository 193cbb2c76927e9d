"""A crawl of a small news site with translations, reposts and hard negatives: the flags editors see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.archive.archive import Archive
from crawler.cli import main
from crawler.dedup.detector import find_related
from crawler.dedup.store import ArticleStore
from tests.conftest import crawl, run_cli
from tests.dedup.dedup_site import EXPECTED, NEGATIVES, PAGES, ZH_SOURCE_LINE, serve

TRANSLATION_KINDS = {"translation", "attributed"}


def find_duplicates(catalog: Path, url: str) -> list[dict]:
    with ArticleStore.open_existing(catalog) as store:
        return [m.as_item() for m in find_related(store, url)]


def crawl_site(tmp: Path, pages) -> tuple[Path, str, dict]:
    server = serve(pages)
    host = f"127.0.0.1:{server.server_address[1]}"
    base = f"http://{host}"
    sources = tmp / "sources.toml"
    sources.write_text(f'[[source]]\nname = "dedup"\nlang = "en"\nstart_urls = ["{base}/"]\n'
                       f'allowed_domains = ["{host}"]\narticle_pattern = \'/(en|zh)/[a-z0-9-]+$\'\n', encoding="utf-8")
    try:
        run = crawl(tmp, sources, tmp / "archive", "-O", str(tmp / "articles.jsonl"))
    finally:
        server.shutdown()
        server.server_close()
    assert run.proc.returncode == 0, run.log[-3000:]
    flags = {}
    for path in pages:
        for dup in find_duplicates(tmp / "archive" / "dedup.sqlite3", base + path):
            other = dup["url"][len(base):]
            flags[frozenset((path, other))] = dup["kind"]
    return tmp / "archive", base, flags


def _kind_ok(expected: str, got: str | None) -> bool:
    if expected == "translation":
        return got in TRANSLATION_KINDS
    return got == expected


@pytest.mark.parametrize("variant", ["with-source-line", "content-only"])
def test_crawl_flags_every_pair_and_no_negative(tmp_path: Path, variant: str) -> None:
    pages = dict(PAGES)
    if variant == "content-only":
        line = ZH_SOURCE_LINE.split("{base}")[0]
        pages = {p: (c, "\n".join(l for l in html.splitlines() if line not in l)) for p, (c, html) in PAGES.items()}
        assert not any(line in html for _, html in pages.values())
    archive, base, flags = crawl_site(tmp_path, pages)
    expected = list(EXPECTED) + [("/en/lockbit-hospital", "/zh/lockbit-hospital-2", "translation")]
    for a, b, kind in expected:
        got = flags.get(frozenset((a, b)))
        assert _kind_ok(kind, got), f"{a} ~ {b}: expected {kind}, got {got}; all flags: {flags}"
    for a, b in NEGATIVES:
        assert frozenset((a, b)) not in flags, f"negative {a} ~ {b} flagged {flags[frozenset((a, b))]}"

    # the whole dedup state comes back from the WARCs' metadata records alone
    catalog = archive / "dedup.sqlite3"
    before = {p: sorted((d["url"], d["kind"]) for d in find_duplicates(catalog, base + p)) for p in pages}
    catalog.unlink()
    proc = run_cli("dedup", "rebuild", "--archive", str(archive))
    assert proc.returncode == 0, proc.stderr
    after = {p: sorted((d["url"], d["kind"]) for d in find_duplicates(catalog, base + p)) for p in pages}
    assert after == before
    dups = run_cli("dups", base + "/en/lockbit-hospital", "--archive", str(archive))
    assert dups.returncode == 0 and b"/zh/lockbit-hospital" in dups.stdout
    assert b"shared " in dups.stdout, "a flag names its evidence"


def dups_of(archive: Path, url: str, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, float, str, str]]:
    """What `newsarchive dups URL` prints (run in-process): (kind, score, captured, url) per relation."""
    code = main(["dups", url, "--archive", str(archive)])
    out = capsys.readouterr().out
    assert code in (0, 1)
    # Indented lines explain the flag above them (basis and evidence).
    rows = [line.split() for line in out.splitlines() if not line.startswith(" ")] if code == 0 else []
    assert all(line.startswith("    ") for line in out.splitlines() if line.startswith(" "))
    return [(kind, float(score), captured, other) for kind, score, captured, other in rows]


def test_first_crawl_export_and_metadata_are_as_true_as_the_catalog(tmp_path: Path, capsys) -> None:
    """The first crawl's catalog settles at its end: its -O export then says, for every article,
    what `newsarchive dups` says; the WARC metadata records carry no flags to go stale."""
    archive, base, flags = crawl_site(tmp_path, PAGES)
    assert flags, "the site's articles relate"
    items = [json.loads(line) for line in (tmp_path / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    articles = [it for it in items if "duplicates" in it]
    assert {it["url"][len(base):] for it in articles} == set(PAGES)
    for it in articles:
        listed = dups_of(archive, it["url"], capsys)
        exported = [(d["kind"], d["score"], d["captured"] or "-", d["url"]) for d in it["duplicates"]]
        assert [(k, c, u) for k, _s, c, u in exported] == [(k, c, u) for k, _s, c, u in listed], it["url"]
        assert all(abs(a[1] - b[1]) <= 0.0006 for a, b in zip(exported, listed))  # 4 digits vs 3 printed
    assert sum(bool(it["duplicates"]) for it in articles) == len({p for pair in flags for p in pair})

    payloads = [json.loads(block) for block in Archive.open(archive).iter_metadata()]
    assert sorted(p["url"] for p in payloads) == sorted(it["url"] for it in articles)
    assert all("duplicates" not in p for p in payloads)
