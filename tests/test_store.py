"""One contract for every thread store: memory, SQLite (a tmp file) and Redis (a real redis-server on loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from conftest import redis_server_binary

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import ConflictError, StoreError
from kbbot.outcomes import open_outcome_store
from kbbot.store import ThreadStore, open_store
from kbbot.store.url import Backend, redact_url, sqlite_path, store_backend

KEY = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = redis_server_binary()
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
         "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_db_counter = iter(range(1, 10_000))


def backend_url(backend: str, *, request: pytest.FixtureRequest, tmp_path: Path, redis_db: int) -> str:
    """The URL of a store of `backend` ("memory", "sqlite", "redis") for one test: a file in the test's own
    folder, or logical database `redis_db` of the session's redis-server (not emptied here)."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    base: str = request.getfixturevalue("redis_url")
    return base.rsplit("/", 1)[0] + f"/{redis_db}"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # a fresh logical database per test, so tests never see each other's keys
    return backend_url(request.param, request=request, tmp_path=tmp_path, redis_db=next(_db_counter) % 16)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[ThreadStore]:
    s = open_store(store_url)
    if store_url.startswith("redis"):
        await s._client.flushdb()  # type: ignore[attr-defined]
    yield s
    await s.close()


def _add(item: str, *, now: float = 1.0):  # type: ignore[no-untyped-def]
    """A pure update: append `item` to the candidates (a list we can count), bumping the version."""

    def fn(state: ThreadState | None) -> tuple[ThreadState | None, int]:
        base = state or ThreadState()
        new = base.evolve(now=now, candidates=(*base.candidates, item))
        return new, new.version

    return fn


# --- the contract ------------------------------------------------------------------------------------------------


async def test_unknown_thread_is_none(store: ThreadStore) -> None:
    assert await store.get(KEY) is None
    await store.ping()


async def test_transact_creates_updates_and_returns_the_result(store: ThreadStore) -> None:
    assert await store.transact(KEY, _add("Q1")) == 1
    assert await store.transact(KEY, _add("Q2")) == 2
    state = await store.get(KEY)
    assert state is not None and state.version == 2 and state.candidates == ("Q1", "Q2")


async def test_no_change_writes_nothing(store: ThreadStore) -> None:
    await store.transact(KEY, _add("Q1"))
    assert await store.transact(KEY, lambda s: (s, "same")) == "same"
    assert await store.transact(KEY, lambda s: (None, "none")) == "none"
    state = await store.get(KEY)
    assert state is not None and state.version == 1 and state.candidates == ("Q1",)


async def test_state_round_trips_exactly(store: ThreadStore) -> None:
    hostile = "<!channel> & ``` *bold* 😀 \u200b é \n" * 10
    new = ThreadState().evolve(
        now=12.5, question=hostile, asker="U1", product="Microsoft Exchange Server", status="walking",
        article_id="Q237695", procedure_no=1, step_no=4, excluded=("Q1",), candidates=("Q237695", "Q1"),
    )  # fmt: skip
    new = dataclasses.replace(new, history=new.with_event("shown", now=12.5, article_id="Q237695", step_no=4))
    await store.transact(KEY, lambda s: (new, None))
    assert await store.get(KEY) == new


async def test_threads_are_keyed_by_team_channel_and_ts(store: ThreadStore) -> None:
    other_channel = dataclasses.replace(KEY, channel="C2")
    other_team = dataclasses.replace(KEY, team="T2")
    await store.transact(KEY, _add("Q1"))
    await store.transact(other_channel, _add("Q2"))
    assert (await store.get(KEY)).candidates == ("Q1",)  # type: ignore[union-attr]
    assert (await store.get(other_channel)).candidates == ("Q2",)  # type: ignore[union-attr]
    assert await store.get(other_team) is None


async def test_fifty_concurrent_updates_to_one_thread_lose_none(store: ThreadStore) -> None:
    results = await asyncio.gather(*(store.transact(KEY, _add(f"Q{i}")) for i in range(50)))
    state = await store.get(KEY)
    assert state is not None
    assert sorted(state.candidates) == sorted(f"Q{i}" for i in range(50))
    assert state.version == 50 and sorted(results) == list(range(1, 51))


