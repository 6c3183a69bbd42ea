"""Assembling a running bot from `Settings`, shared by `kbbot serve` and `kbbot chat` (one code path for both).

    settings ─► index (KnowledgeBase + SearchEngine) ─► Conversation ─┐
             ─► thread store ─────────────────────────────────────────┼─► build_app() ─► aiohttp: /slack/events
             ─► AsyncWebClient (SLACK_API_URL) ───────────────────────┘                          /healthz
                                                                                                  /metrics
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from kbbot.conversation.engine import Conversation, ConversationSettings, Searcher, Turn, UserTurn
from kbbot.conversation.intents import IntentSet
from kbbot.conversation.replies import Reply, StepReply
from kbbot.conversation.state import ThreadState
from kbbot.errors import IndexFolderError
from kbbot.kb import KnowledgeBase
from kbbot.kb import index_stamp as folder_stamp
from kbbot.locate import builtin_intents_dir
from kbbot.outcomes import OutcomeRecorder, OutcomeStore, open_outcome_store
from kbbot.outcomes.learn import LearnedRanking, LearningSearch, Lessons
from kbbot.search import SearchEngine
from kbbot.search.types import SearchContext, SearchResult
from kbbot.server.metrics import Metrics, MetricsShare
from kbbot.settings import Settings
from kbbot.slack.app import InFlight, build_app, make_client
from kbbot.slack.poster import WEB_API_TIMEOUT_S
from kbbot.store import ThreadStore, open_store

log = logging.getLogger(__name__)

# How long a stopping server waits for answers still being worked on (Slack has long had its ack by then).
DRAIN_S = 10.0
# How often the search's lessons are rebuilt from the thread outcomes (a few ms for a few thousand threads).
LEARN_EVERY_S = 300.0
# Without a configured escalation channel the summary stays in the thread, for whoever watches the channel.
# Slack closes Socket Mode connections now and then and the client opens a new one within seconds; only a
# connection down for longer than this (Slack unreachable, the app token revoked) makes /healthz fail, so an
# orchestrator restarts a bot that hears nothing rather than one that is reconnecting
SOCKET_GRACE_S = 30.0

IN_THREAD_TARGET = "the people in this channel"


class TimedSearch:
    """The engine's searcher, with search latency and confidence bands counted on the way through, and the
    configured confidence floors applied. The floors only make kbbot more careful than the search model's own
    calibrated bands: an answer below `answer_min` becomes a shortlist, anything below `shortlist_min` "I don't
    know". Raising them is a deployment's call (a team that would rather be asked than be wrong)."""

    def __init__(
        self,
        *,
        inner: Searcher,
        metrics: Metrics,
        answer_min: float | None = None,
        shortlist_min: float | None = None,
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._answer_min = answer_min
        self._shortlist_min = shortlist_min

    def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult:
        started = time.perf_counter()
        result = self._floored(self._inner.search(text, limit=limit, context=context))
        self._metrics.search_latency.observe(time.perf_counter() - started)
        if result.band == "none" or not result.hits:
            self._metrics.no_match.inc()
        else:
            self._metrics.answers.inc(band=result.band)
        return result

    def _floored(self, result: SearchResult) -> SearchResult:
        band = result.band
        if band == "answer" and self._answer_min is not None and result.confidence < self._answer_min:
            band = "shortlist"
        if band != "none" and self._shortlist_min is not None and result.confidence < self._shortlist_min:
            band = "none"
        return result if band == result.band else dataclasses.replace(result, band=band)


def _conversation(
    kb: KnowledgeBase,
    engine: SearchEngine,
    intents: IntentSet,
    metrics: Metrics,
    escalation_target: str,
    settings: Settings,
    lessons: Lessons,
) -> Conversation:
    inner: Searcher = LearningSearch(inner=engine, lessons=lessons) if settings.learn_from_outcomes else engine
    search = TimedSearch(
        inner=inner,
        metrics=metrics,
        answer_min=settings.answer_min_confidence,
        shortlist_min=settings.shortlist_min_confidence,
    )
    return Conversation(
        kb=kb,
        search=search,
        intents=intents,
        settings=ConversationSettings(escalation_target=escalation_target),
        sections=engine.section_scores,
    )


class CurrentConversation:
    """The conversation the listeners talk to, swapped whole when the index is reloaded (SIGHUP): a turn that
    is under way finishes on the index it started with."""

    def __init__(self, conversation: Conversation) -> None:
        self._current = conversation

    def swap(self, conversation: Conversation) -> None:
        self._current = conversation

    def handle(self, state: ThreadState | None, turn: UserTurn, *, now: float) -> Turn:
        return self._current.handle(state, turn, now=now)

    def lookup(self, text: str, *, user: str) -> Reply:
        return self._current.lookup(text, user=user)

    def share(self, article_id: str, *, user: str, now: float) -> Turn:
        return self._current.share(article_id, user=user, now=now)

    def step_shown(self, state: ThreadState | None) -> StepReply | None:
        return self._current.step_shown(state)


async def _load_index(settings: Settings) -> tuple[Path, KnowledgeBase, SearchEngine]:
    # Imported here: building the default index pulls in the parsers, which only start-up needs.
    from kbbot.locate import open_index, resolve_index

    index_dir = await asyncio.to_thread(resolve_index, settings)
    kb, engine = await asyncio.to_thread(open_index, index_dir)
    return index_dir, kb, engine


@dataclass(slots=True)
class BotRuntime:
    settings: Settings
    kb: KnowledgeBase
    store: ThreadStore
    app: AsyncApp
    client: AsyncWebClient
    metrics: Metrics
    index_dir: Path
    inflight: InFlight
    conversation: CurrentConversation
    intents: IntentSet
    escalation_target: str
    owned_session: ClientSession | None = None
    # Socket Mode: whether the connection to Slack is up (set by `serve` once connected); None in HTTP mode
    socket_connected: Callable[[], Awaitable[bool]] | None = None
    socket_down_since: float | None = None
    # which build of the index folder is loaded (`reload_index` skips a reload that would load the same one)
    index_stamp: tuple[Any, ...] | None = None
    # after a `/kb reload` from Slack (not a SIGHUP): tell the other `serve --workers` processes (set by serve)
    after_slack_reload: Callable[[], None] | None = None
    # `serve --workers`: this worker's counts published for the others, and theirs added to /metrics
    metrics_share: MetricsShare | None = None
    outcomes: OutcomeStore | None = None
    # what past threads taught the search (rebuilt every LEARN_EVERY_S from the outcome store), and that loop
    lessons: Lessons = field(default_factory=Lessons)
    learning_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, settings: Settings, *, client: AsyncWebClient | None = None) -> BotRuntime:
        started = time.perf_counter()
        index_dir, kb, engine = await _load_index(settings)
        intents = IntentSet.load(settings.intents or builtin_intents_dir())
        # before any connection is made: opening does not connect, and a missing redis extra fails here cleanly
        store = open_store(settings.store_url, thread_ttl_s=settings.thread_ttl_s)
        metrics = Metrics()
        owned_session: ClientSession | None = None
        if client is None:
            client = make_client(settings)
            # one keep-alive session for every Web API call; left to itself the client opens (and closes) a new
            # connection per call, which under load costs more than the call
            owned_session = client.session = ClientSession(timeout=ClientTimeout(total=WEB_API_TIMEOUT_S))
        target = await _escalation_target(client, settings.escalation_channel)
        lessons = Lessons()
        conversation = CurrentConversation(_conversation(kb, engine, intents, metrics, target, settings, lessons))
        # each thread's outcome, beside its state in the same store (memory, SQLite file, Redis)
        outcomes = open_outcome_store(settings.store_url, retention_days=settings.outcome_retention_days)
        recorder = OutcomeRecorder(store=outcomes, question_text=settings.question_text)
        inflight = InFlight()
        # `/kb reload` needs the runtime, which needs the app: the listener reaches it through this holder
        holder: list[BotRuntime] = []

        async def reload_index() -> int | None:
            if not holder:
                return None
            articles = await holder[0].reload_index()
            if articles is not None and holder[0].after_slack_reload is not None:
                holder[0].after_slack_reload()
            return articles

        app = build_app(
            settings=settings, conversation=conversation, store=store, client=client, metrics=metrics,
            inflight=inflight, reload_index=reload_index, outcomes=recorder,
        )
        log.info(
            "kbbot ready: %d articles from %s, %s store, in %.2fs",
            len(kb), index_dir, urlsplit(settings.store_url).scheme, time.perf_counter() - started,
        )
        runtime = cls(settings=settings, kb=kb, store=store, app=app, client=client, metrics=metrics,
                      index_dir=index_dir, inflight=inflight, conversation=conversation, intents=intents,
                      escalation_target=target, owned_session=owned_session, outcomes=outcomes,
                      lessons=lessons)
        runtime.index_stamp = folder_stamp(index_dir)
        if settings.learn_from_outcomes:
            runtime.learning_task = asyncio.create_task(runtime._keep_learning(), name="kbbot-learning")
        holder.append(runtime)
        return runtime

    async def reload_index(self) -> int | None:
        """Open the index again (after `kbbot index` rewrote it) and answer from it from now on; on failure
        keep answering from the one already loaded. The old index is left to the garbage collector rather
        than closed, because a turn started a moment ago may still be reading it. Returns the new article
        count, or None when the reload failed. An index folder that has not been rebuilt since it was loaded is
        not loaded again (several workers may be told to reload by one `/kb reload`, the asking one twice)."""
        from kbbot.locate import resolve_index

        try:
            index_dir = await asyncio.to_thread(resolve_index, self.settings)
            stamp = await asyncio.to_thread(folder_stamp, index_dir)
            if stamp is not None and index_dir == self.index_dir and stamp == self.index_stamp:
                self.metrics.reloads.inc(result="unchanged")
                log.info("index unchanged: %d articles from %s; nothing to reload", len(self.kb), index_dir)
                return len(self.kb)
            index_dir, kb, engine = await _load_index(self.settings)
        except IndexFolderError as exc:  # a damaged or half-written index: the message names the file
            log.error("index reload failed: %s; still answering from %s", exc, self.index_dir)
            self.metrics.reloads.inc(result="failed")
            return None
        except Exception:
            log.exception("index reload failed; still answering from %s", self.index_dir)
            self.metrics.reloads.inc(result="failed")
            return None
        self.conversation.swap(
            _conversation(kb, engine, self.intents, self.metrics, self.escalation_target, self.settings,
                          self.lessons)
        )
        # the stamp read before loading: a rebuild that lands meanwhile makes the next reload load again
        self.kb, self.index_dir, self.index_stamp = kb, index_dir, stamp
        self.metrics.reloads.inc(result="ok")
        log.info("index reloaded: %d articles from %s", len(kb), index_dir)
        return len(kb)

    async def learn_now(self, *, now: float | None = None) -> int:
        """Rebuild what the search learned from the outcomes of the retention period; the evidence count."""
        if self.outcomes is None:
            return 0
        at = time.time() if now is None else now
        records = await self.outcomes.list(since=at - self.settings.outcome_retention_days * 86400.0)
        ranking = await asyncio.to_thread(LearnedRanking.from_outcomes, records)
        self.lessons.ranking = ranking
        return len(ranking)

    async def _keep_learning(self) -> None:
        while True:
            try:
                learned = await self.learn_now()
                log.debug("search learned from %d pieces of thread evidence", learned)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bookkeeping: the bot answers on with what it learned before
                log.warning("could not learn from thread outcomes: %s", exc)
            await asyncio.sleep(LEARN_EVERY_S)

    async def close(self, *, drain_s: float = DRAIN_S) -> None:
        """Let answers being worked on finish (Slack has had its ack), then let go of the store and index."""
        if self.learning_task is not None:
            self.learning_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.learning_task
        late = await self.inflight.drain(timeout=drain_s)
        if late:
            log.warning("stopped with %d answer(s) unfinished", late)
        await self.store.close()
        if self.outcomes is not None:
            await self.outcomes.close()
        if self.owned_session is not None:
            await self.owned_session.close()
        self.kb.close()

    # ---- HTTP

    async def health(self) -> tuple[bool, dict[str, Any]]:
        index_ok = len(self.kb) > 0
        store: dict[str, Any] = {"backend": urlsplit(self.settings.store_url).scheme, "ok": True}
        try:
            await asyncio.wait_for(self.store.ping(), timeout=2.0)
        except Exception as exc:  # any failure to answer is "unhealthy", whatever the backend raised
            store.update(ok=False, error=str(exc) or type(exc).__name__)
        ok = index_ok and bool(store["ok"])
        details: dict[str, Any] = {
            "index": {"loaded": index_ok, "articles": len(self.kb)},
            "store": store,
            "mode": "socket" if self.settings.socket_mode else "http",
        }
        if self.socket_connected is not None:
            socket_ok, details["socket"] = await self._socket_health()
            ok = ok and socket_ok
        return ok, {"status": "ok" if ok else "unavailable", **details}

    async def _socket_health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the Socket Mode connection is up, or has been down for less than SOCKET_GRACE_S."""
        assert self.socket_connected is not None
        try:
            connected = bool(await asyncio.wait_for(self.socket_connected(), timeout=2.0))
        except Exception:  # a client that cannot say is not a connected one
            log.exception("cannot tell whether the Socket Mode connection is up")
            connected = False
        now = time.monotonic()
        if connected:
            self.socket_down_since = None
        elif self.socket_down_since is None:
            self.socket_down_since = now
        down_s = 0.0 if self.socket_down_since is None else now - self.socket_down_since
        return connected or down_s < SOCKET_GRACE_S, {"connected": connected, "down_s": round(down_s, 1)}

    async def start_http(
        self, *, host: str, port: int, with_events: bool = True, reuse_port: bool = False
    ) -> tuple[web.AppRunner, int]:
        """Serve the web app; returns the runner (for cleanup) and the port actually bound (port 0 picks one).
        `reuse_port`: share the port with the other `kbbot serve --workers` processes."""
        from kbbot.server.http import web_app  # the routes need the runtime; the runtime only needs them here

        runner = web.AppRunner(web_app(self, with_events=with_events), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        return runner, int(runner.addresses[0][1])


async def _escalation_target(client: AsyncWebClient, channel: str | None) -> str:
    """How the thread names where a hand-over went: "#it-helpdesk" when Slack tells us the channel's name."""
    if not channel:
        return IN_THREAD_TARGET
    try:
        info = await client.conversations_info(channel=channel)
        name = (info.get("channel") or {}).get("name")
    except (TimeoutError, SlackApiError, SlackClientError, OSError) as exc:
        log.warning("cannot look up the escalation channel %s: %s", channel, exc)
        name = None
    return f"#{name}" if name else "the support team"

