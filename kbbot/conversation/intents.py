"""Understanding what people type inside a thread ("next", "bakc pls", "nah same error", "yep thx").

Intents live in YAML (`intents/*.yaml`) so a team adds phrases, or a whole language, without code:

    fillers: [bitte, danke]            # words that say nothing about the problem
    step_words: [schritt]              # "schritt 5"
    intents:
      - name: next
        examples: [next, next step, ok next, done, continue]
        patterns: ['^n$']
        threshold: 85          # optional, 0..100: how close a whole message must be to one example

Several files may add examples to the same intent. `IntentSet.classify(text, moment=...)` reads the message
for cues (`intent_cues.CueReader`: example phrases inside the message, typo repair, step numbers, problem words)
and decides with the thread's moment: "yes" after "Did it fix the problem?" is worked, mid-walk it is next; a
message that carries more problem content than its cue ("the backup never moves on to the next tape") is a
question; a message with neither a clear cue nor content ("hmm") is UNSURE, and the engine asks.

`IntentSet.match(text)` is the first matcher, kept while the engine still calls it: (nearly) the whole message
must be one example or match a pattern, and it answers in the older names (greeting, thanks, affirm, deny).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rapidfuzz import fuzz, process

from kbbot.conversation.intent_cues import QUOTED_MARK, CueHit, CueReader, Reading, StepRef
from kbbot.errors import ConfigError
from kbbot.search.text import PROBLEM_CUES

if TYPE_CHECKING:
    from kbbot.conversation.state import ThreadState

log = logging.getLogger(__name__)

# The cue families a YAML file may name. A name outside this set would never do anything, so it is an error.
# Most are labels; "ack", "affirm", "deny", "greeting", "thanks" are families whose label depends on the moment.
KNOWN_INTENTS: frozenset[str] = frozenset(
    {
        "next",
        "back",
        "repeat",
        "goto",
        "walk",
        "worked",
        "failed",
        "all_steps",
        "full",
        "not_mine",
        "start_over",
        "escalate",
        "help",
        "lookup",
        "greeting",
        "thanks",
        "affirm",
        "deny",
        "ack",
        "smalltalk",
        "question",
    }
)
# What `match` answers in: the names the engine acted on before `classify` (an "ack" was a "next" then).
_LEGACY_NAMES: dict[str, str] = {name: name for name in KNOWN_INTENTS - {"ack", "smalltalk", "question"}} | {
    "ack": "next"
}
_INTENT_KEYS = frozenset({"name", "examples", "patterns", "threshold", "description"})
_FILE_KEYS = frozenset({"intents", "language", "description", "fillers", "step_words"})
DEFAULT_STEP_WORDS = ("step",)

DEFAULT_THRESHOLD = 86.0
# Fuzzy matching looks only at short messages; an intent phrase is a few words, a question is more.
MAX_FUZZY_WORDS = 6
MAX_FUZZY_CHARS = 60


class Label(StrEnum):
    """What a message in a thread asks for."""

    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    GOTO = "goto"  # slots["n"]: the step number, 1-based
    WALK = "walk"
    ALL_STEPS = "all_steps"
    FULL = "full"
    WORKED = "worked"
    FAILED = "failed"
    NOT_MINE = "not_mine"
    START_OVER = "start_over"
    ESCALATE = "escalate"
    HELP = "help"
    SMALLTALK = "smalltalk"  # greetings, thanks, acknowledgements that ask for nothing
    LOOKUP = "lookup"  # slots["qid"]: the article number
    QUESTION = "question"  # a new or refined problem: search it
    UNSURE = "unsure"  # neither clearly an intent nor a searchable question: ask what they mean


class Moment(StrEnum):
    """Where the thread is when the message arrives: what the bot last showed."""

    NEW = "new"  # nothing on the table (a new thread, started over, nothing found, settled)
    ANSWERED = "answered"  # an answer card is up
    WALKING = "walking"  # a step is shown and more follow
    LAST_STEP = "last_step"  # the last step is shown with "Did it fix the problem?"
    SHORTLIST = "shortlist"  # "which of these?" is up
    PRODUCT_ASKED = "product_asked"  # "which product are you running?" is up
    EXHAUSTED = "exhausted"  # every fix failed and a human was offered


def moment_of(state: ThreadState | None, total_steps: int) -> Moment:
    """The moment of a thread whose procedure on the table has `total_steps` steps (0 when none)."""
    if state is None:
        return Moment.NEW
    match state.status:
        case "answered":
            return Moment.ANSWERED
        case "walking":
            return Moment.LAST_STEP if state.step_no >= total_steps - 1 else Moment.WALKING
        case "choosing":
            return Moment.SHORTLIST
        case "choosing_product":
            return Moment.PRODUCT_ASKED
        case "exhausted":
            return Moment.EXHAUSTED
    return Moment.NEW


# Families whose cue may be followed by the problem in the person's own words ("still cant log in", "wrong
# article, I asked about calendars"); any other short cue followed by a content word is not a cue ("next tape").
_FREE_OBJECT = frozenset({"worked", "failed", "not_mine", "escalate", "question", "affirm", "deny"})
# Chat that asks for nothing needs no such care: whatever follows "lol" or "hi" is counted as content anyway.
_CHAT = frozenset({"ack", "greeting", "thanks", "smalltalk"})
# Requests that a person says in a clause or sentence of their own, the rest being the reason or the story
# ("escalate pls, the till is down", "Ah, that did it! Just cleared the cache as described", "I've unplugged the
# interface and plugged it back in. Ready for the next one."): the ask whatever the rest says. Navigation only
# when the rest names no problem ("next, the tape is not found" reports one).
_OWN_CLAUSE_REQUESTS = frozenset(
    {"escalate", "not_mine", "start_over", "all_steps", "full", "walk", "worked", "failed", "repeat"}
)
_NAVIGATION = frozenset({"next", "back", "repeat"})
# "not my problem" with a new problem's word announces a new question: "different problem: my calendar repeats
# its reminders"; "wrong article, my problem is the badge reader" rejects the card.
_NEW_PROBLEM = frozenset({"different", "another", "other", "new", "separate"})
# Question words whose object is one of these ask for it: "where's the complete doc", "who can I call".
_CARD_REQUESTS = frozenset({"full", "help", "all_steps", "escalate"})
# Requests that win over an outcome said with them: "still broken, can someone call me" is the call.
_ASKS_BEYOND_OUTCOME = frozenset({"escalate", "start_over", "not_mine"})
_BUT = frozenset({"but", "though", "however", "except"})
_LONG_QUESTION = 3  # "how do i", "is there a way": a question wherever it stands
_STILL = frozenset({"still"})
_TRYING = frozenset({"testing", "trying", "checking", "test", "try", "check"})  # "testing on line 2 now"
# Families that ask for nothing by themselves; a message with a real cue as well is that cue ("done, next pls").
_WEAK = frozenset({"ack", "affirm", "deny", "greeting", "thanks", "smalltalk"})
# Families that, with a step number in the message, say "go to that step" ("what was step three again?").
# "completed step 3, onto the next" is a next: a step number with next names the step just done.
_STEP_CARRIERS = frozenset({"goto", "back", "repeat", "walk"})
# When two cues are equally long, the earlier family here wins: a question first (hijacking one loses the
# person's problem), then the rarer, more specific request.
_PRIORITY = (
    "question", "escalate", "start_over", "not_mine", "goto", "all_steps", "full", "help", "failed", "worked",
    "walk", "back", "repeat", "next", "lookup",
    # chat: "haha ok" is a laugh before it is an acknowledgement
    "greeting", "thanks", "smalltalk", "affirm", "deny", "ack",
)  # fmt: skip
# Labels that act on an article or a step; with none on the table they mean nothing yet.
_NEEDS_ARTICLE = frozenset(
    {Label.NEXT, Label.BACK, Label.REPEAT, Label.GOTO, Label.WALK, Label.ALL_STEPS, Label.FULL, Label.WORKED,
     Label.FAILED}
)  # fmt: skip
_NO_ARTICLE_MOMENTS = frozenset({Moment.NEW, Moment.SHORTLIST, Moment.PRODUCT_ASKED})
# Outcome cues carry the problem in the person's words: mid-walk a report of what the step did is expected
# ("I followed it but Outlook still shows the same error"), so they carry more there; where no fix has been
# tried yet, the same words more likely describe a new problem, so they carry one word fewer.
_OUTCOMES = frozenset({"worked", "failed"})
_OUTCOME_CARRY = {Moment.WALKING: 2, Moment.LAST_STEP: 2, Moment.EXHAUSTED: 0}
# How many problem words a cue of n words carries ("did the trick" carries "mail is sending again"); a whole-
# message match carries anything; a pasted error code weighs as two words.
_CARRY_CAP = 4
# "worked" said with thanks or a 🎉 is a success report, whatever it tells of what was done
_THANKED_CARRY = 2
_WHOLE_STRENGTH = 9
_CODE_WEIGHT = 2
# A yes or no opening a reply to "Did it fix the problem?" answers it, whatever follows ("nope. wasted 20 min").
_ANSWER_STRENGTH = 4
_SHORT_REPLY_WORDS = 4
# "step 5" is a two-word cue, whatever carries it ("jump to", "again") adds its own words.
_STEP_REF_STRENGTH = 2
_BARE_STEP_STRENGTH = 1


@dataclass(frozen=True, slots=True)
class IntentMatch:
    name: str  # a Label value from `classify`; an older name (greeting, affirm, ...) from `match`
    score: float  # 0..100: 100 for a pattern or whole-message match, lower the more the message says besides
    slots: dict[str, str] = field(default_factory=dict)  # {"n": "7"} for goto, {"qid": "102087"} for lookup
    # the cue family the label was read from: a SMALLTALK "greeting" or "thanks" deserves its own reply
    cue: str = ""

    @property
    def step_number(self) -> int | None:
        value = self.slots.get("n")
        return int(value) if value and value.isdigit() else None

    @property
    def label(self) -> Label | None:
        """The name as a Label, or None for an older name from `match`."""
        try:
            return Label(self.name)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    examples: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True, slots=True)
class IntentWords:
    """The file-level word lists of an intents folder (`fillers:`, `step_words:`), merged over its files."""

    fillers: tuple[str, ...] = ()
    step_words: tuple[str, ...] = DEFAULT_STEP_WORDS


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
    """The intents of one deployment. `classify` and `match` are pure and cheap (well under a millisecond)."""

    def __init__(self, *, intents: Iterable[Intent], words: IntentWords | None = None) -> None:
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
        words = words or IntentWords()
        # (normalised example, older name) pairs for `match`; goto examples ("go to", "show me") only say "go
        # there" next to a step number, which `match` reads from patterns alone.
        self._examples: list[tuple[str, str]] = [
            (normalise(e), _LEGACY_NAMES[i.name])
            for i in self._intents.values()
            if i.name in _LEGACY_NAMES and i.name != "goto"
            for e in i.examples
            if normalise(e)
        ]
        self._example_texts = [e for e, _ in self._examples]
        self._legacy_thresholds = {
            _LEGACY_NAMES[i.name]: i.threshold for i in self._intents.values() if i.name in _LEGACY_NAMES
        }
        self._reader = CueReader(
            phrases={i.name: i.examples for i in self._intents.values()},
            fillers=words.fillers,
            step_words=words.step_words,
            # a go-there cue counts only beside a step number, which is its object ("jump to number 4")
            blockable=KNOWN_INTENTS - _FREE_OBJECT - _CHAT - {"goto"},
            negatable={"worked"},
            numbered={"goto", "back", "repeat"},
            whole_threshold={i.name: i.threshold for i in self._intents.values()},
            max_whole_words=MAX_FUZZY_WORDS,
        )

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
        fillers: list[str] = []
        step_words: list[str] = list(DEFAULT_STEP_WORDS)
        for path in files:
            try:
                data = yaml.load(path.read_text(encoding="utf-8"), Loader=_PhraseLoader)
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"{path}: cannot read intents: {exc}") from exc
            intents.extend(cls.parse(data, source=str(path)))
            if isinstance(data, dict):
                fillers.extend(_word_list(data, "fillers", source=str(path)))
                step_words.extend(_word_list(data, "step_words", source=str(path)))
        log.debug("loaded %s intents from %s files in %s", len({i.name for i in intents}), len(files), root)
        return cls(intents=intents, words=IntentWords(fillers=tuple(fillers), step_words=tuple(step_words)))

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

    def classify(self, text: str, *, moment: Moment) -> IntentMatch:
        """What `text` asks for, typed at `moment` of its thread. Always an answer; QUESTION means search it."""
        norm = normalise(text)
        for intent in self._intents.values():
            for pattern in intent.patterns:
                m = pattern.search(norm) if norm else None
                if m:
                    found = {k: v for k, v in m.groupdict().items() if v is not None}
                    label = _settle(_resolve(intent.name, moment), moment, load=0)
                    return IntentMatch(name=label, score=100.0, slots=found, cue=intent.name)
        reading = self._reader.read(text)
        if not reading.words:
            name = _emoji_label(reading.emoji_mood, moment) if reading.has_emoji else Label.UNSURE
            return IntentMatch(name=name, score=50.0)
        return _decide(reading, text, moment)

    def match(self, text: str) -> IntentMatch | None:
        """The intent `text` expresses as a whole, or None when it is a question (or nothing); older names."""
        norm = normalise(text)
        if not norm:
            return None
        for intent in self._intents.values():
            if intent.name not in _LEGACY_NAMES:
                continue
            for pattern in intent.patterns:
                m = pattern.search(norm)
                if m:
                    slots = {k: v for k, v in m.groupdict().items() if v is not None}
                    return IntentMatch(name=_LEGACY_NAMES[intent.name], score=100.0, slots=slots)
        if len(norm) > MAX_FUZZY_CHARS or norm.count(" ") + 1 > MAX_FUZZY_WORDS or not self._examples:
            return None
        # ratio, not WRatio/partial: partial matching would find "next" inside any sentence containing it.
        best = process.extractOne(norm, self._example_texts, scorer=fuzz.ratio, processor=None)
        if best is None:
            return None
        _, score, index = best
        name = self._examples[index][1]
        if score >= self._legacy_thresholds[name]:
            return IntentMatch(name=name, score=float(score))
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cue:
    """The family a message is best read as (None: no cue) and its strength, the words of its longest cue."""

    family: str | None
    strength: int


@dataclass(slots=True, kw_only=True)
class _CueWeights:
    """Each family's strength in a message, and where its last cue ends: of two equal cues the later is the ask."""

    strength: dict[str, int]
    last_end: dict[str, int]

    def raise_to(self, family: str, strength: int) -> None:
        self.strength[family] = max(self.strength.get(family, 0), strength)


