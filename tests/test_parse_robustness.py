"""Malformed and odd inputs: a clear ParseError or a generic article, never a crash. Encodings, escapes,
error signatures and references."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from kbbot.article import Article
from kbbot.errors import ParseError
from kbbot.parse import parse_bytes, parse_file, parse_text
from kbbot.parse.text import decode_bytes, normalise_escapes

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

HEADER = (
    "DOCUMENT:Q123456  10-NOV-1999  [winnt]\r\nTITLE   :Test: Something Fails\r\nPRODUCT :Microsoft Windows NT\r\n"
)


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty"),
        (b"   \r\n\n\t ", "empty"),
        (b"\x00\x01\x02\x03" * 100, "binary"),
        (b"\x1f\x8b\x08\x00" + os.urandom(200), "binary"),
        (b"PK\x03\x04" + b"\x00" * 50, "binary"),
        (b"DOCUMENT:Q123456  10-NOV-1999  [winnt]\r\n", "no TITLE"),
        (b"DOCUMENT:\r\nTITLE   :x\r\n", "no article id"),
        (b"just some words\nwithout any number\n", "no article id"),
        (b"---\nlayout: page\ntitle: \"Q1: x\"\n", "not closed"),
    ],
)
def test_not_an_article_raises_parse_error_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_bytes(data, source="bad.txt")


def test_random_bytes_never_crash() -> None:
    rng = random.Random(1234)
    seeds = [p.read_bytes() for p in sorted(SEEDS.glob("*.txt"))]
    for i in range(300):
        base = seeds[i % len(seeds)]
        cut = rng.randrange(len(base))
        mutated = bytearray(base[:cut])
        for _ in range(rng.randrange(0, 20)):
            if mutated:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            article = parse_bytes(bytes(mutated), source=f"mutant{i}.txt")
        except ParseError as exc:
            assert str(exc)
            continue
        assert isinstance(article, Article)
        # a page whose Q-number was mangled away reads as a modern page, named by its path
        assert article.id.startswith("Q") or (article.format == "markdown-doc" and article.id)


def test_truncated_txt_keeps_what_is_there() -> None:
    text = HEADER + "PROD/VER:\r\nOPER/SYS:\r\nKEYWORDS:\r\n\r\nSYMPTOMS\r\n========\r\n\r\nThe ser"
    a = parse_bytes(text.encode(), source="cut.txt")
    assert a.id == "Q123456"
    assert a.sections == {"SYMPTOMS": "The ser"}


def test_windows_1252_and_latin1_bytes_decode() -> None:
    body = "SYMPTOMS\r\n========\r\n\r\nThe user\x92s caf\xe9 \x93quoted\x94 text \x81.\r\n"
    a = parse_bytes((HEADER + "\r\n" + body).encode("latin-1"), source="cp.txt")
    assert a.sections["SYMPTOMS"] == "The user’s café “quoted” text \x81."


def test_utf8_is_preferred_and_bom_dropped() -> None:
    assert decode_bytes("\ufeffDOCUMENT: café ✓".encode()) == "DOCUMENT: café ✓"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("the user'[ASCII 146]s name", "the user's name"),
        ("a [ASCII 147]quote[ASCII 148]", "a “quote”"),
        ("box [ASCII 179] bar [ASCII 196]", "box │ bar ─"),
        ("no escapes here", "no escapes here"),
    ],
)
def test_ascii_escapes(raw: str, expected: str) -> None:
    assert normalise_escapes(raw) == expected


def test_generic_fallback_reads_title_and_caps_headings() -> None:
    text = (
        "Outlook Hangs When Opening Calendar\n\nQ424242\n\nSYMPTOMS\n\nOutlook stops responding.\n\n"
        "RESOLUTION\n\n1. Close Outlook.\n2. Run scanpst.exe.\n3. Restart Outlook.\n"
    )
    a = parse_text(text, source="/x/Q424242.txt")
    assert a.format == "generic"
    assert a.id == "Q424242"
    assert a.title == "Outlook Hangs When Opening Calendar"
    assert list(a.sections) == ["SYMPTOMS", "RESOLUTION"]
    assert [len(p.steps) for p in a.procedures] == [3]


def test_generic_fallback_takes_the_id_from_the_file_name() -> None:
    a = parse_text("Some Title\n\nSome body text about a problem.\n", source="/kb/001/Q1234/README.md")
    assert a.id == "Q1234" and a.title == "Some Title"


def test_parse_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot read"):
        parse_file(tmp_path / "missing.txt")


def test_error_signatures_of_every_kind() -> None:
    body = (
        "SYMPTOMS\r\n========\r\n\r\nYou receive the following error message:\r\n\r\n"
        "   Error 0x80041600: The operation failed\r\n   in module X.\r\n\r\n"
        "The computer stops with STOP 0x0000001E or STOP: C0000143, Event ID 2117 is logged and event 4018\r\n"
        "appears. Building gives C2248 and LNK2001; at run time R6915, or NET HELPMSG shows error 2140.\r\n"
        "The log also shows [008] and a dialog stating \"Cannot open the mailbag file now\".\r\n"
        "See Q135932 and Q123456.\r\n"
    )
    a = parse_bytes((HEADER + "\r\n" + body).encode(), source="sig.txt")
    sigs = {(s.kind, s.value) for s in a.error_signatures}
    expected = {
        ("hex", "0x80041600"),
        ("stop", "STOP 0x0000001E"),
        ("stop", "STOP C0000143"),
        ("event", "event 2117"),
        ("event", "event 4018"),
        ("compiler", "C2248"),
        ("compiler", "LNK2001"),
        ("compiler", "R6915"),
        ("error", "error 2140"),
        ("bracket", "[008]"),
        ("message", "Error 0x80041600: The operation failed in module X."),
        ("message", "Cannot open the mailbag file now"),
    }
    assert expected <= sigs
    # a STOP code is not also reported as a bare hex code
    assert ("hex", "0x0000001E") not in sigs
    # references: every Q-number mentioned except the article's own
    assert a.references == ("Q135932",)


def test_txt_without_document_line_falls_back_to_generic() -> None:
    text = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8").split("\n", 1)[1]
    a = parse_text(text, source="/kb/Q102087.TXT")
    assert a.format == "generic"
    assert (a.id, a.title) == ("Q102087", "Mac Bkup: Backup Status Message Could Not Be Sent")
    assert list(a.sections) == ["SYMPTOMS", "CAUSE", "RESOLUTION"]


def test_markdown_entities_bytes_and_indentation_match_the_txt() -> None:
    page = (
        '---\nlayout: page\ntitle: "Q1234: Setup &amp; Backup"\npermalink: /kb/001/Q1234/\n---\n\n'
        "## Q1234: Setup &amp; Backup\n\n{% raw %}\n\n"
        "\tArticle: Q1234\n\tProduct(s): Test\n\tVersion(s): 1.0\n\t\n"
        "\tSYMPTOMS\n\t========\n\t\n\tYou see &lt;path&gt; and:\n\t\n\t  Cannot open file\n\t\n"
        "\tRESOLUTION\n\t==========\n\t\n\t<B7>  Use the &quot;fast&quot; option.\n\t\n"
        "\tTo fix it, follow these steps:\n\t\n\t1. Click Start.\n\t  Then wait.\n\t\n\t2. Click Run.\n"
        "\n{% endraw %}\n"
    )
    a = parse_text(page)
    assert (a.id, a.title, a.format, a.versions) == ("Q1234", "Setup & Backup", "markdown", ("1.0",))
    assert a.sections["SYMPTOMS"] == "You see <path> and:\n\nCannot open file"
    assert a.sections["RESOLUTION"].startswith('- Use the "fast" option.')
    assert [s.text for s in a.procedures[0].steps] == ["Click Start. Then wait.", "Click Run."]
    assert ("message", "Cannot open file") in {(s.kind, s.value) for s in a.error_signatures}
