"""Metrics across `serve --workers`: each worker publishes its counts to a shared folder; any answers for all."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kbbot.server.metrics import Metrics, MetricsShare


def _sample(exposition: str, name: str) -> float | None:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_scrape_adds_the_other_workers_counts_to_its_own(tmp_path: Path) -> None:
    one, two = Metrics(), Metrics()
    share_one = MetricsShare(folder=tmp_path, metrics=one, name="worker-1")
    share_two = MetricsShare(folder=tmp_path, metrics=two, name="worker-2")
    for _ in range(3):
        one.events_in.inc(kind="app_mention")
    two.events_in.inc(kind="app_mention")
    two.slack_api_errors.inc(method="chat.postMessage", error="not_in_channel")
    one.reply_latency.observe(0.02)
    two.reply_latency.observe(3.0)
    share_one.publish()
    share_two.publish()
    for view in (share_one.render(), share_two.render()):
        assert _sample(view, 'kbbot_events_total{kind="app_mention"}') == 4
        assert _sample(view, 'kbbot_slack_api_errors_total{method="chat.postMessage",error="not_in_channel"}') == 1
        assert _sample(view, "kbbot_reply_latency_seconds_count") == 2
        assert _sample(view, 'kbbot_reply_latency_seconds_bucket{le="0.025"}') == 1
    # a worker's own counts are live; the others' as last published
    one.events_in.inc(kind="app_mention")
    assert _sample(share_one.render(), 'kbbot_events_total{kind="app_mention"}') == 5
    assert _sample(share_two.render(), 'kbbot_events_total{kind="app_mention"}') == 4


def test_a_damaged_or_foreign_peer_file_is_skipped(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.no_match.inc()
    (tmp_path / "torn.json").write_text('{"kbbot_no_match_total": [[', encoding="utf-8")
    (tmp_path / "odd.json").write_text('{"kbbot_no_match_total": "x", "kbbot_events_total": [["a", "b", 1]]}',
                                       encoding="utf-8")
    view = MetricsShare(folder=tmp_path, metrics=metrics, name="me").render()
    assert _sample(view, "kbbot_no_match_total") == 1


async def test_publishing_runs_until_stopped_and_leaves_the_last_counts(tmp_path: Path) -> None:
    metrics = Metrics()
    share = MetricsShare(folder=tmp_path, metrics=metrics, name="worker")
    stop = asyncio.Event()
    task = asyncio.create_task(share.publish_until(stop))
    await asyncio.sleep(0.05)
    metrics.flood_limited.inc()
    stop.set()
    await task
    peer = MetricsShare(folder=tmp_path, metrics=Metrics(), name="other")
    assert _sample(peer.render(), "kbbot_flood_limited_total") == 1
