"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

A handful of counters and two histograms do not justify a dependency; the format is small and stable:
https://prometheus.io/docs/instrumenting/exposition_formats/. One `Metrics` object belongs to one app; nothing is
global, so tests build their own and read `render()`.

Under `serve --workers N` a scrape reaches whichever worker the kernel picks, so each worker publishes its counts
to a folder made for the run (`MetricsShare`) and answers /metrics with its own live counts plus the others'
latest: one view of the whole host, never jumping between workers' values. (prometheus_client's multiprocess
mode does this with mmapped files; a JSON file per worker, rewritten every SHARE_EVERY_S, needs no dependency.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Latencies in seconds: search is milliseconds, replies include Slack round trips.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LabelValues = tuple[str, ...]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*zip(names, values, strict=True), *extra]
    if not pairs:
        return ""
    return "{" + ",".join(f'{n}="{_escape_label(v)}"' for n, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value):
        return str(int(value))
    return repr(value)


# A label's value comes from outside (Slack's error codes, event types): an unbounded set would grow the
# exposition without limit, and a value echoed from an upstream message could carry a secret. Each labelled
# counter names the values it keeps; anything else is counted as OTHER.
OTHER = "other"


class Counter:
    def __init__(
        self,
        *,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        known: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.name = name
        self.help = help
        self.label_names = tuple(labels)
        self._known = {n: frozenset(values) for n, values in (known or {}).items()}
        unknown = set(self._known) - set(self.label_names)
        if unknown:
            raise ValueError(f"{name}: known values for labels it does not have: {sorted(unknown)}")
        self._values: dict[LabelValues, float] = {}
        self._lock = threading.Lock()
        if not self.label_names:
            self._values[()] = 0.0  # an unlabelled counter is exported as 0 from the start

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        values = []
        for n in self.label_names:
            value = str(labels[n])
            known = self._known.get(n)
            values.append(value if known is None or value in known else OTHER)
        return tuple(values)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def snapshot(self) -> list[list[Any]]:
        """The counts as JSON-ready rows: the label values, then the count."""
        with self._lock:
            return [[*key, value] for key, value in self._values.items()]

    def render(self, peers: Sequence[Any] = ()) -> list[str]:
        """The exposition lines; `peers` are other processes' `snapshot()`s, added in."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            totals = dict(self._values)
        for rows in peers:
            for row in rows if isinstance(rows, list) else ():
                if not isinstance(row, list) or len(row) != len(self.label_names) + 1:
                    continue
                key = self._key(dict(zip(self.label_names, map(str, row[:-1]), strict=True)))
                with contextlib.suppress(TypeError, ValueError):
                    totals[key] = totals.get(key, 0.0) + float(row[-1])
        lines += [f"{self.name}{_labels(self.label_names, key)} {_number(v)}" for key, v in sorted(totals.items())]
        return lines


class Histogram:
    def __init__(self, *, name: str, help: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.name = name
        self.help = help
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1

    @property
    def count(self) -> int:
        return self._count

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counts": list(self._counts), "sum": self._sum, "count": self._count}

    def render(self, peers: Sequence[Any] = ()) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            counts, total, n = list(self._counts), self._sum, self._count
        for peer in peers:
            other = peer.get("counts") if isinstance(peer, dict) else None
            if not isinstance(other, list) or len(other) != len(counts):
                continue  # another build's buckets: not comparable
            with contextlib.suppress(TypeError, ValueError):
                counts = [c + int(o) for c, o in zip(counts, other, strict=True)]
                total += float(peer.get("sum", 0.0))
                n += int(peer.get("count", 0))
        for bound, c in zip(self.buckets, counts, strict=True):
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {c}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {n}')
        lines.append(f"{self.name}_sum {_number(total)}")
        lines.append(f"{self.name}_count {n}")
        return lines


# The label values each counter keeps (see OTHER).
REQUEST_KINDS = frozenset(
    {"app_mention", "message", "slash_command", "block_actions", "view_submission", "view_closed", "shortcut",
     "message_action", "block_suggestion", "app_home_opened", "member_joined_channel", "url_verification",
     "interactive_message", "dialog_submission", "unknown"}
)  # fmt: skip
SLACK_METHODS = frozenset(
    {"auth.test", "chat.postMessage", "chat.postEphemeral", "chat.update", "chat.getPermalink", "reactions.add",
     "conversations.info", "conversations.replies", "users.info", "views.publish", "response_url",
     "apps.connections.open"}
)  # fmt: skip
SLACK_ERRORS = frozenset(
    {"connection", "timeout", "server_error", "ratelimited", "not_in_channel", "channel_not_found", "is_archived",
     "invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "too_many_blocks", "no_text",
     "user_not_in_channel", "message_not_found", "cant_update_message", "already_reacted", "invalid_auth",
     "not_authed", "account_inactive", "token_revoked", "missing_scope", "fatal_error", "internal_error",
     "service_unavailable", "request_timeout", "not_json", "http_404", "http_410", "http_500", "http_502",
     "http_503", "http_504"}
)  # fmt: skip


class Metrics:
    """What one kbbot process counts. Names follow Prometheus conventions (`_total`, `_seconds`)."""

    def __init__(self) -> None:
        self.events_in = Counter(name="kbbot_events_total", help="Requests from Slack, by kind.", labels=("kind",),
                                 known={"kind": REQUEST_KINDS})
        self.refused_requests = Counter(
            name="kbbot_refused_requests_total",
            help="Requests to /slack/events refused before any work: 401 unsigned, 400 malformed, replay.",
            labels=("reason",),
            known={"reason": ("401", "400", "replay")},
        )
        self.duplicate_events = Counter(
            name="kbbot_duplicate_events_total", help="Events already answered (Slack retries, duplicates)."
        )
        self.answers = Counter(
            name="kbbot_answers_total",
            help="Searches that found something, by confidence band.",
            labels=("band",),
            known={"band": ("answer", "shortlist")},
        )
        self.no_match = Counter(name="kbbot_no_match_total", help="Searches that found nothing to offer.")
        self.flood_limited = Counter(
            name="kbbot_flood_limited_total", help="Questions not searched: the person was over the flood limit."
        )
        self.reloads = Counter(
            name="kbbot_index_reloads_total", help="Index reloads, by result.", labels=("result",),
            known={"result": ("ok", "unchanged", "failed")},
        )
        self.steps_walked = Counter(name="kbbot_steps_walked_total", help="Procedure steps shown to people.")
        self.outcomes = Counter(
            name="kbbot_outcomes_total", help="Threads settled, by outcome.", labels=("outcome",),
            known={"outcome": ("resolved", "escalated")},
        )
        self.votes = Counter(
            name="kbbot_votes_total", help="👍 / 👎 votes on answers, by value.", labels=("value",),
            known={"value": ("up", "down")},
        )
        self.vote_reasons = Counter(
            name="kbbot_vote_reasons_total", help="Reasons given with a 👎, by reason.", labels=("reason",),
            known={"reason": ("wrong_article", "did_not_help", "out_of_date", "other")},
        )
        self.outcome_writes = Counter(
            name="kbbot_outcome_writes_total", help="Thread outcome records written, by result.",
            labels=("result",), known={"result": ("ok", "failed")},
        )
        self.slack_api_errors = Counter(
            name="kbbot_slack_api_errors_total",
            help="Slack Web API calls that failed.",
            labels=("method", "error"),
            known={"method": SLACK_METHODS, "error": SLACK_ERRORS},
        )
        self.slack_api_retries = Counter(
            name="kbbot_slack_api_retries_total",
            help="Slack Web API calls tried again: after a 5xx, a timeout, a rate limit, a dropped connection.",
            labels=("reason",),
            known={"reason": ("server_error", "ratelimited", "connection", "timeout")},
        )
        self.search_latency = Histogram(name="kbbot_search_latency_seconds", help="Time spent in one search.")
        self.reply_latency = Histogram(
            name="kbbot_reply_latency_seconds", help="From a request's arrival to the bot's last reply to it."
        )
        for outcome in ("resolved", "escalated"):
            self.outcomes.inc(0, outcome=outcome)
        for value in ("up", "down"):
            self.votes.inc(0, value=value)
        for band in ("answer", "shortlist"):
            self.answers.inc(0, band=band)

    def snapshot(self) -> dict[str, Any]:
        return {metric.name: metric.snapshot() for metric in self._all()}

    def render(self, peers: Sequence[dict[str, Any]] = ()) -> str:
        """The exposition; `peers` are other processes' `snapshot()`s (see MetricsShare)."""
        lines: list[str] = []
        for metric in self._all():
            lines += metric.render([p[metric.name] for p in peers if metric.name in p])
        return "\n".join(lines) + "\n"

    def _all(self) -> tuple[Counter | Histogram, ...]:
        return (
            self.events_in,
            self.duplicate_events,
            self.refused_requests,
            self.answers,
            self.no_match,
            self.flood_limited,
            self.steps_walked,
            self.outcomes,
            self.votes,
            self.vote_reasons,
            self.outcome_writes,
            self.slack_api_errors,
            self.slack_api_retries,
            self.reloads,
            self.search_latency,
            self.reply_latency,
        )


# How often each `serve --workers` process publishes its counts for the others' /metrics.
SHARE_EVERY_S = 1.0


class MetricsShare:
    """One `serve --workers` process's counts in a folder every worker reads (see the module docstring)."""

    def __init__(self, *, folder: Path, metrics: Metrics, name: str) -> None:
        self.folder = folder
        self.metrics = metrics
        self.path = folder / f"{name}.json"

    def publish(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.metrics.snapshot()), encoding="utf-8")
            os.replace(tmp, self.path)  # a reader sees the old file or the new one, never half of one
        except OSError:
            pass  # a full disk must not stop the bot; the others go on showing this worker's last counts

    def peers(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.folder.glob("*.json")):
            if path == self.path:
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                found.append(data)
        return found

    def render(self) -> str:
        return self.metrics.render(self.peers())

    async def publish_until(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self.publish()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=SHARE_EVERY_S)
        finally:
            self.publish()
