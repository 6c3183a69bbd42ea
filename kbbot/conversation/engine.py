"""The conversation engine: one person's turn in a thread in, replies and the thread's next state out.

Pure and deterministic: no Slack, no network, no database, no clock (the caller passes `now`). The Slack
adapter runs `handle` inside `ThreadStore.transact`, which may call it twice when a compare-and-set retries;
nothing here has side effects, so that is safe. Sending the messages, adding reactions and posting the
escalation happen in the adapter, after the store has accepted the new state.

A turn that changes nothing returns the state it was given (same object, same version), and the store then
writes nothing. Every change returns a state with `version` one higher, and the offers (buttons) made in that
turn carry the new version.

The engine speaks in reply values (kbbot.conversation.replies): it never builds Block Kit, escapes mrkdwn or
writes a mention. How the adapter drives it:

    turn = await store.transact(key, conversation.updater(UserTurn(user=..., text=...), now=time.time()))
    for reply in turn.replies: render it (kbbot.slack.blocks) and post it in the thread (a private notice
                               to the presser only; a step may replace the step message `state.step_ts`)
    for name in turn.reactions: add it to the person's message (a button press: the thread's first message)
    if turn.escalation: render turn.escalation.summary with the thread's permalink and post it where the
                        humans are (the thread has already been told who was asked)

    /kb TEXT                    -> conversation.lookup(TEXT, user=...)    (ephemeral, no thread state)
    a LOOKUP offer on /kb       -> conversation.lookup(article id, user=...)
    a SHARE offer               -> conversation.share(article id, user=..., now=...)  (the card is posted to the
                                   channel and turn.state stored for the thread under it, so typed replies there
                                   are answered; its offers are marked shared and work even if that state could
                                   not be stored)
    any other button            -> handle(state, UserTurn(user, pressed=<the decoded Offer>))

A typed message is classified (`_classify`, IntentSet.classify with the thread's moment: answer shown, step k of
N, last step, short list, product asked) into an `Action`, a question (searched), small talk, or unsure (asked
back, with buttons: never "I don't know this one" in the middle of a fix); a button press decodes to the same
`Action`; both go through one `match` in `_act`. A stale button (its version is not the one the thread's latest
buttons carry, `ThreadState.offers_version`) gets a private notice for the presser and changes nothing.
Once kbbot has replied in a thread it stores a state for it, so the adapter can tell the threads it is part of
by `store.get(key) is not None`. After an escalation, plain thread
replies (origin "thread") get no answer: people are talking to each other; a mention still reaches the bot.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kbbot.article import Article, normalise_qid
from kbbot.conversation import messages as msg
from kbbot.conversation.examples import KbExamples
from kbbot.conversation.focus import SectionScorer, case_section
from kbbot.conversation.intents import IntentMatch, IntentSet, Label, Moment, moment_of, normalise
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
    notice,
    say,
)
from kbbot.conversation.state import HistoryEntry, ThreadEvent, ThreadState
from kbbot.render import plain_text
from kbbot.search.types import SearchContext, SearchHit, SearchResult

log = logging.getLogger(__name__)

Origin = Literal["mention", "dm", "thread"]

RESOLVED_REACTION = "white_check_mark"


class ArticleSource(Protocol):
    """What the engine needs of the knowledge base (kbbot.kb.KnowledgeBase provides it)."""

    def get(self, qid: str) -> Article | None: ...

    def closest_ids(self, qid: str, limit: int = 3) -> Sequence[str]: ...


class Searcher(Protocol):
    """What the engine needs of search (kbbot.search.SearchEngine provides it)."""

    def search(self, text: str, *, limit: int = 10, context: SearchContext | None = None) -> SearchResult: ...


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    # Who is asked on escalation, as people should read it ("#it-helpdesk", "the support team"). Where the
    # summary is posted is the adapter's business (Settings.escalation_channel).
    escalation_target: str = "the support team"
    search_limit: int = 10
    shortlist_size: int = 5
    # Longer messages get "paste just the error line" instead of a search.
    max_question_chars: int = 2000
    # A message of at most this many words after an unanswered question refines it ("on exchange 5.5").
    refine_max_words: int = 4
    # Ask "which product?" when a shortlist spans at least this many products and none is established yet.
    product_question_min: int = 2
    # "Didn't work" and "not my problem" move on to the next candidate only while it is a plausible one: scored
    # at least this share of the best hit, and among the first `shortlist_size`. Past that the honest next step
    # is a human, not the tenth-best article.
    candidate_min_ratio: float = 0.6


@dataclass(frozen=True, slots=True)
class UserTurn:
    """One thing a person did: typed `text`, or pressed a button (`pressed`: the offer it was drawn from)."""

    user: str
    text: str = ""
    pressed: Offer | None = None
    origin: Origin = "thread"


@dataclass(frozen=True, slots=True)
class Escalation:
    """A request for a human: the adapter renders `summary` with the thread's permalink and posts it where
    `target` points (Settings.escalation_channel)."""

    summary: EscalationSummary
    target: str


@dataclass(frozen=True, slots=True)
class Turn:
    """The engine's answer: the thread's new state (to store), replies to post in the thread, reactions to add
    to the person's message, and an escalation to post elsewhere."""

    state: ThreadState | None
    replies: list[Reply] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    escalation: Escalation | None = None


# What `ThreadStore.transact` runs: the stored state in, (state to store, the turn's result) out.
TurnFn = Callable[[ThreadState | None], tuple[ThreadState | None, "Turn"]]

