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
import posixpath
import re
import shutil
import sys
import tarfile
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import numpy as np

from kbbot.article import Article
from kbbot.errors import ConfigError, IndexFolderError, ParseError
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
    decode_record,
    encode_record,
    read_manifest,
    seal_index,
)

log = logging.getLogger(__name__)

# Share of an index's articles a re-index may lose before it refuses to replace the index without --force.
MAX_LOSS = 0.5
ARCHIVE_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".txz")
_FORMAT_RANK = {"txt": 3, "markdown": 2, "web": 1, "generic": 0, "markdown-doc": 0}
# formats whose articles are each their own page: two of them on one id are a clash, not two copies
_OWN_PAGE_FORMATS = frozenset({"markdown-doc"})
_QID_DIR_RE = re.compile(r"^Q\d{1,7}$", re.IGNORECASE)
# a code repository's own pages at the top of a docs tree, not articles
_REPO_PAGES = frozenset({"readme", "security", "contributing", "code_of_conduct", "license", "license-code",
                         "changelog", "thirdpartynotices"})
_IN_PROCESS_LIMIT = 64  # below this many files a worker pool costs more than it saves
_CHUNK = 64
_MAX_EXAMPLES = 5


# ------------------------------------------------------------------------------------------- summary
@dataclass(frozen=True, slots=True)
class Duplicate:
    id: str
    winner: str
    losers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Clash:
    """Two different articles claimed one id; `renamed` were indexed under another id ("src as slug")."""

    id: str
    kept: str
    renamed: tuple[str, ...]


@dataclass(slots=True)
class IndexSummary:
    out: Path
    articles: int = 0
    files_seen: int = 0
    files_parsed: int = 0
    files_reused: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> sources
    # indexed, but with something left out: note -> sources ("include fragment not found: ../includes/x.md")
    notes: dict[str, list[str]] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)
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
        lines += _grouped("skipped {n} file(s): {why}", self.skipped)
        lines += _grouped("indexed {n} file(s) without a part: {why}", self.notes)
        if self.duplicates:
            lines.append(f"  duplicate ids: {len(self.duplicates)} (kept the TXT/newer/richer file)")
            for d in self.duplicates[:_MAX_EXAMPLES]:
                lines.append(f"      {d.id}: kept {d.winner} over {', '.join(d.losers)}")
            if len(self.duplicates) > _MAX_EXAMPLES:
                lines.append(f"      ... and {len(self.duplicates) - _MAX_EXAMPLES} more")
        if self.clashes:
            lines.append(f"  id clashes: {len(self.clashes)} (pages stating one id; the others keep their slug)")
            for c in self.clashes[:_MAX_EXAMPLES]:
                lines.append(f"      {c.id}: kept {c.kept}; {', '.join(c.renamed)}")
        if self.changed:
            lines.append(f"  parse {self.parse_seconds:.1f} s, search structures {self.search_seconds:.1f} s")
        if self.search_built:
            lines.append("  search structures rebuilt")
        elif self.search_note:
            lines.append(f"  search: {self.search_note}")
        return "\n".join(lines)


def _grouped(headline: str, groups: dict[str, list[str]]) -> list[str]:
    """Summary lines for sources grouped by why: the largest group first, a few sources of each."""
    lines: list[str] = []
    for why, sources in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append("  " + headline.format(n=len(sources), why=why))
        lines += [f"      {s}" for s in sources[:_MAX_EXAMPLES]]
        if len(sources) > _MAX_EXAMPLES:
            lines.append(f"      ... and {len(sources) - _MAX_EXAMPLES} more")
    return lines


# ------------------------------------------------------------------------------------------- parsing
class _Record(NamedTuple):
    """A parsed article travelling from a worker (and kept for the next incremental run)."""

    source: str
    id: str
    rank: list[Any]  # [format rank, mtime, sections, text length]: the better copy of a duplicate wins
    title: str
    product: str
    tag: str
    blob: bytes  # the compressed record
    aliases: tuple[str, ...] = ()


