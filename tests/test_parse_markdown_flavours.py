"""Pages written for other site generators (faults a held-out check on public docs of other Markdown flavours
found): Hugo and GitLab shortcodes, MDX / Docusaurus imports, comments and JSX components, MkDocs-Material
admonitions and content tabs, HTML comments, heading anchors and attribute lists, footnotes, links whose address
holds parentheses, and images with alt text that says nothing. Each construct's body is kept, a callout keeps its
label, and no markup of the flavour is left for a card to show. The pages here are written for these tests."""

from __future__ import annotations

import re

import pytest
from block_helpers import mrkdwn_texts

from kbbot.article import Article
from kbbot.conversation.engine import answer_offers, step_reply
from kbbot.conversation.replies import AllStepsReply, AnswerReply, FullArticleReply, Reply
from kbbot.conversation.state import ThreadKey
from kbbot.parse import parse_text
from kbbot.parse.flavours import expand_flavours
from kbbot.slack import blocks as cards
from kbbot.slack.actions import ButtonCodec

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


# --- HTML comments ----------------------------------------------------------------------------------------------


def test_html_comments_go_outside_code_only() -> None:
    a = page(
        "<!-- overview -->\n\nThe spooler stops when a job is sent.\n\n<!--\nreviewed by the print team\n-->\n\n"
        "## Resolution\n\nRestart it<!-- from services.msc --> and print again. Use `<!-- keep -->` as is.\n\n"
        "```\n<!-- a line of the config file -->\n```\n"
    )
    assert a.section("SUMMARY") == "The spooler stops when a job is sent."
    fix = a.section("RESOLUTION")
    assert "Restart it and print again." in fix
    assert "`<!-- keep -->`" in fix and "```\n<!-- a line of the config file -->\n```" in fix
    assert "reviewed" not in text_of(a) and "services.msc" not in text_of(a)


# --- Hugo / GitLab shortcodes -----------------------------------------------------------------------------------


def test_a_callout_shortcode_in_a_step_is_a_labelled_note_of_that_step() -> None:
    a = page(
        "## Resolution\n\n"
        "1. Stop the spooler:\n\n   ```\n   net stop spooler\n   ```\n\n"
        "   {{< alert type=\"warning\" >}}\n\n   Jobs in the queue are lost.\n\n   {{< /alert >}}\n\n"
        "1. Delete the files in the spool folder.\n\n"
        "   {{< note >}}\n   The folder is `C:\\Windows\\System32\\spool\\PRINTERS`.\n   {{< /note >}}\n\n"
        "1. Start the spooler.\n"
    )
    (proc,) = a.procedures
    assert len(proc.steps) == 3
    assert "Warning: Jobs in the queue are lost." in proc.steps[0].text
    assert "Note: The folder is `C:\\Windows\\System32\\spool\\PRINTERS`." in proc.steps[1].text
    assert_no_raw_markup(a)


@pytest.mark.parametrize(
    ("opener", "label"),
    [("{{< warning >}}", "Warning"), ("{{% caution %}}", "Warning"), ("{{< tip >}}", "Note"),
     ("{{< alert type=\"important\" >}}", "Important"), ("{{< info >}}", "Note")],
)
def test_callout_shortcodes_keep_their_label(opener: str, label: str) -> None:
    name = re.search(r"\{\{[<%]\s*(\w+)", opener).group(1)  # type: ignore[union-attr]
    closer = opener[:3] + f" /{name} " + opener[-3:]
    a = page(f"## Cause\n\nThe driver is old.\n\n{opener}\nUpdate it from the vendor's site.\n{closer}\n")
    assert f"{label}: Update it from the vendor's site." in a.section("CAUSE")
    assert_no_raw_markup(a)


