"""The Slack renderer: reply values from the conversation engine drawn as Block Kit messages.

Builds `slack_sdk.models.blocks` objects and returns their `to_dict()` (which validates Slack's per-field
limits), never touches the network. Every message stays inside Slack's message limits (50 blocks, 3,000
characters per section, 150 per header, 75 per button label, ~12,000 characters of blocks in total): long
articles are condensed, split or truncated, never sent over. Every message sets a plain `text` fallback.

Article text, wording fills and anything a person typed are escaped before they go into mrkdwn
(`escape_mrkdwn`), so a KB article or a pasted message can never ping `<!channel>` or break the card's
formatting; the only mentions are the ones this module writes from user ids (`mention`).

Buttons: each reply's offers become buttons through `ButtonCodec` (kbbot.slack.actions), which seals their
values to the thread they are posted in. Action ids are unique within a block (listed kinds are numbered,
`kb:pick:0`, `kb:pick:1`) and no block_id is set (Slack makes unique ones), or Slack refuses the message
(invalid_blocks).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
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

from kbbot.article import SECTION_ORDER, Article, Step, is_path_id
from kbbot.conversation import messages as msg
from kbbot.conversation.replies import (
    Action,
    AllStepsReply,
    AnswerReply,
    ClarifyReply,
    ClosestReply,
    EscalationOfferReply,
    EscalationSummary,
    FullArticleReply,
    LookupReply,
    Mention,
    NoMatchReply,
    NoticeReply,
    Offer,
    ProductQuestionReply,
    Reply,
    ShortlistReply,
    StepReply,
    Wording,
    clip,
)
from kbbot.conversation.state import ThreadKey
from kbbot.render import CALLOUT, FENCE, convert_inline, drop_stray_marks, plain_text
from kbbot.search.types import SearchHit
from kbbot.slack.actions import ACTION_PREFIX, ButtonCodec, action_id

log = logging.getLogger(__name__)

# Slack's limits: from slack_sdk's own block classes where it defines them, the rest from Slack's documentation.
MAX_BLOCKS = 50
SECTION_CHARS = SectionBlock.text_max_length
HEADER_CHARS = HeaderBlock.text_max_length
BUTTON_LABEL_CHARS = ButtonElement.text_max_length
BUTTON_VALUE_CHARS = ButtonElement.value_max_length
ACTIONS_PER_BLOCK = ActionsBlock.elements_max_length
MAX_BLOCK_CHARS = 12000  # total of json.dumps(blocks); Slack refuses near 13,000 with msg_blocks_too_long
FALLBACK_TEXT_CHARS = 3000  # notifications show a line or two; no need to send more

# Condensed card sections: a few sentences each.
CONDENSED_CHARS = 450
RESOLUTION_CHARS = 700
STEP_TEXT_CHARS = 2500
MAX_FULL_ARTICLE_MESSAGES = 4
# How many hits a shortlist has, how many near numbers /kb offers: the engine's choice (ConversationSettings,
# engine constants); the renderer draws what it is given and `_finish` keeps it within Slack's limits.
# What a step or all-steps message keeps free of text for its buttons (sealed values are ~90 characters each,
# up to 10 buttons) and the JSON around each section.
BUTTONS_ROOM_CHARS = 3000


# A block as a slack_sdk object, or as JSON drawn (and checked by slack_sdk) before: see `_drawn_article` and
# `button_element`.
Drawn = Block | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: the plain-text fallback (notifications, screen readers) and the Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


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


def clip_mrkdwn(text: str, limit: int, *, convert: bool = False) -> str:
    """Escaped text of at most `limit` characters (escaping lengthens, so clip, escape, and re-check).
    `convert`: `text` is article text, whose inline marks become mrkdwn (`article_mrkdwn`)."""
    budget = limit
    while True:
        clipped = clip(text, budget)
        out = article_mrkdwn(_drop_cut_mark(clipped)) if convert else escape_mrkdwn(clipped)
        if len(out) <= limit or budget <= 1:
            return out[:limit]
        budget -= max(1, len(out) - limit)


# --- article text: its inline marks as mrkdwn ----------------------------------------------------------------

# A mark that clipping cut in half ("see [the docs](https://exa…"): dropped rather than shown raw.
_CUT_MARK = re.compile(r"(\[[^\]\n]*(\]\((?:[^()\s]|\([^()\s]*\)?)*)?|`[^`\n]*|\*\*?[^*\n]*)…$")


def _drop_cut_mark(text: str) -> str:
    if not text.endswith("…"):
        return text
    tail = _CUT_MARK.search(text)
    if tail is None or convert_inline(tail.group(0), plain=lambda p: "", mark=lambda m: "x"):
        return text
    return text[: tail.start()].rstrip() + "…"


def _safe_url(url: str) -> str:
    return re.sub(r"[<>|\s]", "", url)


def _mrkdwn_mark(m: re.Match[str]) -> str:
    if m.group("link"):
        # a link's label is shown as it reads: Slack draws no formatting inside <url|label>
        label = escape_mrkdwn(plain_text(m.group("link_text"))).replace("|", "¦")
        return f"<{_safe_url(m.group('link_url'))}|{label}>"
    if m.group("code"):
        return f"`{escape_code(m.group('code_text'))}`"
    # emphasis may hold a link or code ("*Written by [Gaurav](https://...)*"): its text is converted too
    if m.group("bold_italic"):
        return f"*_{_marks_mrkdwn(m.group('bold_italic_text'))}_*"
    if m.group("bold"):
        return f"*{_marks_mrkdwn(m.group('bold_text'))}*"
    return f"_{_marks_mrkdwn(m.group('italic_text'))}_"


def _marks_mrkdwn(text: str) -> str:
    return convert_inline(text, plain=lambda piece: escape_mrkdwn(drop_stray_marks(piece)), mark=_mrkdwn_mark)


def _inline_mrkdwn(text: str) -> str:
    """Marks converted, and a callout line's label ("Note:") emphasised unless the article already did."""
    return CALLOUT.sub(lambda m: f"*{m.group(1)}:*", _marks_mrkdwn(text))