class _Work(NamedTuple):
    """One file for a worker to parse."""

    source: str
    data: bytes | None  # None: the worker reads `source` itself
    mtime: float
    path: str  # the path inside the tree being indexed (slug ids, URL templates)
    includes: dict[str, str]  # include target as written in the page -> its text
    url_template: str | None

# A worker's answer for one input, per article: ("ok", record) or ("skip", (source, reason)); and per thing
# left out of an indexed page: ("note", (source, note))
_Result = tuple[str, Any]


def _reason(exc: BaseException) -> str:
    msg = str(exc)
    # "Q12345: truncated header" -> "truncated header", so reasons group across files
    head, sep, rest = msg.partition(": ")
    if sep and head[:1] == "Q" and head[1:].isdigit():
        msg = rest
    return msg or type(exc).__name__


def _not_an_article(path: str) -> str | None:
    """Why a file in a docs tree is not an article, judged by its place (None: it may be one)."""
    parts = PurePosixPath(path).parts
    stem = PurePosixPath(path).stem.lower()
    # a README in a Q-number folder is a 1999 article page (kb/099/Q99304/README.md)
    numbered = any(_QID_DIR_RE.match(p) for p in parts[:-1])
    if len(parts) <= 2 and stem in _REPO_PAGES and not numbered:
        return "repository page (README, SECURITY, LICENSE ...), not an article"
    if "includes" in (p.lower() for p in parts[:-1]) and PurePosixPath(path).suffix.lower() == ".md":
        return "include fragment (expanded into the pages that include it)"
    return None


def _parse_one(work: _Work) -> list[_Result]:
    """The records of one file: one article, or every record of a help-centre export."""
    from kbbot.parse import parse_all_bytes, read_includes

    source, data = work.source, work.data
    skip = _not_an_article(work.path)
    if skip:
        return [("skip", (source, skip))]
    try:
        includes = work.includes
        if data is None:
            with open(source, "rb") as fh:
                data = fh.read()
            includes = read_includes(Path(source), data)
        articles = parse_all_bytes(data, source=source, path=work.path, includes=includes,
                                   url_template=work.url_template)
    except ParseError as exc:
        return [("skip", (source, _reason(exc)))]
    except OSError as exc:
        return [("skip", (source, f"cannot read: {exc.strerror or exc}"))]
    except Exception as exc:  # a parser bug must cost one file, never the run
        log.warning("parser failed on %s: %r", source, exc)
        return [("skip", (source, f"parser error ({type(exc).__name__})"))]
    notes = [("note", (source, f"include fragment not found: {target}")) for target in _missing(data, includes)]
    return [*(("ok", _record(article, work.mtime, owner=source)) for article in articles), *notes]


def _missing(data: bytes, includes: dict[str, str]) -> list[str]:
    """The include fragments a page names that the tree does not hold (the page is indexed without them)."""
    if b"[!INCLUDE" not in data and b"[!include" not in data:
        return []
    from kbbot.parse.markdown_doc import include_targets

    return [t for t in dict.fromkeys(include_targets(data.decode("utf-8", errors="replace"))) if t not in includes]


def _record(article: Article, mtime: float, *, owner: str) -> _Record:
    text_len = sum(len(t) for t in article.sections.values())
    rank = [_FORMAT_RANK.get(article.format, 0), round(mtime, 3), len(article.sections), text_len, article.format]
    # `owner` is the file as indexed: an export's records (source "export.json#123") all belong to it
    return _Record(owner, article.id, rank, article.title, article.product, article.product_tag,
                   encode_record(article), article.aliases)


def _parse_chunk(items: list[_Work]) -> list[list[_Result]]:
    return [_parse_one(item) for item in items]


