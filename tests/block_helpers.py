"""Reading drawn Block Kit messages in tests: the one walk over their objects, and what a reader sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kbbot.slack.blocks import Message


def block_objects(obj: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a block tree (blocks, elements, text objects), depth first."""
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from block_objects(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from block_objects(v)


def mrkdwn_texts(message: Message) -> list[str]:
    return [o["text"] for o in block_objects(message.blocks) if o.get("type") == "mrkdwn"]


def shown_texts(message: Message) -> list[str]:
    """Every text a reader sees: mrkdwn and plain_text objects (buttons' faces too), and the fallback text."""
    found = [o["text"] for o in block_objects(message.blocks) if o.get("type") in ("mrkdwn", "plain_text")]
    return [*found, message.text]