def test_other_paired_shortcodes_keep_their_body_and_details_is_a_note() -> None:
    a = page(
        "{{% capture overview %}}\n\nPrinting from any app fails.\n\n{{% /capture %}}\n\n"
        "{{< details >}}\n\n- Tier: Free\n- Offering: Self-managed\n\n{{< /details >}}\n\n"
        "## Resolution\n\n{{< tabs >}}\n{{< tab name=\"Windows\" >}}\nRestart the spooler.\n{{< /tab >}}\n"
        "{{< /tabs >}}\n"
    )
    summary = a.section("SUMMARY")
    assert summary.startswith("Printing from any app fails.")
    assert "Note:\n- Tier: Free\n- Offering: Self-managed" in summary
    assert "**Windows**\n\nRestart the spooler." in a.section("RESOLUTION")
    assert_no_raw_markup(a)


def test_standalone_shortcodes_go_unless_they_carry_text() -> None:
    a = page(
        "## Symptoms\n\nThe {{< glossary_tooltip text=\"print spooler\" term_id=\"spooler\" >}} stops "
        "when a {{<glossary_tooltip term_id=\"print-job\">}} is sent.\n\n"
        "{{< include \"task-tutorial-prereqs.md\" >}} {{< version-check >}}\n\n"
        "{{< codenew file=\"printing/spooler.yaml\" >}}\n\n"
        "## Resolution\n\nSelect **Restart** ({{< icon name=\"retry\" >}}) in the toolbar.\n"
    )
    assert a.section("SYMPTOMS") == "The print spooler stops when a print job is sent."
    assert a.section("RESOLUTION") == "Select **Restart** in the toolbar."
    assert_no_raw_markup(a)


def test_a_heading_shortcode_is_the_heading_it_names() -> None:
    a = page(
        "The spooler stops.\n\n## {{% heading \"prerequisites\" %}}\n\n- A printer that is shared.\n\n"
        "## Restart the spooler\n\nRun `net start spooler`.\n\n## {{% heading \"whatsnext\" %}}\n\n"
        "Read about print queues.\n"
    )
    # "What's next" is where a page points on: the REFERENCES of section_names.yaml
    assert list(a.sections) == ["SUMMARY", "PREREQUISITES", "RESTART THE SPOOLER", "REFERENCES"]
    assert a.section("PREREQUISITES") == "- A printer that is shared."
    assert "Read about print queues." in a.section("REFERENCES")
    assert a.fix_section() == "RESTART THE SPOOLER"
    assert_no_raw_markup(a)


# --- MDX / Docusaurus -------------------------------------------------------------------------------------------

MDX_HEAD = 'import Tabs from "@theme/Tabs";\nimport TabItem from "@theme/TabItem";\n' \
           "import { FaqItem, NavPath } from '@site/src/components';\n" \
           "export const meta = {\n  owner: \"print-team\",\n};\n\n"


def test_mdx_imports_exports_and_comments_go() -> None:
    a = page(MDX_HEAD + "{/* keep this page short */}\nThe spooler stops when a job is sent.\n\n"
                        "```js\nimport Printer from \"./printer\";\n{/* a JSX comment in code */}\n```\n")
    summary = a.section("SUMMARY")
    assert summary.startswith("The spooler stops when a job is sent.")
    assert 'import Printer from "./printer";\n{/* a JSX comment in code */}' in summary
    assert "owner" not in summary and "keep this page short" not in summary
    assert_no_raw_markup(a)


def test_jsx_components_are_unwrapped_and_their_question_leads_their_content() -> None:
    a = page(
        MDX_HEAD + "## Known problems\n\n"
        '<FaqItem id="access-denied" question="Access is denied (0x00000005)">\n\n'
        "The account can't manage printers. Add it to **Print Operators**.\n\n</FaqItem>\n\n"
        "## Resolution\n\n<Tabs>\n<TabItem value=\"gui\" label=\"Settings app\">\n\n"
        '1. Go to <NavPath path="Settings > Printers" /> and select the printer.\n2. Select **Remove**.\n\n'
        "</TabItem>\n<TabItem value=\"cli\">\n\n```\nprintui /dl /n \"Office\"\n```\n\n</TabItem>\n</Tabs>\n"
    )
    errors = a.section("KNOWN PROBLEMS")
    assert "**Access is denied (0x00000005)**\n\nThe account can't manage printers." in errors
    fix = a.section("RESOLUTION")
    assert "**Settings app**" in fix and "```\nprintui /dl /n \"Office\"\n```" in fix
    (proc,) = a.procedures
    assert proc.steps[0].text == "Go to Settings > Printers and select the printer."
    assert_no_raw_markup(a)


