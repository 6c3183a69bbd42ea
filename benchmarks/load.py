"""Load benchmark: signed Slack events into one `kbbot serve` process over loopback, Slack's Web API stood in.

    nice python benchmarks/load.py --index INDEX --queries dev.jsonl [--rate 200] [--duration 20] [--store sqlite]
                                   [--workers 1]

What runs: a `kbbot serve` subprocess in HTTP mode on the full-corpus index (`--workers N`: N serving processes
on its port), its store (SQLite file by default; `--store redis` starts a redis-server on loopback), and, in this
process, the Slack stand-in (the Web API the bot
posts its answers to) and the load generator. Every event is a new question (an app_mention in a new thread,
from one of 1,000 people, text from the eval questions), so each one costs a store claim, a flood count, a
search, a card and a chat.postMessage. A share of the events (`--retries`) is delivered a second time as a Slack
retry (same event_id, X-Slack-Retry-Num: 1), which must not produce a second answer.

Phases, all bounded (a fixed number of requests, loopback only):
1. open loop at --rate events/s for --duration s: events per second sustained (acked, and answered), ack
   latency p50/p99 (request sent -> HTTP 200), reply latency p50/p99 (request sent -> the answer reaches the
   stand-in), and the check that every event was answered exactly once;
2. capacity: --concurrency requests in flight, each slot sending its next event when its answer has arrived;
   the end-to-end events per second one process can answer;
3. the same run's baselines: a bare aiohttp server that only acks (same client, same open-loop rate, same
   capacity loop), and the stand-in's own round trip (one chat.postMessage from this process). Figures are
   reported beside kbbot's as ratios.

Target on a 2-core machine: >= 200 events/s sustained with ack p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector
from paths import path_option, require  # benchmarks/paths.py (run as scripts from benchmarks/)

from kbbot.standin import STANDIN_BOT_USER, STANDIN_CHANNEL, SlackStandIn, event_callback, signed_headers

TOKEN = "xoxb-load-benchmark"
SECRET = "load-benchmark-signing-secret"
PEOPLE = 1000

# The baseline: the least an HTTP endpoint can do with a Slack event (read it, answer 200), same framework.
ECHO_SERVER = """
import sys
from aiohttp import web

async def events(request):
    await request.read()
    return web.Response(text="")

app = web.Application()
app.router.add_post("/slack/events", events)
app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _ms(values: list[float], q: float) -> float:
    return round(_pct(values, q) * 1000, 1)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process and its live children (the --workers) have used so far; NaN
    where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return float("nan")
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_s(int(child)) for child in children)


def _questions(path: Path) -> list[str]:
    if path.exists():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [str(r["query"]) for r in rows if r.get("query")]
    return ["[008] Failure delivering user mail due to mailbag contention", "exchange IMC stops with error 2140"]


class RecordingStandIn(SlackStandIn):
    """The stand-in, plus a future per thread resolved when the bot's first answer in it arrives."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answered_at: dict[str, float] = {}
        self.answers: Counter[str] = Counter()
        self.waiters: dict[str, asyncio.Future[float]] = {}

    def _keep_bot_message(self, channel: str, args: Any, **extra: Any) -> dict[str, Any]:
        # the answers are counted, not kept: thousands of cards would only cost this process memory and time
        return {"channel": channel, "ts": self._next_ts(), "text": "", **extra}

    def _record(self, method: str, args: dict[str, Any]) -> None:
        if method != "chat.postMessage":
            super()._record(method, args)
            return
        thread = str(args.get("thread_ts") or "")
        now = time.monotonic()
        self.answers[thread] += 1
        self.answered_at.setdefault(thread, now)
        waiter = self.waiters.pop(thread, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)


@dataclass
class Event:
    thread_ts: str
    body: str
    sent_at: float = 0.0
    acked_at: float = 0.0
    status: int = 0
    retry: bool = False


@dataclass
class Run:
    name: str
    events: list[Event] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    errors: int = 0


def _events(n: int, questions: list[str], *, seed: int) -> list[Event]:
    rng = random.Random(seed)
    base = 1_700_000_000 + seed * 10_000_000
    events = []
    for i in range(n):
        ts = f"{base + i}.{rng.randrange(1_000_000):06d}"
        inner = {
            "type": "app_mention",
            "user": f"U{rng.randrange(PEOPLE):07d}",
            "text": f"<@{STANDIN_BOT_USER}> {rng.choice(questions)}",
            "ts": ts,
            "channel": STANDIN_CHANNEL,
            "event_ts": ts,
        }
        events.append(Event(thread_ts=ts, body=json.dumps(event_callback(inner, event_id=f"EvLoad{seed}x{i}"))))
    return events


async def _post(http: ClientSession, url: str, event: Event, *, retry: bool = False) -> None:
    headers = signed_headers(
        event.body, secret=SECRET, content_type="application/json", retry_num=1 if retry else None
    )
    started = time.monotonic()
    try:
        async with http.post(url, data=event.body.encode(), headers=headers) as resp:
            await resp.read()
            status = resp.status
    except (ClientError, TimeoutError):
        status = 0
    if not retry:
        event.sent_at, event.acked_at, event.status = started, time.monotonic(), status


async def open_loop(
    http: ClientSession,
    url: str,
    events: list[Event],
    *,
    rate: float,
    max_inflight: int,
    retry_share: float,
    name: str,
) -> Run:
    """Send `events` on a fixed schedule (rate per second), whatever the answers do; at most `max_inflight`
    requests are outstanding, so an overloaded server slows the schedule rather than the client's memory."""
    run = Run(name=name, events=events)
    slots = asyncio.Semaphore(max_inflight)
    tasks: list[asyncio.Task[None]] = []
    rng = random.Random(7)

    async def one(event: Event) -> None:
        try:
            await _post(http, url, event)
            if rng.random() < retry_share:  # Slack retrying an event it thinks timed out
                event.retry = True
                await _post(http, url, event, retry=True)
        finally:
            slots.release()

    run.started = time.monotonic()
    for i, event in enumerate(events):
        delay = run.started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        tasks.append(asyncio.create_task(one(event)))
    await asyncio.gather(*tasks)
    run.finished = time.monotonic()
    run.errors = sum(1 for e in events if e.status != 200)
    return run


