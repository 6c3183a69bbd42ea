"""The thread store's faults as the bot shows them: /healthz fails with the cause, and people still get a reply."""

from __future__ import annotations

from pathlib import Path

from aiohttp import ClientSession
from test_store import scribble_over_pages

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.server.loopback import loopback_bot
from kbbot.store import open_store

MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"


async def _a_damaged_database(path: Path) -> None:
    """A real store file with fifty threads in it, then every page after the first scribbled over."""
    store = open_store(f"sqlite:///{path}")
    for n in range(50):
        key = ThreadKey(team="T1", channel="C1", thread_ts=f"17.{n}")
        await store.transact(key, lambda state: (ThreadState(version=1, candidates=("Q1",) * 40), None))
    await store.close()
    scribble_over_pages(path)


async def test_a_damaged_sqlite_store_fails_healthz_with_the_cause_and_the_bot_still_replies(
    seeds_index: Path, tmp_path: Path
) -> None:
    db = tmp_path / "state.db"
    await _a_damaged_database(db)
    async with loopback_bot(index=seeds_index, store_url=f"sqlite:///{db}") as bot:
        async with ClientSession() as http, http.get(f"{bot.base_url}/healthz") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["store"]["ok"] is False and "malformed" in body["store"]["error"]
        assert "damaged; move it aside" in body["store"]["error"]
        _, ts = await bot.standin.mention(MAILBAG_ERROR)
        (reply,) = await bot.posts()
        assert reply.args["thread_ts"] == ts and "trouble remembering this thread" in reply.args["text"]
