"""What the configuration changes in Slack: where kbbot answers, auto-answer channels, who may `/kb reload`, the
escalation user group, confidence floors, and the thread key on log lines."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from kbbot.conversation.messages import RELOAD_NOT_ADMIN
from kbbot.indexer import run_index
from kbbot.logs import _ThreadKeyFilter, current_thread_key
from kbbot.search.types import SearchHit, SearchResult
from kbbot.server.loopback import loopback_bot, readable
from kbbot.server.metrics import Metrics
from kbbot.server.runtime import TimedSearch
from kbbot.standin import STANDIN_CHANNEL, STANDIN_DM, STANDIN_HUMANS

MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"
ADMIN = "U0ADMIN"


async def test_kbbot_answers_only_in_its_channels_and_always_in_dms(seeds_index: Path) -> None:
    async with loopback_bot(index=seeds_index, channels=frozenset({STANDIN_CHANNEL})) as bot:
        await bot.standin.mention(MAILBAG_ERROR, channel="C0ELSEWHERE")
        await bot.standin.quiet()
        assert not bot.standin.calls_to("chat.postMessage")
        await bot.standin.mention(MAILBAG_ERROR)
        await bot.standin.say(MAILBAG_ERROR, channel=STANDIN_DM)
        posts = await bot.posts(2)
        assert {p.args["channel"] for p in posts} == {STANDIN_CHANNEL, STANDIN_DM}


async def test_auto_answer_channels_answer_new_messages_without_a_mention(seeds_index: Path) -> None:
    async with loopback_bot(index=seeds_index, auto_answer_channels=frozenset({"C0HELP"})) as bot:
        standin = bot.standin
        await standin.say(MAILBAG_ERROR)  # an ordinary channel: chatter stays chatter
        await standin.say("<@U0COLLEAGUE> can you look at the MTA?", channel="C0HELP")  # for someone else
        await standin.quiet()
        assert not standin.calls_to("chat.postMessage")
        _, ts = await standin.say(MAILBAG_ERROR, channel="C0HELP")
        (card,) = await bot.posts(1)
        assert card.args["channel"] == "C0HELP" and card.args["thread_ts"] == ts and "Q237695" in card.args["text"]
        await standin.say("walk me through", channel="C0HELP", thread_ts=ts)
        assert "Step 1" in readable((await bot.posts(2))[-1])


async def test_kb_reload_is_for_admins(seeds_dir: Path, tmp_path: Path) -> None:
    articles = tmp_path / "kb"
    articles.mkdir()
    for seed in sorted(seeds_dir.iterdir())[:3]:
        shutil.copy(seed, articles / seed.name)
    index = tmp_path / "index"
    run_index([str(articles)], index, progress=False)
    async with loopback_bot(index=index, admin_users=frozenset({ADMIN})) as bot:
        standin = bot.standin
        await standin.slash("/kb", "reload")  # from STANDIN_USER, not an admin
        (refused,) = await standin.wait_for("response_url")
        assert refused.args["text"] == RELOAD_NOT_ADMIN
        assert len(bot.runtime.kb) == 3

        for seed in sorted(seeds_dir.iterdir()):
            shutil.copy(seed, articles / seed.name)
        run_index([str(articles)], index, progress=False)
        await standin.slash("/kb", "reload", user=ADMIN)
        reloaded = (await standin.wait_for("response_url", count=2))[-1]
        assert "Reloaded the knowledge base: 5 articles" in reloaded.args["text"]
        assert len(bot.runtime.kb) == 5
        assert bot.runtime.metrics.reloads.value(result="ok") == 1


async def test_escalation_pings_the_user_group(seeds_index: Path) -> None:
    async with loopback_bot(index=seeds_index, escalation_channel=STANDIN_HUMANS,
                            escalation_usergroup="S0ONCALL") as bot:  # fmt: skip
        _, ts = await bot.standin.mention(MAILBAG_ERROR)
        await bot.posts(1)
        await bot.standin.say("talk to a human", thread_ts=ts)
        (summary,) = await bot.standin.wait_for(
            "chat.postMessage", where=lambda c: c.args["channel"] == STANDIN_HUMANS
        )
        assert summary.args["text"].startswith("<!subteam^S0ONCALL>")
        assert "<!subteam^S0ONCALL>" in summary.args["blocks"][0]["text"]["text"]


def _result(band: str, confidence: float) -> SearchResult:
    hit = SearchHit(id="Q1", title="t", score=1.0)
    return SearchResult(query="q", hits=(hit,), band=band, confidence=confidence)  # type: ignore[arg-type]


class _Fixed:
    def __init__(self, result: SearchResult) -> None:
        self.result = result

    def search(self, text: str, *, limit: int = 10, context: object = None) -> SearchResult:
        return self.result


@pytest.mark.parametrize(
    ("band", "confidence", "expected"),
    [("answer", 0.9, "answer"), ("answer", 0.5, "shortlist"), ("answer", 0.1, "none"),
     ("shortlist", 0.5, "shortlist"), ("shortlist", 0.1, "none"), ("none", 0.95, "none")],
)  # fmt: skip
def test_confidence_floors_only_make_kbbot_more_careful(band: str, confidence: float, expected: str) -> None:
    search = TimedSearch(inner=_Fixed(_result(band, confidence)), metrics=Metrics(), answer_min=0.8,
                         shortlist_min=0.2)  # fmt: skip
    assert search.search("q").band == expected
    unfloored = TimedSearch(inner=_Fixed(_result(band, confidence)), metrics=Metrics())
    assert unfloored.search("q").band == band


def test_log_lines_carry_the_thread_key_of_the_work_they_belong_to() -> None:
    record = logging.LogRecord("kbbot.store", logging.WARNING, __file__, 1, "slow write", None, None)
    token = current_thread_key.set("T1:C1:1700000000.000100")
    try:
        assert _ThreadKeyFilter().filter(record)
    finally:
        current_thread_key.reset(token)
    assert record.thread_key == "T1:C1:1700000000.000100"  # type: ignore[attr-defined]
    outside = logging.LogRecord("kbbot.store", logging.WARNING, __file__, 1, "idle", None, None)
    _ThreadKeyFilter().filter(outside)
    assert not hasattr(outside, "thread_key")
