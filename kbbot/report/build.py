"""The report over a period's thread outcomes: counts, knowledge gaps, articles that fail, rates per ISO week.

Pure: `build_report(outcomes, now=..., since=...)` over records already read from the store. Definitions:

    threads    threads opened in the period
    answered   threads where kbbot offered at least one article (an answer, or a short list to pick from)
    no_match   threads where kbbot found nothing to offer
    resolved / escalated / abandoned / open    what became of them; abandoned: open and quiet for a day
    answer_rate = answered / threads,  resolution_rate = resolved / answered

An article's `failed` counts the threads where "didn't work" came on one of its steps; `failed_at_step` says
where, by step label ("1.3": procedure 1, step 3); `abandoned_at_step` is where people went quiet.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kbbot.outcomes.record import Outcome, ThreadOutcome, VoteValue
from kbbot.report.gaps import Gap, GapQuestion, group_gaps

# An open thread nobody has touched for this long was given up on (Slack threads rarely revive after a day).
ABANDON_AFTER_S = 24 * 3600
DEFAULT_SINCE = "30d"
_SINCE = re.compile(r"^\s*(\d+)\s*([hdw]?)\s*$")
_UNIT_S = {"h": 3600, "d": 86_400, "w": 7 * 86_400, "": 86_400}


def parse_since(text: str) -> int:
    """"30d", "12h", "6w" (a bare number is days) -> seconds."""
    match = _SINCE.match(text.lower())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"--since takes a period like 30d, 12h or 6w, not {text!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(slots=True, kw_only=True)
class ArticleStats:
    id: str
    offered: int = 0
    resolved: int = 0
    failed: int = 0
    escalated: int = 0
    up: int = 0
    down: int = 0
    failed_at_step: Counter[str] = field(default_factory=Counter)
    abandoned_at_step: Counter[str] = field(default_factory=Counter)

    @property
    def trouble(self) -> int:
        """How often the article let someone down: what the report ranks failing articles by."""
        return self.failed + self.down + self.escalated

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "offered": self.offered,
            "resolved": self.resolved,
            "failed": self.failed,
            "escalated": self.escalated,
            "up": self.up,
            "down": self.down,
            "failed_at_step": dict(sorted(self.failed_at_step.items(), key=_step_order)),
            "abandoned_at_step": dict(sorted(self.abandoned_at_step.items(), key=_step_order)),
        }


def _step_order(item: tuple[str, int]) -> tuple[int, ...]:
    return tuple(int(part) for part in item[0].split("."))


@dataclass(frozen=True, slots=True, kw_only=True)
class WeekStats:
    week: str  # ISO week, "2026-W48"
    threads: int
    answered: int
    resolved: int

    @property
    def answer_rate(self) -> float | None:
        return _rate(self.answered, self.threads)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.answered)

    def to_json(self) -> dict[str, Any]:
        return {"week": self.week, "threads": self.threads, "answered": self.answered, "resolved": self.resolved,
                "answer_rate": self.answer_rate, "resolution_rate": self.resolution_rate}  # fmt: skip


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    since: float
    until: float
    threads: int
    answered: int
    resolved: int
    escalated: int
    no_match: int
    abandoned: int
    open: int
    median_time_to_resolution_s: float | None
    votes_up: int
    votes_down: int
    reasons: dict[str, int]
    gaps: tuple[Gap, ...]
    articles: tuple[ArticleStats, ...]  # most offered first
    weeks: tuple[WeekStats, ...]

    @property
    def answer_rate(self) -> float | None:
        return _rate(self.answered, self.threads)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.answered)

    def failing_articles(self, limit: int = 10) -> list[ArticleStats]:
        troubled = [a for a in self.articles if a.trouble]
        return sorted(troubled, key=lambda a: (-a.trouble, -a.offered, a.id))[:limit]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "until": _iso(self.until),
            "threads": self.threads,
            "answered": self.answered,
            "resolved": self.resolved,
            "escalated": self.escalated,
            "no_match": self.no_match,
            "abandoned": self.abandoned,
            "open": self.open,
            "answer_rate": self.answer_rate,
            "resolution_rate": self.resolution_rate,
            "median_time_to_resolution_s": self.median_time_to_resolution_s,
            "votes": {"up": self.votes_up, "down": self.votes_down, "reasons": self.reasons},
            "gaps": [g.to_json() for g in self.gaps],
            "articles": [a.to_json() for a in self.articles],
            "weeks": [w.to_json() for w in self.weeks],
        }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def iso_week(ts: float) -> str:
    year, week, _ = dt.datetime.fromtimestamp(ts, tz=dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def _weeks_between(since: float, until: float) -> list[str]:
    weeks: list[str] = []
    day = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    end = dt.datetime.fromtimestamp(until, tz=dt.UTC)
    while day <= end:
        week = iso_week(day.timestamp())
        if not weeks or weeks[-1] != week:
            weeks.append(week)
        day += dt.timedelta(days=1)
    return weeks


def build_report(
    outcomes: Iterable[ThreadOutcome], *, now: float, since: float, abandon_after_s: float = ABANDON_AFTER_S
) -> Report:
    """The report over the threads opened from `since` to `now` (records outside are ignored)."""
    records = [o for o in outcomes if since <= o.created_at <= now]
    final = {o.key: o.outcome_at(now, abandon_after_s=abandon_after_s) for o in records}
    counts = Counter(final.values())
    answered = [o for o in records if o.articles]
    articles: dict[str, ArticleStats] = {}

    def stats(article_id: str) -> ArticleStats:
        return articles.setdefault(article_id, ArticleStats(id=article_id))

    reasons: Counter[str] = Counter()
    votes: Counter[VoteValue] = Counter()
    gap_questions: list[GapQuestion] = []
    for o in records:
        outcome = final[o.key]
        for article_id in o.articles:
            stats(article_id).offered += 1
        if outcome is Outcome.RESOLVED and o.resolved_by:
            stats(o.resolved_by).resolved += 1
        current = o.current_article()
        if outcome is Outcome.ESCALATED and current:
            stats(current).escalated += 1
        if outcome is Outcome.ABANDONED and o.steps_shown:
            last = o.steps_shown[-1]
            stats(last.article).abandoned_at_step[last.label] += 1
        failed_articles: set[str] = set()
        for failure in dict.fromkeys(o.failures):  # the same step failing twice in a thread is one failure there
            stats(failure.article).failed_at_step[failure.label] += 1
            failed_articles.add(failure.article)
        for article_id in failed_articles:
            stats(article_id).failed += 1
        for vote in o.votes.values():
            votes[vote.value] += 1
            if vote.article:
                article = stats(vote.article)
                if vote.value is VoteValue.UP:
                    article.up += 1
                else:
                    article.down += 1
            if vote.value is VoteValue.DOWN and vote.reason:
                reasons[vote.reason.value] += 1
        band = _gap_band(o, outcome)
        if band is not None and (o.question or o.question_hash):
            gap_questions.append(
                GapQuestion(text=o.question, question_hash=o.question_hash, band=band, at=o.created_at)
            )

    times = [t for o in records if final[o.key] is Outcome.RESOLVED and (t := o.time_to_resolution_s) is not None]
    return Report(
        since=since,
        until=now,
        threads=len(records),
        answered=len(answered),
        resolved=counts[Outcome.RESOLVED],
        escalated=counts[Outcome.ESCALATED],
        no_match=counts[Outcome.NO_MATCH],
        abandoned=counts[Outcome.ABANDONED],
        open=counts[Outcome.OPEN],
        median_time_to_resolution_s=statistics.median(times) if times else None,
        votes_up=votes[VoteValue.UP],
        votes_down=votes[VoteValue.DOWN],
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        gaps=tuple(group_gaps(gap_questions)),
        articles=tuple(sorted(articles.values(), key=lambda a: (-a.offered, a.id))),
        weeks=tuple(_week_stats(records, final, since=since, until=now)),
    )


def _gap_band(o: ThreadOutcome, outcome: Outcome) -> str | None:
    """Whether the thread's question is a knowledge gap: nothing found, or a short list that never fixed it."""
    if outcome is Outcome.NO_MATCH:
        return "none"
    if o.best_band == "shortlist" and outcome is not Outcome.RESOLVED:
        return "shortlist"
    return None


def _week_stats(
    records: Sequence[ThreadOutcome], final: dict[Any, Outcome], *, since: float, until: float
) -> list[WeekStats]:
    by_week: dict[str, list[ThreadOutcome]] = {week: [] for week in _weeks_between(since, until)}
    for o in records:
        by_week.setdefault(iso_week(o.created_at), []).append(o)
    return [
        WeekStats(
            week=week,
            threads=len(group),
            answered=sum(bool(o.articles) for o in group),
            resolved=sum(final[o.key] is Outcome.RESOLVED for o in group),
        )
        for week, group in sorted(by_week.items())
    ]
