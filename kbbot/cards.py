"""Block Kit messages built from articles: answer cards, shortlists, one step at a time, escalation summaries.

Pure: builds `slack_sdk.models.blocks` objects and returns their `to_dict()` (which validates Slack's per-field
limits), never touches the network. Every builder stays inside Slack's message limits (50 blocks, 3,000
characters per section, 150 per header, 75 per button label, ~12,000 characters of blocks in total): long
articles are condensed, split or truncated, never sent over.

Article text and anything a person typed is escaped before it goes into mrkdwn (`escape_mrkdwn`), so a KB
article or a pasted message can never ping `<!channel>` or break the card's formatting.

Button scheme (every action_id starts with `kb:`):

    kb:walk kb:full kb:not_mine kb:fixed     on answer cards
    kb:next kb:back kb:worked kb:failed       on step cards
    kb:escalate kb:ref                        on step cards and "out of fixes" offers
    kb:pick                                   shortlist entry
    kb:product                                "which product are you running?" choice
    kb:share kb:lookup                        /kb results (value is the bare article id, no thread state)

Thread buttons carry a compact JSON value made by `action_value`: `{"v": <thread state version>,
"a": <article id>, "m": <procedure no>, "s": <step no>, "c": <product choice>}` (only the keys that apply;
procedure and step numbers are 0-based). The engine compares `v` with the thread's current version to spot a
stale or double-pressed button.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from kbbot.article import SECTION_ORDER, Article, Procedure, Step
from kbbot.conversation import messages as msg
from kbbot.search.types import SearchHit

log = logging.getLogger(__name__)

# Slack's limits, with a margin where Slack counts differently from us (it measures the serialised payload).
MAX_BLOCKS = 50
SECTION_CHARS = 3000
HEADER_CHARS = 150
BUTTON_LABEL_CHARS = 75
BUTTON_VALUE_CHARS = 2000
ACTIONS_PER_BLOCK = 25
MAX_BLOCK_CHARS = 12000  # total of json.dumps(blocks); Slack refuses near 13,000 with msg_blocks_too_long
FALLBACK_TEXT_CHARS = 3000  # notifications show a line or two; no need to send more

# Condensed card sections: a few sentences each.
CONDENSED_CHARS = 450
RESOLUTION_CHARS = 700
STEP_TEXT_CHARS = 2500
MAX_STEP_REFERENCES = 5
MAX_FULL_ARTICLE_MESSAGES = 4
MAX_SHORTLIST = 8
MAX_PRODUCT_CHOICES = 5

ACTION_PREFIX = "kb:"


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: the plain-text fallback (notifications, screen readers) and the Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EscalationDetails:
    """What a human needs to pick a thread up; rendered by `escalation_summary`."""

    question: str
    asker: str  # Slack user id
    article_id: str | None = None
    article_title: str = ""
    steps_tried: tuple[str, ...] = ()  # one readable line per step shown, in order
    outcome: str = ""  # readable: "the fix did not work", "asked for a human", ...


# --- escaping and trimming ------------------------------------------------------------------------------------

_ZWSP = "\u200b"
# A formatting character opens bold/italic/strike/code only at the start of a word and before a non-space;
# a zero-width space in front of it stops that without changing what people read or copy (much).
_OPENER = re.compile(r"(^|[\s(\[{\"'])([*_~`])(?=\S)", re.MULTILINE)


def escape_mrkdwn(text: str) -> str:
    """Make arbitrary text safe inside mrkdwn: no mentions, no links, no accidental formatting."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("```", f"`{_ZWSP}`{_ZWSP}`")
    return _OPENER.sub(lambda m: f"{m.group(1)}{_ZWSP}{m.group(2)}", text)