def _decide(reading: Reading, text: str, moment: Moment) -> IntentMatch:
    """The label of a message with words: its strongest cue, unless the message says more than the cue carries
    (a question), or is chat, or reports how the fix went after "Did it fix the problem?"."""
    load = len(reading.content) + _CODE_WEIGHT * reading.codes
    asking = _asking(reading)
    cue = _the_ask(reading, moment, load=load, asking=asking)
    family, strength = cue.family, cue.strength
    carry = _carry_at(cue, reading, moment)
    if load and any(h.start == reading.first_said for h in asking):
        family = "question"  # "also my mouse doesn't work": opening with "also", "btw" starts a new problem
    if family == "worked" and _but_broken(reading):
        family = "failed"  # "the editor opens now but crashes 2 min later so... no"
    if family is None and reading.emoji_mood and load <= 1:
        # "👎 meh", "🎉 yay": the emoji says what the words do not
        return IntentMatch(name=_emoji_label(reading.emoji_mood, moment), score=50.0)
    if family in _WEAK and load and "?" in text:
        family = None  # "can I do this from home?": a yes-word inside a question answers nothing
    elif family in _OUTCOMES and load >= 2 and text.rstrip().endswith("?"):
        family = None  # "the button says Repair, not Reset: same thing?" asks; it reports no outcome
    # an outcome is expected once a fix is tried; on the answer card only a happy one ("... its working now 🎉")
    reported = family not in _OUTCOMES or moment in _OUTCOME_CARRY or (family == "worked" and _thanked(reading))
    if family in _OWN_CLAUSE_REQUESTS | _NAVIGATION and load > carry and reported:
        # "escalate pls, ive got a line of customers": a request in a clause of its own, the rest its reason
        load = _own_clause_load(reading, family, carry, load=load, asking=bool(asking))
    elif family in _OUTCOMES and moment is Moment.LAST_STEP and _answered_first(reading):
        load = 0  # "No, sadly it's still doing it. I followed every step ...": the story of a plain no
    unread = family is None or load > carry
    if family == "ack" and reading.aside:
        return IntentMatch(name=Label.SMALLTALK, score=50.0, cue="aside")  # "ok, one moment, doing it now": a wait
    if unread and _just_chat(reading, text, asking=bool(asking)):
        # cue "aside": the engine still asks the KB, which knows a paper jam when it sees one
        return IntentMatch(name=Label.SMALLTALK, score=50.0, cue="aside")
    if moment is Moment.LAST_STEP and (unread or family in _WEAK) and _reports_success(reading, text):
        # "all 14 trucks showing on the map now", "build went green 🎉": after "Did it fix the problem?"
        return IntentMatch(name=Label.WORKED, score=50.0, cue="worked")
    if moment is Moment.LAST_STEP and unread and not asking and _reports_failure(reading, text):
        # "did all 6 steps and the HMI still shows comm fail on lift station 4"
        return IntentMatch(name=Label.FAILED, score=50.0, cue="failed")
    if family is None or load > carry:
        name = Label.QUESTION if load else Label.UNSURE
        return IntentMatch(name=name, score=float(min(100, 40 + 10 * load)))
    if family == "question":
        return IntentMatch(name=Label.QUESTION if load else Label.UNSURE, score=60.0)
    if family == "start_over" and (later := _step_after(reading, "start_over")) is not None and later.number > 1:
        family = "goto"  # "can we please start from step 3?": from there, not from the top
    slots: dict[str, str] = {}
    if family == "goto":
        slots["n"] = str(_the_step(reading).number)
    label = _settle(_resolve(family, moment), moment, load=load)
    score = 100.0 if strength >= _WHOLE_STRENGTH else 50.0 + 10 * min(strength, _CARRY_CAP) - 10 * load
    return IntentMatch(name=label, score=score, slots=slots, cue=family)


