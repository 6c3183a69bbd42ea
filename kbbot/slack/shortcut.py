"""The message shortcut "Find a KB article for this" (callback id `kb_find`): on any message, the person picks
whether kbbot answers in that message's thread, for everyone, or only to them.

    shortcut ──► ephemeral (response_url): [Answer in the thread] [Only show me]
    kbfind:thread ──► the message's words as a question in its thread (a new thread under it when it has none)
    kbfind:me     ──► the /kb answer (card or short list) in place of the ephemeral, seen by the person only

The choice buttons carry the message's words and thread, sealed for the channel (kbbot.slack.sealed), so a
forged click cannot make kbbot speak in someone else's thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from kbbot.conversation import messages as wording
from kbbot.conversation.state import ThreadKey
from kbbot.errors import InvalidButtonError
from kbbot.slack import payload_utils as pu
from kbbot.slack.blocks import BUTTON_VALUE_CHARS, Message, actions_block, button_element, text_message
from kbbot.slack.sealed import SealedValues

log = logging.getLogger(__name__)

CALLBACK_ID = "kb_find"
CHOICE_PREFIX = "kbfind:"
CHOICE_KIND = "find"
# What of a long message goes into the choice buttons' value (Slack keeps a value to 2,000 characters, and
# JSON escaping lengthens the text); a search needs the first lines, not a whole log paste.
QUESTION_CHARS = 1500

Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]
# (thread, asker, words, the message's ts) -> None: one conversation turn in that thread
AnswerInThread = Callable[[ThreadKey, str, str, str], Awaitable[None]]
# (words, asker) -> the /kb answer as a Slack message
LookupMessage = Callable[[str, str], Awaitable[Message]]
# (channel, payload) -> whether kbbot may answer in that channel (configured channels, Slack Connect)
MaySpeak = Callable[[str, dict[str, Any]], Awaitable[bool]]


def choice_message(
    *, sealed: SealedValues, team: str, channel: str, thread_ts: str, message_ts: str, text: str
) -> Message:
    """The ephemeral "in the thread, or only me?" with its two sealed buttons."""
    question = text[:QUESTION_CHARS]
    while True:
        value = sealed.encode(CHOICE_KIND, team=team, channel=channel, t=thread_ts, m=message_ts, q=question)
        if len(value) <= BUTTON_VALUE_CHARS:
            break
        question = question[: len(question) * 3 // 4]
    buttons = [
        button_element(
            text=wording.BTN_SHORTCUT_THREAD, action_id=f"{CHOICE_PREFIX}thread", value=value, style="primary"
        ),
        button_element(text=wording.BTN_SHORTCUT_ME, action_id=f"{CHOICE_PREFIX}me", value=value),
    ]
    prompt = SectionBlock(text=MarkdownTextObject(text=wording.SHORTCUT_CHOOSE)).to_dict()
    return Message(text=wording.SHORTCUT_CHOOSE, blocks=[prompt, actions_block(buttons)])


def _id(body: dict[str, Any], key: str) -> str:
    part = body.get(key)
    return str(part.get("id") or "") if isinstance(part, dict) else ""


class ShortcutListeners:
    def __init__(
        self,
        *,
        sealed: SealedValues,
        answer_in_thread: AnswerInThread,
        lookup_message: LookupMessage,
        may_speak: MaySpeak,
    ) -> None:
        self.sealed = sealed
        self.answer_in_thread = answer_in_thread
        self.lookup_message = lookup_message
        self.may_speak = may_speak

    def register(self, app: AsyncApp) -> None:
        app.shortcut(CALLBACK_ID)(self.on_shortcut)
        app.action(re.compile("^" + re.escape(CHOICE_PREFIX)))(self.on_choice)

    async def on_shortcut(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        channel, user, team = _id(body, "channel"), _id(body, "user"), pu.team_of(body)
        found = body.get("message")
        message: dict[str, Any] = found if isinstance(found, dict) else {}
        text = str(message.get("text") or "").strip()
        ts = str(message.get("ts") or body.get("message_ts") or "")
        if not (channel and user and ts):
            log.info("ignoring a message shortcut without a channel, a user or a message")
            return
        if not text:
            reply = text_message(wording.SHORTCUT_NO_TEXT)
        elif not await self.may_speak(channel, body):
            reply = text_message(wording.SHORTCUT_NOT_HERE)
        else:
            reply = choice_message(
                sealed=self.sealed,
                team=team,
                channel=channel,
                thread_ts=str(message.get("thread_ts") or ts),
                message_ts=ts,
                text=text,
            )
        await respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral")

    async def on_choice(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        user, team = pu.user_of(body), pu.team_of(body)
        where = pu.action_location(body)
        action = next(
            (
                a
                for a in body.get("actions") or ()
                if isinstance(a, dict) and str(a.get("action_id", "")).startswith(CHOICE_PREFIX)
            ),
            None,
        )
        if action is None or not user or where is None:
            return
        channel = where[0]
        try:
            fields = self.sealed.decode(CHOICE_KIND, str(action.get("value") or ""), team=team, channel=channel)
            thread_ts, message_ts, question = fields["t"], fields["m"], fields["q"]
        except (InvalidButtonError, KeyError) as exc:
            log.warning("refused a shortcut choice from %s: %s", user, exc)
            await respond(text=wording.INVALID_BUTTON, response_type="ephemeral", replace_original=True)
            return
        if action["action_id"] == f"{CHOICE_PREFIX}thread":
            try:
                await respond(delete_original=True)
            except Exception as exc:  # the answer matters; a lingering ephemeral copy is harmless
                log.debug("could not remove the shortcut's ephemeral: %s", exc)
            key = ThreadKey(team=team, channel=channel, thread_ts=thread_ts)
            await self.answer_in_thread(key, user, question, message_ts)
        else:
            reply = await self.lookup_message(question, user)
            await respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral", replace_original=True)