async def test_version_must_move_forward(store: ThreadStore) -> None:
    await store.transact(KEY, _add("Q1"))
    await store.transact(KEY, _add("Q2"))
    with pytest.raises(StoreError, match="version"):
        await store.transact(KEY, lambda s: (ThreadState(version=1), None))


async def test_fn_errors_propagate_and_nothing_is_written(store: ThreadStore) -> None:
    await store.transact(KEY, _add("Q1"))

    def broken(state: ThreadState | None) -> tuple[ThreadState | None, None]:
        raise RuntimeError("engine bug")

    with pytest.raises(RuntimeError):
        await store.transact(KEY, broken)
    assert (await store.get(KEY)).version == 1  # type: ignore[union-attr]


async def test_claim_event_once(store: ThreadStore) -> None:
    assert await store.claim_event("Ev1") is True
    assert await store.claim_event("Ev1") is False
    assert await store.claim_event("Ev2") is True
    claims = await asyncio.gather(*(store.claim_event("Ev3") for _ in range(20)))
    assert claims.count(True) == 1


async def test_claim_delivery_takes_the_lease_then_the_claims_in_one_step(store: ThreadStore) -> None:
    assert await store.claim_delivery("lease:m1", ["Ev1", "msg:m1"], lease_ttl_s=60) == ()  # a first delivery
    # a redelivery while the lease lives: nothing is claimed, not even a new event id
    assert await store.claim_delivery("lease:m1", ["Ev2", "msg:m1"], lease_ttl_s=60) is None
    assert await store.claim_event("Ev2") is True
    # the lease gone (the answering process died), the claims say what was handled before
    assert await store.claim_delivery("lease:m2", ["Ev1", "Ev3", "msg:m1"], lease_ttl_s=60) == ("Ev1", "msg:m1")
    twins = await asyncio.gather(*(store.claim_delivery("lease:m4", ["Ev4"], lease_ttl_s=60) for _ in range(20)))
    assert twins.count(()) == 1 and twins.count(None) == 19


async def test_a_delivery_lease_expires_and_its_claims_are_kept(store_url: str) -> None:
    store = open_store(store_url)
    try:
        if store_url.startswith("redis"):
            await store._client.flushdb()  # type: ignore[attr-defined]
        assert await store.claim_delivery("lease:m", ["EvL", "msg:m"], lease_ttl_s=1) == ()
        await asyncio.sleep(1.3)
        assert await store.claim_delivery("lease:m", ["EvL", "msg:m"], lease_ttl_s=1) == ("EvL", "msg:m")
    finally:
        await store.close()


async def test_expiry_of_idle_threads_and_event_claims(store_url: str) -> None:
    store = open_store(store_url, thread_ttl_s=1)
    try:
        if store_url.startswith("redis"):
            await store._client.flushdb()  # type: ignore[attr-defined]
        await store.transact(KEY, _add("Q1"))
        assert await store.claim_event("EvX", ttl_s=1) is True
        assert await store.claim_event("EvX", ttl_s=1) is False
        await asyncio.sleep(1.3)
        assert await store.get(KEY) is None
        # an expired thread starts afresh
        assert await store.transact(KEY, _add("Q2")) == 1
        assert (await store.get(KEY)).candidates == ("Q2",)  # type: ignore[union-attr]
        assert await store.claim_event("EvX", ttl_s=1) is True
    finally:
        await store.close()


async def test_hit_rate_counts_per_key_within_a_window(store: ThreadStore) -> None:
    assert [await store.hit_rate("T1:U1", window_s=60) for _ in range(3)] == [1, 2, 3]
    assert await store.hit_rate("T1:U2", window_s=60) == 1
    counts = await asyncio.gather(*(store.hit_rate("T1:U3", window_s=60) for _ in range(25)))
    assert sorted(counts) == list(range(1, 26))  # concurrent hits are each counted once


