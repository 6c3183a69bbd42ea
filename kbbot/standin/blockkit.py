"""Block Kit checked the way Slack checks it before it accepts a message, so no test passes with one Slack refuses.

Slack answers a malformed message with HTTP 200 and `{"ok": false, "error": "invalid_blocks", "errors": [...]}`,
each error naming the offending field by JSON pointer; blocks that are well formed but long in total get
`msg_blocks_too_long`. `check_blocks()` gives the same verdict for a list of blocks. The limits are Slack's
published ones (https://api.slack.com/reference/block-kit); the total-length one is what Slack does in practice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Surface = Literal["message", "view"]

MAX_BLOCKS = {"message": 50, "view": 100}
# Not documented: Slack starts answering msg_blocks_too_long near this many characters of blocks JSON.
MAX_BLOCKS_JSON_CHARS = 13_000
MAX_ID_CHARS = 255  # block_id and action_id
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10

BLOCK_TYPES = frozenset(
    {"section", "divider", "image", "actions", "context", "header", "input", "rich_text", "file", "video",
     "markdown"}
)  # fmt: skip
INTERACTIVE_ELEMENTS = frozenset(
    {"button", "checkboxes", "datepicker", "datetimepicker", "timepicker", "overflow", "radio_buttons",
     "static_select", "external_select", "users_select", "conversations_select", "channels_select",
     "multi_static_select", "multi_external_select", "multi_users_select", "multi_conversations_select",
     "multi_channels_select", "plain_text_input", "email_text_input", "url_text_input", "number_text_input",
     "rich_text_input", "workflow_button"}
)  # fmt: skip
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """None for blocks Slack accepts, else Slack's error code and its list of reasons."""

    error: str | None
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def check_blocks(blocks: Any, *, surface: Surface = "message") -> Verdict:
    """Slack's verdict on `blocks` (already decoded from JSON) for a message or a view (Home tab, modal)."""
    if blocks is None:
        return Verdict(error=None)
    if not isinstance(blocks, list):
        return Verdict(error="invalid_blocks_format", errors=("blocks must be an array [json-pointer:/blocks]",))
    problems = _Problems()
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        problems.add("/blocks", f"must contain at most {limit} items, has {len(blocks)}")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _check_block(block, f"/blocks/{i}", problems, block_ids)
    if problems.found:
        return Verdict(error="invalid_blocks", errors=tuple(problems.found))
    if surface == "message" and len(json.dumps(blocks, ensure_ascii=False)) > MAX_BLOCKS_JSON_CHARS:
        return Verdict(error="msg_blocks_too_long")
    return Verdict(error=None)


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, pointer: str, reason: str) -> None:
        self.found.append(f"{reason} [json-pointer:{pointer}]")


def _check_block(block: Any, at: str, problems: _Problems, block_ids: set[str]) -> None:
    if not isinstance(block, Mapping):
        problems.add(at, "must be an object")
        return
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        problems.add(f"{at}/type", f"unknown block type {kind!r}")
        return
    _check_unique_id(block, "block_id", at, problems, block_ids, scope="")
    if kind == "section":
        _check_section(block, at, problems)
    elif kind == "header":
        _check_text(block.get("text"), f"{at}/text", problems, limit=MAX_HEADER_TEXT, plain_only=True)
    elif kind == "actions":
        _check_elements(block.get("elements"), f"{at}/elements", problems, limit=MAX_ACTIONS_ELEMENTS)
    elif kind == "context":
        _check_context(block.get("elements"), f"{at}/elements", problems)


def _check_section(block: Mapping[str, Any], at: str, problems: _Problems) -> None:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        problems.add(at, "must have text or fields")
    if text is not None:
        _check_text(text, f"{at}/text", problems, limit=MAX_SECTION_TEXT)
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
            problems.add(f"{at}/fields", f"must be an array of at most {MAX_SECTION_FIELDS} text objects")
        else:
            for j, one in enumerate(fields):
                _check_text(one, f"{at}/fields/{j}", problems, limit=MAX_FIELD_TEXT)
    accessory = block.get("accessory")
    if accessory is not None:
        _check_element(accessory, f"{at}/accessory", problems, set())


