"""The HTTP routes: Slack's requests on /slack/events, /healthz and /metrics, on one aiohttp application.

Every request to /slack/events is checked here before bolt sees it, in this order, so nobody without the signing
secret can make the bot do any work (not even parse a body) and nothing malformed reaches a listener:

    signature and timestamp  ─► 401   unsigned, badly signed, stale, or a timestamp that is not a number
    body                     ─► 400   not UTF-8, not JSON or a form, nested too deep, not an object, odd event
    replayed form body       ─► 200   a /kb command or a button click whose exact signed body was seen in the last
                                      five minutes (a replay, not a person) is acknowledged and not acted on

Each refusal is one log line of bounded length, never a traceback, and a flood of them is at most one line
per REFUSAL_LOG_EVERY_S saying how many more there were: junk from the internet cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from kbbot.server.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from kbbot.server.runtime import BotRuntime

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Slack's own rule: a request signed more than five minutes ago is refused, so a signature need only be
# remembered that long to refuse its replay.
SIGNATURE_WINDOW_S = 300
# JSON from Slack is a few levels deep; a body nested deeper than this is an attack on the parser.
MAX_JSON_DEPTH = 64
LOGGED_REASON_CHARS = 120
REFUSAL_LOG_EVERY_S = 1.0


class RefusedRequestError(Exception):
    """Why a request to /slack/events is refused, and the HTTP status that says so."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_signature(headers: Any, body: bytes, *, secret: str, now: float) -> str:
    """The request's signature when it is Slack's for this body and recent; else RefusedRequestError(401)."""
    timestamp = str(headers.get("X-Slack-Request-Timestamp") or "")
    signature = str(headers.get("X-Slack-Signature") or "")
    if not timestamp or not signature:
        raise RefusedRequestError(401, "unsigned")
    if not timestamp.isdigit():
        raise RefusedRequestError(401, "the timestamp is not a number")
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_S:
        raise RefusedRequestError(401, "stale timestamp")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise RefusedRequestError(401, "bad signature")
    return signature


def check_body(body: bytes, *, content_type: str) -> dict[str, Any]:
    """The body parsed as Slack sends it (a JSON object, or a form with perhaps a JSON `payload`); else
    RefusedRequestError(400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedRequestError(400, "the body is not UTF-8") from None
    if content_type == "application/json":
        parsed = _json_object(text, what="the body")
        event = parsed.get("event")
        if event is not None and not isinstance(event, dict):
            raise RefusedRequestError(400, "event is not an object")
        return parsed
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        return _json_object(form["payload"], what="payload")
    if not form:
        raise RefusedRequestError(400, "an empty or unreadable form")
    return form


def _json_object(text: str, *, what: str) -> dict[str, Any]:
    if _nesting(text) > MAX_JSON_DEPTH:
        raise RefusedRequestError(400, f"{what} is nested too deep")
    try:
        parsed = json.loads(text)
    except ValueError:
        raise RefusedRequestError(400, f"{what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise RefusedRequestError(400, f"{what} is not a JSON object")
    return parsed


def _nesting(text: str) -> int:
    """How deep brackets nest (outside strings a rough count is enough: it only has to catch the absurd)."""
    openers = text.count("[") + text.count("{")
    if openers <= MAX_JSON_DEPTH:
        return openers  # cannot nest deeper than it opens: the usual event, told apart without a Python loop
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


class RefusalLog:
    """Refusals logged one line at a time, at most one line per REFUSAL_LOG_EVERY_S (the rest counted)."""

    def __init__(self) -> None:
        self._last = float("-inf")
        self._unlogged = 0

    def refused(self, *, status: int, reason: str, size: int, now: float) -> None:
        if now - self._last < REFUSAL_LOG_EVERY_S:
            self._unlogged += 1
            return
        more = f"; {self._unlogged} more refused since the last line" if self._unlogged else ""
        log.warning("refused a request to %s with %d: %s (%d bytes)%s", EVENTS_PATH, status,
                    reason[:LOGGED_REASON_CHARS], size, more)
        self._last, self._unlogged = now, 0


def web_app(runtime: BotRuntime, *, with_events: bool = True) -> web.Application:
    """The aiohttp application: Slack's requests (HTTP mode), health and metrics on one port."""
    app = web.Application()
    refusals = RefusalLog()

    async def events(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            signature = check_signature(
                request.headers, body, secret=runtime.settings.signing_secret or "", now=time.time()
            )
            check_body(body, content_type=request.content_type)
        except RefusedRequestError as refused:
            runtime.metrics.refused_requests.inc(reason=str(refused.status))
            refusals.refused(status=refused.status, reason=refused.reason, size=len(body), now=time.monotonic())
            return web.Response(status=refused.status, text=refused.reason)
        if request.content_type != "application/json" and not await _first_sight(runtime, signature):
            # Events carry an event_id and are de-duplicated on it; commands and clicks have nothing but this
            runtime.metrics.refused_requests.inc(reason="replay")
            log.warning("ignored a replayed %s request (its signature was seen in the last %ds)", EVENTS_PATH,
                        SIGNATURE_WINDOW_S)
            return web.Response(status=200)
        bolt_response = await runtime.app.async_dispatch(await to_bolt_request(request))
        if bolt_response.status == 404:
            # bolt's "no listener matched" (a view without a type, a payload type Slack added since): Slack
            # counts a 404 as a failure and retries, so a signed request nobody handles is still acknowledged
            log.info("acknowledged a request no listener handles")
            return web.Response(status=200)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        ok, details = await runtime.health()
        return web.json_response(details, status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        share = runtime.metrics_share
        text = share.render() if share is not None else runtime.metrics.render()
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    if with_events:
        app.router.add_post(EVENTS_PATH, events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def _first_sight(runtime: BotRuntime, signature: str) -> bool:
    try:
        return await runtime.store.claim_event(f"sig:{signature}", ttl_s=SIGNATURE_WINDOW_S)
    except Exception as exc:  # without the store a replay cannot be told from a first request: let it through
        log.warning("cannot check the request for a replay: %s", exc)
        return True
