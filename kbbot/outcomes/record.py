"""What happened in one support thread, as a record a report can count: `ThreadOutcome`, and the pure `apply`.

The engine adapter reports each thing that happens in a thread as an `OutcomeUpdate` (an `OutcomeEvent` plus
the few fields that event carries); `apply(outcome, update, ...)` returns the thread's new record. Nothing here
does I/O or reads a clock: the recorder passes `now`, so a replayed history gives the same record.

    asked        question, asker        the person's question (first one kept; later ones refine it)
    offered      articles, band         what kbbot offered: band "answer" | "shortlist" | "none" (no match)
    step_shown   step                   a step of a procedure was shown
    step_failed  step                   "didn't work" came at this step
    resolved     article (optional)     "it worked"; the article is the one being walked when not given
    escalated                           handed to a human
    vote         user, value, article   👍/👎 on an answer; one per person, a new vote replaces the old
    vote_reason  user, reason           the reason a 👎 was given (wrong_article, did_not_help, ...)

"abandoned" is never recorded: a report derives it from a thread still open after a quiet spell.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, get_args

from kbbot.conversation.state import ThreadKey

Band = Literal["answer", "shortlist", "none"]
BANDS: tuple[str, ...] = get_args(Band)


class OutcomeEvent(StrEnum):
    ASKED = "asked"
    OFFERED = "offered"
    STEP_SHOWN = "step_shown"
    STEP_FAILED = "step_failed"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    VOTE = "vote"
    VOTE_REASON = "vote_reason"


class Outcome(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    NO_MATCH = "no_match"
    # derived at report time from an open thread gone quiet; never stored
    ABANDONED = "abandoned"


class VoteValue(StrEnum):
    UP = "up"
    DOWN = "down"


class VoteReason(StrEnum):
    WRONG_ARTICLE = "wrong_article"
    DID_NOT_HELP = "did_not_help"
    OUT_OF_DATE = "out_of_date"
    OTHER = "other"


class QuestionText(StrEnum):
    """What of the asker's words is stored: all of it, a hash (identical questions still group), or nothing."""

    KEEP = "keep"
    HASH = "hash"
    DROP = "drop"