def _step_after(reading: Reading, family: str) -> StepRef | None:
    """The step named right after a cue of `family` ("jump to step 6", "start from step 3")."""
    spans = [(h.start, h.end) for h in reading.family_hits(family)]
    return next((r for r in reading.step_refs if any(a < r.start <= b for a, b in spans)), None)


def _the_step(reading: Reading) -> StepRef:
    """The step a go-there asks for: the one right after a go-there (or start-from) cue ("I did step 5 before.
    Can we jump to step 6?" asks for 6), else the first one named."""
    return _step_after(reading, "goto") or _step_after(reading, "start_over") or reading.step_refs[0]


def _the_ask(reading: Reading, moment: Moment, *, load: int, asking: list[CueHit]) -> _Cue:
    """The cue the message is read by."""
    cue = _strongest(reading, moment)
    if cue.family == "question" and (not load or not asking):
        # "btw" with nothing after it, "where's the doc" (a question word asking for the card): read the message
        # without it
        cue = _strongest(reading, moment, besides="question")
    if cue.family in _OUTCOMES and (ask := _ask_beyond(reading, cue.family)) is not None:
        cue = ask  # "nope, can you open a ticket for IT": the failure is the reason, the ticket the ask
    return cue


def _thanked(reading: Reading) -> bool:
    """Said with thanks or a happy emoji."""
    return reading.emoji_mood > 0 or any(h.family == "thanks" for h in reading.hits)


