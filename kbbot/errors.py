"""The exception tree. Everything kbbot raises on purpose derives from KbBotError.

    KbBotError
    ├── ConfigError        bad kbbot.yaml, unknown keys, missing tokens, a missing optional extra
    ├── InputError         a file named on the command line cannot be used (missing, a folder, empty)
    ├── ParseError         one article file could not be read (reported and skipped, never fatal)
    ├── IndexFolderError   the saved index folder is missing, from another version, damaged, or not an index
    ├── StoreError         the thread store cannot be reached or answered nonsense
    │   └── ConflictError  a compare-and-set lost the race (retried by the caller)
    ├── SlackError         the Slack Web API refused a call we cannot recover from
    └── InvalidButtonError a button value kbbot did not seal for that thread (forged, moved, garbled)
"""

from __future__ import annotations


class KbBotError(Exception):
    """Root of every error kbbot raises on purpose."""


class ConfigError(KbBotError):
    pass


class InputError(KbBotError):
    pass


class ParseError(KbBotError):
    pass


class IndexFolderError(KbBotError):
    pass


class StoreError(KbBotError):
    pass


class ConflictError(StoreError):
    pass


class SlackError(KbBotError):
    pass


class InvalidButtonError(KbBotError):
    """A button value kbbot did not make for this thread: forged, moved from another thread, or garbled."""
