"""Redis outcome store, for several bot processes sharing one workspace. With `kbbot/store/redis.py` (whose
`RedisConnection` it shares), the only module importing `redis`.

Each thread's record is a JSON string under `kbbot:outcome:<team:channel:thread_ts>` that expires by itself when
its retention ends (EXPIREAT opening time + retention); the sorted set `kbbot:outcomes` holds every thread key
scored by its opening time, so a report reads a time range without scanning the keyspace. `update` is an
optimistic transaction (WATCH the record, MULTI/EXEC the write), retried when another process wrote first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.exceptions import RedisError, WatchError

from kbbot.conversation.state import ThreadKey
from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, PRUNE_EVERY, OutcomeFn, retention_seconds
from kbbot.outcomes.record import ThreadOutcome
from kbbot.store.base import Sweeps, retry_lost_writes
from kbbot.store.redis import RedisConnection


class RedisOutcomeStore:
    def __init__(
        self,
        *,
        url: str,
        retention_s: int = retention_seconds(DEFAULT_RETENTION_DAYS),
        prefix: str = "kbbot",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._retention_s = retention_s
        self._prefix = prefix
        self._clock = clock
        self._index = f"{prefix}:outcomes"
        self._sweeps = Sweeps(every=PRUNE_EVERY)
        self._redis = RedisConnection(url=url, what="outcome store")
        self._client = self._redis.client
        self._failed = self._redis.failed

    def _record_key(self, skey: str) -> str:
        return f"{self._prefix}:outcome:{skey}"

    def _live(self, record: ThreadOutcome) -> bool:
        return record.created_at >= self._clock() - self._retention_s

    async def get(self, key: ThreadKey) -> ThreadOutcome | None:
        try:
            data = await self._client.get(self._record_key(key.as_str()))
        except RedisError as exc:
            raise self._failed("read", exc) from exc
        if data is None:
            return None
        record = ThreadOutcome.from_json(data)
        return record if self._live(record) else None

    async def update(self, key: ThreadKey, fn: OutcomeFn) -> ThreadOutcome | None:
        skey = key.as_str()
        rkey = self._record_key(skey)

        # (won, (what is stored now, whether this call wrote it))
        async def attempt() -> tuple[bool, tuple[ThreadOutcome | None, bool]]:
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    await pipe.watch(rkey)
                    data = await pipe.get(rkey)
                    old = ThreadOutcome.from_json(data) if data is not None else None
                    if old is not None and not self._live(old):
                        old = None
                    new = fn(old)
                    if new is None or new == old:
                        await pipe.unwatch()
                        return True, (old, False)
                    pipe.multi()
                    pipe.set(rkey, new.to_json(), exat=int(new.created_at + self._retention_s) + 1)
                    pipe.zadd(self._index, {skey: new.created_at})
                    await pipe.execute()
            except WatchError:  # another process wrote the record after the WATCH
                return False, (None, False)
            except RedisError as exc:
                raise self._failed("write", exc) from exc
            return True, (new, True)

        stored, wrote = await retry_lost_writes(attempt, what=f"outcome {skey}")
        if wrote and self._sweeps.due_after_write():
            # the records expire by themselves; this drops their entries from the index of threads by time
            await self.prune(now=self._clock())
        return stored

    async def list(
        self, *, since: float, until: float | None = None, asker: str | None = None
    ) -> list[ThreadOutcome]:
        low = max(since, self._clock() - self._retention_s)
        high = "+inf" if until is None else f"({until!r}"
        try:
            skeys = await self._client.zrangebyscore(self._index, low, high)
            datas = await self._client.mget([self._record_key(k.decode()) for k in skeys]) if skeys else []
        except RedisError as exc:
            raise self._failed("list", exc) from exc
        records = [ThreadOutcome.from_json(d) for d in datas if d is not None]
        kept = [r for r in records if self._live(r) and (asker is None or r.asker == asker)]
        return sorted(kept, key=lambda r: (r.created_at, r.key.as_str()))

    async def prune(self, *, now: float) -> int:
        cutoff = now - self._retention_s
        try:
            skeys = await self._client.zrangebyscore(self._index, "-inf", f"({cutoff!r}")
            if not skeys:
                return 0
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(*[self._record_key(k.decode()) for k in skeys])
                pipe.zrem(self._index, *skeys)
                await pipe.execute()
        except RedisError as exc:
            raise self._failed("prune", exc) from exc
        return len(skeys)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.close()