def _carry_at(cue: _Cue, reading: Reading, moment: Moment) -> int:
    """How many problem words `cue` carries at `moment`."""
    carry = _carry(cue.strength)
    if cue.family in _OUTCOMES:
        carry += _OUTCOME_CARRY.get(moment, -1)
        if cue.family == "worked" and _thanked(reading):
            carry += _THANKED_CARRY  # "cleared the cache like the card says and its working. thanks!"
    elif cue.family == "next" and moment is Moment.WALKING:
        carry += 1  # "ok cleared the temp folder, now what": what was done, then the ask
    return carry


def _strongest(reading: Reading, moment: Moment, *, besides: str = "") -> _Cue:
    """The family the message is best read as, and its strength (the words of its longest cue)."""
    weights = _cue_weights(reading, besides=besides)
    _weigh_opening_answer(weights, _opening_answer(reading), moment)
    _weigh_step_ref(weights, reading)
    return _pick(weights, has_step_ref=bool(reading.step_refs))


def _cue_weights(reading: Reading, *, besides: str) -> _CueWeights:
    weights = _CueWeights(strength={}, last_end={})
    for hit in reading.hits:
        if hit.family == besides:
            continue
        weights.raise_to(hit.family, _WHOLE_STRENGTH if hit.whole else hit.size)
        weights.last_end[hit.family] = max(weights.last_end.get(hit.family, 0), hit.end)
    return weights


