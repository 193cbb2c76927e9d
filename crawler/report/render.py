"""The duplicate report as HTML (Jinja2, autoescaped), CSV (UTF-8 with BOM) and JSON.

All three read one :class:`Report` (clusters from :mod:`crawler.dedup.clusters`), so the same
relation has the same orientation everywhere: ``a`` is the original (or earlier) side.
Everything that came from a crawled page is data: Jinja2 escapes it (no ``|safe`` anywhere),
only http(s) URLs become links, and the page carries a Content-Security-Policy that allows
no script at all and only our own stylesheet (by hash) and ``data:`` chart images.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from crawler.dedup.clusters import (
    CONFIDENCE_LEGEND,
    CONFIDENCE_WORDS,
    KIND_LABEL,
    Cluster,
    Filters,
    Member,
    Relation,
    display_anchor,
    member_words,
)
from crawler.report.links import get_command, replay_href, safe_href
from crawler.report.texts import excerpt

FORMATS = ("html", "csv", "json")
EXCERPT_SIZE = 240
CSV_BOM = "\ufeff"

CSS = resources.files("crawler.report").joinpath("report.css").read_text(encoding="utf-8")
#: The CSP source for our one inline stylesheet; nothing else inline is allowed.
CSS_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii") + "'"
CSP = f"default-src 'none'; style-src {CSS_HASH}; img-src data:; script-src 'none'; base-uri 'none'; form-action 'self'"


@dataclass
class Report:
    clusters: list[Cluster]
    filters: Filters = field(default_factory=Filters)
    archive: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Full texts by URL for the excerpts (only the members shown need to be here).
    texts: dict[str, str] = field(default_factory=dict)
    replay_base: str | None = None

    def totals(self) -> dict[str, Any]:
        members = [m for c in self.clusters for m in c.members]
        return {
            "clusters": len(self.clusters),
            "articles": len(members),
            "relations": sum(len(c.relations) for c in self.clusters),
            "by_kind": dict(Counter(r.kind for c in self.clusters for r in c.relations).most_common()),
            "by_outlet": dict(Counter(m.outlet for m in members).most_common()),
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "archive": self.archive,
            "filters": self.filters.describe(),
            "totals": self.totals(),
            "orientation": "a is the original side: for a translation, the article translated from; "
            "otherwise the earlier one",
            "confidence_legend": {CONFIDENCE_WORDS[k]: v for k, v in CONFIDENCE_LEGEND.items()},
        }


# --- shared helpers ---------------------------------------------------------------------------
def fmt_time(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_iso(iso: str | None) -> str:
    """A stored date as ``YYYY-MM-DD HH:MM UTC`` (a date-only value stays a date)."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if len(iso) <= 10:
        return dt.strftime("%Y-%m-%d")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@functools.lru_cache(maxsize=256)
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    # Latin anchors match whole words only ("st" must not light up "postpone").
    return re.compile("|".join(r"(?<![A-Za-z0-9])" + re.escape(t) + r"(?![A-Za-z0-9])" for t in terms), re.IGNORECASE)


