"""The classic TXT shape (`DOCUMENT:Q102087  10-NOV-1999  [macmail]` header, `=`-underlined headings).

The body reader `read_body` is shared with the Markdown pages, whose tab-indented body is the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kbbot.article import normalise_qid
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.boilerplate import (
    ADDITIONAL_QUERY_RE,
    APPLIES_TO_RE,
    FOOTER_FIELD_RE,
    Banner,
    is_disclaimer,
    is_rule,
    parse_banner_items,
    parse_prodver,
    split_keywords,
)
from kbbot.parse.sections import canonical_section, is_underlined_heading
from kbbot.parse.text import to_lines

DOCUMENT_RE = re.compile(r"^\s*DOCUMENT\s*:\s*(Q?\d{1,7})\b(.*)$", re.IGNORECASE)
_TAG_RE = re.compile(r"\[([^\]]+)\]")
_HEADER_FIELD_RE = re.compile(r"^(TITLE|PRODUCT|PROD/VER|OPER/SYS|KEYWORDS)\s*:(.*)$")


# first characters of every margin line that can be a banner, footer, disclaimer or rule
_SPECIAL_STARTS = frozenset("TtCcAaKkVvPpIiSsHhOoLl©(=-")


@dataclass(slots=True)
class Body:
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    banner: Banner = field(default_factory=lambda: Banner(products=(), versions=()))
    query_words: list[str] = field(default_factory=list)
    footer: dict[str, str] = field(default_factory=dict)


def read_body(lines: list[str]) -> Body:
    """Sections of a TXT-style body (headings underlined with '='), minus banner, footer and disclaimer."""
    body = Body()
    name = ""
    current: list[str] = []
    banner_items: list[str] = []
    i = 0
    n = len(lines)
    in_footer = False

    def flush() -> None:
        if any(ln.strip() for ln in current):
            body.sections.append((name or "SUMMARY", list(current)))
        current.clear()

    while i < n:
        line = lines[i]
        # fast path: blank and indented text lines are body text (headings, banners and footers start
        # at the margin); this loop runs for every line of 57k articles
        if not in_footer and (
            not line
            or (line[0] == " " and line.lstrip()[:1] not in "=-")
            or (line[0] not in _SPECIAL_STARTS and (i + 1 >= n or lines[i + 1][:1] != "="))
        ):
            current.append(line)
            i += 1
            continue
        if is_disclaimer(line):
            break
        if in_footer:
            fm = FOOTER_FIELD_RE.match(line)
            if fm:
                body.footer.setdefault(fm.group(1).lower(), fm.group(2).strip())
            i += 1
            continue
        m = ADDITIONAL_QUERY_RE.match(line)
        if m:
            body.query_words = split_keywords(m.group(1))
            in_footer = True
            i += 1
            continue
        if APPLIES_TO_RE.match(line):
            i += 1
            while i < n and not is_rule(lines[i]) and not is_underlined_heading(lines, i):
                if lines[i].strip():
                    banner_items.append(lines[i])
                i += 1
            if i < n and is_rule(lines[i]):
                i += 1
            continue
        after_break = i == 0 or not lines[i - 1].strip() or is_rule(lines[i - 1])
        if is_rule(line) and len(line.strip()) >= 40 and after_break:
            # full-width rules frame the banner; a '=' rule once the text has begun opens the footer
            # (a dashed line right under text is a sub-heading's underline and stays in the section)
            if set(line.strip()) == {"="} and (body.sections or any(c.strip() for c in current)):
                in_footer = True
            i += 1
            continue
        fm = FOOTER_FIELD_RE.match(line)
        if fm and fm.group(1).lower() in ("keywords", "technology") and re.match(r"^\s*\w[\w ]*\s{2,}:", line):
            in_footer = True
            continue
        if is_underlined_heading(lines, i):
            flush()
            name = canonical_section(line)
            i += 2
            continue
        current.append(line)
        i += 1
    flush()
    body.banner = parse_banner_items(banner_items)
    return body


def header_facts(
    body: Body, *, keywords: str, product: str, prodver: str
) -> tuple[list[str], str, tuple[str, ...]]:
    """Keywords, product and versions from the header fields, falling back to the footer and the "applies to"
    banner where the header left them empty (TXT and Markdown headers differ only in the field names)."""
    return (
        split_keywords(keywords) or split_keywords(body.footer.get("keywords", "")),
        product or (body.banner.products[0] if body.banner.products else ""),
        parse_prodver(prodver) or body.banner.versions,
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
    body = read_body(lines[i:])
    keywords, product, versions = header_facts(
        body, keywords=fields.get("KEYWORDS", ""), product=fields.get("PRODUCT", ""),
        prodver=fields.get("PROD/VER", ""),
    )
    return Draft(
        id=qid,
        title=title,
        format="txt",
        source=source,
        product=product,
        product_tag=tag_m.group(1).strip() if tag_m else "",
        versions=versions,
        keywords=[*keywords, *body.query_words],
        sections=body.sections,
        wrapped=True,
    )
