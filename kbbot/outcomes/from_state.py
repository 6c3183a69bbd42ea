"""Outcome events read off a conversation turn: what changed between the thread's stored state and the new one.

The engine already keeps a history of what happened in a thread (`ThreadState.history`: answered, shown, worked,
failed, escalated); this turns one turn's change into `OutcomeUpdate`s, so the adapter records a turn with one
call and the engine needs no outcome code of its own:

    turn = await store.transact(key, fn)          # fn also keeps the state it was given: `old`
    await recorder.record_turn(key, old, turn.state)

Votes are not in the thread state; the adapter records them from the button action itself.
"""

from __future__ import annotations

from kbbot.conversation.state import HistoryEntry, ThreadState
from kbbot.outcomes.record import OutcomeEvent, OutcomeUpdate, StepRef


def _new_entries(old: ThreadState | None, new: ThreadState) -> tuple[HistoryEntry, ...]:
    # The history is capped (oldest entries drop off), so "new" is what follows the last entry the old state had.
    if old is None or not old.history:
        return new.history
    last = old.history[-1]
    for i in range(len(new.history) - 1, -1, -1):
        if new.history[i] == last:
            return new.history[i + 1 :]
    return new.history


def _step(entry: HistoryEntry) -> StepRef:
    return StepRef(article=entry.article_id, procedure=max(entry.procedure_no, 0), step=max(entry.step_no, 0))


def updates_for_turn(old: ThreadState | None, new: ThreadState | None) -> list[OutcomeUpdate]:
    """What one turn did to the thread, as outcome updates in the order they happened; [] when nothing changed."""
    if new is None or new is old or (old is not None and new.version <= old.version):
        return []
    updates: list[OutcomeUpdate] = []
    if new.question and (old is None or not old.question):
        updates.append(OutcomeUpdate(event=OutcomeEvent.ASKED, question=new.question, asker=new.asker or None))
    entered = old is None or old.status != new.status
    if entered and new.status == "no_match":
        updates.append(OutcomeUpdate(event=OutcomeEvent.OFFERED, band="none"))
    elif entered and new.status == "choosing" and new.candidates:
        updates.append(OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=new.candidates, band="shortlist"))
    for entry in _new_entries(old, new):
        if entry.event in ("answered", "shared") and entry.article_id:
            updates.append(OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=(entry.article_id,), band="answer"))
        elif entry.event == "shown" and entry.article_id:
            updates.append(OutcomeUpdate(event=OutcomeEvent.STEP_SHOWN, step=_step(entry)))
        elif entry.event == "failed" and entry.article_id:
            updates.append(OutcomeUpdate(event=OutcomeEvent.STEP_FAILED, step=_step(entry)))
        elif entry.event == "worked":
            updates.append(OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=entry.article_id or None))
        elif entry.event == "escalated":
            updates.append(OutcomeUpdate(event=OutcomeEvent.ESCALATED))
    return updates
