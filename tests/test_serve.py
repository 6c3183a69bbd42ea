"""`kbbot serve`: configuration errors, HTTP mode as a real process (SIGTERM included), and Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import ClientError, ClientSession

from kbbot.errors import ConfigError
from kbbot.server.metrics import SHARE_EVERY_S
from kbbot.server.serve import serve
from kbbot.settings import Settings
from kbbot.standin import STANDIN_CHANNEL, STANDIN_USER, SlackStandIn

TOKEN = "xoxb-serve-test"
SECRET = "serve-test-signing-secret"
APP_TOKEN = "xapp-1-serve-test"
MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"


def _env(**extra: str) -> dict[str, str]:
    # os.environ is already isolated by conftest (no SLACK_*/KBBOT_*, XDG dirs in tmp); add what this run needs
    return {**os.environ, **extra}


def _sample(exposition: str, name: str) -> float | None:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_healthy(port: int, proc: asyncio.subprocess.Process) -> dict[str, object]:
    """Poll /healthz until the process answers 200 (its JSON body is returned), failing if it dies first."""
    async with ClientSession() as http:
        deadline = time.monotonic() + 20
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        body: dict[str, object] = await resp.json()
                        return body
            except ClientError:
                pass
            assert time.monotonic() < deadline, "kbbot serve did not become healthy"
            assert proc.returncode is None, "kbbot serve exited early"
            await asyncio.sleep(0.05)


def test_missing_tokens_is_one_clear_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kbbot", "serve"],
        capture_output=True, text=True, timeout=30, env=_env(), check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kbbot: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set in the environment to connect to Slack"
    ]


def test_a_refused_token_stops_serve_with_exit_2(seeds_index: Path) -> None:
    async def scenario() -> subprocess.CompletedProcess[str]:
        async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
            env = _env(SLACK_BOT_TOKEN="xoxb-revoked", SLACK_SIGNING_SECRET=SECRET,
                             SLACK_API_URL=standin.api_url, KBBOT_INDEX=str(seeds_index))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kbbot", "serve", "--port", str(_free_port()), "--host", "127.0.0.1",
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
            return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())

    result = asyncio.run(scenario())
    assert result.returncode == 2
    assert "kbbot: Slack refused SLACK_BOT_TOKEN (invalid_auth)" in result.stderr
    assert "xoxb-revoked" not in result.stderr


async def test_http_mode_process_answers_and_stops_cleanly_on_sigterm(seeds_index: Path, tmp_path: Path) -> None:
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
        port = _free_port()
        env = _env(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=standin.api_url,
            KBBOT_INDEX=str(seeds_index),
            KBBOT_STORE=f"sqlite:///{tmp_path / 'state.db'}",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kbbot", "serve", "--port", str(port), "--host", "127.0.0.1",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            health = await _wait_healthy(port, proc)
            assert health["store"]["backend"] == "sqlite" and health["mode"] == "http"

            standin.events_url = f"{base}/slack/events"
            _, ts = await standin.mention(MAILBAG_ERROR)
            (post,) = await standin.wait_for("chat.postMessage", timeout=10)
            assert post.args["thread_ts"] == ts and "Q237695" in post.args["text"]

            # SIGHUP reopens the index and the process goes on answering in the same thread
            proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.3)
            assert proc.returncode is None
            await standin.say("walk me through", thread_ts=ts)
            posts = await standin.wait_for("chat.postMessage", count=2, timeout=10)
            assert "Step 1" in posts[-1].args["text"]
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, err.decode()[-2000:]
        # the index folder was not rebuilt: the signal is taken and the same index kept, not loaded again
        assert "index unchanged: 5 articles" in err.decode()
        assert TOKEN not in err.decode() and SECRET not in err.decode()


async def _start_serve(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kbbot", "serve", "--port", str(port), "--host", "127.0.0.1",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    await _wait_healthy(port, proc)
    return proc


async def test_a_restart_mid_procedure_continues_at_the_right_step_sqlite(
    seeds_index: Path, tmp_path: Path
) -> None:
    # The thread's place lives in the SQLite file, not in the process: stop the bot at step 3, start a new
    # one on the same file, and "next" must give step 4.
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
        port = _free_port()
        env = _env(
            SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.api_url,
            KBBOT_INDEX=str(seeds_index), KBBOT_STORE=f"sqlite:///{tmp_path / 'state.db'}",
        )
        standin.events_url = f"http://127.0.0.1:{port}/slack/events"
        first = await _start_serve(port, env)
        try:
            _, ts = await standin.mention(MAILBAG_ERROR)
            await standin.wait_for("chat.postMessage", count=1, timeout=10)
            for n, reply in enumerate(("walk me through", "next", "next"), start=2):
                await standin.say(reply, thread_ts=ts)
                posts = await standin.wait_for("chat.postMessage", count=n, timeout=10)
            assert "Step 3 of 6" in posts[-1].args["text"]
        finally:
            first.send_signal(signal.SIGTERM)
            await asyncio.wait_for(first.communicate(), timeout=20)
        assert first.returncode == 0

        second = await _start_serve(port, env)
        try:
            await standin.say("next", thread_ts=ts)
            posts = await standin.wait_for("chat.postMessage", count=5, timeout=10)
            assert posts[-1].args["thread_ts"] == ts
            assert "Step 4 of 6" in posts[-1].args["text"]
        finally:
            second.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(second.communicate(), timeout=20)
        assert second.returncode == 0, err.decode()[-2000:]


async def test_socket_mode_connects_answers_and_stops(seeds_index: Path) -> None:
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET, app_token=APP_TOKEN) as standin:
        settings = Settings(
            bot_token=TOKEN,
            app_token=APP_TOKEN,
            api_url=standin.api_url,
            index=seeds_index,
            store_url="memory://",
            host="127.0.0.1",
            port=0,
        )
        stop = asyncio.Event()
        server = asyncio.create_task(serve(settings, stop=stop))
        try:
            await standin.wait_for_socket(timeout=15)
            delivery, ts = await standin.mention(MAILBAG_ERROR)
            assert delivery.status == 200  # the bot acknowledged the envelope over the socket
            (post,) = await standin.wait_for("chat.postMessage", timeout=10)
            assert post.args["channel"] == STANDIN_CHANNEL and post.args["thread_ts"] == ts
            assert "Q237695" in post.args["text"]

            await standin.slash("/kb", "Q102087")
            (reply,) = await standin.wait_for("response_url", timeout=10)
            assert "Q102087" in reply.args["text"]
        finally:
            stop.set()
            assert await asyncio.wait_for(server, timeout=15) == 0


async def _health(port: int) -> tuple[int, dict[str, object]]:
    async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
        return resp.status, await resp.json()


async def _health_until(port: int, want: int, *, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    status, body = 0, {}
    while True:
        with contextlib.suppress(ClientError):  # the port opens once the socket is up
            status, body = await _health(port)
        if status == want:
            return body
        assert time.monotonic() < deadline, f"/healthz stayed {status}: {body}"
        await asyncio.sleep(0.1)


async def test_socket_mode_health_follows_the_connection(
    seeds_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/healthz says whether the Socket Mode connection is up: a bot that cannot hear Slack is not healthy once
    the grace for reconnecting has passed, and is healthy again when the connection comes back."""
    monkeypatch.setattr("kbbot.server.runtime.SOCKET_GRACE_S", 1.0)
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET, app_token=APP_TOKEN) as standin:
        port = _free_port()
        settings = Settings(
            bot_token=TOKEN, app_token=APP_TOKEN, api_url=standin.api_url, index=seeds_index,
            store_url="memory://", host="127.0.0.1", port=port,
        )
        stop = asyncio.Event()
        server = asyncio.create_task(serve(settings, stop=stop))
        try:
            await standin.wait_for_socket(timeout=15)
            body = await _health_until(port, 200)
            assert body["mode"] == "socket" and body["socket"] == {"connected": True, "down_s": 0.0}

            await standin.drop_sockets(refuse=True)  # Slack unreachable: reconnecting fails
            body = await _health_until(port, 503)
            assert body["status"] == "unavailable"
            assert body["socket"]["connected"] is False and body["socket"]["down_s"] >= 1.0  # type: ignore[index]

            standin.accept_sockets()
            body = await _health_until(port, 200)
            assert body["socket"]["connected"] is True  # type: ignore[index]
            delivery, ts = await standin.mention(MAILBAG_ERROR)  # and it hears Slack again
            assert delivery.status == 200
            (post,) = await standin.wait_for("chat.postMessage", timeout=10)
            assert post.args["thread_ts"] == ts and "Q237695" in post.args["text"]
        finally:
            stop.set()
            assert await asyncio.wait_for(server, timeout=15) == 0


