"""Knowledge gaps: the questions kbbot could not answer well, grouped so that ten people asking the same thing in
ten ways is one gap counted ten times.

Two questions are alike when their word-piece vectors (kbbot/search/semantic.py: meaning beyond shared words,
"webex crashes on my mac" ~ "webex keeps crashing on my m1 mac") are close, or when they share most of their
words (a pasted error message, where the literal text is the signal). Grouping is greedy and chain-free: the
question with the most alike neighbours leads the first gap and takes every alike question not yet placed, and
so on. It depends only on the questions, not on the order they come in, so a report is reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process

from kbbot.search.semantic import TokenVectors, packaged_vectors

# Measured on paraphrase pairs of out-of-domain questions: paraphrases 0.70-0.96, unrelated questions at most
# 0.56 (sharing "floor 2" or "mac" is not the same problem).
ALIKE_COSINE = 0.70
# Literal overlap: token-set ratio of the content words, with at least this many of them shared, so that one
# shared word ("error") cannot join two questions.
ALIKE_TOKEN_SET = 85.0
MIN_SHARED_WORDS = 2
MAX_EXAMPLES = 3

_WORD = re.compile(r"[a-z0-9][a-z0-9_.'-]*")
_STOP_WORDS = (
    "a an the and or but of to in on at for with from by is are was were be been it its this that these those "
    "i im i'm my me we our you your he she they them their his her can can't cannot cant dont don't doesn't "
    "does do did not no how what why when where which who after before again keeps keep still just get gets "
    "got any some all when will would should could please help"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True, slots=True, kw_only=True)
class GapQuestion:
    """One unanswered or poorly answered question: its text (None when only its hash was kept)."""

    text: str | None
    question_hash: str | None
    band: str  # "none" (no match) or "shortlist" (never resolved)
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    examples: tuple[str, ...]
    count: int
    no_match: int
    shortlist: int
    question_hash: str | None = None  # set for a gap of hashed questions, which have no examples

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"examples": list(self.examples), "count": self.count,
                                  "no_match": self.no_match, "shortlist": self.shortlist}  # fmt: skip
        if self.question_hash is not None:
            out["question_hash"] = self.question_hash[:16]
        return out


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


@lru_cache(maxsize=1)
def _vectors() -> TokenVectors | None:
    return packaged_vectors("knowledge-gap grouping")


def alike_matrix(texts: Sequence[str]) -> np.ndarray:
    """n x n booleans: which questions are alike (the diagonal is True)."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, 0), dtype=bool)
    contents = [" ".join(sorted(set(content_words(t)))) for t in texts]
    ratios = process.cdist(contents, contents, scorer=fuzz.token_set_ratio, dtype=np.float32)
    alike = ratios >= ALIKE_TOKEN_SET
    words = [set(c.split()) for c in contents]
    for i, j in zip(*np.nonzero(alike), strict=True):
        if i != j and len(words[i] & words[j]) < MIN_SHARED_WORDS:
            alike[i, j] = False
    vectors = _vectors()
    if vectors is not None:
        embedded = vectors.embed_many(texts)
        alike |= (embedded @ embedded.T) >= ALIKE_COSINE
    np.fill_diagonal(alike, True)
    return alike


def group_gaps(questions: Sequence[GapQuestion]) -> list[Gap]:
    """Gaps, largest first (ties: the one asked first); hashed questions group by hash alone."""
    with_text = sorted((q for q in questions if q.text), key=lambda q: (q.at, q.text or ""))
    gaps: list[tuple[float, Gap]] = []
    alike = alike_matrix([q.text or "" for q in with_text])
    placed = np.zeros(len(with_text), dtype=bool)
    degree = alike.sum(axis=1)
    # most neighbours first; ties by first asked, then text, so the order of the input does not matter
    order = sorted(range(len(with_text)), key=lambda i: (-int(degree[i]), with_text[i].at, with_text[i].text))
    for leader in order:
        if placed[leader]:
            continue
        members = [leader] + [j for j in np.nonzero(alike[leader] & ~placed)[0].tolist() if j != leader]
        placed[members] = True
        gaps.append((min(with_text[m].at for m in members), _gap([with_text[m] for m in members])))
    by_hash: dict[str, list[GapQuestion]] = {}
    for q in questions:
        if not q.text and q.question_hash:
            by_hash.setdefault(q.question_hash, []).append(q)
    for digest, group in by_hash.items():
        gaps.append((min(q.at for q in group), _gap(group, question_hash=digest)))
    gaps.sort(key=lambda item: (-item[1].count, item[0]))
    return [gap for _, gap in gaps]


def _gap(members: list[GapQuestion], *, question_hash: str | None = None) -> Gap:
    examples = list(dict.fromkeys(q.text for q in members if q.text))[:MAX_EXAMPLES]
    return Gap(
        examples=tuple(examples),
        count=len(members),
        no_match=sum(q.band == "none" for q in members),
        shortlist=sum(q.band == "shortlist" for q in members),
        question_hash=question_hash,
    )
