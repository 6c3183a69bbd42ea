"""Measuring an intents folder on labelled thread messages (`kbbot intents eval`).

A file holds one JSON object a line, as `../eval/utterances-dev.jsonl`:

    {"state": "walking", "text": "ok done, next pls", "expect": "next"}
    {"state": "last_step", "text": "show me step 2 again", "expect": "goto", "n": 2}

`state` is a Moment value (`walking` is step 3 of 6, `last_step` step 6 of 6 after "Did it fix the problem?"),
`expect` a Label value; a goto is right only with the right `n`. Question recall is the share of real questions
kept as questions: a question hijacked as navigation loses the person's problem, which is worse than asking.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbbot.conversation.intents import IntentSet, Label, Moment
from kbbot.errors import ConfigError

# Confusion examples kept per (expected, got) pair: enough to see the pattern, not a dump of the file.
MAX_CONFUSION_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class LabelledMessage:
    moment: Moment
    text: str
    expect: Label
    step: int | None = None  # the step number a goto should carry


@dataclass(frozen=True, slots=True)
class Score:
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "correct": self.correct, "accuracy": round(self.accuracy, 4)}


@dataclass(frozen=True, slots=True)
class Confusion:
    expect: str
    got: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntentReport:
    n: int
    correct: int
    question_recall: float
    by_label: dict[str, Score] = field(default_factory=dict)
    by_state: dict[str, Score] = field(default_factory=dict)
    confusions: tuple[Confusion, ...] = ()

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "question_recall": round(self.question_recall, 4),
            "by_label": {k: v.as_dict() for k, v in self.by_label.items()},
            "by_state": {k: v.as_dict() for k, v in self.by_state.items()},
            "confusions": [
                {"expect": c.expect, "got": c.got, "count": c.count, "examples": list(c.examples)}
                for c in self.confusions
            ],
        }


def read_messages(path: Path) -> list[LabelledMessage]:
    """The labelled messages of a JSON-lines file. A bad line is a ConfigError naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from exc
    out: list[LabelledMessage] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg})") from exc
        out.append(_message(row, where=where))
    if not out:
        raise ConfigError(f"{path}: no labelled messages")
    return out


def _message(row: Any, *, where: str) -> LabelledMessage:
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected an object with state, text and expect")
    text, state, expect, n = row.get("text"), row.get("state"), row.get("expect"), row.get("n")
    if not isinstance(text, str):
        raise ConfigError(f"{where}: 'text' must be a string")
    try:
        moment = Moment(str(state))
    except ValueError:
        raise ConfigError(f"{where}: state {state!r} is not one of {[m.value for m in Moment]}") from None
    try:
        label = Label(str(expect))
    except ValueError:
        raise ConfigError(f"{where}: expect {expect!r} is not one of {[lb.value for lb in Label]}") from None
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ConfigError(f"{where}: 'n' must be a step number (1 or more)")
    if label is Label.GOTO and n is None:
        raise ConfigError(f"{where}: a goto needs 'n', the step it goes to")
    return LabelledMessage(moment=moment, text=text, expect=label, step=n)


def evaluate(intents: IntentSet, messages: Iterable[LabelledMessage]) -> IntentReport:
    """Classify every message at its moment and score it against its label."""
    label_n: Counter[str] = Counter()
    label_ok: Counter[str] = Counter()
    state_n: Counter[str] = Counter()
    state_ok: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = {}
    questions = kept = 0
    for message in messages:
        match = intents.classify(message.text, moment=message.moment)
        got = str(match.name)
        ok = got == message.expect and (message.expect is not Label.GOTO or match.step_number == message.step)
        if message.expect is Label.GOTO and got == Label.GOTO and not ok:
            got = f"goto {match.step_number}"
        label_n[message.expect] += 1
        state_n[message.moment] += 1
        if ok:
            label_ok[message.expect] += 1
            state_ok[message.moment] += 1
        else:
            pairs[(message.expect, got)] += 1
            kept_examples = examples.setdefault((message.expect, got), [])
            if len(kept_examples) < MAX_CONFUSION_EXAMPLES:
                kept_examples.append(f"[{message.moment}] {message.text}")
        if message.expect is Label.QUESTION:
            questions += 1
            kept += got == Label.QUESTION
    n = sum(label_n.values())
    return IntentReport(
        n=n,
        correct=sum(label_ok.values()),
        question_recall=kept / questions if questions else 1.0,
        by_label={k: Score(n=v, correct=label_ok[k]) for k, v in sorted(label_n.items())},
        by_state={k: Score(n=v, correct=state_ok[k]) for k, v in sorted(state_n.items())},
        confusions=tuple(
            Confusion(expect=e, got=g, count=c, examples=tuple(examples[(e, g)]))
            for (e, g), c in sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
        ),
    )


def format_report(report: IntentReport) -> str:
    """The report as text for a terminal."""
    lines = [
        f"messages          {report.n}",
        f"accuracy          {report.accuracy:.3f}  ({report.correct}/{report.n})",
        f"question recall   {report.question_recall:.3f}",
        "",
        "by label",
    ]
    lines += [f"  {k:<12} {v.accuracy:.3f}  ({v.correct}/{v.n})" for k, v in report.by_label.items()]
    lines += ["", "by state"]
    lines += [f"  {k:<12} {v.accuracy:.3f}  ({v.correct}/{v.n})" for k, v in report.by_state.items()]
    if report.confusions:
        lines += ["", "confusions (expected -> got)"]
        for c in report.confusions:
            lines.append(f"  {c.expect} -> {c.got}: {c.count}")
            lines += [f"      {e}" for e in c.examples]
    return "\n".join(lines)
