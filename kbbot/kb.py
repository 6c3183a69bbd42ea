"""The saved knowledge base: a folder written by `kbbot index`, opened read-only by everything else.

Layout (format version 1):

    manifest.json     {"format": "kbbot-index", "version": 1, "articles": N, "records": M, "built_at": ...,
                       "content_hash": ...}
    articles.bin      zlib-compressed JSON records (`Article.to_dict()`), concatenated; the first N are the
                      articles in row order (sorted by Q-number), the rest are duplicates that lost to another
                      file with the same id (kept so an incremental run can re-decide without re-parsing)
    offsets.npy       int64[M + 1] byte offsets of the records in articles.bin
    rows.json         per row: id, title, product, product tag (kept in memory: small, read on every search)
    files.json        per source file: fingerprint and the records it produced, for incremental runs
    search/           the search engine's own structures (written by kbbot.search.build_search_index)

Opening reads rows.json and memory-maps the rest; a record is decompressed only when asked for, with a
small LRU cache in front.
"""

from __future__ import annotations

import json
import logging
import mmap
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kbbot.article import Article, normalise_qid
from kbbot.errors import IndexFolderError

log = logging.getLogger(__name__)

FORMAT_NAME = "kbbot-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARTICLES = "articles.bin"
OFFSETS = "offsets.npy"
ROWS = "rows.json"
FILES = "files.json"
SEARCH_DIR = "search"

_CACHE_SIZE = 256


