"""Thread outcomes: the pure record (`apply`) and one store contract over memory, SQLite and a real Redis."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_store import backend_url, redis_url  # noqa: F401 - redis_url: the session's redis-server

from kbbot.conversation.engine import Conversation, ConversationSettings, Turn, UserTurn
from kbbot.conversation.intents import IntentSet
from kbbot.conversation.replies import Action, Offer, offers_of
from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import StoreError
from kbbot.kb import KnowledgeBase
from kbbot.outcomes import (
    Outcome,
    OutcomeEvent,
    OutcomeRecorder,
    OutcomeStore,
    OutcomeUpdate,
    QuestionText,
    StepRef,
    ThreadOutcome,
    VoteReason,
    VoteValue,
    apply,
    open_outcome_store,
)
from kbbot.outcomes.base import DAY_S
from kbbot.outcomes.learn import LearnedRanking, LearnSettings
from kbbot.search import SearchEngine
from kbbot.search.types import SearchHit
from kbbot.store import open_store

REPO = Path(__file__).resolve().parents[1]

KEY = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")
OTHER = ThreadKey(team="T1", channel="C2", thread_ts="1700000500.000200")
T0 = 1_790_000_000.0
IMC_QUESTION = "Exchange IMC is silently losing mail, no NDR"


def _replay(*updates: OutcomeUpdate, question_text: QuestionText = QuestionText.KEEP) -> ThreadOutcome:
    outcome: ThreadOutcome | None = None
    for i, update in enumerate(updates):
        outcome = apply(outcome, update, key=KEY, now=T0 + 60 * i, question_text=question_text)
    assert outcome is not None
    return outcome


def _step(step: int, article: str = "Q102087") -> StepRef:
    return StepRef(article=article, procedure=0, step=step)


def test_a_walk_that_fails_once_then_works_records_every_step_and_the_time_to_resolution() -> None:
    outcome = _replay(
        OutcomeUpdate(event=OutcomeEvent.ASKED, question=IMC_QUESTION, asker="U1"),
        OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q102087",), band="answer"),
        OutcomeUpdate(event=OutcomeEvent.STEP_SHOWN, step=_step(0)),
        OutcomeUpdate(event=OutcomeEvent.STEP_SHOWN, step=_step(1)),
        OutcomeUpdate(event=OutcomeEvent.STEP_FAILED, step=_step(1)),
        OutcomeUpdate(event=OutcomeEvent.STEP_SHOWN, step=_step(2)),
        OutcomeUpdate(event=OutcomeEvent.RESOLVED),
    )
    assert outcome.question == IMC_QUESTION and outcome.asker == "U1"
    assert outcome.articles == ("Q102087",) and outcome.band == outcome.best_band == "answer"
    assert [s.step for s in outcome.steps_shown] == [0, 1, 2]
    assert outcome.failed_step == _step(1) and outcome.failed_step.label == "1.2"
    assert outcome.outcome is Outcome.RESOLVED and outcome.resolved_by == "Q102087"
    assert outcome.time_to_resolution_s == 6 * 60
    assert ThreadOutcome.from_json(outcome.to_json()) == outcome


def test_one_vote_per_person_changeable_and_a_reason_only_sticks_to_a_down_vote() -> None:
    outcome = _replay(
        OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q102087", "Q99304"), band="shortlist"),
        OutcomeUpdate(event=OutcomeEvent.VOTE, user="U1", value=VoteValue.DOWN),
        OutcomeUpdate(event=OutcomeEvent.VOTE_REASON, user="U1", reason=VoteReason.OUT_OF_DATE),
        OutcomeUpdate(event=OutcomeEvent.VOTE, user="U2", value=VoteValue.UP, article="Q99304"),
        # U2 changes their mind; the adapter hands over plain strings from the button value
        OutcomeUpdate(event=OutcomeEvent.VOTE, user="U2", value="down", reason="wrong_article"),  # type: ignore[arg-type]
        OutcomeUpdate(event=OutcomeEvent.VOTE, user="U3", value=VoteValue.UP),
        OutcomeUpdate(event=OutcomeEvent.VOTE_REASON, user="U3", reason=VoteReason.OTHER),
    )
    assert {u: v.value for u, v in outcome.votes.items()} == {"U1": "down", "U2": "down", "U3": "up"}
    assert outcome.votes["U1"].reason is VoteReason.OUT_OF_DATE and outcome.votes["U1"].article == "Q102087"
    assert outcome.votes["U2"].reason is VoteReason.WRONG_ARTICLE
    assert outcome.votes["U3"].reason is None, "a reason for a 👍 is a stale modal, not data"
    assert ThreadOutcome.from_json(outcome.to_json()) == outcome


def test_no_match_then_a_refined_question_that_finds_an_article_is_open_again() -> None:
    unanswered = _replay(
        OutcomeUpdate(event=OutcomeEvent.ASKED, question="the coffee machine says E42", asker="U1"),
        OutcomeUpdate(event=OutcomeEvent.OFFERED, band="none"),
    )
    assert unanswered.outcome is Outcome.NO_MATCH and unanswered.articles == ()
    refined = apply(
        unanswered, OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q99304",), band="shortlist"),
        key=KEY, now=T0 + 600,
    )  # fmt: skip
    assert refined.outcome is Outcome.OPEN and refined.best_band == "shortlist"
    assert refined.question == "the coffee machine says E42", "the first question is the one kept"


def test_a_closed_thread_stays_closed_when_kbbot_answers_a_follow_up() -> None:
    outcome = _replay(
        OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q102087",), band="answer"),
        OutcomeUpdate(event=OutcomeEvent.ESCALATED),
        OutcomeUpdate(event=OutcomeEvent.OFFERED, band="none"),
    )
    assert outcome.outcome is Outcome.ESCALATED and outcome.band == "none" and outcome.best_band == "answer"


def test_an_open_thread_gone_quiet_reads_as_abandoned() -> None:
    outcome = _replay(OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q102087",), band="answer"))
    assert outcome.outcome_at(T0 + 3600, abandon_after_s=DAY_S) is Outcome.OPEN
    assert outcome.outcome_at(T0 + 2 * DAY_S, abandon_after_s=DAY_S) is Outcome.ABANDONED


@pytest.mark.parametrize(
    ("policy", "kept", "hashed"),
    [(QuestionText.KEEP, True, True), (QuestionText.HASH, False, True), (QuestionText.DROP, False, False)],
)
def test_question_text_policy_decides_what_is_stored(policy: QuestionText, kept: bool, hashed: bool) -> None:
    outcome = _replay(OutcomeUpdate(event=OutcomeEvent.ASKED, question=IMC_QUESTION), question_text=policy)
    assert (outcome.question == IMC_QUESTION) is kept and (outcome.question is None) is not kept
    assert (outcome.question_hash is not None) is hashed
    assert "silently" not in outcome.to_json() or policy is QuestionText.KEEP
    # the same question differently spaced and cased groups with the first under hash
    other = apply(None, OutcomeUpdate(event=OutcomeEvent.ASKED, question="  exchange IMC is silently  losing "
                                      "mail, NO NDR"), key=OTHER, now=T0, question_text=policy)  # fmt: skip
    assert other.question_hash == outcome.question_hash


def test_an_incomplete_event_is_refused_where_it_is_made() -> None:
    with pytest.raises(ValueError, match="vote needs value"):
        OutcomeUpdate(event=OutcomeEvent.VOTE, user="U1")
    with pytest.raises(ValueError, match="band"):
        OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q1",), band="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OutcomeUpdate(event="shrugged")  # type: ignore[arg-type]


# --- one contract over every backend ---------------------------------------------------------------------------

_redis_db = iter(range(8, 10_000))


@pytest.fixture(params=["memory", "sqlite", "redis"])
def outcome_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # Redis databases 8-15, emptied first: the thread store's tests use the low ones
    url = backend_url(request.param, request=request, tmp_path=tmp_path, redis_db=8 + next(_redis_db) % 8)
    if request.param == "redis":
        import redis

        with redis.Redis.from_url(url) as client:
            client.flushdb()
    return url


@pytest.fixture
async def outcomes(outcome_url: str) -> AsyncIterator[OutcomeStore]:
    store = open_outcome_store(outcome_url)
    await store.ping()
    yield store
    await store.close()


async def test_update_get_and_list_round_trip_a_record(outcomes: OutcomeStore) -> None:
    recorder = OutcomeRecorder(store=outcomes, strict=True)
    now = time.time()
    await recorder.record(KEY, OutcomeEvent.ASKED, question=IMC_QUESTION, asker="U1", now=now)
    await recorder.record(KEY, OutcomeEvent.OFFERED, articles=("Q102087",), band="answer", now=now + 1)
    await recorder.record(OTHER, OutcomeEvent.ASKED, question="printer offline", asker="U2", now=now + 5)
    stored = await outcomes.get(KEY)
    assert stored is not None and stored.question == IMC_QUESTION and stored.articles == ("Q102087",)
    assert await outcomes.get(ThreadKey(team="T1", channel="C9", thread_ts="1.2")) is None
    assert [r.key for r in await outcomes.list(since=now - 10)] == [KEY, OTHER]
    assert [r.key for r in await outcomes.list(since=now + 2)] == [OTHER]
    assert [r.key for r in await outcomes.list(since=now - 10, until=now + 2)] == [KEY]
    assert [r.key for r in await outcomes.list(since=now - 10, asker="U2")] == [OTHER]


async def test_concurrent_votes_on_one_thread_all_count(outcomes: OutcomeStore) -> None:
    recorder = OutcomeRecorder(store=outcomes, strict=True)
    await recorder.record(KEY, OutcomeEvent.OFFERED, articles=("Q102087",), band="answer")
    voters = [f"U{i:03d}" for i in range(25)]
    await asyncio.gather(*(recorder.record(KEY, OutcomeEvent.VOTE, user=u, value="up") for u in voters))
    stored = await outcomes.get(KEY)
    assert stored is not None and sorted(stored.votes) == voters


async def test_two_processes_recording_one_thread_at_once_lose_nothing(outcome_url: str) -> None:
    if outcome_url.startswith("memory"):
        pytest.skip("a memory store is one process's own")
    # two store objects, two connections: what two bot processes behind a load balancer have
    first, second = open_outcome_store(outcome_url), open_outcome_store(outcome_url)
    try:
        voters = [f"U{i:03d}" for i in range(30)]
        recorders = [OutcomeRecorder(store=first, strict=True), OutcomeRecorder(store=second, strict=True)]
        await asyncio.gather(*(
            recorders[i % 2].record(KEY, OutcomeEvent.VOTE, user=u, value="down" if i % 3 else "up")
            for i, u in enumerate(voters)
        ))  # fmt: skip
        stored = await first.get(KEY)
        assert stored is not None and sorted(stored.votes) == voters
        assert sum(v.value is VoteValue.UP for v in stored.votes.values()) == 10
    finally:
        await first.close()
        await second.close()


async def test_sqlite_outcomes_wait_for_another_process_lock_without_blocking_the_event_loop(
    tmp_path: Path,
) -> None:
    # the outcome store writes right on the event loop while the file is free; held by another process, the
    # write goes to a worker thread and waits there
    path = tmp_path / "state.db"
    store = open_outcome_store(f"sqlite:///{path}")
    recorder = OutcomeRecorder(store=store, strict=True)
    try:
        await recorder.record(KEY, OutcomeEvent.ASKED, question=IMC_QUESTION, asker="U1")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        vote = asyncio.create_task(recorder.record(KEY, OutcomeEvent.VOTE, user="U2", value="up"))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not vote.done()
        other.execute("COMMIT")
        other.close()
        recorded = await asyncio.wait_for(vote, timeout=10)
        assert recorded is not None and list(recorded.votes) == ["U2"]
        stored = await store.get(KEY)
        assert stored is not None and stored.question == IMC_QUESTION and list(stored.votes) == ["U2"]
    finally:
        await store.close()


async def test_records_past_retention_are_not_listed_and_are_pruned(outcomes: OutcomeStore) -> None:
    recorder = OutcomeRecorder(store=outcomes, strict=True)
    now = time.time()
    await recorder.record(OTHER, OutcomeEvent.ASKED, question="old question", now=now - 91 * DAY_S)
    await recorder.record(KEY, OutcomeEvent.ASKED, question="new question", now=now - 89 * DAY_S)
    assert [r.question for r in await outcomes.list(since=0)] == ["new question"]
    assert await outcomes.get(OTHER) is None
    assert await outcomes.prune(now=now) == 1
    assert await outcomes.prune(now=now) == 0
    assert [r.question for r in await outcomes.list(since=0)] == ["new question"]


async def test_an_unreachable_store_never_stops_the_bot_unless_strict(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    store = open_outcome_store(f"sqlite:///{blocker / 'state.db'}")
    assert await OutcomeRecorder(store=store).record(KEY, OutcomeEvent.ESCALATED) is None
    with pytest.raises(StoreError, match="outcome store"):
        await OutcomeRecorder(store=store, strict=True).record(KEY, OutcomeEvent.ESCALATED)
    with pytest.raises(TypeError):
        await OutcomeRecorder(store=store).record(KEY, OutcomeEvent.ESCALATED, mood="grumpy")


async def test_sqlite_outcomes_share_the_thread_store_file_and_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    threads = open_store(url)
    await threads.transact(KEY, lambda old: (ThreadState(version=1, question=IMC_QUESTION), None))
    first = open_outcome_store(url)
    await OutcomeRecorder(store=first, strict=True).record(KEY, OutcomeEvent.ESCALATED)
    await first.close()
    await threads.close()

    reopened = open_outcome_store(url)
    stored = await reopened.get(KEY)
    assert stored is not None and stored.outcome is Outcome.ESCALATED
    await reopened.close()
    threads = open_store(url)
    assert await threads.get(KEY) is not None, "the thread store's tables are untouched"
    await threads.close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert "outcomes_0001_thread_outcomes" in names and "0001_threads_and_events" in names


async def test_a_bad_url_names_the_forms_it_takes() -> None:
    with pytest.raises(StoreError, match="memory://"):
        open_outcome_store("mongodb://db")
    with pytest.raises(ValueError, match="at least one day"):
        open_outcome_store("memory://", retention_days=0)


async def test_a_damaged_sqlite_file_names_the_cause(tmp_path: Path) -> None:
    # the outcome store opens the shared file as the thread store does, and says why it cannot in the same words
    path = tmp_path / "state.db"
    path.write_bytes(b"not a database, whatever the name says\n" * 200)
    store = open_outcome_store(f"sqlite://{path}")  # sqlite:///tmp/... for the absolute path /tmp/...
    with pytest.raises(StoreError) as damaged:
        await store.get(KEY)
    assert str(damaged.value) == (
        f"cannot open the SQLite outcome store at {path}: file is not a database "
        "(the file is not an SQLite database; move it aside and kbbot starts a new one)"
    )
    await store.close()


# --- the record read off real conversation turns ---------------------------------------------------------------


@pytest.fixture(scope="module")
def conversation(seeds_index: Path) -> Conversation:
    kb = KnowledgeBase.open(seeds_index)
    return Conversation(
        kb=kb,
        search=SearchEngine.load(seeds_index, kb),
        intents=IntentSet.load(REPO / "intents"),
        settings=ConversationSettings(escalation_target="#it-helpdesk"),
    )


def _offer(turn: Turn, action: Action) -> Offer:
    """The button the turn's replies offer for `action` (the engine speaks in reply values, not Slack blocks)."""
    return next(o for reply in turn.replies for o in offers_of(reply) if o.action is action)


