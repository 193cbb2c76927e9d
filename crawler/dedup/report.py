"""The editors' report: clusters of near-duplicate articles from the catalog, as HTML, JSON or CSV.

A cluster is a connected component of the flag graph (any kind). Members are listed by
publication date (capture date when the page gave none), so the first line is who published
first; each pair says what relates them and, for a translation, which side is the original.
Everything that came from a crawled page (titles, URLs, sources) is untrusted: the HTML
escapes every such string with :func:`html.escape` and links only ``http``/``https`` URLs.
The page is self-contained (inline CSS, no scripts, no external resources).
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.dedup.kinds import Kind
from crawler.dedup.store import ArticleStore, StoredArticle

FORMATS = ("html", "json", "csv")

#: Most telling relation first, for the order of pairs within a cluster.
_KIND_ORDER = {kind: n for n, kind in enumerate(Kind)}
_KIND_LABEL = {
    Kind.EXACT: "exact copy",
    Kind.REPOST: "repost",
    Kind.TRANSLATION: "translation",
    Kind.TRANSLATION_SIBLING: "two translations of one original",
    Kind.SAME_STORY: "same story",
    Kind.ATTRIBUTED: "names as its source",
}


@dataclass
class Pair:
    a: int
    b: int
    kind: Kind
    score: float
    basis: str
    #: For a translation: the id of the original (the translation points at it).
    original: int | None = None


@dataclass
class Cluster:
    members: list[StoredArticle]
    pairs: list[Pair] = field(default_factory=list)

    @property
    def first(self) -> StoredArticle:
        return self.members[0]


def _when(art: StoredArticle) -> float:
    w = art.when
    return w if w is not None else float("inf")


def clusters(store: ArticleStore) -> list[Cluster]:
    """Connected components over the stored flags, largest first; members by date."""
    flags = store.all_flags()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, *_rest in flags:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    arts = store.get_many(sorted(parent))
    groups: dict[int, Cluster] = {}
    for i in sorted(parent):
        if i in arts:
            groups.setdefault(find(i), Cluster(members=[])).members.append(arts[i])
    originals = _originals(store, flags, arts)
    for a, b, kind, score, basis in flags:
        if a in arts and b in arts:
            groups[find(a)].pairs.append(Pair(a, b, kind, float(score), basis, originals.get((a, b))))
    out = list(groups.values())
    for c in out:
        c.members.sort(key=lambda m: (_when(m), m.id))
        rank = {m.id: n for n, m in enumerate(c.members)}
        c.pairs.sort(key=lambda p: (_KIND_ORDER.get(p.kind, 9), -p.score, rank[p.a], rank[p.b]))
    out.sort(key=lambda c: (-len(c.members), _when(c.first), c.first.id))
    return out


def _originals(store: ArticleStore, flags: list[tuple], arts: dict[int, StoredArticle]) -> dict[tuple[int, int], int]:
    """Which side of each translation pair is the original (from the flag's detail)."""
    out: dict[tuple[int, int], int] = {}
    for a, b, kind, _score, _basis in flags:
        if kind != Kind.TRANSLATION or a not in arts or b not in arts:
            continue
        detail = next((f.detail for f in store.flags_of(a) if f.other == b), {})
        orig_url = detail.get("original")
        if orig_url == arts[a].url:
            out[(a, b)] = a
        elif orig_url == arts[b].url:
            out[(a, b)] = b
        else:  # no detail: the English side, else the earlier one
            x, y = arts[a], arts[b]
            if x.lang != y.lang and "en" in (x.lang, y.lang):
                out[(a, b)] = a if x.lang == "en" else b
            else:
                out[(a, b)] = a if _when(x) <= _when(y) else b
    return out


# --- output ---------------------------------------------------------------------------------
def _date(art: StoredArticle) -> str:
    w = art.when
    if w is None:
        return ""
    return datetime.fromtimestamp(w, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def safe_href(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL (safe in an href once escaped), else None."""
    if not url:
        return None
    u = url.strip()
    # Browsers drop tabs and newlines inside a scheme ("java\tscript:"): refuse any control character.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in u):
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return u


def _relation_text(p: Pair, by_id: dict[int, StoredArticle], rank: dict[int, int]) -> str:
    label = _KIND_LABEL.get(p.kind, p.kind)
    if p.kind == Kind.TRANSLATION and p.original is not None:
        translation = p.b if p.original == p.a else p.a
        return f"#{rank[translation]} translates #{rank[p.original]}"
    if p.kind == Kind.ATTRIBUTED:
        return f"#{rank[p.a]} / #{rank[p.b]}: {label}"
    return f"#{rank[p.a]} and #{rank[p.b]}: {label}"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
h1{font-size:1.5em}section{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:1em 0}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2em .5em;vertical-align:top}
tr+tr td{border-top:1px solid #eee}.n{color:#777;width:2.5em}.d{white-space:nowrap;color:#555}
.k{font-weight:600}.first{background:#f3f8ff}.u{color:#777;font-size:.85em;word-break:break-all}
""".strip()


def render_html(cs: list[Cluster]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No scripts, styles only inline, images and frames from nowhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        "<title>Near-duplicate articles</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Near-duplicate and translated articles</h1>",
        f"<p>{len(cs)} clusters, {sum(len(c.members) for c in cs)} articles. "
        "Members are listed by publication date: #1 published first.</p>",
    ]
    for n, c in enumerate(cs, 1):
        rank = {m.id: i for i, m in enumerate(c.members, 1)}
        by_id = {m.id: m for m in c.members}
        out.append(f'<section id="c{n}"><h2>Cluster {n}: {len(c.members)} articles</h2><table>')
        out.append("<tr><th>#</th><th>published</th><th>lang</th><th>source</th><th>title</th></tr>")
        for i, m in enumerate(c.members, 1):
            href = safe_href(m.url)
            title = e(m.title or m.url or "(untitled)")
            link = f'<a href="{e(href)}" rel="noopener noreferrer nofollow">{title}</a>' if href else title
            out.append(
                f'<tr class="{"first" if i == 1 else ""}"><td class="n">{i}</td><td class="d">{e(_date(m))}</td>'
                f"<td>{e(m.lang)}</td><td>{e(m.source or '')}</td>"
                f'<td>{link}<div class="u">{e(m.url or "")}</div></td></tr>'
            )
        out.append("</table><table><tr><th>relation</th><th>kind</th><th>score</th><th>basis</th></tr>")
        for p in c.pairs:
            out.append(
                f"<tr><td>{e(_relation_text(p, by_id, rank))}</td><td class=\"k\">{e(p.kind)}</td>"
                f"<td>{p.score:.3f}</td><td>{e(p.basis)}</td></tr>"
            )
        out.append("</table></section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _member_json(m: StoredArticle) -> dict[str, Any]:
    return {"id": m.id, "url": m.url, "title": m.title, "lang": m.lang, "source": m.source,
            "published": m.published, "captured": m.fetched_at}


def render_json(cs: list[Cluster]) -> str:
    data = []
    for n, c in enumerate(cs, 1):
        urls = {m.id: m.url for m in c.members}
        data.append({
            "cluster": n,
            "first": c.first.url,
            "members": [_member_json(m) for m in c.members],
            "pairs": [
                {"a": urls[p.a], "b": urls[p.b], "kind": p.kind, "score": round(p.score, 4), "basis": p.basis,
                 **({"original": urls[p.original]} if p.original is not None else {})}
                for p in c.pairs
            ],
        })
    return json.dumps({"clusters": data}, ensure_ascii=False, indent=2) + "\n"


def render_csv(cs: list[Cluster]) -> str:
    """One row per pair; a spreadsheet sorts and filters it."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["cluster", "kind", "score", "basis", "original", "a_url", "a_title", "a_published",
                "b_url", "b_title", "b_published"])
    for n, c in enumerate(cs, 1):
        by_id = {m.id: m for m in c.members}
        for p in c.pairs:
            a, b = by_id[p.a], by_id[p.b]
            if _when(b) < _when(a):
                a, b = b, a
            orig = by_id[p.original].url if p.original is not None else ""
            w.writerow([n, p.kind, f"{p.score:.4f}", p.basis, orig, a.url, _cell(a.title), a.published or "",
                        b.url, _cell(b.title), b.published or ""])
    return buf.getvalue()


def _cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: crawled titles must stay text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


_RENDER = {"html": render_html, "json": render_json, "csv": render_csv}


def write_report(catalog_path: str | Path, out_path: str | Path, fmt: str | None = None) -> int:
    """Write the report of the catalog at ``catalog_path``; returns the number of clusters.

    ``fmt`` is ``html``, ``json`` or ``csv``; by default it follows ``out_path``'s suffix
    (``.json``, ``.csv``), else HTML.
    """
    if fmt is None:
        suffix = Path(out_path).suffix.lower().lstrip(".")
        fmt = suffix if suffix in _RENDER else "html"
    if fmt not in _RENDER:
        raise ValueError(f"unknown report format: {fmt} (one of {', '.join(FORMATS)})")
    if not Path(catalog_path).is_file():
        raise FileNotFoundError(f"no dedup catalog at {catalog_path}")
    store = ArticleStore(catalog_path)
    try:
        cs = clusters(store)
    finally:
        store.close()
    Path(out_path).write_text(_RENDER[fmt](cs), encoding="utf-8")
    return len(cs)


__all__ = ["Cluster", "Pair", "clusters", "render_csv", "render_html", "render_json", "safe_href", "write_report"]
