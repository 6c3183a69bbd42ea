"""Where the index lives when nobody says: `--index`, then $KBBOT_INDEX, then one built from seeds/."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kbbot.errors import IndexFolderError

if TYPE_CHECKING:
    from kbbot.search import SearchEngine

log = logging.getLogger(__name__)


def seeds_dir() -> Path:
    """The built-in knowledge base: `seeds/` beside the package (a source checkout or an editable install)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "seeds", here / "seeds"):
        if candidate.is_dir():
            return candidate
    raise IndexFolderError("the built-in seeds/ folder is missing; pass --index or set KBBOT_INDEX")


def default_index_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kbbot" / "seeds-index"


def resolve_index(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get("KBBOT_INDEX")
    if env:
        return Path(env)
    from kbbot.indexer import run_index

    out = default_index_dir()
    # Incremental: after the first run this only stats five files.
    run_index([str(seeds_dir())], out, progress=False)
    return out


def open_engine(explicit: Path | None = None) -> SearchEngine:
    from kbbot.kb import KnowledgeBase
    from kbbot.search import SearchEngine

    index_dir = resolve_index(explicit)
    kb = KnowledgeBase.open(index_dir)
    return SearchEngine.load(index_dir, kb)
