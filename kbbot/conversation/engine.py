"""The conversation engine: one person's turn in a thread in, replies and the thread's next state out.

Pure and deterministic: no Slack, no network, no database, no clock (the caller passes `now`). The Slack
adapter runs `handle` inside `ThreadStore.transact`, which may call it twice when a compare-and-set retries;
nothing here has side effects, so that is safe. Sending the messages, adding reactions and posting the
escalation happen in the adapter, after the store has accepted the new state.

A turn that changes nothing returns the state it was given (same object, same version), and the store then
writes nothing. Every change returns a state with `version` one higher, and the buttons drawn in that turn
carry the new version (see kbbot.cards for the `kb:` action scheme).

How the adapter drives it:

    turn = await store.transact(key, conversation.updater(UserTurn(user=..., text=...), now=time.time()))
    for message in turn.messages: post it in the thread (text + blocks)
    for name in turn.reactions: add it to the person's message (a button press: the thread's first message)
    if turn.escalation: post turn.escalation.summary_with_link(permalink) where the humans are
                        (the thread has already been told who was asked)

    /kb TEXT              -> conversation.lookup(TEXT, user=...)        (ephemeral, no thread state)
    kb:lookup (bare id)   -> conversation.lookup(value, user=...)       (a /kb shortlist button)
    kb:share  (bare id)   -> conversation.share(value, user=..., now=...)  (the card is posted to the channel and
                             turn.state stored for the thread under it, so typed replies there are answered; its
                             buttons are marked shared and work even if that state could not be stored)
    any other kb: button  -> handle(state, UserTurn(user, action_id=..., action_value=...))

A stale button (its version is not the thread's) gets "that step has moved on" and changes nothing. Once kbbot
has replied in a thread it stores a state for it, so the adapter can tell the threads it is part of by
`store.get(key) is not None`. After an escalation, plain thread replies (origin "thread") get no answer:
people are talking to each other; a mention (origin "mention") still reaches the bot.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kbbot import cards
from kbbot.article import Article, normalise_qid
from kbbot.cards import EscalationDetails, Message
from kbbot.conversation import messages as msg
from kbbot.conversation.intents import IntentMatch, IntentSet, normalise
from kbbot.conversation.state import HistoryEntry, ThreadState
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
    """One thing a person did: typed `text`, or pressed a button (`action_id` + `action_value`)."""

    user: str
    text: str = ""
    action_id: str | None = None
    action_value: str | None = None
    origin: Origin = "thread"


@dataclass(frozen=True, slots=True)
class Escalation:
    """A request for a human. `summary` is rendered without the thread link; the adapter, which knows the
    permalink, calls `summary_with_link(link)` (or `cards.escalation_summary(details, thread_link=link)`)
    and posts that where `target` points (Settings.escalation_channel)."""

    summary: Message
    target: str
    details: EscalationDetails

    def summary_with_link(self, thread_link: str | None) -> Message:
        return cards.escalation_summary(self.details, thread_link=thread_link)


@dataclass(frozen=True, slots=True)
class Turn:
    """The engine's answer: the thread's new state (to store), messages to post in the thread, reactions to add
    to the person's message, and an escalation to post elsewhere."""

    state: ThreadState | None
    messages: list[Message] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    escalation: Escalation | None = None


# What `ThreadStore.transact` runs: the stored state in, (state to store, the turn's result) out.
TurnFn = Callable[[ThreadState | None], tuple[ThreadState | None, "Turn"]]

_QID_TEXT = re.compile(r"^\s*(?:q|kb)?\s*\d{1,7}\s*$", re.IGNORECASE)
_SLACK_ID = re.compile(r"[^A-Za-z0-9]")


