"""The Slack adapter: a bolt `AsyncApp` whose listeners turn Slack requests into conversation turns.

    Slack ──signed request──► AsyncApp: verify, ack at once ──► listener, after the ack
                                                                 ├─ dedupe: store.claim_delivery(...)
                                                                 ├─ flood limit: store.hit_rate(team:user)
                                                                 ├─ store.transact(thread, conversation.handle)
                                                                 ├─ blocks.render(reply): Block Kit, sealed buttons
                                                                 └─ SlackPoster: postMessage, reactions, ...

Only this package imports slack_bolt. The conversation engine is pure; this module owns what touches Slack:
who is answered, which thread a request belongs to, and what happens when Slack says no. `build_app()`
registers every listener before anything starts, and importing this module does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from kbbot.conversation import messages as wording
from kbbot.conversation.engine import Escalation, Origin, Turn, UserTurn
from kbbot.conversation.replies import Action, NoticeReply, Reply, StepReply
from kbbot.conversation.state import ThreadEvent, ThreadKey, ThreadState
from kbbot.errors import StoreError
from kbbot.logs import current_thread_key
from kbbot.outcomes import OutcomeRecorder
from kbbot.server.metrics import Metrics
from kbbot.settings import FLOOD_WINDOW_S, Settings
from kbbot.slack import payload_utils as pu
from kbbot.slack.actions import ACTION_PREFIX, ButtonCodec, InvalidButtonError
from kbbot.slack.blocks import (
    Message,
    render,
    render_summary,
    retired_step,
    text_message,
    without_buttons,
)
from kbbot.slack.connect import SharedChannels
from kbbot.slack.feedback import FeedbackListeners, add_votes_to_posted, with_feedback
from kbbot.slack.home import HomeListeners
from kbbot.slack.poster import WEB_API_TIMEOUT_S, ReplyOrigin, SlackPoster, reply_origin
from kbbot.slack.sealed import SealedValues
from kbbot.slack.shortcut import ShortcutListeners
from kbbot.store import ThreadStore

log = logging.getLogger(__name__)

_R = TypeVar("_R")
Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]
RECENT_THREADS = 10_000
# A redelivery this soon after a delivery was claimed is Slack's impatience (the ack was slow), not a crash: it is
# not answered, lest two processes answer at once. Longer than a reply takes, short of Slack's next retry (~1 min).
ANSWER_LEASE_S = 10
# Whether the request being handled is Slack's redelivery of one it sent before (see `_claim`).
_redelivered: contextvars.ContextVar[bool] = contextvars.ContextVar("kbbot_redelivered", default=False)
# `/kb reload`: reopens the index and returns its article count, or None when that failed
Reloader = Callable[[], Awaitable[int | None]]


class _DropClientTokenWarning(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment even when handed a client, then warns that it will not
    use it. The client is handed over on purpose (it carries SLACK_API_URL and the retry handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("kbbot.slack.bolt")
    if not any(isinstance(f, _DropClientTokenWarning) for f in logger.filters):
        logger.addFilter(_DropClientTokenWarning())
    return logger


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: `SLACK_API_URL` as base. No retry handlers: `SlackPoster` retries, because only it
    knows whether a second try could post twice (see poster.py)."""
    client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url, timeout=int(WEB_API_TIMEOUT_S))
    client.retry_handlers = []
    return client


class Converser(Protocol):
    """What the adapter needs of the conversation engine (`kbbot.conversation.engine.Conversation`)."""

    def handle(self, state: ThreadState | None, turn: UserTurn, *, now: float) -> Turn: ...

    def lookup(self, text: str, *, user: str) -> Reply: ...

    def share(self, article_id: str, *, user: str, now: float) -> Turn: ...

    def step_shown(self, state: ThreadState | None) -> StepReply | None: ...


