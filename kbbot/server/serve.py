"""`kbbot serve`: the bot against real Slack. Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode.

HTTP mode serves `POST /slack/events`, `GET /healthz` and `GET /metrics` on `--port` (default 3000). Socket Mode
needs no public URL; `/healthz` and `/metrics` are still served on the port for whoever runs the process.
SIGTERM (and Ctrl-C) stop accepting work, let answers in flight finish, then exit 0. SIGHUP reopens the index
(after `kbbot index` has rewritten it) without dropping a request.

`--workers N` (HTTP mode) runs N such processes on the one port (see workers.py). /healthz answers for whichever
worker the connection reached; /metrics for all of them (see MetricsShare in metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError

from kbbot.errors import ConfigError
from kbbot.logs import protect
from kbbot.server.http import EVENTS_PATH
from kbbot.server.metrics import MetricsShare
from kbbot.server.runtime import BotRuntime
from kbbot.server.workers import run_workers
from kbbot.settings import Settings

log = logging.getLogger(__name__)

GIL_SWITCH_S = 0.0002


# auth.test at start: how often to ask while Slack answers with a server error, and how long to wait between.
START_CHECK_WAITS_S = (1.0, 2.0, 4.0)


async def _check_token(runtime: BotRuntime) -> None:
    """Fail at start, with one clear line, when Slack refuses the token, or keeps answering auth.test with
    server errors; while Slack cannot be reached at all, only warn (it may be the network, not the token)."""
    api_url = runtime.settings.api_url
    attempts = len(START_CHECK_WAITS_S) + 1
    for attempt in range(1, attempts + 1):
        try:
            who = await runtime.client.auth_test()
        except SlackApiError as exc:
            status = int(exc.response.status_code or 0)
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else None
            if error and status < 500:
                raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({error})") from None
            what = f"HTTP {status}" + (f" ({error})" if error else ", not Slack's JSON")
        except (SlackClientError, OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("cannot reach Slack at %s yet (%s); carrying on", api_url, type(exc).__name__)
            return
        else:
            log.info("connected to Slack as %s in %s", who.get("user"), who.get("team"))
            return
        if attempt == attempts:
            raise ConfigError(f"Slack's auth.test at {api_url} kept failing ({what}) after {attempts} tries")
        wait_s = START_CHECK_WAITS_S[attempt - 1]
        log.warning("Slack's auth.test failed (%s); asking again in %.0fs (%d of %d)", what, wait_s, attempt,
                    attempts)
        await asyncio.sleep(wait_s)


async def _check_app_token(runtime: BotRuntime) -> None:
    """The Socket Mode client retries a refused app token forever; ask Slack once first and say why."""
    try:
        await runtime.client.apps_connections_open(app_token=runtime.settings.app_token or "")
    except SlackApiError as exc:
        raise ConfigError(f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')})") from None
    except (SlackClientError, OSError, TimeoutError) as exc:
        log.warning("cannot reach Slack for Socket Mode yet (%s); the client keeps trying", exc)


def _freeze_heap() -> None:
    """Move everything alive now (the index, the articles' lookup tables: millions of objects that live as long
    as the process) out of the garbage collector's sight, so its full collections under load stop scanning them
    over and over; a reload's new index is frozen in turn."""
    gc.collect()
    gc.freeze()