async def test_a_real_walk_to_escalation_is_recorded_turn_by_turn(conversation: Conversation) -> None:
    recorder = OutcomeRecorder(store=open_outcome_store("memory://"), strict=True)
    state: ThreadState | None = None
    now = T0

    async def say(text: str = "", pressed: Offer | None = None) -> Turn:
        nonlocal state, now
        now += 30
        turn = conversation.handle(state, UserTurn(user="U1", text=text, pressed=pressed), now=now)
        await recorder.record_turn(KEY, state, turn.state, now=now)
        state = turn.state if turn.state is not None else state
        return turn

    turn = await say("[008] Failure delivering user mail due to mailbag contention")
    turn = await say(pressed=_offer(turn, Action.WALK))
    await say("step 4")
    await say("repeat")  # the same step again: no new state, nothing recorded
    await say("next")
    await say("next")
    await say("didn't work")
    await say("talk to a human")

    outcome = await recorder.store.get(KEY)
    assert outcome is not None
    assert outcome.question == "[008] Failure delivering user mail due to mailbag contention"
    assert outcome.asker == "U1"
    assert outcome.articles == ("Q237695",) and outcome.best_band == "answer"
    assert [s.label for s in outcome.steps_shown] == ["1.1", "1.4", "1.5", "1.6"]
    assert [s.label for s in outcome.failures] == ["1.6"]
    assert outcome.outcome is Outcome.ESCALATED and outcome.escalated_at == now