def article_mrkdwn(text: str) -> str:
    """Article text as mrkdwn: its marks (`**bold**`, `*italic*`, `code`, links, code blocks, callouts) drawn
    the Slack way, everything else escaped (no mention, no stray formatting)."""
    out: list[str] = []
    at = 0
    for m in FENCE.finditer(text):
        out.append(_inline_mrkdwn(text[at : m.start()]))
        out.append(f"```{escape_code(m.group('body'))}```")
        at = m.end()
    out.append(_inline_mrkdwn(text[at:]))
    return "".join(out)


_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[a-z][.)]|[•*-])\s")


def condense(text: str, limit: int = CONDENSED_CHARS, *, stop_at_list: bool = False) -> str:
    """The first paragraphs of a section, up to `limit` characters: what a card shows of it.

    With `stop_at_list`, a numbered list after some introduction that would not fit whole is left out: the
    card's "walk me through" button presents those steps one at a time, so the card keeps to "follow these
    steps:" rather than showing half a list."""
    paragraphs = _paragraphs(text)
    out: list[str] = []
    used = 0
    for i, p in enumerate(paragraphs):
        if out and stop_at_list and _LIST_ITEM.match(p):
            rest = sum(len(q) + 2 for q in paragraphs[i:])
            if used + rest > limit:
                break
        if used and used + len(p) + 2 > limit:
            if out[-1].endswith(":"):
                # "...you receive the following error message:" announces what comes next: a card that ends
                # there shows the lead-in without the message. The message goes in, cut to the room left;
                # with too little room the lead-in goes too (unless it is all there is)
                room = limit - used - 2
                if room >= _MIN_ANNOUNCED_CHARS:
                    out.append(clip(p, room))
                elif len(out) > 1:
                    out.pop()
            break
        out.append(p)
        used += len(p) + 2
    shown = clip("\n\n".join(out), limit)
    if shown.count("```") % 2:  # cut inside a code block: closed, or the rest of the card would be code
        shown += "\n```"
    return shown


# the least of an announced message worth showing after its lead-in
_MIN_ANNOUNCED_CHARS = 60


def _paragraphs(text: str) -> list[str]:
    """A section's paragraphs, split at blank lines, a fenced code block whole (its blank lines are its own)."""
    out: list[str] = []
    at = 0
    for m in FENCE.finditer(text):
        out += [p.strip() for p in re.split(r"\n\s*\n", text[at : m.start()]) if p.strip()]
        out.append(m.group(0).strip())
        at = m.end()
    out += [p.strip() for p in re.split(r"\n\s*\n", text[at:]) if p.strip()]
    return out


def blocks_size(blocks: Sequence[dict[str, Any]]) -> int:
    """How Slack measures a message's blocks (near enough): the serialised JSON."""
    return len(json.dumps(list(blocks), ensure_ascii=False))


# --- block helpers ------------------------------------------------------------------------------------------


def _named(article: Article) -> str:
    """What a card's header calls an article: "Q102087: title", or the title alone for a path id
    (`exchange/exchangeonline/calendars/cannot-view-...` says the title again, longer: on most of a modern KB
    it pushed the title out of the header's 150 characters, and gave a short list five buttons reading
    "Open exchange/exchangeonline/calend…")."""
    title = plain_text(article.title)
    return title if is_path_id(article.id) else f"{article.id}: {title}"


