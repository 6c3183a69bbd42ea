"""From a format reader's draft (metadata + raw section lines) to the finished `Article`.

Every format reader stops at the draft, so unwrapping, procedures, error signatures and references are
computed by one code path whatever the source shape: the same article as TXT and as Markdown comes out the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from kbbot.article import Article, Procedure, Step
from kbbot.parse.procedures import extract_procedures
from kbbot.parse.signatures import extract_references, extract_signatures
from kbbot.parse.text import (
    Block,
    blocks_to_text,
    demote_reference_items,
    normalise_escapes,
    strip_inline_markup,
    to_blocks,
)


@dataclass(slots=True)
class Draft:
    id: str
    title: str
    format: str
    source: str = ""
    product: str = ""
    product_tag: str = ""
    versions: tuple[str, ...] = ()
    keywords: list[str] = field(default_factory=list)
    # (canonical heading, the section's lines as in the source, without the heading)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    wrapped: bool = True  # the source hard-wraps paragraphs (TXT, Markdown) rather than one line each
    # structured sources (modern Markdown, HTML) hand over their blocks already built instead of lines
    blocks: list[tuple[str, list[Block]]] | None = None
    url: str | None = None
    aliases: tuple[str, ...] = ()
    # section name -> its heading as written, for sections named after their own heading (Article.headings)
    headings: dict[str, str] = field(default_factory=dict)
    # the newer error forms (SMTP status codes, AADSTS..., HTTP status lines) are read in modern sources only,
    # so the 1999 archive's signatures stay exactly as they were
    modern: bool = False


def _dedent(lines: list[str]) -> list[str]:
    """Remove the indentation every non-blank line shares (web copies indent whole sections)."""
    widths = [len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()]
    cut = min(widths) if widths else 0
    return [ln[cut:] if ln.strip() else "" for ln in lines]


def build_article(draft: Draft) -> Article:
    section_blocks: list[tuple[str, list[Block]]] = []
    texts: dict[str, str] = {}
    for name, blocks in draft.blocks if draft.blocks is not None else _line_blocks(draft):
        if not blocks:
            continue
        section_blocks.append((name, blocks))
        text = blocks_to_text(blocks)
        texts[name] = f"{texts[name]}\n\n{text}" if name in texts else text
    procedures = extract_procedures(section_blocks, wrapped=draft.wrapped, own_id=draft.id,
                                    modern=draft.modern, title=draft.title, headings=draft.headings)
    if draft.modern:
        # a label is a name, shown on a button: no markup, and no link cut in half by the label's length limit
        procedures = tuple(replace(p, label=strip_inline_markup(p.label)) for p in procedures)
        procedures = _merge_troubleshooters(procedures, section_blocks)
    full = "\n\n".join([draft.title, *texts.values()])
    if draft.blocks is not None:
        # codes come from what the reader sees as the problem, not from commands, callouts or screenshots
        sig_text = "\n\n".join(
            [draft.title, *(b.text for _, blocks in section_blocks for b in blocks if b.role not in _QUIET)]
        )
    else:
        sig_text = full
    signatures = extract_signatures(section_blocks, sig_text, wrapped=draft.wrapped, modern=draft.modern)
    if draft.modern:
        # a pasted error never carries the article's bold or code marks
        signatures = tuple(
            dict.fromkeys(replace(sig, value=strip_inline_markup(sig.value)) for sig in signatures)
        )
    keywords: list[str] = []
    for k in draft.keywords:
        if k and k not in keywords:
            keywords.append(k)
    return Article(
        id=draft.id,
        title=normalise_escapes(draft.title).strip(),
        product=draft.product.strip(),
        product_tag=draft.product_tag.strip(),
        versions=tuple(draft.versions),
        keywords=tuple(keywords),
        sections=texts,
        procedures=procedures,
        error_signatures=signatures,
        references=extract_references(full, draft.id),
        source=draft.source,
        format=draft.format,
        url=draft.url,
        aliases=draft.aliases,
        headings={name: heading for name, heading in draft.headings.items() if name in texts},
    )


_QUIET = frozenset({"code", "note", "image"})
_IF_ANSWER_RE = re.compile(r"^\**(?:if\s+(?:yes|no|so|not)\b|yes\s*[:,-]|no\s*[:,-])", re.IGNORECASE)
# an interactive troubleshooter asks this many "If yes / If no" questions in one section
_TROUBLESHOOTER_ANSWERS = 4


def _merge_troubleshooters(
    procedures: tuple[Procedure, ...], sections: list[tuple[str, list[Block]]]
) -> tuple[Procedure, ...]:
    """A troubleshooter ("Check X. - If yes, see Y. - If no, see Z.") gives one procedure per check; walked one
    after another they are one procedure whose steps are the checks, each check's own steps its sub-steps."""
    names: dict[str, str] = {}
    for name, blocks in sections:
        answers = sum(1 for b in blocks if b.kind == "item" and _IF_ANSWER_RE.match(b.text))
        if answers >= _TROUBLESHOOTER_ANSWERS:
            first = blocks[0]
            names[name] = first.text if first.kind == "heading" and first.indent == 0 else name.capitalize()
    if not names:
        return procedures
    out: list[Procedure] = []
    merged: dict[str, int] = {}
    for p in procedures:
        if p.section not in names:
            out.append(p)
            continue
        check = Step(text=p.label, substeps=tuple(s.text.split("\n")[0] for s in p.steps),
                     references=tuple(r for s in p.steps for r in s.references))
        if p.section in merged:
            k = merged[p.section]
            out[k] = replace(out[k], steps=(*out[k].steps, check))
        else:
            merged[p.section] = len(out)
            out.append(Procedure(label=names[p.section], section=p.section, steps=(check,)))
    return tuple(out)


def _line_blocks(draft: Draft) -> list[tuple[str, list[Block]]]:
    out: list[tuple[str, list[Block]]] = []
    for name, lines in draft.sections:
        blocks = to_blocks(_dedent([normalise_escapes(ln) for ln in lines]), wrapped=draft.wrapped)
        if not draft.wrapped:
            blocks = demote_reference_items(blocks)
        out.append((name, blocks))
    return out
