"""Everything kbbot reads from the environment, read in one place.

`Settings.from_env(os.environ)` is called once by an entry point (`kbbot serve`, `kbbot chat`); every other module
receives the resulting frozen `Settings`. Secrets come only from the environment and are kept out of `repr()`, so a
settings object can be logged without leaking a token.

    SLACK_BOT_TOKEN           xoxb- bot token (required by `serve`)
    SLACK_SIGNING_SECRET      request signing secret (required by `serve` in HTTP mode; Socket Mode does not sign)
    SLACK_APP_TOKEN           xapp- app-level token; when set, `serve` uses Socket Mode instead of HTTP
    SLACK_API_URL             Web API base URL (default Slack's own, https://slack.com/api/)
    KBBOT_INDEX               index folder (default: one built from the built-in seeds/)
    KBBOT_INTENTS             intents folder of *.yaml (default: the built-in intents/)
    KBBOT_CONFIG              kbbot.yaml with defaults for the settings below (`--config` wins; a missing file
                              named only here is skipped, so a deployment may leave it out)
    KBBOT_STORE               memory:// | sqlite:///path/state.db | redis://host:6379/0
                              (default sqlite:///<state dir>/state.db)
    KBBOT_STATE_DIR           where the default sqlite store lives (default $XDG_STATE_HOME/kbbot or
                              ~/.local/state/kbbot)
    KBBOT_PORT, KBBOT_HOST    HTTP mode bind address (default 0.0.0.0:3000); `--port`/`--host` win
    KBBOT_ESCALATION_CHANNEL  channel ID for "needs a human" summaries (default: none; the thread is told)
    KBBOT_THREAD_TTL_S        how long an idle thread's state is kept (default: the store's, 7 days)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kbbot.errors import ConfigError
from kbbot.store.base import DEFAULT_THREAD_TTL_S

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_HOST = "0.0.0.0"

# Keys a kbbot.yaml may set. Tokens are deliberately absent: a secret in a file ends up in a repository.
_CONFIG_KEYS = {"index", "intents", "store", "port", "host", "escalation_channel", "thread_ttl_s", "api_url"}
_SECRET_KEYS = {
    "bot_token",
    "signing_secret",
    "app_token",
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
}


def _state_dir(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("KBBOT_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".local" / "state"
    return base / "kbbot"


def _int(name: str, raw: Any) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, not {value}")
    return value


def _load_config_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
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
    escalation_channel: str | None = None
    thread_ttl_s: int = DEFAULT_THREAD_TTL_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, config: Path | None = None) -> Settings:
        """The settings; a kbbot.yaml (`config`, else $KBBOT_CONFIG) gives defaults, the environment wins."""
        if config is None and environ.get("KBBOT_CONFIG"):
            config = Path(environ["KBBOT_CONFIG"])
            if not config.exists():
                config = None
        file = _load_config_file(config) if config is not None else {}

        def pick(env_name: str, key: str) -> Any:
            value = environ.get(env_name)
            return value if value not in (None, "") else file.get(key)

        api_url = str(pick("SLACK_API_URL", "api_url") or DEFAULT_API_URL)
        # slack_sdk joins base_url and the method name by plain concatenation
        if not api_url.endswith("/"):
            api_url += "/"
        index = pick("KBBOT_INDEX", "index")
        intents = pick("KBBOT_INTENTS", "intents")
        store = pick("KBBOT_STORE", "store") or f"sqlite:///{_state_dir(environ) / 'state.db'}"
        port = pick("KBBOT_PORT", "port")
        ttl = pick("KBBOT_THREAD_TTL_S", "thread_ttl_s")
        return cls(
            bot_token=environ.get("SLACK_BOT_TOKEN") or None,
            signing_secret=environ.get("SLACK_SIGNING_SECRET") or None,
            app_token=environ.get("SLACK_APP_TOKEN") or None,
            api_url=api_url,
            index=Path(index) if index else None,
            intents=Path(intents) if intents else None,
            store_url=str(store),
            port=_int("KBBOT_PORT", port) if port is not None else DEFAULT_PORT,
            host=str(pick("KBBOT_HOST", "host") or DEFAULT_HOST),
            escalation_channel=str(pick("KBBOT_ESCALATION_CHANNEL", "escalation_channel") or "") or None,
            thread_ttl_s=_int("KBBOT_THREAD_TTL_S", ttl) if ttl is not None else DEFAULT_THREAD_TTL_S,
        )

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
