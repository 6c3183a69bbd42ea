"""Configuration: kbbot.yaml plus the environment (which wins), checked at start with one clear line per problem.

The subprocess tests run `kbbot serve` the way an operator would and hold it to the contract: exit code 2 and
exactly one line on stderr naming the problem, before anything connects anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kbbot.errors import ConfigError
from kbbot.settings import DEFAULT_FLOOD_LIMIT, ENV_FOR_KEY, Settings
from kbbot.store.base import DEFAULT_THREAD_TTL_S

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "deploy" / "kbbot.example.yaml"
TOKENS = {"SLACK_BOT_TOKEN": "xoxb-config-test", "SLACK_SIGNING_SECRET": "config-test-secret"}


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kbbot", "serve", "--port", "1", "--host", "127.0.0.1", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kbbot: ")
    return lines[0]


# ---- as an operator sees it: exit 2, one line


def test_bad_yaml_is_one_line_with_the_place(tmp_path: Path) -> None:
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text("store: redis://r:6379/0\nchannels: [C0SUPPORT\nflood_limit: 5\n")
    line = _one_line(_serve("--config", str(cfg), env=TOKENS))
    assert f"{cfg} is not valid YAML at line" in line


def test_unknown_key_is_one_line_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text("store: memory://\nescalation_chanel: C0HUMANS\n")
    line = _one_line(_serve(env={**TOKENS, "KBBOT_CONFIG": str(cfg)}))
    assert "unknown setting(s) escalation_chanel" in line


def test_missing_token_is_one_line() -> None:
    line = _one_line(_serve(env={"SLACK_SIGNING_SECRET": "s"}))
    assert line == "kbbot: SLACK_BOT_TOKEN must be set in the environment to connect to Slack"


def test_a_token_in_the_file_is_refused_and_never_echoed(tmp_path: Path) -> None:
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text("slack_bot_token: xoxb-leaked-123\n")
    result = _serve("--config", str(cfg), env=TOKENS)
    assert "must come from the environment" in _one_line(result)
    assert "xoxb-leaked" not in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KBBOT_STORE": "mongodb://db"}, "KBBOT_STORE: unknown store URL"),
        ({"KBBOT_INDEX": "/nonexistent/index"}, "KBBOT_INDEX: /nonexistent/index is not a folder"),
        ({"KBBOT_FLOOD_LIMIT": "lots"}, "KBBOT_FLOOD_LIMIT must be a whole number"),
        ({"KBBOT_ANSWER_MIN_CONFIDENCE": "1.5"}, "KBBOT_ANSWER_MIN_CONFIDENCE must be a number between 0 and 1"),
        ({"KBBOT_ADMIN_USERS": "U0ADMIN,alice"}, "KBBOT_ADMIN_USERS: alice is not a user ID"),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_value_in_the_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text("escalation_channel: '#it-helpdesk'\n")
    line = _one_line(_serve("--config", str(cfg), env=TOKENS))
    assert f"escalation_channel (in {cfg}): '#it-helpdesk' is not a channel ID" in line


# ---- what the settings hold


def test_file_gives_defaults_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "index": str(tmp_path / "index"),
                "store": "redis://redis:6379/0",
                "channels": ["C0SUPPORT", "C0HELP"],
                "auto_answer_channels": ["C0HELP"],
                "escalation_channel": "C0HUMANS",
                "escalation_usergroup": "S0ONCALL",
                "admin_users": ["U0ADMIN"],
                "answer_min_confidence": 0.8,
                "shortlist_min_confidence": 0.2,
                "thread_ttl_s": 3600,
                "flood_limit": 10,
            }
        )
    )
    s = Settings.from_env({"KBBOT_FLOOD_LIMIT": "5", "KBBOT_ADMIN_USERS": "U0ONE, U0TWO"}, config=cfg)
    assert s.index == tmp_path / "index" and s.store_url == "redis://redis:6379/0"
    assert s.channels == {"C0SUPPORT", "C0HELP"} and s.auto_answer_channels == {"C0HELP"}
    assert s.escalation_channel == "C0HUMANS" and s.escalation_usergroup == "S0ONCALL"
    assert s.admin_users == {"U0ONE", "U0TWO"}  # the environment wins, comma-separated
    assert s.answer_min_confidence == 0.8 and s.shortlist_min_confidence == 0.2
    assert s.thread_ttl_s == 3600 and s.flood_limit == 5
    assert s.answers_in("C0HELP") and s.answers_in("D0ANYONE") and not s.answers_in("C0RANDOM")


def test_defaults_answer_everywhere_with_a_flood_limit() -> None:
    s = Settings.from_env({})
    assert not s.channels and s.answers_in("C0ANY") and s.flood_limit == DEFAULT_FLOOD_LIMIT
    assert s.thread_ttl_s == DEFAULT_THREAD_TTL_S and s.answer_min_confidence is None
    assert Settings.from_env({"KBBOT_FLOOD_LIMIT": "0"}).flood_limit == 0  # off


def test_inconsistent_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="auto_answer_channels C0OTHER must also be listed in channels"):
        Settings.from_env({"KBBOT_CHANNELS": "C0SUPPORT", "KBBOT_AUTO_ANSWER_CHANNELS": "C0OTHER"})
    with pytest.raises(ConfigError, match="must not be above"):
        Settings.from_env({"KBBOT_ANSWER_MIN_CONFIDENCE": "0.3", "KBBOT_SHORTLIST_MIN_CONFIDENCE": "0.5"})
    with pytest.raises(ConfigError, match="KBBOT_PORT must be between 0 and 65535"):
        Settings.from_env({"KBBOT_PORT": "70000"})
    with pytest.raises(ConfigError, match="KBBOT_THREAD_TTL_S must be at least 1"):
        Settings.from_env({"KBBOT_THREAD_TTL_S": "0"})


def test_the_example_config_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert set(data) == set(ENV_FOR_KEY), "deploy/kbbot.example.yaml must set every key"
    for key, env_name in ENV_FOR_KEY.items():
        assert env_name in text, f"the example does not name {env_name} for {key}"
    # its paths are for a real host; point them somewhere that exists here, the rest must load as written
    (tmp_path / "index").mkdir()
    (tmp_path / "intents").mkdir()
    data |= {"index": str(tmp_path / "index"), "intents": str(tmp_path / "intents")}
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text(yaml.safe_dump(data))
    Settings.from_env({}, config=cfg)


def test_the_readme_lists_every_environment_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for env_name in [*ENV_FOR_KEY.values(), "KBBOT_CONFIG", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
                     "SLACK_APP_TOKEN", "KBBOT_STATE_DIR"]:  # fmt: skip
        assert f"`{env_name}`" in readme, env_name


def test_cache_and_state_folders_come_from_the_mapping_given_not_the_process() -> None:
    xdg = Settings.from_env({"XDG_CACHE_HOME": "/srv/cache", "XDG_STATE_HOME": "/srv/state"})
    assert xdg.cache_dir == Path("/srv/cache/kbbot")
    assert xdg.store_url == "sqlite:////srv/state/kbbot/state.db" and xdg.state_dir == Path("/srv/state/kbbot")
    home = Settings.from_env({"HOME": "/home/support"})
    assert home.cache_dir == Path("/home/support/.cache/kbbot")
    assert home.store_url == "sqlite:////home/support/.local/state/kbbot/state.db"
    assert Settings.from_env({"NO_COLOR": "1"}).no_color and not Settings.from_env({}).no_color


def test_with_no_index_named_the_seeds_are_indexed_into_the_cache_folder(tmp_path: Path) -> None:
    from kbbot.kb import KnowledgeBase
    from kbbot.locate import builtin_seeds_dir, resolve_index

    settings = Settings.from_env({"XDG_CACHE_HOME": str(tmp_path / "cache")})
    index = resolve_index(settings)
    assert index == tmp_path / "cache" / "kbbot" / "seeds-index"
    assert len(KnowledgeBase.open(index)) == len(list(builtin_seeds_dir().iterdir())) == 5
    named = tmp_path / "named"
    assert resolve_index(settings.with_overrides(index=named)) == named  # a named index is used as it is


def test_only_settings_reads_the_environment() -> None:
    # settings.py reads the mapping it is handed (`environ`); entry points hand it os.environ, nobody reads it
    readers = [
        p.relative_to(REPO).as_posix()
        for p in (REPO / "kbbot").rglob("*.py")
        if any(needle in p.read_text(encoding="utf-8")
               for needle in ("os.environ.get", "os.environ[", "os.getenv", "environ.setdefault"))
    ]  # fmt: skip
    assert readers == []
