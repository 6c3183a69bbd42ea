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

The manifest also lists every other file's size (`sizes`) and a checksum over all of them (`checksum`), written
by `seal_index` once the folder is complete. Opening checks the folder against them (and every `.npy` header
against its file's size, for an index sealed before sizes were kept), so a truncated, emptied or missing file is
one IndexFolderError naming it instead of a traceback, or a SIGBUS, later.

Opening reads rows.json and offsets.npy into memory; records are read from articles.bin with `pread` when asked
for (and decompressed, with a small LRU cache in front), not through a memory map: a record is read a few times
per answer, so a system call costs nothing that matters, and a file truncated under the running bot then gives a
short read, reported as a damaged index, where a memory map would kill the process with SIGBUS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

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
# the manifest's table of every other file's size, and the checksum over their contents (see seal_index)
SIZES = "sizes"
CHECKSUM = "checksum"

_CACHE_SIZE = 256
# JSON files up to this size are parsed when an index is opened (the big ones are parsed by their readers)
_PARSED_JSON_MAX = 64 * 1024
_REBUILD = "rebuild it with `kbbot index SOURCE... --out {path}`"


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


def _index_files(path: Path) -> list[str]:
    """Every file of an index folder but the manifest, as paths relative to it, in a stable order."""
    return sorted(
        p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.name != MANIFEST
    )


def seal_index(path: Path) -> None:
    """Record every file's size and a checksum over their contents in the manifest of a finished index folder
    (the last step of `kbbot index`, before the folder is swapped into place)."""
    manifest = read_manifest(path)
    sizes: dict[str, int] = {}
    digest = hashlib.sha1()
    for rel in _index_files(path):
        file = path / rel
        digest.update(rel.encode())
        with open(file, "rb") as fh:
            sizes[rel] = os.fstat(fh.fileno()).st_size
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    manifest[SIZES] = sizes
    manifest[CHECKSUM] = digest.hexdigest()
    # write-then-rename: a reader never sees half a manifest
    part = path / f".{MANIFEST}.part"
    part.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(part, path / MANIFEST)


def _npy_problem(file: Path, size: int) -> str | None:
    """What is wrong with a `.npy` file whose header promises more (or less) data than the file holds."""
    try:
        with open(file, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, dtype = read_header(fh)
            header_end = fh.tell()
    except (OSError, ValueError, EOFError) as exc:
        return f"not a readable array ({exc})"
    expected = header_end + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if expected != size:
        return f"{size:,} bytes where its header promises {expected:,} (truncated?)"
    return None


def check_index_files(path: Path, manifest: dict[str, Any], *, articles_only: bool = False) -> None:
    """Cheap checks that the folder is the one its manifest describes: no file missing, none of another size,
    every array as long as its header says. IndexFolderError naming the first damaged file. `articles_only` leaves
    out the search structures (the indexer reuses the articles of an index whose search/ it will rebuild)."""
    sizes: dict[str, int] = manifest.get(SIZES) or {}
    if articles_only:
        sizes = {rel: size for rel, size in sizes.items() if not rel.startswith(f"{SEARCH_DIR}/")}
    expected_files = set(sizes) or {ARTICLES, OFFSETS, ROWS}
    present = [rel for rel in _index_files(path) if not (articles_only and rel.startswith(f"{SEARCH_DIR}/"))]
    for rel in sorted(expected_files):
        file = path / rel
        try:
            size = file.stat().st_size
        except OSError:
            missing = f"{file} is missing: the index is damaged; {_REBUILD.format(path=path)}"
            raise IndexFolderError(missing) from None
        if rel in sizes and size != sizes[rel]:
            raise IndexFolderError(
                f"{file} is damaged ({size:,} bytes, written as {sizes[rel]:,}); {_REBUILD.format(path=path)}"
            )
    for rel in present if not sizes else sorted(sizes):
        file = path / rel
        problem = None
        if rel.endswith(".npy"):
            problem = _npy_problem(file, file.stat().st_size)
        elif rel.endswith(".json") and file.stat().st_size <= _PARSED_JSON_MAX:
            # small files (meta.json and the like) are parsed here: garbage of the right size is still caught
            try:
                json.loads(file.read_bytes())
            except ValueError as exc:
                problem = f"not JSON ({exc})"
        if problem is not None:
            raise IndexFolderError(f"{file} is damaged: {problem}; {_REBUILD.format(path=path)}")


def _rows(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    file = path / ROWS
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFolderError(f"{file} is damaged ({exc}); {_REBUILD.format(path=path)}") from None
    columns = ("ids", "titles", "products", "product_tags")
    n = manifest.get("articles")
    if not isinstance(rows, dict) or any(not isinstance(rows.get(c), list) for c in columns):
        raise IndexFolderError(f"{file} is damaged (not the table of rows); {_REBUILD.format(path=path)}")
    if any(len(rows[c]) != (n if isinstance(n, int) else len(rows["ids"])) for c in columns):
        raise IndexFolderError(
            f"{file} is damaged (its columns do not hold the {n} articles of the manifest); "
            f"{_REBUILD.format(path=path)}"
        )
    return rows


def index_stamp(path: Path) -> tuple[Any, ...] | None:
    """What tells one state of an index folder from another, for "has it changed since it was loaded": every
    file's inode, size and modification time, and the manifest's checksum. None when there is no index there."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        stats = []
        for rel in [MANIFEST, *_index_files(path)]:
            st = (path / rel).stat()
            stats.append((rel, st.st_ino, st.st_size, st.st_mtime_ns))
    except (OSError, ValueError):
        return None
    checksum = manifest.get(CHECKSUM) if isinstance(manifest, dict) else None
    return (checksum, tuple(stats))


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
        articles: BinaryIO | None,
        aliases: list[list[str]] | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self._ids = ids
        self.titles = titles
        self.products = products
        self.product_tags = product_tags
        self._offsets = offsets
        # articles.bin, read with pread (see the module docstring); None when there are no records. A file object,
        # not a bare descriptor: an index dropped after a reload is closed by the garbage collector
        self._articles = articles
        self._row_of = {q: i for i, q in enumerate(ids)}
        self._cache: OrderedDict[int, Article] = OrderedDict()
        self._numbers: np.ndarray | None = None
        self._aliases = aliases or []
        self._by_name: dict[str, int] | None = None

    @classmethod
    def open(cls, path: str | Path, *, articles_only: bool = False) -> KnowledgeBase:
        """Open an index folder, checked first (see check_index_files; `articles_only` skips search/)."""
        path = Path(path)
        manifest = read_manifest(path)
        check_index_files(path, manifest, articles_only=articles_only)
        rows = _rows(path, manifest)
        try:
            offsets = np.load(path / OFFSETS)
        except (OSError, ValueError) as exc:
            raise IndexFolderError(f"{path / OFFSETS} is damaged ({exc}); {_REBUILD.format(path=path)}") from None
        ids = rows["ids"]
        records = manifest.get("records", len(ids))
        articles_size = (path / ARTICLES).stat().st_size
        if offsets.ndim != 1 or len(offsets) < len(ids) + 1 or int(offsets[-1]) != articles_size:
            raise IndexFolderError(
                f"{path / OFFSETS} does not match {ARTICLES} ({len(offsets)} offsets for {records} records "
                f"ending at {int(offsets[-1]) if len(offsets) else 0:,}, file of {articles_size:,} bytes); "
                f"{_REBUILD.format(path=path)}"
            )
        try:
            articles = open(path / ARTICLES, "rb", buffering=0) if articles_size else None  # noqa: SIM115
        except OSError as exc:
            raise IndexFolderError(f"cannot read {path / ARTICLES} ({exc.strerror or exc})") from None
        return cls(
            path=path,
            manifest=manifest,
            ids=ids,
            titles=rows["titles"],
            products=rows["products"],
            product_tags=rows["product_tags"],
            offsets=offsets,
            articles=articles,
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
        if end == start:
            return b""
        if self._articles is None or self._articles.closed:
            raise IndexFolderError(f"{self.path / ARTICLES} has been closed")
        blob = os.pread(self._articles.fileno(), end - start, start)
        if len(blob) != end - start:
            # the file was truncated or rewritten in place under the running bot (`kbbot index` never does that)
            raise IndexFolderError(
                f"{self.path / ARTICLES} is damaged (truncated while in use); rebuild the index"
            )
        return blob

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
        if self._articles is not None:
            self._articles.close()

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
