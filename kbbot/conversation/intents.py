"""Recognising the short things people say inside a thread ("next", "step 7", "didn't work", "talk to a human").

Intents live in YAML (`intents/*.yaml`) so a team adds phrases, or a whole language, without code:

    intents:
      - name: next
        examples: [next, next step, ok next, done, continue]
        patterns: ['^n$']
        threshold: 85          # optional, 0..100

Several files may add examples to the same intent. A message matches an intent only when (nearly) the
whole message is the intent: a pattern (searched in the normalised message, so authors anchor it) or a
rapidfuzz similarity to one example over the threshold. Long messages are never fuzzy-matched, so
"my mail won't go to the next server" stays a question. Anything that is not an intent is a question.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from kbbot.conversation.replies import TYPED_ACTIONS
from kbbot.errors import ConfigError

log = logging.getLogger(__name__)

# The intents the engine acts on: the actions a person can type (kbbot.conversation.replies.Action, one list of
# names for typed intents and buttons). A YAML intent outside this set would never do anything, so it is an error.
KNOWN_INTENTS: frozenset[str] = frozenset(a.value for a in TYPED_ACTIONS)
_INTENT_KEYS = frozenset({"name", "examples", "patterns", "threshold", "description"})
_FILE_KEYS = frozenset({"intents", "language", "description"})

DEFAULT_THRESHOLD = 86.0
# Fuzzy matching looks only at short messages; an intent phrase is a few words, a question is more.
MAX_FUZZY_WORDS = 6
MAX_FUZZY_CHARS = 60


@dataclass(frozen=True, slots=True)
class IntentMatch:
    name: str
    score: float  # 0..100; 100 for a pattern match
    slots: dict[str, str] = field(default_factory=dict)  # named regex groups, e.g. {"n": "7"}

    @property
    def step_number(self) -> int | None:
        value = self.slots.get("n")
        return int(value) if value and value.isdigit() else None


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    examples: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    threshold: float = DEFAULT_THRESHOLD


_MENTION = re.compile(r"<[@!#][^>]*>")
_NON_WORD = re.compile(r"[^\w\s']+")
_SPACES = re.compile(r"\s+")
_NUMBER_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_WORD_NUMBERS = {w: str(n) for n, w in enumerate(_NUMBER_WORDS, start=1)} | {
    w: str(n) for n, w in enumerate(_ORDINALS, start=1)
}


def normalise(text: str) -> str:
    """Lower case, mentions and emoji codes dropped, punctuation to spaces, curly quotes straightened."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _MENTION.sub(" ", text)
    text = re.sub(r":[a-z0-9_+\-]+:", " ", text.lower())  # :thumbsup: and friends
    text = _NON_WORD.sub(" ", text)
    words = [_WORD_NUMBERS.get(w, w) for w in _SPACES.sub(" ", text).strip().split(" ") if w]
    return " ".join(words).replace(" '", " ").strip(" '")


class IntentSet:
    """The intents of one deployment. `match` is pure and cheap (a handful of short strings compared)."""

    def __init__(self, *, intents: Iterable[Intent]) -> None:
        self._intents: dict[str, Intent] = {}
        for intent in intents:
            prev = self._intents.get(intent.name)
            if prev is not None:
                intent = Intent(
                    name=intent.name,
                    examples=prev.examples + intent.examples,
                    patterns=prev.patterns + intent.patterns,
                    threshold=min(prev.threshold, intent.threshold),
                )
            self._intents[intent.name] = intent
        # (normalised example, intent name) pairs for one rapidfuzz extract over all of them
        self._examples: list[tuple[str, str]] = [
            (normalise(e), i.name) for i in self._intents.values() for e in i.examples if normalise(e)
        ]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._intents)

    @classmethod
    def load(cls, folder: str | Path) -> IntentSet:
        """Every `*.yaml` / `*.yml` in `folder`, in name order. Raises ConfigError naming the file and problem."""
        root = Path(folder)
        if not root.is_dir():
            raise ConfigError(f"intents folder {root} does not exist")
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
        if not files:
            raise ConfigError(f"no intent files (*.yaml) in {root}")
        intents: list[Intent] = []
        for path in files:
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"{path}: cannot read intents: {exc}") from exc
            intents.extend(cls.parse(data, source=str(path)))
        log.debug("loaded %s intents from %s files in %s", len({i.name for i in intents}), len(files), root)
        return cls(intents=intents)

    @staticmethod
    def parse(data: Any, *, source: str = "<intents>") -> list[Intent]:
        """Intents from one YAML document: {intents: [...]} or a bare list of intent mappings."""
        if data is None:
            return []
        if isinstance(data, dict):
            unknown = set(data) - _FILE_KEYS
            if unknown:
                raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; allowed: {sorted(_FILE_KEYS)}")
            data = data.get("intents") or []
        if not isinstance(data, list):
            raise ConfigError(f"{source}: expected a list of intents under 'intents:'")
        out: list[Intent] = []
        for n, item in enumerate(data, start=1):
            where = f"{source}: intent #{n}"
            if not isinstance(item, dict):
                raise ConfigError(f"{where}: expected a mapping with name/examples/patterns")
            unknown = set(item) - _INTENT_KEYS
            if unknown:
                raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_INTENT_KEYS)}")
            name = item.get("name")
            if not isinstance(name, str) or name not in KNOWN_INTENTS:
                raise ConfigError(f"{where}: name {name!r} is not one of {sorted(KNOWN_INTENTS)}")
            examples = item.get("examples") or []
            patterns = item.get("patterns") or []
            if not isinstance(examples, list) or not all(isinstance(e, str | int) for e in examples):
                raise ConfigError(f"{where} ({name}): examples must be a list of phrases")
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise ConfigError(f"{where} ({name}): patterns must be a list of regular expressions")
            compiled = []
            for p in patterns:
                try:
                    compiled.append(re.compile(p, re.IGNORECASE))
                except re.error as exc:
                    raise ConfigError(f"{where} ({name}): bad pattern {p!r}: {exc}") from exc
            threshold = item.get("threshold", DEFAULT_THRESHOLD)
            if not isinstance(threshold, int | float) or not 0 < threshold <= 100:
                raise ConfigError(f"{where} ({name}): threshold must be a number in (0, 100]")
            out.append(
                Intent(
                    name=name,
                    examples=tuple(str(e) for e in examples),
                    patterns=tuple(compiled),
                    threshold=float(threshold),
                )
            )
        return out

    def match(self, text: str) -> IntentMatch | None:
        """The intent `text` expresses as a whole, or None when it is a question (or nothing)."""
        norm = normalise(text)
        if not norm:
            return None
        for intent in self._intents.values():
            for pattern in intent.patterns:
                m = pattern.search(norm)
                if m:
                    slots = {k: v for k, v in m.groupdict().items() if v is not None}
                    return IntentMatch(name=intent.name, score=100.0, slots=slots)
        if len(norm) > MAX_FUZZY_CHARS or norm.count(" ") + 1 > MAX_FUZZY_WORDS or not self._examples:
            return None
        # ratio, not WRatio/partial: partial matching would find "next" inside any sentence containing it.
        best = process.extractOne(norm, [e for e, _ in self._examples], scorer=fuzz.ratio, processor=None)
        if best is None:
            return None
        _, score, index = best
        name = self._examples[index][1]
        if score >= self._intents[name].threshold:
            return IntentMatch(name=name, score=float(score))
        return None
