"""Turning article text and people's messages into index terms.

The same functions run at index time and at query time, so a query term and an article term meet only if
both went through here. Three kinds of term come out:

- words: lower-cased, light-stemmed, stop words dropped (`mailbags` -> `mailbag`);
- version numbers kept whole (`4.0`, `3.2.18`), because "nt 4.0" and "nt 3.51" are different worlds;
- error signatures, normalised so that the forms people paste and the forms articles print meet:
  `[008]` -> `~b008`, `0x0000001E` / `STOP 1E`... -> `~x1e`, `c0000005` -> `~xc0000005`,
  `event id 4018` / `event 4018` -> `~e4018`, `error 2140` / `error code=8453` -> `~r2140`,
  compiler and run-time codes `C2248`, `R6915`, `LNK2001` -> `~cc2248`. The `~` keeps them apart from words.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable

# People write "don't" and "dont"; the corpus writes "[ASCII 146]" or a raw 0x92 for the apostrophe.
_APOSTROPHES = re.compile(r"\[ASCII 146\]|[\u2019\u2018'`\x92]")
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")

STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all am an and any are aren as at be because been before being below
    between both but by can cannot could couldn did didn do does doesn doing don down during each few for from
    further had hadn has hasn have haven having he her here hers herself him himself his how i if in into is
    isn it its itself just let me more most mustn my myself no nor not of off on once only or other ought our
    ours ourselves out over own same shan she should shouldn so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was wasn we were weren what
    when where which while who whom why will with won would wouldn you your yours yourself yourselves
    also get gets getting got im ive its thats theres whats hi hello hey pls please thanks thank anyone
    someone know anybody us one still keeps keep now tried trying any way ok okay really just via etc
    whenever every""".split()  # noqa: SIM905 - a word list reads better as text
)

# Words that mark the sentence of a long message saying what goes wrong (raw tokens, apostrophes removed)
PROBLEM_CUES: frozenset[str] = frozenset(
    """error errors err fail fails failed failing failure failures crash crashes crashed crashing hang hangs
    hung freeze freezes froze frozen stop stops stopped cannot cant unable wont doesnt didnt isnt wasnt dont
    not no nothing never lost lose loses losing missing wrong slow corrupt corrupted invalid denied refuse
    refuses bug problem problems issue broken blue gpf fault violation message warning instead
    disappear disappears disappeared""".split()  # noqa: SIM905 - a word list reads better as text
)

def names_problem(norm: str, raw: list[str] | None = None) -> bool:
    """Whether a normalised sentence or title says something goes wrong: a problem word or an error signature
    (`raw`: its raw tokens, when the caller has them already)."""
    return not PROBLEM_CUES.isdisjoint(_TOKEN.findall(norm) if raw is None else raw) or bool(signatures(norm))


_SIG_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\[(\d{2,5})\]"), "b"),
    (re.compile(r"\bevent(?:\s*id)?(?:\s*(?:no\.?|number|#))?\s*[:=]?\s*(\d{2,5})\b"), "e"),
    (re.compile(r"\b(?:error|err|result code|return code|id no)\s*(?:code)?\s*[:=#]?\s*(-?\d{1,6})\b"), "r"),
    (re.compile(r"\bhttp(?:\s*(?:error|status))?\s*[:=]?\s*([1-5]\d\d)\b"), "h"),
)
_HEX = re.compile(r"\b0x0*([0-9a-f]{1,16})\b|\b([0-9a-f]{8})\b")
_STOP_CODE = re.compile(r"\bstop\s*[:=]?\s*(?:0x)?0*([0-9a-f]{1,8})\b")
# Compiler / linker / run-time codes: one to three letters then four or five digits (C2248, F2536, R6915,
# LNK2001, CVT1100). Two-digit or three-digit tails are left to the words (win95, nt351, exc55).
_COMPILER = re.compile(r"\b([a-z]{1,3}\d{4,5}[a-z]?)\b")
# Tokens that look like codes but are everyday words in this corpus: Q-numbers are references, not errors.
_NOT_COMPILER = re.compile(r"^(?:q|kb|sp|win|nt|exc|ie|vb|ms|rfc)\d")


def normalise_text(text: str) -> str:
    """Lower-case, fold accents, unify apostrophes, drop control characters."""
    text = _APOSTROPHES.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text.lower()


