"""Factories for the bodies Slack sends to an app: event envelopes, slash-command forms, button clicks."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from kbbot.standin.ids import (
    STANDIN_APP,
    STANDIN_BOT_ID,
    STANDIN_BOT_USER,
    STANDIN_CHANNEL,
    STANDIN_TEAM,
    STANDIN_USER,
)

_event_ids = itertools.count(1)


def event_callback(
    event: Mapping[str, Any],
    *,
    team_id: str = STANDIN_TEAM,
    api_app_id: str = STANDIN_APP,
    event_id: str | None = None,
    is_ext_shared_channel: bool = False,
) -> dict[str, Any]:
    """Wrap an inner event the way the Events API delivers it (`is_ext_shared_channel`: a Slack Connect
    channel, shared with another organisation)."""
    return {
        "token": "legacy-verification-token-unused",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}{int(time.time() * 1000) % 100000:05d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": STANDIN_BOT_USER, "is_bot": True}],
        "is_ext_shared_channel": is_ext_shared_channel,
    }


def slash_command_form(
    *,
    command: str,
    text: str,
    user_id: str = STANDIN_USER,
    channel_id: str = STANDIN_CHANNEL,
    team_id: str = STANDIN_TEAM,
    response_url: str = "",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> str:
    return urlencode(
        {
            "token": "legacy-verification-token-unused",
            "team_id": team_id,
            "team_domain": "standin",
            "channel_id": channel_id,
            "channel_name": "support",
            "user_id": user_id,
            "user_name": "asker",
            "command": command,
            "text": text,
            "api_app_id": STANDIN_APP,
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interactive_form(payload: Mapping[str, Any]) -> str:
    """Interactivity payloads arrive as one `payload=` form field holding JSON."""
    return urlencode({"payload": json.dumps(payload)})


def block_actions_payload(
    *,
    action_id: str,
    value: str,
    message: Mapping[str, Any],
    channel_id: str,
    user_id: str = STANDIN_USER,
    team_id: str = STANDIN_TEAM,
    is_ephemeral: bool = False,
    response_url: str = "",
) -> dict[str, Any]:
    """A button click on `message` (a message as the stand-in recorded it: ts, thread_ts, text, blocks)."""
    block_id = ""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                block_id = block.get("block_id", "")
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.get("ts", ""),
        "channel_id": channel_id,
        "is_ephemeral": is_ephemeral,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    return {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "standin"},
        "user": {"id": user_id, "username": "asker", "name": "asker", "team_id": team_id},
        "api_app_id": STANDIN_APP,
        "token": "legacy-verification-token-unused",
        "container": container,
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "channel": {"id": channel_id, "name": "support"},
        "message": {k: v for k, v in message.items() if k in ("type", "ts", "thread_ts", "text", "blocks", "user")}
        | {"type": "message", "user": STANDIN_BOT_USER, "bot_id": STANDIN_BOT_ID},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": action_id},
            }
        ],
    }