def test_an_indented_component_body_is_prose_not_code_and_an_admonition_is_a_note() -> None:
    a = page(
        "## Resolution\n\n<Accordion>\n  <AccordionItem\n    header=\"Clear the queue\"\n    id=\"one\"\n  >\n"
        "        Stop the spooler, then delete the queued files.\n\n"
        "```\nnet stop spooler\n```\n  </AccordionItem>\n</Accordion>\n\n"
        "<Admonition type=\"caution\">\n\nQueued jobs are lost.\n\n</Admonition>\n",
        name="printing/spooler.mdx",
    )
    fix = a.section("RESOLUTION")
    assert "**Clear the queue**\n\nStop the spooler, then delete the queued files.\n\n```\nnet stop spooler\n```" \
        in fix
    assert "Warning: Queued jobs are lost." in fix
    assert_no_raw_markup(a)


def test_angle_brackets_in_a_page_that_is_not_mdx_are_its_words() -> None:
    a = page("## Symptoms\n\nThe log shows <Status>Failed</Status> for <ServerName>.\n")
    assert "Failed" in a.section("SYMPTOMS") and "Status" in a.section("SYMPTOMS")
    assert "ServerName" in a.section("SYMPTOMS")


# --- MkDocs-Material --------------------------------------------------------------------------------------------


def test_an_admonition_is_a_note_with_its_body_read_as_markdown() -> None:
    a = page(
        '!!! warning "Back up the queue first"\n    Jobs in the queue are **lost** when it is cleared.\n\n'
        "    ```bash\n    net stop spooler\n    ```\n\n"
        "The spooler stops.\n\n## Cause\n\n??? question\n    Why does it stop? A driver crashes it.\n\n"
        "???+ tip \"Tip\"\n\tUpdate the driver.\n"
    )
    summary = a.section("SUMMARY")
    assert summary.startswith("Warning: **Back up the queue first**\n"
                              "Jobs in the queue are **lost** when it is cleared.")
    assert "```\nnet stop spooler\n```" in summary and "```\n```" not in summary
    cause = a.section("CAUSE")
    assert "Note: Why does it stop? A driver crashes it." in cause and "Note: Update the driver." in cause
    assert_no_raw_markup(a)


def test_content_tabs_keep_their_label_and_their_code() -> None:
    a = page(
        "## Resolution\n\nRestart the spooler:\n"
        '=== "PowerShell"\n\n    ```powershell\n    Restart-Service Spooler\n    ```\n\n'
        '=== "Command Prompt"\n\n    ```\n\tnet stop spooler && net start spooler\n    ```\n'
        "Then print a test page.\n"
    )
    fix = a.section("RESOLUTION")
    assert "Restart the spooler:\n\n**PowerShell**\n\n```\nRestart-Service Spooler\n```" in fix
    assert "**Command Prompt**\n\n```\nnet stop spooler && net start spooler\n```\n\nThen print" in fix
    assert_no_raw_markup(a)


def test_a_line_of_exclamation_marks_with_no_body_is_the_pages_own() -> None:
    assert "!!! Warning" in page("## Symptoms\n\n!!! Warning\n\nThe spooler stops.\n").section("SYMPTOMS")


# --- footnotes, and a page in plain CommonMark ------------------------------------------------------------------


