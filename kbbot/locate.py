"""Where things are when nobody says: the built-in intents and seeds, and the index to answer from.

The built-in intents and seed articles ship inside the package (`kbbot._builtin`), so a wheel installed
anywhere finds them; an index named by `--index`, `KBBOT_INDEX` or `index:` in kbbot.yaml (all resolved into
`Settings.index`) wins over the one built from the seeds into the user's cache folder.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from kbbot.errors import ConfigError, IndexFolderError

if TYPE_CHECKING:
    from kbbot.kb import KnowledgeBase
    from kbbot.search import SearchEngine
    from kbbot.settings import Settings

log = logging.getLogger(__name__)

_BUILTIN = "kbbot._builtin"


def _builtin_folder(name: str) -> Path | None:
    # importlib.resources hands back a real folder for an installed package (wheel, `pip install .`, editable);
    # kbbot is never run from a zip, where the folder would have to be extracted first
    folder = resources.files(_BUILTIN).joinpath(name)
    if not folder.is_dir():
        return None
    return Path(str(folder))


def builtin_seeds_dir() -> Path:
    """The built-in knowledge base: the five seed articles shipped with the package."""
    folder = _builtin_folder("seeds")
    if folder is None:
        raise IndexFolderError("this kbbot install has no built-in seeds; pass --index or set KBBOT_INDEX")
    return folder


def builtin_intents_dir() -> Path:
    """The built-in intents (`*.yaml`) shipped with the package."""
    folder = _builtin_folder("intents")
    if folder is None:
        raise ConfigError("this kbbot install has no built-in intents; set KBBOT_INTENTS to an intents folder")
    return folder


def seeds_index_dir(settings: Settings) -> Path:
    return settings.cache_dir / "seeds-index"


def resolve_index(settings: Settings) -> Path:
    """The index folder to answer from; with none configured, the seeds' index (built or updated first)."""
    if settings.index is not None:
        return settings.index
    from kbbot.indexer import run_index

    out = seeds_index_dir(settings)
    # Incremental: after the first run this only stats five files.
    run_index([str(builtin_seeds_dir())], out, progress=False)
    return out


def open_index(index_dir: Path) -> tuple[KnowledgeBase, SearchEngine]:
    """The knowledge base and search engine of an index folder, checked on the way (kbbot.kb); a search
    structure that fails to load anyway (an index from before sizes were recorded) is one IndexFolderError too."""
    from kbbot.kb import KnowledgeBase
    from kbbot.search import SearchEngine

    kb = KnowledgeBase.open(index_dir)
    try:
        return kb, SearchEngine.load(index_dir, kb)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        kb.close()
        raise IndexFolderError(
            f"the search structures in {index_dir / 'search'} are damaged ({exc}); "
            f"rebuild them with `kbbot index SOURCE... --out {index_dir}`"
        ) from None


def open_engine(settings: Settings) -> SearchEngine:
    _kb, engine = open_index(resolve_index(settings))
    return engine
