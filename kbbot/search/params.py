"""Every tuned number of the search in one place: how the index is built, and how a query is run.

`IndexParams` shape what `kbbot index` writes (field weights, BM25 constants, how much of each article is read);
they are saved in the index's `meta.json`, and an index built with other values is stale: `kbbot index` and the
built-in seeds index rebuild it, `SearchIndex.load` refuses it with a message naming the difference.
`QueryParams` shape how a query is run over an index (pool sizes, cut-offs, expansion weights); they are saved
beside the index parameters for the record, but a change needs no rebuild. The linear models' weights are fitted
data, not parameters: they live in `kbbot/data/search_model.yaml` (kbbot/search/model.py, kbbot/search/fit.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldWeight:
    """One BM25F field: its weight in the sum and its length normalisation b."""

    weight: float
    b: float


def _fields() -> dict[str, FieldWeight]:
    # Title and symptoms say what an article is about; the body mentions many things in passing. Error
    # signatures are counted once per article and weigh most: an exact code is strong evidence.
    return {
        "title": FieldWeight(3.0, 0.3),
        "symptoms": FieldWeight(1.5, 0.6),
        "errors": FieldWeight(1.0, 0.5),
        "keywords": FieldWeight(1.0, 0.3),
        "body": FieldWeight(0.6, 0.75),
        "sig": FieldWeight(3.0, 0.0),
    }


@dataclass(frozen=True, slots=True)
class IndexParams:
    """What the saved index is made with; changing any of these makes every built index stale."""

    fields: dict[str, FieldWeight] = field(default_factory=_fields)
    k1: float = 1.2
    # the separate head (title + symptoms), title and word-pair BM25 matrices' length normalisation
    head_b: float = 0.5
    title_b: float = 0.3
    bigram_b: float = 0.5
    # limits that keep indexing time and memory bounded on very long articles (code listings, indexes)
    max_body_chars: int = 20_000
    max_symptom_chars: int = 4_000
    # what rapidfuzz and the semantic vectors see of an article: its title and the opening of its symptoms
    head_text_chars: int = 600
    semantic_chars: int = 600
    error_text_chars: int = 1_200

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    def differences(self, saved: object) -> list[str]:
        """Names of the parameters that differ from a saved `to_json()` (everything, if it is unreadable)."""
        mine = self.to_json()
        if not isinstance(saved, dict):
            return sorted(mine)
        return sorted(k for k in mine.keys() | saved.keys() if _plain(mine.get(k)) != _plain(saved.get(k)))


def _plain(value: object) -> object:
    """JSON round-trip form (tuples become lists), so a saved value compares equal to a fresh one."""
    return json.loads(json.dumps(value, sort_keys=True))


@dataclass(frozen=True, slots=True)
class QueryParams:
    """How a query is run; read at search time, so a change takes effect without rebuilding the index."""

    max_query_terms: int = 40  # distinct typed terms kept, rarest first (a pasted log has hundreds)
    max_signatures: int = 12
    # the short list the confidence model is fitted on and judges
    shortlist: int = 12
    # articles re-ranked with rapidfuzz: more than the short list, so a right article just below it can climb in
    rerank_pool: int = 20
    # articles whose semantic cosine is worked out, the best of them (stage 1 + semantic) making the pool. Pooled
    # CV recall@3 by width: 20 0.860, 40 0.872, 60 0.877, 100 0.883, 200 0.885 (+0.06 ms for 100 over 20)
    semantic_pool: int = 100
    max_limit: int = 100
    # rapidfuzz compares at most this much of the query: a pasted log's first lines carry the message
    fuzz_query_chars: int = 400
    # rapidfuzz sees the title and the opening of the symptoms: where an article says what goes wrong
    fuzz_head_chars: int = 600
    # the semantic vectors read the opening of the query: a pasted log's first lines say what it is about
    semantic_query_chars: int = 1000
    # a long message's sentences embedded one by one (`semantic_part`): at most this many, of at least this many
    # words (shorter ones are greetings, sign-offs and "thanks in advance")
    max_sentences: int = 12
    sentence_min_words: int = 4
    # a long message's words that only its chatter uses (setup, story, sign-off: sentences naming no problem)
    chatter_weight: float = 0.7
    chatter_chars: int = 4000  # how much of a message is read for chatter
    # abbreviations, synonyms and products are looked for in a message's opening only (a pasted log repeats itself)
    expansion_chars: int = 4000
    abbreviation_weight: float = 0.5
    synonym_weight: float = 0.2
    synonym_pair_weight: float = 0.3
    typo_weight: float = 0.7
    version_weight: float = 0.5
    # An added word found in more than ~1 article in 8 barely moves a ranking but costs as many postings as the
    # whole rest of the query: expansions (abbreviations, synonyms, versions) below this idf are left out.
    expansion_min_idf: float = 2.0
    # hits whose matched error line the cards show; the confidence model reads the first of them
    matched_error_hits: int = 3
    # a pasted message or code that two of the first three print alike, scored within this many logits of each
    # other, is a tie: offer the short list instead of answering. (Codes joined messages here once the semantic
    # re-rank was in: on the dev questions it turned one wrong confident answer, MTA event 210, into a short list
    # and cost no right one.)
    tie_margin: float = 1.0
    # idf assumed for a word the KB has never seen: it counts against coverage (an out-of-domain question is
    # mostly such words) without letting one typo sink a good match. Both are for a KB the size of the one the
    # model was fitted on; the engine scales them by the KB's idf range (RankModel.fitted_articles)
    unknown_idf: float = 6.0
    unknown_miss_idf: float = 11.0  # about log(N) for the full KB: rarer than any word it has
    # distinct typed words past which a message counts as long: its length feature stops growing, its chatter
    # weighs less and its sentences are matched one by one
    length_cap_words: int = 12
    # confidence: how many of a message's rarest known words the top hit is checked for (`rare_cover`)
    rare_terms: int = 5
    typo_min_len: int = 4
    typo_min_df: int = 20  # on a KB of typo_min_df_kb articles or more; a small KB takes any word it has
    typo_min_df_kb: int = 10_000

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SearchParams:
    index: IndexParams = field(default_factory=IndexParams)
    query: QueryParams = field(default_factory=QueryParams)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index.to_json(), "query": self.query.to_json()}


# the parameters this version of kbbot builds and searches with
PARAMS = SearchParams()
