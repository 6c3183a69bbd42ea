"""The one body scanner under two rule sets: TXT (`read_body`, also the 1999 Markdown pages) and the ALL-CAPS
shapes (`read_caps_body`, generic and web copies). Each test pins down a line the two shapes treat
differently, or one the scanner must never lose."""

from __future__ import annotations

from kbbot.parse.body import LineScan, scan_body, underlined_heading
from kbbot.parse.generic import read_caps_body
from kbbot.parse.text import Marker, match_marker, to_blocks
from kbbot.parse.txt import read_body

RULE = "=" * 70
DASHES = "-" * 79

TXT_BODY = [
    RULE,
    DASHES,
    "The information in this article applies to:",
    "",
    " - Microsoft Exchange Server, versions 4.0, 5.0",
    DASHES,
    "",
    "SYMPTOMS",
    "========",
    "",
    "The Internet Mail Connector stops delivering mail.",
    "",
    "   " + "-" * 60,
    "   IMC: error 0x8004010F",
    "",
    "RESOLUTION",
    "==========",
    "",
    "Restart the Internet Mail Connector service.",
    "",
    "Additional query words: imc smtp",
    "Keywords          : kbExchange kbImc",
    "Version           : 4.0 5.0",
    "Not a field, just footer text",
    "THE INFORMATION PROVIDED IN THE MICROSOFT KNOWLEDGE BASE IS PROVIDED AS IS",
    "LATER TEXT",
    "=========",
]


def test_txt_body_splits_sections_and_takes_out_banner_and_footer() -> None:
    body = read_body(TXT_BODY)
    assert [name for name, _ in body.sections] == ["SYMPTOMS", "RESOLUTION"]
    assert body.banner.products == ("Microsoft Exchange Server",)
    assert body.banner.versions == ("4.0", "5.0")
    assert body.query_words == ["imc", "smtp"]
    assert body.footer == {"keywords": "kbExchange kbImc", "version": "4.0 5.0"}
    # an indented rule is part of the quoted trace, not a frame: it stays in the section text
    symptoms = dict(body.sections)["SYMPTOMS"]
    assert "   " + "-" * 60 in symptoms
    # the disclaimer ended the scan: the heading after it is not a section
    assert "LATER TEXT" not in {name for name, _ in body.sections}


def test_txt_full_width_equals_rule_after_text_opens_the_footer() -> None:
    body = read_body(["SUMMARY", "=======", "", "Use the Services tool.", "", RULE, "Keywords : kbHowTo",
                      "Technology        : kbExchange"])
    assert body.sections == [("SUMMARY", ["", "Use the Services tool.", ""])]
    assert body.footer == {"keywords": "kbHowTo", "technology": "kbExchange"}


def test_txt_aligned_keywords_field_opens_the_footer_but_prose_keywords_do_not() -> None:
    body = read_body(["CAUSE", "=====", "", "Keywords: these are words in the text.", "",
                      "Keywords          : kbprb"])
    assert dict(body.sections)["CAUSE"] == ["", "Keywords: these are words in the text.", ""]
    assert body.footer == {"keywords": "kbprb"}


def test_caps_body_drops_a_leading_disclaimer_and_stops_at_a_later_one() -> None:
    lines = [
        "THE INFORMATION PROVIDED IN THE MICROSOFT KNOWLEDGE BASE IS PROVIDED AS IS",
        "Article ID: Q237695",
        "",
        "SYMPTOMS",
        "Mail is delivered late.",
        "",
        "CAUSE",
        "The queue is full.",
        "",
        "THE INFORMATION PROVIDED IN THE MICROSOFT KNOWLEDGE BASE IS PROVIDED AS IS",
        "",
        "RESOLUTION",
        "Never read.",
    ]
    body = read_caps_body(lines, known_only=True)
    assert body.sections == [("SYMPTOMS", ["Mail is delivered late.", ""]), ("CAUSE", ["The queue is full.", ""])]


def test_caps_body_banner_ends_at_a_blank_and_the_footer_starts_once_a_section_closed() -> None:
    lines = [
        "The information in this article applies to:",
        "Microsoft Exchange Server 5.5",
        "",
        "Keywords: in the summary, a field line is text",
        "",
        "SYMPTOMS",
        "The MTA stops.",
        "",
        "Keywords: kbExchange",
        "Version : 5.5",
    ]
    body = read_caps_body(lines, known_only=True)
    assert body.banner.products == ("Microsoft Exchange Server 5.5",)
    # the blank that ended the banner is left to the text
    assert body.sections == [("SUMMARY", ["", "Keywords: in the summary, a field line is text", ""]),
                             ("SYMPTOMS", ["The MTA stops.", ""])]
    assert body.footer == {"keywords": "kbExchange", "version": "5.5"}


def test_known_only_decides_whether_an_unknown_caps_line_is_a_heading() -> None:
    lines = ["", "EXCHANGE SERVER SETUP", "Run setup again.", "", "RESOLUTION", "Reinstall."]
    strict = read_caps_body(lines, known_only=True)
    loose = read_caps_body(lines, known_only=False)
    assert [name for name, _ in strict.sections] == ["SUMMARY", "RESOLUTION"]
    assert [name for name, _ in loose.sections] == ["EXCHANGE SERVER SETUP", "RESOLUTION"]


def test_a_rule_set_is_just_rules_lines_no_rule_takes_are_text() -> None:
    body = scan_body(["intro", "STATUS", "======", "Confirmed.", "Additional query words: x"],
                     [underlined_heading])
    assert body.sections == [("SUMMARY", ["intro"]), ("STATUS", ["Confirmed.", "Additional query words: x"])]
    assert body.query_words == []


def test_line_scan_names_text_before_any_heading_summary() -> None:
    scan = LineScan(lines=[])
    assert not scan.has_text()
    scan.current.extend(["", "Some text"])
    assert scan.has_text()
    scan.start_section("more info:")
    assert scan.body.sections == [("SUMMARY", ["", "Some text"])]
    assert scan.name == "MORE INFORMATION"


def test_markers_are_records_with_kind_number_and_length() -> None:
    assert match_marker("3. Restart the server") == Marker(kind="num", number=3, length=3)
    assert match_marker("Step 2: Open Setup") == Marker(kind="num", number=2, length=8)
    assert match_marker("b) Click OK") == Marker(kind="alpha", number=2, length=3)
    assert match_marker("- or -") is None


def test_item_text_indent_decides_whether_an_indented_paragraph_is_its_continuation() -> None:
    blocks = to_blocks(["1. Click Start, and then click Run.", "", "   Type regedit and press ENTER.", "",
                        "      HKEY_LOCAL_MACHINE\\Software"])
    assert [(b.kind, b.text_indent) for b in blocks] == [("item", 3), ("para", 0), ("literal", 0)]
    assert blocks[2].text == "HKEY_LOCAL_MACHINE\\Software"
