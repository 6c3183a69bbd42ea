"""Whole conversations through the engine, with real Article objects and an in-memory search double."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reply_helpers import all_text, offer, offers, plain, said

from kbbot.article import Article, ErrorSignature, Procedure, Step
from kbbot.conversation import messages as msg
from kbbot.conversation.engine import Conversation, ConversationSettings, Turn, UserTurn
from kbbot.conversation.intents import IntentSet
from kbbot.conversation.replies import (
    Action,
    AnswerReply,
    ClosestReply,
    EscalationOfferReply,
    LookupReply,
    Mention,
    NoMatchReply,
    NoticeReply,
    Offer,
    ProductQuestionReply,
    Reply,
    ShortlistReply,
    StepReply,
)
from kbbot.conversation.state import ThreadEvent, ThreadState
from kbbot.parse import parse_file
from kbbot.search.types import Band, SearchContext, SearchHit, SearchResult

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))

# Steps of Q321454 ("At Least One Service Or Driver Failed" Err Msg on Startup), as the corpus has them:
# a long first procedure (22 steps) and a shorter second one, with <placeholders> that must be escaped.
_Q321454_STEP1 = (
    "Log on to the computer as an administrator.",
    'Click Start, click Run, type "regedt32.exe" (without the quotation marks) in the Open box, '
    "and then click OK.",
    "Maximize the HKEY_LOCAL_MACHINE on Local Machine window if it is not already maximized.",
    "Locate the following registry subkey:\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Protected Storage System Provider\n"
    "NOTE: This registry key may appear to be unavailable (appear dimmed).",
    "On the Security menu, click Owner. Click Take Ownership.",
    "On the Security menu, click Permissions.",
    "In the Registry Key Permissions dialog box, click Add, click Administrators in the Names list, click Add, "
    'click Full Control in the "Type of Access" list, and then click OK.',
    'Click to select the "Replace Permission on Existing Subkeys" check box, and then click OK.',
    "Click Yes to confirm the permission replacement on all existing subkeys in Protected Storage "
    "System Provider.",
    "Quit Registry Editor.",
    'Click Start, click Run, type "regedit.exe" (without the quotation marks) in the Open box, and then click OK.',
    "Locate the following registry subkey:\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Protected Storage System Provider",
    "On the Registry menu, click Export Registry File.",
    'In the "File name" box, type "pstore1.reg" (without the quotation marks), and then click Save.',
    "On the Edit menu, click Delete.",
    "Click Yes to confirm the deletion of the Protected Storage System Provider registry key.",
    "Locate the following registry subkey:\n"
    "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\ProtectedStorage",
    "On the Registry menu, click Export Registry File.",
    'In the "File name" box, type "pstore2.reg" (without the quotation marks), and then click Save.',
    "On the Edit menu, click Delete.",
    "Click Yes to confirm the deletion of the ProtectedStorage registry key.",
    "Quit Registry Editor.",
)
_Q321454_STEP2 = (
    "Click Start, point to Settings, click Control Panel, and then double-click Add/Remove Programs.",
    'Click "Microsoft Internet Explorer <version>", and then click Add/Remove.',
    "Click Repair Internet Explorer, and then click OK.",
    "Click Yes when you are prompted to confirm the Internet Explorer installation repair.",
    "Restart the computer when prompted.",
)

LONG = Article(
    id="Q321454",
    title='"At Least One Service Or Driver Failed" Err Msg on Startup',
    product="Microsoft Windows NT",
    product_tag="winnt",
    versions=("4.0",),
    sections={
        "SYMPTOMS": "When you start your computer, you may receive the following error message:\n\n"
        "At least one service or driver failed during system startup. Use Event Viewer to examine the "
        "event log for details.",
        "CAUSE": "This issue may occur if the Protected Storage store information in the registry is corrupted.",
        "RESOLUTION": "To resolve this issue, reinstall Protected Storage.",
    },
    procedures=(
        Procedure(
            label="Step 1: Remove Protected Storage Registry Keys",
            section="RESOLUTION",
            steps=tuple(
                Step(text=t, references=("Q256986",) if i == 0 else ()) for i, t in enumerate(_Q321454_STEP1)
            ),
        ),
        Procedure(
            label="Step 2: Repair Microsoft Internet Explorer",
            section="RESOLUTION",
            steps=tuple(Step(text=t) for t in _Q321454_STEP2),
        ),
    ),
    references=("Q256986",),
)


def _seed_articles() -> dict[str, Article]:
    return {a.id: a for a in (parse_file(p) for p in SEEDS)}


class FakeKnowledgeBase:
    """`get` / `closest_ids` over a dict of real articles (what kbbot.kb.KnowledgeBase offers the engine)."""

    def __init__(self, articles: Iterable[Article]) -> None:
        self.articles = {a.id: a for a in articles}

    def get(self, qid: str) -> Article | None:
        return self.articles.get(qid)

    def closest_ids(self, qid: str, limit: int = 3) -> list[str]:
        def distance(other: str) -> tuple[int, str]:
            a, b = qid[1:], other[1:]
            return (sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b)), other)

        return sorted(self.articles, key=distance)[:limit]


@dataclass
class FakeSearch:
    """Scripted search over real articles: query -> (ids, band); honours the context like the real engine."""

    kb: FakeKnowledgeBase
    script: dict[str, tuple[Sequence[str], Band]] = field(default_factory=dict)
    calls: list[tuple[str, SearchContext | None]] = field(default_factory=list)

    def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult:
        self.calls.append((text, context))
        ids, band = self.script.get(text, ((), "none"))
        hits = []
        for rank, qid in enumerate(ids):
            article = self.kb.articles[qid]
            if context and qid in context.excluded:
                continue
            error = article.error_codes[0] if article.error_codes else None
            hits.append(
                SearchHit(
                    id=qid,
                    title=article.title,
                    score=1.0 - rank / 10,
                    product=article.product,
                    matched_error=error,
                )
            )
        return SearchResult(
            query=text, hits=tuple(hits[:limit]), band=band, confidence=0.9 if band == "answer" else 0.4
        )


SETTINGS = ConversationSettings(escalation_target="#it-helpdesk")


@pytest.fixture(scope="module")
def intents() -> IntentSet:
    return IntentSet.load(REPO / "intents")


@pytest.fixture
def kb() -> FakeKnowledgeBase:
    articles = _seed_articles()
    articles[LONG.id] = LONG
    # the article LONG's first step points at, so its see-also button is offered (Q135932 stays missing)
    articles["Q256986"] = Article(id="Q256986", title="Description of the Microsoft Windows registry")
    return FakeKnowledgeBase(articles.values())


@pytest.fixture
def search(kb: FakeKnowledgeBase) -> FakeSearch:
    return FakeSearch(
        kb=kb,
        script={
            "protected storage service failed at startup": ((LONG.id,), "answer"),
            "mail backup status message could not be sent": (("Q102087", "Q99698", "Q99304"), "answer"),
            "mailbag contention [008]": (("Q237695",), "answer"),
            "backup stops the mail server": (("Q99304", "Q99698", "Q102087"), "shortlist"),
            "mail lost": (("Q157684", "Q237695", "Q102087"), "shortlist"),
            "mail lost exchange": (("Q157684", "Q237695"), "shortlist"),
        },
    )


@pytest.fixture
def conv(kb: FakeKnowledgeBase, search: FakeSearch, intents: IntentSet) -> Conversation:
    return Conversation(kb=kb, search=search, intents=intents, settings=SETTINGS)


class Thread:
    """Drives one thread the way the adapter does: state in, turn out, the new state kept."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.state: ThreadState | None = None
        self.now = 1_700_000_000.0
        self.last: Turn | None = None

    def say(self, text: str, *, origin: str = "thread") -> Turn:
        return self._turn(UserTurn(user="U1", text=text, origin=origin))  # type: ignore[arg-type]

    def press(self, action: Action, *, reply: Reply | None = None) -> Turn:
        """Press the `action` button on `reply` (the last reply by default)."""
        return self.press_offer(offer(reply or self.reply, action))

    def press_offer(self, pressed: Offer) -> Turn:
        return self._turn(UserTurn(user="U1", pressed=pressed))

    def _turn(self, user_turn: UserTurn) -> Turn:
        self.now += 1
        turn = self.conv.handle(self.state, user_turn, now=self.now)
        # pure: the same input gives the same output (the store may call it twice)
        assert self.conv.handle(self.state, user_turn, now=self.now) == turn
        for r in turn.replies:
            assert not (isinstance(r, NoticeReply) and r.wording.template == msg.INTERNAL_ERROR)
        if turn.state is not None and self.state is not None and turn.state is not self.state:
            assert turn.state.version == self.state.version + 1
        self.state = turn.state
        self.last = turn
        return turn

    @property
    def st(self) -> ThreadState:
        assert self.state is not None
        return self.state

    @property
    def reply(self) -> Reply:
        assert self.last is not None and self.last.replies
        return self.last.replies[-1]


