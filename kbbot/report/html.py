"""The report as one static HTML file with inline SVG charts: no script, no stylesheet or font from a CDN, so a
team lead can open it from a mail attachment on a plane.

Every chart is an `<svg class="chart" id="...">` whose bars are `<rect class="bar">` with a `<title>` (the
browser shows it on hover). Everything from the store is escaped: questions are people's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from kbbot.report.build import Report

TOP_GAPS = 20
TOP_ARTICLES = 15
# one palette, colour-blind safe (Okabe-Ito); words, not emoji, in the charts: a machine without an emoji font
# draws 👎 as an empty box
COLOURS = {
    "resolved": "#009E73",
    "escalated": "#D55E00",
    "abandoned": "#E69F00",
    "no match": "#CC79A7",
    "open": "#999999",
    "answer rate": "#0072B2",
    "resolution rate": "#009E73",
    "didn't work": "#0072B2",
    "down votes": "#CC79A7",
}
_FALLBACK_COLOUR = "#56B4E9"

Series = Sequence[tuple[str, float]]


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def _legend(names: Sequence[str], *, x: float, y: float) -> list[str]:
    parts: list[str] = []
    for i, name in enumerate(names):
        lx = x + i * 130
        colour = COLOURS.get(name, _FALLBACK_COLOUR)
        parts.append(f'<rect x="{lx}" y="{y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16}" y="{y + 11}">{escape(name)}</text>')
    return parts


def stacked_hbars(chart_id: str, title: str, rows: Sequence[tuple[str, Series]], *, label_width: int = 120) -> str:
    """One horizontal bar per row, its series stacked; bars share one scale (the longest row's total)."""
    bar_h, gap, width = 22, 8, 720
    plot = width - label_width - 60
    longest = max((sum(v for _, v in series) for _, series in rows), default=0) or 1
    names = list(dict.fromkeys(name for _, series in rows for name, _ in series))
    height = 40 + len(rows) * (bar_h + gap) + 30
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<text class="chart-title" x="0" y="16">{escape(title)}</text>',
    ]
    for r, (label, series) in enumerate(rows):
        y = 30 + r * (bar_h + gap)
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        x = float(label_width)
        for name, value in series:
            if value <= 0:
                continue
            w = plot * value / longest
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{COLOURS.get(name, _FALLBACK_COLOUR)}"><title>{escape(label)}: {escape(name)} '
                f"{value:g}</title></rect>"
            )
            x += w
        total = sum(v for _, v in series)
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{total:g}</text>')
    parts += _legend(names, x=label_width, y=height - 18)
    parts.append("</svg>")
    return "".join(parts)