async def test_a_question_the_seeds_cannot_answer_is_recorded_as_no_match(conversation: Conversation) -> None:
    recorder = OutcomeRecorder(store=open_outcome_store("memory://"), strict=True)
    turn = conversation.handle(None, UserTurn(user="U9", text="how do I bake bread"), now=T0)
    outcome = await recorder.record_turn(KEY, None, turn.state, now=T0)
    assert outcome is not None and outcome.outcome is Outcome.NO_MATCH
    assert outcome.question == "how do I bake bread"
    assert await recorder.record_turn(KEY, turn.state, turn.state, now=T0 + 1) is None


# --- learning from use -----------------------------------------------------------------------------------------

WEBEX = "webex keeps crashing on my m1 mac"
WEBEX_AGAIN = "webex crashes on my mac"


def _thread(n: int, question: str, *updates: OutcomeUpdate, asker: str = "U1",
            policy: QuestionText = QuestionText.KEEP) -> ThreadOutcome:  # fmt: skip
    key = ThreadKey(team="T1", channel="C1", thread_ts=f"1790000000.{n:06d}")
    outcome = apply(None, OutcomeUpdate(event=OutcomeEvent.ASKED, question=question, asker=asker), key=key,
                    now=T0 + n, question_text=policy)  # fmt: skip
    for update in updates:
        outcome = apply(outcome, update, key=key, now=T0 + n)
    return outcome


