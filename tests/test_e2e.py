"""End to end: real `kbbot serve` processes in HTTP mode, a real redis-server, Slack stood in on loopback.

Two bot processes share one Redis, as two replicas behind a load balancer would: a conversation moves between
them step by step, an event delivered to both is answered once, and SIGKILLing one mid-conversation loses
nothing. Then Redis itself is stopped and started again under a running bot: /healthz follows it, and people
hear "I'm having trouble remembering this thread" instead of silence.

Waiting is by polling with deadlines (a loaded 2-core CI machine is slow, not broken); nothing sleeps blind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import ClientError, ClientSession, ClientTimeout
from conftest import redis_server_binary

from kbbot.conversation.messages import STORE_DOWN
from kbbot.server.loopback import readable
from kbbot.standin import STANDIN_CHANNEL, STANDIN_USER, ApiCall, SlackStandIn, event_callback

TOKEN = "xoxb-e2e-test"
SECRET = "e2e-signing-secret"
MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    return redis_server_binary()


class RedisServer:
    """A redis-server on loopback that can be stopped and started again on the same port, keeping its data
    (append-only file, fsync on every write) the way a restarted production Redis would."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes",
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self._answers_ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class BotProcess:
    """One `kbbot serve` subprocess in HTTP mode; its log goes to a file (a pipe nobody reads would fill up)."""

    def __init__(self, *, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    async def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kbbot", "--log-format", "json", "serve",
                "--port", str(self.port), "--host", "127.0.0.1",
                env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=log_file,
            )  # fmt: skip

    async def health(self, http: ClientSession) -> int | None:
        try:
            async with http.get(f"{self.base_url}/healthz") as resp:
                return resp.status
        except (ClientError, TimeoutError):
            return None

    async def wait_health(self, http: ClientSession, status: int, *, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while (seen := await self.health(http)) != status:
            assert self.proc is not None and self.proc.returncode is None, (
                f"{self.name} exited:\n{self.log()[-3000:]}"
            )
            assert time.monotonic() < deadline, f"{self.name}: /healthz {seen}, not {status}\n{self.log()[-3000:]}"
            await asyncio.sleep(0.05)

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), timeout=20)


@asynccontextmanager
async def bots(
    tmp_path: Path, seeds_index: Path, standin: SlackStandIn, redis: RedisServer, count: int
) -> AsyncIterator[list[BotProcess]]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "KBBOT_INDEX": str(seeds_index),
        "KBBOT_STORE": redis.url,
        "KBBOT_ESCALATION_CHANNEL": "C0HUMANS",
    }
    procs = [BotProcess(name=f"bot{n}", env=env, log_path=tmp_path / f"bot{n}.log") for n in range(count)]
    try:
        await asyncio.gather(*(p.start() for p in procs))
        async with ClientSession(timeout=ClientTimeout(total=5)) as http:
            await asyncio.gather(*(p.wait_health(http, 200) for p in procs))
        yield procs
    finally:
        for p in procs:
            if p.proc is not None and p.proc.returncode is None:
                await p.stop(signal.SIGKILL)


async def _say_via(standin: SlackStandIn, bot: BotProcess, text: str, *, thread_ts: str | None = None) -> str:
    """A person's message (a mention for a new question, a plain thread reply otherwise), delivered to `bot`."""
    standin.events_url = bot.events_url
    if thread_ts is None:
        delivery, ts = await standin.mention(text)
    else:
        delivery, ts = await standin.say(text, thread_ts=thread_ts)
    assert delivery.status == 200, delivery.body
    return ts


async def _next_post(standin: SlackStandIn, seen: int, *, timeout: float = 15.0) -> ApiCall:
    posts = await standin.wait_for("chat.postMessage", count=seen + 1, timeout=timeout)
    return posts[seen]


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


