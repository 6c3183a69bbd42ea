"""Intent recognition from intents/*.yaml: whole-message matches only; config errors say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbbot.conversation.intents import KNOWN_INTENTS, IntentSet, normalise
from kbbot.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def intents() -> IntentSet:
    return IntentSet.load(REPO / "intents")


def test_shipped_yaml_covers_every_intent_the_engine_knows(intents: IntentSet) -> None:
    assert intents.names == KNOWN_INTENTS


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("next", "next"),
        ("Next!", "next"),
        ("nxt", "next"),
        ("ok next", "next"),
        ("next step please", "next"),
        ("done", "next"),
        ("back", "back"),
        ("go back", "back"),
        ("previous step", "back"),
        ("repeat", "repeat"),
        ("say that again", "repeat"),
        ("walk me through", "walk"),
        ("Walk me through the fix please", "walk"),
        ("show me the steps", "walk"),
        ("it worked", "worked"),
        ("It worked, thanks!", "worked"),
        ("that fixed it", "worked"),
        ("Thanks, it worked!", "worked"),
        ("great, that did the trick", "worked"),
        ("no, still the same", "failed"),
        ("fixed", "worked"),
        ("didn't work", "failed"),
        ("didnt work", "failed"),
        ("It didn’t work", "failed"),
        ("still broken", "failed"),
        ("all steps", "all_steps"),
        ("show all steps", "all_steps"),
        ("full article", "full"),
        ("not my problem", "not_mine"),
        ("that's not it", "not_mine"),
        ("start over", "start_over"),
        ("Let's start again", "start_over"),
        ("talk to a human", "escalate"),
        ("I want a human", "escalate"),
        ("agent", "escalate"),
        ("escalate", "escalate"),
        ("help", "help"),
        ("hi", "greeting"),
        ("Hello there", "greeting"),
        ("good morning", "greeting"),
        ("thanks", "thanks"),
        ("thank you very much", "thanks"),
        ("<@U0BOT> help", "help"),
        ("yes", "affirm"),
        ("Yes please", "affirm"),
        ("sure", "affirm"),
        ("no", "deny"),
        ("nope", "deny"),
        ("no thanks", "deny"),
    ],
)
def test_phrases(intents: IntentSet, text: str, name: str) -> None:
    match = intents.match(text)
    assert match is not None, text
    assert match.name == name


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("go to step 7", 7),
        ("step 7", 7),
        ("Step 12.", 12),
        ("jump to step 3", 3),
        ("step seven", 7),
        ("goto 4", 4),
        ("show step 2", 2),
        ("step twenty", 20),
    ],
)
def test_goto_carries_the_step_number(intents: IntentSet, text: str, n: int) -> None:
    match = intents.match(text)
    assert match is not None and match.name == "goto"
    assert match.step_number == n


@pytest.mark.parametrize(
    ("text", "qid"), [("Q102087", "102087"), ("q 99304", "99304"), ("show KB157684", "157684")]
)
def test_lookup_carries_the_article_number(intents: IntentSet, text: str, qid: str) -> None:
    match = intents.match(text)
    assert match is not None and match.name == "lookup" and match.slots["qid"] == qid


@pytest.mark.parametrize(
    "text",
    [
        "my mail won't go to the next server",
        "the next button in setup is greyed out",
        "exchange IMC is silently losing mail, no NDR",
        "[008] Failure delivering user mail due to mailbag contention",
        "after backup the server stops, going back to the old version did not work",
        "help me with the exchange connector",
        "hi, our mac mail backup says the status message could not be sent",
        "step 7 of the setup fails with error 0x80070005",
        "STOP 0x0000001E",
        "human resources mailbox is full",
        "thanks to the last update outlook crashes",
        "worked fine yesterday but today outlook crashes",
    ],
)
def test_questions_are_not_intents(intents: IntentSet, text: str) -> None:
    assert intents.match(text) is None


@pytest.mark.parametrize("text", ["", "   ", "👍", "🎉🎉", ":+1:", "?!", "x" * 40_000])
def test_odd_messages_match_nothing(intents: IntentSet, text: str) -> None:
    assert intents.match(text) is None


def test_normalise() -> None:
    assert normalise("  Go to STEP seven!! ") == "go to step 7"
    assert normalise("<@U123ABC> it didn’t work :cry:") == "it didn't work"


def test_a_team_adds_another_language_without_code(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text((REPO / "intents" / "en.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "de.yml").write_text(
        "language: de\n"
        "intents:\n"
        "  - name: next\n"
        "    examples: [weiter, nächster schritt]\n"
        "  - name: goto\n"
        "    patterns: ['^(gehe zu )?schritt (?P<n>\\d+)$']\n",
        encoding="utf-8",
    )
    intents = IntentSet.load(tmp_path)
    assert intents.match("Weiter")
    assert intents.match("Weiter").name == "next"  # type: ignore[union-attr]
    match = intents.match("gehe zu Schritt 5")
    assert match is not None and match.name == "goto" and match.step_number == 5
    assert intents.match("next").name == "next"  # type: ignore[union-attr]  # English still there


@pytest.mark.parametrize(
    ("yaml_text", "complaint"),
    [
        ("intents:\n  - name: next\n    exampels: [go]\n", "unknown keys ['exampels']"),
        ("intents:\n  - name: nxet\n    examples: [go]\n", "'nxet' is not one of"),
        ("intents:\n  - name: goto\n    patterns: ['step (?P<n>\\d+']\n", "bad pattern"),
        ("intents:\n  - name: next\n    examples: go\n", "examples must be a list"),
        ("intents:\n  - name: next\n    threshold: 200\n", "threshold"),
        ("intent:\n  - name: next\n", "unknown keys ['intent']"),
        ("intents: {name: next}\n", "expected a list"),
        ("intents:\n  - next\n", "expected a mapping"),
        ("intents: [\n", "cannot read intents"),
    ],
)
def test_bad_yaml_is_a_clear_config_error(tmp_path: Path, yaml_text: str, complaint: str) -> None:
    (tmp_path / "bad.yaml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        IntentSet.load(tmp_path)
    assert complaint in str(excinfo.value)
    assert "bad.yaml" in str(excinfo.value)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        IntentSet.load(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no intent files"):
        IntentSet.load(tmp_path)
