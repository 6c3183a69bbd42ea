"""Sealed button values for kbbot's own Slack surfaces (feedback, the message shortcut, the Home tab).

The engine's buttons (`kb:...`) carry a thread state version and go through `ButtonCodec`; these carry no
version, only what the click needs (an article, a thread, a message's words), sealed with the same key:

    value  {"t": <thread ts>, "a": <article id>, ..., "h": <seal>}

The seal is an HMAC-SHA256 over the workspace and channel the click comes from, the button's kind and its
fields, so a signed request with a made-up value cannot vote in another thread or put words in another
channel's thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from kbbot.errors import InvalidButtonError
from kbbot.slack.actions import SEAL_HEX_CHARS


@dataclass(frozen=True, slots=True)
class SealedValues:
    key: bytes

    def _seal(self, *, team: str, channel: str, kind: str, fields: dict[str, Any]) -> str:
        payload = json.dumps(fields, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        message = f"{team}:{channel}|{kind}|{payload}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:SEAL_HEX_CHARS]

    def encode(self, kind: str, *, team: str, channel: str, **fields: str) -> str:
        data: dict[str, Any] = dict(fields)
        data["h"] = self._seal(team=team, channel=channel, kind=kind, fields=dict(fields))
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    def decode(self, kind: str, value: str, *, team: str, channel: str) -> dict[str, str]:
        """The fields of a value sealed for (`team`, `channel`, `kind`); InvalidButtonError otherwise."""
        try:
            data = json.loads(value)
        except ValueError:
            raise InvalidButtonError("value is not JSON") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise InvalidButtonError("value is not an object of strings")
        seal = data.pop("h", None)
        if seal is None:
            raise InvalidButtonError("value carries no seal")
        expected = self._seal(team=team, channel=channel, kind=kind, fields=data)
        if not hmac.compare_digest(seal, expected):
            raise InvalidButtonError("seal does not match this channel")
        return data
