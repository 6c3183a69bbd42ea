"""Article parsers: bytes of any supported shape in, one `kbbot.article.Article` out.

    parse_bytes(data, source=...)  detect the shape (TXT, Markdown page, web copy, generic) and parse
    parse_file(path)               the same, reading the file
    parse_text(text, source=...)   for text already decoded

Pure: the only I/O is `parse_file` reading the bytes. A file that is not an article raises
`kbbot.errors.ParseError` with the reason; an unfamiliar but readable shape falls back to the generic reader.
"""

from __future__ import annotations

import re
from pathlib import Path

from kbbot.article import Article
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft, build_article
from kbbot.parse.text import decode_bytes

__all__ = ["detect_format", "parse_bytes", "parse_file", "parse_text"]

_TXT_RE = re.compile(r"\A\s*DOCUMENT\s*:\s*Q?\d", re.IGNORECASE)
# front matter (closed or not: an unclosed one is a truncated page, reported as such) or the page heading
_MD_RE = re.compile(r"\A\s*(?:---\s*\n\s*\w+\s*:|(?:\{%\s*raw\s*%\}\s*)?##\s*Q\d)")
_WEB_ID_RE = re.compile(r"^\s*(?:Article\s+)?ID\s*:\s*Q\d{1,7}\s*$", re.IGNORECASE | re.MULTILINE)


def detect_format(text: str) -> str:
    """'txt' | 'markdown' | 'web' | 'generic'."""
    if _TXT_RE.match(text):
        return "txt"
    if _MD_RE.match(text):
        return "markdown"
    if _WEB_ID_RE.search(text[:3000]):
        return "web"
    return "generic"


def _draft(text: str, source: str) -> Draft:
    fmt = detect_format(text)
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


def parse_text(text: str, *, source: str = "") -> Article:
    if not text.strip():
        raise ParseError("empty file")
    return build_article(_draft(text, source))


def parse_bytes(data: bytes, *, source: str) -> Article:
    """Parse one article file's bytes; `source` is recorded on the Article (path or archive!member)."""
    return parse_text(decode_bytes(data), source=source)


def parse_file(path: str | Path) -> Article:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return parse_bytes(data, source=str(p))
