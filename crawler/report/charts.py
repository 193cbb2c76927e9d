"""The report's charts, drawn server-side by pygal as SVG and shipped as ``data:`` images.

Why pygal: it renders plain SVG in Python (no browser, no JavaScript, no CDN), so the HTML
report stays one file that opens offline and survives being mailed. Each chart goes into an
``<img src="data:image/svg+xml;base64,...">``: an SVG loaded as an image runs no script and
its own ``<style>`` stays inside it, so the page's Content-Security-Policy can stay at
``script-src 'none'`` with only our own hashed stylesheet. pygal's tooltip script is turned
off (``js=[]``); outlet names are escaped by pygal's XML writer.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime

import pygal
from pygal.style import Style

from crawler.dedup.clusters import Cluster

#: Days shown on the per-day chart (the latest ones that have translations).
MAX_DAYS = 31
#: Outlets named on a chart; the rest are summed as "others".
MAX_OUTLETS = 8

_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#888",
    font_family="'WenQuanYi Zen Hei', 'Noto Sans CJK SC', sans-serif",
    colors=("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#999999"),
    title_font_size=16,
    no_data_font_size=18,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)


def _config(**extra: object) -> dict[str, object]:
    return dict(
        style=_STYLE,
        js=[],
        disable_xml_declaration=True,
        width=530,
        height=300,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        print_values=False,
        show_y_guides=True,
        truncate_label=24,
        truncate_legend=24,
        **extra,
    )


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def _top(counter: Counter[str], n: int = MAX_OUTLETS) -> list[str]:
    return [k for k, _ in counter.most_common(n)]


def translations_per_day(clusters: list[Cluster]) -> str:
    """Stacked bars: translations published per day, one colour per translating outlet."""
    per: Counter[tuple[str, str]] = Counter()
    outlets: Counter[str] = Counter()
    for c in clusters:
        for r in c.relations:
            if r.kind == "translation" and r.b.when is not None:
                per[(_day(r.b.when), r.b.outlet)] += 1
                outlets[r.b.outlet] += 1
    days = sorted({d for d, _ in per})[-MAX_DAYS:]
    chart = pygal.StackedBar(**_config(title="Translations per day, by translating outlet", x_label_rotation=30))
    chart.x_labels = days
    named = _top(outlets)
    for outlet in named:
        chart.add(outlet, [per.get((d, outlet), 0) for d in days])
    rest = [sum(v for (d2, o), v in per.items() if d2 == d and o not in named) for d in days]
    if any(rest):
        chart.add("others", rest)
    chart.no_data_text = "No translations in this range"
    _integer_axis(chart, max((sum(v for (d2, _o), v in per.items() if d2 == d) for d in days), default=0))
    return _data_uri(chart)


def _integer_axis(chart: pygal.graph.graph.Graph, top: int) -> None:
    """Counts are whole: no 0.1 .. 0.9 ticks on a small chart."""
    if 0 < top <= 10:
        chart.y_labels = list(range(0, top + 1))


def who_translates_whom(clusters: list[Cluster]) -> str:
    """Horizontal stacked bars: for each translating outlet, whose originals it translated."""
    pairs: Counter[tuple[str, str]] = Counter()
    translators: Counter[str] = Counter()
    originals: Counter[str] = Counter()
    for c in clusters:
        for r in c.relations:
            if r.kind == "translation":
                pairs[(r.b.outlet, r.a.outlet)] += 1
                translators[r.b.outlet] += 1
                originals[r.a.outlet] += 1
    rows = _top(translators)
    chart = pygal.HorizontalStackedBar(**_config(title="Who translates whom (translator ← original outlet)"))
    chart.x_labels = rows
    for orig in _top(originals):
        chart.add(orig, [pairs.get((t, orig), 0) for t in rows])
    chart.no_data_text = "No translations in this range"
    _integer_axis(chart, max(translators.values(), default=0))
    return _data_uri(chart)


def clusters_by_kind(clusters: list[Cluster]) -> str:
    """A pie of relations by kind."""
    kinds: Counter[str] = Counter(r.kind for c in clusters for r in c.relations)
    chart = pygal.Pie(**_config(title="Relations by kind", inner_radius=0.4))
    for kind, n in kinds.most_common():
        chart.add(kind.replace("_", " "), n)
    chart.no_data_text = "No relations"
    return _data_uri(chart)


def _data_uri(chart: pygal.graph.graph.Graph) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def all_charts(clusters: list[Cluster]) -> list[tuple[str, str]]:
    """``[(alt text, data URI)]`` in page order; a chart with nothing to draw is left out."""
    kinds = {r.kind for c in clusters for r in c.relations}
    charts = []
    if "translation" in kinds:
        charts.append(("Translations per day, by translating outlet", translations_per_day(clusters)))
        charts.append(("Who translates whom", who_translates_whom(clusters)))
    if kinds:
        charts.append(("Relations by kind", clusters_by_kind(clusters)))
    return charts
