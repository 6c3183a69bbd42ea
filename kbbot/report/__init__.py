"""`kbbot report`: what the threads of a period say about the knowledge base, as JSON, Markdown or HTML."""

from __future__ import annotations

from kbbot.report.build import ABANDON_AFTER_S, DEFAULT_SINCE, Report, build_report, parse_since
from kbbot.report.gaps import Gap, group_gaps
from kbbot.report.html import render_html
from kbbot.report.markdown import render_markdown

__all__ = [
    "ABANDON_AFTER_S",
    "DEFAULT_SINCE",
    "Gap",
    "Report",
    "build_report",
    "group_gaps",
    "parse_since",
    "render_html",
    "render_markdown",
]
