"""Redis thread store: for several bot processes (HTTP mode behind a load balancer) sharing one workspace.

With `kbbot/outcomes/redis.py`, the only module that imports `redis`; `RedisConnection` (the client, how its
failures read, ping and close) serves both. Thread state is a hash {version, state} under `kbbot:thread:<key>`
with an idle expiry; compare-and-set is a Lua script (atomic on the server); event claims are
`SET kbbot:event:<id> 1 NX EX ttl` (a message's lease and claims: one Lua script, one round trip); flood counts
are a sorted set of hit times under `kbbot:rate:<key>`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import StoreError
from kbbot.store.base import (
    DEFAULT_EVENT_TTL_S,
    DEFAULT_THREAD_TTL_S,
    KeyLocks,
    StateDecoder,
    check_window,
    transact_with_retries,
)
from kbbot.store.url import redact_url

log = logging.getLogger(__name__)

R = TypeVar("R")

# KEYS[1] thread key; ARGV: expected version ("0" = absent), new version, state JSON, ttl seconds.
_CAS = """
local current = redis.call('HGET', KEYS[1], 'version')
if (current == false and ARGV[1] == '0') or current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
  return 1
end
return 0
"""

# KEYS[1] the lease, KEYS[2..] the claims; ARGV: lease ttl, claim ttl. Returns false when the lease is held
# (nothing else claimed), else the positions (0-based) in the claims of those claimed before.
_CLAIM_DELIVERY = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  return false
end
local taken = {}
for i = 2, #KEYS do
  if not redis.call('SET', KEYS[i], '1', 'NX', 'EX', tonumber(ARGV[2])) then
    taken[#taken + 1] = i - 2
  end
end
return taken
"""


class RedisConnection:
    """One store's Redis client. Creating it does not connect; `what` names the store in every message
    ("thread store", "outcome store"), and the URL appears there without its password."""

    def __init__(self, *, url: str, what: str) -> None:
        self._url = url
        self._what = what
        try:
            self.client: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        except (RedisError, ValueError) as exc:
            raise StoreError(f"bad Redis URL {redact_url(url)!r}: {exc}") from exc

    def failed(self, what: str, exc: Exception) -> StoreError:
        return StoreError(f"Redis {self._what} at {redact_url(self._url)}: {what} failed: {exc}")

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            raise self.failed("ping", exc) from exc

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except RedisError as exc:  # closing a dead connection is not worth failing shutdown over
            log.warning("closing Redis %s: %s", self._what, exc)


class RedisThreadStore:
    def __init__(self, *, url: str, thread_ttl_s: int = DEFAULT_THREAD_TTL_S, prefix: str = "kbbot") -> None:
        self._ttl = thread_ttl_s
        self._prefix = prefix
        self._redis = RedisConnection(url=url, what="thread store")
        self._client = self._redis.client
        self._failed = self._redis.failed
        self._cas = self._client.register_script(_CAS)
        self._claim_delivery = self._client.register_script(_CLAIM_DELIVERY)
        self._key_locks = KeyLocks()
        self._decoder = StateDecoder(backend="Redis")

    def _thread_key(self, key: ThreadKey) -> str:
        return f"{self._prefix}:thread:{key.as_str()}"

    async def _read(self, rkey: str) -> tuple[ThreadState | None, int]:
        try:
            version, data = await self._client.hmget(rkey, ["version", "state"])
        except RedisError as exc:
            raise self._failed("read", exc) from exc
        if version is None or data is None:
            return None, 0
        return self._decoder.decode(rkey, data), int(version)

    async def get(self, key: ThreadKey) -> ThreadState | None:
        state, _ = await self._read(self._thread_key(key))
        return state

    async def transact(
        self, key: ThreadKey, fn: Callable[[ThreadState | None], tuple[ThreadState | None, R]]
    ) -> R:
        rkey = self._thread_key(key)

        async def write(expected: int, new: ThreadState) -> bool:
            try:
                won = await self._cas(keys=[rkey], args=[expected, new.version, new.to_json(), self._ttl])
            except RedisError as exc:
                raise self._failed("write", exc) from exc
            return bool(won == 1)

        return await transact_with_retries(
            key=key, locks=self._key_locks, read=lambda: self._read(rkey), write=write, fn=fn
        )

    async def claim_event(self, event_id: str, *, ttl_s: int = DEFAULT_EVENT_TTL_S) -> bool:
        try:
            claimed = await self._client.set(f"{self._prefix}:event:{event_id}", b"1", nx=True, ex=ttl_s)
        except RedisError as exc:
            raise self._failed("event claim", exc) from exc
        return bool(claimed)

    async def claim_delivery(
        self, lease: str, claims: Sequence[str], *, lease_ttl_s: int, ttl_s: int = DEFAULT_EVENT_TTL_S
    ) -> tuple[str, ...] | None:
        keys = [f"{self._prefix}:event:{e}" for e in (lease, *claims)]
        try:
            taken = await self._claim_delivery(keys=keys, args=[lease_ttl_s, ttl_s])
        except RedisError as exc:
            raise self._failed("event claim", exc) from exc
        if taken is None:
            return None
        return tuple(claims[int(i)] for i in taken)

    async def hit_rate(self, key: str, *, window_s: int) -> int:
        # A sorted set of hit times per key. Every process's clock is NTP-close, which is plenty for a minute.
        now = time.time()
        rkey = f"{self._prefix}:rate:{key}"
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                # MULTI/EXEC: trimmed, counted and given its expiry in one step, even if this process dies here
                pipe.zremrangebyscore(rkey, "-inf", now - check_window(window_s))
                pipe.zadd(rkey, {member: now})
                pipe.zcard(rkey)
                pipe.expire(rkey, window_s + 1)
                _trimmed, _added, hits, _expiry = await pipe.execute()
        except RedisError as exc:
            raise self._failed("rate count", exc) from exc
        return int(hits)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.close()
