"""The fallback reader for shapes nobody described: first line is the title, ALL-CAPS (or '='-underlined)
lines are section headings. It never crashes on text; it raises ParseError only when no article number can
be found at all. `read_caps_body` is shared with the web-copied shapes."""

from __future__ import annotations

import re
from pathlib import PurePath

from kbbot.article import normalise_qid
from kbbot.errors import ParseError
from kbbot.parse import body as scanner
from kbbot.parse.assemble import Draft
from kbbot.parse.boilerplate import is_copyright, is_disclaimer, is_rule, parse_prodver, split_keywords
from kbbot.parse.sections import is_caps_heading
from kbbot.parse.text import to_lines

ID_LINE_RE = re.compile(r"^\s*(?:Article\s+ID|KB\s+Article\s+ID|ID|Article|Document)\s*(?:#|No\.?)?\s*:\s*"
                        r"((?:Q|KB)?\d{1,7})\s*$", re.IGNORECASE)
_FILENAME_QID_RE = re.compile(r"^(?:Q|KB)(\d{1,7})$", re.IGNORECASE)
_LOOSE_QID_RE = re.compile(r"\b(?:Q|KB)(\d{4,7})\b")
_TITLE_FIELD_RE = re.compile(r"^\s*TITLE\s*:(.*)$", re.IGNORECASE)
_TXT_FIELD_RE = re.compile(r"^(?:TITLE|PRODUCT|PROD/VER|OPER/SYS|KEYWORDS)\s*:")
_BARE_QID_RE = re.compile(r"^\s*(?:Q|KB)\d{4,7}\s*$")
_LAST_REVIEWED_RE = re.compile(r"^\s*Last\s+(?:reviewed|modified|updated)\s*:", re.IGNORECASE)


def _disclaimer(scan: scanner.LineScan, i: int) -> int | None:
    """The disclaimer ends the article once text or the footer was read; a copy that opens with it (the site
    put it above the article) just drops it."""
    if not is_disclaimer(scan.lines[i]):
        return None
    return len(scan.lines) if scan.in_footer or scan.body.sections else i + 1


def _noise(scan: scanner.LineScan, i: int) -> int | None:
    """Review dates, id lines, copyright lines, and before the first section a bare Q-number or a TXT header
    field left over from a converted TXT article: dropped where they stand."""
    line = scan.lines[i]
    if (
        _LAST_REVIEWED_RE.match(line)
        or ID_LINE_RE.match(line)
        or is_copyright(line)
        or (not scan.body.sections and (_BARE_QID_RE.match(line) or _TXT_FIELD_RE.match(line)))
    ):
        return i + 1
    return None


def _caps_heading(*, known_only: bool) -> scanner.Rule:
    def rule(scan: scanner.LineScan, i: int) -> int | None:
        line = scan.lines[i]
        prev_blank = i == 0 or not scan.lines[i - 1].strip()
        if prev_blank and is_caps_heading(line, known_only=known_only) and line[:1] != " ":
            scan.start_section(line)
            return i + 1
        return None

    return rule


def _full_width_rule(scan: scanner.LineScan, i: int) -> int | None:
    line = scan.lines[i]
    return i + 1 if is_rule(line) and len(line.strip()) >= 40 else None


# a copied banner has no rules around it: it ends at the next standard heading or after its item lines
_CAPS_BANNER = scanner.BannerShape(ends_at=lambda line: is_caps_heading(line, known_only=True), blank_ends=True,
                           closing_rule=False)


def caps_rules(*, known_only: bool) -> tuple[scanner.Rule, ...]:
    """The rules of the ALL-CAPS shapes; `known_only`: only the standard KB headings are headings (web copies
    have other capitalised lines, such as product names)."""
    return (
        _disclaimer,
        _noise,
        scanner.query_words,
        # one line at a time: the disclaimer, noise and query-word rules see every footer line first
        scanner.footer_lines(run_while=lambda line: False),
        # past the first section a Keywords/Technology field starts the footer
        scanner.footer_opener(lambda scan, line: bool(scan.body.sections)),
        scanner.applies_to(_CAPS_BANNER),
        scanner.underlined_heading,
        _caps_heading(known_only=known_only),
        _full_width_rule,
    )


_RULES = {known_only: caps_rules(known_only=known_only) for known_only in (False, True)}


def read_caps_body(lines: list[str], *, known_only: bool) -> scanner.Body:
    """Sections headed by bare ALL-CAPS lines (or '='-underlined ones), minus banner/footer/disclaimer."""
    return scanner.scan_body(lines, _RULES[known_only])


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
