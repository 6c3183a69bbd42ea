"""The App Home tab: how to ask, a search box, the person's recent threads and, for admins, the month's report.

    app_home_opened ──► views.publish(home view for that person)
    Enter in the search box (block action kbhome:search) ──► the same view with the closest articles in it

Everything shown is read from the outcome store (`OutcomeStore.list(asker=...)`) and, for the people in
`admin_users`, `kbbot.report.build_report` over the last `ADMIN_REPORT_DAYS` days, cached for a few minutes so
a busy Home tab does not rebuild the report for every open. A view is at most 100 blocks; this one stays near
fifteen, each section clipped to Slack's 3,000 characters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from kbbot.conversation import messages as wording
from kbbot.conversation.replies import (
    LookupReply,
    NoMatchReply,
    NoticeReply,
    Reply,
    ShortlistReply,
    clip,
)
from kbbot.errors import StoreError
from kbbot.outcomes import OutcomeStore, ThreadOutcome
from kbbot.report import ABANDON_AFTER_S, Report, build_report
from kbbot.slack.blocks import SECTION_CHARS, clip_mrkdwn, escape_mrkdwn, render_wording, slack_id

log = logging.getLogger(__name__)

SEARCH_ACTION = "kbhome:search"
SEARCH_BLOCK = "kbhome_search"
RECENT_THREADS_SHOWN = 10
RECENT_DAYS = 30
ADMIN_REPORT_DAYS = 30
ADMIN_REPORT_CACHE_S = 300.0
TOP_GAPS = 5
TOP_FAILING = 5
MAX_VIEW_BLOCKS = 100
DAY_S = 86_400

Ack = Callable[..., Awaitable[None]]
# the /kb lookup, run where the engine runs: (words, user) -> reply
Lookup = Callable[[str, str], Awaitable[Reply]]


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:SECTION_CHARS]))


def _recent_line(outcome: ThreadOutcome, *, now: float) -> str:
    state = outcome.outcome_at(now, abandon_after_s=ABANDON_AFTER_S).value.replace("_", " ")
    question = clip_mrkdwn(outcome.question, 120) if outcome.question else "_(question not kept)_"
    article = f" · {escape_mrkdwn(outcome.articles[0])}" if outcome.articles else ""
    day = time.strftime("%d %b", time.gmtime(outcome.created_at))
    return f"• {day} in <#{slack_id(outcome.channel)}>: {question}{article} · *{state}*"


def _search_results(query: str, reply: Reply) -> str:
    heading = wording.HOME_RESULTS.format(query=clip_mrkdwn(query, 200))
    if isinstance(reply, LookupReply):
        return f"{heading}\n• *{escape_mrkdwn(reply.article.id)}*: {clip_mrkdwn(reply.article.title, 300)}"
    if isinstance(reply, ShortlistReply) and reply.hits:
        lines = [f"• *{escape_mrkdwn(h.id)}*: {clip_mrkdwn(h.title, 300)}" for h in reply.hits]
        return heading + "\n" + "\n".join(lines)
    if isinstance(reply, NoticeReply):
        return render_wording(reply.wording)
    if isinstance(reply, NoMatchReply):
        return wording.HOME_NO_RESULTS.format(query=clip_mrkdwn(query, 200))
    return wording.HOME_NO_RESULTS.format(query=clip_mrkdwn(query, 200))


def _admin_blocks(report: Report) -> list[Block]:
    rates = wording.HOME_RATES.format(
        threads=report.threads,
        answer_rate=_percent(report.answer_rate),
        resolution_rate=_percent(report.resolution_rate),
        escalated=report.escalated,
        no_match=report.no_match,
        up=report.votes_up,
        down=report.votes_down,
    )
    gaps = [
        f"• {gap.count}×: " + "; ".join(clip_mrkdwn(e, 150) for e in gap.examples[:2])
        if gap.examples else f"• {gap.count}× (questions kept as hashes only)"
        for gap in report.gaps[:TOP_GAPS]
    ]  # fmt: skip
    failing = []
    for a in report.failing_articles(TOP_FAILING):
        steps = ", ".join(f"step {s} ×{n}" for s, n in sorted(a.failed_at_step.items()))
        detail = f" (didn't work at {steps})" if steps else ""
        failing.append(
            f"• *{escape_mrkdwn(a.id)}*: offered {a.offered}, resolved {a.resolved}, failed {a.failed}, "
            f"👎 {a.down}, escalated {a.escalated}{detail}"
        )
    return [
        DividerBlock(),
        _section(wording.HOME_ADMIN.format(days=ADMIN_REPORT_DAYS)),
        _section(rates),
        _section(wording.HOME_GAPS + "\n" + ("\n".join(gaps) if gaps else wording.HOME_NO_GAPS)),
        _section(wording.HOME_FAILING + "\n" + ("\n".join(failing) if failing else wording.HOME_NO_FAILING)),
    ]


def home_view(
    *,
    recent: Sequence[ThreadOutcome],
    now: float,
    report: Report | None = None,
    search: tuple[str, Reply] | None = None,
) -> dict[str, Any]:
    """The Home tab as a `views.publish` view (validated by slack_sdk's `to_dict()`)."""
    blocks: list[Block] = [
        HeaderBlock(text=clip(wording.HOME_TITLE, 150)),
        _section(wording.HOME_HOW_TO),
        InputBlock(
            block_id=SEARCH_BLOCK,
            label=wording.HOME_SEARCH_LABEL,
            element=PlainTextInputElement(action_id=SEARCH_ACTION, placeholder=wording.HOME_SEARCH_PLACEHOLDER),
            dispatch_action=True,
            hint=wording.HOME_SEARCH_HINT,
        ),
    ]
    if search is not None:
        blocks.append(_section(_search_results(*search)))
    blocks.append(DividerBlock())
    lines = [_recent_line(o, now=now) for o in list(recent)[-RECENT_THREADS_SHOWN:][::-1]]
    blocks.append(_section(wording.HOME_RECENT + "\n" + ("\n".join(lines) if lines else wording.HOME_NO_RECENT)))
    if report is not None:
        blocks += _admin_blocks(report)
    updated = wording.HOME_UPDATED.format(at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=updated)]))
    return View(type="home", blocks=blocks[:MAX_VIEW_BLOCKS]).to_dict()


