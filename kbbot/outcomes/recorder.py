"""`OutcomeRecorder`: what the engine adapter calls as a thread goes along; one line per thing that happened.

    recorder = OutcomeRecorder(store=open_outcome_store(settings.store_url), question_text=QuestionText.KEEP)
    await recorder.record(key, OutcomeEvent.ASKED, question=text, asker=user)
    await recorder.record(key, OutcomeEvent.OFFERED, articles=("Q102087", "Q99304"), band="shortlist")
    await recorder.record(key, OutcomeEvent.STEP_SHOWN, step=StepRef(article="Q102087", procedure=0, step=2))
    await recorder.record(key, OutcomeEvent.VOTE, user="U2", value="down", reason="out_of_date")
    await recorder.record_turn(key, old_state, turn.state)   # or: everything one engine turn changed, at once

Recording is bookkeeping: a store that cannot be reached must not stop kbbot answering, so `record` logs the
failure and returns None instead of raising (`strict=True` raises, for tests and tools).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import StoreError
from kbbot.outcomes.base import OutcomeStore
from kbbot.outcomes.from_state import updates_for_turn
from kbbot.outcomes.record import OutcomeEvent, OutcomeUpdate, QuestionText, ThreadOutcome, apply

log = logging.getLogger(__name__)


class OutcomeRecorder:
    def __init__(
        self,
        *,
        store: OutcomeStore,
        question_text: QuestionText | str = QuestionText.KEEP,
        clock: Callable[[], float] = time.time,
        strict: bool = False,
    ) -> None:
        self.store = store
        self._question_text = QuestionText(question_text)
        self._clock = clock
        self._strict = strict

    async def record(
        self, key: ThreadKey, event: OutcomeEvent | str, *, now: float | None = None, **fields: Any
    ) -> ThreadOutcome | None:
        """Apply one event to the thread's record; the fields are `OutcomeUpdate`'s (a wrong one is a TypeError,
        a missing one a ValueError: both are bugs in the caller, so they are raised even when not strict)."""
        return await self.record_updates(key, [OutcomeUpdate(event=OutcomeEvent(event), **fields)], now=now)

    async def record_turn(
        self, key: ThreadKey, old: ThreadState | None, new: ThreadState | None, *, now: float | None = None
    ) -> ThreadOutcome | None:
        """Record what one conversation turn changed (see from_state.py); nothing is written for no change."""
        updates = updates_for_turn(old, new)
        if not updates:
            return None
        return await self.record_updates(key, updates, now=now)

    async def record_updates(
        self, key: ThreadKey, updates: Sequence[OutcomeUpdate], *, now: float | None = None
    ) -> ThreadOutcome | None:
        """Apply several updates in one atomic write (one turn's worth)."""
        at = self._clock() if now is None else now

        def change(outcome: ThreadOutcome | None) -> ThreadOutcome | None:
            for update in updates:
                outcome = apply(outcome, update, key=key, now=at, question_text=self._question_text)
            return outcome

        try:
            return await self.store.update(key, change)
        except StoreError as exc:
            if self._strict:
                raise
            events = ", ".join(u.event.value for u in updates)
            log.warning("outcome of thread %s not recorded (%s): %s", key.as_str(), events, exc)
            return None
