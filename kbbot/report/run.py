"""`kbbot report` end to end: read the period's outcomes from the configured store, build, render."""

from __future__ import annotations

import asyncio
from typing import Literal

from kbbot.outcomes.open import open_outcome_store
from kbbot.report.build import Report, build_report
from kbbot.report.html import render_html
from kbbot.report.markdown import render_markdown
from kbbot.settings import Settings

ReportFormat = Literal["markdown", "html", "json"]


async def collect_report(*, settings: Settings, since_s: int, now: float) -> Report:
    store = open_outcome_store(settings.store_url, retention_days=settings.outcome_retention_days)
    try:
        outcomes = await store.list(since=now - since_s, until=None)
    finally:
        await store.close()
    return build_report(outcomes, now=now, since=now - since_s)


def render_report(report: Report, fmt: ReportFormat) -> str:
    if fmt == "html":
        return render_html(report)
    if fmt == "markdown":
        return render_markdown(report)
    import json

    return json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"


def run_report(*, settings: Settings, since_s: int, now: float, fmt: ReportFormat) -> str:
    return render_report(asyncio.run(collect_report(settings=settings, since_s=since_s, now=now)), fmt)