# ------------------------------------------------------------------------------------------- sources
@dataclass(slots=True)
class _Unit:
    """One fingerprinted input: a plain file or a whole archive."""

    key: str
    kind: str  # "file" | "archive"
    fp: list[int]  # [size, mtime_ns]
    mtime: float
    rel: str = ""  # the path inside the folder given as a source


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
                units[key] = _Unit(key=key, kind=kind, fp=[st.st_size, st.st_mtime_ns], mtime=st.st_mtime,
                                   rel=Path(os.path.relpath(e.path, p)).as_posix())
        elif p.is_file():
            st = p.stat()
            key = os.path.abspath(p)
            kind = "archive" if _is_archive(p) else "file"
            units[key] = _Unit(key=key, kind=kind, fp=[st.st_size, st.st_mtime_ns], mtime=st.st_mtime,
                               rel=p.name)
        else:
            summary.skipped.setdefault("source not found", []).append(s)
    return list(units.values())


def _archive_members(
    unit: _Unit, summary_skips: list[tuple[str, str]], url_template: str | None
) -> Iterator[_Work]:
    """The archive's files. Pages that include fragments wait until the whole archive is read, so that the
    fragments (wherever they sit in the archive) can travel with them."""
    fragments: dict[str, str] = {}
    waiting: list[tuple[str, bytes, float]] = []
    root = ""  # the one folder an archive of a docs tree usually starts with ("OfficeDocs-Support/")
    try:
        with tarfile.open(unit.key, "r:*") as tar:
            for n, member in enumerate(tar):
                name = member.name.removeprefix("./")
                if n == 0 and member.isdir() and name.strip("/") and "/" not in name.strip("/"):
                    root = name.strip("/") + "/"
                if not member.isfile() or Path(member.name).name.startswith("."):
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                data = fh.read()
                # the path inside the tree: slug ids and URL templates do not carry the archive's root folder
                path = name.removeprefix(root) if root else name
                if _not_an_article(path) and member.name.lower().endswith(".md"):
                    fragments[posixpath.normpath(member.name)] = data.decode("utf-8", errors="replace")
                if b"[!INCLUDE" in data or b"[!include" in data:
                    waiting.append((member.name, data, float(member.mtime)))
                    continue
                yield _Work(f"{unit.key}!{member.name}", data, float(member.mtime), path, {}, url_template)
    except (tarfile.TarError, OSError, EOFError) as exc:
        summary_skips.append((unit.key, f"unreadable archive ({type(exc).__name__}: {exc})"))
    from kbbot.parse.markdown_doc import include_targets

    for name, data, mtime in waiting:
        includes: dict[str, str] = {}
        for target in include_targets(data.decode("utf-8", errors="replace")):
            text = fragments.get(posixpath.normpath(posixpath.join(posixpath.dirname(name), target)))
            if text is not None:
                includes[target] = text
        path = name.removeprefix("./").removeprefix(root) if root else name
        yield _Work(f"{unit.key}!{name}", data, mtime, path, includes, url_template)


# ------------------------------------------------------------------------------------------- previous run
_PARSER_FINGERPRINT: str | None = None
# A few article shapes parsed to fingerprint the parser's behaviour: a vocabulary or rule change that alters
# what these give re-parses every file, even if nobody bumped PARSER_VERSION; editing a comment does not.
_PROBES: tuple[tuple[str, str], ...] = (
    ("probe.txt", "DOCUMENT:Q100001  10-NOV-1999  [winnt]\nTITLE   :Probe: Error 0x8004010F on Logon\n"
     "PRODUCT :Windows NT\nPROD/VER:4.0\nKEYWORDS:kbprb\n\nSYMPTOMS\n========\n\nYou receive the following "
     "error message:\n\n   [008] Logon failed\n\nRESOLUTION\n==========\n\nTo fix it:\n\n 1. Click Start.\n"
     " 2. Restart the server. See Q100002.\n"),
    ("probe/modern-page.md", "---\ntitle: Probe page\nappliesto:\n  - Exchange Online\n---\n# Probe page\n\n"
     "_Original KB number:_ &nbsp; 1234567\n\n## Symptoms\n\nYou see:\n\n> 550 5.7.1 Denied AADSTS50126\n\n"
     "## Resolution 1\n\n1. Select **Settings** in [the portal](https://example.com).\n1. Run:\n\n"
     "   ```\n   Get-Mailbox 0x80070005\n   ```\n\n   > [!NOTE]\n   > HCW8078 appears here.\n"),
)


