"""Per-person flood protection: a person or a loop posting 30 messages a minute gets one polite notice, not 30
searches; the count lives in the store, so the limit holds across bot processes sharing it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kbbot.conversation.messages import FLOOD_NOTICE
from kbbot.server.loopback import LoopbackBot, loopback_bot
from kbbot.settings import DEFAULT_FLOOD_LIMIT
from kbbot.standin import STANDIN_USER

MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"


async def _flood(bot: LoopbackBot, count: int, *, user: str = STANDIN_USER) -> None:
    for n in range(count):
        delivery, _ = await bot.standin.mention(f"{MAILBAG_ERROR} ({n})", user=user)
        assert delivery.status == 200


async def test_thirty_messages_a_minute_get_one_notice_not_thirty_searches(slack_bot: LoopbackBot) -> None:
    standin, metrics = slack_bot.standin, slack_bot.runtime.metrics
    await _flood(slack_bot, 30)
    await slack_bot.posts(DEFAULT_FLOOD_LIMIT, timeout=20)
    await standin.quiet(settle_s=0.5)
    assert len(standin.calls_to("chat.postMessage")) == DEFAULT_FLOOD_LIMIT
    (notice,) = standin.calls_to("chat.postEphemeral")  # only the asker sees it
    assert notice.args["user"] == STANDIN_USER
    assert notice.args["text"] == FLOOD_NOTICE.format(limit=DEFAULT_FLOOD_LIMIT)
    assert metrics.search_latency.count == DEFAULT_FLOOD_LIMIT
    assert metrics.flood_limited.value() == 30 - DEFAULT_FLOOD_LIMIT

    # everyone else is still answered
    await standin.mention(MAILBAG_ERROR, user="U0SOMEONE")
    await slack_bot.posts(DEFAULT_FLOOD_LIMIT + 1)


async def test_the_limit_is_configurable_and_zero_turns_it_off(seeds_index: Path) -> None:
    async with loopback_bot(index=seeds_index, flood_limit=2) as bot:
        await _flood(bot, 4)
        await bot.posts(2)
        await bot.standin.wait_for("chat.postEphemeral")
        await bot.standin.quiet()
        assert len(bot.standin.calls_to("chat.postMessage")) == 2
        # /kb searches count too; over the limit it answers nothing more
        await bot.standin.slash("/kb", "mailbag")
        await bot.standin.quiet()
        assert not bot.standin.calls_to("response_url")
    async with loopback_bot(index=seeds_index, flood_limit=0) as bot:
        await _flood(bot, 25)
        await bot.posts(25, timeout=20)
        assert not bot.standin.calls_to("chat.postEphemeral")


async def test_the_limit_holds_across_processes_sharing_the_store(seeds_index: Path, tmp_path: Path) -> None:
    # (Redis: the same hit_rate contract runs against two Redis store instances in test_store.py)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with (
        loopback_bot(index=seeds_index, store_url=url, flood_limit=3) as first,
        loopback_bot(index=seeds_index, store_url=url, flood_limit=3) as second,
    ):
        # each process sees only half of the flood, but together they count all of it
        for n in range(6):
            await (first, second)[n % 2].standin.mention(f"{MAILBAG_ERROR} ({n})")
        await asyncio.gather(first.standin.quiet(settle_s=0.5), second.standin.quiet(settle_s=0.5))
        posts = [*first.standin.calls_to("chat.postMessage"), *second.standin.calls_to("chat.postMessage")]
        notices = [*first.standin.calls_to("chat.postEphemeral"), *second.standin.calls_to("chat.postEphemeral")]
        assert len(posts) == 3 and len(notices) == 1
