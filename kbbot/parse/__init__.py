"""Article parsers: bytes of any supported shape in, one `kbbot.article.Article` out.

    parse_bytes(data, source=...)  detect the shape (TXT, 1999 Markdown page, modern Markdown, web copy,
                                   generic) and parse
    parse_file(path)               the same, reading the file
    parse_text(text, source=...)   for text already decoded
    parse_all_bytes(data, ...)     every article of a file: a help-centre JSON export holds many

`path` (the file's path inside the tree being indexed) gives articles without a number of their own a stable
slug id; `includes` holds the text of DocFX include fragments the page names; `url_template`
("https://kb.example.com/{path}") gives articles without a URL of their own one.

Pure: the only I/O is `parse_file` reading the bytes. A file that is not an article raises
`kbbot.errors.ParseError` with the reason; an unfamiliar but readable shape falls back to the generic reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from kbbot.article import Article
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft, build_article
from kbbot.parse.text import decode_bytes

__all__ = [
    "PARSER_VERSION",
    "detect_format",
    "parse_all_bytes",
    "parse_bytes",
    "parse_file",
    "parse_text",
    "read_includes",
]

# Bump when parsing gives different articles for the same bytes; the indexer re-parses every file then.
PARSER_VERSION = 4

_TXT_RE = re.compile(r"\A\s*DOCUMENT\s*:\s*Q?\d", re.IGNORECASE)
# front matter (closed or not: an unclosed one is a truncated page, reported as such) or the page heading
_MD_RE = re.compile(r"\A\s*(?:---\s*\n\s*\w+\s*:|(?:\{%\s*raw\s*%\}\s*)?##\s*Q\d)")
# the 1999 pages: a "## Q99304: Title" heading or a permalink naming the Q-number
_MD_1999_RE = re.compile(
    r"^(?:(?:\{%-?\s*raw\s*-?%\}\s*)?#{1,3}\s*Q\d{1,7}\s*:|title\s*:\s*[\"']?Q\d{1,7}:"
    r"|permalink\s*:.*/Q\d{1,7}/?\s*$|\s*Article\s*:\s*Q\d)",
    re.MULTILINE | re.IGNORECASE,
)
_MODERN_MD_RE = re.compile(r"\A\ufeff?\s*(?:---[ \t]*\n[\w.]+\s*:|#\s+\S)")
_MD_SUFFIXES = (".md", ".markdown", ".mdx")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_JSON_RE = re.compile(r'\A\ufeff?\s*(?:\{\s*"|\[\s*\{)')
_HTML_RE = re.compile(r"\A\ufeff?\s*(?:<!doctype\s+html|<html\b|<!--)", re.IGNORECASE)
_WEB_ID_RE = re.compile(r"^\s*(?:Article\s+)?ID\s*:\s*Q\d{1,7}\s*$", re.IGNORECASE | re.MULTILINE)


def detect_format(text: str, *, source: str = "") -> str:
    """'txt' | 'markdown' (the 1999 pages) | 'markdown-doc' (modern Markdown) | 'html' | 'json' (a
    help-centre export) | 'web' | 'generic'."""
    if _TXT_RE.match(text):
        return "txt"
    lower = source.lower()
    if lower.endswith(_HTML_SUFFIXES) or _HTML_RE.match(text):
        return "html"
    if lower.endswith(".json") or (_JSON_RE.match(text) and text.rstrip()[-1:] in "]}"):
        return "json"
    if _MD_RE.match(text) and _MD_1999_RE.search(text[:3000]):
        return "markdown"
    if _MODERN_MD_RE.match(text) or source.lower().endswith(_MD_SUFFIXES):
        return "markdown-doc"
    if _MD_RE.match(text):
        return "markdown"
    if _WEB_ID_RE.search(text[:3000]):
        return "web"
    return "generic"


def _drafts(
    text: str, source: str, *, path: str, includes: Mapping[str, str] | None, url_template: str | None
) -> list[Draft]:
    fmt = detect_format(text, source=source)
    if fmt == "json":
        from kbbot.parse.json_export import parse_export

        return parse_export(text, source=source, path=path or source, url_template=url_template)
    if fmt == "html":
        from kbbot.parse.html import parse_html

        return [parse_html(text, source=source, path=path, url_template=url_template)]
    return [_draft(text, source, fmt=fmt, path=path, includes=includes, url_template=url_template)]


def _draft(
    text: str, source: str, *, fmt: str, path: str, includes: Mapping[str, str] | None, url_template: str | None
) -> Draft:
    if fmt == "markdown-doc":
        from kbbot.parse.markdown_doc import parse_markdown_doc

        return parse_markdown_doc(text, source=source, path=path, includes=includes, url_template=url_template)
    if fmt == "txt":
        from kbbot.parse.txt import parse_txt

        return parse_txt(text, source=source)
    if fmt == "markdown":
        from kbbot.parse.markdown import parse_markdown

        return parse_markdown(text, source=source)
    if fmt == "web":
        from kbbot.parse.web import parse_web

        return parse_web(text, source=source)
    from kbbot.parse.generic import parse_generic

    return parse_generic(text, source=source)


def parse_text(
    text: str,
    *,
    source: str = "",
    path: str = "",
    includes: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> Article:
    articles = parse_all_text(text, source=source, path=path, includes=includes, url_template=url_template)
    if len(articles) > 1:
        raise ParseError(f"{len(articles)} articles in one file (a help-centre export): use parse_all_bytes")
    return articles[0]


def parse_all_text(
    text: str,
    *,
    source: str = "",
    path: str = "",
    includes: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> list[Article]:
    """Every article of a file's text: one, or a JSON export's records."""
    if not text.strip():
        raise ParseError("empty file")
    drafts = _drafts(text, source, path=path, includes=includes, url_template=url_template)
    return [build_article(d) for d in drafts]


def parse_all_bytes(
    data: bytes,
    *,
    source: str,
    path: str = "",
    includes: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> list[Article]:
    return parse_all_text(decode_bytes(data), source=source, path=path, includes=includes,
                          url_template=url_template)


def parse_bytes(
    data: bytes,
    *,
    source: str,
    path: str = "",
    includes: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> Article:
    """Parse one article file's bytes; `source` is recorded on the Article (path or archive!member)."""
    return parse_text(decode_bytes(data), source=source, path=path, includes=includes, url_template=url_template)


def read_includes(page: Path, data: bytes) -> dict[str, str]:
    """The DocFX include fragments a page on disk names (`[!INCLUDE [..](../includes/x.md)]`), read from
    beside it; a missing fragment is left out (the page then drops that include)."""
    if b"[!INCLUDE" not in data and b"[!include" not in data:
        return {}
    from kbbot.parse.markdown_doc import include_targets

    found: dict[str, str] = {}
    for target in include_targets(data.decode("utf-8", errors="replace")):
        try:
            found[target] = (page.parent / target).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return found


def parse_file(path: str | Path, *, path_in_tree: str = "", url_template: str | None = None) -> Article:
    """Parse one file (and the include fragments it names); `path_in_tree` as `path` of `parse_bytes`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return parse_bytes(data, source=str(p), path=path_in_tree, includes=read_includes(p, data),
                       url_template=url_template)
