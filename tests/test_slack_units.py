"""The Slack adapter's pure parts: settings, payload checks, metrics text, and the stand-in's own contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from kbbot.errors import ConfigError
from kbbot.server.metrics import Counter, Metrics
from kbbot.settings import Settings
from kbbot.slack import payload_utils as pu
from kbbot.standin import SlackStandIn, event_callback, sign, signed_headers

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"


def parse_prometheus(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for raw in text.splitlines():
        if not raw or raw.startswith("#"):
            continue
        name, _, value = raw.rpartition(" ")
        assert name, raw
        samples[name] = float(value)
    return samples


# ---- settings


def test_settings_from_env_reads_everything_once(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "sekrit",
        "SLACK_API_URL": "http://127.0.0.1:9/api",
        "KBBOT_INDEX": str(tmp_path / "ix"),
        "KBBOT_STORE": "memory://",
        "KBBOT_PORT": "3100",
        "KBBOT_ESCALATION_CHANNEL": "C0HUMANS",
    }
    (tmp_path / "ix").mkdir()
    s = Settings.from_env(env)
    assert s.bot_token == "xoxb-1" and s.signing_secret == "sekrit" and not s.socket_mode
    assert s.api_url == "http://127.0.0.1:9/api/"  # slack_sdk concatenates: the slash matters
    assert s.index == tmp_path / "ix" and s.store_url == "memory://" and s.port == 3100
    assert s.escalation_channel == "C0HUMANS"
    assert "xoxb-1" not in repr(s) and "sekrit" not in repr(s)


def test_settings_defaults_put_the_store_in_the_state_dir(tmp_path: Path) -> None:
    s = Settings.from_env({"XDG_STATE_HOME": str(tmp_path)})
    assert s.store_url == f"sqlite:///{tmp_path / 'kbbot' / 'state.db'}"
    assert s.api_url == "https://slack.com/api/" and s.port == 3000 and s.index is None


def test_settings_missing_tokens_is_one_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"):
        Settings.from_env({}).require_slack()
    # Socket Mode does not sign requests, so only the bot token is needed beside the app token
    Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).require_slack()
    with pytest.raises(ConfigError, match="xapp-"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}).require_slack()
    with pytest.raises(ConfigError, match="KBBOT_PORT"):
        Settings.from_env({"KBBOT_PORT": "eighty"})


def test_settings_config_file_gives_defaults_and_refuses_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "kbbot.yaml"
    cfg.write_text("escalation_channel: C0FILE\nport: 4000\n")
    s = Settings.from_env({"KBBOT_PORT": "5000"}, config=cfg)
    assert s.escalation_channel == "C0FILE" and s.port == 5000
    cfg.write_text("bot_token: xoxb-oops\n")
    with pytest.raises(ConfigError, match="environment"):
        Settings.from_env({}, config=cfg)
    cfg.write_text("colour: blue\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.from_env({}, config=cfg)


def test_settings_config_and_intents_from_the_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "kbbot.yaml"
    (tmp_path / "intents").mkdir()
    (tmp_path / "x").mkdir()
    cfg.write_text(f"intents: {tmp_path / 'intents'}\nescalation_channel: C0FILE\n")
    s = Settings.from_env({"KBBOT_CONFIG": str(cfg)})
    assert s.intents == tmp_path / "intents" and s.escalation_channel == "C0FILE"
    assert Settings.from_env({"KBBOT_INTENTS": str(tmp_path / "x"), "KBBOT_CONFIG": str(cfg)}).intents == (
        tmp_path / "x"
    )
    # a deployment may name a kbbot.yaml it has not written (yet): that is no config, not an error
    assert Settings.from_env({"KBBOT_CONFIG": str(tmp_path / "absent.yaml")}).intents is None
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env({}, config=tmp_path / "absent.yaml")


# ---- payload checks


def test_person_messages_and_housekeeping() -> None:
    person = {"type": "message", "user": "U1", "channel": "C1", "ts": "1.1", "text": "hi"}
    assert pu.is_person_message(person)
    assert pu.is_person_message(person | {"subtype": "thread_broadcast"})
    for subtype in ("message_changed", "message_deleted", "channel_join", "bot_message", "me_message"):
        assert not pu.is_person_message(person | {"subtype": subtype}), subtype
    assert not pu.is_person_message(person | {"bot_id": "B1"})
    assert not pu.is_person_message(person | {"user": "UBOT"}, bot_user_id="UBOT")
    # Slack's sample payloads: every field present and empty
    assert not pu.is_person_message({"type": "message", "user": "", "channel": "", "ts": "", "text": ""})


def test_threads_mentions_and_dms() -> None:
    assert pu.thread_ts_of({"ts": "2.0"}) == "2.0"
    assert pu.thread_ts_of({"ts": "2.0", "thread_ts": "1.0"}) == "1.0"
    assert pu.is_thread_reply({"ts": "2.0", "thread_ts": "1.0"})
    assert not pu.is_thread_reply({"ts": "1.0", "thread_ts": "1.0"})
    assert pu.strip_mention("<@UBOT> mail  is <@UBOT|kbbot>stuck <@UOTHER>", "UBOT") == "mail is stuck <@UOTHER>"
    assert pu.mentions("hey <@UBOT>", "UBOT") and not pu.mentions("hey <@UOTHER>", "UBOT")
    assert pu.addressed_to_someone_else(" <@UOTHER|bob> can you check?", "UBOT")
    assert not pu.addressed_to_someone_else("<@UBOT> next", "UBOT")
    assert not pu.addressed_to_someone_else("next, then ask <@UOTHER>", "UBOT")
    assert pu.is_direct_message({"channel_type": "im", "channel": "D1"})
    assert pu.is_direct_message({"channel": "D1"})
    assert not pu.is_direct_message({"channel_type": "channel", "channel": "C1"})


def test_actions_and_their_thread() -> None:
    body = {
        "actions": [{"action_id": "other"}, {"action_id": "kb:next", "value": "3"}],
        "container": {"channel_id": "C1", "message_ts": "5.0", "thread_ts": "1.0"},
        "team": {"id": "T1"},
        "user": {"id": "U1"},
    }
    assert pu.kb_action(body) == ("kb:next", "3")
    assert pu.action_location(body) == ("C1", "5.0", "1.0")
    assert pu.team_of(body) == "T1" and pu.user_of(body) == "U1"
    assert pu.kb_action({"actions": [{"action_id": ""}]}) is None
    assert pu.action_location({"container": {"channel_id": "", "message_ts": ""}}) is None
    assert pu.retry_num_of({"x-slack-retry-num": ["2"]}) == 2 and pu.retry_num_of({}) == 0


# ---- metrics


def test_metrics_render_parses_and_counts() -> None:
    m = Metrics()
    m.events_in.inc(kind="app_mention")
    m.answers.inc(band="answer")
    m.search_latency.observe(0.003)
    m.slack_api_errors.inc(method="chat.postMessage", error='we"ird')
    samples = parse_prometheus(m.render())
    assert samples['kbbot_events_total{kind="app_mention"}'] == 1
    assert samples['kbbot_answers_total{band="answer"}'] == 1
    assert samples['kbbot_outcomes_total{outcome="escalated"}'] == 0
    assert samples['kbbot_search_latency_seconds_bucket{le="0.0025"}'] == 0
    assert samples['kbbot_search_latency_seconds_bucket{le="0.005"}'] == 1
    assert samples['kbbot_search_latency_seconds_bucket{le="+Inf"}'] == 1
    assert samples["kbbot_search_latency_seconds_count"] == 1
    # an error code nobody listed is counted as "other": upstream text never becomes a label
    assert 'kbbot_slack_api_errors_total{method="chat.postMessage",error="other"} 1' in m.render()
    free = Counter(name="kbbot_test_total", help="Labels with no known set are escaped.", labels=("error",))
    free.inc(error='we"ird')
    assert 'error="we\\"ird"' in "\n".join(free.render())


# ---- the stand-in


def test_signatures_match_slack_sdks_verifier() -> None:
    body = json.dumps(event_callback({"type": "app_mention", "text": "hi"}))
    headers = signed_headers(body, secret=SECRET, content_type="application/json")
    verifier = SignatureVerifier(signing_secret=SECRET)
    assert verifier.is_valid(
        body=body, timestamp=headers["X-Slack-Request-Timestamp"], signature=headers["X-Slack-Signature"]
    )
    assert not verifier.is_valid(body=body, timestamp="1", signature=sign(body, secret=SECRET, timestamp=1))


async def test_standin_records_calls_checks_tokens_and_simulates_errors() -> None:
    async with SlackStandIn(token=TOKEN, signing_secret=SECRET) as standin:
        client = AsyncWebClient(token=TOKEN, base_url=standin.api_url)
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
        assert (await client.auth_test())["user_id"] == standin.bot_user_id

        standin.rate_limit_next("chat.postMessage", retry_after=0)
        first = await client.chat_postMessage(channel="C1", text="one", thread_ts="1.0")
        second = await client.chat_postMessage(channel="C1", text="two")
        assert float(second["ts"]) > float(first["ts"])
        posts = standin.calls_to("chat.postMessage")
        assert len(posts) == 3  # the 429, its retry, and the second message
        assert posts[1].args["thread_ts"] == "1.0"

        standin.set_channel("C2", is_member=False)
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel="C2", text="x")
        assert info.value.response["error"] == "not_in_channel"

        await client.reactions_add(channel="C1", name="eyes", timestamp=first["ts"])
        with pytest.raises(SlackApiError) as info:
            await client.reactions_add(channel="C1", name="eyes", timestamp=first["ts"])
        assert info.value.response["error"] == "already_reacted"

        bad = AsyncWebClient(token="xoxb-wrong", base_url=standin.api_url)
        with pytest.raises(SlackApiError) as info:
            await bad.auth_test()
        assert info.value.response["error"] == "invalid_auth"
        link = await client.chat_getPermalink(channel="C1", message_ts=first["ts"])
        assert "thread_ts=1.0" in link["permalink"]
        await standin.wait_for("reactions.add", count=2, timeout=1)
        with pytest.raises(TimeoutError):
            await standin.wait_for("chat.update", timeout=0.1)


def test_why_a_post_failed_is_explained_without_markup_from_the_payload() -> None:
    from kbbot.slack.poster import SlackPoster

    assert "/invite @kbbot" in SlackPoster.explain("not_in_channel", channel="C0123")
    assert "<#C0123>" in SlackPoster.explain("is_archived", channel="C0123")
    odd = SlackPoster.explain("weird<!channel>", channel="C1><!here")
    assert "<!" not in odd and "weirdchannel" in odd