def _opening_answer(reading: Reading) -> str | None:
    """The family of a yes or no that opens the message (or closes a short one): "affirm", "deny" or None."""
    short = len(reading.words) <= _SHORT_REPLY_WORDS  # "sort of, no" answers as plainly as "no"
    openers = [
        h
        for h in reading.hits
        if h.family in {"affirm", "deny"} and (h.start == 0 or (short and h.end == len(reading.words)))
    ]
    return max(openers, key=lambda h: h.size).family if openers else None  # "it did not" over "it did"


def _weigh_opening_answer(weights: _CueWeights, opening: str | None, moment: Moment) -> None:
    """A yes or no first thing answers the question the bot just asked."""
    if moment is Moment.LAST_STEP and opening:
        weights.raise_to("worked" if opening == "affirm" else "failed", _ANSWER_STRENGTH)
    elif moment is Moment.WALKING and opening == "deny":  # "nope, ..." mid-walk: the step did not help
        weights.raise_to("failed", _STEP_REF_STRENGTH)


def _weigh_step_ref(weights: _CueWeights, reading: Reading) -> None:
    """A step number makes a goto as strong as the cue carrying it; without one there is no goto."""
    strength = weights.strength
    if not reading.step_refs:
        strength.pop("goto", None)
        return
    # a carrier in the step number's clause, or anywhere when the number stands alone ("go straight to the last
    # one, step 6"): "go back a step, I dont think step 5 took" goes back, not to step 5
    ref_clauses = {_clause_of(reading, r.start) for r in reading.step_refs}
    alone = any(start in ref_clauses and not content for start, _, content, _ in reading.clauses)
    carried = max(
        (
            _WHOLE_STRENGTH if h.whole else h.size
            for h in reading.hits
            if h.family in _STEP_CARRIERS and (h.whole or alone or _clause_of(reading, h.start) in ref_clauses)
        ),
        default=0,
    )
    if carried >= _WHOLE_STRENGTH:
        strength["goto"] = _WHOLE_STRENGTH
    elif carried:
        strength["goto"] = _STEP_REF_STRENGTH + min(carried, _CARRY_CAP)
    else:  # a bare "step 5" is the request only when little else is said ("how long does step 3 take?")
        strength["goto"] = _BARE_STEP_STRENGTH


