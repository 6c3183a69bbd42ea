"""What happened in every thread, kept for reports and for learning: records, the recorder, the stores."""

from __future__ import annotations

from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, OutcomeStore
from kbbot.outcomes.open import open_outcome_store
from kbbot.outcomes.record import (
    Outcome,
    OutcomeEvent,
    OutcomeUpdate,
    QuestionText,
    StepRef,
    ThreadOutcome,
    Vote,
    VoteReason,
    VoteValue,
    apply,
)
from kbbot.outcomes.recorder import OutcomeRecorder

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "Outcome",
    "OutcomeEvent",
    "OutcomeRecorder",
    "OutcomeStore",
    "OutcomeUpdate",
    "QuestionText",
    "StepRef",
    "ThreadOutcome",
    "Vote",
    "VoteReason",
    "VoteValue",
    "apply",
    "open_outcome_store",
]
