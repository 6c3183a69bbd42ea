"""The search learns from thread outcomes in the running bot: hits re-ordered, bands untouched, switchable off."""

from __future__ import annotations

import time
from pathlib import Path

from kbbot.conversation.state import ThreadKey
from kbbot.outcomes import OutcomeEvent, OutcomeUpdate, QuestionText, ThreadOutcome, apply
from kbbot.outcomes.learn import LearnedRanking, LearningSearch, Lessons
from kbbot.search.types import SearchContext, SearchHit, SearchResult
from kbbot.server.loopback import loopback_bot
from kbbot.server.runtime import TimedSearch

QUESTION = "webex crashes on my mac as soon as I share my screen"


class _FixedSearch:
    """A searcher that always finds the same two articles, the wrong one first, as a short list."""

    def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult:
        hits = (SearchHit(id="KB-WRONG", title="Webex audio", score=5.0),
                SearchHit(id="KB-RIGHT", title="Webex screen share on macOS", score=4.5))  # fmt: skip
        return SearchResult(query=text, hits=hits, band="shortlist", confidence=0.4)


def _resolved(n: int, asker: str, article: str) -> ThreadOutcome:
    key = ThreadKey(team="T1", channel="C1", thread_ts=f"1790000000.{n:06d}")
    now = time.time() - 3600 + n
    outcome = apply(None, OutcomeUpdate(event=OutcomeEvent.ASKED, question=QUESTION, asker=asker), key=key,
                    now=now, question_text=QuestionText.KEEP)  # fmt: skip
    outcome = apply(outcome, OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("KB-WRONG", article),
                                           band="shortlist"), key=key, now=now)  # fmt: skip
    return apply(outcome, OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=article), key=key, now=now)


def test_learning_reorders_the_hits_but_never_the_band() -> None:
    lessons = Lessons()
    search = LearningSearch(inner=_FixedSearch(), lessons=lessons)
    assert [h.id for h in search.search(QUESTION).hits] == ["KB-WRONG", "KB-RIGHT"]  # nothing learned yet
    two_people = [_resolved(1, "U1", "KB-RIGHT"), _resolved(2, "U2", "KB-RIGHT")]
    lessons.ranking = LearnedRanking.from_outcomes(two_people)
    learned = search.search(QUESTION)
    assert [h.id for h in learned.hits] == ["KB-RIGHT", "KB-WRONG"]
    assert learned.band == "shortlist" and learned.confidence == 0.4
    # an unrelated question is not moved by what was learned about this one
    other = search.search("the printer on floor 3 says offline")
    assert [h.id for h in other.hits] == ["KB-WRONG", "KB-RIGHT"]


async def _threads_resolved_in(store_url: str, tmp_path: Path, *, learn: bool) -> tuple[int, bool]:
    async with loopback_bot(index=None, store_url=store_url, cache_dir=tmp_path / "cache",
                            learn_from_outcomes=learn) as bot:  # fmt: skip
        runtime = bot.runtime
        assert runtime.outcomes is not None
        for n, asker in ((1, "U1"), (2, "U2")):
            record = _resolved(n, asker, "Q237695")
            await runtime.outcomes.update(record.key, lambda _old, r=record: r)
        learned = await runtime.learn_now()
        timed = runtime.conversation._current._search  # the searcher the engine asks
        assert isinstance(timed, TimedSearch)
        return learned, isinstance(timed._inner, LearningSearch)


async def test_the_running_bot_learns_from_its_outcome_store(tmp_path: Path) -> None:
    learned, wired = await _threads_resolved_in(f"sqlite:///{tmp_path}/state.db", tmp_path, learn=True)
    assert learned == 2 and wired


async def test_learning_is_switchable_off(tmp_path: Path) -> None:
    _, wired = await _threads_resolved_in("memory://", tmp_path, learn=False)
    assert not wired