async def test_socket_mode_with_a_refused_app_token_is_a_config_error(seeds_index: Path) -> None:
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET, app_token=APP_TOKEN) as standin:
        settings = Settings(bot_token=TOKEN, app_token="xapp-1-revoked", api_url=standin.api_url,
                            index=seeds_index, store_url="memory://", host="127.0.0.1", port=0)
        with pytest.raises(ConfigError, match=r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)"):
            await asyncio.wait_for(serve(settings), timeout=15)


async def test_two_workers_share_the_port_answer_and_stop_together(seeds_index: Path, tmp_path: Path) -> None:
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
        port = _free_port()
        env = _env(
            SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.api_url,
            KBBOT_INDEX=str(seeds_index), KBBOT_STORE=f"sqlite:///{tmp_path / 'state.db'}",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kbbot", "serve", "--workers", "2", "--port", str(port), "--host", "127.0.0.1",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await _wait_healthy(port, proc)
            standin.events_url = f"http://127.0.0.1:{port}/slack/events"
            # several threads, so the kernel spreads them over both workers; each is answered exactly once
            threads = [(await standin.mention(MAILBAG_ERROR))[1] for _ in range(6)]
            posts = await standin.wait_for("chat.postMessage", count=6, timeout=15)
            assert sorted(p.args["thread_ts"] for p in posts) == sorted(threads)
            await standin.say("walk me through", thread_ts=threads[0])
            posts = await standin.wait_for("chat.postMessage", count=7, timeout=10)
            assert "Step 1 of 6" in posts[-1].args["text"]
            # /metrics is one view of both workers, whichever one a scrape reaches (each a new connection)
            await asyncio.sleep(SHARE_EVERY_S * 2)
            seen = []
            for _ in range(8):
                async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    seen.append(_sample(await resp.text(), 'kbbot_events_total{kind="app_mention"}'))
            assert seen == [6.0] * 8
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()[-2000:]


async def test_kb_reload_in_one_worker_reloads_every_worker(seeds_dir: Path, tmp_path: Path) -> None:
    """`/kb reload` reaches one worker; the others must not go on answering from the old index."""
    import shutil

    from kbbot.indexer import run_index

    articles, index = tmp_path / "kb", tmp_path / "index"
    articles.mkdir()
    for seed in sorted(seeds_dir.iterdir())[:3]:
        shutil.copy(seed, articles / seed.name)
    run_index([str(articles)], index, progress=False)
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
        port = _free_port()
        env = _env(
            SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.api_url,
            KBBOT_INDEX=str(index), KBBOT_STORE=f"sqlite:///{tmp_path / 'state.db'}",
            KBBOT_ADMIN_USERS=STANDIN_USER,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kbbot", "serve", "--workers", "2", "--port", str(port), "--host", "127.0.0.1",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        log: list[str] = []
        try:
            await _wait_healthy(port, proc)
            standin.events_url = f"http://127.0.0.1:{port}/slack/events"
            for seed in sorted(seeds_dir.iterdir()):
                shutil.copy(seed, articles / seed.name)
            run_index([str(articles)], index, progress=False)

            await standin.slash("/kb", "reload")
            (reply,) = await standin.wait_for("response_url", timeout=15)
            assert "Reloaded the knowledge base: 5 articles" in reply.args["text"]
            assert proc.stderr is not None
            deadline = time.monotonic() + 15
            # each worker loads the new index once; the one asked sees its own echo as unchanged
            while sum("index reloaded: 5 articles" in line for line in log) < 2 or not any(
                "index unchanged: 5 articles" in line for line in log
            ):
                assert time.monotonic() < deadline, "".join(log)[-3000:]
                line = await asyncio.wait_for(proc.stderr.readline(), timeout=deadline - time.monotonic())
                log.append(line.decode())
            await standin.slash("/kb", "Q237695")
            after = (await standin.wait_for("response_url", count=2, timeout=10))[-1]
            assert "Q237695: XFOR" in after.args["text"]
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()[-2000:]
        log.append(err.decode())
        assert sum("index reloaded: 5 articles" in line for line in log) == 2, "".join(log)[-3000:]


def test_workers_refuse_socket_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kbbot", "serve", "--workers", "2"],
        capture_output=True, text=True, timeout=30, check=False,
        env=_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_APP_TOKEN=APP_TOKEN),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kbbot: --workers needs HTTP mode; Socket Mode runs one process (unset SLACK_APP_TOKEN)"
    ]