def _pick(weights: _CueWeights, *, has_step_ref: bool) -> _Cue:
    """The strongest request; a weak family (chat, yes, no) wins only as the whole message."""
    strength = weights.strength
    strong = {f: s for f, s in strength.items() if f not in _WEAK}
    if has_step_ref:
        strong = _with_step_number(strong)
    weak = {f: s for f, s in strength.items() if f in _WEAK}
    best_strong, best_weak = _best(strong, weights.last_end), _best(weak, {})
    # "hello again" is a greeting, not a repeat
    if best_strong is None or (best_weak is not None and weak[best_weak] >= _WHOLE_STRENGTH > strong[best_strong]):
        return _Cue(family=best_weak, strength=weak.get(best_weak or "", 0))
    return _Cue(family=best_strong, strength=strong[best_strong])


def _with_step_number(strong: dict[str, int]) -> dict[str, int]:
    """With a step number, the carriers say "go there"; any other request makes the number context, and so does
    a carrier of another clause ("go back a step, I dont think step 5 took": a bare number weighs its own)."""
    if any(f not in _STEP_CARRIERS and f != "question" for f in strong):
        return {f: s for f, s in strong.items() if f != "goto"}
    if strong.get("goto", 0) <= _BARE_STEP_STRENGTH:
        return strong
    return {f: s for f, s in strong.items() if f in {"goto", "question"}}


def _best(strength: dict[str, int], last_end: dict[str, int]) -> str | None:
    """The strongest family; between equals a question, else the one asked last ("that worked fine, next
    step?"), then _PRIORITY."""
    if not strength:
        return None
    order = {f: n for n, f in enumerate(_PRIORITY)}
    return min(
        strength, key=lambda f: (-strength[f], f != "question", -last_end.get(f, 0), order.get(f, len(order)))
    )


def _asking(reading: Reading) -> list[CueHit]:
    """The question cues that ask something: not a question word whose object is the card or a person ("where's
    the complete doc", "what's the url", "who can I call"), which asks for that; and a short opener ("is the",
    "will the") only where it opens a clause or its clause ends in a question mark ("this is the third time" asks
    nothing)."""
    starts = {h.start: h.family for h in reading.hits}
    asked = {start for start, end, *_ in reading.clauses if any(i in reading.asked_at for i in range(start, end))}
    return [
        h
        for h in reading.hits
        if h.family == "question"
        and starts.get(h.end) not in _CARD_REQUESTS
        and (h.size >= _LONG_QUESTION or _opens_clause(reading, h) or _clause_of(reading, h.start) in asked)
    ]


