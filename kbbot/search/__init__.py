"""Search: from a person's words or a pasted error to ranked articles with a calibrated confidence.

    engine = SearchEngine.load(index_dir, kb)          # after `kbbot index`; memory-mapped, well under 1 s
    result = engine.search("exch 5.5 imc loses mail", limit=5, context=SearchContext(product="exchange"))
    result.band      # "answer" | "shortlist" | "none"
    result.hits      # SearchHit(id, title, score, product, matched_error), best first

`build_search_index(kb, directory)` is the indexer's hook, called after the articles are stored;
`search_index_is_current(directory)` says whether a kept search folder is still readable by this version.
"""

from typing import TYPE_CHECKING, Any

from kbbot.search.types import Band, SearchContext, SearchHit, SearchResult

if TYPE_CHECKING:
    from kbbot.search.engine import SearchEngine
    from kbbot.search.index import build_search_index, search_index_is_current
    from kbbot.search.render import render_search_text

# The engine and the index need numpy and scipy; the types do not. Loading those on first use keeps
# `kbbot.search.types` (which the conversation engine reads) free of them.
_LAZY = {
    "SearchEngine": "kbbot.search.engine",
    "build_search_index": "kbbot.search.index",
    "search_index_is_current": "kbbot.search.index",
    "render_search_text": "kbbot.search.render",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kbbot.search' has no attribute {name!r}")

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
