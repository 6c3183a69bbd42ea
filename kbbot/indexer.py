"""`kbbot index`: parse article files into the saved knowledge base (see `kbbot.kb` for the folder layout).

- Sources are folders (walked recursively, hidden entries ignored), single files, and `.tar.xz` / `.tar.gz` /
  `.tgz` / `.tar` archives.
- Files are parsed in parallel worker processes; a file that is not an article is reported and skipped.
- Incremental: a file with the same size and modification time as in the previous run (an archive: the same
  size and mtime of the archive) is not parsed again; its stored records are copied across as they are.
  When no source changed at all, nothing is written.
- Duplicate ids: the winner is decided by, in order, (1) format (TXT > Markdown > web copy > generic, since
  the TXT header carries the most metadata), (2) the later modification time, (3) the richer record (more
  sections, then more text), (4) the lexicographically greater source path. Losers stay in the records so a
  later incremental run can re-decide without parsing them again.
- Atomic: the new index is built in a temporary folder beside `out`, then swapped in with renames.
- Search structures are (re)built through `kbbot.search.build_search_index(kb, directory)` when the set of
  articles changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import tarfile
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kbbot.errors import IndexError_, ParseError
from kbbot.kb import (
    ARTICLES,
    FILES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    OFFSETS,
    ROWS,
    SEARCH_DIR,
    KnowledgeBase,
    encode_record,
    read_manifest,
    seal_index,
)

log = logging.getLogger(__name__)

# Share of an index's articles a re-index may lose before it refuses to replace the index without --force.
MAX_LOSS = 0.5
ARCHIVE_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".txz")
_FORMAT_RANK = {"txt": 3, "markdown": 2, "web": 1, "generic": 0}
_IN_PROCESS_LIMIT = 64  # below this many files a worker pool costs more than it saves
_CHUNK = 64
_MAX_EXAMPLES = 5


# ------------------------------------------------------------------------------------------- summary
@dataclass(frozen=True, slots=True)
class Duplicate:
    id: str
    winner: str
    losers: tuple[str, ...]


@dataclass(slots=True)
class IndexSummary:
    out: Path
    articles: int = 0
    files_seen: int = 0
    files_parsed: int = 0
    files_reused: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> sources
    duplicates: list[Duplicate] = field(default_factory=list)
    elapsed: float = 0.0
    changed: bool = True  # False: nothing changed since the last run and nothing was written
    search_built: bool = False
    search_note: str = ""
    parse_seconds: float = 0.0  # reading + parsing + compressing (the workers' part)
    search_seconds: float = 0.0  # kbbot.search.build_search_index

    @property
    def files_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def render(self) -> str:
        lines = [
            f"Indexed {self.articles} articles into {self.out} in {self.elapsed:.1f} s",
            f"  files seen: {self.files_seen}  parsed: {self.files_parsed}"
            f"  unchanged (reused): {self.files_reused}  skipped: {self.files_skipped}",
        ]
        if not self.changed:
            lines.append("  nothing changed since the last run; index left as it was")
        for reason, sources in sorted(self.skipped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            lines.append(f"  skipped {len(sources)} file(s): {reason}")
            for s in sources[:_MAX_EXAMPLES]:
                lines.append(f"      {s}")
            if len(sources) > _MAX_EXAMPLES:
                lines.append(f"      ... and {len(sources) - _MAX_EXAMPLES} more")
        if self.duplicates:
            lines.append(f"  duplicate ids: {len(self.duplicates)} (kept the TXT/newer/richer file)")
            for d in self.duplicates[:_MAX_EXAMPLES]:
                lines.append(f"      {d.id}: kept {d.winner} over {', '.join(d.losers)}")
            if len(self.duplicates) > _MAX_EXAMPLES:
                lines.append(f"      ... and {len(self.duplicates) - _MAX_EXAMPLES} more")
        if self.changed:
            lines.append(f"  parse {self.parse_seconds:.1f} s, search structures {self.search_seconds:.1f} s")
        if self.search_built:
            lines.append("  search structures rebuilt")
        elif self.search_note:
            lines.append(f"  search: {self.search_note}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------- parsing
# A parsed record travelling from a worker: (source, id, rank, title, product, tag, blob)
_Record = tuple[str, str, list[Any], str, str, str, bytes]
# A worker's answer for one input: ("ok", record) or ("skip", (source, reason))
_Result = tuple[str, Any]


def _reason(exc: BaseException) -> str:
    msg = str(exc)
    # "Q12345: truncated header" -> "truncated header", so reasons group across files
    head, sep, rest = msg.partition(": ")
    if sep and head[:1] == "Q" and head[1:].isdigit():
        msg = rest
    return msg or type(exc).__name__


def _parse_one(source: str, data: bytes | None, mtime: float) -> _Result:
    from kbbot.parse import parse_bytes

    try:
        if data is None:
            with open(source, "rb") as fh:
                data = fh.read()
        article = parse_bytes(data, source=source)
    except ParseError as exc:
        return "skip", (source, _reason(exc))
    except OSError as exc:
        return "skip", (source, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must cost one file, never the run
        log.warning("parser failed on %s: %r", source, exc)
        return "skip", (source, f"parser error ({type(exc).__name__})")
    text_len = sum(len(t) for t in article.sections.values())
    rank = [_FORMAT_RANK.get(article.format, 0), round(mtime, 3), len(article.sections), text_len]
    rec: _Record = (
        source, article.id, rank, article.title, article.product, article.product_tag, encode_record(article)
    )
    return "ok", rec


def _parse_chunk(items: list[tuple[str, bytes | None, float]]) -> list[_Result]:
    return [_parse_one(src, data, mtime) for src, data, mtime in items]


# ------------------------------------------------------------------------------------------- sources
@dataclass(slots=True)
class _Unit:
    """One fingerprinted input: a plain file or a whole archive."""

    key: str
    kind: str  # "file" | "archive"
    fp: list[int]  # [size, mtime_ns]
    mtime: float


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _walk(folder: Path) -> Iterator[os.DirEntry[str]]:
    stack = [str(folder)]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", d, exc)
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue  # .git, editor swap files, our own temp folders
            if e.is_dir(follow_symlinks=True):
                subdirs.append(e.path)
            elif e.is_file(follow_symlinks=True):
                yield e
        stack.extend(reversed(subdirs))


def _enumerate(sources: list[str], summary: IndexSummary) -> list[_Unit]:
    units: dict[str, _Unit] = {}
    for s in sources:
        p = Path(s)
        if p.is_dir():
            for e in _walk(p):
                st = e.stat()
                key = os.path.abspath(e.path)
                kind = "archive" if _is_archive(Path(e.name)) else "file"
                units[key] = _Unit(key=key, kind=kind, fp=[st.st_size, st.st_mtime_ns], mtime=st.st_mtime)
        elif p.is_file():
            st = p.stat()
            key = os.path.abspath(p)
            kind = "archive" if _is_archive(p) else "file"
            units[key] = _Unit(key=key, kind=kind, fp=[st.st_size, st.st_mtime_ns], mtime=st.st_mtime)
        else:
            summary.skipped.setdefault("source not found", []).append(s)
    return list(units.values())


def _archive_members(unit: _Unit, summary_skips: list[tuple[str, str]]) -> Iterator[tuple[str, bytes, float]]:
    try:
        with tarfile.open(unit.key, "r:*") as tar:
            for member in tar:
                if not member.isfile() or Path(member.name).name.startswith("."):
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                yield f"{unit.key}!{member.name}", fh.read(), float(member.mtime)
    except (tarfile.TarError, OSError, EOFError) as exc:
        summary_skips.append((unit.key, f"unreadable archive ({type(exc).__name__}: {exc})"))


# ------------------------------------------------------------------------------------------- previous run
_PARSER_FINGERPRINT: str | None = None


def parser_fingerprint() -> str:
    """A hash of the parser's source (kbbot/parse/*.py and the Article model): records parsed by other code
    are not reused by an incremental run."""
    global _PARSER_FINGERPRINT
    if _PARSER_FINGERPRINT is None:
        import kbbot.article
        import kbbot.parse

        h = hashlib.sha1()
        files = [*sorted(Path(kbbot.parse.__file__).parent.glob("*.py")), Path(kbbot.article.__file__)]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        _PARSER_FINGERPRINT = h.hexdigest()[:16]
    return _PARSER_FINGERPRINT


@dataclass(slots=True)
class _Previous:
    manifest: dict[str, Any]
    files: dict[str, Any]  # key -> {"kind", "fp", "records": [...], "skipped": [[source, reason], ...]}
    records: list[list[Any]]  # per record: [source, id, rank, title, product, tag]
    kb: KnowledgeBase


def _load_previous(out: Path) -> _Previous | None:
    if not out.exists():
        return None
    try:
        manifest = read_manifest(out)
        table = json.loads((out / FILES).read_text(encoding="utf-8"))
        kb = KnowledgeBase.open(out, articles_only=True)  # a damaged search/ is rebuilt, the articles reused
    except (IndexError_, OSError, ValueError) as exc:
        log.warning("previous index at %s unusable (%s); rebuilding from scratch", out, exc)
        return None
    if manifest.get("parser") != parser_fingerprint():
        # stored records came from other parser code: reusing them would keep yesterday's mistakes
        log.info("the parser changed since %s was built; parsing every file again", out)
        kb.close()
        return None
    return _Previous(manifest=manifest, files=table["files"], records=table["records"], kb=kb)


# ------------------------------------------------------------------------------------------- progress
class _Progress:
    def __init__(self, *, enabled: bool, total: int | None) -> None:
        self.enabled = enabled
        self.total = total
        self.done = 0
        self._last = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.2:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            pct = 100 * self.done / max(1, self.total)
            sys.stderr.write(f"\rindexing: {self.done}/{self.total} files ({pct:.0f}%)")
        else:
            sys.stderr.write(f"\rindexing: {self.done} files")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


# ------------------------------------------------------------------------------------------- run
def _run_parse(
    work: Iterable[tuple[str, bytes | None, float]],
    *,
    workers: int,
    small: bool,
    sink: Callable[[_Result], None],
) -> None:
    """Parse every (source, bytes-or-None, mtime), feeding results to `sink` in completion order."""
    if small or workers <= 1:
        for item in work:
            sink(_parse_one(*item))
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(processes=workers) as pool:
        pending: deque[Any] = deque()
        chunk: list[tuple[str, bytes | None, float]] = []

        def drain(limit: int) -> None:
            while len(pending) > limit:
                for res in pending.popleft().get():
                    sink(res)

        for item in work:
            chunk.append(item)
            if len(chunk) >= _CHUNK:
                pending.append(pool.apply_async(_parse_chunk, (chunk,)))
                chunk = []
                # bounded backlog: archives are read in this process, and must not all sit in memory
                drain(workers * 4)
        if chunk:
            pending.append(pool.apply_async(_parse_chunk, (chunk,)))
        drain(0)


def run_index(
    sources: list[str],
    out: Path,
    *,
    workers: int | None = None,
    progress: bool = False,
    search: bool = True,
    force: bool = False,
) -> IndexSummary:
    """Build or update the index folder `out` from `sources`; see the module docstring.

    `search=False` stores the articles only (benchmarks, or a caller that builds search structures itself).
    `force` replaces an index even with one that found no articles or lost most of them (see _refuse_to_shrink).
    """
    started = time.monotonic()
    out = Path(out)
    if out.exists() and (not out.is_dir() or (not (out / MANIFEST).exists() and any(out.iterdir()))):
        # checked before any work: the swap at the end would refuse to replace it anyway
        raise IndexError_(f"{out} exists and is not a kbbot index; refusing to replace it (choose another --out)")
    summary = IndexSummary(out=out)
    parser_fingerprint()  # taken now, before parsing: it must describe the code that parses this run
    units = _enumerate(sources, summary)
    previous = _load_previous(out)
    workers = max(1, workers or os.cpu_count() or 1)

    # ---- nothing changed at all: leave the index as it is
    if previous is not None and _unchanged(units, previous, need_search=search):
        summary.changed = False
        summary.articles = len(previous.kb)
        summary.files_seen = sum(int(previous.files[u.key].get("members", 1)) for u in units)
        summary.files_reused = summary.files_seen
        for u in units:
            for src, reason in previous.files[u.key]["skipped"]:
                summary.skipped.setdefault(reason, []).append(src)
        summary.duplicates = _duplicates_of(previous.records)
        summary.elapsed = time.monotonic() - started
        previous.kb.close()
        return summary

    # ---- collect records: reused from the previous run, or parsed now
    records: list[_Record] = []
    files_table: dict[str, dict[str, Any]] = {}
    for u in units:
        files_table[u.key] = {"kind": u.kind, "fp": u.fp, "records": [], "skipped": [], "members": 0}

    to_parse_files: list[_Unit] = []
    to_parse_archives: list[_Unit] = []
    for u in units:
        old = previous.files.get(u.key) if previous is not None else None
        if previous is not None and old is not None and old["fp"] == u.fp and old["kind"] == u.kind:
            entry = files_table[u.key]
            for idx in old["records"]:
                src, qid, rank, title, product, tag = previous.records[idx]
                entry["records"].append(len(records))
                records.append((src, qid, rank, title, product, tag, previous.kb.record_bytes(idx)))
            entry["skipped"] = [list(x) for x in old["skipped"]]
            entry["members"] = old.get("members", 1)
            summary.files_reused += entry["members"]
        elif u.kind == "archive":
            to_parse_archives.append(u)
        else:
            to_parse_files.append(u)

    total = len(to_parse_files) if not to_parse_archives else None
    bar = _Progress(enabled=progress, total=total)
    owner_of: dict[str, str] = {}  # source -> unit key (archive members belong to their archive)
    archive_skips: list[tuple[str, str]] = []

    def sink(res: _Result) -> None:
        kind, payload = res
        src = payload[0]
        entry = files_table[owner_of.get(src, src)]
        if kind == "ok":
            entry["records"].append(len(records))
            records.append(payload)
        else:
            entry["skipped"].append([src, payload[1]])
        summary.files_parsed += 1
        bar.advance()

    def work() -> Iterator[tuple[str, bytes | None, float]]:
        for u in to_parse_files:
            files_table[u.key]["members"] = 1
            yield u.key, None, u.mtime
        for u in to_parse_archives:
            count = 0
            for src, data, mtime in _archive_members(u, archive_skips):
                owner_of[src] = u.key
                count += 1
                yield src, data, mtime
            files_table[u.key]["members"] = count

    small = not to_parse_archives and len(to_parse_files) <= _IN_PROCESS_LIMIT
    parse_started = time.monotonic()
    _run_parse(work(), workers=workers, small=small, sink=sink)
    bar.finish()
    summary.parse_seconds = time.monotonic() - parse_started
    for key, reason in archive_skips:
        files_table[key]["skipped"].append([key, reason])
        files_table[key]["members"] = max(1, files_table[key]["members"])

    for entry in files_table.values():
        for src, reason in entry["skipped"]:
            summary.skipped.setdefault(reason, []).append(src)
    summary.files_seen = sum(e["members"] for e in files_table.values())

    # ---- decide duplicates, order rows, write
    winners, losers = _resolve(records)
    summary.duplicates = _duplicates_from(records, winners, losers)
    summary.articles = len(winners)
    order = winners + losers
    content_hash = _content_hash(records, winners)
    if not force:
        _refuse_to_shrink(out, summary)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir()
    try:
        _write(tmp, records, order, len(winners), files_table, content_hash)
        same_articles = previous is not None and previous.manifest.get("content_hash") == content_hash
        old_search = out / SEARCH_DIR
        if not search:
            summary.search_note = "not built (search=False)"
        elif same_articles and _search_current(old_search):
            # the article set is byte-for-byte the same: the search structures still fit
            shutil.copytree(old_search, tmp / SEARCH_DIR)
            summary.search_note = "articles unchanged, search structures kept"
        else:
            search_started = time.monotonic()
            _build_search(tmp, summary)
            summary.search_seconds = time.monotonic() - search_started
        if previous is not None:
            previous.kb.close()
        seal_index(tmp)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary.elapsed = time.monotonic() - started
    log.info("indexed %s articles from %s files in %.1f s", summary.articles, summary.files_seen, summary.elapsed)
    return summary


def _unchanged(units: list[_Unit], previous: _Previous, *, need_search: bool) -> bool:
    if len(units) != len(previous.files):
        return False
    for u in units:
        old = previous.files.get(u.key)
        if old is None or old["fp"] != u.fp or old["kind"] != u.kind:
            return False
    if not need_search or not _search_hook_available():
        return True
    return _search_current(previous.kb.path / SEARCH_DIR)


def _qnum(qid: str) -> int:
    try:
        return int(qid[1:])
    except ValueError:
        return sys.maxsize


def _resolve(records: list[_Record]) -> tuple[list[int], list[int]]:
    """Indices of winning records (sorted by Q-number) and of the losing duplicates."""
    by_id: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_id[r[1]].append(i)
    winners: list[int] = []
    losers: list[int] = []
    for _qid, idxs in by_id.items():
        best = max(idxs, key=lambda i: (records[i][2], records[i][0]))
        winners.append(best)
        losers.extend(sorted((i for i in idxs if i != best), key=lambda i: records[i][0]))
    winners.sort(key=lambda i: (_qnum(records[i][1]), records[i][1]))
    losers.sort(key=lambda i: (_qnum(records[i][1]), records[i][0]))
    return winners, losers


def _duplicates_from(records: list[_Record], winners: list[int], losers: list[int]) -> list[Duplicate]:
    win_src = {records[i][1]: records[i][0] for i in winners}
    lost: dict[str, list[str]] = defaultdict(list)
    for i in losers:
        lost[records[i][1]].append(records[i][0])
    return [Duplicate(id=q, winner=win_src[q], losers=tuple(srcs)) for q, srcs in lost.items()]


def _duplicates_of(stored: list[list[Any]]) -> list[Duplicate]:
    """Duplicates recorded in a previous run's table (winners come first in the stored order)."""
    seen: dict[str, str] = {}
    lost: dict[str, list[str]] = defaultdict(list)
    for src, qid, *_ in stored:
        if qid in seen:
            lost[qid].append(src)
        else:
            seen[qid] = src
    return [Duplicate(id=q, winner=seen[q], losers=tuple(s)) for q, s in lost.items()]


