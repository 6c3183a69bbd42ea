"""Pure checks on Slack request dicts: what kind of message this is, whom it is from, which thread it belongs to.

Nothing here talks to Slack or the store, so the listeners stay short and these rules are tested on plain dicts
(including Slack's sample payloads, where every string is empty).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kbbot.slack.actions import ACTION_PREFIX

# Message subtypes that carry something a person wrote. Everything else (edits, deletions, joins, topic changes,
# bot posts, /me, ...) is housekeeping and never answered.
QUESTION_SUBTYPES = frozenset({"", "thread_broadcast", "file_share"})


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_from_bot(event: Mapping[str, Any], *, bot_user_id: str | None = None) -> bool:
    """Our own posts and every other bot's: answering a bot starts loops between bots."""
    if _str(event.get("bot_id")) or _str(event.get("subtype")) == "bot_message" or event.get("bot_profile"):
        return True
    return bool(bot_user_id) and _str(event.get("user")) == bot_user_id


def is_person_message(event: Mapping[str, Any], *, bot_user_id: str | None = None) -> bool:
    """A message a person wrote, with everything needed to answer it (sample payloads leave these empty)."""
    if _str(event.get("subtype")) not in QUESTION_SUBTYPES:
        return False
    if is_from_bot(event, bot_user_id=bot_user_id):
        return False
    return all(_str(event.get(k)) for k in ("user", "channel", "ts"))


def is_direct_message(event: Mapping[str, Any]) -> bool:
    if _str(event.get("channel_type")) == "im":
        return True
    # events without channel_type (older payloads) still carry the DM's channel id
    return not event.get("channel_type") and _str(event.get("channel")).startswith("D")


def thread_ts_of(event: Mapping[str, Any]) -> str:
    """The thread a reply belongs in: the thread already running, else a new one on the asker's message."""
    return _str(event.get("thread_ts")) or _str(event.get("ts"))


def is_thread_reply(event: Mapping[str, Any]) -> bool:
    thread_ts = _str(event.get("thread_ts"))
    return bool(thread_ts) and thread_ts != _str(event.get("ts"))


def _mention_pattern(bot_user_id: str) -> re.Pattern[str]:
    return re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>")


def mentions(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and _mention_pattern(str(bot_user_id)).search(text) is not None


def addressed_to_someone_else(text: str, bot_user_id: str | None) -> bool:
    """A message that opens by mentioning another person ("<@U123> can you check the MTA?") is for them."""
    match = re.match(r"\s*<@([A-Z0-9]+)(?:\|[^>]*)?>", text)
    return match is not None and match.group(1) != bot_user_id


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The question without the bot's own `<@U...>` (other people's mentions stay: they may matter)."""
    if bot_user_id:
        text = _mention_pattern(bot_user_id).sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def team_of(body: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> str:
    """The workspace a request is from, wherever this payload kind keeps it."""
    if event is not None:
        for key in ("team", "user_team", "source_team"):
            if _str(event.get(key)):
                return _str(event.get(key))
    team = body.get("team")
    if isinstance(team, Mapping) and _str(team.get("id")):
        return _str(team.get("id"))
    return _str(body.get("team_id")) or _str(team)


def event_id_of(body: Mapping[str, Any]) -> str:
    return _str(body.get("event_id"))


def retry_num_of(headers: Mapping[str, Any]) -> int:
    """`X-Slack-Retry-Num` (bolt hands headers over lower-cased, each as a list of values)."""
    raw = headers.get("x-slack-retry-num")
    if isinstance(raw, (list, tuple)):
        raw = raw[0] if raw else None
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return 0


def kb_action(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(action_id, value) of the first `kb:` button in a block_actions payload, or None."""
    actions = body.get("actions")
    if not isinstance(actions, list):
        return None
    for action in actions:
        if isinstance(action, Mapping):
            action_id = _str(action.get("action_id"))
            if action_id.startswith(ACTION_PREFIX):
                return action_id, _str(action.get("value"))
    return None


def action_location(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(channel, message_ts, thread_ts) of the message a button sits on; None for a view or an empty payload."""
    container = body.get("container")
    container = container if isinstance(container, Mapping) else {}
    message = body.get("message")
    message = message if isinstance(message, Mapping) else {}
    channel = body.get("channel")
    channel_id = _str(container.get("channel_id")) or (
        _str(channel.get("id")) if isinstance(channel, Mapping) else ""
    )
    message_ts = _str(container.get("message_ts")) or _str(message.get("ts"))
    thread_ts = _str(container.get("thread_ts")) or _str(message.get("thread_ts")) or message_ts
    if not (channel_id and message_ts):
        return None
    return channel_id, message_ts, thread_ts


def is_ephemeral_container(body: Mapping[str, Any]) -> bool:
    container = body.get("container")
    return isinstance(container, Mapping) and bool(container.get("is_ephemeral"))


def user_of(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, Mapping):
        return _str(user.get("id"))
    return _str(user) or _str(body.get("user_id"))