def encode_record(article: Article) -> bytes:
    return zlib.compress(json.dumps(article.to_dict(), ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decode_record(blob: bytes) -> Article:
    return Article.from_dict(json.loads(zlib.decompress(blob)))


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of an index folder; IndexFolderError with advice when it is not one."""
    if not path.exists():
        raise IndexFolderError(f"no index at {path}: build one with `kbbot index SOURCE... --out {path}`")
    if not path.is_dir():
        raise IndexFolderError(f"{path} is a file, not an index folder: run `kbbot index SOURCE... --out DIR`")
    mpath = path / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexFolderError(
            f"{path} is not a kbbot index (no {MANIFEST}): run `kbbot index SOURCE... --out {path}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise IndexFolderError(
            f"{mpath} is damaged ({exc}): rebuild with `kbbot index SOURCE... --out {path}`"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFolderError(f"{path} is not a kbbot index: run `kbbot index SOURCE... --out {path}`")
    if manifest.get("version") != FORMAT_VERSION:
        raise IndexFolderError(
            f"{path} was written by another kbbot version (index format {manifest.get('version')}, this kbbot "
            f"reads {FORMAT_VERSION}): rebuild with `kbbot index SOURCE... --out {path}`"
        )
    return manifest


class KnowledgeBase:
    """Read-only access to an index folder. Rows are in Q-number order."""

    def __init__(
        self,
        *,
        path: Path,
        manifest: dict[str, Any],
        ids: list[str],
        titles: list[str],
        products: list[str],
        product_tags: list[str],
        offsets: np.ndarray,
        data: mmap.mmap | bytes,
        aliases: list[list[str]] | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self._ids = ids
        self.titles = titles
        self.products = products
        self.product_tags = product_tags
        self._offsets = offsets
        self._data = data
        self._row_of = {q: i for i, q in enumerate(ids)}
        self._cache: OrderedDict[int, Article] = OrderedDict()
        self._numbers: np.ndarray | None = None
        self._aliases = aliases or []
        self._by_name: dict[str, int] | None = None

    @classmethod
    def open(cls, path: str | Path) -> KnowledgeBase:
        path = Path(path)
        manifest = read_manifest(path)
        try:
            rows = json.loads((path / ROWS).read_text(encoding="utf-8"))
            offsets = np.load(path / OFFSETS, mmap_mode="r")
            with open(path / ARTICLES, "rb") as fh:
                size = fh.seek(0, 2)
                data: mmap.mmap | bytes = (
                    mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
                )
        except (OSError, ValueError) as exc:
            raise IndexFolderError(
                f"the index at {path} is damaged ({exc}): rebuild it with `kbbot index`"
            ) from exc
        ids = rows["ids"]
        if len(offsets) < len(ids) + 1:
            raise IndexFolderError(f"the index at {path} is damaged (offsets shorter than ids): rebuild it")
        return cls(
            path=path,
            manifest=manifest,
            ids=ids,
            titles=rows["titles"],
            products=rows["products"],
            product_tags=rows["product_tags"],
            offsets=offsets,
            data=data,
            aliases=rows.get("aliases"),  # absent in indexes built before articles had aliases
        )

    # ------------------------------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, qid: object) -> bool:
        return isinstance(qid, str) and self.row_of(qid) is not None

    def ids(self) -> list[str]:
        return list(self._ids)

    def row_of(self, qid: str) -> int | None:
        row = self._row_of.get(qid)
        if row is None:
            norm = normalise_qid(qid)
            row = self._row_of.get(norm) if norm else None
        if row is None:
            row = self._row_by_name(qid)
        return row

    # ------------------------------------------------------------------------------------------ look-up
    def resolve(self, text: str) -> str | None:
        """The canonical id of the article `text` names in any form people use: its id, a Q-number in any
        spelling (q102087, 102087, KB102087), a stated KB number (KB2121926, 2121926), its path slug
        (teams/clear-teams-cache), its file name (clear-teams-cache.md); None when nothing matches."""
        row = self.row_of(text.strip())
        return None if row is None else self._ids[row]

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Ids close to a name that resolved to nothing: digit typos for numbers, near spellings for slugs."""
        key = _name_key(text)
        if not key:
            return []
        if normalise_qid(key) is not None and any(_is_qid(i) for i in self._ids[:1] + self._ids[-1:]):
            # rows are in Q-number order: a KB with Q-numbers has one first or last
            return self.closest_ids(key, limit=limit)
        from rapidfuzz import fuzz, process

        names = self._names()
        found = process.extract(key, list(names), scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=60)
        out: list[str] = []
        for name, _score, _ in found:
            article_id = self._ids[names[name]]
            if article_id not in out:
                out.append(article_id)
        return out[:limit]

    def _names(self) -> dict[str, int]:
        if self._by_name is None:
            names: dict[str, int] = {}
            for row, article_id in enumerate(self._ids):
                names.setdefault(_name_key(article_id), row)
            for row, aliases in enumerate(self._aliases):
                for alias in aliases:
                    names.setdefault(_name_key(alias), row)
            self._by_name = names
        return self._by_name

    def _row_by_name(self, text: str) -> int | None:
        key = _name_key(text)
        if not key:
            return None
        names = self._names()
        row = names.get(key)
        if row is None and key.isdigit():
            row = names.get(f"kb{int(key)}")  # "2121926": the number a modern article states
        if row is None and key[:1] == "q" and key[1:].isdigit():
            row = names.get(f"kb{int(key[1:])}")
        return row

    def record_bytes(self, index: int) -> bytes:
        """The stored, compressed record (rows first, then losing duplicates)."""
        start, end = int(self._offsets[index]), int(self._offsets[index + 1])
        return bytes(self._data[start:end])

    def article_at(self, row: int) -> Article:
        if not 0 <= row < len(self._ids):
            raise IndexError(row)
        hit = self._cache.get(row)
        if hit is not None:
            self._cache.move_to_end(row)
            return hit
        article = decode_record(self.record_bytes(row))
        self._cache[row] = article
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return article

    def get(self, qid: str) -> Article | None:
        row = self.row_of(qid)
        return None if row is None else self.article_at(row)

    def iter_articles(self) -> Iterator[Article]:
        """Every article in row order; bypasses the cache so a full pass does not evict hot entries."""
        for row in range(len(self._ids)):
            yield decode_record(self.record_bytes(row))

    def closest_ids(self, qid: str, limit: int = 3) -> list[str]:
        """Article numbers near a missing one: fewest digit edits first, then numerically nearest
        (a typo'd "/kb Q10287" finds Q102087)."""
        norm = normalise_qid(qid) or qid
        digits = norm.lstrip("Qq")
        if not digits.isdigit() or not self._ids:
            return []
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        target = int(digits)
        numbers = [q[1:] for q in self._ids]
        found = process.extract(digits, numbers, scorer=Levenshtein.distance, limit=max(50, limit * 10),
                                score_cutoff=2)
        ranked = sorted(found, key=lambda m: (m[1], abs(int(m[0]) - target)))
        out = [f"Q{m[0]}" for m in ranked if f"Q{m[0]}" != norm][:limit]
        if len(out) < limit:
            if self._numbers is None:
                self._numbers = np.array([int(n) for n in numbers], dtype=np.int64)
            order = np.argsort(np.abs(self._numbers - target), kind="stable")
            for i in order[: limit * 2]:
                q = self._ids[int(i)]
                if q not in out and q != norm:
                    out.append(q)
                if len(out) >= limit:
                    break
        return out[:limit]

    def close(self) -> None:
        if isinstance(self._data, mmap.mmap):
            self._data.close()

    def __repr__(self) -> str:
        return f"KnowledgeBase({str(self.path)!r}, articles={len(self)})"


def _is_qid(article_id: str) -> bool:
    return article_id[:1] == "Q" and article_id[1:].isdigit()


_NAME_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt", ".json")


def _name_key(text: str) -> str:
    """How a typed article name is compared: case, surrounding slashes and a file extension do not count."""
    key = text.strip().strip("/").lower()
    for suffix in _NAME_SUFFIXES:
        if key.endswith(suffix):
            key = key[: -len(suffix)]
            break
    return key