async def serve(
    settings: Settings, *, stop: asyncio.Event | None = None, reuse_port: bool = False,
    metrics_dir: Path | None = None,
) -> int:
    """Run until `stop` is set (SIGTERM/SIGINT set it). `metrics_dir`: a `serve --workers` process shares its
    counts there, so /metrics answers for every worker."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    # The event loop (acks, Slack calls, the store) shares the GIL with the worker thread working out answers.
    # With Python's default 5 ms switch interval, every socket send on the loop can wait up to 5 ms for a
    # search to let go of the GIL; measured with benchmarks/load.py, 0.2 ms raises answers per second by about
    # a tenth and cuts ack p99 by half or more.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_S)
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # not possible off the main thread or on a non-POSIX loop; Ctrl-C then ends the process the usual way
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)

    runtime = await BotRuntime.open(settings)
    if reuse_port:  # a `serve --workers` process: its siblings reload too (the first process passes SIGHUP on)
        parent = os.getppid()
        runtime.after_slack_reload = lambda: _ask_siblings_to_reload(parent)
    publisher: asyncio.Task[None] | None = None
    if metrics_dir is not None:
        share = MetricsShare(folder=metrics_dir, metrics=runtime.metrics, name=f"pid-{os.getpid()}")
        runtime.metrics_share = share
        publisher = asyncio.create_task(share.publish_until(stop))
    _freeze_heap()
    reloads: set[asyncio.Task[int | None]] = set()

    def reload() -> None:
        # `systemctl reload kbbot` after `kbbot index`: new answers come from the new index, nobody waits
        task = asyncio.ensure_future(runtime.reload_index())
        task.add_done_callback(lambda _task: _freeze_heap())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, reload)
        handled.append(signal.SIGHUP)
    socket_handler = None
    runner: web.AppRunner | None = None
    try:
        await _check_token(runtime)
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            await _check_app_token(runtime)
            socket_handler = AsyncSocketModeHandler(runtime.app, app_token=settings.app_token)
            await socket_handler.connect_async()
            runtime.socket_connected = socket_handler.client.is_connected
            runner, port = await runtime.start_http(host=settings.host, port=settings.port, with_events=False)
            log.info("Socket Mode connected; /healthz and /metrics on %s:%d", settings.host, port)
        else:
            runner, port = await runtime.start_http(host=settings.host, port=settings.port, reuse_port=reuse_port)
            log.info("HTTP mode: Slack requests on http://%s:%d%s", settings.host, port, EVENTS_PATH)
        await stop.wait()
        log.info("stopping: finishing answers in flight")
    finally:
        if socket_handler is not None:
            runtime.socket_connected = None
            await socket_handler.close_async()
        if runner is not None:
            await runner.cleanup()  # stops accepting; requests already being acked finish
        await runtime.close()
        if publisher is not None:
            stop.set()
            await publisher  # the last counts, answers drained included, for the workers still scraped
        for sig in handled:
            loop.remove_signal_handler(sig)
        sys.setswitchinterval(switch_interval)
    return 0


def _ask_siblings_to_reload(parent: int) -> None:
    """After `/kb reload` in one worker: SIGHUP to the first process, which passes it on to every worker (this one
    included; it finds the index it has just loaded unchanged and skips it)."""
    if os.getppid() != parent:  # the first process has gone; nobody to pass it on
        return
    try:
        os.kill(parent, signal.SIGHUP)
    except OSError as exc:
        log.warning("could not ask the other workers to reload the index: %s", exc)
    else:
        log.info("asked the other workers to reload the index")


def run_serve(*, index: Path | None = None, config: Path | None = None, port: int | None = None,
              host: str | None = None, workers: int = 1) -> int:
    """`kbbot serve`. A missing token is a ConfigError, which the CLI prints as one line and exits 2."""
    settings = Settings.from_env(os.environ, config=config).with_overrides(index=index, port=port, host=host)
    settings.require_slack()
    protect(settings.bot_token, settings.signing_secret, settings.app_token)
    if workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {workers}")
    if workers > 1:
        if settings.socket_mode:
            raise ConfigError("--workers needs HTTP mode; Socket Mode runs one process (unset SLACK_APP_TOKEN)")
        if not settings.port:
            raise ConfigError("--workers needs a fixed --port (port 0 would give each worker a different one)")
        return run_workers(settings, workers, run_one=_run_one)
    return _run_one(settings)


def _run_one(settings: Settings, *, reuse_port: bool = False, metrics_dir: Path | None = None) -> int:
    try:
        return asyncio.run(serve(settings, reuse_port=reuse_port, metrics_dir=metrics_dir))
    except KeyboardInterrupt:
        return 130
