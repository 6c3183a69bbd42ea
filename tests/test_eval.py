"""`kbbot eval`: metrics computed by hand on a tiny fixture, bad lines skipped, and a real run on the seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbbot.cli import main
from kbbot.errors import InputError
from kbbot.evaluate import read_questions, render_report, run_eval
from kbbot.search.types import Band, SearchHit, SearchResult

CONTRACT = {
    "n",
    "recall_at_1",
    "recall_at_3",
    "recall_at_10",
    "mrr",
    "p50_ms",
    "p99_ms",
    "ood_n",
    "ood_false_answer_rate",
    "answered_correct_rate",
}


class ScriptedEngine:
    """Answers each query with a fixed ranking and band: the metrics are then known exactly."""

    def __init__(self, script: dict[str, tuple[list[str], Band]]) -> None:
        self.script = script

    def search(self, query: str, *, limit: int = 5) -> SearchResult:
        ids, band = self.script[query]
        hits = tuple(SearchHit(id=i, title=i, score=1.0 / (n + 1)) for n, i in enumerate(ids[:limit]))
        return SearchResult(query=query, hits=hits, band=band, confidence=0.9 if band == "answer" else 0.2)


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_metrics_by_hand(tmp_path: Path) -> None:
    filler = [f"Q{900 + i}" for i in range(10)]
    script: dict[str, tuple[list[str], Band]] = {
        "a": (["Q1", "Q2", "Q3"], "answer"),  # rank 1, answered: right
        "b": (["Q9", "Q2", "Q8"], "shortlist"),  # rank 2
        "c": (["Q7", "Q8", "Q9", *filler[:2], "Q3"], "answer"),  # rank 6, answered wrong
        "d": (filler, "none"),  # not in the top 10
        "e": (["Q5"], "answer"),  # OOD answered: a false answer
        "f": ([], "none"),  # OOD not answered
    }
    path = _write(
        tmp_path / "q.jsonl",
        [
            {"query": "a", "expected": "Q1", "kind": "paraphrase", "product": "x"},
            {"query": "b", "expected": "Q2", "kind": "paraphrase"},
            {"query": "c", "expected": "Q3", "kind": "error"},
            {"query": "d", "expected": "Q4", "kind": "error"},
            {"query": "e", "expected": None, "kind": "ood"},
            {"query": "f", "expected": None, "kind": "ood"},
        ],
    )
    report = run_eval(path, ScriptedEngine(script))
    assert set(report) >= CONTRACT
    assert report["n"] == 4
    assert report["recall_at_1"] == 0.25
    assert report["recall_at_3"] == 0.5
    assert report["recall_at_10"] == 0.75
    assert report["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 6 + 0) / 4, abs=1e-4)
    assert report["ood_n"] == 2
    assert report["ood_false_answer_rate"] == 0.5
    assert report["answered_correct_rate"] == 0.25
    assert report["answered_wrong_rate"] == 0.25
    assert report["by_kind"]["paraphrase"] == {"n": 2, "recall_at_1": 0.5, "recall_at_3": 1.0, "mrr": 0.75}
    assert report["bands"] == {"answer": 3, "shortlist": 1, "none": 2}
    assert report["p50_ms"] >= 0 and report["p99_ms"] >= report["p50_ms"]
    assert json.loads(json.dumps(report)) == report
    text = render_report(report)
    assert "recall@1 0.250" in text and "answered confidently anyway: 0.500" in text


def test_bad_lines_are_skipped_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        [
            {"query": "a", "expected": "102087", "kind": "paraphrase"},  # bare number accepted
            "{not json",
            {"expected": "Q1"},  # no query
            {"query": "b", "expected": ["Q1"]},  # not an article id (ids may be slugs, but are strings)
            {"query": 5, "expected": None},
            "",
            {"query": "c", "expected": None},
        ],
    )
    questions, bad = read_questions(path)
    assert [q.query for q in questions] == ["a", "c"]
    assert questions[0].expected == "Q102087"
    assert questions[1].kind == "ood"
    assert bad == [2, 3, 4, 5]
    script: dict[str, tuple[list[str], Band]] = {"a": (["Q102087"], "answer"), "c": ([], "none")}
    report = run_eval(path, ScriptedEngine(script))
    assert report["n"] == 1 and report["recall_at_1"] == 1.0 and report["skipped_lines"] == [2, 3, 4, 5]
    assert "skipped" in caplog.text


def test_an_empty_file_is_an_error_not_a_report_of_zeros(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="it is empty"):
        run_eval(_write(tmp_path / "q.jsonl", []), ScriptedEngine({}))
    with pytest.raises(InputError, match="none of its 2 line"):
        run_eval(_write(tmp_path / "bad.jsonl", ["{not json", {"expected": "Q1"}]), ScriptedEngine({}))


def test_expected_articles_missing_from_the_kb_are_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        [
            {"query": "a", "expected": "Q1"},
            {"query": "b", "expected": "Q404"},
            {"query": "c", "expected": "Q404"},
            {"query": "d", "expected": "Q77"},
            {"query": "e", "expected": None},
        ],
    )
    script: dict[str, tuple[list[str], Band]] = {q: (["Q1"], "answer") for q in "abcde"}
    report = run_eval(path, ScriptedEngine(script), known_ids={"Q1", "Q2"})
    assert report["unknown_expected"] == {"count": 2, "ids": ["Q404", "Q77"]}
    assert "not in the knowledge base (2, never findable): Q404, Q77" in render_report(report)
    # without a knowledge base to ask, nothing is flagged
    assert run_eval(path, ScriptedEngine(script))["unknown_expected"] == {"count": 0, "ids": []}


@pytest.mark.parametrize("what", ["missing", "folder", "empty"])
def test_kbbot_eval_on_a_file_it_cannot_use_is_one_line_and_exit_2(
    what: str, tmp_path: Path, seeds_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = {"missing": tmp_path / "nowhere.jsonl", "folder": tmp_path, "empty": tmp_path / "empty.jsonl"}[what]
    if what == "empty":
        target.write_text("\n\n", encoding="utf-8")
    assert main(["eval", str(target), "--index", str(seeds_index)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("kbbot: ") and str(target) in err
    assert "Traceback" not in err


def test_kbbot_eval_json_flags_unknown_expected_ids(
    tmp_path: Path, seeds_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path / "golden.jsonl",
        [
            {"query": "[008] Failure delivering user mail due to mailbag contention", "expected": "Q237695"},
            {"query": "mail lost", "expected": "Q999999"},
        ],
    )
    assert main(["eval", str(path), "--index", str(seeds_index), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unknown_expected"] == {"count": 1, "ids": ["Q999999"]}


def test_eval_on_seed_index(tmp_path: Path) -> None:
    from kbbot.indexer import run_index
    from kbbot.kb import KnowledgeBase
    from kbbot.search import SearchEngine

    seeds = Path(__file__).resolve().parents[1] / "seeds"
    run_index([str(seeds)], tmp_path / "index", progress=False)
    engine = SearchEngine.load(tmp_path / "index", KnowledgeBase.open(tmp_path / "index"))
    path = _write(
        tmp_path / "golden.jsonl",
        [
            {"query": "[008] Failure delivering user mail due to mailbag contention", "expected": "Q237695"},
            {"query": "exchange imc loses mail without any ndr", "expected": "Q157684", "kind": "paraphrase"},
            {"query": "mac mail server crashes while the tape backup runs", "expected": "Q99304"},
        ],
    )
    report = run_eval(path, engine)
    assert report["n"] == 3 and report["recall_at_1"] == 1.0 and report["mrr"] == 1.0
