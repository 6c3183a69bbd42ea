"""The Markdown pages (`kb/NNN/QNNNNNN/README.md`): YAML front matter, a `## Q99304: Title` heading,
sometimes `{% raw %}` ... `{% endraw %}`, then the TXT body indented by one tab with a small field block
(Article / Product(s) / Version(s) / Keyword(s) / Last Modified) in place of the TXT header."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from kbbot.article import normalise_qid
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.text import to_lines
from kbbot.parse.txt import Header, body_draft, read_body

_FRONT_TITLE_RE = re.compile(r"^title\s*:\s*(.*)$")
_PERMALINK_RE = re.compile(r"^permalink\s*:.*?/(Q\d{1,7})/?\s*$", re.IGNORECASE)
_H2_RE = re.compile(r"^#{1,3}\s*(Q\d{1,7})\s*:\s*(.*)$")
_FIELD_RE = re.compile(r"^(Article|Product\(s\)|Version\(s\)|Operating System\(s\)|Keyword\(s\)|Last Modified)"
                       r"\s*:(.*)$")
_RAW_RE = re.compile(r"^\s*\{%-?\s*(?:end)?raw\s*-?%\}\s*$")
_QID_TITLE_RE = re.compile(r"^Q\d{1,7}\s*:\s*")
_HEX_BYTE_RE = re.compile(r"<([89A-F][0-9A-F]|7F)>")


def _hex_byte(m: re.Match[str]) -> str:
    b = bytes([int(m.group(1), 16)])
    try:
        return b.decode("cp1252")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _unquote_yaml(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
        v = v.replace('\\"', '"').replace("\\\\", "\\") if value.strip()[0] == '"' else v.replace("''", "'")
    return v


@dataclass(slots=True)
class _FrontMatter:
    title: str = ""
    qid: str | None = None  # from the permalink
    end: int = 0  # the first line after it


def _read_front_matter(lines: list[str]) -> _FrontMatter:
    """The YAML front matter's title and permalink (none when the page has no front matter)."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    front = _FrontMatter(end=i)
    if i >= len(lines) or lines[i].strip() != "---":
        return front
    i += 1
    while i < len(lines) and lines[i].strip() != "---":
        m = _FRONT_TITLE_RE.match(lines[i])
        if m:
            front.title = html.unescape(_unquote_yaml(m.group(1)))
        m = _PERMALINK_RE.match(lines[i])
        if m:
            front.qid = normalise_qid(m.group(1))
        i += 1
    if i >= len(lines):
        raise ParseError("Markdown front matter is not closed (truncated file?)")
    front.end = i + 1
    return front


@dataclass(slots=True)
class _Page:
    title: str = ""  # from the "## Q99304: Title" heading
    qid: str | None = None  # from the same heading
    body: list[str] = field(default_factory=list)  # the TXT body the page carries


def _body_line(line: str) -> str:
    """The TXT line a page line was made from: the page body is the TXT text indented by one tab, with one
    space taken off every indented line (TXT "   1. step" is "\t  1. step" here) and HTML entities for
    &, <, > and quotes."""
    if line.startswith("\t"):
        line = line[1:]
    if line.startswith(" "):
        line = " " + line
    if "&" in line:
        line = html.unescape(line)
    if "<" in line:
        # bytes the page converter could not decode are written as "<B7>"; the TXT has the byte itself
        line = _HEX_BYTE_RE.sub(_hex_byte, line)
    return line


def _read_page(lines: list[str]) -> _Page:
    """The page heading (the first one, before any text) and the body lines, `{% raw %}` markers dropped."""
    page = _Page()
    for line in lines:
        if _RAW_RE.match(line):
            continue
        m = _H2_RE.match(line)
        if m and not page.title and not any(b.strip() for b in page.body):
            page.qid = page.qid or normalise_qid(m.group(1))
            page.title = m.group(2).strip()
            continue
        page.body.append(_body_line(line))
    page.title = _HEX_BYTE_RE.sub(_hex_byte, html.unescape(page.title))
    return page


def _read_fields(body: list[str]) -> tuple[dict[str, str], int]:
    """The field block (Article / Product(s) / ...) opening the body, and the index of the line after it."""
    fields: dict[str, str] = {}
    j = 0
    while j < len(body) and not body[j].strip():
        j += 1
    while j < len(body):
        m = _FIELD_RE.match(body[j].strip())
        if not m:
            break
        fields[m.group(1)] = m.group(2).strip()
        j += 1
    return fields, j


def parse_markdown(text: str, *, source: str = "") -> Draft:
    lines = to_lines(text)
    front = _read_front_matter(lines)
    page = _read_page(lines[front.end:])
    # the article number: the Article field, else the permalink, the heading, the front matter's title
    qid = front.qid or page.qid
    title = page.title
    if not title and front.title:
        title = _QID_TITLE_RE.sub("", front.title)
        m = re.match(r"^(Q\d{1,7})\s*:", front.title)
        if m and qid is None:
            qid = normalise_qid(m.group(1))
    fields, j = _read_fields(page.body)
    if "Article" in fields:
        qid = normalise_qid(fields["Article"]) or qid
    if qid is None:
        raise ParseError("Markdown page without an article number (no Article: field, heading or permalink)")
    if not title:
        raise ParseError(f"{qid}: Markdown page without a title")
    header = Header(id=qid, title=title, keywords=fields.get("Keyword(s)", ""),
                    product=fields.get("Product(s)", ""), prodver=fields.get("Version(s)", ""))
    # the pages carry no corpus tag
    return body_draft(header, read_body(page.body[j:]), format="markdown", source=source)