async def test_hit_rate_forgets_hits_older_than_the_window(store: ThreadStore) -> None:
    await store.hit_rate("burst", window_s=1)
    await store.hit_rate("burst", window_s=1)
    await asyncio.sleep(1.05)
    assert await store.hit_rate("burst", window_s=1) == 1
    assert await store.hit_rate("burst", window_s=1) == 2


# --- several processes sharing one store (SQLite file, Redis) ----------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    base: str = request.getfixturevalue("redis_url")
    return base.rsplit("/", 1)[0] + "/15"


async def test_two_store_instances_share_threads_and_claims(shared_url: str) -> None:
    first, second = open_store(shared_url), open_store(shared_url)
    try:
        if shared_url.startswith("redis"):
            await first._client.flushdb()  # type: ignore[attr-defined]
        updates = [(first if i % 2 else second).transact(KEY, _add(f"Q{i}")) for i in range(50)]
        await asyncio.gather(*updates)
        for s in (first, second):
            state = await s.get(KEY)
            assert state is not None and len(set(state.candidates)) == 50 and state.version == 50
        claims = await asyncio.gather(*((first if i % 2 else second).claim_event("shared") for i in range(10)))
        assert claims.count(True) == 1
        stores = (first, second)
        leases = await asyncio.gather(
            *(stores[i % 2].claim_delivery("lease:x", ["Ev", "msg:x"], lease_ttl_s=60) for i in range(10))
        )
        assert leases.count(()) == 1 and leases.count(None) == 9
        hits = await asyncio.gather(*(stores[i % 2].hit_rate("T1:U1", window_s=60) for i in range(20)))
        assert sorted(hits) == list(range(1, 21))  # a flood limit holds across processes
    finally:
        await first.close()
        await second.close()


