"""Reading the engine's reply values in tests: one helper per concern.

`offers` is the one button extractor for reply values (the Slack-side one is `kbbot.server.loopback.buttons`),
`plain` the one way to read what a reply says, as plain text, without going through Block Kit.
"""

from __future__ import annotations

from kbbot.article import SECTION_ORDER
from kbbot.conversation import messages as msg
from kbbot.conversation.engine import Turn
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
    NoMatchReply,
    NoticeReply,
    Offer,
    ProductQuestionReply,
    Reply,
    ShortlistReply,
    StepReply,
    offers_of,
)


def offers(where: Reply | Turn) -> dict[Action, Offer]:
    """The offers of a reply (or of every reply of a turn) by action; the first of each kind."""
    replies = where.replies if isinstance(where, Turn) else [where]
    out: dict[Action, Offer] = {}
    for reply in replies:
        for offer in offers_of(reply):
            out.setdefault(offer.action, offer)
    return out


def offer(where: Reply | Turn, action: Action) -> Offer:
    found = offers(where)
    assert action in found, f"{action} not among {sorted(found)}"
    return found[action]


def _article_text(reply: AnswerReply | LookupReply | FullArticleReply) -> list[str]:
    article = reply.article
    lines = [f"{article.id}: {article.title}"]
    names = [n for n in SECTION_ORDER if article.section(n)]
    names += [n for n in article.sections if n not in SECTION_ORDER]
    lines += [f"{name.title()}\n{article.sections[name]}" for name in names]
    return lines


def plain(reply: Reply) -> str:
    """What a reply says, as plain text: wording with its fills, step headings, article sections, hit ids."""
    intro = getattr(reply, "intro", None)
    lines = [intro.plain()] if intro is not None else []
    match reply:
        case NoticeReply() | EscalationOfferReply() | ClarifyReply():
            lines.append(reply.wording.plain())
        case AnswerReply() | LookupReply() | FullArticleReply():
            lines += _article_text(reply)
            hit = getattr(reply, "hit", None)
            if hit is not None and hit.matched_error:
                lines.append(f"{msg.LABEL_MATCHED_ERROR}: {hit.matched_error}")
        case StepReply():
            step = reply.article.procedures[reply.procedure_no].steps[reply.step_no]
            lines.append(msg.STEP_FALLBACK.format(n=reply.step_no + 1, total=reply.total, text=step.text))
            lines += step.substeps
        case AllStepsReply():
            steps = reply.article.procedures[reply.procedure_no].steps
            lines.append(msg.ALL_STEPS_INTRO.format(total=len(steps), qid=reply.article.id))
            lines += [f"{i}. {s.text}" for i, s in enumerate(steps, start=1)]
        case ShortlistReply():
            lines += [f"{h.id}: {h.title}" for h in reply.hits]
        case ProductQuestionReply():
            lines += [msg.PRODUCT_QUESTION, " / ".join(reply.choices)]
        case ClosestReply():
            listing = ", ".join(f"{cid} ({title})" for cid, title in reply.closest)
            template = msg.NOT_IN_KB_CLOSEST if reply.closest else msg.NOT_IN_KB
            lines.append(template.format(qid=reply.qid, closest=listing))
        case NoMatchReply():
            lines.append(msg.NO_MATCH_EXAMPLE.format(error=reply.example) if reply.example else msg.NO_MATCH)
        case EscalationSummary():
            lines += [reply.question, reply.article_id or "", *reply.steps_tried, reply.outcome]
    return "\n".join(lines)


def all_text(turn: Turn) -> str:
    return "\n".join(plain(r) for r in turn.replies)


def said(turn: Turn) -> str:
    """The first reply of a turn, as plain text."""
    assert turn.replies, "the turn has no reply"
    return plain(turn.replies[0])