class Conversation:
    def __init__(
        self, *, kb: ArticleSource, search: Searcher, intents: IntentSet, settings: ConversationSettings
    ) -> None:
        self._kb = kb
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

    # --- entry points -------------------------------------------------------------------------------------

    def handle(self, state: ThreadState | None, turn: UserTurn, *, now: float) -> Turn:
        """Everything that happens in a thread goes through here. Never raises: a bug becomes an apology."""
        try:
            if turn.action_id:
                return self._on_action(state, turn, now)
            result = self._on_text(state, turn, now)
            if state is None and result.state is None and result.messages:
                # Once kbbot has spoken in a thread it is part of it: remember the thread (status "new"), so the
                # adapter hears the person's next reply there ("hi" first, the question second).
                result = dataclasses.replace(result, state=ThreadState(asker=turn.user).evolve(now=now))
            return result
        except Exception:
            log.exception("conversation turn failed (user %s, action %s)", turn.user, turn.action_id)
            return Turn(state=state, messages=[cards.text_message(msg.INTERNAL_ERROR)])

    def updater(self, turn: UserTurn, *, now: float) -> TurnFn:
        """The `fn` for `ThreadStore.transact`: `turn = await store.transact(key, conv.updater(t, now=now))`."""

        def apply(state: ThreadState | None) -> tuple[ThreadState | None, Turn]:
            result = self.handle(state, turn, now=now)
            return result.state, result

        return apply

    def lookup(self, text: str, *, user: str) -> Message:
        """`/kb ...`: an article by number, the nearest numbers, a search, or usage. Not tied to a thread."""
        query = text.strip()
        if not query or query.lower() in {"help", "?", "usage", "-h", "--help"}:
            return cards.text_message(msg.LOOKUP_USAGE)
        if len(query) > self._settings.max_question_chars:
            return cards.text_message(msg.TOO_LONG.format(chars=len(query)))
        if _QID_TEXT.match(query):
            qid = normalise_qid(query.replace(" ", ""))
            if qid:
                article = self._kb.get(qid)
                if article is not None:
                    return cards.lookup_card(article)
                return cards.closest_card(qid, self._closest(qid))
        result = self._search.search(query, limit=self._settings.search_limit, context=None)
        hits = [h for h in result.hits if self._kb.get(h.id) is not None]
        if not hits or result.band == "none":
            return cards.no_match_card(query)
        if result.band == "answer":
            best = self._kb.get(hits[0].id)
            assert best is not None
            return cards.lookup_card(best, hits[0])
        return cards.shortlist_card(hits[: self._settings.shortlist_size], version=0, lookup=True)

    def share(self, article_id: str, *, user: str, now: float) -> Turn:
        """What `kb:share` posts in the channel, and the state of the thread under that card: the article on the
        table, as after an answer, so "walk me through" typed there works as the button does."""
        article = self._kb.get(article_id)
        if article is None:
            missing = msg.NOT_IN_KB.format(qid=cards.escape_mrkdwn(article_id))
            return Turn(state=None, messages=[cards.text_message(missing)])
        fresh = ThreadState(asker=user)
        state = fresh.evolve(
            now=now,
            status="answered",
            article_id=article.id,
            history=fresh.with_event("shared", now=now, article_id=article.id),
        )
        intro = msg.SHARED_BY.format(user=_SLACK_ID.sub("", user), qid=cards.escape_mrkdwn(article.id))
        card = cards.answer_card(article, None, version=state.version, intro=intro, shared=True)
        return Turn(state=state, messages=[card])

    # --- buttons ------------------------------------------------------------------------------------------

    def _on_action(self, state: ThreadState | None, turn: UserTurn, now: float) -> Turn:
        action = (turn.action_id or "").removeprefix(cards.ACTION_PREFIX)
        if action == "lookup":
            return Turn(state=state, messages=[self.lookup(turn.action_value or "", user=turn.user)])
        if action == "share":
            # posted elsewhere (the channel); this thread's own state is not touched
            shared = self.share(turn.action_value or "", user=turn.user, now=now)
            return Turn(state=state, messages=shared.messages)
        data = cards.parse_action_value(turn.action_value)
        current: object = state.version if state is not None else 0
        if state is None and data.get("s") == 1:
            # a shared card whose thread state was never stored (the store was down) or has expired: its buttons
            # still start the thread
            current = data.get("v")
        if data.get("v") != current:
            return self._reply(state, msg.STALE_ACTION)
        st = state or ThreadState(asker=turn.user)
        article_id = str(data.get("a") or "") or st.article_id
        match action:
            case "walk":
                return self._start_walk(st, article_id, now, original=state)
            case "full":
                return self._full(state, st, article_id)
            case "not_mine":
                return self._rule_out(st, article_id, now, original=state)
            case "fixed" | "worked":
                return self._resolved(st, article_id, now, original=state)
            case "next":
                return self._move(st, state, now, delta=1)
            case "back":
                return self._move(st, state, now, delta=-1)
            case "failed":
                return self._failed(st, now, original=state)
            case "escalate":
                return self._escalate(st, turn, now, original=state)
            case "pick":
                return self._show_article(st, article_id, now, original=state)
            case "product":
                return self._product_chosen(st, str(data.get("c") or ""), turn, now, original=state)
            case "ref":
                return self._reference(state, st, str(data.get("a") or ""))
        log.warning("unknown action %s from %s", turn.action_id, turn.user)
        return self._reply(state, msg.STALE_ACTION)

    # --- typed messages -----------------------------------------------------------------------------------

    def _on_text(self, state: ThreadState | None, turn: UserTurn, now: float) -> Turn:
        text = turn.text or ""
        if len(text) > self._settings.max_question_chars:
            return self._reply(state, msg.TOO_LONG.format(chars=len(text)))
        intent = self._intents.match(text)
        st = state or ThreadState(asker=turn.user)
        # After a hand-over, people talk to each other in the thread: stay quiet unless addressed directly.
        if (
            state is not None
            and state.status == "escalated"
            and turn.origin == "thread"
            and (intent is None or intent.name not in {"start_over", "help"})
        ):
            return Turn(state=state)
        if intent is None:
            if not normalise(text):
                return self._reply(state, msg.EMPTY_MESSAGE)
            return self._question(st, text, turn, now, original=state)
        return self._on_intent(st, state, intent, turn, now)

    def _on_intent(
        self, st: ThreadState, state: ThreadState | None, intent: IntentMatch, turn: UserTurn, now: float
    ) -> Turn:
        match intent.name:
            case "next":
                return self._move(st, state, now, delta=1)
            case "back":
                return self._move(st, state, now, delta=-1)
            case "repeat":
                return self._move(st, state, now, delta=0)
            case "goto":
                n = intent.step_number
                return self._move(st, state, now, target=(n - 1) if n else 0)
            case "walk":
                if st.article_id is None:
                    return self._reply(state, msg.NOT_WALKING)
                if st.status == "walking":
                    return self._move(st, state, now, delta=0)
                return self._start_walk(st, st.article_id, now, original=state)
            case "worked":
                return self._resolved(st, st.article_id, now, original=state)
            case "failed":
                return self._failed(st, now, original=state)
            case "all_steps":
                return self._all_steps(state, st)
            case "full":
                return self._full(state, st, st.article_id)
            case "not_mine":
                return self._rule_out(st, st.article_id, now, original=state)
            case "start_over":
                if state is None:
                    return Turn(state=None, messages=[cards.text_message(msg.START_OVER)])
                fresh = ThreadState(version=state.version + 1, asker=turn.user, created_at=now, updated_at=now)
                return Turn(state=fresh, messages=[cards.text_message(msg.START_OVER)])
            case "escalate":
                return self._escalate(st, turn, now, original=state)
            case "affirm":
                return self._affirm(st, state, turn, now)
            case "deny":
                return self._deny(st, state, now)
            case "help":
                return self._reply(state, msg.HELP)
            case "greeting":
                return self._reply(state, msg.GREETING)
            case "thanks":
                return self._reply(state, msg.THANKS)
            case "lookup":
                qid = normalise_qid(intent.slots.get("qid", ""))
                if qid is None:
                    return self._reply(state, msg.EMPTY_MESSAGE)
                if self._kb.get(qid) is None:
                    return Turn(state=state, messages=[cards.closest_card(qid, self._closest(qid))])
                return self._show_article(st, qid, now, original=state, question=turn.text)
        return self._question(st, turn.text, turn, now, original=state)

    def _affirm(self, st: ThreadState, original: ThreadState | None, turn: UserTurn, now: float) -> Turn:
        """ "yes": to "shall I ask a human?", to "did it fix it?" after the last step, or to an answer card."""
        if st.status == "exhausted":
            return self._escalate(st, turn, now, original=original)
        if st.status == "walking":
            article = self._walking_article(st)
            if article is not None and st.step_no + 1 >= len(article.procedures[st.procedure_no].steps):
                return self._resolved(st, st.article_id, now, original=original)
            return self._move(st, original, now, delta=1)
        if st.status == "answered" and st.article_id:
            return self._start_walk(st, st.article_id, now, original=original)
        return self._reply(original, self._what_now(original))

    def _deny(self, st: ThreadState, original: ThreadState | None, now: float) -> Turn:
        """ "no": the fix did not work (walking), or the answer card is not the problem."""
        if st.status == "walking":
            return self._failed(st, now, original=original)
        if st.status == "answered" and st.article_id:
            return self._rule_out(st, st.article_id, now, original=original)
        if st.status == "exhausted":
            return self._reply(original, msg.DENIED)
        return self._reply(original, self._what_now(original))

    @staticmethod
    def _what_now(state: ThreadState | None) -> str:
        """A nudge for a "yes" or "no" that answers nothing kbbot asked."""
        if state is None or state.status == "new":
            return msg.NOTHING_YET
        if state.status in {"choosing", "choosing_product"}:
            return msg.CHOOSE_ABOVE
        if state.status == "resolved":
            return msg.ALREADY_RESOLVED
        return msg.DENIED

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
            return Turn(state=original, messages=[cards.no_match_card(text)])
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
        self, base: ThreadState, result: SearchResult, hits: list[SearchHit], now: float, intro: str | None = None
    ) -> Turn:
        """Turn a search result into the right card; `base` is the already-evolved state."""
        if not hits or result.band == "none":
            new = _replace(base, status="no_match", candidates=())
            return Turn(state=new, messages=[cards.no_match_card(base.question)])
        if result.band == "answer" or len(hits) == 1:
            return self._answer(base, hits[0], now, intro=intro)
        shortlist = hits[: self._settings.shortlist_size]
        products = list(dict.fromkeys(h.product for h in shortlist if h.product))
        if base.product is None and len(products) >= self._settings.product_question_min:
            new = _replace(base, status="choosing_product", product_choices=tuple(products))
            return Turn(state=new, messages=[cards.product_question_card(products, version=new.version)])
        new = _replace(base, status="choosing")
        return Turn(state=new, messages=[cards.shortlist_card(shortlist, version=new.version, intro=intro)])

    def _answer(self, base: ThreadState, hit: SearchHit, now: float, *, intro: str | None = None) -> Turn:
        article = self._kb.get(hit.id)
        assert article is not None  # hits are filtered to articles the KB has
        new = _replace(
            base,
            status="answered",
            article_id=article.id,
            procedure_no=0,
            step_no=0,
            history=base.with_event("answered", now=now, article_id=article.id),
        )
        return Turn(state=new, messages=[cards.answer_card(article, hit, version=new.version, intro=intro)])

    def _product_chosen(
        self, st: ThreadState, product: str, turn: UserTurn, now: float, *, original: ThreadState | None
    ) -> Turn:
        if not product:
            return self._reply(original, msg.STALE_ACTION)
        chosen = _replace(st, product=product)
        result, hits = self._run_search(st.question, chosen)
        base = chosen.evolve(now=now, candidates=self._plausible(hits), product_choices=())
        intro = msg.PRODUCT_CHOSEN.format(product=cards.escape_mrkdwn(product))
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
            return self._reply(original, msg.NOT_IN_KB.format(qid=cards.escape_mrkdwn(article_id or "?")))
        candidates = st.candidates if article.id in st.candidates else (article.id, *st.candidates)
        base = st.evolve(now=now, candidates=candidates, question=st.question or (question or article.title))
        hit = SearchHit(id=article.id, title=article.title, score=1.0, product=article.product)
        return self._answer(base, hit, now)

    def _reference(self, original: ThreadState | None, st: ThreadState, article_id: str) -> Turn:
        """A step's "see also" button: show that article; its buttons switch the thread to it if pressed."""
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOT_IN_KB.format(qid=cards.escape_mrkdwn(article_id or "?")))
        return Turn(state=original, messages=[cards.answer_card(article, None, version=st.version)])

    # --- walking through a fix ------------------------------------------------------------------------------

    def _start_walk(
        self, st: ThreadState, article_id: str | None, now: float, *, original: ThreadState | None
    ) -> Turn:
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOT_WALKING)
        if not article.procedures:
            return self._reply(original, msg.NO_PROCEDURE.format(qid=cards.escape_mrkdwn(article.id)))
        candidates = st.candidates if article.id in st.candidates else (article.id, *st.candidates)
        new = st.evolve(
            now=now,
            article_id=article.id,
            candidates=candidates,
            question=st.question or article.title,
            procedure_no=0,
            step_no=0,
            status="walking",
            history=st.with_event("shown", now=now, article_id=article.id, procedure_no=0, step_no=0),
        )
        return Turn(state=new, messages=[cards.step_card(article, 0, 0, version=new.version)])

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
            if st.article_id and article is None and self._kb.get(st.article_id) is not None:
                return self._reply(original, msg.NO_PROCEDURE.format(qid=cards.escape_mrkdwn(st.article_id)))
            return self._reply(original, msg.NOT_WALKING)
        if st.status != "walking":
            # "next" or "step 3" right after the answer card: the person wants the walk-through.
            if target is None and delta >= 0:
                return self._start_walk(st, article.id, now, original=original)
            st = _replace(st, procedure_no=0, step_no=0)
        total = len(article.procedures[st.procedure_no].steps)
        goal = target if target is not None else st.step_no + delta
        if target is not None and not 0 <= goal < total:
            return self._reply(original, msg.STEP_OUT_OF_RANGE.format(total=total))
        if goal >= total:
            return self._reply(original, msg.LAST_STEP)
        if goal < 0:
            return self._reply(original, msg.FIRST_STEP)
        if goal == st.step_no and original is not None and original.status == "walking":
            # repeat: same step, same version, nothing to store
            return Turn(
                state=original,
                messages=[cards.step_card(article, st.procedure_no, goal, version=original.version)],
            )
        new = st.evolve(
            now=now,
            step_no=goal,
            status="walking",
            history=st.with_event(
                "shown", now=now, article_id=article.id, procedure_no=st.procedure_no, step_no=goal
            ),
        )
        return Turn(state=new, messages=[cards.step_card(article, new.procedure_no, goal, version=new.version)])

    def _all_steps(self, original: ThreadState | None, st: ThreadState) -> Turn:
        article = self._walking_article(st)
        if article is None:
            if st.article_id and self._kb.get(st.article_id) is not None:
                return self._reply(original, msg.NO_PROCEDURE.format(qid=cards.escape_mrkdwn(st.article_id)))
            return self._reply(original, msg.NOTHING_YET)
        return Turn(state=original, messages=[cards.all_steps_card(article, st.procedure_no, version=st.version)])

    def _full(self, original: ThreadState | None, st: ThreadState, article_id: str | None) -> Turn:
        article = self._kb.get(article_id) if article_id else None
        if article is None:
            return self._reply(original, msg.NOTHING_YET)
        return Turn(state=original, messages=cards.full_article_card(article, version=st.version))

    # --- outcomes -----------------------------------------------------------------------------------------------

    def _resolved(
        self, st: ThreadState, article_id: str | None, now: float, *, original: ThreadState | None
    ) -> Turn:
        if original is None and not article_id:
            return Turn(state=None, messages=[cards.text_message(msg.RESOLVED_NO_ARTICLE)])
        if original is not None and original.status == "resolved":
            return Turn(state=original, messages=[cards.text_message(msg.RESOLVED_NO_ARTICLE)])
        aid = article_id or ""
        new = st.evolve(
            now=now,
            article_id=article_id,
            status="resolved",
            outcome="worked",
            history=st.with_event(
                "worked", now=now, article_id=aid, procedure_no=st.procedure_no, step_no=st.step_no
            ),
        )
        log.debug("thread resolved by %s (from %s)", aid or "no article", st.status)
        text = msg.RESOLVED.format(qid=cards.escape_mrkdwn(aid)) if aid else msg.RESOLVED_NO_ARTICLE
        return Turn(state=new, messages=[cards.text_message(text)], reactions=[RESOLVED_REACTION])

    def _failed(self, st: ThreadState, now: float, *, original: ThreadState | None) -> Turn:
        article = self._kb.get(st.article_id) if st.article_id else None
        if article is None:
            if st.status in {"no_match", "choosing", "choosing_product", "exhausted"} and original is not None:
                return self._offer_escalation(st, now, original=original)
            return self._reply(original, msg.NOTHING_YET)
        history = st.with_event(
            "failed", now=now, article_id=article.id, procedure_no=st.procedure_no, step_no=st.step_no
        )
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
            intro = msg.ALTERNATIVE_METHOD.format(label=cards.clip_mrkdwn(article.procedures[m].label, 200))
            return Turn(state=new, messages=[cards.step_card(article, m, 0, version=new.version, intro=intro)])
        if st.status == "answered" and article.procedures and len(article.procedures) > 1:
            # The card's resolution (method 1) did not help: walk the next method.
            new = st.evolve(
                now=now,
                procedure_no=1,
                step_no=0,
                status="walking",
                history=(*history, *_shown(now, article.id, 1, 0)),
            )
            intro = msg.ALTERNATIVE_METHOD.format(label=cards.clip_mrkdwn(article.procedures[1].label, 200))
            return Turn(state=new, messages=[cards.step_card(article, 1, 0, version=new.version, intro=intro)])
        # 2. the next candidate article
        excluded = tuple(dict.fromkeys((*st.excluded, article.id)))
        nxt = self._next_candidate(st, excluded)
        if nxt is not None:
            base = st.evolve(now=now, excluded=excluded, history=history)
            return self._answer(base, nxt, now, intro=msg.NEXT_CANDIDATE)
        # 3. a human
        base = _replace(st, excluded=excluded, history=history)
        return self._offer_escalation(base, now, original=original)

    def _offer_escalation(self, st: ThreadState, now: float, *, original: ThreadState | None) -> Turn:
        new = st.evolve(now=now, status="exhausted", outcome=None)
        target = cards.escape_mrkdwn(self._settings.escalation_target)
        card = cards.escalation_offer_card(msg.OFFER_ESCALATION.format(target=target), version=new.version)
        return Turn(state=new, messages=[card])

    def _rule_out(
        self, st: ThreadState, article_id: str | None, now: float, *, original: ThreadState | None
    ) -> Turn:
        if not article_id:
            return self._reply(original, msg.NOTHING_YET)
        excluded = tuple(dict.fromkeys((*st.excluded, article_id)))
        history = st.with_event("ruled_out", now=now, article_id=article_id)
        nxt = self._next_candidate(st, excluded)
        base = st.evolve(now=now, excluded=excluded, history=history, article_id=None, step_no=0, procedure_no=0)
        if nxt is not None:
            return self._answer(base, nxt, now, intro=msg.RULED_OUT)
        new = _replace(base, status="no_match")
        return Turn(state=new, messages=[cards.escalation_offer_card(msg.OUT_OF_CANDIDATES, version=new.version)])

    def _next_candidate(self, st: ThreadState, excluded: tuple[str, ...]) -> SearchHit | None:
        for cid in st.candidates:
            if cid in excluded or cid == st.article_id:
                continue
            article = self._kb.get(cid)
            if article is not None:
                return SearchHit(id=article.id, title=article.title, score=0.0, product=article.product)
        return None

    def _escalate(self, st: ThreadState, turn: UserTurn, now: float, *, original: ThreadState | None) -> Turn:
        target = cards.escape_mrkdwn(self._settings.escalation_target)
        if original is not None and original.status == "escalated":
            return self._reply(original, msg.ALREADY_ESCALATED.format(target=target))
        details = self._escalation_details(st, turn)
        new = st.evolve(
            now=now,
            status="escalated",
            outcome="escalated",
            asker=st.asker or turn.user,
            history=st.with_event("escalated", now=now, article_id=st.article_id or ""),
        )
        escalation = Escalation(
            summary=cards.escalation_summary(details, thread_link=None),
            target=self._settings.escalation_target,
            details=details,
        )
        log.debug("thread escalated to %s (article %s)", self._settings.escalation_target, st.article_id)
        return Turn(
            state=new, messages=[cards.text_message(msg.ESCALATED.format(target=target))], escalation=escalation
        )

    def _escalation_details(self, st: ThreadState, turn: UserTurn) -> EscalationDetails:
        tried: list[str] = []
        seen: set[tuple[str, int, int]] = set()
        for h in st.history:
            if h.event == "shown" and (h.article_id, h.procedure_no, h.step_no) not in seen:
                seen.add((h.article_id, h.procedure_no, h.step_no))
                text = self._step_text(h.article_id, h.procedure_no, h.step_no)
                tried.append(
                    msg.TRIED_STEP.format(qid=h.article_id, m=h.procedure_no + 1, n=h.step_no + 1, text=text)
                )
            elif h.event == "failed":
                tried.append(msg.TRIED_FAILED.format(qid=h.article_id))
            elif h.event == "ruled_out":
                tried.append(msg.TRIED_RULED_OUT.format(qid=h.article_id))
        article = self._kb.get(st.article_id) if st.article_id else None
        if any(h.event == "failed" for h in st.history):
            outcome = msg.OUTCOME_FAILED
        elif article is None:
            outcome = msg.OUTCOME_NO_ARTICLE
        else:
            outcome = msg.OUTCOME_ASKED
        return EscalationDetails(
            question=st.question,
            asker=st.asker or turn.user,
            article_id=article.id if article else None,
            article_title=article.title if article else "",
            steps_tried=tuple(tried),
            outcome=outcome,
        )

    def _step_text(self, article_id: str, procedure_no: int, step_no: int) -> str:
        article = self._kb.get(article_id)
        try:
            assert article is not None
            return cards.clip(article.procedures[procedure_no].steps[step_no].text, 120)
        except (AssertionError, IndexError):
            return ""

    # --- helpers ------------------------------------------------------------------------------------------------

    def _closest(self, qid: str) -> list[tuple[str, str]]:
        out = []
        for cid in self._kb.closest_ids(qid, limit=3):
            article = self._kb.get(cid)
            if article is not None:
                out.append((article.id, article.title))
        return out

    @staticmethod
    def _reply(state: ThreadState | None, text: str) -> Turn:
        """A reply that changes nothing in the thread."""
        return Turn(state=state, messages=[cards.text_message(text)])


def _replace(state: ThreadState, **changes: Any) -> ThreadState:
    """Adjust a state already evolved for this turn (no second version bump)."""
    return dataclasses.replace(state, **changes)


def _shown(now: float, article_id: str, procedure_no: int, step_no: int) -> tuple[HistoryEntry, ...]:
    entry = HistoryEntry(at=now, event="shown", article_id=article_id, procedure_no=procedure_no, step_no=step_no)
    return (entry,)


def _same_product(a: str, b: str) -> bool:
    a, b = a.casefold().strip(), b.casefold().strip()
    return bool(a) and (a == b or a in b or b in a)
