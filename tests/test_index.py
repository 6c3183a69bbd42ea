"""`run_index` and `KnowledgeBase` on real files: folders, archives, bad files, duplicates, incremental runs,
and the `kbbot index` / `kbbot show` command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kbbot.errors import IndexFolderError
from kbbot.indexer import IndexSummary, run_index
from kbbot.kb import KnowledgeBase

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SEED_IDS = ["Q99304", "Q99698", "Q102087", "Q157684", "Q237695"]  # row order: by number


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def index(sources: list[Path], out: Path) -> IndexSummary:
    return run_index([str(s) for s in sources], out, workers=1)


def test_index_seeds_and_read_back(seeds_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    summary = index([seeds_copy], out)
    assert (summary.articles, summary.files_seen, summary.files_parsed, summary.files_skipped) == (5, 5, 5, 0)
    assert "Indexed 5 articles" in summary.render()

    kb = KnowledgeBase.open(out)
    assert len(kb) == 5
    assert kb.ids() == SEED_IDS
    assert kb.row_of("Q102087") == 2 and kb.row_of("102087") == 2 and kb.row_of("Q1") is None
    a = kb.get("Q102087")
    assert a is not None and a.title == "Mac Bkup: Backup Status Message Could Not Be Sent"
    assert a.source.endswith("000_90c6aae4c23bfecc.txt")
    assert kb.article_at(2) == a
    assert kb.get("Q999999") is None
    assert kb.titles[2] == a.title and kb.products[2] == a.product and kb.product_tags[2] == "macmail"
    assert [x.id for x in kb.iter_articles()] == SEED_IDS
    assert kb.closest_ids("Q10287")[0] == "Q102087"
    assert kb.closest_ids("Q237696", limit=1) == ["Q237695"]
    # no temp folders left beside the index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "index"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["articles"] == 5 and manifest["format"] == "kbbot-index"


def test_open_rejects_missing_and_foreign_folders(tmp_path: Path) -> None:
    with pytest.raises(IndexFolderError, match="kbbot index"):
        KnowledgeBase.open(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    with pytest.raises(IndexFolderError, match="not a kbbot index"):
        KnowledgeBase.open(tmp_path / "other")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text('{"format": "kbbot-index", "version": 999}')
    with pytest.raises(IndexFolderError, match="another kbbot version"):
        KnowledgeBase.open(tmp_path / "bad")


def test_bad_files_are_reported_and_skipped(seeds_copy: Path, tmp_path: Path) -> None:
    (seeds_copy / "empty.txt").write_bytes(b"")
    (seeds_copy / "junk.bin").write_bytes(b"\x00\xff" * 500)
    (seeds_copy / "sub").mkdir()
    (seeds_copy / "sub" / "cut.txt").write_bytes(b"DOCUMENT:Q555  01-JAN-1999  [x]\r\n")
    summary = index([seeds_copy, tmp_path / "does-not-exist"], tmp_path / "index")
    assert summary.articles == 5
    assert summary.files_skipped == 4
    reasons = summary.skipped
    assert any(str(seeds_copy / "empty.txt") in v for k, v in reasons.items() if "empty" in k)
    assert any(str(seeds_copy / "junk.bin") in v for k, v in reasons.items() if "binary" in k)
    assert any(str(seeds_copy / "sub" / "cut.txt") in v for k, v in reasons.items() if "TITLE" in k)
    text = summary.render()
    assert "skipped 1 file(s): empty file" in text and "source not found" in text


def test_incremental_run_does_not_reparse(seeds_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    index([seeds_copy], out)
    before = (out / "articles.bin").stat().st_mtime_ns

    again = index([seeds_copy], out)
    assert (again.changed, again.files_parsed, again.files_reused, again.articles) == (False, 0, 5, 5)
    assert (out / "articles.bin").stat().st_mtime_ns == before  # nothing written

    # Same size and mtime but different bytes: proof that an unchanged fingerprint is not read at all.
    seed0 = next(seeds_copy.glob("000_*.txt"))
    st = seed0.stat()
    seed0.write_bytes(b"\x00" * st.st_size)
    os.utime(seed0, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = index([seeds_copy], out)
    assert third.files_parsed == 0
    assert KnowledgeBase.open(out).get("Q102087") is not None

    # A changed file is parsed again (and here skipped), the others are reused.
    os.utime(seed0, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fourth = index([seeds_copy], out)
    assert (fourth.changed, fourth.files_parsed, fourth.files_reused, fourth.files_skipped) == (True, 1, 4, 1)
    kb = KnowledgeBase.open(out)
    assert len(kb) == 4 and kb.get("Q102087") is None

    # A removed file disappears from the index.
    next(seeds_copy.glob("004_*.txt")).unlink()
    fifth = index([seeds_copy], out)
    assert fifth.articles == 3 and KnowledgeBase.open(out).get("Q157684") is None


def test_duplicate_ids_keep_the_txt_form(seeds_copy: Path, tmp_path: Path) -> None:
    # seed 003 is the web copy of Q237695; give the index the TXT form too
    import importlib.util

    spec = importlib.util.spec_from_file_location("_seed_tests", Path(__file__).with_name("test_parse_seeds.py"))
    assert spec is not None and spec.loader is not None
    seed_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_tests)
    txt_form: str = seed_tests.Q237695_TXT
    (seeds_copy / "Q237695.TXT").write_text(txt_form, encoding="cp1252")
    out = tmp_path / "index"
    summary = index([seeds_copy], out)
    assert summary.articles == 5
    (dup,) = summary.duplicates
    assert dup.id == "Q237695" and dup.winner.endswith("Q237695.TXT")
    assert dup.losers[0].endswith("003_808a534ad571b896.txt")
    assert "duplicate ids: 1" in summary.render()
    kb = KnowledgeBase.open(out)
    a = kb.get("Q237695")
    assert a is not None and a.format == "txt"
    # the loser is kept: deleting the winner promotes it without parsing anything else
    (seeds_copy / "Q237695.TXT").unlink()
    again = index([seeds_copy], out)
    assert again.files_parsed == 0 and again.duplicates == []
    b = KnowledgeBase.open(out).get("Q237695")
    assert b is not None and b.format == "web"


def test_archive_sources(tmp_path: Path) -> None:
    archive = tmp_path / "seeds.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(SEEDS, arcname="seeds")
    out = tmp_path / "index"
    summary = index([archive], out)
    assert (summary.articles, summary.files_seen) == (5, 5)
    a = KnowledgeBase.open(out).get("Q99304")
    assert a is not None and a.source == f"{archive}!seeds/002_b56d3b05c37fe28b.txt"
    again = index([archive], out)
    assert (again.changed, again.files_parsed, again.files_seen) == (False, 0, 5)


def test_parallel_workers_give_the_same_index(seeds_copy: Path, tmp_path: Path) -> None:
    for i in range(80):  # enough files to use the worker pool
        (seeds_copy / f"copy{i:02d}.txt").write_bytes(
            next(SEEDS.glob("000_*.txt")).read_bytes().replace(b"Q102087", f"Q{500000 + i}".encode())
        )
    summary = run_index([str(seeds_copy)], tmp_path / "index", workers=2)
    assert summary.articles == 85 and summary.files_parsed == 85
    kb = KnowledgeBase.open(tmp_path / "index")
    assert kb.ids()[:5] == SEED_IDS and kb.ids()[-1] == "Q500079"


def _kbbot(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "kbbot", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )


def test_cli_index_and_show(tmp_path: Path) -> None:
    out = tmp_path / "index"
    done = _kbbot("index", str(SEEDS), "--out", str(out), "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "Indexed 5 articles" in done.stdout

    shown = _kbbot("show", "Q102087", "--index", str(out), "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    contract = {"id", "title", "product", "versions", "sections", "procedures", "error_codes", "references"}
    assert set(data) >= contract
    assert data["id"] == "Q102087"
    assert data["product"] == "Microsoft Mail For Appletalk Networks"
    assert list(data["sections"]) == ["SYMPTOMS", "CAUSE", "RESOLUTION"]
    for proc in data["procedures"]:
        assert set(proc) >= {"label", "steps"}
        for step in proc["steps"]:
            assert isinstance(step["text"], str) and isinstance(step["substeps"], list)

    text = _kbbot("show", "237695", "--index", str(out))
    assert text.returncode == 0
    assert "Q237695" in text.stdout and "PROCEDURE" in text.stdout and "[008]" in text.stdout

    missing = _kbbot("show", "Q10287", "--index", str(out))
    assert missing.returncode == 1 and "Closest: Q102087" in missing.stderr


def test_articles_only_run_skips_the_search_structures(seeds_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    summary = run_index([str(seeds_copy)], out, workers=1, search=False)
    assert summary.articles == 5 and not summary.search_built
    assert not (out / "search").exists()
    again = run_index([str(seeds_copy)], out, workers=1, search=False)
    assert again.changed is False


def test_concurrent_runs_leave_one_valid_index(tmp_path: Path) -> None:
    out = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBBOT_")}
    cmd = [sys.executable, "-m", "kbbot", "index", str(SEEDS), "--out", str(out), "--workers", "1"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert KnowledgeBase.open(out).ids() == SEED_IDS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # no temp or set-aside folders left


def test_records_from_another_parser_version_are_not_reused(seeds_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    index([seeds_copy], out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["parser"] = "an older parser"
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = index([seeds_copy], out)
    assert (again.changed, again.files_parsed, again.articles) == (True, 5, 5)
    assert index([seeds_copy], out).files_parsed == 0


def test_refuses_to_overwrite_a_folder_that_is_not_an_index(tmp_path: Path) -> None:
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(IndexFolderError, match="not a kbbot index"):
        index([SEEDS], precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_unreadable_search_structures_are_rebuilt(seeds_copy: Path, tmp_path: Path) -> None:
    import kbbot.search

    if not callable(getattr(kbbot.search, "search_index_is_current", None)):
        pytest.skip("kbbot.search has no search_index_is_current")
    out = tmp_path / "index"
    first = index([seeds_copy], out)
    assert first.search_built and kbbot.search.search_index_is_current(out / "search")
    (out / "search" / "meta.json").write_text('{"format": "an old one"}')
    again = index([seeds_copy], out)
    assert again.changed and again.search_built and again.files_parsed == 0
    assert kbbot.search.search_index_is_current(out / "search")
    assert index([seeds_copy], out).changed is False
