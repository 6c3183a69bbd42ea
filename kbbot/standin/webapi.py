"""The stand-in's Web API: the Slack methods the bot calls, and the sender of signed requests to the bot.

Both directions are real HTTP, so the app under test (or under `kbbot chat`) runs exactly the code it runs against
Slack: slack_sdk's AsyncWebClient pointed at `standin.api_url`, and bolt's signature check on every request the
stand-in delivers. Every Web API call is recorded as an `ApiCall`; tests poll `wait_for()` instead of sleeping.

Errors are simulated per method and consumed in order (`fail_next` for Slack saying no, `fault_next` for the
transport misbehaving: see `faults.py`); channels can be marked as not joined or archived to provoke
`not_in_channel` / `is_archived`. Every message (chat.postMessage, chat.update, chat.postEphemeral, views.publish,
response_url) has its blocks checked as Slack checks them (`blockkit.py`); a refused one is answered
`invalid_blocks` like Slack and kept in `rejected`, so a test can assert that Slack would have taken everything.

Socket Mode is stood in too (`socket_mode.py`): with an `app_token`, `apps.connections.open` hands out a WebSocket
URL on the same server, and once the bot is connected (`wait_for_socket()`) deliveries go down the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from kbbot.standin.blockkit import Surface, check_blocks
from kbbot.standin.faults import Fault, FaultKind, SlackError
from kbbot.standin.ids import (
    STANDIN_BOT_ID,
    STANDIN_BOT_USER,
    STANDIN_CHANNEL,
    STANDIN_DM,
    STANDIN_HUMANS,
    STANDIN_TEAM,
    STANDIN_USER,
)
from kbbot.standin.payloads import block_actions_payload, event_callback, interactive_form, slash_command_form
from kbbot.standin.records import ApiCall, Delivery, Rejection
from kbbot.standin.signing import signed_headers
from kbbot.standin.socket_mode import SocketModeSide

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------------
# The Web API side


@dataclass(slots=True)
class _Channel:
    id: str
    name: str
    is_member: bool = True
    is_archived: bool = False
    is_im: bool = False
    is_ext_shared: bool = False  # Slack Connect: shared with another organisation


def _decode(args: dict[str, Any]) -> dict[str, Any]:
    """Form-encoded calls carry blocks/attachments as JSON strings; decode them so tests see one shape."""
    out = dict(args)
    for key in ("blocks", "attachments", "metadata"):
        value = out.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    return out


class SlackStandIn:
    """The Slack Web API on 127.0.0.1, recording calls; plus the sender of signed requests to the bot."""

    def __init__(
        self,
        *,
        token: str,
        signing_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = STANDIN_TEAM,
        bot_user_id: str = STANDIN_BOT_USER,
        bot_id: str = STANDIN_BOT_ID,
        app_token: str | None = None,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._host = host
        self._port = port
        self.calls: list[ApiCall] = []
        self.messages: list[dict[str, Any]] = []  # everything posted, ephemeral ones with "ephemeral_to"
        self.events_url: str | None = None
        self.rejected: list[Rejection] = []
        self._failures: dict[str, list[SlackError | Fault]] = {}
        self._channels: dict[str, _Channel] = {
            STANDIN_CHANNEL: _Channel(id=STANDIN_CHANNEL, name="support"),
            STANDIN_DM: _Channel(id=STANDIN_DM, name="", is_im=True),
            STANDIN_HUMANS: _Channel(id=STANDIN_HUMANS, name="it-helpdesk"),
        }
        self._last_ts = 0.0
        self._response_urls = itertools.count(1)
        self._changed = asyncio.Event()
        self._socket = SocketModeSide(record=self._record)
        self._closing = asyncio.Event()  # ends the hangs of `Fault.hang()`
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": lambda a: {"args": a},
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "conversations.replies": self._replies,
            "views.publish": self._publish_view,
            "chat.getPermalink": self._permalink,
            "reactions.add": self._reaction,
            "users.info": self._user_info,
            "conversations.info": self._conversation_info,
        }

    # ---- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{n}", self._response_url)
        app.router.add_get("/socket-mode", self._socket.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        # port 0 asks the OS for a free port; the runner knows which one it got
        self._port = int(self._runner.addresses[0][1])
        self._session = ClientSession(timeout=ClientTimeout(total=30))
        log.debug("Slack stand-in listening on %s", self.base_url)

    async def close(self) -> None:
        self._closing.set()
        await self._socket.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be for the bot (slack_sdk appends the method name)."""
        return f"{self.base_url}/api/"

    def new_response_url(self) -> str:
        return f"{self.base_url}/response/{next(self._response_urls)}"

    # ---- shaping the simulated workspace

    def fail_next(
        self, method: str, *, error: str, status: int = 200, retry_after: float | str | None = None
    ) -> None:
        """The next call of `method` is refused by Slack this way (queued: call twice for two failures)."""
        after = None if retry_after is None else str(retry_after)
        self._failures.setdefault(method, []).append(SlackError(error=error, status=status, retry_after=after))

    def rate_limit_next(self, method: str, *, retry_after: float | str = 0) -> None:
        self.fail_next(method, error="ratelimited", status=429, retry_after=retry_after)

    def fault_next(self, method: str, fault: Fault) -> None:
        """The next call of `method` meets this transport fault (queued with `fail_next`'s, in order).
        `method` "response_url" applies to posts to any slash command's response_url."""
        self._failures.setdefault(method, []).append(fault)

    def clear_faults(self) -> None:
        """Forget every queued failure: Slack is well again."""
        self._failures.clear()

    def set_channel(
        self, channel_id: str, *, is_member: bool = True, is_archived: bool = False, is_ext_shared: bool = False
    ) -> None:
        ch = self._channels.setdefault(channel_id, _Channel(id=channel_id, name=channel_id.lower()))
        ch.is_member = is_member
        ch.is_archived = is_archived
        ch.is_ext_shared = is_ext_shared

    def is_ext_shared(self, channel_id: str) -> bool:
        ch = self._channels.get(channel_id)
        return ch is not None and ch.is_ext_shared

    # ---- what happened

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[ApiCall], bool] | None = None,
    ) -> list[ApiCall]:
        """Poll until `count` calls of `method` (matching `where`) arrived; TimeoutError if they do not."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"expected {count} {method} call(s) within {timeout}s, saw {len(found)}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))

    async def quiet(self, *, settle_s: float = 0.2, timeout: float = 5.0) -> None:
        """Wait until no call has arrived for `settle_s`: proof that nothing more is coming."""
        deadline = time.monotonic() + timeout
        seen = len(self.calls)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            if len(self.calls) != seen:
                seen = len(self.calls)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle_s:
                return

    def replies(self) -> list[ApiCall]:
        """Every call that put words in front of a person."""
        return [
            c
            for c in self.calls
            if c.method in ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url")
        ]

    def message(self, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["ts"] == ts), None)

    # ---- sending to the bot

    async def deliver(
        self,
        body: str,
        *,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        retry_num: int | None = None,
    ) -> Delivery:
        """Sign `body` and post it to the bot (or send it down the Socket Mode connection, when there is one)."""
        if self._socket.connected:
            return await self._socket.deliver(body, content_type=content_type)
        if self.events_url is None or self._session is None:
            raise RuntimeError("start() the stand-in and set events_url before delivering requests")
        all_headers = signed_headers(
            body, secret=self.signing_secret, content_type=content_type, retry_num=retry_num
        )
        all_headers.update(headers or {})
        started = time.monotonic()
        async with self._session.post(self.events_url, data=body.encode(), headers=all_headers) as resp:
            text = await resp.text()
            return Delivery(status=resp.status, body=text, elapsed_s=time.monotonic() - started)

    async def send_event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> Delivery:
        shared = self.is_ext_shared(str(event.get("channel") or ""))
        envelope = event_callback(event, team_id=self.team_id, event_id=event_id, is_ext_shared_channel=shared)
        return await self.send_envelope(envelope, retry_num=retry_num)

    async def send_envelope(self, envelope: Mapping[str, Any], *, retry_num: int | None = None) -> Delivery:
        d = await self.deliver(json.dumps(envelope), content_type="application/json", retry_num=retry_num)
        return Delivery(status=d.status, body=d.body, elapsed_s=d.elapsed_s, event_id=envelope.get("event_id"))

    async def mention(
        self, text: str, *, channel: str = STANDIN_CHANNEL, user: str = STANDIN_USER, thread_ts: str | None = None
    ) -> tuple[Delivery, str]:
        """A person writes `@kbbot text` in a channel; returns the delivery and the message's ts."""
        ts = self._next_ts()
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{self.bot_user_id}> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        self.messages.append(
            {"channel": channel, "ts": ts, "thread_ts": thread_ts, "text": event["text"], "user": user}
        )
        return await self.send_event(event), ts

    async def say(
        self, text: str, *, channel: str = STANDIN_CHANNEL, user: str = STANDIN_USER, thread_ts: str | None = None
    ) -> tuple[Delivery, str]:
        """A person writes a plain message (a thread reply when `thread_ts`, a DM when the channel is a D...)."""
        ts = self._next_ts()
        ch = self._channels.get(channel)
        is_im = channel.startswith("D") or (ch is not None and ch.is_im)
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "channel_type": "im" if is_im else ("group" if channel.startswith("G") else "channel"),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        self.messages.append({"channel": channel, "ts": ts, "thread_ts": thread_ts, "text": text, "user": user})
        return await self.send_event(event), ts

    async def slash(
        self, command: str, text: str, *, channel: str = STANDIN_CHANNEL, user: str = STANDIN_USER
    ) -> Delivery:
        body = slash_command_form(
            command=command,
            text=text,
            user_id=user,
            channel_id=channel,
            team_id=self.team_id,
            response_url=self.new_response_url(),
        )
        return await self.deliver(body, content_type="application/x-www-form-urlencoded")

    async def click(
        self, message: Mapping[str, Any], *, action_id: str, value: str, user: str = STANDIN_USER
    ) -> Delivery:
        """Press the button `action_id` on a message the bot posted (as recorded in `messages`)."""
        payload = block_actions_payload(
            action_id=action_id,
            value=value,
            message=message,
            channel_id=message["channel"],
            user_id=user,
            team_id=self.team_id,
            is_ephemeral=bool(message.get("ephemeral_to")),
            response_url=self.new_response_url(),
        )
        return await self.deliver(interactive_form(payload), content_type="application/x-www-form-urlencoded")

    # ---- HTTP handlers

    def _next_ts(self) -> str:
        # Slack's ts is unique per channel and increasing; microsecond steps keep ours unique everywhere
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _record(self, method: str, args: dict[str, Any]) -> None:
        self.calls.append(ApiCall(method=method, args=args))
        self._changed.set()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    return web.json_response({"ok": False, "error": "invalid_json"})
                if isinstance(body, dict):
                    args.update(body)
            else:
                args.update(dict(await request.post()))
        args = _decode(args)
        token = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
        token = token or args.pop("token", None)
        self._record(method, args)
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":
            if self.app_token is None or token != self.app_token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            if self._socket.refused:
                return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
            return web.json_response({"ok": True, "url": f"ws://{self._host}:{self._port}/socket-mode"})
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self._handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=200)
        return await self._answer(request, method, lambda: handler(args))

    async def _answer(
        self, request: web.Request, method: str, work: Callable[[], dict[str, Any]]
    ) -> web.StreamResponse:
        """Do `work` and answer with its JSON, unless a queued failure for `method` says otherwise."""
        queued = self._failures.get(method)
        failure = queued.pop(0) if queued else None
        if isinstance(failure, SlackError):
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else None
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
        if failure is None:
            return web.json_response(work())
        if failure.kind is FaultKind.HTTP:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            return web.Response(status=failure.status, body=failure.body.encode(), headers=headers,
                                content_type=failure.content_type)
        if failure.kind is FaultKind.HANG:
            await self._closing.wait()
            return web.Response(status=503)
        if failure.kind is FaultKind.DELAY:
            await asyncio.sleep(failure.delay_s)
            return web.json_response(work())
        # DROP_AFTER_ACCEPT: Slack did the work, then the connection went before the answer reached the bot
        work()
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=200)  # never reaches the caller: the connection has gone

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        args = _decode(body if isinstance(body, dict) else {})
        args["response_url"] = str(request.url)
        self._record("response_url", args)
        queued = self._failures.get("response_url")
        if queued:
            failure = queued[0]
            if isinstance(failure, Fault) and failure.kind is FaultKind.HTTP:
                queued.pop(0)  # a dead response_url answers like Slack's: a status and a short text
                return web.Response(status=failure.status, text=failure.body or "no_response_url")
        if args.get("delete_original"):
            return web.Response(text="ok")
        rejected = self._refused_blocks("response_url", args)
        if rejected is not None:
            # Slack's response_url answers a refused message with a 4xx and the reason as text
            return web.Response(status=400, text=rejected["error"])
        ephemeral = args.get("response_type", "ephemeral") == "ephemeral"
        self._keep_bot_message(
            str(args.get("channel") or STANDIN_CHANNEL),
            args,
            ephemeral_to=STANDIN_USER if ephemeral else None,
            via="response_url",
        )
        return web.Response(text="ok")

    async def drop_sockets(self, *, refuse: bool = False) -> None:
        """Close every Socket Mode connection, as Slack does now and then (the client should reconnect); with
        `refuse`, also turn new connections away until `accept_sockets()`: an outage on Slack's side."""
        await self._socket.drop(refuse=refuse)

    def accept_sockets(self) -> None:
        self._socket.refused = False

    async def wait_for_socket(self, *, timeout: float = 10.0) -> None:
        """Until a Socket Mode client has connected (and had its hello)."""
        await self.wait_for("socket.connect", timeout=timeout)

    # ---- method implementations (args are decoded; the token is checked)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://standin.slack.test/",
            "team": "Stand-in",
            "user": "kbbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel_error(self, channel: str | None) -> dict[str, Any] | None:
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        ch = self._channels.get(channel)
        if ch is None:
            # any well-formed id exists, so tests need not declare channels; "C0MISSING" is the exception
            if channel.startswith("C0MISSING"):
                return {"ok": False, "error": "channel_not_found"}
            ch = self._channels.setdefault(channel, _Channel(id=channel, name=channel.lower()))
        if ch.is_archived:
            return {"ok": False, "error": "is_archived"}
        if not ch.is_member:
            return {"ok": False, "error": "not_in_channel"}
        return None

    def _message_args(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        return self._refused_blocks(method, args)

    def _refused_blocks(
        self, method: str, args: Mapping[str, Any], *, surface: Surface = "message"
    ) -> dict[str, Any] | None:
        """Slack's answer to blocks it would not accept (recorded in `rejected`), or None when they are fine."""
        blocks = args.get("blocks")
        verdict = check_blocks(blocks, surface=surface)
        if verdict.error is None:
            return None
        self.rejected.append(Rejection(method=method, error=verdict.error, errors=verdict.errors, blocks=blocks))
        log.warning("stand-in refused %s: %s %s", method, verdict.error, "; ".join(verdict.errors[:5]))
        answer: dict[str, Any] = {"ok": False, "error": verdict.error}
        if verdict.errors:
            answer["errors"] = list(verdict.errors)
        return answer

    def _keep_bot_message(self, channel: str, args: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        """Remember what the bot said, as the person (and `click()`) would see it."""
        message = {
            "type": "message",
            "channel": channel,
            "ts": self._next_ts(),
            "thread_ts": args.get("thread_ts") or None,
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "user": self.bot_user_id,
            **extra,
        }
        self.messages.append(message)
        return message

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        error = self._channel_error(channel) or self._message_args("chat.postMessage", args)
        if error:
            return error
        metadata = args.get("metadata")
        extra = {"metadata": metadata} if isinstance(metadata, dict) else {}
        message = self._keep_bot_message(str(channel), args, bot_id=self.bot_id, **extra)
        shown = {k: v for k, v in message.items() if v}
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": shown}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        error = self._channel_error(channel) or self._message_args("chat.postEphemeral", args)
        if error:
            return error
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        message = self._keep_bot_message(str(channel), args, ephemeral_to=args["user"])
        return {"ok": True, "message_ts": message["ts"]}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self.message(str(args.get("ts", "")))
        if found is None or found.get("channel") != args.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        if found.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_update_message"}
        refused = self._refused_blocks("chat.update", args)
        if refused is not None:
            return refused
        found["text"] = args.get("text", found["text"])
        if "blocks" in args:
            found["blocks"] = args["blocks"] or []
        return {"ok": True, "channel": found["channel"], "ts": found["ts"], "text": found["text"]}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread's messages, oldest first: its parent, then the replies (metadata included when asked)."""
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        in_thread = [
            m
            for m in self.messages
            if m.get("channel") == channel
            and not m.get("ephemeral_to")
            and ts in (m["ts"], m.get("thread_ts"))
        ]
        if not in_thread:
            return {"ok": False, "error": "thread_not_found"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        shown = [
            {k: v for k, v in m.items() if v and (with_metadata or k != "metadata") and k != "channel"}
            for m in sorted(in_thread, key=lambda m: float(m["ts"]))
        ]
        return {"ok": True, "messages": shown, "has_more": False}

    def _publish_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            with contextlib.suppress(ValueError):
                view = json.loads(view)
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        refused = self._refused_blocks("views.publish", view, surface="view")
        if refused is not None:
            return refused
        return {"ok": True, "view": {"id": "V0STANDIN", "type": "home", "blocks": view.get("blocks") or []}}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("message_ts", ""))
        found = self.message(ts)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://standin.slack.test/archives/{channel}/p{ts.replace('.', '')}"
        if found.get("thread_ts"):
            link += f"?thread_ts={found['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _reaction(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self.message(str(args.get("timestamp", "")))
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        name = str(args.get("name", ""))
        reactions = found.setdefault("reactions", [])
        if name in reactions:
            return {"ok": False, "error": "already_reacted"}
        reactions.append(name)
        return {"ok": True}

    def _user_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        if not user.startswith(("U", "W")):
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": "kbbot" if user == self.bot_user_id else "asker",
                "real_name": "Stand-in Asker",
                "tz": "Europe/London",
                "is_bot": user == self.bot_user_id,
                "profile": {"display_name": "asker", "real_name": "Stand-in Asker"},
            },
        }

    def _conversation_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        ch = self._channels.get(channel)
        if ch is None:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": ch.id,
                "name": ch.name,
                "is_channel": not ch.is_im,
                "is_im": ch.is_im,
                "is_member": ch.is_member,
                "is_archived": ch.is_archived,
                "is_ext_shared": ch.is_ext_shared,
            },
        }
