"""The stand-in refuses what Slack refuses, and misbehaves on request the ways Slack and its proxies do."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from kbbot.standin import GATEWAY_PAGE, STANDIN_CHANNEL, Fault, SlackStandIn, check_blocks
from kbbot.standin.blockkit import MAX_BLOCKS_JSON_CHARS

TOKEN = "xoxb-standin-test"


def _button(action_id: str, label: str = "Open", value: str = "Q102087") -> dict[str, Any]:
    # as the wire carries it: slack_sdk's own checks would stop the over-long ones before the stand-in saw them
    text = {"type": "plain_text", "text": label}
    return {"type": "button", "text": text, "action_id": action_id, "value": value}


def _walk_card() -> list[dict[str, Any]]:
    """A card as the bot sends it: header, section, context, one row of distinct buttons."""
    return [
        HeaderBlock(text="Exchange IMC silently loses mail").to_dict(),
        SectionBlock(text=MarkdownTextObject(text="*Symptom* no NDR is sent")).to_dict(),
        ContextBlock(elements=[MarkdownTextObject(text="Q102087 · Exchange 5.5")]).to_dict(),
        ActionsBlock(elements=[ButtonElement(text="Walk me through it", action_id="kb:walk", value="1"),
                               ButtonElement(text="It worked", action_id="kb:worked", value="1")]).to_dict(),
    ]  # fmt: skip


def test_a_card_built_with_slack_sdk_passes() -> None:
    assert check_blocks(_walk_card()).ok


def test_repeated_action_ids_within_one_block_are_refused_like_slack() -> None:
    near_miss = [{"type": "actions", "elements": [_button("kb:lookup", value=q) for q in ("Q1", "Q2", "Q3")]}]
    verdict = check_blocks(near_miss)
    assert verdict.error == "invalid_blocks"
    assert len(verdict.errors) == 2
    assert "/blocks/0/elements/1/action_id" in verdict.errors[0]
    # the same action_id in two different blocks is fine
    assert check_blocks([{"type": "actions", "elements": [_button("kb:lookup")]}] * 2).ok


def test_repeated_block_ids_are_refused() -> None:
    section = {"type": "section", "block_id": "symptom", "text": {"type": "mrkdwn", "text": "no NDR"}}
    verdict = check_blocks([section, section])
    assert verdict.error == "invalid_blocks"
    assert "repeats block_id 'symptom'" in verdict.errors[0]


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "/blocks/0/text/text"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "/blocks/0/text/text"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/blocks/0/fields"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}], "/blocks/0/fields/0/text"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text/text"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "*bold*"}}], "/blocks/0/text/type"),
        ([{"type": "actions", "elements": [_button("kb:a", label="L" * 76)]}], "/blocks/0/elements/0/text/text"),
        ([{"type": "actions", "elements": [_button("kb:a", value="v" * 2001)]}], "/blocks/0/elements/0/value"),
        ([{"type": "actions", "elements": [_button("a" * 256)]}], "/blocks/0/elements/0/action_id"),
        ([{"type": "actions", "elements": [_button(f"kb:{i}") for i in range(26)]}], "/blocks/0/elements"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "/blocks/0/elements"),
        ([{"type": "carousel"}], "/blocks/0/type"),
        ([{"type": "actions", "elements": [{"type": "slider"}]}], "/blocks/0/elements/0/type"),
        ([{"type": "divider"}] * 51, "/blocks"),
    ],
)
def test_slack_limits(blocks: list[dict[str, Any]], pointer: str) -> None:
    verdict = check_blocks(blocks)
    assert verdict.error == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in e for e in verdict.errors), verdict.errors


def test_a_home_tab_may_have_a_hundred_blocks_a_message_fifty() -> None:
    dividers = [{"type": "divider"}] * 100
    assert check_blocks(dividers, surface="view").ok
    assert check_blocks(dividers).error == "invalid_blocks"


def test_well_formed_but_long_blocks_are_msg_blocks_too_long() -> None:
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}} for _ in range(5)]
    assert len(json.dumps(sections)) > MAX_BLOCKS_JSON_CHARS
    assert check_blocks(sections).error == "msg_blocks_too_long"


# ---- over HTTP: what the bot's client sees


async def _post(session: aiohttp.ClientSession, url: str, **args: Any) -> tuple[int, str]:
    async with session.post(url, json=args, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        return resp.status, await resp.text()


async def test_chat_post_message_with_invalid_blocks_answers_200_invalid_blocks_and_is_recorded() -> None:
    near_miss = [{"type": "actions", "elements": [_button("kb:lookup", value=q) for q in ("Q1", "Q2")]}]
    async with SlackStandIn(token=TOKEN, signing_secret="s") as standin, aiohttp.ClientSession() as session:
        url = standin.api_url + "chat.postMessage"
        status, body = await _post(session, url, channel=STANDIN_CHANNEL, text="pick one", blocks=near_miss)
        assert status == 200
        answer = json.loads(body)
        assert answer["ok"] is False and answer["error"] == "invalid_blocks"
        assert "repeats action_id 'kb:lookup'" in answer["errors"][0]
        assert [r.method for r in standin.rejected] == ["chat.postMessage"]
        assert not [m for m in standin.messages if m.get("text") == "pick one"]  # nobody saw it
        status, body = await _post(session, url, channel=STANDIN_CHANNEL, text="ok", blocks=_walk_card())
        assert json.loads(body)["ok"] is True
        standin.rejected.clear()  # provoked on purpose (see conftest)


async def test_views_publish_and_chat_update_are_validated_too() -> None:
    async with SlackStandIn(token=TOKEN, signing_secret="s") as standin, aiohttp.ClientSession() as session:
        _status, body = await _post(session, standin.api_url + "chat.postMessage", channel=STANDIN_CHANNEL,
                                    text="card", blocks=_walk_card())
        ts = json.loads(body)["ts"]
        bad = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}]
        _status, body = await _post(session, standin.api_url + "chat.update", channel=STANDIN_CHANNEL, ts=ts,
                                    text="card", blocks=bad)
        assert json.loads(body)["error"] == "invalid_blocks"
        _status, body = await _post(session, standin.api_url + "views.publish", user_id="U0ASKER",
                                    view={"type": "home", "blocks": [{"type": "divider"}] * 101})
        assert json.loads(body)["error"] == "invalid_blocks"
        assert [r.method for r in standin.rejected] == ["chat.update", "views.publish"]
        standin.rejected.clear()


async def test_fault_modes_answer_as_a_broken_proxy_would() -> None:
    async with SlackStandIn(token=TOKEN, signing_secret="s") as standin, aiohttp.ClientSession() as session:
        url = standin.api_url + "chat.postMessage"
        standin.fault_next("chat.postMessage", Fault.http(503, body=GATEWAY_PAGE))
        standin.fault_next("chat.postMessage", Fault.http(502))
        standin.fault_next("chat.postMessage", Fault.http(200, body="<html>maintenance</html>"))
        standin.rate_limit_next("chat.postMessage", retry_after="1.5")
        assert await _post(session, url, channel=STANDIN_CHANNEL, text="a") == (503, GATEWAY_PAGE)
        assert await _post(session, url, channel=STANDIN_CHANNEL, text="a") == (502, "")
        assert await _post(session, url, channel=STANDIN_CHANNEL, text="a") == (200, "<html>maintenance</html>")
        async with session.post(url, json={"channel": STANDIN_CHANNEL, "text": "a"},
                                headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "1.5"
        assert not standin.messages  # none of those reached the channel
        # dropped after accepting: the message is in the channel, but the caller never hears so
        standin.fault_next("chat.postMessage", Fault.drop_after_accept())
        with pytest.raises(aiohttp.ClientError):
            await _post(session, url, channel=STANDIN_CHANNEL, text="dropped")
        assert [m["text"] for m in standin.messages] == ["dropped"]
        # a hang answers nothing until the caller gives up
        standin.fault_next("chat.postMessage", Fault.hang())
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(_post(session, url, channel=STANDIN_CHANNEL, text="hung"), timeout=0.3)
        standin.fault_next("chat.postMessage", Fault.delay(0.2))
        started = asyncio.get_running_loop().time()
        status, _body = await _post(session, url, channel=STANDIN_CHANNEL, text="late")
        assert status == 200 and asyncio.get_running_loop().time() - started >= 0.2


async def test_conversations_replies_shows_the_thread_with_metadata_when_asked() -> None:
    async with SlackStandIn(token=TOKEN, signing_secret="s") as standin, aiohttp.ClientSession() as session:
        parent = "1700000000.000100"
        standin.messages.append({"channel": STANDIN_CHANNEL, "ts": parent, "thread_ts": None, "text": "help",
                                 "user": "U0ASKER"})
        marker = {"event_type": "kbbot_reply", "event_payload": {"reply_key": "Ev1:0"}}
        await _post(session, standin.api_url + "chat.postMessage", channel=STANDIN_CHANNEL, text="answer",
                    thread_ts=parent, metadata=marker)
        _status, body = await _post(session, standin.api_url + "conversations.replies", channel=STANDIN_CHANNEL,
                                    ts=parent, include_all_metadata=True)
        messages = json.loads(body)["messages"]
        assert [m["text"] for m in messages] == ["help", "answer"]
        assert messages[1]["metadata"] == marker
        _status, body = await _post(session, standin.api_url + "conversations.replies", channel=STANDIN_CHANNEL,
                                    ts=parent)
        assert "metadata" not in json.loads(body)["messages"][1]
