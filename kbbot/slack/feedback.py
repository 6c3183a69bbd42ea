"""👍 / 👎 on answers: the buttons under an answer card and a procedure's last step, and what a click does.

    kbfb:up / kbfb:down      value sealed for the channel: {"t": thread ts, "a": article id}
    kbfb:why:<reason>        on the ephemeral "what was wrong?" a 👎 brings: {"t": thread ts, "r": reason}

One vote per person per thread, changeable (the outcome record keeps each person's latest); anyone in the
thread may vote. Votes go through the outcome recorder, so they count in `kbbot report` and in learning.

Two plain buttons rather than Slack's `feedback_buttons` element: that one only lives in a `context_actions`
block, which the Block Kit check kbbot's tests (and older Slack clients) hold messages to does not know.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from kbbot.conversation import messages as wording
from kbbot.conversation.replies import AnswerReply, Reply, StepReply
from kbbot.conversation.state import ThreadKey
from kbbot.errors import InvalidButtonError, StoreError
from kbbot.outcomes import OutcomeEvent, OutcomeRecorder, VoteReason, VoteValue
from kbbot.server.metrics import Metrics
from kbbot.slack import payload_utils as pu
from kbbot.slack.blocks import MAX_BLOCKS, Message, actions_block, button_element, text_message
from kbbot.slack.poster import SlackPoster
from kbbot.slack.sealed import SealedValues

log = logging.getLogger(__name__)

FEEDBACK_PREFIX = "kbfb:"
VOTE_KIND = "vote"
REASON_KIND = "why"
Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]


def voted_article(reply: Reply) -> str | None:
    """The article a reply can be voted on: an answer card's, or the last step of a procedure's."""
    if isinstance(reply, AnswerReply):
        return reply.article.id
    if isinstance(reply, StepReply) and reply.step_no == reply.total - 1:
        return reply.article.id
    return None


def vote_buttons(*, sealed: SealedValues, where: ThreadKey, article_id: str) -> dict[str, Any]:
    """The 👍 / 👎 actions block for an answer about `article_id` in thread `where`."""
    value = sealed.encode(VOTE_KIND, team=where.team, channel=where.channel, t=where.thread_ts, a=article_id)
    return actions_block([
        button_element(text=wording.BTN_VOTE_UP, action_id=f"{FEEDBACK_PREFIX}up", value=value),
        button_element(text=wording.BTN_VOTE_DOWN, action_id=f"{FEEDBACK_PREFIX}down", value=value),
    ])


def with_feedback(
    messages: Sequence[Message], reply: Reply, *, sealed: SealedValues, where: ThreadKey
) -> list[Message]:
    """`messages` (one reply's, as rendered) with the vote buttons under the last one when the reply is votable."""
    out = list(messages)
    article_id = voted_article(reply)
    if article_id is None or not out or len(out[-1].blocks) >= MAX_BLOCKS:
        return out
    last = out[-1]
    blocks = [*last.blocks, vote_buttons(sealed=sealed, where=where, article_id=article_id)]
    out[-1] = Message(text=last.text, blocks=blocks)
    return out


async def add_votes_to_posted(
    client: AsyncWebClient, *, message: Message, sealed: SealedValues, where: ThreadKey, article_id: str
) -> None:
    """Put the vote buttons on a card already posted as the first message of thread `where` (a card `/kb`
    shared into the channel: its thread, which the votes are sealed to, is only known once it is posted)."""
    if len(message.blocks) >= MAX_BLOCKS:
        return
    blocks = [*message.blocks, vote_buttons(sealed=sealed, where=where, article_id=article_id)]
    try:
        await client.chat_update(channel=where.channel, ts=where.thread_ts, text=message.text, blocks=blocks)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:  # the card stands without votes
        log.warning("could not add vote buttons to the shared card %s: %s", article_id, exc)


def reason_message(*, sealed: SealedValues, where: ThreadKey) -> Message:
    """The ephemeral question a 👎 brings: one button per reason."""
    buttons = [
        button_element(
            text=wording.REASON_LABELS[reason.value],
            action_id=f"{FEEDBACK_PREFIX}{REASON_KIND}:{reason.value}",
            value=sealed.encode(
                REASON_KIND, team=where.team, channel=where.channel, t=where.thread_ts, r=reason.value
            ),
        )
        for reason in VoteReason
    ]
    prompt = SectionBlock(text=MarkdownTextObject(text=wording.VOTE_WHY)).to_dict()
    return Message(text=wording.VOTE_WHY, blocks=[prompt, actions_block(buttons)])


def _action(body: dict[str, Any]) -> tuple[str, str] | None:
    for action in body.get("actions") or ():
        if isinstance(action, dict) and str(action.get("action_id", "")).startswith(FEEDBACK_PREFIX):
            return str(action["action_id"]), str(action.get("value") or "")
    return None


class FeedbackListeners:
    """Records votes and reasons; thanks the voter where only they see it."""

    def __init__(
        self,
        *,
        sealed: SealedValues,
        recorder: OutcomeRecorder | None,
        poster: SlackPoster,
        metrics: Metrics,
    ) -> None:
        self.sealed = sealed
        self.recorder = recorder
        self.poster = poster
        self.metrics = metrics

    def register(self, app: AsyncApp) -> None:
        app.action(re.compile("^" + re.escape(FEEDBACK_PREFIX)))(self.on_feedback)

    async def on_feedback(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        action = _action(body)
        user = pu.user_of(body)
        where = pu.action_location(body)
        if action is None or not user or where is None:
            log.info("ignoring a feedback click without an action, a user or a message")
            return
        action_id, value = action
        channel = where[0]
        team = pu.team_of(body)
        name = action_id[len(FEEDBACK_PREFIX) :]
        kind = REASON_KIND if name.startswith(f"{REASON_KIND}:") else VOTE_KIND
        try:
            fields = self.sealed.decode(kind, value, team=team, channel=channel)
            key = ThreadKey(team=team, channel=channel, thread_ts=fields["t"])
            if kind == VOTE_KIND:
                vote = VoteValue(name)
                await self._vote(key, user=user, vote=vote, article_id=fields.get("a"))
            else:
                await self._reason(key, user=user, reason=VoteReason(fields.get("r", "")), respond=respond)
        except (InvalidButtonError, KeyError, ValueError) as exc:
            log.warning("refused a feedback click from %s: %s", user, exc)
            await self.poster.ephemeral(
                channel=channel, user=user, message=text_message(wording.INVALID_BUTTON), thread_ts=where[2]
            )

    async def _vote(self, key: ThreadKey, *, user: str, vote: VoteValue, article_id: str | None) -> None:
        self.metrics.votes.inc(value=vote.value)
        if self.recorder is not None and await self._has_record(key):
            await self.recorder.record(key, OutcomeEvent.VOTE, user=user, value=vote, article=article_id)
        log.info("%s voted %s on %s", user, vote.value, article_id or "-", extra={"thread_key": key.as_str()})
        if vote is VoteValue.UP:
            message = text_message(wording.VOTE_THANKS)
        else:
            message = reason_message(sealed=self.sealed, where=key)
        await self.poster.ephemeral(channel=key.channel, user=user, message=message, thread_ts=key.thread_ts)

    async def _has_record(self, key: ThreadKey) -> bool:
        """Whether the thread has an outcome record. The answer's record is written before its buttons are
        posted, so a vote without one is on a card from before outcomes were kept, or past their retention: a
        bare record for it would count as a thread nobody asked anything in."""
        assert self.recorder is not None
        try:
            if await self.recorder.store.get(key) is not None:
                return True
        except StoreError as exc:
            log.warning("cannot read the outcome of %s: %s", key.as_str(), exc)
            return False
        log.info("vote on %s not recorded: the thread has no outcome record", key.as_str())
        return False

    async def _reason(self, key: ThreadKey, *, user: str, reason: VoteReason, respond: Respond) -> None:
        self.metrics.vote_reasons.inc(reason=reason.value)
        if self.recorder is not None:
            await self.recorder.record(key, OutcomeEvent.VOTE_REASON, user=user, reason=reason)
        thanks = text_message(wording.REASON_THANKS.format(reason=wording.REASON_LABELS[reason.value]))
        try:
            await respond(text=thanks.text, blocks=thanks.blocks, response_type="ephemeral", replace_original=True)
        except Exception as exc:  # the reason is recorded; a thank-you that cannot replace the question is minor
            log.warning("could not thank %s through the response_url: %s", user, exc)
            await self.poster.ephemeral(channel=key.channel, user=user, message=thanks, thread_ts=key.thread_ts)
