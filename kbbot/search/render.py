"""Terminal output for `kbbot search`."""

from __future__ import annotations

from kbbot.search.types import SearchResult

BAND_WORDS = {
    "answer": "confident",
    "shortlist": "not sure — candidates",
    "none": "no match",
}


def render_search_text(result: SearchResult) -> str:
    """Rank, article number, title and score per hit, under a line giving the band in words."""
    lines = [f"{BAND_WORDS.get(result.band, result.band)} (confidence {result.confidence:.2f})"]
    if not result.hits:
        lines.append("  nothing in the knowledge base matches this question")
        return "\n".join(lines)
    if result.band == "none":
        lines.append("  closest articles, none a good match:")
    width = max(len(h.id) for h in result.hits)
    for rank, hit in enumerate(result.hits, start=1):
        lines.append(f"{rank:>3}. {hit.id:<{width}}  {hit.title}  [{hit.score:.2f}]")
        if hit.matched_error:
            lines.append(f"{'':>5}{'':<{width}}  matched: {hit.matched_error}")
    return "\n".join(lines)
