"""Scenarios for what kbbot learns from threads, through the real app: signed requests, the stand-in recording.

Votes (a changed vote, two voters, a reason), a resolved walk, an abandoned one, an escalation and a question
the KB cannot answer; then `kbbot report --format json` over the same store counts exactly those, against
SQLite and a real redis-server. Then the App Home tab, the message shortcut, `/kb some words`, Slack Connect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from test_slack_scenarios import MAILBAG_ERROR, SEED_SYMPTOMS
from test_store import redis_url  # noqa: F401 - the session's real redis-server

from kbbot.conversation import messages as wording
from kbbot.conversation.state import ThreadKey
from kbbot.report.run import collect_report
from kbbot.server.loopback import LoopbackBot, buttons, loopback_bot, readable
from kbbot.settings import Settings
from kbbot.standin import (
    STANDIN_CHANNEL,
    STANDIN_HUMANS,
    STANDIN_TEAM,
    STANDIN_USER,
    SlackStandIn,
    check_home_view,
    interactive_form,
)

COLLEAGUE = "U0COLLEAGUE"
ADMIN = "U0ADMIN"
PARKING = "how do I renew my parking permit"
Q102087_SYMPTOM = dict(SEED_SYMPTOMS)["Q102087"]
REPO = Path(__file__).resolve().parents[1]


def _button(message: dict[str, Any], action_id: str) -> str:
    for b in buttons(message):
        if b.action_id == action_id:
            return b.value
    raise AssertionError(f"no {action_id} button on {readable(message)[:300]}")


def _bot_message(standin: SlackStandIn, *, thread_ts: str, containing: str = "") -> dict[str, Any]:
    """The latest message kbbot posted for everyone in a thread (optionally one containing some text)."""
    for m in reversed(standin.messages):
        if m.get("bot_id") and m.get("thread_ts") == thread_ts and containing in readable(m):
            return m
    raise AssertionError(f"kbbot posted nothing with {containing!r} in {thread_ts}")


def _ephemeral_to(standin: SlackStandIn, user: str) -> dict[str, Any]:
    return next(m for m in reversed(standin.messages) if m.get("ephemeral_to") == user)


async def _settled(standin: SlackStandIn) -> None:
    await standin.quiet(settle_s=0.3)


@pytest.fixture(params=["sqlite", "redis"])
def learning_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    import redis

    base: str = request.getfixturevalue("redis_url")
    url = base.rsplit("/", 1)[0] + "/7"  # a database of its own, emptied before and after
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    yield url
    with redis.Redis.from_url(url) as client:
        client.flushdb()


async def _vote(standin: SlackStandIn, card: dict[str, Any], *, user: str, value: str) -> None:
    await standin.click(card, action_id=f"kbfb:{value}", value=_button(card, f"kbfb:{value}"), user=user)


async def _four_threads(bot: LoopbackBot) -> dict[str, str]:
    """Resolved with votes, abandoned, escalated, no match: the threads the report must count."""
    standin = bot.standin
    threads: dict[str, str] = {}

    # 1. resolved, after a walk; the asker votes 👍, changes to 👎 with a reason; a colleague votes 👍
    _, ts = await standin.mention(MAILBAG_ERROR)
    threads["resolved"] = ts
    await bot.posts(1)
    card = _bot_message(standin, thread_ts=ts, containing="Q237695")
    await _vote(standin, card, user=STANDIN_USER, value="up")
    await standin.wait_for("chat.postEphemeral")
    assert _ephemeral_to(standin, STANDIN_USER)["text"] == wording.VOTE_THANKS
    await _vote(standin, card, user=STANDIN_USER, value="down")
    await standin.wait_for("chat.postEphemeral", count=2)
    why = _ephemeral_to(standin, STANDIN_USER)
    assert why["thread_ts"] == ts and {b.label for b in buttons(why)} == set(wording.REASON_LABELS.values())
    await standin.click(why, action_id="kbfb:why:out_of_date", value=_button(why, "kbfb:why:out_of_date"))
    (thanks,) = await standin.wait_for("response_url")
    assert thanks.args["replace_original"] is True and "Out of date" in thanks.args["text"]
    await _vote(standin, card, user=COLLEAGUE, value="up")
    await standin.wait_for("chat.postEphemeral", count=3)
    await standin.say("walk me through", thread_ts=ts)
    await bot.posts(2)
    await standin.say("go to step 6", thread_ts=ts)
    await bot.posts(3)
    last = _bot_message(standin, thread_ts=ts, containing="Step 6 of 6")
    assert {"kbfb:up", "kbfb:down"} <= {b.action_id for b in buttons(last)}  # the last step can be voted on
    await standin.say("it worked", thread_ts=ts)
    await bot.posts(4)

    # 2. abandoned: answered, one step shown, then nobody said anything more
    _, ts = await standin.mention(Q102087_SYMPTOM)
    threads["abandoned"] = ts
    await bot.posts(5)
    await standin.say("walk me through", thread_ts=ts)
    await bot.posts(6)

    # 3. escalated: the last step (6) did not work, and the person takes the offer of a human
    _, ts = await standin.mention(MAILBAG_ERROR)
    threads["escalated"] = ts
    await bot.posts(7)
    card = _bot_message(standin, thread_ts=ts, containing="Q237695")
    await standin.click(card, action_id="kb:walk", value=_button(card, "kb:walk"))
    await bot.posts(8)
    await standin.say("go to step 6", thread_ts=ts)
    await bot.posts(9)
    step6 = _bot_message(standin, thread_ts=ts, containing="Step 6 of 6")
    await standin.click(step6, action_id="kb:failed", value=_button(step6, "kb:failed"))
    await bot.posts(10)
    offer = _bot_message(standin, thread_ts=ts)
    await standin.click(offer, action_id="kb:escalate", value=_button(offer, "kb:escalate"))
    posts = await bot.posts(12)
    assert any(p.args["channel"] == STANDIN_HUMANS for p in posts)

    # 4. no match: a question the knowledge base cannot answer, which the report must show as a gap
    _, ts = await standin.mention(PARKING)
    threads["no_match"] = ts
    await bot.posts(13)
    await _settled(standin)
    return threads


def _kbbot_report(store_url: str) -> dict[str, Any]:
    """`kbbot report --format json`, run as a person would run it, over the store the bot wrote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBBOT_", "SLACK_"))}
    env["KBBOT_STORE"] = store_url
    done = subprocess.run(
        [sys.executable, "-m", "kbbot", "report", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


async def test_votes_and_outcomes_reach_kbbot_report(seeds_index: Path, learning_store: str) -> None:
    async with loopback_bot(
        index=seeds_index,
        store_url=learning_store,
        escalation_channel=STANDIN_HUMANS,
        admin_users=frozenset({ADMIN}),
    ) as bot:
        threads = await _four_threads(bot)
        metrics = bot.runtime.metrics
        assert metrics.votes.value(value="up") == 2 and metrics.votes.value(value="down") == 1
        assert metrics.vote_reasons.value(reason="out_of_date") == 1
        async with ClientSession() as http, http.get(f"{bot.base_url}/metrics") as resp:
            exposed = await resp.text()
        assert 'kbbot_votes_total{value="up"} 2' in exposed
        assert 'kbbot_vote_reasons_total{reason="out_of_date"} 1' in exposed
        assert metrics.outcome_writes.value(result="ok") >= len(threads)

    report = _kbbot_report(learning_store)
    assert (report["threads"], report["answered"], report["resolved"]) == (4, 3, 1)
    assert (report["escalated"], report["no_match"], report["open"], report["abandoned"]) == (1, 1, 1, 0)
    # the asker's changed vote counts once, as 👎 with its reason; the colleague's 👍 counts too
    assert report["votes"] == {"up": 1, "down": 1, "reasons": {"out_of_date": 1}}
    (gap,) = report["gaps"]
    assert gap["count"] == 1 and gap["examples"] == [PARKING]
    articles = {a["id"]: a for a in report["articles"]}
    mailbag = articles["Q237695"]
    assert (mailbag["offered"], mailbag["resolved"], mailbag["failed"], mailbag["down"]) == (2, 1, 1, 1)
    assert mailbag["failed_at_step"] == {"1.6": 1}
    assert articles["Q102087"]["offered"] == 1 and articles["Q102087"]["resolved"] == 0

    # a day later, the thread nobody came back to is abandoned
    later = await collect_report(
        settings=Settings(store_url=learning_store), since_s=30 * 86_400, now=time.time() + 2 * 86_400
    )
    assert (later.abandoned, later.open, later.resolved, later.escalated) == (1, 0, 1, 1)


async def test_a_forged_vote_is_refused_and_not_counted(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    _, ts = await standin.mention(MAILBAG_ERROR)
    await slack_bot.posts(1)
    card = _bot_message(standin, thread_ts=ts)
    value = json.loads(_button(card, "kbfb:down"))
    value["a"] = "Q99304"  # blame another article than the one shown
    await standin.click(card, action_id="kbfb:down", value=json.dumps(value))
    await standin.wait_for("chat.postEphemeral")
    assert _ephemeral_to(standin, STANDIN_USER)["text"] == wording.INVALID_BUTTON
    assert slack_bot.runtime.metrics.votes.value(value="down") == 0


async def test_a_vote_on_a_card_from_before_outcomes_were_kept_leaves_no_bare_record(
    slack_bot: LoopbackBot,
) -> None:
    from kbbot.slack.app import button_codec
    from kbbot.slack.feedback import vote_buttons
    from kbbot.slack.sealed import SealedValues

    standin, runtime = slack_bot.standin, slack_bot.runtime
    key = ThreadKey(team=STANDIN_TEAM, channel=STANDIN_CHANNEL, thread_ts="1600000000.000100")
    sealed = SealedValues(key=button_codec(runtime.settings).key)
    old_card = {"channel": key.channel, "ts": "1600000000.000200", "thread_ts": key.thread_ts, "text": "Q237695",
                "blocks": [vote_buttons(sealed=sealed, where=key, article_id="Q237695")]}  # fmt: skip
    await standin.click(old_card, action_id="kbfb:up", value=_button(old_card, "kbfb:up"))
    await standin.wait_for("chat.postEphemeral")
    assert runtime.metrics.votes.value(value="up") == 1  # counted, and thanked
    assert runtime.outcomes is not None and await runtime.outcomes.get(key) is None


# ---- App Home


def _home_opened(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
            "event_ts": f"{time.time():.6f}"}  # fmt: skip


async def _published_for(standin: SlackStandIn, user: str, count: int = 1) -> dict[str, Any]:
    calls = [c for c in await standin.wait_for("views.publish", count=count) if c.args["user_id"] == user]
    view: dict[str, Any] = calls[-1].args["view"]
    assert check_home_view(view) is None
    return view


async def test_app_home_for_a_person_and_for_an_admin(seeds_index: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'state.db'}"
    async with loopback_bot(
        index=seeds_index, store_url=store, escalation_channel=STANDIN_HUMANS, admin_users=frozenset({ADMIN})
    ) as bot:
        standin = bot.standin
        _, ts = await standin.mention(MAILBAG_ERROR)
        await bot.posts(1)
        await standin.say("it worked", thread_ts=ts)
        await bot.posts(2)
        await standin.mention(PARKING)
        await bot.posts(3)
        await _settled(standin)

        await standin.send_event(_home_opened(STANDIN_USER))
        view = await _published_for(standin, STANDIN_USER)
        shown = json.dumps(view, ensure_ascii=False)
        assert "How to ask" in shown and "Your recent threads" in shown
        assert "Q237695" in shown and "resolved" in shown and "no match" in shown  # their two threads
        assert "kbhome:search" in shown and "Last 30 days" not in shown  # not an admin: no report

        await standin.send_event(_home_opened(ADMIN))
        view = await _published_for(standin, ADMIN, count=2)
        shown = json.dumps(view, ensure_ascii=False)
        assert "Last 30 days" in shown and "2 threads" in shown
        assert PARKING in shown  # the unanswered question, under the knowledge gaps
        assert "No threads yet" in shown  # the admin asked nothing themselves

        # the search box: Enter sends its words, and the tab comes back with the closest articles
        search = {
            "type": "block_actions", "team": {"id": STANDIN_TEAM}, "user": {"id": STANDIN_USER},
            "api_app_id": "A0KBBOT", "token": "unused", "trigger_id": "1.2.3",
            "container": {"type": "view", "view_id": "V0STANDIN"}, "view": {"id": "V0STANDIN", "type": "home"},
            "actions": [{"type": "plain_text_input", "action_id": "kbhome:search", "block_id": "kbhome_search",
                         "value": "mac backup mail", "action_ts": "1"}],
        }  # fmt: skip
        await standin.deliver(interactive_form(search), content_type="application/x-www-form-urlencoded")
        view = await _published_for(standin, STANDIN_USER, count=3)
        shown = json.dumps(view, ensure_ascii=False)
        assert "mac backup mail" in shown and "Q102087" in shown and "Q99698" in shown


# ---- the message shortcut and /kb


def _shortcut(
    *, message: dict[str, Any], user: str = STANDIN_USER, channel: str = STANDIN_CHANNEL, response_url: str
) -> str:
    payload = {
        "type": "message_action", "callback_id": "kb_find", "trigger_id": "1.2.3", "token": "unused",
        "team": {"id": STANDIN_TEAM, "domain": "standin"}, "user": {"id": user, "name": "asker"},
        "channel": {"id": channel, "name": "support"}, "message_ts": message["ts"],
        "message": {"type": "message", "ts": message["ts"], "text": message["text"], "user": message["user"],
                    **({"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {})},
        "response_url": response_url,
    }  # fmt: skip
    return interactive_form(payload)


async def _use_shortcut(standin: SlackStandIn, message: dict[str, Any], count: int) -> dict[str, Any]:
    await standin.deliver(
        _shortcut(message=message, response_url=standin.new_response_url()),
        content_type="application/x-www-form-urlencoded",
    )
    choice = (await standin.wait_for("response_url", count=count))[-1]
    assert choice.args["response_type"] == "ephemeral"
    assert [b.label for b in buttons(choice)] == [wording.BTN_SHORTCUT_THREAD, wording.BTN_SHORTCUT_ME]
    return standin.messages[-1]


async def test_the_shortcut_answers_in_the_messages_thread_or_only_to_the_person(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    # a colleague's message kbbot was not asked about: it stays quiet until someone uses the shortcut on it
    _, top_ts = await standin.say(MAILBAG_ERROR, user=COLLEAGUE)
    _, reply_ts = await standin.say(Q102087_SYMPTOM, user=COLLEAGUE, thread_ts=top_ts)
    await standin.quiet()
    assert standin.calls_to("chat.postMessage") == []

    choice = await _use_shortcut(standin, standin.message(top_ts) or {}, count=1)
    await standin.click(choice, action_id="kbfind:thread", value=_button(choice, "kbfind:thread"))
    (answer,) = await slack_bot.posts(1)
    assert answer.args["thread_ts"] == top_ts and "Q237695" in answer.args["text"]

    # on a reply inside a thread: the answer goes into that same thread, not a new one under the reply
    choice = await _use_shortcut(standin, standin.message(reply_ts) or {}, count=3)
    await standin.click(choice, action_id="kbfind:thread", value=_button(choice, "kbfind:thread"))
    answer = (await slack_bot.posts(2))[-1]
    assert answer.args["thread_ts"] == top_ts and "Q102087" in answer.args["text"]

    # "only show me": the card replaces the choice, for the person alone; nothing new in the channel
    choice = await _use_shortcut(standin, standin.message(top_ts) or {}, count=5)
    await standin.click(choice, action_id="kbfind:me", value=_button(choice, "kbfind:me"))
    shown = (await standin.wait_for("response_url", count=6))[-1]
    assert shown.args["replace_original"] is True and shown.args["response_type"] == "ephemeral"
    assert "Q237695" in shown.args["text"]
    await standin.quiet()
    assert len(standin.calls_to("chat.postMessage")) == 2

    # a choice button carried to another channel is refused: its seal names the channel it was drawn for
    await standin.click(
        choice | {"channel": "C0ELSEWHERE"}, action_id="kbfind:thread", value=_button(choice, "kbfind:thread")
    )
    refused = (await standin.wait_for("response_url", count=7))[-1]
    assert refused.args["text"] == wording.INVALID_BUTTON


async def test_the_shortcut_does_not_answer_where_kbbot_may_not(seeds_index: Path) -> None:
    async with loopback_bot(index=seeds_index, channels=frozenset({STANDIN_CHANNEL})) as bot:
        standin = bot.standin
        standin.set_channel("C0PARTNER", is_ext_shared=True)
        for channel in ("C0PARTNER", "C0RANDOM"):  # shared with another organisation; not a kbbot channel
            _, ts = await standin.say(MAILBAG_ERROR, user=COLLEAGUE, channel=channel)
            form = _shortcut(message=standin.message(ts) or {}, channel=channel,
                             response_url=standin.new_response_url())  # fmt: skip
            await standin.deliver(form, content_type="application/x-www-form-urlencoded")
        told = await standin.wait_for("response_url", count=2)
        assert [c.args["text"] for c in told] == [wording.SHORTCUT_NOT_HERE] * 2
        assert all(not buttons(c) for c in told)
        await standin.quiet()
        assert standin.calls_to("chat.postMessage") == []


async def test_kb_some_words_gives_the_short_list_to_the_asker_only_with_share_buttons(
    slack_bot: LoopbackBot,
) -> None:
    standin = slack_bot.standin
    await standin.slash("/kb", "mac backup mail")
    (reply,) = await standin.wait_for("response_url")
    assert reply.args["response_type"] == "ephemeral"
    found = buttons(reply)
    shares = [b for b in found if b.action_id == "kb:share"]
    assert [b.value for b in shares][:3] == ["Q102087", "Q99698", "Q99304"]
    assert [b.value for b in found if b.action_id.startswith("kb:lookup")] == [b.value for b in shares]
    await standin.quiet()
    assert standin.calls_to("chat.postMessage") == [] and standin.calls_to("chat.postEphemeral") == []

    await standin.click(standin.messages[-1] | {"channel": STANDIN_CHANNEL}, action_id="kb:share", value="Q99698")
    (shared,) = await slack_bot.posts(1)
    assert shared.args["channel"] == STANDIN_CHANNEL and "Q99698" in shared.args["text"]

    # the shared card is an answer too: once posted it gains the vote buttons, sealed to its own thread
    (update,) = await standin.wait_for("chat.update")
    card = standin.message(update.args["ts"])
    assert card is not None and card["thread_ts"] is None and not card.get("ephemeral_to")
    await _vote(standin, card, user=COLLEAGUE, value="up")
    await standin.wait_for("chat.postEphemeral")
    assert slack_bot.runtime.outcomes is not None
    record = await slack_bot.runtime.outcomes.get(ThreadKey(team=STANDIN_TEAM, channel=STANDIN_CHANNEL,
                                                            thread_ts=card["ts"]))  # fmt: skip
    assert record is not None and record.articles == ("Q99698",)
    assert {u: v.value.value for u, v in record.votes.items()} == {COLLEAGUE: "up"}


# ---- Slack Connect

SHARED_CHANNEL = "C0CONNECT"


async def _mention_in_shared(standin: SlackStandIn, text: str) -> str:
    """A mention in a Slack Connect channel: its events carry `is_ext_shared_channel: true`."""
    delivery, ts = await standin.mention(text, channel=SHARED_CHANNEL)
    assert delivery.status == 200
    return ts


async def test_channels_shared_with_other_organisations_get_no_answer(slack_bot: LoopbackBot) -> None:
    standin = slack_bot.standin
    standin.set_channel(SHARED_CHANNEL, is_ext_shared=True)
    delivery, ts = await standin.mention(MAILBAG_ERROR, channel=SHARED_CHANNEL)
    (told,) = await standin.wait_for("chat.postEphemeral")
    assert told.args["user"] == STANDIN_USER and told.args["text"] == wording.SHARED_CHANNEL_REFUSED
    retry = {"type": "app_mention", "user": STANDIN_USER, "text": f"<@{standin.bot_user_id}> {MAILBAG_ERROR}",
             "ts": ts, "channel": SHARED_CHANNEL, "event_ts": ts}  # fmt: skip
    await standin.send_event(retry, event_id=delivery.event_id, retry_num=1)  # Slack retrying the same event
    await standin.quiet()
    assert len(standin.calls_to("chat.postEphemeral")) == 1
    # /kb answers only the asker, wherever; sharing its card into the shared channel is refused
    await standin.slash("/kb", "Q102087", channel=SHARED_CHANNEL)
    await standin.wait_for("response_url")
    await standin.click(standin.messages[-1] | {"channel": SHARED_CHANNEL}, action_id="kb:share", value="Q102087")
    refused = (await standin.wait_for("response_url", count=2))[-1]
    assert refused.args["text"] == wording.SHARED_CHANNEL_REFUSED
    await standin.quiet()
    assert standin.calls_to("chat.postMessage") == []


async def test_allowed_shared_channels_get_answers_but_no_escalation_summary(seeds_index: Path) -> None:
    # no escalation channel: the summary would otherwise be posted in the thread, for the other side to read
    async with loopback_bot(index=seeds_index, allow_shared_channels=True) as bot:
        standin = bot.standin
        standin.set_channel(SHARED_CHANNEL, is_ext_shared=True)
        ts = await _mention_in_shared(standin, MAILBAG_ERROR)
        (answer,) = await bot.posts(1)
        assert answer.args["channel"] == SHARED_CHANNEL and "Q237695" in answer.args["text"]
        await standin.say("talk to a human", channel=SHARED_CHANNEL, thread_ts=ts)
        await standin.quiet(settle_s=0.5)
        said = [readable(p) for p in standin.calls_to("chat.postMessage")[1:]]
        assert said and not any("Question" in s and "<@" in s for s in said)
        assert all(wording.ESCALATION_TITLE not in s for s in said)


# ---- the pieces on their own


def test_allow_shared_channels_is_read_as_a_flag() -> None:
    from kbbot.errors import ConfigError

    assert Settings.from_env({}).allow_shared_channels is False
    assert Settings.from_env({"KBBOT_ALLOW_SHARED_CHANNELS": "yes"}).allow_shared_channels is True
    assert Settings.from_env({"KBBOT_ALLOW_SHARED_CHANNELS": "false"}).allow_shared_channels is False
    with pytest.raises(ConfigError, match="KBBOT_ALLOW_SHARED_CHANNELS must be true or false"):
        Settings.from_env({"KBBOT_ALLOW_SHARED_CHANNELS": "sometimes"})


def test_sealed_values_are_bound_to_their_channel_and_fields() -> None:
    from kbbot.errors import InvalidButtonError
    from kbbot.slack.sealed import SealedValues

    sealed = SealedValues(key=b"k" * 32)
    value = sealed.encode("vote", team="T1", channel="C1", t="1.5", a="Q237695")
    assert sealed.decode("vote", value, team="T1", channel="C1") == {"t": "1.5", "a": "Q237695"}
    for team, channel, kind in (("T1", "C2", "vote"), ("T2", "C1", "vote"), ("T1", "C1", "why")):
        with pytest.raises(InvalidButtonError):
            sealed.decode(kind, value, team=team, channel=channel)
    moved = json.loads(value) | {"t": "2.5"}  # the same vote carried to another thread
    with pytest.raises(InvalidButtonError):
        sealed.decode("vote", json.dumps(moved), team="T1", channel="C1")
    with pytest.raises(InvalidButtonError):
        SealedValues(key=b"x" * 32).decode("vote", value, team="T1", channel="C1")


def test_vote_buttons_go_under_answer_cards_and_last_steps_only(seeds_dir: Path) -> None:
    from kbbot.conversation.replies import AnswerReply, NoMatchReply, StepReply
    from kbbot.parse import parse_file
    from kbbot.slack.actions import ButtonCodec
    from kbbot.slack.blocks import render
    from kbbot.slack.feedback import with_feedback
    from kbbot.slack.sealed import SealedValues

    mailbag = next(a for a in (parse_file(p) for p in sorted(seeds_dir.iterdir())) if a.id == "Q237695")
    codec = ButtonCodec.from_secret("secret")
    where = ThreadKey(team="T1", channel="C1", thread_ts="1.5")
    sealed = SealedValues(key=codec.key)

    def vote_ids(reply: Any) -> list[str]:
        messages = with_feedback(render(reply, codec=codec, where=where), reply, sealed=sealed, where=where)
        return [b.action_id for m in messages for b in buttons({"blocks": m.blocks})
                if b.action_id.startswith("kbfb:")]  # fmt: skip

    assert vote_ids(AnswerReply(article=mailbag, hit=None)) == ["kbfb:up", "kbfb:down"]
    assert vote_ids(StepReply(article=mailbag, procedure_no=0, step_no=5)) == ["kbfb:up", "kbfb:down"]
    assert vote_ids(StepReply(article=mailbag, procedure_no=0, step_no=2)) == []
    assert vote_ids(NoMatchReply(question="parking")) == []


def test_the_home_view_stays_valid_with_many_threads_and_hostile_questions() -> None:
    from kbbot.outcomes import ThreadOutcome
    from kbbot.report import build_report
    from kbbot.slack.home import home_view

    now = time.time()
    hostile = "<!channel> *urgent* " + "x" * 4000
    recent = [
        ThreadOutcome(team="T1", channel="C1", thread_ts=f"{i}.0", created_at=now - i, updated_at=now - i,
                      asker="U1", question=hostile, articles=("Q237695",))
        for i in range(40)
    ]  # fmt: skip
    report = build_report(recent, now=now, since=now - 86_400)
    view = home_view(recent=recent, now=now, report=report)
    assert check_home_view(view) is None
    shown = json.dumps(view)
    assert "<!channel>" not in shown and shown.count("Q237695") >= 10


async def test_a_channel_whose_sharing_cannot_be_told_counts_as_shared() -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from kbbot.slack.connect import SharedChannels

    async with SlackStandIn(token="xoxb-t", signing_secret="s") as standin:
        standin.set_channel("C0PARTNER", is_ext_shared=True)
        shared = SharedChannels(client=AsyncWebClient(token="xoxb-t", base_url=standin.api_url))
        assert await shared.is_shared(STANDIN_CHANNEL) is False
        assert await shared.is_shared("C0PARTNER") is True
        assert await shared.is_shared("C0MISSING") is True  # conversations.info says channel_not_found
        assert await shared.is_shared("D0ASKER") is False  # a direct message, not asked about
        asked = len(standin.calls_to("conversations.info"))
        assert await shared.is_shared("C0PARTNER") is True and len(standin.calls_to("conversations.info")) == asked