def parser_fingerprint() -> str:
    """PARSER_VERSION and what the parser makes of a few probe articles: records parsed by a parser that
    behaves differently are not reused by an incremental run."""
    global _PARSER_FINGERPRINT
    if _PARSER_FINGERPRINT is None:
        from kbbot.parse import PARSER_VERSION, parse_text

        h = hashlib.sha1(f"parser {PARSER_VERSION}".encode())
        for path, text in _PROBES:
            article = parse_text(text, source=path, path=path)
            h.update(json.dumps(article.to_dict(), sort_keys=True).encode())
        _PARSER_FINGERPRINT = h.hexdigest()[:16]
    return _PARSER_FINGERPRINT


@dataclass(slots=True)
class _Previous:
    manifest: dict[str, Any]
    files: dict[str, Any]  # key -> {"kind", "fp", "records": [...], "skipped": [[source, reason], ...]}
    records: list[list[Any]]  # per record: [source, id, rank, title, product, tag]
    kb: KnowledgeBase


def _load_previous(out: Path, *, url_template: str | None = None) -> _Previous | None:
    if not out.exists():
        return None
    try:
        manifest = read_manifest(out)
        table = json.loads((out / FILES).read_text(encoding="utf-8"))
        kb = KnowledgeBase.open(out, articles_only=True)  # a damaged search/ is rebuilt, the articles reused
    except (IndexFolderError, OSError, ValueError) as exc:
        log.warning("previous index at %s unusable (%s); rebuilding from scratch", out, exc)
        return None
    if manifest.get("parser") != parser_fingerprint():
        # stored records came from other parser code: reusing them would keep yesterday's mistakes
        log.info("the parser changed since %s was built; parsing every file again", out)
        kb.close()
        return None
    if manifest.get("url_template") != url_template:
        # the stored articles carry links made from the old template
        log.info("the URL template changed since %s was built; parsing every file again", out)
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
    work: Iterable[_Work],
    *,
    workers: int,
    small: bool,
    sink: Callable[[list[_Result]], None],
) -> None:
    """Parse every (source, bytes-or-None, mtime), feeding results to `sink` in completion order."""
    if small or workers <= 1:
        for item in work:
            sink(_parse_one(item))
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(processes=workers) as pool:
        pending: deque[Any] = deque()
        chunk: list[_Work] = []

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
    url_template: str | None = None,
) -> IndexSummary:
    """Build or update the index folder `out` from `sources`; see the module docstring.

    `search=False` stores the articles only (benchmarks, or a caller that builds search structures itself).
    `force` replaces an index even with one that found no articles or lost most of them (see _refuse_to_shrink).
    `url_template` ("https://kb.example.com/{path}") links articles whose source names no URL of its own.
    """
    started = time.monotonic()
    out = Path(out)
    if out.exists() and (not out.is_dir() or (not (out / MANIFEST).exists() and any(out.iterdir()))):
        # checked before any work: the swap at the end would refuse to replace it anyway
        raise IndexFolderError(
            f"{out} exists and is not a kbbot index; refusing to replace it (choose another --out)"
        )
    if url_template is not None:
        _check_url_template(url_template)
    summary = IndexSummary(out=out)
    parser_fingerprint()  # taken now, before parsing: it must describe the code that parses this run
    units = _enumerate(sources, summary)
    previous = _load_previous(out, url_template=url_template)
    workers = max(1, workers or os.cpu_count() or 1)

    # ---- nothing changed at all: leave the index as it is
    if previous is not None and _unchanged(units, previous, need_search=search):
        _report_unchanged(summary, units, previous)
        summary.elapsed = time.monotonic() - started
        previous.kb.close()
        return summary

    # ---- collect records: reused from the previous run, or parsed now
    records: list[_Record] = []
    files_table: dict[str, dict[str, Any]] = {
        u.key: {"kind": u.kind, "fp": u.fp, "records": [], "skipped": [], "members": 0} for u in units
    }
    to_parse = _reuse_unchanged(units, previous, records, files_table, summary)
    parse_started = time.monotonic()
    _parse_changed(to_parse, records, files_table, summary, workers=workers, progress=progress,
                   url_template=url_template)
    summary.parse_seconds = time.monotonic() - parse_started
    for entry in files_table.values():
        for src, reason in entry["skipped"]:
            summary.skipped.setdefault(reason, []).append(src)
        for src, note in entry.get("notes", []):
            summary.notes.setdefault(note, []).append(src)
    summary.files_seen = sum(e["members"] for e in files_table.values())

    # ---- decide duplicates, order rows, write
    summary.clashes = _settle_clashes(records)
    winners, losers = _resolve(records)
    summary.duplicates = _duplicates_from(records, winners, losers)
    summary.articles = len(winners)
    if not force:
        _refuse_to_shrink(out, summary)
    _write_and_swap(out, records, winners, losers, files_table, previous, summary, search=search,
                    url_template=url_template)
    summary.elapsed = time.monotonic() - started
    log.info("indexed %s articles from %s files in %.1f s", summary.articles, summary.files_seen, summary.elapsed)
    return summary