# --- the happy path --------------------------------------------------------------------------------------------


def test_question_walk_through_long_procedure_and_it_worked(conv: Conversation) -> None:
    t = Thread(conv)
    turn = t.say("protected storage service failed at startup", origin="mention")
    assert t.state is not None and t.st.status == "answered" and t.st.article_id == LONG.id
    card = turn.replies[0]
    assert isinstance(card, AnswerReply) and card.article.id == "Q321454"
    assert {Action.WALK, Action.FULL, Action.NOT_MINE, Action.WORKED} <= set(offers(card))

    turn = t.press(Action.WALK)
    assert t.st.status == "walking" and (t.st.procedure_no, t.st.step_no) == (0, 0)
    assert "Step 1 of 22" in all_text(turn)
    assert Action.BACK not in offers(t.reply) and Action.NEXT in offers(t.reply)
    assert offer(t.reply, Action.REF).article_id == "Q256986"  # referenced article offered

    t.say("next")
    assert t.st.step_no == 1 and "Step 2 of 22" in plain(t.reply)
    t.press(Action.NEXT)
    assert t.st.step_no == 2
    t.say("back")
    assert t.st.step_no == 1
    version = t.st.version
    t.say("repeat")
    assert t.st.step_no == 1 and t.st.version == version  # nothing changed, nothing to store
    assert "Step 2 of 22" in plain(t.reply)

    t.say("go to step 7")
    assert t.st.step_no == 6 and "Step 7 of 22" in plain(t.reply)
    assert "Registry Key Permissions" in all_text(t.last)  # type: ignore[arg-type]
    version = t.st.version
    turn = t.say("hmm, what is regedt32?")  # a stray remark that finds nothing keeps the position
    assert t.st.version == version and t.st.step_no == 6 and turn.replies
    t.say("step twelve")
    assert t.st.step_no == 11
    t.say("Step 13")
    t.say("go back")
    assert t.st.step_no == 11

    version = t.st.version
    turn = t.say("go to step 40")
    assert t.st.version == version and t.st.step_no == 11
    assert msg.STEP_OUT_OF_RANGE.format(total=22) in said(turn)

    t.say("step 22")
    turn = t.say("next")
    assert msg.LAST_STEP in said(turn) and t.st.step_no == 21

    turn = t.say("it worked!")
    assert t.st.status == "resolved" and t.st.outcome == "worked"
    assert turn.reactions == ["white_check_mark"]
    assert [h.event for h in t.st.history][-1] is ThreadEvent.WORKED


