"""The real bot on loopback with Slack stood in: what `kbbot chat` runs, and what the scenario tests drive.

The app is the one `kbbot serve` runs in HTTP mode (same `BotRuntime`, same aiohttp routes); only the other end
is different: `SlackStandIn` plays the Web API and sends the signed requests.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kbbot.server.runtime import BotRuntime
from kbbot.settings import Settings
from kbbot.standin import ApiCall, SlackStandIn

LOOPBACK_TOKEN = "xoxb-standin-0000-kbbot"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action_id: str
    value: str


@dataclass(slots=True)
class LoopbackBot:
    standin: SlackStandIn
    runtime: BotRuntime
    base_url: str
    runner: web.AppRunner

    async def posts(self, count: int = 1, *, timeout: float = 5.0) -> list[ApiCall]:
        return await self.standin.wait_for("chat.postMessage", count=count, timeout=timeout)


@asynccontextmanager
async def loopback_bot(
    *,
    index: Path | None,
    store_url: str = "memory://",
    escalation_channel: str | None = None,
    signing_secret: str | None = None,
    **more_settings: Any,
) -> AsyncIterator[LoopbackBot]:
    """The bot on loopback; `more_settings` are further `Settings` fields (flood_limit=3, admin_users=...)."""
    secret = signing_secret or secrets.token_hex(16)
    async with SlackStandIn(token=LOOPBACK_TOKEN, signing_secret=secret) as standin:
        settings = Settings(
            bot_token=LOOPBACK_TOKEN,
            signing_secret=secret,
            api_url=standin.api_url,
            index=index,
            store_url=store_url,
            escalation_channel=escalation_channel,
            **more_settings,
        )
        runtime = await BotRuntime.open(settings)
        try:
            runner, port = await runtime.start_http(host="127.0.0.1", port=0)
        except BaseException:
            await runtime.close(drain_s=0)
            raise
        base_url = f"http://127.0.0.1:{port}"
        standin.events_url = f"{base_url}/slack/events"
        try:
            yield LoopbackBot(standin=standin, runtime=runtime, base_url=base_url, runner=runner)
        finally:
            await runner.cleanup()
            await runtime.close(drain_s=2.0)


def buttons(message: ApiCall | dict[str, Any]) -> list[Button]:
    """The buttons on a message (recorded call or stored message), in the order a person sees them."""
    args = message.args if isinstance(message, ApiCall) else message
    found: list[Button] = []
    for block in args.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        # an actions block's elements, and a section's accessory (each shortlist entry has its button beside it)
        for element in [*(block.get("elements") or []), block.get("accessory")]:
            if isinstance(element, dict) and element.get("type") == "button":
                label = (element.get("text") or {}).get("text", "")
                action_id, value = element.get("action_id", ""), element.get("value", "")
                found.append(Button(label=label, action_id=action_id, value=value))
    return found


def readable(message: ApiCall | dict[str, Any]) -> str:
    """Everything a person could read in a message (fallback text and blocks) as one string."""
    args = message.args if isinstance(message, ApiCall) else message
    return str(args.get("text", "")) + "\n" + json.dumps(args.get("blocks") or [], ensure_ascii=False)