def _header(article: Article) -> HeaderBlock:
    return HeaderBlock(text=clip(_named(article), HEADER_CHARS))


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
    return _section(f"*{label}*\n{clip_mrkdwn(text, SECTION_CHARS - len(label) - 4, convert=True)}")


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
    return _close_fences(out)


def _close_fences(pieces: list[str]) -> list[str]:
    """A code block split between two pieces is closed at the end of the first and reopened in the next, so
    each section renders on its own (an open fence would turn the rest of the card into code)."""
    out: list[str] = []
    carried = False
    for piece in pieces:
        text = f"```{piece}" if carried else piece
        carried = text.count("```") % 2 == 1
        out.append(f"{text}```" if carried else text)
    return out


def _finish(text: str, blocks: Iterable[Drawn]) -> Message:
    # a dict is a block drawn (and checked by slack_sdk) before: see _drawn_article
    dicts = [dict(b) if isinstance(b, dict) else b.to_dict() for b in blocks]
    if len(dicts) > MAX_BLOCKS or blocks_size(dicts) > MAX_BLOCK_CHARS:
        # The builders' budgets should make this unreachable; if one is wrong, a shorter card beats a
        # message Slack refuses (msg_blocks_too_long).
        log.warning("card over Slack's limits (%s blocks, %s chars); trimming it", len(dicts), blocks_size(dicts))
        dicts = _trim(dicts)
    # No block_ids: Slack gives each block a unique one, and a message that repeats one is refused.
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
    return escape_mrkdwn(_named(article))


_RESOLUTION_SECTIONS = (
    ("RESOLUTION", msg.LABEL_RESOLUTION),
    ("WORKAROUND", msg.LABEL_WORKAROUND),
    ("STATUS", msg.LABEL_STATUS),
    ("MORE INFORMATION", msg.LABEL_MORE_INFO),
)


def _resolution_text(article: Article, focus: str | None = None) -> tuple[str, str]:
    """(label, text) of the fix a card shows: the `focus` case's section (a page with one section per error,
    named after its heading), else the article's fix section."""
    if focus and article.section(focus):
        return article.heading_of(focus), article.section(focus)
    fix = article.fix_section()
    for name, label in _RESOLUTION_SECTIONS:
        if fix == name or (fix is None and article.section(name)):
            return label, article.section(name)
    if fix:  # the fix under a heading of the article's own: still the resolution, to the reader
        return msg.LABEL_RESOLUTION, article.section(fix)
    return msg.LABEL_RESOLUTION, ""


def _squeezed(text: str) -> str:
    return " ".join(plain_text(text).casefold().split())


def _summary_blocks(
    article: Article,
    hit: SearchHit | None,
    intro: Wording | None,
    *,
    can_walk: bool = False,
    focus: str | None = None,
) -> list[Drawn]:
    """The condensed card's body; `can_walk`: the card offers the walk-through, so a resolution that ends
    "follow these steps:" says how many there are instead of showing half of them; `focus`: the case whose
    fix to show (AnswerReply.focus)."""
    drawn = _drawn_article(article, can_walk=can_walk, focus=focus)
    blocks: list[Drawn] = [*drawn.head]
    if intro:
        blocks.append(_section(render_wording(intro)))
    blocks += drawn.body
    # the error line is worth its own block only when the symptom above does not already quote it
    quoted = hit is not None and _squeezed(hit.matched_error or "") in drawn.shown_symptom
    if hit is not None and hit.matched_error and not quoted:
        error = escape_code(clip(hit.matched_error, 400))
        blocks.append(_section(f"*{msg.LABEL_MATCHED_ERROR}*\n```{error}```"))
    return blocks


@dataclass(frozen=True, slots=True)
class _DrawnArticle:
    """The parts of a condensed card that depend on the article alone, as Block Kit dicts."""

    head: tuple[dict[str, Any], ...]  # header and context
    body: tuple[dict[str, Any], ...]  # symptom, cause, resolution
    shown_symptom: str  # the symptom as the card shows it, folded (to tell whether it quotes the error)


# Drawing an article (mrkdwn conversion, condensing, slack_sdk's validation) is most of a card's cost and the
# same every time the article is shown; popular articles are shown over and over. Keyed by the article's
# content, so a reloaded index with an edited article draws it afresh.
_DRAWN_CACHE_SIZE = 512
_drawn: dict[tuple[Any, ...], _DrawnArticle] = {}


