"""Everything kbbot reads from the environment or kbbot.yaml, read and checked in one place.

`Settings.from_env(os.environ)` is called once by an entry point (`kbbot serve`, `kbbot chat`); every other module
receives the resulting frozen `Settings`. A kbbot.yaml (`--config`, else $KBBOT_CONFIG) gives defaults and the
environment wins. Everything is checked here, at start, and a bad value is one ConfigError naming the setting:
the CLI prints it as one line and exits 2. Secrets come only from the environment (a kbbot.yaml naming one is
refused) and are kept out of `repr()`, so a settings object can be logged without leaking a token.
deploy/kbbot.example.yaml documents every key.

    SLACK_BOT_TOKEN           xoxb- bot token (required by `serve`)
    SLACK_SIGNING_SECRET      request signing secret (required by `serve` in HTTP mode; Socket Mode does not sign)
    SLACK_APP_TOKEN           xapp- app-level token; when set, `serve` uses Socket Mode instead of HTTP
    SLACK_API_URL             api_url: Web API base URL (default Slack's own, https://slack.com/api/)
    KBBOT_CONFIG              kbbot.yaml with defaults for the settings below (`--config` wins; a missing file
                              named only here is skipped, so a deployment may leave it out)
    KBBOT_INDEX               index: index folder (default: one built from the built-in seeds/)
    KBBOT_INTENTS             intents: intents folder of *.yaml (default: the built-in intents/)
    KBBOT_STORE               store: memory:// | sqlite:///path/state.db | redis://host:6379/0
                              (default sqlite:///<state dir>/state.db)
    KBBOT_STATE_DIR           where the default sqlite store lives (default $XDG_STATE_HOME/kbbot or
                              ~/.local/state/kbbot)
    XDG_CACHE_HOME            where the index of the built-in seeds is built (default ~/.cache; <it>/kbbot)
    NO_COLOR                  set: `kbbot chat` prints no colours (https://no-color.org)
    KBBOT_PORT, KBBOT_HOST    port, host: HTTP bind address (default 0.0.0.0:3000); `--port`/`--host` win
    KBBOT_CHANNELS            channels: channel IDs kbbot answers in (comma-separated; default: any channel
                              it is mentioned in). Direct messages are always answered.
    KBBOT_AUTO_ANSWER_CHANNELS  auto_answer_channels: support channels where every new top-level message is
                              answered without a mention
    KBBOT_ESCALATION_CHANNEL  escalation_channel: channel ID for "needs a human" summaries (default: the thread)
    KBBOT_ESCALATION_USERGROUP  escalation_usergroup: user group ID (S...) pinged with each summary
    KBBOT_ADMIN_USERS         admin_users: user IDs allowed to run `/kb reload`
    KBBOT_ANSWER_MIN_CONFIDENCE     answer_min_confidence: answer outright only at this confidence or above
                              (0..1; default: the search model's own calibrated threshold). Only makes kbbot
                              more careful: below it, an answer becomes a shortlist.
    KBBOT_SHORTLIST_MIN_CONFIDENCE  shortlist_min_confidence: below this, "I don't know" instead of a shortlist
    KBBOT_THREAD_TTL_S        thread_ttl_s: how long an idle thread's state is kept (default: 7 days)
    KBBOT_FLOOD_LIMIT         flood_limit: questions one person may ask per minute before kbbot stops searching
                              and says so once (default 20; 0 turns the limit off)
    KBBOT_QUESTION_TEXT       question_text: what of each question the outcome record keeps: keep | hash | drop
                              (default keep)
    KBBOT_OUTCOME_RETENTION_DAYS  outcome_retention_days: how long thread outcomes are kept (default 90)
    KBBOT_ALLOW_SHARED_CHANNELS  allow_shared_channels: answer in channels shared with other organisations
                              (Slack Connect; default false). Even then no escalation summary goes there.
    KBBOT_LEARN_FROM_OUTCOMES learn_from_outcomes: re-order search hits by what past threads showed (an
                              article that resolved a close paraphrase rises; one people said failed sinks;
                              bounded per person and article; default true)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kbbot.errors import ConfigError
from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS
from kbbot.outcomes.record import QuestionText
from kbbot.store.base import DEFAULT_THREAD_TTL_S

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_HOST = "0.0.0.0"
DEFAULT_FLOOD_LIMIT = 20
FLOOD_WINDOW_S = 60

# Keys a kbbot.yaml may set, with the environment variable that overrides each. Tokens are deliberately absent:
# a secret in a file ends up in a repository.
ENV_FOR_KEY = {
    "api_url": "SLACK_API_URL",
    "index": "KBBOT_INDEX",
    "intents": "KBBOT_INTENTS",
    "store": "KBBOT_STORE",
    "port": "KBBOT_PORT",
    "host": "KBBOT_HOST",
    "channels": "KBBOT_CHANNELS",
    "auto_answer_channels": "KBBOT_AUTO_ANSWER_CHANNELS",
    "escalation_channel": "KBBOT_ESCALATION_CHANNEL",
    "escalation_usergroup": "KBBOT_ESCALATION_USERGROUP",
    "admin_users": "KBBOT_ADMIN_USERS",
    "answer_min_confidence": "KBBOT_ANSWER_MIN_CONFIDENCE",
    "shortlist_min_confidence": "KBBOT_SHORTLIST_MIN_CONFIDENCE",
    "thread_ttl_s": "KBBOT_THREAD_TTL_S",
    "flood_limit": "KBBOT_FLOOD_LIMIT",
    "question_text": "KBBOT_QUESTION_TEXT",
    "outcome_retention_days": "KBBOT_OUTCOME_RETENTION_DAYS",
    "allow_shared_channels": "KBBOT_ALLOW_SHARED_CHANNELS",
    "learn_from_outcomes": "KBBOT_LEARN_FROM_OUTCOMES",
}
_CONFIG_KEYS = set(ENV_FOR_KEY)
_STORE_SCHEMES = {"memory", "sqlite", "redis", "rediss", "unix"}
# Slack ids: channels C/G (and D for DMs), users U/W, user groups S
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_EXAMPLE_ID = {"channel": "like C0123ABCD", "user": "like U0123ABCD", "user group": "like S0123ABCD"}
_SECRET_KEYS = {
    "bot_token",
    "signing_secret",
    "app_token",
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
}


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """Where kbbot keeps what it learns while running (the default SQLite store)."""
    explicit = environ.get("KBBOT_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".local" / "state"
    return base / "kbbot"


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """Where kbbot keeps what it can rebuild (the index of the built-in seeds)."""
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".cache"
    return base / "kbbot"


def _int(name: str, raw: Any, *, low: int = 0, high: int | None = None) -> int:
    if isinstance(raw, bool):  # YAML's `yes` is a bool, and bool is an int to Python
        raise ConfigError(f"{name} must be a whole number, not {raw!r}")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bounds}, not {value}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, raw: Any) -> bool:
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _fraction(name: str, raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number between 0 and 1, not {raw!r}") from None
    if isinstance(raw, bool) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number between 0 and 1, not {raw!r}")
    return value


def _ids(name: str, raw: Any, pattern: re.Pattern[str], what: str) -> frozenset[str]:
    """A list of Slack ids, from a YAML list or a comma-separated environment variable."""
    if raw is None or raw == "":
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ConfigError(f"{name} must be a list of {what} IDs, not {raw!r}")
    ids = [str(item).strip() for item in items if str(item).strip()]
    bad = [i for i in ids if not pattern.match(i)]
    if bad:
        raise ConfigError(f"{name}: {', '.join(bad)} is not a {what} ID ({_EXAMPLE_ID[what]})")
    return frozenset(ids)


def _one_id(name: str, raw: Any, pattern: re.Pattern[str], what: str) -> str | None:
    if raw is None or raw == "":
        return None
    value = str(raw).strip()
    if not pattern.match(value):
        raise ConfigError(f"{name}: {value!r} is not a {what} ID ({_EXAMPLE_ID[what]})")
    return value


def _store_url(name: str, raw: str) -> str:
    scheme = urlsplit(raw).scheme.lower()
    if scheme not in _STORE_SCHEMES:
        raise ConfigError(
            f"{name}: unknown store URL {raw!r}; use memory://, sqlite:///path/state.db or redis://host:6379/0"
        )
    if scheme == "sqlite" and raw[len("sqlite://") :] in ("", "/"):
        raise ConfigError(f"{name}: no database path in {raw!r}; use sqlite:///path/state.db")
    return raw


def _folder(name: str, raw: Any) -> Path | None:
    if raw is None or raw == "":
        return None
    path = Path(str(raw)).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{name}: {path} is not a folder" + ("" if path.exists() else " (it does not exist)"))
    return path


def _load_config_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        # PyYAML's message spans several lines; one line with the place is what a person needs
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings, not {type(data).__name__}")
    secrets = sorted(k for k in data if str(k).lower() in _SECRET_KEYS)
    if secrets:
        raise ConfigError(f"{path}: {', '.join(secrets)} must come from the environment, never a file")
    unknown = sorted(str(k) for k in data if k not in _CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_CONFIG_KEYS))}"
        )
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    index: Path | None = None
    intents: Path | None = None
    # the constructor's default suits tests; from_env() defaults to a sqlite file in the state dir
    store_url: str = "memory://"
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    # empty: wherever kbbot is mentioned (and invited)
    channels: frozenset[str] = frozenset()
    auto_answer_channels: frozenset[str] = frozenset()
    escalation_channel: str | None = None
    escalation_usergroup: str | None = None
    admin_users: frozenset[str] = frozenset()
    answer_min_confidence: float | None = None
    shortlist_min_confidence: float | None = None
    thread_ttl_s: int = DEFAULT_THREAD_TTL_S
    flood_limit: int = DEFAULT_FLOOD_LIMIT
    # where the index of the built-in seeds is built when no index is named (see `kbbot.locate`)
    cache_dir: Path = field(default_factory=lambda: default_cache_dir({}))
    # where the default SQLite store lives (store_url names it; kept for anything else that needs saving)
    state_dir: Path = field(default_factory=lambda: default_state_dir({}))
    no_color: bool = False
    question_text: QuestionText = QuestionText.KEEP
    outcome_retention_days: int = DEFAULT_RETENTION_DAYS
    allow_shared_channels: bool = False
    learn_from_outcomes: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, config: Path | None = None) -> Settings:
        """The settings; a kbbot.yaml (`config`, else $KBBOT_CONFIG) gives defaults, the environment wins."""
        if config is None and environ.get("KBBOT_CONFIG"):
            config = Path(environ["KBBOT_CONFIG"])
            if not config.exists():
                config = None
        file = _load_config_file(config) if config is not None else {}

        def pick(key: str) -> tuple[str, Any]:
            """Where the value came from (for an error message naming it) and the value."""
            env_name = ENV_FOR_KEY[key]
            value = environ.get(env_name)
            if value not in (None, ""):
                return env_name, value
            return f"{key} (in {config})", file.get(key)

        _, api_url = pick("api_url")
        learn = pick("learn_from_outcomes")
        api_url = str(api_url or DEFAULT_API_URL)
        if urlsplit(api_url).scheme not in ("http", "https"):
            raise ConfigError(f"SLACK_API_URL must be an http(s) URL, not {api_url!r}")
        # slack_sdk joins base_url and the method name by plain concatenation
        if not api_url.endswith("/"):
            api_url += "/"
        store_from, store = pick("store")
        state_dir = default_state_dir(environ)
        default_store = f"sqlite:///{state_dir / 'state.db'}"
        store = _store_url(store_from, str(store)) if store else default_store
        port_from, port = pick("port")
        ttl_from, ttl = pick("thread_ttl_s")
        flood_from, flood = pick("flood_limit")
        question_from, question_text = pick("question_text")
        if question_text not in (None, "") and question_text not in set(QuestionText):
            raise ConfigError(f"{question_from} must be keep, hash or drop, not {question_text!r}")
        retention_from, retention = pick("outcome_retention_days")
        answer_min = _fraction(*pick("answer_min_confidence"))
        shortlist_min = _fraction(*pick("shortlist_min_confidence"))
        if answer_min is not None and shortlist_min is not None and shortlist_min > answer_min:
            raise ConfigError(
                f"shortlist_min_confidence ({shortlist_min}) must not be above "
                f"answer_min_confidence ({answer_min})"
            )
        channels = _ids(*pick("channels"), _CHANNEL_ID, "channel")
        auto = _ids(*pick("auto_answer_channels"), _CHANNEL_ID, "channel")
        if channels and not auto <= channels:
            extra = ", ".join(sorted(auto - channels))
            raise ConfigError(
                f"auto_answer_channels {extra} must also be listed in channels (or leave channels empty)"
            )
        return cls(
            bot_token=environ.get("SLACK_BOT_TOKEN") or None,
            signing_secret=environ.get("SLACK_SIGNING_SECRET") or None,
            app_token=environ.get("SLACK_APP_TOKEN") or None,
            api_url=api_url,
            index=_folder(*pick("index")),
            intents=_folder(*pick("intents")),
            store_url=store,
            port=_int(port_from, port, high=65535) if port not in (None, "") else DEFAULT_PORT,
            host=str(pick("host")[1] or DEFAULT_HOST),
            channels=channels,
            auto_answer_channels=auto,
            escalation_channel=_one_id(*pick("escalation_channel"), _CHANNEL_ID, "channel"),
            escalation_usergroup=_one_id(*pick("escalation_usergroup"), _USERGROUP_ID, "user group"),
            admin_users=_ids(*pick("admin_users"), _USER_ID, "user"),
            answer_min_confidence=answer_min,
            shortlist_min_confidence=shortlist_min,
            thread_ttl_s=_int(ttl_from, ttl, low=1) if ttl not in (None, "") else DEFAULT_THREAD_TTL_S,
            flood_limit=_int(flood_from, flood) if flood not in (None, "") else DEFAULT_FLOOD_LIMIT,
            cache_dir=default_cache_dir(environ),
            state_dir=state_dir,
            no_color=bool(environ.get("NO_COLOR")),
            question_text=QuestionText(question_text) if question_text else QuestionText.KEEP,
            outcome_retention_days=(
                _int(retention_from, retention, low=1) if retention not in (None, "") else DEFAULT_RETENTION_DAYS
            ),
            allow_shared_channels=_flag(*pick("allow_shared_channels")),
            learn_from_outcomes=_flag(*learn) if learn[1] not in (None, "") else True,
        )

    def answers_in(self, channel: str) -> bool:
        """Whether kbbot may answer in `channel` at all (direct messages always)."""
        return not self.channels or channel in self.channels or channel.startswith("D")

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    def require_slack(self) -> None:
        """What `kbbot serve` cannot start without; one clear sentence naming every missing variable."""
        needed = [("SLACK_BOT_TOKEN", self.bot_token)]
        if not self.socket_mode:
            needed.append(("SLACK_SIGNING_SECRET", self.signing_secret))
        missing = [name for name, value in needed if not value]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} must be set in the environment to connect to Slack")
        if self.app_token is not None and not self.app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token (xapp-...) with connections:write")

    def with_overrides(self, **changes: Any) -> Settings:
        """Command-line flags beat the environment; None means "not given"."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