def _check_context(elements: Any, at: str, problems: _Problems) -> None:
    if not isinstance(elements, list) or not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
        problems.add(at, f"must be an array of 1 to {MAX_CONTEXT_ELEMENTS} elements")
        return
    for j, element in enumerate(elements):
        if isinstance(element, Mapping) and element.get("type") == "image":
            continue
        _check_text(element, f"{at}/{j}", problems, limit=MAX_SECTION_TEXT)


def _check_elements(elements: Any, at: str, problems: _Problems, *, limit: int) -> None:
    if not isinstance(elements, list) or not elements or len(elements) > limit:
        problems.add(at, f"must be an array of 1 to {limit} elements")
        return
    action_ids: set[str] = set()  # Slack wants them unique within the block
    for j, element in enumerate(elements):
        _check_element(element, f"{at}/{j}", problems, action_ids)


def _check_unique_id(
    obj: Mapping[str, Any], key: str, at: str, problems: _Problems, seen: set[str], *, scope: str
) -> None:
    """A block_id (unique in the message) or an action_id (unique in its block), when present: Slack refuses
    a repeat with invalid_blocks."""
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        problems.add(f"{at}/{key}", f"must be 1 to {MAX_ID_CHARS} characters")
    elif value in seen:
        problems.add(f"{at}/{key}", f"repeats {key} {value!r}{scope}")
    else:
        seen.add(value)


def _check_element(element: Any, at: str, problems: _Problems, action_ids: set[str]) -> None:
    if not isinstance(element, Mapping):
        problems.add(at, "must be an object")
        return
    kind = element.get("type")
    if kind not in INTERACTIVE_ELEMENTS and kind != "image":
        problems.add(f"{at}/type", f"unknown element type {kind!r}")
        return
    _check_unique_id(element, "action_id", at, problems, action_ids, scope=" within the block")
    if kind == "button":
        _check_button(element, at, problems)


def _check_button(button: Mapping[str, Any], at: str, problems: _Problems) -> None:
    _check_text(button.get("text"), f"{at}/text", problems, limit=MAX_BUTTON_TEXT, plain_only=True)
    value = button.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE):
        problems.add(f"{at}/value", f"must be a string of at most {MAX_BUTTON_VALUE} characters")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > MAX_URL):
        problems.add(f"{at}/url", f"must be a string of at most {MAX_URL} characters")
    if button.get("style") not in (None, "primary", "danger"):
        problems.add(f"{at}/style", "must be primary or danger")


def _check_text(text: Any, at: str, problems: _Problems, *, limit: int, plain_only: bool = False) -> None:
    if not isinstance(text, Mapping):
        problems.add(at, "must be a text object")
        return
    kinds: Sequence[str] = ("plain_text",) if plain_only else tuple(TEXT_TYPES)
    if text.get("type") not in kinds:
        problems.add(f"{at}/type", f"must be one of {', '.join(sorted(kinds))}")
    body = text.get("text")
    if not isinstance(body, str) or not body:
        problems.add(f"{at}/text", "must be more than 0 characters")
    elif len(body) > limit:
        problems.add(f"{at}/text", f"must be less than {limit + 1} characters")


def check_home_view(view: Any) -> str | None:
    """Why Slack would refuse `view` as a Home tab (views.publish), or None when it would accept it."""
    if not isinstance(view, Mapping) or view.get("type") != "home":
        kind = view.get("type") if isinstance(view, Mapping) else type(view).__name__
        return f"a Home tab is a view of type home, not {kind!r}"
    verdict = check_blocks(view.get("blocks"), surface="view")
    return None if verdict.ok else "; ".join(str(e) for e in verdict.errors)
