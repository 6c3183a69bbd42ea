"""Reading one thread message for intent cues: words, typo repair, cue phrases, step numbers, problem content.

`CueReader` knows nothing of moments or labels; it reports what is in the message so that `IntentSet.classify`
can decide. What it reports:

- `words`: the message lower-cased, mentions and emoji codes dropped, apostrophes removed ("didn't" -> "didnt"),
  one spelling per word ("did not" -> "didnt", "somebody" -> "someone"), and each word that is neither in the
  vocabulary nor a common English word repaired when it is one slip away from a vocabulary word ("bakc" ->
  "back", "wroked" -> "worked", "nexy" -> "next"). Only slips that typing makes are repaired: two letters
  swapped, one left out, one doubled, a neighbouring key; never the first letter, and an added letter is never
  taken back: "repeats" is another word, not "repeat" with a typo.
- `hits`: every example phrase found in `words` as a run, counts and softeners aside ("all 6 steps at once"
  holds "all steps at once"), with "this", "that" and "the procedure" all standing for "it". A navigation cue
  followed by someone else's word is dropped: "next tape", "back end", "go back to the classic view" use the
  words, not the intent; a negated outcome too ("stopped working again").
- `content`: the words that are neither fillers nor covered by a hit: the problem the person describes. Error
  codes ("0x800CCC0E", "error 5") are counted apart: a pasted error is a question.
- `step_refs`: step numbers ("step 5", "step six", "the 2nd step").
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from kbbot.search.lexicon import packaged_vocabulary
from kbbot.search.text import PROBLEM_CUES  # the search's problem words: one list for both

_MENTION = re.compile(r"<[@!#][^>]*>|(?<![\w.])@[\w.\-]+")
_EMOJI_CODE = re.compile(r":([a-z0-9_+\-]+):")
_APOSTROPHE = re.compile(r"['\u2019\u2018`´]")
_WORD = re.compile(r"\w+")
_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]")
_ELISION = re.compile(r"\b([ldjcnsmt]|qu)['\u2019](?=[aeiouyhéèêàâîôû])")
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}")
# A hyphen inside a word ("on-call", "e-mail") joins it; a dash between words ("fixed - thanks", "done — next")
# ends a clause like a comma.
_CLAUSE_END = re.compile(
    r"[.,!?;:()\[\]\u2026\u2013\u2014]|\s-|-\s|[^\w\s]{2,}|[\U0001f300-\U0001faff\u2600-\u27bf]"
)
# Words that soften or stress a phrase without changing it: "this wasnt *even* my issue", "next *please*".
_SOFTENERS = frozenset(
    {"even", "really", "actually", "just", "totally", "literally", "honestly", "tbh", "please", "pls", "plz",
     "kindly", "exactly", "simply", "very", "directly", "straight", "directement", "direkt", "directamente"}
)  # fmt: skip
# An error code or message id: hex, letters and digits mixed ("0x800ccc0e", "c2248", "p1"), or words joined by
# underscores ("err_cert_authority_invalid"). Clock times and durations ("3pm", "20min") and ordinals ("2nd")
# are chat, not codes.
_CODE = re.compile(r"^(0x[0-9a-f]+|[a-z]+\d+[a-z\d]*|\d+[a-z]+[a-z\d]*|(?!q_)[a-z0-9]+(_[a-z0-9]+)+)$")
_NOT_CODE = re.compile(
    r"^(\d{1,2}(st|nd|rd|th|am|pm|min|mins|h|hr|hrs|s|m|x)|p[0-4]|sev[0-4]|2fa|[345]g|4k|[1-9]d|b2b|p2p|mp[34]|a4|a3)$"
)
# A ticket's priority ("raise a P1 ticket", "sev2"): how urgent, not which error
_PRIORITY_TAG = re.compile(r"^(p[0-4]|sev[0-4])$")
_OPENERS = frozenset({"ack", "greeting", "thanks", "smalltalk", "affirm", "deny"})  # "ok but", "hi, so"
_PLACE_WORDS = frozenset({"ext", "extension", "x", "tel", "phone", "room", "desk", "office", "bed", "till"})
_ERROR_WORDS = frozenset({"error", "code", "event", "id", "stop", "exception", "hresult"})

_CARDINALS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
_ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
    "nineteenth", "twentieth",
)  # fmt: skip
_CARDINAL_VALUE = {w: n for n, w in enumerate(_CARDINALS, start=1)}
_ORDINAL_VALUE = {w: n for n, w in enumerate(_ORDINALS, start=1)}
_ORDINAL_DIGITS = re.compile(r"^(\d{1,3})(st|nd|rd|th)$")
# Between a step word and its number: "step number 5", "step no 5", "step #5" ("#" is dropped as punctuation).
# Numbers as a voice keyboard writes them, right after a step word at the end of a request: "step for please"
_SPOKEN_NUMBERS = {"won": 1, "to": 2, "too": 2, "for": 4, "fore": 4, "ate": 8}
_STEP_NUMBER_FILLERS = frozenset({"number", "no", "nr", "num"})
# Longer words are not typos of a cue word, and a whole-message match is for short messages only.
_MAX_REPAIR_CHARS = 20
_MAX_WHOLE_CHARS = 60
_POINTERS = frozenset({"it", "this", "that"})
_NOT_A_COUNT_AFTER_ONE = frozenset({"more", "by", "at", "of", "last"})
_DETERMINERS = frozenset({"the", "this", "that", "these", "those"})
_ARTICLES = frozenset({"the", "a", "an"})
_COUNT_AFTER = frozenset({"step", "steps", "by", "at", "more"})
_PLACE_PREPOSITIONS = frozenset({"on", "in", "at", "of", "with", "about", "during"})
# What "it" stands for in a thread: "take me through the procedure" is "take me through it".
_FIX_NOUNS = frozenset(
    {"procedure", "steps", "step", "fix", "solution", "process", "instructions", "guide", "one"}
)
# "is not" stays two words: "this is not my case" must still hold the example "not my case".
_NOT_FORMS = {"do": "dont", "does": "doesnt", "did": "didnt", "can": "cant", "could": "couldnt",
              "would": "wouldnt", "should": "shouldnt", "will": "wont", "has": "hasnt", "have": "havent",
              "had": "hadnt"}  # fmt: skip
_CONTRACTIONS: dict[tuple[str, str], str] = {(a, "not"): b for a, b in _NOT_FORMS.items()} | {
    ("it", "is"): "its", ("i", "am"): "im", ("that", "is"): "thats", ("i", "have"): "ive", ("i", "will"): "ill",
    ("let", "us"): "lets", ("there", "is"): "theres", ("what", "is"): "whats",
}  # fmt: skip
_SPELLINGS = {"somebody": "someone", "anybody": "anyone", "whoevers": "whoever", "someones": "someone",
              "wat": "what", "w": "with", "cannot": "cant", "thru": "through", "u": "you",
              "ur": "your", "wanna": "want", "gonna": "going", "dunno": "idk", "thanx": "thanks",
              "tks": "thanks"}  # fmt: skip
# A word before an outcome cue that turns it around: "stopped working again", "no longer works".
_NEGATORS = frozenset(
    {"stopped", "not", "no", "never", "longer", "isnt", "wasnt", "arent", "werent", "doesnt", "didnt", "hardly",
     "barely", "without", "until", "unless", "if"}
)  # fmt: skip
# Words before a request that turn it down: "dont do the one-at-a-time thing", "instead of the buttons"; or
# make it a button pressed, told of: "back pls i clicked next by accident"
_DECLINERS = frozenset({"dont", "didnt", "without", "instead", "before", "clicked", "pressed", "tapped"})
# Words ending in "s" after "still" that are not what a thing does ("still beeps"): "still has", "still thanks".
_NOT_A_DOING = frozenset(
    {"this", "was", "has", "does", "is", "its", "thanks", "steps", "yes", "always", "perhaps", "thinks"}
)
# "-ing" words after "still" that say something is under way, not that it is still wrong ("still rebooting")
_STILL_UNDERWAY = frozenset(
    {"rebooting", "restarting", "booting", "starting", "loading", "installing", "updating", "downloading",
     "uploading", "syncing", "processing", "copying", "scanning", "running", "working", "waiting", "trying",
     "testing", "checking", "looking", "reading", "searching", "thinking", "going", "printing", "spinning"}
)
# What may stand before a consent ("do it", "go ahead") in its clause: "yes do it", "ok go ahead", "please do".
# After anything else it is an act described: "will i have to do this every morning", "can other people on my
# team do this themselves": a question about the fix, not a yes
_CONSENT_LEADS = frozenset({"yes", "yeah", "yep", "yup", "ya", "yea", "y", "ok", "okay", "k", "sure", "please",
                            "pls", "plz", "just", "then", "so", "and", "alright", "fine", "great", "cool", "oh"})
# "on it" says "I'm on it" only after these ("click on it" is where to click)
_ON_IT_LEADS = frozenset({"im", "ok", "okay", "k", "sure", "yep", "yes", "will", "be", "ill", "were", "and"})
_THAN = frozenset({"than"})
# words a greeting may follow within its clause ("ok hi", "and good morning")
_BEFORE_GREETING = frozenset(
    {"ok", "okay", "oh", "and", "well", "so", "hi", "hey", "hello", "yo", "um", "uh", "a", "very"}
)
# Words that start the reason for a request: "walk me through it because I'm not techy".
_REASONS = frozenset({"because", "cause", "coz", "cos", "since", "as"})
_PURPOSE = frozenset({"i", "that", "we"})  # "so i can print it", "so that"
# Words shortly before an outcome cue that make it a condition: "check if its working", "see whether it works".
_CONDITIONALS = frozenset({"if", "whether", "unless", "until"})
# Words before an outcome cue that make it a wish: "need this sorted", "hope it works", "get it working".
_WISHES = frozenset({"need", "needs", "want", "wants", "get", "hope", "hopefully", "should", "must", "would"})
# Skipped when looking at the word after a navigation cue: "next to the ...", "back to my ...".
_NOUN_MARKERS = frozenset({"the", "a", "an", "my", "your", "its", "our", "their", "his", "her"})
_LINK_WORDS = frozenset({"the", "a", "an", "to", "my", "your", "our", "this", "that", "of", "in", "on", "into"})

# Emoji that say yes / done / thanks, and emoji that say no / still broken.
POSITIVE_EMOJI = frozenset(
    {
        "+1", "thumbsup", "white_check_mark", "heavy_check_mark", "ballot_box_with_check", "ok_hand", "tada",
        "raised_hands", "clap", "muscle", "100", "partying_face", "sparkles", "smile", "smiley", "grinning",
        "slightly_smiling_face", "relieved", "heart", "pray", "star-struck", "sunglasses", "ok",
        "\U0001f44d", "\u2705", "\u2714", "\u2611", "\U0001f44c", "\U0001f389", "\U0001f64c", "\U0001f44f",
        "\U0001f4aa", "\U0001f4af", "\U0001f973", "\u2728", "\U0001f600", "\U0001f603", "\U0001f604",
        "\U0001f642", "\U0001f60a", "\U0001f60c", "\u2764", "\U0001f64f", "\U0001f60e", "\U0001f197",
    }
)  # fmt: skip
# Laughter and "be right back" in words, in several languages ("jaja", "mdr", "kkkk"), and as emoji.
_LAUGH = re.compile(r"^(?:(?:ha){2,}h?|(?:he){2,}|(?:ja){2,}|(?:ah){2,}|l+o+l+|lmf?ao+|rofl|xd+|mdr|brb|kkkk+)$")
# Stepping away: "one sec, a parent just walked in", "hold on, phone's ringing", "got pulled into a meeting".
_AWAY = ("one sec", "one second", "1 sec", "hold on", "hang on", "be right back", "give me a sec",
         "give me a minute", "gimme a sec", "just a sec", "just a minute", "back in a", "afk", "going to lunch",
         "check back later", "one moment", "back from lunch", "back from my break", "will report back",
         "gimme", "give me a few", "give me 5", "ok sec", "a sec", "a moment", "one min")  # fmt: skip
LAUGH_EMOJI = frozenset(
    {"joy", "rofl", "laughing", "satisfied", "sweat_smile", "grin", "stuck_out_tongue_winking_eye", "coffee",
     "\u2615",
     "\U0001f602", "\U0001f923", "\U0001f606", "\U0001f605", "\U0001f601", "\U0001f61c"}
)  # fmt: skip
NEGATIVE_EMOJI = frozenset(
    {
        "-1", "thumbsdown", "x", "no_entry", "no_entry_sign", "disappointed", "cry", "sob", "rage", "angry",
        "confused", "face_with_rolling_eyes", "weary", "tired_face", "pensive", "slightly_frowning_face",
        "white_frowning_face", "worried", "persevere", "facepalm", "man-facepalming", "woman-facepalming",
        "\U0001f44e", "\u274c", "\u26d4", "\U0001f6ab", "\U0001f61e", "\U0001f622", "\U0001f62d", "\U0001f621",
        "\U0001f620", "\U0001f615", "\U0001f644", "\U0001f629", "\U0001f62b", "\U0001f614", "\U0001f641",
        "\u2639", "\U0001f61f", "\U0001f623", "\U0001f926",
    }
)  # fmt: skip


log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def real_words() -> frozenset[str]:
    """English words as words, not as slips: the whole-word entries of the packaged WordPiece vocabulary (BERT's,
    kbbot/data/wordpiece.txt: some 20,000 common words). "line", "than" and "crashed" are words of their own,
    one slip away from the cue words "lien", "thank" and "crashes": repairing them turned a reason ("a line of
    customers") into French and a joke ("smarter than") into thanks."""
    try:
        vocab = packaged_vocabulary()
    except OSError as exc:  # a broken install: repair as before, and say so once
        log.warning("typo repair: the word list cannot be read (%s)", exc)
        return frozenset()
    return frozenset(w for w in vocab if len(w) >= 3 and w.isalpha())


def words_of(text: str) -> list[str]:
    """The plain words of `text` as cue matching sees them (no typo repair): lower case, no apostrophes."""
    return _split(text)[0]


def _split(text: str) -> tuple[list[str], frozenset[int]]:
    """The words of `text`, and the indexes of the words a clause ends after ("come again? lost it": 1)."""
    words, ends, _ = _split_asked(text)
    return words, ends


def _split_asked(text: str) -> tuple[list[str], frozenset[int], frozenset[int]]:
    """`_split`, and the indexes of the words a question mark follows."""
    text = unicodedata.normalize("NFKC", text).lower()
    if not text.isascii():  # "atras" is "atrás", "etape" is "étape": chat drops accents, phrases keep them
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _MENTION.sub(" ", text)
    text = _EMOJI_CODE.sub(" . ", text)  # an emoji closes a clause like a full stop: "done ✅ next"
    text = _ELISION.sub(r"\1 ", text)  # "l'étape" is two words; "didn't" and "i'm" stay one
    text = _QUOTED.sub(_mark_quoted, text)  # "the button says 'Reset'": the screen's words, not a request
    text = _LETTER_RUN.sub(r"\1\1", _APOSTROPHE.sub("", text))  # "humannnn", "yesssss": two at most
    words: list[str] = []
    ends: set[int] = set()
    asked: set[int] = set()
    last = 0
    for m in _WORD.finditer(text):
        if words and _CLAUSE_END.search(text, last, m.start()):
            ends.add(len(words) - 1)
            if "?" in text[last : m.start()]:
                asked.add(len(words) - 1)
        words.append(m.group())
        last = m.end()
    if words and "?" in text[last:]:
        asked.add(len(words) - 1)
    return words, frozenset(ends), frozenset(asked)


# A quotation: a quote mark after a space (or at the start) and one before a space or punctuation, on one line.
_QUOTED = re.compile(
    r"(?:(?<=\s)|^)(['\"\u2018\u201c`])([^'\"\u2019\u201d`\n]{1,60})['\"\u2019\u201d`](?=[\s.,!?;:)]|$)"
)
QUOTED_MARK = "q_"  # quoted words become "q_reset": problem content that no phrase can match


def _mark_quoted(m: re.Match[str]) -> str:
    return " " + " ".join(QUOTED_MARK + w for w in _WORD.findall(m.group(2))) + " "


def emoji_of(text: str) -> list[str]:
    """Slack emoji codes (without colons) and emoji characters in `text`, in order."""
    text = unicodedata.normalize("NFKC", text).lower()
    found = _EMOJI_CODE.findall(text)
    # only characters outside plain words and spaces can be symbols; most messages have a handful
    found += [ch for ch in _NOT_WORD_OR_SPACE.findall(text) if unicodedata.category(ch) == "So"]
    return found


@dataclass(frozen=True, slots=True)
class CueHit:
    family: str
    start: int  # word index of the first word of the cue
    end: int  # one past the last word
    whole: bool = False  # the whole message is (nearly) the cue

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class StepRef:
    number: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Reading:
    """What one message holds (see the module docstring)."""

    words: tuple[str, ...]
    hits: tuple[CueHit, ...]
    step_refs: tuple[StepRef, ...]
    content: tuple[str, ...]  # problem words left over once every cue is taken out
    codes: int  # error codes and "error N" phrases
    emoji_mood: int  # +1 positive emoji only, -1 negative only, 0 none or mixed
    has_emoji: bool
    aside: bool = False  # "lol", "hahaha", 😂, "brb", "one sec, ...": chat, whatever else it says
    # the clauses, each cut short where a reason starts ("all steps in one message | so I can print them"), as
    # (first word, one past the last, problem words in it, error codes in it): a request may have a clause of
    # its own
    clauses: tuple[tuple[int, int, int, int], ...] = ()
    first_said: int = 0  # the first word that is neither a filler nor chat ("ok but | what if ...")
    asked_at: frozenset[int] = frozenset()  # words a question mark follows

    def family_hits(self, family: str) -> list[CueHit]:
        return [h for h in self.hits if h.family == family]


class CueReader:
    """Finds the cues of every family in a message. Built once per `IntentSet`; `read` is cheap."""

    def __init__(
        self,
        *,
        phrases: Mapping[str, Iterable[str]],
        fillers: Iterable[str],
        step_words: Iterable[str],
        blockable: Iterable[str],
        negatable: Iterable[str] = (),
        numbered: Iterable[str] = (),
        whole_threshold: Mapping[str, float],
        max_whole_words: int,
    ) -> None:
        self._step_words = frozenset(w for s in step_words for w in words_of(s))
        self._fillers = frozenset(w for f in fillers for w in words_of(f))
        self._blockable = frozenset(blockable)
        self._negatable = frozenset(negatable)
        # families whose cue a bare number may follow ("jump to 4", "back to 5")
        self._numbered = frozenset(numbered)
        self._whole_threshold = dict(whole_threshold)
        self._max_whole_words = max_whole_words
        # first word -> [(phrase words, family)], longest first so a scan prefers "next step" over "next"
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self._whole: list[tuple[str, str]] = []  # (joined phrase, family) for whole-message fuzzy matching
        # phrases a softener makes ("not really", "please do"), looked for word for word
        self._verbatim: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        vocabulary: set[str] = set(self._fillers) | self._step_words
        self._family_words: dict[str, set[str]] = {f: set() for f in phrases}
        self._uses: Counter[str] = Counter()
        for family, items in phrases.items():
            for phrase in items:
                every = _contract(tuple(words_of(phrase)), frozenset())[0]
                vocabulary.update(every)
                self._uses.update(every)
                self._family_words[family].update(every)
                if not every:
                    continue
                self._whole.append((" ".join(every), family))
                ws = tuple(w for w, _, _ in _skeleton(every))
                # A phrase that shrinks to one word ("please do" -> "do", "the steps" -> "it") would be found in
                # any sentence; it counts as a whole message, or word for word when only a softener went ("not
                # really, it dropped again" opens with "not really").
                if not ws or (len(ws) == 1 and len(every) > 1):
                    if ws and all(w in _SOFTENERS or w == ws[0] for w in every):
                        entries = self._verbatim.setdefault(every[0], [])
                        if (every, family) not in entries:
                            entries.append((every, family))
                    continue
                # people drop the article: "full text pls" asks for "the full text"
                bare = ws[1:] if ws[0] in _ARTICLES and len(ws) > 2 else None
                for form in (ws, bare) if bare else (ws,):
                    entries = self._by_first.setdefault(form[0], [])
                    if (form, family) not in entries:  # the same phrase from two files ("no" in en and es)
                        entries.append((form, family))
        self._one_word: dict[str, set[tuple[str, ...]]] = {f: set() for f in phrases}
        for entries in self._by_first.values():
            for ws, family in entries:
                if len(ws) == 1:
                    self._one_word[family].add(ws)
        for entries in self._by_first.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._vocabulary = frozenset(vocabulary)
        self._whole_phrases = [p for p, _ in self._whole]
        self._whole_cutoff = min(self._whole_threshold.values(), default=100.0)
        # Only real words are repair targets; very short ones ("ok", "no") are too close to everything.
        self._repair_targets = sorted(w for w in self._vocabulary if len(w) >= 4 and w.isalpha())
        self._repaired: dict[str, str] = {}
        self._real_words = real_words()

    def read(self, text: str) -> Reading:
        raw, ends, asked = _split_asked(text)
        words, clause_ends, into = _contract_mapped(tuple(self._repair(w) for w in raw), ends)
        emoji = emoji_of(text)
        positive = sum(1 for e in emoji if e in POSITIVE_EMOJI)
        negative = sum(1 for e in emoji if e in NEGATIVE_EMOJI)
        mood = 1 if positive and not negative else -1 if negative and not positive else 0
        hits = self._hits(words, clause_ends)
        step_refs = self._step_refs(words, hits)
        covered = {i for h in hits for i in range(h.start, h.end)}
        covered |= {i for r in step_refs for i in range(r.start, r.end)}
        # the number of a phone extension or a room says where, not what: "call me? ext 4412"
        covered |= {i for i in range(1, len(words)) if words[i].isdigit() and words[i - 1] in _PLACE_WORDS}
        content_at = [i for i, w in enumerate(words) if i not in covered and self.is_problem_word(w)]
        content = tuple(words[i] for i in content_at)
        code_at = [i for i, w in enumerate(words) if _CODE.match(w) and not _NOT_CODE.match(w)]
        code_at += [i for i, (a, b) in enumerate(itertools.pairwise(words)) if a in _ERROR_WORDS and b.isdigit()]
        codes = len(code_at)
        clauses = _clauses(words, clause_ends, content_at, code_at)
        return Reading(
            words=words,
            hits=hits,
            step_refs=step_refs,
            content=content,
            codes=codes,
            emoji_mood=mood,
            has_emoji=bool(emoji),
            aside=any(_LAUGH.match(w) for w in raw)
            or any(e in LAUGH_EMOJI for e in emoji)
            or any(f" {away} " in f" {' '.join(words)} " for away in _AWAY),
            clauses=clauses,
            first_said=self._first_said(words, hits),
            asked_at=frozenset(into[i] for i in asked),
        )

    def _first_said(self, words: tuple[str, ...], hits: tuple[CueHit, ...]) -> int:
        """The first word that is neither a filler nor an opener's cue ("ok but | what if ...")."""
        asks = {h.start for h in hits if h.family not in _OPENERS}
        return next((i for i, w in enumerate(words) if i in asks or self.is_problem_word(w)), 0)

    def is_problem_word(self, word: str) -> bool:
        """A word that says something about the problem rather than about the conversation."""
        if word in self._fillers or word in self._step_words or word in _SOFTENERS:
            return False
        if word.isdigit():
            return len(word) > 2
        if len(word) == 1 or _NOT_CODE.match(word):
            # a lone letter is what an elision leaves ("n'est" -> "n est"); "3pm", "20min" say when, not what
            return False
        return word not in _CARDINAL_VALUE and word not in _ORDINAL_VALUE and not _ORDINAL_DIGITS.match(word)

    def _repair(self, word: str) -> str:
        if (
            word in self._vocabulary
            or word in self._real_words
            or not 3 <= len(word) <= _MAX_REPAIR_CHARS
            or not word.isalpha()
            or _number(word) is not None
        ):
            return word
        known = self._repaired.get(word)
        if known is not None:
            return known
        slips = [
            target
            for target, distance, _ in process.extract(
                word, self._repair_targets, scorer=OSA.distance, score_cutoff=1, limit=8
            )
            if distance == 1 and _is_typing_slip(word, target)
        ]
        # "wat" is a slip of "what" and of "wait": the word the phrases use most is the likelier one
        fixed = max(slips, key=lambda t: (self._uses[t], t)) if slips else word
        if len(self._repaired) < 50_000:  # bounded: a flood of random words must not grow memory
            self._repaired[word] = fixed
        return fixed

    def _hits(self, words: tuple[str, ...], clause_ends: frozenset[int]) -> tuple[CueHit, ...]:
        # Phrases are looked for with counts and softeners taken out, so "all 6 steps at once" holds "all steps
        # at once" and "not even my issue" holds "not my issue".
        spans = _skeleton(words, clause_ends)
        skeleton = tuple(w for w, _, _ in spans)
        found: list[tuple[str, tuple[str, ...], int, int]] = []
        for k, word in enumerate(skeleton):
            for phrase, family in self._by_first.get(word, ()):
                stop = k + len(phrase)
                if skeleton[k:stop] == phrase:
                    start, end = spans[k][1], spans[stop - 1][2]
                    if any(i in clause_ends for i in range(start, end - 1)):
                        continue  # "not really, it was ok" holds "not really", not "not it"
                    if _compared(words, start, clause_ends):
                        continue  # "lol ur quicker than our helpdesk" asks for no helpdesk
                    if family in self._negatable and _turned_around(words, start, clause_ends):
                        continue  # "stopped working again", "need this sorted" do not report it
                    found.append((family, phrase, start, end))
        # a cue inside a longer cue of another family is a part of that cue, not a request of its own: "did all
        # 6 steps" reports the steps done, it does not ask for all the steps
        by_start: dict[int, list[tuple[str, int]]] = {}
        for family, _, start, end in found:
            by_start.setdefault(start, []).append((family, end))
        longest = max((end - start for _, _, start, end in found), default=0)
        found = [
            f
            for f in found
            if not any(
                family != f[0] and f[3] <= end and end - s > f[3] - f[2]
                for s in range(max(0, f[3] - longest), f[2] + 1)
                for family, end in by_start.get(s, ())
            )
        ]
        for i, word in enumerate(words):
            for phrase, family in self._verbatim.get(word, ()):
                end = i + len(phrase)
                if words[i:end] == phrase and not any(j in clause_ends for j in range(i, end - 1)):
                    found.append((family, phrase, i, end))
        # "still" before a problem word or what a thing does says the fix did not take: "scanner still beeps",
        # "vpn still drops", "still crashing"; "still rebooting" is a wait, not a failure
        if "failed" in self._family_words:
            found += [
                ("failed", ("still", words[i + 1]), i, i + 2)
                for i in range(len(words) - 1)
                if words[i] == "still" and i not in clause_ends and _still_wrong(words[i + 1])
            ]
        # a request turned down is not asked for: "dont do the one-at-a-time thing, list all steps"
        found = [f for f in found if f[0] in self._negatable or not _declined(words, f[2], clause_ends)]
        starts = {start for _, _, start, _ in found}
        hits = [
            CueHit(family=family, start=start, end=end)
            for family, phrase, start, end in found
            if (end - 1 in clause_ends or not self._blocked(family, phrase, words, end, starts))
            and not self._a_noun(family, phrase, words, start)
            and not _mid_clause(words, start, clause_ends, _leads_of(family, phrase))
        ]
        joined = " ".join(words)
        if words and len(words) <= self._max_whole_words and len(joined) <= _MAX_WHOLE_CHARS:
            best = process.extractOne(
                joined, self._whole_phrases, scorer=fuzz.ratio, processor=None, score_cutoff=self._whole_cutoff
            )
            if best is not None:
                matched, score, index = best
                family = self._whole[index][1]
                # a slip is a word nobody means: "ok thanks" is not a slip of "no thanks", though the letters are
                swapped = set(words) - set(matched.split())
                if score >= self._whole_threshold.get(family, 100.0) and not (swapped & self._vocabulary):
                    hits.append(CueHit(family=family, start=0, end=len(words), whole=True))
        return tuple(hits)

    def _blocked(
        self, family: str, phrase: tuple[str, ...], words: tuple[str, ...], end: int, starts: set[int]
    ) -> bool:
        """A navigation cue whose next word is problem content ("next tape", "back end server", "on to the
        next tape"): short cues, and longer ones that end in a one-word cue of their family."""
        if family not in self._blockable or (len(phrase) > 2 and (phrase[-1],) not in self._one_word[family]):
            return False
        j = end
        while j < len(words) and words[j] in _LINK_WORDS:
            j += 1
        # "guide me through" goes on with its own words; "back button", "start menu" with someone else's
        # (a cue of its own, "good morning btw", does not block either)
        return (
            j < len(words)
            and j not in starts
            and self.is_problem_word(words[j])
            and words[j] not in self._family_words[family]
        )

    def _a_noun(self, family: str, phrase: tuple[str, ...], words: tuple[str, ...], start: int) -> bool:
        """A one-word navigation cue after "the", "my", ...: a thing, not a request ("two cables coming out the
        back", "the start of the file"). Phrases that hold the article ("the next one") are found as such."""
        return (
            len(phrase) == 1
            and family in self._blockable
            and start > 0
            and words[start - 1] in _NOUN_MARKERS
        )

    def _step_refs(self, words: tuple[str, ...], hits: tuple[CueHit, ...]) -> tuple[StepRef, ...]:
        refs: list[StepRef] = []
        # "jump to 4", "go to number 4": a number straight after a go-there cue is a step
        for hit in hits:
            if hit.family not in self._numbered or hit.whole:
                continue
            # "jump to number 4"; "back to 5" (but "back one" is one step back, not step 1)
            if hit.family != "goto" and not (hit.end < len(words) and words[hit.end] == "to"):
                continue
            j = hit.end + (hit.end < len(words) and words[hit.end] in _STEP_NUMBER_FILLERS | {"to"})
            n = _step_number(words, j)
            if n is not None and j < len(words) and words[j] not in self._step_words:
                refs.append(StepRef(number=n, start=hit.end, end=j + 1))
        for i, word in enumerate(words):
            if word not in self._step_words:
                continue
            j = i + 1
            if j < len(words) and words[j] in _STEP_NUMBER_FILLERS:
                j += 1
            n = _step_number(words, j)
            if n is None and j < len(words) and j + 1 == len(words):
                n = _SPOKEN_NUMBERS.get(words[j])  # dictated: "go to step for please" ends on it
            if n is None and j + 1 < len(words) and words[j + 1] in {"please", "pls", "now"}:
                n = _SPOKEN_NUMBERS.get(words[j])
            if n is not None:
                refs.append(StepRef(number=n, start=i, end=j + 1))
                continue
            if i > 0:
                before = words[i - 1]
                m = _ORDINAL_DIGITS.match(before)
                value = int(m.group(1)) if m else _ORDINAL_VALUE.get(before)
                if value:
                    refs.append(StepRef(number=value, start=i - 1, end=i + 1))
        return tuple(refs)


_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# The keys around each key on a QWERTY keyboard: either side on its row; the row below sits half a key to the
# right, so its neighbours are the key below and the one to its left; the row above, the key above and its right.
_NEIGHBOURS: dict[str, str] = {
    key: "".join(
        other
        for r2, row2 in enumerate(_KEY_ROWS)
        for c2, other in enumerate(row2)
        if other != key
        and (
            (r2 == r and abs(c2 - c) == 1)
            or (r2 == r + 1 and c2 in (c - 1, c))
            or (r2 == r - 1 and c2 in (c, c + 1))
        )
    )
    for r, row in enumerate(_KEY_ROWS)
    for c, key in enumerate(row)
}


def _contract(words: tuple[str, ...], ends: frozenset[int]) -> tuple[tuple[str, ...], frozenset[int]]:
    """One spelling for one word: "did not" is "didnt", "it is" is "its", "somebody" is "someone". Applied to
    messages and phrases alike, so "it is working now" meets the example "it's working"."""
    out, new_ends, _ = _contract_mapped(words, ends)
    return out, new_ends


def _contract_mapped(
    words: tuple[str, ...], ends: frozenset[int]
) -> tuple[tuple[str, ...], frozenset[int], list[int]]:
    """`_contract`, and for each input word the index of the output word it went into."""
    out: list[str] = []
    new_ends: set[int] = set()
    into: list[int] = []
    i = 0
    while i < len(words):
        pair = (words[i], words[i + 1]) if i + 1 < len(words) and i not in ends else None
        merged = _CONTRACTIONS.get(pair) if pair else None
        if merged:
            out.append(merged)
            into += [len(out) - 1, len(out) - 1]
            i += 2
        else:
            out.append(_SPELLINGS.get(words[i], words[i]))
            into.append(len(out) - 1)
            i += 1
        if i - 1 in ends:
            new_ends.add(len(out) - 1)
    return tuple(out), frozenset(new_ends), into


def _skeleton(words: tuple[str, ...], clause_ends: frozenset[int] = frozenset()) -> list[tuple[str, int, int]]:
    """The words phrases are looked for in, each with the span of message words it stands for: counts and
    softeners out ("all 6 steps at once" holds "all steps at once", "not even my issue" holds "not my issue"),
    and whatever points at the fix is "it" ("guide me through this", "take me through the procedure")."""
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        w = words[i]
        if (w.isdigit() and len(w) <= 2) or w in _SOFTENERS or _PRIORITY_TAG.match(w):
            i += 1
            continue
        if (
            w in _DETERMINERS
            and i + 1 < len(words)
            and words[i + 1] in _FIX_NOUNS
            and i not in clause_ends
            # "this one step at a time", "that one more time", "this step by step": the noun belongs to the count
            and not (i + 2 < len(words) and words[i + 2] in _COUNT_AFTER)
            # "an error on this step", "in this procedure": where, not what
            and not (i > 0 and words[i - 1] in _PLACE_PREPOSITIONS)
        ):
            out.append(("it", i, i + 2))
            i += 2
            continue
        out.append(("it" if w in _POINTERS else w, i, i + 1))
        i += 1
    return out


def _leads_of(family: str, phrase: tuple[str, ...]) -> frozenset[str] | None:
    """The words a cue must open its clause or follow to count (None: it counts anywhere): a consent ("do it"),
    a greeting ("every morning" is a time of day), "on it" ("click on it" is where to click)."""
    if family == "affirm" and len(phrase) > 1:
        return _CONSENT_LEADS
    if family == "greeting":
        return _BEFORE_GREETING
    if phrase == ("on", "it"):
        return _ON_IT_LEADS
    return None


def _mid_clause(
    words: tuple[str, ...], start: int, clause_ends: frozenset[int], leads: frozenset[str] | None
) -> bool:
    """The cue at `start` neither opens its clause nor follows one of `leads`."""
    return leads is not None and start > 0 and start - 1 not in clause_ends and words[start - 1] not in leads


def _shortly_after(
    words: tuple[str, ...], start: int, clause_ends: frozenset[int], markers: frozenset[str], reach: int
) -> bool:
    """One of `markers` stands among the `reach` words before `start`, in the same clause."""
    for i in range(start - 1, max(-1, start - 1 - reach), -1):
        if i in clause_ends:
            return False
        if words[i] in markers:
            return True
    return False


def _still_wrong(word: str) -> bool:
    if word in PROBLEM_CUES or (len(word) > 3 and word.endswith("s") and word not in _NOT_A_DOING):
        return True
    # "still blinking red", "still getting the popup"; "still rebooting" is a wait
    return len(word) > 5 and word.endswith("ing") and word not in _STILL_UNDERWAY


def _declined(words: tuple[str, ...], start: int, clause_ends: frozenset[int]) -> bool:
    """The request at `start` is turned down: "don't do the one-at-a-time thing", "instead of the buttons"."""
    return _shortly_after(words, start, clause_ends, _DECLINERS, 4)  # "didn't even need the rest of the steps"


def _compared(words: tuple[str, ...], start: int, clause_ends: frozenset[int]) -> bool:
    """The cue at `start` is what something is compared with: "easier than calling the helpdesk"."""
    return _shortly_after(words, start, clause_ends, _THAN, 3)


def _clauses(
    words: tuple[str, ...], clause_ends: frozenset[int], content_at: list[int], code_at: list[int]
) -> tuple[tuple[int, int, int, int], ...]:
    """(first word, one past the last, problem words, error codes) of each clause, a clause ending where a reason
    begins."""
    cuts = {i + 1 for i in clause_ends}
    for i in range(1, len(words)):
        if words[i] in _REASONS or (words[i] == "so" and i + 1 < len(words) and words[i + 1] in _PURPOSE):
            cuts.add(i)
        elif words[i] == "i" and (words[i + 1 : i + 2] == ("think",) or words[i + 1 : i + 3] == ("dont", "think")):
            cuts.add(i)  # an opinion after a request is its reason: "back one step pls i dont think step 5 took"
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(words)), len(words)]
    content, codes = set(content_at), set(code_at)
    return tuple(
        (a, b, sum(1 for i in range(a, b) if i in content), sum(1 for i in range(a, b) if i in codes))
        for a, b in itertools.pairwise(bounds)
        if a < b
    )