_QID_TEXT = re.compile(r"^\s*(?:q|kb)?\s*\d{1,7}\s*$", re.IGNORECASE)
# How long a step's text may be in the escalation summary's "tried" list.
TRIED_STEP_CHARS = 120
# A method's label inside "That method didn't do it. Let's try another one: ..."
METHOD_LABEL_CHARS = 200
# How many choices a product question offers, how many see-also articles a step, how many near numbers /kb.
MAX_PRODUCT_CHOICES = 5
MAX_STEP_REFERENCES = 5
CLOSEST_IDS = 3
_STEP_DELTAS = {Action.NEXT: 1, Action.BACK: -1, Action.REPEAT: 0}
# The classifier's labels that name an action of the same name; smalltalk, question and unsure are the engine's
# own decisions (`_on_text`).
_LABEL_ACTIONS: dict[Label, Action] = {
    label: Action(label.value) for label in Label if label.value in {a.value for a in Action}
}


class Conversation:
    def __init__(
        self,
        *,
        kb: ArticleSource,
        search: Searcher,
        intents: IntentSet,
        settings: ConversationSettings,
        examples: KbExamples | None = None,
        sections: SectionScorer | None = None,
    ) -> None:
        """`sections` scores an article's sections against a question (SearchEngine.section_scores): with it,
        a page with one section per error answers with the case asked about (kbbot/conversation/focus.py)."""
        self._kb = kb
        self._sections = sections
        # None: drawn from the KB itself the first time help or a hint needs one (KbExamples.sample)
        self._examples = examples
        # Whether the KB has an article: KnowledgeBase answers that from its id table (`in`), without decoding
        # the article, which for the ten hits of every search cost a tenth of a turn; a source with only `get`
        # is asked for the article.
        contains = getattr(kb, "__contains__", None)
        self._has: Callable[[str], bool] = (
            contains if contains is not None else (lambda qid: kb.get(qid) is not None)
        )
        self._search = search
        self._intents = intents
        self._settings = settings

    @property
    def examples(self) -> KbExamples:
        """The KB's own examples for help, the no-match hint and `/kb` usage (computed once)."""
        if self._examples is None:
            ids = getattr(self._kb, "ids", None)
            self._examples = KbExamples.sample(list(ids()) if callable(ids) else [], self._kb.get)
        return self._examples

    # --- entry points -------------------------------------------------------------------------------------

    def handle(self, state: ThreadState | None, turn: UserTurn, *, now: float) -> Turn:
        """Everything that happens in a thread goes through here. Never raises: a bug becomes an apology."""
        try:
            if turn.pressed is not None:
                return self._on_press(state, turn, turn.pressed, now)
            result = self._on_text(state, turn, now)
            if state is None and result.state is None and result.replies:
                # Once kbbot has spoken in a thread it is part of it: remember the thread (status "new"), so the
                # adapter hears the person's next reply there ("hi" first, the question second).
                result = dataclasses.replace(result, state=ThreadState(asker=turn.user).evolve(now=now))
            return result
        except Exception:
            action = turn.pressed.action if turn.pressed else None
            log.exception("conversation turn failed (user %s, action %s)", turn.user, action)
            return Turn(state=state, replies=[notice(msg.INTERNAL_ERROR)])

    def updater(self, turn: UserTurn, *, now: float) -> TurnFn:
        """The `fn` for `ThreadStore.transact`: `turn = await store.transact(key, conv.updater(t, now=now))`."""

        def apply(state: ThreadState | None) -> tuple[ThreadState | None, Turn]:
            result = self.handle(state, turn, now=now)
            return result.state, result

        return apply

    def lookup(self, text: str, *, user: str) -> Reply:
        """`/kb ...`: an article by number, the nearest numbers, a search, or usage. Not tied to a thread."""
        query = text.strip()
        if not query or query.lower() in {"help", "?", "usage", "-h", "--help"}:
            return self._usage()
        if len(query) > self._settings.max_question_chars:
            return notice(msg.TOO_LONG, chars=len(query))
        if _QID_TEXT.match(query):
            qid = normalise_qid(query.replace(" ", ""))
            if qid:
                article = self._kb.get(qid)
                if article is not None:
                    return lookup_reply(article, None)
                return self._closest_reply(qid)
        result = self._search.search(query, limit=self._settings.search_limit, context=None)
        hits = [h for h in result.hits if self._kb.get(h.id) is not None]
        if not hits or result.band == "none":
            return NoMatchReply(question=query, example=self.examples.error_line)
        if result.band == "answer":
            best = self._kb.get(hits[0].id)
            assert best is not None
            return lookup_reply(best, hits[0])
        shortlist = tuple(hits[: self._settings.shortlist_size])
        offers = tuple(Offer(Action.LOOKUP, article_id=h.id) for h in shortlist)
        return ShortlistReply(hits=shortlist, offers=offers, lookup=True)

    def share(self, article_id: str, *, user: str, now: float) -> Turn:
        """What `kb:share` posts in the channel, and the state of the thread under that card: the article on the
        table, as after an answer, so "walk me through" typed there works as the button does."""
        article = self._kb.get(article_id)
        if article is None:
            return Turn(state=None, replies=[notice(msg.NOT_IN_KB, qid=article_id)])
        fresh = ThreadState(asker=user)
        state = fresh.evolve(
            now=now,
            status="answered",
            article_id=article.id,
            history=fresh.with_event(ThreadEvent.SHARED, now=now, article_id=article.id),
        )
        intro = say(msg.SHARED_BY, user=Mention(user), qid=article.name)
        card = AnswerReply(
            article=article, hit=None, intro=intro, offers=answer_offers(article, state.version, shared=True)
        )
        return Turn(state=state, replies=[card])

    def step_shown(self, state: ThreadState | None) -> StepReply | None:
        """The step `state` is on, without its buttons: what the adapter leaves in place of a step message
        that has moved on (None when the thread is not on a step)."""
        if state is None or state.status != "walking":
            return None
        article = self._walking_article(state)
        if article is None or state.step_no >= len(article.procedures[state.procedure_no].steps):
            return None
        return StepReply(article=article, procedure_no=state.procedure_no, step_no=state.step_no)

    # --- one dispatch for buttons and typed messages ----------------------------------------------------------

    def _on_press(self, state: ThreadState | None, turn: UserTurn, offer: Offer, now: float) -> Turn:
        if offer.action is Action.LOOKUP:
            return Turn(state=state, replies=[self.lookup(offer.article_id or "", user=turn.user)])
        if offer.action is Action.SHARE:
            # posted elsewhere (the channel); this thread's own state is not touched
            shared = self.share(offer.article_id or "", user=turn.user, now=now)
            return Turn(state=state, replies=shared.replies)
        current = state.offers_version if state is not None else 0
        if state is None and offer.shared:
            # a shared card whose thread state was never stored (the store was down) or has expired: its buttons
            # still start the thread
            current = offer.version
        if offer.version != current:
            # a doubled or late click: only the presser hears about it, the thread stays as it is
            return Turn(state=state, replies=[NoticeReply(wording=say(msg.STALE_ACTION), private=True)])
        st = state or ThreadState(asker=turn.user)
        return self._act(offer.action, st, state, turn, now, offer=offer)

    def _on_text(self, state: ThreadState | None, turn: UserTurn, now: float) -> Turn:
        text = turn.text or ""
        if len(text) > self._settings.max_question_chars:
            return self._reply(state, msg.TOO_LONG, chars=len(text))
        moment = self._moment(state)
        intent = self._classify(text, moment)
        label = intent.label or Label.QUESTION
        action = _LABEL_ACTIONS.get(label)
        st = state or ThreadState(asker=turn.user)
        # After a hand-over, people talk to each other in the thread: stay quiet unless addressed directly.
        if (
            state is not None
            and state.status == "escalated"
            and turn.origin == "thread"
            and action not in {Action.START_OVER, Action.HELP}
        ):
            return Turn(state=state)
        if label is Label.SMALLTALK and intent.cue == "aside" and self._run_search(text, st)[0].band == "answer":
            # "lol the printer shows paper jam": chat by its words, a problem the KB answers with confidence
            label = Label.QUESTION
        if label is Label.QUESTION and normalise(text):
            return self._question(st, text, turn, now, original=state)
        if label is Label.SMALLTALK:
            return self._small_talk(state, intent, text, moment)
        if action is None:
            return self._unsure(state, text, moment)
        return self._act(action, st, state, turn, now, intent=intent)

    def _moment(self, state: ThreadState | None) -> Moment:
        """Where the thread is, as the classifier reads it: answer shown, step k of N, last step, ..."""
        if state is None:
            return Moment.NEW
        article = self._walking_article(state)
        total = len(article.procedures[state.procedure_no].steps) if article is not None else 0
        return moment_of(state, total)

    def _classify(self, text: str, moment: Moment) -> IntentMatch:
        """What a typed message asks for at this moment of its thread. The one place the classifier is called;
        it reads only `IntentMatch.label`, `.step_number`, `.slots` and `.cue`."""
        return self._intents.classify(text, moment=moment)

    def _small_talk(self, original: ThreadState | None, intent: IntentMatch, text: str, moment: Moment) -> Turn:
        """ "hi", "thx", "lol": a greeting or thanks back; mid-walk, a reminder of where we are."""
        if intent.cue == "thanks":  # the family the classifier read it from (both are SMALLTALK)
            return self._reply(original, msg.THANKS)
        if moment is Moment.WALKING and original is not None:
            return self._reply(original, msg.SMALLTALK_WALKING, n=original.step_no + 2)
        if moment is Moment.NEW:
            return self._reply(original, msg.GREETING)
        # "ok cool" answers no question kbbot asked (did it fix it, walk through, which one, shall I ask a human)
        return self._unsure(original, text, moment)

    def _unsure(self, original: ThreadState | None, text: str, moment: Moment) -> Turn:
        """Neither clearly a request nor a searchable question: ask back, with the likely answers as buttons
        (never "I don't know this one" in the middle of a fix)."""
        st = original
        if st is None or moment is Moment.NEW:
            if st is not None and st.status == "resolved":
                return self._reply(original, msg.ALREADY_RESOLVED)
            if st is not None and st.status == "no_match":
                return self._reply(original, msg.DENIED)
            return self._reply(original, msg.EMPTY_MESSAGE if not normalise(text) else msg.NOTHING_YET)
        version, aid = st.offers_version, st.article_id
        offers: tuple[Offer, ...]
        match moment:
            case Moment.WALKING:
                wording = say(msg.CLARIFY_WALKING)
                offers = _go_on_offers(st)
            case Moment.LAST_STEP:
                wording = say(msg.CLARIFY_LAST_STEP)
                offers = outcome_offers(version, aid or "", st.procedure_no, st.step_no)
            case Moment.ANSWERED:
                article = self._kb.get(aid) if aid else None
                wording = say(msg.CLARIFY_ANSWERED)
                walk = Offer(Action.WALK, version, article_id=aid, suggested=True)
                offers = (walk,) if article and article.procedures else ()
                offers += (Offer(Action.NOT_MINE, version, article_id=aid),)
            case Moment.EXHAUSTED:
                return self._reply(original, msg.DENIED)
            case _:  # a shortlist or a product question is up
                return self._reply(original, msg.CHOOSE_ABOVE)
        return Turn(state=original, replies=[ClarifyReply(wording=wording, offers=offers)])

    def _act(
        self,
        action: Action,
        st: ThreadState,
        state: ThreadState | None,
        turn: UserTurn,
        now: float,
        *,
        offer: Offer | None = None,
        intent: IntentMatch | None = None,
    ) -> Turn:
        """Do `action`, pressed (`offer`: the button, whose values win) or typed (`intent`)."""
        pressed = offer or Offer(action)
        article_id = pressed.article_id or st.article_id
        match action:
            case Action.WALK:
                return self._walk(st, state, article_id, now, typed=offer is None)
            case Action.NEXT | Action.BACK | Action.REPEAT:
                return self._move(st, state, now, delta=_STEP_DELTAS[action])
            case Action.GOTO:
                n = intent.step_number if intent else None
                return self._move(st, state, now, target=(n - 1) if n else 0)
            case Action.WORKED:
                return self._resolved(st, article_id, now, original=state)
            case Action.FAILED:
                return self._failed(st, now, original=state)
            case Action.ALL_STEPS:
                return self._all_steps(state, st)
            case Action.FULL:
                return self._full(state, st, article_id)
            case Action.NOT_MINE:
                return self._rule_out(st, article_id, now, original=state)
            case Action.ESCALATE:
                return self._escalate(st, turn, now, original=state)
            case Action.START_OVER:
                return self._start_over(state, turn, now)
            case Action.HELP:
                return Turn(state=state, replies=[notice(self._help_template(), **self._help_fills())])
            case Action.LOOKUP:
                return self._typed_lookup(st, state, intent, turn, now)
            case Action.PICK:
                return self._show_article(st, article_id, now, original=state)
            case Action.PRODUCT:
                return self._product_chosen(st, pressed.choice or "", turn, now, original=state)
            case Action.REF:
                return self._reference(state, st, pressed.article_id or "")
            case Action.SHARE:  # handled before the version check (`_on_press`); never typed
                return self._reply(state, msg.STALE_ACTION)

    def _walk(
        self, st: ThreadState, state: ThreadState | None, article_id: str | None, now: float, *, typed: bool
    ) -> Turn:
        if typed and st.status == "walking":
            return self._move(st, state, now, delta=0)  # "walk me through" typed mid-walk: where we are
        return self._start_walk(st, article_id, now, original=state)

    def _start_over(self, state: ThreadState | None, turn: UserTurn, now: float) -> Turn:
        if state is None:
            return Turn(state=None, replies=[notice(msg.START_OVER)])
        fresh = ThreadState(version=state.version + 1, asker=turn.user, created_at=now, updated_at=now)
        return Turn(state=fresh, replies=[notice(msg.START_OVER)])

    def _typed_lookup(
        self, st: ThreadState, state: ThreadState | None, intent: IntentMatch | None, turn: UserTurn, now: float
    ) -> Turn:
        qid = normalise_qid(intent.slots.get("qid", "")) if intent else None
        if qid is None:
            return self._reply(state, msg.EMPTY_MESSAGE)
        if self._kb.get(qid) is None:
            return Turn(state=state, replies=[self._closest_reply(qid)])
        return self._show_article(st, qid, now, original=state, question=turn.text)

    # --- questions and search -------------------------------------------------------------------------------

    def _question(
        self, st: ThreadState, text: str, turn: UserTurn, now: float, *, original: ThreadState | None
    ) -> Turn:
        query = " ".join(text.split())
        refining = st.status in {"answered", "choosing", "choosing_product", "no_match"} and st.question
        if refining and len(query.split()) <= self._settings.refine_max_words:
            query = f"{st.question} {query}"
        result = self._run_search(query, st)
        hits = result[1]
        if (not hits or result[0].band == "none") and original is not None and original.status == "walking":
            # A stray remark mid-fix ("hmm, regedit?") that finds nothing must not throw away the position.
            return self._still_here(original)
        base = st.evolve(
            now=now,
            question=query,
            asker=st.asker or turn.user,
            candidates=self._plausible(hits),
            article_id=None,
            procedure_no=0,
            step_no=0,
            outcome=None,
            product_choices=(),
        )
        return self._present(base, result[0], hits, now)

    def _run_search(self, query: str, st: ThreadState) -> tuple[SearchResult, list[SearchHit]]:
        context = SearchContext(product=st.product, excluded=frozenset(st.excluded))
        result = self._search.search(query, limit=self._settings.search_limit, context=context)
        hits = [h for h in result.hits if h.id not in st.excluded and self._has(h.id)]
        if st.product:
            same = [h for h in hits if _same_product(h.product, st.product)]
            hits = same or hits
        return result, hits

    def _plausible(self, hits: list[SearchHit]) -> tuple[str, ...]:
        """The hits worth offering one after another when the first does not fix it."""
        if not hits:
            return ()
        floor = hits[0].score * self._settings.candidate_min_ratio
        close = [h.id for h in hits[: self._settings.shortlist_size] if h.score >= floor]
        return tuple(close) or (hits[0].id,)

    def _present(
        self,
        base: ThreadState,
        result: SearchResult,
        hits: list[SearchHit],
        now: float,
        intro: Wording | None = None,
    ) -> Turn:
        """Turn a search result into the right card; `base` is the already-evolved state."""
        if not hits or result.band == "none":
            new = _replace(base, status="no_match", candidates=())
            no_match = NoMatchReply(question=base.question, example=self.examples.error_line)
            return Turn(state=new, replies=[no_match])
        if result.band == "answer" or len(hits) == 1:
            return self._answer(base, hits[0], now, intro=intro)
        shortlist = hits[: self._settings.shortlist_size]
        products = list(dict.fromkeys(h.product for h in shortlist if h.product))
        if base.product is None and len(products) >= self._settings.product_question_min:
            new = _replace(base, status="choosing_product", product_choices=tuple(products))
            choices = tuple(products[:MAX_PRODUCT_CHOICES])
            offers = tuple(Offer(Action.PRODUCT, new.version, choice=p) for p in choices)
            return Turn(state=new, replies=[ProductQuestionReply(choices=choices, offers=offers)])
        new = _replace(base, status="choosing")
        picks = tuple(Offer(Action.PICK, new.version, article_id=h.id) for h in shortlist)
        reply = ShortlistReply(hits=tuple(shortlist), intro=intro, offers=picks)
        return Turn(state=new, replies=[reply])

    def _answer(self, base: ThreadState, hit: SearchHit, now: float, *, intro: Wording | None = None) -> Turn:
        article = self._kb.get(hit.id)
        assert article is not None  # hits are filtered to articles the KB has
        # a page with one section per error: the card shows, and the walk-through walks, the asked-about one
        asked = base.question if base.question and base.question != article.title else ""  # not a /kb lookup
        focus = case_section(article, asked, self._sections, hit.matched_error)
        proc = next((i for i, p in enumerate(article.procedures) if p.section == focus), 0) if focus else 0
        new = _replace(
            base,
            status="answered",
            article_id=article.id,
            procedure_no=proc,
            step_no=0,
            history=base.with_event(ThreadEvent.ANSWERED, now=now, article_id=article.id),
        )
        card = AnswerReply(article=article, hit=hit, intro=intro, offers=answer_offers(article, new.version),
                           focus=focus)
        return Turn(state=new, replies=[card])

    def _product_chosen(
        self, st: ThreadState, product: str, turn: UserTurn, now: float, *, original: ThreadState | None
    ) -> Turn:
        if not product:
            return self._reply(original, msg.STALE_ACTION)
        chosen = _replace(st, product=product)
        result, hits = self._run_search(st.question, chosen)
        base = chosen.evolve(now=now, candidates=self._plausible(hits), product_choices=())
        intro = say(msg.PRODUCT_CHOSEN, product=product)
        if hits and result.band == "none":
            # The first search was unsure across products; within the chosen product a shortlist still helps.
            result = dataclasses.replace(result, band="shortlist")
        return self._present(base, result, hits, now, intro=intro)

    def _show_article(
        self,
        st: ThreadState,
        article_id: str | None,
        now: float,
        *,
        original: ThreadState | None,
        question: str | None = None,
    ) -> Turn:
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOT_IN_KB, qid=article_id or "?")
        candidates = st.candidates if article.id in st.candidates else (article.id, *st.candidates)
        base = st.evolve(now=now, candidates=candidates, question=st.question or (question or article.title))
        hit = SearchHit(id=article.id, title=article.title, score=1.0, product=article.product)
        return self._answer(base, hit, now)

    def _reference(self, original: ThreadState | None, st: ThreadState, article_id: str) -> Turn:
        """A step's "see also" button: show that article; its buttons switch the thread to it if pressed."""
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOT_IN_KB, qid=article_id or "?")
        card = AnswerReply(article=article, hit=None, offers=answer_offers(article, st.offers_version))
        return Turn(state=original, replies=[card])

    # --- walking through a fix ------------------------------------------------------------------------------

    def _start_walk(
        self, st: ThreadState, article_id: str | None, now: float, *, original: ThreadState | None
    ) -> Turn:
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOT_WALKING)
        if not article.procedures:
            return self._reply(original, msg.NO_PROCEDURE, qid=article.name)
        # the procedure of the case the answer card showed (a page with one section per error), else the first
        answered = st.status == "answered" and st.article_id == article.id
        proc = st.procedure_no if answered and 0 <= st.procedure_no < len(article.procedures) else 0
        candidates = st.candidates if article.id in st.candidates else (article.id, *st.candidates)
        new = st.evolve(
            now=now,
            article_id=article.id,
            candidates=candidates,
            question=st.question or article.title,
            procedure_no=proc,
            step_no=0,
            status="walking",
            history=st.with_event(ThreadEvent.SHOWN, now=now, article_id=article.id, procedure_no=proc, step_no=0),
        )
        return Turn(state=new, replies=[self._step_reply(article, proc, 0, version=new.version)])

    def _step_reply(
        self,
        article: Article,
        procedure_no: int,
        step_no: int,
        *,
        version: int,
        intro: Wording | None = None,
        way_out: bool = False,
    ) -> StepReply:
        return step_reply(
            article, procedure_no, step_no, version=version, intro=intro, known=self._has, way_out=way_out
        )

    def _walking_article(self, st: ThreadState) -> Article | None:
        if st.article_id is None:
            return None
        article = self._kb.get(st.article_id)
        if article is None or not article.procedures or st.procedure_no >= len(article.procedures):
            return None
        return article

    def _move(
        self,
        st: ThreadState,
        original: ThreadState | None,
        now: float,
        *,
        delta: int = 0,
        target: int | None = None,
    ) -> Turn:
        if st.status == "resolved":
            return self._reply(original, msg.ALREADY_RESOLVED)
        article = self._walking_article(st)
        if article is None or st.status not in {"walking", "answered"}:
            shown = self._kb.get(st.article_id) if st.article_id and article is None else None
            if shown is not None:
                return self._reply(original, msg.NO_PROCEDURE, qid=shown.name)
            return self._reply(original, msg.NOT_WALKING)
        if st.status != "walking":
            # "next" or "step 3" right after the answer card: the person wants the walk-through.
            if target is None and delta >= 0:
                return self._start_walk(st, article.id, now, original=original)
            st = _replace(st, procedure_no=0, step_no=0)
        total = len(article.procedures[st.procedure_no].steps)
        goal = target if target is not None else st.step_no + delta
        if target is not None and not 0 <= goal < total:
            return self._reply(original, msg.STEP_OUT_OF_RANGE, total=total)
        if goal >= total:
            return self._reply(original, msg.LAST_STEP)
        if goal < 0:
            return self._reply(original, msg.FIRST_STEP)
        if goal == st.step_no and original is not None and original.status == "walking":
            # repeat: same step, same version, nothing to store
            return Turn(
                state=original,
                replies=[self._step_reply(article, st.procedure_no, goal, version=original.offers_version)],
            )
        new = st.evolve(
            now=now,
            step_no=goal,
            status="walking",
            history=st.with_event(
                ThreadEvent.SHOWN, now=now, article_id=article.id, procedure_no=st.procedure_no, step_no=goal
            ),
        )
        return Turn(state=new, replies=[self._step_reply(article, new.procedure_no, goal, version=new.version)])

    def _still_here(self, original: ThreadState) -> Turn:
        """A mid-walk message that found nothing: say so, and where the walk still is."""
        article = self._walking_article(original)
        if article is None:
            return self._reply(original, msg.NOTHING_YET)
        total = len(article.procedures[original.procedure_no].steps)
        offers = _go_on_offers(original)
        if original.step_no + 1 >= total:
            offers = outcome_offers(original.offers_version, article.id, original.procedure_no, original.step_no)
        wording = say(msg.MIDWALK_NO_MATCH, n=original.step_no + 1, total=total)
        return Turn(state=original, replies=[ClarifyReply(wording=wording, offers=offers)])

    def _all_steps(self, original: ThreadState | None, st: ThreadState) -> Turn:
        article = self._walking_article(st)
        if article is None:
            shown = self._kb.get(st.article_id) if st.article_id else None
            if shown is not None:
                return self._reply(original, msg.NO_PROCEDURE, qid=shown.name)
            return self._reply(original, msg.NOTHING_YET)
        outcomes = outcome_offers(st.offers_version, article.id, st.procedure_no, 0)
        steps = AllStepsReply(article=article, procedure_no=st.procedure_no, offers=outcomes)
        return Turn(state=original, replies=[steps])

    def _full(self, original: ThreadState | None, st: ThreadState, article_id: str | None) -> Turn:
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOTHING_YET)
        offers = tuple(o for o in answer_offers(article, st.offers_version) if o.action is not Action.FULL)
        return Turn(state=original, replies=[FullArticleReply(article=article, offers=offers)])

    # --- outcomes -----------------------------------------------------------------------------------------------

    def _resolved(
        self, st: ThreadState, article_id: str | None, now: float, *, original: ThreadState | None
    ) -> Turn:
        if original is None and not article_id:
            return Turn(state=None, replies=[notice(msg.RESOLVED_NO_ARTICLE)])
        if original is not None and original.status == "resolved":
            return Turn(state=original, replies=[notice(msg.RESOLVED_NO_ARTICLE)])
        aid = article_id or ""
        new = st.evolve(
            now=now,
            article_id=article_id,
            status="resolved",
            outcome="worked",
            history=st.with_event(
                ThreadEvent.WORKED, now=now, article_id=aid, procedure_no=st.procedure_no, step_no=st.step_no
            ),
        )
        log.debug("thread resolved by %s (from %s)", aid or "no article", st.status)
        fixed_by = self._kb.get(aid) if aid else None
        if aid:
            said = notice(msg.RESOLVED, qid=fixed_by.name if fixed_by is not None else aid)
        else:
            said = notice(msg.RESOLVED_NO_ARTICLE)
        return Turn(state=new, replies=[said], reactions=[RESOLVED_REACTION])

    def _failed(self, st: ThreadState, now: float, *, original: ThreadState | None) -> Turn:
        article = self._kb.get(st.article_id) if st.article_id else None
        if article is None:
            if st.status in {"no_match", "choosing", "choosing_product", "exhausted"} and original is not None:
                return self._offer_escalation(st, now, original=original)
            return self._reply(original, msg.NOTHING_YET)
        history = st.with_event(
            ThreadEvent.FAILED, now=now, article_id=article.id, procedure_no=st.procedure_no, step_no=st.step_no
        )
        # 0. before the last step, one step rarely fixes it on its own: note it and carry on
        total = len(article.procedures[st.procedure_no].steps) if st.procedure_no < len(article.procedures) else 0
        if st.status == "walking" and st.step_no + 1 < total:
            n = st.step_no + 1
            new = st.evolve(now=now, step_no=n, history=(*history, *_shown(now, article.id, st.procedure_no, n)))
            intro = say(msg.STEP_FAILED_GO_ON, done=st.step_no + 1, n=n + 1)
            step = self._step_reply(article, st.procedure_no, n, version=new.version, intro=intro, way_out=True)
            return Turn(state=new, replies=[step])
        # 1. another method of the same article
        if st.status == "walking" and st.procedure_no + 1 < len(article.procedures):
            m = st.procedure_no + 1
            new = st.evolve(
                now=now,
                procedure_no=m,
                step_no=0,
                status="walking",
                history=(*history, *_shown(now, article.id, m, 0)),
            )
            intro = _method_intro(article, m)
            return Turn(state=new, replies=[self._step_reply(article, m, 0, version=new.version, intro=intro)])
        if st.status == "answered" and article.procedures and len(article.procedures) > 1:
            # The card's resolution (method 1) did not help: walk the next method.
            new = st.evolve(
                now=now,
                procedure_no=1,
                step_no=0,
                status="walking",
                history=(*history, *_shown(now, article.id, 1, 0)),
            )
            intro = _method_intro(article, 1)
            return Turn(state=new, replies=[self._step_reply(article, 1, 0, version=new.version, intro=intro)])
        # 2. the next candidate article
        excluded = tuple(dict.fromkeys((*st.excluded, article.id)))
        nxt = self._next_candidate(st, excluded)
        if nxt is not None:
            base = st.evolve(now=now, excluded=excluded, history=history)
            return self._answer(base, nxt, now, intro=say(msg.NEXT_CANDIDATE))
        # 3. a human
        base = _replace(st, excluded=excluded, history=history)
        return self._offer_escalation(base, now, original=original)

    def _offer_escalation(self, st: ThreadState, now: float, *, original: ThreadState | None) -> Turn:
        new = st.evolve(now=now, status="exhausted", outcome=None)
        offer = EscalationOfferReply(
            wording=say(msg.OFFER_ESCALATION, target=self._settings.escalation_target),
            offers=(Offer(Action.ESCALATE, new.version, suggested=True),),
        )
        return Turn(state=new, replies=[offer])

    def _rule_out(
        self, st: ThreadState, article_id: str | None, now: float, *, original: ThreadState | None
    ) -> Turn:
        if not article_id:
            return self._reply(original, msg.NOTHING_YET)
        excluded = tuple(dict.fromkeys((*st.excluded, article_id)))
        history = st.with_event(ThreadEvent.RULED_OUT, now=now, article_id=article_id)
        nxt = self._next_candidate(st, excluded)
        base = st.evolve(now=now, excluded=excluded, history=history, article_id=None, step_no=0, procedure_no=0)
        if nxt is not None:
            return self._answer(base, nxt, now, intro=say(msg.RULED_OUT))
        new = _replace(base, status="no_match")
        offer = EscalationOfferReply(
            wording=say(msg.OUT_OF_CANDIDATES), offers=(Offer(Action.ESCALATE, new.version, suggested=True),)
        )
        return Turn(state=new, replies=[offer])

    def _next_candidate(self, st: ThreadState, excluded: tuple[str, ...]) -> SearchHit | None:
        for cid in st.candidates:
            if cid in excluded or cid == st.article_id:
                continue
            article = self._kb.get(cid)
            if article is not None:
                return SearchHit(id=article.id, title=article.title, score=0.0, product=article.product)
        return None

    def _escalate(self, st: ThreadState, turn: UserTurn, now: float, *, original: ThreadState | None) -> Turn:
        target = self._settings.escalation_target
        if original is not None and original.status == "escalated":
            return self._reply(original, msg.ALREADY_ESCALATED, target=target)
        asked_before = any(h.event is ThreadEvent.HUMAN_ASKED for h in st.history)
        if turn.pressed is None and not st.question and not st.article_id and not asked_before:
            # "talk to a human" before saying what is wrong: ask first (most problems have an article), and a
            # second ask pages the humans straight away
            new = st.evolve(now=now, history=st.with_event(ThreadEvent.HUMAN_ASKED, now=now))
            wording = say(msg.ESCALATE_ASK_FIRST, target=target)
            offers = (Offer(Action.ESCALATE, new.version),)
            return Turn(state=new, replies=[EscalationOfferReply(wording=wording, offers=offers)])
        details = self._escalation_summary(st, turn)
        new = st.evolve(
            now=now,
            status="escalated",
            outcome="escalated",
            asker=st.asker or turn.user,
            history=st.with_event(ThreadEvent.ESCALATED, now=now, article_id=st.article_id or ""),
        )
        escalation = Escalation(summary=details, target=target)
        log.debug("thread escalated to %s (article %s)", self._settings.escalation_target, st.article_id)
        return Turn(
            state=new, replies=[notice(msg.ESCALATED, target=target)], escalation=escalation
        )

    def _escalation_summary(self, st: ThreadState, turn: UserTurn) -> EscalationSummary:
        tried = [self._tried_line(key, outcome) for key, outcome in _outcomes(st.history).items()]
        article = self._kb.get(st.article_id) if st.article_id else None
        if any(h.event is ThreadEvent.FAILED for h in st.history):
            outcome = msg.OUTCOME_FAILED
        elif article is None:
            outcome = msg.OUTCOME_NO_ARTICLE
        else:
            outcome = msg.OUTCOME_ASKED
        return EscalationSummary(
            question=st.question,
            asker=st.asker or turn.user,
            article_id=article.id if article else None,
            article_title=article.title if article else "",
            steps_tried=tuple(tried),
            outcome=outcome,
        )

    def _tried_line(self, key: tuple[str, str, int, int], outcome: str) -> str:
        kind, qid, m, n = key
        if kind == "step":
            text = self._step_text(qid, m, n)
            return msg.TRIED_STEP.format(qid=qid, m=m + 1, n=n + 1, text=text, outcome=outcome)
        return outcome.format(qid=qid)

    def _step_text(self, article_id: str, procedure_no: int, step_no: int) -> str:
        article = self._kb.get(article_id)
        try:
            assert article is not None
            return clip(plain_text(article.procedures[procedure_no].steps[step_no].text), TRIED_STEP_CHARS)
        except (AssertionError, IndexError):
            return ""

    # --- helpers ------------------------------------------------------------------------------------------------

    def _help_template(self) -> str:
        ex = self.examples
        lines = [msg.HELP_INTRO]
        if ex.products:
            lines.append(msg.HELP_PRODUCTS)
        lines.append(msg.HELP_ASK_EXAMPLE if ex.error_line else msg.HELP_ASK)
        lines.append(msg.HELP_REST)
        if ex.article_id:
            lines.append(msg.HELP_LOOKUP)
        return "\n".join(lines)

    def _help_fills(self) -> dict[str, str]:
        ex = self.examples
        fills = {"products": ", ".join(ex.products), "error": ex.error_line, "qid": ex.article_id}
        return {k: v for k, v in fills.items() if v}

    def _usage(self) -> Reply:
        """`/kb help`: what `/kb` does, with an id and a search this KB answers."""
        ex = self.examples
        lines = [msg.LOOKUP_USAGE_INTRO]
        if ex.article_id:
            lines.append(msg.LOOKUP_USAGE_ID)
        if ex.search:
            lines.append(msg.LOOKUP_USAGE_SEARCH)
        lines.append(msg.LOOKUP_USAGE_HELP)
        fills = {k: v for k, v in {"qid": ex.article_id, "search": ex.search}.items() if v}
        return notice("\n".join(lines), **fills)

    def _closest_reply(self, qid: str) -> ClosestReply:
        """No article `qid`: the nearest numbers the KB has, each offered for a lookup."""
        closest = []
        for cid in self._kb.closest_ids(qid, limit=CLOSEST_IDS):
            article = self._kb.get(cid)
            if article is not None:
                closest.append((article.id, article.title))
        offers = tuple(Offer(Action.LOOKUP, article_id=cid) for cid, _ in closest)
        return ClosestReply(qid=qid, closest=tuple(closest), offers=offers)

    @staticmethod
    def _reply(state: ThreadState | None, template: str, **fills: str | int) -> Turn:
        """A sentence from messages.py that changes nothing in the thread."""
        return Turn(state=state, replies=[notice(template, **fills)])