class HomeListeners:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        outcomes: OutcomeStore | None,
        admin_users: frozenset[str],
        lookup: Lookup,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.outcomes = outcomes
        self.admin_users = admin_users
        self.lookup = lookup
        self._clock = clock
        self._report: tuple[float, Report] | None = None

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.on_home_opened)
        app.action(SEARCH_ACTION)(self.on_search)

    async def on_home_opened(self, event: dict[str, Any]) -> None:
        user = str(event.get("user") or "")
        if not user or event.get("tab", "home") != "home":
            return  # the Messages tab opened: nothing to draw
        await self.publish(user)

    async def on_search(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        query = ""
        for action in body.get("actions") or ():
            if isinstance(action, dict) and action.get("action_id") == SEARCH_ACTION:
                query = str(action.get("value") or "").strip()
        if not user:
            return
        search = None
        if query:
            try:
                search = (query, await self.lookup(query, user))
            except Exception:
                log.exception("Home tab search failed for %r", query[:200])
        await self.publish(user, search=search)

    async def publish(self, user: str, *, search: tuple[str, Reply] | None = None) -> None:
        now = self._clock()
        recent: list[ThreadOutcome] = []
        report: Report | None = None
        if self.outcomes is not None:
            try:
                recent = await self.outcomes.list(since=now - RECENT_DAYS * DAY_S, asker=user)
                if user in self.admin_users:
                    report = await self._admin_report(now)
            except StoreError as exc:  # the tab still shows how to ask and the search box
                log.error("cannot read thread outcomes for the Home tab: %s", exc)
        view = home_view(recent=recent, now=now, report=report, search=search)
        try:
            await self.client.views_publish(user_id=user, view=view)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            log.error("could not publish the Home tab for %s: %s", user, exc)

    async def _admin_report(self, now: float) -> Report:
        if self._report is not None and now - self._report[0] < ADMIN_REPORT_CACHE_S:
            return self._report[1]
        assert self.outcomes is not None
        since = now - ADMIN_REPORT_DAYS * DAY_S
        report = build_report(await self.outcomes.list(since=since), now=now, since=since)
        self._report = (now, report)
        return report