def escape_code(text: str) -> str:
    """Text for inside a ``` block: entities still need escaping, and a fence inside would close the block."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("```", f"`{_ZWSP}`{_ZWSP}`")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a sentence or word boundary, with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[: limit - 1]
    sentence_end = max(head.rfind(". "), head.rfind(".\n"), head.rfind("! "), head.rfind("? "))
    if sentence_end >= limit * 0.5:
        return head[: sentence_end + 1]
    space = head.rfind(" ")
    if space >= limit * 0.5:
        head = head[:space]
    return head.rstrip(" ,;:") + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """Escaped text of at most `limit` characters (escaping lengthens, so clip, escape, and re-check)."""
    budget = limit
    while True:
        out = escape_mrkdwn(clip(text, budget))
        if len(out) <= limit or budget <= 1:
            return out[:limit]
        budget -= max(1, len(out) - limit)


_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[a-z][.)]|[•*-])\s")


def condense(text: str, limit: int = CONDENSED_CHARS, *, stop_at_list: bool = False) -> str:
    """The first paragraphs of a section, up to `limit` characters: what a card shows of it.

    With `stop_at_list`, a numbered list after some introduction that would not fit whole is left out: the
    card's "walk me through" button presents those steps one at a time, so the card keeps to "follow these
    steps:" rather than showing half a list."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out: list[str] = []
    used = 0
    for i, p in enumerate(paragraphs):
        if out and stop_at_list and _LIST_ITEM.match(p):
            rest = sum(len(q) + 2 for q in paragraphs[i:])
            if used + rest > limit:
                break
        if used and used + len(p) + 2 > limit:
            break
        out.append(p)
        used += len(p) + 2
    return clip("\n\n".join(out), limit)


def blocks_size(blocks: Sequence[dict[str, Any]]) -> int:
    """How Slack measures a message's blocks (near enough): the serialised JSON."""
    return len(json.dumps(list(blocks), ensure_ascii=False))


# --- action values ------------------------------------------------------------------------------------------


def action_value(version: int, **fields: str | int | None) -> str:
    """The compact JSON a thread button carries: the state version plus the article / step / choice."""
    data: dict[str, Any] = {"v": version}
    data.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def parse_action_value(value: str | None) -> dict[str, Any]:
    """The fields of an `action_value`; {} for anything unreadable (a forged or foreign button)."""
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _button(label: str, action: str, value: str, *, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=clip(label, BUTTON_LABEL_CHARS),
        action_id=f"{ACTION_PREFIX}{action}",
        value=value[:BUTTON_VALUE_CHARS],
        style=style,
    )


# --- block helpers ------------------------------------------------------------------------------------------


def _header(article: Article) -> HeaderBlock:
    return HeaderBlock(text=clip(f"{article.id}: {article.title}", HEADER_CHARS))


def _context(article: Article) -> ContextBlock | None:
    parts = [p for p in (article.product, ", ".join(article.versions)) if p]
    if not parts:
        return None
    return ContextBlock(elements=[MarkdownTextObject(text=clip_mrkdwn(" · ".join(parts), 300))])


def _section(mrkdwn: str) -> SectionBlock:
    """A section from already-escaped mrkdwn (hard-capped so a bug upstream cannot exceed the limit)."""
    return SectionBlock(text=MarkdownTextObject(text=mrkdwn[:SECTION_CHARS]))


def _labelled(label: str, body: str, limit: int, *, stop_at_list: bool = False) -> SectionBlock:
    text = condense(body, limit, stop_at_list=stop_at_list)
    return _section(f"*{label}*\n{clip_mrkdwn(text, SECTION_CHARS - len(label) - 4)}")


def _chunks(text: str, size: int) -> list[str]:
    """Split escaped text into pieces of at most `size`, preferring paragraph, then line, then word breaks."""
    out: list[str] = []
    rest = text
    while len(rest) > size:
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = rest.rfind(sep, 0, size)
            if cut > size // 3:
                break
        if cut <= size // 3:  # no break in the last two thirds (a registry dump, a hex line): cut hard
            cut = size
            # never split an entity like &amp; in half
            amp = rest.rfind("&", cut - 6, cut)
            if amp > 0 and ";" not in rest[amp:cut]:
                cut = amp
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(rest)
    return out


