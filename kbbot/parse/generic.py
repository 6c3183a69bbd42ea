"""The fallback reader for shapes nobody described: first line is the title, ALL-CAPS (or '='-underlined)
lines are section headings. It never crashes on text; it raises ParseError only when no article number can
be found at all. `read_caps_body` is shared with the web-copied shapes."""

from __future__ import annotations

import re
from pathlib import PurePath

from kbbot.article import normalise_qid
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.boilerplate import (
    ADDITIONAL_QUERY_RE,
    APPLIES_TO_RE,
    FOOTER_FIELD_RE,
    is_copyright,
    is_disclaimer,
    is_rule,
    parse_banner_items,
    parse_prodver,
    split_keywords,
)
from kbbot.parse.sections import canonical_section, is_caps_heading, is_underlined_heading
from kbbot.parse.text import to_lines
from kbbot.parse.txt import Body

ID_LINE_RE = re.compile(r"^\s*(?:Article\s+ID|KB\s+Article\s+ID|ID|Article|Document)\s*(?:#|No\.?)?\s*:\s*"
                        r"((?:Q|KB)?\d{1,7})\s*$", re.IGNORECASE)
_FILENAME_QID_RE = re.compile(r"^(?:Q|KB)(\d{1,7})$", re.IGNORECASE)
_LOOSE_QID_RE = re.compile(r"\b(?:Q|KB)(\d{4,7})\b")
_TITLE_FIELD_RE = re.compile(r"^\s*TITLE\s*:(.*)$", re.IGNORECASE)
_TXT_FIELD_RE = re.compile(r"^(?:TITLE|PRODUCT|PROD/VER|OPER/SYS|KEYWORDS)\s*:")
_BARE_QID_RE = re.compile(r"^\s*(?:Q|KB)\d{4,7}\s*$")
_LAST_REVIEWED_RE = re.compile(r"^\s*Last\s+(?:reviewed|modified|updated)\s*:", re.IGNORECASE)


def read_caps_body(lines: list[str], *, known_only: bool) -> Body:
    """Sections headed by bare ALL-CAPS lines (or '='-underlined ones), minus banner/footer/disclaimer."""
    body = Body()
    name = ""
    current: list[str] = []
    banner: list[str] = []
    in_footer = False
    i = 0
    n = len(lines)

    def flush() -> None:
        if any(ln.strip() for ln in current):
            body.sections.append((name or "SUMMARY", list(current)))
        current.clear()

    while i < n:
        line = lines[i]
        if is_disclaimer(line):
            if in_footer or body.sections:
                break
            i += 1
            continue
        if (
            _LAST_REVIEWED_RE.match(line)
            or ID_LINE_RE.match(line)
            or is_copyright(line)
            or (not body.sections and (_BARE_QID_RE.match(line) or _TXT_FIELD_RE.match(line)))
        ):
            i += 1
            continue
        m = ADDITIONAL_QUERY_RE.match(line)
        if m:
            body.query_words = split_keywords(m.group(1))
            in_footer = True
            i += 1
            continue
        fm = FOOTER_FIELD_RE.match(line)
        if in_footer or (fm and fm.group(1).lower() in ("keywords", "technology") and body.sections):
            if fm:
                body.footer.setdefault(fm.group(1).lower(), fm.group(2).strip())
                in_footer = True
            i += 1
            continue
        if APPLIES_TO_RE.match(line):
            i += 1
            while i < n:
                nxt = lines[i]
                if is_rule(nxt) or is_underlined_heading(lines, i) or is_caps_heading(nxt, known_only=True):
                    break
                if not nxt.strip():
                    if banner:
                        break
                else:
                    banner.append(nxt)
                i += 1
            continue
        if is_underlined_heading(lines, i):
            flush()
            name = canonical_section(line)
            i += 2
            continue
        prev_blank = i == 0 or not lines[i - 1].strip()
        if prev_blank and is_caps_heading(line, known_only=known_only) and line[:1] != " ":
            flush()
            name = canonical_section(line)
            i += 1
            continue
        if is_rule(line) and len(line.strip()) >= 40:
            i += 1
            continue
        current.append(line)
        i += 1
    flush()
    body.banner = parse_banner_items(banner)
    return body


def find_id(lines: list[str], source: str) -> str | None:
    """An explicit 'ID: Q123' line, else the file name ('Q102087.TXT'), else a Q-number in the first lines."""
    for line in lines[:60]:
        m = ID_LINE_RE.match(line)
        if m:
            q = normalise_qid(m.group(1))
            if q:
                return q
    if source:
        stem = PurePath(source.rsplit("!", 1)[-1]).stem
        m = _FILENAME_QID_RE.match(stem)
        if m:
            return f"Q{int(m.group(1))}"
        parent = PurePath(source.rsplit("!", 1)[-1]).parent.name
        m = _FILENAME_QID_RE.match(parent)
        if m:
            return f"Q{int(m.group(1))}"
    for line in lines[:5]:
        m = _LOOSE_QID_RE.search(line)
        if m:
            return f"Q{int(m.group(1))}"
    return None


def parse_generic(text: str, *, source: str = "") -> Draft:
    lines = to_lines(text)
    qid = find_id(lines, source)
    if qid is None:
        raise ParseError("no article id found (no 'ID: Q...' line, no Q-number file name or title)")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines):
        raise ParseError("empty file")
    title = lines[start].strip().lstrip("#").strip()
    for line in lines[start:start + 10]:
        # a TXT article that lost its DOCUMENT: line still has its TITLE field
        m = _TITLE_FIELD_RE.match(line)
        if m and m.group(1).strip():
            title = m.group(1).strip()
            break
    title = re.sub(rf"^{qid}\s*[:\-]\s*", "", title)
    if ID_LINE_RE.match(lines[start]):
        title = ""
    body = read_caps_body(lines[start + 1:], known_only=False)
    if not title:
        title = next((s for s, _ in body.sections), qid)
    long_lines = sum(1 for ln in lines if len(ln) > 100)
    return Draft(
        id=qid,
        title=title[:300],
        format="generic",
        source=source,
        product=body.banner.products[0] if body.banner.products else "",
        versions=body.banner.versions or parse_prodver(body.footer.get("version", "")),
        keywords=[*split_keywords(body.footer.get("keywords", "")), *body.query_words],
        sections=body.sections,
        # sources with long lines are one paragraph per line; the rest are hard-wrapped
        wrapped=long_lines * 10 < len(lines),
    )