def _drawn_article(article: Article, *, can_walk: bool, focus: str | None = None) -> _DrawnArticle:
    first_steps = len(article.procedures[0].steps) if article.procedures else 0
    key = (article.id, article.title, article.product, hash(tuple(article.sections.items())),
           len(article.procedures), first_steps, can_walk, focus)  # fmt: skip
    found = _drawn.get(key)
    if found is None:
        found = _draw_article(article, can_walk=can_walk, focus=focus)
        if len(_drawn) >= _DRAWN_CACHE_SIZE:
            _drawn.pop(next(iter(_drawn)))  # the oldest drawing goes
        _drawn[key] = found
    return found


def _draw_article(article: Article, *, can_walk: bool, focus: str | None = None) -> _DrawnArticle:
    head: list[Block] = [_header(article)]
    ctx = _context(article)
    if ctx:
        head.append(ctx)
    body: list[Block] = []
    symptoms = article.symptoms()
    if symptoms:
        body.append(_labelled(msg.LABEL_SYMPTOMS, symptoms, CONDENSED_CHARS))
    if article.section("CAUSE"):
        body.append(_labelled(msg.LABEL_CAUSE, article.section("CAUSE"), CONDENSED_CHARS))
    label, resolution = _resolution_text(article, focus)
    if resolution:
        stop = bool(article.procedures)
        shown = condense(resolution, RESOLUTION_CHARS, stop_at_list=stop)
        block = _labelled(label, resolution, RESOLUTION_CHARS, stop_at_list=stop)
        walked = next((p for p in article.procedures if p.section == focus), None) if focus else None
        walked = walked or (article.procedures[0] if article.procedures else None)
        if can_walk and walked is not None and shown.rstrip().endswith(":"):
            steps = msg.STEPS_TO_WALK.format(total=len(walked.steps))
            block = _section(f"{block.text.text}\n{steps}"[:SECTION_CHARS])  # type: ignore[union-attr]
        body.append(block)
    if not body:
        # no symptom, cause or fix by name (a page that opens with a heading of its own, "## Step 1: ..."): its
        # first section under that heading, rather than a card with a title and buttons and nothing to read
        opening = next((name for name, text in article.sections.items() if text.strip()), None)
        if opening is not None:
            body.append(_labelled(article.heading_of(opening), article.sections[opening], RESOLUTION_CHARS,
                                  stop_at_list=bool(article.procedures)))
    return _DrawnArticle(
        head=tuple(b.to_dict() for b in head),
        body=tuple(b.to_dict() for b in body),
        shown_symptom=_squeezed(condense(symptoms, CONDENSED_CHARS)),
    )


# --- people and wording -------------------------------------------------------------------------------------

_NOT_ID = re.compile(r"[^A-Za-z0-9]")


def slack_id(text: str) -> str:
    """A Slack id (user, channel, user group) with anything but [A-Za-z0-9] dropped, safe inside `<...>`."""
    return _NOT_ID.sub("", text)


def mention(user_id: str) -> str:
    """The one place kbbot writes a person's mention."""
    return f"<@{slack_id(user_id)}>"


def _fill(value: str | int | Mention) -> str:
    if isinstance(value, Mention):
        return mention(value.user_id)
    if isinstance(value, int):
        return str(value)
    return escape_mrkdwn(value)


def render_wording(wording: Wording) -> str:
    """A messages.py template as mrkdwn: its fills escaped, its mentions written."""
    return wording.template.format(**{k: _fill(v) for k, v in wording.fills.items()})


# --- buttons ------------------------------------------------------------------------------------------------

_LABELS = {
    Action.WALK: msg.BTN_WALK,
    Action.FULL: msg.BTN_FULL,
    Action.NOT_MINE: msg.BTN_NOT_MINE,
    Action.NEXT: msg.BTN_NEXT,
    Action.BACK: msg.BTN_BACK,
    Action.WORKED: msg.BTN_WORKED,
    Action.FAILED: msg.BTN_FAILED,
    Action.ESCALATE: msg.BTN_ESCALATE,
    Action.SHARE: msg.BTN_SHARE,
    Action.START_OVER: msg.BTN_DIFFERENT,
}


def _label(offer: Offer, *, on_card: bool) -> str:
    if offer.action in (Action.PICK, Action.LOOKUP):
        return msg.BTN_OPEN.format(qid=offer.article_id or "?")
    if offer.action is Action.PRODUCT:
        return offer.choice or "?"
    if offer.action is Action.REF:
        return f"{msg.LABEL_REFERENCE}: {offer.article_id}"
    if offer.action is Action.WORKED and on_card:
        return msg.BTN_FIXED  # under an answer card: "it's fixed"; under a step: "it worked"
    return _LABELS.get(offer.action, offer.action.value)


