"""The classic TXT shape (`DOCUMENT:Q102087  10-NOV-1999  [macmail]` header, `=`-underlined headings).

The body reader `read_body` (the TXT rules of `kbbot.parse.body`) and `body_draft` are shared with the Markdown
pages, whose tab-indented body is the same text under a header of other field names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kbbot.article import normalise_qid
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.body import (
    BannerShape,
    Body,
    LineScan,
    Rule,
    applies_to,
    footer_lines,
    footer_opener,
    query_words,
    scan_body,
    stop_at_disclaimer,
    underlined_heading,
)
from kbbot.parse.boilerplate import (
    ADDITIONAL_QUERY_RE,
    APPLIES_TO_RE,
    FOOTER_FIELD_RE,
    is_disclaimer,
    is_rule,
    parse_prodver,
    split_keywords,
)
from kbbot.parse.text import to_lines

DOCUMENT_RE = re.compile(r"^\s*DOCUMENT\s*:\s*(Q?\d{1,7})\b(.*)$", re.IGNORECASE)
_TAG_RE = re.compile(r"\[([^\]]+)\]")
_HEADER_FIELD_RE = re.compile(r"^(TITLE|PRODUCT|PROD/VER|OPER/SYS|KEYWORDS)\s*:(.*)$")


# first characters of every margin line that can be a banner, footer, disclaimer or rule
_SPECIAL_STARTS = frozenset("TtCcAaKkVvPpIiSsHhOoLl©(=-")
# "Keywords          : exc4": the footer's fields are aligned; a prose line starting "Keywords:" is not one
_ALIGNED_FIELD_RE = re.compile(r"^\s*\w[\w ]*\s{2,}:")


def _opens_nothing(line: str) -> bool:
    """A margin line that is no rule and starts no banner, footer or disclaimer."""
    return line[0] not in "=-" and not (
        is_disclaimer(line) or APPLIES_TO_RE.match(line) or ADDITIONAL_QUERY_RE.match(line)
        or FOOTER_FIELD_RE.match(line)
    )


def _plain_text(scan: LineScan, i: int) -> int | None:
    """A run of lines no other rule can take is section text: blank lines, indented ones (headings, banners
    and footers start at the margin), and any line not underlined with '=' that is indented or opens nothing.
    Asked first, and it takes the whole run at once: the scan then costs a few rule calls per article instead
    of a chain of them per line (this runs for every line of 57k articles)."""
    if scan.in_footer:
        return None
    lines = scan.lines
    n = len(lines)
    j = i
    while j < n:
        line = lines[j]
        if not (
            not line
            or (line[0] == " " and line.lstrip()[:1] not in "=-")
            or ((j + 1 >= n or lines[j + 1][:1] != "=")
                and (line[0] not in _SPECIAL_STARTS or _opens_nothing(line)))
        ):
            break
        j += 1
    if j == i:
        return None
    scan.current.extend(lines[i:j])
    return j


def _full_width_rule(scan: LineScan, i: int) -> int | None:
    """Full-width rules frame the banner and are dropped; a '=' rule once the text has begun opens the footer
    (a dashed line right under text is a sub-heading's underline and stays in the section)."""
    lines = scan.lines
    line = lines[i]
    after_break = i == 0 or not lines[i - 1].strip() or is_rule(lines[i - 1])
    if not (is_rule(line) and len(line.strip()) >= 40 and after_break):
        return None
    if set(line.strip()) == {"="} and scan.has_text():
        scan.in_footer = True
    return i + 1


# the banner sits between full-width rules, and its closing rule goes with it
_TXT_BANNER = BannerShape(ends_at=lambda line: False, blank_ends=False, closing_rule=True)

TXT_RULES: tuple[Rule, ...] = (
    _plain_text,
    stop_at_disclaimer,
    footer_lines(run_while=lambda line: not is_disclaimer(line)),
    query_words,
    applies_to(_TXT_BANNER),
    _full_width_rule,
    footer_opener(lambda scan, line: bool(_ALIGNED_FIELD_RE.match(line))),
    underlined_heading,
)


def read_body(lines: list[str]) -> Body:
    """Sections of a TXT-style body (headings underlined with '='), minus banner, footer and disclaimer."""
    return scan_body(lines, TXT_RULES)


@dataclass(frozen=True, slots=True)
class Header:
    """What a TXT-style header says (TXT and Markdown headers differ only in the field names)."""

    id: str
    title: str
    keywords: str = ""
    product: str = ""
    prodver: str = ""  # "WINDOWS:3.1,3.1a" or plain versions
    product_tag: str = ""  # the corpus tag of the DOCUMENT: line ("[macmail]")


def body_draft(header: Header, body: Body, *, format: str, source: str) -> Draft:
    """The article of a header and a TXT-style body: keywords, product and versions from the header fields,
    falling back to the footer and the "applies to" banner where the header left them empty."""
    keywords = split_keywords(header.keywords) or split_keywords(body.footer.get("keywords", ""))
    return Draft(
        id=header.id,
        title=header.title,
        format=format,
        source=source,
        product=header.product or (body.banner.products[0] if body.banner.products else ""),
        product_tag=header.product_tag,
        versions=parse_prodver(header.prodver) or body.banner.versions,
        keywords=[*keywords, *body.query_words],
        sections=body.sections,
        wrapped=True,
    )


def parse_txt(text: str, *, source: str = "") -> Draft:
    lines = to_lines(text)
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    m = DOCUMENT_RE.match(lines[start]) if start < len(lines) else None
    if m is None:
        raise ParseError("not a TXT article: no DOCUMENT: header")
    qid = normalise_qid(m.group(1))
    if qid is None:
        raise ParseError(f"not a TXT article: bad article number {m.group(1)!r}")
    tag_m = _TAG_RE.search(m.group(2))
    fields: dict[str, str] = {}
    i = start + 1
    last = ""
    while i < len(lines):
        line = lines[i]
        fm = _HEADER_FIELD_RE.match(line)
        if fm:
            last = fm.group(1)
            fields[last] = fm.group(2).strip()
        elif line.startswith(" " * 9) and last == "TITLE" and line.strip():
            fields["TITLE"] += " " + line.strip()  # a long title wrapped onto the next line
        elif not line.strip() or is_rule(line):
            if fields:
                break
        else:
            break
        i += 1
    title = fields.get("TITLE", "").strip()
    if not title:
        raise ParseError(f"{qid}: truncated header, no TITLE")
    header = Header(id=qid, title=title, keywords=fields.get("KEYWORDS", ""), product=fields.get("PRODUCT", ""),
                    prodver=fields.get("PROD/VER", ""), product_tag=tag_m.group(1).strip() if tag_m else "")
    return body_draft(header, read_body(lines[i:]), format="txt", source=source)
