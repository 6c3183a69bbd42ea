"""What kbbot remembers about one Slack thread, and the key it is remembered under.

`ThreadState` is immutable: the conversation engine returns a new state (with `version` one higher) for every
change, and the thread store writes it with a compare-and-set on that version. Buttons carry the version they
were drawn for, so a stale or double-pressed button is recognised and changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from kbbot.errors import StoreError

# new: nothing asked yet (or started over)   answered: an answer card is up
# choosing: a shortlist is up               choosing_product: "which are you running?" is up
# no_match: the last question found nothing  walking: stepping through a procedure
# resolved: the person said it worked        escalated: handed to a human
# exhausted: every fix failed; a human has been offered
Status = Literal[
    "new", "answered", "choosing", "choosing_product", "no_match", "walking", "resolved", "escalated", "exhausted"
]

# Bumped when the serialised shape changes incompatibly; older states are then read as far as possible.
STATE_SCHEMA = 1
# Keeps a state small (it is rewritten on every turn) however long a thread goes on.
MAX_HISTORY = 60


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """A Slack thread: the team, the channel (or DM) and the ts of the thread's first message."""

    team: str
    channel: str
    thread_ts: str

    def as_str(self) -> str:
        return f"{self.team}:{self.channel}:{self.thread_ts}"

    @classmethod
    def from_str(cls, text: str) -> ThreadKey:
        team, channel, thread_ts = text.split(":", 2)
        return cls(team=team, channel=channel, thread_ts=thread_ts)


class ThreadEvent(StrEnum):
    """What can happen in a thread. Stored as its value, so states written before the enum still load."""

    ANSWERED = "answered"  # an answer card was shown
    SHOWN = "shown"  # a step was shown
    WORKED = "worked"
    FAILED = "failed"
    RULED_OUT = "ruled_out"  # "not my problem"
    ESCALATED = "escalated"
    SHARED = "shared"  # a /kb card was shared into the channel, starting this thread
    HUMAN_ASKED = "human_asked"  # "talk to a human" before any question: kbbot asked what the problem is first


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One thing that happened in the thread, kept for the escalation summary and for outcome statistics.

    procedure_no / step_no are 0-based; -1 where they do not apply.
    """

    at: float
    event: ThreadEvent
    article_id: str = ""
    procedure_no: int = -1
    step_no: int = -1


@dataclass(frozen=True, slots=True)
class ThreadState:
    version: int = 0  # 0 = never stored; every change stores version + 1
    question: str = ""  # the question being worked on (refinements are appended)
    asker: str = ""  # Slack user id of whoever asked it
    candidates: tuple[str, ...] = ()  # article ids from the last search, best first
    excluded: tuple[str, ...] = ()  # ruled out: "not my problem", or a fix that failed
    product: str | None = None  # established product (display name or tag), steers later searches
    product_choices: tuple[str, ...] = ()  # offered by the "which are you running?" question
    article_id: str | None = None  # the article on the table
    procedure_no: int = 0  # 0-based: which alternative method of the article
    step_no: int = 0  # 0-based step within that procedure
    status: Status = "new"
    outcome: str | None = None  # "worked" | "escalated" once the thread is settled
    history: tuple[HistoryEntry, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0
    # The Slack message showing the current step (its ts), so the next step replaces it instead of piling up
    # messages; written by the adapter after posting (`with_step_message`).
    step_ts: str = ""
    # The version the live buttons were drawn at, when recording `step_ts` moved `version` past it (0: they
    # were drawn at `version`). A new turn draws new buttons, so `evolve` clears it.
    drawn_version: int = 0

    def evolve(self, *, now: float, **changes: Any) -> ThreadState:
        """The next version of this state: `changes` applied, version bumped, timestamps set."""
        history = changes.pop("history", self.history)
        return dataclasses.replace(
            self,
            version=self.version + 1,
            created_at=self.created_at or now,
            updated_at=now,
            history=tuple(history)[-MAX_HISTORY:],
            drawn_version=changes.pop("drawn_version", 0),
            **changes,
        )

    @property
    def offers_version(self) -> int:
        """The version the buttons on the thread's latest messages carry: a press of any other is stale."""
        return self.drawn_version or self.version

    def with_step_message(self, ts: str) -> ThreadState:
        """This state remembering the message that shows its step. The version goes up (the store writes only a
        higher one), the buttons already drawn stay valid."""
        return dataclasses.replace(
            self, version=self.version + 1, step_ts=ts, drawn_version=self.offers_version
        )

    def with_event(
        self, event: ThreadEvent, *, now: float, article_id: str = "", procedure_no: int = -1, step_no: int = -1
    ) -> tuple[HistoryEntry, ...]:
        """The history with one more entry (for `evolve(history=...)`)."""
        entry = HistoryEntry(
            at=now, event=event, article_id=article_id, procedure_no=procedure_no, step_no=step_no
        )
        return (*self.history, entry)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["schema"] = STATE_SCHEMA
        data["history"] = [dataclasses.asdict(h) for h in self.history]
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ThreadState:
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            known = {f.name for f in dataclasses.fields(cls)}
            # Unknown keys come from a newer kbbot sharing the store: ignore them rather than fail the thread.
            values = {k: v for k, v in data.items() if k in known}
            for name in ("candidates", "excluded", "product_choices"):
                values[name] = tuple(values.get(name, ()))
            # an event this kbbot does not know (a newer one shares the store) is skipped, like an unknown key
            known_events = {e.value for e in ThreadEvent}
            values["history"] = tuple(
                _entry(h) for h in values.get("history", ()) if h.get("event") in known_events
            )
            return cls(**values)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"stored thread state is not readable ({exc})") from exc


def _entry(data: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(**{**data, "event": ThreadEvent(data["event"])})