async def capacity(
    http: ClientSession,
    url: str,
    events: list[Event],
    *,
    concurrency: int,
    answered: Callable[[Event], Awaitable[None]] | None,
) -> float:
    """Events per second with `concurrency` slots, each sending its next event once the last one is done (acked,
    and answered when `answered` waits for that)."""
    queue = list(reversed(events))

    async def slot() -> None:
        while queue:
            event = queue.pop()
            await _post(http, url, event)
            if answered is not None:
                await answered(event)

    started = time.monotonic()
    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return len(events) / (time.monotonic() - started)


async def _wait_healthy(http: ClientSession, base: str, proc: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{base}: the server exited with {proc.returncode}")
        with contextlib.suppress(ClientError, TimeoutError):
            async with http.get(f"{base}/healthz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise SystemExit(f"{base}: not healthy within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _standin_round_trip(http: ClientSession, standin: SlackStandIn, n: int) -> list[float]:
    """The stand-in's own round trip for one chat.postMessage, as the bot's client makes it."""
    times = []
    for i in range(n):
        started = time.monotonic()
        async with http.post(
            f"{standin.api_url}chat.postMessage",
            json={"channel": STANDIN_CHANNEL, "text": f"rtt {i}", "thread_ts": "1.000001"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as resp:
            await resp.read()
        times.append(time.monotonic() - started)
    return times


def _summary(run: Run, standin: RecordingStandIn | None) -> dict[str, Any]:
    acks = [e.acked_at - e.sent_at for e in run.events if e.status == 200]
    out: dict[str, Any] = {
        "events": len(run.events),
        "ack_errors": run.errors,
        "events_per_s_acked": round(len(run.events) / (run.finished - run.started), 1),
        "ack_p50_ms": _ms(acks, 50),
        "ack_p99_ms": _ms(acks, 99),
    }
    if standin is not None:
        replies = [
            standin.answered_at[e.thread_ts] - e.sent_at for e in run.events if e.thread_ts in standin.answered_at
        ]
        last = max((standin.answered_at.get(e.thread_ts, 0.0) for e in run.events), default=run.finished)
        lost = [e.thread_ts for e in run.events if standin.answers[e.thread_ts] == 0]
        twice = [e.thread_ts for e in run.events if standin.answers[e.thread_ts] > 1]
        out |= {
            "events_per_s_answered": round((len(run.events) - len(lost)) / (last - run.started), 1),
            "reply_p50_ms": _ms(replies, 50),
            "reply_p99_ms": _ms(replies, 99),
            "retries_sent": sum(1 for e in run.events if e.retry),
            "lost": len(lost),
            "answered_twice": len(twice),
        }
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    questions = _questions(args.queries)
    workdir = Path(tempfile.mkdtemp(prefix="kbbot-load-"))
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {
        "index": str(args.index),
        "store": args.store,
        "rate": args.rate,
        "duration_s": args.duration,
        "workers": args.workers,
        "cpus": os.cpu_count(),
    }
    try:
        async with RecordingStandIn(token=TOKEN, signing_secret=SECRET) as standin:
            store = {"memory": "memory://", "sqlite": f"sqlite:///{workdir / 'state.db'}"}.get(args.store)
            if args.store == "redis":
                port = _free_port()
                binary = shutil.which("redis-server") or "/usr/bin/redis-server"
                procs.append(
                    subprocess.Popen(
                        [
                            binary,
                            "--port",
                            str(port),
                            "--bind",
                            "127.0.0.1",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--dir",
                            str(workdir),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                store = f"redis://127.0.0.1:{port}/0"
            bot_port = _free_port()
            env = {
                **os.environ,
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": standin.api_url,
                "KBBOT_INDEX": str(args.index),
                "KBBOT_STORE": str(store),
            }
            env.pop("SLACK_APP_TOKEN", None)
            log = (workdir / "kbbot.log").open("wb")
            # --profile-bot: cProfile of the bot's event-loop thread (the engine's worker thread is not in it)
            profile = ["-m", "cProfile", "-o", str(args.profile_bot)] if args.profile_bot else []
            bot = subprocess.Popen(
                [sys.executable, *profile, "-m", "kbbot", "serve", "--port", str(bot_port), "--host", "127.0.0.1",
                 "--workers", str(args.workers)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            procs.append(bot)
            echo_port = _free_port()
            echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(echo_port)])
            procs.append(echo)

            connector = TCPConnector(limit=args.max_inflight, force_close=False)
            async with ClientSession(connector=connector, timeout=ClientTimeout(total=30)) as http:
                bot_base, echo_base = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{echo_port}"
                await _wait_healthy(http, bot_base, bot, timeout=120)
                await _wait_healthy(http, echo_base, echo, timeout=30)
                bot_url, echo_url = f"{bot_base}/slack/events", f"{echo_base}/slack/events"
                n = int(args.rate * args.duration)

                # warm-up: connections, the bot's auth.test, the page cache under the index
                warm = _events(200, questions, seed=1)
                await open_loop(
                    http, bot_url, warm, rate=100, max_inflight=args.max_inflight, retry_share=0, name="warm-up"
                )
                await _answers(standin, warm, timeout=60)

                cpu_before = _cpu_s(bot.pid)
                run = await open_loop(
                    http,
                    bot_url,
                    _events(n, questions, seed=2),
                    rate=args.rate,
                    max_inflight=args.max_inflight,
                    retry_share=args.retries,
                    name="kbbot",
                )
                await _answers(standin, run.events, timeout=120)
                await asyncio.sleep(1.0)  # a second answer to any event would arrive within this
                results["kbbot_open_loop"] = _summary(run, standin)
                # the bot's CPU per event (its own process, every thread): what bounds one process's capacity
                results["kbbot_open_loop"]["bot_cpu_ms_per_event"] = round(
                    (_cpu_s(bot.pid) - cpu_before) * 1000 / len(run.events), 2
                )

                async def answered(event: Event) -> None:
                    if event.thread_ts in standin.answered_at:
                        return
                    waiter = standin.waiters.setdefault(
                        event.thread_ts, asyncio.get_running_loop().create_future()
                    )
                    await asyncio.wait_for(waiter, timeout=60)

                cap_events = _events(args.capacity_events, questions, seed=3)
                results["kbbot_capacity_events_per_s"] = round(
                    await capacity(http, bot_url, cap_events, concurrency=args.concurrency, answered=answered), 1
                )

                echo_run = await open_loop(
                    http,
                    echo_url,
                    _events(n, questions, seed=4),
                    rate=args.rate,
                    max_inflight=args.max_inflight,
                    retry_share=0,
                    name="echo",
                )
                results["echo_open_loop"] = _summary(echo_run, None)
                results["echo_capacity_events_per_s"] = round(
                    await capacity(
                        http,
                        echo_url,
                        _events(args.capacity_events, questions, seed=5),
                        concurrency=args.concurrency,
                        answered=None,
                    ),
                    1,
                )
                rtt = await _standin_round_trip(http, standin, 300)
                results["standin_round_trip_p50_ms"] = _ms(rtt, 50)
                results["standin_round_trip_p99_ms"] = _ms(rtt, 99)
                async with http.get(f"{bot_base}/metrics") as resp:
                    metrics = await resp.text()
                results["kbbot_duplicate_events_total"] = _metric(metrics, "kbbot_duplicate_events_total")
    finally:
        for proc in reversed(procs):
            _stop(proc)
        log_text = (workdir / "kbbot.log").read_text(errors="replace") if (workdir / "kbbot.log").exists() else ""
        results["bot_log_errors"] = sum(1 for line in log_text.splitlines() if " ERROR " in line)
        shutil.rmtree(workdir, ignore_errors=True)

    k, e = results["kbbot_open_loop"], results["echo_open_loop"]
    results["ratios"] = {
        "ack_p99_kbbot_over_echo": round(k["ack_p99_ms"] / max(e["ack_p99_ms"], 0.1), 2),
        "capacity_kbbot_over_echo": round(
            results["kbbot_capacity_events_per_s"] / results["echo_capacity_events_per_s"], 3
        ),
        "reply_p50_over_standin_round_trip": round(
            k["reply_p50_ms"] / max(results["standin_round_trip_p50_ms"], 0.1), 1
        ),
    }
    # "Sustained" = answered as fast as offered: a run's measured rate is n / (schedule + the last reply), a
    # hair under the offered rate even when nothing queues, hence the 2% allowance.
    results["sustained_events_per_s"] = (
        args.rate
        if k["events_per_s_answered"] >= 0.98 * args.rate and k["reply_p99_ms"] < 1000
        else k["events_per_s_answered"]
    )
    results["target_met"] = bool(
        results["sustained_events_per_s"] >= 200
        and k["ack_p99_ms"] <= 100
        and k["lost"] == 0
        and k["answered_twice"] == 0
        and k["ack_errors"] == 0
    )
    return results


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


async def _answers(standin: RecordingStandIn, events: list[Event], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(e.thread_ts not in standin.answered_at for e in events) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    path_option(parser, "--index", "KBBOT_BENCH_INDEX", "a full-corpus index (`kbbot index SOURCE --out INDEX`)")
    path_option(parser, "--queries", "KBBOT_BENCH_QUERIES", "the question file")
    parser.add_argument("--store", choices=("sqlite", "redis", "memory"), default="sqlite")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop events per second")
    parser.add_argument("--duration", type=float, default=20.0, help="open-loop seconds")
    parser.add_argument("--retries", type=float, default=0.05, help="share of events delivered twice")
    parser.add_argument("--max-inflight", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=32, help="slots in the capacity phase")
    parser.add_argument("--capacity-events", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1, help="`kbbot serve --workers`: processes on the port")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--profile-bot", type=Path, default=None, help="write a cProfile of the bot here")
    args = parser.parse_args()
    require(parser, args, "--index", "--queries")
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results))
        return 0 if results["target_met"] else 1
    k, e = results["kbbot_open_loop"], results["echo_open_loop"]
    print(
        f"kbbot serve --workers {results['workers']}, {results['store']} store, index {results['index']}, "
        f"{results['cpus']} CPUs"
    )
    print(
        f"open loop at {args.rate:.0f}/s for {args.duration:.0f}s ({k['events']} events, "
        f"{k['retries_sent']} redelivered as retries):"
    )
    print(
        f"  acked     {k['events_per_s_acked']:7.1f} events/s   ack p50 {k['ack_p50_ms']} ms, p99 "
        f"{k['ack_p99_ms']} ms   ({k['ack_errors']} not 200)"
    )
    print(
        f"  answered  {k['events_per_s_answered']:7.1f} events/s   reply p50 {k['reply_p50_ms']} ms, p99 "
        f"{k['reply_p99_ms']} ms"
    )
    print(
        f"  lost {k['lost']}, answered twice {k['answered_twice']}, duplicates caught "
        f"{results['kbbot_duplicate_events_total']:.0f}{' (one worker)' if args.workers > 1 else ''}, "
        f"ERROR log lines {results['bot_log_errors']}"
    )
    print(f"  bot CPU {k['bot_cpu_ms_per_event']} ms per event (user + system, all its threads and workers)")
    print(
        f"capacity ({args.concurrency} in flight, each waits for its answer): "
        f"{results['kbbot_capacity_events_per_s']} events/s"
    )
    print("same-run baselines:")
    print(
        f"  bare aiohttp ack server: open loop ack p50 {e['ack_p50_ms']} ms, p99 {e['ack_p99_ms']} ms; "
        f"capacity {results['echo_capacity_events_per_s']} events/s"
    )
    print(
        f"  stand-in round trip (one chat.postMessage): p50 {results['standin_round_trip_p50_ms']} ms, "
        f"p99 {results['standin_round_trip_p99_ms']} ms"
    )
    r = results["ratios"]
    print(
        f"ratios: ack p99 kbbot/echo {r['ack_p99_kbbot_over_echo']}x; capacity kbbot/echo "
        f"{r['capacity_kbbot_over_echo']}; reply p50 / stand-in round trip "
        f"{r['reply_p50_over_standin_round_trip']}x"
    )
    print(
        f"sustained: {results['sustained_events_per_s']} events/s (answered as fast as offered, reply p99 < 1 s)"
    )
    print(
        f"target (>= 200 events/s sustained, ack p99 <= 100 ms, none lost or doubled): "
        f"{'MET' if results['target_met'] else 'MISSED'}"
    )
    return 0 if results["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
