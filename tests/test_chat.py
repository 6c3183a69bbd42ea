"""`kbbot chat`: the offline conversation, driven the way a person (or a pipe) drives it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kbbot.slack.chat import Style, render_message, render_mrkdwn
from kbbot.standin import STANDIN_USER

MAILBAG_ERROR = "[008] Failure delivering user mail due to mailbag contention"


def _run_chat(
    lines: list[str], *, index: Path | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # os.environ is already isolated by conftest (no SLACK_*/KBBOT_*, XDG dirs in tmp): the child inherits that
    return subprocess.run(
        [sys.executable, "-m", "kbbot", "chat", *(["--index", str(index)] if index else [])],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_chat_goes_from_a_pasted_error_to_a_card_and_a_step(seeds_index: Path) -> None:
    result = _run_chat([MAILBAG_ERROR, "1", "next", "quit"], index=seeds_index)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("kbbot chat") and MAILBAG_ERROR in out  # the welcome suggests the seeds' error
    card = out.index("Q237695: XFOR: Cannot Send Message Through Microsoft Mail Connector")
    choices = out.index("[1] Walk me through the fix", card)
    step1 = out.index("Step 1 of", choices)
    step2 = out.index("Step 2 of", step1)
    assert card < choices < step1 < step2
    assert "\033[" not in out  # no terminal styling into a pipe
    assert "Traceback" not in result.stderr


def test_chat_on_the_default_index_kb_lookup_is_ephemeral_and_eof_ends_the_session() -> None:
    # no --index and no KBBOT_INDEX: the seeds are indexed into this test's own XDG cache on first use
    lines = ["/kb Q102087", "new", "how do I renew my parking permit"]
    result = _run_chat(lines, index=None)
    assert result.returncode == 0, result.stderr
    assert "(5 articles from " in result.stdout
    assert "only visible to you" in result.stdout and "Q102087" in result.stdout
    assert "[1] Share in channel" in result.stdout
    assert "don't know" in result.stdout


def test_chat_honours_the_teams_intents_and_flood_limit(seeds_index: Path, tmp_path: Path) -> None:
    """`kbbot chat` is the real product offline: the settings `kbbot serve` reads apply to it too."""
    repo = Path(__file__).resolve().parents[1]
    intents = tmp_path / "intents"
    shutil.copytree(repo / "intents", intents)
    (intents / "team.yaml").write_text(
        "language: en\nintents:\n  - name: next\n    examples: [tally ho chaps]\n", encoding="utf-8"
    )
    walk = [MAILBAG_ERROR, "1", "tally ho chaps", "quit"]
    result = _run_chat(walk, index=seeds_index, env={"KBBOT_INTENTS": str(intents)})
    assert result.returncode == 0, result.stderr
    assert "Step 2 of 6" in result.stdout  # the team's phrase moved the walk on
    without = _run_chat(walk, index=seeds_index)
    assert "Step 2 of 6" not in without.stdout  # ... and without their intents it is not a known phrase

    flood = _run_chat([MAILBAG_ERROR, "new", "mailbag contention", "quit"],
                      index=seeds_index, env={"KBBOT_FLOOD_LIMIT": "1"})
    assert flood.returncode == 0, flood.stderr
    assert "faster than I can keep up (1 questions a minute)" in flood.stdout


def test_mrkdwn_is_rendered_readably() -> None:
    plain = Style(enabled=False)
    text = "*Step 1 of 3*\n_Note:_ ask <@%s> in <#C0SUPPORT>, see <https://x.test/a|the docs> &amp; ```a\nb```"
    assert render_mrkdwn(text % STANDIN_USER, plain) == (
        "Step 1 of 3\nNote: ask @you in #support, see the docs (https://x.test/a) &     a\n    b"
    )
    assert render_mrkdwn("snake_case_name and 2*3*4", plain) == "snake_case_name and 2*3*4"
    assert "\033[1m" in render_mrkdwn("*bold*", Style(enabled=True))


def test_blocks_are_rendered_in_order() -> None:
    message = {
        "text": "fallback",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Q1: Title"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in ("Exchange", "5.5")]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Symptom*\nMail stops"}},
            {"type": "divider"},
            {"type": "actions", "elements": [{"type": "button", "action_id": "kb:walk", "text": {"text": "Go"}}]},
        ],
    }
    lines = render_message(message, Style(enabled=False))
    assert lines == ["Q1: Title", "Exchange · 5.5", "Symptom\nMail stops", "─" * 40]
    assert render_message({"text": "only *text*"}, Style(enabled=False)) == ["only text"]


def test_chat_walks_a_pasted_error_to_the_last_step_and_marks_it_fixed(seeds_index: Path) -> None:
    # What a new user does: paste the error, ask to be walked through, go step by step, say it worked.
    lines = [MAILBAG_ERROR, "walk me through the fix", *["next"] * 5, "it worked", "quit"]
    result = _run_chat(lines, index=seeds_index)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    positions = [out.index(f"Step {n} of 6") for n in range(1, 7)]
    assert positions == sorted(positions)
    last_step = out[positions[-1]:]
    assert "mailbag files are not over the 4096 record limit" in last_step
    assert "glad that fixed it" in last_step.lower()
    assert "Traceback" not in result.stderr


def test_chat_shows_a_step_that_moved_on_in_its_own_message(seeds_index: Path) -> None:
    # Pressing "Next step" updates the step message in Slack (chat.update); the terminal shows the new step.
    result = _run_chat([MAILBAG_ERROR, "1", "1", "2", "quit"], index=seeds_index)  # walk, next, (back,) next
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(no reply)" not in out
    positions = [out.index(f"Step {n} of 6") for n in range(1, 4)]
    assert positions == sorted(positions)


def test_an_open_article_link_is_printed_not_numbered() -> None:
    from kbbot.slack.chat import _choices

    link = {"type": "button", "action_id": "open_article", "url": "https://kb.example.com/c",
            "text": {"type": "plain_text", "text": "Open article"}}
    walk = {"type": "button", "action_id": "kb:walk", "value": "{}", "text": {"type": "plain_text", "text": "Go"}}
    message = {"text": "t", "blocks": [{"type": "actions", "elements": [link, walk]}]}
    assert render_message(message, Style(enabled=False)) == ["Open article: https://kb.example.com/c"]
    assert [b.action_id for b in _choices(message)] == ["kb:walk"]


def test_chat_votes_on_an_answer_and_gives_a_reason(seeds_index: Path) -> None:
    first = _run_chat([MAILBAG_ERROR, "quit"], index=seeds_index).stdout
    line = next(x for x in first.splitlines() if "Not helpful" in x)
    down = line.split("👎")[0].rsplit("[", 1)[1].split("]")[0]  # the number chat gave the 👎 button
    result = _run_chat([MAILBAG_ERROR, down, "1", "quit"], index=seeds_index)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    asked = out.index("What was wrong with it?")
    assert out.index("noted as Wrong article", asked) > asked
