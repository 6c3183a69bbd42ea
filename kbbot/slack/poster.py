"""Every Web API call the bot makes, with Slack's refusals turned into values instead of exceptions.

A listener runs after the ack, so an exception there reaches nobody: it would only vanish into bolt's error log.
Here each call either succeeds or returns the Slack error code, counted in the metrics and logged with the
thread's key; the caller decides whether a person should hear about it.

Retries live here, not in the client, because only here is it known whether trying again could post twice:

    429 (Retry-After: seconds, "1.5", or an HTTP-date; bounded)   Slack did nothing: wait and try again
    could not connect                                             nothing was sent: try again
    5xx (JSON, HTML or empty), 200 not JSON, timeout, dropped     Slack may have done it: for a post, look in
                                                                  the thread for the post's marker first

Every post carries a marker in its message metadata (`event_type` kbbot_reply, a `reply_key` naming the
request it answers and its place among the replies). Before a post is tried again after an answer that leaves
it unknown whether Slack took it, and before the first try of a reply to a redelivered request, the thread is
read (conversations.replies) and a post whose marker is already there is not made again.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import itertools
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from kbbot.server.metrics import Metrics
from kbbot.slack.blocks import Message, slack_id

if TYPE_CHECKING:
    from kbbot.conversation.state import ThreadKey

log = logging.getLogger(__name__)

# How long one Web API call may take before it counts as failed (aiohttp's own default is five minutes).
WEB_API_TIMEOUT_S = 15.0
# Tries per call (the first one included), and the backoff between them when Slack names no Retry-After.
MAX_ATTEMPTS = 4
BACKOFF_S = (0.5, 1.0, 2.0)
# A Retry-After longer than this is not waited for: the person has been waiting long enough.
MAX_RETRY_AFTER_S = 30.0
# Slack error codes (HTTP 200) that mean "not now" rather than "no"
RETRYABLE_ERRORS = frozenset({"internal_error", "service_unavailable", "request_timeout"})
REPLY_EVENT_TYPE = "kbbot_reply"


@dataclass(slots=True)
class ReplyOrigin:
    """The request the replies being posted answer: their markers are `{request}:{n}` in posting order, so a
    redelivery of the same request finds the replies its first delivery managed to post."""

    request: str
    redelivered: bool = False
    found_earlier: bool = False  # a redelivery found a reply its first delivery had posted
    _count: itertools.count[int] = field(default_factory=itertools.count)

    def next_key(self) -> str:
        return f"{self.request}:{next(self._count)}"


# Set by the adapter when it starts on a request (a contextvar, like the thread key in the logs).
reply_origin: contextvars.ContextVar[ReplyOrigin | None] = contextvars.ContextVar("kbbot_reply_origin",
                                                                                   default=None)


def retry_after_s(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: a number ("1", "1.5") or an HTTP-date, bounded to 0..MAX_RETRY_AFTER_S;
    None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


@dataclass(frozen=True, slots=True)
class _Failure:
    error: str
    # whether Slack may have done it anyway (a post must then be looked for before it is made again)
    ambiguous: bool
    retryable: bool
    wait_s: float | None = None


def _classify(exc: BaseException) -> _Failure:
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = getattr(response, "data", None)
        headers = getattr(response, "headers", None) or {}
        if status == 429:
            return _Failure("ratelimited", ambiguous=False, retryable=True,
                            wait_s=retry_after_s(headers.get("Retry-After") or headers.get("retry-after")))
        if isinstance(data, dict) and data.get("error"):
            error = str(data["error"])
            return _Failure(error, ambiguous=status >= 500, retryable=status >= 500 or error in RETRYABLE_ERRORS)
        if status >= 500:
            return _Failure(f"http_{status}", ambiguous=True, retryable=True)
        if status == 200:  # an answer that is not Slack's JSON: a proxy's page, or a body cut short
            return _Failure("not_json", ambiguous=True, retryable=True)
        return _Failure(f"http_{status}", ambiguous=False, retryable=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _Failure("connection", ambiguous=False, retryable=True)  # never reached Slack
    if isinstance(exc, TimeoutError):
        return _Failure("timeout", ambiguous=True, retryable=True)
    if isinstance(exc, SlackClientError | aiohttp.ClientError | OSError):
        return _Failure("connection", ambiguous=True, retryable=True)
    # the SDK tripping over an answer it did not expect (a body that is not a dict, ...)
    return _Failure("server_error", ambiguous=True, retryable=True)


# What a person is told when Slack will not let the bot post somewhere (kept with the only code that says it).
CANNOT_POST = {
    "not_in_channel": "I'm not a member of <#{channel}>, so I can't post there. Invite me with `/invite @kbbot` "
    "and try again.",
    "channel_not_found": "I can't see <#{channel}>: it may be private and I'm not in it. Invite me with "
    "`/invite @kbbot` and try again.",
    "is_archived": "<#{channel}> is archived, so I can't post there.",
}
CANNOT_POST_OTHER = "Slack didn't accept my message (`{error}`). Try again in a minute."
# Slack's ways of refusing a message's blocks (too many, too long, malformed); the text fallback still goes.
BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "too_many_blocks"})


def _describe(exc: BaseException, failure: _Failure) -> str:
    """One short line for the log: Slack's error code, or the exception's type and first words."""
    if isinstance(exc, SlackApiError):
        return failure.error
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{failure.error} ({type(exc).__name__}{': ' + detail if detail else ''})"


@dataclass(frozen=True, slots=True)
class Posted:
    ts: str | None = None
    error: str | None = None  # Slack's error code ("not_in_channel"), or "connection" when Slack was unreachable


class SlackPoster:
    def __init__(self, *, client: AsyncWebClient, metrics: Metrics) -> None:
        self.client = client
        self.metrics = metrics

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        *,
        context: ThreadKey | None,
        quiet: frozenset[str] = frozenset(),
        already_done: Callable[[], Awaitable[AsyncSlackResponse | None]] | None = None,
        idempotent: bool = False,
    ) -> tuple[AsyncSlackResponse | None, str | None]:
        """`call`, tried again while Slack's answer says it may help. `already_done` (posts) finds the result of
        an earlier try that Slack took although its answer never arrived; without one, a call whose effect is
        unknown is tried again only when doing it twice changes nothing (`idempotent`: reads, reactions)."""
        extra = {"thread_key": context.as_str()} if context is not None else {}
        failure: _Failure | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await call(), None
            except Exception as exc:  # classified below: every way a Web API call fails ends as an error code
                failure = _classify(exc)
                if failure.error in quiet:
                    return None, failure.error
                last = attempt == MAX_ATTEMPTS or not failure.retryable
                if failure.ambiguous and already_done is None and not idempotent:
                    last = True
                if last:
                    self.metrics.slack_api_errors.inc(method=method, error=failure.error)
                    log.warning("Slack %s %s: %s", "refused" if not failure.ambiguous else "failed on", method,
                                _describe(exc, failure), extra=extra)
                    return None, failure.error
            wait_s = failure.wait_s if failure.wait_s is not None else BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1]
            reason = failure.error if failure.error in ("ratelimited", "timeout", "connection") else "server_error"
            self.metrics.slack_api_retries.inc(reason=reason)
            log.info("%s failed (%s); trying again in %.1fs", method, failure.error, wait_s, extra=extra)
            await asyncio.sleep(wait_s)
            if failure.ambiguous and already_done is not None:
                found = await already_done()
                if found is not None:
                    log.info("%s had gone through before the answer was lost; not posting again", method,
                             extra=extra)
                    return found, None
        raise AssertionError("unreachable: the last attempt returns")

    async def post(
        self, *, channel: str, message: Message, thread_ts: str | None, context: ThreadKey | None
    ) -> Posted:
        origin = reply_origin.get()
        reply_key = origin.next_key() if origin is not None else f"post-{uuid.uuid4().hex}"
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": message.text,
            "blocks": message.blocks or None,
            "metadata": {"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply_key": reply_key}},
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts

        async def already_done() -> AsyncSlackResponse | None:
            return await self._find_reply(channel=channel, thread_ts=thread_ts, reply_key=reply_key)

        finder = already_done if thread_ts else None
        if origin is not None and origin.redelivered and thread_ts:
            # Slack sent this request again: its first delivery may have posted this reply before it was lost
            found = await already_done()
            if found is not None:
                if not origin.found_earlier:  # one duplicate request, however many replies it had
                    origin.found_earlier = True
                    self.metrics.duplicate_events.inc()
                log.info("reply %s was posted before the request was redelivered; not posting it again",
                         reply_key, extra={"thread_key": context.as_str()} if context else {})
                return Posted(ts=str(found["ts"]))

        def send() -> Awaitable[AsyncSlackResponse]:
            return self.client.chat_postMessage(**kwargs)

        resp, error = await self._call("chat.postMessage", send, context=context, already_done=finder)
        if error in BLOCK_ERRORS and message.blocks:
            # The card builders keep within Slack's limits, but Slack has the last word: rather than say
            # nothing, say it in the plain-text fallback every message carries.
            kwargs["blocks"] = None
            resp, error = await self._call("chat.postMessage", send, context=context, already_done=finder)
        return Posted(ts=str(resp["ts"]) if resp is not None else None, error=error)

    async def answered(self, *, channel: str, thread_ts: str, request: str) -> bool:
        """Whether the thread already holds the first reply to `request` (see ReplyOrigin)."""
        return await self._find_reply(channel=channel, thread_ts=thread_ts, reply_key=f"{request}:0") is not None

    async def has_replied(self, *, channel: str, thread_ts: str) -> bool:
        """Whether the thread holds any reply of kbbot's (any `reply_key`)."""
        return await self._find_reply(channel=channel, thread_ts=thread_ts, reply_key=None) is not None

    async def _find_reply(
        self, *, channel: str, thread_ts: str | None, reply_key: str | None
    ) -> AsyncSlackResponse | None:
        """The bot's message in the thread carrying `reply_key` (any, for None) as a response with its ts, or
        None."""
        if not thread_ts:
            return None
        try:
            resp = await self.client.conversations_replies(channel=channel, ts=thread_ts,
                                                           include_all_metadata=True, limit=200)
        except Exception as exc:  # cannot tell: post (a double beats a silence)
            log.warning("cannot read the thread to check for an earlier post: %s", _describe(exc, _classify(exc)))
            return None
        for message in resp.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            ours = metadata.get("event_type") == REPLY_EVENT_TYPE
            if ours and (reply_key is None or payload.get("reply_key") == reply_key):
                resp.data = {"ok": True, "ts": message.get("ts"), "channel": channel}
                return resp
        return None

    async def update(self, *, channel: str, ts: str, message: Message, context: ThreadKey | None) -> Posted:
        """Replace the bot's message `ts` (a step moving on in place, or retiring its buttons)."""
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": message.text, "blocks": message.blocks}
        resp, error = await self._call("chat.update", lambda: self.client.chat_update(**kwargs), context=context)
        return Posted(ts=str(resp["ts"]) if resp is not None else None, error=error)

    async def ephemeral(
        self, *, channel: str, user: str, message: Message, thread_ts: str | None = None
    ) -> Posted:
        kwargs: dict[str, Any] = {
            "channel": channel,
            "user": user,
            "text": message.text,
            "blocks": message.blocks or None,
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        resp, error = await self._call(
            "chat.postEphemeral", lambda: self.client.chat_postEphemeral(**kwargs), context=None
        )
        return Posted(ts=str(resp["message_ts"]) if resp is not None else None, error=error)

    async def react(self, *, channel: str, ts: str, name: str, context: ThreadKey | None) -> None:
        # already_reacted is what a retried turn looks like: the reaction is there, which is all we wanted
        await self._call(
            "reactions.add",
            lambda: self.client.reactions_add(channel=channel, timestamp=ts, name=name),
            context=context,
            quiet=frozenset({"already_reacted"}),
            idempotent=True,
        )

    async def permalink(self, *, channel: str, ts: str, context: ThreadKey | None) -> str | None:
        resp, _error = await self._call(
            "chat.getPermalink",
            lambda: self.client.chat_getPermalink(channel=channel, message_ts=ts),
            context=context,
            idempotent=True,
        )
        return str(resp["permalink"]) if resp is not None and resp.get("permalink") else None

    @staticmethod
    def explain(error: str, *, channel: str) -> str:
        """One sentence for a person about why the bot could not post in `channel`."""
        # ids and error codes are plain [A-Za-z0-9_]; anything else must not reach mrkdwn as markup
        safe_channel = slack_id(channel)
        safe_error = re.sub(r"[^A-Za-z0-9_]", "", error)
        return CANNOT_POST.get(error, CANNOT_POST_OTHER).format(channel=safe_channel, error=safe_error)
