"""Search: from a person's words or a pasted error to ranked articles with a calibrated confidence.

    engine = SearchEngine.load(index_dir, kb)          # after `kbbot index`; memory-mapped, well under 1 s
    result = engine.search("exch 5.5 imc loses mail", limit=5, context=SearchContext(product="exchange"))
    result.band      # "answer" | "shortlist" | "none"
    result.hits      # SearchHit(id, title, score, product, matched_error), best first

`build_search_index(kb, directory)` is the indexer's hook, called after the articles are stored;
`search_index_is_current(directory)` says whether a kept search folder is still readable by this version.
"""

from kbbot.search.engine import SearchEngine
from kbbot.search.index import build_search_index, search_index_is_current
from kbbot.search.render import render_search_text
from kbbot.search.types import Band, SearchContext, SearchHit, SearchResult

__all__ = [
    "Band",
    "SearchContext",
    "SearchEngine",
    "SearchHit",
    "SearchResult",
    "build_search_index",
    "render_search_text",
    "search_index_is_current",
]