def _check_url_template(template: str) -> None:
    """Refused before any work: a bad template would otherwise fail every file, one by one."""
    try:
        template.format(path="a/b", slug="a/b", id="KB1")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"--url-template {template!r} is not usable ({type(exc).__name__}: {exc}); "
            "it may use {path}, {slug} and {id}, e.g. https://kb.example.com/{path}"
        ) from exc


def _report_unchanged(summary: IndexSummary, units: list[_Unit], previous: _Previous) -> None:
    summary.changed = False
    summary.articles = len(previous.kb)
    summary.files_seen = sum(int(previous.files[u.key].get("members", 1)) for u in units)
    summary.files_reused = summary.files_seen
    for u in units:
        for src, reason in previous.files[u.key]["skipped"]:
            summary.skipped.setdefault(reason, []).append(src)
        for src, note in previous.files[u.key].get("notes", []):
            summary.notes.setdefault(note, []).append(src)
    summary.duplicates = _duplicates_of(previous.records)


def _reuse_unchanged(
    units: list[_Unit],
    previous: _Previous | None,
    records: list[_Record],
    files_table: dict[str, dict[str, Any]],
    summary: IndexSummary,
) -> list[_Unit]:
    """Copy the records of inputs unchanged since the previous run; the inputs left to parse."""
    to_parse: list[_Unit] = []
    for u in units:
        old = previous.files.get(u.key) if previous is not None else None
        if previous is None or old is None or old["fp"] != u.fp or old["kind"] != u.kind:
            to_parse.append(u)
            continue
        entry = files_table[u.key]
        for idx in old["records"]:
            src, qid, rank, title, product, tag, *rest = previous.records[idx]
            entry["records"].append(len(records))
            records.append(_Record(src, qid, rank, title, product, tag, previous.kb.record_bytes(idx),
                                   tuple(rest[0]) if rest else ()))
        entry["skipped"] = [list(x) for x in old["skipped"]]
        entry["notes"] = [list(x) for x in old.get("notes", [])]
        entry["members"] = old.get("members", 1)
        summary.files_reused += entry["members"]
    return to_parse


