"""HTML pages and help-centre JSON exports (tests/fixtures/team-html, team-export): one article per page or
record, page furniture dropped, the same sections / procedures / signatures rules as Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbbot.errors import ParseError
from kbbot.indexer import run_index
from kbbot.kb import KnowledgeBase
from kbbot.parse import detect_format, parse_all_bytes, parse_bytes, parse_file
from kbbot.parse.html import html_to_markdown

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAGE = FIXTURES / "team-html" / "vpn-drops.html"
EXPORT = FIXTURES / "team-export" / "helpdesk-articles.json"


def test_saved_web_page_keeps_content_and_drops_navigation() -> None:
    body, meta = html_to_markdown(PAGE.read_text(encoding="utf-8"))
    for furniture in ("All articles", "Privacy", "Home", "Contoso IT help"):
        assert furniture not in body
    assert meta["url"] == "https://help.contoso.com/kb/vpn-drops"
    assert "# VPN disconnects every 10 minutes" in body


def test_html_page_becomes_an_article_with_sections_steps_and_signatures() -> None:
    a = parse_file(PAGE, path_in_tree="network/vpn-drops.html")
    assert (a.format, a.id) == ("html", "network/vpn-drops")
    assert a.title == "VPN disconnects every 10 minutes"  # the page's H1, not the <title> with the site name
    assert a.url == "https://help.contoso.com/kb/vpn-drops"
    assert list(a.sections) == ["SYMPTOMS", "CAUSE", "RESOLUTION"]
    (proc,) = a.procedures
    assert [s.text.split()[0] for s in proc.steps] == ["Open", "Expand", "Reconnect"]
    assert proc.steps[1].substeps[1] == "Select **OK**."
    assert proc.steps[2].text.endswith("```\nnetsh wlan show drivers\n```")
    resolution = a.sections["RESOLUTION"]
    assert "[the Windows docs](https://learn.microsoft.com/windows/) & `netsh` help." in resolution
    assert "GlobalProtect 6.1 | 6.1.3" in resolution
    assert "<" not in resolution and "&amp;" not in resolution
    assert {"0x80072EFD", "HTTP 503"} <= set(a.error_codes)


def test_json_export_gives_one_article_per_record() -> None:
    articles = parse_all_bytes(EXPORT.read_bytes(), source=str(EXPORT), path="helpdesk-articles.json")
    assert [a.id for a in articles] == ["360011223344", "360011223355"]  # the draft without a body is left out
    printer, mailbox = articles
    assert printer.format == "json" and printer.source.endswith("helpdesk-articles.json#360011223344")
    assert printer.url == "https://contoso.zendesk.com/hc/en-us/articles/360011223344"
    assert list(printer.sections) == ["SYMPTOMS", "RESOLUTION"]
    assert [len(p.steps) for p in printer.procedures] == [3]
    assert printer.error_codes == ["0x00000709"]
    assert mailbox.procedures[0].section == "WORKAROUND"
    with pytest.raises(ParseError, match="2 articles in one file"):
        parse_bytes(EXPORT.read_bytes(), source=str(EXPORT))


@pytest.mark.parametrize(
    ("text", "source", "fmt"),
    [
        ("<!DOCTYPE html><html><body><p>x</p></body></html>", "page", "html"),
        ("<p>x</p>", "saved/page.htm", "html"),
        ('[{"id": 1, "title": "t", "body": "<p>b</p>"}]', "export", "json"),
        ('{"articles": []}', "x.json", "json"),
        ("[008] Failure delivering mail\n", "note.txt", "generic"),
    ],
)
def test_format_detection(text: str, source: str, fmt: str) -> None:
    assert detect_format(text, source=source) == fmt


def test_export_without_records_is_reported_not_indexed(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text('{"articles": [{"id": 1, "title": "no body"}]}', encoding="utf-8")
    with pytest.raises(ParseError, match="without article records"):
        parse_all_bytes((tmp_path / "empty.json").read_bytes(), source="empty.json")


def test_html_pages_and_an_export_index_together(tmp_path: Path) -> None:
    summary = run_index([str(FIXTURES / "team-html"), str(EXPORT)], tmp_path / "index", workers=1)
    assert (summary.articles, summary.files_seen, summary.files_parsed, summary.files_skipped) == (3, 2, 2, 0)
    kb = KnowledgeBase.open(tmp_path / "index")
    try:
        assert sorted(kb.ids()) == ["360011223344", "360011223355", "vpn-drops"]
        printer = kb.get("360011223344")
        assert printer is not None and printer.title.startswith("Printer says Offline")
    finally:
        kb.close()