# A person who has said the thread is resolved or escalated has closed it; a later "offered" (kbbot answering a
# follow-up) must not reopen it, or every resolved thread with a "thanks, one more thing" would count as open.
_CLOSED = frozenset({Outcome.RESOLVED, Outcome.ESCALATED})


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRef:
    """A step as the engine numbers it: 0-based procedure and step within the article (as in ThreadState)."""

    article: str
    procedure: int
    step: int

    @property
    def label(self) -> str:
        """The step as a person reads it, 1-based: "1.3" is procedure 1, step 3."""
        return f"{self.procedure + 1}.{self.step + 1}"

    def to_dict(self) -> dict[str, Any]:
        return {"article": self.article, "procedure": self.procedure, "step": self.step}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepRef:
        return cls(article=str(data["article"]), procedure=int(data["procedure"]), step=int(data["step"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    value: VoteValue
    at: float
    # the article the voted answer was about; None when the vote came before anything was offered
    article: str | None = None
    reason: VoteReason | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value.value, "at": self.at, "article": self.article,
                "reason": self.reason.value if self.reason else None}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vote:
        reason = data.get("reason")
        return cls(
            value=VoteValue(data["value"]),
            at=float(data["at"]),
            article=data.get("article"),
            reason=VoteReason(reason) if reason else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadOutcome:
    team: str
    channel: str
    thread_ts: str
    created_at: float
    updated_at: float
    asker: str | None = None
    # the question as asked, subject to QuestionText: None under hash and drop
    question: str | None = None
    # sha256 of the normalised question, None under drop; identical questions group even when hashed
    question_hash: str | None = None
    articles: tuple[str, ...] = ()  # every article offered, first offer first, no repeats
    band: Band | None = None  # the band of the latest offer
    best_band: Band | None = None  # the most confident band this thread ever got
    steps_shown: tuple[StepRef, ...] = ()
    failures: tuple[StepRef, ...] = ()  # where "didn't work" came, in order
    outcome: Outcome = Outcome.OPEN
    resolved_by: str | None = None
    resolved_at: float | None = None
    escalated_at: float | None = None
    votes: dict[str, Vote] = field(default_factory=dict)  # user id -> that person's current vote

    @property
    def key(self) -> ThreadKey:
        return ThreadKey(team=self.team, channel=self.channel, thread_ts=self.thread_ts)

    @property
    def failed_step(self) -> StepRef | None:
        """The step where the last "didn't work" came, if any."""
        return self.failures[-1] if self.failures else None

    @property
    def time_to_resolution_s(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.created_at

    def current_article(self) -> str | None:
        """The article the person is working with: the one whose step was shown last, else the first offered."""
        if self.steps_shown:
            return self.steps_shown[-1].article
        return self.articles[0] if self.articles else None

    def outcome_at(self, now: float, *, abandon_after_s: float) -> Outcome:
        """The outcome as a report sees it: an open thread quiet for `abandon_after_s` was abandoned."""
        if self.outcome is Outcome.OPEN and now - self.updated_at >= abandon_after_s:
            return Outcome.ABANDONED
        return self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "asker": self.asker,
            "question": self.question,
            "question_hash": self.question_hash,
            "articles": list(self.articles),
            "band": self.band,
            "best_band": self.best_band,
            "steps_shown": [s.to_dict() for s in self.steps_shown],
            "failures": [s.to_dict() for s in self.failures],
            "outcome": self.outcome.value,
            "resolved_by": self.resolved_by,
            "resolved_at": self.resolved_at,
            "escalated_at": self.escalated_at,
            "votes": {user: vote.to_dict() for user, vote in sorted(self.votes.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThreadOutcome:
        return cls(
            team=str(data["team"]),
            channel=str(data["channel"]),
            thread_ts=str(data["thread_ts"]),
            created_at=float(data["created_at"]),
            updated_at=float(data["updated_at"]),
            asker=data.get("asker"),
            question=data.get("question"),
            question_hash=data.get("question_hash"),
            articles=tuple(data.get("articles") or ()),
            band=_band(data.get("band")),
            best_band=_band(data.get("best_band")),
            steps_shown=tuple(StepRef.from_dict(s) for s in data.get("steps_shown") or ()),
            failures=tuple(StepRef.from_dict(s) for s in data.get("failures") or ()),
            outcome=Outcome(data.get("outcome", Outcome.OPEN)),
            resolved_by=data.get("resolved_by"),
            resolved_at=data.get("resolved_at"),
            escalated_at=data.get("escalated_at"),
            votes={user: Vote.from_dict(v) for user, v in (data.get("votes") or {}).items()},
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ThreadOutcome:
        return cls.from_dict(json.loads(text))


def _band(raw: Any) -> Band | None:
    if raw is None:
        return None
    if raw not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, not {raw!r}")
    return raw  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeUpdate:
    """One thing that happened in a thread; which fields matter depends on `event` (see the module docstring)."""

    event: OutcomeEvent
    question: str | None = None
    asker: str | None = None
    articles: tuple[str, ...] = ()
    band: Band | None = None
    step: StepRef | None = None
    article: str | None = None
    user: str | None = None
    value: VoteValue | None = None
    reason: VoteReason | None = None

    def __post_init__(self) -> None:
        # Coerce the plain strings an adapter naturally has (from a button value) and refuse an incomplete event
        # here, at the call, rather than as a confusing record later.
        object.__setattr__(self, "event", OutcomeEvent(self.event))
        object.__setattr__(self, "articles", tuple(self.articles))
        if self.value is not None:
            object.__setattr__(self, "value", VoteValue(self.value))
        if self.reason is not None:
            object.__setattr__(self, "reason", VoteReason(self.reason))
        _band(self.band)
        needs = {
            OutcomeEvent.OFFERED: ("band",),
            OutcomeEvent.STEP_SHOWN: ("step",),
            OutcomeEvent.STEP_FAILED: ("step",),
            OutcomeEvent.VOTE: ("user", "value"),
            OutcomeEvent.VOTE_REASON: ("user", "reason"),
        }.get(self.event, ())
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"outcome event {self.event.value} needs {', '.join(missing)}")


_SPACES = re.compile(r"\s+")


def question_hash(question: str) -> str:
    """The same for questions differing only in case and spacing. Unsalted: it groups repeats, it does not make
    a short question secret from someone who can guess it (use `drop` for that)."""
    normal = _SPACES.sub(" ", question.strip().lower())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def _stored_question(question: str, policy: QuestionText) -> tuple[str | None, str | None]:
    if policy is QuestionText.DROP:
        return None, None
    digest = question_hash(question)
    return (question if policy is QuestionText.KEEP else None), digest


_BAND_RANK = {"none": 0, "shortlist": 1, "answer": 2}


def new_outcome(key: ThreadKey, *, now: float) -> ThreadOutcome:
    return ThreadOutcome(
        team=key.team, channel=key.channel, thread_ts=key.thread_ts, created_at=now, updated_at=now
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Change:
    """What one event handler sees: the record before, the update, and the recorder's clock and question policy."""

    current: ThreadOutcome
    update: OutcomeUpdate
    now: float
    question_text: QuestionText


def _asked(change: _Change) -> dict[str, Any]:
    current, update = change.current, change.update
    changes: dict[str, Any] = {}
    # the first question is the one kept: later ones in the thread only refine it
    if update.question and current.question_hash is None and current.question is None:
        changes["question"], changes["question_hash"] = _stored_question(update.question, change.question_text)
    if update.asker and current.asker is None:
        changes["asker"] = update.asker
    return changes


def _offered(change: _Change) -> dict[str, Any]:
    current, update = change.current, change.update
    changes: dict[str, Any] = {"band": update.band}
    if current.best_band is None or _BAND_RANK[update.band or "none"] > _BAND_RANK[current.best_band]:
        changes["best_band"] = update.band
    changes["articles"] = tuple(dict.fromkeys((*current.articles, *update.articles)))
    if current.outcome not in _CLOSED:
        found = update.band != "none" and bool(update.articles)
        changes["outcome"] = Outcome.OPEN if found or current.articles else Outcome.NO_MATCH
    return changes


def _step_shown(change: _Change) -> dict[str, Any]:
    current, step = change.current, change.update.step
    assert step is not None
    # a step re-shown (the same card redrawn) is not a second step
    if not current.steps_shown or current.steps_shown[-1] != step:
        return {"steps_shown": (*current.steps_shown, step)}
    return {}


def _step_failed(change: _Change) -> dict[str, Any]:
    assert change.update.step is not None
    return {"failures": (*change.current.failures, change.update.step)}


def _resolved(change: _Change) -> dict[str, Any]:
    return {
        "outcome": Outcome.RESOLVED,
        "resolved_by": change.update.article or change.current.current_article(),
        "resolved_at": change.now,
    }


def _escalated(change: _Change) -> dict[str, Any]:
    changes: dict[str, Any] = {"escalated_at": change.now}
    # a thread someone already said was resolved stays resolved; the hand-off is still recorded
    if change.current.outcome is not Outcome.RESOLVED:
        changes["outcome"] = Outcome.ESCALATED
    return changes


def _vote(change: _Change) -> dict[str, Any]:
    current, update = change.current, change.update
    assert update.user is not None and update.value is not None
    previous = current.votes.get(update.user)
    reason = update.reason if update.value is VoteValue.DOWN else None
    if reason is None and previous is not None and previous.value is update.value:
        reason = previous.reason  # pressing 👎 again keeps the reason already given
    article = update.article or current.current_article()
    vote = Vote(value=update.value, at=change.now, article=article, reason=reason)
    return {"votes": {**current.votes, update.user: vote}}


def _vote_reason(change: _Change) -> dict[str, Any]:
    current, update = change.current, change.update
    assert update.user is not None
    previous = current.votes.get(update.user)
    # a reason belongs to a 👎; one arriving for a 👍 (a stale modal after the vote changed) is ignored
    if previous is not None and previous.value is VoteValue.DOWN:
        return {"votes": {**current.votes, update.user: dataclasses.replace(previous, reason=update.reason)}}
    return {}


_HANDLERS: dict[OutcomeEvent, Callable[[_Change], dict[str, Any]]] = {
    OutcomeEvent.ASKED: _asked,
    OutcomeEvent.OFFERED: _offered,
    OutcomeEvent.STEP_SHOWN: _step_shown,
    OutcomeEvent.STEP_FAILED: _step_failed,
    OutcomeEvent.RESOLVED: _resolved,
    OutcomeEvent.ESCALATED: _escalated,
    OutcomeEvent.VOTE: _vote,
    OutcomeEvent.VOTE_REASON: _vote_reason,
}


def apply(
    outcome: ThreadOutcome | None,
    update: OutcomeUpdate,
    *,
    key: ThreadKey,
    now: float,
    question_text: QuestionText = QuestionText.KEEP,
) -> ThreadOutcome:
    """The thread's record after `update`; `outcome` None starts a new record for `key` at `now`."""
    current = outcome if outcome is not None else new_outcome(key, now=now)
    change = _Change(current=current, update=update, now=now, question_text=question_text)
    changes = _HANDLERS[update.event](change)
    return dataclasses.replace(current, updated_at=max(now, current.updated_at), **changes)