async def test_two_processes_share_one_conversation_answer_once_and_survive_a_kill(
    tmp_path: Path, seeds_index: Path, redis: RedisServer
) -> None:
    async with (
        SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin,
        bots(tmp_path, seeds_index, standin, redis, count=2) as (first, second),
    ):
        ts = await _say_via(standin, first, MAILBAG_ERROR)
        card = await _next_post(standin, 0)
        assert "Q237695" in card.args["text"] and card.args["thread_ts"] == ts

        # the conversation moves between processes and each picks it up at the right step
        await _say_via(standin, second, "walk me through", thread_ts=ts)
        assert "Step 1 of 6" in readable(await _next_post(standin, 1))
        await _say_via(standin, first, "next", thread_ts=ts)
        assert "Step 2 of 6" in readable(await _next_post(standin, 2))

        # one event delivered to both processes at once (a retry landing elsewhere): one reply
        message_ts = standin._next_ts()
        envelope = event_callback(
            {"type": "message", "channel_type": "channel", "user": STANDIN_USER, "text": "next",
             "ts": message_ts, "channel": STANDIN_CHANNEL, "event_ts": message_ts, "thread_ts": ts},
            team_id=standin.team_id,
        )  # fmt: skip
        body = json.dumps(envelope)

        async def deliver(bot: BotProcess, retry: int | None) -> int:
            standin.events_url = bot.events_url
            return (await standin.deliver(body, content_type="application/json", retry_num=retry)).status

        assert await asyncio.gather(deliver(first, None), deliver(second, 1)) == [200, 200]
        assert "Step 3 of 6" in readable(await _next_post(standin, 3))
        await standin.quiet(settle_s=0.5)
        assert len(standin.calls_to("chat.postMessage")) == 4

        # SIGKILL the process that took the last turn: the other carries on from the step after it
        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        await _say_via(standin, second, "next", thread_ts=ts)
        assert "Step 4 of 6" in readable(await _next_post(standin, 4))
        await _say_via(standin, second, "it worked", thread_ts=ts)
        assert "glad" in readable(await _next_post(standin, 5))

        async with ClientSession() as http, http.get(f"{second.base_url}/metrics") as resp:
            metrics = await resp.text()
        assert 'kbbot_outcomes_total{outcome="resolved"} 1' in metrics
        assert await second.stop() == 0
        for bot in (first, second):
            assert TOKEN not in bot.log() and SECRET not in bot.log()
        # JSON logs, and the lines about a thread carry its key
        lines = [json.loads(line) for line in second.log().splitlines() if line.startswith("{")]
        assert any(line.get("thread", "").endswith(ts) for line in lines)


async def test_redis_stopped_and_restarted_under_a_running_bot(
    tmp_path: Path, seeds_index: Path, redis: RedisServer
) -> None:
    async with (
        SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin,
        bots(tmp_path, seeds_index, standin, redis, count=1) as (bot,),
    ):
        ts = await _say_via(standin, bot, MAILBAG_ERROR)
        assert "Q237695" in readable(await _next_post(standin, 0))

        redis.stop()
        async with ClientSession(timeout=ClientTimeout(total=5)) as http:
            await bot.wait_health(http, 503, timeout=15)
            # a reply in the thread it was answering, and a new question: both told why, nothing crashes
            await _say_via(standin, bot, "walk me through", thread_ts=ts)
            assert readable(await _next_post(standin, 1)).startswith(STORE_DOWN)
            new_ts = await _say_via(standin, bot, "exchange IMC is silently losing mail")
            down = await _next_post(standin, 2)
            assert down.args["text"] == STORE_DOWN and down.args["thread_ts"] == new_ts

            redis.start()  # same port, same append-only file: the thread's state is still there
            await bot.wait_health(http, 200, timeout=15)
        await _say_via(standin, bot, "walk me through", thread_ts=ts)
        assert "Step 1 of 6" in readable(await _next_post(standin, 3))
        assert bot.proc is not None and bot.proc.returncode is None
        assert await bot.stop() == 0
        assert "cannot claim the event" in bot.log()  # logged, with the reason, and the process lived on


async def test_a_thread_whose_state_redis_lost_is_answered_not_ignored(
    tmp_path: Path, seeds_index: Path, redis: RedisServer
) -> None:
    import redis as redis_client

    async with (
        SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin,
        bots(tmp_path, seeds_index, standin, redis, count=2) as (first, second),
    ):
        ts = await _say_via(standin, first, MAILBAG_ERROR)
        assert "Q237695" in readable(await _next_post(standin, 0))
        # Redis restarted empty (or was flushed): every thread's state is gone
        client = redis_client.Redis.from_url(redis.url)
        client.flushall()
        client.close()
        # the other process has never seen this thread: it tells kbbot's thread from its replies in it
        await _say_via(standin, second, "walk me through", thread_ts=ts)
        reply = readable(await _next_post(standin, 1))
        assert reply and "Q237695" not in reply  # an honest fresh start, not silence and not a made-up step
        # and a new question in the same thread is searched and answered as usual
        await _say_via(standin, second, MAILBAG_ERROR, thread_ts=ts)
        assert "Q237695" in readable(await _next_post(standin, 2))
        # a thread kbbot never replied in stays silent
        _, other = await standin.say("anyone know where the printer paper is?")
        await _say_via(standin, second, "next", thread_ts=other)
        await standin.quiet(settle_s=0.5)
        assert len(standin.calls_to("chat.postMessage")) == 3