def _replace(state: ThreadState, **changes: Any) -> ThreadState:
    """Adjust a state already evolved for this turn (no second version bump)."""
    return dataclasses.replace(state, **changes)


def _shown(now: float, article_id: str, procedure_no: int, step_no: int) -> tuple[HistoryEntry, ...]:
    entry = HistoryEntry(
        at=now, event=ThreadEvent.SHOWN, article_id=article_id, procedure_no=procedure_no, step_no=step_no
    )
    return (entry,)


def _outcomes(history: Sequence[HistoryEntry]) -> dict[tuple[str, str, int, int], str]:
    """What became of each step shown (and each article tried), once each, in the order first shown.

    A step counts as done when the walk moved on to a later step of the same procedure without a word about it."""
    out: dict[tuple[str, str, int, int], str] = {}
    last: tuple[str, str, int, int] | None = None
    for h in history:
        key = ("step", h.article_id, h.procedure_no, h.step_no)
        if h.event is ThreadEvent.SHOWN:
            moved_on = last is not None and last[:3] == key[:3] and h.step_no > last[3]
            if last is not None and moved_on and out[last] == msg.STEP_OUTCOME_SHOWN:
                out[last] = msg.STEP_OUTCOME_DONE
            out.setdefault(key, msg.STEP_OUTCOME_SHOWN)
            last = key
        elif h.event in (ThreadEvent.FAILED, ThreadEvent.WORKED) and h.step_no >= 0 and key in out:
            out[key] = msg.STEP_OUTCOME_FAILED if h.event is ThreadEvent.FAILED else msg.STEP_OUTCOME_WORKED
        elif h.event is ThreadEvent.FAILED:
            out.setdefault(("article", h.article_id, -1, -1), msg.TRIED_FAILED)
        elif h.event is ThreadEvent.RULED_OUT:
            out.setdefault(("ruled_out", h.article_id, -1, -1), msg.TRIED_RULED_OUT)
    return out


