"""The one line scanner behind every plain-text body (TXT, the 1999 Markdown pages, web copies, the generic
reader): it walks the lines once, splitting them into sections and taking out the "applies to" banner, the
footer fields, "Additional query words" and the disclaimer.

The shapes differ only in which lines are headings, banners or noise and in what order those questions are
asked, so each reader passes its own ordered `rules`; a line no rule takes is text of the current section.
`kbbot.parse.txt.TXT_RULES` and `kbbot.parse.generic.caps_rules` are the two rule sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kbbot.parse.boilerplate import (
    ADDITIONAL_QUERY_RE,
    APPLIES_TO_RE,
    FOOTER_FIELD_RE,
    Banner,
    is_disclaimer,
    is_rule,
    parse_banner_items,
    split_keywords,
)
from kbbot.parse.sections import canonical_section, is_underlined_heading


@dataclass(slots=True)
class Body:
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    banner: Banner = field(default_factory=lambda: Banner(products=(), versions=()))
    query_words: list[str] = field(default_factory=list)
    footer: dict[str, str] = field(default_factory=dict)


class LineScan:
    """Where the scan is: the section being filled, the banner lines so far, whether the footer has begun."""

    __slots__ = ("banner_items", "body", "current", "in_footer", "lines", "name")

    def __init__(self, *, lines: list[str]) -> None:
        self.lines = lines
        self.body = Body()
        self.name = ""  # the current section's heading ("" before the first: SUMMARY)
        self.current: list[str] = []
        self.banner_items: list[str] = []
        self.in_footer = False

    def start_section(self, heading: str) -> None:
        self.close_section()
        self.name = canonical_section(heading)

    def close_section(self) -> None:
        if any(ln.strip() for ln in self.current):
            self.body.sections.append((self.name or "SUMMARY", list(self.current)))
        self.current.clear()

    def has_text(self) -> bool:
        """Some section text was read (a section closed, or the current one has a non-blank line)."""
        return bool(self.body.sections) or any(ln.strip() for ln in self.current)

    def record_footer_field(self, line: str) -> None:
        fm = FOOTER_FIELD_RE.match(line)
        if fm:
            self.body.footer.setdefault(fm.group(1).lower(), fm.group(2).strip())


# A rule looks at line i; when it takes the line it returns the index of the next line to read (len(lines)
# ends the scan), else None and the next rule is asked.
Rule = Callable[[LineScan, int], "int | None"]


def scan_body(lines: list[str], rules: Sequence[Rule]) -> Body:
    """Sections of a body, minus what the rules take out; each line goes to the first rule that takes it."""
    scan = LineScan(lines=lines)
    i = 0
    n = len(lines)
    while i < n:
        for rule in rules:
            nxt = rule(scan, i)
            if nxt is not None:
                i = nxt
                break
        else:
            scan.current.append(lines[i])
            i += 1
    scan.close_section()
    scan.body.banner = parse_banner_items(scan.banner_items)
    return scan.body


# ------------------------------------------------------------------------------------------- shared rules
def query_words(scan: LineScan, i: int) -> int | None:
    """"Additional query words: ..." are search keywords, and the footer starts there."""
    m = ADDITIONAL_QUERY_RE.match(scan.lines[i])
    if m is None:
        return None
    scan.body.query_words = split_keywords(m.group(1))
    scan.in_footer = True
    return i + 1


def footer_lines(*, run_while: Callable[[str], bool]) -> Rule:
    """Inside the footer every line is dropped; its fields (Keywords, Version ...) are kept as metadata. The
    rule takes line i (the rules before it declined it) and the lines after it that `run_while` accepts: the
    lines no earlier rule of the shape could take, so a long footer is one call."""

    def rule(scan: LineScan, i: int) -> int | None:
        if not scan.in_footer:
            return None
        lines = scan.lines
        scan.record_footer_field(lines[i])
        i += 1
        while i < len(lines) and run_while(lines[i]):
            scan.record_footer_field(lines[i])
            i += 1
        return i

    return rule


def footer_opener(opens: Callable[[LineScan, str], bool]) -> Rule:
    """A Keywords/Technology field line that `opens` accepts starts the footer (and is its first field)."""

    def rule(scan: LineScan, i: int) -> int | None:
        line = scan.lines[i]
        fm = FOOTER_FIELD_RE.match(line)
        if fm is None or fm.group(1).lower() not in ("keywords", "technology") or not opens(scan, line):
            return None
        scan.in_footer = True
        scan.record_footer_field(line)
        return i + 1

    return rule


def underlined_heading(scan: LineScan, i: int) -> int | None:
    """SYMPTOMS over ======== opens a section; the underline is consumed with it."""
    if not is_underlined_heading(scan.lines, i):
        return None
    scan.start_section(scan.lines[i])
    return i + 2


@dataclass(frozen=True, slots=True)
class BannerShape:
    """How an "applies to" banner ends in a shape (it always ends at a rule or an underlined heading)."""

    ends_at: Callable[[str], bool]  # another line that ends it (a heading of the shape)
    blank_ends: bool  # a blank line once banner items were read ends it (else blank lines are skipped)
    closing_rule: bool  # the rule that ends it belongs to the banner's frame and is consumed


def applies_to(shape: BannerShape) -> Rule:
    """"The information in this article applies to:" and the product lines under it become the banner."""

    def rule(scan: LineScan, i: int) -> int | None:
        lines = scan.lines
        if not APPLIES_TO_RE.match(lines[i]):
            return None
        i += 1
        while i < len(lines):
            line = lines[i]
            if is_rule(line) or is_underlined_heading(lines, i) or shape.ends_at(line):
                break
            if line.strip():
                scan.banner_items.append(line)
            elif shape.blank_ends and scan.banner_items:
                break
            i += 1
        if shape.closing_rule and i < len(lines) and is_rule(lines[i]):
            i += 1
        return i

    return rule


def stop_at_disclaimer(scan: LineScan, i: int) -> int | None:
    """The warranty disclaimer ends the article: nothing after it is content."""
    return len(scan.lines) if is_disclaimer(scan.lines[i]) else None
