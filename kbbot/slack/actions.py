"""The button wire format: how an `Offer` becomes a Slack button's `action_id` and `value`, and back.

    action_id   kb:<action>            walk, next, back, worked, failed, escalate, full, not_mine
                kb:<action>:<n>        pick, product, ref, lookup: several on one message, and Slack refuses a
                                       block whose action_ids repeat (invalid_blocks), so each is numbered
    value       {"v": <thread state version>, "a": <article id>, "m": <procedure no>, "s": <step no>,
                 "c": <product choice>, "sh": 1 (on a card /kb shared into the channel), "h": <seal>}
                only the keys that apply; procedure and step numbers are 0-based.
                lookup and share carry the bare article id: they only show an article to whoever presses,
                which `/kb` lets anyone do, so there is nothing to bind.

The seal binds a value to the thread it was posted in: an HMAC-SHA256 over the thread key, the version, the
action and the rest of the value, with a key derived from the signing secret, truncated to 16 hex digits. A
workspace member can send signed requests with any value; without the key they cannot move a button from one
thread to another, invent a version, or press one in a thread kbbot never joined. A shared card's thread is not
known when its buttons are drawn (the card is the thread's first message), so its seal binds the channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from kbbot.conversation.replies import Action, Offer
from kbbot.conversation.state import ThreadKey
from kbbot.errors import InvalidButtonError

ACTION_PREFIX = "kb:"
# The actions a message may show several of (one per article or product): numbered in their action_id.
LISTED = frozenset({Action.PICK, Action.PRODUCT, Action.REF, Action.LOOKUP})
# Shown to anyone, bound to nothing: the value is the article id (see the module docstring).
UNBOUND = frozenset({Action.LOOKUP, Action.SHARE})
SEAL_HEX_CHARS = 16
_KEY_LABEL = b"kbbot button values v1"

__all__ = ["ACTION_PREFIX", "ButtonCodec", "InvalidButtonError", "action_id", "action_of", "derive_key"]


def derive_key(secret: str) -> bytes:
    """The sealing key: derived from the signing secret, so it is never the secret itself."""
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def action_id(offer: Offer, index: int) -> str:
    """`kb:walk`, or `kb:pick:2` for the third of the listed kinds on one message."""
    base = f"{ACTION_PREFIX}{offer.action.value}"
    return f"{base}:{index}" if offer.action in LISTED else base


def action_of(action_id: str) -> Action | None:
    """The action an action_id names; None for one that is not kbbot's."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    name = action_id[len(ACTION_PREFIX) :].split(":", 1)[0]
    if name == "fixed":  # buttons drawn before "worked" was the one name for it
        return Action.WORKED
    try:
        return Action(name)
    except ValueError:
        return None


def _fields(offer: Offer) -> dict[str, Any]:
    data: dict[str, Any] = {
        "a": offer.article_id,
        "m": offer.procedure_no,
        "s": offer.step_no,
        "c": offer.choice,
        "sh": 1 if offer.shared else None,
    }
    return {k: v for k, v in data.items() if v is not None}


def _scope(where: ThreadKey, *, shared: bool) -> str:
    return f"{where.team}:{where.channel}:shared" if shared else where.as_str()


@dataclass(frozen=True, slots=True)
class ButtonCodec:
    """Encodes offers into button values sealed for a thread, and checks the values a click brings back."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> ButtonCodec:
        return cls(key=derive_key(secret))

    def _seal(self, scope: str, version: int, action: Action, fields: dict[str, Any]) -> str:
        payload = json.dumps(fields, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        message = f"{scope}|{version}|{action.value}|{payload}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:SEAL_HEX_CHARS]

    def encode(self, offer: Offer, *, where: ThreadKey | None) -> str:
        """The button value for `offer`, posted in the thread `where` (None: an ephemeral `/kb` answer)."""
        if offer.action in UNBOUND:
            return offer.article_id or ""
        if where is None:
            raise ValueError(f"a {offer.action} button needs the thread it is posted in")
        fields = _fields(offer)
        data = {"v": offer.version, **fields}
        data["h"] = self._seal(_scope(where, shared=offer.shared), offer.version, offer.action, fields)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    def decode(self, action_id: str, value: str, *, where: ThreadKey) -> Offer:
        """The offer a click on (`action_id`, `value`) in thread `where` presses; InvalidButtonError otherwise."""
        action = action_of(action_id)
        if action is None:
            raise InvalidButtonError(f"not a kbbot action: {action_id[:40]!r}")
        if action in UNBOUND:
            return Offer(action, article_id=value)
        try:
            data = json.loads(value)
        except ValueError:
            raise InvalidButtonError("value is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidButtonError("value is not an object")
        version, seal = data.pop("v", None), data.pop("h", None)
        # bool is an int subclass in Python; `{"v": true}` must not pass for version 1
        if type(version) is not int:
            raise InvalidButtonError("version is not an integer")
        if not isinstance(seal, str):
            raise InvalidButtonError("value carries no seal")
        shared = data.get("sh") == 1
        expected = self._seal(_scope(where, shared=shared), version, action, data)
        if not hmac.compare_digest(seal, expected):
            raise InvalidButtonError("seal does not match this thread")
        return _offer(action, version, data, shared=shared)


def _offer(action: Action, version: int, data: dict[str, Any], *, shared: bool) -> Offer:
    def text(key: str) -> str | None:
        v = data.get(key)
        return v if isinstance(v, str) else None

    def number(key: str) -> int | None:
        v = data.get(key)
        return v if type(v) is int else None

    return Offer(
        action,
        version,
        article_id=text("a"),
        choice=text("c"),
        procedure_no=number("m"),
        step_no=number("s"),
        shared=shared,
    )
