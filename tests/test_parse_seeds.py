"""The five seed articles, one per supported shape, parse to the right article."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbbot.article import Article
from kbbot.parse import detect_format, parse_bytes, parse_file

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

# The TXT form of seed 003 (corpus txt/237/Q237695.TXT), kept here so the "web copy and TXT give the same six
# steps" check runs without the corpus.
Q237695_TXT = """DOCUMENT:Q237695  18-AUG-1999  [exchange]
TITLE   :XFOR: Cannot Send Message Through Microsoft Mail Connector
PRODUCT :Microsoft Exchange
PROD/VER:winnt:4.0,5.0,5.5
OPER/SYS:
KEYWORDS:exc4 exc5 exc55

======================================================================
-------------------------------------------------------------------------------
The information in this article applies to:

 - Microsoft Exchange Server, versions 4.0, 5.0, 5.5
-------------------------------------------------------------------------------

SYMPTOMS
========

When you send a message to a Microsoft Mail recipient through the Microsoft Mail
Connector, you may receive a non-delivery report (NDR) that contains the
following text:

   [008] Failure delivering user mail due to mailbag contention.

Even though you receive an NDR, the message may be delivered successfully.

CAUSE
=====

This problem most commonly occurs if more than one instance of the External
program attempts to access the same mailbag file.

WORKAROUND
==========

Verify that only one instance of the External program connects to the Microsoft
Mail postoffice at a time. If the problem continues to occur, you may be able to
work around the problem by following these steps:

1. If the Microsoft Mail postoffice is located on a Novell NetWare server,
   verify that the files in the ATT, GLB, KEY, MAI, and MBG folders have owners
   and are not locked.

2. If any files in the P1 folder are more than two days old, delete the files.
   The P1 folder is used by the External program to store temporary files.

3. Verify that your computer is running version 3.2.18 or later of the External
   program.

4. Verify that the Access*.glb files are not damaged. Run the Listuser.exe
   utility against the Microsoft Mail postoffice. If the results contain
   unrecognizable characters or other unusual information, the access files may
   be damaged.

   For additional information about determining if the Access*.glb files are
   damaged and for information about restoring the files if they are damaged,
   please click the article number below to view the article in the Microsoft
   Knowledge Base:

   Q135932 PC DB: LISTUSER Version 2.1 Displays Unrecognizable Characters

5. Rename the Admin.nme file to 00000000.nme, log on to the postoffice
   administrator's mailbox, and then view the administrator's personal address
   list (PAL). If any of the entries in the PAL appear to be damaged, rebuild
   the postoffice address list (POL).

6. Verify that the mailbag files are not over the 4096 record limit. For
   additional information, please click the article number below to view the
   article in the Microsoft Knowledge Base:

   Q163020 XFOR: MSMail Connector NDR Message with Event ID 2117

Additional query words:

======================================================================
Keywords          : exc4 exc5 exc55
Technology        : kbExchangeSearch kbExchange500 kbExchange550 kbExchange400 kbZNotKeyword2
Version           : winnt:4.0,5.0,5.5
Issue type        : kbprb

=============================================================================

THE INFORMATION PROVIDED IN THE MICROSOFT KNOWLEDGE BASE IS
PROVIDED "AS IS" WITHOUT WARRANTY OF ANY KIND.

