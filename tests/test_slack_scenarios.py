"""Scenarios: signed HTTP requests to the running app on loopback, Slack's Web API stood in and recorded.

Each test reads like a conversation in Slack. Waiting is by polling the stand-in's recorded calls with a timeout;
"nothing more was said" is `standin.quiet()` (no call for a quarter of a second).
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from aiohttp import ClientSession

from kbbot.conversation.messages import INVALID_BUTTON, STALE_ACTION, STORE_DOWN
from kbbot.errors import StoreError
from kbbot.parse import parse_file
from kbbot.server.loopback import LoopbackBot, buttons, readable
from kbbot.standin import (
    STANDIN_BOT_ID,
    STANDIN_CHANNEL,
    STANDIN_DM,
    STANDIN_HUMANS,
    STANDIN_USER,
    event_callback,
    sign,
    signed_headers,
)

pytestmark = pytest.mark.asyncio

MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    match = re.match(r"(.{40,}?[.:])(\s|$)", flat)
    return match.group(1) if match else flat[:200]


def _seed_symptoms() -> list[tuple[str, str]]:
    # Parsed here only to name the test cases; the bot answers from the session's seeds index.
    articles = [parse_file(p) for p in sorted((Path(__file__).resolve().parents[1] / "seeds").iterdir())]
    return [(a.id, _first_sentence(a.sections.get("SYMPTOMS", a.title))) for a in articles]


SEED_SYMPTOMS = _seed_symptoms()


def _button(message: dict[str, object], action_id: str) -> str:
    for b in buttons(message):
        if b.action_id == action_id:
            return b.value
    raise AssertionError(f"no {action_id} button on {readable(message)[:300]}")


async def _last_bot_message(bot: LoopbackBot, count: int) -> dict[str, object]:
    calls = await bot.posts(count)
    ts = calls[-1].args
    message = next(m for m in reversed(bot.standin.messages) if m.get("bot_id") and m["text"] == ts["text"])
    return message


# ---- answering


@pytest.mark.parametrize(("article_id", "symptom"), SEED_SYMPTOMS, ids=[a for a, _ in SEED_SYMPTOMS])
async def test_a_mention_with_a_seeds_symptom_gets_that_article_in_a_thread(
    slack_bot: LoopbackBot, article_id: str, symptom: str
) -> None:
    delivery, ts = await slack_bot.standin.mention(symptom)
    assert delivery.status == 200
    (post,) = await slack_bot.posts(1)
    assert post.args["channel"] == STANDIN_CHANNEL
    assert post.args["thread_ts"] == ts  # a new thread on the asker's message
    assert article_id in post.args["text"]
    assert post.args["blocks"][0]["type"] == "header" and article_id in post.args["blocks"][0]["text"]["text"]
    assert "<@" not in post.args["text"]  # the bot's own mention never leaks into the answer


async def test_pasting_the_mailbag_error_finds_the_mailbag_article(slack_bot: LoopbackBot) -> None:
    _, ts = await slack_bot.standin.mention(MAILBAG_ERROR)
    (post,) = await slack_bot.posts(1)
    assert "Q237695" in post.args["text"] and post.args["thread_ts"] == ts
    assert {b.action_id for b in buttons(post)} >= {"kb:walk", "kb:not_mine"}


async def test_a_question_the_kb_cannot_answer_gets_an_honest_no_match(slack_bot: LoopbackBot) -> None:
    await slack_bot.standin.mention("how do I renew my parking permit")
    (post,) = await slack_bot.posts(1)
    assert "don't know" in readable(post)
    assert not re.search(r"Q\d{5,}", post.args["text"])


async def test_a_direct_message_is_answered_in_a_thread(slack_bot: LoopbackBot) -> None:
    _, ts = await slack_bot.standin.say(MAILBAG_ERROR, channel=STANDIN_DM)
    (post,) = await slack_bot.posts(1)
    assert post.args["channel"] == STANDIN_DM and post.args["thread_ts"] == ts
    assert "Q237695" in post.args["text"]


# ---- /kb


async def test_kb_command_answers_ephemerally_and_share_posts_the_card(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    delivery = await standin.slash("/kb", "Q102087")
    assert delivery.status == 200 and delivery.elapsed_s < 1.0
    (reply,) = await standin.wait_for("response_url")
    assert reply.args["response_type"] == "ephemeral"
    assert "Q102087" in reply.args["text"]
    assert [b.action_id for b in buttons(reply)] == ["kb:share"]
    assert not standin.calls_to("chat.postMessage")  # nobody else saw it

    ephemeral = standin.messages[-1]
    await standin.click(ephemeral | {"channel": STANDIN_CHANNEL}, action_id="kb:share", value="Q102087")
    (shared,) = await slack_bot.posts(1)
    assert shared.args["channel"] == STANDIN_CHANNEL and "thread_ts" not in shared.args
    assert "Q102087" in shared.args["text"] and f"<@{STANDIN_USER}>" in readable(shared)
    await standin.wait_for("response_url", count=2)
    assert standin.calls_to("response_url")[-1].args.get("delete_original") is True

    # the shared card's buttons start a walk-through in a thread under it
    card = standin.message(shared_ts := standin.messages[-1]["ts"])
    assert card is not None
    await standin.click(card, action_id="kb:walk", value=_button(card, "kb:walk"))
    step = (await slack_bot.posts(2))[-1]
    assert step.args["thread_ts"] == shared_ts and "Step 1" in readable(step)


async def test_typed_replies_under_a_shared_card_are_answered(slack_bot: LoopbackBot) -> None:
    """People answer a card in its thread; a shared /kb card is kbbot's thread from the moment it is posted."""
    standin = slack_bot.standin
    await standin.slash("/kb", "Q237695")
    await standin.wait_for("response_url")
    await standin.click(standin.messages[-1] | {"channel": STANDIN_CHANNEL}, action_id="kb:share", value="Q237695")
    (shared,) = await slack_bot.posts(1)
    shared_ts = standin.messages[-1]["ts"]
    assert "Q237695" in shared.args["text"]

    await standin.say("walk me through", thread_ts=shared_ts)
    step = (await slack_bot.posts(2))[-1]
    assert step.args["thread_ts"] == shared_ts and "Step 1 of 6" in readable(step)
    await standin.say("next", thread_ts=shared_ts)
    step = (await slack_bot.posts(3))[-1]
    assert step.args["thread_ts"] == shared_ts and "Step 2 of 6" in readable(step)
    # the card's own buttons stay in step with the typed replies: this one is from before the walk began
    card = standin.message(shared_ts)
    assert card is not None
    await standin.click(card, action_id="kb:walk", value=_button(card, "kb:walk"))
    (stale,) = await standin.wait_for("chat.postEphemeral")
    # only the presser hears that the button is old; the thread itself gets nothing
    assert stale.args["thread_ts"] == shared_ts and stale.args["text"] == STALE_ACTION
    assert stale.args["user"] == STANDIN_USER and len(standin.calls_to("chat.postMessage")) == 3