@dataclass(frozen=True, slots=True)
class Buttons:
    """Draws a message's offers as buttons sealed for the thread `where` (None: an ephemeral /kb answer)."""

    codec: ButtonCodec
    where: ThreadKey | None

    def button(
        self, offer: Offer, index: int, *, on_card: bool = False, label: str | None = None
    ) -> dict[str, Any]:
        return button_element(
            text=label or _label(offer, on_card=on_card),
            action_id=action_id(offer, index),
            value=self.codec.encode(offer, where=self.where),
            style="primary" if offer.suggested else None,
        )

    def row(
        self, offers: Sequence[tuple[int, Offer]], *, on_card: bool = False, article: Article | None = None
    ) -> list[dict[str, Any]]:
        """The offers as one actions block (none when there are none), at most Slack's 25 elements; with
        `article`, its "Open article" link first when it has a URL."""
        link = _link_button(article) if article is not None else None
        elements = [link] if link is not None else []
        elements += [self.button(o, i, on_card=on_card) for i, o in offers[: ACTIONS_PER_BLOCK - len(elements)]]
        return [actions_block(elements)] if elements else []


@functools.lru_cache(maxsize=4096)
def _button_face(text: str, action_id: str, style: str | None, url: str | None) -> dict[str, Any]:
    return ButtonElement(text=text, action_id=action_id, style=style, url=url).to_dict()


