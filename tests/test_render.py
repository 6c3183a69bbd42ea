"""`kbbot show` in a terminal: article marks read as plain text, never as raw Markdown."""

from __future__ import annotations

import dataclasses

from kbbot.article import Article, Procedure, Step
from kbbot.render import plain_text, render_article_text


def test_plain_text_drops_the_marks_and_keeps_the_words() -> None:
    text = "Run **Repair** from *Settings*, then `outlook.exe /safe`; see [the guide](https://kb.example.com/r)."
    assert plain_text(text) == "Run Repair from Settings, then outlook.exe /safe; see the guide (https://kb.example.com/r)."
    assert plain_text("```\nGet-Mailbox | Set-Mailbox\n```") == "Get-Mailbox | Set-Mailbox"
    assert plain_text("2 * 3 * 4 and snake_case") == "2 * 3 * 4 and snake_case"  # not emphasis


@dataclasses.dataclass(frozen=True, slots=True)
class LinkedArticle(Article):
    url: str | None = None  # as `Article.url` on the PARSE branch


def test_show_prints_plain_steps_and_the_articles_link() -> None:
    article = LinkedArticle(
        id="outlook/repair", title="Outlook won't start", url="https://kb.example.com/outlook/repair",
        sections={"RESOLUTION": "Use **Repair**."},
        procedures=(Procedure(label="Repair", section="RESOLUTION", steps=(
            Step(text="Click **File** > *Options*.", substeps=("Pick `Safe mode`.",)),
        )),),
    )  # fmt: skip
    out = render_article_text(article)
    assert "https://kb.example.com/outlook/repair" in out
    assert "Use Repair." in out and "Click File > Options." in out and "Pick Safe mode." in out
    assert "**" not in out and "`" not in out


def test_show_keeps_a_substeps_own_command_on_its_own_line() -> None:
    article = Article(
        id="windows/netlogon", title="Netlogon does not start", sections={"RESOLUTION": "Start it."},
        procedures=(Procedure(label="Start the service", section="RESOLUTION", steps=(
            Step(text="If the service is disabled:",
                 substeps=("Set it to automatic:\n`sc config NETLOGON start=auto`",
                           "Start it:\n`sc start NETLOGON`")),
        )),),
    )  # fmt: skip
    lines = render_article_text(article).split("\n")
    at = lines.index("      a. Set it to automatic:")
    assert lines[at:at + 4] == [
        "      a. Set it to automatic:", "         sc config NETLOGON start=auto",
        "      b. Start it:", "         sc start NETLOGON",
    ]
