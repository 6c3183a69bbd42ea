"""The engine on the real thing: the seeds index, the real KnowledgeBase and SearchEngine, and a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbbot.conversation import messages as msg
from kbbot.conversation.engine import Conversation, ConversationSettings, Turn, UserTurn
from kbbot.conversation.intents import IntentSet
from kbbot.conversation.state import ThreadKey
from kbbot.kb import KnowledgeBase
from kbbot.search import SearchEngine
from kbbot.store import open_store

REPO = Path(__file__).resolve().parents[1]
KEY = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")


@pytest.fixture(scope="module")
def conv(seeds_index: Path) -> Conversation:
    kb = KnowledgeBase.open(seeds_index)
    return Conversation(
        kb=kb,
        search=SearchEngine.load(seeds_index, kb),
        intents=IntentSet.load(REPO / "intents"),
        settings=ConversationSettings(escalation_target="#it-helpdesk"),
    )


def _buttons(turn: Turn) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for m in turn.messages
        for b in m.blocks
        for e in b.get("elements", [])
        if e.get("type") == "button"
    }


async def test_pasted_error_to_walk_through_to_escalation_via_the_store(
    conv: Conversation, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    now = 1_700_000_000.0

    async def say(text: str = "", **action: str) -> Turn:
        nonlocal now
        now += 1
        turn = UserTurn(user="U1", text=text, **action)  # type: ignore[arg-type]
        return await store.transact(KEY, conv.updater(turn, now=now))

    try:
        turn = await say("[008] Failure delivering user mail due to mailbag contention")
        state = await store.get(KEY)
        assert state is not None and state.article_id == "Q237695" and state.status == "answered"
        assert "```[008]" in json.dumps(turn.messages[0].blocks)

        turn = await say(action_id="kb:walk", action_value=_buttons(turn)["kb:walk"])
        assert "Step 1 of 6" in turn.messages[0].text
        turn = await say("step 4")
        assert json.loads(_buttons(turn)["kb:ref"])["a"] == "Q135932"
        turn = await say(action_id="kb:ref", action_value=_buttons(turn)["kb:ref"])
        assert "Q135932 isn't in my knowledge base" in turn.messages[0].text  # only the seeds are indexed
        await say("next")
        await say("next")
        turn = await say("next")
        assert msg.LAST_STEP in turn.messages[0].text

        # One method only, and no other seed scores anywhere near the mailbag article: rather than offer an
        # unrelated article, kbbot offers a human straight away.
        turn = await say("didn't work")
        state = await store.get(KEY)
        assert state is not None and "Q237695" in state.excluded and state.status == "exhausted"
        assert "kb:escalate" in _buttons(turn) and msg.OFFER_ESCALATION[:20] in turn.messages[0].text
        turn = await say("talk to a human")
        assert turn.escalation is not None
        assert "[008]" in turn.escalation.details.question
        assert any("Q237695 method 1, step 6" in line for line in turn.escalation.details.steps_tried)
        state = await store.get(KEY)
        assert state is not None and state.status == "escalated"
    finally:
        await store.close()


def test_plain_description_answers_with_the_imc_article(conv: Conversation) -> None:
    turn = conv.handle(None, UserTurn(user="U1", text="exchange IMC is silently losing mail, no NDR"), now=1.0)
    assert turn.state is not None and turn.state.article_id == "Q157684"
    assert "kb:walk" not in _buttons(turn)  # the article has no procedure


def test_out_of_domain_question_says_so(conv: Conversation) -> None:
    turn = conv.handle(None, UserTurn(user="U1", text="how do I bake bread"), now=1.0)
    assert turn.state is not None and turn.state.status == "no_match"
    assert turn.messages[0].text == msg.NO_MATCH_FALLBACK


def test_slash_lookup(conv: Conversation) -> None:
    card = conv.lookup("102087", user="U1")
    assert card.blocks[0]["text"]["text"].startswith("Q102087: Mac Bkup")
    assert json.dumps(card.blocks).count('"kb:share"') == 1
    near = conv.lookup("Q10287", user="U1")
    assert "There's no Q10287" in near.text and "Q102087" in near.text
    assert "kb:lookup" in json.dumps(near.blocks)
    found = conv.lookup("mailbag contention", user="U1")
    assert "Q237695" in found.text
