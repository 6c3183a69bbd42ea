"""Plain-text rendering of one article for `kbbot show` in a terminal, and the inline markup article text carries.

Article text arrives as plain text with at most this inline subset (the parsers' contract): `**bold**`,
`*italic*`, `` `code` ``, `[text](https://url)`, fenced ``` code blocks, and lines starting `Note:`,
`Important:` or `Warning:`. `INLINE` finds the inline marks and `FENCE` the code blocks: the one definition the
Slack renderer (kbbot.slack.blocks, to mrkdwn) and `plain_text` (terminals, headers, fallbacks) both read.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from kbbot.article import SECTION_ORDER, Article

# One alternative per mark; the group name says which. Emphasis must hug its text ("2 * 3 * 4" is no italic).
INLINE = re.compile(
    r"(?P<code>(?<!`)`(?P<code_text>[^`\n]+)`(?!`))"
    # an address may hold one level of parentheses ("https://wiki.example.org/Manual:S_client(1)"), as
    # Markdown reads it; the reader percent-encodes any other
    r"|(?P<link>\[(?P<link_text>(?:[^\[\]\n]|\[[^\[\]\n]*\])+)\]"
    r"\((?P<link_url>https?://(?:[^()\s]|\([^()\s]*\))+)\))"
    r"|(?P<bold_italic>\*\*\*(?=\S)(?P<bold_italic_text>[^\n]+?)(?<=\S)\*\*\*)"
    r"|(?P<bold>\*\*(?=\S)(?P<bold_text>[^\n]+?)(?<=\S)\*\*)"
    r"|(?P<italic>(?<![\w*])\*(?=[^\s*])(?P<italic_text>[^*\n]+?)(?<=\S)\*(?![\w*]))"
)
FENCE = re.compile(r"^```[^\n]*\n(?P<body>.*?)(?:\n)?^```[ \t]*$", re.MULTILINE | re.DOTALL)
# A callout line: drawn with its label emphasised.
CALLOUT = re.compile(r"^(Note|Important|Warning|Tip|Caution):", re.MULTILINE)


def convert_inline(
    text: str, *, plain: Callable[[str], str], mark: Callable[[re.Match[str]], str]
) -> str:
    """`text` with each inline mark replaced by `mark(match)` and the text between by `plain(piece)`."""
    out: list[str] = []
    at = 0
    for m in INLINE.finditer(text):
        out.append(plain(text[at : m.start()]))
        out.append(mark(m))
        at = m.end()
    out.append(plain(text[at:]))
    return "".join(out)


def _plain_mark(m: re.Match[str]) -> str:
    if m.group("link"):
        label, url = plain_text(m.group("link_text")), m.group("link_url")
        return label if label == url else f"{label} ({url})"
    inner = m.group("bold_italic_text") or m.group("bold_text") or m.group("italic_text")
    return m.group("code_text") or plain_text(inner or "")


def drop_stray_marks(piece: str) -> str:
    """Prose between marks: a `**` left over there pairs with nothing (a source's typo, "click ****OK"), and
    shown it reads as markup, so it goes."""
    return piece.replace("**", "")


def plain_text(text: str) -> str:
    """Article text with its inline marks dropped (links as `text (url)`), code blocks as their lines."""
    text = FENCE.sub(lambda m: m.group("body"), text)
    return convert_inline(text, plain=drop_stray_marks, mark=_plain_mark)

_WIDTH = 100
_ITEM_RE = re.compile(r"^\s*(?:\d{1,2}\.|[a-z]\.|-)\s+")


def _wrap(text: str, indent: str = "  ", width: int = _WIDTH) -> list[str]:
    out: list[str] = []
    for para in text.split("\n\n"):
        lines = para.split("\n")
        # a paragraph that kept several lines is literal (a message, code): show it as it is
        if len(lines) > 1:
            out.extend(indent + "  " + ln for ln in lines)
        else:
            # list items hang their wrapped lines under the item's text
            m = _ITEM_RE.match(para)
            hang = indent + " " * (len(m.group(0)) if m else 0)
            out.extend(textwrap.wrap(para, width=width, initial_indent=indent, subsequent_indent=hang) or [""])
        out.append("")
    return out[:-1] if out else out


def _ordered_sections(article: Article) -> list[str]:
    known = [s for s in SECTION_ORDER if s in article.sections]
    return known + [s for s in article.sections if s not in known]


def render_article_text(article: Article) -> str:
    """Title, product and versions, the sections, the procedures as numbered steps, error codes, references."""
    lines = [f"{article.id}  {article.title}"]
    meta = []
    if article.product:
        meta.append(article.product + (f" [{article.product_tag}]" if article.product_tag else ""))
    if article.versions:
        meta.append("versions " + ", ".join(article.versions))
    if meta:
        lines.append("  " + " — ".join(meta))
    url = getattr(article, "url", None)
    if url:
        lines.append("  " + url)
    lines.append("=" * min(_WIDTH, max(20, len(lines[0]))))
    for name in _ordered_sections(article):
        lines.append("")
        lines.append(name)
        lines.extend(_wrap(plain_text(article.sections[name])))
    for proc in article.procedures:
        lines.append("")
        lines.append(f"PROCEDURE: {proc.label}  ({proc.section.lower()}, {len(proc.steps)} steps)")
        for n, step in enumerate(proc.steps, start=1):
            first, *rest = plain_text(step.text).split("\n")
            head = f"  {n:>2}. "
            wrapped = textwrap.wrap(first, width=_WIDTH, initial_indent=head, subsequent_indent=" " * len(head))
            lines.extend(wrapped or [head])
            lines.extend(" " * len(head) + ln for ln in rest)
            for k, sub in enumerate(step.substeps):
                mark = f"{chr(ord('a') + k)}. " if k < 26 else "- "
                # a sub-step's own lines (its command, a list under it) stay lines, as a step's do
                sub_first, *sub_rest = plain_text(sub).split("\n")
                lines.extend(textwrap.wrap(sub_first, width=_WIDTH, initial_indent=" " * len(head) + mark,
                                           subsequent_indent=" " * (len(head) + len(mark))))
                lines.extend(" " * (len(head) + len(mark)) + ln for ln in sub_rest)
            if step.references:
                lines.append(" " * len(head) + "see " + ", ".join(step.references))
    if article.error_signatures:
        lines.append("")
        lines.append("ERROR CODES")
        for sig in article.error_signatures:
            lines.append(f"  {sig.kind:<9} {sig.value}")
    if article.references:
        lines.append("")
        lines.append("REFERENCES  " + ", ".join(article.references))
    return "\n".join(lines)