def _resolved_with(article: str) -> tuple[OutcomeUpdate, ...]:
    return (OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=(article, "Q2"), band="shortlist"),
            OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=article))  # fmt: skip


def _downvoted(article: str, voter: str, reason: VoteReason) -> tuple[OutcomeUpdate, ...]:
    return (OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=(article,), band="answer"),
            OutcomeUpdate(event=OutcomeEvent.VOTE, user=voter, value=VoteValue.DOWN, reason=reason))  # fmt: skip


def test_a_resolved_question_raises_its_article_for_a_paraphrase_only() -> None:
    learned = LearnedRanking.from_outcomes([_thread(1, WEBEX, *_resolved_with("Q100"))])
    raised = learned.adjustments(WEBEX_AGAIN)
    assert set(raised) == {"Q100"} and 0.5 < raised["Q100"] <= LearnSettings().per_person
    assert learned.adjustments("the coffee machine on floor 2 is broken") == {}
    off = LearnedRanking.from_outcomes([_thread(1, WEBEX, *_resolved_with("Q100"))],
                                       settings=LearnSettings(enabled=False))  # fmt: skip
    assert off.adjustments(WEBEX) == {}


def test_one_person_repeating_themselves_moves_an_article_no_further_than_once() -> None:
    once = LearnedRanking.from_outcomes([_thread(1, WEBEX, *_resolved_with("Q100"))]).adjustments(WEBEX)
    many = LearnedRanking.from_outcomes(
        [_thread(n, WEBEX, *_resolved_with("Q100")) for n in range(20)]).adjustments(WEBEX)  # fmt: skip
    # repeating adds nothing, and someone in more than `full_weight_threads` threads counts for less in each
    full = LearnSettings().full_weight_threads
    assert many["Q100"] == pytest.approx(once["Q100"] * (full / 20) ** 0.5, abs=1e-3)
    people = [_thread(n, WEBEX, *_resolved_with("Q100"), asker=f"U{n}") for n in range(20)]
    crowd = LearnedRanking.from_outcomes(people).adjustments(WEBEX)
    assert crowd["Q100"] == LearnSettings().per_article, "many people: up to the article's bound, no further"


