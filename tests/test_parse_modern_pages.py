"""Modern pages as other knowledge bases write them (faults a held-out check on a KB the project never saw found):
HTML in front matter, messages quoted in blockquotes, codes printed without their 0x, fixes under headings of
the page's own, cards cut inside code or right after "the following error message:", includes not in the tree.
The pages here are written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbbot.article import Article
from kbbot.conversation.engine import answer_offers
from kbbot.conversation.replies import AnswerReply
from kbbot.conversation.state import ThreadKey
from kbbot.indexer import run_index
from kbbot.parse import parse_text
from kbbot.parse.markdown_doc import canonical_heading
from kbbot.slack import blocks as cards
from kbbot.slack.actions import ButtonCodec
from kbbot.slack.blocks import condense

PAGE_HEAD = """---
title: Domain controller doesn't start with error 0xc00002e1
appliesto:
  - <a href=https://learn.example.com/lifecycle target=_blank>Supported versions of Windows&nbsp;Server</a>
---
# Domain controller doesn't start with error 0xc00002e1
"""


def page(body: str, *, name: str = "ad/dc-does-not-start.md") -> Article:
    return parse_text(PAGE_HEAD + body, source=name, path=name)


def test_html_in_front_matter_is_its_text() -> None:
    a = page("## Symptoms\n\nThe server restarts in a loop.\n")
    assert a.product == "Supported versions of Windows Server"
    # angle brackets that are words, not tags, stay
    b = parse_text("---\ntitle: +<Country/Region code> is added to every call\n---\n\nText.\n", source="x.md",
                   path="x.md")
    assert b.title == "+<Country/Region code> is added to every call"


def test_messages_quoted_in_blockquotes_and_the_prose_around_them() -> None:
    a = page(
        "## Symptoms\n\nWhen you connect, you receive one of these messages:\n\n"
        "> The connection cannot be completed because the remote computer was not found.\n\n"
        "Or\n\n"
        "> An authentication error has occurred.\n\n"
        "Additionally, the event log records event ID 56.\n\n"
        "When you join a computer, you receive the following error message:\n\n"
        "> Access is denied.\n> [!NOTE]\n> Administrators can join up to ten computers.\n"
    )
    messages = [s.value for s in a.error_signatures if s.kind == "message"]
    assert messages == [
        "The connection cannot be completed because the remote computer was not found.",
        "An authentication error has occurred.",
        "Access is denied.",
    ]
    assert "event 56" in a.error_codes


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The push install fails. Error Code: 800706D3", "0x800706D3"),
        ("Validation fails with the following error: 80070005.", "0x80070005"),
        ("The process ends with status C0000005 after a minute.", "0xC0000005"),
    ],
)
def test_hresult_codes_printed_without_0x(text: str, code: str) -> None:
    assert code in page(f"## Symptoms\n\n{text}\n").error_codes


@pytest.mark.parametrize("text", ["Call 80012345678 for support.", "Build 8000.1234 is affected.",
                                  "Order C0FFEE12-A is late."])
def test_numbers_that_are_not_codes_stay_numbers(text: str) -> None:
    a = parse_text(f"# Orders are late\n\n## Symptoms\n\n{text}\n", source="o.md", path="o.md")
    assert not [c for c in a.error_codes if c.startswith("0x")]


@pytest.mark.parametrize(
    ("heading", "canonical"),
    [
        ("Cause 1: The *config* file doesn't exist", "CAUSE"),
        ("How to work around this issue", "WORKAROUND"),
        ("Resolve the problem", "RESOLUTION"),
        ("Solution/workaround", "RESOLUTION"),
        ("Resolution 2 - Remove the SCP objects", "RESOLUTION"),
        ("How to reproduce the issue", "STEPS TO REPRODUCE"),
        ("Method 2: Repair the data file", "METHOD 2: REPAIR THE DATA FILE"),
        ("Known issues", "KNOWN ISSUES"),
    ],
)
def test_heading_forms_map_to_their_section(heading: str, canonical: str) -> None:
    assert canonical_heading(heading) == canonical


def test_a_numbered_cause_keeps_its_own_words() -> None:
    a = page("## Cause 1: The config file doesn't exist\n\nThe file was deleted.\n\n"
             "## Cause 2: The file is locked\n\nAnother process holds it.\n")
    assert list(a.sections) == ["CAUSE"]
    assert "Cause 1: The config file doesn't exist" in a.section("CAUSE")
    assert "Cause 2: The file is locked" in a.section("CAUSE")


def test_a_fix_under_a_heading_of_its_own_is_the_cards_resolution() -> None:
    a = page(
        "The cluster can't add a node, and error 0x80090327 is logged.\n\n"
        "## The TLS 1.3 keys are left behind\n\nAn update left two registry keys.\n\n"
        "## Remove the TLS 1.3 registry keys\n\nDelete both keys, then restart the node.\n"
    )
    assert a.fix_section() == "REMOVE THE TLS 1.3 REGISTRY KEYS"
    where = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")
    reply = AnswerReply(article=a, hit=None, offers=answer_offers(a, 1))
    card = str(cards.render(reply, codec=ButtonCodec.from_secret("test"), where=where))
    assert "*Resolution*" in card and "Delete both keys, then restart the node." in card


def test_the_1999_archive_keeps_its_readme_chapters_out_of_the_card() -> None:
    a = Article(id="Q1", title="README", format="txt",
                sections={"SUMMARY": "About this file.", "2. NOTES ON SETUP": "Run setup."})
    assert a.fix_section() is None


def test_a_card_cut_inside_a_code_block_closes_it() -> None:
    text = "Starting the service fails:\n\n```\nc:\\>net start S\nfailed.\n\nThe service did not report.\n```"
    shown = condense(text, 60)
    assert shown.count("```") % 2 == 0
    shown = condense(text.replace("\n\nThe service", "\nThe service") + "\n\n" + "More words. " * 30, 80)
    assert shown.count("```") % 2 == 0


def test_a_card_never_ends_on_the_lead_in_of_a_message() -> None:
    lead = "When you export the virtual machine, the export fails and you receive the following error message:"
    message = "Hyper-V encountered an error while exporting the virtual machine: access denied (0x80070005). " * 6
    shown = condense(f"{lead}\n\n{message}", 450)
    assert shown.startswith(lead) and "Hyper-V encountered an error" in shown and len(shown) <= 460
    # no room left for the message: the lead-in goes too
    intro = "The export of a virtual machine can fail for several reasons on these builds. " * 4
    shown = condense(f"{intro}\n\n{lead}\n\n{message}", 450)
    assert not shown.rstrip().endswith(":") and "following error message" not in shown


def test_an_include_not_in_the_tree_is_noted_in_the_index_summary(tmp_path: Path) -> None:
    tree = tmp_path / "kb"
    (tree / "includes").mkdir(parents=True)
    (tree / "includes" / "help.md").write_text("Contact the service desk.\n")
    (tree / "dc.md").write_text(PAGE_HEAD + "## Symptoms\n\nIt fails.\n\n[!INCLUDE [help](includes/help.md)]\n\n"
                                "[!INCLUDE [warning](includes/registry-warning.md)]\n")
    summary = run_index([str(tree)], tmp_path / "index", workers=1)
    assert summary.articles == 1
    assert summary.notes == {"include fragment not found: includes/registry-warning.md": [str(tree / "dc.md")]}
    assert "include fragment not found: includes/registry-warning.md" in summary.render()
    # an unchanged re-run still says so
    again = run_index([str(tree)], tmp_path / "index", workers=1)
    assert not again.changed and again.notes == summary.notes
