"""`OutcomeRecorder`: what the engine adapter calls as a thread goes along; one line per thing that happened.

    recorder = OutcomeRecorder(store=open_outcome_store(settings.store_url), question_text=QuestionText.KEEP)
    await recorder.record(key, OutcomeEvent.ASKED, question=text, asker=user)
    await recorder.record(key, OutcomeEvent.OFFERED, articles=("Q102087", "Q99304"), band="shortlist")
    await recorder.record(key, OutcomeEvent.STEP_SHOWN, step=StepRef(article="Q102087", procedure=0, step=2))
    await recorder.record(key, OutcomeEvent.VOTE, user="U2", value="down", reason="out_of_date")

Recording is bookkeeping: a store that cannot be reached must not stop kbbot answering, so `record` logs the
failure and returns None instead of raising (`strict=True` raises, for tests and tools).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kbbot.conversation.state import ThreadKey
from kbbot.errors import StoreError
from kbbot.outcomes.base import OutcomeStore
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
        update = OutcomeUpdate(event=OutcomeEvent(event), **fields)
        at = self._clock() if now is None else now

        def change(outcome: ThreadOutcome | None) -> ThreadOutcome:
            return apply(outcome, update, key=key, now=at, question_text=self._question_text)

        try:
            return await self.store.update(key, change)
        except StoreError as exc:
            if self._strict:
                raise
            log.warning("outcome of thread %s not recorded (%s): %s", key.as_str(), update.event.value, exc)
            return None