def button_element(
    *, text: str, action_id: str, value: str | None = None, style: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """A button as Block Kit JSON. Its face (label, action_id, style, link) is drawn and checked by slack_sdk
    once and then reused: only the value, sealed to each thread, is new per message. (Re-checking the same few
    faces on every card was most of the renderer's time under load.)"""
    face = _button_face(clip(text, BUTTON_LABEL_CHARS), action_id, style, url)
    button = {**face, "text": dict(face["text"])}  # a copy: a message's blocks are its own
    if value is not None:
        button["value"] = value[:BUTTON_VALUE_CHARS]
    return button


def actions_block(elements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An actions block of drawn elements (`button_element`); Slack takes 1 to 25 of them."""
    if not 1 <= len(elements) <= ACTIONS_PER_BLOCK:
        raise ValueError(f"an actions block holds 1 to {ACTIONS_PER_BLOCK} elements, not {len(elements)}")
    return {"type": "actions", "elements": list(elements)}


# A link button still sends Slack's block_actions when pressed: its action_id is outside kb:, so the adapter
# acknowledges it and does nothing (the browser opens the page).
OPEN_ARTICLE_ACTION = "open_article"
URL_CHARS = 3000  # Slack's limit for a button's url


def _link_button(article: Article) -> dict[str, Any] | None:
    url = getattr(article, "url", None)
    if not url or not re.match(r"https?://", url) or len(url) > URL_CHARS:
        return None
    return button_element(text=msg.BTN_ARTICLE, url=url, action_id=OPEN_ARTICLE_ACTION)


def _numbered(offers: Sequence[Offer]) -> list[tuple[int, Offer]]:
    """Offers with their index in the reply: what keeps listed action_ids (kb:pick:0, kb:pick:1) apart."""
    return list(enumerate(offers))


# --- one builder per reply kind -----------------------------------------------------------------------------


def text_message(text: str) -> Message:
    """A plain reply. `text` is trusted mrkdwn (a template from messages.py with escaped fills)."""
    pieces = _chunks(text, SECTION_CHARS)[: MAX_BLOCKS - 1] or ["…"]
    blocks: list[Drawn] = []
    used = 0
    for piece in pieces:
        used += len(piece) + 60
        if used > MAX_BLOCK_CHARS - 200:
            break
        blocks.append(_section(piece))
    return _finish(text, blocks)


def _answer(reply: AnswerReply, buttons: Buttons) -> Message:
    """The condensed symptom / cause / resolution card with walk / full / not mine / fixed buttons."""
    can_walk = any(o.action is Action.WALK for o in reply.offers)
    blocks = _summary_blocks(reply.article, reply.hit, reply.intro, can_walk=can_walk, focus=reply.focus)
    blocks += buttons.row(_numbered(reply.offers), on_card=True, article=reply.article)
    return _finish(_fallback(reply.article), blocks)


def _lookup(reply: LookupReply, buttons: Buttons) -> Message:
    """An article for `/kb`: the same condensed card, with only a "Share in channel" button."""
    blocks = _summary_blocks(reply.article, reply.hit, None)
    blocks += buttons.row(_numbered(reply.offers), article=reply.article)
    return _finish(_fallback(reply.article), blocks)


def _hit_line(hit: SearchHit) -> str:
    product = f"\n_{escape_mrkdwn(clip(hit.product, 120))}_" if hit.product else ""
    title = clip_mrkdwn(plain_text(hit.title), 400)
    if is_path_id(hit.id):
        return f"*{title}*{product}"
    return f"*{escape_mrkdwn(hit.id)}*: {title}{product}"


def _shortlist(reply: ShortlistReply, buttons: Buttons) -> Message:
    """A few candidates, each with its button beside it (pick in a thread, lookup for /kb)."""
    intro = render_wording(reply.intro) if reply.intro else msg.SHORTLIST_INTRO
    blocks: list[Drawn] = [_section(intro)]
    hits = reply.hits
    for i, hit in enumerate(hits):
        offer = reply.offers[i] if i < len(reply.offers) else None
        entry = _section(_hit_line(hit)).to_dict()
        if offer is not None:  # drawn already: given to SectionBlock, slack_sdk would parse and check it again
            # beside its entry, which names the article when its id is a path
            entry["accessory"] = buttons.button(offer, i, label=msg.BTN_OPEN_THIS if is_path_id(hit.id) else None)
        blocks.append(entry)
        if reply.lookup:
            blocks += _share_row(hit, buttons)
    named = (plain_text(h.title) if is_path_id(h.id) else h.id for h in hits)
    fallback = msg.SHORTLIST_INTRO + " " + ", ".join(named)
    return _finish(fallback, blocks)


def _share_row(hit: SearchHit, buttons: Buttons) -> list[dict[str, Any]]:
    """Under each entry of a `/kb` short list: "Share Q102087", posting that card in the channel. Drawn here
    rather than offered by the engine: sharing is unbound (any member may show any article), so it needs no
    thread state, and the shortlist's offers stay one per hit."""
    share = Offer(Action.SHARE, article_id=hit.id)
    label = msg.BTN_SHARE_THIS if is_path_id(hit.id) else msg.BTN_SHARE_ONE.format(qid=hit.id)
    return [actions_block([buttons.button(share, 0, label=label)])]


def _closest(reply: ClosestReply, buttons: Buttons) -> Message:
    """`/kb Q10287` when there is no such article: the nearest numbers, each a lookup button."""
    listing = ", ".join(
        f"{escape_mrkdwn(cid)} ({clip_mrkdwn(plain_text(title), 100)})" for cid, title in reply.closest
    )
    text = (
        msg.NOT_IN_KB_CLOSEST.format(qid=escape_mrkdwn(reply.qid), closest=listing)
        if reply.closest
        else msg.NOT_IN_KB.format(qid=escape_mrkdwn(reply.qid))
    )
    blocks: list[Drawn] = [_section(clip(text, SECTION_CHARS))]
    blocks += buttons.row(_numbered(reply.offers))
    return _finish(text, blocks)


def _product_question(reply: ProductQuestionReply, buttons: Buttons) -> Message:
    """ "Which are you running? A / B / C" with one button per product."""
    blocks: list[Drawn] = [_section(msg.PRODUCT_QUESTION), *buttons.row(_numbered(reply.offers))]
    fallback = msg.PRODUCT_QUESTION + " " + " / ".join(escape_mrkdwn(p) for p in reply.choices)
    return _finish(fallback, blocks)


def _no_match(reply: NoMatchReply) -> Message:
    """ "I don't know this one", with a hint on what to try (an error line from this KB, when it has one)."""
    hint = msg.NO_MATCH_EXAMPLE.format(error=escape_code(reply.example)) if reply.example else msg.NO_MATCH
    return _finish(msg.NO_MATCH_FALLBACK, [_section(hint)])


def _clarify(reply: ClarifyReply, buttons: Buttons) -> Message:
    """ "Next step, or a different problem?": a question back, its likely answers as buttons."""
    text = render_wording(reply.wording)
    # in a question back, "not my problem" reads as the person's own answer: "this is a different problem"
    elements = [
        buttons.button(o, i, label=msg.BTN_DIFFERENT if o.action is Action.NOT_MINE else None)
        for i, o in _numbered(reply.offers)
    ]
    row = [actions_block(elements)] if elements else []
    return _finish(text, [_section(clip(text, SECTION_CHARS)), *row])


def _method_line(article: Article, procedure_no: int) -> str:
    proc = article.procedures[procedure_no]
    line = escape_mrkdwn(clip(plain_text(article.name), 120))
    if len(article.procedures) > 1:
        method = msg.METHOD_HEADING.format(
            m=procedure_no + 1, methods=len(article.procedures), label=clip_mrkdwn(proc.label, 150, convert=True)
        )
        line += " · " + method
    return line


def _step_body(step: Step, limit: int) -> str:
    """Escaped step text with its sub-steps as a lettered list, at most `limit` characters."""
    text = clip_mrkdwn(step.text, min(limit, STEP_TEXT_CHARS), convert=True)
    subs = []
    for i, sub in enumerate(step.substeps):
        letter = chr(ord("a") + i) if i < 26 else str(i + 1)
        subs.append(f"    {letter}. {article_mrkdwn(sub)}")
    return text + ("\n" + "\n".join(subs) if subs else "")


def _step(reply: StepReply, buttons: Buttons) -> Message:
    """One step of one procedure, its sub-steps with it, referenced articles as buttons above the others."""
    article, step_no = reply.article, reply.step_no
    step = article.procedures[reply.procedure_no].steps[step_no]
    total = reply.total
    blocks: list[Drawn] = []
    if reply.intro:
        blocks.append(_section(render_wording(reply.intro)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_method_line(article, reply.procedure_no))]))
    heading = msg.STEP_HEADING.format(n=step_no + 1, total=total)
    # The step and its sub-steps may be long (some corpus steps carry whole registry dumps): split into
    # sections, and stop well before the message limits.
    pieces = _chunks(_step_body(step, 8000), SECTION_CHARS - len(heading) - 2)
    budget = MAX_BLOCK_CHARS - BUTTONS_ROOM_CHARS
    for i, piece in enumerate(pieces):
        if budget - len(piece) < 0 or len(blocks) >= MAX_BLOCKS - 4:
            blocks.append(_section(msg.TRUNCATED_ARTICLE.format(qid=escape_mrkdwn(article.id))))
            break
        blocks.append(_section(f"{heading}\n{piece}" if i == 0 else piece))
        budget -= len(piece) + 80
    numbered = _numbered(reply.offers)
    blocks += buttons.row([(i, o) for i, o in numbered if o.action is Action.REF])
    blocks += buttons.row([(i, o) for i, o in numbered if o.action is not Action.REF])
    fallback = msg.STEP_FALLBACK.format(
        n=step_no + 1, total=total, text=escape_mrkdwn(clip(plain_text(step.text), 300))
    )
    return _finish(fallback, blocks)