def _opens_clause(reading: Reading, hit: CueHit) -> bool:
    """Nothing of the problem comes before `hit` in its clause ("ok but | what if ...")."""
    start = _clause_of(reading, hit.start)
    return hit.start == start or (start == 0 and hit.start <= reading.first_said)


def _clause_of(reading: Reading, word: int) -> int:
    """The first word of the clause holding `word`."""
    return max((start for start, *_ in reading.clauses if start <= word), default=0)


def _ask_beyond(reading: Reading, outcome: str) -> _Cue | None:
    """A request said with an outcome that is the ask: a ticket or a person wherever it is said, starting over
    after it ("still broken, let's start over"; "never mind, it works now" is no new start)."""
    # (an outcome read from an opening yes or no has no hit of its own: "no, let's start over")
    after = max((h.end for h in reading.hits if h.family == outcome), default=0)
    sizes = [
        (h.size, h.family)
        for h in reading.hits
        if h.family in _ASKS_BEYOND_OUTCOME and (h.family != "start_over" or h.start >= after)
    ]
    if not sizes:
        return None
    size, family = max(sizes)
    return _Cue(family=family, strength=size)


def _but_broken(reading: Reading) -> bool:
    """A success cue, then "but" and a problem word: "opens now but crashes 2 min later"."""
    first = min((h.end for h in reading.hits if h.family == "worked"), default=None)
    if first is None:
        return False
    words = _plain(reading.words)
    for i in range(first, len(words)):
        if words[i] in _BUT:  # "... but now OneDrive says 'sync paused' again": it came back
            return any(w in PROBLEM_CUES or w in _STILL or w == "again" for w in words[i + 1 :])
    return False


def _reports_success(reading: Reading, text: str) -> bool:
    """A plain statement after "Did it fix the problem?" that something now works: "now" or a happy emoji, no
    problem word, no "still", no question."""
    words = set(_plain(reading.words))
    return (
        "?" not in text
        and not reading.codes
        and not reading.aside  # "one sec, testing it now"
        and _TRYING.isdisjoint(words)
        and _BUT.isdisjoint(words)  # "now the scanner connects but the barcodes come out as garbage"
        and not any(h.family in {"smalltalk", "greeting"} for h in reading.hits)  # "you're a good bot ❤️"
        and (("now" in words and len(reading.words) > 2) or reading.emoji_mood > 0)
        and PROBLEM_CUES.isdisjoint(words)
        and _STILL.isdisjoint(words)
        and not any(h.family in {"failed", "deny", "question"} for h in reading.hits)
    )


def _reports_failure(reading: Reading, text: str) -> bool:
    """A statement after "Did it fix the problem?" that the problem is still there: "still" and a problem word,
    and no word of a new problem ("different problem: ...")."""
    words = set(_plain(reading.words))
    return (
        "?" not in text
        and not _STILL.isdisjoint(words)
        and not PROBLEM_CUES.isdisjoint(words)
        and not any(h.family == "not_mine" for h in reading.hits)
    )


def _plain(words: tuple[str, ...]) -> tuple[str, ...]:
    """Words with quoted ones as they were typed: a quoted error message names a problem too."""
    return tuple(w.removeprefix(QUOTED_MARK) for w in words)


def _own_clause_load(reading: Reading, family: str, carry: int, *, load: int, asking: bool) -> int:
    """The problem words of the clause holding a whole request of `family`, when the other clauses are its
    reason rather than a new question (no "btw", "how do i"): "escalate pls, ive got a line of customers",
    "could you put all the steps in one message so I can print it". Otherwise the whole message's, `load`."""
    if len(reading.clauses) < 2 or asking:
        return load
    for start, end, content, codes in reading.clauses:
        if codes < reading.codes:
            continue  # an error code elsewhere is a paste to search: "the help file won't open, error 0x80004005"
        content += _CODE_WEIGHT * codes
        if content <= carry and any(
            h.family == family
            and start <= h.start
            and h.end <= end
            and (family != "not_mine" or _NEW_PROBLEM.isdisjoint(reading.words[h.start : h.end]))
            for h in reading.hits
        ):
            if family in _NAVIGATION and not PROBLEM_CUES.isdisjoint(_plain(reading.words)):
                return load  # "next, the tape is not found", "the next morning it crashed again" report more
            return content
    return load