def highlight(text: str, words: Iterable[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_shared_anchor) for the template to wrap in ``<mark>``."""
    terms = tuple(sorted({w for w in words if len(w) >= 3 or not w.isascii()}, key=lambda t: (-len(t), t)))
    if not terms or not text:
        return [(text, False)]
    rx = _terms_pattern(terms)
    out, pos = [], 0
    for m in rx.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def _anchor_words(r: Relation) -> list[str]:
    """Shared anchors, the telling ones first: ids and figures (with digits), then the longest names."""
    words = [display_anchor(a) for a in r.shared_anchors]
    return sorted(words, key=lambda w: (not any(ch.isdigit() for ch in w) or len(w) < 3, -len(w), w))


def _env() -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader("crawler.web", "templates"), PackageLoader("crawler.report", "templates")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        KIND_LABEL=KIND_LABEL,
        CONFIDENCE_WORDS=CONFIDENCE_WORDS,
        CONFIDENCE_LEGEND=CONFIDENCE_LEGEND,
        fmt_time=fmt_time,
        fmt_iso=fmt_iso,
        safe_href=safe_href,
        member_words=member_words,
        get_command=get_command,
        display_anchor=display_anchor,
        highlight=highlight,
        CSS=Markup(CSS),  # our own stylesheet (its hash is in the CSP), never crawled data
    )
    return env


ENV = _env()


class ClusterView:
    """What the cluster template needs, computed once per cluster."""

    def __init__(
        self, cluster: Cluster, texts: dict[str, str], replay_base: str | None, archived_href: Any = None
    ) -> None:
        self.c = cluster
        self.id = cluster.id
        self.members = cluster.members
        self.original = cluster.original
        self.relations = cluster.relations
        self._texts = texts
        self._replay = replay_base
        self._archived = archived_href

    def archived(self, m: Member) -> str | None:
        if self._archived is not None:
            return self._archived(m)
        return replay_href(self._replay, m.url, m.captured)

    def excerpts(self, r: Relation) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
        words = _anchor_words(r)
        return (
            highlight(excerpt(self._texts.get(r.a.url, ""), words, EXCERPT_SIZE), words),
            highlight(excerpt(self._texts.get(r.b.url, ""), words, EXCERPT_SIZE), words),
        )

    def anchors(self, r: Relation) -> list[str]:
        return _anchor_words(r)

    def headline(self) -> str:
        kinds = self.c.kinds()
        return ", ".join(KIND_LABEL.get(k, k) for k in kinds)


#: Clusters rendered per chunk written: fewer, larger writes than Jinja's generator gives.
HTML_BATCH = 100
_CLUSTERS_MARK = "<!--clusters-->"  # never in data: every "<" from a crawled page is escaped


def render_html(report: Report, charts: list[tuple[str, str]] | None = None) -> Iterator[str]:
    """The report page, streamed cluster by cluster (10,000 clusters are tens of MB of HTML)."""
    from crawler.report.charts import all_charts

    page = ENV.get_template("report.html").render(
        report=report,
        meta=report.metadata(),
        totals=report.totals(),
        csp=CSP,
        charts=charts if charts is not None else all_charts(report.clusters),
    )
    head, tail = page.split(_CLUSTERS_MARK, 1)
    yield head
    tpl = ENV.get_template("_cluster.html")
    batch: list[str] = []
    for c in report.clusters:
        batch.append(tpl.render(v=ClusterView(c, report.texts, report.replay_base)))
        if len(batch) >= HTML_BATCH:
            yield "".join(batch)
            batch.clear()
    yield "".join(batch)
    yield tail


# --- CSV and JSON ---------------------------------------------------------------------------------
CSV_COLUMNS = [
    "cluster",
    "kind",
    "confidence",
    "score",
    "basis",
    "shared_anchors",
    "a_source",
    "a_lang",
    "a_title",
    "a_url",
    "a_published",
    "a_captured",
    "b_source",
    "b_lang",
    "b_title",
    "b_url",
    "b_published",
    "b_captured",
    "b_delay",
]


def _cell(value: str | None) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: crawled titles must stay text.
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def render_csv(report: Report) -> Iterator[str]:
    """One row per relation, ``a`` the original side; UTF-8 with a BOM so Excel reads Chinese."""
    buf = io.StringIO()
    w = csv.writer(buf)
    buf.write(CSV_BOM)
    w.writerow(CSV_COLUMNS)
    for c in report.clusters:
        for r in c.relations:
            delay = (r.b.when - r.a.when) if (r.a.when is not None and r.b.when is not None) else None
            w.writerow(
                [
                    c.id,
                    r.kind,
                    CONFIDENCE_WORDS[r.confidence],
                    f"{r.score:.3f}",
                    r.basis,
                    _cell("; ".join(_anchor_words(r))),
                    *(_cell(v) for v in (r.a.outlet, r.a.lang, r.a.title, r.a.url, r.a.published, r.a.captured)),
                    *(_cell(v) for v in (r.b.outlet, r.b.lang, r.b.title, r.b.url, r.b.published, r.b.captured)),
                    "" if delay is None else f"{delay / 3600:.1f} h",
                ]
            )
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def member_json(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "url": m.url,
        "source": m.outlet,
        "lang": m.lang,
        "title": m.title,
        "published": m.published,
        "captured": m.captured,
        "role": m.role,
        "delay_seconds": None if m.delta is None else round(m.delta),
        "words": member_words(m),
    }


def relation_json(r: Relation) -> dict[str, Any]:
    return {
        "a": r.a.url,
        "b": r.b.url,
        "kind": r.kind,
        "confidence": r.confidence,
        "confidence_words": CONFIDENCE_WORDS[r.confidence],
        "score": round(r.score, 4),
        "basis": r.basis,
        "shared_anchors": _anchor_words(r),
    }


def cluster_json(c: Cluster) -> dict[str, Any]:
    return {
        "id": c.id,
        "original": c.original.url,
        "kinds": c.kinds(),
        "members": [member_json(m) for m in c.members],
        "relations": [relation_json(r) for r in c.relations],
    }


def render_json(report: Report) -> Iterator[str]:
    """``{"report": metadata, "clusters": [...]}``, streamed one cluster at a time."""
    yield '{"report": ' + json.dumps(report.metadata(), ensure_ascii=False, indent=1) + ',\n"clusters": ['
    for n, c in enumerate(report.clusters):
        yield ("," if n else "") + "\n" + json.dumps(cluster_json(c), ensure_ascii=False)
    yield "\n]}\n"


RENDERERS = {"html": render_html, "csv": render_csv, "json": render_json}
