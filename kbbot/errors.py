"""The exception tree. Everything kbbot raises on purpose derives from KbBotError.

    KbBotError
    ├── ConfigError        bad kbbot.yaml, unknown keys, missing tokens, a missing optional extra
    ├── InputError         a file named on the command line cannot be used (missing, a folder, empty)
    ├── ParseError         one article file could not be read (reported and skipped, never fatal)
    ├── IndexError_        the saved index is missing, from another version, or damaged
    ├── StoreError         the thread store cannot be reached or answered nonsense
    │   └── ConflictError  a compare-and-set lost the race (retried by the caller)
    └── SlackError         the Slack Web API refused a call we cannot recover from
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


class IndexError_(KbBotError):  # noqa: N801, N818 - trailing underscore keeps the builtin IndexError usable
    pass


class StoreError(KbBotError):
    pass


class ConflictError(StoreError):
    pass


class SlackError(KbBotError):
    pass
