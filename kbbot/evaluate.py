"""`kbbot eval`: measure search on a file of labelled questions.

Also what a support team runs after changing its knowledge base: a file of golden questions with the article
each should find, re-checked so a KB edit that buries an answer shows up as a failure line, not as a
complaint in Slack.

Input: JSON lines `{"query": "...", "expected": "Q148169" | null, "kind": "...", "product": "..."}`; instead
of `expected` (an id in any form the knowledge base accepts), a row may name its article by
`expected_path`, matched as a path suffix of a hit's source file; both null mark a question the KB cannot
answer (the right behaviour is band "none"/"shortlist", never a confident answer). Unreadable lines are
logged and skipped; a file that cannot be read, or holds no usable question, is an InputError. An expected
article the knowledge base does not hold is counted and named (`unknown_expected`): such a row can never be
found, and is usually a typo or an article since removed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kbbot.article import normalise_qid
from kbbot.errors import InputError
from kbbot.search.types import SearchResult

log = logging.getLogger(__name__)

LIMIT = 10
MAX_FAILURES = 50


class Searcher(Protocol):
    def search(self, query: str, *, limit: int = ...) -> SearchResult: ...


@dataclass(frozen=True, slots=True)
class Question:
    query: str
    expected: str | None
    kind: str
    line: int
    expected_path: str | None = None

    @property
    def answerable(self) -> bool:
        return self.expected is not None or self.expected_path is not None


def read_questions(path: Path) -> tuple[list[Question], list[int]]:
    """The questions of a JSON-lines file and the numbers of the lines that could not be used."""
    questions: list[Question] = []
    bad: list[int] = []
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; kbbot eval reads one file of JSON lines")
    try:
        fh = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                query = row["query"]
                if not isinstance(query, str):
                    raise TypeError("query is not a string")
                raw = row.get("expected")
                if raw is not None and not isinstance(raw, str | int):
                    raise TypeError(f"expected {raw!r} is not an article id")
                expected = None if raw is None else (normalise_qid(str(raw)) or str(raw).strip())
                if raw is not None and not expected:
                    raise ValueError(f"expected {raw!r} is not an article id")
                raw_path = row.get("expected_path")
                expected_path = str(raw_path).strip().lstrip("/") if raw_path else None
                answerable = expected is not None or expected_path is not None
                kind = str(row.get("kind") or ("question" if answerable else "ood"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("%s line %s skipped: %s", path, number, exc)
                bad.append(number)
                continue
            questions.append(
                Question(query=query, expected=expected, kind=kind, line=number, expected_path=expected_path)
            )
    if not questions:
        what = f"none of its {len(bad)} line(s) is a question" if bad else "it is empty"
        example = '{"query": ..., "expected": ...}'
        raise InputError(f'no questions in {path}: {what} (one JSON object a line: {example})')
    return questions, bad


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the value a q-share of the queries stay at or below."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return ordered[k]


def _rank(q: Question, ids: list[str], kb: Any) -> int:
    """1-based rank of the expected article among the hit ids, 0 when absent."""
    if q.expected is not None:
        want = kb.resolve(q.expected) if kb is not None else None
        want = want or q.expected
        return ids.index(want) + 1 if want in ids else 0
    if q.expected_path is None or kb is None:
        return 0
    suffix = q.expected_path.replace("\\", "/")
    for k, article_id in enumerate(ids, start=1):
        article = kb.get(article_id)
        source = (article.source if article else "").replace("\\", "/")
        # a suffix on a path-component boundary: "a/b.md" matches "x!root/a/b.md", not "xa/b.md"
        if source == suffix or source.endswith("/" + suffix) or source.endswith("!" + suffix):
            return k
    return 0


def run_eval(path: Path, engine: Searcher, *, known_ids: Container[str] | None = None) -> dict[str, Any]:
    """Search every question of `path` and report recall@1/3/10, MRR, latency and the confidence figures.

    `known_ids` (the knowledge base) flags expected articles it does not hold, in `unknown_expected`.

    The contract fields (docs/design.md): n, recall_at_1, recall_at_3, recall_at_10, mrr, p50_ms, p99_ms,
    ood_n, ood_false_answer_rate, answered_correct_rate. Extras: per-kind figures, band counts, the
    failures (to re-check after a KB change) and the skipped lines.
    """
    questions, bad = read_questions(path)
    kb = getattr(engine, "kb", None)  # resolves any id form and knows each article's source path
    latencies: list[float] = []
    n = hit1 = hit3 = hit10 = answered_right = answered_wrong = 0
    rr = 0.0
    ood_n = ood_answered = 0
    kinds: dict[str, dict[str, float]] = {}
    bands: dict[str, int] = {"answer": 0, "shortlist": 0, "none": 0}
    failures: list[dict[str, Any]] = []
    expected_ids = {q.expected for q in questions if q.expected is not None}
    # an id in another form (KB2659085, a slug) is known when the knowledge base resolves it
    unknown = sorted(
        e for e in expected_ids
        if known_ids is not None and e not in known_ids and not (kb is not None and kb.resolve(e))
    )
    for q in questions:
        t0 = time.perf_counter()
        result = engine.search(q.query, limit=LIMIT)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        bands[result.band] = bands.get(result.band, 0) + 1
        ids = [h.id for h in result.hits]
        if not q.answerable:
            ood_n += 1
            if result.confident:
                ood_answered += 1
                failures.append({"line": q.line, "query": q.query[:200], "expected": None, "got": ids[:1]})
            continue
        n += 1
        rank = _rank(q, ids, kb)
        k = kinds.setdefault(q.kind, {"n": 0, "hit1": 0, "hit3": 0, "rr": 0.0})
        k["n"] += 1
        if rank:
            rr += 1.0 / rank
            k["rr"] += 1.0 / rank
        if rank == 1:
            hit1 += 1
            k["hit1"] += 1
            if result.confident:
                answered_right += 1
        elif result.confident:
            answered_wrong += 1
        if 1 <= rank <= 3:
            hit3 += 1
            k["hit3"] += 1
        if 1 <= rank <= 10:
            hit10 += 1
        if rank != 1 and len(failures) < MAX_FAILURES:
            failures.append(
                {"line": q.line, "query": q.query[:200], "expected": q.expected or q.expected_path, "rank": rank,
                 "got": ids[:3]}
            )

    def share(a: float, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "n": n,
        "recall_at_1": share(hit1, n),
        "recall_at_3": share(hit3, n),
        "recall_at_10": share(hit10, n),
        "mrr": share(rr, n),
        "p50_ms": round(_percentile(latencies, 0.50), 3),
        "p99_ms": round(_percentile(latencies, 0.99), 3),
        "ood_n": ood_n,
        "ood_false_answer_rate": share(ood_answered, ood_n),
        "answered_correct_rate": share(answered_right, n),
        # extras
        "answered_wrong_rate": share(answered_wrong, n),
        "bands": bands,
        "by_kind": {
            kind: {
                "n": int(v["n"]),
                "recall_at_1": share(v["hit1"], int(v["n"])),
                "recall_at_3": share(v["hit3"], int(v["n"])),
                "mrr": share(v["rr"], int(v["n"])),
            }
            for kind, v in sorted(kinds.items())
        },
        "skipped_lines": bad,
        "unknown_expected": {"count": len(unknown), "ids": unknown},
        "failures": failures,
    }


def render_report(report: dict[str, Any]) -> str:
    """A human-readable summary of `run_eval`'s report."""
    wrong = report.get("answered_wrong_rate")
    lines = [
        f"questions answerable by the KB: {report['n']}",
        f"  recall@1 {report['recall_at_1']:.3f}   recall@3 {report['recall_at_3']:.3f}   "
        f"recall@10 {report['recall_at_10']:.3f}   MRR {report['mrr']:.3f}",
        f"  answered confidently and right: {report['answered_correct_rate']:.3f}"
        + (f"   confidently wrong: {wrong:.3f}" if wrong is not None else ""),
        f"questions the KB cannot answer: {report['ood_n']}   "
        f"answered confidently anyway: {report['ood_false_answer_rate']:.3f}",
        f"latency: p50 {report['p50_ms']:.2f} ms   p99 {report['p99_ms']:.2f} ms",
    ]
    by_kind = report.get("by_kind") or {}
    if by_kind:
        lines.append("by kind:")
        for kind, v in by_kind.items():
            lines.append(
                f"  {kind:<12} n={v['n']:<4} recall@1 {v['recall_at_1']:.3f}  recall@3 {v['recall_at_3']:.3f}"
            )
    if report.get("bands"):
        lines.append("bands: " + ", ".join(f"{k} {v}" for k, v in report["bands"].items()))
    unknown = report.get("unknown_expected") or {}
    if unknown.get("count"):
        lines.append(
            f"expected articles not in the knowledge base ({unknown['count']}, never findable): "
            + ", ".join(unknown["ids"][:20])
            + (" ..." if unknown["count"] > 20 else "")
        )
    if report.get("skipped_lines"):
        lines.append(f"skipped unreadable lines: {report['skipped_lines']}")
    failures = report.get("failures") or []
    if failures:
        lines.append(f"not found first ({len(failures)} shown):")
        for f in failures:
            got = ", ".join(f.get("got") or []) or "-"
            want = f.get("expected") or "(no answer expected)"
            lines.append(f"  line {f['line']}: want {want}, got {got}: {f['query'][:90]}")
    return "\n".join(lines)