def test_footnote_references_go_and_their_definitions_are_notes_where_they_stand() -> None:
    a = page(
        "## Resolution\n\nCheck the port with one of several tools[^tools] and restart the spooler.\n\n"
        "[^tools]: [nc](https://man.example.org/nc(1)), or\n"
        "    [Test-NetConnection](https://learn.example.com/Test-NetConnection).\n\n"
        "Then print a test page. The [^x] in this line is no footnote.\n"
    )
    fix = a.section("RESOLUTION")
    assert fix.startswith("Check the port with one of several tools and restart the spooler.\n\n"
                          "Note: [nc](https://man.example.org/nc(1)), or [Test-NetConnection]")
    assert fix.endswith("Then print a test page. The [^x] in this line is no footnote.")
    assert "<https://man.example.org/nc(1)|nc>" in cards.article_mrkdwn(fix)


def test_a_plain_commonmark_page_is_left_as_it_is() -> None:
    body = "## Symptoms\n\nThe spooler stops.\n\n## Resolution\n\n1. Restart it.\n2. Print a test page.\n"
    assert expand_flavours(body) == body


# --- cards ------------------------------------------------------------------------------------------------------

MIXED = (
    "---\ntitle: The print spooler stops on every job\n---\n"
    'import Tabs from "@theme/Tabs";\nimport TabItem from "@theme/TabItem";\n\n'
    "<!-- overview -->\n{/* reviewed */}\n"
    "The {{< glossary_tooltip text=\"print spooler\" term_id=\"spooler\" >}} stops on every job[^1].\n\n"
    '!!! warning "Back up the queue"\n    Jobs in the queue are lost.\n\n'
    "## Symptoms {#symptoms}\n\nYou receive the following error message:\n\n"
    "```\nOperation could not be completed (error 0x00000709).\n```\n\n![screenshot](img/error.png)\n\n"
    "## {{% heading \"prerequisites\" %}}\n\n{{< include \"prereqs.md\" >}}\n\n"
    "- An account in **Print Operators**.\n\n"
    "## Resolution\n\n"
    "1. Stop the spooler.\n\n   {{< alert type=\"note\" >}}\n   Queued jobs are lost.\n   {{< /alert >}}\n\n"
    "1. Clear the queue:\n\n"
    '   === "PowerShell"\n\n'
    "       ```\n       Remove-Item C:\\Windows\\System32\\spool\\PRINTERS\\*\n       ```\n\n"
    "1. Start the spooler.\n\n"
    "<Tabs>\n<TabItem value=\"a\" label=\"Settings app\">\n\n"
    '<FaqItem question="Still failing?">\n\nReinstall the driver, see [nc](https://man.example.org/nc(1)).\n\n'
    "</FaqItem>\n\n</TabItem>\n</Tabs>\n\n"
    "<Admonition type=\"caution\">\n\nRestart the print server last.\n\n</Admonition>\n\n"
    "[^1]: Seen on print servers only. { .small }\n"
)


def test_cards_of_a_page_mixing_every_flavour_show_no_raw_markup() -> None:
    a = parse_text(MIXED, source="printing/spooler.md", path="printing/spooler.md")
    assert a.procedures and a.section("PREREQUISITES") == "- An account in **Print Operators**."
    codec, where = ButtonCodec.from_secret("flavours"), ThreadKey(team="T1", channel="C1", thread_ts="1.1")
    replies: list[Reply] = [AnswerReply(article=a, hit=None, offers=answer_offers(a, 3)),
                            FullArticleReply(article=a)]
    for p, proc in enumerate(a.procedures):
        replies.append(AllStepsReply(article=a, procedure_no=p))
        replies += [step_reply(a, p, s, version=3) for s in range(len(proc.steps))]
    texts = []
    for reply in replies:
        for message in cards.render(reply, codec=codec, where=where):
            texts += mrkdwn_texts(message)
    assert texts
    shown = "\n".join(texts)
    for text in texts:
        seen = prose(text.replace("&lt;", "<").replace("&gt;", ">").replace("\u200b", ""))
        assert RAW.search(seen) is None, text
        assert "**" not in seen and "](" not in seen, text
    assert "<https://man.example.org/nc(1)|nc>" in shown
    assert "*Warning:* Restart the print server last." in shown and "*Note:* Queued jobs are lost." in shown
    assert "Settings app" in shown and "Still failing?" in shown and "print spooler stops" in shown
