"""What a search returns. Shared by the ranker, the conversation engine, the cards and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# answer: one article, confidently.  shortlist: a few close candidates to choose from (a near-tie, or
# a plausible but unsure best).  none: say "I don't know" rather than guess.
Band = Literal["answer", "shortlist", "none"]


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str  # "Q102087"
    title: str
    score: float
    product: str = ""
    # the article's literal error line / code that matched the query, shown as code on the card
    matched_error: str | None = None


@dataclass(frozen=True, slots=True)
class SearchContext:
    """What a thread already knows: narrows and steers a follow-up question."""

    product: str | None = None  # product tag or display name established earlier in the thread
    excluded: frozenset[str] = field(default_factory=frozenset)  # articles ruled out ("not my problem")


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...]
    band: Band
    confidence: float  # 0..1, calibrated so that `band == "answer"` is rarely wrong

    @property
    def confident(self) -> bool:
        return self.band == "answer"

    @property
    def best(self) -> SearchHit | None:
        return self.hits[0] if self.hits else None

    def to_json(self) -> dict[str, Any]:
        """The `kbbot search --json` contract of docs/design.md (plus a few extra fields)."""
        return {
            "query": self.query,
            "confident": self.confident,
            "band": self.band,
            "confidence": round(self.confidence, 4),
            "hits": [
                {"id": h.id, "title": h.title, "score": round(h.score, 4), "product": h.product}
                | ({"matched_error": h.matched_error} if h.matched_error else {})
                for h in self.hits
            ],
        }
