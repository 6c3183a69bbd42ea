"""Logging set-up, called only by entry points (the CLI). Library modules just use getLogger(__name__)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import traceback
from typing import Any

# The thread an asyncio task (or the worker thread it hands work to) is busy with. The Slack adapter sets it
# when it starts on a thread; `_ThreadKeyFilter` copies it onto every record, so a line logged deep in the
# store or the poster still says which thread it was about without every call passing `extra=`.
current_thread_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("kbbot_thread_key", default=None)

# Secrets must never reach a log line, whatever a careless call passes in: tokens are recognised by their
# prefix; the signing secret has none, so the entry point names it (and the tokens) with `protect()`.
_SECRET_PREFIXES = ("xoxb-", "xoxp-", "xapp-", "xoxa-", "xoxe-")
_protected: set[str] = set()
# Shorter values would blot out ordinary words; no real secret is this short.
MIN_PROTECTED_CHARS = 8


def protect(*secrets: str | None) -> None:
    """Redact these exact values from every log line and traceback from now on (the signing secret, tokens)."""
    _protected.update(s for s in secrets if s and len(s) >= MIN_PROTECTED_CHARS)


def redact(text: str) -> str:
    for secret in sorted(_protected, key=len, reverse=True):
        text = text.replace(secret, "***")
    for prefix in _SECRET_PREFIXES:
        start = text.find(prefix)
        while start != -1:
            end = start
            while end < len(text) and not text[end].isspace() and text[end] not in "'\",)":
                end += 1
            text = text[:start] + prefix + "***" + text[end:]
            start = text.find(prefix, start + len(prefix) + 3)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        # tracebacks are text too: format them here, redacted, so no formatter prints the raw one
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _ThreadKeyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "thread_key", None):
            key = current_thread_key.get()
            if key:
                record.thread_key = key
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        thread = getattr(record, "thread_key", None)
        if thread:
            entry["thread"] = thread
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        thread = getattr(record, "thread_key", None)
        return f"{line} [thread={thread}]" if thread else line


def configure_logging(*, level: int = logging.INFO, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ThreadKeyFilter())
    handler.addFilter(_RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # slack_bolt and aiohttp are chatty at INFO; their warnings still come through
    for noisy in ("slack_bolt", "slack_sdk", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