def _method_intro(article: Article, procedure_no: int) -> Wording:
    """ "That method didn't do it. Let's try another one: <its label>"."""
    label = clip(plain_text(article.procedures[procedure_no].label), METHOD_LABEL_CHARS)
    return say(msg.ALTERNATIVE_METHOD, label=label)


def _go_on_offers(state: ThreadState) -> tuple[Offer, ...]:
    """ "Next step" / "This is a different problem" for the step `state` is on."""
    here = Offer(
        Action.NEXT,
        state.offers_version,
        article_id=state.article_id,
        procedure_no=state.procedure_no,
        step_no=state.step_no,
        suggested=True,
    )
    return here, dataclasses.replace(here, action=Action.NOT_MINE, suggested=False)


def _same_product(a: str, b: str) -> bool:
    a, b = a.casefold().strip(), b.casefold().strip()
    return bool(a) and (a == b or a in b or b in a)


def _action_of(intent: IntentMatch | None) -> Action | None:
    """The action a typed intent names; None for no intent, or one this engine has no action for."""
    if intent is None:
        return None
    try:
        return Action(intent.name)
    except ValueError:
        return None


def answer_offers(article: Article, version: int, *, shared: bool = False) -> tuple[Offer, ...]:
    """Walk me through (when there are steps), full article, not mine, it's fixed."""
    offers = []
    if article.procedures:
        offers.append(Offer(Action.WALK, version, article_id=article.id, shared=shared, suggested=True))
    offers += [
        Offer(Action.FULL, version, article_id=article.id, shared=shared),
        Offer(Action.NOT_MINE, version, article_id=article.id, shared=shared),
        Offer(Action.WORKED, version, article_id=article.id, shared=shared),
    ]
    return tuple(offers)