def _content_hash(records: list[_Record], winners: list[int]) -> str:
    h = hashlib.sha1()
    for i in winners:
        h.update(records[i][1].encode())
        h.update(hashlib.sha1(records[i][6]).digest())
    return h.hexdigest()


def _write(
    folder: Path,
    records: list[_Record],
    order: list[int],
    n_rows: int,
    files_table: dict[str, dict[str, Any]],
    content_hash: str,
) -> None:
    new_index = {old: new for new, old in enumerate(order)}
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    with open(folder / ARTICLES, "wb") as fh:
        pos = 0
        for k, i in enumerate(order):
            blob = records[i][6]
            fh.write(blob)
            pos += len(blob)
            offsets[k + 1] = pos
    np.save(folder / OFFSETS, offsets)
    rows = {
        "ids": [records[i][1] for i in order[:n_rows]],
        "titles": [records[i][3] for i in order[:n_rows]],
        "products": [records[i][4] for i in order[:n_rows]],
        "product_tags": [records[i][5] for i in order[:n_rows]],
    }
    (folder / ROWS).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    for entry in files_table.values():
        entry["records"] = sorted(new_index[i] for i in entry["records"])
    table = {
        "files": files_table,
        "records": [list(records[i][:6]) for i in order],
    }
    (folder / FILES).write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "articles": n_rows,
        "records": len(order),
        "files": len(files_table),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "content_hash": content_hash,
        "parser": parser_fingerprint(),
    }
    # the manifest goes last: a folder without one is never mistaken for a finished index
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _search_hook_available() -> bool:
    try:
        import kbbot.search as search
    except Exception:
        return False
    return callable(getattr(search, "build_search_index", None))