def test_lowering_an_article_takes_two_people_and_out_of_date_does_not_count() -> None:
    one = [_thread(1, WEBEX, *_downvoted("Q100", "U7", VoteReason.WRONG_ARTICLE))]
    assert LearnedRanking.from_outcomes(one).adjustments(WEBEX_AGAIN) == {}, "one person cannot bury an article"
    two = [*one, _thread(2, WEBEX_AGAIN, *_downvoted("Q100", "U8", VoteReason.DID_NOT_HELP))]
    assert LearnedRanking.from_outcomes(two).adjustments(WEBEX)["Q100"] < -1.0
    stale = [_thread(n, WEBEX, *_downvoted("Q100", f"U{n}", VoteReason.OUT_OF_DATE)) for n in range(5)]
    assert LearnedRanking.from_outcomes(stale).adjustments(WEBEX) == {}


def test_rerank_lifts_the_article_that_fixed_a_paraphrase() -> None:
    learned = LearnedRanking.from_outcomes([_thread(1, WEBEX, *_resolved_with("Q100"))])
    hits = [SearchHit(id="Q200", title="Webex audio", score=30.4),
            SearchHit(id="Q100", title="Webex crash", score=30.0)]  # fmt: skip
    assert [h.id for h in learned.rerank(WEBEX_AGAIN, hits)] == ["Q100", "Q200"]
    assert [h.id for h in learned.rerank("printer offline", hits)] == ["Q200", "Q100"]