def outcome_offers(version: int, article_id: str, procedure_no: int, step_no: int) -> tuple[Offer, ...]:
    """It worked, didn't work, ask a human: what a person says after trying a step."""
    return tuple(
        Offer(action, version, article_id=article_id, procedure_no=procedure_no, step_no=step_no)
        for action in (Action.WORKED, Action.FAILED, Action.ESCALATE)
    )


def step_reply(
    article: Article,
    procedure_no: int,
    step_no: int,
    *,
    version: int,
    intro: Wording | None = None,
    known: Callable[[str], bool] | None = None,
    way_out: bool = False,
) -> StepReply:
    """A step with its offers: see-also references (those the KB has, by `known`), back, next, then the
    outcomes; `way_out` adds "not my problem" (after a step that did not fix it)."""
    step = article.procedures[procedure_no].steps[step_no]
    total = len(article.procedures[procedure_no].steps)
    refs = [
        r for r in dict.fromkeys(step.references) if r != article.id and (known is None or known(r))
    ][:MAX_STEP_REFERENCES]
    offers = [Offer(Action.REF, version, article_id=r) for r in refs]
    here = outcome_offers(version, article.id, procedure_no, step_no)[0]  # where this step is
    if step_no > 0:
        offers.append(dataclasses.replace(here, action=Action.BACK))
    if step_no + 1 < total:
        offers.append(dataclasses.replace(here, action=Action.NEXT, suggested=True))
    offers += outcome_offers(version, article.id, procedure_no, step_no)
    if way_out:
        offers.append(dataclasses.replace(here, action=Action.NOT_MINE))
    return StepReply(
        article=article, procedure_no=procedure_no, step_no=step_no, intro=intro, offers=tuple(offers)
    )


def lookup_reply(article: Article, hit: SearchHit | None) -> LookupReply:
    return LookupReply(
        article=article, hit=hit, offers=(Offer(Action.SHARE, article_id=article.id, suggested=True),)
    )
