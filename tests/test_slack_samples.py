"""Every sample payload Slack publishes, delivered signed to the running app: a 2xx ack, no crash, no reply.

The samples (../shared/slack-samples) are schema examples: every string is empty, so not one of them is a
question anybody asked. Events not already in an `event_callback` envelope are wrapped in one; interactive
payloads go as a `payload=` form field; slash commands as a form.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from kbbot.server.loopback import LoopbackBot
from kbbot.standin import event_callback, interactive_form

# CI has shared/ beside the repository clone; a developer machine has it at /work/shared
_CANDIDATES = (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared"))
SAMPLES = next((p / "slack-samples" for p in _CANDIDATES if (p / "slack-samples").is_dir()), None)


def _samples() -> list[Path]:
    if SAMPLES is None:
        return []
    return sorted(SAMPLES.rglob("*.json"))


def _request(path: Path, payload: dict[str, Any]) -> tuple[str, str]:
    """(body, content type) for a sample, shaped the way Slack delivers that kind of payload."""
    kind = path.parent.name
    if kind == "slash-commands":
        return urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in payload.items()}), (
            "application/x-www-form-urlencoded"
        )
    if path.parent.parent.name == "app-backend":
        return interactive_form(payload), "application/x-www-form-urlencoded"
    if payload.get("type") == "event_callback" and isinstance(payload.get("event"), dict):
        envelope = dict(payload)
    elif isinstance(payload.get("event"), dict):
        # an envelope with its type left empty: keep its fields, make it the callback it describes
        envelope = dict(payload) | {"type": "event_callback"}
    else:
        envelope = event_callback(payload, team_id="", event_id=f"Ev{path.stem}")
    return json.dumps(envelope), "application/json"


@pytest.mark.skipif(SAMPLES is None, reason="../shared/slack-samples is not beside the repository")
async def test_every_sample_payload_is_acknowledged_without_a_reply(
    slack_bot: LoopbackBot, caplog: pytest.LogCaptureFixture
) -> None:
    # One bot for all of them (a bot per sample costs seconds); a reply is traced back by its arrival time.
    standin = slack_bot.standin
    sent: list[tuple[float, str]] = []
    bad_acks: list[str] = []
    with caplog.at_level(logging.WARNING):
        for path in _samples():
            name = f"{path.parent.name}/{path.stem}"
            body, content_type = _request(path, json.loads(path.read_text(encoding="utf-8")))
            sent.append((time.monotonic(), name))
            delivery = await standin.deliver(body, content_type=content_type)
            if not 200 <= delivery.status < 300:
                bad_acks.append(f"{name}: {delivery.status} {delivery.body[:100]}")
        await standin.quiet(settle_s=0.3)
    assert not bad_acks
    said = [c for c in standin.calls if c.at >= sent[0][0] and c.method != "auth.test"]
    culprits = {max((n for t, n in sent if t <= c.at), default="?") for c in said}
    assert not said, f"replies to {sorted(culprits)}: {[c.method for c in said]}"
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or "Unhandled" in r.getMessage()]
    assert not problems, [r.getMessage()[:300] for r in problems]
    assert slack_bot.runtime.metrics.events_in.value(kind="app_mention") == 1


def test_every_sample_kind_is_covered() -> None:
    if SAMPLES is None:
        pytest.skip("../shared/slack-samples is not beside the repository")
    kinds = {p.parent.name for p in _samples()}
    assert kinds >= {"events", "slash-commands", "interactive-components", "views", "dialogs"}
    assert len(_samples()) >= 100