def _turned_around(words: tuple[str, ...], start: int, clause_ends: frozenset[int]) -> bool:
    """The outcome cue at `start` is negated ("stopped working"), only wished for ("need this sorted") or a
    condition ("how do i know if step 3 actually worked")."""
    if start > 0 and words[start - 1] in _NEGATORS:
        return True
    if any(w in _WISHES for w in words[max(0, start - 2) : start]):
        return True
    return _shortly_after(words, start, clause_ends, _CONDITIONALS, 4)


def _step_number(words: tuple[str, ...], j: int) -> int | None:
    """The number at words[j], unless it is the "one" of "one more time", "one by one"."""
    if j >= len(words):
        return None
    if words[j] == "one" and j + 1 < len(words) and words[j + 1] in _NOT_A_COUNT_AFTER_ONE:
        return None
    return _number(words[j])


def _number(word: str) -> int | None:
    if word.isdigit() and len(word) <= 3:
        return int(word)
    m = _ORDINAL_DIGITS.match(word)
    if m:
        return int(m.group(1))
    return _CARDINAL_VALUE.get(word) or _ORDINAL_VALUE.get(word)


def _is_typing_slip(word: str, target: str) -> bool:
    """One slip of the fingers turns `target` into `word` (the caller knows they are one edit apart). The first
    letter is rarely the slip, and keeping it stops "tape" from becoming "etape"."""
    if word[0] != target[0]:
        return False
    if len(word) == len(target):
        if sorted(word) == sorted(target):  # two letters swapped: "bakc"
            return len(word) >= 4
        wrong, meant = next((a, b) for a, b in zip(word, target, strict=True) if a != b)
        # a neighbouring key ("nexy"); in a long word any letter, the rest is evidence enough
        return len(word) >= 7 or (len(word) >= 4 and meant in _NEIGHBOURS.get(wrong, ""))
    if len(word) == len(target) - 1:  # a letter left out: "nxt", "prevous"
        return len(target) >= 4
    # a letter added: only a doubled key ("nexxt"), never a new ending ("repeats", "moves")
    return any(word[k] == word[k + 1] and word[:k] + word[k + 1 :] == target for k in range(len(word) - 1))