def _parse_changed(
    units: list[_Unit],
    records: list[_Record],
    files_table: dict[str, dict[str, Any]],
    summary: IndexSummary,
    *,
    workers: int,
    progress: bool,
    url_template: str | None,
) -> None:
    """Parse the changed files and archives, adding their records and skips to the tables."""
    files = [u for u in units if u.kind != "archive"]
    archives = [u for u in units if u.kind == "archive"]
    bar = _Progress(enabled=progress, total=None if archives else len(files))
    owner_of: dict[str, str] = {}  # source -> unit key (archive members belong to their archive)
    archive_skips: list[tuple[str, str]] = []

    def sink(results: list[_Result]) -> None:
        for kind, payload in results:
            src = payload[0]
            entry = files_table[owner_of.get(src, src)]
            if kind == "ok":
                entry["records"].append(len(records))
                records.append(payload)
            elif kind == "note":
                entry.setdefault("notes", []).append([src, payload[1]])
            else:
                entry["skipped"].append([src, payload[1]])
        summary.files_parsed += 1
        bar.advance()

    def work() -> Iterator[_Work]:
        for u in files:
            files_table[u.key]["members"] = 1
            yield _Work(u.key, None, u.mtime, u.rel, {}, url_template)
        for u in archives:
            count = 0
            for item in _archive_members(u, archive_skips, url_template):
                owner_of[item.source] = u.key
                count += 1
                yield item
            files_table[u.key]["members"] = count

    small = not archives and len(files) <= _IN_PROCESS_LIMIT
    _run_parse(work(), workers=workers, small=small, sink=sink)
    bar.finish()
    for key, reason in archive_skips:
        files_table[key]["skipped"].append([key, reason])
        files_table[key]["members"] = max(1, files_table[key]["members"])


def _write_and_swap(
    out: Path,
    records: list[_Record],
    winners: list[int],
    losers: list[int],
    files_table: dict[str, dict[str, Any]],
    previous: _Previous | None,
    summary: IndexSummary,
    *,
    search: bool,
    url_template: str | None,
) -> None:
    """Write the new index beside `out` (search structures rebuilt or kept), then swap it in."""
    content_hash = _content_hash(records, winners)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir()
    try:
        _write(tmp, records, winners + losers, len(winners), files_table, content_hash, url_template)
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


def _settle_clashes(records: list[_Record]) -> list[Clash]:
    """Two pages of a modern KB on one id (two pages stating the same KB number) are two articles: the
    richer keeps the id, the others are indexed under their path slug, and the clash is reported."""
    by_id: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        if r.rank[4:5] and r.rank[4] in _OWN_PAGE_FORMATS:
            by_id[r.id].append(i)
    clashes: list[Clash] = []
    for article_id, idxs in by_id.items():
        if len(idxs) < 2:
            continue
        best = max(idxs, key=lambda i: (records[i].rank[:4], records[i].source))
        moved: list[str] = []
        for i in sorted(i for i in idxs if i != best):
            r = records[i]
            if not r.aliases:
                continue  # nothing else to call it: left as a duplicate
            article = decode_record(r.blob)
            new_id = r.aliases[0]
            renamed = replace(article, id=new_id, aliases=tuple(a for a in article.aliases if a != new_id))
            records[i] = r._replace(id=new_id, blob=encode_record(renamed), aliases=renamed.aliases)
            moved.append(f"{r.source} as {new_id}")
        clashes.append(Clash(id=article_id, kept=records[best].source, renamed=tuple(moved)))
    return clashes


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
    url_template: str | None = None,
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
        # other names of each article (slug, file name, stated KB number) for look-ups by any of them
        "aliases": [list(records[i].aliases) for i in order[:n_rows]],
    }
    (folder / ROWS).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    for entry in files_table.values():
        entry["records"] = sorted(new_index[i] for i in entry["records"])
    table = {
        "files": files_table,
        "records": [[*records[i][:6], list(records[i].aliases)] for i in order],
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
        "url_template": url_template,
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
    except IndexFolderError:
        return  # not a readable index: nothing worth keeping
    found = summary.articles
    if before == 0 or found >= before * (1 - MAX_LOSS):
        return
    reasons = "; ".join(f"{why}: {', '.join(srcs[:3])}" for why, srcs in sorted(summary.skipped.items()))
    raise IndexFolderError(
        f"found {found} articles where {out} holds {before}"
        + (f" ({reasons})" if reasons else "")
        + "; the index was left as it was (check the sources, or pass --force to replace it anyway)"
    )


def _swap(tmp: Path, out: Path) -> None:
    """Replace `out` with `tmp` by renames; the old folder is moved aside first and removed after."""
    if out.exists():
        if not (out / MANIFEST).exists() and any(out.iterdir()):
            raise IndexFolderError(f"{out} exists and is not a kbbot index; refusing to replace it")
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