def stem(word: str) -> str:
    """A light English stemmer: plurals and the commonest verb endings.

    Heavier stemmers (Porter) conflate words that matter here ("general"/"generate", "news"/"new"); this one
    only folds forms a person would consider the same word. Words with digits are codes and stay as they are.
    """
    n = len(word)
    if n <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and n > 4 and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith(("xes", "zes", "shes")) or (word.endswith("ches") and not word.endswith("aches")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        word = word[:-1]
        n -= 1
    if n > 5 and word.endswith("ing"):
        base = word[:-3]
        if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
            base = base[:-1]
        return base
    if n > 4 and word.endswith("ed") and not word.endswith("eed"):
        base = word[:-2]
        if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
            base = base[:-1]
        elif base.endswith("i"):
            base = base[:-1] + "y"
        return base
    return word


_STEM_CACHE: dict[str, str] = {}


def _stem_cached(word: str) -> str:
    s = _STEM_CACHE.get(word)
    if s is None:
        s = stem(word)
        if len(_STEM_CACHE) < 500_000:
            _STEM_CACHE[word] = s
    return s


def words(text: str) -> list[str]:
    """Index terms of already normalised text, in order (stop words and one-letter tokens dropped)."""
    return token_words(_TOKEN.findall(text))


def token_words(tokens: list[str]) -> list[str]:
    """`words` of text already split into raw tokens (`_TOKEN.findall`), for callers that need both."""
    out: list[str] = []
    for tok in tokens:
        if len(tok) < 2 and not tok.isdigit():
            continue
        if tok in STOPWORDS:
            continue
        out.append(_stem_cached(tok))
    return out


def tokenize(text: str) -> list[str]:
    return words(normalise_text(text))


# Literal text each context pattern needs: checked with `in` first, so most articles skip most regexes.
_SIG_NEEDS: tuple[tuple[str, ...], ...] = (("[",), ("event",), ("err", "code", "id no"), ("http",))
_HEX_TOKEN = re.compile(r"0x0*([0-9a-f]{1,16})|([0-9a-f]{8})")
# the tokens `token_signature` can accept are runs of letters and digits holding a digit: only those are tried
_CODE_CANDIDATE = re.compile(r"[a-z0-9]*\d[a-z0-9]*")
_COMPILER_TOKEN = re.compile(r"[a-z]{1,3}\d{4,5}[a-z]?")


def context_signatures(text: str) -> list[str]:
    """The signatures of already normalised text that need the words around a number (`[008]`, `event id
    4018`, `error 2140`, `http 404`, `stop 1e`); codes that stand alone as a token are `token_signature`'s."""
    sigs: list[str] = []
    for (pattern, prefix), needs in zip(_SIG_PATTERNS, _SIG_NEEDS, strict=True):
        if any(n in text for n in needs):
            for m in pattern.finditer(text):
                sigs.append(f"~{prefix}{m.group(1).lstrip('0') or '0'}")
    if "stop" in text:
        for m in _STOP_CODE.finditer(text):
            sigs.append("~x" + (m.group(1).lstrip("0") or "0"))
    return sigs


def token_signature(tok: str) -> str | None:
    """The signature one token is by itself (a `_TOKEN` of normalised text): hex codes (`0x0000001e`,
    `c0000005`) and compiler / linker / run-time codes (`c2248`, `lnk2001`), else None."""
    if tok.isalpha() or (tok.isdigit() and len(tok) != 8):
        return None
    m = _HEX_TOKEN.fullmatch(tok)
    if m is not None:
        if m.group(1) is not None:
            return "~x" + (m.group(1).lstrip("0") or "0")
        h = m.group(2)
        # a bare 8-digit word counts as hex only if it has both letters and digits (c0000005, 8007000e)
        if not h.isdigit() and not h.isalpha():
            return "~x" + h.lstrip("0")
        return None
    if _COMPILER_TOKEN.fullmatch(tok) and not _NOT_COMPILER.match(tok):
        return "~c" + tok
    return None


def signatures(text: str) -> list[str]:
    """Normalised error signatures found in already normalised text (see the module docstring), in order:
    context patterns first, then codes that are tokens of their own."""
    sigs = context_signatures(text)
    for tok in _CODE_CANDIDATE.findall(text):
        sig = token_signature(tok)
        if sig is not None:
            sigs.append(sig)
    return sigs


def bigrams(terms: Iterable[str]) -> list[str]:
    seq = [t for t in terms if not t.startswith("~")]
    return [f"{a} {b}" for a, b in itertools.pairwise(seq)]


_SLACK_USER = re.compile(r"<[@!#][^>\s]*>")
_SLACK_LINK = re.compile(r"<(?:https?|mailto|ftp):[^>|\s]*\|([^>]*)>|<(?:https?|mailto|ftp):[^>\s]*>")
_EMOJI = re.compile(r":[a-z0-9_+\-]{1,40}:")
_FENCE = re.compile(r"```|`")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]+")
# Enough for any real question plus the interesting part of a pasted log; beyond this is repetition.
MAX_QUERY_CHARS = 60_000


def clean_query(text: str) -> str:
    """Slack message text -> plain words: mentions, channel links, emoji and fences removed, links
    reduced to their label, HTML entities (Slack escapes &, <, >) undone, binary junk dropped."""
    if not text:
        return ""
    text = text[:MAX_QUERY_CHARS]
    text = _CONTROL.sub(" ", text)
    text = _SLACK_LINK.sub(lambda m: m.group(1) or " ", text)
    text = _SLACK_USER.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _EMOJI.sub(" ", text)
    text = _FENCE.sub(" ", text)
    # Characters outside the printable range (pasted binaries, private-use glyphs) carry no words.
    if not text.isascii():
        text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    return " ".join(text.split())


_VERSION = re.compile(r"^\d{1,2}(?:\.\d{1,2}){0,2}[a-z]?$")


def version_terms(tokens: Iterable[str]) -> list[str]:
    """Version numbers as terms of their own, with trailing zeros dropped so "5", "5.0" and "5.00" meet
    (`~v5`, `~v5.5`): "vfp 5" should prefer the articles that apply to version 5."""
    out: list[str] = []
    for tok in tokens:
        if _VERSION.match(tok):
            v = re.sub(r"(?:\.0+)+$", "", tok)
            out.append(f"~v{v}")
    return out