def _search_current(directory: Path) -> bool:
    """A kept search folder is reusable: it exists and (when kbbot.search can tell) is in the format this
    version of the search engine reads."""
    if not directory.is_dir():
        return False
    try:
        import kbbot.search as search
    except Exception:
        return True  # nothing could rebuild it anyway
    check = getattr(search, "search_index_is_current", None)
    return bool(check(directory)) if callable(check) else True


def _build_search(folder: Path, summary: IndexSummary) -> None:
    try:
        import kbbot.search as search
    except Exception as exc:  # the search package is another engineer's work in progress
        log.warning("kbbot.search cannot be imported (%s); search structures not built", exc)
        summary.search_note = f"not built (kbbot.search import failed: {exc})"
        return
    hook = getattr(search, "build_search_index", None)
    if not callable(hook):
        log.warning("kbbot.search has no build_search_index(kb, directory); search structures not built")
        summary.search_note = "not built (kbbot.search.build_search_index not available)"
        return
    kb = KnowledgeBase.open(folder)
    try:
        hook(kb, folder / SEARCH_DIR)
    except Exception as exc:
        # the articles are still worth saving; with no search/ folder the next run retries the build
        log.error("building the search structures failed: %r", exc)
        shutil.rmtree(folder / SEARCH_DIR, ignore_errors=True)
        summary.search_note = f"build FAILED ({type(exc).__name__}: {exc}); will retry on the next run"
        return
    finally:
        kb.close()
    summary.search_built = True