class InFlight:
    """The listener work still running after its ack, so a stopping server can let it finish."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, *, timeout: float) -> int:
        """Wait up to `timeout` for the work in flight; returns how many tasks had to be cancelled."""
        pending = [t for t in self._tasks if t is not asyncio.current_task() and not t.done()]
        if not pending:
            return 0
        _done, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        return len(late)


class KbBotListeners:
    """The listeners and what they share. One instance per app; nothing lives at module level."""

    def __init__(
        self,
        *,
        settings: Settings,
        conversation: Converser,
        store: ThreadStore,
        poster: SlackPoster,
        metrics: Metrics,
        inflight: InFlight,
        reload_index: Reloader | None = None,
        outcomes: OutcomeRecorder | None = None,
    ) -> None:
        self.inflight = inflight
        self.reload_index = reload_index
        # Threads this process answered in lately: only consulted when the store is down, to tell a person
        # waiting on kbbot why it is quiet without answering every human-only thread in the channel.
        self._recent_threads: OrderedDict[str, None] = OrderedDict()
        # threads found (by reading them) to hold no reply of kbbot's: see `_replied_in_before`
        self._not_ours: OrderedDict[str, None] = OrderedDict()
        self._engine_lock = asyncio.Lock()
        self._working: set[str] = set()  # messages being answered in this process (see `_claim`)
        self.settings = settings
        self.conversation = conversation
        self.store = store
        self.poster = poster
        self.metrics = metrics
        self.buttons = button_codec(settings)
        self.outcomes = outcomes
        self.sealed = SealedValues(key=self.buttons.key)
        self.shared_channels = SharedChannels(client=poster.client)
        self.feedback = FeedbackListeners(sealed=self.sealed, recorder=outcomes, poster=poster, metrics=metrics)
        self.home = HomeListeners(client=poster.client, outcomes=outcomes.store if outcomes else None,
                                  admin_users=settings.admin_users, lookup=self.lookup_reply)
        self.shortcut = ShortcutListeners(sealed=self.sealed, answer_in_thread=self.answer_in_thread,
                                          lookup_message=self.lookup_message, may_speak=self.may_answer_in)

    def register(self, app: AsyncApp) -> None:
        app.use(self._count_request)
        app.event("app_mention")(self.on_app_mention)
        app.event("message")(self.on_message)
        app.command("/kb")(self.on_kb_command)
        app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(self.on_kb_action)
        # feedback, the Home tab and the message shortcut: before the catch-alls below, which would take them
        for listeners in (self.feedback, self.home, self.shortcut):
            listeners.register(app)
        # Everything else is acknowledged and logged. Left unhandled it would get bolt's 404, which Slack counts
        # as a failure: it retries, and after enough failures it switches the app's event subscription off.
        anything = re.compile(".*")
        app.event(anything)(self.on_other_event)
        app.command(anything)(self.on_other_request)
        app.action(anything)(self.on_other_request)
        for kind in ("interactive_message", "dialog_submission", "dialog_cancellation"):
            app.action({"type": kind, "callback_id": anything})(self.on_other_request)
        app.options({"type": "dialog_suggestion", "callback_id": anything})(self.on_other_request)
        app.options(anything)(self.on_other_request)
        app.shortcut(anything)(self.on_other_request)
        app.view(anything)(self.on_other_request)
        app.view_closed(anything)(self.on_other_request)

    async def _count_request(
        self, req: AsyncBoltRequest, body: dict[str, Any], context: dict[str, Any],
        next: Callable[[], Awaitable[None]],
    ) -> None:
        context["kbbot_started"] = time.monotonic()
        # set on every request: the listener's task copies this context when `next()` starts it
        _redelivered.set(_retry_num(req) > 0)
        self.metrics.events_in.inc(kind=_kind(body))
        await next()

    # ---- messages

    async def on_app_mention(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        bot_user_id = context.get("bot_user_id")
        if not pu.is_person_message(event, bot_user_id=bot_user_id):
            log.info("ignoring an app_mention without a person, channel or ts (%s)", pu.event_id_of(body) or "-")
            return
        if pu.is_direct_message(event):
            return  # the message.im event for the same message answers it
        if not self.settings.answers_in(event["channel"]):
            log.info("not answering in %s: not one of the configured channels", event["channel"])
            return
        key = ThreadKey(team=pu.team_of(body, event), channel=event["channel"], thread_ts=pu.thread_ts_of(event))
        if not await self.may_speak_in(key.channel, body):
            # asked by name: the asker (only) hears why there is no answer, once however often Slack retries
            with contextlib.suppress(StoreError):
                if not await self._claim(body, event, key):
                    return
            await self.poster.ephemeral(channel=key.channel, user=event["user"], thread_ts=key.thread_ts,
                                        message=text_message(wording.SHARED_CHANNEL_REFUSED))
            return
        text = pu.strip_mention(str(event.get("text") or ""), bot_user_id)
        turn = UserTurn(user=event["user"], text=text, origin="mention")
        await self._answer(body, event, key, turn, started=context.get("kbbot_started"))

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        bot_user_id = context.get("bot_user_id")
        if not pu.is_person_message(event, bot_user_id=bot_user_id):
            log.debug("ignoring a message (subtype %r) from a bot, or housekeeping", event.get("subtype"))
            return
        text = str(event.get("text") or "")
        direct = pu.is_direct_message(event)
        if not direct and pu.mentions(text, bot_user_id):
            return  # Slack sends this message as app_mention too; that listener answers
        key = ThreadKey(team=pu.team_of(body, event), channel=event["channel"], thread_ts=pu.thread_ts_of(event))
        current_thread_key.set(key.as_str())
        origin: Origin = "dm" if direct and not pu.is_thread_reply(event) else "thread"
        if not direct and not self.settings.answers_in(key.channel):
            return
        if not direct and not await self.may_speak_in(key.channel, body):
            return  # a channel shared with another organisation: kbbot keeps quiet (see connect.py)
        if not direct and not pu.is_thread_reply(event):
            if key.channel not in self.settings.auto_answer_channels:
                return  # channel chatter: kbbot speaks when spoken to
            if pu.addressed_to_someone_else(text, bot_user_id):
                return
            # a support channel where every new message is a question: answer it as if kbbot were mentioned
            origin = "mention"
        elif not direct:
            try:
                known = await self.store.get(key) is not None
            except Exception as exc:
                log.error("cannot tell whether kbbot is in this thread: %s", exc)
                if key.as_str() in self._recent_threads:
                    # a thread this process has answered in: the person is waiting on kbbot, so say why not
                    await self._apologise(key, store_down=True)
                return
            if not known and not await self._replied_in_before(key):
                return  # a thread kbbot is not part of
            if pu.addressed_to_someone_else(text, bot_user_id):
                return  # people talking to each other in kbbot's thread
        turn = UserTurn(user=event["user"], text=pu.strip_mention(text, bot_user_id), origin=origin)
        await self._answer(body, event, key, turn, started=context.get("kbbot_started"))

    async def _answer(
        self, body: Mapping[str, Any], event: Mapping[str, Any], key: ThreadKey, turn: UserTurn, *,
        started: float | None,
    ) -> None:
        current_thread_key.set(key.as_str())
        with self.inflight.track():
            try:
                first = await self._claim(body, event, key, redelivered=_redelivered.get())
            except Exception as exc:
                # without the store there is no telling a retry from a first delivery, nor any thread state;
                # a store outage is one line per event (a traceback each would bury the log), anything else in full
                if isinstance(exc, StoreError):
                    log.error("cannot claim the event: %s", exc)
                else:
                    log.exception("cannot claim the event")
                await self._apologise(key, store_down=True)
                return
            if not first:
                return
            if not await self._within_flood_limit(key.team, turn.user, channel=key.channel,
                                                  thread_ts=key.thread_ts):
                return
            await self._converse(key, turn, person_ts=str(event["ts"]))
            self._observe_reply(started)

    async def _within_flood_limit(self, team: str, user: str, *, channel: str, thread_ts: str | None) -> bool:
        """False when `user` has asked more than `flood_limit` questions this minute. The first question over
        the limit gets one polite notice (only the asker sees it); the rest of the flood gets nothing, and no
        search. Counted in the store, so the limit holds across every bot process."""
        limit = self.settings.flood_limit
        if limit <= 0 or not user:
            return True
        try:
            hits = await self.store.hit_rate(f"{team}:{user}", window_s=FLOOD_WINDOW_S)
        except Exception as exc:  # a broken counter must not silence the bot: answer, and say why in the log
            log.warning("cannot count %s's questions (%s); answering anyway", user, exc)
            return True
        if hits <= limit:
            return True
        self.metrics.flood_limited.inc()
        if hits == limit + 1:
            log.info("%s asked %d questions within a minute; pausing them", user, hits)
            notice = text_message(wording.FLOOD_NOTICE.format(limit=limit))
            await self.poster.ephemeral(channel=channel, user=user, message=notice, thread_ts=thread_ts)
        return False

    async def _claim(
        self, body: Mapping[str, Any], event: Mapping[str, Any], key: ThreadKey, *, redelivered: bool = False
    ) -> bool:
        """True for the first delivery of this message; Slack's retries and twin events get False.

        Except a redelivery (X-Slack-Retry-Num) of a message nobody is answering now (no live lease) whose
        answer is not in the thread: the process that claimed it died before it replied, so it goes through
        (at-least-once), and the poster reads the thread before each reply so none is posted twice."""
        message = f"msg:{key.team}:{event['channel']}:{event['ts']}"
        extra = {"thread_key": key.as_str()}
        if message in self._working:  # Slack's retry (or twin event) while the first is still being answered
            self.metrics.duplicate_events.inc()
            log.info("%s is being answered already; not answering again", message, extra=extra)
            return False
        self._working.add(message)  # before any await: a twin arriving meanwhile must see it
        task = asyncio.current_task()
        if task is not None:
            task.add_done_callback(lambda _task: self._working.discard(message))
        # The lease comes first and only its holder goes on to claim: someone is answering this message (or
        # died doing so) less than ANSWER_LEASE_S ago. Taking it after the claims let a twin delivery in another
        # process slip between the two writes and answer as well.
        claims = [pu.event_id_of(body)] if pu.event_id_of(body) else []
        # One message can arrive as two events with different ids (app_mention and message.im/.channels)
        claims.append(message)
        # the claims are kept an hour; the lease and they are taken in one step (one transaction or round trip)
        taken = await self.store.claim_delivery(f"lease:{message}", claims, lease_ttl_s=ANSWER_LEASE_S)
        if taken is None:
            self.metrics.duplicate_events.inc()
            log.info("%s is being answered (or was, moments ago); not answering again", message, extra=extra)
            return False
        why_not = None
        if taken and not redelivered:
            why_not = "was handled already"
        elif taken and await self.poster.answered(channel=key.channel, thread_ts=key.thread_ts, request=message):
            why_not = "has its answer in the thread"
        if why_not is not None:
            self.metrics.duplicate_events.inc()
            log.info("%s %s; not answering again", taken[0], why_not, extra=extra)
            return False
        if taken:
            log.info("%s redelivered and unanswered: answering it", taken[0], extra=extra)
        reply_origin.set(ReplyOrigin(request=message, redelivered=bool(taken)))
        return True

    async def on_other_event(self, body: dict[str, Any]) -> None:
        log.debug("ignoring a %s event (%s)", _kind(body), pu.event_id_of(body) or "-")

    async def on_other_request(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        log.info("acknowledged and ignored a %s request", _kind(body))

    # ---- /kb

    async def on_kb_command(
        self, ack: Ack, command: dict[str, Any], respond: Respond, context: dict[str, Any]
    ) -> None:
        await ack()
        with self.inflight.track():
            user = str(command.get("user_id") or "")
            text = str(command.get("text") or "")
            channel = str(command.get("channel_id") or "")
            if text.strip().lower() == "reload":
                reply = await self._reload(user=user)
            elif not await self._within_flood_limit(pu.team_of(command), user, channel=channel, thread_ts=None):
                return
            else:
                reply = await self._lookup(text, user=user)
            await self._respond(respond, reply, channel=channel, user=user)
            self._observe_reply(context.get("kbbot_started"))

    async def _reload(self, *, user: str) -> Message:
        """`/kb reload`: reopen the index in this process (after `kbbot index` rewrote it), for admins only."""
        if user not in self.settings.admin_users or self.reload_index is None:
            log.warning("%s asked to reload the index but is not in admin_users", user)
            return text_message(wording.RELOAD_NOT_ADMIN)
        log.info("%s asked to reload the index", user)
        articles = await self.reload_index()
        if articles is None:
            return text_message(wording.RELOAD_FAILED)
        return text_message(wording.RELOADED.format(articles=articles))

    # ---- buttons

    async def on_kb_action(
        self, ack: Ack, body: dict[str, Any], respond: Respond, context: dict[str, Any]
    ) -> None:
        await ack()
        with self.inflight.track():
            await self._on_kb_action(body, respond)
        self._observe_reply(context.get("kbbot_started"))

    async def _on_kb_action(self, body: dict[str, Any], respond: Respond) -> None:
        action = pu.kb_action(body)
        user = pu.user_of(body)
        where = pu.action_location(body)
        if action is None or not user or where is None:
            log.info("ignoring a kb: action without an action, a user or a message")
            return
        action_id, value = action
        channel, message_ts, thread_ts = where
        key = ThreadKey(team=pu.team_of(body), channel=channel, thread_ts=thread_ts)
        try:
            offer = self.buttons.decode(action_id, value, where=key)
        except InvalidButtonError as exc:
            await self._refuse(key, user=user, reason=str(exc))
            return
        if offer.action is Action.SHARE:
            await self._share(body, article_id=offer.article_id or "", user=user, channel=channel, respond=respond)
        elif pu.is_ephemeral_container(body):
            # /kb results live outside any thread: a pick from their shortlist answers in place
            if offer.action is not Action.LOOKUP:
                log.info("ignoring %s on an ephemeral message", action_id)
                return
            reply = await self._lookup(offer.article_id or "", user=user)
            await self._respond(respond, reply, channel=channel, user=user, replace_original=True)
        else:
            current_thread_key.set(key.as_str())
            if not offer.shared and not await self._knows(key):
                # a button kbbot never drew in this thread (a sealed value cannot come from anywhere else)
                await self._refuse(key, user=user, reason="kbbot has no state for this thread")
                return
            turn = UserTurn(user=user, pressed=offer, origin="thread")
            pressed = body.get("message")
            await self._converse(key, turn, person_ts=None, pressed_ts=message_ts,
                                 pressed=pressed if isinstance(pressed, Mapping) else None)

    async def _knows(self, key: ThreadKey) -> bool:
        try:
            return await self.store.get(key) is not None
        except Exception as exc:  # the turn would fail the same way; let _converse say the store is down
            log.error("cannot tell whether kbbot is in this thread: %s", exc)
            return True

    async def _refuse(self, key: ThreadKey, *, user: str, reason: str) -> None:
        """A forged, moved or garbled button: only the presser hears about it, and the log says why."""
        log.warning("refused a button from %s: %s", user, reason, extra={"thread_key": key.as_str()})
        await self.poster.ephemeral(
            channel=key.channel, user=user, message=text_message(wording.INVALID_BUTTON), thread_ts=key.thread_ts
        )

    async def _share(self, body: Mapping[str, Any], *, article_id: str, user: str, channel: str,
                     respond: Respond) -> None:
        if not await self.may_speak_in(channel, body):
            await self._respond(respond, text_message(wording.SHARED_CHANNEL_REFUSED), channel=channel, user=user)
            return
        # The card goes to the channel as a new message, and the thread under it starts with the card's article on
        # the table: typed replies there ("walk me through") are answered like the buttons.
        try:
            shared = await self._in_engine(self.conversation.share, article_id, user=user, now=time.time())
            # the card is the first message of its thread, so its buttons are sealed for the channel
            (card,) = render(shared.replies[0], codec=self.buttons,
                             where=ThreadKey(team=pu.team_of(body), channel=channel, thread_ts=""))
        except Exception:
            log.exception("cannot build the card to share for %r", article_id)
            card = text_message(wording.INTERNAL_ERROR)
            await self._respond(respond, card, channel=channel, user=user)
            return
        posted = await self.poster.post(channel=channel, message=card, thread_ts=None, context=None)
        if posted.error is not None:
            await self._respond(respond, text_message(self.poster.explain(posted.error, channel=channel)),
                                channel=channel, user=user)
            return
        if shared.state is not None and posted.ts:
            key = ThreadKey(team=pu.team_of(body), channel=channel, thread_ts=posted.ts)
            state = shared.state
            try:
                # a thread nobody has written in yet; `current` is only ever there if a reply won the race
                await self.store.transact(key, lambda current: (current or state, None))
                self._remember_thread(key)
                await self._record_outcome(key, None, state, now=state.updated_at)
                await add_votes_to_posted(self.poster.client, message=card, sealed=self.sealed, where=key,
                                          article_id=state.article_id or article_id)
            except Exception as exc:  # the card's buttons still work; typed replies under it go unanswered
                log.error("could not store the thread of the shared card %s: %s", article_id, exc)
        try:
            await respond(delete_original=True)
        except Exception as exc:  # the share happened; a lingering ephemeral copy is harmless
            log.debug("could not remove the ephemeral /kb answer: %s", exc)

    # ---- one turn of a thread

    async def _converse(
        self,
        key: ThreadKey,
        user_turn: UserTurn,
        *,
        person_ts: str | None,
        pressed_ts: str | None = None,
        pressed: Mapping[str, Any] | None = None,
    ) -> None:
        """One turn: the engine's answer stored, then posted. `pressed_ts`, `pressed`: the message whose button
        was pressed, as Slack sent it (None for a typed message)."""
        extra = {"thread_key": key.as_str()}
        now = time.time()
        try:
            before, turn = await self._take_turn(key, user_turn, now=now)
        except StoreError as exc:
            # the store is down or refused the write: say so rather than leave the person waiting
            log.error("could not read or update the thread state: %s", exc, extra=extra)
            await self._apologise(key, store_down=True)
            return
        except Exception:
            log.exception("could not work out the answer", extra=extra)
            await self._apologise(key)
            return
        self._count_turn(turn, now=now)
        self._remember_thread(key)
        # before the replies go out: a 👍/👎 pressed on them must find the thread's outcome record
        await self._record_outcome(key, before, turn.state, now=now)
        status = turn.state.status if turn.state is not None else "-"
        did = user_turn.pressed.action if user_turn.pressed else "message"
        log.info("%s by %s: %d repl(ies), thread now %s", did, user_turn.user, len(turn.replies), status,
                 extra=extra)
        retired = await self._post_replies(key, before, turn, user=user_turn.user, pressed_ts=pressed_ts)
        answered = _version(turn.state) != _version(before)  # the press did something (not a stale click)
        if pressed is not None and pressed_ts and pressed_ts not in retired and answered:
            # the press answered that message's question: its buttons go, so only the newest message has any
            message = without_buttons(str(pressed.get("text") or ""), pressed.get("blocks") or [])
            await self.poster.update(channel=key.channel, ts=pressed_ts, message=message, context=key)
        # a button has no message of its own: its reaction ("it worked") goes on the thread's first message
        for name in turn.reactions:
            await self.poster.react(channel=key.channel, ts=person_ts or key.thread_ts, name=name, context=key)
        if turn.escalation is not None:
            await self._escalate(key, turn.escalation)

    async def _record_outcome(
        self, key: ThreadKey, before: ThreadState | None, after: ThreadState | None, *, now: float
    ) -> None:
        """The turn's outcome events into the outcome store (bookkeeping: a failure is logged, never raised)."""
        if self.outcomes is None:
            return
        try:
            written = await self.outcomes.record_turn(key, before, after, now=now)
        except Exception:
            log.exception("could not record the outcome of this turn", extra={"thread_key": key.as_str()})
            self.metrics.outcome_writes.inc(result="failed")
            return
        if written is not None:
            self.metrics.outcome_writes.inc(result="ok")

    async def answer_in_thread(self, key: ThreadKey, user: str, text: str, person_ts: str) -> None:
        """A question asked on someone's behalf (the message shortcut): one turn in `key`, as if mentioned."""
        current_thread_key.set(key.as_str())
        with self.inflight.track():
            if not await self._within_flood_limit(key.team, user, channel=key.channel, thread_ts=key.thread_ts):
                return
            await self._converse(key, UserTurn(user=user, text=text, origin="mention"), person_ts=person_ts)

    async def lookup_message(self, text: str, user: str) -> Message:
        """The /kb answer for `text`, drawn for an ephemeral message."""
        return await self._lookup(text, user=user)

    async def lookup_reply(self, text: str, user: str) -> Reply:
        """The /kb answer for `text` as the engine's reply value (the Home tab draws it its own way)."""
        return await self._in_engine(self.conversation.lookup, text, user=user)

    async def may_answer_in(self, channel: str, body: Mapping[str, Any]) -> bool:
        """Whether a question may be answered in `channel` for everyone: a configured channel (or a direct
        message), and not one shared with another organisation unless allowed."""
        return self.settings.answers_in(channel) and await self.may_speak_in(channel, body)

    async def may_speak_in(self, channel: str, body: Mapping[str, Any]) -> bool:
        """False in a channel shared with another organisation, unless `allow_shared_channels` is set."""
        if self.settings.allow_shared_channels:
            return True
        if await self.shared_channels.is_shared(channel, body=body):
            log.info("not answering in %s: it is shared with another organisation", channel)
            return False
        return True


    async def _post_replies(
        self, key: ThreadKey, before: ThreadState | None, turn: Turn, *, user: str, pressed_ts: str | None
    ) -> set[str]:
        """Post a turn's replies, keeping the thread tidy: a walk-through has one live step message.

        A step pressed on that message replaces it in place (chat.update); a step reached by typing is posted
        below (the person's message is there) and the old step message keeps its text but loses its buttons.
        The new step message's ts goes into the thread state, so the next turn, in any process, finds it.
        Returns the ts of the messages it replaced or retired."""
        step_ts = before.step_ts if before is not None and before.status == "walking" else ""
        steps = [r for r in turn.replies if isinstance(r, StepReply)]
        in_place = bool(step_ts) and pressed_ts == step_ts and len(steps) == 1 and len(turn.replies) == 1
        touched = {step_ts} if in_place else set()
        for reply in turn.replies:
            if isinstance(reply, NoticeReply) and reply.private:  # a stale or doubled click: the presser only
                await self.poster.ephemeral(channel=key.channel, user=user, thread_ts=key.thread_ts,
                                            message=render(reply, codec=self.buttons, where=key)[0])
                continue
            drawn = render(reply, codec=self.buttons, where=key)
            for message in with_feedback(drawn, reply, sealed=self.sealed, where=key):
                if in_place:
                    posted = await self.poster.update(
                        channel=key.channel, ts=step_ts, message=message, context=key
                    )
                    if posted.error is None:
                        continue
                posted = await self.poster.post(channel=key.channel, message=message, thread_ts=key.thread_ts,
                                                context=key)
                if posted.error is not None:
                    return touched  # not_in_channel and friends: the rest would fail the same way (logged)
                if isinstance(reply, StepReply) and posted.ts:
                    if step_ts not in touched and await self._retire_step(key, before, step_ts):
                        touched.add(step_ts)
                    await self._remember_step_message(key, turn, posted.ts)
        # the walk left that step by typing ("didn't work" -> another article, "start over"): its buttons go too
        left = step_ts and step_ts not in touched and _version(turn.state) != _version(before)
        if left and await self._retire_step(key, before, step_ts):
            touched.add(step_ts)
        return touched

    async def _retire_step(self, key: ThreadKey, before: ThreadState | None, step_ts: str) -> bool:
        shown = self.conversation.step_shown(before) if step_ts else None
        if shown is None:
            return False
        retired = retired_step(shown, codec=self.buttons)
        await self.poster.update(channel=key.channel, ts=step_ts, message=retired, context=key)
        return True

    async def _remember_step_message(self, key: ThreadKey, turn: Turn, ts: str) -> None:
        stored = turn.state
        if stored is None or stored.status != "walking":
            return

        def remember(current: ThreadState | None) -> tuple[ThreadState | None, None]:
            if current is None or current.version != stored.version:
                return current, None  # the thread moved on meanwhile; that turn has its own step message
            return current.with_step_message(ts), None

        try:
            await self.store.transact(key, remember)
        except Exception as exc:  # the walk goes on; the next step is posted below instead of in place
            log.warning("could not remember the step message: %s", exc, extra={"thread_key": key.as_str()})

    async def _replied_in_before(self, key: ThreadKey) -> bool:
        """Whether kbbot has replied in a thread it holds no state for: the state expired, or the store lost it
        (a Redis restarted empty, a damaged row). The person is still talking to kbbot there, so the turn goes
        on from a fresh state rather than into silence. Asked of this process's memory, then of the thread
        itself (kbbot's replies carry a metadata marker); a thread found not to be kbbot's is remembered, so
        people's own threads cost one Web API read each, not one per message."""
        if key.as_str() in self._recent_threads:
            found = True
        elif key.as_str() in self._not_ours:
            return False
        else:
            found = await self.poster.has_replied(channel=key.channel, thread_ts=key.thread_ts)
        if not found:
            self._not_ours[key.as_str()] = None
            while len(self._not_ours) > RECENT_THREADS:
                self._not_ours.popitem(last=False)
            return False
        log.warning("kbbot has replied in this thread but holds no state for it (expired, or the store lost "
                    "it): answering from a fresh state", extra={"thread_key": key.as_str()})
        return True

    def _remember_thread(self, key: ThreadKey) -> None:
        self._recent_threads[key.as_str()] = None
        self._recent_threads.move_to_end(key.as_str())
        while len(self._recent_threads) > RECENT_THREADS:
            self._recent_threads.popitem(last=False)

    async def _take_turn(
        self, key: ThreadKey, user_turn: UserTurn, *, now: float
    ) -> tuple[ThreadState | None, Turn]:
        """The state the turn was taken from and the engine's turn, committed with the store's compare-and-set.

        A search is CPU work; done on the event loop it would hold up every other request's ack behind it. So
        the turn is worked out in a thread against the state as read, and `commit` stores it if the thread has
        not moved on meanwhile; if it has (two messages at once), the turn is redone against the newer state."""
        seen = await self.store.get(key)
        turn = await self._in_engine(self.conversation.handle, seen, user_turn, now=now)

        def commit(current: ThreadState | None) -> tuple[ThreadState | None, tuple[ThreadState | None, Turn]]:
            if _version(current) == _version(seen):
                return turn.state, (current, turn)
            redone = self.conversation.handle(current, user_turn, now=now)
            return redone.state, (current, redone)

        return await self.store.transact(key, commit)

    async def _in_engine(self, fn: Callable[..., _R], *args: Any, **kwargs: Any) -> _R:
        # One engine call at a time: the work is CPU-bound (threads would not run it faster) and the knowledge
        # base's article cache is not made for concurrent use.
        async with self._engine_lock:
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def _apologise(self, key: ThreadKey, *, store_down: bool = False) -> None:
        message = text_message(wording.STORE_DOWN if store_down else wording.INTERNAL_ERROR)
        await self.poster.post(channel=key.channel, message=message, thread_ts=key.thread_ts, context=key)

    async def _lookup(self, text: str, *, user: str) -> Message:
        """The engine's /kb lookup; unlike `handle` it may raise, and a person still deserves an answer."""
        try:
            reply = await self._in_engine(self.conversation.lookup, text, user=user)
            return render(reply, codec=self.buttons, where=None)[0]
        except Exception:
            log.exception("/kb lookup failed for %r", text[:200])
            return text_message(wording.INTERNAL_ERROR)

    async def _escalate(self, key: ThreadKey, escalation: Escalation) -> None:
        extra = {"thread_key": key.as_str()}
        link = await self.poster.permalink(channel=key.channel, ts=key.thread_ts, context=key)
        summary = render_summary(
            escalation.summary, thread_link=link, usergroup=self.settings.escalation_usergroup
        )
        target = self.settings.escalation_channel
        if not target and self.settings.allow_shared_channels and await self.shared_channels.is_shared(
            key.channel
        ):
            # the summary names the asker and what they tried: not for another organisation's eyes
            log.warning("escalation summary not posted: the thread is in a shared channel and "
                        "KBBOT_ESCALATION_CHANNEL is not set", extra=extra)
            return
        if not target:
            # nobody configured a channel for humans: leave the summary where the people in this channel see it
            await self.poster.post(channel=key.channel, message=summary, thread_ts=key.thread_ts, context=key)
            log.warning("escalated in the thread itself: KBBOT_ESCALATION_CHANNEL is not set", extra=extra)
            return
        posted = await self.poster.post(channel=target, message=summary, thread_ts=None, context=key)
        if posted.error is None:
            log.info("escalated to %s", target, extra=extra)
            return
        # The humans cannot be reached there; the thread gets the summary and the reason instead.
        reason = text_message(self.poster.explain(posted.error, channel=target))
        for message in (reason, summary):
            await self.poster.post(channel=key.channel, message=message, thread_ts=key.thread_ts, context=key)

    async def _respond(
        self, respond: Respond, reply: Message, *, channel: str, user: str, replace_original: bool = False
    ) -> None:
        """An ephemeral answer through the response_url, which works even in channels the bot is not in."""
        try:
            answer = await respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral",
                                   replace_original=replace_original)
            # respond() does not raise on a refusal: a dead response_url (404, expired) is only its status
            status = int(getattr(answer, "status_code", 200) or 200)
            if status < 300:
                return
            log.warning("the response_url answered %d; answering with chat.postEphemeral instead", status)
        except Exception as exc:  # no response_url (odd payloads), or it expired after 30 minutes
            log.warning("could not answer through the response_url: %s", exc)
        if channel and user:
            await self.poster.ephemeral(channel=channel, user=user, message=reply)

    # ---- metrics

    def _count_turn(self, turn: Turn, *, now: float) -> None:
        # What this turn did is in the history entries it added, all stamped with this turn's `now`.
        state = turn.state
        for entry in state.history if state is not None else ():
            if entry.at != now:
                continue
            if entry.event is ThreadEvent.SHOWN:
                self.metrics.steps_walked.inc()
            elif entry.event is ThreadEvent.WORKED:
                self.metrics.outcomes.inc(outcome="resolved")
            elif entry.event is ThreadEvent.ESCALATED:
                self.metrics.outcomes.inc(outcome="escalated")

    def _observe_reply(self, started: float | None) -> None:
        if started is not None:
            self.metrics.reply_latency.observe(time.monotonic() - started)