Copyright Microsoft Corporation 1999.
"""


def seed(prefix: str) -> Article:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return parse_file(path)


def test_seed_000_classic_txt() -> None:
    a = seed("000")
    assert a.format == "txt"
    assert a.id == "Q102087"
    assert a.title == "Mac Bkup: Backup Status Message Could Not Be Sent"
    assert a.product == "Microsoft Mail For Appletalk Networks"
    assert a.product_tag == "macmail"
    assert a.versions == ("3.1",)
    assert list(a.sections) == ["SYMPTOMS", "CAUSE", "RESOLUTION"]
    # hard wraps undone in prose, the quoted message kept as its own lines
    assert "Mail Data file, the Mail Backup utility" in a.sections["SYMPTOMS"]
    assert "Your Microsoft Mail Datafile was backed up successfully." in a.sections["SYMPTOMS"]
    # [ASCII 146] escape resolved, boilerplate gone
    assert "[ASCII" not in a.sections["RESOLUTION"]
    assert "user's sign-in name" in a.sections["RESOLUTION"]
    text = "\n".join(a.sections.values())
    assert "WARRANTY" not in text and "Additional query words" not in text and "applies to" not in text
    assert "3.10" in a.keywords
    # the CAUSE list (reasons) is not a procedure; RESOLUTION's "do one of the following" gives alternatives
    assert {p.section for p in a.procedures} == {"RESOLUTION"}
    assert len(a.procedures) == 2
    assert a.procedures[0].steps[0].text.startswith("In the Mail Backup utility dialog box")
    assert a.procedures[1].steps[0].text.startswith("Stagger the times")
    messages = [s.value for s in a.error_signatures if s.kind == "message"]
    assert any(m.startswith("Your Microsoft Mail Datafile was backed up successfully") for m in messages)


def test_seed_001_txt_without_procedure() -> None:
    a = seed("001")
    assert (a.id, a.product_tag, a.versions) == ("Q99698", "macmail", ("3.1", "3.1a"))
    assert a.title == "Mac Bkup: Backup Can Stop Remote Connection"
    assert list(a.sections) == ["SYMPTOMS", "RESOLUTION"]
    assert a.procedures == ()
    assert a.keywords == ("3.10", "3.1a")


def test_seed_002_markdown_page() -> None:
    a = seed("002")
    assert a.format == "markdown"
    assert a.id == "Q99304"
    assert a.title == "Mac Srv: Server May Stop Operating When Run with Tape Backup"
    assert a.product == "Microsoft Mail For Appletalk Networks"
    assert a.product_tag == ""  # Markdown pages carry no corpus tag
    assert a.versions == ("2.0", "3.0", "3.1")
    assert list(a.sections) == ["SYMPTOMS", "CAUSE", "RESOLUTION", "MORE INFORMATION"]
    assert a.sections["SYMPTOMS"].startswith("If a tape backup device or software is installed on the same Mac")
    assert "Retrospect" in a.keywords
    assert a.procedures == ()


def test_seed_003_web_copy_numbers_references_as_steps() -> None:
    a = seed("003")
    assert a.format == "web"
    assert a.id == "Q237695"
    assert a.title == "XFOR: Cannot Send Message Through Microsoft Mail Connector Due to Mailbag Contention"
    assert list(a.sections) == ["SYMPTOMS", "CAUSE", "WORKAROUND"]
    assert a.versions == ("4.0", "5.0", "5.5")
    assert a.keywords == ("exc4", "exc5", "exc55")
    (proc,) = a.procedures
    assert proc.section == "WORKAROUND"
    assert len(proc.steps) == 6
    assert proc.steps[3].references == ("Q135932",)
    assert proc.steps[4].text.startswith("Rename the Admin.nme file")
    assert proc.steps[5].references == ("Q163020",)
    assert set(a.references) == {"Q135932", "Q163020"}
    # the section text reads like the TXT original: the reference lines are not numbered as steps
    assert "\n\nQ135932 PC DB: LISTUSER" in a.sections["WORKAROUND"]
    assert "5. Rename the Admin.nme file" in a.sections["WORKAROUND"]
    codes = a.error_codes
    assert "[008]" in codes
    assert "[008] Failure delivering user mail due to mailbag contention." in codes


def test_q237695_txt_and_web_copy_agree_on_six_steps() -> None:
    txt = parse_bytes(Q237695_TXT.encode("cp1252"), source="Q237695.TXT")
    web = seed("003")
    assert txt.format == "txt" and txt.product_tag == "exchange"
    assert txt.id == web.id
    assert [len(p.steps) for p in txt.procedures] == [len(p.steps) for p in web.procedures] == [6]
    for a, b in zip(txt.procedures[0].steps, web.procedures[0].steps, strict=True):
        assert a.text.split()[:8] == b.text.split()[:8]
        assert a.references == b.references


def test_seed_004_web_copy_with_bullets() -> None:
    a = seed("004")
    assert a.format == "web"
    assert a.id == "Q157684"
    assert a.title == "XFOR: IMC Might Lose Inbound and Outbound Messages"
    assert a.product == "Microsoft Exchange Server"
    assert a.versions == ("4.0",)
    assert list(a.sections) == ["SYMPTOMS", "MORE INFORMATION", "STATUS"]
    assert "kbbug4.00" in a.keywords
    text = "\n".join(a.sections.values())
    assert "Terms of Use" not in text and "Last reviewed" not in text and "WARRANTY" not in text
    assert a.procedures == ()


@pytest.mark.parametrize("prefix,fmt", [("000", "txt"), ("001", "txt"), ("002", "markdown"), ("003", "web"),
                                        ("004", "web")])
def test_detect_format(prefix: str, fmt: str) -> None:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    assert detect_format(path.read_text(encoding="utf-8", errors="replace")) == fmt


def test_records_round_trip_through_the_index_encoding() -> None:
    from kbbot.kb import decode_record, encode_record

    for path in sorted(SEEDS.glob("*.txt")):
        a = parse_file(path)
        assert decode_record(encode_record(a)) == a
        assert Article.from_dict(a.to_dict()) == a
