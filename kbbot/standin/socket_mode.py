"""Slack's Socket Mode side: the WebSocket an app connects to, envelopes sent down it, acknowledgements back.

`apps.connections.open` (answered by the Web API side) hands out `ws://.../socket-mode`; once a client is
connected every delivery goes down the newest connection as the envelope Slack would send (events_api,
slash_commands, interactive) and waits for the app's acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kbbot.standin.ids import STANDIN_APP
from kbbot.standin.records import Delivery

# How long Slack waits for an envelope's acknowledgement before it counts the delivery as failed.
ACK_TIMEOUT_S = 5.0


class SocketModeSide:
    def __init__(self, *, record: Callable[[str, dict[str, Any]], None]) -> None:
        self._record = record
        self.sockets: list[web.WebSocketResponse] = []
        self.refused = False  # Slack's side of an outage: `drop(refuse=True)`
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    @property
    def connected(self) -> bool:
        return bool(self.sockets)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        self._record("socket.connect", {})
        await ws.send_json({"type": "hello", "num_connections": len(self.sockets),
                            "connection_info": {"app_id": STANDIN_APP}})
        try:
            async for frame in ws:
                if frame.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(frame.data)
                except ValueError:
                    continue
                envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                if envelope_id:
                    self._record("socket.ack", data)
                    waiter = self._acks.pop(envelope_id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(data)
        finally:
            self.sockets.remove(ws)
        return ws

    async def drop(self, *, refuse: bool = False) -> None:
        self.refused = refuse
        for ws in list(self.sockets):
            await ws.close()

    async def close(self) -> None:
        for ws in list(self.sockets):
            await ws.close()

    async def deliver(self, body: str, *, content_type: str) -> Delivery:
        if content_type == "application/json":
            kind, payload = "events_api", json.loads(body)
        else:
            form = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" in form:
                kind, payload = "interactive", json.loads(form["payload"])
            else:
                kind, payload = "slash_commands", form
        envelope_id = str(uuid.uuid4())
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        started = time.monotonic()
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        try:
            ack = await asyncio.wait_for(waiter, timeout=ACK_TIMEOUT_S)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
            return Delivery(status=504, body="no ack", elapsed_s=time.monotonic() - started)
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        elapsed = time.monotonic() - started
        answer = json.dumps(ack.get("payload") or {})
        return Delivery(status=200, body=answer, elapsed_s=elapsed, event_id=event_id)