def _retry_num(req: AsyncBoltRequest) -> int:
    """Slack's X-Slack-Retry-Num (HTTP mode; bolt mirrors Socket Mode's retry_attempt into it, "0" included)."""
    value = req.headers.get("x-slack-retry-num")
    first = value[0] if isinstance(value, list | tuple) and value else value
    try:
        return int(str(first or "0").strip())
    except ValueError:
        return 0


def button_codec(settings: Settings) -> ButtonCodec:
    """Seals button values with a key derived from the signing secret (Socket Mode may run without one: then
    the bot token, which is as secret)."""
    return ButtonCodec.from_secret(settings.signing_secret or settings.bot_token or "")


def _version(state: ThreadState | None) -> int:
    return state.version if state is not None else 0


def _kind(body: Mapping[str, Any]) -> str:
    """A short label for a request, for logs and the events counter."""
    event = body.get("event")
    if isinstance(event, Mapping) and event.get("type"):
        return str(event["type"])
    if "command" in body:
        return "slash_command"
    return str(body.get("type") or "unknown")


def build_app(
    *,
    settings: Settings,
    conversation: Converser,
    store: ThreadStore,
    client: AsyncWebClient | None = None,
    metrics: Metrics | None = None,
    inflight: InFlight | None = None,
    reload_index: Reloader | None = None,
    outcomes: OutcomeRecorder | None = None,
) -> AsyncApp:
    """The bolt app with every listener registered. HTTP mode and Socket Mode both dispatch into it."""
    client = client or make_client(settings)
    metrics = metrics or Metrics()
    app = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret or "",
        # ack first, work after: bolt answers Slack as soon as ack() runs and the listener carries on
        process_before_response=False,
        logger=_bolt_logger(),
    )
    KbBotListeners(
        settings=settings,
        conversation=conversation,
        store=store,
        poster=SlackPoster(client=client, metrics=metrics),
        metrics=metrics,
        inflight=InFlight() if inflight is None else inflight,  # an empty InFlight is falsy
        reload_index=reload_index,
        outcomes=outcomes,
    ).register(app)
    return app
