"""deploy/: the files parse, and what an operator relies on is in them. (No Docker engine or cluster runs here;
these checks keep the files honest against the code: the env variables, the port, the probes, the replicas.)"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import yaml

from kbbot.settings import ENV_FOR_KEY, Settings
from kbbot.slack.shortcut import CALLBACK_ID

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def test_every_yaml_file_in_deploy_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert {p.name for p in files} >= {"compose.yaml", "kbbot.yaml", "secret.example.yaml", "slack-manifest.yaml",
                                       "kbbot.example.yaml"}  # fmt: skip
    for path in files:
        assert _docs(path), path


def test_kubernetes_deployment_has_two_replicas_healthz_probes_a_secret_and_a_service() -> None:
    docs = _docs(DEPLOY / "kubernetes" / "kbbot.yaml")
    by_kind_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    deployment = by_kind_name[("Deployment", "kbbot")]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = container["ports"][0]["containerPort"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe
    assert container["args"][-2:] == ["--port", str(port)]
    assert {"secretRef": {"name": "kbbot-slack"}} in container["envFrom"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    service = by_kind_name[("Service", "kbbot")]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]

    # the settings file in the ConfigMap is one kbbot accepts, with the shared Redis as its store
    config = yaml.safe_load(by_kind_name[("ConfigMap", "kbbot-config")]["data"]["kbbot.yaml"])
    assert set(config) <= set(ENV_FOR_KEY) and config["store"].startswith("redis://kbbot-redis:")
    secret = _docs(DEPLOY / "kubernetes" / "secret.example.yaml")[0]
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "kbbot-slack"
    assert set(secret["stringData"]) == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}


def test_compose_runs_the_bot_on_redis_with_tokens_from_the_environment() -> None:
    (compose,) = _docs(DEPLOY / "compose.yaml")
    bot, redis = compose["services"]["kbbot"], compose["services"]["redis"]
    assert bot["environment"]["KBBOT_STORE"] == "redis://redis:6379/0"
    assert bot["environment"]["SLACK_BOT_TOKEN"].startswith("${SLACK_BOT_TOKEN")
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy" and "healthcheck" in redis
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    Settings.from_env({"KBBOT_STORE": bot["environment"]["KBBOT_STORE"]})


def test_dockerfile_is_slim_non_root_and_builds_the_index() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert all(s.endswith("-slim") or s in ("scratch", "runtime") for s in stages), stages
    assert re.search(r"^RUN .*\n?.*kbbot index /kb --out /index", text, flags=re.M)
    final = text[text.rindex("\nFROM ") :]
    assert re.search(r"^USER kbbot$", final, flags=re.M)
    assert "/healthz" in final and 'CMD ["kbbot", "--log-format", "json", "serve"]' in final
    env_names = set(re.findall(r"\b(KBBOT_[A-Z_]+)=", final))
    assert env_names <= {*ENV_FOR_KEY.values(), "KBBOT_CONFIG", "KBBOT_STATE_DIR"}, env_names
    # the build context holds only what the image copies
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for needed in ("!kbbot/", "!intents/", "!seeds/", "!pyproject.toml"):
        assert needed in ignore


def test_systemd_unit_reloads_on_hup_and_reads_tokens_from_a_file() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "systemd" / "kbbot.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["EnvironmentFile"] == "/etc/kbbot/kbbot.env" and service["User"] == "kbbot"
    assert "kbbot serve" in service["ExecStart"] and service["KillSignal"] == "SIGTERM"


def test_slack_manifest_asks_for_what_the_bot_listens_to() -> None:
    manifest = _docs(DEPLOY / "slack-manifest.yaml")[0]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.im", "message.channels", "message.groups", "app_home_opened"}
    assert manifest["features"]["slash_commands"][0]["command"] == "/kb"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    (shortcut,) = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", CALLBACK_ID)
    # conversations.info, asked whether a channel is shared with another organisation
    assert {"channels:read", "groups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