def _finish(text: str, blocks: Iterable[Block]) -> Message:
    dicts = [b.to_dict() for b in blocks]
    if len(dicts) > MAX_BLOCKS or blocks_size(dicts) > MAX_BLOCK_CHARS:
        # The builders' budgets should make this unreachable; if one is wrong, a shorter card beats a
        # message Slack refuses (msg_blocks_too_long).
        log.warning("card over Slack's limits (%s blocks, %s chars); trimming it", len(dicts), blocks_size(dicts))
        dicts = _trim(dicts)
    return Message(text=clip(text, FALLBACK_TEXT_CHARS), blocks=dicts)


def _trim(dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop sections from the end (keeping the header and the buttons) until the card fits."""
    actions = [d for d in dicts if d.get("type") == "actions"][-2:]
    body = [d for d in dicts if d.get("type") != "actions"]
    note = _section(msg.TRUNCATED_CARD).to_dict()
    while body and (
        len(body) + len(actions) + 1 > MAX_BLOCKS or blocks_size([*body, note, *actions]) > MAX_BLOCK_CHARS
    ):
        body.pop()
    return [*body, note, *actions]


def _fallback(article: Article) -> str:
    return escape_mrkdwn(f"{article.id}: {article.title}")


def _symptom_text(article: Article) -> tuple[str, str]:
    for name, label in (("SYMPTOMS", msg.LABEL_SYMPTOMS), ("SUMMARY", msg.LABEL_SYMPTOMS)):
        if article.section(name):
            return label, article.section(name)
    return msg.LABEL_SYMPTOMS, ""


def _resolution_text(article: Article) -> tuple[str, str]:
    for name, label in (
        ("RESOLUTION", msg.LABEL_RESOLUTION),
        ("WORKAROUND", msg.LABEL_WORKAROUND),
        ("STATUS", msg.LABEL_STATUS),
        ("MORE INFORMATION", msg.LABEL_MORE_INFO),
    ):
        if article.section(name):
            return label, article.section(name)
    return msg.LABEL_RESOLUTION, ""


def _summary_blocks(article: Article, hit: SearchHit | None, intro: str | None) -> list[Block]:
    blocks: list[Block] = [_header(article)]
    ctx = _context(article)
    if ctx:
        blocks.append(ctx)
    if intro:
        blocks.append(_section(intro))
    label, symptoms = _symptom_text(article)
    if symptoms:
        blocks.append(_labelled(label, symptoms, CONDENSED_CHARS))
    if article.section("CAUSE"):
        blocks.append(_labelled(msg.LABEL_CAUSE, article.section("CAUSE"), CONDENSED_CHARS))
    label, resolution = _resolution_text(article)
    if resolution:
        blocks.append(_labelled(label, resolution, RESOLUTION_CHARS, stop_at_list=bool(article.procedures)))
    if hit is not None and hit.matched_error:
        error = escape_code(clip(hit.matched_error, 400))
        blocks.append(_section(f"*{msg.LABEL_MATCHED_ERROR}*\n```{error}```"))
    return blocks


# --- public builders ----------------------------------------------------------------------------------------


def text_message(text: str) -> Message:
    """A plain reply. `text` is trusted mrkdwn (a template from messages.py with escaped fills)."""
    pieces = _chunks(text, SECTION_CHARS)[: MAX_BLOCKS - 1] or ["…"]
    blocks: list[Block] = []
    used = 0
    for piece in pieces:
        used += len(piece) + 60
        if used > MAX_BLOCK_CHARS - 200:
            break
        blocks.append(_section(piece))
    return _finish(text, blocks)


def answer_card(
    article: Article, hit: SearchHit | None, *, version: int, intro: str | None = None, shared: bool = False
) -> Message:
    """The condensed symptom / cause / resolution card with walk / full / not mine / fixed buttons (`shared`: a
    card posted to the channel by /kb, whose buttons work with or without a stored thread state)."""
    blocks = _summary_blocks(article, hit, intro)
    value = action_value(version, a=article.id, s=1 if shared else None)
    buttons = []
    if article.procedures:
        buttons.append(_button(msg.BTN_WALK, "walk", value, style="primary"))
    buttons += [
        _button(msg.BTN_FULL, "full", value),
        _button(msg.BTN_NOT_MINE, "not_mine", value),
        _button(msg.BTN_FIXED, "fixed", value),
    ]
    blocks.append(ActionsBlock(elements=buttons))
    return _finish(_fallback(article), blocks)


def lookup_card(article: Article, hit: SearchHit | None = None) -> Message:
    """An article for `/kb`: the same condensed card, with only a "Share in channel" button."""
    blocks = _summary_blocks(article, hit, None)
    blocks.append(ActionsBlock(elements=[_button(msg.BTN_SHARE, "share", article.id, style="primary")]))
    return _finish(_fallback(article), blocks)


def _hit_line(hit: SearchHit) -> str:
    product = f"\n_{escape_mrkdwn(clip(hit.product, 120))}_" if hit.product else ""
    return f"*{escape_mrkdwn(hit.id)}*: {clip_mrkdwn(hit.title, 400)}{product}"


def shortlist_card(
    hits: Sequence[SearchHit], *, version: int, intro: str | None = None, lookup: bool = False
) -> Message:
    """A few candidates, each with a button: `kb:pick` in a thread, `kb:lookup` (bare id) for `/kb`."""
    blocks: list[Block] = [_section(intro or msg.SHORTLIST_INTRO)]
    for hit in hits[:MAX_SHORTLIST]:
        value = hit.id if lookup else action_value(version, a=hit.id)
        label = msg.BTN_OPEN.format(qid=hit.id)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=_hit_line(hit)),
                accessory=_button(label, "lookup" if lookup else "pick", value),
            )
        )
    fallback = msg.SHORTLIST_INTRO + " " + ", ".join(h.id for h in hits[:MAX_SHORTLIST])
    return _finish(fallback, blocks)


def closest_card(qid: str, closest: Sequence[tuple[str, str]]) -> Message:
    """`/kb Q10287` when there is no such article: the nearest numbers, each a `kb:lookup` button."""
    listing = ", ".join(f"{escape_mrkdwn(cid)} ({clip_mrkdwn(title, 100)})" for cid, title in closest)
    text = (
        msg.NOT_IN_KB_CLOSEST.format(qid=escape_mrkdwn(qid), closest=listing)
        if closest
        else msg.NOT_IN_KB.format(qid=escape_mrkdwn(qid))
    )
    blocks: list[Block] = [_section(clip(text, SECTION_CHARS))]
    if closest:
        blocks.append(
            ActionsBlock(elements=[_button(msg.BTN_OPEN.format(qid=cid), "lookup", cid) for cid, _ in closest[:5]])
        )
    return _finish(text, blocks)


def product_question_card(products: Sequence[str], *, version: int) -> Message:
    """ "Which are you running? A / B / C" with one `kb:product` button per product."""
    buttons = [_button(p, "product", action_value(version, c=p)) for p in products[:MAX_PRODUCT_CHOICES]]
    blocks: list[Block] = [_section(msg.PRODUCT_QUESTION), ActionsBlock(elements=buttons)]
    fallback = msg.PRODUCT_QUESTION + " " + " / ".join(escape_mrkdwn(p) for p in products[:MAX_PRODUCT_CHOICES])
    return _finish(fallback, blocks)


def no_match_card(query: str) -> Message:
    """ "I don't know this one", with a hint on what to try."""
    return _finish(msg.NO_MATCH_FALLBACK, [_section(msg.NO_MATCH)])


def _procedure(article: Article, procedure_no: int) -> Procedure:
    return article.procedures[procedure_no]


def _method_line(article: Article, procedure_no: int) -> str:
    proc = _procedure(article, procedure_no)
    line = escape_mrkdwn(article.id)
    if len(article.procedures) > 1:
        method = msg.METHOD_HEADING.format(
            m=procedure_no + 1, methods=len(article.procedures), label=clip_mrkdwn(proc.label, 150)
        )
        line += " · " + method
    return line


def _step_body(step: Step, limit: int) -> str:
    """Escaped step text with its sub-steps as a lettered list, at most `limit` characters."""
    text = clip_mrkdwn(step.text, min(limit, STEP_TEXT_CHARS))
    subs = []
    for i, sub in enumerate(step.substeps):
        letter = chr(ord("a") + i) if i < 26 else str(i + 1)
        subs.append(f"    {letter}. {escape_mrkdwn(sub)}")
    body = text + ("\n" + "\n".join(subs) if subs else "")
    return body


def step_card(
    article: Article, procedure_no: int, step_no: int, *, version: int, intro: str | None = None
) -> Message:
    """One step of one procedure (both 0-based), its sub-steps with it, referenced articles as buttons."""
    proc = _procedure(article, procedure_no)
    step = proc.steps[step_no]
    total = len(proc.steps)
    blocks: list[Block] = []
    if intro:
        blocks.append(_section(intro))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_method_line(article, procedure_no))]))
    heading = msg.STEP_HEADING.format(n=step_no + 1, total=total)
    # The step and its sub-steps may be long (some corpus steps carry whole registry dumps): split into
    # sections, and stop well before the message limits.
    pieces = _chunks(_step_body(step, 8000), SECTION_CHARS - len(heading) - 2)
    budget = MAX_BLOCK_CHARS - 2500  # room for the buttons and the JSON around the text
    for i, piece in enumerate(pieces):
        if budget - len(piece) < 0 or len(blocks) >= MAX_BLOCKS - 4:
            blocks.append(_section(msg.TRUNCATED_ARTICLE.format(qid=escape_mrkdwn(article.id))))
            break
        blocks.append(_section(f"{heading}\n{piece}" if i == 0 else piece))
        budget -= len(piece) + 80
    refs = [r for r in dict.fromkeys(step.references) if r != article.id][:MAX_STEP_REFERENCES]
    if refs:
        blocks.append(
            ActionsBlock(
                elements=[_button(f"{msg.LABEL_REFERENCE}: {r}", "ref", action_value(version, a=r)) for r in refs]
            )
        )
    value = action_value(version, a=article.id, m=procedure_no, s=step_no)
    buttons = []
    if step_no > 0:
        buttons.append(_button(msg.BTN_BACK, "back", value))
    if step_no + 1 < total:
        buttons.append(_button(msg.BTN_NEXT, "next", value, style="primary"))
    buttons += [
        _button(msg.BTN_WORKED, "worked", value),
        _button(msg.BTN_FAILED, "failed", value),
        _button(msg.BTN_ESCALATE, "escalate", value),
    ]
    blocks.append(ActionsBlock(elements=buttons))
    fallback = msg.STEP_FALLBACK.format(n=step_no + 1, total=total, text=escape_mrkdwn(clip(step.text, 300)))
    return _finish(fallback, blocks)


def all_steps_card(article: Article, procedure_no: int, *, version: int) -> Message:
    """Every step of one procedure in one message, as far as fits; the rest named by number."""
    proc = _procedure(article, procedure_no)
    total = len(proc.steps)
    intro = msg.ALL_STEPS_INTRO.format(total=total, qid=escape_mrkdwn(article.id))
    blocks: list[Block] = [
        _header(article),
        ContextBlock(elements=[MarkdownTextObject(text=_method_line(article, procedure_no))]),
        _section(intro),
    ]
    budget = MAX_BLOCK_CHARS - 2500
    for i, step in enumerate(proc.steps):
        body = _chunks(f"*{i + 1}.* {_step_body(step, 1500)}", SECTION_CHARS)[0]
        if budget - len(body) < 0 or len(blocks) >= MAX_BLOCKS - 3:
            blocks.append(_section(msg.MORE_STEPS.format(more=total - i, n=i + 1)))
            break
        blocks.append(_section(body))
        budget -= len(body) + 80
    value = action_value(version, a=article.id, m=procedure_no, s=0)
    blocks.append(
        ActionsBlock(
            elements=[
                _button(msg.BTN_WORKED, "worked", value),
                _button(msg.BTN_FAILED, "failed", value),
                _button(msg.BTN_ESCALATE, "escalate", value),
            ]
        )
    )
    return _finish(intro, blocks)


def full_article_card(article: Article, *, version: int) -> list[Message]:
    """The whole article, section by section, split over a few messages; truncated past that."""
    names = [n for n in SECTION_ORDER if article.section(n)]
    names += [n for n in article.sections if n not in names and article.sections[n].strip()]
    pieces: list[str] = []
    for name in names:
        body = escape_mrkdwn(article.sections[name].strip())
        chunks = _chunks(body, SECTION_CHARS - len(name) - 10)
        pieces.append(f"*{escape_mrkdwn(name.title())}*\n{chunks[0]}")
        pieces.extend(chunks[1:])

    budget_per_message = MAX_BLOCK_CHARS - 2000
    messages: list[Message] = []
    current: list[Block] = [_header(article)]
    ctx = _context(article)
    if ctx:
        current.append(ctx)
    used = 0
    truncated = False
    for piece in pieces:
        if used + len(piece) + 80 > budget_per_message or len(current) >= MAX_BLOCKS - 3:
            if len(messages) + 1 >= MAX_FULL_ARTICLE_MESSAGES:
                truncated = True
                break
            messages.append(_finish(_fallback(article), current))
            current, used = [], 0
        current.append(_section(piece))
        used += len(piece) + 80
    if truncated:
        current.append(_section(msg.TRUNCATED_ARTICLE.format(qid=escape_mrkdwn(article.id))))
    value = action_value(version, a=article.id)
    buttons = []
    if article.procedures:
        buttons.append(_button(msg.BTN_WALK, "walk", value, style="primary"))
    buttons += [_button(msg.BTN_NOT_MINE, "not_mine", value), _button(msg.BTN_FIXED, "fixed", value)]
    current.append(ActionsBlock(elements=buttons))
    messages.append(_finish(_fallback(article), current))
    return messages


def escalation_offer_card(text: str, *, version: int) -> Message:
    """A trusted mrkdwn line (from messages.py) with an "Ask a human" button."""
    blocks: list[Block] = [
        _section(clip(text, SECTION_CHARS)),
        ActionsBlock(elements=[_button(msg.BTN_ESCALATE, "escalate", action_value(version), style="primary")]),
    ]
    return _finish(text, blocks)


def escalation_summary(details: EscalationDetails, *, thread_link: str | None = None) -> Message:
    """What the escalation channel sees. The adapter passes the thread's permalink as `thread_link`."""
    blocks: list[Block] = [HeaderBlock(text=msg.ESCALATION_TITLE)]
    if details.asker:
        # a Slack user id, rendered as a mention on purpose; anything but [A-Za-z0-9] is dropped
        blocks.append(_section(msg.ESCALATION_ASKER.format(user=re.sub(r"[^A-Za-z0-9]", "", details.asker))))
    blocks.append(_section(msg.ESCALATION_QUESTION.format(question=clip_mrkdwn(details.question or "-", 2500))))
    if details.article_id:
        blocks.append(
            _section(
                msg.ESCALATION_ARTICLE.format(
                    qid=escape_mrkdwn(details.article_id), title=clip_mrkdwn(details.article_title, 300)
                )
            )
        )
    else:
        blocks.append(_section(msg.ESCALATION_NO_ARTICLE))
    if details.steps_tried:
        lines = "\n".join(f"• {escape_mrkdwn(line)}" for line in details.steps_tried[-20:])
        blocks.append(_section(clip(msg.ESCALATION_TRIED.format(tried=lines), SECTION_CHARS)))
    else:
        blocks.append(_section(msg.ESCALATION_NOTHING_TRIED))
    if details.outcome:
        blocks.append(_section(msg.ESCALATION_OUTCOME.format(outcome=clip_mrkdwn(details.outcome, 500))))
    if thread_link:
        # A permalink from Slack itself; wrapped as a link, with `<>|` removed so it cannot smuggle markup.
        safe = re.sub(r"[<>|\s]", "", thread_link)[:1000]
        blocks.append(_section(msg.ESCALATION_THREAD.format(link=f"<{safe}>")))
    else:
        blocks.append(_section(msg.ESCALATION_THREAD_UNKNOWN))
    blocks.append(DividerBlock())
    fallback = msg.ESCALATION_FALLBACK.format(question=escape_mrkdwn(clip(details.question or "-", 200)))
    return _finish(fallback, blocks)
