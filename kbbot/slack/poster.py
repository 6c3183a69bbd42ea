"""Every Web API call the bot makes, with Slack's refusals turned into values instead of exceptions.

A listener runs after the ack, so an exception there reaches nobody: it would only vanish into bolt's error log.
Here each call either succeeds or returns the Slack error code, counted in the metrics and logged with the
thread's key; the caller decides whether a person should hear about it. Rate limits never surface: the client's
AsyncRateLimitErrorRetryHandler waits for Retry-After and tries again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from kbbot.slack.blocks import Message, slack_id
from kbbot.slack.metrics import Metrics

if TYPE_CHECKING:
    from kbbot.conversation.state import ThreadKey

log = logging.getLogger(__name__)

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
    ) -> tuple[AsyncSlackResponse | None, str | None]:
        extra = {"thread_key": context.as_str()} if context is not None else {}
        try:
            return await call(), None
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            if error in quiet:
                return None, error
            self.metrics.slack_api_errors.inc(method=method, error=error)
            log.warning("Slack refused %s: %s", method, error, extra=extra)
            return None, error
        except (TimeoutError, SlackClientError, aiohttp.ClientError, OSError) as exc:
            self.metrics.slack_api_errors.inc(method=method, error="connection")
            log.warning("could not reach Slack for %s: %s", method, exc, extra=extra)
            return None, "connection"

    async def post(
        self, *, channel: str, message: Message, thread_ts: str | None, context: ThreadKey | None
    ) -> Posted:
        kwargs: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": message.blocks or None}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        resp, error = await self._call(
            "chat.postMessage", lambda: self.client.chat_postMessage(**kwargs), context=context
        )
        if error in BLOCK_ERRORS and message.blocks:
            # The card builders keep within Slack's limits, but Slack has the last word: rather than say
            # nothing, say it in the plain-text fallback every message carries.
            kwargs["blocks"] = None
            resp, error = await self._call(
                "chat.postMessage", lambda: self.client.chat_postMessage(**kwargs), context=context
            )
        return Posted(ts=str(resp["ts"]) if resp is not None else None, error=error)

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
        )

    async def permalink(self, *, channel: str, ts: str, context: ThreadKey | None) -> str | None:
        resp, _error = await self._call(
            "chat.getPermalink",
            lambda: self.client.chat_getPermalink(channel=channel, message_ts=ts),
            context=context,
        )
        return str(resp["permalink"]) if resp is not None and resp.get("permalink") else None

    @staticmethod
    def explain(error: str, *, channel: str) -> str:
        """One sentence for a person about why the bot could not post in `channel`."""
        # ids and error codes are plain [A-Za-z0-9_]; anything else must not reach mrkdwn as markup
        safe_channel = slack_id(channel)
        safe_error = re.sub(r"[^A-Za-z0-9_]", "", error)
        return CANNOT_POST.get(error, CANNOT_POST_OTHER).format(channel=safe_channel, error=safe_error)
