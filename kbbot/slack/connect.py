"""Slack Connect: which channels are shared with other organisations, where kbbot keeps quiet by default.

An event says so itself (`is_ext_shared_channel` on every Events API envelope; an envelope without it is from
an unshared channel); a slash command, a shortcut or a click does not, so for those `conversations.info` is
asked (`is_ext_shared`) and the answer kept a while. A channel whose answer cannot be had counts as shared:
posting internal articles where outsiders read them is the mistake to avoid, and the person can always ask in
a direct message.

Even where `allow_shared_channels` lets kbbot answer, nothing internal goes there: no escalation summary
(it names the asker and what they tried) and no article link.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# How long a channel's shared flag is believed: a channel gets shared (or unshared) rarely, and the lookup is
# one Web API call per command otherwise.
SHARED_FLAG_TTL_S = 600.0
MAX_CHANNELS_KEPT = 10_000


def shared_flag_of(body: Mapping[str, Any]) -> bool | None:
    """What an Events API envelope says about its channel; None for a request that does not say (commands,
    clicks, shortcuts)."""
    if body.get("type") != "event_callback":
        return None
    return body.get("is_ext_shared_channel") is True


class SharedChannels:
    """Whether a channel is shared with another organisation, from events as they arrive or asked of Slack."""

    def __init__(self, *, client: AsyncWebClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._known: dict[str, tuple[bool, float]] = {}

    def note(self, channel: str, shared: bool) -> None:
        if len(self._known) >= MAX_CHANNELS_KEPT:
            self._known.clear()
        self._known[channel] = (shared, self._clock())

    async def is_shared(self, channel: str, *, body: Mapping[str, Any] | None = None) -> bool:
        if channel.startswith("D"):
            return False  # a direct message is between one person and kbbot
        flag = shared_flag_of(body) if body is not None else None
        if flag is not None:
            self.note(channel, flag)
            return flag
        known = self._known.get(channel)
        if known is not None and self._clock() - known[1] < SHARED_FLAG_TTL_S:
            return known[0]
        try:
            info = await self._client.conversations_info(channel=channel)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            log.warning(
                "cannot tell whether %s is shared with another organisation (%s); treating it as shared",
                channel,
                exc,
            )
            return True
        data = info.get("channel") or {}
        shared = bool(data.get("is_ext_shared") or data.get("is_pending_ext_shared"))
        self.note(channel, shared)
        return shared
