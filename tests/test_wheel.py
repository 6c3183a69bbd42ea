"""The wheel as a new user gets it: built from the project, installed into a fresh virtualenv in an empty folder
with no checkout on sys.path, then `kbbot chat`, `kbbot search` and `kbbot serve` run from that install alone.

Slow (a build and an install, about a minute), so marked `wheel`; the plain `pytest` of CI runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientError, ClientSession

from kbbot.standin import SlackStandIn

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[1]
MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"
TOKEN = "xoxb-wheel-test"
SECRET = "wheel-test-signing-secret"
# what a checkout has that a build must not see (and is slow to copy)
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"
)


@dataclass(frozen=True, slots=True)
class Install:
    bin: Path  # the fresh venv's bin/
    home: Path  # an empty folder: the working directory, HOME and the XDG folders of every run

    def env(self, **extra: str) -> dict[str, str]:
        # nothing of this test run's interpreter, checkout or settings leaks into the installed kbbot
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "KBBOT_", "SLACK_", "VIRTUAL_ENV", "XDG_"))
        }  # fmt: skip
        env |= {
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".state"),
            "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
        }
        return env | extra

    def run(self, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "kbbot"), *args], input=stdin, capture_output=True, text=True, timeout=120,
            cwd=self.home, env=self.env(**extra), check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("kbbot-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    shutil.rmtree(source)  # from here on, only the install exists
    home = work / "empty"
    home.mkdir()
    yield Install(bin=venv / "bin", home=home)


def test_the_installed_package_is_the_wheel_not_a_checkout(installed: Install) -> None:
    where = subprocess.run(
        [str(installed.bin / "python"), "-c", "import kbbot.locate as l; print(l.__file__); "
         "print(l.builtin_seeds_dir()); print(l.builtin_intents_dir())"],
        capture_output=True, text=True, cwd=installed.home, env=installed.env(), timeout=60, check=True,
    )  # fmt: skip
    module, seeds, intents = where.stdout.split()
    venv = str(installed.bin.parent)
    assert module.startswith(venv) and seeds.startswith(venv) and intents.startswith(venv)
    assert len(list(Path(seeds).glob("*.txt"))) == 5 and (Path(intents) / "en.yaml").is_file()


def test_chat_walks_a_pasted_error_to_step_2(installed: Install) -> None:
    result = installed.run("chat", stdin="\n".join([MAILBAG_ERROR, "walk me through", "next", "quit"]) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Q237695" in result.stdout
    step1 = result.stdout.index("Step 1 of")
    assert result.stdout.index("Step 2 of", step1) > step1
    assert "Traceback" not in result.stderr
    # the built-in seeds were indexed into the user's cache folder
    assert (installed.home / ".cache" / "kbbot" / "seeds-index" / "manifest.json").is_file()


def test_search_finds_the_mailbag_article(installed: Install) -> None:
    result = installed.run("search", "mailbag contention", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert "Q237695" in [h["id"] for h in hits]


def test_redis_store_without_the_redis_extra_is_one_line_and_exit_2(installed: Install) -> None:
    result = installed.run(
        "serve", "--port", str(_free_port()), "--host", "127.0.0.1",
        SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL="http://127.0.0.1:9/api/",
        KBBOT_STORE="redis://127.0.0.1:6379/0",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kbbot: the Redis thread store (redis://127.0.0.1:6379/0) needs the redis package: "
        "pip install 'kbbot[redis]'"
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_answers_a_mention_through_a_stand_in(installed: Install) -> None:
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
        port = _free_port()
        proc = await asyncio.create_subprocess_exec(
            str(installed.bin / "kbbot"), "serve", "--port", str(port), "--host", "127.0.0.1",
            cwd=installed.home, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env=installed.env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.api_url),
        )  # fmt: skip
        try:
            async with ClientSession() as http:
                deadline = time.monotonic() + 60
                while True:
                    assert proc.returncode is None, "kbbot serve exited early"
                    assert time.monotonic() < deadline, "kbbot serve did not become healthy"
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except ClientError:
                        pass
                    await asyncio.sleep(0.1)
            standin.events_url = f"http://127.0.0.1:{port}/slack/events"
            _, ts = await standin.mention(MAILBAG_ERROR)
            (post,) = await standin.wait_for("chat.postMessage", timeout=15)
            assert post.args["thread_ts"] == ts and "Q237695" in post.args["text"]
        finally:
            if proc.returncode is None:
                proc.terminate()
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()[-2000:]
