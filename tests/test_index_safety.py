"""The index is never lost or trusted blindly: damaged folders are refused with one line naming the file, a
re-index that found nothing keeps the old index, a file changed under a running bot is noticed, not a SIGBUS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kbbot.cli import main
from kbbot.errors import IndexFolderError
from kbbot.indexer import run_index
from kbbot.kb import CHECKSUM, MANIFEST, SIZES, KnowledgeBase, index_stamp
from kbbot.locate import open_index

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
MAILBAG = "Q237695"


@pytest.fixture(scope="module")
def sealed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed") / "index"
    run_index([str(SEEDS)], out, progress=False)
    return out


@pytest.fixture
def index_copy(sealed_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(sealed_index, copy)
    return copy


def _truncate(rel: str, size: int) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        os.truncate(index / rel, size)

    return damage


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / rel).write_text(text, encoding="utf-8")

    return damage


def _remove(rel: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / rel).unlink()

    return damage


DAMAGE = {
    "truncated articles.bin": ("articles.bin", _truncate("articles.bin", 100)),
    "empty vocab.txt": ("search/vocab.txt", _truncate("search/vocab.txt", 0)),
    "rows.json is {}": ("rows.json", _write("rows.json", "{}")),
    "truncated .npy": ("search/full.data.npy", _truncate("search/full.data.npy", 200)),
    "garbage meta.json": ("search/meta.json", _write("search/meta.json", "garbage{")),
    "a missing file": ("search/idf.npy", _remove("search/idf.npy")),
}


def test_the_manifest_records_every_file_and_a_checksum(sealed_index: Path) -> None:
    manifest = json.loads((sealed_index / MANIFEST).read_text(encoding="utf-8"))
    on_disk = {
        p.relative_to(sealed_index).as_posix(): p.stat().st_size
        for p in sealed_index.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    assert manifest[SIZES] == on_disk and "search/vocab.txt" in on_disk and "articles.bin" in on_disk
    assert len(manifest[CHECKSUM]) == 40


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_index_is_one_line_naming_the_file_and_exit_2(
    case: str, index_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rel, damage = DAMAGE[case]
    damage(index_copy)
    for argv in (["search", "mailbag contention"], ["show", MAILBAG]):
        assert main([*argv, "--index", str(index_copy)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("kbbot: ")
        assert str(index_copy / rel) in err and "kbbot index" in err


def test_garbage_of_the_right_size_in_a_small_json_file_is_caught(index_copy: Path) -> None:
    meta = index_copy / "search" / "meta.json"
    meta.write_bytes(b"#" * meta.stat().st_size)
    with pytest.raises(IndexFolderError, match=r"meta\.json is damaged: not JSON"):
        KnowledgeBase.open(index_copy)


def test_an_index_sealed_before_sizes_were_kept_is_still_checked(index_copy: Path) -> None:
    manifest = json.loads((index_copy / MANIFEST).read_text(encoding="utf-8"))
    del manifest[SIZES]
    (index_copy / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert len(KnowledgeBase.open(index_copy)) == 5
    (index_copy / "search" / "idf.npy").unlink()
    with pytest.raises(IndexFolderError, match=r"search structures in .* are damaged .*idf\.npy"):
        open_index(index_copy)
    os.truncate(index_copy / "search" / "forward.pos.npy", 150)
    with pytest.raises(IndexFolderError, match=r"forward\.pos\.npy is damaged: .* header promises"):
        KnowledgeBase.open(index_copy)


def _kbbot(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    # os.environ is already isolated by conftest (no SLACK_*/KBBOT_*, XDG dirs in tmp)
    return subprocess.run(
        [sys.executable, "-m", "kbbot", *args], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, **env}, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("case", ["truncated articles.bin", "garbage meta.json"])
def test_chat_and_serve_refuse_a_damaged_index_in_one_line(case: str, index_copy: Path) -> None:
    rel, damage = DAMAGE[case]
    damage(index_copy)
    chat = _kbbot("chat", "--index", str(index_copy), stdin="hello\n")
    serve = _kbbot(
        "serve", "--port", "0", "--host", "127.0.0.1",
        SLACK_BOT_TOKEN="xoxb-index-test", SLACK_SIGNING_SECRET="secret", KBBOT_INDEX=str(index_copy),
    )  # fmt: skip
    for result in (chat, serve):
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("kbbot: ") and str(index_copy / rel) in line


def test_any_change_to_any_index_file_changes_the_stamp(index_copy: Path, tmp_path: Path) -> None:
    before = index_stamp(index_copy)
    assert before is not None and index_stamp(index_copy) == before
    vocab = index_copy / "search" / "vocab.txt"
    text = vocab.read_bytes()
    vocab.write_bytes(text)  # same size, same bytes, rewritten in place: a new modification time
    os.utime(vocab, ns=(vocab.stat().st_atime_ns, vocab.stat().st_mtime_ns + 1_000_000))
    assert index_stamp(index_copy) != before
    assert index_stamp(tmp_path / "nowhere") is None


def test_an_articles_file_truncated_under_an_open_index_is_an_error_not_a_sigbus(index_copy: Path) -> None:
    kb = KnowledgeBase.open(index_copy)
    try:
        assert kb.get(MAILBAG) is not None
        kb._cache.clear()  # a record not read yet, as most are in a running bot
        os.truncate(index_copy / "articles.bin", 10)
        with pytest.raises(IndexFolderError, match="truncated while in use"):
            kb.get(MAILBAG)
    finally:
        kb.close()


# --- a re-index that would lose the index ---------------------------------------------------------------------


def test_a_typo_in_the_source_keeps_the_index(index_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest_before = (index_copy / MANIFEST).read_text(encoding="utf-8")
    typo = index_copy.parent / "seedz"
    assert main(["index", str(typo), "--out", str(index_copy), "--no-progress"]) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "found 0 articles" in err and "holds 5" in err and str(typo) in err
    assert "--force" in err
    assert (index_copy / MANIFEST).read_text(encoding="utf-8") == manifest_before
    assert len(KnowledgeBase.open(index_copy)) == 5
    assert not [p for p in index_copy.parent.iterdir() if p.name.startswith(".index.")]  # no temp folder left


def test_losing_most_articles_needs_force(index_copy: Path, tmp_path: Path) -> None:
    two = tmp_path / "two"
    two.mkdir()
    for seed in sorted(SEEDS.iterdir())[:2]:
        shutil.copy(seed, two)
    with pytest.raises(IndexFolderError, match=r"found 2 articles where .* holds 5"):
        run_index([str(two)], index_copy, progress=False)
    assert len(KnowledgeBase.open(index_copy)) == 5
    summary = run_index([str(two)], index_copy, progress=False, force=True)
    assert summary.articles == 2 and len(KnowledgeBase.open(index_copy)) == 2


def test_losing_fewer_than_half_is_an_ordinary_update(index_copy: Path, tmp_path: Path) -> None:
    three = tmp_path / "three"
    three.mkdir()
    for seed in sorted(SEEDS.iterdir())[:3]:
        shutil.copy(seed, three)
    assert run_index([str(three)], index_copy, progress=False).articles == 3
    assert len(KnowledgeBase.open(index_copy)) == 3


# --- a running bot --------------------------------------------------------------------------------------------


async def test_serve_reloads_on_any_file_change_and_survives_a_file_damaged_in_place(index_copy: Path) -> None:
    import asyncio
    import signal
    import socket

    from aiohttp import ClientSession

    from kbbot.standin import SlackStandIn

    token, secret = "xoxb-reload-test", "reload-test-secret"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    async with SlackStandIn(token=token, signing_secret=secret) as standin:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kbbot", "serve", "--port", str(port), "--host", "127.0.0.1",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": secret,
                 "SLACK_API_URL": standin.api_url, "KBBOT_INDEX": str(index_copy), "KBBOT_STORE": "memory://"},
        )  # fmt: skip
        assert proc.stderr is not None

        async def log_line(containing: str) -> str:
            assert proc.stderr is not None
            while True:
                line = (await asyncio.wait_for(proc.stderr.readline(), timeout=20)).decode()
                assert line, f"kbbot serve ended before logging {containing!r}"
                if containing in line:
                    return line

        try:
            await log_line("kbbot ready")
            async with ClientSession() as http:  # serving (and so handling SIGHUP) once /healthz answers
                for _ in range(200):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except OSError:
                        pass
                    await asyncio.sleep(0.05)
            vocab = index_copy / "search" / "vocab.txt"
            # rewritten in place with the same bytes: only its modification time tells, and that is enough
            vocab.write_bytes(vocab.read_bytes())
            os.utime(vocab, ns=(vocab.stat().st_atime_ns, vocab.stat().st_mtime_ns + 1_000_000))
            proc.send_signal(signal.SIGHUP)
            assert "5 articles" in await log_line("index reloaded")

            os.truncate(vocab, 0)
            proc.send_signal(signal.SIGHUP)
            failed = await log_line("index reload failed")
            assert str(vocab) in failed and "Traceback" not in failed

            # still answering, from the index it had
            standin.events_url = f"http://127.0.0.1:{port}/slack/events"
            _, ts = await standin.mention("[008] Failure delivering user mail due to mailbag contention")
            (post,) = await standin.wait_for("chat.postMessage", timeout=10)
            assert post.args["thread_ts"] == ts and MAILBAG in post.args["text"]
            async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0


def test_an_index_dropped_without_close_lets_go_of_its_file(sealed_index: Path) -> None:
    # what a reload does to the index it replaces: it is left to the garbage collector, never closed
    import gc

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_files()
    for _ in range(20):
        kb = KnowledgeBase.open(sealed_index)
        assert kb.get(MAILBAG) is not None
        del kb
    gc.collect()
    assert open_files() <= before


def test_search_files_truncated_under_a_running_engine_do_not_kill_it(index_copy: Path) -> None:
    # In a child process, so a SIGBUS (what a memory-mapped array truncated in place gave) shows as its exit code
    # instead of taking the test run down with it.
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from kbbot.locate import open_index\n"
        "index = Path(sys.argv[1])\n"
        "kb, engine = open_index(index)\n"
        "before = [h.id for h in engine.search('mailbag contention', limit=3).hits]\n"
        "for name in sorted(os.listdir(index / 'search')):\n"
        "    if name.endswith('.npy'):\n"
        "        os.truncate(index / 'search' / name, 0)\n"
        "after = [h.id for h in engine.search('mailbag contention', limit=3).hits]\n"
        "print(before == after and len(after) > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(index_copy)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "True"