def _interloper_write(url: str, state: ThreadState) -> None:
    """Another process writing the thread behind the store's back (synchronously, mid-transact)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite://") :]) as conn:
            conn.execute(
                "UPDATE threads SET version = ?, state = ? WHERE key = ?",
                (state.version, state.to_json(), KEY.as_str()),
            )
    else:
        import redis

        client = redis.Redis.from_url(url)
        client.hset(f"kbbot:thread:{KEY.as_str()}", mapping={"version": state.version, "state": state.to_json()})
        client.close()


async def test_a_conflicting_write_makes_fn_run_again_on_the_fresh_state(shared_url: str) -> None:
    store = open_store(shared_url)
    try:
        if shared_url.startswith("redis"):
            await store._client.flushdb()  # type: ignore[attr-defined]
        await store.transact(KEY, _add("Q1"))
        seen: list[tuple[str, ...]] = []

        def fn(state: ThreadState | None) -> tuple[ThreadState | None, int]:
            assert state is not None
            seen.append(state.candidates)
            if len(seen) == 1:  # the first attempt loses: someone else writes version 2 meanwhile
                _interloper_write(shared_url, state.evolve(now=3.0, candidates=(*state.candidates, "other")))
            new = state.evolve(now=4.0, candidates=(*state.candidates, "mine"))
            return new, new.version

        assert await store.transact(KEY, fn) == 3
        assert seen == [("Q1",), ("Q1", "other")]
        state = await store.get(KEY)
        assert state is not None and state.candidates == ("Q1", "other", "mine") and state.version == 3
    finally:
        await store.close()


# --- backend specifics ------------------------------------------------------------------------------------------


def test_unknown_store_url() -> None:
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("mongodb://localhost")
    with pytest.raises(StoreError, match="no database path"):
        open_store("sqlite://")


def test_a_store_url_names_its_backend_and_the_sqlite_file() -> None:
    # read once (kbbot.store.url) for the thread store and the outcome store that share the URL
    assert store_backend("MEMORY://") is Backend.MEMORY
    assert [store_backend(u) for u in ("redis://h:6379/0", "rediss://h:6380/1", "unix:///run/redis.sock")] == [
        Backend.REDIS
    ] * 3
    assert sqlite_path("sqlite:////var/lib/kbbot/state.db") == "//var/lib/kbbot/state.db"
    assert sqlite_path("sqlite:///var/lib/kbbot/state.db") == "/var/lib/kbbot/state.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"
    with pytest.raises(StoreError, match="no database path in 'sqlite:///'"):
        sqlite_path("sqlite:///")
    assert redact_url("redis://:hunter2@cache.internal:6379/0") == "redis://***@cache.internal:6379/0"
    assert redact_url("redis://cache.internal:6379/0") == "redis://cache.internal:6379/0"


def test_a_malformed_redis_url_is_a_store_error_that_hides_the_password() -> None:
    with pytest.raises(StoreError) as bad:
        open_store("redis://:hunter2@cache.internal:notaport/0")
    assert "hunter2" not in str(bad.value)
    assert str(bad.value).startswith("bad Redis URL 'redis://***@cache.internal:notaport/0': ")


async def test_a_write_that_keeps_losing_gives_up_with_a_conflict_naming_the_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kbbot.store import base

    monkeypatch.setattr(base, "CAS_BACKOFF_S", 0.0)  # 100 lost attempts without the pauses between them
    attempts = 0

    async def always_loses() -> tuple[bool, None]:
        nonlocal attempts
        attempts += 1
        return False, None

    with pytest.raises(ConflictError, match=r"^outcome T1:C1:1\.0: gave up after 100 conflicting writes$"):
        await base.retry_lost_writes(always_loses, what="outcome T1:C1:1.0")
    assert attempts == base.MAX_CAS_ATTEMPTS == 100


async def test_sqlite_records_named_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    for _ in range(2):
        store = open_store(f"sqlite:///{path}")
        await store.ping()
        await store.close()
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert names == ["0001_threads_and_events", "0002_rate_hits"]
    assert mode == "wal"


async def test_sqlite_waits_for_another_process_lock_without_blocking_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:///{path}")
    try:
        await store.transact(KEY, _add("Q1"))  # opened, with the event-loop connection in use
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        write = asyncio.create_task(store.transact(KEY, _add("Q2")))
        ticks = 0
        for _ in range(20):  # the event loop keeps running while the write waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not write.done()
        other.execute("COMMIT")
        other.close()
        assert await asyncio.wait_for(write, timeout=10) == 2
        assert (await store.get(KEY)).candidates == ("Q1", "Q2")  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_sqlite_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = open_store(f"sqlite:///{blocker / 'state.db'}")
    with pytest.raises(StoreError, match="SQLite"):
        await store.ping()


def _damage_thread_row(url: str, data: str) -> None:
    """Overwrite the stored state of KEY behind the store's back, as a damaged or foreign row would look."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite://") :]) as conn:
            conn.execute("UPDATE threads SET state = ? WHERE key = ?", (data, KEY.as_str()))
    else:
        import redis

        client = redis.Redis.from_url(url)
        client.hset(f"kbbot:thread:{KEY.as_str()}", "state", data)
        client.close()