def retired_step(reply: StepReply, *, codec: ButtonCodec) -> Message:
    """A step message the walk has moved on from: its text stays for reference, its buttons go (a press there
    would only be stale), and a line says where the walk went."""
    shown = _step(dataclasses.replace(reply, offers=(), intro=None), Buttons(codec=codec, where=None))
    note = ContextBlock(elements=[MarkdownTextObject(text=msg.STEP_MOVED_ON)]).to_dict()
    return Message(text=shown.text, blocks=[*shown.blocks, note])


def _conversation_button(element: Any) -> bool:
    """A button of the conversation (kb:...), not a link or another feature's (a vote) that outlives a press."""
    return isinstance(element, Mapping) and str(element.get("action_id", "")).startswith(ACTION_PREFIX)


def without_buttons(text: str, blocks: Sequence[Mapping[str, Any]]) -> Message:
    """A message as it was, minus its conversation buttons (links stay): what is left of a message whose
    question was answered by a press, so the thread shows one set of live buttons."""
    kept: list[dict[str, Any]] = []
    for block in blocks:
        block = dict(block)
        if block.get("type") == "actions":
            others = [e for e in block.get("elements") or [] if not _conversation_button(e)]
            if not others:
                continue
            block["elements"] = others
        if _conversation_button(block.get("accessory")):
            del block["accessory"]
        kept.append(block)
    return Message(text=text or "…", blocks=kept)


def _all_steps(reply: AllStepsReply, buttons: Buttons) -> Message:
    """Every step of one procedure in one message, as far as fits; the rest named by number."""
    article = reply.article
    proc = article.procedures[reply.procedure_no]
    total = len(proc.steps)
    intro = msg.ALL_STEPS_INTRO.format(total=total, qid=escape_mrkdwn(clip(plain_text(article.name), 120)))
    blocks: list[Drawn] = [
        _header(article),
        ContextBlock(elements=[MarkdownTextObject(text=_method_line(article, reply.procedure_no))]),
        _section(intro),
    ]
    budget = MAX_BLOCK_CHARS - BUTTONS_ROOM_CHARS
    for i, step in enumerate(proc.steps):
        body = _chunks(f"*{i + 1}.* {_step_body(step, 1500)}", SECTION_CHARS)[0]
        if budget - len(body) < 0 or len(blocks) >= MAX_BLOCKS - 3:
            blocks.append(_section(msg.MORE_STEPS.format(more=total - i, n=i + 1)))
            break
        blocks.append(_section(body))
        budget -= len(body) + 80
    blocks += buttons.row(_numbered(reply.offers))
    return _finish(intro, blocks)