def _answered_first(reading: Reading) -> bool:
    """The first clause is a plain yes or no and nothing else ("No, sadly ...", "yes!! ...")."""
    if len(reading.clauses) < 2:
        return False
    start, _, content, codes = reading.clauses[0]
    opens = any(h.family in {"affirm", "deny"} and h.start == start for h in reading.hits)
    return opens and not content and not codes


def _just_chat(reading: Reading, text: str, *, asking: bool) -> bool:
    """A laugh with a remark that names no problem and asks nothing: "lol my manager is watching over my
    shoulder", "😂 this bot is smarter than our last IT guy". An apology is not enough ("sorry, I meant the
    Teams calendar" refines the question), nor a greeting ("hi, calendar sharing with outside people")."""
    # "hang on" is not an app that hangs; "keeps crashing" still crashes
    covered = {i for h in reading.hits if h.family in _CHAT for i in range(h.start, h.end)}
    said = {w for i, w in enumerate(reading.words) if i not in covered}
    chat_with_smile = reading.emoji_mood > 0 and any(h.family in _CHAT and h.start == 0 for h in reading.hits)
    return (
        (reading.aside or chat_with_smile)
        and not reading.codes
        and "?" not in text
        and PROBLEM_CUES.isdisjoint(said)
        and not asking
    )


def _carry(strength: int) -> int:
    """How many problem words a cue of `strength` carries."""
    return 10_000 if strength >= _WHOLE_STRENGTH else min(strength, _CARRY_CAP)


def _resolve(family: str, moment: Moment) -> Label:
    """The label a cue family means at `moment`."""
    match family:
        case "ack":  # "ok", "done": mid-walk the step is done; after "Did it fix it?" it answers nothing
            return {Moment.WALKING: Label.NEXT, Moment.LAST_STEP: Label.UNSURE}.get(moment, Label.SMALLTALK)
        case "affirm":
            return {
                Moment.LAST_STEP: Label.WORKED,
                Moment.WALKING: Label.NEXT,
                Moment.ANSWERED: Label.WALK,
                Moment.EXHAUSTED: Label.ESCALATE,  # yes to "shall I bring in a person?"
            }.get(moment, Label.UNSURE)
        case "deny":
            return {
                Moment.LAST_STEP: Label.FAILED,
                Moment.WALKING: Label.FAILED,
                Moment.ANSWERED: Label.NOT_MINE,
                Moment.EXHAUSTED: Label.SMALLTALK,
            }.get(moment, Label.UNSURE)
        case "thanks":  # thanks in reply to "Did it fix the problem?" is a yes
            return Label.WORKED if moment is Moment.LAST_STEP else Label.SMALLTALK
        case "greeting" | "smalltalk":
            return Label.SMALLTALK
        case "next":  # on an answer card, "next" starts the walk-through
            return Label.WALK if moment is Moment.ANSWERED else Label.NEXT
    return Label(family)


def _settle(label: Label, moment: Moment, *, load: int) -> Label:
    """A step or article request with nothing on the table means nothing yet: search it or ask."""
    if label in _NEEDS_ARTICLE and moment in _NO_ARTICLE_MOMENTS:
        return Label.QUESTION if load else Label.UNSURE
    return label


def _emoji_label(mood: int, moment: Moment) -> Label:
    """A message of emoji only: a thumbs-up mid-walk is done, after the last step it is a yes."""
    if mood > 0:
        return {Moment.WALKING: Label.NEXT, Moment.LAST_STEP: Label.WORKED}.get(moment, Label.SMALLTALK)
    if mood < 0:
        return {Moment.WALKING: Label.FAILED, Moment.LAST_STEP: Label.FAILED}.get(moment, Label.UNSURE)
    return Label.SMALLTALK


class _PhraseLoader(yaml.SafeLoader):
    """YAML 1.1 reads yes, no, on, off, y and n as booleans; in a list of phrases they are words people type."""


_PhraseLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _word_list(data: dict[str, Any], key: str, *, source: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(w, str | int) for w in value):
        raise ConfigError(f"{source}: {key} must be a list of words")
    return [str(w) for w in value]
