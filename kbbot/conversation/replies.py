"""What the engine says, as plain values: the Slack adapter draws them as Block Kit, a test reads their fields.

Nothing here knows Slack: no mrkdwn escaping, no `<@user>` mentions, no button wire format. A reply carries
article objects, search hits, wording templates from `messages.py` with their unescaped fills, user ids, and
the `Offer`s (buttons) a person can take next. The renderer (kbbot.slack.blocks) escapes the fills, writes the
mentions and encodes each offer into a button bound to its thread.

    AnswerReply            the condensed card: symptom, cause, resolution, the matched error line
    LookupReply            the same card for `/kb`, offering only "share in channel"
    StepReply              one step of one procedure
    AllStepsReply          every step of a procedure at once
    FullArticleReply       the whole article (the renderer splits it over a few messages)
    ShortlistReply         a few candidates to pick from (`lookup`: the `/kb` flavour, not tied to a thread)
    ProductQuestionReply   "which product are you running?"
    ClosestReply           `/kb Q10287` when there is no such article: the nearest numbers
    NoMatchReply           "I don't know this one"
    NoticeReply            one sentence from messages.py (`private`: only for whoever pressed the button)
    ClarifyReply           "did you mean the next step, or is this a different problem?" with those offers
    EscalationOfferReply   a sentence with an "ask a human" offer
    EscalationSummary      what the humans are sent (posted elsewhere, not in the thread)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kbbot.article import Article
from kbbot.search.types import SearchHit


class Action(StrEnum):
    """Everything a person can do in a thread, by typing or by pressing a button: one name, one dispatch.

    A typed message's label (IntentSet.classify, read with the thread's moment: a "yes" after the last step is
    WORKED) and a button decode to the same member. Small talk, questions and unsure messages are the engine's
    own decisions, not actions."""

    WALK = "walk"
    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    GOTO = "goto"
    ALL_STEPS = "all_steps"
    FULL = "full"
    WORKED = "worked"
    FAILED = "failed"
    NOT_MINE = "not_mine"
    ESCALATE = "escalate"
    START_OVER = "start_over"
    HELP = "help"
    LOOKUP = "lookup"
    # button-only: they name something the message showed (an article, a product)
    PICK = "pick"
    PRODUCT = "product"
    REF = "ref"
    SHARE = "share"


@dataclass(frozen=True, slots=True)
class Offer:
    """One button: an action offered at a thread state `version`, about an article or a product choice.

    `shared`: on a card `/kb` shared into the channel, whose thread may have no stored state; such a button
    starts the thread. `suggested`: the one the person most likely wants (drawn as the primary button)."""

    action: Action
    version: int = 0
    article_id: str | None = None
    choice: str | None = None
    procedure_no: int | None = None
    step_no: int | None = None
    shared: bool = False
    suggested: bool = False


@dataclass(frozen=True, slots=True)
class Mention:
    """A person, as a fill in a wording: the renderer writes the Slack mention, the terminal a name."""

    user_id: str


Fill = str | int | Mention


@dataclass(frozen=True, slots=True)
class Wording:
    """A template from messages.py and what fills its placeholders, unescaped (the renderer escapes them)."""

    template: str
    fills: Mapping[str, Fill] = field(default_factory=dict)

    def plain(self) -> str:
        """The sentence with its fills as they are (logs, tests, anything that is not mrkdwn)."""
        values = {k: (f"@{v.user_id}" if isinstance(v, Mention) else v) for k, v in self.fills.items()}
        return self.template.format(**values)


def say(template: str, **fills: Fill) -> Wording:
    return Wording(template=template, fills=fills)


@dataclass(frozen=True, slots=True)
class AnswerReply:
    article: Article
    hit: SearchHit | None  # the search hit (confidence, matched error line); None when picked or shared
    intro: Wording | None = None
    offers: tuple[Offer, ...] = ()
    # the section of the case the question is about, on a page with one section per error (shown as the fix)
    focus: str | None = None


@dataclass(frozen=True, slots=True)
class LookupReply:
    article: Article
    hit: SearchHit | None = None
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True, slots=True)
class StepReply:
    """Step `step_no` of procedure `procedure_no` (both 0-based); references are REF offers."""

    article: Article
    procedure_no: int
    step_no: int
    intro: Wording | None = None
    offers: tuple[Offer, ...] = ()

    @property
    def total(self) -> int:
        return len(self.article.procedures[self.procedure_no].steps)


@dataclass(frozen=True, slots=True)
class AllStepsReply:
    article: Article
    procedure_no: int
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True, slots=True)
class FullArticleReply:
    article: Article
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True, slots=True)
class ShortlistReply:
    hits: tuple[SearchHit, ...]
    intro: Wording | None = None
    offers: tuple[Offer, ...] = ()  # one per hit, in order: PICK in a thread, LOOKUP for `/kb`
    lookup: bool = False


@dataclass(frozen=True, slots=True)
class ProductQuestionReply:
    choices: tuple[str, ...]
    offers: tuple[Offer, ...] = ()  # one PRODUCT offer per choice


@dataclass(frozen=True, slots=True)
class ClosestReply:
    qid: str
    closest: tuple[tuple[str, str], ...]  # (article id, title), nearest first
    offers: tuple[Offer, ...] = ()  # one LOOKUP offer per article


@dataclass(frozen=True, slots=True)
class NoMatchReply:
    question: str
    example: str = ""  # an error line from the KB, for the hint ("" when the KB has none to offer)


@dataclass(frozen=True, slots=True)
class NoticeReply:
    wording: Wording
    # Only the person who pressed sees it (a stale or doubled click): the thread is not the place for it.
    private: bool = False


@dataclass(frozen=True, slots=True)
class ClarifyReply:
    """A message kbbot could not read as a request or a question: a short question back, with the likely
    answers as buttons (typing them works as well)."""

    wording: Wording
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationOfferReply:
    wording: Wording
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationSummary:
    """What a human needs to pick a thread up. Lines are plain text; the renderer escapes them."""

    question: str
    asker: str  # Slack user id
    article_id: str | None = None
    article_title: str = ""
    steps_tried: tuple[str, ...] = ()  # one readable line per step shown, in order
    outcome: str = ""  # readable: "the fix did not work", "asked for a human", ...


Reply = (
    AnswerReply
    | LookupReply
    | StepReply
    | AllStepsReply
    | FullArticleReply
    | ShortlistReply
    | ProductQuestionReply
    | ClosestReply
    | NoMatchReply
    | NoticeReply
    | ClarifyReply
    | EscalationOfferReply
    | EscalationSummary
)


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


def notice(template: str, **fills: Fill) -> NoticeReply:
    return NoticeReply(wording=say(template, **fills))


def offers_of(reply: Reply) -> tuple[Offer, ...]:
    """The buttons a reply carries (none for a notice, a no-match or a summary)."""
    return getattr(reply, "offers", ())