def test_steps_carry_the_articles_own_text(conv: Conversation) -> None:
    # the engine hands the step over as the article has it; escaping `<version>` is the renderer's job
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    t.press(Action.WALK)
    t.say("step 22")
    t.say("didn't work")  # after the last step of the first method -> the second procedure
    t.say("step 2")
    step = t.reply
    assert isinstance(step, StepReply) and (step.procedure_no, step.step_no, step.total) == (1, 1, 5)
    assert '"Microsoft Internet Explorer <version>"' in plain(step)


# --- when it does not work ---------------------------------------------------------------------------------------


def test_didnt_work_through_every_alternative_then_escalation(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mail backup status message could not be sent")
    assert t.st.article_id == "Q102087"
    t.say("walk me through")
    assert t.st.procedure_no == 0 and "Option 1" not in plain(t.reply)  # one method shown at a time

    turn = t.say("didn't work")  # method 2 of the same article
    assert t.st.status == "walking" and t.st.procedure_no == 1 and t.st.step_no == 0
    assert "Option 2" in all_text(turn)

    turn = t.press(Action.FAILED)  # the next candidate article
    assert t.st.article_id == "Q99698" and t.st.status == "answered"
    assert "Q102087" in t.st.excluded
    assert msg.NEXT_CANDIDATE in all_text(turn)

    t.say("that didn't work")  # Q99698 has no procedure: on to Q99304
    assert t.st.article_id == "Q99304"
    turn = t.say("still broken")
    assert t.st.status == "exhausted"
    assert isinstance(turn.replies[0], EscalationOfferReply) and Action.ESCALATE in offers(turn.replies[0])
    assert turn.escalation is None

    turn = t.press(Action.ESCALATE)
    assert t.st.status == "escalated" and turn.escalation is not None
    assert turn.escalation.target == "#it-helpdesk"
    assert "#it-helpdesk" in said(turn)
    details = turn.escalation.summary
    assert details.question == "mail backup status message could not be sent"
    assert details.asker == "U1"
    assert any("method 1, step 1" in line for line in details.steps_tried)
    assert any("method 2, step 1" in line for line in details.steps_tried)
    assert any(line == "Q99698: did not work" for line in details.steps_tried)
    assert details.outcome == msg.OUTCOME_FAILED
    assert details.article_id == "Q99304"

    # after the hand-over, people talk among themselves: the bot stays quiet
    version = t.st.version
    turn = t.say("I'll take this one, can you send me the logs?")
    assert turn.replies == [] and t.st.version == version
    turn = t.say("talk to a human", origin="mention")
    assert "already" in said(turn) and turn.escalation is None


def test_not_my_problem_moves_to_the_next_candidate(conv: Conversation, search: FakeSearch) -> None:
    t = Thread(conv)
    t.say("mail backup status message could not be sent")
    turn = t.press(Action.NOT_MINE)
    assert t.st.article_id == "Q99698" and "Q102087" in t.st.excluded
    assert msg.RULED_OUT in all_text(turn)
    t.say("not my problem")
    assert t.st.article_id == "Q99304"
    turn = t.say("wrong article")
    assert t.st.status == "no_match" and t.st.article_id is None
    assert msg.OUT_OF_CANDIDATES in said(turn)
    assert isinstance(turn.replies[0], EscalationOfferReply) and Action.ESCALATE in offers(turn.replies[0])
    # a follow-up question carries the ruled-out articles as search context
    t.say("backup stops the mail server")
    _, context = search.calls[-1]
    assert context is not None and {"Q102087", "Q99698", "Q99304"} <= context.excluded


# --- choosing -----------------------------------------------------------------------------------------------


def test_shortlist_of_different_products_asks_for_the_product_first(
    conv: Conversation, search: FakeSearch
) -> None:
    t = Thread(conv)
    turn = t.say("mail lost")
    assert t.st.status == "choosing_product"
    products = set(t.st.product_choices)
    assert "Microsoft Exchange Server" in products and "Microsoft Mail For Appletalk Networks" in products
    question = turn.replies[0]
    assert isinstance(question, ProductQuestionReply) and set(question.choices) == products
    choices = [o for o in question.offers if o.action is Action.PRODUCT]
    assert [o.choice for o in choices] == list(question.choices)
    turn = t.press_offer(next(o for o in choices if "Exchange" in (o.choice or "")))
    assert t.st.product == "Microsoft Exchange Server"
    assert t.st.article_id == "Q157684" and t.st.status == "answered"
    assert "Microsoft Exchange Server" in said(turn)
    # the established product steers the rest of the thread
    t.say("start over")
    assert t.st.product is None  # ... until the thread starts over
    t.say("mail lost exchange")
    _, context = search.calls[-1]
    assert context is not None and context.product is None


def test_shortlist_pick(conv: Conversation) -> None:
    t = Thread(conv)
    turn = t.say("backup stops the mail server")
    assert t.st.status == "choosing"  # all one product: no product question
    shortlist = turn.replies[0]
    assert isinstance(shortlist, ShortlistReply) and not shortlist.lookup
    picks = [o for o in shortlist.offers if o.action is Action.PICK]
    assert [o.article_id for o in picks] == [h.id for h in shortlist.hits] == ["Q99304", "Q99698", "Q102087"]
    t.press_offer(picks[1])
    assert t.st.article_id == "Q99698" and t.st.status == "answered"


def test_no_match(conv: Conversation) -> None:
    t = Thread(conv)
    turn = t.say("my printer is on fire")
    assert t.st.status == "no_match"
    assert isinstance(turn.replies[0], NoMatchReply) and "exact error text" in said(turn)


def test_short_follow_up_refines_an_unanswered_question(conv: Conversation, search: FakeSearch) -> None:
    t = Thread(conv)
    t.say("mail lost")
    t.say("exchange")
    assert search.calls[-1][0] == "mail lost exchange"


# --- stale buttons, start over, small talk, odd messages -------------------------------------------------------


def test_stale_and_double_pressed_buttons_change_nothing(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    t.press(Action.WALK)
    first_step = t.reply
    t.press(Action.NEXT)
    state = t.state
    turn = t.press(Action.NEXT, reply=first_step)  # the same button again
    assert turn.state is state
    assert msg.STALE_ACTION in said(turn)
    turn = t.press_offer(Offer(Action.WORKED, 999, article_id="Q321454"))
    assert turn.state is state and turn.reactions == []
    # (a value that is not kbbot's never reaches the engine: kbbot.slack.actions refuses it, see test_actions.py)


def test_a_shared_card_starts_its_thread_with_the_article_on_the_table(conv: Conversation) -> None:
    turn = conv.share("Q237695", user="U2", now=1000.0)
    (card,) = turn.replies
    assert isinstance(card, AnswerReply) and card.intro is not None
    assert card.intro.template == msg.SHARED_BY and card.intro.fills["user"] == Mention("U2")
    assert all(o.shared for o in card.offers)
    assert turn.state is not None and turn.state.status == "answered" and turn.state.article_id == "Q237695"
    assert turn.state.asker == "U2" and turn.state.version == 1

    typed = Thread(conv)  # the thread under the card, with the state the adapter stored for it
    typed.state = turn.state
    typed.say("walk me through")
    assert typed.st.status == "walking" and typed.st.article_id == "Q237695" and "Step 1" in plain(typed.reply)

    pressed = Thread(conv)  # the same card's button, state stored
    pressed.state = turn.state
    pressed.press(Action.WALK, reply=card)
    assert pressed.st.status == "walking" and pressed.st.article_id == "Q237695"


def test_a_shared_cards_buttons_work_without_a_stored_state(conv: Conversation) -> None:
    # the store was down when the card was shared, or the thread expired: the buttons still start the thread
    (card,) = conv.share("Q237695", user="U2", now=1000.0).replies
    t = Thread(conv)
    t.press(Action.WALK, reply=card)
    assert t.state is not None and t.st.article_id == "Q237695" and t.st.status == "walking"
    # an answer card that is not shared keeps the strict version check
    t2 = Thread(conv)
    t2.say("mailbag contention [008]")
    walk = offer(t2.reply, Action.WALK)
    assert not walk.shared
    fresh = Thread(conv)
    turn = fresh.press_offer(walk)
    assert msg.STALE_ACTION in said(turn) and fresh.state is None


def test_sharing_an_unknown_article_says_so_and_starts_nothing(conv: Conversation) -> None:
    turn = conv.share("Q999999", user="U2", now=1000.0)
    assert turn.state is None and "Q999999" in said(turn)


def test_reference_button_shows_the_referenced_article(conv: Conversation, kb: FakeKnowledgeBase) -> None:
    t = Thread(conv)
    t.say("mailbag contention [008]")
    t.say("walk me through")
    t.say("step 4")
    # step 4 points at Q135932, which this KB lacks: no see-also button for it
    assert Action.REF not in offers(t.reply)
    kb.articles["Q135932"] = Article(id="Q135932", title="PC DB: LISTUSER Version 2.1 Displays Unrecognizable")
    t.say("repeat")
    ref = offer(t.reply, Action.REF)
    assert ref.article_id == "Q135932"
    turn = t.press_offer(ref)
    assert "LISTUSER" in said(turn) and t.st.article_id == "Q237695"


def test_start_over_clears_the_thread(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mailbag contention [008]")
    t.say("walk me through")
    old = t.state
    turn = t.say("start over")
    assert t.state is not None and t.st.version == old.version + 1  # type: ignore[union-attr]
    assert t.st.status == "new" and t.st.article_id is None and t.st.question == ""
    assert msg.START_OVER in said(turn)
    turn = t.say("next")  # nothing on the table: not read as a step move
    assert msg.NOTHING_YET in said(turn)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", msg.HELP_INTRO),
        ("hi", msg.GREETING),
        ("Hello!", msg.GREETING),
        ("thanks", msg.THANKS),
        ("", msg.EMPTY_MESSAGE),
        ("   ", msg.EMPTY_MESSAGE),
        ("👍🎉", msg.GREETING),
        (":+1: :tada:", msg.GREETING),
        ("next", msg.NOTHING_YET),
        ("hmm", msg.NOTHING_YET),
        ("didn't work", msg.NOTHING_YET),
    ],
)
def test_small_talk_and_odd_messages(conv: Conversation, text: str, expected: str) -> None:
    t = Thread(conv)
    turn = t.say(text)
    assert turn.replies and said(turn).startswith(expected)
    # kbbot has spoken in the thread, so the thread is remembered (the adapter listens to replies in it)
    assert t.st.version == 1 and t.st.status == "new" and t.st.asker == "U1"
    # ... and nothing else changes when the person keeps chatting
    t.say(text)
    assert t.st.version == 1


def test_greeting_then_question_in_the_same_thread(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("hi", origin="mention")
    t.say("mailbag contention [008]")
    assert t.st.article_id == "Q237695" and t.st.version == 2


def test_huge_message_gets_a_helpful_reply(conv: Conversation, search: FakeSearch) -> None:
    t = Thread(conv)
    turn = t.say("x" * 40_000)
    assert "40000 characters" in said(turn)
    assert t.st.status == "new" and search.calls == []


def test_question_mentioning_next_is_a_question_not_an_intent(conv: Conversation, search: FakeSearch) -> None:
    t = Thread(conv)
    t.say("my mail won't go to the next server")
    assert search.calls and search.calls[0][0] == "my mail won't go to the next server"


def test_thread_lookup_by_number(conv: Conversation) -> None:
    t = Thread(conv)
    turn = t.say("Q102087")
    assert t.st.article_id == "Q102087" and t.st.status == "answered"
    turn = t.say("Q10287")
    assert "no Q10287" in said(turn)
    assert Action.LOOKUP in offers(turn.replies[0])


def test_it_worked_from_the_answer_card(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mailbag contention [008]")
    turn = t.press(Action.WORKED)
    assert t.st.status == "resolved" and turn.reactions == ["white_check_mark"]
    turn = t.say("it worked")
    assert turn.reactions == []  # already settled: no second reaction
    turn = t.say("next")
    assert said(turn) == msg.ALREADY_RESOLVED


def test_full_article_and_all_steps(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    turn = t.press(Action.FULL)
    assert turn.replies and "CAUSE".title() in all_text(turn)
    t.say("walk me through")
    turn = t.say("all steps")
    text = all_text(turn)
    assert "All 22 steps" in text and "Quit Registry Editor" in text


def test_state_round_trips_through_json(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mail backup status message could not be sent")
    t.say("walk me through")
    t.say("didn't work")
    assert t.state is not None
    assert ThreadState.from_json(t.st.to_json()) == t.state


# --- /kb -----------------------------------------------------------------------------------------------------


def test_lookup(conv: Conversation) -> None:
    for query in ("Q102087", "102087", "q102087", "KB102087"):
        card = conv.lookup(query, user="U1")
        assert isinstance(card, LookupReply) and card.article.id == "Q102087"
        assert [(o.action, o.article_id) for o in card.offers] == [(Action.SHARE, "Q102087")]
    near = conv.lookup("Q10287", user="U1")
    assert isinstance(near, ClosestReply) and near.qid == "Q10287" and near.closest
    assert [o.article_id for o in near.offers] == [cid for cid, _ in near.closest]
    assert all(o.action is Action.LOOKUP for o in near.offers)
    for usage in ("help", "  "):
        reply = conv.lookup(usage, user="U1")
        assert isinstance(reply, NoticeReply) and reply.wording.template.startswith(msg.LOOKUP_USAGE_INTRO)
    found = conv.lookup("mailbag contention [008]", user="U1")
    assert isinstance(found, LookupReply) and found.article.id == "Q237695"
    assert found.hit is not None and found.hit.matched_error  # the matched error line goes on the card
    shortlist = conv.lookup("backup stops the mail server", user="U1")
    assert isinstance(shortlist, ShortlistReply) and shortlist.lookup
    assert {o.action for o in shortlist.offers} == {Action.LOOKUP}
    assert isinstance(conv.lookup("how do I bake bread", user="U1"), NoMatchReply)


def test_every_offer_carries_the_version_it_was_made_at(conv: Conversation) -> None:
    t = Thread(conv)
    for step in ("mail backup status message could not be sent", "walk me through", "didn't work", "didn't work"):
        turn = t.say(step)
        made = [o for r in turn.replies for o in getattr(r, "offers", ())]
        assert made and {o.version for o in made} == {t.st.version}


def test_random_input_never_crashes(conv: Conversation) -> None:
    """Whatever arrives (odd text, forged or foreign button values), the engine answers and never raises."""
    import random

    rng = random.Random(42)
    texts = ["", "next", "step 0", "step -1", "step 99999", "go to step 1000000000000", "Q0", "Q99999999",
             "\x00\x01", "<!channel>", "``` ```", "💥" * 500, "didn't work", "it worked", "talk to a human",
             "protected storage service failed at startup", "walk me through", "all steps", "full article",
             "not my problem", "start over", "mail lost", "back", "repeat"]  # fmt: skip
    t = Thread(conv)
    for _ in range(300):
        if rng.random() < 0.5:
            t.say(rng.choice(texts))
        else:
            version = t.state.version if t.state else 0
            pressed = Offer(
                rng.choice(list(Action)),
                rng.choice([version, version, version - 1, 0]),
                article_id=rng.choice(["Q321454", "Q102087", "Q1", "", None]),
                choice=rng.choice(["Microsoft Exchange Server", "", None]),
                shared=rng.random() < 0.1,
            )
            t.press_offer(pressed)
        assert t.last is not None


def test_yes_and_no_mean_what_the_thread_last_asked(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mail backup status message could not be sent")
    t.say("yes")  # to the answer card: walk me through
    assert t.st.status == "walking" and t.st.article_id == "Q102087"
    t.say("nope")  # mid-walk: it did not work -> the other method
    assert t.st.procedure_no == 1
    turn = t.say("yes")  # on the last (only) step of that method: it worked
    assert t.st.status == "resolved" and turn.reactions == ["white_check_mark"]

    t = Thread(conv)
    t.say("mail backup status message could not be sent")
    t.say("no")  # to the answer card: not my problem
    assert "Q102087" in t.st.excluded and t.st.article_id == "Q99698"
    t.say("no")
    t.say("no")
    assert t.st.status == "no_match"
    turn = t.say("yes")
    assert said(turn) == msg.DENIED

    t = Thread(conv)
    t.say("mailbag contention [008]")
    t.say("walk me through")
    t.say("step 6")
    t.say("didn't work")  # after the last step of the only method, and no other candidate
    assert t.st.status == "exhausted"
    turn = t.say("yes please")  # to "shall I ask a human?"
    assert t.st.status == "escalated" and turn.escalation is not None

    t = Thread(conv)
    t.say("backup stops the mail server")
    assert said(t.say("yes")) == msg.CHOOSE_ABOVE


def test_step_commands_right_after_the_answer_card_start_the_walk(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    t.say("step 3")
    assert t.st.status == "walking" and t.st.step_no == 2 and "Step 3 of 22" in plain(t.reply)
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    t.say("next")
    assert t.st.status == "walking" and t.st.step_no == 0
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    turn = t.say("show all steps")
    assert "All 22 steps" in all_text(turn) and t.st.status == "answered"


def _loaded_by(statement: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running `statement`."""
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(out.stdout.split())


def test_the_core_loads_no_slack_and_no_numerics() -> None:
    """The engine speaks in reply values: importing it loads no Slack library, and not numpy or scipy either
    (the search engine brings those when the bot opens an index, not the conversation)."""
    loaded = _loaded_by("import kbbot.conversation, kbbot.conversation.engine, kbbot.conversation.replies")
    assert not loaded & {"slack_sdk", "slack_bolt", "numpy", "scipy", "aiohttp"}


def test_the_parsers_load_no_slack_and_no_database() -> None:
    loaded = _loaded_by("import kbbot.parse")
    assert not loaded & {"slack_sdk", "slack_bolt", "sqlite3", "redis", "aiohttp"}


def test_only_plausible_candidates_are_offered_after_the_first(kb: FakeKnowledgeBase, intents: IntentSet) -> None:
    # The second hit scores close to the first, the third far below: after two "not my problem"s the honest
    # offer is a human, not an article that merely shared a few words with the question.
    class SteepSearch:
        def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult:
            scored = [("Q102087", 40.0), ("Q99698", 35.0), ("Q99304", 12.0)]
            excluded = context.excluded if context else frozenset()
            hits = tuple(
                SearchHit(id=q, title=kb.articles[q].title, score=s, product=kb.articles[q].product)
                for q, s in scored
                if q not in excluded
            )
            return SearchResult(query=text, hits=hits, band="answer", confidence=0.9)

    t = Thread(Conversation(kb=kb, search=SteepSearch(), intents=intents, settings=SETTINGS))
    t.say("mail backup status message could not be sent")
    assert t.st.candidates == ("Q102087", "Q99698")
    t.say("not my problem")
    assert t.st.article_id == "Q99698"
    turn = t.say("not my problem")
    assert t.st.article_id is None and msg.OUT_OF_CANDIDATES in said(turn)
    assert isinstance(turn.replies[0], EscalationOfferReply) and Action.ESCALATE in offers(turn.replies[0])


def test_history_written_before_thread_events_were_an_enum_still_loads() -> None:
    stored = (
        '{"article_id":"Q237695","asker":"U1","candidates":["Q237695"],"created_at":1.0,"excluded":[],'
        '"history":[{"article_id":"Q237695","at":1.0,"event":"answered","procedure_no":-1,"step_no":-1},'
        '{"article_id":"Q237695","at":2.0,"event":"shown","procedure_no":0,"step_no":0},'
        '{"article_id":"Q237695","at":3.0,"event":"voted_up","procedure_no":-1,"step_no":-1}],'
        '"outcome":null,"procedure_no":0,"product":null,"product_choices":[],"question":"[008]","schema":1,'
        '"status":"walking","step_no":0,"updated_at":2.0,"version":3}'
    )
    state = ThreadState.from_json(stored)
    # a newer kbbot's event ("voted_up") is skipped, like a key this version does not know
    assert [h.event for h in state.history] == [ThreadEvent.ANSWERED, ThreadEvent.SHOWN]
    assert ThreadState.from_json(state.to_json()) == state
    assert '"event":"shown"' in state.to_json()  # stored as the plain name, readable by older versions


# --- what people mean mid-walk (issue 12) -------------------------------------------------------------------


def test_didnt_work_before_the_last_step_notes_it_and_carries_on(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    t.press(Action.WALK)
    turn = t.press(Action.FAILED)  # step 1 of 22: the fix is not over yet
    step = t.reply
    assert isinstance(step, StepReply) and (step.procedure_no, step.step_no) == (0, 1)
    assert step.intro is not None and step.intro.plain() == msg.STEP_FAILED_GO_ON.format(done=1, n=2)
    assert {Action.ESCALATE, Action.NOT_MINE} <= set(offers(turn))  # a way out
    assert [h.event for h in t.st.history][-2:] == [ThreadEvent.FAILED, ThreadEvent.SHOWN]
    t.say("step 22")
    t.say("nope still broken")  # after the last step of method 1: method 2
    assert (t.st.procedure_no, t.st.step_no) == (1, 0)
    assert msg.ALTERNATIVE_METHOD.split(":")[0] in plain(t.reply)


def test_unsure_messages_get_a_question_back_with_buttons(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    version = t.st.version
    turn = t.say("hmm")  # on the answer card
    assert t.st.version == version and msg.CLARIFY_ANSWERED in said(turn)
    assert list(offers(turn)) == [Action.WALK, Action.NOT_MINE]
    t.press(Action.WALK)
    version = t.st.version
    turn = t.say("hmm")  # mid-walk
    assert t.st.version == version and msg.CLARIFY_WALKING in said(turn)
    assert list(offers(turn)) == [Action.NEXT, Action.NOT_MINE]
    t.press(Action.NEXT)  # the question's own button moves the walk
    assert t.st.step_no == 1
    t.say("step 22")
    turn = t.say("hmm")  # after "Did it fix the problem?"
    assert msg.CLARIFY_LAST_STEP in said(turn)
    assert list(offers(turn)) == [Action.WORKED, Action.FAILED, Action.ESCALATE]
    turn = t.say("lol")  # small talk, not an answer: asked again rather than guessed
    assert msg.CLARIFY_LAST_STEP in said(turn)


def test_a_search_mid_walk_that_finds_nothing_keeps_the_place(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("protected storage service failed at startup")
    t.press(Action.WALK)
    t.say("next")
    version = t.st.version
    turn = t.say("what does regedt32 do exactly?")
    assert t.st.version == version and t.st.step_no == 1
    assert not isinstance(turn.replies[0], NoMatchReply)
    assert msg.MIDWALK_NO_MATCH.format(n=2, total=22) == said(turn)
    assert Action.NEXT in offers(turn)


def test_talk_to_a_human_before_any_question_asks_first(conv: Conversation) -> None:
    t = Thread(conv)
    turn = t.say("can i talk to someone")
    assert turn.escalation is None and "What's the problem?" in said(turn)
    assert isinstance(turn.replies[0], EscalationOfferReply) and Action.ESCALATE in offers(turn)
    turn = t.say("talk to a human")  # insisting: paged straight away
    assert turn.escalation is not None and t.st.status == "escalated"
    assert turn.escalation.summary.outcome == msg.OUTCOME_NO_ARTICLE

    t = Thread(conv)
    t.say("talk to a human")
    turn = t.say("mailbag contention [008]")  # told what is wrong: the fix comes first
    assert isinstance(turn.replies[0], AnswerReply) and turn.escalation is None
    turn = t.say("talk to a human")  # now there is something to hand over
    assert turn.escalation is not None and turn.escalation.summary.article_id == "Q237695"


def test_a_stale_click_is_for_the_presser_only(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mailbag contention [008]")
    card = t.reply
    t.press(Action.WALK)
    version = t.st.version
    turn = t.press(Action.WALK, reply=card)  # the card's button, pressed again
    (reply,) = turn.replies
    assert isinstance(reply, NoticeReply) and reply.private and reply.wording.template == msg.STALE_ACTION
    assert t.st.version == version


def test_recording_the_step_message_keeps_its_buttons_valid(conv: Conversation) -> None:
    t = Thread(conv)
    t.say("mailbag contention [008]")
    t.press(Action.WALK)
    step = t.reply
    t.state = t.st.with_step_message("1700000000.000900")  # what the adapter stores after posting the step
    assert t.st.step_ts == "1700000000.000900" and t.st.offers_version == offer(step, Action.NEXT).version
    t.press(Action.NEXT, reply=step)
    assert t.st.step_no == 1 and t.st.drawn_version == 0 and t.st.step_ts == "1700000000.000900"
    restored = ThreadState.from_json(t.st.to_json())
    assert restored == t.st


# --- words from the knowledge base, not the seeds (issue 11) ---------------------------------------------------

TEAM_KB = [
    Article(
        id="teams/camera-not-found",
        title="Teams can't find my camera",
        product="Microsoft Teams",
        sections={"SYMPTOMS": "Teams says: Camera not detected (0x80070005)", "RESOLUTION": "Restart Teams."},
        error_signatures=(ErrorSignature(kind="message", value="Camera not detected (0x80070005)"),),
    ),
    Article(
        id="vpn/cannot-connect",
        title="VPN client does not connect",
        product="GlobalProtect",
        sections={"SYMPTOMS": "The VPN client stays on Connecting."},
    ),
]


def test_help_hint_and_usage_come_from_the_loaded_kb(intents: IntentSet) -> None:
    kb = FakeKnowledgeBase(TEAM_KB)
    kb.ids = lambda: list(kb.articles)  # type: ignore[attr-defined]  # as KnowledgeBase.ids()
    conv = Conversation(kb=kb, search=FakeSearch(kb=kb), intents=intents, settings=SETTINGS)
    help_text = plain(Thread(conv).say("help").replies[0])
    assert "Camera not detected (0x80070005)" in help_text and "Microsoft Teams" in help_text
    assert "/kb teams/camera-not-found" in help_text
    usage = plain(conv.lookup("help", user="U1"))
    assert "/kb teams/camera-not-found" in usage and any(f"/kb {a.title}`" in usage for a in TEAM_KB)
    no_match = Thread(conv).say("printer on fire").replies[0]
    assert isinstance(no_match, NoMatchReply) and no_match.example == "Camera not detected (0x80070005)"
    for text in (help_text, usage):
        assert "mailbag" not in text.lower() and "Q102087" not in text and "Microsoft KB" not in text


def test_small_talk_reads_the_moment(conv: Conversation) -> None:
    t = Thread(conv)
    assert said(t.say("hi there")) == msg.GREETING  # nothing on the table: a greeting back
    t.say("protected storage service failed at startup")
    assert msg.CLARIFY_ANSWERED in said(t.say("ok cool"))  # on the answer card: what next?
    t.press(Action.WALK)
    assert said(t.say("lol")) == msg.SMALLTALK_WALKING.format(n=2)  # mid-walk: where we are
    assert said(t.say("thanks")) == msg.THANKS
    t = Thread(conv)
    t.say("backup stops the mail server")  # a short list is up
    assert said(t.say("ok cool")) == msg.CHOOSE_ABOVE