def _refuse_to_shrink(out: Path, summary: IndexSummary) -> None:
    """A run that found no articles, or lost more than MAX_LOSS of the ones the index at `out` holds, is far
    more likely a typo in a source path than a knowledge base that shrank: keep the team's index."""
    try:
        before = int(read_manifest(out).get("articles", 0)) if out.exists() else 0
    except IndexError_:
        return  # not a readable index: nothing worth keeping
    found = summary.articles
    if before == 0 or found >= before * (1 - MAX_LOSS):
        return
    reasons = "; ".join(f"{why}: {', '.join(srcs[:3])}" for why, srcs in sorted(summary.skipped.items()))
    raise IndexError_(
        f"found {found} articles where {out} holds {before}"
        + (f" ({reasons})" if reasons else "")
        + "; the index was left as it was (check the sources, or pass --force to replace it anyway)"
    )


def _swap(tmp: Path, out: Path) -> None:
    """Replace `out` with `tmp` by renames; the old folder is moved aside first and removed after."""
    if out.exists():
        if not (out / MANIFEST).exists() and any(out.iterdir()):
            raise IndexError_(f"{out} exists and is not a kbbot index; refusing to replace it")
        aside = out.parent / f".{out.name}.old-{os.getpid()}-{int(time.time() * 1000)}"
        # FileNotFoundError: another indexer run moved it away a moment ago
        with contextlib.suppress(FileNotFoundError):
            os.replace(out, aside)
        try:
            os.replace(tmp, out)
        except OSError:
            if (out / MANIFEST).exists():
                # a concurrent run (the bot starting while `kbbot index` runs) swapped in its own fresh index
                # first; it was built from the same sources, so ours is dropped
                log.info("another indexer run replaced %s first; keeping that one", out)
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(aside, ignore_errors=True)
                return
            if aside.exists():
                os.replace(aside, out)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    else:
        try:
            os.replace(tmp, out)
        except OSError:
            if not (out / MANIFEST).exists():
                raise
            log.info("another indexer run created %s first; keeping that one", out)
            shutil.rmtree(tmp, ignore_errors=True)
    with contextlib.suppress(OSError):
        # make the rename durable
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
