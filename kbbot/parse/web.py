"""Articles copied from the support web site (seeds 003 and 004): title on the first line, `ID: Q237695` or
`Article ID: Q157684` a few lines later, bare ALL-CAPS headings, one paragraph per line, `•` bullets, and the
footer fields (Keywords / Version / Platform) after "Additional query words"."""

from __future__ import annotations

from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.boilerplate import parse_prodver, split_keywords
from kbbot.parse.generic import ID_LINE_RE, find_id, read_caps_body
from kbbot.parse.text import to_lines


def parse_web(text: str, *, source: str = "") -> Draft:
    lines = to_lines(text)
    qid = find_id(lines, source)
    if qid is None:
        raise ParseError("web copy without an article id")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    title = lines[start].strip() if start < len(lines) and not ID_LINE_RE.match(lines[start]) else ""
    if not title:
        raise ParseError(f"{qid}: web copy without a title line")
    body = read_caps_body(lines[start + 1:], known_only=True)
    long_lines = sum(1 for ln in lines if len(ln) > 100)
    return Draft(
        id=qid,
        title=title,
        format="web",
        source=source,
        product=body.banner.products[0] if body.banner.products else "",
        versions=body.banner.versions or parse_prodver(body.footer.get("version", "")),
        keywords=[*split_keywords(body.footer.get("keywords", "")), *body.query_words],
        sections=body.sections,
        # the pages were copied from a browser: paragraphs are single lines unless the copy kept 80 columns
        wrapped=long_lines == 0 and len(lines) > 40,
    )