def test_a_hashed_question_is_recognised_only_when_asked_again_word_for_word() -> None:
    learned = LearnedRanking.from_outcomes([_thread(1, WEBEX, *_resolved_with("Q100"), policy=QuestionText.HASH)])
    assert learned.adjustments(WEBEX.upper())["Q100"] == LearnSettings().per_person
    assert learned.adjustments(WEBEX_AGAIN) == {}


def test_settings_name_the_question_policy_and_the_retention() -> None:
    from kbbot.errors import ConfigError
    from kbbot.settings import Settings

    defaults = Settings.from_env({})
    assert defaults.question_text is QuestionText.KEEP and defaults.outcome_retention_days == 90
    chosen = Settings.from_env({"KBBOT_QUESTION_TEXT": "hash", "KBBOT_OUTCOME_RETENTION_DAYS": "30"})
    assert chosen.question_text is QuestionText.HASH and chosen.outcome_retention_days == 30
    with pytest.raises(ConfigError, match="KBBOT_QUESTION_TEXT must be keep, hash or drop"):
        Settings.from_env({"KBBOT_QUESTION_TEXT": "redact"})
    with pytest.raises(ConfigError, match="KBBOT_OUTCOME_RETENTION_DAYS must be at least 1"):
        Settings.from_env({"KBBOT_OUTCOME_RETENTION_DAYS": "0"})
