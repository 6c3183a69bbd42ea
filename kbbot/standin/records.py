"""What the stand-in remembers: each Web API call the bot made, and what the bot answered to each request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str  # "chat.postMessage", or "response_url" for a reply through a slash command's response_url
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message the stand-in refused as Slack would: Block Kit that Slack's validation does not accept."""

    method: str
    error: str  # invalid_blocks, msg_blocks_too_long, ...
    errors: tuple[str, ...]
    blocks: Any


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the bot answered to one signed request."""

    status: int
    body: str
    elapsed_s: float
    event_id: str | None = None
