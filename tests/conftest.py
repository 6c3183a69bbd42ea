"""Shared test fixtures: an environment that cannot leak in from the developer's shell, and the seeds index.

Every test starts with no SLACK_* / KBBOT_* variables and with its own XDG cache and state folders, so a
developer's real token, store or index can never be used (or overwritten) by a test run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kbbot.server.loopback import LoopbackBot
    from kbbot.standin import SlackStandIn

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path | None:
    # CI clones the repository with shared/ beside it; a developer machine has it at /work/shared
    for candidate in (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")):
        if candidate.is_dir():
            return candidate
    return None


SHARED = _shared_dir()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "KBBOT_")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))


_STANDINS_STARTED = pytest.StashKey[list["SlackStandIn"]]()


@pytest.fixture(autouse=True)
def _slack_would_accept_every_message(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Note every stand-in a test starts, so `pytest_runtest_call` can fail the test if the bot posted a message
    Slack's Block Kit validation refuses (the stand-in answers `invalid_blocks`, and the poster's plain-text
    fallback would hide it). A test that provokes a refusal on purpose empties `standin.rejected` once checked."""
    from kbbot.standin import SlackStandIn

    started = request.node.stash.setdefault(_STANDINS_STARTED, [])
    original_start = SlackStandIn.start

    async def start(self: SlackStandIn) -> None:
        started.append(self)
        await original_start(self)

    monkeypatch.setattr(SlackStandIn, "start", start)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # checked in the call phase (not a fixture's teardown), so an xfail mark covers it like any assertion
    yield
    refused = [r for standin in item.stash.get(_STANDINS_STARTED, []) for r in standin.rejected]
    assert not refused, "Slack would refuse: " + "; ".join(f"{r.method} {r.error} {r.errors[:3]}" for r in refused)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if SHARED is None:
        pytest.skip("../shared (Slack samples, eval queries, corpus) is not beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return REPO / "seeds"


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Iterator[Path]:
    """The five seed articles indexed once per test session (the default knowledge base of `kbbot chat`)."""
    from kbbot.indexer import run_index

    out = tmp_path_factory.mktemp("seeds") / "index"
    run_index([str(seeds_dir)], out, progress=False)
    yield out


@pytest.fixture
async def slack_bot(seeds_index: Path) -> AsyncIterator[LoopbackBot]:
    """The real app in HTTP mode on loopback over the seeds, Slack stood in (escalations go to C0HUMANS)."""
    from kbbot.server.loopback import loopback_bot
    from kbbot.standin import STANDIN_HUMANS

    async with loopback_bot(index=seeds_index, escalation_channel=STANDIN_HUMANS) as bot:
        yield bot


# Read at import, before the per-test isolation clears every KBBOT_* variable.
_REQUIRE_REDIS = bool(os.environ.get("KBBOT_REQUIRE_REDIS"))


def redis_server_binary() -> str:
    """The redis-server to start for a test. Missing: a skip on a developer's machine, a failure in CI, where
    `.ci/run` installs it and sets KBBOT_REQUIRE_REDIS so the Redis store can never go untested unnoticed."""
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server")):
        if candidate and Path(candidate).exists():
            return candidate
    message = "redis-server is not installed (apt-get install redis-server); the Redis tests cannot run"
    if _REQUIRE_REDIS:
        pytest.fail(message)
    pytest.skip(message)