def _full_article(reply: FullArticleReply, buttons: Buttons) -> list[Message]:
    """The whole article, section by section, split over a few messages; truncated past that."""
    article = reply.article
    names = [n for n in SECTION_ORDER if article.section(n)]
    names += [n for n in article.sections if n not in names and article.sections[n].strip()]
    pieces: list[str] = []
    for name in names:
        body = article_mrkdwn(article.sections[name].strip())
        chunks = _chunks(body, SECTION_CHARS - len(name) - 10)
        pieces.append(f"*{escape_mrkdwn(article.heading_of(name))}*\n{chunks[0]}")
        pieces.extend(chunks[1:])

    budget_per_message = MAX_BLOCK_CHARS - 2000
    messages: list[Message] = []
    current: list[Drawn] = [_header(article)]
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
    current += buttons.row(_numbered(reply.offers), on_card=True, article=article)
    messages.append(_finish(_fallback(article), current))
    return messages


def _escalation_offer(reply: EscalationOfferReply, buttons: Buttons) -> Message:
    """A sentence with an "Ask a human" button."""
    text = render_wording(reply.wording)
    blocks: list[Drawn] = [_section(clip(text, SECTION_CHARS)), *buttons.row(_numbered(reply.offers))]
    return _finish(text, blocks)


def render_summary(
    summary: EscalationSummary, *, thread_link: str | None = None, usergroup: str | None = None
) -> Message:
    """What the escalation channel sees: the thread's permalink as `thread_link`, `usergroup` pinged on top."""
    blocks: list[Drawn] = []
    ping = msg.ESCALATION_PING.format(group=f"<!subteam^{slack_id(usergroup)}>") if usergroup else ""
    if ping:
        blocks.append(_section(ping))
    blocks.append(HeaderBlock(text=msg.ESCALATION_TITLE))
    if summary.asker:
        blocks.append(_section(msg.ESCALATION_ASKER.format(user=mention(summary.asker))))
    blocks.append(_section(msg.ESCALATION_QUESTION.format(question=clip_mrkdwn(summary.question or "-", 2500))))
    if summary.article_id:
        blocks.append(
            _section(
                msg.ESCALATION_ARTICLE.format(
                    qid=escape_mrkdwn(summary.article_id),
                    title=clip_mrkdwn(plain_text(summary.article_title), 300),
                )
            )
        )
    else:
        blocks.append(_section(msg.ESCALATION_NO_ARTICLE))
    if summary.steps_tried:
        lines = "\n".join(f"• {escape_mrkdwn(line)}" for line in summary.steps_tried[-20:])
        blocks.append(_section(clip(msg.ESCALATION_TRIED.format(tried=lines), SECTION_CHARS)))
    else:
        blocks.append(_section(msg.ESCALATION_NOTHING_TRIED))
    if summary.outcome:
        blocks.append(_section(msg.ESCALATION_OUTCOME.format(outcome=clip_mrkdwn(summary.outcome, 500))))
    if thread_link:
        # A permalink from Slack itself; wrapped as a link, with `<>|` removed so it cannot smuggle markup.
        safe = re.sub(r"[<>|\s]", "", thread_link)[:1000]
        blocks.append(_section(msg.ESCALATION_THREAD.format(link=f"<{safe}>")))
    else:
        blocks.append(_section(msg.ESCALATION_THREAD_UNKNOWN))
    blocks.append(DividerBlock())
    fallback = msg.ESCALATION_FALLBACK.format(question=escape_mrkdwn(clip(summary.question or "-", 200)))
    return _finish(f"{ping} {fallback}" if ping else fallback, blocks)


def render(reply: Reply, *, codec: ButtonCodec, where: ThreadKey | None) -> list[Message]:
    """The Slack messages for one reply (a full article may take several), posted in thread `where` (None:
    an ephemeral /kb answer, outside any thread)."""
    buttons = Buttons(codec=codec, where=where)
    match reply:
        case AnswerReply():
            return [_answer(reply, buttons)]
        case LookupReply():
            return [_lookup(reply, buttons)]
        case StepReply():
            return [_step(reply, buttons)]
        case AllStepsReply():
            return [_all_steps(reply, buttons)]
        case FullArticleReply():
            return _full_article(reply, buttons)
        case ShortlistReply():
            return [_shortlist(reply, buttons)]
        case ProductQuestionReply():
            return [_product_question(reply, buttons)]
        case ClosestReply():
            return [_closest(reply, buttons)]
        case NoMatchReply():
            return [_no_match(reply)]
        case NoticeReply():
            return [text_message(render_wording(reply.wording))]
        case ClarifyReply():
            return [_clarify(reply, buttons)]
        case EscalationOfferReply():
            return [_escalation_offer(reply, buttons)]
        case EscalationSummary():
            return [render_summary(reply)]