async def test_a_thread_that_no_longer_decodes_is_logged_once_and_starts_afresh(
    shared_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(shared_url)
    try:
        if shared_url.startswith("redis"):
            await store._client.flushdb()  # type: ignore[attr-defined]
        await store.transact(KEY, _add("Q1"))
        await store.transact(KEY, _add("Q2"))
        _damage_thread_row(shared_url, "{not json")
        caplog.set_level("WARNING", logger="kbbot.store")
        assert await store.get(KEY) is None
        assert await store.get(KEY) is None
        warnings = [r for r in caplog.records if "cannot be read" in r.getMessage()]
        assert len(warnings) == 1 and KEY.as_str() in warnings[0].getMessage()
        # the next message in the thread is answered from a fresh state, which replaces the damaged row
        assert await store.transact(KEY, _add("Q3")) == 1
        state = await store.get(KEY)
        assert state is not None and state.candidates == ("Q3",)
    finally:
        await store.close()


def scribble_over_pages(path: Path) -> None:
    """Scribble over every page but the first (the header and schema stay readable, the tables do not)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page,) = conn.execute("PRAGMA page_size").fetchone()
    data = bytearray(path.read_bytes())
    for start in range(page, len(data), page):
        data[start : start + page] = bytes([0xA5]) * page
    path.write_bytes(bytes(data))


async def test_a_corrupt_sqlite_file_names_the_cause_and_fails_the_health_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:///{path}")
    for n in range(40):  # enough threads for the tables to span several pages
        await store.transact(dataclasses.replace(KEY, thread_ts=f"17.{n}"), _add("Q1" * 50))
    await store.close()
    scribble_over_pages(path)

    store = open_store(f"sqlite:///{path}")
    caplog.set_level("ERROR", logger="kbbot.store")
    try:
        with pytest.raises(StoreError) as failure:
            await store.transact(KEY, _add("Q2"))
        message = str(failure.value)
        assert "malformed" in message and "damaged; move it aside" in message
        assert "cannot rollback" not in message and "cannot rollback" not in caplog.text
        assert "malformed" in caplog.text  # one clear log line naming the cause
        with pytest.raises(StoreError, match=r"malformed|damaged"):
            await store.ping()
    finally:
        await store.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny file system (tmpfs of 512 KiB), so the disk really fills up; skipped where mounting is not
    allowed (an unprivileged container)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_names_the_cause_and_health_recovers_once_there_is_room(small_disk: Path) -> None:
    store = open_store(f"sqlite:///{small_disk / 'state.db'}")
    try:
        await store.transact(KEY, _add("Q1"))
        ballast = small_disk / "ballast"
        with open(ballast, "wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:  # fill what is left of the disk
                fh.write(b"\0" * 4096)
        big = "Q" * 200_000  # a thread state far bigger than any room left
        with pytest.raises(StoreError) as failure:
            for n in range(20):
                await store.transact(dataclasses.replace(KEY, thread_ts=f"18.{n}"), _add(big))
        assert "disk is full" in str(failure.value) and "cannot rollback" not in str(failure.value)
        with pytest.raises(StoreError, match="disk is full"):
            await store.ping()
        ballast.unlink()
        await store.ping()  # room again: healthy without a restart
        assert await store.transact(KEY, _add("Q2")) == 2
    finally:
        await store.close()


async def test_unreachable_redis_is_a_store_error() -> None:
    store = open_store(f"redis://127.0.0.1:{_free_port()}/0")
    try:
        with pytest.raises(StoreError, match="Redis"):
            await store.ping()
        with pytest.raises(StoreError, match="Redis"):
            await store.get(KEY)
        with pytest.raises(StoreError, match="Redis"):
            await store.claim_event("E")
        with pytest.raises(StoreError, match="Redis"):
            await store.hit_rate("U", window_s=60)
    finally:
        await store.close()


def test_redis_client_is_imported_only_by_the_redis_backend() -> None:
    root = Path(__file__).resolve().parents[1] / "kbbot"
    importers = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if any(
            line.strip().startswith(("import redis", "from redis"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    ]
    # the thread store's and the outcome store's Redis backends, nothing else
    assert sorted(importers) == ["outcomes/redis.py", "store/redis.py"]


@pytest.mark.parametrize(
    ("opener", "backend_module", "store"),
    [
        (open_store, "kbbot.store.redis", "thread store"),
        (open_outcome_store, "kbbot.outcomes.redis", "outcome store"),
    ],
)
def test_a_redis_store_without_the_redis_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, opener: Callable[[str], object], backend_module: str, store: str
) -> None:
    import sys

    from kbbot.errors import ConfigError

    # as in an install without the [redis] extra: importing redis fails (and the backends are imported afresh)
    monkeypatch.setitem(sys.modules, "redis", None)
    for module in {backend_module, "kbbot.store.redis"}:
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ConfigError) as missing:
        opener("redis://:hunter2@cache.internal:6379/0")
    assert str(missing.value) == (
        f"the Redis {store} (redis://***@cache.internal:6379/0) needs the redis package: "
        "pip install 'kbbot[redis]'"
    )
