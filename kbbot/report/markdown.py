"""The report as Markdown, short enough to post in a team channel: headline rates, top gaps, failing articles."""

from __future__ import annotations

from kbbot.report.build import Report

TOP_GAPS = 5
TOP_ARTICLES = 5


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"


def _escape(text: str) -> str:
    # People's words go into a channel post: escaped, "<!channel>" in a question cannot ping anyone
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def render_markdown(report: Report) -> str:
    j = report.to_json()
    lines = [
        f"## kbbot report, {j['since'][:10]} to {j['until'][:10]}",
        "",
        f"- **{report.threads}** threads: answered {report.answered} ({_pct(report.answer_rate)}), "
        f"resolved {report.resolved} ({_pct(report.resolution_rate)} of answered), escalated {report.escalated}, "
        f"abandoned {report.abandoned}, no match {report.no_match}, still open {report.open}",
        f"- median time to resolution: {_duration(report.median_time_to_resolution_s)}",
        f"- votes: 👍 {report.votes_up}  👎 {report.votes_down}"
        + (" (" + ", ".join(f"{r.replace('_', ' ')} {n}" for r, n in report.reasons.items()) + ")"
           if report.reasons else ""),
        "",
        "### Knowledge gaps",
    ]  # fmt: skip
    if not report.gaps:
        lines.append("- none: every question found an article")
    for gap in report.gaps[:TOP_GAPS]:
        examples = "; ".join(f"“{_escape(e)}”" for e in gap.examples) or "(question text not kept)"
        lines.append(f"- **{gap.count}×** {examples}")
    if len(report.gaps) > TOP_GAPS:
        lines.append(f"- … and {len(report.gaps) - TOP_GAPS} more")
    lines += ["", "### Articles that let people down"]
    failing = report.failing_articles(TOP_ARTICLES)
    if not failing:
        lines.append("- none")
    for a in failing:
        steps = ", ".join(f"step {label} ×{n}" for label, n in a.to_json()["failed_at_step"].items())
        lines.append(
            f"- **{a.id}**: offered {a.offered}, resolved {a.resolved}, didn't work {a.failed}"
            + (f" ({steps})" if steps else "")
            + f", 👎 {a.down}, escalated {a.escalated}"
        )
    # a list, not a table: Slack does not draw Markdown tables
    lines += ["", "### Per week"]
    for w in report.weeks:
        lines.append(
            f"- {w.week}: {w.threads} threads, answered {_pct(w.answer_rate)}, resolved {_pct(w.resolution_rate)}"
        )
    return "\n".join(lines) + "\n"
