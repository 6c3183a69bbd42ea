"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

A handful of counters and two histograms do not justify a dependency; the format is small and stable:
https://prometheus.io/docs/instrumenting/exposition_formats/. One `Metrics` object belongs to one app; nothing is
global, so tests build their own and read `render()`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

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


class Counter:
    def __init__(self, *, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help
        self.label_names = tuple(labels)
        self._values: dict[LabelValues, float] = {}
        self._lock = threading.Lock()
        if not self.label_names:
            self._values[()] = 0.0  # an unlabelled counter is exported as 0 from the start

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(str(labels[n]) for n in self.label_names)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(str(labels[n]) for n in self.label_names), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items())
        lines += [f"{self.name}{_labels(self.label_names, key)} {_number(v)}" for key, v in items]
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

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            counts, total, n = list(self._counts), self._sum, self._count
        for bound, c in zip(self.buckets, counts, strict=True):
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {c}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {n}')
        lines.append(f"{self.name}_sum {_number(total)}")
        lines.append(f"{self.name}_count {n}")
        return lines


class Metrics:
    """What one kbbot process counts. Names follow Prometheus conventions (`_total`, `_seconds`)."""

    def __init__(self) -> None:
        self.events_in = Counter(name="kbbot_events_total", help="Requests from Slack, by kind.", labels=("kind",))
        self.duplicate_events = Counter(
            name="kbbot_duplicate_events_total", help="Events already answered (Slack retries, duplicates)."
        )
        self.answers = Counter(
            name="kbbot_answers_total", help="Searches that found something, by confidence band.", labels=("band",)
        )
        self.no_match = Counter(name="kbbot_no_match_total", help="Searches that found nothing to offer.")
        self.flood_limited = Counter(
            name="kbbot_flood_limited_total", help="Questions not searched: the person was over the flood limit."
        )
        self.reloads = Counter(
            name="kbbot_index_reloads_total", help="Index reloads, by result.", labels=("result",)
        )
        self.steps_walked = Counter(name="kbbot_steps_walked_total", help="Procedure steps shown to people.")
        self.outcomes = Counter(
            name="kbbot_outcomes_total", help="Threads settled, by outcome.", labels=("outcome",)
        )
        self.votes = Counter(
            name="kbbot_votes_total", help="👍 / 👎 votes on answers, by value.", labels=("value",)
        )
        self.vote_reasons = Counter(
            name="kbbot_vote_reasons_total", help="Reasons given with a 👎, by reason.", labels=("reason",)
        )
        self.outcome_writes = Counter(
            name="kbbot_outcome_writes_total",
            help="Thread outcome records written, by result.",
            labels=("result",),
        )
        self.slack_api_errors = Counter(
            name="kbbot_slack_api_errors_total",
            help="Slack Web API calls that failed.",
            labels=("method", "error"),
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

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.events_in,
            self.duplicate_events,
            self.answers,
            self.no_match,
            self.flood_limited,
            self.steps_walked,
            self.outcomes,
            self.votes,
            self.vote_reasons,
            self.outcome_writes,
            self.slack_api_errors,
            self.reloads,
            self.search_latency,
            self.reply_latency,
        ):
            lines += metric.render()
        return "\n".join(lines) + "\n"
