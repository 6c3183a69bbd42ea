"""Replay: does learning from thread outcomes help, and how much harm can one hostile voter do?

    python benchmarks/learn_replay.py --index INDEX --queries dev-queries.jsonl
    (or KBBOT_BENCH_INDEX / KBBOT_BENCH_QUERIES)

Simulated people ask the dev file's `paraphrase` questions (the learning threads) and behave truthfully: on a
confident answer they try it, say "it worked" and vote 👍 when it is the right article, else "didn't work" and 👎
(wrong article) and pick the right one from the short list when it is there; on a short list they pick the right
article when it is there and say it worked; otherwise they leave. Each question is its own person. The outcome
records go through the real `apply` and `LearnedRanking`; the search is the real engine on the full corpus.

Then other people ask the `paraphrase2` questions: different wordings of the same 55 problems, never seen in
learning. Figures before and after learning: recall@1, recall@3 and answered-right (the search's own band is
kept; learning only re-orders the hits, so "answered right" is a confident band with the right article first).
The other in-domain rows (`error` pastes, the remaining paraphrases) show what learning does to questions it has
no evidence for. The hostile voter asks every learning question too, says a wrong article (the search's second
hit) worked, votes it 👍 and votes the right one 👎.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from paths import path_option, require  # benchmarks/paths.py (run as scripts from benchmarks/)

from kbbot.conversation.state import ThreadKey
from kbbot.locate import open_engine
from kbbot.outcomes import OutcomeEvent, OutcomeUpdate, StepRef, ThreadOutcome, VoteReason, VoteValue, apply
from kbbot.outcomes.learn import LearnedRanking, LearnSettings
from kbbot.search import SearchEngine, SearchResult

SHORTLIST = 5
# settings tried beside the defaults, all on the same search results (one search pass for every row)
GRID = [LearnSettings(min_similarity=m, per_person=p, per_article=2 * p) for m in (0.55, 0.75) for p in (1.0, 2.0)]
T0 = 1_790_000_000.0


def _thread(n: int, person: str, question: str, steps: Iterable[OutcomeUpdate]) -> ThreadOutcome:
    key = ThreadKey(team="T1", channel="C0SUPPORT", thread_ts=f"{T0 + n:.6f}")
    asked = OutcomeUpdate(event=OutcomeEvent.ASKED, question=question, asker=person)
    outcome = apply(None, asked, key=key, now=T0)
    for update in steps:
        outcome = apply(outcome, update, key=key, now=T0 + 60)
    return outcome


def honest_thread(n: int, question: str, expected: str, result: SearchResult) -> ThreadOutcome:
    ids = [h.id for h in result.hits]
    person = f"U{n:04d}"
    steps: list[OutcomeUpdate] = []
    if result.band == "none" or not ids:
        steps.append(OutcomeUpdate(event=OutcomeEvent.OFFERED, band="none"))
    elif result.band == "answer":
        steps.append(OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=(ids[0],), band="answer"))
        if ids[0] == expected:
            steps += [OutcomeUpdate(event=OutcomeEvent.VOTE, user=person, value=VoteValue.UP),
                      OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=expected)]  # fmt: skip
        else:
            steps += [
                OutcomeUpdate(event=OutcomeEvent.STEP_FAILED, step=StepRef(article=ids[0], procedure=0, step=0)),
                OutcomeUpdate(event=OutcomeEvent.VOTE, user=person, value=VoteValue.DOWN,
                              reason=VoteReason.WRONG_ARTICLE),
            ]  # fmt: skip
            if expected in ids[:SHORTLIST]:
                steps.append(OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=expected))
    else:
        steps.append(OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=tuple(ids[:SHORTLIST]), band="shortlist"))
        if expected in ids[:SHORTLIST]:
            steps.append(OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=expected))
    return _thread(n, person, question, steps)


def hostile_thread(n: int, question: str, expected: str, result: SearchResult) -> ThreadOutcome:
    person = "UHOSTILE"
    wrong = next((h.id for h in result.hits if h.id != expected), None)
    steps = [OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=tuple(h.id for h in result.hits[:SHORTLIST]),
                           band="shortlist")]  # fmt: skip
    steps.append(OutcomeUpdate(event=OutcomeEvent.VOTE, user=person, value=VoteValue.DOWN, article=expected,
                               reason=VoteReason.WRONG_ARTICLE))  # fmt: skip
    if wrong is not None:
        steps += [OutcomeUpdate(event=OutcomeEvent.VOTE, user=person, value=VoteValue.UP, article=wrong),
                  OutcomeUpdate(event=OutcomeEvent.RESOLVED, article=wrong)]  # fmt: skip
    return _thread(100_000 + n, person, question, steps)


def measure(
    rows: Sequence[dict[str, Any]], results: dict[str, SearchResult], learned: LearnedRanking | None
) -> dict[str, float]:
    at1 = at3 = answered_right = 0
    for row in rows:
        result = results[row["query"]]
        hits = list(result.hits) if learned is None else learned.rerank(row["query"], result.hits)
        ids = [h.id for h in hits]
        at1 += bool(ids) and ids[0] == row["expected"]
        at3 += row["expected"] in ids[:3]
        answered_right += result.band == "answer" and bool(ids) and ids[0] == row["expected"]
    n = len(rows) or 1
    return {"n": len(rows), "recall_at_1": round(at1 / n, 3), "recall_at_3": round(at3 / n, 3),
            "answered_right": round(answered_right / n, 3)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    path_option(parser, "--index", "KBBOT_BENCH_INDEX", "a full-corpus index")
    path_option(parser, "--queries", "KBBOT_BENCH_QUERIES", "the questions (dev-queries.jsonl)")
    args = parser.parse_args(argv)
    require(parser, args, "--index", "--queries")
    rows = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    learn_rows = [r for r in rows if r["kind"] == "paraphrase" and r["expected"]]
    learnt_articles = {r["expected"] for r in learn_rows}
    test_rows = [r for r in rows if r["kind"] == "paraphrase2" and r["expected"] in learnt_articles]
    other_rows = [r for r in rows if r["expected"] and r["kind"] not in ("paraphrase", "paraphrase2")]

    t0 = time.perf_counter()
    engine: SearchEngine = open_engine(args.index)
    results = {r["query"]: engine.search(r["query"], limit=10) for r in rows}
    search_s = time.perf_counter() - t0

    honest = [honest_thread(n, r["query"], r["expected"], results[r["query"]]) for n, r in enumerate(learn_rows)]
    hostile = [hostile_thread(n, r["query"], r["expected"], results[r["query"]]) for n, r in enumerate(learn_rows)]
    t1 = time.perf_counter()
    learned = LearnedRanking.from_outcomes(honest)
    build_ms = (time.perf_counter() - t1) * 1000
    with_hostile = LearnedRanking.from_outcomes([*honest, *hostile])
    hostile_only = LearnedRanking.from_outcomes(hostile)
    t2 = time.perf_counter()
    for r in test_rows:
        learned.rerank(r["query"], results[r["query"]].hits)
    rerank_ms = (time.perf_counter() - t2) * 1000 / max(1, len(test_rows))

    report = {
        "learning_threads": len(honest),
        "resolved_in_learning": sum(o.outcome == "resolved" for o in honest),
        "paraphrase2_unseen": {
            "before": measure(test_rows, results, None),
            "after": measure(test_rows, results, learned),
            "after_with_one_hostile_voter": measure(test_rows, results, with_hostile),
            "hostile_voter_alone": measure(test_rows, results, hostile_only),
        },
        "same_questions_asked_again": {
            "before": measure(learn_rows, results, None),
            "after": measure(learn_rows, results, learned),
            "after_with_one_hostile_voter": measure(learn_rows, results, with_hostile),
            "hostile_voter_alone": measure(learn_rows, results, hostile_only),
        },
        "questions_without_evidence": {
            "before": measure(other_rows, results, None),
            "after": measure(other_rows, results, learned),
        },
        "settings_tried": [
            {
                "min_similarity": g.min_similarity, "per_person": g.per_person, "per_article": g.per_article,
                "paraphrase2_after": measure(test_rows, results, LearnedRanking.from_outcomes(honest, settings=g)),
                "paraphrase2_after_with_one_hostile_voter": measure(
                    test_rows, results, LearnedRanking.from_outcomes([*honest, *hostile], settings=g)),
                "paraphrase2_hostile_voter_alone": measure(
                    test_rows, results, LearnedRanking.from_outcomes(hostile, settings=g)),
                "same_questions_after": measure(
                    learn_rows, results, LearnedRanking.from_outcomes(honest, settings=g)),
                "same_questions_after_with_one_hostile_voter": measure(
                    learn_rows, results, LearnedRanking.from_outcomes([*honest, *hostile], settings=g)),
                "same_questions_hostile_voter_alone": measure(
                    learn_rows, results, LearnedRanking.from_outcomes(hostile, settings=g)),
                "without_evidence_after": measure(
                    other_rows, results, LearnedRanking.from_outcomes(honest, settings=g)),
            }
            for g in GRID
        ],
        "cost": {"search_s": round(search_s, 1), "build_ms": round(build_ms, 1), "rerank_ms": round(rerank_ms, 3)},
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
