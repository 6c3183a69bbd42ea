"""`kbbot chat`: talk to the real bot in a terminal, with no Slack account and no network.

The stand-in plays Slack on loopback and the bot runs exactly as `kbbot serve` does in HTTP mode; each line typed
becomes the signed request Slack would send (a mention, then replies in its thread, `/kb`, a button press), and
what the bot posts through the Web API is rendered here. Works with piped input (tests, demos), not only a tty.

This module is a terminal program: it is the one place in kbbot/slack/ that prints.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from kbbot.conversation.examples import KbExamples
from kbbot.kb import KnowledgeBase
from kbbot.server.loopback import Button, LoopbackBot, buttons, loopback_bot
from kbbot.settings import Settings
from kbbot.slack.actions import ACTION_PREFIX
from kbbot.slack.feedback import FEEDBACK_PREFIX
from kbbot.standin import STANDIN_CHANNEL, STANDIN_HUMANS, STANDIN_USER

# Searches take milliseconds; a reply slower than this is not coming.
REPLY_TIMEOUT_S = 10.0
# After the first reply, how long without a new message before the bot is considered done with the turn.
SETTLE_S = 0.25

CHANNEL_NAMES = {STANDIN_CHANNEL: "support", STANDIN_HUMANS: "it-helpdesk"}

# What of the person's Settings the offline bot honours: how it searches and converses. Not where it answers
# (the stand-in has its own channel, people and escalation channel) and not the store (a chat is not kept).
CHAT_SETTINGS = (
    "index",
    "intents",
    "answer_min_confidence",
    "shortlist_min_confidence",
    "thread_ttl_s",
    "flood_limit",
)


class Style:
    """ANSI styling on a terminal, plain text into a pipe."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def italic(self, text: str) -> str:
        return self._wrap("3", text)

    def accent(self, text: str) -> str:
        return self._wrap("36", text)


_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)


def render_mrkdwn(text: str, style: Style) -> str:
    """Slack's mrkdwn, lightly: links and mentions readable, *bold* and _italic_ styled, code blocks indented."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@you" if target[1:] == STANDIN_USER else f"@{label or target[1:]}"
        if target.startswith("#"):
            channel = target[1:]
            return f"#{label or CHANNEL_NAMES.get(channel, channel)}"
        if target.startswith("!"):
            return f"@{target[1:].split('^')[0]}"
        return f"{label} ({target})" if label and label != target else target

    text = text.replace("\u200b", "")
    text = _CODE_BLOCK.sub(lambda m: "\n".join("    " + line for line in m.group(1).splitlines()), text)
    text = _LINK.sub(link, text)
    text = _BOLD.sub(lambda m: style.bold(m.group(1)), text)
    text = _ITALIC.sub(lambda m: style.italic(m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _choices(message: dict[str, Any]) -> list[Button]:
    """The buttons a person can press by number: the conversation's and the 👍/👎 votes (a link button opens a
    page: it is printed, not numbered)."""
    return [b for b in buttons(message) if b.action_id.startswith((ACTION_PREFIX, FEEDBACK_PREFIX))]


def _text_of(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


def render_message(message: dict[str, Any], style: Style) -> list[str]:
    """A message as lines of terminal text (blocks when there are any, else the fallback text)."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            lines.append(style.bold(_text_of(block.get("text"))))
        elif kind == "section":
            if block.get("text"):
                lines.append(render_mrkdwn(_text_of(block["text"]), style))
            for f in block.get("fields") or []:
                lines.append("  " + render_mrkdwn(_text_of(f), style))
        elif kind == "context":
            parts = [render_mrkdwn(_text_of(e), style) for e in block.get("elements") or [] if _text_of(e)]
            if parts:
                lines.append(style.dim(" · ".join(parts)))
        elif kind == "divider":
            lines.append(style.dim("─" * 40))
        elif kind == "actions":  # a link button ("Open article") is a link here; the rest are numbered choices
            for e in block.get("elements") or []:
                if isinstance(e, dict) and e.get("url"):
                    lines.append(f"{_text_of(e.get('text'))}: {e['url']}")
        elif kind == "image":
            lines.append(style.dim(f"[image: {block.get('alt_text', '')}]"))
        elif kind == "rich_text":
            lines.append(render_mrkdwn(str(message.get("text", "")), style))
    if not lines:
        lines.append(render_mrkdwn(str(message.get("text", "")), style))
    return lines


def welcome_examples(kb: KnowledgeBase) -> list[str]:
    """Things worth typing first, from the knowledge base itself (the same examples help and `/kb` usage
    use): a pasted error line, a few words from a title, and a `/kb` lookup."""
    examples = KbExamples.sample(kb.ids(), kb.get)
    found = [examples.error_line, examples.search]
    if examples.article_id:
        found.append(f"/kb {examples.article_id}")
    return [e for e in found if e]


