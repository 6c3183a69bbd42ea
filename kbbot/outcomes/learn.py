"""Learning from use, carefully: a question like one an article resolved before raises that article; one like
questions where an article failed or was voted wrong lowers it. Pure: built from outcome records, asked per query.

    learned = LearnedRanking.from_outcomes(await outcomes.list(since=now - 90 * DAY_S))
    result = engine.search(text, limit=10)
    hits = learned.rerank(text, result.hits)      # same hits, learned adjustments added to their scores

Evidence, each from one person about one article for one question:
    resolved   the asker said "it worked" with this article              raises (RESOLVED_WEIGHT)
    up vote    a 👍 on an answer with this article                        raises (UP_WEIGHT)
    failed     "didn't work" on one of this article's steps               lowers (FAILED_WEIGHT)
    down vote  a 👎 saying wrong article / did not help / other          lowers (DOWN_WEIGHT); "out of date" does
               not: the article matched, its content is what needs fixing (that is for the report, not ranking)

A past question counts for a new one when their word-piece vectors (kbbot/search/semantic.py) are at least
`min_similarity` alike, weighted by how alike. The bounds are what keep one person from burying the right
answer: one person's evidence moves an article by at most `per_person` however often they repeat it, and less
when they have spoken in more than `full_weight_threads` threads; all the evidence together moves it by at most
`per_article`; and lowering needs `min_people_to_lower` different people. Scores are
the search engine's logits: `per_person` 2.0 closes most near misses, not a confident lead.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kbbot.outcomes.record import Outcome, ThreadOutcome, VoteReason, VoteValue, question_hash
from kbbot.search.semantic import TokenVectors, packaged_vectors
from kbbot.search.types import SearchContext, SearchHit, SearchResult

# shares of `per_person`: a resolution is the strongest thing one person can say about an article
RESOLVED_WEIGHT = 1.0
UP_WEIGHT = 0.5
FAILED_WEIGHT = 1.0
DOWN_WEIGHT = 1.0
_LOWERING_REASONS = frozenset({VoteReason.WRONG_ARTICLE, VoteReason.DID_NOT_HELP, VoteReason.OTHER})


@dataclass(frozen=True, slots=True, kw_only=True)
class LearnSettings:
    enabled: bool = True
    # a past question this alike (cosine of word-piece vectors) counts as the same problem. On the dev file,
    # questions about different articles reach 0.61 (p99 0.44); two wordings of one problem written to share no
    # words sit at 0.39-0.66, everyday repeats ("webex crashes on my mac") at 0.7-0.96. Above the first, then.
    min_similarity: float = 0.65
    # logits: the right article trails the first hit by 0.1-2 in most near misses (benchmarks/learn_replay.py)
    per_person: float = 2.0
    per_article: float = 4.0
    min_people_to_lower: int = 2
    # A person with evidence in more threads than this counts for less in each (by the square root): a tireless
    # voter moves many articles a little, not every article fully. Few honest people reach it in 90 days.
    full_weight_threads: int = 10


@dataclass(frozen=True, slots=True)
class Evidence:
    article: str
    person: str
    weight: float  # positive raises, negative lowers
    thread: str = ""


class LearnedRanking:
    """Per-article score adjustments for a new question, from what past threads showed."""

    def __init__(
        self,
        *,
        evidence: Sequence[Evidence],
        vectors: npt.NDArray[np.float32],
        hashes: Sequence[str | None],
        embedder: TokenVectors | None,
        settings: LearnSettings,
    ) -> None:
        self._evidence = list(evidence)
        self._vectors = vectors  # one row per evidence: its question's unit vector (zeros when only hashed)
        self._hashes = list(hashes)
        self._embedder = embedder
        self.settings = settings

    @classmethod
    def from_outcomes(
        cls,
        outcomes: Iterable[ThreadOutcome],
        *,
        settings: LearnSettings | None = None,
        embedder: TokenVectors | None = None,
    ) -> LearnedRanking:
        settings = settings or LearnSettings()
        embedder = embedder if embedder is not None else packaged_vectors("learning from outcomes")
        evidence: list[Evidence] = []
        texts: list[str] = []
        hashes: list[str | None] = []
        for o in outcomes:
            if o.question is None and o.question_hash is None:
                continue  # nothing to compare a new question with
            found = [dataclasses.replace(ev, thread=o.key.as_str()) for ev in _evidence_of(o)]
            evidence += found
            texts += [o.question or ""] * len(found)
            hashes += [o.question_hash] * len(found)
        if embedder is not None and texts:
            vectors = embedder.embed_many(texts)
        else:
            vectors = np.zeros((len(texts), embedder.dims if embedder else 1), dtype=np.float32)
        threads: dict[str, set[str]] = defaultdict(set)
        for ev in evidence:
            threads[ev.person].add(ev.thread)
        full = max(1, settings.full_weight_threads)
        evidence = [
            dataclasses.replace(ev, weight=ev.weight * min(1.0, math.sqrt(full / len(threads[ev.person]))))
            for ev in evidence
        ]
        return cls(evidence=evidence, vectors=vectors, hashes=hashes, embedder=embedder, settings=settings)

    def __len__(self) -> int:
        return len(self._evidence)

    def adjustments(self, question: str) -> dict[str, float]:
        """article id -> logits to add to its score for `question` (only articles with evidence; bounded)."""
        s = self.settings
        if not s.enabled or not self._evidence:
            return {}
        sims = self._similarities(question)
        # the strongest piece of each person's evidence per article and direction: repeating adds nothing
        strongest: dict[tuple[str, str, bool], float] = {}
        for i in np.flatnonzero(sims >= s.min_similarity).tolist():
            ev = self._evidence[i]
            slot = (ev.article, ev.person, ev.weight > 0)
            # weights are shares of one person's bound, so the bound is the one knob for how far evidence moves
            amount = s.per_person * min(1.0, abs(ev.weight)) * float(sims[i])
            strongest[slot] = max(strongest.get(slot, 0.0), amount)
        raise_by: dict[str, float] = defaultdict(float)
        lower_by: dict[str, float] = defaultdict(float)
        lowering_people: dict[str, set[str]] = defaultdict(set)
        for (article, person, raises), amount in strongest.items():
            if raises:
                raise_by[article] += amount
            else:
                lower_by[article] += amount
                lowering_people[article].add(person)
        out: dict[str, float] = {}
        for article in set(raise_by) | set(lower_by):
            up = min(s.per_article, raise_by.get(article, 0.0))
            down = min(s.per_article, lower_by.get(article, 0.0))
            if len(lowering_people.get(article, ())) < s.min_people_to_lower:
                down = 0.0
            if up or down:
                out[article] = round(up - down, 4)
        return out

    def rerank(self, question: str, hits: Sequence[SearchHit]) -> list[SearchHit]:
        """The hits with their adjustments added, best first (ties keep the search's order)."""
        adjust = self.adjustments(question)
        if not adjust:
            return list(hits)
        moved = [dataclasses.replace(h, score=h.score + adjust.get(h.id, 0.0)) for h in hits]
        order = sorted(range(len(moved)), key=lambda i: (-moved[i].score, i))
        return [moved[i] for i in order]

    def _similarities(self, question: str) -> npt.NDArray[np.float32]:
        sims = np.zeros(len(self._evidence), dtype=np.float32)
        if self._embedder is not None:
            sims = self._vectors @ self._embedder.embed(question)
        # a hashed question can only be recognised when asked again word for word (case and spacing aside)
        digest = question_hash(question)
        same = np.fromiter((h == digest for h in self._hashes), dtype=bool, count=len(self._hashes))
        return np.where(same, np.float32(1.0), sims)


def _evidence_of(o: ThreadOutcome) -> Iterable[Evidence]:
    asker = o.asker or f"thread:{o.key.as_str()}"
    if o.outcome is Outcome.RESOLVED and o.resolved_by:
        yield Evidence(article=o.resolved_by, person=asker, weight=RESOLVED_WEIGHT)
    for article in dict.fromkeys(f.article for f in o.failures):
        if article != o.resolved_by:
            yield Evidence(article=article, person=asker, weight=-FAILED_WEIGHT)
    for voter, vote in sorted(o.votes.items()):
        if vote.article is None:
            continue
        if vote.value is VoteValue.UP:
            yield Evidence(article=vote.article, person=voter, weight=UP_WEIGHT)
        elif vote.reason is None or vote.reason in _LOWERING_REASONS:
            yield Evidence(article=vote.article, person=voter, weight=-DOWN_WEIGHT)


class _Searcher(Protocol):
    def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult: ...


class Lessons:
    """What the bot has learned so far (None until first built): one holder shared by every searcher the
    runtime makes, so an index reload keeps what was learned."""

    def __init__(self) -> None:
        self.ranking: LearnedRanking | None = None


class LearningSearch:
    """A searcher whose hits are re-ordered by what past threads showed (`lessons`). Only the order moves:
    how sure kbbot is (the band) stays the search model's, so learning never turns a short list into an answer."""

    def __init__(self, *, inner: _Searcher, lessons: Lessons) -> None:
        self._inner = inner
        self._lessons = lessons

    def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult:
        result = self._inner.search(text, limit=limit, context=context)
        ranking = self._lessons.ranking
        if ranking is None or not len(ranking) or len(result.hits) < 2:
            return result
        hits = tuple(ranking.rerank(text, result.hits))
        return dataclasses.replace(result, hits=hits)
