"""Search: from a person's words or a pasted error to ranked articles with a calibrated confidence.

(The ranker itself is being written; this module's public names are fixed: SearchEngine, SearchHit,
SearchResult, SearchContext, render_search_text.)
"""

from kbbot.search.types import Band, SearchContext, SearchHit, SearchResult

__all__ = ["Band", "SearchContext", "SearchHit", "SearchResult"]