async def test_kb_share_into_a_channel_the_bot_is_not_in_explains_how_to_invite_it(
    slack_bot: LoopbackBot,
) -> None:
    standin = slack_bot.standin
    standin.set_channel("C0PRIVATE", is_member=False)
    await standin.slash("/kb", "Q102087", channel="C0PRIVATE")
    await standin.wait_for("response_url")
    ephemeral = standin.messages[-1] | {"channel": "C0PRIVATE"}
    await standin.click(ephemeral, action_id="kb:share", value="Q102087")
    replies = await standin.wait_for("response_url", count=2)
    assert "/invite @kbbot" in replies[-1].args["text"]
    assert replies[-1].args["response_type"] == "ephemeral"


async def test_kb_usage_and_unknown_numbers(slack_bot: LoopbackBot) -> None:
    await slack_bot.standin.slash("/kb", "")
    await slack_bot.standin.slash("/kb", "Q999999")
    usage, unknown = await slack_bot.standin.wait_for("response_url", count=2)
    assert "/kb" in readable(usage)
    assert "Q999999" in readable(unknown)


# ---- walking through a fix


async def test_walking_through_the_steps_by_typed_replies(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    for n, text in enumerate(["walk me through", "next", "next", "back"], start=2):
        await standin.say(text, thread_ts=ts)  # no mention needed once kbbot is in the thread
        posts = await slack_bot.posts(n)
        assert posts[-1].args["thread_ts"] == ts
    shown = [re.search(r"Step (\d+) of (\d+)", p.args["text"]) for p in standin.calls_to("chat.postMessage")[1:]]
    assert [m.group(1) for m in shown if m] == ["1", "2", "3", "2"]

    await standin.say("it worked", thread_ts=ts)
    await slack_bot.posts(6)
    reaction = await standin.wait_for("reactions.add")
    assert reaction[0].args["name"] == "white_check_mark"
    assert slack_bot.runtime.metrics.outcomes.value(outcome="resolved") == 1
    assert slack_bot.runtime.metrics.steps_walked.value() == 4


async def test_walking_through_the_steps_by_buttons(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    card = await _last_bot_message(slack_bot, 1)
    walk = _button(card, "kb:walk")
    await standin.click(card, action_id="kb:walk", value=walk)
    step1 = await _last_bot_message(slack_bot, 2)
    assert "Step 1" in readable(step1) and step1["thread_ts"] == ts
    # the card's question is answered: its buttons go (the thread has one set of live buttons)
    (card_retired,) = await standin.wait_for("chat.update")
    # only the conversation's buttons go: the 👍/👎 votes stay, a vote is still welcome after the walk
    live = [b.action_id for b in buttons(card)]
    assert card_retired.args["ts"] == card["ts"] and "Q237695" in readable(card)
    assert live == ["kbfb:up", "kbfb:down"]
    first_next = _button(step1, "kb:next")
    await standin.click(step1, action_id="kb:next", value=first_next)
    # pressed on the step message itself: the walk moves on in that message, no new one in the thread
    moved = (await standin.wait_for("chat.update", count=2))[-1]
    assert moved.args["ts"] == step1["ts"] and "Step 2" in readable(moved)
    assert "Step 2" in readable(step1) and len(standin.calls_to("chat.postMessage")) == 2
    await standin.click(step1, action_id="kb:next", value=_button(step1, "kb:next"))
    await standin.wait_for("chat.update", count=3)
    assert "Step 3" in readable(step1)

    # a button pressed twice (a double click, or Slack redelivering) or an old one: only the presser is told
    await standin.click(card, action_id="kb:walk", value=walk)
    await standin.click(step1, action_id="kb:next", value=first_next)
    stale = await standin.wait_for("chat.postEphemeral", count=2)
    assert all(c.args["text"] == STALE_ACTION and c.args["user"] == STANDIN_USER for c in stale)
    await standin.quiet()
    assert len(standin.calls_to("chat.postMessage")) == 2 and "Step 3" in readable(step1)


# ---- forged interactivity (issue 13): a signed request with a value kbbot did not seal for that thread


async def _refused(bot: LoopbackBot, *, posts_before: int) -> None:
    """The presser alone is told the button is not valid here; nothing is posted, nobody is paged."""
    (refusal,) = await bot.standin.wait_for("chat.postEphemeral")
    assert refusal.args["user"] == STANDIN_USER and INVALID_BUTTON in readable(refusal)
    await bot.standin.quiet()
    assert len(bot.standin.calls_to("chat.postMessage")) == posts_before


async def test_a_button_replayed_in_another_thread_is_refused(
    slack_bot: LoopbackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kbbot.slack.app")
    standin = slack_bot.standin
    await standin.mention(MAILBAG_ERROR)
    card_a = await _last_bot_message(slack_bot, 1)
    _, ts_b = await standin.mention("exchange IMC is silently losing mail, no NDR")
    await slack_bot.posts(2)
    # thread A's walk button, its container pointed at thread B (also a kbbot thread, at the same version)
    await standin.click(card_a | {"thread_ts": ts_b, "ts": ts_b}, action_id="kb:walk",
                        value=_button(card_a, "kb:walk"))
    await _refused(slack_bot, posts_before=2)
    assert "refused a button from" in caplog.text and "seal does not match" in caplog.text


async def test_an_escalation_in_a_thread_kbbot_never_joined_is_refused(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.say("people talking among themselves")  # kbbot is not mentioned: not its thread
    stranger = {"channel": STANDIN_CHANNEL, "ts": ts, "thread_ts": ts, "text": "", "blocks": []}
    for value in ('{"v":777,"s":1}', '{"v":777,"sh":1}', '{"v":1,"sh":1,"h":"0000000000000000"}'):
        await standin.click(stranger, action_id="kb:escalate", value=value)
    refusals = await standin.wait_for("chat.postEphemeral", count=3)
    assert all(INVALID_BUTTON in readable(r) for r in refusals)
    await standin.quiet()
    assert standin.calls_to("chat.postMessage") == []  # no "I've asked ...", no summary to the humans


async def test_a_version_that_is_not_an_integer_is_refused(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    await standin.mention(MAILBAG_ERROR)
    card = await _last_bot_message(slack_bot, 1)
    sealed = json.loads(_button(card, "kb:walk"))
    assert sealed["v"] == 1  # the thread is at version 1 ...
    forged = json.dumps({**sealed, "v": True})  # ... and `true == 1` in Python
    await standin.click(card, action_id="kb:walk", value=forged)
    await _refused(slack_bot, posts_before=1)
    # the genuine button still works
    await standin.click(card, action_id="kb:walk", value=_button(card, "kb:walk"))
    step = await _last_bot_message(slack_bot, 2)
    assert "Step 1" in readable(step)


async def test_product_question_and_near_miss_buttons_work(slack_bot: LoopbackBot) -> None:
    """Messages with several buttons of one kind (numbered action_ids) reach the thread and answer clicks."""
    standin = slack_bot.standin
    _, ts = await standin.mention("Q10287")  # no such article: the nearest numbers, one button each
    near = await _last_bot_message(slack_bot, 1)
    lookups = [b for b in buttons(near) if b.action_id.startswith("kb:lookup")]
    assert len(lookups) >= 2 and len({b.action_id for b in lookups}) == len(lookups)
    await standin.click(near, action_id=lookups[1].action_id, value=lookups[1].value)
    shown = await _last_bot_message(slack_bot, 2)
    assert lookups[1].value in readable(shown) and shown["thread_ts"] == ts


async def test_goto_step_didnt_work_and_escalate_by_buttons_then_start_over(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    card = await _last_bot_message(slack_bot, 1)
    await standin.click(card, action_id="kb:walk", value=_button(card, "kb:walk"))
    await slack_bot.posts(2)
    step1 = standin.messages[-1]
    await standin.say("go to step 6", thread_ts=ts)
    step6 = await _last_bot_message(slack_bot, 3)
    assert "Step 6 of 6" in readable(step6)
    # typed: the step is posted under the person's message, and the step above keeps its text, not its buttons
    retired = (await standin.wait_for("chat.update", count=2))[-1]
    assert retired.args["ts"] == step1["ts"] and "Step 1 of 6" in readable(retired) and not buttons(step1)

    # the last step of the only method failed and no other seed is a plausible match: kbbot offers a human
    await standin.click(step6, action_id="kb:failed", value=_button(step6, "kb:failed"))
    offer = await _last_bot_message(slack_bot, 4)
    await standin.click(offer, action_id="kb:escalate", value=_button(offer, "kb:escalate"))
    posts = await standin.wait_for("chat.postMessage", count=6)
    summary = next(p for p in posts if p.args["channel"] == STANDIN_HUMANS)
    assert "Q237695" in readable(summary) and "step 6" in readable(summary).lower()
    assert slack_bot.runtime.metrics.outcomes.value(outcome="escalated") == 1

    # "start over" clears the thread: the next message is a fresh question, answered with a fresh card
    await standin.say("start over", thread_ts=ts)
    await slack_bot.posts(7)
    await standin.say("mail server stops when the tape backup runs on the same macintosh", thread_ts=ts)
    answer = await _last_bot_message(slack_bot, 8)
    assert "Q99304" in readable(answer) and answer["thread_ts"] == ts


async def test_asking_for_a_human_posts_a_summary_with_the_thread_link(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    await standin.say("walk me through", thread_ts=ts)
    await slack_bot.posts(2)
    await standin.say("talk to a human", thread_ts=ts)
    posts = await standin.wait_for("chat.postMessage", count=4)
    summary = next(p for p in posts if p.args["channel"] == STANDIN_HUMANS)
    told = next(p for p in posts[2:] if p.args["channel"] == STANDIN_CHANNEL)
    assert "Q237695" in readable(summary)
    assert f"p{ts.replace('.', '')}" in readable(summary)  # the permalink of the thread
    assert "#it-helpdesk" in readable(told) and told.args["thread_ts"] == ts
    assert slack_bot.runtime.metrics.outcomes.value(outcome="escalated") == 1


# ---- who is answered, and only once


async def test_a_retried_event_gets_one_reply(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    event = {
        "type": "app_mention",
        "user": STANDIN_USER,
        "text": f"<@{standin.bot_user_id}> {MAILBAG_ERROR}",
        "ts": "1700000000.000100",
        "channel": STANDIN_CHANNEL,
    }
    envelope = event_callback(event, team_id=standin.team_id)
    first = await standin.send_envelope(envelope)
    retry = await standin.send_envelope(envelope, retry_num=1)
    again = await standin.send_envelope(envelope, retry_num=2)
    assert first.status == retry.status == again.status == 200
    await slack_bot.posts(1)
    await standin.quiet()
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert slack_bot.runtime.metrics.duplicate_events.value() == 2


async def test_a_mention_delivered_as_two_events_gets_one_reply(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    text = f"<@{standin.bot_user_id}> {MAILBAG_ERROR}"
    base = {"user": STANDIN_USER, "text": text, "ts": "1700000000.000200", "channel": STANDIN_CHANNEL}
    await standin.send_event(base | {"type": "message", "channel_type": "channel"})
    await standin.send_event(base | {"type": "app_mention"})
    await slack_bot.posts(1)
    await standin.quiet()
    assert len(standin.calls_to("chat.postMessage")) == 1


async def test_bots_edits_joins_and_strangers_threads_are_not_answered(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    base = {"type": "message", "channel": STANDIN_CHANNEL, "channel_type": "channel", "thread_ts": ts}
    quiet_events = [
        base | {"user": standin.bot_user_id, "bot_id": STANDIN_BOT_ID, "text": "next", "ts": "1700000001.1"},
        base | {"subtype": "bot_message", "bot_id": "B0OTHER", "text": "next", "ts": "1700000001.2"},
        base | {"subtype": "message_changed", "message": {"text": "next"}, "ts": "1700000001.3"},
        base | {"subtype": "message_deleted", "ts": "1700000001.4"},
        base | {"subtype": "channel_join", "user": "U0NEW", "text": "<@U0NEW> has joined", "ts": "1700000001.5"},
        # someone addressed by name in kbbot's thread, a thread kbbot never spoke in, plain channel chatter
        base | {"user": STANDIN_USER, "text": "<@U0BOB> can you check the MTA?", "ts": "1700000001.55"},
        base | {"user": STANDIN_USER, "text": "next", "ts": "1700000001.6", "thread_ts": "1600000000.000001"},
        {k: v for k, v in base.items() if k != "thread_ts"} | {"user": STANDIN_USER, "text": MAILBAG_ERROR,
                                                                 "ts": "1700000001.7"},
    ]
    for event in quiet_events:
        delivery = await standin.send_event(event)
        assert delivery.status == 200
    await standin.quiet()
    assert len(standin.calls_to("chat.postMessage")) == 1


# ---- Slack being difficult


async def test_a_rate_limited_post_is_retried_after_retry_after(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    standin.rate_limit_next("chat.postMessage", retry_after=0)
    await standin.mention(MAILBAG_ERROR)
    posts = await slack_bot.posts(2)
    assert posts[0].args["text"] == posts[1].args["text"]
    assert "Q237695" in standin.messages[-1]["text"]


async def test_slack_refusing_a_post_is_logged_and_counted_never_raised(
    slack_bot: LoopbackBot, caplog: pytest.LogCaptureFixture
) -> None:
    standin = slack_bot.standin
    standin.fail_next("chat.postMessage", error="is_archived")
    with caplog.at_level(logging.WARNING):
        await standin.mention(MAILBAG_ERROR)
        await slack_bot.posts(1)
        await standin.quiet()
    assert slack_bot.runtime.metrics.slack_api_errors.value(method="chat.postMessage", error="is_archived") == 1
    refused = [r for r in caplog.records if "is_archived" in r.getMessage()]
    assert refused and getattr(refused[0], "thread_key", "").startswith(f"{standin.team_id}:{STANDIN_CHANNEL}:")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the process carries on answering
    await standin.mention("walk me through the mailbag contention fix")
    await slack_bot.posts(2)


# ---- the HTTP edge


async def test_requests_with_a_bad_or_stale_signature_are_rejected(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    body = json.dumps(event_callback({"type": "app_mention", "user": STANDIN_USER, "text": "hi", "ts": "1.2",
                                      "channel": STANDIN_CHANNEL}))
    now = int(time.time())
    wrong = signed_headers(body, secret="not-the-secret", content_type="application/json", timestamp=now)
    stale_ts = now - 6 * 60
    secret = standin.signing_secret
    stale = signed_headers(body, secret=secret, content_type="application/json", timestamp=stale_ts)
    assert stale["X-Slack-Signature"] == sign(body, secret=secret, timestamp=stale_ts)
    async with ClientSession() as http:
        for headers in (wrong, stale, {"Content-Type": "application/json"}):
            async with http.post(f"{slack_bot.base_url}/slack/events", data=body, headers=headers) as resp:
                assert resp.status == 401
    await standin.quiet()
    assert not standin.replies()


async def test_acks_come_back_before_the_work_is_done(slack_bot: LoopbackBot) -> None:
    # the first request also pays for auth.test; the ack must still be far inside Slack's 3 seconds
    delivery, _ = await slack_bot.standin.mention(MAILBAG_ERROR)
    assert delivery.status == 200 and delivery.elapsed_s < 1.0
    await slack_bot.posts(1)


async def test_healthz_reports_index_and_store(slack_bot: LoopbackBot, monkeypatch: pytest.MonkeyPatch) -> None:
    async with ClientSession() as http:
        async with http.get(f"{slack_bot.base_url}/healthz") as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["status"] == "ok" and body["index"]["articles"] == 5 and body["store"]["ok"] is True

        async def down() -> None:
            raise ConnectionError("store unreachable")

        monkeypatch.setattr(slack_bot.runtime.store, "ping", down)
        async with http.get(f"{slack_bot.base_url}/healthz") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["store"] == {"backend": "memory", "ok": False, "error": "store unreachable"}


async def test_metrics_count_what_happened(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    await standin.mention(MAILBAG_ERROR)
    await standin.mention("how do I renew my parking permit")
    await slack_bot.posts(2)
    async with ClientSession() as http, http.get(f"{slack_bot.base_url}/metrics") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples['kbbot_events_total{kind="app_mention"}'] == 2
    assert samples['kbbot_answers_total{band="answer"}'] >= 1
    assert samples["kbbot_no_match_total"] >= 1
    assert samples["kbbot_search_latency_seconds_count"] >= 2
    assert samples["kbbot_reply_latency_seconds_count"] == 2
    assert samples['kbbot_reply_latency_seconds_bucket{le="+Inf"}'] == 2


async def test_a_pick_from_a_kb_shortlist_answers_in_place(slack_bot: LoopbackBot) -> None:
    # what /kb shows when several articles fit: ephemeral, with a kb:lookup button per article
    shortlist = {
        "channel": STANDIN_CHANNEL,
        "ts": "1700000002.000001",
        "ephemeral_to": STANDIN_USER,
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": "kb:lookup", "value": "Q99698",
                     "text": {"type": "plain_text", "text": "Q99698"}},
                ],
            }
        ],
    }
    await slack_bot.standin.click(shortlist, action_id="kb:lookup", value="Q99698")
    (reply,) = await slack_bot.standin.wait_for("response_url")
    assert reply.args["replace_original"] is True and reply.args["response_type"] == "ephemeral"
    assert "Q99698" in reply.args["text"] and [b.action_id for b in buttons(reply)] == ["kb:share"]
    await slack_bot.standin.quiet()
    assert not slack_bot.standin.calls_to("chat.postMessage")


async def test_escalation_channel_the_bot_cannot_post_in_falls_back_to_the_thread(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    standin.set_channel(STANDIN_HUMANS, is_member=False)
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    await standin.say("talk to a human", thread_ts=ts)
    posts = await standin.wait_for("chat.postMessage", count=5)
    in_thread = [p for p in posts[1:] if p.args["channel"] == STANDIN_CHANNEL]
    assert any("/invite @kbbot" in readable(p) for p in in_thread)
    assert any("Q237695" in readable(p) and "Escalation" in readable(p) for p in in_thread)
    assert all(p.args.get("thread_ts") == ts for p in in_thread)


async def test_without_an_escalation_channel_the_summary_stays_in_the_thread(seeds_index: Path) -> None:
    from kbbot.server.loopback import loopback_bot

    async with loopback_bot(index=seeds_index) as bot:
        _, ts = await bot.standin.mention(MAILBAG_ERROR)
        await bot.posts(1)
        await bot.standin.say("talk to a human", thread_ts=ts)
        posts = await bot.posts(3)
        assert {p.args["channel"] for p in posts} == {STANDIN_CHANNEL}
        assert any("the people in this channel" in readable(p) for p in posts[1:])
        assert any("Escalation" in readable(p) for p in posts[1:])


async def test_a_store_that_is_down_gets_an_apology_not_silence(
    slack_bot: LoopbackBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*_args: object, **_kwargs: object) -> bool:
        raise StoreError("store unreachable")

    monkeypatch.setattr(slack_bot.runtime.store, "claim_delivery", down)
    _, ts = await slack_bot.standin.mention(MAILBAG_ERROR)
    (post,) = await slack_bot.posts(1)
    assert post.args["text"] == STORE_DOWN and post.args["thread_ts"] == ts


async def test_two_bot_processes_sharing_a_store_answer_a_redelivered_event_once(
    seeds_index: Path, tmp_path: Path
) -> None:
    # Behind a load balancer Slack's retry can land on another process; the shared store's claim decides.
    from kbbot.server.runtime import BotRuntime
    from kbbot.settings import Settings
    from kbbot.standin import SlackStandIn

    async with SlackStandIn(token="xoxb-lb", signing_secret="lb-secret") as standin:
        settings = Settings(bot_token="xoxb-lb", signing_secret="lb-secret", api_url=standin.api_url,
                            index=seeds_index, store_url=f"sqlite:///{tmp_path / 'shared.db'}")
        runtimes = [await BotRuntime.open(settings) for _ in range(2)]
        runners = [await rt.start_http(host="127.0.0.1", port=0) for rt in runtimes]
        try:
            envelope = event_callback(
                {"type": "app_mention", "user": STANDIN_USER, "text": f"<@{standin.bot_user_id}> {MAILBAG_ERROR}",
                 "ts": "1700000003.000001", "channel": STANDIN_CHANNEL},
                team_id=standin.team_id,
            )
            for n, (_runner, port) in enumerate(runners):
                standin.events_url = f"http://127.0.0.1:{port}/slack/events"
                delivery = await standin.send_envelope(envelope, retry_num=n or None)
                assert delivery.status == 200
            await standin.wait_for("chat.postMessage")
            await standin.quiet()
            assert len(standin.calls_to("chat.postMessage")) == 1
        finally:
            for (runner, _port), rt in zip(runners, runtimes, strict=True):
                await runner.cleanup()
                await rt.close(drain_s=2.0)


async def test_reloading_the_index_answers_from_the_new_one(seeds_dir: Path, tmp_path: Path) -> None:
    import shutil

    from kbbot.indexer import run_index
    from kbbot.server.loopback import loopback_bot

    articles = tmp_path / "kb"
    articles.mkdir()
    for seed in sorted(seeds_dir.iterdir())[:3]:  # Q102087, Q99698, Q99304: no mailbag article yet
        shutil.copy(seed, articles / seed.name)
    index = tmp_path / "index"
    run_index([str(articles)], index, progress=False)
    async with loopback_bot(index=index) as bot:
        await bot.standin.slash("/kb", "Q237695")
        (before,) = await bot.standin.wait_for("response_url")
        assert "Q237695: XFOR" not in before.args["text"]

        for seed in sorted(seeds_dir.iterdir()):
            shutil.copy(seed, articles / seed.name)
        run_index([str(articles)], index, progress=False)
        assert await bot.runtime.reload_index()
        await bot.standin.slash("/kb", "Q237695")
        after = (await bot.standin.wait_for("response_url", count=2))[-1]
        assert "Q237695: XFOR" in after.args["text"]
        assert len(bot.runtime.kb) == 5


async def test_blocks_slack_refuses_fall_back_to_the_plain_text(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    standin.fail_next("chat.postMessage", error="msg_blocks_too_long")
    await standin.mention(MAILBAG_ERROR)
    refused, fallback = await slack_bot.posts(2)
    assert refused.args.get("blocks") and not fallback.args.get("blocks")
    assert fallback.args["text"] == refused.args["text"] and "Q237695" in fallback.args["text"]


async def test_a_reaction_that_is_already_there_is_not_an_error(
    slack_bot: LoopbackBot, caplog: pytest.LogCaptureFixture
) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    standin.fail_next("reactions.add", error="already_reacted")
    with caplog.at_level(logging.WARNING):
        await standin.say("it worked", thread_ts=ts)
        await standin.wait_for("reactions.add")
        await standin.quiet()
    assert slack_bot.runtime.metrics.slack_api_errors.value(method="reactions.add", error="already_reacted") == 0
    assert not [r for r in caplog.records if "already_reacted" in r.getMessage()]


async def test_acks_stay_fast_while_slow_turns_are_worked_out(
    slack_bot: LoopbackBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a search over a big knowledge base is CPU work; it must not hold up the ack of the next request
    conversation = slack_bot.runtime.conversation
    handle = conversation.handle

    def slow_handle(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)
        return handle(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(conversation, "handle", slow_handle)
    await slack_bot.standin.mention("warm up")  # auth.test on the first request
    await slack_bot.posts(1)
    # the second ack arrives while the first turn is still being worked out; on the loop it would wait 0.5 s
    acks = [(await slack_bot.standin.mention(f"{MAILBAG_ERROR} #{n}"))[0].elapsed_s for n in range(2)]
    assert max(acks) < 0.3, acks
    await slack_bot.posts(3, timeout=10)


async def test_two_replies_at_once_in_one_thread_lose_neither_update(
    slack_bot: LoopbackBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from kbbot.conversation.state import ThreadKey

    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    key = ThreadKey(team=standin.team_id, channel=STANDIN_CHANNEL, thread_ts=ts)
    before = await slack_bot.runtime.store.get(key)
    assert before is not None

    conversation = slack_bot.runtime.conversation
    handle = conversation.handle

    def slow_handle(*args: object, **kwargs: object) -> object:
        time.sleep(0.1)  # both turns are worked out against the same state before either is stored
        return handle(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(conversation, "handle", slow_handle)
    await asyncio.gather(standin.say("walk me through", thread_ts=ts), standin.say("next", thread_ts=ts))
    await slack_bot.posts(3, timeout=10)
    await standin.quiet()
    after = await slack_bot.runtime.store.get(key)
    # both turns are in: the walk started and moved on (each posted step's ts is recorded on top of them)
    assert after is not None and after.offers_version >= before.version + 2 and after.step_no == 1
    assert [h.step_no for h in after.history if h.event.value == "shown"] == [0, 1]
