"""Pages written for other site generators (faults a held-out check on public docs of other Markdown flavours
found): heading anchors and attribute lists, links whose address holds parentheses, and images with alt text that
says nothing. The pages here are written for these tests."""

from __future__ import annotations

import re

from kbbot.article import Article
from kbbot.parse import parse_text
from kbbot.slack import blocks as cards

HEAD = "---\ntitle: The print spooler stops\n---\n"

# markup of any of these flavours, as a card or an article's text could show it
RAW = re.compile(
    r"\{\{[<%]|[>%]\}\}|<!--|-->|\{/\*|\*/\}|</?[A-Z]\w*[\s/>]|^\s*(?:!!!|\?\?\?)|^\s*===\s|\{[#:.][^}]*\}"
    r"|\[\^\w+\]|!\[|^import\s|^export\s",
    re.MULTILINE,
)


def page(body: str, *, name: str = "printing/spooler.md") -> Article:
    return parse_text(HEAD + body, source=name, path=name)


def text_of(a: Article) -> str:
    """Everything the article says: its sections, procedure labels, steps and sub-steps."""
    parts = [a.title, *a.sections.values()]
    for p in a.procedures:
        parts += [p.label, *(s.text for s in p.steps), *(t for s in p.steps for t in s.substeps)]
    return "\n".join(parts)


def prose(text: str) -> str:
    """`text` without its code (markup inside code is what the page shows)."""
    return re.sub(r"`[^`\n]*`", " ", re.sub(r"```.*?```", " ", text, flags=re.DOTALL))


def assert_no_raw_markup(a: Article) -> None:
    found = RAW.search(prose(text_of(a)))
    assert found is None, prose(text_of(a))[max(0, found.start() - 60): found.end() + 60]


# --- links, images, anchors --------------------------------------------------------------------------------------


def test_a_link_address_with_parentheses_is_one_slack_link() -> None:
    a = page("## Resolution\n\nCheck the port with [nc](https://man.example.org/nc(1)) and restart the spooler.\n")
    fix = a.section("RESOLUTION")
    assert "[nc](https://man.example.org/nc(1)) and restart" in fix
    shown = cards.article_mrkdwn(fix)
    assert "<https://man.example.org/nc(1)|nc> and restart" in shown and "(1|" not in shown
    # an address whose parentheses do not pair is encoded rather than cut
    b = page("## Resolution\n\nSee [the guide](<https://wiki.example.org/Spooler_(Windows>).\n")
    shown = cards.article_mrkdwn(b.section("RESOLUTION"))
    assert "<https://wiki.example.org/Spooler_%28Windows|the guide>" in shown
    # a card cut inside such a link (right after its inner parenthesis) drops it rather than show half of it
    text = "Check the port with [nc](https://man.example.org/nc(1)) first"
    assert cards.clip_mrkdwn(text, 55, convert=True) == "Check the port with…"
    assert cards.clip_mrkdwn(text, 58, convert=True) == "Check the port with <https://man.example.org/nc(1)|nc>…"


def test_images_with_alt_text_that_says_nothing_go_and_alt_text_is_never_a_signature() -> None:
    a = page(
        "## Symptoms\n\nWhen you print, you receive the following error message:\n\n"
        "![Operation could not be completed 0x00000709](img/error.png)\n\n"
        "Printing stops.\n\n![image](img/a.png)\n\n![Top](img/top.png)\n\n![queue-window](img/q.png)\n\n"
        "The queue shows ![](img/dot.png) one job.\n"
    )
    symptoms = a.section("SYMPTOMS")
    assert "Operation could not be completed 0x00000709" in symptoms  # the alt text is read ...
    assert not a.error_signatures  # ... but it is not the error a person pastes
    assert "image" not in symptoms and "Top" not in symptoms and "queue-window" not in symptoms
    assert "The queue shows one job." in symptoms
    assert_no_raw_markup(a)


def test_heading_anchors_and_attribute_lists_go_from_names_and_text() -> None:
    a = page(
        "## Symptoms {#symptoms}\n\nThe spooler stops. {: .lead }\n\n"
        "## Restart the spooler { #restart .fix }\n\nRun `net start spooler {#not-an-anchor}`.\n"
    )
    assert list(a.sections) == ["SYMPTOMS", "RESTART THE SPOOLER"]
    assert a.section("SYMPTOMS") == "The spooler stops."
    assert a.section("RESTART THE SPOOLER").startswith("Restart the spooler\n")
    assert "`net start spooler {#not-an-anchor}`" in a.section("RESTART THE SPOOLER")