def grouped_vbars(chart_id: str, title: str, groups: Sequence[tuple[str, Series]]) -> str:
    """Rates (0..1) as side-by-side vertical bars per group: one group per ISO week."""
    plot_h, top, left = 180, 30, 40
    names = list(dict.fromkeys(name for _, series in groups for name, _ in series))
    bar_w = 14
    group_w = max(1, len(names)) * bar_w + 16
    width = max(360, left + len(groups) * group_w + 20)
    height = top + plot_h + 60
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<text class="chart-title" x="0" y="16">{escape(title)}</text>',
    ]
    for tick in (0, 0.5, 1):
        y = top + plot_h * (1 - tick)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{tick:.0%}</text>')
    for g, (label, series) in enumerate(groups):
        x0 = left + 8 + g * group_w
        for s, (name, value) in enumerate(series):
            h = plot_h * max(0.0, min(1.0, value))
            parts.append(
                f'<rect class="bar" x="{x0 + s * bar_w}" y="{top + plot_h - h:.1f}" width="{bar_w - 2}" '
                f'height="{h:.1f}" fill="{COLOURS.get(name, _FALLBACK_COLOUR)}"><title>{escape(label)}: '
                f"{escape(name)} {value:.0%}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + len(series) * bar_w / 2}" y="{top + plot_h + 14}" text-anchor="middle" '
            f'font-size="10">{escape(label[5:])}</text>'
        )
    parts += _legend(names, x=left, y=height - 18)
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; } .figure { background: #f5f5f5; padding: .6em 1em; }
.figure b { display: block; font-size: 1.6em; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #eee; padding: .3em .5em;
text-align: left; vertical-align: top; } td.n, th.n { text-align: right; }
svg.chart { display: block; margin: 1em 0; font-size: 12px; } .chart-title { font-weight: bold; }
"""


def render_html(report: Report) -> str:
    j = report.to_json()
    period = f"{j['since'][:10]} to {j['until'][:10]}"
    figures = [
        ("threads", str(report.threads)),
        ("answer rate", _pct(report.answer_rate)),
        ("resolution rate", _pct(report.resolution_rate)),
        ("escalated", str(report.escalated)),
        ("no match", str(report.no_match)),
        ("votes up / down", f"{report.votes_up} / {report.votes_down}"),
    ]
    body = [
        f"<h1>kbbot report, {escape(period)}</h1>",
        '<div class="figures">'
        + "".join(f'<div class="figure"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in figures)
        + "</div>",
        "<h2>What became of the threads</h2>",
        stacked_hbars("outcomes", "Threads by outcome", [("threads", [
            ("resolved", report.resolved), ("escalated", report.escalated), ("abandoned", report.abandoned),
            ("no match", report.no_match), ("open", report.open)])]),
        "<h2>Per week</h2>",
        grouped_vbars("weekly-rates", "Answer rate and resolution rate per ISO week", [
            (w.week, [("answer rate", w.answer_rate or 0.0), ("resolution rate", w.resolution_rate or 0.0)])
            for w in report.weeks]),
    ]  # fmt: skip
    failing = report.failing_articles(TOP_ARTICLES)
    body.append("<h2>Articles that let people down</h2>")
    if failing:
        bars = [(a.id, [("didn't work", a.failed), ("down votes", a.down), ("escalated", a.escalated)])
                for a in failing]  # fmt: skip
        body.append(stacked_hbars("failing-articles", "Didn't work, down votes and escalations by article", bars))
    else:
        body.append("<p>None in this period.</p>")
    if report.reasons:
        reasons = [(reason.replace("_", " "), [("down votes", float(n))]) for reason, n in report.reasons.items()]
        body.append(stacked_hbars("vote-reasons", "Why people voted down", reasons, label_width=140))
    body.append("<h2>Knowledge gaps</h2>")
    if report.gaps:
        rows = "".join(
            f'<tr><td class="n">{g.count}</td><td class="n">{g.no_match}</td><td class="n">{g.shortlist}</td><td>'
            + ("<br>".join(escape(e) for e in g.examples) or "<i>question text not kept</i>")
            + "</td></tr>"
            for g in report.gaps[:TOP_GAPS]
        )
        body.append(
            '<table id="gaps"><tr><th class="n">asked</th><th class="n">no match</th><th class="n">short list</th>'
            f"<th>examples</th></tr>{rows}</table>"
        )
    else:
        body.append("<p>None: every question found an article.</p>")
    body.append("<h2>Articles</h2>")
    article_rows = "".join(
        f'<tr><td>{escape(a.id)}</td><td class="n">{a.offered}</td><td class="n">{a.resolved}</td>'
        f'<td class="n">{a.failed}</td><td class="n">{a.up}</td><td class="n">{a.down}</td>'
        f'<td class="n">{a.escalated}</td><td>'
        + escape(", ".join(f"{label} ×{n}" for label, n in a.to_json()["failed_at_step"].items()))
        + "</td></tr>"
        for a in report.articles
    )
    body.append(
        '<table id="articles"><tr><th>article</th><th class="n">offered</th><th class="n">resolved</th>'
        '<th class="n">didn\'t work</th><th class="n">votes up</th><th class="n">down</th>'
        '<th class="n">escalated</th>'
        f"<th>failed at step</th></tr>{article_rows}</table>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>kbbot report {escape(period)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