@dataclass
class ChatSession:
    """The state of the terminal conversation: which thread we are in and which buttons can be picked."""

    bot: LoopbackBot
    out: TextIO
    style: Style
    thread_ts: str | None = None
    seen: int = 0  # messages in the stand-in already shown
    updates_seen: int = 0  # chat.update calls already shown (a step moving on in its own message)
    choices: list[tuple[dict[str, Any], Button]] = field(default_factory=list)

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def handle(self, line: str) -> bool:
        """One line typed; False when the person is done."""
        standin = self.bot.standin
        if line.lower() in {"quit", "exit", ":q"}:
            return False
        if line.lower() == "new":
            self.thread_ts = None
            self.choices = []
            self.print(self.style.dim("(new thread: your next message starts a new question)"))
            return True
        if line.isdigit() and self.choices:
            n = int(line)
            if not 1 <= n <= len(self.choices):
                self.print(self.style.dim(f"(pick a number from 1 to {len(self.choices)})"))
                return True
            message, button = self.choices[n - 1]
            self.print(self.style.dim(f"(you pressed “{button.label}”)"))
            await standin.click(message, action_id=button.action_id, value=button.value)
            if not message.get("ephemeral_to"):
                # later lines continue the thread the button belongs to
                self.thread_ts = message.get("thread_ts") or message["ts"]
        elif line.startswith("/"):
            command, _, text = line.partition(" ")
            await standin.slash(command, text.strip())
        elif self.thread_ts is None:
            _, self.thread_ts = await standin.mention(line)
        else:
            await standin.say(line, thread_ts=self.thread_ts)
        await self.show_replies()
        return True

    async def show_replies(self) -> None:
        standin = self.bot.standin
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while not self._new_bot_messages() and not self._updated() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if not self._new_bot_messages() and not self._updated():
            self.print(self.style.dim("(no reply)"))
            self.seen = len(standin.messages)
            return
        await standin.quiet(settle_s=SETTLE_S, timeout=REPLY_TIMEOUT_S)
        fresh = self._updated() + self._new_bot_messages()
        self.seen = len(standin.messages)
        self.updates_seen = len(standin.calls_to("chat.update"))
        with_buttons: list[tuple[dict[str, Any], Button]] = []
        for message in fresh:
            self._show(message)
            found = _choices(message)
            if found:
                with_buttons = [(message, b) for b in found]
        if with_buttons:
            self.choices = with_buttons
            labels = "  ".join(f"[{i}] {b.label}" for i, (_m, b) in enumerate(with_buttons, start=1))
            self.print(self.style.accent(labels))
        self.print()

    def _updated(self) -> list[dict[str, Any]]:
        """Messages the bot changed in place that still have buttons: a step that moved on where it was (a
        step retired, its buttons taken away, is not news)."""
        standin = self.bot.standin
        changed = [standin.message(str(c.args.get("ts", ""))) for c in standin.calls_to("chat.update")]
        live = [m for m in changed[self.updates_seen :] if m is not None and _choices(m)]
        return list({m["ts"]: m for m in live}.values())

    def _new_bot_messages(self) -> list[dict[str, Any]]:
        bot_user = self.bot.standin.bot_user_id
        return [m for m in self.bot.standin.messages[self.seen :] if m.get("user") == bot_user]

    def _show(self, message: dict[str, Any]) -> None:
        channel = str(message.get("channel") or STANDIN_CHANNEL)
        where = f"#{CHANNEL_NAMES.get(channel, channel)}"
        if message.get("ephemeral_to"):
            where += ", only visible to you"
        elif message.get("thread_ts"):
            where += ", in the thread"
        self.print(self.style.accent(f"kbbot ({where}):"))
        # On a terminal, long paragraphs wrap at the window's edge under their own indent (a pipe gets them whole).
        width = shutil.get_terminal_size().columns if self.style.enabled else 0
        for line in render_message(message, self.style):
            for part in line.splitlines() or [""]:
                indent = "  " + part[: len(part) - len(part.lstrip())]
                if width > 20 and len(part) + 2 > width:
                    self.print(textwrap.fill(part.strip(), width=width - 1, initial_indent=indent,
                                             subsequent_indent=indent, break_on_hyphens=False))
                else:
                    self.print("  " + part)


def _read_lines(stream: TextIO) -> asyncio.Queue[str]:
    """Lines from `stream` as they come, "" at the end. A daemon thread reads: input() would block the loop
    that runs the bot and the stand-in, and an executor thread stuck in readline() would keep Ctrl-C waiting."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in iter(stream.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, "")
        except (RuntimeError, ValueError, OSError):  # the loop closed, or stdin did: the session is over
            return

    threading.Thread(target=pump, name="kbbot-chat-stdin", daemon=True).start()
    return queue


async def chat(settings: Settings, *, stdin: TextIO, stdout: TextIO) -> int:
    """The conversation on `stdin`/`stdout`, ANSI-styled when stdout is a terminal (and NO_COLOR is unset)."""
    style = Style(enabled=stdout.isatty() and not settings.no_color)
    honoured = {name: getattr(settings, name) for name in CHAT_SETTINGS}
    # cache_dir: where the seeds' index is built when no index is named
    async with loopback_bot(escalation_channel=STANDIN_HUMANS, cache_dir=settings.cache_dir, **honoured) as bot:
        session = ChatSession(bot=bot, out=stdout, style=style)
        kb = bot.runtime.kb
        where = f"{len(kb)} articles from {bot.runtime.index_dir}"
        session.print(style.bold("kbbot chat") + f": the real bot, offline ({where})")
        session.print("Slack is stood in on this machine; nothing leaves it. Ask as you would in #support, e.g.:")
        for example in welcome_examples(kb):
            session.print("    " + style.accent(example))
        session.print(
            "Then reply in the thread (walk me through, next, it worked), or type a number to press a button.\n"
            "new starts a new thread; quit leaves."
        )
        session.print()
        lines = _read_lines(stdin)
        while True:
            if stdin.isatty():
                stdout.write(style.bold("you> "))
                stdout.flush()
            line = await lines.get()
            if not line:  # end of input
                break
            line = line.strip()
            if line and not await session.handle(line):
                break
    return 0


def run_chat(settings: Settings) -> int:
    """`kbbot chat` with the settings the CLI built. Slack tokens are not needed (or used): the stand-in
    provides its own."""
    root = logging.getLogger()
    if root.level > logging.DEBUG:
        # a conversation, not a log: only problems get through unless --verbose asked for more
        root.setLevel(logging.WARNING)
    try:
        return asyncio.run(chat(settings, stdin=sys.stdin, stdout=sys.stdout))
    except KeyboardInterrupt:
        return 130
